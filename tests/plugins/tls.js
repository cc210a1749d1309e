"use strict";
// Offline stand-in for the pulumi-tls 5.3.1 plugin (terraform-provider-tls under the Pulumi bridge).
// TEST INFRASTRUCTURE ONLY: tests and the demo's offline mode put tests/plugins/bin on PATH; a user's real
// `pulumi up` uses the real plugin. Tokens, properties, defaults, secretness and replace rules follow
// schemas/tls.schema.json and the upstream resources; keys and certificates are real (node:crypto) and laid
// out like Go's crypto/x509 output.

const crypto = require("node:crypto");
const der = require("./lib/der");
const ssh = require("./lib/ssh");
const x509 = require("./lib/x509");
const { makeProvider, serve, secret, reveal } = require("./lib/provider");

const VERSION = "5.3.1";

/** @typedef {import("./lib/provider").ResourceSpec} ResourceSpec */
/** @typedef {import("./lib/provider").InputSpec} InputSpec */

/** stringvalidator.OneOf. @param {string[]} values @returns {(v: string, name: string) => string | undefined} */
const oneOf = (values) => (v, name) =>
    values.includes(v)
        ? undefined
        : `Attribute ${name} value must be one of: [${values.map((x) => `"${x}"`).join(" ")}], got: "${v}"`;
/** int64validator.AtLeast. @param {number} min @returns {(v: number, name: string) => string | undefined} */
const atLeast = (min) => (v, name) =>
    v < min ? `Attribute ${name} value must be at least ${min}, got: ${v}` : undefined;

const CURVES = { P224: "P-224", P256: "P-256", P384: "P-384", P521: "P-521" };

/** hashForState: hex SHA-1 of the bytes. @param {Buffer} bytes */
const sha1 = (bytes) => crypto.createHash("sha1").update(bytes).digest("hex");

/**
 * The public-key attributes of tls_private_key (setPublicKeyAttributes).
 * @param {crypto.KeyObject} privateKey
 */
function publicKeyAttributes(privateKey) {
    const spki = x509.spkiDer(crypto.createPublicKey(privateKey));
    const info = ssh.publicKeyInfo(privateKey);
    return {
        id: sha1(spki),
        publicKeyPem: der.pem("PUBLIC KEY", spki),
        publicKeyOpenssh: info.authorizedKey,
        publicKeyFingerprintMd5: info.md5,
        publicKeyFingerprintSha256: info.sha256,
    };
}

/** @type {ResourceSpec} */
const privateKey = {
    token: "tls:index/privateKey:PrivateKey",
    schemaVersion: 1,
    inputs: {
        algorithm: { type: "string", required: true, replace: "replace", validate: oneOf(["RSA", "ECDSA", "ED25519"]) },
        ecdsaCurve: { type: "string", default: "P224", replace: "replace", validate: oneOf(Object.keys(CURVES)) },
        rsaBits: { type: "integer", default: 2048, replace: "replace" },
    },
    secretOutputs: ["privateKeyOpenssh", "privateKeyPem", "privateKeyPemPkcs8"],
    create(plan) {
        let key;
        let pem;
        if (plan.algorithm === "RSA") {
            // Go 1.24+ crypto/rsa refuses keys under 1024 bits.
            if (plan.rsaBits < 1024) {
                throw new Error(
                    `Unable to generate Key from configuration: crypto/rsa: ${plan.rsaBits}-bit keys are insecure (see https://go.dev/pkg/crypto/rsa#hdr-Minimum_key_size)`,
                );
            }
            key = crypto.generateKeyPairSync("rsa", { modulusLength: plan.rsaBits }).privateKey;
            pem = /** @type {string} */ (key.export({ type: "pkcs1", format: "pem" }));
        } else if (plan.algorithm === "ECDSA") {
            const curve = CURVES[/** @type {keyof typeof CURVES} */ (plan.ecdsaCurve)];
            key = crypto.generateKeyPairSync("ec", { namedCurve: curve }).privateKey;
            pem = /** @type {string} */ (key.export({ type: "sec1", format: "pem" }));
        } else {
            key = crypto.generateKeyPairSync("ed25519").privateKey;
            pem = /** @type {string} */ (key.export({ type: "pkcs8", format: "pem" }));
        }
        const { id, ...pub } = publicKeyAttributes(key);
        return {
            id,
            outs: {
                privateKeyPem: pem,
                privateKeyPemPkcs8: key.export({ type: "pkcs8", format: "pem" }),
                privateKeyOpenssh: ssh.privateKeyOpenSSH(key),
                ...pub,
            },
        };
    },
};

/** @type {Record<string, import("./lib/provider").PropType>} */
const SUBJECT_FIELDS = {
    commonName: "string",
    country: "string",
    emailAddress: "string",
    locality: "string",
    organization: "string",
    organizationalUnit: "string",
    postalCode: "string",
    province: "string",
    serialNumber: "string",
    streetAddresses: "stringList",
};

