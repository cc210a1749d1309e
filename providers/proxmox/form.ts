/**
 * Request parameter encoding as pve-http-server decodes it: `application/x-www-form-urlencoded` bodies for
 * POST/PUT, the query string for GET/DELETE.
 */

/**
 * A parameter value. Booleans go out as 1/0 (PVE's boolean parser also takes on/off/yes/no, but 1/0 is what
 * its own clients send). `undefined`/`null` are omitted, so optional fields can be passed through as they are.
 * Arrays become repeated keys, which PVE reads as a list ONLY for parameters whose schema type is `array`;
 * PVE's `*-list` formats (`pve-configid-list`, `pve-roleid-list`, `pve-iface-list`, ...) are plain strings,
 * so callers join those themselves (see `joinList`).
 */
export type FormValue = string | number | boolean | null | undefined | readonly string[];
export type FormParams = Readonly<Record<string, FormValue>>;

/** Percent-encodes like encodeURIComponent (space as %20, never `+`, which some decoders keep literally). */
function enc(text: string): string {
    return encodeURIComponent(text);
}

function scalar(value: string | number | boolean): string {
    if (typeof value === "boolean") return value ? "1" : "0";
    if (typeof value === "number") {
        if (!Number.isFinite(value)) throw new TypeError(`cannot send non-finite number ${value} to PVE`);
        return String(value);
    }
    return value;
}

/** `a=1&b=x%20y&c=1&c=2`; keys in the order given. Returns "" when nothing is left after omitting undefined. */
export function encodeParams(params: FormParams | undefined): string {
    if (!params) return "";
    const parts: string[] = [];
    for (const [key, value] of Object.entries(params)) {
        if (value === undefined || value === null) continue;
        if (Array.isArray(value)) {
            for (const item of value as readonly string[]) parts.push(`${enc(key)}=${enc(scalar(item))}`);
        } else {
            parts.push(`${enc(key)}=${enc(scalar(value as string | number | boolean))}`);
        }
    }
    return parts.join("&");
}

/** Joins a PVE `*-list` string parameter (comma-separated; PVE's split_list also accepts `;` and spaces). */
export function joinList(items: readonly string[], separator: string = ","): string {
    return items.join(separator);
}

/**
 * Encodes one path segment (node, vmid, iface, UPID, userid, tokenid). `:`, `@` and `!` stay literal: they are
 * valid in a path segment (RFC 3986 pchar) and are how UPIDs and user/token ids are written everywhere.
 */
export function pathSegment(value: string | number): string {
    return encodeURIComponent(String(value)).replace(/%3A/gi, ":").replace(/%40/g, "@").replace(/%21/g, "!");
}

/** Tagged template for API paths: ``apiPath`/nodes/${node}/lxc/${vmid}/config` `` encodes every substitution. */
export function apiPath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
    let out = strings[0];
    values.forEach((value, i) => {
        out += pathSegment(value) + strings[i + 1];
    });
    return out;
}
