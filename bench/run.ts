/**
 * `npm run bench`: the program through the real Pulumi engine against the simulator with realistic delays, for the
 * dev stack and for the appliance with 10, 50 and 200 apps. Measures the wall time of a preview on a fresh stack, a
 * deploy, a no-op up and a preview without changes; API requests, SSH commands and connections; the peak RSS and
 * CPU time of the engine and the dynamic-provider host; and the deploy's critical-path bound (bench/critical-path.ts).
 * Writes bench/results/<date>-<scenario>.json and bench/RESULTS.md. See bench/README.md.
 *
 *   npm run bench                   everything (about 15 minutes on 2 cores)
 *   npm run bench -- --quick        without the 200-app appliance
 *   npm run bench -- --only dev,apps-10
 */
import type * as auto from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PULUMI_VERSION, REPO_ROOT } from "../scripts/engine";
import { SSH_POOL_DEFAULTS } from "../providers/ssh/pool";
import type { Simulator } from "../tests/pve-sim";
import type { TaskManager } from "../tests/pve-sim/tasks";
import { mark, since, startWorld, stateResources, type World } from "../tests/e2e/world";
import {
    attribute,
    longestChain,
    type CommandOp,
    type GraphResource,
    type OpTrace,
    type RequestOp,
    type StepWindow,
    type TaskOp,
} from "./critical-path";
import { startCountingProxy, type CountingProxy } from "./proxy";
import { ownCpuSeconds, watchProcesses, type ProcessKind, type ProcessSummary } from "./procs";
import { renderResults } from "./report";
import { writeApplianceStack } from "./stacks";

/**
 * The simulated node's timing. Request latency is a LAN's (pveproxy over TLS with keep-alive answers in 10–20 ms).
 * Tasks and SSH steps are about a quarter of what a real node on SSD/ZFS takes (vzcreate from a Debian template
 * ~8 s, vzstart ~2 s, ifreload ~2 s, the start of a `pct exec` ~0.4 s: perl plus lxc-attach), so that the whole
 * bench fits in about 15 minutes; the ratios do not depend on the scale as long as the engine's own costs are
 * small next to them (the results say where they are not).
 */
export const MODEL = {
    scale: "tasks and SSH steps at ~1/4 of a real node's durations; request latency as on a LAN (not scaled)",
    requestLatencyMs: 15,
    sshCommandDelayMs: 100,
    /** Every task type not listed below. */
    defaultTaskMs: 250,
    taskMs: {
        vzcreate: 2000,
        vzstart: 500,
        vzshutdown: 750,
        vzstop: 250,
        vzreboot: 1000,
        vzdestroy: 500,
        srvreload: 500,
        download: 2500,
        resize: 250,
        imgdel: 250,
    } as Record<string, number>,
};

/** What the SSH pool does (providers/ssh/pool.ts DEFAULTS): close a connection this long after its last channel. */
const SSH_IDLE_TIMEOUT_MS = SSH_POOL_DEFAULTS.idleTimeoutMs;

const DYNAMIC = "pulumi-nodejs:dynamic/proxmox:";

export interface OperationMeasure {
    wallMs: number;
    changes: Record<string, number>;
    /** `taskPolls`: the reads that were task status polls (GET /nodes/{node}/tasks/{upid}/status). */
    apiRequests: { reads: number; writes: number; total: number; taskPolls: number };
    /** HTTPS connections the providers opened to the API. */
    apiConnections: number;
    sshCommands: { total: number; changing: number };
    sshConnections: number;
    processes: Record<ProcessKind, ProcessSummary>;
    /** CPU seconds of this process: the simulator and the program (the Automation API runs it in-process). */
    benchProcessCpuSeconds: number;
    /**
     * CPU seconds of every other process: the commands the simulator runs in its containers and the random/tls
     * plugins (this process's reaped children, less the engine and provider host counted above).
     */
    otherProcessesCpuSeconds: number;
}

