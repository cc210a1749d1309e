/**
 * The connections every handler uses, built lazily from the configured stack config (+ environment) and
 * shared by all resources the provider host serves: one PVE client per auth kind, one SSH target (the
 * pool behind it keeps one connection per host).
 */
import { PveClient, resolveConnection, readSetting, settingLabel, PveConnectionSettings } from "../proxmox";
import { SshTarget } from "../ssh";
import { getConfig } from "./config";

export const SSH_SETTINGS = {
    host: { key: "sshHost", env: "PVE_SSH_HOST" },
    port: { key: "sshPort", env: "PVE_SSH_PORT" },
    user: { key: "sshUser", env: "PVE_SSH_USER" },
    privateKey: { key: "sshPrivateKey", env: "PVE_SSH_PRIVATE_KEY" },
    hostKeyFingerprint: { key: "sshHostKeyFingerprint", env: "PVE_SSH_HOST_KEY_FINGERPRINT" },
    knownHosts: { key: "sshKnownHosts", env: "PVE_SSH_KNOWN_HOSTS" },
} as const;

interface Cache {
    settings?: PveConnectionSettings;
    client?: PveClient;
    rootClient?: PveClient;
    ssh?: SshTarget;
}
let cache: Cache = {};

/** Forgets every connection (tests reconfigure between cases). */
export function resetContext(): void {
    cache = {};
}

export function connectionSettings(): PveConnectionSettings {
    cache.settings ??= resolveConnection(getConfig());
    return cache.settings;
}

/**
 * How long to wait for a PVE task of a kind whose default is `defaultMs`: `pveTaskTimeoutSeconds` when the stack
 * sets it (slow storage, big templates, or a test that wants the timeout path), else the kind's default.
 */
export function taskTimeoutMs(defaultMs: number): number {
    return connectionSettings().taskTimeoutMs ?? defaultMs;
}

/** The client for ordinary operations: the API token when configured, else a root@pam (or other user) ticket. */
export function pve(): PveClient {
    cache.client ??= new PveClient(connectionSettings());
    return cache.client;
}

/** True when root-only operations are possible (a password for root@pam is configured). */
export function canActAsRoot(): boolean {
    const s = connectionSettings();
    return s.password !== undefined && s.username === "root@pam";
}

/**
 * The root@pam ticket client for what PVE reserves to root@pam (privileged containers, feature flags other than
 * nesting). API tokens never count as root@pam, so a token-only configuration cannot do these: say how to fix it.
 */
export function rootPve(why: string): PveClient {
    if (!canActAsRoot()) {
        throw new Error(
            `${why} is only allowed for root@pam in Proxmox VE, and API tokens never count as root@pam. ` +
                `Set ${settingLabel({ key: "pvePassword", env: "PVE_PASSWORD" })} to root@pam's password ` +
                `(and leave ${settingLabel({ key: "pveUsername", env: "PVE_USERNAME" })} at root@pam).`,
        );
    }
    cache.rootClient ??= new PveClient(connectionSettings(), { auth: "ticket" });
    return cache.rootClient;
}

/** The SSH target for `pct` on the node; every problem names its config key and environment variable. */
export function sshTarget(): SshTarget {
    if (cache.ssh) return cache.ssh;
    const config = getConfig();
    const read = (s: { key: string; env: string }) => readSetting(config, process.env, s);
    const problems: string[] = [];
    let host = read(SSH_SETTINGS.host);
    if (!host) {
        const endpoint = read({ key: "pveEndpoint", env: "PVE_ENDPOINT" });
        try {
            host = endpoint ? new URL(endpoint).hostname : undefined;
        } catch {
            host = undefined;
        }
    }
    if (!host) problems.push(`${settingLabel(SSH_SETTINGS.host)}: missing (and no pveEndpoint to take the host from)`);
    const portText = read(SSH_SETTINGS.port) ?? "22";
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        problems.push(`${settingLabel(SSH_SETTINGS.port)}: must be a port number 1-65535, got '${portText}'`);
    }
    const privateKey = read(SSH_SETTINGS.privateKey)?.replace(/\\n/g, "\n");
    if (!privateKey)
        problems.push(`${settingLabel(SSH_SETTINGS.privateKey)}: missing; set it with pulumi config set --secret`);
    const hostKeyFingerprint = read(SSH_SETTINGS.hostKeyFingerprint);
    const knownHosts = read(SSH_SETTINGS.knownHosts);
    if (!hostKeyFingerprint && !knownHosts) {
        problems.push(
            `${settingLabel(SSH_SETTINGS.hostKeyFingerprint)} or ${settingLabel(SSH_SETTINGS.knownHosts)}: missing; ` +
                "the node's SSH host key must be pinned (run `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the node)",
        );
    }
    if (problems.length > 0) throw new Error(`SSH settings invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    cache.ssh = {
        host: host as string,
        port,
        username: read(SSH_SETTINGS.user) ?? "root",
        privateKey: privateKey as string,
        hostKeyFingerprint,
        knownHosts,
    };
    return cache.ssh;
}
