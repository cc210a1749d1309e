/**
 * The live test bed: a network namespace standing for the PVE host, linked to the real host by one veth pair, with
 * real bridges, real LXC containers, an nftables fence and an allowlisted egress proxy. See
 * ../../../../shared/LIVE-TESTBED.md for what was measured and why it looks like this.
 *
 *   real host (root namespace)                          <name>-pvehost (the PVE host)
 *   ─────────────────────────                           ─────────────────────────────
 *   tinyproxy 10.254.0.1:8888 ── <name>-root ══ veth ══ <name>-host 10.254.0.2/30
 *   route <bridge nets> via 10.254.0.2                  ip_forward=1, IPv6 off, nft fence
 *   ip_forward untouched (0), no NAT                    vmbrN (real bridges) ── veth<vmid>i<n> ── containers
 *
 * THE NETWORK RULE: the bed has no route and no NAT to the outside. The real host does not forward; the host
 * namespace has no default route; containers get no default route from the test bed. The only way out is the proxy,
 * whose allowlist is built from this machine's own apt and pip configuration (./allowlist.ts).
 *
 * Everything is named after the bed (`name`, default `phl`), so two beds can coexist (with different link subnets
 * and non-overlapping bridge networks). `up` and `down` are idempotent; `up` also cleans what a crashed run left
 * (containers of a backend whose process is gone, a dead proxy, a half-made namespace).
 *
 * CLI: `npm run testbed:up` / `npm run testbed:down` (`node -r ts-node/register/transpile-only
 * tests/pve-sim/live/testbed.ts up|down|status [--name NAME] [--force] [--purge]`).
 */
import { createHash } from "node:crypto";
import { promises as fs, readFileSync } from "node:fs";
import * as path from "node:path";

import { allowlistFilter, buildAllowlist, type AllowedHost } from "./allowlist";
import { FENCE_COUNTERS, FENCE_TABLE, parseFenceCounters, renderFence, type CounterValue } from "./fence";
import { alive, baseEnv, HOST_PATH, run, runOk, sleep, start, type RunningProcess, type RunOptions } from "./run";
import { ensureTemplate, templateDir } from "./template";

export interface TestbedOptions {
    /** Prefix of every name the bed creates (namespace, veths, directories). Default `$PHL_TESTBED` or `phl`. */
    name?: string;
    /** The /30 between the real host and the host namespace. Default `$PHL_TESTBED_LINK` or `10.254.0.0/30`. */
    linkCidr?: string;
    /** The proxy's port on the real host's side of the link. Default 8888. */
    proxyPort?: number;
    /** Persistent state (containers, the host root's changes). Default `/var/lib/phl-live/beds/<name>`. */
    stateDir?: string;
    /** Runtime state (mount points, proxy files, pid files). Default `/run/phl-live/<name>`. */
    runDir?: string;
}

/** A bridge of the bed as the network API's apply gives it. */
export interface BedBridge {
    name: string;
    /** Host address, e.g. `10.20.0.254/24`. */
    cidr?: string;
    mtu?: number;
    vlanAware?: boolean;
}

export interface TestbedStatus {
    name: string;
    netns: boolean;
    link: boolean;
    proxy: { running: boolean; pid?: number; allowlist: AllowedHost[] };
    hostRootMounted: boolean;
    cgroupRootMounted: boolean;
    containers: string[];
    bridges: string[];
    rootIpForward: string;
    fence?: Record<string, CounterValue>;
}

/** A dnsmasq the bed runs on one of its bridges (a DHCP server standing for a home router, or a test's). */
export interface BridgeDhcpOptions {
    /** Identifies the instance (pid and lease file names). */
    id: string;
    bridge: string;
    /** First and last address handed out. */
    rangeStart: string;
    rangeEnd: string;
    /** Netmask of the range (default 255.255.255.0). */
    netmask?: string;
    /** Static leases. */
    hosts?: { mac: string; ip: string; name?: string }[];
    /** Router option sent to clients; absent: none, so clients get no default route from the bed. */
    router?: string;
    leaseTime?: string;
}

const NAME_RE = /^[a-z][a-z0-9]{0,9}$/;
const TEMPLATE_PATH_DEFAULT = "/var/lib/phl-live";
/** Where the host shims live inside the host root, first on every host command's PATH. */
export const HOST_SHIM_DIR = "/usr/lib/pve-live/bin";

const INITIAL_HOST_INTERFACES = `auto lo
iface lo inet loopback

iface eno1 inet manual

auto vmbr0
iface vmbr0 inet static
\taddress 192.168.1.10/24
\tgateway 192.168.1.1
\tbridge-ports eno1
\tbridge-stp off
\tbridge-fd 0

source /etc/network/interfaces.d/*
`;

/** The files the PVE host starts with (written into the host root once; later runs keep what changed). */
const INITIAL_HOST_FILES: [string, string][] = [
    ["etc/hostname", "pve\n"],
    ["etc/hosts", "127.0.0.1 localhost.localdomain localhost\n192.168.1.10 pve.lan pve\n"],
    // The home router of the modelled LAN; inside the bed it is an address on vmbr0 nobody answers for.
    ["etc/resolv.conf", "search lan\nnameserver 192.168.1.1\n"],
    ["etc/network/interfaces", INITIAL_HOST_INTERFACES],
];

/**
 * What the bed runs, and the Debian package that brings it. lxc-templates holds LXC's `debian` template, which
 * needs debootstrap and distro-info (`debian-distro-info` names the security suite); dnsmasq-base is the bed's
 * DHCP server binary without the dnsmasq package's system service.
 */
