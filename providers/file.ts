import * as pulumi from "@pulumi/pulumi";
import { DYNAMIC_MODULE, providerFor } from "./provider";

/**
 * A file on the PVE host (no `vmid`) or inside a running container, written atomically over SSH
 * (temp file + rename, parents created, owner and mode set). Outputs carry the content's sha256, never
 * the content; `pulumi refresh` reads the live sha256, so a hand edit shows as drift.
 */
export interface FileArgs {
    /** PVE node name. Changing it replaces the file. */
    node: pulumi.Input<string>;
    /** Container id; absent means the PVE host itself. Changing it replaces the file. */
    vmid?: pulumi.Input<number>;
    /** Absolute path (no `..`, no NUL, no trailing `/`). Changing it replaces the file. */
    path: pulumi.Input<string>;
    /** Content (UTF-8). May be a secret: it travels on stdin and never appears in outputs. */
    content: pulumi.Input<string>;
    /** Octal mode, e.g. `0644` (default) or `0600` for secrets. */
    mode?: pulumi.Input<string>;
    /** Owner user name. Default `root`. */
    owner?: pulumi.Input<string>;
    /** Owner group name. Default: same as owner. */
    group?: pulumi.Input<string>;
    /** Leave the file in place when the resource is deleted. Default false (the file is removed). */
    retainOnDelete?: pulumi.Input<boolean>;
}

export class File extends pulumi.dynamic.Resource {
    public readonly node!: pulumi.Output<string>;
    public readonly vmid!: pulumi.Output<number | undefined>;
    public readonly path!: pulumi.Output<string>;
    /** sha256 (hex) of the content as written (and, after refresh, as found). */
    public readonly sha256!: pulumi.Output<string>;
    public readonly size!: pulumi.Output<number>;
    public readonly mode!: pulumi.Output<string>;
    public readonly owner!: pulumi.Output<string>;
    public readonly group!: pulumi.Output<string>;

    constructor(name: string, args: FileArgs, opts?: pulumi.CustomResourceOptions) {
        super(providerFor("file"), name, { ...args, sha256: undefined, size: undefined }, opts, DYNAMIC_MODULE, "File");
    }
}