export interface DeployAnalysis {
    /** up() called → first PVE resource's step started, ms: CLI start, program run, plugin start-up. */
    engineStartMs: number;
    /** First PVE step started → last PVE step ended, ms. */
    stepSpanMs: number;
    /** Last PVE step ended → up() returned, ms: the rest of the graph, outputs, the last checkpoint, CLI exit. */
    engineFinishMs: number;
    criticalPath: {
        lengthMs: number;
        resources: number;
        /** The chain, with each step's window as the engine's events report it (ms after up() was called). */
        chain: { urn: string; weightMs: number; stepStartMs?: number; stepEndMs?: number }[];
        /**
         * How the chain's wall time splits: `leadMs` from the first PVE step to the chain's first step, `inStepMs`
         * the chain steps' durations beyond their PVE/SSH weight (provider host, SSH queueing, engine RPCs),
         * `betweenStepsMs` from one chain step's end to the next one's start (the engine noticing the end, the
         * program resolving outputs and registering the next resource, check/diff).
         */
        overheads: { leadMs: number; inStepMs: number; betweenStepsMs: number };
    };
    /** The longest chain again, each resource weighted by its step's duration as the engine's events report it. */
    stepChainMs: number;
    totalWorkMs: number;
    /** Engine parallelism (the CLI's default: 4 × CPUs). */
    parallel: number;
    /** max(critical path, total work / parallel): no schedule with `parallel` workers can be faster. */
    parallelBoundMs: number;
    unattributed: { requests: number; tasks: number; commands: number };
    /** Gaps longer than the SSH pool's idle timeout between one command's end and the next one's start. */
    sshIdleGaps: number;
    /** srvreload tasks (one network apply per Bridge; they run one after another under the network lock). */
    networkApplies: number;
    /**
     * PVE tasks by type: how many, the modelled duration and the median measured one (the modelled sleep plus the
     * simulator's own work, e.g. building a container's tree, which competes with the engine for the CPUs).
     */
    tasks: Record<string, { count: number; modelledMs: number; medianMs: number }>;
    ratios: {
        wallToCriticalPath: number;
        stepSpanToCriticalPath: number;
        wallToParallelBound: number;
    };
}

export interface ScenarioResult {
    scenario: string;
    description: string;
    apps?: number;
    date: string;
    machine: { cpus: number; node: string; pulumi: string; platform: string };
    /**
     * The machine's 1-minute load average before the scenario and after it. The bench wants the machine to itself;
     * a load well above the number of CPUs before it started means someone else's work was running too.
     */
    load: { before: number; after: number };
    model: typeof MODEL;
    /** Non-default engine settings of this run (`--parallel`, `--engine-env`); empty for the reference figures. */
    engineOptions: { parallel?: number; env: Record<string, string> };
    resources: { total: number; dynamic: number; byType: Record<string, number> };
    setupMs: number;
    previewFresh: OperationMeasure;
    deploy: OperationMeasure & { analysis: DeployAnalysis };
    noopUp: OperationMeasure;
    previewNoChanges: OperationMeasure;
    perResource: {
        deployApiRequests: number;
        deploySshCommands: number;
        deploySshConnections: number;
        deployWallMs: number;
    };
    targets: Record<string, { met: boolean; value: string; why?: string }>;
}

interface Options {
    quick: boolean;
    /** Also write every step window, request, task and SSH command of each deploy (<day>-<scenario>-trace.json). */
    trace: boolean;
    only?: Set<string>;
    outDir: string;
    /** `--parallel N`: passed to every engine operation (default: the CLI's own, 4 × CPUs). */
    parallel?: number;
    /** `--engine-env K=V`: extra environment for the CLI (e.g. PULUMI_SKIP_CHECKPOINTS=true), for diagnosis. */
    engineEnv: Record<string, string>;
    /** `--render <day>`: only rewrite RESULTS.md from that day's results files. */
    render?: string;
}

function parseArgs(argv: string[]): Options {
    const opts: Options = {
        quick: false,
        trace: false,
        outDir: path.join(REPO_ROOT, "bench", "results"),
        engineEnv: {},
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === "--quick") opts.quick = true;
        else if (a === "--trace") opts.trace = true;
        else if (a === "--only") opts.only = new Set(argv[++i].split(","));
        else if (a === "--out") opts.outDir = path.resolve(argv[++i]);
        else if (a === "--parallel") opts.parallel = Number(argv[++i]);
        else if (a === "--render") opts.render = argv[++i];
        else if (a === "--engine-env") {
            const [key, ...value] = argv[++i].split("=");
            opts.engineEnv[key] = value.join("=");
        } else {
            throw new Error(
                `unknown argument ${a} (known: --quick, --only <names>, --out <dir>, --trace, --parallel <n>, --engine-env K=V, --render <day>)`,
            );
        }
    }
    return opts;
}

function round(x: number, digits = 2): number {
    const f = 10 ** digits;
    return Math.round(x * f) / f;
}

