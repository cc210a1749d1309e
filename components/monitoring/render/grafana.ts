import { GENERATED, MONITORING_PATHS, PORTS } from "./paths";
import { yamlDocument } from "./yaml";

export const DEFAULT_GRAFANA_APT_REPO_URL = "https://apt.grafana.com";
export const DEFAULT_GRAFANA_APT_KEY_URL = "https://apt.grafana.com/gpg.key";
/** The provisioned Prometheus data source's uid; the dashboard refers to it. */
export const PROMETHEUS_DATASOURCE_UID = "prometheus";
export const DASHBOARD_UID = "homelab-overview";

export interface GrafanaIniInput {
    publicName: string;
    adminUser: string;
    /** SMTP for Grafana's own mail (invites, its alerting if a user adds some); alerts go through Alertmanager. */
    smtp: { smarthost: string; from: string; username?: string; hasPassword: boolean; requireTls: boolean };
    adminPasswordFile?: string;
    smtpPasswordFile?: string;
}

/**
 * `/etc/grafana/grafana.ini` (Grafana merges it over its defaults). Secrets are read with `$__file{...}` from
 * files only the grafana user can read, so this file holds none. `admin_password` only takes effect when Grafana
 * creates its database (the first start); the password is generated once, so that is when it matters.
 */
export function renderGrafanaIni(input: GrafanaIniInput): string {
    const s = input.smtp;
    const lines = [
        `# ${GENERATED}`,
        "[server]",
        "http_addr = 127.0.0.1",
        `http_port = ${PORTS.grafana}`,
        `domain = ${input.publicName}`,
        `root_url = https://${input.publicName}/`,
        "",
        "[security]",
        `admin_user = ${input.adminUser}`,
        `admin_password = $__file{${input.adminPasswordFile ?? MONITORING_PATHS.grafanaAdminPasswordFile}}`,
        "cookie_secure = true",
        "disable_gravatar = true",
        "",
        "[users]",
        "allow_sign_up = false",
        "",
        "[auth.anonymous]",
        "enabled = false",
        "",
        "[analytics]",
        "reporting_enabled = false",
        "check_for_updates = false",
        "check_for_plugin_updates = false",
        "",
        "[smtp]",
        "enabled = true",
        `host = ${s.smarthost}`,
    ];
    if (s.username !== undefined) lines.push(`user = ${s.username}`);
    if (s.hasPassword)
        lines.push(`password = $__file{${input.smtpPasswordFile ?? MONITORING_PATHS.grafanaSmtpPasswordFile}}`);
    lines.push(
        `from_address = ${s.from}`,
        "from_name = Homelab Grafana",
        `startTLS_policy = ${s.requireTls ? "MandatoryStartTLS" : "OpportunisticStartTLS"}`,
        "",
    );
    return lines.join("\n");
}

/** Data sources: Prometheus (uid `prometheus`, the default) and Alertmanager, both on loopback. */
export function renderGrafanaDatasources(scrapeIntervalSeconds: number): string {
    return yamlDocument([GENERATED], {
        apiVersion: 1,
        datasources: [
            {
                name: "Prometheus",
                uid: PROMETHEUS_DATASOURCE_UID,
                type: "prometheus",
                access: "proxy",
                url: `http://127.0.0.1:${PORTS.prometheus}`,
                isDefault: true,
                editable: false,
                jsonData: { timeInterval: `${scrapeIntervalSeconds}s` },
            },
            {
                name: "Alertmanager",
                uid: "alertmanager",
                type: "alertmanager",
                access: "proxy",
                url: `http://127.0.0.1:${PORTS.alertmanager}`,
                editable: false,
                jsonData: { implementation: "prometheus", handleGrafanaManagedAlerts: false },
            },
        ],
    });
}

/** Dashboard provider: our JSON files, in a "Homelab" folder, not editable from the UI (the deploy owns them). */
export function renderGrafanaDashboardProvider(dir: string = MONITORING_PATHS.grafanaDashboardsDir): string {
    return yamlDocument([GENERATED], {
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
                options: { path: dir, foldersFromFilesStructure: false },
            },
        ],
    });
}

