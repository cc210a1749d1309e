"use strict";
// X.509 certificates and PKCS#10 requests built the way terraform-provider-tls builds them with Go's
// crypto/x509 (field order, extension order and criticality, string types, signature algorithm per key),
// so tests and the demo see the same certificates a user's real `pulumi up` produces.

const crypto = require("node:crypto");
const net = require("node:net");
const der = require("./der");

const OID = {
    rsaEncryption: "1.2.840.113549.1.1.1",
    sha256WithRSA: "1.2.840.113549.1.1.11",
    ecdsaSha256: "1.2.840.10045.4.3.2",
    ecdsaSha384: "1.2.840.10045.4.3.3",
    ecdsaSha512: "1.2.840.10045.4.3.4",
    ed25519: "1.3.101.112",
    extensionRequest: "1.2.840.113549.1.9.14",
    emailAddress: "1.2.840.113549.1.9.1",
    keyUsage: "2.5.29.15",
    extKeyUsage: "2.5.29.37",
    basicConstraints: "2.5.29.19",
    subjectKeyId: "2.5.29.14",
    authorityKeyId: "2.5.29.35",
    subjectAltName: "2.5.29.17",
};

// Go's pkix.Name attribute order (ToRDNSequence): C, ST, L, STREET, PC, O, OU, then CN and SERIALNUMBER.
const NAME_ORDER = [
    ["country", "2.5.4.6"],
    ["province", "2.5.4.8"],
    ["locality", "2.5.4.7"],
    ["streetAddress", "2.5.4.9"],
    ["postalCode", "2.5.4.17"],
    ["organization", "2.5.4.10"],
    ["organizationalUnit", "2.5.4.11"],
];
const OID_CN = "2.5.4.3";
const OID_SERIAL = "2.5.4.5";

// terraform-provider-tls common_cert.go: allowed_uses values and their x509 bits / OIDs.
const KEY_USAGES = {
    digital_signature: 0,
    content_commitment: 1,
    key_encipherment: 2,
    data_encipherment: 3,
    key_agreement: 4,
    cert_signing: 5,
    crl_signing: 6,
    encipher_only: 7,
    decipher_only: 8,
};
const EXT_KEY_USAGES = {
    any_extended: "2.5.29.37.0",
    server_auth: "1.3.6.1.5.5.7.3.1",
    client_auth: "1.3.6.1.5.5.7.3.2",
    code_signing: "1.3.6.1.5.5.7.3.3",
    email_protection: "1.3.6.1.5.5.7.3.4",
    ipsec_end_system: "1.3.6.1.5.5.7.3.5",
    ipsec_tunnel: "1.3.6.1.5.5.7.3.6",
    ipsec_user: "1.3.6.1.5.5.7.3.7",
    timestamping: "1.3.6.1.5.5.7.3.8",
    ocsp_signing: "1.3.6.1.5.5.7.3.9",
    microsoft_server_gated_crypto: "1.3.6.1.4.1.311.10.3.3",
    netscape_server_gated_crypto: "2.16.840.1.113730.4.1",
    microsoft_commercial_code_signing: "1.3.6.1.4.1.311.2.1.22",
    microsoft_kernel_code_signing: "1.3.6.1.4.1.311.61.1.1",
};
const SUPPORTED_USES = [...Object.keys(KEY_USAGES), ...Object.keys(EXT_KEY_USAGES)].sort();

/**
 * @typedef {object} GoName pkix.Name as the provider fills it
 * @property {string[]} country
 * @property {string[]} province
 * @property {string[]} locality
 * @property {string[]} streetAddress
 * @property {string[]} postalCode
 * @property {string[]} organization
 * @property {string[]} organizationalUnit
 * @property {string} commonName
 * @property {string} serialNumber
 * @property {Buffer[]} extraNames already-encoded AttributeTypeAndValue sequences
 */

/** @returns {GoName} */
function emptyName() {
    return {
        country: [],
        province: [],
        locality: [],
        streetAddress: [],
        postalCode: [],
        organization: [],
        organizationalUnit: [],
        commonName: "",
        serialNumber: "",
        extraNames: [],
    };
}

/**
 * createSubjectDistinguishedNames: the Pulumi `subject` object (camelCase) to a pkix.Name.
 * @param {Record<string, unknown> | undefined} subject
 * @returns {GoName}
 */
