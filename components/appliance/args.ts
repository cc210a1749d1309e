import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import {
    ContainerOs,
    DownloadSettings,
    NO_PROXY_ENTRY,
    NO_PROXY_RULE,
    ResolvedDownloadSettings,
    assertNoProblems,
    parseOrThrow,
    resolveDownloads,
} from "../common/index";
import {
    AddressRanges,
    Ipv4Subnet,
    addressAt,
    formatCidr,
    formatIpv4,
    inRanges,
    inSubnet,
    parseCidr,
    parseIpv4,
    prefixToNetmask,
    rangesSize,
    subnetOf,
    subnetsOverlap,
    subtractRange,
} from "./net";

/** One app behind the appliance: an LXC on the app LAN with a static lease and a Caddy vhost. */
export interface ProximityAppArgs {
    /**
     * App name, a DNS label (lowercase letters, digits, `-`; at most 63; no leading or trailing `-`). It becomes the
     * container's hostname, its DNS name `<name>.<domain>`, its vhost and its static lease.
     */
    name: string;
    /** TCP port the app serves HTTP on; Caddy proxies `http://<name>.<domain>` to it. */
    port: number;
    /** Path of Caddy's active health check (and of the HTTP probe in monitoringTargets). Default `/`. */
    healthPath?: string;
    /** Template volid for the app's container. Default: the appliance's `template`. */
    template?: pulumi.Input<string>;
    /** OS of the app's template. Default: the appliance's `os`. */
    os?: ContainerOs;
    /** CPU cores. */
    cores: number;
    /** Memory in MiB (≥ 64). */
    memory: number;
    /** Swap in MiB. */
    swap: number;
    /** Root disk in GiB. */
    diskGiB: number;
    /**
     * MAC address of the app's NIC, the key of its static lease. Default: `BC:24:11:` (PVE's own prefix) followed by
     * three bytes of sha256(name), so it never changes while the name stays.
     */
    hwaddr?: string;
    /**
     * Static lease address, inside `lanCidr` but outside the DHCP range and not the gateway. Default: chosen from
     * sha256(name) among those addresses, so it does not move when other apps are added or removed; when two apps
     * land on the same address validation fails and names a free one to set explicitly.
     */
    ip?: string;
    /** Container id. Default: allocated by PVE. */
    vmid?: number;
    /** Packages the app's bootstrap installs. Default none. */
    packages?: string[];
}

/** Extra destination inside the management networks that apps may still reach (e.g. an HTTP proxy). */
export interface ManagementException {
    /** Destination address or CIDR, e.g. `192.168.1.10` or `192.168.1.0/28`. */
    cidr: string;
    /** Destination port. */
    port: number;
    /** Default `tcp`. */
    protocol?: "tcp" | "udp";
}

