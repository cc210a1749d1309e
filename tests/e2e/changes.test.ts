/**
 * Changes to a deployed dev stack through the real engine, each previewed first: the preview must list exactly
 * the steps the following up performs, and the up must touch only what the change is about.
 */
import * as auto from "@pulumi/pulumi/automation";
import * as assert from "node:assert/strict";
import * as path from "node:path";
import { appLeasePath, appVhostPath } from "../../components/appliance/render/paths";
import { REPO_ROOT } from "../../scripts/engine";
import { stackFileConfig } from "../engine/dev-stack";
import { collect, mark, ofType, since, startWorld, stateResources, verifyDeployed, World } from "./world";

/** `op name` of every step that is not `same`, sorted. */
type Steps = string[];

function recorder(): { steps: Steps; onEvent: (e: auto.EngineEvent) => void } {
    const steps: Steps = [];
    return {
        steps,
        onEvent: (e) => {
            const m = e.resourcePreEvent?.metadata;
            // The default provider's inputs are the whole stack config, so any config change "updates" it; that is
            // the engine's bookkeeping, not a change to anything deployed.
            if (!m || m.op === "same" || m.op === "read" || m.type === "pulumi:pulumi:Stack") return;
            if (m.type.startsWith("pulumi:providers:")) return;
            steps.push(`${m.op} ${m.urn.split("::").pop()}`);
        },
    };
}

/**
 * What adding or removing an app changes beside the app's own resources: the reloads run once each, the health
 * check re-runs because the files it watches changed, and Prometheus gets (or loses) the app's node_exporter
 * as a scrape target (its config file, then one reload).
 */
const AROUND_AN_APP = [
    "update monitoring-prometheus",
    "update monitoring-prometheus-config",
    "update proximity-caddy-reload",
    "update proximity-dnsmasq-reload",
    "update proximity-health",
];

const DEV = stackFileConfig(path.join(REPO_ROOT, "Pulumi.dev.yaml"));

async function setObject(world: World, key: string, value: unknown): Promise<void> {
    await world.stack.setConfig(`proxmox-homelab:${key}`, { value: JSON.stringify(value) });
}

/** Previews, then ups; asserts both list the same steps and returns them. */
async function previewThenUp(world: World): Promise<Steps> {
    const p = recorder();
    await world.stack.preview({ onEvent: p.onEvent, onOutput: collect(world) });
    const u = recorder();
    const r = await world.stack.up({ onEvent: u.onEvent, onOutput: collect(world) });
    assert.equal(r.summary.result, "succeeded");
    assert.deepEqual([...u.steps].sort(), [...p.steps].sort(), "the preview listed exactly what up did");
    return [...u.steps].sort();
}

