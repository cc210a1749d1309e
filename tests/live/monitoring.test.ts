/**
 * The monitoring-only stack (MonitoringLxc, Grafana off) deployed by the REAL Pulumi engine into the simulator
 * backed by the live test bed, with Prometheus, Alertmanager, blackbox and node exporters installed through the
 * bed's allowlisted proxy by the product's own `downloads.httpProxy` option. Then it proves monitoring works end to
 * end: Prometheus (asked through the product's nginx, TLS verified against the stack's CA, basic auth) has its
 * rules loaded and every target up; killing a probed service makes "Service Down" fire and Alertmanager deliver a
 * mail naming it to an SMTP sink in the bed; stopping node_exporter makes "Container Down" fire and arrive too.
 *
 *   npm run build && npx mocha --no-config -r ts-node/register/transpile-only --extension ts --timeout 0 --exit \
 *       tests/live/monitoring.test.ts
 *
 * (with `--config tests/live/.mocharc.json` mocha adds the config's spec glob: every live test runs.)
 *
 * The sinks (tests/live/fixtures/sinks.ts) run in the bed's PVE host namespace on its vmbr0 address 192.168.1.10:
 * SMTP on :2525 (the stack's `smtp.smarthost`, no TLS) and a plain HTTP service on :8081 (an extra blackbox probe
 * target). The monitoring container reaches them over vmbr0 only. Alert durations are shortened through the
 * product's own option `alertTiming` (scale 0.05: Service Down/Container Down `for` 6 s instead of 2 m, group wait
 * 2 s), with 5 s scrape and evaluation intervals; `PHL_MONITORING_DOCUMENT_TIMING=1` deploys without `alertTiming`
 * (the document's 2 m `for`, 30 s group wait, 15 s intervals) to measure the real delay. Bed `phlmon` on link 10.254.11.0/30, torn down at the end.
 */
