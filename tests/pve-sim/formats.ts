/**
 * PVE's named parameter formats (pve-common JSONSchema.pm register_format and the ones pve-container,
 * pve-access-control and pve-manager register), as validators that throw PVE's exact die text.
 * The `-list` and `-opt` suffixes are handled by the caller (schema.ts) as PVE's check_format does.
 */
import { isIPv6 } from "node:net";
import { parseStartup, splitList } from "../../providers/proxmox/propstrings";
import { privilegesFor, type PveMajor } from "./privileges";

/** A format violation; `message` is the text PVE dies with, including its trailing newline. */
export class FormatError extends Error {
    constructor(message: string) {
        super(message.endsWith("\n") ? message : `${message}\n`);
        this.name = "FormatError";
    }
}

export type FormatValidator = (value: string) => void;

const IPV4_OCTET = "(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])";
/** PVE::Tools $IPV4RE. */
export const IPV4_RE = `(?:(?:${IPV4_OCTET}\\.){3}${IPV4_OCTET})`;
const ipv4Exact = new RegExp(`^${IPV4_RE}$`);

export function isIpv4(value: string): boolean {
    return ipv4Exact.test(value);
}

/** IPv6 without a zone id (PVE's $IPV6RE has none). */
export function isIpv6(value: string): boolean {
    return !value.includes("%") && isIPv6(value);
}

function cidrBits(value: string, isAddress: (addr: string) => boolean): number | undefined {
    const match = /^(.+)\/(\d+)$/.exec(value);
    if (!match || !isAddress(match[1])) return undefined;
    return Number(match[2]);
}

export function isCidrV4(value: string): boolean {
    const bits = cidrBits(value, isIpv4);
    return bits !== undefined && bits > 7 && bits <= 32;
}

export function isCidrV6(value: string): boolean {
    const bits = cidrBits(value, isIpv6);
    return bits !== undefined && bits > 7 && bits <= 128;
}

const NETMASKS = new Set(
    Array.from({ length: 33 }, (_, bits) => {
        const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
        return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join(".");
    }),
);

