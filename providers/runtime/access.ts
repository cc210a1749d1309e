/**
 * Access control handlers: `role`, `user`, `acl` and `apiToken`. Each create is idempotent (an interrupted
 * earlier create is converged, not failed on), each delete counts "already gone" as done, and each read
 * reports what PVE has now so `pulumi refresh` shows drift.
 */
import {
    createRole,
    createToken,
    createUser,
    deleteRole,
    deleteToken,
    deleteUser,
    getRolePrivs,
    getToken,
    getUser,
    getVersion,
    isPveNotFound,
    listAcl,
    PveApiError,
    PveOutcomeUnknownError,
    tokenExists,
    updateAcl,
    updateRole,
    updateToken,
    updateUser,
    userExists,
    type AclEntry,
    type CreatedToken,
} from "../proxmox";
import { pve } from "./context";
import { defineHandler } from "./define";
import {
    AclInputs,
    aclSchema,
    ApiTokenInputs,
    apiTokenSchema,
    RoleInputs,
    roleSchema,
    UserInputs,
    userSchema,
} from "./schemas";
import { isUnknown, UNKNOWN } from "./unknown";

type Props = Record<string, unknown>;

/** PVE answered that the object a create was about to make is already there. */
function alreadyExists(err: unknown): boolean {
    if (!(err instanceof PveApiError)) return false;
    return [err.pveMessage, ...Object.values(err.errors)].some((t) => /already exists/i.test(t));
}

// ---------------------------------------------------------------------------------------------------------
// role

/** Sorted, without duplicates: the form PVE lists privileges in, so a no-op diff compares equal. */
function sortedUnique(list: readonly string[]): string[] {
    return [...new Set(list)].sort();
}

/**
 * The privileges to set on a node of PVE `major`: the common ones plus the version-specific ones. PVE 9 removed
 * VM.Monitor and added VM.GuestAgent.*; a role naming a privilege the node does not know is refused by PVE.
 */
export function selectPrivileges(
    i: Pick<RoleInputs, "privileges" | "pve8Privileges" | "pve9Privileges">,
    major: number,
): string[] {
    return sortedUnique([...i.privileges, ...(major >= 9 ? i.pve9Privileges : i.pve8Privileges)]);
}

function roleOutputs(i: RoleInputs, major: number, effective: readonly string[]): Props {
    return {
        roleId: i.roleId,
        privileges: sortedUnique(i.privileges),
        pve8Privileges: sortedUnique(i.pve8Privileges),
        pve9Privileges: sortedUnique(i.pve9Privileges),
        effectivePrivileges: [...effective],
        pveMajor: major,
    };
}

async function pveMajor(): Promise<number> {
    return (await getVersion(pve())).major;
}

/** Sets the full privilege list (PUT without `append`), whatever the role held before. */
async function convergeRole(i: RoleInputs): Promise<Props> {
    const major = await pveMajor();
    const privs = selectPrivileges(i, major);
    await updateRole(pve(), i.roleId, privs);
    return roleOutputs(i, major, privs);
}

/** A list that is not known yet (preview): the diff sees an unknown in it and reports "may change". */
const UNKNOWN_LIST = [UNKNOWN];

function stringList(v: unknown): string[] | undefined {
    return Array.isArray(v) && v.every((x) => typeof x === "string" && !isUnknown(x)) ? (v as string[]) : undefined;
}

