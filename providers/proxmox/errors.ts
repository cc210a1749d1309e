/**
 * Error classes of the PVE API client. Every message names the request (method + path) so a failure deep in a
 * provider reads on its own in `pulumi up` output. No message ever contains a request body, a header, a
 * ticket, a token secret or a password: bodies of LXC creates carry root passwords.
 */

/** A configuration problem: bad or missing connection settings. Lists every problem at once. */
export class PveConfigError extends Error {
    readonly problems: readonly string[];

    constructor(problems: readonly string[]) {
        super(`Proxmox VE connection settings are invalid:\n  - ${problems.join("\n  - ")}`);
        this.name = "PveConfigError";
        this.problems = problems;
    }
}

/** The server answered with an HTTP error status (PVE's `{data: null, message?, errors?}` envelope). */
export class PveApiError extends Error {
    /** HTTP status (400, 401, 403, 500, 501, 595, 596, ...). */
    readonly status: number;
    /** PVE's message: the body's `message` (PVE ≥ 9) or else the status line's reason (PVE 8). */
    readonly pveMessage: string;
    /** Per-parameter errors of a 400 `Parameter verification failed.` (param → reason). */
    readonly errors: Readonly<Record<string, string>>;
    readonly method: string;
    readonly path: string;
    /** Extra advice the client adds (which config key to check); not part of PVE's answer. */
    readonly hint: string | undefined;

    constructor(args: {
        status: number;
        pveMessage: string;
        errors?: Readonly<Record<string, string>>;
        method: string;
        path: string;
        hint?: string;
    }) {
        const errors = args.errors ?? {};
        super(formatApiError(args.method, args.path, args.status, args.pveMessage, errors, args.hint));
        this.name = "PveApiError";
        this.status = args.status;
        this.pveMessage = args.pveMessage;
        this.errors = errors;
        this.method = args.method;
        this.path = args.path;
        this.hint = args.hint;
    }

    /** `PUT /nodes/pve/lxc/101/config: 400 Parameter verification failed. (net0: invalid format ...)` */
    override toString(): string {
        return this.message;
    }
}

function formatApiError(
    method: string,
    path: string,
    status: number,
    pveMessage: string,
    errors: Readonly<Record<string, string>>,
    hint: string | undefined,
): string {
    const keys = Object.keys(errors).sort();
    const details = keys.length > 0 ? ` (${keys.map((k) => `${k}: ${errors[k]}`).join("; ")})` : "";
    const advice = hint ? ` [${hint}]` : "";
    return `${method} ${path}: ${status} ${pveMessage}${details}${advice}`;
}

/**
 * The request never got a complete answer: connection refused/reset, socket hang up, timeout.
 * `sent` tells whether any byte of the request may have reached the server; when false (the connection or
 * its TLS handshake failed before the client handed the socket to HTTP) the request certainly had no effect.
 */
export class PveConnectionError extends Error {
    /** Node's error code when there is one (ECONNRESET, ECONNREFUSED, ETIMEDOUT, EPIPE, ...). */
    readonly code: string | undefined;
    readonly method: string;
    readonly path: string;
    readonly sent: boolean;

    constructor(args: { method: string; path: string; code: string | undefined; detail: string; sent: boolean }) {
        const what = args.sent ? "connection failed after the request was sent" : "could not connect";
        super(`${args.method} ${args.path}: ${what}: ${args.detail}${args.code ? ` (${args.code})` : ""}`);
        this.name = "PveConnectionError";
        this.code = args.code;
        this.method = args.method;
        this.path = args.path;
        this.sent = args.sent;
    }
}

/** The server's certificate was refused (pin mismatch, untrusted chain, wrong host name). Never retried. */
export class PveTlsError extends Error {
    /** SHA-256 fingerprint of the certificate the server presented, `AB:CD:...`. */
    readonly seenFingerprint: string | undefined;
    /** The pinned fingerprint, when pinning was configured. */
    readonly expectedFingerprint: string | undefined;

