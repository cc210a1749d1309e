import assert from "node:assert/strict";
import * as https from "node:https";
import {
    normaliseFingerprint,
    PveClient,
    PveConnectionSettings,
    PveTlsError,
    PveTlsSettings,
} from "../../providers/proxmox";
import { Fixture, ok, startFixture, TEST_TOKEN, testPki } from "./fixture";

function client(url: string, tls: PveTlsSettings, warnings: string[] = []): PveClient {
    const settings: PveConnectionSettings = { endpoint: url, username: "root@pam", token: TEST_TOKEN, tls };
    return new PveClient(settings, { logger: { warn: (m) => warnings.push(m) }, retry: { maxAttempts: 1 } });
}

async function refusal(c: PveClient): Promise<PveTlsError> {
    try {
        await c.get("/version");
    } catch (err) {
        assert.ok(err instanceof PveTlsError, `expected PveTlsError, got ${String(err)}`);
        return err;
    } finally {
        c.close();
    }
    assert.fail("expected the connection to be refused");
}

describe("TLS verification", () => {
    let fixture: Fixture | undefined;
    afterEach(async () => {
        await fixture?.close();
        fixture = undefined;
    });

    it("normalises fingerprints: any case, with or without colons", () => {
        const canonical = testPki().server.fingerprint;
        assert.equal(normaliseFingerprint(canonical.toLowerCase()), canonical);
        assert.equal(normaliseFingerprint(canonical.replace(/:/g, "")), canonical);
        assert.equal(normaliseFingerprint(`  sha256:${canonical.toLowerCase()} `), canonical);
        assert.equal(normaliseFingerprint("AB:CD"), undefined);
        assert.equal(normaliseFingerprint("zz".repeat(32)), undefined);
    });

    it("trusts a server whose certificate the configured CA signed", async () => {
        fixture = await startFixture((_req, res) => ok(res, { version: "9.1.1", release: "9.1" }));
        const c = client(fixture.url, { ca: testPki().caPem, insecure: false });
        assert.deepEqual(await c.get("/version"), { version: "9.1.1", release: "9.1" });
        c.close();
    });

    it("refuses a CA-signed certificate for another host name, before sending anything", async () => {
        fixture = await startFixture((_req, res) => ok(res, null), testPki().wrongName);
        const err = await refusal(client(fixture.url, { ca: testPki().caPem, insecure: false }));
        assert.match(err.message, /is not trusted \(ERR_TLS_CERT_ALTNAME_INVALID/);
        assert.match(err.message, /pveCaCert \(or PVE_CA_CERT\)/);
        assert.equal(fixture.requests.length, 0);
    });

    it("accepts a self-signed certificate whose SHA-256 matches the pin", async () => {
        fixture = await startFixture((_req, res) => ok(res, "pinned"), testPki().selfSigned);
        const c = client(fixture.url, { fingerprint: testPki().selfSigned.fingerprint, insecure: false });
        assert.equal(await c.get("/version"), "pinned");
        c.close();
    });

    it("refuses a pin mismatch, showing the fingerprint seen and the one expected, with no request sent", async () => {
        fixture = await startFixture((_req, res) => ok(res, null), testPki().selfSigned);
        const expected = testPki().server.fingerprint;
        const err = await refusal(client(fixture.url, { fingerprint: expected, insecure: false }));
        const seen = testPki().selfSigned.fingerprint;
        assert.equal(err.seenFingerprint, seen);
        assert.equal(err.expectedFingerprint, expected);
        assert.ok(err.message.includes(`seen:     ${seen}`), err.message);
        assert.ok(err.message.includes(`expected: ${expected}`), err.message);
        assert.match(err.message, /pveTlsFingerprint \(or PVE_TLS_FINGERPRINT\)/);
        assert.equal(fixture.requests.length, 0, "no byte of the request (and its token) may reach the server");
        assert.equal(fixture.connections, 1, "a TLS refusal is not retried");
    });

    it("without a pin or CA, refuses PVE's self-signed certificate and tells how to pin it", async () => {
        fixture = await startFixture((_req, res) => ok(res, null), testPki().selfSigned);
        const err = await refusal(client(fixture.url, { insecure: false }));
        assert.equal(err.seenFingerprint, testPki().selfSigned.fingerprint);
        assert.ok(
            err.message.includes(`pveTlsFingerprint (or PVE_TLS_FINGERPRINT) = ${err.seenFingerprint}`),
            err.message,
        );
        assert.equal(fixture.requests.length, 0);
    });

    it("insecure mode connects to anything and warns loudly, once per endpoint", async () => {
        fixture = await startFixture((_req, res) => ok(res, "insecure"), testPki().selfSigned);
        const warnings: string[] = [];
        const a = client(fixture.url, { insecure: true }, warnings);
        const b = client(fixture.url, { insecure: true }, warnings);
        assert.equal(await a.get("/version"), "insecure");
        assert.equal(await b.get("/version"), "insecure");
        a.close();
        b.close();
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], /^WARNING: TLS certificate verification is DISABLED for https:\/\/127\.0\.0\.1:\d+/);
    });

    it("leaves process-wide TLS settings alone", async () => {
        fixture = await startFixture((_req, res) => ok(res, null), testPki().selfSigned);
        const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
        const c = client(fixture.url, { insecure: true });
        await c.get("/version");
        c.close();
        assert.equal(process.env.NODE_TLS_REJECT_UNAUTHORIZED, before);
        assert.equal(https.globalAgent.options.rejectUnauthorized, undefined);
        assert.equal(https.globalAgent.options.ca, undefined);
    });
});