defineHandler({
    kind: "role",
    schema: roleSchema,
    diff: {
        // effectivePrivileges stands for all three input lists: it is what PVE holds, and what read refreshes.
        keys: ["roleId", "effectivePrivileges"],
        replaceKeys: ["roleId"],
        // The id is the name. Deleting first also lets the engine remove the ACLs that take their roleId from
        // this role before it goes (PVE drops a role's ACL entries with it anyway) and grant them anew after.
        deleteBeforeReplace: true,
    },
    prepareDiff(olds, news) {
        // The version is the one recorded by the last create/update/read; a node upgraded since shows up
        // after a refresh (read records the live major).
        const major = typeof olds.pveMajor === "number" ? olds.pveMajor : 9;
        const privileges = stringList(news.privileges);
        const pve8 = news.pve8Privileges === undefined ? [] : stringList(news.pve8Privileges);
        const pve9 = news.pve9Privileges === undefined ? [] : stringList(news.pve9Privileges);
        const effectivePrivileges =
            privileges && pve8 && pve9
                ? selectPrivileges({ privileges, pve8Privileges: pve8, pve9Privileges: pve9 }, major)
                : UNKNOWN_LIST;
        return { ...news, effectivePrivileges };
    },
    async create(i) {
        const major = await pveMajor();
        const privs = selectPrivileges(i, major);
        try {
            await createRole(pve(), i.roleId, privs);
        } catch (err) {
            // An earlier create that was interrupted after PVE made the role: converge it instead of failing.
            if (!alreadyExists(err)) throw err;
            await updateRole(pve(), i.roleId, privs);
        }
        return { id: i.roleId, outs: roleOutputs(i, major, privs) };
    },
    async read(id, props) {
        const roleId = typeof props.roleId === "string" ? props.roleId : id;
        let privs: string[];
        try {
            privs = await getRolePrivs(pve(), roleId);
        } catch (err) {
            if (isPveNotFound(err)) return undefined;
            throw err;
        }
        return { id, props: { ...props, roleId, effectivePrivileges: privs, pveMajor: await pveMajor() } };
    },
    async update(_id, _olds, news) {
        return convergeRole(news);
    },
    async delete(id, props) {
        const roleId = typeof props.roleId === "string" ? props.roleId : id;
        try {
            await deleteRole(pve(), roleId);
        } catch (err) {
            if (isPveNotFound(err)) return;
            throw err;
        }
    },
});

// ---------------------------------------------------------------------------------------------------------
// user

function userOutputs(i: UserInputs): Props {
    return { userId: i.userId, comment: i.comment, enable: i.enable };
}

defineHandler({
    kind: "user",
    schema: userSchema,
    diff: {
        keys: ["userId", "comment", "enable"],
        replaceKeys: ["userId"],
        // Tokens and ACLs hang off the user (PVE deletes them with it): remove them with the old user first.
        deleteBeforeReplace: true,
    },
    async create(i) {
        try {
            // No password: this user exists to own API tokens.
            await createUser(pve(), i.userId, { comment: i.comment, enable: i.enable });
        } catch (err) {
            if (!alreadyExists(err)) throw err;
            // Left by an interrupted earlier create: converge it (an empty comment clears PVE's).
            await updateUser(pve(), i.userId, { comment: i.comment ?? "", enable: i.enable });
        }
        return { id: i.userId, outs: userOutputs(i) };
    },
    async read(id, props) {
        const userId = typeof props.userId === "string" ? props.userId : id;
        let user;
        try {
            user = await getUser(pve(), userId);
        } catch (err) {
            if (isPveNotFound(err)) return undefined;
            throw err;
        }
        return {
            id,
            props: { ...props, userId, comment: user.comment || undefined, enable: user.enable ?? true },
        };
    },
    async update(_id, _olds, news) {
        // PVE's update_user sets every *defined* field: an empty comment is how a comment is removed.
        await updateUser(pve(), news.userId, { comment: news.comment ?? "", enable: news.enable });
        return userOutputs(news);
    },
    async delete(id, props) {
        const userId = typeof props.userId === "string" ? props.userId : id;
        try {
            await deleteUser(pve(), userId);
        } catch (err) {
            if (isPveNotFound(err)) return;
            throw err;
        }
    },
});

// ---------------------------------------------------------------------------------------------------------
// acl

/** PVE::AccessControl::normalize_path: `//vms/100/` and `/vms/100` are the same ACL path. */
export function normalizeAclPath(path: string): string {
    let p = path.replace(/\/+/g, "/").replace(/\/$/, "");
    if (!p.startsWith("/")) p = `/${p}`;
    return p;
}

