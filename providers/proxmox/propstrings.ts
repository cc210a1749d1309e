/**
 * PVE property strings (`key=value,key=value` with an optional unkeyed default key), parsed, printed and
 * normalised exactly as PVE does it (pve-common PVE::JSONSchema parse_property_string/print_property_string,
 * pve-container's netN/features/rootfs handling, PVE::GuestHelpers tag handling).
 *
 * Why this matters: PVE rewrites what it is given (sorts keys, adds `type=veth`, invents a `hwaddr`,
 * lowercases and sorts tags, turns `size=8192M` into `size=8G`). A provider that compares its desired value
 * with what PVE returns must compare normalised forms or it reports a diff forever.
 *
 * Pure functions only; the one dependency is node:crypto for the random MAC address PVE would generate.
 */
import { randomBytes } from "node:crypto";

/** One key of a property-string format, in the shape PVE's API schema (apidata.js) describes it. */
export interface PropertyKeySchema {
    type?: string;
    /** PVE writes 0/1 in its JSON schema. */
    optional?: boolean | number;
    /** The key that may be written without `key=` (e.g. rootfs `volume`). */
    default_key?: boolean | number;
    /** A named scalar format (`ipv4`, `disk-size`, ...) or a nested format. */
    format?: string | PropertyFormat;
    pattern?: string;
    enum?: readonly string[];
    minimum?: number | string;
    maximum?: number | string;
    minLength?: number;
    maxLength?: number;
}

/** A property-string format: key name → key schema. */
export type PropertyFormat = Readonly<Record<string, PropertyKeySchema>>;

/** A parse or print failure; `message` is the text PVE dies with (without its trailing newline). */
export class PropertyStringError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PropertyStringError";
    }
}

/** PVE::JSONSchema::parse_boolean: `1|on|yes|true` → 1, `0|off|no|false` → 0 (case-insensitive). */
export function parseBoolean(text: string): 0 | 1 | undefined {
    if (/^(1|on|yes|true)$/i.test(text)) return 1;
    if (/^(0|off|no|false)$/i.test(text)) return 0;
    return undefined;
}

/**
 * PVE::Tools::split_list: NUL-separated if the text contains NUL, otherwise separated by any run of `,`, `;`
 * and whitespace. Empty items are dropped.
 */
export function splitList(text: string | undefined): string[] {
    const list = text ?? "";
    if (list.includes("\0")) return list.split("\0");
    const spaced = list.replace(/[,;]/g, " ").replace(/^\s+/, "");
    if (spaced === "") return [];
    return spaced.split(/\s+/).filter((item) => item !== "");
}

function isOptional(schema: PropertyKeySchema): boolean {
    return Boolean(schema.optional);
}

function defaultKeyOf(format: PropertyFormat): string | undefined {
    return Object.keys(format).find((key) => Boolean(format[key].default_key));
}

/**
 * Splits a property string into its keys (PVE parse_property_string without value validation).
 *
 * With a `format`: unknown keys are refused (`invalid key in comma-separated list property: foo`), boolean
 * keys are normalised to `0`/`1`, and a bare value goes to the format's default key. Without a format any key
 * is accepted and a bare value is refused. Values are returned exactly as written (strings).
 */
export function parsePropertyString(text: string, format?: PropertyFormat): Record<string, string> {
    const result: Record<string, string> = {};
    let defaultKey: string | undefined;
    for (const part of text.split(",")) {
        if (/^\s*$/.test(part)) continue;
        const keyed = /^([^=]+)=(.+)$/.exec(part);
        if (keyed) {
            const key = keyed[1];
            let value = keyed[2];
            if (result[key] !== undefined) {
                throw new PropertyStringError(`duplicate key in comma-separated list property: ${key}`);
            }
            if (format) {
                const schema = format[key];
                if (!schema) throw new PropertyStringError(`invalid key in comma-separated list property: ${key}`);
                if (schema.type === "boolean") value = String(parseBoolean(value) ?? value);
            }
            result[key] = value;
        } else if (!part.includes("=")) {
            if (defaultKey !== undefined) {
                throw new PropertyStringError(`duplicate key in comma-separated list property: ${defaultKey}`);
            }
            const found = format ? defaultKeyOf(format) : undefined;
            if (found === undefined) {
                throw new PropertyStringError("value without key, but schema does not define a default key");
            }
            defaultKey = found;
            if (result[found]) {
                throw new PropertyStringError(`duplicate key in comma-separated list property: ${found}`);
            }
            result[found] = part;
        } else {
            throw new PropertyStringError("missing key in comma-separated list property");
        }
    }
    return result;
}

