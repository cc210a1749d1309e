/**
 * The PVE HTTP API client: one instance per endpoint + identity. It owns two https.Agents with the
 * client's TLS verification (see tls.ts), the authentication state (auth.ts) and the retry loop (retry.ts).
 *
 * It lives in the compiled provider runtime, never in a serialized provider closure (DESIGN.md): instances hold
 * sockets and credentials.
 */
import * as http from "node:http";
import * as https from "node:https";
import { z } from "zod";
import { PveAuth, TicketAuth, TicketGrant, TokenAuth } from "./auth";
import { PveConnectionSettings, PVE_SETTINGS, settingLabel } from "./connection";
import {
    PveApiError,
    PveConfigError,
    PveConnectionError,
    PveOutcomeUnknownError,
    PveResponseError,
    PveTlsError,
} from "./errors";
import { encodeParams, FormParams } from "./form";
import {
    backoffDelay,
    classifyFailure,
    Clock,
    DEFAULT_RETRY_POLICY,
    RetryPolicy,
    systemClock,
    VerifyOutcome,
} from "./retry";
import { isUpid, rememberTask } from "./tasks";
import { ConnectPhaseError, PveAgent, warnInsecureOnce } from "./tls";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface PveLogger {
    warn(message: string): void;
    debug?(message: string): void;
}

export interface PveClientOptions {
    /**
     * Which credentials to use. Default: the API token when one is configured, else a ticket from
     * username/password. Root-only operations (PVE-FACTS: privileged CTs, feature flags other than nesting)
     * need `"ticket"` with root@pam.
     */
    auth?: "token" | "ticket";
    /** Overrides of the retry policy (default 6 attempts, 200 ms base, 5 s cap, full jitter). */
    retry?: Partial<RetryPolicy>;
    /** Time source for backoff, ticket age and task polling. */
    clock?: Clock;
    /** Uniform [0, 1) source for backoff jitter. */
    random?: () => number;
    /** No response within this long fails the attempt (default 60 s). */
    requestTimeoutMs?: number;
    /** TCP + TLS setup limit (default 10 s). */
    connectTimeoutMs?: number;
    /** Where the insecure-mode warning (and debug lines, if wanted) go. Default: console.warn. */
    logger?: PveLogger;
    /** Ticket renewal age (default 110 min, tickets live 120). */
    ticketRefreshAfterMs?: number;
}

export interface RequestOptions<T> {
    /** Query parameters for GET/DELETE, form body for POST/PUT. */
    params?: FormParams;
    /** Validates `data`; a mismatch is a PveResponseError naming the path and the zod issue. */
    schema?: z.ZodType<T>;
    /**
     * Whether sending the request twice is harmless. Default: true for GET/PUT/DELETE, false for POST.
     * Wrappers override it where PVE's semantics differ (a PUT or DELETE that starts a task).
     */
    idempotent?: boolean;
    /**
     * For non-idempotent requests: called after a failure that leaves the outcome unknown (see retry.ts). Return
     * `{tookEffect: true, result}` when the first attempt did its work (its result is returned to the caller and
     * nothing is sent again) or `{tookEffect: false}` when it is safe to send again.
     */
    verify?: (failure: Error) => Promise<VerifyOutcome<T>>;
    /** Per-request retry overrides. */
    retry?: Partial<RetryPolicy>;
    /** Per-request response timeout. */
    timeoutMs?: number;
}

/** The whole answer: `data` plus the envelope's siblings (`total` of task logs, `changes` of node networks). */
export interface PveEnvelope<T> {
    data: T;
    extra: Readonly<Record<string, unknown>>;
}

interface RawResponse {
    status: number;
    statusMessage: string;
    body: string;
}

interface InternalOptions<T> extends RequestOptions<T> {
    /** The login request itself carries no credentials. */
    anonymous?: boolean;
}

const ticketGrantSchema = z.looseObject({
    username: z.string().min(1),
    ticket: z.string().optional(),
    CSRFPreventionToken: z.string().optional(),
    NeedTFA: z.union([z.number(), z.boolean(), z.string()]).optional(),
});

export class PveClient {
    /** `https://host:8006`. */
    readonly endpoint: string;
    readonly clock: Clock;
    readonly random: () => number;
    private readonly url: URL;
    private readonly auth: PveAuth;
    private readonly retryPolicy: RetryPolicy;
    private readonly requestTimeoutMs: number;
    private readonly logger: PveLogger;
    /** Keep-alive connections for idempotent requests. */
    private readonly reuseAgent: PveAgent;
    /**
     * A fresh connection for every non-idempotent request: a reused keep-alive socket that the server closed
     * while idle fails with ECONNRESET in a way indistinguishable from a drop after processing, and would
     * turn routine POSTs into "outcome unknown".
     */
    private readonly freshAgent: PveAgent;

