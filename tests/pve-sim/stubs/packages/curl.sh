# sim-version: 8.14.1-r0
# sim-os: debian alpine
# curl (preinstalled on Debian). No network: see pkgbin/curl.
. /usr/lib/pve-sim/sim.sh
[ "$1" = install ] && sim_bin curl
exit 0
