/**
 * PVE worker tasks (UPIDs): parsing, waiting for completion, and reading the log of a failed task.
 */
import { z } from "zod";
import type { PveClient } from "./client";
import { PveTaskError, PveTaskTimeoutError } from "./errors";
import { apiPath } from "./form";

/** The parts of `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:` (PVE::Tools::upid_decode). */
export interface Upid {
    upid: string;
    node: string;
    pid: number;
    pstart: number;
    /** Unix seconds. */
    starttime: number;
    /** vzcreate, vzstart, vzdestroy, srvreload, download, ... */
    type: string;
    /** The object the task works on (a vmid, `networking`, ...); may be empty. */
    id: string;
    /** Who started it: `root@pam`, `user@realm!tokenid`. */
    user: string;
}

const UPID_RE =
    /^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

export function isUpid(text: string): boolean {
    return UPID_RE.test(text);
}

/** Parses a UPID; throws a TypeError naming the text when it is not one. */
export function parseUpid(upid: string): Upid {
    const m = UPID_RE.exec(upid);
    if (!m) throw new TypeError(`not a PVE task id (UPID): '${upid}'`);
    return {
        upid,
        node: m[1],
        pid: parseInt(m[2], 16),
        pstart: parseInt(m[3], 16),
        starttime: parseInt(m[4], 16),
        type: m[5],
        id: m[6],
        user: m[7],
    };
}

/**
 * UPIDs this process has been handed as answers (or settled a lost answer to): none of them can be the task a
 * later lost request started, however recent it is. Without this, a vmid created, destroyed and created again
 * (or a CT started, stopped and started again) within the lookup's clock-skew window would have the first
 * task taken for the lost one. Bounded; the oldest are forgotten first.
 */
const seenTasks = new Set<string>();
const MAX_SEEN_TASKS = 10_000;

export function rememberTask(upid: string): void {
    seenTasks.delete(upid);
    seenTasks.add(upid);
    if (seenTasks.size > MAX_SEEN_TASKS) seenTasks.delete(seenTasks.values().next().value as string);
}

export function isRememberedTask(upid: string): boolean {
    return seenTasks.has(upid);
}

/** Schema of a task-starting call's answer. */
export const upidSchema = z.string().refine(isUpid, { message: "expected a task id (UPID:...)" });

export const taskStatusSchema = z.looseObject({
    status: z.enum(["running", "stopped"]),
    exitstatus: z.string().optional(),
    type: z.string().optional(),
    id: z.string().optional(),
    user: z.string().optional(),
    node: z.string().optional(),
    upid: z.string().optional(),
    starttime: z.number().optional(),
});
export type TaskStatus = z.output<typeof taskStatusSchema>;

export function getTaskStatus(client: PveClient, node: string, upid: string): Promise<TaskStatus> {
    return client.get(apiPath`/nodes/${node}/tasks/${upid}/status`, undefined, taskStatusSchema);
}

const taskLogSchema = z.array(z.looseObject({ n: z.number(), t: z.string() }));

/** The last `lines` lines of a task log, oldest first. */
export async function getTaskLogTail(client: PveClient, node: string, upid: string, lines = 20): Promise<string[]> {
    const path = apiPath`/nodes/${node}/tasks/${upid}/log`;
    const firstPage = 50;
    const first = await client.requestEnvelope("GET", path, {
        params: { start: 0, limit: firstPage },
        schema: taskLogSchema,
    });
    // `total` is a sibling of `data` (set_result_attrib); PVE omits it when 0.
    const total = typeof first.extra.total === "number" ? first.extra.total : first.data.length;
    if (total <= firstPage) return first.data.slice(-lines).map((l) => l.t);
    const tail = await client.get(path, { start: Math.max(0, total - lines), limit: lines }, taskLogSchema);
    return tail.map((l) => l.t);
}

export interface WaitForTaskOptions {
    /** Give up (PveTaskTimeoutError) after this long. The task itself is not stopped. */
    timeoutMs: number;
    /** Called after every status poll. */
    onProgress?: (status: TaskStatus, elapsedMs: number) => void;
    /** First poll interval (default 100 ms); multiplied by `backoffFactor` (1.5) up to `maxIntervalMs` (1 s). */
    initialIntervalMs?: number;
    maxIntervalMs?: number;
    backoffFactor?: number;
    /** Log lines carried by a PveTaskError (default 20). */
    logTailLines?: number;
}

export interface TaskResult {
    upid: string;
    node: string;
    /** `OK` or `WARNINGS: n`. */
    exitStatus: string;
    /** n of `WARNINGS: n` (PVE counts the task as successful), else 0. */
    warnings: number;
}

/**
 * Polls a task until it stops. Short tasks (a network reload, a start) finish in well under a second, so
 * polling starts at 100 ms; long ones (create, download) settle at one request per second.
 * Resolves on `OK` and `WARNINGS: n`; rejects with PveTaskError (exit status + last log lines) otherwise.
 */
