# sim-version: 3.13.5-1
# sim-os: debian
# python3-dev: headers and python3-config for building wheels (pip compiles psycopg[c] with them); nothing the simulator runs.
exit 0
