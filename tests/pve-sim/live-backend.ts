/**
 * The simulator's LIVE container backend: every PVE container is a real LXC container, on real Linux bridges, inside
 * a network namespace that stands for the PVE host (the live test bed, ./live/testbed.ts). Deployed services really
 * run and really answer: DHCP leases are handed out, names resolve, TLS verifies.
 *
 * What is real and what is modelled:
 * - Containers: `lxc-copy` of a cached Debian 13 base container (./live/template.ts), one veth per netN on the named
 *   bridge with PVE's hwaddr and host-side name (`veth<vmid>i<n>`), configured inside the way PVE does for Debian
 *   (/etc/network/interfaces, hostname, hosts, resolv.conf); `ip=dhcp` runs the template's DHCP client for real.
 *   Containers are privileged (PVE's `unprivileged` flag is recorded, not applied: id-mapping every clone would
 *   cost a recursive chown per container and nothing the product deploys depends on it here).
 * - `pct exec/push/pull` go through `lxc-attach` into the real container.
 * - The PVE host's commands run in the host namespace, chrooted into the bed's host root (an overlay of the machine's
 *   `/` whose changes stay in the bed): `ip`, `iptables`, `nft` and `sysctl net.*` act on the host namespace for
 *   real, so NAT and FORWARD rules are exercised; Proxmox-only and machine-wide commands are shims
 *   (./live/host-shims). The machine's own namespace and firewall are never touched.
 * - Bridges from the network API's apply are real bridges with the bridge's address as host address.
 *
 * THE NETWORK RULE (../../../shared/LIVE-TESTBED.md): no route and no NAT to the outside. The backend adds no
 * default route to any container; the one route it adds is toward the egress proxy's /30, via the NIC's bridge
 * address (a hook in /etc/network/if-up.d, so it survives the container's own network restarts). Containers use the
 * proxy through the product's own proxy option.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Writable } from "node:stream";

import type {
    BackendContainerSpec,
    BackendInterfaceAddress,
    BackendNic,
    ContainerBackend,
    ExecOptions,
    ExecResult,
    PushOptions,
} from "./backend";
import { renderContainerInterfaces, renderHostInterfaces, type HostBridge } from "./chroot-backend";
import { ensureTemplate, templateFor } from "./live/template";
import { ipv4ToInt, intToIpv4, networkOf, Testbed, type BedBridge, type TestbedOptions } from "./live/testbed";
import { baseEnv, run, start, waitFor, type RunResult } from "./live/run";

export interface LiveBackendOptions {
    /** The test bed to use (an instance, or options for one). Default: `new Testbed()`. */
    testbed?: Testbed | TestbedOptions;
    /** Run the bed's idempotent `up()` on first use. Default true. */
    autoUp?: boolean;
    /** Node name in PVE error texts. Default `pve`. */
    node?: string;
    /** Timeout of exec/hostExec when the caller gives none. Default 10 minutes. */
    defaultTimeoutMs?: number;
    /** How long start() waits for the container's static addresses to come up. Default 30 s. */
    bootWaitMs?: number;
    /**
     * A DHCP server standing for the modelled LAN's home router (the chroot backend's vmbr0 model): a dnsmasq in the
     * host namespace handing out `.100`-`.199` of the bridge's /24 with no router and no DNS option. Default
     * `{ bridge: "vmbr0" }`; `false` for none.
     */
    lanDhcp?: { bridge: string } | false;
    /**
     * How containers are cloned from the base container: `overlay` (an overlayfs snapshot, the default) or `copy`
     * (a full rsync copy, independent of the base container).
     */
    clone?: "overlay" | "copy";
    /** Keep containers and bridges at close() (for debugging a failed run). Default false. */
    keepOnClose?: boolean;
    /** Progress lines (template build, container lifecycle). */
    log?: (line: string) => void;
}

/** A command started by {@link LiveBackend.startExec}: stdin can be streamed while it runs. */
export interface LiveRunningExec {
    stdin: Writable;
    done: Promise<ExecResult>;
    kill(): void;
}

export interface LiveStartExecOptions {
    env?: Record<string, string>;
    timeoutMs?: number;
    onStdout?: (chunk: Buffer) => void;
    onStderr?: (chunk: Buffer) => void;
}

/** One measured step (template build, create, start...), for reports. */
export interface LiveTiming {
    step: string;
    vmid?: number;
    ms: number;
}

interface CtState {
    spec: BackendContainerSpec;
    name: string;
}

const CT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PROXY_ROUTE_HOOK = "/etc/network/if-up.d/phl-testbed-proxy-route";
const PROXY_ROUTE_FILE = "/etc/phl-testbed/proxy-route";

/**
 * Adds the route to the egress proxy's /30 when the NIC named in /etc/phl-testbed/proxy-route comes up. It lives in
 * if-up.d, not in /etc/network/interfaces, so the file PVE writes stays exactly PVE's.
 */
