import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/** A PVE role. Privileges that differ between PVE 8 and 9 are chosen from `GET /version`. */
export interface RoleArgs {
    /** Role id; names starting with `PVE` are reserved by PVE. Changing it replaces the role. */
    roleId: pulumi.Input<string>;
    /** Privileges valid on every supported version, e.g. `["VM.Audit", "Datastore.Audit"]`. */
    privileges: pulumi.Input<pulumi.Input<string>[]>;
    /** Added on PVE 8 only (e.g. `VM.Monitor`, which PVE 9 removed). */
    pve8Privileges?: pulumi.Input<pulumi.Input<string>[]>;
    /** Added on PVE 9 and later only (e.g. `VM.GuestAgent.Audit`). */
    pve9Privileges?: pulumi.Input<pulumi.Input<string>[]>;
}

export class Role extends pulumi.dynamic.Resource {
    public readonly roleId!: pulumi.Output<string>;
    /** The privileges actually set, after version selection, sorted. */
    public readonly effectivePrivileges!: pulumi.Output<string[]>;
    /** PVE major version the privileges were chosen for. */
    public readonly pveMajor!: pulumi.Output<number>;

    constructor(name: string, args: RoleArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            providerFor("role"),
            name,
            { ...args, effectivePrivileges: undefined, pveMajor: undefined },
            opts,
            DYNAMIC_MODULE,
            "Role",
        );
    }
}
