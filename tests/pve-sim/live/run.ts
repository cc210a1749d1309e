/**
 * Process helpers for the live test bed. Every command is an argv array handed to execve (no shell in between), so
 * no argument needs quoting; where a shell is unavoidable the script is a constant and the values travel as its
 * positional parameters (`sh -c 'script' sh "$1" "$2"...`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as os from "node:os";
import type { Writable } from "node:stream";

export interface RunResult {
    code: number;
    stdout: Buffer;
    stderr: Buffer;
}

export interface RunOptions {
    stdin?: Buffer | string;
    /** Kills the whole process group after this long; the result then has code 124. Default 10 minutes. */
    timeoutMs?: number;
    /** The complete environment of the child (default: a minimal PATH/LANG, never the caller's variables). */
    env?: Record<string, string>;
    cwd?: string;
    onStdout?: (chunk: Buffer) => void;
    onStderr?: (chunk: Buffer) => void;
}

/** A started command whose stdin can be streamed. */
export interface RunningProcess {
    child: ChildProcess;
    stdin: Writable;
    /** Resolves when it ends (never rejects; a spawn failure is code 127, a timeout 124). */
    done: Promise<RunResult>;
    /** SIGKILLs the process group. */
    kill(): void;
}

export const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The environment every test-bed command gets: no proxy variables or credentials of the caller leak in. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
    return { PATH: HOST_PATH, LANG: "C.UTF-8", HOME: "/root", ...extra };
}

export function start(argv: string[], opts: RunOptions = {}): RunningProcess {
    if (argv.length === 0) throw new Error("run: empty argv");
    // A process group of its own, so a timeout kills everything the command started in the foreground.
    const child = spawn(argv[0], argv.slice(1), {
        env: opts.env ?? baseEnv(),
        cwd: opts.cwd ?? "/",
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => {
        out.push(b);
        opts.onStdout?.(b);
    });
    child.stderr?.on("data", (b: Buffer) => {
        err.push(b);
        opts.onStderr?.(b);
    });
    child.stdin?.on("error", () => undefined);
    const kill = (): void => {
        try {
            if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
            // already gone
        }
    };
    const timeoutMs = opts.timeoutMs ?? 600_000;
    let timedOut = false;
    const timer = setTimeout(() => {
        timedOut = true;
        kill();
    }, timeoutMs);
    const done = new Promise<RunResult>((resolve) => {
        let settled = false;
        const finish = (code: number | null, signal: NodeJS.Signals | null, extra?: string): void => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            if (timedOut) err.push(Buffer.from(`command timed out after ${timeoutMs} ms\n`));
            if (extra) err.push(Buffer.from(extra));
            const exit = timedOut ? 124 : (code ?? (signal ? 128 + (os.constants.signals[signal] ?? 9) : 1));
            resolve({ code: exit, stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
        };
        child.on("error", (e) => finish(127, null, `${argv[0]}: ${e.message}\n`));
        child.on("close", (code, signal) => finish(code, signal));
    });
    return { child, stdin: child.stdin as Writable, done, kill };
}

/** Runs argv to completion; never throws for a non-zero exit. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    const p = start(argv, opts);
    p.stdin.end(opts.stdin ?? Buffer.alloc(0));
    return p.done;
}

/** Runs argv and throws (with its stderr) unless it exits 0; returns stdout as text. */
export async function runOk(argv: string[], opts: RunOptions = {}): Promise<string> {
    const r = await run(argv, opts);
    if (r.code !== 0) {
        const why = (r.stderr.toString() || r.stdout.toString()).trim().split("\n").slice(-8).join("\n");
        throw new Error(`${argv.join(" ")} exited ${r.code}${why ? `: ${why}` : ""}`);
    }
    return r.stdout.toString();
}

/** Whether a process id is alive (signal 0 probes without touching it). */
export function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
    // A zombie answers signal 0 until its parent reaps it; a daemon's parent here may be slow to: it is dead.
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
        return false;
    }
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined, or throws `what` after `timeoutMs`. */
export async function waitFor<T>(
    what: string,
    timeoutMs: number,
    probe: () => Promise<T | undefined>,
    intervalMs = 200,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await probe();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(intervalMs);
    }
}
