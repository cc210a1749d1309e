// The shape of the stand-in provider objects (plain CommonJS in random.js / tls.js), for the tests.
export interface CheckFailure {
    property: string;
    reason: string;
}

export interface StandInProvider {
    version: string;
    getSchema(): Promise<string>;
    check(
        urn: string,
        olds: object,
        news: object,
    ): Promise<{ inputs: Record<string, unknown>; failures: CheckFailure[] }>;
    diff(
        id: string,
        urn: string,
        olds: object,
        news: object,
    ): Promise<{ changes: boolean; replaces: string[]; deleteBeforeReplace: boolean }>;
    create(urn: string, inputs: object): Promise<{ id: string; outs: Record<string, unknown> }>;
    read(id: string, urn: string, props: object): Promise<{ id: string; props: Record<string, unknown> }>;
    update(id: string, urn: string, olds: object, news: object): Promise<{ outs: Record<string, unknown> }>;
    delete(id: string, urn: string, props: object): Promise<void>;
    invoke(token: string, args: object): Promise<{ outputs?: Record<string, unknown>; failures?: CheckFailure[] }>;
}

export interface ResourceSpecShape {
    token: string;
    inputs: Record<
        string,
        { type: string; required?: boolean; default?: unknown; replace: string; secret?: boolean; fields?: object }
    >;
    secretOutputs: string[];
}

export interface StandInModule {
    provider: StandInProvider;
    VERSION: string;
    resources: ResourceSpecShape[];
}

/** URN of a resource of `type` named `name`, as the engine passes it. */
export function urn(type: string, name = "r"): string {
    return `urn:pulumi:test::plugins::${type}::${name}`;
}