const TOOLS: { what: string; pkg: string }[] = [
    { what: "ip", pkg: "iproute2" },
    { what: "nft", pkg: "nftables" },
    { what: "iptables", pkg: "iptables" },
    { what: "lxc-start", pkg: "lxc" },
    { what: "lxc-copy", pkg: "lxc" },
    { what: "/usr/share/lxc/templates/lxc-debian", pkg: "lxc-templates" },
    { what: "debootstrap", pkg: "debootstrap" },
    { what: "debian-distro-info", pkg: "distro-info" },
    { what: "rsync", pkg: "rsync" },
    { what: "tinyproxy", pkg: "tinyproxy" },
    { what: "dnsmasq", pkg: "dnsmasq-base" },
    { what: "unshare", pkg: "util-linux" },
    { what: "flock", pkg: "util-linux" },
    { what: "chroot", pkg: "coreutils" },
];

/** The Debian packages the live test bed needs (what CI installs). */
export const TESTBED_PACKAGES = [...new Set(TOOLS.map((t) => t.pkg))];

/** The tools (commands, or the LXC template file) this machine lacks, with their packages. */
export async function missingTools(): Promise<{ what: string; pkg: string }[]> {
    const out: { what: string; pkg: string }[] = [];
    for (const t of TOOLS) {
        const ok = t.what.startsWith("/")
            ? await exists(t.what)
            : (await run(["sh", "-c", 'command -v "$1"', "sh", t.what])).code === 0;
        if (!ok) out.push(t);
    }
    return out;
}

