#!/usr/bin/env bash
# The coordinator killed with SIGKILL twice mid-run, and kept down for a
# while each time, as submissions keep arriving: after it restarts, what it
# had read but not acknowledged (submissions, results) is processed, and
# so is what arrived while it was down. Every task ends done with one row
# and one set of attempts (exactly one call each: nothing here fails).
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 50 --jitter-ms 100
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
fq_start_coordinator
for r in ceo code quality memory; do fq_start_worker "$r" --concurrency 4; done

# 300 tasks, 20 every 0.2 s, in the background
n=300
(
    for b in $(seq 0 14); do
        for i in $(seq $((b * 20 + 1)) $((b * 20 + 20))); do
            printf 'XADD fleetq:submit * id c-%d role %s prompt "task %d"\n' \
                "$i" "$(shuf -n1 -e ceo code quality memory)" "$i"
        done | fq_redis >/dev/null
        sleep 0.2
    done
) &
submitter=$!

for round in 1 2; do
    sleep 0.7
    kill -KILL "$FQ_COORD_PID"
    wait "$FQ_COORD_PID" 2>/dev/null || true
    fq_log "coordinator killed ($round); $(fq_redis XLEN fleetq:submit) submissions in the stream"
    sleep 1   # down: submissions and results pile up in the streams
    "$FQ_BIN/coordinator/fleetq-coordinator" >>"$FQ_TMP/coordinator.log" 2>&1 &
    FQ_COORD_PID=$!
    FQ_PIDS+=("$FQ_COORD_PID")
done
wait "$submitter"

fq_wait_sql 60 "SELECT count(*) FROM tasks" "$n"
sleep 0.5   # attempt rows reach SQLite in batches
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status = 'done'")" "$n" "tasks done"
fq_assert_eq "$(fq_sql "SELECT count(DISTINCT id) FROM tasks")" "$n" "one row per task"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts")" "$n" "attempt rows (one per task)"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE attempts <> 1")" 0 "tasks with attempts <> 1"
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" "$n" "provider calls"
# nothing is left pending in either consumer group
fq_assert_eq "$(fq_redis XPENDING fleetq:submit coordinators | head -n 1)" 0 "unacknowledged submissions"
fq_assert_eq "$(fq_redis XPENDING 'fleetq:{q}:results' store | head -n 1)" 0 "unacknowledged results"
fq_assert_eq "$(grep -c '"coordinator.started"' "$FQ_TMP/coordinator.log" || true)" 3 "coordinator starts"
fq_pass
