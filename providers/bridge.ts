import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/** A Linux bridge on a PVE node, managed through the node network API (persisted in /etc/network/interfaces). */
export interface BridgeArgs {
    /** PVE node name, e.g. `pve`. Changing it replaces the bridge. */
    node: pulumi.Input<string>;
    /** Interface name, e.g. `vmbr1` (PVE: `^[a-z][a-z0-9_]{1,20}$`). Changing it replaces the bridge. */
    name: pulumi.Input<string>;
    /** Host address on the bridge in CIDR form, e.g. `10.100.0.1/24`. Default: none (no host address). */
    cidr?: pulumi.Input<string>;
    /** Default gateway via this bridge. Default: none. */
    gateway?: pulumi.Input<string>;
    /** Bridge ports (physical interfaces). Default: none. */
    ports?: pulumi.Input<pulumi.Input<string>[]>;
    /** VLAN-aware bridge. Default false. */
    vlanAware?: pulumi.Input<boolean>;
    /** VLAN ids for a VLAN-aware bridge, e.g. `2-4094`. */
    vids?: pulumi.Input<string>;
    /** MTU. Default: PVE's (1500). */
    mtu?: pulumi.Input<number>;
    /** Bring the bridge up at boot. Default true. */
    autostart?: pulumi.Input<boolean>;
    /** Free-text comment stored with the interface. */
    comments?: pulumi.Input<string>;
    /**
     * Apply even when the node already has other pending network changes (PVE applies ALL pending changes at
     * once). Default false: such changes are listed in an error and nothing is applied.
     */
    applyUnrelatedPendingChanges?: pulumi.Input<boolean>;
}

export class Bridge extends pulumi.dynamic.Resource {
    public readonly node!: pulumi.Output<string>;
    public readonly name!: pulumi.Output<string>;
    public readonly cidr!: pulumi.Output<string | undefined>;
    public readonly gateway!: pulumi.Output<string | undefined>;
    public readonly ports!: pulumi.Output<string[]>;
    public readonly vlanAware!: pulumi.Output<boolean>;
    public readonly mtu!: pulumi.Output<number | undefined>;
    public readonly autostart!: pulumi.Output<boolean>;
    public readonly comments!: pulumi.Output<string | undefined>;
    /** Whether the bridge is active on the node (after apply). */
    public readonly active!: pulumi.Output<boolean>;

    constructor(name: string, args: BridgeArgs, opts?: pulumi.CustomResourceOptions) {
        super(providerFor("bridge"), name, { ...args, active: undefined }, opts, DYNAMIC_MODULE, "Bridge");
    }
}
