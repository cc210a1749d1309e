// Loads the stand-ins in-process and builds minimal valid inputs for every resource they implement.
import type { StandInModule } from "./types";
import { urn } from "./types";

export const random = require("./random.js") as StandInModule;
export const tls = require("./tls.js") as StandInModule;

/** Unwraps a secret-wrapped output value for assertions (never printed). */
export function plain(v: unknown): unknown {
    if (typeof v === "object" && v !== null && "value" in v && "4dabf18193072939515e22adb298388d" in v) {
        return (v as { value: unknown }).value;
    }
    return v;
}

export function str(v: unknown): string {
    const p = plain(v);
    if (typeof p !== "string") throw new Error(`expected a string, got ${typeof p}`);
    return p;
}

export interface TlsMaterial {
    caKeyPem: string;
    caCertPem: string;
    leafKeyPem: string;
    csrPem: string;
}

/** A CA (ECDSA P-256) and a leaf key + CSR (RSA 2048), created through the tls stand-in. */
export async function tlsMaterial(): Promise<TlsMaterial> {
    const p = tls.provider;
    const caKey = await p.create(urn("tls:index/privateKey:PrivateKey", "ca-key"), {
        algorithm: "ECDSA",
        ecdsaCurve: "P256",
    });
    const caKeyPem = str(caKey.outs.privateKeyPem);
    const ca = await p.create(urn("tls:index/selfSignedCert:SelfSignedCert", "ca"), {
        privateKeyPem: caKeyPem,
        isCaCertificate: true,
        validityPeriodHours: 24,
        allowedUses: ["cert_signing", "crl_signing"],
        subject: { commonName: "Test CA", organization: "Homelab" },
    });
    const leafKey = await p.create(urn("tls:index/privateKey:PrivateKey", "leaf-key"), { algorithm: "RSA" });
    const leafKeyPem = str(leafKey.outs.privateKeyPem);
    const csr = await p.create(urn("tls:index/certRequest:CertRequest", "csr"), {
        privateKeyPem: leafKeyPem,
        subject: { commonName: "pve.lab.internal" },
        dnsNames: ["pve.lab.internal"],
    });
    return { caKeyPem, caCertPem: str(ca.outs.certPem), leafKeyPem, csrPem: str(csr.outs.certRequestPem) };
}

/** Minimal valid inputs per resource token. */
export function minimalInputs(m: TlsMaterial): Record<string, Record<string, unknown>> {
    return {
        "random:index/randomPassword:RandomPassword": { length: 16 },
        "random:index/randomString:RandomString": { length: 16 },
        "random:index/randomBytes:RandomBytes": { length: 16 },
        "random:index/randomId:RandomId": { byteLength: 8 },
        "random:index/randomInteger:RandomInteger": { min: 1, max: 100 },
        "random:index/randomUuid:RandomUuid": {},
        "random:index/randomUuid4:RandomUuid4": {},
        "random:index/randomUuid7:RandomUuid7": {},
        "random:index/randomPet:RandomPet": {},
        "random:index/randomShuffle:RandomShuffle": { inputs: ["a", "b", "c"] },
        "tls:index/privateKey:PrivateKey": { algorithm: "ED25519" },
        "tls:index/selfSignedCert:SelfSignedCert": {
            privateKeyPem: m.leafKeyPem,
            validityPeriodHours: 24,
            allowedUses: ["server_auth"],
        },
        "tls:index/certRequest:CertRequest": { privateKeyPem: m.leafKeyPem },
        "tls:index/locallySignedCert:LocallySignedCert": {
            certRequestPem: m.csrPem,
            caPrivateKeyPem: m.caKeyPem,
            caCertPem: m.caCertPem,
            validityPeriodHours: 24,
            allowedUses: ["server_auth"],
        },
    };
}
