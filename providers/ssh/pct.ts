/**
 * Running commands and managing files inside LXC containers (or on the PVE host) over SSH. PVE has no API for
 * either, so everything here is `pct exec <vmid> -- ...` on the host.
 *
 * Secrets never travel in a command line: the SSH exec request (which sshd logs, `ps` shows, and the
 * simulator journals) is always one of the fixed strings `pct exec <vmid> -- /bin/sh -s` or `/bin/sh -s`, or
 * `pct exec <vmid> -- <argv>` built from the caller's own argv. Environment values, script text and the
 * script's stdin all arrive on stdin, see `buildScriptInput`.
 */
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { ContainerNotFoundError, ContainerNotRunningError, RemoteCommandError, SshConfigError } from "./errors";
import { getSshPool, type ExecResult, type SshPool, type SshTarget } from "./pool";
import { assertShellSafe, shellJoin, shellQuote } from "./quote";

/** Options every call here takes. */
export interface CallOptions {
    /** Defaults to the process-wide pool (`getSshPool()`). */
    pool?: SshPool;
    /** Kill the remote command after this long. */
    timeoutMs?: number;
    /** Output bytes kept per stream (default 1 MiB). */
    maxOutputBytes?: number;
}

export interface PctExecOptions extends CallOptions {
    stdin?: Buffer | string;
}

export interface RunScriptOptions extends CallOptions {
    /** Run inside this container; absent: on the PVE host itself. */
    vmid?: number;
    /** POSIX sh script text (no NUL). Runs as `/bin/sh -c <script>` in a fresh shell. */
    script: string;
    /** Exported to the script. Values may be secrets: they travel on stdin, never in a command line. */
    env?: Record<string, string>;
    /** The script's stdin, delivered byte-exact (any bytes, NUL included, with or without a final newline). */
    stdin?: Buffer | string;
    /**
     * Marks a probe that changes nothing: its input then starts with the line `# read-only` (a comment to the
     * shell), which is how the simulator's journal tells reads from changes (a no-op `pulumi up` must send
     * no changing command). Changes nothing about how the script runs.
     */
    readOnly?: boolean;
}

export interface FileTarget {
    /** Inside this container; absent: on the PVE host. */
    vmid?: number;
    /** Absolute, normalised path (no `.`/`..`/empty components, no trailing `/`). */
    path: string;
}

export interface WriteFileOptions extends FileTarget, CallOptions {
    content: Buffer | string;
    /** Octal permission string, `0644` (default) or `644`; setuid/setgid/sticky as the fourth digit. */
    mode?: string;
    /** User name or numeric uid; default `root`. */
    owner?: string;
    /** Group name or numeric gid; default `root`. */
    group?: string;
}

export interface WriteFileResult {
    /** Hex SHA-256 of the file as written, computed on the target. */
    sha256: string;
    size: number;
}

export interface FileInfo {
    /** `file` for a regular file; anything else at the path is reported so callers can treat it as drift. */
    type: "file" | "symlink" | "other";
    /** Hex SHA-256 of the content; empty unless `type` is `file`. */
    sha256: string;
    /** Bytes (for a symlink: the length of its target path). */
    size: number;
    /** Four-digit octal string, e.g. `0640`. */
    mode: string;
    /** User and group names (`UNKNOWN` when the id has no name in the target's /etc/passwd). */
    owner: string;
    group: string;
    uid: number;
    gid: number;
}

