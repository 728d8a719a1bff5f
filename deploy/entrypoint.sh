#!/bin/sh
# entrypoint.sh -- the image's entrypoint (/usr/local/bin/fleetq-entrypoint,
# run by tini as PID 1): runs the program it is given as the unprivileged
# user fleetq (uid 10001).
#
# Started as root (the image's default), it first makes sure that user can
# write the directory of FLEETQ_DB: a fresh Docker named volume takes the
# image's ownership of /data, but a volume or a platform disk (Render's, for
# one) may be mounted root-owned, and then the coordinator could not create
# its database. It gives that directory, and the database files already in
# it, to uid 10001 (not recursively: nothing else there is fleetq's), then
# drops to that user with setpriv: no capabilities, no supplementary groups,
# no way back to root (no_new_privs). Started as any other user (docker run
# --user, a platform that forbids root), it runs the program as it is, and
# the coordinator's own start-up check says what to fix if it cannot write.
set -eu

uid=10001
gid=10001

if [ "$#" -eq 0 ]; then
    set -- fleetq-coordinator
fi

if [ "$(id -u)" -ne 0 ]; then
    exec "$@"
fi

db=${FLEETQ_DB:-/data/fleetq.db}
dir=$(dirname -- "$db")
if [ "$dir" != / ] && [ -d "$dir" ] && [ "$(stat -c %u -- "$dir")" != "$uid" ]; then
    chown -- "$uid:$gid" "$dir"
    chmod u+rwx -- "$dir"
fi
for f in "$db" "$db-wal" "$db-shm" "$db-journal"; do
    if [ -e "$f" ] && [ "$(stat -c %u -- "$f")" != "$uid" ]; then
        chown -- "$uid:$gid" "$f"
    fi
done

exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all \
    --bounding-set=-all --no-new-privs -- "$@"
