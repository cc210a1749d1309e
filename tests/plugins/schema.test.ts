// Schema conformance of the offline random/tls stand-ins: every resource and property they implement exists in
// the pinned provider schema with the same name, type, secretness and requiredness, and the replace rules are
// the upstream providers' (the schemas carry no replaceOnChanges; upstream plan modifiers decide).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { PLUGINS_DIR, REPO_ROOT, isSecretValue } from "./harness";
import { minimalInputs, random, tls, tlsMaterial, type TlsMaterial } from "./fixtures";
import type { ResourceSpecShape, StandInModule } from "./types";
import { urn } from "./types";

interface SchemaProp {
    type?: string;
    $ref?: string;
    items?: { type: string };
    additionalProperties?: { type: string };
    secret?: boolean;
}
interface SchemaResource {
    inputProperties: Record<string, SchemaProp>;
    properties: Record<string, SchemaProp>;
    required?: string[];
    requiredInputs?: string[];
}
interface Schema {
    name: string;
    resources: Record<string, SchemaResource>;
    types: Record<string, { properties: Record<string, SchemaProp> }>;
}

const SHARED_SCHEMAS = path.resolve(REPO_ROOT, "..", "shared", "pulumi-schemas");

function loadSchema(name: string): Schema {
    return JSON.parse(fs.readFileSync(path.join(PLUGINS_DIR, "schemas", `${name}.schema.json`), "utf8")) as Schema;
}

/** The stand-in's property type for a schema property. */
function specType(p: SchemaProp): string {
    if (p.$ref) return "object";
    if (p.type === "array" && p.items?.type === "string") return "stringList";
    if (p.type === "object" && p.additionalProperties?.type === "string") return "stringMap";
    return p.type ?? "?";
}

function valueMatches(p: SchemaProp, v: unknown): boolean {
    switch (specType(p)) {
        case "string":
            return typeof v === "string";
        case "integer":
            return typeof v === "number" && Number.isInteger(v);
        case "boolean":
            return typeof v === "boolean";
        case "stringList":
            return Array.isArray(v) && v.every((x) => typeof x === "string");
        case "stringMap":
        case "object":
            return typeof v === "object" && v !== null && !Array.isArray(v);
        default:
            return false;
    }
}

// Inputs the upstream providers update in place (no RequiresReplace plan modifier); every other input of these
// resources forces a replacement. Sources: terraform-provider-tls resource_self_signed_cert.go /
// resource_locally_signed_cert.go (early_renewal_hours, max_path_length carry only a default modifier).
const IN_PLACE: Record<string, string[]> = {
    "tls:index/selfSignedCert:SelfSignedCert": ["earlyRenewalHours", "maxPathLength"],
    "tls:index/locallySignedCert:LocallySignedCert": ["earlyRenewalHours", "maxPathLength"],
};

/** A different, type-correct value for an input (to provoke a diff). */
function changed(type: string, current: unknown): unknown {
    switch (type) {
        case "string":
            return typeof current === "string" ? current + "x" : "x";
        case "integer":
            return typeof current === "number" ? current + 1 : 7;
        case "boolean":
            return !(current ?? false);
        case "stringList":
            return [...(Array.isArray(current) ? current : []), "x"];
        case "stringMap":
            return { ...((current as object) ?? {}), k: "v" };
        default:
            return { ...((current as object) ?? {}), commonName: "changed" };
    }
}

const SUITES: Array<[string, StandInModule, string]> = [
    ["random", random, "@pulumi/random"],
    ["tls", tls, "@pulumi/tls"],
];

