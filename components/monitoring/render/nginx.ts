import { GENERATED, MONITORING_PATHS, PORTS } from "./paths";

export interface NginxSiteInput {
    publicName: string;
    /** Grafana at `/`; without it `/` redirects to Prometheus. */
    grafana: boolean;
    /** Source addresses/CIDRs allowed to reach Prometheus and Alertmanager (basic auth is needed as well). */
    allowCidrs: string[];
    tlsCert?: string;
    tlsKey?: string;
    htpasswd?: string;
}

/**
 * `/etc/nginx/sites-available/monitoring`: HTTP redirects to HTTPS; TLS from the homelab CA; Grafana at `/` (its own
 * login); Prometheus at `/prometheus/` and Alertmanager at `/alertmanager/` behind a source allowlist AND basic auth
 * (nginx's default `satisfy all`). The prefixes are stripped (`proxy_pass .../`), matching `--web.route-prefix=/`.
 */
export function renderNginxSite(input: NginxSiteInput): string {
    const cert = input.tlsCert ?? MONITORING_PATHS.tlsCert;
    const key = input.tlsKey ?? MONITORING_PATHS.tlsKey;
    const htpasswd = input.htpasswd ?? MONITORING_PATHS.htpasswd;
    const guarded = (path: string, realm: string, port: number): string[] => [
        `    location ${path} {`,
        ...input.allowCidrs.map((c) => `        allow ${c};`),
        "        deny all;",
        `        auth_basic "${realm}";`,
        `        auth_basic_user_file ${htpasswd};`,
        `        proxy_pass http://127.0.0.1:${port}/;`,
        "    }",
        "",
    ];
    const root = input.grafana
        ? ["    location / {", `        proxy_pass http://127.0.0.1:${PORTS.grafana};`, "    }"]
        : [
              "    location = / {",
              "        return 302 /prometheus/;",
              "    }",
              "",
              "    location / {",
              "        return 404;",
              "    }",
          ];
    return [
        `# ${GENERATED}`,
        "# Grafana Live uses WebSockets: pass the upgrade through, close otherwise.",
        "map $http_upgrade $monitoring_connection_upgrade {",
        "    default upgrade;",
        "    '' close;",
        "}",
        "",
        "server {",
        // IPv4 only: containers with IPv6 disabled (common in homelabs) cannot bind [::].
        "    listen 80;",
        `    server_name ${input.publicName};`,
        "    return 301 https://$host$request_uri;",
        "}",
        "",
        "server {",
        "    listen 443 ssl;",
        `    server_name ${input.publicName};`,
        "",
        `    ssl_certificate ${cert};`,
        `    ssl_certificate_key ${key};`,
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_session_cache shared:monitoring_tls:10m;",
        "",
        // Set once at server level: a location with any proxy_set_header of its own would drop all of these.
        "    proxy_http_version 1.1;",
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Real-IP $remote_addr;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_set_header Upgrade $http_upgrade;",
        "    proxy_set_header Connection $monitoring_connection_upgrade;",
        "    proxy_read_timeout 300s;",
        "",
        ...guarded("/prometheus/", "Prometheus", PORTS.prometheus),
        ...guarded("/alertmanager/", "Alertmanager", PORTS.alertmanager),
        ...root,
        "}",
        "",
    ].join("\n");
}
