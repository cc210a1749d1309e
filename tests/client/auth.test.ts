import assert from "node:assert/strict";
import {
    PveApiError,
    PveClient,
    PveConfigError,
    PveConnectionSettings,
    TICKET_REFRESH_AFTER_MS,
} from "../../providers/proxmox";
import { FakeClock, Fixture, ok, RecordedRequest, reply, startFixture, TEST_TOKEN, testPki } from "./fixture";

/** Emulates PVE's ticket flow: valid tickets are in `valid`; `expire()` drops them all (a 2 h old ticket). */
class TicketServer {
    logins = 0;
    valid = new Set<string>();
    csrfFor = new Map<string, string>();
    password = "s3cret-pw";
    user = "root@pam";
    tfa = false;

    expire(): void {
        this.valid.clear();
    }

    handle(req: RecordedRequest, res: Parameters<typeof reply>[0]): void {
        if (req.path === "/api2/json/access/ticket" && req.method === "POST") {
            if (req.form.get("username") !== this.user || req.form.get("password") !== this.password) {
                reply(res, 401, { data: null, message: "authentication failure\n" }, "authentication failure");
                return;
            }
            this.logins++;
            const ticket = `PVE:${this.user}:6553F1${String(this.logins).padStart(2, "0")}::c2lnbmF0dXJl+/=`;
            const csrf = `6553F100:csrf${this.logins}`;
            this.valid.add(ticket);
            this.csrfFor.set(ticket, csrf);
            const grant = this.tfa
                ? { username: this.user, ticket: `PVE:!tfa!${this.user}:x`, CSRFPreventionToken: csrf, NeedTFA: 1 }
                : { username: this.user, ticket, CSRFPreventionToken: csrf, cap: {} };
            ok(res, grant);
            return;
        }
        const cookie = /PVEAuthCookie=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
        if (!cookie || !this.valid.has(cookie)) {
            reply(res, 401, { data: null, message: "invalid PVE ticket\n" }, "invalid PVE ticket");
            return;
        }
        if (req.method !== "GET" && req.headers.csrfpreventiontoken !== this.csrfFor.get(cookie)) {
            reply(
                res,
                401,
                { data: null, message: "Permission denied - invalid csrf token\n" },
                "Permission denied - invalid csrf token",
            );
            return;
        }
        ok(res, { method: req.method, path: req.path });
    }
}

function ticketSettings(url: string, password = "s3cret-pw", username = "root@pam"): PveConnectionSettings {
    return { endpoint: url, username, password, tls: { ca: testPki().caPem, insecure: false } };
}

