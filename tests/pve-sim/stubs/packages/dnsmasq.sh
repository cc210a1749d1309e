# sim-version: 2.91-1
# sim-os: debian alpine
# dnsmasq: dnsmasq user, /etc/dnsmasq.conf (all commented, as shipped) and /etc/dnsmasq.d, the service.
# The simulator's DHCP model reads dhcp-host/dhcp-range from these files in a running container.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    if [ "$SIM_OS" = alpine ]; then sim_system_user dnsmasq /var/lib/misc /sbin/nologin; else sim_system_user dnsmasq /var/lib/misc /usr/sbin/nologin nogroup; fi
    sim_conffile /etc/dnsmasq.conf <<'CONF'
# Configuration file for dnsmasq.
#dhcp-range=192.168.0.50,192.168.0.150,12h
#conf-dir=/etc/dnsmasq.d/,*.conf
CONF
    sim_dir /etc/dnsmasq.d
    sim_bin dnsmasq
    if [ "$SIM_OS" = alpine ]; then
        sim_service dnsmasq "/usr/sbin/dnsmasq --keep-in-foreground" root "dnsmasq"
    else
        sim_unit dnsmasq.service <<'UNIT'
[Unit]
Description=dnsmasq - A lightweight DHCP and caching DNS server
After=network.target

[Service]
Type=forking
PIDFile=/run/dnsmasq/dnsmasq.pid
ExecStartPre=/usr/sbin/dnsmasq --test
ExecStart=/usr/sbin/dnsmasq -x /run/dnsmasq/dnsmasq.pid
ExecReload=/bin/kill -HUP $MAINPID

[Install]
WantedBy=multi-user.target
UNIT
        sim_autostart dnsmasq.service
    fi
    ;;
esac