/** deb822 source for Grafana's apt repository, signed by the key the install step downloads. */
export function renderGrafanaAptSource(repoUrl: string): string {
    return [
        `# ${GENERATED}`,
        "Types: deb",
        `URIs: ${repoUrl}`,
        "Suites: stable",
        "Components: main",
        `Signed-By: ${MONITORING_PATHS.grafanaAptKey}`,
        "",
    ].join("\n");
}

// ---- the homelab dashboard -------------------------------------------------------------------------------------

interface Query {
    expr: string;
    legend: string;
}

interface PanelSpec {
    title: string;
    type: "stat" | "timeseries" | "table";
    queries: Query[];
    gridPos: { x: number; y: number; w: number; h: number };
    unit?: string;
    /** Show 0/1 as DOWN/UP. */
    upDown?: boolean;
    /** Instant query rendered as a table. */
    table?: boolean;
    description?: string;
}

const DS = { type: "prometheus", uid: PROMETHEUS_DATASOURCE_UID };
const HTTP_JOBS = 'job=~"blackbox_http.*"';

const SECTIONS: { title: string; y: number; panels: PanelSpec[] }[] = [
    {
        title: "Alerts",
        y: 0,
        panels: [
            {
                title: "Firing alerts",
                type: "stat",
                queries: [{ expr: 'count(ALERTS{alertstate="firing"}) or vector(0)', legend: "firing" }],
                gridPos: { x: 0, y: 1, w: 6, h: 6 },
            },
            {
                title: "Firing alerts by name",
                type: "table",
                table: true,
                queries: [{ expr: 'ALERTS{alertstate="firing"}', legend: "" }],
                gridPos: { x: 6, y: 1, w: 18, h: 6 },
            },
        ],
    },
    {
        title: "Proxmox VE host",
        y: 7,
        panels: [
            {
                title: "PVE API reachable",
                type: "stat",
                upDown: true,
                queries: [{ expr: 'pve_up{id=~"node/.*"}', legend: "{{id}}" }],
                gridPos: { x: 0, y: 8, w: 6, h: 6 },
            },
            {
                title: "Host CPU",
                type: "timeseries",
                unit: "percent",
                queries: [{ expr: '100 * pve_cpu_usage_ratio{id=~"node/.*"}', legend: "{{id}}" }],
                gridPos: { x: 6, y: 8, w: 9, h: 6 },
            },
            {
                title: "Host memory",
                type: "timeseries",
                unit: "percent",
                queries: [
                    {
                        expr: '100 * pve_memory_usage_bytes{id=~"node/.*"} / pve_memory_size_bytes{id=~"node/.*"}',
                        legend: "{{id}}",
                    },
                ],
                gridPos: { x: 15, y: 8, w: 9, h: 6 },
            },
        ],
    },
    {
        title: "Containers",
        y: 14,
        panels: [
            {
                title: "Containers up",
                type: "stat",
                upDown: true,
                queries: [{ expr: 'up{job="node"}', legend: "{{container}}" }],
                gridPos: { x: 0, y: 15, w: 6, h: 8 },
            },
            {
                title: "CPU",
                type: "timeseries",
                unit: "percent",
                queries: [
                    {
                        expr: '100 * (1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{mode="idle"}[5m])))',
                        legend: "{{container}}",
                    },
                ],
                gridPos: { x: 6, y: 15, w: 9, h: 8 },
            },
            {
                title: "Memory",
                type: "timeseries",
                unit: "percent",
                queries: [
                    {
                        expr: "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
                        legend: "{{container}}",
                    },
                ],
                gridPos: { x: 15, y: 15, w: 9, h: 8 },
            },
            {
                title: "Root filesystem used",
                type: "timeseries",
                unit: "percent",
                queries: [
                    {
                        expr: '100 * (1 - node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes{mountpoint="/"})',
                        legend: "{{container}}",
                    },
                ],
                gridPos: { x: 0, y: 23, w: 12, h: 8 },
            },
            {
                title: "Network",
                type: "timeseries",
                unit: "Bps",
                queries: [
                    {
                        expr: 'rate(node_network_receive_bytes_total{device!="lo"}[5m])',
                        legend: "{{container}} {{device}} in",
                    },
                    {
                        expr: 'rate(node_network_transmit_bytes_total{device!="lo"}[5m])',
                        legend: "{{container}} {{device}} out",
                    },
                ],
                gridPos: { x: 12, y: 23, w: 12, h: 8 },
            },
        ],
    },
    {
        title: "Probes",
        y: 31,
        panels: [
            {
                title: "HTTP services",
                type: "stat",
                upDown: true,
                queries: [{ expr: `probe_success{${HTTP_JOBS}}`, legend: "{{service}}" }],
                gridPos: { x: 0, y: 32, w: 12, h: 8 },
            },
            {
                title: "Network devices (ICMP)",
                type: "stat",
                upDown: true,
                queries: [{ expr: 'probe_success{job="blackbox_icmp"}', legend: "{{device}}" }],
                gridPos: { x: 12, y: 32, w: 12, h: 8 },
            },
            {
                title: "HTTP probe duration",
                type: "timeseries",
                unit: "s",
                queries: [{ expr: `probe_duration_seconds{${HTTP_JOBS}}`, legend: "{{service}}" }],
                gridPos: { x: 0, y: 40, w: 12, h: 8 },
            },
            {
                title: "TLS certificate days left",
                type: "stat",
                unit: "d",
                queries: [
                    { expr: `(probe_ssl_earliest_cert_expiry{${HTTP_JOBS}} - time()) / 86400`, legend: "{{service}}" },
                ],
                gridPos: { x: 12, y: 40, w: 12, h: 8 },
            },
        ],
    },
];

