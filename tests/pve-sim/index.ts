/**
 * The PVE simulator: `startSimulator()` brings up a simulated Proxmox VE node (HTTPS API + SSH with `pct`)
 * on 127.0.0.1 with its own certificate, a root@pam password, a root@pam!sim API token, the `local` and
 * `local-zfs` storages with the Debian 13 template, and the management bridge vmbr0.
 * See docs/ARCHITECTURE.md ("Simulator contract") and /work/shared/PVE-FACTS.md.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { registerAccess } from "./access-api";
import { HandlerTable, PveApi, type ApiResult } from "./api";
import type { ContainerBackend } from "./backend";
import { registerCluster } from "./cluster";
import { ApiFaults } from "./faults";
import { registerLxc, resumeContainer } from "./lxc";
import { loadState, StateSaver } from "./persist";
import { registerNetwork, seedNetwork } from "./network";
import type { PveMajor } from "./privileges";
import { RequestLog } from "./request-log";
import type { ParamValue } from "./schema";
import { SimState } from "./state";
import { addTemplate, registerStorage, seedStorages } from "./storage";
import { startHttpsServer, type RunningServer } from "./server";
import { startSshServer, type SshFaults, type SshJournalEntry, type SshServerHandle } from "./ssh-server";
import type { Task } from "./tasks";
import { fingerprintOf, generateCertificate, type TlsMaterial } from "./tls";

export { ApiFaults } from "./faults";
export type { FailSpec, DropSpec, LatencySpec, TaskFailSpec, SlowTaskSpec, RequestMatcher } from "./faults";
export { RequestLog } from "./request-log";
export type { RequestLogEntry } from "./request-log";
export { SimState } from "./state";
export type { Container, NetIface, Storage, StorageVolume } from "./state";
export type { ApiResult } from "./api";
export type { PveMajor } from "./privileges";

/** Versions the simulator reports on `GET /version`. */
export const PVE_VERSIONS: Readonly<Record<PveMajor, { version: string; release: string; repoid: string }>> = {
    8: { version: "8.4.14", release: "8.4", repoid: "b502d23c55afcba1" },
    9: { version: "9.1.1", release: "9.1", repoid: "42db4a6cf33dac83" },
};

export interface SimulatorOptions {
    /** Node name. Default `pve`. */
    node?: string;
    /** PVE major version to behave like (privileges, error bodies, LXC parameters). Default 9. */
    pveVersion?: PveMajor;
    /** HTTPS port on 127.0.0.1. Default: a random free port. */
    port?: number;
    /** SSH port on 127.0.0.1. Default: a random free port. */
    sshPort?: number;
    /** Container backend. Default: a ChrootBackend under `stateDir` (or a temporary directory). */
    backend?: ContainerBackend;
    /**
     * Where the simulator keeps what must survive a restart: the node's state (pve-state.json), its TLS
     * certificate, the SSH keys, and the default backend's container roots. Default: nothing is kept.
     */
    stateDir?: string;
    /** root@pam's password. Default: random. */
    rootPassword?: string;
    /** Run time of every task (ms). Default 50–200. */
    taskDurationMs?: { min: number; max: number };
    /** How long a config change waits for a CT's config lock. Default 10 000 (PVE's 10 s). */
    lockTimeoutMs?: number;
    /** Delay of 401 answers (pve-http-server: 3000). Default 0 to keep tests fast. */
    unauthorizedDelayMs?: number;
    /** The management bridge. Default vmbr0 192.168.1.10/24 via 192.168.1.1 on eno1. */
    bridge?: { name: string; cidr: string; gateway?: string; ports: string };
    /** Use this certificate instead of generating one. */
    tls?: TlsMaterial;
}

/** SSH connection details (see providers/ssh). */
export interface SshEndpoint {
    host: string;
    port: number;
    user: string;
    /** OpenSSH private key for `user`. */
    privateKey: string;
    /** `SHA256:...` as `ssh-keygen -lf` prints it. */
    hostKeyFingerprint: string;
}

