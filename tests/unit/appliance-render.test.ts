import assert from "node:assert/strict";
import {
    COCKPIT_ALPINE_LIMITATION,
    renderCaddyReloadScript,
    renderCaddyServiceScript,
    renderCaddyVhost,
    renderCaddyfile,
    renderCockpitScript,
    renderDnsmasqAppLease,
    renderDnsmasqConf,
    renderDnsmasqReloadScript,
    renderDnsmasqServiceScript,
    renderFirewallRules,
    renderForwardingSysctl,
    renderGatewayApplyScript,
    renderGatewayOpenrc,
    renderGatewayScript,
    renderGatewaySystemdUnit,
    renderHealthCheckScript,
} from "../../components/appliance/index";

const lines = (...l: string[]) => l.join("\n");

const DOC_DNSMASQ = {
    dhcpStart: "10.20.0.100",
    dhcpEnd: "10.20.0.250",
    netmask: "255.255.255.0",
    leaseTime: "12h",
    gateway: "10.20.0.1",
    domain: "prox.local",
    upstreamDns: ["8.8.8.8", "1.1.1.1"],
};

describe("appliance renderers: dnsmasq", () => {
    it("renders document 001's dnsmasq.conf plus conf-dir for the per-app leases", () => {
        assert.equal(
            renderDnsmasqConf(DOC_DNSMASQ),
            lines(
                "# /etc/dnsmasq.conf",
                "# Managed by Pulumi (proxmox-homelab ProximityAppliance): local changes are overwritten.",
                "interface=eth1",
                "bind-interfaces",
                "",
                "# DHCP Configuration",
                "dhcp-range=10.20.0.100,10.20.0.250,255.255.255.0,12h",
                "dhcp-option=option:router,10.20.0.1",
                "dhcp-option=option:dns-server,10.20.0.1",
                "",
                "# DNS Configuration",
                "domain=prox.local",
                "expand-hosts",
                "local=/prox.local/",
                "",
                "# Upstream DNS servers",
                "server=8.8.8.8",
                "server=1.1.1.1",
                "",
                "# Logging",
                "log-dhcp",
                "log-queries",
                "",
                "# Static leases, one file per app. dnsmasq reads these only when it starts (SIGHUP does not re-read them).",
                "conf-dir=/etc/dnsmasq.d/,*.conf",
                "",
            ),
        );
    });

    it("without upstream servers: no server= lines and no-resolv, so nothing is forwarded", () => {
        assert.equal(
            renderDnsmasqConf({
                ...DOC_DNSMASQ,
                dhcpStart: "172.16.5.20",
                dhcpEnd: "172.16.5.60",
                netmask: "255.255.255.192",
                leaseTime: "1h",
                gateway: "172.16.5.1",
                domain: "lab.internal",
                upstreamDns: [],
            }),
            lines(
                "# /etc/dnsmasq.conf",
                "# Managed by Pulumi (proxmox-homelab ProximityAppliance): local changes are overwritten.",
                "interface=eth1",
                "bind-interfaces",
                "",
                "# DHCP Configuration",
                "dhcp-range=172.16.5.20,172.16.5.60,255.255.255.192,1h",
                "dhcp-option=option:router,172.16.5.1",
                "dhcp-option=option:dns-server,172.16.5.1",
                "",
                "# DNS Configuration",
                "domain=lab.internal",
                "expand-hosts",
                "local=/lab.internal/",
                "",
                "# Upstream DNS servers: none. Only names in the local domain are answered; /etc/resolv.conf is ignored.",
                "no-resolv",
                "",
                "# Logging",
                "log-dhcp",
                "log-queries",
                "",
                "# Static leases, one file per app. dnsmasq reads these only when it starts (SIGHUP does not re-read them).",
                "conf-dir=/etc/dnsmasq.d/,*.conf",
                "",
            ),
        );
    });

    it("renders one static lease per app", () => {
        assert.equal(
            renderDnsmasqAppLease({ name: "nginx", hwaddr: "BC:24:11:0A:0B:0C", ip: "10.20.0.21" }),
            lines(
                '# Static lease of app "nginx" (managed by Pulumi).',
                "dhcp-host=BC:24:11:0A:0B:0C,10.20.0.21,nginx",
                "",
            ),
        );
    });
});

