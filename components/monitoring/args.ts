import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { HomelabCa } from "../common/ca";
import { NO_PROXY_ENTRY, NO_PROXY_RULE, type DownloadSettings } from "../common/downloads";
import type { HttpProbeTarget, IcmpProbeTarget, MonitoringTargets, NodeExporterTarget } from "../common/monitoring";
import { parseOrThrow } from "../common/validation";
import { DEFAULT_GRAFANA_APT_KEY_URL, DEFAULT_GRAFANA_APT_REPO_URL } from "./render/grafana";
import { RESERVED_JOB_NAMES, StaticScrapeJob } from "./render/prometheus";
import { ALERT_NAMES, AlertName } from "./render/timing";

/** The monitoring container's NIC (`eth0`). */
export interface MonitoringNetworkArgs {
    /** Host bridge, e.g. `vmbr0`. */
    bridge: string;
    /** `dhcp` or an IPv4 CIDR such as `192.168.8.85/24`. Default `dhcp`. A static address is known at preview. */
    ip?: string;
    /** IPv4 gateway (static `ip` only). */
    gw?: string;
    /** Fixed MAC address. Default: PVE generates one. */
    hwaddr?: string;
    /** VLAN tag. Default none. */
    tag?: number;
    /** PVE firewall on the NIC. Default true. */
    firewall?: boolean;
}

/** The PVE node, scraped through prometheus-pve-exporter with a dedicated read-only token. */
export interface MonitoringPveArgs {
    /** Host or IPv4 address of the PVE node as the container reaches it; also pinged (ICMP). */
    address: string;
    /** API URL the exporter uses (`?target=host:port`). Default `https://<address>:8006`. */
    apiUrl?: string;
    /** The node's name, the `pve_node` label. Default: `node`. */
    nodeName?: string;
    /**
     * PEM of the CA that signed the API certificate (PVE's own is /etc/pve/pve-root-ca.pem), the exporter's trust
     * anchor. Default: the container's system trust store (plus `downloads.extraCaCerts`). The exporter (Python
     * requests) cannot pin a fingerprint, so pinning means giving the CA.
     */
    caCertPem?: pulumi.Input<string>;
    /** Verify the API certificate. Default true; false only for throwaway labs. */
    verifyTls?: boolean;
    /** Read-only user, `name@realm`. Default `homelab-monitoring@pve`. */
    userId?: string;
    /** Role holding Datastore.Audit, Sys.Audit, VM.Audit (+ VM.Monitor on PVE 8, VM.GuestAgent.Audit on PVE 9). Default `HomelabMonitoring`. */
    roleId?: string;
    /** Token id. Default `pve-exporter`. */
    tokenName?: string;
    /** pip requirement for the exporter. Default `prometheus-pve-exporter>=3.4,<4`. */
    exporterPackage?: string;
}

/** Mail delivery of alerts. Required: an alert nobody receives is what the original setup had. */
export interface MonitoringSmtpArgs {
    /** `host:port` of the SMTP relay, e.g. `smtp.example.com:587` (port 465: implicit TLS). */
    smarthost: string;
    /** Sender address. */
    from: string;
    /** Recipient address(es). */
    to: string | string[];
    /** SMTP AUTH user. Default: no authentication. */
    username?: string;
    /** SMTP AUTH password (secret). Needs `username`. Written to a 0600 file, never into a config file. */
    password?: pulumi.Input<string>;
    /** Require STARTTLS. Default true. Set false only for a relay on a trusted network. */
    requireTls?: boolean;
    /** EHLO name. Default: the container's hostname. */
    hello?: string;
}

export interface MonitoringGrafanaArgs {
    /** Install Grafana. Default true (it comes from Grafana's own apt repository, not Debian). */
    enabled?: boolean;
    /** Grafana apt repository (or a mirror). Default `https://apt.grafana.com`. */
    aptRepoUrl?: string;
    /** ASCII-armored signing key of that repository. Default `https://apt.grafana.com/gpg.key`. */
    aptKeyUrl?: string;
    /** Admin user name. Default `admin`; its password is generated (output `grafanaAdminPassword`). */
    adminUser?: string;
}

/** Targets from configuration, on top of what the components report. */
export interface MonitoringExtraTargets {
    nodeExporters?: NodeExporterTarget[];
    /** Probed with the homelab CA as the only trust anchor. */
    httpProbes?: HttpProbeTarget[];
    /** Probed against the system trust store (URLs with public certificates). */
    publicHttpProbes?: HttpProbeTarget[];
    icmpProbes?: IcmpProbeTarget[];
    /** Any other exporter, as static jobs. */
    scrapeJobs?: StaticScrapeJob[];
}

