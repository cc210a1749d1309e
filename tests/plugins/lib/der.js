"use strict";
// Minimal DER encoder/decoder: just enough ASN.1 to build and read X.509 certificates and PKCS#10 requests
// byte-for-byte the way Go's crypto/x509 lays them out (the real tls provider is Go), without a dependency.

/** @param {number} len */
function encodeLength(len) {
    if (len < 0x80) return Buffer.from([len]);
    const bytes = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/**
 * One TLV with the given identifier octet.
 * @param {number} tag
 * @param {Buffer} content
 */
function tlv(tag, content) {
    return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** @param {...Buffer} items */
function seq(...items) {
    return tlv(0x30, Buffer.concat(items));
}

/**
 * SET OF: DER requires the encodings sorted as octet strings (Go's encoding/asn1 does this since 1.15).
 * @param {Buffer[]} items
 */
function setOf(items) {
    const sorted = [...items].sort(Buffer.compare);
    return tlv(0x31, Buffer.concat(sorted));
}

/**
 * INTEGER from a non-negative bigint/number, or from an unsigned big-endian magnitude.
 * @param {bigint | number | Buffer} value
 */
function int(value) {
    let mag;
    if (Buffer.isBuffer(value)) {
        mag = value;
    } else {
        const big = BigInt(value);
        if (big < 0n) throw new Error("der.int: negative integers are not needed here");
        let hex = big.toString(16);
        if (hex.length % 2) hex = "0" + hex;
        mag = Buffer.from(hex, "hex");
    }
    let i = 0;
    while (i < mag.length - 1 && mag[i] === 0) i++;
    mag = mag.subarray(i);
    if (mag.length === 0) mag = Buffer.from([0]);
    if (mag[0] & 0x80) mag = Buffer.concat([Buffer.from([0]), mag]);
    return tlv(0x02, mag);
}

/** @param {string} dotted */
function oid(dotted) {
    const arcs = dotted.split(".").map((a) => BigInt(a));
    const first = arcs[0] * 40n + arcs[1];
    const out = [];
    for (const arc of [first, ...arcs.slice(2)]) {
        const chunk = [];
        let v = arc;
        do {
            chunk.unshift(Number(v & 0x7fn));
            v >>= 7n;
        } while (v > 0n);
        for (let j = 0; j < chunk.length - 1; j++) chunk[j] |= 0x80;
        out.push(...chunk);
    }
    return tlv(0x06, Buffer.from(out));
}

/** @param {Buffer} content */
function decodeOid(content) {
    const arcs = [];
    let v = 0n;
    for (const b of content) {
        v = (v << 7n) | BigInt(b & 0x7f);
        if (!(b & 0x80)) {
            arcs.push(v);
            v = 0n;
        }
    }
    const first = arcs.shift() ?? 0n;
    const a = first < 80n ? first / 40n : 2n;
    return [a, first - a * 40n, ...arcs].join(".");
}

const NULL = Buffer.from([0x05, 0x00]);
/** @param {boolean} b */
const bool = (b) => tlv(0x01, Buffer.from([b ? 0xff : 0x00]));
/** @param {Buffer} b */
const octets = (b) => tlv(0x04, b);
/** @param {Buffer} b @param {number} [unused] */
const bitString = (b, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
/** @param {string} s */
const utf8 = (s) => tlv(0x0c, Buffer.from(s, "utf8"));
/** @param {string} s */
const printable = (s) => tlv(0x13, Buffer.from(s, "latin1"));
/** @param {string} s */
const ia5 = (s) => tlv(0x16, Buffer.from(s, "latin1"));

/**
 * Go's encoding/asn1 picks PrintableString when every character is in the PrintableString set ('*' and '&'
 * excluded), UTF8String otherwise; subject attributes use this rule.
 * @param {string} s
 */
function goString(s) {
    return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s) ? printable(s) : utf8(s);
}

/**
 * UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5); seconds precision, as Go encodes.
 * @param {Date} d
 */
function time(d) {
    const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
    const year = d.getUTCFullYear();
    if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(digits.slice(2) + "Z", "latin1"));
    return tlv(0x18, Buffer.from(digits + "Z", "latin1"));
}

/**
 * Context-specific tag: explicit (constructed wrapper) or implicit (retagged primitive/constructed content).
 * @param {number} n
 * @param {Buffer} content
 * @param {boolean} [constructed]
 */
function ctx(n, content, constructed = true) {
    return tlv((constructed ? 0xa0 : 0x80) | n, content);
}

/**
 * @typedef {object} Node
 * @property {number} tag identifier octet
 * @property {Buffer} raw the whole TLV
 * @property {Buffer} content the value octets
 * @property {Node[]} children parsed content when constructed
 */

/**
 * Parses one TLV at `offset`; constructed values are parsed recursively.
 * @param {Buffer} buf
 * @param {number} [offset]
 * @returns {Node}
 */
function decode(buf, offset = 0) {
    const tag = buf[offset];
    if (tag === undefined) throw new Error("der: truncated input");
    if ((tag & 0x1f) === 0x1f) throw new Error("der: high tag numbers are not supported");
    let pos = offset + 1;
    let len = buf[pos++];
    if (len === undefined) throw new Error("der: truncated length");
    if (len & 0x80) {
        const n = len & 0x7f;
        if (n === 0 || n > 4) throw new Error("der: unsupported length encoding");
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + buf[pos++];
    }
    const end = pos + len;
    if (end > buf.length) throw new Error("der: value runs past the end of the input");
    const content = buf.subarray(pos, end);
    /** @type {Node[]} */
    const children = [];
    if (tag & 0x20) {
        for (let p = 0; p < content.length;) {
            const child = decode(content, p);
            children.push(child);
            p += child.raw.length;
        }
    }
    return { tag, raw: buf.subarray(offset, end), content, children };
}

/**
 * Reads a string-typed value (Printable, UTF8, IA5, T61, BMP is not expected from Go).
 * @param {Node} node
 * @returns {string | undefined}
 */
function decodeString(node) {
    switch (node.tag) {
        case 0x0c:
            return node.content.toString("utf8");
        case 0x13:
        case 0x16:
        case 0x14:
            return node.content.toString("latin1");
        default:
            return undefined;
    }
}

/**
 * PEM armour as Go's encoding/pem writes it: 64-column base64 lines and a trailing newline.
 * @param {string} type
 * @param {Buffer} der
 */
function pem(type, der) {
    const b64 = der.toString("base64");
    const lines = b64.match(/.{1,64}/g) ?? [];
    return `-----BEGIN ${type}-----\n${lines.join("\n")}${lines.length ? "\n" : ""}-----END ${type}-----\n`;
}

/**
 * First PEM block, like Go's pem.Decode (leading text is skipped; trailing blocks are ignored).
 * @param {string} text
 * @returns {{ type: string, der: Buffer } | undefined}
 */
function decodePem(text) {
    const m = /-----BEGIN ([^-\r\n]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
    if (!m) return undefined;
    const body = m[2]
        .split(/\r?\n/)
        .filter((l) => l.trim() !== "" && !l.includes(":"))
        .join("");
    return { type: m[1], der: Buffer.from(body, "base64") };
}

module.exports = {
    tlv,
    seq,
    setOf,
    int,
    oid,
    decodeOid,
    NULL,
    bool,
    octets,
    bitString,
    utf8,
    printable,
    ia5,
    goString,
    time,
    ctx,
    decode,
    decodeString,
    pem,
    decodePem,
};
