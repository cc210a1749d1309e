/**
 * The `lxc` handler against the simulator (in-memory backend): create, no-op diff, live and pending updates,
 * disk grow and shrink, replace rules, power state, adoption, root-only settings, drift, faults, delete.
 */
import * as assert from "node:assert/strict";
import { FakeBackend } from "../sim/fake-backend";
import { api } from "../sim/helpers";
import { Simulator } from "../pve-sim";
import { configureFor, handler, Props, startConfigured } from "./helpers";

const lxc = handler("lxc");
const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
const OWNER = "phl-proxmox-homelab-test";

function inputs(extra: Props = {}): Props {
    return {
        node: "pve",
        vmid: 120,
        hostname: "db",
        ostemplate: TEMPLATE,
        cores: 2,
        memory: 1024,
        swap: 256,
        rootfs: { storage: "local-zfs", sizeGiB: 8 },
        networks: [{ name: "eth0", bridge: "vmbr0", ip: "192.168.1.50/24", gw: "192.168.1.1" }],
        tags: ["Homelab", "db"],
        ownerTag: OWNER,
        addressTimeoutSeconds: 5,
        ...extra,
    };
}

async function liveConfig(sim: Simulator, vmid: number): Promise<Record<string, unknown>> {
    return (await api(sim, "GET", `/nodes/pve/lxc/${vmid}/config`)).data as Record<string, unknown>;
}

function writesSince(sim: Simulator, seq: number): string[] {
    return sim.requestLog
        .writes()
        .filter((e) => e.seq > seq)
        .map((e) => `${e.method} ${e.path}`);
}

function lastSeq(sim: Simulator): number {
    const all = sim.requestLog.all();
    return all.length === 0 ? 0 : all[all.length - 1].seq;
}

