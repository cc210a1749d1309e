/**
 * The nftables fence inside the PVE-host namespace: a second wall behind "there is no route out".
 *
 * The test bed's first wall is routing (containers and the host namespace have no route to the outside, the real
 * host does not forward). The fence makes that checkable: everything forwarded that is neither a reply, nor traffic
 * staying inside the bed, nor a container talking to the egress proxy's port is dropped and COUNTED by destination
 * class, and a prerouting counter sees every packet aimed at an outside address even when routing would drop it
 * anyway. Tests assert that the outside counters stay zero.
 *
 * The table is changed with flush + re-add inside one `nft -f` transaction, never deleted, so the named counters
 * keep their values across bridge changes.
 */

export const FENCE_TABLE = "phl_fence";

/** The named counters, by what they count. */
export const FENCE_COUNTERS = {
    /** Any IPv4 packet arriving in the host namespace whose destination is outside the bed (counted, not dropped). */
    preOutside: "pre_outside",
    /** Forwarded packets toward an outside destination (dropped). */
    fwdOutside: "fwd_outside",
    /** Forwarded packets toward the real host's side of the link other than the proxy port (dropped). */
    fwdLink: "fwd_link",
    /** Forwarded IPv6 (the bed is IPv4 only; dropped). */
    fwdIpv6: "fwd_ipv6",
    /** Packets the host namespace itself sends toward an outside destination (dropped). */
    outOutside: "out_outside",
} as const;

export interface FenceSpec {
    /** The link /30 between the real host and the host namespace, e.g. `10.254.0.0/30`. */
    linkCidr: string;
    /** The proxy's address on the real host's side of the link. */
    proxyAddr: string;
    proxyPort: number;
    /** Bridges of the bed; `net` is the IPv4 network of the bridge's address (absent when it has none). */
    bridges: { name: string; net?: string }[];
}

/** Addresses that never leave a host: unspecified, loopback, multicast, limited broadcast. */
const LOCAL_ONLY = "{ 0.0.0.0, 127.0.0.0/8, 224.0.0.0/4, 255.255.255.255 }";

function assertIfname(name: string): void {
    // Interface names reach nft as quoted strings; refuse anything that could end the quote.
    if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) throw new Error(`fence: bad interface name ${JSON.stringify(name)}`);
}

function assertCidr(cidr: string): void {
    if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(cidr)) throw new Error(`fence: bad IPv4 network ${cidr}`);
}

/** The whole fence as one `nft -f` script (idempotent: creating what is missing, replacing every rule). */
export function renderFence(spec: FenceSpec): string {
    assertCidr(spec.linkCidr);
    assertCidr(spec.proxyAddr);
    const t = `inet ${FENCE_TABLE}`;
    const nets = [spec.linkCidr];
    for (const b of spec.bridges) {
        assertIfname(b.name);
        if (b.net) {
            assertCidr(b.net);
            if (!nets.includes(b.net)) nets.push(b.net);
        }
    }
    const l2only = spec.bridges.filter((b) => !b.net).map((b) => b.name);
    const c = FENCE_COUNTERS;
    const lines = [
        `table ${t} {`,
        ...Object.values(c).map((name) => `    counter ${name} { }`),
        "    set bed4 { type ipv4_addr; flags interval; auto-merge; }",
        "    chain prerouting { type filter hook prerouting priority -300; policy accept; }",
        "    chain forward { type filter hook forward priority -10; policy drop; }",
        "    chain output { type filter hook output priority -10; policy accept; }",
        "}",
        `flush set ${t} bed4`,
        `flush chain ${t} prerouting`,
        `flush chain ${t} forward`,
        `flush chain ${t} output`,
        `add element ${t} bed4 { ${nets.join(", ")} }`,
        // Frames bridged on a bridge without a host address (an isolated LAN such as the appliance's app LAN) carry
        // that LAN's own addresses, which the bed cannot know: they pass the IP hooks (bridge netfilter) without
        // ever being routed by this namespace, so they are not counted as outside-bound. Routed traffic from such a
        // bridge would still meet the forward chain's counters.
        `add rule ${t} prerouting ${l2only.length ? `iifname != { ${l2only.map((n) => `"${n}"`).join(", ")} } ` : ""}` +
            `ip daddr != @bed4 ip daddr != ${LOCAL_ONLY} counter name ${c.preOutside}`,
        `add rule ${t} forward ct state established,related accept`,
        // Bridged traffic (bridge netfilter is on): a bridge talking to itself never leaves the bed.
        ...spec.bridges.map((b) => `add rule ${t} forward iifname "${b.name}" oifname "${b.name}" accept`),
        `add rule ${t} forward ip daddr ${spec.proxyAddr} tcp dport ${spec.proxyPort} accept`,
        // Routed between the bed's own networks: the product's own FORWARD rules (iptables, applied in this
        // namespace for real) decide, so they are exercised rather than shadowed by the fence.
        `add rule ${t} forward ip daddr != ${spec.linkCidr} ip daddr @bed4 accept`,
        `add rule ${t} forward meta nfproto ipv6 counter name ${c.fwdIpv6} drop`,
        `add rule ${t} forward ip daddr ${spec.linkCidr} counter name ${c.fwdLink} drop`,
        `add rule ${t} forward counter name ${c.fwdOutside} drop`,
        `add rule ${t} output oifname "lo" accept`,
        `add rule ${t} output ip daddr @bed4 accept`,
        `add rule ${t} output ip daddr ${LOCAL_ONLY} accept`,
        `add rule ${t} output meta nfproto ipv6 drop`,
        `add rule ${t} output counter name ${c.outOutside} drop`,
    ];
    return lines.join("\n") + "\n";
}

export interface CounterValue {
    packets: number;
    bytes: number;
}

/** Parses `nft -j list counters table inet phl_fence`. */
export function parseFenceCounters(json: string): Record<string, CounterValue> {
    const out: Record<string, CounterValue> = {};
    const doc = JSON.parse(json) as { nftables?: { counter?: { name: string; packets: number; bytes: number } }[] };
    for (const item of doc.nftables ?? []) {
        if (item.counter) out[item.counter.name] = { packets: item.counter.packets, bytes: item.counter.bytes };
    }
    return out;
}
