/**
 * NetboxStack's scripts and files, played in the order the component declares them against the simulator's
 * container backend (tests/pve-sim ChrootBackend: real shells, modelled apt/systemctl/psql/iptables...). This
 * drives the backend directly rather than through the providers, so it checks what the stack itself writes and
 * runs: paths, owners, modes, package names, commands the containers must have, idempotency on a second run,
 * and that secrets only ever travel in the environment.
 *
 * Not covered here: `manage.py` (migrate, collectstatic) and the superuser script need python handlers the
 * simulator does not have yet; proxbox-api's HTTP endpoints need registered URLs.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { bootstrapFiles, renderBootstrapScript } from "../../components/common/container";
import { resolveNetboxArgs } from "../../components/netbox/args";
import * as r from "../../components/netbox/render/index";
import type { BackendNic } from "../pve-sim/backend";
import { ChrootBackend } from "../pve-sim/chroot-backend";

const STACK = "netbox";
const cfg = resolveNetboxArgs(STACK, {});
const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
const DB_PASSWORD = "DbPassw0rdFromEnv";
const CACHE_PASSWORD = "CachePassw0rdFromEnv";

function which(bin: string): boolean {
    return (process.env.PATH ?? "").split(":").some((d) => fs.existsSync(path.join(d, bin)));
}

describe("NetboxStack scripts in the simulator (ChrootBackend)", function () {
    this.timeout(300_000);
    let backend: ChrootBackend;
    const ids = { app: 100, db: 101, cache: 102, proxy: 103 };

    /** Runs a script as the Exec provider does: POSIX sh, environment passed in, output checked. */
    async function sh(vmid: number | null, script: string, env: Record<string, string> = {}): Promise<string> {
        const argv = ["/bin/sh", "-c", script];
        const res = vmid === null ? await backend.hostExec(argv, { env }) : await backend.exec(vmid, argv, { env });
        const out = res.stdout.toString();
        assert.equal(
            res.code,
            0,
            `script failed (${res.code}) in ${vmid ?? "host"}:\n${script}\n${out}\n${res.stderr}`,
        );
        return out;
    }

    /** Writes a file as the File provider does: parents created, owner and mode set, content on stdin. */
    async function put(
        vmid: number | null,
        file: string,
        content: string,
        mode = "0644",
        owner = "root",
        group = owner,
    ) {
        const script = [
            "set -eu",
            `mkdir -p "$(dirname "$P")"`,
            'tmp="$P.tmp.$$"',
            '(umask 077; cat >"$tmp")',
            'chown "$O:$G" "$tmp"',
            'chmod "$M" "$tmp"',
            'mv -f "$tmp" "$P"',
        ].join("\n");
        const env = { P: file, O: owner, G: group, M: mode };
        const argv = ["/bin/sh", "-c", script];
        const opts = { env, stdin: Buffer.from(content) };
        const res = vmid === null ? await backend.hostExec(argv, opts) : await backend.exec(vmid, argv, opts);
        assert.equal(res.code, 0, `writing ${file}: ${res.stderr}`);
    }

    const root = (vmid: number | null) => (vmid === null ? backend.hostRoot : backend.rootOf(vmid));
    const read = (vmid: number | null, p: string) => fs.readFileSync(path.join(root(vmid), p), "utf8");
    const stat = (vmid: number, p: string) => {
        const out = execFileSync("stat", ["-c", "%a %u %g", path.join(root(vmid), p)], { encoding: "utf8" }).trim();
        const [mode, uid, gid] = out.split(" ");
        // Owners are looked up in the container's own passwd/group files, not the host's.
        const name = (file: string, id: string) =>
            read(vmid, file)
                .split("\n")
                .map((l) => l.split(":"))
                .find((f) => f[2] === id)?.[0] ?? id;
        return `${mode.padStart(4, "0")} ${name("etc/passwd", uid)}:${name("etc/group", gid)}`;
    };
    const events = (vmid: number) => read(vmid, "var/log/sim/service-events").replace(/^\d+ /gm, "");
    const unitState = (vmid: number, unit: string) => {
        try {
            return read(vmid, `run/sim/units/${unit}`).trim();
        } catch {
            return "inactive";
        }
    };

    async function createCt(vmid: number, hostname: string, nics: BackendNic[]) {
        await backend.create({ vmid, hostname, ostemplate: TEMPLATE, ostype: "debian", unprivileged: true, nics });
        await backend.start(vmid);
    }

    /** What HomelabContainer does: its bootstrap files, then its bootstrap script. */
    async function bootstrap(vmid: number, packages: string[], pip = false) {
        const a = { os: "debian" as const, downloads: cfg.downloads, packages, nodeExporter: true, pip };
        for (const f of bootstrapFiles(a)) await put(vmid, f.path, f.content);
        await sh(vmid, renderBootstrapScript(a));
    }

    before(async function () {
        if (process.getuid?.() !== 0 || !which("busybox") || !which("unshare")) {
            console.log("      (skipped: the ChrootBackend needs root, busybox-static and unshare)");
            this.skip();
        }
        backend = new ChrootBackend();
        await backend.init();
        const b = cfg.network.backend;
        const d = cfg.network.dmz;
        const nic = (name: string, bridge: string, ip: string, gw?: string): BackendNic => ({
            name,
            bridge,
            hwaddr: "BC:24:11:00:00:01",
            ip,
            ...(gw ? { gw } : {}),
        });
        await createCt(ids.db, cfg.db.hostname, [nic("eth0", b.name, `${cfg.db.backendAddress}/24`, b.hostAddress)]);
        await createCt(ids.cache, cfg.cache.hostname, [
            nic("eth0", b.name, `${cfg.cache.backendAddress}/24`, b.hostAddress),
        ]);
        await createCt(ids.app, cfg.app.hostname, [
            nic("eth0", b.name, `${cfg.app.backendAddress}/24`, b.hostAddress),
            nic("eth1", d.name, `${cfg.app.dmzAddress}/24`),
        ]);
        await createCt(ids.proxy, cfg.proxy.hostname, [
            nic("eth0", "vmbr0", "dhcp"),
            nic("eth1", d.name, `${cfg.proxy.dmzAddress}/24`),
        ]);
    });

    after(async () => {
        await backend?.close();
    });

    it("host: sysctl, our firewall chains and the boot unit, idempotently, without touching other rules", async () => {
        const p = r.hostPaths(STACK);
        await sh(null, "iptables -A FORWARD -s 192.0.2.1/32 -j ACCEPT");
        await put(null, p.sysctl, r.renderHostSysctl(STACK));
        await put(
            null,
            p.rules,
            r.renderHostFirewallRules({
                stack: STACK,
                external: cfg.network.external,
                backend: cfg.network.backend,
                dmz: cfg.network.dmz,
                monitoringSources: [],
            }),
        );
        await put(null, p.script, r.renderHostFirewallScript(STACK), "0755");
        await put(null, p.unit, r.renderHostFirewallUnit({ stack: STACK, script: p.script }));
        const script = r.renderHostNetworkScript(STACK);
        await sh(null, script);
        const first = await sh(null, "iptables-save | grep -v '^#'");
        await sh(null, script);
        assert.equal(await sh(null, "iptables-save | grep -v '^#'"), first, "a second run changed the rules");
        assert.equal(await sh(null, "sysctl -n net.ipv4.ip_forward"), "1\n");
        assert.equal(
            await sh(null, "iptables -S FORWARD"),
            "-P FORWARD ACCEPT\n-A FORWARD -j PHL-NETBOX-FWD\n-A FORWARD -s 192.0.2.1/32 -j ACCEPT\n",
        );
        assert.equal(
            await sh(null, "iptables -t nat -S PHL-NETBOX-NAT"),
            "-N PHL-NETBOX-NAT\n" +
                "-A PHL-NETBOX-NAT -s 10.100.0.0/24 -o vmbr0 -j MASQUERADE\n" +
                "-A PHL-NETBOX-NAT -s 10.100.1.0/24 -o vmbr0 -j MASQUERADE\n",
        );
        assert.equal(
            await sh(null, "iptables -S PHL-NETBOX-FWD"),
            [
                "-N PHL-NETBOX-FWD",
                "-A PHL-NETBOX-FWD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A PHL-NETBOX-FWD -i vmbr1 -o vmbr1 -j ACCEPT",
                "-A PHL-NETBOX-FWD -i vmbr2 -o vmbr2 -j ACCEPT",
                "-A PHL-NETBOX-FWD -s 10.100.0.0/24 -i vmbr1 -o vmbr0 -j ACCEPT",
                "-A PHL-NETBOX-FWD -s 10.100.1.0/24 -i vmbr2 -o vmbr0 -j ACCEPT",
                "-A PHL-NETBOX-FWD -o vmbr1 -j DROP",
                "-A PHL-NETBOX-FWD -o vmbr2 -j DROP",
                "-A PHL-NETBOX-FWD -i vmbr1 -j DROP",
                "-A PHL-NETBOX-FWD -i vmbr2 -j DROP",
                "",
            ].join("\n"),
        );
        assert.equal(await sh(null, `systemctl is-enabled ${p.unitName}`), "enabled\n");
        assert.equal(await sh(null, `systemctl is-active ${p.unitName}`), "active\n");

        await sh(null, r.renderHostNetworkDeleteScript(STACK));
        assert.doesNotMatch(await sh(null, "iptables-save"), /PHL-NETBOX/);
        assert.match(await sh(null, "iptables -S FORWARD"), /-A FORWARD -s 192\.0\.2\.1\/32 -j ACCEPT/);
        await sh(null, script);
    });

    it("db: PostgreSQL configured, role and database created once, password only in the environment", async () => {
        await bootstrap(ids.db, ["postgresql"]);
        const dir = `/etc/postgresql/${cfg.postgresVersion}/main`;
        await put(
            ids.db,
            `${dir}/conf.d/50-netbox.conf`,
            r.renderPostgresConf({ stack: STACK, listenAddress: cfg.db.backendAddress, memoryMiB: cfg.db.memory }),
            "0644",
            "postgres",
        );
        await put(
            ids.db,
            `${dir}/pg_hba.conf`,
            r.renderPgHba({ stack: STACK, database: "netbox", user: "netbox", appAddress: cfg.app.backendAddress }),
            "0640",
            "postgres",
        );
        assert.equal(stat(ids.db, `${dir}/pg_hba.conf`), "0640 postgres:postgres");
        await sh(ids.db, r.renderDbConfigureScript(cfg.postgresVersion));
        assert.match(events(ids.db), /restart postgresql@17-main\.service/);
        const init = r.renderDbInitScript({ database: "netbox", user: "netbox" });
        await sh(ids.db, init, { NETBOX_DB_PASSWORD: DB_PASSWORD });
        await sh(ids.db, init, { NETBOX_DB_PASSWORD: DB_PASSWORD });
        assert.equal(read(ids.db, "var/lib/sim/postgresql/roles"), "netbox\n");
        assert.equal(read(ids.db, "var/lib/sim/postgresql/databases"), "netbox\n");
        const log = read(ids.db, "var/lib/sim/postgresql/statements.log");
        assert.equal(log.split("CREATE ROLE netbox LOGIN").length, 2, "role created more than once");
        assert.match(log, /ALTER ROLE netbox WITH LOGIN PASSWORD :'netbox_password'/);
        assert.ok(!log.includes(DB_PASSWORD), "the password reached the SQL text");
    });

    it("cache: Valkey configured with the password in a separate 0640 file, and answering", async () => {
        await bootstrap(ids.cache, ["valkey-server"]);
        await put(
            ids.cache,
            "/etc/valkey/valkey.conf",
            r.renderValkeyConf({ stack: STACK, bindAddress: cfg.cache.backendAddress, memoryMiB: cfg.cache.memory }),
            "0640",
            "root",
            "valkey",
        );
        await put(ids.cache, r.VALKEY_AUTH_FILE, r.renderValkeyAuth(STACK, CACHE_PASSWORD), "0640", "root", "valkey");
        assert.equal(stat(ids.cache, r.VALKEY_AUTH_FILE), "0640 root:valkey");
        const script = r.renderCacheConfigureScript({ bindAddress: cfg.cache.backendAddress });
        await sh(ids.cache, script, { REDISCLI_AUTH: CACHE_PASSWORD, VALKEYCLI_AUTH: CACHE_PASSWORD });
        assert.equal(unitState(ids.cache, "valkey-server.service"), "active");
    });

    it("app: account, files, release download through the mirror URL, venv, pinned plugins, services", async () => {
        await bootstrap(
            ids.app,
            [
                ...["python3", "python3-venv", "python3-dev", "build-essential", "libxml2-dev", "libxslt1-dev"],
                ...["libffi-dev", "libpq-dev", "libssl-dev", "zlib1g-dev", "curl", "nginx"],
            ],
            true,
        );
        await sh(ids.app, r.renderAppPrepareScript());
        await sh(ids.app, r.renderAppPrepareScript());
        assert.equal(stat(ids.app, "/etc/netbox"), "0750 root:netbox");
        assert.equal(stat(ids.app, "/var/lib/netbox/media"), "0750 netbox:netbox");

        const P = r.NETBOX_PATHS;
        const appFile = (p: string, content: string, mode = "0644", group = "root") =>
            put(ids.app, p, content, mode, "root", group);
        await appFile(
            P.configuration,
            r.renderNetboxConfiguration({
                stack: STACK,
                hosts: [cfg.publicName],
                dbHost: cfg.db.backendAddress,
                dbName: "netbox",
                dbUser: "netbox",
                redisHost: cfg.cache.backendAddress,
                plugins: cfg.plugins,
                timeZone: "UTC",
            }),
            "0640",
            "netbox",
        );
        await appFile(
            P.secrets,
            r.renderNetboxSecrets({
                databasePassword: DB_PASSWORD,
                redisPassword: CACHE_PASSWORD,
                secretKey: "k".repeat(64),
            }),
            "0640",
            "netbox",
        );
        await appFile(
            P.gunicorn,
            r.renderGunicornConf({
                stack: STACK,
                bindAddress: cfg.app.dmzAddress,
                workers: 4,
                proxyAddress: cfg.proxy.dmzAddress,
            }),
            "0640",
            "netbox",
        );
        await appFile(P.localRequirements, r.renderLocalRequirements(STACK, cfg.plugins));
        await appFile(P.ensureSuperuser, r.renderEnsureSuperuserScript());
        await appFile("/etc/systemd/system/netbox.service", r.renderNetboxService(STACK));
        await appFile("/etc/systemd/system/netbox-rq.service", r.renderNetboxRqService(STACK));
        await appFile("/etc/systemd/system/netbox-housekeeping.service", r.renderNetboxHousekeepingService(STACK));
        await appFile("/etc/systemd/system/netbox-housekeeping.timer", r.renderNetboxHousekeepingTimer(STACK));
        await appFile(
            "/etc/nginx/sites-available/netbox-static",
            r.renderAppStaticSite({
                stack: STACK,
                listenAddress: cfg.app.dmzAddress,
                proxyAddress: cfg.proxy.dmzAddress,
            }),
        );
        assert.equal(stat(ids.app, P.secrets), "0640 root:netbox");

        // A release tarball shaped like GitHub's archive (one top directory).
        const src = fs.mkdtempSync(path.join(os.tmpdir(), "netbox-release-"));
        try {
            fs.mkdirSync(path.join(src, "netbox-4.4.7/netbox/netbox"), { recursive: true });
            fs.writeFileSync(path.join(src, "netbox-4.4.7/requirements.txt"), "Django==5.2.8\ngunicorn==23.0.0\n");
            fs.writeFileSync(path.join(src, "netbox-4.4.7/netbox/manage.py"), "#!/usr/bin/env python3\n");
            const tarball = execFileSync("tar", ["-czf", "-", "-C", src, "netbox-4.4.7"]);
            await backend.registerDownload(cfg.releaseUrl, tarball);
        } finally {
            fs.rmSync(src, { recursive: true, force: true });
        }
        const install = r.renderAppInstallScript({ version: cfg.netboxVersion, url: cfg.releaseUrl });
        await sh(ids.app, install);
        await sh(ids.app, install);
        assert.equal(fs.readlinkSync(path.join(root(ids.app), "opt/netbox")), "/opt/netbox-4.4.7");
        assert.equal(
            fs.readlinkSync(path.join(root(ids.app), "opt/netbox-4.4.7/netbox/netbox/configuration.py")),
            "/etc/netbox/configuration.py",
        );
        const freeze = await sh(ids.app, "/opt/netbox/venv/bin/pip freeze");
        for (const p of cfg.plugins)
            assert.match(freeze, new RegExp(`^${p.package}==${p.version.replace(/\./g, "\\.")}$`, "m"));
        assert.match(freeze, /^gunicorn==23\.0\.0$/m);
        assert.equal(
            read(ids.app, "var/log/sim/downloads.log")
                .split("\n")
                .filter((l) => l.includes("hit")).length,
            1,
        );

        await sh(ids.app, r.renderAppServicesScript());
        for (const u of ["netbox.service", "netbox-rq.service", "netbox-housekeeping.timer"]) {
            assert.equal(unitState(ids.app, u), "active", u);
            assert.equal(await sh(ids.app, `systemctl is-enabled ${u}`), "enabled\n");
        }
        await sh(ids.app, r.renderNginxEnableScript(["netbox-static"]));
        assert.ok(!fs.existsSync(path.join(root(ids.app), "etc/nginx/sites-enabled/default")));
        assert.equal(
            fs.readlinkSync(path.join(root(ids.app), "etc/nginx/sites-enabled/netbox-static")),
            "/etc/nginx/sites-available/netbox-static",
        );
    });

    it("proxy: certificate, 0600 key and site in place, nginx checked and reloaded", async () => {
        await bootstrap(ids.proxy, ["nginx"]);
        const tls = r.proxyTlsPaths(cfg.publicName);
        await put(ids.proxy, tls.cert, "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
        await put(ids.proxy, tls.key, "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n", "0600");
        await put(
            ids.proxy,
            "/etc/nginx/sites-available/netbox",
            r.renderProxySite({
                stack: STACK,
                serverNames: [cfg.publicName],
                appAddress: cfg.app.dmzAddress,
                certPath: tls.cert,
                keyPath: tls.key,
            }),
        );
        assert.equal(stat(ids.proxy, tls.key), "0600 root:root");
        // Without its cache directory's parent, nginx refuses the site (as Debian's nginx does).
        const refused = await backend.exec(ids.proxy, ["/bin/sh", "-c", r.renderNginxEnableScript(["netbox"])]);
        assert.equal(refused.code, 1);
        assert.match(
            refused.stderr.toString(),
            /mkdir\(\) "\/var\/cache\/nginx\/netbox-static" failed \(2: No such file or directory\)/,
        );
        await sh(ids.proxy, r.renderNginxEnableScript(["netbox"], [r.PROXY_STATIC_CACHE_DIR]));
        assert.equal(stat(ids.proxy, r.PROXY_STATIC_CACHE_DIR), "0700 www-data:www-data");
        assert.match(events(ids.proxy), /reload nginx\.service/);
    });

    it("proxbox: account, venv with the pinned proxbox-api, 0600 env file, service started", async () => {
        await sh(ids.app, r.renderProxboxInstallScript("0.0.11"));
        await put(
            ids.app,
            r.PROXBOX_PATHS.env,
            r.renderProxboxEnv({ stack: STACK, encryptionKey: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJK-_0123=" }),
            "0600",
            "proxbox",
        );
        await put(
            ids.app,
            "/etc/systemd/system/proxbox-api.service",
            r.renderProxboxService({ stack: STACK, port: 8800, workers: 1 }),
        );
        assert.equal(stat(ids.app, r.PROXBOX_PATHS.env), "0600 proxbox:proxbox");
        assert.equal(stat(ids.app, r.PROXBOX_PATHS.etc), "0750 root:proxbox");
        assert.match(await sh(ids.app, `${r.PROXBOX_PATHS.venv}/bin/pip freeze`), /^proxbox-api==0\.0\.11$/m);
        await sh(ids.app, r.renderProxboxServiceScript());
        assert.equal(unitState(ids.app, "proxbox-api.service"), "active");
    });
});
