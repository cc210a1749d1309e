# sim-version: 1:1.3.dfsg+really1.3.1-1+b1
# sim-os: debian
# zlib1g-dev: zlib development headers; nothing the simulator runs.
exit 0
