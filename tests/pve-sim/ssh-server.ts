/**
 * The simulator's SSH side: an ssh2 server with its own host key that behaves like `sshd` on a PVE node for the
 * commands the providers send. A command line that is exactly `pct exec|push|pull|status ...` is answered here,
 * with pct's messages and exit codes (the container side runs through the ContainerBackend); every other command
 * line runs in the PVE node's own root filesystem via `backend.hostExec(["/bin/sh", "-c", line])`, as sshd would
 * hand it to the login shell. Every command is journaled, and faults (dropped connections, delays, failures) can
 * be injected per command-line pattern.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import type { Writable } from "node:stream";

import { Server, utils, type Connection, type ServerChannel } from "ssh2";

import type { ContainerBackend, ExecResult } from "./backend";
import { channelOutput } from "./channel-output";
import { generateKeyPair } from "./keys";

/** One command the SSH server ran (or refused). Entries are appended when a command arrives, completed at its end. */
export interface SshJournalEntry {
    /** 1, 2, 3... in order of arrival. */
    seq: number;
    /** ISO time of arrival. */
    time: string;
    /** The exec request's command line, exactly as received. */
    command: string;
    /**
     * The command line as shell words when it is a simple command (quotes and backslashes removed); a line with
     * shell operators or expansions (`|`, `;`, `$(...)`, globs, newlines...) is `["/bin/sh", "-c", line]`, which
     * is what runs.
     */
    argv: string[];
    /** The container for `pct exec|push|pull|status`. */
    vmid?: number;
    /** Exit status sent to the client; null while running, or when the connection was dropped before it ran. */
    exitCode: number | null;
    /** False for commands recognised as reads (see {@link isReadOnlyCommand}); true otherwise. */
    changing: boolean;
    /** Set when an injected fault hit this command. */
    fault?: "dropped" | "failed" | "delayed";
    durationMs?: number;
}

/** Matches a command line; `count` is how many more commands it applies to (default 1; Infinity for all). */
export interface SshFaultRule {
    match: RegExp;
    count?: number;
}

/**
 * Faults the SSH server injects. The arrays are live: push rules at any time; a rule is removed once its count is
 * used up. Rules are tested against the raw command line.
 */
export interface SshFaults {
    /**
     * Close the client's TCP connection (no exit status, no SSH disconnect message). `when: "after"` (default) runs
     * the command to completion first, so its effect happened but the client never learns the result; `"before"`
     * drops it without running anything.
     */
    drop?: (SshFaultRule & { when?: "before" | "after" })[];
    /** Wait `ms` before running the command. */
    delay?: (SshFaultRule & { ms: number })[];
    /** Do not run the command; answer with `exitCode` and `stderr`. */
    fail?: (SshFaultRule & { exitCode: number; stderr?: string })[];
}

/** What PVE's API answers (the simulator's in-process API has this shape). */
export interface PctApiResult {
    status: number;
    message?: string;
    data: unknown;
    errors?: Record<string, string>;
}

/** Calls the node's API as root@pam, as the real `pct` does for create/set/start/stop/... */
export type PctApi = (method: string, path: string, params?: Record<string, string>) => Promise<PctApiResult>;

export interface SshServerOptions {
    backend: ContainerBackend;
    /** Whether the container's config exists (pct's first check). */
    hasContainer(vmid: number): boolean;
    /** Whether it runs; default `backend.isRunning`. */
    isRunning?(vmid: number): boolean | Promise<boolean>;
    /**
     * The one public key allowed in (`ssh-ed25519 AAAA... comment`, or any format ssh2 parses). Default: the server
     * generates an ed25519 client key pair and returns its private key as `privateKey`.
     */
    authorizedPublicKey?: string;
    /** The user allowed in; default `root`. */
    user?: string;
    /** Journal array the server appends to; default a new one (returned as `journal`). */
    journal?: SshJournalEntry[];
    faults?: SshFaults;
    /** Port on 127.0.0.1; default a free one. */
    port?: number;
    /** Channels open at once per connection (OpenSSH MaxSessions); default 10. Beyond it channel opens fail. */
    maxSessionsPerConnection?: number;
    /** Host private key (OpenSSH or PEM) to reuse across restarts; default a fresh ed25519 key (or stateDir's). */
    hostKey?: string;
    /** When set, the host key (and a generated client key) are kept in this directory and reused on restart. */
    stateDir?: string;
    /** Per-command timeout (the command is killed, exit 124); default 10 minutes. */
    commandTimeoutMs?: number;
    /** Node name for API paths; default `pve`. */
    node?: string;
    /**
     * The node's API (as root@pam). With it, `pct create|set|config|list|start|stop|shutdown|reboot|destroy`
     * work like the real pct (which calls the same API handlers); without it they fail as not simulated.
     */
    api?: PctApi;
    /** Resolves when a task ends (optional; otherwise the task status is polled through `api`). */
    waitForTask?(upid: string): Promise<unknown> | undefined;
    /** Handler for any other pct subcommand (args after `pct`); used before the "not simulated" error. */
    pctHandler?(args: string[], stdin: Buffer): Promise<ExecResult>;
}

