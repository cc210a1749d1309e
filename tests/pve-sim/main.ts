/**
 * `npm run pve-sim`: the simulator standalone, for the dev stack and for poking at it by hand.
 *
 *   npm run pve-sim -- [--port 8006] [--ssh-port 2222] [--pve-version 8|9] [--state-dir DIR] [--node pve]
 *                      [--live [--testbed NAME]]
 *
 * `--live` (or PVE_SIM_LIVE=1) backs every container with a real LXC container in the live test bed
 * (live-backend.ts, live/testbed.ts; root, and the packages `npm run testbed:up` names): the bed is brought up
 * if needed and claimed while the simulator runs; Ctrl-C destroys its containers and bridges and keeps the bed
 * (namespace, proxy, template) for the next run. `npm run testbed:down` removes the bed.
 *
 * Prints the endpoint, the API token, the root password, both fingerprints and the SSH details. The SSH
 * private key is written to a 0600 file (never printed); the token and password are printed here only, for
 * the person who started it. Runs until Ctrl-C.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type PveMajor } from "./index";
import type { LiveBackend } from "./live-backend";

interface Args {
    port?: number;
    sshPort?: number;
    pveVersion: PveMajor;
    stateDir?: string;
    node?: string;
    unauthorizedDelayMs: number;
    live: boolean;
    testbed?: string;
}

function usage(message?: string): never {
    if (message) console.error(message);
    console.error(
        "usage: npm run pve-sim -- [--port N] [--ssh-port N] [--pve-version 8|9] [--state-dir DIR] [--node NAME] [--fast-401]\n" +
            "                          [--live [--testbed NAME]]",
    );
    process.exit(2);
}

function parseArgs(argv: string[]): Args {
    const args: Args = { pveVersion: 9, unauthorizedDelayMs: 3000, live: process.env.PVE_SIM_LIVE === "1" };
    for (let i = 0; i < argv.length; i++) {
        const flag = argv[i];
        const value = (): string => {
            const next = argv[++i];
            if (next === undefined) usage(`${flag} needs a value`);
            return next;
        };
        const port = (): number => {
            const n = Number(value());
            if (!Number.isInteger(n) || n < 0 || n > 65535) usage(`${flag}: not a port`);
            return n;
        };
        switch (flag) {
            case "--port":
                args.port = port();
                break;
            case "--ssh-port":
                args.sshPort = port();
                break;
            case "--pve-version": {
                const v = value();
                if (v !== "8" && v !== "9") usage("--pve-version must be 8 or 9");
                args.pveVersion = Number(v) as PveMajor;
                break;
            }
            case "--state-dir":
                args.stateDir = value();
                break;
            case "--node":
                args.node = value();
                break;
            case "--fast-401":
                // pve-http-server delays every 401 by 3 s; scripts hammering wrong credentials may not want that.
                args.unauthorizedDelayMs = 0;
                break;
            case "--live":
                args.live = true;
                break;
            case "--testbed":
                args.testbed = value();
                break;
            case "-h":
            case "--help":
                usage();
                break;
            default:
                usage(`unknown option ${flag}`);
        }
    }
    return args;
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const stateDir = args.stateDir ?? mkdtempSync(join(tmpdir(), "pve-sim-"));
    mkdirSync(stateDir, { recursive: true });
    if (args.testbed !== undefined && !args.live) usage("--testbed needs --live");
    let live: LiveBackend | undefined;
    if (args.live) {
        // Loaded only here: the chroot simulator must not need anything of the live bed.
        const { LiveBackend: Live } = await import("./live-backend");
        live = new Live({
            testbed: args.testbed === undefined ? undefined : { name: args.testbed },
            node: args.node,
            log: (line) => console.log(`[live] ${line}`),
        });
        console.log("bringing the live test bed up (the first run builds the Debian 13 container template)...");
        await live.init();
        if (args.stateDir !== undefined) {
            console.log(
                "[live] note: containers restored from --state-dir are made anew from the template (their files are not kept)",
            );
        }
    }
    const sim = await startSimulator({
        port: args.port,
        sshPort: args.sshPort,
        pveVersion: args.pveVersion,
        stateDir,
        node: args.node,
        unauthorizedDelayMs: args.unauthorizedDelayMs,
        backend: live,
    }).catch(async (error: unknown) => {
        await live?.close();
        throw error;
    });
    const keyFile = join(stateDir, "ssh-client-key");
    writeFileSync(keyFile, sim.ssh.privateKey, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    const caFile = join(stateDir, "pve-ssl.pem");

    const { version } = sim.state.versionInfo;
    console.log(
        [
            `Proxmox VE ${version} simulator, node '${sim.node}'`,
            ``,
            `  API endpoint        ${sim.url}  (API under /api2/json)`,
            `  API token           ${sim.apiToken}`,
            `  root@pam password   ${sim.rootPassword}`,
            `  TLS fingerprint     ${sim.tlsFingerprint}`,
            `  TLS certificate     ${caFile}`,
            ``,
            `  SSH                 ${sim.ssh.user}@${sim.ssh.host} port ${sim.ssh.port}`,
            `  SSH host key        ${sim.ssh.hostKeyFingerprint}`,
            `  SSH private key     ${keyFile}  (mode 0600)`,
            ``,
            `  Faults              POST ${sim.url}/_sim/faults  {"kind":"failNext","path":"/lxc$","status":500,"message":"got timeout"}`,
            ...(live
                ? [
                      ``,
                      `  Backend             live: real LXC containers in test bed '${live.bed.name}' (netns ${live.bed.netns})`,
                      `  Egress proxy        ${live.proxyUrl}  (set downloads.httpProxy to it; nothing else leaves the bed)`,
                      `  Extra CA certs      /usr/local/share/ca-certificates/*.crt of this machine (downloads.extraCaCerts)`,
                  ]
                : []),
            `  State directory     ${stateDir}`,
            ``,
            `Ctrl-C stops it.`,
        ].join("\n"),
    );

    let stopping = false;
    const stop = (): void => {
        if (stopping) return;
        stopping = true;
        console.log("\nstopping...");
        sim.stop().then(
            () => process.exit(0),
            (error: unknown) => {
                console.error(error);
                process.exit(1);
            },
        );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
}

main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
});
