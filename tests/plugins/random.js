"use strict";
// Offline stand-in for the pulumi-random 4.21.1 plugin (terraform-provider-random under the Pulumi bridge).
// TEST INFRASTRUCTURE ONLY: tests and the demo's offline mode put tests/plugins/bin on PATH; a user's real
// `pulumi up` uses the real plugin. Resource tokens, property names, defaults, secretness and replace rules
// follow schemas/random.schema.json and the upstream provider's plan modifiers and validators.

const crypto = require("node:crypto");
const bcrypt = require("./lib/bcrypt");
const { makeProvider, serve } = require("./lib/provider");

const VERSION = "4.21.1";

/** @typedef {import("./lib/provider").ResourceSpec} ResourceSpec */
/** @typedef {import("./lib/provider").InputSpec} InputSpec */

/** @type {InputSpec} */
const KEEPERS = { type: "stringMap", replace: "keepers" };

/** int64validator.AtLeast. @param {number} min @returns {(v: number, name: string) => string | undefined} */
const atLeast = (min) => (v, name) =>
    v < min ? `Attribute ${name} value must be at least ${min}, got: ${v}` : undefined;

// terraform-provider-random internal/random/string.go
const NUM_CHARS = "0123456789";
const LOWER_CHARS = "abcdefghijklmnopqrstuvwxyz";
const UPPER_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const SPECIAL_CHARS = "!@#$%&*()-_=+[]{}<>:?";

/**
 * random.CreateString: the class minimums first (a minimum is honoured even when its class is disabled, as
 * upstream does), the rest from the enabled classes, then a random permutation.
 * @param {Record<string, any>} p
 */
function createString(p) {
    const special = p.overrideSpecial ? p.overrideSpecial : SPECIAL_CHARS;
    let chars = "";
    if (p.upper) chars += UPPER_CHARS;
    if (p.lower) chars += LOWER_CHARS;
    if (p.numeric) chars += NUM_CHARS;
    if (p.special) chars += special;
    /** @type {string[]} */
    const out = [];
    /** @param {string} set @param {number} n */
    const pick = (set, n) => {
        for (let i = 0; i < n; i++) out.push(set[crypto.randomInt(set.length)]);
    };
    pick(NUM_CHARS, p.minNumeric);
    pick(LOWER_CHARS, p.minLower);
    pick(UPPER_CHARS, p.minUpper);
    pick(special, p.minSpecial);
    const rest = p.length - out.length;
    if (rest > 0 && chars.length === 0) throw new Error("random: no character class enabled");
    pick(chars, rest);
    for (let i = out.length - 1; i > 0; i--) {
        const j = crypto.randomInt(i + 1);
        [out[i], out[j]] = [out[j], out[i]];
    }
    return out.join("");
}

/**
 * The shared inputs of RandomPassword and RandomString (stringSchemaV3 / passwordSchemaV3).
 * @type {Record<string, InputSpec>}
 */
const STRING_INPUTS = {
    keepers: KEEPERS,
    length: { type: "integer", required: true, replace: "replace", validate: atLeast(1) },
    special: { type: "boolean", default: true, replace: "replace" },
    upper: { type: "boolean", default: true, replace: "replace" },
    lower: { type: "boolean", default: true, replace: "replace" },
    number: { type: "boolean", replace: "replace" },
    numeric: { type: "boolean", replace: "replace" },
    minNumeric: { type: "integer", default: 0, replace: "replace" },
    minUpper: { type: "integer", default: 0, replace: "replace" },
    minLower: { type: "integer", default: 0, replace: "replace" },
    minSpecial: { type: "integer", default: 0, replace: "replace" },
    overrideSpecial: { type: "string", replace: "emptyToNull" },
};

/**
 * NumberNumericAttributePlanModifier: `number` and `numeric` mirror each other, true when both are unset.
 * @param {Record<string, any>} plan
 */
function planNumeric(plan) {
    const value = plan.numeric ?? plan.number ?? true;
    return { ...plan, number: plan.number ?? value, numeric: plan.numeric ?? value };
}

/**
 * Validators that look at several attributes: AtLeastSumOf on length, AtLeastOneOfTrue on the classes, and
 * the number/numeric conflict.
 * @param {Record<string, any>} plan
 * @param {import("./lib/provider").Failure[]} failures
 */
