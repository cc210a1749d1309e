/**
 * An interrupted run: `up` of the appliance-only dev stack is killed (SIGKILL: the CLI and the plugins it
 * started, as a crash or power loss would) once the simulator holds a container and before the run ends. Then
 * the documented recovery with the CLI itself (README "Recovering from an interrupted run"):
 *
 *   pulumi cancel --yes                          remove the lock the killed run left on the (file) backend
 *   pulumi refresh --clear-pending-creates --yes drop the creates that never reported back; read the rest
 *   pulumi up                                    create what is missing; containers are adopted by their owner tag
 *
 * and the result must be what a clean deploy makes: the same containers (vmid, hostname), bridges and files, no
 * container leaked or duplicated, no drift on refresh, and a following up without changes.
 */
import * as assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { engineBinDir } from "../../scripts/engine";
import { devStackWithOnly } from "./postgres";
import {
    changesOf,
    collect,
    mark,
    ofType,
    since,
    startWorld,
    stateResources,
    StateResource,
    verifyDeployed,
    World,
} from "./world";

/** What a deployment consists of, comparable across two deployments (generated secrets differ, so no hashes). */
interface Shape {
    containers: string[];
    bridges: string[];
    files: string[];
    execs: string[];
}

function shapeOf(resources: StateResource[]): Shape {
    const sorted = (xs: string[]) => [...xs].sort();
    return {
        containers: sorted(ofType(resources, "Lxc").map((r) => `${r.id} ${String(r.outputs?.hostname)}`)),
        bridges: sorted(ofType(resources, "Bridge").map((r) => String(r.outputs?.name))),
        files: sorted(
            ofType(resources, "File").map((r) => `${String(r.outputs?.vmid ?? "host")}:${String(r.outputs?.path)}`),
        ),
        execs: sorted(ofType(resources, "Exec").map((r) => r.urn)),
    };
}

/** The simulator's containers as `vmid hostname`, sorted. */
function simContainers(world: World): string[] {
    return [...world.sim.state.containers.entries()].map(([vmid, ct]) => `${vmid} ${String(ct.conf.hostname)}`).sort();
}

/** Parent pid and argv of a process, from /proc; undefined once it is gone. */
function procInfo(pid: number): { ppid: number; argv: string[]; cwd: string } | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        // The command name (field 2) is in parentheses and may hold spaces: fields after its closing one.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
        return { ppid, argv, cwd: fs.readlinkSync(`/proc/${pid}/cwd`) };
    } catch {
        return undefined;
    }
}

/** Every live process whose ancestry reaches `root`, with `root` first. */
function processTree(root: number): number[] {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const info = procInfo(Number(entry));
        if (info) children.set(info.ppid, [...(children.get(info.ppid) ?? []), Number(entry)]);
    }
    const out: number[] = [];
    const walk = (pid: number) => {
        out.push(pid);
        for (const c of children.get(pid) ?? []) walk(c);
    };
    walk(root);
    return out;
}

/** The `pulumi up` this test process started for the stack in `workDir` (a direct child running there). */
function findEngine(workDir: string): number | undefined {
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const info = procInfo(Number(entry));
        if (
            info?.ppid === process.pid &&
            path.basename(info.argv[0] ?? "") === "pulumi" &&
            info.argv[1] === "up" &&
            info.cwd === workDir
        )
            return Number(entry);
    }
    return undefined;
}

/** Runs the engine's CLI on the world's stack as a user would type it; resolves with its exit code and output. */
function pulumi(world: World, args: string[]): Promise<{ code: number; output: string }> {
    return new Promise((resolve) => {
        execFile(
            path.join(engineBinDir(), "pulumi"),
            [...args, "--stack", "dev", "--non-interactive"],
            {
                cwd: world.engine.workDir,
                env: { ...process.env, ...world.engine.env },
                encoding: "utf8",
                maxBuffer: 64 * 1024 * 1024,
            },
            (err, stdout, stderr) => {
                const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
                resolve({ code, output: stdout + stderr });
            },
        );
    });
}

