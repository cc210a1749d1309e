/**
 * The simulator's user.cfg: users, groups, roles, ACLs and API tokens, with PVE's permission evaluation
 * (pve-access-control AccessControl::roles and RPCEnvironment::permissions/exec_api2_perm_check), tickets
 * and CSRF tokens. Secrets (passwords, token values) are kept only as salted hashes.
 */
import { createHmac, randomBytes, randomUUID, scryptSync, timingSafeEqual } from "node:crypto";
import { splitList } from "../../providers/proxmox/propstrings";
import { authError, fail, permError } from "./errors";
import { FormatError, splitTokenid, verifyUsername } from "./formats";
import { privilegesFor, specialRolesFor, type PveMajor } from "./privileges";
import type { PermCheck, PermissionSpec } from "./schema";

export interface TokenRecord {
    privsep: boolean;
    /** Seconds since the epoch; 0 = never. */
    expire: number;
    comment?: string;
    secretHash: string;
}

export interface UserRecord {
    enable: boolean;
    expire: number;
    firstname?: string;
    lastname?: string;
    email?: string;
    comment?: string;
    keys?: string;
    groups: Set<string>;
    tokens: Map<string, TokenRecord>;
    passwordHash?: string;
}

/** role → propagate, per user/group/token id. */
type AclEntries = Map<string, Map<string, boolean>>;

interface AclNode {
    users: AclEntries;
    groups: AclEntries;
    tokens: AclEntries;
}

export interface AclEntry {
    path: string;
    type: "user" | "group" | "token";
    ugid: string;
    roleid: string;
    propagate: 0 | 1;
}

/** PVE's ticket lifetime (2 h) and clock-skew grace (5 min), in seconds. */
export const TICKET_LIFETIME = 7200;
const AUTH_GRACE = 300;

function hashSecret(secret: string): string {
    const salt = randomBytes(16);
    // Low scrypt cost on purpose: this is a test double, the point is never to hold the secret in plain text.
    return `${salt.toString("hex")}:${scryptSync(secret, salt, 32, { N: 1024 }).toString("hex")}`;
}

function secretMatches(secret: string, stored: string | undefined): boolean {
    if (!stored) return false;
    const [saltHex, hashHex] = stored.split(":");
    const expected = Buffer.from(hashHex, "hex");
    const actual = scryptSync(secret, Buffer.from(saltHex, "hex"), 32, { N: 1024 });
    return timingSafeEqual(expected, actual);
}

/** PVE::AccessControl::normalize_path. */
export function normalizeAclPath(path: string | undefined): string | undefined {
    if (!path) return undefined;
    let result = path.replace(/\/+/g, "/").replace(/\/$/, "");
    if (!result) result = "/";
    if (!result.startsWith("/")) result = `/${result}`;
    if (!/^[A-Za-z0-9.\-_/]+$/.test(result)) return undefined;
    return result;
}

const ALNUM = "[A-Za-z0-9.\\-_]+";
/** PVE::AccessControl::check_path: the ACL paths PVE accepts for new entries. */
const VALID_ACL_PATH = new RegExp(
    "^(" +
        [
            "/",
            "/access",
            "/access/groups",
            `/access/groups/${ALNUM}`,
            "/access/realm",
            `/access/realm/${ALNUM}`,
            "/nodes",
            `/nodes/${ALNUM}`,
            "/pool",
            `/pool/${ALNUM}`,
            "/sdn",
            "/sdn/zones",
            `/sdn/zones/${ALNUM}`,
            `/sdn/zones/${ALNUM}/${ALNUM}`,
            `/sdn/zones/${ALNUM}/${ALNUM}/[1-9][0-9]{0,3}`,
            "/storage",
            `/storage/${ALNUM}`,
            "/vms",
            "/vms/[1-9][0-9]{2,}",
            "/mapping",
            `/mapping/${ALNUM}`,
            `/mapping/${ALNUM}/${ALNUM}`,
        ].join("|") +
        ")$",
);

