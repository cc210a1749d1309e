# sim-version: 8.1.1+dfsg1-2
# sim-os: debian
. /usr/lib/pve-sim/sim.sh
[ "$1" = install ] && sim_bin redis-cli /usr/bin/valkey-cli
exit 0