const PROXY_ROUTE_HOOK_TEXT = `#!/bin/sh
# Written by the live test bed (tests/pve-sim/live-backend.ts), not by PVE: the route to the bed's egress proxy.
# The bed has no route to the outside; this is the only network beyond the bridges a container can reach.
[ -r ${PROXY_ROUTE_FILE} ] || exit 0
read -r nic gw net <${PROXY_ROUTE_FILE} || exit 0
[ "$IFACE" = "$nic" ] || exit 0
ip route replace "$net" via "$gw" dev "$nic" onlink
exit 0
`;

/**
 * Writes stdin to "$1" with mode "$2" (a constant script; values travel as positional parameters). A file the
 * container made a symlink (resolv.conf under systemd-resolved) is left alone, as PVE leaves it.
 */
const WRITE_SCRIPT =
    'umask 022; [ -L "$1" ] && { cat >/dev/null; exit 0; }; mkdir -p "$(dirname -- "$1")" && cat > "$1" && chmod "$2" "$1"';

/** pct push, inside the container: errors as pct prints them (create_file: parent must exist). */
const PUSH_SCRIPT = `p=$1; mode=$2; user=$3; group=$4
uid=; gid=
if [ -n "$user" ]; then
    case $user in *[!0-9]*) uid=$(getent passwd "$user" | cut -d: -f3) ;; *) uid=$user ;; esac
    [ -n "$uid" ] || { echo "failed to get uid for: $user" >&2; exit 2; }
fi
if [ -n "$group" ]; then
    case $group in *[!0-9]*) gid=$(getent group "$group" | cut -d: -f3) ;; *) gid=$group ;; esac
    [ -n "$gid" ] || { echo "failed to get gid for: $group" >&2; exit 2; }
fi
d=$(dirname -- "$p")
if [ ! -d "$d" ]; then
    a=$d
    while [ ! -e "$a" ] && [ "$a" != / ] && [ "$a" != . ]; do a=$(dirname -- "$a"); done
    if [ -d "$a" ]; then e="No such file or directory"; else e="Not a directory"; fi
    echo "failed to create file: $p: $e" >&2; exit 2
fi
[ -d "$p" ] && { echo "failed to create file: $p: Is a directory" >&2; exit 2; }
new=0
if [ ! -e "$p" ]; then new=1; (umask 077; : >"$p") || exit 2; fi
if [ -n "$mode" ]; then chmod "$mode" "$p" || exit 2; elif [ "$new" = 1 ]; then chmod 0644 "$p" || exit 2; fi
if [ -n "$uid$gid" ]; then chown "$uid\${gid:+:$gid}" "$p" || exit 2; fi
cat >"$p" || exit 2
`;

const PULL_SCRIPT = `p=$1
[ -e "$p" ] || { echo "failed to open $p: No such file or directory" >&2; exit 2; }
[ -d "$p" ] && { echo "failed to open $p: Is a directory" >&2; exit 2; }
exec cat -- "$p"
`;

function pveError(message: string): Error {
    return new Error(message);
}

function lastLine(b: Buffer): string {
    return b.toString().trim().split("\n").filter(Boolean).pop() ?? "";
}

function cidrAddress(ip: string | undefined): string | undefined {
    if (!ip) return undefined;
    const a = ip.split("/")[0];
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(a) ? a : undefined;
}

/** Text PVE writes between its markers (`ct_modify_file`). */
function pveSection(data: string): string {
    return `# --- BEGIN PVE ---\n${data}# --- END PVE ---\n`;
}

/** pct's mode parsing: octal unless prefixed 0x, as strtoul(perms, 0) after prepending a 0. */
function parsePerms(perms: string): string {
    const s = perms.startsWith("0") ? perms : `0${perms}`;
    const m = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s.slice(2), 16) : /^0[0-7]*$/.test(s) ? parseInt(s, 8) : NaN;
    if (Number.isNaN(m) || perms === "") throw pveError(`invalid mode: '${perms}'`);
    return `0${m.toString(8)}`;
}

/**
 * The locally added CA certificates of this machine's trust store (/usr/local/share/ca-certificates), as PEM texts.
 * This machine re-signs outgoing HTTPS with such a CA; tests hand these to the product's `extraCaCerts` option so
 * containers trust what the proxy's upstream presents (the same need as a homelab behind a TLS-inspecting proxy).
 */
export async function hostExtraCaCerts(dir = "/usr/local/share/ca-certificates"): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string): Promise<void> => {
        for (const e of (await fs.readdir(d, { withFileTypes: true }).catch(() => [])).sort((a, b) =>
            a.name.localeCompare(b.name),
        )) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) await walk(p);
            else if (e.name.endsWith(".crt")) {
                const text = await fs.readFile(p, "utf8");
                for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)) {
                    out.push(`${m[0]}\n`);
                }
            }
        }
    };
    await walk(dir);
    return out;
}

