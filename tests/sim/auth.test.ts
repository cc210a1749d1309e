import assert from "node:assert/strict";
import { api, rootTicket, startTestSim, waitTask, type TestSim } from "./helpers";

const TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

describe("pve-sim: authentication and permissions", () => {
    let sim: TestSim;

    before(async () => {
        sim = await startTestSim();
    });

    after(async () => {
        await sim.stop();
    });

    describe("transport", () => {
        it("serves /version with its own certificate and the configured version", async () => {
            const reply = await api(sim, "GET", "/version");
            assert.equal(reply.status, 200);
            assert.equal(reply.reason, "OK");
            assert.deepEqual(reply.json, {
                data: { version: "9.1.1", release: "9.1", repoid: "42db4a6cf33dac83", console: "xtermjs" },
            });
            assert.equal(reply.headers["content-type"], "application/json;charset=UTF-8");
            assert.match(sim.tlsFingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
            assert.match(sim.caPem, /^-----BEGIN CERTIFICATE-----\n/);
        });

        it("answers unknown routes with 501 Method '<M> <path>' not implemented", async () => {
            const reply = await api(sim, "GET", "/nodes/pve/bogus");
            assert.equal(reply.status, 501);
            assert.equal(reply.reason, "Method 'GET /nodes/pve/bogus' not implemented");
            assert.deepEqual(reply.json, { data: null, message: "Method 'GET /nodes/pve/bogus' not implemented" });
            const patch = await api(sim, "PATCH", "/version");
            assert.equal(patch.status, 501);
            assert.equal(patch.reason, "method 'PATCH' not available");
            assert.equal(patch.body, "");
            const html = await api(sim, "GET", "/../../index.html");
            assert.equal(html.status, 501);
            assert.equal(html.reason, "no such file '/index.html'");
        });
    });

    describe("API tokens", () => {
        it("refuses a request without credentials: 401 No ticket, empty body", async () => {
            const reply = await api(sim, "GET", "/version", { token: false });
            assert.equal(reply.status, 401);
            assert.equal(reply.reason, "No ticket");
            assert.equal(reply.body, "");
        });

        it("refuses a wrong secret and an unknown token with PVE's texts", async () => {
            const wrong = await api(sim, "GET", "/version", {
                token: "root@pam!sim=00000000-0000-0000-0000-000000000000",
            });
            assert.equal(wrong.status, 401);
            assert.equal(wrong.reason, "invalid token value!");
            const unknown = await api(sim, "GET", "/version", { token: "root@pam!nope=x" });
            assert.equal(unknown.reason, "no such token 'nope' for user 'root@pam'");
            const malformed = await api(sim, "GET", "/version", { token: "root@pam=x" });
            assert.equal(
                malformed.reason,
                "'root@pam' is not a valid token ID - not able to split into user and token parts",
            );
        });

        it("splits the header on the LAST '=' (user names may contain '=')", async () => {
            await sim.api("POST", "/access/users", { userid: "a=b@pve" });
            const created = await sim.api("POST", "/access/users/a=b@pve/token/tk", {});
            const secret = (created.data as { value: string }).value;
            const reply = await api(sim, "GET", "/version", { token: `a=b@pve!tk=${secret}` });
            assert.equal(reply.status, 200);
            assert.equal(sim.requestLog.all().at(-1)?.user, "a=b@pve!tk");
        });
    });

    describe("tickets", () => {
        it("issues a ticket, CSRF token and capabilities for root@pam", async () => {
            const reply = await api(sim, "POST", "/access/ticket", {
                token: false,
                form: { username: "root", realm: "pam", password: sim.rootPassword },
            });
            assert.equal(reply.status, 200);
            const data = reply.data as {
                username: string;
                ticket: string;
                CSRFPreventionToken: string;
                cap: Record<string, Record<string, number>>;
            };
            assert.equal(data.username, "root@pam");
            assert.match(data.ticket, /^PVE:root@pam:[0-9A-F]{8}::[^:\s]+$/);
            assert.match(data.CSRFPreventionToken, /^[0-9A-F]{8}:\S+$/);
            assert.equal(data.cap.vms["VM.Allocate"], 1);
            assert.equal(data.cap.nodes["Sys.Modify"], 1);
            assert.equal(data.cap.access["User.Modify"], 1);
        });

        it("answers a wrong password with 401 authentication failure (a formatted body)", async () => {
            const reply = await api(sim, "POST", "/access/ticket", {
                token: false,
                form: { username: "root@pam", password: "wrong" },
            });
            assert.equal(reply.status, 401);
            assert.equal(reply.reason, "authentication failure");
            assert.deepEqual(reply.json, { data: null, message: "authentication failure\n" });
        });

        it("needs the CSRF token on writes, not on reads", async () => {
            const { ticket, csrf } = await rootTicket(sim);
            assert.equal((await api(sim, "GET", "/version", { ticket })).status, 200);
            const noCsrf = await api(sim, "POST", "/access/roles", { ticket, form: { roleid: "CsrfTest" } });
            assert.equal(noCsrf.status, 401);
            assert.equal(noCsrf.reason, "Permission denied - invalid csrf token");
            assert.equal(noCsrf.body, "");
            const badCsrf = await api(sim, "POST", "/access/roles", {
                ticket,
                csrf: "00000000:abc",
                form: { roleid: "CsrfTest" },
            });
            assert.equal(badCsrf.reason, "Permission denied - invalid csrf token");
            const ok = await api(sim, "POST", "/access/roles", { ticket, csrf, form: { roleid: "CsrfTest" } });
            assert.equal(ok.status, 200);
            assert.deepEqual(ok.json, { data: null });
        });

        it("expires tickets after 2 hours", async () => {
            const { ticket } = await rootTicket(sim);
            // A few seconds of slack around the 7200 s boundary for a loaded machine.
            sim.state.advanceClock(7190);
            assert.equal((await api(sim, "GET", "/version", { ticket })).status, 200);
            sim.state.advanceClock(11);
            const reply = await api(sim, "GET", "/version", { ticket });
            assert.equal(reply.status, 401);
            assert.equal(reply.reason, "permission denied - invalid PVE ticket");
            const forged = await api(sim, "GET", "/version", { ticket: ticket.replace("root@pam", "admin@pve") });
            assert.equal(forged.reason, "permission denied - invalid PVE ticket");
        });
    });

    describe("permissions", () => {
        let aliceToken: string;

        before(async () => {
            await sim.api("POST", "/access/users", { userid: "alice@pve", password: "alice-password" });
            const created = await sim.api("POST", "/access/users/alice@pve/token/ci", {});
            aliceToken = `alice@pve!ci=${(created.data as { value: string }).value}`;
        });

        it("answers 403 Permission check failed (<path>, <priv>) from real ACL evaluation", async () => {
            const reply = await api(sim, "GET", "/nodes/pve/lxc/100/config", { token: aliceToken });
            assert.equal(reply.status, 403);
            assert.equal(reply.reason, "Permission check failed (/vms/100, VM.Audit)");
            assert.deepEqual(reply.json, { data: null, message: "Permission check failed (/vms/100, VM.Audit)\n" });
            const network = await api(sim, "POST", "/nodes/pve/network", {
                token: aliceToken,
                form: { iface: "vmbr5", type: "bridge" },
            });
            assert.equal(network.reason, "Permission check failed (/nodes/pve, Sys.Modify)");
        });

        it("gives a privsep token only what both it and its user have", async () => {
            await sim.api("PUT", "/access/acl", { path: "/vms", roles: "PVEVMAdmin", tokens: "alice@pve!ci" });
            const tokenOnly = await api(sim, "GET", "/nodes/pve/lxc/100/config", { token: aliceToken });
            assert.equal(tokenOnly.reason, "Permission check failed (/vms/100, VM.Audit)");
            await sim.api("PUT", "/access/acl", { path: "/vms", roles: "PVEAuditor", users: "alice@pve" });
            const both = await api(sim, "GET", "/nodes/pve/lxc/100/config", { token: aliceToken });
            assert.equal(both.status, 500);
            assert.equal(both.reason, "Configuration file 'nodes/pve/lxc/100.conf' does not exist");
            const writeDenied = await api(sim, "DELETE", "/nodes/pve/lxc/100", { token: aliceToken });
            assert.equal(writeDenied.reason, "Permission check failed (/vms/100, VM.Allocate)");
            const noPropagation = await sim.api("PUT", "/access/acl", {
                path: "/vms/100",
                roles: "NoAccess",
                users: "alice@pve",
            });
            assert.equal(noPropagation.status, 200);
            const blocked = await api(sim, "GET", "/nodes/pve/lxc/100/config", { token: aliceToken });
            assert.equal(blocked.reason, "Permission check failed (/vms/100, VM.Audit)");
        });

        it("creates a privileged CT only with Sys.Modify on /", async () => {
            await sim.api("PUT", "/access/acl", { path: "/vms", roles: "PVEVMAdmin", users: "alice@pve" });
            await sim.api("PUT", "/access/acl", { path: "/storage", roles: "PVEDatastoreUser", users: "alice@pve" });
            await sim.api("PUT", "/access/acl", {
                path: "/storage",
                roles: "PVEDatastoreUser",
                tokens: "alice@pve!ci",
            });
            const reply = await api(sim, "POST", "/nodes/pve/lxc", {
                token: aliceToken,
                form: { vmid: 150, ostemplate: TEMPLATE, rootfs: "local-zfs:4", unprivileged: 0 },
            });
            assert.equal(reply.status, 403);
            assert.equal(reply.reason, "Permission check failed (/, Sys.Modify)");
        });

        it("keeps feature flags other than nesting root-only, even for root@pam's token", async () => {
            const keyctl = await api(sim, "POST", "/nodes/pve/lxc", {
                form: { vmid: 160, ostemplate: TEMPLATE, rootfs: "local-zfs:4", features: "nesting=1,keyctl=1" },
            });
            assert.equal(keyctl.status, 403);
            assert.equal(
                keyctl.reason,
                "Permission check failed (changing feature flags (except nesting) is only allowed for root@pam)",
            );
            const privileged = await api(sim, "POST", "/nodes/pve/lxc", {
                form: {
                    vmid: 160,
                    ostemplate: TEMPLATE,
                    rootfs: "local-zfs:4",
                    unprivileged: 0,
                    features: "nesting=1",
                },
            });
            assert.equal(
                privileged.reason,
                "Permission check failed (changing feature flags for privileged container is only allowed for root@pam)",
            );
            const nesting = await api(sim, "POST", "/nodes/pve/lxc", {
                form: { vmid: 160, ostemplate: TEMPLATE, rootfs: "local-zfs:4", features: "nesting=1" },
            });
            assert.equal(nesting.status, 200);
            await waitTask(sim, nesting.data);
        });

        it("lets a root@pam ticket create the privileged nesting+keyctl appliance", async () => {
            const { ticket, csrf } = await rootTicket(sim);
            const reply = await api(sim, "POST", "/nodes/pve/lxc", {
                ticket,
                csrf,
                form: {
                    vmid: 170,
                    ostemplate: TEMPLATE,
                    rootfs: "local-zfs:4",
                    unprivileged: 0,
                    features: "nesting=1,keyctl=1",
                },
            });
            assert.equal(reply.status, 200);
            const status = await waitTask(sim, reply.data, { ticket });
            assert.equal(status.exitstatus, "OK");
            assert.equal(status.user, "root@pam");
            const config = await api(sim, "GET", "/nodes/pve/lxc/170/config");
            const data = config.data as Record<string, unknown>;
            // Stored as given: PVE validates a features value but does not re-print it.
            assert.equal(data.features, "nesting=1,keyctl=1");
            assert.equal(data.unprivileged, undefined);
            const change = await api(sim, "PUT", "/nodes/pve/lxc/170/config", { form: { features: "nesting=1" } });
            assert.equal(
                change.reason,
                "Permission check failed (changing feature flags for privileged container is only allowed for root@pam)",
            );
        });
    });

    describe("PVE 8 mode", () => {
        let sim8: TestSim;

        before(async () => {
            sim8 = await startTestSim({ pveVersion: 8 });
        });

        after(async () => {
            await sim8.stop();
        });

        it("reports 8.x and leaves `message` out of error bodies", async () => {
            assert.deepEqual((await api(sim8, "GET", "/version")).data, {
                version: "8.4.14",
                release: "8.4",
                repoid: "b502d23c55afcba1",
                console: "xtermjs",
            });
            const reply = await api(sim8, "GET", "/nodes/pve/lxc/100/config");
            assert.equal(reply.status, 500);
            assert.equal(reply.reason, "Configuration file 'nodes/pve/lxc/100.conf' does not exist");
            assert.deepEqual(reply.json, { data: null });
        });
    });
});
