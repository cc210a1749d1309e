import assert from "node:assert/strict";

import { HomelabCa } from "../../components/common/ca";
import { ValidationError } from "../../components/common/validation";
import {
    MonitoringLxcArgs,
    isHostPort,
    pveTarget,
    validateMonitoringLxcArgs,
    validateTargets,
} from "../../components/monitoring/args";

/** A HomelabCa for validation only (the schema checks the class; no resource is registered here). */
const CA = Object.create(HomelabCa.prototype) as HomelabCa;

const BASE: MonitoringLxcArgs = {
    node: "pve",
    template: "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
    network: { bridge: "vmbr0", ip: "192.168.8.85/24", gw: "192.168.8.1" },
    publicName: "monitoring.home.lan",
    smtp: { smarthost: "smtp.example.com:587", from: "alerts@example.com", to: "ops@example.com" },
    tls: { ca: CA },
};

function problems(args: unknown): string[] {
    try {
        validateMonitoringLxcArgs("mon", args as MonitoringLxcArgs);
    } catch (e) {
        assert.ok(e instanceof ValidationError, String(e));
        assert.equal(e.subject, 'MonitoringLxc "mon"');
        return e.problems;
    }
    assert.fail("expected a ValidationError");
}

describe("MonitoringLxc args", () => {
    it("fills in the documented defaults", () => {
        const a = validateMonitoringLxcArgs("mon", BASE);
        assert.equal(a.storage, "local-zfs");
        assert.equal(a.hostname, "monitoring");
        assert.deepEqual([a.cores, a.memory, a.swap, a.diskGiB, a.retentionDays], [2, 2048, 512, 16, 30]);
        assert.deepEqual(a.grafana, {
            enabled: true,
            aptRepoUrl: "https://apt.grafana.com",
            aptKeyUrl: "https://apt.grafana.com/gpg.key",
            adminUser: "admin",
        });
        assert.deepEqual(a.allowCidrs, ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1"]);
        assert.equal(a.basicAuthUser, "admin");
        assert.deepEqual(a.alertTiming, {
            scale: 1,
            forOverrides: {},
            scrapeIntervalSeconds: 15,
            evaluationIntervalSeconds: 15,
        });
        assert.equal(a.smtp.requireTls, true);
        assert.equal(a.pve, undefined);
        assert.deepEqual(a.snmpTargets, []);
        assert.deepEqual(a.extraTargets, {
            nodeExporters: [],
            httpProbes: [],
            publicHttpProbes: [],
            icmpProbes: [],
            scrapeJobs: [],
        });
        assert.equal(a.network.firewall, true);
    });

    it("fills in the PVE exporter's defaults", () => {
        const a = validateMonitoringLxcArgs("mon", { ...BASE, pve: { address: "192.168.8.82" } });
        assert.deepEqual(a.pve, {
            address: "192.168.8.82",
            verifyTls: true,
            userId: "homelab-monitoring@pve",
            roleId: "HomelabMonitoring",
            tokenName: "pve-exporter",
            exporterPackage: "prometheus-pve-exporter>=3.4,<4",
        });
    });

    it("names every bad field, with the rule and the value", () => {
        assert.deepEqual(
            problems({
                ...BASE,
                node: "bad node",
                memory: 128,
                network: { bridge: "vmbr0", ip: "dhcp", gw: "192.168.8.1" },
                publicName: "not a name",
                smtp: { smarthost: "smtp.example.com", from: "nobody", to: [], password: "x" },
                allowCidrs: ["10.0.0.0/33"],
                alertTiming: { scale: 0, forOverrides: { Nope: 5 } },
                pve: {
                    address: "192.168.8.82",
                    roleId: "PVEAuditor",
                    apiUrl: "http://pve:8006",
                    verifyTls: false,
                    caCertPem: "x",
                },
                tls: {},
            }),
            [
                "MonitoringLxc.node: must be a PVE node name",
                "MonitoringLxc.memory: must be ≥ 512 MiB",
                "MonitoringLxc.network.gw: a gateway needs a static ip",
                "MonitoringLxc.publicName: must be a DNS name like monitoring.home.lan",
                "MonitoringLxc.pve.apiUrl: must be an https URL like https://192.168.1.2:8006",
                "MonitoringLxc.pve.roleId: must not start with 'PVE' (reserved for built-in roles)",
                "MonitoringLxc.pve.verifyTls: caCertPem is given but verifyTls is false; drop one of them",
                "MonitoringLxc.smtp.smarthost: must be host:port, e.g. smtp.example.com:587",
                "MonitoringLxc.smtp.from: must be an email address like alerts@example.com",
                "MonitoringLxc.smtp.to: must list at least one recipient",
                "MonitoringLxc.smtp.username: a password needs a username (SMTP AUTH)",
                "MonitoringLxc.allowCidrs[0]: must be an IP address or CIDR like 192.168.8.0/24",
                "MonitoringLxc.alertTiming.scale: must be > 0",
                "MonitoringLxc.alertTiming.forOverrides: keys must be alert names: ServiceDown, NetworkDeviceUnreachable, HighMemoryUsage, HighCpuUsage, DiskSpaceLow, ContainerDown, TlsCertificateExpiringSoon, TlsCertificateExpiryImminent",
                "MonitoringLxc.tls.ca: must be a HomelabCa",
            ],
        );
    });

    it("cross-field rules: SMTP password needs a user; a PVE CA with verification off is contradictory", () => {
        assert.deepEqual(problems({ ...BASE, smtp: { ...BASE.smtp, password: "pw" } }), [
            "MonitoringLxc.smtp.username: a password needs a username (SMTP AUTH)",
        ]);
        assert.deepEqual(problems({ ...BASE, pve: { address: "pve.lan", verifyTls: false, caCertPem: "PEM" } }), [
            "MonitoringLxc.pve.verifyTls: caCertPem is given but verifyTls is false; drop one of them",
        ]);
    });

    it("static scrape jobs may not take our job names, repeat one, or set reserved labels", () => {
        assert.deepEqual(
            problems({
                ...BASE,
                extraTargets: {
                    scrapeJobs: [
                        { jobName: "node", targets: ["10.0.0.1:9100"] },
                        { jobName: "pg", targets: ["10.0.0.1"], labels: { __param_x: "y" } },
                        { jobName: "pg", targets: ["10.0.0.2:9187"] },
                    ],
                },
            }),
            [
                "MonitoringLxc.extraTargets.scrapeJobs[0].jobName: must not be one of ours (prometheus, alertmanager, blackbox, grafana, node, blackbox_http, blackbox_http_public, blackbox_icmp, pve, snmp)",
                "MonitoringLxc.extraTargets.scrapeJobs[1].targets[0]: must be host:port",
                "MonitoringLxc.extraTargets.scrapeJobs[1].labels: must not set reserved labels (__*)",
                "MonitoringLxc.extraTargets.scrapeJobs[2].jobName: duplicate job name pg",
            ],
        );
    });

    it("refuses values that would break the generated files (newlines, quotes)", () => {
        assert.deepEqual(
            problems({
                ...BASE,
                smtp: { ...BASE.smtp, username: "a\nb" },
                extraTargets: { httpProbes: [{ name: "x", url: 'https://a.lan/"', component: "c" }] },
                grafana: { aptKeyUrl: "ftp://x/key" },
            }),
            [
                "MonitoringLxc.extraTargets.httpProbes[0].url: must be an http(s) URL",
                "MonitoringLxc.smtp.username: must be a single line without control characters",
                "MonitoringLxc.grafana.aptKeyUrl: must be a http/https URL",
            ],
        );
    });

    it("validates targets reported at deploy time, naming the field", () => {
        assert.throws(
            () =>
                validateTargets("mon", {
                    nodeExporters: [{ address: "10.0.0.1", container: "c", component: "x" }],
                    httpProbes: [],
                    icmpProbes: [{ name: "gw", address: "not an address", component: "x" }],
                }),
            (e: unknown) =>
                e instanceof ValidationError &&
                e.subject === 'MonitoringLxc "mon" targets' &&
                e.problems.join("\n") ===
                    "MonitoringLxc.targets.nodeExporters[0].address: must be host:port, e.g. 10.100.0.20:9100\n" +
                        "MonitoringLxc.targets.icmpProbes[0].address: must be a host name or IPv4 address",
        );
    });

    it("host:port and the exporter's target", () => {
        assert.deepEqual(
            ["10.0.0.1:9100", "db.lan:5432", "10.0.0.1", ":80", "10.0.0.1:0", "10.0.0.1:65536", "a b:1"].map(
                isHostPort,
            ),
            [true, true, false, false, false, false, false],
        );
        assert.equal(pveTarget({ address: "192.168.8.82" }), "192.168.8.82:8006");
        assert.equal(pveTarget({ address: "x", apiUrl: "https://127.0.0.1:41234" }), "127.0.0.1:41234");
        assert.equal(pveTarget({ address: "x", apiUrl: "https://pve.lan/" }), "pve.lan:443");
    });
});
