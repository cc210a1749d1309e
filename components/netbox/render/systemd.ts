import { lines, managedBy } from "./common";
import { NETBOX_PATHS } from "./netbox";

/**
 * NetBox ships these units in contrib/; ours do the same with our paths (gunicorn.py under /etc/netbox) and
 * with the system CA bundle for outgoing HTTPS (plugins such as netbox-proxbox call services signed by the
 * homelab CA, which the app container trusts; requests would otherwise use certifi's bundle only).
 */
const NETBOX_SERVICE_COMMON = [
    "User=netbox",
    "Group=netbox",
    `WorkingDirectory=${NETBOX_PATHS.root}`,
    "Environment=REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
];

export function renderNetboxService(stack: string): string {
    return lines(
        managedBy(stack),
        "[Unit]",
        "Description=NetBox WSGI service (gunicorn)",
        "Documentation=https://docs.netbox.dev/",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        ...NETBOX_SERVICE_COMMON,
        `ExecStart=${NETBOX_PATHS.root}/venv/bin/gunicorn --pythonpath ${NETBOX_PATHS.root}/netbox --config ${NETBOX_PATHS.gunicorn} netbox.wsgi`,
        "# gunicorn reloads its workers (and with them the configuration) on SIGHUP, without dropping requests.",
        "ExecReload=/bin/kill -s HUP $MAINPID",
        "Restart=on-failure",
        "RestartSec=30",
        "PrivateTmp=true",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    );
}

export function renderNetboxRqService(stack: string): string {
    return lines(
        managedBy(stack),
        "[Unit]",
        "Description=NetBox request queue worker",
        "Documentation=https://docs.netbox.dev/",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        ...NETBOX_SERVICE_COMMON,
        `ExecStart=${NETBOX_PATHS.venvPython} ${NETBOX_PATHS.manage} rqworker high default low`,
        "Restart=on-failure",
        "RestartSec=30",
        "PrivateTmp=true",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    );
}

/** Started by the timer only, hence no [Install] section. */
export function renderNetboxHousekeepingService(stack: string): string {
    return lines(
        managedBy(stack),
        "[Unit]",
        "Description=NetBox housekeeping (expired sessions, old changelog and job records)",
        "Documentation=https://docs.netbox.dev/en/stable/administration/housekeeping/",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        ...NETBOX_SERVICE_COMMON,
        `ExecStart=${NETBOX_PATHS.venvPython} ${NETBOX_PATHS.manage} housekeeping`,
    );
}

export function renderNetboxHousekeepingTimer(stack: string): string {
    return lines(
        managedBy(stack),
        "[Unit]",
        "Description=Daily NetBox housekeeping",
        "Documentation=https://docs.netbox.dev/en/stable/administration/housekeeping/",
        "",
        "[Timer]",
        "OnCalendar=daily",
        "AccuracySec=1h",
        "# Catch up after the container was down at the scheduled time.",
        "Persistent=true",
        "",
        "[Install]",
        "WantedBy=timers.target",
    );
}

/** Paths of the proxbox-api install on the app container. */
export const PROXBOX_PATHS = {
    venv: "/opt/proxbox-api/venv",
    etc: "/etc/proxbox-api",
    env: "/etc/proxbox-api/proxbox-api.env",
    data: "/var/lib/proxbox-api",
} as const;

export interface ProxboxServiceArgs {
    stack: string;
    port: number;
    workers: number;
}

/**
 * proxbox-api under uvicorn, bound to 127.0.0.1 (nginx terminates TLS in front of it). Started through the
 * venv's python (`-m uvicorn`) so the unit depends on one path that always exists in the venv.
 */
export function renderProxboxService(a: ProxboxServiceArgs): string {
    return lines(
        managedBy(a.stack),
        "[Unit]",
        "Description=Proxbox API (proxbox-api under uvicorn)",
        "Documentation=https://github.com/emersonfelipesp/proxbox-api",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "User=proxbox",
        "Group=proxbox",
        `WorkingDirectory=${PROXBOX_PATHS.data}`,
        "# Secrets (the Fernet key): mode 0600, read by systemd before it drops privileges.",
        `EnvironmentFile=${PROXBOX_PATHS.env}`,
        `ExecStart=${PROXBOX_PATHS.venv}/bin/python3 -m uvicorn proxbox_api.main:app --host 127.0.0.1 --port ${a.port} --workers ${a.workers} --proxy-headers --forwarded-allow-ips 127.0.0.1`,
        "Restart=on-failure",
        "RestartSec=10",
        "NoNewPrivileges=true",
        "PrivateTmp=true",
        "ProtectSystem=strict",
        "ProtectHome=true",
        `ReadWritePaths=${PROXBOX_PATHS.data}`,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    );
}

export interface HostFirewallUnitArgs {
    stack: string;
    /** The script the unit runs (`start` / `stop`). */
    script: string;
}

/**
 * Loads the stack's host chains at boot, before networking (as netfilter-persistent does), so forwarding never
 * runs without the isolation rules; stopping it removes them.
 */
export function renderHostFirewallUnit(a: HostFirewallUnitArgs): string {
    return lines(
        managedBy(a.stack),
        "[Unit]",
        `Description=proxmox-homelab host NAT and forwarding rules for NetboxStack "${a.stack}"`,
        "DefaultDependencies=no",
        "Wants=network-pre.target systemd-modules-load.service local-fs.target",
        "Before=network-pre.target shutdown.target",
        "After=systemd-modules-load.service local-fs.target",
        "Conflicts=shutdown.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        `ExecStart=${a.script} start`,
        `ExecReload=${a.script} start`,
        `ExecStop=${a.script} stop`,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    );
}
