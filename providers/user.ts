import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/** A PVE user (typically in the `pve` realm) that owns API tokens. No password: tokens only. */
export interface UserArgs {
    /** `name@realm`, e.g. `proxbox@pve`. Changing it replaces the user. */
    userId: pulumi.Input<string>;
    comment?: pulumi.Input<string>;
    /** Default true. */
    enable?: pulumi.Input<boolean>;
}

export class User extends pulumi.dynamic.Resource {
    public readonly userId!: pulumi.Output<string>;

    constructor(name: string, args: UserArgs, opts?: pulumi.CustomResourceOptions) {
        super(providerFor("user"), name, { ...args }, opts, DYNAMIC_MODULE, "User");
    }
}