describe("lxc provider (simulator)", function () {
    this.timeout(60_000);
    let sim: Simulator;

    before(async () => {
        sim = await startConfigured({ backend: new FakeBackend() });
    });
    after(async () => sim.stop());

    describe("lifecycle", () => {
        let created: { id: string; outs: Props; inputs: Props };

        it("creates the container with PVE's property strings, starts it and reports its state", async () => {
            const seq = lastSeq(sim);
            created = await lxc.checkAndCreate(inputs());
            assert.equal(created.id, "120");
            assert.deepEqual(writesSince(sim, seq), ["POST /nodes/pve/lxc", "POST /nodes/pve/lxc/120/status/start"]);
            const post = sim.requestLog.writes().find((e) => e.seq > seq && e.path === "/nodes/pve/lxc")!;
            assert.equal(post.params.rootfs, "local-zfs:8");
            assert.equal(
                post.params.net0,
                "name=eth0,bridge=vmbr0,firewall=1,gw=192.168.1.1,ip=192.168.1.50/24,type=veth",
            );
            assert.equal(post.params.tags, `db;homelab;${OWNER}`);
            assert.equal(post.params.unprivileged, "1");
            assert.equal(post.params.start, "0");
            const o = created.outs;
            assert.equal(o.vmid, 120);
            assert.equal(o.status, "running");
            assert.equal(o.started, true);
            assert.deepEqual(o.tags, ["db", "homelab"]);
            const ifs = o.interfaces as { name: string; hwaddr: string; ipv4?: string }[];
            assert.equal(ifs.length, 1);
            assert.equal(ifs[0].name, "eth0");
            assert.match(ifs[0].hwaddr, /^BC:24:11(:[0-9A-F]{2}){3}$/);
            assert.equal(ifs[0].ipv4, "192.168.1.50/24");
            assert.deepEqual(o.pendingChanges, []);
            const cfg = await liveConfig(sim, 120);
            assert.equal(cfg.hostname, "db");
            assert.equal(cfg.memory, 1024);
        });

        it("diffs empty against its own state, and read returns the same state", async () => {
            const d = await lxc.diff(created.id, created.outs, created.inputs);
            assert.equal(d.changes, false);
            const r = await lxc.read(created.id, created.outs);
            assert.equal(r.id, "120");
            const again = await lxc.diff(created.id, r.props, created.inputs);
            assert.equal(again.changes, false, JSON.stringify(r.props));
        });

        it("applies memory and cores live, with one config PUT and no reboot", async () => {
            const news = (await lxc.check(created.outs, inputs({ memory: 2048, cores: 3 }))).inputs;
            const d = await lxc.diff(created.id, created.outs, news);
            assert.deepEqual([d.changes, d.replaces], [true, []]);
            const seq = lastSeq(sim);
            const { outs } = await lxc.update(created.id, created.outs, news);
            assert.deepEqual(writesSince(sim, seq), ["PUT /nodes/pve/lxc/120/config"]);
            const put = sim.requestLog.writes().find((e) => e.seq > seq)!;
            assert.equal(put.params.memory, "2048");
            assert.equal(put.params.cores, "3");
            assert.equal(put.params.hostname, undefined, "unchanged keys are not sent");
            assert.equal(outs.memory, 2048);
            assert.deepEqual(outs.pendingChanges, []);
            created = { ...created, outs, inputs: news };
        });

        it("reboots for keys PVE keeps pending on a running CT (nameserver)", async () => {
            const news = (await lxc.check(created.outs, inputs({ memory: 2048, cores: 3, nameserver: "10.0.0.53" })))
                .inputs;
            const seq = lastSeq(sim);
            const { outs } = await lxc.update(created.id, created.outs, news);
            assert.deepEqual(writesSince(sim, seq), [
                "PUT /nodes/pve/lxc/120/config",
                "POST /nodes/pve/lxc/120/status/reboot",
            ]);
            assert.deepEqual(outs.pendingChanges, []);
            assert.equal((await liveConfig(sim, 120)).nameserver, "10.0.0.53");
            created = { ...created, outs, inputs: news };
        });

        it("reports pending keys instead of rebooting when rebootOnPendingChanges is false", async () => {
            const news = (
                await lxc.check(
                    created.outs,
                    inputs({ memory: 2048, cores: 3, nameserver: "10.0.0.54", rebootOnPendingChanges: false }),
                )
            ).inputs;
            const seq = lastSeq(sim);
            const { outs } = await lxc.update(created.id, created.outs, news);
            assert.deepEqual(writesSince(sim, seq), ["PUT /nodes/pve/lxc/120/config"]);
            assert.deepEqual(outs.pendingChanges, ["nameserver"]);
            created = { ...created, outs, inputs: news };
        });

        it("grows the disk in place and refuses to shrink it, naming both sizes", async () => {
            const grown = (
                await lxc.check(created.outs, { ...created.inputs, rootfs: { storage: "local-zfs", sizeGiB: 12 } })
            ).inputs;
            const d = await lxc.diff(created.id, created.outs, grown);
            assert.deepEqual([d.changes, d.replaces], [true, []]);
            const seq = lastSeq(sim);
            const { outs } = await lxc.update(created.id, created.outs, grown);
            assert.ok(writesSince(sim, seq).includes("PUT /nodes/pve/lxc/120/resize"));
            assert.match(String((await liveConfig(sim, 120)).rootfs), /size=12G/);
            created = { ...created, outs, inputs: grown };

            const shrink = await lxc.check(created.outs, {
                ...created.inputs,
                rootfs: { storage: "local-zfs", sizeGiB: 4 },
            });
            assert.deepEqual(shrink.failures, [
                {
                    property: "rootfs.sizeGiB",
                    reason: "cannot shrink the root disk from 12 GiB to 4 GiB (PVE only grows disks)",
                },
            ]);
        });

        it("replaces (delete first) on ostemplate, unprivileged, vmid, node and root disk storage", async () => {
            for (const change of [
                { ostemplate: "local:vztmpl/other.tar.zst" },
                { unprivileged: false },
                { vmid: 121 },
                { node: "pve2" },
                { rootfs: { storage: "local", sizeGiB: 12 } },
            ]) {
                const d = await lxc.diff(created.id, created.outs, { ...created.inputs, ...change });
                assert.equal(d.changes, true, JSON.stringify(change));
                assert.equal(d.replaces.length, 1, JSON.stringify(change));
                assert.equal(d.deleteBeforeReplace, true);
            }
        });

        it("refresh shows drift made behind its back, and the next update restores it", async () => {
            await api(sim, "PUT", "/nodes/pve/lxc/120/config", { form: { memory: 512 } });
            await api(sim, "POST", "/nodes/pve/lxc/120/status/stop");
            await new Promise((r) => setTimeout(r, 200));
            const r = await lxc.read(created.id, created.outs);
            assert.equal(r.props.memory, 512);
            assert.equal(r.props.started, false);
            assert.equal(r.props.status, "stopped");
            const d = await lxc.diff(created.id, r.props, created.inputs);
            assert.equal(d.changes, true);
            const { outs } = await lxc.update(created.id, r.props, created.inputs);
            assert.equal(outs.status, "running");
            assert.equal((await liveConfig(sim, 120)).memory, 2048);
            created = { ...created, outs };
        });

        it("stops and starts by `started`", async () => {
            const stopped = { ...created.inputs, started: false };
            const { outs } = await lxc.update(created.id, created.outs, stopped);
            assert.equal(outs.status, "stopped");
            const { outs: back } = await lxc.update(created.id, outs, created.inputs);
            assert.equal(back.status, "running");
            created = { ...created, outs: back };
        });

        it("deletes a running CT (shutdown, then destroy with purge); a missing CT counts as deleted", async () => {
            const seq = lastSeq(sim);
            await lxc.delete(created.id, created.outs);
            assert.deepEqual(writesSince(sim, seq), [
                "POST /nodes/pve/lxc/120/status/shutdown",
                "DELETE /nodes/pve/lxc/120",
            ]);
            const del = sim.requestLog.writes().find((e) => e.seq > seq && e.method === "DELETE")!;
            assert.equal(del.params.purge, "1");
            assert.equal((await api(sim, "GET", "/nodes/pve/lxc/120/config")).status, 500);
            await lxc.delete(created.id, created.outs);
            const gone = await lxc.read(created.id, created.outs);
            assert.equal(gone.id, "");
        });
    });

    it("discovers DHCP addresses from the interfaces endpoint", async () => {
        const c = await lxc.checkAndCreate(
            inputs({ vmid: 130, hostname: "dhcp", networks: [{ name: "eth0", bridge: "vmbr0", ip: "dhcp" }] }),
        );
        const ifs = c.outs.interfaces as { ipv4?: string }[];
        assert.match(ifs[0].ipv4 ?? "", /^\d+\.\d+\.\d+\.\d+\/\d+$/);
        await lxc.delete(c.id, c.outs);
    });

    it("allocates a vmid from nextid when none is given, and keeps it across diffs", async () => {
        const c = await lxc.checkAndCreate(inputs({ vmid: undefined, hostname: "auto" }));
        const vmid = Number(c.id);
        assert.ok(vmid >= 100);
        const d = await lxc.diff(c.id, c.outs, c.inputs);
        assert.equal(d.changes, false);
        await lxc.delete(c.id, c.outs);
    });

    it("adopts a CT of this stack left by an interrupted create, and refuses someone else's", async () => {
        // An earlier run created CT 140 with our tag, then died before recording it.
        await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 140, ostemplate: TEMPLATE, hostname: "old", rootfs: "local-zfs:8", tags: OWNER },
        });
        await new Promise((r) => setTimeout(r, 300));
        const c = await lxc.checkAndCreate(inputs({ vmid: 140, hostname: "adopted" }));
        assert.equal(c.id, "140");
        assert.equal((await liveConfig(sim, 140)).hostname, "adopted");
        assert.equal(c.outs.status, "running");
        await lxc.delete(c.id, c.outs);

        await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 141, ostemplate: TEMPLATE, hostname: "foreign", rootfs: "local-zfs:8", tags: "other" },
        });
        await new Promise((r) => setTimeout(r, 300));
        await assert.rejects(
            lxc.checkAndCreate(inputs({ vmid: 141 })),
            (err: Error) =>
                err.message ===
                `CT 141 exists and is not managed by this stack (it lacks the tag '${OWNER}'); choose another vmid or remove that container`,
        );
        assert.equal((await liveConfig(sim, 141)).hostname, "foreign", "left untouched");
    });

    it("makes a privileged CT with nesting,keyctl through the root@pam ticket", async () => {
        const seq = lastSeq(sim);
        const c = await lxc.checkAndCreate(
            inputs({
                vmid: 150,
                hostname: "appliance",
                unprivileged: false,
                features: { nesting: true, keyctl: true },
            }),
        );
        const post = sim.requestLog.writes().find((e) => e.seq > seq && e.path === "/nodes/pve/lxc")!;
        assert.equal(post.user, "root@pam");
        assert.equal(post.params.features, "keyctl=1,nesting=1");
        assert.equal((await liveConfig(sim, 150)).unprivileged, undefined);
        assert.deepEqual(c.outs.features, { keyctl: true, nesting: true });
        const d = await lxc.diff(c.id, c.outs, c.inputs);
        assert.equal(d.changes, false);
        await lxc.delete(c.id, c.outs);
    });

    it("refuses root-only settings in check when only a token is configured, before anything is created", async () => {
        await configureFor(sim, ["pvePassword"]);
        try {
            const before = sim.requestLog.writes().length;
            const c = await lxc.check(
                {},
                inputs({ vmid: 151, unprivileged: false, features: { nesting: true, keyctl: true } }),
            );
            assert.deepEqual(c.failures, [
                {
                    property: "unprivileged",
                    reason:
                        "setting the container feature(s) keyctl is only allowed for root@pam in Proxmox VE, and API " +
                        "tokens never count as root@pam: set proxmox-homelab:pvePassword (env PVE_PASSWORD) to root@pam's password",
                },
            ]);
            assert.equal(sim.requestLog.writes().length, before);
        } finally {
            await configureFor(sim);
        }
    });

    it("names every bad field and rule", async () => {
        const c = await lxc.check(
            {},
            inputs({
                vmid: 50,
                hostname: "bad_name",
                ostemplate: "debian.tar.zst",
                memory: 8,
                rootfs: { storage: "local-zfs", sizeGiB: 0 },
                rootPassword: "abc",
                networks: [
                    { name: "eth0", bridge: "vmbr0", ip: "dhcp", gw: "10.0.0.1" },
                    { name: "eth0", bridge: "vmbr1", ip: "10.0.0.300/24" },
                ],
            }),
        );
        assert.deepEqual(
            c.failures.map((f) => `${f.property}: ${f.reason}`),
            [
                "vmid: must be ≥ 100 (PVE reserves lower ids)",
                "hostname: must be a DNS name",
                "ostemplate: must be a template volid like local:vztmpl/<file>",
                "memory: must be ≥ 16 MiB",
                "rootfs.sizeGiB: must be ≥ 1 GiB",
                "networks.1.ip: must be an IPv4 address with prefix, e.g. 10.100.0.1/24",
                "rootPassword: must be at least 5 characters (PVE's rule)",
                "networks.0.gw: a gateway needs a static ip",
                "networks.1.name: duplicate interface name eth0",
            ],
        );
    });

    it("retries a locked CT and a 596 on reads, and reports a failed create task with PVE's text", async () => {
        sim.faults.failNext({
            method: "GET",
            path: "^/nodes/pve/lxc/160/status/current$",
            count: 1,
            status: 596,
            message: "Connection timed out",
        });
        const c = await lxc.checkAndCreate(inputs({ vmid: 160, hostname: "flaky" }));
        assert.equal(c.outs.status, "running");
        await lxc.delete(c.id, c.outs);

        sim.faults.failNextTask({ type: "vzcreate", count: 1, exitstatus: "unable to create CT 161 - storage full" });
        await assert.rejects(lxc.checkAndCreate(inputs({ vmid: 161, hostname: "full" })), /storage full/);
    });

    it("records a CT whose create task outlived pveTaskTimeoutSeconds; the next update waits for it and finishes", async () => {
        await configureFor(sim, [], { pveTaskTimeoutSeconds: "1" });
        let partial: Props | undefined;
        const checked = await lxc.check({}, inputs({ vmid: 170, hostname: "slow" }));
        try {
            sim.faults.slowTasks({ type: "vzcreate", durationMs: 3000, count: 1 });
            await assert.rejects(lxc.create(checked.inputs), (err: Error & { id?: string; properties?: Props }) => {
                assert.equal(err.id, "170");
                partial = err.properties;
                assert.match(
                    err.message,
                    /^CT 170: the create task did not finish within 1 s and may still be running on node 'pve' \(UPID:pve:[^)]+:vzcreate:170:[^)]+\)\. The container is recorded in the stack; the next up waits for the task and finishes it\. Raise proxmox-homelab:pveTaskTimeoutSeconds if the storage or the template is slow\.$/,
                );
                return true;
            });
            assert.equal(partial?.status, "creating");
            assert.equal((await liveConfig(sim, 170)).lock, "create", "the task still runs");
        } finally {
            await configureFor(sim);
        }
        // The user runs up again (default timeouts): update waits for the create lock, converges and starts.
        const seq = lastSeq(sim);
        const u = await lxc.update("170", partial!, checked.inputs);
        assert.equal(u.outs.status, "running");
        assert.equal((await liveConfig(sim, 170)).lock, undefined);
        assert.deepEqual(writesSince(sim, seq), ["POST /nodes/pve/lxc/170/status/start"]);
        await lxc.delete("170", u.outs);

        // A recorded CT that never came into being: the error says how to get back on track.
        await assert.rejects(
            lxc.update("170", partial!, checked.inputs),
            (err: Error) =>
                err.message ===
                "CT 170 is in the stack but not on node 'pve' (its create may never have completed): run " +
                    "`pulumi refresh` to forget it, then `pulumi up` to create it again",
        );
    });
});
