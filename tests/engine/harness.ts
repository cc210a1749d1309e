/**
 * Runs a Pulumi program through the REAL engine (the CLI at our pinned version) with the Automation API's
 * inline mode: the SDK's in-process language host serves the program to the CLI, which drives the
 * dynamic-provider host and the random/tls plugins exactly as `pulumi up` does. Used by the demo, the
 * end-to-end tests and the benchmark.
 */
import * as auto from "@pulumi/pulumi/automation";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensureEngine, REPO_ROOT } from "../../scripts/engine";

export const PROJECT_NAME = "proxmox-homelab";
/** Offline stand-ins for the random and tls plugins (test infrastructure; see tests/plugins). */
export const STANDIN_PLUGIN_DIR = path.join(REPO_ROOT, "tests", "plugins", "bin");

export type ConfigMap = Record<string, { value: string; secret?: boolean }>;

export interface EngineStackOptions {
    stackName: string;
    /** The program; default: the project's own `index.ts` main. */
    program?: auto.PulumiFn;
    /** Working directory for the stack (gets Pulumi.yaml and a node_modules link). Default: a new temp dir. */
    workDir?: string;
    /** State backend URL. Default: `file://<workDir>/.state`. */
    backendUrl?: string;
    /** Stack config, keys without the project prefix are namespaced to the project. */
    config?: ConfigMap;
    /** Put the offline random/tls stand-ins on PATH. Default true. */
    standinPlugins?: boolean;
    /** Extra environment for the CLI and the provider processes. */
    env?: Record<string, string>;
    passphrase?: string;
}

export interface EngineStack {
    stack: auto.Stack;
    workDir: string;
    env: Record<string, string>;
}

/** Makes a working directory the CLI accepts for our project: Pulumi.yaml plus a node_modules link. */
export function prepareWorkDir(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    const nm = path.join(dir, "node_modules");
    // The dynamic-provider host starts in this directory and resolves our provider runtime from here.
    if (!fs.existsSync(nm)) fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), nm, "dir");
    const pkg = path.join(dir, "package.json");
    if (!fs.existsSync(pkg))
        fs.writeFileSync(pkg, JSON.stringify({ name: "proxmox-homelab-stack", private: true }) + "\n");
}

function defaultProgram(): auto.PulumiFn {
    return async () => {
        const main = require(path.join(REPO_ROOT, "index.ts")) as () => Promise<Record<string, unknown>>;
        return main();
    };
}

export async function createEngineStack(opts: EngineStackOptions): Promise<EngineStack> {
    const engine = await ensureEngine();
    const workDir = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "phl-engine-"));
    prepareWorkDir(workDir);
    const stateDir = path.join(workDir, ".state");
    fs.mkdirSync(stateDir, { recursive: true });
    const pulumiHome = path.join(workDir, ".pulumi-home");
    fs.mkdirSync(pulumiHome, { recursive: true });
    const pathParts = [engine.binDir];
    if (opts.standinPlugins ?? true) pathParts.push(STANDIN_PLUGIN_DIR);
    pathParts.push(process.env.PATH ?? "/usr/bin:/bin");
    const env: Record<string, string> = {
        PATH: pathParts.join(path.delimiter),
        PULUMI_BACKEND_URL: opts.backendUrl ?? `file://${stateDir}`,
        PULUMI_CONFIG_PASSPHRASE: opts.passphrase ?? "proxmox-homelab-test-passphrase",
        // Our own PULUMI_HOME: never read or write the user's ~/.pulumi (plugins, credentials).
        PULUMI_HOME: pulumiHome,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: "true",
        ...opts.env,
    };
    const pulumiCommand = await auto.PulumiCommand.get({ root: path.dirname(engine.binDir), skipVersionCheck: true });
    const stack = await auto.LocalWorkspace.createOrSelectStack(
        { projectName: PROJECT_NAME, stackName: opts.stackName, program: opts.program ?? defaultProgram() },
        { workDir, envVars: env, pulumiCommand, pulumiHome },
    );
    if (opts.config) await stack.setAllConfig(namespaced(opts.config));
    return { stack, workDir, env };
}

/** Prefixes bare keys with the project namespace. */
export function namespaced(config: ConfigMap): ConfigMap {
    return Object.fromEntries(
        Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `${PROJECT_NAME}:${k}`, v]),
    );
}

/** Sums the engine's change summary into create/update/delete/replace/same counts. */
export function changeCounts(summary: Record<string, number> | undefined): Record<string, number> {
    return { ...(summary ?? {}) };
}
