# sim-version: 2.6.2-12
# sim-os: debian
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user caddy /var/lib/caddy /usr/sbin/nologin
    sim_conffile /etc/caddy/Caddyfile <<'CONF'
:80 {
	root * /usr/share/caddy
	file_server
}
CONF
    sim_bin caddy
    sim_unit caddy.service <<'UNIT'
[Unit]
Description=Caddy
After=network.target

[Service]
User=caddy
Group=caddy
ExecStart=/usr/bin/caddy run --environ --config /etc/caddy/Caddyfile
ExecReload=/usr/bin/caddy reload --config /etc/caddy/Caddyfile --force

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart caddy.service
    ;;
esac