describe("appliance renderers: Caddy", () => {
    it("keeps the admin API on localhost (reloads need it) and imports sites-enabled", () => {
        assert.equal(
            renderCaddyfile(),
            lines(
                "# /etc/caddy/Caddyfile",
                "# Managed by Pulumi (proxmox-homelab ProximityAppliance): local changes are overwritten.",
                "{",
                "\t# The admin API is what `caddy reload` talks to; bound to localhost it is unreachable from any network.",
                "\tadmin localhost:2019",
                "\tauto_https off",
                "}",
                "",
                "import /etc/caddy/sites-enabled/*",
                "",
            ),
        );
    });

    it("renders the document's vhost, served over plain HTTP on :80", () => {
        assert.equal(
            renderCaddyVhost({ name: "nginx", domain: "prox.local", ip: "10.20.0.101", port: 80, healthPath: "/" }),
            lines(
                '# App "nginx" (managed by Pulumi).',
                "http://nginx.prox.local {",
                "\treverse_proxy http://10.20.0.101:80 {",
                "\t\thealth_uri /",
                "\t\thealth_interval 30s",
                "\t\thealth_timeout 5s",
                "",
                "\t\theader_up Host {upstream_hostport}",
                "\t\theader_up X-Real-IP {remote_host}",
                "\t\theader_up X-Forwarded-For {remote_host}",
                "\t\theader_up X-Forwarded-Proto {scheme}",
                "\t}",
                "",
                "\tlog {",
                "\t\toutput file /var/log/caddy/nginx.prox.local.log",
                "\t\tformat json",
                "\t}",
                "}",
                "",
            ),
        );
    });

    it("uses the app's port, health path and the configured domain", () => {
        const text = renderCaddyVhost({
            name: "wiki",
            domain: "lab.internal",
            ip: "10.20.0.7",
            port: 3000,
            healthPath: "/healthz",
        });
        assert.equal(
            text,
            lines(
                '# App "wiki" (managed by Pulumi).',
                "http://wiki.lab.internal {",
                "\treverse_proxy http://10.20.0.7:3000 {",
                "\t\thealth_uri /healthz",
                "\t\thealth_interval 30s",
                "\t\thealth_timeout 5s",
                "",
                "\t\theader_up Host {upstream_hostport}",
                "\t\theader_up X-Real-IP {remote_host}",
                "\t\theader_up X-Forwarded-For {remote_host}",
                "\t\theader_up X-Forwarded-Proto {scheme}",
                "\t}",
                "",
                "\tlog {",
                "\t\toutput file /var/log/caddy/wiki.lab.internal.log",
                "\t\tformat json",
                "\t}",
                "}",
                "",
            ),
        );
    });
});

