// Behaviour of the tls stand-in, in-process, checked with openssl and ssh-keygen (independent of the stand-in's
// own DER code): key formats, certificates and requests, chains, validation, renewal and update semantics.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { certFacts, hasCommand, isSecretValue, openssl, privateTempDir, writePrivate } from "./harness";
import { str, tls, tlsMaterial, type TlsMaterial } from "./fixtures";
import { urn } from "./types";

const p = tls.provider;
const KEY = urn("tls:index/privateKey:PrivateKey");
const SELF = urn("tls:index/selfSignedCert:SelfSignedCert");
const CSR = urn("tls:index/certRequest:CertRequest");
const LOCAL = urn("tls:index/locallySignedCert:LocallySignedCert");

describe("tls stand-in", function () {
    this.timeout(120_000);
    let tmp: ReturnType<typeof privateTempDir>;
    let m: TlsMaterial;
    let n = 0;
    /** Writes a PEM to the private temp dir. */
    const file = (content: string) => writePrivate(tmp.dir, `f${n++}.pem`, content);

    before(async function () {
        if (!hasCommand("openssl")) this.skip();
        tmp = privateTempDir("plugins-tls-");
        m = await tlsMaterial();
    });
    after(() => tmp?.cleanup());

    describe("PrivateKey", () => {
        const cases: Array<[object, RegExp, string]> = [
            [{ algorithm: "RSA" }, /^-----BEGIN RSA PRIVATE KEY-----\n/, "(2048 bit"],
            [{ algorithm: "RSA", rsaBits: 3072 }, /^-----BEGIN RSA PRIVATE KEY-----\n/, "(3072 bit"],
            [{ algorithm: "ECDSA" }, /^-----BEGIN EC PRIVATE KEY-----\n/, "secp224r1"],
            [{ algorithm: "ECDSA", ecdsaCurve: "P256" }, /^-----BEGIN EC PRIVATE KEY-----\n/, "prime256v1"],
            [{ algorithm: "ECDSA", ecdsaCurve: "P384" }, /^-----BEGIN EC PRIVATE KEY-----\n/, "secp384r1"],
            [{ algorithm: "ECDSA", ecdsaCurve: "P521" }, /^-----BEGIN EC PRIVATE KEY-----\n/, "secp521r1"],
            [{ algorithm: "ED25519" }, /^-----BEGIN PRIVATE KEY-----\n/, "ED25519"],
        ];
        for (const [inputs, header, expect] of cases) {
            it(`generates ${JSON.stringify(inputs)} in the provider's PEM formats`, async () => {
                const { id, outs } = await p.create(KEY, inputs);
                for (const k of ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"]) {
                    assert.ok(isSecretValue(outs[k]), `${k} is secret`);
                }
                const pem = str(outs.privateKeyPem);
                assert.ok(header.test(pem), `privateKeyPem does not start with ${header}`);
                assert.ok(str(outs.privateKeyPemPkcs8).startsWith("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8 header");
                assert.match(
                    String(outs.publicKeyPem),
                    /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/,
                );
                const keyFile = file(pem);
                const text = openssl(["pkey", "-in", keyFile, "-noout", "-text"]);
                assert.ok(text.includes(expect), `openssl does not see ${expect}`);
                assert.equal(openssl(["pkey", "-in", keyFile, "-pubout"]), outs.publicKeyPem);
                assert.equal(
                    openssl(["pkey", "-in", file(str(outs.privateKeyPemPkcs8)), "-pubout"]),
                    outs.publicKeyPem,
                );
                // id: hex SHA-1 of the DER public key.
                const spki = execFileSync("openssl", ["pkey", "-in", keyFile, "-pubout", "-outform", "DER"]);
                assert.equal(id, createHash("sha1").update(spki).digest("hex"));
                assert.equal(outs.__meta, JSON.stringify({ schema_version: "1" }));
            });
        }

        it("emits OpenSSH keys and fingerprints ssh-keygen agrees with (none for P-224)", async function () {
            if (!hasCommand("ssh-keygen")) this.skip();
            for (const inputs of [
                { algorithm: "RSA" },
                { algorithm: "ECDSA", ecdsaCurve: "P256" },
                { algorithm: "ED25519" },
            ]) {
                const { outs } = await p.create(KEY, inputs);
                const priv = writePrivate(tmp.dir, `ssh${n++}`, str(outs.privateKeyOpenssh));
                assert.ok(
                    str(outs.privateKeyOpenssh).startsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
                    "OpenSSH header",
                );
                const derived = execFileSync("ssh-keygen", ["-y", "-f", priv], { encoding: "utf8" }).trim();
                assert.equal(derived, String(outs.publicKeyOpenssh).trim());
                assert.match(String(outs.publicKeyOpenssh), /\n$/);
                const pub = writePrivate(tmp.dir, `ssh${n++}.pub`, String(outs.publicKeyOpenssh));
                const md5 = execFileSync("ssh-keygen", ["-l", "-E", "md5", "-f", pub], { encoding: "utf8" });
                const sha = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", pub], { encoding: "utf8" });
                assert.ok(md5.includes(`MD5:${String(outs.publicKeyFingerprintMd5)} `), md5);
                assert.ok(sha.includes(`${String(outs.publicKeyFingerprintSha256)} `), sha);
            }
            const p224 = await p.create(KEY, { algorithm: "ECDSA", ecdsaCurve: "P224" });
            assert.equal(str(p224.outs.privateKeyOpenssh), "");
            for (const k of ["publicKeyOpenssh", "publicKeyFingerprintMd5", "publicKeyFingerprintSha256"]) {
                assert.equal(p224.outs[k], "");
            }
        });

        it("validates algorithm and curve at check, and refuses RSA keys under 1024 bits", async () => {
            const bad = await p.check(KEY, {}, { algorithm: "rsa" });
            assert.equal(bad.failures[0]?.property, "algorithm");
            const curve = await p.check(KEY, {}, { algorithm: "ECDSA", ecdsaCurve: "P192" });
            assert.equal(curve.failures[0]?.property, "ecdsaCurve");
            await assert.rejects(p.create(KEY, { algorithm: "RSA", rsaBits: 512 }), /insecure/);
        });
    });

    describe("SelfSignedCert", () => {
        it("makes a CA: CA:TRUE, key usages, SKI, subject as issuer, validity from validityPeriodHours", async () => {
            const { id, outs } = await p.create(SELF, {
                privateKeyPem: m.caKeyPem,
                isCaCertificate: true,
                validityPeriodHours: 48,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
                subject: { commonName: "Lab CA", organization: "Homelab", country: "DE", streetAddresses: ["A 1"] },
                maxPathLength: 1,
            });
            const f = certFacts(file(String(outs.certPem)));
            assert.match(f.text, /Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
            assert.match(f.text, /Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
            assert.match(f.text, /Subject Key Identifier/);
            assert.match(f.text, /Signature Algorithm: ecdsa-with-SHA256/);
            assert.equal(f.subject, "CN=Lab CA,O=Homelab,street=A 1,C=DE");
            assert.match(f.text, /Issuer: C = DE, street = A 1, O = Homelab, CN = Lab CA/);
            assert.equal((f.notAfter.getTime() - f.notBefore.getTime()) / 3600_000, 48);
            assert.equal(
                Date.parse(String(outs.validityEndTime)) - Date.parse(String(outs.validityStartTime)),
                48 * 3600_000,
            );
            assert.match(String(outs.validityStartTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
            assert.equal(outs.keyAlgorithm, "ECDSA");
            assert.equal(outs.readyForRenewal, false);
            assert.ok(isSecretValue(outs.privateKeyPem));
            assert.match(id, /^\d+$/);
            assert.match(openssl(["verify", "-CAfile", file(String(outs.certPem)), file(String(outs.certPem))]), /OK/);
        });

        it("makes a server certificate: CA:FALSE, SANs, EKU; the SAN is critical when the subject is empty", async () => {
            const { outs } = await p.create(SELF, {
                privateKeyPem: m.leafKeyPem,
                validityPeriodHours: 1,
                allowedUses: ["key_encipherment", "digital_signature", "server_auth", "client_auth"],
                dnsNames: ["a.lab"],
                ipAddresses: ["10.1.2.3", "::1"],
                uris: ["https://a.lab/"],
            });
            const f = certFacts(file(String(outs.certPem)));
            assert.match(f.text, /Basic Constraints: critical\s+CA:FALSE/);
            assert.match(f.text, /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
            assert.match(
                f.text,
                /Subject Alternative Name: critical\s+DNS:a\.lab, IP Address:10\.1\.2\.3, IP Address:0:0:0:0:0:0:0:1, URI:https:\/\/a\.lab\//,
            );
            assert.match(f.text, /Signature Algorithm: sha256WithRSAEncryption/);
            assert.ok(!/Subject Key Identifier/.test(f.text));
        });

        it("sets SKI and AKI on request, and refuses a CA without a subject", async () => {
            const { outs } = await p.create(SELF, {
                privateKeyPem: m.caKeyPem,
                validityPeriodHours: 1,
                allowedUses: [],
                subject: { commonName: "x" },
                setSubjectKeyId: true,
                setAuthorityKeyId: true,
            });
            const text = certFacts(file(String(outs.certPem))).text;
            const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(text)?.[1];
            const aki = /Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1];
            assert.ok(ski && ski === aki, text);
            await assert.rejects(
                p.create(SELF, {
                    privateKeyPem: m.caKeyPem,
                    validityPeriodHours: 1,
                    allowedUses: [],
                    isCaCertificate: true,
                }),
                /Distinguished Name/,
            );
            await assert.rejects(
                p.create(SELF, {
                    privateKeyPem: m.caKeyPem,
                    validityPeriodHours: 1,
                    allowedUses: [],
                    maxPathLength: 2,
                }),
                /only CAs are allowed to specify MaxPathLen/,
            );
        });

        it("accepts only upstream's allowed_uses spellings and a non-negative validity", async () => {
            const camel = await p.check(
                SELF,
                {},
                { privateKeyPem: m.caKeyPem, validityPeriodHours: 1, allowedUses: ["certSigning"] },
            );
            assert.equal(camel.failures[0]?.property, "allowedUses");
            assert.ok(camel.failures[0]?.reason.includes("cert_signing"));
            const neg = await p.check(
                SELF,
                {},
                { privateKeyPem: m.caKeyPem, validityPeriodHours: -1, allowedUses: [] },
            );
            assert.equal(neg.failures[0]?.property, "validityPeriodHours");
            const ok = await p.check(
                SELF,
                {},
                { privateKeyPem: m.caKeyPem, validityPeriodHours: 0, allowedUses: ["server_auth"] },
            );
            assert.deepEqual(ok.failures, []);
            assert.ok(isSecretValue(ok.inputs.privateKeyPem), "check marks the secret input secret");
            await assert.rejects(
                p.create(SELF, {
                    privateKeyPem: m.caKeyPem,
                    validityPeriodHours: 1,
                    allowedUses: [],
                    ipAddresses: ["10.0.0.300"],
                }),
                /Invalid IP address/,
            );
        });

        it("updates earlyRenewalHours in place, and plans a replacement once the certificate is due", async () => {
            const inputs = { privateKeyPem: m.caKeyPem, validityPeriodHours: 10, allowedUses: ["server_auth"] };
            const created = await p.create(SELF, inputs);
            const d = await p.diff(created.id, SELF, created.outs, { ...inputs, earlyRenewalHours: 2 });
            assert.deepEqual(d, { changes: true, replaces: [], deleteBeforeReplace: false });
            const updated = await p.update(created.id, SELF, created.outs, { ...inputs, earlyRenewalHours: 2 });
            assert.equal(updated.outs.earlyRenewalHours, 2);
            assert.equal(updated.outs.certPem, created.outs.certPem);
            assert.ok(isSecretValue(updated.outs.privateKeyPem));
            const due = await p.diff(created.id, SELF, created.outs, { ...inputs, earlyRenewalHours: 10 });
            assert.deepEqual(due.replaces, ["readyForRenewal"]);
            const expired = { ...created.outs, validityEndTime: "2000-01-01T00:00:00Z" };
            const read = await p.read(created.id, SELF, expired);
            assert.equal(read.props.readyForRenewal, true);
        });
    });

    describe("CertRequest and LocallySignedCert", () => {
        it("requests the given subject and SANs with a valid self-signature", async () => {
            const { id, outs } = await p.create(CSR, {
                privateKeyPem: m.leafKeyPem,
                subject: { commonName: "web.lab", organizationalUnit: "infra", emailAddress: "ops@lab" },
                dnsNames: ["web.lab"],
                ipAddresses: ["192.168.1.5"],
            });
            const csrFile = file(String(outs.certRequestPem));
            const text = execFileSync("openssl", ["req", "-in", csrFile, "-noout", "-text", "-verify"], {
                encoding: "utf8",
                stdio: ["pipe", "pipe", "pipe"],
            });
            assert.match(text, /Subject: OU = infra, CN = web\.lab, emailAddress = ops@lab/);
            assert.match(text, /DNS:web\.lab, IP Address:192\.168\.1\.5/);
            assert.equal(outs.keyAlgorithm, "RSA");
            const der = execFileSync("openssl", ["req", "-in", csrFile, "-outform", "DER"]);
            assert.equal(id, createHash("sha1").update(der).digest("hex"));
        });

        it("signs a leaf that openssl verifies against the CA, for the request's key and names", async () => {
            const csr = await p.create(CSR, {
                privateKeyPem: m.leafKeyPem,
                subject: { commonName: "web.lab", emailAddress: "ops@lab" },
                dnsNames: ["web.lab", "www.lab"],
                ipAddresses: ["192.168.1.5"],
            });
            const { outs } = await p.create(LOCAL, {
                certRequestPem: csr.outs.certRequestPem,
                caPrivateKeyPem: m.caKeyPem,
                caCertPem: m.caCertPem,
                validityPeriodHours: 72,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            });
            const caFile = file(m.caCertPem);
            const leafFile = file(String(outs.certPem));
            assert.match(openssl(["verify", "-CAfile", caFile, "-purpose", "sslserver", leafFile]), /OK/);
            const f = certFacts(leafFile);
            assert.equal(f.pubkey, openssl(["pkey", "-in", file(m.leafKeyPem), "-pubout"]));
            // Go's x509 re-encodes the request's subject without its extra attributes (the e-mail).
            assert.equal(f.subject, "CN=web.lab");
            assert.match(f.text, /DNS:web\.lab, DNS:www\.lab, IP Address:192\.168\.1\.5/);
            assert.match(f.text, /Authority Key Identifier/);
            assert.equal((f.notAfter.getTime() - f.notBefore.getTime()) / 3600_000, 72);
            assert.equal(outs.caKeyAlgorithm, "ECDSA");
            assert.ok(isSecretValue(outs.caPrivateKeyPem));
        });

        it("chains an intermediate CA and Ed25519 leaves", async () => {
            const edKey = await p.create(KEY, { algorithm: "ED25519" });
            const edPem = str(edKey.outs.privateKeyPem);
            const interCsr = await p.create(CSR, { privateKeyPem: edPem, subject: { commonName: "Intermediate" } });
            const inter = await p.create(LOCAL, {
                certRequestPem: interCsr.outs.certRequestPem,
                caPrivateKeyPem: m.caKeyPem,
                caCertPem: m.caCertPem,
                validityPeriodHours: 24,
                isCaCertificate: true,
                setSubjectKeyId: true,
                allowedUses: ["cert_signing"],
            });
            const leafKey = await p.create(KEY, { algorithm: "ED25519" });
            const leafCsr = await p.create(CSR, {
                privateKeyPem: str(leafKey.outs.privateKeyPem),
                dnsNames: ["ed.lab"],
            });
            const leaf = await p.create(LOCAL, {
                certRequestPem: leafCsr.outs.certRequestPem,
                caPrivateKeyPem: edPem,
                caCertPem: inter.outs.certPem,
                validityPeriodHours: 24,
                allowedUses: ["digital_signature", "server_auth"],
            });
            const out = openssl([
                "verify",
                "-CAfile",
                file(m.caCertPem),
                "-untrusted",
                file(String(inter.outs.certPem)),
                file(String(leaf.outs.certPem)),
            ]);
            assert.match(out, /OK/);
            assert.match(certFacts(file(String(leaf.outs.certPem))).text, /Signature Algorithm: ED25519/);
        });

        it("refuses a CA key that does not belong to the CA certificate", async () => {
            await assert.rejects(
                p.create(LOCAL, {
                    certRequestPem: m.csrPem,
                    caPrivateKeyPem: m.leafKeyPem,
                    caCertPem: m.caCertPem,
                    validityPeriodHours: 1,
                    allowedUses: [],
                }),
                /doesn't match parent's PublicKey/,
            );
        });
    });

    it("serves getPublicKey for a PEM private key", async () => {
        const key = await p.create(KEY, { algorithm: "ED25519" });
        const res = await p.invoke("tls:index/getPublicKey:getPublicKey", { privateKeyPem: key.outs.privateKeyPem });
        assert.equal(res.outputs?.publicKeyOpenssh, key.outs.publicKeyOpenssh);
        assert.equal(res.outputs?.publicKeyPem, key.outs.publicKeyPem);
        assert.equal(res.outputs?.id, key.id);
        assert.equal(res.outputs?.algorithm, "ED25519");
    });
});
