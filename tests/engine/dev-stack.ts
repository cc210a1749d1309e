/**
 * What the simulator needs before the dev stack (Pulumi.dev.yaml) can deploy into it: the files the program's
 * containers fetch with curl (the NetBox release tarball, Grafana's apt key) registered under their URLs, since
 * the simulator has no network. The content is synthetic but shaped like the real thing (a GitHub archive with
 * one top directory; an armored OpenPGP key block).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { curlDownloads, loadHomelabConfig } from "../../config";
import type { Simulator } from "../pve-sim";
import { simulatorStackConfig } from "./sim-config";

const yaml = require("js-yaml") as { load(text: string): unknown };

/** A stack file's `config:` as the program reads it: bare keys, objects as JSON text. */
export function stackFileConfig(file: string): Record<string, string> {
    const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        out[key.replace(/^proxmox-homelab:/, "")] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return out;
}

/** The URLs the stack in `file` fetches with curl, with the simulator's connection settings filled in. */
export function devStackDownloads(sim: Simulator, file: string): string[] {
    const settings: Record<string, string> = {
        ...Object.fromEntries(Object.entries(simulatorStackConfig(sim)).map(([k, v]) => [k, v.value])),
        ...stackFileConfig(file),
    };
    const cfg = loadHomelabConfig((key) => settings[key.replace(/^proxmox-homelab:/, "")], { env: {} });
    return curlDownloads(cfg);
}

/** A release archive as GitHub serves it: `netbox-<version>/` with requirements and manage.py. */
export function syntheticNetboxTarball(version: string): Buffer {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), "phl-netbox-release-"));
    try {
        const top = path.join(src, `netbox-${version}`);
        fs.mkdirSync(path.join(top, "netbox", "netbox"), { recursive: true });
        fs.writeFileSync(path.join(top, "requirements.txt"), "Django==5.2.8\ngunicorn==23.0.0\n");
        fs.writeFileSync(path.join(top, "netbox", "manage.py"), "#!/usr/bin/env python3\n");
        return execFileSync("tar", ["-czf", "-", "-C", src, `netbox-${version}`]);
    } finally {
        fs.rmSync(src, { recursive: true, force: true });
    }
}

const PGP_KEY = [
    "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    "",
    "mQINBGTnhmkBEADUfGBOyhMFh7ZwRsMcKBBWZDs+pve+sim+key+for+tests+only",
    "=sim0",
    "-----END PGP PUBLIC KEY BLOCK-----",
    "",
].join("\n");

/** Registers every curl download of the stack in `file` with the simulator's backend. */
export async function prepareSimulatorForStack(sim: Simulator, file: string): Promise<string[]> {
    const urls = devStackDownloads(sim, file);
    if (urls.length === 0) return urls;
    const backend = sim.backend as Partial<{ registerDownload(url: string, data: Buffer): Promise<void> }>;
    if (typeof backend.registerDownload !== "function") {
        throw new Error(`the simulator's ${sim.backend.kind} backend cannot serve downloads`);
    }
    for (const url of urls) {
        const release = /\/v?(\d+\.\d+\.\d+)\.tar\.gz$/.exec(url);
        await backend.registerDownload(url, release ? syntheticNetboxTarball(release[1]) : Buffer.from(PGP_KEY));
    }
    return urls;
}
