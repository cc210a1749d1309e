/**
 * The `bridge` handler: a Linux bridge on a PVE node through the node network API.
 *
 * PVE stages every interface edit in /etc/network/interfaces.new and `PUT /nodes/{node}/network` applies ALL
 * staged edits at once (srvreload). So every create/update/delete here runs under the per-node network lock,
 * first refuses when someone else's edits are staged (unless `applyUnrelatedPendingChanges`), then stages its
 * own edit and applies. A staged edit of our own interface left by an interrupted run is converged and applied,
 * which is what makes create and delete safe to repeat.
 *
 * State holds the inputs normalised the way PVE reads them back (comments without the trailing newline,
 * ports as a list, booleans, `bridge-vids` defaulted for VLAN-aware bridges), so a no-op diff is empty and
 * `read` (live state in the same shape) shows drift.
 */
import {
    PendingNetworkChanges,
    PveClient,
    PveTaskError,
    applyNetwork,
    createNetworkIface,
    deleteNetworkIface,
    getNetworkIface,
    isPveNotFound,
    listPendingChanges,
    NetworkIface,
    NetworkIfaceParams,
    updateNetworkIface,
    waitForTask,
    withNetworkLock,
} from "../proxmox";
import { pve, taskTimeoutMs } from "./context";
import { defineHandler } from "./define";
import { BridgeInputs, bridgeSchema } from "./schemas";
import { isUnknown } from "./unknown";

type Outs = Record<string, unknown>;

/** An ifreload takes seconds; a minute means the node is in trouble. */
const APPLY_TIMEOUT_MS = 2 * 60_000;
/** What PVE writes as `bridge-vids` for a VLAN-aware bridge without explicit ids. */
const DEFAULT_VIDS = "2-4094";
/** Changed lines of the pending diff quoted in the "unrelated changes" error. */
const DIFF_LINES_SHOWN = 40;

/** The bridge settings as compared, stored and read back (everything but node, name and the apply flag). */
export interface BridgeSettings {
    cidr: string | undefined;
    gateway: string | undefined;
    ports: string[];
    vlanAware: boolean;
    vids: string | undefined;
    mtu: number | undefined;
    autostart: boolean;
    comments: string | undefined;
}

const SETTING_KEYS = ["cidr", "gateway", "ports", "vlanAware", "vids", "mtu", "autostart", "comments"] as const;

// ---------------------------------------------------------------------------------------------------------
// Normalisation

/**
 * PVE keeps comments as `#` lines of the stanza and reads them back one line each with "\n" appended and
 * trailing blanks stripped: compare without that, and treat an empty comment as none.
 */
export function normaliseComments(comments: string | undefined): string | undefined {
    if (comments === undefined) return undefined;
    const lines = comments.split("\n").map((l) => l.replace(/\s+$/, ""));
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    return lines.length > 0 ? lines.join("\n") : undefined;
}

/** `bridge_ports` is a space- (or comma-) separated string; PVE writes `none` for a bridge without ports. */
export function splitPorts(ports: string | undefined): string[] {
    return (ports ?? "").split(/[\s,]+/).filter((p) => p !== "" && p !== "none");
}

/** VLAN ids only mean something on a VLAN-aware bridge, where PVE writes 2-4094 when none are given. */
export function normaliseVids(vlanAware: boolean, vids: string | undefined): string | undefined {
    if (!vlanAware) return undefined;
    const text = (vids ?? "").trim().split(/\s+/).join(" ");
    return text === "" ? DEFAULT_VIDS : text;
}

function netmaskBits(netmask: string): string {
    if (/^\d+$/.test(netmask)) return netmask;
    const bits = netmask
        .split(".")
        .map((o) => Number(o).toString(2).padStart(8, "0"))
        .join("");
    return String(bits.replace(/0+$/, "").length);
}

/** The settings of checked inputs, in the compared form. */
export function settingsOf(i: BridgeInputs): BridgeSettings {
    return {
        cidr: i.cidr,
        gateway: i.gateway,
        ports: [...i.ports],
        vlanAware: i.vlanAware,
        vids: normaliseVids(i.vlanAware, i.vids),
        mtu: i.mtu,
        autostart: i.autostart,
        comments: normaliseComments(i.comments),
    };
}

/** The settings of an interface as PVE reports it (`cidr` or `address` + `netmask`, 0/1 booleans). */
export function liveSettings(iface: NetworkIface): BridgeSettings {
    const cidr =
        iface.cidr ??
        (iface.address !== undefined && iface.netmask !== undefined
            ? `${iface.address}/${netmaskBits(iface.netmask)}`
            : undefined);
    const vlanAware = iface.bridge_vlan_aware === true;
    return {
        cidr: cidr || undefined,
        gateway: iface.gateway || undefined,
        ports: splitPorts(iface.bridge_ports),
        vlanAware,
        vids: normaliseVids(vlanAware, iface.bridge_vids),
        mtu: iface.mtu,
        autostart: iface.autostart === true,
        comments: normaliseComments(iface.comments),
    };
}

