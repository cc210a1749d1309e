export * from "./args";
export * from "./NetboxStack";
export * as render from "./render/index";
