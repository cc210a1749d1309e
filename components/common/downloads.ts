/**
 * Where containers get their software, and how. Proxied and air-gapped homelabs are common, so every source
 * is configurable with the upstream as default, and one optional HTTP proxy applies to apt, apk, pip and
 * release downloads alike.
 */
export interface DownloadSettings {
    /** HTTP proxy for every download a container makes, e.g. `http://10.0.0.1:3128`. Default: none. */
    httpProxy?: string;
    /** Debian archive mirror. Default `http://deb.debian.org/debian`. */
    debianMirror?: string;
    /** Debian security mirror. Default `http://deb.debian.org/debian-security`. */
    debianSecurityMirror?: string;
    /** Alpine mirror (repositories are `<mirror>/v<release>/main|community`). Default `https://dl-cdn.alpinelinux.org/alpine`. */
    alpineMirror?: string;
    /** pip index. Default `https://pypi.org/simple`. */
    pipIndexUrl?: string;
    /** Extra CA certificates (PEM) that containers trust, e.g. a TLS-inspecting proxy's. Default none. */
    extraCaCerts?: string[];
    /**
     * Hosts reached directly, not through `httpProxy` (a local mirror on the LAN, say): host names, IPv4
     * addresses, `.domain` suffixes or IPv4 CIDRs. apt honours the exact host names and addresses; curl and wget
     * (release tarballs, apt keys) honour all four forms. pip's own `proxy` setting does not take exceptions.
     * Default none.
     */
    noProxy?: string[];
}

/** One `downloads.noProxy` entry: a host name, an IPv4 address, a `.domain` suffix or an IPv4 CIDR. */
export const NO_PROXY_ENTRY =
    /^(\.?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?)$/;
export const NO_PROXY_RULE = "a host name, an IPv4 address, a .domain suffix or an IPv4 CIDR";

export const DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian";
export const DEFAULT_DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security";
export const DEFAULT_ALPINE_MIRROR = "https://dl-cdn.alpinelinux.org/alpine";
export const DEFAULT_PIP_INDEX_URL = "https://pypi.org/simple";

/** Settings with every default filled in. */
export type ResolvedDownloadSettings = Required<Omit<DownloadSettings, "httpProxy">> & { httpProxy?: string };

export function resolveDownloads(d: DownloadSettings | undefined): ResolvedDownloadSettings {
    return {
        httpProxy: d?.httpProxy,
        debianMirror: d?.debianMirror ?? DEFAULT_DEBIAN_MIRROR,
        debianSecurityMirror: d?.debianSecurityMirror ?? DEFAULT_DEBIAN_SECURITY_MIRROR,
        alpineMirror: d?.alpineMirror ?? DEFAULT_ALPINE_MIRROR,
        pipIndexUrl: d?.pipIndexUrl ?? DEFAULT_PIP_INDEX_URL,
        extraCaCerts: d?.extraCaCerts ?? [],
        noProxy: d?.noProxy ?? [],
    };
}

/** `/etc/apt/apt.conf.d/80proxy`, or undefined without a proxy. */
export function renderAptProxyConf(d: ResolvedDownloadSettings): string | undefined {
    if (!d.httpProxy) return undefined;
    const lines = [`Acquire::http::Proxy "${d.httpProxy}";`, `Acquire::https::Proxy "${d.httpProxy}";`];
    // apt takes per-host exceptions by exact name only: suffixes and CIDRs are for curl and wget.
    for (const host of d.noProxy.filter((h) => !h.startsWith(".") && !h.includes("/"))) {
        lines.push(`Acquire::http::Proxy::${host} "DIRECT";`, `Acquire::https::Proxy::${host} "DIRECT";`);
    }
    return lines.join("\n") + "\n";
}

/** `/etc/apt/sources.list.d/debian.sources` (deb822) for Debian 13 "trixie". */
export function renderDebianSources(d: ResolvedDownloadSettings, suite = "trixie"): string {
    return [
        "Types: deb",
        `URIs: ${d.debianMirror}`,
        `Suites: ${suite} ${suite}-updates`,
        "Components: main",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
        "",
        "Types: deb",
        `URIs: ${d.debianSecurityMirror}`,
        `Suites: ${suite}-security`,
        "Components: main",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
        "",
    ].join("\n");
}

/** `/etc/apk/repositories` for an Alpine release such as `3.22`. */
export function renderApkRepositories(d: ResolvedDownloadSettings, release: string): string {
    return `${d.alpineMirror}/v${release}/main\n${d.alpineMirror}/v${release}/community\n`;
}

/** `/etc/pip.conf`: index and proxy for every pip run in the container. */
export function renderPipConf(d: ResolvedDownloadSettings): string {
    const lines = ["[global]", `index-url = ${d.pipIndexUrl}`];
    if (d.httpProxy) lines.push(`proxy = ${d.httpProxy}`);
    if (d.extraCaCerts.length > 0) lines.push("cert = /etc/ssl/certs/ca-certificates.crt");
    return lines.join("\n") + "\n";
}

/**
 * Shell lines exporting the proxy for tools that read the environment (curl, wget, apk, pip). Proxy URLs are
 * not secret but may carry credentials (`http://user:pw@host`): callers pass this through Exec `environment`.
 */
export function proxyEnvironment(d: ResolvedDownloadSettings): Record<string, string> {
    if (!d.httpProxy) return {};
    const env: Record<string, string> = {
        http_proxy: d.httpProxy,
        https_proxy: d.httpProxy,
        HTTP_PROXY: d.httpProxy,
        HTTPS_PROXY: d.httpProxy,
    };
    if (d.noProxy.length > 0) env.no_proxy = env.NO_PROXY = d.noProxy.join(",");
    return env;
}