/** Records every task the simulator runs, with its start and end (the simulator keeps only the start second). */
function recordTasks(sim: Simulator): TaskOp[] {
    const tasks: TaskOp[] = [];
    const manager: TaskManager = sim.state.tasks;
    const start = manager.start.bind(manager);
    manager.start = (...args: Parameters<TaskManager["start"]>) => {
        const began = Date.now();
        const task = start(...args);
        void task.done.then(() =>
            tasks.push({ upid: task.upid, type: task.type, id: task.id, start: began, end: Date.now() }),
        );
        return task;
    };
    return tasks;
}

function armDelays(sim: Simulator): void {
    sim.faults.latency({ ms: MODEL.requestLatencyMs });
    for (const [type, durationMs] of Object.entries(MODEL.taskMs)) {
        sim.faults.slowTasks({ type: new RegExp(`^${type}$`), durationMs });
    }
    sim.faults.ssh.delay = [{ match: /^/, count: Infinity, ms: MODEL.sshCommandDelayMs }];
}

interface Bench {
    world: World;
    parallel?: number;
    ssh: CountingProxy;
    api: CountingProxy;
    tasks: TaskOp[];
}

interface RawOperation {
    measure: OperationMeasure;
    trace: OpTrace;
    windows: Map<string, StepWindow>;
    startedAt: number;
    endedAt: number;
}

async function operation(bench: Bench, kind: "up" | "preview", label: string): Promise<RawOperation> {
    const { world } = bench;
    const m = mark(world.sim);
    const ssh0 = bench.ssh.connections;
    const api0 = bench.api.connections;
    const tasks0 = bench.tasks.length;
    const windows = new Map<string, StepWindow>();
    const onEvent = (e: auto.EngineEvent): void => {
        const now = Date.now();
        const pre = e.resourcePreEvent?.metadata;
        if (pre && pre.op !== "same") windows.set(pre.urn, { start: now, end: now });
        const done = e.resOutputsEvent?.metadata ?? e.resOpFailedEvent?.metadata;
        if (done && windows.has(done.urn)) windows.get(done.urn)!.end = now;
    };
    const watch = watchProcesses(world.engine.workDir);
    const cpu0 = ownCpuSeconds();
    const startedAt = Date.now();
    process.stdout.write(`  ${label}... `);
    let changes: Record<string, number>;
    if (kind === "up") {
        const r = await world.stack.up({ onEvent, parallel: bench.parallel });
        if (r.summary.result !== "succeeded") throw new Error(`${label}: ${r.summary.result}`);
        changes = { ...(r.summary.resourceChanges ?? {}) };
    } else {
        const r = await world.stack.preview({ onEvent, parallel: bench.parallel });
        changes = { ...(r.changeSummary ?? {}) };
    }
    const endedAt = Date.now();
    const cpu1 = ownCpuSeconds();
    const processes = watch.stop();
    const seen = since(world.sim, m);
    const requests: RequestOp[] = [...seen.reads, ...seen.writes].map((e) => ({
        time: Date.parse(e.time),
        method: e.method,
        path: e.path,
        params: e.params,
    }));
    const commands: CommandOp[] = seen.commands.map((c) => ({
        time: Date.parse(c.time),
        vmid: c.vmid,
        durationMs: c.durationMs ?? 0,
    }));
    const measure: OperationMeasure = {
        wallMs: endedAt - startedAt,
        changes: Object.fromEntries(Object.entries(changes).filter(([, n]) => n > 0)),
        apiRequests: {
            reads: seen.reads.length,
            writes: seen.writes.length,
            total: requests.length,
            taskPolls: seen.reads.filter((e) => /^\/nodes\/[^/]+\/tasks\/[^/]+\/status$/.test(e.path)).length,
        },
        apiConnections: bench.api.connections - api0,
        sshCommands: { total: seen.commands.length, changing: seen.changingCommands.length },
        sshConnections: bench.ssh.connections - ssh0,
        processes,
        benchProcessCpuSeconds: round(cpu1.self - cpu0.self, 1),
        otherProcessesCpuSeconds: round(
            Math.max(
                0,
                cpu1.children - cpu0.children - processes.engine.cpuSeconds - processes.dynamicProvider.cpuSeconds,
            ),
            1,
        ),
    };
    console.log(`${(measure.wallMs / 1000).toFixed(1)} s`);
    return {
        measure,
        trace: { requests, tasks: bench.tasks.slice(tasks0), commands },
        windows,
        startedAt,
        endedAt,
    };
}

