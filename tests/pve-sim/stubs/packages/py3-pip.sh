# sim-version: 25.1.1-r0
# sim-os: alpine
# sim-depends: python3
. /usr/lib/pve-sim/sim.sh
[ "$1" = install ] && sim_bin pip
exit 0
