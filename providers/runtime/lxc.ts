/**
 * The `lxc` handler: a container's whole lifecycle through the PVE API.
 *
 * State holds the inputs normalised the way PVE stores them (tags, features, NICs), so a diff against live
 * config read back by `read` is empty when nothing changed. Root-only settings (privileged containers, features
 * other than nesting) go through the root@pam ticket client; everything else through the configured client.
 */
import {
    PveApiError,
    PveClient,
    PveTaskTimeoutError,
    createLxc,
    deleteLxc,
    getLxcConfig,
    getLxcInterfaces,
    getLxcPending,
    getLxcStatus,
    isPveNotFound,
    lxcConfigValue,
    nextId,
    parseFeatures,
    parseNet,
    parseRootfs,
    parseTags,
    printFeatures,
    printNet,
    normaliseTags,
    rebootLxc,
    resizeLxcDisk,
    shutdownLxc,
    sizeToGiB,
    startLxc,
    stopLxc,
    updateLxcConfig,
    waitForTask,
    LxcConfig,
    LxcCreateParams,
    NetConfig,
} from "../proxmox";
import { canActAsRoot, pve, rootPve, taskTimeoutMs } from "./context";
import { defineHandler } from "./define";
import { LxcInputs, LxcNetworkInputs, lxcSchema } from "./schemas";
import { isUnknown } from "./unknown";

type Outs = Record<string, unknown>;

const MIN = 60_000;
const CREATE_TIMEOUT_MS = 20 * MIN;
const POWER_TIMEOUT_MS = 5 * MIN;
/** Seconds a container gets to shut down cleanly before it is stopped (delete, power off). */
const SHUTDOWN_SECONDS = 60;
/** How often an allocated vmid is retried when another client took the same `nextid` first. */
const NEXTID_ATTEMPTS = 5;

// ---------------------------------------------------------------------------------------------------------
// Normalisation: inputs and live config into one comparable shape

/** Features as compared and stored: only flags that are on, mount types sorted. */
export function normaliseFeatureInputs(f: LxcInputs["features"] | undefined): LxcInputs["features"] {
    const out: LxcInputs["features"] = {};
    if (f?.nesting) out.nesting = true;
    if (f?.keyctl) out.keyctl = true;
    if (f?.fuse) out.fuse = true;
    if (f?.mount && f.mount.length > 0) out.mount = [...f.mount].sort();
    return out;
}

/** True when PVE reserves these settings to root@pam (PVE-FACTS: Access / LXC). */
export function needsRoot(i: Pick<LxcInputs, "unprivileged" | "features">): boolean {
    const f = normaliseFeatureInputs(i.features);
    const beyondNesting = Boolean(f.keyctl || f.fuse || (f.mount && f.mount.length > 0));
    return beyondNesting || (!i.unprivileged && Object.keys(f).length > 0);
}

function rootReason(i: Pick<LxcInputs, "unprivileged" | "features">): string {
    const f = normaliseFeatureInputs(i.features);
    const extra = Object.keys(f).filter((k) => k !== "nesting");
    if (extra.length > 0) return `setting the container feature(s) ${extra.join(", ")}`;
    return "setting features on a privileged container";
}

function clientFor(i: Pick<LxcInputs, "unprivileged" | "features">): PveClient {
    return needsRoot(i) ? rootPve(rootReason(i)) : pve();
}

/** The netN value we ask PVE for (hwaddr: the input's, else the one PVE gave this NIC before). */
export function netValue(n: LxcNetworkInputs, existingHwaddr?: string): string {
    const net: NetConfig = { name: n.name, bridge: n.bridge, ip: n.ip, type: "veth" };
    if (n.gw) net.gw = n.gw;
    if (n.ip6) net.ip6 = n.ip6;
    if (n.gw6) net.gw6 = n.gw6;
    const hwaddr = n.hwaddr ?? existingHwaddr;
    if (hwaddr) net.hwaddr = hwaddr.toUpperCase();
    if (n.firewall) net.firewall = true;
    if (n.mtu !== undefined) net.mtu = n.mtu;
    if (n.tag !== undefined) net.tag = n.tag;
    if (n.rate !== undefined) net.rate = n.rate;
    return printNet(net);
}

