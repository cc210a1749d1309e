/**
 * Self-hosted state: the unmodified program through the real engine with its state in a real PostgreSQL server
 * (`PULUMI_BACKEND_URL=postgres://...`), across up, a no-op up and destroy. The stack is the dev stack with only
 * the ProximityAppliance on (two containers), which keeps a run short.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createEngineStack, EngineStack } from "../engine/harness";
import { prepareSimulatorForStack } from "../engine/dev-stack";
import { simulatorStackConfig } from "../engine/sim-config";
import { startSimulator, Simulator } from "../pve-sim";
import { devStackWithOnly, postgresBinDir, PostgresServer, startPostgres } from "./postgres";
import { changesOf, mark, ofType, since, stateResources, StateResource, verifyDeployed } from "./world";

/**
 * Where the CLI's DIY backend keeps a stack's checkpoint: the file:// and s3:// layout, under the URL's path (the
 * database name) as prefix.
 */
const CHECKPOINT_KEY = "pulumi_state/.pulumi/stacks/proxmox-homelab/dev.json";
const HISTORY_PREFIX = "pulumi_state/.pulumi/history/proxmox-homelab/dev/";

interface Checkpoint {
    checkpoint: { stack: string; latest?: { resources?: StateResource[] } };
}

describe("end to end: state in a self-hosted PostgreSQL backend", function () {
    this.timeout(5 * 60_000);
    let pg: PostgresServer | undefined;
    let sim: Simulator | undefined;
    let engine: EngineStack | undefined;
    let workDir: string | undefined;
    const output: string[] = [];
    const onOutput = (out: string) => output.push(out);

    before(async function () {
        const binDir = postgresBinDir();
        if (binDir === undefined) {
            console.log("    skipped: no PostgreSQL binaries (initdb, postgres, psql) found; install postgresql");
            this.skip();
        }
        pg = await startPostgres(binDir);
        sim = await startSimulator({ taskDurationMs: { min: 10, max: 40 } });
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "phl-e2e-pg-"));
        const stackFile = devStackWithOnly(workDir, ["appliance"]);
        await prepareSimulatorForStack(sim, stackFile);
        engine = await createEngineStack({
            stackName: "dev",
            workDir,
            backendUrl: pg.backendUrl,
            config: simulatorStackConfig(sim),
        });
    });

    after(async () => {
        try {
            // Never leave a deployment behind, even when a case failed half-way.
            if (engine) await engine.stack.destroy({ onOutput });
        } catch {
            // reported by the cases
        }
        await sim?.stop();
        await pg?.stop();
        if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
    });

    /** The stack's checkpoint as the CLI stored it in PostgreSQL (a base64 blob inside a JSON column). */
    async function checkpointInPostgres(): Promise<Checkpoint> {
        const b64 = (await pg!.query(`SELECT data->>'data' FROM pulumi_state WHERE key = '${CHECKPOINT_KEY}'`)).trim();
        assert.notEqual(b64, "", `no row ${CHECKPOINT_KEY} in pulumi_state`);
        return JSON.parse(Buffer.from(b64, "base64").toString("utf8")) as Checkpoint;
    }

    it("up deploys the appliance and the CLI keeps the stack's state in PostgreSQL's pulumi_state table", async () => {
        const r = await engine!.stack.up({ onOutput });
        assert.equal(r.summary.result, "succeeded");
        const resources = await stateResources(engine!.stack);
        assert.deepEqual(await verifyDeployed(sim!, resources), []);
        const vmids = ofType(resources, "Lxc")
            .map((x) => Number(x.id))
            .sort((a, b) => a - b);
        assert.deepEqual(vmids, [110, 111]);
        assert.deepEqual(
            [...sim!.state.containers.keys()].sort((a, b) => a - b),
            vmids,
        );

        const keys = (await pg!.query("SELECT key FROM pulumi_state ORDER BY key")).trim().split("\n");
        assert.ok(keys.includes(CHECKPOINT_KEY), `keys: ${keys.join(", ")}`);
        assert.ok(
            keys.some((k) => k.startsWith(HISTORY_PREFIX)),
            `an update history row: ${keys.join(", ")}`,
        );
        // The row holds the same resources the engine exports: the state is there, not somewhere else.
        const stored = await checkpointInPostgres();
        assert.deepEqual(
            (stored.checkpoint.latest?.resources ?? []).map((x) => x.urn),
            resources.map((x) => x.urn),
        );
        // ... and nothing went to the file backend the harness would otherwise use.
        assert.deepEqual(fs.readdirSync(path.join(workDir!, ".state")), []);
    });

    it("a second up reports no changes and makes no write request and no changing command", async () => {
        const m = mark(sim!);
        const r = await engine!.stack.up({ onOutput });
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual(changesOf(r.summary.resourceChanges), {});
        const seen = since(sim!, m);
        assert.deepEqual(
            seen.writes.map((e) => `${e.method} ${e.path}`),
            [],
        );
        assert.deepEqual(
            seen.changingCommands.map((e) => e.command),
            [],
        );
    });

    it("destroy empties the simulator and the checkpoint in PostgreSQL", async () => {
        const bridges = ofType(await stateResources(engine!.stack), "Bridge").map((b) => String(b.outputs?.name));
        assert.ok(bridges.length >= 1, "the appliance's LAN bridge is in state");
        const r = await engine!.stack.destroy({ onOutput });
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual([...sim!.state.containers.keys()], []);
        for (const b of bridges) assert.equal(sim!.state.network.has(b), false, `bridge ${b} removed`);
        assert.equal(sim!.state.pendingNetwork, undefined);
        assert.deepEqual((await checkpointInPostgres()).checkpoint.latest?.resources ?? [], []);
        // up, up, destroy: each operation's history entry is a row of the database.
        const history = await pg!.query(
            `SELECT count(*) FROM pulumi_state WHERE key LIKE '${HISTORY_PREFIX}%.history.json'`,
        );
        assert.equal(history.trim(), "3");
    });
});
