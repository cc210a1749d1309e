/**
 * Small IPv4 helpers for validating the stack's addressing before anything is created. Plain numbers, no
 * dependencies: the subnets here are a handful of /24s, and every rule ("inside its subnet", "not the network
 * address", "subnets must not overlap") is one or two comparisons on 32-bit integers.
 */

const OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const ADDRESS_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** `10.100.0.10` → true; leading zeros, spaces and ranges are refused (PVE refuses them too). */
export function isIpv4(s: string): boolean {
    return ADDRESS_RE.test(s);
}

/** `10.100.0.10` → 0x0a64000a. Caller checks `isIpv4` first. */
export function ipToInt(s: string): number {
    return s.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

export interface Ipv4Cidr {
    /** Network address as an integer. */
    network: number;
    prefix: number;
    /** Number of addresses in the subnet (2^(32-prefix)). */
    size: number;
}

/** Parses `a.b.c.d/p`; undefined when it is not one. Does not require `a.b.c.d` to be the network address. */
export function parseCidr(s: string): { address: number; prefix: number } | undefined {
    const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(s);
    if (!m || !isIpv4(m[1])) return undefined;
    const prefix = Number(m[2]);
    if (prefix > 32) return undefined;
    return { address: ipToInt(m[1]), prefix };
}

/** The subnet `a.b.c.d/p` belongs to. */
export function subnetOf(address: number, prefix: number): Ipv4Cidr {
    const size = 2 ** (32 - prefix);
    return { network: address - (address % size), prefix, size };
}

export function cidrContains(c: Ipv4Cidr, address: number): boolean {
    return address >= c.network && address < c.network + c.size;
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
    return a.network < b.network + b.size && b.network < a.network + a.size;
}

/** `10.100.0.0/24`. */
export function formatCidr(c: Ipv4Cidr): string {
    return `${intToIp(c.network)}/${c.prefix}`;
}

/** An address usable by a host in `c`: inside it, and neither its network nor (below /31) its broadcast address. */
export function isHostAddress(c: Ipv4Cidr, address: number): boolean {
    if (!cidrContains(c, address)) return false;
    if (c.prefix >= 31) return true;
    return address !== c.network && address !== c.network + c.size - 1;
}