interface Binding {
    path: string;
    roleId: string;
    type: "user" | "token";
    ugid: string;
}

function bindingOf(i: Pick<AclInputs, "path" | "roleId" | "userId" | "tokenId">): Binding {
    return i.tokenId !== undefined
        ? { path: normalizeAclPath(i.path), roleId: i.roleId, type: "token", ugid: i.tokenId }
        : { path: normalizeAclPath(i.path), roleId: i.roleId, type: "user", ugid: String(i.userId) };
}

function bindingFromProps(props: Props): Binding {
    return bindingOf({
        path: String(props.path),
        roleId: String(props.roleId),
        userId: typeof props.userId === "string" ? props.userId : undefined,
        tokenId: typeof props.tokenId === "string" ? props.tokenId : undefined,
    });
}

/** One ACL entry per (path, role, user or token): the id says which. */
function aclId(b: Binding): string {
    return `${b.path}|${b.roleId}|${b.ugid}`;
}

function subject(b: Binding): { users?: string[]; tokens?: string[] } {
    return b.type === "token" ? { tokens: [b.ugid] } : { users: [b.ugid] };
}

function findBinding(entries: readonly AclEntry[], b: Binding): AclEntry | undefined {
    return entries.find((e) => e.path === b.path && e.roleid === b.roleId && e.type === b.type && e.ugid === b.ugid);
}

async function grant(i: AclInputs): Promise<Props> {
    const b = bindingOf(i);
    // PUT /access/acl has set semantics (granting twice is harmless) and replaces the propagate flag.
    await updateAcl(pve(), { path: b.path, roles: [b.roleId], ...subject(b), propagate: i.propagate });
    return { path: b.path, roleId: b.roleId, userId: i.userId, tokenId: i.tokenId, propagate: i.propagate };
}

defineHandler({
    kind: "acl",
    schema: aclSchema,
    diff: {
        keys: ["path", "roleId", "userId", "tokenId", "propagate"],
        replaceKeys: ["path", "roleId", "userId", "tokenId"],
        // A replacement is always a different binding (paths are compared normalised, so a changed spelling of
        // the same path is no change at all): the new grant can exist next to the old one, then the old goes.
        deleteBeforeReplace: false,
    },
    prepareDiff(_olds, news) {
        const path = news.path;
        return typeof path === "string" && !isUnknown(path) ? { ...news, path: normalizeAclPath(path) } : news;
    },
    async create(i) {
        const outs = await grant(i);
        return { id: aclId(bindingOf(i)), outs };
    },
    async read(id, props) {
        const b = bindingFromProps(props);
        const entry = findBinding(await listAcl(pve()), b);
        if (!entry) return undefined;
        return { id, props: { ...props, path: b.path, propagate: entry.propagate ?? true } };
    },
    async update(_id, _olds, news) {
        // Only propagate changes in place (everything else is a different binding and replaces).
        return grant(news);
    },
    async delete(_id, props) {
        const b = bindingFromProps(props);
        try {
            // Removes exactly this role for exactly this user or token on exactly this path, nothing else.
            await updateAcl(pve(), { path: b.path, roles: [b.roleId], ...subject(b), delete: true });
        } catch (err) {
            // The role, user or token is gone, and PVE removed its ACL entries with it ("role 'x' does not
            // exist", "no such token ..."): the binding is gone, which is what delete wants.
            if (!findBinding(await listAcl(pve()), b)) return;
            throw err;
        }
    },
});

// ---------------------------------------------------------------------------------------------------------
// apiToken

function tokenParams(i: ApiTokenInputs): { comment?: string; expire: number; privsep: boolean } {
    // PVE ignores an empty comment (`if $param->{comment}`): never send one.
    return { comment: i.comment || undefined, expire: i.expire, privsep: i.privsep };
}

function tokenOutputs(i: ApiTokenInputs, fullTokenId: string, value: unknown): Props {
    return { ...tokenParams(i), userId: i.userId, tokenName: i.tokenName, fullTokenId, value };
}

