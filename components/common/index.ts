export * from "./downloads";
export * from "./ca";
export * from "./container";
