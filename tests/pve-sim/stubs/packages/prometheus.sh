# sim-version: 2.53.3+ds1-2
# sim-os: debian
# prometheus: user prometheus, /etc/prometheus/prometheus.yml, /etc/default/prometheus, promtool, the service.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user prometheus /var/lib/prometheus /usr/sbin/nologin
    sim_conffile /etc/prometheus/prometheus.yml <<'CONF'
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['localhost:9090']
CONF
    sim_conffile /etc/default/prometheus <<'CONF'
ARGS=""
CONF
    sim_dir /var/lib/prometheus/metrics2 prometheus:prometheus
    sim_bin daemon /usr/bin/prometheus
    sim_bin promtool
    sim_unit prometheus.service <<'UNIT'
[Unit]
Description=Monitoring system and time series database

[Service]
User=prometheus
EnvironmentFile=/etc/default/prometheus
ExecStart=/usr/bin/prometheus $ARGS
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart prometheus.service
    ;;
esac
