/**
 * `/nodes/{node}/network`: the node's /etc/network/interfaces. As in pve-manager API2/Network.pm, every
 * change is staged in interfaces.new (visible to GET at once, with a `changes` diff), `PUT .../network`
 * applies ALL staged changes as a `srvreload` task (ifreload -a → backend.applyBridges), `DELETE .../network`
 * throws them away.
 */
import { splitList } from "../../providers/proxmox/propstrings";
import { Envelope, type HandlerContext, type HandlerTable } from "./api";
import { paramError } from "./errors";
import type { NetIface, SimState } from "./state";

const IFACE_LOCK_TIMEOUT_MS = 10_000;

/** Keys the create/update API accepts that are stored as given. */
const STORED_KEYS = [
    "type",
    "comments",
    "comments6",
    "autostart",
    "bridge_vlan_aware",
    "bridge_ports",
    "bridge_vids",
    "ovs_ports",
    "ovs_tag",
    "ovs_options",
    "ovs_bridge",
    "slaves",
    "ovs_bonds",
    "bond_mode",
    "bond_xmit_hash_policy",
    "bond-primary",
    "gateway",
    "gateway6",
    "mtu",
    "vlan-id",
    "vlan-raw-device",
];

function netmaskBits(mask: string): string {
    if (/^\d+$/.test(mask)) return mask;
    const bits = mask
        .split(".")
        .map((octet) => Number(octet).toString(2).padStart(8, "0"))
        .join("");
    return String(bits.replace(/0+$/, "").length);
}

function cloneConfig(config: Map<string, NetIface>): Map<string, NetIface> {
    const copy = new Map<string, NetIface>();
    for (const [name, iface] of config) {
        const entry: NetIface = {};
        for (const [key, value] of Object.entries(iface)) entry[key] = Array.isArray(value) ? [...value] : value;
        copy.set(name, entry);
    }
    return copy;
}

/** $map_cidr_to_address_netmask plus the families/method bookkeeping of create/update_network. */
function applyAddressParams(iface: NetIface, params: Record<string, string>): void {
    if (params.cidr !== undefined) {
        if (params.address !== undefined) throw paramError({ address: "address conflicts with cidr" });
        if (params.netmask !== undefined) throw paramError({ netmask: "netmask conflicts with cidr" });
        const [address, bits] = params.cidr.split("/");
        iface.address = address;
        iface.netmask = bits;
    } else if (params.address !== undefined) {
        iface.address = params.address;
        iface.netmask = netmaskBits(params.netmask ?? "32");
    }
    if (params.cidr6 !== undefined) {
        if (params.address6 !== undefined) throw paramError({ address6: "address6 conflicts with cidr6" });
        if (params.netmask6 !== undefined) throw paramError({ netmask6: "netmask6 conflicts with cidr6" });
        const [address6, bits6] = params.cidr6.split("/");
        iface.address6 = address6;
        iface.netmask6 = bits6;
    } else if (params.address6 !== undefined) {
        iface.address6 = params.address6;
        iface.netmask6 = params.netmask6 ?? "128";
    }
    if (iface.address !== undefined) iface.cidr = `${iface.address}/${iface.netmask}`;
    else delete iface.cidr;
    if (iface.address6 !== undefined) iface.cidr6 = `${iface.address6}/${iface.netmask6}`;
    else delete iface.cidr6;
    const families: string[] = [];
    if (iface.address !== undefined) families.push("inet");
    if (iface.address6 !== undefined) families.push("inet6");
    iface.families = families.length > 0 ? families : ["inet"];
    iface.method = iface.address !== undefined ? "static" : "manual";
    iface.method6 = iface.address6 !== undefined ? "static" : "manual";
}

function checkDuplicateGateway(config: Map<string, NetIface>, iface: string, key: "gateway" | "gateway6"): void {
    const name = key === "gateway" ? "Default gateway" : "Default ipv6 gateway";
    for (const [other, data] of config) {
        if (other !== iface && data[key])
            throw paramError({ [key]: `${name} already exists on interface '${other}'.` });
    }
}

function storeParams(iface: NetIface, params: Record<string, string>): void {
    for (const key of STORED_KEYS) {
        const value = params[key];
        if (value === undefined) continue;
        iface[key] = key === "autostart" || key === "bridge_vlan_aware" ? Number(value) : value;
    }
    if (iface.type === "bridge" && iface.bridge_vlan_aware === 1 && iface.bridge_vids === undefined) {
        iface.bridge_vids = "2-4094";
    }
}

