#!/usr/bin/env bash
# The response cache: a request asked before is answered from Redis,
# without a call, quota or budget.
#
# (a) A temperature-0 task, then the same task again: the second ends
#     `done` with the first's output, an attempt `cached` (no call at the
#     mock, whose request log holds one request), cost 0, cached_from the
#     first; the budget spent and the quota's grants do not move; /metrics
#     and `fleetqctl status` count one hit, one miss and the USD saved.
# (b) A change in any one of model, prompt, system, max_tokens,
#     temperature, top_p, seed or stop is another request: each is a call.
#     `cache false` calls even at temperature 0; a task at temperature 0.7
#     is not cached unless it says `cache true`.
# (c) Two identical tasks at once make one call: the second waits for the
#     first's answer.
# (d) FLEETQ_CACHE_TTL: after it, the same request is a call again.
# (e) FLEETQ_CACHE_MAX_MB bounds the cache: 200 answers of about 8 KB with
#     a 1 MB bound leave at most 1 MB of answers.
# (f) FLEETQ_CACHE=off: nothing is cached.
. "$(dirname "$0")/lib.sh"

export GROK_RATE_LIMIT_RPM=0 FLEETQ_RECALL_K=0
log="$FQ_TMP/requests.jsonl"

start_fleet() {
    fq_start_redis
    rm -f "$log"
    fq_start_mock --request-log "$log" --completion-tokens 60
    fq_start_coordinator
    fq_start_worker code --concurrency 4
}
calls() { if [ -f "$log" ]; then wc -l <"$log"; else echo 0; fi; }
metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
submit_wait() { # id fields...
    local id=$1; shift
    fq_submit id "$id" role code "$@" >/dev/null
    fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id='$id'" 1
}

# ---------------------------------------------------------------------------
fq_log "(a) the same temperature-0 task twice"
export DAILY_BUDGET_USD=10
start_fleet
submit_wait a1 prompt "explain the cache" temperature 0 max_tokens 200
fq_assert_eq "$(calls)" 1 "calls after the first task"
spent=$(fq_redis HGET fleetq:quota budget_spent_ticks)
cost1=$(fq_sql "SELECT cost_ticks FROM tasks WHERE id='a1'")
fq_assert_ge "$cost1" 1 "the first task's cost"
submit_wait a2 prompt "explain the cache" temperature 0 max_tokens 200
fq_assert_eq "$(calls)" 1 "calls after the repeat (answered from the cache)"
fq_assert_eq "$(fq_sql "SELECT status, cost_ticks, cost_usd, cached_from, attempts FROM tasks WHERE id='a2'")" \
    "done|0|0.0|a1|1" "the repeat's row"
fq_assert_eq "$(fq_sql "SELECT output FROM tasks WHERE id='a2'")" \
    "$(fq_sql "SELECT output FROM tasks WHERE id='a1'")" "the repeat's output is the first's"
fq_assert_eq "$(fq_sql "SELECT outcome, http_status IS NULL, model FROM attempts WHERE task_id='a2'")" \
    "cached|1|grok-code-fast-1" "the repeat's attempt"
fq_assert_eq "$(fq_redis HGET fleetq:quota budget_spent_ticks)" "$spent" "budget spent after the hit"
fq_assert_eq "$(jq .ok <<<"$(fq_mock_stats)")" 1 "answers the provider gave"
fq_fresh_snapshot
fq_assert_eq "$(metric fleetq_cache_hits_total)" 1 "fleetq_cache_hits_total"
fq_assert_eq "$(metric fleetq_cache_misses_total)" 1 "fleetq_cache_misses_total"
saved=$(metric fleetq_cache_saved_usd_total)
fq_assert_eq "$(awk -v s="$saved" -v t="$cost1" 'BEGIN { print (s * 1e10 - t < 1 && t - s * 1e10 < 1) ? "same" : s }')" \
    same "USD saved is the first call's cost"
fq_assert_eq "$(metric fleetq_cache_entries)" 1 "answers in the cache"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM errors")" 0 "a cached attempt is no error"
fq_ctl status
fq_assert_contains "$CTL_OUT" "cache" "fleetqctl status has a cache line"
fq_assert_contains "$CTL_OUT" "1 hit" "fleetqctl status counts the hit"
fq_ctl status --json
fq_assert_eq "$(jq -c '[.cache.hits, .cache.misses, .cache.entries]' <<<"$CTL_OUT")" "[1,1,1]" \
    "fleetqctl status --json cache"

