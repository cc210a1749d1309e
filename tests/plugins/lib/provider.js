"use strict";
// Shared machinery of the two stand-ins: the Pulumi wire conventions the SDK's provider server leaves to us
// (secret and unknown sentinels), input validation, the bridge's diff/update behaviour for "plan modifier"
// style replace rules, and the provider object handed to `provider.main`.

const fs = require("node:fs");
const path = require("node:path");

// Property-value sentinels of the Pulumi gRPC protocol (sdk/go/common/resource/plugin/rpc.go).
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** @param {unknown} v @returns {v is { value: unknown }} */
function isSecret(v) {
    return typeof v === "object" && v !== null && /** @type {Record<string, unknown>} */ (v)[SIG_KEY] === SECRET_SIG;
}

/** @param {unknown} value */
function secret(value) {
    return { [SIG_KEY]: SECRET_SIG, value };
}

/**
 * The plain value with every secret wrapper removed (the engine sends secrets wrapped because the SDK's
 * Configure answers acceptSecrets).
 * @param {unknown} v
 * @returns {any}
 */
function reveal(v) {
    if (isSecret(v)) return reveal(v.value);
    if (Array.isArray(v)) return v.map(reveal);
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    }
    return v;
}

/** @param {unknown} v @returns {boolean} */
function containsSecret(v) {
    if (isSecret(v)) return true;
    if (Array.isArray(v)) return v.some(containsSecret);
    if (typeof v === "object" && v !== null) return Object.values(v).some(containsSecret);
    return false;
}

/** @param {unknown} v @returns {boolean} */
function isUnknown(v) {
    if (v === UNKNOWN) return true;
    if (Array.isArray(v)) return v.some(isUnknown);
    if (typeof v === "object" && v !== null) return Object.values(v).some(isUnknown);
    return false;
}

/** @param {unknown} v */
const isNull = (v) => v === undefined || v === null;

/**
 * Deep equality of plain JSON values, null and undefined alike.
 * @param {unknown} a
 * @param {unknown} b
 * @returns {boolean}
 */
function equal(a, b) {
    if (isNull(a) || isNull(b)) return isNull(a) && isNull(b);
    if (Array.isArray(a) || Array.isArray(b)) {
        return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i]));
    }
    if (typeof a === "object" && typeof b === "object") {
        const ao = /** @type {Record<string, unknown>} */ (a);
        const bo = /** @type {Record<string, unknown>} */ (b);
        const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
        return [...keys].every((k) => equal(ao[k], bo[k]));
    }
    return a === b;
}

/**
 * @typedef {"string" | "integer" | "boolean" | "stringList" | "stringMap" | "object"} PropType
 *
 * @typedef {object} InputSpec
 * @property {PropType} type
 * @property {boolean} [required]
 * @property {unknown} [default] value the plan takes when the input is not set (schema/plan-modifier default)
 * @property {"replace" | "keepers" | "emptyToNull" | "none"} replace how a change is planned
 * @property {boolean} [secret] the schema marks the input secret
 * @property {(v: any, name: string) => string | undefined} [validate] failure reason for a known, set value
 * @property {Record<string, PropType>} [fields] object members (for type checks)
 *
 * @typedef {object} CreateResult
 * @property {string} id
 * @property {Record<string, unknown>} outs computed outputs (inputs are merged in by the caller)
 *
 * @typedef {object} ResourceSpec
 * @property {string} token
 * @property {Record<string, InputSpec>} inputs
 * @property {string[]} secretOutputs output properties the schema marks secret
 * @property {number} [schemaVersion] Terraform schema version (> 0 adds the bridge's __meta)
 * @property {(plan: Record<string, any>, failures: Failure[]) => void} [checkPlan] cross-field validation
 * @property {(plan: Record<string, any>) => Record<string, any>} [plan] defaults that depend on other inputs
 * @property {(plan: Record<string, any>) => CreateResult | Promise<CreateResult>} create
 * @property {(state: Record<string, any>, plan: Record<string, any>) => string[]} [extraReplaces]
 * @property {(state: Record<string, any>) => Record<string, any>} [read] refresh of the plain state
 *
 * @typedef {{ property: string, reason: string }} Failure
 */

/**
 * Type check of one known value against the schema type (the bridge rejects mistyped inputs at check).
 * @param {string} name
 * @param {InputSpec} spec
 * @param {unknown} v
 * @returns {string | undefined}
 */