/** Gaps with no SSH command running that are longer than the pool's idle timeout (each one costs a reconnect). */
export function sshIdleGaps(commands: CommandOp[], idleMs: number): number {
    const sorted = [...commands].sort((a, b) => a.time - b.time);
    let gaps = 0;
    let busyUntil = -Infinity;
    for (const c of sorted) {
        if (busyUntil !== -Infinity && c.time - busyUntil > idleMs) gaps++;
        busyUntil = Math.max(busyUntil, c.time + c.durationMs);
    }
    return gaps;
}

function taskStats(tasks: TaskOp[]): DeployAnalysis["tasks"] {
    const out: DeployAnalysis["tasks"] = {};
    for (const type of [...new Set(tasks.map((t) => t.type))].sort()) {
        const ds = tasks
            .filter((t) => t.type === type)
            .map((t) => t.end - t.start)
            .sort((a, b) => a - b);
        out[type] = {
            count: ds.length,
            modelledMs: MODEL.taskMs[type] ?? MODEL.defaultTaskMs,
            medianMs: ds[Math.floor(ds.length / 2)],
        };
    }
    return out;
}

function analyse(resources: GraphResource[], raw: RawOperation, parallelOption?: number): DeployAnalysis {
    const attribution = attribute(resources, raw.trace, raw.windows, { requestLatencyMs: MODEL.requestLatencyMs });
    const cp = longestChain(resources, (urn) => attribution.weights.get(urn) ?? 0);
    const stepChain = longestChain(resources, (urn) => {
        const w = raw.windows.get(urn);
        return w ? w.end - w.start : 0;
    });
    const pve = resources.filter((r) => r.type.startsWith(DYNAMIC) && raw.windows.has(r.urn));
    const windows = pve.map((r) => raw.windows.get(r.urn)!);
    const firstStart = Math.min(...windows.map((w) => w.start));
    const lastEnd = Math.max(...windows.map((w) => w.end));
    const parallel = parallelOption ?? (Number(process.env.PULUMI_PARALLEL) || 4 * os.cpus().length);
    const parallelBoundMs = Math.max(cp.lengthMs, attribution.totalWorkMs / parallel);
    const wallMs = raw.endedAt - raw.startedAt;
    const chain = cp.chain.map((l) => {
        const w = raw.windows.get(l.urn);
        return {
            urn: l.urn.split("::").pop()!,
            weightMs: Math.round(l.weightMs),
            stepStartMs: w ? w.start - raw.startedAt : undefined,
            stepEndMs: w ? w.end - raw.startedAt : undefined,
        };
    });
    const overheads = { leadMs: 0, inStepMs: 0, betweenStepsMs: 0 };
    chain.forEach((link, i) => {
        if (link.stepStartMs === undefined || link.stepEndMs === undefined) return;
        if (i === 0) overheads.leadMs = Math.max(0, link.stepStartMs - (firstStart - raw.startedAt));
        overheads.inStepMs += Math.max(0, link.stepEndMs - link.stepStartMs - link.weightMs);
        const prev = chain[i - 1];
        if (prev?.stepEndMs !== undefined) overheads.betweenStepsMs += Math.max(0, link.stepStartMs - prev.stepEndMs);
    });
    return {
        engineStartMs: firstStart - raw.startedAt,
        stepSpanMs: lastEnd - firstStart,
        engineFinishMs: raw.endedAt - lastEnd,
        criticalPath: { lengthMs: Math.round(cp.lengthMs), resources: chain.length, chain, overheads },
        stepChainMs: Math.round(stepChain.lengthMs),
        totalWorkMs: Math.round(attribution.totalWorkMs),
        parallel,
        parallelBoundMs: Math.round(parallelBoundMs),
        unattributed: attribution.unattributed,
        sshIdleGaps: sshIdleGaps(raw.trace.commands, SSH_IDLE_TIMEOUT_MS),
        networkApplies: raw.trace.tasks.filter((t) => t.type === "srvreload").length,
        tasks: taskStats(raw.trace.tasks),
        ratios: {
            wallToCriticalPath: round(wallMs / cp.lengthMs),
            stepSpanToCriticalPath: round((lastEnd - firstStart) / cp.lengthMs),
            wallToParallelBound: round(wallMs / parallelBoundMs),
        },
    };
}

