#!/usr/bin/env bash
# Redis over TLS (rediss://) with certificates the test makes with openssl:
# a fleet with a client certificate and a password does its work, Redis
# stalled and resumed is survived; a server certificate from another CA,
# an expired one, one for another host name, and a missing client
# certificate are each refused by the coordinator, a worker and fleetqctl
# with a line naming the reason, while the tasks waiting in Redis are not
# touched; FLEETQ_REDIS_TLS_VERIFY=false works and says so; TLS settings
# that cannot work stop a program at start. The key and the Redis password
# appear in no log, /health or /metrics.
. "$(dirname "$0")/lib.sh"

FQ_REDIS_TLS=mutual
password="pw-$RANDOM$RANDOM-redis"
export REDISCLI_AUTH=$password   # the test's own redis-cli
fq_start_redis --requirepass "$password"
FQ_REDIS_CLI+=(--insecure)   # the test's own redis-cli, while it swaps the server's certificate
REDIS_URL="rediss://:$password@localhost:$FQ_REDIS_PORT/0"
fq_start_mock --latency-ms 5
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_METRICS_TOKEN="metrics-$RANDOM$RANDOM$RANDOM"

# --- a fleet over TLS with a client certificate ------------------------
fq_start_coordinator
fleet=("$FQ_COORD_PID")
fq_start_worker code --concurrency 4
fleet+=("$FQ_LAST_PID")
fq_start_worker ceo --concurrency 2
fleet+=("$FQ_LAST_PID")
fq_submit_n 30 tls "code ceo"
fq_wait_sql 60 "SELECT count(*) FROM tasks WHERE status = 'done'" 30
fq_ctl status --json
fq_assert_eq "$CTL_RC" 0 "fleetqctl status's exit code over TLS"
fq_assert_eq "$(jq -r .roles.code.workers <<<"$CTL_OUT")" 1 "live code workers seen by fleetqctl"
fq_fresh_snapshot
health=$(curl -s -H "Authorization: Bearer $FLEETQ_METRICS_TOKEN" "http://127.0.0.1:$PORT/health")
fq_assert_eq "$(jq -r .status <<<"$health")" ok "/health over TLS"
metrics=$(curl -s -H "Authorization: Bearer $FLEETQ_METRICS_TOKEN" "http://127.0.0.1:$PORT/metrics")

# Redis stalled for longer than the connections' stall limit (15 s): the
# watchdog drops the connection, and a new relay takes over once Redis
# answers again
kill -STOP "$FQ_REDIS_PID"
sleep 22
kill -CONT "$FQ_REDIS_PID"
fq_wait_for 30 grep -q '"reason":"no reply within the stall limit"' "$FQ_TMP/coordinator.log" ||
    fq_fail "the coordinator did not drop the stalled connection"
fq_log "the stalled connection was dropped"
fq_submit role code id after-stall prompt "still there?" >/dev/null
fq_assert_eq "$(fq_done_status after-stall 30)" done "a task after the stall"

