# sim-version: 12.0.2
# sim-os: debian
# grafana from Grafana's own apt repository (apt.grafana.com, not Debian): user and group grafana,
# /etc/grafana/grafana.ini, the provisioning tree, /var/lib/grafana, the server binary and grafana-server.service.
# Unlike Debian's daemons it is NOT enabled or started on install (its postinst only prints how to).
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user grafana /usr/share/grafana /bin/false
    sim_conffile /etc/grafana/grafana.ini 0640 <<'CONF'
[server]
;http_port = 3000
CONF
    chown root:grafana /etc/grafana/grafana.ini
    for d in datasources dashboards plugins alerting notifiers; do sim_dir "/etc/grafana/provisioning/$d" root:grafana 0755; done
    sim_dir /var/lib/grafana grafana:grafana 0755
    sim_dir /var/log/grafana grafana:grafana 0755
    sim_conffile /etc/default/grafana-server <<'CONF'
GRAFANA_USER=grafana
GRAFANA_GROUP=grafana
GRAFANA_HOME=/usr/share/grafana
CONF_FILE=/etc/grafana/grafana.ini
DATA_DIR=/var/lib/grafana
LOG_DIR=/var/log/grafana
CONF
    sim_bin daemon /usr/share/grafana/bin/grafana
    sim_link /usr/share/grafana/bin/grafana /usr/sbin/grafana
    sim_unit grafana-server.service <<'UNIT'
[Unit]
Description=Grafana instance
After=network-online.target

[Service]
EnvironmentFile=/etc/default/grafana-server
User=grafana
Group=grafana
WorkingDirectory=/usr/share/grafana
ExecStart=/usr/share/grafana/bin/grafana server --config=${CONF_FILE} --homepath=${GRAFANA_HOME}

[Install]
WantedBy=multi-user.target
UNIT
    echo "### NOT starting on installation, please execute the following statements to configure grafana to start automatically using systemd"
    ;;
esac