/** The interfaces file PVE would write (for the `changes` diff). */
export function renderInterfaces(config: Map<string, NetIface>): string {
    const order = (iface: NetIface): number =>
        iface.type === "eth" ? 0 : iface.type === "bond" ? 1 : iface.type === "bridge" ? 2 : 3;
    const names = [...config.keys()].sort((a, b) => {
        const ia = config.get(a) ?? {};
        const ib = config.get(b) ?? {};
        return order(ia) - order(ib) || (a < b ? -1 : a > b ? 1 : 0);
    });
    let text = "auto lo\niface lo inet loopback\n";
    for (const name of names) {
        const iface = config.get(name) ?? {};
        text += "\n";
        if (iface.autostart === 1) text += `auto ${name}\n`;
        text += `iface ${name} inet ${iface.method ?? "manual"}\n`;
        if (iface.cidr) text += `\taddress ${iface.cidr}\n`;
        if (iface.gateway) text += `\tgateway ${iface.gateway}\n`;
        if (iface.mtu) text += `\tmtu ${iface.mtu}\n`;
        if (iface.type === "bridge") {
            text += `\tbridge-ports ${iface.bridge_ports || "none"}\n`;
            text += `\tbridge-stp ${iface.bridge_stp ?? "off"}\n`;
            text += `\tbridge-fd ${iface.bridge_fd ?? "0"}\n`;
            if (iface.bridge_vlan_aware === 1) {
                text += "\tbridge-vlan-aware yes\n";
                text += `\tbridge-vids ${iface.bridge_vids ?? "2-4094"}\n`;
            }
        }
        if (typeof iface.comments === "string")
            for (const line of iface.comments.split("\n")) if (line) text += `#${line}\n`;
        if (iface.address6) {
            text += `\niface ${name} inet6 static\n\taddress ${iface.cidr6}\n`;
            if (iface.gateway6) text += `\tgateway ${iface.gateway6}\n`;
        }
    }
    return `${text}\nsource /etc/network/interfaces.d/*\n`;
}

/** A `diff -u` of two files (one hunk with full context: the files are short). */
export function unifiedDiff(oldText: string, newText: string, oldName: string, newName: string): string {
    const a = oldText.split("\n");
    const b = newText.split("\n");
    if (a[a.length - 1] === "") a.pop();
    if (b[b.length - 1] === "") b.pop();
    const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
    for (let i = a.length - 1; i >= 0; i--) {
        for (let j = b.length - 1; j >= 0; j--) {
            lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
        }
    }
    const lines: string[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
        if (i < a.length && j < b.length && a[i] === b[j]) {
            lines.push(` ${a[i++]}`);
            j++;
        } else if (j < b.length && (i >= a.length || lcs[i][j + 1] >= lcs[i + 1][j])) {
            lines.push(`+${b[j++]}`);
        } else {
            lines.push(`-${a[i++]}`);
        }
    }
    return `--- ${oldName}\n+++ ${newName}\n@@ -1,${a.length} +1,${b.length} @@\n${lines.join("\n")}\n`;
}

/** Runs `change` on the staged config under the interfaces lock (lock_file($iflockfn, 10, ...)). */
async function stage(sim: SimState, change: (config: Map<string, NetIface>) => void): Promise<null> {
    const release = await sim.networkLock.acquire(IFACE_LOCK_TIMEOUT_MS);
    try {
        const config = cloneConfig(sim.visibleNetwork());
        change(config);
        sim.pendingNetwork = config;
        return null;
    } finally {
        release();
    }
}

function listNetwork({ sim, params }: HandlerContext): Envelope {
    const config = sim.visibleNetwork();
    const type = params.type;
    const bridgeTypes = new Set(["bridge", "OVSBridge"]);
    const result = [...config.keys()]
        .sort()
        .filter((name) => {
            const ifaceType = String(config.get(name)?.type);
            if (type === undefined || type === "include_sdn") return true;
            if (type === "any_bridge" || type === "any_local_bridge") return bridgeTypes.has(ifaceType);
            return ifaceType === type;
        })
        .map((name) => ({ iface: name, ...config.get(name) }));
    const extra: { changes?: string } = {};
    if (sim.pendingNetwork) {
        extra.changes = unifiedDiff(
            renderInterfaces(sim.network),
            renderInterfaces(sim.pendingNetwork),
            "/etc/network/interfaces",
            "/etc/network/interfaces.new",
        );
    }
    return new Envelope(result, extra);
}

function createIface({ sim, params }: HandlerContext): Promise<null> {
    const name = params.iface;
    return stage(sim, (config) => {
        if (config.has(name)) throw paramError({ iface: "interface already exists" });
        if (params.gateway) checkDuplicateGateway(config, name, "gateway");
        if (params.gateway6) checkDuplicateGateway(config, name, "gateway6");
        const iface: NetIface = { type: params.type };
        applyAddressParams(iface, params);
        storeParams(iface, params);
        if (iface.type === "bridge") {
            iface.bridge_stp = "off";
            iface.bridge_fd = "0";
        }
        iface.priority = config.size + 1;
        config.set(name, iface);
    });
}

