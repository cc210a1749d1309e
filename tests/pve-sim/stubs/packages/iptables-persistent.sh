# sim-version: 1.0.23
# sim-os: debian
# sim-depends: netfilter-persistent iptables
# sim-debconf: yes
# iptables-persistent: the ip4tables/ip6tables plugins. Its debconf questions ("Save current IPv4 rules?") need
# DEBIAN_FRONTEND=noninteractive in a script; apt-get prints debconf's fallback warnings otherwise. Like the real
# package with default answers, installing it saves the current rules to /etc/iptables/rules.v4 and rules.v6.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    for p in 15-ip4tables 25-ip6tables; do
        printf '#!/bin/sh\n# pve-sim netfilter-persistent plugin (logic lives in netfilter-persistent)\nexit 0\n' | sim_file "/usr/share/netfilter-persistent/plugins.d/$p" 0755
    done
    sim_dir /etc/iptables
    [ -f /etc/iptables/rules.v4 ] || iptables-save >/etc/iptables/rules.v4
    [ -f /etc/iptables/rules.v6 ] || ip6tables-save >/etc/iptables/rules.v6
    ;;
esac
