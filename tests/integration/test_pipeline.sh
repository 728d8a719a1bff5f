#!/usr/bin/env bash
# 200 tasks submitted with redis-cli across the four roles and every
# priority all end `done`: one row each in `tasks` with tokens, cost,
# latency and output, each with exactly one successful API call; BLPOP on
# fleetq:done:<id> and HGETALL fleetq:task:<id> behave as the README says.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 5 --jitter-ms 20
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
fq_start_coordinator
for role in ceo code quality memory; do fq_start_worker "$role" --concurrency 4; done

roles=(ceo code quality memory)
prios=(critical high normal low bulk 0 1 2 3 4 5 6 7 8 9)
{
    for i in $(seq 1 200); do
        role=${roles[$((i % 4))]}
        prio=${prios[$((i % ${#prios[@]}))]}
        printf 'XADD fleetq:submit * role %s priority %s id t-%03d prompt "task %d for %s"\n' \
            "$role" "$prio" "$i" "$i" "$role"
    done
} | fq_redis >/dev/null

# BLPOP returns the final status of one task.
got=$(fq_redis BLPOP fleetq:done:t-007 60 | tail -n 1)
fq_assert_eq "$got" "done" "BLPOP fleetq:done:t-007"

fq_wait_sql 120 "SELECT count(*) FROM tasks" 200
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")" 200 "done rows"
fq_assert_eq "$(fq_sql "SELECT count(DISTINCT id) FROM tasks")" 200 "distinct ids"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE prompt_tokens > 0 AND completion_tokens > 0
    AND cost_usd > 0 AND latency_ms IS NOT NULL AND length(output) > 0 AND model IS NOT NULL
    AND submitted_at LIKE '20__-__-__T__:__:__.___Z' AND finished_at >= started_at")" 200 \
    "rows with tokens, cost, latency, output and times"
for role in ceo code quality memory; do
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE role='$role'")" 50 "rows of $role"
done
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome='ok'")" 200 "successful attempts"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM (SELECT task_id FROM attempts WHERE outcome='ok'
    GROUP BY task_id HAVING count(*) = 1)")" 200 "tasks with exactly one successful call"

stats=$(fq_mock_stats)
fq_assert_eq "$(jq .ok <<<"$stats")" 200 "successful calls the provider answered"
fq_assert_eq "$(jq .requests <<<"$stats")" 200 "calls the provider received"
# What the store recorded is what the provider billed.
fq_assert_eq "$(fq_sql "SELECT sum(cost_ticks) FROM tasks")" "$(jq .spend_ticks <<<"$stats")" \
    "spend in SQLite vs the provider's"

# The task hash as the README describes it.
hash=$(fq_redis HGETALL fleetq:task:t-042 | paste -sd' ')
for field in status role priority attempts submitted_at started_at finished_at output; do
    fq_assert_contains "$hash" "$field" "HGETALL fleetq:task:t-042"
done
fq_assert_eq "$(fq_redis HGET fleetq:task:t-042 status)" done "status of t-042"
fq_assert_eq "$(fq_redis HGET fleetq:task:t-042 attempts)" 1 "attempts of t-042"
fq_assert_eq "$(fq_redis HEXISTS fleetq:task:t-042 prompt)" 0 "the prompt in a stored task's hash"
# The done marker lives exactly as long as the hash: FLEETQ_RESULT_TTL (24 h).
ttl_hash=$(fq_redis TTL fleetq:task:t-042) ttl_done=$(fq_redis TTL fleetq:done:t-042)
fq_log "ttl of t-042's hash ${ttl_hash} s, of its done marker ${ttl_done} s"
fq_assert_ge "$ttl_hash" 86390 "ttl of a stored task's hash"
fq_assert_le "$ttl_hash" 86400 "ttl of a stored task's hash"
fq_assert_le $((ttl_hash - ttl_done)) 1 "the done marker's ttl against the hash's"
fq_assert_le $((ttl_done - ttl_hash)) 1 "the done marker's ttl against the hash's"
# Priority names map to numbers: t-001 was 'high', t-004 'bulk'.
fq_assert_eq "$(fq_sql "SELECT priority FROM tasks WHERE id='t-001'")" 2 "priority high"
fq_assert_eq "$(fq_sql "SELECT priority FROM tasks WHERE id='t-004'")" 8 "priority bulk"

# A repeated id is not run twice.
fq_submit role code id t-001 prompt "again" >/dev/null
sleep 1
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" 200 "calls after a repeated id"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id='t-001'")" 1 "rows for t-001"

# Every submission was consumed: the submit stream holds none of them
# (the repeated id included), and nothing is pending in its group.
fq_assert_eq "$(fq_redis XLEN fleetq:submit)" 0 "entries left in fleetq:submit"
fq_assert_eq "$(fq_redis XPENDING fleetq:submit coordinators | head -n 1)" 0 "entries pending in fleetq:submit"

# The events stream saw every state change.
fq_assert_ge "$(fq_redis XLEN fleetq:events)" 600 "events (queued, running, done per task)"
fq_pass
