# sim-version: 1.8.11-2
# sim-os: debian alpine
# iptables, ip6tables and their -save/-restore (preinstalled on the PVE host). See pkgbin/iptables.
. /usr/lib/pve-sim/sim.sh
[ "$1" = install ] && sim_bin iptables
exit 0