function outputs(node: string, name: string, s: BridgeSettings, applyUnrelated: boolean, active: boolean): Outs {
    return { node, name, ...s, applyUnrelatedPendingChanges: applyUnrelated, active };
}

/** Setting keys whose values differ (canonical JSON, undefined = unset). */
function differences(a: BridgeSettings, b: BridgeSettings): (keyof BridgeSettings)[] {
    return SETTING_KEYS.filter((k) => JSON.stringify(a[k] ?? null) !== JSON.stringify(b[k] ?? null));
}

function show(v: unknown): string {
    return v === undefined ? "(unset)" : JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------------------
// Talking to the node

/** The create/update parameters for the wanted settings. */
function ifaceParams(s: BridgeSettings): NetworkIfaceParams {
    return {
        type: "bridge",
        cidr: s.cidr,
        gateway: s.gateway,
        bridge_ports: s.ports.length > 0 ? s.ports.join(" ") : undefined,
        bridge_vlan_aware: s.vlanAware,
        bridge_vids: s.vlanAware ? s.vids : undefined,
        mtu: s.mtu,
        autostart: s.autostart,
        comments: s.comments,
    };
}

/**
 * Keys to delete on update: settings we no longer set that the interface still has (an update without `cidr`
 * drops the address by itself, PVE rewrites addresses from the request alone).
 */
function keysToDelete(wanted: BridgeSettings, current: NetworkIface): string[] {
    const unset: [keyof NetworkIface, boolean][] = [
        ["gateway", wanted.gateway === undefined],
        ["bridge_ports", wanted.ports.length === 0],
        ["bridge_vids", !wanted.vlanAware],
        ["mtu", wanted.mtu === undefined],
        ["comments", wanted.comments === undefined],
    ];
    return unset.filter(([key, gone]) => gone && current[key] !== undefined).map(([key]) => String(key));
}

/** The changed lines of PVE's pending diff (file headers and context dropped), at most DIFF_LINES_SHOWN. */
function changedLines(diff: string): string[] {
    const lines = diff
        .split("\n")
        .filter((l) => (l.startsWith("+") || l.startsWith("-")) && !l.startsWith("+++") && !l.startsWith("---"));
    if (lines.length <= DIFF_LINES_SHOWN) return lines;
    return [...lines.slice(0, DIFF_LINES_SHOWN), `... (${lines.length - DIFF_LINES_SHOWN} more changed lines)`];
}

/**
 * Refuses to apply when the node has staged edits to interfaces other than ours: an apply would bring them
 * live too, and they may be someone's half-made change.
 */
function refuseUnrelated(pending: PendingNetworkChanges, node: string, name: string, allow: boolean): void {
    const others = pending.changedIfaces.filter((i) => i !== name);
    if ((others.length === 0 && !pending.unattributed) || allow) return;
    const what = [
        ...(others.length > 0 ? [`to ${others.length === 1 ? "interface" : "interfaces"} ${others.join(", ")}`] : []),
        ...(pending.unattributed ? ["not tied to any interface"] : []),
    ].join(" and ");
    const diff = pending.diff ? changedLines(pending.diff).map((l) => `    ${l}`) : [];
    throw new Error(
        `node '${node}' has pending network changes ${what} that are not applied yet; applying bridge '${name}' ` +
            "would apply them too (PVE applies all pending changes at once), so nothing was changed. Review them " +
            "(node → System → Network in the web UI), apply or revert them, or set applyUnrelatedPendingChanges: " +
            `true on this bridge to apply them together with it.${diff.length > 0 ? `\n  pending changes:\n${diff.join("\n")}` : ""}`,
    );
}

/** Applies every staged change of the node (srvreload) and waits for it; the error keeps the task's status. */
async function apply(client: PveClient, node: string, name: string): Promise<void> {
    try {
        const upid = await applyNetwork(client, node);
        await waitForTask(client, node, upid, { timeoutMs: taskTimeoutMs(APPLY_TIMEOUT_MS) });
    } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        // A failed ifreload has its own story in the task log; a failed request left our edit staged.
        const staged = err instanceof PveTaskError ? "" : " (the change stays staged; the next run applies it)";
        const message = `applying the network configuration of node '${node}' for bridge '${name}' failed${staged}`;
        throw new Error(`${message}: ${detail}`, { cause: err });
    }
}

/** The interface as PVE shows it now (staged view), or undefined when it does not exist. */
async function getIface(client: PveClient, node: string, name: string): Promise<NetworkIface | undefined> {
    try {
        return await getNetworkIface(client, node, name);
    } catch (err) {
        if (isPveNotFound(err)) return undefined;
        throw err;
    }
}

function notABridge(node: string, name: string, iface: NetworkIface): Error {
    return new Error(
        `interface '${name}' on node '${node}' exists but is of type '${iface.type}', not a bridge; choose another name`,
    );
}

/**
 * Brings the node to the wanted settings for `name` and applies, under the node's network lock.
 * - absent: create (staged) and apply;
 * - a staged edit of ours is pending (an interrupted run): update it if it differs, then apply;
 * - applied and already as wanted: adopt it (apply only when it is not up yet and should be);
 * - applied with other settings: `existing: "update"` converges it (update), `"refuse"` (create) stops with
 *   the differences, so a create never takes over a bridge it did not make (e.g. the management vmbr0).
 */
