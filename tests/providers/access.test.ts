/**
 * The access handlers (`role`, `user`, `acl`, `apiToken`) driven in-process against the simulator, asserting the
 * exact API calls they make (request log), the simulator's state after each operation, and exact error texts.
 */
import assert from "node:assert/strict";
import type { FailSpec, Simulator } from "../pve-sim";
import { api } from "../sim/helpers";
import { UNKNOWN } from "../../providers/runtime";
import { configureFor, handler, Props, startConfigured } from "./helpers";

type Call = [method: string, path: string, params: Record<string, string>, status: number];

const role = handler("role");
const user = handler("user");
const acl = handler("acl");
const apiToken = handler("apiToken");

const NO_CHANGE = { changes: false, replaces: [], deleteBeforeReplace: false };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Every request since the last clear, as [method, path, params, status]. A request answered by an injected
 * fault is logged without params: the simulator answers it before it reads the body.
 */
function calls(sim: Simulator): Call[] {
    return sim.requestLog.all().map((e) => [e.method, e.path, e.params, e.status]);
}

/**
 * Makes the next matching request take effect (`effect` changes the node as PVE's handler would) and then lose
 * its answer: the client sees `status`/`message`, as when pveproxy times out on a request the node carried out.
 */
function effectThenFail(
    sim: Simulator,
    method: string,
    path: RegExp,
    fail: Pick<FailSpec, "status" | "message">,
    effect: () => void,
): void {
    const faults = sim.faults;
    const original = faults.takeFailure.bind(faults);
    faults.takeFailure = (m: string, p: string) => {
        if (m !== method || !path.test(p)) return original(m, p);
        Reflect.deleteProperty(faults, "takeFailure");
        effect();
        return { ...fail };
    };
}

/** Runs `fn` with the runtime configured for a token that has no ACL at all (so every write is a 403). */
async function asUnprivileged<T>(sim: Simulator, fn: () => Promise<T>): Promise<T> {
    if (!sim.state.access.users.has("nobody@pve")) sim.state.access.addUser("nobody@pve");
    sim.state.access.deleteToken("nobody@pve", "ro");
    const secret = sim.state.access.createToken("nobody@pve", "ro", { privsep: false });
    await configureFor({ ...sim, apiToken: `nobody@pve!ro=${secret}` });
    try {
        return await fn();
    } finally {
        await configureFor(sim);
    }
}

/** Rejects unless `p` fails with exactly `message`; returns the error. */
async function rejectsWith(p: Promise<unknown>, message: string): Promise<Error> {
    let caught: unknown;
    await assert.rejects(p, (err: unknown) => {
        caught = err;
        assert.ok(err instanceof Error);
        assert.equal(err.message, message);
        return true;
    });
    return caught as Error;
}

function aclEntries(sim: Simulator): string[] {
    return sim.state.access
        .listAcl()
        .map((e) => `${e.path} ${e.type}:${e.ugid} ${e.roleid} propagate=${e.propagate}`)
        .sort();
}

