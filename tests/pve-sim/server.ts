/**
 * The HTTPS side of the simulator, reproducing pve-http-server (PVE::APIServer::AnyEvent + the
 * Formatter) and pve-manager's auth_handler: `/api2/json` base, form or JSON bodies with query parameters
 * winning, `{data}` envelopes, `HTTP/1.1 <code> <first line of message>` status lines, empty-bodied 401s,
 * `message` in error bodies only on PVE ≥ 9, ticket cookies with CSRF tokens and API tokens.
 * Faults (faults.ts) apply before routing (`failNext`, `dropNext`: nothing happened) or after the handler
 * (`failAfterEffect`, `dropAfterEffect`: done, answer lost); either way the request log keeps the status the
 * client saw, 0 for a dropped connection.
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { PveApi, ApiResult } from "./api";
import { PveError } from "./errors";
import type { ApiFaults } from "./faults";
import { redactParams, type RequestLog, type RequestLogEntry } from "./request-log";
import type { ParamValue } from "./schema";
import type { SimState } from "./state";
import type { TlsMaterial } from "./tls";

/** pve-http-server's $limit_max_post. */
const MAX_POST = 64 * 1024;

export interface ServerOptions {
    host: string;
    port: number;
    tls: TlsMaterial;
    sim: SimState;
    api: PveApi;
    faults: ApiFaults;
    requestLog: RequestLog;
    /** pve-http-server delays every 401 by 3 s; tests usually want 0. */
    unauthorizedDelayMs: number;
}

export interface RunningServer {
    server: Server;
    port: number;
    close(): Promise<void>;
}

/**
 * PVE::APIServer::AnyEvent::decode_urlencoded, quirks included (a raw `=` inside a value cuts it off).
 * `data` is the raw bytes as a latin-1 string (one char per byte); values are decoded as UTF-8.
 */
export function decodeUrlencoded(data: string): Record<string, string | undefined> {
    const result: Record<string, string | undefined> = {};
    if (!data) return result;
    const unescape = (text: string): string => {
        const bytes: number[] = [];
        const plus = text.replace(/\+/g, " ");
        for (let i = 0; i < plus.length; i++) {
            const hex = /^%([0-9a-fA-F]{2})/.exec(plus.slice(i, i + 3));
            if (hex) {
                bytes.push(parseInt(hex[1], 16));
                i += 2;
            } else {
                bytes.push(plus.charCodeAt(i) & 0xff);
            }
        }
        return Buffer.from(bytes).toString("utf8");
    };
    for (const pair of data.split(/[&;]/)) {
        const [rawKey, rawValue] = pair.split("=");
        const key = unescape(rawKey);
        if (rawValue === undefined) {
            result[key] = undefined;
            continue;
        }
        const value = unescape(rawValue);
        const old = result[key];
        result[key] = old !== undefined ? `${old}\0${value}` : value;
    }
    return result;
}

/** PVE::APIServer::Formatter::extract_auth_value. */
function extractAuthValue(header: string | undefined, key: string): string | undefined {
    if (!header) return undefined;
    const match = new RegExp(`(?:^|\\s)${key}(?:=| )([^;]*)`).exec(header);
    if (!match?.[1]) return undefined;
    try {
        return decodeURIComponent(match[1]);
    } catch {
        return match[1];
    }
}

function firstLine(message: string | undefined, status: number): string {
    const line = (message ?? "").split("\n")[0];
    const reason = line || STATUS_TEXT[status] || "Unknown";
    // Node refuses characters outside latin-1 in a reason phrase.
    return reason.replace(/[^\t\x20-\x7e\x80-\xff]/g, "?");
}

const STATUS_TEXT: Record<number, string> = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    500: "Internal Server Error",
    501: "Not Implemented",
    595: "Errors during connection establishment, proxy handshake",
    596: "Connection timed out",
};

function commonHeaders(res: ServerResponse): void {
    const now = new Date().toUTCString();
    res.setHeader("Server", "pve-api-daemon/3.0");
    res.setHeader("Cache-Control", "max-age=0");
    res.setHeader("Pragma", "no-cache");
    res.setHeader("Expires", now);
}

/** An error without a formatter (auth failures, bad URIs): status line only, empty body, connection closed. */
function sendBare(res: ServerResponse, status: number, message: string): void {
    commonHeaders(res);
    res.setHeader("Connection", "close");
    res.writeHead(status, firstLine(message, status));
    res.end();
}

