import * as pulumi from "@pulumi/pulumi";
import { Exec, File, Lxc, LxcFeatures, LxcNetwork } from "../../providers/index";
import {
    ResolvedDownloadSettings,
    proxyEnvironment,
    renderApkRepositories,
    renderAptProxyConf,
    renderDebianSources,
    renderPipConf,
} from "./downloads";

export type ContainerOs = "debian" | "alpine";

export interface HomelabContainerArgs {
    node: string;
    /** Container id. Default: allocated by PVE. */
    vmid?: number;
    hostname: string;
    /** Template volid (from a Template resource). */
    ostemplate: pulumi.Input<string>;
    os: ContainerOs;
    /** Alpine release for the apk repositories, e.g. `3.22`. Only for `os: alpine`. */
    alpineRelease?: string;
    cores: number;
    /** MiB. */
    memory: number;
    /** MiB. */
    swap: number;
    diskGiB: number;
    /** Storage for the root disk, e.g. `local-zfs`. */
    storage: string;
    networks: LxcNetwork[];
    /** Default true. */
    unprivileged?: boolean;
    features?: LxcFeatures;
    nameserver?: string;
    searchdomain?: string;
    tags?: string[];
    description?: string;
    /** Default true. */
    onboot?: boolean;
    downloads: ResolvedDownloadSettings;
    /** Packages installed by the bootstrap step (besides ca-certificates). */
    packages?: string[];
    /** Install and enable prometheus-node-exporter (port 9100). Default false. */
    nodeExporter?: boolean;
    /** Write /etc/pip.conf (index, proxy, CA bundle) for containers that run pip. Default false. */
    pip?: boolean;
}

/**
 * A container prepared the way every container of ours is: package sources and proxy from config, extra CA
 * certificates trusted, base packages installed, optionally node_exporter. Later steps depend on `ready`.
 */
export class HomelabContainer extends pulumi.ComponentResource {
    public readonly lxc: Lxc;
    /** The bootstrap step; depend on it before installing or configuring anything inside the container. */
    public readonly ready: Exec;
    public readonly vmid: pulumi.Output<number>;
    public readonly node: string;
    public readonly os: ContainerOs;
    /** IPv4 address (without prefix) of each NIC by interface name. */
    public readonly addresses: pulumi.Output<Record<string, string | undefined>>;

    constructor(name: string, args: HomelabContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("proxmox-homelab:common:HomelabContainer", name, {}, opts);
        this.node = args.node;
        this.os = args.os;
        this.lxc = new Lxc(
            name,
            {
                node: args.node,
                vmid: args.vmid,
                hostname: args.hostname,
                ostemplate: args.ostemplate,
                cores: args.cores,
                memory: args.memory,
                swap: args.swap,
                rootfs: { storage: args.storage, sizeGiB: args.diskGiB },
                networks: args.networks,
                features: args.features,
                unprivileged: args.unprivileged ?? true,
                onboot: args.onboot ?? true,
                nameserver: args.nameserver,
                searchdomain: args.searchdomain,
                tags: args.tags,
                description: args.description,
                started: true,
            },
            // A component's dependsOn does not reach its children in Pulumi; pass it on so "create this container
            // after X" (e.g. after the DHCP server knows its static lease) holds for the container itself.
            { parent: this, dependsOn: opts?.dependsOn },
        );
        this.vmid = this.lxc.vmid;
        this.addresses = this.lxc.interfaces.apply((ifs) =>
            Object.fromEntries((ifs ?? []).map((i) => [i.name, i.ipv4?.split("/")[0]])),
        );

        const files = bootstrapFiles(args).map(
            (f) =>
                new File(
                    `${name}-${f.id}`,
                    { node: args.node, vmid: this.vmid, path: f.path, content: f.content, mode: "0644" },
                    { parent: this, dependsOn: [this.lxc] },
                ),
        );
        const script = renderBootstrapScript(args);
        this.ready = new Exec(
            `${name}-bootstrap`,
            {
                node: args.node,
                vmid: this.vmid,
                create: script,
                triggers: [script, ...files.map((f) => f.sha256)],
                environment: proxyEnvironment(args.downloads),
                timeoutSeconds: 1800,
            },
            { parent: this, dependsOn: [this.lxc, ...files] },
        );
        this.registerOutputs({ vmid: this.vmid, addresses: this.addresses });
    }
}

/** The files every container gets before its first package install. */
export function bootstrapFiles(
    args: Pick<HomelabContainerArgs, "os" | "downloads" | "alpineRelease" | "pip">,
): { id: string; path: string; content: string }[] {
    const d = args.downloads;
    const out: { id: string; path: string; content: string }[] = [];
    if (args.os === "debian") {
        out.push({
            id: "apt-sources",
            path: "/etc/apt/sources.list.d/debian.sources",
            content: renderDebianSources(d),
        });
        const proxy = renderAptProxyConf(d);
        if (proxy) out.push({ id: "apt-proxy", path: "/etc/apt/apt.conf.d/80proxy", content: proxy });
    } else {
        out.push({
            id: "apk-repositories",
            path: "/etc/apk/repositories",
            content: renderApkRepositories(d, args.alpineRelease ?? "3.22"),
        });
    }
    d.extraCaCerts.forEach((pem, i) =>
        out.push({
            id: `extra-ca-${i}`,
            path: `/usr/local/share/ca-certificates/homelab-extra-${i}.crt`,
            content: pem.trimEnd() + "\n",
        }),
    );
    if (args.pip) out.push({ id: "pip-conf", path: "/etc/pip.conf", content: renderPipConf(d) });
    return out;
}

/** The bootstrap script: install base packages, trust extra CAs, enable node_exporter when asked. */
export function renderBootstrapScript(
    args: Pick<HomelabContainerArgs, "os" | "packages" | "nodeExporter" | "downloads">,
): string {
    const pkgs = ["ca-certificates", ...(args.packages ?? [])];
    if (args.nodeExporter) pkgs.push("prometheus-node-exporter");
    const unique = [...new Set(pkgs)].sort();
    const lines = ["set -eu"];
    if (args.os === "debian") {
        lines.push(
            "export DEBIAN_FRONTEND=noninteractive",
            // Finish a dpkg run an earlier, interrupted deploy left half-way (a dropped SSH session kills apt-get);
            // apt refuses to install anything until this is done. A no-op otherwise.
            "dpkg --configure -a",
            "apt-get update -q",
            `apt-get install -y -q --no-install-recommends ${unique.join(" ")}`,
        );
    } else {
        lines.push("apk update -q", `apk add -q ${unique.join(" ")}`);
    }
    if (args.downloads.extraCaCerts.length > 0) lines.push("update-ca-certificates");
    if (args.nodeExporter) {
        lines.push(
            ...(args.os === "debian"
                ? ["systemctl enable --now prometheus-node-exporter"]
                : ["rc-update add node-exporter default", "rc-service node-exporter start"]),
        );
    }
    return lines.join("\n") + "\n";
}
