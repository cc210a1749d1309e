/**
 * The two ways PVE authenticates API calls.
 *
 *  - API token: `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET` on every request; no CSRF header. The
 *    acting user is `user@realm!tokenid`, which is never `root@pam`, so root-only checks fail for every token.
 *  - Ticket: `POST /access/ticket` (username, password) → ticket + CSRFPreventionToken; the ticket travels as
 *    cookie `PVEAuthCookie`, and every non-GET request also needs the `CSRFPreventionToken` header. Tickets live
 *    two hours: this client logs in again before ~1 h 50 min, and once more if PVE answers 401 anyway.
 */
import type { PveApiToken } from "./connection";
import type { Clock } from "./retry";

export interface AuthHeaders {
    headers: Record<string, string>;
    /** Which login produced these headers; a 401 only triggers a new login if no newer one happened since. */
    generation: number;
}

export interface PveAuth {
    readonly kind: "token" | "ticket";
    /** `root@pam`, `deploy@pve`, or `deploy@pve!pulumi` for a token. */
    readonly identity: string;
    /** True only for a ticket of root@pam: the only identity PVE's root-only checks accept. */
    readonly isRoot: boolean;
    headersFor(method: string): Promise<AuthHeaders>;
    /** After a 401: renew the credentials if that can help. True when the request may be sent once more. */
    renewAfterUnauthorized(generation: number): Promise<boolean>;
}

export class TokenAuth implements PveAuth {
    readonly kind = "token";
    readonly isRoot = false;
    private readonly header: string;
    readonly identity: string;

    constructor(token: PveApiToken) {
        this.identity = token.tokenId;
        this.header = `PVEAPIToken=${token.tokenId}=${token.secret}`;
    }

    async headersFor(): Promise<AuthHeaders> {
        return { headers: { Authorization: this.header }, generation: 0 };
    }

    async renewAfterUnauthorized(): Promise<boolean> {
        // A token does not expire mid-run in a way a retry could fix (revoked, wrong secret, expired for good).
        return false;
    }
}

/** What `POST /access/ticket` returned, as the client needs it. */
export interface TicketGrant {
    username: string;
    ticket: string;
    csrfToken: string;
}

/** Tickets are valid for 2 h (pve-access-control); renew with a margin so a long apply never crosses expiry. */
export const TICKET_REFRESH_AFTER_MS = 110 * 60 * 1000;

export class TicketAuth implements PveAuth {
    readonly kind = "ticket";
    private grant: TicketGrant | undefined;
    private obtainedAt = 0;
    private generation = 0;
    private inflight: Promise<void> | undefined;

    constructor(
        private readonly username: string,
        private readonly password: string,
        private readonly login: (username: string, password: string) => Promise<TicketGrant>,
        private readonly clock: Clock,
        private readonly refreshAfterMs: number = TICKET_REFRESH_AFTER_MS,
    ) {}

    get identity(): string {
        return this.grant?.username ?? this.username;
    }

    get isRoot(): boolean {
        return this.identity === "root@pam";
    }

    async headersFor(method: string): Promise<AuthHeaders> {
        if (!this.grant || this.clock.now() - this.obtainedAt >= this.refreshAfterMs) await this.relogin();
        const grant = this.grant!;
        // The ticket is sent raw: its characters (`:`, `@`, `/`, `+`, `=`) are all valid cookie octets, and
        // pve-http-server only uri_unescape()s the value, which leaves them alone.
        const headers: Record<string, string> = { Cookie: `PVEAuthCookie=${grant.ticket}` };
        if (method !== "GET") headers.CSRFPreventionToken = grant.csrfToken;
        return { headers, generation: this.generation };
    }

    async renewAfterUnauthorized(generation: number): Promise<boolean> {
        // Concurrent requests that all failed with the same old ticket share one new login.
        if (generation === this.generation) await this.relogin();
        return true;
    }

    /** Logs in now (single flight: concurrent callers wait for the same login). */
    relogin(): Promise<void> {
        if (!this.inflight) {
            this.inflight = (async () => {
                try {
                    const grant = await this.login(this.username, this.password);
                    this.grant = grant;
                    this.obtainedAt = this.clock.now();
                    this.generation++;
                } finally {
                    this.inflight = undefined;
                }
            })();
        }
        return this.inflight;
    }
}
