import assert from "node:assert/strict";

import type { Client } from "ssh2";

import type { PctApiResult } from "../pve-sim/ssh-server";
import { run, startFixture, type SshFixture } from "./helpers";

/** pct's lifecycle subcommands go through the node's API, as the real pct does; here with a scripted fake API. */
describe("pve-sim SSH pct via the API", function () {
    this.timeout(20_000);
    let fx: SshFixture;
    let conn: Client;
    const calls: string[] = [];
    const upid = "UPID:pve:00001234:00005678:65000000:vzstart:100:root@pam:";
    const answers = new Map<string, PctApiResult>();

    before(async () => {
        fx = await startFixture({
            api: async (method, path, params = {}) => {
                calls.push(`${method} ${path} ${JSON.stringify(params)}`);
                return (
                    answers.get(`${method} ${path}`) ?? {
                        status: 501,
                        message: `Method '${method} ${path}' not implemented`,
                        data: null,
                    }
                );
            },
        });
        await fx.createCt(100);
        conn = await fx.connect();
    });

    after(async () => {
        await fx?.close();
    });

    beforeEach(() => {
        calls.length = 0;
        answers.clear();
    });

    it("waits for the task and prints its log (exit 0 on OK)", async () => {
        answers.set("POST /nodes/pve/lxc/100/status/start", { status: 200, data: upid });
        answers.set(`GET /nodes/pve/tasks/${upid}/status`, {
            status: 200,
            data: { status: "stopped", exitstatus: "OK" },
        });
        answers.set(`GET /nodes/pve/tasks/${upid}/log`, {
            status: 200,
            data: [
                { n: 1, t: "starting CT" },
                { n: 2, t: "TASK OK" },
            ],
        });
        assert.deepEqual(await run(conn, "pct start 100"), { code: 0, stdout: "starting CT\n", stderr: "" });
        assert.equal(calls[0], "POST /nodes/pve/lxc/100/status/start {}");
    });

    it("fails with the task's error", async () => {
        answers.set("POST /nodes/pve/lxc/100/status/shutdown", { status: 200, data: upid });
        answers.set(`GET /nodes/pve/tasks/${upid}/status`, {
            status: 200,
            data: {
                status: "stopped",
                exitstatus: "command 'lxc-stop -n 100 --nokill --timeout 10' failed: exit code 1",
            },
        });
        answers.set(`GET /nodes/pve/tasks/${upid}/log`, { status: 200, data: [] });
        assert.deepEqual(await run(conn, "pct shutdown 100 --timeout 10"), {
            code: 255,
            stdout: "",
            stderr: "command 'lxc-stop -n 100 --nokill --timeout 10' failed: exit code 1\n",
        });
        assert.equal(calls[0], 'POST /nodes/pve/lxc/100/status/shutdown {"timeout":"10"}');
    });

    it("passes options through and prints API errors like the CLI", async () => {
        answers.set("PUT /nodes/pve/lxc/100/config", {
            status: 400,
            message: "Parameter verification failed.\n",
            data: null,
            errors: { memory: "value must have a minimum value of 16\n" },
        });
        const r = await run(conn, "pct set 100 --memory 1 --features nesting=1,keyctl=1");
        assert.deepEqual(r, {
            code: 255,
            stdout: "",
            stderr: "400 Parameter verification failed.\nmemory: value must have a minimum value of 16\n",
        });
        assert.equal(calls[0], 'PUT /nodes/pve/lxc/100/config {"memory":"1","features":"nesting=1,keyctl=1"}');
        answers.set("POST /nodes/pve/lxc", {
            status: 500,
            message: "CT 100 already exists on node 'pve'\n",
            data: null,
        });
        const c = await run(
            conn,
            "pct create 100 local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst --rootfs local-zfs:8",
        );
        assert.deepEqual(c, { code: 255, stdout: "", stderr: "CT 100 already exists on node 'pve'\n" });
        assert.equal(
            calls[1],
            'POST /nodes/pve/lxc {"rootfs":"local-zfs:8","vmid":"100","ostemplate":"local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst"}',
        );
    });

    it("prints config and list like pct", async () => {
        answers.set("GET /nodes/pve/lxc/100/config", {
            status: 200,
            data: { hostname: "ct100", digest: "abc", arch: "amd64", memory: 512 },
        });
        assert.equal((await run(conn, "pct config 100")).stdout, "arch: amd64\nhostname: ct100\nmemory: 512\n");
        answers.set("GET /nodes/pve/lxc", {
            status: 200,
            data: [
                { vmid: 101, status: "stopped", name: "b" },
                { vmid: 100, status: "running", name: "a" },
            ],
        });
        assert.equal(
            (await run(conn, "pct list")).stdout,
            "VMID       Status     Lock         Name\n100        running                 a\n101        stopped                 b\n",
        );
    });

    it("times a command out (exit 124) instead of hanging forever", async () => {
        const r = await fx.backend.exec(100, ["sleep", "5"], { timeoutMs: 200 });
        assert.equal(r.code, 124);
        assert.match(r.stderr.toString(), /timed out after 200 ms/);
    });
});
