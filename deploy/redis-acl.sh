#!/bin/sh
# redis-acl.sh -- the Redis ACL users of a fleetq fleet, in one place: prints
# them as the lines of a Redis ACL file (redis-server --aclfile FILE), or
# with --commands as ACL SETUSER commands for redis-cli, to apply the same
# rules to a Redis that is already running (a managed one, for instance).
#
#   REDIS_ADMIN_PASSWORD_FILE=... REDIS_COORDINATOR_PASSWORD_FILE=... \
#   REDIS_WORKER_PASSWORD_FILE=... deploy/redis-acl.sh > users.acl
#   deploy/redis-acl.sh --commands --coordinator FILE --worker FILE | redis-cli ...
#
# The users (every key pattern is <prefix>:*, the prefix being FLEETQ_KEY_PREFIX,
# default fleetq; no user may use Pub/Sub channels, none is used):
#
#   default             the administrator: every command, key and channel,
#                       with the admin password. Without one, the ACL file
#                       turns the default user off (only the named users can
#                       log in) and --commands leaves it as it is.
#   fleetq-coordinator  the coordinator, and fleetqctl (the operator's tool,
#                       which does what the coordinator's dashboard does:
#                       requeue, cancel, resume, limits).
#   fleetq-worker       the workers.
#   fleetq-submit       optional (Redis 7): submitters, who may add entries
#                       to <prefix>:submit (write only), read task hashes and
#                       streamed answers, and pop <prefix>:done:<id> with
#                       BLPOP; enough for redis-cli XADD and for fleetqctl
#                       submit [--wait] and result.
#
# None of them may run FLUSHALL, FLUSHDB, KEYS, SCAN, CONFIG, DEBUG, SHUTDOWN,
# ACL, MONITOR, SCRIPT FLUSH or any command not listed below, nor touch a key
# outside the prefix. Redis checks each command a Lua script runs against
# the caller's rights too, so the lists hold the commands of the fleet's
# scripts (common/lua/*.lua, ctl/lua/*.lua) as well as those the programs send.
#
# Passwords are read from files, named by options or by the environment:
#   --admin FILE         REDIS_ADMIN_PASSWORD_FILE
#   --coordinator FILE   REDIS_COORDINATOR_PASSWORD_FILE   (required)
#   --worker FILE        REDIS_WORKER_PASSWORD_FILE        (required)
#   --submit FILE        REDIS_SUBMIT_PASSWORD_FILE
# A file holds one password, 16 to 255 printable ASCII characters without
# white space (surrounding white space and the final newline are ignored,
# as the programs' REDIS_PASSWORD_FILE ignores them); each user needs its
# own. Create one with: (umask 077; openssl rand -hex 24 > FILE)
# The output holds only the passwords' SHA-256 hashes (#<hash>), never a
# password, and no error message shows one.
#
#   --prefix PREFIX      the fleet's key prefix (FLEETQ_KEY_PREFIX, default fleetq)
#   --commands           ACL SETUSER commands instead of ACL file lines
#
# Exit status: 0, or 2 with one line on stderr saying what is wrong.
set -euf   # -f: the rules hold '*', never to be read as file names
LC_ALL=C
export LC_ALL

prog=redis-acl.sh

die() {
    printf '%s: %s\n' "$prog" "$*" >&2
    exit 2
}

usage() {
    cat <<'EOF'
Usage: redis-acl.sh [--commands] [--prefix PREFIX] [--admin FILE]
                    [--coordinator FILE] [--worker FILE] [--submit FILE]

Prints fleetq's Redis ACL users (default, fleetq-coordinator, fleetq-worker
and, given its password, fleetq-submit) as ACL file lines, or as ACL SETUSER
commands with --commands. Each FILE holds one user's password; the files
may also be named by REDIS_ADMIN_PASSWORD_FILE, REDIS_COORDINATOR_PASSWORD_FILE,
REDIS_WORKER_PASSWORD_FILE and REDIS_SUBMIT_PASSWORD_FILE. The prefix
defaults to FLEETQ_KEY_PREFIX, then fleetq. Only the passwords' SHA-256
hashes are printed.
EOF
}

mode="file"
prefix=${FLEETQ_KEY_PREFIX:-fleetq}
admin_file=${REDIS_ADMIN_PASSWORD_FILE:-}
coordinator_file=${REDIS_COORDINATOR_PASSWORD_FILE:-}
worker_file=${REDIS_WORKER_PASSWORD_FILE:-}
submit_file=${REDIS_SUBMIT_PASSWORD_FILE:-}

