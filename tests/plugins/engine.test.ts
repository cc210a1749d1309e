// The stand-ins under the real engine (CLI v3.248.0 from npm run engine:install): an inline Automation API program
// with the real @pulumi/random and @pulumi/tls SDKs, the plugins found on PATH. Four engine runs (~5 s each):
// up, up with no changes, preview of an update and a replacement, destroy.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import {
    ENGINE_BIN,
    ENGINE_ROOT,
    PLUGINS_BIN,
    SECRET_SIG,
    SECRET_SIG_KEY,
    certFacts,
    hasCommand,
    openssl,
    privateTempDir,
    writePrivate,
} from "./harness";

interface Params {
    passwordLength: number;
    leafEarlyRenewalHours?: number;
}

const DNS_NAMES = ["pve.lab.internal", "pve"];
const IPS = ["192.168.10.2", "fd00:10::2"];
const LEAF_HOURS = 24 * 30;

function program(params: Params) {
    return async () => {
        const password = new random.RandomPassword("admin-password", {
            length: params.passwordLength,
            minLower: 2,
            minUpper: 2,
            minNumeric: 2,
            minSpecial: 2,
            overrideSpecial: "!#%+-_=",
        });
        const caKey = new tls.PrivateKey("ca-key", { algorithm: "ECDSA", ecdsaCurve: "P384" });
        const ca = new tls.SelfSignedCert("ca", {
            privateKeyPem: caKey.privateKeyPem,
            isCaCertificate: true,
            validityPeriodHours: 24 * 365,
            allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            subject: { commonName: "Homelab CA", organization: "Homelab" },
        });
        const leafKey = new tls.PrivateKey("leaf-key", { algorithm: "RSA", rsaBits: 2048 });
        const csr = new tls.CertRequest("leaf-csr", {
            privateKeyPem: leafKey.privateKeyPem,
            subject: { commonName: DNS_NAMES[0], organization: "Homelab" },
            dnsNames: DNS_NAMES,
            ipAddresses: IPS,
        });
        const leaf = new tls.LocallySignedCert("leaf", {
            certRequestPem: csr.certRequestPem,
            caPrivateKeyPem: caKey.privateKeyPem,
            caCertPem: ca.certPem,
            validityPeriodHours: LEAF_HOURS,
            earlyRenewalHours: params.leafEarlyRenewalHours,
            allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        });
        const sshKey = new tls.PrivateKey("ssh-key", { algorithm: "ED25519" });
        return {
            password: password.result,
            bcryptHash: password.bcryptHash,
            caPem: ca.certPem,
            caSerial: ca.id,
            leafPem: leaf.certPem,
            leafKeyPem: leafKey.privateKeyPem,
            leafStart: leaf.validityStartTime,
            leafEnd: leaf.validityEndTime,
            sshPublicKey: sshKey.publicKeyOpenssh,
        };
    };
}

