/**
 * Pinned host-key verification. The PVE host is reached as root, so trust-on-first-use is not offered: the
 * configuration must name the key (a fingerprint or a known_hosts line) or no connection is made.
 */
import { createHash, createHmac } from "node:crypto";
import { HostKeyMismatchError, SshConfigError } from "./errors";

/** Stack-config keys and environment variables a user sets to pin the host key (ARCHITECTURE.md). */
export const FINGERPRINT_CONFIG_KEY = "proxmox-homelab:sshHostKeyFingerprint";
export const FINGERPRINT_ENV = "PVE_SSH_HOST_KEY_FINGERPRINT";
export const KNOWN_HOSTS_CONFIG_KEY = "proxmox-homelab:sshKnownHosts";
export const KNOWN_HOSTS_ENV = "PVE_SSH_KNOWN_HOSTS";

/** What a connection may accept as the server's host key. */
export interface HostKeyPolicy {
    /** Accepted fingerprints, `SHA256:<base64 without padding>`. */
    readonly accepted: readonly string[];
    /** Keys a known_hosts `@revoked` line rejects even if they are also listed as accepted. */
    readonly revoked: readonly string[];
    /**
     * Host-key algorithms to negotiate, when the pin names key types. A server holds several host keys (PVE:
     * RSA, ECDSA, Ed25519) and presents only the one the negotiation picks, so offering only the pinned types
     * makes it present the pinned key. Undefined: ssh2's default order (Ed25519 first, as OpenSSH's client).
     */
    readonly algorithms?: readonly string[];
    /** The config key the pin came from, for error messages. */
    readonly source: string;
}

/** Where the host key pin comes from: set at least one. */
export interface HostKeyPinConfig {
    /** `SHA256:…` as `ssh-keygen -lf` prints it (the whole output line is fine too); several separated by `,`. */
    hostKeyFingerprint?: string;
    /** One or more known_hosts lines; lines for other hosts are ignored. */
    knownHosts?: string;
}

const KEY_TYPE_ALGORITHMS: Record<string, readonly string[]> = {
    "ssh-ed25519": ["ssh-ed25519"],
    "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
    "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
    "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"],
    "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
    "ssh-dss": ["ssh-dss"],
};

/** The `(TYPE)` suffix of `ssh-keygen -lf` output, mapped to key types. */
const KEYGEN_TYPE_SUFFIX: Record<string, readonly string[]> = {
    ED25519: ["ssh-ed25519"],
    ECDSA: ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"],
    RSA: ["ssh-rsa"],
    DSA: ["ssh-dss"],
};

