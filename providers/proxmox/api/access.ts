/**
 * Access control: roles, ACLs, users and API tokens (`/access/...`).
 * Lists PVE expects as strings (`pve-priv-list`, `pve-roleid-list`, ...) are joined here.
 */
import { z } from "zod";
import type { PveClient } from "../client";
import { apiPath } from "../form";
import { existsBy, noData, pveBool, pveInt, verifyCreated, verifyDeleted } from "./common";

// ---- roles

const roleListSchema = z.array(
    z.looseObject({
        roleid: z.string(),
        privs: z.string().optional(),
        special: pveBool.optional(),
    }),
);

export interface PveRole {
    roleid: string;
    privs: string[];
    /** Built-in role (names starting with `PVE`, plus Administrator/NoAccess): read-only. */
    special: boolean;
}

/** `GET /access/roles`. */
export async function listRoles(client: PveClient): Promise<PveRole[]> {
    const roles = await client.get("/access/roles", undefined, roleListSchema);
    return roles.map((r) => ({ roleid: r.roleid, privs: splitPrivs(r.privs), special: r.special ?? false }));
}

function splitPrivs(text: string | undefined): string[] {
    return (text ?? "")
        .split(/[,;\s]+/)
        .filter((p) => p !== "")
        .sort();
}

/** `GET /access/roles/{roleid}` → the role's privileges, sorted. Missing: `role '<id>' does not exist`. */
export async function getRolePrivs(client: PveClient, roleid: string): Promise<string[]> {
    const map = await client.get(apiPath`/access/roles/${roleid}`, undefined, z.record(z.string(), pveBool));
    return Object.keys(map)
        .filter((k) => map[k])
        .sort();
}

export function roleExists(client: PveClient, roleid: string): Promise<boolean> {
    return existsBy(() => getRolePrivs(client, roleid));
}

/** `POST /access/roles`. Names starting with `PVE` are reserved. A lost answer is settled by existence. */
export function createRole(client: PveClient, roleid: string, privs: readonly string[]): Promise<void> {
    return client.post("/access/roles", { roleid, privs: privs.join(",") }, noData, {
        verify: verifyCreated(() => roleExists(client, roleid)),
    });
}

/** `PUT /access/roles/{roleid}`: replaces the privileges (or adds them with `append`). */
export function updateRole(
    client: PveClient,
    roleid: string,
    privs: readonly string[],
    opts: { append?: boolean } = {},
): Promise<void> {
    return client.put(apiPath`/access/roles/${roleid}`, { privs: privs.join(","), append: opts.append }, noData);
}

export function deleteRole(client: PveClient, roleid: string): Promise<void> {
    return client.delete(apiPath`/access/roles/${roleid}`, undefined, noData, {
        idempotent: false,
        verify: verifyDeleted(() => roleExists(client, roleid)),
    });
}

// ---- ACLs

const aclListSchema = z.array(
    z.looseObject({
        path: z.string(),
        roleid: z.string(),
        type: z.enum(["user", "group", "token"]),
        ugid: z.string(),
        propagate: pveBool.optional(),
    }),
);
export type AclEntry = z.output<typeof aclListSchema>[number];

/** `GET /access/acl`. */
export function listAcl(client: PveClient): Promise<AclEntry[]> {
    return client.get("/access/acl", undefined, aclListSchema);
}

export interface AclUpdate {
    /** ACL path, e.g. `/vms/101`, `/storage/local`, `/sdn/zones/localnetwork/vmbr1`. */
    path: string;
    roles: readonly string[];
    users?: readonly string[];
    groups?: readonly string[];
    /** Full token ids `user@realm!tokenid`. */
    tokens?: readonly string[];
    /** PVE default: true. */
    propagate?: boolean;
    /** Remove these grants instead of adding them. */
    delete?: boolean;
}

/** `PUT /access/acl`: adds (or with `delete`, removes) grants. Set semantics, so repeating it is harmless. */
export function updateAcl(client: PveClient, acl: AclUpdate): Promise<void> {
    const list = (items: readonly string[] | undefined) => (items && items.length > 0 ? items.join(",") : undefined);
    return client.put(
        "/access/acl",
        {
            path: acl.path,
            roles: acl.roles.join(","),
            users: list(acl.users),
            groups: list(acl.groups),
            tokens: list(acl.tokens),
            propagate: acl.propagate,
            delete: acl.delete,
        },
        noData,
    );
}

// ---- users

const userSchema = z.looseObject({
    userid: z.string().optional(),
    enable: pveBool.optional(),
    expire: pveInt.optional(),
    comment: z.string().optional(),
    email: z.string().optional(),
    firstname: z.string().optional(),
    lastname: z.string().optional(),
    groups: z.union([z.string(), z.array(z.string())]).optional(),
});
export type PveUser = z.output<typeof userSchema> & { userid: string };

