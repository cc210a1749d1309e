/**
 * PVE's privilege set and built-in roles (pve-access-control AccessControl.pm $privgroups/create_roles),
 * for PVE 8 and PVE 9. PVE 9 replaced VM.Monitor with the VM.GuestAgent.* privileges (and lists
 * VM.Replicate); the PVE 9.1 list below is the one the official 9.1 API schema enumerates.
 */

export type PveMajor = 8 | 9;

interface PrivGroup {
    root: string[];
    admin: string[];
    user: string[];
    audit: string[];
}

function privGroups(major: PveMajor): Record<string, PrivGroup> {
    const vmAdmin = [
        "VM.Config.Disk",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.HWType",
        "VM.Config.Options",
        "VM.Allocate",
        "VM.Clone",
        "VM.Migrate",
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
    ];
    const vmUser = ["VM.Config.CDROM", "VM.Config.Cloudinit", "VM.Console", "VM.Backup", "VM.PowerMgmt"];
    if (major === 8) {
        vmAdmin.push("VM.Monitor");
    } else {
        vmAdmin.push(
            "VM.Replicate",
            "VM.GuestAgent.FileRead",
            "VM.GuestAgent.FileWrite",
            "VM.GuestAgent.FileSystemMgmt",
            "VM.GuestAgent.Unrestricted",
        );
        vmUser.push("VM.GuestAgent.Audit");
    }
    return {
        VM: { root: [], admin: vmAdmin, user: vmUser, audit: ["VM.Audit"] },
        Sys: {
            root: ["Sys.PowerMgmt", "Sys.Modify", "Sys.Incoming", "Sys.AccessNetwork"],
            admin: ["Sys.Console", "Sys.Syslog"],
            user: [],
            audit: ["Sys.Audit"],
        },
        Datastore: {
            root: [],
            admin: ["Datastore.Allocate", "Datastore.AllocateTemplate"],
            user: ["Datastore.AllocateSpace"],
            audit: ["Datastore.Audit"],
        },
        SDN: { root: [], admin: ["SDN.Allocate", "SDN.Audit"], user: ["SDN.Use"], audit: ["SDN.Audit"] },
        User: {
            root: ["Realm.Allocate"],
            admin: ["User.Modify", "Group.Allocate", "Realm.AllocateUser"],
            user: [],
            audit: [],
        },
        Pool: { root: [], admin: ["Pool.Allocate"], user: ["Pool.Audit"], audit: ["Pool.Audit"] },
        Mapping: { root: [], admin: ["Mapping.Modify"], user: ["Mapping.Use"], audit: ["Mapping.Audit"] },
    };
}

/** Every valid privilege name of a PVE major version. */
export function privilegesFor(major: PveMajor): ReadonlySet<string> {
    const privs = new Set<string>(["Permissions.Modify"]);
    for (const group of Object.values(privGroups(major))) {
        for (const priv of [...group.root, ...group.admin, ...group.user, ...group.audit]) privs.add(priv);
    }
    return privs;
}

/** The built-in ("special") roles: NoAccess, Administrator, PVEAdmin, PVE<Cat>Admin/User, PVEAuditor, ... */
export function specialRolesFor(major: PveMajor): ReadonlyMap<string, ReadonlySet<string>> {
    const roles = new Map<string, Set<string>>();
    const role = (name: string): Set<string> => {
        let set = roles.get(name);
        if (!set) roles.set(name, (set = new Set()));
        return set;
    };
    role("NoAccess");
    const admin = role("Administrator");
    for (const priv of privilegesFor(major)) admin.add(priv);
    for (const [cat, group] of Object.entries(privGroups(major))) {
        for (const priv of [...group.admin, ...group.user, ...group.audit]) {
            role(`PVE${cat}Admin`).add(priv);
            role("PVEAdmin").add(priv);
        }
        if (group.user.length > 0) {
            for (const priv of [...group.user, ...group.audit]) role(`PVE${cat}User`).add(priv);
        }
        for (const priv of group.audit) role("PVEAuditor").add(priv);
    }
    // PVE keeps Mapping.Modify out of PVEAdmin (only Administrator and PVEMappingAdmin have it).
    role("PVEAdmin").delete("Mapping.Modify");
    const templateUser = role("PVETemplateUser");
    templateUser.add("VM.Clone");
    templateUser.add("VM.Audit");
    return roles;
}
