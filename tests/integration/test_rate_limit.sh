#!/usr/bin/env bash
# With GROK_RATE_LIMIT_RPM set and several worker processes, a provider that
# enforces RPM/60 per second (and advertises far more) answers (almost) no
# 429s, and the fleet still uses most of that rate.
. "$(dirname "$0")/lib.sh"

# The mock limits the key as a whole (one window for every model), as some
# providers do: FLEETQ_LIMIT_SCOPE=key is the quota for that.
export FLEETQ_LIMIT_SCOPE=key

rps=10
fq_start_redis
fq_start_mock --latency-ms 20 --jitter-ms 60 --rate-limit "$rps" --window-ms 1000 \
    --advertised-limit 480
export GROK_RATE_LIMIT_RPM=$((rps * 60)) DAILY_BUDGET_USD=0 FLEETQ_BACKOFF_BASE_MS=200
fq_start_coordinator
for i in 1 2 3; do fq_start_worker code --concurrency 6; done
fq_start_worker quality --concurrency 6

n=150
fq_submit_n "$n" p "quality code code"

fq_wait_sql 120 "SELECT count(*) FROM tasks WHERE status='done'" "$n"

stats=$(fq_mock_stats)
calls=$(jq .requests <<<"$stats")
limited=$(jq .rate_limited <<<"$stats")
peak=$(jq .max_in_window <<<"$stats")
fq_log "calls=$calls 429s=$limited busiest 1 s window=$peak (limit $rps)"
# (almost) none: at most 2% of the calls
fq_assert_le $((limited * 100)) $((calls * 2)) "429s as a share of calls (percent x calls)"
# most of the rate: the busiest second reached at least 80% of the limit
fq_assert_ge $((peak * 10)) $((rps * 8)) "busiest window (x10) against 80% of the limit"
# and no window ever went over what the provider allows
fq_assert_le "$peak" "$rps" "admitted calls in any 1 s window"
fq_pass
