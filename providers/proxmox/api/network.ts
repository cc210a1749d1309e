/**
 * Node network: `/nodes/{node}/network[/{iface}]`.
 *
 * How PVE stages changes (pve-manager PVE/API2/Network.pm, pve-common PVE/INotify.pm): every create/update/
 * delete writes /etc/network/interfaces.new; reads return that staged file when it exists; `PUT
 * /nodes/{node}/network` renames it over /etc/network/interfaces and runs `ifreload -a` (task srvreload), i.e.
 * it applies ALL staged changes, ours or not; `DELETE /nodes/{node}/network` discards them.
 * There is no per-interface "pending" field: the list answer carries the staged state in `data` and, as a
 * sibling of `data`, `changes`: the unified diff (`diff -b -N -u interfaces interfaces.new`), present only when
 * something is staged. listPendingChanges reads that diff.
 *
 * Applies must be serialised per node: wrap create/update/delete + apply in `withNetworkLock(node, ...)`.
 */
import { z } from "zod";
import type { PveClient } from "../client";
import { apiPath } from "../form";
import { upidSchema } from "../tasks";
import {
    existsBy,
    noData,
    pveBool,
    pveInt,
    TaskStartOptions,
    verifyByTask,
    verifyCreated,
    verifyDeleted,
} from "./common";

/** A value PVE may print as a number or as a string read back from the interfaces file. */
const text = z.union([z.string(), z.number()]).transform(String);

const ifaceSchema = z.looseObject({
    iface: z.string(),
    type: z.string(),
    active: pveBool.optional(),
    autostart: pveBool.optional(),
    exists: pveBool.optional(),
    method: z.string().optional(),
    method6: z.string().optional(),
    families: z.array(z.string()).optional(),
    address: z.string().optional(),
    netmask: text.optional(),
    cidr: z.string().optional(),
    gateway: z.string().optional(),
    address6: z.string().optional(),
    netmask6: text.optional(),
    cidr6: z.string().optional(),
    gateway6: z.string().optional(),
    bridge_ports: z.string().optional(),
    bridge_vlan_aware: pveBool.optional(),
    bridge_vids: text.optional(),
    mtu: pveInt.optional(),
    comments: z.string().optional(),
    comments6: z.string().optional(),
});
export type NetworkIface = z.output<typeof ifaceSchema>;

/** The single-interface GET returns the same object, usually without its own name. */
const singleIfaceSchema = ifaceSchema.extend({ iface: z.string().optional() });

export type NetworkListType =
    | "bridge"
    | "bond"
    | "eth"
    | "alias"
    | "vlan"
    | "fabric"
    | "OVSBridge"
    | "OVSBond"
    | "OVSPort"
    | "OVSIntPort"
    | "vnet"
    | "any_bridge"
    | "any_local_bridge"
    | "include_sdn";

/** Parameters of create/update (PVE's json_config_properties; `cidr` or `address`+`netmask`, not both). */
export type NetworkIfaceParams = {
    type: "bridge" | "bond" | "eth" | "alias" | "vlan" | "OVSBridge" | "OVSBond" | "OVSPort" | "OVSIntPort";
    /** Space- or comma-separated interface names (pve-iface-list). */
    bridge_ports?: string;
    bridge_vlan_aware?: boolean;
    /** e.g. `2-4094` or `2 4 100-200`. */
    bridge_vids?: string;
    cidr?: string;
    address?: string;
    netmask?: string;
    gateway?: string;
    cidr6?: string;
    address6?: string;
    netmask6?: number;
    gateway6?: string;
    autostart?: boolean;
    mtu?: number;
    comments?: string;
    comments6?: string;
    slaves?: string;
    bond_mode?: string;
    "bond-primary"?: string;
    bond_xmit_hash_policy?: string;
    "vlan-id"?: number;
    "vlan-raw-device"?: string;
};

/** `GET /nodes/{node}/network[?type=]`: the staged view (interfaces.new when it exists), loopback excluded. */
export function listNetwork(client: PveClient, node: string, type?: NetworkListType): Promise<NetworkIface[]> {
    return client.get(apiPath`/nodes/${node}/network`, { type }, z.array(ifaceSchema));
}

/** `GET /nodes/{node}/network/{iface}`. Missing: 400 with errors.iface `interface does not exist` (isPveNotFound). */
export async function getNetworkIface(client: PveClient, node: string, iface: string): Promise<NetworkIface> {
    const data = await client.get(apiPath`/nodes/${node}/network/${iface}`, undefined, singleIfaceSchema);
    return { ...data, iface };
}

export function networkIfaceExists(client: PveClient, node: string, iface: string): Promise<boolean> {
    return existsBy(() => getNetworkIface(client, node, iface));
}

/**
 * `POST /nodes/{node}/network` (staged, not applied). Not blindly repeated: a resend after an unnoticed success
 * fails with `interface already exists`, so a lost answer is settled by checking whether the interface exists.
 */
