/**
 * The template handler against the simulator: the exact storage/aplinfo calls it makes, the storage's
 * content afterwards, no-op diffs, drift, bad input, PVE faults and failing downloads.
 */
import assert from "node:assert/strict";
import type { Simulator } from "../pve-sim";
import { handler, Props, startConfigured } from "./helpers";

const template = handler("template");

const ALPINE = "alpine-3.22-default_20250617_amd64.tar.xz";
const ALPINE_VOLID = `local:vztmpl/${ALPINE}`;
const DEBIAN = "debian-13-standard_13.1-2_amd64.tar.zst";
const DEBIAN_VOLID = `local:vztmpl/${DEBIAN}`;

const LIST = ["GET", "/nodes/pve/storage/local/content", { content: "vztmpl" }] as const;
const APLINFO = ["GET", "/nodes/pve/aplinfo", {}] as const;
const NO_CHANGE = { changes: false, replaces: [], deleteBeforeReplace: false };

/** Every request except task polling (how many polls a task takes depends on timing). */
function calls(sim: Simulator): [string, string, Record<string, string>][] {
    return sim.requestLog
        .all()
        .filter((e) => !/\/tasks\//.test(e.path))
        .map((e) => [e.method, e.path, e.params]);
}

function statuses(sim: Simulator): string[] {
    return sim.requestLog
        .all()
        .filter((e) => !/\/tasks\//.test(e.path))
        .map((e) => `${e.method} ${e.path} ${e.status}`);
}

function volumes(sim: Simulator, storage = "local"): string[] {
    return [...(sim.state.storages.get(storage)?.volumes.keys() ?? [])].sort();
}

function removeVolume(sim: Simulator, volid: string): void {
    sim.state.storages.get("local")?.volumes.delete(volid);
}

describe("template provider (simulator)", function () {
    let sim: Simulator;

    before(async () => {
        sim = await startConfigured();
    });

    after(async () => {
        await sim.stop();
    });

    beforeEach(() => {
        sim.requestLog.clear();
    });

    afterEach(() => {
        sim.faults.clear();
    });

    describe("lifecycle", () => {
        let id: string;
        let outs: Props;
        let inputs: Props;

        it("downloads an absent template through aplinfo and waits for the download task", async () => {
            assert.deepEqual(volumes(sim), [DEBIAN_VOLID]);
            ({ id, outs, inputs } = await template.checkAndCreate({ node: "pve", template: ALPINE }));
            assert.equal(id, `pve/${ALPINE_VOLID}`);
            assert.deepEqual(outs, {
                volid: ALPINE_VOLID,
                node: "pve",
                storage: "local",
                template: ALPINE,
                downloaded: true,
                retainOnDelete: true,
            });
            assert.deepEqual(calls(sim), [
                LIST,
                APLINFO,
                ["POST", "/nodes/pve/aplinfo", { storage: "local", template: ALPINE }],
                LIST,
            ]);
            const downloads = sim.state.tasks.list().filter((t) => t.type === "download");
            assert.equal(downloads.length, 1);
            assert.equal(downloads[0].id, ALPINE);
            assert.equal(downloads[0].exitstatus, "OK");
            assert.deepEqual(volumes(sim), [ALPINE_VOLID, DEBIAN_VOLID]);
        });

        it("diffs empty against its own checked inputs, and read agrees with the outputs", async () => {
            assert.deepEqual(await template.diff(id, outs, inputs), NO_CHANGE);
            const again = await template.check(outs, { node: "pve", template: ALPINE, storage: "local" });
            assert.deepEqual(await template.diff(id, outs, again.inputs), NO_CHANGE);
            sim.requestLog.clear();
            const read = await template.read(id, outs);
            assert.deepEqual(read, {
                id,
                props: outs,
                inputs: { node: "pve", storage: "local", template: ALPINE, retainOnDelete: true },
            });
            assert.deepEqual(calls(sim), [LIST]);
        });

        it("adopts a template that is already there without downloading it", async () => {
            const r = await template.checkAndCreate({ node: "pve", template: DEBIAN });
            assert.deepEqual(r.outs, {
                volid: DEBIAN_VOLID,
                node: "pve",
                storage: "local",
                template: DEBIAN,
                downloaded: false,
                retainOnDelete: true,
            });
            assert.deepEqual(calls(sim), [LIST]);
        });

        it("updates retainOnDelete in place", async () => {
            const c = await template.check(outs, { node: "pve", template: ALPINE, retainOnDelete: false });
            assert.deepEqual(await template.diff(id, outs, c.inputs), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            sim.requestLog.clear();
            const r = await template.update(id, outs, c.inputs);
            assert.deepEqual(r.outs, { ...outs, retainOnDelete: false });
            assert.deepEqual(calls(sim), [LIST], "only checks that the file is still there");
            assert.deepEqual(await template.diff(id, r.outs, c.inputs), NO_CHANGE);
        });

        it("replaces (create before delete) on a new node, storage or template", async () => {
            for (const [key, value] of [
                ["node", "pve2"],
                ["storage", "nfs-templates"],
                ["template", DEBIAN],
            ] as const) {
                const c = await template.check(outs, { ...inputs, [key]: value });
                assert.deepEqual(await template.diff(id, outs, c.inputs), {
                    changes: true,
                    replaces: [key],
                    deleteBeforeReplace: false,
                });
            }
        });

        it("reads a template removed behind its back as gone; updating downloads it again", async () => {
            removeVolume(sim, ALPINE_VOLID);
            assert.deepEqual(await template.read(id, outs), { id: "", props: {} });
            sim.requestLog.clear();
            const r = await template.update(id, outs, inputs);
            assert.equal(r.outs.downloaded, true);
            assert.deepEqual(calls(sim), [
                LIST,
                APLINFO,
                ["POST", "/nodes/pve/aplinfo", { storage: "local", template: ALPINE }],
                LIST,
            ]);
            assert.ok(volumes(sim).includes(ALPINE_VOLID));
        });

        it("deletes by leaving the file (retainOnDelete defaults to true)", async () => {
            await template.delete(id, outs);
            assert.deepEqual(calls(sim), []);
            assert.ok(volumes(sim).includes(ALPINE_VOLID));
        });

        it("removes the file with retainOnDelete: false (imgdel task), and a missing one is already deleted", async () => {
            const props = { ...outs, retainOnDelete: false };
            await template.delete(id, props);
            assert.deepEqual(calls(sim), [LIST, ["DELETE", `/nodes/pve/storage/local/content/${ALPINE_VOLID}`, {}]]);
            const imgdel = sim.state.tasks.list().filter((t) => t.type === "imgdel");
            assert.deepEqual(
                imgdel.map((t) => [t.id, t.exitstatus]),
                [["local", "OK"]],
            );
            assert.deepEqual(volumes(sim), [DEBIAN_VOLID]);
            sim.requestLog.clear();
            await template.delete(id, props);
            assert.deepEqual(calls(sim), [LIST]);
        });
    });

    describe("bad input", () => {
        const cases: [string, Props, { property: string; reason: string }[]][] = [
            [
                "node name",
                { node: "pve node", template: DEBIAN },
                [{ property: "node", reason: "must be a PVE node name (letters, digits, '-')" }],
            ],
            [
                "storage id",
                { node: "pve", storage: "1local", template: DEBIAN },
                [{ property: "storage", reason: "must be a PVE storage id" }],
            ],
            [
                "template file name",
                { node: "pve", template: "local:vztmpl/debian.tar.zst" },
                [
                    {
                        property: "template",
                        reason: "must be a template file name like debian-13-standard_13.1-2_amd64.tar.zst",
                    },
                ],
            ],
            [
                "template extension",
                { node: "pve", template: "debian-13-standard_13.1-2_amd64.iso" },
                [
                    {
                        property: "template",
                        reason: "must be a template file name like debian-13-standard_13.1-2_amd64.tar.zst",
                    },
                ],
            ],
            [
                "missing template",
                { node: "pve" },
                [{ property: "template", reason: "Invalid input: expected string, received undefined" }],
            ],
            [
                "retainOnDelete type",
                { node: "pve", template: DEBIAN, retainOnDelete: "no" },
                [{ property: "retainOnDelete", reason: "Invalid input: expected boolean, received string" }],
            ],
        ];
        for (const [what, news, failures] of cases) {
            it(`check names the field and rule: ${what}`, async () => {
                assert.deepEqual((await template.check({}, news)).failures, failures);
            });
        }

        it("create refuses invalid inputs before any request", async () => {
            await assert.rejects(template.create({ node: "pve", storage: "-", template: "x" }), {
                message:
                    "invalid template inputs:\n" +
                    "  - storage: must be a PVE storage id\n" +
                    "  - template: must be a template file name like debian-13-standard_13.1-2_amd64.tar.zst",
            });
            assert.deepEqual(calls(sim), []);
        });
    });

    describe("PVE faults and failures", () => {
        afterEach(() => removeVolume(sim, ALPINE_VOLID));

        it("retries a 596 on the content list, `got timeout` on aplinfo and a refused download POST", async () => {
            sim.faults.failNext({
                method: "GET",
                path: /\/storage\/local\/content$/,
                status: 596,
                message: "Connection timed out",
            });
            sim.faults.failNext({ method: "GET", path: /\/aplinfo$/, status: 500, message: "got timeout" });
            sim.faults.failNext({ method: "POST", path: /\/aplinfo$/, status: 595, message: "Connection refused" });
            const downloads = () => sim.state.tasks.list().filter((t) => t.type === "download").length;
            const before = downloads();
            const r = await template.checkAndCreate({ node: "pve", template: ALPINE });
            assert.equal(r.outs.downloaded, true);
            assert.deepEqual(statuses(sim), [
                "GET /nodes/pve/storage/local/content 596",
                "GET /nodes/pve/storage/local/content 200",
                "GET /nodes/pve/aplinfo 500",
                "GET /nodes/pve/aplinfo 200",
                // Refused by pveproxy before it reached the node: certainly not started, so sent again.
                "POST /nodes/pve/aplinfo 595",
                "POST /nodes/pve/aplinfo 200",
                "GET /nodes/pve/storage/local/content 200",
            ]);
            assert.equal(downloads() - before, 1, "one download task");
        });

        it("fails with the download task's exit status and log", async () => {
            sim.faults.failNextTask({ type: "download", exitstatus: "download failed: 404 Not Found" });
            let upid = "";
            await assert.rejects(template.checkAndCreate({ node: "pve", template: ALPINE }), (err: Error) => {
                upid = /upid: (UPID:\S+)/.exec(err.message)?.[1] ?? "";
                assert.equal(
                    err.message,
                    `downloading template '${ALPINE}' to storage 'local' on node 'pve' failed: ` +
                        `task download ${ALPINE} on node 'pve' failed: download failed: 404 Not Found\n` +
                        `  upid: ${upid}\n` +
                        "  task log (last lines):\n" +
                        "    TASK ERROR: download failed: 404 Not Found",
                );
                return true;
            });
            assert.match(
                upid,
                new RegExp(
                    `^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:download:${ALPINE.replace(/\./g, "\\.")}:root@pam!sim:$`,
                ),
            );
            assert.deepEqual(volumes(sim), [DEBIAN_VOLID], "nothing was stored");
            // The next attempt downloads it.
            const r = await template.checkAndCreate({ node: "pve", template: ALPINE });
            assert.equal(r.outs.downloaded, true);
        });

        it("names the template when the appliance index does not offer it, and what it offers instead", async () => {
            const missing = "debian-99-standard_99.0-1_amd64.tar.zst";
            await assert.rejects(template.checkAndCreate({ node: "pve", template: missing }), {
                message:
                    `template '${missing}' is not on storage 'local' of node 'pve', and the node's appliance index ` +
                    "(pveam available) does not offer it, so it cannot be downloaded. It offers: " +
                    "debian-12-standard_12.12-1_amd64.tar.zst, debian-13-standard_13.1-2_amd64.tar.zst.",
            });
            assert.deepEqual(calls(sim), [LIST, APLINFO], "no download was started");
            await assert.rejects(
                template.checkAndCreate({ node: "pve", template: "gentoo-current_2025_amd64.tar.xz" }),
                {
                    message:
                        "template 'gentoo-current_2025_amd64.tar.xz' is not on storage 'local' of node 'pve', and the " +
                        "node's appliance index (pveam available) does not offer it, so it cannot be downloaded. Run " +
                        "`pveam update` on the node if its index is old, and `pveam available` to see what it offers.",
                },
            );
        });

        it("reports PVE's refusal when the storage cannot hold templates", async () => {
            await assert.rejects(template.checkAndCreate({ node: "pve", storage: "local-zfs", template: ALPINE }), {
                message:
                    `downloading template '${ALPINE}' to storage 'local-zfs' on node 'pve' failed: ` +
                    "POST /nodes/pve/aplinfo: 500 storage 'local-zfs' does not support templates",
            });
        });

        it("downloads once when two resources ask for the same template at the same time", async () => {
            const [a, b] = await Promise.all([
                template.checkAndCreate({ node: "pve", template: ALPINE }),
                template.checkAndCreate({ node: "pve", template: ALPINE }),
            ]);
            assert.deepEqual([a.outs.downloaded, b.outs.downloaded].sort(), [false, true]);
            assert.equal(calls(sim).filter(([m, p]) => m === "POST" && p === "/nodes/pve/aplinfo").length, 1);
        });
    });
});
