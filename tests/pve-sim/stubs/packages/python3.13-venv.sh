# sim-version: 3.13.5-1
# sim-os: debian
# sim-depends: python3
exit 0
