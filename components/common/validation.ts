import { z } from "zod";

/** Bad input: every problem, each naming its field and rule. Thrown before any resource is registered. */
export class ValidationError extends Error {
    constructor(
        /** What was validated, e.g. `NetboxStack "netbox"` or `stack config`. */
        public readonly subject: string,
        /** One line per problem: `NetboxStack.db.memory: must be ≥ 512 MiB, got 128`. */
        public readonly problems: string[],
    ) {
        super(`Invalid ${subject}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "ValidationError";
    }
}

/** `a.b[2].c` from a zod issue path. */
export function formatPath(prefix: string, path: readonly PropertyKey[]): string {
    let out = prefix;
    for (const p of path) {
        if (typeof p === "number") out += `[${p}]`;
        else out += out ? `.${String(p)}` : String(p);
    }
    return out;
}

/**
 * Parses `input` with `schema`; on failure throws a ValidationError whose lines are `<prefix>.<path>: <message>`.
 * Write schema messages as rules with the bad value, e.g. `must be ≥ 512 MiB, got 128`.
 */
export function parseOrThrow<T extends z.ZodType>(
    schema: T,
    input: unknown,
    subject: string,
    prefix: string,
): z.output<T> {
    const r = schema.safeParse(input);
    if (r.success) return r.data;
    throw new ValidationError(
        subject,
        r.error.issues.map((i) => `${formatPath(prefix, i.path)}: ${i.message}`),
    );
}

/** Throws a ValidationError when `problems` is not empty (for cross-field rules checked after parsing). */
export function assertNoProblems(subject: string, problems: string[]): void {
    if (problems.length > 0) throw new ValidationError(subject, problems);
}
