/**
 * The monitoring configs against the real daemons from Debian's packages (CI installs them, see .ci/debian-packages.txt):
 * prometheus (promtool), prometheus-alertmanager (amtool), prometheus-blackbox-exporter, nginx-light, openssl.
 *
 * Static checks: each file is accepted by its daemon's checker, with every file it references present in a temporary
 * directory. Live checks (loopback only): Prometheus, Alertmanager and the blackbox exporter run with our files and
 * an HTTP service going down ends as a mail in an SMTP sink; nginx with our site enforces TLS, the allowlist and
 * basic auth with the apr1 hash we compute.
 */
import assert from "node:assert/strict";
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { MonitoringTargets } from "../../components/common/monitoring";
import {
    ALERT_RULES,
    AlertTiming,
    DEFAULT_ALERT_TIMING,
    dashboardExpressions,
    renderAlertRules,
    renderAlertmanagerConfig,
    renderBlackboxConfig,
    renderGrafanaDashboardProvider,
    renderGrafanaDatasources,
    renderGrafanaIni,
    renderHomelabDashboard,
    renderHtpasswd,
    renderNginxSite,
    renderPrometheusConfig,
    renderPveExporterConfig,
} from "../../components/monitoring/render";

// ---- helpers ---------------------------------------------------------------------------------------------------

function which(bin: string): string | undefined {
    const r = spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Skips the test, saying why, when a daemon's binary is missing. */
function needBinary(ctx: Mocha.Context, bin: string, pkg: string): void {
    if (which(bin)) return;
    console.log(`      skipped: ${bin} not found (Debian package ${pkg})`);
    ctx.skip();
}

function run(bin: string, args: string[], opts: { cwd?: string } = {}): { code: number; out: string } {
    const r = spawnSync(bin, args, { encoding: "utf8", cwd: opts.cwd });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < end) {
        try {
            const v = await probe();
            if (v !== undefined) return v;
        } catch (e) {
            last = e;
        }
        await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

function getJson(url: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
        http.get(url, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
                try {
                    resolve(JSON.parse(Buffer.concat(chunks).toString()));
                } catch (e) {
                    reject(e);
                }
            });
        }).on("error", reject);
    });
}

interface Daemon {
    proc: ChildProcess;
    log: () => string;
}

function startDaemon(bin: string, args: string[]): Daemon {
    const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    proc.stdout?.on("data", (c: Buffer) => (log += c.toString()));
    proc.stderr?.on("data", (c: Buffer) => (log += c.toString()));
    return { proc, log: () => log };
}

async function stopDaemon(d: Daemon | undefined): Promise<void> {
    if (!d || d.proc.exitCode !== null || d.proc.signalCode !== null) return;
    const exited = new Promise((r) => d.proc.once("exit", r));
    d.proc.kill("SIGTERM");
    await Promise.race([exited, sleep(5000)]);
    if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill("SIGKILL");
}

/** A minimal SMTP server (no TLS, no AUTH) that keeps every message it is given. */
function smtpSink(): Promise<{ port: number; messages: string[]; close: () => Promise<void> }> {
    const messages: string[] = [];
    const server = net.createServer((sock) => {
        let buf = "";
        let data: string[] | undefined;
        const reply = (s: string) => sock.write(`${s}\r\n`);
        reply("220 sink.test ESMTP");
        sock.on("data", (chunk: Buffer) => {
            buf += chunk.toString("utf8");
            let i: number;
            while ((i = buf.indexOf("\r\n")) >= 0) {
                const line = buf.slice(0, i);
                buf = buf.slice(i + 2);
                if (data) {
                    if (line === ".") {
                        messages.push(data.join("\n"));
                        data = undefined;
                        reply("250 2.0.0 queued");
                    } else data.push(line.startsWith("..") ? line.slice(1) : line);
                    continue;
                }
                const verb = line.split(" ")[0].toUpperCase();
                if (verb === "EHLO") sock.write("250-sink.test\r\n250 8BITMIME\r\n");
                else if (verb === "HELO" || verb === "MAIL" || verb === "RCPT" || verb === "RSET" || verb === "NOOP")
                    reply("250 2.0.0 ok");
                else if (verb === "DATA") {
                    data = [];
                    reply("354 go ahead");
                } else if (verb === "QUIT") {
                    reply("221 2.0.0 bye");
                    sock.end();
                } else reply("502 5.5.2 not implemented");
            }
        });
        sock.on("error", () => undefined);
    });
    return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () =>
            resolve({
                port: (server.address() as net.AddressInfo).port,
                messages,
                close: () => new Promise((r) => server.close(() => r())),
            }),
        );
    });
}

