/**
 * The POSIX sh scripts the stack's Exec resources run inside the containers and on the host. Every value
 * interpolated into a script goes through shellQuote; secrets never appear here at all: they arrive in the
 * environment (Exec `environment`, delivered on stdin) and the scripts pass them on through stdin or the
 * environment, never through argv.
 */
import { shellQuote } from "../../../providers/ssh/quote";
import { lines } from "./common";
import { hostPaths } from "./host";
import { NETBOX_PATHS, releaseDir } from "./netbox";
import { PROXBOX_PATHS } from "./systemd";

const q = shellQuote;

/** Restarts the cluster: listen_addresses and shared_buffers only change on a restart. */
export function renderDbConfigureScript(postgresVersion: number): string {
    return lines(
        "set -eu",
        "# listen_addresses and shared_buffers take effect on a restart only.",
        `systemctl restart ${q(`postgresql@${postgresVersion}-main.service`)}`,
    );
}

export interface DbInitArgs {
    database: string;
    user: string;
}

/**
 * Creates the role and database when missing and (re)sets the password. The password is read by psql itself
 * from NETBOX_DB_PASSWORD (`\getenv`, PostgreSQL ≥ 15) and quoted by psql (`:'var'`), so it is in neither
 * argv nor this text. Names are validated SQL identifiers; they are still quoted for the shell.
 */
export function renderDbInitScript(a: DbInitArgs): string {
    const psql = "runuser -u postgres -- psql -X -v ON_ERROR_STOP=1";
    return lines(
        "set -eu",
        "cd /",
        `if [ "$(${psql} -tA -c ${q(`SELECT 1 FROM pg_roles WHERE rolname = '${a.user}'`)})" != 1 ]; then`,
        `    ${psql} -c ${q(`CREATE ROLE ${a.user} LOGIN`)}`,
        "fi",
        `if [ "$(${psql} -tA -c ${q(`SELECT 1 FROM pg_database WHERE datname = '${a.database}'`)})" != 1 ]; then`,
        `    ${psql} -c ${q(`CREATE DATABASE ${a.database} OWNER ${a.user}`)}`,
        "fi",
        `${psql} -q -d ${q(a.database)} <<'SQL'`,
        "\\getenv netbox_password NETBOX_DB_PASSWORD",
        `ALTER ROLE ${a.user} WITH LOGIN PASSWORD :'netbox_password';`,
        `ALTER DATABASE ${a.database} OWNER TO ${a.user};`,
        "-- PostgreSQL 15+ no longer lets every role create objects in the public schema.",
        `GRANT CREATE ON SCHEMA public TO ${a.user};`,
        "SQL",
    );
}

export interface CacheConfigureArgs {
    bindAddress: string;
    port?: number;
}

/** Restarts Valkey and waits until it answers, authenticated, on the backend address. */
export function renderCacheConfigureScript(a: CacheConfigureArgs): string {
    const port = String(a.port ?? 6379);
    return lines(
        "set -eu",
        "systemctl enable valkey-server.service",
        "systemctl restart valkey-server.service",
        "# valkey-cli reads the password from REDISCLI_AUTH (set by the deploy), not from its command line.",
        "i=0",
        `until [ "$(valkey-cli -h ${q(a.bindAddress)} -p ${q(port)} ping 2>/dev/null)" = PONG ]; do`,
        "    i=$((i + 1))",
        '    if [ "$i" -ge 30 ]; then',
        `        echo ${q(`valkey does not answer on ${a.bindAddress}:${port}`)} >&2`,
        "        exit 1",
        "    fi",
        "    sleep 1",
        "done",
    );
}

/** The netbox account and the directories that outlive a release (before any file is written for NetBox). */
export function renderAppPrepareScript(): string {
    const data = NETBOX_PATHS.data;
    return lines(
        "set -eu",
        "id -u netbox >/dev/null 2>&1 ||",
        `    useradd --system --user-group --home-dir ${NETBOX_PATHS.root} --shell /usr/sbin/nologin netbox`,
        `install -d -o root -g netbox -m 0750 ${NETBOX_PATHS.etc}`,
        `install -d -o netbox -g netbox -m 0750 ${data} ${data}/media ${data}/reports ${data}/scripts`,
    );
}

