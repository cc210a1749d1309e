import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Acl, ApiToken, Bridge, Exec, File, LxcNetwork, Role, Template, User } from "../../providers/index";
import { HomelabCa, HomelabContainer, MonitoringTargets, ServerCert, proxyEnvironment } from "../common/index";
import { NetboxStackArgs, ResolvedNetboxStack, resolveNetboxArgs } from "./args";
import * as r from "./render/index";

/** What the stack reports about one container. */
export interface NetboxContainerInfo {
    vmid: number;
    hostname: string;
    /** IPv4 address (no prefix) by interface name, as PVE reports them (DHCP included). */
    addresses: Record<string, string | undefined>;
}

export interface NetboxContainers {
    app: NetboxContainerInfo;
    db: NetboxContainerInfo;
    cache: NetboxContainerInfo;
    proxy: NetboxContainerInfo;
}

/** Proxbox details for configuring the plugin's endpoints in NetBox (the secrets are separate outputs). */
export interface NetboxProxboxInfo {
    /** proxbox-api behind nginx TLS, on the app container's loopback (the plugin's FastAPI endpoint). */
    apiUrl: string;
    /** The PVE token proxbox-api syncs with: `proxbox@pve!netbox`. */
    tokenId: string;
}

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/**
 * NetBox on four LXCs (app, PostgreSQL, Valkey, nginx) on a three-tier network, per document 000, with the
 * Proxbox option of documents 002/003. See NetboxStackArgs for every setting and its default.
 *
 * Order: host bridges and routing → containers → database → cache → NetBox (install, migrate, static files,
 * superuser, services) → proxy. Every step is an Exec whose triggers are exactly its inputs, so a deploy that
 * changes nothing runs nothing.
 */
export class NetboxStack extends pulumi.ComponentResource {
    /** `https://<publicName>/`. */
    public readonly url: pulumi.Output<string>;
    /** PEM of the CA that signed the proxy's certificate: what browsers must trust. */
    public readonly caCertPem: pulumi.Output<string>;
    public readonly adminUser: pulumi.Output<string>;
    /** Secret. */
    public readonly adminPassword: pulumi.Output<string>;
    public readonly containers: pulumi.Output<NetboxContainers>;
    /** node_exporter in every container and an HTTPS probe of the public URL. */
    public readonly monitoringTargets: pulumi.Output<MonitoringTargets>;
    /** Undefined unless the proxbox option is on. */
    public readonly proxbox: pulumi.Output<NetboxProxboxInfo | undefined>;
    /** The first proxbox-api key (secret); enter it in the plugin's FastAPI endpoint. Undefined without proxbox. */
    public readonly proxboxApiKey: pulumi.Output<string | undefined>;
    /** The PVE token secret for proxbox-api's Proxmox endpoint (secret). Undefined without proxbox. */
    public readonly proxboxTokenSecret: pulumi.Output<string | undefined>;

