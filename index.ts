/**
 * The program: reads the stack config (config.ts), builds the enabled components, wires MonitoringLxc to what
 * the others deployed, and returns the stack outputs.
 *
 * One exported async function serves both ways in: `pulumi up` (the SDK's run calls a module's exported function)
 * and the Automation API's inline program (tests/engine/harness.ts `require`s this file and calls it).
 * Invalid config throws before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { APPLIANCE_DEFAULTS, ProximityAppliance } from "./components/appliance/index";
import { HomelabCa, MonitoringTargets } from "./components/common/index";
import { redactSdkRpcDebug } from "./components/common/sdk-debug";
import type { ContainerOs } from "./components/common/container";
import { MonitoringLxc } from "./components/monitoring/index";
import { NetboxStack } from "./components/netbox/index";
import { COMPONENT_NAMES, HomelabConfig, loadHomelabConfig } from "./config";
import { Template } from "./providers/index";

// Before any resource is registered: the SDK's debug log of RPC responses would put secrets in the event log.
redactSdkRpcDebug();

type Outputs = Record<string, pulumi.Output<unknown>>;

/**
 * Whether the engine handed a config key over as a secret. The SDK exports this from runtime/config but leaves it
 * out of its typings; without it the "must be stored as a secret" checks are skipped, nothing else changes.
 */
const isConfigSecret = (require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (key: string) => boolean })
    .isConfigSecret;

async function main(): Promise<Outputs> {
    const config = new pulumi.Config();
    const prefix = `${config.name}:`;
    const cfg = loadHomelabConfig((key) => config.get(key), {
        env: process.env,
        isSecret: isConfigSecret && ((key) => isConfigSecret(`${prefix}${key}`)),
        keys: Object.keys(pulumi.runtime.allConfig())
            .filter((k) => k.startsWith(prefix))
            .map((k) => k.slice(prefix.length)),
    });
    return deploy(cfg);
}

function deploy(cfg: HomelabConfig): Outputs {
    const outputs: Outputs = {};

    // One template resource per OS, shared by every container of that OS.
    const templates = new Map<ContainerOs, pulumi.Output<string>>();
    const templateFor = (os: ContainerOs): pulumi.Output<string> => {
        let volid = templates.get(os);
        if (!volid) {
            volid = new Template(`${os}-template`, {
                node: cfg.node,
                storage: cfg.templateStorage,
                template: cfg.templates[os],
            }).volid;
            templates.set(os, volid);
        }
        return volid;
    };

    const ca =
        cfg.netbox.enabled || cfg.monitoring.enabled
            ? new HomelabCa("homelab-ca", {
                  commonName: cfg.tls.caCommonName,
                  organization: cfg.tls.caOrganization,
                  validityHours: cfg.tls.caValidityHours,
              })
            : undefined;
    if (ca) outputs.homelabCaCertPem = ca.certPem;

    const targets: pulumi.Output<MonitoringTargets>[] = [];

    if (cfg.netbox.enabled) {
        const args = cfg.netbox.args;
        const netbox = new NetboxStack(COMPONENT_NAMES.netbox, {
            ...args,
            template: templateFor("debian"),
            tls: {
                ...args.tls,
                ca,
                ...(args.tls?.keyPem !== undefined ? { keyPem: pulumi.secret(args.tls.keyPem) } : {}),
            },
        });
        targets.push(netbox.monitoringTargets);
        outputs.netboxUrl = netbox.url;
        outputs.netboxCaCertPem = netbox.caCertPem;
        outputs.netboxAdminUser = netbox.adminUser;
        outputs.netboxAdminPassword = pulumi.secret(netbox.adminPassword);
        outputs.netboxContainers = netbox.containers;
        if (args.proxbox?.enabled) {
            outputs.netboxProxbox = netbox.proxbox;
            outputs.netboxProxboxApiKey = pulumi.secret(netbox.proxboxApiKey);
            outputs.netboxProxboxTokenSecret = pulumi.secret(netbox.proxboxTokenSecret);
        }
    }

    if (cfg.appliance.enabled) {
        const args = cfg.appliance.args;
        const os = args.os ?? APPLIANCE_DEFAULTS.os;
        const appliance = new ProximityAppliance(COMPONENT_NAMES.appliance, {
            ...args,
            template: templateFor(os),
            // An app of another OS than the appliance's needs that OS's template.
            apps: args.apps?.map((app) => (app.os && app.os !== os ? { ...app, template: templateFor(app.os) } : app)),
        });
        targets.push(appliance.monitoringTargets);
        outputs.applianceWanAddress = appliance.wanAddress;
        outputs.applianceLanGateway = appliance.lanGateway;
        outputs.applianceLanCidr = appliance.lanCidr;
        outputs.applianceApps = appliance.apps;
        if (args.cockpit ?? os === "debian") {
            outputs.applianceCockpitUrl = appliance.cockpitUrl;
            outputs.applianceCockpitUser = appliance.cockpitUser;
            outputs.applianceCockpitPassword = pulumi.secret(appliance.cockpitPassword);
        }
    }

    if (cfg.monitoring.enabled) {
        const args = cfg.monitoring.args;
        const monitoring = new MonitoringLxc(COMPONENT_NAMES.monitoring, {
            ...args,
            ...(args.smtp?.password !== undefined
                ? { smtp: { ...args.smtp, password: pulumi.secret(args.smtp.password) } }
                : {}),
            template: templateFor("debian"),
            tls: { ca: ca! },
            targets,
        });
        outputs.monitoringAddress = monitoring.address;
        outputs.prometheusUrl = monitoring.prometheusUrl;
        outputs.alertmanagerUrl = monitoring.alertmanagerUrl;
        outputs.monitoringBasicAuthUser = monitoring.basicAuthUser;
        outputs.monitoringBasicAuthPassword = pulumi.secret(monitoring.basicAuthPassword);
        if (args.grafana?.enabled ?? true) {
            outputs.grafanaUrl = monitoring.grafanaUrl;
            outputs.grafanaAdminUser = monitoring.grafanaAdminUser;
            outputs.grafanaAdminPassword = pulumi.secret(monitoring.grafanaAdminPassword);
        }
    }

    return outputs;
}

export = main;
