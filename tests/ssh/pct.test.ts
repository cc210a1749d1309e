import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import {
    lstatSync,
    mkdirSync,
    mkdtempSync,
    readFileSync,
    readdirSync,
    readlinkSync,
    rmSync,
    statSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
    ContainerNotFoundError,
    ContainerNotRunningError,
    RemoteCommandError,
    SshConfigError,
    SshPool,
    buildScriptInput,
    isSshErrorCode,
    pctExec,
    printfQuote,
    readFileInfo,
    removeFile,
    requireSuccess,
    runScript,
    writeFileAtomic,
} from "../../providers/ssh";
import { startFixtureServer, targetOf, type FixtureServer } from "./fixtures/server";

/** Lines a naive here-document scheme would trip over, and bytes a text-only scheme would lose. */
const TRICKY_STDIN = Buffer.concat([
    Buffer.from("EOF\n'EOF'\nHL_EOF_1234\n__END__\n$(touch /tmp/pwned)\n`id`\n%s%%\\n\\0471\n'\"\n"),
    Buffer.from([0, 1, 2, 0x7f, 0x80, 0xff, 0xfe, 0x0d, 0x0a, 0x00]),
    Buffer.from("ünïcødé 🚀\n\n\nno trailing newline"),
]);

const HOSTILE_ENV: Record<string, string> = {
    QUOTE: 'it\'s a "quote"',
    SUBST: "$(touch /tmp/pwned) `id` ${HOME}",
    NEWLINES: "line1\nline2\n",
    EMPTY: "",
    GLOB: "* ? [a]",
    UNICODE: "ünïcødé 🚀",
    LEADING_DASH: "-n -e",
};

describe("buildScriptInput", () => {
    it("exports env, then runs the script with stdin from /dev/null when there is none", () => {
        const text = buildScriptInput({ script: "echo hi", env: { A: "x'y" } }).toString();
        assert.equal(text, "export A='x'\\''y'\n/bin/sh -c 'echo hi' sh </dev/null\n");
    });

    it("pipes stdin from a printf of its exact bytes", () => {
        const text = buildScriptInput({ script: "cat", stdin: "a%b\\c'd\0e" }).toString();
        assert.equal(text, "{ printf -- 'a%%b\\\\c\\047d\\000e'; } 2>/dev/null | /bin/sh -c 'cat' sh\n");
    });

    for (const shell of ["dash", "busybox sh"]) {
        it(`delivers stdin that starts with '-' (a PEM) unchanged under ${shell}`, () => {
            const pem = "-----BEGIN CERTIFICATE-----\nMIIB%x\\y\n-----END CERTIFICATE-----\n";
            const input = buildScriptInput({ script: "cat", stdin: pem });
            const [cmd, ...args] = shell.split(" ");
            const out = execFileSync(cmd, [...args, "-s"], { input });
            assert.equal(out.toString(), pem);
        });
    }

    it("starts a probe's input with the read-only marker the simulator's journal looks for", () => {
        const text = buildScriptInput({ script: "cat /x", readOnly: true }).toString();
        assert.equal(text, "# read-only\n/bin/sh -c 'cat /x' sh </dev/null\n");
    });

    it("escapes only the four bytes printf or the quote would change", () => {
        assert.deepEqual(printfQuote(Buffer.from([0x41, 0x0a, 0xff])), Buffer.from([0x27, 0x41, 0x0a, 0xff, 0x27]));
        assert.equal(printfQuote(Buffer.from("%\\'\0")).toString(), "'%%\\\\\\047\\000'");
    });

    it("refuses env names that are not identifiers and NUL in values, without echoing values", () => {
        assert.throws(() => buildScriptInput({ script: "true", env: { "A-B": "x" } }), /A-B.*not a shell identifier/);
        assert.throws(() => buildScriptInput({ script: "true", env: { "1A": "x" } }), SshConfigError);
        assert.throws(
            () => buildScriptInput({ script: "true", env: { TOKEN: "sec\0ret" } }),
            (err: Error) => /TOKEN.*NUL/.test(err.message) && !err.message.includes("sec"),
        );
        assert.throws(() => buildScriptInput({ script: "" }), /non-empty/);
    });
});

