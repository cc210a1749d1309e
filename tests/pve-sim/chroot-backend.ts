/**
 * The default container backend of the PVE simulator: every container is a real directory tree, and commands run
 * for real inside it with `unshare` (no network, own mount/pid/uts/ipc namespaces) + `chroot`.
 *
 * Why a real tree instead of an in-memory model: the providers run arbitrary POSIX shell (`mkdir -p`, temp files,
 * `mv -f`, `sha256sum`, `stat`...) and every construct must behave exactly as it would in a container. What cannot
 * run for real here (package managers, service managers, firewalls, network tools) is modelled by the shell stubs in
 * `tests/pve-sim/stubs`, which record their effect as files inside the container so tests can observe it.
 *
 * Layout of one backend's state directory:
 *   template/<debian|alpine|host>/   skeletons, built once per backend instance
 *   host/                             the PVE node's own root filesystem (`hostExec`, `pct push` sources)
 *   ct/<vmid>/rootfs/                 one container's root filesystem
 *
 * Inside every root: the command stubs live in /usr/lib/pve-sim/bin (first on PATH, plus a link at the command's
 * real location), package hooks in /usr/lib/pve-sim/packages, state recorded by stubs under /var/lib/sim,
 * /var/log/sim and /run/sim (the latter is cleared on every stop/start, like a tmpfs).
 *
 * Security note: this is a test fixture, not a sandbox. It runs as root; the chroot plus a reduced capability
 * bounding set (no CAP_SYS_ADMIN/SYS_TIME/SYS_BOOT/SYS_MODULE...) and a private network namespace keep ordinary
 * commands from touching the machine, but nothing here is designed to contain hostile code.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { constants as fsConstants, mkdtempSync, promises as fs } from "node:fs";
import * as os from "node:os";
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

/** What the lease provider is asked: one DHCP NIC of a running container. */
export interface LeaseRequest {
    vmid: number;
    nic: BackendNic;
}

/** A container as the lease provider sees it. */
export interface LeaseContainerView {
    vmid: number;
    running: boolean;
    nics: BackendNic[];
    /** Reads a file inside this container; undefined when it does not exist. */
    readFile(p: string): Promise<string | undefined>;
    /** Lists a directory inside this container; [] when it does not exist. */
    listDir(p: string): Promise<string[]>;
}

export interface LeaseContext {
    containers: LeaseContainerView[];
    /** Leases already handed out, keyed `bridge|HWADDR` → CIDR (the provider must not hand these out twice). */
    leases: ReadonlyMap<string, string>;
}

/** Decides the IPv4 CIDR a DHCP NIC gets, or undefined while no DHCP server answers on its bridge. */
export type LeaseProvider = (req: LeaseRequest, ctx: LeaseContext) => Promise<string | undefined>;

/** Hooks a test uses to make the backend misbehave. */
export interface ChrootBackendFaults {
    /** Containers whose clean shutdown never finishes (shutdown() rejects after its timeout). */
    hangShutdown: Set<number>;
}

export interface ChrootBackendOptions {
    /** Where roots live. Default: a fresh mkdtemp directory, removed by close(). */
    stateDir?: string;
    /** Static busybox to copy into every root. Default: `busybox` found on PATH. */
    busyboxPath?: string;
    /** Stub tree (commands/, pkgbin/, packages/, python/, lib/). Default: ./stubs next to this file. */
    stubsDir?: string;
    /** Timeout for exec/hostExec when the caller gives none. Default 10 minutes. */
    defaultTimeoutMs?: number;
    /** DHCP model. Default: {@link defaultLeaseProvider}. */
    leaseProvider?: LeaseProvider;
}

interface CtState {
    spec: BackendContainerSpec;
    root: string;
    running: boolean;
    procs: Set<ChildProcess>;
}

/** A command started by {@link ChrootBackend.startExec}: stdin can be streamed while it runs. */
export interface RunningExec {
    stdin: Writable;
    /** Resolves when the command ends (never rejects; a timeout is exit code 124). */
    done: Promise<ExecResult>;
    /** Kills the command and everything it started. */
    kill(): void;
}

export interface StartExecOptions {
    env?: Record<string, string>;
    timeoutMs?: number;
    onStdout?: (chunk: Buffer) => void;
    onStderr?: (chunk: Buffer) => void;
}

