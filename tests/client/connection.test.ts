import assert from "node:assert/strict";
import { PveConfigError, resolveConnection } from "../../providers/proxmox";
import { testPki } from "./fixture";

/** A stack config as the dynamic-provider host presents it: full `namespace:key` names. */
function config(values: Record<string, string>) {
    return { get: (key: string) => values[key] };
}

const TOKEN = "deploy@pve!pulumi=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const FP = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

function problemsOf(fn: () => unknown): readonly string[] {
    try {
        fn();
    } catch (err) {
        assert.ok(err instanceof PveConfigError, `expected PveConfigError, got ${String(err)}`);
        return err.problems;
    }
    assert.fail("expected resolveConnection to throw");
}

describe("resolveConnection", () => {
    it("reads token settings from stack config", () => {
        const s = resolveConnection(
            config({
                "proxmox-homelab:pveEndpoint": "https://pve.lan:8006/",
                "proxmox-homelab:pveApiToken": TOKEN,
                "proxmox-homelab:pveTlsFingerprint": FP.toLowerCase().replace(/:/g, ""),
            }),
            {},
        );
        assert.deepEqual(s, {
            endpoint: "https://pve.lan:8006",
            username: "root@pam",
            token: { tokenId: "deploy@pve!pulumi", secret: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" },
            tls: { insecure: false, fingerprint: FP },
        });
    });

    it("lets environment variables override stack config, and ignores empty ones", () => {
        const s = resolveConnection(
            config({
                "proxmox-homelab:pveEndpoint": "https://config:8006",
                "proxmox-homelab:pvePassword": "from-config",
                "proxmox-homelab:pveUsername": "admin@pve",
            }),
            {
                PVE_ENDPOINT: "https://env:8006/api2/json",
                PVE_PASSWORD: "from-env",
                PVE_USERNAME: "",
                PVE_INSECURE: "true",
            },
        );
        assert.equal(s.endpoint, "https://env:8006");
        assert.equal(s.password, "from-env");
        assert.equal(s.username, "admin@pve");
        assert.equal(s.token, undefined);
        assert.deepEqual(s.tls, { insecure: true });
    });

    it("accepts bare keys (pulumi.Config of the project namespace)", () => {
        const values: Record<string, string> = { pveEndpoint: "https://pve:8006", pveApiToken: TOKEN };
        const s = resolveConnection({ get: (key) => values[key] }, {});
        assert.equal(s.token?.tokenId, "deploy@pve!pulumi");
    });

    it("names the key and the variable for a malformed token, without echoing the secret", () => {
        const problems = problemsOf(() =>
            resolveConnection(config({ "proxmox-homelab:pveEndpoint": "https://pve:8006" }), {
                PVE_API_TOKEN: "deploy@pve:topsecret",
            }),
        );
        assert.deepEqual(problems, [
            "proxmox-homelab:pveApiToken (or PVE_API_TOKEN): must look like user@realm!tokenid=secret",
        ]);
        assert.ok(!problems.join("\n").includes("topsecret"));
    });

    it("names both credentials when neither is set", () => {
        const problems = problemsOf(() =>
            resolveConnection(config({ "proxmox-homelab:pveEndpoint": "https://pve:8006" }), {}),
        );
        assert.equal(problems.length, 1);
        assert.match(problems[0], /proxmox-homelab:pveApiToken \(or PVE_API_TOKEN\)/);
        assert.match(problems[0], /proxmox-homelab:pvePassword \(or PVE_PASSWORD\)/);
    });

    it("reports every problem at once", () => {
        const problems = problemsOf(() =>
            resolveConnection(config({}), {
                PVE_TLS_FINGERPRINT: "12:34",
                PVE_USERNAME: "root",
                PVE_INSECURE: "maybe",
                PVE_CA_CERT: "not a pem",
            }),
        );
        assert.deepEqual(problems, [
            "proxmox-homelab:pveEndpoint (or PVE_ENDPOINT): missing; set it to the API URL, e.g. https://pve:8006",
            "proxmox-homelab:pveUsername (or PVE_USERNAME): must look like user@realm, e.g. root@pam",
            "credentials missing: set proxmox-homelab:pveApiToken (or PVE_API_TOKEN) or proxmox-homelab:pvePassword " +
                "(or PVE_PASSWORD) (with proxmox-homelab:pveUsername (or PVE_USERNAME), default root@pam)",
            "proxmox-homelab:pveTlsFingerprint (or PVE_TLS_FINGERPRINT): must be a SHA-256 fingerprint: 64 hex digits, " +
                "colons optional (AB:CD:...), got '12:34'",
            "proxmox-homelab:pveCaCert (or PVE_CA_CERT): must be a PEM certificate (-----BEGIN CERTIFICATE----- ...)",
            "proxmox-homelab:pveInsecure (or PVE_INSECURE): must be true or false, got 'maybe'",
        ]);
    });

    it("refuses plain http, paths and unparsable endpoints", () => {
        for (const [endpoint, pattern] of [
            ["http://pve:8006", /must use https:\/\//],
            ["https://pve:8006/somewhere", /without a path/],
            ["pve:8006", /must (be a URL|use https)/],
        ] as const) {
            const problems = problemsOf(() =>
                resolveConnection(config({}), { PVE_ENDPOINT: endpoint, PVE_API_TOKEN: TOKEN }),
            );
            assert.equal(problems.length, 1, endpoint);
            assert.match(problems[0], /^proxmox-homelab:pveEndpoint \(or PVE_ENDPOINT\): /);
            assert.match(problems[0], pattern);
        }
    });

    it("reads pveTaskTimeoutSeconds: whole seconds, 0 as unset, anything else named with its rule", () => {
        const base = { PVE_ENDPOINT: "https://pve:8006", PVE_API_TOKEN: TOKEN, PVE_TLS_FINGERPRINT: FP };
        assert.equal(resolveConnection(config({}), base).taskTimeoutMs, undefined);
        assert.equal(
            resolveConnection(config({ "proxmox-homelab:pveTaskTimeoutSeconds": "0" }), base).taskTimeoutMs,
            undefined,
        );
        assert.equal(
            resolveConnection(config({ "proxmox-homelab:pveTaskTimeoutSeconds": "3600" }), base).taskTimeoutMs,
            3_600_000,
        );
        for (const bad of ["-5", "1.5", "ten", "86401"]) {
            const problems = problemsOf(() =>
                resolveConnection(config({}), { ...base, PVE_TASK_TIMEOUT_SECONDS: bad }),
            );
            assert.deepEqual(problems, [
                "proxmox-homelab:pveTaskTimeoutSeconds (or PVE_TASK_TIMEOUT_SECONDS): must be a whole number of " +
                    `seconds from 1 to 86400 (0: each kind's default), got '${bad}'`,
            ]);
        }
    });

    it("refuses insecure together with a pin or CA", () => {
        const problems = problemsOf(() =>
            resolveConnection(config({}), {
                PVE_ENDPOINT: "https://pve:8006",
                PVE_API_TOKEN: TOKEN,
                PVE_INSECURE: "1",
                PVE_TLS_FINGERPRINT: FP,
            }),
        );
        assert.equal(problems.length, 1);
        assert.match(problems[0], /pveInsecure \(or PVE_INSECURE\): conflicts with/);
    });

    it("accepts a CA PEM with literal \\n escapes, as environment variables often carry it", () => {
        const pem = testPki().caPem;
        const s = resolveConnection(config({}), {
            PVE_ENDPOINT: "https://pve:8006",
            PVE_API_TOKEN: TOKEN,
            PVE_CA_CERT: pem.replace(/\n/g, "\\n"),
        });
        assert.equal(s.tls.ca, pem);
    });
});
