/**
 * Each provider serialized exactly as `dynamic.Resource` does (the SDK's closure serializer), then loaded and
 * driven through a full lifecycle by the SDK's own dynamic-provider host (`cmd/dynamic-provider`) in a fresh
 * plain `node` process (no ts-node), configured over gRPC the way the engine configures it. Proves that the
 * provider objects capture nothing unserializable, stay small, carry no credential, and that the compiled
 * runtime resolves from node_modules in the host.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { providerFor, ResourceKind } from "../../providers/provider";
import { startSimulator } from "../pve-sim";
import { simulatorStackConfig } from "../engine/sim-config";

const provproto = require("@pulumi/pulumi/proto/provider_pb");
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const { serializeFunction } = require("@pulumi/pulumi/runtime/closure/serializeClosure");

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const KINDS: ResourceKind[] = ["bridge", "lxc", "template", "file", "exec", "role", "user", "acl", "apiToken"];

async function serialize(kind: ResourceKind): Promise<string> {
    const provider = providerFor(kind);
    const sf = await serializeFunction(() => provider, { allowSecrets: true });
    return sf.text as string;
}

/** Starts the SDK's dynamic-provider host as the CLI would, in the program directory; resolves its gRPC port. */
function startHost(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["./node_modules/@pulumi/pulumi/cmd/dynamic-provider", "127.0.0.1:1"], {
            cwd: REPO_ROOT,
            env,
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout!.on("data", (d: Buffer) => {
            out += d.toString();
            const m = /^(\d+)\s*$/m.exec(out);
            if (m) resolve({ child, port: Number(m[1]) });
        });
        child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
        child.on("exit", (code) => reject(new Error(`dynamic-provider host exited ${code}: ${err}`)));
    });
}

type Props = Record<string, unknown>;

/** protobuf Struct of plain JSON-like props (the wire form the engine uses). */
function toStruct(p: Props): Struct {
    return Struct.fromJavaScript(p as Parameters<typeof Struct.fromJavaScript>[0]);
}

function unary<T>(client: grpc.Client, method: string, req: unknown): Promise<T> {
    return new Promise((resolve, reject) => {
        (client as unknown as Record<string, (r: unknown, cb: (e: Error | null, v: T) => void) => void>)[method](
            req,
            (e, v) => (e ? reject(e) : resolve(v)),
        );
    });
}

