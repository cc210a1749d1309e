/**
 * The `exec` handler against the simulator (chroot backend: scripts run for real in busybox sh): create in a CT
 * and on the host with environment and stdin delivered but never in a command line, failures with the stderr
 * tail and secrets masked, which changes re-run the command, the update and delete commands, timeouts, a stopped
 * CT, output limits and bad input.
 */
import * as assert from "node:assert/strict";
import { closeAll } from "../../providers/ssh";
import { UNKNOWN } from "../../providers/runtime";
import { Simulator } from "../pve-sim";
import type { SshJournalEntry } from "../pve-sim/ssh-server";
import { createCt, fileAt } from "./ct";
import { handler, Props, startConfigured } from "./helpers";

const exec = handler("exec");
const RUNNING = 200;
const STOPPED = 202;
const CT_SHELL = ["pct", "exec", String(RUNNING), "--", "/bin/sh", "-s"];
const NO_CHANGE = { changes: false, replaces: [], deleteBeforeReplace: false };
const IN_PLACE = { changes: true, replaces: [], deleteBeforeReplace: false };

describe("exec provider against the simulator", function () {
    this.timeout(30_000);
    let sim: Simulator;

    const since = (mark: number): SshJournalEntry[] => sim.sshJournal.slice(mark);
    /** Lines of a CT file (the scripts below append one line per run). */
    const lines = async (path: string): Promise<string[]> =>
        ((await fileAt(sim, RUNNING, path))?.content ?? "").split("\n").filter(Boolean);

    before(async () => {
        sim = await startConfigured();
        await createCt(sim, RUNNING);
        await createCt(sim, STOPPED, { start: false });
    });
    after(async () => {
        await closeAll();
        await sim?.stop();
    });

    it("runs create in a CT with environment and stdin delivered, neither in any command line", async () => {
        const secret = "pw-Sup3r-S3cret-'q'-$HOME";
        const stdin = "first line\nsecond Sup3r-stdin-S3cret\nno final newline";
        const mark = sim.sshJournal.length;
        const r = await exec.checkAndCreate({
            node: "pve",
            vmid: RUNNING,
            create: [
                'printf "%s" "$DB_PASSWORD" > /root/pw',
                "cat > /root/stdin",
                'echo "created $APP_NAME"',
                "echo warning >&2",
            ].join("\n"),
            environment: { DB_PASSWORD: secret, APP_NAME: "netbox" },
            stdin,
        });
        assert.match(r.id, /^[0-9a-f]{16}$/);
        assert.deepEqual(r.outs, { ...r.inputs, exitCode: 0, stdout: "created netbox\n", stderr: "warning\n" });
        assert.equal((await fileAt(sim, RUNNING, "/root/pw"))?.content, secret);
        assert.equal((await fileAt(sim, RUNNING, "/root/stdin"))?.content, stdin);
        const entries = since(mark);
        assert.deepEqual(
            entries.map((e) => ({ argv: e.argv, command: e.command, vmid: e.vmid, changing: e.changing })),
            [{ argv: CT_SHELL, command: CT_SHELL.join(" "), vmid: RUNNING, changing: true }],
        );
        assert.deepEqual(await exec.diff(r.id, r.outs, r.inputs), NO_CHANGE);
        // A refresh keeps what the last run recorded and sends nothing.
        const readMark = sim.sshJournal.length;
        assert.deepEqual(await exec.read(r.id, r.outs), { id: r.id, props: r.outs });
        assert.equal(since(readMark).length, 0);
    });

    it("runs on the PVE host when vmid is absent", async () => {
        const mark = sim.sshJournal.length;
        const r = await exec.checkAndCreate({
            node: "pve",
            create: 'echo "$GREETING" > /root/host-ran; cat /etc/hostname',
            environment: { GREETING: "hello host" },
        });
        assert.deepEqual(r.outs, {
            node: "pve",
            create: 'echo "$GREETING" > /root/host-ran; cat /etc/hostname',
            triggers: [],
            environment: { GREETING: "hello host" },
            timeoutSeconds: 600,
            outputLimit: 4096,
            exitCode: 0,
            stdout: "pve\n",
            stderr: "",
        });
        assert.equal((await fileAt(sim, undefined, "/root/host-ran"))?.content, "hello host\n");
        assert.deepEqual(
            since(mark).map((e) => ({ argv: e.argv, vmid: e.vmid })),
            [{ argv: ["/bin/sh", "-s"], vmid: undefined }],
        );
    });

    it("fails a non-zero exit with the stderr tail (stdout when stderr is empty), secrets masked", async () => {
        await assert.rejects(
            exec.checkAndCreate({
                node: "pve",
                vmid: RUNNING,
                create: 'echo "connecting with $TOKEN" >&2; echo "stdin was: $(cat)" >&2; exit 3',
                environment: { TOKEN: "tok-123456", X: "abc" },
                stdin: "hunter22\n",
            }),
            { message: "the create command in CT 200 exited 3:\nconnecting with [secret]\nstdin was: [secret]" },
        );
        // A proxy URL may carry credentials and is masked; the hosts that bypass it are not secrets.
        await assert.rejects(
            exec.checkAndCreate({
                node: "pve",
                vmid: RUNNING,
                create: 'echo "no file at http://192.168.1.10:8099/x via $http_proxy" >&2; exit 1',
                environment: {
                    http_proxy: "http://u:pw@192.168.1.5:3128",
                    no_proxy: "192.168.1.10",
                    NO_PROXY: "mirror",
                },
            }),
            { message: "the create command in CT 200 exited 1:\nno file at http://192.168.1.10:8099/x via [secret]" },
        );
        await assert.rejects(exec.checkAndCreate({ node: "pve", create: "echo only stdout; exit 1" }), {
            message: "the create command on node pve exited 1:\nonly stdout",
        });
        await assert.rejects(exec.checkAndCreate({ node: "pve", vmid: RUNNING, create: "exit 7" }), {
            message: "the create command in CT 200 exited 7",
        });
        // Only the tail of a long stderr (2000 characters) goes into the message.
        const long = await exec
            .checkAndCreate({
                node: "pve",
                vmid: RUNNING,
                create: 'i=0; while [ $i -lt 500 ]; do echo "line $i" >&2; i=$((i+1)); done; exit 1',
            })
            .then(
                () => assert.fail("should fail"),
                (e: Error) => e.message,
            );
        const prefix = "the create command in CT 200 exited 1:\n";
        assert.ok(long.startsWith(prefix));
        assert.equal(long.length, prefix.length + 1999); // 2000 characters, the final newline trimmed
        assert.ok(long.endsWith("line 498\nline 499"));
    });

    describe("update", () => {
        let base: { id: string; outs: Props; inputs: Props };
        const RUNS = "/root/runs";

        /** check + diff + update as the engine does; returns the new state. */
        async function change(olds: Props, news: Props, expectedDiff = IN_PLACE): Promise<Props> {
            const c = await exec.check(olds, news);
            assert.deepEqual(c.failures, []);
            assert.deepEqual(await exec.diff(base.id, olds, c.inputs), expectedDiff);
            return (await exec.update(base.id, olds, c.inputs)).outs;
        }

        before(async () => {
            base = await exec.checkAndCreate({
                node: "pve",
                vmid: RUNNING,
                create: `echo "create $V" >> ${RUNS}`,
                environment: { V: "1", W: "w" },
                triggers: ["sha-1"],
            });
            assert.deepEqual(await lines(RUNS), ["create 1"]);
        });

        it("does not re-run when only timeoutSeconds, outputLimit or the delete command change", async () => {
            let state = base.outs;
            for (const patch of [{ timeoutSeconds: 30 }, { outputLimit: 100 }, { delete: "rm -f /root/runs" }]) {
                const mark = sim.sshJournal.length;
                const inputs = { ...base.inputs, ...patch };
                state = await change(state, inputs);
                assert.equal(since(mark).length, 0, JSON.stringify(patch));
                assert.deepEqual(state, { ...base.outs, ...patch });
                base = { ...base, inputs, outs: state };
            }
            // Reordered environment keys are the same environment: no re-run either.
            const mark = sim.sshJournal.length;
            const reordered = { ...base.inputs, environment: { W: "w", V: "1" }, timeoutSeconds: 40 };
            state = await change(state, reordered);
            assert.equal(since(mark).length, 0);
            assert.equal(state.timeoutSeconds, 40);
            base = { ...base, inputs: reordered, outs: state };
            assert.deepEqual(await lines(RUNS), ["create 1"]);
        });

        it("re-runs create when create, triggers, environment or stdin change", async () => {
            let state = base.outs;
            let inputs = base.inputs;
            const patches: Props[] = [
                { triggers: ["sha-2"] },
                { environment: { V: "2", W: "w" } },
                { stdin: "x" },
                { create: `echo "create2 $V" >> ${RUNS}` },
            ];
            for (const patch of patches) {
                const mark = sim.sshJournal.length;
                inputs = { ...inputs, ...patch };
                state = await change(state, inputs);
                assert.deepEqual(
                    since(mark).map((e) => e.argv),
                    [CT_SHELL],
                );
                assert.equal(state.exitCode, 0);
            }
            assert.deepEqual(await lines(RUNS), ["create 1", "create 1", "create 2", "create 2", "create2 2"]);
            base = { ...base, inputs, outs: state };
        });

        it("runs the update command instead of create when one is given", async () => {
            let inputs: Props = { ...base.inputs, update: `echo "update $V" >> ${RUNS}; echo updated` };
            let state = await change(base.outs, inputs);
            assert.equal(state.stdout, "updated\n");
            inputs = { ...inputs, triggers: ["sha-3"] };
            state = await change(state, inputs);
            assert.deepEqual((await lines(RUNS)).slice(-2), ["update 2", "update 2"]);
            // An unknown trigger (preview) is a possible change.
            const preview = await exec.check(state, { ...inputs, triggers: [UNKNOWN] });
            assert.deepEqual(preview.failures, []);
            assert.deepEqual(await exec.diff(base.id, state, preview.inputs), IN_PLACE);
        });

        it("replaces (create-before-delete) when vmid or node change", async () => {
            for (const [patch, key] of [
                [{ vmid: 201 }, "vmid"],
                [{ vmid: undefined }, "vmid"],
                [{ node: "pve2" }, "node"],
            ] as const) {
                const c = await exec.check(base.outs, { ...base.inputs, ...patch });
                assert.deepEqual(
                    await exec.diff(base.id, base.outs, c.inputs),
                    { changes: true, replaces: [key], deleteBeforeReplace: false },
                    key,
                );
            }
        });
    });

    it("runs the delete command on delete, with the environment; none given sends nothing", async () => {
        const r = await exec.checkAndCreate({
            node: "pve",
            vmid: RUNNING,
            create: "touch /root/marker",
            delete: 'rm /root/marker && echo "$WHO" > /root/deleted-by',
            environment: { WHO: "pulumi destroy" },
        });
        assert.notEqual(await fileAt(sim, RUNNING, "/root/marker"), undefined);
        const mark = sim.sshJournal.length;
        await exec.delete(r.id, r.outs);
        assert.deepEqual(
            since(mark).map((e) => [e.argv, e.exitCode]),
            [[CT_SHELL, 0]],
        );
        assert.equal(await fileAt(sim, RUNNING, "/root/marker"), undefined);
        assert.equal((await fileAt(sim, RUNNING, "/root/deleted-by"))?.content, "pulumi destroy\n");

        // A failing delete command fails the destroy, with its stderr.
        await assert.rejects(exec.delete(r.id, r.outs), {
            message:
                "the delete command in CT 200 exited 1:\nrm: can't remove '/root/marker': No such file or directory",
        });

        const plain = await exec.checkAndCreate({ node: "pve", vmid: RUNNING, create: "true" });
        const plainMark = sim.sshJournal.length;
        await exec.delete(plain.id, plain.outs);
        assert.equal(since(plainMark).length, 0);

        // The container is gone: nothing is left to undo inside it.
        await exec.delete(r.id, { ...r.outs, vmid: 999 });
    });

    it("reports a timeout with the limit it hit", async () => {
        const started = Date.now();
        await assert.rejects(
            exec.checkAndCreate({ node: "pve", vmid: RUNNING, create: "sleep 3", timeoutSeconds: 1 }),
            { message: "the create command in CT 200 did not finish within 1 s" },
        );
        assert.ok(Date.now() - started < 2500, "killed at the timeout, not at the end of the command");
        // The connection is still usable afterwards.
        const r = await exec.checkAndCreate({ node: "pve", vmid: RUNNING, create: "echo still fine" });
        assert.equal(r.outs.stdout, "still fine\n");
    });

    it("refuses clearly when the CT is stopped", async () => {
        const inputs = { node: "pve", vmid: STOPPED, create: "true", update: "true", delete: "true" };
        const mark = sim.sshJournal.length;
        await assert.rejects(exec.checkAndCreate(inputs), {
            message: `cannot run the create command in CT ${STOPPED}: the container is not running`,
        });
        const checked = (await exec.check({}, inputs)).inputs;
        const olds = { ...checked, exitCode: 0, stdout: "", stderr: "" };
        await assert.rejects(exec.update("x", olds, { ...checked, triggers: [1] }), {
            message: `cannot run the update command in CT ${STOPPED}: the container is not running`,
        });
        await assert.rejects(exec.delete("x", olds), {
            message: `cannot run the delete command in CT ${STOPPED}: the container is not running`,
        });
        assert.deepEqual(
            since(mark).map((e) => e.exitCode),
            [255, 255, 255],
        );
    });

    it("keeps only the last outputLimit characters of stdout and stderr", async () => {
        const create =
            'i=0; while [ $i -lt 50 ]; do printf 0123456789; i=$((i+1)); done; printf END; printf "err-tail-XY" >&2';
        const r = await exec.checkAndCreate({ node: "pve", vmid: RUNNING, create, outputLimit: 8 });
        assert.deepEqual([r.outs.exitCode, r.outs.stdout, r.outs.stderr], [0, "56789END", "-tail-XY"]);
        const none = await exec.checkAndCreate({ node: "pve", vmid: RUNNING, create, outputLimit: 0 });
        assert.deepEqual([none.outs.stdout, none.outs.stderr], ["", ""]);
        const all = await exec.checkAndCreate({ node: "pve", vmid: RUNNING, create });
        assert.equal(String(all.outs.stdout).length, 503);
    });

    it("rejects bad input naming the field and the rule, before anything reaches SSH", async () => {
        const base = { node: "pve", vmid: RUNNING, create: "true" };
        const cases: [Props, { property: string; reason: string }[]][] = [
            [{ create: "" }, [{ property: "create", reason: "must not be empty" }]],
            [
                { create: undefined },
                [{ property: "create", reason: "Invalid input: expected string, received undefined" }],
            ],
            // zod 4 reports a bad record key with its own generic text, dropping the schema's message.
            [
                { environment: { "1A": "x" } },
                [{ property: "environment.1A", reason: "key must be a shell variable name" }],
            ],
            [
                { environment: { "A-B": "x" } },
                [{ property: "environment.A-B", reason: "key must be a shell variable name" }],
            ],
            [
                { environment: { A: 1 } },
                [{ property: "environment.A", reason: "Invalid input: expected string, received number" }],
            ],
            [{ timeoutSeconds: 0 }, [{ property: "timeoutSeconds", reason: "Too small: expected number to be >=1" }]],
            [
                { timeoutSeconds: 86401 },
                [{ property: "timeoutSeconds", reason: "Too big: expected number to be <=86400" }],
            ],
            [{ outputLimit: -1 }, [{ property: "outputLimit", reason: "Too small: expected number to be >=0" }]],
            [
                { outputLimit: 1.5 },
                [{ property: "outputLimit", reason: "Invalid input: expected int, received number" }],
            ],
            [{ vmid: 99 }, [{ property: "vmid", reason: "must be ≥ 100 (PVE reserves lower ids)" }]],
            [{ triggers: "x" }, [{ property: "triggers", reason: "Invalid input: expected array, received string" }]],
        ];
        const mark = sim.sshJournal.length;
        for (const [patch, failures] of cases) {
            const c = await exec.check({}, { ...base, ...patch });
            assert.deepEqual(c.failures, failures, JSON.stringify(patch));
        }
        assert.deepEqual((await exec.check({}, { ...base, create: UNKNOWN, environment: UNKNOWN })).failures, []);
        await assert.rejects(exec.create({ ...base, create: "", timeoutSeconds: 0 }), {
            message:
                "invalid exec inputs:\n  - create: must not be empty\n  - timeoutSeconds: Too small: expected number to be >=1",
        });
        assert.equal(since(mark).length, 0);
    });
});