/** A `key=value` list whose bare value (if any) belongs to `defaultKey`; keys are not checked. */
export function parseKeyValueList(text: string, defaultKey?: string): Record<string, string> {
    if (defaultKey === undefined) return parsePropertyString(text);
    const result: Record<string, string> = {};
    let sawDefault = false;
    for (const part of text.split(",")) {
        if (/^\s*$/.test(part)) continue;
        const keyed = /^([^=]+)=(.+)$/.exec(part);
        const key: string | undefined = keyed ? keyed[1] : part.includes("=") ? undefined : defaultKey;
        if (key === undefined) throw new PropertyStringError("missing key in comma-separated list property");
        if (result[key] !== undefined || (key === defaultKey && !keyed && sawDefault)) {
            throw new PropertyStringError(`duplicate key in comma-separated list property: ${key}`);
        }
        if (!keyed) sawDefault = true;
        result[key] = keyed ? keyed[2] : part;
    }
    return result;
}

/** Values a printer accepts: booleans print as 1/0, numbers in decimal, undefined keys are left out. */
export type PrintableValue = string | number | boolean | undefined;

/**
 * PVE print_property_string: the default key first (without `key=`), then the required keys in sorted order,
 * then every other key in sorted order. `disk-size` keys are printed in PVE's shortest unit (`8192M` → `8G`).
 * Without a format every key is optional and there is no default key.
 */
export function printPropertyString(data: Readonly<Record<string, PrintableValue>>, format?: PropertyFormat): string {
    const parts: string[] = [];
    const done = new Set<string>();
    const render = (key: string, value: PrintableValue): string => {
        const schema = format?.[key];
        if (schema?.format === "disk-size") {
            const bytes = typeof value === "number" ? value : parseSize(String(value));
            if (bytes === undefined)
                throw new PropertyStringError(`value does not look like a valid disk size: ${value}`);
            return formatSize(bytes);
        }
        const text = typeof value === "boolean" ? (value ? "1" : "0") : String(value);
        if (text.includes(",")) throw new PropertyStringError(`illegal value with commas for ${key}`);
        return text;
    };
    const add = (key: string, isDefault: boolean): void => {
        if (done.has(key)) return;
        done.add(key);
        const value = data[key];
        if (value === undefined) return;
        if (format && !format[key]) throw new PropertyStringError(`invalid key '${key}'`);
        parts.push(isDefault ? render(key, value) : `${key}=${render(key, value)}`);
    };
    const defaultKey = format ? defaultKeyOf(format) : undefined;
    if (defaultKey !== undefined) add(defaultKey, true);
    const keys = Object.keys(data).sort();
    for (const key of keys) {
        const schema = format?.[key];
        if (schema && !isOptional(schema)) add(key, false);
    }
    for (const key of keys) add(key, false);
    return parts.join(",");
}

// ---------------------------------------------------------------------------------------------------------
// Sizes (PVE::JSONSchema parse_size / format_size)

const UNIT_FACTORS: Readonly<Record<string, number>> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `32G` → bytes; `undefined` for anything PVE would not parse (PVE accepts `\d+(\.\d+)?[KMGT]?`). */
export function parseSize(text: string): number | undefined {
    const match = /^(\d+(\.\d+)?)([KMGT])?$/.exec(text);
    if (!match) return undefined;
    const factor = match[3] ? UNIT_FACTORS[match[3]] : 1;
    return Math.trunc(Number(match[1]) * factor);
}

/** Bytes → PVE's shortest exact unit: `34359738368` → `32G`, `9126805504` → `8704M`, `1000` → `1000`. */
export function formatSize(bytes: number): string {
    const size = Math.trunc(bytes);
    const kb = Math.trunc(size / 1024);
    if (kb * 1024 !== size) return String(size);
    const mb = Math.trunc(kb / 1024);
    if (mb * 1024 !== kb) return `${kb}K`;
    const gb = Math.trunc(mb / 1024);
    if (gb * 1024 !== mb) return `${mb}M`;
    const tb = Math.trunc(gb / 1024);
    if (tb * 1024 !== gb) return `${gb}G`;
    return `${tb}T`;
}