/** A live netN back in input form; the hwaddr only when the input named one (else PVE's choice is not drift). */
function netFromLive(text: string, keepHwaddr: boolean): LxcNetworkInputs {
    const p = parseNet(text);
    const n: LxcNetworkInputs = { name: p.name, bridge: p.bridge ?? "", ip: p.ip ?? "manual", firewall: !!p.firewall };
    if (p.gw) n.gw = p.gw;
    if (p.ip6) n.ip6 = p.ip6;
    if (p.gw6) n.gw6 = p.gw6;
    if (keepHwaddr && p.hwaddr) n.hwaddr = p.hwaddr.toUpperCase();
    if (p.mtu !== undefined) n.mtu = p.mtu;
    if (p.tag !== undefined) n.tag = p.tag;
    if (p.rate !== undefined) n.rate = p.rate;
    return n;
}

function normaliseNetworkInputs(nets: LxcNetworkInputs[]): LxcNetworkInputs[] {
    return nets.map((n) => (n.hwaddr ? { ...n, hwaddr: n.hwaddr.toUpperCase() } : n));
}

/** User tags as PVE stores them (lowercased, sorted, de-duplicated), without our ownership tag. */
function userTags(tags: readonly string[], ownerTag: string): string[] {
    return parseTags(tags).filter((t) => t !== ownerTag);
}

/** Every config key we manage and its value in PVE's form (strings), for create and for comparison. */
export function desiredConfig(i: LxcInputs, hwaddrs: Record<string, string | undefined> = {}): Record<string, string> {
    const out: Record<string, string> = {
        hostname: i.hostname,
        cores: String(i.cores),
        memory: String(i.memory),
        swap: String(i.swap),
        onboot: i.onboot ? "1" : "0",
        tags: normaliseTags([...i.tags, i.ownerTag]),
    };
    i.networks.forEach((n, idx) => (out[`net${idx}`] = netValue(n, hwaddrs[`net${idx}`])));
    const features = printFeatures(normaliseFeatureInputs(i.features));
    if (features) out.features = features;
    if (i.startup) out.startup = i.startup;
    if (i.nameserver) out.nameserver = i.nameserver;
    if (i.searchdomain) out.searchdomain = i.searchdomain;
    if (i.description) out.description = i.description;
    return out;
}

const OPTIONAL_KEYS = ["features", "startup", "nameserver", "searchdomain", "description"] as const;

function hwaddrOf(config: LxcConfig, key: string): string | undefined {
    const v = lxcConfigValue(config, key);
    if (!v) return undefined;
    try {
        return parseNet(v).hwaddr?.toUpperCase();
    } catch {
        return undefined;
    }
}

function netKeys(config: LxcConfig): string[] {
    return Object.keys(config)
        .filter((k) => /^net\d+$/.test(k))
        .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
}

// ---------------------------------------------------------------------------------------------------------
// Engine-facing errors

/** A create that got partway: the engine records `id` and `properties`, so nothing made is forgotten. */
function partialFailure(id: string, properties: Outs, err: unknown): Error {
    const message = err instanceof Error ? err.message : String(err);
    return Object.assign(new Error(message), { id, properties, reasons: [message] });
}

/** The create task outlived pveTaskTimeoutSeconds: the container (vmid known) may still come into being. */
class CreateStillRunning extends Error {
    constructor(
        readonly vmid: number,
        cause: PveTaskTimeoutError,
    ) {
        super(
            `CT ${vmid}: the create task did not finish within ${Math.round(cause.timeoutMs / 1000)} s and may ` +
                `still be running on node '${cause.node}' (${cause.upid}). The container is recorded in the stack; ` +
                "the next up waits for the task and finishes it. Raise proxmox-homelab:pveTaskTimeoutSeconds " +
                "if the storage or the template is slow.",
            { cause },
        );
    }
}

/**
 * Waits while a container is locked by a task still running (an earlier create that outlived our timeout, a
 * backup), up to the task timeout; a CT that is gone is an error saying how to get back on track.
 */