export function ipv4ToInt(ip: string): number {
    const p = ip.split(".").map(Number);
    if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`bad IPv4 ${ip}`);
    return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function intToIpv4(n: number): string {
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** `10.20.0.254/24` → `10.20.0.0/24`. */
export function networkOf(cidr: string): string {
    const [ip, p] = cidr.split("/");
    const prefix = Number(p ?? 32);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new Error(`bad prefix in ${cidr}`);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return `${intToIpv4((ipv4ToInt(ip) & mask) >>> 0)}/${prefix}`;
}

export function overlaps(a: string, b: string): boolean {
    const [na, pa] = networkOf(a).split("/");
    const [nb, pb] = networkOf(b).split("/");
    const p = Math.min(Number(pa), Number(pb));
    const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
    return (ipv4ToInt(na) & mask) >>> 0 === (ipv4ToInt(nb) & mask) >>> 0;
}

async function exists(p: string): Promise<boolean> {
    try {
        await fs.lstat(p);
        return true;
    } catch {
        return false;
    }
}

/** Mount points under (and including) `dir`, deepest first, from /proc/self/mountinfo. */
function mountsUnder(dir: string): string[] {
    const unescape = (s: string): string =>
        s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    const text = readFileSync("/proc/self/mountinfo", "utf8");
    const out: string[] = [];
    for (const line of text.split("\n")) {
        const mp = line.split(" ")[4];
        if (!mp) continue;
        const p = unescape(mp);
        if (p === dir || p.startsWith(dir + "/")) out.push(p);
    }
    return out.sort((a, b) => b.length - a.length);
}

function isMountPoint(dir: string): boolean {
    return mountsUnder(dir).includes(dir);
}

export class Testbed {
    readonly name: string;
    /** The namespace standing for the PVE host. */
    readonly netns: string;
    readonly rootVeth: string;
    readonly hostVeth: string;
    readonly linkCidr: string;
    /** The real host's address on the link: where the proxy listens. */
    readonly rootAddr: string;
    /** The host namespace's address on the link: where the real host routes the bridge networks. */
    readonly hostAddr: string;
    readonly proxyPort: number;
    readonly stateDir: string;
    readonly runDir: string;
    /** LXC path of this bed's containers. */
    readonly lxcPath: string;
    /** A recursive bind of the real /sys/fs/cgroup (`ip netns exec` hides it; LXC needs it). */
    readonly cgroupRoot: string;
    /** The PVE host's root filesystem: an overlay of `/` whose changes stay in `hostUpper`. */
    readonly hostRoot: string;
    readonly hostUpper: string;
    readonly proxyDir: string;

    constructor(opts: TestbedOptions = {}) {
        this.name = opts.name ?? process.env.PHL_TESTBED ?? "phl";
        if (!NAME_RE.test(this.name)) {
            throw new Error(`test bed name ${JSON.stringify(this.name)}: 1-10 of [a-z0-9], starting with a letter`);
        }
        this.linkCidr = networkOf(opts.linkCidr ?? process.env.PHL_TESTBED_LINK ?? "10.254.0.0/30");
        if (!this.linkCidr.endsWith("/30")) throw new Error(`linkCidr must be a /30, got ${this.linkCidr}`);
        const base = ipv4ToInt(this.linkCidr.split("/")[0]);
        this.rootAddr = intToIpv4(base + 1);
        this.hostAddr = intToIpv4(base + 2);
        this.netns = `${this.name}-pvehost`;
        this.rootVeth = `${this.name}-root`;
        this.hostVeth = `${this.name}-host`;
        this.proxyPort = opts.proxyPort ?? 8888;
        const baseDir = process.env.PHL_LIVE_DIR ?? TEMPLATE_PATH_DEFAULT;
        this.stateDir = opts.stateDir ?? path.join(baseDir, "beds", this.name);
        this.runDir = opts.runDir ?? path.join("/run/phl-live", this.name);
        this.lxcPath = path.join(this.stateDir, "lxc");
        this.hostUpper = path.join(this.stateDir, "host");
        this.cgroupRoot = path.join(this.runDir, "cgroup");
        this.hostRoot = path.join(this.runDir, "hostroot");
        this.proxyDir = path.join(this.runDir, "proxy");
    }

    /** `http://10.254.0.1:8888`: what containers put into `Acquire::http::Proxy` and pip's `proxy`. */
    get proxyUrl(): string {
        return `http://${this.rootAddr}:${this.proxyPort}`;
    }

    get proxyLogFile(): string {
        return path.join(this.proxyDir, "tinyproxy.log");
    }

    private get proxyPidFile(): string {
        return path.join(this.proxyDir, "tinyproxy.pid");
    }

    private get proxyConfFile(): string {
        return path.join(this.proxyDir, "tinyproxy.conf");
    }

    private get bridgesFile(): string {
        return path.join(this.runDir, "bridges.json");
    }

    /** The pid file a backend using this bed holds while it lives (so `up` knows a crashed run from a live one). */
    get ownerFile(): string {
        return path.join(this.runDir, "owner.pid");
    }

    // ---- command builders ----

    /** argv that runs `argv` in the host namespace. */
    nsArgv(argv: string[]): string[] {
        return ["ip", "netns", "exec", this.netns, ...argv];
    }

    /**
     * argv that runs an LXC command in the host namespace. `ip netns exec` remounts /sys, which hides the cgroup
     * hierarchy; the bind made at `up` brings it back inside that command's private mount namespace.
     */
    lxcArgv(argv: string[]): string[] {
        return this.nsArgv([
            "sh",
            "-c",
            'mount --rbind "$1" /sys/fs/cgroup && shift && exec "$@"',
            "sh",
            this.cgroupRoot,
            ...argv,
        ]);
    }

    /**
     * argv that runs `argv` as a command of the PVE host: in the host namespace (so `ip`, `iptables`, `nft` and
     * `sysctl net.*` act on it for real), chrooted into the host root (so files such as /etc/iptables/rules.v4 are
     * the PVE host's, not the machine's), hostname `pve`, with /sys and /proc/sys read-only except /proc/sys/net
     * (machine-wide kernel settings cannot be changed from the bed), and the host shims first on PATH.
     */
    hostArgv(argv: string[], hostname = "pve"): string[] {
        const script = [
            "R=$1; H=$2; shift 2",
            'hostname "$H" || exit 125',
            'mount --bind /sys "$R/sys" && mount -o remount,bind,ro "$R/sys" || exit 125',
            'mount -t proc proc "$R/proc" || exit 125',
            'mount --bind "$R/proc/sys" "$R/proc/sys" && mount -o remount,bind,ro "$R/proc/sys" || exit 125',
            'mount --bind "$R/proc/sys/net" "$R/proc/sys/net" && mount -o remount,bind,rw "$R/proc/sys/net" || exit 125',
            'mount --rbind /dev "$R/dev" || exit 125',
            'exec chroot "$R" /bin/sh -c \'cd /root 2>/dev/null || cd /; exec "$@"\' sh "$@"',
        ].join("\n");
        return this.nsArgv(["unshare", "--uts", "--", "/bin/sh", "-c", script, "sh", this.hostRoot, hostname, ...argv]);
    }

    /** The environment of a host command. */
    hostEnv(extra: Record<string, string> = {}): Record<string, string> {
        return baseEnv({ PATH: `${HOST_SHIM_DIR}:${HOST_PATH}`, LANG: "C", ...extra });
    }

    /** Runs a command in the host namespace (not chrooted: for the bed's own plumbing). */
    async ns(argv: string[], opts: RunOptions = {}): Promise<string> {
        return runOk(this.nsArgv(argv), opts);
    }

    // ---- set-up ----

    /** Builds (or completes, or repairs) the bed. Idempotent; cleans what a crashed run left. */
    async up(): Promise<void> {
        await this.preflight();
        await fs.mkdir(this.runDir, { recursive: true, mode: 0o755 });
        await fs.mkdir(this.lxcPath, { recursive: true, mode: 0o755 });
        await this.upNetns();
        await this.upLink();
        await this.upCgroupRoot();
        await this.upHostRoot();
        const bridges = await this.savedBridges();
        await this.applyFence(bridges);
        await this.upProxy(bridges);
        await this.syncRoutes(bridges);
        if (!(await this.ownerAlive())) await this.cleanOrphans();
    }

    private async preflight(): Promise<void> {
        if (process.getuid?.() !== 0) throw new Error("the live test bed needs root");
        const missing = await missingTools();
        if (missing.length) {
            const pkgs = [...new Set(missing.map((m) => m.pkg))].join(" ");
            throw new Error(
                `the live test bed needs: ${missing.map((m) => `${m.what} (${m.pkg})`).join(", ")}; ` +
                    `apt-get install --no-install-recommends ${pkgs}`,
            );
        }
        if (!(await exists("/sys/fs/cgroup"))) throw new Error("the live test bed needs /sys/fs/cgroup");
    }

    private async upNetns(): Promise<void> {
        if (!(await exists(path.join("/run/netns", this.netns)))) {
            await runOk(["ip", "netns", "add", this.netns]);
        }
        await this.ns(["ip", "link", "set", "lo", "up"]);
        // The host namespace routes between its bridges and the link; IPv6 is off so nothing can take a v6 path.
        for (const kv of [
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
            "net.ipv4.conf.all.rp_filter=0",
        ]) {
            await this.ns(["sysctl", "-q", "-w", kv]);
        }
    }

    private async linkExists(dev: string, inNs: boolean): Promise<boolean> {
        const argv = ["ip", "link", "show", "dev", dev];
        return (await run(inNs ? this.nsArgv(argv) : argv)).code === 0;
    }

    private async upLink(): Promise<void> {
        if (!(await this.linkExists(this.rootVeth, false))) {
            // A half-made pair from a crashed run: the namespace end alone is useless.
            if (await this.linkExists(this.hostVeth, true)) await this.ns(["ip", "link", "del", this.hostVeth]);
            await runOk([
                "ip",
                "link",
                "add",
                this.rootVeth,
                "type",
                "veth",
                "peer",
                "name",
                this.hostVeth,
                "netns",
                this.netns,
            ]);
        }
        const prefix = this.linkCidr.split("/")[1];
        // Our own interface on the real host: no IPv6 on it, so the real host's v6 routing never sees the bed.
        await run(["sysctl", "-q", "-w", `net.ipv6.conf.${this.rootVeth}.disable_ipv6=1`]);
        await runOk(["ip", "addr", "replace", `${this.rootAddr}/${prefix}`, "dev", this.rootVeth]);
        await runOk(["ip", "link", "set", this.rootVeth, "up"]);
        await this.ns(["ip", "addr", "replace", `${this.hostAddr}/${prefix}`, "dev", this.hostVeth]);
        await this.ns(["ip", "link", "set", this.hostVeth, "up"]);
    }

    private async upCgroupRoot(): Promise<void> {
        if (isMountPoint(this.cgroupRoot)) return;
        await fs.mkdir(this.cgroupRoot, { recursive: true });
        await runOk(["mount", "--rbind", "/sys/fs/cgroup", this.cgroupRoot]);
        // On systemd machines `/` is shared: keep these binds from propagating anywhere.
        await runOk(["mount", "--make-rprivate", this.cgroupRoot]);
    }

    private async upHostRoot(): Promise<void> {
        const work = path.join(this.stateDir, "host-work");
        await fs.mkdir(this.hostUpper, { recursive: true });
        await fs.mkdir(work, { recursive: true });
        await fs.mkdir(this.hostRoot, { recursive: true });
        if (!isMountPoint(this.hostRoot)) {
            await runOk([
                "mount",
                "-t",
                "overlay",
                `${this.name}-hostroot`,
                "-o",
                `lowerdir=/,upperdir=${this.hostUpper},workdir=${work}`,
                this.hostRoot,
            ]);
            await runOk(["mount", "--make-private", this.hostRoot]);
        }
        // The machine's /run and /tmp (the same filesystem as / here) must not show through: fresh ones.
        for (const d of ["run", "tmp"]) {
            const p = path.join(this.hostRoot, d);
            if (!isMountPoint(p)) await runOk(["mount", "-t", "tmpfs", "-o", "mode=1777", `${this.name}-host${d}`, p]);
        }
        await fs.chmod(path.join(this.hostRoot, "run"), 0o755);
        const marker = path.join(this.hostUpper, ".pve-live-initialised");
        if (!(await exists(marker))) {
            for (const [rel, text] of INITIAL_HOST_FILES) {
                const p = path.join(this.hostRoot, rel);
                await fs.mkdir(path.dirname(p), { recursive: true });
                await fs.rm(p, { force: true });
                await fs.writeFile(p, text);
            }
            await fs.mkdir(path.join(this.hostRoot, "etc/network/interfaces.d"), { recursive: true });
            await fs.writeFile(marker, `${new Date().toISOString()}\n`);
        }
        // The shims are the project's code: refreshed on every up.
        const shimDst = path.join(this.hostRoot, HOST_SHIM_DIR);
        await fs.mkdir(shimDst, { recursive: true });
        const shimSrc = path.join(__dirname, "host-shims");
        for (const f of await fs.readdir(shimSrc)) {
            if (f.endsWith(".md")) continue;
            await fs.copyFile(path.join(shimSrc, f), path.join(shimDst, f));
            await fs.chmod(path.join(shimDst, f), 0o755);
        }
    }

    private async savedBridges(): Promise<BedBridge[]> {
        try {
            return JSON.parse(await fs.readFile(this.bridgesFile, "utf8")) as BedBridge[];
        } catch {
            return [];
        }
    }

    private fenceSpec(bridges: BedBridge[]): Parameters<typeof renderFence>[0] {
        return {
            linkCidr: this.linkCidr,
            proxyAddr: this.rootAddr,
            proxyPort: this.proxyPort,
            bridges: bridges.map((b) => ({ name: b.name, net: b.cidr ? networkOf(b.cidr) : undefined })),
        };
    }

    private async applyFence(bridges: BedBridge[]): Promise<void> {
        await this.ns(["nft", "-f", "-"], { stdin: renderFence(this.fenceSpec(bridges)) });
    }

    // ---- the proxy ----

    private proxyConf(bridges: BedBridge[], filterFile: string): string {
        const allow = new Set<string>([this.linkCidr]);
        for (const b of bridges) if (b.cidr) allow.add(networkOf(b.cidr));
        return [
            "# Written by tests/pve-sim/live/testbed.ts: the live test bed's only way out.",
            "User nobody",
            "Group nogroup",
            `Listen ${this.rootAddr}`,
            `Port ${this.proxyPort}`,
            "Timeout 600",
            "MaxClients 100",
            `PidFile "${this.proxyPidFile}"`,
            `LogFile "${this.proxyLogFile}"`,
            "LogLevel Info",
            "DisableViaHeader Yes",
            ...[...allow].map((a) => `Allow ${a}`),
            `Filter "${filterFile}"`,
            "FilterURLs Off",
            "FilterType ere",
            "FilterCaseSensitive Off",
            "FilterDefaultDeny Yes",
            "ConnectPort 443",
            "",
        ].join("\n");
    }

    /** The proxy's pid when the process behind the pid file is our tinyproxy. */
    private async proxyPid(): Promise<number | undefined> {
        let pid: number;
        try {
            pid = Number((await fs.readFile(this.proxyPidFile, "utf8")).trim());
        } catch {
            return undefined;
        }
        if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return undefined;
        try {
            const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
            return cmdline.some((a) => a.endsWith("tinyproxy")) && cmdline.includes(this.proxyConfFile)
                ? pid
                : undefined;
        } catch {
            return undefined;
        }
    }

    private async upProxy(bridges: BedBridge[]): Promise<void> {
        await fs.mkdir(this.proxyDir, { recursive: true });
        const hosts = buildAllowlist();
        if (hosts.length === 0) throw new Error("the proxy allowlist is empty: no apt sources and no pip found");
        const filterFile = path.join(this.proxyDir, "allowlist.ere");
        await fs.writeFile(filterFile, allowlistFilter(hosts));
        await fs.writeFile(path.join(this.proxyDir, "allowlist.json"), JSON.stringify(hosts, null, 2) + "\n");
        await fs.writeFile(this.proxyConfFile, this.proxyConf(bridges, filterFile));
        await this.chownProxyFiles();
        const pid = await this.proxyPid();
        if (pid) {
            // tinyproxy re-reads its configuration and filter on SIGUSR1 without dropping connections.
            process.kill(pid, "SIGUSR1");
            return;
        }
        await fs.rm(this.proxyPidFile, { force: true });
        await runOk(["tinyproxy", "-c", this.proxyConfFile]);
        for (let i = 0; i < 50 && !(await this.proxyPid()); i++) await sleep(100);
        if (!(await this.proxyPid())) {
            const log = await fs.readFile(this.proxyLogFile, "utf8").catch(() => "");
            throw new Error(`tinyproxy did not start:\n${log.split("\n").slice(-10).join("\n")}`);
        }
    }

    private async chownProxyFiles(): Promise<void> {
        // tinyproxy writes its log after dropping to nobody; the directory stays root's.
        const ids = await run(["sh", "-c", "id -u nobody; getent group nogroup | cut -d: -f3"]);
        const [uid, gid] = ids.stdout.toString().trim().split("\n").map(Number);
        if (!Number.isInteger(uid) || !Number.isInteger(gid)) return;
        await fs.writeFile(this.proxyLogFile, "", { flag: "a" });
        await fs.chown(this.proxyLogFile, uid, gid);
    }

    /** The allowlist in force. */
    async allowlist(): Promise<AllowedHost[]> {
        try {
            return JSON.parse(await fs.readFile(path.join(this.proxyDir, "allowlist.json"), "utf8")) as AllowedHost[];
        } catch {
            return [];
        }
    }

    /** The proxy's log so far. */
    async proxyLog(): Promise<string> {
        return fs.readFile(this.proxyLogFile, "utf8").catch(() => "");
    }

    /** Hosts the proxy made a connection to (its log's `Established connection to host "…"` lines). */
    async proxyConnections(): Promise<string[]> {
        const log = await this.proxyLog();
        return [...log.matchAll(/Established connection to host "([^"]+)"/g)].map((m) => m[1].toLowerCase());
    }

    // ---- bridges ----

    /**
     * Makes the bed's bridges exactly `bridges` (the full desired set, as the network API's apply hands it): real
     * bridges in the host namespace with their address, routes on the real host toward their networks, the fence's
     * bed networks and the proxy's `Allow` list. Refuses a network that overlaps one the real host already routes.
     */
    async setBridges(bridges: BedBridge[]): Promise<void> {
        for (const b of bridges) {
            if (!/^[a-z][a-z0-9_]{1,14}$/.test(b.name)) throw new Error(`bad bridge name ${JSON.stringify(b.name)}`);
            if (b.cidr) {
                networkOf(b.cidr);
                if (overlaps(b.cidr, this.linkCidr))
                    throw new Error(`${b.name} ${b.cidr} overlaps the bed's link ${this.linkCidr}`);
            }
        }
        await this.checkRouteConflicts(bridges);
        const current = await this.currentBridges();
        for (const name of current) {
            if (!bridges.some((b) => b.name === name)) await this.ns(["ip", "link", "del", name]);
        }
        for (const b of bridges) {
            if (!current.includes(b.name)) {
                await this.ns(["ip", "link", "add", b.name, "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
            }
            // A bridge without a MAC of its own takes its lowest port's and changes it as containers come and go,
            // leaving the gateway MAC in every container's neighbour cache stale: pin one, as a PVE bridge's uplink
            // port does.
            await this.ns(["ip", "link", "set", b.name, "address", this.bridgeMac(b.name)]);
            if (b.vlanAware) {
                // Kernels built without bridge VLAN filtering (such as this machine's) refuse it: say so plainly.
                const r = await run(
                    this.nsArgv(["ip", "link", "set", b.name, "type", "bridge", "vlan_filtering", "1"]),
                );
                if (r.code !== 0) throw new Error(`${b.name}: VLAN-aware bridges are not supported by this kernel`);
            }
            await this.ns(["ip", "link", "set", b.name, "mtu", String(b.mtu ?? 1500)]);
            const addrs = await this.bridgeAddrs(b.name);
            for (const a of addrs) if (a !== b.cidr) await this.ns(["ip", "addr", "del", a, "dev", b.name]);
            if (b.cidr && !addrs.includes(b.cidr)) await this.ns(["ip", "addr", "add", b.cidr, "dev", b.name]);
            await this.ns(["ip", "link", "set", b.name, "up"]);
        }
        await fs.writeFile(this.bridgesFile, JSON.stringify(bridges, null, 2) + "\n");
        await this.applyFence(bridges);
        await this.syncRoutes(bridges);
        await this.upProxy(bridges);
    }

    /** A stable, locally administered MAC per bed and bridge. */
    bridgeMac(bridge: string): string {
        const h = createHash("sha256").update(`${this.name}/${bridge}`).digest();
        return ["02", ...[...h.subarray(0, 5)].map((x) => x.toString(16).padStart(2, "0"))].join(":");
    }

    /** Bridges that exist in the host namespace. */
    async currentBridges(): Promise<string[]> {
        const r = await run(this.nsArgv(["ip", "-j", "link", "show", "type", "bridge"]));
        if (r.code !== 0) return [];
        return (JSON.parse(r.stdout.toString() || "[]") as { ifname: string }[]).map((l) => l.ifname);
    }

    private async bridgeAddrs(name: string): Promise<string[]> {
        const out = await this.ns(["ip", "-j", "-4", "addr", "show", "dev", name]);
        const doc = JSON.parse(out || "[]") as { addr_info?: { local: string; prefixlen: number }[] }[];
        return (doc[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
    }

    private async checkRouteConflicts(bridges: BedBridge[]): Promise<void> {
        const routes = JSON.parse((await runOk(["ip", "-j", "-4", "route", "show", "table", "all"])) || "[]") as {
            dst: string;
            dev?: string;
            type?: string;
        }[];
        for (const b of bridges) {
            if (!b.cidr) continue;
            for (const r of routes) {
                if (r.dev === this.rootVeth || r.dst === "default" || (r.type && r.type !== "unicast")) continue;
                if (/^(127\.|224\.|255\.)/.test(r.dst)) continue;
                const dst = r.dst.includes("/") ? r.dst : `${r.dst}/32`;
                if (overlaps(dst, b.cidr)) {
                    throw new Error(
                        `bridge ${b.name} ${b.cidr} overlaps ${dst}, which the real host already routes via ${r.dev ?? "?"}; ` +
                            "choose a bridge network the machine does not use (two test beds need distinct networks)",
                    );
                }
            }
        }
    }

    private async syncRoutes(bridges: BedBridge[]): Promise<void> {
        if (!(await this.linkExists(this.rootVeth, false))) return;
        const want = new Set(bridges.filter((b) => b.cidr).map((b) => networkOf(b.cidr as string)));
        const have = JSON.parse((await runOk(["ip", "-j", "-4", "route", "show", "dev", this.rootVeth])) || "[]") as {
            dst: string;
            gateway?: string;
        }[];
        for (const r of have) {
            if (r.gateway === this.hostAddr && !want.has(r.dst)) {
                await runOk(["ip", "route", "del", r.dst, "via", this.hostAddr, "dev", this.rootVeth]);
            }
        }
        for (const net of want)
            await runOk(["ip", "route", "replace", net, "via", this.hostAddr, "dev", this.rootVeth]);
    }

    // ---- DHCP on a bridge ----

    private dhcpFiles(id: string): { pid: string; leases: string; log: string } {
        if (!/^[a-z0-9-]{1,32}$/.test(id)) throw new Error(`bad DHCP server id ${JSON.stringify(id)}`);
        const dir = path.join(this.runDir, "dhcp");
        return {
            pid: path.join(dir, `${id}.pid`),
            leases: path.join(dir, `${id}.leases`),
            log: path.join(dir, `${id}.log`),
        };
    }

    /**
     * Runs a DHCP-only dnsmasq in the host namespace on one bridge (no DNS, no router or DNS option unless asked),
     * e.g. the home router of the modelled LAN. Replaces an instance with the same id.
     */
    async startBridgeDhcp(o: BridgeDhcpOptions): Promise<void> {
        await this.stopBridgeDhcp(o.id);
        const f = this.dhcpFiles(o.id);
        await fs.mkdir(path.dirname(f.pid), { recursive: true });
        await fs.writeFile(f.leases, "");
        const args = [
            "dnsmasq",
            "--conf-file=/dev/null",
            "--port=0",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            `--interface=${o.bridge}`,
            "--except-interface=lo",
            "--user=root",
            "--group=root",
            `--pid-file=${f.pid}`,
            `--dhcp-leasefile=${f.leases}`,
            `--log-facility=${f.log}`,
            "--log-dhcp",
            `--dhcp-range=${o.rangeStart},${o.rangeEnd},${o.netmask ?? "255.255.255.0"},${o.leaseTime ?? "1h"}`,
            o.router ? `--dhcp-option=option:router,${o.router}` : "--dhcp-option=option:router",
            "--dhcp-option=option:dns-server",
            ...(o.hosts ?? []).map((h) => `--dhcp-host=${h.mac},${h.ip}${h.name ? `,${h.name}` : ""}`),
        ];
        await this.ns(args);
    }

    async stopBridgeDhcp(id: string): Promise<void> {
        const f = this.dhcpFiles(id);
        const pid = Number((await fs.readFile(f.pid, "utf8").catch(() => "")).trim());
        if (Number.isInteger(pid) && pid > 1 && alive(pid)) {
            const cmd = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
            if (cmd.includes(f.pid)) {
                process.kill(pid, "SIGTERM");
                for (let i = 0; i < 30 && alive(pid); i++) await sleep(100);
            }
        }
        await fs.rm(f.pid, { force: true });
    }

    /** The leases a bed DHCP server handed out: `{mac, ip, name}`. */
    async bridgeDhcpLeases(id: string): Promise<{ mac: string; ip: string; name: string }[]> {
        const text = await fs.readFile(this.dhcpFiles(id).leases, "utf8").catch(() => "");
        return text
            .split("\n")
            .filter(Boolean)
            .map((l) => l.split(" "))
            .map((f) => ({ mac: f[1], ip: f[2], name: f[3] }));
    }

    // ---- observation ----

    async fenceCounters(): Promise<Record<string, CounterValue>> {
        return parseFenceCounters(await this.ns(["nft", "-j", "list", "counters", "table", "inet", FENCE_TABLE]));
    }

    /** Packets aimed at outside destinations, by counter (all must stay zero). */
    async outsideBound(): Promise<Record<string, number>> {
        const c = await this.fenceCounters();
        const pick = [
            FENCE_COUNTERS.preOutside,
            FENCE_COUNTERS.fwdOutside,
            FENCE_COUNTERS.outOutside,
            FENCE_COUNTERS.fwdIpv6,
        ];
        return Object.fromEntries(pick.map((k) => [k, c[k]?.packets ?? 0]));
    }

    async containers(): Promise<string[]> {
        try {
            const entries = await fs.readdir(this.lxcPath, { withFileTypes: true });
            const out: string[] = [];
            for (const e of entries)
                if (e.isDirectory() && (await exists(path.join(this.lxcPath, e.name, "config")))) out.push(e.name);
            return out.sort();
        } catch {
            return [];
        }
    }

    async status(): Promise<TestbedStatus> {
        const netns = await exists(path.join("/run/netns", this.netns));
        const pid = await this.proxyPid();
        const st: TestbedStatus = {
            name: this.name,
            netns,
            link: await this.linkExists(this.rootVeth, false),
            proxy: { running: pid !== undefined, pid, allowlist: await this.allowlist() },
            hostRootMounted: isMountPoint(this.hostRoot),
            cgroupRootMounted: isMountPoint(this.cgroupRoot),
            containers: await this.containers(),
            bridges: netns ? await this.currentBridges() : [],
            rootIpForward: (await fs.readFile("/proc/sys/net/ipv4/ip_forward", "utf8")).trim(),
        };
        if (netns) st.fence = await this.fenceCounters().catch(() => undefined);
        return st;
    }

    // ---- ownership and orphans ----

    /** Whether the backend process that last claimed this bed still lives. */
    async ownerAlive(): Promise<boolean> {
        const pid = Number((await fs.readFile(this.ownerFile, "utf8").catch(() => "")).trim());
        return Number.isInteger(pid) && pid > 1 && alive(pid);
    }

    /** Claims the bed for this process; throws while another live process holds it. */
    async claim(): Promise<void> {
        const owner = (await fs.readFile(this.ownerFile, "utf8").catch(() => "")).trim();
        if (owner !== String(process.pid) && (await this.ownerAlive())) {
            throw new Error(`test bed ${this.name} is in use by process ${owner}`);
        }
        await fs.mkdir(this.runDir, { recursive: true });
        await fs.writeFile(this.ownerFile, `${process.pid}\n`);
    }

    async release(): Promise<void> {
        const pid = Number((await fs.readFile(this.ownerFile, "utf8").catch(() => "")).trim());
        if (pid === process.pid) await fs.rm(this.ownerFile, { force: true });
    }

    /**
     * Removes what a run that is gone left: its containers, its DHCP servers, its bridges, and what its host
     * commands changed on the PVE host (netfilter rules, host files), so the next run starts from a fresh node.
     */
    async cleanOrphans(): Promise<void> {
        for (const name of await this.containers()) await this.destroyContainer(name);
        await this.stopAllDhcp();
        if (await exists(path.join("/run/netns", this.netns))) {
            for (const b of await this.currentBridges()) await this.ns(["ip", "link", "del", b]);
        }
        await fs.rm(this.bridgesFile, { force: true });
        await this.applyFence([]).catch(() => undefined);
        await this.syncRoutes([]);
        await this.resetHost();
        await fs.rm(this.ownerFile, { force: true });
    }

    /**
     * Returns the PVE host to a fresh node: every netfilter table of the host namespace but the fence dropped
     * (the product's NAT and FORWARD rules, iptables-nft or legacy), the bed's own sysctls re-set, and the host
     * root's changes (rules.v4, interfaces, the shims' records) discarded. Nothing may run in the host root.
     */
    async resetHost(): Promise<void> {
        if (await exists(path.join("/run/netns", this.netns))) {
            const r = await run(this.nsArgv(["nft", "-j", "list", "tables"]));
            const doc = JSON.parse(r.code === 0 ? r.stdout.toString() || "{}" : "{}") as {
                nftables?: { table?: { family: string; name: string } }[];
            };
            for (const t of (doc.nftables ?? []).map((x) => x.table).filter((x) => x !== undefined)) {
                if (t.family === "inet" && t.name === FENCE_TABLE) continue;
                await this.ns(["nft", "delete", "table", t.family, t.name]);
            }
            // Legacy tables only where some command made them (listing or flushing one would create it).
            for (const [cmd, names] of [
                ["iptables-legacy", "ip_tables_names"],
                ["ip6tables-legacy", "ip6_tables_names"],
            ]) {
                const listed = await run(this.nsArgv(["cat", `/proc/net/${names}`]));
                const tables = listed.code === 0 ? listed.stdout.toString().split(/\s+/).filter(Boolean) : [];
                for (const table of tables) {
                    await run(this.nsArgv([cmd, "-t", table, "-F"]));
                    await run(this.nsArgv([cmd, "-t", table, "-X"]));
                    if (table === "filter") {
                        for (const chain of ["INPUT", "FORWARD", "OUTPUT"])
                            await run(this.nsArgv([cmd, "-t", table, "-P", chain, "ACCEPT"]));
                    }
                }
            }
            await this.upNetns();
        }
        for (const mp of mountsUnder(this.hostRoot)) {
            const u = await run(["umount", "-R", mp]);
            if (u.code !== 0 && isMountPoint(mp)) await run(["umount", "-R", "-l", mp]);
        }
        await fs.rm(this.hostUpper, { recursive: true, force: true });
        await fs.rm(path.join(this.stateDir, "host-work"), { recursive: true, force: true });
        if (await exists(this.runDir)) await this.upHostRoot();
    }

    private async stopAllDhcp(): Promise<void> {
        const dir = path.join(this.runDir, "dhcp");
        for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
            if (f.endsWith(".pid")) await this.stopBridgeDhcp(f.slice(0, -4));
        }
    }

    /** Stops and removes one container of this bed, even when its namespace is already gone. */
    async destroyContainer(name: string): Promise<void> {
        const dir = path.join(this.lxcPath, name);
        if (await exists(path.join("/run/netns", this.netns))) {
            await run(this.lxcArgv(["lxc-stop", "-n", name, "-P", this.lxcPath, "-k"]), { timeoutMs: 60_000 });
            const r = await run(this.lxcArgv(["lxc-destroy", "-n", name, "-P", this.lxcPath, "-f"]), {
                timeoutMs: 120_000,
            });
            if (r.code === 0 && !(await exists(dir))) return;
        }
        await this.killMonitor(name);
        await fs.rm(dir, { recursive: true, force: true });
    }

    /** Kills a container's monitor and init found through /proc (when its namespace, and LXC's socket, are gone). */
    private async killMonitor(name: string): Promise<void> {
        const want = `[lxc monitor] ${this.lxcPath} ${name}`;
        for (const d of await fs.readdir("/proc").catch(() => [] as string[])) {
            if (!/^\d+$/.test(d)) continue;
            const cmd = await fs.readFile(`/proc/${d}/cmdline`, "utf8").catch(() => "");
            if (cmd.replace(/\0+$/, "").replace(/\0/g, " ").trim() !== want) continue;
            const children = await fs.readFile(`/proc/${d}/task/${d}/children`, "utf8").catch(() => "");
            for (const c of children.split(/\s+/).filter(Boolean)) {
                try {
                    process.kill(Number(c), "SIGKILL");
                } catch {
                    // gone
                }
            }
            try {
                process.kill(Number(d), "SIGKILL");
            } catch {
                // gone
            }
        }
    }

    // ---- teardown ----

    /** Removes everything the bed made: containers, processes, mounts, namespace, veths, state. Idempotent. */
    async down(): Promise<void> {
        for (const name of await this.containers()) await this.destroyContainer(name);
        await this.stopAllDhcp();
        const pid = await this.proxyPid();
        if (pid) {
            process.kill(pid, "SIGTERM");
            for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
            if (alive(pid)) process.kill(pid, "SIGKILL");
            for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
        }
        const nsFile = path.join("/run/netns", this.netns);
        if (await exists(nsFile)) {
            // Whatever still runs in the bed's namespace was started by the bed (DHCP servers, daemons a host
            // command left, LXC monitors).
            const pids = (await run(["ip", "netns", "pids", this.netns])).stdout
                .toString()
                .split(/\s+/)
                .filter(Boolean);
            for (const p of pids) {
                try {
                    process.kill(Number(p), "SIGKILL");
                } catch {
                    // gone
                }
            }
            await runOk(["ip", "netns", "del", this.netns]);
        }
        // Deleting the namespace destroys the pair from its end there, asynchronously: the root end may vanish
        // between the check and the delete.
        if (await this.linkExists(this.rootVeth, false)) {
            const r = await run(["ip", "link", "del", this.rootVeth]);
            if (r.code !== 0 && (await this.linkExists(this.rootVeth, false))) {
                throw new Error(`ip link del ${this.rootVeth}: ${r.stderr.toString().trim()}`);
            }
        }
        for (const mp of mountsUnder(this.runDir)) {
            const r = await run(["umount", "-R", mp]);
            if (r.code !== 0 && isMountPoint(mp)) await run(["umount", "-R", "-l", mp]);
        }
        await fs.rm(this.runDir, { recursive: true, force: true });
        await fs.rm(this.stateDir, { recursive: true, force: true });
        // The shared parents go too once no bed uses them (rmdir refuses a non-empty directory).
        for (const d of [path.dirname(this.runDir), path.dirname(this.stateDir)])
            await fs.rmdir(d).catch(() => undefined);
    }
}

/** Starts a command in the host namespace as the PVE host would run it, streaming stdin. */
export function startHostCommand(
    bed: Testbed,
    argv: string[],
    opts: RunOptions & { env?: Record<string, string> } = {},
): RunningProcess {
    return start(bed.hostArgv(argv), { ...opts, env: bed.hostEnv(opts.env) });
}

const USAGE = `usage: testbed.ts up|down|status [--name NAME] [--force] [--purge]
  up      builds (or repairs) the bed and the cached Debian 13 container template; cleans what a crashed run left
  down    removes everything the bed made; refuses while a live simulator holds the bed (--force: anyway);
          --purge also drops the cached container templates and LXC's debootstrap cache
  status  prints the bed's state as JSON`;

async function main(argv: string[]): Promise<number> {
    const args = [...argv];
    let name: string | undefined;
    const i = args.indexOf("--name");
    if (i >= 0) {
        name = args[i + 1];
        args.splice(i, 2);
    }
    const flag = (f: string): boolean => {
        const at = args.indexOf(f);
        if (at >= 0) args.splice(at, 1);
        return at >= 0;
    };
    const force = flag("--force");
    const purge = flag("--purge");
    const cmd = args[0];
    if (args.length !== 1) {
        console.error(USAGE);
        return 2;
    }
    const bed = new Testbed({ name });
    const t0 = Date.now();
    switch (cmd) {
        case "up": {
            await bed.up();
            const upMs = Date.now() - t0;
            const tpl = await ensureTemplate("debian-13-standard", (l) => console.log(`  ${l}`));
            console.log(`test bed ${bed.name} up in ${upMs} ms: netns ${bed.netns}, proxy ${bed.proxyUrl}`);
            console.log(
                `  container template ${tpl.name}: ${tpl.built ? `built in ${tpl.ms} ms` : "cached"} (${tpl.lxcPath})`,
            );
            for (const h of await bed.allowlist()) console.log(`  allow ${h.host} (${h.source})`);
            return 0;
        }
        case "down": {
            if (!force && (await bed.ownerAlive())) {
                const owner = (await fs.readFile(bed.ownerFile, "utf8")).trim();
                console.error(
                    `test bed ${bed.name} is in use by process ${owner} (a live simulator): stop it first, or --force`,
                );
                return 1;
            }
            await bed.down();
            if (purge) {
                await fs.rm(templateDir(), { recursive: true, force: true });
                await fs.rm("/var/cache/lxc/debian", { recursive: true, force: true });
                await fs.rmdir(path.dirname(templateDir())).catch(() => undefined);
            }
            console.log(
                `test bed ${bed.name} down in ${Date.now() - t0} ms${purge ? " (template caches purged)" : ""}`,
            );
            return 0;
        }
        case "status":
            console.log(JSON.stringify(await bed.status(), null, 2));
            return 0;
        default:
            console.error(USAGE);
            return 2;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (e: unknown) => {
            console.error(e instanceof Error ? e.message : String(e));
            process.exit(1);
        },
    );
}
