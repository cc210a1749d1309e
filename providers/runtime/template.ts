/**
 * The `template` handler: an LXC template present on a node's storage, downloaded through the appliance index
 * (`POST /nodes/{node}/aplinfo`, what `pveam download` does) when it is not there yet.
 *
 * The template is shared by everything on the node, so by default deleting the resource leaves the file
 * (`retainOnDelete`), and a file that was already present is adopted (`downloaded: false`).
 */
import {
    PveClient,
    deleteStorageVolume,
    downloadTemplate,
    listAplinfo,
    listStorageContent,
    templateVolid,
    waitForTask,
} from "../proxmox";
import { pve, taskTimeoutMs } from "./context";
import { defineHandler } from "./define";
import { TemplateInputs, templateSchema } from "./schemas";

type Outs = Record<string, unknown>;

/** Templates are 3–150 MB from download.proxmox.com; a slow mirror can take a while. */
const DOWNLOAD_TIMEOUT_MS = 30 * 60_000;
const DELETE_TIMEOUT_MS = 5 * 60_000;
/** Offered templates named in the "not offered" error. */
const SUGGESTIONS = 5;

/** One download per template file at a time within this process (two resources may ask for the same one). */
const queues = new Map<string, Promise<void>>();

function serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const run = (queues.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.then(
        () => undefined,
        () => undefined,
    );
    queues.set(key, tail);
    void tail.then(() => {
        if (queues.get(key) === tail) queues.delete(key);
    });
    return run;
}

async function isPresent(client: PveClient, node: string, storage: string, volid: string): Promise<boolean> {
    const content = await listStorageContent(client, node, storage, { content: "vztmpl" });
    return content.some((v) => v.volid === volid);
}

/** The error for a template the node's appliance index does not list, with the closest names it does list. */
function notOffered(i: TemplateInputs, offered: string[]): Error {
    const family = i.template.split(/[-_]/)[0];
    const similar = offered.filter((t) => t.split(/[-_]/)[0] === family).slice(0, SUGGESTIONS);
    const hint =
        similar.length > 0
            ? ` It offers: ${similar.join(", ")}.`
            : " Run `pveam update` on the node if its index is old, and `pveam available` to see what it offers.";
    return new Error(
        `template '${i.template}' is not on storage '${i.storage}' of node '${i.node}', and the node's appliance ` +
            `index (pveam available) does not offer it, so it cannot be downloaded.${hint}`,
    );
}

/** Makes sure the file is on the storage; true when this call downloaded it. */
async function ensure(i: TemplateInputs): Promise<boolean> {
    const client = pve();
    const volid = templateVolid(i.storage, i.template);
    return serialised(`${i.node}/${volid}`, async () => {
        if (await isPresent(client, i.node, i.storage, volid)) return false;
        const offered = (await listAplinfo(client, i.node)).map((t) => t.template);
        if (!offered.includes(i.template)) throw notOffered(i, offered);
        try {
            const upid = await downloadTemplate(client, i.node, i.storage, i.template);
            await waitForTask(client, i.node, upid, { timeoutMs: taskTimeoutMs(DOWNLOAD_TIMEOUT_MS) });
        } catch (err) {
            const detail = err instanceof Error ? err.message : String(err);
            throw new Error(
                `downloading template '${i.template}' to storage '${i.storage}' on node '${i.node}' failed: ${detail}`,
                { cause: err },
            );
        }
        if (!(await isPresent(client, i.node, i.storage, volid))) {
            throw new Error(
                `the download of template '${i.template}' on node '${i.node}' finished, but ${volid} is not on ` +
                    `storage '${i.storage}'`,
            );
        }
        return true;
    });
}

function outputs(i: TemplateInputs, downloaded: boolean): Outs {
    return {
        volid: templateVolid(i.storage, i.template),
        node: i.node,
        storage: i.storage,
        template: i.template,
        downloaded,
        retainOnDelete: i.retainOnDelete,
    };
}

defineHandler({
    kind: "template",
    schema: templateSchema,
    diff: {
        keys: ["node", "storage", "template", "retainOnDelete"],
        replaceKeys: ["node", "storage", "template"],
        // Another file (or node): the new one can be fetched before the old one goes.
        deleteBeforeReplace: false,
    },
    async create(i) {
        const downloaded = await ensure(i);
        return { id: `${i.node}/${templateVolid(i.storage, i.template)}`, outs: outputs(i, downloaded) };
    },
    async read(id, props) {
        const node = String(props.node);
        const storage = String(props.storage);
        const template = String(props.template);
        const volid = templateVolid(storage, template);
        // Removed behind our back (pveam remove, the web UI): gone, and the next update downloads it again.
        if (!(await isPresent(pve(), node, storage, volid))) return undefined;
        const inputs = { node, storage, template, retainOnDelete: props.retainOnDelete !== false };
        return { id, props: { ...props, ...inputs, volid }, inputs };
    },
    async update(_id, olds, news) {
        // Only retainOnDelete can change in place; make sure the file is still there all the same.
        const downloaded = await ensure(news);
        return outputs(news, downloaded || olds.downloaded === true);
    },
    async delete(_id, props) {
        if (props.retainOnDelete !== false) return;
        const client = pve();
        const node = String(props.node);
        const storage = String(props.storage);
        const volid = templateVolid(storage, String(props.template));
        await serialised(`${node}/${volid}`, async () => {
            // Already gone (removed by hand): nothing to do.
            if (!(await isPresent(client, node, storage, volid))) return;
            try {
                const upid = await deleteStorageVolume(client, node, storage, volid);
                if (upid) await waitForTask(client, node, upid, { timeoutMs: taskTimeoutMs(DELETE_TIMEOUT_MS) });
            } catch (err) {
                const detail = err instanceof Error ? err.message : String(err);
                throw new Error(`removing template ${volid} from node '${node}' failed: ${detail}`, { cause: err });
            }
        });
    },
});
