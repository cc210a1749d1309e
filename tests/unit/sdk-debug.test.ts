import * as assert from "node:assert/strict";
import { redactRpcDebugMessage, redactSdkRpcDebug } from "../../components/common/sdk-debug";

/** What @pulumi/pulumi 3.248.0's runtime/resource.js logs after RegisterResource (shortened protobuf text). */
const REGISTER =
    "RegisterResource RPC finished: resource:netbox-db-password[random:index/randomPassword:RandomPassword]; " +
    "err: null, resp: urn:pulumi:dev::proxmox-homelab::proxmox-homelab:netbox:NetboxStack$random:index/" +
    "randomPassword:RandomPassword::netbox-db-password,none,__meta,,,result,,,,,4dabf18193072939515e22adb298388d," +
    ",,1b47061264138c4ac30d75fd1eb44270,value,,,s65pQ0xv2LZ8cJ1uT9wE4rYb,special,,,,false";

describe("SDK debug messages: RPC responses are not logged", () => {
    it("keeps which RPC, which resource and the error, drops the response", () => {
        assert.equal(
            redactRpcDebugMessage(REGISTER),
            "RegisterResource RPC finished: resource:netbox-db-password[random:index/randomPassword:RandomPassword]; " +
                "err: null, resp: [response not logged: it may hold secret outputs]",
        );
        assert.equal(
            redactRpcDebugMessage("Invoke RPC finished: tok=pulumi:pulumi:getStack; err: null, resp: a,b\nsecret"),
            "Invoke RPC finished: tok=pulumi:pulumi:getStack; err: null, resp: [response not logged: it may hold secret outputs]",
        );
        assert.equal(
            redactRpcDebugMessage(
                "RegisterResourceOutputs RPC finished: urn=urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev; err: Error: 14 UNAVAILABLE, resp: x",
            ),
            "RegisterResourceOutputs RPC finished: urn=urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev; err: Error: 14 UNAVAILABLE, resp: [response not logged: it may hold secret outputs]",
        );
    });

    it("passes every other message through unchanged", () => {
        for (const msg of [
            "RegisterResource RPC prepared: t=random:index/randomPassword:RandomPassword, name=netbox-db-password",
            "Resource registration complete",
            "resp: something",
        ]) {
            assert.equal(redactRpcDebugMessage(msg), msg);
        }
    });

    it("wraps the SDK's log.debug once, which the SDK's runtime calls through", async () => {
        const log = require("@pulumi/pulumi/log") as { debug: (msg: string, ...rest: unknown[]) => Promise<void> };
        const before = log.debug;
        const seen: unknown[][] = [];
        log.debug = (...args: unknown[]) => {
            seen.push(args);
            return Promise.resolve();
        };
        try {
            redactSdkRpcDebug();
            redactSdkRpcDebug();
            await log.debug(REGISTER, undefined, 7);
            await log.debug("other");
            assert.deepEqual(seen, [
                [
                    "RegisterResource RPC finished: resource:netbox-db-password[random:index/randomPassword:RandomPassword]; err: null, resp: [response not logged: it may hold secret outputs]",
                    undefined,
                    7,
                ],
                ["other"],
            ]);
        } finally {
            log.debug = before;
        }
    });
});
