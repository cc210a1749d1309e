import { lines, managedBy } from "./common";

/** iptables chain names are at most 28 characters; ours are `PHL-<STACK>-FWD` / `-NAT`. */
export function hostChainNames(stack: string): { forward: string; nat: string } {
    const clean =
        stack
            .toUpperCase()
            .replace(/[^A-Z0-9]+/g, "-")
            .replace(/^-+|-+$/g, "") || "STACK";
    const base = `PHL-${clean}`.slice(0, 24).replace(/-+$/, "");
    return { forward: `${base}-FWD`, nat: `${base}-NAT` };
}

/** File names on the PVE host, derived from the stack name so two stacks never share one. */
export function hostPaths(stack: string): {
    sysctl: string;
    rules: string;
    script: string;
    unit: string;
    unitName: string;
} {
    const slug =
        stack
            .toLowerCase()
            .replace(/[^a-z0-9]+/g, "-")
            .replace(/^-+|-+$/g, "") || "stack";
    const unitName = `proxmox-homelab-${slug}-firewall.service`;
    return {
        sysctl: `/etc/sysctl.d/80-proxmox-homelab-${slug}.conf`,
        rules: `/etc/proxmox-homelab/${slug}-firewall.rules`,
        script: `/usr/local/sbin/proxmox-homelab-${slug}-firewall`,
        unit: `/etc/systemd/system/${unitName}`,
        unitName,
    };
}

/** `/etc/sysctl.d/80-proxmox-homelab-<stack>.conf`, applied at boot by systemd-sysctl. */
export function renderHostSysctl(stack: string): string {
    return lines(
        managedBy(stack),
        "# The host routes and NATs the backend and DMZ subnets.",
        "net.ipv4.ip_forward = 1",
        "# Valkey forks for its RDB snapshots; without overcommit the fork can fail under memory pressure (document",
        "# 000). vm.* is not namespaced, so it is set here, on the host.",
        "vm.overcommit_memory = 1",
    );
}

export interface HostFirewallArgs {
    stack: string;
    /** The uplink bridge (NAT egress). */
    external: string;
    backend: { name: string; cidr: string };
    dmz: { name: string; cidr: string };
    /** CIDRs allowed through to node_exporter (tcp/9100) in the backend and DMZ. */
    monitoringSources: string[];
}

/**
 * The stack's host rules in iptables-restore format, loaded with `--noflush` so that only our two chains are
 * (re)written and the host's other rules (PVE's firewall included) are left alone. Each chain is declared and
 * flushed first, so a reload replaces its contents in one transaction per table.
 *
 * FORWARD policy: replies pass; traffic that stays on one bridge passes (it only reaches iptables when
 * bridge-nf-call-iptables is on, and then the app ↔ db/cache and proxy ↔ app paths must keep working); the
 * backend and DMZ may leave through the uplink (NAT, for package updates); the monitoring sources may reach
 * node_exporter; everything else into or out of the backend or the DMZ through the host is dropped. So the
 * backend is reachable only from the app (its own subnet), and the outside reaches the DMZ only through the
 * proxy, which sits on the uplink bridge itself.
 */
export function renderHostFirewallRules(a: HostFirewallArgs): string {
    const { forward, nat } = hostChainNames(a.stack);
    const b = a.backend;
    const d = a.dmz;
    return lines(
        managedBy(a.stack),
        "# Loaded with iptables-restore --noflush: only the chains below are touched.",
        "*nat",
        `:${nat} - [0:0]`,
        `-F ${nat}`,
        `-A ${nat} -s ${b.cidr} -o ${a.external} -j MASQUERADE`,
        `-A ${nat} -s ${d.cidr} -o ${a.external} -j MASQUERADE`,
        "COMMIT",
        "*filter",
        `:${forward} - [0:0]`,
        `-F ${forward}`,
        `-A ${forward} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
        `-A ${forward} -i ${b.name} -o ${b.name} -j ACCEPT`,
        `-A ${forward} -i ${d.name} -o ${d.name} -j ACCEPT`,
        ...a.monitoringSources.flatMap((src) => [
            `-A ${forward} -s ${src} -o ${b.name} -p tcp -m tcp --dport 9100 -j ACCEPT`,
            `-A ${forward} -s ${src} -o ${d.name} -p tcp -m tcp --dport 9100 -j ACCEPT`,
        ]),
        `-A ${forward} -s ${b.cidr} -i ${b.name} -o ${a.external} -j ACCEPT`,
        `-A ${forward} -s ${d.cidr} -i ${d.name} -o ${a.external} -j ACCEPT`,
        `-A ${forward} -o ${b.name} -j DROP`,
        `-A ${forward} -o ${d.name} -j DROP`,
        `-A ${forward} -i ${b.name} -j DROP`,
        `-A ${forward} -i ${d.name} -j DROP`,
        "COMMIT",
    );
}

/**
 * `/usr/local/sbin/proxmox-homelab-<stack>-firewall start|stop`, run by the boot unit and by the deploy.
 * start: load the chains (idempotent) and hook them into FORWARD (first) and POSTROUTING once each.
 * stop: unhook and delete them. The rules file path is fixed; nothing here takes outside input.
 */
export function renderHostFirewallScript(stack: string): string {
    const { forward, nat } = hostChainNames(stack);
    const { rules } = hostPaths(stack);
    return lines(
        "#!/bin/sh",
        managedBy(stack),
        "# start: load this stack's chains and hook them in once; stop: unhook and delete them.",
        "# The host's other rules are never touched.",
        "set -eu",
        `rules=${rules}`,
        'case "${1:-}" in',
        "start)",
        '    iptables-restore --noflush "$rules"',
        `    iptables -C FORWARD -j ${forward} 2>/dev/null || iptables -I FORWARD 1 -j ${forward}`,
        `    iptables -t nat -C POSTROUTING -j ${nat} 2>/dev/null || iptables -t nat -A POSTROUTING -j ${nat}`,
        "    ;;",
        "stop)",
        `    while iptables -C FORWARD -j ${forward} 2>/dev/null; do iptables -D FORWARD -j ${forward}; done`,
        `    while iptables -t nat -C POSTROUTING -j ${nat} 2>/dev/null; do iptables -t nat -D POSTROUTING -j ${nat}; done`,
        `    if iptables -S ${forward} >/dev/null 2>&1; then iptables -F ${forward}; iptables -X ${forward}; fi`,
        `    if iptables -t nat -S ${nat} >/dev/null 2>&1; then iptables -t nat -F ${nat}; iptables -t nat -X ${nat}; fi`,
        "    ;;",
        "*)",
        '    echo "usage: $0 start|stop" >&2',
        "    exit 2",
        "    ;;",
        "esac",
    );
}