export interface AppInstallArgs {
    /** Release tag, `v4.4.7`. */
    version: string;
    /** Tarball URL (the proxy, if any, comes from the environment). */
    url: string;
}

/**
 * Downloads and unpacks a release into its own directory with its own venv, installs the pinned plugins, links
 * the configuration in and switches /opt/netbox to it. A finished release is marked, so a re-run (a plugin
 * change) only installs plugins; a half-finished one is started over.
 */
export function renderAppInstallScript(a: AppInstallArgs): string {
    return lines(
        "set -eu",
        "umask 022",
        `release=${q(releaseDir(a.version))}`,
        `url=${q(a.url)}`,
        'if [ ! -f "$release/.proxmox-homelab-release" ]; then',
        '    rm -rf "$release"',
        '    mkdir -p "$release"',
        "    tmp=$(mktemp -d)",
        "    trap 'rm -rf \"$tmp\"' EXIT",
        '    if ! curl -fsSL --retry 3 -o "$tmp/netbox.tar.gz" "$url"; then',
        '        echo "cannot download the NetBox release from $url (netbox.releaseUrl; downloads.httpProxy)" >&2',
        "        exit 1",
        "    fi",
        '    tar -xzf "$tmp/netbox.tar.gz" -C "$release" --strip-components=1',
        '    python3 -m venv "$release/venv"',
        '    "$release/venv/bin/pip" install --no-cache-dir -r "$release/requirements.txt"',
        '    printf \'%s\\n\' "$url" >"$release/.proxmox-homelab-release"',
        "fi",
        `"$release/venv/bin/pip" install --no-cache-dir -r ${NETBOX_PATHS.localRequirements}`,
        `ln -sfn ${NETBOX_PATHS.configuration} "$release/netbox/netbox/configuration.py"`,
        `ln -sfn "$release" ${NETBOX_PATHS.root}`,
    );
}

/** NetBox's upgrade steps that touch the database (as its upgrade.sh runs them). */
export function renderAppMigrateScript(): string {
    return lines(
        "set -eu",
        `cd ${NETBOX_PATHS.root}/netbox`,
        `python=${NETBOX_PATHS.venvPython}`,
        '"$python" manage.py migrate --no-input',
        '"$python" manage.py trace_paths --no-input',
        '"$python" manage.py remove_stale_contenttypes --no-input',
        '"$python" manage.py reindex --lazy',
        '"$python" manage.py clearsessions',
    );
}

/** Collects the static files into the release tree, where the app's static server reads them. */
export function renderAppCollectstaticScript(): string {
    return lines(
        "set -eu",
        "umask 022",
        `cd ${NETBOX_PATHS.root}/netbox`,
        `${NETBOX_PATHS.venvPython} manage.py collectstatic --no-input`,
    );
}

/** Runs the ensure-superuser script; NETBOX_ADMIN_USER/_EMAIL/_PASSWORD come from the environment. */
export function renderAppSuperuserScript(): string {
    return lines(
        "set -eu",
        `cd ${NETBOX_PATHS.root}/netbox`,
        `${NETBOX_PATHS.venvPython} ${NETBOX_PATHS.ensureSuperuser}`,
    );
}

/** Loads the units and (re)starts NetBox and its worker; the housekeeping timer runs daily. */
export function renderAppServicesScript(): string {
    return lines(
        "set -eu",
        "systemctl daemon-reload",
        "systemctl enable netbox.service netbox-rq.service netbox-housekeeping.timer",
        "systemctl restart netbox.service netbox-rq.service",
        "systemctl start netbox-housekeeping.timer",
    );
}

/** Enables our nginx sites (and only ours), checks the configuration, then reloads. */
export function renderNginxEnableScript(sites: string[], cacheDirs: string[] = []): string {
    return lines(
        "set -eu",
        // Debian's nginx ships no /var/cache/nginx: a proxy_cache_path under it fails `nginx -t` until it exists.
        ...cacheDirs.map((d) => `install -d -m 0700 -o www-data -g www-data ${q(d)}`),
        "rm -f /etc/nginx/sites-enabled/default",
        ...sites.map((s) => `ln -sfn ${q(`/etc/nginx/sites-available/${s}`)} ${q(`/etc/nginx/sites-enabled/${s}`)}`),
        "nginx -t -q",
        "systemctl enable nginx.service",
        "systemctl reload-or-restart nginx.service",
    );
}

