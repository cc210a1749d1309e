/**
 * The critical-path bound of a deployment: the longest chain of dependent resources in the engine's own graph (the
 * exported state's `dependencies`, with a dependency on a component meaning all of its descendants), each resource
 * weighted by the PVE tasks, API requests and SSH steps it performed.
 *
 * Attribution. Every API request, PVE task and SSH command the simulator saw during the deploy has a key: `ct:<vmid>`
 * (`/nodes/*\/lxc/<vmid>...`, `POST /lxc` with that vmid, vz* tasks, `pct exec <vmid>`), `network`
 * (`/nodes/*\/network...`, srvreload), `storage` (storage content, aplinfo, download tasks), `access`
 * (`/access/*` but the ticket) or `host` (an SSH command outside any container). API traffic (requests and tasks) goes
 * to the resource kinds that use the API (Lxc → its `ct:<vmid>`, Bridge → network, Template → storage, Role/User/
 * Acl/ApiToken → access); SSH commands go to File and Exec resources (`ct:<vmid>` or `host`). Where several
 * resources share a key (the Files of one container, three Bridges), an operation goes to the resource whose step
 * window (from the engine's events) contains it, the least-loaded one when several do. Requests with no key (version,
 * nodes, the auth ticket, nextid) are shared set-up and weigh nothing.
 *
 * Weights. A request costs the simulated latency; a task costs its measured run time in the simulator (the modelled
 * duration plus the simulator's own work, e.g. building the container's tree) plus one latency for the status poll
 * that sees it end; the other polls of a task cost nothing (they overlap it). An SSH command costs its server-side
 * duration (the injected per-command delay plus running the command). random/tls resources, providers and
 * components weigh nothing: no PVE task or SSH step.
 */

export interface RequestOp {
    /** ms since the epoch (arrival at the simulator). */
    time: number;
    method: string;
    path: string;
    params: Record<string, string>;
}

export interface TaskOp {
    upid: string;
    type: string;
    id: string;
    start: number;
    end: number;
}

export interface CommandOp {
    time: number;
    vmid?: number;
    durationMs: number;
}

export interface OpTrace {
    requests: RequestOp[];
    tasks: TaskOp[];
    commands: CommandOp[];
}

export interface GraphResource {
    urn: string;
    type: string;
    custom?: boolean;
    id?: string;
    parent?: string;
    dependencies?: string[];
    outputs?: Record<string, unknown>;
}

/** A step's window as the engine's events report it (ms since the epoch). */
export interface StepWindow {
    start: number;
    end: number;
}

export interface ChainLink {
    urn: string;
    weightMs: number;
}

export interface CriticalPath {
    /** Length of the longest chain, ms. */
    lengthMs: number;
    /** The chain, first resource first (resources of weight 0 left out). */
    chain: ChainLink[];
}

export interface Attribution {
    /** Modelled weight of every custom resource, ms. */
    weights: Map<string, number>;
    /** Operations that found no resource (unkeyed requests, or keys no resource has). */
    unattributed: { requests: number; tasks: number; commands: number };
    /** Sum of all weights, ms: the work a perfectly parallel deploy still has to do. */
    totalWorkMs: number;
}

const DYNAMIC_PREFIX = "pulumi-nodejs:dynamic/proxmox:";

type Channel = "api" | "ssh";

/** Which key and channel a resource's operations have; undefined for resources that do no PVE work. */
export function resourceKey(r: GraphResource): { channel: Channel; key: string } | undefined {
    if (!r.type.startsWith(DYNAMIC_PREFIX)) return undefined;
    const kind = r.type.slice(DYNAMIC_PREFIX.length);
    const vmid = r.outputs?.vmid;
    switch (kind) {
        case "Lxc":
            return { channel: "api", key: `ct:${r.id ?? String(vmid)}` };
        case "File":
        case "Exec":
            return { channel: "ssh", key: typeof vmid === "number" ? `ct:${vmid}` : "host" };
        case "Bridge":
            return { channel: "api", key: "network" };
        case "Template":
            return { channel: "api", key: "storage" };
        case "Role":
        case "User":
        case "Acl":
        case "ApiToken":
            return { channel: "api", key: "access" };
        default:
            return undefined;
    }
}

/** `{ key }` of a request, `{ poll }` for a task status/log poll, undefined for shared set-up requests. */
export function requestKey(op: RequestOp): { key: string } | { poll: string } | undefined {
    const poll = /^\/nodes\/[^/]+\/tasks\/([^/]+)\/(status|log)$/.exec(op.path);
    if (poll) return { poll: decodeURIComponent(poll[1]) };
    const ct = /^\/nodes\/[^/]+\/lxc\/(\d+)(\/|$)/.exec(op.path);
    if (ct) return { key: `ct:${ct[1]}` };
    if (/^\/nodes\/[^/]+\/lxc$/.test(op.path) && op.method === "POST" && op.params.vmid !== undefined) {
        return { key: `ct:${op.params.vmid}` };
    }
    if (/^\/nodes\/[^/]+\/network(\/|$)/.test(op.path)) return { key: "network" };
    if (/^\/nodes\/[^/]+\/(storage|aplinfo)(\/|$)/.test(op.path)) return { key: "storage" };
    if (op.path === "/access/ticket") return undefined;
    if (op.path.startsWith("/access/")) return { key: "access" };
    return undefined;
}

