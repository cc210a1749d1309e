import assert from "node:assert/strict";
import {
    FEATURES_FORMAT,
    NET_FORMAT,
    PropertyStringError,
    ROOTFS_FORMAT,
    formatSize,
    normaliseFeatures,
    normaliseNet,
    normaliseTags,
    parseBoolean,
    parseFeatures,
    parseKeyValueList,
    parseNet,
    parsePropertyString,
    parseRootfs,
    parseSize,
    parseStartup,
    parseTags,
    printFeatures,
    printNet,
    printPropertyString,
    printRootfs,
    printStartup,
    randomHwaddr,
    sizeToGiB,
    splitList,
} from "../../providers/proxmox/propstrings";

describe("propstrings", () => {
    describe("parsePropertyString / printPropertyString", () => {
        it("splits keys, skips blank parts and keeps values verbatim", () => {
            assert.deepEqual(parsePropertyString("a=1,, b=x=y ,c=d"), { a: "1", " b": "x=y ", c: "d" });
        });

        it("refuses what PVE refuses, with PVE's texts", () => {
            const cases: [string, string][] = [
                ["a=1,a=2", "duplicate key in comma-separated list property: a"],
                ["bare", "value without key, but schema does not define a default key"],
                ["a=", "missing key in comma-separated list property"],
                ["=x", "missing key in comma-separated list property"],
            ];
            for (const [text, message] of cases) {
                assert.throws(() => parsePropertyString(text), new PropertyStringError(message));
            }
            assert.throws(
                () => parsePropertyString("name=eth0,colour=red", NET_FORMAT),
                new PropertyStringError("invalid key in comma-separated list property: colour"),
            );
            assert.throws(
                () => parsePropertyString("local:1,local:2", ROOTFS_FORMAT),
                new PropertyStringError("duplicate key in comma-separated list property: volume"),
            );
        });

        it("normalises booleans the way parse_boolean does", () => {
            assert.deepEqual(parsePropertyString("nesting=yes,keyctl=OFF,fuse=true", FEATURES_FORMAT), {
                nesting: "1",
                keyctl: "0",
                fuse: "1",
            });
            assert.equal(parseBoolean("On"), 1);
            assert.equal(parseBoolean("no"), 0);
            assert.equal(parseBoolean("2"), undefined);
        });

        it("prints the default key first, then required keys, then the rest sorted", () => {
            assert.equal(
                printPropertyString({ size: "32G", volume: "local-zfs:subvol-100-disk-0", acl: true }, ROOTFS_FORMAT),
                "local-zfs:subvol-100-disk-0,acl=1,size=32G",
            );
            assert.equal(printPropertyString({ zeta: 1, alpha: "x", mid: false }), "alpha=x,mid=0,zeta=1");
            assert.throws(
                () => printPropertyString({ description: "a,b" }),
                new PropertyStringError("illegal value with commas for description"),
            );
        });

        it("parses generic key=value lists with a default key", () => {
            assert.deepEqual(parseKeyValueList("local:8,ro=1", "volume"), { volume: "local:8", ro: "1" });
            assert.throws(
                () => parseKeyValueList("a,b", "volume"),
                new PropertyStringError("duplicate key in comma-separated list property: volume"),
            );
        });

        it("splits lists like PVE::Tools::split_list", () => {
            assert.deepEqual(splitList(" a, b;c  d "), ["a", "b", "c", "d"]);
            assert.deepEqual(splitList("a b\0c"), ["a b", "c"]);
            assert.deepEqual(splitList(""), []);
        });
    });

    describe("netN", () => {
        const hwaddr = "BC:24:11:2A:3B:4C";

        it("round-trips the form PVE stores", () => {
            const stored = `name=eth0,bridge=vmbr1,firewall=1,gw=10.100.0.1,hwaddr=${hwaddr},ip=10.100.0.10/24,type=veth`;
            assert.equal(printNet(parseNet(stored)), stored);
            const dhcp = `name=eth0,bridge=vmbr0,hwaddr=${hwaddr},ip=dhcp,ip6=auto,tag=20,type=veth`;
            assert.equal(printNet(parseNet(dhcp)), dhcp);
        });

        it("normalises like PVE: name first, keys sorted, type=veth added, booleans as 0/1", () => {
            assert.equal(
                normaliseNet("ip=10.100.0.10/24,bridge=vmbr1,gw=10.100.0.1,firewall=yes,name=eth0", { hwaddr }),
                `name=eth0,bridge=vmbr1,firewall=1,gw=10.100.0.1,hwaddr=${hwaddr},ip=10.100.0.10/24,type=veth`,
            );
            assert.equal(
                normaliseNet(
                    { name: "eth1", bridge: "vmbr2", ip: "dhcp", mtu: 1450, rate: 12.5, link_down: false },
                    {
                        hwaddr,
                    },
                ),
                `name=eth1,bridge=vmbr2,hwaddr=${hwaddr},ip=dhcp,link_down=0,mtu=1450,rate=12.5,type=veth`,
            );
        });

        it("keeps a given hwaddr and generates BC:24:11 ones otherwise", () => {
            assert.equal(
                normaliseNet(`name=eth0,hwaddr=${hwaddr}`, { hwaddr: "BC:24:11:00:00:01" }),
                `name=eth0,hwaddr=${hwaddr},type=veth`,
            );
            const generated = parseNet(normaliseNet("name=eth0,bridge=vmbr0")).hwaddr ?? "";
            assert.match(generated, /^BC:24:11(:[0-9A-F]{2}){3}$/);
            assert.match(randomHwaddr("02:00"), /^02:00(:[0-9A-F]{2}){4}$/);
        });

        it("types the keys", () => {
            assert.deepEqual(parseNet("name=eth0,bridge=vmbr0,firewall=0,mtu=9000,tag=5,trunks=1;2;3,rate=2.5"), {
                name: "eth0",
                bridge: "vmbr0",
                firewall: false,
                mtu: 9000,
                tag: 5,
                trunks: "1;2;3",
                rate: 2.5,
            });
            assert.throws(
                () => parseNet("bridge=vmbr0"),
                new PropertyStringError("name: property is missing and it is not optional"),
            );
            assert.throws(
                () => parseNet("name=eth0,mtu=big"),
                new PropertyStringError("mtu: type check ('integer') failed - got 'big'"),
            );
        });
    });

    describe("features", () => {
        it("prints sorted with mount as a ;-list", () => {
            assert.equal(
                printFeatures({ nesting: true, keyctl: true, mount: ["nfs", "cifs"], fuse: false }),
                "fuse=0,keyctl=1,mount=nfs;cifs,nesting=1",
            );
            assert.equal(printFeatures({}), "");
        });

        it("round-trips and normalises", () => {
            assert.deepEqual(parseFeatures("keyctl=1,mount=nfs;cifs,nesting=1"), {
                keyctl: true,
                mount: ["nfs", "cifs"],
                nesting: true,
            });
            assert.equal(normaliseFeatures("nesting=on,keyctl=yes"), "keyctl=1,nesting=1");
            assert.equal(normaliseFeatures("nesting=1"), "nesting=1");
            assert.throws(
                () => parseFeatures("nesting=1,docker=1"),
                new PropertyStringError("invalid key in comma-separated list property: docker"),
            );
        });
    });

    describe("rootfs and sizes", () => {
        it("round-trips the stored form", () => {
            const stored = "local-zfs:subvol-100-disk-0,size=32G";
            const parsed = parseRootfs(stored);
            assert.deepEqual(parsed, {
                volume: "local-zfs:subvol-100-disk-0",
                storage: "local-zfs",
                volname: "subvol-100-disk-0",
                size: "32G",
                sizeBytes: 32 * 1024 ** 3,
            });
            assert.equal(printRootfs(parsed), stored);
        });

        it("recognises the create form and normalises sizes", () => {
            assert.deepEqual(parseRootfs("local-zfs:32"), {
                volume: "local-zfs:32",
                storage: "local-zfs",
                newDiskGiB: 32,
            });
            assert.deepEqual(parseRootfs("8.5"), { volume: "8.5", newDiskGiB: 8.5 });
            assert.equal(
                printRootfs({ volume: "local-lvm:vm-101-disk-0", size: "8192M", ro: false }),
                "local-lvm:vm-101-disk-0,ro=0,size=8G",
            );
            assert.equal(
                printRootfs(parseRootfs("volume=local-zfs:subvol-100-disk-0,size=8704M")),
                "local-zfs:subvol-100-disk-0,size=8704M",
            );
        });

        it("parses and formats sizes as parse_size/format_size do", () => {
            assert.equal(parseSize("32G"), 34359738368);
            assert.equal(parseSize("1.5K"), 1536);
            assert.equal(parseSize("100"), 100);
            assert.equal(parseSize("1g"), undefined);
            assert.equal(parseSize("+2G"), undefined);
            assert.equal(formatSize(34359738368), "32G");
            assert.equal(formatSize(9126805504), "8704M");
            assert.equal(formatSize(2 * 1024 ** 4), "2T");
            assert.equal(formatSize(1536), "1536");
            assert.equal(formatSize(3 * 1024), "3K");
            assert.equal(sizeToGiB("32G"), 32);
            assert.equal(sizeToGiB("512M"), 0.5);
            assert.throws(
                () => sizeToGiB("x"),
                new PropertyStringError("value does not look like a valid disk size: x"),
            );
        });
    });

    describe("tags", () => {
        it("lowercases, de-duplicates, sorts and joins with ;", () => {
            assert.equal(normaliseTags("Web;db,web  Monitoring"), "db;monitoring;web");
            assert.equal(normaliseTags(["phl-home-dev", "B", "a"]), "a;b;phl-home-dev");
            assert.equal(normaliseTags(""), "");
            assert.deepEqual(parseTags("b;a"), ["a", "b"]);
        });
    });

    describe("startup", () => {
        it("parses like pve_parse_startup_order and prints the canonical form", () => {
            assert.deepEqual(parseStartup("2,up=30"), { order: 2, up: 30 });
            assert.equal(printStartup(parseStartup("down=5,order=1,up=10")), "order=1,up=10,down=5");
            assert.throws(() => parseStartup("first"), new PropertyStringError("unable to parse startup options"));
        });
    });
});
