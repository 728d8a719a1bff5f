#!/usr/bin/env bash
# test_limits.sh -- the fleet's limits and budget have one source of truth,
# fleetq:limits in Redis:
#   (a) the coordinator publishes its environment; workers started with a
#       different GROK_RATE_LIMIT_RPM and DAILY_BUDGET_USD obey it instead
#       (say so once in their log), never reset what the quota learned
#       about the provider, and all hold the one budget;
#   (b) `fleetqctl limits set` takes effect fleet-wide within a second, and
#       a change of the ceiling keeps the learned rate where it applies;
#   (c) the coordinator's SIGHUP publishes its environment again; a worker
#       that finds no limits at all fills them from its own.
. "$(dirname "$0")/lib.sh"

model=grok-code-fast-1
limits_is() { [ "$(fq_redis HGET fleetq:limits "$1")" = "$2" ]; }
# the learned rate of the model, sampled every 50 ms into FILE until killed
sample_rates() {
    while :; do
        redis-cli -p "$FQ_REDIS_PORT" HMGET "fleetq:quota:$model" rate_per_s rpm_ceiling \
            2>/dev/null | paste -sd' ' >>"$1" || true
        sleep 0.05
    done
}

# ---- (a) workers with other settings ------------------------------------------
fq_log "(a) workers whose environment disagrees with the fleet's"
fq_start_redis
fq_start_mock --rate-limit 5 --window-ms 1000 --latency-ms 20
export GROK_RATE_LIMIT_RPM=600 DAILY_BUDGET_USD=0.01 FLEETQ_ON_BUDGET=fail GROK_MAX_RETRIES=10
fq_start_coordinator
fq_wait_for 5 limits_is rpm 600 || fq_fail "the coordinator did not publish the limits"
fq_assert_eq "$(fq_redis HGET fleetq:limits daily_budget_usd)" 0.01 "the budget in fleetq:limits"
fq_assert_contains "$(fq_redis HGET fleetq:limits published_by)" coordinator "who published"
fq_start_worker code --concurrency 4
GROK_RATE_LIMIT_RPM=1200 DAILY_BUDGET_USD=100 fq_start_worker code --concurrency 4
GROK_RATE_LIMIT_RPM=2400 DAILY_BUDGET_USD=0 fq_start_worker code --concurrency 4
sample_rates "$FQ_TMP/rates.txt" &
sampler=$!
FQ_PIDS+=("$sampler")
fq_submit_n 120 a code max_tokens 50
deadline=$(( $(date +%s) + 60 ))
until [ "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'a-%'" 2>/dev/null)" = 120 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fq_fail "(a) 120 tasks did not end in 60 s"
    sleep 0.2
done
kill "$sampler" 2>/dev/null || true
ceilings=$(awk 'NF == 2 { print $2 }' "$FQ_TMP/rates.txt" | sort -u | xargs)
fq_assert_eq "$ceilings" 600 "(a) the ceiling the quota used while workers with 1200 and 2400 called"
high=$(awk 'NF == 2 && $1 > m { m = $1 } END { printf "%.3f", m }' "$FQ_TMP/rates.txt")
learned_high=$(awk 'NF == 2 { if (seen && $1 > m) m = $1; if ($1 < 9) seen = 1 } END { printf "%.3f", m + 0 }' "$FQ_TMP/rates.txt")
decreases=$(fq_mquota $model decreases)
limited=$(jq .rate_limited <<<"$(fq_mock_stats)")
fq_log "(a) ceilings seen: $ceilings; highest rate $high, highest after the first decrease $learned_high; decreases $decreases; 429s $limited"
# once learned (under 9/s), the rate never went back to a ceiling (10/s)
awk -v v="$learned_high" 'BEGIN { exit !(v < 9.5) }' ||
    fq_fail "(a) the learned rate went back up to $learned_high after it had learned 5/s"
for n in 2 3; do
    fq_assert_contains "$(grep 'limits.differ' "$FQ_TMP/worker-code.log" | sed -n "$((n - 1))p")" \
        "GROK_RATE_LIMIT_RPM: this process" "(a) the warning of worker $n"
