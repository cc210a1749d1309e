import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/** Grants a role to a user or an API token on a path. Exactly one of `userId` and `tokenId`. */
export interface AclArgs {
    /** ACL path, e.g. `/`, `/vms/100`, `/storage/local`. */
    path: pulumi.Input<string>;
    roleId: pulumi.Input<string>;
    /** `name@realm`. */
    userId?: pulumi.Input<string>;
    /** Full token id `name@realm!tokenid`. */
    tokenId?: pulumi.Input<string>;
    /** Inherit to sub-paths. Default true. */
    propagate?: pulumi.Input<boolean>;
}

export class Acl extends pulumi.dynamic.Resource {
    public readonly path!: pulumi.Output<string>;
    public readonly roleId!: pulumi.Output<string>;

    constructor(name: string, args: AclArgs, opts?: pulumi.CustomResourceOptions) {
        // A forced replace (`up --replace`, a rename without alias) re-grants the same binding; deleting the old
        // one afterwards would then revoke the new grant. Delete first.
        super(
            providerFor("acl"),
            name,
            { ...args },
            pulumi.mergeOptions({ deleteBeforeReplace: true }, opts),
            DYNAMIC_MODULE,
            "Acl",
        );
    }
}