describe("appliance renderers: NAT and forwarding", () => {
    it("renders only our chains: MASQUERADE for the LAN, LAN→WAN allowed, LAN→management dropped", () => {
        assert.equal(
            renderFirewallRules({
                lanCidr: "10.20.0.0/24",
                managementCidrs: ["192.168.1.0/24"],
                managementExceptions: [],
                cockpit: false,
            }),
            lines(
                "# Proximity appliance: NAT and forwarding (managed by Pulumi). Only our chains: applied with",
                "# iptables-restore --noflush by /usr/local/sbin/proximity-gateway, which also hooks them into the built-in chains.",
                "*nat",
                ":PROXIMITY-POSTROUTING - [0:0]",
                "-A PROXIMITY-POSTROUTING -s 10.20.0.0/24 -o eth0 -j MASQUERADE",
                "COMMIT",
                "*filter",
                ":PROXIMITY-FORWARD - [0:0]",
                ":PROXIMITY-INPUT - [0:0]",
                "-A PROXIMITY-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A PROXIMITY-FORWARD -d 192.168.1.0/24 -i eth1 -j DROP",
                "-A PROXIMITY-FORWARD -s 10.20.0.0/24 -i eth1 -o eth0 -j ACCEPT",
                "-A PROXIMITY-FORWARD -i eth1 -j DROP",
                "COMMIT",
                "",
            ),
        );
    });

    it("puts exceptions before the drops and closes Cockpit to the app LAN", () => {
        assert.equal(
            renderFirewallRules({
                lanCidr: "10.20.0.0/24",
                managementCidrs: ["192.168.1.0/24", "10.0.0.0/16"],
                managementExceptions: [
                    { cidr: "192.168.1.10/32", port: 3128, protocol: "tcp" },
                    { cidr: "10.0.5.0/24", port: 514, protocol: "udp" },
                ],
                cockpit: true,
            }),
            lines(
                "# Proximity appliance: NAT and forwarding (managed by Pulumi). Only our chains: applied with",
                "# iptables-restore --noflush by /usr/local/sbin/proximity-gateway, which also hooks them into the built-in chains.",
                "*nat",
                ":PROXIMITY-POSTROUTING - [0:0]",
                "-A PROXIMITY-POSTROUTING -s 10.20.0.0/24 -o eth0 -j MASQUERADE",
                "COMMIT",
                "*filter",
                ":PROXIMITY-FORWARD - [0:0]",
                ":PROXIMITY-INPUT - [0:0]",
                "-A PROXIMITY-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A PROXIMITY-FORWARD -d 192.168.1.10/32 -i eth1 -p tcp -m tcp --dport 3128 -j ACCEPT",
                "-A PROXIMITY-FORWARD -d 10.0.5.0/24 -i eth1 -p udp -m udp --dport 514 -j ACCEPT",
                "-A PROXIMITY-FORWARD -d 192.168.1.0/24 -i eth1 -j DROP",
                "-A PROXIMITY-FORWARD -d 10.0.0.0/16 -i eth1 -j DROP",
                "-A PROXIMITY-FORWARD -s 10.20.0.0/24 -i eth1 -o eth0 -j ACCEPT",
                "-A PROXIMITY-FORWARD -i eth1 -j DROP",
                "-A PROXIMITY-INPUT -i eth1 -p tcp -m tcp --dport 9090 -j DROP",
                "COMMIT",
                "",
            ),
        );
    });

    it("renders the ip_forward sysctl", () => {
        assert.equal(
            renderForwardingSysctl(),
            "# Proximity appliance: route between the app LAN and the WAN (managed by Pulumi).\nnet.ipv4.ip_forward = 1\n",
        );
    });

    it("renders the idempotent gateway script", () => {
        assert.equal(
            renderGatewayScript(),
            lines(
                "#!/bin/sh",
                "# Proximity appliance: IP forwarding plus our NAT and forwarding chains (managed by Pulumi).",
                "set -eu",
                "sysctl -q -p /etc/sysctl.d/99-proximity.conf",
                "iptables-restore --noflush /etc/iptables/proximity.rules",
                "hook() {",
                '    iptables -t "$1" -C "$2" -j "$3" 2>/dev/null || iptables -t "$1" -I "$2" 1 -j "$3"',
                "}",
                "hook nat POSTROUTING PROXIMITY-POSTROUTING",
                "hook filter FORWARD PROXIMITY-FORWARD",
                "hook filter INPUT PROXIMITY-INPUT",
                "",
            ),
        );
    });

    it("Alpine: an OpenRC script that applies the rules before the network", () => {
        assert.equal(
            renderGatewayOpenrc(),
            lines(
                "#!/sbin/openrc-run",
                "# Managed by Pulumi (proxmox-homelab ProximityAppliance).",
                'description="Proximity appliance: IP forwarding, NAT and forwarding rules"',
                "",
                "depend() {",
                "\tbefore net dnsmasq caddy",
                "\tafter sysctl",
                "}",
                "",
                "start() {",
                '\tebegin "Applying Proximity gateway rules"',
                "\t/usr/local/sbin/proximity-gateway",
                "\teend $?",
                "}",
                "",
                "# Stopping leaves the rules in place: without them the app LAN would lose its NAT, not gain isolation.",
                "",
            ),
        );
    });

    it("Debian: a oneshot systemd unit ordered like netfilter-persistent", () => {
        assert.equal(
            renderGatewaySystemdUnit(),
            lines(
                "# Managed by Pulumi (proxmox-homelab ProximityAppliance).",
                "[Unit]",
                "Description=Proximity appliance: IP forwarding, NAT and forwarding rules",
                "DefaultDependencies=no",
                "Wants=network-pre.target local-fs.target",
                "Before=network-pre.target shutdown.target",
                "After=local-fs.target",
                "Conflicts=shutdown.target",
                "",
                "[Service]",
                "Type=oneshot",
                "RemainAfterExit=yes",
                "ExecStart=/usr/local/sbin/proximity-gateway",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
                "",
            ),
        );
    });
});