const STUB_BIN = "/usr/lib/pve-sim/bin";
const SIM_PATH = `${STUB_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
const NODE = "pve";
const MGMT_BRIDGE = "vmbr0";

/** Busybox applets that are not installed: they are stubbed, or would act on the real machine's kernel. */
const EXCLUDED_APPLETS = new Set([
    ...["ip", "sysctl", "hostname", "dpkg", "dpkg-deb", "wget", "rpm", "rpm2cpio", "ifup", "ifdown"],
    ...["reboot", "halt", "poweroff", "init", "linuxrc", "mount", "umount", "swapon", "swapoff", "mkswap"],
    ...["insmod", "rmmod", "modprobe", "depmod", "lsmod", "modinfo", "mke2fs", "mkdosfs", "fdisk", "hwclock"],
    ...["klogd", "syslogd", "getty", "sulogin", "switch_root", "pivot_root", "run-init", "udhcpc", "udhcpd"],
    ...["telnetd", "httpd", "freeramdisk", "fsfreeze", "blkdiscard", "losetup", "nuke", "resume", "adjtimex"],
]);

/** Capabilities no container command needs; dropping them keeps `date -s`, `mount`, `reboot` off the machine. */
const DROPPED_CAPS = ["sys_admin", "sys_time", "sys_boot", "sys_module", "sys_rawio", "mknod", "mac_admin"];

/** Device nodes every root gets (real nodes as root, bind mounts otherwise). */
const DEVICES: [string, number, number][] = [
    ["null", 1, 3],
    ["zero", 1, 5],
    ["full", 1, 7],
    ["random", 1, 8],
    ["urandom", 1, 9],
];

const DEBIAN_CODENAMES: Record<string, string> = { "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky" };

/** Base packages the PVE templates ship; recorded as installed so `dpkg -s` answers like a fresh container. */
const DEBIAN_BASE_PACKAGES = [
    ...["base-files", "bash", "coreutils", "dash", "dpkg", "apt", "systemd", "systemd-sysv", "ifupdown2"],
    ...["iproute2", "iputils-ping", "openssh-server", "postfix", "ca-certificates", "locales", "less", "wget"],
    ...["curl", "procps", "sed", "grep", "gzip", "tar", "tzdata", "cron", "python3", "adduser", "passwd"],
];
const ALPINE_BASE_PACKAGES = ["alpine-base", "busybox", "musl", "apk-tools", "alpine-baselayout", "openrc"];
const HOST_BASE_PACKAGES = [
    ...DEBIAN_BASE_PACKAGES,
    ...["proxmox-ve", "pve-manager", "pve-container", "lxc-pve", "iptables", "bridge-utils"],
];

/** Errors carrying the text pct/PVE prints. */
function pveError(message: string): Error {
    return new Error(message);
}

function missingConfig(vmid: number): Error {
    return pveError(`Configuration file 'nodes/${NODE}/lxc/${vmid}.conf' does not exist`);
}

function errnoText(code: string | undefined): string {
    switch (code) {
        case "ENOENT":
            return "No such file or directory";
        case "ENOTDIR":
            return "Not a directory";
        case "EISDIR":
            return "Is a directory";
        case "ELOOP":
            return "Too many levels of symbolic links";
        case "EACCES":
            return "Permission denied";
        default:
            return code ?? "Input/output error";
    }
}

function fsError(code: string): NodeJS.ErrnoException {
    const err: NodeJS.ErrnoException = new Error(code);
    err.code = code;
    return err;
}

function errCode(e: unknown): string | undefined {
    return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

/**
 * Resolves `p` inside `root` the way the kernel does for a process chrooted to `root`: `..` stops at the root and
 * symlinks (absolute ones included) are followed inside the root, so the result can never leave it.
 * `followLast`: follow a symlink in the last component. `allowMissingLast`: the last component may not exist.
 */
export async function resolveInRoot(
    root: string,
    p: string,
    opts: { followLast: boolean; allowMissingLast: boolean },
): Promise<string> {
    const stack: string[] = [];
    const queue = p.split("/").filter((c) => c !== "" && c !== ".");
    let hops = 0;
    while (queue.length > 0) {
        const c = queue.shift() as string;
        if (c === "..") {
            stack.pop();
            continue;
        }
        const candidate = path.join(root, ...stack, c);
        let st;
        try {
            st = await fs.lstat(candidate);
        } catch (e) {
            if (errCode(e) === "ENOENT" && queue.length === 0 && opts.allowMissingLast) {
                stack.push(c);
                break;
            }
            throw e;
        }
        const isLast = queue.length === 0;
        if (st.isSymbolicLink() && (!isLast || opts.followLast)) {
            if (++hops > 40) throw fsError("ELOOP");
            const target = await fs.readlink(candidate);
            if (target.startsWith("/")) stack.length = 0;
            queue.unshift(...target.split("/").filter((t) => t !== "" && t !== "."));
            continue;
        }
        if (!isLast && !st.isDirectory()) throw fsError("ENOTDIR");
        stack.push(c);
    }
    const resolved = path.join(root, ...stack);
    // Defence in depth: the walk above cannot leave the root, but never hand out a path that does.
    if (resolved !== root && !resolved.startsWith(root + path.sep)) throw fsError("EACCES");
    return resolved;
}

function which(cmd: string): string | undefined {
    const r = spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { encoding: "utf8" });
    const out = r.stdout.trim();
    return r.status === 0 && out.startsWith("/") ? out : undefined;
}

/** Shared libraries of a dynamic host binary, as `ldd` lists them (absolute paths). */
function sharedLibs(binary: string): string[] {
    const r = spawnSync("ldd", [binary], { encoding: "utf8" });
    if (r.status !== 0) return [];
    const libs: string[] = [];
    for (const line of r.stdout.split("\n")) {
        const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s*\(/.exec(line);
        if (m) libs.push(m[1]);
    }
    return libs;
}

function ipv4ToInt(ip: string): number {
    return ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

function intToIpv4(n: number): string {
    return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

function isIpv4(s: string): boolean {
    return /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s) && s.split(".").every((o) => Number(o) <= 255);
}

function netmaskToPrefix(mask: string): number {
    return ipv4ToInt(mask).toString(2).replace(/0+$/, "").length;
}

/** Address part of a CIDR (`10.0.0.5/24` → `10.0.0.5`); undefined for dhcp/manual. */
function cidrAddress(ip: string | undefined): string | undefined {
    if (!ip) return undefined;
    const a = ip.split("/")[0];
    return isIpv4(a) ? a : undefined;
}

function cidrPrefix(ip: string | undefined): number | undefined {
    if (!ip || !ip.includes("/")) return undefined;
    const n = Number(ip.split("/")[1]);
    return Number.isInteger(n) ? n : undefined;
}

function inSubnet(ip: string, net: string, prefix: number): boolean {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return (ipv4ToInt(ip) & mask) >>> 0 === (ipv4ToInt(net) & mask) >>> 0;
}

/** The IPv6 link-local address the kernel derives from a MAC (EUI-64). */
function linkLocalFromMac(mac: string): string {
    const b = mac.split(":").map((h) => parseInt(h, 16));
    b[0] ^= 0x02;
    const eui = [b[0], b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]];
    const groups: string[] = [];
    for (let i = 0; i < 8; i += 2) groups.push(((eui[i] << 8) | eui[i + 1]).toString(16));
    return `fe80::${groups.join(":")}/64`;
}

function leaseKey(bridge: string, hwaddr: string): string {
    return `${bridge}|${hwaddr.toUpperCase()}`;
}

/**
 * The default DHCP model, kept deliberately small:
 * 1. another running container with a NIC on the same bridge whose /etc/dnsmasq.conf or /etc/dnsmasq.d/* has
 *    `dhcp-host=...<hwaddr>...,<ip>` → that address;
 * 2. else such a container declaring `dhcp-range=<start>,<end>[,<netmask>]...` → the first address of the range not
 *    used by a static NIC, another lease, or a dhcp-host reservation;
 * 3. else, on vmbr0 (the modelled management LAN 192.168.1.0/24, whose router hands out 192.168.1.100+) → the first
 *    free address from 192.168.1.100;
 * 4. else no lease (the NIC has no address, as before a real DHCP answer).
 * The prefix comes from the range's netmask, else the DHCP server's own address on that bridge, else /24.
 */
export const defaultLeaseProvider: LeaseProvider = async (req, ctx) => {
    const { nic } = req;
    const used = new Set<string>();
    for (const c of ctx.containers) {
        for (const n of c.nics) {
            const a = cidrAddress(n.ip);
            if (a && n.bridge === nic.bridge) used.add(a);
        }
    }
    for (const [key, cidr] of ctx.leases) {
        if (key.startsWith(`${nic.bridge}|`) && key !== leaseKey(nic.bridge, nic.hwaddr)) used.add(cidr.split("/")[0]);
    }
    const servers = ctx.containers.filter(
        (c) => c.vmid !== req.vmid && c.running && c.nics.some((n) => n.bridge === nic.bridge),
    );
    const hosts: { mac: string; ip: string }[] = [];
    const ranges: { start: string; end: string; prefix?: number; serverPrefix?: number }[] = [];
    for (const server of servers) {
        const files = ["/etc/dnsmasq.conf"];
        for (const f of (await server.listDir("/etc/dnsmasq.d")).sort()) files.push(`/etc/dnsmasq.d/${f}`);
        const serverPrefix = cidrPrefix(server.nics.find((n) => n.bridge === nic.bridge)?.ip);
        for (const f of files) {
            const text = await server.readFile(f);
            if (text === undefined) continue;
            for (const raw of text.split("\n")) {
                const line = raw.trim();
                const m = /^(dhcp-host|dhcp-range)\s*=\s*(.*)$/.exec(line);
                if (!m) continue;
                const tokens = m[2].split(",").map((t) => t.trim());
                const ips = tokens.filter(isIpv4);
                if (m[1] === "dhcp-host") {
                    const mac = tokens.find((t) => /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(t));
                    if (mac && ips[0]) hosts.push({ mac: mac.toUpperCase(), ip: ips[0] });
                } else if (ips.length >= 2) {
                    const mask = ips.slice(2).find((t) => t.startsWith("255."));
                    ranges.push({
                        start: ips[0],
                        end: ips[1],
                        prefix: mask ? netmaskToPrefix(mask) : undefined,
                        serverPrefix,
                    });
                }
            }
        }
    }
    const mine = hosts.find((h) => h.mac === nic.hwaddr.toUpperCase());
    if (mine) {
        const range = ranges.find((r) => inSubnet(mine.ip, r.start, r.prefix ?? r.serverPrefix ?? 24));
        return `${mine.ip}/${range?.prefix ?? range?.serverPrefix ?? ranges[0]?.serverPrefix ?? 24}`;
    }
    for (const h of hosts) used.add(h.ip);
    for (const r of ranges) {
        for (let n = ipv4ToInt(r.start); n <= ipv4ToInt(r.end); n++) {
            const ip = intToIpv4(n);
            if (!used.has(ip)) return `${ip}/${r.prefix ?? r.serverPrefix ?? 24}`;
        }
    }
    if (nic.bridge === MGMT_BRIDGE) {
        for (let n = 100; n < 255; n++) {
            const ip = `192.168.1.${n}`;
            if (!used.has(ip)) return `${ip}/24`;
        }
    }
    return undefined;
};

/** `/etc/network/interfaces` as PVE's Debian/Alpine setup writes it for a fresh container. */
export function renderContainerInterfaces(nics: BackendNic[]): string {
    let out = "auto lo\niface lo inet loopback\niface lo inet6 loopback\n\n";
    for (const nic of [...nics].sort((a, b) => a.name.localeCompare(b.name))) {
        if (nic.ip === undefined) continue;
        out += `auto ${nic.name}\n`;
        if (nic.ip === "dhcp" || nic.ip === "manual") {
            out += `iface ${nic.name} inet ${nic.ip}\n\n`;
            continue;
        }
        out += `iface ${nic.name} inet static\n\taddress ${nic.ip}\n`;
        if (nic.gw) {
            const addr = cidrAddress(nic.ip);
            const prefix = cidrPrefix(nic.ip) ?? 32;
            if (addr && !inSubnet(nic.gw, addr, prefix)) {
                // PVE adds explicit routes when the gateway is outside the NIC's subnet.
                out += "# --- BEGIN PVE ---\n";
                out += `\tpost-up ip route add ${nic.gw} dev ${nic.name}\n`;
                out += `\tpost-up ip route add default via ${nic.gw} dev ${nic.name}\n`;
                out += `\tpre-down ip route del default via ${nic.gw} dev ${nic.name}\n`;
                out += `\tpre-down ip route del ${nic.gw} dev ${nic.name}\n`;
                out += "# --- END PVE ---\n";
            } else {
                out += `\tgateway ${nic.gw}\n`;
            }
        }
        out += "\n";
    }
    return out;
}

/** A bridge as the network API's apply hands it to the backend. */
export interface HostBridge {
    name: string;
    cidr?: string;
    mtu?: number;
    vlanAware?: boolean;
}

/** One `iface` stanza of /etc/network/interfaces, with the lines PVE's parser keeps verbatim. */
interface IfaceStanza {
    name: string;
    auto: boolean;
    method: string;
    attrs: string[];
}

function parseInterfaces(text: string): { stanzas: IfaceStanza[]; trailer: string[] } {
    const stanzas: IfaceStanza[] = [];
    const auto = new Set<string>();
    const trailer: string[] = [];
    let cur: IfaceStanza | undefined;
    for (const line of text.split("\n")) {
        const iface = /^iface\s+(\S+)\s+inet\s+(\S+)/.exec(line);
        if (/^auto\s+/.test(line)) {
            for (const n of line.split(/\s+/).slice(1)) auto.add(n);
            cur = undefined;
        } else if (iface) {
            cur = { name: iface[1], auto: false, method: iface[2], attrs: [] };
            stanzas.push(cur);
        } else if (/^\s+\S/.test(line) && cur) {
            cur.attrs.push(line.trim());
        } else if (/^(source|source-directory)\s/.test(line)) {
            trailer.push(line);
            cur = undefined;
        } else if (line.trim() === "") {
            cur = undefined;
        }
    }
    for (const s of stanzas) s.auto = auto.has(s.name);
    return { stanzas, trailer };
}

function renderInterfaces(stanzas: IfaceStanza[], trailer: string[]): string {
    let out = "";
    for (const s of stanzas) {
        if (s.auto) out += `auto ${s.name}\n`;
        out += `iface ${s.name} inet ${s.method}\n`;
        for (const a of s.attrs) out += `\t${a}\n`;
        out += "\n";
    }
    for (const t of trailer) out += `${t}\n`;
    return out;
}

/** Host /etc/network/interfaces after an apply: the given bridges, other interfaces and unknown lines kept. */
export function renderHostInterfaces(current: string, bridges: HostBridge[]): string {
    const { stanzas, trailer } = parseInterfaces(current);
    const managed = new Set(["address", "netmask", "mtu", "bridge-vlan-aware", "bridge-vids"]);
    const others = stanzas.filter((s) => !/^vmbr\d+$/.test(s.name) || bridges.some((b) => b.name === s.name));
    const result: IfaceStanza[] = others.filter((s) => !bridges.some((b) => b.name === s.name));
    for (const b of [...bridges].sort((x, y) => x.name.localeCompare(y.name, "en", { numeric: true }))) {
        const old = others.find((s) => s.name === b.name);
        const kept = old ? old.attrs.filter((a) => !managed.has(a.split(/\s+/)[0])) : [];
        const keptValue = (key: string, fallback: string): string =>
            kept.find((a) => a.split(/\s+/)[0] === key) ?? `${key} ${fallback}`;
        // PVE's writer order: address, gateway, bridge options, mtu, then the lines it does not know (post-up...).
        const attrs: string[] = [];
        if (b.cidr) attrs.push(`address ${b.cidr}`);
        attrs.push(...kept.filter((a) => a.startsWith("gateway ")));
        attrs.push(keptValue("bridge-ports", "none"), keptValue("bridge-stp", "off"), keptValue("bridge-fd", "0"));
        if (b.vlanAware) attrs.push("bridge-vlan-aware yes", "bridge-vids 2-4094");
        if (b.mtu) attrs.push(`mtu ${b.mtu}`);
        const known = new Set(["gateway", "bridge-ports", "bridge-stp", "bridge-fd"]);
        attrs.push(...kept.filter((a) => !known.has(a.split(/\s+/)[0])));
        result.push({ name: b.name, auto: true, method: b.cidr ? "static" : "manual", attrs });
    }
    return renderInterfaces(result, trailer);
}

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

/** Text PVE writes between its markers (`ct_modify_file`). */
function pveSection(data: string): string {
    return `# --- BEGIN PVE ---\n${data}# --- END PVE ---\n`;
}

