import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Acl, ApiToken, Exec, File, Role, User } from "../../providers/index";
import { ServerCert } from "../common/ca";
import { HomelabContainer } from "../common/container";
import { proxyEnvironment, resolveDownloads } from "../common/downloads";
import { MonitoringTargets, mergeTargets } from "../common/monitoring";
import {
    MonitoringLxcArgs,
    ResolvedMonitoringLxcArgs,
    pveTarget,
    validateMonitoringLxcArgs,
    validateTargets,
} from "./args";
import {
    AlertTiming,
    MONITORING_PATHS as P,
    PORTS,
    PVE_EXPORTER_USER,
    SERVICE_SCRIPTS,
    ServiceScript,
    monitoringPackages,
    renderAlertRules,
    renderAlertmanagerConfig,
    renderAlertmanagerDefaults,
    renderBlackboxConfig,
    renderBlackboxDefaults,
    renderBlackboxDropIn,
    renderGrafanaDashboardProvider,
    renderGrafanaDatasources,
    renderGrafanaIni,
    renderGrafanaInstallScript,
    renderHomelabDashboard,
    renderHtpasswd,
    renderNginxScript,
    renderNginxSite,
    renderPackagesScript,
    renderPrometheusConfig,
    renderPrometheusDefaults,
    renderPveExporterConfig,
    renderPveExporterInstallScript,
    renderPveExporterUnit,
    renderSnmpDefaults,
} from "./render";

/** Privileges of the exporter's role: PVEAuditor's reading rights the exporter uses (PVE-FACTS, Access). */
export const PVE_EXPORTER_PRIVILEGES = ["Datastore.Audit", "Sys.Audit", "VM.Audit"];
export const PVE_EXPORTER_PVE8_PRIVILEGES = ["VM.Monitor"];
export const PVE_EXPORTER_PVE9_PRIVILEGES = ["VM.GuestAgent.Audit"];

interface FileSpec {
    id: string;
    path: string;
    content: pulumi.Input<string>;
    mode?: string;
    owner?: string;
    group?: string;
}

/**
 * Prometheus, Alertmanager (alerts mailed), Grafana (optional), the blackbox, PVE and SNMP exporters in one Debian
 * LXC, with nginx in front (TLS from the homelab CA; Prometheus and Alertmanager behind basic auth and a source
 * allowlist). Scrape jobs are generated from the MonitoringTargets the other components report.
 *
 * Order: container (with node_exporter) → packages → configuration files (secrets 0600 owned by the reading
 * service) → one Exec per service that validates, enables and restarts it whenever its files' hashes change → nginx.
 */
export class MonitoringLxc extends pulumi.ComponentResource {
    public readonly container: HomelabContainer;
    /** IPv4 address of the container (static from args, else discovered). */
    public readonly address: pulumi.Output<string>;
    /** `https://<publicName>/`, or undefined without Grafana. */
    public readonly grafanaUrl: pulumi.Output<string | undefined>;
    /** Grafana's generated admin password (secret), or undefined without Grafana. */
    public readonly grafanaAdminPassword: pulumi.Output<string | undefined>;
    public readonly grafanaAdminUser: pulumi.Output<string | undefined>;
    /** `https://<publicName>/prometheus/` (basic auth, allowlisted sources). */
    public readonly prometheusUrl: pulumi.Output<string>;
    /** `https://<publicName>/alertmanager/` (basic auth, allowlisted sources). */
    public readonly alertmanagerUrl: pulumi.Output<string>;
    public readonly basicAuthUser: pulumi.Output<string>;
    /** Generated basic-auth password for Prometheus and Alertmanager (secret). */
    public readonly basicAuthPassword: pulumi.Output<string>;
    /** The rendered prometheus.yml (what is scraped). Not secret: it holds addresses and labels only. */
    public readonly prometheusConfig: pulumi.Output<string>;

