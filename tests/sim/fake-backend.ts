/**
 * An in-memory ContainerBackend for the simulator's own API tests: records every call, hands DHCP NICs an
 * address a configurable time after start, and can be told to fail. No file trees, no processes.
 */
import type {
    BackendContainerSpec,
    BackendInterfaceAddress,
    BackendNic,
    ContainerBackend,
    ExecResult,
} from "../pve-sim/backend";

interface FakeContainer {
    spec: BackendContainerSpec;
    running: boolean;
    startedAt: number;
}

export interface FakeBackendCall {
    method: string;
    vmid?: number;
    args?: unknown;
}

export class FakeBackend implements ContainerBackend {
    readonly kind = "fake";
    readonly containers = new Map<number, FakeContainer>();
    readonly calls: FakeBackendCall[] = [];
    bridges: { name: string; cidr?: string; mtu?: number; vlanAware?: boolean }[] = [];
    /** How long after start a DHCP NIC gets its address. */
    dhcpDelayMs = 30;
    /** Containers whose clean shutdown never completes. */
    readonly hangShutdown = new Set<number>();
    /** method name → error message for its next call. */
    readonly failNext = new Map<string, string>();

    private record(method: string, vmid?: number, args?: unknown): void {
        this.calls.push({ method, vmid, args });
        const message = this.failNext.get(method);
        if (message !== undefined) {
            this.failNext.delete(method);
            throw new Error(message);
        }
    }

    private ct(vmid: number): FakeContainer {
        const ct = this.containers.get(vmid);
        if (!ct) throw new Error(`CT ${vmid} does not exist`);
        return ct;
    }

    async create(spec: BackendContainerSpec): Promise<void> {
        this.record("create", spec.vmid, spec);
        this.containers.set(spec.vmid, {
            spec: { ...spec, nics: spec.nics.map((n) => ({ ...n })) },
            running: false,
            startedAt: 0,
        });
    }

    async destroy(vmid: number): Promise<void> {
        this.record("destroy", vmid);
        this.containers.delete(vmid);
    }

    async start(vmid: number): Promise<void> {
        this.record("start", vmid);
        const ct = this.ct(vmid);
        ct.running = true;
        ct.startedAt = Date.now();
    }

    async stop(vmid: number): Promise<void> {
        this.record("stop", vmid);
        this.ct(vmid).running = false;
    }

    async shutdown(vmid: number, timeoutMs: number): Promise<void> {
        this.record("shutdown", vmid, { timeoutMs });
        if (this.hangShutdown.has(vmid)) throw new Error(`shutdown of CT ${vmid} timed out`);
        this.ct(vmid).running = false;
    }

    async isRunning(vmid: number): Promise<boolean> {
        return this.containers.get(vmid)?.running === true;
    }

    async updateNics(vmid: number, nics: BackendNic[]): Promise<void> {
        this.record("updateNics", vmid, nics);
        this.ct(vmid).spec.nics = nics.map((n) => ({ ...n }));
    }

    async interfaces(vmid: number): Promise<BackendInterfaceAddress[]> {
        const ct = this.ct(vmid);
        const result: BackendInterfaceAddress[] = [
            { name: "lo", hwaddr: "00:00:00:00:00:00", inet: "127.0.0.1/8", inet6: "::1/128" },
        ];
        ct.spec.nics.forEach((nic, index) => {
            const entry: BackendInterfaceAddress = { name: nic.name, hwaddr: nic.hwaddr };
            if (nic.ip && nic.ip !== "dhcp" && nic.ip !== "manual") entry.inet = nic.ip;
            if (nic.ip === "dhcp" && ct.running && Date.now() - ct.startedAt >= this.dhcpDelayMs) {
                const bridge = this.bridges.find((b) => b.name === nic.bridge);
                if (bridge?.cidr) {
                    const [address, bits] = bridge.cidr.split("/");
                    const octets = address.split(".");
                    octets[3] = String(100 + (vmid % 50) + index);
                    entry.inet = `${octets.join(".")}/${bits}`;
                }
            }
            result.push(entry);
        });
        return result;
    }

    async exec(vmid: number, argv: string[]): Promise<ExecResult> {
        this.record("exec", vmid, argv);
        return { code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
    }

    async hostExec(argv: string[]): Promise<ExecResult> {
        this.record("hostExec", undefined, argv);
        return { code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
    }

    async push(vmid: number, path: string): Promise<void> {
        this.record("push", vmid, path);
    }

    async pull(vmid: number, path: string): Promise<Buffer> {
        this.record("pull", vmid, path);
        return Buffer.alloc(0);
    }

    async applyBridges(bridges: { name: string; cidr?: string; mtu?: number; vlanAware?: boolean }[]): Promise<void> {
        this.record("applyBridges", undefined, bridges);
        this.bridges = bridges.map((b) => ({ ...b }));
    }

    async close(): Promise<void> {
        this.containers.clear();
    }

    /** Calls of one method, in order. */
    callsOf(method: string): FakeBackendCall[] {
        return this.calls.filter((call) => call.method === method);
    }
}
