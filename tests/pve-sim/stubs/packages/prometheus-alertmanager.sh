# sim-version: 0.28.1+ds-1
# sim-os: debian
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user prometheus /var/lib/prometheus /usr/sbin/nologin
    sim_conffile /etc/prometheus/alertmanager.yml <<'CONF'
route:
  receiver: default
receivers:
  - name: default
CONF
    sim_conffile /etc/default/prometheus-alertmanager <<'CONF'
ARGS=""
CONF
    sim_dir /var/lib/prometheus/alertmanager prometheus:prometheus
    sim_bin daemon /usr/bin/prometheus-alertmanager
    sim_bin amtool
    sim_unit prometheus-alertmanager.service <<'UNIT'
[Unit]
Description=Alertmanager for prometheus

[Service]
User=prometheus
EnvironmentFile=/etc/default/prometheus-alertmanager
ExecStart=/usr/bin/prometheus-alertmanager $ARGS
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart prometheus-alertmanager.service
    ;;
esac
