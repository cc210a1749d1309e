# sim-version: 17.5-1
# sim-os: debian
# sim-depends: postgresql-common
# PostgreSQL 17 with its "main" cluster: postgres user, /etc/postgresql/17/main, data dir, psql (a model, see
# pkgbin/psql), postgresql.service + postgresql@17-main.service enabled and started.
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_system_user postgres /var/lib/postgresql /bin/bash
    sim_add_member ssl-cert postgres
    for f in postgresql.conf pg_hba.conf pg_ident.conf start.conf pg_ctl.conf environment; do
        case "$f" in
        postgresql.conf) printf "data_directory = '/var/lib/postgresql/17/main'\nhba_file = '/etc/postgresql/17/main/pg_hba.conf'\nlisten_addresses = 'localhost'\nport = 5432\ninclude_dir = 'conf.d'\n" ;;
        pg_hba.conf) printf 'local   all             postgres                                peer\nlocal   all             all                                     peer\nhost    all             all             127.0.0.1/32            scram-sha-256\nhost    all             all             ::1/128                 scram-sha-256\n' ;;
        start.conf) echo auto ;;
        *) : ;;
        esac | sim_conffile "/etc/postgresql/17/main/$f"
    done
    sim_dir /etc/postgresql/17/main/conf.d
    chown -R postgres:postgres /etc/postgresql
    sim_dir /var/lib/postgresql/17/main postgres:postgres 0700
    printf '17\n' >/var/lib/postgresql/17/main/PG_VERSION
    sim_dir /var/log/postgresql postgres:adm
    sim_dir /usr/lib/postgresql/17/bin
    sim_bin daemon /usr/lib/postgresql/17/bin/postgres
    sim_unit postgresql@.service <<'UNIT'
[Unit]
Description=PostgreSQL Cluster %i
PartOf=postgresql.service

[Service]
Type=forking
User=postgres
ExecStart=/usr/bin/pg_ctlcluster --skip-systemctl-redirect %i start
ExecStop=/usr/bin/pg_ctlcluster --skip-systemctl-redirect -m fast %i stop
ExecReload=/usr/bin/pg_ctlcluster --skip-systemctl-redirect %i reload

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart postgresql@17-main.service
    ;;
esac
