#!/usr/bin/env bash
# GROK_RATE_LIMIT_RPH holds fleet-wide: with 20 requests per hour and 30
# tasks over three worker processes, the provider sees exactly 20 calls and
# the other tasks wait (nothing fails); a `critical` code task is served in
# the ceo class.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 5
export GROK_RATE_LIMIT_RPH=20 GROK_RATE_LIMIT_RPM=6000 DAILY_BUDGET_USD=0
fq_start_coordinator
for i in 1 2 3; do fq_start_worker code --concurrency 4; done

fq_submit_n 30 h code
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE status='done'" 20
sleep 2
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" 20 "calls the provider saw under RPH=20"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks")" 20 "rows (the rest still wait)"
fq_assert_eq "$(fq_quota rph_used)" 20 "rph_used in fleetq:quota"
waiting=0
for i in $(seq 1 30); do
    case "$(fq_redis HGET "fleetq:task:h-$i" status)" in
        queued|running|delayed|retrying) waiting=$((waiting + 1)) ;;
        done) ;;
        *) fq_fail "h-$i ended $(fq_redis HGET "fleetq:task:h-$i" status)" ;;
    esac
done
fq_assert_eq "$waiting" 10 "tasks still waiting for the hourly ceiling"

# critical priority lifts a task into the ceo class: its grant is counted
# for class 0 in the current share window.
fq_reset_fleet
fq_start_redis
fq_start_mock --latency-ms 5
export GROK_RATE_LIMIT_RPH=0 FLEETQ_RATE_WINDOW_MS=60000
fq_start_coordinator
fq_start_worker code --concurrency 1
fq_submit id urgent role code priority critical prompt "now" >/dev/null
fq_assert_eq "$(fq_redis BLPOP fleetq:done:urgent 20 | tail -n 1)" done "the critical task"
fq_assert_eq "$(fq_mquota grok-code-fast-1 grants:0)" 1 "grants of the ceo class"
fq_assert_eq "$(fq_mquota grok-code-fast-1 grants:1)" 0 "grants of the code class"
fq_pass