export function taskKey(task: Pick<TaskOp, "type" | "id">): string | undefined {
    if (/^vz/.test(task.type) || task.type === "resize") return `ct:${task.id}`;
    if (task.type === "srvreload") return "network";
    if (task.type === "download" || task.type === "imgdel") return "storage";
    return undefined;
}

/** Spreads every operation over the resources (see the file comment) and sums their weights. */
export function attribute(
    resources: GraphResource[],
    trace: OpTrace,
    windows: Map<string, StepWindow>,
    opts: { requestLatencyMs: number; slopMs?: number },
): Attribution {
    const slop = opts.slopMs ?? 300;
    const weights = new Map<string, number>();
    const groups = new Map<string, { urn: string; window?: StepWindow; ops: number }[]>();
    for (const r of resources) {
        const k = resourceKey(r);
        if (!k) continue;
        weights.set(r.urn, 0);
        const group = `${k.channel}|${k.key}`;
        if (!groups.has(group)) groups.set(group, []);
        groups.get(group)!.push({ urn: r.urn, window: windows.get(r.urn), ops: 0 });
    }
    const unattributed = { requests: 0, tasks: 0, commands: 0 };
    const assign = (channel: Channel, key: string | undefined, time: number, cost: number): boolean => {
        if (key === undefined) return false;
        const members = groups.get(`${channel}|${key}`);
        if (!members || members.length === 0) return false;
        let pick = members[0];
        if (members.length > 1) {
            const inside = members.filter(
                (m) => m.window !== undefined && m.window.start - slop <= time && time <= m.window.end + slop,
            );
            if (inside.length > 0) {
                pick = inside.reduce((a, b) =>
                    b.ops < a.ops || (b.ops === a.ops && b.window!.start < a.window!.start) ? b : a,
                );
            } else {
                // Outside every window (clock slop): the nearest window.
                const distance = (m: (typeof members)[number]): number =>
                    m.window === undefined ? Infinity : Math.max(0, m.window.start - time, time - m.window.end);
                pick = members.reduce((a, b) => (distance(b) < distance(a) ? b : a));
            }
        }
        pick.ops++;
        weights.set(pick.urn, (weights.get(pick.urn) ?? 0) + cost);
        return true;
    };
    for (const req of trace.requests) {
        const k = requestKey(req);
        if (k === undefined) {
            unattributed.requests++;
            continue;
        }
        if ("poll" in k) continue;
        if (!assign("api", k.key, req.time, opts.requestLatencyMs)) unattributed.requests++;
    }
    for (const task of trace.tasks) {
        const cost = task.end - task.start + opts.requestLatencyMs;
        if (!assign("api", taskKey(task), task.start, cost)) unattributed.tasks++;
    }
    for (const cmd of trace.commands) {
        const key = cmd.vmid === undefined ? "host" : `ct:${cmd.vmid}`;
        if (!assign("ssh", key, cmd.time, cmd.durationMs)) unattributed.commands++;
    }
    let totalWorkMs = 0;
    for (const w of weights.values()) totalWorkMs += w;
    return { weights, unattributed, totalWorkMs };
}

/**
 * The longest weighted chain through the dependency graph. A resource starts when all of its dependencies have
 * finished; a component finishes when all of its descendants have, so depending on a component means waiting for
 * every resource inside it. Resources without a weight count 0.
 */
export function longestChain(resources: GraphResource[], weightOf: (urn: string) => number): CriticalPath {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const children = new Map<string, string[]>();
    for (const r of resources) {
        if (r.parent === undefined) continue;
        if (!children.has(r.parent)) children.set(r.parent, []);
        children.get(r.parent)!.push(r.urn);
    }
    const isCustom = (r: GraphResource): boolean => r.custom === true;
    const finish = new Map<string, number>();
    const via = new Map<string, string | undefined>();
    const visiting = new Set<string>();
    const finishOf = (urn: string): number => {
        const known = finish.get(urn);
        if (known !== undefined) return known;
        const r = byUrn.get(urn);
        if (!r || visiting.has(urn)) return 0;
        visiting.add(urn);
        let start = 0;
        let before: string | undefined;
        for (const dep of r.dependencies ?? []) {
            const f = finishOf(dep);
            if (f > start) {
                start = f;
                before = dep;
            }
        }
        let end = start + (isCustom(r) ? weightOf(urn) : 0);
        if (!isCustom(r)) {
            // A component is done when everything inside it is.
            for (const child of children.get(urn) ?? []) {
                const f = finishOf(child);
                if (f > end) {
                    end = f;
                    before = child;
                }
            }
        }
        visiting.delete(urn);
        finish.set(urn, end);
        via.set(urn, before);
        return end;
    };
    let lengthMs = 0;
    let last: string | undefined;
    for (const r of resources) {
        const f = finishOf(r.urn);
        if (f > lengthMs) {
            lengthMs = f;
            last = r.urn;
        }
    }
    const chain: ChainLink[] = [];
    for (let at = last; at !== undefined; at = via.get(at)) {
        const r = byUrn.get(at);
        const w = r && isCustom(r) ? weightOf(at) : 0;
        if (w > 0) chain.unshift({ urn: at, weightMs: w });
    }
    return { lengthMs, chain };
}
