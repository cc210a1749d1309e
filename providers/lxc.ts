import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/** One container NIC; becomes `net<index>` in PVE's property-string form. */
export interface LxcNetwork {
    /** Interface name inside the container, e.g. `eth0`. */
    name: pulumi.Input<string>;
    /** Host bridge, e.g. `vmbr1`. */
    bridge: pulumi.Input<string>;
    /** `dhcp`, `manual`, or an IPv4 CIDR such as `10.100.0.20/24`. Default `dhcp`. */
    ip?: pulumi.Input<string>;
    /** IPv4 gateway (only with a static `ip`). */
    gw?: pulumi.Input<string>;
    /** `dhcp`, `auto`, `manual` or an IPv6 CIDR. Default: none. */
    ip6?: pulumi.Input<string>;
    gw6?: pulumi.Input<string>;
    /** Fixed MAC address (`BC:24:11:..`). Default: PVE generates one (kept stable afterwards). */
    hwaddr?: pulumi.Input<string>;
    /** PVE firewall on this NIC. Default true (as the documents set `firewall=1`). */
    firewall?: pulumi.Input<boolean>;
    mtu?: pulumi.Input<number>;
    /** VLAN tag. */
    tag?: pulumi.Input<number>;
    /** Rate limit in MB/s. */
    rate?: pulumi.Input<number>;
}

export interface LxcFeatures {
    /** Nested containers / systemd namespaces. The only feature a non-root API token may set. */
    nesting?: pulumi.Input<boolean>;
    /** keyctl() for Docker in unprivileged CTs. Root-only in PVE. */
    keyctl?: pulumi.Input<boolean>;
    /** FUSE mounts. Root-only in PVE. */
    fuse?: pulumi.Input<boolean>;
    /** Allowed mount types, e.g. `["nfs", "cifs"]`. Root-only in PVE. */
    mount?: pulumi.Input<pulumi.Input<string>[]>;
}

export interface LxcRootfs {
    /** Storage id, e.g. `local-zfs`. Changing it replaces the container. */
    storage: pulumi.Input<string>;
    /** Size in GiB. Grows in place; shrinking is refused. */
    sizeGiB: pulumi.Input<number>;
}

/** An LXC container on a PVE node. */
export interface LxcArgs {
    /** PVE node name. Changing it replaces the container. */
    node: pulumi.Input<string>;
    /** Container id (100..999999999). Default: allocated from `/cluster/nextid`, safely despite races. */
    vmid?: pulumi.Input<number>;
    hostname: pulumi.Input<string>;
    /** Template volid (a Template resource's `volid`). Changing it replaces the container. */
    ostemplate: pulumi.Input<string>;
    /** CPU cores. Default 1. */
    cores?: pulumi.Input<number>;
    /** Memory in MiB. Default 512. */
    memory?: pulumi.Input<number>;
    /** Swap in MiB. Default 512. */
    swap?: pulumi.Input<number>;
    rootfs: pulumi.Input<LxcRootfs>;
    /** NICs in order: index i becomes `net<i>`. */
    networks?: pulumi.Input<pulumi.Input<LxcNetwork>[]>;
    features?: pulumi.Input<LxcFeatures>;
    /** Unprivileged container. Default true. Changing it replaces the container. */
    unprivileged?: pulumi.Input<boolean>;
    /** Start at node boot. Default true. */
    onboot?: pulumi.Input<boolean>;
    /** PVE startup spec, e.g. `order=2,up=30`. */
    startup?: pulumi.Input<string>;
    /** DNS servers, space separated. Default: the host's. */
    nameserver?: pulumi.Input<string>;
    searchdomain?: pulumi.Input<string>;
    /** Tags (PVE lowercases, sorts and de-duplicates). The stack's ownership tag is added to these. */
    tags?: pulumi.Input<pulumi.Input<string>[]>;
    description?: pulumi.Input<string>;
    /** Root password (secret, ≥ 5 chars). Create-only: later changes are ignored. */
    rootPassword?: pulumi.Input<string>;
    /** authorized_keys content for root. Create-only. */
    sshPublicKeys?: pulumi.Input<string>;
    /** Resource pool. */
    pool?: pulumi.Input<string>;
    /** Desired power state. Default true (running). */
    started?: pulumi.Input<boolean>;
    /**
     * When an update leaves keys pending (PVE applies them at the next start), reboot the container. Default
     * true; with false the update succeeds and `pendingChanges` lists what waits for a reboot.
     */
    rebootOnPendingChanges?: pulumi.Input<boolean>;
    /** How long to wait for DHCP addresses to appear on the interfaces endpoint, in seconds. Default 60. */
    addressTimeoutSeconds?: pulumi.Input<number>;
    /**
     * Ownership marker: a create that finds its vmid taken adopts the container only if it carries this tag.
     * Default `phl-<project>-<stack>` filled in by the resource class.
     */
    ownerTag?: pulumi.Input<string>;
}

export interface LxcInterfaceState {
    name: string;
    hwaddr: string;
    /** IPv4 address with prefix, e.g. `10.100.0.10/24` (static, or discovered by DHCP). */
    ipv4?: string;
    ipv6?: string;
}

export class Lxc extends pulumi.dynamic.Resource {
    public readonly vmid!: pulumi.Output<number>;
    public readonly node!: pulumi.Output<string>;
    public readonly hostname!: pulumi.Output<string>;
    /** `running` or `stopped`. */
    public readonly status!: pulumi.Output<string>;
    /** One entry per configured NIC, in `networks` order. */
    public readonly interfaces!: pulumi.Output<LxcInterfaceState[]>;
    /** Keys PVE holds pending until the next reboot (empty unless rebootOnPendingChanges is false). */
    public readonly pendingChanges!: pulumi.Output<string[]>;
    public readonly memory!: pulumi.Output<number>;
    public readonly cores!: pulumi.Output<number>;

    constructor(name: string, args: LxcArgs, opts?: pulumi.CustomResourceOptions) {
        const ownerTag = args.ownerTag ?? ownerTagFor(pulumi.getProject(), pulumi.getStack());
        super(
            providerFor("lxc"),
            name,
            {
                ...args,
                ownerTag,
                vmid: args.vmid,
                status: undefined,
                interfaces: undefined,
                pendingChanges: undefined,
            },
            opts,
            DYNAMIC_MODULE,
            "Lxc",
        );
    }
}

/** The tag that marks a container as made by this project and stack (PVE tag syntax: lowercase, `-`). */
export function ownerTagFor(project: string, stack: string): string {
    const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9_-]+/g, "-");
    return `phl-${clean(project)}-${clean(stack)}`.slice(0, 64);
}
