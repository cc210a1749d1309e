# sim-version: 1:10.0p1-7
# sim-os: alpine
# Alpine's openssh-server (preinstalled, with ssh.service, in the Debian template).
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_dir /etc/ssh
    sim_conffile /etc/ssh/sshd_config <<'CONF'
PermitRootLogin prohibit-password
CONF
    sim_bin daemon /usr/sbin/sshd
    sim_service sshd "/usr/sbin/sshd -D" root "OpenSSH server"
    ;;
esac