# ---------------------------------------------------------------------------
fq_log "(b) one parameter changed is another request"
base=(prompt "explain the cache" temperature 0 max_tokens 200)
before=$(calls)
submit_wait b1 prompt "explain the cache!" temperature 0 max_tokens 200
submit_wait b2 "${base[@]}" system "be brief"
submit_wait b3 prompt "explain the cache" temperature 0 max_tokens 201
submit_wait b4 "${base[@]}" model grok-3
submit_wait b5 "${base[@]}" top_p 0.5
submit_wait b6 "${base[@]}" seed 7
submit_wait b7 prompt "explain the cache" max_tokens 200 temperature 0.7 cache true
submit_wait b8 "${base[@]}" cache false
submit_wait b9 prompt "explain the cache" max_tokens 200 temperature 0.7
submit_wait b10 prompt "explain the cache" max_tokens 200 temperature 0.7
submit_wait b11 "${base[@]}" model grok-3 stop END
fq_assert_eq "$(( $(calls) - before ))" 11 "calls for 11 tasks that each differ (or opt out)"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'b%' AND cached_from IS NULL")" 11 \
    "none of them answered from the cache"
submit_wait b12 prompt "explain the cache" max_tokens 200 temperature 0.7 cache true
fq_assert_eq "$(fq_sql "SELECT cached_from FROM tasks WHERE id='b12'")" b7 \
    "cache true at temperature 0.7 reuses b7's answer"
submit_wait b13 "${base[@]}" seed 7
fq_assert_eq "$(fq_sql "SELECT cached_from FROM tasks WHERE id='b13'")" b6 "the same seed hits"
fq_assert_eq "$(( $(calls) - before ))" 11 "no call for the two repeats"

# ---------------------------------------------------------------------------
fq_log "(c) two identical tasks at once"
before=$(calls)
fq_mock_config '{"latency_ms": 1500}'
fq_redis XADD fleetq:submit '*' id c1 role code prompt "at once" temperature 0 >/dev/null
fq_redis XADD fleetq:submit '*' id c2 role code prompt "at once" temperature 0 >/dev/null
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id IN ('c1','c2') AND status='done'" 2
fq_assert_eq "$(( $(calls) - before ))" 1 "calls for two identical tasks at once"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id IN ('c1','c2') AND cached_from IS NOT NULL")" \
    1 "one of them answered from the other's call"
fq_assert_eq "$(fq_redis HKEYS 'fleetq:{q}:cache:meta' | grep -c '^p:' || true)" 0 \
    "no request left marked as in flight"
fq_mock_config '{"latency_ms": 0}'
fq_reset_fleet

# ---------------------------------------------------------------------------
fq_log "(d) FLEETQ_CACHE_TTL=2"
export FLEETQ_CACHE_TTL=2
start_fleet
submit_wait d1 prompt "short lived" temperature 0
submit_wait d2 prompt "short lived" temperature 0
fq_assert_eq "$(fq_sql "SELECT cached_from FROM tasks WHERE id='d2'")" d1 "a repeat within the ttl"
sleep 2.5
submit_wait d3 prompt "short lived" temperature 0
fq_assert_eq "$(fq_sql "SELECT coalesce(cached_from, 'called') FROM tasks WHERE id='d3'")" called \
    "a repeat after the ttl"
fq_assert_eq "$(calls)" 2 "calls: the first and the one after the ttl"
ttl=$(fq_redis PTTL 'fleetq:{q}:cache')
fq_assert_le "$ttl" 2000 "the cache keys expire with the ttl"
fq_assert_ge "$ttl" 1 "the cache keys expire with the ttl"
unset FLEETQ_CACHE_TTL
fq_reset_fleet

# ---------------------------------------------------------------------------
fq_log "(e) FLEETQ_CACHE_MAX_MB=1 with 200 answers of about 8 KB"
export FLEETQ_CACHE_MAX_MB=1
fq_start_redis
rm -f "$log"
fq_start_mock --completion-tokens 2000
fq_start_coordinator
fq_start_worker code --concurrency 16
fq_submit_n 200 e code temperature 0 max_tokens 2000
fq_wait_sql 120 "SELECT count(*) FROM tasks WHERE status='done'" 200
bytes=$(fq_redis HGET 'fleetq:{q}:cache:meta' bytes)
entries=$(fq_redis HLEN 'fleetq:{q}:cache')
fq_log "cache: $entries answers, $bytes bytes"
fq_assert_le "$bytes" 1048576 "bytes of answers held"
fq_assert_ge "$bytes" 700000 "the bound is used, not emptied"
fq_assert_le "$entries" 199 "answers held"
fq_assert_eq "$(fq_redis ZCARD 'fleetq:{q}:cache:index')" "$entries" "the index matches the answers"
unset FLEETQ_CACHE_MAX_MB
fq_reset_fleet

# ---------------------------------------------------------------------------
fq_log "(f) FLEETQ_CACHE=off"
export FLEETQ_CACHE=off
start_fleet
submit_wait f1 prompt "never cached" temperature 0
submit_wait f2 prompt "never cached" temperature 0
fq_assert_eq "$(calls)" 2 "calls with the cache off"
fq_assert_eq "$(fq_redis EXISTS 'fleetq:{q}:cache')" 0 "no cache key"
unset FLEETQ_CACHE
fq_reset_fleet

fq_pass
