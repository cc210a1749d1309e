"use strict";
// OpenSSH encodings of a key pair as golang.org/x/crypto/ssh writes them for terraform-provider-tls:
// MarshalAuthorizedKey (public_key_openssh), FingerprintLegacyMD5 / FingerprintSHA256, and MarshalPrivateKey
// (private_key_openssh: "openssh-key-v1", no cipher, 64-column PEM like Go's encoding/pem).

const crypto = require("node:crypto");
const der = require("./der");

/** @param {Buffer} b */
const sshString = (b) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
};
/** @param {string} s */
const sshText = (s) => sshString(Buffer.from(s, "latin1"));
/** @param {number} n */
const uint32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    return b;
};
/** SSH mpint from an unsigned big-endian magnitude. @param {Buffer} mag */
function mpint(mag) {
    let i = 0;
    while (i < mag.length && mag[i] === 0) i++;
    let m = mag.subarray(i);
    if (m.length && m[0] & 0x80) m = Buffer.concat([Buffer.from([0]), m]);
    return sshString(m);
}

const CURVES = /** @type {Record<string, string>} */ ({
    prime256v1: "nistp256",
    secp384r1: "nistp384",
    secp521r1: "nistp521",
});

/**
 * True when x/crypto/ssh can represent the key: everything but ECDSA P-224.
 * @param {crypto.KeyObject} key
 */
function supportsOpenSSH(key) {
    return key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "secp224r1";
}

/**
 * The JWK of a private key, with base64url fields decoded.
 * @param {crypto.KeyObject} key
 */
function jwkBytes(key) {
    const jwk = /** @type {Record<string, string>} */ (key.export({ format: "jwk" }));
    /** @param {string} k */
    return (k) => Buffer.from(jwk[k], "base64url");
}

/**
 * Wire-format public key blob.
 * @param {crypto.KeyObject} key private or public
 */
function publicBlob(key) {
    const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
    const b = jwkBytes(pub);
    switch (pub.asymmetricKeyType) {
        case "rsa":
            return { type: "ssh-rsa", blob: Buffer.concat([sshText("ssh-rsa"), mpint(b("e")), mpint(b("n"))]) };
        case "ed25519":
            return { type: "ssh-ed25519", blob: Buffer.concat([sshText("ssh-ed25519"), sshString(b("x"))]) };
        case "ec": {
            const curve = CURVES[pub.asymmetricKeyDetails?.namedCurve ?? ""];
            if (!curve) throw new Error("ssh: unsupported curve");
            const point = Buffer.concat([Buffer.from([4]), b("x"), b("y")]);
            const type = `ecdsa-sha2-${curve}`;
            return { type, blob: Buffer.concat([sshText(type), sshText(curve), sshString(point)]) };
        }
        default:
            throw new Error(`ssh: unsupported key type ${pub.asymmetricKeyType}`);
    }
}

/**
 * public_key_openssh and both fingerprints; empty strings when SSH cannot represent the key (ECDSA P-224).
 * @param {crypto.KeyObject} key
 */
function publicKeyInfo(key) {
    if (!supportsOpenSSH(key)) return { authorizedKey: "", md5: "", sha256: "" };
    const { type, blob } = publicBlob(key);
    const md5 = crypto.createHash("md5").update(blob).digest("hex").match(/../g)?.join(":") ?? "";
    const sha256 = "SHA256:" + crypto.createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
    return { authorizedKey: `${type} ${blob.toString("base64")}\n`, md5, sha256 };
}

/**
 * ssh.MarshalPrivateKey(key, "") PEM-encoded; empty string for ECDSA P-224 (not representable).
 * @param {crypto.KeyObject} key
 */
function privateKeyOpenSSH(key) {
    if (!supportsOpenSSH(key)) return "";
    const { type, blob } = publicBlob(key);
    const b = jwkBytes(key);
    let body;
    switch (key.asymmetricKeyType) {
        case "rsa":
            body = Buffer.concat([sshText(type), ...["n", "e", "d", "qi", "p", "q"].map((k) => mpint(b(k)))]);
            break;
        case "ed25519": {
            const pub = b("x");
            body = Buffer.concat([sshText(type), sshString(pub), sshString(Buffer.concat([b("d"), pub]))]);
            break;
        }
        default: {
            const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ""];
            const point = Buffer.concat([Buffer.from([4]), b("x"), b("y")]);
            body = Buffer.concat([sshText(type), sshText(curve), sshString(point), mpint(b("d"))]);
        }
    }
    const check = crypto.randomBytes(4).readUInt32BE();
    let priv = Buffer.concat([uint32(check), uint32(check), body, sshText("")]);
    const pad = [];
    for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
    priv = Buffer.concat([priv, Buffer.from(pad)]);
    const out = Buffer.concat([
        Buffer.from("openssh-key-v1\0", "latin1"),
        sshText("none"),
        sshText("none"),
        sshText(""),
        uint32(1),
        sshString(blob),
        sshString(priv),
    ]);
    return der.pem("OPENSSH PRIVATE KEY", out);
}

module.exports = { supportsOpenSSH, publicKeyInfo, privateKeyOpenSSH };
