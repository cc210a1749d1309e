# sim-version: 5:8.0.2-3
# sim-os: debian
. /usr/lib/pve-sim/sim.sh
[ "$1" = install ] && sim_bin redis-cli /usr/bin/redis-cli
exit 0
