/**
 * The official PVE 9.1 API schema (tests/fixtures/pve-api/pve-9.1-subset.json) as data: route matching and
 * parameter verification that reproduce pve-common's JSONSchema.pm (check_object/check_prop/check_type/
 * parse_property_string) down to the error texts, so a request PVE would refuse is refused here with the
 * same `errors` map.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseBoolean, type PropertyFormat, type PropertyKeySchema } from "../../providers/proxmox/propstrings";
import { checkNamedFormat, FormatError, type FormatValidator } from "./formats";
import type { PveMajor } from "./privileges";

/** A parameter (or nested property-string key) schema as the API dump writes it. */
export interface SchemaProp extends PropertyKeySchema {
    requires?: string;
    default?: unknown;
}

/** A permission check in PVE's prefix notation, e.g. `["perm", "/vms/{vmid}", ["VM.Audit"]]`. */
export type PermCheck = readonly unknown[];

export interface PermissionSpec {
    user?: "all" | "world";
    check?: PermCheck;
    description?: string;
}

export interface MethodInfo {
    method: string;
    name: string;
    allowtoken?: number;
    protected?: number;
    permissions?: PermissionSpec;
    parameters: { additionalProperties?: number; properties?: Record<string, SchemaProp> };
    returns?: unknown;
}

export type ApiSchema = Record<string, Record<string, MethodInfo>>;

/** JSON values a request body may carry. */
export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };

let cachedSchema: ApiSchema | undefined;

/** The schema fixture (read once per process). */
export function loadApiSchema(): ApiSchema {
    if (!cachedSchema) {
        const file = join(__dirname, "..", "fixtures", "pve-api", "pve-9.1-subset.json");
        cachedSchema = JSON.parse(readFileSync(file, "utf8")) as ApiSchema;
    }
    return cachedSchema;
}

export interface Route {
    /** Path template, e.g. `/nodes/{node}/lxc/{vmid}`. */
    template: string;
    method: string;
    info: MethodInfo;
    regex: RegExp;
    pathParams: string[];
}

export function compileRoutes(schema: ApiSchema): Route[] {
    const routes: Route[] = [];
    for (const [template, methods] of Object.entries(schema)) {
        const pathParams: string[] = [];
        const source = template
            .split("/")
            .map((part) => {
                const param = /^\{(.+)\}$/.exec(part);
                if (!param) return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
                pathParams.push(param[1]);
                // Volume ids contain '/' (`local:vztmpl/<file>`) and PVE takes them unencoded in the path too.
                return param[1] === "volume" ? "(.+)" : "([^/]+)";
            })
            .join("/");
        for (const [method, info] of Object.entries(methods)) {
            routes.push({ template, method, info, regex: new RegExp(`^${source}/?$`), pathParams });
        }
    }
    return routes;
}

export interface RouteMatch {
    route: Route;
    pathValues: Record<string, string>;
}

/** Finds the handler for a (URI-decoded) path relative to `/api2/json`. */
export function matchRoute(routes: readonly Route[], method: string, relPath: string): RouteMatch | undefined {
    for (const route of routes) {
        if (route.method !== method) continue;
        const match = route.regex.exec(relPath);
        if (!match) continue;
        const pathValues: Record<string, string> = {};
        route.pathParams.forEach((name, index) => (pathValues[name] = match[index + 1]));
        return { route, pathValues };
    }
    return undefined;
}

/** How many `name[n]` properties PVE expands (pve-container MAX_LXC_NETWORKS, MAX_MOUNT_POINTS, ...). */
const INDEXED_COUNTS: Readonly<Record<string, number>> = { net: 32, mp: 256, unused: 256, dev: 256 };

/** Properties PVE 9 added to the paths served (PVE-FACTS: absent on PVE 8). */
const PVE9_ONLY_PARAMS = new Set(["entrypoint", "env", "ha-managed"]);

/**
 * The parameter properties of a method as PVE's handler sees them: `net[n]` expanded to net0..net31 etc.,
 * and on PVE 8 without the properties PVE 9 added.
 */
