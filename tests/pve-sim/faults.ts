/**
 * Fault injection for the API side: latency, failed requests (e.g. 500 `got timeout`, 595 `Connection
 * refused`, 596 `Connection timed out` as pveproxy reports unreachable nodes), dropped connections, failing
 * and slow tasks. Reachable in-process and, for the standalone simulator, over HTTP at `/_sim/faults`.
 *
 * `failNext`/`dropNext` act BEFORE the request is handled (nothing happened on the node);
 * `failAfterEffect`/`dropAfterEffect` act AFTER it was carried out in full (a CT created, a task started), and
 * only the answer is lost: a proxy timeout, or a connection that died while the node was answering.
 */
import type { TaskInterventions } from "./tasks";

/** Which requests a fault applies to. `path` is matched against the URL path (`/api2/json/...`). */
export interface RequestMatcher {
    /** HTTP method, case-insensitive. Default: any. */
    method?: string;
    /** A RegExp, or a string compiled as one. Default: any path. */
    path?: RegExp | string;
}

export interface FailSpec extends RequestMatcher {
    status: number;
    /** PVE-style message; its first line becomes the HTTP reason phrase. */
    message: string;
    /** How many matching requests fail. Default 1. */
    count?: number;
}

export interface DropSpec extends RequestMatcher {
    /** How many matching requests have their connection destroyed. Default 1. */
    count?: number;
}

/** What happens to the answer of a request that has been carried out (see `ApiFaults.takeAfterEffect`). */
export type AfterEffectFault = { kind: "fail"; status: number; message: string } | { kind: "drop" };

export interface LatencySpec extends RequestMatcher {
    ms: number;
    /** How many matching requests are delayed. Default: all of them until clear(). */
    count?: number;
}

export interface TaskFailSpec {
    /** Task type (`vzcreate`, `vzstart`, ...) or a RegExp over it. */
    type: string | RegExp;
    /** The exit status the task ends with, e.g. `startup for container '100' failed`. */
    exitstatus: string;
    count?: number;
}

export interface SlowTaskSpec {
    /** Default: every task type. */
    type?: string | RegExp;
    durationMs: number;
    /** Default: all matching tasks until clear(). */
    count?: number;
}

interface Counted<T> {
    spec: T;
    remaining: number;
}

function toRegExp(value: RegExp | string | undefined): RegExp | undefined {
    if (value === undefined) return undefined;
    return typeof value === "string" ? new RegExp(value) : value;
}

function matchesRequest(spec: RequestMatcher, method: string, path: string): boolean {
    if (spec.method && spec.method.toUpperCase() !== method.toUpperCase()) return false;
    const regex = toRegExp(spec.path);
    return !regex || regex.test(path);
}

function matchesType(type: string | RegExp | undefined, actual: string): boolean {
    if (type === undefined) return true;
    return typeof type === "string" ? type === actual : type.test(actual);
}

/** Take one use of the first matching entry; entries that are used up disappear. */
function take<T>(list: Counted<T>[], matches: (spec: T) => boolean): T | undefined {
    const index = list.findIndex((entry) => matches(entry.spec));
    if (index < 0) return undefined;
    const entry = list[index];
    entry.remaining--;
    if (entry.remaining <= 0) list.splice(index, 1);
    return entry.spec;
}

export class ApiFaults implements TaskInterventions {
    private readonly latencies: Counted<LatencySpec>[] = [];
    private readonly failures: Counted<FailSpec>[] = [];
    private readonly drops: Counted<DropSpec>[] = [];
    private readonly failuresAfterEffect: Counted<FailSpec>[] = [];
    private readonly dropsAfterEffect: Counted<DropSpec>[] = [];
    private readonly taskFailures: Counted<TaskFailSpec>[] = [];
    private readonly slowTaskSpecs: Counted<SlowTaskSpec>[] = [];
    /** The SSH side's fault object, when the SSH server provides one. */
    ssh: unknown = undefined;

    /** Delay matching requests by `ms` before they are handled. */
    latency(spec: LatencySpec): this {
        this.latencies.push({ spec, remaining: spec.count ?? Infinity });
        return this;
    }

    /** Answer the next `count` matching requests with `status` and `message` (after authentication is skipped). */
    failNext(spec: FailSpec): this {
        this.failures.push({ spec, remaining: spec.count ?? 1 });
        return this;
    }

    /** Destroy the socket of the next `count` matching requests without answering. */
    dropNext(spec: DropSpec = {}): this {
        this.drops.push({ spec, remaining: spec.count ?? 1 });
        return this;
    }

    /**
     * Carry out the next `count` matching requests in full, then answer them with `status` and `message`
     * instead of their real answer (e.g. 596 `Connection timed out` after the CT was created).
     */
    failAfterEffect(spec: FailSpec): this {
        this.failuresAfterEffect.push({ spec, remaining: spec.count ?? 1 });
        return this;
    }