function nameFromSubject(subject) {
    const n = emptyName();
    if (!subject) return n;
    /** @param {unknown} v */
    const str = (v) => (typeof v === "string" ? v : undefined);
    if (str(subject.commonName) !== undefined) n.commonName = /** @type {string} */ (subject.commonName);
    if (str(subject.organization) !== undefined) n.organization = [/** @type {string} */ (subject.organization)];
    if (str(subject.organizationalUnit) !== undefined) {
        n.organizationalUnit = [/** @type {string} */ (subject.organizationalUnit)];
    }
    if (Array.isArray(subject.streetAddresses)) n.streetAddress = subject.streetAddresses.map(String);
    if (str(subject.locality) !== undefined) n.locality = [/** @type {string} */ (subject.locality)];
    if (str(subject.province) !== undefined) n.province = [/** @type {string} */ (subject.province)];
    if (str(subject.country) !== undefined) n.country = [/** @type {string} */ (subject.country)];
    if (str(subject.postalCode) !== undefined) n.postalCode = [/** @type {string} */ (subject.postalCode)];
    if (str(subject.serialNumber) !== undefined) n.serialNumber = /** @type {string} */ (subject.serialNumber);
    if (str(subject.emailAddress) !== undefined) {
        // The provider adds the e-mail as an extra name with an explicit IA5String value.
        n.extraNames.push(der.seq(der.oid(OID.emailAddress), der.ia5(/** @type {string} */ (subject.emailAddress))));
    }
    return n;
}

/** @param {GoName} n */
function isEmptyName(n) {
    return (
        NAME_ORDER.every(([k]) => /** @type {string[]} */ (n[/** @type {keyof GoName} */ (k)]).length === 0) &&
        n.commonName === "" &&
        n.serialNumber === "" &&
        n.extraNames.length === 0
    );
}

/**
 * pkix.Name.ToRDNSequence, DER encoded.
 * @param {GoName} n
 */
function encodeName(n) {
    const rdns = [];
    for (const [key, oid] of NAME_ORDER) {
        const values = /** @type {string[]} */ (n[/** @type {keyof GoName} */ (key)]);
        if (values.length) rdns.push(der.setOf(values.map((v) => der.seq(der.oid(oid), der.goString(v)))));
    }
    if (n.commonName) rdns.push(der.setOf([der.seq(der.oid(OID_CN), der.goString(n.commonName))]));
    if (n.serialNumber) rdns.push(der.setOf([der.seq(der.oid(OID_SERIAL), der.goString(n.serialNumber))]));
    for (const atv of n.extraNames) rdns.push(der.setOf([atv]));
    return der.seq(...rdns);
}

/**
 * pkix.Name.FillFromRDNSequence: only the well-known string attributes survive a parse (the e-mail and other
 * extra attributes of a request do not reach a certificate signed from it, exactly as with Go).
 * @param {der.Node} nameNode
 * @returns {GoName}
 */
function decodeName(nameNode) {
    const n = emptyName();
    /** @type {Record<string, keyof GoName>} */
    const byOid = Object.fromEntries(NAME_ORDER.map(([k, o]) => [o, /** @type {keyof GoName} */ (k)]));
    for (const rdn of nameNode.children) {
        for (const atv of rdn.children) {
            const oid = der.decodeOid(atv.children[0].content);
            const value = der.decodeString(atv.children[1]);
            if (value === undefined) continue;
            if (oid === OID_CN) n.commonName = value;
            else if (oid === OID_SERIAL) n.serialNumber = value;
            else if (byOid[oid]) /** @type {string[]} */ (n[byOid[oid]]).push(value);
        }
    }
    return n;
}

/**
 * Go's net.ParseIP: dotted-quad IPv4 (no leading zeros) or IPv6 (optionally with a trailing dotted quad);
 * returns 4 bytes for IPv4 (what Go's To4 yields for a SAN) and 16 for IPv6.
 * @param {string} s
 * @returns {Buffer | undefined}
 */