    constructor(name: string, args: MonitoringLxcArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validation first: bad input must fail before any resource (the component included) is registered.
        const a = validateMonitoringLxcArgs(name, args);
        super("proxmox-homelab:monitoring:MonitoringLxc", name, {}, opts);

        // The original object: our schema checks the fields it knows and must not drop ones added later.
        const downloads = resolveDownloads(args.downloads);
        const grafana = a.grafana.enabled;
        const pve = a.pve;
        const snmp = a.snmpTargets.length > 0;
        const timing: AlertTiming = a.alertTiming;

        this.container = new HomelabContainer(
            `${name}-ct`,
            {
                node: a.node,
                vmid: a.vmid,
                hostname: a.hostname,
                ostemplate: a.template,
                os: "debian",
                cores: a.cores,
                memory: a.memory,
                swap: a.swap,
                diskGiB: a.diskGiB,
                storage: a.storage,
                networks: [
                    {
                        name: "eth0",
                        bridge: a.network.bridge,
                        ip: a.network.ip,
                        gw: a.network.gw,
                        hwaddr: a.network.hwaddr,
                        tag: a.network.tag,
                        firewall: a.network.firewall,
                    },
                ],
                nameserver: a.nameserver,
                searchdomain: a.searchdomain,
                tags: [...new Set(["monitoring", ...a.tags])],
                description: `Monitoring (proxmox-homelab MonitoringLxc "${name}")`,
                downloads,
                nodeExporter: true,
                pip: pve !== undefined,
            },
            { parent: this },
        );
        const vmid = this.container.vmid;
        const staticIp = a.network.ip === "dhcp" ? undefined : a.network.ip.split("/")[0];
        this.address = staticIp
            ? pulumi.output(staticIp)
            : this.container.addresses.apply((x) => {
                  const ip = x.eth0;
                  if (!ip) throw new Error(`MonitoringLxc "${name}": eth0 has no IPv4 address (DHCP lease missing)`);
                  return ip;
              });

        // ---- generated secrets -------------------------------------------------------------------------------
        const basicAuthPassword = new random.RandomPassword(
            `${name}-basic-auth`,
            { length: 32, special: false },
            { parent: this },
        );
        // A stored salt keeps the htpasswd line (and so the file's hash) the same on every deploy.
        const basicAuthSalt = new random.RandomString(
            `${name}-basic-auth-salt`,
            { length: 8, special: false },
            { parent: this },
        );
        const grafanaAdminPassword = grafana
            ? new random.RandomPassword(`${name}-grafana-admin`, { length: 32, special: false }, { parent: this })
            : undefined;

        const cert = new ServerCert(
            `${name}-tls`,
            {
                ca: a.tls.ca,
                commonName: a.publicName,
                dnsNames: [...new Set([a.publicName, a.hostname])],
                // The container probes its own nginx by address, so the address is in the certificate too.
                ipAddresses: this.address.apply((ip) => [ip]),
            },
            { parent: this },
        );

        // ---- the read-only PVE token of the exporter ---------------------------------------------------------
        let tokenValue: pulumi.Output<string> | undefined;
        if (pve) {
            const role = new Role(
                `${name}-pve-role`,
                {
                    roleId: pve.roleId,
                    privileges: PVE_EXPORTER_PRIVILEGES,
                    pve8Privileges: PVE_EXPORTER_PVE8_PRIVILEGES,
                    pve9Privileges: PVE_EXPORTER_PVE9_PRIVILEGES,
                },
                { parent: this },
            );
            const user = new User(
                `${name}-pve-user`,
                { userId: pve.userId, comment: `prometheus-pve-exporter of MonitoringLxc "${name}" (read-only)` },
                { parent: this },
            );
            const userAcl = new Acl(
                `${name}-pve-user-acl`,
                { path: "/", roleId: role.roleId, userId: user.userId, propagate: true },
                { parent: this },
            );
            const token = new ApiToken(
                `${name}-pve-token`,
                { userId: user.userId, tokenName: pve.tokenName, privsep: true, comment: "prometheus-pve-exporter" },
                { parent: this, dependsOn: [userAcl] },
            );
            // With privilege separation a token holds only its own ACLs (intersected with the user's).
            const tokenAcl = new Acl(
                `${name}-pve-token-acl`,
                { path: "/", roleId: role.roleId, tokenId: token.fullTokenId, propagate: true },
                { parent: this },
            );
            tokenValue = pulumi.all([token.value, tokenAcl.id]).apply(([v]) => v);
        }

        // ---- packages ----------------------------------------------------------------------------------------
        const env = proxyEnvironment(downloads);
        const packagesScript = renderPackagesScript(monitoringPackages({ pveExporter: !!pve, snmp, grafana }));
        const packages = new Exec(
            `${name}-packages`,
            { node: a.node, vmid, create: packagesScript, environment: env, timeoutSeconds: 1800 },
            { parent: this, dependsOn: [this.container.ready] },
        );
        const grafanaInstall = grafana
            ? new Exec(
                  `${name}-grafana-install`,
                  {
                      node: a.node,
                      vmid,
                      create: renderGrafanaInstallScript(a.grafana.aptRepoUrl, a.grafana.aptKeyUrl),
                      environment: env,
                      timeoutSeconds: 1800,
                  },
                  { parent: this, dependsOn: [packages] },
              )
            : undefined;
        const pveInstall = pve
            ? new Exec(
                  `${name}-pve-exporter-install`,
                  {
                      node: a.node,
                      vmid,
                      create: renderPveExporterInstallScript(pve.exporterPackage),
                      environment: env,
                      timeoutSeconds: 1800,
                  },
                  { parent: this, dependsOn: [packages] },
              )
            : undefined;

        const files = (after: pulumi.Resource, specs: FileSpec[]): File[] =>
            specs.map(
                (f) =>
                    new File(
                        `${name}-${f.id}`,
                        {
                            node: a.node,
                            vmid,
                            path: f.path,
                            content: f.content,
                            mode: f.mode ?? "0644",
                            owner: f.owner ?? "root",
                            group: f.group ?? f.owner ?? "root",
                        },
                        { parent: this, dependsOn: [after] },
                    ),
            );
        const service = (id: string, script: ServiceScript, deps: File[], extra: pulumi.Resource[] = []): Exec =>
            new Exec(
                `${name}-${id}`,
                {
                    node: a.node,
                    vmid,
                    create: script.create,
                    delete: script.delete,
                    triggers: deps.map((f) => f.sha256),
                },
                { parent: this, dependsOn: [...deps, ...extra] },
            );

        // ---- Prometheus ----------------------------------------------------------------------------------------
        const targets = this.mergedTargets(name, a, args.targets, staticIp);
        this.prometheusConfig = targets.apply((t) =>
            renderPrometheusConfig({
                targets: t,
                publicHttpProbes: a.extraTargets.publicHttpProbes,
                pve: pve ? { target: pveTarget(pve), node: pve.nodeName ?? a.node } : undefined,
                snmpTargets: a.snmpTargets,
                scrapeJobs: a.extraTargets.scrapeJobs,
                grafana,
                timing,
            }),
        );
        const prometheusFiles = files(packages, [
            { id: "prometheus-config", path: P.prometheusConfig, content: this.prometheusConfig },
            { id: "prometheus-rules", path: P.rulesFile, content: renderAlertRules(timing) },
            {
                id: "prometheus-defaults",
                path: P.prometheusDefaults,
                content: renderPrometheusDefaults(a.publicName, a.retentionDays),
            },
        ]);
        const prometheus = service("prometheus", SERVICE_SCRIPTS.prometheus(), prometheusFiles);

        // ---- Alertmanager --------------------------------------------------------------------------------------
        const smtpTo = a.smtp.to;
        const hasSmtpPassword = a.smtp.password !== undefined;
        const alertmanagerSpecs: FileSpec[] = [
            {
                id: "alertmanager-config",
                path: P.alertmanagerConfig,
                content: renderAlertmanagerConfig({
                    smtp: {
                        smarthost: a.smtp.smarthost,
                        from: a.smtp.from,
                        to: smtpTo,
                        username: a.smtp.username,
                        hasPassword: hasSmtpPassword,
                        requireTls: a.smtp.requireTls,
                        hello: a.smtp.hello ?? a.hostname,
                    },
                    timing,
                }),
            },
            {
                id: "alertmanager-defaults",
                path: P.alertmanagerDefaults,
                content: renderAlertmanagerDefaults(a.publicName),
            },
        ];
        if (a.smtp.password !== undefined) {
            // Debian runs Alertmanager as `prometheus`.
            alertmanagerSpecs.push({
                id: "alertmanager-smtp-password",
                path: P.smtpPasswordFile,
                content: pulumi.secret(a.smtp.password),
                mode: "0600",
                owner: "prometheus",
            });
        }
        const alertmanager = service(
            "alertmanager",
            SERVICE_SCRIPTS.alertmanager(),
            files(packages, alertmanagerSpecs),
        );

        // ---- blackbox exporter ---------------------------------------------------------------------------------
        const blackboxFiles = files(packages, [
            { id: "homelab-ca", path: P.homelabCaFile, content: a.tls.ca.certPem },
            { id: "blackbox-config", path: P.blackboxConfig, content: renderBlackboxConfig() },
            { id: "blackbox-defaults", path: P.blackboxDefaults, content: renderBlackboxDefaults() },
            { id: "blackbox-dropin", path: P.blackboxDropIn, content: renderBlackboxDropIn() },
        ]);
        const blackbox = service("blackbox", SERVICE_SCRIPTS.blackbox(), blackboxFiles);
        const services: Exec[] = [prometheus, alertmanager, blackbox];

        // ---- SNMP exporter (only with SNMP targets) -------------------------------------------------------------
        if (snmp) {
            const snmpFiles = files(packages, [
                { id: "snmp-defaults", path: P.snmpDefaults, content: renderSnmpDefaults() },
            ]);
            services.push(service("snmp-exporter", SERVICE_SCRIPTS.snmp(), snmpFiles));
        }

        // ---- PVE exporter --------------------------------------------------------------------------------------
        if (pve && pveInstall && tokenValue) {
            const tlsMode = !pve.verifyTls ? "off" : pve.caCertPem !== undefined ? "ca-file" : "system";
            const specs: FileSpec[] = [
                {
                    id: "pve-exporter-config",
                    path: P.pveExporterConfig,
                    content: pulumi.secret(
                        tokenValue.apply((v) =>
                            renderPveExporterConfig({
                                user: pve.userId,
                                tokenName: pve.tokenName,
                                tokenValue: v,
                                tls: tlsMode,
                            }),
                        ),
                    ),
                    mode: "0600",
                    owner: PVE_EXPORTER_USER,
                },
                { id: "pve-exporter-unit", path: P.pveExporterUnit, content: renderPveExporterUnit() },
            ];
            if (pve.caCertPem !== undefined) {
                specs.push({ id: "pve-exporter-ca", path: P.pveExporterCaFile, content: pve.caCertPem });
            }
            services.push(service("pve-exporter", SERVICE_SCRIPTS.pveExporter(), files(pveInstall, specs)));
        }

        // ---- Grafana -------------------------------------------------------------------------------------------
        if (grafanaInstall && grafanaAdminPassword) {
            const specs: FileSpec[] = [
                {
                    id: "grafana-ini",
                    path: P.grafanaIni,
                    content: renderGrafanaIni({
                        publicName: a.publicName,
                        adminUser: a.grafana.adminUser,
                        smtp: {
                            smarthost: a.smtp.smarthost,
                            from: a.smtp.from,
                            username: a.smtp.username,
                            hasPassword: hasSmtpPassword,
                            requireTls: a.smtp.requireTls,
                        },
                    }),
                    mode: "0640",
                    group: "grafana",
                },
                {
                    id: "grafana-admin-password",
                    path: P.grafanaAdminPasswordFile,
                    content: pulumi.secret(grafanaAdminPassword.result),
                    mode: "0600",
                    owner: "grafana",
                },
                {
                    id: "grafana-datasources",
                    path: P.grafanaDatasource,
                    content: renderGrafanaDatasources(timing.scrapeIntervalSeconds),
                    mode: "0640",
                    group: "grafana",
                },
                {
                    id: "grafana-dashboard-provider",
                    path: P.grafanaDashboardProvider,
                    content: renderGrafanaDashboardProvider(),
                    mode: "0640",
                    group: "grafana",
                },
                { id: "grafana-dashboard", path: P.grafanaDashboard, content: renderHomelabDashboard() },
            ];
            if (a.smtp.password !== undefined) {
                specs.push({
                    id: "grafana-smtp-password",
                    path: P.grafanaSmtpPasswordFile,
                    content: pulumi.secret(a.smtp.password),
                    mode: "0600",
                    owner: "grafana",
                });
            }
            services.push(service("grafana", SERVICE_SCRIPTS.grafana(), files(grafanaInstall, specs)));
        }

        // ---- nginx, last: everything it proxies to is configured ------------------------------------------------
        const htpasswd = pulumi
            .all([basicAuthPassword.result, basicAuthSalt.result])
            .apply(([pw, salt]) => renderHtpasswd(a.basicAuthUser, pw, salt));
        const nginxFiles = files(packages, [
            { id: "nginx-tls-cert", path: P.tlsCert, content: cert.fullChainPem },
            { id: "nginx-tls-key", path: P.tlsKey, content: cert.keyPem, mode: "0600" },
            // nginx's workers (www-data) read the user file on each request.
            { id: "htpasswd", path: P.htpasswd, content: pulumi.secret(htpasswd), mode: "0640", group: "www-data" },
            {
                id: "nginx-site",
                path: P.nginxSite,
                content: renderNginxSite({ publicName: a.publicName, grafana, allowCidrs: a.allowCidrs }),
            },
        ]);
        service("nginx", renderNginxScript(), nginxFiles, services);

        // ---- outputs -------------------------------------------------------------------------------------------
        const base = `https://${a.publicName}/`;
        this.grafanaUrl = pulumi.output(grafana ? base : undefined);
        this.grafanaAdminUser = pulumi.output(grafana ? a.grafana.adminUser : undefined);
        this.grafanaAdminPassword = grafanaAdminPassword
            ? pulumi.secret(grafanaAdminPassword.result)
            : pulumi.output(undefined);
        this.prometheusUrl = pulumi.output(`${base}prometheus/`);
        this.alertmanagerUrl = pulumi.output(`${base}alertmanager/`);
        this.basicAuthUser = pulumi.output(a.basicAuthUser);
        this.basicAuthPassword = pulumi.secret(basicAuthPassword.result);
        this.registerOutputs({
            address: this.address,
            grafanaUrl: this.grafanaUrl,
            grafanaAdminUser: this.grafanaAdminUser,
            grafanaAdminPassword: this.grafanaAdminPassword,
            prometheusUrl: this.prometheusUrl,
            alertmanagerUrl: this.alertmanagerUrl,
            basicAuthUser: this.basicAuthUser,
            basicAuthPassword: this.basicAuthPassword,
        });
    }

