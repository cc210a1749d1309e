/**
 * Small HTTPS servers for the client tests: a throwaway CA and certificates made with openssl in a temp dir,
 * and a recording server on 127.0.0.1 whose behaviour each test scripts.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { Clock } from "../../providers/proxmox";

export interface CertPair {
    key: string;
    cert: string;
    fingerprint: string;
}

export interface TestPki {
    caPem: string;
    /** Signed by the CA, SAN IP:127.0.0.1 + DNS:localhost. */
    server: CertPair;
    /** Signed by the CA, SAN DNS:other.example only (host name mismatch). */
    wrongName: CertPair;
    /** Self-signed, unrelated to the CA (stands for PVE's default self-signed node certificate). */
    selfSigned: CertPair;
}

let pki: TestPki | undefined;

function openssl(dir: string, args: string[]): void {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** Generated once per test process (a few hundred ms). */
export function testPki(): TestPki {
    if (pki) return pki;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pve-client-pki-"));
    try {
        const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(dir, [
            "req",
            "-x509",
            ...ec,
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=test-ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        const signed = (name: string, san: string): CertPair => {
            fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
            openssl(dir, ["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
            openssl(dir, [
                "x509",
                "-req",
                "-in",
                `${name}.csr`,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                `${name}.pem`,
                "-days",
                "2",
                "-extfile",
                `${name}.ext`,
            ]);
            return pair(dir, name);
        };
        const server = signed("server", "IP:127.0.0.1,DNS:localhost");
        const wrongName = signed("wrongname", "DNS:other.example");
        openssl(dir, [
            "req",
            "-x509",
            ...ec,
            "-keyout",
            "self.key",
            "-out",
            "self.pem",
            "-days",
            "2",
            "-subj",
            "/CN=pve",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ]);
        const selfSigned = pair(dir, "self");
        pki = { caPem: fs.readFileSync(path.join(dir, "ca.pem"), "utf8"), server, wrongName, selfSigned };
        return pki;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function pair(dir: string, name: string): CertPair {
    const cert = fs.readFileSync(path.join(dir, `${name}.pem`), "utf8");
    return {
        key: fs.readFileSync(path.join(dir, `${name}.key`), "utf8"),
        cert,
        fingerprint: new X509Certificate(cert).fingerprint256,
    };
}

export interface RecordedRequest {
    method: string;
    /** Path without the query, e.g. `/api2/json/version`. */
    path: string;
    query: URLSearchParams;
    headers: http.IncomingHttpHeaders;
    body: string;
    form: URLSearchParams;
}

export type Handler = (req: RecordedRequest, res: http.ServerResponse) => void | Promise<void>;

export interface Fixture {
    url: string;
    port: number;
    requests: RecordedRequest[];
    /** TLS connections accepted (handshake completed or not). */
    connections: number;
    handler: Handler;
    close(): Promise<void>;
}

export async function startFixture(handler: Handler, cert: CertPair = testPki().server, port = 0): Promise<Fixture> {
    const fixture: Fixture = {
        url: "",
        port: 0,
        requests: [],
        connections: 0,
        handler,
        close: async () => undefined,
    };
    const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "https://127.0.0.1");
            const body = Buffer.concat(chunks).toString("utf8");
            const recorded: RecordedRequest = {
                method: req.method ?? "",
                path: url.pathname,
                query: url.searchParams,
                headers: req.headers,
                body,
                form: new URLSearchParams(body),
            };
            fixture.requests.push(recorded);
            Promise.resolve(fixture.handler(recorded, res)).catch((err: unknown) => {
                res.statusCode = 599;
                res.end(String(err));
            });
        });
    });
    server.on("connection", () => fixture.connections++);
    server.on("tlsClientError", () => undefined);
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    fixture.port = (server.address() as AddressInfo).port;
    fixture.url = `https://127.0.0.1:${fixture.port}`;
    fixture.close = () =>
        new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        });
    return fixture;
}

/** Sends a PVE-style answer: `{data}` with 200, or an error with status line reason and optional body fields. */
export function reply(res: http.ServerResponse, status: number, body: unknown, reason?: string): void {
    const text = JSON.stringify(body);
    res.writeHead(status, reason ?? http.STATUS_CODES[status] ?? "Error", {
        "Content-Type": "application/json;charset=UTF-8",
        "Content-Length": Buffer.byteLength(text),
    });
    res.end(text);
}

export function ok(res: http.ServerResponse, data: unknown, extra: Record<string, unknown> = {}): void {
    reply(res, 200, { ...extra, data });
}

/** A clock whose sleeps return at once and advance `now` by the requested time. */
export class FakeClock implements Clock {
    t = 1_700_000_000_000;
    readonly sleeps: number[] = [];
    /** Runs during each sleep (e.g. to bring a server up between attempts). */
    onSleep: (() => Promise<void> | void) | undefined;
    now(): number {
        return this.t;
    }
    async sleep(ms: number): Promise<void> {
        this.sleeps.push(ms);
        this.t += ms;
        await this.onSleep?.();
    }
}

export const TEST_TOKEN = { tokenId: "root@pam!ci", secret: "11111111-2222-3333-4444-555555555555" };

export const UPID = "UPID:pve:0000ABCD:0001E240:6553F100:vzcreate:101:root@pam:";
