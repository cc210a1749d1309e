import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { shellJoin, shellQuote } from "../../providers/ssh/quote";

/** Strings that break naive quoting, each checked by a real shell giving back the exact bytes. */
const HOSTILE: string[] = [
    "",
    " ",
    "plain",
    "'",
    "''",
    "it's",
    "'\\''",
    '"',
    "\"double\" and 'single'",
    "$(id)",
    "${HOME}",
    "$HOME",
    "${x:-$(touch /tmp/pwned)}",
    "`id`",
    "a;b",
    "a && b || c",
    "a | b",
    "a > /tmp/x < /etc/passwd",
    "line1\nline2",
    "trailing newline\n",
    "\n",
    "tab\there",
    "cr\rhere",
    "*",
    "?",
    "[a-z]*",
    "{a,b}",
    "-n",
    "-e",
    "--",
    "--help",
    "~",
    "~root",
    "a=b",
    "if",
    "!",
    "#comment",
    "\\",
    "\\n",
    "back\\slash'quote",
    "%s%d%%",
    "ünïcødé ☃ 🚀 日本語",
    "\u0001\u001b[31mred\u007f",
    "\u2028\u00a0",
    "x".repeat(10000),
];

/** The shells the project's commands meet: PVE's login shell (bash), Debian's /bin/sh (dash), Alpine's and the simulator's (busybox ash). */
const SHELLS: string[][] = [["/bin/sh"], ["dash"], ["bash", "--posix"], ["busybox", "sh"]].filter(
    ([bin]) => bin.startsWith("/") || ["/usr/bin", "/bin"].some((d) => existsSync(`${d}/${bin}`)),
);

/** Runs `script` in `shell` and returns stdout's raw bytes. */
function run(shell: string[], script: string): Buffer {
    // stdin is /dev/null: Debian's bash reads ~/.bashrc when stdin is a socket (it assumes sshd started it),
    // and node's stdio pipes are socketpairs.
    try {
        return execFileSync(shell[0], [...shell.slice(1), "-c", script], {
            env: { PATH: process.env.PATH },
            stdio: ["ignore", "pipe", "pipe"],
        });
    } catch (err) {
        const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? "";
        throw new Error(`${shell.join(" ")} failed: ${stderr.slice(0, 500)}`, { cause: err });
    }
}

describe("shellQuote", () => {
    it("single-quotes everything, including the empty string", () => {
        assert.equal(shellQuote("plain"), "'plain'");
        assert.equal(shellQuote(""), "''");
        assert.equal(shellQuote("it's"), "'it'\\''s'");
        assert.equal(shellQuote("'"), "''\\'''");
        assert.equal(shellQuote('$(id) `x` "y"'), "'$(id) `x` \"y\"'");
        assert.equal(shellQuote("a\nb"), "'a\nb'");
    });

    it("refuses a NUL byte instead of letting the shell cut the word", () => {
        assert.throws(() => shellQuote("a\0b"), /NUL/);
    });

    it("refuses a lone surrogate, which has no UTF-8 form", () => {
        assert.throws(() => shellQuote("a\ud800b"), /surrogate/);
        assert.throws(() => shellQuote("\udc00"), /surrogate/);
        assert.equal(shellQuote("\ud83d\ude80"), "'\ud83d\ude80'");
    });

    it("refuses non-strings from untyped callers", () => {
        assert.throws(() => shellQuote(42 as unknown as string), TypeError);
    });

    for (const shell of SHELLS) {
        it(`round-trips every hostile string through ${shell.join(" ")} byte for byte`, () => {
            for (const s of HOSTILE) {
                const out = run(shell, `printf '%s' ${shellQuote(s)}`);
                assert.deepEqual(out, Buffer.from(s, "utf8"), `string ${JSON.stringify(s)}`);
            }
        });
    }
});

describe("shellJoin", () => {
    it("joins quoted words with single spaces", () => {
        assert.equal(shellJoin(["ls", "-l", "my file", "it's"]), "'ls' '-l' 'my file' 'it'\\''s'");
        assert.equal(shellJoin([]), "");
        assert.equal(shellJoin([""]), "''");
    });

    for (const shell of SHELLS) {
        it(`makes ${shell.join(" ")} split the line back into exactly the same argv`, () => {
            // Each argument comes back NUL-terminated, so empty and newline-only words are visible too.
            const script = `set -- ${shellJoin(HOSTILE)}; for a in "$@"; do printf '%s\\0' "$a"; done`;
            const out = run(shell, script).toString("utf8");
            assert.deepEqual(out.split("\0").slice(0, -1), HOSTILE);
        });
    }

    it("keeps an assignment-looking first word a command name, not an assignment", () => {
        // Unquoted, `a=b printf x` would set a variable and run printf; quoted, it runs a command named a=b.
        assert.throws(() => run(["/bin/sh"], `${shellJoin(["a=b", "printf", "x"])} 2>/dev/null`));
    });
});
