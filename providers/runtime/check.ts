import { z } from "zod";
import { isUnder, unknownPaths } from "./unknown";

export interface CheckFailure {
    property: string;
    reason: string;
}

/** The `__provider` key and other engine-internal inputs are never validated. */
function withoutInternal(news: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(news)) if (!k.startsWith("__")) out[k] = v;
    return out;
}

/**
 * Validates resource inputs. Issues under a value that is still unknown (preview) are dropped: the value will be
 * checked again when it is known. Returns the parsed inputs (defaults applied) when everything is known and valid.
 */
export function checkInputs<S extends z.ZodType>(
    schema: S,
    news: Record<string, unknown>,
): { failures: CheckFailure[]; parsed?: z.output<S> } {
    const input = withoutInternal(news);
    const unknowns = unknownPaths(input);
    const r = schema.safeParse(input);
    if (r.success) return { failures: [], parsed: r.data };
    const failures = r.error.issues
        .filter((i) => !isUnder(i.path, unknowns))
        .map((i) => ({ property: i.path.map(String).join(".") || "(inputs)", reason: reasonOf(i) }));
    return { failures };
}

/** Turns failures into one error message naming every field and rule. */
export function failuresMessage(kind: string, failures: CheckFailure[]): string {
    return `invalid ${kind} inputs:\n${failures.map((f) => `  - ${f.property}: ${f.reason}`).join("\n")}`;
}

/** An issue's rule; for a bad record key, the key schema's own message rather than zod's generic one. */
function reasonOf(issue: z.core.$ZodIssue): string {
    if (issue.code === "invalid_key" && issue.issues.length > 0) return `key ${issue.issues[0].message}`;
    return issue.message;
}
