/**
 * `npm run demo`: the README's main job. Starts the bundled PVE simulator (state kept in .demo/ so a second
 * run sees the same "node"), configures the dev stack from the simulator's connection details (credentials
 * and fingerprints as secrets), and runs the whole program through the real Pulumi engine: preview, then up,
 * streaming the engine's progress. `npm run demo -- --destroy` tears it down.
 *
 * Flags: --destroy, --preview-only, --real-plugins (use installed random/tls plugins instead of the offline
 * stand-ins), --keep-running (leave the simulator up after the run, for poking at it).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureEngine, REPO_ROOT } from "./engine";
import { createEngineStack, prepareWorkDir } from "../tests/engine/harness";
import { startSimulator } from "../tests/pve-sim";
import { prepareSimulatorForStack } from "../tests/engine/dev-stack";
import { simulatorStackConfig } from "../tests/engine/sim-config";

const DEMO_DIR = path.join(REPO_ROOT, ".demo");

async function main(): Promise<void> {
    const flags = new Set(process.argv.slice(2));
    const destroy = flags.has("--destroy");
    const realPlugins = flags.has("--real-plugins");
    fs.mkdirSync(DEMO_DIR, { recursive: true });
    const workDir = path.join(DEMO_DIR, "stack");
    prepareWorkDir(workDir);
    fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), path.join(workDir, "Pulumi.dev.yaml"));

    const engine = await ensureEngine((line) => console.log(line));
    console.log("Starting the bundled Proxmox VE simulator (state in .demo/sim)...");
    // Fixed ports across runs: the engine records the provider configuration (endpoint, SSH port) in state and
    // `--destroy`, which does not run the program, connects with what was recorded.
    const portsFile = path.join(DEMO_DIR, "ports.json");
    const saved = fs.existsSync(portsFile)
        ? (JSON.parse(fs.readFileSync(portsFile, "utf8")) as { api: number; ssh: number })
        : undefined;
    const sim = await startSimulator({ stateDir: path.join(DEMO_DIR, "sim"), port: saved?.api, sshPort: saved?.ssh });
    fs.writeFileSync(portsFile, JSON.stringify({ api: Number(new URL(sim.url).port), ssh: sim.ssh.port }) + "\n");
    console.log(`  API ${sim.url}  node ${sim.node}  SSH ${sim.ssh.host}:${sim.ssh.port}`);
    // The simulator has no network: the files the stack fetches with curl are served from its backend.
    await prepareSimulatorForStack(sim, path.join(REPO_ROOT, "Pulumi.dev.yaml"));
    if (!realPlugins) {
        console.log(
            "Using the offline stand-ins for the random and tls plugins (tests/plugins); --real-plugins uses installed ones.",
        );
    }
    const { stack } = await createEngineStack({
        stackName: "dev",
        workDir,
        standinPlugins: !realPlugins,
        config: simulatorStackConfig(sim),
    });
    const onOutput = (out: string) => process.stdout.write(out);
    let interrupted = false;
    process.on("SIGINT", () => {
        // The CLI got the same SIGINT and stops gracefully; the next run clears what it left pending.
        interrupted = true;
        console.log(
            "\nInterrupted: the next `npm run demo` recovers (pending operations are cleared, then up converges).",
        );
    });
    try {
        await recoverPending(stack);
        if (destroy) {
            const r = await stack.destroy({ onOutput, color: "always" });
            console.log(`\nDestroyed: ${JSON.stringify(r.summary.resourceChanges ?? {})}`);
            return;
        }
        console.log("\n=== preview ===");
        await stack.preview({ onOutput, color: "always", diff: false });
        if (flags.has("--preview-only") || interrupted) return;
        console.log("\n=== up ===");
        const up = await stack.up({ onOutput, color: "always" });
        const changes = up.summary.resourceChanges ?? {};
        const changed = Object.entries(changes).filter(([op]) => op !== "same");
        console.log("\n=== summary ===");
        console.log(
            changed.length === 0
                ? "No changes: the homelab already matches the program."
                : `Changes: ${JSON.stringify(changes)}`,
        );
        for (const [key, out] of Object.entries(up.outputs)) {
            console.log(`  ${key}: ${out.secret ? "[secret]" : JSON.stringify(out.value)}`);
        }
        console.log(
            [
                "",
                "Admin passwords are secret outputs. To see them:",
                `  PULUMI_CONFIG_PASSPHRASE=proxmox-homelab-test-passphrase PULUMI_BACKEND_URL=file://${workDir}/.state \\`,
                `  PULUMI_HOME=${workDir}/.pulumi-home ${engine.pulumi} stack output --show-secrets -C ${workDir} -s dev`,
                "  (or: npm run demo -- --show-secrets)",
                "Tear down: npm run demo -- --destroy",
            ].join("\n"),
        );
        if (flags.has("--show-secrets")) {
            for (const [key, out] of Object.entries(up.outputs))
                if (out.secret) console.log(`  ${key}: ${JSON.stringify(out.value)}`);
        }
    } finally {
        if (!flags.has("--keep-running")) await sim.stop();
    }
}

/** Clears creates a killed run left pending; our providers adopt what those creates made, so up converges. */
async function recoverPending(stack: import("@pulumi/pulumi/automation").Stack): Promise<void> {
    const state = await stack.exportStack();
    const pending = (state.deployment as { pending_operations?: unknown[] }).pending_operations ?? [];
    if (pending.length > 0) {
        console.log(
            `Recovering from an interrupted run: clearing ${pending.length} pending operation(s), then refreshing.`,
        );
        await stack.refresh({ clearPendingCreates: true, onOutput: (o) => process.stdout.write(o) });
    }
}

main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
});
