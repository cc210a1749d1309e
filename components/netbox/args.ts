import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { DEBIAN_13_TEMPLATE } from "../../providers/index";
import {
    DownloadSettings,
    HomelabCa,
    NO_PROXY_ENTRY,
    NO_PROXY_RULE,
    ResolvedDownloadSettings,
    resolveDownloads,
} from "../common/index";
import { ValidationError, formatPath } from "../common/validation";
import {
    Ipv4Cidr,
    cidrContains,
    cidrsOverlap,
    formatCidr,
    intToIp,
    ipToInt,
    isHostAddress,
    isIpv4,
    parseCidr,
    subnetOf,
} from "./ipv4";

/** A JSON value, as PLUGINS_CONFIG entries are written into configuration.py. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One host bridge of the three-tier network. */
export interface NetboxBridgeArgs {
    /** Bridge name on the PVE node (`^[a-z][a-z0-9_]{1,20}$`). */
    name?: string;
    /** The subnet in CIDR form, written as its network address (`10.100.0.0/24`). */
    cidr?: string;
    /** The host's address on the bridge: the containers' gateway and the NAT source. Default: the subnet's first address (`.1`). */
    hostAddress?: string;
}

/** The three-tier network (document 000): external → proxy → DMZ → app → backend → db, cache. */
export interface NetboxNetworkArgs {
    /** Existing bridge with the uplink: NAT egress and the proxy's front NIC. Not managed here. Default `vmbr0`. */
    external?: string;
    /** Backend bridge (app, db, cache). Default `{ name: "vmbr1", cidr: "10.100.0.0/24", hostAddress: "10.100.0.1" }`. */
    backend?: NetboxBridgeArgs;
    /** DMZ bridge (app, proxy). Default `{ name: "vmbr2", cidr: "10.100.1.0/24", hostAddress: "10.100.1.1" }`. */
    dmz?: NetboxBridgeArgs;
    /** Create the backend and DMZ bridges as Bridge resources. Default true; with false they must already exist. */
    manageBridges?: boolean;
    /**
     * IPv4 addresses or CIDRs (e.g. a MonitoringLxc) the host lets through to node_exporter (tcp/9100) in the
     * backend and DMZ. Default none: nothing outside the two subnets reaches them.
     */
    monitoringSources?: string[];
}

/** Size and identity of one container. Every field is optional; defaults are the document's. */
export interface NetboxContainerArgs {
    /** PVE container id (100..999999999). */
    vmid?: number;
    /** Hostname (a DNS label). */
    hostname?: string;
    /** CPU cores. */
    cores?: number;
    /** Memory in MiB. The memory-derived tuning (PostgreSQL, Valkey) follows it. */
    memory?: number;
    /** Swap in MiB. */
    swap?: number;
    /** Root disk in GiB. */
    diskGiB?: number;
}

/** CT 100 `netbox`: 2 cores, 4096 MiB, 2048 swap, 32 GiB; backend `.10` (eth0) and DMZ `.10` (eth1). */
export interface NetboxAppArgs extends NetboxContainerArgs {
    /** Address on the backend subnet (reaches db and cache). Default: backend network + 10. */
    backendAddress?: string;
    /** Address on the DMZ subnet (gunicorn listens here for the proxy). Default: DMZ network + 10. */
    dmzAddress?: string;
    /** Gunicorn worker processes. Default 2 × cores (document 000: "2-4 × CPU cores", 4 for its 2 cores). */
    gunicornWorkers?: number;
}

/** CT 101 `netbox-db`: 2 cores, 2048 MiB, 1024 swap, 16 GiB; backend `.20`. */
export interface NetboxDbArgs extends NetboxContainerArgs {
    /** Address on the backend subnet. Default: backend network + 20. */
    backendAddress?: string;
}

/** CT 102 `netbox-redis`: 1 core, 1024 MiB, 512 swap, 8 GiB; backend `.30`. */
export interface NetboxCacheArgs extends NetboxContainerArgs {
    /** Address on the backend subnet. Default: backend network + 30. */
    backendAddress?: string;
}

/** CT 103 `netbox-proxy`: 1 core, 512 MiB, 256 swap, 8 GiB; external (eth0, DHCP) and DMZ `.40` (eth1). */
export interface NetboxProxyArgs extends NetboxContainerArgs {
    /** Address on the DMZ subnet. Default: DMZ network + 40. */
    dmzAddress?: string;
    /** Front NIC on the external bridge: `dhcp` or a static IPv4 CIDR. Default `dhcp`. */
    externalIp?: string;
    /** Gateway for a static `externalIp`. Default none. */
    externalGateway?: string;
}

