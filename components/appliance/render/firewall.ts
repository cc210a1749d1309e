import { APPLIANCE_PATHS, CHAINS, COCKPIT_PORT, GATEWAY_SERVICE, LAN_INTERFACE, WAN_INTERFACE } from "./paths";

export interface FirewallRulesArgs {
    /** App LAN, e.g. `10.20.0.0/24`: masqueraded out of the WAN, the only source allowed to be forwarded. */
    lanCidr: string;
    /** Networks the apps must not reach (document 001: "apps cannot directly access management LAN"). */
    managementCidrs: string[];
    /** Holes in `managementCidrs` (e.g. the HTTP proxy), as CIDR, port and protocol. */
    managementExceptions: { cidr: string; port: number; protocol: "tcp" | "udp" }[];
    /** Whether Cockpit runs: its port is then closed to the app LAN (it is meant for the WAN side only). */
    cockpit: boolean;
}

/**
 * iptables-restore input with only our chains, each rule written the way iptables-save prints it. Applied with `--noflush`, each declared chain is emptied and
 * refilled atomically per table and nothing else on the appliance is touched; the built-in chains jump to ours
 * (added once by the gateway script).
 */
export function renderFirewallRules(a: FirewallRulesArgs): string {
    const lan = a.lanCidr;
    const forward = [
        `-A ${CHAINS.forward} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        ...a.managementExceptions.map(
            (e) =>
                `-A ${CHAINS.forward} -d ${e.cidr} -i ${LAN_INTERFACE} -p ${e.protocol} -m ${e.protocol} --dport ${e.port} -j ACCEPT`,
        ),
        ...a.managementCidrs.map((c) => `-A ${CHAINS.forward} -d ${c} -i ${LAN_INTERFACE} -j DROP`),
        `-A ${CHAINS.forward} -s ${lan} -i ${LAN_INTERFACE} -o ${WAN_INTERFACE} -j ACCEPT`,
        `-A ${CHAINS.forward} -i ${LAN_INTERFACE} -j DROP`,
    ];
    const input = a.cockpit
        ? [`-A ${CHAINS.input} -i ${LAN_INTERFACE} -p tcp -m tcp --dport ${COCKPIT_PORT} -j DROP`]
        : [];
    return [
        "# Proximity appliance: NAT and forwarding (managed by Pulumi). Only our chains: applied with",
        `# iptables-restore --noflush by ${APPLIANCE_PATHS.gatewayScript}, which also hooks them into the built-in chains.`,
        "*nat",
        `:${CHAINS.nat} - [0:0]`,
        `-A ${CHAINS.nat} -s ${lan} -o ${WAN_INTERFACE} -j MASQUERADE`,
        "COMMIT",
        "*filter",
        `:${CHAINS.forward} - [0:0]`,
        `:${CHAINS.input} - [0:0]`,
        ...forward,
        ...input,
        "COMMIT",
        "",
    ].join("\n");
}

/** /etc/sysctl.d/99-proximity.conf: the appliance routes between its NICs. */
export function renderForwardingSysctl(): string {
    return "# Proximity appliance: route between the app LAN and the WAN (managed by Pulumi).\nnet.ipv4.ip_forward = 1\n";
}

/**
 * /usr/local/sbin/proximity-gateway: forwarding on, our chains loaded, each hooked once at the top of its built-in
 * chain. Safe to run any number of times; the boot service runs it, and so does every deploy that changes a rule.
 * Applying the sysctl here rather than relying on the distribution: systemd-sysctl skips read-only /proc/sys in
 * containers.
 */
export function renderGatewayScript(): string {
    return [
        "#!/bin/sh",
        "# Proximity appliance: IP forwarding plus our NAT and forwarding chains (managed by Pulumi).",
        "set -eu",
        `sysctl -q -p ${APPLIANCE_PATHS.sysctl}`,
        `iptables-restore --noflush ${APPLIANCE_PATHS.firewallRules}`,
        "hook() {",
        '    iptables -t "$1" -C "$2" -j "$3" 2>/dev/null || iptables -t "$1" -I "$2" 1 -j "$3"',
        "}",
        `hook nat POSTROUTING ${CHAINS.nat}`,
        `hook filter FORWARD ${CHAINS.forward}`,
        `hook filter INPUT ${CHAINS.input}`,
        "",
    ].join("\n");
}

/** /etc/init.d/proximity-gateway (Alpine): applies the rules at boot, before the network comes up. */
export function renderGatewayOpenrc(): string {
    return [
        "#!/sbin/openrc-run",
        "# Managed by Pulumi (proxmox-homelab ProximityAppliance).",
        'description="Proximity appliance: IP forwarding, NAT and forwarding rules"',
        "",
        "depend() {",
        "\tbefore net dnsmasq caddy",
        "\tafter sysctl",
        "}",
        "",
        "start() {",
        '\tebegin "Applying Proximity gateway rules"',
        `\t${APPLIANCE_PATHS.gatewayScript}`,
        "\teend $?",
        "}",
        "",
        "# Stopping leaves the rules in place: without them the app LAN would lose its NAT, not gain isolation.",
        "",
    ].join("\n");
}

/** /etc/systemd/system/proximity-gateway.service (Debian): the same, ordered like netfilter-persistent. */
export function renderGatewaySystemdUnit(): string {
    return [
        "# Managed by Pulumi (proxmox-homelab ProximityAppliance).",
        "[Unit]",
        "Description=Proximity appliance: IP forwarding, NAT and forwarding rules",
        "DefaultDependencies=no",
        "Wants=network-pre.target local-fs.target",
        "Before=network-pre.target shutdown.target",
        "After=local-fs.target",
        "Conflicts=shutdown.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        `ExecStart=${APPLIANCE_PATHS.gatewayScript}`,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/** The gateway service's unit name on each OS. */
export function gatewayServiceName(os: "alpine" | "debian"): string {
    return os === "debian" ? `${GATEWAY_SERVICE}.service` : GATEWAY_SERVICE;
}
