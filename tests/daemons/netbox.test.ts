/**
 * Every file NetboxStack renders, checked by the program it is for, with the Debian packages CI installs
 * (nginx-light, postgresql, redis-server, python3, systemd, iptables, openssl). Network: 127.0.0.1 only.
 * A test skips, saying why, only when its program is missing.
 */
import assert from "node:assert/strict";
import { ChildProcess, SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { DEFAULT_NETBOX_PLUGINS, resolveNetboxArgs } from "../../components/netbox/args";
import * as r from "../../components/netbox/render/index";

const STACK = "netbox";
const cfg = resolveNetboxArgs(STACK, { proxbox: { enabled: true }, netboxVersion: "v4.5.9" });

function which(bin: string, extraDirs: string[] = []): string | undefined {
    const dirs = [...(process.env.PATH ?? "").split(":"), ...extraDirs, "/usr/sbin", "/sbin"];
    for (const d of dirs) {
        const p = path.join(d, bin);
        try {
            fs.accessSync(p, fs.constants.X_OK);
            return p;
        } catch {
            /* next */
        }
    }
    return undefined;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}) {
    const res: SpawnSyncReturns<string> = spawnSync(cmd, args, {
        encoding: "utf8",
        env: opts.env ?? process.env,
        input: opts.input,
        cwd: opts.cwd,
        timeout: 60_000,
    });
    if (res.error) throw res.error;
    return res;
}

