# sim-version: 1.9.16p2-3
# sim-os: debian alpine
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_bin sudo
    sim_conffile /etc/sudoers 0440 <<'CONF'
Defaults env_reset
root ALL=(ALL:ALL) ALL
%sudo ALL=(ALL:ALL) ALL
@includedir /etc/sudoers.d
CONF
    sim_dir /etc/sudoers.d
    ;;
esac