    constructor(name: string, args: NetboxStackArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        // Every argument is checked before anything, this component included, is registered.
        const cfg = resolveNetboxArgs(name, args);
        super("proxmox-homelab:netbox:NetboxStack", name, {}, opts);
        const parent = { parent: this };
        const node = cfg.node;
        const onHost = (id: string, path: string, content: pulumi.Input<string>, mode = "0644") =>
            new File(`${name}-${id}`, { node, path, content, mode }, parent);

        // ---- host: bridges, forwarding, NAT and isolation ----
        const hp = r.hostPaths(name);
        const bridges: Bridge[] = [];
        const bridgeFor = (key: "backend" | "dmz"): pulumi.Input<string> => {
            const b = cfg.network[key];
            if (!cfg.network.manageBridges) return b.name;
            const res = new Bridge(
                `${name}-${key}`,
                {
                    node,
                    name: b.name,
                    cidr: `${b.hostAddress}/${b.prefix}`,
                    autostart: true,
                    comments: `proxmox-homelab NetboxStack ${name}: ${key}`,
                },
                parent,
            );
            bridges.push(res);
            return res.name;
        };
        const backendBridge = bridgeFor("backend");
        const dmzBridge = bridgeFor("dmz");
        const hostFiles = [
            onHost("host-sysctl", hp.sysctl, r.renderHostSysctl(name)),
            onHost(
                "host-firewall-rules",
                hp.rules,
                r.renderHostFirewallRules({
                    stack: name,
                    external: cfg.network.external,
                    backend: cfg.network.backend,
                    dmz: cfg.network.dmz,
                    monitoringSources: cfg.network.monitoringSources,
                }),
            ),
            onHost("host-firewall-script", hp.script, r.renderHostFirewallScript(name), "0755"),
            onHost("host-firewall-unit", hp.unit, r.renderHostFirewallUnit({ stack: name, script: hp.script })),
        ];
        const hostScript = r.renderHostNetworkScript(name);
        const hostNetwork = new Exec(
            `${name}-host-network`,
            {
                node,
                create: hostScript,
                delete: r.renderHostNetworkDeleteScript(name),
                triggers: [hostScript, ...hostFiles.map((f) => f.sha256)],
            },
            { parent: this, dependsOn: [...bridges, ...hostFiles] },
        );
        // A NIC's bridge is usable once the bridge exists and the host routes and NATs for it; taking the
        // bridge name from both makes every container that uses it wait for both.
        const ready = (bridge: pulumi.Input<string>) => pulumi.all([bridge, hostNetwork.id]).apply(([b]) => b);
        const backendReady = ready(backendBridge);
        const dmzReady = ready(dmzBridge);

        // ---- secrets ----
        const password = (id: string, length: number) =>
            new random.RandomPassword(
                `${name}-${id}`,
                { length, special: false, minLower: 1, minUpper: 1, minNumeric: 1 },
                parent,
            );
        // `result` is a secret output of RandomPassword already; wrapping it says so where it is used too.
        const dbPassword = pulumi.secret(password("db-password", 32).result);
        const cachePassword = pulumi.secret(password("cache-password", 32).result);
        const adminPassword = pulumi.secret(password("admin-password", 24).result);
        // Django's own generator uses this alphabet; ≥ 50 characters as NetBox requires.
        const secretKey = pulumi.secret(
            new random.RandomPassword(
                `${name}-secret-key`,
                { length: 64, special: true, overrideSpecial: "!@#$%^&*(-_=+)" },
                parent,
            ).result,
        );
        const hashOf = (s: pulumi.Output<string>) => pulumi.secret(s.apply(sha256));

        // ---- TLS ----
        const userCert = cfg.tls.certPem !== undefined;
        const ca =
            cfg.tls.ca ??
            (!userCert || cfg.proxbox.enabled
                ? new HomelabCa(`${name}-ca`, { commonName: `${name} homelab CA` }, parent)
                : undefined);
        let proxyCertPem: pulumi.Output<string>;
        let proxyKeyPem: pulumi.Output<string>;
        if (userCert) {
            proxyCertPem = pulumi.output(cfg.tls.certPem!);
            proxyKeyPem = pulumi.secret(cfg.tls.keyPem!);
            this.caCertPem = pulumi.output(cfg.tls.caCertPem ?? cfg.tls.certPem!);
        } else {
            const cert = new ServerCert(
                `${name}-proxy-cert`,
                { ca: ca!, commonName: cfg.publicName, dnsNames: [cfg.publicName, ...cfg.extraNames] },
                parent,
            );
            proxyCertPem = cert.fullChainPem;
            proxyKeyPem = cert.keyPem;
            this.caCertPem = ca!.certPem;
        }

        // ---- template and containers ----
        const ostemplate =
            cfg.template ??
            new Template(`${name}-template`, { node, storage: cfg.templateStorage, template: cfg.templateName }, parent)
                .volid;
        const tag = name.toLowerCase().replace(/[^a-z0-9_-]+/g, "-");
        const nic = (
            ifname: string,
            bridge: pulumi.Input<string>,
            address: string,
            prefix: number,
            gw?: string,
        ): LxcNetwork => ({ name: ifname, bridge, ip: `${address}/${prefix}`, ...(gw ? { gw } : {}) });
        const backend = cfg.network.backend;
        const dmz = cfg.network.dmz;
        const container = (
            role: "app" | "db" | "cache" | "proxy",
            networks: LxcNetwork[],
            packages: string[],
            pip = false,
        ) => {
            const c = cfg[role];
            return new HomelabContainer(
                `${name}-${role}`,
                {
                    node,
                    vmid: c.vmid,
                    hostname: c.hostname,
                    ostemplate,
                    os: "debian",
                    cores: c.cores,
                    memory: c.memory,
                    swap: c.swap,
                    diskGiB: c.diskGiB,
                    storage: cfg.storage,
                    networks,
                    unprivileged: true,
                    // Debian 13's systemd needs nesting in an unprivileged container (PVE warns without it).
                    features: { nesting: true },
                    nameserver: cfg.nameserver,
                    tags: [tag],
                    description: `proxmox-homelab NetboxStack "${name}": ${role}`,
                    downloads: cfg.downloads,
                    packages,
                    nodeExporter: cfg.nodeExporter,
                    pip,
                },
                parent,
            );
        };
        const dbCt = container(
            "db",
            [nic("eth0", backendReady, cfg.db.backendAddress, backend.prefix, backend.hostAddress)],
            ["postgresql"],
        );
        const cacheCt = container(
            "cache",
            [nic("eth0", backendReady, cfg.cache.backendAddress, backend.prefix, backend.hostAddress)],
            ["valkey-server"],
        );
        const appCt = container(
            "app",
            [
                nic("eth0", backendReady, cfg.app.backendAddress, backend.prefix, backend.hostAddress),
                nic("eth1", dmzReady, cfg.app.dmzAddress, dmz.prefix),
            ],
            [
                ...["python3", "python3-venv", "python3-dev", "build-essential", "libxml2-dev", "libxslt1-dev"],
                ...["libffi-dev", "libpq-dev", "libssl-dev", "zlib1g-dev", "curl", "nginx"],
            ],
            true,
        );
        const proxyCt = container(
            "proxy",
            [
                {
                    name: "eth0",
                    bridge: cfg.network.external,
                    ip: cfg.proxy.externalIp,
                    ...(cfg.proxy.externalGateway ? { gw: cfg.proxy.externalGateway } : {}),
                },
                nic("eth1", dmzReady, cfg.proxy.dmzAddress, dmz.prefix),
            ],
            ["nginx"],
        );

        const inCt = (ct: HomelabContainer) => ({ node, vmid: ct.vmid });
        const file = (
            ct: HomelabContainer,
            id: string,
            path: string,
            content: pulumi.Input<string>,
            mode: string,
            owner: string,
            group: string,
            dependsOn: pulumi.Resource[],
        ) =>
            new File(
                `${name}-${id}`,
                { ...inCt(ct), path, content, mode, owner, group },
                { parent: this, dependsOn: [ct.ready, ...dependsOn] },
            );
        const exec = (
            ct: HomelabContainer | undefined,
            id: string,
            script: string,
            triggers: pulumi.Input<unknown>[],
            dependsOn: pulumi.Resource[],
            extra: { environment?: pulumi.Input<Record<string, pulumi.Input<string>>>; timeoutSeconds?: number } = {},
        ) =>
            new Exec(
                `${name}-${id}`,
                { ...(ct ? inCt(ct) : { node }), create: script, triggers: [script, ...triggers], ...extra },
                { parent: this, dependsOn: ct ? [ct.ready, ...dependsOn] : dependsOn },
            );

        // ---- database ----
        const pgDir = `/etc/postgresql/${cfg.postgresVersion}/main`;
        const dbConf = file(
            dbCt,
            "db-conf",
            `${pgDir}/conf.d/50-netbox.conf`,
            r.renderPostgresConf({ stack: name, listenAddress: cfg.db.backendAddress, memoryMiB: cfg.db.memory }),
            "0644",
            "postgres",
            "postgres",
            [],
        );
        const dbHba = file(
            dbCt,
            "db-hba",
            `${pgDir}/pg_hba.conf`,
            r.renderPgHba({
                stack: name,
                database: cfg.database.name,
                user: cfg.database.user,
                appAddress: cfg.app.backendAddress,
            }),
            "0640",
            "postgres",
            "postgres",
            [],
        );
        const dbConfigure = exec(
            dbCt,
            "db-configure",
            r.renderDbConfigureScript(cfg.postgresVersion),
            [dbConf.sha256, dbHba.sha256],
            [dbConf, dbHba],
        );
        const dbInit = exec(
            dbCt,
            "db-init",
            r.renderDbInitScript({ database: cfg.database.name, user: cfg.database.user }),
            [hashOf(dbPassword)],
            [dbConfigure],
            { environment: { NETBOX_DB_PASSWORD: dbPassword } },
        );

        // ---- cache ----
        const cacheConf = file(
            cacheCt,
            "cache-conf",
            "/etc/valkey/valkey.conf",
            r.renderValkeyConf({ stack: name, bindAddress: cfg.cache.backendAddress, memoryMiB: cfg.cache.memory }),
            "0640",
            "root",
            "valkey",
            [],
        );
        const cacheAuth = file(
            cacheCt,
            "cache-auth",
            r.VALKEY_AUTH_FILE,
            pulumi.secret(cachePassword.apply((p) => r.renderValkeyAuth(name, p))),
            "0640",
            "root",
            "valkey",
            [],
        );
        const cacheConfigure = exec(
            cacheCt,
            "cache-configure",
            r.renderCacheConfigureScript({ bindAddress: cfg.cache.backendAddress }),
            [cacheConf.sha256, cacheAuth.sha256],
            [cacheConf, cacheAuth],
            { environment: { REDISCLI_AUTH: cachePassword, VALKEYCLI_AUTH: cachePassword } },
        );

        // ---- NetBox ----
        const P = r.NETBOX_PATHS;
        const appPrepare = exec(appCt, "app-prepare", r.renderAppPrepareScript(), [], []);
        const appFile = (id: string, path: string, content: pulumi.Input<string>, mode = "0644", group = "root") =>
            file(appCt, id, path, content, mode, "root", group, [appPrepare]);
        const hosts = [cfg.publicName, ...cfg.extraNames];
        const configuration = appFile(
            "app-configuration",
            P.configuration,
            r.renderNetboxConfiguration({
                stack: name,
                hosts,
                dbHost: cfg.db.backendAddress,
                dbName: cfg.database.name,
                dbUser: cfg.database.user,
                redisHost: cfg.cache.backendAddress,
                plugins: cfg.plugins,
                timeZone: cfg.timeZone,
            }),
            "0640",
            "netbox",
        );
        const secrets = appFile(
            "app-secrets",
            P.secrets,
            pulumi.secret(
                pulumi
                    .all([dbPassword, cachePassword, secretKey])
                    .apply(([databasePassword, redisPassword, key]) =>
                        r.renderNetboxSecrets({ databasePassword, redisPassword, secretKey: key }),
                    ),
            ),
            "0640",
            "netbox",
        );
        const gunicorn = appFile(
            "app-gunicorn",
            P.gunicorn,
            r.renderGunicornConf({
                stack: name,
                bindAddress: cfg.app.dmzAddress,
                workers: cfg.app.gunicornWorkers,
                proxyAddress: cfg.proxy.dmzAddress,
            }),
            "0640",
            "netbox",
        );
        const localRequirements = appFile(
            "app-local-requirements",
            P.localRequirements,
            r.renderLocalRequirements(name, cfg.plugins),
        );
        const ensureSuperuser = appFile("app-ensure-superuser", P.ensureSuperuser, r.renderEnsureSuperuserScript());
        const units = [
            appFile("app-unit-netbox", "/etc/systemd/system/netbox.service", r.renderNetboxService(name)),
            appFile("app-unit-netbox-rq", "/etc/systemd/system/netbox-rq.service", r.renderNetboxRqService(name)),
            appFile(
                "app-unit-housekeeping",
                "/etc/systemd/system/netbox-housekeeping.service",
                r.renderNetboxHousekeepingService(name),
            ),
            appFile(
                "app-unit-housekeeping-timer",
                "/etc/systemd/system/netbox-housekeeping.timer",
                r.renderNetboxHousekeepingTimer(name),
            ),
        ];
        const pluginSpec = cfg.plugins.map((p) => `${p.package}==${p.version}:${p.module}`).join(",");
        const downloadEnv = proxyEnvironment(cfg.downloads);

        const appInstall = exec(
            appCt,
            "app-install",
            r.renderAppInstallScript({ version: cfg.netboxVersion, url: cfg.releaseUrl }),
            [localRequirements.sha256],
            [appPrepare, localRequirements, configuration],
            { environment: downloadEnv, timeoutSeconds: 3600 },
        );
        // Schema changes need the code (install), the database (db-init) and the configuration; the cache must
        // be up too, since NetBox connects to it as it starts.
        const appMigrate = exec(
            appCt,
            "app-migrate",
            r.renderAppMigrateScript(),
            [cfg.netboxVersion, pluginSpec, cfg.db.backendAddress, cfg.database.name],
            [appInstall, dbInit, cacheConfigure, configuration, secrets],
            { timeoutSeconds: 3600 },
        );
        const appCollectstatic = exec(
            appCt,
            "app-collectstatic",
            r.renderAppCollectstaticScript(),
            [cfg.netboxVersion, pluginSpec],
            [appInstall, configuration, secrets],
            { timeoutSeconds: 1800 },
        );
        exec(
            appCt,
            "app-superuser",
            r.renderAppSuperuserScript(),
            [cfg.adminUser, cfg.adminEmail, hashOf(adminPassword)],
            [appMigrate, ensureSuperuser],
            {
                environment: {
                    NETBOX_ADMIN_USER: cfg.adminUser,
                    NETBOX_ADMIN_EMAIL: cfg.adminEmail,
                    NETBOX_ADMIN_PASSWORD: adminPassword,
                },
            },
        );
        exec(
            appCt,
            "app-services",
            r.renderAppServicesScript(),
            [
                cfg.netboxVersion,
                pluginSpec,
                configuration.sha256,
                secrets.sha256,
                gunicorn.sha256,
                ...units.map((u) => u.sha256),
            ],
            [appMigrate, appCollectstatic, gunicorn, ...units],
        );

        // ---- proxbox (optional) ----
        const appSites = ["netbox-static"];
        const appNginxFiles: File[] = [
            appFile(
                "app-nginx-static",
                "/etc/nginx/sites-available/netbox-static",
                r.renderAppStaticSite({
                    stack: name,
                    listenAddress: cfg.app.dmzAddress,
                    proxyAddress: cfg.proxy.dmzAddress,
                }),
            ),
        ];
        const pb = cfg.proxbox;
        let proxboxService: Exec | undefined;
        let trustCa: Exec | undefined;
        let proxboxApiKey: pulumi.Output<string> | undefined;
        let proxboxToken: ApiToken | undefined;
        if (pb.enabled) {
            const role = new Role(
                `${name}-proxbox-role`,
                {
                    roleId: pb.roleId,
                    privileges: ["Datastore.Audit", "Sys.Audit", "VM.Audit"],
                    pve8Privileges: ["VM.Monitor"],
                    pve9Privileges: ["VM.GuestAgent.Audit"],
                },
                parent,
            );
            const user = new User(
                `${name}-proxbox-user`,
                { userId: pb.userId, comment: `proxbox-api for NetboxStack ${name} (read-only)` },
                parent,
            );
            proxboxToken = new ApiToken(
                `${name}-proxbox-token`,
                { userId: user.userId, tokenName: pb.tokenName, privsep: true, comment: "proxbox-api sync" },
                parent,
            );
            // With privilege separation a token holds its own ACLs ∩ its user's: both get the read-only role.
            new Acl(
                `${name}-proxbox-user-acl`,
                { path: "/", roleId: role.roleId, userId: user.userId, propagate: true },
                parent,
            );
            new Acl(
                `${name}-proxbox-token-acl`,
                { path: "/", roleId: role.roleId, tokenId: proxboxToken.fullTokenId, propagate: true },
                parent,
            );

            proxboxApiKey = pulumi.secret(
                new random.RandomPassword(`${name}-proxbox-api-key`, { length: 64, special: false }, parent).result,
            );
            const encryptionKey = new random.RandomBytes(`${name}-proxbox-encryption-key`, { length: 32 }, parent);
            const proxboxCert = new ServerCert(
                `${name}-proxbox-cert`,
                { ca: ca!, commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] },
                parent,
            );

            const caFile = file(
                appCt,
                "app-ca",
                `/usr/local/share/ca-certificates/proxmox-homelab-${tag}.crt`,
                ca!.certPem,
                "0644",
                "root",
                "root",
                [],
            );
            trustCa = exec(appCt, "app-trust-ca", r.renderTrustCaScript(), [caFile.sha256], [caFile]);
            const proxboxInstall = exec(appCt, "proxbox-install", r.renderProxboxInstallScript(pb.apiVersion), [], [], {
                environment: downloadEnv,
                timeoutSeconds: 1800,
            });
            const env = file(
                appCt,
                "proxbox-env",
                r.PROXBOX_PATHS.env,
                pulumi.secret(
                    pulumi
                        .secret(encryptionKey.base64)
                        .apply((b64) => r.renderProxboxEnv({ stack: name, encryptionKey: r.fernetKeyFromBase64(b64) })),
                ),
                "0600",
                "proxbox",
                "proxbox",
                [proxboxInstall],
            );
            const unit = appFile(
                "proxbox-unit",
                "/etc/systemd/system/proxbox-api.service",
                r.renderProxboxService({ stack: name, port: pb.port, workers: pb.workers }),
            );
            proxboxService = exec(
                appCt,
                "proxbox-service",
                r.renderProxboxServiceScript(),
                [pb.apiVersion, env.sha256, unit.sha256],
                [proxboxInstall, env, unit],
            );
            appSites.push("proxbox-api");
            appNginxFiles.push(
                appFile("proxbox-tls-cert", r.PROXBOX_TLS_PATHS.cert, proxboxCert.fullChainPem),
                appFile("proxbox-tls-key", r.PROXBOX_TLS_PATHS.key, proxboxCert.keyPem, "0600"),
                appFile(
                    "proxbox-nginx",
                    "/etc/nginx/sites-available/proxbox-api",
                    r.renderProxboxSite({
                        stack: name,
                        upstreamPort: pb.port,
                        tlsPort: pb.tlsPort,
                        certPath: r.PROXBOX_TLS_PATHS.cert,
                        keyPath: r.PROXBOX_TLS_PATHS.key,
                    }),
                ),
            );
        }

