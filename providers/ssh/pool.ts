/**
 * The SSH connection pool: one ssh2 connection per endpoint, shared by every caller in the process.
 *
 * One dynamic-provider host process serves every resource of a deployment, and a deployment runs dozens of
 * commands on the same PVE host at once. Opening a connection per command costs a full handshake each time and
 * trips sshd's MaxStartups; one connection per endpoint with channels multiplexed over it is what OpenSSH's own
 * ControlMaster does. The pool connects lazily, queues channel opens under a per-connection limit (sshd refuses
 * sessions past MaxSessions, default 10), reconnects for the next command after a drop, and keeps an idle
 * connection open for `idleTimeoutMs` (60 s) so the gaps while PVE tasks run (a container create, a template
 * download) do not cost a new handshake each.
 *
 * An idle connection never keeps the process alive: its socket is unref'd while no channel is open, and the
 * keepalive is the pool's own unref'd timer (ssh2's keepalive interval holds the event loop, so it is off). A
 * process that has run its last command exits at once, without waiting for the idle timeout.
 */
import { createHash } from "node:crypto";
import { Socket } from "node:net";
import { Client, type ClientChannel, type ConnectConfig, utils as sshUtils } from "ssh2";
import {
    SshAuthError,
    SshChannelError,
    SshConfigError,
    SshConnectError,
    SshConnectionDropped,
    SshTimeoutError,
} from "./errors";
import {
    hostKeyMismatchError,
    hostKeyPolicy,
    pinnedHostVerifier,
    type HostKeyObservation,
    type HostKeyPinConfig,
    type HostKeyPolicy,
} from "./hostkey";

/** Where and as whom to connect. Credentials come from the stack config via `configure`, never from inputs. */
export interface SshTarget extends HostKeyPinConfig {
    /** Host name or address of the PVE node. */
    host: string;
    /** Default 22. */
    port?: number;
    /** Default `root` (pct needs root). */
    username?: string;
    /** Unencrypted OpenSSH or PEM private key; passphrase-protected keys are refused with an explanation. */
    privateKey: string;
}

export interface ExecOptions {
    /** Sent on the command's stdin, then EOF. Without it the command sees EOF at once. */
    stdin?: Buffer | string;
    /** Kill the command (signal KILL, then close the channel) when it runs longer; measured from channel open. */
    timeoutMs?: number;
    /** Bytes kept per output stream; the rest is read and dropped and the result says so. Default 1 MiB. */
    maxOutputBytes?: number;
}

export interface ExecResult {
    /** Exit status, or null when the command was killed by a signal. */
    code: number | null;
    /** `SIGKILL` etc. when the command was killed by a signal. */
    signal?: string;
    stdout: Buffer;
    stderr: Buffer;
    /** True when stdout exceeded `maxOutputBytes` and only its beginning is in `stdout`. */
    stdoutTruncated: boolean;
    stderrTruncated: boolean;
}

export interface SshPoolOptions {
    /** Channels open at once per connection; more are queued. Default 8 (OpenSSH's MaxSessions is 10). */
    channelLimit?: number;
    /** Close a connection this long after its last channel closed. Default 60000 ms. */
    idleTimeoutMs?: number;
    /** SSH keepalive period, so a dead peer is noticed while commands wait. Default 10000 ms. */
    keepaliveIntervalMs?: number;
    /** Unanswered keepalives before the connection is declared dead. Default 3. */
    keepaliveCountMax?: number;
    /** TCP connect + handshake + auth deadline. Default 20000 ms. */
    readyTimeoutMs?: number;
    /** How long to keep retrying channel opens the server refuses (MaxSessions) before failing. Default 30000 ms. */
    channelRetryMs?: number;
}

export interface SshPoolStats {
    /** Connections this pool has started, in total and per `user@host:port`. */
    connectionsOpened: number;
    connectionsByEndpoint: Record<string, number>;
    /** Connections currently open or connecting. */
    openConnections: number;
    /** Most channels this pool ever had open at once on one connection. */
    maxConcurrentChannels: number;
}

