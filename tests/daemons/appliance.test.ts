/**
 * Every file ProximityAppliance renders, checked by the program it is for, with the Debian packages CI installs
 * (dnsmasq-base, caddy, iptables, busybox-static, python3, systemd; `ip` and `sysctl` from iproute2/procps or
 * busybox). The live checks run as root inside a private network namespace (`unshare --net`): they see only their
 * own loopback, veths and netfilter tables, never the machine's. A test skips, saying why, only when a program or
 * root is missing.
 */
import assert from "node:assert/strict";
import { SpawnSyncReturns, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
    APPLIANCE_PATHS,
    ProximityAppArgs,
    applianceDnsmasqConf,
    applianceFirewallRules,
    applianceHealthCheck,
    appVhost,
    renderCaddyReloadScript,
    renderCaddyServiceScript,
    renderCaddyVhost,
    renderCaddyfile,
    renderCockpitScript,
    renderDnsmasqAppLease,
    renderDnsmasqReloadScript,
    renderDnsmasqServiceScript,
    renderForwardingSysctl,
    renderGatewayApplyScript,
    renderGatewayOpenrc,
    renderGatewayScript,
    renderGatewaySystemdUnit,
    resolveApplianceArgs,
} from "../../components/appliance/index";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
const app = (name: string, port: number): ProximityAppArgs => ({
    name,
    port,
    cores: 1,
    memory: 512,
    swap: 512,
    diskGiB: 8,
});
const cfg = resolveApplianceArgs("prox", {
    node: "pve",
    template: TEMPLATE,
    os: "debian",
    apps: [app("web", 8081), app("db", 8082)],
});
/** The same with no upstream DNS: nothing is forwarded (and nothing leaves the namespace). */
const isolated = resolveApplianceArgs("prox", { ...{ node: "pve", template: TEMPLATE }, upstreamDns: [], apps: [] });
const MGMT = ["192.168.1.0/24"];
const [WEB, DB] = cfg.apps;

function which(bin: string): string | undefined {
    for (const d of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
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

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}) {
    const res: SpawnSyncReturns<string> = spawnSync(cmd, args, {
        encoding: "utf8",
        env: opts.env ?? process.env,
        input: opts.input,
        timeout: opts.timeoutMs ?? 60_000,
    });
    if (res.error) throw res.error;
    return res;
}

function ok(res: SpawnSyncReturns<string>, what: string): string {
    assert.equal(res.status, 0, `${what} failed (${res.status}):\n${res.stdout}\n${res.stderr}`);
    return res.stdout;
}

function skip(ctx: Mocha.Context, why: string): never {
    console.log(`      (skipped: ${why})`);
    ctx.skip();
}

const isRoot = process.getuid?.() === 0;
const cleanup: string[] = [];
function tmpdir(prefix: string): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `appliance-daemon-${prefix}-`));
    cleanup.push(d);
    return d;
}

/** Can this process make a private network namespace? (root, and a kernel that allows it) */
function netnsAvailable(): string | undefined {
    if (!isRoot) return "needs root for a private network namespace";
    const unshare = which("unshare");
    if (!unshare) return "unshare is not installed (util-linux)";
    const res = spawnSync(unshare, ["--net", "true"]);
    return res.status === 0 ? undefined : `unshare --net fails here: ${res.stderr}`;
}

/** Runs a POSIX sh script inside a fresh network namespace (its own lo, interfaces and netfilter tables). */
function inNetns(script: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000) {
    return run(which("unshare")!, ["--net", "sh", "-c", script], { env: { ...process.env, ...env }, timeoutMs });
}

/**
 * A directory with `ip` and `sysctl`: the real ones when installed, else busybox's applets (a minimal Debian has
 * neither iproute2 nor procps). Busybox's `ip` cannot make veth pairs: `needVeth` insists on iproute2's.
 */
