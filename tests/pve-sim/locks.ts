/**
 * PVE's per-guest config flock (`/run/lock/lxc/pve-config-<vmid>.lock`, PVE::AbstractConfig::lock_config):
 * a FIFO mutex whose waiters give up after a timeout with PVE's text.
 */
import { fail } from "./errors";

export class FileLock {
    private held = false;
    private readonly waiters: (() => void)[] = [];

    constructor(readonly path: string) {}

    get isHeld(): boolean {
        return this.held;
    }

    /** Waits up to `timeoutMs`; rejects with `can't lock file '<path>' - got timeout`. */
    async acquire(timeoutMs: number): Promise<() => void> {
        if (!this.held) {
            this.held = true;
            return this.releaser();
        }
        return new Promise((resolve, reject) => {
            const grant = (): void => {
                clearTimeout(timer);
                resolve(this.releaser());
            };
            const timer = setTimeout(() => {
                const index = this.waiters.indexOf(grant);
                if (index >= 0) this.waiters.splice(index, 1);
                reject(fail(`can't lock file '${this.path}' - got timeout`));
            }, timeoutMs);
            this.waiters.push(grant);
        });
    }

    private releaser(): () => void {
        let released = false;
        return () => {
            if (released) return;
            released = true;
            const next = this.waiters.shift();
            if (next) next();
            else this.held = false;
        };
    }
}
