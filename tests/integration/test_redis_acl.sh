#!/usr/bin/env bash
# test_redis_acl.sh -- least privilege in Redis: the ACL users that
# deploy/redis-acl.sh writes are enough for the whole fleet, and no more.
#
#   script     redis-acl.sh refuses an empty password, one with white space,
#              a short one and one shared by two users, without printing it;
#              its ACL file holds the passwords' hashes only;
#   fleet      Redis runs with that file (the default user needs the admin
#              password); the coordinator runs as fleetq-coordinator (the
#              password in REDIS_URL), a worker of each role as
#              fleetq-worker (the password in REDIS_PASSWORD_FILE, as in
#              Compose), and tasks submitted as fleetq-submit all
#              complete: every role, a ceo plan and its
#              subtasks, a review, a task waiting for another, a delayed
#              one, a cached answer, a streamed one, a model that answers
#              404 and its fallback, retries that end in dead letters;
#   operator   fleetqctl under fleetq-coordinator: status, watch, result,
#              flow, dead, requeue, cancel, limits set/unset, resume; the
#              dashboard's requeue, cancel and resume, /health, /metrics;
#              fleetqctl submit --wait and result under fleetq-submit;
#   no denial  ACL LOG holds no denial and no program logged one;
#   refusals   each user is refused FLUSHALL, FLUSHDB, CONFIG GET, KEYS,
#              SCAN, SCRIPT FLUSH, ACL SETUSER and a key outside the prefix,
#              also from inside a script; ACL DRYRUN shows MONITOR,
#              SHUTDOWN, DEBUG and CONFIG SET refused too; the worker has
#              none of the coordinator's own commands (INFO, XREADGROUP,
#              XGROUP, XDEL, LPUSH); the submitter cannot read the submit
#              stream, write a task's hash or run a script;
#   secrets    no password in any program's log.
# shellcheck disable=SC1091  # lib.sh, beside this file
. "$(dirname "$0")/lib.sh"

acl_script=$FQ_SRC/deploy/redis-acl.sh
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_BREAKER_THRESHOLD=1000 \
    FLEETQ_BACKOFF_BASE_MS=100 FLEETQ_BACKOFF_MAX_MS=200
started=$(date +%s)

# ---------------------------------------------------------------- the script
for u in admin coordinator worker submit; do
    (umask 077; openssl rand -hex 24 >"$FQ_TMP/pw-$u")
done
admin_pw=$(cat "$FQ_TMP/pw-admin")
coord_pw=$(cat "$FQ_TMP/pw-coordinator")
worker_pw=$(cat "$FQ_TMP/pw-worker")
submit_pw=$(cat "$FQ_TMP/pw-submit")
passwords=("$admin_pw" "$coord_pw" "$worker_pw" "$submit_pw")

# refused: the exit status is 2, the message names the file, never the content
expect_refused() { # WHAT WORD FILE-CONTENT
    local what=$1 word=$2 bad=$FQ_TMP/pw-bad rc=0
    printf '%s' "$3" >"$bad"
    sh "$acl_script" --coordinator "$FQ_TMP/pw-coordinator" --worker "$bad" \
        >"$FQ_TMP/acl-bad.out" 2>"$FQ_TMP/acl-bad.err" || rc=$?
    fq_assert_eq "$rc" 2 "redis-acl.sh with $what: exit status"
    fq_assert_eq "$(wc -c <"$FQ_TMP/acl-bad.out")" 0 "redis-acl.sh with $what: output"
    fq_assert_contains "$(cat "$FQ_TMP/acl-bad.err")" "$word" "redis-acl.sh with $what"
    if [ -n "$(tr -d '[:space:]' <"$bad")" ] && grep -qF -- "$(tr -d '[:space:]' <"$bad")" "$FQ_TMP/acl-bad.err"; then
        fq_fail "redis-acl.sh with $what printed the password"
    fi
}
expect_refused "an empty password" "is empty" $' \n'
expect_refused "a space in the password" "white space" "correct horse battery staple"$'\n'
expect_refused "a tab in the password" "white space" $'abcdefghij\tklmnopqrstuv'
expect_refused "a short password" "16 to 255" "abc123"$'\n'
expect_refused "the coordinator's password" "same password" "$coord_pw"$'\n'
rc=0
sh "$acl_script" --coordinator "$FQ_TMP/pw-coordinator" >/dev/null 2>"$FQ_TMP/acl-bad.err" || rc=$?
fq_assert_eq "$rc" 2 "redis-acl.sh without the workers' password"
rc=0
sh "$acl_script" --coordinator "$FQ_TMP/pw-coordinator" --worker "$FQ_TMP/pw-worker" \
    --prefix 'a*' >/dev/null 2>"$FQ_TMP/acl-bad.err" || rc=$?
