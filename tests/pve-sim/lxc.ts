/**
 * `/nodes/{node}/lxc/...`: container create/destroy, config with pending changes, power state, interfaces
 * and resize, following pve-container (API2/LXC.pm, API2/LXC/Config.pm, API2/LXC/Status.pm, LXC/Config.pm
 * update_pct_config / vmconfig_hotplug_pending / vmconfig_apply_pending) and PVE-FACTS.md.
 */
import { createHash, randomBytes } from "node:crypto";
import {
    formatSize,
    normaliseNet,
    normaliseTags,
    parseFeatures,
    parseNet,
    parseRootfs,
    parseSize,
    printRootfs,
    splitList,
} from "../../providers/proxmox/propstrings";
import type { BackendContainerSpec, BackendNic, ContainerBackend } from "./backend";
import type { HandlerContext, HandlerTable } from "./api";
import { fail, paramError, permError } from "./errors";
import { parseVolumeId } from "./formats";
import { FileLock } from "./locks";
import { loadApiSchema, propertiesFor } from "./schema";
import type { Container, SimState } from "./state";
import type { TaskContext } from "./tasks";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Options PVE applies to a running CT at once (pve-container $LXC_FASTPLUG_OPTIONS). */
const FASTPLUG = new Set([
    "description",
    "onboot",
    "startup",
    "protection",
    "hostname",
    "hookscript",
    "cores",
    "tags",
    "lock",
]);

function loadContainer(sim: SimState, vmidText: string): Container {
    const vmid = Number(vmidText);
    const ct = sim.containers.get(vmid);
    if (!ct) throw fail(`Configuration file 'nodes/${sim.node}/lxc/${vmid}.conf' does not exist`);
    return ct;
}

/** AbstractConfig::check_lock. */
function checkLock(ct: Container): void {
    if (ct.conf.lock) throw fail(`CT is locked (${ct.conf.lock})`);
}

/** The config file as PVE writes it (for the SHA-1 digest): description as comments, keys sorted. */
function renderSection(values: Record<string, string>): string {
    let raw = "";
    if (values.description) for (const line of values.description.split("\n")) raw += `#${line}\n`;
    for (const key of Object.keys(values).sort()) {
        if (key === "description") continue;
        raw += `${key}: ${values[key]}\n`;
    }
    return raw;
}

export function configFileText(ct: Container): string {
    let raw = renderSection(ct.conf);
    const pending: Record<string, string> = { ...ct.pending };
    if (ct.pendingDelete.size > 0) {
        pending.delete = [...ct.pendingDelete].map(([key, force]) => (force ? `!${key}` : key)).join(",");
    }
    if (Object.keys(pending).length > 0) raw += `\n[pending]\n${renderSection(pending)}`;
    return raw;
}

function digestOf(ct: Container): string {
    return createHash("sha1").update(configFileText(ct)).digest("hex");
}

/** Config keys typed as the API returns them (integers and booleans as JSON numbers). */
let configTypes: Map<string, string> | undefined;
function typeOfKey(key: string): string | undefined {
    if (!configTypes) {
        configTypes = new Map();
        const info = loadApiSchema()["/nodes/{node}/lxc/{vmid}/config"].PUT;
        for (const [name, prop] of Object.entries(propertiesFor(info, 9)))
            if (prop.type) configTypes.set(name, prop.type);
    }
    return configTypes.get(key);
}

function typedConfig(values: Record<string, string>): Record<string, string | number> {
    const result: Record<string, string | number> = {};
    for (const [key, value] of Object.entries(values)) {
        const type = typeOfKey(key);
        const numeric =
            (type === "integer" || type === "boolean" || type === "number") && /^-?\d+(\.\d+)?$/.test(value);
        result[key] = numeric ? Number(value) : value;
    }
    return result;
}

/** The NICs of a config, in netN order, as the backend wants them. */
export function nicsOf(conf: Record<string, string>): BackendNic[] {
    const nics: BackendNic[] = [];
    const keys = Object.keys(conf)
        .filter((key) => /^net\d+$/.test(key))
        .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
    for (const key of keys) {
        const net = parseNet(conf[key]);
        const nic: BackendNic = { name: net.name, bridge: net.bridge ?? "", hwaddr: net.hwaddr ?? "" };
        if (net.ip !== undefined) nic.ip = net.ip;
        if (net.gw !== undefined) nic.gw = net.gw;
        if (net.mtu !== undefined) nic.mtu = net.mtu;
        if (net.tag !== undefined) nic.tag = net.tag;
        nics.push(nic);
    }
    return nics;
}

/** The ChrootBackend's optional hook for what PVE writes into the CT at start (hostname, DNS, NICs). */
interface Reconfigurable {
    reconfigure(vmid: number, patch: Partial<Omit<BackendContainerSpec, "vmid">>): Promise<void>;
}

function isReconfigurable(backend: ContainerBackend): backend is ContainerBackend & Reconfigurable {
    return typeof (backend as Partial<Reconfigurable>).reconfigure === "function";
}