const DEFAULT_FILE_TIMEOUT_MS = 120_000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ACCOUNT = /^(?:[0-9]+|[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)$/;
const MODE = /^0?[0-7]{3}$|^[0-7]{4}$/;

/** Checks a container id as PVE allows them (100 to 999999999) so it can be written bare in a command. */
export function assertVmid(vmid: number): void {
    if (!Number.isInteger(vmid) || vmid < 100 || vmid > 999_999_999) {
        throw new SshConfigError(`vmid must be an integer from 100 to 999999999, got ${String(vmid)}`);
    }
}

/**
 * Encodes bytes as a single-quoted printf format that prints them back exactly. Only four bytes need care:
 * `%` and `\` are printf's own specials, `'` would end the quote and NUL cannot be in a shell word, so they
 * become `%%`, `\\`, `\047`, `\000`; every other byte (newlines, UTF-8, invalid UTF-8) goes through
 * literally, so text costs almost nothing extra. Checked against dash, bash --posix and busybox ash.
 */
export function printfQuote(data: Buffer): Buffer {
    let extra = 0;
    for (const b of data) {
        if (b === 0x25 || b === 0x5c) extra += 1;
        else if (b === 0x27 || b === 0x00) extra += 3;
    }
    const out = Buffer.allocUnsafe(data.length + extra + 2);
    let j = 0;
    out[j++] = 0x27;
    for (const b of data) {
        if (b === 0x25 || b === 0x5c) {
            out[j++] = b;
            out[j++] = b;
        } else if (b === 0x27 || b === 0x00) {
            out[j++] = 0x5c;
            out[j++] = 0x30;
            out[j++] = b === 0x27 ? 0x34 : 0x30;
            out[j++] = b === 0x27 ? 0x37 : 0x30;
        } else {
            out[j++] = b;
        }
    }
    out[j] = 0x27;
    return out;
}

/**
 * What `/bin/sh -s` reads on stdin to run a script: `export K='v'` lines, then the script as
 * `/bin/sh -c '<script>' sh` with its stdin either `/dev/null` or a pipe from `printf '<stdin bytes>'`.
 *
 * Why not a here-document for the script's stdin: a here-document cannot carry NUL bytes (shells drop them),
 * always ends with a newline, and needs a delimiter that must be proven absent. The printf form has no
 * delimiter, carries every byte and adds nothing at the end, so the script's stdin is byte-exact. The script
 * itself runs under `sh -c` rather than inline, because an inline script that reads stdin would read the rest
 * of its own text. The shell reads the whole input before the pipe starts, so size is bounded by memory (fine
 * for config files; stream large blobs some other way).
 */
export function buildScriptInput(opts: Pick<RunScriptOptions, "script" | "env" | "stdin" | "readOnly">): Buffer {
    if (typeof opts.script !== "string" || opts.script.trim() === "") {
        throw new SshConfigError("runScript: script must be a non-empty string");
    }
    assertShellSafe(opts.script, "runScript: script");
    const lines: string[] = opts.readOnly ? ["# read-only\n"] : [];
    for (const [key, value] of Object.entries(opts.env ?? {})) {
        if (!ENV_NAME.test(key)) {
            throw new SshConfigError(`runScript: env name ${JSON.stringify(key)} is not a shell identifier`);
        }
        // Do not echo the value: it may be a secret.
        if (typeof value !== "string") throw new SshConfigError(`runScript: env ${key} must be a string`);
        assertShellSafe(value, `runScript: env ${key}`);
        lines.push(`export ${key}=${shellQuote(value)}\n`);
    }
    const run = `/bin/sh -c ${shellQuote(opts.script)} sh`;
    const stdin = typeof opts.stdin === "string" ? Buffer.from(opts.stdin, "utf8") : opts.stdin;
    if (stdin === undefined || stdin.length === 0) {
        return Buffer.from(lines.join("") + `${run} </dev/null\n`, "utf8");
    }
    // printf's stderr is dropped: its only possible error is EPIPE when the script does not read its stdin.
    return Buffer.concat([
        // `--`: content starting with `-` (every PEM) is otherwise an option to dash's printf.
        Buffer.from(lines.join("") + "{ printf -- ", "utf8"),
        printfQuote(stdin),
        Buffer.from(`; } 2>/dev/null | ${run}\n`, "utf8"),
    ]);
}

/** The command line that starts a shell reading its script from stdin, in a container or on the host. */
export function shellCommand(vmid?: number): string {
    if (vmid === undefined) return "/bin/sh -s";
    assertVmid(vmid);
    return `pct exec ${vmid} -- /bin/sh -s`;
}

/** Turns pct's own refusals into typed errors; other results pass through. */
function checkPct(vmid: number | undefined, result: ExecResult): ExecResult {
    if (vmid === undefined || result.code === 0) return result;
    const stderr = result.stderr.toString("utf8").trim();
    // pct prints these and nothing else before it would have started the command.
    if (new RegExp(`^container '${vmid}' not running!?$`).test(stderr)) throw new ContainerNotRunningError(vmid);
    if (/^Configuration file '[^']*\/lxc\/\d+\.conf' does not exist$/.test(stderr)) {
        throw new ContainerNotFoundError(vmid, stderr);
    }
    return result;
}

/**
 * `pct exec <vmid> -- <argv>`: argv runs directly (lxc-attach, no shell inside the container). The argv is part
 * of the command line, which sshd logs and `ps` shows: never put a secret in it; use `runScript`'s env.
 */
