/**
 * Exact text of every file and script NetboxStack renders, and the memory-derived tuning numbers. The files
 * are checked by their daemons in tests/daemons/netbox.test.ts; here we pin what we write, byte for byte.
 */
import assert from "node:assert/strict";
import { DEFAULT_NETBOX_PLUGINS } from "../../components/netbox/args";
import * as r from "../../components/netbox/render/index";

/** Lines joined as the renderers join them: `\n` between, one final newline. */
const text = (...ls: string[]): string => ls.join("\n") + "\n";
const KEY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJK-_0123=";

describe("NetboxStack memory-derived tuning", () => {
    it("PostgreSQL: the document's numbers at 4 GiB, scaled for other sizes", () => {
        assert.deepEqual(r.postgresTuning(4096), {
            sharedBuffersMb: 1024,
            effectiveCacheSizeMb: 3072,
            workMemMb: 16,
            maintenanceWorkMemMb: 256,
            maxConnections: 100,
        });
        assert.deepEqual(r.postgresTuning(2048), {
            sharedBuffersMb: 512,
            effectiveCacheSizeMb: 1536,
            workMemMb: 8,
            maintenanceWorkMemMb: 128,
            maxConnections: 100,
        });
        assert.deepEqual(r.postgresTuning(512), {
            sharedBuffersMb: 128,
            effectiveCacheSizeMb: 384,
            workMemMb: 4,
            maintenanceWorkMemMb: 64,
            maxConnections: 100,
        });
        assert.deepEqual(r.postgresTuning(65536), {
            sharedBuffersMb: 16384,
            effectiveCacheSizeMb: 49152,
            workMemMb: 256,
            maintenanceWorkMemMb: 2048,
            maxConnections: 100,
        });
        assert.deepEqual(r.postgresTuning(1000), {
            sharedBuffersMb: 250,
            effectiveCacheSizeMb: 750,
            workMemMb: 4,
            maintenanceWorkMemMb: 64,
            maxConnections: 100,
        });
    });

    it("Valkey: maxmemory is 75 % of the container (768 of the document's 1024)", () => {
        assert.equal(r.valkeyMaxMemoryMb(1024), 768);
        assert.equal(r.valkeyMaxMemoryMb(256), 192);
        assert.equal(r.valkeyMaxMemoryMb(2048), 1536);
        assert.equal(r.valkeyMaxMemoryMb(1000), 750);
    });
});