async function awaitUnlocked(client: PveClient, node: string, vmid: number): Promise<LxcConfig> {
    const deadline = Date.now() + taskTimeoutMs(CREATE_TIMEOUT_MS);
    let delay = 250;
    for (;;) {
        let config: LxcConfig;
        try {
            config = await getLxcConfig(client, node, vmid);
        } catch (err) {
            if (!isPveNotFound(err)) throw err;
            throw new Error(
                `CT ${vmid} is in the stack but not on node '${node}' (its create may never have completed): run ` +
                    "`pulumi refresh` to forget it, then `pulumi up` to create it again",
                { cause: err },
            );
        }
        const lock = lxcConfigValue(config, "lock");
        if (lock === undefined || lock === "mounted") return config;
        if (Date.now() >= deadline) {
            throw new Error(`CT ${vmid} is still locked (${lock}) on node '${node}'; try again once that task ended`);
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(2000, delay * 2);
    }
}

function isAlreadyExists(err: unknown): boolean {
    return err instanceof PveApiError && /already exists/.test(err.pveMessage);
}

function hasOwnerTag(config: LxcConfig, ownerTag: string): boolean {
    return parseTags(lxcConfigValue(config, "tags") ?? "").includes(ownerTag);
}

// ---------------------------------------------------------------------------------------------------------
// Power

async function task(
    client: PveClient,
    node: string,
    upid: Promise<string>,
    timeoutMs = taskTimeoutMs(POWER_TIMEOUT_MS),
) {
    return waitForTask(client, node, await upid, { timeoutMs });
}

async function isRunning(client: PveClient, node: string, vmid: number): Promise<boolean> {
    return (await getLxcStatus(client, node, vmid)).status === "running";
}

async function start(client: PveClient, node: string, vmid: number): Promise<void> {
    if (await isRunning(client, node, vmid)) return;
    await task(client, node, startLxc(client, node, vmid));
    if (!(await isRunning(client, node, vmid))) {
        throw new Error(`CT ${vmid} was started but is not running (check its log on node ${node})`);
    }
}

/** Clean shutdown with a timeout, then a hard stop if it did not go down. */
async function powerOff(client: PveClient, node: string, vmid: number): Promise<void> {
    if (!(await isRunning(client, node, vmid))) return;
    try {
        await task(
            client,
            node,
            shutdownLxc(client, node, vmid, { timeout: SHUTDOWN_SECONDS, forceStop: true }),
            (SHUTDOWN_SECONDS + 60) * 1000,
        );
    } catch (err) {
        if (!(await isRunning(client, node, vmid))) return;
        console.warn(`proxmox-homelab: CT ${vmid} did not shut down cleanly (${String(err)}); stopping it`);
    }
    if (await isRunning(client, node, vmid)) await task(client, node, stopLxc(client, node, vmid));
}

// ---------------------------------------------------------------------------------------------------------
// Live state

interface InterfaceState {
    name: string;
    hwaddr: string;
    ipv4?: string;
    ipv6?: string;
}

/**
 * Each configured NIC with its hwaddr and addresses: static ones from the config, DHCP ones from the interfaces
 * endpoint, polled until every DHCP NIC has an IPv4 address or `timeoutSeconds` pass (0: look once).
 */
async function interfaceStates(
    client: PveClient,
    node: string,
    vmid: number,
    networks: LxcNetworkInputs[],
    config: LxcConfig,
    opts: { running: boolean; timeoutSeconds: number },
): Promise<{ states: InterfaceState[]; missing: string[] }> {
    const deadline = Date.now() + opts.timeoutSeconds * 1000;
    let delay = 250;
    for (;;) {
        const live = opts.running ? await getLxcInterfaces(client, node, vmid).catch(() => []) : [];
        const states = networks.map((n, idx) => {
            const hwaddr = hwaddrOf(config, `net${idx}`) ?? "";
            const found = live.find((l) => l.name === n.name);
            const state: InterfaceState = { name: n.name, hwaddr };
            if (/\//.test(n.ip)) state.ipv4 = n.ip;
            else if (found?.inet) state.ipv4 = found.inet;
            if (n.ip6 && /\//.test(n.ip6)) state.ipv6 = n.ip6;
            else if (found?.inet6 && !found.inet6.startsWith("fe80:")) state.ipv6 = found.inet6;
            return state;
        });
        const missing = networks.filter((n, idx) => n.ip === "dhcp" && !states[idx].ipv4).map((n) => n.name);
        if (missing.length === 0 || !opts.running || Date.now() >= deadline) return { states, missing };
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(2000, delay * 2);
    }
}

async function pendingKeys(client: PveClient, node: string, vmid: number): Promise<string[]> {
    const entries = await getLxcPending(client, node, vmid);
    return entries
        .filter((e) => e.delete !== undefined || (e.pending !== undefined && e.pending !== e.value))
        .map((e) => e.key)
        .sort();
}

/** The state we store after create/update: normalised inputs plus what PVE reports. */
async function outputsFor(
    client: PveClient,
    i: LxcInputs,
    vmid: number,
    opts: { addressTimeoutSeconds: number },
): Promise<Outs> {
    const config = await getLxcConfig(client, i.node, vmid);
    const running = await isRunning(client, i.node, vmid);
    const { states, missing } = await interfaceStates(client, i.node, vmid, i.networks, config, {
        running,
        timeoutSeconds: opts.addressTimeoutSeconds,
    });
    const outs = stateOf(i, vmid, {
        status: running ? "running" : "stopped",
        interfaces: states,
        pendingChanges: running ? await pendingKeys(client, i.node, vmid) : [],
    });
    if (missing.length > 0) {
        throw partialFailure(
            String(vmid),
            outs,
            `CT ${vmid} has no DHCP address on ${missing.join(", ")} after ${i.addressTimeoutSeconds} s ` +
                "(is a DHCP server answering on that bridge?)",
        );
    }
    return outs;
}

function stateOf(
    i: LxcInputs,
    vmid: number,
    live: { status: string; interfaces: InterfaceState[]; pendingChanges: string[] },
): Outs {
    // Create-only secrets are not echoed: state keeps no root password.
    const { rootPassword: _rootPassword, ...rest } = i;
    return {
        ...rest,
        vmid,
        tags: userTags(i.tags, i.ownerTag),
        features: normaliseFeatureInputs(i.features),
        networks: normaliseNetworkInputs(i.networks),
        hasRootPassword: i.rootPassword !== undefined,
        ...live,
    };
}

// ---------------------------------------------------------------------------------------------------------
// Create

function createParams(i: LxcInputs, vmid: number): LxcCreateParams {
    const config = desiredConfig(i);
    const params: LxcCreateParams = {
        vmid,
        ostemplate: i.ostemplate,
        hostname: i.hostname,
        cores: i.cores,
        memory: i.memory,
        swap: i.swap,
        rootfs: `${i.rootfs.storage}:${i.rootfs.sizeGiB}`,
        unprivileged: i.unprivileged,
        onboot: i.onboot,
        tags: config.tags,
        start: false,
    };
    for (const key of OPTIONAL_KEYS) if (config[key] !== undefined) params[key] = config[key];
    i.networks.forEach((_n, idx) => (params[`net${idx}`] = config[`net${idx}`]));
    if (i.rootPassword !== undefined) params.password = i.rootPassword;
    if (i.sshPublicKeys !== undefined) params["ssh-public-keys"] = i.sshPublicKeys;
    if (i.pool !== undefined) params.pool = i.pool;
    return params;
}

/**
 * Sends the create. With an explicit vmid, a container that already exists is adopted when it carries this
 * stack's ownership tag (an earlier create of ours that was interrupted) and refused otherwise. Without one,
 * ids from `nextid` are tried until one is ours (two clients may be handed the same id).
 */
async function sendCreate(client: PveClient, i: LxcInputs): Promise<{ vmid: number; adopted: boolean }> {
    const attempts = i.vmid === undefined ? NEXTID_ATTEMPTS : 1;
    for (let attempt = 1; ; attempt++) {
        const vmid = i.vmid ?? (await nextId(client));
        if (i.vmid !== undefined) {
            const existing = await getLxcConfig(client, i.node, vmid).catch((err: unknown) => {
                if (isPveNotFound(err)) return undefined;
                throw err;
            });
            if (existing) {
                if (!hasOwnerTag(existing, i.ownerTag)) {
                    throw new Error(
                        `CT ${vmid} exists and is not managed by this stack (it lacks the tag '${i.ownerTag}'); ` +
                            "choose another vmid or remove that container",
                    );
                }
                return { vmid, adopted: true };
            }
        }
        try {
            await task(
                client,
                i.node,
                createLxc(client, i.node, createParams(i, vmid)),
                taskTimeoutMs(CREATE_TIMEOUT_MS),
            );
            return { vmid, adopted: false };
        } catch (err) {
            if (err instanceof PveTaskTimeoutError) throw new CreateStillRunning(vmid, err);
            if (isAlreadyExists(err) && attempt < attempts) continue;
            if (isAlreadyExists(err) && i.vmid !== undefined) {
                // Someone created it between our look and our create: look again (it may be ours).
                const cfg = await getLxcConfig(client, i.node, vmid);
                if (hasOwnerTag(cfg, i.ownerTag)) return { vmid, adopted: true };
                throw new Error(
                    `CT ${vmid} exists and is not managed by this stack (it lacks the tag '${i.ownerTag}')`,
                    {
                        cause: err,
                    },
                );
            }
            throw err;
        }
    }
}

async function create(i: LxcInputs): Promise<{ id: string; outs: Outs }> {
    const client = clientFor(i);
    let sent: { vmid: number; adopted: boolean };
    try {
        sent = await sendCreate(client, i);
    } catch (err) {
        if (!(err instanceof CreateStillRunning)) throw err;
        // Recorded, not forgotten: the next up's update waits for the task and converges the container.
        throw partialFailure(
            String(err.vmid),
            stateOf(i, err.vmid, { status: "creating", interfaces: [], pendingChanges: [] }),
            err,
        );
    }
    const { vmid, adopted } = sent;
    const id = String(vmid);
    try {
        if (adopted) {
            // Converge what the interrupted run left (it may have stopped before its config or start); its
            // create task may still be running.
            await converge(client, i, vmid, await awaitUnlocked(client, i.node, vmid));
        }
        if (i.started) await start(client, i.node, vmid);
        return { id, outs: await outputsFor(client, i, vmid, { addressTimeoutSeconds: i.addressTimeoutSeconds }) };
    } catch (err) {
        if ((err as { id?: string }).id !== undefined) throw err;
        throw partialFailure(
            id,
            stateOf(i, vmid, { status: "unknown", interfaces: [], pendingChanges: [] }),
            new Error(
                `CT ${vmid} was created but could not be ${i.started ? "started" : "configured"}: ${String(err)}`,
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Update

/**
 * Brings the live config to the inputs: changed keys in one PUT, keys we no longer set deleted, the disk grown
 * (power state and pending keys are the caller's).
 */
async function converge(client: PveClient, i: LxcInputs, vmid: number, current?: LxcConfig): Promise<void> {
    const live = current ?? (await getLxcConfig(client, i.node, vmid));
    const hwaddrs: Record<string, string | undefined> = {};
    for (const key of netKeys(live)) hwaddrs[key] = hwaddrOf(live, key);
    const want = desiredConfig(i, hwaddrs);
    const set: Record<string, string> = {};
    for (const [key, value] of Object.entries(want)) {
        if (!sameConfigValue(key, lxcConfigValue(live, key), value)) set[key] = value;
    }
    const remove: string[] = [];
    for (const key of OPTIONAL_KEYS)
        if (want[key] === undefined && lxcConfigValue(live, key) !== undefined) remove.push(key);
    for (const key of netKeys(live)) if (want[key] === undefined) remove.push(key);
    if (Object.keys(set).length > 0 || remove.length > 0) {
        await updateLxcConfig(client, i.node, vmid, set, { delete: remove, digest: live.digest });
    }
    const rootfs = lxcConfigValue(live, "rootfs");
    if (rootfs) {
        const info = parseRootfs(rootfs);
        const current = info.size ? sizeToGiB(info.size) : undefined;
        if (current !== undefined && i.rootfs.sizeGiB > current) {
            const upid = await resizeLxcDisk(client, i.node, vmid, "rootfs", `${i.rootfs.sizeGiB}G`);
            if (upid) await waitForTask(client, i.node, upid, { timeoutMs: taskTimeoutMs(POWER_TIMEOUT_MS) });
        }
    }
}

function sameConfigValue(key: string, live: string | undefined, want: string): boolean {
    if (live === undefined) return key === "onboot" && want === "0";
    if (key === "tags") return normaliseTags(live) === want;
    if (key === "features") return printFeatures(normaliseFeatureInputs(featuresToInputs(live))) === want;
    if (key === "description") return live.trimEnd() === want.trimEnd();
    if (/^net\d+$/.test(key)) {
        try {
            return printNet(parseNet(live)) === printNet(parseNet(want));
        } catch {
            return false;
        }
    }
    return live === want;
}

function featuresToInputs(text: string): LxcInputs["features"] {
    const f = parseFeatures(text);
    return { nesting: f.nesting, keyctl: f.keyctl, fuse: f.fuse, mount: f.mount };
}

async function update(id: string, i: LxcInputs): Promise<Outs> {
    const vmid = Number(id);
    const client = clientFor(i);
    await converge(client, i, vmid, await awaitUnlocked(client, i.node, vmid));
    let running = await isRunning(client, i.node, vmid);
    if (i.started && !running) {
        await start(client, i.node, vmid);
        running = true;
    } else if (!i.started && running) {
        await powerOff(client, i.node, vmid);
        running = false;
    }
    if (running) {
        const pending = await pendingKeys(client, i.node, vmid);
        if (pending.length > 0 && i.rebootOnPendingChanges) {
            await task(client, i.node, rebootLxc(client, i.node, vmid, { timeout: SHUTDOWN_SECONDS }));
        }
    }
    return outputsFor(client, i, vmid, { addressTimeoutSeconds: i.addressTimeoutSeconds });
}

// ---------------------------------------------------------------------------------------------------------
// Read and delete

function numberOf(config: LxcConfig, key: string, fallback: number): number {
    const v = lxcConfigValue(config, key);
    return v === undefined ? fallback : Number(v);
}

/** Live config back into the shape of our state, so `refresh` shows drift as changed inputs. */
async function read(id: string, props: Outs): Promise<{ id: string; props: Outs } | undefined> {
    const vmid = Number(id);
    const node = String(props.node);
    const old = props as Partial<LxcInputs> & Outs;
    const client =
        needsRoot({ unprivileged: old.unprivileged !== false, features: old.features ?? {} }) && canActAsRoot()
            ? rootPve("reading a privileged container")
            : pve();
    let config: LxcConfig;
    try {
        config = await getLxcConfig(client, node, vmid);
    } catch (err) {
        if (isPveNotFound(err)) return undefined;
        throw err;
    }
    const oldNets = (old.networks ?? []) as LxcNetworkInputs[];
    const networks = netKeys(config).map((key, idx) =>
        netFromLive(lxcConfigValue(config, key) as string, oldNets[idx]?.hwaddr !== undefined),
    );
    const rootfs = lxcConfigValue(config, "rootfs");
    const rootInfo = rootfs ? parseRootfs(rootfs) : undefined;
    const ownerTag = String(props.ownerTag ?? "");
    const status = await getLxcStatus(client, node, vmid);
    const running = status.status === "running";
    const live: LxcInputs = {
        ...(old as LxcInputs),
        hostname: lxcConfigValue(config, "hostname") ?? "",
        cores: numberOf(config, "cores", 0),
        memory: numberOf(config, "memory", 512),
        swap: numberOf(config, "swap", 512),
        rootfs: {
            storage: rootInfo?.storage ?? "",
            sizeGiB: rootInfo?.size ? sizeToGiB(rootInfo.size) : 0,
        },
        networks,
        features: normaliseFeatureInputs(featuresToInputs(lxcConfigValue(config, "features") ?? "")),
        unprivileged: lxcConfigValue(config, "unprivileged") === "1",
        onboot: lxcConfigValue(config, "onboot") === "1",
        startup: lxcConfigValue(config, "startup"),
        nameserver: lxcConfigValue(config, "nameserver"),
        searchdomain: lxcConfigValue(config, "searchdomain"),
        description: lxcConfigValue(config, "description")?.replace(/\n$/, ""),
        tags: userTags(parseTags(lxcConfigValue(config, "tags") ?? ""), ownerTag),
        started: running,
    };
    const { states } = await interfaceStates(client, node, vmid, networks, config, { running, timeoutSeconds: 0 });
    return {
        id,
        props: stateOf(live, vmid, {
            status: status.status,
            interfaces: states,
            pendingChanges: running ? await pendingKeys(client, node, vmid) : [],
        }),
    };
}

async function remove(id: string, props: Outs): Promise<void> {
    const vmid = Number(id);
    const node = String(props.node);
    const old = props as Partial<LxcInputs>;
    const client = needsRoot({ unprivileged: old.unprivileged !== false, features: old.features ?? {} })
        ? rootPve(rootReason({ unprivileged: old.unprivileged !== false, features: old.features ?? {} }))
        : pve();
    try {
        await powerOff(client, node, vmid);
        await task(client, node, deleteLxc(client, node, vmid), taskTimeoutMs(CREATE_TIMEOUT_MS));
    } catch (err) {
        if (isPveNotFound(err)) return;
        throw err;
    }
}

// ---------------------------------------------------------------------------------------------------------

defineHandler({
    kind: "lxc",
    schema: lxcSchema,
    diff: {
        keys: [
            "node",
            "vmid",
            "hostname",
            "ostemplate",
            "cores",
            "memory",
            "swap",
            "rootfs",
            "networks",
            "features",
            "unprivileged",
            "onboot",
            "startup",
            "nameserver",
            "searchdomain",
            "tags",
            "description",
            "started",
            "rebootOnPendingChanges",
            "addressTimeoutSeconds",
            "ownerTag",
        ],
        replaceKeys: ["node", "vmid", "ostemplate", "unprivileged"],
        deleteBeforeReplace: true,
    },
    checkTransition(olds, news) {
        const failures: { property: string; reason: string }[] = [];
        const oldRootfs = olds.rootfs as { storage?: string; sizeGiB?: number } | undefined;
        if (
            oldRootfs?.sizeGiB !== undefined &&
            oldRootfs.storage === news.rootfs.storage &&
            news.rootfs.sizeGiB < oldRootfs.sizeGiB
        ) {
            failures.push({
                property: "rootfs.sizeGiB",
                reason: `cannot shrink the root disk from ${oldRootfs.sizeGiB} GiB to ${news.rootfs.sizeGiB} GiB (PVE only grows disks)`,
            });
        }
        if (needsRoot(news)) {
            let root: boolean;
            try {
                root = canActAsRoot();
            } catch {
                // Incomplete connection settings are reported by the first API call, with every problem.
                root = true;
            }
            if (!root) {
                failures.push({
                    property: news.unprivileged ? "features" : "unprivileged",
                    reason:
                        `${rootReason(news)} is only allowed for root@pam in Proxmox VE, and API tokens never count ` +
                        "as root@pam: set proxmox-homelab:pvePassword (env PVE_PASSWORD) to root@pam's password",
                });
            }
        }
        return failures;
    },
    // Only the storage of the root disk replaces; its size grows in place.
    extraReplaces(olds, news) {
        const o = olds.rootfs as { storage?: unknown } | undefined;
        const n = news.rootfs as { storage?: unknown } | undefined;
        return o && n && (isUnknown(n.storage) || o.storage !== n.storage) ? ["rootfs"] : [];
    },
    prepareDiff(olds, news) {
        const out = { ...news };
        // The old vmid stays when the inputs let PVE allocate one.
        if (out.vmid === undefined && olds.vmid !== undefined) out.vmid = olds.vmid;
        if (Array.isArray(out.tags) && !out.tags.some(isUnknown) && typeof out.ownerTag === "string") {
            out.tags = userTags(out.tags as string[], out.ownerTag);
        }
        if (out.features && typeof out.features === "object" && !isUnknown(out.features)) {
            out.features = normaliseFeatureInputs(out.features as LxcInputs["features"]);
        }
        if (Array.isArray(out.networks) && !out.networks.some(isUnknown)) {
            out.networks = normaliseNetworkInputs(out.networks as LxcNetworkInputs[]);
        }
        return out;
    },
    create,
    read,
    async update(id, _olds, news) {
        return update(id, news);
    },
    delete: remove,
});
