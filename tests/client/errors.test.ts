import assert from "node:assert/strict";
import { z } from "zod";
import { isPveNotFound, PveApiError, PveClient, PveConnectionError, PveResponseError } from "../../providers/proxmox";
import { Fixture, ok, reply, startFixture, TEST_TOKEN, testPki } from "./fixture";

describe("responses and errors", () => {
    let fixture: Fixture;
    let client: PveClient;

    beforeEach(async () => {
        fixture = await startFixture((_req, res) => ok(res, null));
        client = new PveClient(
            {
                endpoint: fixture.url,
                username: "root@pam",
                token: TEST_TOKEN,
                tls: { ca: testPki().caPem, insecure: false },
            },
            { retry: { maxAttempts: 1 } },
        );
    });
    afterEach(async () => {
        client.close();
        await fixture.close();
    });

    async function caught(promise: Promise<unknown>): Promise<Error> {
        try {
            await promise;
        } catch (err) {
            assert.ok(err instanceof Error);
            return err;
        }
        assert.fail("expected a rejection");
    }

    it("unwraps {data} and keeps the envelope's siblings", async () => {
        fixture.handler = (_req, res) => ok(res, [{ n: 1, t: "line" }], { total: 7 });
        const env = await client.requestEnvelope("GET", "/nodes/pve/tasks/x/log");
        assert.deepEqual(env, { data: [{ n: 1, t: "line" }], extra: { total: 7 } });
    });

    it("PVE 8 form: message from the status line, per-parameter errors from the body", async () => {
        fixture.handler = (_req, res) =>
            reply(
                res,
                400,
                {
                    data: null,
                    errors: {
                        net0: "invalid format - format error\nnet0.ip: invalid format\n",
                        cores: "value must be at most 8\n",
                    },
                },
                "Parameter verification failed.",
            );
        const err = await caught(client.put("/nodes/pve/lxc/101/config", { net0: "x", cores: 99 }));
        assert.ok(err instanceof PveApiError);
        assert.equal(err.status, 400);
        assert.equal(err.pveMessage, "Parameter verification failed.");
        assert.deepEqual(err.errors, {
            net0: "invalid format - format error\nnet0.ip: invalid format",
            cores: "value must be at most 8",
        });
        assert.equal(err.method, "PUT");
        assert.equal(err.path, "/nodes/pve/lxc/101/config");
        assert.equal(
            err.toString(),
            "PUT /nodes/pve/lxc/101/config: 400 Parameter verification failed. (cores: value must be at most 8; " +
                "net0: invalid format - format error\nnet0.ip: invalid format)",
        );
    });

    it("PVE 9 form: the body's full message wins over the truncated status line", async () => {
        fixture.handler = (_req, res) =>
            reply(
                res,
                500,
                { data: null, message: "CT 101 already exists on node 'pve'\n" },
                "CT 101 already exists on node 'pve'",
            );
        const err = await caught(client.post("/nodes/pve/lxc", { vmid: 101 }));
        assert.ok(err instanceof PveApiError);
        assert.equal(err.toString(), "POST /nodes/pve/lxc: 500 CT 101 already exists on node 'pve'");
        const multi = "command 'lxc-start' failed\nsecond line of detail";
        fixture.handler = (_req, res) =>
            reply(res, 500, { data: null, message: `${multi}\n` }, "command 'lxc-start' failed");
        const err2 = await caught(client.get("/x"));
        assert.ok(err2 instanceof PveApiError);
        assert.equal(err2.pveMessage, multi);
    });

    it("permission and routing errors", async () => {
        fixture.handler = (_req, res) =>
            reply(res, 403, { data: null }, "Permission check failed (/vms/100, VM.Allocate)");
        assert.equal(
            (await caught(client.post("/nodes/pve/lxc", {}))).message,
            "POST /nodes/pve/lxc: 403 Permission check failed (/vms/100, VM.Allocate)",
        );
        fixture.handler = (_req, res) => reply(res, 501, { data: null }, "Method 'GET /x' not implemented");
        assert.equal((await caught(client.get("/x"))).message, "GET /x: 501 Method 'GET /x' not implemented");
        fixture.handler = (_req, res) => {
            res.writeHead(596, "Connection timed out");
            res.end();
        };
        assert.equal((await caught(client.get("/x"))).message, "GET /x: 596 Connection timed out");
    });

    it("tells token users why a root-only check fails", async () => {
        fixture.handler = (_req, res) =>
            reply(res, 403, { data: null }, "changing feature flags (except nesting) is only allowed for root@pam");
        const err = await caught(client.put("/nodes/pve/lxc/101/config", { features: "keyctl=1" }));
        assert.match(
            err.message,
            /only allowed for root@pam \[API tokens never count as root@pam; use a root@pam ticket/,
        );
    });

    it("validates data with the caller's schema and names the path and the issue", async () => {
        fixture.handler = (_req, res) => ok(res, { version: 9 });
        const err = await caught(client.get("/version", undefined, z.object({ version: z.string() })));
        assert.ok(err instanceof PveResponseError);
        assert.match(
            err.message,
            /^GET \/version: unexpected response from Proxmox VE: .*expected string, received number/s,
        );
        assert.match(err.message, /at version/);
    });

    it("refuses answers that are not PVE envelopes", async () => {
        fixture.handler = (_req, res) => {
            res.writeHead(200, { "Content-Type": "text/html" });
            res.end("<html>proxy login</html>");
        };
        const err = await caught(client.get("/version"));
        assert.ok(err instanceof PveResponseError);
        assert.match(err.message, /expected a JSON object with 'data', got "<html>proxy login<\/html>"/);
    });

    it("never puts request bodies in errors", async () => {
        fixture.handler = (_req, res) => reply(res, 500, { data: null, message: "boom" }, "boom");
        const err = await caught(client.post("/nodes/pve/lxc", { vmid: 101, password: "hunter2-root-pw" }));
        assert.ok(!err.message.includes("hunter2"));
        assert.ok(!String(err.stack).includes("hunter2"));
    });

    it("reports a refused connection as PveConnectionError, not sent", async () => {
        await fixture.close();
        const err = await caught(client.get("/version"));
        assert.ok(err instanceof PveConnectionError);
        assert.equal(err.code, "ECONNREFUSED");
        assert.equal(err.sent, false);
        assert.match(err.message, /^GET \/version: could not connect: .*\(ECONNREFUSED\)$/);
    });

    it("isPveNotFound recognises PVE's missing-object answers", () => {
        const e = (status: number, pveMessage: string, errors?: Record<string, string>) =>
            new PveApiError({ status, pveMessage, errors, method: "GET", path: "/x" });
        assert.equal(isPveNotFound(e(500, "Configuration file 'nodes/pve/lxc/100.conf' does not exist")), true);
        assert.equal(
            isPveNotFound(e(400, "Parameter verification failed.", { iface: "interface does not exist" })),
            true,
        );
        assert.equal(isPveNotFound(e(500, "no such user ('x@pve')")), true);
        assert.equal(isPveNotFound(e(500, "no such token 'ci' for user 'x@pve'")), true);
        assert.equal(isPveNotFound(e(500, "CT 100 already exists on node 'pve'")), false);
        assert.equal(isPveNotFound(e(403, "Permission check failed (/vms/100, VM.Audit)")), false);
        assert.equal(isPveNotFound(new Error("does not exist")), false);
    });
});
