import { APPLIANCE_PATHS } from "./paths";

/** Caddy's admin endpoint: loopback only, so `caddy reload` works and nothing outside the appliance reaches it. */
export const CADDY_ADMIN = "localhost:2019";

/**
 * /etc/caddy/Caddyfile. Document 001 has `admin off`, which makes `caddy reload` (it talks to the admin API) fail;
 * the admin endpoint stays on, bound to localhost.
 */
export function renderCaddyfile(): string {
    return [
        "# /etc/caddy/Caddyfile",
        "# Managed by Pulumi (proxmox-homelab ProximityAppliance): local changes are overwritten.",
        "{",
        "\t# The admin API is what `caddy reload` talks to; bound to localhost it is unreachable from any network.",
        `\tadmin ${CADDY_ADMIN}`,
        "\tauto_https off",
        "}",
        "",
        `import ${APPLIANCE_PATHS.caddySites}/*`,
        "",
    ].join("\n");
}

export interface CaddyVhostArgs {
    /** App name; the site is `<name>.<domain>`. */
    name: string;
    domain: string;
    /** The app's LAN address and port. */
    ip: string;
    port: number;
    /** Active health check path, `/` by default. */
    healthPath: string;
}

/** `nginx.prox.local` for app `nginx`. */
export function appHostname(name: string, domain: string): string {
    return `${name}.${domain}`;
}

/**
 * /etc/caddy/sites-enabled/<name>.caddy, the document's per-app site. The site address carries `http://`: with
 * `auto_https off` a bare hostname still makes Caddy listen on :443 (TLS without certificates), not on :80.
 */
export function renderCaddyVhost(v: CaddyVhostArgs): string {
    const host = appHostname(v.name, v.domain);
    return [
        `# App "${v.name}" (managed by Pulumi).`,
        `http://${host} {`,
        `\treverse_proxy http://${v.ip}:${v.port} {`,
        `\t\thealth_uri ${v.healthPath}`,
        "\t\thealth_interval 30s",
        "\t\thealth_timeout 5s",
        "",
        "\t\theader_up Host {upstream_hostport}",
        "\t\theader_up X-Real-IP {remote_host}",
        "\t\theader_up X-Forwarded-For {remote_host}",
        "\t\theader_up X-Forwarded-Proto {scheme}",
        "\t}",
        "",
        "\tlog {",
        `\t\toutput file ${APPLIANCE_PATHS.caddyLogs}/${host}.log`,
        "\t\tformat json",
        "\t}",
        "}",
        "",
    ].join("\n");
}
