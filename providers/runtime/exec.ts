import { randomBytes } from "node:crypto";
import { runScript, isSshErrorCode } from "../ssh";
import { sshTarget } from "./context";
import { defineHandler } from "./define";
import { canonical } from "./diff";
import { ExecInputs, execSchema } from "./schemas";

/** The last `limit` characters of a stream, as text. */
function tail(buf: Buffer, limit: number): string {
    const text = buf.toString("utf8");
    return text.length > limit ? text.slice(text.length - limit) : text;
}

/**
 * Environment variables that never hold a secret: lists of hosts that bypass a proxy. Masking them would blank
 * every mention of those hosts (a mirror's address in a failed download's message, say).
 */
const NEVER_SECRET_ENV = new Set(["no_proxy", "NO_PROXY"]);

/**
 * Replaces every secret value (environment values and stdin lines of 4+ characters) in text that is about to
 * leave as an error message: engine logs are plain text, and a failing script may well echo what it was given.
 */
export function maskSecrets(text: string, i: Pick<ExecInputs, "environment" | "stdin">): string {
    const secrets = [
        ...Object.entries(i.environment)
            .filter(([k]) => !NEVER_SECRET_ENV.has(k))
            .map(([, v]) => v),
        ...(i.stdin ? i.stdin.split("\n").map((l) => l.trim()) : []),
    ].filter((s) => s.length >= 4);
    let out = text;
    for (const s of secrets.sort((a, b) => b.length - a.length)) out = out.split(s).join("[secret]");
    return out;
}

function where(i: ExecInputs): string {
    return i.vmid === undefined ? `on node ${i.node}` : `in CT ${i.vmid}`;
}

async function run(i: ExecInputs, script: string, phase: string): Promise<Record<string, unknown>> {
    let r;
    try {
        r = await runScript(sshTarget(), {
            vmid: i.vmid,
            script,
            env: i.environment,
            stdin: i.stdin,
            timeoutMs: i.timeoutSeconds * 1000,
        });
    } catch (err) {
        if (isSshErrorCode(err, "CT_NOT_RUNNING")) {
            throw new Error(`cannot run the ${phase} command ${where(i)}: the container is not running`, {
                cause: err,
            });
        }
        if (isSshErrorCode(err, "SSH_TIMEOUT")) {
            throw new Error(`the ${phase} command ${where(i)} did not finish within ${i.timeoutSeconds} s`, {
                cause: err,
            });
        }
        throw err;
    }
    const stdout = tail(r.stdout, i.outputLimit);
    const stderr = tail(r.stderr, i.outputLimit);
    if (r.code !== 0) {
        const status = r.code === null ? `was killed (${r.signal ?? "signal"})` : `exited ${r.code}`;
        const detail = maskSecrets(tail(r.stderr, 2000) || tail(r.stdout, 2000), i).trimEnd();
        throw new Error(`the ${phase} command ${where(i)} ${status}${detail ? `:\n${detail}` : ""}`);
    }
    return { ...i, exitCode: r.code, stdout, stderr };
}

/** Inputs whose change re-runs the command (the others only update state). */
const RERUN_KEYS = ["create", "update", "triggers", "environment", "stdin"] as const;

defineHandler({
    kind: "exec",
    schema: execSchema,
    diff: {
        keys: [
            "node",
            "vmid",
            "create",
            "update",
            "delete",
            "triggers",
            "environment",
            "stdin",
            "timeoutSeconds",
            "outputLimit",
        ],
        replaceKeys: ["node", "vmid"],
        deleteBeforeReplace: false,
    },
    async create(i) {
        const outs = await run(i, i.create, "create");
        return { id: randomBytes(8).toString("hex"), outs };
    },
    // A command has no live state to read back: refresh keeps what the last run recorded.
    async read(id, props) {
        return { id, props };
    },
    async update(_id, olds, news) {
        // Key order is not a change: `{A, B}` and `{B, A}` are the same environment (diff compares the same way).
        const rerun = RERUN_KEYS.some((k) => canonical(olds[k] ?? null) !== canonical(news[k] ?? null));
        if (!rerun) return { ...olds, ...news };
        return run(news, news.update ?? news.create, "update");
    },
    async delete(_id, props) {
        const i = props as unknown as ExecInputs;
        if (!i.delete) return;
        try {
            await run(
                { ...i, environment: i.environment ?? {}, outputLimit: i.outputLimit ?? 4096 },
                i.delete,
                "delete",
            );
        } catch (err) {
            // The container went first (or was removed by hand): there is nothing left to undo inside it.
            if (isSshErrorCode(err, "CT_NOT_FOUND")) return;
            throw err;
        }
    },
});
