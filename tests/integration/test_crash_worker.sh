#!/usr/bin/env bash
# Workers killed with SIGKILL at random instants, every 1-2 s, and started
# again, while 400 tasks run: every task ends done with one row, and the
# provider sees no more calls than the tasks plus the calls that were in
# flight in the killed workers (each kill can lose at most its worker's
# concurrency in calls whose answers never got reported).
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 100 --jitter-ms 300
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_LEASE_SECONDS=5 GROK_MAX_RETRIES=6
fq_start_coordinator

roles=(ceo code quality memory)
concurrency=4
pids=()
for r in "${roles[@]}"; do
    fq_start_worker "$r" --concurrency "$concurrency"
    pids+=("$FQ_LAST_PID")
done

n=400
fq_submit_n "$n" k "ceo code quality memory"

kills=0
deadline=$(( $(date +%s) + 90 ))
while [ "$(fq_sql "SELECT count(*) FROM tasks" 2>/dev/null || echo 0)" -lt "$n" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fq_fail "not all tasks finished in 90 s with workers being killed"
    # a random instant in the next 1-2 s
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 1 + r / 32768 }')"
    i=$((RANDOM % ${#roles[@]}))
    if kill -KILL "${pids[$i]}" 2>/dev/null; then
        wait "${pids[$i]}" 2>/dev/null || true
        kills=$((kills + 1))
    fi
    fq_start_worker "${roles[$i]}" --concurrency "$concurrency"
    pids[$i]=$FQ_LAST_PID
done

fq_wait_sql 30 "SELECT count(*) FROM tasks" "$n"
sleep 0.5   # attempt rows reach SQLite in batches
calls=$(jq .requests <<<"$(fq_mock_stats)")
rerun=$(fq_sql "SELECT count(*) FROM tasks WHERE attempts > 1")
fq_log "$kills kills; provider calls $calls for $n tasks; tasks run more than once: $rerun"
fq_assert_ge "$kills" 3 "workers killed during the run"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status = 'done'")" "$n" "tasks done"
fq_assert_eq "$(fq_sql "SELECT count(DISTINCT id) FROM tasks")" "$n" "one row per task"
for i in $(seq 1 "$n"); do echo "HGET fleetq:task:k-$i status"; done | fq_redis | sort | uniq -c |
    grep -v ' done$' && fq_fail "a task hash is not done"
fq_assert_le "$calls" $((n + kills * concurrency)) "provider calls (tasks + in flight at the kills)"
# every call that was reported has its attempt row, numbered without gaps
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks t WHERE attempts <
                          (SELECT max(n) FROM attempts a WHERE a.task_id = t.id)")" 0 \
    "tasks with an attempt numbered above their count"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome = 'ok'")" "$n" \
    "successful attempts recorded (one per task)"
fq_pass