export function isValidAclPath(path: string): boolean {
    return VALID_ACL_PATH.test(path);
}

/** PVE::Tools::template_replace: `{name}` → the parameter, `-` when missing. */
function templateReplace(template: string, params: Readonly<Record<string, string>>): string {
    return template.replace(/\{([^}]+)\}/g, (_, name: string) => params[name] || "-");
}

export class AccessControl {
    readonly users = new Map<string, UserRecord>();
    readonly groups = new Map<string, { users: Set<string>; comment?: string }>();
    readonly roles = new Map<string, Set<string>>();
    private readonly acl = new Map<string, AclNode>();
    private readonly specialRoles: ReadonlyMap<string, ReadonlySet<string>>;
    readonly validPrivileges: ReadonlySet<string>;
    private signingKey = randomBytes(32);

    constructor(
        readonly major: PveMajor,
        /** The simulator's clock, in seconds since the epoch. */
        private readonly now: () => number,
    ) {
        this.specialRoles = specialRolesFor(major);
        this.validPrivileges = privilegesFor(major);
        for (const [name, privs] of this.specialRoles) this.roles.set(name, new Set(privs));
    }

    isSpecialRole(role: string): boolean {
        return this.specialRoles.has(role);
    }

    // -----------------------------------------------------------------------------------------------------
    // users and secrets

    addUser(userid: string, fields: Partial<Omit<UserRecord, "groups" | "tokens">> = {}): UserRecord {
        const user: UserRecord = { enable: true, expire: 0, groups: new Set(), tokens: new Map(), ...fields };
        this.users.set(userid, user);
        return user;
    }

    setPassword(userid: string, password: string): void {
        const user = this.users.get(userid);
        if (user) user.passwordHash = hashSecret(password);
    }

    /** PVE::AccessControl::check_user_exist. */
    checkUserExist(userid: string): UserRecord {
        let name: string;
        try {
            [name] = verifyUsername(userid);
        } catch (error) {
            throw fail(error instanceof Error ? error.message : String(error));
        }
        const user = this.users.get(name);
        if (!user) throw fail(`no such user ('${name}')`);
        return user;
    }

    /** PVE::AccessControl::check_user_enabled. */
    checkUserEnabled(userid: string): UserRecord {
        const user = this.checkUserExist(userid);
        if (!user.enable) throw fail(`user '${userid}' is disabled`);
        if (user.expire && user.expire < this.now()) throw fail(`user '${userid}' access expired`);
        return user;
    }

    /** A new API token; returns the secret, which the simulator never stores. */
    createToken(
        userid: string,
        tokenid: string,
        opts: { privsep?: boolean; expire?: number; comment?: string; secret?: string } = {},
    ): string {
        const user = this.checkUserExist(userid);
        // `secret`: only for the simulator's own seeding (a standalone simulator keeps its token across restarts).
        const secret = opts.secret ?? randomUUID();
        const record: TokenRecord = {
            privsep: opts.privsep ?? true,
            expire: opts.expire ?? 0,
            secretHash: hashSecret(secret),
        };
        if (opts.comment) record.comment = opts.comment;
        user.tokens.set(tokenid, record);
        return secret;
    }

    /** Removes a token and the ACL entries that name it. */
    deleteToken(userid: string, tokenid: string): void {
        this.users.get(userid)?.tokens.delete(tokenid);
        const full = `${userid}!${tokenid}`;
        for (const node of this.acl.values()) node.tokens.delete(full);
    }

    /** Removes a user with its tokens, group memberships and ACL entries. */
    deleteUser(userid: string): void {
        const user = this.users.get(userid);
        for (const tokenid of user?.tokens.keys() ?? []) this.deleteToken(userid, tokenid);
        this.users.delete(userid);
        for (const group of this.groups.values()) group.users.delete(userid);
        for (const node of this.acl.values()) node.users.delete(userid);
    }