    /** Carry out the next `count` matching requests in full, then destroy their socket before answering. */
    dropAfterEffect(spec: DropSpec = {}): this {
        this.dropsAfterEffect.push({ spec, remaining: spec.count ?? 1 });
        return this;
    }

    /** Make the next `count` tasks of a type end with `TASK ERROR: <exitstatus>`. */
    failNextTask(spec: TaskFailSpec): this {
        this.taskFailures.push({ spec, remaining: spec.count ?? 1 });
        return this;
    }

    /** Make tasks take `durationMs` (they keep their locks meanwhile). */
    slowTasks(spec: SlowTaskSpec): this {
        this.slowTaskSpecs.push({ spec, remaining: spec.count ?? Infinity });
        return this;
    }

    clear(): void {
        const lists = [
            this.latencies,
            this.failures,
            this.drops,
            this.failuresAfterEffect,
            this.dropsAfterEffect,
            this.taskFailures,
            this.slowTaskSpecs,
        ];
        for (const list of lists) list.length = 0;
    }

    /** A JSON-friendly view of what is armed (for `GET /_sim/faults`). */
    describe(): Record<string, unknown[]> {
        const show = <T extends object>(list: Counted<T>[]): unknown[] =>
            list.map(({ spec, remaining }) => {
                const out: Record<string, unknown> = {};
                for (const [key, value] of Object.entries(spec))
                    out[key] = value instanceof RegExp ? value.source : value;
                out.remaining = Number.isFinite(remaining) ? remaining : null;
                return out;
            });
        return {
            latency: show(this.latencies),
            failNext: show(this.failures),
            dropNext: show(this.drops),
            failAfterEffect: show(this.failuresAfterEffect),
            dropAfterEffect: show(this.dropsAfterEffect),
            failNextTask: show(this.taskFailures),
            slowTasks: show(this.slowTaskSpecs),
        };
    }

    // ---- consumed by the server and the task manager

    takeLatency(method: string, path: string): number {
        return take(this.latencies, (spec) => matchesRequest(spec, method, path))?.ms ?? 0;
    }

    takeFailure(method: string, path: string): FailSpec | undefined {
        return take(this.failures, (spec) => matchesRequest(spec, method, path));
    }

    takeDrop(method: string, path: string): boolean {
        return take(this.drops, (spec) => matchesRequest(spec, method, path)) !== undefined;
    }

    /**
     * Taken when a request is about to be handled (authenticated, parameters read): what to do with its answer
     * once it has been carried out. A matching drop wins over a matching failure, as before the effect.
     */
    takeAfterEffect(method: string, path: string): AfterEffectFault | undefined {
        if (take(this.dropsAfterEffect, (spec) => matchesRequest(spec, method, path))) return { kind: "drop" };
        const failure = take(this.failuresAfterEffect, (spec) => matchesRequest(spec, method, path));
        return failure && { kind: "fail", status: failure.status, message: failure.message };
    }

    durationFor(type: string): number | undefined {
        return take(this.slowTaskSpecs, (spec) => matchesType(spec.type, type))?.durationMs;
    }

    failureFor(type: string): string | undefined {
        return take(this.taskFailures, (spec) => matchesType(spec.type, type))?.exitstatus;
    }

    /**
     * Arms a fault from its JSON description (the `/_sim/faults` body):
     * `{"kind": "failNext", "method": "POST", "path": "/lxc$", "status": 500, "message": "got timeout"}`.
     */
    applyJson(body: Record<string, unknown>): void {
        const str = (key: string): string | undefined =>
            typeof body[key] === "string" ? (body[key] as string) : undefined;
        const num = (key: string): number | undefined =>
            typeof body[key] === "number" ? (body[key] as number) : undefined;
        const matcher: RequestMatcher = { method: str("method"), path: str("path") };
        switch (body.kind) {
            case "latency":
                this.latency({ ...matcher, ms: num("ms") ?? 0, count: num("count") });
                return;
            case "failNext":
            case "failAfterEffect": {
                const spec: FailSpec = {
                    ...matcher,
                    status: num("status") ?? 500,
                    message: str("message") ?? "got timeout",
                    count: num("count"),
                };
                if (body.kind === "failNext") this.failNext(spec);
                else this.failAfterEffect(spec);
                return;
            }
            case "dropNext":
                this.dropNext({ ...matcher, count: num("count") });
                return;
            case "dropAfterEffect":
                this.dropAfterEffect({ ...matcher, count: num("count") });
                return;
            case "failNextTask":
                this.failNextTask({
                    type: new RegExp(str("type") ?? ".*"),
                    exitstatus: str("exitstatus") ?? "failed",
                    count: num("count"),
                });
                return;
            case "slowTasks": {
                const type = str("type");
                this.slowTasks({
                    type: type === undefined ? undefined : new RegExp(type),
                    durationMs: num("durationMs") ?? 0,
                    count: num("count"),
                });
                return;
            }
            default:
                throw new Error(`unknown fault kind '${String(body.kind)}'`);
        }
    }
}
