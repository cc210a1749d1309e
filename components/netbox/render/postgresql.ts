import { lines, managedBy } from "./common";
import { postgresTuning } from "./tuning";

export interface PostgresConfArgs {
    /** Component name, for the header. */
    stack: string;
    /** The db container's backend address: the only address PostgreSQL listens on. */
    listenAddress: string;
    /** Default 5432. */
    port?: number;
    /** The db container's memory in MiB; the tuning follows it. */
    memoryMiB: number;
}

/**
 * `/etc/postgresql/<v>/main/conf.d/50-netbox.conf`. Debian's postgresql.conf ends with `include_dir = 'conf.d'`,
 * so these settings win over the packaged defaults without editing the packaged file.
 */
export function renderPostgresConf(a: PostgresConfArgs): string {
    const t = postgresTuning(a.memoryMiB);
    return lines(
        managedBy(a.stack),
        "",
        "# The backend network only: the app reaches PostgreSQL there, and nothing else has a reason to. LXC",
        "# configures the address before init starts, so it exists when PostgreSQL binds at boot.",
        `listen_addresses = '${a.listenAddress}'`,
        `port = ${a.port ?? 5432}`,
        `max_connections = ${t.maxConnections}`,
        "",
        `# Memory, sized from the container's ${a.memoryMiB} MiB (document 000: 25 % and 75 % of RAM).`,
        `shared_buffers = ${t.sharedBuffersMb}MB`,
        `effective_cache_size = ${t.effectiveCacheSizeMb}MB`,
        `work_mem = ${t.workMemMb}MB`,
        `maintenance_work_mem = ${t.maintenanceWorkMemMb}MB`,
        "",
        "# Passwords are stored as SCRAM verifiers; pg_hba.conf accepts nothing weaker over the network.",
        "password_encryption = scram-sha-256",
    );
}

export interface PgHbaArgs {
    stack: string;
    database: string;
    user: string;
    /** The app container's backend address: the only client allowed over the network. */
    appAddress: string;
}

/** Column layout of Debian's pg_hba.conf, so the file reads like the packaged one. */
function hbaLine(type: string, db: string, user: string, address: string, method: string): string {
    return `${type.padEnd(8)}${db.padEnd(16)}${user.padEnd(16)}${address.padEnd(24)}${method}`.trimEnd();
}

/** `/etc/postgresql/<v>/main/pg_hba.conf`: local peer administration, and NetBox's role from the app only. */
export function renderPgHba(a: PgHbaArgs): string {
    return lines(
        managedBy(a.stack),
        hbaLine("# TYPE", "DATABASE", "USER", "ADDRESS", "METHOD"),
        "",
        "# Administration over the Unix socket, as Debian ships it (runuser -u postgres -- psql).",
        hbaLine("local", "all", "postgres", "", "peer"),
        hbaLine("local", "all", "all", "", "peer"),
        "",
        "# NetBox: its own database and role, from the app container's backend address only, SCRAM only.",
        hbaLine("host", a.database, a.user, `${a.appAddress}/32`, "scram-sha-256"),
    );
}
