/**
 * The bridge handler against the simulator: the exact network API calls it makes (staging, srvreload apply),
 * the node's interfaces afterwards, no-op diffs, drift, bad input, PVE faults, foreign pending changes and
 * interrupted creates.
 */
import assert from "node:assert/strict";
import type { Simulator } from "../pve-sim";
import { handler, Props, startConfigured } from "./helpers";

const bridge = handler("bridge");

/** Every request except task polling (how many status polls a task takes depends on timing). */
function calls(sim: Simulator): [string, string, Record<string, string>][] {
    return sim.requestLog
        .all()
        .filter((e) => !/\/tasks\//.test(e.path))
        .map((e) => [e.method, e.path, e.params]);
}

/** Requests as `METHOD path status`, task polling left out. */
function statuses(sim: Simulator): string[] {
    return sim.requestLog
        .all()
        .filter((e) => !/\/tasks\//.test(e.path))
        .map((e) => `${e.method} ${e.path} ${e.status}`);
}

function applied(sim: Simulator, name: string) {
    return sim.state.network.get(name);
}

function staged(sim: Simulator): string[] | undefined {
    return sim.state.pendingNetwork ? [...sim.state.pendingNetwork.keys()].sort() : undefined;
}

/** Stages an interface the way a person at the web UI (or another tool) would, without applying it. */
async function stageForeign(sim: Simulator, params: Record<string, string | number>): Promise<void> {
    const r = await sim.api("POST", "/nodes/pve/network", params);
    assert.equal(r.status, 200, JSON.stringify(r));
}

const LIST = ["GET", "/nodes/pve/network", {}] as const;
const APPLY = ["PUT", "/nodes/pve/network", {}] as const;
const NO_CHANGE = { changes: false, replaces: [], deleteBeforeReplace: false };

describe("bridge provider (simulator)", function () {
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
        // Each case leaves nothing staged for the next one.
        sim.state.pendingNetwork = undefined;
    });

    describe("lifecycle", () => {
        let id: string;
        let outs: Props;
        let inputs: Props;

        it("creates: stages the bridge, applies it (srvreload) and reports it active", async () => {
            const r = await bridge.checkAndCreate({
                node: "pve",
                name: "vmbr1",
                cidr: "10.100.0.1/24",
                comments: "lab bridge",
                mtu: 1500,
            });
            ({ id, outs, inputs } = r);
            assert.equal(id, "pve/vmbr1");
            assert.deepEqual(outs, {
                node: "pve",
                name: "vmbr1",
                cidr: "10.100.0.1/24",
                ports: [],
                vlanAware: false,
                mtu: 1500,
                autostart: true,
                comments: "lab bridge",
                applyUnrelatedPendingChanges: false,
                active: true,
            });
            assert.deepEqual(calls(sim), [
                LIST,
                [
                    "POST",
                    "/nodes/pve/network",
                    {
                        iface: "vmbr1",
                        type: "bridge",
                        cidr: "10.100.0.1/24",
                        bridge_vlan_aware: "0",
                        mtu: "1500",
                        autostart: "1",
                        comments: "lab bridge",
                    },
                ],
                APPLY,
                ["GET", "/nodes/pve/network/vmbr1", {}],
            ]);
            const reload = sim.state.tasks.list().filter((t) => t.type === "srvreload");
            assert.equal(reload.length, 1);
            assert.equal(reload[0].exitstatus, "OK");
            assert.equal(staged(sim), undefined, "nothing left staged");
            assert.deepEqual(applied(sim, "vmbr1"), {
                type: "bridge",
                address: "10.100.0.1",
                netmask: "24",
                cidr: "10.100.0.1/24",
                families: ["inet"],
                method: "static",
                method6: "manual",
                bridge_vlan_aware: 0,
                mtu: "1500",
                autostart: 1,
                comments: "lab bridge",
                bridge_stp: "off",
                bridge_fd: "0",
                priority: 3,
                active: 1,
            });
        });

        it("diffs empty against its own checked inputs, and read agrees with the outputs", async () => {
            assert.deepEqual(await bridge.diff(id, outs, inputs), NO_CHANGE);
            const again = await bridge.check(outs, {
                node: "pve",
                name: "vmbr1",
                cidr: "10.100.0.1/24",
                comments: "lab bridge",
                mtu: 1500,
            });
            assert.deepEqual(await bridge.diff(id, outs, again.inputs), NO_CHANGE);
            const read = await bridge.read(id, outs);
            assert.deepEqual(read.props, outs);
            const { active: _active, ...asInputs } = outs;
            assert.deepEqual(read.inputs, asInputs);
        });

        it("updates comments and mtu in place (PUT the interface, then apply)", async () => {
            const c = await bridge.check(outs, {
                node: "pve",
                name: "vmbr1",
                cidr: "10.100.0.1/24",
                comments: "lab bridge\nsecond line",
                mtu: 9000,
            });
            assert.deepEqual(c.failures, []);
            assert.deepEqual(await bridge.diff(id, outs, c.inputs), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            sim.requestLog.clear();
            const r = await bridge.update(id, outs, c.inputs);
            assert.deepEqual(calls(sim), [
                LIST,
                [
                    "PUT",
                    "/nodes/pve/network/vmbr1",
                    {
                        type: "bridge",
                        cidr: "10.100.0.1/24",
                        bridge_vlan_aware: "0",
                        mtu: "9000",
                        autostart: "1",
                        comments: "lab bridge\nsecond line",
                    },
                ],
                APPLY,
                ["GET", "/nodes/pve/network/vmbr1", {}],
            ]);
            assert.equal(applied(sim, "vmbr1")?.mtu, "9000");
            assert.equal(applied(sim, "vmbr1")?.comments, "lab bridge\nsecond line");
            assert.equal(staged(sim), undefined);
            assert.deepEqual(r.outs, { ...outs, mtu: 9000, comments: "lab bridge\nsecond line" });
            assert.deepEqual(await bridge.diff(id, r.outs, c.inputs), NO_CHANGE);
            outs = r.outs;
            inputs = c.inputs;
        });

        it("removes settings that are no longer set with PUT delete=", async () => {
            const c = await bridge.check(outs, { node: "pve", name: "vmbr1", cidr: "10.100.0.1/24" });
            sim.requestLog.clear();
            const r = await bridge.update(id, outs, c.inputs);
            assert.deepEqual(calls(sim)[1], [
                "PUT",
                "/nodes/pve/network/vmbr1",
                {
                    type: "bridge",
                    cidr: "10.100.0.1/24",
                    bridge_vlan_aware: "0",
                    autostart: "1",
                    delete: "mtu,comments",
                },
            ]);
            const live = applied(sim, "vmbr1") ?? {};
            assert.equal("mtu" in live, false);
            assert.equal("comments" in live, false);
            assert.equal(live.cidr, "10.100.0.1/24", "the address survives the update");
            const { mtu: _mtu, comments: _comments, ...rest } = outs;
            assert.deepEqual(r.outs, rest);
            assert.deepEqual(await bridge.diff(id, r.outs, c.inputs), NO_CHANGE);
            outs = r.outs;
            inputs = c.inputs;
        });

        it("records a change of applyUnrelatedPendingChanges without touching the node", async () => {
            const c = await bridge.check(outs, { ...inputs, applyUnrelatedPendingChanges: true });
            assert.equal((await bridge.diff(id, outs, c.inputs)).changes, true);
            sim.requestLog.clear();
            const r = await bridge.update(id, outs, c.inputs);
            assert.deepEqual(calls(sim), []);
            assert.deepEqual(r.outs, { ...outs, applyUnrelatedPendingChanges: true });
            const back = await bridge.update(id, r.outs, inputs);
            assert.deepEqual(back.outs, outs);
        });

        it("replaces (delete before replace) on a new name or node", async () => {
            const renamed = await bridge.check(outs, { ...inputs, name: "vmbr2" });
            assert.deepEqual(await bridge.diff(id, outs, renamed.inputs), {
                changes: true,
                replaces: ["name"],
                deleteBeforeReplace: true,
            });
            const moved = await bridge.check(outs, { ...inputs, node: "pve2" });
            assert.deepEqual(await bridge.diff(id, outs, moved.inputs), {
                changes: true,
                replaces: ["node"],
                deleteBeforeReplace: true,
            });
        });

        it("shows drift on refresh: comments and mtu edited by hand, as PVE reads them back", async () => {
            const live = applied(sim, "vmbr1");
            assert.ok(live);
            // PVE reads comments back one `#` line each with "\n" appended; mtu as a string from the file.
            live.comments = "edited by hand\n";
            live.mtu = "9000";
            live.autostart = 0;
            const read = await bridge.read(id, outs);
            assert.equal(read.id, id);
            assert.deepEqual(read.props, {
                ...outs,
                comments: "edited by hand",
                mtu: 9000,
                autostart: false,
            });
            assert.deepEqual(await bridge.diff(id, read.props, inputs), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            // The next update puts it back.
            sim.requestLog.clear();
            const r = await bridge.update(id, read.props, inputs);
            assert.deepEqual(calls(sim)[1], [
                "PUT",
                "/nodes/pve/network/vmbr1",
                {
                    type: "bridge",
                    cidr: "10.100.0.1/24",
                    bridge_vlan_aware: "0",
                    autostart: "1",
                    delete: "mtu,comments",
                },
            ]);
            assert.deepEqual(r.outs, outs);
            assert.deepEqual((await bridge.read(id, r.outs)).props, outs);
        });

        it("deletes: stages the removal and applies it", async () => {
            await bridge.delete(id, outs);
            assert.deepEqual(calls(sim), [LIST, ["DELETE", "/nodes/pve/network/vmbr1", {}], APPLY]);
            assert.equal(applied(sim, "vmbr1"), undefined);
            assert.equal(staged(sim), undefined);
        });

        it("reads a bridge that is gone as gone, and deleting it again is a no-op", async () => {
            assert.deepEqual(await bridge.read(id, outs), { id: "", props: {} });
            sim.requestLog.clear();
            await bridge.delete(id, outs);
            assert.deepEqual(calls(sim), [LIST]);
        });
    });

    describe("normalisation", () => {
        it("keeps VLAN-aware bridges with ports and a gateway diff-clean (bridge_vids default, ports list)", async () => {
            const vmbr0 = applied(sim, "vmbr0");
            assert.ok(vmbr0);
            const gateway = vmbr0.gateway;
            // PVE allows one default gateway per node: take it off vmbr0 for this case.
            delete vmbr0.gateway;
            try {
                const r = await bridge.checkAndCreate({
                    node: "pve",
                    name: "vmbr3",
                    cidr: "10.30.0.2/24",
                    gateway: "10.30.0.1",
                    ports: ["eno2", "eno3"],
                    vlanAware: true,
                    autostart: false,
                    comments: "trunk\n",
                });
                assert.deepEqual(calls(sim)[1], [
                    "POST",
                    "/nodes/pve/network",
                    {
                        iface: "vmbr3",
                        type: "bridge",
                        cidr: "10.30.0.2/24",
                        gateway: "10.30.0.1",
                        bridge_ports: "eno2 eno3",
                        bridge_vlan_aware: "1",
                        // PVE's own default, made explicit.
                        bridge_vids: "2-4094",
                        autostart: "0",
                        comments: "trunk",
                    },
                ]);
                assert.deepEqual(r.outs, {
                    node: "pve",
                    name: "vmbr3",
                    cidr: "10.30.0.2/24",
                    gateway: "10.30.0.1",
                    ports: ["eno2", "eno3"],
                    vlanAware: true,
                    vids: "2-4094",
                    autostart: false,
                    comments: "trunk",
                    applyUnrelatedPendingChanges: false,
                    active: true,
                });
                assert.equal(applied(sim, "vmbr3")?.bridge_vids, "2-4094");
                assert.deepEqual(await bridge.diff(r.id, r.outs, r.inputs), NO_CHANGE);
                assert.deepEqual((await bridge.read(r.id, r.outs)).props, r.outs);
                // The address as address + dotted netmask (how older files spell it) reads back the same.
                const live = applied(sim, "vmbr3");
                assert.ok(live);
                delete live.cidr;
                live.netmask = "255.255.255.0";
                live.bridge_ports = "eno2  eno3";
                assert.deepEqual((await bridge.read(r.id, r.outs)).props, r.outs);
                await bridge.delete(r.id, r.outs);
                assert.equal(applied(sim, "vmbr3"), undefined);
            } finally {
                // Applies replace the node's interface objects: restore on the current one.
                const now = applied(sim, "vmbr0");
                if (now && gateway !== undefined) now.gateway = gateway;
            }
        });
    });

    describe("bad input", () => {
        const base = { node: "pve", name: "vmbr1" };
        const cases: [string, Props, { property: string; reason: string }[]][] = [
            [
                "node name",
                { node: "pve_1" },
                [{ property: "node", reason: "must be a PVE node name (letters, digits, '-')" }],
            ],
            [
                "missing node",
                { node: undefined },
                [{ property: "node", reason: "Invalid input: expected string, received undefined" }],
            ],
            [
                "iface name",
                { name: "Vmbr1" },
                [{ property: "name", reason: "must match PVE's iface pattern ^[a-z][a-z0-9_]{1,20}$ (e.g. vmbr1)" }],
            ],
            [
                "cidr without prefix",
                { cidr: "10.0.0.1" },
                [{ property: "cidr", reason: "must be an IPv4 address with prefix, e.g. 10.100.0.1/24" }],
            ],
            [
                "gateway address",
                { cidr: "10.0.0.2/24", gateway: "10.0.0.256" },
                [{ property: "gateway", reason: "must be an IPv4 address" }],
            ],
            [
                "gateway without cidr",
                { gateway: "10.0.0.1" },
                [
                    {
                        property: "gateway",
                        reason: "needs cidr: the bridge must have an address in the gateway's subnet",
                    },
                ],
            ],
            [
                "gateway outside the subnet",
                { cidr: "10.0.0.5/24", gateway: "10.0.1.1" },
                [{ property: "gateway", reason: "must lie in the subnet of cidr 10.0.0.5/24, got 10.0.1.1" }],
            ],
            ["port name", { ports: ["eno1", "eno 2"] }, [{ property: "ports.1", reason: "must be an interface name" }]],
            [
                "vids format",
                { vlanAware: true, vids: "10,20" },
                [{ property: "vids", reason: "must be VLAN ids like '2-4094' or '10 20'" }],
            ],
            [
                "vids without vlanAware",
                { vids: "10 20" },
                [{ property: "vids", reason: "only applies to a VLAN-aware bridge (set vlanAware: true)" }],
            ],
            ["mtu too small", { mtu: 1000 }, [{ property: "mtu", reason: "must be ≥ 1280" }]],
            ["mtu too large", { mtu: 70000 }, [{ property: "mtu", reason: "must be ≤ 65520" }]],
            ["mtu fraction", { mtu: 1500.5 }, [{ property: "mtu", reason: "must be an integer" }]],
            ["mtu as text", { mtu: "1500" }, [{ property: "mtu", reason: "must be a number" }]],
            [
                "vlanAware type",
                { vlanAware: "yes" },
                [{ property: "vlanAware", reason: "Invalid input: expected boolean, received string" }],
            ],
            [
                "comments length",
                { comments: "x".repeat(4097) },
                [{ property: "comments", reason: "must be at most 4096 characters" }],
            ],
        ];
        for (const [what, change, failures] of cases) {
            it(`check names the field and rule: ${what}`, async () => {
                const r = await bridge.check({}, { ...base, ...change });
                assert.deepEqual(r.failures, failures);
            });
        }

        it("create refuses invalid inputs with every field in one message, before any request", async () => {
            await assert.rejects(bridge.create({ ...base, cidr: "10.0.0.1", mtu: 100 }), {
                message:
                    "invalid bridge inputs:\n" +
                    "  - cidr: must be an IPv4 address with prefix, e.g. 10.100.0.1/24\n" +
                    "  - mtu: must be ≥ 1280",
            });
            assert.deepEqual(calls(sim), []);
        });

        it("skips unknown values during preview", async () => {
            const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
            const r = await bridge.check({}, { ...base, cidr: unknown, gateway: "10.0.0.1", comments: unknown });
            assert.deepEqual(r.failures, []);
            const d = await bridge.diff(
                "pve/vmbr1",
                { ...base, ports: [], vlanAware: false, autostart: true },
                {
                    ...base,
                    ports: [],
                    vlanAware: false,
                    autostart: true,
                    applyUnrelatedPendingChanges: false,
                    comments: unknown,
                },
            );
            assert.equal(d.changes, true);
        });
    });

    describe("PVE faults", () => {
        it("retries a 596 on the network list and a `got timeout` on the staging POST (verified, not duplicated)", async () => {
            sim.faults.failNext({
                method: "GET",
                path: /\/nodes\/pve\/network$/,
                status: 596,
                message: "Connection timed out",
            });
            sim.faults.failNext({
                method: "POST",
                path: /\/nodes\/pve\/network$/,
                status: 500,
                message: "got timeout",
            });
            const r = await bridge.checkAndCreate({ node: "pve", name: "vmbr4", comments: "retried" });
            assert.equal(r.outs.active, true);
            assert.deepEqual(statuses(sim), [
                "GET /nodes/pve/network 596",
                "GET /nodes/pve/network 200",
                "POST /nodes/pve/network 500",
                // The POST's outcome is unknown: the client checks whether the interface exists before resending.
                "GET /nodes/pve/network/vmbr4 400",
                "POST /nodes/pve/network 200",
                "PUT /nodes/pve/network 200",
                "GET /nodes/pve/network/vmbr4 200",
            ]);
            assert.equal(applied(sim, "vmbr4")?.comments, "retried");
            await bridge.delete(r.id, r.outs);
        });

        it("resends an apply that pveproxy refused before it reached the node (595 Connection refused)", async () => {
            sim.faults.failNext({
                method: "PUT",
                path: /\/nodes\/pve\/network$/,
                status: 595,
                message: "Connection refused",
            });
            const r = await bridge.checkAndCreate({ node: "pve", name: "vmbr4" });
            assert.equal(r.outs.active, true);
            assert.deepEqual(
                statuses(sim).filter((s) => s.startsWith("PUT")),
                ["PUT /nodes/pve/network 595", "PUT /nodes/pve/network 200"],
            );
            assert.equal(
                sim.state.tasks.list().filter((t) => t.type === "srvreload" && t.id === "networking").length > 0,
                true,
            );
            assert.ok(applied(sim, "vmbr4"));
            await bridge.delete(r.id, r.outs);
        });

        it("fails with the srvreload task's exit status and log; the next create converges without duplicates", async () => {
            sim.faults.failNextTask({ type: "srvreload", exitstatus: "command 'ifreload -a' failed: exit code 1" });
            const inputs = { node: "pve", name: "vmbr5", cidr: "10.50.0.1/24" };
            let upid = "";
            await assert.rejects(bridge.checkAndCreate(inputs), (err: Error) => {
                const m = /upid: (UPID:\S+)/.exec(err.message);
                upid = m?.[1] ?? "";
                assert.equal(
                    err.message,
                    "applying the network configuration of node 'pve' for bridge 'vmbr5' failed: " +
                        "task srvreload networking on node 'pve' failed: command 'ifreload -a' failed: exit code 1\n" +
                        `  upid: ${upid}\n` +
                        "  task log (last lines):\n" +
                        "    TASK ERROR: command 'ifreload -a' failed: exit code 1",
                );
                return true;
            });
            assert.match(upid, /^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:srvreload:networking:root@pam!sim:$/);
            // As PVE's worker does, interfaces.new was moved into place before ifreload failed: nothing is pending,
            // and the bridge is configured but not up.
            assert.equal(staged(sim), undefined);
            assert.notEqual(applied(sim, "vmbr5")?.active, 1);

            sim.requestLog.clear();
            const r = await bridge.checkAndCreate(inputs);
            assert.deepEqual(calls(sim), [LIST, APPLY, ["GET", "/nodes/pve/network/vmbr5", {}]], "no second POST");
            assert.equal(r.outs.active, true);
            assert.equal(staged(sim), undefined);
            assert.equal(applied(sim, "vmbr5")?.cidr, "10.50.0.1/24");
            assert.deepEqual(
                [...sim.state.network.keys()].filter((k) => k === "vmbr5"),
                ["vmbr5"],
            );
            await bridge.delete(r.id, r.outs);
        });

        it("an apply refused outright says the change stays staged; the next create applies it", async () => {
            sim.faults.failNext({
                method: "PUT",
                path: /\/nodes\/pve\/network$/,
                status: 500,
                message: "ifupdown2 is not installed",
            });
            await assert.rejects(bridge.checkAndCreate({ node: "pve", name: "vmbr5" }), {
                message:
                    "applying the network configuration of node 'pve' for bridge 'vmbr5' failed (the change stays " +
                    "staged; the next run applies it): PUT /nodes/pve/network: 500 ifupdown2 is not installed",
            });
            assert.deepEqual(staged(sim), ["eno1", "vmbr0", "vmbr5"]);
            sim.requestLog.clear();
            const r = await bridge.checkAndCreate({ node: "pve", name: "vmbr5" });
            assert.deepEqual(calls(sim), [LIST, APPLY, ["GET", "/nodes/pve/network/vmbr5", {}]]);
            assert.ok(applied(sim, "vmbr5"));
            await bridge.delete(r.id, r.outs);
        });

        it("a failed delete apply still removed the bridge from the config; deleting again writes nothing", async () => {
            const r = await bridge.checkAndCreate({ node: "pve", name: "vmbr6" });
            sim.faults.failNextTask({ type: "srvreload", exitstatus: "command 'ifreload -a' failed: exit code 1" });
            await assert.rejects(bridge.delete(r.id, r.outs), /task srvreload networking on node 'pve' failed/);
            assert.equal(applied(sim, "vmbr6"), undefined, "interfaces.new was moved into place before ifreload");
            assert.equal(staged(sim), undefined);
            sim.requestLog.clear();
            await bridge.delete(r.id, r.outs);
            assert.deepEqual(
                calls(sim).filter(([method]) => method !== "GET"),
                [],
            );
        });
    });

    describe("interrupted and foreign changes", () => {
        it("adopts a bridge an interrupted create already applied (no writes)", async () => {
            const inputs = { node: "pve", name: "vmbr8", cidr: "10.80.0.1/24", comments: "adopt me" };
            const first = await bridge.checkAndCreate(inputs);
            // The engine never saw that answer: it creates again.
            sim.requestLog.clear();
            const again = await bridge.checkAndCreate(inputs);
            assert.deepEqual(calls(sim), [LIST, ["GET", "/nodes/pve/network/vmbr8", {}]]);
            assert.deepEqual(again.outs, first.outs);
            await bridge.delete(again.id, again.outs);
        });

        it("converges a staged create of ours whose settings differ, then applies it", async () => {
            await stageForeign(sim, {
                iface: "vmbr8",
                type: "bridge",
                cidr: "10.80.0.1/24",
                comments: "old",
                autostart: 1,
            });
            const r = await bridge.checkAndCreate({
                node: "pve",
                name: "vmbr8",
                cidr: "10.80.0.1/24",
                comments: "new",
            });
            assert.deepEqual(calls(sim).slice(0, 3), [
                LIST,
                [
                    "PUT",
                    "/nodes/pve/network/vmbr8",
                    { type: "bridge", cidr: "10.80.0.1/24", bridge_vlan_aware: "0", autostart: "1", comments: "new" },
                ],
                APPLY,
            ]);
            assert.equal(applied(sim, "vmbr8")?.comments, "new");
            assert.equal(staged(sim), undefined);
            await bridge.delete(r.id, r.outs);
        });

        it("refuses to take over an existing bridge with other settings", async () => {
            sim.requestLog.clear();
            await assert.rejects(bridge.checkAndCreate({ node: "pve", name: "vmbr0", cidr: "10.0.0.1/24" }), {
                message:
                    "bridge 'vmbr0' already exists on node 'pve' with other settings (cidr: \"192.168.1.10/24\", " +
                    'wanted "10.0.0.1/24"; gateway: "192.168.1.1", wanted (unset); ports: ["eno1"], wanted []); it ' +
                    "was not made by this resource, so it is left alone. Make the inputs match it to adopt it (then " +
                    "change them), or choose another name.",
            });
            assert.deepEqual(calls(sim), [LIST]);
            assert.equal(applied(sim, "vmbr0")?.cidr, "192.168.1.10/24");
        });

        it("refuses an interface name that is not a bridge", async () => {
            await assert.rejects(bridge.checkAndCreate({ node: "pve", name: "eno1" }), {
                message:
                    "interface 'eno1' on node 'pve' exists but is of type 'eth', not a bridge; choose another name",
            });
        });

        it("refuses to apply someone else's pending change, listing it; nothing is written", async () => {
            await stageForeign(sim, { iface: "vmbr7", type: "bridge", comments: "half-made", autostart: 1 });
            sim.requestLog.clear();
            await assert.rejects(bridge.checkAndCreate({ node: "pve", name: "vmbr9" }), {
                message:
                    "node 'pve' has pending network changes to interface vmbr7 that are not applied yet; applying " +
                    "bridge 'vmbr9' would apply them too (PVE applies all pending changes at once), so nothing was " +
                    "changed. Review them (node → System → Network in the web UI), apply or revert them, or set " +
                    "applyUnrelatedPendingChanges: true on this bridge to apply them together with it.\n" +
                    "  pending changes:\n" +
                    "    +auto vmbr7\n" +
                    "    +iface vmbr7 inet manual\n" +
                    "    +\tbridge-ports none\n" +
                    "    +\tbridge-stp off\n" +
                    "    +\tbridge-fd 0\n" +
                    "    +#half-made\n" +
                    "    +",
            });
            assert.deepEqual(calls(sim), [LIST]);
            assert.deepEqual(staged(sim), ["eno1", "vmbr0", "vmbr7"], "the foreign change is untouched");
            assert.equal(applied(sim, "vmbr9"), undefined);
        });

        it("applies someone else's pending change together with ours when allowed", async () => {
            await stageForeign(sim, { iface: "vmbr7", type: "bridge", comments: "half-made", autostart: 1 });
            sim.requestLog.clear();
            const r = await bridge.checkAndCreate({ node: "pve", name: "vmbr9", applyUnrelatedPendingChanges: true });
            assert.deepEqual(
                calls(sim).map(([m, p]) => `${m} ${p}`),
                [
                    "GET /nodes/pve/network",
                    "POST /nodes/pve/network",
                    "PUT /nodes/pve/network",
                    "GET /nodes/pve/network/vmbr9",
                ],
            );
            assert.equal(r.outs.applyUnrelatedPendingChanges, true);
            assert.ok(applied(sim, "vmbr7"));
            assert.ok(applied(sim, "vmbr9"));
            assert.equal(staged(sim), undefined);
            await bridge.delete(r.id, r.outs);
            await bridge.delete("pve/vmbr7", { node: "pve", name: "vmbr7" });
            assert.equal(applied(sim, "vmbr7"), undefined);
        });

        it("refuses updates and deletes too while foreign changes are pending", async () => {
            const r = await bridge.checkAndCreate({ node: "pve", name: "vmbr9", comments: "one" });
            await stageForeign(sim, { iface: "vmbr7", type: "bridge" });
            const c = await bridge.check(r.outs, { node: "pve", name: "vmbr9", comments: "two" });
            await assert.rejects(bridge.update(r.id, r.outs, c.inputs), /pending network changes to interface vmbr7/);
            await assert.rejects(bridge.delete(r.id, r.outs), /pending network changes to interface vmbr7/);
            assert.equal(applied(sim, "vmbr9")?.comments, "one");
            assert.equal(sim.state.pendingNetwork?.get("vmbr9")?.comments, "one", "ours was not staged either");
            sim.state.pendingNetwork = undefined;
            await bridge.delete(r.id, r.outs);
            assert.equal(applied(sim, "vmbr9"), undefined);
        });

        it("serialises concurrent creates on one node: each apply follows its own staging", async () => {
            const [a, b] = await Promise.all([
                bridge.checkAndCreate({ node: "pve", name: "vmbr10" }),
                bridge.checkAndCreate({ node: "pve", name: "vmbr11" }),
            ]);
            assert.deepEqual(
                calls(sim).map(([m, p, params]) => `${m} ${p}${params.iface ? ` ${params.iface}` : ""}`),
                [
                    "GET /nodes/pve/network",
                    "POST /nodes/pve/network vmbr10",
                    "PUT /nodes/pve/network",
                    "GET /nodes/pve/network/vmbr10",
                    "GET /nodes/pve/network",
                    "POST /nodes/pve/network vmbr11",
                    "PUT /nodes/pve/network",
                    "GET /nodes/pve/network/vmbr11",
                ],
            );
            assert.equal(a.outs.active, true);
            assert.equal(b.outs.active, true);
            await Promise.all([bridge.delete(a.id, a.outs), bridge.delete(b.id, b.outs)]);
            assert.equal(applied(sim, "vmbr10"), undefined);
            assert.equal(applied(sim, "vmbr11"), undefined);
        });
    });
});
