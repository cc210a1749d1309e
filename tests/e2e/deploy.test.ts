/**
 * The unmodified program (index.ts with Pulumi.dev.yaml) through the real Pulumi engine against the simulator:
 * preview without writes, up of the full dev stack, a no-op second up, refresh after drift, and destroy, each
 * asserted on both sides (what the engine reports, what the simulator holds and saw).
 */
import * as assert from "node:assert/strict";
import { changesOf, mark, observe, ofType, since, startWorld, stateResources, verifyDeployed, World } from "./world";
import { leaks, plainTexts, secretValues } from "./secrets";

describe("end to end: the dev stack on the real engine", function () {
    this.timeout(20 * 60_000);
    let world: World;

    before(async () => {
        world = await startWorld();
    });
    after(async () => {
        if (!world) return;
        try {
            // Never leave a deployment behind, even when a case failed half-way.
            await world.stack.destroy(observe(world));
        } catch {
            // reported by the cases
        }
        await world.stop();
    });

    it("preview on a fresh stack plans creates and makes no write request and no changing command", async () => {
        const m = mark(world.sim);
        const r = await world.stack.preview(observe(world));
        const planned = r.changeSummary as Record<string, number>;
        assert.ok((planned.create ?? 0) > 20, `creates planned: ${JSON.stringify(planned)}`);
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

    it("up deploys every container, bridge and file the components declare", async () => {
        const r = await world.stack.up(observe(world));
        assert.equal(r.summary.result, "succeeded");
        const resources = await stateResources(world.stack);
        assert.deepEqual(await verifyDeployed(world.sim, resources), []);
        // Every Lxc of the state is a container in the simulator, and no other container exists.
        const vmids = ofType(resources, "Lxc")
            .map((x) => Number(x.id))
            .sort((a, b) => a - b);
        assert.deepEqual(
            [...world.sim.state.containers.keys()].sort((a, b) => a - b),
            vmids,
        );
        assert.ok(vmids.length >= 6, `containers: ${vmids.join(",")}`);
        assert.ok(ofType(resources, "File").length > 20);
        assert.ok(ofType(resources, "Bridge").length >= 3);
        const outputs = await world.stack.outputs();
        for (const [key, out] of Object.entries(outputs)) {
            if (/password/i.test(key)) assert.equal(out.secret, true, `${key} is secret`);
        }
    });

    it("a second up reports no changes, makes no write request and runs no changing command", async () => {
        const m = mark(world.sim);
        const r = await world.stack.up(observe(world));
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

    it("refresh reports a hand-edited file, a stopped container and a bridge edited by hand; the next up restores all three", async () => {
        const resources = await stateResources(world.stack);
        const file = ofType(resources, "File").find((f) => typeof f.outputs?.vmid === "number")!;
        const vmid = Number(file.outputs!.vmid);
        const filePath = String(file.outputs!.path);
        await world.sim.backend.push(vmid, filePath, Buffer.from("edited by hand\n"));
        const other = ofType(resources, "Lxc").find((c) => Number(c.id) !== vmid)!;
        const stop = await world.sim.api("POST", `/nodes/pve/lxc/${other.id}/status/stop`);
        await world.sim.waitForTask(String(stop.data));

        const bridge = ofType(resources, "Bridge")[0];
        const bridgeName = String(bridge.outputs?.name);
        const edit = await world.sim.api("PUT", `/nodes/pve/network/${bridgeName}`, {
            type: "bridge",
            comments: "changed by hand",
        });
        assert.equal(edit.status, 200, edit.message);
        const apply = await world.sim.api("PUT", "/nodes/pve/network");
        await world.sim.waitForTask(String(apply.data));

        const refreshed = await world.stack.refresh(observe(world));
        const changes = changesOf(refreshed.summary.resourceChanges);
        assert.ok((changes.update ?? 0) >= 3, `refresh changes: ${JSON.stringify(changes)}`);
        const afterRefresh = await stateResources(world.stack);
        assert.equal(
            afterRefresh.find((r) => r.urn === bridge.urn)?.outputs?.comments,
            "changed by hand",
            "refresh recorded the bridge's live comments",
        );

        const up = await world.stack.up(observe(world));
        assert.ok((changesOf(up.summary.resourceChanges).update ?? 0) >= 3);
        assert.equal(world.sim.state.containers.get(Number(other.id))?.running, true);
        assert.equal(String(world.sim.state.network.get(bridgeName)?.comments).trimEnd(), bridge.outputs?.comments);
        assert.deepEqual(await verifyDeployed(world.sim, await stateResources(world.stack)), []);
    });

    /** Read while the stack holds them; the check runs again after destroy, when the state no longer does. */
    let secrets: string[] = [];

    it("no secret appears in plain text in state, engine output and event log, request log or SSH argv", async () => {
        secrets = secretValues(world);
        assert.ok(secrets.length >= 10, `secrets found: ${secrets.length}`);
        assert.ok(world.events.length > 100, `engine events seen: ${world.events.length}`);
        assert.deepEqual(leaks(secrets, plainTexts(world)), []);
    });

    it("every file with secret content has mode 0600 or 0640, in state and in the container", async () => {
        const isSecret = (v: unknown) =>
            typeof v === "object" && v !== null && "4dabf18193072939515e22adb298388d" in (v as object);
        const secretFiles = ofType(await stateResources(world.stack), "File").filter((f) =>
            isSecret(f.inputs?.content),
        );
        assert.ok(secretFiles.length >= 5, `files with secret content: ${secretFiles.length}`);
        const wrong: string[] = [];
        for (const f of secretFiles) {
            const o = f.outputs ?? {};
            const mode = String(o.mode);
            let live = "";
            if (typeof o.vmid === "number") {
                const r = await world.sim.backend.exec(o.vmid, ["stat", "-c", "%a", String(o.path)]);
                live = r.stdout.toString().trim().padStart(4, "0");
            }
            if (!["0600", "0640"].includes(mode) || (live && live !== mode))
                wrong.push(`${String(o.path)} ${mode} ${live}`);
        }
        assert.deepEqual(wrong, []);
    });

    it("destroy leaves no container, bridge, role, user or token of ours, and nothing pending", async () => {
        const bridges = ofType(await stateResources(world.stack), "Bridge").map((b) => String(b.outputs?.name));
        const r = await world.stack.destroy(observe(world));
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual([...world.sim.state.containers.keys()], []);
        for (const b of bridges) assert.equal(world.sim.state.network.has(b), false, `bridge ${b} removed`);
        assert.equal(world.sim.state.pendingNetwork, undefined);
        const users = (await world.sim.api("GET", "/access/users")).data as { userid: string }[];
        assert.deepEqual(
            users.map((u) => u.userid),
            ["root@pam"],
        );
        const roles = (await world.sim.api("GET", "/access/roles")).data as { roleid: string; special?: number }[];
        assert.deepEqual(
            roles.filter((x) => !x.special).map((x) => x.roleid),
            [],
        );
        assert.deepEqual(await stateResources(world.stack), []);
    });

    it("after up, refresh and destroy, still no secret in state, output, event log, request log or SSH argv", () => {
        assert.ok(secrets.length >= 10, "the secrets were read before destroy");
        assert.ok(
            world.events.some((e) => /"kind":"destroy"|"op":"delete"/.test(e)),
            "the event log holds the destroy",
        );
        assert.deepEqual(leaks(secrets, plainTexts(world)), []);
    });
});