async function converge(
    i: BridgeInputs,
    existing: "update" | "refuse",
): Promise<{ settings: BridgeSettings; active: boolean }> {
    const client = pve();
    const { node, name } = i;
    const wanted = settingsOf(i);
    return withNetworkLock(node, async () => {
        const pending = await listPendingChanges(client, node);
        refuseUnrelated(pending, node, name, i.applyUnrelatedPendingChanges);
        const current = pending.ifaces.find((f) => f.iface === name);
        const oursPending = pending.changedIfaces.includes(name);
        let staged = false;
        if (!current) {
            await createNetworkIface(client, node, name, ifaceParams(wanted));
            staged = true;
        } else {
            if (current.type !== "bridge") throw notABridge(node, name, current);
            const diff = differences(liveSettings(current), wanted);
            if (diff.length > 0) {
                if (existing === "refuse" && !oursPending) {
                    const have = liveSettings(current);
                    throw new Error(
                        `bridge '${name}' already exists on node '${node}' with other settings (` +
                            diff.map((k) => `${k}: ${show(have[k])}, wanted ${show(wanted[k])}`).join("; ") +
                            "); it was not made by this resource, so it is left alone. Make the inputs match it to " +
                            "adopt it (then change them), or choose another name.",
                    );
                }
                await updateNetworkIface(client, node, name, ifaceParams(wanted), {
                    delete: keysToDelete(wanted, current),
                });
                staged = true;
            }
        }
        // Something of ours is staged (now or by an earlier, interrupted run), or the node's copy is not up yet.
        const down = current !== undefined && current.active !== true && wanted.autostart;
        if (staged || oursPending || down) {
            await apply(client, node, name);
        }
        const after = await getIface(client, node, name);
        if (!after) throw new Error(`bridge '${name}' is missing on node '${node}' right after it was applied`);
        return { settings: wanted, active: after.active === true };
    });
}

// ---------------------------------------------------------------------------------------------------------
// Handler

function nodeAndName(id: string, props: Outs): { node: string; name: string } {
    const [idNode, idName] = id.split("/");
    return {
        node: typeof props.node === "string" ? props.node : idNode,
        name: typeof props.name === "string" ? props.name : idName,
    };
}

defineHandler({
    kind: "bridge",
    schema: bridgeSchema,
    diff: {
        keys: ["node", "name", ...SETTING_KEYS, "applyUnrelatedPendingChanges"],
        replaceKeys: ["node", "name"],
        // A bridge name exists once per node: the old one must go before the new one is made.
        deleteBeforeReplace: true,
    },
    prepareDiff(_olds, news) {
        const known = (k: string) => news[k] !== undefined && !isUnknown(news[k]);
        const out: Outs = { ...news };
        if (known("comments") && typeof news.comments === "string") out.comments = normaliseComments(news.comments);
        if (!isUnknown(news.vlanAware) && !isUnknown(news.vids)) {
            out.vids = normaliseVids(news.vlanAware === true, news.vids as string | undefined);
        }
        return out;
    },
    async create(i) {
        const r = await converge(i, "refuse");
        return {
            id: `${i.node}/${i.name}`,
            outs: outputs(i.node, i.name, r.settings, i.applyUnrelatedPendingChanges, r.active),
        };
    },
    async read(id, props) {
        const { node, name } = nodeAndName(id, props);
        const iface = await getIface(pve(), node, name);
        if (!iface) return undefined;
        const applyUnrelated = props.applyUnrelatedPendingChanges === true;
        const live = liveSettings(iface);
        const inputs = { node, name, ...live, applyUnrelatedPendingChanges: applyUnrelated };
        return { id, props: { ...inputs, active: iface.active === true }, inputs };
    },
    async update(_id, olds, news) {
        const onlyFlag =
            olds.node === news.node &&
            olds.name === news.name &&
            differences(olds as unknown as BridgeSettings, settingsOf(news)).length === 0;
        // Only the apply flag changed: nothing to do on the node.
        if (onlyFlag) {
            return outputs(
                news.node,
                news.name,
                settingsOf(news),
                news.applyUnrelatedPendingChanges,
                olds.active === true,
            );
        }
        const r = await converge(news, "update");
        return outputs(news.node, news.name, r.settings, news.applyUnrelatedPendingChanges, r.active);
    },
    async delete(id, props) {
        const client = pve();
        const { node, name } = nodeAndName(id, props);
        const allow = props.applyUnrelatedPendingChanges === true;
        await withNetworkLock(node, async () => {
            const pending = await listPendingChanges(client, node);
            const current = pending.ifaces.find((f) => f.iface === name);
            const oursPending = pending.changedIfaces.includes(name);
            // Gone and nothing of ours staged: already deleted (by hand, or by an earlier run).
            if (!current && !oursPending) return;
            refuseUnrelated(pending, node, name, allow);
            if (current) {
                if (current.type !== "bridge") throw notABridge(node, name, current);
                await deleteNetworkIface(client, node, name);
            }
            await apply(client, node, name);
        });
    },
});
