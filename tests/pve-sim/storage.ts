/**
 * Storages and templates: `GET/POST /nodes/{node}/storage/{storage}/content` and `GET/POST
 * /nodes/{node}/aplinfo` (the template catalogue `pveam` uses, and its `download` task).
 */
import { fail, paramError } from "./errors";
import type { HandlerContext, HandlerTable } from "./api";
import type { AplTemplate, SimState, Storage } from "./state";

const MiB = 1024 * 1024;

/** The catalogue a PVE 9 node offers (a small, current subset of `pveam available`). */
export const APL_TEMPLATES: readonly AplTemplate[] = [
    {
        template: "alpine-3.22-default_20250617_amd64.tar.xz",
        os: "alpine",
        version: "3.22-default",
        section: "system",
        headline: "Alpine Linux 3.22 (default)",
        size: 3 * MiB,
    },
    {
        template: "debian-12-standard_12.12-1_amd64.tar.zst",
        os: "debian-12",
        version: "12.12-1",
        section: "system",
        headline: "Debian 12 Bookworm (standard)",
        size: 123 * MiB,
    },
    {
        template: "debian-13-standard_13.1-2_amd64.tar.zst",
        os: "debian-13",
        version: "13.1-2",
        section: "system",
        headline: "Debian 13 Trixie (standard)",
        size: 129 * MiB,
    },
    {
        template: "ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
        os: "ubuntu-24.04",
        version: "24.04-2",
        section: "system",
        headline: "Ubuntu 24.04 Noble (standard)",
        size: 141 * MiB,
    },
];

function templateFormat(name: string): string {
    if (name.endsWith(".tar.zst")) return "tzst";
    if (name.endsWith(".tar.xz")) return "txz";
    if (name.endsWith(".tar.gz")) return "tgz";
    return "tar";
}

/** PVE::Storage::storage_config. */
export function storageConfig(sim: SimState, storeid: string): Storage {
    const storage = sim.storages.get(storeid);
    if (!storage) throw fail(`storage '${storeid}' does not exist`);
    return storage;
}

/** Puts a template into a storage, as a finished download leaves it. */
export function addTemplate(sim: SimState, storeid: string, template: string): string {
    const storage = storageConfig(sim, storeid);
    const volid = `${storeid}:vztmpl/${template}`;
    const known = APL_TEMPLATES.find((t) => t.template === template);
    storage.volumes.set(volid, {
        volid,
        content: "vztmpl",
        format: templateFormat(template),
        size: known?.size ?? 100 * MiB,
        ctime: Math.floor(sim.now()),
    });
    return volid;
}

function listContent({ sim, params }: HandlerContext): Record<string, unknown>[] {
    const storage = storageConfig(sim, params.storage);
    return [...storage.volumes.values()]
        .filter((volume) => params.content === undefined || volume.content === params.content)
        .filter((volume) => params.vmid === undefined || String(volume.vmid) === params.vmid)
        .sort((a, b) => (a.volid < b.volid ? -1 : a.volid > b.volid ? 1 : 0))
        .map((volume) => {
            const entry: Record<string, unknown> = {
                volid: volume.volid,
                content: volume.content,
                format: volume.format,
                size: volume.size,
                ctime: volume.ctime,
            };
            if (volume.vmid !== undefined) entry.vmid = volume.vmid;
            return entry;
        });
}

function allocateVolume({ sim, params }: HandlerContext): string {
    const storage = storageConfig(sim, params.storage);
    const volid = `${storage.id}:${params.filename}`;
    if (storage.volumes.has(volid)) throw fail(`volume '${volid}' already exists`);
    const size = /^(\d+)([MG])?$/.exec(params.size);
    const bytes = size ? Number(size[1]) * (size[2] === "G" ? 1024 * MiB : size[2] === "M" ? MiB : 1024) : 0;
    storage.volumes.set(volid, {
        volid,
        content: "images",
        format: params.format ?? "raw",
        size: bytes,
        ctime: Math.floor(sim.now()),
        vmid: Number(params.vmid),
    });
    return volid;
}

function aplinfo({ sim }: HandlerContext): Record<string, unknown>[] {
    return sim.aplTemplates.map((t) => ({
        template: t.template,
        type: "lxc",
        package: t.template.replace(/_.*$/, ""),
        version: t.version,
        os: t.os,
        section: t.section,
        headline: t.headline,
        description: t.headline,
        infopage: "https://pve.proxmox.com/wiki/Linux_Container#pct_supported_distributions",
        location: `system/${t.template}`,
        maintainer: "Proxmox Support Team <support@proxmox.com>",
        architecture: "amd64",
        source: `http://download.proxmox.com/images/system/${t.template}`,
    }));
}

function downloadTemplate({ sim, user, params }: HandlerContext): string {
    const template = sim.aplTemplates.find((t) => t.template === params.template);
    if (!template) throw paramError({ template: "no such template" });
    const storage = storageConfig(sim, params.storage);
    if (!storage.content.has("vztmpl")) throw fail(`storage '${storage.id}' does not support templates`);
    const source = `http://download.proxmox.com/images/system/${template.template}`;
    const target = `${storage.path ?? "/var/lib/vz"}/template/cache/${template.template}`;
    return sim.tasks.start("download", template.template, user, async (task) => {
        task.log(`starting template download from: ${source}`);
        task.log(`target file: ${target}`);
        task.log(`${template.size} bytes downloaded`);
        addTemplate(sim, storage.id, template.template);
        task.log(`download of '${source}' to '${target}' finished`);
    }).upid;
}

/**
 * `DELETE .../content/{volume}` (pve-storage API2/Storage/Content.pm delete): Datastore.Allocate on the
 * storage, then an `imgdel` worker whose id is the storage id.
 */
function deleteVolume({ sim, user, params }: HandlerContext): string {
    const volid = params.volume.includes(":") ? params.volume : `${params.storage}:${params.volume}`;
    const storeid = volid.slice(0, volid.indexOf(":"));
    if (params.storage !== undefined && params.storage !== storeid) {
        throw fail(`storage ID mismatch (${params.storage} != ${storeid})`);
    }
    const storage = storageConfig(sim, storeid);
    sim.access.check(user, `/storage/${storeid}`, ["Datastore.Allocate"]);
    if (!storage.volumes.has(volid)) throw fail(`volume '${volid}' does not exist`);
    return sim.tasks.start("imgdel", storeid, user, async (task) => {
        storage.volumes.delete(volid);
        task.log(`Removed volume '${volid}'`);
    }).upid;
}

export function registerStorage(table: HandlerTable): void {
    table.on("GET", "/nodes/{node}/storage/{storage}/content", listContent);
    table.on("POST", "/nodes/{node}/storage/{storage}/content", allocateVolume);
    table.on("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}", deleteVolume);
    table.on("GET", "/nodes/{node}/aplinfo", aplinfo);
    table.on("POST", "/nodes/{node}/aplinfo", downloadTemplate);
}

/** `local` (dir: templates, ISOs, backups) and `local-zfs` (zfspool: container and VM disks). */
export function seedStorages(sim: SimState): void {
    sim.storages.set("local", {
        id: "local",
        type: "dir",
        content: new Set(["vztmpl", "iso", "backup"]),
        path: "/var/lib/vz",
        total: 100 * 1024 * MiB,
        volumes: new Map(),
    });
    sim.storages.set("local-zfs", {
        id: "local-zfs",
        type: "zfspool",
        content: new Set(["images", "rootdir"]),
        total: 400 * 1024 * MiB,
        volumes: new Map(),
    });
    sim.aplTemplates.push(...APL_TEMPLATES);
}