import { strict as assert } from "node:assert";
import { type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

import type * as auto from "@pulumi/pulumi/automation";

import { HOST_IP, LiveRun, waitFor } from "./fixtures/live-run";

const MONITORING = 120;
const MON_IP = "192.168.1.85";
const SMTP_PORT = 2525;
const HTTP_PORT = 8081;
const PUBLIC_NAME = "monitoring.live.home.arpa";
/** `PHL_MONITORING_DOCUMENT_TIMING=1` keeps the document's timing (no `alertTiming`: 2 m `for`, 15 s intervals). */
const DOCUMENT_TIMING = process.env.PHL_MONITORING_DOCUMENT_TIMING === "1";
const SCALE = DOCUMENT_TIMING ? 1 : 0.05;
/** How long an alert may take from the fault to the mail: generous at either timing. */
const ALERT_WAIT_MS = 120_000 + 300_000 * SCALE;

interface PromTarget {
    labels: Record<string, string>;
    scrapePool: string;
    health: string;
    lastError: string;
}

describe("live monitoring: Prometheus scrapes, an alert fires and arrives as mail", function () {
    this.timeout(30 * 60_000);
    const run = new LiveRun({
        what: "live monitoring test",
        bed: "phlmon",
        envName: "PHL_TESTBED_MONITORING",
        linkCidr: "10.254.11.0/30",
    });
    let mbox = "";
    let httpSink: ChildProcess | undefined;
    const sh = run.sh.bind(run);
    const inHostNs = run.inHostNs.bind(run);
    const output = run.output;
    const timings = run.timings;

    async function stack(): Promise<auto.Stack> {
        return run.stack;
    }

    /** GET through the product's nginx from the PVE host's namespace: TLS verified with the stack's CA, basic auth. */
    async function viaNginx(urlPath: string): Promise<{ status: string; body: string }> {
        const outputs = await (await stack()).outputs();
        const caFile = path.join(run.workDir, "homelab-ca.pem");
        fs.writeFileSync(caFile, String(outputs.homelabCaCertPem.value));
        const user = String(outputs.monitoringBasicAuthUser.value);
        const pass = String(outputs.monitoringBasicAuthPassword.value);
        const out = inHostNs([
            "curl",
            "-s",
            "-m",
            "10",
            "--noproxy",
            "*",
            "--cacert",
            caFile,
            "--resolve",
            `${PUBLIC_NAME}:443:${MON_IP}`,
            "-u",
            `${user}:${pass}`,
            "-w",
            "\n%{http_code}",
            `https://${PUBLIC_NAME}${urlPath}`,
        ]);
        const lines = out.split("\n");
        const status = lines.pop() ?? "";
        return { status, body: lines.join("\n") };
    }

    async function promApi<T>(query: string): Promise<T> {
        const r = await viaNginx(`/prometheus/api/v1/${query}`);
        assert.equal(r.status, "200", r.body);
        const j = JSON.parse(r.body) as { status: string; data: T };
        assert.equal(j.status, "success");
        return j.data;
    }

    async function firing(alertname: string): Promise<boolean> {
        const data = await promApi<{ alerts: { labels: Record<string, string>; state: string }[] }>("alerts");
        return data.alerts.some((a) => a.labels.alertname === alertname && a.state === "firing");
    }

    const mail = (): string => (fs.existsSync(mbox) ? fs.readFileSync(mbox, "utf8") : "");

    before(async function () {
        await run.setUp(this);
        // vmbr0 (192.168.1.10/24 in the PVE host namespace) exists from the start: the bed's modelled LAN.
        const t0 = Date.now();
        mbox = path.join(run.workDir, "mbox");
        await run.startSink(["smtp", HOST_IP, String(SMTP_PORT), mbox]);
        httpSink = await run.startSink(["http", HOST_IP, String(HTTP_PORT)]);
        timings.push(["sinks up", Date.now() - t0]);
        const downloads = await run.downloads();
        const config = {
            "proxmox-homelab:pveNode": "pve",
            "proxmox-homelab:storage": "local-zfs",
            "proxmox-homelab:templateStorage": "local",
            "proxmox-homelab:externalBridge": "vmbr0",
            "proxmox-homelab:downloads": downloads,
            // Pulumi.dev.yaml's monitoring section, with the bed's sink as smarthost, Grafana off (not installable
            // here), no PVE exporter, an extra probe the test can kill, and shortened alert timing.
            "proxmox-homelab:monitoring": {
                enabled: true,
                vmid: MONITORING,
                cores: 1,
                memory: 512,
                swap: 0,
                diskGiB: 4,
                // No gateway: the bed gives containers no default route (only the proxy's /30).
                network: { ip: `${MON_IP}/24` },
                publicName: PUBLIC_NAME,
                smtp: {
                    smarthost: `${HOST_IP}:${SMTP_PORT}`,
                    from: "alerts@live.home.arpa",
                    to: "admin@live.home.arpa",
                    requireTls: false,
                },
                grafana: { enabled: false },
                extraTargets: {
                    httpProbes: [{ name: "sinkweb", url: `http://${HOST_IP}:${HTTP_PORT}/`, component: "live" }],
                },
                ...(DOCUMENT_TIMING
                    ? {}
                    : { alertTiming: { scale: SCALE, scrapeIntervalSeconds: 5, evaluationIntervalSeconds: 5 } }),
                retentionDays: 1,
            },
        };
        await run.createStack(config);
    });

    after(() => run.tearDown());

    it("deploys MonitoringLxc (Grafana off): Prometheus, Alertmanager and exporters through the bed's proxy", async function () {
        const t0 = Date.now();
        let r: auto.UpResult;
        try {
            r = await (await stack()).up({ onOutput: (o) => output.push(o) });
        } catch (e) {
            console.log(output.join("").split("\n").slice(-80).join("\n"));
            throw e;
        }
        timings.push(["pulumi up (fresh)", Date.now() - t0]);
        assert.equal(r.summary.result, "succeeded");
        assert.equal(await run.backend.isRunning(MONITORING), true);
        const allowed = new Set((await run.bed.allowlist()).map((h) => h.host));
        const connections = await run.bed.proxyConnections();
        assert.ok(connections.length > 0, "the container installed through the proxy");
        for (const host of connections) assert.ok(allowed.has(host), `proxy connected only to allowlisted ${host}`);
        assert.match(
            await sh(
                MONITORING,
                "dpkg-query -W -f '${Status}' prometheus prometheus-alertmanager prometheus-blackbox-exporter " +
                    "prometheus-node-exporter nginx",
            ),
            /^(install ok installed)+$/,
        );
        assert.doesNotMatch(await sh(MONITORING, "dpkg-query -W -f '${Status}' grafana 2>/dev/null || true"), /ok/);
    });

    it("Prometheus has the rules loaded and every target up (asked through nginx, TLS and basic auth)", async () => {
        // Without credentials nginx refuses.
        const outputs = await (await stack()).outputs();
        const caFile = path.join(run.workDir, "homelab-ca.pem");
        fs.writeFileSync(caFile, String(outputs.homelabCaCertPem.value));
        const anon = inHostNs([
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--cacert",
            caFile,
            "--resolve",
            `${PUBLIC_NAME}:443:${MON_IP}`,
            `https://${PUBLIC_NAME}/prometheus/api/v1/targets`,
        ]);
        assert.equal(anon, "401");

        const rules = await promApi<{ groups: { rules: { name: string; type: string; duration: number }[] }[] }>(
            "rules",
        );
        const loaded = rules.groups.flatMap((g) => g.rules);
        const serviceDown = loaded.find((x) => x.name === "ServiceDown");
        const containerDown = loaded.find((x) => x.name === "ContainerDown");
        assert.ok(serviceDown && containerDown, `rules loaded: ${loaded.map((x) => x.name).join(", ")}`);
        // The product's alertTiming option shortened the document's 2 minutes (120 s × 0.05).
        assert.equal(serviceDown.duration, Math.round(120 * SCALE));
        assert.equal(containerDown.duration, Math.round(120 * SCALE));

        let targets: PromTarget[] = [];
        const waited = await waitFor("every target up", 90_000, 2000, async () => {
            targets = (await promApi<{ activeTargets: PromTarget[] }>("targets")).activeTargets;
            return targets.length > 0 && targets.every((t) => t.health === "up");
        }).catch((e: Error) => {
            throw new Error(
                `${e.message}: ${JSON.stringify(targets.map((t) => [t.scrapePool, t.health, t.lastError]))}`,
            );
        });
        timings.push(["every target up after deploy", waited]);
        const pools = new Set(targets.map((t) => t.scrapePool));
        for (const job of ["prometheus", "alertmanager", "blackbox", "node", "blackbox_http"])
            assert.ok(pools.has(job), `job ${job} scraped (${[...pools].join(", ")})`);
        const node = targets.find((t) => t.scrapePool === "node");
        assert.equal(node?.labels.instance, `${MON_IP}:9100`);
        // blackbox_http probes the sink's service and the product's own nginx (its TLS expiry, with the CA).
        const probes = targets.filter((t) => t.scrapePool === "blackbox_http").map((t) => t.labels.instance);
        assert.ok(probes.includes(`http://${HOST_IP}:${HTTP_PORT}/`), `probed: ${probes.join(", ")}`);
        const success = await promApi<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
            `query?query=${encodeURIComponent('probe_success{job="blackbox_http"}')}`,
        );
        assert.equal(success.result.length, probes.length);
        for (const r of success.result) assert.equal(r.value[1], "1", `probe_success of ${r.metric.instance}`);
        assert.equal(mail(), "", "no mail while everything is up");
    });

    it("killing the probed service fires Service Down and Alertmanager delivers a mail naming it", async () => {
        const t0 = Date.now();
        await run.stopSink(httpSink);
        const toFiring = await waitFor("ServiceDown firing", ALERT_WAIT_MS, 1000, () => firing("ServiceDown"));
        timings.push(["service killed → ServiceDown firing", toFiring]);
        await waitFor("the ServiceDown mail", ALERT_WAIT_MS, 1000, async () => /ServiceDown/.test(mail()));
        timings.push(["service killed → ServiceDown mail in the sink", Date.now() - t0]);
        const m = mail();
        assert.match(m, /^From alerts@live\.home\.arpa /m);
        assert.match(m, /^X-Envelope-To: admin@live\.home\.arpa$/m);
        assert.match(m, /^Subject: .*ServiceDown/im);
        assert.match(m, new RegExp(`${HOST_IP.replace(/\./g, "\\.")}:${HTTP_PORT}`));
    });

    it("stopping node_exporter fires Container Down and it arrives as mail too", async () => {
        const t0 = Date.now();
        await sh(MONITORING, "systemctl stop prometheus-node-exporter");
        const toFiring = await waitFor("ContainerDown firing", ALERT_WAIT_MS, 1000, () => firing("ContainerDown"));
        timings.push(["node_exporter stopped → ContainerDown firing", toFiring]);
        await waitFor("the ContainerDown mail", ALERT_WAIT_MS, 1000, async () => /ContainerDown/.test(mail()));
        timings.push(["node_exporter stopped → ContainerDown mail in the sink", Date.now() - t0]);
        assert.match(mail(), /^Subject: .*ContainerDown/im);
        await sh(MONITORING, "systemctl start prometheus-node-exporter");
    });

    it("keeps the bed's fence: nothing was sent toward the outside", async () => {
        assert.deepEqual(await run.bed.outsideBound(), { pre_outside: 0, fwd_outside: 0, out_outside: 0, fwd_ipv6: 0 });
        const route = await run.backend.exec(MONITORING, ["ip", "route", "get", "1.1.1.1"]);
        assert.match(route.stderr.toString(), /Network is unreachable/);
    });

    it("a second up changes nothing", async () => {
        const t0 = Date.now();
        const r = await (await stack()).up({ onOutput: (o) => output.push(o) });
        timings.push(["pulumi up (no changes)", Date.now() - t0]);
        const changes = Object.fromEntries(
            Object.entries(r.summary.resourceChanges ?? {}).filter(([op]) => op !== "same"),
        );
        assert.deepEqual(changes, {});
    });

    it("destroy removes the container", async () => {
        const t0 = Date.now();
        const r = await (await stack()).destroy({ onOutput: (o) => output.push(o) });
        timings.push(["pulumi destroy", Date.now() - t0]);
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual(await run.bed.containers(), []);
        assert.deepEqual([...(run.sim?.state.containers.keys() ?? [])], []);
    });
});