export const SSH_POOL_DEFAULTS: Readonly<Required<SshPoolOptions>> = {
    channelLimit: 8,
    idleTimeoutMs: 60_000,
    keepaliveIntervalMs: 10_000,
    keepaliveCountMax: 3,
    readyTimeoutMs: 20_000,
    channelRetryMs: 30_000,
};

const DEFAULT_MAX_OUTPUT = 1024 * 1024;

/** `user@host:port`, the pool key and the name errors use. */
export function endpointOf(target: SshTarget): string {
    return `${target.username ?? "root"}@${target.host}:${target.port ?? 22}`;
}

/** A channel open the server refused while the connection stayed up (e.g. MaxSessions reached). */
class ChannelRefused extends Error {}
/** The connection went away before the command reached the server: always safe to retry. */
class NotStarted extends Error {}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeCommand(command: string): string {
    const oneLine = command.replace(/\s+/g, " ");
    return oneLine.length > 120 ? `${oneLine.slice(0, 117)}...` : oneLine;
}

/** Validates the private key up front, so a bad key is a config error with an explanation, not an ssh2 trace. */
function checkPrivateKey(privateKey: string, endpoint: string): void {
    if (typeof privateKey !== "string" || privateKey.trim() === "") {
        throw new SshConfigError(
            `no SSH private key for ${endpoint}: set proxmox-homelab:sshPrivateKey (secret) or PVE_SSH_PRIVATE_KEY`,
        );
    }
    const parsed = sshUtils.parseKey(privateKey);
    if (parsed instanceof Error) {
        if (/encrypted|passphrase/i.test(parsed.message)) {
            throw new SshConfigError(
                `the SSH private key for ${endpoint} is protected by a passphrase, which is not supported: use a ` +
                    "dedicated unencrypted deploy key (kept as a Pulumi secret), e.g. ssh-keygen -t ed25519 -N ''",
            );
        }
        // ssh2's parse errors describe the format problem and never echo key material.
        throw new SshConfigError(`the SSH private key for ${endpoint} cannot be parsed: ${parsed.message}`);
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key.isPrivateKey()) {
        throw new SshConfigError(`the SSH private key for ${endpoint} is a public key; give the private key`);
    }
}

/**
 * ssh2 sends its keepalive through its protocol object's ping(), which it does not export; its own keepalive
 * (the `keepaliveInterval` option) runs a timer that holds the event loop. ssh2 is pinned (package.json), and
 * this fails loudly at the first connection if a future ssh2 moves it, rather than silently losing the keepalive.
 */
function keepalivePing(client: Client): () => void {
    const protocol = (client as unknown as { _protocol?: { ping?: () => void } })._protocol;
    if (!protocol || typeof protocol.ping !== "function") {
        throw new Error("ssh2 no longer exposes its protocol ping: update providers/ssh/pool.ts keepalivePing");
    }
    return () => protocol.ping!();
}

/** One ssh2 connection with its channel semaphore. */
class Connection {
    state: "connecting" | "ready" | "closed" = "connecting";
    readonly ready: Promise<void>;
    private readonly client = new Client();
    private active = 0;
    private limit: number;
    private readonly waiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
    private idleTimer?: NodeJS.Timeout;
    private keepaliveTimer?: NodeJS.Timeout;
    /** When the server last sent anything; the keepalive declares the peer dead after keepaliveCountMax periods. */
    private lastHeard = Date.now();
    private readonly socket = new Socket();
    private ping?: () => void;
    private readonly closeWaiters: (() => void)[] = [];
    private socketClosed = false;

