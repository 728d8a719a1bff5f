#!/bin/sh
# redis-entrypoint.sh -- the entrypoint of the Redis stand-in image
# (redis.Dockerfile): redis-server as the user redis, with protected mode
# off and in /data, as the official image runs it; any other command as is.
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    chown redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups -- \
        redis-server --protected-mode no --dir /data "$@"
fi
exec "$@"