        const appNginx = exec(
            appCt,
            "app-nginx",
            r.renderNginxEnableScript(appSites),
            appNginxFiles.map((f) => f.sha256),
            [appCollectstatic, ...appNginxFiles],
        );

        if (pb.enabled) {
            exec(
                appCt,
                "proxbox-register-key",
                r.renderProxboxRegisterKeyScript(pb.tlsPort),
                [hashOf(proxboxApiKey!)],
                [proxboxService!, appNginx, trustCa!],
                { environment: { PROXBOX_API_KEY: proxboxApiKey! } },
            );
        }

        // ---- proxy ----
        const tlsPaths = r.proxyTlsPaths(cfg.publicName);
        const proxyFile = (id: string, path: string, content: pulumi.Input<string>, mode = "0644") =>
            file(proxyCt, id, path, content, mode, "root", "root", []);
        const proxyFiles = [
            proxyFile("proxy-tls-cert", tlsPaths.cert, proxyCertPem),
            // Read by nginx's master process, which runs as root; the workers (www-data) never need it.
            proxyFile("proxy-tls-key", tlsPaths.key, proxyKeyPem, "0600"),
            proxyFile(
                "proxy-site",
                "/etc/nginx/sites-available/netbox",
                r.renderProxySite({
                    stack: name,
                    serverNames: hosts,
                    appAddress: cfg.app.dmzAddress,
                    certPath: tlsPaths.cert,
                    keyPath: tlsPaths.key,
                }),
            ),
        ];
        // The proxy needs only its own files: nginx starts with the app's address as a literal upstream and
        // answers 502 until NetBox listens. So TLS and the 80 → 443 redirect are up even while (or when) the
        // app's longer steps run or fail, and the deploy does not serialise behind them.
        exec(
            proxyCt,
            "proxy-nginx",
            r.renderNginxEnableScript(["netbox"], [r.PROXY_STATIC_CACHE_DIR]),
            proxyFiles.map((f) => f.sha256),
            proxyFiles,
        );

