import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { engineBinDir } from "../../scripts/engine";
import type { World } from "./world";

/** The marker Pulumi puts on a secret value in a deployment (`sig.Secret`). */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Runs the engine's own CLI on the world's stack (same backend, passphrase and PULUMI_HOME). */
export function pulumiCli(world: World, args: string[]): string {
    return execFileSync(path.join(engineBinDir(), "pulumi"), [...args, "--stack", "dev", "--non-interactive"], {
        cwd: world.engine.workDir,
        env: { ...process.env, ...world.engine.env },
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
    });
}

/**
 * Every secret value the deployment holds, in plain text, read with `stack export --show-secrets`: generated
 * passwords and keys, token values, and the secret config (PVE credentials, SSH key).
 */
export function secretValues(world: World): string[] {
    const found = new Set<string>();
    // `name`: the property a value sits under, which tells a password from an e-mail address kept secret beside it.
    const walk = (v: unknown, name: string): void => {
        if (Array.isArray(v)) return v.forEach((x) => walk(x, name));
        if (v && typeof v === "object") {
            const o = v as Record<string, unknown>;
            if (o["4dabf18193072939515e22adb298388d"] === SECRET_SIG && "plaintext" in o) {
                addSecret(found, JSON.parse(String(o.plaintext)) as unknown, name);
                return;
            }
            for (const [k, x] of Object.entries(o)) walk(x, k);
        }
    };
    walk(JSON.parse(pulumiCli(world, ["stack", "export", "--show-secrets"])), "");
    const config = JSON.parse(pulumiCli(world, ["config", "--show-secrets", "--json"])) as Record<
        string,
        { value?: string; secret?: boolean }
    >;
    for (const entry of Object.values(config)) if (entry.secret && entry.value) addSecret(found, entry.value, "secret");
    return [...found];
}

/**
 * A secret's leaf strings. Inside a secret object or list (an Exec's `environment` is secret as a whole once one
 * value is), only leaves under secret-sounding names count: an e-mail address beside a password is not a secret.
 */
function addSecret(found: Set<string>, value: unknown, name: string): void {
    if (typeof value === "string") {
        if (!/pass|secret|token|key|value|result|private|cred/i.test(name)) return;
        // Shorter strings (an Exec's "created" output) occur in plain text by chance; every generated secret is longer.
        if (value.length >= 12) found.add(value);
        // An API token `user@realm!id=SECRET`: the secret part alone must not appear either.
        const token = /^[^=\s]+![^=\s]+=(\S{8,})$/.exec(value);
        if (token) found.add(token[1]);
        // A private key also by its first base64 line. Not every line: EC and OpenSSH private keys embed the public
        // key, which is rightly in plain text as the key resource's public output.
        if (value.includes("-----BEGIN")) {
            const body = value.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("-----"));
            if (body[0] && body[0].length >= 24) found.add(body[0].trim());
        }
    } else if (Array.isArray(value)) value.forEach((x) => addSecret(found, x, name));
    else if (value && typeof value === "object") {
        for (const [k, x] of Object.entries(value)) addSecret(found, x, k);
    }
}

/** The places a secret must never appear in plain text, as named texts. */
export function plainTexts(world: World): Record<string, string> {
    return {
        "exported state": pulumiCli(world, ["stack", "export"]),
        "engine output": world.output.join(""),
        "engine event log": world.events.join("\n"),
        "simulator request log": JSON.stringify(world.sim.requestLog.all()),
        "SSH journal argv": JSON.stringify(world.sim.sshJournal.map((e) => e.argv)),
    };
}

/**
 * `where: secret…` for every secret found in a plain text (the secret shortened so the report is no leak); in
 * JSON texts, also the property path where it was found.
 */
export function leaks(secrets: string[], texts: Record<string, string>): string[] {
    const out: string[] = [];
    for (const [where, text] of Object.entries(texts)) {
        let json: unknown;
        try {
            json = JSON.parse(text);
        } catch {
            json = undefined;
        }
        for (const s of secrets) {
            if (!text.includes(s)) continue;
            const at = json === undefined ? [] : pathsOf(json, s);
            out.push(
                `${where}: ${s.slice(0, 4)}… (${s.length} chars)${at.length ? ` at ${at.slice(0, 3).join(", ")}` : ""}`,
            );
        }
    }
    return out;
}

function pathsOf(v: unknown, needle: string, at = ""): string[] {
    if (typeof v === "string") return v.includes(needle) ? [at] : [];
    if (Array.isArray(v)) return v.flatMap((x, i) => pathsOf(x, needle, `${at}[${i}]`));
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        const name = typeof o.urn === "string" ? `${o.urn.split("::").pop()}` : "";
        return Object.entries(o).flatMap(([k, x]) => pathsOf(x, needle, name ? `${name}.${k}` : `${at}.${k}`));
    }
    return [];
}
