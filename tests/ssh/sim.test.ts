// The SSH layer against the PVE simulator's SSH side: its own host key, `pct` with real refusals, commands
// run by busybox inside chroot containers, a journal of every command line, and injected connection drops.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
    ContainerNotFoundError,
    ContainerNotRunningError,
    HostKeyMismatchError,
    SshConnectionDropped,
    SshPool,
    pctExec,
    readFileInfo,
    removeFile,
    runScript,
    writeFileAtomic,
    type SshTarget,
} from "../../providers/ssh";
import { startSimulator, type Simulator } from "../pve-sim";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

async function createContainer(sim: Simulator, vmid: number, start: boolean): Promise<void> {
    const r = await sim.api("POST", `/nodes/${sim.node}/lxc`, {
        vmid,
        ostemplate: TEMPLATE,
        hostname: `ct${vmid}`,
        rootfs: "local-zfs:8",
        start: start ? 1 : 0,
    });
    assert.equal(r.status, 200, JSON.stringify(r));
    await sim.waitForTask(String(r.data));
    // Like PVE, `start=1` forks its own vzstart task once the create task ends: wait for the CT to run.
    for (let i = 0; start && i < 200; i++) {
        const s = await sim.api("GET", `/nodes/${sim.node}/lxc/${vmid}/status/current`);
        if ((s.data as { status?: string }).status === "running") return;
        await new Promise((res) => setTimeout(res, 50));
    }
    if (start) assert.fail(`CT ${vmid} did not start`);
}

describe("SSH layer against the PVE simulator", function () {
    this.timeout(30_000);
    let sim: Simulator;
    let target: SshTarget;
    let pool: SshPool;

    before(async () => {
        sim = await startSimulator();
        target = {
            host: sim.ssh.host,
            port: sim.ssh.port,
            username: sim.ssh.user,
            privateKey: sim.ssh.privateKey,
            hostKeyFingerprint: sim.ssh.hostKeyFingerprint,
        };
        await createContainer(sim, 100, true);
        await createContainer(sim, 101, false);
    });
    after(async () => {
        await sim?.stop();
    });
    beforeEach(() => {
        pool = new SshPool();
        sim.sshJournal.length = 0;
    });
    afterEach(async () => pool.closeAll());

    it("pins the simulator's host key and refuses another", async () => {
        const r = await pctExec(target, 100, ["echo", "pinned"], { pool });
        assert.equal(r.stdout.toString(), "pinned\n");
        const wrong = "SHA256:" + createHash("sha256").update("other").digest("base64").replace(/=+$/, "");
        await assert.rejects(
            pool.exec({ ...target, hostKeyFingerprint: wrong }, "true"),
            (err: Error) => err instanceof HostKeyMismatchError && err.message.includes(sim.ssh.hostKeyFingerprint),
        );
    });

    it("runs a script in the container with env and stdin byte-exact, secrets only on stdin", async () => {
        const secret = `pw-${randomBytes(12).toString("base64")}'"$\n`;
        const stdin = Buffer.concat([Buffer.from("EOF\n%s\\0471\n"), randomBytes(4096), Buffer.from("\0no newline")]);
        const r = await runScript(target, {
            vmid: 100,
            script: 'printf "%s" "$SECRET" | sha256sum; cat',
            env: { SECRET: secret },
            stdin,
            pool,
        });
        assert.equal(r.code, 0, r.stderr.toString());
        const hash = createHash("sha256").update(secret).digest("hex");
        assert.deepEqual(r.stdout, Buffer.concat([Buffer.from(`${hash}  -\n`), stdin]));
        const lines = sim.sshJournal.map((e) => e.command);
        assert.deepEqual(lines, ["pct exec 100 -- /bin/sh -s"]);
        assert.ok(!JSON.stringify(sim.sshJournal).includes(secret.slice(0, 10)));
    });

    it("writes a file atomically in the container and reads it back; the read is journaled as a read", async () => {
        const path = "/etc/app dir/it's $(here).conf";
        const content = Buffer.concat([Buffer.from("key = 'value'\n"), randomBytes(300), Buffer.from("\0end")]);
        const w = await writeFileAtomic(target, {
            vmid: 100,
            path,
            content,
            mode: "0640",
            owner: "root",
            group: "www-data",
            pool,
        });
        assert.equal(w.sha256, createHash("sha256").update(content).digest("hex"));
        assert.deepEqual(await sim.backend.pull(100, path), content);
        const info = await readFileInfo(target, { vmid: 100, path, pool });
        assert.deepEqual(info, {
            type: "file",
            sha256: w.sha256,
            size: content.length,
            mode: "0640",
            owner: "root",
            group: "www-data",
            uid: 0,
            gid: 33,
        });
        assert.deepEqual(
            sim.sshJournal.map((e) => [e.command, e.changing]),
            [
                ["pct exec 100 -- /bin/sh -s", true],
                ["pct exec 100 -- /bin/sh -s", false],
            ],
        );
        assert.deepEqual(await removeFile(target, { vmid: 100, path, pool }), { existed: true });
        assert.equal(await readFileInfo(target, { vmid: 100, path, pool }), null);
    });

    it("turns pct's refusals into typed errors", async () => {
        await assert.rejects(runScript(target, { vmid: 101, script: "true", pool }), ContainerNotRunningError);
        await assert.rejects(pctExec(target, 101, ["true"], { pool }), ContainerNotRunningError);
        await assert.rejects(pctExec(target, 555, ["true"], { pool }), ContainerNotFoundError);
    });

    it("runs 50 concurrent commands over one connection", async () => {
        const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) => pctExec(target, 100, ["echo", String(i)], { pool })),
        );
        results.forEach((r, i) => assert.equal(r.stdout.toString(), `${i}\n`));
        assert.equal(pool.stats().connectionsOpened, 1);
        assert.ok(pool.stats().maxConcurrentChannels <= 8);
    });

    it("reports a connection dropped after the command ran as SshConnectionDropped, then reconnects", async () => {
        sim.faults.ssh.drop = [{ match: /marker-after/, when: "after" }];
        await assert.rejects(pctExec(target, 100, ["echo", "marker-after"], { pool }), SshConnectionDropped);
        const r = await pctExec(target, 100, ["echo", "next"], { pool });
        assert.equal(r.stdout.toString(), "next\n");
        assert.equal(pool.stats().connectionsOpened, 2);
    });
});
