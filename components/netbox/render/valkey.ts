import { lines, managedBy } from "./common";
import { valkeyMaxMemoryMb } from "./tuning";

/** Where the password lives: a separate small file, so the main config stays non-secret and diffable. */
export const VALKEY_AUTH_FILE = "/etc/valkey/valkey-auth.conf";

export interface ValkeyConfArgs {
    stack: string;
    /** The cache container's backend address: the only address Valkey listens on. */
    bindAddress: string;
    /** Default 6379. */
    port?: number;
    /** The cache container's memory in MiB; maxmemory is 75 % of it. */
    memoryMiB: number;
    /** Default VALKEY_AUTH_FILE. */
    authFile?: string;
    /** Working directory (RDB snapshots). Default `/var/lib/valkey` (Debian's, which its unit may write). */
    dataDir?: string;
}

/**
 * `/etc/valkey/valkey.conf` (Debian's valkey-server reads it; its unit adds `--supervised systemd --daemonize no`).
 * The password is `include`d from `authFile` (mode 0640, root:valkey): a preview shows changes to this file in
 * clear, and the secret sits in a file that only root and the service can read.
 */
export function renderValkeyConf(a: ValkeyConfArgs): string {
    return lines(
        managedBy(a.stack),
        "",
        "# The backend network only. Protected mode stays on and every client must authenticate (NetBox sends the",
        "# password from its REDIS settings).",
        `bind ${a.bindAddress}`,
        `port ${a.port ?? 6379}`,
        "protected-mode yes",
        "tcp-keepalive 300",
        "timeout 0",
        "",
        "daemonize no",
        "pidfile /run/valkey/valkey-server.pid",
        "loglevel notice",
        'logfile ""',
        "",
        "# NetBox uses database 0 for its task queues and 1 for caching.",
        "databases 16",
        "",
        `# 75 % of the container's ${a.memoryMiB} MiB; least recently used keys go first (document 000).`,
        `maxmemory ${valkeyMaxMemoryMb(a.memoryMiB)}mb`,
        "maxmemory-policy allkeys-lru",
        "",
        "# RDB snapshots (document 000).",
        "save 900 1",
        "save 300 10",
        "save 60 10000",
        "dbfilename dump.rdb",
        `dir ${a.dataDir ?? "/var/lib/valkey"}`,
        "",
        `include ${a.authFile ?? VALKEY_AUTH_FILE}`,
    );
}

/** Passwords we write into a config line: RandomPassword without specials, so nothing needs quoting. */
const CONF_SAFE = /^[A-Za-z0-9]+$/;

/** The included auth file: `requirepass`. Secret. */
export function renderValkeyAuth(stack: string, password: string): string {
    if (!CONF_SAFE.test(password)) throw new Error("renderValkeyAuth: the password must be alphanumeric");
    return lines(managedBy(stack), "# Secret: mode 0640, root:valkey.", `requirepass ${password}`);
}
