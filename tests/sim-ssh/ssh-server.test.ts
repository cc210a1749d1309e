import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Client, utils } from "ssh2";

import { isReadOnlyCommand, parseCommandLine } from "../pve-sim/ssh-server";
import { pctSh, q, run, startFixture, type SshFixture } from "./helpers";

describe("pve-sim SSH server", function () {
    this.timeout(30_000);
    let fx: SshFixture;
    let conn: Client;

    before(async () => {
        fx = await startFixture({ maxSessionsPerConnection: 10 });
        await fx.createCt(100);
        await fx.createCt(101);
        await fx.createCt(102, { start: false });
        conn = await fx.connect();
    });

    after(async () => {
        await fx?.close();
    });

    describe("authentication and host key", () => {
        it("accepts the authorized key", async () => {
            const r = await run(conn, "true");
            assert.equal(r.code, 0);
        });

        it("refuses any other key", async () => {
            const other = utils.generateKeyPairSync("ed25519");
            await assert.rejects(fx.connect(other.private), /All configured authentication methods failed/);
        });

        it("exports the host key fingerprint exactly as ssh-keygen -lf prints it", () => {
            const dir = mkdtempSync(join(tmpdir(), "sim-ssh-"));
            try {
                const file = join(dir, "host.pub");
                writeFileSync(file, `${fx.server.hostPublicKey}\n`);
                const printed = execFileSync("ssh-keygen", ["-lf", file], { encoding: "utf8" });
                assert.equal(printed.split(" ")[1], fx.server.hostKeyFingerprint);
                assert.match(fx.server.hostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        });

        it("presents that host key to clients", async () => {
            let seen = "";
            const c = await new Promise<Client>((resolve, reject) => {
                const client = new Client();
                client.on("ready", () => resolve(client)).on("error", reject);
                client.connect({
                    host: fx.server.host,
                    port: fx.server.port,
                    username: "root",
                    privateKey: fx.privateKey,
                    hostVerifier: (key: Buffer) => {
                        seen = `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
                        return true;
                    },
                });
            });
            c.end();
            assert.equal(seen, fx.server.hostKeyFingerprint);
        });
    });

    describe("pct exec", () => {
        it("runs in the container's own tree, not the host's or another container's", async () => {
            assert.equal((await run(conn, pctSh(100, "echo mine > /root/owned-by-100"))).code, 0);
            const own = await run(conn, "pct exec 100 -- cat /root/owned-by-100");
            assert.deepEqual(own, { code: 0, stdout: "mine\n", stderr: "" });
            const other = await run(conn, "pct exec 101 -- cat /root/owned-by-100");
            assert.equal(other.code, 1);
            assert.match(other.stderr, /No such file or directory/);
            const host = await run(conn, "cat /root/owned-by-100");
            assert.equal(host.code, 1);
            assert.equal((await run(conn, "pct exec 100 -- cat /etc/hostname")).stdout, "ct100\n");
            assert.equal((await run(conn, "cat /etc/hostname")).stdout, "pve\n");
        });

        it("refuses a missing container with pct's text", async () => {
            const r = await run(conn, "pct exec 999 -- true");
            assert.deepEqual(r, {
                code: 255,
                stdout: "",
                stderr: "Configuration file 'nodes/pve/lxc/999.conf' does not exist\n",
            });
        });

        it("refuses a stopped container with pct's text", async () => {
            const r = await run(conn, "pct exec 102 -- true");
            assert.deepEqual(r, { code: 255, stdout: "", stderr: "container '102' not running!\n" });
        });

        it("passes stdin through (cat > file, then sha256sum matches)", async () => {
            const data = Buffer.concat([
                Buffer.from("binary\0data\n"),
                Buffer.alloc(200_000, 0x41),
                Buffer.from("'$(x)\n"),
            ]);
            const w = await run(conn, "pct exec 100 -- sh -c 'cat > /tmp/x'", data);
            assert.equal(w.code, 0);
            const h = await run(conn, "pct exec 100 -- sha256sum /tmp/x");
            assert.equal(h.stdout, `${createHash("sha256").update(data).digest("hex")}  /tmp/x\n`);
        });

        it("keeps hostile strings literal through sh -c", async () => {
            const hostile = [
                "it's",
                "$(touch /tmp/pwned)",
                "a; touch /tmp/pwned2",
                "line1\nline2",
                "`id`",
                '"dq"',
                "\\back",
                "*",
            ];
            for (const s of hostile) {
                const r = await run(conn, `pct exec 100 -- sh -c ${q('printf %s "$1"')} sh ${q(s)}`);
                assert.deepEqual(r, { code: 0, stdout: s, stderr: "" }, JSON.stringify(s));
            }
            const probe = await run(conn, pctSh(100, "ls /tmp/pwned /tmp/pwned2 2>&1; true"));
            assert.match(probe.stdout, /No such file/);
            assert.doesNotMatch(probe.stdout, /^\/tmp\/pwned$/m);
        });

        it("reports an unknown program the way lxc-attach does, and unknown commands in sh with 127", async () => {
            const direct = await run(conn, "pct exec 100 -- nosuchprogram");
            assert.equal(direct.code, 127);
            assert.match(direct.stderr, /Failed to exec "nosuchprogram"/);
            const inSh = await run(conn, pctSh(100, "nosuchprogram --flag"));
            assert.equal(inSh.code, 127);
            assert.match(inSh.stderr, /nosuchprogram: not found/);
            const onHost = await run(conn, "nosuchprogram");
            assert.equal(onHost.code, 127);
            assert.match(onHost.stderr, /not found/);
        });

        it("has no network inside a container", async () => {
            const r = await run(conn, "pct exec 100 -- curl -fsS https://deb.debian.org/");
            assert.equal(r.code, 7);
            assert.match(r.stderr, /network unreachable in simulator/);
        });
    });

    describe("pct push / pull / status", () => {
        it("round-trips a file with perms and owner", async () => {
            const content = "secret=1\n";
            assert.equal((await run(conn, "cat > /root/to-push", content)).code, 0);
            const push = await run(
                conn,
                "pct push 100 /root/to-push /etc/pushed.conf --perms 0640 --user www-data --group www-data",
            );
            assert.deepEqual(push, { code: 0, stdout: "", stderr: "" });
            const st = await run(conn, "pct exec 100 -- stat -c '%a %U %G %s' /etc/pushed.conf");
            assert.equal(st.stdout, `640 www-data www-data ${content.length}\n`);
            const pull = await run(conn, "pct pull 100 /etc/pushed.conf /root/pulled --perms 600");
            assert.deepEqual(pull, { code: 0, stdout: "", stderr: "" });
            const back = await run(conn, "stat -c %a /root/pulled && cat /root/pulled");
            assert.equal(back.stdout, `600\n${content}`);
        });

        it("does not create parent directories, and fails like pct", async () => {
            const r = await run(conn, "pct push 100 /root/to-push /no/such/dir/file");
            assert.deepEqual(r, {
                code: 255,
                stdout: "",
                stderr: "failed to create file: /no/such/dir/file: No such file or directory\n",
            });
            const badUser = await run(conn, "pct push 100 /root/to-push /tmp/f --user nobody-here");
            assert.deepEqual(badUser, { code: 255, stdout: "", stderr: "failed to get uid for: nobody-here\n" });
            const missingSrc = await run(conn, "pct push 100 /root/nope /tmp/f");
            assert.deepEqual(missingSrc, { code: 255, stdout: "", stderr: "failed to open /root/nope for reading\n" });
        });

        it("refuses stopped containers", async () => {
            assert.deepEqual(await run(conn, "pct push 102 /root/to-push /tmp/f"), {
                code: 255,
                stdout: "",
                stderr: "can only push files to a running CT\n",
            });
            assert.equal(
                (await run(conn, "pct pull 102 /etc/hostname /root/x")).stderr,
                "can only pull files from a running VM\n",
            );
        });

        it("keeps paths inside the container root (.. and symlinks resolve as in a chroot)", async () => {
            await run(conn, pctSh(100, "ln -sfn /../../../../etc /root/escape"));
            const r = await run(conn, "pct pull 100 /root/escape/hostname /root/via-link");
            assert.equal(r.code, 0);
            assert.equal((await run(conn, "cat /root/via-link")).stdout, "ct100\n");
            const dotdot = await run(conn, "pct pull 100 /../../../../etc/hostname /root/via-dotdot");
            assert.equal(dotdot.code, 0);
            assert.equal((await run(conn, "cat /root/via-dotdot")).stdout, "ct100\n");
        });

        it("reports status", async () => {
            assert.deepEqual(await run(conn, "pct status 100"), { code: 0, stdout: "status: running\n", stderr: "" });
            assert.deepEqual(await run(conn, "pct status 102"), { code: 0, stdout: "status: stopped\n", stderr: "" });
            assert.equal((await run(conn, "pct status 999")).code, 255);
        });

        it("explains pct subcommands it does not model without an API", async () => {
            const r = await run(conn, "pct set 100 --memory 512");
            assert.equal(r.code, 255);
            assert.match(r.stderr, /not simulated/);
        });
    });

    describe("journal", () => {
        it("records argv, vmid, exit code and whether the command changes anything", async () => {
            const before = fx.journal.length;
            await run(conn, "pct exec 100 -- sh -c 'exit 3'");
            await run(conn, "pct exec 101 -- cat /etc/hostname");
            await run(conn, "echo hi | tr a-z A-Z");
            await run(conn, "pct exec 100 -- sh -c '# read-only\nstat -c %s /etc/hostname'");
            const [a, b, c, d] = fx.journal.slice(before);
            assert.deepEqual(a.argv, ["pct", "exec", "100", "--", "sh", "-c", "exit 3"]);
            assert.equal(a.vmid, 100);
            assert.equal(a.exitCode, 3);
            assert.equal(a.changing, true);
            assert.equal(a.command, "pct exec 100 -- sh -c 'exit 3'");
            assert.equal(b.exitCode, 0);
            assert.equal(b.vmid, 101);
            assert.equal(b.changing, false);
            assert.deepEqual(c.argv, ["/bin/sh", "-c", "echo hi | tr a-z A-Z"]);
            assert.equal(c.vmid, undefined);
            assert.equal(d.changing, false);
            assert.ok(a.seq < b.seq && b.seq < c.seq && c.seq < d.seq);
            const script = "# read-only\nX='a b'\nprintf '%s\\n' \"$X\"\n";
            assert.deepEqual(await run(conn, "pct exec 100 -- /bin/sh -s", script), {
                code: 0,
                stdout: "a b\n",
                stderr: "",
            });
            assert.equal(fx.journal[fx.journal.length - 1].changing, false);
            assert.match(a.time, /^\d{4}-\d\d-\d\dT/);
        });
    });

    describe("limits and faults", () => {
        it("refuses channels beyond MaxSessions on one connection", async () => {
            const c = await fx.connect();
            const open: { end(): void }[] = [];
            const done: Promise<unknown>[] = [];
            for (let i = 0; i < 10; i++) {
                done.push(
                    new Promise((resolve, reject) =>
                        c.exec("cat", (err, stream) => {
                            if (err) return reject(err);
                            open.push(stream);
                            stream.on("close", resolve);
                            stream.resume();
                        }),
                    ),
                );
            }
            while (open.length < 10) await new Promise((r) => setTimeout(r, 10));
            await assert.rejects(run(c, "true"), /open failure|administratively prohibited|Channel open/i);
            for (const s of open) s.end();
            await Promise.all(done);
            assert.equal((await run(c, "true")).code, 0);
            c.end();
        });

        it("drops the connection mid-command (after it ran)", async () => {
            const c = await fx.connect();
            const closed = new Promise<void>((resolve) => c.on("close", () => resolve()));
            fx.faults.drop?.push({ match: /dropped-after/ });
            const r = await run(c, pctSh(100, "touch /tmp/dropped-after"));
            await closed;
            assert.equal(r.code, null);
            const entry = fx.journal[fx.journal.length - 1];
            assert.equal(entry.fault, "dropped");
            assert.equal(entry.exitCode, 0);
            assert.equal((await run(conn, "pct exec 100 -- test -e /tmp/dropped-after")).code, 0);
        });

        it("drops the connection before running when asked", async () => {
            const c = await fx.connect();
            fx.faults.drop?.push({ match: /dropped-before/, when: "before" });
            const r = await run(c, pctSh(100, "touch /tmp/dropped-before"));
            assert.equal(r.code, null);
            assert.equal((await run(conn, "pct exec 100 -- test -e /tmp/dropped-before")).code, 1);
        });

        it("survives a client that closes the channel while the command still writes", async () => {
            await new Promise<void>((resolve, reject) =>
                conn.exec(pctSh(100, "sleep 0.3; echo late; echo late >&2"), (err, stream) => {
                    if (err) return reject(err);
                    stream.on("close", () => resolve());
                    stream.resume();
                    stream.stderr.resume();
                    stream.close();
                }),
            );
            await new Promise((r) => setTimeout(r, 500));
            assert.equal((await run(conn, "pct exec 100 -- echo still-fine")).stdout, "still-fine\n");
        });

        it("fails and delays matching commands", async () => {
            fx.faults.fail?.push({ match: /^pct exec 100 -- false-me/, exitCode: 42, stderr: "injected\n", count: 2 });
            fx.faults.delay?.push({ match: /slow-me/, ms: 300 });
            assert.deepEqual(await run(conn, "pct exec 100 -- false-me"), {
                code: 42,
                stdout: "",
                stderr: "injected\n",
            });
            assert.deepEqual(await run(conn, "pct exec 100 -- false-me"), {
                code: 42,
                stdout: "",
                stderr: "injected\n",
            });
            assert.equal((await run(conn, "pct exec 100 -- false-me")).code, 127);
            const t0 = Date.now();
            assert.equal((await run(conn, "echo slow-me")).stdout, "slow-me\n");
            assert.ok(Date.now() - t0 >= 280);
            assert.equal(fx.faults.fail?.length, 0);
        });
    });
});

describe("parseCommandLine", () => {
    it("splits words with POSIX quoting", () => {
        assert.deepEqual(parseCommandLine(`pct exec 100 -- sh -c 'echo '\\''hi'\\'' "$x"'`), [
            "pct",
            "exec",
            "100",
            "--",
            "sh",
            "-c",
            `echo 'hi' "$x"`,
        ]);
        assert.deepEqual(parseCommandLine(`a "b c" 'd\ne' f\\ g "h\\"i\\$j" ''`), [
            "a",
            "b c",
            "d\ne",
            "f g",
            'h"i$j',
            "",
        ]);
        assert.deepEqual(parseCommandLine("  spaced\targs  "), ["spaced", "args"]);
    });

    it("leaves lines that need a shell to the shell", () => {
        for (const line of [
            "a | b",
            "a; b",
            "a && b",
            "echo $HOME",
            'echo "$(id)"',
            "a > f",
            "ls *",
            "a\nb",
            "X=1 cmd",
            "~/x",
            "'open",
        ]) {
            assert.equal(parseCommandLine(line), null, line);
        }
    });
});

describe("isReadOnlyCommand", () => {
    it("classifies reads and changes", () => {
        const reads = [
            ["pct", "status", "100"],
            ["pct", "exec", "100", "--", "cat", "/etc/x"],
            ["pct", "exec", "100", "--", "systemctl", "is-active", "nginx"],
            ["pct", "exec", "100", "--", "iptables", "-t", "nat", "-C", "POSTROUTING", "-j", "MASQUERADE"],
            ["sysctl", "-n", "net.ipv4.ip_forward"],
            ["sh", "-c", "# read-only\nsha256sum /x"],
        ];
        const changes = [
            ["pct", "push", "100", "a", "b"],
            ["pct", "exec", "100", "--", "sh", "-c", "mkdir -p /x"],
            ["pct", "exec", "100", "--", "systemctl", "restart", "nginx"],
            ["iptables", "-A", "INPUT", "-j", "ACCEPT"],
            ["sysctl", "-w", "a.b=1"],
            ["sed", "-i", "s/a/b/", "f"],
        ];
        for (const a of reads) assert.equal(isReadOnlyCommand(a, ""), true, a.join(" "));
        for (const a of changes) assert.equal(isReadOnlyCommand(a, ""), false, a.join(" "));
        assert.equal(isReadOnlyCommand(["pct", "exec", "100", "--", "/bin/sh", "-s"], "# read-only\nstat /x\n"), true);
    });
});
