/**
 * NetboxStack's Proxbox option (documents 002/003) through the real Pulumi engine against the simulator: a stack
 * of NetBox 4.5.8 alone with proxbox enabled. proxbox-api answers inside the app container through the curl stub's
 * loopback model (nginx's TLS site → the uvicorn unit → stubs/python/asgi.proxbox_api.main:app), so the
 * register-key step really bootstraps the first key. Asserted: the PVE role/user/token/ACLs with PVE 9's
 * privileges, the env file's mode and Fernet key, the registered key, a no-op second up, and a clean destroy.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { changesOf, collect, mark, sha256, since, startWorld, stateResources, verifyDeployed, World } from "./world";

const APP = 100;
const ROLE = "ProxboxReadOnly";
const USER = "proxbox@pve";
const TOKEN = "proxbox@pve!netbox";
const ENV_FILE = "/etc/proxbox-api/proxbox-api.env";
const DB_FILE = "/var/lib/proxbox-api/database.db";

/** Pulumi.dev.yaml's shape, NetBox only (no plugins but netbox-proxbox), on NetBox 4.5.8 with proxbox on. */
const STACK_FILE = [
    "config:",
    "    proxmox-homelab:pveNode: pve",
    "    proxmox-homelab:storage: local-zfs",
    "    proxmox-homelab:templateStorage: local",
    "    proxmox-homelab:externalBridge: vmbr0",
    "    proxmox-homelab:tls:",
    "        caCommonName: Homelab proxbox test CA",
    "        caOrganization: proxmox-homelab tests",
    "    proxmox-homelab:netbox:",
    "        enabled: true",
    "        publicName: netbox.dev.home.arpa",
    "        netboxVersion: v4.5.8",
    "        plugins: []",
    "        proxbox: { enabled: true }",
    "        app: { cores: 1, memory: 1024, swap: 256, diskGiB: 8 }",
    "        db: { cores: 1, memory: 512, swap: 128, diskGiB: 4 }",
    "        cache: { cores: 1, memory: 256, swap: 0, diskGiB: 2 }",
    "        proxy: { cores: 1, memory: 128, swap: 0, diskGiB: 2 }",
    "        timeZone: UTC",
    "",
].join("\n");