for log in "$FQ_TMP"/*.log; do
    ! grep -qF "$password" "$log" || fq_fail "the Redis password is in $(basename "$log")"
    ! grep -qF "$FQ_KEY" "$log" || fq_fail "the key is in $(basename "$log")"
done
for text in "$health" "$metrics"; do
    ! grep -qF "$password" <<<"$text" || fq_fail "the Redis password is served over HTTP"
done
fq_log "no secret in the logs or over HTTP"
kill -TERM "${fleet[@]}"
wait "${fleet[@]}" || true

# --- refusals -----------------------------------------------------------
# five tasks wait in the submit stream; nothing below may take them
for i in 1 2 3 4 5; do fq_submit role code id "waiting-$i" prompt "wait $i" >/dev/null; done
read_before=$(fq_redis XINFO GROUPS fleetq:submit | awk 'p { print; exit } /^entries-read$/ { p = 1 }')

fq_tls_ca other
FQ_TLS_DAYS=-1 fq_tls_cert expired localhost "DNS:localhost,IP:127.0.0.1"
fq_tls_cert wrongname redis.example "DNS:redis.example"

# refused WHY [env settings...]: a coordinator, a worker and fleetqctl with
# those settings each say WHY and leave the waiting tasks alone
case_n=0
refused() {
    local why=$1 log
    shift
    case_n=$((case_n + 1))
    env "$@" "$FQ_BIN/coordinator/fleetq-coordinator" >"$FQ_TMP/refused-$case_n-coordinator.log" 2>&1 &
    local coord=$!
    env "$@" "$FQ_BIN/worker/fleetq-worker" --role code >"$FQ_TMP/refused-$case_n-worker.log" 2>&1 &
    local worker=$!
    FQ_PIDS+=("$coord" "$worker")   # stopped at exit, should a check below fail
    for log in coordinator worker; do
        fq_wait_for 15 grep -q "\"level\":\"error\",.*\"event\":\"redis.tls_refused\".*$why" \
            "$FQ_TMP/refused-$case_n-$log.log" || {
            tail -n 5 "$FQ_TMP/refused-$case_n-$log.log" >&2
            fq_fail "the $log did not refuse with '$why'"
        }
    done
    local out rc=0
    out=$(env "$@" "$FQ_BIN/ctl/fleetqctl" status 2>&1) || rc=$?
    fq_assert_eq "$rc" 2 "fleetqctl status's exit code, as for a refused password ($why)"
    fq_assert_contains "$out" "$why" "fleetqctl's error"
    kill -TERM "$coord" "$worker"
    wait "$coord" "$worker" || true
    fq_assert_eq "$(fq_redis XLEN fleetq:submit)" 5 "submissions waiting ($why)"
    fq_assert_eq "$(fq_redis XINFO GROUPS fleetq:submit | awk 'p { print; exit } /^entries-read$/ { p = 1 }')" \
        "$read_before" "entries read from the submit stream ($why)"
    fq_assert_eq "$(fq_redis EXISTS fleetq:task:waiting-1)" 0 "a task hash for a waiting task ($why)"
    fq_log "refused: $why"
}

refused "does not verify: self-signed certificate in certificate chain" FLEETQ_REDIS_CA_FILE="$FQ_TLS/other.crt"
fq_redis CONFIG SET tls-cert-file "$FQ_TLS/expired.crt" tls-key-file "$FQ_TLS/expired.key" >/dev/null
refused "certificate has expired"
fq_redis CONFIG SET tls-cert-file "$FQ_TLS/wrongname.crt" tls-key-file "$FQ_TLS/wrongname.key" >/dev/null
refused "hostname mismatch"
fq_redis CONFIG SET tls-cert-file "$FQ_TLS/redis.crt" tls-key-file "$FQ_TLS/redis.key" >/dev/null
refused "certificate required" -u FLEETQ_REDIS_CERT_FILE -u FLEETQ_REDIS_KEY_FILE

# --- settings that cannot work stop a program at start -----------------
# config_error WHAT [env settings...]: fleetqctl exits 2 saying WHAT
config_error() {
    local what=$1 out rc=0
    shift
    out=$(env "$@" "$FQ_BIN/ctl/fleetqctl" status 2>&1) || rc=$?
    fq_assert_eq "$rc" 2 "fleetqctl's exit code ($what)"
    fq_assert_contains "$out" "$what" "the error"
}
config_error "set FLEETQ_REDIS_CERT_FILE and FLEETQ_REDIS_KEY_FILE together" -u FLEETQ_REDIS_KEY_FILE
config_error "FLEETQ_REDIS_CA_FILE: cannot read CA certificates from" FLEETQ_REDIS_CA_FILE="$FQ_TMP/none.crt"
config_error "does not belong to the certificate" FLEETQ_REDIS_KEY_FILE="$FQ_TLS/expired.key"
config_error "FLEETQ_REDIS_CA_FILE: set, but REDIS_URL is not rediss://" REDIS_URL="redis://127.0.0.1:$FQ_REDIS_PORT/0"

# --- not verified, on purpose, and said so ------------------------------
out=$(FLEETQ_REDIS_CA_FILE="$FQ_TLS/other.crt" FLEETQ_REDIS_TLS_VERIFY=false "$FQ_BIN/ctl/fleetqctl" status 2>&1) ||
    fq_fail "fleetqctl status with FLEETQ_REDIS_TLS_VERIFY=false: $out"
FLEETQ_REDIS_CA_FILE="$FQ_TLS/other.crt" FLEETQ_REDIS_TLS_VERIFY=false fq_start_worker code
fq_wait_for 10 grep -q '"level":"warn",.*"event":"redis.tls_unverified"' "$FQ_TMP/worker-code.log" ||
    fq_fail "an unverified connection was not logged"

# --- and the waiting tasks, untouched so far, are done by a proper fleet -
fq_start_coordinator
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id LIKE 'waiting-%' AND status = 'done'" 5
fq_pass
