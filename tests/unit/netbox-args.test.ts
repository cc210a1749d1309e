/** NetboxStack argument validation and defaults: every rule names its field, nothing is created first. */
import assert from "node:assert/strict";
import { DEFAULT_NETBOX_PLUGINS, NetboxStackArgs, resolveNetboxArgs } from "../../components/netbox/args";
import { ValidationError } from "../../components/common/validation";

function problems(args: unknown): string[] {
    try {
        resolveNetboxArgs("netbox", args as NetboxStackArgs);
    } catch (e) {
        assert.ok(e instanceof ValidationError, String(e));
        assert.equal(e.subject, 'NetboxStack "netbox"');
        return e.problems;
    }
    assert.fail("expected a ValidationError");
}

describe("NetboxStack arguments", () => {
    it("defaults to the document's layout", () => {
        const c = resolveNetboxArgs("netbox", {});
        assert.equal(c.node, "pve");
        assert.equal(c.storage, "local-zfs");
        assert.equal(c.template, undefined);
        assert.equal(c.templateStorage, "local");
        assert.equal(c.templateName, "debian-13-standard_13.1-2_amd64.tar.zst");
        assert.deepEqual(c.network, {
            external: "vmbr0",
            backend: { name: "vmbr1", cidr: "10.100.0.0/24", prefix: 24, hostAddress: "10.100.0.1" },
            dmz: { name: "vmbr2", cidr: "10.100.1.0/24", prefix: 24, hostAddress: "10.100.1.1" },
            manageBridges: true,
            monitoringSources: [],
        });
        assert.deepEqual(c.app, {
            vmid: 100,
            hostname: "netbox",
            cores: 2,
            memory: 4096,
            swap: 2048,
            diskGiB: 32,
            backendAddress: "10.100.0.10",
            dmzAddress: "10.100.1.10",
            gunicornWorkers: 4,
        });
        assert.deepEqual(c.db, {
            vmid: 101,
            hostname: "netbox-db",
            cores: 2,
            memory: 2048,
            swap: 1024,
            diskGiB: 16,
            backendAddress: "10.100.0.20",
        });
        assert.deepEqual(c.cache, {
            vmid: 102,
            hostname: "netbox-redis",
            cores: 1,
            memory: 1024,
            swap: 512,
            diskGiB: 8,
            backendAddress: "10.100.0.30",
        });
        assert.deepEqual(c.proxy, {
            vmid: 103,
            hostname: "netbox-proxy",
            cores: 1,
            memory: 512,
            swap: 256,
            diskGiB: 8,
            dmzAddress: "10.100.1.40",
            externalIp: "dhcp",
            externalGateway: undefined,
        });
        assert.equal(c.publicName, "netbox.home.arpa");
        assert.deepEqual(c.extraNames, []);
        assert.equal(c.netboxVersion, "v4.4.7");
        assert.equal(c.releaseUrl, "https://github.com/netbox-community/netbox/archive/refs/tags/v4.4.7.tar.gz");
        assert.deepEqual(c.plugins, DEFAULT_NETBOX_PLUGINS);
        assert.deepEqual(
            c.plugins.map((p) => `${p.package}==${p.version}`),
            [
                "netbox-plugin-dns==1.4.4",
                "netbox-secrets==2.4.1",
                "netbox-acls==1.9.1",
                "netbox-bgp==0.17.0",
                "netbox-inventory==2.4.1",
                "netbox-floorplan-plugin==0.8.0",
                "netbox-reorder-rack==1.1.4",
            ],
        );
        assert.deepEqual(c.proxbox, { enabled: false });
        assert.equal(c.nodeExporter, true);
        assert.equal(c.nameserver, undefined);
        assert.equal(c.adminUser, "admin");
        assert.equal(c.adminEmail, "admin@netbox.home.arpa");
        assert.equal(c.timeZone, "UTC");
        assert.equal(c.postgresVersion, 17);
        assert.deepEqual(c.database, { name: "netbox", user: "netbox" });
        assert.equal(c.downloads.debianMirror, "http://deb.debian.org/debian");
    });

    it("derives the default addresses from custom subnets, and workers from cores", () => {
        const c = resolveNetboxArgs("lab", {
            network: {
                backend: { name: "nbback", cidr: "172.16.8.0/22" },
                dmz: { name: "nbdmz", cidr: "172.16.12.0/24", hostAddress: "172.16.12.254" },
                monitoringSources: ["192.168.1.5", "192.168.2.0/24"],
            },
            app: { cores: 3 },
        });
        assert.deepEqual(c.network.backend, {
            name: "nbback",
            cidr: "172.16.8.0/22",
            prefix: 22,
            hostAddress: "172.16.8.1",
        });
        assert.equal(c.network.dmz.hostAddress, "172.16.12.254");
        assert.deepEqual(c.network.monitoringSources, ["192.168.1.5/32", "192.168.2.0/24"]);
        assert.equal(c.app.backendAddress, "172.16.8.10");
        assert.equal(c.db.backendAddress, "172.16.8.20");
        assert.equal(c.cache.backendAddress, "172.16.8.30");
        assert.equal(c.app.dmzAddress, "172.16.12.10");
        assert.equal(c.proxy.dmzAddress, "172.16.12.40");
        assert.equal(c.app.gunicornWorkers, 6);
    });

    it("fills {version} into a mirror URL and adds netbox-proxbox when proxbox is on", () => {
        const c = resolveNetboxArgs("netbox", {
            netboxVersion: "v4.5.9",
            releaseUrl: "https://mirror.lan/netbox/{version}/netbox-{version}.tar.gz",
            proxbox: { enabled: true },
        });
        assert.equal(c.releaseUrl, "https://mirror.lan/netbox/v4.5.9/netbox-v4.5.9.tar.gz");
        assert.deepEqual(c.plugins.at(-1), { package: "netbox-proxbox", version: "0.0.15", module: "netbox_proxbox" });
        assert.deepEqual(c.proxbox, {
            enabled: true,
            pluginVersion: "0.0.15",
            apiVersion: "0.0.11",
            minNetboxVersion: "4.5.8",
            userId: "proxbox@pve",
            roleId: "ProxboxReadOnly",
            tokenName: "netbox",
            port: 8800,
            tlsPort: 8443,
            workers: 1,
        });
    });

    it("names the field for memory and disk below a role's minimum", () => {
        assert.deepEqual(problems({ db: { memory: 128 } }), ["NetboxStack.db.memory: must be ≥ 512 MiB, got 128"]);
        assert.deepEqual(
            problems({ app: { memory: 512, diskGiB: 4 }, cache: { memory: 255 }, proxy: { memory: 64 } }),
            [
                "NetboxStack.app.memory: must be ≥ 1024 MiB, got 512",
                "NetboxStack.app.diskGiB: must be ≥ 8 GiB, got 4",
                "NetboxStack.cache.memory: must be ≥ 256 MiB, got 255",
                "NetboxStack.proxy.memory: must be ≥ 128 MiB, got 64",
            ],
        );
    });

    it("refuses overlapping subnets", () => {
        assert.deepEqual(problems({ network: { backend: { cidr: "10.100.0.0/16" } } }), [
            "NetboxStack.network.dmz.cidr: overlaps network.backend.cidr (10.100.1.0/24 and 10.100.0.0/16)",
        ]);
    });

    it("refuses addresses outside their subnet, taken twice, or the host's own", () => {
        assert.deepEqual(
            problems({
                app: { backendAddress: "10.100.5.10" },
                db: { backendAddress: "10.100.0.30" },
                proxy: { dmzAddress: "10.100.1.1" },
                cache: { backendAddress: "10.100.0.255" },
            }),
            [
                "NetboxStack.app.backendAddress: must be inside network.backend.cidr (10.100.0.0/24), got 10.100.5.10",
                "NetboxStack.cache.backendAddress: is the network or broadcast address of 10.100.0.0/24, got 10.100.0.255",
                "NetboxStack.proxy.dmzAddress: is the host's own address on vmbr2, got 10.100.1.1",
            ],
        );
        assert.deepEqual(problems({ db: { backendAddress: "10.100.0.30" } }), [
            "NetboxStack.cache.backendAddress: 10.100.0.30 is already used by db.backendAddress",
        ]);
        assert.deepEqual(problems({ network: { backend: { hostAddress: "10.100.1.1" } } }), [
            'NetboxStack.network.backend.hostAddress: must be a host address in 10.100.0.0/24, got "10.100.1.1"',
        ]);
    });

    it("refuses duplicate vmids, hostnames and bridge names", () => {
        assert.deepEqual(problems({ cache: { vmid: 101, hostname: "netbox" } }), [
            "NetboxStack.cache.vmid: 101 is already used by db",
            'NetboxStack.cache.hostname: "netbox" is already used by app',
        ]);
        assert.deepEqual(problems({ network: { external: "vmbr2" } }), [
            'NetboxStack.network.dmz.name: "vmbr2" is already used by network.external',
        ]);
    });

    it("wants subnets written as their network address", () => {
        assert.deepEqual(problems({ network: { backend: { cidr: "10.100.0.5/24" } } }), [
            'NetboxStack.network.backend.cidr: must be written as its network address (10.100.0.0/24), got "10.100.0.5/24"',
        ]);
        assert.deepEqual(problems({ network: { dmz: { cidr: "10.100.1.0/30" } } }), [
            "NetboxStack.network.dmz.cidr: prefix must be /8 to /29, got /30",
            "NetboxStack.app.dmzAddress: must be inside network.dmz.cidr (10.100.1.0/30), got 10.100.1.10",
            "NetboxStack.proxy.dmzAddress: must be inside network.dmz.cidr (10.100.1.0/30), got 10.100.1.40",
        ]);
    });

    it("checks the proxy's static address against the inner subnets", () => {
        assert.deepEqual(problems({ proxy: { externalIp: "10.100.1.50/24", externalGateway: "10.100.2.1" } }), [
            "NetboxStack.proxy.externalIp: 10.100.1.50/24 overlaps network.dmz.cidr (10.100.1.0/24)",
            "NetboxStack.proxy.externalGateway: must be inside 10.100.1.0/24, got 10.100.2.1",
        ]);
        assert.deepEqual(problems({ proxy: { externalGateway: "192.168.1.1" } }), [
            "NetboxStack.proxy.externalGateway: only applies to a static proxy.externalIp (DHCP brings its own)",
        ]);
        const c = resolveNetboxArgs("netbox", {
            proxy: { externalIp: "192.168.1.50/24", externalGateway: "192.168.1.1" },
        });
        assert.equal(c.proxy.externalIp, "192.168.1.50/24");
    });

    it("names unknown settings and wrong types", () => {
        assert.deepEqual(problems({ bogus: 1, app: { memroy: 4096 } }), [
            "NetboxStack.app.memroy: unknown setting",
            "NetboxStack.bogus: unknown setting",
        ]);
        assert.deepEqual(
            problems({
                db: { memory: "2048" },
                app: { cores: 1.5 },
                network: "vmbr1",
                nodeExporter: "yes",
                extraNames: "x",
                publicName: "Bad_Name",
                netboxVersion: "4.4.7",
                releaseUrl: "ftp://mirror/x",
                nameserver: "1.1.1.1,8.8.8.8",
            }),
            [
                'NetboxStack.network: must be an object, got "vmbr1"',
                "NetboxStack.app.cores: must be a whole number, got 1.5",
                'NetboxStack.db.memory: must be a number, got "2048"',
                'NetboxStack.publicName: must be a lowercase DNS name such as netbox.home.arpa, got "Bad_Name"',
                'NetboxStack.extraNames: must be a list, got "x"',
                'NetboxStack.netboxVersion: must be a release tag such as v4.4.7, got "4.4.7"',
                'NetboxStack.releaseUrl: must be an http(s) URL without spaces or quotes, got "ftp://mirror/x"',
                'NetboxStack.nodeExporter: must be true or false, got "yes"',
                'NetboxStack.nameserver: must be IPv4 addresses separated by single spaces, got "1.1.1.1,8.8.8.8"',
            ],
        );
    });

    it("refuses proxbox on a NetBox its plugin does not support", () => {
        assert.deepEqual(problems({ proxbox: { enabled: true } }), [
            "NetboxStack.proxbox.enabled: netbox-proxbox 0.0.15 needs NetBox ≥ 4.5.8, got netboxVersion v4.4.7 " +
                "(raise netboxVersion, or pin proxbox.pluginVersion and proxbox.minNetboxVersion to a release that supports it)",
        ]);
        const c = resolveNetboxArgs("netbox", {
            proxbox: { enabled: true, pluginVersion: "0.0.7", apiVersion: "0.0.3", minNetboxVersion: "4.4.0" },
        });
        assert.equal(c.plugins.at(-1)?.version, "0.0.7");
    });

    it("refuses duplicate plugins, netbox_proxbox listed by hand, and clashing proxbox ports", () => {
        assert.deepEqual(
            problems({
                plugins: [
                    { package: "a", version: "1", module: "m" },
                    { package: "A", version: "2", module: "m" },
                    { package: "netbox-proxbox", version: "0.0.15", module: "netbox_proxbox" },
                ],
                netboxVersion: "v4.5.9",
                proxbox: { enabled: true, port: 8443 },
            }),
            [
                "NetboxStack.proxbox.tlsPort: must differ from proxbox.port (8443)",
                "NetboxStack.plugins: lists netbox_proxbox, which proxbox.enabled adds itself (set proxbox.pluginVersion instead)",
                'NetboxStack.plugins[1].module: "m" is already listed at plugins[0]',
                'NetboxStack.plugins[1].package: "A" is already listed at plugins[0]',
                'NetboxStack.plugins[3].module: "netbox_proxbox" is already listed at plugins[2]',
                'NetboxStack.plugins[3].package: "netbox-proxbox" is already listed at plugins[2]',
            ],
        );
        assert.deepEqual(problems({ plugins: [{ package: "ok", version: "1", module: "not-python" }] }), [
            'NetboxStack.plugins[0].module: must be a Python module name such as netbox_dns, got "not-python"',
        ]);
    });

    it("wants a certificate and its key together", () => {
        assert.deepEqual(problems({ tls: { certPem: "x" } }), [
            "NetboxStack.tls: certPem and keyPem go together (got only certPem)",
        ]);
        assert.deepEqual(problems({ tls: { keyPem: "x" } }), [
            "NetboxStack.tls: certPem and keyPem go together (got only keyPem)",
        ]);
        assert.deepEqual(problems({ tls: { ca: "not a CA" } }), ["NetboxStack.tls.ca: must be a HomelabCa"]);
    });

    it("refuses a public name listed again in extraNames", () => {
        assert.deepEqual(problems({ extraNames: ["netbox.home.arpa", "nb.lan", "nb.lan"] }), [
            'NetboxStack.extraNames[0]: "netbox.home.arpa" is listed twice',
            'NetboxStack.extraNames[2]: "nb.lan" is listed twice',
        ]);
    });
});
