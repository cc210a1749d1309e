/**
 * The appliance-only stack (ProximityAppliance, Debian, two apps) deployed by the REAL Pulumi engine into the
 * simulator backed by the live test bed: real LXC containers on real bridges, packages installed through the bed's
 * allowlisted proxy by the product's own `downloads.httpProxy` option. Then it proves the homelab works: each app
 * holds the static lease the appliance's dnsmasq handed out and resolves the other's name through the appliance,
 * Caddy answers `http://<app>.prox.local` from the WAN side with each app's page, the app LAN is masqueraded and
 * kept off the management network, a second up changes nothing, a third app changes only its own resources while
 * the others keep serving, the health check fails the deploy while dnsmasq is stopped, and destroy leaves nothing.
 *
 *   npm run build && npx mocha --config tests/live/.mocharc.json tests/live/deploy.test.ts
 *
 * Needs what tests/live/run.backend.test.ts needs (root, the bed's packages, a Debian mirror in the apt sources) plus
 * the engine (`npm run engine:install`). Bed `phldeploy` on link 10.254.9.0/30, torn down at the end.
 *
 * Where the rules live: the product puts its NAT and FORWARD rules into the appliance container (its own network
 * namespace: ProximityAppliance's gateway script), not onto the PVE host, so they are checked there, and the PVE
 * host's namespace is checked to hold nothing of the product's (only the bed's own fence).
 */
import { strict as assert } from "node:assert";

import type * as auto from "@pulumi/pulumi/automation";

import { LiveRun } from "./fixtures/live-run";

const APPLIANCE = 110;
const APP = 111;
const DOMAIN = "prox.local";

/** The two apps deployed first, and the third one added later; each serves `hello from the <name> app`. */
const APPS = [
    { name: "web", vmid: APP },
    { name: "api", vmid: 112 },
];
const THIRD = { name: "docs", vmid: 113 };
const pageOf = (name: string) => `hello from the ${name} app\n`;

/** An app as the stack config takes it: busybox's httpd on 8080, installed by the app's own bootstrap. */
function appConfig(app: { name: string; vmid: number }): Record<string, unknown> {
    return {
        name: app.name,
        port: 8080,
        vmid: app.vmid,
        cores: 1,
        memory: 128,
        swap: 0,
        diskGiB: 2,
        healthPath: "/health",
        // The app's own software (busybox's httpd), installed by the app's bootstrap through the appliance's NAT
        // and the bed's proxy.
        packages: ["busybox"],
    };
}

/** What adding an app changes beside its own resources: one reload each, and the health check re-runs. */
const AROUND_AN_APP = ["update proximity-caddy-reload", "update proximity-dnsmasq-reload", "update proximity-health"];

interface AppOutput {
    name: string;
    address: string;
    url: string;
}

