import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
    ProximityAppArgs,
    ProximityApplianceArgs,
    defaultAppHwaddr,
    resolveApplianceArgs,
} from "../../components/appliance/args";
import { ValidationError } from "../../components/common/index";
import { formatIpv4, parseIpv4 } from "../../components/appliance/net";

const TEMPLATE = "local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz";
const app = (name: string, extra: Partial<ProximityAppArgs> = {}): ProximityAppArgs => ({
    name,
    port: 80,
    cores: 1,
    memory: 512,
    swap: 512,
    diskGiB: 8,
    ...extra,
});
const resolve = (extra: Partial<ProximityApplianceArgs> = {}) =>
    resolveApplianceArgs("prox", { node: "pve", template: TEMPLATE, ...extra });

/** The ValidationError's problem lines. */
function problemsOf(extra: Record<string, unknown>): string[] {
    try {
        resolve(extra as Partial<ProximityApplianceArgs>);
    } catch (e) {
        assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
        assert.equal(e.subject, 'ProximityAppliance "prox"');
        return e.problems;
    }
    assert.fail("expected a ValidationError");
}

describe("ProximityAppliance args: defaults", () => {
    it("fills in document 001's values", () => {
        const r = resolve();
        assert.deepEqual(
            {
                os: r.os,
                vmid: r.vmid,
                hostname: r.hostname,
                cores: r.cores,
                memory: r.memory,
                swap: r.swap,
                diskGiB: r.diskGiB,
                storage: r.storage,
                wanBridge: r.wanBridge,
                lanBridge: r.lanBridge,
                lan: r.lan,
                domain: r.domain,
                upstreamDns: r.upstreamDns,
                managementCidrs: r.managementCidrs,
                cockpit: r.cockpit,
                apps: r.apps,
            },
            {
                os: "alpine",
                vmid: 100,
                hostname: "prox-appliance",
                cores: 2,
                memory: 1024,
                swap: 512,
                diskGiB: 8,
                storage: "local-lvm",
                wanBridge: "vmbr0",
                lanBridge: "proximity_lan",
                lan: {
                    cidr: "10.20.0.0/24",
                    prefix: 24,
                    netmask: "255.255.255.0",
                    gateway: "10.20.0.1",
                    dhcpStart: "10.20.0.100",
                    dhcpEnd: "10.20.0.250",
                    leaseTime: "12h",
                },
                domain: "prox.local",
                upstreamDns: ["8.8.8.8", "1.1.1.1"],
                managementCidrs: undefined,
                cockpit: false,
                apps: [],
            },
        );
    });

    it("Debian gets Cockpit by default; an empty upstream list stays empty", () => {
        const r = resolve({ os: "debian", upstreamDns: [] });
        assert.equal(r.cockpit, true);
        assert.equal(r.cockpitUser, "proximity");
        assert.deepEqual(r.upstreamDns, []);
    });

    it("derives the gateway and DHCP pool from a custom lanCidr", () => {
        const r = resolve({ lanCidr: "172.16.8.0/22" });
        assert.equal(r.lan.gateway, "172.16.8.1");
        assert.equal(r.lan.dhcpStart, "172.16.8.100");
        assert.equal(r.lan.dhcpEnd, "172.16.8.250");
        assert.equal(r.lan.netmask, "255.255.252.0");
    });

    it("an app inherits template and OS, gets a MAC in PVE's BC:24:11 range from sha256(name)", () => {
        const r = resolve({ os: "debian", apps: [app("nginx")] });
        const h = createHash("sha256").update("nginx").digest();
        const expected = `BC:24:11:${[h[0], h[1], h[2]].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":")}`;
        assert.equal(r.apps[0].hwaddr, expected);
        assert.equal(defaultAppHwaddr("nginx"), expected);
        assert.equal(r.apps[0].template, TEMPLATE);
        assert.equal(r.apps[0].os, "debian");
        assert.equal(r.apps[0].healthPath, "/");
    });

    it("default app addresses stay put when other apps come and go", () => {
        const ips = (names: string[]) =>
            Object.fromEntries(resolve({ apps: names.map((n) => app(n)) }).apps.map((a) => [a.name, a.ip]));
        const two = ips(["web", "db"]);
        const three = ips(["wiki", "web", "db"]);
        const one = ips(["db"]);
        assert.equal(three.web, two.web);
        assert.equal(three.db, two.db);
        assert.equal(one.db, two.db);
        assert.deepEqual(ips(["db", "web"]), two);
    });

    it("default app addresses are hosts of the LAN outside the DHCP range and never the gateway", () => {
        for (let i = 0; i < 300; i++) {
            const r = resolve({ apps: [app(`app${i}`)] });
            const ip = parseIpv4(r.apps[0].ip)!;
            const inLan = ip > parseIpv4("10.20.0.1")! && ip < parseIpv4("10.20.0.255")!;
            const inPool = ip >= parseIpv4("10.20.0.100")! && ip <= parseIpv4("10.20.0.250")!;
            assert.ok(inLan && !inPool, `app${i} got ${formatIpv4(ip)}`);
        }
    });

    it("explicit addresses and MACs are kept (MACs uppercased)", () => {
        const r = resolve({ apps: [app("web", { ip: "10.20.0.2", hwaddr: "bc:24:11:00:00:02", vmid: 201 })] });
        assert.deepEqual(
            { ip: r.apps[0].ip, hwaddr: r.apps[0].hwaddr, vmid: r.apps[0].vmid },
            { ip: "10.20.0.2", hwaddr: "BC:24:11:00:00:02", vmid: 201 },
        );
    });

    it("lets apps reach an HTTP proxy given as an IPv4 address, and normalises management CIDRs", () => {
        const r = resolve({
            downloads: { httpProxy: "http://user:secret@192.168.1.10:3128" },
            managementCidrs: ["192.168.1.7/24"],
            managementExceptions: [{ cidr: "192.168.1.53", port: 53, protocol: "udp" }],
        });
        assert.deepEqual(r.managementCidrs, ["192.168.1.0/24"]);
        assert.deepEqual(r.managementExceptions, [
            { cidr: "192.168.1.10/32", port: 3128, protocol: "tcp" },
            { cidr: "192.168.1.53/32", port: 53, protocol: "udp" },
        ]);
        assert.deepEqual(resolve({ downloads: { httpProxy: "http://proxy.lan:3128" } }).managementExceptions, []);
    });
});

