/**
 * The typed stack config: raw Pulumi config values (strings; objects as JSON text) in, a validated
 * `HomelabConfig` out, or one ValidationError listing every problem with its config key and rule, e.g.
 * `proxmox-homelab:netbox.db.memory: must be ≥ 512 MiB, got 128`.
 *
 * Pure functions, no Pulumi engine: index.ts passes `new pulumi.Config()`'s getter, tests pass a map.
 *
 * Each component keeps its own rules (resolveNetboxArgs, resolveApplianceArgs, validateMonitoringLxcArgs): this
 * module maps the config sections onto the components' args, runs their validation, and renames every problem
 * from the component's field (`NetboxStack.db.memory`) to the config key the user wrote (`netbox.db.memory`), or
 * to the top-level key a value came from (`NetboxStack.network.external` → `externalBridge`). It adds only what
 * no single component can see: the top-level keys, the presence of credentials, and conflicts between components.
 *
 * Credentials are read by the provider runtime through `configure` (providers/runtime/context.ts); here they
 * are only checked for presence, and never copied anywhere.
 */
import { z } from "zod";
import {
    APPLIANCE_DEFAULTS,
    ProximityApplianceArgs,
    ResolvedAppliance,
    resolveApplianceArgs,
} from "./components/appliance/args";
import { HomelabCa } from "./components/common/ca";
import type { ContainerOs } from "./components/common/container";
import { NO_PROXY_ENTRY, NO_PROXY_RULE, type DownloadSettings } from "./components/common/downloads";
import { ValidationError } from "./components/common/validation";
import {
    MonitoringLxcArgs,
    ResolvedMonitoringLxcArgs,
    monitoringLxcSchema,
    validateMonitoringLxcArgs,
} from "./components/monitoring/args";
import { DEFAULT_GRAFANA_APT_KEY_URL } from "./components/monitoring/render/grafana";
import { NetboxStackArgs, ResolvedNetboxStack, resolveNetboxArgs } from "./components/netbox/args";
import { cidrsOverlap, parseCidr, subnetOf } from "./components/netbox/ipv4";
import { CONFIG_NAMESPACE, ConfigLike, PVE_SETTINGS, readSetting, settingLabel } from "./providers/proxmox/connection";
import { SSH_SETTINGS } from "./providers/runtime/context";
import { ALPINE_TEMPLATE, DEBIAN_13_TEMPLATE } from "./providers/template";

/** A raw config value by bare key (`netbox`, not `proxmox-homelab:netbox`), as Pulumi stores it. */
export type ConfigGetter = (key: string) => string | undefined;

export type Environment = Readonly<Record<string, string | undefined>>;

export interface ConfigSourceOptions {
    /** Environment variables that may supply the connection settings instead. Default `process.env`. */
    env?: Environment;
    /**
     * Whether a key's value is stored as a secret (`pulumi.runtime.isConfigSecret`). When given, secret-bearing
     * fields (`netbox.tls.keyPem`, `monitoring.smtp.password`) must be set with `--secret`.
     */
    isSecret?: (key: string) => boolean;
    /** Every key set in the project's namespace (bare). When given, keys the program does not know are refused. */
    keys?: readonly string[];
}

/** A component's args as config can express them: what the program supplies (template, CA, targets) is left out. */
export type NetboxConfigArgs = Omit<NetboxStackArgs, "template" | "templateStorage">;
export type ApplianceConfigArgs = Omit<ProximityApplianceArgs, "template">;
export type MonitoringConfigArgs = Omit<MonitoringLxcArgs, "template" | "tls" | "targets">;

export type Section<A> = { enabled: false } | { enabled: true; args: A };

/** The validated stack config. */
export interface HomelabConfig {
    /** PVE node everything is deployed on (`pveNode`). */
    node: string;
    /** Storage for container root disks (`storage`); a section's own `storage` wins. */
    storage: string;
    /** Storage holding the LXC templates (`templateStorage`). */
    templateStorage: string;
    /** The node's existing external bridge (`externalBridge`). */
    externalBridge: string;
    /** Template file names, one per OS (`debianTemplate`, `alpineTemplate`). */
    templates: Record<ContainerOs, string>;
    /** Package sources and proxy for every container (`downloads`). */
    downloads: DownloadSettings;
    /** The homelab CA (`tls`): signs the NetBox and monitoring certificates. */
    tls: { caCommonName: string; caOrganization: string; caValidityHours: number };
    netbox: Section<NetboxConfigArgs>;
    appliance: Section<ApplianceConfigArgs>;
    monitoring: Section<MonitoringConfigArgs>;
}

/** Component instance names: child resources, labels and tags derive from them. */
export const COMPONENT_NAMES = { netbox: "netbox", appliance: "proximity", monitoring: "monitoring" } as const;