/** js-yaml ships with @pulumi/pulumi; the same YAML 1.1-ish reading as Grafana's and the exporters' loaders. */
function loadYaml(text: string): unknown {
    const yaml = require("js-yaml") as { load: (s: string) => unknown };
    return yaml.load(text);
}

const TARGETS: MonitoringTargets = {
    nodeExporters: [
        { address: "10.100.0.20:9100", container: "netbox-db", component: "netbox" },
        { address: "10.100.0.30:9100", container: "netbox-cache", component: "netbox" },
    ],
    httpProbes: [
        { name: "netbox", url: "https://netbox.home.lan/", component: "netbox" },
        { name: "app1", url: "http://app1.prox.local/", component: "appliance" },
    ],
    icmpProbes: [{ name: "dmz-gateway", address: "10.100.1.1", component: "netbox" }],
};

// ---- tests -----------------------------------------------------------------------------------------------------

describe("monitoring configs and the real daemons", function () {
    this.timeout(120_000);
    let dir: string;
    let caPem: string;
    const file = (name: string, text: string, mode = 0o644): string => {
        const p = join(dir, name);
        mkdirSync(join(p, ".."), { recursive: true });
        writeFileSync(p, text, { mode });
        chmodSync(p, mode);
        return p;
    };

    before(function () {
        dir = mkdtempSync(join(tmpdir(), "phl-monitoring-"));
        // nginx workers (nobody) read the user file and the site: the directory must be traversable.
        chmodSync(dir, 0o755);
        if (!which("openssl")) return;
        // A CA and a server certificate for monitoring.home.lan, as the homelab CA would sign it.
        execFileSync(
            "openssl",
            [
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                join(dir, "ca.key"),
                "-out",
                join(dir, "ca.pem"),
                "-days",
                "2",
                "-subj",
                "/CN=Homelab CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
            { stdio: "ignore" },
        );
        execFileSync(
            "openssl",
            [
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                join(dir, "tls.key"),
                "-out",
                join(dir, "tls.csr"),
                "-subj",
                "/CN=monitoring.home.lan",
            ],
            { stdio: "ignore" },
        );
        writeFileSync(
            join(dir, "ext.cnf"),
            "subjectAltName=DNS:monitoring.home.lan,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        execFileSync(
            "openssl",
            [
                "x509",
                "-req",
                "-in",
                join(dir, "tls.csr"),
                "-CA",
                join(dir, "ca.pem"),
                "-CAkey",
                join(dir, "ca.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                join(dir, "ext.cnf"),
                "-out",
                join(dir, "leaf.pem"),
            ],
            { stdio: "ignore" },
        );
        caPem = readFileSync(join(dir, "ca.pem"), "utf8");
        file("tls.crt", readFileSync(join(dir, "leaf.pem"), "utf8") + caPem);
    });

    after(() => {
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    describe("static checks", () => {
        it("promtool check config: every job type, the rule file present", function () {
            needBinary(this, "promtool", "prometheus");
            file("rules/homelab.rules.yml", renderAlertRules(DEFAULT_ALERT_TIMING));
            const cfg = file(
                "prometheus.yml",
                renderPrometheusConfig({
                    targets: TARGETS,
                    publicHttpProbes: [{ name: "status", url: "https://status.example.org/", component: "extra" }],
                    pve: { target: "192.168.8.82:8006", node: "pve" },
                    snmpTargets: [{ name: "pfsense", address: "192.168.8.1", module: "if_mib", auth: "public_v2" }],
                    scrapeJobs: [
                        { jobName: "postgres", targets: ["10.100.0.20:9187"], labels: { component: "netbox" } },
                    ],
                    grafana: true,
                    timing: DEFAULT_ALERT_TIMING,
                    rulesFile: join(dir, "rules/homelab.rules.yml"),
                }),
            );
            const r = run("promtool", ["check", "config", cfg]);
            assert.equal(r.code, 0, r.out);
            assert.match(r.out, /SUCCESS: 1 rule files found/);
            assert.match(r.out, new RegExp(`SUCCESS: ${ALERT_RULES.length} rules found`));
        });

        it("promtool check rules: the document's timing and the shortened test timing", function () {
            needBinary(this, "promtool", "prometheus");
            const timings: AlertTiming[] = [
                DEFAULT_ALERT_TIMING,
                { ...DEFAULT_ALERT_TIMING, scale: 0.05, forOverrides: { ServiceDown: 1, ContainerDown: 0 } },
            ];
            timings.forEach((t, i) => {
                const r = run("promtool", ["check", "rules", file(`rules-${i}.yml`, renderAlertRules(t))]);
                assert.equal(r.code, 0, r.out);
                assert.match(r.out, /SUCCESS: 8 rules found/);
            });
        });

        it("amtool check-config: with SMTP auth from a password file, and a plain local relay", function () {
            needBinary(this, "amtool", "prometheus-alertmanager");
            const pw = file("smtp-password", "s3cret", 0o600);
            const withAuth = renderAlertmanagerConfig({
                smtp: {
                    smarthost: "smtp.example.com:587",
                    from: "alerts@example.com",
                    to: ["ops@example.com", "me@example.com"],
                    username: "alerts",
                    hasPassword: true,
                    requireTls: true,
                    hello: "monitoring",
                },
                timing: DEFAULT_ALERT_TIMING,
                smtpPasswordFile: pw,
            });
            const plain = renderAlertmanagerConfig({
                smtp: {
                    smarthost: "10.20.0.9:25",
                    from: "am@lab.test",
                    to: ["sink@lab.test"],
                    hasPassword: false,
                    requireTls: false,
                    hello: "mon",
                },
                timing: { ...DEFAULT_ALERT_TIMING, scale: 0.05 },
            });
            for (const [name, text] of [
                ["am-auth.yml", withAuth],
                ["am-plain.yml", plain],
            ]) {
                const r = run("amtool", ["check-config", file(name, text)]);
                assert.equal(r.code, 0, r.out);
                assert.match(r.out, /SUCCESS/);
                assert.match(r.out, /1 receivers/);
            }
        });

        it("prometheus-blackbox-exporter --config.check, trusting the CA file", function () {
            needBinary(this, "prometheus-blackbox-exporter", "prometheus-blackbox-exporter");
            needBinary(this, "openssl", "openssl");
            const cfg = file("blackbox.yml", renderBlackboxConfig(join(dir, "ca.pem")));
            const r = run("prometheus-blackbox-exporter", [`--config.file=${cfg}`, "--config.check"]);
            assert.equal(r.code, 0, r.out);
            assert.match(r.out, /Config file is ok/);
        });

        it("nginx -t: the site with and without Grafana, TLS files and user file present", function () {
            needBinary(this, "nginx", "nginx-light");
            needBinary(this, "openssl", "openssl");
            file("tls.key.copy", readFileSync(join(dir, "tls.key"), "utf8"), 0o600);
            const htpasswd = file("htpasswd", renderHtpasswd("admin", "pw", "abcdefgh"));
            for (const grafana of [true, false]) {
                const site = file(
                    `site-${grafana}`,
                    renderNginxSite({
                        publicName: "monitoring.home.lan",
                        grafana,
                        allowCidrs: ["192.168.8.0/24", "10.0.0.0/8", "fd00::/8", "127.0.0.1"],
                        tlsCert: join(dir, "tls.crt"),
                        tlsKey: join(dir, "tls.key.copy"),
                        htpasswd,
                    }),
                );
                const conf = file(
                    `nginx-${grafana}.conf`,
                    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n    access_log off;\n    include ${site};\n}\n`,
                );
                const r = run("nginx", ["-t", "-p", dir, "-c", conf, "-e", join(dir, "error.log")]);
                assert.equal(r.code, 0, r.out);
                assert.match(r.out, /test is successful/);
            }
        });

        it("every dashboard query is PromQL promtool accepts (as recording rules); a broken one is refused", function () {
            needBinary(this, "promtool", "prometheus");
            const dashboard = JSON.parse(renderHomelabDashboard()) as { panels: { targets?: { expr: string }[] }[] };
            const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
            assert.deepEqual(exprs, dashboardExpressions());
            assert.ok(exprs.length >= 15, `only ${exprs.length} queries`);
            const rules = (list: string[]) =>
                JSON.stringify({
                    groups: [
                        { name: "dashboard", rules: list.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) },
                    ],
                });
            const ok = run("promtool", ["check", "rules", file("dashboard-rules.yml", rules(exprs))]);
            assert.equal(ok.code, 0, ok.out);
            assert.match(ok.out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
            const bad = run("promtool", [
                "check",
                "rules",
                file("dashboard-bad.yml", rules([...exprs, "rate(up[5m]"])),
            ]);
            assert.notEqual(bad.code, 0, "promtool accepted a broken expression: the check proves nothing");
        });

        it("Grafana provisioning and the exporter config parse as the YAML their readers expect", () => {
            assert.deepEqual(loadYaml(renderGrafanaDatasources(15)), {
                apiVersion: 1,
                datasources: [
                    {
                        name: "Prometheus",
                        uid: "prometheus",
                        type: "prometheus",
                        access: "proxy",
                        url: "http://127.0.0.1:9090",
                        isDefault: true,
                        editable: false,
                        jsonData: { timeInterval: "15s" },
                    },
                    {
                        name: "Alertmanager",
                        uid: "alertmanager",
                        type: "alertmanager",
                        access: "proxy",
                        url: "http://127.0.0.1:9093",
                        editable: false,
                        jsonData: { implementation: "prometheus", handleGrafanaManagedAlerts: false },
                    },
                ],
            });
            assert.deepEqual(loadYaml(renderGrafanaDashboardProvider()), {
                apiVersion: 1,
                providers: [
                    {
                        name: "homelab",
                        orgId: 1,
                        folder: "Homelab",
                        type: "file",
                        disableDeletion: true,
                        allowUiUpdates: false,
                        updateIntervalSeconds: 60,
                        options: { path: "/etc/grafana/dashboards", foldersFromFilesStructure: false },
                    },
                ],
            });
            // A UUID token value that starts with digits must stay a string.
            assert.deepEqual(
                loadYaml(
                    renderPveExporterConfig({
                        user: "homelab-monitoring@pve",
                        tokenName: "pve-exporter",
                        tokenValue: "12345678-1234-1234-1234-123456789abc",
                        tls: "system",
                    }),
                ),
                {
                    default: {
                        user: "homelab-monitoring@pve",
                        token_name: "pve-exporter",
                        token_value: "12345678-1234-1234-1234-123456789abc",
                        verify_ssl: true,
                    },
                },
            );
            // grafana.ini: every line a section, a comment, blank, or key = value.
            const ini = renderGrafanaIni({
                publicName: "monitoring.home.lan",
                adminUser: "admin",
                smtp: {
                    smarthost: "smtp.example.com:587",
                    from: "a@example.com",
                    username: "u",
                    hasPassword: true,
                    requireTls: true,
                },
            });
            for (const l of ini.split("\n")) assert.match(l, /^(|#.*|\[[a-z.]+\]|[A-Za-z_]+ = \S.*)$/, l);
        });
    });

    describe("live on loopback", () => {
        const daemons: Daemon[] = [];
        afterEach(async () => {
            for (const d of daemons.splice(0)) await stopDaemon(d);
        });

        it("an HTTP service going down fires Service Down and Alertmanager mails it (shortened timing)", async function () {
            for (const [bin, pkg] of [
                ["prometheus", "prometheus"],
                ["prometheus-alertmanager", "prometheus-alertmanager"],
                ["prometheus-blackbox-exporter", "prometheus-blackbox-exporter"],
            ]) {
                needBinary(this, bin, pkg);
            }
            const [promPort, amPort, bbPort] = [await freePort(), await freePort(), await freePort()];
            const sink = await smtpSink();
            const app = http.createServer((_req, res) => res.end("app\n"));
            await new Promise<void>((r) => app.listen(0, "127.0.0.1", () => r()));
            const appUrl = `http://127.0.0.1:${(app.address() as net.AddressInfo).port}/`;
            try {
                const timing: AlertTiming = {
                    scale: 0.05,
                    forOverrides: { ServiceDown: 1 },
                    scrapeIntervalSeconds: 1,
                    evaluationIntervalSeconds: 1,
                };
                const live = mkdtempSync(join(dir, "live-"));
                const rules = join(live, "rules.yml");
                writeFileSync(rules, renderAlertRules(timing));
                // Our files as rendered, with the fixed loopback ports moved to free ones.
                const promCfg = renderPrometheusConfig({
                    targets: {
                        nodeExporters: [],
                        httpProbes: [{ name: "app", url: appUrl, component: "test" }],
                        icmpProbes: [],
                    },
                    publicHttpProbes: [],
                    snmpTargets: [],
                    scrapeJobs: [],
                    grafana: false,
                    timing,
                    rulesFile: rules,
                })
                    .replaceAll("127.0.0.1:9093", `127.0.0.1:${amPort}`)
                    .replaceAll("127.0.0.1:9115", `127.0.0.1:${bbPort}`)
                    .replaceAll("127.0.0.1:9090", `127.0.0.1:${promPort}`);
                writeFileSync(join(live, "prometheus.yml"), promCfg);
                writeFileSync(
                    join(live, "alertmanager.yml"),
                    renderAlertmanagerConfig({
                        smtp: {
                            smarthost: `127.0.0.1:${sink.port}`,
                            from: "am@lab.test",
                            to: ["ops@lab.test"],
                            hasPassword: false,
                            requireTls: false,
                            hello: "monitoring",
                        },
                        timing,
                    }),
                );
                writeFileSync(join(live, "blackbox.yml"), renderBlackboxConfig(join(dir, "ca.pem")));

                daemons.push(
                    startDaemon("prometheus-blackbox-exporter", [
                        `--config.file=${join(live, "blackbox.yml")}`,
                        `--web.listen-address=127.0.0.1:${bbPort}`,
                    ]),
                );
                const am = startDaemon("prometheus-alertmanager", [
                    `--config.file=${join(live, "alertmanager.yml")}`,
                    `--storage.path=${join(live, "am")}`,
                    `--web.listen-address=127.0.0.1:${amPort}`,
                    "--cluster.listen-address=",
                ]);
                daemons.push(am);
                const prom = startDaemon("prometheus", [
                    `--config.file=${join(live, "prometheus.yml")}`,
                    `--storage.tsdb.path=${join(live, "tsdb")}`,
                    `--web.listen-address=127.0.0.1:${promPort}`,
                ]);
                daemons.push(prom);
                const api = `http://127.0.0.1:${promPort}/api/v1`;

                // Rules loaded, and the probe up while the service answers.
                const groups = await waitFor("rules", 20_000, async () => {
                    const r = (await getJson(`${api}/rules`)) as { data: { groups: { rules: { name: string }[] }[] } };
                    return r.data.groups.length > 0 ? r.data.groups : undefined;
                }).catch((e) => assert.fail(`${e}\n${prom.log()}`));
                assert.deepEqual(
                    groups[0].rules.map((r) => r.name),
                    ALERT_RULES.map((r) => r.name),
                );
                await waitFor("probe_success 1", 20_000, async () => {
                    const r = (await getJson(`${api}/query?query=probe_success`)) as {
                        data: { result: { value: [number, string] }[] };
                    };
                    return r.data.result[0]?.value[1] === "1" ? true : undefined;
                });

                await new Promise((r) => app.close(r));
                const mail = await waitFor("the Service Down mail", 60_000, async () =>
                    sink.messages.find((m) => m.includes("ServiceDown")),
                ).catch((e) => assert.fail(`${e}\nalertmanager:\n${am.log()}`));
                assert.match(mail, /^To: ops@lab\.test$/m);
                assert.match(mail, /^From: am@lab\.test$/m);
                assert.match(mail, /^Subject: \[FIRING:1\] ServiceDown/m);
                assert.match(mail, /Service app is down/);
            } finally {
                app.close();
                await sink.close();
            }
        });

        it("nginx: TLS from the CA, HTTP redirected, allowlist and apr1 basic auth, prefix stripped", async function () {
            needBinary(this, "nginx", "nginx-light");
            needBinary(this, "openssl", "openssl");
            const [httpPort, httpsPort] = [await freePort(), await freePort()];
            const seen: string[] = [];
            const backend = http.createServer((req, res) => {
                seen.push(req.url ?? "");
                res.end("prometheus\n");
            });
            await new Promise<void>((r) => backend.listen(0, "127.0.0.1", () => r()));
            const backendPort = (backend.address() as net.AddressInfo).port;
            try {
                const live = mkdtempSync(join(dir, "nginx-"));
                chmodSync(live, 0o755);
                const htpasswd = join(live, "htpasswd");
                writeFileSync(htpasswd, renderHtpasswd("admin", "correct horse", "Xy7./aB1"), { mode: 0o644 });
                const key = join(live, "tls.key");
                writeFileSync(key, readFileSync(join(dir, "tls.key")), { mode: 0o600 });
                const site = (allow: string[]) =>
                    renderNginxSite({
                        publicName: "monitoring.home.lan",
                        grafana: false,
                        allowCidrs: allow,
                        tlsCert: join(dir, "tls.crt"),
                        tlsKey: key,
                        htpasswd,
                    })
                        .replace("listen 80;", `listen 127.0.0.1:${httpPort};`)
                        .replace("listen 443 ssl;", `listen 127.0.0.1:${httpsPort} ssl;`)
                        .replace("proxy_pass http://127.0.0.1:9090/;", `proxy_pass http://127.0.0.1:${backendPort}/;`);
                const conf = (siteFile: string) =>
                    [
                        `pid ${live}/nginx.pid;`,
                        `error_log ${live}/error.log;`,
                        "events {}",
                        "http {",
                        "    access_log off;",
                        ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
                            (t) => `    ${t}_temp_path ${live}/${t};`,
                        ),
                        `    include ${siteFile};`,
                        "}",
                        "",
                    ].join("\n");
                writeFileSync(join(live, "site"), site(["127.0.0.1"]));
                writeFileSync(join(live, "nginx.conf"), conf(join(live, "site")));
                const nginx = startDaemon("nginx", [
                    "-p",
                    live,
                    "-c",
                    join(live, "nginx.conf"),
                    "-e",
                    join(live, "error.log"),
                    "-g",
                    "daemon off;",
                ]);
                daemons.push(nginx);

                const request = (
                    path: string,
                    opts: { auth?: string; plain?: boolean } = {},
                ): Promise<{ status: number; location?: string; body: string }> =>
                    new Promise((resolve, reject) => {
                        const headers: Record<string, string> = { Host: "monitoring.home.lan" };
                        if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString("base64")}`;
                        const done = (res: http.IncomingMessage) => {
                            let body = "";
                            res.on("data", (c: Buffer) => (body += c.toString()));
                            res.on("end", () =>
                                resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }),
                            );
                        };
                        const req = opts.plain
                            ? http.get({ host: "127.0.0.1", port: httpPort, path, headers }, done)
                            : https.get(
                                  {
                                      host: "127.0.0.1",
                                      port: httpsPort,
                                      path,
                                      headers,
                                      ca: caPem,
                                      servername: "monitoring.home.lan",
                                  },
                                  done,
                              );
                        req.on("error", reject);
                    });

                await waitFor("nginx", 10_000, async () => (await request("/")).status || undefined).catch((e) =>
                    assert.fail(`${e}\n${nginx.log()}\n${readFileSync(join(live, "error.log"), "utf8")}`),
                );
                const redirect = await request("/prometheus/graph", { plain: true });
                assert.deepEqual(
                    [redirect.status, redirect.location],
                    [301, "https://monitoring.home.lan/prometheus/graph"],
                );
                const root = await request("/");
                assert.deepEqual(
                    [root.status, root.location],
                    [302, `https://monitoring.home.lan:${httpsPort}/prometheus/`],
                );
                assert.equal((await request("/prometheus/api/v1/query")).status, 401);
                assert.equal((await request("/prometheus/api/v1/query", { auth: "admin:wrong" })).status, 401);
                const ok = await request("/prometheus/api/v1/query?query=up", { auth: "admin:correct horse" });
                assert.deepEqual([ok.status, ok.body], [200, "prometheus\n"]);
                assert.deepEqual(seen, ["/api/v1/query?query=up"]);

                // Not on the allowlist: refused even with the right password.
                writeFileSync(join(live, "site"), site(["192.0.2.0/24"]));
                const reload = run("nginx", [
                    "-p",
                    live,
                    "-c",
                    join(live, "nginx.conf"),
                    "-e",
                    join(live, "error.log"),
                    "-s",
                    "reload",
                ]);
                assert.equal(reload.code, 0, reload.out);
                await waitFor("reload", 10_000, async () =>
                    (await request("/prometheus/", { auth: "admin:correct horse" })).status === 403 ? true : undefined,
                );
            } finally {
                backend.close();
            }
        });
    });
});
