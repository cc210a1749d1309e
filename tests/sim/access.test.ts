import assert from "node:assert/strict";
import { api, startTestSim, type TestSim } from "./helpers";

const LXC_PRIVS = [
    "VM.Allocate",
    "VM.Audit",
    "VM.PowerMgmt",
    "VM.Config.CPU",
    "VM.Config.Memory",
    "VM.Config.Disk",
    "VM.Config.Network",
    "VM.Config.Options",
];

describe("pve-sim: access (roles, ACLs, users, tokens)", () => {
    let sim: TestSim;

    before(async () => {
        sim = await startTestSim();
    });

    after(async () => {
        await sim.stop();
    });

    describe("roles", () => {
        it("creates, reads, extends and deletes a role", async () => {
            const create = await api(sim, "POST", "/access/roles", {
                form: { roleid: "HomelabLxc", privs: LXC_PRIVS.join(",") },
            });
            assert.deepEqual(create.json, { data: null });
            const read = await api(sim, "GET", "/access/roles/HomelabLxc");
            assert.deepEqual(read.data, Object.fromEntries([...LXC_PRIVS].sort().map((p) => [p, 1])));
            await api(sim, "PUT", "/access/roles/HomelabLxc", { form: { privs: "Datastore.Audit", append: 1 } });
            const list = (await api(sim, "GET", "/access/roles")).data as {
                roleid: string;
                privs: string;
                special: number;
            }[];
            assert.deepEqual(
                list.find((r) => r.roleid === "HomelabLxc"),
                { roleid: "HomelabLxc", privs: ["Datastore.Audit", ...LXC_PRIVS].sort().join(","), special: 0 },
            );
            assert.deepEqual(list.find((r) => r.roleid === "PVEAuditor")?.special, 1);
            await api(sim, "PUT", "/access/roles/HomelabLxc", { form: { privs: "VM.Audit" } });
            assert.deepEqual((await api(sim, "GET", "/access/roles/HomelabLxc")).data, { "VM.Audit": 1 });
            assert.deepEqual((await api(sim, "DELETE", "/access/roles/HomelabLxc")).json, { data: null });
            const gone = await api(sim, "GET", "/access/roles/HomelabLxc");
            assert.equal(gone.status, 500);
            assert.equal(gone.reason, "role 'HomelabLxc' does not exist");
        });

        it("refuses reserved names, duplicates and built-in roles", async () => {
            const reserved = await api(sim, "POST", "/access/roles", { form: { roleid: "pveMine" } });
            assert.deepEqual((reserved.json as { errors: unknown }).errors, {
                roleid: "cannot use role ID starting with the (case-insensitive) 'PVE' namespace",
            });
            await api(sim, "POST", "/access/roles", { form: { roleid: "Twice" } });
            const twice = await api(sim, "POST", "/access/roles", { form: { roleid: "Twice" } });
            assert.equal(twice.status, 500);
            assert.equal(twice.reason, "create role failed: role 'Twice' already exists");
            const builtin = await api(sim, "PUT", "/access/roles/PVEAdmin", { form: { privs: "VM.Audit" } });
            assert.equal(builtin.reason, "auto-generated role 'PVEAdmin' cannot be modified");
            const builtinDelete = await api(sim, "DELETE", "/access/roles/Administrator");
            assert.equal(builtinDelete.reason, "auto-generated role 'Administrator' cannot be deleted");
        });

        it("knows PVE 9's privileges: no VM.Monitor, VM.GuestAgent.* instead", async () => {
            const monitor = await api(sim, "POST", "/access/roles", {
                form: { roleid: "Mon", privs: "VM.Audit,VM.Monitor" },
            });
            assert.equal(monitor.status, 400);
            assert.deepEqual((monitor.json as { errors: unknown }).errors, {
                privs: "invalid format - invalid privilege 'VM.Monitor'\n",
            });
            const agent = await api(sim, "POST", "/access/roles", {
                form: { roleid: "Mon", privs: "VM.GuestAgent.Audit" },
            });
            assert.equal(agent.status, 200);
        });

        it("knows PVE 8's privileges: VM.Monitor, no VM.GuestAgent.*", async () => {
            const sim8 = await startTestSim({ pveVersion: 8 });
            try {
                const monitor = await api(sim8, "POST", "/access/roles", {
                    form: { roleid: "Mon", privs: "VM.Audit,VM.Monitor" },
                });
                assert.equal(monitor.status, 200);
                const agent = await api(sim8, "POST", "/access/roles", {
                    form: { roleid: "Agent", privs: "VM.GuestAgent.Audit" },
                });
                assert.deepEqual(agent.json, {
                    data: null,
                    errors: { privs: "invalid format - invalid privilege 'VM.GuestAgent.Audit'\n" },
                });
            } finally {
                await sim8.stop();
            }
        });
    });

    describe("users and tokens", () => {
        it("creates and lists users; refuses duplicates", async () => {
            const create = await api(sim, "POST", "/access/users", {
                form: { userid: "homelab@pve", password: "long-enough-pw", comment: "automation" },
            });
            assert.deepEqual(create.json, { data: null });
            const duplicate = await api(sim, "POST", "/access/users", { form: { userid: "homelab@pve" } });
            assert.equal(duplicate.reason, "create user failed: user 'homelab@pve' already exists");
            const shortPw = await api(sim, "POST", "/access/users", { form: { userid: "x@pve", password: "short" } });
            assert.deepEqual((shortPw.json as { errors: unknown }).errors, {
                password: "value must be at least 8 characters long",
            });
            const users = (await api(sim, "GET", "/access/users")).data as Record<string, unknown>[];
            assert.deepEqual(
                users.find((u) => u.userid === "homelab@pve"),
                {
                    userid: "homelab@pve",
                    enable: 1,
                    expire: 0,
                    comment: "automation",
                    "realm-type": "pve",
                },
            );
            const login = await api(sim, "POST", "/access/ticket", {
                token: false,
                form: { username: "homelab@pve", password: "long-enough-pw" },
            });
            assert.equal(login.status, 200);
        });

        it("shows a token value once, then only its info", async () => {
            const create = await api(sim, "POST", "/access/users/homelab@pve/token/pulumi", {
                form: { comment: "stack" },
            });
            const data = create.data as { value: string; "full-tokenid": string; info: Record<string, unknown> };
            assert.match(data.value, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
            assert.equal(data["full-tokenid"], "homelab@pve!pulumi");
            assert.deepEqual(data.info, { privsep: 1, comment: "stack" });
            const again = await api(sim, "POST", "/access/users/homelab@pve/token/pulumi");
            assert.deepEqual((again.json as { errors: unknown }).errors, { tokenid: "Token already exists." });
            assert.deepEqual((await api(sim, "GET", "/access/users/homelab@pve/token")).data, [
                { tokenid: "pulumi", privsep: 1, expire: 0, comment: "stack" },
            ]);
            assert.deepEqual((await api(sim, "GET", "/access/users/homelab@pve/token/pulumi")).data, {
                privsep: 1,
                expire: 0,
                comment: "stack",
            });
            const works = await api(sim, "GET", "/version", { token: `homelab@pve!pulumi=${data.value}` });
            assert.equal(works.status, 200);
            const logged = sim.requestLog.find("POST", /^\/access\/users\/homelab@pve\/token\/pulumi$/);
            assert.equal(logged[0].user, "root@pam!sim");
            assert.equal(JSON.stringify(sim.requestLog.all()).includes(data.value), false);
            const userCreate = sim.requestLog.find("POST", /^\/access\/users$/)[0];
            assert.deepEqual(userCreate.params, {
                userid: "homelab@pve",
                password: "[redacted]",
                comment: "automation",
            });
        });

        it("evaluates ACLs for privsep tokens: token ∩ user, propagation, deletion", async () => {
            const token = await api(sim, "POST", "/access/users/homelab@pve/token/ci");
            const secret = `homelab@pve!ci=${(token.data as { value: string }).value}`;
            const denied = await api(sim, "GET", "/nodes/pve/storage/local/content", { token: secret });
            assert.equal(
                denied.reason,
                "Permission check failed (/storage/local, Datastore.Audit|Datastore.AllocateSpace)",
            );

            const grant = await api(sim, "PUT", "/access/acl", {
                form: { path: "/storage", roles: "PVEDatastoreUser", tokens: "homelab@pve!ci" },
            });
            assert.deepEqual(grant.json, { data: null });
            assert.equal((await api(sim, "GET", "/nodes/pve/storage/local/content", { token: secret })).status, 403);
            await api(sim, "PUT", "/access/acl", {
                form: { path: "/storage", roles: "PVEDatastoreUser", users: "homelab@pve", propagate: 0 },
            });
            assert.equal((await api(sim, "GET", "/nodes/pve/storage/local/content", { token: secret })).status, 403);
            await api(sim, "PUT", "/access/acl", {
                form: { path: "/storage/local", roles: "PVEDatastoreUser", users: "homelab@pve" },
            });
            const allowed = await api(sim, "GET", "/nodes/pve/storage/local/content", {
                token: secret,
                query: { content: "vztmpl" },
            });
            assert.equal(allowed.status, 200);
            assert.deepEqual(
                (allowed.data as Record<string, unknown>[]).map((v) => [v.volid, v.content, v.format]),
                [["local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst", "vztmpl", "tzst"]],
            );

            const acl = (await api(sim, "GET", "/access/acl")).data as Record<string, unknown>[];
            assert.deepEqual(acl, [
                { path: "/storage", type: "user", ugid: "homelab@pve", roleid: "PVEDatastoreUser", propagate: 0 },
                { path: "/storage", type: "token", ugid: "homelab@pve!ci", roleid: "PVEDatastoreUser", propagate: 1 },
                { path: "/storage/local", type: "user", ugid: "homelab@pve", roleid: "PVEDatastoreUser", propagate: 1 },
            ]);
            await api(sim, "PUT", "/access/acl", {
                form: { path: "/storage/local", roles: "PVEDatastoreUser", users: "homelab@pve", delete: 1 },
            });
            assert.equal((await api(sim, "GET", "/nodes/pve/storage/local/content", { token: secret })).status, 403);
        });

        it("refuses bad ACL updates with PVE's texts", async () => {
            const role = await api(sim, "PUT", "/access/acl", {
                form: { path: "/vms/100", roles: "Nope", users: "homelab@pve" },
            });
            assert.equal(role.status, 500);
            assert.equal(role.reason, "ACL update failed: role 'Nope' does not exist");
            const path = await api(sim, "PUT", "/access/acl", {
                form: { path: "/foo", roles: "PVEAuditor", users: "homelab@pve" },
            });
            assert.deepEqual((path.json as { errors: unknown }).errors, { path: "invalid ACL path '/foo'" });
            const nobody = await api(sim, "PUT", "/access/acl", { form: { path: "/vms", roles: "PVEAuditor" } });
            const message = "either 'users', 'groups' or 'tokens' is required.";
            assert.deepEqual((nobody.json as { errors: unknown }).errors, {
                users: message,
                groups: message,
                tokens: message,
            });
            const token = await api(sim, "PUT", "/access/acl", {
                form: { path: "/vms", roles: "PVEAuditor", tokens: "homelab@pve!nope" },
            });
            assert.equal(token.reason, "ACL update failed: no such token 'nope' for user 'homelab@pve'");
        });

        it("deletes tokens and users, and their ACL entries with them", async () => {
            assert.deepEqual((await api(sim, "DELETE", "/access/users/homelab@pve/token/ci")).json, { data: null });
            const missing = await api(sim, "DELETE", "/access/users/homelab@pve/token/ci");
            assert.equal(missing.reason, "no such token 'ci' for user 'homelab@pve'");
            const acl = (await api(sim, "GET", "/access/acl")).data as Record<string, unknown>[];
            assert.deepEqual(
                acl.map((entry) => entry.ugid),
                ["homelab@pve"],
            );
            await api(sim, "DELETE", "/access/users/homelab@pve");
            assert.deepEqual((await api(sim, "GET", "/access/acl")).data, []);
            const gone = await api(sim, "GET", "/access/users/homelab@pve");
            assert.equal(gone.reason, "no such user ('homelab@pve')");
        });

        it("reports effective permissions", async () => {
            const perms = (await api(sim, "GET", "/access/permissions", { query: { path: "/vms/100" } }))
                .data as Record<string, Record<string, number>>;
            assert.equal(perms["/vms/100"]["VM.Allocate"], 1);
            assert.equal(perms["/vms/100"]["VM.Monitor"], undefined);
        });
    });
});
