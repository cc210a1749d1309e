import type { JsonValue, NetboxPlugin } from "../args";
import { lines, managedBy } from "./common";

/** Paths on the app container. The release tree is versioned; what must survive an upgrade lives elsewhere. */
export const NETBOX_PATHS = {
    /** Symlink to the active release (`/opt/netbox-4.4.7`). */
    root: "/opt/netbox",
    venvPython: "/opt/netbox/venv/bin/python3",
    manage: "/opt/netbox/netbox/manage.py",
    etc: "/etc/netbox",
    configuration: "/etc/netbox/configuration.py",
    secrets: "/etc/netbox/secrets.json",
    gunicorn: "/etc/netbox/gunicorn.py",
    localRequirements: "/etc/netbox/local_requirements.txt",
    ensureSuperuser: "/usr/local/lib/proxmox-homelab/netbox-ensure-superuser.py",
    data: "/var/lib/netbox",
    static: "/opt/netbox/netbox/static",
} as const;

/** The release directory for a tag: `v4.4.7` → `/opt/netbox-4.4.7`. */
export function releaseDir(version: string): string {
    return `/opt/netbox-${version.replace(/^v/, "")}`;
}

/**
 * A JSON value as a Python literal. JSON string syntax is valid Python string syntax (the same escapes), so
 * strings go through JSON.stringify; the constants differ.
 */
export function pyLiteral(v: JsonValue, indent = 0): string {
    const pad = " ".repeat(indent);
    const inner = " ".repeat(indent + 4);
    if (v === null) return "None";
    if (v === true) return "True";
    if (v === false) return "False";
    if (typeof v === "number") {
        if (!Number.isFinite(v)) throw new Error(`pyLiteral: ${v} has no Python literal`);
        return String(v);
    }
    if (typeof v === "string") return JSON.stringify(v);
    if (Array.isArray(v)) {
        if (v.length === 0) return "[]";
        return `[\n${v.map((x) => `${inner}${pyLiteral(x, indent + 4)},\n`).join("")}${pad}]`;
    }
    const keys = Object.keys(v);
    if (keys.length === 0) return "{}";
    return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${pyLiteral(v[k], indent + 4)},\n`).join("")}${pad}}`;
}

export interface NetboxConfigurationArgs {
    stack: string;
    /** ALLOWED_HOSTS, the public name first. */
    hosts: string[];
    dbHost: string;
    dbPort?: number;
    dbName: string;
    dbUser: string;
    redisHost: string;
    redisPort?: number;
    plugins: NetboxPlugin[];
    timeZone: string;
}

/**
 * `/etc/netbox/configuration.py` (symlinked into the release tree). No secret is written here: they are read
 * from secrets.json (mode 0640, root:netbox) when NetBox starts. So a change to this file stays readable in a
 * preview, and the same secrets reach gunicorn, the RQ worker, housekeeping and a manual `manage.py` run alike
 * (an EnvironmentFile would reach only the systemd services).
 */
export function renderNetboxConfiguration(a: NetboxConfigurationArgs): string {
    const redis = (database: number): JsonValue => ({
        HOST: a.redisHost,
        PORT: a.redisPort ?? 6379,
        USERNAME: "",
        PASSWORD: "@@redis_password@@",
        DATABASE: database,
        SSL: false,
    });
    const pluginsConfig: { [k: string]: JsonValue } = {};
    for (const p of a.plugins) if (p.config !== undefined) pluginsConfig[p.module] = p.config;
    // Secrets are Python expressions, not literals: placeholders are swapped after rendering the literal.
    const secret = (text: string) =>
        text
            .replaceAll('"@@redis_password@@"', '_SECRETS["redis_password"]')
            .replaceAll('"@@database_password@@"', '_SECRETS["database_password"]');
    return lines(
        managedBy(a.stack),
        "#",
        "# Secrets (database and Valkey passwords, SECRET_KEY) are not in this file: they are read from",
        `# ${NETBOX_PATHS.secrets} (mode 0640, root:netbox). NETBOX_SECRETS_FILE overrides the path (tests).`,
        "import json",
        "import os",
        "",
        `with open(os.environ.get("NETBOX_SECRETS_FILE", "${NETBOX_PATHS.secrets}"), encoding="utf-8") as _f:`,
        "    _SECRETS = json.load(_f)",
        "",
        "# Only the names the proxy serves NetBox under; never '*'.",
        `ALLOWED_HOSTS = ${pyLiteral(a.hosts)}`,
        `CSRF_TRUSTED_ORIGINS = ${pyLiteral(a.hosts.map((h) => `https://${h}`))}`,
        "",
        "# DATABASES replaces the deprecated DATABASE setting (NetBox 4.3+).",
        `DATABASES = ${secret(
            pyLiteral({
                default: {
                    ENGINE: "django.db.backends.postgresql",
                    NAME: a.dbName,
                    USER: a.dbUser,
                    PASSWORD: "@@database_password@@",
                    HOST: a.dbHost,
                    PORT: String(a.dbPort ?? 5432),
                    CONN_MAX_AGE: 300,
                },
            }),
        )}`,
        "",
        "# Valkey: database 0 for the task queues, 1 for caching.",
        `REDIS = ${secret(pyLiteral({ tasks: redis(0), caching: redis(1) }))}`,
        "",
        'SECRET_KEY = _SECRETS["secret_key"]',
        "",
        "# The proxy terminates TLS; cookies are only ever sent over HTTPS.",
        "CSRF_COOKIE_SECURE = True",
        "SESSION_COOKIE_SECURE = True",
        "",
        `TIME_ZONE = ${pyLiteral(a.timeZone)}`,
        "",
        "# Data that must survive an upgrade lives outside the versioned release directory.",
        `MEDIA_ROOT = "${NETBOX_PATHS.data}/media"`,
        `REPORTS_ROOT = "${NETBOX_PATHS.data}/reports"`,
        `SCRIPTS_ROOT = "${NETBOX_PATHS.data}/scripts"`,
        "",
        `PLUGINS = ${pyLiteral(a.plugins.map((p) => p.module))}`,
        "",
        `PLUGINS_CONFIG = ${pyLiteral(pluginsConfig)}`,
    );
}

