import type { ConfigMap } from "./harness";

/** The connection details a running simulator hands out (see tests/pve-sim startSimulator). */
export interface SimulatorConnection {
    url: string;
    node: string;
    apiToken: string;
    rootPassword: string;
    tlsFingerprint: string;
    ssh: { host: string; port: number; user: string; privateKey: string; hostKeyFingerprint: string };
}

/**
 * Stack config that points the program at a simulator: credentials as secrets, TLS and SSH pinned to the
 * simulator's own certificate and host key. Root-only operations (the privileged appliance) use the
 * root@pam ticket, everything else could use the token; we configure both, as a user with a real node would.
 */
export function simulatorStackConfig(sim: SimulatorConnection): ConfigMap {
    return {
        pveEndpoint: { value: sim.url },
        pveNode: { value: sim.node },
        pveApiToken: { value: sim.apiToken, secret: true },
        pveUsername: { value: "root@pam" },
        pvePassword: { value: sim.rootPassword, secret: true },
        pveTlsFingerprint: { value: sim.tlsFingerprint },
        sshHost: { value: sim.ssh.host },
        sshPort: { value: String(sim.ssh.port) },
        sshUser: { value: sim.ssh.user },
        sshPrivateKey: { value: sim.ssh.privateKey, secret: true },
        sshHostKeyFingerprint: { value: sim.ssh.hostKeyFingerprint },
    };
}
