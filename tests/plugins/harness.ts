// Helpers for the stand-in plugin tests: where things are, a private temp dir, and openssl.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { engineCacheDir } from "../../scripts/engine";

export const PLUGINS_DIR = __dirname;
export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const PLUGINS_BIN = path.join(PLUGINS_DIR, "bin");
// The CLI built by `npm run engine:install` (scripts/engine.ts), cached outside the checkout.
export const ENGINE_ROOT = engineCacheDir();
export const ENGINE_BIN = path.join(ENGINE_ROOT, "bin");

/** The Pulumi wire sentinels the tests look for in provider responses and exported state. */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretValue(v: unknown): v is { value?: unknown; ciphertext?: string } {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/**
 * A 0700 temp dir removed by the returned cleanup, and at process exit at the latest (it may hold private keys
 * and a stack's state).
 */
export function privateTempDir(prefix: string): { dir: string; cleanup: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.chmodSync(dir, 0o700);
    const cleanup = () => {
        fs.rmSync(dir, { recursive: true, force: true });
        process.removeListener("exit", cleanup);
    };
    process.on("exit", cleanup);
    return { dir, cleanup };
}

export function hasCommand(cmd: string): boolean {
    try {
        execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/** Runs openssl and returns stdout; stderr is included in the thrown error. */
export function openssl(args: string[], input?: string): string {
    return execFileSync("openssl", args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

/** Writes `content` to `dir/name` with owner-only permissions and returns the path. */
export function writePrivate(dir: string, name: string, content: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    return file;
}

/** Facts about a PEM certificate, read with openssl (independent of the stand-in's own parser). */
export function certFacts(certFile: string): {
    text: string;
    subject: string;
    notBefore: Date;
    notAfter: Date;
    pubkey: string;
} {
    const text = openssl(["x509", "-in", certFile, "-noout", "-text"]);
    const subject = openssl(["x509", "-in", certFile, "-noout", "-subject", "-nameopt", "RFC2253"])
        .replace(/^subject=/, "")
        .trim();
    const dates = openssl(["x509", "-in", certFile, "-noout", "-startdate", "-enddate"]);
    const notBefore = new Date(/notBefore=(.*)/.exec(dates)?.[1] ?? "");
    const notAfter = new Date(/notAfter=(.*)/.exec(dates)?.[1] ?? "");
    const pubkey = openssl(["x509", "-in", certFile, "-noout", "-pubkey"]);
    return { text, subject, notBefore, notAfter, pubkey };
}
