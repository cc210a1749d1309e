import assert from "node:assert/strict";
import {
    apiPath,
    createLxc,
    createToken,
    deleteLxc,
    encodeParams,
    getLxcConfig,
    getLxcPending,
    getVersion,
    lxcConfigValue,
    nextId,
    PveClient,
    PveOutcomeUnknownError,
    resizeLxcDisk,
    startLxc,
    updateAcl,
    updateLxcConfig,
} from "../../providers/proxmox";
import { FakeClock, Fixture, ok, RecordedRequest, reply, startFixture, TEST_TOKEN, testPki, UPID } from "./fixture";

type Res = Parameters<typeof reply>[0];
type Route = (req: RecordedRequest, res: Res) => void;

describe("parameter encoding", () => {
    it("form-encodes: booleans as 1/0, undefined/null omitted, arrays as repeated keys, %20 for spaces", () => {
        assert.equal(
            encodeParams({ a: "x y", b: true, c: false, d: undefined, e: null, f: 2, g: ["1", "2"], h: "k=v,l=w;m" }),
            "a=x%20y&b=1&c=0&f=2&g=1&g=2&h=k%3Dv%2Cl%3Dw%3Bm",
        );
        assert.equal(encodeParams(undefined), "");
        assert.throws(() => encodeParams({ n: Number.NaN }), /non-finite/);
    });

    it("encodes path segments, keeping UPID and user/token id characters literal", () => {
        assert.equal(apiPath`/nodes/${"pve"}/tasks/${UPID}/status`, `/nodes/pve/tasks/${UPID}/status`);
        assert.equal(apiPath`/access/users/${"a b@pve"}/token/${"x/y"}`, "/access/users/a%20b@pve/token/x%2Fy");
        assert.equal(apiPath`/access/acl/${"deploy@pve!pulumi"}`, "/access/acl/deploy@pve!pulumi");
    });
});

