/**
 * The client against the PVE simulator (tests/pve-sim): the same code paths as against a real node, including
 * TLS pinning of the simulator's own certificate, both auth methods, tasks, staged network changes and faults.
 */
import assert from "node:assert/strict";
import {
    applyNetwork,
    createLxc,
    createNetworkIface,
    createRole,
    createToken,
    createUser,
    deleteLxc,
    getLxcConfig,
    getLxcInterfaces,
    getLxcPending,
    getLxcStatus,
    getNetworkIface,
    getVersion,
    isPveNotFound,
    listPendingChanges,
    listStorageContent,
    lxcConfigValue,
    nextId,
    PveApiError,
    PveClient,
    PveClientOptions,
    PveConnectionSettings,
    PveTaskError,
    PveTlsError,
    resolveConnection,
    startLxc,
    stopLxc,
    updateAcl,
    updateLxcConfig,
    waitForTask,
    withNetworkLock,
} from "../../providers/proxmox";
import { Simulator, startSimulator } from "../pve-sim";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

describe("client against the PVE simulator", function () {
    this.timeout(30_000);
    let sim: Simulator;
    const clients: PveClient[] = [];

    function settingsFor(env: Record<string, string>): PveConnectionSettings {
        return resolveConnection({ get: () => undefined }, { PVE_ENDPOINT: sim.url, ...env });
    }
    function client(env: Record<string, string>, opts: PveClientOptions = {}): PveClient {
        const c = new PveClient(settingsFor(env), { random: () => 0, ...opts });
        clients.push(c);
        return c;
    }
    const tokenClient = () => client({ PVE_API_TOKEN: sim.apiToken, PVE_TLS_FINGERPRINT: sim.tlsFingerprint });
    const rootClient = () => client({ PVE_PASSWORD: sim.rootPassword, PVE_TLS_FINGERPRINT: sim.tlsFingerprint });

    before(async () => {
        sim = await startSimulator();
    });
    after(async () => {
        clients.forEach((c) => c.close());
        await sim?.stop();
    });
    afterEach(() => sim.faults.clear());

    it("pins the simulator's certificate and trusts it as a CA; refuses a wrong pin", async () => {
        assert.equal((await getVersion(tokenClient())).major, 9);
        const viaCa = client({ PVE_API_TOKEN: sim.apiToken, PVE_CA_CERT: sim.caPem });
        assert.equal((await getVersion(viaCa)).release, "9.1");
        const wrong = client({ PVE_API_TOKEN: sim.apiToken, PVE_TLS_FINGERPRINT: "00".repeat(32) });
        await assert.rejects(
            getVersion(wrong),
            (err: unknown) => err instanceof PveTlsError && err.seenFingerprint === sim.tlsFingerprint,
        );
    });

    it("identities: the token is never root, the root@pam ticket is", async () => {
        const token = tokenClient();
        await getVersion(token);
        assert.equal(token.identity, "root@pam!sim");
        assert.equal(token.isRoot, false);
        const root = rootClient();
        await getVersion(root);
        assert.equal(root.identity, "root@pam");
        assert.equal(root.isRoot, true);
    });

    it("runs an LXC through create, start, live and pending config, stop and delete", async () => {
        const c = tokenClient();
        const node = sim.node;
        const vmid = await nextId(c);
        const templates = await listStorageContent(c, node, "local", { content: "vztmpl" });
        assert.ok(templates.some((t) => t.volid === TEMPLATE));
        const created = await createLxc(c, node, {
            vmid,
            ostemplate: TEMPLATE,
            hostname: "client-test",
            cores: 1,
            memory: 512,
            rootfs: "local-zfs:8",
            net0: "name=eth0,bridge=vmbr0,ip=dhcp",
            unprivileged: true,
        });
        assert.equal((await waitForTask(c, node, created, { timeoutMs: 20_000 })).exitStatus, "OK");
        const config = await getLxcConfig(c, node, vmid);
        assert.match(
            lxcConfigValue(config, "net0") ?? "",
            /^name=eth0,bridge=vmbr0,hwaddr=BC:24:11:[0-9A-F:]{8},ip=dhcp,type=veth$/,
        );
        assert.equal(typeof config.digest, "string");

        await waitForTask(c, node, await startLxc(c, node, vmid), { timeoutMs: 20_000 });
        assert.equal((await getLxcStatus(c, node, vmid)).status, "running");
        const nics = await getLxcInterfaces(c, node, vmid);
        assert.ok(
            nics.some((n) => n.name === "eth0"),
            JSON.stringify(nics),
        );
        await updateLxcConfig(c, node, vmid, { cores: 2, nameserver: "10.0.0.53" }, { digest: config.digest });
        const pending = await getLxcPending(c, node, vmid);
        assert.equal(pending.find((p) => p.key === "cores")?.value, "2", "cores apply live");
        assert.equal(
            pending.find((p) => p.key === "nameserver")?.pending,
            "10.0.0.53",
            "nameserver waits for a reboot",
        );
        await assert.rejects(
            updateLxcConfig(c, node, vmid, { cores: 3 }, { digest: config.digest }),
            (err: unknown) => err instanceof PveApiError,
            "a stale digest is refused",
        );

        await waitForTask(c, node, await stopLxc(c, node, vmid), { timeoutMs: 20_000 });
        await waitForTask(c, node, await deleteLxc(c, node, vmid), { timeoutMs: 20_000 });
        await assert.rejects(getLxcConfig(c, node, vmid), (err: unknown) => isPveNotFound(err));
    });

    it("reports parameter errors per parameter", async () => {
        const c = tokenClient();
        await assert.rejects(
            createLxc(c, sim.node, { vmid: 99, ostemplate: TEMPLATE, net0: "bridge=vmbr0,ip=notanip" }),
            (err: unknown) => {
                assert.ok(err instanceof PveApiError);
                assert.equal(err.status, 400);
                assert.equal(err.pveMessage, "Parameter verification failed.");
                assert.ok("vmid" in err.errors, JSON.stringify(err.errors));
                return true;
            },
        );
    });

    it("a root-only feature flag fails for a token and works with the root@pam ticket", async () => {
        const token = tokenClient();
        const root = rootClient();
        const vmid = await nextId(root);
        const params = { vmid, ostemplate: TEMPLATE, rootfs: "local-zfs:8", features: "nesting=1,keyctl=1" };
        await assert.rejects(
            createLxc(token, sim.node, params),
            (err: unknown) => err instanceof PveApiError && err.status === 403,
        );
        const upid = await createLxc(root, sim.node, params);
        await waitForTask(root, sim.node, upid, { timeoutMs: 20_000 });
        await waitForTask(root, sim.node, await deleteLxc(root, sim.node, vmid), { timeoutMs: 20_000 });
    });

    it("stages a bridge, sees it in the pending diff, applies it under the node lock", async () => {
        const c = tokenClient();
        const node = sim.node;
        await createNetworkIface(c, node, "vmbr7", { type: "bridge", cidr: "10.77.0.1/24", autostart: true });
        const staged = await listPendingChanges(c, node);
        assert.equal(staged.pending, true);
        assert.ok(staged.changedIfaces.includes("vmbr7"), staged.diff);
        await withNetworkLock(node, async () => {
            await waitForTask(c, node, await applyNetwork(c, node), { timeoutMs: 20_000 });
        });
        assert.equal((await listPendingChanges(c, node)).pending, false);
        assert.equal((await getNetworkIface(c, node, "vmbr7")).cidr, "10.77.0.1/24");
        await assert.rejects(
            createNetworkIface(c, node, "vmbr7", { type: "bridge" }),
            (err: unknown) => err instanceof PveApiError && err.errors.iface === "interface already exists",
        );
    });

    it("creates a role, a user, a token and an ACL; the new token works", async () => {
        const root = rootClient();
        await createRole(root, "ClientTestAudit", ["Sys.Audit", "VM.Audit"]);
        await createUser(root, "clienttest@pve", { comment: "client test" });
        const token = await createToken(root, "clienttest@pve", "ci", { privsep: true });
        assert.equal(token.fullTokenId, "clienttest@pve!ci");
        await updateAcl(root, {
            path: "/",
            roles: ["ClientTestAudit"],
            users: ["clienttest@pve"],
            tokens: [token.fullTokenId],
        });
        const limited = client({
            PVE_API_TOKEN: `${token.fullTokenId}=${token.value}`,
            PVE_TLS_FINGERPRINT: sim.tlsFingerprint,
        });
        assert.equal((await getVersion(limited)).major, 9);
        assert.equal(limited.identity, "clienttest@pve!ci");
        await assert.rejects(
            createLxc(limited, sim.node, { vmid: 999, ostemplate: TEMPLATE }),
            (err: unknown) => err instanceof PveApiError && err.status === 403,
        );
    });

    it("retries injected transient faults and settles a dropped create without creating twice", async () => {
        const c = tokenClient();
        sim.faults.failNext({
            method: "GET",
            path: "/version$",
            status: 596,
            message: "Connection timed out",
            count: 2,
        });
        assert.equal((await getVersion(c)).major, 9);
        const vmid = await nextId(c);
        sim.requestLog.clear();
        sim.faults.dropNext({ method: "POST", path: "/lxc$" });
        const upid = await createLxc(c, sim.node, { vmid, ostemplate: TEMPLATE, rootfs: "local-zfs:8" });
        await waitForTask(c, sim.node, upid, { timeoutMs: 20_000 });
        const posts = sim.requestLog.find("POST", /\/lxc$/);
        assert.deepEqual(
            posts.map((p) => p.status),
            [0, 200],
            "dropped before it ran, verified absent, sent again",
        );
        await waitForTask(c, sim.node, await deleteLxc(c, sim.node, vmid), { timeoutMs: 20_000 });
    });

    it("a failing task surfaces its exit status and log", async () => {
        const c = tokenClient();
        const vmid = await nextId(c);
        await waitForTask(
            c,
            sim.node,
            await createLxc(c, sim.node, { vmid, ostemplate: TEMPLATE, rootfs: "local-zfs:8" }),
            {
                timeoutMs: 20_000,
            },
        );
        sim.faults.failNextTask({ type: "vzstart", exitstatus: `startup for container '${vmid}' failed` });
        await assert.rejects(
            waitForTask(c, sim.node, await startLxc(c, sim.node, vmid), { timeoutMs: 20_000 }),
            (err: unknown) => {
                assert.ok(err instanceof PveTaskError);
                assert.equal(err.exitStatus, `startup for container '${vmid}' failed`);
                assert.ok(
                    err.logTail.some((l) => l.startsWith("TASK ERROR:")),
                    err.logTail.join("\n"),
                );
                return true;
            },
        );
        await waitForTask(c, sim.node, await deleteLxc(c, sim.node, vmid), { timeoutMs: 20_000 });
    });

    it("PVE 8 error form (no `message` in the body) reads the status line", async () => {
        const sim8 = await startSimulator({ pveVersion: 8 });
        const c = new PveClient(
            resolveConnection(
                { get: () => undefined },
                {
                    PVE_ENDPOINT: sim8.url,
                    PVE_API_TOKEN: sim8.apiToken,
                    PVE_TLS_FINGERPRINT: sim8.tlsFingerprint,
                },
            ),
        );
        try {
            assert.equal((await getVersion(c)).major, 8);
            await assert.rejects(getLxcConfig(c, sim8.node, 4242), (err: unknown) => {
                assert.ok(err instanceof PveApiError);
                assert.equal(err.pveMessage, `Configuration file 'nodes/${sim8.node}/lxc/4242.conf' does not exist`);
                return true;
            });
        } finally {
            c.close();
            await sim8.stop();
        }
    });
});
