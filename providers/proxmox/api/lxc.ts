/**
 * LXC containers: `/nodes/{node}/lxc/...`. Thin wrappers: they send what they are given and validate what
 * comes back; normalising property strings (net0, features, rootfs, tags) is propstrings.ts's job.
 */
import { z } from "zod";
import type { PveClient } from "../client";
import { apiPath, FormValue } from "../form";
import { upidSchema } from "../tasks";
import { existsBy, noData, pveBool, pveInt, TaskStartOptions, verifyByTask } from "./common";

/**
 * `POST /nodes/{node}/lxc` parameters (PVE 9.1 schema; PVE 8 lacks entrypoint/env/ha-managed).
 * Root-only on PVE: any `features` other than nesting, and any features on a privileged CT (PVE-FACTS).
 */
export type LxcCreateParams = {
    vmid: number;
    /** Volume id of the template, e.g. `local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst`. */
    ostemplate: string;
    hostname?: string;
    cores?: number;
    /** MiB. */
    memory?: number;
    /** MiB. */
    swap?: number;
    /** e.g. `local-zfs:32` (GiB on that storage). */
    rootfs?: string;
    storage?: string;
    features?: string;
    /** PVE's default is 1. */
    unprivileged?: boolean;
    onboot?: boolean;
    startup?: string;
    nameserver?: string;
    searchdomain?: string;
    /** `;`-separated; PVE lowercases, sorts and deduplicates. */
    tags?: string;
    description?: string;
    /** Root password in the CT (min 5 characters). Sent in the body only; never logged or put in errors. */
    password?: string;
    "ssh-public-keys"?: string;
    pool?: string;
    start?: boolean;
    arch?: string;
    ostype?: string;
    timezone?: string;
    cmode?: "shell" | "console" | "tty";
    console?: boolean;
    tty?: number;
    cpulimit?: number;
    cpuunits?: number;
    protection?: boolean;
    hookscript?: string;
    force?: boolean;
    unique?: boolean;
    "ignore-unpack-errors"?: boolean;
    entrypoint?: string;
    env?: string;
    "ha-managed"?: boolean;
    [net: `net${number}`]: string | undefined;
    [mp: `mp${number}`]: string | undefined;
    [dev: `dev${number}`]: string | undefined;
};

/** Config keys to set in `PUT .../config` (strings, numbers or booleans as PVE's schema types them). */
export type LxcConfigUpdate = Readonly<Record<string, FormValue>>;

export type LxcCreateOptions = TaskStartOptions;

/**
 * `POST /nodes/{node}/lxc` → UPID of the `vzcreate` task. When the outcome of the request is unknown, the
 * default verification looks for the vzcreate task of this vmid; failing that, an existing CT with no task found
 * is reported (not adopted), and an absent CT means sending again is safe (a duplicate cannot happen: the vmid
 * is unique, a second create fails with `CT n already exists`).
 */
export function createLxc(
    client: PveClient,
    node: string,
    params: LxcCreateParams,
    opts: LxcCreateOptions = {},
): Promise<string> {
    return client.post(apiPath`/nodes/${node}/lxc`, params, upidSchema, {
        verify: opts.verify ?? verifyLxcCreate(client, node, params.vmid),
    });
}

/** The default verification of createLxc (exported for callers that wrap it). */
export function verifyLxcCreate(client: PveClient, node: string, vmid: number) {
    const byTask = verifyByTask(client, node, "vzcreate", String(vmid));
    return async (failure: Error) => {
        let lookupProblem = "";
        try {
            const outcome = await byTask(failure);
            if (outcome.tookEffect) return outcome;
        } catch (err) {
            lookupProblem = ` (task lookup failed: ${err instanceof Error ? err.message : String(err)})`;
        }
        if (!(await lxcExists(client, node, vmid))) return { tookEffect: false as const };
        throw new Error(
            `CT ${vmid} exists now but the task that created it was not found${lookupProblem}; ` +
                "check it on the node, then delete it or import its state before running again",
        );
    };
}

const lxcListSchema = z.array(
    z.looseObject({
        vmid: pveInt,
        status: z.string(),
        name: z.string().optional(),
        lock: z.string().optional(),
        tags: z.string().optional(),
        template: pveBool.optional(),
    }),
);
export type LxcListEntry = z.output<typeof lxcListSchema>[number];

/** `GET /nodes/{node}/lxc`. */
export function listLxc(client: PveClient, node: string): Promise<LxcListEntry[]> {
    return client.get(apiPath`/nodes/${node}/lxc`, undefined, lxcListSchema);
}

const lxcConfigSchema = z.looseObject({ digest: z.string() });
/** A CT config: `digest` plus every key PVE returned (numbers for cores/memory/swap, strings elsewhere). */
export type LxcConfig = { digest: string } & Record<string, unknown>;

