import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { generateKeyPair } from "./fixtures/keys";
import {
    HostKeyMismatchError,
    SshConfigError,
    SshPool,
    fingerprintOfKey,
    hostKeyPolicy,
    isSshErrorCode,
    knownHostsFieldMatches,
    knownHostsName,
    normalizeFingerprint,
    parseFingerprintSetting,
} from "../../providers/ssh";
import { startFixtureServer, targetOf, type FixtureServer } from "./fixtures/server";

function publicLine(privateKey: string): { line: string; blob: Buffer } {
    const parsed = utils.parseKey(privateKey);
    if (parsed instanceof Error) throw parsed;
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    const blob = key.getPublicSSH();
    return { line: `${key.type} ${blob.toString("base64")}`, blob };
}

describe("host key fingerprints", () => {
    let dir: string;
    before(() => {
        dir = mkdtempSync(join(tmpdir(), "hostkey-test-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    for (const [type, opts] of [
        ["ed25519", {}],
        ["ecdsa", { bits: 256 }],
        ["rsa", { bits: 1024 }],
    ] as const) {
        it(`matches ssh-keygen -lf for an ${type} key`, () => {
            const pair = generateKeyPair(type, opts);
            const { line, blob } = publicLine(pair.private);
            const file = join(dir, `${type}.pub`);
            writeFileSync(file, `${line} test\n`);
            const keygen = execFileSync("ssh-keygen", ["-lf", file]).toString().split(" ")[1];
            assert.equal(fingerprintOfKey(blob), keygen);
        });
    }

    it("normalises the accepted spellings and refuses MD5 and garbage", () => {
        const fp = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
        assert.equal(normalizeFingerprint(fp), fp);
        assert.equal(normalizeFingerprint(" uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s "), fp);
        assert.equal(normalizeFingerprint("uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s="), fp);
        assert.throws(() => normalizeFingerprint("MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"), /MD5/);
        assert.throws(() => normalizeFingerprint("16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"), /MD5/);
        assert.throws(() => normalizeFingerprint("SHA256:short"), SshConfigError);
    });

    it("reads whole ssh-keygen -lf lines and takes the key type from them", () => {
        const fp = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
        assert.deepEqual(parseFingerprintSetting(`256 ${fp} root@pve (ED25519)`), {
            fingerprints: [fp],
            keyTypes: ["ssh-ed25519"],
        });
        assert.deepEqual(parseFingerprintSetting(`${fp}, ${fp.slice(7)}`), { fingerprints: [fp, fp] });
        assert.throws(() => parseFingerprintSetting("# only a comment"), /no fingerprint/);
    });
});

describe("known_hosts matching", () => {
    it("names non-22 ports as [host]:port", () => {
        assert.equal(knownHostsName("pve", 22), "pve");
        assert.equal(knownHostsName("10.0.0.2", 2222), "[10.0.0.2]:2222");
    });

    it("matches lists, wildcards and negations case-insensitively", () => {
        assert.ok(knownHostsFieldMatches("pve,10.0.0.2", "10.0.0.2"));
        assert.ok(knownHostsFieldMatches("PVE.lan", "pve.lan"));
        assert.ok(knownHostsFieldMatches("*.lan", "pve.lan"));
        assert.ok(knownHostsFieldMatches("10.0.0.?", "10.0.0.2"));
        assert.ok(!knownHostsFieldMatches("*.lan,!pve.lan", "pve.lan"));
        assert.ok(!knownHostsFieldMatches("pve", "pve.lan"));
        assert.ok(!knownHostsFieldMatches("pve", "[pve]:2222"));
        assert.ok(knownHostsFieldMatches("[pve]:2222", "[pve]:2222"));
    });

    it("matches hashed entries written by ssh-keygen -H", () => {
        const dir = mkdtempSync(join(tmpdir(), "known-hosts-"));
        try {
            const { line } = publicLine(generateKeyPair("ed25519").private);
            const file = join(dir, "known_hosts");
            writeFileSync(file, `[127.0.0.1]:2222 ${line}\n`);
            execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
            const hashed = readFileSync(file, "utf8").trim();
            assert.match(hashed, /^\|1\|/);
            const field = hashed.split(" ")[0];
            assert.ok(knownHostsFieldMatches(field, "[127.0.0.1]:2222"));
            assert.ok(!knownHostsFieldMatches(field, "[127.0.0.1]:2223"));
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("builds a policy only from the lines for this host, honouring @revoked", () => {
        const a = publicLine(generateKeyPair("ed25519").private);
        const b = publicLine(generateKeyPair("ed25519").private);
        const text = [`# comment`, `other ${b.line}`, `pve ${a.line} root@pve`, `@revoked pve ${b.line}`].join("\n");
        const policy = hostKeyPolicy({ knownHosts: text }, "pve", 22);
        assert.deepEqual(policy.accepted, [fingerprintOfKey(a.blob)]);
        assert.deepEqual(policy.revoked, [fingerprintOfKey(b.blob)]);
        assert.deepEqual(policy.algorithms, ["ssh-ed25519"]);
        assert.throws(() => hostKeyPolicy({ knownHosts: `other ${a.line}` }, "pve", 22), /no usable key for pve/);
        assert.throws(() => hostKeyPolicy({ knownHosts: `pve ssh-ed25519 bm90IGEga2V5` }, "pve", 22), /not a valid/);
    });

    it("refuses to build a policy when nothing is pinned, naming the config keys", () => {
        assert.throws(
            () => hostKeyPolicy({}, "pve", 22),
            (err: Error) =>
                err instanceof SshConfigError &&
                err.message.includes("proxmox-homelab:sshHostKeyFingerprint") &&
                err.message.includes("PVE_SSH_HOST_KEY_FINGERPRINT") &&
                err.message.includes("proxmox-homelab:sshKnownHosts") &&
                err.message.includes("never trusted on first use"),
        );
    });
});

describe("pinned connections (fixture server)", () => {
    let server: FixtureServer;
    let rsaHostKey: string;
    let pool: SshPool;

    before(async () => {
        rsaHostKey = generateKeyPair("rsa", { bits: 2048 }).private;
        server = await startFixtureServer({ extraHostKeys: [rsaHostKey] });
    });
    after(async () => server.stop());
    beforeEach(() => {
        pool = new SshPool();
        server.execLog.length = 0;
    });
    afterEach(async () => pool.closeAll());

    it("connects when the fingerprint matches", async () => {
        const r = await pool.exec(targetOf(server), "echo pinned");
        assert.equal(r.stdout.toString(), "pinned\n");
    });

    it("connects with a known_hosts line, plain or hashed", async () => {
        const name = knownHostsName(server.host, server.port);
        const line = `${name} ${server.hostPublicKey}`;
        const t = targetOf(server, { hostKeyFingerprint: undefined, knownHosts: line });
        assert.equal((await pool.exec(t, "echo ok")).code, 0);

        const dir = mkdtempSync(join(tmpdir(), "known-hosts-"));
        try {
            writeFileSync(join(dir, "kh"), `${line}\n`);
            execFileSync("ssh-keygen", ["-H", "-f", join(dir, "kh")], { stdio: "ignore" });
            const hashed = readFileSync(join(dir, "kh"), "utf8");
            const other = new SshPool();
            try {
                const r = await other.exec(
                    targetOf(server, { hostKeyFingerprint: undefined, knownHosts: hashed }),
                    "echo ok",
                );
                assert.equal(r.code, 0);
            } finally {
                await other.closeAll();
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses a different key, naming both fingerprints and the host, before authenticating", async () => {
        const wrong = fingerprintOfKey(publicLine(generateKeyPair("ed25519").private).blob);
        await assert.rejects(pool.exec(targetOf(server, { hostKeyFingerprint: wrong }), "echo never"), (err: Error) => {
            assert.ok(err instanceof HostKeyMismatchError);
            assert.ok(isSshErrorCode(err, "SSH_HOST_KEY_MISMATCH"));
            assert.ok(err.message.includes(server.hostKeyFingerprint), err.message);
            assert.ok(err.message.includes(wrong), err.message);
            assert.ok(err.message.includes(`root@127.0.0.1:${server.port}`), err.message);
            assert.equal(err.seen, server.hostKeyFingerprint);
            assert.deepEqual(err.expected, [wrong]);
            return true;
        });
        assert.deepEqual(server.execLog, []);
    });

    it("refuses to connect at all when no pin is configured", async () => {
        const before = server.connections();
        await assert.rejects(
            pool.exec(targetOf(server, { hostKeyFingerprint: undefined }), "echo never"),
            (err: Error) => err instanceof SshConfigError && /sshHostKeyFingerprint/.test(err.message),
        );
        assert.equal(server.connections(), before);
        assert.equal(pool.stats().connectionsOpened, 0);
    });

    it("makes the server present the pinned key type when known_hosts names it", async () => {
        const rsa = publicLine(rsaHostKey);
        const name = knownHostsName(server.host, server.port);
        const t = targetOf(server, { hostKeyFingerprint: undefined, knownHosts: `${name} ${rsa.line}` });
        assert.equal((await pool.exec(t, "echo rsa")).code, 0);
    });

    it("does the same for a whole ssh-keygen -lf line, and explains a bare fingerprint of another key type", async () => {
        const rsaFp = fingerprintOfKey(publicLine(rsaHostKey).blob);
        const t = targetOf(server, { hostKeyFingerprint: `3072 ${rsaFp} root@pve (RSA)` });
        assert.equal((await pool.exec(t, "echo rsa")).code, 0);
        // Without a type, the negotiation picks Ed25519 (as OpenSSH's client does); the error says which key came.
        await assert.rejects(
            pool.exec(targetOf(server, { hostKeyFingerprint: rsaFp }), "echo never"),
            /presented ssh-ed25519 key .*ssh_host_ed25519_key\.pub/,
        );
    });
});