    constructor(
        readonly endpoint: string,
        target: SshTarget,
        policy: HostKeyPolicy,
        private readonly options: Required<SshPoolOptions>,
        private readonly onClosed: (conn: Connection) => void,
        private readonly onChannelCount: (open: number) => void,
    ) {
        this.limit = options.channelLimit;
        const observed: HostKeyObservation = {};
        let settled = false;
        let resolveReady!: () => void;
        let rejectReady!: (err: Error) => void;
        this.ready = new Promise<void>((resolve, reject) => {
            resolveReady = resolve;
            rejectReady = reject;
        });
        // Callers await `ready` themselves; this keeps a rejection nobody awaited from crashing the process.
        this.ready.catch(() => undefined);
        const fail = (err: Error): void => {
            if (settled) return;
            settled = true;
            this.markClosed();
            rejectReady(err);
        };
        this.client.on("ready", () => {
            if (settled) return;
            settled = true;
            if (this.state === "closed") {
                // closeAll() ran while we were connecting.
                rejectReady(new NotStarted("connection closed while connecting"));
                this.client.end();
                return;
            }
            this.state = "ready";
            this.lastHeard = Date.now();
            this.startKeepalive();
            resolveReady();
            this.maybeIdle();
        });
        // Errors after `ready` surface through the channels they kill (their close events), not here.
        this.client.on("error", (err: Error & { level?: string }) => fail(this.connectError(err, policy, observed)));
        this.client.on("close", () => {
            this.socketClosed = true;
            this.markClosed();
            this.closeWaiters.splice(0).forEach((w) => w());
            fail(new SshConnectError(`SSH connection to ${endpoint} closed during the handshake`));
        });
        // Our own socket, so the pool can unref it while the connection is idle.
        this.socket.on("data", () => (this.lastHeard = Date.now()));
        const config: ConnectConfig = {
            sock: this.socket,
            username: target.username ?? "root",
            privateKey: target.privateKey,
            hostVerifier: pinnedHostVerifier(policy, observed),
            // ssh2's keepalive timer would hold the event loop while idle; startKeepalive() replaces it.
            keepaliveInterval: 0,
            readyTimeout: options.readyTimeoutMs,
        };
        if (policy.algorithms) {
            config.algorithms = {
                serverHostKey: [...policy.algorithms] as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"],
            };
        }
        try {
            this.socket.connect({ host: target.host, port: target.port ?? 22 });
            this.client.connect(config);
            this.ping = keepalivePing(this.client);
            // Every command is a few small request/response packets; Nagle's algorithm would hold each back
            // waiting for an ACK (tens of ms). OpenSSH sets TCP_NODELAY for interactive sessions likewise.
            this.socket.setNoDelay(true);
        } catch (err) {
            this.socketClosed = true;
            this.socket.destroy();
            fail(
                new SshConnectError(
                    `SSH connect to ${endpoint} failed: ${err instanceof Error ? err.message : String(err)}`,
                ),
            );
        }
    }

    private connectError(err: Error & { level?: string }, policy: HostKeyPolicy, observed: HostKeyObservation) {
        if (observed.fingerprint !== undefined && /verification failed/i.test(err.message)) {
            return hostKeyMismatchError(this.endpoint, policy, observed);
        }
        if (err.level === "client-authentication") {
            return new SshAuthError(
                `SSH authentication as ${this.endpoint} failed (publickey): check that the public half of ` +
                    "sshPrivateKey is in the user's ~/.ssh/authorized_keys on the PVE host",
            );
        }
        return new SshConnectError(`SSH connection to ${this.endpoint} failed: ${err.message}`, { cause: err });
    }

    private markClosed(): void {
        if (this.state === "closed") return;
        this.state = "closed";
        clearTimeout(this.idleTimer);
        clearInterval(this.keepaliveTimer);
        this.onClosed(this);
        const err = new NotStarted("connection closed before the command was sent");
        this.waiters.splice(0).forEach((w) => w.reject(err));
    }

    /** Waits for a channel slot. Rejects with NotStarted if the connection dies first. */
    acquire(): Promise<void> {
        clearTimeout(this.idleTimer);
        if (this.state === "closed") return Promise.reject(new NotStarted("connection closed"));
        // Busy again: the socket keeps the process alive while a command runs.
        this.socket.ref();
        if (this.active < this.limit) {
            this.active++;
            this.onChannelCount(this.active);
            return Promise.resolve();
        }
        return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }

    release(): void {
        this.active--;
        this.pump();
        this.maybeIdle();
    }

