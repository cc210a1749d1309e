# sim-version: 20250419
# sim-os: debian alpine
# ca-certificates: update-ca-certificates and the bundle (preinstalled on Debian).
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_bin update-ca-certificates
    sim_dir /usr/local/share/ca-certificates
    sim_dir /etc/ssl/certs
    [ -f /etc/ssl/certs/ca-certificates.crt ] || : >/etc/ssl/certs/ca-certificates.crt
    ;;
esac
