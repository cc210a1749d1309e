export * from "./common";
export * from "./version";
export * from "./cluster";
export * from "./lxc";
export * from "./network";
export * from "./storage";
export * from "./access";