    private pump(): void {
        while (this.state !== "closed" && this.active < this.limit && this.waiters.length > 0) {
            this.active++;
            this.onChannelCount(this.active);
            this.waiters.shift()!.resolve();
        }
    }

    /**
     * The server refused a channel although we were under our limit: it has a lower limit (sshd MaxSessions).
     * Learn it from what is open right now, so the queue stops hammering the server.
     */
    lowerLimit(): void {
        this.limit = Math.max(1, Math.min(this.limit, this.active - 1));
    }

    private maybeIdle(): void {
        if (this.state !== "ready" || this.active > 0 || this.waiters.length > 0) return;
        clearTimeout(this.idleTimer);
        this.idleTimer = setTimeout(() => {
            if (this.active === 0 && this.waiters.length === 0) this.close();
        }, this.options.idleTimeoutMs);
        // Neither an idle connection nor its timer may be what keeps the process alive.
        this.idleTimer.unref();
        this.socket.unref();
    }

    /**
     * Pings the server every keepaliveIntervalMs (an OpenSSH `keepalive@openssh.com` global request, which every
     * server answers, if only with a failure) and destroys the connection when nothing at all has come back for
     * keepaliveCountMax periods: a command waiting on a dead peer fails as dropped instead of hanging, and an
     * idle connection to a host that went away is not reused. The timer is unref'd: it never keeps the process up.
     */
    private startKeepalive(): void {
        const period = this.options.keepaliveIntervalMs;
        if (!(period > 0)) return;
        const ping = this.ping;
        if (!ping) return;
        this.keepaliveTimer = setInterval(() => {
            if (this.state !== "ready") return;
            if (Date.now() - this.lastHeard > period * this.options.keepaliveCountMax) {
                this.socket.destroy(
                    new Error(`no answer to SSH keepalives for ${Math.round((Date.now() - this.lastHeard) / 1000)} s`),
                );
                return;
            }
            ping();
        }, period);
        this.keepaliveTimer.unref();
    }

    /**
     * Opens a session channel and starts `command` in it. `onOpen` runs synchronously inside ssh2's callback:
     * ssh2 parses a whole TCP read at once, so a fast command's output, exit status and close can be emitted
     * in the same tick as the exec reply, before any promise continuation could attach listeners.
     */
    openExec(command: string, onOpen: (channel: ClientChannel) => void): Promise<void> {
        return new Promise((resolve, reject) => {
            if (this.state !== "ready") {
                reject(new NotStarted("connection closed"));
                return;
            }
            try {
                this.client.exec(command, (err, channel) => {
                    if (!err) {
                        onOpen(channel);
                        resolve();
                        return;
                    }
                    if (this.state === "closed") {
                        // ssh2 reports a channel open cut short by the disconnect as "No response from server";
                        // once the open was confirmed the exec request may have reached the server.
                        if (err.message === "No response from server") reject(new NotStarted(err.message));
                        else reject(this.dropped(command, err));
                    } else if (err.message.startsWith("(SSH) Channel open failure")) {
                        reject(new ChannelRefused(err.message));
                    } else {
                        reject(
                            new SshChannelError(
                                `${this.endpoint} refused to run ${describeCommand(command)}: ${err.message}`,
                                {
                                    cause: err,
                                },
                            ),
                        );
                    }
                });
            } catch (err) {
                // ssh2 throws "Not connected" synchronously when the socket is already gone.
                reject(new NotStarted(String(err)));
            }
        });
    }

    dropped(command: string, cause?: unknown): SshConnectionDropped {
        return new SshConnectionDropped(
            `SSH connection to ${this.endpoint} dropped while running ${describeCommand(command)}; the command ` +
                "may or may not have completed",
            this.endpoint,
            { cause },
        );
    }

    close(): Promise<void> {
        this.markClosed();
        if (this.socketClosed) return Promise.resolve();
        return new Promise((resolve) => {
            this.closeWaiters.push(resolve);
            this.client.end();
            // A peer that never answers our disconnect must not hold closeAll() up.
            setTimeout(() => this.client.destroy(), 1000).unref();
        });
    }
}

