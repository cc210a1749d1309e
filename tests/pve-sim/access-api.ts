/**
 * `/access/...`: tickets, roles, ACLs, users and API tokens (pve-access-control API2/AccessControl.pm,
 * Role.pm, ACL.pm, User.pm), with their error texts.
 */
import { splitList } from "../../providers/proxmox/propstrings";
import { isValidAclPath, normalizeAclPath, type UserRecord } from "./access";
import type { HandlerContext, HandlerTable } from "./api";
import { fail, paramError, PveError } from "./errors";
import { FormatError, splitTokenid, verifyUsername } from "./formats";

function userid(value: string): string {
    try {
        return verifyUsername(value)[0];
    } catch (error) {
        throw fail(error instanceof FormatError ? error.message : String(error));
    }
}

/** POST /access/ticket: `{username, ticket, CSRFPreventionToken, cap}`; any failure is 401. */
function createTicket({ sim, params }: HandlerContext): Record<string, unknown> {
    let username = params.username;
    if (params.realm && !username.includes("@")) username = `${username}@${params.realm}`;
    if (!sim.access.authenticate(username, params.password ?? "")) {
        // PVE hides the reason (no user enumeration).
        throw new PveError(401, "authentication failure\n");
    }
    const { ticket, csrf } = sim.access.issueTicket(username);
    return { username, ticket, CSRFPreventionToken: csrf, cap: sim.access.computeCap(username) };
}

// ---- roles

function listRoles({ sim }: HandlerContext): Record<string, unknown>[] {
    return [...sim.access.roles.keys()].sort().map((roleid) => ({
        roleid,
        privs: [...(sim.access.roles.get(roleid) ?? [])].sort().join(","),
        special: sim.access.isSpecialRole(roleid) ? 1 : 0,
    }));
}

function addPrivs(privs: Set<string>, list: string | undefined, valid: ReadonlySet<string>): void {
    for (const priv of splitList(list)) {
        if (!valid.has(priv)) throw new Error(`invalid privilege '${priv}'`);
        privs.add(priv);
    }
}

