/**
 * Connection settings for the PVE API, read from stack config (`proxmox-homelab:<key>`) with environment
 * variables taking precedence (docs/ARCHITECTURE.md, "Connection config"). Every problem is reported at once,
 * naming both the config key and the variable, because the user may have set either.
 */
import { z } from "zod";
import { PveConfigError } from "./errors";
import { normaliseFingerprint } from "./tls";

/** The config namespace (Pulumi project) every key lives under. */
export const CONFIG_NAMESPACE = "proxmox-homelab";

/** Anything with `get(key)`: the dynamic-provider host's Config, `pulumi.Config`, or a plain map in tests. */
export interface ConfigLike {
    get(key: string): string | undefined;
}

/** The PVE API settings (the SSH ones belong to providers/ssh). */
export const PVE_SETTINGS = {
    endpoint: { key: "pveEndpoint", env: "PVE_ENDPOINT" },
    apiToken: { key: "pveApiToken", env: "PVE_API_TOKEN" },
    username: { key: "pveUsername", env: "PVE_USERNAME" },
    password: { key: "pvePassword", env: "PVE_PASSWORD" },
    tlsFingerprint: { key: "pveTlsFingerprint", env: "PVE_TLS_FINGERPRINT" },
    caCert: { key: "pveCaCert", env: "PVE_CA_CERT" },
    insecure: { key: "pveInsecure", env: "PVE_INSECURE" },
    taskTimeout: { key: "pveTaskTimeoutSeconds", env: "PVE_TASK_TIMEOUT_SECONDS" },
} as const;

export type PveSettingName = keyof typeof PVE_SETTINGS;

/** `proxmox-homelab:pveApiToken (or PVE_API_TOKEN)`: how every message names a setting. */
export function settingLabel(setting: { key: string; env: string }): string {
    return `${CONFIG_NAMESPACE}:${setting.key} (or ${setting.env})`;
}

/**
 * Reads one setting: the environment variable wins, then `config.get("proxmox-homelab:<key>")`, then
 * `config.get("<key>")` (a `pulumi.Config("proxmox-homelab")` takes bare keys; the dynamic-provider host's
 * Config takes both). Empty strings count as unset, so `PVE_INSECURE=` in CI does not mean anything.
 */
export function readSetting(
    config: ConfigLike,
    env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>,
    setting: { key: string; env: string },
): string | undefined {
    const candidates = [env[setting.env], config.get(`${CONFIG_NAMESPACE}:${setting.key}`), config.get(setting.key)];
    for (const value of candidates) {
        if (value !== undefined && value.trim() !== "") return value;
    }
    return undefined;
}

/** An API token split into what the Authorization header needs. */
export interface PveApiToken {
    /** `user@realm!tokenid`: the identity PVE acts as (never `root@pam`, even for root's tokens). */
    tokenId: string;
    secret: string;
}

/** How the client verifies the server's certificate. At least one of `ca`/`fingerprint`, or `insecure`. */
export interface PveTlsSettings {
    /** PEM of the CA that signed the API certificate (e.g. the node's /etc/pve/pve-root-ca.pem). */
    ca?: string;
    /** SHA-256 of the API certificate in the canonical `AB:CD:...` form (64 hex digits, upper case). */
    fingerprint?: string;
    /** No verification at all; only when explicitly asked for. The client warns loudly. */
    insecure: boolean;
}

export interface PveConnectionSettings {
    /** `https://host:8006`: origin only, no trailing slash, no `/api2/json`. */
    endpoint: string;
    /** Present when `pveApiToken` is set. */
    token?: PveApiToken;
    /** Ticket-auth user, default `root@pam`. */
    username: string;
    /** Present when `pvePassword` is set; needed for root-only operations (tokens are never root@pam). */
    password?: string;
    tls: PveTlsSettings;
    /**
     * How long to wait for any one PVE task (container create, start, network apply, template download) before
     * giving up on it. Unset: each kind's own default (create 20 min, power 5 min, network apply 2 min,
     * download 30 min). The task itself is not stopped when we stop waiting.
     */
    taskTimeoutMs?: number;
}

/** Bounds of pveTaskTimeoutSeconds: at least a second, at most a day. */
export const TASK_TIMEOUT_SECONDS = { min: 1, max: 86_400 } as const;

/** `user@realm!tokenid=secret`; PVE splits the header value on its last `=`. */
const TOKEN_RE = /^([^\s@!=:]+@[A-Za-z][A-Za-z0-9.\-_]*![A-Za-z][A-Za-z0-9.\-_]+)=([^\s=]+)$/;
const USERID_RE = /^[^\s@:/]+@[A-Za-z][A-Za-z0-9.\-_]*$/;

const endpointSchema = z.string().transform((raw, ctx) => {
    let url: URL;
    try {
        url = new URL(raw.trim());
    } catch {
        ctx.addIssue({ code: "custom", message: `must be a URL like https://pve.example:8006, got '${raw}'` });
        return z.NEVER;
    }
    if (url.protocol !== "https:") {
        ctx.addIssue({ code: "custom", message: `must use https:// (PVE serves its API only over TLS), got '${raw}'` });
        return z.NEVER;
    }
    const path = url.pathname.replace(/\/+$/, "");
    if (path !== "" && path !== "/api2/json") {
        ctx.addIssue({ code: "custom", message: `must be the server origin without a path, got '${raw}'` });
        return z.NEVER;
    }
    if (url.username || url.password || url.search || url.hash) {
        ctx.addIssue({ code: "custom", message: "must not carry credentials, a query or a fragment" });
        return z.NEVER;
    }
    return url.origin;
});

