/**
 * The stack config (config.ts) and the program (index.ts): every rule with its exact message and config key, the
 * mapping of a full config onto the components' args, the credentials named by key and environment variable, the
 * shipped stack files, and the program under Pulumi's mocks (what it registers, which outputs are secret, and that
 * bad config registers nothing).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

import * as pulumi from "@pulumi/pulumi";
import type { MockResourceArgs } from "@pulumi/pulumi/runtime";

import {
    COMPONENT_NAMES,
    DEPLOY_KEYS,
    HomelabConfig,
    checkHomelabConfig,
    credentialProblems,
    curlDownloads,
    loadHomelabConfig,
    mapComponentProblem,
    templateVolid,
    unknownKeys,
} from "../../config";
import { ValidationError } from "../../components/common/validation";
import { monitoringLxcSchema } from "../../components/monitoring/args";
import { PVE_SETTINGS } from "../../providers/proxmox/connection";
import { SSH_SETTINGS } from "../../providers/runtime/context";

const ROOT = path.resolve(__dirname, "..", "..");
const yaml = require("js-yaml") as { load(text: string): unknown };

type Values = Record<string, unknown>;

/** Connection settings as a user sets them (presence is all the program checks). */
const CREDENTIALS: Values = {
    pveEndpoint: "https://192.168.1.2:8006",
    pveApiToken: "homelab@pve!pulumi=00000000-0000-0000-0000-000000000000",
    pvePassword: "root-password",
    sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
    sshHostKeyFingerprint: "SHA256:BXfYDQo9GigRWVMVtCXKJBG9z5LXQiav4rZLeMQ6Tt4",
};

