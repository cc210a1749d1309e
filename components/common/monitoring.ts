/**
 * What a component deployed that monitoring should watch. Components expose these as plain data (inside an
 * Output, since addresses may be discovered at deploy time); MonitoringLxc turns them into scrape jobs.
 */
export interface MonitoringTargets {
    /** node_exporter endpoints, `address:9100`. */
    nodeExporters: NodeExporterTarget[];
    /** URLs the blackbox exporter probes with HTTP (service availability and TLS expiry). */
    httpProbes: HttpProbeTarget[];
    /** Addresses the blackbox exporter pings (gateways, network devices). */
    icmpProbes: IcmpProbeTarget[];
}

export interface NodeExporterTarget {
    /** `host:port`, e.g. `10.100.0.20:9100`. Becomes the `instance` label. */
    address: string;
    /** Container hostname. Becomes the `container` label. */
    container: string;
    /** Component instance that made it, e.g. `netbox`. */
    component: string;
}

export interface HttpProbeTarget {
    /** Short name, becomes the `service` label, e.g. `netbox`. */
    name: string;
    url: string;
    component: string;
}

export interface IcmpProbeTarget {
    name: string;
    address: string;
    component: string;
}

export function emptyTargets(): MonitoringTargets {
    return { nodeExporters: [], httpProbes: [], icmpProbes: [] };
}

export function mergeTargets(...all: MonitoringTargets[]): MonitoringTargets {
    return {
        nodeExporters: all.flatMap((t) => t.nodeExporters),
        httpProbes: all.flatMap((t) => t.httpProbes),
        icmpProbes: all.flatMap((t) => t.icmpProbes),
    };
}