export const DEFAULTS = {
    node: "pve",
    storage: "local-zfs",
    templateStorage: "local",
    externalBridge: "vmbr0",
    debianTemplate: DEBIAN_13_TEMPLATE,
    alpineTemplate: ALPINE_TEMPLATE,
    caCommonName: "Homelab CA",
    caOrganization: "proxmox-homelab",
    caValidityHours: 87600,
    monitoringPublicName: "monitoring.home.arpa",
} as const;

/** The deploy settings config.ts reads (the connection keys are listed in PVE_SETTINGS and SSH_SETTINGS). */
export const DEPLOY_KEYS = [
    "pveNode",
    "storage",
    "templateStorage",
    "externalBridge",
    "debianTemplate",
    "alpineTemplate",
    "downloads",
    "tls",
    "netbox",
    "appliance",
    "monitoring",
] as const;

const SECTIONS = ["netbox", "appliance", "monitoring"] as const;
type SectionKey = (typeof SECTIONS)[number];

/** Keys a section must not set because the program fills them in from elsewhere, with where from. */
const PROGRAM_SUPPLIED: Record<SectionKey, Record<string, string>> = {
    netbox: {
        node: "proxmox-homelab:pveNode",
        template: "proxmox-homelab:debianTemplate",
        templateStorage: "proxmox-homelab:templateStorage",
        downloads: "proxmox-homelab:downloads",
    },
    appliance: {
        node: "proxmox-homelab:pveNode",
        template: "proxmox-homelab:alpineTemplate / debianTemplate",
        downloads: "proxmox-homelab:downloads",
    },
    monitoring: {
        node: "proxmox-homelab:pveNode",
        template: "proxmox-homelab:debianTemplate",
        tls: "proxmox-homelab:tls (the homelab CA)",
        targets: "what netbox and appliance deploy",
        downloads: "proxmox-homelab:downloads",
    },
};

const ns = (key: string): string => `${CONFIG_NAMESPACE}:${key}`;
const show = (v: unknown): string => JSON.stringify(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v.trim() === "" ? undefined : v);

// ---- top-level settings ----------------------------------------------------------------------------------------

const SCALARS: Record<
    "pveNode" | "storage" | "templateStorage" | "externalBridge" | "debianTemplate" | "alpineTemplate",
    { default: string; re: RegExp; rule: string }
> = {
    pveNode: {
        default: DEFAULTS.node,
        re: /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
        rule: "a PVE node name (lowercase letters, digits, '-')",
    },
    storage: { default: DEFAULTS.storage, re: /^[a-zA-Z][a-zA-Z0-9\-_.]*$/, rule: "a PVE storage id" },
    templateStorage: { default: DEFAULTS.templateStorage, re: /^[a-zA-Z][a-zA-Z0-9\-_.]*$/, rule: "a PVE storage id" },
    externalBridge: {
        default: DEFAULTS.externalBridge,
        re: /^[a-z][a-z0-9_]{1,14}$/,
        rule: "a bridge name like vmbr0 (a lowercase letter, then lowercase letters, digits or '_'; 2 to 15 characters)",
    },
    debianTemplate: {
        default: DEFAULTS.debianTemplate,
        re: /^[A-Za-z0-9][A-Za-z0-9._+-]*\.tar\.(gz|xz|zst)$/,
        rule: "a template file name as `pveam available` lists it",
    },
    alpineTemplate: {
        default: DEFAULTS.alpineTemplate,
        re: /^[A-Za-z0-9][A-Za-z0-9._+-]*\.tar\.(gz|xz|zst)$/,
        rule: "a template file name as `pveam available` lists it",
    },
};

const got = (i: { input?: unknown }) => `got ${show(i.input)}`;
const httpUrl = (example: string) =>
    z.string({ error: (i) => `must be a string, ${got(i)}` }).regex(/^https?:\/\/[^\s'"\\/?#]+(\/[^\s'"\\]*)?$/, {
        error: (i) => `must be an http(s) URL like ${example}, ${got(i)}`,
    });

/** Shared by every component; strict enough that each component's own downloads rules pass. */
const downloadsSchema = z.strictObject({
    httpProxy: z
        .string({ error: (i) => `must be a string, ${got(i)}` })
        .regex(/^https?:\/\/[^\s/?#'"\\]+\/?$/, {
            error: (i) => `must be a proxy URL like http://10.0.0.1:3128, ${got(i)}`,
        })
        .optional(),
    debianMirror: httpUrl("http://deb.debian.org/debian").optional(),
    debianSecurityMirror: httpUrl("http://deb.debian.org/debian-security").optional(),
    alpineMirror: httpUrl("https://dl-cdn.alpinelinux.org/alpine").optional(),
    pipIndexUrl: httpUrl("https://pypi.org/simple").optional(),
    extraCaCerts: z
        .array(
            z
                .string({ error: (i) => `must be a string, ${got(i)}` })
                .refine((s) => /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(s), {
                    error: "must be a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
                }),
            { error: (i) => `must be a list of PEM certificates, ${got(i)}` },
        )
        .optional(),
    noProxy: z
        .array(
            z
                .string({ error: (i) => `must be a string, ${got(i)}` })
                .regex(NO_PROXY_ENTRY, { error: (i) => `must be ${NO_PROXY_RULE}, ${got(i)}` }),
            { error: (i) => `must be a list of host names, addresses or CIDRs, ${got(i)}` },
        )
        .optional(),
});