export interface NetboxSecrets {
    databasePassword: string;
    redisPassword: string;
    secretKey: string;
}

/** `/etc/netbox/secrets.json`. Secret: mode 0640, root:netbox. */
export function renderNetboxSecrets(s: NetboxSecrets): string {
    return (
        JSON.stringify(
            { database_password: s.databasePassword, redis_password: s.redisPassword, secret_key: s.secretKey },
            null,
            4,
        ) + "\n"
    );
}

/** `/etc/netbox/local_requirements.txt`: the plugins, pinned exactly. */
export function renderLocalRequirements(stack: string, plugins: NetboxPlugin[]): string {
    return lines(managedBy(stack), "# NetBox plugins, pinned.", ...plugins.map((p) => `${p.package}==${p.version}`));
}

export interface GunicornArgs {
    stack: string;
    /** The app's DMZ address: the proxy reaches gunicorn there. */
    bindAddress: string;
    /** Default 8001 (NetBox's). */
    port?: number;
    workers: number;
    /** The proxy's DMZ address: the only peer whose X-Forwarded-* headers gunicorn trusts. */
    proxyAddress: string;
}

/** `/etc/netbox/gunicorn.py` (document 000's tuning). */
export function renderGunicornConf(a: GunicornArgs): string {
    return lines(
        managedBy(a.stack),
        "",
        "# On the DMZ, where the proxy reaches it; the backend and the outside cannot.",
        `bind = "${a.bindAddress}:${a.port ?? 8001}"`,
        "",
        "# Document 000: 2-4 workers per core, sync workers, generous timeout, workers recycled now and then.",
        `workers = ${a.workers}`,
        'worker_class = "sync"',
        "timeout = 120",
        "max_requests = 1000",
        "max_requests_jitter = 100",
        "",
        "# Trust X-Forwarded-* only from the proxy.",
        `forwarded_allow_ips = "${a.proxyAddress}"`,
    );
}

/**
 * A small Python script (run with NetBox's venv python) that creates the superuser or brings it in line. The
 * password comes from NETBOX_ADMIN_PASSWORD, never from the command line, and is set only when it differs, so
 * a re-run changes nothing. Not specific to one stack, so it carries no stack name.
 */
export function renderEnsureSuperuserScript(): string {
    return lines(
        '"""Creates the NetBox superuser, or brings it in line with the environment (run by proxmox-homelab).',
        "",
        "NETBOX_ADMIN_USER, NETBOX_ADMIN_EMAIL and NETBOX_ADMIN_PASSWORD come from the environment so that the",
        "password never appears in a command line. Prints created, updated or unchanged.",
        '"""',
        "",
        "import os",
        "import sys",
        "",
        `sys.path.insert(0, "${NETBOX_PATHS.root}/netbox")`,
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netbox.settings")',
        "",
        "import django  # noqa: E402",
        "",
        "django.setup()",
        "",
        "from django.contrib.auth import get_user_model  # noqa: E402",
        "",
        'username = os.environ["NETBOX_ADMIN_USER"]',
        'email = os.environ["NETBOX_ADMIN_EMAIL"]',
        'password = os.environ["NETBOX_ADMIN_PASSWORD"]',
        "",
        "User = get_user_model()",
        'user, created = User.objects.get_or_create(username=username, defaults={"email": email})',
        "changed = created",
        "if user.email != email:",
        "    user.email = email",
        "    changed = True",
        'for flag in ("is_active", "is_staff", "is_superuser"):',
        "    if not getattr(user, flag):",
        "        setattr(user, flag, True)",
        "        changed = True",
        "if not user.check_password(password):",
        "    user.set_password(password)",
        "    changed = True",
        "if changed:",
        "    user.save()",
        'print("created" if created else ("updated" if changed else "unchanged"))',
    );
}