/** Runs one command on an opened channel: feeds stdin, captures output, applies the timeout. */
function runOnChannel(
    conn: Connection,
    channel: ClientChannel,
    command: string,
    stdin: Buffer | undefined,
    timeoutMs: number | undefined,
    maxOutput: number,
): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
        const out = capture(maxOutput);
        const err = capture(maxOutput);
        let exit: { code: number | null; signal?: string } | undefined;
        let timedOut = false;
        let timer: NodeJS.Timeout | undefined;

        channel.on("data", (chunk: Buffer) => out.push(chunk));
        channel.stderr.on("data", (chunk: Buffer) => err.push(chunk));
        channel.on("exit", (code: number | null, signal?: string) => {
            exit = code === null ? { code: null, signal } : { code };
        });
        // Writes after the remote end closed its side surface here; the close handler reports the outcome.
        channel.on("error", () => undefined);
        channel.on("close", () => {
            clearTimeout(timer);
            conn.release();
            if (timedOut) {
                reject(
                    new SshTimeoutError(
                        `${describeCommand(command)} on ${conn.endpoint} did not finish within ${timeoutMs} ms and was killed`,
                        timeoutMs ?? 0,
                    ),
                );
            } else if (exit) {
                const o = out.result();
                const e = err.result();
                resolve({
                    ...exit,
                    stdout: o.data,
                    stderr: e.data,
                    stdoutTruncated: o.truncated,
                    stderrTruncated: e.truncated,
                });
            } else if (conn.state === "closed") {
                reject(conn.dropped(command));
            } else {
                reject(
                    new SshChannelError(
                        `${conn.endpoint} closed the channel of ${describeCommand(command)} without an exit status`,
                    ),
                );
            }
        });

        if (timeoutMs !== undefined && timeoutMs > 0) {
            timer = setTimeout(() => {
                timedOut = true;
                try {
                    // OpenSSH ≥ 7.9 delivers this; older servers ignore it and the close below hangs up instead.
                    channel.signal("KILL");
                } catch {
                    // the channel may already be closing
                }
                channel.close();
            }, timeoutMs);
        }
        if (stdin && stdin.length > 0) channel.end(stdin);
        else channel.end();
    });
}

function capture(limit: number): { push(chunk: Buffer): void; result(): { data: Buffer; truncated: boolean } } {
    const chunks: Buffer[] = [];
    let kept = 0;
    let truncated = false;
    return {
        push(chunk) {
            if (kept >= limit) {
                truncated = true;
                return;
            }
            const room = limit - kept;
            if (chunk.length > room) {
                truncated = true;
                chunk = chunk.subarray(0, room);
            }
            chunks.push(chunk);
            kept += chunk.length;
        },
        result: () => ({ data: Buffer.concat(chunks), truncated }),
    };
}

export class SshPool {
    private readonly options: Required<SshPoolOptions>;
    private readonly connections = new Map<string, Connection>();
    private opened = 0;
    private readonly openedByEndpoint: Record<string, number> = {};
    private maxChannels = 0;

    constructor(options: SshPoolOptions = {}) {
        this.options = { ...SSH_POOL_DEFAULTS, ...stripUndefined(options) };
        if (!Number.isInteger(this.options.channelLimit) || this.options.channelLimit < 1) {
            throw new SshConfigError(`SshPool channelLimit must be a positive integer, got ${options.channelLimit}`);
        }
    }

