import { z } from "zod";
import { checkInputs, failuresMessage } from "./check";
import { DiffSpec, diffKeys } from "./diff";
import { registerHandler, ResourceHandler } from "./handlers";

type Outs = Record<string, unknown>;

export interface HandlerSpec<S extends z.ZodType> {
    kind: string;
    schema: S;
    diff: DiffSpec;
    /** Extra validation that needs the old inputs (e.g. refusing a disk shrink). */
    checkTransition?(olds: Outs, news: z.output<S>): { property: string; reason: string }[];
    /** Replacements a key-level rule cannot express (e.g. only a nested field of an input replaces). */
    extraReplaces?(olds: Outs, news: Outs): string[];
    /** Adjusts news before diffing (e.g. keys that are create-only are copied from olds). */
    prepareDiff?(olds: Outs, news: Outs): Outs;
    create(inputs: z.output<S>): Promise<{ id: string; outs: Outs }>;
    read(id: string, props: Outs): Promise<{ id: string; props: Outs; inputs?: Outs } | undefined>;
    update(id: string, olds: Outs, news: z.output<S>): Promise<Outs>;
    delete(id: string, props: Outs): Promise<void>;
}

/** Inputs of the engine's wire form without internal keys such as `__provider`. */
function stripInternal(o: Outs): Outs {
    return Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith("__")));
}

/**
 * Drops `undefined` values at every depth: the host encodes results as protobuf Structs, which cannot hold
 * them ("Unexpected struct type"), and an absent key is what the engine means by "not set" anyway.
 */
export function clean<T>(v: T): T {
    if (Array.isArray(v)) return v.map((x) => (x === undefined ? null : clean(x))) as T;
    if (v && typeof v === "object") {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) out[k] = clean(x);
        return out as T;
    }
    return v;
}

/** Parses fully-known inputs or throws one error naming every bad field (create/update must never guess). */
export function parseKnown<S extends z.ZodType>(kind: string, schema: S, inputs: Outs): z.output<S> {
    const { failures, parsed } = checkInputs(schema, inputs);
    if (failures.length > 0 || parsed === undefined) throw new Error(failuresMessage(kind, failures));
    return parsed;
}

/**
 * Builds a handler from a spec: `check` validates (skipping unknowns) and applies defaults so that state
 * holds the same normalised inputs the next diff compares against; `diff` compares key by key.
 */
export function defineHandler<S extends z.ZodType>(spec: HandlerSpec<S>): ResourceHandler {
    const handler: ResourceHandler = {
        async check(olds, news) {
            const { failures, parsed } = checkInputs(spec.schema, news);
            if (parsed === undefined) return { inputs: news, failures };
            const transition = spec.checkTransition?.(stripInternal(olds), parsed) ?? [];
            const inputs = { ...(parsed as Outs) };
            if (news.__provider !== undefined) inputs.__provider = news.__provider;
            return { inputs: clean(inputs), failures: transition };
        },
        async diff(_id, olds, news) {
            const n = spec.prepareDiff ? spec.prepareDiff(olds, stripInternal(news)) : stripInternal(news);
            const r = diffKeys(olds, n, spec.diff);
            const replaces = [...new Set([...r.replaces, ...(spec.extraReplaces?.(olds, n) ?? [])])];
            return {
                changes: r.changes || replaces.length > 0,
                replaces,
                deleteBeforeReplace: replaces.length > 0 && spec.diff.deleteBeforeReplace,
            };
        },
        async create(inputs) {
            const parsed = parseKnown(spec.kind, spec.schema, inputs);
            const r = await spec.create(parsed);
            return { id: r.id, outs: clean(r.outs) };
        },
        async read(id, props) {
            const r = await spec.read(id, props);
            // Gone: an empty id tells the engine the resource no longer exists.
            return r
                ? { id: r.id, props: clean(r.props), ...(r.inputs ? { inputs: clean(r.inputs) } : {}) }
                : { id: "", props: {} };
        },
        async update(id, olds, news) {
            const parsed = parseKnown(spec.kind, spec.schema, news);
            return { outs: clean(await spec.update(id, olds, parsed)) };
        },
        async delete(id, props) {
            await spec.delete(id, props);
        },
    };
    registerHandler(spec.kind, handler);
    return handler;
}
