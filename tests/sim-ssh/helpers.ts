/**
 * Test fixture for the simulator's SSH side: a ChrootBackend plus startSshServer, driven with ssh2's Client
 * directly (the providers' SSH layer is tested separately against the same server).
 */
import { Client, utils } from "ssh2";

import type { BackendContainerSpec, BackendNic } from "../pve-sim/backend";
import { ChrootBackend } from "../pve-sim/chroot-backend";
import {
    startSshServer,
    type PctApi,
    type SshFaults,
    type SshJournalEntry,
    type SshServerHandle,
} from "../pve-sim/ssh-server";

export interface SshFixture {
    backend: ChrootBackend;
    server: SshServerHandle;
    journal: SshJournalEntry[];
    faults: SshFaults;
    /** The authorized client key (OpenSSH private key). */
    privateKey: string;
    connect(privateKey?: string): Promise<Client>;
    /** Creates (and by default starts) a container. */
    createCt(vmid: number, opts?: Partial<BackendContainerSpec> & { start?: boolean }): Promise<void>;
    close(): Promise<void>;
}

export interface RunResult {
    code: number | null;
    stdout: string;
    stderr: string;
}

export const DEBIAN_TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
export const ALPINE_TEMPLATE = "local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz";

export async function startFixture(
    opts: { maxSessionsPerConnection?: number; api?: PctApi } = {},
): Promise<SshFixture> {
    const backend = new ChrootBackend();
    await backend.init();
    const key = utils.generateKeyPairSync("ed25519");
    const journal: SshJournalEntry[] = [];
    const faults: SshFaults = { drop: [], delay: [], fail: [] };
    const existing = new Set<number>();
    const server = await startSshServer({
        backend,
        hasContainer: (vmid) => existing.has(vmid),
        authorizedPublicKey: key.public,
        journal,
        faults,
        maxSessionsPerConnection: opts.maxSessionsPerConnection,
        ...(opts.api ? { api: opts.api } : {}),
    });
    const clients: Client[] = [];
    return {
        backend,
        server,
        journal,
        faults,
        privateKey: key.private,
        connect: (privateKey = key.private) =>
            new Promise((resolve, reject) => {
                const c = new Client();
                clients.push(c);
                c.on("ready", () => {
                    // One small packet per request: without TCP_NODELAY, Nagle + delayed ACKs cost ~40 ms each.
                    c.setNoDelay(true);
                    resolve(c);
                });
                c.on("error", reject);
                c.connect({ host: server.host, port: server.port, username: "root", privateKey, readyTimeout: 10_000 });
            }),
        createCt: async (vmid, o = {}) => {
            const nics: BackendNic[] = o.nics ?? [
                {
                    name: "eth0",
                    bridge: "vmbr1",
                    hwaddr: `BC:24:11:00:00:${(vmid % 256).toString(16).padStart(2, "0")}`,
                    ip: `10.100.0.${vmid % 250}/24`,
                    gw: "10.100.0.1",
                },
            ];
            await backend.create({
                vmid,
                hostname: o.hostname ?? `ct${vmid}`,
                ostemplate: o.ostemplate ?? DEBIAN_TEMPLATE,
                ostype: o.ostype ?? "debian",
                unprivileged: o.unprivileged ?? true,
                nics,
                ...(o.nameserver === undefined ? {} : { nameserver: o.nameserver }),
                ...(o.searchdomain === undefined ? {} : { searchdomain: o.searchdomain }),
            });
            existing.add(vmid);
            if (o.start !== false) await backend.start(vmid);
        },
        close: async () => {
            for (const c of clients) c.end();
            await server.stop();
            await backend.close();
        },
    };
}

/** Runs one command over a new channel; stdin (if any) is sent and then EOF. */
export function run(conn: Client, command: string, stdin?: string | Buffer): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        conn.exec(command, (err, stream) => {
            if (err) return reject(err);
            const out: Buffer[] = [];
            const errOut: Buffer[] = [];
            let code: number | null = null;
            stream.on("exit", (c: number | null) => {
                code = c;
            });
            stream.on("data", (b: Buffer) => out.push(b));
            stream.stderr.on("data", (b: Buffer) => errOut.push(b));
            stream.on("close", () =>
                resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString() }),
            );
            stream.end(stdin);
        });
    });
}

/** Single-quotes a word for the remote shell (the providers' quoting rule). */
export function q(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `pct exec <vmid> -- sh -c <script>` */
export function pctSh(vmid: number, script: string): string {
    return `pct exec ${vmid} -- sh -c ${q(script)}`;
}
