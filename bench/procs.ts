/**
 * Watches the processes the Pulumi CLI starts for one stack (they all run in the stack's working directory): the
 * engine itself and the SDK's dynamic-provider host. Reads /proc every `intervalMs`: peak resident set (VmHWM, the
 * kernel's own high-water mark, so a poll only has to see the process once before it exits) and CPU time.
 * Linux only; elsewhere it reports nothing.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export type ProcessKind = "engine" | "dynamicProvider";

export interface ProcessSample {
    pid: number;
    kind: ProcessKind;
    /** Peak resident set size in KiB (VmHWM). */
    peakRssKiB: number;
    /** User + system CPU seconds, as last seen. */
    cpuSeconds: number;
}

export interface ProcessSummary {
    /** Processes of this kind seen. */
    count: number;
    /** Largest VmHWM among them, MiB. */
    peakRssMiB: number;
    /** CPU seconds, summed over them (as last seen; at most one poll interval short). */
    cpuSeconds: number;
}

export interface ProcessWatch {
    stop(): Record<ProcessKind, ProcessSummary>;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
    if (clockTicks === undefined) {
        try {
            clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
        } catch {
            clockTicks = 100;
        }
    }
    return clockTicks;
}

function classify(pid: number): ProcessKind | undefined {
    let cmdline: string;
    try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
        return undefined;
    }
    const argv = cmdline.split("\0").filter((a) => a !== "");
    if (argv.some((a) => a.includes("@pulumi/pulumi/cmd/dynamic-provider"))) return "dynamicProvider";
    if (argv.length > 0 && path.basename(argv[0]) === "pulumi") return "engine";
    return undefined;
}

function sample(pid: number, kind: ProcessKind): ProcessSample | undefined {
    try {
        const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
        const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        // Fields after the command name (which may contain spaces) start at the last ')'.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const ticks = Number(fields[11]) + Number(fields[12]);
        return { pid, kind, peakRssKiB: hwm ? Number(hwm[1]) : 0, cpuSeconds: ticks / ticksPerSecond() };
    } catch {
        return undefined;
    }
}

/** Starts watching processes whose working directory is `workDir`. */
export function watchProcesses(workDir: string, intervalMs = 100): ProcessWatch {
    const seen = new Map<number, ProcessSample>();
    const skip = new Set<number>();
    const ours = new Set<number>();
    const target = fs.realpathSync(workDir);
    const poll = (): void => {
        let entries: string[];
        try {
            entries = fs.readdirSync("/proc");
        } catch {
            return;
        }
        for (const name of entries) {
            if (!/^\d+$/.test(name)) continue;
            const pid = Number(name);
            if (skip.has(pid)) continue;
            if (!ours.has(pid)) {
                let cwd: string;
                try {
                    cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
                } catch {
                    continue;
                }
                if (cwd !== target) {
                    skip.add(pid);
                    continue;
                }
                ours.add(pid);
            }
            // Classified on every poll: the dynamic provider starts as the launcher script and exec's node.
            const kind = classify(pid);
            if (kind === undefined) continue;
            const s = sample(pid, kind);
            if (s) seen.set(pid, s);
        }
    };
    poll();
    const timer = setInterval(poll, intervalMs);
    return {
        stop() {
            clearInterval(timer);
            poll();
            const out = {} as Record<ProcessKind, ProcessSummary>;
            for (const kind of ["engine", "dynamicProvider"] as const) {
                const of = [...seen.values()].filter((s) => s.kind === kind);
                out[kind] = {
                    count: of.length,
                    peakRssMiB: round1(Math.max(0, ...of.map((s) => s.peakRssKiB)) / 1024),
                    cpuSeconds: round1(of.reduce((sum, s) => sum + s.cpuSeconds, 0)),
                };
            }
            return out;
        },
    };
}

function round1(x: number): number {
    return Math.round(x * 10) / 10;
}

/** CPU seconds of this process and of its children that have exited (the simulator's container commands). */
export function ownCpuSeconds(): { self: number; children: number } {
    try {
        const stat = fs.readFileSync("/proc/self/stat", "utf8");
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const hz = ticksPerSecond();
        return { self: (Number(f[11]) + Number(f[12])) / hz, children: (Number(f[13]) + Number(f[14])) / hz };
    } catch {
        return { self: 0, children: 0 };
    }
}
