/**
 * Provider tests drive the runtime's handlers (`dispatch(kind, method, ...)`) in-process against a simulator,
 * configured exactly as the dynamic-provider host configures them: `configure({ config })` with the stack
 * config the dev stack would hold (see tests/engine/sim-config.ts).
 */
import { configure, dispatch } from "../../providers/runtime";
import { resetContext } from "../../providers/runtime/context";
import { startSimulator, Simulator, SimulatorOptions } from "../pve-sim";
import { simulatorStackConfig } from "../engine/sim-config";

export type Props = Record<string, unknown>;

/**
 * Points the runtime at `sim` (token + root@pam password, TLS and SSH pinned); `omit` drops config keys, `extra`
 * sets more (bare keys, e.g. `{ pveTaskTimeoutSeconds: "1" }`).
 */
export async function configureFor(
    sim: Simulator,
    omit: string[] = [],
    extra: Record<string, string> = {},
): Promise<void> {
    resetContext();
    const config = simulatorStackConfig(sim);
    for (const key of omit) delete config[key];
    for (const [key, value] of Object.entries(extra)) config[key] = { value };
    await configure({ config: { get: (key: string) => config[key.replace(/^proxmox-homelab:/, "")]?.value } });
}

/** Starts a simulator (fast tasks by default) and configures the runtime for it. */
export async function startConfigured(opts: SimulatorOptions = {}): Promise<Simulator> {
    const sim = await startSimulator({ taskDurationMs: { min: 5, max: 20 }, ...opts });
    await configureFor(sim);
    return sim;
}

/** One resource kind's handler methods, typed loosely as the engine calls them. */
export function handler(kind: string) {
    return {
        check: (olds: Props, news: Props) =>
            dispatch(kind, "check", olds, news) as Promise<{
                inputs: Props;
                failures: { property: string; reason: string }[];
            }>,
        diff: (id: string, olds: Props, news: Props) =>
            dispatch(kind, "diff", id, olds, news) as Promise<{
                changes: boolean;
                replaces: string[];
                deleteBeforeReplace: boolean;
            }>,
        create: (inputs: Props) => dispatch(kind, "create", inputs) as Promise<{ id: string; outs: Props }>,
        read: (id: string, props: Props) =>
            dispatch(kind, "read", id, props) as Promise<{ id: string; props: Props; inputs?: Props }>,
        update: (id: string, olds: Props, news: Props) =>
            dispatch(kind, "update", id, olds, news) as Promise<{ outs: Props }>,
        delete: (id: string, props: Props) => dispatch(kind, "delete", id, props) as Promise<void>,
        /** check, then create with the checked inputs (as the engine does). */
        async checkAndCreate(news: Props): Promise<{ id: string; outs: Props; inputs: Props }> {
            const c = await this.check({}, news);
            if (c.failures.length > 0) throw new Error(`check failed: ${JSON.stringify(c.failures)}`);
            const r = await this.create(c.inputs);
            return { ...r, inputs: c.inputs };
        },
    };
}