/** A NetBox plugin installed into NetBox's venv and enabled in PLUGINS. */
export interface NetboxPlugin {
    /** PyPI distribution, e.g. `netbox-plugin-dns`. */
    package: string;
    /** Exact version, installed as `package==version`. */
    version: string;
    /** Django app name listed in PLUGINS, e.g. `netbox_dns`. */
    module: string;
    /** Its PLUGINS_CONFIG entry. Default: none (the plugin's defaults). */
    config?: { [key: string]: JsonValue };
}

/** Proxbox (documents 002/003): the netbox-proxbox plugin plus the proxbox-api backend on the app container. */
export interface NetboxProxboxArgs {
    /** Default false. */
    enabled?: boolean;
    /** netbox-proxbox version. Default `0.0.15` (paired with proxbox-api 0.0.11; needs NetBox ≥ 4.5.8). */
    pluginVersion?: string;
    /** proxbox-api version. Default `0.0.11`. */
    apiVersion?: string;
    /**
     * Oldest NetBox the chosen plugin supports; checked against `netboxVersion` before anything is created.
     * Default `4.5.8` (the default plugin's floor). netbox-proxbox releases refuse to load outside their range.
     */
    minNetboxVersion?: string;
    /** PVE user that owns the read-only token. Default `proxbox@pve`. */
    userId?: string;
    /** PVE role with the read-only privileges (version-aware). Default `ProxboxReadOnly`. */
    roleId?: string;
    /** Token id under `userId`. Default `netbox`. */
    tokenName?: string;
    /** uvicorn port on 127.0.0.1. Default 8800. */
    port?: number;
    /** nginx TLS port on 127.0.0.1 in front of uvicorn. Default 8443. */
    tlsPort?: number;
    /** uvicorn workers. Default 1: the in-process rate limiter and caches stay coherent; SQLite has one writer. */
    workers?: number;
}

/** Where the proxy's certificate comes from. */
export interface NetboxTlsArgs {
    /**
     * CA that signs the proxy's certificate (and proxbox-api's). Default: a new HomelabCa `${name}-ca`, a child
     * of the stack.
     */
    ca?: HomelabCa;
    /** A certificate of your own for the proxy (PEM; leaf first, then intermediates) instead of one from the CA. */
    certPem?: pulumi.Input<string>;
    /** Its private key (PEM). Pass it as a secret. Required with `certPem`. */
    keyPem?: pulumi.Input<string>;
    /** The CA of a certificate of your own, reported as the `caCertPem` output. Default: `certPem`. */
    caCertPem?: pulumi.Input<string>;
}

/** Database and role names. */
export interface NetboxDatabaseArgs {
    /** Default `netbox`. */
    name?: string;
    /** Default `netbox`. */
    user?: string;
}

/**
 * NetBox on four Debian 13 LXCs with a three-tier network (document 000), optionally with Proxbox (002/003).
 * Everything has a default: `new NetboxStack("netbox", {})` deploys the document's layout.
 */
export interface NetboxStackArgs {
    /** PVE node name. Default `pve`. */
    node?: string;
    /** Storage for the containers' root disks. Default `local-zfs`. */
    storage?: string;
    /** Template volid for all four containers. Default: a Template resource for Debian 13 on `templateStorage`. */
    template?: pulumi.Input<string>;
    /** Storage that holds the template a Template resource downloads. Default `local`. */
    templateStorage?: string;
    network?: NetboxNetworkArgs;
    app?: NetboxAppArgs;
    db?: NetboxDbArgs;
    cache?: NetboxCacheArgs;
    proxy?: NetboxProxyArgs;
    /** The name users reach NetBox by: certificate, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS. Default `netbox.home.arpa`. */
    publicName?: string;
    /** More names for the certificate and ALLOWED_HOSTS. Default none. */
    extraNames?: string[];
    /** NetBox release tag. Default `v4.4.7`. */
    netboxVersion?: string;
    /**
     * Release tarball URL; `{version}` is replaced by `netboxVersion`. Default the GitHub archive
     * `https://github.com/netbox-community/netbox/archive/refs/tags/{version}.tar.gz`; point it at a mirror if needed.
     */
    releaseUrl?: string;
    /** Plugins. Default: the document's seven at their pinned versions (DEFAULT_NETBOX_PLUGINS). */
    plugins?: NetboxPlugin[];
    proxbox?: NetboxProxboxArgs;
    /** Package sources, proxy and extra CAs for every container. Default: upstream, no proxy. */
    downloads?: DownloadSettings;
    /** node_exporter in every container, reported in `monitoringTargets`. Default true. */
    nodeExporter?: boolean;
    /**
     * DNS servers for the containers, space separated (e.g. `192.168.1.1 1.1.1.1`). Default: none set, so PVE
     * gives them the host's; set this when the host resolves through 127.0.0.1, which a container cannot reach.
     */
    nameserver?: string;
    tls?: NetboxTlsArgs;
    /** NetBox superuser name. Default `admin`. */
    adminUser?: string;
    /** Its e-mail address. Default `admin@<publicName>`. */
    adminEmail?: string;
    /** NetBox TIME_ZONE. Default `UTC`. */
    timeZone?: string;
    /** PostgreSQL major version the db container's packages provide (Debian 13: 17). Default 17. */
    postgresVersion?: number;
    database?: NetboxDatabaseArgs;
}