export function createNetworkIface(
    client: PveClient,
    node: string,
    iface: string,
    params: NetworkIfaceParams,
): Promise<void> {
    return client.post(apiPath`/nodes/${node}/network`, { iface, ...params }, noData, {
        verify: verifyCreated(() => networkIfaceExists(client, node, iface)),
    });
}

/** `PUT /nodes/{node}/network/{iface}` (staged). PVE requires `type` on updates too. */
export function updateNetworkIface(
    client: PveClient,
    node: string,
    iface: string,
    params: NetworkIfaceParams,
    opts: { delete?: readonly string[] } = {},
): Promise<void> {
    const del = opts.delete && opts.delete.length > 0 ? opts.delete.join(",") : undefined;
    return client.put(apiPath`/nodes/${node}/network/${iface}`, { ...params, delete: del }, noData);
}

/** `DELETE /nodes/{node}/network/{iface}` (staged). A lost answer is settled by checking the interface is gone. */
export function deleteNetworkIface(client: PveClient, node: string, iface: string): Promise<void> {
    return client.delete(apiPath`/nodes/${node}/network/${iface}`, undefined, noData, {
        idempotent: false,
        verify: verifyDeleted(() => networkIfaceExists(client, node, iface)),
    });
}

/**
 * `PUT /nodes/{node}/network` → UPID of the `srvreload` task that applies ALL staged changes. Call it inside
 * withNetworkLock. Never blindly repeated (two ifreloads race); a lost answer is settled by looking for the task.
 */
export function applyNetwork(client: PveClient, node: string, opts: TaskStartOptions = {}): Promise<string> {
    return client.put(apiPath`/nodes/${node}/network`, undefined, upidSchema, {
        idempotent: false,
        verify: opts.verify ?? verifyByTask(client, node, "srvreload", "networking"),
    });
}

/** `DELETE /nodes/{node}/network`: discards every staged change (unlinks interfaces.new). */
export function revertNetwork(client: PveClient, node: string): Promise<void> {
    return client.delete(apiPath`/nodes/${node}/network`, undefined, noData);
}

export interface PendingNetworkChanges {
    /** Whether anything is staged. */
    pending: boolean;
    /** The unified diff PVE reported, undefined when nothing is staged. */
    diff: string | undefined;
    /** Interfaces whose stanza (or `auto`/`allow-*` line) the diff touches, sorted. */
    changedIfaces: string[];
    /**
     * True when some changed line could not be tied to an interface (a hunk that starts deep inside a long
     * stanza, a `source` line): treat the staged changes as possibly touching anything.
     */
    unattributed: boolean;
    /** The staged interface list (what the node will have after an apply). */
    ifaces: NetworkIface[];
}

/** What is staged on the node and not yet applied, from the `changes` diff PVE returns next to `data`. */
export async function listPendingChanges(client: PveClient, node: string): Promise<PendingNetworkChanges> {
    const envelope = await client.requestEnvelope("GET", apiPath`/nodes/${node}/network`, {
        schema: z.array(ifaceSchema),
    });
    const raw = envelope.extra.changes;
    const diff = typeof raw === "string" && raw.trim() !== "" ? raw : undefined;
    const attributed = diff ? parseInterfacesDiff(diff) : { changedIfaces: [], unattributed: false };
    return { pending: diff !== undefined, diff, ...attributed, ifaces: envelope.data };
}

const STANZA_RE = /^\s*(iface|auto|allow-[\w-]+|mapping|source|source-directory|rename)\b\s*(.*)$/;

/**
 * Ties each changed line of a unified diff of /etc/network/interfaces to the interface stanza it belongs to,
 * using the stanza headers found in the hunk (changed or context lines). Blank lines are ignored: they only
 * separate stanzas.
 */
export function parseInterfacesDiff(diff: string): { changedIfaces: string[]; unattributed: boolean } {
    const changed = new Set<string>();
    let unattributed = false;
    let current: string | undefined;
    let inHunk = false;
    for (const line of diff.split("\n")) {
        if (line.startsWith("@@")) {
            inHunk = true;
            current = undefined;
            continue;
        }
        if (!inHunk || line.startsWith("\\")) continue; // file headers, "\ No newline at end of file"
        const marker = line[0];
        if (marker !== " " && marker !== "+" && marker !== "-") continue;
        const content = line.slice(1);
        const isChange = marker !== " ";
        const header = STANZA_RE.exec(content);
        if (header) {
            const [, keyword, rest] = header;
            const names = rest.split(/\s+/).filter((n) => n !== "");
            if (keyword === "iface" || keyword === "mapping") {
                current = names[0];
                if (isChange && current) changed.add(current);
            } else if (keyword === "auto" || keyword.startsWith("allow-")) {
                current = undefined;
                if (isChange) names.forEach((n) => changed.add(n));
            } else {
                current = undefined;
                if (isChange) unattributed = true;
            }
            continue;
        }
        if (!isChange || content.trim() === "") continue;
        if (current) changed.add(current);
        else unattributed = true;
    }
    return { changedIfaces: [...changed].sort(), unattributed };
}