/**
 * `GET .../config`: pending changes merged in, unless `current` (then exactly what the running CT uses).
 * Missing CT: PveApiError 500 `Configuration file 'nodes/<node>/lxc/<vmid>.conf' does not exist` (isPveNotFound).
 */
export function getLxcConfig(
    client: PveClient,
    node: string,
    vmid: number,
    opts: { current?: boolean; snapshot?: string } = {},
): Promise<LxcConfig> {
    return client.get(
        apiPath`/nodes/${node}/lxc/${vmid}/config`,
        { current: opts.current ? true : undefined, snapshot: opts.snapshot },
        lxcConfigSchema,
    );
}

/** A config value as PVE would print it (numbers as decimal strings), or undefined when unset. */
export function lxcConfigValue(config: LxcConfig, key: string): string | undefined {
    const value = config[key];
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(Number(value));
    return undefined;
}

export async function lxcExists(client: PveClient, node: string, vmid: number): Promise<boolean> {
    return existsBy(() => getLxcConfig(client, node, vmid));
}

/**
 * `PUT .../config` (synchronous, returns null). `delete` lists keys to remove, `revert` pending changes to
 * drop. With `digest`, PVE refuses the update if the config changed since it was read; such a PUT is not blindly
 * repeated (a resend after an unnoticed success would be refused for the digest our own write changed): after an
 * ambiguous failure the config is re-read, and only an unchanged digest means it is safe to send again.
 */
export function updateLxcConfig(
    client: PveClient,
    node: string,
    vmid: number,
    set: LxcConfigUpdate,
    opts: { delete?: readonly string[]; revert?: readonly string[]; digest?: string } = {},
): Promise<void> {
    const params = {
        ...set,
        delete: opts.delete && opts.delete.length > 0 ? opts.delete.join(",") : undefined,
        revert: opts.revert && opts.revert.length > 0 ? opts.revert.join(",") : undefined,
        digest: opts.digest,
    };
    const digest = opts.digest;
    if (digest === undefined) return client.put(apiPath`/nodes/${node}/lxc/${vmid}/config`, params, noData);
    return client.put(apiPath`/nodes/${node}/lxc/${vmid}/config`, params, noData, {
        idempotent: false,
        verify: async () => {
            const now = await getLxcConfig(client, node, vmid);
            if (now.digest === digest) return { tookEffect: false };
            throw new Error(
                `CT ${vmid} config digest changed from ${digest} to ${now.digest}; cannot tell whether this update ` +
                    "or another writer changed it",
            );
        },
    });
}

const pendingSchema = z.array(
    z.looseObject({
        key: z.string(),
        value: z.union([z.string(), z.number()]).optional(),
        pending: z.union([z.string(), z.number()]).optional(),
        delete: pveInt.optional(),
    }),
);

export interface LxcPendingEntry {
    key: string;
    /** Current (running) value. */
    value?: string;
    /** Value that takes effect at the next reboot. */
    pending?: string;
    /** 1 or 2 when the key is pending deletion. */
    delete?: number;
}

/** `GET .../pending`: every config key with its current and pending value. */
export async function getLxcPending(client: PveClient, node: string, vmid: number): Promise<LxcPendingEntry[]> {
    const entries = await client.get(apiPath`/nodes/${node}/lxc/${vmid}/pending`, undefined, pendingSchema);
    return entries.map((e) => {
        const out: LxcPendingEntry = { key: e.key };
        if (e.value !== undefined) out.value = String(e.value);
        if (e.pending !== undefined) out.pending = String(e.pending);
        if (e.delete !== undefined && e.delete !== 0) out.delete = e.delete;
        return out;
    });
}

const statusSchema = z.looseObject({
    status: z.enum(["running", "stopped"]),
    lock: z.string().optional(),
    name: z.string().optional(),
    vmid: pveInt.optional(),
    uptime: z.number().optional(),
    mem: z.number().optional(),
    maxmem: z.number().optional(),
    tags: z.string().optional(),
});
export type LxcStatus = z.output<typeof statusSchema>;

/** `GET .../status/current`. */
export function getLxcStatus(client: PveClient, node: string, vmid: number): Promise<LxcStatus> {
    return client.get(apiPath`/nodes/${node}/lxc/${vmid}/status/current`, undefined, statusSchema);
}

type PowerAction = "start" | "stop" | "shutdown" | "reboot";
const TASK_TYPE: Record<PowerAction, string> = {
    start: "vzstart",
    stop: "vzstop",
    shutdown: "vzshutdown",
    reboot: "vzreboot",
};

