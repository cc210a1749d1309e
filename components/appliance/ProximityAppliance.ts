import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Bridge, Exec, File, LxcInterfaceState } from "../../providers/index";
import { HomelabContainer, MonitoringTargets } from "../common/index";
import { ProximityApplianceArgs, ResolvedAppliance, ResolvedApp, resolveApplianceArgs } from "./args";
import { formatCidr, parseCidr, subnetOf, subnetsOverlap } from "./net";
import {
    APPLIANCE_PATHS,
    COCKPIT_PORT,
    LAN_INTERFACE,
    WAN_INTERFACE,
    appHostname,
    appLeasePath,
    appVhostPath,
    renderCaddyReloadScript,
    renderCaddyServiceScript,
    renderCaddyVhost,
    renderCaddyfile,
    renderCockpitScript,
    renderDnsmasqAppLease,
    renderDnsmasqConf,
    renderDnsmasqReloadScript,
    renderDnsmasqServiceScript,
    renderFirewallRules,
    renderForwardingSysctl,
    renderGatewayApplyScript,
    renderGatewayOpenrc,
    renderGatewayScript,
    renderGatewaySystemdUnit,
    renderHealthCheckScript,
} from "./render/index";

/** What the appliance reports about one app. */
export interface ProximityAppOutput {
    name: string;
    /** The address the app holds on the app LAN (its static lease, as discovered). */
    address: string;
    /** `http://<name>.<domain>`, served by the appliance's Caddy. */
    url: string;
}

/**
 * Document 001's Proximity network appliance: an isolated app LAN (a host bridge with no host address) behind a
 * privileged gateway container that does NAT, DHCP and DNS (dnsmasq), reverse proxying by name (Caddy) and, on
 * Debian, Cockpit; plus one container per app with a static lease and a vhost.
 *
 * Order: bridge → appliance → its config files and services → each app's static lease → one dnsmasq restart → the
 * apps (so their first DHCP request gets the static lease) → their vhosts → one Caddy reload → health check.
 */
export class ProximityAppliance extends pulumi.ComponentResource {
    public readonly bridge: Bridge;
    public readonly appliance: HomelabContainer;
    /** The app containers by app name (add Execs to them to install the app itself). */
    public readonly appContainers: Record<string, HomelabContainer>;
    /** Fails the deploy unless dnsmasq, Caddy and the NAT and isolation rules are really in place. */
    public readonly healthCheck: Exec;
    /** The appliance's address on the WAN bridge, from its DHCP lease. */
    public readonly wanAddress: pulumi.Output<string>;
    /** The appliance's address on the app LAN (gateway, DNS, DHCP). */
    public readonly lanGateway: pulumi.Output<string>;
    /** The app LAN, e.g. `10.20.0.0/24`: reach the apps from the WAN side with a route to it via `wanAddress`. */
    public readonly lanCidr: pulumi.Output<string>;
    public readonly apps: pulumi.Output<ProximityAppOutput[]>;
    public readonly monitoringTargets: pulumi.Output<MonitoringTargets>;
    /** `https://<wanAddress>:9090/` on Debian with Cockpit, undefined otherwise. */
    public readonly cockpitUrl: pulumi.Output<string | undefined>;
    public readonly cockpitUser: pulumi.Output<string | undefined>;
    /** The Cockpit login's generated password (secret). */
    public readonly cockpitPassword: pulumi.Output<string | undefined>;

