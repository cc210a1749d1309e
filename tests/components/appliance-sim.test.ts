/**
 * The appliance's scripts and files, in the order the component applies them, run in the simulator's containers
 * (ChrootBackend over its SSH side): what the simulator must model for ProximityAppliance, checked without the
 * providers. Steps that the simulator does not model yet skip with the reason.
 */
import assert from "node:assert/strict";
import type { Client } from "ssh2";
import {
    APPLIANCE_PATHS,
    ResolvedAppliance,
    appLeasePath,
    appVhost,
    appVhostPath,
    applianceDnsmasqConf,
    applianceFirewallRules,
    applianceHealthCheck,
    renderCaddyReloadScript,
    renderCaddyServiceScript,
    renderCaddyfile,
    renderCockpitScript,
    renderDnsmasqAppLease,
    renderDnsmasqReloadScript,
    renderDnsmasqServiceScript,
    renderForwardingSysctl,
    renderGatewayApplyScript,
    renderGatewayOpenrc,
    renderGatewayScript,
    renderGatewaySystemdUnit,
    resolveApplianceArgs,
} from "../../components/appliance/index";
import { bootstrapFiles, renderBootstrapScript } from "../../components/common/index";
import { ALPINE_TEMPLATE, DEBIAN_TEMPLATE, pctSh, q, run, startFixture, type SshFixture } from "../sim-ssh/helpers";

const MGMT = ["192.168.1.0/24"];

/** Every file the component writes into the appliance, as [path, content, mode]. */
function applianceFiles(cfg: ResolvedAppliance): [string, string, string][] {
    return [
        ...bootstrapFiles({ ...cfg, pip: false }).map((f): [string, string, string] => [f.path, f.content, "0644"]),
        [APPLIANCE_PATHS.sysctl, renderForwardingSysctl(), "0644"],
        [APPLIANCE_PATHS.firewallRules, applianceFirewallRules(cfg, MGMT), "0644"],
        [APPLIANCE_PATHS.gatewayScript, renderGatewayScript(), "0755"],
        cfg.os === "debian"
            ? [APPLIANCE_PATHS.systemdUnit, renderGatewaySystemdUnit(), "0644"]
            : [APPLIANCE_PATHS.openrcService, renderGatewayOpenrc(), "0755"],
        [APPLIANCE_PATHS.dnsmasqConf, applianceDnsmasqConf(cfg), "0644"],
        [APPLIANCE_PATHS.caddyfile, renderCaddyfile(), "0644"],
    ];
}

