export * from "./MonitoringLxc";
export * from "./args";
export * as render from "./render";