/** Whether a failed create left the token in place (already there before, or made by a request whose answer was lost). */
async function tokenLeftBehind(err: unknown, i: ApiTokenInputs): Promise<boolean> {
    if (err instanceof PveApiError) return err.status === 400 && alreadyExists(err);
    if (err instanceof PveOutcomeUnknownError) return tokenExists(pve(), i.userId, i.tokenName);
    return false;
}

async function createFreshToken(i: ApiTokenInputs): Promise<CreatedToken> {
    try {
        return await createToken(pve(), i.userId, i.tokenName, tokenParams(i));
    } catch (err) {
        if (!(await tokenLeftBehind(err, i))) throw err;
    }
    // The token exists (an interrupted earlier create, or this create's answer was lost) and PVE shows a secret
    // exactly once: its value cannot be learned any more. A token whose secret nobody has is useless as an
    // output, so replace it by one whose secret this create returns.
    await deleteToken(pve(), i.userId, i.tokenName).catch((err: unknown) => {
        if (!isPveNotFound(err)) throw err;
    });
    return createToken(pve(), i.userId, i.tokenName, tokenParams(i));
}

/** Is the token (or its owner, which takes its tokens with it) gone? Errors count as "don't know": false. */
async function tokenGone(userId: string, tokenName: string): Promise<boolean> {
    try {
        return !(await userExists(pve(), userId)) || !(await tokenExists(pve(), userId, tokenName));
    } catch {
        return false;
    }
}

function tokenKey(id: string, props: Props): { userId: string; tokenName: string } {
    if (typeof props.userId === "string" && typeof props.tokenName === "string") {
        return { userId: props.userId, tokenName: props.tokenName };
    }
    const bang = id.lastIndexOf("!");
    return { userId: id.slice(0, bang), tokenName: id.slice(bang + 1) };
}

defineHandler({
    kind: "apiToken",
    schema: apiTokenSchema,
    diff: {
        keys: ["userId", "tokenName", "privsep", "comment", "expire"],
        replaceKeys: ["userId", "tokenName"],
        // The token id is fixed by its name: the old token must go before the new one can be made.
        deleteBeforeReplace: true,
    },
    prepareDiff(olds, news) {
        // PVE cannot clear a token's comment (update_token_info ignores an empty one): an absent comment
        // leaves whatever PVE has alone instead of asking, forever, for an update that cannot happen.
        return news.comment === undefined || news.comment === "" ? { ...news, comment: olds.comment } : news;
    },
    async create(i) {
        const created = await createFreshToken(i);
        return { id: created.fullTokenId, outs: tokenOutputs(i, created.fullTokenId, created.value) };
    },
    async read(id, props) {
        const { userId, tokenName } = tokenKey(id, props);
        let info;
        try {
            info = await getToken(pve(), userId, tokenName);
        } catch (err) {
            if (isPveNotFound(err) || (await tokenGone(userId, tokenName))) return undefined;
            throw err;
        }
        return {
            id,
            // `value` stays what create recorded: PVE never shows it again.
            props: {
                ...props,
                comment: info.comment || undefined,
                expire: info.expire ?? 0,
                privsep: info.privsep ?? true,
            },
        };
    },
    async update(id, olds, news) {
        await updateToken(pve(), news.userId, news.tokenName, tokenParams(news));
        const outs = tokenOutputs(news, String(olds.fullTokenId ?? id), olds.value);
        // An absent comment was not cleared (PVE cannot): record what PVE keeps.
        if (news.comment === undefined || news.comment === "") outs.comment = olds.comment;
        return outs;
    },
    async delete(id, props) {
        const { userId, tokenName } = tokenKey(id, props);
        try {
            await deleteToken(pve(), userId, tokenName);
        } catch (err) {
            // Missing token: 500 "no such token". Missing owner (deleting a user deletes its tokens): PVE's
            // permission check fails before the handler can say so, hence the existence check.
            if (isPveNotFound(err) || (await tokenGone(userId, tokenName))) return;
            throw err;
        }
    },
});
