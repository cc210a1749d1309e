/**
 * `npm run pve-sim`: the simulator standalone, for the dev stack and for poking at it by hand.
 *
 *   npm run pve-sim -- [--port 8006] [--ssh-port 2222] [--pve-version 8|9] [--state-dir DIR] [--node pve]
 *
 * Prints the endpoint, the API token, the root password, both fingerprints and the SSH details. The SSH
 * private key is written to a 0600 file (never printed); the token and password are printed here only, for
 * the person who started it. Runs until Ctrl-C.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator, type PveMajor } from "./index";

interface Args {
    port?: number;
    sshPort?: number;
    pveVersion: PveMajor;
    stateDir?: string;
    node?: string;
    unauthorizedDelayMs: number;
}

function usage(message?: string): never {
    if (message) console.error(message);
    console.error(
        "usage: npm run pve-sim -- [--port N] [--ssh-port N] [--pve-version 8|9] [--state-dir DIR] [--node NAME] [--fast-401]",
    );
    process.exit(2);
}

function parseArgs(argv: string[]): Args {
    const args: Args = { pveVersion: 9, unauthorizedDelayMs: 3000 };
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
    const sim = await startSimulator({
        port: args.port,
        sshPort: args.sshPort,
        pveVersion: args.pveVersion,
        stateDir,
        node: args.node,
        unauthorizedDelayMs: args.unauthorizedDelayMs,
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
