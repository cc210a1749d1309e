# sim-version: 17.5-1
# sim-os: debian
# libpq-dev: PostgreSQL client headers for psycopg[c]; nothing the simulator runs.
exit 0
