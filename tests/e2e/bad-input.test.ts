/**
 * Bad input through the real engine: `up` stops before a single write request reaches the simulator and before
 * any command that changes something runs over SSH, and the engine's error output names the key or field and the
 * rule. Three layers catch it: the program's stack-config check (before any resource is registered), a dynamic
 * provider's `check` for a value the config check lets through, and a provider's `check` for a resource the
 * program itself declares badly.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { createEngineStack } from "../engine/harness";
import { simulatorStackConfig } from "../engine/sim-config";
import { startSimulator, Simulator } from "../pve-sim";
import { File } from "../../providers/index";
import { devStackWithOnly, writeStackFile } from "./postgres";
import { mark, since } from "./world";

/**
 * Runs `up`, expects it to fail, and returns the engine's Diagnostics section (the lines between `Diagnostics:`
 * and `Resources:`) without the stand-in plugins' "using ... from $PATH" warnings (and headers left empty).
 */
async function failingUp(stack: Stack): Promise<string[]> {
    const output: string[] = [];
    await assert.rejects(stack.up({ onOutput: (o) => output.push(o) }), /Command failed with exit code 1/);
    const lines = output.join("").split("\n");
    const from = lines.indexOf("Diagnostics:");
    const to = lines.indexOf("Resources:", from);
    assert.ok(from >= 0 && to > from, `the engine printed its diagnostics:\n${lines.join("\n")}`);
    const kept = lines
        .slice(from + 1, to)
        .map((l) => l.trimEnd())
        .filter((l) => l !== "" && !/warning: using pulumi-resource-\w+ from \$PATH/.test(l));
    // A resource's header (`  <type> (<name>):`) left without lines once the warnings are gone.
    const isHeader = (l: string | undefined) => l !== undefined && /^ {2}\S.*\):$/.test(l);
    return kept.filter((l, i) => !isHeader(l) || (i + 1 < kept.length && !isHeader(kept[i + 1])));
}

/** Nothing reached the simulator that changes it: no write request, no changing SSH command, no container. */
function assertUntouched(sim: Simulator, m: ReturnType<typeof mark>): void {
    const seen = since(sim, m);
    assert.deepEqual(
        seen.writes.map((e) => `${e.method} ${e.path}`),
        [],
    );
    assert.deepEqual(
        seen.changingCommands.map((e) => e.command),
        [],
    );
    assert.deepEqual([...sim.state.containers.keys()], []);
}

/** A simulator and a stack on it, without world.ts's download registration (which refuses an invalid config). */
async function startStack(
    workDir: string,
    program?: () => Promise<void>,
): Promise<{ sim: Simulator; stack: Stack; stop(): Promise<void> }> {
    const sim = await startSimulator({ taskDurationMs: { min: 10, max: 40 } });
    try {
        const { stack } = await createEngineStack({
            stackName: "dev",
            workDir,
            config: simulatorStackConfig(sim),
            ...(program ? { program } : {}),
        });
        return { sim, stack, stop: () => sim.stop() };
    } catch (err) {
        await sim.stop();
        throw err;
    }
}

describe("end to end: bad input stops up before anything is written", function () {
    this.timeout(4 * 60_000);
    let world: Awaited<ReturnType<typeof startStack>> | undefined;
    let workDir: string;
    beforeEach(() => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "phl-e2e-bad-"));
    });
    afterEach(async () => {
        await world?.stop();
        world = undefined;
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("an invalid stack config value (netbox.db.memory: 128): the program's config check stops up", async () => {
        writeStackFile(workDir, (config) => {
            delete config["proxmox-homelab:appliance"];
            delete config["proxmox-homelab:monitoring"];
            (config["proxmox-homelab:netbox"] as { db: { memory: number } }).db.memory = 128;
        });
        world = await startStack(workDir);
        const w = world;
        const m = mark(w.sim);
        const diagnostics = await failingUp(w.stack);
        // The program's own error (the inline host also prints it once more as an unhandled exception with a
        // stack trace, hence the search for the clean one): the key, the rule and the value, and nothing else.
        const at = diagnostics.indexOf("    error: Invalid stack config:");
        assert.ok(at >= 0, diagnostics.join("\n"));
        assert.deepEqual(diagnostics.slice(at), [
            "    error: Invalid stack config:",
            "      - proxmox-homelab:netbox.db.memory: must be ≥ 512 MiB, got 128",
        ]);
        assert.equal(diagnostics[0], "  pulumi:pulumi:Stack (proxmox-homelab-dev):");
        assertUntouched(w.sim, m);
    });

    it("a value only a provider's check rejects (monitoring.network.hwaddr multicast): the Lxc check stops up", async () => {
        writeStackFile(workDir, (config) => {
            delete config["proxmox-homelab:netbox"];
            delete config["proxmox-homelab:appliance"];
            const monitoring = config["proxmox-homelab:monitoring"] as Record<string, unknown>;
            // Not scraping PVE: its exporter's role and user would be created beside the container, and the point
            // here is that the container's check stops the run before its first write.
            delete monitoring.pve;
            // Well-formed, so the config check passes it; but a multicast MAC (first octet odd) no NIC may have.
            (monitoring.network as Record<string, string>).hwaddr = "01:00:5E:00:00:01";
        });
        world = await startStack(workDir);
        const w = world;
        const m = mark(w.sim);
        const diagnostics = await failingUp(w.stack);
        // The engine prints the failing property's value by looking the dotted path up as a top-level key,
        // hence `{<nil>}` for a nested field.
        assert.deepEqual(diagnostics, [
            "  pulumi-nodejs:dynamic/proxmox:Lxc (monitoring-ct):",
            "    error: pulumi-nodejs:dynamic/proxmox:Lxc resource 'monitoring-ct': property networks.0.hwaddr " +
                "value {<nil>} has a problem: must be a unicast MAC (first octet even)",
        ]);
        assertUntouched(w.sim, m);
    });

    it("a resource the program declares with a relative File path: the File check stops up", async () => {
        devStackWithOnly(workDir, []);
        world = await startStack(workDir, async () => {
            new File("motd", { node: "pve", path: "etc/motd", content: "hello\n" });
        });
        const w = world;
        const m = mark(w.sim);
        const diagnostics = await failingUp(w.stack);
        assert.deepEqual(diagnostics, [
            "  pulumi-nodejs:dynamic/proxmox:File (motd):",
            "    error: pulumi-nodejs:dynamic/proxmox:File resource 'motd': property path value {etc/motd} has a " +
                "problem: must be an absolute path",
        ]);
        assertUntouched(w.sim, m);
    });
});