export interface SshServerHandle {
    host: string;
    port: number;
    /** The user allowed in. */
    user: string;
    /** `SHA256:<base64, no padding>`, exactly as `ssh-keygen -lf` prints it. */
    hostKeyFingerprint: string;
    /** `ssh-ed25519 AAAA...` (an OpenSSH public key line, usable in known_hosts after the host). */
    hostPublicKey: string;
    /** The client private key (OpenSSH format) when the server generated it (no authorizedPublicKey given). */
    privateKey?: string;
    /** The client public key line that is allowed in. */
    authorizedPublicKey: string;
    journal: SshJournalEntry[];
    /** The faults object in use (the one passed in, or a fresh one). */
    faults: SshFaults;
    stop(): Promise<void>;
}

/** A command started with streaming stdin (ChrootBackend provides this; other backends get buffered stdin). */
interface StreamingRun {
    stdin: Writable;
    done: Promise<ExecResult>;
    kill(): void;
}

interface StreamingBackend {
    startExec(
        vmid: number | null,
        argv: string[],
        opts: {
            env?: Record<string, string>;
            timeoutMs?: number;
            onStdout?: (b: Buffer) => void;
            onStderr?: (b: Buffer) => void;
        },
    ): Promise<StreamingRun>;
}

function isStreaming(b: ContainerBackend): b is ContainerBackend & StreamingBackend {
    return typeof (b as Partial<StreamingBackend>).startExec === "function";
}

/**
 * Splits a command line into words the way a POSIX shell would for a simple command: whitespace separates words;
 * single quotes are literal; in double quotes a backslash escapes `$`, `` ` ``, `"`, `\` and newline; outside quotes
 * a backslash escapes the next character (backslash-newline joins lines). Returns null when the line needs a real
 * shell: unquoted operators or expansions (`| & ; < > ( ) $ \``), globs (`* ? [`), a leading `~` or `#`, an
 * unquoted newline, a variable assignment before the command, or an unterminated quote.
 */
export function parseCommandLine(line: string): string[] | null {
    const words: string[] = [];
    let cur = "";
    let inWord = false;
    let i = 0;
    const push = (): void => {
        if (inWord) words.push(cur);
        cur = "";
        inWord = false;
    };
    while (i < line.length) {
        const c = line[i];
        if (c === " " || c === "\t") {
            push();
            i++;
            continue;
        }
        if (c === "\\") {
            if (i + 1 >= line.length) return null;
            if (line[i + 1] === "\n") {
                i += 2;
                continue;
            }
            cur += line[i + 1];
            inWord = true;
            i += 2;
            continue;
        }
        if (c === "'") {
            const end = line.indexOf("'", i + 1);
            if (end < 0) return null;
            cur += line.slice(i + 1, end);
            inWord = true;
            i = end + 1;
            continue;
        }
        if (c === '"') {
            i++;
            inWord = true;
            let closed = false;
            while (i < line.length) {
                const d = line[i];
                if (d === '"') {
                    closed = true;
                    i++;
                    break;
                }
                if (d === "$" || d === "`") return null;
                if (d === "\\" && i + 1 < line.length && '$`"\\\n'.includes(line[i + 1])) {
                    if (line[i + 1] !== "\n") cur += line[i + 1];
                    i += 2;
                    continue;
                }
                cur += d;
                i++;
            }
            if (!closed) return null;
            continue;
        }
        if ("|&;<>()$`*?[\n".includes(c)) return null;
        if (!inWord && (c === "#" || c === "~")) return null;
        if (c === "=" && words.length === 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(cur)) return null;
        cur += c;
        inWord = true;
        i++;
    }
    push();
    return words;
}

