/**
 * A TCP pass-through on 127.0.0.1 that counts the connections made through it. The benchmark points the stack's
 * `sshPort` (and `pveEndpoint`) at one of these, so it can count the SSH (and HTTPS) connections the providers open
 * without touching the simulator. The bytes are forwarded untouched: the host key and the TLS certificate are the
 * simulator's own, so the pins in the stack config still hold.
 */
import * as net from "node:net";

export interface CountingProxy {
    port: number;
    /** Connections accepted since the proxy started. */
    readonly connections: number;
    /** Connections open right now. */
    readonly open: number;
    /** Most connections open at once since the proxy started (or since the last `resetPeak`). */
    readonly peakOpen: number;
    resetPeak(): void;
    stop(): Promise<void>;
}

export async function startCountingProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<CountingProxy> {
    let connections = 0;
    let open = 0;
    let peakOpen = 0;
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
        connections++;
        open++;
        peakOpen = Math.max(peakOpen, open);
        client.setNoDelay(true);
        const upstream = net.connect({ port: targetPort, host: targetHost });
        upstream.setNoDelay(true);
        sockets.add(client);
        sockets.add(upstream);
        let closed = false;
        const close = (): void => {
            if (closed) return;
            closed = true;
            open--;
            client.destroy();
            upstream.destroy();
            sockets.delete(client);
            sockets.delete(upstream);
        };
        client.on("error", close);
        upstream.on("error", close);
        client.on("close", close);
        upstream.on("close", close);
        client.pipe(upstream);
        upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    return {
        port,
        get connections() {
            return connections;
        },
        get open() {
            return open;
        },
        get peakOpen() {
            return peakOpen;
        },
        resetPeak() {
            peakOpen = open;
        },
        async stop() {
            for (const s of sockets) s.destroy();
            await new Promise<void>((resolve) => server.close(() => resolve()));
        },
    };
}
