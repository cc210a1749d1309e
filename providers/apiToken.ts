import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/** A PVE API token. PVE shows its secret once, at creation; it is kept as a secret output. */
export interface ApiTokenArgs {
    /** Owner, `name@realm`. Changing it replaces the token. */
    userId: pulumi.Input<string>;
    /** Token id (`[A-Za-z][A-Za-z0-9._-]+`, at least 2 characters). Changing it replaces the token. */
    tokenName: pulumi.Input<string>;
    /** Privilege separation: the token's rights are its own ACLs ∩ the user's. Default true. */
    privsep?: pulumi.Input<boolean>;
    comment?: pulumi.Input<string>;
    /** Expiry as a UNIX time; 0 = never. Default 0. */
    expire?: pulumi.Input<number>;
}

export class ApiToken extends pulumi.dynamic.Resource {
    /** `name@realm!tokenid`. */
    public readonly fullTokenId!: pulumi.Output<string>;
    /** The token secret (a UUID). Secret. */
    public readonly value!: pulumi.Output<string>;

    constructor(name: string, args: ApiTokenArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            providerFor("apiToken"),
            name,
            { ...args, fullTokenId: undefined, value: undefined },
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["value"] }),
            DYNAMIC_MODULE,
            "ApiToken",
        );
    }
}
