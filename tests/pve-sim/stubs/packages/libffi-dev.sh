# sim-version: 3.4.8-2
# sim-os: debian
# libffi-dev: development headers for cffi wheels; nothing the simulator runs.
exit 0