export function propertiesFor(info: MethodInfo, major: PveMajor): Record<string, SchemaProp> {
    const result: Record<string, SchemaProp> = {};
    for (const [name, prop] of Object.entries(info.parameters.properties ?? {})) {
        if (major === 8 && PVE9_ONLY_PARAMS.has(name)) continue;
        let effective = prop;
        if (major === 8 && typeof prop.format === "object" && "host-managed" in prop.format) {
            const { ["host-managed"]: _dropped, ...rest } = prop.format;
            effective = { ...prop, format: rest };
        }
        const indexed = /^(.+)\[n\]$/.exec(name);
        if (indexed) {
            const count = INDEXED_COUNTS[indexed[1]] ?? 10;
            for (let i = 0; i < count; i++) result[`${indexed[1]}${i}`] = effective;
        } else {
            result[name] = effective;
        }
    }
    return result;
}

/** A Perl pattern from the schema as an anchored JS RegExp (`(?^:...)` is Perl's flag-reset group). */
const patternCache = new Map<string, RegExp>();
function compilePattern(pattern: string): RegExp {
    let regex = patternCache.get(pattern);
    if (!regex) {
        regex = new RegExp(`^(?:${pattern.replace(/\(\?\^:/g, "(?:")})$`);
        patternCache.set(pattern, regex);
    }
    return regex;
}

const IS_NUMBER = /^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$/;
const IS_INTEGER = /^[+-]?\d+$/;

type Errors = Record<string, string>;

function addError(errors: Errors, path: string, message: string): void {
    const key = path || "_root";
    // PVE joins repeated errors with a literal backslash-n (single-quoted '\n' in Perl).
    errors[key] = errors[key] !== undefined ? `${errors[key]}\\n${message}` : message;
}

/** Perl's ref() name for a JSON value, as check_type reports it. */
function perlRef(value: ParamValue): string | undefined {
    if (Array.isArray(value)) return "ARRAY";
    if (typeof value === "boolean") return "JSON::PP::Boolean";
    if (value !== null && typeof value === "object") return "HASH";
    return undefined;
}

/** Verifies parameters against a method's properties exactly as PVE::JSONSchema::validate does. */
export class ParamValidator {
    constructor(private readonly formats: ReadonlyMap<string, FormatValidator>) {}

    /** Returns PVE's `errors` map (empty when the parameters are valid). */
    validate(
        properties: Readonly<Record<string, SchemaProp>>,
        params: Readonly<Record<string, ParamValue>>,
        additionalProperties = false,
    ): Errors {
        const errors: Errors = {};
        this.checkObject("", properties, params, additionalProperties, errors);
        return errors;
    }

    /**
     * parse_property_string for a nested (hash) format: throws the text PVE's check_format turns into
     * `invalid format - <text>`.
     */
    parsePropertyString(format: PropertyFormat, text: string, path: string): Record<string, string> {
        const result: Record<string, string> = {};
        let defaultKey: string | undefined;
        for (const part of text.split(",")) {
            if (/^\s*$/.test(part)) continue;
            const keyed = /^([^=]+)=(.+)$/.exec(part);
            if (keyed) {
                const key = keyed[1];
                let value = keyed[2];
                if (result[key] !== undefined) {
                    throw new FormatError(`duplicate key in comma-separated list property: ${key}`);
                }
                const schema = format[key];
                if (!schema) throw new FormatError(`invalid key in comma-separated list property: ${key}`);
                if (schema.type === "boolean") value = String(parseBoolean(value) ?? value);
                result[key] = value;
            } else if (!part.includes("=")) {
                if (defaultKey !== undefined) {
                    throw new FormatError(`duplicate key in comma-separated list property: ${defaultKey}`);
                }
                const found = Object.keys(format).find((key) => Boolean(format[key].default_key));
                if (found === undefined) {
                    throw new FormatError("value without key, but schema does not define a default key");
                }
                defaultKey = found;
                if (result[found]) throw new FormatError(`duplicate key in comma-separated list property: ${found}`);
                result[found] = part;
            } else {
                throw new FormatError("missing key in comma-separated list property");
            }
        }
        const errors: Errors = {};
        this.checkObject(path, format, result, false, errors);
        const keys = Object.keys(errors).sort();
        if (keys.length > 0) {
            // PVE::Exception stringification: the message, then one `key: error` line per error.
            throw new FormatError(`format error\n${keys.map((key) => `${key}: ${errors[key]}\n`).join("")}`);
        }
        return result;
    }