export interface MonitoringSnmpTargetArgs {
    /** Short name, the `device` label. */
    name: string;
    /** Host or IP polled by the SNMP exporter. */
    address: string;
    /** SNMP exporter module. Default `if_mib`. */
    module?: string;
    /** SNMP exporter auth. Default `public_v2`. */
    auth?: string;
}

/**
 * Alert timing. The defaults are the document's; the live tests shorten them (e.g. `scale: 0.05` fires Service
 * Down after 6s instead of 2m and sends the mail after a 2s group wait).
 */
export interface MonitoringAlertTimingArgs {
    /** Multiplies every rule's `for` and Alertmanager's group_wait/group_interval/repeat_interval. Default 1. */
    scale?: number;
    /** Per-rule `for` in seconds, overriding the scaled value, e.g. `{ ServiceDown: 10 }`. */
    forOverrides?: Partial<Record<AlertName, number>>;
    /** Default 15. */
    scrapeIntervalSeconds?: number;
    /** Default 15. */
    evaluationIntervalSeconds?: number;
}

export interface MonitoringLxcArgs {
    /** PVE node to create the container on. */
    node: string;
    /** Template volid (a Template resource's `volid`), a Debian 13 template. */
    template: pulumi.Input<string>;
    /** Storage for the root disk. Default `local-zfs`. */
    storage?: string;
    /** Container id. Default: allocated by PVE. */
    vmid?: number;
    /** Container hostname. Default `monitoring`. */
    hostname?: string;
    /** CPU cores. Default 2. */
    cores?: number;
    /** Memory in MiB, at least 512. Default 2048. */
    memory?: number;
    /** Swap in MiB. Default 512. */
    swap?: number;
    /** Root disk in GiB (it holds the TSDB), at least 4. Default 16. */
    diskGiB?: number;
    network: MonitoringNetworkArgs;
    /** DNS servers of the container, space separated. Default: the host's. */
    nameserver?: string;
    /** DNS search domain. Default: the host's. */
    searchdomain?: string;
    /** Extra PVE tags on the container (`monitoring` is always set). */
    tags?: string[];
    /** DNS name users reach nginx at: in the certificate, Grafana's root_url and the external URLs. */
    publicName: string;
    /** What the other components deployed (their MonitoringTargets outputs); merged. Default none. */
    targets?: pulumi.Input<MonitoringTargets> | pulumi.Input<MonitoringTargets>[];
    /** Targets from configuration. Default none. */
    extraTargets?: MonitoringExtraTargets;
    /** SNMP devices (prometheus-snmp-exporter is installed only when this is not empty). Default none. */
    snmpTargets?: MonitoringSnmpTargetArgs[];
    /** The PVE node through prometheus-pve-exporter and a read-only token. Default: not scraped. */
    pve?: MonitoringPveArgs;
    smtp: MonitoringSmtpArgs;
    /** Default: enabled, from apt.grafana.com. */
    grafana?: MonitoringGrafanaArgs;
    /**
     * Source addresses/CIDRs that may reach /prometheus/ and /alertmanager/ (basic auth is required as well).
     * Default: the private ranges `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` and `127.0.0.1`.
     */
    allowCidrs?: string[];
    /** Basic-auth user for Prometheus and Alertmanager. Default `admin`; the password is generated. */
    basicAuthUser?: string;
    alertTiming?: MonitoringAlertTimingArgs;
    /** Prometheus TSDB retention in days. Default 30. */
    retentionDays?: number;
    /** Package sources, HTTP proxy (apt and pip) and extra trusted CA certificates. Default: upstream, no proxy. */
    downloads?: DownloadSettings;
    /** The homelab CA: signs nginx's certificate and is the trust anchor of the HTTP probes. */
    tls: { ca: HomelabCa };
}

// ---- validation ----------------------------------------------------------------------------------------------

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const DNS_NAME =
    /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const isIpv4 = (s: string) => IPV4.test(s);