    /** Password login (PVE::AccessControl::authenticate_user); any failure is `authentication failure`. */
    authenticate(userid: string, password: string): boolean {
        try {
            this.checkUserEnabled(userid);
        } catch {
            return false;
        }
        return secretMatches(password, this.users.get(userid)?.passwordHash);
    }

    /**
     * Verifies an `Authorization: PVEAPIToken=` value (PVE::AccessControl::verify_token): the token id is
     * everything before the LAST `=`. Returns the acting id `user@realm!token`.
     */
    verifyApiToken(value: string): string {
        const match = /^(.*)=(.*)$/s.exec(value);
        if (!match) throw authError("no tokenid specified");
        const [, tokenid, secret] = match;
        const split = splitTokenid(tokenid);
        if (!split)
            throw authError(`'${tokenid}' is not a valid token ID - not able to split into user and token parts`);
        const [userid, token] = split;
        try {
            this.checkUserEnabled(userid);
        } catch (error) {
            throw authError(error instanceof Error ? error.message : String(error));
        }
        const record = this.users.get(userid)?.tokens.get(token);
        if (!record) throw authError(`no such token '${token}' for user '${userid}'`);
        if (record.expire && record.expire < this.now()) throw authError(`token '${token}' access expired`);
        if (!secretMatches(secret, record.secretHash)) throw authError("invalid token value!");
        return tokenid;
    }

    // -----------------------------------------------------------------------------------------------------
    // tickets and CSRF tokens (PVE::Ticket, with an HMAC instead of PVE's RSA signature)

    private sign(data: string): string {
        return createHmac("sha256", this.signingKey).update(data).digest("base64").replace(/=+$/, "");
    }

    private timestamp(): string {
        return Math.floor(this.now()).toString(16).toUpperCase().padStart(8, "0");
    }

    issueTicket(userid: string): { ticket: string; csrf: string } {
        const plain = `PVE:${userid}:${this.timestamp()}`;
        return { ticket: `${plain}::${this.sign(plain)}`, csrf: this.csrfToken(userid) };
    }

    csrfToken(userid: string): string {
        const ts = this.timestamp();
        return `${ts}:${this.sign(`${ts}:${userid}`)}`;
    }

    private ageOk(hexTime: string): boolean {
        const age = this.now() - parseInt(hexTime, 16);
        return age > -AUTH_GRACE && age < TICKET_LIFETIME;
    }

    /** Returns the ticket's user; `permission denied - invalid PVE ticket` (401) otherwise. */
    verifyTicket(ticket: string): string {
        const match = /^(PVE:\S+)::([^:\s]+)$/.exec(ticket);
        if (match && this.sign(match[1]) === match[2]) {
            const plain = /^PVE:(?:(\S+):)?([A-Z0-9]{8})$/.exec(match[1]);
            if (plain?.[1] && this.ageOk(plain[2])) {
                try {
                    this.checkUserEnabled(plain[1]);
                    return plain[1];
                } catch {
                    // A disabled or deleted user's ticket is as invalid as a forged one.
                }
            }
        }
        throw authError("permission denied - invalid PVE ticket");
    }

    verifyCsrf(userid: string, token: string | undefined): void {
        const match = /^([A-Z0-9]{8}):(\S+)$/.exec(token ?? "");
        if (match && this.sign(`${match[1]}:${userid}`) === match[2] && this.ageOk(match[1])) return;
        throw authError("Permission denied - invalid csrf token");
    }

    /** Invalidates every ticket and CSRF token issued so far (like an auth key rotation without grace). */
    rotateTicketKey(): void {
        this.signingKey = randomBytes(32);
    }

    // -----------------------------------------------------------------------------------------------------
    // ACLs

    private aclNode(path: string): AclNode {
        let node = this.acl.get(path);
        if (!node) this.acl.set(path, (node = { users: new Map(), groups: new Map(), tokens: new Map() }));
        return node;
    }