describe("provider serialization (fresh plain-node dynamic-provider host)", function () {
    this.timeout(120_000);
    const SECRETS = {
        PVE_API_TOKEN: "root@pam!leak=11111111-2222-3333-4444-555555555555",
        PVE_PASSWORD: "do-not-serialize-me",
    };

    for (const kind of KINDS) {
        it(`${kind}: serializes small, captures only the kind, carries no credential`, async () => {
            const saved = { ...process.env };
            Object.assign(process.env, SECRETS);
            try {
                const text = await serialize(kind);
                assert.ok(text.length < 4096, `__provider for ${kind} is ${text.length} bytes`);
                assert.ok(text.includes(`"${kind}"`), "the kind string is captured by value");
                assert.ok(text.includes('require("@proxmox-homelab/providers/dist/runtime")'));
                for (const secret of Object.values(SECRETS)) assert.ok(!text.includes(secret));
                assert.ok(!/zod|ssh2|PveClient/.test(text), "no library object or client is captured");
            } finally {
                process.env = saved;
            }
        });
    }

    it("file and exec: full lifecycle from the serialized provider in a fresh host, configured over gRPC", async () => {
        const sim = await startSimulator({});
        const env = { PATH: process.env.PATH, HOME: process.env.HOME, PULUMI_PROJECT: "proxmox-homelab" };
        const { child, port } = await startHost(env);
        const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        try {
            const config = Object.fromEntries(
                Object.entries(simulatorStackConfig(sim)).map(([k, v]) => [`proxmox-homelab:${k}`, v.value]),
            );
            const creq = new provproto.ConfigureRequest();
            creq.setArgs(Struct.fromJavaScript(config));
            await unary(client, "configure", creq);

            const fileProvider = await serialize("file");
            const news: Props = {
                __provider: fileProvider,
                node: sim.node,
                path: "/etc/phl-serialization-test.conf",
                content: "hello from a fresh host\n",
                mode: "0640",
            };
            const urn = "urn:pulumi:test::proxmox-homelab::pulumi-nodejs:dynamic/proxmox:File::f";
            const check = new provproto.CheckRequest();
            check.setUrn(urn);
            check.setOlds(Struct.fromJavaScript({}));
            check.setNews(toStruct(news));
            const checked = await unary<{ getInputs(): Struct; getFailuresList(): unknown[] }>(client, "check", check);
            assert.equal(checked.getFailuresList().length, 0);
            const inputs = checked.getInputs().toJavaScript() as Props;
            assert.equal(inputs.owner, "root", "defaults applied by check");

            const create = new provproto.CreateRequest();
            create.setUrn(urn);
            create.setProperties(toStruct(inputs));
            const created = await unary<{ getId(): string; getProperties(): Struct }>(client, "create", create);
            const outs = created.getProperties().toJavaScript() as Props;
            assert.equal(outs.sha256, createHash("sha256").update("hello from a fresh host\n").digest("hex"));
            assert.equal(outs.content, undefined, "content is never echoed");
            assert.equal(outs.mode, "0640");

            const diff = new provproto.DiffRequest();
            diff.setId(created.getId());
            diff.setUrn(urn);
            diff.setOlds(toStruct(outs));
            diff.setNews(toStruct(inputs));
            const d = await unary<{ getChanges(): number }>(client, "diff", diff);
            assert.equal(d.getChanges(), provproto.DiffResponse.DiffChanges.DIFF_NONE);

            const read = new provproto.ReadRequest();
            read.setId(created.getId());
            read.setUrn(urn);
            read.setProperties(toStruct(outs));
            const r = await unary<{ getId(): string; getProperties(): Struct }>(client, "read", read);
            assert.equal((r.getProperties().toJavaScript() as Props).sha256, outs.sha256);

            const del = new provproto.DeleteRequest();
            del.setId(created.getId());
            del.setUrn(urn);
            del.setProperties(Struct.fromJavaScript({ ...outs, __provider: fileProvider }));
            await unary(client, "delete", del);
            const gone = await unary<{ getId(): string }>(client, "read", read);
            assert.equal(gone.getId(), "", "the file is gone after delete");

            // Exec: a secret in the environment reaches the script (its hash comes back) but no command line.
            const secret = "s3cret-value-for-serialization-test";
            const execUrn = "urn:pulumi:test::proxmox-homelab::pulumi-nodejs:dynamic/proxmox:Exec::e";
            const execProvider = await serialize("exec");
            const echk = new provproto.CheckRequest();
            echk.setUrn(execUrn);
            echk.setOlds(Struct.fromJavaScript({}));
            echk.setNews(
                Struct.fromJavaScript({
                    __provider: execProvider,
                    node: sim.node,
                    create: 'printf %s "$TOKEN" | sha256sum',
                    environment: { TOKEN: secret },
                }),
            );
            const eChecked = await unary<{ getInputs(): Struct }>(client, "check", echk);
            const ecreate = new provproto.CreateRequest();
            ecreate.setUrn(execUrn);
            ecreate.setProperties(eChecked.getInputs());
            const eCreated = await unary<{ getProperties(): Struct }>(client, "create", ecreate);
            const eOuts = eCreated.getProperties().toJavaScript() as Props;
            assert.equal(eOuts.exitCode, 0);
            assert.equal(String(eOuts.stdout).split(" ")[0], createHash("sha256").update(secret).digest("hex"));
            assert.ok(
                !JSON.stringify(sim.sshJournal).includes(secret),
                "the secret never appears in a journaled command",
            );
        } finally {
            client.close();
            child.kill();
            await sim.stop();
        }
    });
});
