/**
 * POSIX shell quoting: the one helper every interpolated argument in the project goes through.
 *
 * Every word is single-quoted, always. Inside single quotes a POSIX shell treats every byte literally except
 * `'` itself, which is written as `'\''` (close the quote, an escaped quote, reopen). Leaving "safe" words bare
 * would save a few bytes but needs a proof per shell and per position (`if`, `{`, `!`, `a=b` and `~x` are all
 * plain-looking words that change meaning in command position), so we do not.
 *
 * Two things cannot be quoted: a NUL byte (a C string ends there, so the shell would silently cut the word) and
 * a lone UTF-16 surrogate (it has no UTF-8 encoding; Node would send U+FFFD, a different word than the caller
 * asked for). Both are refused instead of being changed behind the caller's back.
 */

import { SshConfigError } from "./errors";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws unless `s` can travel through a shell word unchanged. */
export function assertShellSafe(s: string, what = "shell argument"): void {
    if (typeof s !== "string") {
        throw new TypeError(`${what}: expected a string, got ${typeof s}`);
    }
    if (s.includes("\0")) {
        throw new SshConfigError(`${what}: contains a NUL byte, which no shell word or file name can hold`);
    }
    if (LONE_SURROGATE.test(s)) {
        throw new SshConfigError(`${what}: contains a lone UTF-16 surrogate, which has no UTF-8 encoding`);
    }
}

/** Quotes one word for a POSIX shell: `it's` → `'it'\''s'`, the empty string → `''`. */
export function shellQuote(s: string): string {
    assertShellSafe(s);
    return "'" + s.replace(/'/g, "'\\''") + "'";
}

/** Quotes every word and joins them with single spaces, so the shell splits them back into exactly `argv`. */
export function shellJoin(argv: readonly string[]): string {
    return argv.map(shellQuote).join(" ");
}
