#!/usr/bin/env bash
# Redis killed with SIGKILL mid-run and restarted from its AOF on the same
# port: every process reconnects by itself and all the work completes, one
# row per task.
. "$(dirname "$0")/lib.sh"

fq_start_redis --appendonly yes --appendfsync always
fq_start_mock --latency-ms 50
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
fq_start_coordinator
fq_start_worker code --concurrency 4
fq_start_worker memory --concurrency 4

n=100
fq_submit_n "$n" r "code memory"
sleep 0.7
kill -KILL "$FQ_REDIS_PID"
sleep 2
fq_restart_redis 30 || fq_fail "Redis did not start again"

fq_wait_sql 60 "SELECT count(*) FROM tasks" "$n"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")" "$n" "tasks done"
calls=$(jq .requests <<<"$(fq_mock_stats)")
fq_log "provider calls=$calls for $n tasks"
# at most the 8 calls in flight when Redis died are made again
fq_assert_le "$calls" $((n + 8)) "provider calls"
fq_assert_ge "$(grep -c redis.disconnected "$FQ_TMP"/worker-*.log "$FQ_TMP/coordinator.log" | awk -F: '{s+=$2} END {print s}')" 3 \
    "disconnects seen (and survived) by the programs"
for pid in "${FQ_PIDS[@]:2:3}"; do kill -0 "$pid" || fq_fail "a fleetq process exited"; done
fq_pass
