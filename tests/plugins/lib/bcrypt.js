"use strict";
// bcrypt ($2a$, as golang.org/x/crypto/bcrypt writes it) for RandomPassword.bcryptHash. node:crypto has no
// bcrypt and the stand-in must not pull a dependency, so this is the textbook EksBlowfish construction.
// Blowfish's initial P-array and S-boxes are the hexadecimal digits of pi; they are computed here (Machin's
// formula on BigInt, a few milliseconds) instead of pasting a 4 KiB table, and checked against the first
// words every implementation knows.

const crypto = require("node:crypto");

const WORDS = 18 + 4 * 256;

/** @type {Uint32Array | undefined} */
let PI_WORDS;

/** The first WORDS 32-bit words of the fractional part of pi. */
function piWords() {
    if (PI_WORDS) return PI_WORDS;
    const bits = BigInt(WORDS * 32 + 64); // 64 guard bits
    const one = 1n << bits;
    /** @param {bigint} x */
    const arctanInv = (x) => {
        const x2 = x * x;
        let power = one / x;
        let sum = power;
        for (let k = 1n; power !== 0n; k++) {
            power /= x2;
            const term = power / (2n * k + 1n);
            sum = k & 1n ? sum - term : sum + term;
        }
        return sum;
    };
    const pi = 16n * arctanInv(5n) - 4n * arctanInv(239n);
    const frac = (pi - 3n * one) >> 64n;
    const words = new Uint32Array(WORDS);
    for (let i = 0; i < WORDS; i++) {
        words[i] = Number((frac >> BigInt((WORDS - 1 - i) * 32)) & 0xffffffffn);
    }
    if (words[0] !== 0x243f6a88 || words[18] !== 0xd1310ba6) throw new Error("bcrypt: pi digits are wrong");
    PI_WORDS = words;
    return words;
}

class Blowfish {
    constructor() {
        const w = piWords();
        this.P = w.slice(0, 18);
        this.S = [0, 1, 2, 3].map((i) => w.slice(18 + i * 256, 18 + (i + 1) * 256));
        this.l = 0;
        this.r = 0;
    }

    /**
     * Encrypts the block (l, r) in place in this.l/this.r; the hot loop of bcrypt, so no allocations.
     * @param {number} l
     * @param {number} r
     */
    encrypt(l, r) {
        const P = this.P;
        const [s0, s1, s2, s3] = this.S;
        for (let i = 0; i < 16; i += 2) {
            l ^= P[i];
            r ^= (((s0[l >>> 24] + s1[(l >>> 16) & 0xff]) ^ s2[(l >>> 8) & 0xff]) + s3[l & 0xff]) ^ P[i + 1];
            l ^= ((s0[r >>> 24] + s1[(r >>> 16) & 0xff]) ^ s2[(r >>> 8) & 0xff]) + s3[r & 0xff];
        }
        this.l = (r ^ P[17]) >>> 0;
        this.r = (l ^ P[16]) >>> 0;
    }

    /**
     * Blowfish ExpandKey with an optional salt (bcrypt's "ExpandKey(state, salt, key)").
     * @param {Buffer} key
     * @param {Buffer | null} salt
     */
    expand(key, salt) {
        let kp = 0;
        for (let i = 0; i < 18; i++) {
            let w = 0;
            for (let j = 0; j < 4; j++) {
                w = (w << 8) | key[kp];
                kp = kp + 1 === key.length ? 0 : kp + 1;
            }
            this.P[i] ^= w;
        }
        let sp = 0;
        const saltWord = () => {
            let w = 0;
            for (let j = 0; j < 4; j++) {
                w = (w << 8) | /** @type {Buffer} */ (salt)[sp];
                sp = sp + 1 === /** @type {Buffer} */ (salt).length ? 0 : sp + 1;
            }
            return w;
        };
        this.l = 0;
        this.r = 0;
        /** @param {Uint32Array} arr */
        const fill = (arr) => {
            for (let i = 0; i < arr.length; i += 2) {
                if (salt) this.encrypt(this.l ^ saltWord(), this.r ^ saltWord());
                else this.encrypt(this.l, this.r);
                arr[i] = this.l;
                arr[i + 1] = this.r;
            }
        };
        fill(this.P);
        for (const box of this.S) fill(box);
    }
}

const ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** bcrypt's base64 variant (own alphabet, no padding). @param {Buffer} buf */
function encode64(buf) {
    let out = "";
    for (let i = 0; i < buf.length; i += 3) {
        const b0 = buf[i];
        const b1 = i + 1 < buf.length ? buf[i + 1] : 0;
        const b2 = i + 2 < buf.length ? buf[i + 2] : 0;
        out += ALPHABET[b0 >> 2] + ALPHABET[((b0 & 3) << 4) | (b1 >> 4)];
        if (i + 1 < buf.length) out += ALPHABET[((b1 & 15) << 2) | (b2 >> 6)];
        if (i + 2 < buf.length) out += ALPHABET[b2 & 63];
    }
    return out;
}

/** @param {string} s */
function decode64(s) {
    const vals = [...s].map((c) => {
        const v = ALPHABET.indexOf(c);
        if (v < 0) throw new Error(`bcrypt: invalid salt character ${JSON.stringify(c)}`);
        return v;
    });
    const out = [];
    for (let i = 0; i < vals.length; i += 4) {
        const [a, b, c, d] = [vals[i], vals[i + 1], vals[i + 2], vals[i + 3]];
        out.push(((a << 2) | (b >> 4)) & 0xff);
        if (c !== undefined) out.push(((b << 4) | (c >> 2)) & 0xff);
        if (d !== undefined) out.push(((c << 6) | d) & 0xff);
    }
    return Buffer.from(out);
}

/**
 * bcrypt hash of `password` ($2a$, like Go). Only the first 72 bytes count, as the random provider documents
 * for bcrypt_hash. `salt` is the 22-character encoded salt (random when omitted).
 * @param {string} password
 * @param {number} [cost]
 * @param {string} [salt]
 */
function hash(password, cost = 10, salt) {
    if (cost < 4 || cost > 31) throw new Error(`bcrypt: cost ${cost} is outside 4..31`);
    const saltStr = salt ?? encode64(crypto.randomBytes(16));
    const saltBytes = decode64(saltStr).subarray(0, 16);
    const key = Buffer.concat([Buffer.from(password, "utf8").subarray(0, 72), Buffer.from([0])]).subarray(0, 72);
    const bf = new Blowfish();
    bf.expand(key, saltBytes);
    for (let i = 0, rounds = 2 ** cost; i < rounds; i++) {
        bf.expand(key, null);
        bf.expand(saltBytes, null);
    }
    const ctext = Buffer.from("OrpheanBeholderScryDoubt", "latin1");
    const words = [];
    for (let i = 0; i < 6; i++) words.push(ctext.readUInt32BE(i * 4));
    for (let i = 0; i < 64; i++) {
        for (let j = 0; j < 6; j += 2) {
            bf.encrypt(words[j], words[j + 1]);
            words[j] = bf.l;
            words[j + 1] = bf.r;
        }
    }
    const out = Buffer.alloc(24);
    words.forEach((w, i) => out.writeUInt32BE(w, i * 4));
    return `$2a$${String(cost).padStart(2, "0")}$${saltStr.slice(0, 22)}${encode64(out.subarray(0, 23))}`;
}

/**
 * Constant-time check of `password` against a $2a$/$2b$/$2y$ hash.
 * @param {string} password
 * @param {string} hashed
 */
function compare(password, hashed) {
    const m = /^\$2[aby]\$(\d\d)\$([./A-Za-z0-9]{22})[./A-Za-z0-9]{31}$/.exec(hashed);
    if (!m) return false;
    const again = hash(password, Number(m[1]), m[2]).slice(7);
    const a = Buffer.from(again);
    const b = Buffer.from(hashed.slice(7));
    return a.length === b.length && crypto.timingSafeEqual(a, b);
}

module.exports = { hash, compare };
