# sim-version: 2.6.2-12
# sim-os: debian alpine
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    if [ "$SIM_OS" = alpine ]; then sim_system_user caddy /var/lib/caddy /sbin/nologin; else sim_system_user caddy /var/lib/caddy /usr/sbin/nologin; fi
    sim_conffile /etc/caddy/Caddyfile <<'CONF'
:80 {
	root * /usr/share/caddy
	file_server
}
CONF
    if [ "$SIM_OS" = alpine ]; then sim_bin caddy /usr/sbin/caddy; else sim_bin caddy; fi
    if [ "$SIM_OS" = alpine ]; then
        # Alpine's caddy-openrc: an OpenRC service running as caddy; apk neither enables nor starts it.
        sim_service caddy "/usr/sbin/caddy run --environ --config /etc/caddy/Caddyfile" caddy "Caddy web server" \
            "/usr/sbin/caddy reload --config /etc/caddy/Caddyfile"
        exit 0
    fi
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