/** A PVE size string in GiB: `32G` → 32, `512M` → 0.5, `2T` → 2048. Throws on an invalid size. */
export function sizeToGiB(size: string): number {
    const bytes = parseSize(size);
    if (bytes === undefined) throw new PropertyStringError(`value does not look like a valid disk size: ${size}`);
    return bytes / UNIT_FACTORS.G;
}

// ---------------------------------------------------------------------------------------------------------
// netN (pve-container $netconf_desc)

/** The netN keys of PVE 9 (`host-managed` is PVE 9 only). Only `name` is required. */
export const NET_FORMAT: PropertyFormat = {
    name: { type: "string", pattern: "[-_.\\w\\d]+" },
    bridge: { type: "string", optional: 1, pattern: "[-_.\\w\\d]+" },
    firewall: { type: "boolean", optional: 1 },
    gw: { type: "string", optional: 1, format: "ipv4" },
    gw6: { type: "string", optional: 1, format: "ipv6" },
    "host-managed": { type: "boolean", optional: 1 },
    hwaddr: { type: "string", optional: 1, format: "mac-addr" },
    ip: { type: "string", optional: 1, format: "pve-ipv4-config" },
    ip6: { type: "string", optional: 1, format: "pve-ipv6-config" },
    link_down: { type: "boolean", optional: 1 },
    mtu: { type: "integer", optional: 1, minimum: 64, maximum: 65535 },
    rate: { type: "number", optional: 1 },
    tag: { type: "integer", optional: 1, minimum: 1, maximum: 4094 },
    trunks: { type: "string", optional: 1, pattern: "\\d+(?:;\\d+)*" },
    type: { type: "string", optional: 1, enum: ["veth"] },
};

/** One container NIC as PVE's netN describes it. */
export interface NetConfig {
    name: string;
    bridge?: string;
    hwaddr?: string;
    /** `dhcp`, `manual` or an IPv4 CIDR. */
    ip?: string;
    gw?: string;
    /** `dhcp`, `auto`, `manual` or an IPv6 CIDR. */
    ip6?: string;
    gw6?: string;
    firewall?: boolean;
    link_down?: boolean;
    "host-managed"?: boolean;
    mtu?: number;
    /** MB/s. */
    rate?: number;
    tag?: number;
    /** `;`-separated VLAN ids. */
    trunks?: string;
    type?: "veth";
}

/** The prefix of the MAC addresses PVE generates (Proxmox's OUI, PVE ≥ 8). */
export const PVE_MAC_PREFIX = "BC:24:11";

/** A random MAC address as PVE::Tools::random_ether_addr makes it: uppercase, unicast, with `prefix`. */
export function randomHwaddr(prefix: string = PVE_MAC_PREFIX): string {
    const bytes = randomBytes(6);
    // PVE clears the multicast bit and sets the locally-administered bit before applying the prefix.
    bytes[0] = (bytes[0] & 0xfe) | 0x02;
    const addr = [...bytes].map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(":");
    return prefix.toUpperCase() + addr.slice(prefix.length);
}

function toNumber(key: string, type: "integer" | "number", text: string): number {
    const valid = type === "integer" ? /^[+-]?\d+$/ : /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/;
    if (!valid.test(text)) throw new PropertyStringError(`${key}: type check ('${type}') failed - got '${text}'`);
    return Number(text);
}

function toBoolean(text: string): boolean {
    return text === "1" || parseBoolean(text) === 1;
}

/** Parses a netN value into typed keys. Throws PropertyStringError for unknown keys or a missing `name`. */
export function parseNet(text: string): NetConfig {
    const raw = parsePropertyString(text, NET_FORMAT);
    if (raw.name === undefined) throw new PropertyStringError("name: property is missing and it is not optional");
    const net: NetConfig = { name: raw.name };
    for (const [key, value] of Object.entries(raw)) {
        switch (key) {
            case "name":
                break;
            case "firewall":
            case "link_down":
            case "host-managed":
                net[key] = toBoolean(value);
                break;
            case "mtu":
            case "tag":
                net[key] = toNumber(key, "integer", value);
                break;
            case "rate":
                net.rate = toNumber(key, "number", value);
                break;
            case "type":
                if (value !== "veth") {
                    throw new PropertyStringError(
                        `type: value '${value}' does not have a value in the enumeration 'veth'`,
                    );
                }
                net.type = "veth";
                break;
            case "bridge":
            case "hwaddr":
            case "ip":
            case "gw":
            case "ip6":
            case "gw6":
            case "trunks":
                net[key] = value;
                break;
        }
    }
    return net;
}

