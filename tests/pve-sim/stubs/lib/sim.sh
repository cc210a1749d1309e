# pve-sim stub library: sourced (never executed) by every stub and package hook.
# Runs under the container's /bin/sh (dash) with busybox tools; keep it POSIX.
#
# State written by stubs (all inside the container's root):
#   /var/lib/sim/packages/<pkg>     installed package record (Package/Version/Status + File:/Conffile:/Unit: lines)
#   /var/lib/sim/downloads/<sha256> URL registry for curl/wget (sha256 hex of the exact URL)
#   /var/log/sim/service-events     "<epoch> <action> <unit>" for every service action (start/stop/restart/reload...)
#   /var/log/sim/apt.log            one line per apt-get/apk operation
#   /run/sim/...                    runtime state (units, sysctl, iptables); cleared when the container stops

SIM_LIB=/usr/lib/pve-sim
# `read` is a builtin: sourcing this library costs no extra process.
SIM_OS=debian
SIM_SCOPE=container
[ -r "$SIM_LIB/os" ] && read -r SIM_OS <"$SIM_LIB/os"
[ -r "$SIM_LIB/scope" ] && read -r SIM_SCOPE <"$SIM_LIB/scope"
SIM_STATE=/var/lib/sim
SIM_RUN=/run/sim
SIM_LOG=/var/log/sim

sim_err() { printf '%s\n' "$*" >&2; }

# sim_die CODE MESSAGE...
sim_die() {
    _c=$1
    shift
    printf '%s\n' "$*" >&2
    exit "$_c"
}

sim_event() {
    mkdir -p "$SIM_LOG"
    printf '%s %s\n' "$(date +%s)" "$*" >>"$SIM_LOG/service-events"
}

# sim_log FILE LINE...
sim_log() {
    _f=$1
    shift
    mkdir -p "$SIM_LOG"
    printf '%s\n' "$*" >>"$SIM_LOG/$_f"
}

# sim_sha256 STRING -> hex digest of the string (no newline added)
sim_sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# ---- users and groups (files only, like shadow's useradd does) ----
#
# Like shadow's tools, every change holds the user database lock (lckpwdf: concurrent `useradd`s in one container
# must not lose each other's lines) and a rewrite replaces the file by rename, so a concurrent reader (`chown
# caddy:caddy` while another command adds a user) never sees it truncated.

# sim_userdb_lock: takes the lock for the rest of this process (and its children, which see SIM_USERDB_LOCKED).
sim_userdb_lock() {
    [ "${SIM_USERDB_LOCKED:-}" = 1 ] && return 1
    exec 7>>/etc/.pwd.lock
    flock -w 15 7 || sim_die 10 "cannot lock /etc/passwd; try again later."
    SIM_USERDB_LOCKED=1
    export SIM_USERDB_LOCKED
}
# sim_userdb_unlock: releases it early (before starting anything long-lived that would inherit descriptor 7).
sim_userdb_unlock() {
    exec 7>&-
    unset SIM_USERDB_LOCKED
}

# sim_rewrite FILE: replaces FILE with stdin atomically, keeping its mode and owner.
sim_rewrite() {
    _rw=$(mktemp "$1.XXXXXX") || return 1
    if cat >"$_rw" && chmod "$(stat -c %a "$1")" "$_rw" && chown "$(stat -c %u:%g "$1")" "$_rw" && mv -f "$_rw" "$1"; then
        return 0
    fi
    rm -f "$_rw"
    return 1
}

sim_user_exists() { grep -q "^$1:" /etc/passwd 2>/dev/null; }
sim_group_exists() { grep -q "^$1:" /etc/group 2>/dev/null; }
# sim_passwd_field NAME FIELDNO
sim_passwd_field() { awk -F: -v n="$1" -v f="$2" '$1 == n { print $f; exit }' /etc/passwd; }
sim_group_field() { awk -F: -v n="$1" -v f="$2" '$1 == n { print $f; exit }' /etc/group; }
sim_gid_of() {
    case "$1" in
    *[!0-9]*) sim_group_field "$1" 3 ;;
    *) printf '%s\n' "$1" ;;
    esac
}

# sim_free_id FILE LOW HIGH up|down -> first id in [LOW,HIGH] not used in FILE (3rd field)
sim_free_id() {
    awk -F: -v lo="$2" -v hi="$3" -v dir="$4" '
        { used[$3] = 1 }
        END {
            if (dir == "down") { for (i = hi; i >= lo; i--) if (!(i in used)) { print i; exit } }
            else { for (i = lo; i <= hi; i++) if (!(i in used)) { print i; exit } }
        }' "$1"
}

# sim_add_group NAME GID  (no checks; callers check)
sim_add_group() {
    printf '%s:x:%s:\n' "$1" "$2" >>/etc/group
    [ -f /etc/gshadow ] && printf '%s:!::\n' "$1" >>/etc/gshadow
    return 0
}

# sim_add_passwd NAME UID GID GECOS HOME SHELL
sim_add_passwd() {
    printf '%s:x:%s:%s:%s:%s:%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >>/etc/passwd
    [ -f /etc/shadow ] && printf '%s:!:%s:0:99999:7:::\n' "$1" "$(($(date +%s) / 86400))" >>/etc/shadow
    return 0
}

# sim_add_member GROUP USER
sim_add_member() {
    awk -F: -v OFS=: -v g="$1" -v u="$2" '
        $1 == g {
            n = split($4, m, ",")
            for (i = 1; i <= n; i++) if (m[i] == u) { print; next }
            $4 = ($4 == "" ? u : $4 "," u)
        }
        { print }' /etc/group | sim_rewrite /etc/group
}