    constructor(name: string, args: ProximityApplianceArgs, opts?: pulumi.ComponentResourceOptions) {
        // Bad input stops here, before anything (this component included) is registered.
        const cfg = resolveApplianceArgs(name, args);
        super("proxmox-homelab:appliance:ProximityAppliance", name, {}, opts);
        const node = cfg.node;
        const os = cfg.os;

        this.bridge = new Bridge(
            `${name}-lan`,
            {
                node,
                name: cfg.lanBridge,
                autostart: true,
                comments: cfg.lanBridgeComments ?? `Proximity app LAN ${cfg.lan.cidr} (${name})`,
            },
            { parent: this },
        );

        const packages = ["dnsmasq", "caddy", "iptables", ...(cfg.cockpit ? ["cockpit", "sudo"] : [])];
        this.appliance = new HomelabContainer(
            `${name}-appliance`,
            {
                node,
                vmid: cfg.vmid,
                hostname: cfg.hostname,
                ostemplate: cfg.template,
                os,
                alpineRelease: cfg.alpineRelease,
                cores: cfg.cores,
                memory: cfg.memory,
                swap: cfg.swap,
                diskGiB: cfg.diskGiB,
                storage: cfg.storage,
                networks: [
                    { name: WAN_INTERFACE, bridge: cfg.wanBridge, ip: "dhcp", firewall: true },
                    // The bridge's name output (not the plain string) makes the container wait for the bridge.
                    {
                        name: LAN_INTERFACE,
                        bridge: this.bridge.name,
                        ip: `${cfg.lan.gateway}/${cfg.lan.prefix}`,
                        firewall: true,
                    },
                ],
                // Privileged with nesting and keyctl, as document 001 has it: iptables and the service managers need it.
                unprivileged: false,
                features: { nesting: true, keyctl: true },
                tags: ["proximity"],
                description: `Proximity network appliance (${name}): NAT, DHCP/DNS and reverse proxy for ${cfg.lan.cidr}`,
                downloads: cfg.downloads,
                packages,
                nodeExporter: cfg.nodeExporter,
            },
            { parent: this, dependsOn: [this.bridge] },
        );
        const vmid = this.appliance.vmid;
        const ready = this.appliance.ready;
        const file = (
            id: string,
            path: string,
            content: pulumi.Input<string>,
            mode = "0644",
            after: pulumi.Resource[] = [],
        ) =>
            new File(
                `${name}-${id}`,
                { node, vmid, path, content, mode },
                { parent: this, dependsOn: [ready, ...after] },
            );
        const exec = (
            id: string,
            script: pulumi.Input<string>,
            triggers: pulumi.Input<unknown>[],
            after: pulumi.Resource[],
            environment?: Record<string, pulumi.Input<string>>,
        ) =>
            new Exec(
                `${name}-${id}`,
                { node, vmid, create: script, triggers: [script, ...triggers], environment },
                { parent: this, dependsOn: [ready, ...after] },
            );

        const wanInterface = this.appliance.lxc.interfaces.apply((ifs) => wanOf(name, cfg, ifs));
        this.wanAddress = wanInterface.apply((w) => w.address);
        const managementCidrs = cfg.managementCidrs
            ? pulumi.output(cfg.managementCidrs)
            : wanInterface.apply((w) => [w.subnet]);

        // NAT and forwarding: rules file, sysctl, the idempotent apply script and the boot service that runs it.
        const gatewayFiles = [
            file("sysctl", APPLIANCE_PATHS.sysctl, renderForwardingSysctl()),
            file(
                "firewall-rules",
                APPLIANCE_PATHS.firewallRules,
                managementCidrs.apply((m) => applianceFirewallRules(cfg, m)),
            ),
            file("gateway-script", APPLIANCE_PATHS.gatewayScript, renderGatewayScript(), "0755"),
            os === "debian"
                ? file("gateway-unit", APPLIANCE_PATHS.systemdUnit, renderGatewaySystemdUnit())
                : file("gateway-openrc", APPLIANCE_PATHS.openrcService, renderGatewayOpenrc(), "0755"),
        ];
        const gateway = exec("gateway", renderGatewayApplyScript(os), hashes(gatewayFiles), gatewayFiles);

        const dnsmasqConf = file("dnsmasq-conf", APPLIANCE_PATHS.dnsmasqConf, applianceDnsmasqConf(cfg));
        const dnsmasq = exec("dnsmasq", renderDnsmasqServiceScript(os), [dnsmasqConf.sha256], [dnsmasqConf, gateway]);

        const caddyfile = file("caddyfile", APPLIANCE_PATHS.caddyfile, renderCaddyfile());
        const caddy = exec("caddy", renderCaddyServiceScript(os), [caddyfile.sha256], [caddyfile, gateway]);

        const services: pulumi.Resource[] = [gateway, dnsmasq, caddy];
        let password: random.RandomPassword | undefined;
        if (cfg.cockpit) {
            password = new random.RandomPassword(
                `${name}-cockpit-password`,
                { length: 24, special: false },
                { parent: this },
            );
            services.push(
                exec("cockpit", renderCockpitScript(cfg.cockpitUser), [secretDigest(password.result)], [gateway], {
                    // Explicitly secret: the engine marks RandomPassword.result secret, but only once it has it.
                    COCKPIT_PASSWORD: pulumi.secret(password.result),
                }),
            );
        }

        // Static leases come before the apps: an app's first DHCP request must already find its address.
        const leases = cfg.apps.map((app) =>
            file(`app-${app.name}-lease`, appLeasePath(app.name), renderDnsmasqAppLease(app), "0644", [dnsmasq]),
        );
        const dnsmasqReload = exec(
            "dnsmasq-reload",
            renderDnsmasqReloadScript(
                os,
                cfg.apps.map((a) => a.name),
            ),
            hashes(leases),
            [dnsmasq, ...leases],
        );

        this.appContainers = {};
        const vhosts: File[] = [];
        for (const app of cfg.apps) {
            const container = this.appContainer(name, cfg, app, dnsmasqReload);
            this.appContainers[app.name] = container;
            vhosts.push(
                file(`app-${app.name}-vhost`, appVhostPath(app.name), appVhost(cfg, app), "0644", [
                    caddy,
                    container.ready,
                ]),
            );
        }
        const caddyReload = exec(
            "caddy-reload",
            renderCaddyReloadScript(
                os,
                cfg.apps.map((a) => a.name),
            ),
            hashes(vhosts),
            [caddy, ...vhosts],
        );

        const allFiles = [...gatewayFiles, dnsmasqConf, caddyfile, ...leases, ...vhosts];
        const healthScript = managementCidrs.apply((m) => applianceHealthCheck(cfg, m));
        // Triggered by every file the appliance serves from: a deploy that changes nothing runs nothing.
        this.healthCheck = exec("health", healthScript, hashes(allFiles), [...services, dnsmasqReload, caddyReload]);

        this.lanGateway = pulumi.output(cfg.lan.gateway);
        this.lanCidr = pulumi.output(cfg.lan.cidr);
        this.apps = pulumi.all(
            cfg.apps.map((app) =>
                this.appContainers[app.name].lxc.interfaces.apply((ifs) => appOutput(name, cfg, app, ifs)),
            ),
        );
        this.monitoringTargets = pulumi
            .all([this.wanAddress, this.apps])
            .apply(([wan, apps]) => monitoringTargetsFor(name, cfg, wan, apps));
        this.cockpitUrl = cfg.cockpit
            ? this.wanAddress.apply((w) => `https://${w}:${COCKPIT_PORT}/`)
            : pulumi.output(undefined);
        this.cockpitUser = pulumi.output(cfg.cockpit ? cfg.cockpitUser : undefined);
        this.cockpitPassword = password ? pulumi.secret(password.result) : pulumi.output(undefined);

        this.registerOutputs({
            wanAddress: this.wanAddress,
            lanGateway: this.lanGateway,
            lanCidr: this.lanCidr,
            apps: this.apps,
            monitoringTargets: this.monitoringTargets,
            cockpitUrl: this.cockpitUrl,
            cockpitUser: this.cockpitUser,
            cockpitPassword: this.cockpitPassword,
        });
    }

