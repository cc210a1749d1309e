/**
 * One network change-and-apply in flight per node within this process.
 *
 * PVE stages node network edits in /etc/network/interfaces.new and `PUT /nodes/{node}/network` applies ALL
 * staged edits at once (ifreload -a). Two bridges created in parallel by one deployment would otherwise
 * interleave: bridge A's apply could run while bridge B's edit is half staged, and two concurrent ifreloads
 * race. The Pulumi engine runs independent resources concurrently, and one plugin process serves them all, so
 * a module-level queue per node is where the serialisation belongs. (Another process or a human at the GUI
 * is not covered: the Bridge provider checks for foreign pending changes before applying.)
 *
 * The lock is not re-entrant: never call withNetworkLock from inside fn for the same node.
 */

const tails = new Map<string, Promise<void>>();

/** Runs `fn` after every earlier `fn` for the same node has settled (fulfilled or rejected). */
export function withNetworkLock<T>(node: string, fn: () => Promise<T>): Promise<T> {
    const previous = tails.get(node) ?? Promise.resolve();
    const run = previous.then(fn);
    // The queue continues whether fn succeeded or failed; the caller still sees fn's own outcome.
    const tail = run.then(
        () => undefined,
        () => undefined,
    );
    tails.set(node, tail);
    void tail.then(() => {
        // Drop the entry once idle so the map does not grow with every node ever touched.
        if (tails.get(node) === tail) tails.delete(node);
    });
    return run;
}

/** Number of nodes with queued or running network work (for tests and diagnostics). */
export function networkLockDepth(): number {
    return tails.size;
}