export class LiveBackend implements ContainerBackend {
    readonly kind = "lxc";
    readonly bed: Testbed;
    /** Measured steps, in order (template build, create, start). */
    readonly timings: LiveTiming[] = [];

    private readonly node: string;
    private readonly autoUp: boolean;
    private readonly defaultTimeoutMs: number;
    private readonly bootWaitMs: number;
    private readonly lanDhcp: { bridge: string } | false;
    private readonly keepOnClose: boolean;
    private readonly cloneMode: "overlay" | "copy";
    private readonly log: (line: string) => void;
    private readonly cts = new Map<number, CtState>();
    private readonly procs = new Set<() => void>();
    private bridges: HostBridge[] = [];
    private ready: Promise<void> | undefined;
    private closed = false;

    constructor(opts: LiveBackendOptions = {}) {
        this.bed = opts.testbed instanceof Testbed ? opts.testbed : new Testbed(opts.testbed);
        this.node = opts.node ?? "pve";
        this.autoUp = opts.autoUp ?? true;
        this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 600_000;
        this.bootWaitMs = opts.bootWaitMs ?? 30_000;
        this.lanDhcp = opts.lanDhcp ?? { bridge: "vmbr0" };
        this.keepOnClose = opts.keepOnClose ?? false;
        this.cloneMode = opts.clone ?? "overlay";
        this.log = opts.log ?? (() => undefined);
    }

    /** The URL containers reach the egress proxy at (for the product's proxy option). */
    get proxyUrl(): string {
        return this.bed.proxyUrl;
    }

    /** Brings the bed up (idempotent), claims it, cleans what a crashed run left, builds the template if needed. */
    async init(): Promise<void> {
        this.ready ??= (async () => {
            if (this.autoUp) await this.bed.up();
            await this.bed.claim();
            const t = await ensureTemplate("debian-13-standard", this.log);
            if (t.built) this.timings.push({ step: "template-build", ms: t.ms });
        })();
        return this.ready;
    }

    /** The LXC name of a container. */
    containerName(vmid: number): string {
        return `${this.bed.name}-${vmid}`;
    }

    // ---- lifecycle ----

    async create(spec: BackendContainerSpec): Promise<void> {
        await this.init();
        if (this.cts.has(spec.vmid)) throw pveError(`CT ${spec.vmid} already exists on node '${this.node}'`);
        const t0 = Date.now();
        const name = this.containerName(spec.vmid);
        const tpl = templateFor(spec.ostemplate);
        const built = await ensureTemplate(spec.ostemplate, this.log);
        if (built.built) this.timings.push({ step: "template-build", ms: built.ms });
        // A leftover of the same name (a crashed run) is replaced, as a fresh PVE node would not have it.
        await this.bed.destroyContainer(name);
        const c: CtState = { spec: { ...spec, nics: spec.nics.map((n) => ({ ...n })) }, name };
        this.cts.set(spec.vmid, c);
        try {
            // An overlay snapshot of the base container: 0.3 s instead of a 5 s copy, and no 330 MB per container.
            const clone = this.cloneMode === "overlay" ? ["-s", "-B", "overlay"] : [];
            await this.lxcOk([
                "lxc-copy",
                ...clone,
                "-n",
                tpl.name,
                "-P",
                tpl.lxcPath,
                "-N",
                name,
                "-p",
                this.bed.lxcPath,
            ]);
            // PVE generates fresh SSH host keys for every new container.
            await this.rootfsRun(c, ["ssh-keygen", "-A", "-q"]);
            await this.writeLxcConfig(c);
            await this.writePveFiles(c, false);
        } catch (e) {
            this.cts.delete(spec.vmid);
            await this.bed.destroyContainer(name).catch(() => undefined);
            throw e;
        }
        await this.saveSpec(c);
        this.timings.push({ step: "create", vmid: spec.vmid, ms: Date.now() - t0 });
        this.log(`created ${name} (${spec.hostname}) in ${Date.now() - t0} ms`);
    }

    async destroy(vmid: number): Promise<void> {
        const c = this.cts.get(vmid);
        if (!c) return;
        await this.init();
        this.cts.delete(vmid);
        await this.bed.destroyContainer(c.name);
    }

