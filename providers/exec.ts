import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/**
 * A command run on the PVE host (no `vmid`) or inside a container: how components install packages, create
 * databases, enable services and reload daemons. `create` runs once; any change of `triggers` (or of the
 * commands themselves) runs `update` (default: `create` again); `delete` runs on destroy when given.
 * Scripts are POSIX sh. Environment values may be secrets: they travel on stdin, never in argv.
 */
export interface ExecArgs {
    /** PVE node name. */
    node: pulumi.Input<string>;
    /** Container id; absent means the PVE host itself. Changing it replaces the resource. */
    vmid?: pulumi.Input<number>;
    /** Script run at create. */
    create: pulumi.Input<string>;
    /** Script run when triggers or scripts change. Default: `create`. */
    update?: pulumi.Input<string>;
    /** Script run at delete. Default: nothing. A failing delete script fails the destroy. */
    delete?: pulumi.Input<string>;
    /** Values whose change re-runs the command (file hashes, versions...). */
    triggers?: pulumi.Input<pulumi.Input<unknown>[]>;
    /** Environment for the script; values may be secrets. */
    environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Standard input for the script. */
    stdin?: pulumi.Input<string>;
    /** Timeout in seconds. Default 600. */
    timeoutSeconds?: pulumi.Input<number>;
    /** Characters of stdout/stderr kept in outputs. Default 4096 (the tail). */
    outputLimit?: pulumi.Input<number>;
}

export class Exec extends pulumi.dynamic.Resource {
    public readonly exitCode!: pulumi.Output<number>;
    /** Tail of stdout (secret when any input was secret). */
    public readonly stdout!: pulumi.Output<string>;
    /** Tail of stderr (secret when any input was secret). */
    public readonly stderr!: pulumi.Output<string>;

    constructor(name: string, args: ExecArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            providerFor("exec"),
            name,
            { ...args, exitCode: undefined, stdout: undefined, stderr: undefined },
            // The output may echo a secret from the environment or stdin; state keeps it encrypted always.
            pulumi.mergeOptions(opts, { additionalSecretOutputs: ["stdout", "stderr"] }),
            DYNAMIC_MODULE,
            "Exec",
        );
    }
}
