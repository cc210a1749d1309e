/**
 * `/version`, `/nodes`, `/cluster/nextid`, `/cluster/resources`, `/nodes/{node}/tasks` and
 * `/nodes/{node}/tasks/{upid}/...` (pve-manager PVE::API2::Tasks).
 */
import { splitList } from "../../providers/proxmox/propstrings";
import { Envelope, type HandlerContext, type HandlerTable } from "./api";
import { paramError } from "./errors";
import { ctStatus } from "./lxc";
import { decodeUpid, type Task } from "./tasks";

/** GET /cluster/nextid: the lowest free id ≥ 100, not reserved (two callers get the same id). */
function nextid({ sim, params }: HandlerContext): string {
    if (params.vmid !== undefined) {
        if (sim.containers.has(Number(params.vmid))) throw paramError({ vmid: `VM ${params.vmid} already exists` });
        return params.vmid;
    }
    for (let id = 100; id < 1_000_000; id++) {
        // PVE's JSON encoder emits this as a string: the id was used as a hash key before it is returned.
        if (!sim.containers.has(id)) return String(id);
    }
    throw new Error("unable to get any free VMID in range [100, 999999]");
}

function resources({ sim, user, params }: HandlerContext): Record<string, unknown>[] {
    const result: Record<string, unknown>[] = [];
    const type = params.type;
    if (type === undefined || type === "vm") {
        for (const ct of [...sim.containers.values()].sort((a, b) => a.vmid - b.vmid)) {
            if (!sim.access.check(user, `/vms/${ct.vmid}`, ["VM.Audit"], true)) continue;
            const status = ctStatus(sim, ct);
            result.push({ id: `lxc/${ct.vmid}`, node: sim.node, ...status, maxcpu: status.cpus, type: "lxc" });
        }
    }
    if (type === undefined || type === "storage") {
        for (const storage of sim.storages.values()) {
            if (
                !sim.access.checkAny(
                    user,
                    `/storage/${storage.id}`,
                    ["Datastore.Audit", "Datastore.AllocateSpace"],
                    true,
                )
            )
                continue;
            const used = [...storage.volumes.values()].reduce((sum, volume) => sum + volume.size, 0);
            result.push({
                id: `storage/${sim.node}/${storage.id}`,
                type: "storage",
                storage: storage.id,
                node: sim.node,
                status: "available",
                plugintype: storage.type,
                content: [...storage.content].sort().join(","),
                shared: 0,
                disk: used,
                maxdisk: storage.total,
            });
        }
    }
    if (type === undefined || type === "node") {
        result.push({
            id: `node/${sim.node}`,
            type: "node",
            node: sim.node,
            status: "online",
            level: "",
            maxcpu: 4,
            cpu: 0.02,
            maxmem: 16 * 1024 ** 3,
            mem: 2 * 1024 ** 3,
            uptime: Math.floor(process.uptime()),
        });
    }
    return result;
}

/** PVE::AccessControl split_tokenid on a task's user (Tasks.pm convert_token_task). */
function splitTaskUser(taskUser: string): { user: string; tokenid?: string } {
    const match = /^(.+)!([^!]+)$/.exec(taskUser);
    return match ? { user: match[1], tokenid: match[2] } : { user: taskUser };
}

/**
 * Tasks.pm check_task_user on a task after convert_token_task: a token sees only the tasks it started itself;
 * a user sees their own and those of their tokens.
 */
function checkTaskUser(user: string, task: { user: string; tokenid?: string }): boolean {
    if (task.tokenid !== undefined) return user === `${task.user}!${task.tokenid}` || user === task.user;
    return user === task.user;
}

/** Ownership as the status and log endpoints check it (they convert the UPID's user first). */
function ownsTask(user: string, taskUser: string): boolean {
    return checkTaskUser(user, splitTaskUser(taskUser));
}

/** upid_normalize_status_type (PVE::Tools): a running task has no status and counts as `unknown`. */
function statusType(status: string | undefined): string {
    if (!status) return "unknown";
    if (status === "OK") return "ok";
    if (/^WARNINGS: \d+$/.test(status)) return "warning";
    if (status === "unexpected status") return "unknown";
    return "error";
}

/**
 * GET /nodes/{node}/tasks (Tasks.pm node_tasks). With `source` active or all: the running tasks first, in the
 * order of PVE's active file (oldest first), as that file has them (status `RUNNING`, `saved: "0"`, the user
 * as in the UPID). Then, unless `source` is active: the archive read backwards (the most recently finished
 * first) with `endtime` and `status`, token tasks converted to `user` + `tokenid`. Tasks.pm converts only the
 * archived entries, so `userfilter` (a case-insensitive substring match) and the ownership rule see
 * `root@pam!sim` on a running task but `root@pam` on a finished one. `total` counts every task that passed
 * the filters, before start/limit.
 */
