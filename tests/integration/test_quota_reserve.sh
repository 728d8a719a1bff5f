#!/usr/bin/env bash
# A class' reserve of the burst headroom. The fleet may make 1 call/s with a
# burst of 10 (GROK_RATE_LIMIT_RPM=60, FLEETQ_RATE_BURST=10); a memory
# worker (x 16 slots) gets 20 tasks at once on an idle bucket, and 1.5 s
# later four ceo tasks arrive. Run twice on a fresh fleet:
#   FLEETQ_ROLE_MEMORY_RESERVE=0.6  memory may use only 40% of the headroom
#       above its one slot, so its first burst is 1 + 0.5 + 9 x 0.4 -> 5
#       calls, and the ceo tasks find the rest of the burst waiting for them:
#       all four start at once (well under one 1 s interval);
#   FLEETQ_ROLE_MEMORY_RESERVE=0    memory takes the whole burst (10 calls
#       and more: 11 with the half slot of slack), and the ceo tasks, though
#       preferred, get one slot a second: the last starts 3 s or more after
#       it was submitted.
. "$(dirname "$0")/lib.sh"

# The mock limits the key as a whole, so the roles' models share one rate
# (FLEETQ_LIMIT_SCOPE=key) and their classes contend for its burst.
export FLEETQ_LIMIT_SCOPE=key

# run_with_reserve R: prints "<memory calls in the first 0.8 s> <longest ceo wait, ms>"
run_with_reserve() {
    export FLEETQ_ROLE_MEMORY_RESERVE=$1
    fq_start_redis
    fq_start_mock --latency-ms 100
    fq_start_coordinator
    fq_start_worker memory --concurrency 16
    fq_start_worker ceo --concurrency 4
    sleep 0.3

    fq_submit_n 20 mem memory
    sleep 1.5
    local i
    for i in 1 2 3 4; do
        printf 'XADD fleetq:submit * id ceo-%d role ceo prompt "ceo task %d"\n' "$i" "$i"
    done | fq_redis >/dev/null
    for i in 1 2 3 4; do
        fq_assert_eq "$(fq_redis BLPOP "fleetq:done:ceo-$i" 20 | tail -n 1)" done "ceo-$i"
    done
    sleep 0.5   # attempt rows reach SQLite in batches

    local first burst wait
    first=$(fq_sql "SELECT min($(fq_sql_ms started_at)) FROM attempts WHERE task_id GLOB 'mem-*'")
    burst=$(fq_sql "SELECT count(*) FROM attempts WHERE task_id GLOB 'mem-*'
                      AND $(fq_sql_ms started_at) < $first + 800")
    wait=$(fq_sql "SELECT max(w) FROM (SELECT min($(fq_sql_ms a.started_at)) - $(fq_sql_ms t.submitted_at) AS w
                     FROM tasks t JOIN attempts a ON a.task_id = t.id
                    WHERE t.id GLOB 'ceo-*' GROUP BY t.id)")
    fq_log "memory reserve $1: memory burst $burst calls, longest ceo wait $wait ms"
    fq_reset_fleet
    echo "$burst $wait"
}

export GROK_RATE_LIMIT_RPM=60 FLEETQ_RATE_BURST=10 DAILY_BUDGET_USD=0

read -r burst wait < <(run_with_reserve 0.6)
fq_assert_ge "$burst" 4 "memory calls in its first burst with a 0.6 reserve"
fq_assert_le "$burst" 6 "memory calls in its first burst with a 0.6 reserve"
# the reserved headroom lets all four ceo tasks go at once
fq_assert_le "$wait" 700 "longest ceo wait with memory's reserve (ms)"

read -r burst wait < <(run_with_reserve 0)
fq_assert_ge "$burst" 9 "memory calls in its first burst without a reserve"
fq_assert_ge "$wait" 2500 "longest ceo wait without memory's reserve (ms)"

fq_pass