const DNS_NAME_RE = /^(([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/;
/** PVE::Auth::Plugin $realm_regex / $user_regex. */
export const REALM_RE_SRC = "[A-Za-z][A-Za-z0-9.\\-_]+";
export const USER_RE_SRC = "[^\\s:/]+";
const USERID_RE = new RegExp(`^(${USER_RE_SRC})@(${REALM_RE_SRC})$`);
const TOKENID_RE = new RegExp(`^((${USER_RE_SRC})@(${REALM_RE_SRC}))!(${REALM_RE_SRC})$`);

/** PVE::Auth::Plugin::verify_username; returns [userid, name, realm]. */
export function verifyUsername(userid: string): [string, string, string] {
    const length = userid.length;
    if (length < 3) throw new FormatError(`user name '${userid}' is too short`);
    if (length > 64) throw new FormatError(`user name '${userid}' is too long (${length} > 64)`);
    const match = USERID_RE.exec(userid);
    if (!match) throw new FormatError(`value '${userid}' does not look like a valid user name`);
    return [userid, match[1], match[2]];
}

/** PVE::AccessControl::split_tokenid: `user@realm!token` → [user@realm, token], or undefined. */
export function splitTokenid(tokenid: string): [string, string] | undefined {
    const match = TOKENID_RE.exec(tokenid);
    return match ? [match[1], match[4]] : undefined;
}

/** PVE::Storage::parse_volume_id. */
export function parseVolumeId(volid: string): [string, string] {
    const match = /^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i.exec(volid);
    if (!match) throw new FormatError(`unable to parse volume ID '${volid}'`);
    return [match[1], match[2]];
}

function check(test: boolean, message: string): void {
    if (!test) throw new FormatError(message);
}

const STORAGE_CONTENT_TYPES = new Set(["images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"]);
const TZ_RE = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

/** The named formats of the API paths the simulator serves, for one PVE major version. */
export function makeFormats(major: PveMajor): ReadonlyMap<string, FormatValidator> {
    const privileges = privilegesFor(major);
    const formats = new Map<string, FormatValidator>();
    const add = (name: string, validator: FormatValidator): void => {
        formats.set(name, validator);
    };
    add("string", () => undefined);
    add("pve-vmid", (v) => check(/^[1-9][0-9]{2,8}$/.test(v), "value does not look like a valid VM ID"));
    add("pve-node", (v) =>
        check(/^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/.test(v), "value does not look like a valid node name"),
    );
    add("pve-configid", (v) => check(/^[a-z][a-z0-9_-]+$/i.test(v), `invalid configuration ID '${v}'`));
    add("pve-storage-id", (v) =>
        check(/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(v), `storage ID '${v}' contains illegal characters`),
    );
    add("pve-volume-id", (v) => void parseVolumeId(v));
    add("mac-addr", (v) =>
        check(
            /^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i.test(v),
            "value does not look like a valid unicast MAC address",
        ),
    );
    add("ipv4", (v) => check(isIpv4(v), "value does not look like a valid IPv4 address"));
    add("ipv6", (v) => check(isIpv6(v), "value does not look like a valid IPv6 address"));
    add("ip", (v) => check(isIpv4(v) || isIpv6(v), "value does not look like a valid IP address"));
    add("ipv4mask", (v) => check(NETMASKS.has(v), "value does not look like a valid IP netmask"));
    add("CIDRv4", (v) => check(isCidrV4(v), "value does not look like a valid IPv4 CIDR network"));
    add("CIDRv6", (v) => check(isCidrV6(v), "value does not look like a valid IPv6 CIDR network"));
    add("CIDR", (v) => check(isCidrV4(v) || isCidrV6(v), "value does not look like a valid CIDR network"));
    add("pve-ipv4-config", (v) =>
        check(
            /^(?:dhcp|manual)$/.test(v) || isCidrV4(v),
            "value does not look like a valid ipv4 network configuration",
        ),
    );
    add("pve-ipv6-config", (v) =>
        check(
            /^(?:auto|dhcp|manual)$/.test(v) || isCidrV6(v),
            "value does not look like a valid ipv6 network configuration",
        ),
    );
    add("dns-name", (v) => check(DNS_NAME_RE.test(v), "value does not look like a valid DNS name"));
    add("email", (v) =>
        check(
            /^[\w+\-~]+(\.[\w+\-~]+)*@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$/.test(v),
            "value does not look like a valid email address",
        ),
    );
    add("pve-iface", (v) =>
        check(/^[a-z][a-z0-9_]{1,20}([:.]\d+)?$/i.test(v), `invalid network interface name '${v}'`),
    );
    add("pve-vlan-id-or-range", (v) => {
        const match = /^(\d+)(?:-(\d+))?$/.exec(v);
        if (!match) throw new FormatError(`invalid VLAN configuration '${v}'`);
        for (const tag of [match[1], match[2]]) {
            if (tag !== undefined && (Number(tag) < 2 || Number(tag) > 4094)) {
                throw new FormatError(`invalid VLAN tag '${tag}'`);
            }
        }
        if (match[2] !== undefined && Number(match[1]) >= Number(match[2])) {
            throw new FormatError(`VLAN range must go from lower to higher tag '${v}'`);
        }
    });
    add("pve-startup-order", (v) => {
        try {
            parseStartup(v);
        } catch {
            throw new FormatError("unable to parse startup options");
        }
    });
    add("pve-tag", (v) => check(/^[a-z0-9_][a-z0-9_\-+.]*$/i.test(v), "invalid characters in tag"));
    add("pve-ct-timezone", (v) => check(v === "host" || TZ_RE.test(v), `invalid time zone '${v}'`));
    add("pve-poolid", (v) => check(/^[A-Za-z0-9.\-_]+$/.test(v), `pool name '${v}' contains invalid characters`));
    add("pve-storage-content", (v) => check(STORAGE_CONTENT_TYPES.has(v), `invalid content type '${v}'`));
    add("pve-realm", (v) => check(new RegExp(`^${REALM_RE_SRC}$`).test(v), "value does not look like a valid realm"));
    add("pve-roleid", (v) => check(/^[A-Za-z0-9.\-_]+$/.test(v), `role name '${v}' contains invalid characters`));
    add("pve-groupid", (v) => check(/^[A-Za-z0-9.\-_]+$/.test(v), `group name '${v}' contains invalid characters`));
    add("pve-userid", (v) => void verifyUsername(v));
    add("pve-tokenid", (v) => check(TOKENID_RE.test(v), `value '${v}' does not look like a valid token ID`));
    add("pve-priv", (v) => check(privileges.has(v), `invalid privilege '${v}'`));
    // pve-container verify_lxc_mp_string: no `/./`, `/../`, trailing `/.`/`/..` or leading `../`.
    const mpString: FormatValidator = (v) =>
        check(
            !(/\/\.\.?\//.test(v) || /\/\.\.?$/.test(v) || /^\.\.\//.test(v)),
            `${v} contains illegal character sequences`,
        );
    add("pve-lxc-mp-string", mpString);
    add("pve-lxc-dev-string", mpString);
    add("disk-size", (v) =>
        check(/^(\d+(\.\d+)?)([KMGT])?$/.test(v), `value does not look like a valid disk size: ${v}`),
    );
    // pve-container lxc-ip-with-ll-iface: an IP, a link-local IPv6 may carry `%iface`.
    add("lxc-ip-with-ll-iface", (v) => {
        const linkLocal = /^(fe80:[^%]+)%(.*)$/i.exec(v);
        const addr = linkLocal ? linkLocal[1] : v;
        check(isIpv4(addr) || isIpv6(addr), "value does not look like a valid IP address");
    });
    return formats;
}

/** PVE::JSONSchema::check_format for a named format (hash formats are handled by the schema checker). */
export function checkNamedFormat(formats: ReadonlyMap<string, FormatValidator>, format: string, value: string): void {
    if (format === "regex") return;
    const match = /^(.*?)(?:-(list|opt))?$/.exec(format);
    const name = match ? match[1] : format;
    const kind = match?.[2] ?? "none";
    const validator = formats.get(name);
    // A format of an API path the simulator does not serve: PVE would know it, so accept the value.
    if (!validator) return;
    if (kind === "list") {
        for (const item of splitList(value)) validator(item);
    } else if (kind === "opt") {
        if (value) validator(value);
    } else {
        validator(value);
    }
}
