# sim-version: 278
# sim-os: debian
# postgresql-common: psql and the cluster tools, and postgresql.service (the umbrella unit).
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    # psql's model keeps its state here; any database user may run psql.
    sim_dir "$SIM_STATE/postgresql" "" 1777
    sim_bin psql
    sim_bin pg_ctlcluster
    sim_bin pg_lsclusters
    sim_unit postgresql.service <<'UNIT'
[Unit]
Description=PostgreSQL RDBMS

[Service]
Type=oneshot
ExecStart=/bin/true
ExecReload=/bin/true
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
UNIT
    sim_autostart postgresql.service
    ;;
esac