async function syncBackendSpec(sim: SimState, ct: Container): Promise<void> {
    const nics = nicsOf(ct.conf);
    if (isReconfigurable(sim.backend)) {
        const patch: Partial<Omit<BackendContainerSpec, "vmid">> = {
            hostname: ct.conf.hostname ?? `CT${ct.vmid}`,
            nics,
        };
        if (ct.conf.nameserver !== undefined) patch.nameserver = ct.conf.nameserver;
        if (ct.conf.searchdomain !== undefined) patch.searchdomain = ct.conf.searchdomain;
        await sim.backend.reconfigure(ct.vmid, patch);
    } else {
        await sim.backend.updateNics(ct.vmid, nics);
    }
}

// ---------------------------------------------------------------------------------------------------------
// permission checks (PVE::LXC::check_ct_modify_config_perm and check_bridge_access)

/** RPCEnvironment::check_sdn_bridge for the `localnetwork` zone plain bridges live in. */
function checkBridgeAccess(sim: SimState, user: string, raw: string): void {
    if (user === "root@pam") return;
    const net = parseNet(raw);
    const bridge = net.bridge ?? "";
    const zonePath = `/sdn/zones/localnetwork/${bridge}`;
    if (net.tag) {
        sim.access.check(user, `${zonePath}/${net.tag}`, ["SDN.Use"]);
        return;
    }
    if (sim.access.checkAny(user, zonePath, ["SDN.Use"], true)) return;
    for (const path of sim.access.definedAclPaths()) {
        if (path.startsWith(`${zonePath}/`) && sim.access.checkAny(user, path, ["SDN.Use"], true)) return;
    }
    sim.access.checkAny(user, zonePath, ["SDN.Use"]);
}

function checkModifyConfigPerm(
    sim: SimState,
    user: string,
    vmid: number,
    oldconf: Record<string, string> | undefined,
    newconf: Record<string, string>,
    deleted: readonly string[],
    unprivileged: boolean,
): void {
    if (user === "root@pam") return;
    const vmPath = `/vms/${vmid}`;
    const check = (opt: string, isDelete: boolean): void => {
        if (opt === "cores" || opt === "cpuunits" || opt === "cpulimit") {
            sim.access.check(user, vmPath, ["VM.Config.CPU"]);
        } else if (opt === "rootfs" || /^mp\d+$/.test(opt)) {
            sim.access.check(user, vmPath, ["VM.Config.Disk"]);
            if (isDelete) return;
            const rootfs = parseRootfs(newconf[opt]);
            if (rootfs.volume.startsWith("/")) {
                throw permError(
                    `mount point type ${rootfs.volume.startsWith("/dev/") ? "device" : "bind"} is only allowed for root@pam`,
                );
            }
            if (rootfs.newDiskGiB !== undefined && rootfs.storage !== undefined) {
                sim.access.check(user, `/storage/${rootfs.storage}`, ["Datastore.AllocateSpace"]);
            }
        } else if (opt === "memory" || opt === "swap") {
            sim.access.check(user, vmPath, ["VM.Config.Memory"]);
        } else if (/^net\d+$/.test(opt)) {
            sim.access.check(user, vmPath, ["VM.Config.Network"]);
            if (oldconf?.[opt]) checkBridgeAccess(sim, user, oldconf[opt]);
            if (newconf[opt]) checkBridgeAccess(sim, user, newconf[opt]);
        } else if (/^dev\d+$/.test(opt)) {
            throw permError("configuring device passthrough is only allowed for root@pam");
        } else if (opt === "nameserver" || opt === "searchdomain" || opt === "hostname") {
            sim.access.check(user, vmPath, ["VM.Config.Network"]);
        } else if (opt === "features") {
            if (!unprivileged)
                throw permError("changing feature flags for privileged container is only allowed for root@pam");
            let nestingChanged = false;
            let otherChanged = false;
            const flags = (text: string | undefined): Record<string, string> => {
                const features = text ? parseFeatures(text) : {};
                const out: Record<string, string> = {};
                for (const [key, value] of Object.entries(features)) {
                    out[key] = Array.isArray(value) ? value.join(";") : value ? "1" : "0";
                }
                return out;
            };
            const countOnlyNesting = (features: Record<string, string>): void => {
                const keys = Object.keys(features);
                if (keys.length === 1 && features.nesting === "1") nestingChanged = true;
                else if (keys.length > 0) otherChanged = true;
            };
            if (!isDelete) {
                const features = flags(newconf[opt]);
                if (oldconf?.[opt]) {
                    const old = flags(oldconf[opt]);
                    for (const feature of new Set([...Object.keys(old), ...Object.keys(features)])) {
                        if ((old[feature] ?? "") !== (features[feature] ?? "")) {
                            if (feature === "nesting") nestingChanged = true;
                            else {
                                otherChanged = true;
                                break;
                            }
                        }
                    }
                } else {
                    countOnlyNesting(features);
                }
            } else {
                countOnlyNesting(flags(oldconf?.[opt]));
            }
            if (otherChanged) throw permError("changing feature flags (except nesting) is only allowed for root@pam");
            if (nestingChanged) sim.access.check(user, vmPath, ["VM.Allocate"]);
        } else if (opt === "hookscript") {
            throw permError("changing the hookscript is only allowed for root@pam");
        } else {
            // Tags included: PVE::GuestHelpers::assert_tag_permissions needs VM.Config.Options for plain tags.
            sim.access.check(user, vmPath, ["VM.Config.Options"]);
        }
    };
    for (const opt of Object.keys(newconf)) check(opt, false);
    for (const opt of deleted) check(opt, true);
}