function toolsDir(busybox: string | undefined, needVeth = false): string | undefined {
    const dir = tmpdir("tools");
    for (const t of ["ip", "sysctl"]) {
        const real = which(t);
        if (real) fs.symlinkSync(real, path.join(dir, t));
        else if (busybox && !(t === "ip" && needVeth))
            fs.writeFileSync(path.join(dir, t), `#!/bin/sh\nexec ${busybox} ${t} "$@"\n`, { mode: 0o755 });
        else return undefined;
    }
    return dir;
}

describe("ProximityAppliance configs pass their daemons' own checks", function () {
    this.timeout(120_000);
    after(() => {
        for (const d of cleanup) fs.rmSync(d, { recursive: true, force: true });
    });

    describe("dnsmasq --test", () => {
        let dnsmasq: string | undefined;
        before(function () {
            dnsmasq = which("dnsmasq");
            if (!dnsmasq) skip(this, "dnsmasq is not installed (Debian: dnsmasq-base)");
        });

        /** The rendered dnsmasq.conf with conf-dir pointing at a temporary copy of /etc/dnsmasq.d. */
        function writeConfig(conf: string, leases: Record<string, string>): { dir: string; conf: string } {
            const dir = tmpdir("dnsmasq");
            fs.mkdirSync(`${dir}/dnsmasq.d`);
            for (const [name, text] of Object.entries(leases)) fs.writeFileSync(`${dir}/dnsmasq.d/${name}`, text);
            const rewritten = conf.replace(`conf-dir=${APPLIANCE_PATHS.dnsmasqDir}/`, `conf-dir=${dir}/dnsmasq.d/`);
            assert.notEqual(rewritten, conf, "conf-dir line not found");
            fs.writeFileSync(`${dir}/dnsmasq.conf`, rewritten);
            return { dir, conf: `${dir}/dnsmasq.conf` };
        }
        const leases = () => ({
            "app-web.conf": renderDnsmasqAppLease(WEB),
            "app-db.conf": renderDnsmasqAppLease(DB),
        });

        it("accepts the document's configuration with the apps' static leases", () => {
            const { conf } = writeConfig(applianceDnsmasqConf(cfg), leases());
            const res = run(dnsmasq!, ["--test", "-C", conf]);
            ok(res, "dnsmasq --test");
            assert.match(res.stderr, /syntax check OK/);
        });

        it("accepts the configuration without upstream servers (no-resolv)", () => {
            const { conf } = writeConfig(applianceDnsmasqConf(isolated), {});
            ok(run(dnsmasq!, ["--test", "-C", conf]), "dnsmasq --test");
        });

        it("reads the per-app files (a clashing lease fails the check)", () => {
            const clash = renderDnsmasqAppLease({ name: "other", hwaddr: "BC:24:11:00:00:99", ip: WEB.ip });
            const { conf } = writeConfig(applianceDnsmasqConf(cfg), { ...leases(), "app-other.conf": clash });
            const res = run(dnsmasq!, ["--test", "-C", conf]);
            assert.notEqual(res.status, 0);
            assert.match(res.stderr, new RegExp(`duplicate dhcp-host IP address ${WEB.ip.replace(/\./g, "\\.")}`));
        });
    });

    describe("dnsmasq serving the app LAN (private network namespace)", () => {
        let dnsmasq: string;
        let busybox: string;
        let tools: string;
        before(function () {
            const why = netnsAvailable();
            if (why) skip(this, why);
            dnsmasq = which("dnsmasq") ?? skip(this, "dnsmasq is not installed (Debian: dnsmasq-base)");
            busybox = which("busybox") ?? skip(this, "busybox is not installed (Debian: busybox-static)");
            tools = toolsDir(busybox, true) ?? skip(this, "ip is not installed (Debian: iproute2)");
        });

        it("hands each app its static lease, resolves <app>.prox.local, and needs a restart for a new app", () => {
            const dir = tmpdir("dnsmasq-live");
            fs.mkdirSync(`${dir}/d`);
            fs.writeFileSync(`${dir}/d/app-web.conf`, renderDnsmasqAppLease(WEB));
            // The isolated variant (no upstream servers) with the two apps' addresses: nothing tries to leave.
            const conf = applianceDnsmasqConf(isolated).replace(
                `conf-dir=${APPLIANCE_PATHS.dnsmasqDir}/`,
                `conf-dir=${dir}/d/`,
            );
            fs.writeFileSync(`${dir}/dnsmasq.conf`, conf);
            const script = [
                "set -u",
                'PATH="$TOOLS:$PATH"',
                "ip link set lo up",
                // eth1 is the appliance's LAN NIC; here a bridge so that two clients can hang off it.
                "ip link add eth1 type bridge",
                `ip addr add ${isolated.lan.gateway}/${isolated.lan.prefix} dev eth1`,
                "ip link set eth1 up",
                "for c in c0 c1; do ip link add $c type veth peer name ${c}p; ip link set ${c}p master eth1; ip link set ${c}p up; done",
                `ip link set c0 address ${WEB.hwaddr}`,
                `ip link set c1 address ${DB.hwaddr}`,
                "ip link set c0 up; ip link set c1 up",
                'start() { "$DNSMASQ" -C "$DIR/dnsmasq.conf" -x "$DIR/pid" --dhcp-leasefile="$DIR/leases" --log-facility="$DIR/log" -u root; }',
                'lease() { "$BB" udhcpc -i "$1" -n -q -f -t 5 -T 1 -s /bin/true 2>&1 | sed -n "s/.*lease of \\([0-9.]*\\) obtained.*/\\1/p"; }',
                "start",
                'echo "web=$(lease c0)"',
                `"$BB" nslookup web.${isolated.domain} ${isolated.lan.gateway} 2>&1 | sed -n 's/^Address: *\\([0-9.]*\\)$/resolved=\\1/p'`,
                `"$BB" nslookup example.com ${isolated.lan.gateway} >/dev/null 2>&1; echo "external=$?"`,
                // A new app's lease file: SIGHUP does not read it (dnsmasq re-reads hosts files, not conf-dir)...
                `cp "$DIR/db.conf" "$DIR/d/app-db.conf"`,
                'kill -HUP "$(cat "$DIR/pid")"; sleep 0.3',
                'echo "db-after-hup=$(lease c1)"',
                // ...a restart does.
                'kill "$(cat "$DIR/pid")"; sleep 0.3; start',
                'echo "db-after-restart=$(lease c1)"',
                'kill "$(cat "$DIR/pid")"',
            ].join("\n");
            fs.writeFileSync(`${dir}/db.conf`, renderDnsmasqAppLease(DB));
            const res = inNetns(script, { TOOLS: tools, DNSMASQ: dnsmasq, BB: busybox, DIR: dir });
            const out = Object.fromEntries(
                res.stdout
                    .trim()
                    .split("\n")
                    .map((l) => l.split("=") as [string, string]),
            );
            const log = fs.existsSync(`${dir}/log`) ? fs.readFileSync(`${dir}/log`, "utf8") : "";
            const why = `${res.stdout}\n${res.stderr}\n${log}`;
            assert.equal(out.web, WEB.ip, why);
            assert.equal(out.resolved, WEB.ip, why);
            assert.notEqual(out.external, "0", why);
            assert.notEqual(out["db-after-hup"], DB.ip, why);
            assert.match(out["db-after-hup"], /^10\.20\.0\.(1\d\d|2[0-4]\d|250)$/, why);
            assert.equal(out["db-after-restart"], DB.ip, why);
        });
    });

    describe("caddy validate", () => {
        let caddy: string | undefined;
        const env = () => {
            const home = tmpdir("caddy-home");
            return { ...process.env, HOME: home, XDG_DATA_HOME: `${home}/data`, XDG_CONFIG_HOME: `${home}/config` };
        };
        before(function () {
            caddy = which("caddy");
            if (!caddy) skip(this, "caddy is not installed (Debian: caddy)");
        });

        /** The rendered Caddyfile importing a temporary sites-enabled holding `sites`. */
        function writeSites(sites: Record<string, string>, caddyfile = renderCaddyfile()): string {
            const dir = tmpdir("caddy");
            fs.mkdirSync(`${dir}/sites-enabled`);
            for (const [name, text] of Object.entries(sites)) fs.writeFileSync(`${dir}/sites-enabled/${name}`, text);
            const rewritten = caddyfile.replace(
                `import ${APPLIANCE_PATHS.caddySites}/*`,
                `import ${dir}/sites-enabled/*`,
            );
            assert.notEqual(rewritten, caddyfile, "import line not found");
            fs.writeFileSync(`${dir}/Caddyfile`, rewritten);
            return `${dir}/Caddyfile`;
        }
        const validate = (file: string) =>
            run(caddy!, ["validate", "--config", file, "--adapter", "caddyfile"], { env: env() });

        it("accepts the Caddyfile with the apps' vhosts", () => {
            const file = writeSites({ "web.caddy": appVhost(cfg, WEB), "db.caddy": appVhost(cfg, DB) });
            const res = validate(file);
            ok(res, "caddy validate");
            assert.match(res.stdout, /Valid configuration/);
        });

        it("accepts the Caddyfile with no apps yet", () => {
            ok(validate(writeSites({})), "caddy validate");
        });

        it("reads the imported vhosts (a broken one fails)", () => {
            const res = validate(
                writeSites({ "web.caddy": appVhost(cfg, WEB), "bad.caddy": "http://bad {\n\treverse_proxy {\n" }),
            );
            assert.notEqual(res.status, 0);
        });

        it("serves the vhosts on :80 with the admin API on localhost (the adapted JSON)", () => {
            const file = writeSites({ "web.caddy": appVhost(cfg, WEB) });
            const json = JSON.parse(
                ok(run(caddy!, ["adapt", "--config", file, "--adapter", "caddyfile"], { env: env() }), "caddy adapt"),
            );
            assert.deepEqual(json.admin, { listen: "localhost:2019" });
            const servers = Object.values(json.apps.http.servers) as {
                listen: string[];
                routes: { match: { host: string[] }[] }[];
            }[];
            assert.deepEqual(
                servers.map((s) => s.listen),
                [[":80"]],
            );
            assert.deepEqual(servers[0].routes[0].match[0].host, ["web.prox.local"]);
            // Why the site address carries http://: the document's bare hostname would make a TLS listener on :443.
            const bare = writeSites({
                "web.caddy": appVhost(cfg, WEB).replace("http://web.prox.local", "web.prox.local"),
            });
            const bareJson = JSON.parse(
                ok(run(caddy!, ["adapt", "--config", bare, "--adapter", "caddyfile"], { env: env() }), "caddy adapt"),
            );
            assert.deepEqual(
                (Object.values(bareJson.apps.http.servers) as { listen: string[] }[]).map((s) => s.listen),
                [[":443"]],
            );
        });
    });

    describe("Caddy proxying and reloading (private network namespace)", () => {
        let caddy: string;
        let python: string;
        let tools: string;
        before(function () {
            const why = netnsAvailable();
            if (why) skip(this, why);
            caddy = which("caddy") ?? skip(this, "caddy is not installed (Debian: caddy)");
            python = which("python3") ?? skip(this, "python3 is not installed");
            tools = toolsDir(which("busybox")) ?? skip(this, "neither ip/sysctl nor busybox is installed");
        });

        it("proxies <app>.prox.local to the app, logs JSON, and `caddy reload` adds a vhost (it fails with admin off)", () => {
            const dir = tmpdir("caddy-live");
            for (const d of ["sites-enabled", "logs", "www-web", "www-db", "home"]) fs.mkdirSync(`${dir}/${d}`);
            fs.writeFileSync(`${dir}/www-web/index.html`, "hello from web\n");
            fs.writeFileSync(`${dir}/www-db/index.html`, "hello from db\n");
            // Apps at 127.0.0.1 (the namespace's only address); log files in the temp dir.
            const site = (a: typeof WEB) =>
                renderCaddyVhost({
                    name: a.name,
                    domain: cfg.domain,
                    ip: "127.0.0.1",
                    port: a.port,
                    healthPath: "/",
                }).replace(`${APPLIANCE_PATHS.caddyLogs}/`, `${dir}/logs/`);
            fs.writeFileSync(`${dir}/sites-enabled/web.caddy`, site(WEB));
            fs.writeFileSync(`${dir}/db.caddy`, site(DB));
            const caddyfile = renderCaddyfile().replace(
                `import ${APPLIANCE_PATHS.caddySites}/*`,
                `import ${dir}/sites-enabled/*`,
            );
            fs.writeFileSync(`${dir}/Caddyfile`, caddyfile);
            fs.writeFileSync(`${dir}/Caddyfile.admin-off`, caddyfile.replace("admin localhost:2019", "admin off"));
            const get = (host: string) =>
                `"$PY" -c 'import sys,urllib.request as u; print(u.urlopen(u.Request("http://127.0.0.1/", headers={"Host": sys.argv[1]}), timeout=5).read().decode().strip())' ${host}`;
            const script = [
                "set -u",
                'PATH="$TOOLS:$PATH"',
                'export HOME="$DIR/home" XDG_DATA_HOME="$DIR/home/data" XDG_CONFIG_HOME="$DIR/home/config"',
                "ip link set lo up",
                `"$PY" -m http.server ${WEB.port} --bind 127.0.0.1 --directory "$DIR/www-web" >/dev/null 2>&1 & web=$!`,
                `"$PY" -m http.server ${DB.port} --bind 127.0.0.1 --directory "$DIR/www-db" >/dev/null 2>&1 & db=$!`,
                // Caddy's first active health check must find the apps up.
                `for p in ${WEB.port} ${DB.port}; do i=0; until "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $p), 1)" 2>/dev/null || [ $i -gt 50 ]; do i=$((i+1)); sleep 0.1; done; done`,
                '"$CADDY" start --config "$DIR/Caddyfile" --adapter caddyfile >/dev/null 2>&1; echo "start=$?"',
                `echo "web=$(${get("web.prox.local")})"`,
                'cp "$DIR/db.caddy" "$DIR/sites-enabled/db.caddy"',
                '"$CADDY" reload --config "$DIR/Caddyfile" --adapter caddyfile >/dev/null 2>&1; echo "reload=$?"',
                `echo "db=$(${get("db.prox.local")})"`,
                '"$CADDY" stop >/dev/null 2>&1; echo "stop=$?"',
                // Document 001's `admin off`: Caddy runs, but a reload has nothing to talk to.
                '"$CADDY" run --config "$DIR/Caddyfile.admin-off" --adapter caddyfile >/dev/null 2>&1 & off=$!',
                `i=0; until ${get("web.prox.local")} >/dev/null 2>&1 || [ $i -gt 50 ]; do i=$((i+1)); sleep 0.1; done`,
                '"$CADDY" reload --config "$DIR/Caddyfile.admin-off" --adapter caddyfile >/dev/null 2>&1; echo "reload-admin-off=$?"',
                "kill $off $web $db 2>/dev/null; wait 2>/dev/null",
            ].join("\n");
            const res = inNetns(script, { TOOLS: tools, CADDY: caddy, PY: python, DIR: dir }, 90_000);
            const out = Object.fromEntries(
                res.stdout
                    .trim()
                    .split("\n")
                    .filter((l) => l.includes("="))
                    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
            );
            const why = `${res.stdout}\n${res.stderr}`;
            assert.equal(out.start, "0", why);
            assert.equal(out.web, "hello from web", why);
            assert.equal(out.reload, "0", why);
            assert.equal(out.db, "hello from db", why);
            assert.equal(out.stop, "0", why);
            assert.notEqual(out["reload-admin-off"], "0", why);
            const access = fs.readFileSync(`${dir}/logs/web.prox.local.log`, "utf8").trim().split("\n")[0];
            const entry = JSON.parse(access);
            assert.equal(entry.request.host, "web.prox.local");
            assert.equal(entry.status, 200);
        });
    });

    describe("NAT rules, gateway script and health check (private network namespace)", () => {
        let tools: string;
        before(function () {
            const why = netnsAvailable();
            if (why) skip(this, why);
            if (!which("iptables-restore")) skip(this, "iptables is not installed (Debian: iptables)");
            tools = toolsDir(which("busybox")) ?? skip(this, "neither ip/sysctl nor busybox is installed");
        });

        it("loads only our chains, hooks them once however often it runs, and the health check sees them", () => {
            const dir = tmpdir("gateway");
            const rules = applianceFirewallRules(cfg, MGMT);
            const p = (f: string) => `${dir}/${path.basename(f)}`;
            fs.writeFileSync(p(APPLIANCE_PATHS.firewallRules), rules);
            fs.writeFileSync(p(APPLIANCE_PATHS.sysctl), renderForwardingSysctl());
            const gateway = renderGatewayScript()
                .replace(APPLIANCE_PATHS.sysctl, p(APPLIANCE_PATHS.sysctl))
                .replace(APPLIANCE_PATHS.firewallRules, p(APPLIANCE_PATHS.firewallRules));
            fs.writeFileSync(`${dir}/gateway`, gateway, { mode: 0o755 });
            fs.writeFileSync(`${dir}/health`, applianceHealthCheck(cfg, MGMT));
            // Service managers and daemons are not under test here: stubs that answer "running" unless told otherwise.
            fs.mkdirSync(`${dir}/stubs`);
            const stub = '#!/bin/sh\ncase " $* " in *" $FAIL "*) exit 3 ;; esac\nexit 0\n';
            for (const s of ["systemctl", "dnsmasq", "caddy"])
                fs.writeFileSync(`${dir}/stubs/${s}`, stub, { mode: 0o755 });

            const hostRulesBefore = run(which("iptables-save")!, []).stdout;
            const hostForwardBefore = fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8");
            const script = [
                "set -u",
                'PATH="$TOOLS:$PATH"',
                'iptables-restore --test "$DIR/proximity.rules"; echo "test=$?"',
                'sh "$DIR/gateway"; echo "first=$?"',
                'sh "$DIR/gateway"; echo "second=$?"',
                'echo "forward=$(cat /proc/sys/net/ipv4/ip_forward)"',
                'iptables-save -t nat > "$DIR/nat.save"; iptables-save -t filter > "$DIR/filter.save"',
                'PATH="$DIR/stubs:$PATH" FAIL=none sh "$DIR/health" > "$DIR/health.ok" 2>&1; echo "health=$?"',
                `iptables -t nat -D PROXIMITY-POSTROUTING -s ${cfg.lan.cidr} -o eth0 -j MASQUERADE`,
                'PATH="$DIR/stubs:$PATH" FAIL=dnsmasq.service sh "$DIR/health" > "$DIR/health.bad" 2>&1; echo "health-broken=$?"',
            ].join("\n");
            const res = inNetns(script, { TOOLS: tools, DIR: dir });
            const out = Object.fromEntries(
                res.stdout
                    .trim()
                    .split("\n")
                    .map((l) => l.split("=") as [string, string]),
            );
            const why = `${res.stdout}\n${res.stderr}`;
            assert.deepEqual(
                out,
                { test: "0", first: "0", second: "0", forward: "1", health: "0", "health-broken": "1" },
                why,
            );

            // Exactly the rendered rules, once each, plus one hook per built-in chain.
            const saved = (f: string) =>
                fs
                    .readFileSync(`${dir}/${f}`, "utf8")
                    .split("\n")
                    .filter((l) => l.startsWith("-A ") || l.startsWith(":PROXIMITY"));
            const renderedRules = rules.split("\n").filter((l) => l.startsWith("-A "));
            assert.deepEqual(saved("nat.save"), [
                ":PROXIMITY-POSTROUTING - [0:0]",
                "-A POSTROUTING -j PROXIMITY-POSTROUTING",
                ...renderedRules.filter((l) => l.startsWith("-A PROXIMITY-POSTROUTING")),
            ]);
            assert.deepEqual(saved("filter.save"), [
                ":PROXIMITY-FORWARD - [0:0]",
                ":PROXIMITY-INPUT - [0:0]",
                "-A INPUT -j PROXIMITY-INPUT",
                "-A FORWARD -j PROXIMITY-FORWARD",
                ...renderedRules.filter((l) => !l.startsWith("-A PROXIMITY-POSTROUTING")),
            ]);

            assert.match(fs.readFileSync(`${dir}/health.ok`, "utf8"), /^ok: dnsmasq is running$/m);
            const bad = fs.readFileSync(`${dir}/health.bad`, "utf8");
            assert.match(bad, /^FAILED: dnsmasq is running \(exit 3\)$/m);
            assert.match(bad, /^FAILED: app LAN 10\.20\.0\.0\/24 is masqueraded out of eth0 \(exit 1\)$/m);
            assert.match(bad, /^ok: app LAN cannot reach 192\.168\.1\.0\/24$/m);
            assert.match(bad, /^Proximity appliance health check failed$/m);

            // The machine's own rules and forwarding are untouched.
            assert.equal(
                run(which("iptables-save")!, []).stdout.replace(/^#.*\n/gm, ""),
                hostRulesBefore.replace(/^#.*\n/gm, ""),
            );
            assert.equal(fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8"), hostForwardBefore);
        });
    });

    describe("systemd-analyze verify", () => {
        let sa: string | undefined;
        before(function () {
            sa = which("systemd-analyze");
            if (!sa) skip(this, "systemd-analyze is not installed (Debian: systemd)");
        });

        it("accepts the gateway unit", () => {
            const root = tmpdir("systemd");
            fs.mkdirSync(`${root}/usr/lib/systemd`, { recursive: true });
            fs.symlinkSync("/usr/lib/systemd/system", `${root}/usr/lib/systemd/system`);
            fs.mkdirSync(`${root}/etc/systemd/system`, { recursive: true });
            fs.writeFileSync(`${root}${APPLIANCE_PATHS.systemdUnit}`, renderGatewaySystemdUnit());
            fs.mkdirSync(path.dirname(`${root}${APPLIANCE_PATHS.gatewayScript}`), { recursive: true });
            fs.writeFileSync(`${root}${APPLIANCE_PATHS.gatewayScript}`, renderGatewayScript(), { mode: 0o755 });
            const res = run(sa!, ["verify", `--root=${root}`, path.basename(APPLIANCE_PATHS.systemdUnit)]);
            ok(res, "systemd-analyze verify");
            const ours = res.stderr.split("\n").filter((l) => l.includes("proximity-gateway"));
            assert.deepEqual(ours, [], res.stderr);
        });
    });

    describe("sh -n on every script (dash, and busybox ash as on Alpine)", () => {
        const scripts: Record<string, string> = {};
        for (const os of ["alpine", "debian"] as const) {
            scripts[`gateway-apply-${os}`] = renderGatewayApplyScript(os);
            scripts[`dnsmasq-${os}`] = renderDnsmasqServiceScript(os);
            scripts[`caddy-${os}`] = renderCaddyServiceScript(os);
            scripts[`dnsmasq-reload-${os}`] = renderDnsmasqReloadScript(os, ["web", "db"]);
            scripts[`dnsmasq-reload-none-${os}`] = renderDnsmasqReloadScript(os, []);
            scripts[`caddy-reload-${os}`] = renderCaddyReloadScript(os, ["web"]);
            scripts[`health-${os}`] = applianceHealthCheck({ ...cfg, os, cockpit: os === "debian" }, MGMT);
        }
        scripts["gateway"] = renderGatewayScript();
        scripts["gateway-openrc"] = renderGatewayOpenrc();
        scripts["cockpit"] = renderCockpitScript("proximity");

        for (const shell of ["sh", "busybox"]) {
            it(`${shell === "sh" ? "sh" : "busybox sh"} -n accepts them all`, function () {
                const bin = which(shell) ?? skip(this, `${shell} is not installed`);
                const bad: string[] = [];
                for (const [name, text] of Object.entries(scripts)) {
                    const res = run(bin, shell === "sh" ? ["-n"] : ["sh", "-n"], { input: text });
                    if (res.status !== 0) bad.push(`${name}: ${res.stderr}`);
                }
                assert.deepEqual(bad, []);
            });
        }
    });
});