export interface ProximityApplianceArgs {
    /** PVE node name, e.g. `pve`. */
    node: string;
    /** Storage for the root disks of the appliance and the apps. Default `local-lvm` (document 001). */
    storage?: string;
    /** OS of the appliance: `alpine` (document 001, OpenRC + apk) or `debian` (systemd + apt). Default `alpine`. */
    os?: ContainerOs;
    /** Template volid for the appliance (a Template resource's `volid`); must be an image of `os`. */
    template: pulumi.Input<string>;
    /** Alpine release for the apk repositories (appliance and Alpine apps). Default `3.22`. */
    alpineRelease?: string;
    /** Appliance container id. Default 100 (document 001). */
    vmid?: number;
    /** Appliance hostname. Default `prox-appliance`. */
    hostname?: string;
    /** Appliance CPU cores. Default 2. */
    cores?: number;
    /** Appliance memory in MiB (≥ 512, the document's minimum). Default 1024. */
    memory?: number;
    /** Appliance swap in MiB. Default 512. */
    swap?: number;
    /** Appliance root disk in GiB. Default 8. */
    diskGiB?: number;
    /** Bridge of the appliance's WAN NIC (eth0, DHCP): the management LAN. Default `vmbr0`. */
    wanBridge?: string;
    /**
     * Name of the host bridge created for the app LAN (no host address, no ports). Default `proximity_lan`: the
     * document's `proximity-lan` is not a name PVE's network API accepts (`pve-iface` allows letters, digits, `_`).
     */
    lanBridge?: string;
    /** Comment stored with the app LAN bridge on the node. Default `Proximity app LAN <cidr> (<component name>)`. */
    lanBridgeComments?: string;
    /** App LAN subnet. Default `10.20.0.0/24`. */
    lanCidr?: string;
    /** The appliance's address on the app LAN: gateway, DNS and DHCP server. Default: the first host, `10.20.0.1`. */
    lanGateway?: string;
    /** Dynamic DHCP pool. Default: hosts .100 to .250 of `lanCidr` (document: 10.20.0.100–250). */
    dhcpRange?: { start: string; end: string };
    /** DHCP lease time in dnsmasq syntax (`12h`, `30m`, `infinite`). Default `12h`. */
    dhcpLeaseTime?: string;
    /** DNS domain of the app LAN. Default `prox.local`. */
    domain?: string;
    /**
     * Upstream DNS servers dnsmasq forwards other names to. Default `["8.8.8.8", "1.1.1.1"]` (document 001). An empty
     * list means no forwarding at all: dnsmasq answers only names in `domain` and ignores /etc/resolv.conf.
     */
    upstreamDns?: string[];
    /**
     * Networks apps must not reach through the appliance (forwarded traffic from the app LAN is dropped). Default: the
     * subnet the appliance's WAN NIC gets by DHCP. `[]` blocks nothing.
     */
    managementCidrs?: string[];
    /**
     * Destinations inside `managementCidrs` that apps may still reach. The HTTP proxy of `downloads` is added
     * automatically when its host is an IPv4 address. Default none.
     */
    managementExceptions?: ManagementException[];
    /** Package sources, HTTP proxy and extra CA certificates for the appliance and every app. */
    downloads?: DownloadSettings;
    /** Install node_exporter (port 9100) in the appliance and every app. Default false. */
    nodeExporter?: boolean;
    /**
     * Cockpit management UI on the appliance's WAN side (https://<wan>:9090; the app LAN is blocked from it). Default
     * true on Debian. Cockpit is not packaged for Alpine: true with `os: "alpine"` is refused (see
     * COCKPIT_ALPINE_LIMITATION).
     */
    cockpit?: boolean;
    /** Login created for Cockpit (Cockpit refuses root), in group sudo, with a generated password. Default `proximity`. */
    cockpitUser?: string;
    /** Apps behind the appliance. Default none. */
    apps?: ProximityAppArgs[];
}

/** An app with every default filled in. */
export interface ResolvedApp {
    name: string;
    port: number;
    healthPath: string;
    template: pulumi.Input<string>;
    os: ContainerOs;
    cores: number;
    memory: number;
    swap: number;
    diskGiB: number;
    hwaddr: string;
    ip: string;
    vmid?: number;
    packages: string[];
}

/** Validated arguments with every default filled in. */
export interface ResolvedAppliance {
    node: string;
    storage: string;
    os: ContainerOs;
    template: pulumi.Input<string>;
    alpineRelease: string;
    vmid: number;
    hostname: string;
    cores: number;
    memory: number;
    swap: number;
    diskGiB: number;
    wanBridge: string;
    lanBridge: string;
    /** Undefined: the component's default text. */
    lanBridgeComments?: string;
    lan: {
        /** `10.20.0.0/24`. */
        cidr: string;
        prefix: number;
        netmask: string;
        gateway: string;
        dhcpStart: string;
        dhcpEnd: string;
        leaseTime: string;
    };
    domain: string;
    upstreamDns: string[];
    /** Undefined: the WAN subnet, known once the appliance has its DHCP address. */
    managementCidrs?: string[];
    managementExceptions: Required<ManagementException>[];
    downloads: ResolvedDownloadSettings;
    nodeExporter: boolean;
    cockpit: boolean;
    cockpitUser: string;
    apps: ResolvedApp[];
}

export const APPLIANCE_DEFAULTS = {
    storage: "local-lvm",
    os: "alpine" as ContainerOs,
    alpineRelease: "3.22",
    vmid: 100,
    hostname: "prox-appliance",
    cores: 2,
    memory: 1024,
    swap: 512,
    diskGiB: 8,
    wanBridge: "vmbr0",
    lanBridge: "proximity_lan",
    lanCidr: "10.20.0.0/24",
    dhcpLeaseTime: "12h",
    domain: "prox.local",
    upstreamDns: ["8.8.8.8", "1.1.1.1"],
    cockpitUser: "proximity",
    healthPath: "/",
} as const;

