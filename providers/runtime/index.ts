/**
 * Entry point the serialized provider objects `require` inside the dynamic-provider host:
 * `configure(req)` once per provider, then `dispatch(kind, method, ...args)` for every CRUD call.
 */
import "./all";
import { setConfig, ConfigSource } from "./config";
import { handlers, ResourceHandler } from "./handlers";

export { UNKNOWN } from "./unknown";

export async function configure(req: { config: ConfigSource }): Promise<void> {
    setConfig(req.config);
}

type Method = keyof ResourceHandler;

export async function dispatch(kind: string, method: Method, ...args: unknown[]): Promise<unknown> {
    const handler = (handlers as Record<string, ResourceHandler | undefined>)[kind];
    if (!handler) throw new Error(`proxmox-homelab: unknown resource kind '${kind}'`);
    const fn = handler[method] as (...a: unknown[]) => Promise<unknown>;
    return fn.apply(handler, args);
}