function parseIP(s) {
    if (net.isIPv4(s)) {
        const parts = s.split(".");
        if (parts.some((p) => p.length > 1 && p.startsWith("0"))) return undefined;
        return Buffer.from(parts.map(Number));
    }
    if (!net.isIPv6(s) || s.includes("%")) return undefined;
    let text = s;
    /** @type {number[]} */
    let tail = [];
    const lastColon = text.lastIndexOf(":");
    if (text.slice(lastColon + 1).includes(".")) {
        const b = parseIP(text.slice(lastColon + 1));
        if (!b || b.length !== 4) return undefined;
        tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
        text = text.slice(0, lastColon + 1);
        if (!text.endsWith("::")) text = text.slice(0, -1);
    }
    /** @param {string} t */
    const hex = (t) => (t === "" ? [] : t.split(":").map((h) => parseInt(h, 16)));
    const ellipsis = text.indexOf("::");
    let groups;
    if (ellipsis >= 0) {
        const head = hex(text.slice(0, ellipsis));
        const rest = hex(text.slice(ellipsis + 2));
        const fill = Math.max(0, 8 - head.length - rest.length - tail.length);
        groups = [...head, ...new Array(fill).fill(0), ...rest, ...tail];
    } else {
        groups = [...hex(text), ...tail];
    }
    if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return undefined;
    const out = Buffer.alloc(16);
    groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
    // Go returns the 4-byte form for IPv4-mapped addresses when marshalling a SAN (ip.To4()).
    if (out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff) return out.subarray(12);
    return out;
}

/**
 * Go's url.Parse rejects control characters and malformed percent-escapes; everything else is a URI.
 * @param {string} s
 */
function checkURI(s) {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(s)) return "net/url: invalid control character in URL";
    if (/%(?![0-9A-Fa-f]{2})/.test(s)) return "invalid URL escape";
    return undefined;
}

/**
 * marshalSANs: DNS names [2], e-mails [1] (unused here), IPs [7], URIs [6], in that order.
 * @param {string[]} dnsNames
 * @param {Buffer[]} ips
 * @param {string[]} uris
 */
function encodeSANs(dnsNames, ips, uris) {
    return der.seq(
        ...dnsNames.map((d) => der.ctx(2, Buffer.from(d, "latin1"), false)),
        ...ips.map((ip) => der.ctx(7, ip, false)),
        ...uris.map((u) => der.ctx(6, Buffer.from(u, "latin1"), false)),
    );
}

/**
 * @param {string} oid
 * @param {boolean} critical
 * @param {Buffer} value
 */
function extension(oid, critical, value) {
    return critical
        ? der.seq(der.oid(oid), der.bool(true), der.octets(value))
        : der.seq(der.oid(oid), der.octets(value));
}

/**
 * Key algorithm name as the provider reports it.
 * @param {crypto.KeyObject} key
 * @returns {"RSA" | "ECDSA" | "ED25519"}
 */
function algorithmOf(key) {
    switch (key.asymmetricKeyType) {
        case "rsa":
            return "RSA";
        case "ec":
            return "ECDSA";
        case "ed25519":
            return "ED25519";
        default:
            throw new Error(`unsupported private key type: ${key.asymmetricKeyType}`);
    }
}

// The provider parses these three PEM types only (common_key.go keyParsers).
const PRIVATE_KEY_PREAMBLES = { "RSA PRIVATE KEY": "pkcs1", "EC PRIVATE KEY": "sec1", "PRIVATE KEY": "pkcs8" };

/**
 * parsePrivateKeyPEM: first PEM block, one of the three supported preambles.
 * @param {string} pemText
 */
function parsePrivateKeyPem(pemText) {
    const block = der.decodePem(pemText);
    if (!block) {
        throw new Error(`failed to decode PEM block: decoded bytes 0, undecoded ${Buffer.byteLength(pemText)}`);
    }
    const type = /** @type {keyof typeof PRIVATE_KEY_PREAMBLES} */ (block.type);
    if (!(type in PRIVATE_KEY_PREAMBLES)) throw new Error(`failed to identify PEM preamble: ${block.type}`);
    let privateKey;
    try {
        privateKey = crypto.createPrivateKey({
            key: block.der,
            format: "der",
            type: /** @type {"pkcs1" | "sec1" | "pkcs8"} */ (PRIVATE_KEY_PREAMBLES[type]),
        });
    } catch (e) {
        throw new Error(
            `failed to parse private key given PEM preamble '${block.type}': ${/** @type {Error} */ (e).message}`,
            { cause: e },
        );
    }
    const algorithm = algorithmOf(privateKey);
    if (type === "RSA PRIVATE KEY" && algorithm !== "RSA") throw new Error("PKCS#1 block does not hold an RSA key");
    const publicKey = crypto.createPublicKey(privateKey);
    return { privateKey, publicKey, algorithm };
}