describe("end to end: recovering from a killed up", function () {
    this.timeout(5 * 60_000);
    let world: World;
    let workDir: string;
    let clean: Shape;
    /** Containers the killed run had made (`vmid hostname`), and whether a create of theirs was left pending. */
    let leftBehind: string[];

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "phl-e2e-kill-"));
        world = await startWorld({ stackFile: devStackWithOnly(workDir, ["appliance"]) });
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
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("a clean deploy, for reference, then destroy", async () => {
        const up = await world.stack.up({ onOutput: collect(world) });
        assert.equal(up.summary.result, "succeeded");
        const resources = await stateResources(world.stack);
        assert.deepEqual(await verifyDeployed(world.sim, resources), []);
        clean = shapeOf(resources);
        assert.deepEqual(clean.containers, ["110 prox-appliance", "111 web"]);
        assert.deepEqual(simContainers(world), clean.containers);
        const down = await world.stack.destroy({ onOutput: collect(world) });
        assert.equal(down.summary.result, "succeeded");
        assert.deepEqual(simContainers(world), []);
    });

    it("SIGKILL of the engine mid-up leaves a container behind and the stack locked with pending creates", async () => {
        const running = world.stack.up({ onOutput: collect(world) });
        const outcome = running.then(
            () => "finished",
            (err: unknown) => err,
        );
        let finished = false;
        void outcome.then(() => (finished = true));
        while (world.sim.state.containers.size === 0 && !finished) await new Promise((r) => setTimeout(r, 25));
        assert.equal(finished, false, "up ended before the simulator held a container: nothing to interrupt");
        const engine = findEngine(world.engine.workDir);
        assert.ok(engine !== undefined, "the pulumi up process");
        // The CLI and everything it started (dynamic-provider host, plugins): a crash takes them all. Frozen
        // first, so it starts no plugin between the look at its children and the kill.
        process.kill(engine, "SIGSTOP");
        const tree = processTree(engine);
        for (const pid of tree) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                // already gone
            }
        }
        const err = await outcome;
        assert.notEqual(err, "finished");
        assert.ok(tree.length >= 2, `killed ${tree.join(", ")}`);
        leftBehind = [...world.sim.state.containers.keys()].map(String);
        assert.ok(leftBehind.length >= 1);

        // The engine recorded the container's create as begun and never heard back: it is pending, not in state.
        const state = await world.stack.exportStack();
        const pending =
            (state.deployment as { pending_operations?: { type: string; resource: StateResource }[] })
                .pending_operations ?? [];
        const pendingLxc = pending.filter((p) => p.type === "creating" && p.resource.type.endsWith(":Lxc"));
        assert.ok(pendingLxc.length >= 1, `pending operations: ${JSON.stringify(pending.map((p) => p.type))}`);
        const recorded = ofType(await stateResources(world.stack), "Lxc").map((r) => String(r.id));
        assert.ok(
            leftBehind.some((vmid) => !recorded.includes(vmid)),
            `a container the state does not know: sim ${leftBehind.join(",")}, state ${recorded.join(",")}`,
        );
        // The killed run never removed its lock: the next operation refuses until `pulumi cancel`.
        const blocked = await pulumi(world, ["refresh", "--yes"]);
        assert.notEqual(blocked.code, 0);
        assert.match(blocked.output, /the stack is currently locked by 1 lock\(s\)/);
    });

    it("cancel, refresh --clear-pending-creates and up converge to the clean deploy, adopting what was made", async () => {
        const cancel = await pulumi(world, ["cancel", "--yes"]);
        assert.equal(cancel.code, 0, cancel.output);
        const refresh = await pulumi(world, ["refresh", "--clear-pending-creates", "--yes"]);
        assert.equal(refresh.code, 0, refresh.output);
        const state = await world.stack.exportStack();
        assert.deepEqual((state.deployment as { pending_operations?: unknown[] }).pending_operations ?? [], []);

        const m = mark(world.sim);
        const up = await world.stack.up({ onOutput: collect(world) });
        assert.equal(up.summary.result, "succeeded");
        // What the killed run made was adopted (found by its owner tag), neither created again nor destroyed.
        const recreated = since(world.sim, m).writes.filter(
            (e) =>
                (e.method === "POST" && e.path === "/nodes/pve/lxc" && leftBehind.includes(e.params.vmid)) ||
                (e.method === "DELETE" && leftBehind.some((vmid) => e.path === `/nodes/pve/lxc/${vmid}`)),
        );
        assert.deepEqual(
            recreated.map((e) => `${e.method} ${e.path} ${e.params.vmid ?? ""}`),
            [],
        );
        const resources = await stateResources(world.stack);
        assert.deepEqual(await verifyDeployed(world.sim, resources), []);
        assert.deepEqual(shapeOf(resources), clean);
        // No container leaked (in the simulator but not in state) or duplicated.
        assert.deepEqual(simContainers(world), clean.containers);
        for (const b of clean.bridges) assert.equal(world.sim.state.network.has(b), true, `bridge ${b}`);
    });

    it("a following refresh finds no drift and a following up changes nothing", async () => {
        const refreshed = await world.stack.refresh({ onOutput: collect(world) });
        const drift = changesOf(refreshed.summary.resourceChanges);
        assert.deepEqual(drift, {}, `refresh changes: ${JSON.stringify(drift)}`);

        const m = mark(world.sim);
        const up = await world.stack.up({ onOutput: collect(world) });
        assert.deepEqual(changesOf(up.summary.resourceChanges), {});
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
});
