import { APPLIANCE_PATHS, LAN_INTERFACE } from "./paths";

export interface DnsmasqConfArgs {
    /** First and last address of the dynamic pool, its netmask and lease time (`12h`). */
    dhcpStart: string;
    dhcpEnd: string;
    netmask: string;
    leaseTime: string;
    /** The appliance's LAN address, handed out as router and DNS server. */
    gateway: string;
    /** `prox.local`. */
    domain: string;
    /** Forwarders; empty means none at all. */
    upstreamDns: string[];
}

/**
 * /etc/dnsmasq.conf as document 001 shows it, with two additions: `conf-dir` for the per-app lease files, and
 * `no-resolv` when there are no upstream servers (otherwise dnsmasq would quietly forward to whatever
 * /etc/resolv.conf names).
 */
export function renderDnsmasqConf(a: DnsmasqConfArgs): string {
    const upstream =
        a.upstreamDns.length > 0
            ? ["# Upstream DNS servers", ...a.upstreamDns.map((s) => `server=${s}`)]
            : [
                  "# Upstream DNS servers: none. Only names in the local domain are answered; /etc/resolv.conf is ignored.",
                  "no-resolv",
              ];
    return [
        "# /etc/dnsmasq.conf",
        "# Managed by Pulumi (proxmox-homelab ProximityAppliance): local changes are overwritten.",
        `interface=${LAN_INTERFACE}`,
        "bind-interfaces",
        "",
        "# DHCP Configuration",
        `dhcp-range=${a.dhcpStart},${a.dhcpEnd},${a.netmask},${a.leaseTime}`,
        `dhcp-option=option:router,${a.gateway}`,
        `dhcp-option=option:dns-server,${a.gateway}`,
        "",
        "# DNS Configuration",
        `domain=${a.domain}`,
        "expand-hosts",
        `local=/${a.domain}/`,
        "",
        ...upstream,
        "",
        "# Logging",
        "log-dhcp",
        "log-queries",
        "",
        "# Static leases, one file per app. dnsmasq reads these only when it starts (SIGHUP does not re-read them).",
        `conf-dir=${APPLIANCE_PATHS.dnsmasqDir}/,*.conf`,
        "",
    ].join("\n");
}

/** /etc/dnsmasq.d/app-<name>.conf: the app's static lease; its name also resolves as `<name>.<domain>`. */
export function renderDnsmasqAppLease(app: { name: string; hwaddr: string; ip: string }): string {
    return [
        `# Static lease of app "${app.name}" (managed by Pulumi).`,
        `dhcp-host=${app.hwaddr},${app.ip},${app.name}`,
        "",
    ].join("\n");
}