/** The `# sim-<key>: a b c` header lines of a stub file (first 20 lines). */
function stubHeader(text: string, key: string): string[] {
    const out: string[] = [];
    for (const line of text.split("\n").slice(0, 20)) {
        const m = /^#\s*sim-([a-z]+):\s*(.*)$/.exec(line);
        if (m?.[1] === key) out.push(...m[2].split(/\s+/).filter(Boolean));
    }
    return out;
}

/**
 * Whether an OS list (`debian`, `alpine`, `host`, `!host`) covers a template flavor. The PVE host is Debian, so
 * `debian` covers it unless `!host` says otherwise; an empty list covers everything.
 */
function osAllows(tokens: string[], flavor: Flavor): boolean {
    if (tokens.length === 0) return true;
    if (tokens.includes(`!${flavor}`)) return false;
    if (tokens.includes(flavor)) return true;
    return flavor === "host" && tokens.includes("debian");
}

type Flavor = "debian" | "alpine" | "host";

export class ChrootBackend implements ContainerBackend {
    readonly kind = "chroot";
    readonly stateDir: string;
    /** The PVE node's root filesystem (what `hostExec` and `pct push` sources see). */
    readonly hostRoot: string;
    readonly faults: ChrootBackendFaults = { hangShutdown: new Set() };

    private readonly ownsStateDir: boolean;
    private readonly busybox: string;
    private readonly stubsDir: string;
    private readonly defaultTimeoutMs: number;
    private readonly leaseProvider: LeaseProvider;
    private readonly isRoot = process.getuid?.() === 0;
    private readonly unshareBin: string;
    private readonly chrootBin: string;
    private readonly setprivBin: string | undefined;
    private readonly cts = new Map<number, CtState>();
    private readonly leases = new Map<string, string>();
    private readonly hostProcs = new Set<ChildProcess>();
    private readonly templates = new Map<Flavor, Promise<string>>();
    private bridges: HostBridge[] = [{ name: MGMT_BRIDGE, cidr: "192.168.1.10/24" }];
    private hostReady: Promise<void> | undefined;
    private closed = false;

    constructor(opts: ChrootBackendOptions = {}) {
        this.ownsStateDir = opts.stateDir === undefined;
        this.stateDir = opts.stateDir ?? fsSyncMkdtemp();
        this.hostRoot = path.join(this.stateDir, "host");
        const bb = opts.busyboxPath ?? which("busybox");
        if (!bb) throw new Error("ChrootBackend needs a static busybox (apt-get install busybox-static)");
        this.busybox = bb;
        this.stubsDir = opts.stubsDir ?? path.join(__dirname, "stubs");
        this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 600_000;
        this.leaseProvider = opts.leaseProvider ?? defaultLeaseProvider;
        const unshare = which("unshare");
        const chroot = which("chroot");
        if (!unshare || !chroot) throw new Error("ChrootBackend needs unshare and chroot (util-linux, coreutils)");
        this.unshareBin = unshare;
        this.chrootBin = chroot;
        this.setprivBin = which("setpriv");
    }

    /** Builds the host root. Called lazily by every method; call it early to pay the cost up front. */
    async init(): Promise<void> {
        this.hostReady ??= this.buildHost();
        return this.hostReady;
    }

    /** Absolute path of a container's root filesystem (tests read and write files through it). */
    rootOf(vmid: number): string {
        return this.ct(vmid).root;
    }

    /** The bridges recorded by the last applyBridges (vmbr0 before any). */
    hostBridges(): HostBridge[] {
        return this.bridges.map((b) => ({ ...b }));
    }

