/**
 * The client's settlement of lost answers against the simulator: a task-starting POST whose answer is lost
 * AFTER the node acted (596 from the proxy, a dropped connection) is settled from the node's task list and is
 * never sent twice; one that did not take effect is sent again. Every assertion counts the POSTs the
 * simulator received.
 */
import assert from "node:assert/strict";
import {
    createLxc,
    createRole,
    deleteLxc,
    getLxcStatus,
    getTaskStatus,
    parseUpid,
    PveClient,
    PveClientOptions,
    resolveConnection,
    roleExists,
    startLxc,
    stopLxc,
    waitForTask,
} from "../../providers/proxmox";
import { Simulator, startSimulator } from "../pve-sim";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

describe("client: settling lost answers against the simulator's effect-then-fail faults", function () {
    this.timeout(30_000);
    let sim: Simulator;
    const clients: PveClient[] = [];

    function client(env: Record<string, string>, opts: PveClientOptions = {}): PveClient {
        const settings = resolveConnection(
            { get: () => undefined },
            { PVE_ENDPOINT: sim.url, PVE_TLS_FINGERPRINT: sim.tlsFingerprint, ...env },
        );
        const c = new PveClient(settings, { random: () => 0, logger: { warn: () => undefined }, ...opts });
        clients.push(c);
        return c;
    }
    const tokenClient = () => client({ PVE_API_TOKEN: sim.apiToken });
    const rootClient = () => client({ PVE_PASSWORD: sim.rootPassword }, { auth: "ticket" });

    /** The statuses the simulator answered to POSTs on paths matching `path`, in order. */
    const posts = (path: RegExp): number[] => sim.requestLog.find("POST", path).map((entry) => entry.status);

    /** Every task of `type` for `vmid` the node knows of (running or finished). */
    const tasksOf = (type: string, vmid: number): string[] =>
        [...sim.state.tasks.active(), ...sim.state.tasks.archived()]
            .filter((task) => task.type === type && task.id === String(vmid))
            .map((task) => task.upid);

    before(async () => {
        sim = await startSimulator({ taskDurationMs: { min: 20, max: 60 } });
    });
    after(async () => {
        clients.forEach((c) => c.close());
        await sim?.stop();
    });
    beforeEach(() => sim.requestLog.clear());
    afterEach(() => sim.faults.clear());

    for (const fault of ["596 after the effect", "a connection dropped after the effect"] as const) {
        const arm = (path: RegExp) =>
            fault === "596 after the effect"
                ? sim.faults.failAfterEffect({ method: "POST", path, status: 596, message: "Connection timed out" })
                : sim.faults.dropAfterEffect({ method: "POST", path });

        it(`createLxc answered with ${fault} resolves to the first attempt's vzcreate task, with one POST`, async () => {
            const c = tokenClient();
            const vmid = fault === "596 after the effect" ? 300 : 301;
            arm(/\/nodes\/pve\/lxc$/);
            const upid = await createLxc(c, sim.node, { vmid, ostemplate: TEMPLATE, rootfs: "local-zfs:8" });
            assert.deepEqual(posts(/\/lxc$/), [fault === "596 after the effect" ? 596 : 0]);
            assert.deepEqual(tasksOf("vzcreate", vmid), [upid], "the task the first attempt started");
            assert.deepEqual(
                [parseUpid(upid).type, parseUpid(upid).id, parseUpid(upid).user],
                ["vzcreate", String(vmid), "root@pam!sim"],
            );
            assert.equal((await waitForTask(c, sim.node, upid, { timeoutMs: 20_000 })).exitStatus, "OK");
            assert.equal((await getLxcStatus(c, sim.node, vmid)).status, "stopped");
            assert.equal(posts(/\/lxc$/).length, 1, "still one POST");
        });

        it(`startLxc answered with ${fault} resolves to the first attempt's vzstart task, with one POST`, async () => {
            const c = tokenClient();
            const vmid = fault === "596 after the effect" ? 300 : 301;
            arm(/\/status\/start$/);
            const upid = await startLxc(c, sim.node, vmid);
            assert.deepEqual(posts(/\/status\/start$/), [fault === "596 after the effect" ? 596 : 0]);
            assert.deepEqual(tasksOf("vzstart", vmid), [upid]);
            await waitForTask(c, sim.node, upid, { timeoutMs: 20_000 });
            assert.equal((await getLxcStatus(c, sim.node, vmid)).status, "running");
            await waitForTask(c, sim.node, await stopLxc(c, sim.node, vmid), { timeoutMs: 20_000 });
        });
    }

    it("the same with a root@pam ticket, whose task list also holds its tokens' tasks", async () => {
        const token = tokenClient();
        const root = rootClient();
        // root@pam!sim starts and stops CT 300 first: a vzstart of the same CT by another identity.
        const tokenStart = await startLxc(token, sim.node, 300);
        await waitForTask(token, sim.node, tokenStart, { timeoutMs: 20_000 });
        await waitForTask(token, sim.node, await stopLxc(token, sim.node, 300), { timeoutMs: 20_000 });
        sim.requestLog.clear();
        sim.faults.dropAfterEffect({ method: "POST", path: /\/status\/start$/ });
        const upid = await startLxc(root, sim.node, 300);
        assert.equal(parseUpid(upid).user, "root@pam");
        assert.notEqual(upid, tokenStart);
        assert.deepEqual(posts(/\/status\/start$/), [0]);
        await waitForTask(root, sim.node, upid, { timeoutMs: 20_000 });
        await waitForTask(root, sim.node, await stopLxc(root, sim.node, 300), { timeoutMs: 20_000 });
    });

    it("a start that did not take effect is not mistaken for another identity's recent start", async () => {
        const token = tokenClient();
        const root = rootClient();
        const tokenStart = await startLxc(token, sim.node, 301);
        await waitForTask(token, sim.node, tokenStart, { timeoutMs: 20_000 });
        await waitForTask(token, sim.node, await stopLxc(token, sim.node, 301), { timeoutMs: 20_000 });
        sim.requestLog.clear();
        sim.faults.failNext({ method: "POST", path: /\/status\/start$/, status: 596, message: "Connection timed out" });
        const upid = await startLxc(root, sim.node, 301);
        assert.notEqual(upid, tokenStart);
        assert.equal(parseUpid(upid).user, "root@pam");
        assert.deepEqual(posts(/\/status\/start$/), [596, 200], "not found among root@pam's tasks: sent again");
        await waitForTask(root, sim.node, upid, { timeoutMs: 20_000 });
        await waitForTask(root, sim.node, await stopLxc(root, sim.node, 301), { timeoutMs: 20_000 });
    });

    it("a vmid created and destroyed moments ago: a re-create lost before the effect is sent again", async () => {
        const first = tokenClient();
        await waitForTask(
            first,
            sim.node,
            await createLxc(first, sim.node, { vmid: 303, ostemplate: TEMPLATE, rootfs: "local-zfs:8" }),
            { timeoutMs: 20_000 },
        );
        await waitForTask(first, sim.node, await deleteLxc(first, sim.node, 303), { timeoutMs: 20_000 });
        sim.requestLog.clear();
        // Another client of the same process and identity: the old vzcreate of 303 is recent, ours, and known.
        const again = tokenClient();
        sim.faults.dropNext({ method: "POST", path: /\/nodes\/pve\/lxc$/ });
        const upid = await createLxc(again, sim.node, { vmid: 303, ostemplate: TEMPLATE, rootfs: "local-zfs:8" });
        assert.deepEqual(posts(/\/lxc$/), [0, 200], "the old task was not taken for the lost one");
        assert.equal(tasksOf("vzcreate", 303).length, 2);
        await waitForTask(again, sim.node, upid, { timeoutMs: 20_000 });
        assert.equal((await getLxcStatus(again, sim.node, 303)).status, "stopped");
    });

    it("createRole answered 500 `got timeout` after the effect is settled by existence, without a second POST", async () => {
        const c = tokenClient();
        sim.faults.failAfterEffect({ method: "POST", path: /\/access\/roles$/, status: 500, message: "got timeout" });
        await createRole(c, "VerifyLate", ["VM.Audit", "Sys.Audit"]);
        assert.deepEqual(posts(/\/access\/roles$/), [500]);
        assert.equal(await roleExists(c, "VerifyLate"), true);
    });

    it("createRole whose connection dropped after the effect is settled the same way", async () => {
        const c = tokenClient();
        sim.faults.dropAfterEffect({ method: "POST", path: /\/access\/roles$/ });
        await createRole(c, "VerifyDropped", ["VM.Audit"]);
        assert.deepEqual(posts(/\/access\/roles$/), [0]);
        assert.equal(await roleExists(c, "VerifyDropped"), true);
    });

    it("a create that did NOT take effect (596 before the effect) is sent again and succeeds", async () => {
        const c = tokenClient();
        sim.faults.failNext({
            method: "POST",
            path: /\/nodes\/pve\/lxc$/,
            status: 596,
            message: "Connection timed out",
        });
        const upid = await createLxc(c, sim.node, { vmid: 302, ostemplate: TEMPLATE, rootfs: "local-zfs:8" });
        assert.deepEqual(posts(/\/lxc$/), [596, 200]);
        assert.deepEqual(tasksOf("vzcreate", 302), [upid], "one create ran, from the second POST");
        const status = await getTaskStatus(c, sim.node, upid);
        assert.equal(status.type, "vzcreate");
        await waitForTask(c, sim.node, upid, { timeoutMs: 20_000 });
        assert.equal((await getLxcStatus(c, sim.node, 302)).status, "stopped");
    });
});
