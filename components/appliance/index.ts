export * from "./args";
export * from "./ProximityAppliance";
export * from "./render/index";
