import assert from "node:assert/strict";
import {
    backoffDelay,
    classifyFailure,
    DEFAULT_RETRY_POLICY,
    PveApiError,
    PveClient,
    PveConnectionError,
    PveOutcomeUnknownError,
} from "../../providers/proxmox";
import { z } from "zod";
import { FakeClock, Fixture, ok, RecordedRequest, reply, startFixture, TEST_TOKEN, testPki } from "./fixture";

type Res = Parameters<typeof reply>[0];

/** Answers the first `n` requests with `fail`, the rest with `{data: "done"}`. */
function failFirst(n: number, fail: (req: RecordedRequest, res: Res) => void) {
    let seen = 0;
    return (req: RecordedRequest, res: Res) => (seen++ < n ? fail(req, res) : ok(res, "done"));
}

const hangUp = (_req: RecordedRequest, res: Res): void => {
    res.socket?.destroy();
};
const pveError = (status: number, message: string) => (_req: RecordedRequest, res: Res) =>
    reply(res, status, { data: null, message: `${message}\n` }, message.split("\n")[0]);

describe("retries", () => {
    let fixture: Fixture;
    let clock: FakeClock;
    let client: PveClient;

    function makeClient(url: string, requestTimeoutMs = 5_000): PveClient {
        return new PveClient(
            { endpoint: url, username: "root@pam", token: TEST_TOKEN, tls: { ca: testPki().caPem, insecure: false } },
            { clock, random: () => 0.5, requestTimeoutMs },
        );
    }

    beforeEach(async () => {
        clock = new FakeClock();
        fixture = await startFixture((_req, res) => ok(res, "done"));
        client = makeClient(fixture.url);
    });
    afterEach(async () => {
        client.close();
        await fixture.close();
    });

    const count = (method: string) => fixture.requests.filter((r) => r.method === method).length;

    it("backs off exponentially with full jitter, capped", () => {
        const policy = DEFAULT_RETRY_POLICY;
        assert.deepEqual(policy, { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 5_000 });
        const top = (n: number) => backoffDelay(n, policy, () => 0.999999);
        assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8].map(top), [199, 399, 799, 1599, 3199, 4999, 4999, 4999]);
        assert.deepEqual(
            [1, 2, 3].map((n) => backoffDelay(n, policy, () => 0)),
            [0, 0, 0],
        );
        assert.equal(
            backoffDelay(3, policy, () => 0.5),
            400,
        );
    });

    describe("idempotent requests (GET/PUT/DELETE) are sent again on transient failures", () => {
        it("ECONNRESET / socket hang up", async () => {
            fixture.handler = failFirst(2, hangUp);
            assert.equal(await client.get("/version"), "done");
            assert.equal(count("GET"), 3);
            assert.deepEqual(clock.sleeps, [100, 200]);
        });

        it("ECONNREFUSED (the node's pveproxy restarting)", async () => {
            const port = fixture.port;
            await fixture.close();
            let sleeps = 0;
            clock.onSleep = async () => {
                if (++sleeps === 2) fixture = await startFixture((_req, res) => ok(res, "back"), undefined, port);
            };
            assert.equal(await client.put("/nodes/pve/lxc/100/config", { cores: 2 }), "back");
            assert.equal(clock.sleeps.length, 2);
        });

        it("ETIMEDOUT: no answer within the request timeout", async () => {
            client.close();
            client = makeClient(fixture.url, 150);
            fixture.handler = failFirst(1, () => undefined);
            assert.equal(await client.get("/version"), "done");
            assert.equal(count("GET"), 2);
        });

        for (const [status, message] of [
            [595, "Connection refused"],
            [595, "Broken pipe"],
            [596, "Connection timed out"],
            [502, "Bad Gateway"],
            [503, "Service Unavailable"],
        ] as const) {
            it(`${status} ${message}`, async () => {
                fixture.handler = failFirst(1, pveError(status, message));
                assert.equal(await client.delete("/nodes/pve/network"), "done");
                assert.equal(count("DELETE"), 2);
            });
        }

        it("locks: `got timeout` and `is locked`", async () => {
            fixture.handler = failFirst(2, (_req, res) =>
                (fixture.requests.length === 1
                    ? pveError(500, "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout")
                    : pveError(500, "CT is locked (create)"))(_req, res),
            );
            assert.equal(await client.put("/nodes/pve/lxc/101/config", { cores: 2 }), "done");
            assert.equal(count("PUT"), 3);
        });

        it("gives up after 6 attempts with the last error", async () => {
            fixture.handler = pveError(596, "Connection timed out");
            await assert.rejects(
                client.get("/version"),
                (err: unknown) => err instanceof PveApiError && err.status === 596,
            );
            assert.equal(count("GET"), 6);
            assert.equal(clock.sleeps.length, 5);
        });
    });

    describe("permanent failures are not retried", () => {
        for (const [status, message] of [
            [400, "Parameter verification failed."],
            [403, "Permission check failed (/vms/100, VM.Allocate)"],
            [500, "CT 101 already exists on node 'pve'"],
            [500, "Configuration file 'nodes/pve/lxc/101.conf' does not exist"],
            [501, "Method 'GET /nope' not implemented"],
        ] as const) {
            it(`${status} ${message}`, async () => {
                fixture.handler = pveError(status, message);
                await assert.rejects(client.get("/x"), PveApiError);
                assert.equal(fixture.requests.length, 1);
                assert.deepEqual(clock.sleeps, []);
            });
        }

        it("a schema mismatch", async () => {
            fixture.handler = (_req, res) => ok(res, 42);
            await assert.rejects(client.get("/version", undefined, z.string()), /unexpected response/);
            assert.equal(fixture.requests.length, 1);
        });
    });

    describe("non-idempotent POSTs are never blindly repeated", () => {
        it("a POST lost after sending, without verify: outcome unknown, sent exactly once", async () => {
            fixture.handler = hangUp;
            await assert.rejects(client.post("/nodes/pve/lxc", { vmid: 101 }, z.string()), (err: unknown) => {
                assert.ok(err instanceof PveOutcomeUnknownError);
                assert.ok(err.cause instanceof PveConnectionError);
                assert.match(err.message, /^POST \/nodes\/pve\/lxc: outcome unknown after .*not repeated$/);
                return true;
            });
            assert.equal(count("POST"), 1);
        });

        it("verify says it took effect: its result is returned and the POST is sent exactly once", async () => {
            fixture.handler = hangUp;
            const failures: Error[] = [];
            const upid = await client.post("/nodes/pve/lxc", { vmid: 101 }, z.string(), {
                verify: async (failure) => {
                    failures.push(failure);
                    return { tookEffect: true, result: "UPID:from-verify" };
                },
            });
            assert.equal(upid, "UPID:from-verify");
            assert.equal(count("POST"), 1);
            assert.equal(failures.length, 1);
            assert.ok(failures[0] instanceof PveConnectionError);
        });

        it("verify says it did not take effect: sent again", async () => {
            fixture.handler = failFirst(1, hangUp);
            let verified = 0;
            const result = await client.post("/nodes/pve/lxc", { vmid: 101 }, z.string(), {
                verify: async () => {
                    verified++;
                    return { tookEffect: false };
                },
            });
            assert.equal(result, "done");
            assert.equal(verified, 1);
            assert.equal(count("POST"), 2);
        });

        it("a 5xx of unknown effect consults verify", async () => {
            fixture.handler = failFirst(1, pveError(596, "Connection timed out"));
            let verified = 0;
            await client.post("/nodes/pve/lxc", {}, z.string(), {
                verify: async () => {
                    verified++;
                    return { tookEffect: false };
                },
            });
            assert.equal(verified, 1);
            assert.equal(count("POST"), 2);
        });

        it("a verify that fails leaves the outcome unknown and says why", async () => {
            fixture.handler = hangUp;
            await assert.rejects(
                client.post("/nodes/pve/lxc", {}, z.string(), {
                    verify: async () => {
                        throw new Error("tasks endpoint unreachable");
                    },
                }),
                /outcome unknown after .*verifying whether it took effect failed too: tasks endpoint unreachable/,
            );
            assert.equal(count("POST"), 1);
        });

        for (const [label, fail] of [
            ["CT is locked", pveError(500, "CT 101 is locked (create)")],
            [
                "can't lock file ... got timeout",
                pveError(500, "can't lock file '/run/lock/lxc/pve-config-101.lock' - got timeout"),
            ],
            ["595 Connection refused", pveError(595, "Connection refused")],
            ["503", pveError(503, "Service Unavailable")],
        ] as const) {
            it(`a clear pre-effect failure (${label}) is retried without verify`, async () => {
                fixture.handler = failFirst(1, fail);
                assert.equal(await client.post("/nodes/pve/lxc/101/status/start", {}, z.string()), "done");
                assert.equal(count("POST"), 2);
            });
        }

        it("ECONNREFUSED is retried: nothing was sent", async () => {
            const port = fixture.port;
            await fixture.close();
            clock.onSleep = async () => {
                if (clock.sleeps.length === 1)
                    fixture = await startFixture((_req, res) => ok(res, "created"), undefined, port);
            };
            assert.equal(await client.post("/nodes/pve/lxc", { vmid: 101 }, z.string()), "created");
            assert.equal(count("POST"), 1);
        });

        it("an ambiguous failure on the last attempt is still settled by verify", async () => {
            client.close();
            client = new PveClient(
                {
                    endpoint: fixture.url,
                    username: "root@pam",
                    token: TEST_TOKEN,
                    tls: { ca: testPki().caPem, insecure: false },
                },
                { clock, random: () => 0.5, retry: { maxAttempts: 2 } },
            );
            fixture.handler = failFirst(1, pveError(500, "CT 101 is locked (backup)"));
            const second = fixture.handler;
            fixture.handler = (req, res) => (fixture.requests.length === 1 ? second(req, res) : hangUp(req, res));
            const result = await client.post("/nodes/pve/lxc/101/status/start", {}, z.string(), {
                verify: async () => ({ tookEffect: true, result: "UPID:verified" }),
            });
            assert.equal(result, "UPID:verified");
            assert.equal(count("POST"), 2);
        });

        it("a 4xx POST is not retried", async () => {
            fixture.handler = pveError(400, "Parameter verification failed.");
            await assert.rejects(client.post("/nodes/pve/lxc", {}, z.string()), PveApiError);
            assert.equal(count("POST"), 1);
        });

        it("POSTs use fresh connections while GETs reuse a keep-alive one", async () => {
            for (let i = 0; i < 3; i++) await client.get("/version");
            const afterGets = fixture.connections;
            assert.equal(afterGets, 1);
            await client.post("/a", {});
            await client.post("/b", {});
            assert.equal(fixture.connections, afterGets + 2);
        });
    });

    it("classifies failures as documented", () => {
        const api = (status: number, pveMessage: string) =>
            classifyFailure(new PveApiError({ status, pveMessage, method: "POST", path: "/x" })).kind;
        const conn = (code: string, sent: boolean) =>
            classifyFailure(new PveConnectionError({ method: "POST", path: "/x", code, detail: "d", sent })).kind;
        assert.equal(conn("ECONNREFUSED", false), "pre-effect");
        assert.equal(conn("ETIMEDOUT", false), "pre-effect");
        assert.equal(conn("ENOTFOUND", false), "permanent");
        assert.equal(conn("ECONNRESET", true), "ambiguous");
        assert.equal(conn("ETIMEDOUT", true), "ambiguous");
        assert.equal(api(500, "CT 100 is locked (backup)"), "pre-effect");
        assert.equal(api(500, "can't lock file '/var/lock/x' - got timeout"), "pre-effect");
        assert.equal(api(500, "command 'lxc-stop' failed: got timeout"), "ambiguous");
        assert.equal(api(595, "Connection refused"), "pre-effect");
        assert.equal(api(596, "Broken pipe"), "ambiguous");
        assert.equal(api(502, "Bad Gateway"), "ambiguous");
        assert.equal(api(500, "CT 100 not running"), "permanent");
        assert.equal(api(401, "invalid ticket"), "permanent");
        assert.equal(classifyFailure(new TypeError("bug")).kind, "permanent");
    });
});
