# sim-version: 2.12.7+dfsg+really2.9.14-2.1
# sim-os: debian
# libxml2-dev: development headers for lxml wheels; nothing the simulator runs.
exit 0
