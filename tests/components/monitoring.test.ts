/**
 * MonitoringLxc under Pulumi's mocks: which resources it declares, under which parent, in which order, with which
 * inputs; that the scrape jobs follow the MonitoringTargets it is given; that secrets stay secret; and that bad
 * arguments fail, naming the field, before anything is registered.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";

import * as pulumi from "@pulumi/pulumi";
import type { MockResourceArgs } from "@pulumi/pulumi/runtime";

import type { HomelabCa as HomelabCaType } from "../../components/common/ca";
import type { MonitoringTargets } from "../../components/common/monitoring";
import type * as MonitoringModule from "../../components/monitoring";
import type * as RenderModule from "../../components/monitoring/render";

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const isRpcSecret = (v: unknown): boolean =>
    typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
const unwrap = <T>(v: T | { value: T }): T => (isRpcSecret(v) ? (v as { value: T }).value : (v as T));

const T = {
    lxc: "pulumi-nodejs:dynamic/proxmox:Lxc",
    file: "pulumi-nodejs:dynamic/proxmox:File",
    exec: "pulumi-nodejs:dynamic/proxmox:Exec",
    role: "pulumi-nodejs:dynamic/proxmox:Role",
    user: "pulumi-nodejs:dynamic/proxmox:User",
    acl: "pulumi-nodejs:dynamic/proxmox:Acl",
    token: "pulumi-nodejs:dynamic/proxmox:ApiToken",
    password: "random:index/randomPassword:RandomPassword",
    string: "random:index/randomString:RandomString",
    component: "proxmox-homelab:monitoring:MonitoringLxc",
    container: "proxmox-homelab:common:HomelabContainer",
    serverCert: "proxmox-homelab:common:ServerCert",
};

const created: MockResourceArgs[] = [];
const calls: string[] = [];

/** What each mocked provider answers: the inputs plus the outputs the real one computes. */
function stateFor(a: MockResourceArgs): Record<string, unknown> {
    const i = a.inputs as Record<string, unknown>;
    switch (a.type) {
        case T.lxc: {
            const nets = (i.networks ?? []) as { name: string; ip?: string }[];
            return {
                ...i,
                vmid: i.vmid ?? 150,
                status: "running",
                pendingChanges: [],
                interfaces: nets.map((n) => ({
                    name: n.name,
                    hwaddr: "BC:24:11:00:00:01",
                    ipv4: n.ip === undefined || n.ip === "dhcp" ? "192.168.8.199/24" : n.ip,
                })),
            };
        }
        case T.file: {
            const content = String(unwrap(i.content));
            return { ...i, sha256: createHash("sha256").update(content).digest("hex"), size: content.length };
        }
        case T.exec:
            return { ...i, exitCode: 0, stdout: "", stderr: "" };
        case T.role:
            return {
                ...i,
                effectivePrivileges: ["Datastore.Audit", "Sys.Audit", "VM.Audit", "VM.GuestAgent.Audit"],
                pveMajor: 9,
            };
        case T.token:
            return { ...i, fullTokenId: `${i.userId}!${i.tokenName}`, value: "0b1f8c2e-5d6a-4c3b-9e8f-7a6b5c4d3e2f" };
        case T.password:
            return { ...i, result: `pw-${a.name}-0123456789abcdef`, bcryptHash: "$2a$10$x" };
        case T.string:
            return { ...i, result: "SaLt1234" };
        case "tls:index/privateKey:PrivateKey":
            return { ...i, privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${a.name}\n-----END PRIVATE KEY-----\n` };
        case "tls:index/selfSignedCert:SelfSignedCert":
            return { ...i, certPem: `-----BEGIN CERTIFICATE-----\nCA ${a.name}\n-----END CERTIFICATE-----\n` };
        case "tls:index/certRequest:CertRequest":
            return { ...i, certRequestPem: "CSR" };
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { ...i, certPem: `-----BEGIN CERTIFICATE-----\nLEAF ${a.name}\n-----END CERTIFICATE-----\n` };
        default:
            return i;
    }
}

let M: typeof MonitoringModule;
let R: typeof RenderModule;
let HomelabCa: typeof HomelabCaType;
let ValidationError: typeof import("../../components/common/validation").ValidationError;
let ca: HomelabCaType;

/** Resolves once every resource a recorder saw being constructed has reached the mock monitor. */
async function settle(rec: { regs: Registration[] }, timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    const missing = () => rec.regs.filter((r) => !created.some((c) => c.type === r.type && c.name === r.name));
    while (missing().length > 0) {
        if (Date.now() > end)
            throw new Error(
                `never registered: ${missing()
                    .map((r) => r.name)
                    .join(", ")}`,
            );
        await new Promise((r) => setTimeout(r, 50));
    }
}

const value = <X>(o: pulumi.Output<X>): Promise<X> => new Promise((resolve) => o.apply((v) => resolve(v)));

/** The one resource with that name (and type: a component and its first child may share a name). */
function byName(name: string, type?: string): MockResourceArgs {
    const hits = created.filter((c) => c.name === name && (type === undefined || c.type === type));
    assert.equal(hits.length, 1, `expected one resource named ${name}, got ${hits.length}`);
    return hits[0];
}

const fileContent = (name: string): string => String(unwrap(byName(name, T.file).inputs.content));

interface Registration {
    type: string;
    name: string;
    parent?: string;
    dependsOn: string[];
}

/** Records parent and dependsOn of every child through a transformation (children inherit it). */
function recorder(): {
    regs: Registration[];
    transformation: pulumi.ResourceTransformation;
    resolve: () => Promise<void>;
} {
    const regs: Registration[] = [];
    const pending: Promise<void>[] = [];
    const nameOf = async (r: pulumi.Resource): Promise<string> => (await value(r.urn)).split("::").pop() as string;
    const transformation: pulumi.ResourceTransformation = (args) => {
        const reg: Registration = { type: args.type, name: args.name, dependsOn: [] };
        regs.push(reg);
        if (args.opts.parent) pending.push(nameOf(args.opts.parent).then((n) => void (reg.parent = n)));
        const deps = args.opts.dependsOn;
        const list = deps === undefined ? [] : Array.isArray(deps) ? deps : [deps];
        for (const d of list) {
            pending.push(
                value(pulumi.output(d as pulumi.Input<pulumi.Resource>)).then(async (res) => {
                    reg.dependsOn.push(await nameOf(res));
                }),
            );
        }
        return undefined;
    };
    return { regs, transformation, resolve: async () => void (await Promise.all(pending)) };
}

const NETBOX: MonitoringTargets = {
    nodeExporters: [
        { address: "10.100.0.20:9100", container: "netbox-db", component: "netbox" },
        { address: "10.100.0.30:9100", container: "netbox-cache", component: "netbox" },
    ],
    httpProbes: [{ name: "netbox", url: "https://netbox.home.lan/", component: "netbox" }],
    icmpProbes: [{ name: "dmz-gateway", address: "10.100.1.1", component: "netbox" }],
};
const APPLIANCE: MonitoringTargets = {
    nodeExporters: [{ address: "10.20.0.1:9100", container: "proximity", component: "appliance" }],
    httpProbes: [{ name: "app1", url: "http://app1.prox.local/", component: "appliance" }],
    icmpProbes: [],
};

function baseArgs(over: Partial<MonitoringModule.MonitoringLxcArgs> = {}): MonitoringModule.MonitoringLxcArgs {
    return {
        node: "pve",
        template: "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
        network: { bridge: "vmbr0", ip: "192.168.8.85/24", gw: "192.168.8.1" },
        publicName: "monitoring.home.lan",
        smtp: {
            smarthost: "smtp.example.com:587",
            from: "alerts@example.com",
            to: "ops@example.com",
            username: "alerts",
            password: pulumi.secret("smtp-Pa55word"),
        },
        tls: { ca },
        ...over,
    };
}

describe("MonitoringLxc (mocks)", function () {
    this.timeout(60_000);

    before(async () => {
        await pulumi.runtime.setMocks(
            {
                newResource(args) {
                    created.push(args);
                    return { id: `${args.name}-id`, state: stateFor(args) };
                },
                call(args) {
                    calls.push(args.token);
                    throw new Error(`unexpected provider call ${args.token}`);
                },
            },
            "proxmox-homelab",
            "test",
            false,
        );
        // Imported after setMocks, so every resource registers with the mock monitor.
        M = await import("../../components/monitoring");
        R = await import("../../components/monitoring/render");
        ({ HomelabCa } = await import("../../components/common/ca"));
        ({ ValidationError } = await import("../../components/common/validation"));
        ca = new HomelabCa("ca");
        // A resource class whose `!` fields are re-initialised after super() (TypeScript's useDefineForClassFields,
        // the default for target ES2022) loses every output the SDK set; say so instead of failing obscurely.
        const { File } = await import("../../providers/index");
        const probe = new File("probe-define-semantics", { node: "pve", path: "/probe", content: "x" });
        if (probe.sha256 === undefined) {
            throw new Error(
                "providers' resource classes lose their outputs: `x!: Output<..>` fields are redefined as undefined " +
                    "after super() under useDefineForClassFields (default for target ES2022). Fix: tsconfig " +
                    '"useDefineForClassFields": false, or `declare` those fields.',
            );
        }
    });

    after(() => assert.deepEqual(calls, [], "no provider function may be called"));

    describe("a full deployment (Grafana, PVE exporter, SNMP)", () => {
        let mon: MonitoringModule.MonitoringLxc;
        const rec = recorder();

        before(async () => {
            mon = new M.MonitoringLxc(
                "mon",
                baseArgs({
                    targets: [pulumi.output(NETBOX), APPLIANCE],
                    pve: {
                        address: "192.168.8.82",
                        caCertPem: "-----BEGIN CERTIFICATE-----\nPVE\n-----END CERTIFICATE-----\n",
                    },
                    snmpTargets: [{ name: "pfsense", address: "192.168.8.1" }],
                    alertTiming: { scale: 0.05 },
                    downloads: { httpProxy: "http://10.100.0.1:3128" },
                }),
                { transformations: [rec.transformation] },
            );
            await value(mon.prometheusConfig);
            await settle(rec);
            await rec.resolve();
        });

        it("declares the resources in dependency order, all under the component", () => {
            const mine = rec.regs.filter((r) => r.name.startsWith("mon"));
            const names = mine.map((r) => r.name);
            // Children of the component (HomelabContainer and ServerCert keep their own children).
            const direct = mine.filter((r) => r.parent === "mon").map((r) => `${r.type.split(":").pop()} ${r.name}`);
            assert.deepEqual(direct, [
                "HomelabContainer mon-ct",
                "RandomPassword mon-basic-auth",
                "RandomString mon-basic-auth-salt",
                "RandomPassword mon-grafana-admin",
                "ServerCert mon-tls",
                "Role mon-pve-role",
                "User mon-pve-user",
                "Acl mon-pve-user-acl",
                "ApiToken mon-pve-token",
                "Acl mon-pve-token-acl",
                "Exec mon-packages",
                "Exec mon-grafana-install",
                "Exec mon-pve-exporter-install",
                "File mon-prometheus-config",
                "File mon-prometheus-rules",
                "File mon-prometheus-defaults",
                "Exec mon-prometheus",
                "File mon-alertmanager-config",
                "File mon-alertmanager-defaults",
                "File mon-alertmanager-smtp-password",
                "Exec mon-alertmanager",
                "File mon-homelab-ca",
                "File mon-blackbox-config",
                "File mon-blackbox-defaults",
                "File mon-blackbox-dropin",
                "Exec mon-blackbox",
                "File mon-snmp-defaults",
                "Exec mon-snmp-exporter",
                "File mon-pve-exporter-config",
                "File mon-pve-exporter-unit",
                "File mon-pve-exporter-ca",
                "Exec mon-pve-exporter",
                "File mon-grafana-ini",
                "File mon-grafana-admin-password",
                "File mon-grafana-datasources",
                "File mon-grafana-dashboard-provider",
                "File mon-grafana-dashboard",
                "File mon-grafana-smtp-password",
                "Exec mon-grafana",
                "File mon-nginx-tls-cert",
                "File mon-nginx-tls-key",
                "File mon-htpasswd",
                "File mon-nginx-site",
                "Exec mon-nginx",
            ]);
            // The container's own children: LXC, bootstrap files (pip.conf for the exporter's venv), bootstrap.
            assert.deepEqual(
                mine.filter((r) => r.parent === "mon-ct").map((r) => r.name),
                ["mon-ct", "mon-ct-apt-sources", "mon-ct-apt-proxy", "mon-ct-pip-conf", "mon-ct-bootstrap"],
            );
            assert.ok(
                names.every((n) => n === "mon" || n.startsWith("mon-")),
                "child names derive from the component's",
            );
            assert.equal(byName("mon", T.component).type, T.component);
        });

        it("orders: bootstrap → packages → files → service (triggered by file hashes) → nginx last", () => {
            // Sorted: dependencies resolve asynchronously, their order carries no meaning.
            const deps = (n: string) => [...(rec.regs.find((r) => r.name === n)?.dependsOn ?? [])].sort();
            assert.deepEqual(deps("mon-packages"), ["mon-ct-bootstrap"]);
            assert.deepEqual(deps("mon-grafana-install"), ["mon-packages"]);
            assert.deepEqual(deps("mon-pve-exporter-install"), ["mon-packages"]);
            for (const f of [
                "mon-prometheus-config",
                "mon-alertmanager-smtp-password",
                "mon-htpasswd",
                "mon-nginx-site",
            ]) {
                assert.deepEqual(deps(f), ["mon-packages"], f);
            }
            for (const f of ["mon-grafana-ini", "mon-grafana-admin-password"])
                assert.deepEqual(deps(f), ["mon-grafana-install"], f);
            for (const f of ["mon-pve-exporter-config", "mon-pve-exporter-unit"]) {
                assert.deepEqual(deps(f), ["mon-pve-exporter-install"], f);
            }
            assert.deepEqual(deps("mon-prometheus"), [
                "mon-prometheus-config",
                "mon-prometheus-defaults",
                "mon-prometheus-rules",
            ]);
            assert.deepEqual(
                deps("mon-nginx"),
                [
                    "mon-nginx-tls-cert",
                    "mon-nginx-tls-key",
                    "mon-htpasswd",
                    "mon-nginx-site",
                    "mon-prometheus",
                    "mon-alertmanager",
                    "mon-blackbox",
                    "mon-snmp-exporter",
                    "mon-pve-exporter",
                    "mon-grafana",
                ].sort(),
            );
            // A service re-runs when one of its files changes: its triggers are those files' hashes.
            const sha = (n: string) => createHash("sha256").update(fileContent(n)).digest("hex");
            assert.deepEqual(byName("mon-prometheus", T.exec).inputs.triggers, [
                sha("mon-prometheus-config"),
                sha("mon-prometheus-rules"),
                sha("mon-prometheus-defaults"),
            ]);
            assert.equal(byName("mon-prometheus", T.exec).inputs.create, R.SERVICE_SCRIPTS.prometheus().create);
            assert.equal(byName("mon-prometheus", T.exec).inputs.delete, R.SERVICE_SCRIPTS.prometheus().delete);
        });

        it("the container: Debian, node_exporter on, static address, monitoring tag", () => {
            const lxc = byName("mon-ct", T.lxc).inputs;
            assert.equal(lxc.hostname, "monitoring");
            assert.deepEqual(lxc.networks, [
                { name: "eth0", bridge: "vmbr0", ip: "192.168.8.85/24", gw: "192.168.8.1", firewall: true },
            ]);
            assert.deepEqual(lxc.tags, ["monitoring"]);
            assert.deepEqual(
                [lxc.cores, lxc.memory, lxc.swap, lxc.rootfs],
                [2, 2048, 512, { storage: "local-zfs", sizeGiB: 16 }],
            );
            assert.match(
                String(byName("mon-ct-bootstrap").inputs.create),
                /systemctl enable --now prometheus-node-exporter/,
            );
            assert.equal(
                byName("mon-packages").inputs.create,
                R.renderPackagesScript([
                    "curl",
                    "nginx",
                    "prometheus",
                    "prometheus-alertmanager",
                    "prometheus-blackbox-exporter",
                    "prometheus-snmp-exporter",
                    "python3-venv",
                ]),
            );
        });

        it("scrapes what the targets say, plus itself, the PVE node and the SNMP device", async () => {
            const self: MonitoringTargets = {
                nodeExporters: [{ address: "192.168.8.85:9100", container: "monitoring", component: "mon" }],
                httpProbes: [{ name: "grafana", url: "https://192.168.8.85/", component: "mon" }],
                icmpProbes: [{ name: "pve", address: "192.168.8.82", component: "mon" }],
            };
            const want = R.renderPrometheusConfig({
                targets: {
                    nodeExporters: [...self.nodeExporters, ...NETBOX.nodeExporters, ...APPLIANCE.nodeExporters],
                    httpProbes: [...self.httpProbes, ...NETBOX.httpProbes, ...APPLIANCE.httpProbes],
                    icmpProbes: [...self.icmpProbes, ...NETBOX.icmpProbes],
                },
                publicHttpProbes: [],
                pve: { target: "192.168.8.82:8006", node: "pve" },
                snmpTargets: [{ name: "pfsense", address: "192.168.8.1", module: "if_mib", auth: "public_v2" }],
                scrapeJobs: [],
                grafana: true,
                timing: { scale: 0.05, forOverrides: {}, scrapeIntervalSeconds: 15, evaluationIntervalSeconds: 15 },
            });
            assert.equal(fileContent("mon-prometheus-config"), want);
            assert.equal(await value(mon.prometheusConfig), want);
            assert.equal(
                fileContent("mon-prometheus-rules"),
                R.renderAlertRules({ ...R.DEFAULT_ALERT_TIMING, scale: 0.05 }),
            );
        });

        it("files: paths, modes and owners (secrets 0600 to the reading service)", () => {
            const f = (n: string) => {
                const i = byName(n, T.file).inputs;
                return [i.path, i.mode, i.owner, i.group];
            };
            assert.deepEqual(f("mon-alertmanager-smtp-password"), [
                "/etc/prometheus/alertmanager-smtp-password",
                "0600",
                "prometheus",
                "prometheus",
            ]);
            assert.deepEqual(f("mon-grafana-admin-password"), [
                "/etc/grafana/admin_password",
                "0600",
                "grafana",
                "grafana",
            ]);
            assert.deepEqual(f("mon-grafana-smtp-password"), [
                "/etc/grafana/smtp_password",
                "0600",
                "grafana",
                "grafana",
            ]);
            assert.deepEqual(f("mon-pve-exporter-config"), [
                "/etc/prometheus-pve-exporter/pve.yml",
                "0600",
                "pve-exporter",
                "pve-exporter",
            ]);
            assert.deepEqual(f("mon-nginx-tls-key"), ["/etc/nginx/ssl/monitoring.key", "0600", "root", "root"]);
            assert.deepEqual(f("mon-htpasswd"), ["/etc/nginx/monitoring.htpasswd", "0640", "root", "www-data"]);
            assert.deepEqual(f("mon-grafana-ini"), ["/etc/grafana/grafana.ini", "0640", "root", "grafana"]);
            assert.deepEqual(f("mon-prometheus-config"), ["/etc/prometheus/prometheus.yml", "0644", "root", "root"]);
            for (const c of created.filter(
                (x) => (x.type === T.file || x.type === T.exec) && x.name.startsWith("mon-"),
            )) {
                assert.deepEqual([c.inputs.node, c.inputs.vmid], ["pve", 150], c.name);
            }
        });

        it("secrets stay secret: file contents, outputs, and nowhere in plain text", async () => {
            for (const n of [
                "mon-alertmanager-smtp-password",
                "mon-grafana-smtp-password",
                "mon-grafana-admin-password",
                "mon-pve-exporter-config",
                "mon-htpasswd",
                "mon-nginx-tls-key",
            ]) {
                assert.ok(isRpcSecret(byName(n, T.file).inputs.content), `${n} content must be secret`);
            }
            for (const n of ["mon-prometheus-config", "mon-alertmanager-config", "mon-grafana-ini", "mon-nginx-site"]) {
                assert.ok(!isRpcSecret(byName(n, T.file).inputs.content), `${n} holds no secret and stays readable`);
            }
            assert.equal(fileContent("mon-alertmanager-smtp-password"), "smtp-Pa55word");
            assert.equal(fileContent("mon-grafana-admin-password"), "pw-mon-grafana-admin-0123456789abcdef");
            assert.equal(
                fileContent("mon-htpasswd"),
                R.renderHtpasswd("admin", "pw-mon-basic-auth-0123456789abcdef", "SaLt1234"),
            );
            assert.equal(
                fileContent("mon-pve-exporter-config"),
                R.renderPveExporterConfig({
                    user: "homelab-monitoring@pve",
                    tokenName: "pve-exporter",
                    tokenValue: "0b1f8c2e-5d6a-4c3b-9e8f-7a6b5c4d3e2f",
                    tls: "ca-file",
                }),
            );
            assert.equal(await pulumi.isSecret(mon.grafanaAdminPassword), true);
            assert.equal(await pulumi.isSecret(mon.basicAuthPassword), true);
            assert.equal(await value(mon.basicAuthPassword), "pw-mon-basic-auth-0123456789abcdef");
            // No secret appears outside a secret wrapper in any input of any resource.
            const strip = (v: unknown): unknown =>
                isRpcSecret(v)
                    ? "<secret>"
                    : Array.isArray(v)
                      ? v.map(strip)
                      : v && typeof v === "object"
                        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, strip(x)]))
                        : v;
            const visible = JSON.stringify(created.map((c) => strip(c.inputs)));
            for (const s of [
                "smtp-Pa55word",
                "pw-mon-grafana-admin",
                "pw-mon-basic-auth",
                "0b1f8c2e-5d6a",
                "PRIVATE KEY",
            ]) {
                assert.ok(!visible.includes(s), `${s} leaked into a plain input`);
            }
        });

        it("the PVE exporter's read-only role, user, token and ACLs", () => {
            assert.deepEqual(byName("mon-pve-role").inputs.privileges, ["Datastore.Audit", "Sys.Audit", "VM.Audit"]);
            assert.deepEqual(byName("mon-pve-role").inputs.pve8Privileges, ["VM.Monitor"]);
            assert.deepEqual(byName("mon-pve-role").inputs.pve9Privileges, ["VM.GuestAgent.Audit"]);
            assert.equal(byName("mon-pve-role").inputs.roleId, "HomelabMonitoring");
            assert.equal(byName("mon-pve-user").inputs.userId, "homelab-monitoring@pve");
            const tok = byName("mon-pve-token").inputs;
            assert.deepEqual(
                [tok.userId, tok.tokenName, tok.privsep],
                ["homelab-monitoring@pve", "pve-exporter", true],
            );
            const acl = (n: string) => {
                const i = byName(n, T.acl).inputs;
                return [i.path, i.roleId, i.userId, i.tokenId, i.propagate];
            };
            assert.deepEqual(acl("mon-pve-user-acl"), [
                "/",
                "HomelabMonitoring",
                "homelab-monitoring@pve",
                undefined,
                true,
            ]);
            assert.deepEqual(acl("mon-pve-token-acl"), [
                "/",
                "HomelabMonitoring",
                undefined,
                "homelab-monitoring@pve!pve-exporter",
                true,
            ]);
            assert.equal(
                fileContent("mon-pve-exporter-ca"),
                "-----BEGIN CERTIFICATE-----\nPVE\n-----END CERTIFICATE-----\n",
            );
        });

        it("nginx: certificate for the public name, the host name and the address; the site; outputs", async () => {
            const csr = byName("mon-tls-csr").inputs;
            assert.deepEqual(csr.dnsNames, ["monitoring.home.lan", "monitoring"]);
            assert.deepEqual(csr.ipAddresses, ["192.168.8.85"]);
            assert.equal(
                fileContent("mon-nginx-site"),
                R.renderNginxSite({
                    publicName: "monitoring.home.lan",
                    grafana: true,
                    allowCidrs: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1"],
                }),
            );
            assert.match(fileContent("mon-nginx-tls-cert"), /LEAF mon-tls-cert[\s\S]*CA ca-cert/);
            assert.equal(
                fileContent("mon-homelab-ca"),
                "-----BEGIN CERTIFICATE-----\nCA ca-cert\n-----END CERTIFICATE-----\n",
            );
            assert.equal(await value(mon.grafanaUrl), "https://monitoring.home.lan/");
            assert.equal(await value(mon.prometheusUrl), "https://monitoring.home.lan/prometheus/");
            assert.equal(await value(mon.alertmanagerUrl), "https://monitoring.home.lan/alertmanager/");
            assert.equal(await value(mon.address), "192.168.8.85");
            assert.equal(await value(mon.basicAuthUser), "admin");
        });

        /**
         * The declared Files and Execs, replayed in declaration order into a simulator container the way the File
         * and Exec providers apply them (content on stdin, environment from a prelude on stdin): the scripts run
         * against the simulator's apt, systemd, useradd, pip and daemon models. Needs root (chroot) and busybox.
         */
        describe("replayed into the simulator", function () {
            this.timeout(180_000);
            let fx: import("../sim-ssh/helpers").SshFixture | undefined;
            let conn: import("ssh2").Client;
            let H: typeof import("../sim-ssh/helpers");
            const VMID = 150;
            const sh = (script: string, stdin?: string) => H.run(conn, H.pctSh(VMID, script), stdin);

            /** Applies every File and Exec of the deployment; returns the failures. */
            async function replay(opts: { execsOnly?: boolean } = {}): Promise<string[]> {
                const failures: string[] = [];
                for (const r of rec.regs.filter((x) => x.type === T.file || x.type === T.exec)) {
                    const i = byName(r.name, r.type).inputs as Record<string, unknown>;
                    if (r.type === T.file) {
                        if (opts.execsOnly) continue;
                        const path = String(i.path);
                        // The File provider's defaults: root, group = owner, 0644.
                        const user = String(i.owner ?? "root");
                        const owner = `${user}:${i.group ?? user}`;
                        const w = await sh(
                            `set -e; mkdir -p "$(dirname ${H.q(path)})"; cat > ${H.q(path)}; ` +
                                `chown ${H.q(owner)} ${H.q(path)}; chmod ${H.q(String(i.mode ?? "0644"))} ${H.q(path)}`,
                            String(unwrap(i.content)),
                        );
                        if (w.code !== 0) failures.push(`${r.name}: ${w.stderr}`);
                    } else {
                        const env = Object.entries((i.environment ?? {}) as Record<string, string>)
                            .map(([k, v]) => `export ${k}=${H.q(v)}\n`)
                            .join("");
                        const x = await H.run(conn, `pct exec ${VMID} -- /bin/sh -s`, env + String(i.create));
                        if (x.code !== 0) failures.push(`${r.name} (exit ${x.code}): ${x.stdout}${x.stderr}`);
                    }
                }
                return failures;
            }

            before(async function () {
                if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", "command -v busybox"]).status !== 0) {
                    console.log("      skipped: the simulator's container backend needs root and busybox-static");
                    this.skip();
                }
                H = await import("../sim-ssh/helpers");
                fx = await H.startFixture();
                await fx.createCt(VMID, {
                    hostname: "monitoring",
                    nics: [
                        {
                            name: "eth0",
                            bridge: "vmbr0",
                            hwaddr: "BC:24:11:00:00:85",
                            ip: "192.168.8.85/24",
                            gw: "192.168.8.1",
                        },
                    ],
                });
                await fx.backend.registerDownload(
                    "https://apt.grafana.com/gpg.key",
                    Buffer.from(
                        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQGNBGTnhmkBDADU\n-----END PGP PUBLIC KEY BLOCK-----\n",
                    ),
                );
                conn = await fx.connect();
            });

            after(async () => {
                await fx?.close();
            });

            it("every step succeeds and leaves each daemon enabled and running", async () => {
                assert.deepEqual(await replay(), []);
                const units = [
                    "prometheus-node-exporter",
                    "prometheus",
                    "prometheus-alertmanager",
                    "prometheus-blackbox-exporter",
                    "prometheus-snmp-exporter",
                    "prometheus-pve-exporter",
                    "grafana-server",
                    "nginx",
                ];
                const state = await sh(
                    units.map((u) => `echo ${u} $(systemctl is-enabled ${u}) $(systemctl is-active ${u})`).join("; "),
                );
                assert.equal(state.stdout, units.map((u) => `${u} enabled active\n`).join(""));
            });

            it("packages came through the proxy; the exporter is in its venv as its own user", async () => {
                const apt = await sh("cat /var/log/sim/apt.log");
                assert.match(
                    apt.stdout,
                    /^install pkgs=.*prometheus-blackbox-exporter.* proxy=http:\/\/10\.100\.0\.1:3128$/m,
                );
                assert.match(
                    apt.stdout,
                    /^install pkgs=grafana requested=grafana .*proxy=http:\/\/10\.100\.0\.1:3128$/m,
                );
                const pip = await sh(
                    "cat /opt/prometheus-pve-exporter/lib/python3.13/site-packages/prometheus-pve-exporter.sim-dist; cat /etc/pip.conf; id pve-exporter",
                );
                assert.match(pip.stdout, /^Requested: prometheus-pve-exporter>=3\.4,<4$/m);
                assert.match(pip.stdout, /^proxy = http:\/\/10\.100\.0\.1:3128$/m);
                assert.match(pip.stdout, /uid=\d+\(pve-exporter\) gid=\d+\(pve-exporter\)/);
                const grafana = await sh(
                    "cat /etc/apt/sources.list.d/grafana.sources; head -1 /etc/apt/keyrings/grafana.asc",
                );
                assert.match(
                    grafana.stdout,
                    /^URIs: https:\/\/apt\.grafana\.com\nSuites: stable\nComponents: main\nSigned-By: \/etc\/apt\/keyrings\/grafana\.asc$/m,
                );
                assert.match(grafana.stdout, /^-----BEGIN PGP PUBLIC KEY BLOCK-----$/m);
            });

            it("secrets land with tight modes, owned by the service that reads them; only our nginx site is enabled", async () => {
                const st = await sh(
                    "stat -c '%n %a %U %G' /etc/prometheus/alertmanager-smtp-password /etc/grafana/admin_password " +
                        "/etc/grafana/smtp_password /etc/prometheus-pve-exporter/pve.yml /etc/nginx/ssl/monitoring.key " +
                        "/etc/nginx/monitoring.htpasswd /etc/grafana/grafana.ini; ls /etc/nginx/sites-enabled",
                );
                assert.equal(
                    st.stdout,
                    [
                        "/etc/prometheus/alertmanager-smtp-password 600 prometheus prometheus",
                        "/etc/grafana/admin_password 600 grafana grafana",
                        "/etc/grafana/smtp_password 600 grafana grafana",
                        "/etc/prometheus-pve-exporter/pve.yml 600 pve-exporter pve-exporter",
                        "/etc/nginx/ssl/monitoring.key 600 root root",
                        "/etc/nginx/monitoring.htpasswd 640 root www-data",
                        "/etc/grafana/grafana.ini 640 root grafana",
                        "monitoring",
                        "",
                    ].join("\n"),
                );
            });

            it("running every command again (a trigger changed) succeeds and restarts the daemons", async () => {
                const before = (await sh("wc -l < /var/log/sim/service-events")).stdout.trim();
                assert.deepEqual(await replay({ execsOnly: true }), []);
                const events = (await sh(`tail -n +${Number(before) + 1} /var/log/sim/service-events`)).stdout;
                for (const u of [
                    "prometheus",
                    "prometheus-alertmanager",
                    "prometheus-pve-exporter",
                    "grafana-server",
                ]) {
                    assert.match(events, new RegExp(`^\\d+ restart ${u}\\.service$`, "m"), u);
                }
            });

            it("deleting an optional service's command stops and disables it", async () => {
                const del = String(byName("mon-pve-exporter", T.exec).inputs.delete);
                assert.equal((await H.run(conn, `pct exec ${VMID} -- /bin/sh -s`, del)).code, 0);
                const st = await sh(
                    "systemctl is-enabled prometheus-pve-exporter; systemctl is-active prometheus-pve-exporter",
                );
                assert.equal(st.stdout, "disabled\ninactive\n");
            });
        });
    });

    describe("targets follow the input", () => {
        it("two different target sets give the two expected prometheus.yml files", async () => {
            const [ra, rb] = [recorder(), recorder()];
            const a = new M.MonitoringLxc(
                "mon-a",
                baseArgs({ grafana: { enabled: false }, targets: pulumi.output(NETBOX) }),
                { transformations: [ra.transformation] },
            );
            const b = new M.MonitoringLxc(
                "mon-b",
                baseArgs({ grafana: { enabled: false }, targets: [APPLIANCE], network: { bridge: "vmbr0" } }),
                { transformations: [rb.transformation] },
            );
            await Promise.all([value(a.prometheusConfig), value(b.prometheusConfig)]);
            await Promise.all([settle(ra), settle(rb)]);
            const expected = (self: string, name: string, t: MonitoringTargets) =>
                R.renderPrometheusConfig({
                    targets: {
                        nodeExporters: [
                            { address: `${self}:9100`, container: "monitoring", component: name },
                            ...t.nodeExporters,
                        ],
                        httpProbes: [{ name: "monitoring", url: `https://${self}/`, component: name }, ...t.httpProbes],
                        icmpProbes: t.icmpProbes,
                    },
                    publicHttpProbes: [],
                    snmpTargets: [],
                    scrapeJobs: [],
                    grafana: false,
                    timing: R.DEFAULT_ALERT_TIMING,
                });
            const ta = fileContent("mon-a-prometheus-config");
            const tb = fileContent("mon-b-prometheus-config");
            assert.equal(ta, expected("192.168.8.85", "mon-a", NETBOX));
            // mon-b has a DHCP address: discovered from the container's interfaces.
            assert.equal(tb, expected("192.168.8.199", "mon-b", APPLIANCE));
            assert.notEqual(ta, tb);
            assert.match(ta, /netbox-db/);
            assert.doesNotMatch(tb, /netbox/);
            assert.equal(await value(b.address), "192.168.8.199");
        });

        it("without Grafana and the PVE exporter, none of their resources exist", () => {
            const names = created.filter((c) => c.name.startsWith("mon-a-")).map((c) => c.name);
            for (const n of names) assert.doesNotMatch(n, /grafana|pve|snmp/, n);
            assert.ok(names.includes("mon-a-nginx"));
            assert.equal(
                byName("mon-a-packages").inputs.create,
                R.renderPackagesScript([
                    "nginx",
                    "prometheus",
                    "prometheus-alertmanager",
                    "prometheus-blackbox-exporter",
                ]),
            );
            assert.match(fileContent("mon-a-nginx-site"), /return 302 \/prometheus\/;/);
        });

        it("targets that are wrong at deploy time fail the deployment naming the field", async () => {
            const rec = recorder();
            const bad = new M.MonitoringLxc(
                "mon-bad",
                baseArgs({
                    grafana: { enabled: false },
                    targets: pulumi.output({
                        nodeExporters: [{ address: "no-port", container: "x", component: "y" }],
                        httpProbes: [],
                        icmpProbes: [],
                    }),
                }),
                { transformations: [rec.transformation] },
            );
            const err = await new Promise<unknown>((resolve) => {
                bad.prometheusConfig.apply(() => resolve(undefined));
                // An apply that throws rejects the output's promise; observe it through `promise()`.
                (bad.prometheusConfig as unknown as { promise(): Promise<unknown> }).promise().catch(resolve);
            });
            assert.ok(err instanceof ValidationError, String(err));
            assert.equal(err.subject, 'MonitoringLxc "mon-bad" targets');
            assert.deepEqual(err.problems, [
                "MonitoringLxc.targets.nodeExporters[0].address: must be host:port, e.g. 10.100.0.20:9100",
            ]);
            // The file that needs the targets, and what depends on it, are never declared; the rest is.
            const blocked = ["mon-bad-prometheus-config", "mon-bad-prometheus", "mon-bad-nginx"];
            await settle({ regs: rec.regs.filter((r) => !blocked.includes(r.name)) });
            await new Promise((r) => setTimeout(r, 300));
            assert.deepEqual(
                blocked.filter((n) => created.some((c) => c.name === n)),
                [],
            );
        });
    });

    describe("bad arguments", () => {
        it("fail naming every field, before any resource (the component included) is registered", async () => {
            const before = created.length;
            const rec = recorder();
            assert.throws(
                () =>
                    new M.MonitoringLxc(
                        "mon-invalid",
                        baseArgs({
                            memory: 64,
                            publicName: "",
                            smtp: { smarthost: "nope", from: "a@b.c", to: "d@e.f" },
                        }),
                        { transformations: [rec.transformation] },
                    ),
                (e: unknown) =>
                    e instanceof ValidationError &&
                    e.message ===
                        'Invalid MonitoringLxc "mon-invalid":\n' +
                            "  - MonitoringLxc.memory: must be ≥ 512 MiB\n" +
                            "  - MonitoringLxc.publicName: must be a DNS name like monitoring.home.lan\n" +
                            "  - MonitoringLxc.smtp.smarthost: must be host:port, e.g. smtp.example.com:587",
            );
            await new Promise((r) => setTimeout(r, 500));
            assert.equal(created.length, before);
            assert.deepEqual(rec.regs, []);
            assert.ok(!created.some((c) => c.name.startsWith("mon-invalid")));
        });
    });
});