describe("stand-in plugins: schema conformance", function () {
    this.timeout(60_000);
    let material: TlsMaterial;
    let inputsFor: Record<string, Record<string, unknown>>;

    before(async () => {
        material = await tlsMaterial();
        inputsFor = minimalInputs(material);
    });

    for (const [name, mod, sdk] of SUITES) {
        describe(name, () => {
            const schema = loadSchema(name);

            it(`reports the version the ${sdk} SDK requests, and serves the pinned schema`, async () => {
                const pkg = JSON.parse(
                    fs.readFileSync(path.join(REPO_ROOT, "node_modules", sdk, "package.json"), "utf8"),
                ) as { version: string };
                assert.equal(mod.provider.version, pkg.version);
                const served = JSON.parse(await mod.provider.getSchema()) as Schema;
                assert.equal(served.name, name);
                assert.deepEqual(Object.keys(served.resources).sort(), Object.keys(schema.resources).sort());
            });

            it("holds the same schema as the shared pinned copy (when this machine has it)", function () {
                // The copy in schemas/ keeps the repository self-contained (Prettier-formatted, same JSON).
                const shared = path.join(SHARED_SCHEMAS, `${name}.schema.json`);
                if (!fs.existsSync(shared)) this.skip();
                assert.deepEqual(schema, JSON.parse(fs.readFileSync(shared, "utf8")));
            });

            it("implements only tokens of the schema", () => {
                for (const r of mod.resources) assert.ok(schema.resources[r.token], `${r.token} is not in the schema`);
            });

            for (const spec of mod.resources as ResourceSpecShape[]) {
                describe(spec.token, () => {
                    const res = schema.resources[spec.token];

                    it("declares exactly the schema's inputs, with the same types, secretness and requiredness", () => {
                        assert.deepEqual(Object.keys(spec.inputs).sort(), Object.keys(res.inputProperties).sort());
                        for (const [prop, p] of Object.entries(res.inputProperties)) {
                            const mine = spec.inputs[prop];
                            assert.equal(mine.type, specType(p), `${prop} type`);
                            assert.equal(mine.secret ?? false, p.secret ?? false, `${prop} secret`);
                            assert.equal(
                                mine.required ?? false,
                                (res.requiredInputs ?? []).includes(prop),
                                `${prop} required`,
                            );
                            if (p.$ref) {
                                const typeProps = schema.types[p.$ref.replace("#/types/", "")].properties;
                                const fields = (mine.fields ?? {}) as Record<string, string>;
                                assert.deepEqual(
                                    Object.keys(fields).sort(),
                                    Object.keys(typeProps).sort(),
                                    `${prop} fields`,
                                );
                                for (const [f, fp] of Object.entries(typeProps)) assert.equal(fields[f], specType(fp));
                            }
                        }
                    });

                    it("declares as secret outputs exactly the schema's secret outputs", () => {
                        const schemaSecret = Object.entries(res.properties)
                            .filter(([, p]) => p.secret)
                            .map(([k]) => k)
                            .sort();
                        assert.deepEqual([...spec.secretOutputs].sort(), schemaSecret);
                    });

                    it("creates outputs that are schema properties of the right type, secret where the schema says", async () => {
                        const inputs = inputsFor[spec.token];
                        assert.ok(inputs, `no fixture inputs for ${spec.token}`);
                        const { outs } = await mod.provider.create(urn(spec.token), inputs);
                        for (const [k, v] of Object.entries(outs)) {
                            if (k === "id" || k === "__meta") continue;
                            const p = res.properties[k];
                            assert.ok(p, `output ${k} is not a schema property`);
                            const secretInput = spec.inputs[k]?.secret ?? false;
                            assert.equal(isSecretValue(v), (p.secret ?? false) || secretInput, `${k} secretness`);
                            const value = isSecretValue(v) ? v.value : v;
                            assert.ok(valueMatches(p, value), `${k} has the wrong type`);
                        }
                        const required = (res.required ?? []).filter((r) => !(r in outs));
                        assert.deepEqual(required, [], "required outputs missing");
                    });

                    it("replaces on exactly the inputs the upstream provider replaces on", async () => {
                        const inputs = inputsFor[spec.token];
                        const created = await mod.provider.create(urn(spec.token), inputs);
                        const same = await mod.provider.diff(created.id, urn(spec.token), created.outs, inputs);
                        assert.deepEqual(same, { changes: false, replaces: [], deleteBeforeReplace: false });
                        for (const [prop, p] of Object.entries(spec.inputs)) {
                            const state = created.outs[prop];
                            const current = inputs[prop] ?? (isSecretValue(state) ? state.value : state) ?? p.default;
                            const news = { ...inputs, [prop]: changed(p.type, current) };
                            const d = await mod.provider.diff(created.id, urn(spec.token), created.outs, news);
                            assert.equal(d.changes, true, `${prop}: a change is a change`);
                            const inPlace = (IN_PLACE[spec.token] ?? []).includes(prop);
                            if (inPlace) assert.deepEqual(d.replaces, [], `${prop}: updates in place`);
                            // number and numeric mirror each other, so changing one plans (and replaces on) both.
                            else assert.ok(d.replaces.includes(prop), `${prop}: forces a replacement`);
                        }
                    });
                });
            }
        });
    }
});