describe("end to end: NetboxStack with Proxbox on the real engine", function () {
    this.timeout(20 * 60_000);
    let world: World;
    let dir: string;

    const sh = async (script: string, env?: Record<string, string>) => {
        const r = await world.sim.backend.exec(APP, ["sh", "-c", script], { env });
        return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
    };
    const get = async <T>(p: string): Promise<T> => (await world.sim.api("GET", p)).data as T;

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "phl-proxbox-"));
        const stackFile = path.join(dir, "Pulumi.dev.yaml");
        fs.writeFileSync(stackFile, STACK_FILE);
        world = await startWorld({ stackFile });
    });
    after(async () => {
        if (world) {
            try {
                await world.stack.destroy({ onOutput: collect(world) });
            } catch {
                // reported by the cases
            }
            await world.stop();
        }
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("up deploys NetBox with proxbox-api and registers the first API key", async () => {
        const r = await world.stack.up({ onOutput: collect(world) });
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual(await verifyDeployed(world.sim, await stateResources(world.stack)), []);
        const outputs = await world.stack.outputs();
        assert.equal(outputs.netboxProxboxApiKey?.secret, true);
        assert.equal(outputs.netboxProxboxTokenSecret?.secret, true);
        const key = String(outputs.netboxProxboxApiKey.value);
        assert.match(key, /^[A-Za-z0-9]{64}$/);

        // One key in proxbox-api's database: ours (stored hashed), registered through nginx's TLS front.
        const db = (await world.sim.backend.pull(APP, DB_FILE)).toString();
        assert.deepEqual(
            db.split("\n").filter((l) => l.startsWith("key ")),
            [`key ${sha256(key)} proxmox-homelab`],
        );
        const log = (await world.sim.backend.pull(APP, "/var/log/sim/http.log")).toString();
        assert.match(log, /^POST https:\/\/127\.0\.0\.1:8443\/auth\/register-key 200$/m);
        assert.ok(!log.includes(key), "the key never reaches the request log");
        const unit = await sh("cat /run/sim/units/proxbox-api.service");
        assert.equal(unit.stdout.trim(), "active");
    });

    it("the PVE role, user, token and ACLs exist with PVE 9's read-only privileges", async () => {
        const roles = await get<{ roleid: string; privs?: string }[]>("/access/roles");
        const role = roles.find((x) => x.roleid === ROLE);
        assert.ok(role, `role ${ROLE}`);
        assert.deepEqual(
            String(role.privs ?? "")
                .split(",")
                .filter(Boolean)
                .sort(),
            ["Datastore.Audit", "Sys.Audit", "VM.Audit", "VM.GuestAgent.Audit"],
        );
        const users = await get<{ userid: string }[]>("/access/users");
        assert.ok(
            users.some((u) => u.userid === USER),
            `user ${USER}`,
        );
        const tokens = await get<{ tokenid: string; privsep?: number }[]>(`/access/users/${USER}/token`);
        assert.deepEqual(
            tokens.map((t) => [t.tokenid, Number(t.privsep)]),
            [["netbox", 1]],
        );
        const acl =
            await get<{ path: string; roleid: string; type: string; ugid: string; propagate: number }[]>("/access/acl");
        const ours = acl
            .filter((a) => a.roleid === ROLE)
            .map((a) => `${a.path} ${a.type} ${a.ugid} ${a.propagate}`)
            .sort();
        assert.deepEqual(ours, [`/ token ${TOKEN} 1`, `/ user ${USER} 1`]);
    });

    it("proxbox-api's env file is 0600, owned by proxbox, and holds a Fernet encryption key", async () => {
        const st = await sh(`stat -c '%a %U %G' ${ENV_FILE}`);
        assert.equal(st.code, 0, st.stderr);
        assert.equal(st.stdout.trim(), "600 proxbox proxbox");
        const env = (await world.sim.backend.pull(APP, ENV_FILE)).toString();
        assert.match(env, /^PROXBOX_ENCRYPTION_KEY=[A-Za-z0-9_-]{43}=$/m);
        assert.doesNotMatch(env, /PROXBOX_ALLOW_PLAINTEXT_CREDENTIALS/);
        assert.match(env, /^PROXBOX_BIND_HOST=127\.0\.0\.1$/m);
    });

    it("a second up reports no changes, makes no write request and runs no changing command", async () => {
        const m = mark(world.sim);
        const r = await world.stack.up({ onOutput: collect(world) });
        assert.deepEqual(changesOf(r.summary.resourceChanges), {});
        const seen = since(world.sim, m);
        assert.deepEqual(
            seen.writes.map((e) => `${e.method} ${e.path}`),
            [],
        );
        assert.deepEqual(
            seen.changingCommands.map((e) => e.command),
            [],
        );
    });

    it("proxbox-api refuses a second bootstrap key and accepts ours on /auth/keys", async () => {
        const key = String((await world.stack.outputs()).netboxProxboxApiKey.value);
        const base = "https://127.0.0.1:8443";
        const other = "B".repeat(64);
        const again = await sh(
            `printf '{"api_key": "%s", "label": "x"}' "$K" | curl -fsS -o /dev/null -X POST --data-binary @- ${base}/auth/register-key`,
            { K: other },
        );
        assert.equal(again.code, 22, again.stderr);
        assert.match(again.stderr, /returned error: 403/);
        const keys = await sh(`printf 'X-Proxbox-API-Key: %s\\n' "$K" | curl -fsS -H @- ${base}/auth/keys`, { K: key });
        assert.equal(keys.code, 0, keys.stderr);
        assert.deepEqual(JSON.parse(keys.stdout), [{ id: 1, label: "proxmox-homelab", is_active: true }]);
        const wrong = await sh(`curl -fsS -H "X-Proxbox-API-Key: $K" ${base}/auth/keys`, { K: other });
        assert.equal(wrong.code, 22);
        assert.match(wrong.stderr, /returned error: 401/);
    });

    it("destroy removes the role, the user, its token and the ACLs", async () => {
        const r = await world.stack.destroy({ onOutput: collect(world) });
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual([...world.sim.state.containers.keys()], []);
        const roles = await get<{ roleid: string }[]>("/access/roles");
        assert.equal(
            roles.some((x) => x.roleid === ROLE),
            false,
        );
        const users = await get<{ userid: string }[]>("/access/users");
        assert.deepEqual(
            users.map((u) => u.userid),
            ["root@pam"],
        );
        const acl = await get<{ roleid: string; ugid: string }[]>("/access/acl");
        assert.deepEqual(
            acl.filter((a) => a.roleid === ROLE || a.ugid === USER || a.ugid === TOKEN),
            [],
        );
        assert.deepEqual(await stateResources(world.stack), []);
    });
});
