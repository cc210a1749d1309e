#!/bin/sh
# The NetboxStack's ensure-superuser script: the user, e-mail and password come from the environment (never the
# command line). Keeps the user and a hash of the password in /var/lib/sim/netbox/superuser so a second run with
# the same environment reports "unchanged", as the real script does.
. /usr/lib/pve-sim/sim.sh
[ -n "${NETBOX_ADMIN_USER:-}" ] || sim_die 1 "KeyError: 'NETBOX_ADMIN_USER'"
[ -n "${NETBOX_ADMIN_PASSWORD:-}" ] || sim_die 1 "KeyError: 'NETBOX_ADMIN_PASSWORD'"
[ -f /var/lib/sim/netbox/migrated ] || sim_die 1 'django.db.utils.ProgrammingError: relation "users_user" does not exist'
want="$NETBOX_ADMIN_USER ${NETBOX_ADMIN_EMAIL:-} $(sim_sha256 "$NETBOX_ADMIN_PASSWORD")"
f=/var/lib/sim/netbox/superuser
if [ ! -f "$f" ]; then echo created
elif [ "$(cat "$f")" = "$want" ]; then echo unchanged; exit 0
else echo updated; fi
printf '%s' "$want" >"$f"
chmod 0600 "$f"
