import { GENERATED, MONITORING_PATHS, PORTS } from "./paths";

/**
 * `/etc/default/<daemon>` files: Debian's units run `<daemon> $ARGS` with this file as EnvironmentFile, and
 * systemd splits the unquoted `$ARGS` on whitespace. No value here may contain spaces or quotes (the public name
 * and paths are validated to be plain).
 */
function defaultsFile(args: string[]): string {
    return `# ${GENERATED}\nARGS="${args.join(" ")}"\n`;
}

function externalUrl(publicName: string, prefix: string): string {
    return `https://${publicName}/${prefix}/`;
}

/**
 * Prometheus: loopback only; nginx serves it under `/prometheus/` and strips the prefix, so the routes stay at `/`
 * (Grafana and Alertmanager talk to it at the root) while the UI builds its links from the external URL.
 */
export function renderPrometheusDefaults(publicName: string, retentionDays: number): string {
    return defaultsFile([
        `--config.file=${MONITORING_PATHS.prometheusConfig}`,
        "--storage.tsdb.path=/var/lib/prometheus/metrics2/",
        `--storage.tsdb.retention.time=${retentionDays}d`,
        `--web.listen-address=127.0.0.1:${PORTS.prometheus}`,
        `--web.external-url=${externalUrl(publicName, "prometheus")}`,
        "--web.route-prefix=/",
    ]);
}

/** Alertmanager: loopback only, behind nginx at `/alertmanager/`; a single instance, so no cluster listener. */
export function renderAlertmanagerDefaults(publicName: string): string {
    return defaultsFile([
        `--config.file=${MONITORING_PATHS.alertmanagerConfig}`,
        "--storage.path=/var/lib/prometheus/alertmanager/",
        `--web.listen-address=127.0.0.1:${PORTS.alertmanager}`,
        `--web.external-url=${externalUrl(publicName, "alertmanager")}`,
        "--web.route-prefix=/",
        "--cluster.listen-address=",
    ]);
}

export function renderBlackboxDefaults(): string {
    return defaultsFile([
        `--config.file=${MONITORING_PATHS.blackboxConfig}`,
        `--web.listen-address=127.0.0.1:${PORTS.blackbox}`,
    ]);
}

/** The SNMP exporter keeps Debian's generated snmp.yml (modules such as if_mib, auths public_v1/public_v2). */
export function renderSnmpDefaults(): string {
    return defaultsFile(["--config.file=/etc/prometheus/snmp.yml", `--web.listen-address=127.0.0.1:${PORTS.snmp}`]);
}

/**
 * ICMP probes need a raw socket. Debian's package sets a file capability in its postinst, which an unprivileged
 * container may not keep; an ambient capability given by systemd works either way.
 */
export function renderBlackboxDropIn(): string {
    return `# ${GENERATED}\n[Service]\nAmbientCapabilities=CAP_NET_RAW\n`;
}
