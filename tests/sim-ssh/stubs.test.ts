import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { Client } from "ssh2";

import { ChrootBackend, renderContainerInterfaces } from "../pve-sim/chroot-backend";
import { ALPINE_TEMPLATE, DEBIAN_TEMPLATE, pctSh, run, startFixture, type SshFixture } from "./helpers";

describe("pve-sim container backend and command stubs", function () {
    this.timeout(30_000);
    let fx: SshFixture;
    let conn: Client;
    const sh = (vmid: number, script: string, stdin?: string) => run(conn, pctSh(vmid, script), stdin);
    const events = (vmid: number): string[] =>
        readFileSync(join(fx.backend.rootOf(vmid), "var/log/sim/service-events"), "utf8")
            .trim()
            .split("\n")
            .map((l) => l.replace(/^\d+ /, ""));

    before(async () => {
        fx = await startFixture();
        await fx.createCt(200, { searchdomain: "lab.example", nameserver: "10.100.0.1" });
        conn = await fx.connect();
    });

    after(async () => {
        await fx?.close();
    });

    describe("template", () => {
        it("looks like the Debian 13 template PVE set up", async () => {
            const r = await sh(
                200,
                ". /etc/os-release; echo $PRETTY_NAME; cat /etc/debian_version /etc/hostname /etc/resolv.conf",
            );
            assert.equal(
                r.stdout,
                "Debian GNU/Linux 13 (trixie)\n13.1\nct200\n# --- BEGIN PVE ---\nsearch lab.example\nnameserver 10.100.0.1\n# --- END PVE ---\n",
            );
            const ifaces = await run(conn, "pct exec 200 -- cat /etc/network/interfaces");
            assert.equal(
                ifaces.stdout,
                "auto lo\niface lo inet loopback\niface lo inet6 loopback\n\nauto eth0\niface eth0 inet static\n\taddress 10.100.0.200/24\n\tgateway 10.100.0.1\n\n",
            );
            const hosts = await run(conn, "pct exec 200 -- hostname -f");
            assert.equal(hosts.stdout, "ct200.lab.example\n");
            assert.match(
                (await run(conn, "pct exec 200 -- ip -4 addr show eth0")).stdout,
                /inet 10\.100\.0\.200\/24 brd 10\.100\.0\.255/,
            );
        });

        it("renders dhcp, manual and off-subnet gateways the way PVE does", () => {
            const text = renderContainerInterfaces([
                { name: "eth1", bridge: "vmbr0", hwaddr: "BC:24:11:00:00:02", ip: "dhcp" },
                { name: "eth0", bridge: "vmbr1", hwaddr: "BC:24:11:00:00:01", ip: "10.0.0.5/24", gw: "192.168.9.1" },
            ]);
            assert.equal(
                text,
                "auto lo\niface lo inet loopback\niface lo inet6 loopback\n\n" +
                    "auto eth0\niface eth0 inet static\n\taddress 10.0.0.5/24\n# --- BEGIN PVE ---\n" +
                    "\tpost-up ip route add 192.168.9.1 dev eth0\n\tpost-up ip route add default via 192.168.9.1 dev eth0\n" +
                    "\tpre-down ip route del default via 192.168.9.1 dev eth0\n\tpre-down ip route del 192.168.9.1 dev eth0\n" +
                    "# --- END PVE ---\n\nauto eth1\niface eth1 inet dhcp\n\n",
            );
        });
    });

    describe("apt-get and package hooks", () => {
        it("needs apt-get update first, like a fresh template", async () => {
            const r = await sh(200, "apt-get install -y redis-server");
            assert.equal(r.code, 100);
            assert.match(r.stderr, /^E: Unable to locate package redis-server$/m);
        });

        it("installs a package: its user, config, unit (enabled and started), dpkg record and the proxy used", async () => {
            await sh(200, "echo 'Acquire::http::Proxy \"http://10.100.0.1:3142\";' > /etc/apt/apt.conf.d/01proxy");
            assert.equal((await sh(200, "apt-get update")).code, 0);
            const noYes = await sh(200, "apt-get install redis-server", "");
            assert.equal(noYes.code, 1);
            assert.match(noYes.stdout, /Do you want to continue\? \[Y\/n\] Abort\.$/m);
            const r = await sh(
                200,
                "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server",
            );
            assert.equal(r.code, 0, r.stderr);
            const check = await sh(
                200,
                "getent passwd redis | cut -d: -f1,6,7; stat -c '%U %a' /etc/redis/redis.conf; systemctl is-enabled redis-server; systemctl is-active redis-server; redis-cli ping; dpkg -s redis-server | grep Status",
            );
            assert.equal(
                check.stdout,
                "redis:/var/lib/redis:/usr/sbin/nologin\nredis 640\nenabled\nactive\nPONG\nStatus: install ok installed\n",
            );
            const log = await sh(200, "tail -n 1 /var/log/sim/apt.log; cat /var/lib/sim/apt-proxy");
            assert.equal(
                log.stdout,
                "install pkgs=redis-tools redis-server requested=redis-server recommends=0 frontend=noninteractive proxy=http://10.100.0.1:3142\nhttp://10.100.0.1:3142\n",
            );
            const unknown = await sh(200, "apt-get install -y no-such-package");
            assert.equal(unknown.code, 100);
        });

        it("prints debconf's fallback warnings without DEBIAN_FRONTEND=noninteractive", async () => {
            const r = await sh(200, "apt-get install -y iptables-persistent");
            assert.equal(r.code, 0);
            assert.match(r.stderr, /debconf: unable to initialize frontend: Dialog/);
            assert.match((await sh(200, "tail -n 1 /var/log/sim/apt.log")).stdout, /frontend=dialog/);
        });

        it("an apt-get killed mid-install leaves dpkg interrupted until `dpkg --configure -a` finishes the package", async () => {
            // What a dropped SSH session does to apt-get: killed between unpacking and the maintainer script.
            await sh(
                200,
                "mkdir -p /var/lib/dpkg/updates && echo nginx > /var/lib/dpkg/updates/0001 && " +
                    "printf 'Package: nginx\\nStatus: install ok half-configured\\nVersion: 1.26.3-3\\n' > /var/lib/sim/packages/nginx",
            );
            const refused = await sh(200, "DEBIAN_FRONTEND=noninteractive apt-get install -y nginx");
            assert.equal(refused.code, 100);
            assert.equal(
                refused.stderr,
                "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.\n",
            );
            const fixed = await sh(200, "dpkg --configure -a");
            assert.equal(fixed.code, 0, fixed.stderr);
            assert.match(fixed.stdout, /^Setting up nginx \(1\.26\.3-3\) \.\.\.$/m);
            const after = await sh(
                200,
                "dpkg -s nginx | grep Status; getent passwd www-data >/dev/null && echo user; [ -e /var/lib/dpkg/updates/0001 ] && echo pending || echo clean",
            );
            assert.equal(after.stdout, "Status: install ok installed\nuser\nclean\n");
            assert.equal((await sh(200, "DEBIAN_FRONTEND=noninteractive apt-get install -y nginx")).code, 0);
        });
    });

    describe("systemctl", () => {
        it("refuses unknown units with systemctl's text and exit code", async () => {
            const r = await sh(200, "systemctl start nope");
            assert.deepEqual(
                { code: r.code, stderr: r.stderr },
                { code: 5, stderr: "Failed to start nope.service: Unit nope.service not found.\n" },
            );
        });

        it("enable --now, is-active, restarts and reloads are recorded; a missing ExecStart binary fails the start", async () => {
            await sh(
                200,
                "printf '[Unit]\\nDescription=App\\n[Service]\\nUser=app\\nExecStart=/opt/app/bin/app\\nExecReload=/bin/true\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/app.service",
            );
            const noUser = await sh(200, "systemctl enable --now app");
            assert.equal(noUser.code, 1);
            assert.match(
                noUser.stderr,
                /Created symlink '\/etc\/systemd\/system\/multi-user\.target\.wants\/app\.service' → '\/etc\/systemd\/system\/app\.service'\./,
            );
            assert.match(noUser.stderr, /Job for app\.service failed/);
            assert.equal(
                (await sh(200, "useradd -r -s /usr/sbin/nologin -d /opt/app -m app && systemctl start app")).code,
                1,
            );
            const st = await sh(200, "systemctl is-active app; systemctl status app");
            assert.match(st.stdout, /^failed$/m);
            assert.match(st.stdout, /203\/EXEC/);
            await sh(
                200,
                "mkdir -p /opt/app/bin && printf '#!/bin/sh\\n' > /opt/app/bin/app && chmod +x /opt/app/bin/app",
            );
            assert.equal((await sh(200, "systemctl restart app && systemctl is-active --quiet app")).code, 0);
            assert.equal((await sh(200, "systemctl reload app && systemctl reload-or-restart app")).code, 0);
            const ev = events(200).filter((e) => e.endsWith(" app.service"));
            assert.deepEqual(ev, [
                "enable app.service",
                "failed app.service",
                "failed app.service",
                "restart app.service",
                "reload app.service",
                "reload app.service",
            ]);
        });

        it("warns when a unit changed on disk without daemon-reload", async () => {
            await sh(200, "echo '# changed' >> /etc/systemd/system/app.service");
            const r = await sh(200, "systemctl restart app");
            assert.match(r.stderr, /changed on disk\. Run 'systemctl daemon-reload'/);
            const again = await sh(200, "systemctl daemon-reload && systemctl restart app");
            assert.equal(again.stderr, "");
        });
    });

    describe("iptables", () => {
        it("-C fails until -A, whatever the option order; -S and iptables-save show the rule", async () => {
            const rule = "-t nat -C POSTROUTING -s 10.100.0.0/24 -o eth0 -j MASQUERADE";
            const before = await sh(200, `iptables ${rule}`);
            assert.deepEqual(
                { code: before.code, stderr: before.stderr },
                { code: 1, stderr: "iptables: Bad rule (does a matching rule exist in that chain?).\n" },
            );
            assert.equal(
                (await sh(200, "iptables -t nat -A POSTROUTING -o eth0 -s 10.100.0.0/24 -j MASQUERADE")).code,
                0,
            );
            assert.equal((await sh(200, `iptables ${rule}`)).code, 0);
            assert.equal(
                (
                    await sh(
                        200,
                        "iptables -A INPUT -p tcp --dport 22 -s 10.0.0.1 -j ACCEPT && iptables -C INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT",
                    )
                ).code,
                0,
            );
            const s = await sh(200, "iptables -S INPUT; iptables -t nat -S POSTROUTING");
            assert.equal(
                s.stdout,
                "-P INPUT ACCEPT\n-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT\n-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.100.0.0/24 -o eth0 -j MASQUERADE\n",
            );
            const missing = await sh(200, "iptables -A NOCHAIN -j ACCEPT");
            assert.equal(missing.code, 1);
            assert.equal(missing.stderr, "iptables: No chain/target/match by that name.\n");
        });

        it("rules are lost on restart and restored at boot by netfilter-persistent", async () => {
            assert.equal((await sh(200, "netfilter-persistent save")).code, 0);
            assert.match(
                (await sh(200, "cat /etc/iptables/rules.v4")).stdout,
                /^-A POSTROUTING -s 10\.100\.0\.0\/24 -o eth0 -j MASQUERADE$/m,
            );
            await sh(200, "iptables -A INPUT -s 10.9.9.9 -j DROP");
            await fx.backend.stop(200);
            await fx.backend.start(200);
            const r = await sh(200, "iptables -t nat -S POSTROUTING; iptables -S INPUT");
            assert.equal(
                r.stdout,
                "-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.100.0.0/24 -o eth0 -j MASQUERADE\n-P INPUT ACCEPT\n-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 22 -j ACCEPT\n",
            );
        });
    });

    describe("sysctl, users, downloads, python", () => {
        it("sysctl: net.* is writable in a container, other keys are not; the host can; values vanish on restart", async () => {
            assert.equal((await sh(200, "sysctl -w net.ipv4.ip_forward=1")).stdout, "net.ipv4.ip_forward = 1\n");
            assert.equal((await sh(200, "sysctl -n net.ipv4.ip_forward")).stdout, "1\n");
            const denied = await sh(200, "sysctl -w vm.overcommit_memory=1");
            assert.deepEqual(
                { code: denied.code, stderr: denied.stderr },
                { code: 255, stderr: 'sysctl: permission denied on key "vm.overcommit_memory"\n' },
            );
            const host = await run(
                conn,
                "echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/99-fwd.conf && sysctl --system && sysctl -n net.ipv4.ip_forward",
            );
            assert.equal(host.stdout, "* Applying /etc/sysctl.d/99-fwd.conf ...\nnet.ipv4.ip_forward = 1\n1\n");
            await fx.backend.stop(200);
            await fx.backend.start(200);
            assert.equal((await sh(200, "sysctl -n net.ipv4.ip_forward")).stdout, "0\n");
        });

        it("useradd/groupadd edit passwd and group like shadow-utils", async () => {
            const r = await sh(
                200,
                "groupadd -r svc && useradd -r -g svc -G www-data -d /srv/svc -m -s /usr/sbin/nologin svc && id svc && stat -c '%U %G' /srv/svc",
            );
            assert.match(r.stdout, /^uid=9\d\d\(svc\) gid=9\d\d\(svc\) groups=9\d\d\(svc\),33\(www-data\)\nsvc svc\n$/);
            const dup = await sh(200, "useradd svc");
            assert.deepEqual(
                { code: dup.code, stderr: dup.stderr },
                { code: 9, stderr: "useradd: user 'svc' already exists\n" },
            );
        });

        it("concurrent user changes lose nothing and readers never see a truncated database", async () => {
            // The CI failure this reproduces: `chown caddy:caddy` ran while Cockpit's `useradd -G sudo` rewrote
            // /etc/group in another exec of the same container, and found it empty.
            const users = Array.from({ length: 6 }, (_, i) => `race${i}`);
            const writers = users.map((u) => sh(200, `useradd -m -G sudo,www-data ${u} && usermod -s /bin/bash ${u}`));
            const reader = sh(
                200,
                "i=0; while [ $i -lt 150 ]; do chown svc:svc /srv/svc || exit 1; i=$((i + 1)); done; echo ok",
            );
            const results = await Promise.all([...writers, reader]);
            for (const r of results) assert.equal(r.code, 0, r.stderr);
            const groups = await sh(200, "getent group sudo www-data | cut -d: -f4; ls -l /etc/passwd /etc/group");
            const [sudo, www] = groups.stdout.split("\n");
            assert.deepEqual(sudo.split(",").sort(), users);
            assert.deepEqual(
                www
                    .split(",")
                    .filter((m) => m.startsWith("race"))
                    .sort(),
                users,
            );
            assert.match(groups.stdout, /^-rw-r--r-- .* \/etc\/group\n-rw-r--r-- .* \/etc\/passwd\n$/m);
            for (const u of users) {
                const line = await sh(200, `getent passwd ${u} | cut -d: -f7`);
                assert.equal(line.stdout, "/bin/bash\n");
            }
            await sh(200, users.map((u) => `userdel -r ${u}`).join(" && "));
        });

        it("curl and wget fetch only URLs a test registered", async () => {
            const url = "https://example.org/files/app.tar.gz?x=1";
            await fx.backend.registerDownload(url, Buffer.from("payload\n"));
            const r = await sh(200, `curl -fsSL -o /tmp/app.tgz '${url}' && cat /tmp/app.tgz && wget -qO- '${url}'`);
            assert.equal(r.stdout, "payload\npayload\n");
            assert.equal((await sh(200, "wget -q -O /tmp/x https://example.org/other")).code, 4);
        });

        it("python3 -m venv needs python3-venv for pip; pip records requirements and console scripts", async () => {
            const noVenv = await sh(200, "python3 -m venv /opt/app/venv");
            assert.equal(noVenv.code, 1);
            assert.match(noVenv.stderr, /ensurepip is not\navailable/);
            assert.equal((await sh(200, "apt-get install -y python3-venv")).code, 0);
            const r = await sh(
                200,
                "python3 -m venv /opt/app/venv && printf 'Django==5.2.1\\ngunicorn==23.0.0 # web\\n' > /tmp/req.txt && /opt/app/venv/bin/pip install -r /tmp/req.txt && /opt/app/venv/bin/pip freeze && test -x /opt/app/venv/bin/gunicorn && /opt/app/venv/bin/python --version",
            );
            assert.equal(r.code, 0, r.stderr);
            assert.equal(
                r.stdout,
                "Successfully installed Django-5.2.1 gunicorn-23.0.0\nDjango==5.2.1\ngunicorn==23.0.0\nPython 3.13.5\n",
            );
            const system = await sh(200, "apt-get install -y python3-pip >/dev/null && pip install requests");
            assert.equal(system.code, 1);
            assert.match(system.stderr, /externally-managed-environment/);
            assert.equal((await sh(200, "python3 -c 'print(1)'")).code, 1);
        });
    });

    describe("Alpine", () => {
        before(async () => {
            await fx.createCt(210, { ostemplate: ALPINE_TEMPLATE, ostype: "alpine" });
        });

        it("has Alpine's identity and tools, not Debian's", async () => {
            const r = await sh(210, ". /etc/os-release; echo $PRETTY_NAME; cat /etc/alpine-release");
            assert.equal(r.stdout, "Alpine Linux v3.22\n3.22.0\n");
            assert.equal((await sh(210, "apt-get update")).code, 127);
            assert.equal((await run(conn, "pct exec 210 -- bash -c true")).code, 127);
        });

        it("apk add needs an index; OpenRC services are added and started explicitly", async () => {
            const noIndex = await sh(210, "apk add nginx");
            assert.equal(noIndex.code, 1);
            assert.match(noIndex.stderr, /nginx \(no such package\)/);
            assert.equal((await sh(210, "apk add --no-cache nginx")).code, 0);
            assert.equal((await sh(210, "rc-service nginx status")).code, 3);
            const r = await sh(
                210,
                "rc-update add nginx default && rc-service nginx start && rc-service nginx status && getent passwd nginx | cut -d: -f1",
            );
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stdout, /service nginx added to runlevel default[\s\S]* \* status: started\nnginx\n$/);
            await fx.backend.stop(210);
            await fx.backend.start(210);
            assert.equal((await sh(210, "rc-service nginx status")).stdout, " * status: started\n");
            assert.deepEqual(events(210).slice(-1), ["boot nginx"]);
        });
    });

    describe("lifecycle and network model", () => {
        it("reports interfaces with static addresses and DHCP leases from another container's dnsmasq", async () => {
            await fx.createCt(220, {
                nics: [{ name: "eth0", bridge: "vmbr7", hwaddr: "BC:24:11:AA:00:01", ip: "10.7.0.1/24" }],
            });
            await sh(
                220,
                "printf 'dhcp-range=10.7.0.100,10.7.0.150,12h\\ndhcp-host=bc:24:11:aa:00:02,10.7.0.50\\n' > /etc/dnsmasq.conf",
            );
            await fx.createCt(221, {
                nics: [{ name: "eth0", bridge: "vmbr7", hwaddr: "BC:24:11:AA:00:02", ip: "dhcp" }],
            });
            await fx.createCt(222, {
                nics: [{ name: "eth0", bridge: "vmbr7", hwaddr: "BC:24:11:AA:00:03", ip: "dhcp" }],
            });
            await fx.createCt(223, {
                nics: [{ name: "eth0", bridge: "vmbr0", hwaddr: "BC:24:11:AA:00:04", ip: "dhcp" }],
            });
            await fx.createCt(224, {
                nics: [{ name: "eth0", bridge: "vmbr9", hwaddr: "BC:24:11:AA:00:05", ip: "dhcp" }],
            });
            const inet = async (vmid: number) =>
                (await fx.backend.interfaces(vmid)).find((i) => i.name === "eth0")?.inet;
            assert.equal(await inet(221), "10.7.0.50/24");
            assert.equal(await inet(222), "10.7.0.100/24");
            assert.equal(await inet(223), "192.168.1.100/24");
            assert.equal(await inet(224), undefined);
            assert.deepEqual(await fx.backend.interfaces(221), [
                { name: "lo", hwaddr: "00:00:00:00:00:00", inet: "127.0.0.1/8", inet6: "::1/128" },
                { name: "eth0", hwaddr: "bc:24:11:aa:00:02", inet6: "fe80::be24:11ff:feaa:2/64", inet: "10.7.0.50/24" },
            ]);
            assert.match((await run(conn, "pct exec 222 -- ip -4 -br addr")).stdout, /eth0 +UP +10\.7\.0\.100\/24/);
            await fx.backend.stop(224);
            assert.deepEqual(await fx.backend.interfaces(224), []);
        });

        it("applyBridges writes the node's interfaces file, keeps post-up lines and runs them like ifreload -a", async () => {
            await run(
                conn,
                "printf '\\nauto vmbr1\\niface vmbr1 inet static\\n\\taddress 10.100.0.1/24\\n\\tbridge-ports none\\n\\tpost-up iptables -t nat -A POSTROUTING -s 10.100.0.0/24 -o vmbr0 -j MASQUERADE\\n' >> /etc/network/interfaces",
            );
            await fx.backend.applyBridges([
                { name: "vmbr0", cidr: "192.168.1.10/24" },
                { name: "vmbr1", cidr: "10.100.0.1/24", vlanAware: true },
                { name: "vmbr2" },
            ]);
            const file = (await run(conn, "cat /etc/network/interfaces")).stdout;
            assert.match(
                file,
                /auto vmbr0\niface vmbr0 inet static\n\taddress 192\.168\.1\.10\/24\n\tgateway 192\.168\.1\.1\n\tbridge-ports eno1\n/,
            );
            assert.match(
                file,
                /auto vmbr1\niface vmbr1 inet static\n\taddress 10\.100\.0\.1\/24\n\tbridge-ports none\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n\tpost-up iptables -t nat -A POSTROUTING -s 10\.100\.0\.0\/24 -o vmbr0 -j MASQUERADE\n/,
            );
            assert.match(file, /auto vmbr2\niface vmbr2 inet manual\n/);
            const nat = await run(conn, "iptables -t nat -S POSTROUTING");
            assert.equal(nat.stdout, "-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.100.0.0/24 -o vmbr0 -j MASQUERADE\n");
        });

        it("shutdown stops services cleanly, or rejects after its timeout when the container hangs", async () => {
            await fx.backend.shutdown(200, 5_000);
            assert.equal(await fx.backend.isRunning(200), false);
            assert.ok(events(200).includes("shutdown redis-server.service"));
            await fx.backend.start(200);
            fx.backend.faults.hangShutdown.add(200);
            const t0 = Date.now();
            await assert.rejects(
                fx.backend.shutdown(200, 300),
                /^Error: command 'lxc-stop -n 200 --nokill --timeout 1' failed: exit code 1$/,
            );
            assert.ok(Date.now() - t0 >= 290);
            assert.equal(await fx.backend.isRunning(200), true);
            fx.backend.faults.hangShutdown.delete(200);
        });

        it("with a caller-owned state dir, adopt() re-attaches roots after a restart and the node keeps its files", async () => {
            const dir = mkdtempSync(join(tmpdir(), "sim-adopt-"));
            const spec = {
                vmid: 300,
                hostname: "a",
                ostemplate: DEBIAN_TEMPLATE,
                ostype: "debian" as const,
                unprivileged: true,
                nics: [],
            };
            try {
                let b = new ChrootBackend({ stateDir: dir });
                await b.create(spec);
                await b.start(300);
                await b.exec(300, ["sh", "-c", "echo kept > /root/f"]);
                await b.hostExec(["sh", "-c", "echo node > /root/h"]);
                await b.close();
                b = new ChrootBackend({ stateDir: dir });
                await b.adopt({ ...spec, hostname: "renamed" });
                await b.start(300);
                assert.equal(
                    (await b.exec(300, ["sh", "-c", "cat /root/f /etc/hostname"])).stdout.toString(),
                    "kept\nrenamed\n",
                );
                assert.equal((await b.hostExec(["cat", "/root/h"])).stdout.toString(), "node\n");
                await b.close();
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        });

        it("destroy removes the tree", async () => {
            const root = fx.backend.rootOf(224);
            await fx.backend.destroy(224);
            await assert.rejects(
                fx.backend.interfaces(224),
                /Configuration file 'nodes\/pve\/lxc\/224\.conf' does not exist/,
            );
            assert.throws(() => readFileSync(join(root, "etc/hostname")), /ENOENT/);
        });
    });
});
