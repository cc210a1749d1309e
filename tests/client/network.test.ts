import assert from "node:assert/strict";
import {
    applyNetwork,
    createNetworkIface,
    listPendingChanges,
    networkLockDepth,
    parseInterfacesDiff,
    PveClient,
    withNetworkLock,
} from "../../providers/proxmox";
import { FakeClock, Fixture, ok, reply, startFixture, TEST_TOKEN, testPki } from "./fixture";

const HEADER =
    "--- /etc/network/interfaces\t2025-11-20 10:00:00.000000000 +0100\n+++ /etc/network/interfaces.new\t2025-11-22 09:00:00.000000000 +0100\n";

const ADD_VMBR1 = `${HEADER}@@ -18,3 +18,10 @@
 \tbridge-stp off
 \tbridge-fd 0
 
+auto vmbr1
+iface vmbr1 inet static
+\taddress 10.100.0.1/24
+\tbridge-ports none
+\tbridge-stp off
+\tbridge-fd 0
+
`;

const CHANGE_VMBR0_AND_DROP_VMBR2 = `${HEADER}@@ -12,7 +12,7 @@
 
 auto vmbr0
 iface vmbr0 inet static
-\taddress 192.168.1.10/24
+\taddress 192.168.1.11/24
 \tgateway 192.168.1.1
 \tbridge-ports eno1
 \tbridge-stp off
@@ -20,10 +20,3 @@
 \tbridge-fd 0
 
-auto vmbr2
-iface vmbr2 inet manual
-\tbridge-ports none
-\tbridge-stp off
-\tbridge-fd 0
-
 source /etc/network/interfaces.d/*
`;

const DEEP_IN_A_STANZA = `${HEADER}@@ -30,6 +30,7 @@
 \tbridge-fd 0
 \tbridge-vlan-aware yes
 \tbridge-vids 2-4094
+\tmtu 9000
 
 source /etc/network/interfaces.d/*
`;