while [ $# -gt 0 ]; do
    case $1 in
    --commands) mode=commands ;;
    --admin | --coordinator | --worker | --submit | --prefix)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
        --admin) admin_file=$2 ;;
        --coordinator) coordinator_file=$2 ;;
        --worker) worker_file=$2 ;;
        --submit) submit_file=$2 ;;
        --prefix) prefix=$2 ;;
        esac
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

# The prefix goes into the rules as a key pattern: letters, digits and
# _ . : - { } only, so that no character is read as a glob or splits a rule.
case $prefix in
'' | *[!A-Za-z0-9_.:{}-]*)
    die "the key prefix must be 1 to 64 of the characters A-Z a-z 0-9 _ . : - { } (FLEETQ_KEY_PREFIX or --prefix)"
    ;;
esac
[ ${#prefix} -le 64 ] || die "the key prefix must be 1 to 64 characters"

# sha256 VALUE: the lower-case hex SHA-256 of VALUE (printf is a shell
# builtin, so the value is never on a command line).
sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        printf '%s' "$1" | sha256sum
    elif command -v shasum >/dev/null 2>&1; then
        printf '%s' "$1" | shasum -a 256
    elif command -v openssl >/dev/null 2>&1; then
        printf '%s' "$1" | openssl dgst -sha256 -r
    else
        die "needs sha256sum, shasum or openssl to hash the passwords"
    fi | cut -c 1-64
}

# password_hash WHAT FILE: sets hash to the SHA-256 of the password in FILE,
# after checking it. Messages name the file, never its content.
password_hash() {
    what=$1
    file=$2
    [ -n "$file" ] || die "$what: no password file given"
    if [ ! -f "$file" ] || [ ! -r "$file" ]; then
        die "$what: cannot read the password file $file"
    fi
    size=$(wc -c <"$file") || die "$what: cannot read the password file $file"
    [ "$size" -le 4096 ] || die "$what: $file is too large to hold a password"
    pw=$(cat -- "$file") || die "$what: cannot read the password file $file"
    pw=${pw#"${pw%%[![:space:]]*}"}
    pw=${pw%"${pw##*[![:space:]]}"}
    [ -n "$pw" ] || die "$what: $file is empty; e.g. (umask 077; openssl rand -hex 24 > $file)"
    case $pw in
    *[![:graph:]]*)
        pw=
        die "$what: the password in $file has white space or a character that is not printable ASCII; e.g. openssl rand -hex 24"
        ;;
    esac
    n=${#pw}
    if [ "$n" -lt 16 ] || [ "$n" -gt 255 ]; then
        pw=
        die "$what: the password in $file must be 16 to 255 characters, it has $n; e.g. openssl rand -hex 24"
    fi
    hash=$(sha256 "$pw")
    pw=
    case $hash in
    *[!0-9a-f]* | '') die "$what: hashing the password failed" ;;
    esac
    [ ${#hash} -eq 64 ] || die "$what: hashing the password failed"
}

# Glob characters are refused in the prefix, so it is its own pattern.
keys="~$prefix:*"

# Sent by every program on each connection: PING (the watchdog), SELECT (when
# REDIS_URL names a database other than 0), CLIENT SETNAME (the connection's
# name in CLIENT LIST), CLUSTER SLOTS (on a Redis Cluster, which node owns the
# fleet's slot; elsewhere Redis answers an error the programs expect) and
# ASKING (following an ASK redirection during a slot migration). AUTH needs no
# right.
connect="+ping +select +client|setname +cluster|slots +asking"
# The fleet's Lua scripts: loaded once per connection, then run by SHA1, and
# sent whole again after Redis has lost its script cache (a restart).
scripts="+script|load +evalsha +eval"

# The workers: BZPOPMIN waits on the role's wake-up marker, ZRANGE reads the
# role's queue; claim.lua, finish.lua, heartbeat.lua, quota.lua (the shared
# quota), cache.lua (the response cache) and limits.lua (DEL: a worker that
# finds no limits publishes its own); HSET, HDEL, PEXPIRE and HGETALL keep
# the models that answered 404; XADD appends streamed answers (PEXPIRE),
# events and results; TIME is every script's clock.
worker_cmds="$connect $scripts +time
 +bzpopmin +zadd +zrem +zcard +zscore +zrange +zrangebyscore +zremrangebyscore
 +hget +hmget +hgetall +hset +hdel +hexists +hincrby +hstrlen
 +xadd +del +expire +pexpire +pttl"

# The coordinator: XGROUP CREATE, XREADGROUP, XACK and XDEL read
# <prefix>:submit and the results stream as a consumer group; INFO (at each
# connect) checks maxmemory-policy and cluster mode for /health's warnings;
# SRANDMEMBER and HGET sample the waiting tasks a parent of which has ended
# (then resolve.lua); its scripts intake.lua,
# due.lua, promote.lua, expire.lua, reap.lua, resolve.lua, stored.lua (LPUSH:
# <prefix>:done:<id>), limits.lua, and the dashboard's requeue.lua,
# cancel.lua and resume.lua; /health and /metrics read the queues' sizes
# (ZCARD, XLEN, HLEN, EXISTS).
# fleetqctl runs with this user too, and adds BLPOP (submit --wait), XREAD
# (result --follow), XRANGE (watch), and XREVRANGE and ZCOUNT (status, in
# fleet.lua); it has no command the coordinator would not be trusted with.
coordinator_cmds="$connect $scripts +time +info
 +xgroup|create +xreadgroup +xack +xdel +xadd +xlen +xread +xrange +xrevrange
 +zadd +zrem +zcard +zcount +zscore +zrange +zrevrange +zrangebyscore +zremrangebyscore
 +hget +hmget +hgetall +hset +hsetnx +hdel +hexists +hincrby +hkeys +hlen
 +sadd +srem +smembers +srandmember +lpush +blpop +incr
 +del +exists +expire +pexpire +pttl +persist"

# Submitters (Redis 7: %W~ and %R~ key rights and a selector): XADD to
# <prefix>:submit only (never read, so one submitter does not see another's
# prompts there); read-only access to task hashes and streamed answers;
# BLPOP on <prefix>:done:<id> only, in a selector of its own. (redis-cli fed
# commands on stdin first asks for COMMAND DOCS, its hints: refused, and
# harmless, but it shows in ACL LOG; give it the commands as arguments.)
submit_rules="%W~$prefix:submit %R~$prefix:task:* %R~$prefix:stream:*
 -@all $connect +xadd +hget +hmget +hgetall +exists +xread +xrange
 (~$prefix:done:* -@all +blpop)"

# emit USER RULES: one user, every earlier right of the user dropped first
# (reset), so that applying the output again gives the same rules.
emit() {
    # word splitting flattens the lists above onto one line
    # shellcheck disable=SC2086
    set -- "$1" $2
    user=$1
    shift
    if [ "$mode" = commands ]; then
        printf 'ACL SETUSER %s reset' "$user"
    else
        printf 'user %s reset' "$user"
    fi
    printf ' %s' "$@"
    printf '\n'
}

password_hash "the coordinator's password (--coordinator, REDIS_COORDINATOR_PASSWORD_FILE)" \
    "$coordinator_file"
coordinator_hash=$hash
password_hash "the workers' password (--worker, REDIS_WORKER_PASSWORD_FILE)" "$worker_file"
worker_hash=$hash
admin_hash=
if [ -n "$admin_file" ]; then
    password_hash "the admin password (--admin, REDIS_ADMIN_PASSWORD_FILE)" "$admin_file"
    admin_hash=$hash
fi
submit_hash=
if [ -n "$submit_file" ]; then
    password_hash "the submitters' password (--submit, REDIS_SUBMIT_PASSWORD_FILE)" "$submit_file"
    submit_hash=$hash
fi

# A password shared by two users would let either log in as the other.
seen=" "
for h in "$admin_hash" "$coordinator_hash" "$worker_hash" "$submit_hash"; do
    [ -n "$h" ] || continue
    case $seen in
    *" $h "*) die "two users have the same password: give each its own file (openssl rand -hex 24)" ;;
    esac
    seen="$seen$h "
done

if [ -n "$admin_hash" ]; then
    emit default "on #$admin_hash ~* &* +@all"
elif [ "$mode" = file ]; then
    emit default "off -@all"
fi
emit fleetq-coordinator "on #$coordinator_hash resetchannels $keys -@all $coordinator_cmds"
emit fleetq-worker "on #$worker_hash resetchannels $keys -@all $worker_cmds"
if [ -n "$submit_hash" ]; then
    emit fleetq-submit "on #$submit_hash resetchannels $submit_rules"
fi
