import assert from "node:assert/strict";
import { api, HWADDR, startTestSim, UPID_RE, waitTask, type TestSim } from "./helpers";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

describe("pve-sim: LXC lifecycle, tasks, locks and pending changes", () => {
    let sim: TestSim;

    before(async () => {
        sim = await startTestSim({ taskDurationMs: { min: 20, max: 30 } });
    });

    after(async () => {
        await sim.stop();
    });

    it("hands out the lowest free vmid without reserving it", async () => {
        assert.deepEqual((await api(sim, "GET", "/cluster/nextid")).json, { data: "100" });
        assert.deepEqual((await api(sim, "GET", "/cluster/nextid")).json, { data: "100" });
    });

    it("creates a CT in a vzcreate task that holds the `create` lock", async () => {
        // Long enough for the requests below even on a loaded machine.
        sim.faults.slowTasks({ type: "vzcreate", durationMs: 1500, count: 1 });
        const reply = await api(sim, "POST", "/nodes/pve/lxc", {
            form: {
                vmid: 100,
                ostemplate: TEMPLATE,
                hostname: "web",
                rootfs: "local-zfs:8",
                cores: 2,
                memory: 1024,
                net0: "bridge=vmbr0,name=eth0,ip=dhcp,firewall=yes",
                features: "nesting=1",
                tags: "Web;db,web",
                onboot: 1,
                password: "secret-root-pw",
            },
        });
        assert.equal(reply.status, 200);
        const upid = String(reply.data);
        const match = UPID_RE.exec(upid);
        assert.deepEqual(match?.slice(1), ["vzcreate", "100", "root@pam!sim"]);

        const during = await api(sim, "GET", "/nodes/pve/lxc/100/config");
        assert.deepEqual(Object.keys(during.data as object).sort(), ["digest", "lock"]);
        assert.equal((during.data as { lock: string }).lock, "create");
        const locked = await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { memory: 2048 } });
        assert.equal(locked.status, 500);
        assert.equal(locked.reason, "CT is locked (create)");
        assert.deepEqual(locked.json, { data: null, message: "CT is locked (create)\n" });
        const duplicate = await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 100, ostemplate: TEMPLATE, rootfs: "local-zfs:4" },
        });
        assert.equal(duplicate.status, 500);
        assert.equal(duplicate.reason, "CT 100 already exists on node 'pve'");
        assert.equal((await api(sim, "GET", "/cluster/nextid")).data, "101");

        const running = await api(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(upid)}/status`);
        assert.equal((running.data as { status: string }).status, "running");
        assert.equal((running.data as { exitstatus?: string }).exitstatus, undefined);

        const status = await waitTask(sim, upid);
        const decoded = UPID_RE.exec(upid);
        assert.ok(decoded);
        assert.deepEqual(
            { ...status, pid: 0, pstart: 0, starttime: 0 },
            {
                upid,
                node: "pve",
                pid: 0,
                pstart: 0,
                starttime: 0,
                type: "vzcreate",
                id: "100",
                user: "root@pam!sim",
                status: "stopped",
                exitstatus: "OK",
            },
        );
        assert.equal(status.pid, parseInt(upid.split(":")[2], 16));
        assert.equal(status.starttime, parseInt(upid.split(":")[4], 16));
    });

    it("stores the config as PVE normalises it", async () => {
        const reply = await api(sim, "GET", "/nodes/pve/lxc/100/config");
        const data = reply.data as Record<string, unknown>;
        const hwaddr = /hwaddr=([^,]+)/.exec(String(data.net0))?.[1] ?? "";
        assert.match(hwaddr, HWADDR);
        assert.match(String(data.digest), /^[0-9a-f]{40}$/);
        assert.deepEqual(
            { ...data, digest: "-" },
            {
                arch: "amd64",
                cores: 2,
                digest: "-",
                features: "nesting=1",
                hostname: "web",
                memory: 1024,
                net0: `name=eth0,bridge=vmbr0,firewall=1,hwaddr=${hwaddr},ip=dhcp,type=veth`,
                onboot: 1,
                ostype: "debian",
                rootfs: "local-zfs:subvol-100-disk-0,size=8G",
                swap: 512,
                tags: "db;web",
                unprivileged: 1,
            },
        );
        const create = sim.fake.callsOf("create")[0];
        assert.deepEqual(create.args, {
            vmid: 100,
            hostname: "web",
            ostemplate: TEMPLATE,
            ostype: "debian",
            unprivileged: true,
            nics: [{ name: "eth0", bridge: "vmbr0", hwaddr, ip: "dhcp" }],
        });
        const volumes = await api(sim, "GET", "/nodes/pve/storage/local-zfs/content");
        assert.deepEqual(
            (volumes.data as Record<string, unknown>[]).map((v) => ({ ...v, ctime: 0 })),
            [
                {
                    volid: "local-zfs:subvol-100-disk-0",
                    content: "rootdir",
                    format: "subvol",
                    size: 8 * 1024 ** 3,
                    ctime: 0,
                    vmid: 100,
                },
            ],
        );
    });

    it("logs the task and pages the log", async () => {
        const upid = sim.state.tasks.list().find((t) => t.type === "vzcreate")?.upid ?? "";
        const all = await api(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(upid)}/log`);
        const lines = all.data as { n: number; t: string }[];
        assert.deepEqual(lines[0], {
            n: 1,
            t: "extracting archive '/var/lib/vz/template/cache/debian-13-standard_13.1-2_amd64.tar.zst'",
        });
        assert.deepEqual(lines.at(-1), { n: lines.length, t: "TASK OK" });
        assert.equal((all.json as { total: number }).total, lines.length);
        const page = await api(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(upid)}/log`, {
            query: { start: 1, limit: 2 },
        });
        assert.deepEqual(page.data, [
            { n: 2, t: lines[1].t },
            { n: 3, t: "Detected container architecture: amd64" },
        ]);
        const bogus = await api(sim, "GET", "/nodes/pve/tasks/UPID:nonsense/status");
        assert.deepEqual((bogus.json as { errors: unknown }).errors, { upid: "unable to parse worker upid" });
    });

    it("starts and stops through tasks, with PVE's state errors", async () => {
        const start = await api(sim, "POST", "/nodes/pve/lxc/100/status/start");
        assert.deepEqual(UPID_RE.exec(String(start.data))?.slice(1), ["vzstart", "100", "root@pam!sim"]);
        assert.equal((await waitTask(sim, start.data)).exitstatus, "OK");
        const again = await api(sim, "POST", "/nodes/pve/lxc/100/status/start");
        assert.equal(again.status, 500);
        assert.equal(again.reason, "CT 100 already running");
        const current = (await api(sim, "GET", "/nodes/pve/lxc/100/status/current")).data as Record<string, unknown>;
        assert.equal(current.status, "running");
        assert.equal(current.name, "web");
        assert.equal(current.maxmem, 1024 * 1024 * 1024);
        assert.equal(current.vmid, 100);
        assert.deepEqual(current.ha, { managed: 0 });
        const list = (await api(sim, "GET", "/nodes/pve/lxc")).data as Record<string, unknown>[];
        assert.deepEqual(
            list.map((ct) => [ct.vmid, ct.status, ct.tags]),
            [[100, "running", "db;web"]],
        );
        const destroy = await api(sim, "DELETE", "/nodes/pve/lxc/100");
        assert.equal(destroy.status, 500);
        assert.equal(destroy.reason, "unable to destroy CT 100 - container is running");
    });

    it("reports live interfaces; DHCP addresses appear after a delay", async () => {
        sim.fake.dhcpDelayMs = 60_000;
        const before = (await api(sim, "GET", "/nodes/pve/lxc/100/interfaces")).data as Record<string, unknown>[];
        assert.deepEqual(
            before.map((i) => [i.name, i.inet]),
            [
                ["lo", "127.0.0.1/8"],
                ["eth0", undefined],
            ],
        );
        sim.fake.dhcpDelayMs = 0;
        const after = (await api(sim, "GET", "/nodes/pve/lxc/100/interfaces")).data as Record<string, unknown>[];
        const eth0 = after[1];
        assert.equal(eth0.name, "eth0");
        assert.equal(eth0.inet, "192.168.1.100/24");
        assert.deepEqual(eth0["ip-addresses"], [
            { "ip-address": "192.168.1.100", "ip-address-type": "inet", prefix: 24 },
        ]);
        assert.equal(eth0.hwaddr, eth0["hardware-address"]);
    });

    it("applies live keys at once on a running CT and keeps the rest pending", async () => {
        const digest = ((await api(sim, "GET", "/nodes/pve/lxc/100/config")).data as { digest: string }).digest;
        const stale = await api(sim, "PUT", "/nodes/pve/lxc/100/config", {
            form: { memory: 2048, digest: "0".repeat(40) },
        });
        assert.equal(stale.reason, "detected modified configuration - file changed by other user? Try again.");
        const update = await api(sim, "PUT", "/nodes/pve/lxc/100/config", {
            form: { memory: 2048, hostname: "web2", nameserver: "1.1.1.1", searchdomain: "lan", tags: "B;a", digest },
        });
        assert.equal(update.status, 200);
        assert.deepEqual(update.json, { data: null });
        const removal = await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { delete: "onboot,features" } });
        assert.equal(removal.status, 200);

        const merged = (await api(sim, "GET", "/nodes/pve/lxc/100/config")).data as Record<string, unknown>;
        assert.equal(merged.memory, 2048);
        assert.equal(merged.hostname, "web2");
        assert.equal(merged.nameserver, "1.1.1.1");
        assert.equal(merged.tags, "a;b");
        assert.equal(merged.onboot, undefined);
        assert.equal(merged.features, undefined);
        const current = (await api(sim, "GET", "/nodes/pve/lxc/100/config", { query: { current: 1 } })).data as Record<
            string,
            unknown
        >;
        assert.equal(current.nameserver, undefined);
        assert.equal(current.searchdomain, undefined);
        assert.equal(current.features, "nesting=1");
        assert.equal(current.onboot, undefined);
        assert.equal(current.memory, 2048);

        const pending = (await api(sim, "GET", "/nodes/pve/lxc/100/pending")).data as Record<string, unknown>[];
        const interesting = pending.filter((item) => item.pending !== undefined || item.delete !== undefined);
        assert.deepEqual(interesting, [
            { key: "features", value: "nesting=1", delete: 1 },
            { key: "nameserver", pending: "1.1.1.1" },
            { key: "searchdomain", pending: "lan" },
        ]);
        assert.deepEqual(
            pending.find((item) => item.key === "memory"),
            { key: "memory", value: 2048 },
        );

        const revert = await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { revert: "searchdomain" } });
        assert.equal(revert.status, 200);
        const badDelete = await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { delete: "colour" } });
        assert.deepEqual((badDelete.json as { errors: unknown }).errors, { delete: "unknown option 'colour'" });
        const nothing = await api(sim, "PUT", "/nodes/pve/lxc/100/config");
        assert.equal(nothing.reason, "no options specified");
        const required = await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { delete: "memory" } });
        assert.equal(required.reason, "unable to delete required option 'memory'");
    });

    it("hot-plugs NICs on a running CT and applies pending keys at reboot", async () => {
        const before = sim.fake.callsOf("updateNics").length;
        const add = await api(sim, "PUT", "/nodes/pve/lxc/100/config", {
            form: { net1: "name=eth1,bridge=vmbr0,ip=10.9.0.5/24" },
        });
        assert.equal(add.status, 200);
        const nics = sim.fake.callsOf("updateNics").slice(before);
        assert.equal(nics.length, 1);
        assert.deepEqual(
            (nics[0].args as { name: string; ip?: string }[]).map((n) => [n.name, n.ip]),
            [
                ["eth0", "dhcp"],
                ["eth1", "10.9.0.5/24"],
            ],
        );
        const reboot = await api(sim, "POST", "/nodes/pve/lxc/100/status/reboot");
        assert.deepEqual(UPID_RE.exec(String(reboot.data))?.slice(1), ["vzreboot", "100", "root@pam!sim"]);
        assert.equal((await waitTask(sim, reboot.data)).exitstatus, "OK");
        const pending = (await api(sim, "GET", "/nodes/pve/lxc/100/pending")).data as Record<string, unknown>[];
        assert.deepEqual(
            pending.filter((item) => item.pending !== undefined || item.delete !== undefined),
            [],
        );
        const config = (await api(sim, "GET", "/nodes/pve/lxc/100/config", { query: { current: 1 } })).data as Record<
            string,
            unknown
        >;
        assert.equal(config.nameserver, "1.1.1.1");
        assert.equal(config.features, undefined);
        assert.match(
            String(config.net1),
            /^name=eth1,bridge=vmbr0,hwaddr=BC:24:11:[0-9A-F:]{8},ip=10\.9\.0\.5\/24,type=veth$/,
        );
    });

    it("resizes the rootfs upwards and refuses to shrink it", async () => {
        const grow = await api(sim, "PUT", "/nodes/pve/lxc/100/resize", { form: { disk: "rootfs", size: "+2G" } });
        assert.deepEqual(UPID_RE.exec(String(grow.data))?.slice(1), ["resize", "100", "root@pam!sim"]);
        await waitTask(sim, grow.data);
        const absolute = await api(sim, "PUT", "/nodes/pve/lxc/100/resize", { form: { disk: "rootfs", size: "12G" } });
        await waitTask(sim, absolute.data);
        const config = (await api(sim, "GET", "/nodes/pve/lxc/100/config")).data as Record<string, unknown>;
        assert.equal(config.rootfs, "local-zfs:subvol-100-disk-0,size=12G");
        const shrink = await api(sim, "PUT", "/nodes/pve/lxc/100/resize", { form: { disk: "rootfs", size: "4G" } });
        assert.equal(shrink.status, 500);
        assert.equal(shrink.reason, "unable to shrink disk size");
    });

    it("times out on the config lock while a slow task holds it", async () => {
        sim.state.lockTimeoutMs = 100;
        try {
            sim.faults.slowTasks({ type: "vzstop", durationMs: 1500, count: 1 });
            const stop = await api(sim, "POST", "/nodes/pve/lxc/100/status/stop");
            assert.equal(stop.status, 200);
            const change = await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { description: "busy" } });
            assert.equal(change.status, 500);
            assert.equal(change.reason, "can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout");
            assert.equal((await waitTask(sim, stop.data)).exitstatus, "OK");
            const later = await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { description: "free" } });
            assert.equal(later.status, 200);
        } finally {
            sim.state.lockTimeoutMs = 10_000;
        }
        const notRunning = await api(sim, "POST", "/nodes/pve/lxc/100/status/shutdown");
        assert.equal(notRunning.reason, "CT 100 not running");
        const notRunningReboot = await api(sim, "POST", "/nodes/pve/lxc/100/status/reboot");
        assert.equal(notRunningReboot.reason, "VM 100 not running");
    });

    it("fails a start whose bridge does not exist on the node", async () => {
        await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { net2: "name=eth2,bridge=vmbr9,ip=manual" } });
        const start = await api(sim, "POST", "/nodes/pve/lxc/100/status/start");
        const status = await waitTask(sim, start.data);
        assert.equal(status.exitstatus, "startup for container '100' failed");
        const log = (await api(sim, "GET", `/nodes/pve/tasks/${encodeURIComponent(String(start.data))}/log`)).data;
        assert.deepEqual(log, [
            { n: 1, t: "bridge 'vmbr9' does not exist" },
            { n: 2, t: "TASK ERROR: startup for container '100' failed" },
        ]);
        await api(sim, "PUT", "/nodes/pve/lxc/100/config", { form: { delete: "net2" } });
    });

    it("destroys a CT with purge, and then it is gone", async () => {
        await sim.api("PUT", "/access/acl", { path: "/vms/100", roles: "PVEAuditor", users: "root@pam" });
        const destroy = await api(sim, "DELETE", "/nodes/pve/lxc/100", {
            query: { purge: 1, "destroy-unreferenced-disks": 1 },
        });
        assert.deepEqual(UPID_RE.exec(String(destroy.data))?.slice(1), ["vzdestroy", "100", "root@pam!sim"]);
        assert.equal((await waitTask(sim, destroy.data)).exitstatus, "OK");
        const gone = await api(sim, "GET", "/nodes/pve/lxc/100/config");
        assert.equal(gone.status, 500);
        assert.equal(gone.reason, "Configuration file 'nodes/pve/lxc/100.conf' does not exist");
        assert.deepEqual(
            sim.fake.callsOf("destroy").map((c) => c.vmid),
            [100],
        );
        assert.deepEqual((await api(sim, "GET", "/nodes/pve/storage/local-zfs/content")).data, []);
        assert.deepEqual((await api(sim, "GET", "/access/acl")).data, []);
        assert.equal((await api(sim, "GET", "/cluster/nextid")).data, "100");
    });

    it("ends a task with the injected failure and cleans up a failed create", async () => {
        sim.faults.failNextTask({ type: "vzcreate", exitstatus: "unable to create CT 101 - no space left on device" });
        const create = await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 101, ostemplate: TEMPLATE, rootfs: "local-zfs:4" },
        });
        const status = await waitTask(sim, create.data);
        assert.equal(status.exitstatus, "unable to create CT 101 - no space left on device");
        assert.equal((await api(sim, "GET", "/nodes/pve/lxc/101/config")).status, 500);
        sim.fake.failNext.set("create", "unable to extract template");
        const second = await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 101, ostemplate: TEMPLATE, rootfs: "local-zfs:4" },
        });
        assert.equal((await waitTask(sim, second.data)).exitstatus, "unable to extract template");
        assert.equal(sim.state.containers.has(101), false);
        const missing = await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 101, ostemplate: "local:vztmpl/nope.tar.zst", rootfs: "local-zfs:4" },
        });
        assert.equal(missing.reason, "can't find file 'local:vztmpl/nope.tar.zst'");
        const badStorage = await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 101, ostemplate: TEMPLATE, rootfs: "local:4" },
        });
        assert.deepEqual((badStorage.json as { errors: unknown }).errors, {
            storage: "storage 'local' does not support container directories",
        });
    });
    it("lists the template catalogue and downloads a template in a `download` task", async () => {
        const catalogue = (await api(sim, "GET", "/nodes/pve/aplinfo")).data as Record<string, unknown>[];
        assert.deepEqual(
            catalogue.map((t) => t.template),
            [
                "alpine-3.22-default_20250617_amd64.tar.xz",
                "debian-12-standard_12.12-1_amd64.tar.zst",
                "debian-13-standard_13.1-2_amd64.tar.zst",
                "ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
            ],
        );
        const alpine = "alpine-3.22-default_20250617_amd64.tar.xz";
        const unknown = await api(sim, "POST", "/nodes/pve/aplinfo", {
            form: { storage: "local", template: "nope.tar.zst" },
        });
        assert.deepEqual((unknown.json as { errors: unknown }).errors, { template: "no such template" });
        const wrongStorage = await api(sim, "POST", "/nodes/pve/aplinfo", {
            form: { storage: "local-zfs", template: alpine },
        });
        assert.equal(wrongStorage.reason, "storage 'local-zfs' does not support templates");
        const download = await api(sim, "POST", "/nodes/pve/aplinfo", { form: { storage: "local", template: alpine } });
        assert.deepEqual(UPID_RE.exec(String(download.data))?.slice(1), ["download", alpine, "root@pam!sim"]);
        assert.equal((await waitTask(sim, download.data)).exitstatus, "OK");
        const templates = (await api(sim, "GET", "/nodes/pve/storage/local/content", { query: { content: "vztmpl" } }))
            .data as {
            volid: string;
            format: string;
        }[];
        assert.deepEqual(
            templates.map((t) => [t.volid, t.format]),
            [
                [`local:vztmpl/${alpine}`, "txz"],
                ["local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst", "tzst"],
            ],
        );
        const create = await api(sim, "POST", "/nodes/pve/lxc", {
            form: { vmid: 110, ostemplate: `local:vztmpl/${alpine}`, rootfs: "local-zfs:1" },
        });
        assert.equal((await waitTask(sim, create.data)).exitstatus, "OK");
        const config = (await api(sim, "GET", "/nodes/pve/lxc/110/config")).data as Record<string, unknown>;
        assert.equal(config.ostype, "alpine");
        assert.equal(config.hostname, "CT110");
        assert.equal((sim.fake.callsOf("create").at(-1)?.args as { ostype: string }).ostype, "alpine");
        assert.equal((await api(sim, "GET", "/nodes/pve/lxc/110/interfaces")).data, null);
    });
    it("starts a CT created with start=1 in its own vzstart task", async () => {
        const before = sim.state.tasks.list().length;
        const create = await api(sim, "POST", "/nodes/pve/lxc", {
            form: {
                vmid: 120,
                ostemplate: TEMPLATE,
                rootfs: "local-zfs:1",
                start: 1,
                net0: "name=eth0,bridge=vmbr7,ip=dhcp",
            },
        });
        assert.equal((await waitTask(sim, create.data)).exitstatus, "OK");
        const started = sim.state.tasks
            .list()
            .slice(before)
            .find((task) => task.type === "vzstart");
        assert.ok(started, "a vzstart task follows the create");
        await started.done;
        assert.equal(started.exitstatus, "startup for container '120' failed");
        assert.equal((await api(sim, "GET", "/nodes/pve/lxc/120/status/current")).status, 200);
    });
});