/** The simulator's fault switchboard: the API side's, with the SSH side's under `ssh`. */
export type SimFaults = ApiFaults & { ssh: SshFaults };

export interface Simulator {
    /** `https://127.0.0.1:<port>` (the API is under /api2/json). */
    url: string;
    node: string;
    /** `root@pam!sim=<secret>` (privsep=0, so it has root@pam's privileges, but is never root@pam). */
    apiToken: string;
    rootPassword: string;
    /** SHA-256 fingerprint of the API certificate, `AB:CD:...`. */
    tlsFingerprint: string;
    /** The self-signed API certificate (PEM); it is its own CA. */
    caPem: string;
    ssh: SshEndpoint;
    state: SimState;
    /** API faults (see faults.ts); `faults.ssh` is the SSH side's (drop/delay/fail rules per command). */
    faults: SimFaults;
    requestLog: RequestLog;
    /** Every command the SSH side ran: `{seq, time, argv, vmid?, exitCode, changing, ...}`. */
    sshJournal: SshJournalEntry[];
    backend: ContainerBackend;
    /** Calls an API method in-process (no HTTP), as `user` (default root@pam) — what `pct` does on a node. */
    api(method: string, path: string, params?: Record<string, ParamValue>, user?: string): Promise<ApiResult>;
    /** Resolves when a task has stopped; returns it. */
    waitForTask(upid: string): Promise<Task>;
    stop(): Promise<void>;
}

/** The node's certificate: reused from `stateDir` when there is one (a stable fingerprint), else new. */
async function nodeCertificate(node: string, stateDir: string | undefined): Promise<TlsMaterial> {
    if (stateDir === undefined) return generateCertificate(node);
    const keyFile = join(stateDir, "pve-ssl.key");
    const certFile = join(stateDir, "pve-ssl.pem");
    if (existsSync(keyFile) && existsSync(certFile)) {
        const certPem = readFileSync(certFile, "utf8");
        return { keyPem: readFileSync(keyFile, "utf8"), certPem, fingerprint: fingerprintOf(certPem) };
    }
    const tls = await generateCertificate(node);
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(keyFile, tls.keyPem, { mode: 0o600 });
    writeFileSync(certFile, tls.certPem);
    return tls;
}

/** root@pam's password and the root@pam!sim token secret a previous run in `stateDir` used. */
function seedCredentials(stateDir: string | undefined): { rootPassword: string; tokenSecret: string } | undefined {
    if (stateDir === undefined) return undefined;
    const file = join(stateDir, "credentials.json");
    if (!existsSync(file)) return undefined;
    return JSON.parse(readFileSync(file, "utf8")) as { rootPassword: string; tokenSecret: string };
}