/** Every step window, request, task and SSH command of a deploy, in ms after up() was called. */
function writeTrace(file: string, resources: GraphResource[], raw: RawOperation): void {
    const t = (ms: number): number => ms - raw.startedAt;
    const types = new Map(resources.map((r) => [r.urn, r.type]));
    const trace = {
        steps: [...raw.windows]
            .map(([urn, w]) => ({ urn, type: types.get(urn), start: t(w.start), end: t(w.end) }))
            .sort((a, b) => a.start - b.start),
        requests: raw.trace.requests.map((r) => ({ time: t(r.time), method: r.method, path: r.path })),
        tasks: raw.trace.tasks.map((k) => ({ ...k, start: t(k.start), end: t(k.end) })),
        commands: raw.trace.commands.map((c) => ({ ...c, time: t(c.time) })),
    };
    fs.writeFileSync(file, JSON.stringify(trace, null, 1) + "\n");
}

function targetsOf(r: Omit<ScenarioResult, "targets">): ScenarioResult["targets"] {
    const a = r.deploy.analysis;
    const targets: ScenarioResult["targets"] = {};
    const noop = r.noopUp;
    targets.noopOnlyReads = {
        met: noop.apiRequests.writes === 0 && noop.sshCommands.changing === 0,
        value: `${noop.apiRequests.reads} reads, ${noop.apiRequests.writes} writes, ${noop.sshCommands.changing} changing SSH commands`,
    };
    const conns = r.deploy.sshConnections;
    targets.oneSshConnectionPerHost = {
        met: conns === 1,
        value: `${conns} SSH connection(s) to the one node`,
        why:
            conns > 1
                ? a.sshIdleGaps > 0
                    ? `${a.sshIdleGaps} gap(s) of more than ${SSH_IDLE_TIMEOUT_MS / 1000} s with no SSH command ` +
                      "running (while PVE tasks ran): the pool closes a connection idle that long " +
                      "(providers/ssh/pool.ts idleTimeoutMs) and the next command connects again"
                    : "no idle gap longer than the pool's idle timeout: a connection was dropped or refused " +
                      "(see the trace)"
                : undefined,
    };
    const ratio = a.ratios.wallToCriticalPath;
    const reasons: string[] = [];
    if (ratio > 1.3) {
        const sec = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
        const o = a.criticalPath.overheads;
        reasons.push(
            `engine start-up to the first PVE step ${sec(a.engineStartMs)} and wrap-up ${sec(a.engineFinishMs)} ` +
                `(first to last PVE step: ${a.ratios.stepSpanToCriticalPath}x the bound)`,
        );
        if (a.parallelBoundMs > a.criticalPath.lengthMs * 1.05) {
            reasons.push(
                `all PVE/SSH work ${sec(a.totalWorkMs)} over the engine's ${a.parallel} parallel steps is ` +
                    `${sec(a.totalWorkMs / a.parallel)}, more than the chain (wall / that bound ${a.ratios.wallToParallelBound}x)`,
            );
        }
        reasons.push(
            `along the chain's ${a.criticalPath.resources} steps: ${sec(o.betweenStepsMs)} between one step's end and ` +
                `the next one's start, ${sec(o.inStepMs)} inside steps beyond their PVE/SSH time` +
                (o.leadMs > 200 ? `, ${sec(o.leadMs)} before the chain's first step` : ""),
        );
        if (a.networkApplies > 1) {
            reasons.push(`${a.networkApplies} bridges applied one after another (one srvreload each, network lock)`);
        }
        reasons.push(
            `CPU on ${r.machine.cpus} cores: engine ${r.deploy.processes.engine.cpuSeconds} s, provider host ` +
                `${r.deploy.processes.dynamicProvider.cpuSeconds} s, program + simulator ${r.deploy.benchProcessCpuSeconds} s, ` +
                `container commands and plugins ${r.deploy.otherProcessesCpuSeconds} s`,
        );
    }
    targets.deployWithin1_3xCriticalPath = {
        met: ratio <= 1.3,
        value: `${ratio}x (${(r.deploy.wallMs / 1000).toFixed(1)} s / ${(a.criticalPath.lengthMs / 1000).toFixed(1)} s)`,
        why: reasons.length > 0 ? reasons.join("; ") : undefined,
    };
    return targets;
}

