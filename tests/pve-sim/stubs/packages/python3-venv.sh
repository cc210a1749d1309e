# sim-version: 3.13.5-1
# sim-os: debian
# sim-depends: python3
# Makes `python3 -m venv` create venvs with pip (without it, Debian's ensurepip error).
exit 0
