/**
 * Certificate verification for the PVE API, scoped to one client's https.Agent.
 *
 * PVE nodes ship a self-signed certificate (signed by the cluster's own CA), so the usual choices are pinning
 * the certificate's SHA-256 fingerprint or trusting the cluster CA. Both are done here per agent; nothing
 * touches NODE_TLS_REJECT_UNAUTHORIZED or the global agent, which would silently weaken every other HTTPS
 * connection of the process (the Pulumi plugin host talks to other services too).
 *
 * Why a custom createConnection: Node only calls `checkServerIdentity` after the chain verified, which a
 * self-signed certificate never does, and with `rejectUnauthorized: false` the HTTP layer may already have
 * queued the request (Authorization header included) on the TLS socket before any 'secureConnect' listener
 * of ours runs. Handing the socket to HTTP only after our own check guarantees that no byte of a request,
 * and so no credential, reaches a server that failed verification.
 */
import * as https from "node:https";
import type { Duplex } from "node:stream";
import * as tls from "node:tls";
import { PveTlsError } from "./errors";

/** `AB:CD:...` (upper case, colons) from any case, with or without colons; undefined when not 64 hex digits. */
export function normaliseFingerprint(text: string): string | undefined {
    const hex = text
        .trim()
        .replace(/^sha256[:=\s]*/i, "")
        .replace(/:/g, "")
        .toUpperCase();
    if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
    return hex.match(/../g)!.join(":");
}

export interface PveTlsOptions {
    ca?: string;
    /** Canonical `AB:CD:...` form (see normaliseFingerprint). */
    fingerprint?: string;
    insecure?: boolean;
}

/** Marks a failure that happened before the socket was handed to HTTP: the request was never sent. */
export class ConnectPhaseError extends Error {
    readonly code: string | undefined;
    constructor(message: string, code: string | undefined) {
        super(message);
        this.name = "ConnectPhaseError";
        this.code = code;
    }
}

export interface PveAgentOptions {
    tls: PveTlsOptions;
    /** Reuse connections between requests. Off for the agent that carries non-idempotent POSTs (see client). */
    keepAlive: boolean;
    /** Fail the TCP+TLS setup after this long. */
    connectTimeoutMs: number;
    maxSockets?: number;
}

const SETTING_HINT_FINGERPRINT = "proxmox-homelab:pveTlsFingerprint (or PVE_TLS_FINGERPRINT)";
const SETTING_HINT_CA = "proxmox-homelab:pveCaCert (or PVE_CA_CERT)";

/**
 * Decides whether a completed handshake is acceptable. Returns an error to refuse it, undefined to accept.
 * Exported for unit tests of the decision alone.
 */
export function verifyPeer(socket: tls.TLSSocket, target: string, opts: PveTlsOptions): PveTlsError | undefined {
    if (opts.insecure) return undefined;
    const cert = socket.getPeerCertificate();
    const seen = cert && typeof cert.fingerprint256 === "string" ? cert.fingerprint256.toUpperCase() : undefined;
    if (opts.fingerprint !== undefined) {
        if (seen === undefined) {
            return new PveTlsError(`TLS: ${target} presented no certificate; expected fingerprint ${opts.fingerprint}`);
        }
        if (seen !== opts.fingerprint) {
            return new PveTlsError(
                `TLS: the certificate of ${target} does not match the pinned fingerprint\n` +
                    `  seen:     ${seen}\n  expected: ${opts.fingerprint}\n` +
                    `If the node's certificate was renewed on purpose, update ${SETTING_HINT_FINGERPRINT}; ` +
                    "otherwise something is intercepting the connection.",
                seen,
                opts.fingerprint,
            );
        }
        // A pin identifies the exact certificate; the chain is checked too only when a CA was given as well.
        if (opts.ca === undefined) return undefined;
    }
    if (!socket.authorized) {
        const reason = String(socket.authorizationError ?? "unknown verification error");
        const advice =
            opts.ca !== undefined
                ? `check that ${SETTING_HINT_CA} is the CA that signed this certificate and that the endpoint host ` +
                  "name is in its subjectAltName"
                : `if this is your node (compare with 'pvenode cert info' on it), pin it with ${SETTING_HINT_FINGERPRINT}` +
                  ` = ${seen ?? "?"}, or set ${SETTING_HINT_CA} to the cluster CA (/etc/pve/pve-root-ca.pem)`;
        return new PveTlsError(
            `TLS: the certificate of ${target} is not trusted (${reason}); its SHA-256 fingerprint is ${seen ?? "unknown"}. ` +
                advice,
            seen,
            opts.fingerprint,
        );
    }
    return undefined;
}

