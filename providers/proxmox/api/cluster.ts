/** Cluster-wide reads: the next free guest id, the node list, the resource index. */
import { z } from "zod";
import type { PveClient } from "../client";
import { pveInt } from "./common";

/**
 * `GET /cluster/nextid`: the lowest free id ≥ 100 (PVE answers it as a string). Racy: two callers may get the
 * same id, so a create must still expect `CT n already exists`. With `vmid`, checks that one id is free
 * instead (400 `VM n already exists` when it is not).
 */
export function nextId(client: PveClient, vmid?: number): Promise<number> {
    return client.get("/cluster/nextid", { vmid }, pveInt);
}

const nodeListSchema = z.array(
    z.looseObject({
        node: z.string(),
        status: z.string().optional(),
        ssl_fingerprint: z.string().optional(),
    }),
);
export type NodeListEntry = z.output<typeof nodeListSchema>[number];

/** `GET /nodes`: node names, their online status and the certificate fingerprint PVE knows for each. */
export function listNodes(client: PveClient): Promise<NodeListEntry[]> {
    return client.get("/nodes", undefined, nodeListSchema);
}

const resourcesSchema = z.array(
    z.looseObject({
        id: z.string(),
        type: z.string(),
        node: z.string().optional(),
        vmid: z.number().optional(),
        name: z.string().optional(),
        status: z.string().optional(),
        storage: z.string().optional(),
        template: pveInt.optional(),
    }),
);
export type ClusterResource = z.output<typeof resourcesSchema>[number];

/** `GET /cluster/resources[?type=vm|storage|node|sdn]`: which guests exist anywhere in the cluster. */
export function listClusterResources(
    client: PveClient,
    type?: "vm" | "storage" | "node" | "sdn",
): Promise<ClusterResource[]> {
    return client.get("/cluster/resources", { type }, resourcesSchema);
}
