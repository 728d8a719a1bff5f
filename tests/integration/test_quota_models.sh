#!/usr/bin/env bash
# test_quota_models.sh -- a quota per model, as providers enforce it (the
# mock limits each model on its own with --model-limits):
#   (a) a 429 storm on one model leaves another model's rate and calls
#       untouched;
#   (b) an outage of one model opens only its breaker;
#   (c) per-model ceilings from FLEETQ_MODEL_LIMITS hold;
#   (d) token 429s lower the model's token rate, request 429s its request
#       rate, each leaving the other alone; light load leaves a learned
#       token rate alone.
. "$(dirname "$0")/lib.sh"

fast=grok-code-fast-1      # the code role's model
slow=grok-4                # the ceo role's
export DAILY_BUDGET_USD=0 GROK_MAX_RETRIES=20 FLEETQ_BACKOFF_BASE_MS=100
mstat() { jq -r "$1" <<<"$(fq_mock_stats)"; }
# tasks of a prefix that ended done, in SQLite
done_n() { fq_sql "SELECT count(*) FROM tasks WHERE id LIKE '$1-%' AND status = 'done'"; }
wait_done() { # PREFIX N SECONDS
    local deadline=$(( $(date +%s) + $3 ))
    until [ "$(done_n "$1")" -ge "$2" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || fq_fail "$1: $(done_n "$1") of $2 done after $3 s"
        sleep 0.2
    done
}

# ---- (a) one model's 429 storm ------------------------------------------------
fq_log "(a) $slow limited to 2/s by the provider, $fast not limited, both under a 10/s ceiling"
fq_start_redis
fq_start_mock --model-limits "$slow:rate=2" --window-ms 1000 --latency-ms 20
export GROK_RATE_LIMIT_RPM=600
fq_start_coordinator
fq_start_worker ceo --concurrency 8
fq_start_worker code --concurrency 8
fq_submit_n 40 as ceo max_tokens 20
fq_submit_n 80 af code max_tokens 20
t0=$(date +%s%N)
wait_done af 80 30
fast_s=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
slow_429=$(mstat ".by_model[\"$slow\"].rate_limited")
fast_429=$(mstat ".by_model[\"$fast\"].rate_limited // 0")
fq_log "(a) $fast: 80 tasks in ${fast_s}s, rate $(fq_mquota $fast rate_per_s), decreases $(fq_mquota $fast decreases | sed 's/^$/0/'), 429s $fast_429; $slow: rate $(fq_mquota $slow rate_per_s), decreases $(fq_mquota $slow decreases), 429s $slow_429"
fq_assert_ge "$slow_429" 1 "(a) 429s of $slow"
fq_assert_ge "$(fq_mquota $slow decreases)" 1 "(a) decreases of $slow's rate"
awk -v r="$(fq_mquota $slow rate_per_s)" 'BEGIN { exit !(r < 3) }' ||
    fq_fail "(a) $slow's rate is $(fq_mquota $slow rate_per_s), expected under 3/s after its 429s"
fq_assert_eq "$fast_429" 0 "(a) 429s of $fast"
fq_assert_eq "$(fq_mquota $fast decreases | sed 's/^$/0/')" 0 "(a) decreases of $fast's rate"
fq_assert_eq "$(fq_mquota $fast rate_per_s)" 10.000 "(a) $fast's rate (its ceiling)"
fq_assert_eq "$(fq_mquota $fast frozen_until_ms | sed 's/^$/0/')" 0 "(a) freezes of $fast"
# and it ran at that ceiling: some 1 s window of the provider's held 10 of its calls
fq_assert_ge "$(mstat ".by_model[\"$fast\"].max_in_window")" 9 "(a) $fast's busiest 1 s window"
wait_done as 40 60

# ---- (b) one model's outage ------------------------------------------------------
fq_reset_fleet
fq_log "(b) every call of $slow fails with a 5xx; $fast answers"
fq_start_redis
fq_start_mock --latency-ms 5
export FLEETQ_BREAKER_THRESHOLD=3 FLEETQ_BREAKER_COOLDOWN_MS=60000
fq_start_coordinator
# the provider's outage of one model: its workers reach a mock that fails
ok_url=$XAI_BASE_URL
pf="$FQ_TMP/mock2.port"
"$FQ_BIN/mockapi/fleetq-mockapi" --port 0 --port-file "$pf" --key "$FQ_KEY" --fail-rate 1 \
    >"$FQ_TMP/mock2.log" 2>&1 &
FQ_PIDS+=("$!")
fq_wait_for 10 test -s "$pf" || fq_fail "the second mock did not start"
XAI_BASE_URL="http://127.0.0.1:$(cat "$pf")/v1" fq_start_worker ceo --concurrency 4
XAI_BASE_URL=$ok_url fq_start_worker code --concurrency 4
fq_submit_n 6 bs ceo
fq_wait_for 20 fq_mquota_is $slow breaker open || fq_fail "(b) $slow's breaker did not open"
fq_submit_n 30 bf code
wait_done bf 30 20
fq_assert_eq "$(fq_mquota $fast breaker)" closed "(b) $fast's breaker"
fq_assert_eq "$(fq_mquota $slow breaker)" open "(b) $slow's breaker"
fq_ctl status --json
fq_assert_eq "$(jq -r ".quota.models[\"$slow\"].breaker + \" \" + .quota.models[\"$fast\"].breaker" <<<"$CTL_OUT")" \
    "open closed" "(b) the breakers in status --json"
fq_fresh_snapshot
health=$(curl -s "http://127.0.0.1:$PORT/health")
fq_assert_eq "$(jq -r ".models[\"$slow\"].breaker + \" \" + .models[\"$fast\"].breaker" <<<"$health")" \
    "open closed" "(b) the breakers in /health"
curl -s "http://127.0.0.1:$PORT/metrics" >"$FQ_TMP/metrics.txt"
fq_assert_contains "$(cat "$FQ_TMP/metrics.txt")" "fleetq_breaker_state{model=\"$slow\"} 2" "(b) /metrics"
fq_assert_contains "$(cat "$FQ_TMP/metrics.txt")" "fleetq_breaker_state{model=\"$fast\"} 0" "(b) /metrics"
unset FLEETQ_BREAKER_THRESHOLD FLEETQ_BREAKER_COOLDOWN_MS

# ---- (c) per-model ceilings ----------------------------------------------------------
fq_reset_fleet
fq_log "(c) FLEETQ_MODEL_LIMITS=\"$slow:rpm=120;$fast:rpm=300\", the provider unlimited"
fq_start_redis
fq_start_mock --window-ms 1000 --model-limits "$slow:rate=1000;$fast:rate=1000" --latency-ms 5
export FLEETQ_MODEL_LIMITS="$slow:rpm=120;$fast:rpm=300" GROK_RATE_LIMIT_RPM=3000
fq_start_coordinator
fq_start_worker ceo --concurrency 8
fq_start_worker code --concurrency 8
fq_submit_n 16 cs ceo max_tokens 20
fq_submit_n 40 cf code max_tokens 20
wait_done cf 40 30
wait_done cs 16 30
fq_log "(c) busiest 1 s window: $slow $(mstat ".by_model[\"$slow\"].max_in_window"), $fast $(mstat ".by_model[\"$fast\"].max_in_window")"
fq_assert_le "$(mstat ".by_model[\"$slow\"].max_in_window")" 3 "(c) $slow's calls in any 1 s (rpm=120: 2/s)"
fq_assert_le "$(mstat ".by_model[\"$fast\"].max_in_window")" 6 "(c) $fast's calls in any 1 s (rpm=300: 5/s)"
fq_assert_ge "$(mstat ".by_model[\"$fast\"].max_in_window")" 4 "(c) $fast's calls in its busiest 1 s"
fq_assert_eq "$(fq_mquota $slow rpm_ceiling) $(fq_mquota $fast rpm_ceiling)" "120 300" "(c) the ceilings in use"
unset FLEETQ_MODEL_LIMITS

# ---- (d) token and request 429s ------------------------------------------------------
fq_reset_fleet
fq_log "(d) $fast's provider limits tokens (4000 per second), $slow's requests (3 per second)"
fq_start_redis
fq_start_mock --window-ms 1000 --model-limits "$fast:tokens=4000;$slow:rate=3" --latency-ms 20
export GROK_RATE_LIMIT_RPM=2880
fq_start_coordinator
fq_start_worker code --concurrency 16
fq_start_worker ceo --concurrency 8
fq_submit_n 150 df code max_tokens 200
fq_submit_n 30 ds ceo max_tokens 20
wait_done df 150 90
wait_done ds 30 60
fq_log "(d) $fast: token rate $(fq_mquota $fast tpm_rate)/min, token decreases $(fq_mquota $fast token_decreases), request decreases $(fq_mquota $fast decreases | sed 's/^$/0/'), 429s $(mstat ".by_model[\"$fast\"].rate_limited") (tokens $(mstat ".by_model[\"$fast\"].rate_limited_tokens")); $slow: rate $(fq_mquota $slow rate_per_s), decreases $(fq_mquota $slow decreases), token rate '$(fq_mquota $slow tpm_rate)'"
fq_assert_ge "$(mstat ".by_model[\"$fast\"].rate_limited_tokens")" 1 "(d) token 429s of $fast"
fq_assert_ge "$(fq_mquota $fast token_decreases)" 1 "(d) decreases of $fast's token rate"
[ -n "$(fq_mquota $fast tpm_rate)" ] || fq_fail "(d) $fast has no learned token rate"
fq_assert_eq "$(fq_mquota $fast decreases | sed 's/^$/0/')" 0 "(d) decreases of $fast's request rate"
fq_assert_eq "$(fq_mquota $fast rate_per_s)" 48.000 "(d) $fast's request rate (its ceiling)"
fq_assert_ge "$(fq_mquota $slow decreases)" 1 "(d) decreases of $slow's request rate"
fq_assert_eq "$(fq_mquota $slow tpm_rate)" "" "(d) $slow's token rate (none learned)"
# light load (2 calls a second, an eighth of the learned token rate) leaves
# it where it is: a rate raised unused would meet the provider's limit all
# at once (the first light call may still see the backlog's last window)
fq_submit id dl-0 role code prompt "light 0" max_tokens 200 >/dev/null
wait_done dl 1 10
at_light=$(fq_mquota $fast tpm_rate)
for i in $(seq 1 10); do fq_submit id "dl-$i" role code prompt "light $i" max_tokens 200 >/dev/null; sleep 0.5; done
wait_done dl 11 10
fq_assert_eq "$(fq_mquota $fast tpm_rate)" "$at_light" "(d) $fast's token rate after 5 s of light load"
fq_pass