const tlsSchema = z.strictObject({
    caCommonName: z
        .string({ error: (i) => `must be a string, ${got(i)}` })
        // eslint-disable-next-line no-control-regex -- control characters would break the certificate subject
        .regex(/^[^\u0000-\u001f\u007f]{1,64}$/, {
            error: (i) => `must be 1 to 64 characters on one line, ${got(i)}`,
        })
        .optional(),
    caOrganization: z
        .string({ error: (i) => `must be a string, ${got(i)}` })
        // eslint-disable-next-line no-control-regex -- control characters would break the certificate subject
        .regex(/^[^\u0000-\u001f\u007f]{1,64}$/, {
            error: (i) => `must be 1 to 64 characters on one line, ${got(i)}`,
        })
        .optional(),
    caValidityHours: z
        .number({ error: (i) => `must be a number, ${got(i)}` })
        .int({ error: (i) => `must be a whole number, ${got(i)}` })
        // The server certificates it signs are valid for 8760 hours; a CA that ends first invalidates them.
        .min(8760, { error: (i) => `must be ≥ 8760 (the server certificates it signs last a year), ${got(i)}` })
        .max(876000, { error: (i) => `must be ≤ 876000, ${got(i)}` })
        .optional(),
});

/** `a.b[2].c` after a config key. */
function keyPath(key: string, path: readonly PropertyKey[]): string {
    let out = ns(key);
    for (const p of path) out += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
    return out;
}

/** Zod issues as `proxmox-homelab:<key>.<path>: <rule>`; unknown keys one line each. */
function zodProblems(key: string, issues: readonly z.core.$ZodIssue[], hints: Record<string, string> = {}): string[] {
    return issues.flatMap((i) =>
        i.code === "unrecognized_keys"
            ? i.keys.map((k) => `${keyPath(key, [...i.path, k])}: unknown setting${hints[k] ? ` (${hints[k]})` : ""}`)
            : [`${keyPath(key, i.path)}: ${i.message}`],
    );
}

// ---- component problems → config keys ---------------------------------------------------------------------------

/** A field the program filled in, by its path in the component's args, and the config key it came from. */
type Derived = Record<string, string>;

const underPath = (path: string, prefix: string): boolean =>
    path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);

/**
 * `NetboxStack.db.memory: must be ≥ 512 MiB, got 128` → `proxmox-homelab:netbox.db.memory: ...`; a field the
 * program derived is reported under the key it came from. Returns [] for fields in `drop` (program-supplied
 * placeholders) and splits zod's `Unrecognized keys: "a", "b"` into one line per key.
 */
export function mapComponentProblem(
    line: string,
    component: string,
    section: string,
    derived: Derived = {},
    drop: string[] = [],
): string[] {
    const m = /^([^\s:]*): ([\s\S]*)$/.exec(line);
    if (!m || !(m[1] === component || m[1].startsWith(`${component}.`) || m[1].startsWith(`${component}[`))) {
        return [`${ns(section)}: ${line}`];
    }
    const path = m[1].slice(component.length).replace(/^\./, "");
    let message = m[2];
    if (drop.some((d) => underPath(path, d))) return [];
    const unknown = /^Unrecognized keys?: (.*)$/.exec(message);
    if (unknown) {
        const keys = [...unknown[1].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((k) => k[1]);
        return keys.flatMap((k) =>
            mapComponentProblem(
                `${component}${path ? `.${path}` : ""}.${k}: unknown setting`,
                component,
                section,
                derived,
                drop,
            ),
        );
    }
    // zod's own text for a required field that is missing says less than it could.
    const missing = /^Invalid input: expected (\w+), received undefined$/.exec(message);
    if (missing) message = `required (${/^[aeiou]/.test(missing[1]) ? "an" : "a"} ${missing[1]})`;
    const from = Object.keys(derived)
        .sort((a, b) => b.length - a.length)
        .find((d) => underPath(path, d));
    if (from !== undefined) return [`${ns(derived[from])}${path.slice(from.length)}: ${message}`];
    return [`${ns(section)}${path ? `.${path}` : ""}: ${message}`];
}

function componentProblems(
    run: () => void,
    component: string,
    section: string,
    derived: Derived,
    drop: string[] = [],
): string[] {
    try {
        run();
        return [];
    } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        return e.problems.flatMap((p) => mapComponentProblem(p, component, section, derived, drop));
    }
}

/** Minimal view of zod 4's schema internals, enough to walk object shapes. */
interface SchemaDef {
    type: string;
    shape?: Record<string, z.core.$ZodType>;
    innerType?: z.core.$ZodType;
    element?: z.core.$ZodType;
    in?: z.core.$ZodType;
    out?: z.core.$ZodType;
}
const defOf = (s: z.core.$ZodType): SchemaDef => s._zod.def as unknown as SchemaDef;