// ---------------------------------------------------------------------------------------------------------
// pending changes (update_pct_config, cleanup_pending, vmconfig_apply_pending, vmconfig_hotplug_pending)

function cleanupPending(ct: Container): void {
    for (const [key, value] of Object.entries(ct.pending)) {
        if (ct.conf[key] !== undefined && ct.conf[key] === value) delete ct.pending[key];
    }
    for (const key of [...ct.pendingDelete.keys()]) {
        if (ct.conf[key] === undefined) ct.pendingDelete.delete(key);
    }
}

/** Applies pending changes to a stopped CT (all of them, or `selection`). */
function applyPending(ct: Container, selection?: ReadonlySet<string>): void {
    for (const key of [...ct.pendingDelete.keys()].sort()) {
        if (selection && !selection.has(key)) continue;
        delete ct.conf[key];
        ct.pendingDelete.delete(key);
    }
    cleanupPending(ct);
    for (const key of Object.keys(ct.pending).sort()) {
        if (selection && !selection.has(key)) continue;
        let value = ct.pending[key];
        if (/^net\d+$/.test(key)) value = normaliseNet(value);
        ct.conf[key] = value;
        delete ct.pending[key];
    }
}

/** Hot-plugs what PVE can change on a running CT; the rest stays pending. Returns whether NICs changed. */
function hotplugPending(ct: Container, selection: ReadonlySet<string>): boolean {
    let nicsChanged = false;
    for (const key of Object.keys(ct.pending).sort()) {
        if (selection.has(key) && FASTPLUG.has(key)) {
            ct.conf[key] = ct.pending[key];
            delete ct.pending[key];
        }
    }
    for (const key of [...ct.pendingDelete.keys()].sort()) {
        if (!selection.has(key)) continue;
        // PVE's regex is `^net(\d)$`: only net0..net9 are hot-unplugged.
        const live = FASTPLUG.has(key) || /^unused(\d+)$/.test(key) || ["swap", "cpulimit", "cpuunits"].includes(key);
        const nic = /^net(\d)$/.test(key);
        if (live || nic) {
            delete ct.conf[key];
            ct.pendingDelete.delete(key);
            nicsChanged ||= nic;
        }
    }
    for (const key of Object.keys(ct.pending).sort()) {
        if (!selection.has(key)) continue;
        if (["cpulimit", "cpuunits", "memory", "swap"].includes(key)) {
            ct.conf[key] = ct.pending[key];
            delete ct.pending[key];
        } else if (/^net\d+$/.test(key)) {
            ct.conf[key] = normaliseNet(ct.pending[key]);
            delete ct.pending[key];
            nicsChanged = true;
        }
    }
    return nicsChanged;
}

/**
 * update_pct_config: stage `param` and `deleted` in the pending section, then hot-plug (running) or apply
 * (stopped). Returns whether NICs changed live.
 */
function updatePctConfig(
    ct: Container,
    running: boolean,
    param: Record<string, string>,
    deleted: string[],
    revert: string[],
): boolean {
    for (const key of revert) {
        delete ct.pending[key];
        ct.pendingDelete.delete(key);
    }
    const modified = new Set<string>();
    for (const key of deleted) {
        if (ct.conf[key] === undefined && ct.pending[key] === undefined) continue; // PVE only warns
        modified.add(key);
        if (key === "memory" || key === "rootfs" || key === "ostype")
            throw fail(`unable to delete required option '${key}'`);
        if (key === "unprivileged") throw fail(`unable to delete read-only option: '${key}'`);
        ct.pendingDelete.set(key, false);
    }
    for (const key of Object.keys(param).sort()) {
        modified.add(key);
        let value = param[key];
        if (key === "unprivileged") throw fail(`unable to modify read-only option: '${key}'`);
        if (key === "tags") value = normaliseTags(value);
        if (key === "rootfs") value = printRootfs(parseRootfs(value));
        ct.pending[key] = value;
        ct.pendingDelete.delete(key);
    }
    cleanupPending(ct);
    if (running) return hotplugPending(ct, modified);
    applyPending(ct, modified);
    return false;
}

// ---------------------------------------------------------------------------------------------------------
// create

