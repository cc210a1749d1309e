import assert from "node:assert/strict";
import { api, startTestSim, UPID_RE, waitTask, type TestSim } from "./helpers";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

const VMBR0 = {
    iface: "vmbr0",
    type: "bridge",
    method: "static",
    method6: "manual",
    families: ["inet"],
    autostart: 1,
    active: 1,
    priority: 2,
    bridge_ports: "eno1",
    bridge_stp: "off",
    bridge_fd: "0",
    address: "192.168.1.10",
    netmask: "24",
    cidr: "192.168.1.10/24",
    gateway: "192.168.1.1",
};

describe("pve-sim: node network (staged, applied, reverted)", () => {
    let sim: TestSim;

    before(async () => {
        sim = await startTestSim();
    });

    after(async () => {
        await sim.stop();
    });

    it("lists the seeded interfaces, filtered by type", async () => {
        const bridges = await api(sim, "GET", "/nodes/pve/network", { query: { type: "bridge" } });
        assert.deepEqual(bridges.json, { data: [VMBR0] });
        const all = await api(sim, "GET", "/nodes/pve/network");
        assert.deepEqual(
            (all.data as { iface: string; type: string }[]).map((i) => [i.iface, i.type]),
            [
                ["eno1", "eth"],
                ["vmbr0", "bridge"],
            ],
        );
        const { iface: _iface, ...single } = VMBR0;
        assert.deepEqual((await api(sim, "GET", "/nodes/pve/network/vmbr0")).data, single);
    });

    it("stages a new bridge: visible at once, with a diff, but not active", async () => {
        const create = await api(sim, "POST", "/nodes/pve/network", {
            form: { iface: "vmbr1", type: "bridge", cidr: "10.100.0.1/24", autostart: 1, comments: "lab" },
        });
        assert.deepEqual(create.json, { data: null });
        const list = await api(sim, "GET", "/nodes/pve/network", { query: { type: "bridge" } });
        const vmbr1 = (list.data as Record<string, unknown>[]).find((i) => i.iface === "vmbr1");
        assert.deepEqual(vmbr1, {
            iface: "vmbr1",
            type: "bridge",
            address: "10.100.0.1",
            netmask: "24",
            cidr: "10.100.0.1/24",
            families: ["inet"],
            method: "static",
            method6: "manual",
            autostart: 1,
            comments: "lab",
            bridge_stp: "off",
            bridge_fd: "0",
            priority: 3,
        });
        const changes = String((list.json as { changes: string }).changes);
        assert.match(changes, /^--- \/etc\/network\/interfaces\n\+\+\+ \/etc\/network\/interfaces\.new\n@@ /);
        assert.match(changes, /\n\+auto vmbr1\n\+iface vmbr1 inet static\n\+\taddress 10\.100\.0\.1\/24\n/);
        assert.equal(sim.fake.callsOf("applyBridges").length, 1);
    });

    it("refuses duplicates, unknown interfaces and conflicting addresses", async () => {
        const duplicate = await api(sim, "POST", "/nodes/pve/network", { form: { iface: "vmbr1", type: "bridge" } });
        assert.equal(duplicate.status, 400);
        assert.deepEqual((duplicate.json as { errors: unknown }).errors, { iface: "interface already exists" });
        const missing = await api(sim, "PUT", "/nodes/pve/network/vmbr9", { form: { type: "bridge" } });
        assert.deepEqual((missing.json as { errors: unknown }).errors, { iface: "interface does not exist" });
        const missingDelete = await api(sim, "DELETE", "/nodes/pve/network/vmbr9");
        assert.deepEqual((missingDelete.json as { errors: unknown }).errors, { iface: "interface does not exist" });
        const conflict = await api(sim, "POST", "/nodes/pve/network", {
            form: {
                iface: "vmbr2",
                type: "bridge",
                cidr: "10.2.0.1/24",
                address: "10.2.0.1",
                netmask: "255.255.255.0",
            },
        });
        assert.deepEqual((conflict.json as { errors: unknown }).errors, { address: "address conflicts with cidr" });
        const gateway = await api(sim, "POST", "/nodes/pve/network", {
            form: { iface: "vmbr2", type: "bridge", cidr: "10.2.0.1/24", gateway: "10.2.0.254" },
        });
        assert.deepEqual((gateway.json as { errors: unknown }).errors, {
            gateway: "Default gateway already exists on interface 'vmbr0'.",
        });
    });

    it("does not let a CT start on a bridge that is only staged", async () => {
        const create = await api(sim, "POST", "/nodes/pve/lxc", {
            form: {
                vmid: 100,
                ostemplate: TEMPLATE,
                rootfs: "local-zfs:4",
                net0: "name=eth0,bridge=vmbr1,ip=10.100.0.10/24,gw=10.100.0.1",
            },
        });
        await waitTask(sim, create.data);
        const start = await api(sim, "POST", "/nodes/pve/lxc/100/status/start");
        assert.equal((await waitTask(sim, start.data)).exitstatus, "startup for container '100' failed");
    });

    it("reverts every staged change with DELETE /network", async () => {
        assert.deepEqual((await api(sim, "DELETE", "/nodes/pve/network")).json, { data: null });
        const list = await api(sim, "GET", "/nodes/pve/network", { query: { type: "bridge" } });
        assert.deepEqual(list.json, { data: [VMBR0] });
    });

    it("applies ALL staged changes with PUT /network as a srvreload task", async () => {
        await api(sim, "POST", "/nodes/pve/network", {
            form: { iface: "vmbr1", type: "bridge", cidr: "10.100.0.1/24", autostart: 1 },
        });
        await api(sim, "POST", "/nodes/pve/network", {
            form: { iface: "vmbr2", type: "bridge", bridge_vlan_aware: 1, mtu: 9000 },
        });
        const update = await api(sim, "PUT", "/nodes/pve/network/vmbr0", {
            form: {
                type: "bridge",
                cidr: "192.168.1.10/24",
                gateway: "192.168.1.1",
                bridge_ports: "eno1",
                comments: "mgmt",
            },
        });
        assert.equal(update.status, 200);
        const apply = await api(sim, "PUT", "/nodes/pve/network");
        assert.deepEqual(UPID_RE.exec(String(apply.data))?.slice(1), ["srvreload", "networking", "root@pam!sim"]);
        assert.equal((await waitTask(sim, apply.data)).exitstatus, "OK");
        const list = await api(sim, "GET", "/nodes/pve/network", { query: { type: "any_bridge" } });
        assert.equal((list.json as { changes?: string }).changes, undefined);
        const bridges = list.data as Record<string, unknown>[];
        assert.deepEqual(
            bridges.map((b) => [b.iface, b.active, b.cidr, b.comments]),
            [
                ["vmbr0", 1, "192.168.1.10/24", "mgmt"],
                ["vmbr1", 1, "10.100.0.1/24", undefined],
                ["vmbr2", 1, undefined, undefined],
            ],
        );
        assert.equal(bridges[2].bridge_vids, "2-4094");
        assert.deepEqual(sim.fake.callsOf("applyBridges").at(-1)?.args, [
            { name: "vmbr0", cidr: "192.168.1.10/24" },
            { name: "vmbr1", cidr: "10.100.0.1/24" },
            { name: "vmbr2", mtu: 9000, vlanAware: true },
        ]);
        const start = await api(sim, "POST", "/nodes/pve/lxc/100/status/start");
        assert.equal((await waitTask(sim, start.data)).exitstatus, "OK");
    });

    it("drops the IPv4 address of an interface updated without one, as PVE does", async () => {
        await api(sim, "PUT", "/nodes/pve/network/vmbr1", { form: { type: "bridge", comments: "only a comment" } });
        const vmbr1 = (await api(sim, "GET", "/nodes/pve/network/vmbr1")).data as Record<string, unknown>;
        assert.equal(vmbr1.cidr, undefined);
        assert.equal(vmbr1.method, "manual");
        await api(sim, "DELETE", "/nodes/pve/network");
        const deleted = await api(sim, "DELETE", "/nodes/pve/network/vmbr2");
        assert.equal(deleted.status, 200);
        const list = (await api(sim, "GET", "/nodes/pve/network")).data as { iface: string }[];
        assert.deepEqual(
            list.map((i) => i.iface),
            ["eno1", "vmbr0", "vmbr1"],
        );
    });
});