    grant(path: string, kind: "users" | "groups" | "tokens", ugid: string, role: string, propagate: boolean): void {
        const entries = this.aclNode(path)[kind];
        let roles = entries.get(ugid);
        if (!roles) entries.set(ugid, (roles = new Map()));
        roles.set(role, propagate);
    }

    revoke(path: string, kind: "users" | "groups" | "tokens", ugid: string, role: string): void {
        this.acl.get(path)?.[kind].get(ugid)?.delete(role);
    }

    /** Drops every ACL entry on `path` (what `purge` does for a destroyed guest). */
    removeAclPath(path: string): void {
        this.acl.delete(path);
    }

    listAcl(): AclEntry[] {
        const result: AclEntry[] = [];
        const kinds: [keyof AclNode, AclEntry["type"]][] = [
            ["users", "user"],
            ["groups", "group"],
            ["tokens", "token"],
        ];
        for (const path of [...this.acl.keys()].sort()) {
            const node = this.acl.get(path);
            if (!node) continue;
            for (const [kind, type] of kinds) {
                for (const [ugid, roles] of node[kind]) {
                    for (const [roleid, propagate] of roles) {
                        result.push({ path, type, ugid, roleid, propagate: propagate ? 1 : 0 });
                    }
                }
            }
        }
        return result;
    }

    definedAclPaths(): string[] {
        return [...this.acl.keys()];
    }

    // -----------------------------------------------------------------------------------------------------
    // permission evaluation

    /** PVE::AccessControl::roles (pools are not modelled). */
    private rolesFor(user: string, path: string): Map<string, boolean> {
        if (user === "root@pam") return new Map([["Administrator", true]]);
        const split = splitTokenid(user);
        if (split) {
            const info = this.users.get(split[0])?.tokens.get(split[1]);
            if (!info) return new Map();
            if (!info.privsep) return this.rolesFor(split[0], path);
        }
        let roles = new Map<string, boolean>();
        const parts = path === "/" ? [""] : path.split("/");
        let prefix = "";
        parts.forEach((part, index) => {
            const final = index === parts.length - 1;
            if (part !== "") prefix = `${prefix}/${part}`;
            const node = this.acl.get(prefix === "" ? "/" : prefix);
            const apply = (assigned: Map<string, boolean> | undefined, into: Map<string, boolean>): boolean => {
                let any = false;
                for (const [role, propagate] of assigned ?? []) {
                    if (final || propagate) {
                        into.set(role, propagate);
                        any = true;
                    }
                }
                return any;
            };
            const fromToken = new Map<string, boolean>();
            if (apply(node?.tokens.get(user), fromToken)) {
                roles = fromToken;
                return;
            }
            const fromUser = new Map<string, boolean>();
            if (apply(node?.users.get(user), fromUser)) {
                roles = fromUser;
                return;
            }
            const fromGroups = new Map<string, boolean>();
            let any = false;
            for (const [group, assigned] of node?.groups ?? []) {
                if (!this.groups.get(group)?.users.has(user)) continue;
                any = apply(assigned, fromGroups) || any;
            }
            if (any) roles = fromGroups;
        });
        if (roles.has("NoAccess")) return new Map([["NoAccess", roles.get("NoAccess") ?? false]]);
        return roles;
    }

    private privsOfRoles(roles: Map<string, boolean>): Map<string, boolean> {
        const privs = new Map<string, boolean>();
        for (const [role, propagate] of roles) {
            for (const priv of this.roles.get(role) ?? []) privs.set(priv, (privs.get(priv) ?? false) || propagate);
        }
        return privs;
    }

