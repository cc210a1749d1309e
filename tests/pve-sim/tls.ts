/**
 * The simulator's own HTTPS certificate, made with openssl at start (like a fresh PVE node's
 * pve-ssl.pem): self-signed, valid for 127.0.0.1/localhost/the node name, with its SHA-256 fingerprint in
 * the `AB:CD:...` form PVE shows.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface TlsMaterial {
    keyPem: string;
    certPem: string;
    /** SHA-256 of the DER certificate, uppercase hex pairs joined by colons. */
    fingerprint: string;
}

export function fingerprintOf(certPem: string): string {
    return new X509Certificate(certPem).fingerprint256;
}

export async function generateCertificate(node: string): Promise<TlsMaterial> {
    const dir = await mkdtemp(join(tmpdir(), "pve-sim-tls-"));
    try {
        const keyFile = join(dir, "key.pem");
        const certFile = join(dir, "cert.pem");
        await execFileAsync("openssl", [
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            keyFile,
            "-out",
            certFile,
            "-days",
            "3650",
            "-subj",
            `/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=${node}.local`,
            "-addext",
            `subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:${node},DNS:${node}.local`,
        ]);
        const [keyPem, certPem] = await Promise.all([readFile(keyFile, "utf8"), readFile(certFile, "utf8")]);
        return { keyPem, certPem, fingerprint: fingerprintOf(certPem) };
    } finally {
        await rm(dir, { recursive: true, force: true });
    }
}