describe("ProximityAppliance args: validation names the field", () => {
    it("an app name that is not a DNS label", () => {
        assert.deepEqual(problemsOf({ apps: [app("Web_1")] }), [
            `ProximityAppliance.apps[0].name: must be a DNS label (lowercase letters, digits and '-', at most 63, no leading or trailing '-'), got "Web_1"`,
        ]);
    });

    it("duplicate names, vmids, addresses and MACs", () => {
        assert.deepEqual(
            problemsOf({
                apps: [
                    app("web", { vmid: 201, ip: "10.20.0.10", hwaddr: "BC:24:11:00:00:01" }),
                    app("web"),
                    app("db", { vmid: 201, ip: "10.20.0.10", hwaddr: "bc:24:11:00:00:01" }),
                    app("wiki", { vmid: 100 }),
                ],
            }),
            [
                'ProximityAppliance.apps[1].name: duplicate of apps[0], got "web"',
                'ProximityAppliance.apps[2].vmid: 201 is already used by apps[0] "web"',
                'ProximityAppliance.apps[2].ip: 10.20.0.10 is already used by apps[0] "web"',
                'ProximityAppliance.apps[2].hwaddr: BC:24:11:00:00:01 is already used by apps[0] "web"',
                "ProximityAppliance.apps[3].vmid: 100 is the appliance's vmid",
            ],
        );
    });

    it("a default address that another app already holds, with a free one to use instead", () => {
        const taken = resolve({ apps: [app("db")] }).apps[0].ip;
        assert.deepEqual(problemsOf({ apps: [app("x", { ip: taken }), app("db")] }), [
            `ProximityAppliance.apps[1].ip: the default address ${taken} (derived from the name) is already used by apps[0] "x"; set ip explicitly, e.g. 10.20.0.2`,
        ]);
    });

    it("a DHCP range outside the subnet, and a gateway inside the range", () => {
        assert.deepEqual(problemsOf({ dhcpRange: { start: "10.20.0.1", end: "10.21.0.5" } }), [
            'ProximityAppliance.dhcpRange.end: must be a host address inside lanCidr 10.20.0.0/24, got "10.21.0.5"',
            "ProximityAppliance.lanGateway: must not be inside the DHCP range 10.20.0.1–10.21.0.5, got 10.20.0.1",
        ]);
        assert.deepEqual(problemsOf({ lanGateway: "10.20.0.120" }), [
            "ProximityAppliance.lanGateway: must not be inside the DHCP range 10.20.0.100–10.20.0.250, got 10.20.0.120",
        ]);
        assert.deepEqual(problemsOf({ dhcpRange: { start: "10.20.0.200", end: "10.20.0.150" } }), [
            "ProximityAppliance.dhcpRange: start must not be after end, got 10.20.0.200 > 10.20.0.150",
        ]);
    });

    it("static leases inside the dynamic range, outside the LAN, or on the gateway", () => {
        assert.deepEqual(
            problemsOf({
                apps: [app("a", { ip: "10.20.0.150" }), app("b", { ip: "10.30.0.1" }), app("c", { ip: "10.20.0.1" })],
            }),
            [
                'ProximityAppliance.apps[0].ip: must be outside the DHCP range 10.20.0.100–10.20.0.250 (a static lease there could be handed to another client), got "10.20.0.150"',
                'ProximityAppliance.apps[1].ip: must be a host address inside lanCidr 10.20.0.0/24, got "10.30.0.1"',
                "ProximityAppliance.apps[2].ip: 10.20.0.1 is the appliance's lanGateway",
            ],
        );
    });

    it("a lanCidr with host bits, an overlapping management CIDR, equal bridges, Cockpit on Alpine", () => {
        assert.deepEqual(
            problemsOf({
                lanCidr: "10.20.0.5/24",
                managementCidrs: ["10.0.0.0/8"],
                lanBridge: "vmbr0",
                cockpit: true,
            }),
            [
                'ProximityAppliance.lanCidr: must be a network address (host bits zero) like 10.20.0.0/24, got "10.20.0.5/24"',
                'ProximityAppliance.lanBridge: must differ from wanBridge, got "vmbr0" for both',
                'ProximityAppliance.managementCidrs[0]: must not overlap lanCidr 10.20.0.0/24, got "10.0.0.0/8"',
                `ProximityAppliance.cockpit: Cockpit is not packaged for Alpine Linux, so the Alpine appliance has no web management UI (document 001's Cockpit on :9090); use os: "debian" for Cockpit, or manage the Alpine appliance with \`pct enter <vmid>\`.`,
            ],
        );
    });

    it("a LAN too small for the default DHCP pool needs an explicit one", () => {
        assert.deepEqual(problemsOf({ lanCidr: "10.20.0.0/27" }), [
            "ProximityAppliance.dhcpRange: required when lanCidr is smaller than /24 (the default .100–.250 does not fit 10.20.0.0/27)",
        ]);
        const r = resolve({ lanCidr: "10.20.0.0/27", dhcpRange: { start: "10.20.0.16", end: "10.20.0.30" } });
        assert.equal(r.lan.netmask, "255.255.255.224");
    });

    it("the PVE bridge name rules: the document's proximity-lan is refused", () => {
        assert.deepEqual(problemsOf({ lanBridge: "proximity-lan" }), [
            `ProximityAppliance.lanBridge: must be a PVE interface name (a letter, then letters, digits or '_'; 2 to 15 characters), got "proximity-lan"`,
        ]);
    });

    it("shape errors: types, ranges, unknown keys, bad paths and MACs", () => {
        assert.deepEqual(
            problemsOf({
                typo: 1,
                cores: 0,
                memory: 128,
                template: 5,
                upstreamDns: ["8.8.8.800", "dns.google"],
                apps: [app("ok", { port: 0, healthPath: "/a b", hwaddr: "BD:24:11:00:00:01" })],
            }),
            [
                "ProximityAppliance.template: must be a template volid (a string or an Output of one)",
                "ProximityAppliance.cores: must be ≥ 1, got 0",
                "ProximityAppliance.memory: must be ≥ 512 MiB, got 128",
                'ProximityAppliance.upstreamDns[0]: must be a valid IPv4 address, got "8.8.8.800"',
                'ProximityAppliance.upstreamDns[1]: must be an IPv4 or IPv6 address, optionally with #port, got "dns.google"',
                "ProximityAppliance.apps[0].port: must be ≥ 1, got 0",
                'ProximityAppliance.apps[0].healthPath: must be a URL path like /health (letters, digits, . _ ~ % / -), got "/a b"',
                'ProximityAppliance.apps[0].hwaddr: must be a unicast MAC address (first octet even), got "BD:24:11:00:00:01"',
                'ProximityAppliance: Unrecognized key: "typo"',
            ],
        );
    });
});
