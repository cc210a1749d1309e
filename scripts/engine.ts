/**
 * The Pulumi engine this project runs on: the CLI at exactly the SDK's version, built from its Go module when
 * it cannot be downloaded, plus the launcher the CLI needs for dynamic providers. Nothing here touches a
 * user's own Pulumi installation: the build goes to a cache directory of ours and is put on PATH only for
 * the processes we start.
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const PULUMI_VERSION = "v3.248.0";
export const REPO_ROOT = path.resolve(__dirname, "..");
const GO_MODULE_DIR = path.join(REPO_ROOT, "tools", "pulumi-cli");

/** Cache of built engines, outside the checkout so a fresh clone on the same machine reuses it. */
export function engineCacheDir(): string {
    const base =
        process.env.PHL_ENGINE_CACHE ??
        path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "proxmox-homelab", "engine");
    return path.join(base, PULUMI_VERSION);
}

/** Directory holding `pulumi` and `pulumi-resource-pulumi-nodejs` for our processes' PATH. */
export function engineBinDir(): string {
    return path.join(engineCacheDir(), "bin");
}

/** The version a `pulumi` binary reports, or undefined when it does not run. */
export function pulumiVersionOf(binary: string): string | undefined {
    try {
        return execFileSync(binary, ["version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
        return undefined;
    }
}

/** A `pulumi` of our version already on PATH (for example the official CLI), if any. */
export function pulumiOnPath(): string | undefined {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
        if (!dir) continue;
        const candidate = path.join(dir, "pulumi");
        if (fs.existsSync(candidate) && pulumiVersionOf(candidate) === PULUMI_VERSION) return candidate;
    }
    return undefined;
}

/**
 * The launcher the CLI runs for dynamic providers. The official distribution ships it; for our build we
 * provide the same thing: the SDK's dynamic-provider host, started in the program's directory.
 */
export const DYNAMIC_PROVIDER_LAUNCHER = `#!/bin/sh
# Started by the Pulumi engine with the program's directory as working directory.
exec node ./node_modules/@pulumi/pulumi/cmd/dynamic-provider "$@"
`;

function writeLauncher(binDir: string): void {
    const launcher = path.join(binDir, "pulumi-resource-pulumi-nodejs");
    if (!fs.existsSync(launcher) || fs.readFileSync(launcher, "utf8") !== DYNAMIC_PROVIDER_LAUNCHER) {
        fs.writeFileSync(launcher, DYNAMIC_PROVIDER_LAUNCHER, { mode: 0o755 });
    }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { cwd: GO_MODULE_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
        let count = 0;
        const onData = (buf: Buffer) => {
            for (const line of buf.toString("utf8").split("\n")) {
                if (!line.trim()) continue;
                count++;
                // `go build -v` names every package it compiles: show a heartbeat, not 2000 lines.
                if (count % 100 === 0) log(`  ... ${count} packages (${line.trim()})`);
            }
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.on("error", reject);
        child.on("exit", (code) =>
            code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`)),
        );
    });
}

export interface EnsureEngineResult {
    /** Directory to put first on PATH. */
    binDir: string;
    /** Path of the `pulumi` binary used. */
    pulumi: string;
    /** How it was obtained. */
    source: "path" | "cache" | "built";
}

/**
 * Makes sure a Pulumi CLI of our version and the dynamic-provider launcher exist; builds the CLI from the
 * Go module (go.sum committed, `-mod=readonly`, so every download is verified) only when neither PATH nor
 * the cache has it. Idempotent.
 */
export async function ensureEngine(log: (line: string) => void = () => undefined): Promise<EnsureEngineResult> {
    const binDir = engineBinDir();
    fs.mkdirSync(binDir, { recursive: true });
    writeLauncher(binDir);
    const onPath = pulumiOnPath();
    if (onPath) {
        log(`Pulumi CLI ${PULUMI_VERSION} found on PATH: ${onPath}`);
        return { binDir, pulumi: onPath, source: "path" };
    }
    const cached = path.join(binDir, "pulumi");
    if (pulumiVersionOf(cached) === PULUMI_VERSION) {
        log(`Pulumi CLI ${PULUMI_VERSION} cached: ${cached}`);
        return { binDir, pulumi: cached, source: "cache" };
    }
    log(
        `Building the Pulumi CLI ${PULUMI_VERSION} from its Go module (cold: ~1 min download + ~7 min build on 2 cores)`,
    );
    const env = { ...process.env, GOFLAGS: "-mod=readonly", GOSUMDB: "off", CGO_ENABLED: "0" };
    log("Downloading Go modules (verified against tools/pulumi-cli/go.sum)...");
    await run("go", ["mod", "download"], env, log);
    log("Compiling...");
    const tmp = `${cached}.tmp-${process.pid}`;
    await run(
        "go",
        [
            "build",
            "-v",
            "-o",
            tmp,
            "-ldflags",
            `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_VERSION}`,
            "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        ],
        env,
        log,
    );
    fs.renameSync(tmp, cached);
    const version = pulumiVersionOf(cached);
    if (version !== PULUMI_VERSION)
        throw new Error(`built CLI reports ${version ?? "nothing"}, expected ${PULUMI_VERSION}`);
    log(`Built ${cached}`);
    return { binDir, pulumi: cached, source: "built" };
}
