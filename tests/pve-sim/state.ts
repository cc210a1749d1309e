/**
 * Everything the simulated node knows: containers (config, pending changes, power state, locks), the
 * node's network configuration (current and staged), storages and their volumes, users/ACLs (access.ts) and
 * tasks (tasks.ts). Handlers (lxc.ts, network.ts, storage.ts, access-api.ts, cluster.ts) operate on it.
 */
import type { ContainerBackend } from "./backend";
import { AccessControl } from "./access";
import type { ApiFaults } from "./faults";
import { FileLock } from "./locks";
import type { PveMajor } from "./privileges";
import { TaskManager, type TaskTimingOptions } from "./tasks";

export interface Container {
    vmid: number;
    /** The current config as PVE's file holds it (strings), including `lock` while one is set. */
    conf: Record<string, string>;
    /** The `[pending]` section: values waiting for the next start. */
    pending: Record<string, string>;
    /** Keys whose deletion is pending (value: PVE's `force` flag). */
    pendingDelete: Map<string, boolean>;
    running: boolean;
    /** When it was started (simulator clock, seconds). */
    startedAt?: number;
    /** `/run/lock/lxc/pve-config-<vmid>.lock`. */
    flock: FileLock;
}

/** One interface of /etc/network/interfaces as PVE's network API reports it. */
export type NetIface = Record<string, string | number | string[]>;

export interface StorageVolume {
    volid: string;
    content: "vztmpl" | "rootdir" | "images" | "iso" | "backup";
    format: string;
    size: number;
    ctime: number;
    vmid?: number;
}

export interface Storage {
    id: string;
    type: "dir" | "zfspool";
    content: Set<string>;
    /** Filesystem path (dir storages). */
    path?: string;
    total: number;
    volumes: Map<string, StorageVolume>;
}

/** A template `pveam`/aplinfo offers for download. */
export interface AplTemplate {
    template: string;
    os: string;
    version: string;
    section: string;
    headline: string;
    size: number;
}

export interface SimStateOptions {
    node: string;
    major: PveMajor;
    version: { version: string; release: string; repoid: string };
    backend: ContainerBackend;
    faults: ApiFaults;
    taskTiming: TaskTimingOptions;
    /** How long a config change waits for the CT's config lock (PVE: 10 s). */
    lockTimeoutMs: number;
}

export class SimState {
    readonly node: string;
    readonly major: PveMajor;
    readonly versionInfo: { version: string; release: string; repoid: string };
    readonly backend: ContainerBackend;
    readonly faults: ApiFaults;
    readonly access: AccessControl;
    readonly tasks: TaskManager;
    readonly containers = new Map<number, Container>();
    readonly storages = new Map<string, Storage>();
    readonly aplTemplates: AplTemplate[] = [];
    /** The template each container was made from (PVE does not keep it; persistence needs it). */
    readonly ostemplates = new Map<number, string>();
    /** /etc/network/interfaces as applied (what is running). */
    network = new Map<string, NetIface>();
    /** /etc/network/interfaces.new: staged changes, undefined when nothing is pending. */
    pendingNetwork: Map<string, NetIface> | undefined;
    /** Serialises network applies (PVE-FACTS: concurrent applies race; the node lock file orders them). */
    readonly networkLock = new FileLock("/etc/network/.pve-interfaces.lock");
    taskTiming: TaskTimingOptions;
    lockTimeoutMs: number;
    private clockOffsetMs = 0;
    private readonly changeListeners: (() => void)[] = [];

    constructor(opts: SimStateOptions) {
        this.node = opts.node;
        this.major = opts.major;
        this.versionInfo = opts.version;
        this.backend = opts.backend;
        this.faults = opts.faults;
        this.taskTiming = opts.taskTiming;
        this.lockTimeoutMs = opts.lockTimeoutMs;
        this.access = new AccessControl(opts.major, () => this.now());
        this.tasks = new TaskManager(
            opts.node,
            () => this.now(),
            () => this.taskTiming,
            opts.faults,
            () => this.notifyChanged(),
        );
    }

    /** Registers a callback for "something may have changed" (a write request answered, a task ended). */
    onChange(listener: () => void): void {
        this.changeListeners.push(listener);
    }

    notifyChanged(): void {
        for (const listener of this.changeListeners) listener();
    }

    /** The simulator's clock in seconds since the epoch (wall clock plus any advanceClock()). */
    now(): number {
        return (Date.now() + this.clockOffsetMs) / 1000;
    }

    /** Moves the simulator's clock forward, e.g. past a ticket's 2 h lifetime. */
    advanceClock(seconds: number): void {
        this.clockOffsetMs += seconds * 1000;
    }

    newContainer(vmid: number, conf: Record<string, string>): Container {
        const ct: Container = {
            vmid,
            conf,
            pending: {},
            pendingDelete: new Map(),
            running: false,
            flock: new FileLock(`/run/lock/lxc/pve-config-${vmid}.lock`),
        };
        this.containers.set(vmid, ct);
        return ct;
    }

    /** The network config the API shows: the staged one when there is one (PVE reads interfaces.new). */
    visibleNetwork(): Map<string, NetIface> {
        return this.pendingNetwork ?? this.network;
    }

    /** Bridges that exist on the running node (applied config). */
    activeBridges(): Set<string> {
        const result = new Set<string>();
        for (const [name, iface] of this.network) if (iface.type === "bridge") result.add(name);
        return result;
    }
}
