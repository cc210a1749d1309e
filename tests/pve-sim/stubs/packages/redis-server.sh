# sim-version: 5:8.0.2-3
# sim-os: debian
# sim-depends: redis-tools
# redis-server: redis user, /etc/redis/redis.conf, redis-server.service enabled and started.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user redis /var/lib/redis /usr/sbin/nologin
    sim_conffile /etc/redis/redis.conf 0640 <<'CONF'
bind 127.0.0.1 -::1
port 6379
supervised systemd
dir /var/lib/redis
CONF
    chown redis:redis /etc/redis/redis.conf
    sim_dir /var/lib/redis redis:redis 0750
    sim_dir /var/log/redis redis:adm
    sim_bin daemon /usr/bin/redis-server
    sim_service redis-server "/usr/bin/redis-server /etc/redis/redis.conf" redis "Advanced key-value store"
    sim_autostart redis-server.service
    ;;
esac