    async start(vmid: number): Promise<void> {
        await this.init();
        const c = this.ct(vmid);
        if (await this.isRunning(vmid)) throw pveError(`CT ${vmid} already running`);
        const t0 = Date.now();
        const present = await this.bed.currentBridges();
        for (const nic of c.spec.nics) {
            if (!present.includes(nic.bridge)) throw pveError(`bridge '${nic.bridge}' does not exist`);
        }
        await this.writeLxcConfig(c);
        await this.writePveFiles(c, false);
        const logFile = path.join(this.bed.lxcPath, c.name, "lxc-start.log");
        await fs.rm(logFile, { force: true });
        const r = await this.lxc(["lxc-start", "-n", c.name, "-P", this.bed.lxcPath, "-o", logFile, "-l", "ERROR"]);
        if (r.code !== 0 || !(await this.isRunning(vmid))) {
            const log = await fs.readFile(logFile, "utf8").catch(() => "");
            throw pveError(
                `startup for container '${vmid}' failed${log ? `: ${log.trim().split("\n").slice(-3).join(" | ")}` : ""}`,
            );
        }
        await this.waitBooted(c);
        this.timings.push({ step: "start", vmid, ms: Date.now() - t0 });
        this.log(`started ${c.name} in ${Date.now() - t0} ms`);
    }

    async stop(vmid: number): Promise<void> {
        await this.init();
        const c = this.ct(vmid);
        if (!(await this.isRunning(vmid))) throw pveError(`CT ${vmid} not running`);
        await this.lxcOk(["lxc-stop", "-n", c.name, "-P", this.bed.lxcPath, "-k"]);
    }

    async shutdown(vmid: number, timeoutMs: number): Promise<void> {
        await this.init();
        const c = this.ct(vmid);
        if (!(await this.isRunning(vmid))) throw pveError(`CT ${vmid} not running`);
        const seconds = Math.max(1, Math.round(timeoutMs / 1000));
        const r = await this.lxc(
            ["lxc-stop", "-n", c.name, "-P", this.bed.lxcPath, "--nokill", "--timeout", String(seconds)],
            { timeoutMs: timeoutMs + 15_000 },
        );
        if (r.code !== 0 || (await this.isRunning(vmid))) {
            throw pveError(`command 'lxc-stop -n ${vmid} --nokill --timeout ${seconds}' failed: exit code 1`);
        }
    }

    async isRunning(vmid: number): Promise<boolean> {
        const c = this.cts.get(vmid);
        if (!c) return false;
        await this.init();
        const r = await this.lxc(["lxc-info", "-n", c.name, "-P", this.bed.lxcPath, "-s", "-H"], { timeoutMs: 30_000 });
        return r.code === 0 && r.stdout.toString().trim() === "RUNNING";
    }

    // ---- configuration PVE writes into the container ----

    /**
     * Applies spec changes PVE writes into the container (hostname, nameserver, searchdomain, NICs). Not part of
     * ContainerBackend: the API layer calls it when the config changes and before every start.
     */
    async reconfigure(vmid: number, patch: Partial<Omit<BackendContainerSpec, "vmid">>): Promise<void> {
        const c = this.ct(vmid);
        const { nics, ...rest } = patch;
        c.spec = { ...c.spec, ...rest };
        if (nics) await this.updateNics(vmid, nics);
        else {
            const running = await this.isRunning(vmid);
            await this.writePveFiles(c, running);
            if (!running) await this.writeLxcConfig(c);
        }
        await this.saveSpec(c);
    }

    /**
     * NIC changes. Stopped: the next start uses them. Running (PVE hot-plugs netN): a NIC whose bridge, hwaddr, mtu or
     * tag changed gets a new veth pair moved into the container; address changes are applied by taking the interface
     * down with the old /etc/network/interfaces and up with the new one, as ifupdown inside would.
     */
    async updateNics(vmid: number, nics: BackendNic[]): Promise<void> {
        await this.init();
        const c = this.ct(vmid);
        const old = c.spec.nics;
        c.spec = { ...c.spec, nics: nics.map((n) => ({ ...n })) };
        if (!(await this.isRunning(vmid))) {
            await this.writeLxcConfig(c);
            await this.writePveFiles(c, false);
            await this.saveSpec(c);
            return;
        }
        const link = (n: BackendNic): string => [n.bridge, n.hwaddr.toLowerCase(), n.mtu ?? "", n.tag ?? ""].join("|");
        const same = (a: BackendNic, b: BackendNic): boolean => link(a) === link(b) && a.ip === b.ip && a.gw === b.gw;
        const changed = old.filter((o) => {
            const n = nics.find((x) => x.name === o.name);
            return !n || !same(o, n);
        });
        for (const o of changed) await this.execIn(c, ["ifdown", "--force", o.name], 60_000);
        const pid = await this.initPid(c);
        for (const [index, n] of nics.entries()) {
            const o = old.find((x) => x.name === n.name);
            if (o && link(o) === link(n)) continue;
            await this.plugNic(c, pid, n, index);
        }
        for (const o of old) {
            if (!nics.some((n) => n.name === o.name)) {
                await this.execIn(c, ["ip", "link", "del", o.name], 30_000);
            }
        }
        await this.writeLxcConfig(c);
        await this.writePveFiles(c, true);
        for (const n of nics) {
            const o = old.find((x) => x.name === n.name);
            if (!o || !same(o, n)) await this.execIn(c, ["ifup", n.name], 120_000);
        }
        await this.saveSpec(c);
    }