describe("NetboxStack renderers (exact text)", () => {
    it("renderPostgresConf: the document's db (2048 MiB)", () => {
        assert.equal(
            r.renderPostgresConf({ stack: "netbox", listenAddress: "10.100.0.20", memoryMiB: 2048 }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "",
                "# The backend network only: the app reaches PostgreSQL there, and nothing else has a reason to. LXC",
                "# configures the address before init starts, so it exists when PostgreSQL binds at boot.",
                "listen_addresses = '10.100.0.20'",
                "port = 5432",
                "max_connections = 100",
                "",
                "# Memory, sized from the container's 2048 MiB (document 000: 25 % and 75 % of RAM).",
                "shared_buffers = 512MB",
                "effective_cache_size = 1536MB",
                "work_mem = 8MB",
                "maintenance_work_mem = 128MB",
                "",
                "# Passwords are stored as SCRAM verifiers; pg_hba.conf accepts nothing weaker over the network.",
                "password_encryption = scram-sha-256",
            ),
        );
    });

    it("renderPgHba", () => {
        assert.equal(
            r.renderPgHba({ stack: "netbox", database: "netbox", user: "netbox", appAddress: "10.100.0.10" }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "# TYPE  DATABASE        USER            ADDRESS                 METHOD",
                "",
                "# Administration over the Unix socket, as Debian ships it (runuser -u postgres -- psql).",
                "local   all             postgres                                peer",
                "local   all             all                                     peer",
                "",
                "# NetBox: its own database and role, from the app container's backend address only, SCRAM only.",
                "host    netbox          netbox          10.100.0.10/32          scram-sha-256",
            ),
        );
    });

    it("renderValkeyConf: the document's cache (1024 MiB)", () => {
        assert.equal(
            r.renderValkeyConf({ stack: "netbox", bindAddress: "10.100.0.30", memoryMiB: 1024 }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "",
                "# The backend network only. Protected mode stays on and every client must authenticate (NetBox sends the",
                "# password from its REDIS settings).",
                "bind 10.100.0.30",
                "port 6379",
                "protected-mode yes",
                "tcp-keepalive 300",
                "timeout 0",
                "",
                "daemonize no",
                "pidfile /run/valkey/valkey-server.pid",
                "loglevel notice",
                'logfile ""',
                "",
                "# NetBox uses database 0 for its task queues and 1 for caching.",
                "databases 16",
                "",
                "# 75 % of the container's 1024 MiB; least recently used keys go first (document 000).",
                "maxmemory 768mb",
                "maxmemory-policy allkeys-lru",
                "",
                "# RDB snapshots (document 000).",
                "save 900 1",
                "save 300 10",
                "save 60 10000",
                "dbfilename dump.rdb",
                "dir /var/lib/valkey",
                "",
                "include /etc/valkey/valkey-auth.conf",
            ),
        );
    });

    it("renderValkeyAuth", () => {
        assert.equal(
            r.renderValkeyAuth("netbox", "Secret123"),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "# Secret: mode 0640, root:valkey.",
                "requirepass Secret123",
            ),
        );
    });

    it("renderNetboxConfiguration: defaults", () => {
        assert.equal(
            r.renderNetboxConfiguration({
                stack: "netbox",
                hosts: ["netbox.home.arpa"],
                dbHost: "10.100.0.20",
                dbName: "netbox",
                dbUser: "netbox",
                redisHost: "10.100.0.30",
                plugins: [...DEFAULT_NETBOX_PLUGINS],
                timeZone: "UTC",
            }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "#",
                "# Secrets (database and Valkey passwords, SECRET_KEY) are not in this file: they are read from",
                "# /etc/netbox/secrets.json (mode 0640, root:netbox). NETBOX_SECRETS_FILE overrides the path (tests).",
                "import json",
                "import os",
                "",
                'with open(os.environ.get("NETBOX_SECRETS_FILE", "/etc/netbox/secrets.json"), encoding="utf-8") as _f:',
                "    _SECRETS = json.load(_f)",
                "",
                "# Only the names the proxy serves NetBox under; never '*'.",
                "ALLOWED_HOSTS = [",
                '    "netbox.home.arpa",',
                "]",
                "CSRF_TRUSTED_ORIGINS = [",
                '    "https://netbox.home.arpa",',
                "]",
                "",
                "# DATABASES replaces the deprecated DATABASE setting (NetBox 4.3+).",
                "DATABASES = {",
                '    "default": {',
                '        "ENGINE": "django.db.backends.postgresql",',
                '        "NAME": "netbox",',
                '        "USER": "netbox",',
                '        "PASSWORD": _SECRETS["database_password"],',
                '        "HOST": "10.100.0.20",',
                '        "PORT": "5432",',
                '        "CONN_MAX_AGE": 300,',
                "    },",
                "}",
                "",
                "# Valkey: database 0 for the task queues, 1 for caching.",
                "REDIS = {",
                '    "tasks": {',
                '        "HOST": "10.100.0.30",',
                '        "PORT": 6379,',
                '        "USERNAME": "",',
                '        "PASSWORD": _SECRETS["redis_password"],',
                '        "DATABASE": 0,',
                '        "SSL": False,',
                "    },",
                '    "caching": {',
                '        "HOST": "10.100.0.30",',
                '        "PORT": 6379,',
                '        "USERNAME": "",',
                '        "PASSWORD": _SECRETS["redis_password"],',
                '        "DATABASE": 1,',
                '        "SSL": False,',
                "    },",
                "}",
                "",
                'SECRET_KEY = _SECRETS["secret_key"]',
                "",
                "# The proxy terminates TLS; cookies are only ever sent over HTTPS.",
                "CSRF_COOKIE_SECURE = True",
                "SESSION_COOKIE_SECURE = True",
                "",
                'TIME_ZONE = "UTC"',
                "",
                "# Data that must survive an upgrade lives outside the versioned release directory.",
                'MEDIA_ROOT = "/var/lib/netbox/media"',
                'REPORTS_ROOT = "/var/lib/netbox/reports"',
                'SCRIPTS_ROOT = "/var/lib/netbox/scripts"',
                "",
                "PLUGINS = [",
                '    "netbox_dns",',
                '    "netbox_secrets",',
                '    "netbox_acls",',
                '    "netbox_bgp",',
                '    "netbox_inventory",',
                '    "netbox_floorplan",',
                '    "netbox_reorder_rack",',
                "]",
                "",
                "PLUGINS_CONFIG = {}",
            ),
        );
    });

    it("renderNetboxSecrets", () => {
        assert.equal(
            r.renderNetboxSecrets({ databasePassword: 'db"pw', redisPassword: "rpw", secretKey: "k!@#" }),
            text(
                "{",
                '    "database_password": "db\\"pw",',
                '    "redis_password": "rpw",',
                '    "secret_key": "k!@#"',
                "}",
            ),
        );
    });

    it("renderLocalRequirements", () => {
        assert.equal(
            r.renderLocalRequirements("netbox", [...DEFAULT_NETBOX_PLUGINS]),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "# NetBox plugins, pinned.",
                "netbox-plugin-dns==1.4.4",
                "netbox-secrets==2.4.1",
                "netbox-acls==1.9.1",
                "netbox-bgp==0.17.0",
                "netbox-inventory==2.4.1",
                "netbox-floorplan-plugin==0.8.0",
                "netbox-reorder-rack==1.1.4",
            ),
        );
    });

    it("renderGunicornConf", () => {
        assert.equal(
            r.renderGunicornConf({
                stack: "netbox",
                bindAddress: "10.100.1.10",
                workers: 4,
                proxyAddress: "10.100.1.40",
            }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "",
                "# On the DMZ, where the proxy reaches it; the backend and the outside cannot.",
                'bind = "10.100.1.10:8001"',
                "",
                "# Document 000: 2-4 workers per core, sync workers, generous timeout, workers recycled now and then.",
                "workers = 4",
                'worker_class = "sync"',
                "timeout = 120",
                "max_requests = 1000",
                "max_requests_jitter = 100",
                "",
                "# Trust X-Forwarded-* only from the proxy.",
                'forwarded_allow_ips = "10.100.1.40"',
            ),
        );
    });

    it("renderEnsureSuperuserScript", () => {
        assert.equal(
            r.renderEnsureSuperuserScript(),
            text(
                '"""Creates the NetBox superuser, or brings it in line with the environment (run by proxmox-homelab).',
                "",
                "NETBOX_ADMIN_USER, NETBOX_ADMIN_EMAIL and NETBOX_ADMIN_PASSWORD come from the environment so that the",
                "password never appears in a command line. Prints created, updated or unchanged.",
                '"""',
                "",
                "import os",
                "import sys",
                "",
                'sys.path.insert(0, "/opt/netbox/netbox")',
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
            ),
        );
    });

    it("renderNetboxService", () => {
        assert.equal(
            r.renderNetboxService("netbox"),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "[Unit]",
                "Description=NetBox WSGI service (gunicorn)",
                "Documentation=https://docs.netbox.dev/",
                "After=network-online.target",
                "Wants=network-online.target",
                "",
                "[Service]",
                "Type=simple",
                "User=netbox",
                "Group=netbox",
                "WorkingDirectory=/opt/netbox",
                "Environment=REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
                "ExecStart=/opt/netbox/venv/bin/gunicorn --pythonpath /opt/netbox/netbox --config /etc/netbox/gunicorn.py netbox.wsgi",
                "# gunicorn reloads its workers (and with them the configuration) on SIGHUP, without dropping requests.",
                "ExecReload=/bin/kill -s HUP $MAINPID",
                "Restart=on-failure",
                "RestartSec=30",
                "PrivateTmp=true",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
            ),
        );
    });

    it("renderNetboxRqService", () => {
        assert.equal(
            r.renderNetboxRqService("netbox"),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "[Unit]",
                "Description=NetBox request queue worker",
                "Documentation=https://docs.netbox.dev/",
                "After=network-online.target",
                "Wants=network-online.target",
                "",
                "[Service]",
                "Type=simple",
                "User=netbox",
                "Group=netbox",
                "WorkingDirectory=/opt/netbox",
                "Environment=REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
                "ExecStart=/opt/netbox/venv/bin/python3 /opt/netbox/netbox/manage.py rqworker high default low",
                "Restart=on-failure",
                "RestartSec=30",
                "PrivateTmp=true",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
            ),
        );
    });

    it("renderNetboxHousekeepingService", () => {
        assert.equal(
            r.renderNetboxHousekeepingService("netbox"),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "[Unit]",
                "Description=NetBox housekeeping (expired sessions, old changelog and job records)",
                "Documentation=https://docs.netbox.dev/en/stable/administration/housekeeping/",
                "After=network-online.target",
                "Wants=network-online.target",
                "",
                "[Service]",
                "Type=oneshot",
                "User=netbox",
                "Group=netbox",
                "WorkingDirectory=/opt/netbox",
                "Environment=REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
                "ExecStart=/opt/netbox/venv/bin/python3 /opt/netbox/netbox/manage.py housekeeping",
            ),
        );
    });

    it("renderNetboxHousekeepingTimer", () => {
        assert.equal(
            r.renderNetboxHousekeepingTimer("netbox"),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
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
            ),
        );
    });

    it("renderProxboxService", () => {
        assert.equal(
            r.renderProxboxService({ stack: "netbox", port: 8800, workers: 1 }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
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
                "WorkingDirectory=/var/lib/proxbox-api",
                "# Secrets (the Fernet key): mode 0600, read by systemd before it drops privileges.",
                "EnvironmentFile=/etc/proxbox-api/proxbox-api.env",
                "ExecStart=/opt/proxbox-api/venv/bin/python3 -m uvicorn proxbox_api.main:app --host 127.0.0.1 --port 8800 --workers 1 --proxy-headers --forwarded-allow-ips 127.0.0.1",
                "Restart=on-failure",
                "RestartSec=10",
                "NoNewPrivileges=true",
                "PrivateTmp=true",
                "ProtectSystem=strict",
                "ProtectHome=true",
                "ReadWritePaths=/var/lib/proxbox-api",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
            ),
        );
    });

    it("renderHostFirewallUnit", () => {
        assert.equal(
            r.renderHostFirewallUnit({ stack: "netbox", script: "/usr/local/sbin/proxmox-homelab-netbox-firewall" }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "[Unit]",
                'Description=proxmox-homelab host NAT and forwarding rules for NetboxStack "netbox"',
                "DefaultDependencies=no",
                "Wants=network-pre.target systemd-modules-load.service local-fs.target",
                "Before=network-pre.target shutdown.target",
                "After=systemd-modules-load.service local-fs.target",
                "Conflicts=shutdown.target",
                "",
                "[Service]",
                "Type=oneshot",
                "RemainAfterExit=yes",
                "ExecStart=/usr/local/sbin/proxmox-homelab-netbox-firewall start",
                "ExecReload=/usr/local/sbin/proxmox-homelab-netbox-firewall start",
                "ExecStop=/usr/local/sbin/proxmox-homelab-netbox-firewall stop",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
            ),
        );
    });

    it("renderProxySite: Debian 13 nginx (http2 directive)", () => {
        assert.equal(
            r.renderProxySite({
                stack: "netbox",
                serverNames: ["netbox.home.arpa", "nb.example.org"],
                appAddress: "10.100.1.10",
                certPath: "/etc/nginx/ssl/netbox.home.arpa.crt",
                keyPath: "/etc/nginx/ssl/netbox.home.arpa.key",
            }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "",
                "proxy_cache_path /var/cache/nginx/netbox-static levels=1:2 keys_zone=netbox_static:10m max_size=512m inactive=7d use_temp_path=off;",
                "",
                "server {",
                "    listen 80;",
                "    listen [::]:80;",
                "    server_name netbox.home.arpa nb.example.org;",
                "",
                "    return 301 https://netbox.home.arpa$request_uri;",
                "}",
                "",
                "server {",
                "    listen 443 ssl;",
                "    listen [::]:443 ssl;",
                "    http2 on;",
                "    server_name netbox.home.arpa nb.example.org;",
                "",
                "    ssl_certificate /etc/nginx/ssl/netbox.home.arpa.crt;",
                "    ssl_certificate_key /etc/nginx/ssl/netbox.home.arpa.key;",
                "    ssl_protocols TLSv1.2 TLSv1.3;",
                "    ssl_prefer_server_ciphers off;",
                "    ssl_session_cache shared:netbox_tls:10m;",
                "    ssl_session_timeout 1d;",
                "    ssl_session_tickets off;",
                "",
                "    client_max_body_size 25m;",
                "",
                "    location /static/ {",
                "        proxy_pass http://10.100.1.10:8002;",
                "        proxy_set_header Host $host;",
                "        proxy_set_header X-Real-IP $remote_addr;",
                "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                "        proxy_set_header X-Forwarded-Proto $scheme;",
                "        proxy_set_header X-Forwarded-Host $host;",
                "        proxy_connect_timeout 300s;",
                "        proxy_send_timeout 300s;",
                "        proxy_read_timeout 300s;",
                "        send_timeout 300s;",
                "        proxy_cache netbox_static;",
                "        proxy_cache_valid 200 1d;",
                "        proxy_cache_use_stale error timeout updating;",
                "        add_header X-Cache-Status $upstream_cache_status;",
                "        expires 1d;",
                "    }",
                "",
                "    location / {",
                "        proxy_pass http://10.100.1.10:8001;",
                "        proxy_set_header Host $host;",
                "        proxy_set_header X-Real-IP $remote_addr;",
                "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                "        proxy_set_header X-Forwarded-Proto $scheme;",
                "        proxy_set_header X-Forwarded-Host $host;",
                "        proxy_connect_timeout 300s;",
                "        proxy_send_timeout 300s;",
                "        proxy_read_timeout 300s;",
                "        send_timeout 300s;",
                "    }",
                "}",
            ),
        );
    });

    it("renderAppStaticSite", () => {
        assert.equal(
            r.renderAppStaticSite({ stack: "netbox", listenAddress: "10.100.1.10", proxyAddress: "10.100.1.40" }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "#",
                "# gunicorn does not serve /static/. This server hands the files collectstatic wrote to the proxy, which",
                "# caches them; nobody else may ask.",
                "server {",
                "    listen 10.100.1.10:8002;",
                "    server_name _;",
                "",
                "    allow 10.100.1.40;",
                "    deny all;",
                "",
                "    location /static/ {",
                "        alias /opt/netbox/netbox/static/;",
                "    }",
                "",
                "    location / {",
                "        return 404;",
                "    }",
                "}",
            ),
        );
    });

    it("renderProxboxSite", () => {
        assert.equal(
            r.renderProxboxSite({
                stack: "netbox",
                upstreamPort: 8800,
                tlsPort: 8443,
                certPath: r.PROXBOX_TLS_PATHS.cert,
                keyPath: r.PROXBOX_TLS_PATHS.key,
            }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "",
                "map $http_upgrade $phl_proxbox_connection {",
                "    default upgrade;",
                "    '' close;",
                "}",
                "",
                "server {",
                "    listen 127.0.0.1:8443 ssl;",
                "    server_name localhost;",
                "",
                "    ssl_certificate /etc/nginx/ssl/proxbox-api.crt;",
                "    ssl_certificate_key /etc/nginx/ssl/proxbox-api.key;",
                "    ssl_protocols TLSv1.2 TLSv1.3;",
                "    ssl_prefer_server_ciphers off;",
                "",
                "    client_max_body_size 25m;",
                "",
                "    location / {",
                "        proxy_pass http://127.0.0.1:8800;",
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
            ),
        );
    });

    it("renderProxboxEnv", () => {
        assert.equal(
            r.renderProxboxEnv({ stack: "netbox", encryptionKey: KEY }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "# Secret: mode 0600. Read by systemd (EnvironmentFile=) before it starts proxbox-api.",
                "PROXBOX_BIND_HOST=127.0.0.1",
                "PROXBOX_DATABASE_PATH=/var/lib/proxbox-api/database.db",
                "# X-Forwarded-For is honoured from the local nginx only.",
                "PROXBOX_TRUSTED_PROXIES=127.0.0.1/32",
                "PROXBOX_ENCRYPTION_KEY=abcdefghijklmnopqrstuvwxyzABCDEFGHIJK-_0123=",
            ),
        );
    });

    it("renderHostSysctl", () => {
        assert.equal(
            r.renderHostSysctl("netbox"),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "# The host routes and NATs the backend and DMZ subnets.",
                "net.ipv4.ip_forward = 1",
                "# Valkey forks for its RDB snapshots; without overcommit the fork can fail under memory pressure (document",
                "# 000). vm.* is not namespaced, so it is set here, on the host.",
                "vm.overcommit_memory = 1",
            ),
        );
    });

    it("renderHostFirewallRules: with a monitoring source", () => {
        assert.equal(
            r.renderHostFirewallRules({
                stack: "netbox",
                external: "vmbr0",
                backend: { name: "vmbr1", cidr: "10.100.0.0/24" },
                dmz: { name: "vmbr2", cidr: "10.100.1.0/24" },
                monitoringSources: ["192.168.1.5/32"],
            }),
            text(
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "# Loaded with iptables-restore --noflush: only the chains below are touched.",
                "*nat",
                ":PHL-NETBOX-NAT - [0:0]",
                "-F PHL-NETBOX-NAT",
                "-A PHL-NETBOX-NAT -s 10.100.0.0/24 -o vmbr0 -j MASQUERADE",
                "-A PHL-NETBOX-NAT -s 10.100.1.0/24 -o vmbr0 -j MASQUERADE",
                "COMMIT",
                "*filter",
                ":PHL-NETBOX-FWD - [0:0]",
                "-F PHL-NETBOX-FWD",
                "-A PHL-NETBOX-FWD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A PHL-NETBOX-FWD -i vmbr1 -o vmbr1 -j ACCEPT",
                "-A PHL-NETBOX-FWD -i vmbr2 -o vmbr2 -j ACCEPT",
                "-A PHL-NETBOX-FWD -s 192.168.1.5/32 -o vmbr1 -p tcp -m tcp --dport 9100 -j ACCEPT",
                "-A PHL-NETBOX-FWD -s 192.168.1.5/32 -o vmbr2 -p tcp -m tcp --dport 9100 -j ACCEPT",
                "-A PHL-NETBOX-FWD -s 10.100.0.0/24 -i vmbr1 -o vmbr0 -j ACCEPT",
                "-A PHL-NETBOX-FWD -s 10.100.1.0/24 -i vmbr2 -o vmbr0 -j ACCEPT",
                "-A PHL-NETBOX-FWD -o vmbr1 -j DROP",
                "-A PHL-NETBOX-FWD -o vmbr2 -j DROP",
                "-A PHL-NETBOX-FWD -i vmbr1 -j DROP",
                "-A PHL-NETBOX-FWD -i vmbr2 -j DROP",
                "COMMIT",
            ),
        );
    });

    it("renderHostFirewallScript", () => {
        assert.equal(
            r.renderHostFirewallScript("netbox"),
            text(
                "#!/bin/sh",
                '# Managed by proxmox-homelab (NetboxStack "netbox"); local edits are overwritten on the next deploy.',
                "# start: load this stack's chains and hook them in once; stop: unhook and delete them.",
                "# The host's other rules are never touched.",
                "set -eu",
                "rules=/etc/proxmox-homelab/netbox-firewall.rules",
                'case "${1:-}" in',
                "start)",
                '    iptables-restore --noflush "$rules"',
                "    iptables -C FORWARD -j PHL-NETBOX-FWD 2>/dev/null || iptables -I FORWARD 1 -j PHL-NETBOX-FWD",
                "    iptables -t nat -C POSTROUTING -j PHL-NETBOX-NAT 2>/dev/null || iptables -t nat -A POSTROUTING -j PHL-NETBOX-NAT",
                "    ;;",
                "stop)",
                "    while iptables -C FORWARD -j PHL-NETBOX-FWD 2>/dev/null; do iptables -D FORWARD -j PHL-NETBOX-FWD; done",
                "    while iptables -t nat -C POSTROUTING -j PHL-NETBOX-NAT 2>/dev/null; do iptables -t nat -D POSTROUTING -j PHL-NETBOX-NAT; done",
                "    if iptables -S PHL-NETBOX-FWD >/dev/null 2>&1; then iptables -F PHL-NETBOX-FWD; iptables -X PHL-NETBOX-FWD; fi",
                "    if iptables -t nat -S PHL-NETBOX-NAT >/dev/null 2>&1; then iptables -t nat -F PHL-NETBOX-NAT; iptables -t nat -X PHL-NETBOX-NAT; fi",
                "    ;;",
                "*)",
                '    echo "usage: $0 start|stop" >&2',
                "    exit 2",
                "    ;;",
                "esac",
            ),
        );
    });

    it("renderDbConfigureScript", () => {
        assert.equal(
            r.renderDbConfigureScript(17),
            text(
                "set -eu",
                "# listen_addresses and shared_buffers take effect on a restart only.",
                "systemctl restart 'postgresql@17-main.service'",
            ),
        );
    });

    it("renderDbInitScript", () => {
        assert.equal(
            r.renderDbInitScript({ database: "netbox", user: "netbox" }),
            text(
                "set -eu",
                "cd /",
                "if [ \"$(runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -tA -c 'SELECT 1 FROM pg_roles WHERE rolname = '\\''netbox'\\''')\" != 1 ]; then",
                "    runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -c 'CREATE ROLE netbox LOGIN'",
                "fi",
                "if [ \"$(runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -tA -c 'SELECT 1 FROM pg_database WHERE datname = '\\''netbox'\\''')\" != 1 ]; then",
                "    runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -c 'CREATE DATABASE netbox OWNER netbox'",
                "fi",
                "runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -q -d 'netbox' <<'SQL'",
                "\\getenv netbox_password NETBOX_DB_PASSWORD",
                "ALTER ROLE netbox WITH LOGIN PASSWORD :'netbox_password';",
                "ALTER DATABASE netbox OWNER TO netbox;",
                "-- PostgreSQL 15+ no longer lets every role create objects in the public schema.",
                "GRANT CREATE ON SCHEMA public TO netbox;",
                "SQL",
            ),
        );
    });

    it("renderCacheConfigureScript", () => {
        assert.equal(
            r.renderCacheConfigureScript({ bindAddress: "10.100.0.30" }),
            text(
                "set -eu",
                "systemctl enable valkey-server.service",
                "systemctl restart valkey-server.service",
                "# valkey-cli reads the password from REDISCLI_AUTH (set by the deploy), not from its command line.",
                "i=0",
                "until [ \"$(valkey-cli -h '10.100.0.30' -p '6379' ping 2>/dev/null)\" = PONG ]; do",
                "    i=$((i + 1))",
                '    if [ "$i" -ge 30 ]; then',
                "        echo 'valkey does not answer on 10.100.0.30:6379' >&2",
                "        exit 1",
                "    fi",
                "    sleep 1",
                "done",
            ),
        );
    });

    it("renderAppPrepareScript", () => {
        assert.equal(
            r.renderAppPrepareScript(),
            text(
                "set -eu",
                "id -u netbox >/dev/null 2>&1 ||",
                "    useradd --system --user-group --home-dir /opt/netbox --shell /usr/sbin/nologin netbox",
                "install -d -o root -g netbox -m 0750 /etc/netbox",
                "install -d -o netbox -g netbox -m 0750 /var/lib/netbox /var/lib/netbox/media /var/lib/netbox/reports /var/lib/netbox/scripts",
            ),
        );
    });

    it("renderAppInstallScript", () => {
        assert.equal(
            r.renderAppInstallScript({ version: "v4.4.7", url: "https://mirror.example/it's/v4.4.7.tar.gz" }),
            text(
                "set -eu",
                "umask 022",
                "release='/opt/netbox-4.4.7'",
                "url='https://mirror.example/it'\\''s/v4.4.7.tar.gz'",
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
                '"$release/venv/bin/pip" install --no-cache-dir -r /etc/netbox/local_requirements.txt',
                'ln -sfn /etc/netbox/configuration.py "$release/netbox/netbox/configuration.py"',
                'ln -sfn "$release" /opt/netbox',
            ),
        );
    });

    it("renderAppMigrateScript", () => {
        assert.equal(
            r.renderAppMigrateScript(),
            text(
                "set -eu",
                "cd /opt/netbox/netbox",
                "python=/opt/netbox/venv/bin/python3",
                '"$python" manage.py migrate --no-input',
                '"$python" manage.py trace_paths --no-input',
                '"$python" manage.py remove_stale_contenttypes --no-input',
                '"$python" manage.py reindex --lazy',
                '"$python" manage.py clearsessions',
            ),
        );
    });

    it("renderAppCollectstaticScript", () => {
        assert.equal(
            r.renderAppCollectstaticScript(),
            text(
                "set -eu",
                "umask 022",
                "cd /opt/netbox/netbox",
                "/opt/netbox/venv/bin/python3 manage.py collectstatic --no-input",
            ),
        );
    });

    it("renderAppSuperuserScript", () => {
        assert.equal(
            r.renderAppSuperuserScript(),
            text(
                "set -eu",
                "cd /opt/netbox/netbox",
                "/opt/netbox/venv/bin/python3 /usr/local/lib/proxmox-homelab/netbox-ensure-superuser.py",
            ),
        );
    });

    it("renderAppServicesScript", () => {
        assert.equal(
            r.renderAppServicesScript(),
            text(
                "set -eu",
                "systemctl daemon-reload",
                "systemctl enable netbox.service netbox-rq.service netbox-housekeeping.timer",
                "systemctl restart netbox.service netbox-rq.service",
                "systemctl start netbox-housekeeping.timer",
            ),
        );
    });

    it("renderNginxEnableScript", () => {
        assert.equal(
            r.renderNginxEnableScript(["netbox-static", "proxbox-api"]),
            text(
                "set -eu",
                "rm -f /etc/nginx/sites-enabled/default",
                "ln -sfn '/etc/nginx/sites-available/netbox-static' '/etc/nginx/sites-enabled/netbox-static'",
                "ln -sfn '/etc/nginx/sites-available/proxbox-api' '/etc/nginx/sites-enabled/proxbox-api'",
                "nginx -t -q",
                "systemctl enable nginx.service",
                "systemctl reload-or-restart nginx.service",
            ),
        );
        // The proxy's: its static cache's directory first (Debian's nginx has no /var/cache/nginx).
        assert.equal(
            r.renderNginxEnableScript(["netbox"], [r.PROXY_STATIC_CACHE_DIR]),
            text(
                "set -eu",
                "install -d -m 0700 -o www-data -g www-data '/var/cache/nginx/netbox-static'",
                "rm -f /etc/nginx/sites-enabled/default",
                "ln -sfn '/etc/nginx/sites-available/netbox' '/etc/nginx/sites-enabled/netbox'",
                "nginx -t -q",
                "systemctl enable nginx.service",
                "systemctl reload-or-restart nginx.service",
            ),
        );
    });

    it("renderTrustCaScript", () => {
        assert.equal(r.renderTrustCaScript(), text("set -eu", "update-ca-certificates"));
    });

    it("renderHostNetworkScript", () => {
        assert.equal(
            r.renderHostNetworkScript("netbox"),
            text(
                "set -eu",
                "sysctl -q -p '/etc/sysctl.d/80-proxmox-homelab-netbox.conf'",
                "systemctl daemon-reload",
                "systemctl enable 'proxmox-homelab-netbox-firewall.service'",
                "# Apply now (idempotent), then let systemd own it: stop removes the chains, boot loads them.",
                "'/usr/local/sbin/proxmox-homelab-netbox-firewall' start",
                "systemctl start 'proxmox-homelab-netbox-firewall.service'",
            ),
        );
    });

    it("renderHostNetworkDeleteScript", () => {
        assert.equal(
            r.renderHostNetworkDeleteScript("netbox"),
            text(
                "set -eu",
                "systemctl disable 'proxmox-homelab-netbox-firewall.service' 2>/dev/null || true",
                "systemctl stop 'proxmox-homelab-netbox-firewall.service' 2>/dev/null || true",
                "if [ -x '/usr/local/sbin/proxmox-homelab-netbox-firewall' ]; then '/usr/local/sbin/proxmox-homelab-netbox-firewall' stop; fi",
                "systemctl daemon-reload",
            ),
        );
    });

    it("renderProxboxInstallScript", () => {
        assert.equal(
            r.renderProxboxInstallScript("0.0.11"),
            text(
                "set -eu",
                "umask 022",
                "id -u proxbox >/dev/null 2>&1 ||",
                "    useradd --system --user-group --home-dir /var/lib/proxbox-api --shell /usr/sbin/nologin proxbox",
                "install -d -o proxbox -g proxbox -m 0750 /var/lib/proxbox-api",
                "install -d -o root -g proxbox -m 0750 /etc/proxbox-api",
                "[ -x /opt/proxbox-api/venv/bin/python3 ] || python3 -m venv /opt/proxbox-api/venv",
                "/opt/proxbox-api/venv/bin/pip install --no-cache-dir 'proxbox-api==0.0.11'",
            ),
        );
    });

    it("renderProxboxServiceScript", () => {
        assert.equal(
            r.renderProxboxServiceScript(),
            text(
                "set -eu",
                "systemctl daemon-reload",
                "systemctl enable proxbox-api.service",
                "systemctl restart proxbox-api.service",
            ),
        );
    });

    it("renderProxboxRegisterKeyScript", () => {
        assert.equal(
            r.renderProxboxRegisterKeyScript(8443),
            text(
                "set -eu",
                'case "$PROXBOX_API_KEY" in',
                "'' | *[!A-Za-z0-9]*)",
                '    echo "PROXBOX_API_KEY must be alphanumeric" >&2',
                "    exit 1",
                "    ;;",
                "esac",
                "base='https://127.0.0.1:8443'",
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
            ),
        );
    });

    it("renderPostgresConf follows the container's memory", () => {
        const conf = r.renderPostgresConf({ stack: "nb", listenAddress: "192.168.50.20", port: 5433, memoryMiB: 4096 });
        assert.equal(
            conf.split("\n").slice(4, 14).join("\n"),
            [
                "listen_addresses = '192.168.50.20'",
                "port = 5433",
                "max_connections = 100",
                "",
                "# Memory, sized from the container's 4096 MiB (document 000: 25 % and 75 % of RAM).",
                "shared_buffers = 1024MB",
                "effective_cache_size = 3072MB",
                "work_mem = 16MB",
                "maintenance_work_mem = 256MB",
                "",
            ].join("\n"),
        );
    });

    it("renderValkeyConf takes the auth file and data directory it is given", () => {
        const conf = r.renderValkeyConf({
            stack: "nb",
            bindAddress: "10.0.0.3",
            port: 6380,
            memoryMiB: 2048,
            authFile: "/tmp/auth.conf",
            dataDir: "/tmp/data",
        });
        for (const line of [
            "bind 10.0.0.3",
            "port 6380",
            "maxmemory 1536mb",
            "dir /tmp/data",
            "include /tmp/auth.conf",
        ]) {
            assert.ok(conf.split("\n").includes(line), line);
        }
    });

    it("renderValkeyAuth refuses a password that would need quoting", () => {
        assert.throws(() => r.renderValkeyAuth("netbox", "with space"), /alphanumeric/);
        assert.throws(() => r.renderValkeyAuth("netbox", 'q"uote'), /alphanumeric/);
        assert.throws(() => r.renderValkeyAuth("netbox", ""), /alphanumeric/);
    });

    it("renderNetboxConfiguration: extra names, plugin configuration, no secret literal", () => {
        const conf = r.renderNetboxConfiguration({
            stack: "netbox",
            hosts: ["netbox.home.arpa", "nb.example.org"],
            dbHost: "10.100.0.20",
            dbPort: 5433,
            dbName: "nbdb",
            dbUser: "nbuser",
            redisHost: "10.100.0.30",
            redisPort: 6380,
            plugins: [
                { package: "netbox-bgp", version: "0.17.0", module: "netbox_bgp", config: { top_level_menu: true } },
                { package: "x", version: "1", module: "x_mod", config: { a: [1, null, 'it\'s "q"\n'], b: {} } },
                { package: "y", version: "2", module: "y_mod" },
            ],
            timeZone: "Europe/Berlin",
        });
        const between = (from: string, to: string) => conf.slice(conf.indexOf(from), conf.indexOf(to));
        assert.equal(
            between("ALLOWED_HOSTS", "\n\n# DATABASES"),
            text(
                "ALLOWED_HOSTS = [",
                '    "netbox.home.arpa",',
                '    "nb.example.org",',
                "]",
                "CSRF_TRUSTED_ORIGINS = [",
                '    "https://netbox.home.arpa",',
                '    "https://nb.example.org",',
                "]",
            ).slice(0, -1),
        );
        assert.ok(conf.includes('        "NAME": "nbdb",\n        "USER": "nbuser",\n'));
        assert.ok(conf.includes('        "PORT": "5433",\n'));
        assert.equal(conf.split('"PORT": 6380,').length, 3);
        assert.ok(conf.includes('TIME_ZONE = "Europe/Berlin"\n'));
        assert.equal(
            conf.slice(conf.indexOf("PLUGINS = [")),
            text(
                "PLUGINS = [",
                '    "netbox_bgp",',
                '    "x_mod",',
                '    "y_mod",',
                "]",
                "",
                "PLUGINS_CONFIG = {",
                '    "netbox_bgp": {',
                '        "top_level_menu": True,',
                "    },",
                '    "x_mod": {',
                '        "a": [',
                "            1,",
                "            None,",
                '            "it\'s \\"q\\"\\n",',
                "        ],",
                '        "b": {},',
                "    },",
                "}",
            ),
        );
        assert.doesNotMatch(conf, /@@/);
    });

    it("pyLiteral writes Python constants and refuses what Python cannot hold", () => {
        assert.equal(r.pyLiteral(null), "None");
        assert.equal(r.pyLiteral(true), "True");
        assert.equal(r.pyLiteral(false), "False");
        assert.equal(r.pyLiteral(-1.5), "-1.5");
        assert.equal(r.pyLiteral('a"b\\c\u2603'), '"a\\"b\\\\c\u2603"');
        assert.equal(r.pyLiteral([]), "[]");
        assert.equal(r.pyLiteral({}), "{}");
        assert.throws(() => r.pyLiteral(Number.NaN), /no Python literal/);
    });

    it("renderProxySite for nginx older than 1.25.1 (listen ... http2)", () => {
        const site = r.renderProxySite({
            stack: "netbox",
            serverNames: ["netbox.home.arpa"],
            appAddress: "10.100.1.10",
            appPort: 9001,
            staticPort: 9002,
            certPath: "/c.pem",
            keyPath: "/k.pem",
            http2: "listen",
            cacheDir: "/tmp/cache",
        });
        const ls = site.split("\n");
        assert.equal(
            ls[2],
            "proxy_cache_path /tmp/cache levels=1:2 keys_zone=netbox_static:10m max_size=512m inactive=7d use_temp_path=off;",
        );
        assert.deepEqual(ls.slice(12, 16), [
            "server {",
            "    listen 443 ssl http2;",
            "    listen [::]:443 ssl http2;",
            "    server_name netbox.home.arpa;",
        ]);
        assert.ok(ls.includes("        proxy_pass http://10.100.1.10:9002;"));
        assert.ok(ls.includes("        proxy_pass http://10.100.1.10:9001;"));
        assert.ok(!site.includes("http2 on;"));
    });

    it("proxyTlsPaths and the proxbox paths", () => {
        assert.deepEqual(r.proxyTlsPaths("netbox.home.arpa"), {
            cert: "/etc/nginx/ssl/netbox.home.arpa.crt",
            key: "/etc/nginx/ssl/netbox.home.arpa.key",
        });
        assert.deepEqual(r.PROXBOX_TLS_PATHS, {
            cert: "/etc/nginx/ssl/proxbox-api.crt",
            key: "/etc/nginx/ssl/proxbox-api.key",
        });
    });

    it("renderProxboxEnv refuses anything but a Fernet key", () => {
        assert.throws(() => r.renderProxboxEnv({ stack: "netbox", encryptionKey: "short=" }), /Fernet/);
        assert.throws(
            () =>
                r.renderProxboxEnv({ stack: "netbox", encryptionKey: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJK+/0123=" }),
            /Fernet/,
        );
    });

    it("fernetKeyFromBase64 switches to the URL-safe alphabet and keeps the padding", () => {
        const b64 = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 251) % 256)).toString("base64");
        assert.match(b64, /[+/]/);
        const key = r.fernetKeyFromBase64(b64);
        assert.equal(key.length, 44);
        assert.match(key, /^[A-Za-z0-9_-]{43}=$/);
        assert.deepEqual(Buffer.from(key, "base64url"), Buffer.from(b64, "base64"));
    });

    it("renderHostFirewallRules without monitoring sources", () => {
        const rules = r.renderHostFirewallRules({
            stack: "lab",
            external: "vmbr0",
            backend: { name: "nbback", cidr: "172.16.0.0/24" },
            dmz: { name: "nbdmz", cidr: "172.16.1.0/24" },
            monitoringSources: [],
        });
        assert.equal(
            rules,
            text(
                '# Managed by proxmox-homelab (NetboxStack "lab"); local edits are overwritten on the next deploy.',
                "# Loaded with iptables-restore --noflush: only the chains below are touched.",
                "*nat",
                ":PHL-LAB-NAT - [0:0]",
                "-F PHL-LAB-NAT",
                "-A PHL-LAB-NAT -s 172.16.0.0/24 -o vmbr0 -j MASQUERADE",
                "-A PHL-LAB-NAT -s 172.16.1.0/24 -o vmbr0 -j MASQUERADE",
                "COMMIT",
                "*filter",
                ":PHL-LAB-FWD - [0:0]",
                "-F PHL-LAB-FWD",
                "-A PHL-LAB-FWD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A PHL-LAB-FWD -i nbback -o nbback -j ACCEPT",
                "-A PHL-LAB-FWD -i nbdmz -o nbdmz -j ACCEPT",
                "-A PHL-LAB-FWD -s 172.16.0.0/24 -i nbback -o vmbr0 -j ACCEPT",
                "-A PHL-LAB-FWD -s 172.16.1.0/24 -i nbdmz -o vmbr0 -j ACCEPT",
                "-A PHL-LAB-FWD -o nbback -j DROP",
                "-A PHL-LAB-FWD -o nbdmz -j DROP",
                "-A PHL-LAB-FWD -i nbback -j DROP",
                "-A PHL-LAB-FWD -i nbdmz -j DROP",
                "COMMIT",
            ),
        );
    });

    it("hostChainNames stay within iptables' 28 characters; hostPaths are derived from the stack name", () => {
        assert.deepEqual(r.hostChainNames("netbox"), { forward: "PHL-NETBOX-FWD", nat: "PHL-NETBOX-NAT" });
        assert.deepEqual(r.hostChainNames("my lab.netbox"), {
            forward: "PHL-MY-LAB-NETBOX-FWD",
            nat: "PHL-MY-LAB-NETBOX-NAT",
        });
        const long = r.hostChainNames("a-very-long-component-name-indeed");
        assert.deepEqual(long, { forward: "PHL-A-VERY-LONG-COMPONEN-FWD", nat: "PHL-A-VERY-LONG-COMPONEN-NAT" });
        assert.ok(long.forward.length <= 28);
        assert.deepEqual(r.hostChainNames("---"), { forward: "PHL-STACK-FWD", nat: "PHL-STACK-NAT" });
        assert.deepEqual(r.hostPaths("Net Box"), {
            sysctl: "/etc/sysctl.d/80-proxmox-homelab-net-box.conf",
            rules: "/etc/proxmox-homelab/net-box-firewall.rules",
            script: "/usr/local/sbin/proxmox-homelab-net-box-firewall",
            unit: "/etc/systemd/system/proxmox-homelab-net-box-firewall.service",
            unitName: "proxmox-homelab-net-box-firewall.service",
        });
    });

    it("releaseDir is versioned", () => {
        assert.equal(r.releaseDir("v4.4.7"), "/opt/netbox-4.4.7");
        assert.equal(r.releaseDir("v4.5.10"), "/opt/netbox-4.5.10");
    });

    it("scripts quote what they interpolate", () => {
        const s = r.renderAppInstallScript({ version: "v4.4.7", url: "https://x/$(id)`id`'q'" });
        assert.ok(s.includes("url='https://x/$(id)`id`'\\''q'\\'''\n"));
        assert.ok(
            r
                .renderProxboxInstallScript("1.0;rm -rf /")
                .includes("install --no-cache-dir 'proxbox-api==1.0;rm -rf /'\n"),
        );
    });
});
