import { lines, managedBy } from "./common";
import { NETBOX_PATHS } from "./netbox";

/**
 * How HTTP/2 is switched on. nginx ≥ 1.25.1 (Debian 13 ships 1.26) has the `http2 on;` directive and warns
 * that `listen ... http2` is deprecated; older nginx (Debian 12's 1.22) only knows the listen parameter.
 */
export type Http2Style = "directive" | "listen";

/** The proxy's disk cache of NetBox's static files (its parent does not exist in Debian's nginx). */
export const PROXY_STATIC_CACHE_DIR = "/var/cache/nginx/netbox-static";

/** The proxy's key and certificate paths for a public name. */
export function proxyTlsPaths(publicName: string): { cert: string; key: string } {
    return { cert: `/etc/nginx/ssl/${publicName}.crt`, key: `/etc/nginx/ssl/${publicName}.key` };
}

export interface ProxySiteArgs {
    stack: string;
    /** server_name: the public name first, then any extra names. */
    serverNames: string[];
    /** gunicorn on the app's DMZ address. */
    appAddress: string;
    appPort?: number;
    /** The app's static-file server (see renderAppStaticSite). */
    staticPort?: number;
    certPath: string;
    keyPath: string;
    /** Default `directive` (Debian 13). */
    http2?: Http2Style;
    /** Directory of the static-file cache. Default `/var/cache/nginx/netbox-static`. */
    cacheDir?: string;
}

/** The document's proxy headers and 300 s timeouts, shared by both locations. */
const PROXY_HEADERS = [
    "        proxy_set_header Host $host;",
    "        proxy_set_header X-Real-IP $remote_addr;",
    "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "        proxy_set_header X-Forwarded-Proto $scheme;",
    "        proxy_set_header X-Forwarded-Host $host;",
    "        proxy_connect_timeout 300s;",
    "        proxy_send_timeout 300s;",
    "        proxy_read_timeout 300s;",
    "        send_timeout 300s;",
];

/**
 * `/etc/nginx/sites-available/netbox` on the proxy: 80 → 301 to https, 443 with TLS 1.2/1.3 and HTTP/2 in
 * front of gunicorn over the DMZ.
 *
 * Static files: gunicorn does not serve /static/ (the original's alias pointed at a directory nothing
 * created). The app runs collectstatic into its release tree and serves that directory read-only to the
 * proxy's DMZ address (renderAppStaticSite); this proxy fetches from there and keeps the files in a disk cache
 * for a day, so after the first request they are served from the proxy's own disk. Upgrades need no copy
 * step: the next release's files replace the old ones at the source, and the cache expires.
 */
export function renderProxySite(a: ProxySiteArgs): string {
    const names = a.serverNames.join(" ");
    const http2 = a.http2 ?? "directive";
    const listenSsl = http2 === "listen" ? "ssl http2" : "ssl";
    const cacheDir = a.cacheDir ?? PROXY_STATIC_CACHE_DIR;
    return lines(
        managedBy(a.stack),
        "",
        `proxy_cache_path ${cacheDir} levels=1:2 keys_zone=netbox_static:10m max_size=512m inactive=7d use_temp_path=off;`,
        "",
        "server {",
        "    listen 80;",
        "    listen [::]:80;",
        `    server_name ${names};`,
        "",
        `    return 301 https://${a.serverNames[0]}$request_uri;`,
        "}",
        "",
        "server {",
        `    listen 443 ${listenSsl};`,
        `    listen [::]:443 ${listenSsl};`,
        ...(http2 === "directive" ? ["    http2 on;"] : []),
        `    server_name ${names};`,
        "",
        `    ssl_certificate ${a.certPath};`,
        `    ssl_certificate_key ${a.keyPath};`,
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_prefer_server_ciphers off;",
        "    ssl_session_cache shared:netbox_tls:10m;",
        "    ssl_session_timeout 1d;",
        "    ssl_session_tickets off;",
        "",
        "    client_max_body_size 25m;",
        "",
        "    location /static/ {",
        `        proxy_pass http://${a.appAddress}:${a.staticPort ?? 8002};`,
        ...PROXY_HEADERS,
        "        proxy_cache netbox_static;",
        "        proxy_cache_valid 200 1d;",
        "        proxy_cache_use_stale error timeout updating;",
        "        add_header X-Cache-Status $upstream_cache_status;",
        "        expires 1d;",
        "    }",
        "",
        "    location / {",
        `        proxy_pass http://${a.appAddress}:${a.appPort ?? 8001};`,
        ...PROXY_HEADERS,
        "    }",
        "}",
    );
}

export interface AppStaticSiteArgs {
    stack: string;
    /** The app's DMZ address. */
    listenAddress: string;
    port?: number;
    /** The proxy's DMZ address: the only client. */
    proxyAddress: string;
}

/** `/etc/nginx/sites-available/netbox-static` on the app: the collected static files, for the proxy only. */
export function renderAppStaticSite(a: AppStaticSiteArgs): string {
    return lines(
        managedBy(a.stack),
        "#",
        "# gunicorn does not serve /static/. This server hands the files collectstatic wrote to the proxy, which",
        "# caches them; nobody else may ask.",
        "server {",
        `    listen ${a.listenAddress}:${a.port ?? 8002};`,
        "    server_name _;",
        "",
        `    allow ${a.proxyAddress};`,
        "    deny all;",
        "",
        "    location /static/ {",
        `        alias ${NETBOX_PATHS.static}/;`,
        "    }",
        "",
        "    location / {",
        "        return 404;",
        "    }",
        "}",
    );
}

export const PROXBOX_TLS_PATHS = { cert: "/etc/nginx/ssl/proxbox-api.crt", key: "/etc/nginx/ssl/proxbox-api.key" };

export interface ProxboxSiteArgs {
    stack: string;
    /** uvicorn's port on 127.0.0.1. */
    upstreamPort: number;
    /** TLS port on 127.0.0.1. */
    tlsPort: number;
    certPath: string;
    keyPath: string;
}

/**
 * `/etc/nginx/sites-available/proxbox-api` on the app: TLS in front of proxbox-api, on loopback like the API
 * itself, for the netbox-proxbox plugin in the same container. Sync progress streams as SSE and WebSocket, so
 * buffering is off, upgrades pass through and reads may take as long as a sync.
 */
export function renderProxboxSite(a: ProxboxSiteArgs): string {
    return lines(
        managedBy(a.stack),
        "",
        "map $http_upgrade $phl_proxbox_connection {",
        "    default upgrade;",
        "    '' close;",
        "}",
        "",
        "server {",
        `    listen 127.0.0.1:${a.tlsPort} ssl;`,
        "    server_name localhost;",
        "",
        `    ssl_certificate ${a.certPath};`,
        `    ssl_certificate_key ${a.keyPath};`,
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    ssl_prefer_server_ciphers off;",
        "",
        "    client_max_body_size 25m;",
        "",
        "    location / {",
        `        proxy_pass http://127.0.0.1:${a.upstreamPort};`,
        "        proxy_http_version 1.1;",
        "        proxy_set_header Host $host;",
        "        proxy_set_header X-Real-IP $remote_addr;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "        proxy_set_header Upgrade $http_upgrade;",
        "        proxy_set_header Connection $phl_proxbox_connection;",
        "        proxy_buffering off;",
        "        proxy_read_timeout 3600s;",
        "        proxy_send_timeout 3600s;",
        "    }",
        "}",
    );
}
