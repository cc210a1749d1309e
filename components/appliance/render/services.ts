/**
 * The POSIX sh scripts the appliance's Execs run: enable and (re)start each service the way its OS does it, reload
 * after app changes, and check that everything really runs. Every interpolated value goes through shellQuote.
 */
import type { ContainerOs } from "../../common/index";
import { shellJoin, shellQuote } from "../../../providers/ssh/quote";
import { gatewayServiceName } from "./firewall";
import {
    APPLIANCE_PATHS,
    CHAINS,
    COCKPIT_PORT,
    LAN_INTERFACE,
    WAN_INTERFACE,
    appLeaseFile,
    appVhostFile,
} from "./paths";

const q = shellQuote;

/** Service-manager commands for one OS (OpenRC on Alpine, systemd on Debian). */
export interface ServiceCommands {
    /** Enable at boot; a no-op when already enabled. */
    enable(service: string, runlevel?: "boot" | "default"): string;
    restart(service: string): string;
    /** Reload a running service, start a stopped one. */
    reloadOrStart(service: string): string;
    /** A command (argv) that exits 0 only when the service is running. */
    isActive(service: string): string[];
}

export function serviceCommands(os: ContainerOs): ServiceCommands {
    if (os === "debian") {
        return {
            enable: (s) => `systemctl enable ${q(s)}`,
            restart: (s) => `systemctl restart ${q(s)}`,
            reloadOrStart: (s) => `systemctl reload-or-restart ${q(s)}`,
            isActive: (s) => ["systemctl", "is-active", "--quiet", s],
        };
    }
    return {
        // rc-update add fails on a service already in the runlevel in some OpenRC versions; test the link instead.
        enable: (s, level = "default") =>
            `[ -L ${q(`/etc/runlevels/${level}/${s}`)} ] || rc-update add ${q(s)} ${q(level)}`,
        restart: (s) => `rc-service ${q(s)} restart`,
        reloadOrStart: (s) =>
            `if rc-service ${q(s)} status >/dev/null 2>&1; then rc-service ${q(s)} reload; else rc-service ${q(s)} start; fi`,
        isActive: (s) => ["rc-service", s, "status"],
    };
}

/** Unit names: systemd wants the suffix, OpenRC has none. */
function unit(os: ContainerOs, name: string, kind: "service" | "socket" = "service"): string {
    return os === "debian" ? `${name}.${kind}` : name;
}

const CADDY_VALIDATE_ARGV = ["caddy", "validate", "--config", APPLIANCE_PATHS.caddyfile, "--adapter", "caddyfile"];
const CADDY_VALIDATE = shellJoin(CADDY_VALIDATE_ARGV);

/** Enables the gateway service and runs it now, so forwarding and the rules are in place and survive reboots. */
export function renderGatewayApplyScript(os: ContainerOs): string {
    const svc = serviceCommands(os);
    const name = gatewayServiceName(os);
    const lines = ["set -eu"];
    // The boot runlevel on Alpine: the rules must be in place before the default runlevel's dnsmasq and Caddy.
    if (os === "debian") lines.push("systemctl daemon-reload", svc.enable(name), svc.restart(name));
    else lines.push(svc.enable(name, "boot"), svc.restart(name));
    return lines.join("\n") + "\n";
}

/** Checks the configuration, enables dnsmasq and restarts it (a restart is the only way it re-reads its files). */
export function renderDnsmasqServiceScript(os: ContainerOs): string {
    const svc = serviceCommands(os);
    const name = unit(os, "dnsmasq");
    return ["set -eu", "dnsmasq --test", svc.enable(name), svc.restart(name)].join("\n") + "\n";
}

/** Prepares Caddy's directories, checks the Caddyfile, enables Caddy and reloads it (or starts it). */
export function renderCaddyServiceScript(os: ContainerOs): string {
    const svc = serviceCommands(os);
    const name = unit(os, "caddy");
    return (
        [
            "set -eu",
            `mkdir -p ${q(APPLIANCE_PATHS.caddySites)} ${q(APPLIANCE_PATHS.caddyLogs)}`,
            // Caddy runs as user caddy and opens its access logs itself.
            `chown caddy:caddy ${q(APPLIANCE_PATHS.caddyLogs)}`,
            CADDY_VALIDATE,
            svc.enable(name),
            svc.reloadOrStart(name),
        ].join("\n") + "\n"
    );
}

/**
 * Debian only: Cockpit refuses root, so a login in group sudo gets the generated password (from the environment
 * variable COCKPIT_PASSWORD, never argv: printf is a shell builtin), then the socket is enabled.
 */
export function renderCockpitScript(user: string): string {
    return (
        [
            "set -eu",
            `id -u ${q(user)} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups sudo ${q(user)}`,
            `printf '%s:%s\\n' ${q(user)} "$COCKPIT_PASSWORD" | chpasswd`,
            "systemctl enable --now cockpit.socket",
        ].join("\n") + "\n"
    );
}

/**
 * Removes our per-app files of apps no longer declared. Pulumi deletes a removed app's File only at the end of the
 * deployment, after the reload, so without this the reload would still load the removed app.
 */