function power(
    client: PveClient,
    node: string,
    vmid: number,
    action: PowerAction,
    params: Readonly<Record<string, FormValue>>,
    opts: TaskStartOptions,
): Promise<string> {
    return client.post(apiPath`/nodes/${node}/lxc/${vmid}/status/${action}`, params, upidSchema, {
        verify: opts.verify ?? verifyByTask(client, node, TASK_TYPE[action], String(vmid)),
    });
}

/** → UPID (vzstart). Already running: 500 `CT n already running`. */
export function startLxc(client: PveClient, node: string, vmid: number, opts: TaskStartOptions = {}): Promise<string> {
    return power(client, node, vmid, "start", {}, opts);
}

/** Hard stop → UPID (vzstop). `overruleShutdown` aborts a running shutdown task first. */
export function stopLxc(
    client: PveClient,
    node: string,
    vmid: number,
    opts: TaskStartOptions & { skiplock?: boolean; overruleShutdown?: boolean } = {},
): Promise<string> {
    return power(
        client,
        node,
        vmid,
        "stop",
        { skiplock: opts.skiplock, "overrule-shutdown": opts.overruleShutdown },
        opts,
    );
}

/** Clean shutdown → UPID (vzshutdown); `forceStop` stops it if it does not go down within `timeout` seconds. */
export function shutdownLxc(
    client: PveClient,
    node: string,
    vmid: number,
    opts: TaskStartOptions & { timeout?: number; forceStop?: boolean } = {},
): Promise<string> {
    return power(client, node, vmid, "shutdown", { timeout: opts.timeout, forceStop: opts.forceStop }, opts);
}

/** → UPID (vzreboot): how pending config (features, nameserver, ...) takes effect. */
export function rebootLxc(
    client: PveClient,
    node: string,
    vmid: number,
    opts: TaskStartOptions & { timeout?: number } = {},
): Promise<string> {
    return power(client, node, vmid, "reboot", { timeout: opts.timeout }, opts);
}

/**
 * `DELETE /nodes/{node}/lxc/{vmid}` → UPID (vzdestroy). Defaults purge=1 and destroy-unreferenced-disks=1 so
 * nothing of ours lingers in ACLs, backup jobs or storage. Running CT without `force`: 500 `unable to destroy
 * CT n - container is running`. Not blindly repeated: a resend after an unnoticed success fails with
 * `does not exist`; the default verification looks for the vzdestroy task.
 */
export function deleteLxc(
    client: PveClient,
    node: string,
    vmid: number,
    opts: TaskStartOptions & { purge?: boolean; destroyUnreferencedDisks?: boolean; force?: boolean } = {},
): Promise<string> {
    return client.delete(
        apiPath`/nodes/${node}/lxc/${vmid}`,
        {
            purge: opts.purge ?? true,
            "destroy-unreferenced-disks": opts.destroyUnreferencedDisks ?? true,
            force: opts.force,
        },
        upidSchema,
        { idempotent: false, verify: opts.verify ?? verifyByTask(client, node, "vzdestroy", String(vmid)) },
    );
}

const interfacesSchema = z.array(
    z.looseObject({
        name: z.string(),
        hwaddr: z.string().optional(),
        "hardware-address": z.string().optional(),
        inet: z.string().optional(),
        inet6: z.string().optional(),
        "ip-addresses": z
            .array(
                z.looseObject({
                    "ip-address": z.string().optional(),
                    "ip-address-type": z.string().optional(),
                    prefix: pveInt.optional(),
                }),
            )
            .optional(),
    }),
);
export type LxcInterface = z.output<typeof interfacesSchema>[number];

/** `GET .../interfaces`: live addresses of a running CT (how DHCP addresses are discovered). */
export function getLxcInterfaces(client: PveClient, node: string, vmid: number): Promise<LxcInterface[]> {
    return client.get(apiPath`/nodes/${node}/lxc/${vmid}/interfaces`, undefined, interfacesSchema);
}

/**
 * `PUT .../resize` (disk `rootfs`/`mpN`, size `32G` absolute or `+4G` relative) → UPID, or null from PVE
 * versions that resize synchronously. An absolute size is idempotent (same size: nothing to do); a relative
 * one is not, and is verified by looking for the `resize` task.
 */
export function resizeLxcDisk(
    client: PveClient,
    node: string,
    vmid: number,
    disk: string,
    size: string,
    opts: TaskStartOptions & { digest?: string } = {},
): Promise<string | null> {
    const relative = size.startsWith("+");
    const verify = opts.verify ?? verifyByTask(client, node, "resize", String(vmid));
    return client.put(
        apiPath`/nodes/${node}/lxc/${vmid}/resize`,
        { disk, size, digest: opts.digest },
        z.union([upidSchema, z.null()]),
        relative ? { idempotent: false, verify } : {},
    );
}
