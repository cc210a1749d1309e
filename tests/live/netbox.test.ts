/**
 * The NetBox-only stack (NetboxStack: host bridges and firewall, PostgreSQL, Valkey, the app and the nginx proxy)
 * deployed by the REAL Pulumi engine into the simulator backed by the live test bed. NetBox's own release cannot
 * be downloaded here, so its source (`netbox.releaseUrl`) points at a mirror in the bed that does not hold it: the
 * deploy must stop at that step naming the URL, with everything that does not need NetBox's code live and right.
 * Then it proves the data tier and the proxy work as the document says:
 *
 * - PostgreSQL accepts the app container's connection with the generated password (SCRAM-SHA-256), refuses it
 *   with a wrong password, refuses it from another backend container (pg_hba), and the proxy container cannot
 *   reach it at all (the host's FORWARD rules drop DMZ → backend, and count it);
 * - Valkey refuses commands without AUTH and with a wrong password, and accepts the generated one;
 * - nginx on the proxy redirects 80 to 443 and serves TLS whose chain verifies against the stack's CA output for
 *   the configured name only (and not against the system's trust store), 502 while NetBox is not there;
 * - a second up stops at the same step and changes nothing else; the fence held; destroy leaves nothing.
 *
 *   npm run build && npx mocha --no-config -r ts-node/register/transpile-only --extension ts --timeout 0 --exit \
 *       tests/live/netbox.test.ts
 *
 * Egress: the stack's host rules let the backend and DMZ out through vmbr0 only, and the bed's proxy sits on the
 * bed's own link, so a relay on the PVE host's LAN address (192.168.1.10:8888, fixtures/sinks.ts) stands in for a
 * LAN proxy, as a homelab would have one. The release mirror (192.168.1.10:8099) is reached directly through the
 * product's `downloads.noProxy`. Bed `phlnetbox` on link 10.254.13.0/30, torn down at the end.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

import { hostChainNames } from "../../components/netbox/render/host";
import { HOST_IP, LiveRun } from "./fixtures/live-run";

const PUBLIC_NAME = "netbox.live.home.arpa";
const RELAY_PORT = 8888;
const MIRROR_PORT = 8099;
const VERSION = "v4.4.7";
const RELEASE_URL = `http://${HOST_IP}:${MIRROR_PORT}/netbox/{version}.tar.gz`;
const RELEASE = RELEASE_URL.replace("{version}", VERSION);
const VMID = { app: 100, db: 101, cache: 102, proxy: 103 };
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
/** What the app-install step says when the release is not at its source. */
const NOT_THERE = new RegExp(`cannot download the NetBox release from ${esc(RELEASE)} \\(netbox\\.releaseUrl`);

interface CtInfo {
    vmid: number;
    hostname: string;
    addresses: Record<string, string>;
}

/** The steps of the app that need NetBox's code: none of them may exist after the failed download. */
const AFTER_INSTALL = ["app-install", "app-migrate", "app-collectstatic", "app-superuser", "app-services", "app-nginx"];
/** Steps that do not need NetBox's code, all of which must have run. */
const BEFORE_OR_BESIDE = [
    "host-network",
    "db-configure",
    "db-init",
    "cache-configure",
    "app-prepare",
    "app-configuration",
    "app-secrets",
    "proxy-nginx",
];

