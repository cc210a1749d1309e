// The launchers in tests/plugins/bin, driven over gRPC the way the engine drives a plugin: start the
// executable, read the port it prints, call the ResourceProvider service. Runs without the built CLI.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { PLUGINS_BIN, SECRET_SIG, SECRET_SIG_KEY } from "./harness";
import { urn } from "./types";

// The SDK's generated gRPC/protobuf modules and the gRPC and protobuf runtimes it depends on, resolved from
// @pulumi/pulumi itself so the test does not rely on how npm hoists them (they are not our direct dependencies).
const sdkDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const fromSdk = (id: string): any => require(require.resolve(id, { paths: [sdkDir] }));
const grpc = fromSdk("@grpc/grpc-js");
const providerGrpc = fromSdk("@pulumi/pulumi/proto/provider_grpc_pb");
const providerPb = fromSdk("@pulumi/pulumi/proto/provider_pb");
const emptyPb = fromSdk("google-protobuf/google/protobuf/empty_pb");
const structPb = fromSdk("google-protobuf/google/protobuf/struct_pb");

type Callback = (err: Error | null, res: unknown) => void;
interface Plugin {
    child: ChildProcess;
    client: { close(): void } & Record<string, (req: unknown, cb: Callback) => void>;
    startupMs: number;
}

/** Starts a launcher and connects to the port it prints (the engine's plugin handshake). */
async function start(name: string): Promise<Plugin> {
    const t0 = Date.now();
    const child = spawn(path.join(PLUGINS_BIN, `pulumi-resource-${name}`), [], { stdio: ["ignore", "pipe", "pipe"] });
    const port = await new Promise<string>((resolve, reject) => {
        let out = "";
        let err = "";
        child.stdout?.on("data", (d: Buffer) => {
            out += d.toString();
            const m = /^(\d+)\s*$/m.exec(out);
            if (m) resolve(m[1]);
        });
        child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
        child.on("exit", (code) => reject(new Error(`plugin exited with ${code}: ${err}`)));
    });
    const startupMs = Date.now() - t0;
    const client = new providerGrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return { child, client, startupMs };
}

function call<T>(p: Plugin, method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) =>
        p.client[method](req, (err, res) => (err ? reject(err) : resolve(res as T))),
    );
}

const struct = (o: object) => structPb.Struct.fromJavaScript(o);

describe("stand-in plugins over gRPC", function () {
    this.timeout(60_000);
    const plugins: Plugin[] = [];

    after(() => {
        for (const p of plugins) {
            p.client.close();
            p.child.kill();
        }
    });

    for (const [name, version] of [
        ["random", "4.21.1"],
        ["tls", "5.3.1"],
    ]) {
        it(`${name}: starts quickly, reports ${version}, accepts secrets and serves its schema`, async () => {
            const p = await start(name);
            plugins.push(p);
            // The engine waits for the port; startup is one node process loading the SDK's provider server.
            assert.ok(p.startupMs < 3000, `startup took ${p.startupMs} ms`);
            const info = await call<{ getVersion(): string }>(p, "getPluginInfo", new emptyPb.Empty());
            assert.equal(info.getVersion(), version);
            const configure = await call<{ getAcceptsecrets(): boolean }>(
                p,
                "configure",
                new providerPb.ConfigureRequest(),
            );
            assert.equal(configure.getAcceptsecrets(), true);
            const schemaReq = new providerPb.GetSchemaRequest();
            const schema = await call<{ getSchema(): string }>(p, "getSchema", schemaReq);
            assert.equal((JSON.parse(schema.getSchema()) as { name: string }).name, name);
        });
    }

    it("random: check reports failures, create returns the password as a secret", async () => {
        const p = plugins[0] ?? (await start("random"));
        const type = "random:index/randomPassword:RandomPassword";
        const bad = new providerPb.CheckRequest();
        bad.setUrn(urn(type));
        bad.setOlds(struct({}));
        bad.setNews(struct({ length: 0 }));
        const checked = await call<{ getFailuresList(): Array<{ getProperty(): string }> }>(p, "check", bad);
        assert.deepEqual(
            checked.getFailuresList().map((f) => f.getProperty()),
            ["length"],
        );

        const create = new providerPb.CreateRequest();
        create.setUrn(urn(type));
        create.setProperties(struct({ length: 30 }));
        const created = await call<{ getId(): string; getProperties(): { toJavaScript(): Record<string, unknown> } }>(
            p,
            "create",
            create,
        );
        assert.equal(created.getId(), "none");
        const props = created.getProperties().toJavaScript();
        const result = props.result as Record<string, unknown>;
        assert.equal(result[SECRET_SIG_KEY], SECRET_SIG);
        assert.equal(String(result.value).length, 30);
    });

    it("tls: create a key; diff plans a replacement when the algorithm changes", async () => {
        const p = plugins[1] ?? (await start("tls"));
        const type = "tls:index/privateKey:PrivateKey";
        const create = new providerPb.CreateRequest();
        create.setUrn(urn(type));
        create.setProperties(struct({ algorithm: "ED25519" }));
        const created = await call<{ getId(): string; getProperties(): { toJavaScript(): Record<string, unknown> } }>(
            p,
            "create",
            create,
        );
        const state = created.getProperties().toJavaScript();
        const diff = new providerPb.DiffRequest();
        diff.setUrn(urn(type));
        diff.setId(created.getId());
        diff.setOlds(struct(state));
        diff.setNews(struct({ algorithm: "RSA" }));
        const d = await call<{ getReplacesList(): string[]; getChanges(): number }>(p, "diff", diff);
        assert.deepEqual(d.getReplacesList(), ["algorithm"]);
        assert.equal(d.getChanges(), providerPb.DiffResponse.DiffChanges.DIFF_SOME);
    });
});
