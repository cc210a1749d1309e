import assert from "node:assert/strict";
import { api, startTestSim, type TestSim } from "./helpers";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
const VALID_CREATE = { vmid: 200, ostemplate: TEMPLATE, rootfs: "local-zfs:4", hostname: "ok" };

/** POST /lxc with `extra` merged into a valid request, returning the `errors` map. */
async function createErrors(sim: TestSim, extra: Record<string, string | number>): Promise<unknown> {
    const reply = await api(sim, "POST", "/nodes/pve/lxc", { form: { ...VALID_CREATE, ...extra } });
    assert.equal(reply.status, 400);
    assert.equal(reply.reason, "Parameter verification failed.");
    assert.equal((reply.json as { message: string }).message, "Parameter verification failed.\n");
    return (reply.json as { errors: unknown }).errors;
}

describe("pve-sim: schema-driven parameter verification", () => {
    let sim: TestSim;

    before(async () => {
        sim = await startTestSim();
    });

    after(async () => {
        await sim.stop();
    });

    it("refuses unknown parameters", async () => {
        assert.deepEqual(await createErrors(sim, { colour: "red" }), {
            colour: "property is not defined in schema and the schema does not allow additional properties",
        });
    });

    it("reports missing required parameters", async () => {
        const reply = await api(sim, "POST", "/nodes/pve/lxc", { form: { hostname: "x" } });
        assert.deepEqual((reply.json as { errors: unknown }).errors, {
            ostemplate: "property is missing and it is not optional",
            vmid: "property is missing and it is not optional",
        });
    });

    it("checks vmid: type, then format, then range", async () => {
        assert.deepEqual(await createErrors(sim, { vmid: "abc" }), {
            vmid: "type check ('integer') failed - got 'abc'",
        });
        assert.deepEqual(await createErrors(sim, { vmid: 99 }), {
            vmid: "invalid format - value does not look like a valid VM ID\n",
        });
        assert.deepEqual(await createErrors(sim, { vmid: 1000000000 }), {
            vmid: "invalid format - value does not look like a valid VM ID\n",
        });
    });

    it("validates path parameters too", async () => {
        const reply = await api(sim, "GET", "/nodes/pve/lxc/abc/config");
        assert.equal(reply.status, 400);
        assert.deepEqual((reply.json as { errors: unknown }).errors, {
            vmid: "type check ('integer') failed - got 'abc'",
        });
        const node = await api(sim, "GET", "/nodes/bad_node/network");
        assert.equal(node.status, 500);
        assert.equal(
            node.reason,
            "hostname lookup 'bad_node' failed - failed to get address info for: bad_node: Name or service not known",
        );
    });

    it("refuses a parameter that is already in the URI", async () => {
        const reply = await api(sim, "POST", "/nodes/pve/lxc", { form: { ...VALID_CREATE, node: "pve" } });
        assert.deepEqual((reply.json as { errors: unknown }).errors, {
            node: "duplicate parameter (already defined in URI)",
        });
    });

    it("checks nested property strings (net[n]) key by key", async () => {
        assert.deepEqual(await createErrors(sim, { net0: "name=eth0,bridge=vmbr0,ip=10.0.0.300/24" }), {
            net0: "invalid format - format error\nnet0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n",
        });
        assert.deepEqual(await createErrors(sim, { net0: "bridge=vmbr0,ip=dhcp" }), {
            net0: "invalid format - format error\nnet0.name: property is missing and it is not optional\n",
        });
        assert.deepEqual(await createErrors(sim, { net0: "name=eth0,colour=red" }), {
            net0: "invalid format - invalid key in comma-separated list property: colour\n",
        });
        assert.deepEqual(await createErrors(sim, { net1: "name=eth1,bridge=vmbr0,tag=5000,firewall=maybe" }), {
            net1:
                "invalid format - format error\nnet1.firewall: type check ('boolean') failed - got 'maybe'\n" +
                "net1.tag: value must have a maximum value of 4094\n",
        });
        assert.deepEqual(await createErrors(sim, { net32: "name=eth32" }), {
            net32: "property is not defined in schema and the schema does not allow additional properties",
        });
        assert.deepEqual(await createErrors(sim, { features: "nesting=1,docker=1" }), {
            features: "invalid format - invalid key in comma-separated list property: docker\n",
        });
        assert.deepEqual(await createErrors(sim, { rootfs: "local-zfs:4,size=huge" }), {
            rootfs: "invalid format - format error\nrootfs.size: invalid format - value does not look like a valid disk size: huge\n\n",
        });
    });

    it("accepts only 0 and 1 as form booleans, but JSON true/false", async () => {
        assert.deepEqual(await createErrors(sim, { unprivileged: "true" }), {
            unprivileged: "type check ('boolean') failed - got 'true'",
        });
        const json = await api(sim, "POST", "/nodes/pve/lxc", {
            json: { ...VALID_CREATE, vmid: 201, unprivileged: true, onboot: false },
        });
        assert.equal(json.status, 200);
        const bad = await api(sim, "POST", "/nodes/pve/lxc", { json: { ...VALID_CREATE, vmid: [201] } });
        assert.deepEqual((bad.json as { errors: unknown }).errors, {
            vmid: "type check ('integer') failed - got ARRAY",
        });
    });

    it("checks formats, patterns, enums, lengths and ranges with PVE's texts", async () => {
        assert.deepEqual(await createErrors(sim, { hostname: "bad_name" }), {
            hostname: "invalid format - value does not look like a valid DNS name\n",
        });
        assert.deepEqual(await createErrors(sim, { password: "1234" }), {
            password: "value must be at least 5 characters long",
        });
        assert.deepEqual(await createErrors(sim, { memory: 8 }), { memory: "value must have a minimum value of 16" });
        assert.deepEqual(await createErrors(sim, { ostype: "windows" }), {
            ostype:
                "value 'windows' does not have a value in the enumeration " +
                "'debian, devuan, ubuntu, centos, fedora, opensuse, archlinux, alpine, gentoo, nixos, unmanaged'",
        });
        assert.deepEqual(await createErrors(sim, { description: "x".repeat(8193) }), {
            description: "value may only be 8192 characters long",
        });
        assert.deepEqual(await createErrors(sim, { tags: "ok;not ok!" }), {
            tags: "invalid format - invalid characters in tag\n",
        });
        assert.deepEqual(await createErrors(sim, { nameserver: "1.1.1.1 dns.example" }), {
            nameserver: "invalid format - value does not look like a valid IP address\n",
        });
        assert.deepEqual(await createErrors(sim, { startup: "first" }), {
            startup: "invalid format - unable to parse startup options\n",
        });
        const resources = await api(sim, "GET", "/cluster/resources", { query: { type: "qemu" } });
        assert.deepEqual((resources.json as { errors: unknown }).errors, {
            type: "value 'qemu' does not have a value in the enumeration 'vm, storage, node, sdn'",
        });
        const resize = await api(sim, "PUT", "/nodes/pve/lxc/200/resize", { form: { disk: "rootfs", size: "2GB" } });
        assert.deepEqual((resize.json as { errors: unknown }).errors, {
            size: "value does not match the regex pattern",
        });
    });

    it("checks the network API's ipv4, CIDR, interface names and `requires`", async () => {
        const post = async (form: Record<string, string>): Promise<unknown> =>
            (
                (await api(sim, "POST", "/nodes/pve/network", { form: { type: "bridge", ...form } })).json as {
                    errors: unknown;
                }
            ).errors;
        assert.deepEqual(await post({ iface: "vmbr1", gateway: "10.0.0.256" }), {
            gateway: "invalid format - value does not look like a valid IPv4 address\n",
        });
        assert.deepEqual(await post({ iface: "vmbr1", cidr: "10.0.0.1/33" }), {
            cidr: "invalid format - value does not look like a valid IPv4 CIDR network\n",
        });
        assert.deepEqual(await post({ iface: "1vmbr" }), {
            iface: "invalid format - invalid network interface name '1vmbr'\n",
        });
        assert.deepEqual(await post({ iface: "vmbr1", address: "10.0.0.1" }), {
            netmask: "missing property - 'address' requires this property",
        });
        assert.deepEqual(await post({ iface: "vmbr1", bridge_vids: "1-5000" }), {
            bridge_vids: "invalid format - invalid VLAN tag '1'\n",
        });
    });

    it("on PVE 8, refuses the parameters PVE 9 added", async () => {
        const sim8 = await startTestSim({ pveVersion: 8 });
        try {
            const entry = await api(sim8, "POST", "/nodes/pve/lxc", {
                form: { ...VALID_CREATE, entrypoint: "/bin/sh" },
            });
            assert.deepEqual(entry.json, {
                data: null,
                errors: {
                    entrypoint: "property is not defined in schema and the schema does not allow additional properties",
                },
            });
            const hostManaged = await api(sim8, "POST", "/nodes/pve/lxc", {
                form: { ...VALID_CREATE, net0: "name=eth0,bridge=vmbr0,host-managed=1" },
            });
            assert.deepEqual((hostManaged.json as { errors: unknown }).errors, {
                net0: "invalid format - invalid key in comma-separated list property: host-managed\n",
            });
            const ok9 = await api(sim, "POST", "/nodes/pve/lxc", {
                form: {
                    ...VALID_CREATE,
                    vmid: 202,
                    entrypoint: "/sbin/init",
                    net0: "name=eth0,bridge=vmbr0,host-managed=1",
                },
            });
            assert.equal(ok9.status, 200);
        } finally {
            await sim8.stop();
        }
    });

    it("parses form bodies like pve-http-server (query wins, a raw '=' cuts a value)", async () => {
        const reply = await api(sim, "GET", "/cluster/nextid", { query: { vmid: 300 } });
        assert.equal(reply.data, "300");
        const raw = await api(sim, "POST", "/access/roles", {
            raw: { body: "roleid=Cut&privs=VM.Audit=junk", contentType: "application/x-www-form-urlencoded" },
        });
        assert.equal(raw.status, 200);
        assert.deepEqual((await api(sim, "GET", "/access/roles/Cut")).data, { "VM.Audit": 1 });
        const override = await api(sim, "POST", "/access/roles", {
            form: { roleid: "FromBody" },
            query: { roleid: "FromQuery" },
        });
        assert.equal(override.status, 200);
        assert.equal((await api(sim, "GET", "/access/roles/FromQuery")).status, 200);
        const xml = await api(sim, "POST", "/access/roles", { raw: { body: "<x/>", contentType: "text/xml" } });
        assert.equal(xml.status, 506);
        assert.equal(xml.reason, "upload 'Content-Type 'text/xml' not implemented");
    });
});
