/** The PVE HTTP API client (see docs/ARCHITECTURE.md): one import for the provider runtime. */
export * from "./errors";
export * from "./connection";
export * from "./tls";
export * from "./form";
export * from "./retry";
export * from "./auth";
export * from "./client";
export * from "./tasks";
export * from "./network-lock";
export * from "./api";
export * from "./propstrings";
