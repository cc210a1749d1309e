# sim-version: 8.0.2-r0
# sim-os: alpine
# Alpine's redis: user redis, /etc/redis.conf, OpenRC service (not started or enabled by apk).
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user redis /var/lib/redis /sbin/nologin
    sim_conffile /etc/redis.conf <<'CONF'
bind 127.0.0.1
port 6379
CONF
    sim_bin daemon /usr/bin/redis-server
    sim_bin redis-cli /usr/bin/redis-cli
    sim_service redis "/usr/bin/redis-server /etc/redis.conf" redis "Redis server"
    ;;
esac
