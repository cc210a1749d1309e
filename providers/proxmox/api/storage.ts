/** Storage content and LXC templates: `/nodes/{node}/storage/{storage}/content`, `/nodes/{node}/aplinfo`. */
import { z } from "zod";
import type { PveClient } from "../client";
import { apiPath } from "../form";
import { upidSchema } from "../tasks";
import { pveInt, TaskStartOptions, verifyByTask } from "./common";

const contentSchema = z.array(
    z.looseObject({
        volid: z.string(),
        content: z.string().optional(),
        format: z.string().optional(),
        size: pveInt.optional(),
        ctime: pveInt.optional(),
        vmid: pveInt.optional(),
    }),
);
export type StorageContentEntry = z.output<typeof contentSchema>[number];

/**
 * `GET /nodes/{node}/storage/{storage}/content[?content=vztmpl]`, e.g. volid
 * `local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst`.
 */
export function listStorageContent(
    client: PveClient,
    node: string,
    storage: string,
    filter: { content?: string; vmid?: number } = {},
): Promise<StorageContentEntry[]> {
    return client.get(
        apiPath`/nodes/${node}/storage/${storage}/content`,
        { content: filter.content, vmid: filter.vmid },
        contentSchema,
    );
}

/** The volid a template file gets on a storage: `<storage>:vztmpl/<file>`. */
export function templateVolid(storage: string, template: string): string {
    return `${storage}:vztmpl/${template}`;
}

const aplinfoSchema = z.array(
    z.looseObject({
        template: z.string(),
        package: z.string().optional(),
        os: z.string().optional(),
        version: z.string().optional(),
        section: z.string().optional(),
        headline: z.string().optional(),
        sha512sum: z.string().optional(),
    }),
);
export type AplinfoEntry = z.output<typeof aplinfoSchema>[number];

/** `GET /nodes/{node}/aplinfo`: the appliance index (`pveam available`). */
export function listAplinfo(client: PveClient, node: string): Promise<AplinfoEntry[]> {
    return client.get(apiPath`/nodes/${node}/aplinfo`, undefined, aplinfoSchema);
}

/**
 * `POST /nodes/{node}/aplinfo` (storage, template) → UPID of the `download` task. Needs
 * Datastore.AllocateTemplate on the storage. A lost answer is settled by looking for the download task.
 */
export function downloadTemplate(
    client: PveClient,
    node: string,
    storage: string,
    template: string,
    opts: TaskStartOptions = {},
): Promise<string> {
    return client.post(apiPath`/nodes/${node}/aplinfo`, { storage, template }, upidSchema, {
        verify: opts.verify ?? verifyByTask(client, node, "download", template),
    });
}
