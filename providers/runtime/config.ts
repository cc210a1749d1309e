/**
 * Connection configuration as the dynamic-provider host hands it to `configure`: the stack's config (all
 * namespaces, secrets unwrapped) plus environment overrides. Held in module state so that every resource
 * of the deployment (one host process serves them all) shares it, and never captured in `__provider`.
 */
export interface ConfigSource {
    get(key: string): string | undefined;
}

let current: ConfigSource | undefined;

export function setConfig(config: ConfigSource): void {
    current = config;
}

/** The configured source, or an empty one (environment variables alone may configure everything). */
export function getConfig(): ConfigSource {
    return current ?? { get: () => undefined };
}
