# sim-version: 1.9.1-1
# sim-os: debian
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user prometheus /var/lib/prometheus /usr/sbin/nologin
    sim_conffile /etc/default/prometheus-node-exporter <<'CONF'
ARGS=""
CONF
    sim_bin daemon /usr/bin/prometheus-node-exporter
    sim_unit prometheus-node-exporter.service <<'UNIT'
[Unit]
Description=Prometheus exporter for machine metrics

[Service]
User=prometheus
EnvironmentFile=/etc/default/prometheus-node-exporter
ExecStart=/usr/bin/prometheus-node-exporter $ARGS

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart prometheus-node-exporter.service
    ;;
esac
