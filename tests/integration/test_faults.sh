#!/usr/bin/env bash
# With about a third of calls failing (5xx, connection resets, truncated
# bodies, a few hangs), every task still ends `done` and `attempts` shows
# the retries with their outcomes.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 5 --jitter-ms 10 --fail-rate 0.15 --reset-rate 0.08 \
    --truncate-rate 0.08 --hang-rate 0.02 --seed 7
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 GROK_MAX_RETRIES=12 REQUEST_TIMEOUT=2 \
       FLEETQ_BACKOFF_BASE_MS=50 FLEETQ_BACKOFF_MAX_MS=400
fq_start_coordinator
fq_start_worker code --concurrency 8
fq_start_worker memory --concurrency 8

n=120
fq_submit_n "$n" f "code memory"

fq_wait_sql 180 "SELECT count(*) FROM tasks" "$n"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")" "$n" "tasks done"
attempts=$(fq_sql "SELECT count(*) FROM attempts")
fq_log "attempts=$attempts for $n tasks; by outcome: $(fq_sql "SELECT outcome||'='||count(*) FROM attempts GROUP BY outcome" | paste -sd' ')"
fq_assert_ge "$attempts" $((n + n / 5)) "attempts (retries recorded)"
for outcome in server_error network malformed; do
    fq_assert_ge "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome='$outcome'")" 1 \
        "attempts with outcome $outcome"
done
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome='ok'")" "$n" "one ok attempt per task"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks t WHERE attempts <>
    (SELECT count(*) FROM attempts a WHERE a.task_id = t.id)")" 0 "tasks.attempts matches its rows"
fq_assert_ge "$(fq_sql "SELECT count(*) FROM errors")" 1 "the errors view lists failed attempts"
fq_pass