async function readBody(req: IncomingMessage): Promise<Buffer | "too-large"> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        if (size > MAX_POST) return "too-large";
        chunks.push(buffer);
    }
    return Buffer.concat(chunks);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function startHttpsServer(opts: ServerOptions): Promise<RunningServer> {
    const { sim, api, faults, requestLog } = opts;

    const sendResult = (res: ServerResponse, result: ApiResult): void => {
        const body: Record<string, unknown> = { data: result.data ?? null };
        const isError = result.status >= 400;
        if (result.errors && Object.keys(result.errors).length > 0) body.errors = result.errors;
        // pve-http-server ≥ 5.2 (PVE 9) adds the message to JSON error bodies.
        if (isError && sim.major >= 9) body.message = result.message ?? STATUS_TEXT[result.status] ?? "";
        if (!isError && result.total !== undefined) body.total = result.total;
        if (!isError && result.changes !== undefined) body.changes = result.changes;
        const text = JSON.stringify(body);
        commonHeaders(res);
        res.setHeader("Content-Type", "application/json;charset=UTF-8");
        res.setHeader("Content-Length", Buffer.byteLength(text));
        if (isError) res.setHeader("Connection", "close");
        res.writeHead(result.status, firstLine(isError ? result.message : "OK", result.status));
        res.end(text);
    };

    const handleControl = async (method: string, path: string, raw: Buffer, res: ServerResponse): Promise<number> => {
        let body: Record<string, unknown>;
        try {
            body = raw.length > 0 ? (JSON.parse(raw.toString("utf8")) as Record<string, unknown>) : {};
        } catch {
            sendResult(res, { status: 400, message: "invalid JSON\n", data: null });
            return 400;
        }
        try {
            if (path === "/_sim/faults" && method === "GET") sendResult(res, { status: 200, data: faults.describe() });
            else if (path === "/_sim/faults" && method === "POST") {
                faults.applyJson(body);
                sendResult(res, { status: 200, data: null });
            } else if (path === "/_sim/faults" && method === "DELETE") {
                faults.clear();
                sendResult(res, { status: 200, data: null });
            } else if (path === "/_sim/clock" && method === "POST") {
                sim.advanceClock(Number(body.advanceSeconds ?? 0));
                sendResult(res, { status: 200, data: null });
            } else if (path === "/_sim/requests" && method === "GET") {
                sendResult(res, { status: 200, data: requestLog.all() });
            } else {
                sendResult(res, { status: 501, message: `Method '${method} ${path}' not implemented`, data: null });
                return 501;
            }
            return 200;
        } catch (error) {
            sendResult(res, {
                status: 400,
                message: `${error instanceof Error ? error.message : String(error)}\n`,
                data: null,
            });
            return 400;
        }
    };

    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
        const method = (req.method ?? "GET").toUpperCase();
        const url = new URL(req.url ?? "/", "https://localhost");
        let path = url.pathname;
        try {
            path = decodeURIComponent(url.pathname);
        } catch {
            // PVE's uri_unescape leaves malformed escapes alone.
        }
        const entry: RequestLogEntry = {
            seq: requestLog.nextSeq(),
            time: new Date().toISOString(),
            method,
            // Relative to /api2/json as documented, also for requests a fault answers before routing.
            path: path.replace(/^\/api2\/+json(?=\/)/, ""),
            params: {},
            status: 0,
        };
        const finish = (status: number): void => {
            entry.status = status;
            requestLog.add(entry);
        };

        const raw = await readBody(req);
        if (!["GET", "POST", "PUT", "DELETE"].includes(method)) {
            // pve-http-server's $known_methods check, before anything else.
            sendBare(res, 501, `method '${method}' not available`);
            finish(501);
            return;
        }
        const latency = faults.takeLatency(method, url.pathname);
        if (latency > 0) await sleep(latency);
        if (faults.takeDrop(method, url.pathname)) {
            finish(0);
            req.socket.destroy();
            return;
        }
        const injected = faults.takeFailure(method, url.pathname);
        if (injected) {
            const message = injected.message.endsWith("\n") ? injected.message : `${injected.message}\n`;
            sendResult(res, { status: injected.status, message, data: null });
            finish(injected.status);
            return;
        }
        if (raw === "too-large") {
            sendBare(res, 501, "for data too large");
            finish(501);
            return;
        }
        if (path.startsWith("/_sim/")) {
            finish(await handleControl(method, path, raw, res));
            return;
        }

        const api2 = /^\/api2\/+([a-z][a-z0-9]+)(\/.*)?$/.exec(path);
        if (!path.startsWith("/api2")) {
            sendBare(res, 501, `no such file '${path}'`);
            finish(501);
            return;
        }
        if (!api2) {
            sendBare(res, 501, "no such uri");
            finish(501);
            return;
        }
        const relPath = api2[2] ?? "/";
        entry.path = relPath;
        if (api2[1] !== "json") {
            sendBare(res, 501, `no formatter for uri ${relPath}, ${api2[1]}`);
            finish(501);
            return;
        }

        // Authentication (pve-manager PVE::HTTPServer::auth_handler).
        let user = "";
        const exempt =
            (relPath === "/access/ticket" && (method === "GET" || method === "POST")) ||
            (relPath === "/access/domains" && method === "GET");
        if (!exempt) {
            try {
                const cookie = req.headers.cookie;
                const authorization = req.headers.authorization;
                const ticket =
                    extractAuthValue(cookie, "PVEAuthCookie") ?? extractAuthValue(authorization, "PVEAuthCookie");
                const apiToken = ticket === undefined ? extractAuthValue(authorization, "PVEAPIToken") : undefined;
                if (apiToken !== undefined) {
                    user = sim.access.verifyApiToken(apiToken);
                } else {
                    if (!ticket) throw new PveError(401, "No ticket\n");
                    user = sim.access.verifyTicket(ticket);
                    if (method !== "GET") {
                        const csrf = req.headers.csrfpreventiontoken;
                        sim.access.verifyCsrf(user, Array.isArray(csrf) ? csrf[0] : csrf);
                    }
                }
            } catch (error) {
                const message = error instanceof Error ? error.message : String(error);
                if (opts.unauthorizedDelayMs > 0) await sleep(opts.unauthorizedDelayMs);
                sendBare(res, 401, message);
                finish(401);
                return;
            }
            entry.user = user;
        }

        // Parameters: body (form or JSON), then query parameters on top (extract_params).
        const contentType = (req.headers["content-type"] ?? "").split(/\s*[;,]\s*/)[0];
        let params: Record<string, ParamValue> = {};
        if (raw.length > 0) {
            if (method !== "PUT" && method !== "POST") {
                sendBare(res, 501, `Unexpected content for method '${method}'`);
                finish(501);
                return;
            }
            if (
                contentType &&
                contentType !== "application/x-www-form-urlencoded" &&
                contentType !== "application/json"
            ) {
                sendBare(res, 506, `upload 'Content-Type '${req.headers["content-type"]}' not implemented`);
                finish(506);
                return;
            }
            if (contentType === "application/json") {
                try {
                    const parsed: unknown = JSON.parse(raw.toString("utf8"));
                    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
                        throw new Error("not an object");
                    params = parsed as Record<string, ParamValue>;
                } catch {
                    sendBare(res, 501, "malformed JSON string, neither tag, array, object, number, string or atom");
                    finish(501);
                    return;
                }
            } else {
                for (const [key, value] of Object.entries(decodeUrlencoded(raw.toString("latin1")))) {
                    if (value !== undefined) params[key] = value;
                }
            }
        }
        for (const [key, value] of Object.entries(decodeUrlencoded(url.search.replace(/^\?/, "")))) {
            if (value === undefined) delete params[key];
            else params[key] = value;
        }
        delete params._dc;
        entry.params = redactParams(params);

        // Decided when the request reaches its handler, applied once the handler is done with it.
        const afterEffect = faults.takeAfterEffect(method, url.pathname);
        const result = await api.call(method, relPath, params, user);
        if (afterEffect?.kind === "drop") {
            finish(0);
            req.socket.destroy();
            return;
        }
        if (afterEffect?.kind === "fail") {
            const message = afterEffect.message.endsWith("\n") ? afterEffect.message : `${afterEffect.message}\n`;
            sendResult(res, { status: afterEffect.status, message, data: null });
            finish(afterEffect.status);
            return;
        }
        if (result.status === 401 && opts.unauthorizedDelayMs > 0) await sleep(opts.unauthorizedDelayMs);
        sendResult(res, result);
        finish(result.status);
    };

    const server = createServer({ key: opts.tls.keyPem, cert: opts.tls.certPem }, (req, res) => {
        handle(req, res).catch((error: unknown) => {
            if (!res.headersSent) sendBare(res, 501, error instanceof Error ? error.message : String(error));
            else res.destroy();
        });
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port, opts.host, () => {
            server.off("error", reject);
            resolve();
        });
    });
    const port = (server.address() as AddressInfo).port;
    return {
        server,
        port,
        close: () =>
            new Promise<void>((resolve) => {
                server.close(() => resolve());
                server.closeAllConnections();
            }),
    };
}
