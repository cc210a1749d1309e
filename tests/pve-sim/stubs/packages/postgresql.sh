# sim-version: 17+278
# sim-os: debian
# sim-depends: postgresql-17
# Metapackage, as in Debian.
