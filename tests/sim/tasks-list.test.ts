/**
 * GET /nodes/{node}/tasks as pve-manager's PVE::API2::Tasks node_tasks answers it: running tasks from the
 * active file, finished ones from the index read backwards, the filters, start/limit with `total`, and who
 * may see which task.
 */
import assert from "node:assert/strict";
import { api, rootTicket, startTestSim, waitTask, type TestSim } from "./helpers";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

type Entry = Record<string, unknown>;

describe("pve-sim: task list (GET /nodes/{node}/tasks)", function () {
    this.timeout(20_000);
    let sim: TestSim;
    /** The limited token `tasks@pve!ci` (VM.PowerMgmt on /vms/101 only) and its user's password. */
    let limitedToken = "";
    const userPassword = "tasks-password-1";
    // t1: vzcreate 100, t2: vzcreate 101 (root@pam!sim); t3: vzstart 101 (tasks@pve!ci); t4: failed vzstart 100.
    let t1 = "";
    let t2 = "";
    let t3 = "";
    let t4 = "";

    /** The task list as `opts` asks for it; fails the test on anything but 200. */
    async function list(
        query: Record<string, string | number> = {},
        opts: { token?: string; ticket?: string } = {},
    ): Promise<{ data: Entry[]; total: unknown; json: Record<string, unknown> }> {
        const reply = await api(sim, "GET", "/nodes/pve/tasks", { query, ...opts });
        assert.equal(reply.status, 200, reply.body);
        const json = reply.json ?? {};
        return { data: reply.data as Entry[], total: json.total, json };
    }
    const upids = (entries: Entry[]): unknown[] => entries.map((e) => e.upid);

    /** What PVE lists for a finished task: the decoded UPID, token split off, `endtime` and `status`. */
    function archived(upid: string, status: string): Entry {
        const [, node, pid, pstart, starttime, type, id, user] = upid.split(":");
        const [userPart, tokenid] = user.split("!");
        const entry: Entry = {
            upid,
            node,
            pid: parseInt(pid, 16),
            pstart: parseInt(pstart, 16),
            starttime: parseInt(starttime, 16),
            type,
            id,
            user: userPart,
        };
        if (tokenid !== undefined) entry.tokenid = tokenid;
        entry.endtime = sim.state.tasks.get(upid)?.endtime;
        entry.status = status;
        return entry;
    }

    /** What PVE lists for a running task: the decoded UPID as the active file has it (token not split off). */
    function running(upid: string): Entry {
        const [, node, pid, pstart, starttime, type, id, user] = upid.split(":");
        return {
            upid,
            node,
            pid: parseInt(pid, 16),
            pstart: parseInt(pstart, 16),
            starttime: parseInt(starttime, 16),
            type,
            id,
            user,
            saved: "0",
            status: "RUNNING",
        };
    }

    before(async () => {
        sim = await startTestSim();
        const create = async (vmid: number): Promise<string> => {
            const reply = await api(sim, "POST", "/nodes/pve/lxc", {
                form: { vmid, ostemplate: TEMPLATE, rootfs: "local-zfs:4" },
            });
            assert.equal(reply.status, 200, reply.body);
            await waitTask(sim, reply.data);
            return String(reply.data);
        };
        t1 = await create(100);
        sim.state.advanceClock(100);
        t2 = await create(101);

        await api(sim, "POST", "/access/roles", { form: { roleid: "TaskPower", privs: "VM.PowerMgmt" } });
        await api(sim, "POST", "/access/users", { form: { userid: "tasks@pve", password: userPassword } });
        const token = await api(sim, "POST", "/access/users/tasks@pve/token/ci", { form: { privsep: 1 } });
        limitedToken = `tasks@pve!ci=${(token.data as { value: string }).value}`;
        await api(sim, "PUT", "/access/acl", {
            form: { path: "/vms/101", roles: "TaskPower", users: "tasks@pve", tokens: "tasks@pve!ci" },
        });

        sim.state.advanceClock(100);
        const start = await api(sim, "POST", "/nodes/pve/lxc/101/status/start", { token: limitedToken });
        assert.equal(start.status, 200, start.body);
        t3 = String(start.data);
        await waitTask(sim, t3);

        sim.state.advanceClock(100);
        sim.faults.failNextTask({ type: "vzstart", exitstatus: "startup for container '100' failed" });
        const failed = await api(sim, "POST", "/nodes/pve/lxc/100/status/start");
        t4 = String(failed.data);
        await waitTask(sim, t4);
    });

    after(async () => {
        await sim.stop();
    });

    afterEach(() => sim.faults.clear());

    it("lists finished tasks, most recent first, with PVE's exact entries (token tasks split into user + tokenid)", async () => {
        const { data, total } = await list();
        assert.deepEqual(data, [
            archived(t4, "startup for container '100' failed"),
            archived(t3, "OK"),
            archived(t2, "OK"),
            archived(t1, "OK"),
        ]);
        assert.equal(total, 4);
        for (const entry of data) assert.ok(Number(entry.endtime) >= Number(entry.starttime));
        assert.equal(data[1].user, "tasks@pve");
        assert.equal(data[1].tokenid, "ci");
    });

    it("filters by type, vmid, user (substring of the user part, any case), since and until", async () => {
        assert.deepEqual(upids((await list({ typefilter: "vzcreate" })).data), [t2, t1]);
        assert.deepEqual(upids((await list({ typefilter: "vzcre" })).data), [], "the type must match exactly");
        assert.deepEqual(upids((await list({ vmid: 101 })).data), [t3, t2]);
        assert.deepEqual(upids((await list({ userfilter: "TASKS@pve" })).data), [t3]);
        assert.deepEqual(upids((await list({ userfilter: "tasks" })).data), [t3]);
        assert.deepEqual(upids((await list({ userfilter: "root@pam" })).data), [t4, t2, t1]);
        // The token id is not part of what userfilter sees.
        assert.deepEqual(upids((await list({ userfilter: "root@pam!sim" })).data), []);
        const startOf = (upid: string) => parseInt(upid.split(":")[4], 16);
        assert.deepEqual(upids((await list({ since: startOf(t2) })).data), [t4, t3, t2]);
        assert.deepEqual(upids((await list({ until: startOf(t2) })).data), [t2, t1]);
        assert.deepEqual(upids((await list({ since: startOf(t2), until: startOf(t3) })).data), [t3, t2]);
        assert.deepEqual(upids((await list({ typefilter: "vzstart", vmid: 100 })).data), [t4]);
    });

    it("filters by status: errors, statusfilter (ok, warning, error, unknown)", async () => {
        assert.deepEqual(upids((await list({ errors: 1 })).data), [t4]);
        assert.deepEqual(upids((await list({ statusfilter: "ok" })).data), [t3, t2, t1]);
        assert.deepEqual(upids((await list({ statusfilter: "error" })).data), [t4]);
        assert.deepEqual(upids((await list({ statusfilter: "OK;Error" })).data), [t4, t3, t2, t1]);
        assert.deepEqual(upids((await list({ statusfilter: "warning" })).data), []);
        // errors wins over statusfilter.
        assert.deepEqual(upids((await list({ statusfilter: "ok", errors: 1 })).data), [t4]);
    });

    it("pages with start and limit; total counts every match and is left out when 0", async () => {
        const page = await list({ start: 1, limit: 2 });
        assert.deepEqual(upids(page.data), [t3, t2]);
        assert.equal(page.total, 4);
        const none = await list({ limit: 0 });
        assert.deepEqual(none.data, []);
        assert.equal(none.total, 4);
        const beyond = await list({ start: 10 });
        assert.deepEqual(beyond.data, []);
        assert.equal(beyond.total, 4);
        const empty = await list({ typefilter: "vzdump" });
        assert.deepEqual(empty.json, { data: [] });
    });

    it("source=active lists running tasks (oldest first, status RUNNING); all puts them before the archive", async () => {
        sim.faults.slowTasks({ type: "vzstop", durationMs: 900, count: 1 });
        sim.faults.slowTasks({ type: "vzstart", durationMs: 300, count: 1 });
        const stop = String((await api(sim, "POST", "/nodes/pve/lxc/101/status/stop")).data);
        sim.state.advanceClock(10);
        const start = String((await api(sim, "POST", "/nodes/pve/lxc/100/status/start")).data);

        const active = await list({ source: "active" });
        assert.deepEqual(active.data, [running(stop), running(start)]);
        assert.equal(active.total, 2);
        assert.equal(active.data[0].user, "root@pam!sim", "running tasks keep the token in `user`");
        assert.deepEqual(upids((await list()).data), [t4, t3, t2, t1], "archive (the default) has no running task");
        assert.deepEqual(upids((await list({ source: "all" })).data), [stop, start, t4, t3, t2, t1]);
        // A running task has no status yet, which PVE counts as `unknown`: errors=1 keeps it, statusfilter=ok not.
        assert.deepEqual(upids((await list({ source: "all", errors: 1 })).data), [stop, start, t4]);
        assert.deepEqual(upids((await list({ source: "all", statusfilter: "ok" })).data), [t3, t2, t1]);

        await waitTask(sim, start);
        await waitTask(sim, stop);
        // The index is in the order tasks finished: the stop started first but ended last.
        const after = await list({ source: "all", limit: 3 });
        assert.deepEqual(after.data, [
            archived(stop, "OK"),
            archived(start, "OK"),
            archived(t4, "startup for container '100' failed"),
        ]);
        assert.equal(after.total, 6);
    });

    it("without Sys.Audit on /nodes/<node> a token sees only its own tasks; its user sees the token's too", async () => {
        const own = await list({ source: "all" }, { token: limitedToken });
        assert.deepEqual(own.data, [archived(t3, "OK")]);
        assert.equal(own.total, 1);
        assert.deepEqual((await list({ typefilter: "vzcreate" }, { token: limitedToken })).data, []);

        const login = await api(sim, "POST", "/access/ticket", {
            token: false,
            form: { username: "tasks@pve", password: userPassword },
        });
        const ticket = (login.data as { ticket: string }).ticket;
        assert.deepEqual(upids((await list({}, { ticket })).data), [t3]);
        // The same ownership rule for the status of a task: the user may read their token's task.
        const status = await api(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(t3)}/status`, { ticket });
        assert.equal((status.data as { exitstatus: string }).exitstatus, "OK");
        const foreign = await api(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(t1)}/status`, { ticket });
        assert.equal(foreign.status, 403);
        assert.equal(foreign.reason, "Permission check failed (/nodes/pve, Sys.Audit)");

        // A RUNNING task of the token is listed as the active file has it (`tasks@pve!ci`, no tokenid), so
        // PVE's ownership rule hides it from the user, and userfilter sees the token id.
        sim.faults.slowTasks({ type: "vzstart", durationMs: 400, count: 1 });
        const start = await api(sim, "POST", "/nodes/pve/lxc/101/status/start", { token: limitedToken });
        const t5 = String(start.data);
        assert.deepEqual((await list({ source: "active" }, { token: limitedToken })).data, [running(t5)]);
        assert.deepEqual((await list({ source: "active" }, { ticket })).data, []);
        assert.deepEqual(upids((await list({ source: "all", userfilter: "tasks@pve!ci" })).data), [t5]);
        await waitTask(sim, t5);
        assert.deepEqual(upids((await list({}, { ticket })).data), [t5, t3], "finished, it is the user's again");
        assert.deepEqual((await list({ userfilter: "tasks@pve!ci" })).data, []);
        await waitTask(sim, (await api(sim, "POST", "/nodes/pve/lxc/101/status/stop")).data);
    });

    it("with Sys.Audit on /nodes/<node> every task is listed", async () => {
        await api(sim, "POST", "/access/roles", { form: { roleid: "TaskAudit", privs: "Sys.Audit" } });
        await api(sim, "PUT", "/access/acl", {
            form: { path: "/nodes/pve", roles: "TaskAudit", users: "tasks@pve", tokens: "tasks@pve!ci" },
        });
        const all = await list({}, { token: limitedToken });
        assert.deepEqual(all.data, (await list()).data);
        assert.ok(all.data.length >= 6);
        const { ticket } = await rootTicket(sim);
        assert.equal(upids((await list({ userfilter: "tasks@pve" }, { ticket })).data)[1], t3);
    });

    it("verifies its parameters against the schema", async () => {
        const bad = await api(sim, "GET", "/nodes/pve/tasks", { query: { source: "bogus", vmid: 99, limit: -1 } });
        assert.equal(bad.status, 400);
        assert.equal(bad.reason, "Parameter verification failed.");
        assert.deepEqual(Object.keys((bad.json as { errors: Record<string, string> }).errors).sort(), [
            "limit",
            "source",
            "vmid",
        ]);
    });
});