    /**
     * Makes `url` downloadable by the curl/wget stubs in the host and in every container (present and future).
     * The stubs look for /var/lib/sim/downloads/<sha256 hex of the URL>.
     */
    async registerDownload(url: string, data: Buffer): Promise<void> {
        await this.init();
        const name = createHash("sha256").update(url).digest("hex");
        const roots = [this.hostRoot, ...[...this.cts.values()].map((c) => c.root)];
        for (const flavor of ["debian", "alpine"] as const) roots.push(await this.template(flavor));
        for (const root of roots) {
            const dir = path.join(root, "var/lib/sim/downloads");
            await fs.mkdir(dir, { recursive: true });
            await fs.writeFile(path.join(dir, name), data);
        }
    }

    /**
     * Applies spec changes that PVE writes into the container at the next start (hostname, nameserver, searchdomain,
     * NICs). Not part of ContainerBackend: the API layer can call it when the config changes.
     */
    async reconfigure(vmid: number, patch: Partial<Omit<BackendContainerSpec, "vmid">>): Promise<void> {
        const c = this.ct(vmid);
        c.spec = { ...c.spec, ...patch };
        await this.writePveFiles(c);
    }

    async create(spec: BackendContainerSpec): Promise<void> {
        await this.init();
        if (this.cts.has(spec.vmid)) throw pveError(`CT ${spec.vmid} already exists on node '${NODE}'`);
        const root = path.join(this.stateDir, "ct", String(spec.vmid), "rootfs");
        await fs.rm(path.dirname(root), { recursive: true, force: true });
        await fs.mkdir(path.dirname(root), { recursive: true });
        await cloneTree(await this.template(spec.ostype), root);
        await this.makeDevices(root);
        await this.writeOsRelease(root, spec);
        const c: CtState = {
            spec: { ...spec, nics: spec.nics.map((n) => ({ ...n })) },
            root,
            running: false,
            procs: new Set(),
        };
        this.cts.set(spec.vmid, c);
        await this.writePveFiles(c);
        await fs.writeFile(path.join(path.dirname(root), "spec.json"), JSON.stringify(c.spec, null, 2));
    }

    /**
     * Re-attaches a container whose root survived a simulator restart (a caller-owned `stateDir`), refreshing only
     * the simulator's own files (stubs) and what PVE writes at start; creates it when there is no root. Not part of
     * ContainerBackend: the API layer uses it when it restores its state.
     */
    async adopt(spec: BackendContainerSpec): Promise<void> {
        await this.init();
        const root = path.join(this.stateDir, "ct", String(spec.vmid), "rootfs");
        if (this.cts.has(spec.vmid) || !(await exists(path.join(root, "etc/passwd")))) return this.create(spec);
        await this.refreshSimFiles(root, spec.ostype);
        await this.makeDevices(root);
        const c: CtState = {
            spec: { ...spec, nics: spec.nics.map((n) => ({ ...n })) },
            root,
            running: false,
            procs: new Set(),
        };
        this.cts.set(spec.vmid, c);
        await this.writePveFiles(c);
    }

    async destroy(vmid: number): Promise<void> {
        const c = this.cts.get(vmid);
        if (!c) return;
        this.killAll(c.procs);
        c.running = false;
        this.cts.delete(vmid);
        for (const nic of c.spec.nics) this.leases.delete(leaseKey(nic.bridge, nic.hwaddr));
        await fs.rm(path.dirname(c.root), { recursive: true, force: true });
    }

    async start(vmid: number): Promise<void> {
        const c = this.ct(vmid);
        if (c.running) throw pveError(`CT ${vmid} already running`);
        await this.clearRun(c.root);
        await this.writePveFiles(c);
        c.running = true;
        await this.refreshLeases(c);
        // Boot: the sim-boot stub starts enabled units (systemd) or runlevel services (OpenRC).
        const r = await this.exec(vmid, [`${STUB_BIN}/sim-boot`]);
        if (r.code !== 0) {
            await fs.appendFile(path.join(c.root, "var/log/sim/boot.log"), r.stderr).catch(() => undefined);
        }
    }

    async stop(vmid: number): Promise<void> {
        const c = this.ct(vmid);
        if (!c.running) throw pveError(`CT ${vmid} not running`);
        this.killAll(c.procs);
        c.running = false;
        await this.clearRun(c.root);
    }

    async shutdown(vmid: number, timeoutMs: number): Promise<void> {
        const c = this.ct(vmid);
        if (!c.running) throw pveError(`CT ${vmid} not running`);
        const seconds = Math.max(1, Math.round(timeoutMs / 1000));
        const failure = pveError(`command 'lxc-stop -n ${vmid} --nokill --timeout ${seconds}' failed: exit code 1`);
        if (this.faults.hangShutdown.has(vmid)) {
            await new Promise((resolve) => setTimeout(resolve, timeoutMs));
            throw failure;
        }
        const r = await this.exec(vmid, [`${STUB_BIN}/sim-shutdown`], { timeoutMs });
        if (r.code === 124) throw failure;
        this.killAll(c.procs);
        c.running = false;
        await this.clearRun(c.root);
    }

    async isRunning(vmid: number): Promise<boolean> {
        return this.cts.get(vmid)?.running ?? false;
    }

    async updateNics(vmid: number, nics: BackendNic[]): Promise<void> {
        const c = this.ct(vmid);
        for (const old of c.spec.nics) {
            const kept = nics.find(
                (n) => n.hwaddr.toUpperCase() === old.hwaddr.toUpperCase() && n.bridge === old.bridge,
            );
            if (!kept || kept.ip !== "dhcp") this.leases.delete(leaseKey(old.bridge, old.hwaddr));
        }
        c.spec = { ...c.spec, nics: nics.map((n) => ({ ...n })) };
        await this.writePveFiles(c);
        if (c.running) await this.refreshLeases(c);
    }

    async interfaces(vmid: number): Promise<BackendInterfaceAddress[]> {
        const c = this.ct(vmid);
        // PVE returns nothing for a stopped container (there is no network namespace to ask).
        if (!c.running) return [];
        await this.refreshLeases(c);
        const out: BackendInterfaceAddress[] = [
            { name: "lo", hwaddr: "00:00:00:00:00:00", inet: "127.0.0.1/8", inet6: "::1/128" },
        ];
        for (const nic of [...c.spec.nics].sort((a, b) => a.name.localeCompare(b.name))) {
            const entry: BackendInterfaceAddress = {
                name: nic.name,
                hwaddr: nic.hwaddr.toLowerCase(),
                inet6: linkLocalFromMac(nic.hwaddr),
            };
            const inet = this.nicAddress(nic);
            if (inet) entry.inet = inet;
            out.push(entry);
        }
        return out;
    }

    async exec(vmid: number, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
        const run = await this.startExec(vmid, argv, { env: opts.env, timeoutMs: opts.timeoutMs });
        run.stdin.on("error", () => undefined);
        run.stdin.end(opts.stdin ?? Buffer.alloc(0));
        return run.done;
    }