function updateIface({ sim, params }: HandlerContext): Promise<null> {
    const name = params.iface;
    return stage(sim, (config) => {
        const iface = config.get(name);
        if (!iface) throw paramError({ iface: "interface does not exist" });
        for (const key of splitList(params.delete)) delete iface[key];
        // update_network rewrites the addresses from the request alone: an update without `cidr`/`address`
        // leaves the interface without an IPv4 address (method manual), exactly as PVE does.
        for (const key of ["address", "netmask", "cidr", "address6", "netmask6", "cidr6"]) delete iface[key];
        applyAddressParams(iface, params);
        if (params.gateway) checkDuplicateGateway(config, name, "gateway");
        if (params.gateway6) checkDuplicateGateway(config, name, "gateway6");
        storeParams(iface, params);
    });
}

function deleteIface({ sim, params }: HandlerContext): Promise<null> {
    return stage(sim, (config) => {
        if (!config.has(params.iface)) throw paramError({ iface: "interface does not exist" });
        config.delete(params.iface);
    });
}

function readIface({ sim, params }: HandlerContext): NetIface {
    const iface = sim.visibleNetwork().get(params.iface);
    if (!iface) throw paramError({ iface: "interface does not exist" });
    return { ...iface };
}

/** PUT /nodes/{node}/network: `ifreload -a` in a srvreload task. */
function applyNetwork({ sim, user }: HandlerContext): string {
    // As pve-manager's worker does: interfaces.new is renamed into place first, then `ifreload -a` runs. A reload
    // that fails therefore leaves nothing pending, and the new interfaces configured but not active. The task's
    // duration stands for ifreload: while it runs, nothing is pending any more (a slow reload does not make the
    // next caller see this one's changes as someone else's).
    const promote = () => {
        if (sim.pendingNetwork === undefined) return;
        sim.network = sim.pendingNetwork;
        sim.pendingNetwork = undefined;
    };
    promote();
    return sim.tasks.start(
        "srvreload",
        "networking",
        user,
        async () => {
            promote();
            const next = sim.network;
            for (const iface of next.values()) iface.active = 1;
            const bridges = [...next.entries()]
                .filter(([, iface]) => iface.type === "bridge")
                .map(([name, iface]) => {
                    const bridge: { name: string; cidr?: string; mtu?: number; vlanAware?: boolean } = { name };
                    if (typeof iface.cidr === "string") bridge.cidr = iface.cidr;
                    if (iface.mtu !== undefined) bridge.mtu = Number(iface.mtu);
                    if (iface.bridge_vlan_aware === 1) bridge.vlanAware = true;
                    return bridge;
                });
            await sim.backend.applyBridges(bridges);
        },
        { prelude: promote },
    ).upid;
}

export function registerNetwork(table: HandlerTable): void {
    table.on("GET", "/nodes/{node}/network", listNetwork);
    table.on("POST", "/nodes/{node}/network", createIface);
    table.on("PUT", "/nodes/{node}/network", applyNetwork);
    table.on("DELETE", "/nodes/{node}/network", ({ sim }) => {
        sim.pendingNetwork = undefined;
        return null;
    });
    table.on("GET", "/nodes/{node}/network/{iface}", readIface);
    table.on("PUT", "/nodes/{node}/network/{iface}", updateIface);
    table.on("DELETE", "/nodes/{node}/network/{iface}", deleteIface);
}

/** The node's initial interfaces: eno1 and the management bridge vmbr0. */
export function seedNetwork(
    sim: SimState,
    bridge: { name: string; cidr: string; gateway?: string; ports: string },
): void {
    const [address, bits] = bridge.cidr.split("/");
    sim.network.set(bridge.ports, {
        type: "eth",
        method: "manual",
        method6: "manual",
        families: ["inet"],
        active: 1,
        exists: 1,
        priority: 1,
    });
    const vmbr: NetIface = {
        type: "bridge",
        method: "static",
        method6: "manual",
        families: ["inet"],
        autostart: 1,
        active: 1,
        priority: 2,
        bridge_ports: bridge.ports,
        bridge_stp: "off",
        bridge_fd: "0",
        address,
        netmask: bits,
        cidr: bridge.cidr,
    };
    if (bridge.gateway) vmbr.gateway = bridge.gateway;
    sim.network.set(bridge.name, vmbr);
}
