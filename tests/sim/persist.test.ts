import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, startTestSim, waitTask } from "./helpers";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

describe("pve-sim: state kept in stateDir across restarts", () => {
    let stateDir: string;

    before(async () => {
        stateDir = await mkdtemp(join(tmpdir(), "pve-sim-persist-"));
    });

    after(async () => {
        await rm(stateDir, { recursive: true, force: true });
    });

    it("comes back as the same node: containers, network, users, tokens, ACLs, certificate", async () => {
        const first = await startTestSim({ stateDir });
        let tokenValue: string;
        let digest: unknown;
        try {
            await api(first, "POST", "/nodes/pve/network", {
                form: { iface: "vmbr1", type: "bridge", cidr: "10.1.0.1/24" },
            });
            await waitTask(first, (await api(first, "PUT", "/nodes/pve/network")).data);
            const create = await api(first, "POST", "/nodes/pve/lxc", {
                form: {
                    vmid: 100,
                    ostemplate: TEMPLATE,
                    rootfs: "local-zfs:4",
                    net0: "name=eth0,bridge=vmbr1,ip=dhcp",
                    hostname: "kept",
                },
            });
            await waitTask(first, create.data);
            await waitTask(first, (await api(first, "POST", "/nodes/pve/lxc/100/status/start")).data);
            await api(first, "PUT", "/nodes/pve/lxc/100/config", { form: { nameserver: "10.1.0.1" } });
            await api(first, "POST", "/access/roles", { form: { roleid: "Kept", privs: "VM.Audit" } });
            await api(first, "POST", "/access/users", { form: { userid: "kept@pve" } });
            tokenValue = (
                (await api(first, "POST", "/access/users/kept@pve/token/tk", { form: { privsep: 0 } })).data as {
                    value: string;
                }
            ).value;
            await api(first, "PUT", "/access/acl", { form: { path: "/vms/100", roles: "Kept", users: "kept@pve" } });
            digest = ((await api(first, "GET", "/nodes/pve/lxc/100/config")).data as { digest: string }).digest;
        } finally {
            await first.stop();
        }
        assert.equal((await stat(join(stateDir, "pve-state.json"))).mode & 0o777, 0o600);
        assert.equal((await stat(join(stateDir, "pve-ssl.key"))).mode & 0o777, 0o600);

        const second = await startTestSim({ stateDir });
        try {
            assert.equal(second.tlsFingerprint, first.tlsFingerprint);
            assert.equal(second.ssh.hostKeyFingerprint, first.ssh.hostKeyFingerprint);
            const config = (await api(second, "GET", "/nodes/pve/lxc/100/config")).data as Record<string, unknown>;
            assert.equal(config.digest, digest);
            assert.equal(config.hostname, "kept");
            assert.equal(config.nameserver, "10.1.0.1");
            const status = (await api(second, "GET", "/nodes/pve/lxc/100/status/current")).data as Record<
                string,
                unknown
            >;
            assert.equal(status.status, "running");
            assert.deepEqual(
                second.fake.calls.filter((c) => c.method !== "applyBridges").map((c) => [c.method, c.vmid]),
                [
                    ["create", 100],
                    ["updateNics", 100],
                    ["start", 100],
                ],
            );
            const bridges = (await api(second, "GET", "/nodes/pve/network", { query: { type: "bridge" } }))
                .data as Record<string, unknown>[];
            assert.deepEqual(
                bridges.map((b) => [b.iface, b.active]),
                [
                    ["vmbr0", 1],
                    ["vmbr1", 1],
                ],
            );
            assert.equal((await api(second, "GET", "/version", { token: `kept@pve!tk=${tokenValue}` })).status, 200);
            assert.equal(
                (await api(second, "GET", "/nodes/pve/lxc/100/config", { token: `kept@pve!tk=${tokenValue}` })).status,
                200,
            );
            // The simulator's own token and root@pam's password survive too (a stack's recorded provider config, used
            // by `destroy`, must still work after a restart).
            assert.equal(second.apiToken, first.apiToken);
            assert.equal(second.rootPassword, first.rootPassword);
            assert.equal((await api(second, "GET", "/version", { token: first.apiToken })).status, 200);
            assert.equal((await api(second, "GET", "/version")).status, 200);
            assert.deepEqual((await api(second, "GET", "/cluster/nextid")).data, "101");
        } finally {
            await second.stop();
        }
    });
});
