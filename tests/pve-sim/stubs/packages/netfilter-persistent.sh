# sim-version: 1.0.23
# sim-os: debian
# netfilter-persistent: the tool and its boot unit (restores saved rules at every start).
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_bin netfilter-persistent
    sim_dir /usr/share/netfilter-persistent/plugins.d
    sim_dir /etc/iptables
    sim_unit netfilter-persistent.service <<'UNIT'
[Unit]
Description=netfilter persistent configuration
DefaultDependencies=no
Before=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/netfilter-persistent start
ExecStop=/usr/sbin/netfilter-persistent stop

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart netfilter-persistent.service
    ;;
esac
