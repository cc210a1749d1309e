import assert from "node:assert/strict";
import { api, startTestSim, waitTask, type TestSim } from "./helpers";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

describe("pve-sim: fault injection and the request log", () => {
    let sim: TestSim;

    before(async () => {
        sim = await startTestSim();
    });

    after(async () => {
        await sim.stop();
    });

    afterEach(() => {
        sim.faults.clear();
    });

    it("fails the next N matching requests with a status and message", async () => {
        sim.faults.failNext({ method: "GET", path: /\/version$/, status: 500, message: "got timeout", count: 2 });
        for (let i = 0; i < 2; i++) {
            const reply = await api(sim, "GET", "/version");
            assert.equal(reply.status, 500);
            assert.equal(reply.reason, "got timeout");
            assert.deepEqual(reply.json, { data: null, message: "got timeout\n" });
        }
        assert.equal((await api(sim, "GET", "/version")).status, 200);
        sim.faults.failNext({ path: "/nodes/pve/lxc$", status: 595, message: "Connection refused" });
        sim.faults.failNext({ path: "/nodes/pve/lxc$", status: 596, message: "Connection timed out" });
        const refused = await api(sim, "GET", "/nodes/pve/lxc");
        assert.equal(refused.status, 595);
        assert.equal(refused.reason, "Connection refused");
        const timedOut = await api(sim, "GET", "/nodes/pve/lxc");
        assert.equal(timedOut.status, 596);
        assert.equal(timedOut.reason, "Connection timed out");
        assert.equal((await api(sim, "POST", "/version")).status, 501);
    });

    it("drops the connection of matching requests", async () => {
        sim.faults.dropNext({ method: "POST", path: /\/lxc$/ });
        await assert.rejects(
            api(sim, "POST", "/nodes/pve/lxc", { form: { vmid: 100, ostemplate: TEMPLATE, rootfs: "local-zfs:4" } }),
            (error: NodeJS.ErrnoException) => error.code === "ECONNRESET" || error.message === "socket hang up",
        );
        const dropped = sim.requestLog.all().at(-1);
        assert.equal(dropped?.status, 0);
        assert.equal(sim.state.containers.has(100), false);
    });

    it("carries a request out, then answers it with an error (failAfterEffect)", async () => {
        sim.requestLog.clear();
        sim.faults.failAfterEffect({ method: "POST", path: /\/lxc$/, status: 596, message: "Connection timed out" });
        const form = { vmid: 150, ostemplate: TEMPLATE, rootfs: "local-zfs:4", hostname: "late" };
        const reply = await api(sim, "POST", "/nodes/pve/lxc", { form });
        assert.equal(reply.status, 596);
        assert.equal(reply.reason, "Connection timed out");
        assert.deepEqual(reply.json, { data: null, message: "Connection timed out\n" });
        assert.equal(sim.state.containers.has(150), true, "the CT was created all the same");
        const tasks = await api(sim, "GET", "/nodes/pve/tasks", { query: { source: "all", vmid: 150 } });
        const [created] = tasks.data as { upid: string; type: string }[];
        assert.equal(created.type, "vzcreate");
        assert.equal((await waitTask(sim, created.upid)).exitstatus, "OK");
        const logged = sim.requestLog.find("POST", /\/lxc$/);
        assert.deepEqual(
            logged.map((entry) => [entry.path, entry.status, entry.user, entry.params]),
            [
                [
                    "/nodes/pve/lxc",
                    596,
                    "root@pam!sim",
                    { vmid: "150", ostemplate: TEMPLATE, rootfs: "local-zfs:4", hostname: "late" },
                ],
            ],
        );
        assert.deepEqual(sim.faults.describe().failAfterEffect, [], "used up");
        // The next request is answered normally: CT 150 exists now.
        const again = await api(sim, "POST", "/nodes/pve/lxc", { form });
        assert.equal(again.reason, "CT 150 already exists on node 'pve'");
    });

    it("carries a request out, then drops the connection without answering (dropAfterEffect)", async () => {
        sim.requestLog.clear();
        sim.faults.dropAfterEffect({ method: "POST", path: "/status/start$" });
        await assert.rejects(
            api(sim, "POST", "/nodes/pve/lxc/150/status/start", { form: { debug: 0 } }),
            (error: NodeJS.ErrnoException) => error.code === "ECONNRESET" || error.message === "socket hang up",
        );
        const logged = sim.requestLog.all().at(-1);
        assert.deepEqual(
            [logged?.method, logged?.path, logged?.status, logged?.params],
            ["POST", "/nodes/pve/lxc/150/status/start", 0, { debug: "0" }],
        );
        const tasks = await api(sim, "GET", "/nodes/pve/tasks", {
            query: { source: "all", typefilter: "vzstart", vmid: 150 },
        });
        const [started] = tasks.data as { upid: string }[];
        assert.equal((await waitTask(sim, started.upid)).exitstatus, "OK");
        assert.equal(sim.state.containers.get(150)?.running, true, "the start happened");
        // Requests that do not reach a handler (unknown paths, failed auth) leave the fault armed.
        sim.faults.dropAfterEffect({ method: "POST", path: "/status/stop$" });
        assert.equal((await api(sim, "POST", "/nodes/pve/lxc/150/status/stop", { token: "bad" })).status, 401);
        assert.equal(sim.faults.describe().dropAfterEffect.length, 1);
        await assert.rejects(api(sim, "POST", "/nodes/pve/lxc/150/status/stop"));
        const stops = await api(sim, "GET", "/nodes/pve/tasks", { query: { source: "all", typefilter: "vzstop" } });
        await waitTask(sim, (stops.data as { upid: string }[])[0].upid);
        assert.equal(sim.state.containers.get(150)?.running, false, "the stop happened");
    });

    it("delays matching requests", async () => {
        sim.faults.latency({ path: /\/version$/, ms: 120, count: 1 });
        const started = Date.now();
        await api(sim, "GET", "/version");
        assert.ok(Date.now() - started >= 110, "the request was delayed");
        assert.deepEqual(sim.faults.describe().latency, [], "used up after one request");
    });

    it("fails or slows the next task of a type", async () => {
        const create = await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 100, ostemplate: TEMPLATE, rootfs: "local-zfs:4" },
        });
        await waitTask(sim, create.data);
        sim.faults.failNextTask({ type: "vzstart", exitstatus: "startup for container '100' failed" });
        const start = await api(sim, "POST", "/nodes/pve/lxc/100/status/start");
        assert.equal((await waitTask(sim, start.data)).exitstatus, "startup for container '100' failed");
        assert.equal(sim.state.containers.get(100)?.running, false);
        sim.faults.slowTasks({ type: "vzstart", durationMs: 1000, count: 1 });
        const slow = await api(sim, "POST", "/nodes/pve/lxc/100/status/start");
        const status = await api(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(String(slow.data))}/status`);
        assert.equal((status.data as { status: string }).status, "running");
        assert.equal((await waitTask(sim, slow.data)).exitstatus, "OK");
    });

    it("is reachable over HTTP at /_sim/faults for the standalone simulator", async () => {
        const arm = await fetchJson(sim, "POST", "/_sim/faults", {
            kind: "failNext",
            method: "GET",
            path: "/cluster/nextid$",
            status: 500,
            message: "got timeout",
        });
        assert.equal(arm.status, 200);
        const listed = (await fetchJson(sim, "GET", "/_sim/faults")).body as { data: { failNext: unknown[] } };
        assert.deepEqual(listed.data.failNext, [
            { method: "GET", path: "/cluster/nextid$", status: 500, message: "got timeout", remaining: 1 },
        ]);
        assert.equal((await api(sim, "GET", "/cluster/nextid")).reason, "got timeout");
        await fetchJson(sim, "POST", "/_sim/faults", { kind: "failNext", status: 500, message: "never" });
        await fetchJson(sim, "DELETE", "/_sim/faults");
        assert.equal((await api(sim, "GET", "/cluster/nextid")).status, 200);
    });

    it("arms the after-effect faults over HTTP too", async () => {
        await fetchJson(sim, "POST", "/_sim/faults", {
            kind: "failAfterEffect",
            method: "POST",
            path: "/access/roles$",
            status: 500,
            message: "got timeout",
        });
        await fetchJson(sim, "POST", "/_sim/faults", { kind: "dropAfterEffect", method: "PUT", path: "/access/acl$" });
        const listed = (await fetchJson(sim, "GET", "/_sim/faults")).body as {
            data: { failAfterEffect: unknown[]; dropAfterEffect: unknown[] };
        };
        assert.deepEqual(listed.data.failAfterEffect, [
            { method: "POST", path: "/access/roles$", status: 500, message: "got timeout", remaining: 1 },
        ]);
        assert.deepEqual(listed.data.dropAfterEffect, [{ method: "PUT", path: "/access/acl$", remaining: 1 }]);
        const create = await api(sim, "POST", "/access/roles", { form: { roleid: "LateRole", privs: "VM.Audit" } });
        assert.equal(create.status, 500);
        assert.equal(create.reason, "got timeout");
        assert.deepEqual((await api(sim, "GET", "/access/roles/LateRole")).data, { "VM.Audit": 1 });
        await assert.rejects(
            api(sim, "PUT", "/access/acl", { form: { path: "/", roles: "LateRole", users: "root@pam" } }),
        );
        const acl = (await api(sim, "GET", "/access/acl")).data as { roleid: string }[];
        assert.ok(
            acl.some((entry) => entry.roleid === "LateRole"),
            "the ACL was changed before the drop",
        );
        const unknown = await fetchJson(sim, "POST", "/_sim/faults", { kind: "failLater" });
        assert.equal(unknown.status, 400);
    });

    it("logs every request with redacted secrets; writes() and reads()", async () => {
        sim.requestLog.clear();
        await api(sim, "GET", "/version");
        await api(sim, "POST", "/access/ticket", {
            token: false,
            form: { username: "root@pam", password: sim.rootPassword },
        });
        await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { description: "x" } });
        const all = sim.requestLog.all();
        assert.deepEqual(
            all.map((entry) => [entry.seq > 0, entry.method, entry.path, entry.status, entry.user]),
            [
                [true, "GET", "/version", 200, "root@pam!sim"],
                [true, "POST", "/access/ticket", 200, undefined],
                [true, "PUT", "/nodes/pve/lxc/100/config", 200, "root@pam!sim"],
            ],
        );
        assert.deepEqual(all[1].params, { username: "root@pam", password: "[redacted]" });
        assert.equal(JSON.stringify(all).includes(sim.rootPassword), false);
        assert.deepEqual(
            sim.requestLog.writes().map((entry) => entry.path),
            ["/access/ticket", "/nodes/pve/lxc/100/config"],
        );
        assert.deepEqual(
            sim.requestLog.reads().map((entry) => entry.path),
            ["/version"],
        );
    });
});

/** A request to the simulator's own (non-PVE) control paths. */
async function fetchJson(
    sim: TestSim,
    method: string,
    path: string,
    body?: unknown,
): Promise<{ status: number; body: unknown }> {
    const { request } = await import("node:https");
    return new Promise((resolve, reject) => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const req = request(
            `${sim.url}${path}`,
            { method, ca: sim.caPem, agent: false, headers: text ? { "Content-Type": "application/json" } : {} },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () =>
                    resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }),
                );
            },
        );
        req.on("error", reject);
        if (text) req.write(text);
        req.end();
    });
}