export const DEFAULT_NETBOX_VERSION = "v4.4.7";
export const DEFAULT_RELEASE_URL = "https://github.com/netbox-community/netbox/archive/refs/tags/{version}.tar.gz";

/** The document's seven plugins at the versions the original deployment pinned (ORIGINALS.md). */
export const DEFAULT_NETBOX_PLUGINS: readonly NetboxPlugin[] = [
    { package: "netbox-plugin-dns", version: "1.4.4", module: "netbox_dns" },
    { package: "netbox-secrets", version: "2.4.1", module: "netbox_secrets" },
    { package: "netbox-acls", version: "1.9.1", module: "netbox_acls" },
    { package: "netbox-bgp", version: "0.17.0", module: "netbox_bgp" },
    { package: "netbox-inventory", version: "2.4.1", module: "netbox_inventory" },
    { package: "netbox-floorplan-plugin", version: "0.8.0", module: "netbox_floorplan" },
    { package: "netbox-reorder-rack", version: "1.1.4", module: "netbox_reorder_rack" },
];

export const PROXBOX_PLUGIN_MODULE = "netbox_proxbox";

/** Smallest sizes each role works with (MiB / GiB): below these, installs or the tuning stop making sense. */
export const MINIMUMS = {
    app: { memory: 1024, diskGiB: 8 },
    db: { memory: 512, diskGiB: 4 },
    cache: { memory: 256, diskGiB: 2 },
    proxy: { memory: 128, diskGiB: 2 },
} as const;

export type Role = keyof typeof MINIMUMS;

export interface ResolvedBridge {
    name: string;
    /** Network in CIDR form, `10.100.0.0/24`. */
    cidr: string;
    prefix: number;
    hostAddress: string;
}

export interface ResolvedContainer {
    vmid: number;
    hostname: string;
    cores: number;
    memory: number;
    swap: number;
    diskGiB: number;
}

export type ResolvedProxbox =
    | { enabled: false }
    | {
          enabled: true;
          pluginVersion: string;
          apiVersion: string;
          minNetboxVersion: string;
          userId: string;
          roleId: string;
          tokenName: string;
          port: number;
          tlsPort: number;
          workers: number;
      };

/** Every argument with its default filled in and checked: what the component builds from. */
export interface ResolvedNetboxStack {
    node: string;
    storage: string;
    template?: pulumi.Input<string>;
    templateStorage: string;
    templateName: string;
    network: {
        external: string;
        backend: ResolvedBridge;
        dmz: ResolvedBridge;
        manageBridges: boolean;
        monitoringSources: string[];
    };
    app: ResolvedContainer & { backendAddress: string; dmzAddress: string; gunicornWorkers: number };
    db: ResolvedContainer & { backendAddress: string };
    cache: ResolvedContainer & { backendAddress: string };
    proxy: ResolvedContainer & { dmzAddress: string; externalIp: string; externalGateway?: string };
    publicName: string;
    extraNames: string[];
    netboxVersion: string;
    /** The release URL with `{version}` filled in. */
    releaseUrl: string;
    /** The plugins to install, netbox-proxbox included when the proxbox option is on. */
    plugins: NetboxPlugin[];
    proxbox: ResolvedProxbox;
    downloads: ResolvedDownloadSettings;
    nodeExporter: boolean;
    nameserver?: string;
    tls: NetboxTlsArgs;
    adminUser: string;
    adminEmail: string;
    timeZone: string;
    postgresVersion: number;
    database: { name: string; user: string };
}