    /** RPCEnvironment::permissions: privilege → propagate flag; privsep tokens get token ∩ user. */
    permissions(user: string, path: string): Map<string, boolean> {
        if (user === "root@pam") return new Map([...(this.roles.get("Administrator") ?? [])].map((p) => [p, true]));
        const split = splitTokenid(user);
        if (split) {
            const info = this.users.get(split[0])?.tokens.get(split[1]);
            if (!info) return new Map();
            const userPrivs = this.permissions(split[0], path);
            if (!info.privsep) return userPrivs;
            const tokenPrivs = this.privsOfRoles(this.rolesFor(user, path));
            const result = new Map<string, boolean>();
            for (const [priv, propagate] of tokenPrivs) {
                if (userPrivs.has(priv)) result.set(priv, propagate && (userPrivs.get(priv) ?? false));
            }
            return result;
        }
        return this.privsOfRoles(this.rolesFor(user, path));
    }

    private verifyPrivname(priv: string): void {
        if (!this.validPrivileges.has(priv)) throw fail(`invalid privilege '${priv}'`);
    }

    /** RPCEnvironment::check: every privilege, else 403 `Permission check failed (<path>, <priv>)`. */
    check(user: string, path: string, privs: readonly string[], noerr = false): boolean {
        const perms = this.permissions(user, path);
        for (const priv of privs) {
            this.verifyPrivname(priv);
            if (!perms.has(priv)) {
                if (noerr) return false;
                throw permError(`${path}, ${priv}`);
            }
        }
        return true;
    }

    /** RPCEnvironment::check_any. */
    checkAny(user: string, path: string, privs: readonly string[], noerr = false): boolean {
        const perms = this.permissions(user, path);
        for (const priv of privs) this.verifyPrivname(priv);
        if (privs.some((priv) => perms.has(priv))) return true;
        if (noerr) return false;
        throw permError(`${path}, ${privs.join("|")}`);
    }

    /** RPCEnvironment::check_perm_modify. */
    checkPermModify(user: string, path: string | undefined, noerr = false): boolean {
        if (!path) return this.check(user, "/access", ["Permissions.Modify"], noerr);
        const privs = ["Permissions.Modify"];
        if (/^\/storage\/.+$/.test(path)) privs.push("Datastore.Allocate");
        else if (/^\/vms\/.+$/.test(path)) privs.push("VM.Allocate");
        else if (/^\/pool\/.+$/.test(path)) privs.push("Pool.Allocate");
        return this.checkAny(user, path, privs, noerr);
    }

    private filterGroups(user: string, privs: readonly string[]): Set<string> {
        const result = new Set<string>();
        for (const group of this.groups.keys()) {
            if (this.checkAny(user, `/access/groups/${group}`, privs, true)) result.add(group);
        }
        return result;
    }