    /** Replaces (or adds) one NIC of a running container with a fresh veth pair on its bridge. */
    private async plugNic(c: CtState, pid: number, nic: BackendNic, index: number): Promise<void> {
        const hostIf = this.vethName(c.spec.vmid, nic, index);
        const peer = `phlp${c.spec.vmid % 100000}n${index}`;
        await this.execIn(c, ["ip", "link", "del", nic.name], 30_000);
        await run(this.bed.nsArgv(["ip", "link", "del", hostIf]));
        await this.bed.ns(["ip", "link", "add", hostIf, "type", "veth", "peer", "name", peer]);
        await this.bed.ns(["ip", "link", "set", peer, "netns", String(pid)]);
        await this.bed.ns(["ip", "link", "set", hostIf, "master", nic.bridge, "mtu", String(nic.mtu ?? 1500), "up"]);
        if (nic.tag !== undefined) {
            await this.bed.ns(["bridge", "vlan", "del", "dev", hostIf, "vid", "1"]);
            await this.bed.ns(["bridge", "vlan", "add", "dev", hostIf, "vid", String(nic.tag), "pvid", "untagged"]);
        }
        const inCt = async (argv: string[]): Promise<void> => {
            const r = await this.execIn(c, argv, 30_000);
            if (r.code !== 0) throw pveError(`${argv.join(" ")}: ${lastLine(r.stderr)}`);
        };
        await inCt(["ip", "link", "set", peer, "name", nic.name]);
        await inCt(["ip", "link", "set", nic.name, "address", nic.hwaddr.toLowerCase()]);
        await inCt(["ip", "link", "set", nic.name, "mtu", String(nic.mtu ?? 1500), "up"]);
    }

    private vethName(vmid: number, nic: BackendNic, index: number): string {
        const m = /^eth(\d+)$/.exec(nic.name);
        return `veth${vmid}i${m ? m[1] : index}`;
    }

    private async initPid(c: CtState): Promise<number> {
        const r = await this.lxc(["lxc-info", "-n", c.name, "-P", this.bed.lxcPath, "-p", "-H"]);
        const pid = Number(r.stdout.toString().trim());
        if (r.code !== 0 || !Number.isInteger(pid) || pid <= 1) throw pveError(`CT ${c.spec.vmid} not running`);
        return pid;
    }

