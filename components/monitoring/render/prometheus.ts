import type { HttpProbeTarget, IcmpProbeTarget, MonitoringTargets, NodeExporterTarget } from "../../common/monitoring";
import { GENERATED, MONITORING_PATHS, PORTS } from "./paths";
import { AlertTiming, formatDuration } from "./timing";
import { YamlMap, YamlValue, yamlDocument } from "./yaml";

/** A device polled through the SNMP exporter (`/snmp?target=<address>&module=<module>&auth=<auth>`). */
export interface SnmpTarget {
    /** Short name, becomes the `device` label. */
    name: string;
    /** Host or IP the SNMP exporter polls. */
    address: string;
    /** SNMP exporter module. Default `if_mib`. */
    module: string;
    /** SNMP exporter auth (snmp_exporter ≥ 0.23). Default `public_v2`. */
    auth: string;
}

/** Any other exporter to scrape, as a static job. */
export interface StaticScrapeJob {
    /** Prometheus job name (must not collide with ours). */
    jobName: string;
    /** `host:port` of each endpoint. */
    targets: string[];
    /** Default `/metrics`. */
    metricsPath?: string;
    /** Default `http`. */
    scheme?: "http" | "https";
    /** Extra labels on every target of the job. */
    labels?: Record<string, string>;
}

export interface PrometheusConfigInput {
    /** What to watch: node exporters, HTTP probes (verified against the homelab CA) and ICMP probes. */
    targets: MonitoringTargets;
    /** HTTP probes verified against the system trust store (public certificates), job `blackbox_http_public`. */
    publicHttpProbes: HttpProbeTarget[];
    /** The PVE node scraped through the PVE exporter: `target` is `host:port` of its API, `node` its name. */
    pve?: { target: string; node: string };
    snmpTargets: SnmpTarget[];
    scrapeJobs: StaticScrapeJob[];
    /** Scrape Grafana's own metrics. */
    grafana: boolean;
    timing: AlertTiming;
    rulesFile?: string;
}

/** Job names this renderer uses; static jobs from config must pick others. */
export const RESERVED_JOB_NAMES = [
    "prometheus",
    "alertmanager",
    "blackbox",
    "grafana",
    "node",
    "blackbox_http",
    "blackbox_http_public",
    "blackbox_icmp",
    "pve",
    "snmp",
];

const loopback = (port: number): string => `127.0.0.1:${port}`;

function uniqueBy<T>(items: T[], key: (t: T) => string): T[] {
    const seen = new Set<string>();
    return items.filter((t) => {
        const k = key(t);
        if (seen.has(k)) return false;
        seen.add(k);
        return true;
    });
}

/** Relabeling of the multi-target exporter pattern: the scraped address becomes `?target=` and `instance`. */
function probeRelabel(exporterPort: number): YamlValue {
    return [
        { source_labels: ["__address__"], target_label: "__param_target" },
        { source_labels: ["__param_target"], target_label: "instance" },
        { target_label: "__address__", replacement: loopback(exporterPort) },
    ];
}

function selfJob(job: string, port: number): YamlMap {
    return { job_name: job, static_configs: [{ targets: [loopback(port)] }] };
}

function nodeJob(targets: NodeExporterTarget[]): YamlMap {
    return {
        job_name: "node",
        static_configs: targets.map((t) => ({
            targets: [t.address],
            labels: { container: t.container, component: t.component },
        })),
    };
}

function httpProbeJob(job: string, module: string, probes: HttpProbeTarget[]): YamlMap {
    return {
        job_name: job,
        metrics_path: "/probe",
        params: { module: [module] },
        static_configs: probes.map((p) => ({ targets: [p.url], labels: { service: p.name, component: p.component } })),
        relabel_configs: probeRelabel(PORTS.blackbox),
    };
}

function icmpProbeJob(probes: IcmpProbeTarget[]): YamlMap {
    return {
        job_name: "blackbox_icmp",
        metrics_path: "/probe",
        params: { module: ["icmp"] },
        static_configs: probes.map((p) => ({
            targets: [p.address],
            labels: { device: p.name, component: p.component },
        })),
        relabel_configs: probeRelabel(PORTS.blackbox),
    };
}

function pveJob(pve: { target: string; node: string }): YamlMap {
    return {
        job_name: "pve",
        metrics_path: "/pve",
        // cluster=1 and node=1 run both collector groups: one PVE node is the whole cluster here.
        params: { module: ["default"], cluster: ["1"], node: ["1"] },
        static_configs: [{ targets: [pve.target], labels: { pve_node: pve.node } }],
        relabel_configs: probeRelabel(PORTS.pveExporter),
    };
}

function snmpJob(targets: SnmpTarget[]): YamlMap {
    return {
        job_name: "snmp",
        metrics_path: "/snmp",
        // `__param_*` target labels become URL parameters, so each device can use its own module and auth.
        static_configs: targets.map((t) => ({
            targets: [t.address],
            labels: { device: t.name, __param_module: t.module, __param_auth: t.auth },
        })),
        relabel_configs: probeRelabel(PORTS.snmp),
    };
}

function staticJob(j: StaticScrapeJob): YamlMap {
    return {
        job_name: j.jobName,
        scheme: j.scheme,
        metrics_path: j.metricsPath,
        static_configs: [
            { targets: j.targets, labels: j.labels && Object.keys(j.labels).length > 0 ? j.labels : undefined },
        ],
    };
}

/** `/etc/prometheus/prometheus.yml`: scrape jobs generated from what the stack deployed, alerting to Alertmanager. */
export function renderPrometheusConfig(input: PrometheusConfigInput): string {
    const nodes = uniqueBy(input.targets.nodeExporters, (t) => t.address);
    const http = uniqueBy(input.targets.httpProbes, (t) => t.url);
    const publicHttp = uniqueBy(input.publicHttpProbes, (t) => t.url);
    const icmp = uniqueBy(input.targets.icmpProbes, (t) => t.address);
    const snmp = uniqueBy(input.snmpTargets, (t) => `${t.address}\0${t.module}\0${t.auth}`);

    const jobs: YamlMap[] = [
        selfJob("prometheus", PORTS.prometheus),
        selfJob("alertmanager", PORTS.alertmanager),
        selfJob("blackbox", PORTS.blackbox),
    ];
    if (input.grafana) jobs.push(selfJob("grafana", PORTS.grafana));
    if (nodes.length > 0) jobs.push(nodeJob(nodes));
    if (http.length > 0) jobs.push(httpProbeJob("blackbox_http", "http_2xx", http));
    if (publicHttp.length > 0) jobs.push(httpProbeJob("blackbox_http_public", "http_2xx_public", publicHttp));
    if (icmp.length > 0) jobs.push(icmpProbeJob(icmp));
    if (input.pve) jobs.push(pveJob(input.pve));
    if (snmp.length > 0) jobs.push(snmpJob(snmp));
    for (const j of input.scrapeJobs) jobs.push(staticJob(j));

    return yamlDocument([GENERATED], {
        global: {
            scrape_interval: formatDuration(input.timing.scrapeIntervalSeconds),
            evaluation_interval: formatDuration(input.timing.evaluationIntervalSeconds),
        },
        alerting: { alertmanagers: [{ static_configs: [{ targets: [loopback(PORTS.alertmanager)] }] }] },
        rule_files: [input.rulesFile ?? MONITORING_PATHS.rulesFile],
        scrape_configs: jobs,
    });
}