export async function pctExec(
    target: SshTarget,
    vmid: number,
    argv: readonly string[],
    opts: PctExecOptions = {},
): Promise<ExecResult> {
    assertVmid(vmid);
    if (argv.length === 0) throw new SshConfigError("pctExec: argv must not be empty");
    const pool = opts.pool ?? getSshPool();
    const result = await pool.exec(target, `pct exec ${vmid} -- ${shellJoin(argv)}`, {
        stdin: opts.stdin,
        timeoutMs: opts.timeoutMs,
        maxOutputBytes: opts.maxOutputBytes,
    });
    return checkPct(vmid, result);
}

/**
 * Runs a POSIX sh script in a container (or on the host). Resolves with the script's exit status and output,
 * whatever the status; `requireSuccess` turns a failure into an error.
 */
export async function runScript(target: SshTarget, opts: RunScriptOptions): Promise<ExecResult> {
    const command = shellCommand(opts.vmid);
    const input = buildScriptInput(opts);
    const pool = opts.pool ?? getSshPool();
    const result = await pool.exec(target, command, {
        stdin: input,
        timeoutMs: opts.timeoutMs,
        maxOutputBytes: opts.maxOutputBytes,
    });
    return checkPct(opts.vmid, result);
}

/** Throws `RemoteCommandError` (with the exit status and the end of stderr) unless the command exited 0. */
export function requireSuccess(result: ExecResult, what: string): ExecResult {
    if (result.code === 0) return result;
    const stderr = result.stderr.toString("utf8").trim();
    const tail = stderr.length > 2000 ? `...${stderr.slice(-2000)}` : stderr;
    const status = result.code === null ? `was killed by ${result.signal ?? "a signal"}` : `exited ${result.code}`;
    throw new RemoteCommandError(`${what} ${status}${tail ? `: ${tail}` : ""}`, result.code, result.signal, stderr);
}

/** Validates a target path early, so a bad path is a clear local error rather than a remote one. */
export function assertAbsolutePath(path: string, what = "path"): void {
    assertShellSafe(path, what);
    if (!path.startsWith("/")) throw new SshConfigError(`${what} must be absolute, got ${JSON.stringify(path)}`);
    if (path === "/" || path.endsWith("/")) {
        throw new SshConfigError(`${what} must name a file, not a directory: ${JSON.stringify(path)}`);
    }
    if (posix.normalize(path) !== path || path.split("/").some((c) => c === "." || c === "..")) {
        throw new SshConfigError(
            `${what} must be normalised (no ".", ".." or empty components): ${JSON.stringify(path)}`,
        );
    }
}

function where(file: FileTarget): string {
    return file.vmid === undefined ? `${file.path} on the PVE host` : `${file.path} in CT ${file.vmid}`;
}

/** The last `HL-` marker line a helper script printed (the scripts print nothing else on stdout). */
function marker(result: ExecResult, what: string): string[] {
    const lines = result.stdout
        .toString("utf8")
        .split("\n")
        .filter((l) => l.startsWith("HL-"));
    const last = lines.at(-1);
    if (last === undefined) {
        throw new RemoteCommandError(
            `${what}: unexpected output from the target (no result line)`,
            result.code,
            result.signal,
            result.stderr.toString("utf8"),
        );
    }
    return last.split(" ");
}

// The helper scripts below are constant text: every variable part arrives through the env prelude, quoted.

const WRITE_SCRIPT = `LC_ALL=C; export LC_ALL
p=$HL_PATH
d=\${p%/*}
[ -n "$d" ] || d=/
case $p in /*) ;; *) echo "not an absolute path: $p" >&2; exit 64 ;; esac
if [ -d "$p" ]; then echo "$p is a directory" >&2; exit 65; fi
mkdir -p -- "$d" || exit 66
umask 077
t=$(mktemp "$d/.hl-write.XXXXXX") || exit 67
trap 'rm -f -- "$t"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
cat >"$t" || exit 68
chown "$HL_OWNER:$HL_GROUP" "$t" || exit 69
chmod "$HL_MODE" "$t" || exit 70
h=$(sha256sum <"$t") || exit 71
s=$(wc -c <"$t") || exit 72
mv -f -- "$t" "$p" || exit 73
trap - EXIT
echo "HL-WRITTEN \${h%% *}" $s
`;

/**
 * Writes a file atomically: the content goes to a temp file in the same directory (created under umask 077, so
 * a secret is never readable by others even for a moment), gets its owner and mode, then replaces the target
 * with one rename. Readers see the old file or the new one, never a partial one. Missing parent directories
 * are created with the shell's normal umask. Refuses to replace a directory. Returns the hash and size the
 * target computed, after checking them against the local content.
 */