/**
 * Signature algorithm Go picks for a signing key (signingParamsForKey).
 * @param {crypto.KeyObject} key
 * @returns {{ alg: Buffer, hash: string | null }}
 */
function signingParams(key) {
    switch (key.asymmetricKeyType) {
        case "rsa":
            return { alg: der.seq(der.oid(OID.sha256WithRSA), der.NULL), hash: "sha256" };
        case "ed25519":
            return { alg: der.seq(der.oid(OID.ed25519)), hash: null };
        case "ec": {
            const curve = key.asymmetricKeyDetails?.namedCurve;
            if (curve === "secp384r1") return { alg: der.seq(der.oid(OID.ecdsaSha384)), hash: "sha384" };
            if (curve === "secp521r1") return { alg: der.seq(der.oid(OID.ecdsaSha512)), hash: "sha512" };
            return { alg: der.seq(der.oid(OID.ecdsaSha256)), hash: "sha256" };
        }
        default:
            throw new Error(`unsupported signing key type ${key.asymmetricKeyType}`);
    }
}

/**
 * Signs `tbs` and wraps it as { tbs, algorithm, BIT STRING signature }.
 * @param {Buffer} tbs
 * @param {crypto.KeyObject} key
 * @param {Buffer} alg
 * @param {string | null} hash
 */
function signed(tbs, key, alg, hash) {
    const sig = crypto.sign(hash, tbs, key);
    return der.seq(tbs, alg, der.bitString(sig));
}

/** @param {crypto.KeyObject} pub */
function spkiDer(pub) {
    return /** @type {Buffer} */ (pub.export({ type: "spki", format: "der" }));
}

/**
 * generateSubjectKeyID: SHA-1 over the provider's own marshalling of the public key (PKCS#1 for RSA, the
 * uncompressed point for ECDSA, an ASN.1 OCTET STRING for Ed25519).
 * @param {crypto.KeyObject} pub
 */
function subjectKeyId(pub) {
    const spki = der.decode(spkiDer(pub));
    const bits = spki.children[1].content.subarray(1); // BIT STRING without the unused-bits octet
    const material = pub.asymmetricKeyType === "ed25519" ? der.octets(bits) : bits;
    return crypto.createHash("sha1").update(material).digest();
}

/**
 * @typedef {object} CertParams
 * @property {GoName} subject
 * @property {string[]} dnsNames
 * @property {Buffer[]} ips
 * @property {string[]} uris
 * @property {crypto.KeyObject} publicKey the certified key
 * @property {crypto.KeyObject} signerKey the issuer's private key
 * @property {Buffer | undefined} issuerName raw issuer Name (undefined: self-signed, issuer = subject)
 * @property {Buffer | undefined} issuerKeyId the parent's SubjectKeyId (for the AuthorityKeyId)
 * @property {number} validityPeriodHours
 * @property {string[]} allowedUses
 * @property {boolean} isCA
 * @property {number} maxPathLength
 * @property {boolean} setSubjectKeyId
 * @property {boolean} setAuthorityKeyId self-signed only
 */

/**
 * createCertificate (common_cert.go) + x509.CreateCertificate.
 * @param {CertParams} p
 */