/** Prints a netN value as PVE does: `name` first, then every other key sorted. */
export function printNet(net: NetConfig): string {
    return printPropertyString({ ...net }, NET_FORMAT);
}

/**
 * The netN value PVE stores for `net`: `type=veth` added, and an `hwaddr` added when absent (the given
 * `opts.hwaddr`, else a random `BC:24:11:..` one, as PVE generates it). Two NICs are the same iff their
 * normalised forms (with the same hwaddr) are equal.
 */
export function normaliseNet(net: string | NetConfig, opts: { hwaddr?: string; macPrefix?: string } = {}): string {
    const parsed = typeof net === "string" ? parseNet(net) : { ...net };
    parsed.type = "veth";
    if (!parsed.hwaddr) parsed.hwaddr = opts.hwaddr ?? randomHwaddr(opts.macPrefix);
    return printNet(parsed);
}

// ---------------------------------------------------------------------------------------------------------
// features (pve-container $features_desc)

export const FEATURES_FORMAT: PropertyFormat = {
    force_rw_sys: { type: "boolean", optional: 1 },
    fuse: { type: "boolean", optional: 1 },
    keyctl: { type: "boolean", optional: 1 },
    mknod: { type: "boolean", optional: 1 },
    mount: { type: "string", optional: 1, pattern: "[a-zA-Z0-9_; ]+" },
    nesting: { type: "boolean", optional: 1 },
};

/** LXC feature flags. A flag given as false is kept (PVE stores `keyctl=0` if told so). */
export interface Features {
    force_rw_sys?: boolean;
    fuse?: boolean;
    keyctl?: boolean;
    mknod?: boolean;
    /** File system types allowed in `mount` (PVE stores them `;`-separated, in the given order). */
    mount?: string[];
    nesting?: boolean;
}

export function parseFeatures(text: string): Features {
    const raw = parsePropertyString(text, FEATURES_FORMAT);
    const features: Features = {};
    for (const [key, value] of Object.entries(raw)) {
        if (key === "mount") features.mount = value.split(";").filter((item) => item !== "");
        else if (key in FEATURES_FORMAT) features[key as Exclude<keyof Features, "mount">] = toBoolean(value);
    }
    return features;
}

/** Prints features sorted by key (force_rw_sys, fuse, keyctl, mknod, mount, nesting). */
export function printFeatures(features: Features): string {
    const { mount, ...flags } = features;
    return printPropertyString(
        { ...flags, mount: mount && mount.length > 0 ? mount.join(";") : undefined },
        FEATURES_FORMAT,
    );
}

/** The form PVE returns for a features value (`keyctl=yes,nesting=1` → `keyctl=1,nesting=1`). */
export function normaliseFeatures(text: string): string {
    return printPropertyString(parsePropertyString(text, FEATURES_FORMAT), FEATURES_FORMAT);
}

// ---------------------------------------------------------------------------------------------------------
// rootfs (pve-container $rootfs_desc)

export const ROOTFS_FORMAT: PropertyFormat = {
    volume: { type: "string", default_key: 1, format: "pve-lxc-mp-string" },
    acl: { type: "boolean", optional: 1 },
    mountoptions: { type: "string", optional: 1 },
    quota: { type: "boolean", optional: 1 },
    replicate: { type: "boolean", optional: 1 },
    ro: { type: "boolean", optional: 1 },
    shared: { type: "boolean", optional: 1 },
    size: { type: "string", optional: 1, format: "disk-size" },
};

/** A rootfs value. `size` is a PVE size string (`32G`). */
export interface Rootfs {
    /** `local-zfs:subvol-100-disk-0`, or the create form `local-zfs:32` (a new 32 GiB disk). */
    volume: string;
    size?: string;
    acl?: boolean;
    mountoptions?: string;
    quota?: boolean;
    replicate?: boolean;
    ro?: boolean;
    shared?: boolean;
}

