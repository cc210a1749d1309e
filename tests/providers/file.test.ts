/**
 * The `file` handler against the simulator (chroot backend: real file trees, real busybox shell): create on the
 * host and in a running CT, the file as it lands in the tree, outputs without content, diff rules, drift on
 * read, delete and retainOnDelete, a stopped CT, bad input, secrets kept out of every command line, and dropped
 * SSH connections that never leave a partial file.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { closeAll } from "../../providers/ssh";
import { UNKNOWN } from "../../providers/runtime";
import { Simulator } from "../pve-sim";
import type { SshJournalEntry } from "../pve-sim/ssh-server";
import { createCt, fileAt, listDir, sh } from "./ct";
import { handler, Props, startConfigured } from "./helpers";

const file = handler("file");
const RUNNING = 200;
const STOPPED = 202;
const CT_SHELL = ["pct", "exec", String(RUNNING), "--", "/bin/sh", "-s"];

function sha256(text: string): string {
    return createHash("sha256").update(text, "utf8").digest("hex");
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("file provider against the simulator", function () {
    this.timeout(30_000);
    let sim: Simulator;

    /** Journal entries after `mark` (a journal length taken earlier). */
    const since = (mark: number): SshJournalEntry[] => sim.sshJournal.slice(mark);

    before(async () => {
        sim = await startConfigured();
        await createCt(sim, RUNNING);
        await createCt(sim, STOPPED, { start: false });
    });
    after(async () => {
        await closeAll();
        await sim?.stop();
    });
    afterEach(() => {
        sim.faults.ssh.drop = [];
        sim.faults.ssh.delay = [];
        sim.faults.ssh.fail = [];
    });

    it("writes a file into a running CT: content, mode, owner and group in its tree; outputs hash, never content", async () => {
        const content = "listen 8080\nworkers 4\n";
        const mark = sim.sshJournal.length;
        const r = await file.checkAndCreate({
            node: "pve",
            vmid: RUNNING,
            path: "/etc/app/conf.d/app.conf",
            content,
            mode: "640",
            owner: "www-data",
            group: "nogroup",
        });
        assert.equal(r.id, `pve/${RUNNING}:/etc/app/conf.d/app.conf`);
        assert.deepEqual(r.outs, {
            node: "pve",
            vmid: RUNNING,
            path: "/etc/app/conf.d/app.conf",
            mode: "0640",
            owner: "www-data",
            group: "nogroup",
            retainOnDelete: false,
            sha256: sha256(content),
            size: Buffer.byteLength(content),
        });
        assert.deepEqual(await fileAt(sim, RUNNING, "/etc/app/conf.d/app.conf"), {
            content,
            mode: "0640",
            owner: "www-data",
            group: "nogroup",
            type: "regular file",
        });
        // Parents created, no temp file left beside it.
        assert.deepEqual(await listDir(sim, RUNNING, "/etc/app/conf.d"), ["app.conf"]);
        assert.deepEqual(
            since(mark).map((e) => ({ argv: e.argv, vmid: e.vmid, changing: e.changing, exitCode: e.exitCode })),
            [{ argv: CT_SHELL, vmid: RUNNING, changing: true, exitCode: 0 }],
        );

        // Nothing changed: diff(olds = state, news = checked inputs) is empty, also with mode written as 0640.
        const same = await file.diff(r.id, r.outs, r.inputs);
        assert.deepEqual(same, { changes: false, replaces: [], deleteBeforeReplace: false });
        const checked = await file.check(r.outs, { ...r.inputs, mode: "0640" });
        assert.deepEqual(await file.diff(r.id, r.outs, checked.inputs), same);
        // A refresh of an unchanged file reads only (no changing command) and still diffs empty.
        const readMark = sim.sshJournal.length;
        const read = await file.read(r.id, r.outs);
        assert.deepEqual(read, { id: r.id, props: r.outs });
        assert.deepEqual(
            since(readMark).map((e) => [e.argv, e.changing]),
            [[CT_SHELL, false]],
        );
        assert.deepEqual(await file.diff(r.id, read.props, r.inputs), same);
    });

    it("writes a file on the PVE host when vmid is absent (default mode 0644, root:root)", async () => {
        const content = "auto vmbr9\n";
        const mark = sim.sshJournal.length;
        const r = await file.checkAndCreate({ node: "pve", path: "/etc/homelab/host.conf", content });
        assert.equal(r.id, "pve/host:/etc/homelab/host.conf");
        assert.deepEqual(r.outs, {
            node: "pve",
            path: "/etc/homelab/host.conf",
            mode: "0644",
            owner: "root",
            group: "root",
            retainOnDelete: false,
            sha256: sha256(content),
            size: 11,
        });
        assert.deepEqual(await fileAt(sim, undefined, "/etc/homelab/host.conf"), {
            content,
            mode: "0644",
            owner: "root",
            group: "root",
            type: "regular file",
        });
        assert.deepEqual(
            since(mark).map((e) => ({ argv: e.argv, vmid: e.vmid })),
            [{ argv: ["/bin/sh", "-s"], vmid: undefined }],
        );
        assert.deepEqual(await file.diff(r.id, r.outs, r.inputs), {
            changes: false,
            replaces: [],
            deleteBeforeReplace: false,
        });
        await file.delete(r.id, r.outs);
        assert.equal(await fileAt(sim, undefined, "/etc/homelab/host.conf"), undefined);
    });

    it("updates content, mode and owner in place; the new hash is in the outputs", async () => {
        const r = await file.checkAndCreate({ node: "pve", vmid: RUNNING, path: "/etc/app/u.conf", content: "v1\n" });
        const news = (await file.check(r.outs, { ...r.inputs, content: "version two\n" })).inputs;
        assert.deepEqual(await file.diff(r.id, r.outs, news), {
            changes: true,
            replaces: [],
            deleteBeforeReplace: false,
        });
        const mark = sim.sshJournal.length;
        const u = await file.update(r.id, r.outs, news);
        assert.deepEqual(u.outs, { ...r.outs, sha256: sha256("version two\n"), size: 12 });
        assert.equal(since(mark).length, 1);
        assert.equal((await fileAt(sim, RUNNING, "/etc/app/u.conf"))?.content, "version two\n");
        assert.deepEqual(await file.diff(r.id, u.outs, news), {
            changes: false,
            replaces: [],
            deleteBeforeReplace: false,
        });

        const perms = (await file.check(u.outs, { ...news, mode: "0600", owner: "nobody", group: "nogroup" })).inputs;
        assert.deepEqual(await file.diff(r.id, u.outs, perms), {
            changes: true,
            replaces: [],
            deleteBeforeReplace: false,
        });
        const p = await file.update(r.id, u.outs, perms);
        assert.deepEqual(p.outs, { ...u.outs, mode: "0600", owner: "nobody", group: "nogroup" });
        assert.deepEqual(await fileAt(sim, RUNNING, "/etc/app/u.conf"), {
            content: "version two\n",
            mode: "0600",
            owner: "nobody",
            group: "nogroup",
            type: "regular file",
        });
    });

    it("replaces, deleting first, when path, vmid or node change; an unknown content may change", async () => {
        const r = await file.checkAndCreate({ node: "pve", vmid: RUNNING, path: "/etc/app/r.conf", content: "r\n" });
        const replace = { changes: true, deleteBeforeReplace: true };
        for (const [change, key] of [
            [{ path: "/etc/app/r2.conf" }, "path"],
            [{ vmid: 201 }, "vmid"],
            [{ vmid: undefined }, "vmid"],
            [{ node: "pve2" }, "node"],
        ] as const) {
            const news = (await file.check(r.outs, { ...r.inputs, ...change })).inputs;
            assert.deepEqual(await file.diff(r.id, r.outs, news), { ...replace, replaces: [key] }, key);
        }
        // Preview: content not known yet is a possible in-place change, not a replacement.
        const preview = await file.check(r.outs, { ...r.inputs, content: UNKNOWN });
        assert.deepEqual(preview.failures, []);
        assert.deepEqual(await file.diff(r.id, r.outs, preview.inputs), {
            changes: true,
            replaces: [],
            deleteBeforeReplace: false,
        });
    });

    it("reads a hand edit as drift (new sha256, size, mode) and a hand delete as gone", async () => {
        const path = "/etc/app/drift.conf";
        const r = await file.checkAndCreate({ node: "pve", vmid: RUNNING, path, content: "managed\n" });
        const edit = await sh(sim, RUNNING, 'printf "edited by hand\\n" >> "$1" && chmod 600 "$1"', { args: [path] });
        assert.equal(edit.code, 0, edit.stderr);
        const drifted = await file.read(r.id, r.outs);
        assert.deepEqual(drifted, {
            id: r.id,
            props: { ...r.outs, sha256: sha256("managed\nedited by hand\n"), size: 23, mode: "0600" },
        });
        // The next up sees the drift and rewrites in place.
        assert.deepEqual(await file.diff(r.id, drifted.props, r.inputs), {
            changes: true,
            replaces: [],
            deleteBeforeReplace: false,
        });
        const fixed = await file.update(r.id, drifted.props, r.inputs);
        assert.deepEqual(fixed.outs, r.outs);
        assert.equal((await fileAt(sim, RUNNING, path))?.content, "managed\n");

        // A directory where the file was is drift too (its hash can never match).
        assert.equal((await sh(sim, RUNNING, 'rm "$1" && mkdir "$1"', { args: [path] })).code, 0);
        const dir = await file.read(r.id, r.outs);
        assert.equal(dir.props.sha256, "other:");
        assert.equal((await sh(sim, RUNNING, 'rmdir "$1"', { args: [path] })).code, 0);

        assert.deepEqual(await file.read(r.id, r.outs), { id: "", props: {} });
    });

    it("delete removes the file, succeeds when it is already gone, and keeps it with retainOnDelete", async () => {
        const r = await file.checkAndCreate({ node: "pve", vmid: RUNNING, path: "/etc/app/d.conf", content: "d\n" });
        await file.delete(r.id, r.outs);
        assert.equal(await fileAt(sim, RUNNING, "/etc/app/d.conf"), undefined);
        const mark = sim.sshJournal.length;
        await file.delete(r.id, r.outs);
        assert.deepEqual(
            since(mark).map((e) => e.exitCode),
            [0],
        );

        const kept = await file.checkAndCreate({
            node: "pve",
            vmid: RUNNING,
            path: "/etc/app/kept.conf",
            content: "keep me\n",
            retainOnDelete: true,
        });
        assert.equal(kept.outs.retainOnDelete, true);
        const keptMark = sim.sshJournal.length;
        await file.delete(kept.id, kept.outs);
        assert.equal(since(keptMark).length, 0, "retainOnDelete sends nothing");
        assert.equal((await fileAt(sim, RUNNING, "/etc/app/kept.conf"))?.content, "keep me\n");
    });

    it("refuses writes clearly when the CT is stopped; read keeps the recorded state; delete leaves the file with a warning", async () => {
        const inputs = { node: "pve", vmid: STOPPED, path: "/etc/app/s.conf", content: "s\n" };
        await assert.rejects(file.checkAndCreate(inputs), {
            message:
                `cannot write /etc/app/s.conf in CT ${STOPPED}: CT ${STOPPED} is not running ` +
                "(pct needs a running container; set started: true or start it)",
        });
        const outs = { ...inputs, mode: "0644", owner: "root", group: "root", sha256: sha256("s\n"), size: 2 };
        await assert.rejects(file.update("x", outs, { ...inputs, content: "t\n" }), {
            message:
                `cannot write /etc/app/s.conf in CT ${STOPPED}: CT ${STOPPED} is not running ` +
                "(pct needs a running container; set started: true or start it)",
        });
        // Refresh cannot look into a stopped CT: it keeps the recorded state (the CT's own read shows it stopped).
        assert.deepEqual(await file.read("x", outs), { id: "x", props: outs });
        const warnings: string[] = [];
        const warn = console.warn;
        console.warn = (m: string) => warnings.push(m);
        try {
            await file.delete("x", outs);
        } finally {
            console.warn = warn;
        }
        assert.deepEqual(warnings, [
            `proxmox-homelab: left /etc/app/s.conf in stopped CT ${STOPPED} (pct needs a running CT)`,
        ]);
        // A CT that does not exist at all: its files are gone with it.
        assert.deepEqual(await file.read("x", { ...outs, vmid: 999 }), { id: "", props: {} });
        await file.delete("x", { ...outs, vmid: 999 });
    });

    it("fails with the target's error for an owner the CT does not know, leaving nothing behind", async () => {
        await assert.rejects(
            file.checkAndCreate({
                node: "pve",
                vmid: RUNNING,
                path: "/etc/pg/pg.conf",
                content: "x\n",
                owner: "postgres",
            }),
            // busybox chown's text (the simulator's CTs run busybox); coreutils says `invalid user`.
            { message: "writing /etc/pg/pg.conf in CT 200 exited 69: chown: unknown user/group postgres:postgres" },
        );
        assert.deepEqual(await listDir(sim, RUNNING, "/etc/pg"), []);
    });

    it("rejects bad input naming the field and the rule, before anything reaches SSH", async () => {
        const base = { node: "pve", vmid: RUNNING, path: "/etc/app/ok.conf", content: "x" };
        const cases: [Props, { property: string; reason: string }[]][] = [
            [{ path: "etc/app.conf" }, [{ property: "path", reason: "must be an absolute path" }]],
            [{ path: "/etc/../shadow" }, [{ property: "path", reason: "must not contain '.' or '..' segments" }]],
            [{ path: "/etc/./app.conf" }, [{ property: "path", reason: "must not contain '.' or '..' segments" }]],
            [{ path: "/etc/app/" }, [{ property: "path", reason: "must name a file, not a directory" }]],
            [{ path: "/" }, [{ property: "path", reason: "must name a file, not a directory" }]],
            [{ mode: "0999" }, [{ property: "mode", reason: "must be an octal mode like 0644" }]],
            [{ mode: "u+rw" }, [{ property: "mode", reason: "must be an octal mode like 0644" }]],
            [{ owner: "Root" }, [{ property: "owner", reason: "must be a user/group name like root or www-data" }]],
            [{ group: "my group" }, [{ property: "group", reason: "must be a user/group name like root or www-data" }]],
            [{ vmid: 99 }, [{ property: "vmid", reason: "must be ≥ 100 (PVE reserves lower ids)" }]],
            [{ vmid: 100.5 }, [{ property: "vmid", reason: "must be an integer" }]],
            [{ node: "pve_1" }, [{ property: "node", reason: "must be a PVE node name (letters, digits, '-')" }]],
            [
                { content: undefined },
                [{ property: "content", reason: "Invalid input: expected string, received undefined" }],
            ],
        ];
        const mark = sim.sshJournal.length;
        for (const [change, failures] of cases) {
            const c = await file.check({}, { ...base, ...change });
            assert.deepEqual(c.failures, failures, JSON.stringify(change));
        }
        // Unknown values (preview) are not judged yet.
        assert.deepEqual((await file.check({}, { ...base, path: UNKNOWN, mode: UNKNOWN })).failures, []);
        await assert.rejects(file.create({ ...base, path: "etc/app.conf", mode: "99" }), {
            message:
                "invalid file inputs:\n  - path: must be an absolute path\n  - mode: must be an octal mode like 0644",
        });
        await assert.rejects(file.update("x", {}, { ...base, owner: "A" }), {
            message: "invalid file inputs:\n  - owner: must be a user/group name like root or www-data",
        });
        assert.equal(since(mark).length, 0);
    });

    it("sends secret content only on stdin: never in a command line, never in outputs", async () => {
        const secret = "db_password=Sup3r-S3cret-'quote'-$HOME-`id`";
        const content = `${secret}\n`;
        const mark = sim.sshJournal.length;
        const r = await file.checkAndCreate({
            node: "pve",
            vmid: RUNNING,
            path: "/etc/app/secret.env",
            content,
            mode: "0600",
        });
        assert.equal((await fileAt(sim, RUNNING, "/etc/app/secret.env"))?.content, content);
        const u = await file.update(r.id, r.outs, { ...r.inputs, content: `${secret}2\n` });
        await file.read(r.id, u.outs);
        await file.delete(r.id, u.outs);
        const entries = since(mark);
        assert.equal(entries.length, 4);
        for (const e of entries) {
            assert.deepEqual(e.argv, CT_SHELL);
            assert.ok(!e.command.includes("Sup3r-S3cret"), e.command);
        }
        for (const outs of [r.outs, u.outs]) assert.ok(!JSON.stringify(outs).includes("Sup3r-S3cret"));
        assert.equal(r.outs.content, undefined);
    });

    describe("dropped SSH connections", () => {
        const path = "/etc/app/net.conf";
        let created: { id: string; outs: Props; inputs: Props };

        before(async () => {
            created = await file.checkAndCreate({ node: "pve", vmid: RUNNING, path, content: "old\n" });
        });

        it("retries a write whose connection dropped after it ran; the file is whole", async () => {
            sim.faults.ssh.drop = [{ match: /^pct exec 200 /, when: "after" }];
            const mark = sim.sshJournal.length;
            const u = await file.update(created.id, created.outs, { ...created.inputs, content: "new\n" });
            assert.equal(u.outs.sha256, sha256("new\n"));
            assert.deepEqual(
                since(mark).map((e) => [e.exitCode, e.fault]),
                [
                    [0, "dropped"],
                    [0, undefined],
                ],
            );
            assert.equal((await fileAt(sim, RUNNING, path))?.content, "new\n");
            created = { ...created, outs: u.outs, inputs: { ...created.inputs, content: "new\n" } };
        });

        it("retries a write dropped before it ran", async () => {
            sim.faults.ssh.drop = [{ match: /^pct exec 200 /, when: "before" }];
            const u = await file.update(created.id, created.outs, { ...created.inputs, content: "newer\n" });
            assert.equal(u.outs.sha256, sha256("newer\n"));
            assert.equal((await fileAt(sim, RUNNING, path))?.content, "newer\n");
            created = { ...created, outs: u.outs, inputs: { ...created.inputs, content: "newer\n" } };
        });

        it("reports a write dropped twice mid-upload; the target keeps its old content and no temp file stays", async () => {
            // Each attempt is held before it runs while the 4 MiB upload is still streaming; the client then loses
            // the connection, so the remote shell reads a truncated script.
            sim.faults.ssh.delay = [{ match: /^pct exec 200 /, ms: 700, count: 2 }];
            const mark = sim.sshJournal.length;
            const big = `${"A".repeat(4 * 1024 * 1024)}\n`;
            const outcome = file.update(created.id, created.outs, { ...created.inputs, content: big }).then(
                () => undefined,
                (e: Error) => e,
            );
            for (const n of [1, 2]) {
                while (since(mark).length < n) await sleep(10);
                await sleep(100);
                await closeAll();
            }
            const err = await outcome;
            assert.ok(err instanceof Error);
            assert.match(
                err.message,
                new RegExp(
                    `^cannot write ${path} in CT 200: the SSH connection dropped twice \\(SSH connection to ` +
                        `root@127\\.0\\.0\\.1:\\d+ dropped while running pct exec 200 -- /bin/sh -s; the command may ` +
                        "or may not have completed\\); the file holds either its old or its new content, never a " +
                        "part \\(it is replaced with one rename\\)$",
                ),
            );
            // Wait for both remote shells to end (they fail on the truncated input).
            const deadline = Date.now() + 10_000;
            while (since(mark).some((e) => e.durationMs === undefined) && Date.now() < deadline) await sleep(25);
            assert.deepEqual(
                since(mark).map((e) => [e.fault, e.exitCode === 0]),
                [
                    ["delayed", false],
                    ["delayed", false],
                ],
            );
            assert.equal((await fileAt(sim, RUNNING, path))?.content, "newer\n");
            const names = await listDir(sim, RUNNING, "/etc/app");
            assert.deepEqual(
                names.filter((n) => n.startsWith(".")),
                [],
            );
            assert.ok(names.includes("net.conf"));
        });

        it("retries a read and a delete whose connection dropped", async () => {
            sim.faults.ssh.drop = [{ match: /^pct exec 200 /, when: "after" }];
            const mark = sim.sshJournal.length;
            const read = await file.read(created.id, created.outs);
            assert.equal(read.props.sha256, sha256("newer\n"));
            sim.faults.ssh.drop = [{ match: /^pct exec 200 /, when: "after" }];
            await file.delete(created.id, created.outs);
            assert.equal(await fileAt(sim, RUNNING, path), undefined);
            assert.deepEqual(
                since(mark).map((e) => [e.changing, e.fault]),
                [
                    [false, "dropped"],
                    [false, undefined],
                    [true, "dropped"],
                    [true, undefined],
                ],
            );
        });
    });
});