        // ---- outputs ----
        const info = (ct: HomelabContainer, hostname: string): pulumi.Output<NetboxContainerInfo> =>
            pulumi.all([ct.vmid, ct.addresses]).apply(([vmid, addresses]) => ({ vmid, hostname, addresses }));
        this.url = pulumi.output(`https://${cfg.publicName}/`);
        this.adminUser = pulumi.output(cfg.adminUser);
        this.adminPassword = adminPassword;
        this.containers = pulumi
            .all([
                info(appCt, cfg.app.hostname),
                info(dbCt, cfg.db.hostname),
                info(cacheCt, cfg.cache.hostname),
                info(proxyCt, cfg.proxy.hostname),
            ])
            .apply(([app, db, cache, proxy]) => ({ app, db, cache, proxy }));
        this.monitoringTargets = pulumi.output(netboxMonitoringTargets(name, cfg));
        this.proxbox = pb.enabled
            ? proxboxToken!.fullTokenId.apply((tokenId) => ({ apiUrl: `https://127.0.0.1:${pb.tlsPort}`, tokenId }))
            : pulumi.output(undefined);
        this.proxboxApiKey = proxboxApiKey ?? pulumi.output(undefined);
        this.proxboxTokenSecret = proxboxToken ? pulumi.secret(proxboxToken.value) : pulumi.output(undefined);
        this.registerOutputs({
            url: this.url,
            caCertPem: this.caCertPem,
            adminUser: this.adminUser,
            adminPassword: this.adminPassword,
            containers: this.containers,
            monitoringTargets: this.monitoringTargets,
            proxbox: this.proxbox,
            proxboxApiKey: this.proxboxApiKey,
            proxboxTokenSecret: this.proxboxTokenSecret,
        });
    }
}

/** What monitoring should watch: node_exporter on each container's inner address, and the public URL. */
export function netboxMonitoringTargets(name: string, cfg: ResolvedNetboxStack): MonitoringTargets {
    const exporters = cfg.nodeExporter
        ? [
              { address: `${cfg.app.backendAddress}:9100`, container: cfg.app.hostname, component: name },
              { address: `${cfg.db.backendAddress}:9100`, container: cfg.db.hostname, component: name },
              { address: `${cfg.cache.backendAddress}:9100`, container: cfg.cache.hostname, component: name },
              { address: `${cfg.proxy.dmzAddress}:9100`, container: cfg.proxy.hostname, component: name },
          ]
        : [];
    return {
        nodeExporters: exporters,
        httpProbes: [{ name, url: `https://${cfg.publicName}/`, component: name }],
        icmpProbes: [],
    };
}