    private appContainer(name: string, cfg: ResolvedAppliance, app: ResolvedApp, after: Exec): HomelabContainer {
        return new HomelabContainer(
            `${name}-app-${app.name}`,
            {
                node: cfg.node,
                vmid: app.vmid,
                hostname: app.name,
                ostemplate: app.template,
                os: app.os,
                alpineRelease: cfg.alpineRelease,
                cores: app.cores,
                memory: app.memory,
                swap: app.swap,
                diskGiB: app.diskGiB,
                storage: cfg.storage,
                networks: [
                    { name: WAN_INTERFACE, bridge: this.bridge.name, ip: "dhcp", hwaddr: app.hwaddr, firewall: true },
                ],
                // Unprivileged; nesting lets systemd in Debian 12+ templates use its namespacing features.
                features: { nesting: true },
                nameserver: cfg.lan.gateway,
                searchdomain: cfg.domain,
                tags: ["proximity"],
                description: `Proximity app ${app.name} (${name}): ${appHostname(app.name, cfg.domain)}`,
                downloads: cfg.downloads,
                packages: app.packages,
                nodeExporter: cfg.nodeExporter,
            },
            { parent: this, dependsOn: [after] },
        );
    }
}

/** /etc/dnsmasq.conf for these arguments. */
export function applianceDnsmasqConf(cfg: ResolvedAppliance): string {
    return renderDnsmasqConf({
        dhcpStart: cfg.lan.dhcpStart,
        dhcpEnd: cfg.lan.dhcpEnd,
        netmask: cfg.lan.netmask,
        leaseTime: cfg.lan.leaseTime,
        gateway: cfg.lan.gateway,
        domain: cfg.domain,
        upstreamDns: cfg.upstreamDns,
    });
}

/** The iptables rules for these arguments, once the management networks are known. */
export function applianceFirewallRules(cfg: ResolvedAppliance, managementCidrs: string[]): string {
    return renderFirewallRules({
        lanCidr: cfg.lan.cidr,
        managementCidrs,
        managementExceptions: cfg.managementExceptions,
        cockpit: cfg.cockpit,
    });
}