type ConnectCallback = (err: Error | null, stream: Duplex) => void;

/**
 * An https.Agent whose sockets are verified by `verifyPeer` before HTTP may write to them. One per client,
 * so keep-alive connections (and their verification) are never shared with unrelated code.
 */
export class PveAgent extends https.Agent {
    private readonly pveTls: PveTlsOptions;
    private readonly connectTimeoutMs: number;

    constructor(opts: PveAgentOptions) {
        super({
            keepAlive: opts.keepAlive,
            maxSockets: opts.maxSockets ?? 6,
            // Idle keep-alive sockets close well before pveproxy drops them, which keeps the "server closed
            // the idle connection just as we reused it" race rare; such a failure is retried for idempotent
            // requests, and POSTs never use keep-alive sockets at all.
            timeout: 4_000,
            // TLS resumption would skip the certificate exchange our check depends on.
            maxCachedSessions: 0,
        });
        this.pveTls = opts.tls;
        this.connectTimeoutMs = opts.connectTimeoutMs;
    }

    override createConnection(options: https.RequestOptions, callback?: ConnectCallback): Duplex | null | undefined {
        const host = options.host ?? options.hostname ?? "localhost";
        const port = Number(options.port ?? 443);
        const target = `${host}:${port}`;
        const servername = options.servername ?? (isIpAddress(host) ? undefined : host);
        const connectOptions: tls.ConnectionOptions = {
            host,
            port,
            servername,
            ca: this.pveTls.ca,
            // Verification is done by verifyPeer below, before HTTP sees the socket; Node's own check would
            // refuse a self-signed certificate even when it matches the pin.
            rejectUnauthorized: false,
            ALPNProtocols: ["http/1.1"],
        };
        let settled = false;
        const socket = tls.connect(connectOptions);
        const finish = (err: Error | null) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            socket.removeListener("error", onError);
            if (err) {
                socket.destroy();
                callback?.(err, socket);
            } else {
                callback?.(null, socket);
            }
        };
        const onError = (err: NodeJS.ErrnoException) => {
            finish(new ConnectPhaseError(`${err.message}`, err.code));
        };
        const timer = setTimeout(() => {
            finish(
                new ConnectPhaseError(`connect to ${target} timed out after ${this.connectTimeoutMs} ms`, "ETIMEDOUT"),
            );
        }, this.connectTimeoutMs);
        socket.once("error", onError);
        socket.once("secureConnect", () => {
            const refused = verifyPeer(socket, target, this.pveTls);
            finish(refused ?? null);
        });
        return undefined;
    }
}

function isIpAddress(host: string): boolean {
    return /^[\d.]+$/.test(host) || host.includes(":");
}

const warnedInsecure = new Set<string>();

/**
 * Logs the insecure-mode warning once per endpoint per process (one plugin process serves every resource, and
 * a warning per request would bury everything else).
 */
export function warnInsecureOnce(endpoint: string, warn: (message: string) => void): void {
    if (warnedInsecure.has(endpoint)) return;
    warnedInsecure.add(endpoint);
    warn(
        `WARNING: TLS certificate verification is DISABLED for ${endpoint} (proxmox-homelab:pveInsecure / ` +
            "PVE_INSECURE). Anyone on the network path can impersonate the node and read the API credentials. " +
            `Pin the certificate instead: set ${SETTING_HINT_FINGERPRINT} to the node's SHA-256 fingerprint.`,
    );
}