/** A parsed rootfs with what can be derived from its volume. */
export interface RootfsInfo extends Rootfs {
    /** Storage id, when the volume names one. */
    storage?: string;
    /** Volume name on the storage (`subvol-100-disk-0`), absent for the create form. */
    volname?: string;
    /** Size of the disk to create, for the create form `storage:<GiB>`. */
    newDiskGiB?: number;
    /** `size` in bytes. */
    sizeBytes?: number;
}

/** pve-container $NEW_DISK_RE: `[storage:]<GiB>`. */
const NEW_DISK_RE = /^(([^/:\s]+):)?(\d+(\.\d+)?)$/;
/** PVE::Storage::parse_volume_id. */
const VOLUME_ID_RE = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i;

export function parseRootfs(text: string): RootfsInfo {
    const raw = parsePropertyString(text, ROOTFS_FORMAT);
    if (raw.volume === undefined) throw new PropertyStringError("volume: property is missing and it is not optional");
    const info: RootfsInfo = { volume: raw.volume };
    for (const [key, value] of Object.entries(raw)) {
        if (key === "acl" || key === "quota" || key === "replicate" || key === "ro" || key === "shared") {
            info[key] = toBoolean(value);
        } else if (key === "mountoptions") {
            info.mountoptions = value;
        } else if (key === "size") {
            const bytes = parseSize(value);
            if (bytes === undefined) {
                throw new PropertyStringError(`size: value does not look like a valid disk size: ${value}`);
            }
            info.size = value;
            info.sizeBytes = bytes;
        }
    }
    const newDisk = NEW_DISK_RE.exec(raw.volume);
    if (newDisk) {
        if (newDisk[2] !== undefined) info.storage = newDisk[2];
        info.newDiskGiB = Number(newDisk[3]);
    } else {
        const volume = VOLUME_ID_RE.exec(raw.volume);
        if (volume) {
            info.storage = volume[1];
            info.volname = volume[2];
        }
    }
    return info;
}

/** Prints a rootfs as PVE does: the volume first (unkeyed), then the other keys sorted, size normalised. */
export function printRootfs(rootfs: Rootfs): string {
    const { volume, size, acl, mountoptions, quota, replicate, ro, shared } = rootfs;
    return printPropertyString({ volume, size, acl, mountoptions, quota, replicate, ro, shared }, ROOTFS_FORMAT);
}

// ---------------------------------------------------------------------------------------------------------
// tags (PVE::GuestHelpers::get_unique_tags with the default tag style)

/**
 * Tags as PVE stores them: split on `;`, `,` and whitespace, lowercased, de-duplicated, sorted.
 * Accepts the stored string form or a list.
 */
export function parseTags(input: string | readonly string[]): string[] {
    const items = typeof input === "string" ? splitList(input) : input.flatMap((tag) => splitList(tag));
    return [...new Set(items.map((tag) => tag.toLowerCase()))].sort();
}

/** The `tags` value PVE stores: `Web;db,web` → `db;web`. */
export function normaliseTags(input: string | readonly string[]): string {
    return parseTags(input).join(";");
}

// ---------------------------------------------------------------------------------------------------------
// startup (PVE::JSONSchema pve-startup-order)

export interface Startup {
    order?: number;
    /** Seconds to wait after starting this guest. */
    up?: number;
    /** Seconds to wait after stopping this guest. */
    down?: number;
}

/** pve_parse_startup_order; throws `unable to parse startup options` as PVE does. */
export function parseStartup(text: string): Startup {
    const result: Startup = {};
    if (!text) throw new PropertyStringError("unable to parse startup options");
    for (const part of text.split(",")) {
        if (/^\s*$/.test(part)) continue;
        let match: RegExpExecArray | null;
        if ((match = /^(order=)?(\d+)$/.exec(part))) result.order = Number(match[2]);
        else if ((match = /^up=(\d+)$/.exec(part))) result.up = Number(match[1]);
        else if ((match = /^down=(\d+)$/.exec(part))) result.down = Number(match[1]);
        else throw new PropertyStringError("unable to parse startup options");
    }
    return result;
}

/** `order=2,up=30,down=10` (PVE stores the value as given; this is the canonical spelling). */
export function printStartup(startup: Startup): string {
    const parts: string[] = [];
    if (startup.order !== undefined) parts.push(`order=${startup.order}`);
    if (startup.up !== undefined) parts.push(`up=${startup.up}`);
    if (startup.down !== undefined) parts.push(`down=${startup.down}`);
    return parts.join(",");
}
