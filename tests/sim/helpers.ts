/**
 * Test helpers: start a simulator on the in-memory backend, and a small HTTPS client that trusts only the
 * simulator's certificate and shows exactly what PVE's wire format carries (status line, raw body).
 */
import { request as httpsRequest } from "node:https";
import { startSimulator, type Simulator, type SimulatorOptions } from "../pve-sim";
import { FakeBackend } from "./fake-backend";

export interface TestSim extends Simulator {
    fake: FakeBackend;
}

/** A simulator with fast tasks on the in-memory backend. */
export async function startTestSim(opts: SimulatorOptions = {}): Promise<TestSim> {
    const fake = new FakeBackend();
    const sim = await startSimulator({ backend: fake, taskDurationMs: { min: 5, max: 15 }, ...opts });
    return Object.assign(sim, { fake });
}

export interface Reply {
    status: number;
    reason: string;
    headers: Record<string, string | string[] | undefined>;
    body: string;
    /** The parsed JSON body, or undefined when empty. */
    json: Record<string, unknown> | undefined;
    /** `json.data`. */
    data: unknown;
}

export interface RequestOptions {
    /** `PVEAPIToken` value; default the simulator's root@pam!sim token; false for none. */
    token?: string | false;
    /** A ticket sent as the PVEAuthCookie cookie (disables the token). */
    ticket?: string;
    csrf?: string;
    form?: Record<string, string | number | boolean>;
    json?: unknown;
    query?: Record<string, string | number>;
    /** Raw body with its content type. */
    raw?: { body: string; contentType: string };
}

export function api(sim: Simulator, method: string, path: string, opts: RequestOptions = {}): Promise<Reply> {
    const url = new URL(`${sim.url}/api2/json${path}`);
    for (const [key, value] of Object.entries(opts.query ?? {})) url.searchParams.set(key, String(value));
    const headers: Record<string, string> = {};
    if (opts.ticket !== undefined) headers.Cookie = `PVEAuthCookie=${encodeURIComponent(opts.ticket)}`;
    else if (opts.token !== false) headers.Authorization = `PVEAPIToken=${opts.token ?? sim.apiToken}`;
    if (opts.csrf !== undefined) headers.CSRFPreventionToken = opts.csrf;
    let body: string | undefined;
    if (opts.form) {
        const pairs: [string, string][] = Object.entries(opts.form).map(([k, v]) => [
            k,
            typeof v === "boolean" ? (v ? "1" : "0") : String(v),
        ]);
        body = new URLSearchParams(pairs).toString();
        headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (opts.json !== undefined) {
        body = JSON.stringify(opts.json);
        headers["Content-Type"] = "application/json";
    } else if (opts.raw) {
        body = opts.raw.body;
        headers["Content-Type"] = opts.raw.contentType;
    }
    if (body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
        const req = httpsRequest(url, { method, headers, ca: sim.caPem, agent: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => {
                const text = Buffer.concat(chunks).toString("utf8");
                const json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
                resolve({
                    status: res.statusCode ?? 0,
                    reason: res.statusMessage ?? "",
                    headers: res.headers,
                    body: text,
                    json,
                    data: json?.data,
                });
            });
        });
        req.on("error", reject);
        if (body !== undefined) req.write(body);
        req.end();
    });
}

/** Polls a task until it stops (as a client would), returns its final status. */
export async function waitTask(
    sim: Simulator,
    upid: unknown,
    opts: RequestOptions = {},
): Promise<Record<string, unknown>> {
    for (;;) {
        const reply = await api(
            sim,
            "GET",
            `/nodes/${sim.node}/tasks/${encodeURIComponent(String(upid))}/status`,
            opts,
        );
        const status = reply.data as Record<string, unknown>;
        if (status.status === "stopped") return status;
        await new Promise((resolve) => setTimeout(resolve, 5));
    }
}

/** A root@pam ticket and its CSRF token. */
export async function rootTicket(sim: Simulator): Promise<{ ticket: string; csrf: string }> {
    const reply = await api(sim, "POST", "/access/ticket", {
        token: false,
        form: { username: "root@pam", password: sim.rootPassword },
    });
    const data = reply.data as { ticket: string; CSRFPreventionToken: string };
    return { ticket: data.ticket, csrf: data.CSRFPreventionToken };
}

export const UPID_RE = /^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:([^:]+):([^:]*):([^:]+):$/;
export const HWADDR = /BC:24:11(:[0-9A-F]{2}){3}/;
