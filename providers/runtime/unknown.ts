/**
 * During preview the engine passes values that are not known yet as this sentinel string (the SDK's
 * `unknownValue`). A provider must never crash on them: validation skips them and diff treats them as
 * "may change".
 */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function isUnknown(v: unknown): boolean {
    return v === UNKNOWN;
}

/** Paths (as arrays) of every unknown value inside `v`. */
export function unknownPaths(v: unknown, prefix: PropertyKey[] = []): PropertyKey[][] {
    if (isUnknown(v)) return [prefix];
    if (Array.isArray(v)) return v.flatMap((x, i) => unknownPaths(x, [...prefix, i]));
    if (v && typeof v === "object") {
        return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => unknownPaths(x, [...prefix, k]));
    }
    return [];
}

export function containsUnknown(v: unknown): boolean {
    return unknownPaths(v).length > 0;
}

/** True when `path` lies at or below one of `roots`. */
export function isUnder(path: readonly PropertyKey[], roots: PropertyKey[][]): boolean {
    return roots.some((r) => r.length <= path.length && r.every((p, i) => p === path[i]));
}
