/**
 * Containers for provider tests: created and powered through the simulator's API (as root@pam, in-process, the
 * way `pct` does on a node), and inspected or edited through its backend directly, so none of it shows up in the
 * SSH journal the tests assert on.
 */
import type { Simulator } from "../pve-sim";

export const DEBIAN_TEMPLATE = "local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst";

async function task(sim: Simulator, method: string, path: string, params = {}): Promise<void> {
    const r = await sim.api(method, path, params);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.message ?? ""}`);
    const t = await sim.waitForTask(String(r.data));
    if (t.exitstatus !== "OK") throw new Error(`${method} ${path}: task ended ${String(t.exitstatus)}`);
}

/** Creates a Debian CT and (by default) starts it. */
export async function createCt(sim: Simulator, vmid: number, opts: { start?: boolean } = {}): Promise<void> {
    await task(sim, "POST", `/nodes/${sim.node}/lxc`, {
        vmid,
        ostemplate: DEBIAN_TEMPLATE,
        hostname: `ct${vmid}`,
        rootfs: "local-zfs:8",
        net0: "name=eth0,bridge=vmbr0,ip=dhcp",
    });
    if (opts.start !== false) await startCt(sim, vmid);
}

export async function startCt(sim: Simulator, vmid: number): Promise<void> {
    await task(sim, "POST", `/nodes/${sim.node}/lxc/${vmid}/status/start`);
}

export async function stopCt(sim: Simulator, vmid: number): Promise<void> {
    await task(sim, "POST", `/nodes/${sim.node}/lxc/${vmid}/status/stop`);
}

/** Runs a POSIX sh script in a CT (vmid) or on the host (undefined) behind the providers' back. */
export async function sh(
    sim: Simulator,
    vmid: number | undefined,
    script: string,
    opts: { args?: string[]; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
    const argv = ["/bin/sh", "-c", script, "sh", ...(opts.args ?? [])];
    const o = opts.stdin === undefined ? {} : { stdin: Buffer.from(opts.stdin, "utf8") };
    const r = vmid === undefined ? await sim.backend.hostExec(argv, o) : await sim.backend.exec(vmid, argv, o);
    return { code: r.code, stdout: r.stdout.toString("utf8"), stderr: r.stderr.toString("utf8") };
}

/** What is at a path: content and `stat` facts, or undefined when nothing is there. */
export async function fileAt(
    sim: Simulator,
    vmid: number | undefined,
    path: string,
): Promise<{ content: string; mode: string; owner: string; group: string; type: string } | undefined> {
    const script = `if [ -e "$1" ] || [ -L "$1" ]; then stat -c '%a %U %G %F' -- "$1"; cat -- "$1"; else echo ABSENT; fi`;
    const r = await sh(sim, vmid, script, { args: [path] });
    if (r.code !== 0) throw new Error(`stat ${path}: ${r.stderr}`);
    const nl = r.stdout.indexOf("\n");
    const head = r.stdout.slice(0, nl);
    if (head === "ABSENT") return undefined;
    const [mode, owner, group, ...type] = head.split(" ");
    return { mode: mode.padStart(4, "0"), owner, group, type: type.join(" "), content: r.stdout.slice(nl + 1) };
}

/** Names in a directory (sorted), e.g. to prove no temp file was left behind. */
export async function listDir(sim: Simulator, vmid: number | undefined, dir: string): Promise<string[]> {
    const r = await sh(sim, vmid, 'ls -A -- "$1"', { args: [dir] });
    if (r.code !== 0) throw new Error(`ls ${dir}: ${r.stderr}`);
    return r.stdout.split("\n").filter(Boolean).sort();
}