function createCertificate(p) {
    const nowMs = Date.now();
    const notBefore = new Date(nowMs);
    const notAfter = new Date(nowMs + p.validityPeriodHours * 3600_000);
    const serial = BigInt("0x" + crypto.randomBytes(16).toString("hex"));

    let keyUsage = 0;
    /** @type {string[]} */
    const ekus = [];
    for (const use of p.allowedUses) {
        if (use in KEY_USAGES) keyUsage |= 1 << KEY_USAGES[/** @type {keyof typeof KEY_USAGES} */ (use)];
        if (use in EXT_KEY_USAGES) ekus.push(EXT_KEY_USAGES[/** @type {keyof typeof EXT_KEY_USAGES} */ (use)]);
    }

    if (p.isCA && isEmptyName(p.subject)) {
        throw new Error(
            "Invalid Certificate Subject: Must contain at least one Distinguished Name when creating Certificate Authority (CA)",
        );
    }
    let maxPathLen = 0;
    if (p.maxPathLength >= 0) maxPathLen = p.maxPathLength;
    if (!p.isCA && maxPathLen > 0) {
        throw new Error("Failed to create certificate: x509: only CAs are allowed to specify MaxPathLen");
    }
    /** @type {Buffer | undefined} */
    let ski;
    if (p.isCA || p.setSubjectKeyId) ski = subjectKeyId(p.publicKey);

    const subjectDer = encodeName(p.subject);
    const issuerDer = p.issuerName ?? subjectDer;
    /** @type {Buffer | undefined} */
    let aki;
    if (p.issuerName === undefined) {
        if (p.setAuthorityKeyId) {
            if (!ski) throw new Error("Invalid Certificate Authority: Could not determine Authority Key Identifier");
            aki = ski;
        }
    } else if (!issuerDer.equals(subjectDer) && p.issuerKeyId && p.issuerKeyId.length) {
        aki = p.issuerKeyId;
    }

    const exts = [];
    if (keyUsage !== 0) {
        // Go: bits reversed into at most two octets, BitLength up to the last set bit.
        const bytes = [0, 0];
        for (let i = 0; i < 9; i++) if (keyUsage & (1 << i)) bytes[i >> 3] |= 0x80 >> (i & 7);
        const used = bytes[1] ? bytes : [bytes[0]];
        const last = used[used.length - 1];
        let unused = 0;
        while (!(last & (1 << unused))) unused++;
        exts.push(extension(OID.keyUsage, true, der.bitString(Buffer.from(used), unused)));
    }
    if (ekus.length) exts.push(extension(OID.extKeyUsage, false, der.seq(...ekus.map((o) => der.oid(o)))));
    // BasicConstraintsValid is always set by the provider: CA:FALSE still yields an (empty) critical extension.
    const bc = [];
    if (p.isCA) bc.push(der.bool(true));
    if (p.isCA && maxPathLen > 0) bc.push(der.int(maxPathLen));
    exts.push(extension(OID.basicConstraints, true, der.seq(...bc)));
    if (ski) exts.push(extension(OID.subjectKeyId, false, der.octets(ski)));
    if (aki) exts.push(extension(OID.authorityKeyId, false, der.seq(der.ctx(0, aki, false))));
    if (p.dnsNames.length || p.ips.length || p.uris.length) {
        exts.push(extension(OID.subjectAltName, isEmptyName(p.subject), encodeSANs(p.dnsNames, p.ips, p.uris)));
    }

    const { alg, hash } = signingParams(p.signerKey);
    const tbs = der.seq(
        der.ctx(0, der.int(2)),
        der.int(serial),
        alg,
        issuerDer,
        der.seq(der.time(notBefore), der.time(notAfter)),
        subjectDer,
        spkiDer(p.publicKey),
        der.ctx(3, der.seq(...exts)),
    );
    const cert = signed(tbs, p.signerKey, alg, hash);
    return { der: cert, pem: der.pem("CERTIFICATE", cert), serial, notBefore: nowMs, notAfter: notAfter.getTime() };
}

/**
 * x509.CreateCertificateRequest with the provider's template (subject + SANs).
 * @param {{ subject: GoName, dnsNames: string[], ips: Buffer[], uris: string[], privateKey: crypto.KeyObject }} p
 */
function createCertificateRequest(p) {
    const publicKey = crypto.createPublicKey(p.privateKey);
    let attributes = Buffer.alloc(0);
    if (p.dnsNames.length || p.ips.length || p.uris.length) {
        const san = extension(OID.subjectAltName, false, encodeSANs(p.dnsNames, p.ips, p.uris));
        attributes = der.seq(der.oid(OID.extensionRequest), der.setOf([der.seq(san)]));
    }
    const info = der.seq(der.int(0), encodeName(p.subject), spkiDer(publicKey), der.ctx(0, attributes));
    const { alg, hash } = signingParams(p.privateKey);
    const csr = signed(info, p.privateKey, alg, hash);
    return { der: csr, pem: der.pem("CERTIFICATE REQUEST", csr) };
}