    /** The LXC configuration of a container: the template's, with PVE's hostname and NICs. */
    private async writeLxcConfig(c: CtState): Promise<void> {
        const file = path.join(this.bed.lxcPath, c.name, "config");
        const current = await fs.readFile(file, "utf8");
        const kept = current
            .split("\n")
            .filter((l) => !/^\s*lxc\.(net\.|uts\.name)/.test(l) && !l.startsWith("# pve-live"));
        while (kept.length && kept[kept.length - 1] === "") kept.pop();
        const lines = [
            "",
            "# pve-live: hostname and NICs as PVE configures them",
            `lxc.uts.name = ${this.shortName(c)}`,
        ];
        for (const [i, n] of c.spec.nics.entries()) {
            if (!/^[A-Za-z0-9_.-]{1,15}$/.test(n.name) || !/^[a-z0-9_]{2,15}$/i.test(n.bridge)) {
                throw pveError(`net${i}: bad interface or bridge name`);
            }
            if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(n.hwaddr)) throw pveError(`net${i}: bad hwaddr '${n.hwaddr}'`);
            lines.push(
                `lxc.net.${i}.type = veth`,
                `lxc.net.${i}.link = ${n.bridge}`,
                `lxc.net.${i}.flags = up`,
                `lxc.net.${i}.name = ${n.name}`,
                `lxc.net.${i}.hwaddr = ${n.hwaddr.toLowerCase()}`,
                `lxc.net.${i}.veth.pair = ${this.vethName(c.spec.vmid, n, i)}`,
            );
            if (n.mtu !== undefined) lines.push(`lxc.net.${i}.mtu = ${n.mtu}`);
            if (n.tag !== undefined) lines.push(`lxc.net.${i}.veth.vlan.id = ${n.tag}`);
        }
        if (c.spec.nics.length === 0) lines.push("lxc.net.0.type = empty");
        await fs.writeFile(file, [...kept, ...lines, ""].join("\n"));
    }

    private shortName(c: CtState): string {
        return c.spec.hostname.replace(/\..*$/, "") || "localhost";
    }

    /** nameserver/searchdomain from the CT config, else the PVE host's resolv.conf (as PVE does). */
    private async dnsFor(spec: BackendContainerSpec): Promise<{ search: string[]; nameservers: string[] }> {
        const host = await fs.readFile(path.join(this.bed.hostRoot, "etc/resolv.conf"), "utf8").catch(() => "");
        const hostNs = [...host.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]).slice(0, 3);
        const hostSearch = /^search\s+(.*)$/m.exec(host)?.[1].trim().split(/\s+/) ?? [];
        const split = (s: string): string[] => s.split(/[\s,;]+/).filter(Boolean);
        return {
            search: spec.searchdomain !== undefined ? split(spec.searchdomain) : hostSearch,
            nameservers: spec.nameserver !== undefined ? split(spec.nameserver) : hostNs,
        };
    }

    /** The NIC that carries the route to the proxy: the first (by name) on a bridge with a host address. */
    private proxyRoute(c: CtState): string {
        const nics = [...c.spec.nics].sort((a, b) => a.name.localeCompare(b.name));
        for (const n of nics) {
            const bridge = this.bridges.find((b) => b.name === n.bridge);
            if (!bridge?.cidr || n.ip === undefined || n.ip === "manual") continue;
            return `${n.name} ${bridge.cidr.split("/")[0]} ${this.bed.linkCidr}\n`;
        }
        return "";
    }

    /** What PVE's setup code writes on create and at every start: network, hostname, hosts, resolv.conf. */
    private async writePveFiles(c: CtState, running: boolean): Promise<void> {
        const { spec } = c;
        const namepart = this.shortName(c);
        const { search, nameservers } = await this.dnsFor(spec);
        const first = [...spec.nics].sort((a, b) => a.name.localeCompare(b.name))[0];
        const hostIp = cidrAddress(spec.nics.find((n) => n.name === "eth0")?.ip ?? first?.ip);
        const names = spec.hostname.includes(".")
            ? `${spec.hostname} ${namepart}`
            : [...search.map((d) => `${spec.hostname}.${d}`), spec.hostname].join(" ");
        const hostsLine = hostIp ? `${hostIp} ${names}\n` : `127.0.1.1 ${namepart}\n`;
        let resolv = search.length ? `search ${search.join(" ")}\n` : "";
        for (const ns of nameservers) resolv += `nameserver ${ns}\n`;
        const files: [string, string, string][] = [
            ["/etc/network/interfaces", renderContainerInterfaces(spec.nics), "0644"],
            ["/etc/hostname", `${namepart}\n`, "0644"],
            [
                "/etc/hosts",
                pveSection(`127.0.0.1 localhost.localnet localhost\n::1 localhost.localnet localhost\n${hostsLine}`),
                "0644",
            ],
            ["/etc/resolv.conf", pveSection(resolv), "0644"],
            [PROXY_ROUTE_FILE, this.proxyRoute(c), "0644"],
            [PROXY_ROUTE_HOOK, PROXY_ROUTE_HOOK_TEXT, "0755"],
        ];
        for (const [p, text, mode] of files) {
            const argv = ["/bin/sh", "-c", WRITE_SCRIPT, "sh", p, mode];
            const r = running
                ? await this.execIn(c, argv, 30_000, Buffer.from(text))
                : await this.rootfsRun(c, argv, Buffer.from(text));
            if (r.code !== 0) throw pveError(`unable to write ${p} in CT ${spec.vmid}: ${lastLine(r.stderr)}`);
        }
    }

    private async saveSpec(c: CtState): Promise<void> {
        await fs
            .writeFile(path.join(this.bed.lxcPath, c.name, "pve-spec.json"), JSON.stringify(c.spec, null, 2) + "\n")
            .catch(() => undefined);
    }

    /**
     * Runs a command chrooted into a stopped container's rootfs: how PVE's setup code touches a container's files
     * (its symlinks resolve inside the container, never on the real host).
     */
    private async rootfsRun(c: CtState, argv: string[], stdin?: Buffer): Promise<RunResult> {
        const dir = path.join(this.bed.lxcPath, c.name);
        const conf = await fs.readFile(path.join(dir, "config"), "utf8");
        const rootfs = /^\s*lxc\.rootfs\.path\s*=\s*(\S+)\s*$/m.exec(conf)?.[1] ?? "";
        const opts = { stdin, env: baseEnv({ PATH: CT_PATH }), timeoutMs: 120_000 };
        const overlay = /^overlay:([^:]+):([^:]+)$/.exec(rootfs);
        if (!overlay) return run(["chroot", rootfs.replace(/^dir:/, ""), ...argv], opts);
        // A stopped overlay clone has no merged tree: mount one in a private mount namespace for this command only.
        const mnt = path.join(dir, "setup-mnt");
        await fs.mkdir(mnt, { recursive: true });
        const script =
            'M=$1; L=$2; U=$3; W=$4; shift 4; mount -t overlay pve-live-setup -o "lowerdir=$L,upperdir=$U,workdir=$W" "$M" ' +
            '&& exec chroot "$M" "$@"';
        const work = path.join(path.dirname(overlay[2]), "work");
        return run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                script,
                "sh",
                mnt,
                overlay[1],
                overlay[2],
                work,
                ...argv,
            ],
            opts,
        );
    }

    /** Waits until the container answers lxc-attach and every static address is configured. */
    private async waitBooted(c: CtState): Promise<void> {
        const want = c.spec.nics.filter((n) => cidrAddress(n.ip) !== undefined);
        try {
            await waitFor(`CT ${c.spec.vmid} to configure its static addresses`, this.bootWaitMs, async () => {
                const r = await this.execIn(c, ["ip", "-j", "-4", "addr", "show"], 10_000);
                if (r.code !== 0) return undefined;
                const have = parseIpAddr(r.stdout.toString());
                return want.every((n) => have.some((a) => a.name === n.name && a.inet === n.ip)) ? true : undefined;
            });
        } catch (e) {
            // Real PVE does not wait for the guest's network either; a slow boot is reported, not fatal.
            this.log(`${c.name}: ${(e as Error).message}`);
        }
    }

    // ---- observation ----

    async interfaces(vmid: number): Promise<BackendInterfaceAddress[]> {
        const c = this.ct(vmid);
        // PVE returns nothing for a stopped container (there is no network namespace to ask).
        if (!(await this.isRunning(vmid))) return [];
        const r = await this.execIn(c, ["ip", "-j", "addr", "show"], 30_000);
        if (r.code !== 0) return [];
        const out = parseIpAddr(r.stdout.toString());
        const lo = out.filter((a) => a.name === "lo");
        const rest = out.filter((a) => a.name !== "lo").sort((a, b) => a.name.localeCompare(b.name));
        return [...lo, ...rest];
    }

    // ---- commands ----

    async exec(vmid: number, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
        const r = await this.startExec(vmid, argv, { env: opts.env, timeoutMs: opts.timeoutMs });
        r.stdin.end(opts.stdin ?? Buffer.alloc(0));
        return r.done;
    }

    async hostExec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
        const r = await this.startExec(null, argv, { env: opts.env, timeoutMs: opts.timeoutMs });
        r.stdin.end(opts.stdin ?? Buffer.alloc(0));
        return r.done;
    }

    /**
     * Starts `argv` in a container (`vmid`) or on the PVE host (`null`) and returns at once, so stdin can be streamed
     * (the SSH server feeds channel data as it arrives). Not part of ContainerBackend; the SSH server uses it when
     * present.
     */
    async startExec(vmid: number | null, argv: string[], opts: LiveStartExecOptions = {}): Promise<LiveRunningExec> {
        if (this.closed) throw new Error("LiveBackend is closed");
        await this.init();
        if (argv.length === 0) throw pveError("missing command");
        const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
        let full: string[];
        let env: Record<string, string>;
        if (vmid === null) {
            full = this.bed.hostArgv(argv);
            env = this.bed.hostEnv(opts.env);
        } else {
            const c = this.ct(vmid);
            if (!(await this.isRunning(vmid))) throw pveError(`container '${vmid}' not running!`);
            full = this.bed.lxcArgv([...this.attachArgv(c, opts.env), "--", ...argv]);
            env = baseEnv();
        }
        const p = start(full, { env, timeoutMs, onStdout: opts.onStdout, onStderr: opts.onStderr });
        this.procs.add(p.kill);
        void p.done.then(() => this.procs.delete(p.kill));
        return { stdin: p.stdin, done: p.done, kill: p.kill };
    }

    /** `pct exec`'s lxc-attach: a clean environment (PVE clears it) with PATH, HOME and LANG set. */
    private attachArgv(c: CtState, extra: Record<string, string> = {}): string[] {
        const vars: Record<string, string> = { PATH: CT_PATH, HOME: "/root", LANG: "C", ...extra };
        const argv = ["lxc-attach", "-n", c.name, "-P", this.bed.lxcPath, "--clear-env"];
        for (const [k, v] of Object.entries(vars)) {
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw pveError(`bad environment variable name '${k}'`);
            argv.push("-v", `${k}=${v}`);
        }
        return argv;
    }

    /** A command inside a running container (for the backend's own use; no running check). */
    private async execIn(c: CtState, argv: string[], timeoutMs: number, stdin?: Buffer): Promise<RunResult> {
        return run(this.bed.lxcArgv([...this.attachArgv(c), "--", ...argv]), { stdin, timeoutMs });
    }

    async push(vmid: number, p: string, data: Buffer, opts: PushOptions = {}): Promise<void> {
        const c = this.ct(vmid);
        if (!(await this.isRunning(vmid))) throw pveError("can only push files to a running CT");
        const mode = opts.perms !== undefined ? parsePerms(opts.perms) : "";
        const r = await this.execIn(
            c,
            ["/bin/sh", "-c", PUSH_SCRIPT, "pct", p, mode, opts.user ?? "", opts.group ?? ""],
            this.defaultTimeoutMs,
            data,
        );
        if (r.code !== 0) throw pveError(lastLine(r.stderr) || `failed to create file: ${p}`);
    }

    async pull(vmid: number, p: string): Promise<Buffer> {
        const c = this.ct(vmid);
        if (!(await this.isRunning(vmid))) throw pveError("can only pull files from a running VM");
        const r = await this.execIn(c, ["/bin/sh", "-c", PULL_SCRIPT, "pct", p], this.defaultTimeoutMs);
        if (r.code !== 0) throw pveError(lastLine(r.stderr) || `failed to open ${p}`);
        return r.stdout;
    }

    // ---- host network ----

    async applyBridges(bridges: HostBridge[]): Promise<void> {
        await this.init();
        this.bridges = bridges.map((b) => ({ ...b }));
        const file = path.join(this.bed.hostRoot, "etc/network/interfaces");
        const current = await fs.readFile(file, "utf8").catch(() => "");
        await fs.writeFile(file, renderHostInterfaces(current, this.bridges));
        const bed: BedBridge[] = this.bridges.map((b) => ({ ...b }));
        await this.bed.setBridges(bed);
        await this.syncLanDhcp();
        // PVE's apply is `ifreload -a`, which also (re)runs the stanzas' up/post-up commands, for real here.
        const r = await this.hostExec(["ifreload", "-a"], { timeoutMs: 120_000 });
        if (r.code !== 0) this.log(`ifreload -a: ${r.stderr.toString().trim()}`);
    }

    private async syncLanDhcp(): Promise<void> {
        if (!this.lanDhcp) return;
        const id = "lan";
        const b = this.bridges.find((x) => this.lanDhcp && x.name === this.lanDhcp.bridge);
        if (!b?.cidr || Number(b.cidr.split("/")[1]) > 24) {
            await this.bed.stopBridgeDhcp(id);
            return;
        }
        const base = ipv4ToInt(networkOf(b.cidr).split("/")[0]);
        const prefix = Number(b.cidr.split("/")[1]);
        const mask = intToIpv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
        await this.bed.startBridgeDhcp({
            id,
            bridge: b.name,
            rangeStart: intToIpv4(base + 100),
            rangeEnd: intToIpv4(base + 199),
            netmask: mask,
        });
    }

    // ---- teardown ----

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        for (const kill of this.procs) kill();
        this.procs.clear();
        if (!this.ready) return;
        await this.ready.catch(() => undefined);
        if (!this.keepOnClose) {
            for (const c of this.cts.values()) await this.bed.destroyContainer(c.name).catch(() => undefined);
            this.cts.clear();
            await this.bed.stopBridgeDhcp("lan").catch(() => undefined);
            await this.bed.setBridges([]).catch(() => undefined);
            await this.bed.resetHost().catch((e: unknown) => this.log(`resetting the PVE host: ${String(e)}`));
        }
        await this.bed.release();
    }

    // ---- internals ----

    private ct(vmid: number): CtState {
        const c = this.cts.get(vmid);
        if (!c) throw pveError(`Configuration file 'nodes/${this.node}/lxc/${vmid}.conf' does not exist`);
        return c;
    }

    private lxc(argv: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
        return run(this.bed.lxcArgv(argv), { timeoutMs: opts.timeoutMs ?? 300_000 });
    }

    private async lxcOk(argv: string[]): Promise<void> {
        const r = await this.lxc(argv);
        if (r.code !== 0) throw pveError(`${argv[0]} failed: ${lastLine(r.stderr) || `exit code ${r.code}`}`);
    }
}

/** `ip -j addr show` → PVE's interface list (first IPv4 and first IPv6 address of each link). */
export function parseIpAddr(json: string): BackendInterfaceAddress[] {
    const links = JSON.parse(json || "[]") as {
        ifname: string;
        address?: string;
        addr_info?: { family: string; local: string; prefixlen: number }[];
    }[];
    return links.map((l) => {
        const entry: BackendInterfaceAddress = {
            name: l.ifname,
            hwaddr: (l.address ?? "00:00:00:00:00:00").toLowerCase(),
        };
        const v4 = l.addr_info?.find((a) => a.family === "inet");
        const v6 = l.addr_info?.find((a) => a.family === "inet6");
        if (v4) entry.inet = `${v4.local}/${v4.prefixlen}`;
        if (v6) entry.inet6 = `${v6.local}/${v6.prefixlen}`;
        return entry;
    });
}