/** @type {InputSpec} */
const ALLOWED_USES = {
    type: "stringList",
    required: true,
    replace: "replace",
    validate: (v, name) => {
        for (const [i, use] of /** @type {string[]} */ (v).entries()) {
            const err = oneOf(x509.SUPPORTED_USES)(use, `${name}[${i}]`);
            if (err) return err;
        }
        return undefined;
    },
};

/**
 * DNS names, IPs and URIs of a config, failing like the provider's Create does.
 * @param {Record<string, any>} plan
 */
function sans(plan) {
    const ips = (plan.ipAddresses ?? []).map((/** @type {string} */ s) => {
        const ip = x509.parseIP(s);
        if (!ip) throw new Error(`Invalid IP address: Failed to parse "${s}"`);
        return ip;
    });
    for (const u of plan.uris ?? []) {
        const err = x509.checkURI(u);
        if (err) throw new Error(`Invalid URI: Failed to parse "${u}": ${err}`);
    }
    return { dnsNames: plan.dnsNames ?? [], ips, uris: plan.uris ?? [] };
}

/**
 * RFC 3339 with the fractional seconds Go's time.MarshalText keeps (trailing zeros trimmed).
 * @param {number} ms
 */
function rfc3339(ms) {
    return new Date(ms).toISOString().replace(/\.?0+Z$/, "Z");
}

/**
 * modifyPlanIfCertificateReadyForRenewal / modifyStateIfCertificateReadyForRenewal.
 * @param {string | undefined} validityEndTime
 * @param {number} earlyRenewalHours
 */
function readyForRenewal(validityEndTime, earlyRenewalHours) {
    if (!validityEndTime) return false;
    const end = Date.parse(validityEndTime);
    return end - earlyRenewalHours * 3600_000 <= Date.now();
}

/** The inputs and behaviour SelfSignedCert and LocallySignedCert share. */
const CERT_COMMON = {
    allowedUses: ALLOWED_USES,
    validityPeriodHours: /** @type {InputSpec} */ ({
        type: "integer",
        required: true,
        replace: "replace",
        validate: atLeast(0),
    }),
    earlyRenewalHours: /** @type {InputSpec} */ ({
        type: "integer",
        default: 0,
        replace: "none",
        validate: atLeast(0),
    }),
    isCaCertificate: /** @type {InputSpec} */ ({ type: "boolean", default: false, replace: "replace" }),
    maxPathLength: /** @type {InputSpec} */ ({ type: "integer", default: -1, replace: "none", validate: atLeast(-1) }),
    setSubjectKeyId: /** @type {InputSpec} */ ({ type: "boolean", default: false, replace: "replace" }),
};

/**
 * @param {Record<string, any>} state
 * @param {Record<string, any>} plan
 */
const renewalReplaces = (state, plan) =>
    readyForRenewal(state.validityEndTime, plan.earlyRenewalHours) ? ["readyForRenewal"] : [];

/** @param {Record<string, any>} state */
const renewalRead = (state) =>
    readyForRenewal(state.validityEndTime, state.earlyRenewalHours ?? 0) ? { ...state, readyForRenewal: true } : state;

/**
 * Computed outputs of a certificate resource.
 * @param {ReturnType<typeof x509.createCertificate>} cert
 */
const certOuts = (cert) => ({
    certPem: cert.pem,
    validityStartTime: rfc3339(cert.notBefore),
    validityEndTime: rfc3339(cert.notAfter),
    readyForRenewal: false,
});

/** @type {ResourceSpec} */
const selfSignedCert = {
    token: "tls:index/selfSignedCert:SelfSignedCert",
    inputs: {
        ...CERT_COMMON,
        privateKeyPem: { type: "string", required: true, secret: true, replace: "replace" },
        dnsNames: { type: "stringList", replace: "replace" },
        ipAddresses: { type: "stringList", replace: "replace" },
        uris: { type: "stringList", replace: "replace" },
        setAuthorityKeyId: { type: "boolean", default: false, replace: "replace" },
        subject: { type: "object", fields: SUBJECT_FIELDS, replace: "replace" },
    },
    secretOutputs: ["privateKeyPem"],
    extraReplaces: renewalReplaces,
    read: renewalRead,
    create(plan) {
        const key = wrapError("Failed to parse private key PEM", () => x509.parsePrivateKeyPem(plan.privateKeyPem));
        const cert = x509.createCertificate({
            subject: x509.nameFromSubject(plan.subject),
            ...sans(plan),
            publicKey: key.publicKey,
            signerKey: key.privateKey,
            issuerName: undefined,
            issuerKeyId: undefined,
            validityPeriodHours: plan.validityPeriodHours,
            allowedUses: plan.allowedUses,
            isCA: plan.isCaCertificate,
            maxPathLength: plan.maxPathLength,
            setSubjectKeyId: plan.setSubjectKeyId,
            setAuthorityKeyId: plan.setAuthorityKeyId,
        });
        return { id: cert.serial.toString(), outs: { keyAlgorithm: key.algorithm, ...certOuts(cert) } };
    },
};

