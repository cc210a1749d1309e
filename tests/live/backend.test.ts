/**
 * The live backend against real LXC containers in a real test bed (tests/pve-sim/live). Needs root, lxc, nftables,
 * tinyproxy and a Debian mirror in the machine's apt sources; skipped with a message otherwise. `npm test` does not
 * run it (tests/live is ignored there): `npx mocha --config tests/live/.mocharc.json tests/live/backend.test.ts`.
 *
 * The bed is named `phltest` (override with PHL_TESTBED) on link 10.254.7.0/30, so it does not clash with a
 * developer's default bed; it is torn down at the end and the test proves nothing of it is left.
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

import type { BackendContainerSpec, BackendNic } from "../pve-sim/backend";
import { hostExtraCaCerts, LiveBackend } from "../pve-sim/live-backend";
import { missingTools, Testbed } from "../pve-sim/live/testbed";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";
const A = 9101;
const B = 9102;
const C = 9103;
const D = 9104;
const MAC = {
    a: "BC:24:11:7E:00:01",
    b: "BC:24:11:7E:00:02",
    c: "BC:24:11:7E:00:03",
    d: "BC:24:11:7E:00:04",
    a2: "BC:24:11:7E:00:11",
};

async function missingPrerequisite(): Promise<string | undefined> {
    if (process.platform !== "linux") return "not Linux";
    if (process.getuid?.() !== 0) return "not root";
    const missing = await missingTools();
    return missing.length ? `missing ${missing.map((m) => `${m.what} (${m.pkg})`).join(", ")}` : undefined;
}

function spec(vmid: number, hostname: string, nics: BackendNic[], extra: Partial<BackendContainerSpec> = {}) {
    return { vmid, hostname, ostemplate: TEMPLATE, ostype: "debian" as const, unprivileged: true, nics, ...extra };
}

function text(b: Buffer): string {
    return b.toString();
}

describe("live backend: real LXC containers in a test-bed namespace", function () {
    this.timeout(30 * 60_000);
    let bed: Testbed;
    let backend: LiveBackend;
    const started = Date.now();

    /** Runs a shell script in a container; asserts exit 0 unless told otherwise. */
    async function sh(vmid: number, script: string, opts: { code?: number; stdin?: string; timeoutMs?: number } = {}) {
        const r = await backend.exec(vmid, ["/bin/sh", "-c", script], {
            stdin: opts.stdin === undefined ? undefined : Buffer.from(opts.stdin),
            timeoutMs: opts.timeoutMs,
        });
        if (opts.code !== undefined) assert.equal(r.code, opts.code, `${script}\n${text(r.stderr)}`);
        else assert.equal(r.code, 0, `${script} exited ${r.code}\n${text(r.stdout)}\n${text(r.stderr)}`);
        return text(r.stdout);
    }

    /** The netfilter tables of the host namespace, `family name` per line. */
    function nsTables(): string {
        return execFileSync("ip", ["netns", "exec", bed.netns, "nft", "list", "tables"], { encoding: "utf8" })
            .split("\n")
            .filter(Boolean)
            .map((l) => l.replace(/^table /, ""))
            .sort()
            .join("\n");
    }

    async function waitUntil(what: string, timeoutMs: number, probe: () => boolean): Promise<void> {
        const deadline = Date.now() + timeoutMs;
        while (!probe()) {
            if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 250));
        }
    }

    async function waitForInet(vmid: number, nic: string, timeoutMs: number): Promise<string> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const inet = (await backend.interfaces(vmid)).find((i) => i.name === nic)?.inet;
            if (inet) return inet;
            if (Date.now() > deadline) throw new Error(`CT ${vmid} ${nic}: no address after ${timeoutMs} ms`);
            await new Promise((r) => setTimeout(r, 500));
        }
    }

    before(async function () {
        const why = await missingPrerequisite();
        if (why) {
            // CI sets PHL_LIVE_REQUIRED=1: there a missing prerequisite is a failure, not a skip.
            if (process.env.PHL_LIVE_REQUIRED === "1") throw new Error(`live backend tests cannot run: ${why}`);
            console.log(`    live backend tests skipped: ${why}`);
            this.skip();
        }
        bed = new Testbed({ name: process.env.PHL_TESTBED ?? "phltest", linkCidr: "10.254.7.0/30" });
        // A previous run that died keeps nothing of ours alive: start from nothing.
        await bed.down();
    });

    after(async function () {
        if (!bed) return;
        if (backend) {
            console.log("    timings (ms):");
            for (const t of backend.timings) console.log(`      ${t.step}${t.vmid ? ` ${t.vmid}` : ""}: ${t.ms}`);
            console.log(`      whole suite: ${Date.now() - started}`);
            await backend.close();
        }
        if (process.env.PHL_KEEP_TESTBED !== "1") await bed.down();
    });

    it("brings the test bed up, idempotently, with no route and no NAT to the outside", async () => {
        const t0 = Date.now();
        await bed.up();
        const first = Date.now() - t0;
        await bed.up();
        console.log(`      bed up: ${first} ms, again: ${Date.now() - t0 - first} ms`);
        const st = await bed.status();
        assert.ok(
            st.netns && st.link && st.proxy.running && st.hostRootMounted && st.cgroupRootMounted,
            JSON.stringify(st),
        );
        assert.equal(st.rootIpForward, "0", "the real host must not forward");
        assert.ok(st.proxy.allowlist.length > 0);
        // The allowlist is the machine's own: every host comes from its apt sources or pip.
        for (const h of st.proxy.allowlist) assert.match(h.source, /^(apt |pip )/);
        const inNs = (argv: string[]): string =>
            execFileSync("ip", ["netns", "exec", bed.netns, ...argv], { encoding: "utf8" });
        assert.equal(inNs(["sysctl", "-n", "net.ipv4.ip_forward"]).trim(), "1");
        assert.equal(inNs(["sysctl", "-n", "net.ipv6.conf.all.disable_ipv6"]).trim(), "1");
        assert.doesNotMatch(inNs(["ip", "-4", "route"]), /default/, "the host namespace has no default route");
        assert.doesNotMatch(inNs(["nft", "list", "ruleset"]), /masquerade|snat|dnat/i);
        const rootRules = execFileSync("nft", ["list", "ruleset"], { encoding: "utf8" });
        assert.doesNotMatch(rootRules, /phl_fence|masquerade/i, "the real host's firewall is not touched");
    });

    it("makes real bridges on apply, with host addresses and routes from the real host", async () => {
        backend = new LiveBackend({
            testbed: bed,
            keepOnClose: process.env.PHL_KEEP_TESTBED === "1",
            log: (l) => process.env.PHL_VERBOSE && console.log(`      ${l}`),
        });
        await backend.init();
        await backend.applyBridges([
            { name: "vmbr0", cidr: "192.168.1.10/24" },
            { name: "vmbr1", cidr: "10.20.0.254/24" },
        ]);
        assert.deepEqual((await bed.currentBridges()).sort(), ["vmbr0", "vmbr1"]);
        const addrs = execFileSync("ip", ["-n", bed.netns, "-4", "-br", "addr"], { encoding: "utf8" });
        assert.match(addrs, /^vmbr1\s+\S+\s+10\.20\.0\.254\/24/m);
        const routes = execFileSync("ip", ["-4", "route", "show", "dev", bed.rootVeth], { encoding: "utf8" });
        assert.match(routes, /^10\.20\.0\.0\/24 via 10\.254\.7\.2/m);
        assert.match(routes, /^192\.168\.1\.0\/24 via 10\.254\.7\.2/m);
        // The PVE host's interfaces file says what PVE's would.
        const ifaces = readFileSync(`${bed.hostRoot}/etc/network/interfaces`, "utf8");
        assert.match(ifaces, /iface vmbr1 inet static\n\taddress 10\.20\.0\.254\/24/);
    });

    it("creates and starts containers that ping each other, with the static address and hwaddr configured", async () => {
        await backend.create(
            spec(A, "app-a", [{ name: "eth0", bridge: "vmbr1", hwaddr: MAC.a, ip: "10.20.0.11/24" }], {
                nameserver: "10.20.0.1",
                searchdomain: "prox.local",
            }),
        );
        await backend.create(
            spec(B, "app-b", [
                { name: "eth0", bridge: "vmbr1", hwaddr: MAC.b, ip: "10.20.0.12/24", gw: "10.20.0.254" },
            ]),
        );
        await assert.rejects(backend.create(spec(A, "dup", [])), /CT 9101 already exists on node 'pve'/);
        await backend.start(A);
        await backend.start(B);
        await assert.rejects(backend.start(A), /CT 9101 already running/);
        assert.equal(await backend.isRunning(A), true);

        assert.match(await sh(A, "ping -c 2 -W 2 10.20.0.12"), / 0% packet loss/);
        assert.match(await sh(B, "ping -c 2 -W 2 10.20.0.11"), / 0% packet loss/);

        const ifs = await backend.interfaces(A);
        assert.deepEqual(ifs[0], { name: "lo", hwaddr: "00:00:00:00:00:00", inet: "127.0.0.1/8", inet6: "::1/128" });
        assert.equal(ifs[1].name, "eth0");
        assert.equal(ifs[1].hwaddr, MAC.a.toLowerCase());
        assert.equal(ifs[1].inet, "10.20.0.11/24");
        assert.match(await sh(A, "cat /sys/class/net/eth0/address"), new RegExp(MAC.a.toLowerCase()));
        // PVE's host-side name for net0 of CT 9101, attached to the bridge.
        const master = execFileSync("ip", ["-n", bed.netns, "-br", "link", "show", "master", "vmbr1"], {
            encoding: "utf8",
        });
        assert.match(master, /^veth9101i0@/m);
        assert.match(master, /^veth9102i0@/m);

        // What PVE writes for Debian.
        assert.equal(
            await sh(A, "cat /etc/network/interfaces"),
            "auto lo\niface lo inet loopback\niface lo inet6 loopback\n\nauto eth0\niface eth0 inet static\n\taddress 10.20.0.11/24\n\n",
        );
        assert.match(
            await sh(B, "cat /etc/network/interfaces"),
            /\taddress 10\.20\.0\.12\/24\n\tgateway 10\.20\.0\.254\n/,
        );
        assert.equal(
            await sh(A, "cat /etc/resolv.conf"),
            "# --- BEGIN PVE ---\nsearch prox.local\nnameserver 10.20.0.1\n# --- END PVE ---\n",
        );
        assert.equal((await sh(A, "hostname")).trim(), "app-a");
        assert.match(await sh(A, "cat /etc/hosts"), /^10\.20\.0\.11 app-a\.prox\.local app-a$/m);
    });

    it("gives containers no route to the outside: only the proxy's /30 beyond their bridge", async () => {
        const r = await backend.exec(A, ["ip", "route", "get", "1.1.1.1"]);
        assert.notEqual(r.code, 0);
        assert.match(text(r.stderr), /Network is unreachable/);
        assert.doesNotMatch(await sh(A, "ip -4 route"), /default/);
        assert.match(await sh(A, "ip -4 route"), /^10\.254\.7\.0\/30 via 10\.20\.0\.254 dev eth0/m);
        // A gateway makes the bridge's host address the default route; the host namespace itself has none.
        assert.match(await sh(B, "ip -4 route"), /^default via 10\.20\.0\.254 dev eth0/m);
    });

    it("keeps pct exec semantics: exit code, stdin, clean environment, missing command, timeout", async () => {
        assert.equal((await backend.exec(A, ["sh", "-c", "exit 7"])).code, 7);
        const echo = await backend.exec(A, ["cat"], { stdin: Buffer.from("through stdin\n") });
        assert.equal(text(echo.stdout), "through stdin\n");
        const env = text((await backend.exec(A, ["env"], { env: { FOO: "bar baz" } })).stdout);
        assert.deepEqual(env.trim().split("\n").sort(), [
            "FOO=bar baz",
            "HOME=/root",
            "LANG=C",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "container=lxc",
        ]);
        const missing = await backend.exec(A, ["no-such-command"]);
        assert.equal(missing.code, 127);
        assert.match(text(missing.stderr), /Failed to exec "no-such-command"/);
        const t0 = Date.now();
        const slow = await backend.exec(A, ["sleep", "300"], { timeoutMs: 1500 });
        assert.equal(slow.code, 124);
        assert.ok(Date.now() - t0 < 20_000);
        const ps = await sh(A, "ps -eo pid,ppid,args");
        assert.doesNotMatch(
            ps,
            /^\s*\d+\s+\d+\s+sleep 300$/m,
            `the timed-out command is gone from the container:\n${ps}`,
        );
    });

    it("pushes and pulls files with pct's modes, owners and errors", async () => {
        await backend.push(A, "/root/secret.txt", Buffer.from("s3cret\n"), {
            perms: "0640",
            user: "root",
            group: "nogroup",
        });
        assert.equal((await sh(A, "stat -c '%a %U %G' /root/secret.txt")).trim(), "640 root nogroup");
        assert.equal(text(await backend.pull(A, "/root/secret.txt")), "s3cret\n");
        await backend.push(A, "/tmp/plain", Buffer.from("x"));
        assert.equal((await sh(A, "stat -c '%a' /tmp/plain")).trim(), "644");
        await backend.push(A, "/tmp/plain", Buffer.from("yz"), { perms: "600" });
        assert.equal((await sh(A, "stat -c '%a %s' /tmp/plain")).trim(), "600 2");
        const binary = Buffer.from(Array.from({ length: 256 }, (_v, i) => i));
        await backend.push(A, "/tmp/bin", binary);
        assert.deepEqual(await backend.pull(A, "/tmp/bin"), binary);
        await assert.rejects(backend.push(A, "/nope/x", Buffer.from("")), {
            message: "failed to create file: /nope/x: No such file or directory",
        });
        await assert.rejects(backend.push(A, "/tmp", Buffer.from("")), {
            message: "failed to create file: /tmp: Is a directory",
        });
        await assert.rejects(backend.push(A, "/tmp/y", Buffer.from(""), { user: "nosuchuser" }), {
            message: "failed to get uid for: nosuchuser",
        });
        await assert.rejects(backend.push(A, "/tmp/y", Buffer.from(""), { perms: "rw" }), {
            message: "invalid mode: 'rw'",
        });
        await assert.rejects(backend.pull(A, "/nope"), { message: "failed to open /nope: No such file or directory" });
        await assert.rejects(backend.pull(A, "/tmp"), { message: "failed to open /tmp: Is a directory" });
    });

    it("installs packages through the allowlisted proxy, which refuses any other host without connecting", async () => {
        await sh(
            A,
            `printf 'Acquire::http::Proxy "%s";\\n' "$1" > /etc/apt/apt.conf.d/00proxy`.replace("$1", bed.proxyUrl),
        );
        const t0 = Date.now();
        await sh(
            A,
            "DEBIAN_FRONTEND=noninteractive apt-get update -q && apt-get install -y -q --no-install-recommends curl",
            {
                timeoutMs: 600_000,
            },
        );
        console.log(`      apt-get update + install curl through the proxy: ${Date.now() - t0} ms`);
        assert.match(await sh(A, "curl --version"), /^curl /);

        const code = await sh(
            A,
            `curl -s -o /dev/null -w '%{http_code}' -x '${bed.proxyUrl}' http://blocked.example/`,
            {
                code: 0,
            },
        );
        assert.equal(code, "403");
        const connect = await backend.exec(A, [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_connect}",
            "-x",
            bed.proxyUrl,
            "https://blocked.example/",
        ]);
        assert.equal(text(connect.stdout), "403");

        const log = await bed.proxyLog();
        assert.match(log, /blocked\.example/, "the refusal is logged");
        const connections = await bed.proxyConnections();
        assert.ok(connections.length > 0, "apt went through the proxy");
        assert.ok(!connections.includes("blocked.example"), "no connection to a non-allowlisted host");
        const allowed = new Set((await bed.allowlist()).map((h) => h.host));
        for (const host of connections)
            assert.ok(allowed.has(host), `the proxy only connected to allowlisted hosts (${host})`);
    });

    it("hands out DHCP leases: the bed's LAN router on vmbr0 and a dnsmasq in a container on vmbr1", async () => {
        // vmbr0: the bed's modelled home router (dnsmasq in the host namespace, .100-.199, no router option).
        await backend.create(spec(C, "lan-client", [{ name: "eth0", bridge: "vmbr0", hwaddr: MAC.c, ip: "dhcp" }]));
        await backend.start(C);
        const lan = await waitForInet(C, "eth0", 60_000);
        assert.match(lan, /^192\.168\.1\.1\d\d\/24$/);
        assert.ok((await bed.bridgeDhcpLeases("lan")).some((l) => l.mac.toLowerCase() === MAC.c.toLowerCase()));
        const route = await backend.exec(C, ["ip", "route", "get", "1.1.1.1"]);
        assert.match(text(route.stderr), /Network is unreachable/, "the LAN lease brings no default route");

        // vmbr1: a real dnsmasq installed through the proxy in B, with a static lease for D.
        await sh(B, `printf 'Acquire::http::Proxy "%s";\\n' '${bed.proxyUrl}' > /etc/apt/apt.conf.d/00proxy`);
        await sh(
            B,
            "mkdir -p /etc/dnsmasq.d && printf '%s\\n' port=0 interface=eth0 bind-interfaces " +
                `dhcp-range=10.20.0.100,10.20.0.150,255.255.255.0,1h 'dhcp-host=${MAC.d.toLowerCase()},10.20.0.77' ` +
                "> /etc/dnsmasq.d/phl-test.conf",
        );
        await sh(
            B,
            "DEBIAN_FRONTEND=noninteractive apt-get update -q && apt-get install -y -q --no-install-recommends dnsmasq",
            {
                timeoutMs: 600_000,
            },
        );
        await sh(B, "systemctl restart dnsmasq && systemctl is-active dnsmasq");
        await backend.create(spec(D, "dhcp-client", [{ name: "eth0", bridge: "vmbr1", hwaddr: MAC.d, ip: "dhcp" }]));
        await backend.start(D);
        assert.equal(await waitForInet(D, "eth0", 90_000), "10.20.0.77/24");
        assert.match(await sh(D, "ping -c 1 -W 2 10.20.0.12"), / 0% packet loss/);
        assert.match(await sh(B, "cat /var/lib/misc/dnsmasq.leases"), /10\.20\.0\.77/);
    });

    it("runs PVE host commands in the host namespace: iptables and net sysctls for real, the machine untouched", async () => {
        const rule = [
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "10.20.0.0/24",
            "-o",
            "vmbr0",
            "-j",
            "MASQUERADE",
        ];
        assert.equal((await backend.hostExec(rule)).code, 0);
        const saved = await backend.hostExec([
            "/bin/sh",
            "-c",
            "mkdir -p /etc/iptables && iptables-save | tee /etc/iptables/rules.v4",
        ]);
        assert.match(text(saved.stdout), /-A POSTROUTING -s 10\.20\.0\.0\/24 -o vmbr0 -j MASQUERADE/);
        assert.ok(existsSync(`${bed.hostUpper}/etc/iptables/rules.v4`), "host files live in the bed's host root");
        assert.ok(
            !existsSync("/etc/iptables/rules.v4") ||
                !readFileSync("/etc/iptables/rules.v4", "utf8").includes("10.20.0.0/24"),
        );
        const rootNat = spawnSync("iptables-save", [], { encoding: "utf8" }).stdout;
        assert.doesNotMatch(rootNat, /10\.20\.0\.0\/24/, "the real host's firewall is untouched");
        assert.doesNotMatch(execFileSync("nft", ["list", "ruleset"], { encoding: "utf8" }), /10\.20\.0\.0/);

        const swappiness = readFileSync("/proc/sys/vm/swappiness", "utf8");
        const sys = await backend.hostExec([
            "/bin/sh",
            "-c",
            "sysctl -w net.ipv4.conf.all.rp_filter=0 vm.swappiness=7 && sysctl -n vm.swappiness",
        ]);
        assert.equal(sys.code, 0, text(sys.stderr));
        assert.match(text(sys.stdout), /^7$/m, "machine-wide keys are modelled");
        assert.equal(readFileSync("/proc/sys/vm/swappiness", "utf8"), swappiness, "and never reach the machine");
        assert.equal(text((await backend.hostExec(["cat", "/etc/hostname"])).stdout), "pve\n");
        assert.match(text((await backend.hostExec(["pveversion"])).stdout), /^pve-manager\/9\./);
        // The rule really applies: B's traffic to the LAN is masqueraded by the host namespace.
        const nat = execFileSync("ip", ["netns", "exec", bed.netns, "iptables", "-t", "nat", "-S", "POSTROUTING"], {
            encoding: "utf8",
        });
        assert.match(nat, /MASQUERADE/);
    });

    it("fences the bed: drops to the link other than the proxy port are counted, nothing went outside", async () => {
        const before = await bed.fenceCounters();
        // The real host's side of the link, a port other than the proxy's: dropped in the host namespace.
        const r = await backend.exec(A, ["curl", "-s", "-m", "3", `http://${bed.rootAddr}:22/`]);
        assert.notEqual(r.code, 0);
        const afterC = await bed.fenceCounters();
        assert.ok(
            afterC.fwd_link.packets > before.fwd_link.packets,
            `the fence counted the drop (curl: ${r.code} ${text(r.stderr)}; ${JSON.stringify([before, afterC])})`,
        );
        assert.deepEqual(await bed.outsideBound(), { pre_outside: 0, fwd_outside: 0, out_outside: 0, fwd_ipv6: 0 });
    });

    it("does not count traffic inside a bridge without a host address as outside-bound", async () => {
        // An isolated LAN (as the appliance's app LAN): its addresses are unknown to the bed, its frames are
        // bridged, never routed by the host namespace.
        await backend.applyBridges([
            { name: "vmbr0", cidr: "192.168.1.10/24" },
            { name: "vmbr1", cidr: "10.20.0.254/24" },
            { name: "vmbr9" },
        ]);
        const b0 = { name: "eth0", bridge: "vmbr1", hwaddr: MAC.b, ip: "10.20.0.12/24", gw: "10.20.0.254" };
        const d0 = { name: "eth0", bridge: "vmbr1", hwaddr: MAC.d, ip: "dhcp" };
        await backend.updateNics(B, [
            b0,
            { name: "eth1", bridge: "vmbr9", hwaddr: "BC:24:11:7E:00:92", ip: "10.99.0.2/24" },
        ]);
        await backend.updateNics(D, [
            d0,
            { name: "eth1", bridge: "vmbr9", hwaddr: "BC:24:11:7E:00:94", ip: "10.99.0.4/24" },
        ]);
        const before = await bed.fenceCounters();
        assert.match(await sh(B, "ping -c 3 -i 0.2 -W 2 10.99.0.4"), / 0% packet loss/);
        const after = await bed.fenceCounters();
        assert.equal(after.pre_outside.packets, before.pre_outside.packets, JSON.stringify([before, after]));
        assert.deepEqual(await bed.outsideBound(), { pre_outside: 0, fwd_outside: 0, out_outside: 0, fwd_ipv6: 0 });
        await backend.updateNics(B, [b0]);
        await backend.updateNics(D, [d0]);
        await backend.applyBridges([
            { name: "vmbr0", cidr: "192.168.1.10/24" },
            { name: "vmbr1", cidr: "10.20.0.254/24" },
        ]);
    });

    it("hot-plugs NIC changes into a running container", async () => {
        await backend.updateNics(A, [
            { name: "eth0", bridge: "vmbr1", hwaddr: MAC.a, ip: "10.20.0.21/24" },
            { name: "eth1", bridge: "vmbr0", hwaddr: MAC.a2, ip: "192.168.1.50/24" },
        ]);
        const ifs = await backend.interfaces(A);
        assert.equal(ifs.find((i) => i.name === "eth0")?.inet, "10.20.0.21/24");
        const eth1 = ifs.find((i) => i.name === "eth1");
        assert.equal(eth1?.inet, "192.168.1.50/24");
        assert.equal(eth1?.hwaddr, MAC.a2.toLowerCase());
        assert.match(await sh(A, "ping -c 1 -W 2 192.168.1.10"), / 0% packet loss/);
        assert.match(await sh(B, "ping -c 1 -W 2 10.20.0.21"), / 0% packet loss/);
    });

    it("stops, shuts down and refuses exec/push/pull on a stopped container exactly as pct does", async () => {
        await backend.shutdown(A, 30_000);
        assert.equal(await backend.isRunning(A), false);
        assert.deepEqual(await backend.interfaces(A), []);
        await assert.rejects(backend.exec(A, ["true"]), { message: "container '9101' not running!" });
        await assert.rejects(backend.push(A, "/tmp/x", Buffer.from("")), {
            message: "can only push files to a running CT",
        });
        await assert.rejects(backend.pull(A, "/etc/hostname"), { message: "can only pull files from a running VM" });
        await assert.rejects(backend.stop(A), { message: "CT 9101 not running" });
        await assert.rejects(backend.shutdown(A, 1000), { message: "CT 9101 not running" });
        await backend.start(A);
        assert.equal(text(await backend.pull(A, "/root/secret.txt")), "s3cret\n", "the rootfs survives a restart");
        await backend.stop(A);
        assert.equal(await backend.isRunning(A), false);
        await assert.rejects(backend.exec(9999, ["true"]), {
            message: "Configuration file 'nodes/pve/lxc/9999.conf' does not exist",
        });
    });

    it("trusts the machine's locally added CA certificates through a helper", async () => {
        const pems = await hostExtraCaCerts();
        for (const pem of pems) assert.match(pem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    });

    it("destroys containers and releases the bed, resetting the PVE host", async () => {
        for (const vmid of [A, B, C, D]) await backend.destroy(vmid);
        await backend.destroy(A); // a missing container is not an error
        assert.deepEqual(await bed.containers(), []);
        await backend.close();
        assert.ok(!existsSync(bed.ownerFile), "the claim is released");
        assert.deepEqual(await bed.currentBridges(), []);
        assert.ok(!existsSync(`${bed.hostUpper}/etc/iptables/rules.v4`), "the host root's changes are gone");
        assert.equal(nsTables(), "inet phl_fence", "only the fence is left in the host namespace");
    });

    it("cleans what a crashed run left at the next start", async () => {
        const t0 = Date.now();
        const child = spawn(
            process.execPath,
            ["-r", "ts-node/register/transpile-only", "tests/live/fixtures/crash-child.ts", bed.name, bed.linkCidr],
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (b: Buffer) => (out += b.toString()));
        child.stderr.on("data", (b: Buffer) => (err += b.toString()));
        const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
        try {
            await waitUntil("the crashing run to be ready", 180_000, () => {
                if (child.exitCode !== null) throw new Error(`the child run exited ${child.exitCode}: ${err}`);
                return out.includes("READY ");
            });
        } finally {
            child.kill("SIGKILL");
            await exited;
        }
        const { container } = JSON.parse(/READY (.*)/.exec(out)?.[1] ?? "{}") as { container: string };
        // What the dead run left: a running container, bridges, the LAN DHCP server, a NAT rule, a dead claim.
        assert.deepEqual(await bed.containers(), [container]);
        assert.match(
            execFileSync("ip", ["netns", "exec", bed.netns, "lxc-info", "-n", container, "-P", bed.lxcPath, "-s"], {
                encoding: "utf8",
            }).replace(/\s+/g, " "),
            /RUNNING/,
        );
        assert.deepEqual((await bed.currentBridges()).sort(), ["vmbr0", "vmbr1"]);
        assert.match(nsTables(), /ip nat/);
        assert.ok(existsSync(bed.ownerFile) && !(await bed.ownerAlive()), "a claim by a dead process");
        const crashed = Date.now() - t0;

        const t1 = Date.now();
        const next = new LiveBackend({ testbed: bed });
        await next.init();
        console.log(`      crashed run set up in ${crashed} ms; cleaned by the next start in ${Date.now() - t1} ms`);
        assert.deepEqual(await bed.containers(), []);
        assert.equal(spawnSync("pgrep", ["-f", `lxc monitor\\] ${bed.lxcPath} ${container}`]).stdout.toString(), "");
        assert.deepEqual(await bed.currentBridges(), []);
        assert.equal(nsTables(), "inet phl_fence");
        assert.ok(!existsSync(`${bed.hostUpper}/etc/iptables/rules.v4`));
        assert.equal(spawnSync("pgrep", ["-f", `${bed.runDir}/dhcp/`]).stdout.toString(), "", "no DHCP server left");
        assert.equal(readFileSync(bed.ownerFile, "utf8").trim(), String(process.pid), "the new run holds the bed");
        await next.close();
    });

    it("tears the bed down leaving nothing", async () => {
        const proxyPid = (await bed.status()).proxy.pid;
        await bed.down();

        assert.ok(!existsSync(`/run/netns/${bed.netns}`), "no namespace");
        assert.equal(spawnSync("ip", ["link", "show", "dev", bed.rootVeth]).status !== 0, true, "no veth");
        assert.doesNotMatch(
            execFileSync("ip", ["-4", "route"], { encoding: "utf8" }),
            /10\.254\.7\.|10\.20\.0\.|192\.168\.1\./,
        );
        assert.ok(!existsSync(bed.lxcPath) && !existsSync(bed.stateDir) && !existsSync(bed.runDir), "no state");
        const mounts = readFileSync("/proc/self/mountinfo", "utf8");
        assert.ok(!mounts.includes(bed.runDir) && !mounts.includes(bed.stateDir), "no mounts");
        if (proxyPid) {
            const stat = existsSync(`/proc/${proxyPid}/stat`) ? readFileSync(`/proc/${proxyPid}/stat`, "utf8") : "";
            assert.ok(stat === "" || / Z /.test(stat), "no proxy process");
        }
        const lxcMonitors = spawnSync("pgrep", ["-f", `lxc monitor\\] ${bed.lxcPath}`])
            .stdout.toString()
            .trim();
        assert.equal(lxcMonitors, "", "no LXC container of ours runs");
        assert.equal(spawnSync("pgrep", ["-f", bed.runDir]).stdout.toString().trim(), "", "no process of ours");
    });
});