    constructor(settings: PveConnectionSettings, options: PveClientOptions = {}) {
        this.endpoint = settings.endpoint;
        this.url = new URL(settings.endpoint);
        this.clock = options.clock ?? systemClock;
        this.random = options.random ?? Math.random;
        this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
        this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
        this.logger = options.logger ?? { warn: (m) => console.warn(m) };
        const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
        this.reuseAgent = new PveAgent({ tls: settings.tls, keepAlive: true, connectTimeoutMs });
        this.freshAgent = new PveAgent({ tls: settings.tls, keepAlive: false, connectTimeoutMs });
        if (settings.tls.insecure) warnInsecureOnce(settings.endpoint, (m) => this.logger.warn(m));

        const mode = options.auth ?? (settings.token ? "token" : "ticket");
        if (mode === "token") {
            if (!settings.token) {
                throw new PveConfigError([`${settingLabel(PVE_SETTINGS.apiToken)}: missing (token auth requested)`]);
            }
            this.auth = new TokenAuth(settings.token);
        } else {
            if (settings.password === undefined) {
                throw new PveConfigError([
                    `${settingLabel(PVE_SETTINGS.password)}: missing; ticket auth (needed for root-only operations) ` +
                        `logs in as ${settings.username} with a password`,
                ]);
            }
            this.auth = new TicketAuth(
                settings.username,
                settings.password,
                (u, p) => this.login(u, p),
                this.clock,
                options.ticketRefreshAfterMs,
            );
        }
    }

    /** `root@pam`, `user@realm`, or `user@realm!tokenid` for a token. */
    get identity(): string {
        return this.auth.identity;
    }

    /** True only for a root@pam ticket: PVE never treats a token as root@pam, not even root's own tokens. */
    get isRoot(): boolean {
        return this.auth.isRoot;
    }

    get authKind(): "token" | "ticket" {
        return this.auth.kind;
    }

    get(path: string, params?: FormParams): Promise<unknown>;
    get<T>(path: string, params: FormParams | undefined, schema: z.ZodType<T>): Promise<T>;
    get<T>(path: string, params?: FormParams, schema?: z.ZodType<T>): Promise<T | unknown> {
        return this.request("GET", path, { params, schema });
    }

    post(path: string, params?: FormParams): Promise<unknown>;
    post<T>(path: string, params: FormParams | undefined, schema: z.ZodType<T>, opts?: WriteOptions<T>): Promise<T>;
    post<T>(path: string, params?: FormParams, schema?: z.ZodType<T>, opts?: WriteOptions<T>): Promise<T | unknown> {
        return this.request("POST", path, { ...opts, params, schema });
    }

    put(path: string, params?: FormParams): Promise<unknown>;
    put<T>(path: string, params: FormParams | undefined, schema: z.ZodType<T>, opts?: WriteOptions<T>): Promise<T>;
    put<T>(path: string, params?: FormParams, schema?: z.ZodType<T>, opts?: WriteOptions<T>): Promise<T | unknown> {
        return this.request("PUT", path, { ...opts, params, schema });
    }

    delete(path: string, params?: FormParams): Promise<unknown>;
    delete<T>(path: string, params: FormParams | undefined, schema: z.ZodType<T>, opts?: WriteOptions<T>): Promise<T>;
    delete<T>(path: string, params?: FormParams, schema?: z.ZodType<T>, opts?: WriteOptions<T>): Promise<T | unknown> {
        return this.request("DELETE", path, { ...opts, params, schema });
    }

    async request<T>(method: HttpMethod, path: string, opts: RequestOptions<T> = {}): Promise<T> {
        return (await this.requestEnvelope(method, path, opts)).data;
    }

    /** Like `request`, keeping the envelope's siblings of `data` (`total`, `changes`). */
    requestEnvelope<T>(method: HttpMethod, path: string, opts: RequestOptions<T> = {}): Promise<PveEnvelope<T>> {
        return this.run(method, path, opts);
    }

    /** Logs in now (ticket auth); a no-op for tokens. Useful to fail fast on bad credentials. */
    async connect(): Promise<void> {
        if (this.auth instanceof TicketAuth) await this.auth.relogin();
    }

    /** Closes idle keep-alive sockets so the process can exit. The client stays usable. */
    close(): void {
        this.reuseAgent.destroy();
        this.freshAgent.destroy();
    }

