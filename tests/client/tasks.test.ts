import assert from "node:assert/strict";
import {
    isUpid,
    parseUpid,
    PveClient,
    PveTaskError,
    PveTaskTimeoutError,
    TaskStatus,
    waitForTask,
} from "../../providers/proxmox";
import { FakeClock, Fixture, ok, RecordedRequest, reply, startFixture, TEST_TOKEN, testPki, UPID } from "./fixture";

type Res = Parameters<typeof reply>[0];

/** A task that reports `running` for `runningPolls` polls, then stops with `exitstatus`; `logLines` lines of log. */
function taskServer(runningPolls: number, exitstatus: string, logLines = 3) {
    let polls = 0;
    const log = Array.from({ length: logLines }, (_, i) => ({ n: i + 1, t: `log line ${i + 1}` }));
    return (req: RecordedRequest, res: Res) => {
        const base = `/api2/json/nodes/pve/tasks/${UPID}`;
        if (req.path === `${base}/status`) {
            polls++;
            const stopped = polls > runningPolls;
            ok(res, {
                status: stopped ? "stopped" : "running",
                ...(stopped ? { exitstatus } : {}),
                type: "vzcreate",
                id: "101",
                user: "root@pam",
                node: "pve",
                upid: UPID,
                pid: 43981,
                pstart: 123456,
                starttime: 0x6553f100,
            });
        } else if (req.path === `${base}/log`) {
            const start = Number(req.query.get("start") ?? 0);
            const limit = Number(req.query.get("limit") ?? 50);
            ok(res, log.slice(start, start + limit), log.length > 0 ? { total: log.length } : {});
        } else {
            reply(res, 501, { data: null }, `Method '${req.method} ${req.path}' not implemented`);
        }
    };
}

describe("tasks", () => {
    let fixture: Fixture;
    let clock: FakeClock;
    let client: PveClient;

    beforeEach(async () => {
        clock = new FakeClock();
        fixture = await startFixture((_req, res) => ok(res, null));
        client = new PveClient(
            {
                endpoint: fixture.url,
                username: "root@pam",
                token: TEST_TOKEN,
                tls: { ca: testPki().caPem, insecure: false },
            },
            { clock },
        );
    });
    afterEach(async () => {
        client.close();
        await fixture.close();
    });

    it("parses UPIDs", () => {
        assert.deepEqual(parseUpid(UPID), {
            upid: UPID,
            node: "pve",
            pid: 0xabcd,
            pstart: 0x1e240,
            starttime: 0x6553f100,
            type: "vzcreate",
            id: "101",
            user: "root@pam",
        });
        const token = "UPID:pve-2:00001234:123456789:6553F100:srvreload:networking:deploy@pve!pulumi:";
        assert.equal(parseUpid(token).user, "deploy@pve!pulumi");
        assert.equal(parseUpid(token).pstart, 0x123456789);
        assert.equal(parseUpid("UPID:pve:00001234:00012345:6553F100:download::root@pam:").id, "");
        assert.equal(isUpid("UPID:pve:1234:x"), false);
        assert.throws(() => parseUpid("not-a-upid"), /not a PVE task id \(UPID\): 'not-a-upid'/);
    });

    it("resolves when the task stops with OK, reporting progress on every poll", async () => {
        fixture.handler = taskServer(2, "OK");
        const seen: TaskStatus["status"][] = [];
        const result = await waitForTask(client, "pve", UPID, {
            timeoutMs: 60_000,
            onProgress: (s) => seen.push(s.status),
        });
        assert.deepEqual(result, { upid: UPID, node: "pve", exitStatus: "OK", warnings: 0 });
        assert.deepEqual(seen, ["running", "running", "stopped"]);
        assert.ok(
            fixture.requests.every((r) => r.path.endsWith("/status")),
            "no log is read on success",
        );
    });

    it("counts `WARNINGS: n` as success and returns the count", async () => {
        fixture.handler = taskServer(0, "WARNINGS: 2");
        assert.deepEqual(await waitForTask(client, "pve", UPID, { timeoutMs: 1_000 }), {
            upid: UPID,
            node: "pve",
            exitStatus: "WARNINGS: 2",
            warnings: 2,
        });
    });

    it("rejects a failed task with its exit status and the last 20 log lines", async () => {
        fixture.handler = taskServer(1, "unable to create CT 101 - no space left on device", 80);
        await assert.rejects(waitForTask(client, "pve", UPID, { timeoutMs: 60_000 }), (err: unknown) => {
            assert.ok(err instanceof PveTaskError);
            assert.equal(err.exitStatus, "unable to create CT 101 - no space left on device");
            assert.equal(err.upid, UPID);
            assert.deepEqual(
                err.logTail,
                Array.from({ length: 20 }, (_, i) => `log line ${i + 61}`),
            );
            assert.match(err.message, /^task vzcreate 101 on node 'pve' failed: unable to create CT 101 - no space/);
            assert.ok(err.message.includes(`upid: ${UPID}`));
            assert.ok(err.message.includes("log line 80") && err.message.includes("log line 61"));
            assert.ok(!err.message.includes("log line 60\n"));
            return true;
        });
        const logReads = fixture.requests.filter((r) => r.path.endsWith("/log"));
        assert.deepEqual(
            logReads.map((r) => `${r.query.get("start")}+${r.query.get("limit")}`),
            ["0+50", "60+20"],
        );
    });

    it("reads a short log in one request", async () => {
        fixture.handler = taskServer(0, "command 'lxc-start' failed: exit code 1", 3);
        await assert.rejects(waitForTask(client, "pve", UPID, { timeoutMs: 1_000 }), (err: unknown) => {
            assert.ok(err instanceof PveTaskError);
            assert.deepEqual(err.logTail, ["log line 1", "log line 2", "log line 3"]);
            return true;
        });
        assert.equal(fixture.requests.filter((r) => r.path.endsWith("/log")).length, 1);
    });

    it("times out naming the UPID, without sleeping past the deadline", async () => {
        fixture.handler = taskServer(Number.POSITIVE_INFINITY, "OK");
        await assert.rejects(waitForTask(client, "pve", UPID, { timeoutMs: 5_000 }), (err: unknown) => {
            assert.ok(err instanceof PveTaskTimeoutError);
            assert.equal(
                err.message,
                `task ${UPID} on node 'pve' did not finish within 5000 ms (last status: running); it may still be ` +
                    "running on the node",
            );
            return true;
        });
        assert.equal(
            clock.sleeps.reduce((a, b) => a + b, 0),
            5_000,
        );
    });

    it("polls adaptively: 100 ms, ×1.5, capped at 1 s", async () => {
        fixture.handler = taskServer(9, "OK");
        await waitForTask(client, "pve", UPID, { timeoutMs: 60_000 });
        assert.deepEqual(clock.sleeps, [100, 150, 225, 338, 506, 759, 1000, 1000, 1000]);
    });
});
