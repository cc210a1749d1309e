import { shellQuote } from "../../../providers/ssh/quote";
import { renderGrafanaAptSource } from "./grafana";
import { MONITORING_PATHS } from "./paths";
import { PVE_EXPORTER_USER } from "./pve-exporter";

/**
 * Scripts run inside the monitoring container by Exec resources (POSIX sh). Every value that comes from
 * configuration goes through shellQuote; proxies and secrets arrive in the environment, never here.
 */

const APT_INSTALL = "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold";

/** Debian packages of the monitoring container (node_exporter comes with the container bootstrap). */
export function monitoringPackages(opts: { pveExporter: boolean; snmp: boolean; grafana: boolean }): string[] {
    const pkgs = ["nginx", "prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"];
    if (opts.pveExporter) pkgs.push("python3-venv");
    if (opts.snmp) pkgs.push("prometheus-snmp-exporter");
    if (opts.grafana) pkgs.push("curl");
    return pkgs.sort();
}

/**
 * Installs the Debian packages. `--force-confold` keeps the configuration files we write when a later run
 * reinstalls or upgrades a package (dpkg would otherwise stop at a conffile prompt).
 */
export function renderPackagesScript(packages: string[]): string {
    return [
        "set -eu",
        "export DEBIAN_FRONTEND=noninteractive",
        // An interrupted earlier deploy may have left dpkg half-way; apt refuses to go on until it is finished.
        "dpkg --configure -a",
        "apt-get update -q",
        `${APT_INSTALL} ${packages.map(shellQuote).join(" ")}`,
        "",
    ].join("\n");
}

/**
 * Grafana from its own apt repository: key first, then the source that names it, then the install, so no apt run
 * ever sees a source whose key is missing. A failed download names the URL (mirrors are configurable).
 */
export function renderGrafanaInstallScript(repoUrl: string, keyUrl: string): string {
    const key = MONITORING_PATHS.grafanaAptKey;
    return [
        "set -eu",
        "export DEBIAN_FRONTEND=noninteractive",
        "install -d -m 0755 /etc/apt/keyrings",
        `if ! curl -fsSL --retry 3 -o ${key}.new ${shellQuote(keyUrl)}; then`,
        `    echo ${shellQuote(`Grafana apt key download failed: ${keyUrl}`)} >&2`,
        "    exit 1",
        "fi",
        `if ! grep -q 'BEGIN PGP PUBLIC KEY BLOCK' ${key}.new; then`,
        `    echo ${shellQuote(`not an armored OpenPGP key: ${keyUrl}`)} >&2`,
        "    exit 1",
        "fi",
        `chmod 0644 ${key}.new`,
        `mv -f ${key}.new ${key}`,
        `printf '%s' ${shellQuote(renderGrafanaAptSource(repoUrl))} > ${MONITORING_PATHS.grafanaAptSource}`,
        // An interrupted earlier deploy may have left dpkg half-way; apt refuses to go on until it is finished.
        "dpkg --configure -a",
        "apt-get update -q",
        `${APT_INSTALL} grafana`,
        "",
    ].join("\n");
}

/** prometheus-pve-exporter in a venv as its own system user; pip reads index, proxy and CA from /etc/pip.conf. */
export function renderPveExporterInstallScript(requirement: string): string {
    const venv = MONITORING_PATHS.pveExporterVenv;
    return [
        "set -eu",
        `if ! id -u ${PVE_EXPORTER_USER} >/dev/null 2>&1; then`,
        `    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ${PVE_EXPORTER_USER}`,
        "fi",
        `[ -x ${venv}/bin/python3 ] || python3 -m venv ${venv}`,
        `${venv}/bin/pip install --quiet --disable-pip-version-check ${shellQuote(requirement)}`,
        "",
    ].join("\n");
}

export interface ServiceScript {
    create: string;
    delete: string;
}

/**
 * Validate (when the daemon has a checker), enable, restart, and fail unless the unit is active. Re-run when a
 * trigger (the hash of a file the daemon reads) changes. Deleting the resource stops the service, so turning an
 * option off does not leave a daemon running on files that are gone.
 */
export function renderServiceScript(
    unit: string,
    opts: { check?: string; daemonReload?: boolean } = {},
): ServiceScript {
    const lines = ["set -eu"];
    if (opts.check) lines.push(opts.check);
    if (opts.daemonReload) lines.push("systemctl daemon-reload");
    lines.push(`systemctl enable ${unit}`, `systemctl restart ${unit}`, `systemctl is-active --quiet ${unit}`, "");
    return { create: lines.join("\n"), delete: `systemctl disable --now ${unit} || true\n` };
}

export const SERVICE_SCRIPTS = {
    prometheus: () =>
        renderServiceScript("prometheus.service", {
            check: `promtool check config ${MONITORING_PATHS.prometheusConfig}`,
        }),
    alertmanager: () =>
        renderServiceScript("prometheus-alertmanager.service", {
            check: `amtool check-config ${MONITORING_PATHS.alertmanagerConfig}`,
        }),
    blackbox: () =>
        renderServiceScript("prometheus-blackbox-exporter.service", {
            check: `prometheus-blackbox-exporter --config.file=${MONITORING_PATHS.blackboxConfig} --config.check`,
            daemonReload: true,
        }),
    snmp: () => renderServiceScript("prometheus-snmp-exporter.service"),
    pveExporter: () => renderServiceScript("prometheus-pve-exporter.service", { daemonReload: true }),
    grafana: () => renderServiceScript("grafana-server.service"),
};

/** Enables our site (and only ours: Debian's default site also claims port 80), checks, reloads. */
export function renderNginxScript(): ServiceScript {
    return {
        create: [
            "set -eu",
            `ln -sfn ${MONITORING_PATHS.nginxSite} ${MONITORING_PATHS.nginxSiteLink}`,
            "rm -f /etc/nginx/sites-enabled/default",
            "nginx -t -q",
            "systemctl enable nginx.service",
            "systemctl reload-or-restart nginx.service",
            "systemctl is-active --quiet nginx.service",
            "",
        ].join("\n"),
        delete: `rm -f ${MONITORING_PATHS.nginxSiteLink}\nsystemctl reload nginx.service || true\n`,
    };
}
