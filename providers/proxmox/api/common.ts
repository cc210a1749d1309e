/**
 * Shared pieces of the endpoint wrappers: schemas for PVE's loosely typed JSON, and the `verify` callbacks
 * that settle whether a lost non-idempotent request took effect (see retry.ts for the classification).
 */
import { z } from "zod";
import type { PveClient } from "../client";
import { isPveNotFound } from "../errors";
import type { VerifyOutcome } from "../retry";
import { findRecentTask, isRememberedTask } from "../tasks";

/**
 * A PVE boolean. The schema says boolean, but Perl hands out 1/0 numbers, and values parsed from files
 * (/etc/network/interfaces) arrive as "1"/"0" strings.
 */
export const pveBool = z
    .union([z.boolean(), z.number(), z.enum(["0", "1"])])
    .transform((v) => v === true || v === 1 || v === "1");

/** A PVE integer that may arrive as a JSON number or as a numeric string (values parsed from config files). */
export const pveInt = z.union([z.number(), z.string().regex(/^-?\d+$/)]).transform((v) => Number(v));

/** `null` answers (most PUT/DELETE and some POST): nothing the code relies on. */
export const noData = z.unknown().transform(() => undefined);

/** Everything a task-starting wrapper accepts besides its parameters. */
export interface TaskStartOptions {
    /**
     * Overrides the built-in verification used when the request's outcome is unknown (connection dropped after
     * sending, 5xx of unknown effect). Return the UPID of the task the first attempt started, or
     * `{tookEffect: false}` when sending again is safe.
     */
    verify?: (failure: Error) => Promise<VerifyOutcome<string>>;
}

/**
 * How far back (seconds) a task may have started and still count as ours: the request was sent moments ago,
 * but this machine's clock and the node's may disagree a little.
 */
export const TASK_CLOCK_SKEW_SECONDS = 30;

/**
 * Verifies a lost task-starting request by looking for the task it would have started (`GET /nodes/{node}/tasks`
 * filtered by type, id and our exact identity since just before the request, leaving out tasks this process
 * already knew). Found: it took effect, and its UPID is the result. Not found: nothing ran, sending again is safe.
 */
export function verifyByTask(
    client: PveClient,
    node: string,
    type: string,
    id: string | undefined,
): (failure: Error) => Promise<VerifyOutcome<string>> {
    const since = Math.floor(client.clock.now() / 1000) - TASK_CLOCK_SKEW_SECONDS;
    return async () => {
        const upid = await findRecentTask(client, node, {
            type,
            id,
            sinceEpochSeconds: since,
            user: client.identity,
            exclude: isRememberedTask,
        });
        return upid ? { tookEffect: true, result: upid } : { tookEffect: false };
    };
}

/**
 * Verifies a lost create by checking whether the object exists now (interfaces, roles, users): if it does, the
 * first attempt made it (a resend would fail with `already exists`); if it does not, resending is safe.
 */
export function verifyCreated(exists: () => Promise<boolean>): (failure: Error) => Promise<VerifyOutcome<undefined>> {
    return async () => ((await exists()) ? { tookEffect: true, result: undefined } : { tookEffect: false });
}

/** The mirror image for deletes: gone means the first attempt did it (a resend would fail with `does not exist`). */
export function verifyDeleted(exists: () => Promise<boolean>): (failure: Error) => Promise<VerifyOutcome<undefined>> {
    return async () => ((await exists()) ? { tookEffect: false } : { tookEffect: true, result: undefined });
}

/** Runs a read; "does not exist" becomes false, anything else propagates. */
export async function existsBy(read: () => Promise<unknown>): Promise<boolean> {
    try {
        await read();
        return true;
    } catch (err) {
        if (isPveNotFound(err)) return false;
        throw err;
    }
}