describe("stand-in plugins under the real engine", function () {
    this.timeout(180_000);
    const engineBinary = path.join(ENGINE_BIN, "pulumi");
    let stack: Stack;
    let state: ReturnType<typeof privateTempDir>;
    let files: ReturnType<typeof privateTempDir>;
    const outputs: Record<string, unknown> = {};
    const secretOutputs = new Set<string>();

    before(async function () {
        if (!fs.existsSync(engineBinary)) {
            // `npm run engine:install` builds the CLI; CI always runs it first, so a missing engine there is a failure.
            if (process.env.CI) throw new Error(`no Pulumi CLI at ${engineBinary}: run npm run engine:install`);
            this.skip();
        }
        state = privateTempDir("plugins-engine-state-");
        files = privateTempDir("plugins-engine-files-");
        const pulumiCommand = await PulumiCommand.get({ root: ENGINE_ROOT, skipVersionCheck: true });
        stack = await LocalWorkspace.createOrSelectStack(
            { projectName: "plugins-engine-test", stackName: "test", program: program({ passwordLength: 24 }) },
            {
                pulumiCommand,
                workDir: state.dir,
                envVars: {
                    PATH: `${PLUGINS_BIN}:${ENGINE_BIN}:${process.env.PATH ?? ""}`,
                    PULUMI_BACKEND_URL: `file://${state.dir}`,
                    PULUMI_CONFIG_PASSPHRASE: "test",
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                    PULUMI_HOME: path.join(state.dir, ".pulumi-home"),
                },
            },
        );
        const up = await stack.up();
        assert.equal(up.summary.result, "succeeded");
        for (const [k, v] of Object.entries(up.outputs)) {
            outputs[k] = v.value;
            if (v.secret) secretOutputs.add(k);
        }
    });

    after(async () => {
        try {
            if (stack) {
                try {
                    const destroy = await stack.destroy();
                    assert.equal(destroy.summary.result, "succeeded");
                } finally {
                    await stack.workspace.removeStack("test").catch(() => undefined);
                }
            }
        } finally {
            files?.cleanup();
            state?.cleanup();
        }
    });

    it("keeps the password and private keys secret in the outputs and in the exported state", async () => {
        assert.ok(secretOutputs.has("password"));
        assert.ok(secretOutputs.has("bcryptHash"));
        assert.ok(secretOutputs.has("leafKeyPem"));
        assert.ok(!secretOutputs.has("caPem"), "a certificate is not secret");

        // The backend's checkpoint file holds ciphertext only.
        const checkpoints = fs
            .readdirSync(state.dir, { recursive: true, encoding: "utf8" })
            .filter((f) => f.endsWith(".json") && f.includes(path.join("stacks", "plugins-engine-test")));
        assert.ok(checkpoints.length > 0, "no checkpoint file in the backend");
        for (const file of checkpoints) {
            const text = fs.readFileSync(path.join(state.dir, file), "utf8");
            assert.ok(!text.includes(String(outputs.password)), `the password appears in plaintext in ${file}`);
            assert.ok(!text.includes("PRIVATE KEY-----"), `a private key appears in plaintext in ${file}`);
        }
        // Automation's export decrypts (--show-secrets) but keeps the secret markers.
        const exported = await stack.exportStack();
        type R = { type: string; outputs?: Record<string, unknown> };
        const resources = (exported.deployment as { resources: R[] }).resources;
        const isSecret = (v: unknown) =>
            typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
        const pw = resources.find((r) => r.type === "random:index/randomPassword:RandomPassword");
        assert.ok(pw?.outputs && isSecret(pw.outputs.result) && isSecret(pw.outputs.bcryptHash));
        for (const key of resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey")) {
            for (const p of ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"]) {
                assert.ok(isSecret(key.outputs?.[p]), `${p} is not secret in the state`);
            }
            assert.ok(!isSecret(key.outputs?.publicKeyPem));
        }
    });

    it("generates a password obeying the requested classes", () => {
        const pw = String(outputs.password);
        assert.equal(pw.length, 24);
        assert.ok(/^[A-Za-z0-9!#%+\-_=]+$/.test(pw), "the password has characters outside the classes");
        assert.ok((pw.match(/[a-z]/g) ?? []).length >= 2);
        assert.ok((pw.match(/[A-Z]/g) ?? []).length >= 2);
        assert.ok((pw.match(/[0-9]/g) ?? []).length >= 2);
        assert.ok((pw.match(/[!#%+\-_=]/g) ?? []).length >= 2);
        assert.ok(/^\$2a\$10\$[./A-Za-z0-9]{53}$/.test(String(outputs.bcryptHash)), "bcryptHash is not $2a$10$");
    });

    it("issues a CA and a leaf that openssl verifies, with the requested names, usages and validity", function () {
        if (!hasCommand("openssl")) this.skip();
        const caFile = writePrivate(files.dir, "ca.pem", String(outputs.caPem));
        const leafFile = writePrivate(files.dir, "leaf.pem", String(outputs.leafPem));
        const keyFile = writePrivate(files.dir, "leaf.key", String(outputs.leafKeyPem));

        assert.match(openssl(["verify", "-CAfile", caFile, "-purpose", "sslserver", leafFile]), /leaf\.pem: OK/);
        const ca = certFacts(caFile);
        assert.match(ca.text, /Basic Constraints: critical\s+CA:TRUE/);
        assert.match(ca.text, /Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
        assert.equal(ca.subject, "CN=Homelab CA,O=Homelab");
        assert.equal(
            BigInt(`0x${/Serial Number:\s*\n?\s*([0-9a-f:]+)/.exec(ca.text)?.[1].replace(/:/g, "")}`).toString(),
            outputs.caSerial,
        );

        const leaf = certFacts(leafFile);
        assert.equal(leaf.pubkey, openssl(["pkey", "-in", keyFile, "-pubout"]), "the leaf certifies the leaf key");
        assert.match(leaf.text, /Basic Constraints: critical\s+CA:FALSE/);
        assert.match(leaf.text, /Extended Key Usage:\s+TLS Web Server Authentication/);
        assert.match(
            leaf.text,
            /DNS:pve\.lab\.internal, DNS:pve, IP Address:192\.168\.10\.2, IP Address:FD00:10:0:0:0:0:0:2/,
        );
        assert.equal(leaf.subject, "CN=pve.lab.internal,O=Homelab");
        const hours = (leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 3600_000;
        assert.equal(hours, LEAF_HOURS);
        assert.equal(Math.floor(Date.parse(String(outputs.leafStart)) / 1000) * 1000, leaf.notBefore.getTime());
        assert.equal(Math.floor(Date.parse(String(outputs.leafEnd)) / 1000) * 1000, leaf.notAfter.getTime());
        assert.match(String(outputs.sshPublicKey), /^ssh-ed25519 [A-Za-z0-9+/]+={0,2}\n$/);
    });

    it("plans nothing when nothing changed", async () => {
        const again = await stack.up();
        const changes = again.summary.resourceChanges ?? {};
        assert.deepEqual(Object.keys(changes), ["same"], JSON.stringify(changes));
    });

    it("plans an in-place update for earlyRenewalHours and a replacement for a new password length", async () => {
        stack.workspace.program = program({ passwordLength: 25, leafEarlyRenewalHours: 24 });
        const preview = await stack.preview();
        assert.equal(preview.changeSummary.update, 1, JSON.stringify(preview.changeSummary));
        assert.equal(preview.changeSummary.replace, 1, JSON.stringify(preview.changeSummary));
        stack.workspace.program = program({ passwordLength: 24 });
    });
});