/**
 * Keys of `value` that a non-strict schema would silently drop (MonitoringLxc's schema strips unknown keys; in
 * config, an unknown key is a typo that must not be ignored).
 */
export function unknownKeys(
    schema: z.core.$ZodType,
    value: unknown,
    path: (string | number)[] = [],
): (string | number)[][] {
    const def = defOf(schema);
    switch (def.type) {
        case "optional":
        case "default":
        case "prefault":
        case "nullable":
        case "readonly":
            return def.innerType ? unknownKeys(def.innerType, value, path) : [];
        case "pipe": {
            const side = def.in && defOf(def.in).type === "transform" ? def.out : def.in;
            return side ? unknownKeys(side, value, path) : [];
        }
        case "array":
            return Array.isArray(value) && def.element
                ? value.flatMap((v, i) => unknownKeys(def.element!, v, [...path, i]))
                : [];
        case "object": {
            if (!isObject(value) || !def.shape) return [];
            const shape = def.shape;
            return Object.entries(value).flatMap(([k, v]) =>
                k in shape ? unknownKeys(shape[k], v, [...path, k]) : [[...path, k]],
            );
        }
        default:
            return [];
    }
}

// ---- credentials --------------------------------------------------------------------------------------------------

/**
 * Presence of what the providers need to reach the node, each missing one named by its config key AND the
 * environment variable that can supply it. Values are only tested for being non-empty.
 */
export function credentialProblems(config: ConfigLike, env: Environment, needsRoot: boolean): string[] {
    const has = (s: { key: string; env: string }) => readSetting(config, env, s) !== undefined;
    const problems: string[] = [];
    if (!has(PVE_SETTINGS.endpoint)) {
        problems.push(
            `${settingLabel(PVE_SETTINGS.endpoint)}: missing; set it to the API URL, e.g. https://pve.lan:8006`,
        );
    }
    const hasToken = has(PVE_SETTINGS.apiToken);
    const hasPassword = has(PVE_SETTINGS.password);
    if (!hasToken && !hasPassword) {
        problems.push(
            `${settingLabel(PVE_SETTINGS.apiToken)} or ${settingLabel(PVE_SETTINGS.password)}: missing; ` +
                "set an API token or root@pam's password with `pulumi config set --secret`",
        );
    }
    if (needsRoot) {
        if (!hasPassword) {
            problems.push(
                `${settingLabel(PVE_SETTINGS.password)}: missing; appliance.enabled needs root@pam's password: ` +
                    "the ProximityAppliance is a privileged container, which Proxmox VE lets only root@pam create " +
                    "(API tokens never count as root@pam)",
            );
        }
        const username = readSetting(config, env, PVE_SETTINGS.username)?.trim();
        if (username !== undefined && username !== "root@pam") {
            problems.push(
                `${settingLabel(PVE_SETTINGS.username)}: must be root@pam when appliance.enabled ` +
                    `(privileged containers are root@pam's alone), got ${show(username)}`,
            );
        }
    }
    if (!has(SSH_SETTINGS.privateKey)) {
        problems.push(
            `${settingLabel(SSH_SETTINGS.privateKey)}: missing; set it with ` +
                "`pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
        );
    }
    if (!has(SSH_SETTINGS.hostKeyFingerprint) && !has(SSH_SETTINGS.knownHosts)) {
        problems.push(
            `${settingLabel(SSH_SETTINGS.hostKeyFingerprint)} or ${settingLabel(SSH_SETTINGS.knownHosts)}: missing; ` +
                "pin the node's SSH host key (run `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the node)",
        );
    }
    return problems;
}

// ---- the whole config ----------------------------------------------------------------------------------------------

export interface ConfigCheck {
    /** Set when there are no problems. */
    config?: HomelabConfig;
    /** Every problem, `proxmox-homelab:<key path>: <rule>`. */
    problems: string[];
}

/** Reads a JSON object section; undefined when unset. */
function readObject(
    get: ConfigGetter,
    key: string,
    problems: string[],
    isSecret: (key: string) => boolean,
): Record<string, unknown> | undefined {
    const raw = nonEmpty(get(key));
    if (raw === undefined) return undefined;
    let value: unknown;
    try {
        value = JSON.parse(raw);
    } catch {
        value = raw;
    }
    if (!isObject(value)) {
        const seen = isSecret(key) ? "[secret]" : show(value);
        problems.push(`${ns(key)}: must be an object (a YAML map in the stack file, or JSON text), got ${seen}`);
        return undefined;
    }
    return value;
}