    private checkObject(
        path: string,
        schema: Readonly<Record<string, SchemaProp>>,
        value: Readonly<Record<string, ParamValue>>,
        additionalProperties: boolean,
        errors: Errors,
    ): void {
        for (const key of Object.keys(schema)) {
            this.checkProp(value[key], schema[key], path ? `${path}.${key}` : key, errors);
        }
        for (const key of Object.keys(value)) {
            const newPath = path ? `${path}.${key}` : key;
            const sub = schema[key];
            if (sub) {
                const requires = sub.requires;
                if (requires !== undefined && (value[requires] === undefined || value[requires] === null)) {
                    addError(
                        errors,
                        path ? `${path}.${requires}` : requires,
                        `missing property - '${newPath}' requires this property`,
                    );
                }
                continue;
            }
            if (!additionalProperties) {
                addError(
                    errors,
                    newPath,
                    "property is not defined in schema and the schema does not allow additional properties",
                );
            }
        }
    }

    private checkProp(value: ParamValue | undefined, schema: SchemaProp, path: string, errors: Errors): void {
        if (value === undefined || value === null) {
            if (!schema.optional) addError(errors, path, "property is missing and it is not optional");
            return;
        }
        const type = schema.type;
        const ref = perlRef(value);
        if (type && type !== "any") {
            if (ref !== undefined) {
                if (!(type === "boolean" && typeof value === "boolean")) {
                    addError(errors, path, `type check ('${type}') failed - got ${ref}`);
                    return;
                }
            } else {
                const text = String(value);
                if (type === "boolean" && text !== "1" && text !== "0") {
                    addError(errors, path, `type check ('${type}') failed - got '${text}'`);
                    return;
                }
                if (type === "integer" && !IS_INTEGER.test(text)) {
                    addError(errors, path, `type check ('${type}') failed - got '${text}'`);
                    return;
                }
                if (type === "number" && !IS_NUMBER.test(text)) {
                    addError(errors, path, `type check ('${type}') failed - got '${text}'`);
                    return;
                }
            }
        }
        if (ref !== undefined) return;
        const text = String(value);
        if (schema.format !== undefined) {
            try {
                if (typeof schema.format === "string") checkNamedFormat(this.formats, schema.format, text);
                else this.parsePropertyString(schema.format, text, path);
            } catch (error) {
                if (!(error instanceof FormatError)) throw error;
                addError(errors, path, `invalid format - ${error.message}`);
                return;
            }
        }
        if (schema.pattern !== undefined && !compilePattern(schema.pattern).test(text)) {
            addError(errors, path, "value does not match the regex pattern");
            return;
        }
        if (schema.maxLength !== undefined && [...text].length > schema.maxLength) {
            addError(errors, path, `value may only be ${schema.maxLength} characters long`);
            return;
        }
        if (schema.minLength !== undefined && [...text].length < schema.minLength) {
            addError(errors, path, `value must be at least ${schema.minLength} characters long`);
            return;
        }
        if (IS_NUMBER.test(text)) {
            if (schema.maximum !== undefined && Number(text) > Number(schema.maximum)) {
                addError(errors, path, `value must have a maximum value of ${schema.maximum}`);
                return;
            }
            if (schema.minimum !== undefined && Number(text) < Number(schema.minimum)) {
                addError(errors, path, `value must have a minimum value of ${schema.minimum}`);
                return;
            }
        }
        if (schema.enum && !schema.enum.includes(text)) {
            addError(
                errors,
                path,
                `value '${text}' does not have a value in the enumeration '${schema.enum.join(", ")}'`,
            );
        }
    }
}

/** Validated parameters as handlers see them: every value a string (JSON booleans become `1`/`0`). */
export function stringifyParams(params: Readonly<Record<string, ParamValue>>): Record<string, string> {
    const result: Record<string, string> = {};
    for (const [key, value] of Object.entries(params)) {
        if (value === null || value === undefined) continue;
        if (typeof value === "boolean") result[key] = value ? "1" : "0";
        else if (typeof value === "object") result[key] = JSON.stringify(value);
        else result[key] = String(value);
    }
    return result;
}
