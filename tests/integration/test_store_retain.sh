#!/usr/bin/env bash
# FLEETQ_RETAIN_DAYS: the coordinator deletes the SQLite rows (and their
# attempts) of tasks that ended longer ago than that, and keeps the rest.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 1
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
fq_start_coordinator
fq_start_worker code
fq_submit_n 20 new code
fq_wait_sql 30 "SELECT count(*) FROM tasks" 20
fq_stop_all
FQ_PIDS=()
# 30 rows that ended 10 days ago, with an attempt each, beside the 20 new ones
old=$(date -u -d '10 days ago' +%Y-%m-%dT%H:%M:%S.000Z)
for i in $(seq 1 30); do
    echo "INSERT INTO tasks (id, role, status, attempts, finished_at) VALUES ('old-$i', 'code', 'done', 1, '$old');"
    echo "INSERT INTO attempts (task_id, n, outcome, started_at) VALUES ('old-$i', 1, 'ok', '$old');"
done | fq_sql
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks")" 50 "rows before the coordinator prunes"
fq_start_redis
FLEETQ_RETAIN_DAYS=7 fq_start_coordinator
fq_wait_sql 10 "SELECT count(*) FROM tasks" 20
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'new-%'")" 20 "recent rows kept"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE task_id LIKE 'old-%'")" 0 \
    "attempts of pruned tasks"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE task_id LIKE 'new-%'")" 20 \
    "attempts of recent tasks"
grep -q '"store.pruned".*"tasks":30' "$FQ_TMP/coordinator.log" || fq_fail "no store.pruned line"
fq_pass
