# sim-version: 12.12
# sim-os: debian
# build-essential: compilers and make for building wheels; nothing the simulator runs.
exit 0