/** The health check for these arguments, once the management networks are known. */
export function applianceHealthCheck(cfg: ResolvedAppliance, managementCidrs: string[]): string {
    return renderHealthCheckScript({ os: cfg.os, lanCidr: cfg.lan.cidr, managementCidrs, cockpit: cfg.cockpit });
}

/** An app's Caddy site. */
export function appVhost(cfg: Pick<ResolvedAppliance, "domain">, app: ResolvedApp): string {
    return renderCaddyVhost({
        name: app.name,
        domain: cfg.domain,
        ip: app.ip,
        port: app.port,
        healthPath: app.healthPath,
    });
}

/** sha256 outputs of files, in order: an Exec's triggers. */
function hashes(files: File[]): pulumi.Output<string>[] {
    return files.map((f) => f.sha256);
}

/** A trigger that changes with a secret without storing it: its sha256, itself kept secret. */
function secretDigest(value: pulumi.Output<string>): pulumi.Output<string> {
    return pulumi.secret(value.apply((v) => createHash("sha256").update(v).digest("hex")));
}

/** The appliance's WAN address and subnet from its DHCP lease; a missing lease or an overlap with the LAN fails. */
export function wanOf(
    name: string,
    cfg: Pick<ResolvedAppliance, "wanBridge" | "lan">,
    ifs: LxcInterfaceState[] | undefined,
): { address: string; subnet: string } {
    const wan = (ifs ?? []).find((i) => i.name === WAN_INTERFACE);
    const parsed = wan?.ipv4 ? parseCidr(wan.ipv4) : undefined;
    if (!parsed) {
        throw new Error(
            `ProximityAppliance "${name}": the appliance's ${WAN_INTERFACE} on ${cfg.wanBridge} has no IPv4 address from DHCP (got ${JSON.stringify(wan?.ipv4 ?? null)})`,
        );
    }
    const subnet = subnetOf(parsed.address, parsed.prefix);
    const lan = parseCidr(cfg.lan.cidr)!;
    if (subnetsOverlap(subnet, subnetOf(lan.address, lan.prefix))) {
        throw new Error(
            `ProximityAppliance "${name}": the WAN subnet ${formatCidr(subnet)} overlaps lanCidr ${cfg.lan.cidr}; choose another lanCidr`,
        );
    }
    return { address: wan!.ipv4!.split("/")[0], subnet: formatCidr(subnet) };
}

/** An app's output; fails when the app did not get its static lease (the vhost would point elsewhere). */
export function appOutput(
    name: string,
    cfg: Pick<ResolvedAppliance, "domain">,
    app: Pick<ResolvedApp, "name" | "ip">,
    ifs: LxcInterfaceState[] | undefined,
): ProximityAppOutput {
    const address = (ifs ?? []).find((i) => i.name === WAN_INTERFACE)?.ipv4?.split("/")[0];
    if (address !== app.ip) {
        throw new Error(
            `ProximityAppliance "${name}": app ${JSON.stringify(app.name)} holds ${address ?? "no address"} instead of its static lease ${app.ip}`,
        );
    }
    return { name: app.name, address, url: `http://${appHostname(app.name, cfg.domain)}` };
}

/**
 * Node exporters of the appliance (WAN side) and the apps, an HTTP probe per app and a ping of the LAN gateway.
 * App probes use the app's address and port directly: `<app>.<domain>` resolves only through the appliance, and the
 * probe then also works without it. Apps and the gateway are on the app LAN: the monitoring host needs a route to
 * `lanCidr` via `wanAddress` (or to run on the app LAN).
 */
export function monitoringTargetsFor(
    name: string,
    cfg: Pick<ResolvedAppliance, "hostname" | "nodeExporter" | "lan" | "apps">,
    wanAddress: string,
    apps: ProximityAppOutput[],
): MonitoringTargets {
    const byName = new Map(cfg.apps.map((a) => [a.name, a]));
    return {
        nodeExporters: cfg.nodeExporter
            ? [
                  { address: `${wanAddress}:9100`, container: cfg.hostname, component: name },
                  ...apps.map((a) => ({ address: `${a.address}:9100`, container: a.name, component: name })),
              ]
            : [],
        httpProbes: apps.map((a) => {
            const app = byName.get(a.name)!;
            return { name: a.name, url: `http://${a.address}:${app.port}${app.healthPath}`, component: name };
        }),
        icmpProbes: [{ name: `${name}-gateway`, address: cfg.lan.gateway, component: name }],
    };
}
