/**
 * The egress proxy's allowlist, built at run time from this machine's own configuration: the hosts its apt
 * sources name and the hosts pip is configured with (pip's own defaults when none is set).
 *
 * Why at run time: the machines that run the live test bed reach their package registries and nothing else, and
 * which registries those are is a property of the machine, not of the project. Reading them here means the test bed
 * follows whatever mirror a machine uses, and no registry host name is written into the project.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

/** One allowlisted host and where it came from (for the report `testbed status` prints). */
export interface AllowedHost {
    host: string;
    source: string;
}

/** The Debian mirrors the machine's apt sources name, used to build the container template. */
export interface DebianMirrors {
    /** e.g. `http://mirror.example/debian` (no trailing slash). */
    mirror: string;
    /** e.g. `http://mirror.example/debian-security`. */
    securityMirror: string;
}

interface AptSource {
    uri: string;
    suites: string[];
    file: string;
}

/** The `deb` URIs of one-line (`.list`) apt sources. */
function parseOneLineSources(text: string, file: string): AptSource[] {
    const out: AptSource[] = [];
    for (const raw of text.split("\n")) {
        const line = raw.replace(/#.*$/, "").trim();
        if (!/^deb(-src)?\s/.test(line)) continue;
        // `deb [arch=amd64 signed-by=...] uri suite components...`: drop the bracketed options first.
        const words = line
            .replace(/\[[^\]]*\]/, " ")
            .split(/\s+/)
            .filter(Boolean);
        if (words.length >= 3) out.push({ uri: words[1], suites: [words[2]], file });
    }
    return out;
}

/** The URIs of deb822 (`.sources`) apt sources, skipping stanzas with `Enabled: no`. */
function parseDeb822Sources(text: string, file: string): AptSource[] {
    const out: AptSource[] = [];
    for (const stanza of text.split(/\n\s*\n/)) {
        const fields = new Map<string, string>();
        let last: string | undefined;
        for (const raw of stanza.split("\n")) {
            if (raw.startsWith("#")) continue;
            if (/^\s/.test(raw) && last) {
                fields.set(last, `${fields.get(last) ?? ""} ${raw.trim()}`);
                continue;
            }
            const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
            if (m) {
                last = m[1].toLowerCase();
                fields.set(last, m[2].trim());
            }
        }
        if ((fields.get("enabled") ?? "yes").toLowerCase() === "no") continue;
        const suites = (fields.get("suites") ?? "").split(/\s+/).filter(Boolean);
        for (const uri of (fields.get("uris") ?? "").split(/\s+/).filter(Boolean)) out.push({ uri, suites, file });
    }
    return out;
}

/** Every apt source of the machine: /etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources. */
export function readAptSources(aptDir = "/etc/apt"): AptSource[] {
    const out: AptSource[] = [];
    const read = (file: string): string | undefined => {
        try {
            return readFileSync(file, "utf8");
        } catch {
            return undefined;
        }
    };
    const main = read(path.join(aptDir, "sources.list"));
    if (main !== undefined) out.push(...parseOneLineSources(main, path.join(aptDir, "sources.list")));
    let entries: string[];
    try {
        entries = readdirSync(path.join(aptDir, "sources.list.d")).sort();
    } catch {
        entries = [];
    }
    for (const name of entries) {
        const file = path.join(aptDir, "sources.list.d", name);
        // apt itself reads only these two suffixes; anything else (`.list.disabled`, `.save`) is ignored by apt too.
        if (name.endsWith(".list")) out.push(...parseOneLineSources(read(file) ?? "", file));
        else if (name.endsWith(".sources")) out.push(...parseDeb822Sources(read(file) ?? "", file));
    }
    return out;
}

function hostOf(uri: string): string | undefined {
    try {
        const u = new URL(uri);
        if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
        return u.hostname.toLowerCase();
    } catch {
        return undefined;
    }
}

/**
 * The Debian mirror and security mirror of the machine's apt sources: the first http(s) URI whose path ends in
 * `/debian` (the archive) and the first ending in `/debian-security`; when the latter is missing it is the archive's
 * host with `/debian-security`, the layout every Debian mirror uses.
 */