// ---- schema: types, formats and per-field ranges; cross-field rules follow in resolveNetboxArgs ----

const fmt = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : String(v));

function int(what: string, min: number, max: number, unit = ""): z.ZodNumber {
    const u = unit ? ` ${unit}` : "";
    return z
        .number({ error: (i) => `must be a number, got ${fmt(i.input)}` })
        .int({ error: (i) => `must be a whole number, got ${fmt(i.input)}` })
        .min(min, { error: (i) => `must be ≥ ${min}${u}, got ${fmt(i.input)}` })
        .max(max, { error: (i) => `must be ≤ ${max}${u}, got ${fmt(i.input)}` })
        .describe(what);
}

function str(re: RegExp, rule: string): z.ZodString {
    return z
        .string({ error: (i) => `must be a string, got ${fmt(i.input)}` })
        .regex(re, { error: (i) => `must be ${rule}, got ${fmt(i.input)}` });
}

const typeError = (what: string) => ({
    error: (i: { code?: string; input?: unknown }) =>
        i.code === "invalid_type" ? `must be ${what}, got ${fmt(i.input)}` : undefined,
});

function obj<T extends z.core.$ZodLooseShape>(shape: T) {
    return z.strictObject(shape, typeError("an object"));
}

const bool = () => z.boolean(typeError("true or false"));

function arr<T extends z.ZodType>(item: T) {
    return z.array(item, typeError("a list"));
}

const ipv4 = z
    .string({ error: (i) => `must be a string, got ${fmt(i.input)}` })
    .refine(isIpv4, { error: (i) => `must be an IPv4 address (a.b.c.d), got ${fmt(i.input)}` });

const cidr = z
    .string({ error: (i) => `must be a string, got ${fmt(i.input)}` })
    .refine((s) => parseCidr(s) !== undefined, {
        error: (i) => `must be an IPv4 CIDR (a.b.c.d/p), got ${fmt(i.input)}`,
    });

const BRIDGE_NAME = /^[a-z][a-z0-9_]{1,20}$/;
const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const PIP_NAME = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const PIP_VERSION = /^[0-9][0-9A-Za-z.+!_-]*$/;
const PY_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SQL_IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const NETBOX_VERSION = /^v[0-9]+\.[0-9]+\.[0-9]+$/;
const BARE_VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;

const isInput = (v: unknown): boolean => typeof v === "string" || pulumi.Output.isInstance(v) || v instanceof Promise;

const input = z.custom<pulumi.Input<string>>(isInput, {
    error: (i) => `must be a string or an Output, got ${fmt(i.input)}`,
});

function containerShape(role: Role) {
    const min = MINIMUMS[role];
    return {
        vmid: int("vmid", 100, 999_999_999).optional(),
        hostname: str(HOSTNAME, "a hostname (lowercase letters, digits, '-', ≤ 63 characters)").optional(),
        cores: int("cores", 1, 128).optional(),
        memory: int("memory", min.memory, 1_048_576, "MiB").optional(),
        swap: int("swap", 0, 1_048_576, "MiB").optional(),
        diskGiB: int("diskGiB", min.diskGiB, 65_536, "GiB").optional(),
    };
}

const bridgeSchema = obj({
    name: str(BRIDGE_NAME, "a bridge name like vmbr1 (^[a-z][a-z0-9_]{1,20}$)").optional(),
    cidr: cidr.optional(),
    hostAddress: ipv4.optional(),
});

const jsonValue = z.json({ error: (i) => `must be JSON-compatible, got ${fmt(i.input)}` });

const pluginSchema = obj({
    package: str(PIP_NAME, "a PyPI distribution name"),
    version: str(PIP_VERSION, "a version such as 1.4.4"),
    module: str(PY_IDENT, "a Python module name such as netbox_dns"),
    config: z.record(z.string(), jsonValue).optional(),
});

