# sim-version: 0.25.0-1
# sim-os: debian
# prometheus-blackbox-exporter: user prometheus, /etc/prometheus/blackbox.yml, /etc/default/prometheus-blackbox-exporter,
# the binary (its --config.check succeeds, see pkgbin/daemon) and the service, enabled and started on install.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user prometheus /var/lib/prometheus /usr/sbin/nologin
    sim_conffile /etc/prometheus/blackbox.yml <<'CONF'
modules:
  http_2xx:
    prober: http
  icmp:
    prober: icmp
CONF
    sim_conffile /etc/default/prometheus-blackbox-exporter <<'CONF'
ARGS="--config.file /etc/prometheus/blackbox.yml"
CONF
    sim_bin daemon /usr/bin/prometheus-blackbox-exporter
    sim_unit prometheus-blackbox-exporter.service <<'UNIT'
[Unit]
Description=Blackbox exporter for Prometheus

[Service]
User=prometheus
EnvironmentFile=/etc/default/prometheus-blackbox-exporter
ExecStart=/usr/bin/prometheus-blackbox-exporter $ARGS
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart prometheus-blackbox-exporter.service
    ;;
esac
