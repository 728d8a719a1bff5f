# lib.sh -- shared set-up for the integration tests: a private redis-server
# and fleetq-mockapi on free loopback ports, the fleetq programs, assertions,
# and cleanup of everything on exit. Source it from a test script:
#
#   . "$(dirname "$0")/lib.sh"
#   fq_start_redis; fq_start_mock --latency-ms 5; fq_start_coordinator
#   fq_start_worker code --concurrency 4
#   ...; fq_assert_eq "$(fq_sql 'SELECT count(*) FROM tasks')" 10 "rows"
#   fq_pass
#
# FQ_BIN (build directory) and FQ_SRC (source tree) come from ctest; run by
# hand they default to ./build and the repository root.
set -euo pipefail

FQ_SRC=${FQ_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FQ_BIN=${FQ_BIN:-$FQ_SRC/build}
FQ_TEST=$(basename "$0" .sh)
FQ_TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleetq-$FQ_TEST.XXXXXX")
FQ_PIDS=()
FQ_CLEANUP_HOOKS=()   # commands run first at exit (e.g. the container stage's engine)
FQ_KEY="test-key-$RANDOM$RANDOM"   # not shaped like a real key
export FQ_KEY

fq_log() { printf '[%s %s] %s\n' "$FQ_TEST" "$(date +%H:%M:%S)" "$*" >&2; }

# Stops every process started so far, the last started first (so Redis,
# started first, is still there while the others leave): SIGTERM, then
# SIGKILL after $1 tenths of a second (default 50).
fq_stop_all() {
    local pid i
    for ((i = ${#FQ_PIDS[@]} - 1; i >= 0; i--)); do
        [ "${FQ_PIDS[$i]}" = "${FQ_REDIS_PID:-}" ] && continue
        kill -TERM "${FQ_PIDS[$i]}" 2>/dev/null || true
    done
    for ((i = ${#FQ_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${FQ_PIDS[$i]}
        [ "$pid" != "${FQ_REDIS_PID:-}" ] || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 "${1:-50}"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# Stops everything and forgets it, so the next part of a test starts on a
# fresh Redis, mock, coordinator and store.
fq_reset_fleet() {
    fq_stop_all "${1:-150}"
    FQ_PIDS=()
    rm -f "$FQ_TMP"/fleetq.db*
}

fq_cleanup() {
    local rc=$? hook
    for hook in "${FQ_CLEANUP_HOOKS[@]}"; do "$hook" || true; done
    fq_stop_all 50
    wait 2>/dev/null || true
    # A sanitizer report in any program's log fails the test.
    if grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$FQ_TMP"/*.log \
            >/dev/null 2>&1; then
        fq_log "sanitizer report in: $(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$FQ_TMP"/*.log | xargs)"
        [ "$rc" -ne 0 ] || rc=1
    fi
    if [ "$rc" -ne 0 ]; then
        fq_log "FAILED (exit $rc); last lines of each log:"
        for f in "$FQ_TMP"/*.log; do
            [ -f "$f" ] || continue
            echo "--- $f" >&2; tail -n 20 "$f" >&2
        done
    fi
    if [ "${FQ_KEEP_TMP:-0}" = 1 ]; then fq_log "kept $FQ_TMP"; else rm -rf "$FQ_TMP"; fi
    exit "$rc"
}
trap fq_cleanup EXIT
trap 'exit 130' INT TERM

fq_fail() { fq_log "FAIL: $*"; exit 1; }
fq_pass() { fq_log "PASS"; }

fq_assert_eq() { # actual expected what
    [ "$1" = "$2" ] || fq_fail "$3: expected '$2', got '$1'"
}
fq_assert_le() { # actual limit what
    [ "$1" -le "$2" ] || fq_fail "$3: expected at most $2, got $1"
}
fq_assert_ge() { # actual minimum what
    [ "$1" -ge "$2" ] || fq_fail "$3: expected at least $2, got $1"
}
fq_assert_contains() { # haystack needle what
    case "$1" in *"$2"*) ;; *) fq_fail "$3: '$2' not found in: $1" ;; esac
}

# A TCP port nobody listens on right now (the caller retries on a race).
fq_free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$(( (RANDOM << 1 | RANDOM & 1) % 12000 + 20000 ))   # under the ephemeral range (32768-), where clients bind
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}

# Waits until command succeeds, up to $1 seconds.
fq_wait_for() {
    local secs=$1; shift
    local deadline=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# FQ_REDIS_TLS runs a test's Redis over TLS: "" (plain TCP), "tls"
# (rediss://, the server's certificate checked against the test's own CA)
# or "mutual" (and a client certificate, which the server requires).
# ctest runs some tests a second time that way (tests/CMakeLists.txt).
FQ_REDIS_TLS=${FQ_REDIS_TLS:-}
FQ_TLS="$FQ_TMP/tls"

# fq_tls_cert NAME CN SAN [CA] [openssl x509 args...]: a key and a
# certificate signed by CA (default the test's CA), in $FQ_TLS/NAME.{key,crt}.
fq_tls_cert() {
    local name=$1 cn=$2 san=$3 ca=${4:-ca}
    shift 4 || shift $#
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$cn" \
        -keyout "$FQ_TLS/$name.key" -out "$FQ_TLS/$name.csr" 2>/dev/null
    printf 'subjectAltName=%s\n' "$san" >"$FQ_TLS/$name.ext"
    openssl x509 -req -in "$FQ_TLS/$name.csr" -CA "$FQ_TLS/$ca.crt" -CAkey "$FQ_TLS/$ca.key" \
        -CAcreateserial -days "${FQ_TLS_DAYS:-30}" -extfile "$FQ_TLS/$name.ext" "$@" \
        -out "$FQ_TLS/$name.crt" 2>/dev/null || fq_fail "openssl could not sign $name"
}

# fq_tls_ca NAME: a certificate authority of the test's own.
fq_tls_ca() {
    mkdir -p "$FQ_TLS"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=fleetq test $1" -keyout "$FQ_TLS/$1.key" -out "$FQ_TLS/$1.crt" 2>/dev/null ||
        fq_fail "openssl could not make the CA $1"
}

# The server's and a client's certificates, made once per test: the
# server's names are localhost and 127.0.0.1.
fq_tls_setup() {
    [ -s "$FQ_TLS/redis.crt" ] && return 0
    fq_tls_ca ca
    fq_tls_cert redis localhost "DNS:localhost,IP:127.0.0.1"
    fq_tls_cert client fleetq-client "DNS:fleetq-client"
}

# fq_start_redis [extra redis-server args...]: sets FQ_REDIS_PORT, REDIS_URL
# (and, over TLS, the FLEETQ_REDIS_* files); fq_restart_redis starts it
# again with the same arguments.
fq_start_redis() {
    local port
    for _ in 1 2 3 4 5; do
        port=$(fq_free_port)
        FQ_REDIS_PORT=$port
        FQ_REDIS_ARGS=(--bind 127.0.0.1 --save '' --appendonly no --dir "$FQ_TMP/redis"
                       --daemonize no)
        FQ_REDIS_CLI=(redis-cli -p "$port")
        if [ -n "$FQ_REDIS_TLS" ]; then
            fq_tls_setup
            FQ_REDIS_ARGS+=(--port 0 --tls-port "$port" --tls-cert-file "$FQ_TLS/redis.crt"
                            --tls-key-file "$FQ_TLS/redis.key" --tls-ca-cert-file "$FQ_TLS/ca.crt"
                            --tls-auth-clients "$([ "$FQ_REDIS_TLS" = mutual ] && echo yes || echo no)")
            FQ_REDIS_CLI=(redis-cli -h localhost -p "$port" --tls --cacert "$FQ_TLS/ca.crt"
                          --cert "$FQ_TLS/client.crt" --key "$FQ_TLS/client.key")
        else
            FQ_REDIS_ARGS+=(--port "$port")
        fi
        FQ_REDIS_ARGS+=("$@")
        mkdir -p "$FQ_TMP/redis"
        if fq_restart_redis 5; then
            if [ -n "$FQ_REDIS_TLS" ]; then
                export REDIS_URL="rediss://localhost:$port/0" FLEETQ_REDIS_CA_FILE="$FQ_TLS/ca.crt"
                if [ "$FQ_REDIS_TLS" = mutual ]; then
                    export FLEETQ_REDIS_CERT_FILE="$FQ_TLS/client.crt" \
                           FLEETQ_REDIS_KEY_FILE="$FQ_TLS/client.key"
                fi
            else
                export REDIS_URL="redis://127.0.0.1:$port/0"
            fi
            return 0
        fi
    done
    fq_fail "redis-server did not start"
}

# fq_restart_redis [wait seconds]: redis-server with the arguments of the
# last fq_start_redis, on the same port; FQ_REDIS_PID is the new one.
fq_restart_redis() {
    redis-server "${FQ_REDIS_ARGS[@]}" >>"$FQ_TMP/redis.log" 2>&1 &
    local pid=$!
    if fq_wait_for "${1:-10}" "${FQ_REDIS_CLI[@]}" ping; then
        FQ_PIDS+=("$pid"); FQ_REDIS_PID=$pid
        return 0
    fi
    kill "$pid" 2>/dev/null || true
    return 1
}

fq_redis() { "${FQ_REDIS_CLI[@]}" "$@"; }

# fq_start_mock [mockapi args...]: sets FQ_MOCK_PORT, FQ_MOCK_URL, and
# exports XAI_BASE_URL and XAI_API_KEY for the programs started after it.
fq_start_mock() {
    local pf="$FQ_TMP/mock.port"
    rm -f "$pf"
    "$FQ_BIN/mockapi/fleetq-mockapi" --port 0 --port-file "$pf" --key "$FQ_KEY" "$@" \
        >"$FQ_TMP/mock.log" 2>&1 &
    local pid=$!
    FQ_PIDS+=("$pid"); FQ_MOCK_PID=$pid
    fq_wait_for 10 test -s "$pf" || fq_fail "fleetq-mockapi did not start"
    FQ_MOCK_PORT=$(cat "$pf")
    FQ_MOCK_URL="http://127.0.0.1:$FQ_MOCK_PORT"
    export XAI_BASE_URL="$FQ_MOCK_URL/v1" XAI_API_KEY="$FQ_KEY"
}

fq_mock_stats() { curl -sf "$FQ_MOCK_URL/mock/stats"; }
fq_mock_config() { curl -sf -X POST -H 'Content-Type: application/json' -d "$1" "$FQ_MOCK_URL/mock/config" >/dev/null; }

# fq_start_coordinator: sets FQ_COORD_PID; the store is $FQ_TMP/fleetq.db.
fq_start_coordinator() {
    export FLEETQ_DB="$FQ_TMP/fleetq.db"
    export PORT=${PORT:-$(fq_free_port)}
    "$FQ_BIN/coordinator/fleetq-coordinator" >>"$FQ_TMP/coordinator.log" 2>&1 &
    FQ_COORD_PID=$!
    FQ_PIDS+=("$FQ_COORD_PID")
    fq_wait_for 10 fq_redis_has_group || fq_fail "coordinator did not start"
}
fq_redis_has_group() { fq_redis XINFO GROUPS fleetq:submit | grep -q coordinators; }

# fq_start_worker ROLE [args...]: the pid is left in FQ_LAST_PID.
fq_start_worker() {
    local role=$1; shift
    "$FQ_BIN/worker/fleetq-worker" --role "$role" "$@" >>"$FQ_TMP/worker-$role.log" 2>&1 &
    FQ_LAST_PID=$!
    FQ_PIDS+=("$FQ_LAST_PID")
}

fq_sql() { sqlite3 -batch -noheader "$FLEETQ_DB" "$@"; }
# fq_sql_ms EXPR: SQL that turns an ISO-8601 time column into epoch ms
fq_sql_ms() { printf "CAST(round((julianday(%s) - 2440587.5) * 86400000) AS INTEGER)" "$1"; }

# Waits up to $1 seconds until SQL query $2 prints $3.
fq_wait_sql() {
    local secs=$1 q=$2 want=$3 got=""
    local deadline=$(( $(date +%s) + secs ))
    while :; do
        got=$(fq_sql "$q" 2>/dev/null || true)
        [ "$got" = "$want" ] && return 0
        [ "$(date +%s)" -lt "$deadline" ] || fq_fail "waited ${secs}s for [$q] = $want, last got '$got'"
        sleep 0.2
    done
}

# Submits with redis-cli and prints the entry id.
fq_submit() { fq_redis XADD fleetq:submit '*' "$@"; }

# fq_submit_n N PREFIX "ROLE..." [FIELD VALUE...]: submits N tasks with ids
# PREFIX-1..PREFIX-N, their roles taken in turn from the list, the extra
# fields added to each, in one redis-cli session.
fq_submit_n() {
    local n=$1 prefix=$2 i
    local -a roles=($3)
    shift 3
    for i in $(seq 1 "$n"); do
        printf 'XADD fleetq:submit * id %s-%d role %s prompt "task %d"' \
            "$prefix" "$i" "${roles[$((i % ${#roles[@]}))]}" "$i"
        [ $# -gt 0 ] && printf ' %s' "$@"
        printf '\n'
    done | fq_redis >/dev/null
}

# fq_ctl ARGS...: runs fleetqctl (stdin passed on); leaves CTL_RC, CTL_OUT
# and CTL_ERR (stderr is also kept in ctl.log, where a sanitizer report
# fails the test).
FQ_CTL="$FQ_BIN/ctl/fleetqctl"
fq_ctl() {
    set +e
    "$FQ_CTL" "$@" >"$FQ_TMP/ctl.out" 2>"$FQ_TMP/ctl.err"
    CTL_RC=$?
    set -e
    CTL_OUT=$(cat "$FQ_TMP/ctl.out")
    CTL_ERR=$(cat "$FQ_TMP/ctl.err")
    { echo "\$ fleetqctl $*"; cat "$FQ_TMP/ctl.err"; } >>"$FQ_TMP/ctl.log"
}
# fq_done_status ID [SECONDS]: waits for the task's final status (BLPOP)
fq_done_status() { fq_redis BLPOP "fleetq:done:$1" "${2:-20}" | tail -n 1; }

fq_quota() { fq_redis HGET fleetq:quota "$1"; }
# predicates for fq_wait_for, which runs its command again and again
fq_quota_is() { [ "$(fq_quota "$1")" = "$2" ]; }
# A field of one model's quota state (rate, ceilings, freeze, breaker; the
# scope FLEETQ_LIMIT_SCOPE=model), e.g. fq_mquota grok-code-fast-1 rate_per_s.
fq_mquota() { fq_redis HGET "fleetq:quota:$1" "$2"; }
fq_mquota_is() { [ "$(fq_mquota "$1" "$2")" = "$3" ]; }
fq_zcard_is() { [ "$(fq_redis ZCARD "$1")" = "$2" ]; }
fq_status_is() { [ "$(fq_redis HGET "fleetq:task:$1" status)" = "$2" ]; }
fq_mock_inflight_is() { [ "$(jq .inflight <<<"$(fq_mock_stats)")" = "$1" ]; }
fq_xlen_is() { [ "$(fq_redis XLEN "$1")" = "$2" ]; }
fq_dbsize_le() { [ "$(fq_redis DBSIZE)" -le "$1" ]; }
# /health answers 200 with status ok (the coordinator's PORT)
# /health and /metrics serve a reading of the fleet at most 0.5 s old
# (snapshot.h): a check of what just happened waits for the next one.
fq_fresh_snapshot() { sleep 1.1; }
fq_health_ok() { [ "$(curl -sf "http://127.0.0.1:$PORT/health" | jq -r .status)" = ok ]; }