/** Pulumi config as the engine hands it over: strings, objects as JSON text. */
function getter(values: Values): (key: string) => string | undefined {
    const m = new Map(Object.entries(values).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
    return (key) => m.get(key);
}

function problems(values: Values, opts: { env?: Record<string, string>; secret?: string[] } = {}): string[] {
    const secret = opts.secret;
    return checkHomelabConfig(getter({ ...CREDENTIALS, ...values }), {
        env: opts.env ?? {},
        isSecret: secret ? (k) => secret.includes(k) : undefined,
    }).problems;
}

function config(values: Values, env: Record<string, string> = {}): HomelabConfig {
    return loadHomelabConfig(getter({ ...CREDENTIALS, ...values }), { env });
}

const SMTP = { smarthost: "smtp.example.com:587", from: "alerts@example.com", to: "ops@example.com" };
/** Smallest valid monitoring section (no other component enabled, so no vmid is needed). */
const MONITORING = { network: { ip: "192.168.1.85/24", gw: "192.168.1.1" }, smtp: SMTP };
const APPLIANCE = { vmid: 110, os: "debian" };

describe("stack config (config.ts)", () => {
    describe("top-level settings", () => {
        it("defaults: nothing deployed, Pulumi.yaml's values", () => {
            assert.deepEqual(config({}), {
                node: "pve",
                storage: "local-zfs",
                templateStorage: "local",
                externalBridge: "vmbr0",
                templates: {
                    debian: "debian-13-standard_13.1-2_amd64.tar.zst",
                    alpine: "alpine-3.22-default_20250617_amd64.tar.xz",
                },
                downloads: {},
                tls: { caCommonName: "Homelab CA", caOrganization: "proxmox-homelab", caValidityHours: 87600 },
                netbox: { enabled: false },
                appliance: { enabled: false },
                monitoring: { enabled: false },
            });
        });

        it("empty strings (Pulumi.yaml's defaults for unset keys) count as unset", () => {
            const c = config({ pveNode: "", storage: " ", netbox: "", downloads: "", tls: "" });
            assert.equal(c.node, "pve");
            assert.equal(c.storage, "local-zfs");
            assert.deepEqual(c.netbox, { enabled: false });
        });

        it("pveNode, storage, templateStorage, externalBridge and the template names: each rule", () => {
            assert.deepEqual(
                problems({
                    pveNode: "PVE_1",
                    storage: "1tank",
                    templateStorage: "local storage",
                    externalBridge: "VMBR0",
                    debianTemplate: "debian.iso",
                    alpineTemplate: "../alpine.tar.xz",
                }),
                [
                    `proxmox-homelab:pveNode: must be a PVE node name (lowercase letters, digits, '-'), got "PVE_1"`,
                    'proxmox-homelab:storage: must be a PVE storage id, got "1tank"',
                    'proxmox-homelab:templateStorage: must be a PVE storage id, got "local storage"',
                    "proxmox-homelab:externalBridge: must be a bridge name like vmbr0 (a lowercase letter, then " +
                        `lowercase letters, digits or '_'; 2 to 15 characters), got "VMBR0"`,
                    'proxmox-homelab:debianTemplate: must be a template file name as `pveam available` lists it, got "debian.iso"',
                    'proxmox-homelab:alpineTemplate: must be a template file name as `pveam available` lists it, got "../alpine.tar.xz"',
                ],
            );
        });

        it("a bad top-level value is reported once, not again by every component that uses it", () => {
            // (The cross-component rules wait for sections that validate.)
            assert.deepEqual(
                problems({ pveNode: "Bad_Node", netbox: {}, appliance: APPLIANCE, monitoring: MONITORING }),
                [`proxmox-homelab:pveNode: must be a PVE node name (lowercase letters, digits, '-'), got "Bad_Node"`],
            );
        });

        it("a key the program does not know is refused (a typo, or a field set without --path)", () => {
            const keys = ["pveNode", "pveEndPoint", "netbox", "netbox.publicName", "sshPrivateKey"];
            assert.deepEqual(checkHomelabConfig(getter(CREDENTIALS), { env: {}, keys }).problems, [
                "proxmox-homelab:pveEndPoint: unknown setting",
                "proxmox-homelab:netbox.publicName: unknown setting (a field of netbox: set it with " +
                    "`pulumi config set --path 'netbox.publicName' ...`)",
            ]);
        });

        it("a section must be an object; a secret one is not echoed", () => {
            assert.deepEqual(problems({ netbox: "yes", appliance: 3 }), [
                'proxmox-homelab:netbox: must be an object (a YAML map in the stack file, or JSON text), got "yes"',
                "proxmox-homelab:appliance: must be an object (a YAML map in the stack file, or JSON text), got 3",
            ]);
            assert.deepEqual(problems({ monitoring: "hunter2" }, { secret: ["monitoring"] }), [
                "proxmox-homelab:monitoring: must be an object (a YAML map in the stack file, or JSON text), got [secret]",
            ]);
        });

        it("enabled: true or false; a present section is on unless it says false; a disabled one is not checked", () => {
            assert.deepEqual(problems({ netbox: { enabled: "yes" } }), [
                'proxmox-homelab:netbox.enabled: must be true or false, got "yes"',
            ]);
            assert.equal(config({ netbox: {} }).netbox.enabled, true);
            assert.deepEqual(config({ netbox: { enabled: false, db: { memory: 1 }, bogus: true } }).netbox, {
                enabled: false,
            });
        });

        it("keys the program sets itself are refused in a section, naming where they come from", () => {
            assert.deepEqual(
                problems({
                    netbox: { node: "pve", template: "local:vztmpl/x.tar.zst", downloads: {} },
                    appliance: { ...APPLIANCE, template: "x" },
                    monitoring: { ...MONITORING, vmid: 120, tls: {}, targets: [] },
                }),
                [
                    "proxmox-homelab:netbox.node: set by the program from proxmox-homelab:pveNode; remove it here",
                    "proxmox-homelab:netbox.template: set by the program from proxmox-homelab:debianTemplate; remove it here",
                    "proxmox-homelab:netbox.downloads: set by the program from proxmox-homelab:downloads; remove it here",
                    "proxmox-homelab:appliance.template: set by the program from proxmox-homelab:alpineTemplate / " +
                        "debianTemplate; remove it here",
                    "proxmox-homelab:monitoring.tls: set by the program from proxmox-homelab:tls (the homelab CA); remove it here",
                    "proxmox-homelab:monitoring.targets: set by the program from what netbox and appliance deploy; remove it here",
                ],
            );
        });
    });

    describe("downloads and tls", () => {
        it("downloads: every rule, reported once even when every component uses it", () => {
            assert.deepEqual(
                problems({
                    downloads: {
                        httpProxy: "proxy:3128",
                        debianMirror: "ftp://deb.debian.org/debian",
                        debianSecurityMirror: 7,
                        alpineMirror: "https://mirror example/alpine",
                        pipIndexUrl: "pypi.org/simple",
                        extraCaCerts: ["not a certificate"],
                        noProxy: ["mirror.lan", "bad host", ".home.arpa", "10.0.0.0/8", "-x"],
                        proxy: "x",
                    },
                    netbox: {},
                    appliance: APPLIANCE,
                    monitoring: { ...MONITORING, vmid: 120 },
                }),
                [
                    'proxmox-homelab:downloads.httpProxy: must be a proxy URL like http://10.0.0.1:3128, got "proxy:3128"',
                    "proxmox-homelab:downloads.debianMirror: must be an http(s) URL like http://deb.debian.org/debian, " +
                        'got "ftp://deb.debian.org/debian"',
                    "proxmox-homelab:downloads.debianSecurityMirror: must be a string, got 7",
                    "proxmox-homelab:downloads.alpineMirror: must be an http(s) URL like " +
                        'https://dl-cdn.alpinelinux.org/alpine, got "https://mirror example/alpine"',
                    'proxmox-homelab:downloads.pipIndexUrl: must be an http(s) URL like https://pypi.org/simple, got "pypi.org/simple"',
                    "proxmox-homelab:downloads.extraCaCerts[0]: must be a PEM certificate " +
                        "(-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)",
                    "proxmox-homelab:downloads.noProxy[1]: must be a host name, an IPv4 address, a .domain suffix " +
                        'or an IPv4 CIDR, got "bad host"',
                    "proxmox-homelab:downloads.noProxy[4]: must be a host name, an IPv4 address, a .domain suffix " +
                        'or an IPv4 CIDR, got "-x"',
                    "proxmox-homelab:downloads.proxy: unknown setting",
                ],
            );
            assert.deepEqual(problems({ downloads: { extraCaCerts: "-----BEGIN CERTIFICATE-----" } }), [
                'proxmox-homelab:downloads.extraCaCerts: must be a list of PEM certificates, got "-----BEGIN CERTIFICATE-----"',
            ]);
        });

        it("downloads reach every component as given", () => {
            const downloads = {
                httpProxy: "http://192.168.1.5:3128",
                pipIndexUrl: "http://192.168.1.5/pypi/simple",
                noProxy: ["mirror.home.arpa", "192.168.1.7"],
            };
            const c = config({ downloads, netbox: {}, appliance: APPLIANCE, monitoring: { ...MONITORING, vmid: 120 } });
            assert.deepEqual(c.downloads, downloads);
            assert.ok(c.netbox.enabled && c.appliance.enabled && c.monitoring.enabled);
            assert.deepEqual(c.netbox.args.downloads, downloads);
            assert.deepEqual(c.appliance.args.downloads, downloads);
            assert.deepEqual(c.monitoring.args.downloads, downloads);
        });

        it("tls: every rule; a certificate of one's own is pointed to netbox.tls", () => {
            assert.deepEqual(
                problems({
                    tls: { caCommonName: "", caOrganization: "Home\nLab", caValidityHours: 100, certPem: "x" },
                }),
                [
                    'proxmox-homelab:tls.caCommonName: must be 1 to 64 characters on one line, got ""',
                    'proxmox-homelab:tls.caOrganization: must be 1 to 64 characters on one line, got "Home\\nLab"',
                    "proxmox-homelab:tls.caValidityHours: must be ≥ 8760 (the server certificates it signs last a year), got 100",
                    "proxmox-homelab:tls.certPem: unknown setting (a certificate of your own for NetBox goes in netbox.tls)",
                ],
            );
            assert.deepEqual(problems({ tls: { caValidityHours: 9000.5 } }), [
                "proxmox-homelab:tls.caValidityHours: must be a whole number, got 9000.5",
            ]);
            assert.deepEqual(problems({ tls: { caValidityHours: 1e6 } }), [
                "proxmox-homelab:tls.caValidityHours: must be ≤ 876000, got 1000000",
            ]);
            assert.deepEqual(config({ tls: { caCommonName: "Home CA" } }).tls, {
                caCommonName: "Home CA",
                caOrganization: "proxmox-homelab",
                caValidityHours: 87600,
            });
        });
    });

    describe("credentials: presence only, named by config key and environment variable", () => {
        const none = {
            pveEndpoint: "",
            pveApiToken: "",
            pvePassword: "",
            sshPrivateKey: "",
            sshHostKeyFingerprint: "",
        };

        it("each missing one names its key and variable", () => {
            assert.deepEqual(problems(none), [
                "proxmox-homelab:pveEndpoint (or PVE_ENDPOINT): missing; set it to the API URL, e.g. https://pve.lan:8006",
                "proxmox-homelab:pveApiToken (or PVE_API_TOKEN) or proxmox-homelab:pvePassword (or PVE_PASSWORD): " +
                    "missing; set an API token or root@pam's password with `pulumi config set --secret`",
                "proxmox-homelab:sshPrivateKey (or PVE_SSH_PRIVATE_KEY): missing; set it with " +
                    "`pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
                "proxmox-homelab:sshHostKeyFingerprint (or PVE_SSH_HOST_KEY_FINGERPRINT) or " +
                    "proxmox-homelab:sshKnownHosts (or PVE_SSH_KNOWN_HOSTS): missing; pin the node's SSH host key " +
                    "(run `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the node)",
            ]);
        });

        it("the environment may supply every one of them; a known_hosts line pins the host key too", () => {
            const env = {
                PVE_ENDPOINT: "https://pve:8006",
                PVE_PASSWORD: "pw",
                PVE_SSH_PRIVATE_KEY: "key",
                PVE_SSH_KNOWN_HOSTS: "pve ssh-ed25519 AAAA",
            };
            assert.deepEqual(problems({ ...none, appliance: APPLIANCE }, { env }), []);
            assert.deepEqual(
                problems({ ...none, pveApiToken: "t", sshKnownHosts: "pve ssh-ed25519 AAAA" }, { env }),
                [],
            );
        });

        it("the appliance needs root@pam's password (a token never counts as root@pam)", () => {
            assert.deepEqual(problems({ pvePassword: "", appliance: APPLIANCE }), [
                "proxmox-homelab:pvePassword (or PVE_PASSWORD): missing; appliance.enabled needs root@pam's " +
                    "password: the ProximityAppliance is a privileged container, which Proxmox VE lets only root@pam " +
                    "create (API tokens never count as root@pam)",
            ]);
            assert.deepEqual(problems({ pveUsername: "deploy@pve", appliance: APPLIANCE }), [
                "proxmox-homelab:pveUsername (or PVE_USERNAME): must be root@pam when appliance.enabled " +
                    '(privileged containers are root@pam\'s alone), got "deploy@pve"',
            ]);
            assert.deepEqual(problems({ pveUsername: "root@pam", appliance: APPLIANCE }), []);
            assert.deepEqual(problems({ pvePassword: "", appliance: { ...APPLIANCE, enabled: false } }), []);
        });

        it("never looks into a credential: any non-empty value passes, and none is echoed", () => {
            const odd = { pveApiToken: "not-a-token", pvePassword: "", sshPrivateKey: "x", pveEndpoint: "pve" };
            assert.deepEqual(problems(odd), []);
            const all = problems({ ...odd, pveEndpoint: "", netbox: { db: { memory: 1 } } }).join("\n");
            assert.ok(!all.includes("not-a-token"));
        });

        it("credentialProblems reads both bare and namespaced keys (a plain map, or the provider host's config)", () => {
            const namespaced = new Map<string, string>(
                Object.entries(CREDENTIALS).map(([k, v]) => [`proxmox-homelab:${k}`, String(v)]),
            );
            assert.deepEqual(credentialProblems({ get: (k) => namespaced.get(k) }, {}, true), []);
        });
    });

    describe("component rules, under the config key the user wrote", () => {
        it("NetBox: the component's own rules (the design's example)", () => {
            assert.deepEqual(problems({ netbox: { db: { memory: 128 }, colour: "blue" } }), [
                "proxmox-homelab:netbox.db.memory: must be ≥ 512 MiB, got 128",
                "proxmox-homelab:netbox.colour: unknown setting",
            ]);
            // Its cross-field rules follow once every field has the right form.
            assert.deepEqual(problems({ netbox: { app: { vmid: 101 }, proxy: { externalGateway: "192.168.1.1" } } }), [
                "proxmox-homelab:netbox.proxy.externalGateway: only applies to a static proxy.externalIp (DHCP brings its own)",
                "proxmox-homelab:netbox.db.vmid: 101 is already used by app",
            ]);
        });

        it("NetBox: a certificate of one's own must be PEM, its key PEM and secret; the key is never echoed", () => {
            const tls = { certPem: "cert", keyPem: "s3cret-key", caCertPem: "ca" };
            const lines = problems({ netbox: { tls } }, { secret: [] });
            assert.deepEqual(lines, [
                "proxmox-homelab:netbox.tls.certPem: must be a PEM certificate (-----BEGIN CERTIFICATE----- ...)",
                "proxmox-homelab:netbox.tls.caCertPem: must be a PEM certificate (-----BEGIN CERTIFICATE----- ...)",
                "proxmox-homelab:netbox.tls.keyPem: must be a PEM private key (-----BEGIN ... PRIVATE KEY-----)",
                "proxmox-homelab:netbox.tls.keyPem: must be stored as a secret: " +
                    `pulumi config set --secret --path 'netbox.tls.keyPem' "$(cat key.pem)"`,
            ]);
            assert.ok(!lines.join("\n").includes("s3cret-key"));
            const pem = {
                certPem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                keyPem: "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
            };
            assert.deepEqual(problems({ netbox: { tls: pem } }, { secret: ["netbox"] }), []);
            assert.deepEqual(problems({ netbox: { tls: { certPem: pem.certPem } } }), [
                "proxmox-homelab:netbox.tls: certPem and keyPem go together (got only certPem)",
            ]);
        });

        it("ProximityAppliance: its rules; zod's unknown-keys line is split per key", () => {
            assert.deepEqual(
                problems({
                    appliance: {
                        ...APPLIANCE,
                        memory: 256,
                        colour: "blue",
                        size: 1,
                        apps: [{ name: "Web", port: 80, cores: 1, memory: 32, swap: 0, diskGiB: 2 }],
                    },
                }),
                [
                    "proxmox-homelab:appliance.memory: must be ≥ 512 MiB, got 256",
                    "proxmox-homelab:appliance.apps[0].name: must be a DNS label (lowercase letters, digits and '-', " +
                        "at most 63, no leading or trailing '-'), got \"Web\"",
                    "proxmox-homelab:appliance.apps[0].memory: must be ≥ 64 MiB, got 32",
                    "proxmox-homelab:appliance.colour: unknown setting",
                    "proxmox-homelab:appliance.size: unknown setting",
                ],
            );
            assert.deepEqual(problems({ appliance: { ...APPLIANCE, os: "alpine", cockpit: true } }), [
                "proxmox-homelab:appliance.cockpit: Cockpit is not packaged for Alpine Linux, so the Alpine " +
                    'appliance has no web management UI (document 001\'s Cockpit on :9090); use os: "debian" for ' +
                    "Cockpit, or manage the Alpine appliance with `pct enter <vmid>`.",
            ]);
        });

        it("MonitoringLxc: its rules, a missing smtp, unknown keys at any depth; never the CA or template", () => {
            assert.deepEqual(
                problems({
                    monitoring: {
                        memory: 256,
                        network: { ip: "192.168.1.85" },
                        grafana: { enable: false },
                        smtp: { ...SMTP, to: ["ops"], colour: 1 },
                    },
                }),
                [
                    "proxmox-homelab:monitoring.grafana.enable: unknown setting",
                    "proxmox-homelab:monitoring.smtp.colour: unknown setting",
                    "proxmox-homelab:monitoring.memory: must be ≥ 512 MiB",
                    "proxmox-homelab:monitoring.network.ip: must be dhcp or an IPv4 CIDR like 192.168.8.85/24",
                    "proxmox-homelab:monitoring.smtp.to[0]: must be an email address like alerts@example.com",
                ],
            );
            assert.deepEqual(problems({ monitoring: {} }), ["proxmox-homelab:monitoring.smtp: required (an object)"]);
            assert.deepEqual(
                problems(
                    { monitoring: { ...MONITORING, smtp: { ...SMTP, username: "u", password: "p" } } },
                    { secret: [] },
                ),
                [
                    "proxmox-homelab:monitoring.smtp.password: must be stored as a secret: " +
                        "pulumi config set --secret --path 'monitoring.smtp.password' '...'",
                ],
            );
        });

        it("a value the program derived is reported under the key it came from", () => {
            // The PVE exporter's address defaults to the endpoint's host, which must then be a host name.
            assert.deepEqual(
                problems({ pveEndpoint: "https://pve_1.lan:8006", monitoring: { ...MONITORING, pve: {} } }),
                ["proxmox-homelab:pveEndpoint: must be a host name or IPv4 address"],
            );
            assert.deepEqual(
                mapComponentProblem("NetboxStack.network.external: x", "NetboxStack", "netbox", {
                    "network.external": "externalBridge",
                }),
                ["proxmox-homelab:externalBridge: x"],
            );
            assert.deepEqual(
                mapComponentProblem("MonitoringLxc.tls: must be", "MonitoringLxc", "monitoring", {}, ["tls"]),
                [],
            );
            assert.deepEqual(mapComponentProblem("something else", "MonitoringLxc", "monitoring"), [
                "proxmox-homelab:monitoring: something else",
            ]);
        });

        it("unknownKeys walks object shapes through optional, default, pipe and array", () => {
            assert.deepEqual(
                unknownKeys(monitoringLxcSchema, {
                    smtp: { to: ["a@b.c"], x: 1 },
                    extraTargets: { httpProbes: [{ name: "n", url: "http://x/", y: 2 }] },
                    alertTiming: { forOverrides: { ServiceDown: 5 } },
                    z: 3,
                }),
                [["smtp", "x"], ["extraTargets", "httpProbes", 0, "y"], ["z"]],
            );
        });
    });

    describe("across components", () => {
        const NETBOX = {};

        it("the appliance's default vmid is NetBox's app's", () => {
            assert.deepEqual(problems({ netbox: NETBOX, appliance: { os: "debian" } }), [
                "proxmox-homelab:appliance.vmid: 100 (the default) is already used by netbox.app.vmid (the default)",
            ]);
            assert.deepEqual(problems({ netbox: { cache: { vmid: 120 } }, monitoring: { ...MONITORING, vmid: 120 } }), [
                "proxmox-homelab:monitoring.vmid: 120 is already used by netbox.cache.vmid",
            ]);
        });

        it("containers PVE would number need a vmid while others have fixed ones", () => {
            assert.deepEqual(
                problems({
                    netbox: NETBOX,
                    appliance: {
                        ...APPLIANCE,
                        apps: [{ name: "web", port: 80, cores: 1, memory: 64, swap: 0, diskGiB: 2 }],
                    },
                    monitoring: MONITORING,
                }),
                [
                    "proxmox-homelab:monitoring.vmid: must be set when netbox or appliance is enabled: their " +
                        "containers have fixed ids (100, 101, 102, 103, 110), and an id PVE allocates at create time " +
                        "can take one of them before their container exists",
                    "proxmox-homelab:appliance.apps[0].vmid: must be set when netbox is enabled: their containers " +
                        "have fixed ids (100, 101, 102, 103), and an id PVE allocates at create time can take one of " +
                        "them before their container exists",
                ],
            );
            // Alone, each component orders its own containers: PVE may number them.
            assert.deepEqual(problems({ monitoring: MONITORING }), []);
            assert.deepEqual(
                problems({
                    appliance: {
                        ...APPLIANCE,
                        apps: [{ name: "web", port: 80, cores: 1, memory: 64, swap: 0, diskGiB: 2 }],
                    },
                }),
                [],
            );
        });

        it("bridges and subnets of NetBox and the appliance must not collide", () => {
            assert.deepEqual(
                problems({
                    netbox: NETBOX,
                    appliance: {
                        ...APPLIANCE,
                        lanBridge: "vmbr2",
                        lanCidr: "10.100.0.0/23",
                        dhcpRange: { start: "10.100.1.100", end: "10.100.1.200" },
                    },
                }),
                [
                    "proxmox-homelab:appliance.lanCidr: 10.100.0.0/23 overlaps netbox.network.backend.cidr (10.100.0.0/24)",
                    'proxmox-homelab:appliance.lanBridge: "vmbr2" is already used by netbox.network.dmz.name',
                    "proxmox-homelab:appliance.lanCidr: 10.100.0.0/23 overlaps netbox.network.dmz.cidr (10.100.1.0/24)",
                ],
            );
        });

        it("every problem of every section in one ValidationError, before anything is created", () => {
            let error: unknown;
            try {
                loadHomelabConfig(
                    getter({
                        ...CREDENTIALS,
                        sshPrivateKey: "",
                        netbox: { db: { memory: 128 } },
                        appliance: { ...APPLIANCE, memory: 1 },
                        monitoring: { ...MONITORING, vmid: 120, retentionDays: 0 },
                    }),
                    { env: {} },
                );
            } catch (e) {
                error = e;
            }
            assert.ok(error instanceof ValidationError);
            assert.equal(error.subject, "stack config");
            assert.deepEqual(error.problems, [
                "proxmox-homelab:sshPrivateKey (or PVE_SSH_PRIVATE_KEY): missing; set it with " +
                    "`pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
                "proxmox-homelab:netbox.db.memory: must be ≥ 512 MiB, got 128",
                "proxmox-homelab:appliance.memory: must be ≥ 512 MiB, got 1",
                "proxmox-homelab:monitoring.retentionDays: must be ≥ 1 days",
            ]);
            assert.equal(error.message, ["Invalid stack config:", ...error.problems.map((p) => `  - ${p}`)].join("\n"));
        });
    });

    describe("mapping onto the components' args", () => {
        it("a full config maps to exactly these args", () => {
            const c = config(
                {
                    pveNode: "pve2",
                    storage: "tank",
                    templateStorage: "nas",
                    externalBridge: "vmbr9",
                    debianTemplate: "debian-13-standard_13.2-1_amd64.tar.zst",
                    downloads: { httpProxy: "http://192.168.1.5:3128" },
                    tls: { caCommonName: "Home CA", caOrganization: "Home", caValidityHours: 43800 },
                    netbox: {
                        enabled: true,
                        publicName: "netbox.home.lan",
                        network: { monitoringSources: ["192.168.1.0/24"] },
                        db: { memory: 1024 },
                        proxbox: { enabled: false },
                    },
                    appliance: {
                        os: "debian",
                        vmid: 110,
                        storage: "fast",
                        apps: [{ name: "wiki", port: 3000, vmid: 111, cores: 1, memory: 256, swap: 0, diskGiB: 4 }],
                    },
                    monitoring: {
                        vmid: 120,
                        network: { ip: "192.168.1.85/24", gw: "192.168.1.1" },
                        smtp: { ...SMTP, username: "alerts", password: "smtp-pw" },
                        pve: {},
                        grafana: { enabled: false },
                    },
                    pveCaCert: "-----BEGIN CERTIFICATE-----\\nCA\\n-----END CERTIFICATE-----",
                },
                {},
            );
            const downloads = { httpProxy: "http://192.168.1.5:3128" };
            assert.deepEqual(c, {
                node: "pve2",
                storage: "tank",
                templateStorage: "nas",
                externalBridge: "vmbr9",
                templates: {
                    debian: "debian-13-standard_13.2-1_amd64.tar.zst",
                    alpine: "alpine-3.22-default_20250617_amd64.tar.xz",
                },
                downloads,
                tls: { caCommonName: "Home CA", caOrganization: "Home", caValidityHours: 43800 },
                netbox: {
                    enabled: true,
                    args: {
                        node: "pve2",
                        storage: "tank",
                        publicName: "netbox.home.lan",
                        // The monitoring container's static address joins what the user listed.
                        network: { external: "vmbr9", monitoringSources: ["192.168.1.0/24", "192.168.1.85"] },
                        db: { memory: 1024 },
                        proxbox: { enabled: false },
                        downloads,
                    },
                },
                appliance: {
                    enabled: true,
                    args: {
                        node: "pve2",
                        os: "debian",
                        vmid: 110,
                        storage: "fast",
                        wanBridge: "vmbr9",
                        // Monitoring is on: the appliance and its apps run node_exporter.
                        nodeExporter: true,
                        apps: [{ name: "wiki", port: 3000, vmid: 111, cores: 1, memory: 256, swap: 0, diskGiB: 4 }],
                        downloads,
                    },
                },
                monitoring: {
                    enabled: true,
                    args: {
                        node: "pve2",
                        storage: "tank",
                        vmid: 120,
                        network: { ip: "192.168.1.85/24", gw: "192.168.1.1", bridge: "vmbr9" },
                        publicName: "monitoring.home.arpa",
                        smtp: { ...SMTP, username: "alerts", password: "smtp-pw" },
                        pve: {
                            nodeName: "pve2",
                            address: "192.168.1.2",
                            apiUrl: "https://192.168.1.2:8006",
                            caCertPem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----",
                        },
                        grafana: { enabled: false },
                        downloads,
                    },
                },
            });
        });

        it("what the user set wins over the program's defaults", () => {
            const c = config({
                netbox: { network: { external: "vmbr5", monitoringSources: ["192.168.1.85"] } },
                appliance: { ...APPLIANCE, nodeExporter: false, wanBridge: "vmbr5" },
                monitoring: {
                    ...MONITORING,
                    vmid: 120,
                    network: { bridge: "vmbr5", ip: "192.168.1.85/24" },
                    publicName: "mon.home.lan",
                    pve: { address: "192.168.1.3", nodeName: "other", verifyTls: false },
                },
                pveCaCert: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----",
            });
            assert.ok(c.netbox.enabled && c.appliance.enabled && c.monitoring.enabled);
            assert.deepEqual(c.netbox.args.network, { external: "vmbr5", monitoringSources: ["192.168.1.85"] });
            assert.equal(c.appliance.args.nodeExporter, false);
            assert.equal(c.appliance.args.wanBridge, "vmbr5");
            assert.deepEqual(c.monitoring.args.network, { bridge: "vmbr5", ip: "192.168.1.85/24" });
            assert.equal(c.monitoring.args.publicName, "mon.home.lan");
            // verifyTls: false takes no CA (the component refuses both together).
            assert.deepEqual(c.monitoring.args.pve, { address: "192.168.1.3", nodeName: "other", verifyTls: false });
        });

        it("curlDownloads: what containers fetch with curl (a simulator run registers these)", () => {
            const c = config({ netbox: { netboxVersion: "v4.4.8" }, monitoring: { ...MONITORING, vmid: 120 } });
            assert.deepEqual(curlDownloads(c), [
                "https://github.com/netbox-community/netbox/archive/refs/tags/v4.4.8.tar.gz",
                "https://apt.grafana.com/gpg.key",
            ]);
            assert.equal(templateVolid("local", "x.tar.zst"), "local:vztmpl/x.tar.zst");
        });
    });
});

// ---- the stack files ------------------------------------------------------------------------------------------------

interface StackFile {
    config: Record<string, unknown>;
}

const readYaml = (name: string): unknown => yaml.load(fs.readFileSync(path.join(ROOT, name), "utf8"));

/** A stack file's config as the engine hands it to the program: bare keys, strings, objects as JSON text. */
function stackValues(file: StackFile): Values {
    const out: Values = {};
    for (const [key, value] of Object.entries(file.config)) {
        assert.match(key, /^proxmox-homelab:/, `${key} is not in the project's namespace`);
        out[key.slice("proxmox-homelab:".length)] = typeof value === "object" ? value : String(value);
    }
    return out;
}

describe("stack files", () => {
    const project = readYaml("Pulumi.yaml") as {
        name: string;
        config: Record<string, { type?: string; secret?: boolean; default?: unknown; description?: string }>;
    };

    it("Pulumi.yaml declares every key the program and the providers read, with a description", () => {
        assert.equal(project.name, "proxmox-homelab");
        const keys = [
            ...DEPLOY_KEYS,
            ...Object.values(PVE_SETTINGS).map((s) => s.key),
            ...Object.values(SSH_SETTINGS).map((s) => s.key),
        ];
        for (const key of keys) {
            const decl = project.config[key];
            assert.ok(decl, `${key} is not declared in Pulumi.yaml`);
            assert.ok(decl.description, `${key} has no description`);
            // The CLI requires a declared key without a default: every one is optional here.
            assert.notEqual(decl.default, undefined, `${key} has no default, so the CLI would require it`);
        }
        assert.deepEqual(Object.keys(project.config).sort(), [...new Set(keys)].sort());
    });

    it("Pulumi.yaml: the credentials are secret and untyped (a typed secret with a default fails when unset)", () => {
        const secret = Object.entries(project.config)
            .filter(([, d]) => d.secret)
            .map(([k]) => k)
            .sort();
        assert.deepEqual(secret, ["pveApiToken", "pvePassword", "sshPrivateKey"]);
        for (const k of secret) assert.equal(project.config[k].type, undefined, k);
        for (const k of ["downloads", "tls", "netbox", "appliance", "monitoring"]) {
            assert.equal(project.config[k].type, undefined, `${k}: type object refuses JSON text`);
        }
        // Its defaults are a valid config by themselves: nothing deployed.
        const defaults = Object.fromEntries(Object.entries(project.config).map(([k, d]) => [k, d.default]));
        const c = config(
            Object.fromEntries(Object.entries(defaults).filter(([k]) => !(k in CREDENTIALS) || defaults[k] !== "")),
        );
        assert.deepEqual([c.netbox.enabled, c.appliance.enabled, c.monitoring.enabled], [false, false, false]);
    });

    it("Pulumi.dev.yaml parses and validates with the simulator's connection settings; all three components on", () => {
        const dev = readYaml("Pulumi.dev.yaml") as StackFile;
        const values = stackValues(dev);
        for (const key of Object.keys(CREDENTIALS)) assert.ok(!(key in values), `${key} belongs to the harness`);
        const c = config(values);
        assert.ok(c.netbox.enabled && c.appliance.enabled && c.monitoring.enabled);
        assert.equal(c.storage, "local-zfs");
        assert.equal(c.templateStorage, "local");
        assert.equal(c.node, "pve");
        // The files a simulator run registers before deploying (tests/engine/dev-stack.ts).
        assert.deepEqual(curlDownloads(c), [
            "https://github.com/netbox-community/netbox/archive/refs/tags/v4.4.7.tar.gz",
            "https://apt.grafana.com/gpg.key",
        ]);
    });

    it("Pulumi.dev.yaml uses private addresses only", () => {
        const text = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
        const addresses = [...text.matchAll(/\b(\d{1,3})\.(\d{1,3})\.\d{1,3}\.\d{1,3}\b/g)];
        assert.ok(addresses.length > 0);
        for (const [ip, a, b] of addresses) {
            const n = [Number(a), Number(b)];
            const isPrivate =
                n[0] === 10 || (n[0] === 172 && n[1] >= 16 && n[1] <= 31) || (n[0] === 192 && n[1] === 168);
            assert.ok(isPrivate || n[0] === 127, `${ip} is not a private address`);
        }
    });

    it("Pulumi.example.yaml parses and validates once the secrets it tells you to set are set", () => {
        const text = fs.readFileSync(path.join(ROOT, "Pulumi.example.yaml"), "utf8");
        for (const line of [
            "pulumi config set --secret pveApiToken",
            "pulumi config set --secret pvePassword",
            "pulumi config set --secret sshPrivateKey <",
            "pulumi config set --secret --path 'monitoring.smtp.password'",
            "openssl x509 -in /etc/pve/local/pve-ssl.pem -noout -fingerprint -sha256",
            "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
        ]) {
            assert.ok(text.includes(line), `Pulumi.example.yaml does not show: ${line}`);
        }
        const values = stackValues(readYaml("Pulumi.example.yaml") as StackFile);
        for (const key of ["pveApiToken", "pvePassword", "sshPrivateKey"]) {
            assert.ok(!(key in values), `${key} must not be in the example in clear`);
        }
        const monitoring = values.monitoring as { smtp: Record<string, unknown> };
        monitoring.smtp.password = "smtp-password";
        const r = checkHomelabConfig(getter({ ...values, pveApiToken: "t", pvePassword: "p", sshPrivateKey: "k" }), {
            env: {},
            isSecret: (k) => k === "monitoring",
        });
        assert.deepEqual(r.problems, []);
        const c = r.config!;
        assert.ok(c.netbox.enabled && c.appliance.enabled && c.monitoring.enabled);
    });
});

// ---- the program under mocks ----------------------------------------------------------------------------------------

const T = {
    netbox: "proxmox-homelab:netbox:NetboxStack",
    appliance: "proxmox-homelab:appliance:ProximityAppliance",
    monitoring: "proxmox-homelab:monitoring:MonitoringLxc",
    ca: "proxmox-homelab:common:HomelabCa",
    template: "pulumi-nodejs:dynamic/proxmox:Template",
    lxc: "pulumi-nodejs:dynamic/proxmox:Lxc",
    file: "pulumi-nodejs:dynamic/proxmox:File",
};
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const unsecret = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(unsecret);
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SIG_KEY] === SECRET_SIG) return unsecret(o.value);
        return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unsecret(x)]));
    }
    return v;
};