/** `GET /access/users`. */
export async function listUsers(
    client: PveClient,
    opts: { enabled?: boolean; full?: boolean } = {},
): Promise<PveUser[]> {
    const users = await client.get(
        "/access/users",
        { enabled: opts.enabled, full: opts.full },
        z.array(userSchema.extend({ userid: z.string() })),
    );
    return users;
}

/** `GET /access/users/{userid}`. Missing: `no such user ('<id>')`. */
export async function getUser(client: PveClient, userid: string): Promise<PveUser> {
    const user = await client.get(apiPath`/access/users/${userid}`, undefined, userSchema);
    return { ...user, userid };
}

export function userExists(client: PveClient, userid: string): Promise<boolean> {
    return existsBy(() => getUser(client, userid));
}

export type UserParams = {
    comment?: string;
    email?: string;
    enable?: boolean;
    /** Unix seconds; 0 = never. */
    expire?: number;
    firstname?: string;
    lastname?: string;
    groups?: readonly string[];
};

/** `POST /access/users`. `password` only applies to the `pve` realm. A lost answer is settled by existence. */
export function createUser(
    client: PveClient,
    userid: string,
    params: UserParams & { password?: string } = {},
): Promise<void> {
    const { groups, ...rest } = params;
    return client.post("/access/users", { userid, ...rest, groups: groups?.join(",") }, noData, {
        verify: verifyCreated(() => userExists(client, userid)),
    });
}

/** `PUT /access/users/{userid}`. */
export function updateUser(
    client: PveClient,
    userid: string,
    params: UserParams & { append?: boolean },
): Promise<void> {
    const { groups, ...rest } = params;
    return client.put(apiPath`/access/users/${userid}`, { ...rest, groups: groups?.join(",") }, noData);
}

export function deleteUser(client: PveClient, userid: string): Promise<void> {
    return client.delete(apiPath`/access/users/${userid}`, undefined, noData, {
        idempotent: false,
        verify: verifyDeleted(() => userExists(client, userid)),
    });
}

// ---- API tokens

const tokenInfoSchema = z.looseObject({
    comment: z.string().optional(),
    expire: pveInt.optional(),
    privsep: pveBool.optional(),
});
export type TokenInfo = z.output<typeof tokenInfoSchema>;

/** `GET /access/users/{userid}/token`. */
export function listTokens(client: PveClient, userid: string): Promise<(TokenInfo & { tokenid: string })[]> {
    return client.get(
        apiPath`/access/users/${userid}/token`,
        undefined,
        z.array(tokenInfoSchema.extend({ tokenid: z.string() })),
    );
}

/** `GET /access/users/{userid}/token/{tokenid}`. Missing: `no such token '<id>' for user '<userid>'`. */
export function getToken(client: PveClient, userid: string, tokenid: string): Promise<TokenInfo> {
    return client.get(apiPath`/access/users/${userid}/token/${tokenid}`, undefined, tokenInfoSchema);
}

export function tokenExists(client: PveClient, userid: string, tokenid: string): Promise<boolean> {
    return existsBy(() => getToken(client, userid, tokenid));
}

const createdTokenSchema = z.looseObject({
    "full-tokenid": z.string(),
    value: z.string().min(1),
    info: tokenInfoSchema.optional(),
});

export interface CreatedToken {
    /** `user@realm!tokenid`. */
    fullTokenId: string;
    /** The secret. PVE shows it exactly once: store it (as a Pulumi secret) or lose it. */
    value: string;
    info: TokenInfo;
}

/**
 * `POST /access/users/{userid}/token/{tokenid}` (privsep default 1: the token's rights are its own ACLs ∩ the
 * user's). If the answer is lost, the secret is lost with it: when the token exists afterwards this fails with
 * PveOutcomeUnknownError saying so (delete and create it again); when it does not, it is sent again.
 */
export async function createToken(
    client: PveClient,
    userid: string,
    tokenid: string,
    params: { comment?: string; expire?: number; privsep?: boolean } = {},
): Promise<CreatedToken> {
    const created = await client.post(apiPath`/access/users/${userid}/token/${tokenid}`, params, createdTokenSchema, {
        verify: async () => {
            if (!(await tokenExists(client, userid, tokenid))) return { tookEffect: false };
            throw new Error(
                `token ${userid}!${tokenid} was created but its secret was lost with the answer; delete the token and ` +
                    "create it again",
            );
        },
    });
    return { fullTokenId: created["full-tokenid"], value: created.value, info: created.info ?? {} };
}

/** `PUT /access/users/{userid}/token/{tokenid}`. */
export function updateToken(
    client: PveClient,
    userid: string,
    tokenid: string,
    params: { comment?: string; expire?: number; privsep?: boolean },
): Promise<void> {
    return client.put(apiPath`/access/users/${userid}/token/${tokenid}`, params, noData);
}

export function deleteToken(client: PveClient, userid: string, tokenid: string): Promise<void> {
    return client.delete(apiPath`/access/users/${userid}/token/${tokenid}`, undefined, noData, {
        idempotent: false,
        verify: verifyDeleted(() => tokenExists(client, userid, tokenid)),
    });
}