/** Validates the whole stack config; every problem from every section, nothing thrown for bad input. */
export function checkHomelabConfig(get: ConfigGetter, opts: ConfigSourceOptions = {}): ConfigCheck {
    const env = opts.env ?? process.env;
    const isSecret = opts.isSecret ?? (() => false);
    const problems: string[] = [];
    const known = new Set<string>([
        ...DEPLOY_KEYS,
        ...Object.values(PVE_SETTINGS).map((s) => s.key),
        ...Object.values(SSH_SETTINGS).map((s) => s.key),
    ]);
    for (const key of opts.keys ?? []) {
        if (known.has(key)) continue;
        const section = key.split(".")[0];
        problems.push(
            `${ns(key)}: unknown setting` +
                (key.includes(".") && known.has(section)
                    ? ` (a field of ${section}: set it with \`pulumi config set --path '${key}' ...\`)`
                    : ""),
        );
    }
    /** Top-level keys found bad here: components' restatements of the same problem are dropped. */
    const badKeys = new Set<string>();

    const scalar = (key: keyof typeof SCALARS): string => {
        const spec = SCALARS[key];
        const value = nonEmpty(get(key))?.trim() ?? spec.default;
        if (!spec.re.test(value)) {
            problems.push(`${ns(key)}: must be ${spec.rule}, got ${show(value)}`);
            badKeys.add(key);
        }
        return value;
    };
    const node = scalar("pveNode");
    const storage = scalar("storage");
    const templateStorage = scalar("templateStorage");
    const externalBridge = scalar("externalBridge");
    const templates: Record<ContainerOs, string> = {
        debian: scalar("debianTemplate"),
        alpine: scalar("alpineTemplate"),
    };

    // ---- sections and whether they are on ----
    const raw: Partial<Record<SectionKey, Record<string, unknown>>> = {};
    const enabled: Record<SectionKey, boolean> = { netbox: false, appliance: false, monitoring: false };
    for (const key of SECTIONS) {
        const obj = readObject(get, key, problems, isSecret);
        if (obj === undefined) continue;
        const on = obj.enabled ?? true;
        if (typeof on !== "boolean") {
            problems.push(`${ns(key)}.enabled: must be true or false, got ${show(on)}`);
            continue;
        }
        enabled[key] = on;
        if (!on) continue;
        const { enabled: _enabled, ...rest } = obj;
        for (const [field, source] of Object.entries(PROGRAM_SUPPLIED[key])) {
            if (field in rest) {
                problems.push(`${ns(key)}.${field}: set by the program from ${source}; remove it here`);
                delete rest[field];
            }
        }
        raw[key] = rest;
    }

    // ---- credentials (presence only) ----
    problems.push(...credentialProblems({ get }, env, enabled.appliance));

    // ---- downloads, tls ----
    let downloads: DownloadSettings = {};
    const downloadsRaw = readObject(get, "downloads", problems, isSecret);
    if (downloadsRaw !== undefined) {
        const r = downloadsSchema.safeParse(downloadsRaw);
        if (r.success) downloads = r.data;
        else {
            problems.push(...zodProblems("downloads", r.error.issues));
            badKeys.add("downloads");
        }
    }
    const tls = {
        caCommonName: DEFAULTS.caCommonName,
        caOrganization: DEFAULTS.caOrganization,
        caValidityHours: DEFAULTS.caValidityHours as number,
    };
    const tlsRaw = readObject(get, "tls", problems, isSecret);
    if (tlsRaw !== undefined) {
        const r = tlsSchema.safeParse(tlsRaw);
        const own = "a certificate of your own for NetBox goes in netbox.tls";
        if (r.success) Object.assign(tls, r.data);
        else problems.push(...zodProblems("tls", r.error.issues, { certPem: own, keyPem: own, caCertPem: own }));
    }

    // Problems a component reports about values it got from a top-level key already reported above.
    const fromBadKey = (line: string) =>
        [...badKeys].some(
            (k) => line.startsWith(`${ns(k)}:`) || line.startsWith(`${ns(k)}.`) || line.startsWith(`${ns(k)}[`),
        );
    const sectionProblems = (lines: string[]) => lines.filter((l) => !fromBadKey(l));

    const monitoringIp = staticAddress(raw.monitoring);

    // ---- netbox ----
    let netbox: Section<NetboxConfigArgs> = { enabled: false };
    let netboxResolved: ResolvedNetboxStack | undefined;
    if (raw.netbox) {
        const { args, derived } = netboxArgs(raw.netbox, { node, storage, externalBridge, downloads }, monitoringIp);
        const lines = componentProblems(
            () => void (netboxResolved = resolveNetboxArgs(COMPONENT_NAMES.netbox, args)),
            "NetboxStack",
            "netbox",
            derived,
        );
        lines.push(...pemProblems(raw.netbox, isSecret, opts.isSecret !== undefined));
        problems.push(...sectionProblems(lines));
        if (lines.length === 0) netbox = { enabled: true, args };
        else netboxResolved = undefined;
    }

    // ---- appliance ----
    let appliance: Section<ApplianceConfigArgs> = { enabled: false };
    let applianceResolved: ResolvedAppliance | undefined;
    if (raw.appliance) {
        const { args, derived } = applianceArgs(
            raw.appliance,
            { node, storage, externalBridge, downloads },
            enabled.monitoring,
        );
        const os = (typeof args.os === "string" ? args.os : APPLIANCE_DEFAULTS.os) as ContainerOs;
        const lines = componentProblems(
            () =>
                void (applianceResolved = resolveApplianceArgs(COMPONENT_NAMES.appliance, {
                    ...args,
                    template: templateVolid(templateStorage, templates[os] ?? templates.alpine),
                })),
            "ProximityAppliance",
            "appliance",
            derived,
        );
        problems.push(...sectionProblems(lines));
        if (lines.length === 0) appliance = { enabled: true, args };
        else applianceResolved = undefined;
    }

    // ---- monitoring ----
    let monitoring: Section<MonitoringConfigArgs> = { enabled: false };
    let monitoringResolved: ResolvedMonitoringLxcArgs | undefined;
    if (raw.monitoring) {
        const { args, derived } = monitoringArgs(
            raw.monitoring,
            { node, storage, externalBridge, downloads },
            { get },
            env,
        );
        const lines = unknownKeys(monitoringLxcSchema, args).map((p) => `${keyPath("monitoring", p)}: unknown setting`);
        lines.push(
            ...componentProblems(
                () =>
                    void (monitoringResolved = validateMonitoringLxcArgs(COMPONENT_NAMES.monitoring, {
                        ...args,
                        template: templateVolid(templateStorage, templates.debian),
                        tls: { ca: CA_PLACEHOLDER },
                    } as MonitoringLxcArgs)),
                "MonitoringLxc",
                "monitoring",
                derived,
                ["tls", "template", "targets"],
            ),
        );
        const smtp = raw.monitoring.smtp;
        if (opts.isSecret && isObject(smtp) && smtp.password !== undefined && !isSecret("monitoring")) {
            lines.push(
                `${ns("monitoring")}.smtp.password: must be stored as a secret: ` +
                    "pulumi config set --secret --path 'monitoring.smtp.password' '...'",
            );
        }
        problems.push(...sectionProblems(lines));
        if (lines.length === 0) monitoring = { enabled: true, args };
        else monitoringResolved = undefined;
    }

    problems.push(
        ...crossComponentProblems(
            { netbox: netboxResolved, appliance: applianceResolved, monitoring: monitoringResolved },
            { netbox: raw.netbox, appliance: raw.appliance, monitoring: raw.monitoring },
        ),
    );

    const unique = [...new Set(problems)];
    if (unique.length > 0) return { problems: unique };
    return {
        problems: [],
        config: {
            node,
            storage,
            templateStorage,
            externalBridge,
            templates,
            downloads,
            tls,
            netbox,
            appliance,
            monitoring,
        },
    };
}