const tokenSchema = z.string().transform((raw, ctx): PveApiToken => {
    const match = TOKEN_RE.exec(raw.trim());
    if (!match) {
        // Never echo the value: it is a secret.
        ctx.addIssue({ code: "custom", message: "must look like user@realm!tokenid=secret" });
        return z.NEVER;
    }
    return { tokenId: match[1], secret: match[2] };
});

const usernameSchema = z
    .string()
    .transform((s) => s.trim())
    .refine((s) => USERID_RE.test(s), { message: "must look like user@realm, e.g. root@pam" });

const fingerprintSchema = z.string().transform((raw, ctx) => {
    const normalised = normaliseFingerprint(raw);
    if (!normalised) {
        ctx.addIssue({
            code: "custom",
            message: `must be a SHA-256 fingerprint: 64 hex digits, colons optional (AB:CD:...), got '${raw}'`,
        });
        return z.NEVER;
    }
    return normalised;
});

const caSchema = z.string().transform((raw, ctx) => {
    // Environment variables often carry PEM with literal "\n" sequences instead of newlines.
    const pem = raw.includes("\n") ? raw : raw.replace(/\\n/g, "\n");
    if (!/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(pem)) {
        ctx.addIssue({ code: "custom", message: "must be a PEM certificate (-----BEGIN CERTIFICATE----- ...)" });
        return z.NEVER;
    }
    return pem;
});

/** Whole seconds; 0 (Pulumi.yaml's default) means unset. */
const taskTimeoutSchema = z.string().transform((raw, ctx): number | undefined => {
    const v = raw.trim();
    const n = Number(v);
    if (v === "0") return undefined;
    if (!/^\d+$/.test(v) || n < TASK_TIMEOUT_SECONDS.min || n > TASK_TIMEOUT_SECONDS.max) {
        ctx.addIssue({
            code: "custom",
            message:
                `must be a whole number of seconds from ${TASK_TIMEOUT_SECONDS.min} to ${TASK_TIMEOUT_SECONDS.max} ` +
                `(0: each kind's default), got '${raw}'`,
        });
        return z.NEVER;
    }
    return n * 1000;
});

const booleanSchema = z.string().transform((raw, ctx) => {
    const v = raw.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(v)) return true;
    if (["false", "0", "no", "off"].includes(v)) return false;
    ctx.addIssue({ code: "custom", message: `must be true or false, got '${raw}'` });
    return z.NEVER;
});

/**
 * Resolves and validates the PVE connection settings. Throws `PveConfigError` listing every problem, e.g.
 * `proxmox-homelab:pveApiToken (or PVE_API_TOKEN): must look like user@realm!tokenid=secret`.
 */
export function resolveConnection(
    config: ConfigLike,
    env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>> = process.env,
): PveConnectionSettings {
    const problems: string[] = [];
    const read = (name: PveSettingName) => readSetting(config, env, PVE_SETTINGS[name]);

    function parse<T>(name: PveSettingName, schema: z.ZodType<T, string>): T | undefined {
        const raw = read(name);
        if (raw === undefined) return undefined;
        const result = schema.safeParse(raw);
        if (result.success) return result.data;
        for (const issue of result.error.issues) problems.push(`${settingLabel(PVE_SETTINGS[name])}: ${issue.message}`);
        return undefined;
    }

    const endpoint = parse("endpoint", endpointSchema);
    if (read("endpoint") === undefined) {
        problems.push(`${settingLabel(PVE_SETTINGS.endpoint)}: missing; set it to the API URL, e.g. https://pve:8006`);
    }
    const token = parse("apiToken", tokenSchema);
    const username = parse("username", usernameSchema) ?? "root@pam";
    const password = read("password");
    if (read("apiToken") === undefined && password === undefined) {
        problems.push(
            `credentials missing: set ${settingLabel(PVE_SETTINGS.apiToken)} or ` +
                `${settingLabel(PVE_SETTINGS.password)} (with ${settingLabel(PVE_SETTINGS.username)}, default root@pam)`,
        );
    }
    const fingerprint = parse("tlsFingerprint", fingerprintSchema);
    const ca = parse("caCert", caSchema);
    const insecure = parse("insecure", booleanSchema) ?? false;
    const taskTimeoutMs = parse("taskTimeout", taskTimeoutSchema);
    if (insecure && (read("tlsFingerprint") !== undefined || read("caCert") !== undefined)) {
        problems.push(
            `${settingLabel(PVE_SETTINGS.insecure)}: conflicts with ${settingLabel(PVE_SETTINGS.tlsFingerprint)} / ` +
                `${settingLabel(PVE_SETTINGS.caCert)}; verify the certificate or disable verification, not both`,
        );
    }

    if (problems.length > 0 || endpoint === undefined) throw new PveConfigError(problems);
    const settings: PveConnectionSettings = { endpoint, username, tls: { insecure } };
    if (token) settings.token = token;
    if (password !== undefined) settings.password = password;
    if (ca !== undefined) settings.tls.ca = ca;
    if (fingerprint !== undefined) settings.tls.fingerprint = fingerprint;
    if (taskTimeoutMs !== undefined) settings.taskTimeoutMs = taskTimeoutMs;
    return settings;
}
