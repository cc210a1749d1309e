/**
 * The container templates of the live test bed: Debian rootfs built once with LXC's `debian` template (debootstrap
 * from this machine's own Debian mirror) and kept as stopped base containers (`phl-tmpl-debian-<major>`) that every
 * test-bed container is `lxc-copy`'d from. Two caches make reruns fast: LXC's own debootstrap cache
 * (/var/cache/lxc/debian) and the base container itself (under `/var/lib/phl-live/templates`). Neither is removed by
 * the bed's teardown; `rm -rf` them to force a rebuild.
 *
 * PVE template names map onto them: `debian-13-standard_13.1-2_amd64.tar.zst` → `phl-tmpl-debian-13`. Alpine cannot
 * be had on these machines (its template downloads from Alpine's own mirrors, which the bed's allowlist does not
 * hold), so an Alpine ostemplate maps to the Debian 13 template as well: the live bed runs Debian in every container.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";

import { debianMirrors } from "./allowlist";
import { baseEnv, runOk } from "./run";

/**
 * Packages PVE's `debian-*-standard` templates have that debootstrap's minimal set lacks and tests lean on (ping,
 * ps, wget). curl is left out on purpose: installing it through the proxy is how the bed's egress is tested.
 */
const EXTRA_PACKAGES = ["iputils-ping", "procps", "less", "wget"];
/** Bumped whenever what a base container holds changes: an older one is rebuilt. */
const TEMPLATE_REVISION = `rev=2 packages=${EXTRA_PACKAGES.join(",")}`;

const CODENAMES: Record<string, string> = { "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky" };

export interface TemplateRef {
    /** Base container name, e.g. `phl-tmpl-debian-13`. */
    name: string;
    /** Its LXC path. */
    lxcPath: string;
    /** Debian major version. */
    major: string;
    codename: string;
}

export interface EnsureTemplateResult extends TemplateRef {
    /** Whether this call built it (false: it was cached). */
    built: boolean;
    ms: number;
}

export function templateDir(): string {
    return path.join(process.env.PHL_LIVE_DIR ?? "/var/lib/phl-live", "templates");
}

/** The base container for a PVE ostemplate volid (or bare template file name). */
export function templateFor(ostemplate: string): TemplateRef {
    const m = /debian-(\d+)-/.exec(ostemplate);
    // Alpine (and anything unknown) maps to Debian 13: see the module comment.
    const major = m && CODENAMES[m[1]] ? m[1] : "13";
    return { name: `phl-tmpl-debian-${major}`, lxcPath: templateDir(), major, codename: CODENAMES[major] };
}

/**
 * What every clone starts from, beyond what LXC's template leaves: no network configuration (PVE writes it per
 * container), no resolver copied from the machine, no machine id or SSH host keys shared between clones.
 */
const PREPARE_ROOTFS = `R=$P/$N/rootfs
printf 'auto lo\\niface lo inet loopback\\n' > "$R/etc/network/interfaces"
: > "$R/etc/resolv.conf"
: > "$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id" "$R"/etc/ssh/ssh_host_*
rm -f "$R/etc/apt/apt.conf.d/"*proxy* 2>/dev/null || true
rm -rf "$R/var/lib/apt/lists/"* "$R/var/cache/apt/"*.bin
chroot "$R" apt-get clean
for b in ping ps wget; do chroot "$R" sh -c 'command -v "$1"' sh "$b" >/dev/null || { echo "template lacks $b" >&2; exit 1; }; done
mkdir -p "$R/etc/phl-testbed"
`;

/**
 * Builds the base container unless it exists. Concurrent callers (two test beds) serialise on a lock file; the
 * build runs `lxc-create -t debian` against the machine's own Debian mirror, read from its apt sources.
 */
export async function ensureTemplate(ostemplate: string, log?: (line: string) => void): Promise<EnsureTemplateResult> {
    const ref = templateFor(ostemplate);
    const t0 = Date.now();
    await fs.mkdir(ref.lxcPath, { recursive: true });
    const ready = path.join(ref.lxcPath, ref.name, "phl-template-ready");
    const have = await fs.readFile(ready, "utf8").catch(() => "");
    if (have.split("\n")[0] === TEMPLATE_REVISION) return { ...ref, built: false, ms: Date.now() - t0 };
    const mirrors = debianMirrors();
    const conf = path.join(ref.lxcPath, `${ref.name}.create.conf`);
    // No network at all in the base container (it is never started) and no AppArmor profile (these kernels have
    // none; PVE's own default for privileged containers is its generated profile).
    await fs.writeFile(conf, "lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n");
    const script = `set -e
P=$1; N=$2; CONF=$3; REL=$4; MIRROR=$5; SEC=$6; READY=$7; REV=$8; PKGS=$9
[ -e "$READY" ] && [ "$(head -n1 "$READY")" = "$REV" ] && exit 0
if [ -e "$P/$N" ]; then lxc-destroy -n "$N" -P "$P" -f >/dev/null 2>&1 || rm -rf "$P/$N"; fi
lxc-create -n "$N" -P "$P" -f "$CONF" -t debian -- -r "$REL" --mirror "$MIRROR" --security-mirror "$SEC" --packages "$PKGS"
${PREPARE_ROOTFS}
{ echo "$REV"; date -u +%FT%TZ; echo "$MIRROR"; } > "$READY"
`;
    log?.(`building container template ${ref.name} (Debian ${ref.codename} from ${mirrors.mirror})`);
    await runOk(
        [
            "flock",
            "-w",
            "1800",
            path.join(ref.lxcPath, `${ref.name}.lock`),
            "sh",
            "-c",
            script,
            "sh",
            ref.lxcPath,
            ref.name,
            conf,
            ref.codename,
            mirrors.mirror,
            mirrors.securityMirror,
            ready,
            TEMPLATE_REVISION,
            EXTRA_PACKAGES.join(","),
        ],
        { env: baseEnv(), timeoutMs: 1_800_000, onStdout: (b) => log?.(b.toString().trimEnd()) },
    );
    return { ...ref, built: true, ms: Date.now() - t0 };
}