describe("node network", () => {
    describe("parseInterfacesDiff", () => {
        it("ties an added stanza to its interface", () => {
            assert.deepEqual(parseInterfacesDiff(ADD_VMBR1), { changedIfaces: ["vmbr1"], unattributed: false });
        });

        it("ties changed and removed lines to their stanzas across hunks", () => {
            assert.deepEqual(parseInterfacesDiff(CHANGE_VMBR0_AND_DROP_VMBR2), {
                changedIfaces: ["vmbr0", "vmbr2"],
                unattributed: false,
            });
        });

        it("flags a change whose stanza header is outside the hunk", () => {
            assert.deepEqual(parseInterfacesDiff(DEEP_IN_A_STANZA), { changedIfaces: [], unattributed: true });
        });
    });

    describe("against a node", () => {
        let fixture: Fixture;
        let client: PveClient;
        beforeEach(async () => {
            fixture = await startFixture((_req, res) => ok(res, null));
            client = new PveClient(
                {
                    endpoint: fixture.url,
                    username: "root@pam",
                    token: TEST_TOKEN,
                    tls: { ca: testPki().caPem, insecure: false },
                },
                { clock: new FakeClock() },
            );
        });
        afterEach(async () => {
            client.close();
            await fixture.close();
        });

        it("listPendingChanges reads the `changes` diff PVE puts next to `data`", async () => {
            const staged = [
                {
                    iface: "vmbr0",
                    type: "bridge",
                    active: 1,
                    autostart: 1,
                    bridge_ports: "eno1",
                    cidr: "192.168.1.10/24",
                    method: "static",
                    families: ["inet"],
                },
                {
                    iface: "vmbr1",
                    type: "bridge",
                    autostart: 1,
                    bridge_ports: "none",
                    cidr: "10.100.0.1/24",
                    mtu: "1500",
                },
            ];
            fixture.handler = (_req, res) => ok(res, staged, { changes: ADD_VMBR1 });
            const pending = await listPendingChanges(client, "pve");
            assert.equal(pending.pending, true);
            assert.equal(pending.diff, ADD_VMBR1);
            assert.deepEqual(pending.changedIfaces, ["vmbr1"]);
            assert.equal(pending.unattributed, false);
            assert.equal(pending.ifaces[0].active, true);
            assert.equal(pending.ifaces[1].active, undefined);
            assert.equal(pending.ifaces[1].mtu, 1500);
            assert.equal(fixture.requests[0].path, "/api2/json/nodes/pve/network");

            fixture.handler = (_req, res) => ok(res, staged);
            assert.deepEqual(await listPendingChanges(client, "pve"), {
                pending: false,
                diff: undefined,
                changedIfaces: [],
                unattributed: false,
                ifaces: (await listPendingChanges(client, "pve")).ifaces,
            });
        });

        it("createNetworkIface settles a lost answer by checking the interface exists (sent once)", async () => {
            let created = false;
            fixture.handler = (req, res) => {
                if (req.method === "POST") {
                    created = true;
                    res.socket?.destroy();
                } else if (req.path === "/api2/json/nodes/pve/network/vmbr1") {
                    if (created) ok(res, { type: "bridge", method: "static" });
                    else
                        reply(
                            res,
                            400,
                            { data: null, errors: { iface: "interface does not exist" } },
                            "Parameter verification failed.",
                        );
                }
            };
            await createNetworkIface(client, "pve", "vmbr1", {
                type: "bridge",
                cidr: "10.100.0.1/24",
                autostart: true,
            });
            const posts = fixture.requests.filter((r) => r.method === "POST");
            assert.equal(posts.length, 1);
            assert.deepEqual(Object.fromEntries(posts[0].form), {
                iface: "vmbr1",
                type: "bridge",
                cidr: "10.100.0.1/24",
                autostart: "1",
            });
        });

        it("applyNetwork is a PUT that is not blindly repeated: a lost answer is settled by the srvreload task", async () => {
            const upid = "UPID:pve:00001234:00012345:6553F1A0:srvreload:networking:root@pam!ci:";
            fixture.handler = (req, res) => {
                if (req.method === "PUT") res.socket?.destroy();
                else if (req.path === "/api2/json/nodes/pve/tasks")
                    ok(res, [{ upid, type: "srvreload", id: "networking", starttime: 0x6553f1a0 }]);
            };
            assert.equal(await applyNetwork(client, "pve"), upid);
            assert.equal(fixture.requests.filter((r) => r.method === "PUT").length, 1);
            const lookup = fixture.requests.find((r) => r.path === "/api2/json/nodes/pve/tasks")!;
            assert.equal(lookup.query.get("typefilter"), "srvreload");
            assert.equal(lookup.query.get("userfilter"), "root@pam");
            assert.equal(lookup.query.get("source"), "all");
        });
    });

    describe("withNetworkLock", () => {
        const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

        it("runs one change per node at a time, in order, and keeps going after a failure", async () => {
            const log: string[] = [];
            let active = 0;
            let maxActive = 0;
            const job =
                (name: string, fail = false) =>
                async () => {
                    active++;
                    maxActive = Math.max(maxActive, active);
                    log.push(`start ${name}`);
                    await tick();
                    log.push(`end ${name}`);
                    active--;
                    if (fail) throw new Error(`${name} failed`);
                    return name;
                };
            const results = await Promise.allSettled([
                withNetworkLock("pve", job("a")),
                withNetworkLock("pve", job("b", true)),
                withNetworkLock("pve", job("c")),
            ]);
            assert.deepEqual(
                results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message)),
                ["a", "b failed", "c"],
            );
            assert.equal(maxActive, 1);
            assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
            await tick();
            assert.equal(networkLockDepth(), 0, "idle nodes are forgotten");
        });

        it("lets different nodes proceed in parallel", async () => {
            let active = 0;
            let maxActive = 0;
            const job = async () => {
                active++;
                maxActive = Math.max(maxActive, active);
                await tick();
                active--;
            };
            await Promise.all([withNetworkLock("pve1", job), withNetworkLock("pve2", job)]);
            assert.equal(maxActive, 2);
        });
    });
});
