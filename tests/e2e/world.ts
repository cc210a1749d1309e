/**
 * End-to-end fixture: the simulator (chroot backend: real file trees, stubbed package managers and daemons)
 * plus a stack of the unmodified program driven by the REAL Pulumi engine, with helpers that read both sides:
 * what the engine recorded (exported state) and what the simulator holds (containers, files, bridges, request
 * log, SSH journal).
 */
import * as auto from "@pulumi/pulumi/automation";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../../scripts/engine";
import { createEngineStack, EngineStack } from "../engine/harness";
import { prepareSimulatorForStack } from "../engine/dev-stack";
import { simulatorStackConfig } from "../engine/sim-config";
import { startSimulator, Simulator, SimulatorOptions } from "../pve-sim";

export const DYNAMIC = "pulumi-nodejs:dynamic/proxmox:";

export interface StateResource {
    urn: string;
    type: string;
    id?: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
    parent?: string;
    dependencies?: string[];
}

export interface World {
    sim: Simulator;
    engine: EngineStack;
    stack: auto.Stack;
    /** Every line the engine printed, across all operations (for the secrets check). */
    output: string[];
    /** The engine's event log (Automation API `onEvent`), as JSON, for operations run with `observe(world)`. */
    events: string[];
    stop(): Promise<void>;
}

export async function startWorld(
    opts: { sim?: SimulatorOptions; stackFile?: string; extraConfig?: Record<string, string> } = {},
): Promise<World> {
    const sim = await startSimulator({ taskDurationMs: { min: 10, max: 40 }, ...opts.sim });
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "phl-e2e-"));
    try {
        const stackFile = opts.stackFile ?? path.join(REPO_ROOT, "Pulumi.dev.yaml");
        fs.copyFileSync(stackFile, path.join(workDir, "Pulumi.dev.yaml"));
        await prepareSimulatorForStack(sim, stackFile);
        const engine = await createEngineStack({
            stackName: "dev",
            workDir,
            config: {
                ...simulatorStackConfig(sim),
                ...Object.fromEntries(Object.entries(opts.extraConfig ?? {}).map(([k, v]) => [k, { value: v }])),
            },
        });
        const output: string[] = [];
        return {
            sim,
            engine,
            stack: engine.stack,
            output,
            events: [],
            async stop() {
                await sim.stop();
                fs.rmSync(workDir, { recursive: true, force: true });
            },
        };
    } catch (err) {
        await sim.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
        throw err;
    }
}

/** Collects the engine's output of one operation into `world.output` (and nothing to the console). */
export function collect(world: World): (out: string) => void {
    return (out: string) => world.output.push(out);
}

/** Operation options that keep both the engine's output and its event log in the world. */
export function observe(world: World): { onOutput: (out: string) => void; onEvent: (e: auto.EngineEvent) => void } {
    return { onOutput: collect(world), onEvent: (e) => world.events.push(JSON.stringify(e)) };
}

export async function stateResources(stack: auto.Stack): Promise<StateResource[]> {
    const state = await stack.exportStack();
    return ((state.deployment as { resources?: StateResource[] }).resources ?? []) as StateResource[];
}

export function ofType(resources: StateResource[], type: string): StateResource[] {
    return resources.filter((r) => r.type === DYNAMIC + type);
}

/** Resource changes of an operation without the `same` count. */
export function changesOf(summary: Record<string, number> | undefined): Record<string, number> {
    return Object.fromEntries(Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && n > 0));
}

/** Marks the request log and SSH journal so a later call can count what happened since. */
export function mark(sim: Simulator): { requests: number; commands: number } {
    const all = sim.requestLog.all();
    const journal = sim.sshJournal;
    return {
        requests: all.length === 0 ? 0 : all[all.length - 1].seq,
        commands: journal.length === 0 ? 0 : journal[journal.length - 1].seq,
    };
}

export function since(sim: Simulator, m: { requests: number; commands: number }) {
    const requests = sim.requestLog.all().filter((e) => e.seq > m.requests);
    const commands = sim.sshJournal.filter((e) => e.seq > m.commands);
    return {
        reads: requests.filter((e) => e.method === "GET"),
        writes: requests.filter((e) => e.method !== "GET"),
        commands,
        changingCommands: commands.filter((e) => e.changing),
    };
}

export function sha256(data: Buffer | string): string {
    return createHash("sha256").update(data).digest("hex");
}

/**
 * Checks the simulator against the engine's state: every container running with its recorded hostname and
 * memory, every file present with the recorded hash, mode and owner, every bridge active. Returns problems.
 */
export async function verifyDeployed(sim: Simulator, resources: StateResource[]): Promise<string[]> {
    const problems: string[] = [];
    for (const r of ofType(resources, "Lxc")) {
        const o = r.outputs ?? {};
        const vmid = Number(r.id);
        const ct = sim.state.containers.get(vmid);
        if (!ct) {
            problems.push(`${r.urn}: CT ${vmid} missing`);
            continue;
        }
        if (!ct.running) problems.push(`${r.urn}: CT ${vmid} not running`);
        if (ct.conf.hostname !== o.hostname)
            problems.push(`${r.urn}: hostname ${ct.conf.hostname} != ${String(o.hostname)}`);
    }
    for (const r of ofType(resources, "File")) {
        const o = r.outputs ?? {};
        const vmid = typeof o.vmid === "number" ? o.vmid : undefined;
        const file = String(o.path);
        try {
            const data =
                vmid === undefined
                    ? (await sim.backend.hostExec(["cat", file])).stdout
                    : await sim.backend.pull(vmid, file);
            if (sha256(data) !== o.sha256) problems.push(`${r.urn}: ${file} has another content than recorded`);
        } catch (err) {
            problems.push(`${r.urn}: ${file} unreadable: ${String(err)}`);
        }
    }
    for (const r of ofType(resources, "Bridge")) {
        const name = String(r.outputs?.name);
        if (!sim.state.network.has(name)) problems.push(`${r.urn}: bridge ${name} not active`);
    }
    if (sim.state.pendingNetwork !== undefined) problems.push("network changes left pending on the node");
    return problems;
}