/** Offsets of the default DHCP pool inside the LAN (document 001: .100 to .250). */
const DEFAULT_DHCP_OFFSETS = [100, 250] as const;

const got = (iss: { input?: unknown }) => `got ${JSON.stringify(iss.input)}`;

const dnsLabel = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
    error: (iss) =>
        `must be a DNS label (lowercase letters, digits and '-', at most 63, no leading or trailing '-'), ${got(iss)}`,
});
const dnsName = z
    .string()
    .max(253, { error: (iss) => `must be at most 253 characters, ${got(iss)}` })
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, {
        error: (iss) => `must be a lowercase DNS name like prox.local, ${got(iss)}`,
    });
const ipv4 = z.string().refine((s) => parseIpv4(s) !== undefined, {
    error: (iss) => `must be an IPv4 address like 10.20.0.1, ${got(iss)}`,
});
const cidr = z.string().refine((s) => parseCidr(s) !== undefined, {
    error: (iss) => `must be an IPv4 CIDR like 10.20.0.0/24, ${got(iss)}`,
});
const int = (what: string, min: number, max: number) =>
    z
        .number({ error: (iss) => `must be a number, ${got(iss)}` })
        .int({ error: (iss) => `must be a whole number, ${got(iss)}` })
        .min(min, { error: (iss) => `must be ≥ ${min}${what}, ${got(iss)}` })
        .max(max, { error: (iss) => `must be ≤ ${max}${what}, ${got(iss)}` });
const vmid = int("", 100, 999999999);
/** PVE's `pve-iface` format, and at most 15 characters because Linux interface names are. */
const ifaceName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{1,14}$/, {
    error: (iss) =>
        `must be a PVE interface name (a letter, then letters, digits or '_'; 2 to 15 characters), ${got(iss)}`,
});
const hwaddr = z
    .string()
    .regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, {
        error: (iss) => `must be a MAC address like BC:24:11:00:00:01, ${got(iss)}`,
    })
    .refine((s) => (parseInt(s.slice(0, 2), 16) & 1) === 0, {
        error: (iss) => `must be a unicast MAC address (first octet even), ${got(iss)}`,
    });
/** A Caddyfile token and a URL path: no spaces, quotes, braces or other characters Caddy or a shell would treat specially. */
const httpPath = z.string().regex(/^\/[A-Za-z0-9._~%/-]*(\?[A-Za-z0-9._~%&=-]*)?$/, {
    error: (iss) => `must be a URL path like /health (letters, digits, . _ ~ % / -), ${got(iss)}`,
});
/** What dnsmasq accepts after `server=`: an IPv4 or IPv6 address, optionally `#port`. */
const dnsServer = z
    .string()
    .regex(/^(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)(#\d{1,5})?$/, {
        error: (iss) => `must be an IPv4 or IPv6 address, optionally with #port, ${got(iss)}`,
    })
    .refine((s) => !/^[\d.]+(#|$)/.test(s) || parseIpv4(s.split("#")[0]) !== undefined, {
        error: (iss) => `must be a valid IPv4 address, ${got(iss)}`,
    });
const packageName = z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, {
    error: (iss) => `must be a package name, ${got(iss)}`,
});
const pulumiString = z.custom<pulumi.Input<string>>(
    (v) => (typeof v === "string" ? v.length > 0 : pulumi.Output.isInstance(v) || v instanceof Promise),
    { error: "must be a template volid (a string or an Output of one)" },
);
const osEnum = z.enum(["alpine", "debian"], { error: (iss) => `must be "alpine" or "debian", ${got(iss)}` });

const appSchema = z.strictObject({
    name: dnsLabel,
    port: int("", 1, 65535),
    healthPath: httpPath.optional(),
    template: pulumiString.optional(),
    os: osEnum.optional(),
    cores: int("", 1, 8192),
    memory: int(" MiB", 64, 4194304),
    swap: int(" MiB", 0, 4194304),
    diskGiB: int(" GiB", 1, 131072),
    hwaddr: hwaddr.optional(),
    ip: ipv4.optional(),
    vmid: vmid.optional(),
    packages: z.array(packageName).optional(),
});