function checkString(plan, failures) {
    const sum = plan.minUpper + plan.minLower + plan.minNumeric + plan.minSpecial;
    if (plan.length < sum) {
        failures.push({
            property: "length",
            reason: `Attribute length value must be at least sum of min_upper + min_lower + min_numeric + min_special, got: ${plan.length}`,
        });
    }
    if (plan.number !== plan.numeric) {
        failures.push({ property: "numeric", reason: "Number and numeric are both configured with different values" });
    }
    if (!plan.special && !plan.upper && !plan.lower && !plan.numeric) {
        failures.push({
            property: "special",
            reason: "At least one attribute out of [special, upper, lower, numeric] must be specified as true",
        });
    }
}

/** @type {ResourceSpec} */
const randomPassword = {
    token: "random:index/randomPassword:RandomPassword",
    schemaVersion: 3,
    inputs: STRING_INPUTS,
    secretOutputs: ["result", "bcryptHash"],
    plan: planNumeric,
    checkPlan: checkString,
    create(plan) {
        const result = createString(plan);
        return { id: "none", outs: { result, bcryptHash: bcrypt.hash(result, 10) } };
    },
};

/** @type {ResourceSpec} */
const randomString = {
    token: "random:index/randomString:RandomString",
    schemaVersion: 2,
    inputs: STRING_INPUTS,
    secretOutputs: [],
    plan: planNumeric,
    checkPlan: checkString,
    create(plan) {
        const result = createString(plan);
        return { id: result, outs: { result } };
    },
};

/** @type {ResourceSpec} */
const randomBytes = {
    token: "random:index/randomBytes:RandomBytes",
    inputs: {
        keepers: KEEPERS,
        length: { type: "integer", required: true, replace: "replace", validate: atLeast(1) },
    },
    secretOutputs: ["base64", "hex"],
    create(plan) {
        const bytes = crypto.randomBytes(plan.length);
        return { id: "none", outs: { base64: bytes.toString("base64"), hex: bytes.toString("hex") } };
    },
};

/** @type {ResourceSpec} */
const randomId = {
    token: "random:index/randomId:RandomId",
    inputs: {
        keepers: KEEPERS,
        byteLength: { type: "integer", required: true, replace: "replace" },
        prefix: { type: "string", replace: "replace" },
    },
    secretOutputs: [],
    create(plan) {
        if (plan.byteLength < 0) throw new Error(`Create Random ID error: negative byte length ${plan.byteLength}`);
        const bytes = crypto.randomBytes(plan.byteLength);
        const id = bytes.toString("base64url");
        const prefix = plan.prefix ?? "";
        const dec = bytes.length ? BigInt("0x" + bytes.toString("hex")).toString() : "0";
        return {
            id,
            outs: {
                b64Url: prefix + id,
                b64Std: prefix + bytes.toString("base64"),
                hex: prefix + bytes.toString("hex"),
                dec: prefix + dec,
            },
        };
    },
};

/**
 * A uniform integer in [0, n) from a byte source (rejection sampling, any size).
 * @param {bigint} n
 * @param {(k: number) => Buffer} bytes
 */
function below(n, bytes) {
    const len = Math.max(1, Math.ceil(n.toString(16).length / 2));
    const limit = (1n << BigInt(len * 8)) - ((1n << BigInt(len * 8)) % n);
    for (;;) {
        const v = BigInt("0x" + bytes(len).toString("hex"));
        if (v < limit) return v % n;
    }
}

/**
 * Deterministic byte stream for a `seed` (upstream seeds Go's math/rand from the CRC-64 of the seed; the
 * stand-in keeps "same seed, same result" but not upstream's exact numbers).
 * @param {string | undefined} seed
 */
function byteSource(seed) {
    if (!seed) return (/** @type {number} */ k) => crypto.randomBytes(k);
    let counter = 0;
    let pool = Buffer.alloc(0);
    return (/** @type {number} */ k) => {
        while (pool.length < k) {
            const block = crypto.createHmac("sha256", seed).update(String(counter++)).digest();
            pool = Buffer.concat([pool, block]);
        }
        const out = pool.subarray(0, k);
        pool = pool.subarray(k);
        return out;
    };
}

/** @type {ResourceSpec} */
const randomInteger = {
    token: "random:index/randomInteger:RandomInteger",
    inputs: {
        keepers: KEEPERS,
        min: { type: "integer", required: true, replace: "replace" },
        max: { type: "integer", required: true, replace: "replace" },
        seed: { type: "string", replace: "replace" },
    },
    secretOutputs: [],
    create(plan) {
        if (plan.max < plan.min) {
            throw new Error(
                "Create Random Integer Error: The minimum (min) value needs to be smaller than or equal to maximum (max) value.",
            );
        }
        const span = BigInt(plan.max) - BigInt(plan.min) + 1n;
        const result = Number(BigInt(plan.min) + below(span, byteSource(plan.seed || undefined)));
        return { id: String(result), outs: { result, seed: plan.seed || undefined } };
    },
};