/** Validates the stack config; throws one ValidationError listing every problem before anything is registered. */
export function loadHomelabConfig(get: ConfigGetter, opts: ConfigSourceOptions = {}): HomelabConfig {
    const r = checkHomelabConfig(get, opts);
    if (!r.config) throw new ValidationError("stack config", r.problems);
    return r.config;
}

/**
 * Stands in for the homelab CA while the monitoring args are validated: the CA is a resource, and nothing may be
 * registered before the config is known to be good. Made without running the constructor, so it registers nothing;
 * it only satisfies the component's `instanceof HomelabCa` check and is never passed to a component.
 */
const CA_PLACEHOLDER: HomelabCa = Object.create(HomelabCa.prototype) as HomelabCa;

/**
 * URLs the deployment fetches with curl inside containers (everything else comes through the package managers):
 * the NetBox release tarball and Grafana's apt signing key. A simulator run must register these first.
 */
export function curlDownloads(cfg: HomelabConfig): string[] {
    const urls: string[] = [];
    if (cfg.netbox.enabled) urls.push(resolveNetboxArgs(COMPONENT_NAMES.netbox, cfg.netbox.args).releaseUrl);
    if (cfg.monitoring.enabled && (cfg.monitoring.args.grafana?.enabled ?? true)) {
        urls.push(cfg.monitoring.args.grafana?.aptKeyUrl ?? DEFAULT_GRAFANA_APT_KEY_URL);
    }
    return urls;
}

/** The volid a Template resource reports for a template on a storage. */
export function templateVolid(storage: string, template: string): string {
    return `${storage}:vztmpl/${template}`;
}

interface TopLevel {
    node: string;
    storage: string;
    externalBridge: string;
    downloads: DownloadSettings;
}

/** The monitoring container's static address (`monitoring.network.ip` without prefix), if it has one. */
function staticAddress(monitoring: Record<string, unknown> | undefined): string | undefined {
    const network = monitoring?.network;
    const ip = isObject(network) ? network.ip : undefined;
    if (typeof ip !== "string" || ip === "dhcp") return undefined;
    const parsed = parseCidr(ip);
    return parsed ? ip.split("/")[0] : undefined;
}