const schema = obj({
    node: str(HOSTNAME, "a PVE node name").optional(),
    storage: str(/^[A-Za-z][A-Za-z0-9._-]*$/, "a PVE storage id").optional(),
    template: input.optional(),
    templateStorage: str(/^[A-Za-z][A-Za-z0-9._-]*$/, "a PVE storage id").optional(),
    network: obj({
        external: str(BRIDGE_NAME, "a bridge name like vmbr0").optional(),
        backend: bridgeSchema.optional(),
        dmz: bridgeSchema.optional(),
        manageBridges: bool().optional(),
        monitoringSources: arr(
            z.string().refine((s) => isIpv4(s) || parseCidr(s) !== undefined, {
                error: (i) => `must be an IPv4 address or CIDR, got ${fmt(i.input)}`,
            }),
        ).optional(),
    }).optional(),
    app: obj({
        ...containerShape("app"),
        backendAddress: ipv4.optional(),
        dmzAddress: ipv4.optional(),
        gunicornWorkers: int("gunicornWorkers", 1, 64).optional(),
    }).optional(),
    db: obj({ ...containerShape("db"), backendAddress: ipv4.optional() }).optional(),
    cache: obj({ ...containerShape("cache"), backendAddress: ipv4.optional() }).optional(),
    proxy: obj({
        ...containerShape("proxy"),
        dmzAddress: ipv4.optional(),
        externalIp: z
            .string()
            .refine((s) => s === "dhcp" || parseCidr(s) !== undefined, {
                error: (i) => `must be "dhcp" or an IPv4 CIDR, got ${fmt(i.input)}`,
            })
            .optional(),
        externalGateway: ipv4.optional(),
    }).optional(),
    publicName: str(DNS_NAME, "a lowercase DNS name such as netbox.home.arpa").optional(),
    extraNames: arr(str(DNS_NAME, "a lowercase DNS name")).optional(),
    netboxVersion: str(NETBOX_VERSION, "a release tag such as v4.4.7").optional(),
    releaseUrl: z
        .string()
        .refine((s) => /^https?:\/\/[^\s'"]+$/.test(s), {
            error: (i) => `must be an http(s) URL without spaces or quotes, got ${fmt(i.input)}`,
        })
        .optional(),
    plugins: arr(pluginSchema).optional(),
    proxbox: obj({
        enabled: bool().optional(),
        pluginVersion: str(PIP_VERSION, "a version such as 0.0.15").optional(),
        apiVersion: str(PIP_VERSION, "a version such as 0.0.11").optional(),
        minNetboxVersion: str(BARE_VERSION, "a version such as 4.5.8").optional(),
        userId: str(/^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+$/, "a PVE user id such as proxbox@pve").optional(),
        roleId: str(/^(?!PVE)[A-Za-z0-9._-]+$/, "a role id not starting with PVE").optional(),
        tokenName: str(/^[A-Za-z][A-Za-z0-9._-]*$/, "a token id such as netbox").optional(),
        port: int("port", 1024, 65535).optional(),
        tlsPort: int("tlsPort", 1024, 65535).optional(),
        workers: int("workers", 1, 32).optional(),
    }).optional(),
    downloads: obj({
        httpProxy: z.string().optional(),
        debianMirror: z.string().optional(),
        debianSecurityMirror: z.string().optional(),
        alpineMirror: z.string().optional(),
        pipIndexUrl: z.string().optional(),
        extraCaCerts: arr(z.string()).optional(),
        noProxy: arr(z.string().regex(NO_PROXY_ENTRY, `must be ${NO_PROXY_RULE}`)).optional(),
    }).optional(),
    nodeExporter: bool().optional(),
    nameserver: z
        .string({ error: (i) => `must be a string, got ${fmt(i.input)}` })
        .refine((v) => v.split(" ").every(isIpv4), {
            error: (i) => `must be IPv4 addresses separated by single spaces, got ${fmt(i.input)}`,
        })
        .optional(),
    tls: obj({
        ca: z.custom<HomelabCa>((v) => v instanceof HomelabCa, { error: () => "must be a HomelabCa" }).optional(),
        certPem: input.optional(),
        keyPem: input.optional(),
        caCertPem: input.optional(),
    }).optional(),
    adminUser: str(/^[A-Za-z0-9@.+_-]{1,150}$/, "a Django user name (letters, digits, @.+-_)").optional(),
    adminEmail: str(/^[^\s@'"]+@[^\s@'"]+$/, "an e-mail address").optional(),
    timeZone: str(/^[A-Za-z0-9_+/-]+$/, "a time zone such as Europe/Berlin").optional(),
    postgresVersion: int("postgresVersion", 13, 99).optional(),
    database: obj({
        name: str(SQL_IDENT, "a lowercase SQL identifier").optional(),
        user: str(SQL_IDENT, "a lowercase SQL identifier").optional(),
    }).optional(),
});

/** Turns zod issues into `NetboxStack.<path>: <rule>` lines (unknown keys get one line each). */
function issuesToProblems(prefix: string, issues: readonly z.core.$ZodIssue[]): string[] {
    const out: string[] = [];
    for (const i of issues) {
        if (i.code === "unrecognized_keys") {
            for (const k of i.keys) out.push(`${formatPath(prefix, [...i.path, k])}: unknown setting`);
        } else {
            out.push(`${formatPath(prefix, i.path)}: ${i.message}`);
        }
    }
    return out;
}

const compareVersions = (a: string, b: string): number => {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
    return 0;
};

/**
 * Validates `args` and fills in every default. Throws one ValidationError listing every problem, each naming
 * its field (`NetboxStack.db.memory: must be ≥ 512 MiB, got 128`), before anything is registered.
 */
export function resolveNetboxArgs(name: string, args: NetboxStackArgs | undefined): ResolvedNetboxStack {
    const subject = `NetboxStack "${name}"`;
    const P = "NetboxStack";
    const parsed = schema.safeParse(args ?? {});
    if (!parsed.success) throw new ValidationError(subject, issuesToProblems(P, parsed.error.issues));
    const a = parsed.data;
    const problems: string[] = [];

    // ---- network ----
    const external = a.network?.external ?? "vmbr0";
    const bridge = (
        key: "backend" | "dmz",
        defName: string,
        defCidr: string,
    ): { resolved: ResolvedBridge; subnet: Ipv4Cidr } => {
        const b = a.network?.[key] ?? {};
        const c = parseCidr(b.cidr ?? defCidr)!;
        const subnet = subnetOf(c.address, c.prefix);
        if (c.address !== subnet.network) {
            problems.push(
                `${P}.network.${key}.cidr: must be written as its network address (${formatCidr(subnet)}), got ${fmt(b.cidr)}`,
            );
        }
        if (c.prefix < 8 || c.prefix > 29) {
            problems.push(`${P}.network.${key}.cidr: prefix must be /8 to /29, got /${c.prefix}`);
        }
        const host = b.hostAddress ?? intToIp(subnet.network + 1);
        if (b.hostAddress !== undefined && !isHostAddress(subnet, ipToInt(host))) {
            problems.push(
                `${P}.network.${key}.hostAddress: must be a host address in ${formatCidr(subnet)}, got ${fmt(host)}`,
            );
        }
        return {
            resolved: { name: b.name ?? defName, cidr: formatCidr(subnet), prefix: subnet.prefix, hostAddress: host },
            subnet,
        };
    };
    const backend = bridge("backend", "vmbr1", "10.100.0.0/24");
    const dmz = bridge("dmz", "vmbr2", "10.100.1.0/24");
    if (cidrsOverlap(backend.subnet, dmz.subnet)) {
        problems.push(
            `${P}.network.dmz.cidr: overlaps network.backend.cidr (${dmz.resolved.cidr} and ${backend.resolved.cidr})`,
        );
    }
    const bridgeNames: [string, string][] = [
        ["network.external", external],
        ["network.backend.name", backend.resolved.name],
        ["network.dmz.name", dmz.resolved.name],
    ];
    bridgeNames.forEach(([field, n], i) => {
        const first = bridgeNames.findIndex(([, m]) => m === n);
        if (first < i) problems.push(`${P}.${field}: ${fmt(n)} is already used by ${bridgeNames[first][0]}`);
    });
    const monitoringSources = (a.network?.monitoringSources ?? []).map((s) => (isIpv4(s) ? `${s}/32` : s));

    // ---- containers ----
    const netOffset = (subnet: Ipv4Cidr, n: number) => intToIp(subnet.network + n);
    const container = (d: ResolvedContainer, given: NetboxContainerArgs | undefined): ResolvedContainer => ({
        vmid: given?.vmid ?? d.vmid,
        hostname: given?.hostname ?? d.hostname,
        cores: given?.cores ?? d.cores,
        memory: given?.memory ?? d.memory,
        swap: given?.swap ?? d.swap,
        diskGiB: given?.diskGiB ?? d.diskGiB,
    });
    const appBase = container(
        { vmid: 100, hostname: "netbox", cores: 2, memory: 4096, swap: 2048, diskGiB: 32 },
        a.app,
    );
    const app = {
        ...appBase,
        backendAddress: a.app?.backendAddress ?? netOffset(backend.subnet, 10),
        dmzAddress: a.app?.dmzAddress ?? netOffset(dmz.subnet, 10),
        gunicornWorkers: a.app?.gunicornWorkers ?? 2 * appBase.cores,
    };
    const db = {
        ...container({ vmid: 101, hostname: "netbox-db", cores: 2, memory: 2048, swap: 1024, diskGiB: 16 }, a.db),
        backendAddress: a.db?.backendAddress ?? netOffset(backend.subnet, 20),
    };
    const cache = {
        ...container({ vmid: 102, hostname: "netbox-redis", cores: 1, memory: 1024, swap: 512, diskGiB: 8 }, a.cache),
        backendAddress: a.cache?.backendAddress ?? netOffset(backend.subnet, 30),
    };
    const proxy = {
        ...container({ vmid: 103, hostname: "netbox-proxy", cores: 1, memory: 512, swap: 256, diskGiB: 8 }, a.proxy),
        dmzAddress: a.proxy?.dmzAddress ?? netOffset(dmz.subnet, 40),
        externalIp: a.proxy?.externalIp ?? "dhcp",
        externalGateway: a.proxy?.externalGateway,
    };

    // Addresses: inside their subnet, usable by a host, not the host's own, and not shared.
    const placed: { field: string; subnet: "backend" | "dmz"; address: string }[] = [
        { field: "app.backendAddress", subnet: "backend", address: app.backendAddress },
        { field: "db.backendAddress", subnet: "backend", address: db.backendAddress },
        { field: "cache.backendAddress", subnet: "backend", address: cache.backendAddress },
        { field: "app.dmzAddress", subnet: "dmz", address: app.dmzAddress },
        { field: "proxy.dmzAddress", subnet: "dmz", address: proxy.dmzAddress },
    ];
    const nets = { backend, dmz };
    placed.forEach((p, i) => {
        const net = nets[p.subnet];
        const addr = ipToInt(p.address);
        if (!cidrContains(net.subnet, addr)) {
            problems.push(
                `${P}.${p.field}: must be inside network.${p.subnet}.cidr (${net.resolved.cidr}), got ${p.address}`,
            );
        } else if (!isHostAddress(net.subnet, addr)) {
            problems.push(
                `${P}.${p.field}: is the network or broadcast address of ${net.resolved.cidr}, got ${p.address}`,
            );
        } else if (p.address === net.resolved.hostAddress) {
            problems.push(`${P}.${p.field}: is the host's own address on ${net.resolved.name}, got ${p.address}`);
        }
        const first = placed.findIndex((q) => q.address === p.address);
        if (first < i) problems.push(`${P}.${p.field}: ${p.address} is already used by ${placed[first].field}`);
    });

    if (proxy.externalIp !== "dhcp") {
        const c = parseCidr(proxy.externalIp)!;
        const subnet = subnetOf(c.address, c.prefix);
        for (const [key, net] of Object.entries(nets)) {
            if (cidrsOverlap(subnet, net.subnet)) {
                problems.push(
                    `${P}.proxy.externalIp: ${proxy.externalIp} overlaps network.${key}.cidr (${net.resolved.cidr})`,
                );
            }
        }
        if (proxy.externalGateway !== undefined && !cidrContains(subnet, ipToInt(proxy.externalGateway))) {
            problems.push(
                `${P}.proxy.externalGateway: must be inside ${formatCidr(subnet)}, got ${proxy.externalGateway}`,
            );
        }
    } else if (proxy.externalGateway !== undefined) {
        problems.push(`${P}.proxy.externalGateway: only applies to a static proxy.externalIp (DHCP brings its own)`);
    }

    const roles: [Role, ResolvedContainer][] = [
        ["app", app],
        ["db", db],
        ["cache", cache],
        ["proxy", proxy],
    ];
    roles.forEach(([role, c], i) => {
        const first = roles.findIndex(([, d]) => d.vmid === c.vmid);
        if (first < i) problems.push(`${P}.${role}.vmid: ${c.vmid} is already used by ${roles[first][0]}`);
        const firstHost = roles.findIndex(([, d]) => d.hostname === c.hostname);
        if (firstHost < i)
            problems.push(`${P}.${role}.hostname: ${fmt(c.hostname)} is already used by ${roles[firstHost][0]}`);
    });

    // ---- NetBox, plugins, proxbox ----
    const netboxVersion = a.netboxVersion ?? DEFAULT_NETBOX_VERSION;
    const releaseUrl = (a.releaseUrl ?? DEFAULT_RELEASE_URL).split("{version}").join(netboxVersion);
    const plugins: NetboxPlugin[] = (a.plugins ?? DEFAULT_NETBOX_PLUGINS).map((p) => ({ ...p }) as NetboxPlugin);

    let proxbox: ResolvedProxbox = { enabled: false };
    if (a.proxbox?.enabled) {
        const pb = a.proxbox;
        proxbox = {
            enabled: true,
            pluginVersion: pb.pluginVersion ?? "0.0.15",
            apiVersion: pb.apiVersion ?? "0.0.11",
            minNetboxVersion: pb.minNetboxVersion ?? "4.5.8",
            userId: pb.userId ?? "proxbox@pve",
            roleId: pb.roleId ?? "ProxboxReadOnly",
            tokenName: pb.tokenName ?? "netbox",
            port: pb.port ?? 8800,
            tlsPort: pb.tlsPort ?? 8443,
            workers: pb.workers ?? 1,
        };
        if (compareVersions(netboxVersion.slice(1), proxbox.minNetboxVersion) < 0) {
            problems.push(
                `${P}.proxbox.enabled: netbox-proxbox ${proxbox.pluginVersion} needs NetBox ≥ ${proxbox.minNetboxVersion}, ` +
                    `got netboxVersion ${netboxVersion} (raise netboxVersion, or pin proxbox.pluginVersion and ` +
                    `proxbox.minNetboxVersion to a release that supports it)`,
            );
        }
        if (proxbox.port === proxbox.tlsPort) {
            problems.push(`${P}.proxbox.tlsPort: must differ from proxbox.port (${proxbox.port})`);
        }
        if (plugins.some((p) => p.module === PROXBOX_PLUGIN_MODULE)) {
            problems.push(
                `${P}.plugins: lists ${PROXBOX_PLUGIN_MODULE}, which proxbox.enabled adds itself (set proxbox.pluginVersion instead)`,
            );
        }
        plugins.push({ package: "netbox-proxbox", version: proxbox.pluginVersion, module: PROXBOX_PLUGIN_MODULE });
    }
    plugins.forEach((p, i) => {
        const firstModule = plugins.findIndex((q) => q.module === p.module);
        if (firstModule < i)
            problems.push(`${P}.plugins[${i}].module: ${fmt(p.module)} is already listed at plugins[${firstModule}]`);
        const firstPkg = plugins.findIndex((q) => q.package.toLowerCase() === p.package.toLowerCase());
        if (firstPkg < i)
            problems.push(`${P}.plugins[${i}].package: ${fmt(p.package)} is already listed at plugins[${firstPkg}]`);
    });

    const tls = a.tls ?? {};
    if ((tls.certPem === undefined) !== (tls.keyPem === undefined)) {
        problems.push(
            `${P}.tls: certPem and keyPem go together (got only ${tls.certPem === undefined ? "keyPem" : "certPem"})`,
        );
    }

    const publicName = a.publicName ?? "netbox.home.arpa";
    const extraNames = a.extraNames ?? [];
    extraNames.forEach((n, i) => {
        if (n === publicName || extraNames.indexOf(n) < i)
            problems.push(`${P}.extraNames[${i}]: ${fmt(n)} is listed twice`);
    });

    if (problems.length > 0) throw new ValidationError(subject, problems);

    return {
        node: a.node ?? "pve",
        storage: a.storage ?? "local-zfs",
        template: a.template,
        templateStorage: a.templateStorage ?? "local",
        templateName: DEBIAN_13_TEMPLATE,
        network: {
            external,
            backend: backend.resolved,
            dmz: dmz.resolved,
            manageBridges: a.network?.manageBridges ?? true,
            monitoringSources,
        },
        app,
        db,
        cache,
        proxy,
        publicName,
        extraNames,
        netboxVersion,
        releaseUrl,
        plugins,
        proxbox,
        downloads: resolveDownloads(a.downloads),
        nodeExporter: a.nodeExporter ?? true,
        nameserver: a.nameserver,
        tls,
        adminUser: a.adminUser ?? "admin",
        adminEmail: a.adminEmail ?? `admin@${publicName}`,
        timeZone: a.timeZone ?? "UTC",
        postgresVersion: a.postgresVersion ?? 17,
        database: { name: a.database?.name ?? "netbox", user: a.database?.user ?? "netbox" },
    };
}
