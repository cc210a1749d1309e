# sim-version: 3.13.5-1
# sim-os: debian alpine
# python3 (preinstalled in the Debian template; a package on Alpine). See pkgbin/python3 for what it can do.
. /usr/lib/pve-sim/sim.sh
[ "$1" = install ] && sim_bin python3
exit 0
