/** The CRUD implementation of every resource kind, as `dispatch` calls it. */
export interface ResourceHandler {
    check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<unknown>;
    diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<unknown>;
    create(inputs: Record<string, unknown>): Promise<unknown>;
    read(id: string, props: Record<string, unknown>): Promise<unknown>;
    update(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<unknown>;
    delete(id: string, props: Record<string, unknown>): Promise<void>;
}

export const handlers: Record<string, ResourceHandler> = {};

/** Each handler module registers itself here (imported for its side effect by ./all). */
export function registerHandler(kind: string, handler: ResourceHandler): void {
    handlers[kind] = handler;
}
