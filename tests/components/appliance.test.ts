/**
 * ProximityAppliance against Pulumi's mocks: which resources it declares, under which parents, in which order
 * (the engine's dependency edges as the SDK sends them), what changes when an app is added or removed, that
 * secrets stay secret, and that bad arguments fail before anything is registered.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import type { ProximityAppArgs, ProximityApplianceArgs } from "../../components/appliance/index";

type Appliance = typeof import("../../components/appliance/index");
type Common = typeof import("../../components/common/index");

/** One registerResource request as the SDK sent it. */
interface Registration {
    type: string;
    name: string;
    urn: string;
    parent: string;
    custom: boolean;
    /** Explicit and property dependencies (URNs). */
    deps: string[];
    inputs: Record<string, unknown>;
    additionalSecretOutputs: string[];
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";
const T = {
    component: "proxmox-homelab:appliance:ProximityAppliance",
    container: "proxmox-homelab:common:HomelabContainer",
    bridge: "pulumi-nodejs:dynamic/proxmox:Bridge",
    lxc: "pulumi-nodejs:dynamic/proxmox:Lxc",
    file: "pulumi-nodejs:dynamic/proxmox:File",
    exec: "pulumi-nodejs:dynamic/proxmox:Exec",
    password: "random:index/randomPassword:RandomPassword",
};
const MOCK_PASSWORD = "mock-cockpit-password-0123456789";
const WAN_IP = "192.168.1.57/24";

let recording: Registration[] = [];
/** Only this file's deployments are recorded (other test files share the patched monitor). */
let recordingOn = false;

// The mock monitor does not pass parents or dependencies to newResource: record them from the request itself.
const originalRegister = MockMonitor.prototype.registerResource;
/** The getters of the SDK's RegisterResourceRequest this test reads. */
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(f: (v: { getUrnsList(): string[] }) => void): void };
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    getAdditionalsecretoutputsList(): string[];
}
MockMonitor.prototype.registerResource = async function (
    this: MockMonitor,
    req: RegisterRequest,
    callback: (err: unknown, res: unknown) => void,
) {
    if (!recordingOn) return originalRegister.call(this, req, callback);
    const propDeps: string[] = [];
    req.getPropertydependenciesMap().forEach((v: { getUrnsList(): string[] }) => propDeps.push(...v.getUrnsList()));
    const urn = (this as unknown as { newUrn(p: string, t: string, n: string): string }).newUrn(
        req.getParent(),
        req.getType(),
        req.getName(),
    );
    recording.push({
        type: req.getType(),
        name: req.getName(),
        urn,
        parent: req.getParent(),
        custom: req.getCustom(),
        deps: [...new Set([...req.getDependenciesList(), ...propDeps])],
        inputs: req.getObject()?.toJavaScript() ?? {},
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
    });
    return originalRegister.call(this, req, callback);
} as typeof MockMonitor.prototype.registerResource;

const unsecret = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(unsecret);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SECRET_SIG] === SECRET_VALUE) return unsecret(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unsecret(x)]));
    }
    return v;
};

/** The input properties the mocks look at. */
interface MockInputs {
    content?: string;
    path?: string;
    vmid?: number;
    networks?: { name: string; bridge: string; ip?: string; hwaddr?: string }[];
}

/** Mocks that behave like the providers: Lxc reports DHCP addresses from the static leases written so far. */
function mocks(opts: { wanIp?: string } = {}): pulumi.runtime.Mocks {
    const leases = new Map<string, string>();
    let nextVmid = 200;
    return {
        call(args) {
            throw new Error(`unexpected call ${args.token}`);
        },
        newResource(args) {
            const inputs = unsecret(args.inputs) as MockInputs;
            const id = args.custom ? `${args.name}-id` : undefined;
            switch (args.type) {
                case T.file: {
                    const m = /^dhcp-host=([^,]+),([^,]+),/m.exec(String(inputs.content));
                    if (m && String(inputs.path).startsWith("/etc/dnsmasq.d/")) leases.set(m[1].toUpperCase(), m[2]);
                    const sha256 = createHash("sha256").update(String(inputs.content)).digest("hex");
                    return { id, state: { ...inputs, sha256, size: String(inputs.content).length } };
                }
                case T.lxc: {
                    const interfaces = (inputs.networks ?? []).map((n) => {
                        let ipv4: string | undefined;
                        if (n.ip && n.ip !== "dhcp") ipv4 = n.ip;
                        else if (n.bridge === "vmbr0") ipv4 = opts.wanIp ?? WAN_IP;
                        else if (leases.has(String(n.hwaddr).toUpperCase()))
                            ipv4 = `${leases.get(String(n.hwaddr).toUpperCase())}/24`;
                        return { name: n.name, hwaddr: n.hwaddr ?? "BC:24:11:FF:FF:FF", ipv4 };
                    });
                    return {
                        id,
                        state: {
                            ...inputs,
                            vmid: inputs.vmid ?? nextVmid++,
                            status: "running",
                            interfaces,
                            pendingChanges: [],
                        },
                    };
                }
                case T.exec:
                    return { id, state: { ...inputs, exitCode: 0, stdout: "", stderr: "" } };
                case T.password:
                    return { id, state: { ...inputs, result: MOCK_PASSWORD } };
                default:
                    return { id, state: { ...inputs, active: true } };
            }
        },
    };
}

