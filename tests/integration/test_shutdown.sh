#!/usr/bin/env bash
# Graceful shutdown on SIGTERM (what Docker and Render send).
#   1. A busy worker (4 calls of 2 s in flight, 8 tasks waiting) stops
#      claiming, lets its calls finish, and exits 0 well within its grace;
#      the waiting tasks stay queued for the next worker; nothing is lost or
#      run twice.
#   2. Calls that outlast the grace (FLEETQ_GRACE_SECONDS=1, 6 s calls) are
#      aborted and their tasks handed back at once (not after the lease),
#      the worker still exits 0, and another worker completes them.
#   3. The coordinator exits 0 on SIGTERM with every result it had read in
#      SQLite.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 2000
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_LEASE_SECONDS=30 FLEETQ_GRACE_SECONDS=10
fq_start_coordinator

# stop_and_time PID: SIGTERM, wait for the exit; sets rc and ms
stop_and_time() {
    local t0
    t0=$(date +%s%3N)
    kill -TERM "$1"
    rc=0
    wait "$1" || rc=$?
    ms=$(( $(date +%s%3N) - t0 ))
}

# --- 1. in-flight calls finish, the rest stays queued ------------------------
fq_start_worker code --concurrency 4
w=$FQ_LAST_PID
# a worker makes one call until the key is known to work: get that done first
fq_submit role code id warm-up prompt "first call" >/dev/null
fq_assert_eq "$(fq_redis BLPOP fleetq:done:warm-up 10 | tail -n 1)" done "warm-up task"
fq_submit_n 12 s code
fq_wait_for 10 fq_mock_inflight_is 4 || fq_fail "4 calls never ran at once"
stop_and_time "$w"
fq_log "busy worker: exit $rc after $ms ms"
fq_assert_eq "$rc" 0 "exit code of the busy worker"
fq_assert_le "$ms" 10000 "time to exit (ms) within the 10 s grace"
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" 5 "calls made by the stopped worker (warm-up + 4)"
fq_wait_sql 10 "SELECT count(*) FROM tasks WHERE status = 'done'" 5
queued=0
for i in $(seq 1 12); do
    [ "$(fq_redis HGET "fleetq:task:s-$i" status)" = queued ] && queued=$((queued + 1))
done
fq_assert_eq "$queued" 8 "tasks still queued after the worker stopped"
fq_start_worker code --concurrency 8
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE status = 'done'" 13
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" 13 "calls for 13 tasks"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE attempts <> 1")" 0 "tasks run more than once"
stop_and_time "$FQ_LAST_PID"
fq_assert_eq "$rc" 0 "exit code of an idle worker"
fq_assert_le "$ms" 2000 "time for an idle worker to exit (ms)"

# --- 2. calls longer than the grace are handed back -------------------------
fq_mock_config '{"latency_ms": 100}'
FLEETQ_GRACE_SECONDS=1 fq_start_worker quality --concurrency 3
w=$FQ_LAST_PID
fq_submit role quality id warm-up-2 prompt "first call" >/dev/null
fq_assert_eq "$(fq_redis BLPOP fleetq:done:warm-up-2 10 | tail -n 1)" done "second warm-up task"
fq_mock_config '{"latency_ms": 6000}'
fq_submit_n 3 g quality
fq_wait_for 10 fq_mock_inflight_is 3 || fq_fail "3 calls never ran at once"
stop_and_time "$w"
fq_log "worker past its grace: exit $rc after $ms ms"
fq_assert_eq "$rc" 0 "exit code after the grace ran out"
fq_assert_le "$ms" 4000 "time to exit (ms) with a 1 s grace"
for i in 1 2 3; do
    st=$(fq_redis HGET "fleetq:task:g-$i" status)
    case $st in queued|retrying|delayed) ;; *) fq_fail "g-$i is '$st' after its worker stopped" ;; esac
done
fq_mock_config '{"latency_ms": 100}'
fq_start_worker quality --concurrency 3
for i in 1 2 3; do
    fq_assert_eq "$(fq_redis BLPOP "fleetq:done:g-$i" 20 | tail -n 1)" done "g-$i"
done

# --- 3. the coordinator ------------------------------------------------------
fq_wait_sql 10 "SELECT count(*) FROM tasks" 17
stop_and_time "$FQ_COORD_PID"
fq_assert_eq "$rc" 0 "exit code of the coordinator"
fq_assert_le "$ms" 5000 "time for the coordinator to exit (ms)"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status = 'done'")" 17 "rows in SQLite"
fq_pass