function panelJson(p: PanelSpec, id: number): Record<string, unknown> {
    const defaults: Record<string, unknown> = {};
    if (p.unit) defaults.unit = p.unit;
    if (p.upDown) {
        defaults.mappings = [
            {
                type: "value",
                options: {
                    "0": { text: "DOWN", color: "red", index: 0 },
                    "1": { text: "UP", color: "green", index: 1 },
                },
            },
        ];
        defaults.thresholds = {
            mode: "absolute",
            steps: [
                { color: "red", value: null },
                { color: "green", value: 1 },
            ],
        };
    }
    const panel: Record<string, unknown> = {
        id,
        type: p.type,
        title: p.title,
        datasource: DS,
        gridPos: p.gridPos,
        fieldConfig: { defaults, overrides: [] },
        targets: p.queries.map((q, i) => {
            const t: Record<string, unknown> = {
                datasource: DS,
                refId: String.fromCharCode(65 + i),
                expr: q.expr,
                legendFormat: q.legend,
            };
            if (p.table) {
                t.instant = true;
                t.format = "table";
            }
            return t;
        }),
    };
    if (p.type === "stat") panel.options = { colorMode: p.upDown ? "background" : "value", graphMode: "none" };
    return panel;
}

/** `/etc/grafana/dashboards/homelab-overview.json`: alerts, the PVE host, containers and probes. */
export function renderHomelabDashboard(): string {
    const panels: Record<string, unknown>[] = [];
    let id = 1;
    for (const s of SECTIONS) {
        panels.push({
            id: id++,
            type: "row",
            title: s.title,
            collapsed: false,
            gridPos: { x: 0, y: s.y, w: 24, h: 1 },
            panels: [],
        });
        for (const p of s.panels) panels.push(panelJson(p, id++));
    }
    const dashboard = {
        uid: DASHBOARD_UID,
        title: "Homelab overview",
        description: GENERATED,
        tags: ["homelab", "proxmox-homelab"],
        timezone: "browser",
        editable: false,
        schemaVersion: 39,
        version: 1,
        refresh: "30s",
        time: { from: "now-6h", to: "now" },
        templating: { list: [] },
        annotations: { list: [] },
        panels,
    };
    return JSON.stringify(dashboard, null, 2) + "\n";
}

/** Every PromQL expression of the dashboard (the daemon tests parse each one with promtool). */
export function dashboardExpressions(): string[] {
    return SECTIONS.flatMap((s) => s.panels.flatMap((p) => p.queries.map((q) => q.expr)));
}
