# sim-version: 25.1.1+dfsg-1
# sim-os: debian
# sim-depends: python3
# The system pip (refuses system-wide installs, PEP 668).
. /usr/lib/pve-sim/sim.sh
[ "$1" = install ] && sim_bin pip
exit 0
