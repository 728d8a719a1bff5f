#!/usr/bin/env bash
# The fleet-wide limits of the quota, each held across several worker
# processes that share nothing but Redis, each on a fresh Redis, mock and
# coordinator:
#   (a) GROK_RATE_LIMIT_RPM: no 1 s window at the provider sees more than
#       RPM/60 calls, and the run takes as long as that pace demands;
#   (b) FLEETQ_MAX_INFLIGHT: never more calls open at the provider than the cap;
#   (c) the in-flight slot of a SIGKILLed worker frees itself once its lease
#       (FLEETQ_LEASE_SECONDS) runs out, so another worker's task completes;
#   (d) GROK_RATE_LIMIT_TPM: the tokens the provider counts stay within the
#       token bucket (full at the start, refilled at TPM per minute);
#   (e) the same when calls use more than their estimate (a reasoning model
#       bills reasoning tokens on top of max_tokens): the bucket is settled
#       to the real usage, so the overrun is bounded by the calls in flight.
. "$(dirname "$0")/lib.sh"

now() { date +%s.%N; }
# le A B: A <= B for decimals
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }

# run_all PREFIX: submits $n code tasks, waits until all are done, and
# sets elapsed (seconds, from the first submission).
run_all() {
    local t0 t1
    t0=$(now)
    fq_submit_n "$n" "$1" code
    fq_wait_sql 60 "SELECT count(*) FROM tasks WHERE status='done'" "$n"
    t1=$(now)
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# tpm_run PREFIX MODEL: submits $n tasks of $prompt on MODEL, lets the fleet
# work for 10 s, and sets elapsed, tokens (as the provider counted them)
# and calls.
tpm_run() {
    local t0 t1 stats
    t0=$(now)
    for i in $(seq 1 "$n"); do
        printf 'XADD fleetq:submit * id %s-%d role code model %s system s max_tokens 200 prompt %s\n' \
            "$1" "$i" "$2" "$prompt"
    done | fq_redis >/dev/null
    sleep 10
    stats=$(fq_mock_stats)
    t1=$(now)
    elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    tokens=$(jq '.prompt_tokens + .completion_tokens + .reasoning_tokens' <<<"$stats")
    calls=$(jq .requests <<<"$stats")
}

export DAILY_BUDGET_USD=0 FLEETQ_LOG_LEVEL=info

# ---------------------------------------------------------------------------
# (a) RPM held fleet-wide: 600 RPM is 10 calls per second, adaptive off.
fq_log "(a) GROK_RATE_LIMIT_RPM=600 over 3 worker processes"
fq_start_redis
fq_start_mock --rate-limit 100 --window-ms 1000 --latency-ms 10 --jitter-ms 30
export GROK_RATE_LIMIT_RPM=600 FLEETQ_ADAPTIVE=false
fq_start_coordinator
for i in 1 2 3; do fq_start_worker code --concurrency 4; done
sleep 0.3

n=60
run_all rpm
stats=$(fq_mock_stats)
peak=$(jq .max_in_window <<<"$stats")
calls=$(jq .requests <<<"$stats")
workers=$(fq_sql "SELECT count(DISTINCT worker) FROM attempts")
fq_log "(a) $n tasks in ${elapsed}s, $calls calls, busiest 1 s window at the mock=$peak, workers calling=$workers, rate_per_s=$(fq_mquota grok-code-fast-1 rate_per_s)"
# The limiter grants one slot every 100 ms on Redis' clock. The mock counts
# arrivals in a sliding window (t-1000 ms, t]; grants spaced exactly 100 ms
# apart put 10 in such a window, but each call reaches the mock after a
# slightly different delay (claim, Lua reply, HTTP send), so one window may
# catch an 11th arrival that was granted just over 1000 ms after the first.
# Hence the +1, and no more.
fq_assert_le "$peak" 11 "calls in the busiest 1 s window at the provider (10 + 1 for arrival jitter)"
# 60 calls at 10/s: even with a first window full at once, (n-10)/10 s.
le "$(( (n - 10) / 10 ))" "$elapsed" || fq_fail "(a) $n calls at 10/s took ${elapsed}s, expected at least $(( (n - 10) / 10 ))s"
fq_assert_eq "$calls" "$n" "(a) calls: one per task, nothing refused"
fq_assert_eq "$workers" 3 "(a) worker processes that made calls"
fq_assert_eq "$(fq_mquota grok-code-fast-1 rpm_ceiling)" 600 "(a) rpm_ceiling in fleetq:quota:grok-code-fast-1"
le "$(fq_mquota grok-code-fast-1 rate_per_s)" 10.0001 && le 9.9999 "$(fq_mquota grok-code-fast-1 rate_per_s)" ||
    fq_fail "(a) FLEETQ_ADAPTIVE=false: rate_per_s should stay 10, got '$(fq_mquota grok-code-fast-1 rate_per_s)'"
fq_reset_fleet

# ---------------------------------------------------------------------------
# (b) In-flight cap: 3 workers x 4 slots, at most 3 calls open at once.
fq_log "(b) FLEETQ_MAX_INFLIGHT=3 over 3 workers x 4"
fq_start_redis
fq_start_mock --latency-ms 300
export GROK_RATE_LIMIT_RPM=6000 FLEETQ_MAX_INFLIGHT=3
unset FLEETQ_ADAPTIVE
fq_start_coordinator
for i in 1 2 3; do fq_start_worker code --concurrency 4; done
sleep 0.3
n=30
run_all inf
stats=$(fq_mock_stats)
mc=$(jq .max_concurrent <<<"$stats")
fq_log "(b) $n tasks in ${elapsed}s, max concurrent at the mock=$mc, inflight now=$(fq_quota inflight)"
fq_assert_le "$mc" 3 "(b) calls open at once at the provider"
fq_assert_ge "$mc" 2 "(b) calls open at once (the cap is used, not serialised)"
fq_wait_for 5 fq_quota_is inflight 0 || fq_fail "(b) inflight after the run: '$(fq_quota inflight)', expected 0"
fq_reset_fleet

# ---------------------------------------------------------------------------
# (c) A dead worker's slot: cap 1, 4 s calls, 5 s lease. Worker A holds the
# slot mid-call and is killed; worker B's task must run once the slot's
# lease has run out: within lease + one call + a margin of the kill.
fq_log "(c) FLEETQ_MAX_INFLIGHT=1: a SIGKILLed worker's slot frees itself"
lease=5 latency_ms=4000
fq_start_redis
fq_start_mock --latency-ms "$latency_ms"
export FLEETQ_MAX_INFLIGHT=1 FLEETQ_LEASE_SECONDS=$lease
fq_start_coordinator
fq_start_worker code --concurrency 1
worker_a=$FQ_LAST_PID
fq_submit role code id held prompt "its worker will die" >/dev/null
fq_wait_for 10 fq_mock_inflight_is 1 ||
    fq_fail "(c) the first call never reached the mock"
fq_assert_eq "$(fq_quota inflight)" 1 "(c) inflight while A calls"
fq_start_worker code --concurrency 1
fq_submit role code id waiter prompt "waits for the slot" >/dev/null
fq_wait_for 10 fq_status_is waiter running ||
    fq_fail "(c) worker B did not claim its task: status '$(fq_redis HGET fleetq:task:waiter status)'"
sleep 0.5
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" 1 "(c) calls while A holds the only slot"
kill -KILL "$worker_a"
wait "$worker_a" 2>/dev/null || true
t_kill=$(now)
# lease (5 s, counted from A's last heartbeat, at most lease after the kill)
# + one 4 s call + 3 s for the reaper, the wake-up and a loaded machine
bound=$(( lease + latency_ms / 1000 + 3 ))
got=$(fq_redis BLPOP fleetq:done:waiter $((bound + 10)) | tail -n 1)
t_done=$(now)
took=$(awk -v a="$t_kill" -v b="$t_done" 'BEGIN { printf "%.2f", b - a }')
fq_log "(c) B's task ended '$got' ${took}s after the kill (bound ${bound}s)"
fq_assert_eq "$got" done "(c) B's task after A died holding the slot"
le "$took" "$bound" || fq_fail "(c) B's task took ${took}s after the kill, expected at most ${bound}s (lease $lease + call ${latency_ms} ms + 3)"
# the orphaned task itself comes back through the task lease and runs too
got=$(fq_redis BLPOP fleetq:done:held 30 | tail -n 1)
fq_assert_eq "$got" done "(c) the dead worker's task, handed on"
fq_assert_eq "$(jq .max_concurrent <<<"$(fq_mock_stats)")" 1 "(c) calls open at once at the provider"
fq_wait_for 5 fq_quota_is inflight 0 || fq_fail "(c) inflight at the end: '$(fq_quota inflight)', expected 0"
fq_reset_fleet

# ---------------------------------------------------------------------------
# (d) TPM. Each task: system "s", a 396-byte prompt, max_tokens 200, and the
# mock answers exactly 200 completion tokens and no reasoning on grok-3.
# The worker reserves (1 + 396) / 4 + 200 = 299 tokens; the mock counts
# ceil(bytes / 4) + 3 per message: 4 + 102 prompt + 200 = 306. So a call
# costs 306 and may exceed its reservation by at most 7 (10 allowed) until
# it settles.
#
# The bucket holds TPM tokens at the start and refills at TPM/60 per second,
# so after `elapsed` seconds the provider may have counted at most
#     TPM + TPM * elapsed / 60 + concurrency * 10
# (the last term: calls in flight, over their reservation by up to 10).
fq_log "(d) GROK_RATE_LIMIT_TPM=12000"
tpm=12000 conc_total=8
fq_start_redis
fq_start_mock --latency-ms 20 --completion-tokens 200 --reasoning-tokens 0
export GROK_RATE_LIMIT_TPM=$tpm GROK_RATE_LIMIT_RPM=6000 FLEETQ_MAX_INFLIGHT=0
fq_start_coordinator
for i in 1 2; do fq_start_worker code --concurrency 4; done
sleep 0.3
prompt=$(printf 'x%.0s' $(seq 1 396))
n=100
tpm_run tpm grok-3
limit=$(awk -v t="$tpm" -v e="$elapsed" -v c="$conc_total" 'BEGIN { printf "%d", t + t * e / 60 + c * 10 }')
fq_log "(d) ${elapsed}s: $calls calls, $tokens tokens at the provider (bound $limit), tpm_tokens=$(fq_mquota grok-code-fast-1 tpm_tokens)"
fq_assert_le "$tokens" "$limit" "(d) tokens counted by the provider, TPM + TPM*elapsed/60 + in flight"
# the bucket is used, not left idle: at least its first fill
fq_assert_ge "$tokens" $((tpm * 8 / 10)) "(d) tokens counted by the provider (progress)"
fq_assert_le "$calls" $((n - 1)) "(d) calls: the limit held some tasks back"
fq_reset_fleet

# ---------------------------------------------------------------------------
# (e) Real usage above the estimate. The same tasks on grok-4-fast, a
# reasoning model, and the mock adds 200 reasoning tokens to each answer:
# the worker still reserves 299 (prompt bytes / 4 + max_tokens), the
# provider counts 4 + 102 + 200 + 200 = 506. Settling to the real usage
# takes the 207 extra out of the bucket, so the only overrun is that of
# the calls still in flight:
#     TPM + TPM * elapsed / 60 + concurrency * 207
# Without the settlement every call would overrun by 207, without bound.
fq_log "(e) GROK_RATE_LIMIT_TPM=12000, calls using more than their estimate"
fq_start_redis
fq_start_mock --latency-ms 20 --completion-tokens 200 --reasoning-tokens 200
fq_start_coordinator
for i in 1 2; do fq_start_worker code --concurrency 4; done
sleep 0.3
tpm_run tpmr grok-4-fast
per_call=$(awk -v t="$tokens" -v c="$calls" 'BEGIN { printf "%d", c ? t / c : 0 }')
limit=$(awk -v t="$tpm" -v e="$elapsed" -v c="$conc_total" 'BEGIN { printf "%d", t + t * e / 60 + c * 207 }')
fq_log "(e) ${elapsed}s: $calls calls, $tokens tokens at the provider ($per_call a call; bound $limit), tpm_tokens=$(fq_mquota grok-code-fast-1 tpm_tokens)"
fq_assert_eq "$per_call" 506 "(e) tokens the provider counts per call"
fq_assert_le "$tokens" "$limit" "(e) tokens counted by the provider, TPM + TPM*elapsed/60 + in flight x 207"
fq_assert_ge "$tokens" $((tpm * 8 / 10)) "(e) tokens counted by the provider (progress)"
fq_pass
