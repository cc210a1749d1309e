import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { generateKeyPair } from "./fixtures/keys";
import {
    SshAuthError,
    SshConfigError,
    SshConnectError,
    SshConnectionDropped,
    SshPool,
    SshTimeoutError,
    getSshPool,
    isSshErrorCode,
} from "../../providers/ssh";
import { startFixtureServer, targetOf, type FixtureServer } from "./fixtures/server";

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("SshPool (fixture server)", () => {
    let server: FixtureServer;
    let pool: SshPool;

    before(async () => {
        server = await startFixtureServer();
    });
    after(async () => server.stop());
    beforeEach(() => {
        pool = new SshPool();
    });
    afterEach(async () => pool.closeAll());

    it("returns exit status, stdout and stderr as bytes", async () => {
        const r = await pool.exec(targetOf(server), "printf 'out\\0x'; printf 'err' >&2; exit 3");
        assert.equal(r.code, 3);
        assert.equal(r.signal, undefined);
        assert.deepEqual(r.stdout, Buffer.from("out\0x"));
        assert.deepEqual(r.stderr, Buffer.from("err"));
        assert.equal(r.stdoutTruncated, false);
    });

    it("reports death by signal as code null plus the signal", async () => {
        const r = await pool.exec(targetOf(server), "kill -TERM $$");
        assert.equal(r.code, null);
        assert.equal(r.signal, "SIGTERM");
    });

    it("feeds stdin byte-exact, then EOF", async () => {
        const data = randomBytes(3 * 1024 * 1024);
        const r = await pool.exec(targetOf(server), "sha256sum", { stdin: data });
        assert.equal(r.stdout.toString().split(" ")[0], createHash("sha256").update(data).digest("hex"));
        const empty = await pool.exec(targetOf(server), "wc -c");
        assert.equal(empty.stdout.toString().trim(), "0");
    });

    it("keeps the first maxOutputBytes of output and says it truncated the rest", async () => {
        const r = await pool.exec(targetOf(server), "head -c 3000000 /dev/zero; echo done >&2", {
            maxOutputBytes: 1000,
        });
        assert.equal(r.code, 0);
        assert.equal(r.stdout.length, 1000);
        assert.equal(r.stdoutTruncated, true);
        assert.equal(r.stderr.toString(), "done\n");
        assert.equal(r.stderrTruncated, false);
    });

    it("runs 100 concurrent commands over exactly one connection, at most 8 channels at once", async () => {
        const before = server.connections();
        const results = await Promise.all(
            Array.from({ length: 100 }, (_, i) => pool.exec(targetOf(server), `sleep 0.02; echo ${i}`)),
        );
        results.forEach((r, i) => assert.equal(r.stdout.toString(), `${i}\n`));
        assert.equal(server.connections() - before, 1);
        assert.equal(pool.stats().connectionsOpened, 1);
        assert.equal(pool.stats().maxConcurrentChannels, 8);
        assert.ok(server.maxConcurrentSessions() <= 8);
    });

    it("waits for a connection that is still connecting instead of opening another", async () => {
        const [a, b] = await Promise.all([
            pool.exec(targetOf(server), "echo a"),
            pool.exec(targetOf(server), "echo b"),
        ]);
        assert.equal(a.stdout.toString() + b.stdout.toString(), "a\nb\n");
        assert.equal(pool.stats().connectionsOpened, 1);
    });

    it("uses the configured channel limit", async () => {
        const limited = new SshPool({ channelLimit: 3 });
        const strict = await startFixtureServer({ maxSessions: 3 });
        try {
            await Promise.all(Array.from({ length: 30 }, () => limited.exec(targetOf(strict), "sleep 0.02")));
            assert.equal(strict.maxConcurrentSessions(), 3);
            assert.equal(strict.refusedSessions(), 0);
            assert.equal(strict.connections(), 1);
        } finally {
            await limited.closeAll();
            await strict.stop();
        }
    });

    it("queues and retries when the server refuses channels below the pool's limit (MaxSessions 3)", async () => {
        const strict = await startFixtureServer({ maxSessions: 3 });
        try {
            const results = await Promise.all(
                Array.from({ length: 100 }, (_, i) => pool.exec(targetOf(strict), `sleep 0.01; echo ${i}`)),
            );
            results.forEach((r, i) => assert.equal(r.stdout.toString(), `${i}\n`));
            assert.equal(strict.connections(), 1);
            assert.ok(strict.maxConcurrentSessions() <= 3);
            assert.ok(strict.refusedSessions() > 0, "the server should have refused some opens");
            // It learned the limit: far fewer refusals than commands.
            assert.ok(strict.refusedSessions() < 20, `refused ${strict.refusedSessions()}`);
        } finally {
            await strict.stop();
        }
    });

    it("reconnects for the next command after the server dropped the connection", async () => {
        const before = server.connections();
        assert.equal((await pool.exec(targetOf(server), "echo 1")).code, 0);
        server.dropAll();
        await sleep(50);
        assert.equal((await pool.exec(targetOf(server), "echo 2")).stdout.toString(), "2\n");
        assert.equal(pool.stats().connectionsOpened, 2);
        assert.equal(server.connections() - before, 2);
    });

    it("retries transparently when the drop is only noticed while opening the next channel", async () => {
        assert.equal((await pool.exec(targetOf(server), "echo 1")).code, 0);
        server.dropAll();
        // No pause: the pool still believes in the old connection and sends the channel open into it.
        assert.equal((await pool.exec(targetOf(server), "echo 2")).stdout.toString(), "2\n");
    });

    it("fails a command whose connection dropped mid-run with SshConnectionDropped, then recovers", async () => {
        const started = server.waitForExec(/sleep 5/);
        const running = pool.exec(targetOf(server), "sleep 5; echo late");
        await started;
        server.dropAll();
        await assert.rejects(running, (err: Error) => {
            assert.ok(err instanceof SshConnectionDropped);
            assert.ok(isSshErrorCode(err, "SSH_CONNECTION_DROPPED"));
            assert.match(err.message, /dropped while running sleep 5; echo late; the command may or may not/);
            return true;
        });
        assert.equal((await pool.exec(targetOf(server), "echo again")).stdout.toString(), "again\n");
    });

    it("kills a command that exceeds timeoutMs and keeps the connection usable", async () => {
        const t0 = Date.now();
        await assert.rejects(pool.exec(targetOf(server), "sleep 10", { timeoutMs: 200 }), SshTimeoutError);
        assert.ok(Date.now() - t0 < 3000);
        assert.equal((await pool.exec(targetOf(server), "echo after")).stdout.toString(), "after\n");
        assert.equal(pool.stats().connectionsOpened, 1);
    });

    it("closes an idle connection after idleTimeoutMs and opens a new one when needed", async () => {
        const quick = new SshPool({ idleTimeoutMs: 100 });
        try {
            await quick.exec(targetOf(server), "true");
            assert.equal(quick.stats().openConnections, 1);
            await sleep(400);
            assert.equal(quick.stats().openConnections, 0);
            await quick.exec(targetOf(server), "true");
            assert.equal(quick.stats().connectionsOpened, 2);
        } finally {
            await quick.closeAll();
        }
    });

    it("fails running commands with SshConnectionDropped on closeAll", async () => {
        const started = server.waitForExec(/sleep 4/);
        const running = pool.exec(targetOf(server), "sleep 4");
        await started;
        await pool.closeAll();
        await assert.rejects(running, SshConnectionDropped);
    });

    it("lets the process exit once its connections are idle (no closeAll)", async function () {
        this.timeout(20_000);
        const script = join(__dirname, "fixtures", "idle-exit.ts");
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", script], {
            env: { ...process.env, SSH_FIXTURE_TARGET: JSON.stringify(targetOf(server)) },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number | null>((resolve) => {
            const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
            child.on("exit", (c) => {
                clearTimeout(kill);
                resolve(c);
            });
        });
        const doneAt = Date.now();
        assert.equal(code, 0, out);
        const m = /idle-exit ok (\d+)/.exec(out);
        assert.ok(m, out);
        // The idle connection stays open for 60 s, but unref'd: the process is gone right after its last command.
        const lingered = doneAt - Number(m[1]);
        assert.ok(lingered < 1500, `exited ${lingered} ms after its last command`);
    });

    it("keeps an idle connection for the next command across a gap (a PVE task running meanwhile)", async () => {
        await pool.exec(targetOf(server), "true");
        await sleep(2500);
        assert.equal(pool.stats().openConnections, 1);
        assert.equal((await pool.exec(targetOf(server), "echo again")).stdout.toString(), "again\n");
        assert.equal(pool.stats().connectionsOpened, 1);
    });

    it("declares a peer that stopped answering dead after its keepalives go unanswered", async () => {
        const watchful = new SshPool({ keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
        try {
            const started = server.waitForExec(/sleep 20/);
            const t0 = Date.now();
            const running = watchful.exec(targetOf(server), "sleep 20");
            await started;
            server.freezeAll();
            await assert.rejects(running, SshConnectionDropped);
            const took = Date.now() - t0;
            assert.ok(took < 5000, `noticed after ${took} ms`);
            assert.equal(watchful.stats().openConnections, 0);
        } finally {
            await watchful.closeAll();
        }
    });

    it("keeps a quiet but live connection: keepalives are answered while a long command prints nothing", async () => {
        const watchful = new SshPool({ keepaliveIntervalMs: 100, keepaliveCountMax: 2 });
        try {
            const r = await watchful.exec(targetOf(server), "sleep 1.2; echo done");
            assert.equal(r.stdout.toString(), "done\n");
            assert.equal(watchful.stats().connectionsOpened, 1);
        } finally {
            await watchful.closeAll();
        }
    });

    it("shares one pool per process through getSshPool()", () => {
        assert.equal(getSshPool(), getSshPool());
    });
});

describe("SshPool configuration errors", () => {
    let server: FixtureServer;
    before(async () => {
        server = await startFixtureServer();
    });
    after(async () => server.stop());

    it("refuses a passphrase-protected key with an explanation and without echoing the key", async () => {
        const pool = new SshPool();
        const locked = generateKeyPair("ed25519", { passphrase: "secret", cipher: "aes256-ctr", rounds: 4 });
        await assert.rejects(pool.exec(targetOf(server, { privateKey: locked.private }), "true"), (err: Error) => {
            assert.ok(err instanceof SshConfigError);
            assert.match(err.message, /passphrase.*not supported/);
            assert.ok(!err.message.includes(locked.private.split("\n")[1]));
            return true;
        });
        await assert.rejects(pool.exec(targetOf(server, { privateKey: "not a key" }), "true"), /cannot be parsed/);
        await assert.rejects(pool.exec(targetOf(server, { privateKey: "" }), "true"), /sshPrivateKey/);
        assert.equal(pool.stats().connectionsOpened, 0);
    });

    it("reports a key the server does not accept as an authentication error", async () => {
        const pool = new SshPool();
        const other = generateKeyPair("ed25519").private;
        await assert.rejects(pool.exec(targetOf(server, { privateKey: other }), "true"), SshAuthError);
        await pool.closeAll();
    });

    it("reports a refused TCP connection as a connect error naming the endpoint", async () => {
        const pool = new SshPool();
        const closed = await startFixtureServer();
        const t = targetOf(closed);
        await closed.stop();
        await assert.rejects(pool.exec(t, "true"), (err: Error) => {
            assert.ok(err instanceof SshConnectError);
            assert.ok(err.message.includes(`root@127.0.0.1:${t.port}`));
            return true;
        });
    });

    it("validates the target and the command", async () => {
        const pool = new SshPool();
        await assert.rejects(pool.exec(targetOf(server, { port: 70000 }), "true"), /port must be/);
        await assert.rejects(pool.exec(targetOf(server), ""), /non-empty/);
        await assert.rejects(pool.exec(targetOf(server), "a\0b"), /NUL/);
        assert.throws(() => new SshPool({ channelLimit: 0 }), /channelLimit/);
    });
});