const isHost = (s: string) => isIpv4(s) || DNS_NAME.test(s);
const isPort = (s: string) => /^\d{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535;

/** `host:port` (IPv4 or DNS host). */
export function isHostPort(s: string): boolean {
    const i = s.lastIndexOf(":");
    return i > 0 && isHost(s.slice(0, i)) && isPort(s.slice(i + 1));
}

function isCidr(s: string): boolean {
    const [addr, prefix, ...rest] = s.split("/");
    if (rest.length > 0) return false;
    if (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) return false;
    if (isIpv4(addr)) return prefix === undefined || Number(prefix) <= 32;
    // IPv6: hex groups and colons, at most one `::`; nginx parses the details.
    const v6 = /^[0-9a-fA-F:]+$/.test(addr) && addr.includes(":") && (addr.match(/::/g) ?? []).length <= 1;
    return v6 && (prefix === undefined || Number(prefix) <= 128);
}

function isUrl(s: string, schemes: string[]): boolean {
    try {
        const u = new URL(s);
        return schemes.includes(u.protocol) && u.hostname !== "" && !/[\s"'\\]/.test(s);
    } catch {
        return false;
    }
}

/** One line of text without characters that would break the YAML/ini/unit files it ends up in. */
const line = (what: string) =>
    z
        .string({ message: `must be ${what}` })
        .min(1, `must be ${what}, got an empty string`)
        // eslint-disable-next-line no-control-regex -- control characters would break the generated files
        .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "must be a single line without control characters");

const email = z
    .string({ message: "must be an email address" })
    .regex(/^[^\s@<>,;"']+@[^\s@<>,;"']+$/, "must be an email address like alerts@example.com");
const input = <T>(what: string) =>
    z.custom<pulumi.Input<T>>(
        (v) => typeof v === "string" || pulumi.Output.isInstance(v),
        `must be ${what} (a string or an Output)`,
    );
const int = (min: number, max: number, unit = "") =>
    z
        .number({ message: "must be a number" })
        .int("must be a whole number")
        .min(min, `must be ≥ ${min}${unit}`)
        .max(max, `must be ≤ ${max}${unit}`);
const hostField = z
    .string({ message: "must be a host name or IPv4 address" })
    .refine(isHost, "must be a host name or IPv4 address");
const labelValue = line("a label value");
const componentLabel = labelValue.default("extra");

const nodeExporterSchema = z.object({
    address: z.string().refine(isHostPort, "must be host:port, e.g. 10.100.0.20:9100"),
    container: labelValue,
    component: componentLabel,
});
const httpProbeSchema = z.object({
    name: labelValue,
    url: z.string().refine((s) => isUrl(s, ["http:", "https:"]), "must be an http(s) URL"),
    component: componentLabel,
});
const icmpProbeSchema = z.object({ name: labelValue, address: hostField, component: componentLabel });

export const monitoringTargetsSchema = z.object({
    nodeExporters: z.array(nodeExporterSchema).default([]),
    httpProbes: z.array(httpProbeSchema).default([]),
    icmpProbes: z.array(icmpProbeSchema).default([]),
});

const promJobName = z
    .string()
    .regex(/^[a-zA-Z_][a-zA-Z0-9_-]*$/, "must be a job name like postgres_exporter")
    .refine((s) => !RESERVED_JOB_NAMES.includes(s), `must not be one of ours (${RESERVED_JOB_NAMES.join(", ")})`);
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const scrapeJobSchema = z.object({
    jobName: promJobName,
    targets: z.array(z.string().refine(isHostPort, "must be host:port")).min(1, "must list at least one target"),
    metricsPath: z
        .string()
        .regex(/^\/[A-Za-z0-9._~/-]*$/, "must be a path like /metrics")
        .optional(),
    scheme: z.enum(["http", "https"]).optional(),
    labels: z
        .record(z.string().regex(labelName, "must be a Prometheus label name"), labelValue)
        .refine((l) => !Object.keys(l).some((k) => k.startsWith("__")), "must not set reserved labels (__*)")
        .optional(),
});

const snmpSchema = z.object({
    name: labelValue,
    address: hostField,
    module: z
        .string()
        .regex(/^[A-Za-z0-9_]+$/, "must be an SNMP exporter module name like if_mib")
        .default("if_mib"),
    auth: z
        .string()
        .regex(/^[A-Za-z0-9_]+$/, "must be an SNMP exporter auth name like public_v2")
        .default("public_v2"),
});

const pveSchema = z
    .object({
        address: hostField,
        apiUrl: z
            .string()
            .refine((s) => isUrl(s, ["https:"]), "must be an https URL like https://192.168.1.2:8006")
            .optional(),
        nodeName: z
            .string()
            .regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/, "must be a PVE node name")
            .optional(),
        caCertPem: input<string>("a PEM certificate").optional(),
        verifyTls: z.boolean().default(true),
        userId: z
            .string()
            .regex(/^[^\s:/@]+@[A-Za-z][A-Za-z0-9.\-_]+$/, "must be name@realm, e.g. homelab-monitoring@pve")
            .default("homelab-monitoring@pve"),
        roleId: z
            .string()
            .regex(/^[A-Za-z0-9.\-_]+$/, "must be letters, digits, '.', '-', '_'")
            .refine((s) => !s.startsWith("PVE"), "must not start with 'PVE' (reserved for built-in roles)")
            .default("HomelabMonitoring"),
        tokenName: z
            .string()
            .regex(/^[A-Za-z][A-Za-z0-9.\-_]+$/, "must match PVE's token id pattern [A-Za-z][A-Za-z0-9.-_]+")
            .default("pve-exporter"),
        exporterPackage: z
            .string()
            .regex(
                /^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?([<>=!~]=?[A-Za-z0-9.*+!-]+,?)*$/,
                "must be a pip requirement without spaces, e.g. prometheus-pve-exporter==3.4.6",
            )
            .default("prometheus-pve-exporter>=3.4,<4"),
    })
    .refine((p) => p.verifyTls || p.caCertPem === undefined, {
        message: "caCertPem is given but verifyTls is false; drop one of them",
        path: ["verifyTls"],
    });

const smtpSchema = z
    .object({
        smarthost: z.string().refine(isHostPort, "must be host:port, e.g. smtp.example.com:587"),
        from: email,
        // One address or a list; normalised to a list so every problem names its index.
        to: z.preprocess(
            (v) => (typeof v === "string" ? [v] : v),
            z.array(email).min(1, "must list at least one recipient"),
        ),
        username: line("a user name").optional(),
        password: input<string>("a password").optional(),
        requireTls: z.boolean().default(true),
        hello: z
            .string()
            .refine((s) => DNS_NAME.test(s), "must be a host name")
            .optional(),
    })
    .refine((s) => s.password === undefined || s.username !== undefined, {
        message: "a password needs a username (SMTP AUTH)",
        path: ["username"],
    });

const urlField = (schemes: string[]) =>
    z.string().refine((s) => isUrl(s, schemes), `must be a ${schemes.map((x) => x.replace(":", "")).join("/")} URL`);

const downloadsSchema = z
    .object({
        httpProxy: urlField(["http:", "https:"]).optional(),
        debianMirror: urlField(["http:", "https:"]).optional(),
        debianSecurityMirror: urlField(["http:", "https:"]).optional(),
        alpineMirror: urlField(["http:", "https:"]).optional(),
        pipIndexUrl: urlField(["http:", "https:"]).optional(),
        extraCaCerts: z
            .array(z.string().refine((s) => s.includes("-----BEGIN CERTIFICATE-----"), "must be a PEM certificate"))
            .optional(),
        noProxy: z.array(z.string().regex(NO_PROXY_ENTRY, `must be ${NO_PROXY_RULE}`)).optional(),
    })
    .optional();

export const monitoringLxcSchema = z.object({
    node: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/, "must be a PVE node name"),
    template: input<string>("a template volid"),
    storage: z
        .string()
        .regex(/^[a-zA-Z][a-zA-Z0-9\-_.]*$/, "must be a PVE storage id")
        .default("local-zfs"),
    vmid: int(100, 999999999).optional(),
    hostname: z
        .string()
        .refine((s) => DNS_NAME.test(s), "must be a host name")
        .default("monitoring"),
    cores: int(1, 512).default(2),
    memory: int(512, 1048576, " MiB").default(2048),
    swap: int(0, 1048576, " MiB").default(512),
    diskGiB: int(4, 65536, " GiB").default(16),
    network: z
        .object({
            bridge: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,20}$/, "must be a bridge name like vmbr0"),
            ip: z
                .string()
                .refine(
                    (s) => s === "dhcp" || (isCidr(s) && s.includes("/") && isIpv4(s.split("/")[0])),
                    "must be dhcp or an IPv4 CIDR like 192.168.8.85/24",
                )
                .default("dhcp"),
            gw: z.string().refine(isIpv4, "must be an IPv4 address").optional(),
            hwaddr: z
                .string()
                .regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, "must be a MAC address")
                .optional(),
            tag: int(1, 4094).optional(),
            firewall: z.boolean().default(true),
        })
        .refine((n) => n.gw === undefined || n.ip !== "dhcp", { message: "a gateway needs a static ip", path: ["gw"] }),
    nameserver: z
        .string()
        .regex(/^[0-9a-fA-F.: ]+$/, "must be IP addresses separated by spaces")
        .optional(),
    searchdomain: z
        .string()
        .refine((s) => DNS_NAME.test(s), "must be a domain name")
        .optional(),
    tags: z.array(z.string().regex(/^[a-z0-9_][a-z0-9_\-+.]*$/, "must be a lowercase PVE tag")).default([]),
    publicName: z
        .string({ message: "must be a DNS name" })
        .refine((s) => DNS_NAME.test(s) && /[a-zA-Z]/.test(s), "must be a DNS name like monitoring.home.lan"),
    targets: z.unknown().optional(),
    extraTargets: z
        .object({
            nodeExporters: z.array(nodeExporterSchema).default([]),
            httpProbes: z.array(httpProbeSchema).default([]),
            publicHttpProbes: z.array(httpProbeSchema).default([]),
            icmpProbes: z.array(icmpProbeSchema).default([]),
            scrapeJobs: z.array(scrapeJobSchema).default([]),
        })
        .default({ nodeExporters: [], httpProbes: [], publicHttpProbes: [], icmpProbes: [], scrapeJobs: [] })
        .superRefine((x, ctx) => {
            const seen = new Set<string>();
            x.scrapeJobs.forEach((j, i) => {
                if (seen.has(j.jobName))
                    ctx.addIssue({
                        code: "custom",
                        path: ["scrapeJobs", i, "jobName"],
                        message: `duplicate job name ${j.jobName}`,
                    });
                seen.add(j.jobName);
            });
        }),
    snmpTargets: z.array(snmpSchema).default([]),
    pve: pveSchema.optional(),
    smtp: smtpSchema,
    grafana: z
        .object({
            enabled: z.boolean().default(true),
            aptRepoUrl: urlField(["http:", "https:"]).default(DEFAULT_GRAFANA_APT_REPO_URL),
            aptKeyUrl: urlField(["http:", "https:"]).default(DEFAULT_GRAFANA_APT_KEY_URL),
            adminUser: z
                .string()
                .regex(/^[A-Za-z0-9._@-]{1,64}$/, "must be a user name like admin")
                .default("admin"),
        })
        .default({
            enabled: true,
            aptRepoUrl: DEFAULT_GRAFANA_APT_REPO_URL,
            aptKeyUrl: DEFAULT_GRAFANA_APT_KEY_URL,
            adminUser: "admin",
        }),
    allowCidrs: z
        .array(z.string().refine(isCidr, "must be an IP address or CIDR like 192.168.8.0/24"))
        .min(1, "must allow at least one source (Prometheus and Alertmanager would be unreachable)")
        .default(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.1"]),
    basicAuthUser: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be a user name like admin")
        .default("admin"),
    alertTiming: z
        .object({
            scale: z.number().gt(0, "must be > 0").max(10, "must be ≤ 10").default(1),
            forOverrides: z
                .record(z.string(), int(0, 86400 * 7, " s"))
                .refine((o) => Object.keys(o).every((k) => (ALERT_NAMES as readonly string[]).includes(k)), {
                    message: `keys must be alert names: ${ALERT_NAMES.join(", ")}`,
                })
                .default({}),
            scrapeIntervalSeconds: int(1, 3600, " s").default(15),
            evaluationIntervalSeconds: int(1, 3600, " s").default(15),
        })
        .default({ scale: 1, forOverrides: {}, scrapeIntervalSeconds: 15, evaluationIntervalSeconds: 15 }),
    retentionDays: int(1, 3650, " days").default(30),
    downloads: downloadsSchema,
    tls: z.object(
        { ca: z.custom<HomelabCa>((v) => v instanceof HomelabCa, "must be a HomelabCa") },
        { message: "must be { ca: HomelabCa }" },
    ),
});

export type ResolvedMonitoringLxcArgs = z.output<typeof monitoringLxcSchema>;

/** Validates every plain field; throws a ValidationError naming each bad field before anything is created. */
export function validateMonitoringLxcArgs(name: string, args: MonitoringLxcArgs): ResolvedMonitoringLxcArgs {
    return parseOrThrow(monitoringLxcSchema, args, `MonitoringLxc "${name}"`, "MonitoringLxc");
}

/** Validates targets reported by other components (known only at deploy time). */
export function validateTargets(name: string, t: unknown, field = "targets"): MonitoringTargets {
    return parseOrThrow(monitoringTargetsSchema, t, `MonitoringLxc "${name}" ${field}`, `MonitoringLxc.${field}`);
}

/** `host:port` the PVE exporter is given as `?target=`. */
export function pveTarget(pve: { address: string; apiUrl?: string }): string {
    if (!pve.apiUrl) return `${pve.address}:8006`;
    const u = new URL(pve.apiUrl);
    return `${u.hostname}:${u.port || "443"}`;
}