function netboxArgs(
    section: Record<string, unknown>,
    top: TopLevel,
    monitoringIp: string | undefined,
): { args: NetboxConfigArgs; derived: Derived } {
    const args: Record<string, unknown> = { ...section, node: top.node };
    const derived: Derived = { node: "pveNode", downloads: "downloads" };
    if (args.storage === undefined) {
        args.storage = top.storage;
        derived.storage = "storage";
    }
    if (args.network === undefined || isObject(args.network)) {
        const network: Record<string, unknown> = { ...(args.network ?? {}) };
        if (network.external === undefined) {
            network.external = top.externalBridge;
            derived["network.external"] = "externalBridge";
        }
        // node_exporter in NetBox's containers is firewalled to its subnets; let the monitoring container in.
        const sources = network.monitoringSources;
        if (monitoringIp !== undefined && (sources === undefined || Array.isArray(sources))) {
            const list = (sources ?? []) as unknown[];
            if (!list.includes(monitoringIp) && !list.includes(`${monitoringIp}/32`)) {
                network.monitoringSources = [...list, monitoringIp];
            }
        }
        args.network = network;
    }
    args.downloads = top.downloads;
    return { args: args as NetboxConfigArgs, derived };
}

/** PEM shape and secretness of a certificate of one's own for NetBox (`netbox.tls`). */
function pemProblems(
    section: Record<string, unknown>,
    isSecret: (k: string) => boolean,
    checkSecret: boolean,
): string[] {
    const tls = section.tls;
    if (!isObject(tls)) return [];
    const out: string[] = [];
    const cert = /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/;
    for (const field of ["certPem", "caCertPem"] as const) {
        const v = tls[field];
        if (typeof v === "string" && !cert.test(v)) {
            out.push(`${ns("netbox")}.tls.${field}: must be a PEM certificate (-----BEGIN CERTIFICATE----- ...)`);
        }
    }
    const key = tls.keyPem;
    if (typeof key === "string") {
        // The value is a secret: say what is wrong without echoing it.
        if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+-----END [A-Z ]*PRIVATE KEY-----/.test(key)) {
            out.push(`${ns("netbox")}.tls.keyPem: must be a PEM private key (-----BEGIN ... PRIVATE KEY-----)`);
        }
        if (checkSecret && !isSecret("netbox")) {
            out.push(
                `${ns("netbox")}.tls.keyPem: must be stored as a secret: ` +
                    `pulumi config set --secret --path 'netbox.tls.keyPem' "$(cat key.pem)"`,
            );
        }
    }
    return out;
}

function applianceArgs(
    section: Record<string, unknown>,
    top: TopLevel,
    monitoringEnabled: boolean,
): { args: ApplianceConfigArgs; derived: Derived } {
    const args: Record<string, unknown> = { ...section, node: top.node };
    const derived: Derived = { node: "pveNode", downloads: "downloads" };
    if (args.storage === undefined) {
        args.storage = top.storage;
        derived.storage = "storage";
    }
    if (args.wanBridge === undefined) {
        args.wanBridge = top.externalBridge;
        derived.wanBridge = "externalBridge";
    }
    // With monitoring on, every container should be scraped (the component's own default is off).
    if (monitoringEnabled && args.nodeExporter === undefined) args.nodeExporter = true;
    args.downloads = top.downloads;
    return { args: args as unknown as ApplianceConfigArgs, derived };
}

function monitoringArgs(
    section: Record<string, unknown>,
    top: TopLevel,
    config: ConfigLike,
    env: Environment,
): { args: MonitoringConfigArgs; derived: Derived } {
    const args: Record<string, unknown> = { ...section, node: top.node };
    const derived: Derived = { node: "pveNode", downloads: "downloads" };
    if (args.storage === undefined) {
        args.storage = top.storage;
        derived.storage = "storage";
    }
    if (args.network === undefined || isObject(args.network)) {
        const network: Record<string, unknown> = { ...(args.network ?? {}) };
        if (network.bridge === undefined) {
            network.bridge = top.externalBridge;
            derived["network.bridge"] = "externalBridge";
        }
        args.network = network;
    }
    if (args.publicName === undefined) args.publicName = DEFAULTS.monitoringPublicName;
    if (isObject(args.pve)) {
        const pve: Record<string, unknown> = { ...args.pve };
        if (pve.nodeName === undefined) {
            pve.nodeName = top.node;
            derived["pve.nodeName"] = "pveNode";
        }
        // The node as the container reaches it: by default the host of the API endpoint the program deploys through.
        if (pve.address === undefined) {
            const endpoint = readSetting(config, env, PVE_SETTINGS.endpoint);
            const url = endpoint ? safeUrl(endpoint) : undefined;
            if (url) {
                pve.address = url.hostname.replace(/^\[|\]$/g, "");
                derived["pve.address"] = "pveEndpoint";
                if (pve.apiUrl === undefined) {
                    pve.apiUrl = url.origin;
                    derived["pve.apiUrl"] = "pveEndpoint";
                }
            }
        }
        if (pve.caCertPem === undefined && pve.verifyTls !== false) {
            const ca = readSetting(config, env, PVE_SETTINGS.caCert);
            if (ca !== undefined) {
                pve.caCertPem = ca.includes("\n") ? ca : ca.replace(/\\n/g, "\n");
                derived["pve.caCertPem"] = "pveCaCert";
            }
        }
        args.pve = pve;
    }
    args.downloads = top.downloads;
    return { args: args as unknown as MonitoringConfigArgs, derived };
}

