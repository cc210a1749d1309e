/**
 * Seeded fault campaign through the real engine: each run deploys the dev stack while the simulator fails ONE
 * request or command at a random point of the deploy, then runs a clean `up`. The final simulator state must
 * equal a clean deploy's (same containers, files and bridges; nothing leaked or duplicated) and a refresh then
 * shows no drift. `FAULT_RUNS` runs (default 20; `npm run test:faults` runs 100), seeds from `FAULT_SEED`
 * (default 1). A failing run prints its seed and fault so it can be replayed alone:
 * `FAULT_SEED=<seed> FAULT_RUNS=1 npx mocha tests/e2e/faults.test.ts`.
 */
import * as assert from "node:assert/strict";
import type { Simulator } from "../pve-sim";
import { changesOf, collect, ofType, stateResources, StateResource, startWorld, verifyDeployed, World } from "./world";

const RUNS = Number(process.env.FAULT_RUNS ?? 20);
const FIRST_SEED = Number(process.env.FAULT_SEED ?? 1);

/** mulberry32: a small deterministic PRNG, so a seed replays the same fault. */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/**
 * A RegExp whose `test` matches only the n-th string it is asked about: "fail the n-th request/command". The
 * simulator's fault rules test the method first, then the path with this, so with a method it counts only those.
 */
function nth(n: number): RegExp {
    let seen = 0;
    const re = /^/;
    re.test = () => ++seen === n;
    return re;
}

/** What a clean deploy leaves in the simulator, in a comparable form. */
async function snapshot(sim: Simulator, resources: StateResource[]): Promise<Record<string, unknown>> {
    const containers = [...sim.state.containers.values()]
        .map((c) => `${c.vmid} ${c.conf.hostname} ${c.running ? "running" : "stopped"}`)
        .sort();
    const files = ofType(resources, "File")
        .map((f) => `${String(f.outputs?.vmid ?? "host")}:${String(f.outputs?.path)} ${String(f.outputs?.mode)}`)
        .sort();
    const bridges = ofType(resources, "Bridge")
        .map((b) => String(b.outputs?.name))
        .sort();
    return { containers, files, bridges };
}

interface Fault {
    describe: string;
    inject(sim: Simulator): void;
    /** Stack config for the faulted up only (bare keys); the recovery up runs without it. */
    config?: Record<string, string>;
    /** What the faulted up must report (proof that the fault was exercised), when a kind can say. */
    expect?: RegExp;
}

/** The task timeout of the "slow task" fault, and how long the slowed task then runs. */
const SHORT_TASK_TIMEOUT_S = 2;
const SLOW_TASK_MS = 6000;

interface Totals {
    requests: number;
    posts: number;
    puts: number;
    commands: number;
}

type FaultKind = (rand: () => number, totals: Totals) => Fault;

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)];
const index = (rand: () => number, total: number) => 1 + Math.floor(rand() * Math.max(1, total));

const KINDS: FaultKind[] = [
    (rand, t) => {
        const method = pick(rand, ["POST", "PUT"] as const);
        const n = index(rand, method === "POST" ? t.posts : t.puts);
        const [status, message] = pick(rand, [
            [500, "got timeout"],
            [596, "Connection timed out"],
            [595, "Connection refused"],
            [500, "can't lock file '/run/lock/lxc/pve-config-100.lock' - got timeout"],
            [500, "CT is locked (create)"],
            [503, "Service Unavailable"],
        ] as const);
        return {
            describe: `${method} request #${n} answered ${status} ${message}`,
            inject: (sim) => sim.faults.failNext({ method, path: nth(n), status, message }),
        };
    },
    (rand, t) => {
        const n = index(rand, t.requests);
        const [status, message] = pick(rand, [
            [596, "Connection timed out"],
            [500, "got timeout"],
        ] as const);
        return {
            describe: `request #${n} (any method) answered ${status} ${message}`,
            inject: (sim) => sim.faults.failNext({ path: nth(n), status, message }),
        };
    },
    (rand, t) => {
        const n = index(rand, t.requests);
        return { describe: `request #${n} dropped`, inject: (sim) => sim.faults.dropNext({ path: nth(n) }) };
    },
    (rand) => {
        const type = pick(rand, ["vzcreate", "vzstart", "srvreload", "vzreboot"]);
        return {
            describe: `the next ${type} task fails`,
            inject: (sim) => sim.faults.failNextTask({ type, exitstatus: `${type} failed: simulated fault` }),
        };
    },
    (rand, t) => {
        const n = index(rand, t.commands);
        const when = pick(rand, ["before", "after"] as const);
        return {
            describe: `SSH connection dropped ${when} command #${n}`,
            inject: (sim) => sim.faults.ssh.drop!.push({ match: nth(n), when }),
        };
    },
    (rand, t) => {
        const n = index(rand, t.commands);
        return {
            describe: `SSH command #${n} fails (exit 255, lost connection to the CT)`,
            inject: (sim) =>
                sim.faults.ssh.fail!.push({
                    match: nth(n),
                    exitCode: 255,
                    stderr: "lxc-attach: failed to get init pid\n",
                }),
        };
    },
    (rand) => {
        // The task is still running when the provider stops waiting: the resource must be recorded or
        // adoptable, and the next up (with the default timeouts) must wait for it rather than fight its lock.
        const type = pick(rand, ["vzcreate", "vzstart", "srvreload"]);
        return {
            describe: `the next ${type} task runs ${SLOW_TASK_MS} ms, past a ${SHORT_TASK_TIMEOUT_S} s task timeout`,
            config: { pveTaskTimeoutSeconds: String(SHORT_TASK_TIMEOUT_S) },
            expect: new RegExp(`did not finish within (${SHORT_TASK_TIMEOUT_S} s|${SHORT_TASK_TIMEOUT_S * 1000} ms)`),
            inject: (sim) => sim.faults.slowTasks({ type, durationMs: SLOW_TASK_MS, count: 1 }),
        };
    },
];

