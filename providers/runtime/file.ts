import { createHash } from "node:crypto";
import { readFileInfo, removeFile, writeFileAtomic, isSshErrorCode } from "../ssh";
import { sshTarget } from "./context";
import { defineHandler } from "./define";
import { FileInputs, fileSchema } from "./schemas";
import { isUnknown } from "./unknown";

function sha256(text: string): string {
    return createHash("sha256").update(text, "utf8").digest("hex");
}

function where(i: { node: string; vmid?: number; path: string }): string {
    return i.vmid === undefined ? `${i.path} on node ${i.node}` : `${i.path} in CT ${i.vmid}`;
}

/** Turns "container not running" and a lost connection into messages a user can act on. */
function explain(err: unknown, i: FileInputs, verb: string): Error {
    if (isSshErrorCode(err, "CT_NOT_RUNNING")) {
        return new Error(
            `cannot ${verb} ${where(i)}: CT ${i.vmid} is not running (pct needs a running container; set started: true or start it)`,
        );
    }
    if (isSshErrorCode(err, "SSH_CONNECTION_DROPPED")) {
        return new Error(
            `cannot ${verb} ${where(i)}: the SSH connection dropped twice (${(err as Error).message}); the file ` +
                "holds either its old or its new content, never a part (it is replaced with one rename)",
            { cause: err },
        );
    }
    return err instanceof Error ? err : new Error(String(err));
}

/**
 * Writing (temp file + rename), reading and removing are all idempotent, so a connection that dropped mid-way is
 * retried once instead of failing the whole deployment.
 */
async function retryDropped<T>(op: () => Promise<T>): Promise<T> {
    try {
        return await op();
    } catch (err) {
        if (!isSshErrorCode(err, "SSH_CONNECTION_DROPPED")) throw err;
        return op();
    }
}

/** What state keeps: never the content itself, its sha256 instead. */
function outputs(i: FileInputs, written: { sha256: string; size: number }): Record<string, unknown> {
    return {
        node: i.node,
        vmid: i.vmid,
        path: i.path,
        mode: normaliseMode(i.mode),
        owner: i.owner,
        group: i.group ?? i.owner,
        retainOnDelete: i.retainOnDelete,
        sha256: written.sha256,
        size: written.size,
    };
}

function normaliseMode(mode: string): string {
    return mode.padStart(4, "0");
}

async function write(i: FileInputs): Promise<Record<string, unknown>> {
    try {
        const r = await retryDropped(() =>
            writeFileAtomic(sshTarget(), {
                vmid: i.vmid,
                path: i.path,
                content: i.content,
                mode: normaliseMode(i.mode),
                owner: i.owner,
                group: i.group ?? i.owner,
            }),
        );
        return outputs(i, r);
    } catch (err) {
        throw explain(err, i, "write");
    }
}

defineHandler({
    kind: "file",
    schema: fileSchema,
    diff: {
        keys: ["node", "vmid", "path", "sha256", "mode", "owner", "group", "retainOnDelete"],
        replaceKeys: ["node", "vmid", "path"],
        // Same path on a new container or node: remove the old one first, never after the new one exists.
        deleteBeforeReplace: true,
    },
    prepareDiff(_olds, news) {
        const content = news.content;
        return {
            ...news,
            sha256: typeof content === "string" && !isUnknown(content) ? sha256(content) : content,
            mode: typeof news.mode === "string" && !isUnknown(news.mode) ? normaliseMode(news.mode) : news.mode,
            group: news.group ?? news.owner,
        };
    },
    async create(i) {
        const outs = await write(i);
        return { id: `${i.node}/${i.vmid ?? "host"}:${i.path}`, outs };
    },
    async read(id, props) {
        const node = String(props.node);
        const vmid = typeof props.vmid === "number" ? props.vmid : undefined;
        const path = String(props.path);
        let info;
        try {
            info = await retryDropped(() => readFileInfo(sshTarget(), { vmid, path }));
        } catch (err) {
            // The container is gone: so is the file.
            if (isSshErrorCode(err, "CT_NOT_FOUND")) return undefined;
            // A stopped container's files cannot be read with pct: keep what was recorded, so a refresh still
            // works and shows the container's own drift (stopped); the next up starts it and reads again.
            if (isSshErrorCode(err, "CT_NOT_RUNNING")) return { id, props };
            throw err;
        }
        if (!info) return undefined;
        return {
            id,
            props: {
                ...props,
                node,
                // A symlink or directory where our file should be is drift too: its hash never matches.
                sha256: info.type === "file" ? info.sha256 : `${info.type}:`,
                size: info.size,
                mode: info.mode,
                owner: info.owner,
                group: info.group,
            },
        };
    },
    async update(_id, _olds, news) {
        return write(news);
    },
    async delete(_id, props) {
        if (props.retainOnDelete === true) return;
        const vmid = typeof props.vmid === "number" ? props.vmid : undefined;
        try {
            await retryDropped(() => removeFile(sshTarget(), { vmid, path: String(props.path) }));
        } catch (err) {
            if (isSshErrorCode(err, "CT_NOT_FOUND")) return;
            // A stopped container's files cannot be reached with pct; it is almost always being destroyed
            // too (files go before their container), so its lifecycle owns the file. Say so, don't fail.
            if (isSshErrorCode(err, "CT_NOT_RUNNING")) {
                console.warn(
                    `proxmox-homelab: left ${String(props.path)} in stopped CT ${vmid} (pct needs a running CT)`,
                );
                return;
            }
            throw err;
        }
    },
});
