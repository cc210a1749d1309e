# sim-version: 0.28.0-1
# sim-os: debian
# prometheus-snmp-exporter: user prometheus, Debian's generated /etc/prometheus/snmp.yml (modules and auths),
# /etc/default/prometheus-snmp-exporter and the service, enabled and started on install.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user prometheus /var/lib/prometheus /usr/sbin/nologin
    sim_conffile /etc/prometheus/snmp.yml <<'CONF'
auths:
  public_v1:
    version: 1
  public_v2:
    version: 2
modules:
  if_mib:
    walk: [1.3.6.1.2.1.2]
CONF
    sim_conffile /etc/default/prometheus-snmp-exporter <<'CONF'
ARGS=""
CONF
    sim_bin daemon /usr/bin/prometheus-snmp-exporter
    sim_unit prometheus-snmp-exporter.service <<'UNIT'
[Unit]
Description=Prometheus exporter for SNMP-enabled devices

[Service]
User=prometheus
EnvironmentFile=/etc/default/prometheus-snmp-exporter
ExecStart=/usr/bin/prometheus-snmp-exporter $ARGS

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart prometheus-snmp-exporter.service
    ;;
esac
