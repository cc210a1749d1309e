// The SSH layer: quoting, host-key pinning, the connection pool and the pct wrappers built on it.
export * from "./errors";
export * from "./hostkey";
export * from "./pct";
export * from "./pool";
export * from "./quote";