    /**
     * Targets of the other components, the configured extras, and this container itself (its node_exporter, its
     * own nginx probed by address, the PVE node pinged), validated once they are known.
     */
    private mergedTargets(
        name: string,
        a: ResolvedMonitoringLxcArgs,
        input: MonitoringLxcArgs["targets"],
        staticIp: string | undefined,
    ): pulumi.Output<MonitoringTargets> {
        // Each reported set is validated on its own, so a problem names the set it came from.
        const many = Array.isArray(input);
        const list: pulumi.Input<MonitoringTargets>[] =
            input === undefined ? [] : many ? input : [input as pulumi.Input<MonitoringTargets>];
        const reported = list.map((t, i) =>
            pulumi.output(t).apply((v) => validateTargets(name, v, many ? `targets[${i}]` : "targets")),
        );
        const self = (staticIp ? pulumi.output(staticIp) : this.address).apply((ip): MonitoringTargets => ({
            nodeExporters: [{ address: `${ip}:${PORTS.nodeExporter}`, container: a.hostname, component: name }],
            httpProbes: [
                { name: a.grafana.enabled ? "grafana" : "monitoring", url: `https://${ip}/`, component: name },
            ],
            icmpProbes: a.pve ? [{ name: a.pve.nodeName ?? a.node, address: a.pve.address, component: name }] : [],
        }));
        const extra: MonitoringTargets = {
            nodeExporters: a.extraTargets.nodeExporters,
            httpProbes: a.extraTargets.httpProbes,
            icmpProbes: a.extraTargets.icmpProbes,
        };
        return pulumi.all([self, pulumi.all(reported)]).apply(([s, others]) => mergeTargets(s, ...others, extra));
    }
}