describe("live netbox: the data tier and the proxy really work; the release download stops the deploy", function () {
    this.timeout(30 * 60_000);
    const run = new LiveRun({
        what: "live netbox test",
        bed: "phlnetbox",
        envName: "PHL_TESTBED_NETBOX",
        linkCidr: "10.254.13.0/30",
    });
    let mirrorLog = "";
    let containers: Record<"app" | "db" | "cache" | "proxy", CtInfo>;
    let firstFailure = "";

    const secretsOfApp = async (): Promise<{ database_password: string; redis_password: string }> =>
        JSON.parse(await run.sh(VMID.app, "cat /etc/netbox/secrets.json"));

    /** The stack's resources by their short name (`netbox-db-init` → `db-init`). */
    async function deployed(): Promise<string[]> {
        const state = await run.stack.exportStack();
        const resources = (state.deployment as { resources?: { urn: string }[] }).resources ?? [];
        return resources.map((r) => r.urn.split("::").pop() ?? "").map((n) => n.replace(/^netbox-/, ""));
    }

    before(async function () {
        await run.setUp(this);
        mirrorLog = path.join(run.workDir, "mirror.log");
        fs.writeFileSync(mirrorLog, "");
        await run.startSink(["relay", HOST_IP, String(RELAY_PORT), run.bed.rootAddr, String(run.bed.proxyPort)]);
        await run.startSink(["mirror", HOST_IP, String(MIRROR_PORT), mirrorLog]);
        const downloads = {
            ...(await run.downloads(`http://${HOST_IP}:${RELAY_PORT}`)),
            // The release mirror is on the LAN: reached directly, not through the proxy.
            noProxy: [HOST_IP],
        };
        await run.createStack({
            "proxmox-homelab:pveNode": "pve",
            "proxmox-homelab:storage": "local-zfs",
            "proxmox-homelab:templateStorage": "local",
            "proxmox-homelab:externalBridge": "vmbr0",
            "proxmox-homelab:downloads": downloads,
            // Pulumi.dev.yaml's netbox section, with the release from the bed's mirror and no node_exporter.
            "proxmox-homelab:netbox": {
                enabled: true,
                publicName: PUBLIC_NAME,
                app: { cores: 1, memory: 1024, swap: 256, diskGiB: 8 },
                db: { cores: 1, memory: 512, swap: 128, diskGiB: 4 },
                cache: { cores: 1, memory: 256, swap: 0, diskGiB: 2 },
                proxy: { cores: 1, memory: 128, swap: 0, diskGiB: 2 },
                timeZone: "UTC",
                releaseUrl: RELEASE_URL,
                nodeExporter: false,
            },
        });
    });

    after(() => run.tearDown());

    it("deploys all that does not need NetBox's code, then stops at the release download naming the URL", async () => {
        const t0 = Date.now();
        try {
            // Everything that does not depend on the failing step is carried through, as a user would ask for.
            await run.stack.up({ continueOnError: true, onOutput: (o) => run.output.push(o) });
        } catch (err) {
            firstFailure = String(err);
        }
        run.timings.push(["pulumi up (fresh, stops at the release)", Date.now() - t0]);
        assert.match(
            firstFailure,
            new RegExp(`netbox-app-install[\\s\\S]*${NOT_THERE.source}`),
            run.output.join("").split("\n").slice(-60).join("\n"),
        );
        assert.match(firstFailure, /The requested URL returned error: 404/);
        // The mirror was really asked, once, by the app container from its backend address (no proxy, no NAT).
        const outputs = await run.stack.outputs();
        containers = outputs.netboxContainers.value as typeof containers;
        assert.equal(
            fs.readFileSync(mirrorLog, "utf8"),
            `GET /netbox/${VERSION}.tar.gz ${containers.app.addresses.eth0}\n`,
        );
        // Nothing that needs the code ran; everything else did.
        const names = await deployed();
        for (const step of AFTER_INSTALL) assert.ok(!names.includes(step), `${step} must not exist`);
        for (const step of BEFORE_OR_BESIDE) assert.ok(names.includes(step), `${step} must exist`);
        for (const [role, vmid] of Object.entries(VMID)) {
            assert.equal(await run.backend.isRunning(vmid), true, `${role} runs`);
        }
        // The app's files are in place with their modes; NetBox is not: no release linked, no units started.
        assert.equal(
            await run.sh(VMID.app, "stat -c '%a %U:%G %n' /etc/netbox/configuration.py /etc/netbox/secrets.json"),
            "640 root:netbox /etc/netbox/configuration.py\n640 root:netbox /etc/netbox/secrets.json\n",
        );
        await run.sh(VMID.app, "test ! -e /opt/netbox && ! systemctl is-active --quiet netbox.service");
        // The packages came through the relay and the bed's proxy, from allowlisted hosts only.
        const allowed = new Set((await run.bed.allowlist()).map((h) => h.host));
        const connections = await run.bed.proxyConnections();
        assert.ok(connections.length > 0, "the containers installed through the proxy");
        for (const host of connections) assert.ok(allowed.has(host), `proxy connected only to allowlisted ${host}`);
        assert.match(await run.sh(VMID.db, "dpkg-query -W -f '${Status}' postgresql"), /^install ok installed$/);
        assert.match(await run.sh(VMID.cache, "dpkg-query -W -f '${Status}' valkey-server"), /^install ok installed$/);
    });

    it("PostgreSQL: the app's generated password works, by SCRAM-SHA-256 only", async () => {
        const db = containers.db.addresses.eth0;
        // What the server holds: SCRAM verifiers, and the app's address alone for NetBox's role.
        assert.equal(
            (await run.sh(VMID.db, "runuser -u postgres -- psql -XAtc 'SHOW password_encryption'")).trim(),
            "scram-sha-256",
        );
        assert.match(
            await run.sh(
                VMID.db,
                "runuser -u postgres -- psql -XAtc \"SELECT rolpassword FROM pg_authid WHERE rolname = 'netbox'\"",
            ),
            /^SCRAM-SHA-256\$4096:/,
        );
        assert.match(
            await run.sh(
                VMID.db,
                "runuser -u postgres -- psql -XAtc 'SELECT type, database, user_name, address, auth_method FROM pg_hba_file_rules WHERE type = $$host$$'",
            ),
            new RegExp(
                `^host\\|\\{netbox\\}\\|\\{netbox\\}\\|${containers.app.addresses.eth0.replace(/\./g, "\\.")}\\|scram-sha-256$`,
                "m",
            ),
        );
        // A client for the test, installed in the app container as any package is (through the proxy).
        await run.sh(VMID.app, "apt-get install -y -q --no-install-recommends postgresql-client >/dev/null", {
            timeoutMs: 600_000,
        });
        const { database_password: password } = await secretsOfApp();
        // The password travels on stdin into PGPASSWORD, never on a command line.
        const psql = (vmid: number, query: string) =>
            run.backend.exec(
                vmid,
                [
                    "/bin/sh",
                    "-c",
                    "read -r PGPASSWORD; export PGPASSWORD; psql -XAt " +
                        `"host=${db} dbname=netbox user=netbox connect_timeout=5" -c "${query}"`,
                ],
                { stdin: Buffer.from(`${password}\n`), timeoutMs: 30_000 },
            );
        const ok = await psql(VMID.app, "SELECT current_user || ' ' || current_database()");
        assert.equal(ok.code, 0, ok.stderr.toString());
        assert.equal(ok.stdout.toString(), "netbox netbox\n");
        // A wrong password is refused by the server.
        const wrong = await run.backend.exec(
            VMID.app,
            [
                "/bin/sh",
                "-c",
                `PGPASSWORD=wrong-password psql -XAt "host=${db} dbname=netbox user=netbox connect_timeout=5" -c 'SELECT 1'`,
            ],
            { timeoutMs: 30_000 },
        );
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr.toString(), /password authentication failed for user "netbox"/);
    });

    it("PostgreSQL refuses the right password from anywhere but the app container", async () => {
        const db = containers.db.addresses.eth0;
        const { database_password: password } = await secretsOfApp();
        const psqlFrom = (vmid: number) =>
            run.backend.exec(
                vmid,
                [
                    "/bin/sh",
                    "-c",
                    `read -r PGPASSWORD; export PGPASSWORD; psql -XAt "host=${db} dbname=netbox user=netbox connect_timeout=5" -c 'SELECT 1'`,
                ],
                { stdin: Buffer.from(`${password}\n`), timeoutMs: 60_000 },
            );
        // Another backend container reaches the server, which has no pg_hba entry for it.
        await run.sh(VMID.cache, "apt-get install -y -q --no-install-recommends postgresql-client >/dev/null", {
            timeoutMs: 600_000,
        });
        const fromCache = await psqlFrom(VMID.cache);
        assert.notEqual(fromCache.code, 0);
        assert.match(
            fromCache.stderr.toString(),
            new RegExp(
                `no pg_hba\\.conf entry for host "${containers.cache.addresses.eth0.replace(/\./g, "\\.")}", user "netbox", database "netbox"`,
            ),
        );
        // The proxy (DMZ) is given a route to the backend through the host, as an intruder would add one: the host's
        // FORWARD rules drop it, and count it.
        await run.sh(VMID.proxy, "apt-get install -y -q --no-install-recommends postgresql-client >/dev/null", {
            timeoutMs: 600_000,
        });
        await run.sh(VMID.proxy, "ip route replace 10.100.0.0/24 via 10.100.1.1 dev eth1");
        const dropped = () =>
            Number(
                run
                    .inHostNs(["iptables", "-nvx", "-L", hostChainNames("netbox").forward])
                    .split("\n")
                    .find((l) => /\bDROP\s+\S+\s+\S+\s+\*\s+vmbr1\s/.test(l))
                    ?.trim()
                    .split(/\s+/)[0] ?? NaN,
            );
        const before = dropped();
        const fromProxy = await psqlFrom(VMID.proxy);
        assert.notEqual(fromProxy.code, 0);
        assert.match(fromProxy.stderr.toString(), /timeout expired|Connection timed out/);
        assert.ok(dropped() > before, `the host's DROP toward the backend counted it (${before} → ${dropped()})`);
        await run.sh(VMID.proxy, "ip route del 10.100.0.0/24");
    });

    it("Valkey refuses commands without the generated password and accepts it", async () => {
        const cache = containers.cache.addresses.eth0;
        const { redis_password: password } = await secretsOfApp();
        // RESP over a plain socket from the app container (python3 is one of its packages); the password on stdin.
        const resp = async (commands: string[][]): Promise<string> => {
            const script = [
                "import socket, sys",
                "pw = sys.stdin.readline().rstrip('\\n')",
                "cmds = [[pw if a == '@PW' else a for a in c] for c in " + JSON.stringify(commands) + "]",
                "enc = lambda c: ('*%d\\r\\n' % len(c) + ''.join('$%d\\r\\n%s\\r\\n' % (len(a.encode()), a) for a in c)).encode()",
                `s = socket.create_connection(('${cache}', 6379), timeout=5)`,
                "out = b''",
                "for c in cmds:",
                "    s.sendall(enc(c))",
                "    out += s.recv(4096)",
                "sys.stdout.write(out.decode())",
            ].join("\n");
            const r = await run.backend.exec(VMID.app, ["python3", "-c", script], {
                stdin: Buffer.from(`${password}\n`),
                timeoutMs: 30_000,
            });
            assert.equal(r.code, 0, r.stderr.toString());
            return r.stdout.toString();
        };
        assert.match(await resp([["PING"]]), /^-NOAUTH Authentication required\.\r\n$/);
        assert.match(await resp([["SET", "k", "v"]]), /^-NOAUTH /);
        assert.match(await resp([["AUTH", "wrong-password"]]), /^-WRONGPASS /);
        assert.equal(await resp([["AUTH", "@PW"], ["PING"]]), "+OK\r\n+PONG\r\n");
        // It listens on the backend address only, not on every interface.
        assert.match(await run.sh(VMID.cache, "ss -Hltn"), new RegExp(`${cache.replace(/\./g, "\\.")}:6379\\b`));
        assert.doesNotMatch(await run.sh(VMID.cache, "ss -Hltn"), /(0\.0\.0\.0|\*|\[::\]):6379\b/);
    });

    it("the host forwards the backend out of vmbr0 only, masqueraded to its own LAN address", async () => {
        const chains = hostChainNames("netbox");
        assert.equal(run.inHostNs(["cat", "/proc/sys/net/ipv4/ip_forward"]).trim(), "1");
        // The stack's chains are hooked in first, and hold the document's NAT rules.
        const forward = run.inHostNs(["iptables", "-S", "FORWARD"]).split("\n");
        assert.equal(
            forward.find((l) => l.startsWith("-A FORWARD")),
            `-A FORWARD -j ${chains.forward}`,
        );
        const nat = run.inHostNs(["iptables", "-t", "nat", "-S", chains.nat]);
        assert.match(nat, new RegExp(`^-A ${chains.nat} -s 10\\.100\\.0\\.0/24 -o vmbr0 -j MASQUERADE$`, "m"));
        assert.match(nat, new RegExp(`^-A ${chains.nat} -s 10\\.100\\.1\\.0/24 -o vmbr0 -j MASQUERADE$`, "m"));
        // The db container asks the proxy's LAN address: forwarded out of vmbr0, and nginx sees the host's address.
        const proxy = containers.proxy.addresses.eth0;
        const r = await run.backend.exec(
            VMID.db,
            [
                "bash",
                "-c",
                `exec 3<>/dev/tcp/${proxy}/80 && printf 'GET /from-db HTTP/1.0\\r\\nHost: ${PUBLIC_NAME}\\r\\n\\r\\n' >&3 && cat <&3`,
            ],
            { timeoutMs: 30_000 },
        );
        assert.equal(r.code, 0, r.stderr.toString());
        assert.match(r.stdout.toString(), /^HTTP\/1\.1 301 /);
        const log = await run.sh(VMID.proxy, "grep ' \"GET /from-db ' /var/log/nginx/access.log");
        assert.match(log, /^192\.168\.1\.10 - /, "masqueraded to the PVE host's LAN address");
    });

    it("nginx redirects 80 to 443 and serves TLS that verifies against the stack's CA for the configured name", async () => {
        const proxy = containers.proxy.addresses.eth0;
        assert.match(proxy, /^192\.168\.1\.1\d\d$/, "the proxy's LAN address is a lease of the bed's LAN");
        const caFile = path.join(run.workDir, "netbox-ca.pem");
        fs.writeFileSync(caFile, String((await run.stack.outputs()).netboxCaCertPem.value));
        const curl = (args: string[]) => {
            try {
                return { code: 0, out: run.inHostNs(["curl", "-sS", "-m", "10", "--noproxy", "*", ...args]) };
            } catch (e) {
                const err = e as { status: number; stderr: string };
                return { code: err.status, out: String(err.stderr) };
            }
        };
        // 80 → 443, for the configured name.
        const redirect = curl([
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            "--resolve",
            `${PUBLIC_NAME}:80:${proxy}`,
            `http://${PUBLIC_NAME}/some/path?q=1`,
        ]);
        assert.equal(redirect.out, `301 https://${PUBLIC_NAME}/some/path?q=1`);
        // TLS verifies against the stack's CA; NetBox is not there, so nginx answers 502 itself.
        const tls = curl([
            "--cacert",
            caFile,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{ssl_verify_result}",
            "--resolve",
            `${PUBLIC_NAME}:443:${proxy}`,
            `https://${PUBLIC_NAME}/`,
        ]);
        assert.equal(tls.code, 0, tls.out);
        assert.equal(tls.out, "502 0");
        // Not for another name, and not against the system's trust store.
        const otherName = curl([
            "--cacert",
            caFile,
            "--resolve",
            `other.live.home.arpa:443:${proxy}`,
            "https://other.live.home.arpa/",
        ]);
        assert.equal(otherName.code, 60, otherName.out);
        assert.match(otherName.out, /no alternative certificate subject name matches|does not match target host name/);
        const systemTrust = curl(["--resolve", `${PUBLIC_NAME}:443:${proxy}`, `https://${PUBLIC_NAME}/`]);
        assert.equal(systemTrust.code, 60, systemTrust.out);
        // The chain nginx sends: the server certificate for the name, issued by the stack's CA.
        const chain = run.inHostNs([
            "sh",
            "-c",
            `openssl s_client -connect ${proxy}:443 -servername ${PUBLIC_NAME} -CAfile ${caFile} -verify_return_error </dev/null 2>&1`,
        ]);
        assert.match(chain, /Verify return code: 0 \(ok\)/);
        assert.match(chain, new RegExp(`^subject=.*\\bCN ?= ?${esc(PUBLIC_NAME)}$`, "m"));
    });

    it("a second up stops at the same step and changes nothing else", async () => {
        const steps: string[] = [];
        let failure = "";
        const t0 = Date.now();
        try {
            await run.stack.up({
                continueOnError: true,
                onOutput: (o) => run.output.push(o),
                onEvent: (e) => {
                    const m = e.resourcePreEvent?.metadata;
                    if (!m || m.op === "same" || m.op === "read" || m.type.startsWith("pulumi:providers:")) return;
                    steps.push(`${m.op} ${m.urn.split("::").pop()}`);
                },
            });
        } catch (err) {
            failure = String(err);
        }
        run.timings.push(["pulumi up (again, stops at the release)", Date.now() - t0]);
        assert.match(failure, NOT_THERE);
        assert.deepEqual(steps, ["create netbox-app-install"]);
        assert.equal(fs.readFileSync(mirrorLog, "utf8").split("\n").filter(Boolean).length, 2, "asked once more");
    });

    it("keeps the bed's fence: nothing was sent toward the outside", async () => {
        assert.deepEqual(await run.bed.outsideBound(), { pre_outside: 0, fwd_outside: 0, out_outside: 0, fwd_ipv6: 0 });
        const allowed = new Set((await run.bed.allowlist()).map((h) => h.host));
        for (const host of await run.bed.proxyConnections()) assert.ok(allowed.has(host), host);
    });

    it("destroy removes every container, both bridges and the host's rules", async () => {
        const t0 = Date.now();
        const r = await run.stack.destroy({ onOutput: (o) => run.output.push(o) });
        run.timings.push(["pulumi destroy", Date.now() - t0]);
        assert.equal(r.summary.result, "succeeded");
        assert.deepEqual(await run.bed.containers(), []);
        assert.deepEqual(await run.bed.currentBridges(), ["vmbr0"]);
        assert.deepEqual([...(run.sim?.state.containers.keys() ?? [])], []);
        const chains = hostChainNames("netbox");
        assert.doesNotMatch(run.inHostNs(["iptables", "-S"]), new RegExp(chains.forward));
        assert.doesNotMatch(run.inHostNs(["iptables", "-t", "nat", "-S"]), new RegExp(chains.nat));
    });
});