fq_assert_eq "$rc" 2 "redis-acl.sh with a glob in the prefix"

acl=$FQ_TMP/users.acl
REDIS_ADMIN_PASSWORD_FILE=$FQ_TMP/pw-admin REDIS_COORDINATOR_PASSWORD_FILE=$FQ_TMP/pw-coordinator \
    REDIS_WORKER_PASSWORD_FILE=$FQ_TMP/pw-worker REDIS_SUBMIT_PASSWORD_FILE=$FQ_TMP/pw-submit \
    sh "$acl_script" >"$acl" 2>"$FQ_TMP/acl-script.log" || fq_fail "redis-acl.sh failed: $(cat "$FQ_TMP/acl-script.log")"
fq_assert_eq "$(wc -c <"$FQ_TMP/acl-script.log")" 0 "redis-acl.sh's stderr"
fq_assert_eq "$(awk '{ print $1, $2 }' "$acl" | paste -sd,)" \
    "user default,user fleetq-coordinator,user fleetq-worker,user fleetq-submit" "the ACL file's users"
for pw in "${passwords[@]}"; do
    grep -qF -- "$pw" "$acl" && fq_fail "a password is in the ACL file"
    fq_assert_contains "$(cat "$acl")" "#$(printf '%s' "$pw" | sha256sum | cut -c1-64)" \
        "a password's SHA-256 in the ACL file"
done
# the same rules as ACL SETUSER commands
commands=$(sh "$acl_script" --commands --coordinator "$FQ_TMP/pw-coordinator" --worker "$FQ_TMP/pw-worker")
fq_assert_eq "$(awk '{ print $1, $2, $3 }' <<<"$commands" | paste -sd,)" \
    "ACL SETUSER fleetq-coordinator,ACL SETUSER fleetq-worker" "redis-acl.sh --commands without an admin"
fq_assert_eq "${commands//ACL SETUSER /user }" "$(sed -n '2,3p' "$acl")" \
    "--commands and the ACL file: the same rules"

# ---------------------------------------------------------------- the fleet
# redis-cli as the administrator (lib.sh's helpers use fq_redis), or as a user
cli() {
    if [ -n "${FQ_REDIS_CLI+set}" ]; then "${FQ_REDIS_CLI[@]}" "$@"; else redis-cli -p "$FQ_REDIS_PORT" "$@"; fi
}
fq_redis() { REDISCLI_AUTH=$admin_pw cli "$@"; }
as_user() { # USER PASSWORD COMMAND...
    local user=$1 pw=$2
    shift 2
    REDISCLI_AUTH=$pw cli --user "$user" "$@"
}
as_coordinator() { as_user fleetq-coordinator "$coord_pw" "$@"; }
as_worker() { as_user fleetq-worker "$worker_pw" "$@"; }
as_submit() { as_user fleetq-submit "$submit_pw" "$@"; }
url_as() { printf '%s' "${REDIS_URL/:\/\//://$1${2:+:$2}@}"; }   # USER [PASSWORD]

REDISCLI_AUTH=$admin_pw fq_start_redis --aclfile "$acl"
fq_assert_eq "$(fq_redis ACL USERS | paste -sd' ')" "default fleetq-coordinator fleetq-submit fleetq-worker" \
    "the users Redis loaded"
fq_assert_contains "$(cli PING 2>&1)" "NOAUTH" "a connection without a password"
fq_assert_contains "$(as_user fleetq-worker "$coord_pw" PING 2>&1)" "WRONGPASS" \
    "the workers' user with the coordinator's password"
fq_redis ACL LOG RESET >/dev/null
# the coordinator with its password in REDIS_URL, the workers and the
# submitters' fleetqctl as in Compose: the user in REDIS_URL, the password
# in the file REDIS_PASSWORD_FILE names
coord_url=$(url_as fleetq-coordinator "$coord_pw")
worker_url=$(url_as fleetq-worker)
submit_url=$(url_as fleetq-submit)