    async hostExec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
        const run = await this.startExec(null, argv, { env: opts.env, timeoutMs: opts.timeoutMs });
        run.stdin.on("error", () => undefined);
        run.stdin.end(opts.stdin ?? Buffer.alloc(0));
        return run.done;
    }

    /**
     * Starts `argv` in a container (`vmid`) or on the host (`null`) and returns at once, so stdin can be streamed
     * (the SSH server feeds channel data as it arrives). Not part of ContainerBackend; the SSH server uses it when
     * present and falls back to the buffered exec/hostExec otherwise.
     */
    async startExec(vmid: number | null, argv: string[], opts: StartExecOptions = {}): Promise<RunningExec> {
        if (this.closed) throw new Error("ChrootBackend is closed");
        if (vmid === null) {
            await this.init();
        } else {
            const c = this.ct(vmid);
            if (!c.running) throw pveError(`container '${vmid}' not running!`);
        }
        const root = vmid === null ? this.hostRoot : this.ct(vmid).root;
        const procs = vmid === null ? this.hostProcs : this.ct(vmid).procs;
        // Inside the root: report a missing program the way lxc-attach does (it execvp()s argv directly).
        const wrapper =
            'id="$1"; shift; cd / || exit 1; ' +
            'case "$1" in */*) [ -x "$1" ] && [ ! -d "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac || { ' +
            'printf \'lxc-attach: %s: ../src/lxc/attach.c: lxc_attach_run_command: 1841 No such file or directory - Failed to exec "%s"\\n\' "$id" "$1" >&2; exit 127; }; ' +
            'exec "$@"';
        const inner = [this.chrootBin, root, "/bin/sh", "-c", wrapper, "lxc-attach", String(vmid ?? "host"), ...argv];
        const privs = this.setprivBin
            ? [this.setprivBin, "--bounding-set", DROPPED_CAPS.map((c) => `-${c}`).join(","), "--", ...inner]
            : inner;
        const nsFlags = ["--net", "--mount", "--pid", "--uts", "--ipc", "--fork", "--kill-child"];
        let args: string[];
        if (this.isRoot) {
            args = [...nsFlags, "--", ...privs];
        } else {
            // Unprivileged fallback: a user namespace maps us to root inside; chown to other ids fails there.
            const binds = DEVICES.map(([d]) => `mount --bind /dev/${d} "$R/dev/${d}"`).join(" && ");
            args = [
                "--user",
                "--map-root-user",
                ...nsFlags,
                "--",
                "/bin/sh",
                "-c",
                `${binds} && exec "$@"`,
                "sh",
                ...privs,
            ];
        }
        const env: Record<string, string> = {
            PATH: SIM_PATH,
            HOME: "/root",
            LANG: "C",
            ...(this.isRoot ? {} : { R: root }),
            ...(opts.env ?? {}),
        };
        const child = spawn(this.unshareBin, args, { env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
        procs.add(child);
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (b: Buffer) => {
            out.push(b);
            opts.onStdout?.(b);
        });
        child.stderr.on("data", (b: Buffer) => {
            err.push(b);
            opts.onStderr?.(b);
        });
        child.stdin.on("error", () => undefined);
        const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
        let timedOut = false;
        const kill = (): void => {
            try {
                if (child.pid) process.kill(-child.pid, "SIGKILL");
            } catch {
                // already gone
            }
        };
        const timer = setTimeout(() => {
            timedOut = true;
            kill();
        }, timeoutMs);
        const done = new Promise<ExecResult>((resolve) => {
            const finish = (code: number | null, signal: NodeJS.Signals | null, extra?: string): void => {
                clearTimeout(timer);
                procs.delete(child);
                if (timedOut) err.push(Buffer.from(`pve-sim: command timed out after ${timeoutMs} ms\n`));
                if (extra) err.push(Buffer.from(extra));
                const exit = timedOut ? 124 : (code ?? (signal ? 128 + (os.constants.signals[signal] ?? 9) : 1));
                resolve({ code: exit, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
            };
            child.on("error", (e) => finish(127, null, `pve-sim: ${e.message}\n`));
            child.on("close", (code, signal) => finish(code, signal));
        });
        return { stdin: child.stdin, done, kill };
    }

    async push(vmid: number, p: string, data: Buffer, opts: PushOptions = {}): Promise<void> {
        const c = this.ct(vmid);
        if (!c.running) throw pveError("can only push files to a running CT");
        let uid: number | undefined;
        let gid: number | undefined;
        if (opts.user !== undefined) {
            uid = /^\d+$/.test(opts.user) ? Number(opts.user) : await this.lookupId(c.root, "passwd", opts.user);
            if (uid === undefined) throw pveError(`failed to get uid for: ${opts.user}`);
        }
        if (opts.group !== undefined) {
            gid = /^\d+$/.test(opts.group) ? Number(opts.group) : await this.lookupId(c.root, "group", opts.group);
            if (gid === undefined) throw pveError(`failed to get gid for: ${opts.group}`);
        }
        let mode: number | undefined;
        if (opts.perms !== undefined) {
            // pct: octal unless prefixed 0x, parsed with strtoul(perms, 0) after prepending a 0.
            const s = opts.perms.startsWith("0") ? opts.perms : `0${opts.perms}`;
            const m = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s.slice(2), 16) : /^0[0-7]*$/.test(s) ? parseInt(s, 8) : NaN;
            if (Number.isNaN(m) || opts.perms === "") throw pveError(`invalid mode: '${opts.perms}'`);
            mode = m;
        }
        let target: string;
        try {
            target = await resolveInRoot(c.root, p, { followLast: true, allowMissingLast: true });
            const parent = await fs.stat(path.dirname(target));
            if (!parent.isDirectory()) throw fsError("ENOTDIR");
        } catch (e) {
            throw pveError(`failed to create file: ${p}: ${errnoText(errCode(e))}`);
        }
        let existed = true;
        try {
            const st = await fs.stat(target);
            if (st.isDirectory()) throw pveError(`failed to create file: ${p}: Is a directory`);
        } catch (e) {
            if (errCode(e) !== "ENOENT") throw e;
            existed = false;
        }
        const fh = await fs.open(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC, 0o644);
        try {
            // A new file without --perms gets 0666 & ~umask(022); an existing one keeps its mode unless told.
            if (mode !== undefined) await fh.chmod(mode);
            else if (!existed) await fh.chmod(0o644);
            if (uid !== undefined || gid !== undefined) {
                const st = await fh.stat();
                await fh.chown(uid ?? st.uid, gid ?? st.gid);
            }
            await fh.writeFile(data);
        } finally {
            await fh.close();
        }
    }

    async pull(vmid: number, p: string): Promise<Buffer> {
        const c = this.ct(vmid);
        if (!c.running) throw pveError("can only pull files from a running VM");
        try {
            const target = await resolveInRoot(c.root, p, { followLast: true, allowMissingLast: false });
            return await fs.readFile(target);
        } catch (e) {
            throw pveError(`failed to open ${p}: ${errnoText(errCode(e))}`);
        }
    }

    async applyBridges(bridges: HostBridge[]): Promise<void> {
        await this.init();
        this.bridges = bridges.map((b) => ({ ...b }));
        const file = path.join(this.hostRoot, "etc/network/interfaces");
        const current = await fs.readFile(file, "utf8").catch(() => "");
        await fs.writeFile(file, renderHostInterfaces(current, this.bridges));
        await this.writeHostNet();
        // PVE's apply is `ifreload -a`, which also (re)runs the stanzas' up/post-up commands.
        await this.hostExec(["ifreload", "-a"]);
    }

    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        for (const c of this.cts.values()) this.killAll(c.procs);
        this.killAll(this.hostProcs);
        if (this.ownsStateDir) await fs.rm(this.stateDir, { recursive: true, force: true }).catch(() => undefined);
    }

    // ---- internals ----

    private ct(vmid: number): CtState {
        const c = this.cts.get(vmid);
        if (!c) throw missingConfig(vmid);
        return c;
    }

    private killAll(procs: Set<ChildProcess>): void {
        for (const p of procs) {
            try {
                if (p.pid) process.kill(-p.pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
        procs.clear();
    }

    private nicAddress(nic: BackendNic): string | undefined {
        if (nic.ip === "dhcp") return this.leases.get(leaseKey(nic.bridge, nic.hwaddr));
        return cidrAddress(nic.ip) ? nic.ip : undefined;
    }

    private async refreshLeases(c: CtState): Promise<void> {
        let changed = false;
        for (const nic of c.spec.nics) {
            if (nic.ip !== "dhcp" || this.leases.has(leaseKey(nic.bridge, nic.hwaddr))) continue;
            const lease = await this.leaseProvider({ vmid: c.spec.vmid, nic }, this.leaseContext());
            if (lease) {
                this.leases.set(leaseKey(nic.bridge, nic.hwaddr), lease);
                changed = true;
            }
        }
        if (changed || c.running) await this.writeNetState(c);
    }

    private leaseContext(): LeaseContext {
        const containers: LeaseContainerView[] = [...this.cts.values()].map((c) => ({
            vmid: c.spec.vmid,
            running: c.running,
            nics: c.spec.nics.map((n) => ({ ...n })),
            readFile: async (p) => {
                try {
                    return await fs.readFile(
                        await resolveInRoot(c.root, p, { followLast: true, allowMissingLast: false }),
                        "utf8",
                    );
                } catch {
                    return undefined;
                }
            },
            listDir: async (p) => {
                try {
                    const dir = await resolveInRoot(c.root, p, { followLast: true, allowMissingLast: false });
                    const entries = await fs.readdir(dir, { withFileTypes: true });
                    return entries.filter((e) => e.isFile()).map((e) => e.name);
                } catch {
                    return [];
                }
            },
        }));
        return { containers, leases: this.leases };
    }

    /** /run/sim/net/ifaces: what the `ip` stub prints (name hwaddr cidr|- gw|- mtu bridge). */
    private async writeNetState(c: CtState): Promise<void> {
        const lines = c.spec.nics.map((n) => {
            const cidr = this.nicAddress(n) ?? "-";
            return `${n.name} ${n.hwaddr.toLowerCase()} ${cidr} ${n.gw ?? "-"} ${n.mtu ?? 1500} ${n.bridge}`;
        });
        const dir = path.join(c.root, "run/sim/net");
        await fs.mkdir(dir, { recursive: true });
        await fs.writeFile(path.join(dir, "ifaces"), lines.join("\n") + (lines.length ? "\n" : ""));
    }

    private async writeHostNet(): Promise<void> {
        const lines = this.bridges.map((b) => {
            const mac = `bc:24:11:00:00:${(Number(b.name.replace(/\D/g, "")) % 256).toString(16).padStart(2, "0")}`;
            const gw = b.name === MGMT_BRIDGE ? "192.168.1.1" : "-";
            return `${b.name} ${mac} ${b.cidr ?? "-"} ${gw} ${b.mtu ?? 1500} -`;
        });
        const dir = path.join(this.hostRoot, "run/sim/net");
        await fs.mkdir(dir, { recursive: true });
        await fs.writeFile(path.join(dir, "ifaces"), lines.join("\n") + "\n");
    }

    private async clearRun(root: string): Promise<void> {
        const run = path.join(root, "run");
        for (const e of await fs.readdir(run).catch(() => [] as string[])) {
            await fs.rm(path.join(run, e), { recursive: true, force: true });
        }
        await fs.mkdir(path.join(run, "sim"), { recursive: true });
        await fs.mkdir(path.join(run, "lock"), { recursive: true });
    }

    private async lookupId(root: string, db: "passwd" | "group", name: string): Promise<number | undefined> {
        const text = await fs.readFile(path.join(root, "etc", db), "utf8").catch(() => "");
        for (const line of text.split("\n")) {
            const f = line.split(":");
            if (f[0] === name && f.length >= 3) return Number(f[2]);
        }
        return undefined;
    }

    /** What PVE's setup code writes on create and at every start: network, hostname, hosts, resolv.conf. */
    private async writePveFiles(c: CtState): Promise<void> {
        const { spec, root } = c;
        const etc = path.join(root, "etc");
        await fs.mkdir(path.join(etc, "network"), { recursive: true });
        await fs.writeFile(path.join(etc, "network/interfaces"), renderContainerInterfaces(spec.nics));
        const namepart = spec.hostname.replace(/\..*$/, "") || "localhost";
        await fs.writeFile(path.join(etc, "hostname"), `${namepart}\n`);
        const { search, nameservers } = await this.dnsFor(spec);
        const first = [...spec.nics].sort((a, b) => a.name.localeCompare(b.name))[0];
        const hostIp = cidrAddress(spec.nics.find((n) => n.name === "eth0")?.ip ?? first?.ip);
        let names: string;
        if (spec.hostname.includes(".")) names = `${spec.hostname} ${namepart}`;
        else names = [...search.map((d) => `${spec.hostname}.${d}`), spec.hostname].join(" ");
        const hostsLine = hostIp ? `${hostIp} ${names}\n` : `127.0.1.1 ${namepart}\n`;
        await fs.writeFile(
            path.join(etc, "hosts"),
            pveSection(`127.0.0.1 localhost.localnet localhost\n::1 localhost.localnet localhost\n${hostsLine}`),
        );
        let resolv = search.length ? `search ${search.join(" ")}\n` : "";
        for (const ns of nameservers) resolv += `nameserver ${ns}\n`;
        await fs.writeFile(path.join(etc, "resolv.conf"), pveSection(resolv));
        if (c.running) await this.writeNetState(c);
    }

    /** nameserver/searchdomain from the CT config, else the host's resolv.conf (as PVE does). */
    private async dnsFor(spec: BackendContainerSpec): Promise<{ search: string[]; nameservers: string[] }> {
        const host = await fs.readFile(path.join(this.hostRoot, "etc/resolv.conf"), "utf8").catch(() => "");
        const hostNs = [...host.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]).slice(0, 3);
        const hostSearch = /^search\s+(.*)$/m.exec(host)?.[1].trim().split(/\s+/) ?? [];
        const split = (s: string): string[] => s.split(/[\s,;]+/).filter(Boolean);
        return {
            search: spec.searchdomain !== undefined ? split(spec.searchdomain) : hostSearch,
            nameservers: spec.nameserver !== undefined ? split(spec.nameserver) : hostNs,
        };
    }

    private async writeOsRelease(root: string, spec: BackendContainerSpec): Promise<void> {
        const etc = path.join(root, "etc");
        const tpl = spec.ostemplate;
        if (spec.ostype === "alpine") {
            const v = /alpine-(\d+)\.(\d+)/.exec(tpl);
            const [maj, min] = v ? [v[1], v[2]] : ["3", "22"];
            await fs.writeFile(path.join(etc, "alpine-release"), `${maj}.${min}.0\n`);
            await fs.writeFile(path.join(etc, "os-release"), alpineOsRelease(`${maj}.${min}`));
            return;
        }
        const v = /debian-(\d+)-[a-z]+_(\d+(?:\.\d+)?)/.exec(tpl);
        const major = v?.[1] ?? "13";
        const full = v?.[2] ?? `${major}.1`;
        await fs.writeFile(path.join(etc, "debian_version"), `${full.includes(".") ? full : `${full}.0`}\n`);
        await fs.writeFile(path.join(etc, "os-release"), debianOsRelease(major, full));
    }

    private async makeDevices(root: string): Promise<void> {
        const dev = path.join(root, "dev");
        await fs.mkdir(dev, { recursive: true });
        for (const [name, major, minor] of DEVICES) {
            const p = path.join(dev, name);
            await fs.rm(p, { force: true });
            if (this.isRoot) {
                const r = spawnSync("mknod", ["-m", "666", p, "c", String(major), String(minor)]);
                if (r.status !== 0) throw new Error(`mknod ${p} failed: ${r.stderr.toString()}`);
            } else {
                // Unprivileged: an empty file that startExec bind-mounts the host's device onto.
                await fs.writeFile(p, "");
            }
        }
        await fs.mkdir(path.join(dev, "pts"), { recursive: true });
        await fs.mkdir(path.join(dev, "shm"), { recursive: true, mode: 0o1777 });
        await fs.symlink("/proc/self/fd", path.join(dev, "fd")).catch(() => undefined);
    }

    private async buildHost(): Promise<void> {
        await fs.mkdir(this.stateDir, { recursive: true });
        if (!this.ownsStateDir && (await exists(path.join(this.hostRoot, "etc/passwd")))) {
            // A caller-owned state dir keeps the node's files across restarts (the dev stack); refresh the stubs.
            await this.refreshSimFiles(this.hostRoot, "host");
        } else {
            await fs.rm(this.hostRoot, { recursive: true, force: true });
            await cloneTree(await this.template("host"), this.hostRoot);
        }
        await this.makeDevices(this.hostRoot);
        await this.writeHostNet();
    }

    /** Replaces /usr/lib/pve-sim in an existing root with the current template's (stub updates). */
    private async refreshSimFiles(root: string, flavor: Flavor): Promise<void> {
        const lib = path.join(root, "usr/lib/pve-sim");
        await fs.rm(lib, { recursive: true, force: true });
        await fs.cp(path.join(await this.template(flavor), "usr/lib/pve-sim"), lib, {
            recursive: true,
            verbatimSymlinks: true,
        });
    }

    private template(flavor: Flavor): Promise<string> {
        let t = this.templates.get(flavor);
        if (!t) {
            t = this.buildTemplate(flavor);
            this.templates.set(flavor, t);
        }
        return t;
    }

    private async buildTemplate(flavor: Flavor): Promise<string> {
        const root = path.join(this.stateDir, "template", flavor);
        await fs.rm(root, { recursive: true, force: true });
        const mk = (p: string, mode = 0o755): Promise<string | undefined> =>
            fs.mkdir(path.join(root, p), { recursive: true, mode });
        const merged = flavor !== "alpine";
        for (const d of ["usr/bin", "usr/sbin", "usr/lib", "usr/local/bin", "usr/local/sbin", "usr/share"]) await mk(d);
        if (merged) {
            // Debian ≥ 12 is merged-/usr: /bin, /sbin, /lib are links into /usr.
            await mk("usr/lib64");
            for (const d of ["bin", "sbin", "lib", "lib64"]) await fs.symlink(`usr/${d}`, path.join(root, d));
        } else {
            for (const d of ["bin", "sbin", "lib"]) await mk(d);
        }
        for (const d of ["etc", "home", "opt", "srv", "mnt", "media", "var/log", "var/lib", "var/cache", "var/spool"]) {
            await mk(d);
        }
        for (const d of ["proc", "sys", "run", "dev"]) await mk(d);
        await mk("root", 0o700);
        await mk("tmp", 0o1777);
        await mk("var/tmp", 0o1777);
        await fs.chmod(path.join(root, "tmp"), 0o1777);
        await fs.chmod(path.join(root, "var/tmp"), 0o1777);
        await fs.symlink("../run", path.join(root, "var/run"));

        // busybox and its applets (applets the stubs replace are left out).
        await fs.copyFile(this.busybox, path.join(root, "bin/busybox"));
        await fs.chmod(path.join(root, "bin/busybox"), 0o755);
        const list = spawnSync(this.busybox, ["--list-full"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
        for (const rel of list) {
            const name = path.basename(rel);
            if (EXCLUDED_APPLETS.has(name) || name === "busybox") continue;
            const dst = path.join(root, rel);
            await fs.mkdir(path.dirname(dst), { recursive: true });
            await fs.symlink("/bin/busybox", dst).catch(() => undefined);
        }
        // /bin/sh is dash (Debian's real /bin/sh). Debian's busybox-static runs its own applets before PATH
        // lookups (FEATURE_SH_STANDALONE), which would bypass the stubs; dash honours PATH.
        const hostTools: [string, string][] = [
            ["dash", "/usr/bin/dash"],
            ["getent", "/usr/bin/getent"],
            ["flock", "/usr/bin/flock"],
            ["nohup", "/usr/bin/nohup"],
            ["install", "/usr/bin/install"],
        ];
        if (flavor !== "alpine") hostTools.push(["bash", "/usr/bin/bash"]);
        for (const [tool, dst] of hostTools) {
            const src = which(tool);
            if (!src) continue;
            await this.copyHostBinary(root, src, dst);
        }
        const hasDash = await exists(path.join(root, "usr/bin/dash"));
        await fs.rm(path.join(root, "bin/sh"), { force: true });
        await fs.symlink(hasDash ? "/usr/bin/dash" : "/bin/busybox", path.join(root, "bin/sh"));

        await this.installStubs(root, flavor);
        await this.writeBaseEtc(root, flavor);
        return root;
    }

    private async copyHostBinary(root: string, src: string, dst: string): Promise<void> {
        const real = await fs.realpath(src);
        await fs.mkdir(path.dirname(path.join(root, dst)), { recursive: true });
        await fs.copyFile(real, path.join(root, dst));
        await fs.chmod(path.join(root, dst), 0o755);
        for (const lib of sharedLibs(real)) {
            const target = path.join(root, lib);
            if (await exists(target)) continue;
            await fs.mkdir(path.dirname(target), { recursive: true });
            await fs.copyFile(await fs.realpath(lib), target);
        }
    }

    private async installStubs(root: string, flavor: Flavor): Promise<void> {
        const lib = path.join(root, "usr/lib/pve-sim");
        await fs.mkdir(path.join(lib, "bin"), { recursive: true });
        await fs.writeFile(path.join(lib, "os"), `${flavor === "alpine" ? "alpine" : "debian"}\n`);
        await fs.writeFile(path.join(lib, "scope"), `${flavor === "host" ? "host" : "container"}\n`);
        await fs.copyFile(path.join(this.stubsDir, "lib/sim.sh"), path.join(lib, "sim.sh"));
        for (const sub of ["pkgbin", "packages", "python"]) {
            const src = path.join(this.stubsDir, sub);
            if (await exists(src)) await fs.cp(src, path.join(lib, sub), { recursive: true });
        }
        const linkAt = async (realPath: string, target: string): Promise<void> => {
            const p = path.join(root, realPath);
            await fs.mkdir(path.dirname(p), { recursive: true });
            await fs.rm(p, { force: true });
            await fs.symlink(target, p);
        };
        // Always-present commands: into the stub dir (first on PATH) plus a link at each real location.
        const commands = path.join(this.stubsDir, "commands");
        for (const file of (await fs.readdir(commands)).sort()) {
            // `name@os` files are OS-specific variants of `name`.
            const [name, variant] = file.split("@");
            if (variant && !osAllows([variant], flavor)) continue;
            const text = await fs.readFile(path.join(commands, file), "utf8");
            if (!osAllows(stubHeader(text, "os"), flavor)) continue;
            await fs.writeFile(path.join(lib, "bin", name), text, { mode: 0o755 });
            for (const real of stubHeader(text, "path")) await linkAt(real, `${STUB_BIN}/${name}`);
        }
        // Package commands: installed by package hooks, or present from the start where the template ships them.
        for (const name of (await fs.readdir(path.join(lib, "pkgbin")).catch(() => [] as string[])).sort()) {
            const src = path.join(lib, "pkgbin", name);
            await fs.chmod(src, 0o755);
            const text = await fs.readFile(src, "utf8");
            const pre = stubHeader(text, "preinstalled");
            if (pre.length === 0 || !osAllows(pre, flavor)) continue;
            for (const real of stubHeader(text, "path")) {
                const dst = path.join(root, real);
                await fs.mkdir(path.dirname(dst), { recursive: true });
                await fs.rm(dst, { force: true });
                await fs.copyFile(src, dst);
                await fs.chmod(dst, 0o755);
            }
        }
        for (const link of await fs.readdir(path.join(lib, "bin"))) {
            // Keep the stub dir's own entries executable after the copy above.
            await fs.chmod(path.join(lib, "bin", link), 0o755);
        }
    }

    private async writeBaseEtc(root: string, flavor: Flavor): Promise<void> {
        const write = async (p: string, text: string, mode = 0o644): Promise<void> => {
            await fs.mkdir(path.dirname(path.join(root, p)), { recursive: true });
            await fs.writeFile(path.join(root, p), text, { mode });
        };
        await write("etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n");
        await write("etc/shells", "/bin/sh\n/usr/bin/sh\n/bin/bash\n/usr/bin/bash\n/bin/dash\n/usr/bin/dash\n");
        await write("etc/sim-template", `${flavor}\n`);
        await fs.mkdir(path.join(root, "var/lib/sim/packages"), { recursive: true });
        await fs.mkdir(path.join(root, "var/lib/sim/downloads"), { recursive: true });
        await fs.mkdir(path.join(root, "var/log/sim"), { recursive: true });
        if (flavor === "alpine") {
            await write("etc/passwd", ALPINE_PASSWD);
            await write("etc/group", ALPINE_GROUP);
            await write("etc/shadow", shadowFor(ALPINE_PASSWD), 0o640);
            await write(
                "etc/apk/repositories",
                "http://dl-cdn.alpinelinux.org/alpine/v3.22/main\nhttp://dl-cdn.alpinelinux.org/alpine/v3.22/community\n",
            );
            await write("etc/apk/world", ALPINE_BASE_PACKAGES.join("\n") + "\n");
            for (const d of ["sysinit", "boot", "default", "shutdown", "nonetwork"]) {
                await fs.mkdir(path.join(root, "etc/runlevels", d), { recursive: true });
            }
            for (const d of ["etc/init.d", "etc/conf.d", "etc/sysctl.d", "etc/local.d"]) {
                await fs.mkdir(path.join(root, d), { recursive: true });
            }
            await write("etc/os-release", alpineOsRelease("3.22"));
            await write("etc/alpine-release", "3.22.0\n");
            await this.recordBasePackages(root, ALPINE_BASE_PACKAGES);
        } else {
            await write("etc/passwd", DEBIAN_PASSWD);
            await write("etc/group", DEBIAN_GROUP);
            await write("etc/shadow", shadowFor(DEBIAN_PASSWD), 0o640);
            await write(
                "etc/gshadow",
                DEBIAN_GROUP.split("\n")
                    .filter(Boolean)
                    .map((l) => `${l.split(":")[0]}:*::`)
                    .join("\n") + "\n",
                0o640,
            );
            for (const d of [
                "etc/apt/apt.conf.d",
                "etc/apt/sources.list.d",
                "etc/apt/preferences.d",
                "etc/systemd/system/multi-user.target.wants",
                "usr/lib/systemd/system",
                "etc/sysctl.d",
                "usr/lib/sysctl.d",
                "etc/default",
                "etc/ssl/certs",
                "etc/ssl/private",
                "usr/local/share/ca-certificates",
                "usr/share/ca-certificates",
                "var/lib/apt/lists",
                "var/lib/dpkg",
                "etc/cron.d",
            ]) {
                await fs.mkdir(path.join(root, d), { recursive: true });
            }
            await write(
                "etc/apt/sources.list.d/debian.sources",
                "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\nComponents: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
            );
            await write("etc/locale.gen", "# en_US.UTF-8 UTF-8\n# de_DE.UTF-8 UTF-8\n");
            await write("etc/default/locale", "");
            await write("etc/ssl/certs/ca-certificates.crt", "");
            await write("etc/os-release", debianOsRelease("13", "13.1"));
            await write("etc/debian_version", "13.1\n");
            // Units the standard template ships enabled.
            for (const [unit, exec, desc] of [
                ["ssh.service", "/usr/sbin/sshd -D", "OpenBSD Secure Shell server"],
                ["cron.service", "/usr/sbin/cron -f", "Regular background program processing daemon"],
                ["postfix.service", "/bin/true", "Postfix Mail Transport Agent"],
            ]) {
                await write(
                    `usr/lib/systemd/system/${unit}`,
                    `[Unit]\nDescription=${desc}\n\n[Service]\nExecStart=${exec}\n\n[Install]\nWantedBy=multi-user.target\n`,
                );
                await fs.symlink(
                    `/usr/lib/systemd/system/${unit}`,
                    path.join(root, "etc/systemd/system/multi-user.target.wants", unit),
                );
            }
            for (const bin of ["usr/sbin/sshd", "usr/sbin/cron"]) {
                await write(
                    bin,
                    "#!/bin/sh\n# pve-sim: daemon placeholder; systemctl only checks it exists\nexit 0\n",
                    0o755,
                );
            }
            await this.recordBasePackages(root, flavor === "host" ? HOST_BASE_PACKAGES : DEBIAN_BASE_PACKAGES);
        }
        if (flavor === "host") await this.writeHostEtc(root);
    }

    private async recordBasePackages(root: string, pkgs: string[]): Promise<void> {
        for (const p of pkgs) {
            await fs.writeFile(path.join(root, "var/lib/sim/packages", p), "Version: 0-template\n");
        }
    }

    private async writeHostEtc(root: string): Promise<void> {
        const write = async (p: string, text: string): Promise<void> => {
            await fs.mkdir(path.dirname(path.join(root, p)), { recursive: true });
            await fs.writeFile(path.join(root, p), text);
        };
        await write("etc/hostname", `${NODE}\n`);
        await write(
            "etc/hosts",
            `127.0.0.1 localhost.localdomain localhost\n192.168.1.10 ${NODE}.lan ${NODE}\n\n::1 ip6-localhost ip6-loopback\n`,
        );
        await write("etc/resolv.conf", "search lan\nnameserver 192.168.1.1\n");
        await write("etc/network/interfaces", INITIAL_HOST_INTERFACES);
        await fs.mkdir(path.join(root, "etc/network/interfaces.d"), { recursive: true });
        await fs.mkdir(path.join(root, `etc/pve/nodes/${NODE}/lxc`), { recursive: true });
        await fs.symlink(`nodes/${NODE}/lxc`, path.join(root, "etc/pve/lxc"));
        for (const d of ["etc/iptables", "etc/sysctl.d", "var/lib/vz/template/cache", "etc/pve/priv"]) {
            await fs.mkdir(path.join(root, d), { recursive: true });
        }
    }
}

function fsSyncMkdtemp(): string {
    // Constructors cannot await; a synchronous mkdtemp is fine for a one-off directory.
    return mkdtempSync(path.join(os.tmpdir(), "pve-sim-"));
}

/**
 * Copies a template tree: big files (busybox, libc, bash: immutable in practice) become hard links, everything else
 * a private copy, so one container's edits never show up in another. Several times faster than a full copy.
 */
async function cloneTree(src: string, dst: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
        const cp = spawn("cp", ["-al", src, dst], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        cp.stderr.on("data", (b: Buffer) => (err += b.toString()));
        cp.on("error", reject);
        cp.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`cp -al ${src} ${dst}: ${err}`))));
    });
    const walk = async (dir: string): Promise<void> => {
        for (const e of await fs.readdir(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name);
            if (e.isDirectory()) {
                await walk(p);
            } else if (e.isFile()) {
                const st = await fs.stat(p);
                if (st.size >= 128 * 1024) continue;
                const tmp = `${p}.sim-clone`;
                await fs.copyFile(p, tmp);
                await fs.chmod(tmp, st.mode & 0o7777);
                await fs.rename(tmp, p);
            }
        }
    };
    await walk(dst);
}