for (const containerShell of ["", "busybox sh", "bash --posix"]) {
    describe(`pct wrappers (fixture server, container shell ${containerShell || "/bin/sh"})`, () => {
        let server: FixtureServer;
        let pool: SshPool;
        let dir: string;

        before(async () => {
            server = await startFixtureServer({ containerShell, stoppedVmids: [999], missingVmids: [998] });
            pool = new SshPool();
            dir = mkdtempSync(join(tmpdir(), "pct-test-"));
        });
        after(async () => {
            await pool.closeAll();
            await server.stop();
            rmSync(dir, { recursive: true, force: true });
        });
        beforeEach(() => {
            server.execLog.length = 0;
        });

        it("delivers env values and stdin to the script byte-exact", async () => {
            const script = `for k in QUOTE SUBST NEWLINES EMPTY GLOB UNICODE LEADING_DASH; do eval "printf '%s\\\\0' \\"\\$$k\\""; done; cat`;
            const r = await runScript(targetOf(server), {
                vmid: 100,
                script,
                env: HOSTILE_ENV,
                stdin: TRICKY_STDIN,
                pool,
            });
            assert.equal(r.code, 0, r.stderr.toString());
            const envPart = Object.values(HOSTILE_ENV)
                .map((v) => `${v}\0`)
                .join("");
            assert.deepEqual(r.stdout, Buffer.concat([Buffer.from(envPart), TRICKY_STDIN]));
            assert.equal(r.stderr.length, 0);
        });

        it("delivers a large binary stdin unchanged", async () => {
            const data = randomBytes(256 * 1024);
            const r = await runScript(targetOf(server), { vmid: 100, script: "sha256sum", stdin: data, pool });
            assert.equal(r.stdout.toString().split(" ")[0], createHash("sha256").update(data).digest("hex"));
        });

        it("keeps secrets off the command line: only `pct exec <vmid> -- /bin/sh -s` reaches the server", async () => {
            const secret = `s3cr3t-${randomBytes(8).toString("hex")}`;
            const stdinSecret = `stdin-${randomBytes(8).toString("hex")}`;
            const r = await runScript(targetOf(server), {
                vmid: 100,
                script: 'test "$TOKEN" = "$(cat)"',
                env: { TOKEN: secret + stdinSecret },
                stdin: secret + stdinSecret,
                pool,
            });
            assert.equal(r.code, 0);
            await writeFileAtomic(targetOf(server), {
                path: join(dir, "secret.txt"),
                content: secret,
                mode: "0600",
                pool,
            });
            await runScript(targetOf(server), {
                script: "cat >/dev/null",
                env: { TOKEN: secret },
                stdin: secret,
                pool,
            });
            assert.deepEqual(server.execLog, ["pct exec 100 -- /bin/sh -s", "/bin/sh -s", "/bin/sh -s"]);
        });

        it("returns the script's exit status and stderr; requireSuccess turns failure into an error", async () => {
            const r = await runScript(targetOf(server), { vmid: 100, script: "echo oops >&2; exit 7", pool });
            assert.equal(r.code, 7);
            assert.equal(r.stderr.toString(), "oops\n");
            assert.throws(
                () => requireSuccess(r, "the step"),
                (err: Error) => {
                    assert.ok(err instanceof RemoteCommandError);
                    assert.equal(err.message, "the step exited 7: oops");
                    return true;
                },
            );
            const syntax = await runScript(targetOf(server), { vmid: 100, script: "if then fi", pool });
            assert.equal(syntax.code, 2);
        });

        it("stays quiet when a script ignores a stdin it was given", async () => {
            const r = await runScript(targetOf(server), {
                vmid: 100,
                script: "true",
                stdin: randomBytes(1 << 20),
                pool,
            });
            assert.equal(r.code, 0);
            assert.equal(r.stderr.toString(), "");
        });

        it("raises ContainerNotRunningError / ContainerNotFoundError from pct's refusals", async () => {
            await assert.rejects(runScript(targetOf(server), { vmid: 999, script: "true", pool }), (err: Error) => {
                assert.ok(err instanceof ContainerNotRunningError);
                assert.ok(isSshErrorCode(err, "CT_NOT_RUNNING"));
                assert.equal(err.vmid, 999);
                return true;
            });
            await assert.rejects(pctExec(targetOf(server), 999, ["true"], { pool }), ContainerNotRunningError);
            await assert.rejects(pctExec(targetOf(server), 998, ["true"], { pool }), ContainerNotFoundError);
            await assert.rejects(pctExec(targetOf(server), 42, ["true"], { pool }), /vmid must be/);
        });

        it("passes hostile argv to pct exec word for word", async () => {
            const words = ["it's", "$(id)", "a b", "", "line\nbreak", "*", "-n", "ünï"];
            const r = await pctExec(targetOf(server), 100, ["printf", "%s\\0", ...words], { pool });
            assert.equal(r.stdout.toString(), words.map((w) => `${w}\0`).join(""));
            assert.equal(
                server.execLog[0],
                `pct exec 100 -- 'printf' '%s\\0' 'it'\\''s' '$(id)' 'a b' '' 'line\nbreak' '*' '-n' 'ünï'`,
            );
        });

        it("writes a file atomically and reads back its hash, size, mode and owner", async () => {
            const path = join(dir, "conf.d", "app.conf");
            const content = Buffer.concat([Buffer.from("key=value\n"), Buffer.from([0, 0xff]), Buffer.from("end")]);
            const w = await writeFileAtomic(targetOf(server), {
                vmid: 100,
                path,
                content,
                mode: "0640",
                owner: "nobody",
                group: "nogroup",
                pool,
            });
            const sha = createHash("sha256").update(content).digest("hex");
            assert.deepEqual(w, { sha256: sha, size: content.length });
            assert.deepEqual(readFileSync(path), content);
            const st = statSync(path);
            assert.equal(st.mode & 0o7777, 0o640);
            assert.equal(st.uid, 65534);
            // The parent was created with the normal umask, not the 077 used for the temp file.
            assert.equal(statSync(join(dir, "conf.d")).mode & 0o777, 0o777 & ~process.umask());
            const info = await readFileInfo(targetOf(server), { vmid: 100, path, pool });
            assert.deepEqual(info, {
                type: "file",
                sha256: sha,
                size: content.length,
                mode: "0640",
                owner: "nobody",
                group: "nogroup",
                uid: 65534,
                gid: 65534,
            });
        });

        it("replaces an existing file in one rename and leaves no temp files", async () => {
            const path = join(dir, "replace.txt");
            writeFileSync(path, "old\n");
            await writeFileAtomic(targetOf(server), { path, content: "new", mode: "4755", pool });
            assert.equal(readFileSync(path, "utf8"), "new");
            assert.equal(statSync(path).mode & 0o7777, 0o4755);
            assert.equal((await readFileInfo(targetOf(server), { path, pool }))?.mode, "4755");
            assert.deepEqual(
                readdirSync(dir).filter((f) => f.startsWith(".hl-write")),
                [],
            );
        });

        it("writes empty content and content without a trailing newline exactly", async () => {
            for (const content of ["", "no newline", "\n\n"]) {
                const path = join(dir, "exact.txt");
                const w = await writeFileAtomic(targetOf(server), { path, content, pool });
                assert.equal(w.size, Buffer.byteLength(content));
                assert.equal(readFileSync(path, "utf8"), content);
            }
        });

        it("handles hostile file names and directory names", async () => {
            const names = [
                "it's here",
                "$(touch pwned)",
                "`id`",
                "-rf",
                "*",
                "new\nline",
                "ünïcødé 🚀",
                "semi;colon && x",
                ' "dq" ',
                "back\\slash",
            ];
            // Each name in its own directory, all at once: the pool multiplexes them over one connection.
            await Promise.all(
                names.map(async (name) => {
                    const path = join(dir, `d ${name}`, name);
                    const content = `content of ${name}\n`;
                    await writeFileAtomic(targetOf(server), { path, content, pool });
                    assert.equal(readFileSync(path, "utf8"), content, name);
                    const info = await readFileInfo(targetOf(server), { path, pool });
                    assert.equal(info?.size, Buffer.byteLength(content), name);
                    assert.deepEqual(await removeFile(targetOf(server), { path, pool }), { existed: true });
                    assert.equal(await readFileInfo(targetOf(server), { path, pool }), null);
                }),
            );
            assert.ok(!readdirSync(dir).includes("pwned"));
        });

        it("cleans up its temp file and leaves the target alone when a step fails", async () => {
            const path = join(dir, "keep.txt");
            writeFileSync(path, "original");
            await assert.rejects(
                writeFileAtomic(targetOf(server), { path, content: "new", owner: "no_such_user_x", pool }),
                (err: Error) =>
                    err instanceof RemoteCommandError && /writing .*keep\.txt.* exited 69/.test(err.message),
            );
            assert.equal(readFileSync(path, "utf8"), "original");
            assert.deepEqual(
                readdirSync(dir).filter((f) => f.startsWith(".hl-write")),
                [],
            );
        });

        it("refuses to replace a directory, and replaces a symlink instead of writing through it", async () => {
            const sub = join(dir, "a-dir");
            mkdirSync(sub, { recursive: true });
            await assert.rejects(
                writeFileAtomic(targetOf(server), { path: sub, content: "x", pool }),
                /is a directory/,
            );
            assert.ok(statSync(sub).isDirectory());

            const victim = join(dir, "victim.txt");
            const link = join(dir, "link.txt");
            writeFileSync(victim, "victim");
            rmSync(link, { force: true });
            symlinkSync(victim, link);
            const before = await readFileInfo(targetOf(server), { path: link, pool });
            assert.equal(before?.type, "symlink");
            assert.equal(before?.sha256, "");
            assert.equal(before?.size, readlinkSync(link).length);
            await writeFileAtomic(targetOf(server), { path: link, content: "mine", pool });
            assert.ok(lstatSync(link).isFile());
            assert.equal(readFileSync(victim, "utf8"), "victim");
            assert.equal((await readFileInfo(targetOf(server), { path: sub, pool }))?.type, "other");
            await assert.rejects(removeFile(targetOf(server), { path: sub, pool }), /is a directory/);
        });

        it("rejects bad paths, modes and accounts before sending anything", async () => {
            const t = targetOf(server);
            const bad: [string, Promise<unknown>][] = [
                ["relative", writeFileAtomic(t, { path: "etc/x", content: "", pool })],
                ["dotdot", writeFileAtomic(t, { path: "/etc/../x", content: "", pool })],
                ["trailing slash", writeFileAtomic(t, { path: "/etc/x/", content: "", pool })],
                ["double slash", readFileInfo(t, { path: "/etc//x", pool })],
                ["root", removeFile(t, { path: "/", pool })],
                ["NUL", writeFileAtomic(t, { path: "/tmp/a\0b", content: "", pool })],
                ["mode", writeFileAtomic(t, { path: "/tmp/x", content: "", mode: "rwx", pool })],
                ["mode 8", writeFileAtomic(t, { path: "/tmp/x", content: "", mode: "0888", pool })],
                ["owner", writeFileAtomic(t, { path: "/tmp/x", content: "", owner: "root:root", pool })],
                ["group", writeFileAtomic(t, { path: "/tmp/x", content: "", group: "$(id)", pool })],
            ];
            for (const [what, p] of bad) await assert.rejects(p, SshConfigError, what);
            assert.deepEqual(server.execLog, []);
        });

        it("reads null for a missing file and removes idempotently", async () => {
            const path = join(dir, "never-there");
            assert.equal(await readFileInfo(targetOf(server), { vmid: 100, path, pool }), null);
            assert.deepEqual(await removeFile(targetOf(server), { vmid: 100, path, pool }), { existed: false });
        });
    });
}
