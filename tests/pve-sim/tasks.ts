/**
 * PVE worker tasks: UPIDs in PVE's exact format, a log that ends in `TASK OK` / `TASK ERROR: <text>`, and a
 * duration, so clients have to poll `GET /nodes/{node}/tasks/{upid}/status` as with a real node.
 */

/** `UPID:<node>:<pid 8 hex>:<pstart 8 hex>:<starttime 8 hex>:<type>:<id>:<user>:` (PVE::UPID::encode). */
export function encodeUpid(task: {
    node: string;
    pid: number;
    pstart: number;
    starttime: number;
    type: string;
    id: string;
    user: string;
}): string {
    const hex = (value: number): string => value.toString(16).toUpperCase().padStart(8, "0");
    return `UPID:${task.node}:${hex(task.pid)}:${hex(task.pstart)}:${hex(task.starttime)}:${task.type}:${task.id}:${task.user}:`;
}

const UPID_RE =
    /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$/;

export interface DecodedUpid {
    node: string;
    pid: number;
    pstart: number;
    starttime: number;
    type: string;
    id: string;
    user: string;
}

/** PVE::UPID::decode; undefined when the text is not a UPID. */
export function decodeUpid(upid: string): DecodedUpid | undefined {
    const match = UPID_RE.exec(upid);
    if (!match) return undefined;
    return {
        node: match[1],
        pid: parseInt(match[3], 16),
        pstart: parseInt(match[4], 16),
        starttime: parseInt(match[5], 16),
        type: match[6],
        id: match[7],
        user: match[8],
    };
}

export interface Task extends DecodedUpid {
    upid: string;
    status: "running" | "stopped";
    /** `OK`, `WARNINGS: n` or the error text (set when stopped). */
    exitstatus?: string;
    /** Unix seconds the task stopped at (set when stopped). */
    endtime?: number;
    log: string[];
    warnings: number;
    /** Resolves when the task has stopped. */
    done: Promise<void>;
}

/** What a task body gets: a log writer and a warning counter, like PVE's worker environment. */
export interface TaskContext {
    log(line: string): void;
    warn(line: string): void;
    upid: string;
}

export interface TaskTimingOptions {
    /** Extra run time of every task, in ms (random in [min, max]). Default 50–200. */
    minMs: number;
    maxMs: number;
}

/** Per-type overrides the fault layer sets: a forced duration, or a forced failure. */
export interface TaskInterventions {
    /** Returns a forced duration for a task of this type, if any. */
    durationFor(type: string): number | undefined;
    /** Returns (and consumes) a forced failure text for a task of this type, if any. */
    failureFor(type: string): string | undefined;
}

export class TaskManager {
    private readonly tasks = new Map<string, Task>();
    /** Running tasks in start order, as PVE's `/var/log/pve/tasks/active` keeps them. */
    private readonly running: Task[] = [];
    /** Stopped tasks in the order they were archived (appended to `/var/log/pve/tasks/index`). */
    private readonly archive: Task[] = [];
    private nextPid = 0x1000 + Math.floor(Math.random() * 0x8000);
    /** A fake "process start" clock in jiffies, as PVE's pstart is. */
    private pstartBase = 0x100000 + Math.floor(Math.random() * 0x100000);

    constructor(
        private readonly node: string,
        private readonly nowSeconds: () => number,
        private readonly timing: () => TaskTimingOptions,
        private readonly interventions: TaskInterventions,
        /** Called whenever a task has stopped. */
        private readonly onStopped: () => void = () => undefined,
    ) {}

    get(upid: string): Task | undefined {
        return this.tasks.get(upid);
    }

    list(): Task[] {
        return [...this.tasks.values()];
    }

    /** Running tasks, oldest first (the order of PVE's active file). */
    active(): Task[] {
        return [...this.running];
    }

    /**
     * Stopped tasks, the most recently archived first (PVE reads its task index backwards). PVE archives a
     * task at its next active-worker scan after it stopped; here it is archived the moment it stops.
     */
    archived(): Task[] {
        return [...this.archive].reverse();
    }

    /**
     * Starts a worker (PVE fork_worker): returns the UPID at once; `body` runs after the task's duration.
     * A body that throws ends the task with `TASK ERROR: <message>`; so does an injected failure, which
     * happens before the body runs. `hooks.onError` runs on either failure (PVE's cleanup of a failed
     * worker), `hooks.onFinally` always (lock release).
     */
    start(
        type: string,
        id: string,
        user: string,
        body: (ctx: TaskContext) => Promise<void>,
        hooks: {
            onError?: (error: unknown) => Promise<void>;
            onFinally?: () => void;
            /** What the worker does before anything can fail (an injected failure happens after it). */
            prelude?: () => void;
        } = {},
    ): Task {
        const decoded: DecodedUpid = {
            node: this.node,
            pid: this.nextPid++,
            pstart: this.pstartBase + Math.floor(process.uptime() * 100),
            starttime: Math.floor(this.nowSeconds()),
            type,
            id,
            user,
        };
        const upid = encodeUpid(decoded);
        let resolveDone: () => void = () => undefined;
        const task: Task = {
            ...decoded,
            upid,
            status: "running",
            log: [],
            warnings: 0,
            done: new Promise<void>((resolve) => (resolveDone = resolve)),
        };
        this.tasks.set(upid, task);
        this.running.push(task);
        const ctx: TaskContext = {
            upid,
            log: (line) => task.log.push(line),
            warn: (line) => {
                task.warnings++;
                task.log.push(`WARN: ${line}`);
            },
        };
        const { minMs, maxMs } = this.timing();
        const duration = this.interventions.durationFor(type) ?? minMs + Math.random() * Math.max(0, maxMs - minMs);
        const forcedFailure = this.interventions.failureFor(type);
        void (async () => {
            try {
                await new Promise((resolve) => setTimeout(resolve, duration));
                hooks.prelude?.();
                if (forcedFailure !== undefined) throw new Error(forcedFailure);
                await body(ctx);
                task.exitstatus = task.warnings > 0 ? `WARNINGS: ${task.warnings}` : "OK";
                task.log.push(task.warnings > 0 ? `TASK WARNINGS: ${task.warnings}` : "TASK OK");
            } catch (error) {
                if (hooks.onError) await hooks.onError(error).catch(() => undefined);
                const message = (error instanceof Error ? error.message : String(error)).replace(/\n+$/, "");
                // PVE's status is the last log line after `TASK ERROR: `, i.e. the error's last line.
                const lines = message.split("\n");
                for (const line of lines.slice(0, -1)) task.log.push(line);
                const last = lines[lines.length - 1];
                task.exitstatus = last;
                task.log.push(`TASK ERROR: ${last}`);
            } finally {
                hooks.onFinally?.();
                task.endtime = Math.floor(this.nowSeconds());
                task.status = "stopped";
                this.running.splice(this.running.indexOf(task), 1);
                this.archive.push(task);
                resolveDone();
                this.onStopped();
            }
        })();
        return task;
    }

    /** Resolves when every running task has stopped (used by stop()). */
    async settle(): Promise<void> {
        await Promise.all([...this.tasks.values()].map((task) => task.done));
    }
}