function typeError(name, spec, v) {
    const t = spec.type;
    if (t === "string" && typeof v !== "string") return `expected a string for ${name}`;
    if (t === "integer" && !(typeof v === "number" && Number.isInteger(v))) return `expected an integer for ${name}`;
    if (t === "boolean" && typeof v !== "boolean") return `expected a boolean for ${name}`;
    if (t === "stringList") {
        if (!Array.isArray(v)) return `expected a list of strings for ${name}`;
        if (v.some((x) => !isNull(x) && x !== UNKNOWN && typeof x !== "string")) return `expected strings in ${name}`;
    }
    if (t === "stringMap") {
        if (typeof v !== "object" || v === null || Array.isArray(v)) return `expected a map of strings for ${name}`;
        if (Object.values(v).some((x) => !isNull(x) && x !== UNKNOWN && typeof x !== "string")) {
            return `expected string values in ${name}`;
        }
    }
    if (t === "object") {
        if (typeof v !== "object" || v === null || Array.isArray(v)) return `expected an object for ${name}`;
        for (const [k, x] of Object.entries(v)) {
            const ft = spec.fields?.[k];
            if (!ft) return `unknown property ${name}.${k}`;
            if (isNull(x) || x === UNKNOWN) continue;
            const err = typeError(`${name}.${k}`, { type: ft, replace: "none" }, x);
            if (err) return err;
        }
    }
    return undefined;
}

/**
 * Inputs with the schema defaults applied (the Terraform plan), from plain (revealed) inputs.
 * @param {ResourceSpec} spec
 * @param {Record<string, any>} inputs
 */
function planOf(spec, inputs) {
    /** @type {Record<string, any>} */
    const plan = {};
    for (const [name, p] of Object.entries(spec.inputs)) {
        const v = inputs[name];
        plan[name] = isNull(v) ? p.default : v;
    }
    return spec.plan ? spec.plan(plan) : plan;
}

/**
 * terraform-provider-random's RequiresReplaceIfValuesNotNull for `keepers`.
 * @param {Record<string, unknown> | undefined | null} state
 * @param {Record<string, unknown> | undefined | null} config
 */
function keepersReplace(state, config) {
    if (equal(state, config)) return false;
    const cfg = /** @type {Record<string, unknown>} */ (config ?? {});
    if (isNull(state)) return Object.values(cfg).some((v) => !isNull(v));
    const st = /** @type {Record<string, unknown>} */ (state);
    for (const [k, v] of Object.entries(cfg)) {
        if (!(k in st) && isNull(v)) continue;
        if (!equal(v, st[k])) return true;
    }
    return Object.keys(st).some((k) => !(k in cfg));
}

/** @param {Record<string, unknown>} obj */
function dropNulls(obj) {
    return Object.fromEntries(Object.entries(obj).filter(([, v]) => !isNull(v)));
}

/**
 * Builds the object `@pulumi/pulumi/provider`'s main() serves.
 * @param {{ name: string, version: string, resources: ResourceSpec[], invokes?: Record<string, (args: any) => Promise<{ outputs?: any, failures?: Failure[] }>> }} def
 */
