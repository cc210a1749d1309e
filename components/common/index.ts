export * from "./downloads";
export * from "./ca";
export * from "./container";
export * from "./validation";
export * from "./monitoring";
export * from "./sdk-debug";
