/**
 * Where containers get their software: the rendered apt proxy file and the environment of release downloads,
 * with and without proxy exceptions (`downloads.noProxy`), and the exception rule itself.
 */
import assert from "node:assert/strict";

import {
    NO_PROXY_ENTRY,
    proxyEnvironment,
    renderAptProxyConf,
    renderPipConf,
    resolveDownloads,
} from "../../components/common/downloads";

describe("downloads", () => {
    it("without a proxy: no apt proxy file, no environment, pip takes only the index", () => {
        const d = resolveDownloads({ noProxy: ["mirror.lan"] });
        assert.equal(renderAptProxyConf(d), undefined);
        assert.deepEqual(proxyEnvironment(d), {});
        assert.equal(renderPipConf(d), "[global]\nindex-url = https://pypi.org/simple\n");
    });

    it("with a proxy and no exceptions: apt and the environment use it for everything", () => {
        const d = resolveDownloads({ httpProxy: "http://192.168.1.5:3128" });
        assert.equal(
            renderAptProxyConf(d),
            'Acquire::http::Proxy "http://192.168.1.5:3128";\nAcquire::https::Proxy "http://192.168.1.5:3128";\n',
        );
        assert.deepEqual(proxyEnvironment(d), {
            http_proxy: "http://192.168.1.5:3128",
            https_proxy: "http://192.168.1.5:3128",
            HTTP_PROXY: "http://192.168.1.5:3128",
            HTTPS_PROXY: "http://192.168.1.5:3128",
        });
    });

    it("noProxy: apt goes DIRECT to exact hosts; curl and wget get every form in no_proxy", () => {
        const d = resolveDownloads({
            httpProxy: "http://192.168.1.5:3128",
            noProxy: ["mirror.home.arpa", "192.168.1.7", ".lan", "10.0.0.0/8"],
        });
        assert.equal(
            renderAptProxyConf(d),
            [
                'Acquire::http::Proxy "http://192.168.1.5:3128";',
                'Acquire::https::Proxy "http://192.168.1.5:3128";',
                'Acquire::http::Proxy::mirror.home.arpa "DIRECT";',
                'Acquire::https::Proxy::mirror.home.arpa "DIRECT";',
                'Acquire::http::Proxy::192.168.1.7 "DIRECT";',
                'Acquire::https::Proxy::192.168.1.7 "DIRECT";',
                "",
            ].join("\n"),
        );
        const env = proxyEnvironment(d);
        assert.equal(env.no_proxy, "mirror.home.arpa,192.168.1.7,.lan,10.0.0.0/8");
        assert.equal(env.NO_PROXY, env.no_proxy);
        assert.equal(env.http_proxy, "http://192.168.1.5:3128");
        // pip's own proxy setting takes no exceptions: it stays as it was.
        assert.equal(
            renderPipConf(d),
            "[global]\nindex-url = https://pypi.org/simple\nproxy = http://192.168.1.5:3128\n",
        );
    });

    it("the noProxy rule takes names, addresses, suffixes and CIDRs, and nothing that could leave apt's syntax", () => {
        for (const ok of ["mirror", "mirror.home.arpa", ".home.arpa", "192.168.1.7", "10.0.0.0/8", "a-b.c1"]) {
            assert.match(ok, NO_PROXY_ENTRY, ok);
        }
        for (const bad of ["", "bad host", "-x", "x-", "a..b", 'x" ; y', "x;y", "*", "http://x", "10.0.0.0/8/1"]) {
            assert.doesNotMatch(bad, NO_PROXY_ENTRY, bad);
        }
    });
});