fq_start_mock --latency-ms 5
export FLEETQ_DASHBOARD_TOKEN=dash-$RANDOM$RANDOM-token-for-the-test
REDIS_URL=$coord_url fq_start_coordinator
for role in ceo code quality memory; do
    REDIS_URL=$worker_url REDIS_PASSWORD_FILE=$FQ_TMP/pw-worker fq_start_worker "$role" --concurrency 2
done

# 40 tasks of every role, from the submitters' user (one redis-cli per
# command: fed commands on stdin, redis-cli asks for COMMAND DOCS first,
# which this user may not run)
roles=(ceo code quality memory)
for i in $(seq 1 40); do
    as_submit XADD fleetq:submit '*' id "acl-$i" role "${roles[$((i % 4))]}" prompt "task $i"
done >"$FQ_TMP/submitted.out"
fq_assert_eq "$(grep -c -- '-' "$FQ_TMP/submitted.out")" 40 "entries added as fleetq-submit"
fq_log "40 tasks submitted as fleetq-submit"
submit() { as_submit XADD fleetq:submit '*' "$@" >/dev/null; }
submit id acl-plan role ceo plan true prompt "Plan a small app"
submit id acl-reviewed role code review_by quality prompt "Write a parser"
submit id acl-after role quality after acl-1 prompt "Check what acl-1 did"
submit id acl-delayed role memory delay 1 prompt "Remember this later"
submit id acl-stream role code stream true prompt "Stream the answer"
submit id acl-nomodel role code model grok-nope fallback grok-3-mini max_attempts 1 prompt "Which model"
submit id acl-cache-1 role code temperature 0 cache true prompt "cached question"

fq_wait_sql 60 "SELECT count(*) FROM tasks WHERE id GLOB 'acl-[0-9]*' AND status = 'done'" 40
fq_wait_sql 30 "SELECT status || ' ' || tasks FROM flows WHERE flow_id = 'acl-plan'" "done 5"
for id in acl-reviewed acl-reviewed.review acl-after acl-delayed acl-stream acl-nomodel acl-cache-1; do
    fq_wait_sql 30 "SELECT status FROM tasks WHERE id = '$id'" "done"
done
fq_assert_eq "$(fq_sql "SELECT model FROM tasks WHERE id = 'acl-nomodel'")" grok-3-mini "the fallback's model"
submit id acl-cache-2 role code temperature 0 cache true prompt "cached question"
fq_wait_sql 30 "SELECT status FROM tasks WHERE id = 'acl-cache-2'" "done"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status = 'done'")" 53 "tasks done"

fq_log "every role, a plan, a review, after, delay, stream, a fallback, the cache: done"
# calls that fail: retried, then dead letters
fq_mock_config '{"fail_rate": 1}'
submit id acl-dead-1 role code max_attempts 2 prompt "fails twice"
submit id acl-dead-2 role code max_attempts 2 prompt "fails twice too"
submit id acl-dead-3 role code max_attempts 1 prompt "fails once"
for i in 1 2 3; do fq_wait_sql 30 "SELECT status FROM tasks WHERE id = 'acl-dead-$i'" failed; done
fq_assert_eq "$(fq_sql "SELECT attempts FROM tasks WHERE id = 'acl-dead-1'")" 2 "attempts of a retried task"
fq_mock_config '{"fail_rate": 0}'

fq_log "retries and dead letters: done"
# ---------------------------------------------------------------- the operator
ctl() { REDIS_URL=$coord_url fq_ctl "$@"; }
ctl_ok() { # ARGS...: fleetqctl under fleetq-coordinator exits 0
    ctl "$@"
    fq_assert_eq "$CTL_RC" 0 "fleetqctl $* (stderr: $CTL_ERR)"
}
ctl_ok status
fq_assert_contains "$CTL_OUT" "dead" "fleetqctl status"
ctl_ok status --json
fq_assert_eq "$(jq .cache.hits <<<"$CTL_OUT")" 1 "cache hits (acl-cache-2 answered from the cache)"
ctl_ok watch --count 1 --interval 0.2
ctl_ok result acl-1
fq_assert_contains "$CTL_OUT" "done" "fleetqctl result acl-1"
ctl_ok result acl-stream --follow
ctl_ok flow acl-plan
fq_assert_contains "$CTL_OUT" "flow acl-plan: 5 tasks, done 5" "fleetqctl flow acl-plan"
ctl_ok dead
for i in 1 2 3; do fq_assert_contains "$CTL_OUT" "acl-dead-$i" "fleetqctl dead"; done
ctl_ok requeue acl-dead-1
fq_wait_sql 30 "SELECT status FROM tasks WHERE id = 'acl-dead-1'" "done"
ctl_ok limits set grok-4 rpm=300
ctl_ok limits
fq_assert_contains "$CTL_OUT" "grok-4" "fleetqctl limits"
ctl_ok limits unset grok-4
ctl_ok resume
submit id acl-later-1 role code delay 600 prompt "cancelled by fleetqctl"
submit id acl-later-2 role code delay 600 prompt "cancelled through the stream"
submit id acl-later-3 role code delay 600 prompt "cancelled from the dashboard"
fq_wait_for 10 fq_status_is acl-later-3 delayed || fq_fail "acl-later-3 is not delayed"
ctl_ok cancel acl-later-1
submit cancel acl-later-2
fq_wait_sql 30 "SELECT status FROM tasks WHERE id = 'acl-later-2'" cancelled