let A: Appliance;
let C: Common;

const TEMPLATE = "local:vztmpl/alpine-3.22-default_20250617_amd64.tar.xz";
const app = (name: string, port = 80, extra: Partial<ProximityAppArgs> = {}): ProximityAppArgs => ({
    name,
    port,
    cores: 1,
    memory: 512,
    swap: 512,
    diskGiB: 8,
    ...extra,
});

function output<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply(resolve));
}

interface Deployment {
    regs: Registration[];
    component: InstanceType<Appliance["ProximityAppliance"]>;
    byName(name: string, type?: string): Registration;
    dependsOn(a: string, b: string): boolean;
}

/** Runs the component under fresh mocks and waits until every resource is registered. */
async function deploy(args: Partial<ProximityApplianceArgs>, opts: { wanIp?: string } = {}): Promise<Deployment> {
    await pulumi.runtime.setMocks(mocks(opts), "proxmox-homelab", "test", false);
    recording = [];
    recordingOn = true;
    let component: Deployment["component"];
    try {
        component = new A.ProximityAppliance("prox", { node: "pve", template: TEMPLATE, ...args });
        await output(component.healthCheck.urn);
        await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
    } finally {
        recordingOn = false;
    }
    const regs = recording;
    const byUrn = new Map(regs.map((r) => [r.urn, r]));
    const byName = (name: string, type?: string) => {
        const found = regs.filter((r) => r.name === name && (!type || r.type === type));
        assert.equal(found.length, 1, `expected one registration named ${name} ${type ?? ""}, got ${found.length}`);
        return found[0];
    };
    /** A custom resource by name (a container's Lxc shares its component's name). */
    const resource = (name: string) => regs.find((r) => r.name === name && r.custom) ?? byName(name);
    /** Whether resource `a` (transitively) waits for `b`. */
    const dependsOn = (a: string, b: string) => {
        const target = resource(b).urn;
        const seen = new Set<string>();
        const stack = [...resource(a).deps];
        while (stack.length) {
            const u = stack.pop()!;
            if (u === target) return true;
            if (seen.has(u)) continue;
            seen.add(u);
            const r = byUrn.get(u);
            if (!r) continue;
            stack.push(...r.deps);
            // Depending on a component means depending on its children.
            if (!r.custom) stack.push(...regs.filter((c) => c.parent === r.urn).map((c) => c.urn));
        }
        return false;
    };
    return { regs, component, byName, dependsOn };
}

const names = (regs: Registration[]) => regs.map((r) => `${r.type.split(":").pop()} ${r.name}`).sort();

