import { utils } from "ssh2";

type KeyOptions = { bits?: number; passphrase?: string; cipher?: string; rounds?: number; comment?: string };
type Generate = (type: "ed25519" | "rsa" | "ecdsa", opts: KeyOptions) => { private: string; public: string };

/**
 * `utils.generateKeyPairSync`, retried until ssh2 can parse what it generated: ssh2 1.17 strips leading zero
 * bytes from Ed25519 public keys, so about 1 key in 256 comes out malformed (mscdex/ssh2#1390, #1513) and a
 * test using it would fail at random.
 */
export function generateKeyPair(
    type: "ed25519" | "rsa" | "ecdsa",
    opts: KeyOptions = {},
): { private: string; public: string } {
    const generate = utils.generateKeyPairSync as unknown as Generate;
    for (;;) {
        const pair = generate(type, opts);
        const pub = utils.parseKey(pair.public);
        const priv = utils.parseKey(pair.private, opts.passphrase);
        if (!(pub instanceof Error) && !(priv instanceof Error)) return pair;
    }
}
