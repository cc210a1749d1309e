import { isUnknown } from "./unknown";

export interface DiffResult {
    changes: boolean;
    replaces: string[];
    deleteBeforeReplace: boolean;
    /** Keys that differ (for messages and tests; the SDK's host drops detailed diffs). */
    changed: string[];
}

/** Canonical JSON: object keys sorted, so `{a,b}` and `{b,a}` compare equal. */
export function canonical(v: unknown): string {
    if (v === undefined) return "undefined";
    if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
    if (v && typeof v === "object") {
        const entries = Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
    }
    return JSON.stringify(v);
}

function containsUnknownDeep(v: unknown): boolean {
    if (isUnknown(v)) return true;
    if (Array.isArray(v)) return v.some(containsUnknownDeep);
    if (v && typeof v === "object") return Object.values(v as Record<string, unknown>).some(containsUnknownDeep);
    return false;
}

export interface DiffSpec {
    /** Input keys compared (after defaults are applied to both sides). */
    keys: readonly string[];
    /** Keys whose change replaces the resource. */
    replaceKeys: readonly string[];
    /** Fixed identities (a vmid, a bridge name) cannot exist twice: delete before creating the replacement. */
    deleteBeforeReplace: boolean;
}

/**
 * Compares old state with new inputs key by key. `olds` and `news` must both be normalised by the caller
 * (defaults applied, property strings in PVE's canonical form) so that "nothing changed" diffs empty.
 */
export function diffKeys(olds: Record<string, unknown>, news: Record<string, unknown>, spec: DiffSpec): DiffResult {
    const changed = spec.keys.filter((k) => containsUnknownDeep(news[k]) || canonical(olds[k]) !== canonical(news[k]));
    const replaces = changed.filter((k) => spec.replaceKeys.includes(k));
    return {
        changes: changed.length > 0,
        replaces,
        deleteBeforeReplace: replaces.length > 0 && spec.deleteBeforeReplace,
        changed,
    };
}