export function debianMirrors(sources: AptSource[] = readAptSources()): DebianMirrors {
    const norm = (u: string): string => u.replace(/\/+$/, "");
    const archive = sources.map((s) => norm(s.uri)).find((u) => hostOf(u) && /\/debian$/.test(u));
    if (!archive) {
        throw new Error(
            "no Debian archive in this machine's apt sources (/etc/apt/sources.list, sources.list.d/*.list|*.sources): " +
                "the live test bed builds its container template from the machine's own mirror",
        );
    }
    const security =
        sources.map((s) => norm(s.uri)).find((u) => hostOf(u) && /\/debian-security$/.test(u)) ??
        archive.replace(/\/debian$/, "/debian-security");
    return { mirror: archive, securityMirror: security };
}

interface PipConfig {
    indexUrls: string[];
    trustedHosts: string[];
    findLinks: string[];
}

/** Runs the first pip that answers; undefined when none is installed. */
function runPip(args: string[]): string | undefined {
    for (const argv of [
        ["pip", ...args],
        ["pip3", ...args],
        ["python3", "-m", "pip", ...args],
    ]) {
        try {
            return execFileSync(argv[0], argv.slice(1), {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "ignore"],
                timeout: 30_000,
            });
        } catch {
            // try the next one
        }
    }
    return undefined;
}

/** pip's configured index, extra index, trusted hosts and find-links (files and environment, as pip merges them). */
export function readPipConfig(env: NodeJS.ProcessEnv = process.env): PipConfig {
    const cfg: PipConfig = { indexUrls: [], trustedHosts: [], findLinks: [] };
    const split = (v: string): string[] => v.split(/\s+/).filter(Boolean);
    const listed = runPip(["config", "list"]) ?? "";
    for (const line of listed.split("\n")) {
        // `global.index-url='https://…'`, `:env:.trusted-host='a b'`
        const m = /^[^.]*\.([a-z-]+)='(.*)'$/.exec(line.trim());
        if (!m) continue;
        if (m[1] === "index-url" || m[1] === "extra-index-url") cfg.indexUrls.push(...split(m[2]));
        else if (m[1] === "trusted-host") cfg.trustedHosts.push(...split(m[2]));
        else if (m[1] === "find-links") cfg.findLinks.push(...split(m[2]));
    }
    for (const key of ["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"]) if (env[key]) cfg.indexUrls.push(...split(env[key]));
    if (env.PIP_TRUSTED_HOST) cfg.trustedHosts.push(...split(env.PIP_TRUSTED_HOST));
    return cfg;
}

/** pip's built-in index and file host, asked from pip itself so that no registry name is written here. */
export function pipDefaultHosts(): string[] {
    const code =
        "from pip._internal.models.index import PyPI\n" +
        "from urllib.parse import urlsplit\n" +
        "print(urlsplit(PyPI.url).hostname)\n" +
        "print(PyPI.file_storage_domain)\n";
    for (const py of ["python3", "python"]) {
        try {
            const out = execFileSync(py, ["-c", code], {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "ignore"],
                timeout: 30_000,
            });
            const hosts = out.split("\n").map((h) => h.trim().toLowerCase());
            if (hosts.filter(Boolean).length === 2) return hosts.filter(Boolean);
        } catch {
            // try the next interpreter
        }
    }
    return [];
}

/** Every host the proxy lets through, deduplicated, in a stable order. */
export function buildAllowlist(opts: { aptDir?: string; env?: NodeJS.ProcessEnv } = {}): AllowedHost[] {
    const out: AllowedHost[] = [];
    const add = (host: string | undefined, source: string): void => {
        if (host && !out.some((h) => h.host === host)) out.push({ host, source });
    };
    for (const s of readAptSources(opts.aptDir)) add(hostOf(s.uri), `apt ${s.file}`);
    const pip = readPipConfig(opts.env);
    for (const u of pip.indexUrls) add(hostOf(u), "pip index");
    for (const h of pip.trustedHosts) add(h.replace(/:\d+$/, "").toLowerCase(), "pip trusted-host");
    for (const u of pip.findLinks) add(hostOf(u), "pip find-links");
    if (pip.indexUrls.length === 0) for (const h of pipDefaultHosts()) add(h, "pip default index");
    return out;
}

/** Anchored, case-insensitive-safe ERE lines for tinyproxy's `Filter` file (`FilterType ere`). */
export function allowlistFilter(hosts: AllowedHost[]): string {
    const ere = (h: string): string => `^${h.replace(/[.[\]()*+?{}|^$\\]/g, "\\$&")}$`;
    return hosts.map((h) => ere(h.host)).join("\n") + (hosts.length ? "\n" : "");
}