function makeProvider(def) {
    /** @type {Map<string, ResourceSpec>} */
    const byToken = new Map(def.resources.map((r) => [r.token, r]));
    /** @param {string} urn */
    const specOf = (urn) => {
        const qualified = urn.split("::")[2] ?? "";
        const type = qualified.split("$").pop() ?? "";
        const spec = byToken.get(type);
        if (!spec) throw new Error(`unknown resource type ${type}`);
        return spec;
    };

    /**
     * Outputs as the bridge returns them: state of inputs and computed values, nulls dropped, schema secrets
     * (and anything that came in secret) wrapped.
     * @param {ResourceSpec} spec
     * @param {string} id
     * @param {Record<string, any>} plain
     * @param {Record<string, any>} rawInputs inputs as received (with secret wrappers)
     */
    const finish = (spec, id, plain, rawInputs) => {
        /** @type {Record<string, unknown>} */
        const outs = { ...dropNulls(plain), id };
        if (spec.schemaVersion) outs.__meta = JSON.stringify({ schema_version: String(spec.schemaVersion) });
        for (const [k, v] of Object.entries(outs)) {
            const inputSecret = containsSecret(rawInputs[k]) || spec.inputs[k]?.secret;
            if ((spec.secretOutputs.includes(k) || inputSecret) && !isSecret(v)) outs[k] = secret(v);
        }
        return outs;
    };

    return {
        version: def.version,

        async getSchema() {
            return fs.readFileSync(path.join(__dirname, "..", "schemas", `${def.name}.schema.json`), "utf8");
        },

        /** @param {string} urn @param {any} _olds @param {Record<string, any>} news */
        async check(urn, _olds, news) {
            const spec = specOf(urn);
            /** @type {Failure[]} */
            const failures = [];
            const plain = reveal(news);
            for (const [name, p] of Object.entries(spec.inputs)) {
                const v = plain[name];
                if (isNull(v)) {
                    if (p.required) failures.push({ property: name, reason: `Missing required property '${name}'` });
                    continue;
                }
                if (v === UNKNOWN) continue;
                const typeErr = typeError(name, p, v);
                if (typeErr) {
                    failures.push({ property: name, reason: typeErr });
                    continue;
                }
                if (p.validate && !isUnknown(v)) {
                    const reason = p.validate(v, name);
                    if (reason) failures.push({ property: name, reason });
                }
            }
            for (const name of Object.keys(plain)) {
                if (!(name in spec.inputs) && name !== "__defaults") {
                    failures.push({ property: name, reason: `unknown property ${name} for ${spec.token}` });
                }
            }
            if (failures.length === 0 && spec.checkPlan && !isUnknown(plain))
                spec.checkPlan(planOf(spec, plain), failures);
            // The bridge returns the inputs unchanged (no defaults), with schema-secret inputs marked secret.
            /** @type {Record<string, unknown>} */
            const inputs = {};
            for (const [k, v] of Object.entries(news)) {
                if (k === "__defaults") continue;
                inputs[k] = spec.inputs[k]?.secret && !isNull(v) && !isSecret(v) && v !== UNKNOWN ? secret(v) : v;
            }
            return { inputs, failures };
        },

        /** @param {string} _id @param {string} urn @param {Record<string, any>} olds @param {Record<string, any>} news */
        async diff(_id, urn, olds, news) {
            const spec = specOf(urn);
            const state = reveal(olds);
            const rawPlain = reveal(news);
            const plan = planOf(spec, rawPlain);
            /** @type {string[]} */
            const replaces = [];
            let changes = false;
            for (const [name, p] of Object.entries(spec.inputs)) {
                const planned = plan[name];
                const unknown = isUnknown(rawPlain[name]);
                if (!unknown && equal(planned, state[name])) continue;
                changes = true;
                const replace =
                    p.replace === "replace" ||
                    (p.replace === "keepers" && (unknown || keepersReplace(state[name], planned))) ||
                    (p.replace === "emptyToNull" && !(state[name] === "" && isNull(planned)));
                if (replace) replaces.push(name);
            }
            if (spec.extraReplaces && !isUnknown(rawPlain)) {
                for (const r of spec.extraReplaces(state, plan)) {
                    if (!replaces.includes(r)) replaces.push(r);
                    changes = true;
                }
            }
            return { changes, replaces, deleteBeforeReplace: false };
        },

        /** @param {string} urn @param {Record<string, any>} inputs */
        async create(urn, inputs) {
            const spec = specOf(urn);
            const plan = planOf(spec, reveal(inputs));
            const { id, outs } = await spec.create(plan);
            return { id, outs: finish(spec, id, { ...plan, ...outs }, inputs) };
        },

        /** @param {string} id @param {string} urn @param {Record<string, any>} props */
        async read(id, urn, props) {
            const spec = specOf(urn);
            if (!spec.read) return { id, props };
            const updated = spec.read(reveal(props));
            /** @type {Record<string, unknown>} */
            const out = { ...props };
            for (const [k, v] of Object.entries(updated)) {
                if (!equal(v, reveal(props[k]))) out[k] = isSecret(props[k]) ? secret(v) : v;
            }
            return { id, props: out };
        },

        /** Update copies the plan into the state (the providers' Update is "updatedUsingPlan"). */
        /** @param {string} id @param {string} urn @param {Record<string, any>} olds @param {Record<string, any>} news */
        async update(id, urn, olds, news) {
            const spec = specOf(urn);
            const plan = planOf(spec, reveal(news));
            /** @type {Record<string, any>} */
            const state = reveal(olds);
            for (const name of Object.keys(spec.inputs)) delete state[name];
            delete state.__meta;
            delete state.id;
            const rawInputs = { ...olds, ...news };
            return { outs: finish(spec, id, { ...state, ...plan }, rawInputs) };
        },

        async delete() {
            // Logical resources: nothing outside the state to remove.
        },

        /** @param {string} token @param {any} args */
        async invoke(token, args) {
            const fn = def.invokes?.[token];
            if (!fn) throw new Error(`unknown function ${token}`);
            return fn(args);
        },
    };
}

/**
 * Serves the provider when run as a plugin (argv: [engine address]).
 * @param {ReturnType<typeof makeProvider>} provider
 */
function serve(provider) {
    const { main } = require("@pulumi/pulumi/provider");
    return main(provider, process.argv.slice(2));
}

module.exports = { SIG_KEY, SECRET_SIG, UNKNOWN, isSecret, secret, reveal, isUnknown, equal, makeProvider, serve };
