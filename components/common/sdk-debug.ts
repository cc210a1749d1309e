/**
 * Keeps secrets out of the engine's event log.
 *
 * The Node SDK (3.248.0) logs the response of every RegisterResource, ReadResource, Invoke and Call RPC at debug
 * severity, as the protobuf's text: every output of the resource, secret outputs included, in plain text (a
 * RandomPassword's `result`, a PrivateKey's PEM, an Exec's secret environment). The engine keeps debug
 * diagnostics in its event log (the Automation API's `onEvent`, `pulumi up --event-log`, and what a service
 * backend stores with the update) whether or not `--debug` displays them. The end-to-end secrets test found
 * twenty such leaks per deploy of the dev stack.
 *
 * `redactSdkRpcDebug()` wraps the SDK's `log.debug` so those messages keep their first part (which RPC, which
 * resource, the error) and lose the response. Every other message passes through unchanged. Idempotent.
 */
const REDACTED = "[response not logged: it may hold secret outputs]";
const RPC_FINISHED =
    /^((?:RegisterResource|RegisterResourceOutputs|ReadResource|getResource Invoke|Invoke|Call) RPC finished: [\s\S]*?; err: [\s\S]*?), resp: [\s\S]*$/;

/** The message the SDK would log, without the RPC response. */
export function redactRpcDebugMessage(msg: string): string {
    const m = RPC_FINISHED.exec(msg);
    return m ? `${m[1]}, resp: ${REDACTED}` : msg;
}

type DebugFn = (msg: string, ...rest: unknown[]) => Promise<void>;
const WRAPPED = Symbol.for("proxmox-homelab.redactSdkRpcDebug");

export function redactSdkRpcDebug(): void {
    // The SDK's runtime calls `log.debug` through this module object at call time, so replacing it here covers it.
    const log = require("@pulumi/pulumi/log") as { debug: DebugFn & { [WRAPPED]?: true } };
    if (log.debug[WRAPPED]) return;
    const original = log.debug;
    const wrapped: DebugFn & { [WRAPPED]?: true } = (msg, ...rest) =>
        original(typeof msg === "string" ? redactRpcDebugMessage(msg) : msg, ...rest);
    wrapped[WRAPPED] = true;
    log.debug = wrapped;
}
