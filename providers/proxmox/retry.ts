/**
 * Which failures are worth another attempt, and whether another attempt is safe.
 *
 * Every failure falls in one of three classes:
 *
 *  - "pre-effect": the server certainly did nothing, so ANY method may be sent again.
 *      * could not connect: ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EAI_AGAIN, connect timeout, a reset during
 *        the TLS handshake (the client hands a socket to HTTP only after TLS verification, so nothing was sent);
 *      * a lock that PVE failed to take before doing anything: `CT 100 is locked (create)`/`CT is locked`
 *        (pve-container checks the config lock first), `can't lock file '...' - got timeout`;
 *      * 503 (a proxy in front of pveproxy refusing the request), 595 `Connection refused` (pveproxy could not
 *        reach the target node).
 *  - "ambiguous": the request may or may not have taken effect.
 *      * the connection dropped after the request was sent (ECONNRESET, EPIPE, `socket hang up`, a response
 *        timeout), 502/504, 595/596 other than `Connection refused`, any other `got timeout`, other 5xx not
 *        listed as permanent.
 *    Idempotent requests (GET, PUT, DELETE by default) are simply sent again. A non-idempotent request (POST by
 *    default: create CT, start, download, ...) is NEVER blindly repeated: the caller's `verify` callback decides
 *    whether the first attempt took effect (then its result is returned) or not (then it is safe to resend);
 *    without `verify` the failure surfaces as PveOutcomeUnknownError.
 *  - "permanent": retrying cannot help. All 4xx (401 on an expired ticket is handled separately by re-login),
 *    501, TLS verification failures, unusable responses, and 500 with any other message: PVE reports a
 *    handler's own `die` as 500 (`CT 100 already exists`, `Configuration file ... does not exist`,
 *    `CT 100 not running`), which would only be repeated six times and delay the real error.
 */
import { ConnectPhaseError } from "./tls";
import { PveApiError, PveConnectionError } from "./errors";

export type FailureClass = "pre-effect" | "ambiguous" | "permanent";

export interface Classification {
    kind: FailureClass;
    reason: string;
}

const LOCK_RE = /\bis locked\b|can't lock file .* got timeout/i;
const PERMANENT_CONNECT_CODES = new Set(["ENOTFOUND", "EINVAL", "ERR_INVALID_ARG_TYPE"]);

export function classifyFailure(err: unknown): Classification {
    if (err instanceof PveConnectionError) {
        if (!err.sent) {
            if (err.code !== undefined && PERMANENT_CONNECT_CODES.has(err.code)) {
                // A wrong host name does not fix itself; say so at once instead of after six attempts.
                return { kind: "permanent", reason: `connect failed with ${err.code}` };
            }
            return { kind: "pre-effect", reason: `could not connect (${err.code ?? "unknown"})` };
        }
        return { kind: "ambiguous", reason: `connection failed after sending (${err.code ?? "unknown"})` };
    }
    if (err instanceof PveApiError) {
        const text = [err.pveMessage, ...Object.values(err.errors)].join("\n");
        if (LOCK_RE.test(text)) return { kind: "pre-effect", reason: "resource locked" };
        if (err.status === 503) return { kind: "pre-effect", reason: "service unavailable" };
        if (err.status === 595 && /connection refused/i.test(err.pveMessage)) {
            return { kind: "pre-effect", reason: "proxied node refused the connection" };
        }
        if (/got timeout/i.test(text)) return { kind: "ambiguous", reason: "timeout reported by PVE" };
        if (err.status === 500 || err.status === 501 || err.status < 500) {
            return { kind: "permanent", reason: `HTTP ${err.status}` };
        }
        return { kind: "ambiguous", reason: `HTTP ${err.status}` };
    }
    if (err instanceof ConnectPhaseError) return { kind: "pre-effect", reason: "could not connect" };
    return { kind: "permanent", reason: "not a transient failure" };
}

/** Time source, injectable so tests run backoff and task polling without waiting. */
export interface Clock {
    now(): number;
    sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface RetryPolicy {
    /** Total attempts including the first. */
    maxAttempts: number;
    baseDelayMs: number;
    maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 5_000 };

/**
 * Full-jitter exponential backoff (AWS architecture blog): uniform in [0, min(cap, base·2^(n-1))] before retry n.
 * Jitter spreads the retries of the many resources one deployment updates in parallel.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
    return Math.floor(random() * ceiling);
}

/** What a `verify` callback concludes about an ambiguous attempt. */
export type VerifyOutcome<T> = { tookEffect: true; result: T } | { tookEffect: false };
