/**
 * The simulator's error type: what a PVE handler dies with. PVE keeps the trailing newline of a `die`
 * message in the JSON `message`, and uses the message's first line as the HTTP reason phrase.
 */
export class PveError extends Error {
    constructor(
        /** HTTP status code. */
        public readonly status: number,
        /** PVE's message text, normally ending in "\n" as Perl `die` leaves it. */
        message: string,
        /** Per-parameter reasons of a 400. */
        public readonly errors?: Readonly<Record<string, string>>,
    ) {
        super(message);
        this.name = "PveError";
    }
}

/** A plain `die "...\n"` inside a handler: HTTP 500 with that text. */
export function fail(message: string, status = 500): PveError {
    return new PveError(status, message.endsWith("\n") ? message : `${message}\n`);
}

/** PVE::Exception::raise_param_exc. */
export function paramError(errors: Record<string, string>): PveError {
    return new PveError(400, "Parameter verification failed.\n", errors);
}

/** PVE::Exception::raise_perm_exc: `Permission check failed (<what>)`. */
export function permError(what?: string): PveError {
    return new PveError(403, what === undefined ? "Permission check failed\n" : `Permission check failed (${what})\n`);
}

/** An authentication failure (pve-http-server answers these with an empty body). */
export function authError(message: string): PveError {
    return new PveError(401, message.endsWith("\n") ? message : `${message}\n`);
}
