# sim-version: 1.1.35-1.2
# sim-os: debian
# libxslt1-dev: development headers for lxml wheels; nothing the simulator runs.
exit 0
