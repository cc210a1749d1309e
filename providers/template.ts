import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/** Debian 13 template PVE's appliance index offers (document 000). */
export const DEBIAN_13_TEMPLATE = "debian-13-standard_13.1-2_amd64.tar.zst";
/** Alpine template for the ProximityAppliance default OS (document 001). */
export const ALPINE_TEMPLATE = "alpine-3.22-default_20250617_amd64.tar.xz";

/** An LXC template present on a node's storage, downloaded through `aplinfo` when absent. */
export interface TemplateArgs {
    /** PVE node name. */
    node: pulumi.Input<string>;
    /** Storage that holds templates (content `vztmpl`). Default `local`. */
    storage?: pulumi.Input<string>;
    /** Template file name as `pveam available` lists it, e.g. `debian-13-standard_13.1-2_amd64.tar.zst`. */
    template: pulumi.Input<string>;
    /**
     * Leave the template on the storage when this resource is deleted. Default true: other containers (ours or
     * not) may use it, and PVE refuses nothing when it goes, so deleting it is rarely what a user wants.
     */
    retainOnDelete?: pulumi.Input<boolean>;
}

export class Template extends pulumi.dynamic.Resource {
    /** Volume id for `ostemplate`, e.g. `local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst`. */
    public readonly volid!: pulumi.Output<string>;
    public readonly node!: pulumi.Output<string>;
    public readonly storage!: pulumi.Output<string>;
    public readonly template!: pulumi.Output<string>;
    /** True when this resource downloaded the template (false when it was already there). */
    public readonly downloaded!: pulumi.Output<boolean>;

    constructor(name: string, args: TemplateArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            providerFor("template"),
            name,
            { ...args, volid: undefined, downloaded: undefined },
            opts,
            DYNAMIC_MODULE,
            "Template",
        );
    }
}