describe("end to end: seeded fault campaign on the real engine", function () {
    this.timeout(0);
    let reference: Record<string, unknown>;
    let totals: Totals;

    before(async function () {
        this.timeout(10 * 60_000);
        const world = await startWorld();
        try {
            await world.stack.up({ onOutput: collect(world) });
            reference = await snapshot(world.sim, await stateResources(world.stack));
            const all = world.sim.requestLog.all();
            totals = {
                requests: all.length,
                posts: all.filter((e) => e.method === "POST").length,
                puts: all.filter((e) => e.method === "PUT").length,
                commands: world.sim.sshJournal.length,
            };
            await world.stack.destroy({ onOutput: collect(world) });
        } finally {
            await world.stop();
        }
    });

    for (let seed = FIRST_SEED; seed < FIRST_SEED + RUNS; seed++) {
        it(`seed ${seed}: one fault during up, then a clean up converges with nothing leaked`, async function () {
            this.timeout(10 * 60_000);
            const rand = prng(seed);
            const fault = pick(rand, KINDS)(rand, totals);
            const world: World = await startWorld({ extraConfig: fault.config });
            let ok = false;
            try {
                world.sim.faults.ssh.drop ??= [];
                world.sim.faults.ssh.fail ??= [];
                fault.inject(world.sim);
                let faulted = "";
                try {
                    await world.stack.up({ onOutput: (out) => (faulted += out) });
                } catch (err) {
                    // Whether the faulted up fails or rides the fault out (retries), the clean up must converge.
                    faulted += String(err);
                }
                if (fault.expect) {
                    assert.match(
                        faulted,
                        fault.expect,
                        `the fault was exercised; the faulted up ended with:\n${faulted.split("\n").slice(-40).join("\n")}`,
                    );
                }
                world.sim.faults.clear();
                world.sim.faults.ssh.drop!.length = 0;
                world.sim.faults.ssh.fail!.length = 0;
                for (const key of Object.keys(fault.config ?? {})) {
                    await world.stack.removeConfig(`proxmox-homelab:${key}`);
                }
                await recover(world);
                const up = await world.stack.up({ onOutput: collect(world) });
                assert.equal(up.summary.result, "succeeded");
                const resources = await stateResources(world.stack);
                assert.deepEqual(await verifyDeployed(world.sim, resources), []);
                assert.deepEqual(await snapshot(world.sim, resources), reference);
                const refresh = await world.stack.refresh({ onOutput: collect(world) });
                assert.deepEqual(changesOf(refresh.summary.resourceChanges), {}, "refresh shows no drift");
                ok = true;
            } finally {
                if (!ok) console.error(`    fault campaign: seed ${seed} failed; fault: ${fault.describe}`);
                try {
                    await world.stack.destroy({ onOutput: collect(world) });
                } catch {
                    // reported above
                }
                await world.stop();
            }
        });
    }
});

/** What a user does after a failed up: pending operations of a run that died are cleared (none expected here). */
async function recover(world: World): Promise<void> {
    const state = await world.stack.exportStack();
    const pending = (state.deployment as { pending_operations?: unknown[] }).pending_operations ?? [];
    if (pending.length > 0) await world.stack.refresh({ clearPendingCreates: true, onOutput: collect(world) });
}
