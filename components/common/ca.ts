import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export interface HomelabCaArgs {
    /** CA subject common name. Default `Homelab CA`. */
    commonName?: string;
    /** Organisation in the subject. Default `proxmox-homelab`. */
    organization?: string;
    /** Validity in hours. Default 87600 (10 years). */
    validityHours?: number;
}

/** The homelab's own certificate authority: an ECDSA P-256 key and a self-signed CA certificate. */
export class HomelabCa extends pulumi.ComponentResource {
    public readonly privateKey: tls.PrivateKey;
    public readonly certificate: tls.SelfSignedCert;
    /** The CA certificate PEM (public). */
    public readonly certPem: pulumi.Output<string>;

    constructor(name: string, args: HomelabCaArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("proxmox-homelab:common:HomelabCa", name, {}, opts);
        this.privateKey = new tls.PrivateKey(
            `${name}-key`,
            { algorithm: "ECDSA", ecdsaCurve: "P256" },
            { parent: this },
        );
        this.certificate = new tls.SelfSignedCert(
            `${name}-cert`,
            {
                privateKeyPem: this.privateKey.privateKeyPem,
                isCaCertificate: true,
                validityPeriodHours: args.validityHours ?? 87600,
                subject: {
                    commonName: args.commonName ?? "Homelab CA",
                    organization: args.organization ?? "proxmox-homelab",
                },
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            },
            { parent: this },
        );
        this.certPem = this.certificate.certPem;
        this.registerOutputs({ certPem: this.certPem });
    }
}

export interface ServerCertArgs {
    ca: HomelabCa;
    /** Subject common name, usually the first DNS name. */
    commonName: pulumi.Input<string>;
    dnsNames?: pulumi.Input<pulumi.Input<string>[]>;
    ipAddresses?: pulumi.Input<pulumi.Input<string>[]>;
    /** Validity in hours. Default 8760 (1 year); the TLS-expiry alert warns before it ends. */
    validityHours?: number;
}

/** A TLS server certificate signed by the homelab CA. `keyPem` is secret. */
export class ServerCert extends pulumi.ComponentResource {
    public readonly keyPem: pulumi.Output<string>;
    public readonly certPem: pulumi.Output<string>;
    /** Leaf followed by the CA: what nginx's ssl_certificate wants. */
    public readonly fullChainPem: pulumi.Output<string>;

    constructor(name: string, args: ServerCertArgs, opts?: pulumi.ComponentResourceOptions) {
        super("proxmox-homelab:common:ServerCert", name, {}, opts);
        const key = new tls.PrivateKey(`${name}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
        const csr = new tls.CertRequest(
            `${name}-csr`,
            {
                privateKeyPem: key.privateKeyPem,
                subject: { commonName: args.commonName, organization: "proxmox-homelab" },
                dnsNames: args.dnsNames,
                ipAddresses: args.ipAddresses,
            },
            { parent: this },
        );
        const cert = new tls.LocallySignedCert(
            `${name}-cert`,
            {
                certRequestPem: csr.certRequestPem,
                caPrivateKeyPem: args.ca.privateKey.privateKeyPem,
                caCertPem: args.ca.certPem,
                validityPeriodHours: args.validityHours ?? 8760,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            },
            { parent: this },
        );
        this.keyPem = pulumi.secret(key.privateKeyPem);
        this.certPem = cert.certPem;
        this.fullChainPem = pulumi.all([cert.certPem, args.ca.certPem]).apply(([leaf, ca]) => joinPem(leaf, ca));
        this.registerOutputs({ certPem: this.certPem, fullChainPem: this.fullChainPem });
    }
}

/** Concatenates PEM blocks with exactly one newline between them. */
export function joinPem(...pems: string[]): string {
    return pems.map((p) => p.trimEnd() + "\n").join("");
}
