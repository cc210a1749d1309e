# sim-version: 3.5.1-1
# sim-os: debian
# libssl-dev: OpenSSL development headers; nothing the simulator runs.
exit 0
