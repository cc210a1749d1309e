/**
 * Every API request the simulator answered, for tests that assert what a client sent (and did not send).
 * Secret-looking parameters are redacted before they are stored: the log never holds a secret in plain text.
 */

export interface RequestLogEntry {
    seq: number;
    /** ISO time the request arrived. */
    time: string;
    method: string;
    /** Path relative to `/api2/json` (or the full path for non-API paths). */
    path: string;
    /** Query and body parameters (query wins), secrets replaced by `[redacted]`. */
    params: Record<string, string>;
    /** HTTP status answered; 0 when the connection was dropped by a fault. */
    status: number;
    /** `user@realm` or `user@realm!token`, when authenticated. */
    user?: string;
}

/** Parameter names whose values are secrets (passwords, token values, OTPs, tickets, 2FA keys). */
const SECRET_PARAM = /pass|secret|^value$|token|ticket|otp|tfa|^keys$|csrf/i;

export function redactParams(params: Readonly<Record<string, unknown>>): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [key, value] of Object.entries(params)) {
        if (value === undefined || value === null) continue;
        // `tokens` in an ACL update is a list of token ids, not secrets.
        if (SECRET_PARAM.test(key) && key !== "tokens" && key !== "tokenid") result[key] = "[redacted]";
        else result[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return result;
}

export class RequestLog {
    private readonly entries: RequestLogEntry[] = [];
    private seq = 0;

    nextSeq(): number {
        return ++this.seq;
    }

    /** Oldest entries are dropped beyond this many (a long-running standalone simulator). */
    constructor(private readonly maxEntries = 100_000) {}

    add(entry: RequestLogEntry): void {
        this.entries.push(entry);
        if (this.entries.length > this.maxEntries) this.entries.splice(0, this.entries.length - this.maxEntries);
    }

    /** All entries, oldest first. */
    all(): RequestLogEntry[] {
        return [...this.entries];
    }

    /** Non-GET requests. */
    writes(): RequestLogEntry[] {
        return this.entries.filter((entry) => entry.method !== "GET");
    }

    /** GET requests. */
    reads(): RequestLogEntry[] {
        return this.entries.filter((entry) => entry.method === "GET");
    }

    /** Entries matching a method and a path RegExp. */
    find(method: string, path: RegExp): RequestLogEntry[] {
        return this.entries.filter((entry) => entry.method === method && path.test(entry.path));
    }

    clear(): void {
        this.entries.length = 0;
    }
}
