import { createHash } from "node:crypto";

const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const MAGIC = "$apr1$";

/** Characters an apr1 salt may hold (the crypt base-64 alphabet). */
export const APR1_SALT = /^[./0-9A-Za-z]{1,8}$/;

function md5(...parts: Buffer[]): Buffer {
    const h = createHash("md5");
    for (const p of parts) h.update(p);
    return h.digest();
}

function to64(v: number, n: number): string {
    let out = "";
    for (let i = 0; i < n; i++) {
        out += ITOA64[v & 0x3f];
        v >>>= 6;
    }
    return out;
}

/**
 * Apache's `$apr1$` MD5-crypt, as `openssl passwd -apr1` and `htpasswd -m` make it. nginx verifies it with its own
 * implementation (no dependency on the C library's crypt), which is why it is used for the basic-auth file. The
 * salt comes from a generated random string, so the same password and salt give the same line on every deploy.
 */
export function apr1Hash(password: string, salt: string): string {
    if (!APR1_SALT.test(salt)) throw new Error("apr1 salt must be 1-8 characters of [./0-9A-Za-z]");
    const pw = Buffer.from(password, "utf8");
    const s = Buffer.from(salt, "ascii");
    const ctx = createHash("md5");
    ctx.update(pw);
    ctx.update(MAGIC);
    ctx.update(s);
    let fin = md5(pw, s, pw);
    for (let pl = pw.length; pl > 0; pl -= 16) ctx.update(fin.subarray(0, Math.min(pl, 16)));
    for (let i = pw.length; i > 0; i >>= 1) ctx.update(i & 1 ? Buffer.from([0]) : pw.subarray(0, 1));
    fin = ctx.digest();
    for (let i = 0; i < 1000; i++) {
        const parts: Buffer[] = [i & 1 ? pw : fin];
        if (i % 3) parts.push(s);
        if (i % 7) parts.push(pw);
        parts.push(i & 1 ? fin : pw);
        fin = md5(...parts);
    }
    const f = fin;
    const enc =
        to64((f[0] << 16) | (f[6] << 8) | f[12], 4) +
        to64((f[1] << 16) | (f[7] << 8) | f[13], 4) +
        to64((f[2] << 16) | (f[8] << 8) | f[14], 4) +
        to64((f[3] << 16) | (f[9] << 8) | f[15], 4) +
        to64((f[4] << 16) | (f[10] << 8) | f[5], 4) +
        to64(f[11], 2);
    return `${MAGIC}${salt}$${enc}`;
}

/** One `user:hash` line for nginx's auth_basic_user_file. */
export function renderHtpasswd(user: string, password: string, salt: string): string {
    if (!/^[^:\s]+$/.test(user)) throw new Error("basic-auth user must not contain ':' or whitespace");
    return `${user}:${apr1Hash(password, salt)}\n`;
}
