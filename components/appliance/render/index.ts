export * from "./paths";
export * from "./dnsmasq";
export * from "./caddy";
export * from "./firewall";
export * from "./services";