const SHELLS = new Set(["sh", "bash", "dash", "ash"]);
const READ_PROGRAMS = new Set([
    ...["cat", "head", "tail", "ls", "stat", "test", "[", "sha256sum", "sha1sum", "sha512sum", "md5sum"],
    ...["readlink", "realpath", "id", "getent", "uname", "true", "echo", "printf", "pwd", "whoami", "grep"],
    ...["egrep", "fgrep", "wc", "du", "df", "dpkg-query", "iptables-save", "ip6tables-save", "journalctl"],
    ...["pveversion", "rc-status", "cmp", "diff", "file", "which", "env", "date", "nproc", "free", "uptime"],
]);
const SYSTEMCTL_READS = new Set([
    ...["is-active", "is-enabled", "is-failed", "status", "show", "cat", "list-units", "list-unit-files"],
    ...["is-system-running", "list-timers", "list-dependencies", "--version"],
]);
/** A line `# read-only` (alone on its line) marks a shell script as a read. */
const READ_ONLY_MARKER = /^[ \t]*#[ \t]*read-only[ \t]*$/m;

/**
 * Whether a command only reads, which is how the journal's `changing` flag is set (the e2e tests check that a
 * no-op `pulumi up` issues no changing command). The rule:
 * - `pct status` and `pct pull` read; `pct exec` is judged by its payload, `pct push` changes;
 * - a shell running a script (`sh -c SCRIPT`, or `sh -s` / `sh` with the script on stdin) reads only when the
 *   script has a line that is exactly `# read-only`: providers mark their probe scripts (readFileHash...) so;
 * - other programs read when they are in a fixed list of inspection tools (cat, stat, sha256sum, test, ls, id,
 *   getent, grep...), or are a known tool used only for inspection: `systemctl is-active|is-enabled|status|show...`,
 *   `iptables -C|-S|-L`, `sysctl` without -w/-p/--system/assignments, `ip ... show`, `dpkg -s|-l|-L`,
 *   `rc-service X status`, `apk info`, `pip freeze|list|show`, `hostname` without arguments, `find` without
 *   -delete/-exec, `sed` without -i;
 * - anything else, including any line with shell operators (unless it carries the marker), changes.
 */
export function isReadOnlyCommand(argv: string[], stdinHead: string): boolean {
    if (argv.length === 0) return true;
    const prog = path.basename(argv[0]);
    const args = argv.slice(1);
    if (prog === "pct") {
        const sub = args[0];
        if (sub === "status" || sub === "pull" || sub === "config" || sub === "list") return true;
        if (sub !== "exec") return false;
        const dd = args.indexOf("--");
        return isReadOnlyCommand(dd >= 0 ? args.slice(dd + 1) : args.slice(2), stdinHead);
    }
    if (SHELLS.has(prog)) {
        const c = args.indexOf("-c");
        const script = c >= 0 ? (args[c + 1] ?? "") : stdinHead;
        return READ_ONLY_MARKER.test(script);
    }
    if (READ_PROGRAMS.has(prog)) return true;
    const has = (...flags: string[]): boolean => args.some((a) => flags.includes(a));
    switch (prog) {
        case "systemctl":
            return args.some((a) => SYSTEMCTL_READS.has(a)) && !has("start", "stop", "restart", "enable", "disable");
        case "iptables":
        case "ip6tables":
            return (
                has("-C", "--check", "-S", "--list-rules", "-L", "--list") &&
                !has("-A", "--append", "-I", "--insert", "-D", "--delete", "-F", "--flush", "-N", "-X", "-P", "-R")
            );
        case "sysctl":
            return !has("-w", "--write", "-p", "--load", "--system") && !args.some((a) => a.includes("="));
        case "ip":
            return !args.some((a) =>
                ["add", "del", "delete", "set", "change", "replace", "flush", "append"].includes(a),
            );
        case "dpkg":
            return has("-s", "--status", "-l", "--list", "-L", "--listfiles", "--print-architecture");
        case "rc-service":
            return args[args.length - 1] === "status" || has("-e", "--exists", "-l", "--list");
        case "apk":
            return args[0] === "info";
        case "pip":
        case "pip3":
            return ["freeze", "list", "show"].includes(args[0] ?? "");
        case "hostname":
            return args.every((a) => a.startsWith("-"));
        case "find":
            return !has("-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprintf", "-fls");
        case "sed":
            return !args.some(
                (a) => a === "-i" || a.startsWith("-i") || a === "--in-place" || a.startsWith("--in-place="),
            );
        default:
            return false;
    }
}