describe("ProximityAppliance (mocks)", function () {
    this.timeout(60_000);
    before(async () => {
        // Mocks first, then the modules: resources created at import time would otherwise miss them.
        await pulumi.runtime.setMocks(mocks(), "proxmox-homelab", "test", false);
        A = await import("../../components/appliance/index");
        C = await import("../../components/common/index");
    });

    describe("Alpine appliance with two apps", () => {
        let d: Deployment;
        before(async () => {
            d = await deploy({ apps: [app("web", 8080), app("db", 5432)] });
        });

        it("declares the bridge, the appliance, its files and services, the apps, their leases and vhosts", () => {
            assert.deepEqual(names(d.regs), [
                "Bridge prox-lan",
                "Exec prox-app-db-bootstrap",
                "Exec prox-app-web-bootstrap",
                "Exec prox-appliance-bootstrap",
                "Exec prox-caddy",
                "Exec prox-caddy-reload",
                "Exec prox-dnsmasq",
                "Exec prox-dnsmasq-reload",
                "Exec prox-gateway",
                "Exec prox-health",
                "File prox-app-db-apk-repositories",
                "File prox-app-db-lease",
                "File prox-app-db-vhost",
                "File prox-app-web-apk-repositories",
                "File prox-app-web-lease",
                "File prox-app-web-vhost",
                "File prox-appliance-apk-repositories",
                "File prox-caddyfile",
                "File prox-dnsmasq-conf",
                "File prox-firewall-rules",
                "File prox-gateway-openrc",
                "File prox-gateway-script",
                "File prox-sysctl",
                "HomelabContainer prox-app-db",
                "HomelabContainer prox-app-web",
                "HomelabContainer prox-appliance",
                "Lxc prox-app-db",
                "Lxc prox-app-web",
                "Lxc prox-appliance",
                "ProximityAppliance prox",
            ]);
        });

        it("parents every resource to the component (container internals to their container)", () => {
            const root = d.byName("prox", T.component);
            for (const r of d.regs) {
                if (r === root) continue;
                const inContainer =
                    /^prox-(appliance|app-(web|db))(-bootstrap|-apk-repositories)?$/.test(r.name) &&
                    r.type !== T.container;
                const expected = inContainer
                    ? d.byName(r.name.replace(/-(bootstrap|apk-repositories)$/, ""), T.container).urn
                    : root.urn;
                assert.equal(r.parent, expected, `${r.type} ${r.name}`);
            }
        });

        it("orders bridge → appliance → services → leases → one dnsmasq restart → apps → vhosts → one Caddy reload → health", () => {
            const chain = [
                ["prox-appliance", "prox-lan"],
                ["prox-appliance-bootstrap", "prox-appliance"],
                ["prox-sysctl", "prox-appliance-bootstrap"],
                ["prox-gateway", "prox-firewall-rules"],
                ["prox-dnsmasq", "prox-gateway"],
                ["prox-dnsmasq", "prox-dnsmasq-conf"],
                ["prox-caddy", "prox-caddyfile"],
                ["prox-app-web-lease", "prox-dnsmasq"],
                ["prox-dnsmasq-reload", "prox-app-web-lease"],
                ["prox-dnsmasq-reload", "prox-app-db-lease"],
                ["prox-app-web-vhost", "prox-app-web-bootstrap"],
                ["prox-app-web-vhost", "prox-caddy"],
                ["prox-caddy-reload", "prox-app-web-vhost"],
                ["prox-caddy-reload", "prox-app-db-vhost"],
                ["prox-health", "prox-dnsmasq-reload"],
                ["prox-health", "prox-caddy-reload"],
                ["prox-health", "prox-gateway"],
            ];
            for (const [a, b] of chain) assert.ok(d.dependsOn(a, b), `${a} must wait for ${b}`);
            // The app containers themselves (not just their component) wait for the restart that loads their lease.
            assert.ok(d.dependsOn(d.byName("prox-app-web", T.lxc).name, "prox-dnsmasq-reload"));
            assert.ok(d.byName("prox-app-web", T.lxc).deps.includes(d.byName("prox-dnsmasq-reload").urn));
            assert.ok(!d.dependsOn("prox-dnsmasq-reload", "prox-app-web-bootstrap"), "leases must not wait for apps");
        });

        it("makes the appliance privileged with nesting+keyctl, WAN by DHCP and the LAN gateway on the new bridge", () => {
            const bridge = d.byName("prox-lan").inputs;
            assert.deepEqual(
                { name: bridge.name, cidr: bridge.cidr, ports: bridge.ports, node: bridge.node },
                { name: "proximity_lan", cidr: undefined, ports: undefined, node: "pve" },
            );
            const lxc = d.byName("prox-appliance", T.lxc).inputs;
            assert.equal(lxc.unprivileged, false);
            assert.deepEqual(lxc.features, { nesting: true, keyctl: true });
            assert.deepEqual(lxc.networks, [
                { name: "eth0", bridge: "vmbr0", ip: "dhcp", firewall: true },
                { name: "eth1", bridge: "proximity_lan", ip: "10.20.0.1/24", firewall: true },
            ]);
            assert.deepEqual(
                [lxc.vmid, lxc.hostname, lxc.cores, lxc.memory, lxc.swap, lxc.rootfs, lxc.ostemplate],
                [100, "prox-appliance", 2, 1024, 512, { storage: "local-lvm", sizeGiB: 8 }, TEMPLATE],
            );
            assert.match(
                String(d.byName("prox-appliance-bootstrap").inputs.create),
                /apk add -q ca-certificates caddy dnsmasq iptables\n/,
            );
        });

        it("puts each app on the bridge by DHCP with its fixed MAC, the appliance as DNS", () => {
            const cfg = A.resolveApplianceArgs("prox", {
                node: "pve",
                template: TEMPLATE,
                apps: [app("web", 8080), app("db", 5432)],
            });
            const web = d.byName("prox-app-web", T.lxc).inputs;
            assert.deepEqual(web.networks, [
                { name: "eth0", bridge: "proximity_lan", ip: "dhcp", hwaddr: cfg.apps[0].hwaddr, firewall: true },
            ]);
            assert.equal(web.unprivileged, true);
            assert.equal(web.nameserver, "10.20.0.1");
            assert.equal(web.searchdomain, "prox.local");
            assert.equal(d.byName("prox-app-web-lease").inputs.content, A.renderDnsmasqAppLease(cfg.apps[0]));
            assert.equal(d.byName("prox-app-web-lease").inputs.path, "/etc/dnsmasq.d/app-web.conf");
            assert.equal(d.byName("prox-app-db-vhost").inputs.content, A.appVhost(cfg, cfg.apps[1]));
            assert.equal(d.byName("prox-app-db-vhost").inputs.path, "/etc/caddy/sites-enabled/db.caddy");
            assert.equal(d.byName("prox-dnsmasq-conf").inputs.content, A.applianceDnsmasqConf(cfg));
            assert.equal(d.byName("prox-caddyfile").inputs.content, A.renderCaddyfile());
            assert.equal(
                d.byName("prox-firewall-rules").inputs.content,
                A.applianceFirewallRules(cfg, ["192.168.1.0/24"]),
            );
            assert.equal(d.byName("prox-gateway-openrc").inputs.mode, "0755");
            assert.equal(d.byName("prox-health").inputs.create, A.applianceHealthCheck(cfg, ["192.168.1.0/24"]));
            assert.equal(
                d.byName("prox-dnsmasq-reload").inputs.create,
                A.renderDnsmasqReloadScript("alpine", ["web", "db"]),
            );
        });

        it("reloads once per daemon, triggered by the hashes of all lease / vhost files", () => {
            const sha = (name: string) =>
                createHash("sha256")
                    .update(String(d.byName(name).inputs.content))
                    .digest("hex");
            const reload = d.byName("prox-dnsmasq-reload").inputs;
            assert.deepEqual(reload.triggers, [reload.create, sha("prox-app-web-lease"), sha("prox-app-db-lease")]);
            const caddy = d.byName("prox-caddy-reload").inputs;
            assert.deepEqual(caddy.triggers, [caddy.create, sha("prox-app-web-vhost"), sha("prox-app-db-vhost")]);
            assert.equal(d.regs.filter((r) => /reload/.test(r.name)).length, 2);
        });

        it("outputs the discovered WAN address, the LAN gateway, the apps and monitoring targets", async () => {
            const c = d.component;
            const cfg = A.resolveApplianceArgs("prox", {
                node: "pve",
                template: TEMPLATE,
                apps: [app("web", 8080), app("db", 5432)],
            });
            const [web, db] = cfg.apps;
            assert.equal(await output(c.wanAddress), "192.168.1.57");
            assert.equal(await output(c.lanGateway), "10.20.0.1");
            assert.deepEqual(await output(c.apps), [
                { name: "web", address: web.ip, url: "http://web.prox.local" },
                { name: "db", address: db.ip, url: "http://db.prox.local" },
            ]);
            assert.deepEqual(await output(c.monitoringTargets), {
                nodeExporters: [],
                httpProbes: [
                    { name: "web", url: `http://${web.ip}:8080/`, component: "prox" },
                    { name: "db", url: `http://${db.ip}:5432/`, component: "prox" },
                ],
                icmpProbes: [{ name: "prox-gateway", address: "10.20.0.1", component: "prox" }],
            });
            assert.equal(await output(c.cockpitUrl), undefined);
        });
    });

    describe("adding or removing an app", () => {
        const inputsOf = (d: Deployment) =>
            new Map(d.regs.map((r) => [r.urn, JSON.stringify({ ...r.inputs, __provider: undefined })]));
        let two: Deployment;
        let three: Deployment;
        before(async () => {
            two = await deploy({ apps: [app("web", 8080), app("db", 5432)] });
            three = await deploy({ apps: [app("web", 8080), app("db", 5432), app("wiki", 3000)] });
        });

        it("adds exactly the new app's resources", () => {
            const before = new Set(two.regs.map((r) => r.urn));
            const added = three.regs.filter((r) => !before.has(r.urn));
            assert.deepEqual(names(added), [
                "Exec prox-app-wiki-bootstrap",
                "File prox-app-wiki-apk-repositories",
                "File prox-app-wiki-lease",
                "File prox-app-wiki-vhost",
                "HomelabContainer prox-app-wiki",
                "Lxc prox-app-wiki",
            ]);
            assert.deepEqual(
                two.regs.filter((r) => !three.regs.some((x) => x.urn === r.urn)),
                [],
            );
        });

        it("changes nothing else but the two reloads and the health check", () => {
            const a = inputsOf(two);
            const b = inputsOf(three);
            const changed = [...a.keys()].filter((urn) => a.get(urn) !== b.get(urn)).map((u) => u.split("::").pop());
            assert.deepEqual(changed.sort(), ["prox-caddy-reload", "prox-dnsmasq-reload", "prox-health"]);
        });

        it("removing it is the mirror image (its files are pruned by the reloads)", async () => {
            const a = inputsOf(three);
            const back = await deploy({ apps: [app("web", 8080), app("db", 5432)] });
            const b = inputsOf(back);
            assert.deepEqual(
                [...b.keys()].filter((u) => !a.has(u)),
                [],
            );
            assert.deepEqual(
                [...a.keys()]
                    .filter((u) => !b.has(u))
                    .map((u) => u.split("::").pop())
                    .sort(),
                [
                    "prox-app-wiki",
                    "prox-app-wiki",
                    "prox-app-wiki-apk-repositories",
                    "prox-app-wiki-bootstrap",
                    "prox-app-wiki-lease",
                    "prox-app-wiki-vhost",
                ],
            );
            assert.deepEqual(inputsOf(back), inputsOf(two));
            assert.match(
                String(back.byName("prox-dnsmasq-reload").inputs.create),
                /'app-db\.conf' \| 'app-web\.conf'\) ;;/,
            );
        });
    });

    describe("Debian appliance with Cockpit", () => {
        let d: Deployment;
        before(async () => {
            d = await deploy({
                os: "debian",
                template: "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
                nodeExporter: true,
                managementCidrs: ["192.168.0.0/16"],
                apps: [app("web", 8080)],
            });
        });

        it("uses the systemd unit and installs Cockpit with a generated password", () => {
            assert.equal(d.byName("prox-gateway-unit").inputs.path, "/etc/systemd/system/proximity-gateway.service");
            assert.equal(
                d.regs.some((r) => r.name === "prox-gateway-openrc"),
                false,
            );
            assert.deepEqual(d.byName("prox-cockpit-password", T.password).inputs.length, 24);
            assert.equal(d.byName("prox-cockpit").inputs.create, A.renderCockpitScript("proximity"));
            assert.ok(d.dependsOn("prox-health", "prox-cockpit"));
            assert.match(
                String(d.byName("prox-appliance-bootstrap").inputs.create),
                /apt-get install -y -q --no-install-recommends ca-certificates caddy cockpit dnsmasq iptables prometheus-node-exporter sudo\n/,
            );
            assert.match(
                String(d.byName("prox-firewall-rules").inputs.content),
                /-A PROXIMITY-FORWARD -d 192\.168\.0\.0\/16 -i eth1 -j DROP\n/,
            );
        });

        it("keeps the password secret: only in the Exec's environment and triggers, secret there, and as a secret output", async () => {
            const raw = d.byName("prox-cockpit").inputs as {
                environment: Record<string, unknown>;
                triggers: Record<string, unknown>[];
            };
            assert.deepEqual(raw.environment.COCKPIT_PASSWORD, { [SECRET_SIG]: SECRET_VALUE, value: MOCK_PASSWORD });
            assert.equal(raw.triggers[1][SECRET_SIG], SECRET_VALUE);
            assert.deepEqual(d.byName("prox-cockpit").additionalSecretOutputs.sort(), ["stderr", "stdout"]);
            const leaks = d.regs.filter((r) => JSON.stringify(unsecretless(r.inputs)).includes(MOCK_PASSWORD));
            assert.deepEqual(
                leaks.map((r) => r.name),
                [],
            );
            assert.equal(await pulumi.isSecret(d.component.cockpitPassword), true);
            assert.equal(await output(d.component.cockpitUrl), "https://192.168.1.57:9090/");
            assert.equal(await output(d.component.cockpitUser), "proximity");
        });

        it("lists node exporters of the appliance and the apps", async () => {
            const cfg = A.resolveApplianceArgs("prox", { node: "pve", template: TEMPLATE, apps: [app("web", 8080)] });
            const targets = await output(d.component.monitoringTargets);
            assert.deepEqual(targets.nodeExporters, [
                { address: "192.168.1.57:9100", container: "prox-appliance", component: "prox" },
                { address: `${cfg.apps[0].ip}:9100`, container: "web", component: "prox" },
            ]);
        });
    });

    describe("bad arguments", () => {
        it("fail naming the field before any resource is registered", async () => {
            await pulumi.runtime.setMocks(mocks(), "proxmox-homelab", "test", false);
            recording = [];
            recordingOn = true;
            assert.throws(
                () =>
                    new A.ProximityAppliance("prox", {
                        node: "pve",
                        template: TEMPLATE,
                        apps: [app("Bad_Name"), app("ok", 80, { ip: "10.20.0.150" })],
                    }),
                (e: unknown) =>
                    e instanceof C.ValidationError &&
                    e.problems.includes(
                        `ProximityAppliance.apps[0].name: must be a DNS label (lowercase letters, digits and '-', at most 63, no leading or trailing '-'), got "Bad_Name"`,
                    ),
            );
            assert.throws(
                () => new A.ProximityAppliance("prox", { node: "pve", template: TEMPLATE, apps: [app("a"), app("a")] }),
                /ProximityAppliance\.apps\[1\]\.name: duplicate of apps\[0\], got "a"/,
            );
            assert.throws(
                () =>
                    new A.ProximityAppliance("prox", {
                        node: "pve",
                        template: TEMPLATE,
                        dhcpRange: { start: "10.20.0.100", end: "10.20.1.10" },
                    }),
                /ProximityAppliance\.dhcpRange\.end: must be a host address inside lanCidr 10\.20\.0\.0\/24/,
            );
            await require("@pulumi/pulumi/runtime/settings").waitForRPCs();
            recordingOn = false;
            assert.deepEqual(recording, []);
        });
    });

    describe("discovery failures are loud", () => {
        it("no WAN lease, or an app that did not get its static lease", () => {
            const cfg = { wanBridge: "vmbr0", lan: { cidr: "10.20.0.0/24" } } as Parameters<Appliance["wanOf"]>[1];
            assert.throws(
                () => A.wanOf("prox", cfg, [{ name: "eth0", hwaddr: "x" }]),
                /the appliance's eth0 on vmbr0 has no IPv4 address from DHCP \(got null\)/,
            );
            assert.throws(
                () => A.wanOf("prox", cfg, [{ name: "eth0", hwaddr: "x", ipv4: "10.20.0.9/16" }]),
                /the WAN subnet 10\.20\.0\.0\/16 overlaps lanCidr 10\.20\.0\.0\/24/,
            );
            assert.deepEqual(A.wanOf("prox", cfg, [{ name: "eth0", hwaddr: "x", ipv4: "192.168.7.9/23" }]), {
                address: "192.168.7.9",
                subnet: "192.168.6.0/23",
            });
            assert.throws(
                () =>
                    A.appOutput("prox", { domain: "prox.local" }, { name: "web", ip: "10.20.0.25" }, [
                        { name: "eth0", hwaddr: "x", ipv4: "10.20.0.100/24" },
                    ]),
                /app "web" holds 10\.20\.0\.100 instead of its static lease 10\.20\.0\.25/,
            );
        });

        it("the default management block is the WAN subnet as discovered", async () => {
            const d = await deploy({}, { wanIp: "172.31.4.20/22" });
            assert.match(
                String(d.byName("prox-firewall-rules").inputs.content),
                /-A PROXIMITY-FORWARD -d 172\.31\.4\.0\/22 -i eth1 -j DROP\n/,
            );
        });
    });
});

/** Inputs with every secret-wrapped value removed (what would be readable without the stack's key). */
function unsecretless(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(unsecretless);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SECRET_SIG] === SECRET_VALUE) return "[secret]";
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unsecretless(x)]));
    }
    return v;
}
