/**
 * Numbers derived from a container's memory. Document 000 gives its PostgreSQL and Valkey tuning for one size
 * (a 4 GiB database: shared_buffers 1GB, effective_cache_size 3GB, work_mem 16MB, maintenance_work_mem 256MB;
 * a 1 GiB cache: maxmemory 768mb). The fractions below reproduce those values at those sizes and scale them
 * for any other size, so overriding a container's memory keeps the tuning sensible.
 */

export interface PostgresTuning {
    /** 25 % of memory (document 000). */
    sharedBuffersMb: number;
    /** 75 % of memory (document 000). */
    effectiveCacheSizeMb: number;
    /** Memory / 256: 16MB at 4 GiB as in the document; at least 4MB (PostgreSQL's default). */
    workMemMb: number;
    /** Memory / 16: 256MB at 4 GiB as in the document; between 64MB (the default) and 2GB. */
    maintenanceWorkMemMb: number;
    /** Document 000: 100. */
    maxConnections: number;
}

export function postgresTuning(memoryMiB: number): PostgresTuning {
    return {
        sharedBuffersMb: Math.floor(memoryMiB / 4),
        effectiveCacheSizeMb: Math.floor((memoryMiB * 3) / 4),
        workMemMb: Math.max(4, Math.floor(memoryMiB / 256)),
        maintenanceWorkMemMb: Math.min(2048, Math.max(64, Math.floor(memoryMiB / 16))),
        maxConnections: 100,
    };
}

/** Valkey `maxmemory` in MB: 75 % of the container's memory (document 000: 768mb of 1024). */
export function valkeyMaxMemoryMb(memoryMiB: number): number {
    return Math.floor((memoryMiB * 3) / 4);
}
