#!/usr/bin/env bash
# SQLite's disk full: the coordinator's writes are refused (here a file
# size limit on the coordinator, RLIMIT_FSIZE, makes SQLite answer
# SQLITE_FULL as a full disk does). The results wait in Redis, /health
# answers 503 naming the store's error and the backlog, and the store backs
# off instead of spinning; once space is there again (the limit raised on
# the running process), every row is written, once.
. "$(dirname "$0")/lib.sh"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

fq_start_redis
fq_start_mock --latency-ms 1 --completion-tokens 400
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
export FLEETQ_DB="$FQ_TMP/fleetq.db" PORT=${PORT:-$(fq_free_port)}
# a write past the limit fails with EFBIG (the signal it would raise is
# ignored, as the coordinator's parent may do)
( trap '' XFSZ; ulimit -S -f 400; exec "$FQ_BIN/coordinator/fleetq-coordinator" ) \
    >>"$FQ_TMP/coordinator.log" 2>&1 &
FQ_COORD_PID=$!
FQ_PIDS+=("$FQ_COORD_PID")
fq_wait_for 10 fq_redis_has_group || fq_fail "coordinator did not start"
fq_start_worker code --concurrency 16

n=1500
fq_submit_n "$n" s code
# (a 503 with the store refusing writes, not the one of a coordinator starting)
full() {
    [ "$(curl -s -o "$FQ_TMP/health.json" -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 503 ] &&
        [ "$(jq -r .parts.store.ok "$FQ_TMP/health.json")" = false ]
}
fq_wait_for 60 full || fq_fail "/health never answered 503: $(curl -s "http://127.0.0.1:$PORT/health")"
health=$(curl -s "http://127.0.0.1:$PORT/health")
fq_log "/health while the disk is full: $(jq -c '{status, parts, backlog}' <<<"$health")"
fq_assert_eq "$(jq -r .status <<<"$health")" degraded "/health status"
fq_assert_eq "$(jq -r .parts.store.ok <<<"$health")" false "/health: the store failing"
fq_assert_contains "$(jq -r .parts.store.error <<<"$health")" "SQLite" "/health: the store's error"
fq_assert_ge "$(jq -r .backlog <<<"$health")" 1 "/health: results waiting for SQLite"
rows=$(fq_sql "SELECT count(*) FROM tasks")
fq_log "$rows rows written before the disk filled up"
fq_assert_le "$rows" $((n - 1)) "rows written before the disk filled up"
c0=$(cpu_ticks "$FQ_COORD_PID") l0=$(wc -l <"$FQ_TMP/coordinator.log")
sleep 3
c1=$(cpu_ticks "$FQ_COORD_PID") l1=$(wc -l <"$FQ_TMP/coordinator.log")
fq_log "while full, over 3 s: $((c1 - c0)) CPU ticks, $((l1 - l0)) log lines"
fq_assert_le $((c1 - c0)) $(( $(getconf CLK_TCK) * 3 / 10 )) "coordinator CPU ticks in 3 s (10%)"
fq_assert_le $((l1 - l0)) 6 "coordinator log lines in 3 s"
fq_assert_contains "$(curl -s "http://127.0.0.1:$PORT/metrics")" \
    'fleetq_part_failing{part="store"} 1' "/metrics: the store failing"

prlimit --pid "$FQ_COORD_PID" --fsize=unlimited:
fq_wait_sql 120 "SELECT count(*) FROM tasks" "$n"
fq_assert_eq "$(fq_sql "SELECT count(DISTINCT id) || ' ' || count(*) FROM tasks WHERE status = 'done'")" \
    "$n $n" "rows once space was back (distinct, all)"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts")" "$n" "attempt rows"
fq_wait_for 10 fq_health_ok || fq_fail "/health after space came back: $(curl -s "http://127.0.0.1:$PORT/health")"
fq_assert_eq "$(fq_redis XLEN fleetq:{q}:results)" 0 "results left in Redis"
fq_pass
