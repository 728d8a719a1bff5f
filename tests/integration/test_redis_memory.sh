#!/usr/bin/env bash
# What fleetq keeps in Redis is bounded, and a full Redis is waited out.
#
#  1. 20,000 tasks with 2 KB prompts: once they have ended and their result
#     ttl (FLEETQ_RESULT_TTL) has passed, Redis' used_memory is back within
#     1 MiB of where it started, beside the events stream (trimmed at
#     100,000 entries); the submit stream is empty. Both figures, with and
#     without what the result ttl keeps, are logged.
#  2. maxmemory reached under a flood of submissions (noeviction): the
#     submissions Redis refuses are errors the submitter sees; the
#     coordinator and a worker back off (their CPU and log lines are
#     measured while Redis is full and asserted low); /health says which
#     part fails; once maxmemory is raised every accepted task ends done,
#     one row and one call each.
. "$(dirname "$0")/lib.sh"

used_memory() { fq_redis INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }
# CPU time of a process in clock ticks (utime + stime of /proc/PID/stat)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
lines() { cat "$@" 2>/dev/null | wc -l; }
prompt=$(head -c 1536 /dev/zero | tr '\0' 'p')   # with the rest of the entry, ~2 KB each
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0

# ------------------------------------------------------------ 1. bounded
# (with an evicting policy, which the coordinator warns about; without a
# maxmemory nothing is evicted)
fq_start_redis --maxmemory-policy allkeys-lru
fq_start_mock --latency-ms 1 --completion-tokens 20
export FLEETQ_RESULT_TTL=3
fq_start_coordinator
warned() { [[ "$(curl -s "http://127.0.0.1:$PORT/health" | jq -r '.warnings[0]')" == *allkeys-lru* ]]; }
fq_wait_for 10 warned || fq_fail "no warning for allkeys-lru in /health"
grep -q '"redis.eviction".*allkeys-lru' "$FQ_TMP/coordinator.log" ||
    fq_fail "no redis.eviction warning in the coordinator's log"
base=$(used_memory)
n=20000
fq_start_worker code --concurrency 32
fq_start_worker memory --concurrency 32
for i in $(seq 1 "$n"); do
    printf 'XADD fleetq:submit * id b-%d role %s prompt "%s task %d"\n' \
        "$i" "$([ $((i % 2)) = 0 ] && echo code || echo memory)" "$prompt" "$i"
done | fq_redis >/dev/null
fq_wait_sql 240 "SELECT count(*) FROM tasks WHERE status = 'done'" "$n"
fq_wait_for 30 fq_xlen_is fleetq:{q}:results 0 || fq_fail "results left in Redis"
fq_assert_eq "$(fq_redis XLEN fleetq:submit)" 0 "XLEN fleetq:submit after $n tasks"
kept=$(used_memory)
# the stored tasks' hashes and done markers expire with the result ttl
fq_wait_for 60 fq_dbsize_le 40 || fq_fail "keys left after the result ttl: $(fq_redis DBSIZE)"
after=$(used_memory)
events=$(fq_redis MEMORY USAGE fleetq:events)
fq_log "used_memory: $base at start; $kept with the result ttl's hashes and markers;" \
    "$after after it ($((after - base - events)) bytes over the start beside the events" \
    "stream, which holds $(fq_redis XLEN fleetq:events) entries in $events bytes)"
fq_assert_le $((after - base - events)) $((1 << 20)) "bytes over the start, beside the events"
fq_assert_eq "$(fq_sql "SELECT count(DISTINCT id) || ' ' || count(*) FROM tasks")" "$n $n" \
    "rows (distinct, all)"

# ------------------------------------------------------------- 2. full
fq_reset_fleet
unset FLEETQ_RESULT_TTL
fq_start_redis --maxmemory-policy noeviction
fq_start_mock --latency-ms 1 --completion-tokens 20
fq_start_coordinator
limit=$(( $(used_memory) + (3 << 20) ))
fq_redis CONFIG SET maxmemory "$limit" >/dev/null
# The flood lands in the stream while the coordinator is stopped; after it,
# intake finds Redis full.
kill -STOP "$FQ_COORD_PID"
accepted=0 refused=0 batch=0
while [ "$refused" -eq 0 ] && [ "$batch" -lt 100 ]; do
    out=$(for i in $(seq 1 200); do
        printf 'XADD fleetq:submit * id f-%d-%d role code prompt "%s"\n' "$batch" "$i" "$prompt"
    done | fq_redis 2>&1)
    accepted=$((accepted + $(grep -cE '^[0-9]+-[0-9]+$' <<<"$out" || true)))
    refused=$((refused + $(grep -c 'OOM command not allowed' <<<"$out" || true)))
    batch=$((batch + 1))
done
fq_log "flood: $accepted submissions accepted, $refused refused in $batch batches"
fq_assert_ge "$refused" 1 "submissions Redis refused, with the error the submitter sees"
fq_assert_ge "$accepted" 500 "submissions accepted before Redis filled up"
kill -CONT "$FQ_COORD_PID"
fq_start_worker code --concurrency 8
worker=$FQ_LAST_PID
sleep 2   # both find Redis full and back off
c0=$(cpu_ticks "$FQ_COORD_PID") w0=$(cpu_ticks "$worker")
l0=$(lines "$FQ_TMP/coordinator.log") m0=$(lines "$FQ_TMP/worker-code.log")
sleep 5
c1=$(cpu_ticks "$FQ_COORD_PID") w1=$(cpu_ticks "$worker")
l1=$(lines "$FQ_TMP/coordinator.log") m1=$(lines "$FQ_TMP/worker-code.log")
hz=$(getconf CLK_TCK)
fq_log "while Redis is full, over 5 s: coordinator $((c1 - c0)) CPU ticks ($hz/s)," \
    "$((l1 - l0)) log lines; worker $((w1 - w0)) ticks, $((m1 - m0)) lines"
fq_assert_le $((c1 - c0)) $((hz * 5 / 10)) "coordinator CPU ticks in 5 s (at most 10%)"
fq_assert_le $((w1 - w0)) $((hz * 5 / 10)) "worker CPU ticks in 5 s (at most 10%)"
fq_assert_le $((l1 - l0)) 10 "coordinator log lines in 5 s"
fq_assert_le $((m1 - m0)) 10 "worker log lines in 5 s"
health=$(curl -s "http://127.0.0.1:$PORT/health")
fq_assert_eq "$(jq -r .status <<<"$health")" degraded "/health status while Redis is full"
fq_assert_eq "$(jq -r .parts.intake.ok <<<"$health")" false "/health: intake failing"
fq_assert_contains "$(jq -r .parts.intake.error <<<"$health")" OOM "/health: the intake's error"

fq_redis CONFIG SET maxmemory 0 >/dev/null
fq_wait_sql 120 "SELECT count(*) FROM tasks" "$accepted"
fq_assert_eq "$(fq_sql "SELECT count(DISTINCT id) || ' ' || count(*) FROM tasks
    WHERE status = 'done'")" "$accepted $accepted" "accepted tasks done (distinct, rows)"
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" "$accepted" "calls: one per accepted task"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE n > 1")" 0 "second attempts"
fq_wait_for 10 fq_health_ok || fq_fail "/health after memory was freed: $(curl -s "http://127.0.0.1:$PORT/health")"
fq_assert_eq "$(fq_redis XLEN fleetq:submit)" 0 "XLEN fleetq:submit at the end"
fq_pass