/** Adds the homelab CA to the container's system store (curl, and requests via REQUESTS_CA_BUNDLE). */
export function renderTrustCaScript(): string {
    return lines("set -eu", "update-ca-certificates");
}

/** Applies the host's sysctl file and firewall chains now, and enables the boot unit that reloads them. */
export function renderHostNetworkScript(stack: string): string {
    const p = hostPaths(stack);
    return lines(
        "set -eu",
        `sysctl -q -p ${q(p.sysctl)}`,
        "systemctl daemon-reload",
        `systemctl enable ${q(p.unitName)}`,
        "# Apply now (idempotent), then let systemd own it: stop removes the chains, boot loads them.",
        `${q(p.script)} start`,
        `systemctl start ${q(p.unitName)}`,
    );
}

/** Removes the chains and the boot unit. ip_forward is left on: other bridges on the host may rely on it. */
export function renderHostNetworkDeleteScript(stack: string): string {
    const p = hostPaths(stack);
    return lines(
        "set -eu",
        `systemctl disable ${q(p.unitName)} 2>/dev/null || true`,
        `systemctl stop ${q(p.unitName)} 2>/dev/null || true`,
        `if [ -x ${q(p.script)} ]; then ${q(p.script)} stop; fi`,
        "systemctl daemon-reload",
    );
}

/** The proxbox account and directories, and proxbox-api in its own venv (pinned). */
export function renderProxboxInstallScript(apiVersion: string): string {
    const venv = PROXBOX_PATHS.venv;
    return lines(
        "set -eu",
        "umask 022",
        "id -u proxbox >/dev/null 2>&1 ||",
        `    useradd --system --user-group --home-dir ${PROXBOX_PATHS.data} --shell /usr/sbin/nologin proxbox`,
        `install -d -o proxbox -g proxbox -m 0750 ${PROXBOX_PATHS.data}`,
        `install -d -o root -g proxbox -m 0750 ${PROXBOX_PATHS.etc}`,
        `[ -x ${venv}/bin/python3 ] || python3 -m venv ${venv}`,
        `${venv}/bin/pip install --no-cache-dir ${q(`proxbox-api==${apiVersion}`)}`,
    );
}

export function renderProxboxServiceScript(): string {
    return lines(
        "set -eu",
        "systemctl daemon-reload",
        "systemctl enable proxbox-api.service",
        "systemctl restart proxbox-api.service",
    );
}

/**
 * Registers the first API key (PROXBOX_API_KEY, from the environment) through nginx's TLS front. The key goes to
 * curl on stdin (printf is a shell builtin), never in argv. Bootstrap happens once per database: when it was
 * consumed earlier, the key must already work, which a GET with it proves.
 */
export function renderProxboxRegisterKeyScript(tlsPort: number): string {
    const base = `https://127.0.0.1:${tlsPort}`;
    return lines(
        "set -eu",
        'case "$PROXBOX_API_KEY" in',
        "'' | *[!A-Za-z0-9]*)",
        '    echo "PROXBOX_API_KEY must be alphanumeric" >&2',
        "    exit 1",
        "    ;;",
        "esac",
        `base=${q(base)}`,
        "i=0",
        'until curl -fsS -o /dev/null "$base/health"; do',
        "    i=$((i + 1))",
        '    if [ "$i" -ge 60 ]; then',
        '        echo "proxbox-api does not answer at $base/health" >&2',
        "        exit 1",
        "    fi",
        "    sleep 2",
        "done",
        'if printf \'{"api_key": "%s", "label": "proxmox-homelab"}\' "$PROXBOX_API_KEY" |',
        "    curl -fsS -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @- \"$base/auth/register-key\"; then",
        '    echo "registered"',
        'elif printf \'X-Proxbox-API-Key: %s\\n\' "$PROXBOX_API_KEY" | curl -fsS -o /dev/null -H @- "$base/auth/keys"; then',
        '    echo "already registered"',
        "else",
        '    echo "proxbox-api refuses the key: its first key was registered by someone else (add ours with POST /auth/keys)" >&2',
        "    exit 1",
        "fi",
    );
}