    private async run<T>(method: HttpMethod, path: string, opts: InternalOptions<T>): Promise<PveEnvelope<T>> {
        if (!path.startsWith("/")) throw new TypeError(`PVE API path must start with '/': ${path}`);
        const policy = { ...this.retryPolicy, ...opts.retry };
        const idempotent = opts.idempotent ?? method !== "POST";
        let renewedAuth = false;
        for (let attempt = 1; ; attempt++) {
            // Outside the try: a failed login has been retried by its own request already.
            const auth = opts.anonymous ? { headers: {}, generation: 0 } : await this.auth.headersFor(method);
            try {
                const raw = await this.send(method, path, opts.params, auth.headers, idempotent, opts.timeoutMs);
                return noteTask(this.parse(method, path, raw, opts));
            } catch (caught) {
                const err = caught instanceof Error ? caught : new Error(String(caught));
                if (
                    err instanceof PveApiError &&
                    err.status === 401 &&
                    !opts.anonymous &&
                    !renewedAuth &&
                    (await this.auth.renewAfterUnauthorized(auth.generation))
                ) {
                    // An expired ticket: the request was refused before any handler ran, so resending is safe
                    // for every method. Only once, so a revoked user does not loop.
                    renewedAuth = true;
                    attempt--;
                    continue;
                }
                const verdict = classifyFailure(err);
                if (verdict.kind === "permanent") throw err;
                // Settled even on the last attempt: the caller must learn that the work may have been done.
                if (verdict.kind === "ambiguous" && !idempotent) {
                    if (!opts.verify) throw new PveOutcomeUnknownError(method, path, err);
                    let outcome: VerifyOutcome<T>;
                    try {
                        outcome = await opts.verify(err);
                    } catch (verifyErr) {
                        throw new PveOutcomeUnknownError(
                            method,
                            path,
                            err,
                            verifyErr instanceof Error ? verifyErr : new Error(String(verifyErr)),
                        );
                    }
                    if (outcome.tookEffect) return noteTask({ data: outcome.result, extra: {} });
                }
                if (attempt >= policy.maxAttempts) throw err;
                const delay = backoffDelay(attempt, policy, this.random);
                this.logger.debug?.(`${method} ${path}: ${verdict.reason}; attempt ${attempt + 1} in ${delay} ms`);
                await this.clock.sleep(delay);
            }
        }
    }

