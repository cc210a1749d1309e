/**
 * `/version`, `/nodes`, `/cluster/nextid`, `/cluster/resources` and `/nodes/{node}/tasks/{upid}/...`.
 */
import { Envelope, type HandlerContext, type HandlerTable } from "./api";
import { paramError } from "./errors";
import { ctStatus } from "./lxc";
import { decodeUpid } from "./tasks";

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

function taskStatus({ sim, user, params }: HandlerContext): Record<string, unknown> {
    const decoded = decodeUpid(params.upid);
    if (!decoded) throw paramError({ upid: "unable to parse worker upid" });
    const task = sim.tasks.get(params.upid);
    if (!task) throw paramError({ upid: "no such task" });
    if (user !== task.user) sim.access.check(user, `/nodes/${params.node}`, ["Sys.Audit"]);
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
    if (user !== task.user) sim.access.check(user, `/nodes/${params.node}`, ["Sys.Audit"]);
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
    table.on("GET", "/nodes/{node}/tasks/{upid}/status", taskStatus);
    table.on("GET", "/nodes/{node}/tasks/{upid}/log", taskLog);
}
