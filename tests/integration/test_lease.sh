#!/usr/bin/env bash
# Leases: a heartbeat keeps a task whose call outlasts the lease with its
# worker (no second call), and a task whose worker is killed mid-call is
# handed to another worker once the lease expires, with one row written.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 7000
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_LEASE_SECONDS=5
fq_start_coordinator
fq_start_worker code --concurrency 2
first=$FQ_LAST_PID

# 1. A 7 s call under a 5 s lease: the heartbeat keeps it.
fq_submit role code id long-call prompt "a slow one" >/dev/null
fq_assert_eq "$(fq_redis BLPOP fleetq:done:long-call 30 | tail -n 1)" done "long call"
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" 1 "calls for a call longer than the lease"
fq_assert_eq "$(fq_redis HGET fleetq:task:long-call attempts)" 1 "attempts of long-call"

# 2. The worker dies mid-call: the reaper hands the task on after the lease.
fq_submit role code id orphan prompt "its worker will die" >/dev/null
for _ in $(seq 1 50); do
    [ "$(fq_redis HGET fleetq:task:orphan status)" = running ] && break
    sleep 0.1
done
fq_assert_eq "$(fq_redis HGET fleetq:task:orphan status)" running "status before the kill"
kill -KILL "$first"
fq_start_worker code --concurrency 2
fq_assert_eq "$(fq_redis BLPOP fleetq:done:orphan 40 | tail -n 1)" done "orphan after its worker died"
fq_assert_eq "$(fq_redis HGET fleetq:task:orphan attempts)" 2 "attempts of orphan"
fq_wait_sql 10 "SELECT count(*) FROM tasks WHERE id='orphan' AND status='done' AND attempts=2" 1
fq_assert_contains "$(grep -h reap.expired_leases "$FQ_TMP/coordinator.log")" '"requeued":1' \
    "the reaper's log line"
fq_pass
