/**
 * NetboxStack under Pulumi's mocks. The mock monitor's registerResource is wrapped so every registration is seen
 * exactly as the engine would get it: type, name, parent, dependencies (explicit and through inputs) and the
 * serialized inputs with their secret markers. Asserted: the resource graph and its names, parents, the order
 * the document needs (host network before containers, db before migrate, cache before app, app before proxy),
 * every secret marked secret, no secret value anywhere in clear, and bad arguments failing before anything is
 * registered.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";

import * as pulumi from "@pulumi/pulumi";
import type { MockResourceArgs } from "@pulumi/pulumi/runtime";

import type * as NetboxModule from "../../components/netbox";

const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const isRpcSecret = (v: unknown): boolean =>
    typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
const unwrap = (v: unknown): unknown => (isRpcSecret(v) ? (v as { value: unknown }).value : v);

const T = {
    stack: "proxmox-homelab:netbox:NetboxStack",
    container: "proxmox-homelab:common:HomelabContainer",
    ca: "proxmox-homelab:common:HomelabCa",
    serverCert: "proxmox-homelab:common:ServerCert",
    bridge: "pulumi-nodejs:dynamic/proxmox:Bridge",
    lxc: "pulumi-nodejs:dynamic/proxmox:Lxc",
    template: "pulumi-nodejs:dynamic/proxmox:Template",
    file: "pulumi-nodejs:dynamic/proxmox:File",
    exec: "pulumi-nodejs:dynamic/proxmox:Exec",
    role: "pulumi-nodejs:dynamic/proxmox:Role",
    user: "pulumi-nodejs:dynamic/proxmox:User",
    acl: "pulumi-nodejs:dynamic/proxmox:Acl",
    token: "pulumi-nodejs:dynamic/proxmox:ApiToken",
    password: "random:index/randomPassword:RandomPassword",
    bytes: "random:index/randomBytes:RandomBytes",
};

/** Every value the mocked providers hand out that must stay secret; none may appear in clear anywhere. */
const SECRET_VALUES: string[] = [];
const secretValue = (v: string): string => (SECRET_VALUES.push(v), v);

function stateFor(a: MockResourceArgs): Record<string, unknown> {
    const i = a.inputs as Record<string, unknown>;
    switch (a.type) {
        case T.bridge:
            return { ...i, active: true, ports: [], vlanAware: false };
        case T.template:
            return { ...i, volid: `${i.storage}:vztmpl/${i.template}`, downloaded: false };
        case T.lxc: {
            const nets = (i.networks ?? []) as { name: string; ip?: string }[];
            return {
                ...i,
                status: "running",
                pendingChanges: [],
                interfaces: nets.map((n) => ({
                    name: n.name,
                    hwaddr: "BC:24:11:00:00:01",
                    ipv4: n.ip === undefined || n.ip === "dhcp" ? "192.168.8.77/24" : n.ip,
                })),
            };
        }
        case T.file: {
            const content = String(unwrap(i.content));
            return { ...i, sha256: createHash("sha256").update(content).digest("hex"), size: content.length };
        }
        case T.exec:
            return { ...i, exitCode: 0, stdout: "", stderr: "" };
        case T.role:
            return { ...i, effectivePrivileges: ["Datastore.Audit", "Sys.Audit", "VM.Audit"], pveMajor: 9 };
        case T.user:
        case T.acl:
            return i;
        case T.token:
            return {
                ...i,
                fullTokenId: `${i.userId}!${i.tokenName}`,
                value: secretValue("0b1f8c2e-5d6a-4c3b-9e8f-7a6b5c4d3e2f"),
            };
        case T.password:
            // Alphanumeric, like the stack asks for, and unique per resource so a leak is traceable.
            return { ...i, result: secretValue(`Pw${a.name.replace(/[^A-Za-z0-9]/g, "")}X9`), bcryptHash: "$2a$10$x" };
        case T.bytes: {
            const bytes = createHash("sha256").update(a.name).digest();
            return { ...i, base64: secretValue(bytes.toString("base64")), hex: secretValue(bytes.toString("hex")) };
        }
        case "tls:index/privateKey:PrivateKey":
            return {
                ...i,
                privateKeyPem: secretValue(`-----BEGIN PRIVATE KEY-----\n${a.name}\n-----END PRIVATE KEY-----\n`),
            };
        case "tls:index/selfSignedCert:SelfSignedCert":
            return { ...i, certPem: `-----BEGIN CERTIFICATE-----\nCA ${a.name}\n-----END CERTIFICATE-----\n` };
        case "tls:index/certRequest:CertRequest":
            return { ...i, certRequestPem: "CSR" };
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { ...i, certPem: `-----BEGIN CERTIFICATE-----\nLEAF ${a.name}\n-----END CERTIFICATE-----\n` };
        default:
            // Components register too (no provider behind them); anything else is a type we did not expect.
            if (!a.custom && a.type.startsWith("proxmox-homelab:")) return {};
            throw new Error(`unexpected resource type ${a.type} (${a.name})`);
    }
}