const argsSchema = z.strictObject({
    node: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/, {
        error: (iss) => `must be a PVE node name (letters, digits, '-'), ${got(iss)}`,
    }),
    storage: z
        .string()
        .regex(/^[a-zA-Z][a-zA-Z0-9\-_.]*$/, { error: (iss) => `must be a PVE storage id, ${got(iss)}` })
        .optional(),
    os: osEnum.optional(),
    template: pulumiString,
    alpineRelease: z
        .string()
        .regex(/^\d+\.\d+$/, { error: (iss) => `must be an Alpine release like 3.22, ${got(iss)}` })
        .optional(),
    vmid: vmid.optional(),
    hostname: dnsLabel.optional(),
    cores: int("", 1, 8192).optional(),
    memory: int(" MiB", 512, 4194304).optional(),
    swap: int(" MiB", 0, 4194304).optional(),
    diskGiB: int(" GiB", 1, 131072).optional(),
    wanBridge: ifaceName.optional(),
    lanBridge: ifaceName.optional(),
    lanBridgeComments: z.string().max(4096, "must be at most 4096 characters").optional(),
    lanCidr: cidr.optional(),
    lanGateway: ipv4.optional(),
    dhcpRange: z.strictObject({ start: ipv4, end: ipv4 }).optional(),
    dhcpLeaseTime: z
        .string()
        .regex(/^(\d+[smhdw]?|infinite)$/, {
            error: (iss) => `must be a dnsmasq lease time like 12h, 45m or infinite, ${got(iss)}`,
        })
        .optional(),
    domain: dnsName.optional(),
    upstreamDns: z.array(dnsServer).optional(),
    managementCidrs: z.array(cidr).optional(),
    managementExceptions: z
        .array(
            z.strictObject({
                cidr: z.string().refine((s) => parseIpv4(s) !== undefined || parseCidr(s) !== undefined, {
                    error: (iss) => `must be an IPv4 address or CIDR, ${got(iss)}`,
                }),
                port: int("", 1, 65535),
                protocol: z.enum(["tcp", "udp"], { error: (iss) => `must be "tcp" or "udp", ${got(iss)}` }).optional(),
            }),
        )
        .optional(),
    downloads: z
        .strictObject({
            httpProxy: z
                .string()
                .regex(/^https?:\/\/[^\s/?#]+\/?$/, {
                    error: (iss) => `must be a proxy URL like http://10.0.0.1:3128, ${got(iss)}`,
                })
                .optional(),
            debianMirror: z.string().optional(),
            debianSecurityMirror: z.string().optional(),
            alpineMirror: z.string().optional(),
            pipIndexUrl: z.string().optional(),
            extraCaCerts: z
                .array(
                    z.string().refine((s) => s.includes("-----BEGIN CERTIFICATE-----"), {
                        error: "must be a PEM certificate (-----BEGIN CERTIFICATE-----)",
                    }),
                )
                .optional(),
            noProxy: z
                .array(z.string().regex(NO_PROXY_ENTRY, { error: (iss) => `must be ${NO_PROXY_RULE}, ${got(iss)}` }))
                .optional(),
        })
        .optional(),
    nodeExporter: z.boolean().optional(),
    cockpit: z.boolean().optional(),
    cockpitUser: z
        .string()
        .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: (iss) => `must be a user name like proximity, ${got(iss)}` })
        .refine((s) => s !== "root", { error: "must not be root (Cockpit refuses root logins)" })
        .optional(),
    apps: z.array(appSchema).optional(),
});

/** Where an app's default MAC address and LAN address come from: sha256 of its name. */
function nameHash(name: string): Buffer {
    return createHash("sha256").update(name, "utf8").digest();
}

/** The app's default MAC: PVE's `BC:24:11` prefix and three bytes of sha256(name). */
export function defaultAppHwaddr(name: string): string {
    const h = nameHash(name);
    return ["BC", "24", "11", ...[0, 1, 2].map((i) => h[i].toString(16).padStart(2, "0").toUpperCase())].join(":");
}

/** Addresses apps may hold: the subnet's hosts without the gateway and the dynamic DHCP range. */
export function staticPool(subnet: Ipv4Subnet, gateway: number, dhcpStart: number, dhcpEnd: number): AddressRanges {
    let pool: AddressRanges =
        subnet.broadcast - subnet.network >= 2 ? [[subnet.network + 1, subnet.broadcast - 1]] : [];
    pool = subtractRange(pool, gateway, gateway);
    return subtractRange(pool, dhcpStart, dhcpEnd);
}

