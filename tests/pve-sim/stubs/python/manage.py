#!/bin/sh
# NetBox's manage.py (Django). Run from the release's netbox/ directory, as NetBox's upgrade.sh does. Models the
# subcommands the NetboxStack runs: each needs the configuration module (as Django's settings import does) and is
# recorded in /var/lib/sim/netbox/manage.log; collectstatic fills STATIC_ROOT so the static site has files.
. /usr/lib/pve-sim/sim.sh
[ -f netbox/configuration.py ] || sim_die 1 "django.core.exceptions.ImproperlyConfigured: Configuration file is not present. Please define netbox/netbox/configuration.py per the documentation."
[ -n "${SIM_VENV:-}" ] || sim_die 1 "ModuleNotFoundError: No module named 'django'"
cmd=${1:-}
[ -n "$cmd" ] || sim_die 1 "Type 'manage.py help <subcommand>' for help on a specific subcommand."
shift
mkdir -p /var/lib/sim/netbox
case "$cmd" in
migrate)
    if [ -f /var/lib/sim/netbox/migrated ]; then echo "Operations to perform:"; echo "  No migrations to apply."
    else echo "Operations to perform:"; echo "  Apply all migrations"; echo "Running migrations: OK"; touch /var/lib/sim/netbox/migrated; fi
    ;;
trace_paths | remove_stale_contenttypes | reindex | clearsessions) ;;
collectstatic)
    mkdir -p static/netbox
    printf '/* collected by pve-sim */\n' >static/netbox/netbox.css
    echo "0 static files copied to '$(pwd)/static', 1 unmodified."
    ;;
*) sim_die 1 "Unknown command: '$cmd' (pve-sim models migrate, trace_paths, remove_stale_contenttypes, reindex, clearsessions, collectstatic)" ;;
esac
printf '%s %s\n' "$cmd" "$*" >>/var/lib/sim/netbox/manage.log
