/** Where the appliance keeps what this component writes (both OSes use the same paths). */
export const APPLIANCE_PATHS = {
    dnsmasqConf: "/etc/dnsmasq.conf",
    /** One `app-<name>.conf` per app with its static lease. */
    dnsmasqDir: "/etc/dnsmasq.d",
    caddyfile: "/etc/caddy/Caddyfile",
    /** One `<name>.caddy` per app. */
    caddySites: "/etc/caddy/sites-enabled",
    caddyLogs: "/var/log/caddy",
    sysctl: "/etc/sysctl.d/99-proximity.conf",
    /** iptables-restore input holding only our chains. */
    firewallRules: "/etc/iptables/proximity.rules",
    /** Applies the sysctl and the rules; run by the gateway service at boot and on every change. */
    gatewayScript: "/usr/local/sbin/proximity-gateway",
    openrcService: "/etc/init.d/proximity-gateway",
    systemdUnit: "/etc/systemd/system/proximity-gateway.service",
} as const;

/** Name of the boot service (OpenRC script or systemd unit) that applies forwarding and the rules. */
export const GATEWAY_SERVICE = "proximity-gateway";

/** Our iptables chains, each hooked once at the top of the built-in chain of the same suffix. */
export const CHAINS = {
    nat: "PROXIMITY-POSTROUTING",
    forward: "PROXIMITY-FORWARD",
    input: "PROXIMITY-INPUT",
} as const;

/** The appliance's NICs as PVE names them inside the container. */
export const WAN_INTERFACE = "eth0";
export const LAN_INTERFACE = "eth1";

/** Cockpit's port (cockpit.socket). */
export const COCKPIT_PORT = 9090;

export function appLeaseFile(app: string): string {
    return `app-${app}.conf`;
}

export function appVhostFile(app: string): string {
    return `${app}.caddy`;
}

export function appLeasePath(app: string): string {
    return `${APPLIANCE_PATHS.dnsmasqDir}/${appLeaseFile(app)}`;
}

export function appVhostPath(app: string): string {
    return `${APPLIANCE_PATHS.caddySites}/${appVhostFile(app)}`;
}