describe("appliance renderers: service scripts (Alpine / OpenRC)", () => {
    it("gateway: enabled in the boot runlevel, restarted to apply now", () => {
        assert.equal(
            renderGatewayApplyScript("alpine"),
            lines(
                "set -eu",
                "[ -L '/etc/runlevels/boot/proximity-gateway' ] || rc-update add 'proximity-gateway' 'boot'",
                "rc-service 'proximity-gateway' restart",
                "",
            ),
        );
    });

    it("dnsmasq: checked, enabled, restarted", () => {
        assert.equal(
            renderDnsmasqServiceScript("alpine"),
            lines(
                "set -eu",
                "dnsmasq --test",
                "[ -L '/etc/runlevels/default/dnsmasq' ] || rc-update add 'dnsmasq' 'default'",
                "rc-service 'dnsmasq' restart",
                "",
            ),
        );
    });

    it("caddy: directories, validation, enabled, reloaded or started", () => {
        assert.equal(
            renderCaddyServiceScript("alpine"),
            lines(
                "set -eu",
                "mkdir -p '/etc/caddy/sites-enabled' '/var/log/caddy'",
                "chown caddy:caddy '/var/log/caddy'",
                "'caddy' 'validate' '--config' '/etc/caddy/Caddyfile' '--adapter' 'caddyfile'",
                "[ -L '/etc/runlevels/default/caddy' ] || rc-update add 'caddy' 'default'",
                "if rc-service 'caddy' status >/dev/null 2>&1; then rc-service 'caddy' reload; else rc-service 'caddy' start; fi",
                "",
            ),
        );
    });

    it("dnsmasq reload: prunes lease files of removed apps, then restarts", () => {
        assert.equal(
            renderDnsmasqReloadScript("alpine", ["web", "db"]),
            lines(
                "set -eu",
                "for f in '/etc/dnsmasq.d'/app-*.conf; do",
                '    [ -e "$f" ] || continue',
                '    case "${f##*/}" in',
                "    'app-db.conf' | 'app-web.conf') ;;",
                '    *) echo "removing $f"; rm -f "$f" ;;',
                "    esac",
                "done",
                "dnsmasq --test",
                "rc-service 'dnsmasq' restart",
                "",
            ),
        );
    });

    it("caddy reload with no apps left: every vhost goes", () => {
        assert.equal(
            renderCaddyReloadScript("alpine", []),
            lines(
                "set -eu",
                "for f in '/etc/caddy/sites-enabled'/*.caddy; do",
                '    [ -e "$f" ] || continue',
                '    echo "removing $f"',
                '    rm -f "$f"',
                "done",
                "'caddy' 'validate' '--config' '/etc/caddy/Caddyfile' '--adapter' 'caddyfile'",
                "if rc-service 'caddy' status >/dev/null 2>&1; then rc-service 'caddy' reload; else rc-service 'caddy' start; fi",
                "",
            ),
        );
    });

    it("health check: every check's exit status counts", () => {
        assert.equal(
            renderHealthCheckScript({
                os: "alpine",
                lanCidr: "10.20.0.0/24",
                managementCidrs: ["192.168.1.0/24"],
                cockpit: false,
            }),
            lines(
                ...HEALTH_PRELUDE,
                "check 'dnsmasq is running' 'rc-service' 'dnsmasq' 'status'",
                "check 'dnsmasq accepts its configuration' 'dnsmasq' '--test'",
                "check 'Caddy is running' 'rc-service' 'caddy' 'status'",
                "check 'Caddy accepts its configuration' 'caddy' 'validate' '--config' '/etc/caddy/Caddyfile' '--adapter' 'caddyfile'",
                "check 'IPv4 forwarding is on' 'ip_forward_on'",
                "check 'NAT chain is hooked into POSTROUTING' 'iptables' '-t' 'nat' '-C' 'POSTROUTING' '-j' 'PROXIMITY-POSTROUTING'",
                "check 'app LAN 10.20.0.0/24 is masqueraded out of eth0' 'iptables' '-t' 'nat' '-C' 'PROXIMITY-POSTROUTING' '-s' '10.20.0.0/24' '-o' 'eth0' '-j' 'MASQUERADE'",
                "check 'forward chain is hooked into FORWARD' 'iptables' '-C' 'FORWARD' '-j' 'PROXIMITY-FORWARD'",
                "check 'input chain is hooked into INPUT' 'iptables' '-C' 'INPUT' '-j' 'PROXIMITY-INPUT'",
                "check 'app LAN cannot reach 192.168.1.0/24' 'iptables' '-C' 'PROXIMITY-FORWARD' '-d' '192.168.1.0/24' '-i' 'eth1' '-j' 'DROP'",
                "check 'app LAN is forwarded out of eth0' 'iptables' '-C' 'PROXIMITY-FORWARD' '-s' '10.20.0.0/24' '-i' 'eth1' '-o' 'eth0' '-j' 'ACCEPT'",
                '[ "$failed" = 0 ] || { echo "Proximity appliance health check failed" >&2; exit 1; }',
                "",
            ),
        );
    });

    it("Cockpit is not offered on Alpine, with the reason documented", () => {
        assert.match(COCKPIT_ALPINE_LIMITATION, /^Cockpit is not packaged for Alpine Linux/);
    });
});

