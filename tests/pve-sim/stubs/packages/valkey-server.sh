# sim-version: 8.1.1+dfsg1-2
# sim-os: debian
# sim-depends: valkey-tools
# valkey-server: valkey user, /etc/valkey/valkey.conf, valkey-server.service enabled and started.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user valkey /var/lib/valkey /usr/sbin/nologin
    sim_conffile /etc/valkey/valkey.conf 0640 <<'CONF'
bind 127.0.0.1 -::1
port 6379
dir /var/lib/valkey
CONF
    chown valkey:valkey /etc/valkey/valkey.conf
    sim_dir /var/lib/valkey valkey:valkey 0750
    sim_bin daemon /usr/bin/valkey-server
    sim_service valkey-server "/usr/bin/valkey-server /etc/valkey/valkey.conf" valkey "Advanced key-value store"
    sim_autostart valkey-server.service
    ;;
esac