# the dashboard's actions and the HTTP endpoints run on the coordinator's user
dash() { # METHOD PATH: the HTTP status
    curl -s -o "$FQ_TMP/dash.out" -w '%{http_code}' -X "$1" \
        -H "Authorization: Bearer $FLEETQ_DASHBOARD_TOKEN" "http://127.0.0.1:$PORT$2"
}
fq_assert_eq "$(dash GET /api/dead)" 200 "GET /api/dead"
fq_assert_eq "$(jq .total "$FQ_TMP/dash.out")" 2 "dead letters on the dashboard"
fq_assert_eq "$(dash POST '/api/requeue?id=acl-dead-2')" 200 "POST /api/requeue"
fq_assert_eq "$(dash POST '/api/cancel?id=acl-dead-3')" 200 "POST /api/cancel of a dead letter"
fq_assert_eq "$(dash POST '/api/cancel?id=acl-later-3')" 200 "POST /api/cancel"
fq_assert_eq "$(dash POST /api/resume)" 200 "POST /api/resume"
fq_assert_eq "$(dash GET /api/overview)" 200 "GET /api/overview"
fq_assert_eq "$(dash GET /metrics)" 200 "GET /metrics"
fq_assert_contains "$(cat "$FQ_TMP/dash.out")" "fleetq_" "/metrics"
fq_health_ok || fq_fail "/health is not ok"
fq_wait_sql 30 "SELECT status FROM tasks WHERE id = 'acl-dead-2'" "done"
for i in 1 3; do fq_wait_sql 30 "SELECT status FROM tasks WHERE id = 'acl-later-$i'" cancelled; done
fq_wait_sql 30 "SELECT status FROM tasks WHERE id = 'acl-dead-3'" cancelled

# the submitters' user: fleetqctl submit --wait and result, BLPOP, a task's hash
REDIS_URL=$submit_url REDIS_PASSWORD_FILE=$FQ_TMP/pw-submit fq_ctl submit id acl-ctl-submit role memory prompt "from fleetqctl" --wait 30
fq_assert_eq "$CTL_RC" 0 "fleetqctl submit --wait as fleetq-submit (stderr: $CTL_ERR)"
REDIS_URL=$submit_url REDIS_PASSWORD_FILE=$FQ_TMP/pw-submit fq_ctl result acl-ctl-submit
fq_assert_eq "$CTL_RC" 0 "fleetqctl result as fleetq-submit (stderr: $CTL_ERR)"
REDIS_URL=$submit_url REDIS_PASSWORD_FILE=$FQ_TMP/pw-submit fq_ctl result acl-stream --follow
fq_assert_eq "$CTL_RC" 0 "fleetqctl result --follow as fleetq-submit (stderr: $CTL_ERR)"
submit id acl-blpop role quality prompt "followed with BLPOP"
fq_assert_eq "$(as_submit BLPOP fleetq:done:acl-blpop 30 | tail -n 1)" "done" "BLPOP as fleetq-submit"
fq_assert_eq "$(as_submit HGET fleetq:task:acl-blpop status)" "done" "HGET of a task as fleetq-submit"

total=$(fq_sql "SELECT count(*) FROM tasks")
fq_assert_eq "$total" 61 "rows in SQLite"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status NOT IN ('done', 'cancelled')")" 0 \
    "tasks that did not end done or cancelled"
fq_log "$total tasks ended done or cancelled in $(($(date +%s) - started)) s"

