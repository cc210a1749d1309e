/** `GET /version`: which PVE the node runs (PVE 9 renamed privileges, e.g. VM.Monitor → VM.GuestAgent.*). */
import { z } from "zod";
import type { PveClient } from "../client";

const versionSchema = z.looseObject({
    version: z.string().min(1),
    release: z.string().optional(),
    repoid: z.string().optional(),
});

export interface PveVersion {
    /** Full pve-manager version, e.g. `9.1.1`. */
    version: string;
    /** Point release `x.y`, e.g. `9.1`. */
    release: string;
    major: number;
    minor: number;
    repoid?: string;
}

/** Parses `9.1` / `9.1.1` / `8.4-3`; undefined when there is no leading `major.minor`. */
export function parsePveRelease(text: string): { major: number; minor: number } | undefined {
    const m = /^(\d+)\.(\d+)/.exec(text.trim());
    return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

export async function getVersion(client: PveClient): Promise<PveVersion> {
    const data = await client.get("/version", undefined, versionSchema);
    const release = data.release ?? data.version;
    const parsed = parsePveRelease(release) ?? parsePveRelease(data.version);
    if (!parsed) throw new Error(`GET /version: cannot read a major.minor release from '${release}'`);
    const out: PveVersion = { version: data.version, release, major: parsed.major, minor: parsed.minor };
    if (data.repoid !== undefined) out.repoid = data.repoid;
    return out;
}