/** The app's default LAN address: a pool address picked by sha256(name), independent of the other apps. */
export function defaultAppIp(name: string, pool: AddressRanges): string {
    const size = rangesSize(pool);
    if (size === 0) throw new RangeError("the static address pool is empty");
    return formatIpv4(addressAt(pool, nameHash(name).readUInt32BE(4) % size));
}

/**
 * Validates `args` and fills in every default. Throws a ValidationError naming each bad field (all problems at
 * once) before the component registers anything.
 */
export function resolveApplianceArgs(name: string, args: ProximityApplianceArgs): ResolvedAppliance {
    const subject = `ProximityAppliance "${name}"`;
    const P = "ProximityAppliance";
    const a = parseOrThrow(argsSchema, args, subject, P);
    const problems: string[] = [];

    const os = a.os ?? APPLIANCE_DEFAULTS.os;
    const lanCidr = a.lanCidr ?? APPLIANCE_DEFAULTS.lanCidr;
    const parsedCidr = parseCidr(lanCidr)!;
    const subnet = subnetOf(parsedCidr.address, parsedCidr.prefix);
    if (subnet.prefix < 8 || subnet.prefix > 29) {
        problems.push(`${P}.lanCidr: must have a prefix between /8 and /29, got ${JSON.stringify(lanCidr)}`);
    } else if (subnet.network !== parsedCidr.address) {
        problems.push(
            `${P}.lanCidr: must be a network address (host bits zero) like ${formatCidr(subnet)}, got ${JSON.stringify(lanCidr)}`,
        );
    }
    const isHost = (ip: number) => inSubnet(ip, subnet) && ip !== subnet.network && ip !== subnet.broadcast;
    const hostRule = `must be a host address inside lanCidr ${formatCidr(subnet)}`;

    const gateway = a.lanGateway !== undefined ? parseIpv4(a.lanGateway)! : subnet.network + 1;
    if (a.lanGateway !== undefined && !isHost(gateway)) {
        problems.push(`${P}.lanGateway: ${hostRule}, got ${JSON.stringify(a.lanGateway)}`);
    }

    let dhcpStart: number;
    let dhcpEnd: number;
    if (a.dhcpRange) {
        dhcpStart = parseIpv4(a.dhcpRange.start)!;
        dhcpEnd = parseIpv4(a.dhcpRange.end)!;
        if (!isHost(dhcpStart))
            problems.push(`${P}.dhcpRange.start: ${hostRule}, got ${JSON.stringify(a.dhcpRange.start)}`);
        if (!isHost(dhcpEnd)) problems.push(`${P}.dhcpRange.end: ${hostRule}, got ${JSON.stringify(a.dhcpRange.end)}`);
        if (dhcpStart > dhcpEnd) {
            problems.push(`${P}.dhcpRange: start must not be after end, got ${a.dhcpRange.start} > ${a.dhcpRange.end}`);
        }
    } else {
        dhcpStart = subnet.network + DEFAULT_DHCP_OFFSETS[0];
        dhcpEnd = subnet.network + DEFAULT_DHCP_OFFSETS[1];
        if (dhcpEnd >= subnet.broadcast) {
            problems.push(
                `${P}.dhcpRange: required when lanCidr is smaller than /24 (the default .100–.250 does not fit ${formatCidr(subnet)})`,
            );
        }
    }
    if (gateway >= dhcpStart && gateway <= dhcpEnd) {
        problems.push(
            `${P}.lanGateway: must not be inside the DHCP range ${formatIpv4(dhcpStart)}–${formatIpv4(dhcpEnd)}, got ${formatIpv4(gateway)}`,
        );
    }

    const wanBridge = a.wanBridge ?? APPLIANCE_DEFAULTS.wanBridge;
    const lanBridge = a.lanBridge ?? APPLIANCE_DEFAULTS.lanBridge;
    if (wanBridge === lanBridge) {
        problems.push(`${P}.lanBridge: must differ from wanBridge, got ${JSON.stringify(lanBridge)} for both`);
    }

    (a.managementCidrs ?? []).forEach((c, i) => {
        const m = parseCidr(c)!;
        if (subnetsOverlap(subnetOf(m.address, m.prefix), subnet)) {
            problems.push(
                `${P}.managementCidrs[${i}]: must not overlap lanCidr ${formatCidr(subnet)}, got ${JSON.stringify(c)}`,
            );
        }
    });

    const cockpit = a.cockpit ?? os === "debian";
    if (cockpit && os === "alpine") {
        problems.push(`${P}.cockpit: ${COCKPIT_ALPINE_LIMITATION}`);
    }

    const vmidValue = a.vmid ?? APPLIANCE_DEFAULTS.vmid;
    const apps = a.apps ?? [];
    const pool = staticPool(subnet, gateway, dhcpStart, dhcpEnd);
    const poolHas = (ip: number) => inRanges(pool, ip);

    // Explicit values first: a default may not take what another app asked for.
    const byName = new Map<string, number>();
    const ipOwner = new Map<number, number>();
    const macOwner = new Map<string, number>();
    const vmidOwner = new Map<number, number>();
    const duplicates = new Set<number>();
    const label = (i: number) => `apps[${i}] ${JSON.stringify(apps[i].name)}`;
    apps.forEach((app, i) => {
        const first = byName.get(app.name);
        if (first !== undefined) {
            problems.push(`${P}.apps[${i}].name: duplicate of apps[${first}], got ${JSON.stringify(app.name)}`);
            duplicates.add(i);
        } else {
            byName.set(app.name, i);
        }
        if (app.vmid !== undefined) {
            if (app.vmid === vmidValue) problems.push(`${P}.apps[${i}].vmid: ${app.vmid} is the appliance's vmid`);
            const owner = vmidOwner.get(app.vmid);
            if (owner !== undefined)
                problems.push(`${P}.apps[${i}].vmid: ${app.vmid} is already used by ${label(owner)}`);
            else vmidOwner.set(app.vmid, i);
        }
        if (app.ip !== undefined) {
            const ip = parseIpv4(app.ip)!;
            if (ip === gateway) {
                problems.push(`${P}.apps[${i}].ip: ${app.ip} is the appliance's lanGateway`);
            } else if (!isHost(ip)) {
                problems.push(`${P}.apps[${i}].ip: ${hostRule}, got ${JSON.stringify(app.ip)}`);
            } else if (!poolHas(ip)) {
                problems.push(
                    `${P}.apps[${i}].ip: must be outside the DHCP range ${formatIpv4(dhcpStart)}–${formatIpv4(dhcpEnd)} (a static lease there could be handed to another client), got ${JSON.stringify(app.ip)}`,
                );
            }
            const owner = ipOwner.get(ip);
            if (owner !== undefined) problems.push(`${P}.apps[${i}].ip: ${app.ip} is already used by ${label(owner)}`);
            else ipOwner.set(ip, i);
        }
        if (app.hwaddr !== undefined) {
            const mac = app.hwaddr.toUpperCase();
            const owner = macOwner.get(mac);
            if (owner !== undefined) problems.push(`${P}.apps[${i}].hwaddr: ${mac} is already used by ${label(owner)}`);
            else macOwner.set(mac, i);
        }
    });

    const resolvedApps: ResolvedApp[] = apps.map((app, i) => {
        let ip = app.ip;
        // A duplicate name derives the same defaults as its first use: that is already reported.
        const derive = !duplicates.has(i);
        if (ip === undefined && !derive) {
            ip = "";
        } else if (ip === undefined && rangesSize(pool) > 0) {
            ip = defaultAppIp(app.name, pool);
            const n = parseIpv4(ip)!;
            const owner = ipOwner.get(n);
            if (owner !== undefined) {
                const free = firstFree(pool, ipOwner);
                problems.push(
                    `${P}.apps[${i}].ip: the default address ${ip} (derived from the name) is already used by ${label(owner)}; set ip explicitly${free ? `, e.g. ${free}` : ""}`,
                );
            } else {
                ipOwner.set(n, i);
            }
        } else if (ip === undefined) {
            problems.push(`${P}.apps[${i}].ip: no address is left outside the DHCP range for a static lease`);
        }
        let mac = app.hwaddr?.toUpperCase();
        if (mac === undefined && !derive) {
            mac = "";
        } else if (mac === undefined) {
            mac = defaultAppHwaddr(app.name);
            const owner = macOwner.get(mac);
            if (owner !== undefined) {
                problems.push(
                    `${P}.apps[${i}].hwaddr: the default MAC ${mac} (derived from the name) is already used by ${label(owner)}; set hwaddr explicitly`,
                );
            } else {
                macOwner.set(mac, i);
            }
        }
        return {
            name: app.name,
            port: app.port,
            healthPath: app.healthPath ?? APPLIANCE_DEFAULTS.healthPath,
            template: app.template ?? a.template,
            os: app.os ?? os,
            cores: app.cores,
            memory: app.memory,
            swap: app.swap,
            diskGiB: app.diskGiB,
            hwaddr: mac,
            ip: ip ?? "",
            vmid: app.vmid,
            packages: app.packages ?? [],
        };
    });
    assertNoProblems(subject, problems);

    const downloads = resolveDownloads(a.downloads);
    return {
        node: a.node,
        storage: a.storage ?? APPLIANCE_DEFAULTS.storage,
        os,
        template: a.template,
        alpineRelease: a.alpineRelease ?? APPLIANCE_DEFAULTS.alpineRelease,
        vmid: vmidValue,
        hostname: a.hostname ?? APPLIANCE_DEFAULTS.hostname,
        cores: a.cores ?? APPLIANCE_DEFAULTS.cores,
        memory: a.memory ?? APPLIANCE_DEFAULTS.memory,
        swap: a.swap ?? APPLIANCE_DEFAULTS.swap,
        diskGiB: a.diskGiB ?? APPLIANCE_DEFAULTS.diskGiB,
        wanBridge,
        lanBridge,
        lanBridgeComments: a.lanBridgeComments,
        lan: {
            cidr: formatCidr(subnet),
            prefix: subnet.prefix,
            netmask: prefixToNetmask(subnet.prefix),
            gateway: formatIpv4(gateway),
            dhcpStart: formatIpv4(dhcpStart),
            dhcpEnd: formatIpv4(dhcpEnd),
            leaseTime: a.dhcpLeaseTime ?? APPLIANCE_DEFAULTS.dhcpLeaseTime,
        },
        domain: a.domain ?? APPLIANCE_DEFAULTS.domain,
        upstreamDns: a.upstreamDns ?? [...APPLIANCE_DEFAULTS.upstreamDns],
        managementCidrs: a.managementCidrs?.map((c) => {
            const m = parseCidr(c)!;
            return formatCidr(subnetOf(m.address, m.prefix));
        }),
        managementExceptions: [
            ...proxyException(downloads.httpProxy),
            ...(a.managementExceptions ?? []).map((e) => ({
                cidr: e.cidr.includes("/") ? e.cidr : `${e.cidr}/32`,
                port: e.port,
                protocol: e.protocol ?? ("tcp" as const),
            })),
        ],
        downloads,
        nodeExporter: a.nodeExporter ?? false,
        cockpit,
        cockpitUser: a.cockpitUser ?? APPLIANCE_DEFAULTS.cockpitUser,
        apps: resolvedApps,
    };
}

/** Apps fetch packages through the HTTP proxy, which often lives on the management LAN: let them reach it. */
function proxyException(httpProxy: string | undefined): Required<ManagementException>[] {
    if (!httpProxy) return [];
    const m = /^(https?):\/\/(?:[^@/]*@)?([^:/]+)(?::(\d+))?/.exec(httpProxy);
    if (!m || parseIpv4(m[2]) === undefined) return [];
    const port = m[3] ? Number(m[3]) : m[1] === "https" ? 443 : 80;
    return [{ cidr: `${m[2]}/32`, port, protocol: "tcp" }];
}

function firstFree(pool: AddressRanges, taken: Map<number, number>): string | undefined {
    for (const [from, to] of pool) {
        for (let ip = from; ip <= to; ip++) if (!taken.has(ip)) return formatIpv4(ip);
    }
    return undefined;
}

/** Why the Alpine appliance has no Cockpit; the README quotes this. */
export const COCKPIT_ALPINE_LIMITATION =
    "Cockpit is not packaged for Alpine Linux, so the Alpine appliance has no web management UI (document 001's " +
    'Cockpit on :9090); use os: "debian" for Cockpit, or manage the Alpine appliance with `pct enter <vmid>`.';
