/**
 * Input schemas of every dynamic resource, checked in the provider's `check` (so bad input stops the run
 * before anything is created) and again, fully known, before create/update. Messages state the rule and the
 * value, the property path is added by `checkInputs`.
 */
import { z } from "zod";

const nodeName = z
    .string()
    .regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/, "must be a PVE node name (letters, digits, '-')");
const vmid = z
    .number({ message: "must be a number" })
    .int("must be an integer")
    .min(100, "must be ≥ 100 (PVE reserves lower ids)")
    .max(999999999, "must be ≤ 999999999");
const ipv4 = z
    .string()
    .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/, "must be an IPv4 address");
const ipv4Cidr = z
    .string()
    .regex(
        /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/([0-9]|[12]\d|3[0-2])$/,
        "must be an IPv4 address with prefix, e.g. 10.100.0.1/24",
    );
const hwaddr = z
    .string()
    .regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, "must be a MAC address like BC:24:11:00:00:01")
    .refine((s) => (parseInt(s.slice(0, 2), 16) & 1) === 0, "must be a unicast MAC (first octet even)");
const storageId = z.string().regex(/^[a-zA-Z][a-zA-Z0-9\-_.]*$/, "must be a PVE storage id");
const absPath = z
    .string()
    .regex(/^\//, "must be an absolute path")
    .refine((p) => !p.includes("\0"), "must not contain NUL")
    .refine((p) => !p.split("/").some((s) => s === ".." || s === "."), "must not contain '.' or '..' segments")
    .refine((p) => p.length > 1 && !p.endsWith("/"), "must name a file, not a directory");
const octalMode = z.string().regex(/^0?[0-7]{3,4}$/, "must be an octal mode like 0644");
const posixName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}\$?$/, "must be a user/group name like root or www-data");

/** `a.b.c.d` as a 32-bit number. */
function ipv4Number(ip: string): number {
    return ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

export const bridgeSchema = z
    .object({
        node: nodeName,
        name: z
            .string()
            .regex(/^[a-z][a-z0-9_]{1,20}$/, "must match PVE's iface pattern ^[a-z][a-z0-9_]{1,20}$ (e.g. vmbr1)"),
        cidr: ipv4Cidr.optional(),
        gateway: ipv4.optional(),
        ports: z.array(z.string().regex(/^[a-zA-Z0-9_.:-]+$/, "must be an interface name")).default([]),
        vlanAware: z.boolean().default(false),
        vids: z
            .string()
            .regex(/^\d+(-\d+)?( \d+(-\d+)?)*$/, "must be VLAN ids like '2-4094' or '10 20'")
            .optional(),
        mtu: z
            .number({ message: "must be a number" })
            .int("must be an integer")
            .min(1280, "must be ≥ 1280")
            .max(65520, "must be ≤ 65520")
            .optional(),
        autostart: z.boolean().default(true),
        comments: z.string().max(4096, "must be at most 4096 characters").optional(),
        applyUnrelatedPendingChanges: z.boolean().default(false),
    })
    .superRefine((b, ctx) => {
        // PVE writes bridge-vids only for a VLAN-aware bridge: anything else would be silently dropped.
        if (b.vids !== undefined && !b.vlanAware) {
            ctx.addIssue({
                code: "custom",
                path: ["vids"],
                message: "only applies to a VLAN-aware bridge (set vlanAware: true)",
            });
        }
        // Only when both are valid addresses: format problems (or preview's unknowns) are reported elsewhere.
        if (b.gateway === undefined || !ipv4.safeParse(b.gateway).success) return;
        if (b.cidr === undefined) {
            ctx.addIssue({
                code: "custom",
                path: ["gateway"],
                message: "needs cidr: the bridge must have an address in the gateway's subnet",
            });
            return;
        }
        if (!ipv4Cidr.safeParse(b.cidr).success) return;
        const [address, bits] = b.cidr.split("/");
        const mask = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
        if ((ipv4Number(address) & mask) >>> 0 !== (ipv4Number(b.gateway) & mask) >>> 0) {
            ctx.addIssue({
                code: "custom",
                path: ["gateway"],
                message: `must lie in the subnet of cidr ${b.cidr}, got ${b.gateway}`,
            });
        }
    });
export type BridgeInputs = z.output<typeof bridgeSchema>;

export const lxcNetworkSchema = z.object({
    name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,14}$/, "must be an interface name like eth0"),
    bridge: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_.-]{0,20}$/, "must be a bridge name like vmbr0"),
    ip: z.union([z.literal("dhcp"), z.literal("manual"), ipv4Cidr]).default("dhcp"),
    gw: ipv4.optional(),
    ip6: z.string().optional(),
    gw6: z.string().optional(),
    hwaddr: hwaddr.optional(),
    firewall: z.boolean().default(true),
    mtu: z.number().int().min(64).max(65535).optional(),
    tag: z.number().int().min(1, "must be 1..4094").max(4094, "must be 1..4094").optional(),
    rate: z.number().min(0).optional(),
});
export type LxcNetworkInputs = z.output<typeof lxcNetworkSchema>;