const HEALTH_PRELUDE = [
    "set -u",
    "failed=0",
    "# check DESCRIPTION COMMAND...: runs COMMAND, records a failure (with its output) when it exits non-zero.",
    "check() {",
    "    what=$1",
    "    shift",
    '    if out=$("$@" 2>&1); then',
    '        echo "ok: $what"',
    "    else",
    "        rc=$?",
    '        echo "FAILED: $what (exit $rc)" >&2',
    '        [ -z "$out" ] || printf \'%s\\n\' "$out" | tail -n 5 >&2',
    "        failed=1",
    "    fi",
    "}",
    "ip_forward_on() {",
    '    test "$(sysctl -n net.ipv4.ip_forward)" = 1',
    "}",
];

describe("appliance renderers: service scripts (Debian / systemd)", () => {
    it("gateway: daemon-reload, enable, restart (the oneshot unit runs the script)", () => {
        assert.equal(
            renderGatewayApplyScript("debian"),
            lines(
                "set -eu",
                "systemctl daemon-reload",
                "systemctl enable 'proximity-gateway.service'",
                "systemctl restart 'proximity-gateway.service'",
                "",
            ),
        );
    });

    it("dnsmasq: checked, enabled, restarted", () => {
        assert.equal(
            renderDnsmasqServiceScript("debian"),
            lines(
                "set -eu",
                "dnsmasq --test",
                "systemctl enable 'dnsmasq.service'",
                "systemctl restart 'dnsmasq.service'",
                "",
            ),
        );
    });

    it("caddy: directories, validation, enabled, reload-or-restart", () => {
        assert.equal(
            renderCaddyServiceScript("debian"),
            lines(
                "set -eu",
                "mkdir -p '/etc/caddy/sites-enabled' '/var/log/caddy'",
                "chown caddy:caddy '/var/log/caddy'",
                "'caddy' 'validate' '--config' '/etc/caddy/Caddyfile' '--adapter' 'caddyfile'",
                "systemctl enable 'caddy.service'",
                "systemctl reload-or-restart 'caddy.service'",
                "",
            ),
        );
    });

    it("dnsmasq reload with one app", () => {
        assert.equal(
            renderDnsmasqReloadScript("debian", ["wiki"]),
            lines(
                "set -eu",
                "for f in '/etc/dnsmasq.d'/app-*.conf; do",
                '    [ -e "$f" ] || continue',
                '    case "${f##*/}" in',
                "    'app-wiki.conf') ;;",
                '    *) echo "removing $f"; rm -f "$f" ;;',
                "    esac",
                "done",
                "dnsmasq --test",
                "systemctl restart 'dnsmasq.service'",
                "",
            ),
        );
    });

    it("caddy reload: prunes vhosts of removed apps, validates, reloads", () => {
        assert.equal(
            renderCaddyReloadScript("debian", ["web", "db"]),
            lines(
                "set -eu",
                "for f in '/etc/caddy/sites-enabled'/*.caddy; do",
                '    [ -e "$f" ] || continue',
                '    case "${f##*/}" in',
                "    'db.caddy' | 'web.caddy') ;;",
                '    *) echo "removing $f"; rm -f "$f" ;;',
                "    esac",
                "done",
                "'caddy' 'validate' '--config' '/etc/caddy/Caddyfile' '--adapter' 'caddyfile'",
                "systemctl reload-or-restart 'caddy.service'",
                "",
            ),
        );
    });

    it("health check with Cockpit and no management block", () => {
        assert.equal(
            renderHealthCheckScript({ os: "debian", lanCidr: "10.20.0.0/24", managementCidrs: [], cockpit: true }),
            lines(
                ...HEALTH_PRELUDE,
                "check 'dnsmasq is running' 'systemctl' 'is-active' '--quiet' 'dnsmasq.service'",
                "check 'dnsmasq accepts its configuration' 'dnsmasq' '--test'",
                "check 'Caddy is running' 'systemctl' 'is-active' '--quiet' 'caddy.service'",
                "check 'Caddy accepts its configuration' 'caddy' 'validate' '--config' '/etc/caddy/Caddyfile' '--adapter' 'caddyfile'",
                "check 'IPv4 forwarding is on' 'ip_forward_on'",
                "check 'NAT chain is hooked into POSTROUTING' 'iptables' '-t' 'nat' '-C' 'POSTROUTING' '-j' 'PROXIMITY-POSTROUTING'",
                "check 'app LAN 10.20.0.0/24 is masqueraded out of eth0' 'iptables' '-t' 'nat' '-C' 'PROXIMITY-POSTROUTING' '-s' '10.20.0.0/24' '-o' 'eth0' '-j' 'MASQUERADE'",
                "check 'forward chain is hooked into FORWARD' 'iptables' '-C' 'FORWARD' '-j' 'PROXIMITY-FORWARD'",
                "check 'input chain is hooked into INPUT' 'iptables' '-C' 'INPUT' '-j' 'PROXIMITY-INPUT'",
                "check 'app LAN is forwarded out of eth0' 'iptables' '-C' 'PROXIMITY-FORWARD' '-s' '10.20.0.0/24' '-i' 'eth1' '-o' 'eth0' '-j' 'ACCEPT'",
                "check 'Cockpit socket is listening' 'systemctl' 'is-active' '--quiet' 'cockpit.socket'",
                "check 'Cockpit (:9090) is closed to the app LAN' 'iptables' '-C' 'PROXIMITY-INPUT' '-i' 'eth1' '-p' 'tcp' '-m' 'tcp' '--dport' '9090' '-j' 'DROP'",
                '[ "$failed" = 0 ] || { echo "Proximity appliance health check failed" >&2; exit 1; }',
                "",
            ),
        );
    });

    it("Cockpit: a sudo login with the password from the environment, then the socket", () => {
        assert.equal(
            renderCockpitScript("admin"),
            lines(
                "set -eu",
                "id -u 'admin' >/dev/null 2>&1 || useradd --create-home --shell /bin/bash --groups sudo 'admin'",
                "printf '%s:%s\\n' 'admin' \"$COCKPIT_PASSWORD\" | chpasswd",
                "systemctl enable --now cockpit.socket",
                "",
            ),
        );
    });
});
