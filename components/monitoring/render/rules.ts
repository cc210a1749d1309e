import { GENERATED } from "./paths";
import { AlertName, AlertTiming, ruleFor } from "./timing";
import { yamlDocument } from "./yaml";

export type Severity = "warning" | "critical";

export interface AlertRuleSpec {
    name: AlertName;
    expr: string;
    severity: Severity;
    summary: string;
    description: string;
}

/** Filesystems that are not storage a container can fill (pseudo and memory-backed ones). */
const PSEUDO_FS = 'fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|fuse.lxcfs"';

/**
 * The document's alerts (Service Down, Network Device Unreachable, High Memory, High CPU, Disk Space Low, Container
 * Down) plus TLS expiry. `for` comes from the timing, so the live tests can shorten it without another rule set.
 */
export const ALERT_RULES: readonly AlertRuleSpec[] = [
    {
        name: "ServiceDown",
        expr: 'probe_success{job=~"blackbox_http.*"} < 1',
        severity: "critical",
        summary: "Service {{ $labels.service }} is down",
        description: "The HTTP probe of {{ $labels.instance }} ({{ $labels.component }}) has been failing.",
    },
    {
        name: "NetworkDeviceUnreachable",
        expr: 'probe_success{job="blackbox_icmp"} < 1',
        severity: "critical",
        summary: "Network device {{ $labels.device }} is unreachable",
        description: "{{ $labels.instance }} ({{ $labels.component }}) has not answered ICMP echo requests.",
    },
    {
        name: "HighMemoryUsage",
        expr: "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) > 90",
        severity: "warning",
        summary: "High memory usage on {{ $labels.container }}",
        description: 'Memory use on {{ $labels.instance }} is {{ $value | printf "%.1f" }}% (threshold 90%).',
    },
    {
        name: "HighCpuUsage",
        expr: '100 * (1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) > 85',
        severity: "warning",
        summary: "High CPU usage on {{ $labels.container }}",
        description: 'CPU use on {{ $labels.instance }} is {{ $value | printf "%.1f" }}% (threshold 85%).',
    },
    {
        name: "DiskSpaceLow",
        expr: `100 * node_filesystem_avail_bytes{${PSEUDO_FS}} / node_filesystem_size_bytes{${PSEUDO_FS}} < 15`,
        severity: "warning",
        summary: "Low disk space on {{ $labels.container }} {{ $labels.mountpoint }}",
        description:
            '{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | printf "%.1f" }}% free (threshold 15%).',
    },
    {
        name: "ContainerDown",
        expr: 'up{job="node"} == 0',
        severity: "critical",
        summary: "Container {{ $labels.container }} is down",
        description: "node_exporter on {{ $labels.instance }} ({{ $labels.component }}) cannot be scraped.",
    },
    {
        name: "TlsCertificateExpiringSoon",
        // Between 3 and 7 days left; below 3 days the critical rule takes over, so one mail per stage.
        expr:
            'probe_ssl_earliest_cert_expiry{job=~"blackbox_http.*"} - time() < 7 * 86400' +
            ' and probe_ssl_earliest_cert_expiry{job=~"blackbox_http.*"} - time() >= 3 * 86400',
        severity: "warning",
        summary: "TLS certificate of {{ $labels.instance }} expires within 7 days",
        description: "The certificate served by {{ $labels.instance }} expires in {{ $value | humanizeDuration }}.",
    },
    {
        name: "TlsCertificateExpiryImminent",
        expr: 'probe_ssl_earliest_cert_expiry{job=~"blackbox_http.*"} - time() < 3 * 86400',
        severity: "critical",
        summary: "TLS certificate of {{ $labels.instance }} expires within 3 days",
        description: "The certificate served by {{ $labels.instance }} expires in {{ $value | humanizeDuration }}.",
    },
];

/** `/etc/prometheus/rules/homelab.rules.yml`. */
export function renderAlertRules(timing: AlertTiming): string {
    return yamlDocument([GENERATED], {
        groups: [
            {
                name: "homelab",
                rules: ALERT_RULES.map((r) => ({
                    alert: r.name,
                    expr: r.expr,
                    for: ruleFor(r.name, timing),
                    labels: { severity: r.severity },
                    annotations: { summary: r.summary, description: r.description },
                })),
            },
        ],
    });
}
