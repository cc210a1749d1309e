/**
 * Typed errors of the SSH layer. Each carries a stable `code` as well as its class, because callers may hold
 * a different copy of this module (ts-node in tests, providers/dist in the provider host) and `instanceof`
 * only works within one copy; `isSshErrorCode(err, "…")` works across both.
 */

export type SshErrorCode =
    | "SSH_CONFIG"
    | "SSH_HOST_KEY_MISMATCH"
    | "SSH_CONNECT"
    | "SSH_AUTH"
    | "SSH_CONNECTION_DROPPED"
    | "SSH_TIMEOUT"
    | "SSH_CHANNEL"
    | "SSH_REMOTE_COMMAND"
    | "CT_NOT_RUNNING"
    | "CT_NOT_FOUND";

export class SshError extends Error {
    readonly code: SshErrorCode;

    constructor(code: SshErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.code = code;
        this.name = new.target.name;
    }
}

/** Bad or missing SSH configuration (no host-key pin, unparsable or passphrase-protected key, bad input). */
export class SshConfigError extends SshError {
    constructor(message: string) {
        super("SSH_CONFIG", message);
    }
}

/** The server's host key is not the pinned one. Never retried: it is either a reinstall or an attack. */
export class HostKeyMismatchError extends SshError {
    constructor(
        message: string,
        readonly endpoint: string,
        /** Fingerprint the server presented, `SHA256:…`. */
        readonly seen: string,
        /** Fingerprints the configuration accepts, `SHA256:…`. */
        readonly expected: readonly string[],
    ) {
        super("SSH_HOST_KEY_MISMATCH", message);
    }
}

/** The TCP connection or SSH handshake failed before any command was sent (safe to retry). */
export class SshConnectError extends SshError {
    constructor(message: string, options?: { cause?: unknown }) {
        super("SSH_CONNECT", message, options);
    }
}

/** The server rejected the private key. */
export class SshAuthError extends SshError {
    constructor(message: string) {
        super("SSH_AUTH", message);
    }
}

/**
 * The connection dropped after the command may have reached the server and before its exit status arrived:
 * the command may or may not have run, fully or partly. Reads are safe to retry; whether a write is, only the
 * caller knows. (A command that provably never reached the server is retried by the pool, not reported.)
 */
export class SshConnectionDropped extends SshError {
    constructor(
        message: string,
        readonly endpoint: string,
        options?: { cause?: unknown },
    ) {
        super("SSH_CONNECTION_DROPPED", message, options);
    }
}

/** The command ran longer than its `timeoutMs`; the pool asked the server to kill it and closed the channel. */
export class SshTimeoutError extends SshError {
    constructor(
        message: string,
        readonly timeoutMs: number,
    ) {
        super("SSH_TIMEOUT", message);
    }
}

/** The server refused to run the command (channel or exec request refused after the pool's retries). */
export class SshChannelError extends SshError {
    constructor(message: string, options?: { cause?: unknown }) {
        super("SSH_CHANNEL", message, options);
    }
}

/** A remote command exited non-zero (or by a signal) where the caller required success. */
export class RemoteCommandError extends SshError {
    constructor(
        message: string,
        readonly exitCode: number | null,
        readonly signal: string | undefined,
        readonly stderr: string,
    ) {
        super("SSH_REMOTE_COMMAND", message);
    }
}

/** `pct` refused because the container is stopped: `container '100' not running!`. */
export class ContainerNotRunningError extends SshError {
    constructor(readonly vmid: number) {
        super("CT_NOT_RUNNING", `container ${vmid} is not running: start it before running commands in it`);
    }
}

/** `pct` refused because the container does not exist on this node. */
export class ContainerNotFoundError extends SshError {
    constructor(
        readonly vmid: number,
        detail: string,
    ) {
        super("CT_NOT_FOUND", `container ${vmid} does not exist on this node (${detail})`);
    }
}

/** True when `err` is an SSH-layer error with this code, whichever copy of the module created it. */
export function isSshErrorCode(err: unknown, code: SshErrorCode): boolean {
    return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}