function createRole({ sim, params }: HandlerContext): null {
    const role = params.roleid;
    if (/^PVE/i.test(role)) {
        throw paramError({ roleid: "cannot use role ID starting with the (case-insensitive) 'PVE' namespace" });
    }
    try {
        if (sim.access.roles.has(role)) throw new Error(`role '${role}' already exists`);
        const privs = new Set<string>();
        addPrivs(privs, params.privs, sim.access.validPrivileges);
        sim.access.roles.set(role, privs);
    } catch (error) {
        throw fail(`create role failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return null;
}

function updateRole({ sim, params }: HandlerContext): null {
    const role = params.roleid;
    if (sim.access.isSpecialRole(role)) throw fail(`auto-generated role '${role}' cannot be modified`);
    try {
        const existing = sim.access.roles.get(role);
        if (!existing) throw new Error(`role '${role}' does not exist`);
        const privs = params.append === "1" ? new Set(existing) : new Set<string>();
        addPrivs(privs, params.privs, sim.access.validPrivileges);
        sim.access.roles.set(role, privs);
    } catch (error) {
        throw fail(`update role failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return null;
}

function readRole({ sim, params }: HandlerContext): Record<string, 1> {
    const privs = sim.access.roles.get(params.roleid);
    if (!privs) throw fail(`role '${params.roleid}' does not exist`);
    const result: Record<string, 1> = {};
    for (const priv of [...privs].sort()) result[priv] = 1;
    return result;
}

function deleteRole({ sim, params }: HandlerContext): null {
    const role = params.roleid;
    if (sim.access.isSpecialRole(role)) throw fail(`auto-generated role '${role}' cannot be deleted`);
    if (!sim.access.roles.has(role)) throw fail(`delete role failed: role '${role}' does not exist`);
    sim.access.roles.delete(role);
    return null;
}

// ---- ACLs

function readAcl({ sim, user }: HandlerContext): Record<string, unknown>[] {
    const audit = sim.access.check(user, "/access", ["Sys.Audit"], true);
    return sim.access
        .listAcl()
        .filter((entry) => audit || sim.access.checkPermModify(user, entry.path, true))
        .map((entry) => ({ ...entry }));
}

function updateAcl({ sim, params }: HandlerContext): null {
    if (!(params.users || params.groups || params.tokens)) {
        const message = "either 'users', 'groups' or 'tokens' is required.";
        throw paramError({ users: message, groups: message, tokens: message });
    }
    const path = normalizeAclPath(params.path);
    if (!path) throw paramError({ path: `invalid ACL path '${params.path}'` });
    const remove = params.delete === "1";
    if (!remove && !isValidAclPath(path)) throw paramError({ path: `invalid ACL path '${params.path}'` });
    const propagate = params.propagate === undefined ? true : params.propagate === "1";
    try {
        // PVE validates everything before writing user.cfg: collect, then apply.
        const changes: ["users" | "groups" | "tokens", string, string][] = [];
        for (const role of splitList(params.roles)) {
            if (!sim.access.roles.has(role)) throw new Error(`role '${role}' does not exist`);
            for (const group of splitList(params.groups)) {
                if (!sim.access.groups.has(group)) throw new Error(`group '${group}' does not exist`);
                changes.push(["groups", group, role]);
            }
            for (const id of splitList(params.users)) {
                const name = verifyUsername(id)[0];
                if (!sim.access.users.has(name)) throw new Error(`user '${name}' does not exist`);
                changes.push(["users", name, role]);
            }
            for (const tokenid of splitList(params.tokens)) {
                const split = splitTokenid(tokenid);
                if (!split)
                    throw new Error(
                        `'${tokenid}' is not a valid token ID - not able to split into user and token parts`,
                    );
                const owner = sim.access.users.get(split[0]);
                if (!owner) throw new Error(`no such user ('${split[0]}')`);
                if (!owner.tokens.has(split[1])) throw new Error(`no such token '${split[1]}' for user '${split[0]}'`);
                changes.push(["tokens", tokenid, role]);
            }
        }
        for (const [kind, ugid, role] of changes) {
            if (remove) sim.access.revoke(path, kind, ugid, role);
            else sim.access.grant(path, kind, ugid, role, propagate);
        }
    } catch (error) {
        throw fail(`ACL update failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return null;
}

// ---- users and tokens

function userData(user: UserRecord, full: boolean): Record<string, unknown> {
    const data: Record<string, unknown> = { enable: user.enable ? 1 : 0, expire: user.expire };
    for (const key of ["firstname", "lastname", "email", "comment", "keys"] as const) {
        if (user[key] !== undefined) data[key] = user[key];
    }
    if (full) {
        data.groups = [...user.groups].sort();
        data.tokens = Object.fromEntries([...user.tokens].map(([id, token]) => [id, tokenInfo(token)]));
    }
    return data;
}

function tokenInfo(token: { privsep: boolean; expire: number; comment?: string }): Record<string, unknown> {
    const info: Record<string, unknown> = { privsep: token.privsep ? 1 : 0, expire: token.expire };
    if (token.comment !== undefined) info.comment = token.comment;
    return info;
}

function listUsers({ sim, user, params }: HandlerContext): Record<string, unknown>[] {
    const privs = ["User.Modify", "Sys.Audit"];
    const canModify = sim.access.checkAny(user, "/access/groups", privs, true);
    const authUser = splitTokenid(user)?.[0] ?? user;
    const result: Record<string, unknown>[] = [];
    for (const id of [...sim.access.users.keys()].sort()) {
        const record = sim.access.users.get(id);
        if (!record) continue;
        if (!(canModify || id === authUser)) {
            const visible = [...record.groups].some((group) =>
                sim.access.checkAny(user, `/access/groups/${group}`, privs, true),
            );
            if (!visible) continue;
        }
        if (params.enabled !== undefined && (params.enabled === "1") !== record.enable) continue;
        const entry: Record<string, unknown> = { userid: id, ...userData(record, false) };
        if (params.full === "1") {
            entry.groups = [...record.groups].sort().join(",");
            entry.tokens = [...record.tokens].sort().map(([tokenid, token]) => ({ tokenid, ...tokenInfo(token) }));
        }
        entry["realm-type"] = id.endsWith("@pam") ? "pam" : id.endsWith("@pve") ? "pve" : undefined;
        result.push(entry);
    }
    return result;
}

function createUser({ sim, params }: HandlerContext): null {
    try {
        const id = verifyUsername(params.userid)[0];
        if (sim.access.users.has(id)) throw new Error(`user '${id}' already exists`);
        const groups = splitList(params.groups);
        for (const group of groups) if (!sim.access.groups.has(group)) throw new Error(`no such group '${group}'`);
        const record = sim.access.addUser(id, { enable: params.enable === undefined ? true : params.enable === "1" });
        if (params.expire) record.expire = Number(params.expire);
        for (const key of ["firstname", "lastname", "email", "comment", "keys"] as const) {
            if (params[key]) record[key] = params[key];
        }
        for (const group of groups) {
            record.groups.add(group);
            sim.access.groups.get(group)?.users.add(id);
        }
        if (params.password !== undefined) sim.access.setPassword(id, params.password);
    } catch (error) {
        throw fail(`create user failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return null;
}

function readUser({ sim, params }: HandlerContext): Record<string, unknown> {
    return userData(sim.access.checkUserExist(userid(params.userid)), true);
}

function updateUser({ sim, params }: HandlerContext): null {
    const id = userid(params.userid);
    try {
        const record = sim.access.checkUserExist(id);
        if (params.enable !== undefined) record.enable = params.enable === "1";
        if (params.expire !== undefined) record.expire = Number(params.expire);
        if (params.groups !== undefined) {
            if (params.append !== "1") {
                for (const group of record.groups) sim.access.groups.get(group)?.users.delete(id);
                record.groups.clear();
            }
            for (const group of splitList(params.groups)) {
                if (!sim.access.groups.has(group)) throw new Error(`no such group '${group}'`);
                record.groups.add(group);
                sim.access.groups.get(group)?.users.add(id);
            }
        }
        for (const key of ["firstname", "lastname", "email", "comment", "keys"] as const) {
            if (params[key] !== undefined) record[key] = params[key];
        }
    } catch (error) {
        throw fail(`update user failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return null;
}

function deleteUser({ sim, params }: HandlerContext): null {
    sim.access.deleteUser(userid(params.userid));
    return null;
}

function listTokens({ sim, params }: HandlerContext): Record<string, unknown>[] {
    const record = sim.access.checkUserExist(userid(params.userid));
    return [...record.tokens].sort().map(([tokenid, token]) => ({ tokenid, ...tokenInfo(token) }));
}

function readToken({ sim, params }: HandlerContext): Record<string, unknown> {
    const id = userid(params.userid);
    const token = sim.access.checkUserExist(id).tokens.get(params.tokenid);
    if (!token) throw fail(`no such token '${params.tokenid}' for user '${id}'`);
    return tokenInfo(token);
}

function createToken({ sim, params }: HandlerContext): Record<string, unknown> {
    const id = userid(params.userid);
    const record = sim.access.checkUserExist(id);
    if (record.tokens.has(params.tokenid)) throw paramError({ tokenid: "Token already exists." });
    const opts: { privsep: boolean; expire?: number; comment?: string } = { privsep: params.privsep !== "0" };
    if (params.expire !== undefined) opts.expire = Number(params.expire);
    if (params.comment) opts.comment = params.comment;
    const value = sim.access.createToken(id, params.tokenid, opts);
    const token = record.tokens.get(params.tokenid);
    const info: Record<string, unknown> = { privsep: opts.privsep ? 1 : 0 };
    if (opts.expire !== undefined) info.expire = opts.expire;
    if (token?.comment !== undefined) info.comment = token.comment;
    return { info, value, "full-tokenid": `${id}!${params.tokenid}` };
}

function updateToken({ sim, params }: HandlerContext): Record<string, unknown> {
    const id = userid(params.userid);
    const token = sim.access.checkUserExist(id).tokens.get(params.tokenid);
    if (!token) throw fail(`no such token '${params.tokenid}' for user '${id}'`);
    if (params.privsep !== undefined) token.privsep = params.privsep === "1";
    if (params.expire !== undefined) token.expire = Number(params.expire);
    if (params.comment) token.comment = params.comment;
    return tokenInfo(token);
}

function deleteToken({ sim, params }: HandlerContext): null {
    const id = userid(params.userid);
    if (!sim.access.checkUserExist(id).tokens.has(params.tokenid)) {
        throw fail(`no such token '${params.tokenid}' for user '${id}'`);
    }
    sim.access.deleteToken(id, params.tokenid);
    return null;
}

/** GET /access/permissions: effective privileges per path (own, or another user's with Sys.Audit). */
function permissions({ sim, user, params }: HandlerContext): Record<string, Record<string, 0 | 1>> {
    const target = params.userid ?? user;
    if (target !== user) {
        const ownToken = splitTokenid(target)?.[0] === user;
        if (!ownToken) sim.access.check(user, "/access", ["Sys.Audit"]);
    }
    const paths = params.path
        ? [params.path]
        : [
              "/",
              "/access",
              "/access/groups",
              "/nodes",
              "/pool",
              "/sdn",
              "/storage",
              "/vms",
              ...sim.access.definedAclPaths(),
          ];
    const result: Record<string, Record<string, 0 | 1>> = {};
    for (const path of new Set(paths)) {
        const perms = sim.access.permissions(target, path);
        if (perms.size === 0 && !params.path) continue;
        result[path] = Object.fromEntries([...perms].sort().map(([priv, propagate]) => [priv, propagate ? 1 : 0]));
    }
    return result;
}

export function registerAccess(table: HandlerTable): void {
    table.on("GET", "/access/ticket", () => null);
    table.on("POST", "/access/ticket", createTicket);
    table.on("GET", "/access/roles", listRoles);
    table.on("POST", "/access/roles", createRole);
    table.on("GET", "/access/roles/{roleid}", readRole);
    table.on("PUT", "/access/roles/{roleid}", updateRole);
    table.on("DELETE", "/access/roles/{roleid}", deleteRole);
    table.on("GET", "/access/acl", readAcl);
    table.on("PUT", "/access/acl", updateAcl);
    table.on("GET", "/access/users", listUsers);
    table.on("POST", "/access/users", createUser);
    table.on("GET", "/access/users/{userid}", readUser);
    table.on("PUT", "/access/users/{userid}", updateUser);
    table.on("DELETE", "/access/users/{userid}", deleteUser);
    table.on("GET", "/access/users/{userid}/token", listTokens);
    table.on("GET", "/access/users/{userid}/token/{tokenid}", readToken);
    table.on("POST", "/access/users/{userid}/token/{tokenid}", createToken);
    table.on("PUT", "/access/users/{userid}/token/{tokenid}", updateToken);
    table.on("DELETE", "/access/users/{userid}/token/{tokenid}", deleteToken);
    table.on("GET", "/access/permissions", permissions);
}