/** OpenSSH's fingerprint of a raw public-key blob: `SHA256:` + base64 of its SHA-256, without padding. */
export function fingerprintOfKey(blob: Buffer): string {
    return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The key type a public-key blob declares in its first field (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyTypeOfBlob(blob: Buffer): string {
    if (blob.length < 4) return "unknown";
    const len = blob.readUInt32BE(0);
    if (len > 64 || blob.length < 4 + len) return "unknown";
    return blob.subarray(4, 4 + len).toString("latin1");
}

/**
 * Normalises one fingerprint to `SHA256:<base64 without padding>`. Accepts the `ssh-keygen -lf` form and the
 * bare base64 (with or without `=` padding). Throws for MD5 and anything that is not 32 bytes of base64.
 */
export function normalizeFingerprint(input: string): string {
    let s = input.trim();
    if (/^MD5:/i.test(s) || /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(s)) {
        throw new SshConfigError(
            `${FINGERPRINT_CONFIG_KEY}: MD5 fingerprints are not accepted; use the SHA-256 one ` +
                "(ssh-keygen -E sha256 -lf /etc/ssh/ssh_host_ed25519_key.pub on the PVE host)",
        );
    }
    if (/^SHA256:/i.test(s)) s = s.slice("SHA256:".length);
    s = s.replace(/=+$/, "");
    if (!/^[A-Za-z0-9+/]{43}$/.test(s) || Buffer.from(s, "base64").length !== 32) {
        throw new SshConfigError(
            `${FINGERPRINT_CONFIG_KEY}: expected SHA256:<43 base64 characters> as ssh-keygen -lf prints it, got ${JSON.stringify(input.trim())}`,
        );
    }
    return "SHA256:" + s;
}

/**
 * Parses the fingerprint setting: one or more `SHA256:…` (or bare base64) separated by commas or whitespace, or
 * whole `ssh-keygen -lf` output lines (`256 SHA256:… root@pve (ED25519)`), whose key-type suffix then restricts
 * the negotiated host-key algorithm so the server presents that key.
 */
export function parseFingerprintSetting(text: string): { fingerprints: string[]; keyTypes?: string[] } {
    const fingerprints: string[] = [];
    const keyTypes = new Set<string>();
    let everyLineTyped = true;
    for (const rawLine of text.split(/\r?\n/)) {
        const line = rawLine.trim();
        if (line === "" || line.startsWith("#")) continue;
        const keygen = /^\d+\s+(SHA256:[A-Za-z0-9+/=]+)\s+.*\(([A-Z0-9-]+)\)$/.exec(line);
        if (keygen) {
            fingerprints.push(normalizeFingerprint(keygen[1]));
            const types = KEYGEN_TYPE_SUFFIX[keygen[2]];
            if (types) types.forEach((t) => keyTypes.add(t));
            else everyLineTyped = false;
            continue;
        }
        everyLineTyped = false;
        for (const token of line.split(/[\s,]+/)) {
            if (token !== "") fingerprints.push(normalizeFingerprint(token));
        }
    }
    if (fingerprints.length === 0) {
        throw new SshConfigError(`${FINGERPRINT_CONFIG_KEY}: no fingerprint found in the value`);
    }
    return everyLineTyped && keyTypes.size > 0 ? { fingerprints, keyTypes: [...keyTypes] } : { fingerprints };
}

/** How OpenSSH names a host in known_hosts: the bare name on port 22, `[name]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
    return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
    const body = pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".");
    return new RegExp(`^${body}$`, "i");
}

function hashedHostMatches(entry: string, name: string): boolean {
    // |1|base64(salt)|base64(HMAC-SHA1(salt, name)), as `ssh-keygen -H` writes it.
    const parts = entry.split("|");
    if (parts.length !== 4 || parts[1] !== "1") return false;
    const salt = Buffer.from(parts[2], "base64");
    const want = Buffer.from(parts[3], "base64");
    const got = createHmac("sha1", salt).update(name).digest();
    return want.length === got.length && want.equals(got);
}

/** known_hosts host-field matching: comma-separated patterns with `*`/`?`, `!` negation, hashed entries. */
export function knownHostsFieldMatches(field: string, name: string): boolean {
    if (field.startsWith("|")) return hashedHostMatches(field, name);
    let matched = false;
    for (const pattern of field.split(",")) {
        if (pattern === "") continue;
        const negated = pattern.startsWith("!");
        const p = negated ? pattern.slice(1) : pattern;
        if (globToRegExp(p).test(name)) {
            if (negated) return false;
            matched = true;
        }
    }
    return matched;
}

interface KnownHostsEntry {
    marker?: "revoked" | "cert-authority";
    hosts: string;
    keyType: string;
    fingerprint: string;
}

function parseKnownHostsLine(line: string, lineNo: number): KnownHostsEntry {
    const fields = line.split(/\s+/);
    let marker: KnownHostsEntry["marker"];
    if (fields[0].startsWith("@")) {
        const m = fields.shift()!.slice(1);
        if (m !== "revoked" && m !== "cert-authority") {
            throw new SshConfigError(`${KNOWN_HOSTS_CONFIG_KEY}: line ${lineNo}: unknown marker @${m}`);
        }
        marker = m;
    }
    if (fields.length < 3) {
        throw new SshConfigError(
            `${KNOWN_HOSTS_CONFIG_KEY}: line ${lineNo}: expected "host keytype base64key", got ${fields.length} field(s)`,
        );
    }
    const [hosts, keyType, b64] = fields;
    const blob = Buffer.from(b64, "base64");
    if (!/^[A-Za-z0-9+/]+=*$/.test(b64) || blob.length < 8 || keyTypeOfBlob(blob) !== keyType) {
        throw new SshConfigError(
            `${KNOWN_HOSTS_CONFIG_KEY}: line ${lineNo}: the base64 key is not a valid ${keyType} public key`,
        );
    }
    return { marker, hosts, keyType, fingerprint: fingerprintOfKey(blob) };
}

/**
 * Builds the policy from the pin settings for one endpoint. Throws `SshConfigError` naming the config keys to
 * set when nothing is pinned, and when a known_hosts text has no line for this host.
 */
export function hostKeyPolicy(pin: HostKeyPinConfig, host: string, port: number): HostKeyPolicy {
    const fingerprintText = pin.hostKeyFingerprint?.trim() ?? "";
    const knownHostsText = pin.knownHosts?.trim() ?? "";
    if (fingerprintText === "" && knownHostsText === "") {
        throw new SshConfigError(
            `no SSH host key is pinned for ${host}:${port}, and keys are never trusted on first use: set ` +
                `${FINGERPRINT_CONFIG_KEY} (env ${FINGERPRINT_ENV}) to the output of ` +
                "`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the PVE host's console, " +
                `or ${KNOWN_HOSTS_CONFIG_KEY} (env ${KNOWN_HOSTS_ENV}) to its known_hosts line`,
        );
    }
    if (fingerprintText !== "") {
        const { fingerprints, keyTypes } = parseFingerprintSetting(fingerprintText);
        return {
            accepted: fingerprints,
            revoked: [],
            algorithms: keyTypes ? keyTypes.flatMap((t) => KEY_TYPE_ALGORITHMS[t] ?? []) : undefined,
            source: FINGERPRINT_CONFIG_KEY,
        };
    }
    const name = knownHostsName(host, port);
    const accepted: string[] = [];
    const revoked: string[] = [];
    const keyTypes = new Set<string>();
    const seenHosts: string[] = [];
    knownHostsText.split(/\r?\n/).forEach((raw, i) => {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) return;
        const entry = parseKnownHostsLine(line, i + 1);
        seenHosts.push(entry.hosts.startsWith("|") ? "(hashed)" : entry.hosts);
        if (!knownHostsFieldMatches(entry.hosts, name)) return;
        if (entry.marker === "revoked") {
            revoked.push(entry.fingerprint);
        } else if (entry.marker === undefined) {
            accepted.push(entry.fingerprint);
            keyTypes.add(entry.keyType);
        }
        // @cert-authority lines need host certificates, which ssh2 does not verify: they pin nothing here.
    });
    const usable = accepted.filter((fp) => !revoked.includes(fp));
    if (usable.length === 0) {
        throw new SshConfigError(
            `${KNOWN_HOSTS_CONFIG_KEY}: no usable key for ${name} (lines found for: ${seenHosts.join(" ") || "none"}); ` +
                "known_hosts names a host on a port other than 22 as [host]:port",
        );
    }
    const algorithms = [...keyTypes].flatMap((t) => KEY_TYPE_ALGORITHMS[t] ?? []);
    return {
        accepted: usable,
        revoked,
        algorithms: algorithms.length > 0 ? algorithms : undefined,
        source: KNOWN_HOSTS_CONFIG_KEY,
    };
}

/** The result of one verification, kept so the connect error can name what the server presented. */
export interface HostKeyObservation {
    fingerprint?: string;
    keyType?: string;
}

/**
 * An ssh2 `hostVerifier`: accepts exactly the pinned keys. It records what the server presented in
 * `observed`, because ssh2 reports a refusal only as `Host denied (verification failed)`.
 */
export function pinnedHostVerifier(policy: HostKeyPolicy, observed: HostKeyObservation): (key: Buffer) => boolean {
    return (key: Buffer): boolean => {
        const fingerprint = fingerprintOfKey(key);
        observed.fingerprint = fingerprint;
        observed.keyType = keyTypeOfBlob(key);
        return policy.accepted.includes(fingerprint) && !policy.revoked.includes(fingerprint);
    };
}

/** The error for a refused host key: names the endpoint, both fingerprints and what to do. */
export function hostKeyMismatchError(
    endpoint: string,
    policy: HostKeyPolicy,
    observed: HostKeyObservation,
): HostKeyMismatchError {
    const seen = observed.fingerprint ?? "(none)";
    const revoked = policy.revoked.includes(seen);
    const expected = policy.accepted.join(" or ");
    const message = revoked
        ? `SSH host key for ${endpoint} is REVOKED in ${policy.source}: the server presented ${observed.keyType} key ${seen}`
        : `SSH host key mismatch for ${endpoint}: the server presented ${observed.keyType} key ${seen}, but ` +
          `${policy.source} expects ${expected}. If the PVE host was reinstalled or its keys regenerated, check the ` +
          `new key on its console (ssh-keygen -lf /etc/ssh/ssh_host_${shortType(observed.keyType)}_key.pub) and ` +
          `update ${policy.source}; otherwise something is intercepting the connection. No credentials were sent.`;
    return new HostKeyMismatchError(message, endpoint, seen, policy.accepted);
}

function shortType(keyType: string | undefined): string {
    if (keyType === "ssh-ed25519") return "ed25519";
    if (keyType?.startsWith("ecdsa-")) return "ecdsa";
    if (keyType === "ssh-rsa") return "rsa";
    return "ed25519";
}
