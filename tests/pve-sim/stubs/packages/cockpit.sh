# sim-version: 337-1
# sim-os: debian
# cockpit (Debian: cockpit-ws, cockpit-bridge, cockpit-system): the socket-activated web console on :9090. As the
# real postinst does, cockpit.socket is enabled and started; /etc/cockpit/disallowed-users lists root, so a login
# needs another user. Not packaged for Alpine.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user cockpit-ws /nonexistent /usr/sbin/nologin
    sim_system_user cockpit-wsinstance /nonexistent /usr/sbin/nologin
    sim_conffile /etc/cockpit/disallowed-users <<'CONF'
# List of users which are not allowed to login to Cockpit
root
CONF
    sim_bin daemon /usr/lib/cockpit/cockpit-ws
    sim_bin daemon /usr/lib/cockpit/cockpit-tls
    sim_bin daemon /usr/bin/cockpit-bridge
    sim_unit cockpit.socket <<'UNIT'
[Unit]
Description=Cockpit Web Service Socket
Documentation=man:cockpit-ws(8)

[Socket]
ListenStream=9090

[Install]
WantedBy=sockets.target
UNIT
    sim_unit cockpit.service <<'UNIT'
[Unit]
Description=Cockpit Web Service
Documentation=man:cockpit-ws(8)
Requires=cockpit.socket
After=network.target cockpit.socket

[Service]
ExecStart=/usr/lib/cockpit/cockpit-tls
User=cockpit-ws
Group=cockpit-ws
UNIT
    sim_autostart cockpit.socket
    ;;
esac