async function runScenario(
    scenario: string,
    description: string,
    stackFile: string,
    apps: number | undefined,
    opts: Pick<Options, "parallel" | "engineEnv">,
    traceFile?: string,
): Promise<ScenarioResult> {
    console.log(`${scenario}: ${description}`);
    const loadBefore = round(os.loadavg()[0]);
    const setupStart = Date.now();
    const world = await startWorld({
        stackFile,
        sim: { taskDurationMs: { min: MODEL.defaultTaskMs, max: MODEL.defaultTaskMs } },
    });
    let ssh: CountingProxy | undefined;
    let api: CountingProxy | undefined;
    try {
        armDelays(world.sim);
        const tasks = recordTasks(world.sim);
        ssh = await startCountingProxy(world.sim.ssh.port);
        api = await startCountingProxy(Number(new URL(world.sim.url).port));
        await world.stack.setAllConfig({
            "proxmox-homelab:sshPort": { value: String(ssh.port) },
            "proxmox-homelab:pveEndpoint": { value: `https://127.0.0.1:${api.port}` },
        });
        // The workspace passes its envVars to every CLI it starts.
        Object.assign((world.stack.workspace as auto.LocalWorkspace).envVars, opts.engineEnv);
        const bench: Bench = { world, ssh, api, tasks, parallel: opts.parallel };
        const setupMs = Date.now() - setupStart;

        const previewFresh = await operation(bench, "preview", "preview (fresh stack)");
        const deployRaw = await operation(bench, "up", "deploy");
        const resources = (await stateResources(world.stack)) as GraphResource[];
        if (traceFile) writeTrace(traceFile, resources, deployRaw);
        const noopUp = await operation(bench, "up", "no-op up");
        const previewNoChanges = await operation(bench, "preview", "preview (no changes)");

        const byType: Record<string, number> = {};
        for (const r of resources) byType[r.type] = (byType[r.type] ?? 0) + 1;
        const dynamic = resources.filter((r) => r.type.startsWith(DYNAMIC)).length;
        const analysis = analyse(resources, deployRaw, opts.parallel);
        const deploy = deployRaw.measure;
        const partial: Omit<ScenarioResult, "targets"> = {
            scenario,
            description,
            apps,
            date: new Date().toISOString(),
            machine: { cpus: os.cpus().length, node: process.version, pulumi: PULUMI_VERSION, platform: os.platform() },
            load: { before: loadBefore, after: round(os.loadavg()[0]) },
            model: MODEL,
            engineOptions: { parallel: opts.parallel, env: opts.engineEnv },
            resources: { total: resources.length, dynamic, byType },
            setupMs,
            previewFresh: previewFresh.measure,
            deploy: { ...deploy, analysis },
            noopUp: noopUp.measure,
            previewNoChanges: previewNoChanges.measure,
            perResource: {
                deployApiRequests: round(deploy.apiRequests.total / dynamic),
                deploySshCommands: round(deploy.sshCommands.total / dynamic),
                deploySshConnections: round(deploy.sshConnections / dynamic, 4),
                deployWallMs: Math.round(deploy.wallMs / dynamic),
            },
        };
        return { ...partial, targets: targetsOf(partial) };
    } finally {
        await ssh?.stop();
        await api?.stop();
        await world.stop();
    }
}

export interface ScalingSummary {
    sizes: number[];
    perApp: { apps: number; deployWallMs: number; wallPerAppMs: number; resources: number }[];
    /** Deploy time each extra app added between consecutive sizes, ms. */
    marginal: { from: number; to: number; msPerApp: number }[];
    /** Largest marginal time per app over the smallest: 1 is perfectly flat. */
    marginalSpread: number;
    flat: boolean;
    /** Same for the engine's CPU per app, which is where growth shows first. */
    engineCpuPerApp: { apps: number; seconds: number }[];
}

/** The scaling of deploy time with the number of apps. Flat: the marginal cost per app varies by at most 25 %. */
export function scaling(results: ScenarioResult[]): ScalingSummary | undefined {
    const apps = results.filter((r) => r.apps !== undefined).sort((a, b) => a.apps! - b.apps!);
    if (apps.length < 2) return undefined;
    const marginal = apps.slice(1).map((r, i) => ({
        from: apps[i].apps!,
        to: r.apps!,
        msPerApp: Math.round((r.deploy.wallMs - apps[i].deploy.wallMs) / (r.apps! - apps[i].apps!)),
    }));
    const values = marginal.map((m) => m.msPerApp);
    const spread = round(Math.max(...values) / Math.max(1, Math.min(...values)));
    return {
        sizes: apps.map((r) => r.apps!),
        perApp: apps.map((r) => ({
            apps: r.apps!,
            deployWallMs: r.deploy.wallMs,
            wallPerAppMs: Math.round(r.deploy.wallMs / r.apps!),
            resources: r.resources.total,
        })),
        marginal,
        marginalSpread: spread,
        flat: marginal.length === 1 || spread <= 1.25,
        engineCpuPerApp: apps.map((r) => ({
            apps: r.apps!,
            seconds: round(r.deploy.processes.engine.cpuSeconds / r.apps!),
        })),
    };
}