# ---------------------------------------------------------------- no denial
denials=$(fq_redis ACL LOG 100)
[ -z "$denials" ] || fq_fail "ACL LOG holds denials of the fleet's own commands: $(paste -sd' ' <<<"$denials")"
if grep -liE "NOPERM|no permissions|can't run this command|can't access at least one" "$FQ_TMP"/*.log; then
    fq_fail "a program logged a denial"
fi

# ---------------------------------------------------------------- refusals
refused() { # WHO COMMAND...: the command's answer is a denial
    local who=$1 out
    shift
    out=$("$@" 2>&1) || true
    case $out in
    NOPERM* | *"can't run this command"* | *"can't access at least one of the keys"*) ;;
    *) fq_fail "not refused to fleetq-$who: ${*:2} (answer: $out)" ;;
    esac
}
dry_refused() { # USER COMMAND...: ACL DRYRUN, for commands that would block or stop Redis
    local out
    out=$(fq_redis ACL DRYRUN "$@" 2>&1)
    fq_assert_contains "$out" "no permissions" "ACL DRYRUN $*"
}
for who in coordinator worker submit; do
    as="as_$who"
    refused "$who" "$as" FLUSHALL
    refused "$who" "$as" FLUSHDB
    refused "$who" "$as" CONFIG GET maxmemory
    refused "$who" "$as" KEYS '*'
    refused "$who" "$as" SCAN 0
    refused "$who" "$as" SCRIPT FLUSH
    refused "$who" "$as" ACL SETUSER fleetq-"$who" '+@all'
    refused "$who" "$as" SET other:x 1
    for cmd in MONITOR SHUTDOWN 'DEBUG SEGFAULT' 'CONFIG SET appendonly no'; do
        # shellcheck disable=SC2086
        dry_refused "fleetq-$who" $cmd
    done
done
# a command the user has, on a key outside the prefix, directly and in a script
refused coordinator as_coordinator HSET other:x field 1
refused coordinator as_coordinator EVAL "return redis.call('HSET', 'other:x', 'f', '1')" 0
refused coordinator as_coordinator EVAL "return redis.call('FLUSHALL')" 0
refused worker as_worker HSET other:x field 1
refused worker as_worker ZADD other:z 1 m
refused worker as_worker EVAL "return redis.call('HGETALL', KEYS[1])" 1 other:x
refused worker as_worker EVAL "return redis.call('FLUSHDB')" 0
# the workers have none of the coordinator's own commands
refused worker as_worker INFO
refused worker as_worker XGROUP CREATE fleetq:submit thieves 0
refused worker as_worker XREADGROUP GROUP coordinators thief COUNT 1 STREAMS fleetq:submit '>'
refused worker as_worker XDEL fleetq:submit 0-1
refused worker as_worker LPUSH fleetq:done:acl-1 "done"
# the submitters write the submit stream only, read tasks only, run no script
refused submit as_submit XRANGE fleetq:submit - +
refused submit as_submit HSET fleetq:task:acl-1 status failed
refused submit as_submit XADD fleetq:task:new '*' a b
refused submit as_submit DEL fleetq:task:acl-1
refused submit as_submit EVAL "return 1" 0
refused submit as_submit SCRIPT LOAD "return 1"
refused submit as_submit ZRANGE 'fleetq:{q}:ready:code' 0 -1
# what each user may do still works (the refusals were not a broken login)
fq_assert_eq "$(as_worker ZCARD 'fleetq:{q}:leases')" 0 "ZCARD as fleetq-worker"
fq_assert_eq "$(as_coordinator XLEN fleetq:submit)" 0 "XLEN as fleetq-coordinator"
fq_assert_eq "$(fq_redis EXISTS other:x)" 0 "the key outside the prefix, never written"
fq_assert_ge "$(fq_redis DBSIZE)" 50 "keys still in Redis after the FLUSHALLs"
fq_assert_contains "$(fq_redis ACL LOG 100)" "flushall" "ACL LOG records the refused FLUSHALL"

# ---------------------------------------------------------------- secrets
for pw in "${passwords[@]}"; do
    if grep -lF -- "$pw" "$FQ_TMP"/*.log; then fq_fail "a Redis password is in a log"; fi
done
logs=("$FQ_TMP"/*.log)
fq_assert_ge "${#logs[@]}" 7 "logs searched"
fq_log "done in $(($(date +%s) - started)) s"
fq_pass