function templatePath(sim: SimState, volid: string): string {
    const [storeid, volname] = parseVolumeId(volid);
    const storage = sim.storages.get(storeid);
    if (!storage) throw fail(`storage '${storeid}' does not exist`);
    if (!storage.volumes.has(volid)) throw fail(`can't find file '${volid}'`);
    return `${storage.path ?? "/var/lib/vz"}/template/cache/${volname.replace(/^vztmpl\//, "")}`;
}

function ostypeOf(ostemplate: string): "debian" | "alpine" | "ubuntu" {
    const name = ostemplate.replace(/^.*\//, "");
    if (name.startsWith("alpine")) return "alpine";
    if (name.startsWith("ubuntu")) return "ubuntu";
    return "debian";
}

function sshFingerprint(): string {
    return `SHA256:${randomBytes(32).toString("base64").replace(/=+$/, "")}`;
}

/** Options of POST /lxc that are not container config. */
const CREATE_ONLY = [
    "node",
    "vmid",
    "ostemplate",
    "password",
    "ssh-public-keys",
    "storage",
    "force",
    "restore",
    "pool",
    "ignore-unpack-errors",
    "unprivileged",
    "start",
    "unique",
    "bwlimit",
    "ha-managed",
];

async function createContainer({ sim, user, params }: HandlerContext): Promise<string> {
    const vmid = Number(params.vmid);
    const unprivileged = params.unprivileged === undefined ? true : params.unprivileged === "1";
    if (sim.containers.has(vmid)) throw fail(`CT ${vmid} already exists on node '${sim.node}'`);
    const pool = params.pool;
    if (pool !== undefined) throw permError(`pool '${pool}' does not exist`);
    if (!sim.access.check(user, `/vms/${vmid}`, ["VM.Allocate"], true)) throw permError();
    if (!unprivileged) sim.access.check(user, "/", ["Sys.Modify"]);

    const param: Record<string, string> = {};
    for (const [key, value] of Object.entries(params)) if (!CREATE_ONLY.includes(key)) param[key] = value;
    const { rootfs: rootfsParam, ...configParam } = param;
    const storage = params.storage ?? "local";
    let rootfsValue = rootfsParam ?? `${storage}:4`;
    if (/^\d+(\.\d+)?$/.test(rootfsValue)) rootfsValue = `${storage}:${rootfsValue}`;
    const checked = rootfsParam === undefined ? configParam : { ...configParam, rootfs: rootfsValue };
    checkModifyConfigPerm(sim, user, vmid, undefined, checked, [], unprivileged);

    const ostemplate = params.ostemplate;
    if (user !== "root@pam") {
        const [templateStorage] = parseVolumeId(ostemplate);
        sim.access.checkAny(user, `/storage/${templateStorage}`, ["Datastore.AllocateSpace", "Datastore.Audit"]);
    }
    const archive = templatePath(sim, ostemplate);

    const rootfs = parseRootfs(rootfsValue);
    if (rootfs.volume.startsWith("/") && user !== "root@pam")
        throw fail("Only root can pass arbitrary filesystem paths.");
    let diskStorage: string | undefined;
    if (rootfs.newDiskGiB !== undefined && rootfs.storage !== undefined) {
        diskStorage = rootfs.storage;
        const scfg = sim.storages.get(diskStorage);
        if (!scfg) throw fail(`storage '${diskStorage}' does not exist`);
        if (!scfg.content.has("rootdir")) {
            throw paramError({ storage: `storage '${diskStorage}' does not support container directories` });
        }
        sim.access.check(user, `/storage/${diskStorage}`, ["Datastore.AllocateSpace"]);
    }

    // Build the config as update_pct_config would on an empty, stopped CT (tags sorted, NICs normalised).
    const scratch: Container = {
        vmid,
        conf: {},
        pending: {},
        pendingDelete: new Map(),
        running: false,
        flock: new FileLock(""),
    };
    updatePctConfig(scratch, false, configParam, [], []);
    const finalConf = { ...scratch.conf };

    // create_and_lock_config: the CT exists from now on, locked, with an otherwise empty config.
    const ct = sim.newContainer(vmid, { lock: "create" });
    sim.ostemplates.set(vmid, ostemplate);
    const hostname = finalConf.hostname ?? `CT${vmid}`;
    const ostype = ostypeOf(ostemplate);

    const created = sim.tasks.start(
        "vzcreate",
        String(vmid),
        user,
        async (task) => {
            task.log(`extracting archive '${archive}'`);
            const templateVolume = sim.storages.get(parseVolumeId(ostemplate)[0])?.volumes.get(ostemplate);
            const bytes = templateVolume?.size ?? 0;
            task.log(`Total bytes read: ${bytes} (${Math.round(bytes / MiB)}MiB, 180MiB/s)`);
            task.log("Detected container architecture: amd64");
            const spec: BackendContainerSpec = {
                vmid,
                hostname,
                ostemplate,
                ostype: ostype === "alpine" ? "alpine" : "debian",
                unprivileged,
                nics: nicsOf(finalConf),
            };
            if (finalConf.nameserver !== undefined) spec.nameserver = finalConf.nameserver;
            if (finalConf.searchdomain !== undefined) spec.searchdomain = finalConf.searchdomain;
            await sim.backend.create(spec);
            if (ostype !== "alpine") {
                for (const key of ["ssh_host_ecdsa_key", "ssh_host_ed25519_key", "ssh_host_rsa_key"]) {
                    task.log(`Creating SSH host key '${key}' - this may take some time ...`);
                    task.log(`done: ${sshFingerprint()} root@${hostname}`);
                }
            }
            let rootfsText = rootfs.volume;
            if (diskStorage !== undefined && rootfs.newDiskGiB !== undefined) {
                const scfg = sim.storages.get(diskStorage);
                const size = Math.trunc(rootfs.newDiskGiB * GiB);
                const volname = scfg?.type === "zfspool" ? `subvol-${vmid}-disk-0` : `${vmid}/vm-${vmid}-disk-0.raw`;
                const volid = `${diskStorage}:${volname}`;
                scfg?.volumes.set(volid, {
                    volid,
                    content: "rootdir",
                    format: scfg.type === "zfspool" ? "subvol" : "raw",
                    size,
                    ctime: Math.floor(sim.now()),
                    vmid,
                });
                const { newDiskGiB: _n, storage: _s, volname: _v, sizeBytes: _b, ...rest } = rootfs;
                rootfsText = printRootfs({ ...rest, volume: volid, size: formatSize(size) });
            }
            ct.conf = {
                arch: "amd64",
                ostype,
                ...finalConf,
                hostname,
                memory: finalConf.memory ?? "512",
                swap: finalConf.swap ?? "512",
                rootfs: rootfsText,
            };
            if (unprivileged) ct.conf.unprivileged = "1";
            if (params.start === "1") {
                // PVE's create calls vm_start, which forks its own vzstart worker: a failed start does not
                // fail (or undo) the create.
                const release = await ct.flock.acquire(sim.lockTimeoutMs);
                sim.tasks.start(
                    "vzstart",
                    String(vmid),
                    user,
                    async (startTask) => {
                        checkLock(ct);
                        await startBackend(sim, ct, startTask);
                    },
                    { onFinally: release },
                );
            }
        },
        {
            // PVE destroys the half-made disks and config of a failed create.
            onError: async () => {
                sim.containers.delete(vmid);
                sim.ostemplates.delete(vmid);
                for (const scfg of sim.storages.values()) {
                    for (const [volid, volume] of scfg.volumes) if (volume.vmid === vmid) scfg.volumes.delete(volid);
                }
                await sim.backend.destroy(vmid).catch(() => undefined);
            },
        },
    );
    return created.upid;
}

// ---------------------------------------------------------------------------------------------------------
// power state

async function startBackend(sim: SimState, ct: Container, task?: TaskContext): Promise<void> {
    applyPending(ct);
    const active = sim.activeBridges();
    for (const nic of nicsOf(ct.conf)) {
        if (!active.has(nic.bridge)) {
            task?.log(`bridge '${nic.bridge}' does not exist`);
            throw new Error(`startup for container '${ct.vmid}' failed`);
        }
    }
    await syncBackendSpec(sim, ct);
    await sim.backend.start(ct.vmid);
    ct.running = true;
    ct.startedAt = sim.now();
}

/**
 * Brings a container the simulator restored from its state file back into the backend (and running, if
 * it was). Backends that can re-attach an existing root (`adopt`) keep its files; others make it anew.
 */
export async function resumeContainer(sim: SimState, spec: BackendContainerSpec, running: boolean): Promise<void> {
    const ct = sim.containers.get(spec.vmid);
    if (!ct) return;
    const full: BackendContainerSpec = { ...spec, nics: nicsOf(ct.conf) };
    if (ct.conf.nameserver !== undefined) full.nameserver = ct.conf.nameserver;
    if (ct.conf.searchdomain !== undefined) full.searchdomain = ct.conf.searchdomain;
    const adoptable = sim.backend as ContainerBackend & { adopt?: (spec: BackendContainerSpec) => Promise<void> };
    if (typeof adoptable.adopt === "function") await adoptable.adopt(full);
    else await sim.backend.create(full);
    if (!running) return;
    try {
        await syncBackendSpec(sim, ct);
        await sim.backend.start(ct.vmid);
        ct.running = true;
        ct.startedAt = sim.now();
    } catch {
        ct.running = false;
    }
}

/** lock_config around the worker: the task holds the CT's config flock until it ends. */
async function withFlockTask(
    ctx: HandlerContext,
    ct: Container,
    type: string,
    body: (task: TaskContext) => Promise<void>,
): Promise<string> {
    const release = await ct.flock.acquire(ctx.sim.lockTimeoutMs);
    return ctx.sim.tasks.start(type, String(ct.vmid), ctx.user, body, { onFinally: release }).upid;
}

function checkSkiplock(ctx: HandlerContext): boolean {
    const skiplock = ctx.params.skiplock === "1";
    if (skiplock && ctx.user !== "root@pam") throw paramError({ skiplock: "Only root may use this option." });
    return skiplock;
}

function startContainer(ctx: HandlerContext): Promise<string> {
    const ct = loadContainer(ctx.sim, ctx.params.vmid);
    const skiplock = checkSkiplock(ctx);
    if (ct.running) throw fail(`CT ${ct.vmid} already running`);
    return withFlockTask(ctx, ct, "vzstart", async (task) => {
        if (ct.conf.template === "1") throw new Error("you can't start a CT if it's a template");
        if (!skiplock && ct.conf.lock !== "mounted") checkLock(ct);
        await startBackend(ctx.sim, ct, task);
    });
}

function stopContainer(ctx: HandlerContext): Promise<string> {
    const ct = loadContainer(ctx.sim, ctx.params.vmid);
    const skiplock = checkSkiplock(ctx);
    if (!ct.running) throw fail(`CT ${ct.vmid} not running`);
    return withFlockTask(ctx, ct, "vzstop", async () => {
        if (!skiplock && ct.conf.lock !== "mounted") checkLock(ct);
        await ctx.sim.backend.stop(ct.vmid);
        ct.running = false;
    });
}

async function shutdownBackend(
    sim: SimState,
    ct: Container,
    timeoutSeconds: number,
    forceStop: boolean,
): Promise<void> {
    try {
        await sim.backend.shutdown(ct.vmid, timeoutSeconds * 1000);
    } catch (error) {
        if (!forceStop) throw error;
        await sim.backend.stop(ct.vmid);
    }
    ct.running = false;
}

function shutdownContainer(ctx: HandlerContext): Promise<string> {
    const ct = loadContainer(ctx.sim, ctx.params.vmid);
    const timeout = Number(ctx.params.timeout ?? "60");
    if (!ct.running) throw fail(`CT ${ct.vmid} not running`);
    return withFlockTask(ctx, ct, "vzshutdown", async () => {
        checkLock(ct);
        await shutdownBackend(ctx.sim, ct, timeout, ctx.params.forceStop === "1");
    });
}

function rebootContainer(ctx: HandlerContext): string {
    const ct = loadContainer(ctx.sim, ctx.params.vmid);
    // Sic: pve-container says "VM" here.
    if (!ct.running) throw fail(`VM ${ct.vmid} not running`);
    return ctx.sim.tasks.start("vzreboot", String(ct.vmid), ctx.user, async (task) => {
        const release = await ct.flock.acquire(ctx.sim.lockTimeoutMs);
        try {
            checkLock(ct);
            await shutdownBackend(ctx.sim, ct, Number(ctx.params.timeout ?? "60"), true);
            await startBackend(ctx.sim, ct, task);
        } finally {
            release();
        }
    }).upid;
}

function destroyContainer(ctx: HandlerContext): string {
    const { sim, params } = ctx;
    const ct = loadContainer(sim, params.vmid);
    const earlyChecks = (): void => {
        if (ct.conf.protection === "1") throw fail(`can't remove CT ${ct.vmid} - protection mode enabled`);
        checkLock(ct);
    };
    earlyChecks();
    const force = params.force === "1";
    const runningError = `unable to destroy CT ${ct.vmid} - container is running`;
    if (!force && ct.running) throw fail(runningError);
    return sim.tasks.start("vzdestroy", String(ct.vmid), ctx.user, async (task) => {
        const release = await ct.flock.acquire(sim.lockTimeoutMs);
        try {
            earlyChecks();
            if (ct.running) {
                if (!force) throw new Error(runningError);
                task.log(`forced to stop CT ${ct.vmid} before destroying!`);
                await sim.backend.stop(ct.vmid);
                ct.running = false;
            }
            await sim.backend.destroy(ct.vmid);
            for (const scfg of sim.storages.values()) {
                for (const [volid, volume] of scfg.volumes) if (volume.vmid === ct.vmid) scfg.volumes.delete(volid);
            }
            sim.containers.delete(ct.vmid);
            sim.ostemplates.delete(ct.vmid);
            if (params.purge === "1") {
                task.log(`purging CT ${ct.vmid} from related configurations..`);
                sim.access.removeAclPath(`/vms/${ct.vmid}`);
            }
        } finally {
            release();
        }
    }).upid;
}

// ---------------------------------------------------------------------------------------------------------
// config

function readConfig({ sim, params }: HandlerContext): Record<string, string | number> {
    if (params.snapshot !== undefined && params.current === "1") {
        const message = "cannot use 'snapshot' parameter with 'current'";
        throw paramError({ snapshot: message, current: message });
    }
    const ct = loadContainer(sim, params.vmid);
    if (params.snapshot !== undefined) throw fail(`snapshot '${params.snapshot}' does not exist`);
    const values: Record<string, string> = { ...ct.conf };
    if (params.current !== "1") {
        Object.assign(values, ct.pending);
        for (const key of ct.pendingDelete.keys()) delete values[key];
    }
    return { ...typedConfig(values), digest: digestOf(ct) };
}

async function updateConfig(ctx: HandlerContext): Promise<null> {
    const { sim, user, params } = ctx;
    const vmid = Number(params.vmid);
    const { node: _node, vmid: _vmid, digest, delete: deleteText, revert: revertText, ...param } = params;
    if (Object.keys(param).length === 0 && deleteText === undefined && revertText === undefined) {
        throw fail("no options specified");
    }
    const deleted = splitList(deleteText);
    const revert = splitList(revertText);
    const ct0 = loadContainer(sim, params.vmid);
    const unprivileged = ct0.conf.unprivileged === "1";
    checkModifyConfigPerm(sim, user, vmid, ct0.conf, {}, deleted, unprivileged);
    checkModifyConfigPerm(sim, user, vmid, ct0.conf, {}, revert, unprivileged);
    const known = (key: string): boolean => typeOfKey(key) !== undefined;
    for (const key of revert) {
        if (!known(key)) throw paramError({ revert: `unknown option '${key}'` });
        if (param[key] !== undefined)
            throw paramError({ revert: `you can't use '-${key}' and '-revert ${key}' at the same time` });
    }
    for (const key of deleted) {
        if (!known(key)) throw paramError({ delete: `unknown option '${key}'` });
        if (param[key] !== undefined)
            throw paramError({ delete: `you can't use '-${key}' and -delete ${key}' at the same time` });
        if (revert.includes(key))
            throw paramError({ delete: `you can't use '-delete ${key}' and '-revert ${key}' at the same time` });
    }
    checkModifyConfigPerm(sim, user, vmid, ct0.conf, param, [], unprivileged);

    const release = await ct0.flock.acquire(sim.lockTimeoutMs);
    try {
        const ct = loadContainer(sim, params.vmid);
        checkLock(ct);
        if (digest !== undefined && digest !== digestOf(ct)) {
            throw fail("detected modified configuration - file changed by other user? Try again.");
        }
        const nicsChanged = updatePctConfig(ct, ct.running, param, deleted, revert);
        if (nicsChanged) await sim.backend.updateNics(ct.vmid, nicsOf(ct.conf));
    } finally {
        release();
    }
    return null;
}

/** GuestHelpers::config_with_pending_array. */
function readPending({ sim, params }: HandlerContext): Record<string, string | number>[] {
    const ct = loadContainer(sim, params.vmid);
    const current: Record<string, string | number> = { ...typedConfig(ct.conf), digest: digestOf(ct) };
    const pending = typedConfig(ct.pending);
    const keys = new Set([...Object.keys(current), ...Object.keys(pending), ...ct.pendingDelete.keys()]);
    return [...keys].sort().map((key) => {
        const item: Record<string, string | number> = { key };
        if (current[key] !== undefined) item.value = current[key];
        if (pending[key] !== undefined) item.pending = pending[key];
        if (ct.pendingDelete.has(key)) item.delete = ct.pendingDelete.get(key) ? 2 : 1;
        return item;
    });
}

// ---------------------------------------------------------------------------------------------------------
// status, list, interfaces, resize

function ctStatus(sim: SimState, ct: Container): Record<string, unknown> {
    const conf = { ...ct.conf };
    const memory = Number(conf.memory ?? "512") * MiB;
    const swap = Number(conf.swap ?? "512") * MiB;
    let maxdisk = 0;
    try {
        if (conf.rootfs) maxdisk = parseRootfs(conf.rootfs).sizeBytes ?? 0;
    } catch {
        maxdisk = 0;
    }
    const status: Record<string, unknown> = {
        vmid: ct.vmid,
        name: conf.hostname ?? `CT${ct.vmid}`,
        status: ct.running ? "running" : "stopped",
        type: "lxc",
        uptime: ct.running && ct.startedAt !== undefined ? Math.floor(sim.now() - ct.startedAt) : 0,
        cpus: Number(conf.cpulimit ?? conf.cores ?? 1) || 1,
        cpu: 0,
        maxmem: memory,
        mem: ct.running ? Math.min(memory, 48 * MiB) : 0,
        maxswap: swap,
        swap: 0,
        maxdisk,
        disk: ct.running ? Math.min(maxdisk, 700 * MiB) : 0,
        netin: 0,
        netout: 0,
        diskread: 0,
        diskwrite: 0,
    };
    if (conf.lock) status.lock = conf.lock;
    if (conf.tags) status.tags = conf.tags;
    if (conf.template === "1") status.template = 1;
    return status;
}

function listContainers({ sim, user }: HandlerContext): Record<string, unknown>[] {
    return [...sim.containers.values()]
        .filter((ct) => sim.access.check(user, `/vms/${ct.vmid}`, ["VM.Audit"], true))
        .sort((a, b) => a.vmid - b.vmid)
        .map((ct) => ctStatus(sim, ct));
}

async function interfaces({ sim, params }: HandlerContext): Promise<unknown> {
    const ct = loadContainer(sim, params.vmid);
    if (!ct.running) return null;
    const addrs = await sim.backend.interfaces(ct.vmid);
    return addrs.map((addr) => {
        const entry: Record<string, unknown> = {
            name: addr.name,
            hwaddr: addr.hwaddr,
            "hardware-address": addr.hwaddr,
        };
        const list: Record<string, unknown>[] = [];
        for (const [family, cidr] of [
            ["inet", addr.inet],
            ["inet6", addr.inet6],
        ] as const) {
            if (!cidr) continue;
            entry[family] = cidr;
            const [ip, prefix] = cidr.split("/");
            list.push({ "ip-address": ip, "ip-address-type": family, prefix: Number(prefix) });
        }
        entry["ip-addresses"] = list;
        return entry;
    });
}

function resize(ctx: HandlerContext): Promise<string> {
    const { sim, user, params } = ctx;
    const ct = loadContainer(sim, params.vmid);
    return (async () => {
        const release = await ct.flock.acquire(sim.lockTimeoutMs);
        let handedOver = false;
        try {
            checkLock(ct);
            if (params.digest !== undefined && params.digest !== digestOf(ct)) {
                throw fail("detected modified configuration - file changed by other user? Try again.");
            }
            const disk = params.disk;
            if (!ct.conf[disk]) throw fail(`unable to resize - disk '${disk}' does not exist`);
            const mount = parseRootfs(ct.conf[disk]);
            const [storeid] = parseVolumeId(mount.volume);
            sim.access.check(user, `/storage/${storeid}`, ["Datastore.AllocateSpace"]);
            const volume = sim.storages.get(storeid)?.volumes.get(mount.volume);
            const size = volume?.size ?? mount.sizeBytes;
            if (size === undefined) throw fail(`Could not determine current size of volume '${mount.volume}'`);
            const ext = params.size.startsWith("+");
            const parsed = parseSize(params.size.replace(/^\+/, ""));
            if (parsed === undefined) throw fail("invalid size string");
            const newSize = Math.trunc(ext ? size + parsed : parsed);
            if (newSize < size) throw fail("unable to shrink disk size");
            const task = sim.tasks.start(
                "resize",
                String(ct.vmid),
                user,
                async () => {
                    if (newSize === size) return;
                    if (volume) volume.size = newSize;
                    const { newDiskGiB: _n, storage: _s, volname: _v, sizeBytes: _b, ...rest } = mount;
                    ct.conf[disk] = printRootfs({ ...rest, size: formatSize(newSize) });
                },
                { onFinally: release },
            );
            handedOver = true;
            return task.upid;
        } finally {
            if (!handedOver) release();
        }
    })();
}

// ---------------------------------------------------------------------------------------------------------

export function registerLxc(table: HandlerTable): void {
    table.on("GET", "/nodes/{node}/lxc", listContainers);
    table.on("POST", "/nodes/{node}/lxc", createContainer);
    table.on("GET", "/nodes/{node}/lxc/{vmid}", ({ sim, params }) => {
        loadContainer(sim, params.vmid);
        return [
            "config",
            "status",
            "vncproxy",
            "termproxy",
            "vncwebsocket",
            "spiceproxy",
            "migrate",
            "clone",
            "rrd",
            "rrddata",
            "firewall",
            "snapshot",
            "resize",
            "interfaces",
            "pending",
        ].map((subdir) => ({ subdir }));
    });
    table.on("DELETE", "/nodes/{node}/lxc/{vmid}", destroyContainer);
    table.on("GET", "/nodes/{node}/lxc/{vmid}/config", readConfig);
    table.on("PUT", "/nodes/{node}/lxc/{vmid}/config", updateConfig);
    table.on("GET", "/nodes/{node}/lxc/{vmid}/pending", readPending);
    table.on("GET", "/nodes/{node}/lxc/{vmid}/status/current", ({ sim, params }) => {
        const ct = loadContainer(sim, params.vmid);
        return { ...ctStatus(sim, ct), ha: { managed: 0 } };
    });
    table.on("POST", "/nodes/{node}/lxc/{vmid}/status/start", startContainer);
    table.on("POST", "/nodes/{node}/lxc/{vmid}/status/stop", stopContainer);
    table.on("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown", shutdownContainer);
    table.on("POST", "/nodes/{node}/lxc/{vmid}/status/reboot", rebootContainer);
    table.on("GET", "/nodes/{node}/lxc/{vmid}/interfaces", interfaces);
    table.on("PUT", "/nodes/{node}/lxc/{vmid}/resize", resize);
}

export { ctStatus, loadContainer };