function ok(res: SpawnSyncReturns<string>, what: string): string {
    assert.equal(res.status, 0, `${what} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
    return res.stdout;
}

function tmpdir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `netbox-daemon-${prefix}-`));
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

function skip(ctx: Mocha.Context, why: string): never {
    console.log(`      (skipped: ${why})`);
    ctx.skip();
}

const isRoot = process.getuid?.() === 0;

describe("NetboxStack configs pass their daemons' own checks", function () {
    this.timeout(120_000);
    const cleanup: string[] = [];
    after(() => {
        for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
    });

    describe("nginx -t", () => {
        const nginx = which("nginx");
        let dir: string;
        let http2: r.Http2Style = "directive";

        before(function () {
            if (!nginx) skip(this, "nginx is not installed (Debian: nginx-light)");
            const openssl = which("openssl");
            if (!openssl) skip(this, "openssl is not installed");
            if (!which("ip")) skip(this, "ip is not installed (Debian: iproute2)");
            const probe = run("unshare", ["-n", "true"]);
            if (probe.status !== 0)
                skip(this, `nginx -t binds its listen addresses; unshare -n is not permitted: ${probe.stderr.trim()}`);
            dir = tmpdir("nginx");
            cleanup.push(dir);
            ok(
                run(openssl, [
                    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
                    ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-days", "1"],
                    ...["-subj", `/CN=${cfg.publicName}`],
                ]),
                "openssl req",
            );
            // `http2 on;` needs nginx ≥ 1.25.1 (Debian 13 ships 1.26); older nginx gets the listen parameter.
            const version = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(run(nginx, ["-v"]).stderr);
            assert.ok(version, "nginx -v printed no version");
            const [maj, min, patch] = version.slice(1).map(Number);
            if (maj * 1_000_000 + min * 1000 + patch < 1_025_001) {
                http2 = "listen";
                console.log(`      (nginx ${maj}.${min}.${patch} < 1.25.1: checking the 'listen ... http2' form)`);
            }
        });

        /** A main config with every path redirected into `root`, including `sites`. */
        function mainConf(root: string, sites: string[]): string {
            const sitesDir = path.join(root, "sites");
            fs.mkdirSync(sitesDir, { recursive: true });
            sites.forEach((s, i) => fs.writeFileSync(path.join(sitesDir, `${i}.conf`), s));
            const conf = path.join(root, "nginx.conf");
            fs.writeFileSync(
                conf,
                [
                    `pid ${root}/nginx.pid;`,
                    `error_log ${root}/error.log;`,
                    "events {}",
                    "http {",
                    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
                        (t) => `    ${t}_temp_path ${root}/${t};`,
                    ),
                    `    access_log ${root}/access.log;`,
                    `    include ${sitesDir}/*.conf;`,
                    "}",
                    "",
                ].join("\n"),
            );
            return conf;
        }

        /**
         * nginx -t opens the listen sockets, so it runs in a private network namespace where the container's
         * addresses exist (on lo) and ports 80/443 are free, as on the container itself.
         */
        function nginxTest(conf: string, root: string, addresses: string[]): SpawnSyncReturns<string> {
            const setup = ["ip link set lo up", ...addresses.map((a) => `ip addr add ${a}/32 dev lo`), 'exec "$@"'];
            return run("unshare", [
                ...["-n", "sh", "-c", setup.join(" && "), "sh"],
                ...[nginx!, "-t", "-c", conf, "-e", `${root}/error.log`],
            ]);
        }

        function nginxAccepts(conf: string, root: string, addresses: string[]): void {
            const res = nginxTest(conf, root, addresses);
            ok(res, "nginx -t");
            assert.match(res.stderr, /test is successful/);
            assert.doesNotMatch(res.stderr, /\[warn\]|\[emerg\]/, res.stderr);
        }

        it("accepts the proxy's site with a generated certificate", () => {
            const root = path.join(dir, "proxy");
            const site = r.renderProxySite({
                stack: STACK,
                serverNames: [cfg.publicName, "netbox.example.org"],
                appAddress: cfg.app.dmzAddress,
                certPath: `${dir}/cert.pem`,
                keyPath: `${dir}/key.pem`,
                cacheDir: `${root}/cache`,
                http2,
            });
            nginxAccepts(mainConf(root, [site]), root, []);
        });

        it("accepts the app's static-file site and the proxbox-api TLS site together", () => {
            const root = path.join(dir, "app");
            const sites = [
                r.renderAppStaticSite({
                    stack: STACK,
                    listenAddress: cfg.app.dmzAddress,
                    proxyAddress: cfg.proxy.dmzAddress,
                }),
                r.renderProxboxSite({
                    stack: STACK,
                    upstreamPort: 8800,
                    tlsPort: 8443,
                    certPath: `${dir}/cert.pem`,
                    keyPath: `${dir}/key.pem`,
                }),
            ];
            nginxAccepts(mainConf(root, sites), root, [cfg.app.dmzAddress]);
        });

        it("rejects a broken site (the check is real)", () => {
            const root = path.join(dir, "broken");
            const conf = mainConf(root, ["server { listen 80; proxy_pass_bogus x; }\n"]);
            const res = nginxTest(conf, root, []);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, /unknown directive "proxy_pass_bogus"/);
        });
    });

    describe("PostgreSQL", () => {
        let bin: string | undefined;
        let dir: string;
        let data: string;
        let port: number;
        /** The OS user that owns and runs the cluster: postgres when we are root and it exists. */
        let owner: string | undefined;
        let started = false;

        const asOwner = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) =>
            owner ? run("runuser", ["-u", owner, "--", cmd, ...args], { env }) : run(cmd, args, { env });

        before(async function () {
            // /usr/local/bin/postgres may be a symlink into one of these (it is on the dev machine): use the
            // packaged binaries directly, newest major first.
            const base = "/usr/lib/postgresql";
            const majors = fs.existsSync(base)
                ? fs
                      .readdirSync(base)
                      .filter((v) => fs.existsSync(`${base}/${v}/bin/postgres`))
                      .sort((a, b) => Number(b) - Number(a))
                : [];
            if (majors.length === 0) skip(this, "no /usr/lib/postgresql/*/bin/postgres (Debian: postgresql)");
            bin = `${base}/${majors[0]}/bin`;
            if (isRoot) {
                // The server refuses to run as root.
                owner = run("id", ["-u", "postgres"]).status === 0 ? "postgres" : "nobody";
            }
            dir = tmpdir("pg");
            cleanup.push(dir);
            if (owner) ok(run("chown", [owner, dir]), "chown");
            data = path.join(dir, "data");
            const superuser = owner ?? os.userInfo().username;
            ok(asOwner(`${bin}/initdb`, ["-D", data, "-U", superuser, "-A", "peer", "--no-sync"]), "initdb");
            port = await freePort();
            // As Debian's postgresql.conf does, read conf.d; our file goes there verbatim, and a test override
            // after it moves the listener to loopback and the socket into the temp dir.
            fs.appendFileSync(`${data}/postgresql.conf`, "\ninclude_dir = 'conf.d'\n");
            fs.mkdirSync(`${data}/conf.d`);
            fs.writeFileSync(
                `${data}/conf.d/50-netbox.conf`,
                r.renderPostgresConf({ stack: STACK, listenAddress: cfg.db.backendAddress, memoryMiB: cfg.db.memory }),
            );
            fs.writeFileSync(
                `${data}/conf.d/99-test.conf`,
                `listen_addresses = '127.0.0.1'\nport = ${port}\nunix_socket_directories = '${dir}'\n`,
            );
            fs.writeFileSync(
                `${data}/pg_hba.conf`,
                r.renderPgHba({ stack: STACK, database: "netbox", user: "netbox", appAddress: cfg.app.backendAddress }),
            );
            if (owner) ok(run("chown", ["-R", owner, data]), "chown");
        });

        after(() => {
            if (started && bin) asOwner(`${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "stop"]);
        });

        it("reads the tuning from our conf.d file (postgres -C)", () => {
            const show = (param: string) => ok(asOwner(`${bin}/postgres`, ["-D", data, "-C", param]), param).trim();
            // -C prints base units (8kB blocks, kB) on some majors and with a unit on others: accept either.
            const expectSetting = (param: string, withUnit: string, raw: string) =>
                assert.ok([withUnit, raw].includes(show(param)), `${param}: ${show(param)}`);
            expectSetting("shared_buffers", "512MB", String((512 * 1024) / 8));
            expectSetting("effective_cache_size", "1536MB", String((1536 * 1024) / 8));
            expectSetting("work_mem", "8MB", String(8 * 1024));
            expectSetting("maintenance_work_mem", "128MB", String(128 * 1024));
            assert.equal(show("max_connections"), "100");
            assert.equal(show("password_encryption"), "scram-sha-256");
        });

        const psql = (sql: string, db = "postgres") =>
            ok(asOwner(`${bin}/psql`, ["-X", "-h", dir, "-p", String(port), "-d", db, "-tA", "-c", sql]), sql).trim();

        it("starts with our pg_hba.conf and reports no error in it or in the settings", () => {
            ok(asOwner(`${bin}/pg_ctl`, ["-D", data, "-w", "-l", `${dir}/server.log`, "start"]), "pg_ctl start");
            started = true;
            assert.equal(psql("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"), "0");
            assert.equal(psql("SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL"), "0");
            assert.equal(
                psql(
                    "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','), address, netmask, " +
                        "auth_method FROM pg_hba_file_rules ORDER BY line_number",
                ),
                [
                    "local|all|postgres|||peer",
                    "local|all|all|||peer",
                    "host|netbox|netbox|10.100.0.10|255.255.255.255|scram-sha-256",
                ].join("\n"),
            );
            assert.equal(psql("SHOW shared_buffers"), "512MB");
            assert.equal(psql("SHOW effective_cache_size"), "1536MB");
            assert.equal(psql("SHOW work_mem"), "8MB");
            assert.equal(psql("SHOW maintenance_work_mem"), "128MB");
        });

        it("runs the db-init script twice: role and database once, SCRAM password from the environment", function () {
            if (!started) skip(this, "the server did not start");
            if (owner !== "postgres")
                skip(this, "needs root and a postgres OS user (the script uses runuser -u postgres)");
            // A password that would break any naive quoting; it must only ever travel in the environment.
            const password = "p'a\"s$(s)`w`\\o;rd";
            const env = { ...process.env, PGHOST: dir, PGPORT: String(port), NETBOX_DB_PASSWORD: password };
            const script = r.renderDbInitScript({ database: "netbox", user: "netbox" });
            assert.ok(!script.includes(password));
            ok(run("sh", ["-c", script], { env }), "db-init (first run)");
            ok(run("sh", ["-c", script], { env }), "db-init (second run)");
            assert.equal(psql("SELECT count(*) FROM pg_roles WHERE rolname = 'netbox'"), "1");
            assert.equal(psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'netbox'"), "netbox");
            assert.equal(
                psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'netbox'"),
                "t",
            );
            assert.equal(psql("SELECT has_schema_privilege('netbox', 'public', 'CREATE')", "netbox"), "t");
        });
    });

    describe("redis-server (Debian 12's stand-in for Valkey)", () => {
        let server: string | undefined;
        let cli: string | undefined;
        let child: ChildProcess | undefined;
        let port: number;
        const password = "Pa55wordWithoutSpecials";

        before(async function () {
            server = which("valkey-server") ?? which("redis-server");
            cli = which("valkey-cli") ?? which("redis-cli");
            if (!server || !cli) skip(this, "neither valkey-server nor redis-server (with its cli) is installed");
            const dir = tmpdir("redis");
            cleanup.push(dir);
            port = await freePort();
            const auth = path.join(dir, "auth.conf");
            fs.writeFileSync(auth, r.renderValkeyAuth(STACK, password));
            const conf = path.join(dir, "valkey.conf");
            fs.writeFileSync(
                conf,
                r.renderValkeyConf({
                    stack: STACK,
                    bindAddress: cfg.cache.backendAddress,
                    memoryMiB: cfg.cache.memory,
                    authFile: auth,
                    dataDir: dir,
                }),
            );
            // Command-line options are applied after the file: the listener moves to loopback, the state to dir.
            child = spawn(server, [conf, "--bind", "127.0.0.1", "--port", String(port), "--pidfile", `${dir}/pid`], {
                stdio: ["ignore", "pipe", "pipe"],
            });
            let log = "";
            child.stdout!.on("data", (d) => (log += d));
            child.stderr!.on("data", (d) => (log += d));
            for (let i = 0; i < 100; i++) {
                if (child.exitCode !== null) assert.fail(`${server} exited (${child.exitCode}):\n${log}`);
                if (run(cli, ["-p", String(port), "ping"]).stdout.trim() !== "") return;
                await new Promise((res) => setTimeout(res, 100));
            }
            assert.fail(`${server} did not answer:\n${log}`);
        });

        after(() => {
            if (child && child.exitCode === null) {
                run(cli!, ["-p", String(port), "shutdown", "nosave"], {
                    env: { ...process.env, REDISCLI_AUTH: password },
                });
                child.kill();
            }
        });

        const authed = (...args: string[]) =>
            ok(run(cli!, ["-p", String(port), ...args], { env: { ...process.env, REDISCLI_AUTH: password } }), args[0]);

        it("requires the password from the included file", () => {
            assert.match(run(cli!, ["-p", String(port), "ping"]).stdout, /NOAUTH Authentication required/);
            assert.equal(authed("ping").trim(), "PONG");
        });

        it("applies the document's memory, eviction, persistence and database settings", () => {
            assert.equal(authed("config", "get", "maxmemory").trim(), `maxmemory\n${768 * 1024 * 1024}`);
            assert.equal(authed("config", "get", "maxmemory-policy").trim(), "maxmemory-policy\nallkeys-lru");
            assert.equal(authed("config", "get", "save").trim(), "save\n900 1 300 10 60 10000");
            assert.equal(authed("config", "get", "databases").trim(), "databases\n16");
            assert.equal(authed("config", "get", "protected-mode").trim(), "protected-mode\nyes");
            assert.equal(authed("-n", "1", "ping").trim(), "PONG");
        });
    });

    describe("python3", () => {
        let python: string | undefined;
        let dir: string;
        const secrets = {
            databasePassword: "db'pw\"1",
            redisPassword: "redispw2",
            secretKey: "k".repeat(50) + "!@#$%^&*(-_=+)",
        };
        const configuration = r.renderNetboxConfiguration({
            stack: STACK,
            hosts: [cfg.publicName, "netbox.example.org"],
            dbHost: cfg.db.backendAddress,
            dbName: "netbox",
            dbUser: "netbox",
            redisHost: cfg.cache.backendAddress,
            plugins: [
                ...DEFAULT_NETBOX_PLUGINS,
                {
                    package: "x-plugin",
                    version: "1.0",
                    module: "x_plugin",
                    config: { a: [1, true, null], s: 'it\'s "q"\n' },
                },
            ],
            timeZone: "Europe/Berlin",
        });
        const gunicorn = r.renderGunicornConf({
            stack: STACK,
            bindAddress: cfg.app.dmzAddress,
            workers: 4,
            proxyAddress: cfg.proxy.dmzAddress,
        });

        before(function () {
            python = which("python3");
            if (!python) skip(this, "python3 is not installed");
            dir = tmpdir("py");
            cleanup.push(dir);
            fs.writeFileSync(`${dir}/configuration.py`, configuration);
            fs.writeFileSync(`${dir}/gunicorn.py`, gunicorn);
            fs.writeFileSync(`${dir}/ensure_superuser.py`, r.renderEnsureSuperuserScript());
            fs.writeFileSync(`${dir}/secrets.json`, r.renderNetboxSecrets(secrets));
        });

        it("compiles configuration.py, gunicorn.py and the superuser script (py_compile)", () => {
            for (const f of ["configuration.py", "gunicorn.py", "ensure_superuser.py"]) {
                ok(run(python!, ["-m", "py_compile", `${dir}/${f}`]), `py_compile ${f}`);
            }
        });

        const load = (file: string, names: string[], env: NodeJS.ProcessEnv = process.env) =>
            JSON.parse(
                ok(
                    run(
                        python!,
                        [
                            "-c",
                            "import json, runpy, sys; g = runpy.run_path(sys.argv[1]); " +
                                "print(json.dumps({k: g[k] for k in sys.argv[2:]}))",
                            file,
                            ...names,
                        ],
                        { env },
                    ),
                    `load ${file}`,
                ),
            );

        it("configuration.py yields NetBox's settings with the secrets from secrets.json", () => {
            const g = load(
                `${dir}/configuration.py`,
                [
                    "ALLOWED_HOSTS",
                    "CSRF_TRUSTED_ORIGINS",
                    "DATABASES",
                    "REDIS",
                    "SECRET_KEY",
                    "PLUGINS",
                    "PLUGINS_CONFIG",
                ],
                { ...process.env, NETBOX_SECRETS_FILE: `${dir}/secrets.json` },
            );
            assert.deepEqual(g.ALLOWED_HOSTS, ["netbox.home.arpa", "netbox.example.org"]);
            assert.deepEqual(g.CSRF_TRUSTED_ORIGINS, ["https://netbox.home.arpa", "https://netbox.example.org"]);
            assert.deepEqual(g.DATABASES.default, {
                ENGINE: "django.db.backends.postgresql",
                NAME: "netbox",
                USER: "netbox",
                PASSWORD: secrets.databasePassword,
                HOST: "10.100.0.20",
                PORT: "5432",
                CONN_MAX_AGE: 300,
            });
            assert.equal(g.REDIS.tasks.DATABASE, 0);
            assert.equal(g.REDIS.caching.DATABASE, 1);
            assert.equal(g.REDIS.tasks.PASSWORD, secrets.redisPassword);
            assert.equal(g.REDIS.caching.HOST, "10.100.0.30");
            assert.equal(g.SECRET_KEY, secrets.secretKey);
            assert.deepEqual(g.PLUGINS.slice(-1), ["x_plugin"]);
            assert.deepEqual(g.PLUGINS_CONFIG, { x_plugin: { a: [1, true, null], s: 'it\'s "q"\n' } });
        });

        it("gunicorn.py yields the document's tuning", () => {
            const g = load(`${dir}/gunicorn.py`, ["bind", "workers", "timeout", "max_requests", "max_requests_jitter"]);
            assert.deepEqual(g, {
                bind: "10.100.1.10:8001",
                workers: 4,
                timeout: 120,
                max_requests: 1000,
                max_requests_jitter: 100,
            });
        });
    });

    describe("systemd-analyze verify", () => {
        let sa: string | undefined;
        let root: string;
        const units: Record<string, string> = {
            "netbox.service": r.renderNetboxService(STACK),
            "netbox-rq.service": r.renderNetboxRqService(STACK),
            "netbox-housekeeping.service": r.renderNetboxHousekeepingService(STACK),
            "netbox-housekeeping.timer": r.renderNetboxHousekeepingTimer(STACK),
            "proxbox-api.service": r.renderProxboxService({ stack: STACK, port: 8800, workers: 1 }),
            [r.hostPaths(STACK).unitName]: r.renderHostFirewallUnit({
                stack: STACK,
                script: r.hostPaths(STACK).script,
            }),
        };
        // Executables the units start; verify checks that each exists and is executable under --root.
        const executables = [
            "/opt/netbox/venv/bin/gunicorn",
            "/opt/netbox/venv/bin/python3",
            "/opt/proxbox-api/venv/bin/python3",
            "/bin/kill",
            r.hostPaths(STACK).script,
        ];

        before(function () {
            sa = which("systemd-analyze");
            if (!sa) skip(this, "systemd-analyze is not installed (Debian: systemd)");
            root = tmpdir("systemd");
            cleanup.push(root);
            // The stock units (targets, sysinit...) come from the host; ours and stub executables from the root.
            fs.mkdirSync(`${root}/usr/lib/systemd`, { recursive: true });
            fs.symlinkSync("/usr/lib/systemd/system", `${root}/usr/lib/systemd/system`);
            fs.mkdirSync(`${root}/etc/systemd/system`, { recursive: true });
            for (const [n, text] of Object.entries(units)) fs.writeFileSync(`${root}/etc/systemd/system/${n}`, text);
            for (const e of executables) {
                fs.mkdirSync(path.dirname(`${root}${e}`), { recursive: true });
                fs.writeFileSync(`${root}${e}`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
            }
            fs.writeFileSync(`${root}${r.hostPaths(STACK).script}`, r.renderHostFirewallScript(STACK), { mode: 0o755 });
        });

        const verify = () => run(sa!, ["verify", `--root=${root}`, ...Object.keys(units)]);

        it("accepts every unit", () => {
            const res = verify();
            ok(res, "systemd-analyze verify");
            const ours = res.stderr.split("\n").filter((l) => Object.keys(units).some((u) => l.includes(u)));
            assert.deepEqual(ours, [], res.stderr);
        });

        it("fails when an ExecStart binary is missing (the check is real)", () => {
            const gunicorn = `${root}/opt/netbox/venv/bin/gunicorn`;
            fs.renameSync(gunicorn, `${gunicorn}.away`);
            try {
                const res = verify();
                assert.notEqual(res.status, 0);
                assert.match(
                    res.stderr,
                    /netbox\.service: Command \/opt\/netbox\/venv\/bin\/gunicorn is not executable/,
                );
            } finally {
                fs.renameSync(`${gunicorn}.away`, gunicorn);
            }
        });
    });

    describe("sh -n on every script, and the host firewall in a private network namespace", () => {
        const scripts: Record<string, string> = {
            "db-configure": r.renderDbConfigureScript(17),
            "db-init": r.renderDbInitScript({ database: "netbox", user: "netbox" }),
            "cache-configure": r.renderCacheConfigureScript({ bindAddress: "10.100.0.30" }),
            "app-prepare": r.renderAppPrepareScript(),
            "app-install": r.renderAppInstallScript({ version: "v4.4.7", url: cfg.releaseUrl }),
            "app-migrate": r.renderAppMigrateScript(),
            "app-collectstatic": r.renderAppCollectstaticScript(),
            "app-superuser": r.renderAppSuperuserScript(),
            "app-services": r.renderAppServicesScript(),
            "nginx-enable": r.renderNginxEnableScript(["netbox-static", "proxbox-api"]),
            "trust-ca": r.renderTrustCaScript(),
            "host-network": r.renderHostNetworkScript(STACK),
            "host-network-delete": r.renderHostNetworkDeleteScript(STACK),
            "host-firewall": r.renderHostFirewallScript(STACK),
            "proxbox-install": r.renderProxboxInstallScript("0.0.11"),
            "proxbox-service": r.renderProxboxServiceScript(),
            "proxbox-register-key": r.renderProxboxRegisterKeyScript(8443),
        };

        for (const [n, text] of Object.entries(scripts)) {
            it(`${n} parses (dash -n)`, function () {
                const dash = which("dash") ?? which("sh");
                if (!dash) skip(this, "no POSIX shell");
                ok(run(dash, ["-n"], { input: text }), `sh -n ${n}`);
            });
        }

        it("loads, reloads and removes only our chains (iptables in unshare -n)", function () {
            const restore = which("iptables-restore");
            if (!restore || !isRoot) skip(this, "needs root and iptables");
            const probe = run("unshare", ["-n", "true"]);
            if (probe.status !== 0) skip(this, `unshare -n is not permitted here: ${probe.stderr.trim()}`);
            const dir = tmpdir("fw");
            cleanup.push(dir);
            const rules = path.join(dir, "rules");
            fs.writeFileSync(
                rules,
                r.renderHostFirewallRules({
                    stack: STACK,
                    external: "vmbr0",
                    backend: { name: "vmbr1", cidr: "10.100.0.0/24" },
                    dmz: { name: "vmbr2", cidr: "10.100.1.0/24" },
                    monitoringSources: ["192.168.1.5/32"],
                }),
            );
            const script = r.renderHostFirewallScript(STACK);
            const fixed = `rules=${r.hostPaths(STACK).rules}`;
            assert.ok(script.includes(fixed));
            const scriptPath = path.join(dir, "fw.sh");
            fs.writeFileSync(scriptPath, script.replace(fixed, `rules=${rules}`), { mode: 0o755 });
            const inNs = [
                // A rule of the host's own that must survive everything we do.
                "iptables -A FORWARD -s 192.0.2.1/32 -j ACCEPT",
                `${scriptPath} start`,
                "iptables-save > before-reload",
                `${scriptPath} start`,
                "iptables-save > after-reload",
                "iptables -S FORWARD; echo ---; iptables -t nat -S POSTROUTING; echo ---; iptables -S PHL-NETBOX-FWD",
                "echo ===",
                `${scriptPath} stop`,
                `${scriptPath} stop`,
                "iptables-save",
            ].join(" && ");
            const out = ok(run("unshare", ["-n", "sh", "-c", inNs], { cwd: dir }), "firewall in netns");
            const strip = (s: string) => s.replace(/^#.*\n/gm, "");
            assert.equal(
                strip(fs.readFileSync(`${dir}/before-reload`, "utf8")),
                strip(fs.readFileSync(`${dir}/after-reload`, "utf8")),
                "a second start changed the rules",
            );
            const [live, removed] = out.split("===\n");
            assert.equal(
                live,
                [
                    "-P FORWARD ACCEPT",
                    "-A FORWARD -j PHL-NETBOX-FWD",
                    "-A FORWARD -s 192.0.2.1/32 -j ACCEPT",
                    "---",
                    "-P POSTROUTING ACCEPT",
                    "-A POSTROUTING -j PHL-NETBOX-NAT",
                    "---",
                    "-N PHL-NETBOX-FWD",
                    "-A PHL-NETBOX-FWD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                    "-A PHL-NETBOX-FWD -i vmbr1 -o vmbr1 -j ACCEPT",
                    "-A PHL-NETBOX-FWD -i vmbr2 -o vmbr2 -j ACCEPT",
                    "-A PHL-NETBOX-FWD -s 192.168.1.5/32 -o vmbr1 -p tcp -m tcp --dport 9100 -j ACCEPT",
                    "-A PHL-NETBOX-FWD -s 192.168.1.5/32 -o vmbr2 -p tcp -m tcp --dport 9100 -j ACCEPT",
                    "-A PHL-NETBOX-FWD -s 10.100.0.0/24 -i vmbr1 -o vmbr0 -j ACCEPT",
                    "-A PHL-NETBOX-FWD -s 10.100.1.0/24 -i vmbr2 -o vmbr0 -j ACCEPT",
                    "-A PHL-NETBOX-FWD -o vmbr1 -j DROP",
                    "-A PHL-NETBOX-FWD -o vmbr2 -j DROP",
                    "-A PHL-NETBOX-FWD -i vmbr1 -j DROP",
                    "-A PHL-NETBOX-FWD -i vmbr2 -j DROP",
                    "",
                ].join("\n"),
            );
            assert.doesNotMatch(removed, /PHL-NETBOX/);
            assert.match(removed, /-A FORWARD -s 192\.0\.2\.1\/32 -j ACCEPT/);
        });
    });

    it("keeps the Fernet key format proxbox-api expects (urlsafe base64 of 32 bytes)", function () {
        const python = which("python3");
        if (!python) skip(this, "python3 is not installed");
        const b64 = createHash("sha256").update("seed+/").digest("base64");
        const key = r.fernetKeyFromBase64(b64);
        // The same check cryptography's Fernet constructor makes, without needing the package.
        const res = run(python, [
            "-c",
            "import base64, sys; k = base64.urlsafe_b64decode(sys.argv[1].encode()); assert len(k) == 32; print('ok')",
            key,
        ]);
        assert.equal(ok(res, "fernet key").trim(), "ok");
    });
});