function taskList({ sim, user, params }: HandlerContext): Envelope {
    const start = Number(params.start ?? "0");
    let limit = Number(params.limit ?? "50");
    const errors = params.errors === "1";
    const source = params.source ?? "archive";
    const since = params.since === undefined ? undefined : Number(params.since);
    const until = params.until === undefined ? undefined : Number(params.until);
    const allowed = new Set(["ok", "warning", "error", "unknown"]);
    if (params.statusfilter !== undefined && !errors) {
        allowed.clear();
        for (const item of splitList(params.statusfilter)) allowed.add(item.toLowerCase());
    } else if (errors) {
        allowed.delete("ok");
    }
    const auditor = sim.access.check(user, `/nodes/${params.node}`, ["Sys.Audit"], true);
    const userfilter = params.userfilter ? params.userfilter.toLowerCase() : undefined;
    let count = 0;
    const result: Record<string, unknown>[] = [];

    /** Tasks.pm $filter_task: true when the entry is left out. */
    const filtered = (entry: ListedTask): boolean => {
        if (userfilter !== undefined && !entry.user.toLowerCase().includes(userfilter)) return true;
        if (!(auditor || checkTaskUser(user, entry))) return true;
        if (params.typefilter && entry.type !== params.typefilter) return true;
        if (params.vmid && (!entry.id || entry.id !== params.vmid)) return true;
        if (since !== undefined && entry.starttime < since) return true;
        if (until !== undefined && entry.starttime > until) return true;
        if (!allowed.has(statusType(entry.status))) return true;
        if (count++ < start) return true;
        return limit <= 0;
    };

    if (source === "active" || source === "all") {
        for (const task of sim.tasks.active()) {
            const entry: ListedTask = { ...decodedFields(task), user: task.user, saved: "0" };
            if (filtered(entry)) continue;
            result.push({ ...entry, status: "RUNNING" });
            limit--;
        }
    }
    if (source !== "active") {
        for (const task of sim.tasks.archived()) {
            const entry: ListedTask = {
                ...decodedFields(task),
                ...splitTaskUser(task.user),
                endtime: task.endtime,
                status: task.exitstatus,
            };
            if (filtered(entry)) continue;
            result.push(entry);
            limit--;
        }
    }
    // pve-manager's rest_handler copies `total` into the answer only when it is true (not 0).
    return new Envelope(result, count > 0 ? { total: count } : {});
}

/** One entry of the task list (upid_decode's fields plus what the index or the active file adds). */
type ListedTask = {
    upid: string;
    node: string;
    pid: number;
    pstart: number;
    starttime: number;
    type: string;
    id: string;
    user: string;
    tokenid?: string;
    endtime?: number;
    status?: string;
    saved?: string;
};

function decodedFields(task: Task): Omit<ListedTask, "user"> {
    return {
        upid: task.upid,
        node: task.node,
        pid: task.pid,
        pstart: task.pstart,
        starttime: task.starttime,
        type: task.type,
        id: task.id,
    };
}

function taskStatus({ sim, user, params }: HandlerContext): Record<string, unknown> {
    const decoded = decodeUpid(params.upid);
    if (!decoded) throw paramError({ upid: "unable to parse worker upid" });
    const task = sim.tasks.get(params.upid);
    if (!task) throw paramError({ upid: "no such task" });
    if (!ownsTask(user, task.user)) sim.access.check(user, `/nodes/${params.node}`, ["Sys.Audit"]);
    const result: Record<string, unknown> = {
        upid: task.upid,
        node: task.node,
        pid: task.pid,
        pstart: task.pstart,
        starttime: task.starttime,
        type: task.type,
        id: task.id,
        user: task.user,
        status: task.status,
    };
    if (task.status === "stopped") result.exitstatus = task.exitstatus;
    return result;
}

function taskLog({ sim, user, params }: HandlerContext): Envelope {
    const decoded = decodeUpid(params.upid);
    if (!decoded) throw paramError({ upid: "unable to parse worker upid" });
    const task = sim.tasks.get(params.upid);
    if (!task) throw paramError({ upid: "no such task" });
    if (!ownsTask(user, task.user)) sim.access.check(user, `/nodes/${params.node}`, ["Sys.Audit"]);
    const start = Number(params.start ?? "0");
    const limit = Number(params.limit ?? "50");
    const lines = task.log.length > 0 ? task.log : ["no content"];
    const page = lines
        .slice(start, limit > 0 ? start + limit : undefined)
        .map((t, index) => ({ n: start + index + 1, t }));
    return new Envelope(page, { total: lines.length });
}

export function registerCluster(table: HandlerTable): void {
    table.on("GET", "/version", ({ sim }) => ({ ...sim.versionInfo, console: "xtermjs" }));
    table.on("GET", "/nodes", ({ sim }) => [
        {
            node: sim.node,
            id: `node/${sim.node}`,
            type: "node",
            status: "online",
            level: "",
            maxcpu: 4,
            cpu: 0.02,
            maxmem: 16 * 1024 ** 3,
            mem: 2 * 1024 ** 3,
            uptime: Math.floor(process.uptime()),
        },
    ]);
    table.on("GET", "/cluster/nextid", nextid);
    table.on("GET", "/cluster/resources", resources);
    table.on("GET", "/nodes/{node}/tasks", taskList);
    table.on("GET", "/nodes/{node}/tasks/{upid}/status", taskStatus);
    table.on("GET", "/nodes/{node}/tasks/{upid}/log", taskLog);
}