describe("authentication", () => {
    let fixture: Fixture;
    let server: TicketServer;
    const clients: PveClient[] = [];
    const track = (c: PveClient) => {
        clients.push(c);
        return c;
    };

    beforeEach(async () => {
        server = new TicketServer();
        fixture = await startFixture((req, res) => server.handle(req, res));
    });
    afterEach(async () => {
        clients.splice(0).forEach((c) => c.close());
        await fixture.close();
    });

    describe("API token", () => {
        it("sends PVEAPIToken on every request and no cookie or CSRF header", async () => {
            fixture.handler = (_req, res) => ok(res, null);
            const c = track(
                new PveClient({
                    endpoint: fixture.url,
                    username: "root@pam",
                    token: TEST_TOKEN,
                    tls: { ca: testPki().caPem, insecure: false },
                }),
            );
            await c.get("/version");
            await c.post("/nodes/pve/lxc", { vmid: 100 });
            for (const req of fixture.requests) {
                assert.equal(req.headers.authorization, `PVEAPIToken=root@pam!ci=${TEST_TOKEN.secret}`);
                assert.equal(req.headers.cookie, undefined);
                assert.equal(req.headers.csrfpreventiontoken, undefined);
            }
            assert.equal(c.identity, "root@pam!ci");
            assert.equal(c.isRoot, false, "a token is never root@pam, not even root's own");
            assert.equal(c.authKind, "token");
        });

        it("does not retry a refused token and says which setting to check", async () => {
            fixture.handler = (_req, res) => reply(res, 401, { data: null }, "invalid token value!");
            const c = track(
                new PveClient({
                    endpoint: fixture.url,
                    username: "root@pam",
                    token: TEST_TOKEN,
                    tls: { ca: testPki().caPem, insecure: false },
                }),
            );
            await assert.rejects(c.get("/version"), (err: unknown) => {
                assert.ok(err instanceof PveApiError);
                assert.equal(
                    err.toString(),
                    "GET /version: 401 invalid token value! [check proxmox-homelab:pveApiToken (or PVE_API_TOKEN)]",
                );
                assert.ok(!err.message.includes(TEST_TOKEN.secret));
                return true;
            });
            assert.equal(fixture.requests.length, 1);
        });

        it("prefers the token when both are configured, and uses the ticket when asked", async () => {
            const settings = { ...ticketSettings(fixture.url), token: TEST_TOKEN };
            assert.equal(track(new PveClient(settings)).authKind, "token");
            const root = track(new PveClient(settings, { auth: "ticket" }));
            await root.get("/version");
            assert.equal(root.isRoot, true);
        });
    });

    describe("ticket", () => {
        it("logs in with username/password, sends the cookie, and CSRF only on writes", async () => {
            const c = track(new PveClient(ticketSettings(fixture.url)));
            await c.get("/nodes");
            await c.post("/nodes/pve/lxc", { vmid: 100 });
            await c.put("/nodes/pve/lxc/100/config", { cores: 2 });
            await c.delete("/nodes/pve/lxc/100");
            const [login, get, post, put, del] = fixture.requests;
            assert.equal(login.path, "/api2/json/access/ticket");
            assert.equal(login.headers["content-type"], "application/x-www-form-urlencoded");
            assert.equal(login.form.get("username"), "root@pam");
            assert.equal(login.form.get("password"), "s3cret-pw");
            assert.equal(login.headers.cookie, undefined);
            assert.equal(get.headers.csrfpreventiontoken, undefined, "GET carries no CSRF token");
            assert.equal(get.headers.cookie, "PVEAuthCookie=PVE:root@pam:6553F101::c2lnbmF0dXJl+/=");
            for (const write of [post, put, del]) assert.equal(write.headers.csrfpreventiontoken, "6553F100:csrf1");
            assert.equal(server.logins, 1);
            assert.equal(c.identity, "root@pam");
            assert.equal(c.isRoot, true);
        });

        it("logs in again once when PVE answers 401 for an expired ticket, then resends", async () => {
            const c = track(new PveClient(ticketSettings(fixture.url)));
            await c.get("/nodes");
            server.expire();
            assert.deepEqual(await c.post("/nodes/pve/lxc", { vmid: 100 }), {
                method: "POST",
                path: "/api2/json/nodes/pve/lxc",
            });
            assert.equal(server.logins, 2);
            const posts = fixture.requests.filter((r) => r.path === "/api2/json/nodes/pve/lxc");
            assert.equal(posts.length, 2, "refused once (401 before any handler ran), then accepted");
        });

        it("shares one new login among concurrent requests that hit the expiry", async () => {
            const c = track(new PveClient(ticketSettings(fixture.url)));
            await c.get("/nodes");
            server.expire();
            await Promise.all([c.get("/a"), c.get("/b"), c.put("/c", { x: 1 })]);
            assert.equal(server.logins, 2);
        });

        it("gives up after one re-login when the new ticket is refused too", async () => {
            const c = track(new PveClient(ticketSettings(fixture.url)));
            await c.get("/nodes");
            fixture.handler = (req, res) =>
                req.path === "/api2/json/access/ticket"
                    ? server.handle(req, res)
                    : reply(res, 401, { data: null }, "no");
            await assert.rejects(c.get("/nodes"), (err: unknown) => err instanceof PveApiError && err.status === 401);
            assert.equal(server.logins, 2);
        });

        it("renews the ticket before it is two hours old, without waiting for a 401", async () => {
            const clock = new FakeClock();
            const c = track(new PveClient(ticketSettings(fixture.url), { clock }));
            await c.get("/nodes");
            clock.t += TICKET_REFRESH_AFTER_MS - 1;
            await c.get("/nodes");
            assert.equal(server.logins, 1);
            clock.t += 2;
            await c.get("/nodes");
            assert.equal(server.logins, 2);
            assert.ok(
                !fixture.requests.some((r) => r.path !== "/api2/json/access/ticket" && r.headers.cookie === undefined),
            );
        });

        it("reports a wrong password once, naming the settings, without the password", async () => {
            const c = track(new PveClient(ticketSettings(fixture.url, "wrong-password")));
            await assert.rejects(c.get("/nodes"), (err: unknown) => {
                assert.ok(err instanceof PveApiError);
                assert.equal(
                    err.message,
                    "POST /access/ticket: 401 authentication failure [check proxmox-homelab:pveUsername (or " +
                        "PVE_USERNAME) and proxmox-homelab:pvePassword (or PVE_PASSWORD)]",
                );
                return true;
            });
            assert.equal(fixture.requests.length, 1);
        });

        it("is not root for other users", async () => {
            server.user = "deploy@pve";
            const c = track(new PveClient(ticketSettings(fixture.url, "s3cret-pw", "deploy@pve")));
            await c.connect();
            assert.equal(c.identity, "deploy@pve");
            assert.equal(c.isRoot, false);
        });

        it("refuses users with two-factor authentication clearly", async () => {
            server.tfa = true;
            const c = track(new PveClient(ticketSettings(fixture.url)));
            await assert.rejects(c.get("/nodes"), (err: unknown) => {
                assert.ok(err instanceof PveConfigError);
                assert.match(err.message, /two-factor authentication/);
                return true;
            });
        });

        it("needs a password for ticket auth", () => {
            assert.throws(
                () =>
                    new PveClient(
                        { endpoint: fixture.url, username: "root@pam", token: TEST_TOKEN, tls: { insecure: true } },
                        { auth: "ticket", logger: { warn: () => undefined } },
                    ),
                /proxmox-homelab:pvePassword \(or PVE_PASSWORD\): missing/,
            );
        });
    });
});
