#!/usr/bin/env bash
# With a small DAILY_BUDGET_USD and many concurrent workers, the spend the
# provider counts never exceeds the cap, the spend recorded in SQLite
# matches the provider's, and tasks that cannot run say why
# (FLEETQ_ON_BUDGET=fail ends them `failed`; `wait` keeps them waiting).
. "$(dirname "$0")/lib.sh"

fq_start_redis
# grok-4: 3.00 in / 15.00 out per 1M tokens; 100 completion + 50 reasoning
# tokens make each call cost a little over $0.00225.
fq_start_mock --latency-ms 30 --jitter-ms 50 --completion-tokens 100 --reasoning-tokens 50
export DAILY_BUDGET_USD=0.05 GROK_RATE_LIMIT_RPM=0 FLEETQ_ON_BUDGET=fail \
       FLEETQ_REASONING_RESERVE=200 MAX_TOKENS_DEFAULT=100
fq_start_coordinator
for i in 1 2 3 4; do fq_start_worker ceo --concurrency 8; done

n=80
fq_submit_n "$n" b ceo model grok-4

fq_wait_sql 120 "SELECT count(*) FROM tasks" "$n"
cap_ticks=500000000   # $0.05 in ticks of 1e-10 USD
spent=$(jq .spend_ticks <<<"$(fq_mock_stats)")
recorded=$(fq_sql "SELECT coalesce(sum(cost_ticks), 0) FROM tasks")
done_n=$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")
failed_n=$(fq_sql "SELECT count(*) FROM tasks WHERE status='failed' AND error LIKE '%daily budget%'")
fq_log "provider spend=$spent ticks, recorded=$recorded, done=$done_n, failed for budget=$failed_n"
fq_assert_le "$spent" "$cap_ticks" "provider-counted spend against the cap"
fq_assert_eq "$recorded" "$spent" "spend in SQLite vs the provider's"
# calls in flight hold budget only until they settle: the cap gets used
fq_assert_ge "$spent" 400000000 "provider spend (ticks): most of the cap used"
fq_assert_eq $((done_n + failed_n)) "$n" "every task done or failed for the budget"
fq_assert_contains "$(fq_redis HGET fleetq:quota budget_cap_usd)" "0.05" "cap in fleetq:quota"

# FLEETQ_ON_BUDGET=wait: the task stays queued (delayed) with its reason.
# (The cap is lowered to below what was spent, so nothing can fit.)
for pid in "${FQ_PIDS[@]:3}"; do kill -TERM "$pid" 2>/dev/null || true; done
export FLEETQ_ON_BUDGET=wait DAILY_BUDGET_USD=0.04
fq_start_worker ceo --concurrency 2
fq_submit role ceo model grok-4 id waiting prompt "no money left" >/dev/null
for _ in $(seq 1 100); do
    [ "$(fq_redis HGET fleetq:task:waiting status)" = delayed ] && break
    sleep 0.1
done
fq_assert_eq "$(fq_redis HGET fleetq:task:waiting status)" delayed "status while waiting for budget"
fq_assert_contains "$(fq_redis HGET fleetq:task:waiting error)" "daily budget" "reason in the task hash"
fq_assert_le "$(jq .spend_ticks <<<"$(fq_mock_stats)")" "$cap_ticks" "spend after the waiting task"
fq_pass