/** @type {ResourceSpec} */
const locallySignedCert = {
    token: "tls:index/locallySignedCert:LocallySignedCert",
    inputs: {
        ...CERT_COMMON,
        caCertPem: { type: "string", required: true, replace: "replace" },
        caPrivateKeyPem: { type: "string", required: true, secret: true, replace: "replace" },
        certRequestPem: { type: "string", required: true, replace: "replace" },
    },
    secretOutputs: ["caPrivateKeyPem"],
    extraReplaces: renewalReplaces,
    read: renewalRead,
    create(plan) {
        const req = wrapError("Failed to parse certificate request PEM", () =>
            x509.parseCertificateRequest(plan.certRequestPem),
        );
        const caKey = wrapError("Failed to parse CA private key PEM", () =>
            x509.parsePrivateKeyPem(plan.caPrivateKeyPem),
        );
        const ca = wrapError("Failed to parse CA certificate PEM", () => x509.parseCertificate(plan.caCertPem));
        // x509.CreateCertificate checks that the signing key belongs to the parent certificate.
        if (!x509.spkiDer(ca.publicKey).equals(x509.spkiDer(caKey.publicKey))) {
            throw new Error("Failed to create certificate: x509: provided PrivateKey doesn't match parent's PublicKey");
        }
        // Upstream only warns when the CA certificate is not a CA ("Potentially Invalid Certificate Authority").
        const cert = x509.createCertificate({
            subject: req.subject,
            dnsNames: req.dnsNames,
            ips: req.ips,
            uris: req.uris,
            publicKey: req.publicKey,
            signerKey: caKey.privateKey,
            issuerName: ca.rawSubject,
            issuerKeyId: ca.subjectKeyId,
            validityPeriodHours: plan.validityPeriodHours,
            allowedUses: plan.allowedUses,
            isCA: plan.isCaCertificate,
            maxPathLength: plan.maxPathLength,
            setSubjectKeyId: plan.setSubjectKeyId,
            setAuthorityKeyId: false,
        });
        return { id: cert.serial.toString(), outs: { caKeyAlgorithm: caKey.algorithm, ...certOuts(cert) } };
    },
};

/** @type {ResourceSpec} */
const certRequest = {
    token: "tls:index/certRequest:CertRequest",
    inputs: {
        privateKeyPem: { type: "string", required: true, secret: true, replace: "replace" },
        dnsNames: { type: "stringList", replace: "replace" },
        ipAddresses: { type: "stringList", replace: "replace" },
        uris: { type: "stringList", replace: "replace" },
        subject: { type: "object", fields: SUBJECT_FIELDS, replace: "replace" },
    },
    secretOutputs: ["privateKeyPem"],
    create(plan) {
        const key = wrapError("Failed to parse private key PEM", () => x509.parsePrivateKeyPem(plan.privateKeyPem));
        const csr = x509.createCertificateRequest({
            subject: x509.nameFromSubject(plan.subject),
            ...sans(plan),
            privateKey: key.privateKey,
        });
        return {
            id: sha1(csr.der),
            outs: { keyAlgorithm: key.algorithm, certRequestPem: csr.pem },
        };
    },
};

/**
 * Runs `fn`, prefixing its error the way the provider's diagnostics read ("<summary>: <detail>").
 * @template T
 * @param {string} summary
 * @param {() => T} fn
 * @returns {T}
 */
function wrapError(summary, fn) {
    try {
        return fn();
    } catch (e) {
        throw new Error(`${summary}: ${/** @type {Error} */ (e).message}`, { cause: e });
    }
}

/**
 * tls:index/getPublicKey:getPublicKey for a PEM private key (the OpenSSH input is not supported here).
 * @param {Record<string, unknown>} args
 */
async function getPublicKey(args) {
    const plain = reveal(args);
    if (plain.privateKeyOpenssh !== undefined && plain.privateKeyOpenssh !== null) {
        throw new Error("getPublicKey: privateKeyOpenssh is not supported by the offline stand-in; use privateKeyPem");
    }
    if (typeof plain.privateKeyPem !== "string") {
        return {
            failures: [{ property: "privateKeyPem", reason: "one of privateKeyPem or privateKeyOpenssh is required" }],
        };
    }
    const key = wrapError("Unable to parse private key", () => x509.parsePrivateKeyPem(plain.privateKeyPem));
    return {
        outputs: {
            algorithm: key.algorithm,
            privateKeyPem: secret(plain.privateKeyPem),
            ...publicKeyAttributes(key.privateKey),
        },
    };
}

const resources = [privateKey, selfSignedCert, locallySignedCert, certRequest];

const provider = makeProvider({
    name: "tls",
    version: VERSION,
    resources,
    invokes: { "tls:index/getPublicKey:getPublicKey": getPublicKey },
});

module.exports = { provider, VERSION, resources };

if (require.main === module) serve(provider);
