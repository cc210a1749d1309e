/**
 * Helpers for the end-to-end cases beyond tests/e2e/world.ts: a throwaway PostgreSQL server (Debian's binaries,
 * its own data directory and port on 127.0.0.1, a password-authenticated role and database for Pulumi's state),
 * and small stack files derived from Pulumi.dev.yaml so a case deploys only what it needs.
 */
import { ChildProcess, execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { REPO_ROOT } from "../../scripts/engine";

const yaml = require("js-yaml") as { load(text: string): unknown; dump(value: unknown): string };

/** The directory holding `initdb` and `postgres`: PHL_PG_BINDIR, the newest Debian cluster version, or PATH. */
export function postgresBinDir(): string | undefined {
    const has = (dir: string) => ["initdb", "postgres", "psql"].every((b) => fs.existsSync(path.join(dir, b)));
    if (process.env.PHL_PG_BINDIR) return has(process.env.PHL_PG_BINDIR) ? process.env.PHL_PG_BINDIR : undefined;
    const debian = "/usr/lib/postgresql";
    if (fs.existsSync(debian)) {
        const versions = fs
            .readdirSync(debian)
            .filter((v) => /^\d+$/.test(v))
            .sort((a, b) => Number(b) - Number(a));
        for (const v of versions) if (has(path.join(debian, v, "bin"))) return path.join(debian, v, "bin");
    }
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) if (dir && has(dir)) return dir;
    return undefined;
}

export interface PostgresServer {
    port: number;
    user: string;
    password: string;
    database: string;
    /** `postgres://user:pw@127.0.0.1:port/db?sslmode=disable`: a PULUMI_BACKEND_URL. */
    backendUrl: string;
    /** Runs SQL over TCP as the password-authenticated role; returns psql's unaligned, tuples-only output. */
    query(sql: string): Promise<string>;
    /** Stops the server (fast shutdown) and removes its data directory. */
    stop(): Promise<void>;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile(file, args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) reject(new Error(`${path.basename(file)} ${args.join(" ")}: ${err.message}\n${stderr}`));
            else resolve(stdout);
        });
    });
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

/** uid/gid of an OS user from /etc/passwd, or undefined. */
function osUser(name: string): { uid: number; gid: number } | undefined {
    for (const line of fs.readFileSync("/etc/passwd", "utf8").split("\n")) {
        const f = line.split(":");
        if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
    return undefined;
}

/**
 * Starts a PostgreSQL server in a new temporary directory. initdb and postgres refuse to run as root, so as root
 * they run as the `postgres` OS user (Debian's package creates it; `nobody` otherwise) through setpriv, which execs
 * the command directly: the child's pid is the server's own. Local (socket) connections trust; TCP needs the
 * password (scram-sha-256), which is what Pulumi's backend uses.
 */
export async function startPostgres(binDir: string): Promise<PostgresServer> {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "phl-pg-"));
    const dataDir = path.join(base, "data");
    const socketDir = path.join(base, "sock");
    const asRoot = process.getuid?.() === 0;
    const owner = asRoot ? (osUser("postgres") ?? osUser("nobody")) : undefined;
    if (asRoot && owner === undefined)
        throw new Error("running as root and found neither a postgres nor a nobody user");
    if (owner) fs.chownSync(base, owner.uid, owner.gid);
    fs.mkdirSync(socketDir);
    if (owner) fs.chownSync(socketDir, owner.uid, owner.gid);
    const as = (bin: string, args: string[]): [string, string[]] =>
        owner
            ? [
                  "setpriv",
                  [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--clear-groups", path.join(binDir, bin), ...args],
              ]
            : [path.join(binDir, bin), args];

    let server: ChildProcess | undefined;
    const log: string[] = [];
    const stop = async () => {
        const child = server;
        server = undefined;
        if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
            child.kill("SIGINT"); // PostgreSQL's fast shutdown
            const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
            await exited;
            clearTimeout(timer);
        }
        fs.rmSync(base, { recursive: true, force: true });
    };
    try {
        const superPwFile = path.join(base, "superuser-password");
        fs.writeFileSync(superPwFile, randomBytes(16).toString("hex") + "\n", { mode: 0o600 });
        if (owner) fs.chownSync(superPwFile, owner.uid, owner.gid);
        const [initdb, initArgs] = as("initdb", [
            "-D",
            dataDir,
            "-U",
            "postgres",
            `--pwfile=${superPwFile}`,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ]);
        await run(initdb, initArgs);

        const port = await freePort();
        const [postgres, pgArgs] = as("postgres", [
            "-D",
            dataDir,
            "-p",
            String(port),
            "-k",
            socketDir,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ]);
        const child = spawn(postgres, pgArgs, { stdio: ["ignore", "pipe", "pipe"] });
        server = child;
        child.stdout.on("data", (b: Buffer) => log.push(b.toString("utf8")));
        child.stderr.on("data", (b: Buffer) => log.push(b.toString("utf8")));

        const psql = path.join(binDir, "psql");
        const local = ["-h", socketDir, "-p", String(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-Atq"];
        const deadline = Date.now() + 30_000;
        for (;;) {
            if (child.exitCode !== null) throw new Error(`postgres exited ${child.exitCode}:\n${log.join("")}`);
            try {
                await run(psql, [...local, "-d", "postgres", "-c", "SELECT 1"]);
                break;
            } catch (err) {
                if (Date.now() > deadline) {
                    throw new Error(`postgres did not start: ${String(err)}\n${log.join("")}`, { cause: err });
                }
                await new Promise((r) => setTimeout(r, 200));
            }
        }

        const user = "pulumi_state_owner";
        const database = "pulumi_state";
        const password = randomBytes(18).toString("base64url");
        await run(psql, [...local, "-d", "postgres", "-c", `CREATE ROLE ${user} LOGIN PASSWORD '${password}'`]);
        await run(psql, [...local, "-d", "postgres", "-c", `CREATE DATABASE ${database} OWNER ${user}`]);
        const backendUrl =
            `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}` + "?sslmode=disable";
        return {
            port,
            user,
            password,
            database,
            backendUrl,
            query: (sql: string) =>
                run(
                    psql,
                    [
                        "-h",
                        "127.0.0.1",
                        "-p",
                        String(port),
                        "-U",
                        user,
                        "-d",
                        database,
                        "-w",
                        "-v",
                        "ON_ERROR_STOP=1",
                    ].concat(["-Atq", "-c", sql]),
                    { ...process.env, PGPASSWORD: password, PGSSLMODE: "disable" },
                ),
            stop,
        };
    } catch (err) {
        await stop();
        throw err;
    }
}

/**
 * Writes a stack file derived from Pulumi.dev.yaml: `edit` receives its `config:` map (keys with the project
 * prefix, objects as objects) and changes it in place. Returns the file's path in `dir`.
 */
export function writeStackFile(dir: string, edit: (config: Record<string, unknown>) => void): string {
    const doc = yaml.load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.dev.yaml"), "utf8")) as {
        config: Record<string, unknown>;
    };
    edit(doc.config);
    const file = path.join(dir, "Pulumi.dev.yaml");
    fs.writeFileSync(file, yaml.dump(doc));
    return file;
}

/** The dev stack with only the listed components enabled (the rest removed, so Pulumi.yaml's `enabled: false`). */
export function devStackWithOnly(dir: string, components: ("netbox" | "appliance" | "monitoring")[]): string {
    return writeStackFile(dir, (config) => {
        for (const c of ["netbox", "appliance", "monitoring"] as const) {
            if (!components.includes(c)) delete config[`proxmox-homelab:${c}`];
        }
    });
}
