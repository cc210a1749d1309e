/** Storage content and LXC templates: `/nodes/{node}/storage/{storage}/content`, `/nodes/{node}/aplinfo`. */
import { z } from "zod";
import type { PveClient } from "../client";
import { apiPath } from "../form";
import { upidSchema } from "../tasks";
import { pveInt, TaskStartOptions, verifyByTask } from "./common";
import type { VerifyOutcome } from "../retry";

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

/**
 * `DELETE /nodes/{node}/storage/{storage}/content/{volume}` → UPID of the `imgdel` task (its id is the storage
 * id), or undefined when there is no task to wait for. Needs Datastore.Allocate on the storage. Not blindly
 * repeated (a resend after an unnoticed success fails, the volume being gone): a lost answer is settled by
 * listing the storage.
 */
export function deleteStorageVolume(
    client: PveClient,
    node: string,
    storage: string,
    volid: string,
): Promise<string | undefined> {
    const verify = async (): Promise<VerifyOutcome<string | undefined>> => {
        const content = await listStorageContent(client, node, storage);
        return content.some((v) => v.volid === volid) ? { tookEffect: false } : { tookEffect: true, result: undefined };
    };
    const schema = z.union([upidSchema, z.null()]).transform((v) => v ?? undefined);
    return client.delete(apiPath`/nodes/${node}/storage/${storage}/content/${volid}`, undefined, schema, {
        idempotent: false,
        verify,
    });
}