/**
 * Reads a SubjectAltName extension value into DNS names, IPs and URIs.
 * @param {Buffer} value
 */
function decodeSANs(value) {
    /** @type {{ dnsNames: string[], ips: Buffer[], uris: string[] }} */
    const out = { dnsNames: [], ips: [], uris: [] };
    for (const gn of der.decode(value).children) {
        if (gn.tag === 0x82) out.dnsNames.push(gn.content.toString("latin1"));
        else if (gn.tag === 0x87) out.ips.push(Buffer.from(gn.content));
        else if (gn.tag === 0x86) out.uris.push(gn.content.toString("latin1"));
    }
    return out;
}

/**
 * @param {der.Node} extsSeq SEQUENCE OF Extension
 * @returns {Map<string, Buffer>}
 */
function extensionMap(extsSeq) {
    const map = new Map();
    for (const ext of extsSeq.children) {
        const oid = der.decodeOid(ext.children[0].content);
        map.set(oid, ext.children[ext.children.length - 1].content);
    }
    return map;
}

/**
 * parseCertificateRequest: subject, public key and the SANs of the extensionRequest attribute.
 * @param {string} pemText
 */
function parseCertificateRequest(pemText) {
    const block = der.decodePem(pemText);
    if (!block) throw new Error('failed to decode PEM of expected type "CERTIFICATE REQUEST" from bytes');
    if (block.type !== "CERTIFICATE REQUEST") {
        throw new Error(`invalid PEM type - expected "CERTIFICATE REQUEST", got "${block.type}"`);
    }
    try {
        const info = der.decode(block.der).children[0];
        const [, subject, spki, attrs] = info.children;
        let sans = {
            dnsNames: /** @type {string[]} */ ([]),
            ips: /** @type {Buffer[]} */ ([]),
            uris: /** @type {string[]} */ ([]),
        };
        for (const attr of attrs?.children ?? []) {
            if (der.decodeOid(attr.children[0].content) !== OID.extensionRequest) continue;
            const exts = extensionMap(attr.children[1].children[0]);
            const san = exts.get(OID.subjectAltName);
            if (san) sans = decodeSANs(san);
        }
        const publicKey = crypto.createPublicKey({ key: spki.raw, format: "der", type: "spki" });
        return { subject: decodeName(subject), publicKey, ...sans };
    } catch (e) {
        throw new Error(`failed to parse certificate request: ${/** @type {Error} */ (e).message}`, { cause: e });
    }
}

/**
 * parseCertificate: raw subject, public key, SubjectKeyId and the CA flag.
 * @param {string} pemText
 */
function parseCertificate(pemText) {
    const block = der.decodePem(pemText);
    if (!block) throw new Error('failed to decode PEM of expected type "CERTIFICATE" from bytes');
    if (block.type !== "CERTIFICATE") throw new Error(`invalid PEM type - expected "CERTIFICATE", got "${block.type}"`);
    try {
        const tbs = der.decode(block.der).children[0];
        const fields = tbs.children[0].tag === 0xa0 ? tbs.children.slice(1) : tbs.children;
        const [, , , , subject, spki, ...rest] = fields;
        const extsWrapper = rest.find((n) => n.tag === 0xa3);
        const exts = extsWrapper ? extensionMap(extsWrapper.children[0]) : new Map();
        const skiValue = exts.get(OID.subjectKeyId);
        const bcValue = exts.get(OID.basicConstraints);
        const bc = bcValue ? der.decode(bcValue) : undefined;
        const isCA = !!bc && bc.children.length > 0 && bc.children[0].tag === 0x01 && bc.children[0].content[0] !== 0;
        return {
            rawSubject: Buffer.from(subject.raw),
            publicKey: crypto.createPublicKey({ key: spki.raw, format: "der", type: "spki" }),
            subjectKeyId: skiValue ? Buffer.from(der.decode(skiValue).content) : undefined,
            isCA,
        };
    } catch (e) {
        throw new Error(`failed to parse certificate: ${/** @type {Error} */ (e).message}`, { cause: e });
    }
}

module.exports = {
    SUPPORTED_USES,
    nameFromSubject,
    parseIP,
    checkURI,
    algorithmOf,
    parsePrivateKeyPem,
    spkiDer,
    createCertificate,
    createCertificateRequest,
    parseCertificateRequest,
    parseCertificate,
};