    /** RPCEnvironment::exec_api2_perm_check over the schema's prefix notation. */
    execPermCheck(check: PermCheck, user: string, params: Readonly<Record<string, string>>, noerr = false): boolean {
        const [test, ...rest] = check;
        if (test === "and") {
            for (const sub of rest) this.execPermCheck(sub as PermCheck, user, params);
            return true;
        }
        if (test === "or") {
            for (const sub of rest) if (this.execPermCheck(sub as PermCheck, user, params, true)) return true;
            if (noerr) return false;
            throw permError();
        }
        const options = (list: readonly unknown[]): Record<string, unknown> => {
            const result: Record<string, unknown> = {};
            for (let i = 0; i + 1 < list.length; i += 2) result[String(list[i])] = list[i + 1];
            return result;
        };
        if (test === "perm") {
            const [template, privs, ...opts] = rest as [string, string[], ...unknown[]];
            const option = options(opts);
            const required = option.require_param;
            if (typeof required === "string" && params[required] === undefined) {
                if (noerr) return false;
                throw permError();
            }
            const path = normalizeAclPath(templateReplace(template, params)) ?? templateReplace(template, params);
            return option.any ? this.checkAny(user, path, privs, noerr) : this.check(user, path, privs, noerr);
        }
        if (test === "userid-group") {
            const [privs, ...opts] = rest as [string[], ...unknown[]];
            const option = options(opts);
            const userid = params.userid ?? "";
            const checkExisting = option.groups_param !== "create";
            if (checkExisting) {
                if (noerr) {
                    if (!this.users.has(userid)) return false;
                } else {
                    this.checkUserExist(userid);
                }
            }
            if (!this.checkAny(user, "/access/groups", privs, true)) {
                const groups = this.filterGroups(user, privs);
                if (option.groups_param) {
                    const wanted = splitList(params.groups);
                    if (wanted.length === 0) throw permError(`/access/groups, ${privs.join("|")}`);
                    for (const group of wanted) {
                        if (!groups.has(group)) throw permError(`/access/groups/${group}, ${privs.join("|")}`);
                    }
                }
                if (checkExisting) {
                    const allowed = [...groups].some((group) => this.groups.get(group)?.users.has(userid));
                    if (!allowed) {
                        if (noerr) return false;
                        throw permError();
                    }
                }
            }
            return true;
        }
        if (test === "userid-param") {
            let userid: string;
            let realm: string;
            try {
                [userid, , realm] = verifyUsername(params.userid ?? "");
            } catch (error) {
                throw fail(error instanceof FormatError ? error.message : String(error));
            }
            const subtest = rest[0];
            if (subtest === "self") {
                if (!this.users.has(userid)) {
                    if (noerr) return false;
                    throw fail(`no such user ('${userid}')`);
                }
                if (user === userid) return true;
                if (noerr) return false;
                throw permError();
            }
            return this.check(user, `/access/realm/${realm}`, ["Realm.AllocateUser"], noerr);
        }
        if (test === "perm-modify") {
            const path = normalizeAclPath(templateReplace(String(rest[0]), params));
            if (path === undefined) return false;
            return this.checkPermModify(user, path, noerr);
        }
        throw fail("unknown permission test");
    }

    /** RPCEnvironment::check_api2_permissions. */
    checkApiPermissions(
        spec: PermissionSpec | undefined,
        user: string | undefined,
        params: Readonly<Record<string, string>>,
    ): void {
        if (!user && spec?.user === "world") return;
        if (!user) throw permError("user != null");
        if (user === "root@pam") return;
        if (!spec) throw permError("user != root@pam");
        if (spec.user === "all") return;
        if (spec.check) {
            this.execPermCheck(spec.check, user, params);
            return;
        }
        throw permError();
    }

    /** RPCEnvironment::compute_api_permission: the `cap` of a ticket response. */
    computeCap(user: string): Record<string, Record<string, 1>> {
        const patterns: Record<string, RegExp> = {
            vms: /^(VM\.|Permissions\.Modify)/,
            access: /^((User|Group)\.|Permissions\.Modify)/,
            storage: /^(Datastore\.|Permissions\.Modify)/,
            nodes: /^(Sys\.|Permissions\.Modify)/,
            sdn: /^(SDN\.|Permissions\.Modify)/,
            dc: /^(Sys\.Audit|Sys\.Modify|SDN\.)/,
            mapping: /^(Mapping\.|Permissions.Modify)/,
        };
        const cap: Record<string, Record<string, 1>> = {};
        for (const key of Object.keys(patterns)) cap[key] = {};
        const paths = new Set([
            "/",
            "/nodes",
            "/access/groups",
            "/vms",
            "/storage",
            "/sdn",
            "/mapping",
            ...this.acl.keys(),
        ]);
        for (const path of paths) {
            const top = /^\/(\w+)/.exec(path)?.[1] ?? "dc";
            const perms = this.permissions(user, path);
            for (const priv of perms.keys()) {
                if (top === "pool") {
                    if (priv.startsWith("VM.")) cap.vms[priv] = 1;
                    else if (priv.startsWith("Datastore.")) cap.storage[priv] = 1;
                    else if (priv === "Permissions.Modify") cap.storage[priv] = cap.vms[priv] = 1;
                } else if (patterns[top]?.test(priv)) {
                    cap[top][priv] = 1;
                }
            }
        }
        return cap;
    }
}
