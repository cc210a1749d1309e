/**
 * The simulator's container backend: the one place that knows how a PVE container's file tree,
 * processes and network interfaces are realised. The HTTPS API layer (state, tasks, locks, config)
 * and the SSH layer (pct exec/push/pull, host commands) call only this interface, so a live backend
 * (real LXC containers on real bridges, issue 10) can replace the default chroot backend without
 * touching either of them.
 */

/** One container network interface as PVE's netN describes it (already normalised). */
export interface BackendNic {
    /** Interface name inside the container, e.g. `eth0`. */
    name: string;
    /** Host bridge, e.g. `vmbr1`. */
    bridge: string;
    /** MAC address PVE assigned, `BC:24:11:xx:xx:xx`. */
    hwaddr: string;
    /** `dhcp`, `manual`, or an IPv4 CIDR such as `10.100.0.10/24`. */
    ip?: string;
    gw?: string;
    mtu?: number;
    tag?: number;
}

/** What the backend needs to build a container. */
export interface BackendContainerSpec {
    vmid: number;
    hostname: string;
    /** Template volid, e.g. `local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst`. */
    ostemplate: string;
    /** `debian` or `alpine`, derived from the template name. */
    ostype: "debian" | "alpine";
    unprivileged: boolean;
    nics: BackendNic[];
    nameserver?: string;
    searchdomain?: string;
}

/** The address PVE's `GET .../interfaces` reports for one interface. */
export interface BackendInterfaceAddress {
    name: string;
    hwaddr: string;
    /** IPv4 CIDR, e.g. `10.20.0.101/24`, absent before a DHCP lease. */
    inet?: string;
    inet6?: string;
}

export interface ExecResult {
    code: number;
    stdout: Buffer;
    stderr: Buffer;
}

export interface ExecOptions {
    stdin?: Buffer;
    /** Environment for the command (the SSH side never passes secrets here; they travel on stdin). */
    env?: Record<string, string>;
    timeoutMs?: number;
}

/** A file pushed into a container, as `pct push --perms --user --group` sets it. */
export interface PushOptions {
    /** Octal mode string, e.g. `0640`. */
    perms?: string;
    user?: string;
    group?: string;
}

/**
 * Container lifecycle and contents. All methods are async; errors are thrown as `Error` whose message is
 * the text PVE/pct would print (the caller turns it into a task failure or an SSH exit status).
 */
export interface ContainerBackend {
    /** Human-readable name for logs (`chroot`, `lxc`). */
    readonly kind: string;
    /** Builds the container's root filesystem from its template. The container is stopped afterwards. */
    create(spec: BackendContainerSpec): Promise<void>;
    /** Removes the container and everything it owns. A missing container is not an error. */
    destroy(vmid: number): Promise<void>;
    start(vmid: number): Promise<void>;
    /** Hard stop. */
    stop(vmid: number): Promise<void>;
    /** Clean shutdown; rejects when it does not finish within `timeoutMs`. */
    shutdown(vmid: number, timeoutMs: number): Promise<void>;
    isRunning(vmid: number): Promise<boolean>;
    /** Applies changed NICs (PVE hot-plugs netN on a running container). */
    updateNics(vmid: number, nics: BackendNic[]): Promise<void>;
    /** Live addresses, as `GET /nodes/{node}/lxc/{vmid}/interfaces` reports them (includes `lo`). */
    interfaces(vmid: number): Promise<BackendInterfaceAddress[]>;
    /** `pct exec <vmid> -- argv...` (the caller has already checked that the container runs). */
    exec(vmid: number, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
    /** A command on the PVE host itself (anything that is not `pct`). */
    hostExec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
    /** `pct push`: writes `data` to `path` inside the container; the parent directory must exist. */
    push(vmid: number, path: string, data: Buffer, opts?: PushOptions): Promise<void>;
    /** `pct pull`: reads `path` inside the container. */
    pull(vmid: number, path: string): Promise<Buffer>;
    /**
     * Host network changes applied by the network API's apply (`ifreload -a`): the full desired set of
     * bridges after the apply. The chroot backend only records them; the live backend makes real bridges.
     */
    applyBridges(bridges: { name: string; cidr?: string; mtu?: number; vlanAware?: boolean }[]): Promise<void>;
    /** Releases everything the backend holds (directories, processes). Idempotent. */
    close(): Promise<void>;
}