    /**
     * Runs `command` (a shell command line, interpreted by the remote user's login shell) on the target.
     * Resolves with the exit status and output whatever the status; rejects only when the command could not be
     * run or its outcome is unknown (`SshConnectionDropped`, `SshTimeoutError`, connect and config errors).
     */
    async exec(target: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
        if (typeof command !== "string" || command === "" || command.includes("\0")) {
            throw new SshConfigError("exec: the command must be a non-empty string without NUL bytes");
        }
        const stdin = typeof opts.stdin === "string" ? Buffer.from(opts.stdin, "utf8") : opts.stdin;
        const maxOutput = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
        const retryDeadline = Date.now() + this.options.channelRetryMs;
        let reconnectsLeft = 2;
        let refusals = 0;
        for (;;) {
            const conn = this.connectionFor(target);
            let acquired = false;
            try {
                await conn.ready;
                await conn.acquire();
                acquired = true;
                let running: Promise<ExecResult> | undefined;
                await conn.openExec(command, (channel) => {
                    running = runOnChannel(conn, channel, command, stdin, opts.timeoutMs, maxOutput);
                });
                acquired = false; // the channel's close handler releases the slot from here on
                return await running!;
            } catch (err) {
                if (acquired) {
                    // Learn the server's limit while this refused channel still counts as open.
                    if (err instanceof ChannelRefused) conn.lowerLimit();
                    conn.release();
                }
                if (err instanceof NotStarted && reconnectsLeft > 0) {
                    reconnectsLeft--;
                    continue;
                }
                if (err instanceof NotStarted) {
                    throw new SshConnectError(
                        `SSH connection to ${conn.endpoint} kept closing before ${describeCommand(command)} could be sent`,
                    );
                }
                if (err instanceof ChannelRefused) {
                    if (Date.now() < retryDeadline) {
                        refusals++;
                        await sleep(Math.min(1000, 25 * 2 ** Math.min(refusals, 6)));
                        continue;
                    }
                    throw new SshChannelError(
                        `${conn.endpoint} kept refusing a session channel for ${this.options.channelRetryMs} ms ` +
                            `(${err.message}); is sshd's MaxSessions very low?`,
                    );
                }
                throw err;
            }
        }
    }

    private connectionFor(target: SshTarget): Connection {
        const endpoint = endpointOf(target);
        // Different credentials or pins for one endpoint must never share a connection verified for other ones.
        const key = `${endpoint}#${credentialDigest(target)}`;
        const existing = this.connections.get(key);
        if (existing && existing.state !== "closed") return existing;
        if (typeof target.host !== "string" || target.host === "") {
            throw new SshConfigError("SSH target: host is required");
        }
        const port = target.port ?? 22;
        if (!Number.isInteger(port) || port < 1 || port > 65535) {
            throw new SshConfigError(`SSH target ${target.host}: port must be 1-65535, got ${port}`);
        }
        const policy = hostKeyPolicy(target, target.host, port);
        checkPrivateKey(target.privateKey, endpoint);
        this.opened++;
        this.openedByEndpoint[endpoint] = (this.openedByEndpoint[endpoint] ?? 0) + 1;
        const conn = new Connection(
            endpoint,
            target,
            policy,
            this.options,
            (closed) => {
                if (this.connections.get(key) === closed) this.connections.delete(key);
            },
            (open) => {
                this.maxChannels = Math.max(this.maxChannels, open);
            },
        );
        if (conn.state !== "closed") this.connections.set(key, conn);
        return conn;
    }

    stats(): SshPoolStats {
        return {
            connectionsOpened: this.opened,
            connectionsByEndpoint: { ...this.openedByEndpoint },
            openConnections: this.connections.size,
            maxConcurrentChannels: this.maxChannels,
        };
    }

    /** Closes every connection now; commands still running fail with `SshConnectionDropped`. */
    async closeAll(): Promise<void> {
        const all = [...this.connections.values()];
        this.connections.clear();
        await Promise.all(all.map((c) => c.close()));
    }
}

function credentialDigest(target: SshTarget): string {
    return createHash("sha256")
        .update(JSON.stringify([target.privateKey, target.hostKeyFingerprint ?? "", target.knownHosts ?? ""]))
        .digest("hex")
        .slice(0, 16);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

let singleton: SshPool | undefined;

/** The process-wide pool every provider shares (one connection per PVE host per deployment). */
export function getSshPool(): SshPool {
    singleton ??= new SshPool();
    return singleton;
}

/** Closes the process-wide pool's connections (tests, and a provider host that wants to exit at once). */
export async function closeAll(): Promise<void> {
    await singleton?.closeAll();
}