describe("end to end: changes to the deployed dev stack, previewed first", function () {
    this.timeout(20 * 60_000);
    let world: World;
    const netbox = JSON.parse(DEV.netbox) as Record<string, Record<string, unknown>>;
    const appliance = JSON.parse(DEV.appliance) as { apps: Record<string, unknown>[] } & Record<string, unknown>;

    before(async () => {
        world = await startWorld();
        await world.stack.up({ onOutput: collect(world) });
    });
    after(async () => {
        if (!world) return;
        try {
            await world.stack.destroy({ onOutput: collect(world) });
        } finally {
            await world.stop();
        }
    });

    it("a container's memory: updated in place, live, without a restart", async () => {
        await setObject(world, "netbox", { ...netbox, cache: { ...netbox.cache, memory: 384 } });
        const m = mark(world.sim);
        const steps = await previewThenUp(world);
        assert.ok(steps.includes("update netbox-cache"), steps.join("\n"));
        assert.ok(!steps.some((s) => s.startsWith("replace") || s.startsWith("create-replacement")), steps.join("\n"));
        // Nothing outside the cache container's own tier changes.
        assert.deepEqual(
            steps.filter((s) => !/netbox-cache/.test(s)),
            [],
        );
        const writes = since(world.sim, m).writes.map((e) => `${e.method} ${e.path}`);
        assert.deepEqual(writes, ["PUT /nodes/pve/lxc/102/config"], "one config PUT, no reboot or stop");
        assert.equal(world.sim.state.containers.get(102)?.conf.memory, "384");
    });

    it("one more appliance app: only that app's resources, plus one dnsmasq and one Caddy reload", async () => {
        const apps = [...appliance.apps, { ...appliance.apps[0], name: "api", port: 9000, vmid: 112 }];
        await setObject(world, "appliance", { ...appliance, apps });
        const steps = await previewThenUp(world);
        const other = steps.filter((s) => !/-api(-|$)/.test(s));
        assert.deepEqual(other, AROUND_AN_APP);
        assert.ok(steps.includes("create proximity-app-api"), steps.join("\n"));
        assert.equal(world.sim.state.containers.get(112)?.running, true);
        assert.deepEqual(await verifyDeployed(world.sim, await stateResources(world.stack)), []);
    });

    it("removing that app again deletes only its resources (container, lease, vhost), with one reload each", async () => {
        await setObject(world, "appliance", appliance);
        const steps = await previewThenUp(world);
        const other = steps.filter((s) => !/-api(-|$)/.test(s));
        assert.deepEqual(other, AROUND_AN_APP);
        for (const gone of [
            "delete proximity-app-api",
            "delete proximity-app-api-lease",
            "delete proximity-app-api-vhost",
        ]) {
            assert.ok(steps.includes(gone), `${gone} in\n${steps.join("\n")}`);
        }
        assert.equal(world.sim.state.containers.has(112), false);
        for (const gone of [appLeasePath("api"), appVhostPath("api")]) {
            const r = await world.sim.backend.exec(110, ["test", "-e", gone]);
            assert.notEqual(r.code, 0, `${gone} removed`);
        }
    });

    it("monitoring disabled removes only its resources; enabled again restores them", async () => {
        const before = ofType(await stateResources(world.stack), "Lxc").length;
        await setObject(world, "monitoring", { ...JSON.parse(DEV.monitoring), enabled: false });
        const off = await previewThenUp(world);
        assert.ok(off.includes("delete monitoring-ct"), off.join("\n"));
        assert.equal(world.sim.state.containers.has(120), false);
        assert.equal(ofType(await stateResources(world.stack), "Lxc").length, before - 1);

        await setObject(world, "monitoring", JSON.parse(DEV.monitoring));
        const on = await previewThenUp(world);
        assert.ok(on.includes("create monitoring-ct"), on.join("\n"));
        assert.equal(world.sim.state.containers.get(120)?.running, true);
        assert.deepEqual(await verifyDeployed(world.sim, await stateResources(world.stack)), []);
    });

    it("NetBox disabled, then added back: Prometheus' scrape targets follow it", async () => {
        const promConfig = async () =>
            (await world.sim.backend.pull(120, "/etc/prometheus/prometheus.yml")).toString("utf8");
        await setObject(world, "netbox", { ...netbox, enabled: false });
        const off = await previewThenUp(world);
        assert.ok(off.includes("delete netbox-app"), off.join("\n"));
        assert.ok(off.includes("update monitoring-prometheus-config"), off.join("\n"));
        assert.equal(world.sim.state.containers.has(100), false);
        assert.doesNotMatch(await promConfig(), /10\.100\.0\.10:9100/);

        await setObject(world, "netbox", netbox);
        const on = await previewThenUp(world);
        assert.ok(on.includes("create netbox-app"), on.join("\n"));
        assert.ok(on.includes("update monitoring-prometheus-config"), on.join("\n"));
        assert.match(await promConfig(), /10\.100\.0\.10:9100/, "the app's node_exporter is scraped again");
        assert.deepEqual(await verifyDeployed(world.sim, await stateResources(world.stack)), []);
    });

    it("a bridge's comments: updated in place, the network applied once", async () => {
        await setObject(world, "appliance", { ...appliance, lanBridgeComments: "edited comment" });
        const m = mark(world.sim);
        const steps = await previewThenUp(world);
        assert.deepEqual(steps, ["update proximity-lan"]);
        const writes = since(world.sim, m).writes.map((e) => `${e.method} ${e.path}`);
        assert.deepEqual(writes, ["PUT /nodes/pve/network/proximity_lan", "PUT /nodes/pve/network"]);
    });
});
