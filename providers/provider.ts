import * as pulumi from "@pulumi/pulumi";

/* eslint-disable @typescript-eslint/no-explicit-any -- the dynamic-provider wire format is untyped JSON. */

/** Every dynamic resource kind the runtime serves (`providers/runtime`). */
export type ResourceKind = "bridge" | "lxc" | "template" | "file" | "exec" | "role" | "user" | "acl" | "apiToken";

/**
 * Builds the provider object for one resource kind.
 *
 * Closure serialization copies these functions into every resource's `__provider` input. They capture only
 * `kind` (a string); each body `require`s the compiled runtime by package name, which the SDK's
 * dynamic-provider host (a plain node process started in the program's directory) resolves from
 * node_modules. Capturing anything else (a zod schema, a client, a credential) would either fail to
 * serialize or copy it into state, so the literal `require(...)` stays inside every body on purpose.
 */
export function providerFor(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
    return {
        async configure(req: pulumi.dynamic.ConfigureRequest) {
            return require("@proxmox-homelab/providers/dist/runtime").configure(req);
        },
        async check(olds: Record<string, any>, news: Record<string, any>) {
            return require("@proxmox-homelab/providers/dist/runtime").dispatch(kind, "check", olds, news);
        },
        async diff(id: pulumi.ID, olds: Record<string, any>, news: Record<string, any>) {
            return require("@proxmox-homelab/providers/dist/runtime").dispatch(kind, "diff", id, olds, news);
        },
        async create(inputs: Record<string, any>) {
            return require("@proxmox-homelab/providers/dist/runtime").dispatch(kind, "create", inputs);
        },
        async read(id: pulumi.ID, props: Record<string, any>) {
            return require("@proxmox-homelab/providers/dist/runtime").dispatch(kind, "read", id, props);
        },
        async update(id: pulumi.ID, olds: Record<string, any>, news: Record<string, any>) {
            return require("@proxmox-homelab/providers/dist/runtime").dispatch(kind, "update", id, olds, news);
        },
        async delete(id: pulumi.ID, props: Record<string, any>) {
            return require("@proxmox-homelab/providers/dist/runtime").dispatch(kind, "delete", id, props);
        },
    };
}

/** Module prefix of every dynamic resource type token: `pulumi-nodejs:dynamic/proxmox:<Type>`. */
export const DYNAMIC_MODULE = "proxmox";