export async function writeFileAtomic(target: SshTarget, opts: WriteFileOptions): Promise<WriteFileResult> {
    assertAbsolutePath(opts.path);
    const mode = opts.mode ?? "0644";
    const owner = opts.owner ?? "root";
    const group = opts.group ?? "root";
    if (!MODE.test(mode))
        throw new SshConfigError(`mode must be an octal string like 0640, got ${JSON.stringify(mode)}`);
    if (!ACCOUNT.test(owner))
        throw new SshConfigError(`owner is not a valid user name or uid: ${JSON.stringify(owner)}`);
    if (!ACCOUNT.test(group))
        throw new SshConfigError(`group is not a valid group name or gid: ${JSON.stringify(group)}`);
    const content = typeof opts.content === "string" ? Buffer.from(opts.content, "utf8") : opts.content;
    const result = await runScript(target, {
        vmid: opts.vmid,
        script: WRITE_SCRIPT,
        env: { HL_PATH: opts.path, HL_MODE: mode, HL_OWNER: owner, HL_GROUP: group },
        stdin: content,
        pool: opts.pool,
        timeoutMs: opts.timeoutMs ?? DEFAULT_FILE_TIMEOUT_MS,
    });
    const what = `writing ${where(opts)}`;
    requireSuccess(result, what);
    const [, sha256, size] = marker(result, what);
    const expected = createHash("sha256").update(content).digest("hex");
    if (sha256 !== expected || Number(size) !== content.length) {
        throw new RemoteCommandError(
            `${what}: the target reports sha256 ${sha256} (${size} bytes) but ${expected} (${content.length} bytes) was sent`,
            result.code,
            undefined,
            "",
        );
    }
    return { sha256, size: content.length };
}

const INFO_SCRIPT = `LC_ALL=C; export LC_ALL
p=$HL_PATH
if [ -L "$p" ]; then ty=symlink
elif [ -f "$p" ]; then ty=file
elif [ -e "$p" ]; then ty=other
else echo HL-ABSENT; exit 0
fi
i=$(stat -c '%a %u %g %s %U %G' -- "$p") || exit 70
h=-
if [ "$ty" = file ]; then h=$(sha256sum <"$p") || exit 71; fi
echo "HL-INFO $ty \${h%% *} $i"
`;

/**
 * Reads what is at a path without following a final symlink: null when nothing is there. Uses only `stat -c`
 * and `sha256sum`, which busybox and coreutils both have.
 */
export async function readFileInfo(target: SshTarget, opts: FileTarget & CallOptions): Promise<FileInfo | null> {
    assertAbsolutePath(opts.path);
    const result = await runScript(target, {
        vmid: opts.vmid,
        script: INFO_SCRIPT,
        env: { HL_PATH: opts.path },
        readOnly: true,
        pool: opts.pool,
        timeoutMs: opts.timeoutMs ?? DEFAULT_FILE_TIMEOUT_MS,
    });
    const what = `reading ${where(opts)}`;
    requireSuccess(result, what);
    const fields = marker(result, what);
    if (fields[0] === "HL-ABSENT") return null;
    const [, type, hash, mode, uid, gid, size, owner, group] = fields;
    if (fields.length !== 9 || (type !== "file" && type !== "symlink" && type !== "other")) {
        throw new RemoteCommandError(`${what}: unexpected stat output`, result.code, undefined, "");
    }
    return {
        type,
        sha256: type === "file" ? hash : "",
        size: Number(size),
        mode: mode.padStart(4, "0"),
        owner,
        group,
        uid: Number(uid),
        gid: Number(gid),
    };
}

/** The name ARCHITECTURE.md's contract uses for `readFileInfo`. */
export const readFileHash = readFileInfo;

const REMOVE_SCRIPT = `p=$HL_PATH
if [ -d "$p" ] && [ ! -L "$p" ]; then echo "$p is a directory" >&2; exit 65; fi
if [ -e "$p" ] || [ -L "$p" ]; then rm -f -- "$p" || exit 70; echo HL-REMOVED; else echo HL-ABSENT; fi
`;

/** Removes a file (or symlink); a missing file is not an error. Refuses directories. */
export async function removeFile(target: SshTarget, opts: FileTarget & CallOptions): Promise<{ existed: boolean }> {
    assertAbsolutePath(opts.path);
    const result = await runScript(target, {
        vmid: opts.vmid,
        script: REMOVE_SCRIPT,
        env: { HL_PATH: opts.path },
        pool: opts.pool,
        timeoutMs: opts.timeoutMs ?? DEFAULT_FILE_TIMEOUT_MS,
    });
    const what = `removing ${where(opts)}`;
    requireSuccess(result, what);
    return { existed: marker(result, what)[0] === "HL-REMOVED" };
}