interface Registration {
    type: string;
    name: string;
    /** Name of the parent (last URN component), undefined for the stack itself. */
    parent?: string;
    /** Names of every resource this one depends on: dependsOn plus the resources behind its Output inputs. */
    deps: Set<string>;
    /** Inputs as serialized for the engine, secret markers included. */
    inputs: Record<string, unknown>;
}

const regs: Registration[] = [];
const calls: string[] = [];
const nameOf = (urn: string): string => urn.split("::").pop() as string;

let M: typeof NetboxModule;

async function settle(): Promise<void> {
    let n = -1;
    while (n !== regs.length) {
        n = regs.length;
        await new Promise((r) => setTimeout(r, 200));
    }
}

const value = <X>(o: pulumi.Output<X>): Promise<X> => new Promise((resolve) => o.apply((v) => resolve(v)));

/** The one registration called `name` (containers share their name with their Lxc: pass the type). */
function reg(name: string, type?: string): Registration {
    const hits = regs.filter((r) => r.name === name && (type === undefined || r.type === type));
    assert.equal(hits.length, 1, `expected one resource named ${name}, got ${hits.length}`);
    return hits[0];
}

const input = (name: string, key: string): unknown => reg(name).inputs[key];
const plain = (name: string, key: string): unknown => {
    const v = input(name, key);
    assert.ok(!isRpcSecret(v), `${name}.${key} is secret`);
    return v;
};

/** Direct children of a component, by type. */
const childrenOf = (parent: string) => regs.filter((r) => r.parent === parent);

/** Walks a serialized value; calls `leaf` on every string outside a secret. */
function plainStrings(v: unknown, leaf: (s: string, path: string) => void, path = ""): void {
    if (isRpcSecret(v)) return;
    if (typeof v === "string") leaf(v, path);
    else if (Array.isArray(v)) v.forEach((x, i) => plainStrings(x, leaf, `${path}[${i}]`));
    else if (v && typeof v === "object") {
        for (const [k, x] of Object.entries(v)) plainStrings(x, leaf, `${path}.${k}`);
    }
}

