import { GENERATED, MONITORING_PATHS, PORTS } from "./paths";
import { yamlDocument } from "./yaml";

/** System user the PVE exporter runs as (it alone can read the token). */
export const PVE_EXPORTER_USER = "pve-exporter";

export interface PveExporterConfigInput {
    /** `name@realm` of the read-only user. */
    user: string;
    /** Token id (the part after `!`). */
    tokenName: string;
    /** Token secret. */
    tokenValue: string;
    /**
     * How the exporter verifies the PVE API certificate: `ca-file` against the PVE CA written next to the config,
     * `system` against the container's trust store (which includes the extra CA certificates), `off` not at all.
     */
    tls: "ca-file" | "system" | "off";
    caFile?: string;
}

/**
 * `/etc/prometheus-pve-exporter/pve.yml` (mode 0600, owned by the exporter's user). The module is passed to
 * proxmoxer, whose `verify_ssl` goes to requests' `verify`: `true`, `false`, or the path of a CA bundle. requests
 * cannot pin a certificate fingerprint, so pinning means giving the CA.
 */
export function renderPveExporterConfig(input: PveExporterConfigInput): string {
    const verify =
        input.tls === "ca-file" ? (input.caFile ?? MONITORING_PATHS.pveExporterCaFile) : input.tls === "system";
    return yamlDocument([GENERATED], {
        default: {
            user: input.user,
            token_name: input.tokenName,
            token_value: input.tokenValue,
            verify_ssl: verify,
        },
    });
}

/**
 * The exporter's systemd unit (pip installs no unit). The console script runs through the venv's interpreter: the
 * same program on a real system, and what the simulator can model (its pip makes console scripts only for a few
 * well-known distributions). REQUESTS_CA_BUNDLE makes requests use the system store instead of its bundled certifi.
 */
export function renderPveExporterUnit(venv: string = MONITORING_PATHS.pveExporterVenv): string {
    return [
        `# ${GENERATED}`,
        "[Unit]",
        "Description=Prometheus exporter for Proxmox VE",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        `User=${PVE_EXPORTER_USER}`,
        `Group=${PVE_EXPORTER_USER}`,
        "Environment=REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
        `ExecStart=${venv}/bin/python3 ${venv}/bin/pve_exporter --config.file=${MONITORING_PATHS.pveExporterConfig} --web.listen-address=127.0.0.1:${PORTS.pveExporter}`,
        "Restart=on-failure",
        "RestartSec=5",
        "NoNewPrivileges=true",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}