    private send(
        method: HttpMethod,
        path: string,
        params: FormParams | undefined,
        authHeaders: Record<string, string>,
        idempotent: boolean,
        timeoutMs: number | undefined,
    ): Promise<RawResponse> {
        const encoded = encodeParams(params);
        const inQuery = method === "GET" || method === "DELETE";
        const requestPath = `/api2/json${path}${inQuery && encoded ? `${path.includes("?") ? "&" : "?"}${encoded}` : ""}`;
        const body = inQuery ? undefined : Buffer.from(encoded, "utf8");
        const headers: http.OutgoingHttpHeaders = {
            Accept: "application/json",
            "User-Agent": "proxmox-homelab",
            ...authHeaders,
        };
        if (body) {
            headers["Content-Type"] = "application/x-www-form-urlencoded";
            headers["Content-Length"] = body.length;
        }
        const limit = timeoutMs ?? this.requestTimeoutMs;
        return new Promise<RawResponse>((resolve, reject) => {
            let done = false;
            const fail = (err: Error) => {
                if (done) return;
                done = true;
                reject(this.wrapTransportError(method, path, err));
            };
            const req = https.request(
                {
                    protocol: "https:",
                    host: this.url.hostname.replace(/^\[|\]$/g, ""),
                    port: this.url.port || 443,
                    method,
                    path: requestPath,
                    headers,
                    agent: idempotent ? this.reuseAgent : this.freshAgent,
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (chunk: Buffer) => chunks.push(chunk));
                    res.on("error", fail);
                    // A connection that dies mid-body ends the stream without `complete`: the answer is lost.
                    res.on("close", () => {
                        if (!res.complete) fail(Object.assign(new Error("response truncated"), { code: "ECONNRESET" }));
                    });
                    res.on("end", () => {
                        if (done) return;
                        if (!res.complete) {
                            fail(Object.assign(new Error("response truncated"), { code: "ECONNRESET" }));
                            return;
                        }
                        done = true;
                        resolve({
                            status: res.statusCode ?? 0,
                            statusMessage: res.statusMessage ?? "",
                            body: Buffer.concat(chunks).toString("utf8"),
                        });
                    });
                },
            );
            req.setTimeout(limit, () => {
                req.destroy(Object.assign(new Error(`no response within ${limit} ms`), { code: "ETIMEDOUT" }));
            });
            req.on("error", fail);
            req.end(body);
        });
    }

    private wrapTransportError(method: HttpMethod, path: string, err: Error): Error {
        if (err instanceof PveTlsError) return err;
        const code = (err as NodeJS.ErrnoException).code;
        if (err instanceof ConnectPhaseError) {
            return new PveConnectionError({ method, path, code: err.code, detail: err.message, sent: false });
        }
        return new PveConnectionError({ method, path, code, detail: err.message, sent: true });
    }

    private parse<T>(method: HttpMethod, path: string, raw: RawResponse, opts: InternalOptions<T>): PveEnvelope<T> {
        const parsed = parseJson(raw.body);
        if (raw.status < 200 || raw.status >= 300) {
            throw this.apiError(method, path, raw, parsed, opts.anonymous === true);
        }
        if (!isRecord(parsed) || !("data" in parsed)) {
            const snippet = raw.body.length > 200 ? `${raw.body.slice(0, 200)}...` : raw.body;
            throw new PveResponseError(
                method,
                path,
                `expected a JSON object with 'data', got ${JSON.stringify(snippet)}`,
            );
        }
        const { data, ...extra } = parsed;
        if (!opts.schema) return { data: data as T, extra };
        const result = opts.schema.safeParse(data);
        if (!result.success) throw new PveResponseError(method, path, z.prettifyError(result.error));
        return { data: result.data, extra };
    }

    private apiError(
        method: HttpMethod,
        path: string,
        raw: RawResponse,
        body: unknown,
        anonymous: boolean,
    ): PveApiError {
        const fromBody = isRecord(body) && typeof body.message === "string" ? body.message.trim() : "";
        const pveMessage = fromBody || raw.statusMessage.trim() || http.STATUS_CODES[raw.status] || "error";
        const errors: Record<string, string> = {};
        if (isRecord(body) && isRecord(body.errors)) {
            for (const [key, value] of Object.entries(body.errors)) {
                errors[key] = (typeof value === "string" ? value : JSON.stringify(value)).trim();
            }
        }
        let hint: string | undefined;
        if (raw.status === 401) {
            hint = anonymous
                ? `check ${settingLabel(PVE_SETTINGS.username)} and ${settingLabel(PVE_SETTINGS.password)}`
                : this.auth.kind === "token"
                  ? `check ${settingLabel(PVE_SETTINGS.apiToken)}`
                  : undefined;
        } else if (raw.status === 403 && /root@pam/.test(pveMessage) && this.auth.kind === "token") {
            hint = `API tokens never count as root@pam; use a root@pam ticket (${settingLabel(PVE_SETTINGS.password)})`;
        }
        return new PveApiError({ status: raw.status, pveMessage, errors, method, path, hint });
    }

    private async login(username: string, password: string): Promise<TicketGrant> {
        const { data: grant } = await this.run("POST", "/access/ticket", {
            params: { username, password },
            schema: ticketGrantSchema,
            // Logging in creates no state worth protecting from a repeat.
            idempotent: true,
            anonymous: true,
        });
        const needsTfa = grant.NeedTFA !== undefined && grant.NeedTFA !== 0 && grant.NeedTFA !== false;
        if (needsTfa || (grant.ticket ?? "").includes("!tfa!")) {
            throw new PveConfigError([
                `${settingLabel(PVE_SETTINGS.username)}: ${username} has two-factor authentication, which an ` +
                    "unattended deployment cannot answer; use an API token, or a user without TFA for root-only steps",
            ]);
        }
        if (!grant.ticket || !grant.CSRFPreventionToken) {
            throw new PveResponseError("POST", "/access/ticket", "no ticket or CSRFPreventionToken in the answer");
        }
        return { username: grant.username, ticket: grant.ticket, csrfToken: grant.CSRFPreventionToken };
    }
}

/** Options of a write call (`post`/`put`/`delete`). */
export type WriteOptions<T> = Pick<RequestOptions<T>, "idempotent" | "verify" | "retry" | "timeoutMs">;

/** Task ids this process is handed are remembered, so a later lost request never takes them for its own. */
function noteTask<T>(envelope: PveEnvelope<T>): PveEnvelope<T> {
    if (typeof envelope.data === "string" && isUpid(envelope.data)) rememberTask(envelope.data);
    return envelope;
}

function parseJson(text: string): unknown {
    if (text.trim() === "") return undefined;
    try {
        return JSON.parse(text) as unknown;
    } catch {
        return undefined;
    }
}

function isRecord(value: unknown): value is Record<string, unknown> {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