describe("endpoint wrappers", () => {
    let fixture: Fixture;
    let client: PveClient;
    let routes: Record<string, Route>;

    beforeEach(async () => {
        routes = {};
        fixture = await startFixture((req, res) => {
            const route = routes[`${req.method} ${req.path.replace("/api2/json", "")}`];
            if (route) route(req, res);
            else reply(res, 501, { data: null }, `Method '${req.method} ${req.path}' not implemented`);
        });
        client = new PveClient(
            {
                endpoint: fixture.url,
                username: "root@pam",
                token: TEST_TOKEN,
                tls: { ca: testPki().caPem, insecure: false },
            },
            { clock: new FakeClock() },
        );
    });
    afterEach(async () => {
        client.close();
        await fixture.close();
    });

    it("getVersion reads the major release", async () => {
        routes["GET /version"] = (_q, res) => ok(res, { version: "8.4.1", release: "8.4", repoid: "2a5fa54a" });
        assert.deepEqual(await getVersion(client), {
            version: "8.4.1",
            release: "8.4",
            major: 8,
            minor: 4,
            repoid: "2a5fa54a",
        });
    });

    it("nextId accepts PVE's string answer", async () => {
        routes["GET /cluster/nextid"] = (_q, res) => ok(res, "104");
        assert.equal(await nextId(client), 104);
    });

    it("createLxc posts the form and returns the UPID", async () => {
        routes["POST /nodes/pve/lxc"] = (_q, res) => ok(res, UPID);
        const upid = await createLxc(client, "pve", {
            vmid: 101,
            ostemplate: "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
            hostname: "netbox",
            cores: 2,
            memory: 2048,
            rootfs: "local-zfs:32",
            net0: "name=eth0,bridge=vmbr1,ip=10.100.0.10/24,gw=10.100.0.1",
            unprivileged: true,
            start: false,
            features: "nesting=1",
            description: undefined,
        });
        assert.equal(upid, UPID);
        const [req] = fixture.requests;
        assert.equal(req.headers["content-type"], "application/x-www-form-urlencoded");
        assert.deepEqual(Object.fromEntries(req.form), {
            vmid: "101",
            ostemplate: "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst",
            hostname: "netbox",
            cores: "2",
            memory: "2048",
            rootfs: "local-zfs:32",
            net0: "name=eth0,bridge=vmbr1,ip=10.100.0.10/24,gw=10.100.0.1",
            unprivileged: "1",
            start: "0",
            features: "nesting=1",
        });
    });

    it("createLxc after a lost answer finds its vzcreate task instead of creating twice", async () => {
        // Started by this client's token: PVE lists a finished token task as user + tokenid.
        const mine = "UPID:pve:0000ABCE:0001E240:6553F100:vzcreate:101:root@pam!ci:";
        routes["POST /nodes/pve/lxc"] = (_q, res) => res.socket?.destroy();
        routes["GET /nodes/pve/tasks"] = (_q, res) =>
            ok(res, [
                { upid: mine.replace(":101:", ":102:"), type: "vzcreate", id: "102", starttime: 0x6553f100 },
                { upid: UPID, type: "vzcreate", id: "101", user: "root@pam", starttime: 0x6553f100 },
                { upid: mine, type: "vzcreate", id: "101", user: "root@pam", tokenid: "ci", starttime: 0x6553f100 },
            ]);
        assert.equal(await createLxc(client, "pve", { vmid: 101, ostemplate: "local:vztmpl/x.tar.zst" }), mine);
        assert.equal(fixture.requests.filter((r) => r.method === "POST").length, 1);
        const lookup = fixture.requests.find((r) => r.path === "/api2/json/nodes/pve/tasks")!;
        assert.equal(lookup.query.get("userfilter"), "root@pam", "PVE matches userfilter without the token id");
    });

    it("createLxc after a lost answer, with no task and no CT, sends again", async () => {
        let posts = 0;
        routes["POST /nodes/pve/lxc"] = (_q, res) => (posts++ === 0 ? res.socket?.destroy() : ok(res, UPID));
        routes["GET /nodes/pve/tasks"] = (_q, res) => ok(res, []);
        routes["GET /nodes/pve/lxc/101/config"] = (_q, res) =>
            reply(res, 500, { data: null }, "Configuration file 'nodes/pve/lxc/101.conf' does not exist");
        assert.equal(await createLxc(client, "pve", { vmid: 101, ostemplate: "local:vztmpl/x.tar.zst" }), UPID);
        assert.equal(posts, 2);
    });

    it("createLxc after a lost answer, when the CT exists but no task is found, reports instead of guessing", async () => {
        routes["POST /nodes/pve/lxc"] = (_q, res) => res.socket?.destroy();
        routes["GET /nodes/pve/lxc/101/config"] = (_q, res) => ok(res, { digest: "abc", hostname: "x" });
        await assert.rejects(
            createLxc(client, "pve", { vmid: 101, ostemplate: "local:vztmpl/x.tar.zst" }),
            (err: unknown) =>
                err instanceof PveOutcomeUnknownError &&
                /CT 101 exists now but the task that created it was not found \(task lookup failed: GET \/nodes\/pve\/tasks: 501/.test(
                    err.message,
                ),
        );
    });

    it("config: current=1 in the query, updates with delete list and digest", async () => {
        routes["GET /nodes/pve/lxc/101/config"] = (_q, res) => ok(res, { digest: "d1", cores: 2, hostname: "netbox" });
        routes["PUT /nodes/pve/lxc/101/config"] = (_q, res) => ok(res, null);
        const config = await getLxcConfig(client, "pve", 101, { current: true });
        assert.equal(fixture.requests[0].query.get("current"), "1");
        assert.equal(lxcConfigValue(config, "cores"), "2");
        assert.equal(lxcConfigValue(config, "hostname"), "netbox");
        assert.equal(lxcConfigValue(config, "swap"), undefined);
        await updateLxcConfig(
            client,
            "pve",
            101,
            { cores: 4, onboot: true },
            { delete: ["nameserver", "searchdomain"], digest: "d1" },
        );
        assert.deepEqual(Object.fromEntries(fixture.requests[1].form), {
            cores: "4",
            onboot: "1",
            delete: "nameserver,searchdomain",
            digest: "d1",
        });
    });

    it("a digest-guarded update after a lost answer is resent only if the digest is unchanged", async () => {
        let puts = 0;
        routes["PUT /nodes/pve/lxc/101/config"] = (_q, res) => (puts++ === 0 ? res.socket?.destroy() : ok(res, null));
        routes["GET /nodes/pve/lxc/101/config"] = (_q, res) => ok(res, { digest: "d1" });
        await updateLxcConfig(client, "pve", 101, { cores: 4 }, { digest: "d1" });
        assert.equal(puts, 2);
        puts = 0;
        routes["GET /nodes/pve/lxc/101/config"] = (_q, res) => ok(res, { digest: "d2" });
        await assert.rejects(
            updateLxcConfig(client, "pve", 101, { cores: 4 }, { digest: "d1" }),
            /digest changed from d1 to d2/,
        );
        assert.equal(puts, 1);
    });

    it("pending entries as strings", async () => {
        routes["GET /nodes/pve/lxc/101/pending"] = (_q, res) =>
            ok(res, [
                { key: "cores", value: 2, pending: 4 },
                { key: "nameserver", value: "1.1.1.1", delete: 1 },
                { key: "hostname", value: "netbox" },
            ]);
        assert.deepEqual(await getLxcPending(client, "pve", 101), [
            { key: "cores", value: "2", pending: "4" },
            { key: "nameserver", value: "1.1.1.1", delete: 1 },
            { key: "hostname", value: "netbox" },
        ]);
    });

    it("deleteLxc sends purge and destroy-unreferenced-disks in the query", async () => {
        routes["DELETE /nodes/pve/lxc/101"] = (_q, res) => ok(res, UPID);
        assert.equal(await deleteLxc(client, "pve", 101, { force: true }), UPID);
        const q = fixture.requests[0].query;
        assert.equal(q.toString(), "purge=1&destroy-unreferenced-disks=1&force=1");
        assert.equal(fixture.requests[0].body, "");
    });

    it("startLxc refuses a non-UPID answer", async () => {
        routes["POST /nodes/pve/lxc/101/status/start"] = (_q, res) => ok(res, null);
        await assert.rejects(
            startLxc(client, "pve", 101),
            /POST \/nodes\/pve\/lxc\/101\/status\/start: unexpected response/,
        );
    });

    it("resize: absolute sizes are retried like any PUT, relative ones are not", async () => {
        let puts = 0;
        routes["PUT /nodes/pve/lxc/101/resize"] = (_q, res) => (puts++ === 0 ? res.socket?.destroy() : ok(res, UPID));
        assert.equal(await resizeLxcDisk(client, "pve", 101, "rootfs", "40G"), UPID);
        assert.equal(puts, 2);
        puts = 0;
        routes["GET /nodes/pve/tasks"] = (_q, res) => ok(res, []);
        assert.equal(await resizeLxcDisk(client, "pve", 101, "rootfs", "+4G"), UPID);
        assert.equal(puts, 2, "no resize task found, so the relative resize was sent again");
        assert.ok(fixture.requests.some((r) => r.path.endsWith("/tasks") && r.query.get("typefilter") === "resize"));
    });

    it("createToken returns the one-time value, and a lost answer with the token present says the secret is lost", async () => {
        routes["POST /access/users/deploy@pve/token/pulumi"] = (_q, res) =>
            ok(res, { "full-tokenid": "deploy@pve!pulumi", value: "0e1f-secret", info: { privsep: 1, expire: 0 } });
        assert.deepEqual(await createToken(client, "deploy@pve", "pulumi", { privsep: true, comment: "ci" }), {
            fullTokenId: "deploy@pve!pulumi",
            value: "0e1f-secret",
            info: { privsep: true, expire: 0 },
        });
        assert.deepEqual(Object.fromEntries(fixture.requests[0].form), { privsep: "1", comment: "ci" });
        routes["POST /access/users/deploy@pve/token/pulumi"] = (_q, res) => res.socket?.destroy();
        routes["GET /access/users/deploy@pve/token/pulumi"] = (_q, res) => ok(res, { privsep: 1 });
        await assert.rejects(createToken(client, "deploy@pve", "pulumi"), /secret was lost with the answer/);
    });

    it("updateAcl joins lists as PVE's *-list formats expect", async () => {
        routes["PUT /access/acl"] = (_q, res) => ok(res, null);
        await updateAcl(client, {
            path: "/vms/101",
            roles: ["HomelabLxc"],
            tokens: ["deploy@pve!pulumi", "deploy@pve!ci"],
            propagate: false,
        });
        assert.deepEqual(Object.fromEntries(fixture.requests[0].form), {
            path: "/vms/101",
            roles: "HomelabLxc",
            tokens: "deploy@pve!pulumi,deploy@pve!ci",
            propagate: "0",
        });
    });
});