describe("providers: access (role, user, acl, apiToken)", () => {
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

    afterEach(async () => {
        sim.faults.clear();
        Reflect.deleteProperty(sim.faults, "takeFailure");
    });

    // -----------------------------------------------------------------------------------------------------
    describe("role", () => {
        const inputs = {
            roleId: "HomelabLxc",
            privileges: ["VM.Audit", "VM.Allocate", "VM.Audit"],
            pve8Privileges: ["VM.Monitor"],
            pve9Privileges: ["VM.GuestAgent.Audit"],
        };
        let created: { id: string; outs: Props; inputs: Props };

        it("creates the role with the privileges of the node's PVE version (9: VM.GuestAgent.Audit)", async () => {
            created = await role.checkAndCreate(inputs);
            assert.equal(created.id, "HomelabLxc");
            assert.deepEqual(created.outs, {
                roleId: "HomelabLxc",
                privileges: ["VM.Allocate", "VM.Audit"],
                pve8Privileges: ["VM.Monitor"],
                pve9Privileges: ["VM.GuestAgent.Audit"],
                effectivePrivileges: ["VM.Allocate", "VM.Audit", "VM.GuestAgent.Audit"],
                pveMajor: 9,
            });
            assert.deepEqual(calls(sim), [
                ["GET", "/version", {}, 200],
                [
                    "POST",
                    "/access/roles",
                    { roleid: "HomelabLxc", privs: "VM.Allocate,VM.Audit,VM.GuestAgent.Audit" },
                    200,
                ],
            ]);
            assert.deepEqual([...(sim.state.access.roles.get("HomelabLxc") ?? [])].sort(), [
                "VM.Allocate",
                "VM.Audit",
                "VM.GuestAgent.Audit",
            ]);
        });

        it("diffs empty right after create, also for a reordered list", async () => {
            assert.deepEqual(await role.diff(created.id, created.outs, created.inputs), NO_CHANGE);
            const reordered = (await role.check(created.outs, { ...inputs, privileges: ["VM.Allocate", "VM.Audit"] }))
                .inputs;
            assert.deepEqual(await role.diff(created.id, created.outs, reordered), NO_CHANGE);
            // VM.Monitor only matters on PVE 8: dropping it changes nothing on this PVE 9 node.
            const { inputs: noPve8 } = await role.check(created.outs, { ...inputs, pve8Privileges: [] });
            assert.deepEqual(await role.diff(created.id, created.outs, noPve8), NO_CHANGE);
            assert.deepEqual(calls(sim), [], "diff asks nothing of PVE");
        });

        it("updates in place with the full privilege list", async () => {
            const { inputs: news } = await role.check(created.outs, {
                ...inputs,
                privileges: ["VM.Audit", "Datastore.Audit"],
            });
            assert.deepEqual(await role.diff(created.id, created.outs, news), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            const { outs } = await role.update(created.id, created.outs, news);
            assert.deepEqual(outs.effectivePrivileges, ["Datastore.Audit", "VM.Audit", "VM.GuestAgent.Audit"]);
            assert.deepEqual(calls(sim), [
                ["GET", "/version", {}, 200],
                ["PUT", "/access/roles/HomelabLxc", { privs: "Datastore.Audit,VM.Audit,VM.GuestAgent.Audit" }, 200],
            ]);
            assert.deepEqual([...(sim.state.access.roles.get("HomelabLxc") ?? [])].sort(), [
                "Datastore.Audit",
                "VM.Audit",
                "VM.GuestAgent.Audit",
            ]);
            assert.deepEqual(await role.diff(created.id, outs, news), NO_CHANGE);
            created = { ...created, outs, inputs: news };
        });

        it("shows a hand edit on refresh, and the next diff puts it back", async () => {
            sim.state.access.roles.set("HomelabLxc", new Set(["VM.Audit", "Sys.Audit"]));
            const read = await role.read(created.id, created.outs);
            assert.deepEqual(read, {
                id: "HomelabLxc",
                props: { ...created.outs, effectivePrivileges: ["Sys.Audit", "VM.Audit"], pveMajor: 9 },
            });
            assert.deepEqual(calls(sim), [
                ["GET", "/access/roles/HomelabLxc", {}, 200],
                ["GET", "/version", {}, 200],
            ]);
            assert.deepEqual(await role.diff(created.id, read.props, created.inputs), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            const { outs } = await role.update(created.id, read.props, created.inputs);
            assert.deepEqual([...(sim.state.access.roles.get("HomelabLxc") ?? [])].sort(), [
                "Datastore.Audit",
                "VM.Audit",
                "VM.GuestAgent.Audit",
            ]);
            assert.deepEqual(await role.diff(created.id, outs, created.inputs), NO_CHANGE);
        });

        it("preview: unknown privileges pass check and diff as a change", async () => {
            const unknownList = await role.check(created.outs, { roleId: "HomelabLxc", privileges: UNKNOWN });
            assert.deepEqual(unknownList.failures, []);
            assert.deepEqual(await role.diff(created.id, created.outs, unknownList.inputs), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            const unknownItem = await role.check(created.outs, { ...created.inputs, pve9Privileges: [UNKNOWN] });
            assert.deepEqual(unknownItem.failures, []);
            assert.equal((await role.diff(created.id, created.outs, unknownItem.inputs)).changes, true);
            const unknownId = await role.check(created.outs, { ...created.inputs, roleId: UNKNOWN });
            assert.deepEqual((await role.diff(created.id, created.outs, unknownId.inputs)).replaces, ["roleId"]);
        });

        it("replaces (delete first) when the role id changes", async () => {
            const { inputs: news } = await role.check(created.outs, { ...created.inputs, roleId: "HomelabLxc2" });
            assert.deepEqual(await role.diff(created.id, created.outs, news), {
                changes: true,
                replaces: ["roleId"],
                deleteBeforeReplace: true,
            });
        });

        it("deletes; a missing role counts as deleted; read of a missing role says gone", async () => {
            await role.delete(created.id, created.outs);
            assert.equal(sim.state.access.roles.has("HomelabLxc"), false);
            await role.delete(created.id, created.outs);
            assert.deepEqual(await role.read(created.id, created.outs), { id: "", props: {} });
            assert.deepEqual(calls(sim), [
                ["DELETE", "/access/roles/HomelabLxc", {}, 200],
                ["DELETE", "/access/roles/HomelabLxc", {}, 500],
                ["GET", "/access/roles/HomelabLxc", {}, 500],
            ]);
        });

        it("converges a role left by an interrupted create instead of failing", async () => {
            sim.state.access.roles.set("Leftover", new Set(["Sys.Audit"]));
            const r = await role.checkAndCreate({ roleId: "Leftover", privileges: ["VM.Audit"] });
            assert.deepEqual(r.outs.effectivePrivileges, ["VM.Audit"]);
            assert.deepEqual(calls(sim), [
                ["GET", "/version", {}, 200],
                ["POST", "/access/roles", { roleid: "Leftover", privs: "VM.Audit" }, 500],
                ["PUT", "/access/roles/Leftover", { privs: "VM.Audit" }, 200],
            ]);
            assert.deepEqual([...(sim.state.access.roles.get("Leftover") ?? [])], ["VM.Audit"]);
            await role.delete(r.id, r.outs);
        });

        it("a create whose answer is lost after PVE made the role is settled by looking, not sent twice", async () => {
            effectThenFail(sim, "POST", /\/access\/roles$/, { status: 596, message: "Connection timed out" }, () =>
                sim.state.access.roles.set("Lost", new Set(["VM.Audit"])),
            );
            const r = await role.checkAndCreate({ roleId: "Lost", privileges: ["VM.Audit"] });
            assert.equal(r.id, "Lost");
            assert.deepEqual(calls(sim), [
                ["GET", "/version", {}, 200],
                ["POST", "/access/roles", {}, 596],
                ["GET", "/access/roles/Lost", {}, 200],
            ]);
            assert.deepEqual([...(sim.state.access.roles.get("Lost") ?? [])], ["VM.Audit"]);
            await role.delete(r.id, r.outs);
        });

        it("reports PVE's permission error", async () => {
            await asUnprivileged(sim, () =>
                rejectsWith(
                    role.checkAndCreate({ roleId: "Denied", privileges: ["VM.Audit"] }),
                    "POST /access/roles: 403 Permission check failed (/access, Sys.Modify)",
                ),
            );
            assert.equal(sim.state.access.roles.has("Denied"), false);
        });

        it("a privilege the node does not know fails with PVE's text", async () => {
            await rejectsWith(
                role.checkAndCreate({ roleId: "Old", privileges: ["VM.Monitor"] }),
                "POST /access/roles: 400 Parameter verification failed. (privs: invalid format - invalid privilege 'VM.Monitor')",
            );
        });

        it("refuses bad input, naming field and rule", async () => {
            assert.deepEqual((await role.check({}, { roleId: "bad id!", privileges: ["VM.Audit"] })).failures, [
                { property: "roleId", reason: "must be letters, digits, '.', '-', '_'" },
            ]);
            assert.deepEqual((await role.check({}, { roleId: "PVEMine", privileges: ["VM.Audit"] })).failures, [
                { property: "roleId", reason: "must not start with 'PVE' (reserved for built-in roles)" },
            ]);
            assert.deepEqual((await role.check({}, { roleId: "Ok", privileges: [] })).failures, [
                { property: "privileges", reason: "must list at least one privilege" },
            ]);
            assert.deepEqual(
                (await role.check({}, { roleId: "Ok", privileges: ["VM.Audit"], pve9Privileges: ["vm audit"] }))
                    .failures,
                [{ property: "pve9Privileges.0", reason: "must be a PVE privilege like VM.Audit" }],
            );
            await rejectsWith(
                role.create({ roleId: "PVEMine", privileges: [] }),
                "invalid role inputs:\n" +
                    "  - roleId: must not start with 'PVE' (reserved for built-in roles)\n" +
                    "  - privileges: must list at least one privilege",
            );
            assert.deepEqual(calls(sim), [], "nothing reached PVE");
        });

        describe("on PVE 8", () => {
            let sim8: Simulator;

            before(async () => {
                sim8 = await startConfigured({ pveVersion: 8 });
            });

            after(async () => {
                await sim8.stop();
                await configureFor(sim);
            });

            it("chooses VM.Monitor instead of VM.GuestAgent.Audit", async () => {
                const r = await role.checkAndCreate(inputs);
                assert.deepEqual(r.outs.effectivePrivileges, ["VM.Allocate", "VM.Audit", "VM.Monitor"]);
                assert.equal(r.outs.pveMajor, 8);
                assert.deepEqual(
                    sim8.requestLog.all().map((e) => [e.method, e.path, e.params, e.status]),
                    [
                        ["GET", "/version", {}, 200],
                        [
                            "POST",
                            "/access/roles",
                            { roleid: "HomelabLxc", privs: "VM.Allocate,VM.Audit,VM.Monitor" },
                            200,
                        ],
                    ],
                );
                assert.deepEqual([...(sim8.state.access.roles.get("HomelabLxc") ?? [])].sort(), [
                    "VM.Allocate",
                    "VM.Audit",
                    "VM.Monitor",
                ]);
                assert.deepEqual(await role.diff(r.id, r.outs, r.inputs), NO_CHANGE);
                // On PVE 8 the PVE 9 list is the one that does not matter.
                const { inputs: news } = await role.check(r.outs, { ...inputs, pve9Privileges: [] });
                assert.deepEqual(await role.diff(r.id, r.outs, news), NO_CHANGE);
                const { inputs: noMonitor } = await role.check(r.outs, { ...inputs, pve8Privileges: [] });
                assert.equal((await role.diff(r.id, r.outs, noMonitor)).changes, true);
            });
        });
    });

    // -----------------------------------------------------------------------------------------------------
    describe("user", () => {
        let created: { id: string; outs: Props; inputs: Props };

        it("creates a user without a password", async () => {
            created = await user.checkAndCreate({ userId: "deploy@pve", comment: "pulumi" });
            assert.equal(created.id, "deploy@pve");
            assert.deepEqual(created.outs, { userId: "deploy@pve", comment: "pulumi", enable: true });
            assert.deepEqual(calls(sim), [
                ["POST", "/access/users", { userid: "deploy@pve", comment: "pulumi", enable: "1" }, 200],
            ]);
            const record = sim.state.access.users.get("deploy@pve");
            assert.equal(record?.comment, "pulumi");
            assert.equal(record?.enable, true);
            assert.equal(record?.passwordHash, undefined);
        });

        it("diffs empty right after create", async () => {
            assert.deepEqual(await user.diff(created.id, created.outs, created.inputs), NO_CHANGE);
        });

        it("updates comment and enable in place; removing the comment clears it", async () => {
            const { inputs: news } = await user.check(created.outs, { userId: "deploy@pve", enable: false });
            assert.deepEqual(await user.diff(created.id, created.outs, news), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            const { outs } = await user.update(created.id, created.outs, news);
            assert.deepEqual(outs, { userId: "deploy@pve", enable: false });
            assert.deepEqual(calls(sim), [["PUT", "/access/users/deploy@pve", { comment: "", enable: "0" }, 200]]);
            const read = await user.read(created.id, outs);
            assert.deepEqual(read, { id: "deploy@pve", props: { userId: "deploy@pve", enable: false } });
            assert.equal(sim.state.access.users.get("deploy@pve")?.enable, false);
            const back = (await user.check(outs, { userId: "deploy@pve", comment: "pulumi" })).inputs;
            created = { ...created, outs: (await user.update(created.id, outs, back)).outs, inputs: back };
            assert.equal(sim.state.access.users.get("deploy@pve")?.comment, "pulumi");
            assert.equal(sim.state.access.users.get("deploy@pve")?.enable, true);
        });

        it("shows drift on refresh", async () => {
            const record = sim.state.access.users.get("deploy@pve");
            assert.ok(record);
            record.comment = "edited by hand";
            record.enable = false;
            const read = await user.read(created.id, created.outs);
            assert.deepEqual(read, {
                id: "deploy@pve",
                props: { userId: "deploy@pve", comment: "edited by hand", enable: false },
            });
            assert.deepEqual(calls(sim), [["GET", "/access/users/deploy@pve", {}, 200]]);
            assert.equal((await user.diff(created.id, read.props, created.inputs)).changes, true);
            await user.update(created.id, read.props, created.inputs);
            assert.equal(record.comment, "pulumi");
            assert.equal(record.enable, true);
        });

        it("replaces (delete first) when the user id changes", async () => {
            const { inputs: news } = await user.check(created.outs, { ...created.inputs, userId: "other@pve" });
            assert.deepEqual(await user.diff(created.id, created.outs, news), {
                changes: true,
                replaces: ["userId"],
                deleteBeforeReplace: true,
            });
        });

        it("converges a user left by an interrupted create", async () => {
            sim.state.access.addUser("half@pve", { comment: "old", enable: false });
            const r = await user.checkAndCreate({ userId: "half@pve" });
            assert.deepEqual(calls(sim), [
                ["POST", "/access/users", { userid: "half@pve", enable: "1" }, 500],
                ["PUT", "/access/users/half@pve", { comment: "", enable: "1" }, 200],
            ]);
            assert.equal(sim.state.access.users.get("half@pve")?.enable, true);
            assert.deepEqual(await user.read(r.id, r.outs), {
                id: "half@pve",
                props: { userId: "half@pve", enable: true },
            });
            await user.delete(r.id, r.outs);
        });

        it("a create whose answer is lost after PVE made the user is not sent twice", async () => {
            effectThenFail(sim, "POST", /\/access\/users$/, { status: 500, message: "got timeout" }, () =>
                sim.state.access.addUser("lost@pve"),
            );
            const r = await user.checkAndCreate({ userId: "lost@pve" });
            assert.equal(r.id, "lost@pve");
            assert.deepEqual(calls(sim), [
                ["POST", "/access/users", {}, 500],
                ["GET", "/access/users/lost@pve", {}, 200],
            ]);
            await user.delete(r.id, r.outs);
            assert.equal(sim.state.access.users.has("lost@pve"), false);
        });

        it("reports PVE's permission error", async () => {
            await asUnprivileged(sim, () =>
                rejectsWith(
                    user.checkAndCreate({ userId: "denied@pve" }),
                    "POST /access/users: 403 Permission check failed (/access/realm/pve, Realm.AllocateUser)",
                ),
            );
        });

        it("refuses bad input, naming field and rule", async () => {
            assert.deepEqual((await user.check({}, { userId: "deploy" })).failures, [
                { property: "userId", reason: "must be name@realm, e.g. proxbox@pve" },
            ]);
            assert.deepEqual((await user.check({}, { userId: "a@pve", enable: "yes" })).failures, [
                { property: "enable", reason: "Invalid input: expected boolean, received string" },
            ]);
        });

        it("deletes; a missing user counts as deleted; read of a missing user says gone", async () => {
            const r = await user.checkAndCreate({ userId: "gone@pve" });
            sim.requestLog.clear();
            await user.delete(r.id, r.outs);
            assert.equal(sim.state.access.users.has("gone@pve"), false);
            await user.delete(r.id, r.outs);
            assert.deepEqual(await user.read(r.id, r.outs), { id: "", props: {} });
            assert.deepEqual(calls(sim), [
                ["DELETE", "/access/users/gone@pve", {}, 200],
                ["DELETE", "/access/users/gone@pve", {}, 500],
                ["GET", "/access/users/gone@pve", {}, 500],
            ]);
        });
    });

    // -----------------------------------------------------------------------------------------------------
    describe("apiToken", () => {
        let created: { id: string; outs: Props; inputs: Props };
        /** Every token value seen, to prove none of them ever shows up in an error. */
        const secrets: string[] = [];
        const errors: Error[] = [];

        const remember = (outs: Props): string => {
            assert.equal(typeof outs.value, "string");
            secrets.push(outs.value as string);
            return outs.value as string;
        };
        const catching = async (p: Promise<unknown>): Promise<Error> => {
            let caught: unknown;
            await p.catch((err: unknown) => (caught = err));
            assert.ok(caught instanceof Error, "expected a rejection");
            errors.push(caught);
            return caught;
        };

        before(async () => {
            if (!sim.state.access.users.has("deploy@pve")) await user.checkAndCreate({ userId: "deploy@pve" });
        });

        it("creates a token and outputs its one-time secret and full id", async () => {
            created = await apiToken.checkAndCreate({ userId: "deploy@pve", tokenName: "pulumi", comment: "stack" });
            const value = remember(created.outs);
            assert.match(value, UUID);
            assert.equal(created.id, "deploy@pve!pulumi");
            assert.deepEqual(created.outs, {
                userId: "deploy@pve",
                tokenName: "pulumi",
                comment: "stack",
                expire: 0,
                privsep: true,
                fullTokenId: "deploy@pve!pulumi",
                value,
            });
            assert.deepEqual(calls(sim), [
                ["POST", "/access/users/deploy@pve/token/pulumi", { comment: "stack", expire: "0", privsep: "1" }, 200],
            ]);
            assert.deepEqual(
                { ...sim.state.access.users.get("deploy@pve")?.tokens.get("pulumi"), secretHash: undefined },
                { privsep: true, expire: 0, comment: "stack", secretHash: undefined },
            );
        });

        it("authenticates against PVE; with privsep its rights are its own ACLs ∩ the user's", async () => {
            const token = `${created.outs.fullTokenId as string}=${created.outs.value as string}`;
            const version = await api(sim, "GET", "/version", { token });
            assert.equal(version.status, 200);
            assert.equal((version.data as { release: string }).release, "9.1");
            const denied = await api(sim, "GET", "/nodes/pve/storage/local/content", { token });
            assert.equal(denied.status, 403);
            assert.equal(
                denied.reason,
                "Permission check failed (/storage/local, Datastore.Audit|Datastore.AllocateSpace)",
            );
            const forUser = await acl.checkAndCreate({
                path: "/storage/local",
                roleId: "PVEDatastoreUser",
                userId: "deploy@pve",
            });
            assert.equal((await api(sim, "GET", "/nodes/pve/storage/local/content", { token })).status, 403);
            const forToken = await acl.checkAndCreate({
                path: "/storage/local",
                roleId: "PVEDatastoreUser",
                tokenId: "deploy@pve!pulumi",
            });
            assert.equal((await api(sim, "GET", "/nodes/pve/storage/local/content", { token })).status, 200);
            await acl.delete(forToken.id, forToken.outs);
            await acl.delete(forUser.id, forUser.outs);
            const wrong = await api(sim, "GET", "/version", { token: `deploy@pve!pulumi=${"0".repeat(36)}` });
            assert.equal(wrong.status, 401);
        });

        it("diffs empty right after create", async () => {
            assert.deepEqual(await apiToken.diff(created.id, created.outs, created.inputs), NO_CHANGE);
        });

        it("updates comment, expire and privsep in place and keeps the secret", async () => {
            const { inputs: news } = await apiToken.check(created.outs, {
                userId: "deploy@pve",
                tokenName: "pulumi",
                comment: "stack v2",
                expire: 4102444800,
                privsep: false,
            });
            assert.deepEqual(await apiToken.diff(created.id, created.outs, news), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            const { outs } = await apiToken.update(created.id, created.outs, news);
            assert.deepEqual(outs, {
                ...created.outs,
                comment: "stack v2",
                expire: 4102444800,
                privsep: false,
            });
            assert.deepEqual(calls(sim), [
                [
                    "PUT",
                    "/access/users/deploy@pve/token/pulumi",
                    { comment: "stack v2", expire: "4102444800", privsep: "0" },
                    200,
                ],
            ]);
            const record = sim.state.access.users.get("deploy@pve")?.tokens.get("pulumi");
            assert.deepEqual([record?.comment, record?.expire, record?.privsep], ["stack v2", 4102444800, false]);
            assert.deepEqual(await apiToken.diff(created.id, outs, news), NO_CHANGE);
            created = { ...created, outs, inputs: news };
        });

        it("an absent comment leaves PVE's alone (PVE cannot clear a token comment)", async () => {
            const { inputs: news } = await apiToken.check(created.outs, { ...created.inputs, comment: undefined });
            assert.deepEqual(await apiToken.diff(created.id, created.outs, news), NO_CHANGE);
            const { inputs: privsep } = await apiToken.check(created.outs, {
                ...created.inputs,
                comment: undefined,
                privsep: true,
            });
            const { outs } = await apiToken.update(created.id, created.outs, privsep);
            assert.deepEqual(calls(sim), [
                ["PUT", "/access/users/deploy@pve/token/pulumi", { expire: "4102444800", privsep: "1" }, 200],
            ]);
            assert.equal(outs.comment, "stack v2");
            assert.deepEqual(await apiToken.diff(created.id, outs, privsep), NO_CHANGE);
            created = { ...created, outs };
        });

        it("shows drift on refresh and keeps the secret PVE cannot return", async () => {
            const record = sim.state.access.users.get("deploy@pve")?.tokens.get("pulumi");
            assert.ok(record);
            record.comment = "by hand";
            record.expire = 0;
            const read = await apiToken.read(created.id, created.outs);
            assert.equal(read.props.value, created.outs.value);
            assert.deepEqual(read, {
                id: "deploy@pve!pulumi",
                props: { ...created.outs, comment: "by hand", expire: 0 },
            });
            assert.deepEqual(calls(sim), [["GET", "/access/users/deploy@pve/token/pulumi", {}, 200]]);
            assert.equal((await apiToken.diff(created.id, read.props, created.inputs)).changes, true);
            const { outs } = await apiToken.update(created.id, read.props, created.inputs);
            assert.deepEqual([record.comment, record.expire], ["stack v2", 4102444800]);
            created = { ...created, outs };
        });

        it("replaces (delete first) when the user or token name changes", async () => {
            const { inputs: renamed } = await apiToken.check(created.outs, { ...created.inputs, tokenName: "ci" });
            assert.deepEqual(await apiToken.diff(created.id, created.outs, renamed), {
                changes: true,
                replaces: ["tokenName"],
                deleteBeforeReplace: true,
            });
            const { inputs: moved } = await apiToken.check(created.outs, { ...created.inputs, userId: "x@pve" });
            assert.deepEqual((await apiToken.diff(created.id, created.outs, moved)).replaces, ["userId"]);
        });

        it("a failing update or read never puts the secret in its error", async () => {
            sim.faults.failNext({ method: "PUT", path: /\/token\/pulumi$/, status: 500, message: "update failed" });
            const updateError = await catching(apiToken.update(created.id, created.outs, created.inputs));
            assert.equal(updateError.message, "PUT /access/users/deploy@pve/token/pulumi: 500 update failed");
            sim.faults.failNext({
                method: "GET",
                path: /\/token\/pulumi$/,
                status: 403,
                message: "Permission check failed",
            });
            const readError = await catching(apiToken.read(created.id, created.outs));
            assert.equal(readError.message, "GET /access/users/deploy@pve/token/pulumi: 403 Permission check failed");
        });

        it("recreates a token left by an interrupted create: its old secret is unknowable", async () => {
            sim.state.access.createToken("deploy@pve", "leftover", { comment: "old" });
            const r = await apiToken.checkAndCreate({ userId: "deploy@pve", tokenName: "leftover" });
            const value = remember(r.outs);
            assert.deepEqual(calls(sim), [
                ["POST", "/access/users/deploy@pve/token/leftover", { expire: "0", privsep: "1" }, 400],
                ["DELETE", "/access/users/deploy@pve/token/leftover", {}, 200],
                ["POST", "/access/users/deploy@pve/token/leftover", { expire: "0", privsep: "1" }, 200],
            ]);
            const works = await api(sim, "GET", "/version", { token: `deploy@pve!leftover=${value}` });
            assert.equal(works.status, 200);
            assert.equal(sim.state.access.users.get("deploy@pve")?.tokens.get("leftover")?.comment, undefined);
            await apiToken.delete(r.id, r.outs);
        });

        it("a create whose answer (and secret) is lost deletes that token and makes a working one", async () => {
            effectThenFail(sim, "POST", /\/token\/lost$/, { status: 596, message: "Connection timed out" }, () => {
                sim.state.access.createToken("deploy@pve", "lost");
            });
            const r = await apiToken.checkAndCreate({ userId: "deploy@pve", tokenName: "lost" });
            const value = remember(r.outs);
            assert.deepEqual(calls(sim), [
                ["POST", "/access/users/deploy@pve/token/lost", {}, 596],
                ["GET", "/access/users/deploy@pve/token/lost", {}, 200],
                ["GET", "/access/users/deploy@pve/token/lost", {}, 200],
                ["DELETE", "/access/users/deploy@pve/token/lost", {}, 200],
                ["POST", "/access/users/deploy@pve/token/lost", { expire: "0", privsep: "1" }, 200],
            ]);
            const works = await api(sim, "GET", "/version", { token: `deploy@pve!lost=${value}` });
            assert.equal(works.status, 200);
            await apiToken.delete(r.id, r.outs);
        });

        it("reports PVE's permission error", async () => {
            const err = await asUnprivileged(sim, () =>
                catching(apiToken.checkAndCreate({ userId: "deploy@pve", tokenName: "denied" })),
            );
            assert.equal(err.message, "POST /access/users/deploy@pve/token/denied: 403 Permission check failed");
            assert.equal(sim.state.access.users.get("deploy@pve")?.tokens.has("denied"), false);
        });

        it("refuses bad input, naming field and rule", async () => {
            assert.deepEqual((await apiToken.check({}, { userId: "deploy@pve", tokenName: "1x" })).failures, [
                { property: "tokenName", reason: "must match PVE's token id pattern [A-Za-z][A-Za-z0-9.-_]+" },
            ]);
            assert.deepEqual((await apiToken.check({}, { userId: "deploy", tokenName: "ci" })).failures, [
                { property: "userId", reason: "must be name@realm, e.g. proxbox@pve" },
            ]);
            assert.deepEqual(
                (await apiToken.check({}, { userId: "deploy@pve", tokenName: "ci", expire: -1 })).failures,
                [{ property: "expire", reason: "Too small: expected number to be >=0" }],
            );
            assert.deepEqual(
                (await apiToken.check({}, { userId: "deploy@pve", tokenName: "ci", expire: 1.5 })).failures,
                [{ property: "expire", reason: "Invalid input: expected int, received number" }],
            );
        });

        it("deletes; a missing token, or one whose user is gone, counts as deleted", async () => {
            await apiToken.delete(created.id, created.outs);
            assert.equal(sim.state.access.users.get("deploy@pve")?.tokens.has("pulumi"), false);
            await apiToken.delete(created.id, created.outs);
            assert.deepEqual(await apiToken.read(created.id, created.outs), { id: "", props: {} });
            assert.deepEqual(calls(sim), [
                ["DELETE", "/access/users/deploy@pve/token/pulumi", {}, 200],
                ["DELETE", "/access/users/deploy@pve/token/pulumi", {}, 500],
                ["GET", "/access/users/deploy@pve/token/pulumi", {}, 500],
            ]);

            const orphan = await apiToken
                .checkAndCreate({ userId: "temp@pve", tokenName: "ci" })
                .catch(() => undefined);
            assert.equal(orphan, undefined, "no user temp@pve yet");
            await user.checkAndCreate({ userId: "temp@pve" });
            const t = await apiToken.checkAndCreate({ userId: "temp@pve", tokenName: "ci" });
            remember(t.outs);
            sim.state.access.deleteUser("temp@pve");
            sim.requestLog.clear();
            assert.deepEqual(await apiToken.read(t.id, t.outs), { id: "", props: {} });
            await apiToken.delete(t.id, t.outs);
            assert.deepEqual(
                calls(sim).map(([m, p, , s]) => `${m} ${p} ${s}`),
                // PVE's permission check refuses a token of a user that does not exist (403) before its handler
                // could say "no such token": the owner's absence settles it.
                [
                    "GET /access/users/temp@pve/token/ci 403",
                    "GET /access/users/temp@pve 500",
                    "DELETE /access/users/temp@pve/token/ci 403",
                    "GET /access/users/temp@pve 500",
                ],
            );
        });

        it("no secret ever appeared in an error or in the request log", () => {
            assert.ok(secrets.length >= 4 && errors.length >= 3);
            const texts = errors.map((e) => `${e.message}\n${e.stack ?? ""}\n${JSON.stringify(e)}\n${String(e.cause)}`);
            for (const secret of secrets) {
                for (const text of texts) assert.equal(text.includes(secret), false);
                assert.equal(JSON.stringify(sim.requestLog.all()).includes(secret), false);
            }
        });
    });

    // -----------------------------------------------------------------------------------------------------
    describe("acl", () => {
        let created: { id: string; outs: Props; inputs: Props };
        let tokenOuts: Props;

        before(async () => {
            if (!sim.state.access.users.has("deploy@pve")) await user.checkAndCreate({ userId: "deploy@pve" });
            await role.checkAndCreate({ roleId: "AclRole", privileges: ["VM.Audit"] });
            tokenOuts = (await apiToken.checkAndCreate({ userId: "deploy@pve", tokenName: "acl" })).outs;
        });

        it("grants a role to a user on a path", async () => {
            created = await acl.checkAndCreate({ path: "/vms/100", roleId: "AclRole", userId: "deploy@pve" });
            assert.equal(created.id, "/vms/100|AclRole|deploy@pve");
            assert.deepEqual(created.outs, {
                path: "/vms/100",
                roleId: "AclRole",
                userId: "deploy@pve",
                propagate: true,
            });
            assert.deepEqual(calls(sim), [
                [
                    "PUT",
                    "/access/acl",
                    { path: "/vms/100", roles: "AclRole", users: "deploy@pve", propagate: "1" },
                    200,
                ],
            ]);
            assert.deepEqual(aclEntries(sim), ["/vms/100 user:deploy@pve AclRole propagate=1"]);
        });

        it("diffs empty right after create, also for another spelling of the same path", async () => {
            assert.deepEqual(await acl.diff(created.id, created.outs, created.inputs), NO_CHANGE);
            const { inputs: spelled } = await acl.check(created.outs, { ...created.inputs, path: "//vms/100/" });
            assert.deepEqual(await acl.diff(created.id, created.outs, spelled), NO_CHANGE);
        });

        it("preview: an unknown path or subject diffs as a replacement", async () => {
            const { inputs, failures } = await acl.check(created.outs, { ...created.inputs, path: UNKNOWN });
            assert.deepEqual(failures, []);
            assert.deepEqual(await acl.diff(created.id, created.outs, inputs), {
                changes: true,
                replaces: ["path"],
                deleteBeforeReplace: false,
            });
        });

        it("updates propagate in place", async () => {
            const { inputs: news } = await acl.check(created.outs, { ...created.inputs, propagate: false });
            assert.deepEqual(await acl.diff(created.id, created.outs, news), {
                changes: true,
                replaces: [],
                deleteBeforeReplace: false,
            });
            const { outs } = await acl.update(created.id, created.outs, news);
            assert.deepEqual(outs, { ...created.outs, propagate: false });
            assert.deepEqual(calls(sim), [
                [
                    "PUT",
                    "/access/acl",
                    { path: "/vms/100", roles: "AclRole", users: "deploy@pve", propagate: "0" },
                    200,
                ],
            ]);
            assert.deepEqual(aclEntries(sim), ["/vms/100 user:deploy@pve AclRole propagate=0"]);
            created = { ...created, outs, inputs: news };
        });

        it("shows drift on refresh: a changed propagate flag, then a removed binding", async () => {
            sim.state.access.grant("/vms/100", "users", "deploy@pve", "AclRole", true);
            const read = await acl.read(created.id, created.outs);
            assert.deepEqual(read, { id: created.id, props: { ...created.outs, propagate: true } });
            assert.deepEqual(calls(sim), [["GET", "/access/acl", {}, 200]]);
            assert.equal((await acl.diff(created.id, read.props, created.inputs)).changes, true);
            sim.state.access.revoke("/vms/100", "users", "deploy@pve", "AclRole");
            assert.deepEqual(await acl.read(created.id, created.outs), { id: "", props: {} });
            created = await acl.checkAndCreate(created.inputs);
            assert.deepEqual(aclEntries(sim), ["/vms/100 user:deploy@pve AclRole propagate=0"]);
        });

        it("replaces (create first) when path, role or subject change; the old delete leaves the new grant", async () => {
            const { inputs: moved } = await acl.check(created.outs, { ...created.inputs, path: "/vms/101" });
            assert.deepEqual(await acl.diff(created.id, created.outs, moved), {
                changes: true,
                replaces: ["path"],
                deleteBeforeReplace: false,
            });
            const { inputs: otherRole } = await acl.check(created.outs, { ...created.inputs, roleId: "PVEAuditor" });
            assert.deepEqual((await acl.diff(created.id, created.outs, otherRole)).replaces, ["roleId"]);
            const { inputs: toToken } = await acl.check(created.outs, {
                path: "/vms/100",
                roleId: "AclRole",
                tokenId: "deploy@pve!acl",
                propagate: false,
            });
            assert.deepEqual((await acl.diff(created.id, created.outs, toToken)).replaces, ["userId", "tokenId"]);

            // The engine's order for a create-before-delete replacement: new grant, then the old one goes.
            const replacement = await acl.create(toToken);
            assert.equal(replacement.id, "/vms/100|AclRole|deploy@pve!acl");
            await acl.delete(created.id, created.outs);
            assert.deepEqual(aclEntries(sim), ["/vms/100 token:deploy@pve!acl AclRole propagate=0"]);
            assert.deepEqual(calls(sim), [
                [
                    "PUT",
                    "/access/acl",
                    { path: "/vms/100", roles: "AclRole", tokens: "deploy@pve!acl", propagate: "0" },
                    200,
                ],
                ["PUT", "/access/acl", { path: "/vms/100", roles: "AclRole", users: "deploy@pve", delete: "1" }, 200],
            ]);
            created = { ...replacement, inputs: toToken };
        });

        it("delete removes exactly its binding and nothing next to it", async () => {
            const others = [
                await acl.checkAndCreate({ path: "/vms/100", roleId: "PVEAuditor", tokenId: "deploy@pve!acl" }),
                await acl.checkAndCreate({ path: "/vms", roleId: "AclRole", tokenId: "deploy@pve!acl" }),
                await acl.checkAndCreate({ path: "/vms/100", roleId: "AclRole", userId: "deploy@pve" }),
            ];
            sim.requestLog.clear();
            await acl.delete(created.id, created.outs);
            assert.deepEqual(calls(sim), [
                [
                    "PUT",
                    "/access/acl",
                    { path: "/vms/100", roles: "AclRole", tokens: "deploy@pve!acl", delete: "1" },
                    200,
                ],
            ]);
            assert.deepEqual(aclEntries(sim), [
                "/vms token:deploy@pve!acl AclRole propagate=1",
                "/vms/100 token:deploy@pve!acl PVEAuditor propagate=1",
                "/vms/100 user:deploy@pve AclRole propagate=1",
            ]);
            for (const o of others) await acl.delete(o.id, o.outs);
            assert.deepEqual(aclEntries(sim), []);
        });

        it("deleting a binding that is gone (by hand, or with its token) is done", async () => {
            await acl.delete(created.id, created.outs);
            const r = await acl.checkAndCreate({ path: "/", roleId: "AclRole", tokenId: "deploy@pve!acl" });
            await apiToken.delete("deploy@pve!acl", tokenOuts);
            assert.deepEqual(aclEntries(sim), [], "PVE removes a token's ACL entries with the token");
            sim.requestLog.clear();
            await acl.delete(r.id, r.outs);
            assert.deepEqual(calls(sim), [
                ["PUT", "/access/acl", { path: "/", roles: "AclRole", tokens: "deploy@pve!acl", delete: "1" }, 500],
                ["GET", "/access/acl", {}, 200],
            ]);
        });

        it("a grant whose answer is lost is sent again (set semantics make that harmless)", async () => {
            effectThenFail(sim, "PUT", /\/access\/acl$/, { status: 596, message: "Connection timed out" }, () =>
                sim.state.access.grant("/storage", "users", "deploy@pve", "AclRole", true),
            );
            const r = await acl.checkAndCreate({ path: "/storage", roleId: "AclRole", userId: "deploy@pve" });
            assert.deepEqual(calls(sim), [
                ["PUT", "/access/acl", {}, 596],
                [
                    "PUT",
                    "/access/acl",
                    { path: "/storage", roles: "AclRole", users: "deploy@pve", propagate: "1" },
                    200,
                ],
            ]);
            assert.deepEqual(aclEntries(sim), ["/storage user:deploy@pve AclRole propagate=1"]);
            await acl.delete(r.id, r.outs);
        });

        it("reports PVE's errors: permission, unknown role, invalid path", async () => {
            await asUnprivileged(sim, () =>
                rejectsWith(
                    acl.checkAndCreate({ path: "/vms/100", roleId: "AclRole", userId: "deploy@pve" }),
                    "PUT /access/acl: 403 Permission check failed (/vms/100, Permissions.Modify|VM.Allocate)",
                ),
            );
            await rejectsWith(
                acl.checkAndCreate({ path: "/vms/100", roleId: "Nope", userId: "deploy@pve" }),
                "PUT /access/acl: 500 ACL update failed: role 'Nope' does not exist",
            );
            await rejectsWith(
                acl.checkAndCreate({ path: "/foo", roleId: "AclRole", userId: "deploy@pve" }),
                "PUT /access/acl: 400 Parameter verification failed. (path: invalid ACL path '/foo')",
            );
            assert.deepEqual(aclEntries(sim), []);
        });

        it("refuses bad input, naming field and rule", async () => {
            assert.deepEqual((await acl.check({}, { path: "vms", roleId: "R", userId: "a@pve" })).failures, [
                { property: "path", reason: "must be an ACL path like / or /vms/100" },
            ]);
            assert.deepEqual((await acl.check({}, { path: "/", roleId: "", userId: "a@pve" })).failures, [
                { property: "roleId", reason: "Too small: expected string to have >=1 characters" },
            ]);
            assert.deepEqual((await acl.check({}, { path: "/", roleId: "R", userId: "a" })).failures, [
                { property: "userId", reason: "must be name@realm, e.g. proxbox@pve" },
            ]);
            assert.deepEqual((await acl.check({}, { path: "/", roleId: "R", tokenId: "a@pve" })).failures, [
                { property: "tokenId", reason: "must be name@realm!tokenid" },
            ]);
            const both = { path: "/", roleId: "R", userId: "a@pve", tokenId: "a@pve!t1" };
            const neither = { path: "/", roleId: "R" };
            for (const news of [both, neither]) {
                assert.deepEqual((await acl.check({}, news)).failures, [
                    { property: "userId", reason: "exactly one of userId and tokenId must be set" },
                ]);
            }
            await rejectsWith(
                acl.create(neither),
                "invalid acl inputs:\n  - userId: exactly one of userId and tokenId must be set",
            );
            assert.deepEqual(calls(sim), []);
        });
    });
});