async function exists(p: string): Promise<boolean> {
    try {
        await fs.lstat(p);
        return true;
    } catch {
        return false;
    }
}

function debianOsRelease(major: string, full: string): string {
    const code = DEBIAN_CODENAMES[major] ?? "trixie";
    return [
        `PRETTY_NAME="Debian GNU/Linux ${major} (${code})"`,
        'NAME="Debian GNU/Linux"',
        `VERSION_ID="${major}"`,
        `VERSION="${major} (${code})"`,
        `VERSION_CODENAME=${code}`,
        `DEBIAN_VERSION_FULL=${full}`,
        "ID=debian",
        'HOME_URL="https://www.debian.org/"',
        'SUPPORT_URL="https://www.debian.org/support"',
        'BUG_REPORT_URL="https://bugs.debian.org/"',
        "",
    ].join("\n");
}

function alpineOsRelease(version: string): string {
    return [
        'NAME="Alpine Linux"',
        "ID=alpine",
        `VERSION_ID=${version}.0`,
        `PRETTY_NAME="Alpine Linux v${version}"`,
        'HOME_URL="https://alpinelinux.org/"',
        'BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"',
        "",
    ].join("\n");
}

function shadowFor(passwd: string): string {
    return (
        passwd
            .split("\n")
            .filter(Boolean)
            .map((l) => `${l.split(":")[0]}:${l.startsWith("root:") ? "*" : "!*"}:20000:0:99999:7:::`)
            .join("\n") + "\n"
    );
}