function safeUrl(s: string): URL | undefined {
    try {
        return new URL(s.trim());
    } catch {
        return undefined;
    }
}

interface VmidUse {
    key: string;
    vmid: number;
    isDefault: boolean;
    section: SectionKey;
}

/**
 * What no single component can see: container ids used twice across components, ids PVE would allocate while
 * others are fixed, the same bridge created twice, and overlapping subnets.
 */
function crossComponentProblems(
    r: { netbox?: ResolvedNetboxStack; appliance?: ResolvedAppliance; monitoring?: ResolvedMonitoringLxcArgs },
    raw: Partial<Record<SectionKey, Record<string, unknown>>>,
): string[] {
    const problems: string[] = [];
    const given = (section: SectionKey, ...path: (string | number)[]): boolean => {
        let v: unknown = raw[section];
        for (const p of path)
            v = isObject(v) || Array.isArray(v) ? (v as Record<string | number, unknown>)[p] : undefined;
        return v !== undefined;
    };
    const uses: VmidUse[] = [];
    if (r.netbox) {
        for (const role of ["app", "db", "cache", "proxy"] as const) {
            uses.push({
                key: `netbox.${role}.vmid`,
                vmid: r.netbox[role].vmid,
                isDefault: !given("netbox", role, "vmid"),
                section: "netbox",
            });
        }
    }
    if (r.appliance) {
        uses.push({
            key: "appliance.vmid",
            vmid: r.appliance.vmid,
            isDefault: !given("appliance", "vmid"),
            section: "appliance",
        });
        r.appliance.apps.forEach((app, i) => {
            if (app.vmid !== undefined)
                uses.push({ key: `appliance.apps[${i}].vmid`, vmid: app.vmid, isDefault: false, section: "appliance" });
        });
    }
    if (r.monitoring?.vmid !== undefined) {
        uses.push({ key: "monitoring.vmid", vmid: r.monitoring.vmid, isDefault: false, section: "monitoring" });
    }
    const label = (u: VmidUse) => `${u.key}${u.isDefault ? " (the default)" : ""}`;
    uses.forEach((u, i) => {
        const first = uses.findIndex((o) => o.vmid === u.vmid && o.section !== u.section);
        if (first >= 0 && first < i) {
            problems.push(
                `${ns(u.key)}: ${u.vmid}${u.isDefault ? " (the default)" : ""} is already used by ${label(uses[first])}`,
            );
        }
    });

    // An id PVE allocates is the lowest free one when the container is created: it can take a fixed id of another
    // component whose container is created later (the deploy order between components is not fixed).
    const allocated = (key: string, others: SectionKey[]) => {
        const fixed = [...new Set(uses.filter((u) => others.includes(u.section)).map((u) => u.vmid))];
        return (
            `${ns(key)}: must be set when ${others.join(" or ")} is enabled: their containers have fixed ids ` +
            `(${fixed.sort((a, b) => a - b).join(", ")}), and an id PVE allocates at create time can take one of ` +
            "them before their container exists"
        );
    };
    if (r.monitoring && r.monitoring.vmid === undefined && (r.netbox || r.appliance)) {
        const others: SectionKey[] = [];
        if (r.netbox) others.push("netbox");
        if (r.appliance) others.push("appliance");
        problems.push(allocated("monitoring.vmid", others));
    }
    if (r.appliance && r.netbox) {
        r.appliance.apps.forEach((app, i) => {
            if (app.vmid === undefined) problems.push(allocated(`appliance.apps[${i}].vmid`, ["netbox"]));
        });
    }

    if (r.netbox && r.appliance) {
        const nb = r.netbox.network;
        const lan = r.appliance.lanBridge;
        for (const key of ["backend", "dmz"] as const) {
            if (nb[key].name === lan) {
                problems.push(
                    `${ns("appliance.lanBridge")}: ${show(lan)} is already used by netbox.network.${key}.name`,
                );
            }
            const a = parseCidr(nb[key].cidr)!;
            const b = parseCidr(r.appliance.lan.cidr)!;
            if (cidrsOverlap(subnetOf(a.address, a.prefix), subnetOf(b.address, b.prefix))) {
                problems.push(
                    `${ns("appliance.lanCidr")}: ${r.appliance.lan.cidr} overlaps netbox.network.${key}.cidr (${nb[key].cidr})`,
                );
            }
        }
    }
    return problems;
}