done
fq_assert_eq "$(grep -c 'limits.differ' "$FQ_TMP/worker-code.log")" 2 "(a) warnings (once per disagreeing worker)"
fq_assert_contains "$(grep 'limits.differ' "$FQ_TMP/worker-code.log")" "DAILY_BUDGET_USD: this process 100, the fleet 0.01" \
    "(a) the budget named in the warning"
spend=$(jq .spend_ticks <<<"$(fq_mock_stats)")
fq_assert_le "$spend" 100000000 "(a) the provider's spend (ticks) under the fleet's budget of \$0.01"
failed=$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'a-%' AND status = 'failed' AND error LIKE '%budget%'")
fq_log "(a) spend $spend ticks of 100000000; $failed tasks failed on the budget"
fq_assert_ge "$failed" 1 "(a) tasks failed on the fleet's budget (every worker held the one budget)"

# ---- (b) fleetqctl limits set ------------------------------------------------------
fq_reset_fleet
fq_log "(b) fleetqctl limits set, fleet-wide within a second"
fq_start_redis
fq_start_mock --latency-ms 10
export GROK_RATE_LIMIT_RPM=1200 DAILY_BUDGET_USD=0
unset FLEETQ_ON_BUDGET
fq_start_coordinator
for i in 1 2; do fq_start_worker code --concurrency 8; done
fq_submit_n 400 b code max_tokens 20
fq_wait_for 10 fq_mquota_is $model rpm_ceiling 1200 || fq_fail "(b) the model's ceiling is not 1200"
sleep 1
fq_ctl limits set $model rpm=120
fq_assert_eq "$CTL_RC" 0 "(b) limits set $model rpm=120: $CTL_ERR"
t0=$(date +%s%N)
fq_wait_for 2 fq_mquota_is $model rpm_ceiling 120 || fq_fail "(b) the new ceiling not in use after 2 s"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
fq_log "(b) the new ceiling was in use after $took ms"
fq_assert_le "$took" 1000 "(b) ms until the new ceiling was in use"
before=$(jq .requests <<<"$(fq_mock_stats)")
sleep 3
after=$(jq .requests <<<"$(fq_mock_stats)")
fq_log "(b) calls in the 3 s after the change: $((after - before)) (2/s allowed)"
fq_assert_le $((after - before)) 8 "(b) calls in 3 s at rpm=120"
fq_ctl limits
fq_assert_contains "$CTL_OUT" "$model" "(b) limits shows the model"
fq_ctl limits --json
fq_assert_eq "$(jq -r ".models[\"$model\"].rpm" <<<"$CTL_OUT")" 120 "(b) limits --json"
fq_ctl limits set budget abc
fq_assert_eq "$CTL_RC" 2 "(b) a bad budget"
fq_assert_eq "$(fq_redis HGET fleetq:limits daily_budget_usd)" 0 "(b) the budget after a bad value"

# ---- (c) SIGHUP, and no limits at all -------------------------------------------
fq_log "(c) the coordinator's SIGHUP, and a worker that finds no limits"
kill -HUP "$FQ_COORD_PID"
fq_wait_for 3 limits_is "model:$model:rpm" "" ||
    fq_fail "(c) SIGHUP did not publish the environment again"
fq_assert_eq "$(fq_redis HGET fleetq:limits rpm)" 1200 "(c) the environment's ceiling after SIGHUP"
fq_reset_fleet
fq_start_redis
fq_start_mock --latency-ms 5
GROK_RATE_LIMIT_RPM=300 fq_start_worker code --concurrency 2
fq_wait_for 5 limits_is rpm 300 || fq_fail "(c) the worker did not fill the limits"
fq_assert_contains "$(fq_redis HGET fleetq:limits published_by)" ":code" "(c) published by the worker"
fq_start_coordinator
fq_wait_for 5 limits_is rpm 1200 || fq_fail "(c) the coordinator's limits did not replace the worker's"
fq_submit id c-1 role code prompt hello >/dev/null
fq_assert_eq "$(fq_done_status c-1)" done "(c) a task with the coordinator's limits"
fq_pass