const DEBIAN_PASSWD = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
messagebus:x:990:990:System Message Bus:/nonexistent:/usr/sbin/nologin
sshd:x:989:65534:sshd user:/run/sshd:/usr/sbin/nologin
postfix:x:100:102::/var/spool/postfix:/usr/sbin/nologin
`;

const DEBIAN_GROUP = `root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
news:x:9:
uucp:x:10:
man:x:12:
proxy:x:13:
kmem:x:15:
dialout:x:20:
cdrom:x:24:
sudo:x:27:
audio:x:29:
www-data:x:33:
backup:x:34:
operator:x:37:
list:x:38:
irc:x:39:
src:x:40:
shadow:x:42:
utmp:x:43:
video:x:44:
plugdev:x:46:
staff:x:50:
games:x:60:
users:x:100:
postfix:x:102:
postdrop:x:103:
systemd-journal:x:999:
systemd-network:x:998:
messagebus:x:990:
ssl-cert:x:101:
nogroup:x:65534:
`;

const ALPINE_PASSWD = `root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
`;

const ALPINE_GROUP = `root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin
adm:x:4:root,daemon
tty:x:5:
disk:x:6:root
lp:x:7:lp
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
cron:x:16:cron
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
tape:x:26:root
video:x:27:root
netdev:x:28:
kvm:x:34:kvm
games:x:35:
shadow:x:42:
www-data:x:82:
users:x:100:games
ntp:x:123:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
`;