async function defaultBackend(stateDir: string | undefined): Promise<ContainerBackend> {
    const { ChrootBackend } = await import("./chroot-backend");
    return new ChrootBackend(stateDir === undefined ? {} : { stateDir: join(stateDir, "backend") });
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
    const node = opts.node ?? "pve";
    const major: PveMajor = opts.pveVersion ?? 9;
    const faults = new ApiFaults();
    const requestLog = new RequestLog();
    const backend = opts.backend ?? (await defaultBackend(opts.stateDir));
    const taskDuration = opts.taskDurationMs ?? { min: 50, max: 200 };
    const sim = new SimState({
        node,
        major,
        version: PVE_VERSIONS[major],
        backend,
        faults,
        taskTiming: { minMs: taskDuration.min, maxMs: taskDuration.max },
        lockTimeoutMs: opts.lockTimeoutMs ?? 10_000,
    });

    seedStorages(sim);
    addTemplate(sim, "local", "debian-13-standard_13.1-2_amd64.tar.zst");
    const bridge = opts.bridge ?? { name: "vmbr0", cidr: "192.168.1.10/24", gateway: "192.168.1.1", ports: "eno1" };
    seedNetwork(sim, bridge);
    await backend.applyBridges([{ name: bridge.name, cidr: bridge.cidr }]);

    // With a stateDir the credentials survive a restart (a stack's recorded provider config still works).
    const saved = seedCredentials(opts.stateDir);
    const rootPassword = opts.rootPassword ?? saved?.rootPassword ?? randomBytes(18).toString("base64url");
    sim.access.addUser("root@pam", { email: "root@localhost" });
    sim.access.setPassword("root@pam", rootPassword);
    const tokenSecret = sim.access.createToken("root@pam", "sim", {
        privsep: false,
        comment: "pve-sim",
        secret: saved?.tokenSecret,
    });
    if (opts.stateDir !== undefined) {
        mkdirSync(opts.stateDir, { recursive: true });
        writeFileSync(join(opts.stateDir, "credentials.json"), JSON.stringify({ rootPassword, tokenSecret }) + "\n", {
            mode: 0o600,
        });
    }

    let saver: StateSaver | undefined;
    if (opts.stateDir !== undefined) {
        mkdirSync(opts.stateDir, { recursive: true });
        for (const { spec, running } of loadState(sim, opts.stateDir)) await resumeContainer(sim, spec, running);
        const active = sim.network;
        await backend.applyBridges(
            [...active]
                .filter(([, iface]) => iface.type === "bridge")
                .map(([name, iface]) => (typeof iface.cidr === "string" ? { name, cidr: iface.cidr } : { name })),
        );
        const stateSaver = new StateSaver(sim, opts.stateDir);
        sim.onChange(() => stateSaver.schedule());
        saver = stateSaver;
    }

    const table = new HandlerTable();
    registerCluster(table);
    registerLxc(table);
    registerNetwork(table);
    registerStorage(table);
    registerAccess(table);
    const api = new PveApi(sim, table);

    const tls = opts.tls ?? (await nodeCertificate(node, opts.stateDir));
    let server: RunningServer | undefined;
    let sshHandle: SshServerHandle;
    try {
        server = await startHttpsServer({
            host: "127.0.0.1",
            port: opts.port ?? 0,
            tls,
            sim,
            api,
            faults,
            requestLog,
            unauthorizedDelayMs: opts.unauthorizedDelayMs ?? 0,
        });
        sshHandle = await startSshServer({
            port: opts.sshPort ?? 0,
            node,
            backend,
            stateDir: opts.stateDir,
            hasContainer: (vmid: number) => sim.containers.has(vmid),
            isRunning: (vmid: number) => sim.containers.get(vmid)?.running === true,
            // `pct create/set/start/...` run PVE's API handlers as root@pam, as the real pct does.
            api: (method, path, params = {}) => api.call(method, path, params, "root@pam"),
            waitForTask: (upid: string) => sim.tasks.get(upid)?.done,
        });
    } catch (error) {
        await server?.close();
        await backend.close();
        throw error;
    }
    faults.ssh = sshHandle.faults;
    const simFaults = faults as SimFaults;
    const ssh = sshHandle;
    const runningServer = server;

    return {
        url: `https://127.0.0.1:${runningServer.port}`,
        node,
        apiToken: `root@pam!sim=${tokenSecret}`,
        rootPassword,
        tlsFingerprint: tls.fingerprint,
        caPem: tls.certPem,
        ssh: {
            host: ssh.host,
            port: ssh.port,
            user: ssh.user,
            privateKey: ssh.privateKey ?? "",
            hostKeyFingerprint: ssh.hostKeyFingerprint,
        },
        state: sim,
        faults: simFaults,
        requestLog,
        sshJournal: ssh.journal,
        backend,
        api: (method, path, params = {}, user = "root@pam") => api.call(method, path, params, user),
        async waitForTask(upid) {
            const task = sim.tasks.get(upid);
            if (!task) throw new Error(`no such task '${upid}'`);
            await task.done;
            return task;
        },
        async stop() {
            await runningServer.close();
            await ssh.stop();
            await sim.tasks.settle();
            saver?.flush();
            await backend.close();
        },
    };
}