export const lxcSchema = z
    .object({
        node: nodeName,
        vmid: vmid.optional(),
        hostname: z
            .string()
            .regex(
                /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/,
                "must be a DNS name",
            ),
        ostemplate: z
            .string()
            .regex(/^[a-zA-Z][a-zA-Z0-9\-_.]*:vztmpl\/.+$/, "must be a template volid like local:vztmpl/<file>"),
        cores: z.number().int().min(1, "must be ≥ 1").max(8192).default(1),
        memory: z.number().int().min(16, "must be ≥ 16 MiB").default(512),
        swap: z.number().int().min(0, "must be ≥ 0").default(512),
        rootfs: z.object({
            storage: storageId,
            sizeGiB: z.number().int("must be a whole number of GiB").min(1, "must be ≥ 1 GiB"),
        }),
        networks: z.array(lxcNetworkSchema).max(32, "PVE allows at most 32 NICs (net0..net31)").default([]),
        features: z
            .object({
                nesting: z.boolean().optional(),
                keyctl: z.boolean().optional(),
                fuse: z.boolean().optional(),
                mount: z.array(z.string().regex(/^[a-z0-9]+$/, "must be a filesystem type like nfs")).optional(),
            })
            .default({}),
        unprivileged: z.boolean().default(true),
        onboot: z.boolean().default(true),
        startup: z
            .string()
            .regex(/^(order=\d+|up=\d+|down=\d+)(,(order=\d+|up=\d+|down=\d+))*$/, "must be like order=1,up=30")
            .optional(),
        nameserver: z.string().optional(),
        searchdomain: z.string().optional(),
        tags: z
            .array(z.string().regex(/^[a-zA-Z0-9_][a-zA-Z0-9_\-+.]*$/, "must be a PVE tag ([a-z0-9_][a-z0-9_-+.]*)"))
            .default([]),
        description: z.string().max(8192).optional(),
        rootPassword: z.string().min(5, "must be at least 5 characters (PVE's rule)").optional(),
        sshPublicKeys: z.string().optional(),
        pool: z.string().optional(),
        started: z.boolean().default(true),
        rebootOnPendingChanges: z.boolean().default(true),
        addressTimeoutSeconds: z.number().min(0).max(3600).default(60),
        ownerTag: z.string().regex(/^[a-z0-9_][a-z0-9_\-+.]*$/, "must be a lowercase PVE tag"),
    })
    .superRefine((v, ctx) => {
        const names = new Set<string>();
        v.networks.forEach((n, i) => {
            if (names.has(n.name))
                ctx.addIssue({
                    code: "custom",
                    path: ["networks", i, "name"],
                    message: `duplicate interface name ${n.name}`,
                });
            names.add(n.name);
            if (n.gw && !/\//.test(n.ip))
                ctx.addIssue({ code: "custom", path: ["networks", i, "gw"], message: "a gateway needs a static ip" });
        });
    });
export type LxcInputs = z.output<typeof lxcSchema>;

export const templateSchema = z.object({
    node: nodeName,
    storage: storageId.default("local"),
    template: z
        .string()
        .regex(
            /^[a-zA-Z0-9][a-zA-Z0-9._+-]*\.tar\.(gz|xz|zst)$/,
            "must be a template file name like debian-13-standard_13.1-2_amd64.tar.zst",
        ),
    retainOnDelete: z.boolean().default(true),
});
export type TemplateInputs = z.output<typeof templateSchema>;

export const fileSchema = z.object({
    node: nodeName,
    vmid: vmid.optional(),
    path: absPath,
    content: z.string(),
    mode: octalMode.default("0644"),
    owner: posixName.default("root"),
    group: posixName.optional(),
    retainOnDelete: z.boolean().default(false),
});
export type FileInputs = z.output<typeof fileSchema>;

export const execSchema = z.object({
    node: nodeName,
    vmid: vmid.optional(),
    create: z.string().min(1, "must not be empty"),
    update: z.string().optional(),
    delete: z.string().optional(),
    triggers: z.array(z.unknown()).default([]),
    environment: z
        .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a shell variable name"), z.string())
        .default({}),
    stdin: z.string().optional(),
    timeoutSeconds: z.number().min(1).max(86400).default(600),
    outputLimit: z.number().int().min(0).max(1048576).default(4096),
});
export type ExecInputs = z.output<typeof execSchema>;

const privilege = z.string().regex(/^[A-Z][A-Za-z]*(\.[A-Za-z]+)+$/, "must be a PVE privilege like VM.Audit");
export const roleSchema = z.object({
    roleId: z
        .string()
        .regex(/^[A-Za-z0-9.\-_]+$/, "must be letters, digits, '.', '-', '_'")
        .refine((s) => !s.startsWith("PVE"), "must not start with 'PVE' (reserved for built-in roles)"),
    privileges: z.array(privilege).min(1, "must list at least one privilege"),
    pve8Privileges: z.array(privilege).default([]),
    pve9Privileges: z.array(privilege).default([]),
});
export type RoleInputs = z.output<typeof roleSchema>;

const userId = z.string().regex(/^[^\s:/@]+@[A-Za-z][A-Za-z0-9.\-_]+$/, "must be name@realm, e.g. proxbox@pve");
export const userSchema = z.object({
    userId,
    comment: z.string().optional(),
    enable: z.boolean().default(true),
});
export type UserInputs = z.output<typeof userSchema>;

export const aclSchema = z
    .object({
        path: z.string().regex(/^\/[A-Za-z0-9.\-_/]*$/, "must be an ACL path like / or /vms/100"),
        roleId: z.string().min(1),
        userId: userId.optional(),
        tokenId: z
            .string()
            .regex(/^[^\s:/@]+@[A-Za-z][A-Za-z0-9.\-_]+![A-Za-z][A-Za-z0-9.\-_]+$/, "must be name@realm!tokenid")
            .optional(),
        propagate: z.boolean().default(true),
    })
    .refine((a) => (a.userId === undefined) !== (a.tokenId === undefined), {
        message: "exactly one of userId and tokenId must be set",
        path: ["userId"],
    });
export type AclInputs = z.output<typeof aclSchema>;

export const apiTokenSchema = z.object({
    userId,
    tokenName: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9.\-_]+$/, "must match PVE's token id pattern [A-Za-z][A-Za-z0-9.-_]+"),
    privsep: z.boolean().default(true),
    comment: z.string().optional(),
    expire: z.number().int().min(0).default(0),
});
export type ApiTokenInputs = z.output<typeof apiTokenSchema>;