describe("NetboxStack (mocks)", function () {
    this.timeout(120_000);

    before(async () => {
        // Compiled with the same settings as providers/: with useDefineForClassFields (the default for target
        // ES2022) a `x!: Output<..>` field is redefined as undefined after super(), and every provider output is lost.
        class Probe {
            x!: number;
        }
        if (Object.prototype.hasOwnProperty.call(new Probe(), "x")) {
            throw new Error(
                "providers' resource classes lose their outputs: `x!: Output<..>` fields are redefined as undefined " +
                    'after super() under useDefineForClassFields. Fix: tsconfig "useDefineForClassFields": false, ' +
                    "or `declare` those fields.",
            );
        }
        await pulumi.runtime.setMocks(
            {
                newResource(args) {
                    return { id: `${args.name}-id`, state: stateFor(args) };
                },
                call(args) {
                    calls.push(args.token);
                    throw new Error(`unexpected provider call ${args.token}`);
                },
            },
            "proxmox-homelab",
            "test",
            false,
        );
        // Seen as the engine sees it: parent, dependencies and serialized inputs of every registration.
        const monitor = require("@pulumi/pulumi/runtime/settings").getMonitor();
        const original = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: RegisterResourceRequest, callback: unknown) => {
            try {
                record(req);
            } catch (e) {
                console.error("recording a registration failed:", e);
            }
            return original(req, callback);
        };
        const record = (req: RegisterResourceRequest) => {
            const deps = new Set<string>(req.getDependenciesList().map(nameOf));
            req.getPropertydependenciesMap().forEach((d) => d.getUrnsList().forEach((u) => deps.add(nameOf(u))));
            regs.push({
                type: req.getType(),
                name: req.getName(),
                parent: req.getParent() ? nameOf(req.getParent()) : undefined,
                deps,
                inputs: (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>,
            });
        };
        M = await import("../../components/netbox");
    });

    describe("default arguments (the document's layout)", () => {
        let stack: NetboxModule.NetboxStack;

        before(async () => {
            stack = new M.NetboxStack("netbox", {});
            await value(stack.containers);
            await settle();
        });

        it("registers the component with the expected type", () => {
            assert.equal(reg("netbox").type, T.stack);
            assert.equal(reg("netbox").parent, undefined);
        });

        it("declares exactly these children, every one parented to the stack", () => {
            const kids = childrenOf("netbox")
                .map((r) => `${r.type.split(":").pop()} ${r.name}`)
                .sort();
            assert.deepEqual(
                kids,
                [
                    "Bridge netbox-backend",
                    "Bridge netbox-dmz",
                    "Exec netbox-app-collectstatic",
                    "Exec netbox-app-install",
                    "Exec netbox-app-migrate",
                    "Exec netbox-app-nginx",
                    "Exec netbox-app-prepare",
                    "Exec netbox-app-services",
                    "Exec netbox-app-superuser",
                    "Exec netbox-cache-configure",
                    "Exec netbox-db-configure",
                    "Exec netbox-db-init",
                    "Exec netbox-host-network",
                    "Exec netbox-proxy-nginx",
                    "File netbox-app-configuration",
                    "File netbox-app-ensure-superuser",
                    "File netbox-app-gunicorn",
                    "File netbox-app-local-requirements",
                    "File netbox-app-nginx-static",
                    "File netbox-app-secrets",
                    "File netbox-app-unit-housekeeping",
                    "File netbox-app-unit-housekeeping-timer",
                    "File netbox-app-unit-netbox",
                    "File netbox-app-unit-netbox-rq",
                    "File netbox-cache-auth",
                    "File netbox-cache-conf",
                    "File netbox-db-conf",
                    "File netbox-db-hba",
                    "File netbox-host-firewall-rules",
                    "File netbox-host-firewall-script",
                    "File netbox-host-firewall-unit",
                    "File netbox-host-sysctl",
                    "File netbox-proxy-site",
                    "File netbox-proxy-tls-cert",
                    "File netbox-proxy-tls-key",
                    "HomelabCa netbox-ca",
                    "HomelabContainer netbox-app",
                    "HomelabContainer netbox-cache",
                    "HomelabContainer netbox-db",
                    "HomelabContainer netbox-proxy",
                    "RandomPassword netbox-admin-password",
                    "RandomPassword netbox-cache-password",
                    "RandomPassword netbox-db-password",
                    "RandomPassword netbox-secret-key",
                    "ServerCert netbox-proxy-cert",
                    "Template netbox-template",
                ].sort(),
            );
            // Every resource of the stack hangs below it, and every name carries the stack's name.
            const all = regs.filter((r) => r.name.startsWith("netbox"));
            for (const r of all) {
                if (r.name === "netbox") continue;
                assert.ok(r.parent?.startsWith("netbox"), `${r.name} has parent ${r.parent}`);
            }
            assert.deepEqual(calls, []);
        });

        it("creates the four containers with the document's ids, sizes, addresses and dual-homing", () => {
            const lxc = (n: string) => {
                const r = reg(n, T.lxc);
                assert.equal(r.parent, n);
                return r.inputs;
            };
            const app = lxc("netbox-app");
            assert.equal(app.vmid, 100);
            assert.equal(app.hostname, "netbox");
            assert.deepEqual([app.cores, app.memory, app.swap], [2, 4096, 2048]);
            assert.deepEqual(app.rootfs, { storage: "local-zfs", sizeGiB: 32 });
            assert.equal(app.unprivileged, true);
            assert.deepEqual(app.features, { nesting: true });
            assert.equal(app.ostemplate, "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst");
            assert.deepEqual(app.networks, [
                { name: "eth0", bridge: "vmbr1", ip: "10.100.0.10/24", gw: "10.100.0.1" },
                { name: "eth1", bridge: "vmbr2", ip: "10.100.1.10/24" },
            ]);
            const db = lxc("netbox-db");
            assert.deepEqual([db.vmid, db.hostname, db.cores, db.memory, db.swap], [101, "netbox-db", 2, 2048, 1024]);
            assert.deepEqual(db.networks, [{ name: "eth0", bridge: "vmbr1", ip: "10.100.0.20/24", gw: "10.100.0.1" }]);
            const cache = lxc("netbox-cache");
            assert.deepEqual([cache.vmid, cache.cores, cache.memory, cache.swap], [102, 1, 1024, 512]);
            assert.deepEqual(cache.networks, [
                { name: "eth0", bridge: "vmbr1", ip: "10.100.0.30/24", gw: "10.100.0.1" },
            ]);
            const proxy = lxc("netbox-proxy");
            assert.deepEqual([proxy.vmid, proxy.cores, proxy.memory, proxy.swap], [103, 1, 512, 256]);
            assert.deepEqual(proxy.networks, [
                { name: "eth0", bridge: "vmbr0", ip: "dhcp" },
                { name: "eth1", bridge: "vmbr2", ip: "10.100.1.40/24" },
            ]);
        });

        it("persists the bridges through the PVE network API with the host as gateway", () => {
            assert.deepEqual(
                ["netbox-backend", "netbox-dmz"].map((n) => [
                    plain(n, "name"),
                    plain(n, "cidr"),
                    plain(n, "autostart"),
                ]),
                [
                    ["vmbr1", "10.100.0.1/24", true],
                    ["vmbr2", "10.100.1.1/24", true],
                ],
            );
            assert.equal(plain("netbox-host-firewall-rules", "path"), "/etc/proxmox-homelab/netbox-firewall.rules");
            assert.equal(plain("netbox-host-firewall-script", "mode"), "0755");
            assert.equal(input("netbox-host-network", "vmid"), undefined);
        });

        it("orders the graph: host network → containers → db → cache → app → proxy", () => {
            const dependsOn = (name: string, ...on: string[]) => {
                const r = regs.find((x) => x.name === name && x.type !== T.container)!;
                for (const o of on) assert.ok(r.deps.has(o), `${name} does not depend on ${o}`);
            };
            dependsOn("netbox-host-network", "netbox-backend", "netbox-dmz", "netbox-host-firewall-rules");
            // Through their NICs' bridge inputs, containers wait for the bridges and the host's routing.
            for (const ct of ["netbox-db", "netbox-cache", "netbox-app"])
                dependsOn(ct, "netbox-backend", "netbox-host-network");
            dependsOn("netbox-proxy", "netbox-dmz", "netbox-host-network");
            dependsOn("netbox-db-configure", "netbox-db-conf", "netbox-db-hba", "netbox-db-bootstrap");
            dependsOn("netbox-db-init", "netbox-db-configure");
            dependsOn("netbox-cache-configure", "netbox-cache-conf", "netbox-cache-auth");
            dependsOn("netbox-app-configuration", "netbox-app-prepare");
            dependsOn("netbox-app-install", "netbox-app-prepare", "netbox-app-local-requirements");
            dependsOn("netbox-app-migrate", "netbox-db-init", "netbox-cache-configure", "netbox-app-install");
            dependsOn("netbox-app-superuser", "netbox-app-migrate");
            dependsOn(
                "netbox-app-services",
                "netbox-app-migrate",
                "netbox-app-collectstatic",
                "netbox-app-unit-netbox",
            );
            dependsOn("netbox-app-nginx", "netbox-app-collectstatic", "netbox-app-nginx-static");
            dependsOn("netbox-proxy-nginx", "netbox-proxy-site", "netbox-proxy-tls-cert", "netbox-proxy-tls-key");
            // ...and on nothing of the app's: it serves TLS (502 upstream) while the app's steps run or fail.
            const proxyNginx = childrenOf("netbox").find((x) => x.name === "netbox-proxy-nginx")!;
            assert.deepEqual(
                [...proxyNginx.deps].filter((d) => /^netbox-app-/.test(d)),
                [],
            );
            // Every container step waits for its container's bootstrap.
            for (const r of childrenOf("netbox").filter((x) => x.type === T.exec && x.inputs.vmid !== undefined)) {
                const ct = r.name.split("-")[1];
                assert.ok(r.deps.has(`netbox-${ct}-bootstrap`), `${r.name} does not wait for netbox-${ct}-bootstrap`);
            }
        });

        it("runs each step only when exactly its inputs change", () => {
            const triggers = (n: string) => (plain(n, "triggers") as unknown[]).slice(1);
            assert.deepEqual(triggers("netbox-app-migrate"), [
                "v4.4.7",
                "netbox-plugin-dns==1.4.4:netbox_dns,netbox-secrets==2.4.1:netbox_secrets,netbox-acls==1.9.1:netbox_acls," +
                    "netbox-bgp==0.17.0:netbox_bgp,netbox-inventory==2.4.1:netbox_inventory," +
                    "netbox-floorplan-plugin==0.8.0:netbox_floorplan,netbox-reorder-rack==1.1.4:netbox_reorder_rack",
                "10.100.0.20",
                "netbox",
            ]);
            assert.equal(triggers("netbox-app-collectstatic").length, 2);
            assert.equal(triggers("netbox-app-install").length, 1);
            assert.equal(triggers("netbox-host-network").length, 4);
            assert.deepEqual(triggers("netbox-app-prepare"), []);
            // The first trigger is the script itself, so changing a script re-runs its step.
            for (const r of childrenOf("netbox").filter((x) => x.type === T.exec)) {
                assert.equal((r.inputs.triggers as unknown[])[0], r.inputs.create, r.name);
            }
        });

        it("writes each file where its daemon reads it, with tight modes for secrets", () => {
            const meta = (n: string) => [plain(n, "path"), plain(n, "mode"), plain(n, "owner"), plain(n, "group")];
            assert.deepEqual(meta("netbox-db-conf"), [
                "/etc/postgresql/17/main/conf.d/50-netbox.conf",
                "0644",
                "postgres",
                "postgres",
            ]);
            assert.deepEqual(meta("netbox-db-hba"), [
                "/etc/postgresql/17/main/pg_hba.conf",
                "0640",
                "postgres",
                "postgres",
            ]);
            assert.deepEqual(meta("netbox-cache-conf"), ["/etc/valkey/valkey.conf", "0640", "root", "valkey"]);
            assert.deepEqual(meta("netbox-cache-auth"), ["/etc/valkey/valkey-auth.conf", "0640", "root", "valkey"]);
            assert.deepEqual(meta("netbox-app-secrets"), ["/etc/netbox/secrets.json", "0640", "root", "netbox"]);
            assert.deepEqual(meta("netbox-app-configuration"), [
                "/etc/netbox/configuration.py",
                "0640",
                "root",
                "netbox",
            ]);
            assert.deepEqual(meta("netbox-proxy-tls-key"), [
                "/etc/nginx/ssl/netbox.home.arpa.key",
                "0600",
                "root",
                "root",
            ]);
            assert.deepEqual(meta("netbox-proxy-site"), ["/etc/nginx/sites-available/netbox", "0644", "root", "root"]);
            assert.equal(input("netbox-db-conf", "vmid"), 101);
            assert.equal(input("netbox-cache-auth", "vmid"), 102);
            assert.equal(input("netbox-app-secrets", "vmid"), 100);
            assert.equal(input("netbox-proxy-site", "vmid"), 103);
        });

        it("marks every secret as secret: files, environments, outputs", async () => {
            for (const f of ["netbox-app-secrets", "netbox-cache-auth", "netbox-proxy-tls-key"]) {
                assert.ok(isRpcSecret(input(f, "content")), `${f} content is not secret`);
            }
            for (const f of ["netbox-app-configuration", "netbox-db-conf", "netbox-proxy-site", "netbox-cache-conf"]) {
                assert.ok(!isRpcSecret(input(f, "content")), `${f} content is secret, so previews would hide it`);
            }
            const envSecret = (exec: string, key: string) => {
                const env = input(exec, "environment");
                assert.ok(
                    isRpcSecret(env) || isRpcSecret((env as Record<string, unknown>)[key]),
                    `${exec} ${key} is not secret`,
                );
            };
            envSecret("netbox-db-init", "NETBOX_DB_PASSWORD");
            envSecret("netbox-cache-configure", "REDISCLI_AUTH");
            envSecret("netbox-app-superuser", "NETBOX_ADMIN_PASSWORD");
            assert.equal(await pulumi.isSecret(stack.adminPassword), true);
            assert.equal(await value(stack.adminPassword), "PwnetboxadminpasswordX9");
        });

        it("never puts a secret value in clear: not in scripts, triggers, plain files or outputs", async () => {
            for (const r of regs) {
                plainStrings(r.inputs, (s, p) => {
                    for (const secret of SECRET_VALUES) {
                        assert.ok(!s.includes(secret), `${r.name}${p} holds a secret in clear`);
                    }
                });
            }
            const outputs = {
                url: await value(stack.url),
                caCertPem: await value(stack.caCertPem),
                adminUser: await value(stack.adminUser),
                containers: await value(stack.containers),
                monitoringTargets: await value(stack.monitoringTargets),
                proxbox: await value(stack.proxbox),
            };
            const plainOutputs: Record<string, pulumi.Output<unknown>> = {
                url: stack.url,
                caCertPem: stack.caCertPem,
                adminUser: stack.adminUser,
                containers: stack.containers,
                monitoringTargets: stack.monitoringTargets,
                proxbox: stack.proxbox,
            };
            for (const [k, o] of Object.entries(plainOutputs)) {
                assert.equal(await pulumi.isSecret(o), false, `${k} is secret`);
            }
            const text = JSON.stringify(outputs);
            for (const secret of SECRET_VALUES) assert.ok(!text.includes(secret), "a plain output holds a secret");
        });

        it("reports url, admin user, containers and monitoring targets", async () => {
            assert.equal(await value(stack.url), "https://netbox.home.arpa/");
            assert.equal(await value(stack.adminUser), "admin");
            assert.match(await value(stack.caCertPem), /CA netbox-ca-cert/);
            assert.deepEqual(await value(stack.containers), {
                app: { vmid: 100, hostname: "netbox", addresses: { eth0: "10.100.0.10", eth1: "10.100.1.10" } },
                db: { vmid: 101, hostname: "netbox-db", addresses: { eth0: "10.100.0.20" } },
                cache: { vmid: 102, hostname: "netbox-redis", addresses: { eth0: "10.100.0.30" } },
                proxy: {
                    vmid: 103,
                    hostname: "netbox-proxy",
                    addresses: { eth0: "192.168.8.77", eth1: "10.100.1.40" },
                },
            });
            assert.deepEqual(await value(stack.monitoringTargets), {
                nodeExporters: [
                    { address: "10.100.0.10:9100", container: "netbox", component: "netbox" },
                    { address: "10.100.0.20:9100", container: "netbox-db", component: "netbox" },
                    { address: "10.100.0.30:9100", container: "netbox-redis", component: "netbox" },
                    { address: "10.100.1.40:9100", container: "netbox-proxy", component: "netbox" },
                ],
                httpProbes: [{ name: "netbox", url: "https://netbox.home.arpa/", component: "netbox" }],
                icmpProbes: [],
            });
            assert.equal(await value(stack.proxbox), undefined);
            assert.equal(await value(stack.proxboxApiKey), undefined);
        });

        it("bootstraps each container with the packages its step needs", () => {
            const script = (n: string) => String(plain(`netbox-${n}-bootstrap`, "create"));
            assert.match(
                script("db"),
                /install -y -q --no-install-recommends ca-certificates postgresql prometheus-node-exporter\n/,
            );
            assert.match(script("cache"), /ca-certificates prometheus-node-exporter valkey-server\n/);
            assert.match(script("proxy"), /ca-certificates nginx prometheus-node-exporter\n/);
            assert.match(script("app"), / libpq-dev .* nginx .* python3-venv /);
        });
    });

    describe("proxbox, a certificate of one's own, and other overrides", () => {
        let stack: NetboxModule.NetboxStack;

        before(async () => {
            stack = new M.NetboxStack("pbx", {
                netboxVersion: "v4.5.9",
                proxbox: { enabled: true },
                template: "local:vztmpl/custom.tar.zst",
                network: {
                    backend: { name: "pbx1", cidr: "10.60.0.0/24" },
                    dmz: { name: "pbx2", cidr: "10.60.1.0/24" },
                    manageBridges: false,
                },
                app: { vmid: 200 },
                db: { vmid: 201 },
                cache: { vmid: 202 },
                proxy: { vmid: 203 },
                nodeExporter: false,
                nameserver: "192.168.1.1 1.1.1.1",
                tls: {
                    certPem: "-----BEGIN CERTIFICATE-----\nMINE\n-----END CERTIFICATE-----\n",
                    keyPem: pulumi.secret("my-key"),
                },
            });
            await value(stack.containers);
            await value(stack.proxbox);
            await settle();
        });

        it("adds the PVE role, user, token and ACLs, least privilege and version-aware", () => {
            assert.deepEqual(reg("pbx-proxbox-role").inputs.privileges, ["Datastore.Audit", "Sys.Audit", "VM.Audit"]);
            assert.deepEqual(reg("pbx-proxbox-role").inputs.pve8Privileges, ["VM.Monitor"]);
            assert.deepEqual(reg("pbx-proxbox-role").inputs.pve9Privileges, ["VM.GuestAgent.Audit"]);
            assert.equal(plain("pbx-proxbox-role", "roleId"), "ProxboxReadOnly");
            assert.equal(plain("pbx-proxbox-user", "userId"), "proxbox@pve");
            assert.equal(plain("pbx-proxbox-token", "privsep"), true);
            assert.deepEqual(
                ["pbx-proxbox-user-acl", "pbx-proxbox-token-acl"].map((n) => [
                    plain(n, "path"),
                    plain(n, "roleId"),
                    plain(n, "propagate"),
                ]),
                [
                    ["/", "ProxboxReadOnly", true],
                    ["/", "ProxboxReadOnly", true],
                ],
            );
            assert.equal(plain("pbx-proxbox-user-acl", "userId"), "proxbox@pve");
            assert.equal(plain("pbx-proxbox-token-acl", "tokenId"), "proxbox@pve!netbox");
        });

        it("installs proxbox-api behind TLS on loopback and registers its first key, secrets secret", () => {
            assert.equal(reg("pbx-proxbox-encryption-key").type, T.bytes);
            assert.deepEqual(reg("pbx-proxbox-encryption-key").inputs.length, 32);
            const env = input("pbx-proxbox-env", "content");
            assert.ok(isRpcSecret(env));
            assert.match(String(unwrap(env)), /\nPROXBOX_ENCRYPTION_KEY=[A-Za-z0-9_-]{43}=\n/);
            assert.doesNotMatch(String(unwrap(env)), /PLAINTEXT/);
            assert.deepEqual(
                [plain("pbx-proxbox-env", "mode"), plain("pbx-proxbox-env", "owner"), plain("pbx-proxbox-env", "path")],
                ["0600", "proxbox", "/etc/proxbox-api/proxbox-api.env"],
            );
            assert.ok(isRpcSecret(input("pbx-proxbox-tls-key", "content")));
            assert.equal(plain("pbx-proxbox-tls-key", "mode"), "0600");
            for (const d of ["pbx-proxbox-service", "pbx-app-nginx", "pbx-app-trust-ca"]) {
                assert.ok(reg("pbx-proxbox-register-key").deps.has(d), d);
            }
            const env2 = input("pbx-proxbox-register-key", "environment") as Record<string, unknown>;
            assert.ok(isRpcSecret(env2) || isRpcSecret(env2.PROXBOX_API_KEY));
            assert.match(String(plain("pbx-app-nginx", "create")), /sites-available\/proxbox-api/);
            assert.match(String(unwrap(input("pbx-app-configuration", "content"))), /"netbox_proxbox",\n\]/);
            assert.match(
                String(unwrap(input("pbx-app-local-requirements", "content"))),
                /\nnetbox-proxbox==0\.0\.15\n$/,
            );
        });

        it("uses the given template, existing bridges and the given certificate", () => {
            assert.equal(regs.filter((r) => r.name === "pbx-template").length, 0);
            assert.equal(regs.filter((r) => r.type === T.bridge && r.name.startsWith("pbx")).length, 0);
            const db = reg("pbx-db", T.lxc).inputs;
            assert.equal(db.ostemplate, "local:vztmpl/custom.tar.zst");
            assert.deepEqual(db.networks, [{ name: "eth0", bridge: "pbx1", ip: "10.60.0.20/24", gw: "10.60.0.1" }]);
            assert.equal(db.vmid, 201);
            assert.equal(db.nameserver, "192.168.1.1 1.1.1.1");
            assert.equal(reg("netbox-db", T.lxc).inputs.nameserver, undefined);
            assert.equal(
                unwrap(input("pbx-proxy-tls-cert", "content")),
                "-----BEGIN CERTIFICATE-----\nMINE\n-----END CERTIFICATE-----\n",
            );
            assert.ok(isRpcSecret(input("pbx-proxy-tls-key", "content")));
            assert.equal(unwrap(input("pbx-proxy-tls-key", "content")), "my-key");
            // The CA still signs proxbox-api's loopback certificate.
            assert.equal(reg("pbx-ca").type, T.ca);
            assert.equal(reg("pbx-proxbox-cert").type, T.serverCert);
            assert.equal(regs.filter((r) => r.name === "pbx-proxy-cert").length, 0);
        });

        it("reports proxbox details in clear and its keys as secrets", async () => {
            assert.deepEqual(await value(stack.proxbox), {
                apiUrl: "https://127.0.0.1:8443",
                tokenId: "proxbox@pve!netbox",
            });
            assert.equal(await pulumi.isSecret(stack.proxbox), false);
            assert.equal(await pulumi.isSecret(stack.proxboxApiKey), true);
            assert.equal(await pulumi.isSecret(stack.proxboxTokenSecret), true);
            assert.equal(await value(stack.proxboxTokenSecret), "0b1f8c2e-5d6a-4c3b-9e8f-7a6b5c4d3e2f");
            assert.deepEqual((await value(stack.monitoringTargets)).nodeExporters, []);
            assert.equal(
                await value(stack.caCertPem),
                "-----BEGIN CERTIFICATE-----\nMINE\n-----END CERTIFICATE-----\n",
            );
        });

        it("never puts a secret value in clear", () => {
            for (const r of regs.filter((x) => x.name.startsWith("pbx"))) {
                plainStrings(r.inputs, (s, p) => {
                    for (const secret of [...SECRET_VALUES, "my-key"]) {
                        assert.ok(!s.includes(secret), `${r.name}${p} holds a secret in clear`);
                    }
                });
            }
        });
    });

    describe("bad arguments", () => {
        it("fail naming the field before anything is registered", async () => {
            await settle();
            const before = regs.length;
            assert.throws(
                () =>
                    new M.NetboxStack("bad", {
                        db: { memory: 128 },
                        network: { dmz: { cidr: "10.100.0.0/23" } },
                        cache: { vmid: 101 },
                        app: { backendAddress: "192.168.1.10" },
                    }),
                (e: Error) => {
                    assert.equal(e.name, "ValidationError");
                    assert.equal(
                        e.message,
                        ['Invalid NetboxStack "bad":', "  - NetboxStack.db.memory: must be ≥ 512 MiB, got 128"].join(
                            "\n",
                        ),
                    );
                    return true;
                },
            );
            assert.throws(
                () =>
                    new M.NetboxStack("bad2", {
                        network: { dmz: { cidr: "10.100.0.0/23" } },
                        cache: { vmid: 101 },
                        app: { backendAddress: "192.168.1.10" },
                    }),
                (e: Error) => {
                    assert.equal(
                        e.message,
                        [
                            'Invalid NetboxStack "bad2":',
                            "  - NetboxStack.network.dmz.cidr: overlaps network.backend.cidr (10.100.0.0/23 and 10.100.0.0/24)",
                            "  - NetboxStack.app.backendAddress: must be inside network.backend.cidr (10.100.0.0/24), got 192.168.1.10",
                            "  - NetboxStack.cache.vmid: 101 is already used by db",
                        ].join("\n"),
                    );
                    return true;
                },
            );
            await settle();
            assert.equal(regs.length, before);
            assert.equal(regs.filter((r) => r.name.startsWith("bad")).length, 0);
        });
    });
});

/** The parts of the engine's RegisterResourceRequest read above. */
interface RegisterResourceRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (d: { getUrnsList(): string[] }) => void): void };
    getObject(): { toJavaScript(): unknown } | undefined;
}