# sim_system_user NAME [HOME] [SHELL] [GROUP]: what `adduser --system --group` does in a maintainer script.
sim_system_user() {
    _name=$1
    _home=${2:-/nonexistent}
    _shell=${3:-/usr/sbin/nologin}
    _grp=${4:-$1}
    _own_lock=0
    sim_userdb_lock && _own_lock=1
    if ! sim_group_exists "$_grp"; then
        _gid=$(sim_free_id /etc/group 100 999 down)
        sim_add_group "$_grp" "$_gid"
    fi
    if ! sim_user_exists "$_name"; then
        _uid=$(sim_free_id /etc/passwd 100 999 down)
        sim_add_passwd "$_name" "$_uid" "$(sim_gid_of "$_grp")" "" "$_home" "$_shell"
    fi
    [ "$_own_lock" = 1 ] && sim_userdb_unlock
    if [ "$_home" != /nonexistent ] && [ ! -d "$_home" ]; then
        mkdir -p "$_home"
        chown "$_name:$_grp" "$_home"
    fi
}

# ---- package files (hooks run with SIM_PKG set; every file is recorded for removal) ----

sim_record() { [ -n "${SIM_PKG:-}" ] && printf '%s: %s\n' "$1" "$2" >>"$SIM_STATE/packages/$SIM_PKG"; return 0; }

# sim_dir PATH [OWNER[:GROUP]] [MODE]
sim_dir() {
    mkdir -p "$1"
    [ -n "${2:-}" ] && chown "$2" "$1"
    [ -n "${3:-}" ] && chmod "$3" "$1"
    return 0
}

# sim_file PATH [MODE] < content   (package-owned file, overwritten on reinstall)
sim_file() {
    mkdir -p "$(dirname "$1")"
    cat >"$1"
    chmod "${2:-0644}" "$1"
    sim_record File "$1"
}

# sim_conffile PATH [MODE] < content  (kept when it already exists, as dpkg keeps a local conffile)
sim_conffile() {
    if [ -e "$1" ]; then
        cat >/dev/null
    else
        mkdir -p "$(dirname "$1")"
        cat >"$1"
        chmod "${2:-0644}" "$1"
    fi
    sim_record Conffile "$1"
}

# sim_link TARGET LINKNAME
sim_link() {
    mkdir -p "$(dirname "$2")"
    ln -sfn "$1" "$2"
    sim_record File "$2"
}

# sim_bin NAME [PATH...]: installs the package command stub $SIM_LIB/pkgbin/NAME at the given paths, or at each
# path of its "# sim-path:" header.
sim_bin() {
    _src=$SIM_LIB/pkgbin/$1
    [ -f "$_src" ] || sim_die 1 "pve-sim: no pkgbin stub named $1"
    shift
    _paths=$*
    [ -n "$_paths" ] || _paths=$(sed -n 's/^# sim-path: *//p' "$_src")
    for _p in $_paths; do
        mkdir -p "$(dirname "$_p")"
        rm -f "$_p"
        cp "$_src" "$_p"
        chmod 0755 "$_p"
        sim_record File "$_p"
    done
}

# sim_unit NAME < unit text   (Debian: /usr/lib/systemd/system/NAME)
sim_unit() {
    sim_file "/usr/lib/systemd/system/$1" 0644
    sim_record Unit "$1"
}

# sim_openrc NAME < init script   (Alpine: /etc/init.d/NAME, interpreted by the openrc-run stub)
sim_openrc() {
    sim_file "/etc/init.d/$1" 0755
    sim_record Unit "$1"
}

# sim_service NAME EXEC [USER] [DESCRIPTION] [RELOAD]: a daemon the package ships; systemd unit on Debian,
# OpenRC script on Alpine.
sim_service() {
    if [ "$SIM_OS" = alpine ]; then
        {
            printf '#!/sbin/openrc-run\ndescription="%s"\n' "${4:-$1}"
            printf 'command="%s"\n' "${2%% *}"
            case "$2" in *" "*) printf 'command_args="%s"\n' "${2#* }" ;; esac
            printf 'command_user="%s"\ncommand_background=true\npidfile="/run/${RC_SVCNAME}.pid"\n' "${3:-root}"
            [ -n "${5:-}" ] && printf 'extra_started_commands="reload"\n'
        } | sim_openrc "$1"
    else
        {
            printf '[Unit]\nDescription=%s\nAfter=network.target\n\n[Service]\n' "${4:-$1}"
            [ -n "${3:-}" ] && printf 'User=%s\n' "$3"
            printf 'ExecStart=%s\n' "$2"
            [ -n "${5:-}" ] && printf 'ExecReload=%s\n' "$5"
            printf 'Restart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n'
        } | sim_unit "$1.service"
    fi
}

# sim_autostart UNIT...: Debian policy (deb-systemd-helper + invoke-rc.d): a daemon is enabled and started when
# its package is installed. Alpine's apk does neither.
sim_autostart() {
    [ "$SIM_OS" = alpine ] && return 0
    for _u in "$@"; do
        systemctl enable "$_u"
        systemctl start "$_u" || true
    done
}

# Reads "# sim-<key>: value" from a stub or hook header.
sim_header() { sed -n "s/^# sim-$2: *//p" "$1" | head -n 1; }

# Does a hook/stub header's "# sim-os:" allow this OS? (no header = all; "debian" also covers the PVE host)
sim_os_allows() {
    _oses=$(sim_header "$1" os)
    [ -z "$_oses" ] && return 0
    for _o in $_oses; do
        [ "$_o" = "!$SIM_SCOPE" ] && return 1
    done
    for _o in $_oses; do
        [ "$_o" = "$SIM_OS" ] && return 0
        [ "$_o" = host ] && [ "$SIM_SCOPE" = host ] && return 0
    done
    return 1
}