describe("live deploy: the appliance-only stack through the real engine into real containers", function () {
    this.timeout(15 * 60_000);
    const run = new LiveRun({
        what: "live deploy test",
        bed: "phldeploy",
        envName: "PHL_TESTBED_DEPLOY",
        linkCidr: "10.254.9.0/30",
    });
    let applianceConfig: Record<string, unknown> = {};
    const sh = run.sh.bind(run);
    const inHostNs = run.inHostNs.bind(run);
    const output = run.output;
    const timings = run.timings;

    async function stack(): Promise<auto.Stack> {
        return run.stack;
    }

    /** An app's service: busybox httpd (installed by the app's bootstrap) serving its page and /health. */
    async function startService(app: { name: string; vmid: number }): Promise<void> {
        await sh(
            app.vmid,
            `mkdir -p /srv/www && printf '%s' '${pageOf(app.name)}' > /srv/www/index.html && ` +
                "echo ok > /srv/www/health && busybox httpd -p 8080 -h /srv/www",
        );
    }

    /** GET http://<wan>/ with `Host: <name>.prox.local`, from the WAN side (the PVE host's namespace). */
    function viaCaddy(wan: string, name: string): { status: string; body: string } {
        const out = inHostNs([
            "curl",
            "-s",
            "-m",
            "5",
            "--noproxy",
            "*",
            "-H",
            `Host: ${name}.${DOMAIN}`,
            "-w",
            "\n%{http_code}",
            `http://${wan}/`,
        ]);
        const lines = out.split("\n");
        const status = lines.pop() ?? "";
        return { status, body: lines.join("\n") };
    }

    /** Caddy's active health check runs every 30 s: it may still hold a new app for down (503) for a while. */
    async function awaitServed(wan: string, name: string): Promise<{ status: string; body: string }> {
        const t0 = Date.now();
        for (;;) {
            const r = viaCaddy(wan, name);
            if (r.status === "200" || Date.now() - t0 > 75_000) return r;
            await new Promise((res) => setTimeout(res, 2000));
        }
    }

    async function wanAddress(): Promise<string> {
        return String((await (await stack()).outputs()).applianceWanAddress.value);
    }

    before(async function () {
        await run.setUp(this);
        // The stack file: the dev stack's appliance, alone, with the bed's proxy and the machine's own mirror.
        const config = {
            "proxmox-homelab:pveNode": "pve",
            "proxmox-homelab:storage": "local-zfs",
            "proxmox-homelab:templateStorage": "local",
            "proxmox-homelab:externalBridge": "vmbr0",
            "proxmox-homelab:downloads": await run.downloads(),
            "proxmox-homelab:appliance": {
                enabled: true,
                os: "debian",
                vmid: APPLIANCE,
                cores: 1,
                memory: 512,
                swap: 0,
                diskGiB: 4,
                domain: DOMAIN,
                // No forwarder: nothing resolves outside the bed (its rule: no DNS goes out).
                upstreamDns: [],
                apps: APPS.map(appConfig),
            },
        };
        applianceConfig = config["proxmox-homelab:appliance"];
        await run.createStack(config);
    });

    after(() => run.tearDown());

    it("deploys the appliance and its apps: real containers, packages through the bed's proxy", async function () {
        const t0 = Date.now();
        let r: auto.UpResult;
        try {
            r = await (await stack()).up({ onOutput: (o) => output.push(o) });
        } catch (e) {
            console.log(output.join("").split("\n").slice(-60).join("\n"));
            throw e;
        }
        timings.push(["pulumi up (fresh)", Date.now() - t0]);
        assert.equal(r.summary.result, "succeeded");
        assert.equal(await run.backend.isRunning(APPLIANCE), true);
        for (const app of APPS) assert.equal(await run.backend.isRunning(app.vmid), true, `${app.name} runs`);
        // The packages really came through the proxy, from allowlisted hosts only.
        const allowed = new Set((await run.bed.allowlist()).map((h) => h.host));
        const connections = await run.bed.proxyConnections();
        assert.ok(connections.length > 0, "the containers installed through the proxy");
        for (const host of connections) assert.ok(allowed.has(host), `proxy connected only to allowlisted ${host}`);
        assert.match(
            await sh(APPLIANCE, "dpkg-query -W -f '${Status}' dnsmasq caddy iptables"),
            /^(install ok installed)+$/,
        );
        assert.match(
            await sh(APP, "cat /etc/apt/apt.conf.d/80proxy"),
            new RegExp(run.bed.proxyUrl.replace(/\./g, "\\.")),
        );
    });

    /** Each app holds its static lease from the appliance's dnsmasq (by DHCP, for its own MAC). */
    async function assertLease(app: { name: string; vmid: number }, address: string): Promise<void> {
        // The address the engine recorded is the one the app really holds...
        const eth0 = (await run.backend.interfaces(app.vmid)).find((i) => i.name === "eth0");
        assert.equal(eth0?.inet?.split("/")[0], address, `${app.name}'s address`);
        // ...got by DHCP (dhclient's lease, from the appliance's LAN address) for its own MAC...
        const lease = await sh(app.vmid, "cat /var/lib/dhcp/dhclient.eth0.leases");
        assert.match(lease, new RegExp(`fixed-address ${address.replace(/\./g, "\\.")};`));
        assert.match(lease, /option dhcp-server-identifier 10\.20\.0\.1;/);
        assert.match(lease, /option routers 10\.20\.0\.1;/);
        // ...as the appliance's static lease for that MAC, which its dnsmasq recorded.
        const mac = eth0?.hwaddr ?? "";
        const hostLine = await sh(APPLIANCE, `cat /etc/dnsmasq.d/app-${app.name}.conf`);
        assert.match(hostLine, new RegExp(`^dhcp-host=${mac},${address},${app.name}$`, "im"));
        assert.match(
            await sh(APPLIANCE, "cat /var/lib/misc/dnsmasq.leases"),
            new RegExp(`${mac} ${address} ${app.name}`),
        );
        assert.match(await sh(app.vmid, "cat /etc/resolv.conf"), /nameserver 10\.20\.0\.1/);
    }

    async function appOutputs(): Promise<AppOutput[]> {
        return (await (await stack()).outputs()).applianceApps.value as AppOutput[];
    }

    it("each app holds the static lease the appliance's dnsmasq handed out, and resolves the other's name", async () => {
        const apps = await appOutputs();
        assert.deepEqual(
            apps.map((a) => [a.name, a.url]),
            APPS.map((a) => [a.name, `http://${a.name}.${DOMAIN}`]),
        );
        for (const app of APPS) await assertLease(app, apps.find((a) => a.name === app.name)!.address);
        // Names resolve through the appliance's DNS, each app asking for the other.
        for (const [from, to] of [
            [APPS[0], APPS[1]],
            [APPS[1], APPS[0]],
        ]) {
            const want = apps.find((a) => a.name === to.name)!.address;
            const resolved = await sh(from.vmid, `busybox nslookup ${to.name}.${DOMAIN} 10.20.0.1`);
            assert.match(
                resolved,
                new RegExp(`Address:\\s+${want.replace(/\./g, "\\.")}`),
                `${from.name} → ${to.name}`,
            );
        }
    });

    it("Caddy on the appliance answers http://<app>.prox.local with each app's page from the WAN side", async () => {
        for (const app of APPS) await startService(app);
        const wan = await wanAddress();
        assert.match(wan, /^192\.168\.1\.1\d\d$/, "the appliance's WAN address is a lease of the bed's LAN");
        // From the PVE host's namespace (the WAN side of the appliance), by name as a client on the LAN would ask.
        const t0 = Date.now();
        for (const app of APPS) {
            const r = await awaitServed(wan, app.name);
            assert.equal(r.status, "200", `${app.name}: ${r.body}`);
            assert.equal(r.body.trim(), pageOf(app.name).trim());
        }
        timings.push(["Caddy answering for the apps after their services started", Date.now() - t0]);
        // An unknown name gets nothing from Caddy (no site), not an app.
        const other = viaCaddy(wan, "nope");
        assert.doesNotMatch(other.body, /hello from/);
    });

    it("masquerades the app LAN out of the WAN and keeps apps off the management network", async () => {
        const nat = await sh(APPLIANCE, "iptables -t nat -S");
        assert.match(nat, /^-A POSTROUTING -j PROXIMITY-POSTROUTING$/m);
        assert.match(nat, /^-A PROXIMITY-POSTROUTING -s 10\.20\.0\.0\/24 -o eth0 -j MASQUERADE$/m);
        const filter = await sh(APPLIANCE, "iptables -S");
        assert.match(filter, /^-A FORWARD -j PROXIMITY-FORWARD$/m);
        assert.match(filter, /^-A PROXIMITY-FORWARD -d 192\.168\.1\.0\/24 -i eth1 -j DROP$/m);
        assert.equal((await sh(APPLIANCE, "cat /proc/sys/net/ipv4/ip_forward")).trim(), "1");
        // NAT really applied: the app's only way to the proxy is its default route via the appliance, and every
        // client the proxy saw, the app's busybox download included, was the appliance's WAN address.
        const wan = await wanAddress();
        assert.match(await sh(APP, "ip -4 route"), /^default via 10\.20\.0\.1 dev eth0\b/);
        assert.doesNotMatch(await sh(APP, "ip -4 route"), /10\.254\./, "no direct route from the app to the proxy");
        const log = await run.bed.proxyLog();
        const clients = new Set([...log.matchAll(/Connect \(file descriptor \d+\): (\S+)/g)].map((m) => m[1]));
        assert.deepEqual([...clients], [wan], "the proxy saw only the appliance's WAN address");
        assert.match(log, /Request \(file descriptor \d+\): GET http:\/\/\S+\/busybox_\S+\.deb/, "the app's package");
        assert.doesNotMatch(await sh(APPLIANCE, "dpkg-query -W -f '${Status}' busybox || true"), /install ok/);
        // FORWARD really applied: the app cannot reach the PVE host's LAN address (dropped in the appliance)...
        const before = await sh(APPLIANCE, "iptables -nvx -L PROXIMITY-FORWARD | awk '/192.168.1.0/ {print $1}'");
        const blocked = await run.backend.exec(APP, [
            "busybox",
            "wget",
            "-q",
            "-T",
            "3",
            "-O",
            "-",
            "http://192.168.1.10/",
        ]);
        assert.notEqual(blocked.code, 0, "the management network is out of the app's reach");
        const afterDrop = await sh(APPLIANCE, "iptables -nvx -L PROXIMITY-FORWARD | awk '/192.168.1.0/ {print $1}'");
        assert.ok(
            Number(afterDrop) > Number(before),
            `the FORWARD drop counted it (${before.trim()} → ${afterDrop.trim()})`,
        );
        // ...while the appliance itself, on the WAN side, reaches it.
        assert.match(await sh(APPLIANCE, "ping -c 1 -W 2 192.168.1.10"), / 0% packet loss/);
        // The PVE host carries nothing of the product's: its netfilter holds only the bed's fence.
        const tables = inHostNs(["nft", "list", "tables"]).trim();
        assert.equal(tables, "table inet phl_fence");
    });

    it("keeps the bed's fence: nothing was sent toward the outside", async () => {
        assert.deepEqual(await run.bed.outsideBound(), { pre_outside: 0, fwd_outside: 0, out_outside: 0, fwd_ipv6: 0 });
        const route = await run.backend.exec(APPLIANCE, ["ip", "route", "get", "1.1.1.1"]);
        assert.match(route.stderr.toString(), /Network is unreachable/);
    });

    it("a second up changes nothing", async () => {
        const t0 = Date.now();
        const r = await (await stack()).up({ onOutput: (o) => output.push(o) });
        timings.push(["pulumi up (no changes)", Date.now() - t0]);
        const changes = Object.fromEntries(
            Object.entries(r.summary.resourceChanges ?? {}).filter(([op]) => op !== "same"),
        );
        assert.deepEqual(changes, {});
    });

    it("adding a third app changes only its resources; the others keep serving throughout", async () => {
        const s = await stack();
        await s.setConfig("proxmox-homelab:appliance", {
            value: JSON.stringify({ ...applianceConfig, apps: [...APPS, THIRD].map(appConfig) }),
        });
        const wan = await wanAddress();
        // Both apps asked through Caddy every half second for as long as the up runs.
        const misses: string[] = [];
        let asked = 0;
        let running = true;
        const poller = (async () => {
            while (running) {
                for (const app of APPS) {
                    const r = viaCaddy(wan, app.name);
                    asked++;
                    if (r.status !== "200" || r.body.trim() !== pageOf(app.name).trim()) {
                        misses.push(`${app.name}: ${r.status} ${r.body.slice(0, 80)}`);
                    }
                }
                await new Promise((res) => setTimeout(res, 500));
            }
        })();
        const steps: string[] = [];
        const t0 = Date.now();
        try {
            const r = await s.up({
                onOutput: (o) => output.push(o),
                onEvent: (e) => {
                    const m = e.resourcePreEvent?.metadata;
                    if (!m || m.op === "same" || m.op === "read" || m.type === "pulumi:pulumi:Stack") return;
                    if (m.type.startsWith("pulumi:providers:")) return;
                    steps.push(`${m.op} ${m.urn.split("::").pop()}`);
                },
            });
            assert.equal(r.summary.result, "succeeded");
        } finally {
            running = false;
            await poller;
        }
        timings.push(["pulumi up (a third app)", Date.now() - t0]);
        steps.sort();
        assert.deepEqual(
            steps.filter((x) => !/-docs(-|$)/.test(x)),
            AROUND_AN_APP,
        );
        assert.ok(steps.includes("create proximity-app-docs"), steps.join("\n"));
        assert.ok(
            steps.every((x) => !x.startsWith("delete") && !x.startsWith("replace")),
            steps.join("\n"),
        );
        assert.ok(asked >= 4, `the apps were asked ${asked} times during the up`);
        assert.deepEqual(misses, [], "the two apps kept serving through Caddy");
        // The third app: its lease, its name, its page.
        const docs = (await appOutputs()).find((a) => a.name === THIRD.name);
        assert.ok(docs, "the third app is in the outputs");
        await assertLease(THIRD, docs.address);
        await startService(THIRD);
        const served = await awaitServed(wan, THIRD.name);
        assert.equal(served.status, "200", served.body);
        assert.equal(served.body.trim(), pageOf(THIRD.name).trim());
    });

    it("the health check fails the deploy while dnsmasq is stopped, and passes once it runs again", async () => {
        const s = await stack();
        const state = await s.exportStack();
        const resources = (state.deployment as { resources: { urn: string }[] }).resources;
        const health = resources.find((r) => r.urn.endsWith("::proximity-health"))?.urn;
        assert.ok(health, "the health check's URN");
        await sh(APPLIANCE, "systemctl stop dnsmasq");
        let failure = "";
        try {
            // The health check runs when what it watches changes; replacing it re-runs it now.
            await s.up({ replace: [health], onOutput: (o) => output.push(o) });
        } catch (err) {
            failure = String(err);
        }
        assert.match(failure, /FAILED: dnsmasq is running \(exit 3\)/);
        assert.match(failure, /Proximity appliance health check failed/);
        assert.doesNotMatch(failure, /FAILED: Caddy/, "only what is broken is reported");
        await sh(APPLIANCE, "systemctl start dnsmasq");
        const r = await s.up({ replace: [health], onOutput: (o) => output.push(o) });
        assert.equal(r.summary.result, "succeeded");
    });

    it("destroy removes every container and the app LAN bridge", async () => {
        const t0 = Date.now();
        const r = await (await stack()).destroy({ onOutput: (o) => output.push(o) });
        timings.push(["pulumi destroy", Date.now() - t0]);
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual(await run.bed.containers(), []);
        assert.deepEqual(await run.bed.currentBridges(), ["vmbr0"]);
        assert.deepEqual([...(run.sim?.state.containers.keys() ?? [])], []);
    });
});
