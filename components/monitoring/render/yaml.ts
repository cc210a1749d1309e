/**
 * A small YAML writer for the configuration files of Prometheus, Alertmanager, the blackbox exporter, the PVE
 * exporter and Grafana's provisioning. Those readers are go-yaml (YAML 1.1 rules) and PyYAML, so a string is left
 * unquoted only when no YAML 1.1 reader could take it for anything else. Other strings are single-quoted (only `'`
 * needs escaping there, so PromQL stays readable) unless they hold control characters such as newlines, which are
 * written as JSON strings: valid YAML double-quoted scalars. Writing the text ourselves (rather than dumping with a
 * library) keeps the output stable byte for byte, which the renderer tests and the file hashes depend on.
 */

export type YamlScalar = string | number | boolean | null;
export type YamlValue = YamlScalar | YamlValue[] | YamlMap;
export interface YamlMap {
    [key: string]: YamlValue | undefined;
}

/** YAML 1.1 words that read as booleans or null when unquoted. */
const RESERVED = /^(y|yes|n|no|true|false|on|off|null|~)$/i;
/** Identifiers, paths and dotted names: nothing YAML 1.1 reads as a number, date, anchor, tag or flow syntax. */
const PLAIN_WORD = /^[A-Za-z_/][A-Za-z0-9_/.-]*$/;
/** Go/Prometheus durations such as `15s`, `2m`, `1h30m`: letters make them strings in YAML. */
const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

/** One scalar as YAML text. */
export function yamlScalar(v: YamlScalar): string {
    if (v === null) return "null";
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "number") {
        if (!Number.isFinite(v)) throw new Error(`yaml: cannot write the number ${v}`);
        return String(v);
    }
    if ((PLAIN_WORD.test(v) || DURATION.test(v)) && !RESERVED.test(v)) return v;
    // eslint-disable-next-line no-control-regex -- control characters are exactly what single quotes cannot hold
    if (/[\u0000-\u001f\u007f\u0085\u2028\u2029\ufeff]/.test(v)) return JSON.stringify(v);
    return `'${v.replace(/'/g, "''")}'`;
}

function isScalar(v: YamlValue): v is YamlScalar {
    return v === null || typeof v !== "object";
}

function entries(m: YamlMap): [string, YamlValue][] {
    return Object.entries(m).filter((e): e is [string, YamlValue] => e[1] !== undefined);
}

function lines(v: YamlValue, indent: number): string[] {
    const pad = " ".repeat(indent);
    if (isScalar(v)) return [pad + yamlScalar(v)];
    if (Array.isArray(v)) {
        if (v.length === 0) return [pad + "[]"];
        const out: string[] = [];
        for (const item of v) {
            if (isScalar(item) || (Array.isArray(item) && item.length === 0)) {
                out.push(`${pad}- ${isScalar(item) ? yamlScalar(item) : "[]"}`);
                continue;
            }
            if (!Array.isArray(item) && entries(item).length === 0) {
                out.push(`${pad}- {}`);
                continue;
            }
            // The first line of a nested block goes after the dash; the rest keep the block's indentation.
            const inner = lines(item, indent + 2);
            out.push(`${pad}- ${inner[0].slice(indent + 2)}`, ...inner.slice(1));
        }
        return out;
    }
    const es = entries(v);
    if (es.length === 0) return [pad + "{}"];
    const out: string[] = [];
    for (const [k, val] of es) {
        const key = yamlScalar(k);
        if (isScalar(val)) out.push(`${pad}${key}: ${yamlScalar(val)}`);
        else if (Array.isArray(val) && val.length === 0) out.push(`${pad}${key}: []`);
        else if (!Array.isArray(val) && entries(val).length === 0) out.push(`${pad}${key}: {}`);
        else out.push(`${pad}${key}:`, ...lines(val, indent + 2));
    }
    return out;
}

/** A whole document (block style, two-space indentation, sequences indented under their key). */
export function toYaml(v: YamlValue): string {
    return lines(v, 0).join("\n") + "\n";
}

/** A document preceded by `# ...` comment lines. */
export function yamlDocument(comment: string[], v: YamlValue): string {
    return comment.map((c) => (c ? `# ${c}` : "#")).join("\n") + "\n" + toYaml(v);
}