/** `SHA256:...` of an OpenSSH public key line, as `ssh-keygen -lf` prints it. */
export function sshFingerprint(publicKeyLine: string): string {
    const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? "", "base64");
    return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

const PCT_SUPPORTED = "exec, push, pull, status";
const PCT_SUPPORTED_API = `${PCT_SUPPORTED}, create, set, config, list, start, stop, shutdown, reboot, destroy`;

function result(code: number, stderr = "", stdout = ""): ExecResult {
    return { code, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr) };
}

function takeRule<T extends SshFaultRule>(rules: T[] | undefined, line: string): T | undefined {
    if (!rules) return undefined;
    const idx = rules.findIndex((r) => {
        r.match.lastIndex = 0;
        return r.match.test(line);
    });
    if (idx < 0) return undefined;
    const rule = rules[idx];
    const left = (rule.count ?? 1) - 1;
    if (left <= 0) rules.splice(idx, 1);
    else rule.count = left;
    return rule;
}

/**
 * `--name value` / `--name=value` options and positionals, as PVE's CLI parser accepts them (`known` null: any
 * option; a flag followed by another option or nothing is a boolean `1`).
 */
function parseOpts(
    args: string[],
    known: string[] | null,
): { pos: string[]; opts: Record<string, string>; bad?: string } {
    const pos: string[] = [];
    const opts: Record<string, string> = {};
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        const m = /^--?([a-z][a-z0-9_-]*)(?:=(.*))?$/i.exec(a);
        if (m && a !== "-") {
            if (known && !known.includes(m[1])) return { pos, opts, bad: m[1] };
            if (m[2] !== undefined) opts[m[1]] = m[2];
            else if (i + 1 < args.length && !/^--[a-z]/i.test(args[i + 1])) opts[m[1]] = args[++i];
            else opts[m[1]] = "1";
        } else {
            pos.push(a);
        }
    }
    return { pos, opts };
}

function vmidOf(s: string | undefined): number | undefined {
    return s !== undefined && /^[1-9]\d{2,8}$/.test(s) ? Number(s) : undefined;
}

function badVmid(sub: string, value: string | undefined): ExecResult {
    const msg =
        value === undefined
            ? `400 not enough arguments\npct ${sub} <vmid>\n`
            : `400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\npct ${sub} <vmid>\n`;
    return result(255, msg);
}

/** A key pair kept in `dir/name` (private) and `dir/name.pub`, generated on first use. */
async function persistentKey(
    dir: string | undefined,
    name: string,
    comment: string,
): Promise<{ private: string; public: string }> {
    const file = dir === undefined ? undefined : path.join(dir, name);
    if (file) {
        try {
            return { private: await fs.readFile(file, "utf8"), public: await fs.readFile(`${file}.pub`, "utf8") };
        } catch {
            // not there yet
        }
    }
    const pair = generateKeyPair("ed25519", { comment });
    if (file) {
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, pair.private, { mode: 0o600 });
        await fs.writeFile(`${file}.pub`, `${pair.public.trim()}\n`);
    }
    return pair;
}