const RESULTS_MD = path.join(REPO_ROOT, "bench", "RESULTS.md");
const SCENARIOS = ["dev", "apps-10", "apps-50", "apps-200"];

/** RESULTS.md again from the results files of `day` (after a change to the report's layout). */
function render(outDir: string, day: string): void {
    const results = SCENARIOS.map((name) => path.join(outDir, `${day}-${name}.json`))
        .filter((f) => fs.existsSync(f))
        .map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as ScenarioResult);
    const summaryFile = path.join(outDir, `${day}-summary.json`);
    const summary = fs.existsSync(summaryFile)
        ? (JSON.parse(fs.readFileSync(summaryFile, "utf8")) as { totalRunMs: number; skipped: string[] })
        : { totalRunMs: 0, skipped: [] };
    fs.writeFileSync(RESULTS_MD, renderResults(results, scaling(results), { day, ...summary }));
}

async function main(): Promise<void> {
    const opts = parseArgs(process.argv.slice(2));
    if (opts.render !== undefined) {
        render(opts.outDir, opts.render);
        return;
    }
    const started = Date.now();
    const sizes = opts.quick ? [10, 50] : [10, 50, 200];
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "phl-bench-"));
    const plan: { scenario: string; description: string; file: string; apps?: number }[] = [
        {
            scenario: "dev",
            description: "the dev stack (Pulumi.dev.yaml): NetBox, the appliance with one app, monitoring",
            file: path.join(REPO_ROOT, "Pulumi.dev.yaml"),
        },
        ...sizes.map((n) => ({
            scenario: `apps-${n}`,
            description: `the appliance alone with ${n} apps`,
            file: writeApplianceStack(tmp, n),
            apps: n,
        })),
    ];
    const results: ScenarioResult[] = [];
    const day = new Date().toISOString().slice(0, 10);
    // Runs with non-default engine settings are diagnoses: their files say so and RESULTS.md is left alone.
    const variant =
        (opts.parallel !== undefined ? `-parallel-${opts.parallel}` : "") +
        Object.keys(opts.engineEnv)
            .map((k) => `-${k.toLowerCase().replace(/_/g, "-")}`)
            .join("");
    fs.mkdirSync(opts.outDir, { recursive: true });
    try {
        for (const p of plan) {
            if (opts.only && !opts.only.has(p.scenario)) continue;
            const traceFile = opts.trace
                ? path.join(opts.outDir, `${day}-${p.scenario}${variant}-trace.json`)
                : undefined;
            results.push(await runScenario(p.scenario, p.description, p.file, p.apps, opts, traceFile));
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
    for (const r of results) {
        fs.writeFileSync(
            path.join(opts.outDir, `${day}-${r.scenario}${variant}.json`),
            JSON.stringify(r, null, 2) + "\n",
        );
    }
    const scale = scaling(results);
    const skipped = opts.quick ? ["apps-200 (--quick)"] : [];
    const summary = {
        date: new Date().toISOString(),
        totalRunMs: Date.now() - started,
        model: MODEL,
        scenarios: results.map((r) => r.scenario),
        skipped,
        scaling: scale,
        targets: Object.fromEntries(results.map((r) => [r.scenario, r.targets])),
    };
    if (!opts.only) {
        fs.writeFileSync(
            path.join(opts.outDir, `${day}-summary${variant}.json`),
            JSON.stringify(summary, null, 2) + "\n",
        );
    }
    if (!opts.only && variant === "") {
        fs.writeFileSync(RESULTS_MD, renderResults(results, scale, { day, skipped, totalRunMs: summary.totalRunMs }));
    }
    console.log(`done in ${((Date.now() - started) / 60000).toFixed(1)} min; results in ${opts.outDir}`);
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err);
        process.exit(1);
    });
}