export async function waitForTask(
    client: PveClient,
    node: string,
    upid: string,
    opts: WaitForTaskOptions,
): Promise<TaskResult> {
    const clock = client.clock;
    const started = clock.now();
    const maxInterval = opts.maxIntervalMs ?? 1_000;
    const factor = opts.backoffFactor ?? 1.5;
    let interval = opts.initialIntervalMs ?? 100;
    for (;;) {
        const status = await getTaskStatus(client, node, upid);
        const elapsed = clock.now() - started;
        opts.onProgress?.(status, elapsed);
        if (status.status === "stopped") {
            const exitStatus = status.exitstatus ?? "unknown exit status";
            if (exitStatus === "OK") return { upid, node, exitStatus, warnings: 0 };
            const warnings = /^WARNINGS: (\d+)$/.exec(exitStatus);
            if (warnings) return { upid, node, exitStatus, warnings: Number(warnings[1]) };
            throw await taskFailure(client, node, upid, status, exitStatus, opts.logTailLines ?? 20);
        }
        const remaining = opts.timeoutMs - elapsed;
        if (remaining <= 0) throw new PveTaskTimeoutError(upid, node, opts.timeoutMs, status.status);
        await clock.sleep(Math.min(Math.round(interval), remaining));
        interval = Math.min(maxInterval, interval * factor);
    }
}

async function taskFailure(
    client: PveClient,
    node: string,
    upid: string,
    status: TaskStatus,
    exitStatus: string,
    lines: number,
): Promise<PveTaskError> {
    let logTail: string[];
    try {
        logTail = await getTaskLogTail(client, node, upid, lines);
    } catch (err) {
        // The exit status is the important part; a log that cannot be read must not hide it.
        logTail = [`(task log unavailable: ${err instanceof Error ? err.message : String(err)})`];
    }
    const parsed = isUpid(upid) ? parseUpid(upid) : undefined;
    return new PveTaskError({
        upid,
        node,
        type: status.type ?? parsed?.type ?? "task",
        id: status.id ?? parsed?.id ?? "",
        exitStatus,
        logTail,
    });
}

const taskListSchema = z.array(
    z.looseObject({
        upid: z.string(),
        type: z.string().optional(),
        id: z.string().optional(),
        user: z.string().optional(),
        /** Set on finished tasks of an API token: PVE lists `user@realm!tokenid` as `user` + `tokenid`. */
        tokenid: z.string().optional(),
        starttime: z.number().optional(),
        status: z.string().optional(),
    }),
);
export type TaskListEntry = z.output<typeof taskListSchema>[number];

export interface ListTasksParams {
    vmid?: number;
    typefilter?: string;
    userfilter?: string;
    /** Unix seconds. */
    since?: number;
    /** `active`, `archive` or `all` (PVE's default is archive only: finished tasks). */
    source?: "active" | "archive" | "all";
    limit?: number;
}

/** `GET /nodes/{node}/tasks`: what `verify` callbacks use to find the task a lost POST started. */
export function listTasks(client: PveClient, node: string, params: ListTasksParams = {}): Promise<TaskListEntry[]> {
    return client.get(apiPath`/nodes/${node}/tasks`, { ...params }, taskListSchema);
}

/**
 * The newest task of `type` for `id` started at or after `sinceEpochSeconds` (running or finished) by exactly
 * `user` when given, or undefined. Allow for clock skew between this machine and the node when choosing
 * `sinceEpochSeconds`.
 */
export async function findRecentTask(
    client: PveClient,
    node: string,
    query: {
        type: string;
        id?: string;
        sinceEpochSeconds: number;
        user?: string;
        /** Tasks to leave out (e.g. `isRememberedTask`: ones known before the request was sent). */
        exclude?: (upid: string) => boolean;
    },
): Promise<string | undefined> {
    const tasks = await listTasks(client, node, {
        typefilter: query.type,
        since: query.sinceEpochSeconds,
        source: "all",
        // PVE's userfilter is a substring match against the task's user WITHOUT the token id on finished tasks
        // (Tasks.pm splits `user@realm!tokenid` off before filtering), so a full token id would match nothing:
        // ask for the user part, then keep only tasks of exactly this identity below.
        userfilter: query.user?.replace(/!.*$/, ""),
    });
    const matching = tasks
        .map((t) => ({ entry: t, parsed: isUpid(t.upid) ? parseUpid(t.upid) : undefined }))
        .filter(({ entry, parsed }) => {
            const type = entry.type ?? parsed?.type;
            const id = entry.id ?? parsed?.id;
            const start = entry.starttime ?? parsed?.starttime ?? 0;
            // The UPID carries the full identity (`user@realm!tokenid` for a token) whatever the entry shows.
            const user = parsed?.user ?? (entry.tokenid !== undefined ? `${entry.user}!${entry.tokenid}` : entry.user);
            return (
                type === query.type &&
                (query.id === undefined || id === query.id) &&
                (query.user === undefined || user === query.user) &&
                start >= query.sinceEpochSeconds &&
                !query.exclude?.(entry.upid)
            );
        })
        .sort((a, b) => (b.parsed?.starttime ?? 0) - (a.parsed?.starttime ?? 0));
    return matching[0]?.entry.upid;
}