    constructor(message: string, seenFingerprint?: string, expectedFingerprint?: string) {
        super(message);
        this.name = "PveTlsError";
        this.seenFingerprint = seenFingerprint;
        this.expectedFingerprint = expectedFingerprint;
    }
}

/** A 2xx answer the client cannot use: not JSON, no `data`, or `data` not in the shape the code relies on. */
export class PveResponseError extends Error {
    readonly method: string;
    readonly path: string;

    constructor(method: string, path: string, problem: string) {
        super(`${method} ${path}: unexpected response from Proxmox VE: ${problem}`);
        this.name = "PveResponseError";
        this.method = method;
        this.path = path;
    }
}

/**
 * A non-idempotent request (e.g. POST that starts a task) failed in a way that leaves its effect unknown and
 * no `verify` callback could settle it; it was NOT sent again because a blind repeat may do the work twice.
 */
export class PveOutcomeUnknownError extends Error {
    readonly method: string;
    readonly path: string;
    override readonly cause: Error;

    constructor(method: string, path: string, cause: Error, verifyFailure?: Error) {
        const how = verifyFailure
            ? `verifying whether it took effect failed too: ${verifyFailure.message}`
            : "no verification was provided, so it was not repeated";
        super(`${method} ${path}: outcome unknown after ${cause.message}; ${how}`);
        this.name = "PveOutcomeUnknownError";
        this.method = method;
        this.path = path;
        this.cause = cause;
    }
}

/** A PVE task (UPID) ended with an exit status other than `OK` / `WARNINGS: n`. */
export class PveTaskError extends Error {
    readonly upid: string;
    readonly node: string;
    /** PVE's exit status text, e.g. `unable to create CT 100 - ...` or `command '...' failed: exit code 1`. */
    readonly exitStatus: string;
    /** The last lines of the task log (up to ~20), oldest first. */
    readonly logTail: readonly string[];

    constructor(args: { upid: string; node: string; type: string; id: string; exitStatus: string; logTail: string[] }) {
        const subject = args.id ? `${args.type} ${args.id}` : args.type;
        const log = args.logTail.length > 0 ? `\n  task log (last lines):\n    ${args.logTail.join("\n    ")}` : "";
        super(`task ${subject} on node '${args.node}' failed: ${args.exitStatus}\n  upid: ${args.upid}${log}`);
        this.name = "PveTaskError";
        this.upid = args.upid;
        this.node = args.node;
        this.exitStatus = args.exitStatus;
        this.logTail = args.logTail;
    }
}

/** `waitForTask` gave up: the task was still running when the timeout elapsed. The task itself keeps running. */
export class PveTaskTimeoutError extends Error {
    readonly upid: string;
    readonly node: string;
    readonly timeoutMs: number;

    constructor(upid: string, node: string, timeoutMs: number, lastStatus: string) {
        super(
            `task ${upid} on node '${node}' did not finish within ${timeoutMs} ms (last status: ${lastStatus}); ` +
                "it may still be running on the node",
        );
        this.name = "PveTaskTimeoutError";
        this.upid = upid;
        this.node = node;
        this.timeoutMs = timeoutMs;
    }
}

/**
 * Whether an error says the thing asked for does not exist: `Configuration file 'nodes/pve/lxc/100.conf' does
 * not exist` (500), `interface does not exist` (400 errors.iface), `no such user`, `no such token`,
 * `role 'x' does not exist`. Providers use it in `read`/`delete` to tell "gone" from "broken".
 */
export function isPveNotFound(err: unknown): boolean {
    if (!(err instanceof PveApiError)) return false;
    if (err.status === 404) return true;
    const texts = [err.pveMessage, ...Object.values(err.errors)];
    return texts.some((t) => /does not exist|^no such |not found/i.test(t.trim()));
}