/** Providers as the real ones answer: Lxc reports static addresses, DHCP on vmbr0, and static leases on the LAN. */
function mockState(a: MockResourceArgs, leases: Map<string, string>): Record<string, unknown> {
    const i = unsecret(a.inputs) as Record<string, unknown>;
    switch (a.type) {
        case T.template:
            return { ...i, volid: `${i.storage}:vztmpl/${i.template}`, downloaded: false };
        case T.lxc: {
            const nets = (i.networks ?? []) as { name: string; bridge: string; ip?: string; hwaddr?: string }[];
            const interfaces = nets.map((n) => {
                const lease = leases.get(String(n.hwaddr).toUpperCase());
                const ipv4 =
                    n.ip && n.ip !== "dhcp" ? n.ip : n.bridge === "vmbr0" ? "192.168.1.101/24" : lease && `${lease}/24`;
                return { name: n.name, hwaddr: n.hwaddr ?? "BC:24:11:00:00:01", ipv4 };
            });
            return { ...i, vmid: i.vmid ?? 150, status: "running", pendingChanges: [], interfaces };
        }
        case T.file: {
            const content = String(i.content);
            const m = /^dhcp-host=([^,]+),([^,]+),/m.exec(content);
            if (m) leases.set(m[1].toUpperCase(), m[2]);
            return { ...i, sha256: createHash("sha256").update(content).digest("hex"), size: content.length };
        }
        case "pulumi-nodejs:dynamic/proxmox:Exec":
            return { ...i, exitCode: 0, stdout: "", stderr: "" };
        case "pulumi-nodejs:dynamic/proxmox:Role":
            return { ...i, effectivePrivileges: ["Sys.Audit"], pveMajor: 9 };
        case "pulumi-nodejs:dynamic/proxmox:ApiToken":
            return { ...i, fullTokenId: `${i.userId}!${i.tokenName}`, value: "token-value" };
        case "random:index/randomPassword:RandomPassword":
            // Alphanumeric, as the components ask for (Valkey's config refuses anything else).
            return { ...i, result: `Pw${a.name.replace(/[^A-Za-z0-9]/g, "")}X9`, bcryptHash: "$2a$10$x" };
        case "random:index/randomString:RandomString":
            return { ...i, result: "SaLt1234" };
        case "random:index/randomBytes:RandomBytes":
            return { ...i, base64: "AAAA", hex: "00" };
        case "tls:index/privateKey:PrivateKey":
            return { ...i, privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${a.name}\n-----END PRIVATE KEY-----\n` };
        case "tls:index/selfSignedCert:SelfSignedCert":
            return { ...i, certPem: `-----BEGIN CERTIFICATE-----\nCA ${a.name}\n-----END CERTIFICATE-----\n` };
        case "tls:index/certRequest:CertRequest":
            return { ...i, certRequestPem: "CSR" };
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { ...i, certPem: `-----BEGIN CERTIFICATE-----\nLEAF ${a.name}\n-----END CERTIFICATE-----\n` };
        default:
            return i;
    }
}

/** The config as the engine hands it to the program: namespaced keys, JSON text, plus the secret keys' names. */
function engineConfig(values: Values): Record<string, string> {
    return Object.fromEntries(
        Object.entries(values).map(([k, v]) => [`proxmox-homelab:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
    );
}

describe("the program (index.ts) under mocks", function () {
    this.timeout(120_000);
    const created: MockResourceArgs[] = [];
    let main: () => Promise<Record<string, pulumi.Output<unknown>>>;

    before(async () => {
        const leases = new Map<string, string>();
        await pulumi.runtime.setMocks(
            {
                newResource(args) {
                    created.push(args);
                    return { id: args.custom ? `${args.name}-id` : undefined, state: mockState(args, leases) };
                },
                call(args) {
                    throw new Error(`unexpected provider call ${args.token}`);
                },
            },
            "proxmox-homelab",
            "dev",
            false,
        );
        main = require("../../index");
    });

    after(() => pulumi.runtime.setAllConfig({}, []));

    const value = <X>(o: pulumi.Output<X>): Promise<X> => new Promise((resolve) => o.apply((v) => resolve(v)));

    it("invalid config throws the ValidationError and registers no resource at all", async () => {
        pulumi.runtime.setAllConfig(
            engineConfig({ ...CREDENTIALS, sshHostKeyFingerprint: "", netbox: { db: { memory: 128 } } }),
            ["proxmox-homelab:pveApiToken", "proxmox-homelab:pvePassword", "proxmox-homelab:sshPrivateKey"],
        );
        const before = created.length;
        await assert.rejects(main(), (e: unknown) => {
            assert.ok(e instanceof ValidationError);
            assert.deepEqual(e.problems, [
                "proxmox-homelab:sshHostKeyFingerprint (or PVE_SSH_HOST_KEY_FINGERPRINT) or " +
                    "proxmox-homelab:sshKnownHosts (or PVE_SSH_KNOWN_HOSTS): missing; pin the node's SSH host key " +
                    "(run `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the node)",
                "proxmox-homelab:netbox.db.memory: must be ≥ 512 MiB, got 128",
            ]);
            return true;
        });
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(created.length, before);
    });

    it("the dev stack: the three components wired together; passwords are secret outputs", async () => {
        const dev = stackValues(readYaml("Pulumi.dev.yaml") as StackFile);
        pulumi.runtime.setAllConfig(engineConfig({ ...CREDENTIALS, ...dev }), [
            "proxmox-homelab:pveApiToken",
            "proxmox-homelab:pvePassword",
            "proxmox-homelab:sshPrivateKey",
        ]);
        const before = created.length;
        const outputs = await main();
        // Registrations finish asynchronously: wait until no new one arrives.
        for (let n = -1; n !== created.length;) {
            n = created.length;
            await new Promise((r) => setTimeout(r, 300));
        }
        const resolved = Object.fromEntries(
            await Promise.all(Object.entries(outputs).map(async ([k, o]) => [k, await value(o)] as const)),
        );
        const mine = created.slice(before);
        const names = (type: string) => mine.filter((r) => r.type === type).map((r) => r.name);

        assert.deepEqual(names(T.netbox), [COMPONENT_NAMES.netbox]);
        assert.deepEqual(names(T.appliance), [COMPONENT_NAMES.appliance]);
        assert.deepEqual(names(T.monitoring), [COMPONENT_NAMES.monitoring]);
        assert.deepEqual(names(T.ca), ["homelab-ca"]);
        // One Debian template for all three (the dev appliance is Debian), already on the simulator.
        assert.deepEqual(names(T.template), ["debian-template"]);
        const template = mine.find((r) => r.type === T.template)!;
        assert.deepEqual(template.inputs, {
            node: "pve",
            storage: "local",
            template: "debian-13-standard_13.1-2_amd64.tar.zst",
            __provider: template.inputs.__provider,
        });
        const vmids = mine.filter((r) => r.type === T.lxc).map((r) => r.inputs.vmid);
        assert.deepEqual(vmids.sort(), [100, 101, 102, 103, 110, 111, 120]);

        assert.deepEqual(Object.keys(outputs).sort(), [
            "alertmanagerUrl",
            "applianceApps",
            "applianceCockpitPassword",
            "applianceCockpitUrl",
            "applianceCockpitUser",
            "applianceLanCidr",
            "applianceLanGateway",
            "applianceWanAddress",
            "grafanaAdminPassword",
            "grafanaAdminUser",
            "grafanaUrl",
            "homelabCaCertPem",
            "monitoringAddress",
            "monitoringBasicAuthPassword",
            "monitoringBasicAuthUser",
            "netboxAdminPassword",
            "netboxAdminUser",
            "netboxCaCertPem",
            "netboxContainers",
            "netboxUrl",
            "prometheusUrl",
        ]);
        const secret = [];
        for (const [k, o] of Object.entries(outputs)) if (await pulumi.isSecret(o)) secret.push(k);
        assert.deepEqual(secret.sort(), [
            "applianceCockpitPassword",
            "grafanaAdminPassword",
            "monitoringBasicAuthPassword",
            "netboxAdminPassword",
        ]);
        assert.equal(resolved.netboxUrl, "https://netbox.dev.home.arpa/");
        assert.equal(resolved.prometheusUrl, "https://monitoring.dev.home.arpa/prometheus/");
        assert.equal(resolved.monitoringAddress, "192.168.1.85");
        assert.equal(resolved.applianceLanCidr, "10.20.0.0/24");
        assert.equal(resolved.applianceWanAddress, "192.168.1.101");
        assert.equal(
            resolved.homelabCaCertPem,
            "-----BEGIN CERTIFICATE-----\nCA homelab-ca-cert\n-----END CERTIFICATE-----\n",
        );
        assert.equal(resolved.netboxCaCertPem, resolved.homelabCaCertPem);
        assert.equal(resolved.netboxAdminPassword, "PwnetboxadminpasswordX9");

        // Monitoring scrapes what the others deployed: NetBox's containers and the appliance's, through their targets.
        const prometheus = mine.find((r) => r.type === T.file && r.name === "monitoring-prometheus-config");
        assert.ok(prometheus, "monitoring-prometheus-config not registered");
        const yml = String(unsecret(prometheus.inputs.content));
        for (const target of [
            "10.100.0.10:9100",
            "10.100.1.40:9100",
            "192.168.1.101:9100",
            "https://netbox.dev.home.arpa/",
        ]) {
            assert.ok(yml.includes(target), `prometheus.yml does not scrape ${target}`);
        }
    });
});