export async function startSshServer(opts: SshServerOptions): Promise<SshServerHandle> {
    const backend = opts.backend;
    const journal = opts.journal ?? [];
    const faults: SshFaults = opts.faults ?? {};
    const maxSessions = opts.maxSessionsPerConnection ?? 10;
    const allowedUser = opts.user ?? "root";
    const timeoutMs = opts.commandTimeoutMs ?? 600_000;
    const node = opts.node ?? "pve";
    const isRunning = async (vmid: number): Promise<boolean> =>
        opts.isRunning ? await opts.isRunning(vmid) : await backend.isRunning(vmid);
    const keyDir = opts.stateDir === undefined ? undefined : path.join(opts.stateDir, "ssh");

    let clientPrivate: string | undefined;
    let authorizedLine = opts.authorizedPublicKey;
    if (authorizedLine === undefined) {
        const pair = await persistentKey(keyDir, "id_ed25519", "pve-sim-client");
        clientPrivate = pair.private;
        authorizedLine = pair.public.trim();
    }
    const parsed = utils.parseKey(authorizedLine);
    if (parsed instanceof Error) throw new Error(`authorizedPublicKey: ${parsed.message}`);
    const authorized = Array.isArray(parsed) ? parsed[0] : parsed;
    const authorizedBlob = authorized.getPublicSSH();

    const hostPrivate = opts.hostKey ?? (await persistentKey(keyDir, "ssh_host_ed25519_key", "root@pve")).private;
    const hostParsed = utils.parseKey(hostPrivate);
    if (hostParsed instanceof Error) throw new Error(`hostKey: ${hostParsed.message}`);
    const hostKey = Array.isArray(hostParsed) ? hostParsed[0] : hostParsed;
    const hostPublicKey = `${hostKey.type} ${hostKey.getPublicSSH().toString("base64")}`;
    const hostKeyFingerprint = sshFingerprint(hostPublicKey);

    let seq = journal.reduce((m, e) => Math.max(m, e.seq), 0);
    const sockets = new Map<string, net.Socket>();

    /** Runs argv in a container (vmid) or on the host (null), streaming stdin/stdout/stderr through the channel. */
    const runStreaming = async (
        vmid: number | null,
        argv: string[],
        channel: ServerChannel,
        stdinHead: { text: string },
    ): Promise<ExecResult> => {
        if (isStreaming(backend)) {
            const run = await backend.startExec(vmid, argv, {
                timeoutMs,
                // The client may have closed the channel (or the connection) while the command still runs.
                onStdout: (b) => channelOutput(channel).stdout(b),
                onStderr: (b) => channelOutput(channel).stderr(b),
            });
            run.stdin.on("error", () => undefined);
            channel.on("data", (b: Buffer) => {
                if (stdinHead.text.length < 65536) stdinHead.text += b.toString("utf8");
                run.stdin.write(b);
            });
            channel.on("end", () => run.stdin.end());
            channel.on("close", () => run.stdin.end());
            const r = await run.done;
            // Output already went out as it came.
            return { code: r.code, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
        }
        const stdin = await readAll(channel, stdinHead);
        return vmid === null
            ? backend.hostExec(argv, { stdin, timeoutMs })
            : backend.exec(vmid, argv, { stdin, timeoutMs });
    };

    const handlePct = async (
        args: string[],
        channel: ServerChannel,
        entry: SshJournalEntry,
        stdinHead: { text: string },
    ): Promise<ExecResult> => {
        const sub = args[0] ?? "";
        const rest = args.slice(1);
        switch (sub) {
            case "exec": {
                const vmid = vmidOf(rest[0]);
                if (vmid === undefined) return badVmid("exec", rest[0]);
                entry.vmid = vmid;
                let cmd = rest.slice(1);
                const dd = cmd.indexOf("--");
                if (dd >= 0) {
                    const before = parseOpts(cmd.slice(0, dd), ["keep-env"]);
                    if (before.bad) return result(255, `Unknown option: ${before.bad}\n400 unable to parse option\n`);
                    cmd = [...before.pos, ...cmd.slice(dd + 1)];
                } else if (cmd[0]?.startsWith("-") && cmd[0] !== "-") {
                    return result(255, `Unknown option: ${cmd[0].replace(/^-+/, "")}\n400 unable to parse option\n`);
                }
                if (!opts.hasContainer(vmid))
                    return result(255, `Configuration file 'nodes/pve/lxc/${vmid}.conf' does not exist\n`);
                if (!(await isRunning(vmid))) return result(255, `container '${vmid}' not running!\n`);
                if (cmd.length === 0) return result(255, "missing command\n");
                return runStreaming(vmid, cmd, channel, stdinHead);
            }
            case "status": {
                const vmid = vmidOf(rest[0]);
                if (vmid === undefined) return badVmid("status", rest[0]);
                entry.vmid = vmid;
                if (!opts.hasContainer(vmid))
                    return result(255, `Configuration file 'nodes/pve/lxc/${vmid}.conf' does not exist\n`);
                return result(0, "", `status: ${(await isRunning(vmid)) ? "running" : "stopped"}\n`);
            }
            case "push":
            case "pull": {
                const p = parseOpts(rest, ["perms", "user", "group"]);
                if (p.bad) return result(255, `Unknown option: ${p.bad}\n400 unable to parse option\n`);
                const vmid = vmidOf(p.pos[0]);
                if (vmid === undefined) return badVmid(sub, p.pos[0]);
                entry.vmid = vmid;
                if (p.pos.length < 3)
                    return result(
                        255,
                        `400 not enough arguments\npct ${sub} <vmid> <${sub === "push" ? "file" : "path"}> <destination>\n`,
                    );
                const [, src, dst] = p.pos;
                // Real pct reads nothing from stdin; drain it so the client's EOF is consumed.
                await readAll(channel, stdinHead);
                const running = opts.hasContainer(vmid) && (await isRunning(vmid));
                if (sub === "push") {
                    if (!running) return result(255, "can only push files to a running CT\n");
                    const read = await backend.hostExec(["cat", "--", src]);
                    if (read.code !== 0) return result(255, `failed to open ${src} for reading\n`);
                    try {
                        await backend.push(vmid, dst, read.stdout, {
                            perms: p.opts.perms,
                            user: p.opts.user,
                            group: p.opts.group,
                        });
                    } catch (e) {
                        return result(255, `${(e as Error).message}\n`);
                    }
                    return result(0);
                }
                if (!running) return result(255, "can only pull files from a running VM\n");
                let data: Buffer;
                try {
                    data = await backend.pull(vmid, src);
                } catch (e) {
                    return result(255, `${(e as Error).message}\n`);
                }
                // The destination is created on the node like pct's create_file: parent must exist, --perms and
                // --user/--group applied to the new file.
                const script = [
                    "d=$1; perms=$2; user=$3; group=$4",
                    '[ -d "$(dirname "$d")" ] || { echo "failed to create file: $d: No such file or directory" >&2; exit 255; }',
                    '[ -d "$d" ] && { echo "failed to create file: $d: Is a directory" >&2; exit 255; }',
                    'cat > "$d" || exit 255',
                    '[ -n "$perms" ] && { chmod "$perms" "$d" || exit 255; }',
                    '[ -n "$user$group" ] && { chown "$user${group:+:$group}" "$d" || { echo "failed to change file owner" >&2; exit 255; }; }',
                    "exit 0",
                ].join("\n");
                const perms =
                    p.opts.perms === undefined ? "" : p.opts.perms.startsWith("0") ? p.opts.perms : `0${p.opts.perms}`;
                const w = await backend.hostExec(
                    ["/bin/sh", "-c", script, "pct", dst, perms, p.opts.user ?? "", p.opts.group ?? ""],
                    { stdin: data },
                );
                return w.code === 0 ? result(0) : result(255, w.stderr.toString());
            }
            case "create":
            case "set":
            case "config":
            case "list":
            case "start":
            case "stop":
            case "shutdown":
            case "reboot":
            case "destroy":
            case "suspend":
            case "resume": {
                if (!opts.api) break;
                const p = parseOpts(rest, null);
                const vmid = p.pos[0];
                if (sub !== "list") {
                    if (vmidOf(vmid) === undefined) return badVmid(sub, vmid);
                    entry.vmid = Number(vmid);
                }
                return pctViaApi(opts.api, sub, p.pos, p.opts);
            }
            default:
                break;
        }
        if (opts.pctHandler) {
            const stdin = await readAll(channel, stdinHead);
            return opts.pctHandler(args, stdin);
        }
        return result(
            255,
            sub
                ? `pve-sim: 'pct ${sub}' is not simulated over SSH (supported: ${opts.api ? PCT_SUPPORTED_API : PCT_SUPPORTED})\n`
                : "USAGE: pct <COMMAND> [ARGS] [OPTIONS]\n",
        );
    };

    /** Waits for a UPID the way pct's CLI does (the worker runs in the foreground), then prints its log. */
    const waitTask = async (api: PctApi, upid: string): Promise<ExecResult> => {
        // The in-process API takes decoded paths (what the HTTPS server hands it); a UPID has no "/".
        const base = `/nodes/${node}/tasks/${upid}`;
        await opts.waitForTask?.(upid);
        let status: { status?: string; exitstatus?: string } = {};
        for (let i = 0; i < 6000; i++) {
            const r = await api("GET", `${base}/status`);
            status = (r.data ?? {}) as typeof status;
            if (r.status !== 200 || status.status === "stopped") break;
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const log = await api("GET", `${base}/log`, { start: "0", limit: "100000" });
        const lines = Array.isArray(log.data) ? (log.data as { t?: string }[]).map((l) => l.t ?? "") : [];
        const out = lines.filter((l) => !/^TASK (OK|ERROR|WARNINGS)/.test(l)).join("\n");
        const exit = status.exitstatus ?? "unknown";
        const failed = exit !== "OK" && !exit.startsWith("WARNINGS");
        return result(failed ? 255 : 0, failed ? `${exit}\n` : "", out ? `${out}\n` : "");
    };

    const pctViaApi = async (
        api: PctApi,
        sub: string,
        pos: string[],
        params: Record<string, string>,
    ): Promise<ExecResult> => {
        const [vmid] = pos;
        const ct = `/nodes/${node}/lxc/${vmid}`;
        let r: PctApiResult;
        switch (sub) {
            case "create":
                if (pos.length < 2)
                    return result(255, "400 not enough arguments\npct create <vmid> <ostemplate> [OPTIONS]\n");
                r = await api("POST", `/nodes/${node}/lxc`, { ...params, vmid, ostemplate: pos[1] });
                break;
            case "set":
                r = await api("PUT", `${ct}/config`, params);
                break;
            case "config":
                r = await api("GET", `${ct}/config`, params);
                break;
            case "list":
                r = await api("GET", `/nodes/${node}/lxc`);
                break;
            case "destroy":
                r = await api("DELETE", ct, params);
                break;
            default:
                r = await api("POST", `${ct}/status/${sub}`, params);
        }
        if (r.status !== 200) {
            let msg = r.message ?? "unknown error\n";
            if (!msg.endsWith("\n")) msg += "\n";
            if (r.status !== 500) msg = `${r.status} ${msg}`;
            for (const [k, v] of Object.entries(r.errors ?? {})) msg += `${k}: ${v.trimEnd()}\n`;
            return result(255, msg);
        }
        if (typeof r.data === "string" && r.data.startsWith("UPID:")) return waitTask(api, r.data);
        if (sub === "config" && r.data && typeof r.data === "object") {
            const conf = r.data as Record<string, unknown>;
            const lines = Object.keys(conf)
                .filter((k) => k !== "digest")
                .sort()
                .map((k) => `${k}: ${String(conf[k]).replace(/\n/g, "\\n")}`);
            return result(0, "", lines.length ? `${lines.join("\n")}\n` : "");
        }
        if (sub === "list" && Array.isArray(r.data)) {
            const rows = (r.data as { vmid?: number | string; status?: string; lock?: string; name?: string }[])
                .slice()
                .sort((a, b) => Number(a.vmid) - Number(b.vmid));
            if (rows.length === 0) return result(0);
            const fmt = (a: string, b: string, c: string, d: string): string =>
                `${a.padEnd(10)} ${b.padEnd(10)} ${c.padEnd(12)} ${d.padEnd(20)}`.trimEnd() + "\n";
            let out = fmt("VMID", "Status", "Lock", "Name");
            for (const row of rows)
                out += fmt(String(row.vmid ?? ""), row.status ?? "", row.lock ?? "", row.name ?? "");
            return result(0, "", out);
        }
        return result(0);
    };

    const handleExec = async (
        socket: net.Socket | undefined,
        channel: ServerChannel,
        command: string,
    ): Promise<void> => {
        const started = Date.now();
        const words = parseCommandLine(command);
        const argv = words ?? ["/bin/sh", "-c", command];
        const entry: SshJournalEntry = {
            seq: ++seq,
            time: new Date(started).toISOString(),
            command,
            argv,
            exitCode: null,
            changing: true,
        };
        journal.push(entry);
        const stdinHead = { text: "" };
        const finish = (r: ExecResult | null, dropped: boolean): void => {
            entry.durationMs = Date.now() - started;
            entry.changing = !isReadOnlyCommand(argv, stdinHead.text);
            if (r) entry.exitCode = r.code;
            if (dropped) {
                entry.fault = "dropped";
                socket?.destroy();
                return;
            }
            if (!r || !channel.writable) return;
            const output = channelOutput(channel);
            output.stdout(r.stdout);
            output.stderr(r.stderr);
            output.end(() => {
                channel.exit(r.code);
                channel.end();
            });
        };
        try {
            const delay = takeRule(faults.delay, command);
            if (delay) {
                entry.fault = "delayed";
                await new Promise((resolve) => setTimeout(resolve, delay.ms));
            }
            const drop = takeRule(faults.drop, command);
            if (drop && drop.when === "before") return finish(null, true);
            const fail = takeRule(faults.fail, command);
            if (fail) {
                await readAll(channel, stdinHead);
                entry.fault = "failed";
                return finish(result(fail.exitCode, fail.stderr ?? ""), false);
            }
            let r: ExecResult;
            if (words && words.length > 0 && (words[0] === "pct" || words[0] === "/usr/sbin/pct")) {
                r = await handlePct(words.slice(1), channel, entry, stdinHead);
            } else {
                r = await runStreaming(null, ["/bin/sh", "-c", command], channel, stdinHead);
            }
            finish(r, drop !== undefined);
        } catch (e) {
            finish(result(255, `pve-sim: ${(e as Error).message}\n`), false);
        }
    };

    const server = new Server({ hostKeys: [hostPrivate] }, (client: Connection, info) => {
        const socket = sockets.get(`${info.ip}:${info.port}`);
        let openSessions = 0;
        client.on("error", () => undefined);
        client.on("authentication", (ctx) => {
            if (ctx.method !== "publickey" || ctx.username !== allowedUser) return ctx.reject(["publickey"]);
            if (!ctx.key.data.equals(authorizedBlob)) return ctx.reject(["publickey"]);
            if (!ctx.signature) return ctx.accept(); // the client asks whether this key would do
            if (ctx.blob && authorized.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
            return ctx.reject(["publickey"]);
        });
        client.on("ready", () => {
            client.on("session", (accept, reject) => {
                if (openSessions >= maxSessions) return reject();
                const session = accept();
                openSessions++;
                let counted = true;
                const release = (): void => {
                    if (counted) openSessions--;
                    counted = false;
                };
                session.once("close", release);
                session.on("pty", (acceptPty) => acceptPty?.());
                session.on("env", (_a, rejectEnv) => rejectEnv?.());
                session.on("shell", (_a, rejectShell) => rejectShell?.());
                session.on("subsystem", (_a, rejectSub) => rejectSub?.());
                session.on("exec", (acceptExec, _r, execInfo) => {
                    const channel = acceptExec();
                    channel.once("close", release);
                    void handleExec(socket, channel, execInfo.command);
                });
            });
        });
    });

    const tcp = net.createServer((socket) => {
        const key = `${socket.remoteAddress}:${socket.remotePort}`;
        sockets.set(key, socket);
        socket.once("close", () => sockets.delete(key));
        socket.on("error", () => undefined);
        // Small request/response packets: without this, Nagle + delayed ACKs add ~40 ms to every command.
        socket.setNoDelay(true);
        server.injectSocket(socket);
    });
    await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
    });
    const addr = tcp.address() as net.AddressInfo;

    const handle: SshServerHandle = {
        host: "127.0.0.1",
        port: addr.port,
        user: allowedUser,
        hostKeyFingerprint,
        hostPublicKey,
        authorizedPublicKey: `${authorized.type} ${authorizedBlob.toString("base64")}`,
        journal,
        faults,
        stop: async () => {
            for (const s of sockets.values()) s.destroy();
            await new Promise<void>((resolve) => tcp.close(() => resolve()));
        },
    };
    if (clientPrivate !== undefined) handle.privateKey = clientPrivate;
    return handle;
}

/** Reads a channel's data until the client's EOF (or close). */
function readAll(channel: ServerChannel, head: { text: string }): Promise<Buffer> {
    return new Promise((resolve) => {
        const chunks: Buffer[] = [];
        let done = false;
        const end = (): void => {
            if (done) return;
            done = true;
            resolve(Buffer.concat(chunks));
        };
        if (channel.readableEnded) return end();
        channel.on("data", (b: Buffer) => {
            chunks.push(b);
            if (head.text.length < 65536) head.text += b.toString("utf8");
        });
        channel.once("end", end);
        channel.once("close", end);
    });
}