for (const os of ["debian", "alpine"] as const) {
    describe(`ProximityAppliance scripts in the simulator (${os})`, function () {
        this.timeout(120_000);
        const cfg = resolveApplianceArgs("prox", {
            node: "pve",
            os,
            template: os === "debian" ? DEBIAN_TEMPLATE : ALPINE_TEMPLATE,
            apps: [
                { name: "web", port: 8080, cores: 1, memory: 512, swap: 512, diskGiB: 8 },
                { name: "db", port: 5432, cores: 1, memory: 512, swap: 512, diskGiB: 8 },
            ],
        });
        const [web, db] = cfg.apps;
        let fx: SshFixture;
        let conn: Client;
        /** Set when a step the simulator does not model failed: later steps skip with this reason. */
        let gap: string | undefined;
        const sh = (vmid: number, script: string, stdin?: string) => run(conn, pctSh(vmid, script), stdin);
        const must = async (vmid: number, what: string, script: string, stdin?: string) => {
            const r = await sh(vmid, script, stdin);
            assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
            return r;
        };
        const write = (vmid: number, path: string, content: string, mode = "0644") =>
            must(
                vmid,
                `write ${path}`,
                `mkdir -p "$(dirname ${q(path)})" && cat > ${q(path)} && chmod ${mode} ${q(path)}`,
                content,
            );
        const needsModel = (ctx: Mocha.Context) => {
            if (gap) {
                console.log(`      (skipped: ${gap})`);
                ctx.skip();
            }
        };

        before(async () => {
            fx = await startFixture();
            conn = await fx.connect();
            await fx.createCt(100, {
                hostname: cfg.hostname,
                ostemplate: cfg.template as string,
                ostype: os,
                unprivileged: false,
                nics: [
                    { name: "eth0", bridge: "vmbr0", hwaddr: "BC:24:11:00:01:00", ip: "dhcp" },
                    { name: "eth1", bridge: cfg.lanBridge, hwaddr: "BC:24:11:00:01:01", ip: `${cfg.lan.gateway}/24` },
                ],
            });
        });
        after(async () => {
            await fx?.close();
        });

        it("bootstraps the appliance with its packages", async function () {
            for (const [path, content, mode] of applianceFiles(cfg).slice(0, 1)) await write(100, path, content, mode);
            const packages = ["dnsmasq", "caddy", "iptables", ...(cfg.cockpit ? ["cockpit", "sudo"] : [])];
            const r = await sh(100, renderBootstrapScript({ os, packages, downloads: cfg.downloads }));
            if (r.code !== 0 && os === "alpine" && /caddy \(no such package\)/.test(r.stderr)) {
                gap = "the simulator's caddy package hook is Debian-only (apk add caddy fails)";
                needsModel(this);
            }
            assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        });

        it("writes the configuration and starts the gateway, dnsmasq, Caddy (and Cockpit)", async function () {
            needsModel(this);
            for (const [path, content, mode] of applianceFiles(cfg).slice(1)) await write(100, path, content, mode);
            const gw = await sh(100, renderGatewayApplyScript(os));
            if (gw.code === 0 && os === "alpine") {
                const hooked = await sh(100, "iptables -t nat -C POSTROUTING -j PROXIMITY-POSTROUTING");
                if (hooked.code !== 0) {
                    gap = "the simulator's openrc-run ignores an init script's own start() function";
                    needsModel(this);
                }
            }
            assert.equal(gw.code, 0, `${gw.stdout}\n${gw.stderr}`);
            await must(100, "dnsmasq", renderDnsmasqServiceScript(os));
            await must(100, "caddy", renderCaddyServiceScript(os));
            if (cfg.cockpit) {
                await must(
                    100,
                    "cockpit",
                    `COCKPIT_PASSWORD=$(cat); export COCKPIT_PASSWORD\n${renderCockpitScript(cfg.cockpitUser)}`,
                    "s3cret-password",
                );
            }
        });

        it("gives each app its static lease after one dnsmasq restart", async function () {
            needsModel(this);
            for (const a of cfg.apps) await write(100, appLeasePath(a.name), renderDnsmasqAppLease(a));
            await must(100, "dnsmasq reload", renderDnsmasqReloadScript(os, ["web", "db"]));
            for (const [vmid, a] of [
                [201, web],
                [202, db],
            ] as const) {
                await fx.createCt(vmid, {
                    hostname: a.name,
                    ostemplate: cfg.template as string,
                    ostype: os,
                    nics: [{ name: "eth0", bridge: cfg.lanBridge, hwaddr: a.hwaddr, ip: "dhcp" }],
                });
                const eth0 = (await fx.backend.interfaces(vmid)).find((i) => i.name === "eth0");
                assert.equal(eth0?.inet, `${a.ip}/24`, a.name);
            }
        });

        it("adds the vhosts with one Caddy reload, and the health check passes", async function () {
            needsModel(this);
            for (const a of cfg.apps) await write(100, appVhostPath(a.name), appVhost(cfg, a));
            await must(100, "caddy reload", renderCaddyReloadScript(os, ["web", "db"]));
            const health = await must(100, "health", applianceHealthCheck(cfg, MGMT));
            assert.doesNotMatch(health.stdout + health.stderr, /FAILED/);
        });

        it("the health check fails when dnsmasq is stopped or the NAT rule is gone", async function () {
            needsModel(this);
            await must(100, "stop dnsmasq", os === "debian" ? "systemctl stop dnsmasq" : "rc-service dnsmasq stop");
            await must(100, "drop NAT", `iptables -t nat -F PROXIMITY-POSTROUTING`);
            const r = await sh(100, applianceHealthCheck(cfg, MGMT));
            assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
            assert.match(r.stderr, /^FAILED: dnsmasq is running \(exit 3\)$/m);
            assert.match(r.stderr, /^FAILED: app LAN 10\.20\.0\.0\/24 is masqueraded out of eth0 \(exit 1\)$/m);
        });

        it("after a reboot the gateway service restores forwarding and the rules, and everything runs", async function () {
            needsModel(this);
            await fx.backend.stop(100);
            await fx.backend.start(100);
            const r = await sh(100, applianceHealthCheck(cfg, MGMT));
            assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        });

        it("removing an app: the reload prunes its lease and vhost", async function () {
            needsModel(this);
            await must(100, "dnsmasq reload", renderDnsmasqReloadScript(os, ["web"]));
            await must(100, "caddy reload", renderCaddyReloadScript(os, ["web"]));
            const left = await must(100, "ls", `ls ${APPLIANCE_PATHS.dnsmasqDir} ${APPLIANCE_PATHS.caddySites}`);
            assert.doesNotMatch(left.stdout, /app-db\.conf|db\.caddy/);
            assert.match(left.stdout, /app-web\.conf/);
            assert.match(left.stdout, /web\.caddy/);
        });
    });
}
