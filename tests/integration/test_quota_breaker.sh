#!/usr/bin/env bash
# The circuit breaker shared in Redis. Every call fails with a 5xx; with
# FLEETQ_BREAKER_THRESHOLD=5 and FLEETQ_BREAKER_COOLDOWN_MS=1000 the fleet
# (2 workers x 8 slots, 30 tasks, up to 20 retries each) must stop calling
# after a few failures and send only a probe now and then, instead of a
# call per task per back-off; fleetq:quota:grok-code-fast-1 shows breaker=open. Once the
# provider answers again a probe succeeds, the breaker closes and every
# task ends done.
. "$(dirname "$0")/lib.sh"

now() { date +%s.%N; }

threshold=5 cooldown_ms=1000 watch_s=6 latency_ms=20
fq_start_redis
fq_start_mock --fail-rate 1.0 --latency-ms "$latency_ms"
# The rate limit is set high so that only the breaker can hold the calls
# back; a short back-off makes the uncontrolled case a storm.
export FLEETQ_BREAKER_THRESHOLD=$threshold FLEETQ_BREAKER_COOLDOWN_MS=$cooldown_ms \
       GROK_MAX_RETRIES=20 GROK_RATE_LIMIT_RPM=6000 DAILY_BUDGET_USD=0 \
       FLEETQ_BACKOFF_BASE_MS=500 FLEETQ_BACKOFF_MAX_MS=2000
fq_start_coordinator
for i in 1 2; do fq_start_worker code --concurrency 8; done
sleep 0.3

n=30
t0=$(now)
fq_submit_n "$n" br code
sleep "$watch_s"
stats=$(fq_mock_stats)
t1=$(now)
calls=$(jq .requests <<<"$stats")
mc=$(jq .max_concurrent <<<"$stats")
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
# Before the breaker opens: the first threshold-1 failures, plus whatever
# was in flight when the threshold-th failure came back, which is at most
# the most calls ever open at once at the mock (max_concurrent). After it
# opens: one probe per cooldown at most (the cooldown only grows), so
# floor(elapsed / cooldown) + 1 probes.
probes=$(awk -v e="$elapsed" -v c="$cooldown_ms" 'BEGIN { printf "%d", e * 1000 / c + 1 }')
bound=$(( threshold - 1 + mc + probes ))
fq_log "outage: $calls calls in ${elapsed}s (max $mc open at once; bound $((threshold - 1)) + $mc + $probes probes = $bound); breaker=$(fq_mquota grok-code-fast-1 breaker) failures=$(fq_mquota grok-code-fast-1 breaker_failures) open_until=$(fq_mquota grok-code-fast-1 breaker_open_until_ms)"
fq_assert_le "$calls" "$bound" "calls during a total outage"
fq_assert_ge "$calls" "$threshold" "calls during a total outage (the threshold was reached)"
# open, or half_open for the length of a probe call
fq_wait_for 3 fq_mquota_is grok-code-fast-1 breaker open || fq_fail "breaker is '$(fq_mquota grok-code-fast-1 breaker)', expected open"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks")" 0 "tasks ended during the outage"

# The provider is back: the next probe succeeds and closes the breaker.
# Its cooldown may have doubled to 8 s by now, hence the 15 s.
fq_mock_config '{"fail_rate": 0}' || fq_fail "POST /mock/config refused fail_rate"
t2=$(now)
fq_wait_for 15 fq_mquota_is grok-code-fast-1 breaker closed || fq_fail "breaker is '$(fq_mquota grok-code-fast-1 breaker)' 15 s after the provider recovered, expected closed"
fq_log "breaker closed $(awk -v a="$t2" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')s after the provider recovered"
fq_wait_sql 40 "SELECT count(*) FROM tasks WHERE status='done'" "$n"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks")" "$n" "task rows"
fq_log "all $n done $(awk -v a="$t2" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')s after recovery; provider calls in all: $(jq .requests <<<"$(fq_mock_stats)"), failed attempts $(fq_sql "SELECT count(*) FROM attempts WHERE outcome <> 'ok'")"
fq_pass