function pruneLines(dir: string, glob: string, keep: string[]): string[] {
    const sorted = [...keep].sort();
    return [
        `for f in ${q(dir)}/${glob}; do`,
        '    [ -e "$f" ] || continue',
        ...(sorted.length > 0
            ? [
                  '    case "${f##*/}" in',
                  `    ${sorted.map(q).join(" | ")}) ;;`,
                  '    *) echo "removing $f"; rm -f "$f" ;;',
                  "    esac",
              ]
            : ['    echo "removing $f"', '    rm -f "$f"']),
        "done",
    ];
}

/** After a lease file changed: drop stale ones, check, restart dnsmasq (SIGHUP does not re-read conf-dir files). */
export function renderDnsmasqReloadScript(os: ContainerOs, apps: string[]): string {
    const svc = serviceCommands(os);
    return (
        [
            "set -eu",
            ...pruneLines(APPLIANCE_PATHS.dnsmasqDir, "app-*.conf", apps.map(appLeaseFile)),
            "dnsmasq --test",
            svc.restart(unit(os, "dnsmasq")),
        ].join("\n") + "\n"
    );
}

/** After a vhost changed: drop stale ones, validate, reload Caddy through its admin API (no downtime). */
export function renderCaddyReloadScript(os: ContainerOs, apps: string[]): string {
    const svc = serviceCommands(os);
    const name = unit(os, "caddy");
    return (
        [
            "set -eu",
            ...pruneLines(APPLIANCE_PATHS.caddySites, "*.caddy", apps.map(appVhostFile)),
            CADDY_VALIDATE,
            svc.reloadOrStart(name),
        ].join("\n") + "\n"
    );
}

export interface HealthCheckArgs {
    os: ContainerOs;
    lanCidr: string;
    managementCidrs: string[];
    cockpit: boolean;
}

/**
 * Fails (exit 1, every failed check on stderr) unless dnsmasq and Caddy run with valid configuration, forwarding is
 * on and the NAT and isolation rules are in place. Each check's exit status is what counts (the original's checks
 * ignored it and always passed).
 */
export function renderHealthCheckScript(a: HealthCheckArgs): string {
    const svc = serviceCommands(a.os);
    const ipt = (...args: string[]) => ["iptables", ...args];
    const checks: [string, string[]][] = [
        ["dnsmasq is running", svc.isActive(unit(a.os, "dnsmasq"))],
        ["dnsmasq accepts its configuration", ["dnsmasq", "--test"]],
        ["Caddy is running", svc.isActive(unit(a.os, "caddy"))],
        ["Caddy accepts its configuration", CADDY_VALIDATE_ARGV],
        ["IPv4 forwarding is on", ["ip_forward_on"]],
        ["NAT chain is hooked into POSTROUTING", ipt("-t", "nat", "-C", "POSTROUTING", "-j", CHAINS.nat)],
        [
            `app LAN ${a.lanCidr} is masqueraded out of ${WAN_INTERFACE}`,
            ipt("-t", "nat", "-C", CHAINS.nat, "-s", a.lanCidr, "-o", WAN_INTERFACE, "-j", "MASQUERADE"),
        ],
        ["forward chain is hooked into FORWARD", ipt("-C", "FORWARD", "-j", CHAINS.forward)],
        ["input chain is hooked into INPUT", ipt("-C", "INPUT", "-j", CHAINS.input)],
        ...a.managementCidrs.map((c): [string, string[]] => [
            `app LAN cannot reach ${c}`,
            ipt("-C", CHAINS.forward, "-d", c, "-i", LAN_INTERFACE, "-j", "DROP"),
        ]),
        [
            `app LAN is forwarded out of ${WAN_INTERFACE}`,
            ipt("-C", CHAINS.forward, "-s", a.lanCidr, "-i", LAN_INTERFACE, "-o", WAN_INTERFACE, "-j", "ACCEPT"),
        ],
    ];
    if (a.cockpit) {
        checks.push(
            ["Cockpit socket is listening", svc.isActive("cockpit.socket")],
            [
                `Cockpit (:${COCKPIT_PORT}) is closed to the app LAN`,
                ipt(
                    "-C",
                    CHAINS.input,
                    "-i",
                    LAN_INTERFACE,
                    "-p",
                    "tcp",
                    "-m",
                    "tcp",
                    "--dport",
                    String(COCKPIT_PORT),
                    "-j",
                    "DROP",
                ),
            ],
        );
    }
    return [
        "set -u",
        "failed=0",
        "# check DESCRIPTION COMMAND...: runs COMMAND, records a failure (with its output) when it exits non-zero.",
        "check() {",
        "    what=$1",
        "    shift",
        '    if out=$("$@" 2>&1); then',
        '        echo "ok: $what"',
        "    else",
        "        rc=$?",
        '        echo "FAILED: $what (exit $rc)" >&2',
        '        [ -z "$out" ] || printf \'%s\\n\' "$out" | tail -n 5 >&2',
        "        failed=1",
        "    fi",
        "}",
        "ip_forward_on() {",
        '    test "$(sysctl -n net.ipv4.ip_forward)" = 1',
        "}",
        ...checks.map(([what, argv]) => `check ${q(what)} ${shellJoin(argv)}`),
        '[ "$failed" = 0 ] || { echo "Proximity appliance health check failed" >&2; exit 1; }',
        "",
    ].join("\n");
}
