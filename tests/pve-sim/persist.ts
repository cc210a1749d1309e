/**
 * Keeps the simulated node's state in `<stateDir>/pve-state.json` so a restarted standalone simulator (the
 * dev stack, `npm run demo`) finds the same node: containers with their config and power state, storage
 * volumes, network config, users, tokens (as salted hashes only), roles and ACLs. Tasks are not kept, like
 * a node's task list after a reboot of pvedaemon... mostly.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BackendContainerSpec } from "./backend";
import type { AclEntry, TokenRecord } from "./access";
import { FileLock } from "./locks";
import type { NetIface, SimState, StorageVolume } from "./state";

interface PersistedUser {
    userid: string;
    enable: boolean;
    expire: number;
    firstname?: string;
    lastname?: string;
    email?: string;
    comment?: string;
    keys?: string;
    groups: string[];
    passwordHash?: string;
    tokens: [string, TokenRecord][];
}

interface PersistedState {
    format: 1;
    containers: {
        vmid: number;
        conf: Record<string, string>;
        pending: Record<string, string>;
        pendingDelete: [string, boolean][];
        running: boolean;
        ostemplate?: string;
    }[];
    volumes: StorageVolume[];
    network: [string, NetIface][];
    pendingNetwork?: [string, NetIface][];
    users: PersistedUser[];
    groups: { groupid: string; users: string[]; comment?: string }[];
    roles: [string, string[]][];
    acl: AclEntry[];
}

export const STATE_FILE = "pve-state.json";

function snapshot(sim: SimState): PersistedState {
    return {
        format: 1,
        containers: [...sim.containers.values()].map((ct) => ({
            vmid: ct.vmid,
            conf: { ...ct.conf },
            pending: { ...ct.pending },
            pendingDelete: [...ct.pendingDelete],
            running: ct.running,
            ostemplate: sim.ostemplates.get(ct.vmid),
        })),
        volumes: [...sim.storages.values()].flatMap((storage) => [...storage.volumes.values()]),
        network: [...sim.network],
        pendingNetwork: sim.pendingNetwork ? [...sim.pendingNetwork] : undefined,
        users: [...sim.access.users].map(([userid, user]) => {
            const { groups, tokens, ...rest } = user;
            return { userid, ...rest, groups: [...groups], tokens: [...tokens] };
        }),
        groups: [...sim.access.groups].map(([groupid, group]) => ({
            groupid,
            users: [...group.users],
            comment: group.comment,
        })),
        roles: [...sim.access.roles]
            .filter(([role]) => !sim.access.isSpecialRole(role))
            .map(([role, privs]) => [role, [...privs]]),
        acl: sim.access.listAcl(),
    };
}

/** Writes the state atomically (temp file + rename). */
export function saveState(sim: SimState, stateDir: string): void {
    const file = join(stateDir, STATE_FILE);
    writeFileSync(`${file}.tmp`, JSON.stringify(snapshot(sim)), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
}

/**
 * Loads a saved state into a freshly seeded SimState. Returns the containers the backend must be told
 * about again (and which of them were running).
 */
export function loadState(sim: SimState, stateDir: string): { spec: BackendContainerSpec; running: boolean }[] {
    const file = join(stateDir, STATE_FILE);
    if (!existsSync(file)) return [];
    const data = JSON.parse(readFileSync(file, "utf8")) as PersistedState;
    if (data.format !== 1) return [];

    for (const volume of data.volumes) {
        sim.storages.get(volume.volid.split(":")[0])?.volumes.set(volume.volid, volume);
    }
    sim.network = new Map(data.network);
    sim.pendingNetwork = data.pendingNetwork ? new Map(data.pendingNetwork) : undefined;
    for (const [role, privs] of data.roles) sim.access.roles.set(role, new Set(privs));
    for (const group of data.groups) {
        sim.access.groups.set(group.groupid, {
            users: new Set(group.users),
            ...(group.comment ? { comment: group.comment } : {}),
        });
    }
    for (const user of data.users) {
        const { userid, groups, tokens, ...rest } = user;
        // root@pam's password and the sim token are seeded by every start (from stateDir's credentials.json).
        const existing = sim.access.users.get(userid);
        const record = existing ?? sim.access.addUser(userid, rest);
        for (const group of groups) record.groups.add(group);
        for (const [tokenid, token] of tokens) if (!record.tokens.has(tokenid)) record.tokens.set(tokenid, token);
    }
    const kinds = { user: "users", group: "groups", token: "tokens" } as const;
    for (const entry of data.acl)
        sim.access.grant(entry.path, kinds[entry.type], entry.ugid, entry.roleid, entry.propagate === 1);

    const restored: { spec: BackendContainerSpec; running: boolean }[] = [];
    for (const saved of data.containers) {
        const ct = sim.newContainer(saved.vmid, saved.conf);
        ct.pending = saved.pending;
        ct.pendingDelete = new Map(saved.pendingDelete);
        ct.flock = new FileLock(`/run/lock/lxc/pve-config-${saved.vmid}.lock`);
        if (saved.ostemplate) sim.ostemplates.set(saved.vmid, saved.ostemplate);
        restored.push({
            spec: {
                vmid: saved.vmid,
                hostname: saved.conf.hostname ?? `CT${saved.vmid}`,
                ostemplate: saved.ostemplate ?? "",
                ostype: saved.conf.ostype === "alpine" ? "alpine" : "debian",
                unprivileged: saved.conf.unprivileged === "1",
                nics: [],
            },
            running: saved.running,
        });
    }
    return restored;
}

/** Saves soon after a change, at most once per `delayMs`, and once more on flush(). */
export class StateSaver {
    private timer: NodeJS.Timeout | undefined;

    constructor(
        private readonly sim: SimState,
        private readonly stateDir: string,
        private readonly delayMs = 200,
    ) {}

    schedule(): void {
        if (this.timer) return;
        this.timer = setTimeout(() => {
            this.timer = undefined;
            this.save();
        }, this.delayMs);
        this.timer.unref();
    }

    flush(): void {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        this.save();
    }

    private save(): void {
        try {
            saveState(this.sim, this.stateDir);
        } catch (error) {
            console.error(`pve-sim: saving state failed: ${error instanceof Error ? error.message : String(error)}`);
        }
    }
}
