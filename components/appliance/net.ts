/**
 * IPv4 arithmetic for the app LAN (plain numbers, no Pulumi), so address rules are checked and defaults derived
 * before anything is created.
 */

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/** `10.20.0.1` → 169082881; undefined when `s` is not a dotted-quad IPv4 address. */
export function parseIpv4(s: string): number | undefined {
    if (!IPV4.test(s)) return undefined;
    return s.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
}

/** 169082881 → `10.20.0.1`. */
export function formatIpv4(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

export interface Ipv4Subnet {
    /** Network address as a number. */
    network: number;
    prefix: number;
    /** Broadcast address as a number. */
    broadcast: number;
}

/** `10.20.0.0/24` → its address and prefix; undefined when malformed. */
export function parseCidr(s: string): { address: number; prefix: number } | undefined {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
    if (!m) return undefined;
    const address = parseIpv4(m[1]);
    const prefix = Number(m[2]);
    if (address === undefined || prefix > 32) return undefined;
    return { address, prefix };
}

/** The subnet an address belongs to. */
export function subnetOf(address: number, prefix: number): Ipv4Subnet {
    const size = 2 ** (32 - prefix);
    const network = address - (address % size);
    return { network, prefix, broadcast: network + size - 1 };
}

export function inSubnet(ip: number, subnet: Ipv4Subnet): boolean {
    return ip >= subnet.network && ip <= subnet.broadcast;
}

/** `24` → `255.255.255.0`. */
export function prefixToNetmask(prefix: number): string {
    return formatIpv4(2 ** 32 - 2 ** (32 - prefix));
}

/** `10.20.0.0/24` for a subnet. */
export function formatCidr(subnet: Ipv4Subnet): string {
    return `${formatIpv4(subnet.network)}/${subnet.prefix}`;
}

export function subnetsOverlap(a: Ipv4Subnet, b: Ipv4Subnet): boolean {
    return a.network <= b.broadcast && b.network <= a.broadcast;
}

/** Inclusive ranges of addresses, in ascending order. */
export type AddressRanges = [number, number][];

/** `ranges` without the inclusive range [from, to]. */
export function subtractRange(ranges: AddressRanges, from: number, to: number): AddressRanges {
    const out: AddressRanges = [];
    for (const [a, b] of ranges) {
        if (to < a || from > b) {
            out.push([a, b]);
            continue;
        }
        if (a < from) out.push([a, from - 1]);
        if (b > to) out.push([to + 1, b]);
    }
    return out;
}

export function rangesSize(ranges: AddressRanges): number {
    return ranges.reduce((n, [a, b]) => n + (b - a + 1), 0);
}

/** The `index`-th address (0-based) across `ranges`. */
export function addressAt(ranges: AddressRanges, index: number): number {
    let i = index;
    for (const [a, b] of ranges) {
        const size = b - a + 1;
        if (i < size) return a + i;
        i -= size;
    }
    throw new RangeError(`address index ${index} is outside the ranges`);
}

export function inRanges(ranges: AddressRanges, ip: number): boolean {
    return ranges.some(([a, b]) => ip >= a && ip <= b);
}