/** hashicorp/go-uuid GenerateUUID: 16 random bytes in 8-4-4-4-12 form (no version bits). */
function goUuid() {
    const h = crypto.randomBytes(16).toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** RFC 9562 version 7: 48-bit Unix milliseconds, version and variant bits, random rest. */
function uuid7() {
    const b = crypto.randomBytes(16);
    b.writeUIntBE(Date.now(), 0, 6);
    b[6] = (b[6] & 0x0f) | 0x70;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.toString("hex");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * @param {string} token
 * @param {() => string} gen
 * @returns {ResourceSpec}
 */
const uuidSpec = (token, gen) => ({
    token,
    inputs: { keepers: KEEPERS },
    secretOutputs: [],
    create() {
        const result = gen();
        return { id: result, outs: { result } };
    },
});

// A small vocabulary in the style of golang-petname (upstream's lists are much longer).
const ADVERBS = ["quickly", "gently", "wholly", "mostly", "truly", "nicely", "freely", "deeply", "rarely", "simply"];
const ADJECTIVES = ["brave", "calm", "clever", "eager", "fond", "happy", "keen", "lively", "noble", "proud", "quiet"];
const NAMES = ["badger", "beetle", "falcon", "gecko", "heron", "lemur", "marten", "otter", "panda", "raven", "tapir"];

/** @param {string[]} list */
const anyOf = (list) => list[crypto.randomInt(list.length)];

/** @type {ResourceSpec} */
const randomPet = {
    token: "random:index/randomPet:RandomPet",
    inputs: {
        keepers: KEEPERS,
        length: { type: "integer", default: 2, replace: "replace" },
        prefix: { type: "string", replace: "replace" },
        separator: { type: "string", default: "-", replace: "replace" },
    },
    secretOutputs: [],
    create(plan) {
        /** @type {string[]} */
        let words = [];
        if (plan.length === 1) words = [anyOf(NAMES)];
        else if (plan.length >= 2) {
            for (let i = 0; i < plan.length - 2; i++) words.push(anyOf(ADVERBS));
            words.push(anyOf(ADJECTIVES), anyOf(NAMES));
        }
        let pet = words.join(plan.separator).toLowerCase();
        if (plan.prefix) pet = `${plan.prefix}${plan.separator}${pet}`;
        return { id: pet, outs: {} };
    },
};

/** @type {ResourceSpec} */
const randomShuffle = {
    token: "random:index/randomShuffle:RandomShuffle",
    inputs: {
        keepers: KEEPERS,
        inputs: { type: "stringList", required: true, replace: "replace" },
        resultCount: { type: "integer", replace: "replace" },
        seed: { type: "string", replace: "replace" },
    },
    secretOutputs: [],
    create(plan) {
        const input = /** @type {string[]} */ (plan.inputs);
        const count = plan.resultCount ? plan.resultCount : input.length;
        const bytes = byteSource(plan.seed || undefined);
        /** @type {string[]} */
        const results = [];
        // Whole permutations until the count is reached, as upstream does.
        while (input.length > 0 && results.length < count) {
            const perm = input.map((_, i) => i);
            for (let i = perm.length - 1; i > 0; i--) {
                const j = Number(below(BigInt(i + 1), bytes));
                [perm[i], perm[j]] = [perm[j], perm[i]];
            }
            for (const i of perm) {
                results.push(input[i]);
                if (results.length >= count) break;
            }
        }
        const resultCount = plan.resultCount === undefined || plan.resultCount === null ? undefined : count;
        return { id: "-", outs: { results, resultCount } };
    },
};

const resources = [
    randomPassword,
    randomString,
    randomBytes,
    randomId,
    randomInteger,
    uuidSpec("random:index/randomUuid:RandomUuid", goUuid),
    uuidSpec("random:index/randomUuid4:RandomUuid4", () => crypto.randomUUID()),
    uuidSpec("random:index/randomUuid7:RandomUuid7", uuid7),
    randomPet,
    randomShuffle,
];

const provider = makeProvider({ name: "random", version: VERSION, resources });

module.exports = { provider, VERSION, resources };

if (require.main === module) serve(provider);
