// Behaviour of the random stand-in, in-process: generated values, validation, keepers and update semantics.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { isSecretValue } from "./harness";
import { plain, random, str } from "./fixtures";
import { urn } from "./types";

const p = random.provider;
const PASSWORD = urn("random:index/randomPassword:RandomPassword");
const STRING = urn("random:index/randomString:RandomString");
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Python's crypt(3) binding, when this Python still has it, as an independent bcrypt check. */
function pythonBcryptMatches(password: string, hash: string): boolean | undefined {
    try {
        const out = execFileSync(
            "python3",
            [
                "-W",
                "ignore",
                "-c",
                "import crypt,sys; print(crypt.crypt(sys.stdin.read(), sys.argv[1]) == sys.argv[1])",
                hash,
            ],
            { input: password, encoding: "utf8", stdio: ["pipe", "pipe", "ignore"] },
        );
        return out.trim() === "True";
    } catch {
        return undefined;
    }
}

describe("random stand-in", function () {
    this.timeout(60_000);

    describe("RandomPassword / RandomString", () => {
        it("honours length, class minimums and overrideSpecial over many draws", async () => {
            // RandomString shares the generator; it skips the bcrypt hash (~0.2 s a draw), so many draws are cheap.
            for (let i = 0; i < 200; i++) {
                const { outs } = await p.create(i % 50 === 0 ? PASSWORD : STRING, {
                    length: 12,
                    minUpper: 3,
                    minLower: 3,
                    minNumeric: 3,
                    minSpecial: 3,
                    overrideSpecial: "_-",
                });
                const pw = str(outs.result);
                assert.equal(pw.length, 12);
                assert.ok(/^[A-Za-z0-9_-]+$/.test(pw), "characters outside the requested classes");
                for (const re of [/[A-Z]/g, /[a-z]/g, /[0-9]/g, /[_-]/g]) assert.ok((pw.match(re) ?? []).length >= 3);
            }
        });

        it("uses upstream's default special set and leaves out disabled classes", async () => {
            const seen = new Set<string>();
            for (let i = 0; i < 20; i++) {
                const { outs } = await p.create(STRING, { length: 64, upper: false, numeric: false });
                for (const c of str(outs.result)) seen.add(c);
            }
            for (const c of seen) assert.match(c, /^[a-z!@#$%&*()\-_=+[\]{}<>:?]$/);
            assert.ok([...seen].some((c) => "!@#$%&*()-_=+[]{}<>:?".includes(c)));
        });

        it("returns result and bcryptHash as secrets, with a bcrypt hash of the result", async () => {
            const { id, outs } = await p.create(PASSWORD, { length: 20 });
            assert.equal(id, "none");
            assert.ok(isSecretValue(outs.result) && isSecretValue(outs.bcryptHash));
            const hash = str(outs.bcryptHash);
            assert.ok(/^\$2a\$10\$[./A-Za-z0-9]{53}$/.test(hash), "bcryptHash is not $2a$10$");
            const independent = pythonBcryptMatches(str(outs.result), hash);
            if (independent !== undefined) assert.equal(independent, true, "crypt(3) does not accept the hash");
            assert.equal(outs.__meta, JSON.stringify({ schema_version: "3" }));
            // Defaults land in the state, as the provider's plan fills them.
            for (const k of ["special", "upper", "lower", "number", "numeric"]) assert.equal(outs[k], true);
            for (const k of ["minUpper", "minLower", "minNumeric", "minSpecial"]) assert.equal(outs[k], 0);
        });

        it("keeps RandomString's result public and uses it as the id", async () => {
            const { id, outs } = await p.create(STRING, { length: 10 });
            assert.ok(!isSecretValue(outs.result));
            assert.equal(id, outs.result);
        });

        it("fails check like upstream's validators", async () => {
            const cases: Array<[object, string]> = [
                [{ length: 0 }, "length"],
                [{ length: 3, minUpper: 2, minLower: 2 }, "length"],
                [{ length: 8, number: true, numeric: false }, "numeric"],
                [{ length: 8, special: false, upper: false, lower: false, numeric: false }, "special"],
                [{ length: "8" }, "length"],
                [{}, "length"],
            ];
            for (const [news, property] of cases) {
                const { failures } = await p.check(PASSWORD, {}, news);
                assert.ok(
                    failures.some((f) => f.property === property),
                    `${JSON.stringify(news)}: ${JSON.stringify(failures)}`,
                );
            }
            const ok = await p.check(PASSWORD, {}, { length: 8, minSpecial: 8 });
            assert.deepEqual(ok.failures, []);
            const preview = await p.check(PASSWORD, {}, { length: UNKNOWN, minSpecial: 4 });
            assert.deepEqual(preview.failures, [], "unknown values are not validated");
        });

        it("replaces on keepers changes but not on keepers with only null values", async () => {
            const created = await p.create(PASSWORD, { length: 8, keepers: { rotation: "1" } });
            const d = (news: object) => p.diff(created.id, PASSWORD, created.outs, news);
            assert.deepEqual((await d({ length: 8, keepers: { rotation: "1" } })).changes, false);
            assert.deepEqual((await d({ length: 8, keepers: { rotation: "2" } })).replaces, ["keepers"]);
            assert.deepEqual((await d({ length: 8 })).replaces, ["keepers"]);
            assert.deepEqual((await d({ length: 8, keepers: { rotation: UNKNOWN } })).replaces, ["keepers"]);
            const bare = await p.create(PASSWORD, { length: 8 });
            const nulls = await p.diff(bare.id, PASSWORD, bare.outs, { length: 8, keepers: { a: null } });
            assert.deepEqual(nulls.replaces, []);
            const empty = await p.create(PASSWORD, { length: 8, keepers: {} });
            assert.deepEqual((await p.diff(empty.id, PASSWORD, empty.outs, { length: 8 })).replaces, []);
        });

        it("does not replace when overrideSpecial goes from an empty string to unset", async () => {
            const created = await p.create(STRING, { length: 8, overrideSpecial: "" });
            const d = await p.diff(created.id, STRING, created.outs, { length: 8 });
            assert.deepEqual(d.replaces, []);
        });

        it("reads the state back unchanged", async () => {
            const created = await p.create(PASSWORD, { length: 8 });
            const read = await p.read(created.id, PASSWORD, created.outs);
            assert.deepEqual(read, { id: created.id, props: created.outs });
        });
    });

    describe("RandomBytes / RandomId / RandomInteger", () => {
        it("encodes the same bytes as base64 and hex, secret", async () => {
            const { outs } = await p.create(urn("random:index/randomBytes:RandomBytes"), { length: 32 });
            const hex = str(outs.hex);
            assert.ok(isSecretValue(outs.hex) && isSecretValue(outs.base64));
            assert.equal(hex.length, 64);
            assert.equal(Buffer.from(str(outs.base64), "base64").toString("hex"), hex);
        });

        it("derives every RandomId encoding from one byte string, prefixed", async () => {
            const { id, outs } = await p.create(urn("random:index/randomId:RandomId"), {
                byteLength: 8,
                prefix: "ct-",
            });
            const bytes = Buffer.from(id, "base64url");
            assert.equal(bytes.length, 8);
            assert.equal(outs.b64Url, "ct-" + id);
            assert.equal(outs.b64Std, "ct-" + bytes.toString("base64"));
            assert.equal(outs.hex, "ct-" + bytes.toString("hex"));
            assert.equal(outs.dec, "ct-" + BigInt("0x" + bytes.toString("hex")).toString());
        });

        it("draws integers in [min, max], repeatably for a seed, and refuses min > max", async () => {
            const INT = urn("random:index/randomInteger:RandomInteger");
            for (let i = 0; i < 50; i++) {
                const { id, outs } = await p.create(INT, { min: 5, max: 7 });
                assert.ok([5, 6, 7].includes(outs.result as number));
                assert.equal(id, String(outs.result));
            }
            const a = await p.create(INT, { min: 0, max: 1_000_000, seed: "pve" });
            const b = await p.create(INT, { min: 0, max: 1_000_000, seed: "pve" });
            assert.equal(a.outs.result, b.outs.result);
            await assert.rejects(p.create(INT, { min: 2, max: 1 }), /min.*max/);
        });
    });

    describe("RandomUuid / RandomPet / RandomShuffle", () => {
        it("formats UUIDs (go-uuid, v4, v7)", async () => {
            const hex = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
            const u = await p.create(urn("random:index/randomUuid:RandomUuid"), {});
            assert.match(String(u.outs.result), hex);
            assert.equal(u.id, u.outs.result);
            const v4 = await p.create(urn("random:index/randomUuid4:RandomUuid4"), {});
            assert.match(
                String(v4.outs.result),
                /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
            );
            const v7 = await p.create(urn("random:index/randomUuid7:RandomUuid7"), {});
            assert.match(
                String(v7.outs.result),
                /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
            );
        });

        it("names pets with the requested length, separator and prefix", async () => {
            const PET = urn("random:index/randomPet:RandomPet");
            const d = await p.create(PET, {});
            assert.match(d.id, /^[a-z]+-[a-z]+$/);
            assert.equal(d.outs.length, 2);
            assert.equal(d.outs.separator, "-");
            const c = await p.create(PET, { length: 3, separator: "_", prefix: "ct" });
            assert.match(c.id, /^ct_[a-z]+_[a-z]+_[a-z]+$/);
        });

        it("shuffles into whole permutations, repeating to fill resultCount", async () => {
            const SHUFFLE = urn("random:index/randomShuffle:RandomShuffle");
            const perm = await p.create(SHUFFLE, { inputs: ["a", "b", "c", "d"] });
            assert.deepEqual([...(perm.outs.results as string[])].sort(), ["a", "b", "c", "d"]);
            assert.equal(perm.outs.resultCount, undefined);
            const more = await p.create(SHUFFLE, { inputs: ["a", "b"], resultCount: 5 });
            const r = more.outs.results as string[];
            assert.equal(r.length, 5);
            assert.deepEqual([...r.slice(0, 2)].sort(), ["a", "b"]);
            assert.deepEqual([...r.slice(2, 4)].sort(), ["a", "b"]);
            const s1 = await p.create(SHUFFLE, { inputs: ["a", "b", "c", "d", "e"], seed: "x" });
            const s2 = await p.create(SHUFFLE, { inputs: ["a", "b", "c", "d", "e"], seed: "x" });
            assert.deepEqual(s1.outs.results, s2.outs.results);
        });
    });

    it("keeps secret inputs secret in the outputs", async () => {
        const { outs } = await p.create(urn("random:index/randomId:RandomId"), {
            byteLength: 4,
            prefix: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "p-" },
        });
        assert.ok(isSecretValue(outs.prefix));
        assert.ok(String(plain(outs.hex)).startsWith("p-"));
    });
});
