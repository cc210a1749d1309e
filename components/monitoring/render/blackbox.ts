import { GENERATED, MONITORING_PATHS } from "./paths";
import { yamlDocument } from "./yaml";

/**
 * Status codes a probe accepts (the original's list): a redirect to a login page or an authentication challenge
 * still proves the service answers.
 */
export const VALID_HTTP_CODES = [200, 301, 302, 401, 403];

/**
 * `/etc/prometheus/blackbox.yml`. `http_2xx` verifies TLS against the homelab CA only (what our services present);
 * `http_2xx_public` uses the system trust store for URLs with public certificates; `icmp` pings over IPv4.
 */
export function renderBlackboxConfig(caFile: string = MONITORING_PATHS.homelabCaFile): string {
    const http = (tls: boolean) => ({
        prober: "http",
        timeout: "10s",
        http: {
            method: "GET",
            valid_status_codes: VALID_HTTP_CODES,
            preferred_ip_protocol: "ip4",
            tls_config: tls ? { ca_file: caFile } : undefined,
        },
    });
    return yamlDocument([GENERATED], {
        modules: {
            http_2xx: http(true),
            http_2xx_public: http(false),
            icmp: { prober: "icmp", timeout: "5s", icmp: { preferred_ip_protocol: "ip4" } },
        },
    });
}
