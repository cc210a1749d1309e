import { lines, managedBy } from "./common";
import { PROXBOX_PATHS } from "./systemd";

export interface ProxboxEnvArgs {
    stack: string;
    /** Fernet key: urlsafe base64 of 32 random bytes (44 characters with padding). */
    encryptionKey: string;
}

const FERNET_KEY = /^[A-Za-z0-9_-]{43}=$/;

/**
 * `/etc/proxbox-api/proxbox-api.env`. Secret: mode 0600. The encryption key makes proxbox-api store Proxmox
 * and NetBox credentials encrypted; PROXBOX_ALLOW_PLAINTEXT_CREDENTIALS is never set, so without a key it
 * refuses to start rather than store them in clear.
 */
export function renderProxboxEnv(a: ProxboxEnvArgs): string {
    if (!FERNET_KEY.test(a.encryptionKey)) {
        throw new Error("renderProxboxEnv: the encryption key must be a Fernet key (urlsafe base64 of 32 bytes)");
    }
    return lines(
        managedBy(a.stack),
        "# Secret: mode 0600. Read by systemd (EnvironmentFile=) before it starts proxbox-api.",
        "PROXBOX_BIND_HOST=127.0.0.1",
        `PROXBOX_DATABASE_PATH=${PROXBOX_PATHS.data}/database.db`,
        "# X-Forwarded-For is honoured from the local nginx only.",
        "PROXBOX_TRUSTED_PROXIES=127.0.0.1/32",
        `PROXBOX_ENCRYPTION_KEY=${a.encryptionKey}`,
    );
}

/** RandomBytes gives standard base64; Fernet wants the URL-safe alphabet (same length, same padding). */
export function fernetKeyFromBase64(standardBase64: string): string {
    return standardBase64.replace(/\+/g, "-").replace(/\//g, "_");
}
