#!/usr/bin/env bash
# Any OpenAI-compatible server, with fleetq-mockapi in OpenAI's shapes
# (--error-style openai):
#   (a) replies without usage, plain and (b) streamed: every task done after
#       one call, its tokens marked estimated, within 30% of the mock's own
#       counts, priced and counted in /metrics;
#   (c) "Request too large" among ordinary tasks: those fail after one call
#       with the provider's reason, the others finish, the fleet's rate is
#       left alone;
#   (d) insufficient_quota: the fleet pauses within two calls, no task
#       fails, and it resumes by itself once the provider answers again;
#   (e) errors inside a 200 stream: retried as their code says; a lone 429
#       among them, at light load, costs a short freeze and not the rate;
#   (f) a server that needs no key, and a key-less worker: no
#       Authorization header is sent;
#   (g) a configured model the provider does not list is named in one
#       warning; a provider without GET /v1/models gets none;
#   (h) a model fleetq has no price for (another provider's) keeps a quota
#       state of its own, under its own name.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 5 --error-style openai --no-usage --request-token-limit 2000
export GROK_RATE_LIMIT_RPM=1200 DAILY_BUDGET_USD=0 FLEETQ_PAUSE_PROBE_SECONDS=1
fq_start_coordinator
fq_start_worker code --concurrency 4
worker=$FQ_LAST_PID
model=grok-code-fast-1

mock_stat() { jq -r "$1" <<<"$(fq_mock_stats)"; }
stop_worker() { kill -TERM "$worker"; wait "$worker" || true; }
# a counter of the model's quota state, 0 when absent
mcount() { local v; v=$(fq_mquota "$model" "$1"); echo "${v:-0}"; }

# within30 ESTIMATE ACTUAL WHAT
within30() {
    fq_assert_le "$(( ($1 - $2) * ($1 - $2) * 100 ))" "$(( 9 * $2 * $2 ))" \
        "$3: estimate $1 against the provider's $2 (squared gap x100 <= 9 x actual^2)"
}

# estimated PREFIX N: N tasks PREFIX-* done after one call each, estimated,
# within 30% of what the mock counted
estimated() {
    local prefix=$1 n=$2
    fq_wait_sql 60 "SELECT count(*) FROM tasks WHERE id LIKE '$prefix-%' AND status = 'done'" "$n"
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE '$prefix-%'
                            AND attempts = 1 AND usage_estimated = 1 AND cost_ticks > 0")" "$n" \
        "($prefix) tasks done after one call, estimated and priced"
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE task_id LIKE '$prefix-%'
                            AND usage_estimated = 1 AND outcome = 'ok'")" "$n" "($prefix) attempts marked estimated"
    within30 "$(fq_sql "SELECT sum(prompt_tokens) FROM tasks WHERE id LIKE '$prefix-%'")" \
        "$(mock_stat .prompt_tokens)" "($prefix) prompt tokens"
    within30 "$(fq_sql "SELECT sum(completion_tokens) FROM tasks WHERE id LIKE '$prefix-%'")" \
        "$(mock_stat .completion_tokens)" "($prefix) completion tokens"
    fq_log "($prefix) $n done: prompt $(fq_sql "SELECT sum(prompt_tokens) FROM tasks WHERE id LIKE '$prefix-%'") estimated, $(mock_stat .prompt_tokens) counted; completion $(fq_sql "SELECT sum(completion_tokens) FROM tasks WHERE id LIKE '$prefix-%'") estimated, $(mock_stat .completion_tokens) counted"
}

# ---- (a) no usage, plain ----------------------------------------------------
fq_submit_n 20 plain code system terse max_tokens 200
estimated plain 20
fq_ctl result plain-1
fq_assert_contains "$CTL_OUT" "(estimated: the provider sent no usage)" "fleetqctl result"
fq_ctl result --json plain-1
fq_assert_eq "$(jq -r .usage_estimated <<<"$CTL_OUT")" true "fleetqctl result --json"
fq_fresh_snapshot
fq_assert_contains "$(curl -s "http://127.0.0.1:$PORT/metrics")" "fleetq_usage_estimated_total 20" "/metrics"

# ---- (b) no usage, streamed ------------------------------------------------
stop_worker
curl -sf -X POST "$FQ_MOCK_URL/mock/reset" >/dev/null
FLEETQ_STREAM=true fq_start_worker code --concurrency 4
worker=$FQ_LAST_PID
fq_submit_n 20 streamed code max_tokens 200
estimated streamed 20

# ---- (c) requests too large among ordinary ones ---------------------------
big=$(head -c 12000 /dev/zero | tr '\0' 'x')   # about 3000 tokens: over the mock's 2000
for i in 1 2 3; do fq_submit role code id "big-$i" prompt "$big" >/dev/null; done
fq_submit_n 20 small code
fq_wait_sql 60 "SELECT count(*) FROM tasks WHERE id LIKE 'small-%' AND status = 'done'" 20
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id LIKE 'big-%' AND status = 'failed'" 3
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE task_id LIKE 'big-%'")" 3 "(c) calls for the big tasks"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE task_id LIKE 'big-%' AND outcome = 'too_large'
                        AND http_status = 429")" 3 "(c) their outcome"
fq_assert_contains "$(fq_sql "SELECT error FROM tasks WHERE id = 'big-1'")" \
    "Request too large for $model" "(c) the provider's reason"
fq_assert_eq "$(mock_stat .request_too_large)" 3 "(c) refusals the mock made"
fq_assert_eq "$(mcount decreases)" 0 "(c) decreases of the fleet's rate"
fq_assert_eq "$(mcount rate_limited)" 0 "(c) rate limits counted"

# ---- (d) insufficient_quota: pause, nothing fails, resume ------------------
stop_worker
fq_mock_config '{"quota_exhausted": true}'
before=$(mock_stat .requests)
fq_start_worker code --concurrency 4
worker=$FQ_LAST_PID
fq_submit_n 10 quota code
fq_wait_for 20 fq_quota_is paused no_credits || fq_fail "(d) the fleet did not pause"
calls=$(( $(mock_stat .requests) - before ))
fq_log "(d) paused after $calls call(s)"
fq_assert_le "$calls" 2 "(d) calls before the fleet paused"
fq_assert_contains "$(fq_quota pause_reason)" "You exceeded your current quota" "(d) the pause's reason"
sleep 2   # a probe a second, each refused while the quota is spent
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'quota-%' AND status = 'failed'")" 0 \
    "(d) tasks failed while paused"
fq_mock_config '{"quota_exhausted": false}'
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id LIKE 'quota-%' AND status = 'done'" 10
fq_wait_for 10 fq_quota_is paused "" || fq_fail "(d) the pause was not lifted"

# ---- (e) errors inside a stream --------------------------------------------
stop_worker
FLEETQ_STREAM=true fq_start_worker code --concurrency 1
worker=$FQ_LAST_PID
fq_submit role code id warm prompt "warm up" >/dev/null
fq_assert_eq "$(fq_done_status warm 20)" "done" "(e) a call before"
sleep 1.5   # the fleet's history is past its first window, and nothing is refused
for status in 500 429; do
    fq_mock_config "{\"stream_error_rate\": 1, \"stream_error_status\": $status}"
    fq_submit role code id "event-$status" prompt "break off" max_attempts 3 >/dev/null
    fq_wait_sql 20 "SELECT count(*) FROM attempts WHERE task_id = 'event-$status'" 1
    fq_mock_config '{"stream_error_rate": 0}'
    fq_assert_eq "$(fq_done_status "event-$status" 20)" "done" "(e) a stream broken off by a $status event, retried"
done
fq_wait_sql 10 "SELECT count(*) FROM tasks WHERE id LIKE 'event-%'" 2
fq_assert_eq "$(fq_sql "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempts
                        WHERE task_id = 'event-500' ORDER BY n)")" "server_error,ok" "(e) the 500 event's attempts"
fq_assert_eq "$(fq_sql "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempts
                        WHERE task_id = 'event-429' ORDER BY n)")" "rate_limited,ok" "(e) the 429 event's attempts"
fq_assert_contains "$(fq_sql "SELECT error FROM attempts WHERE task_id = 'event-429' AND n = 1")" \
    "stream error rate_limit_exceeded" "(e) the event's reason"
# one 429 at light load: a short freeze, the learned rate untouched
fq_assert_eq "$(mcount lone_429s)" 1 "(e) lone 429s"
fq_assert_eq "$(mcount decreases)" 0 "(e) decreases of the fleet's rate"
fq_assert_eq "$(mcount token_decreases)" 0 "(e) decreases of the fleet's token rate"
fq_assert_eq "$(mcount rate_learned)" 0 "(e) a learned rate"
fq_assert_eq "$(mcount tpm_rate)" 0 "(e) a learned token rate"

# ---- (f) a server that needs no key ----------------------------------------
stop_worker
pf="$FQ_TMP/mock2.port"
"$FQ_BIN/mockapi/fleetq-mockapi" --port 0 --port-file "$pf" --no-auth --models "$model" \
    >"$FQ_TMP/mock2.log" 2>&1 &
FQ_PIDS+=("$!")
fq_wait_for 10 test -s "$pf" || fq_fail "the second mock did not start"
XAI_API_KEY=none XAI_BASE_URL="http://127.0.0.1:$(cat "$pf")/v1" fq_start_worker code
worker=$FQ_LAST_PID
fq_submit role code id keyless prompt "no key here" >/dev/null
fq_assert_eq "$(fq_done_status keyless 20)" "done" "(f) a task on a key-less server"
fq_assert_contains "$(grep worker.started "$FQ_TMP/worker-code.log" | tail -n 1)" '"key":"none' "(f) the worker says so"
# the same worker against a server that wants a key is refused: it sent none
stop_worker
XAI_API_KEY=none fq_start_worker memory
worker=$FQ_LAST_PID
fq_submit role memory id keyless-refused prompt "no key there" >/dev/null
fq_wait_for 20 fq_quota_is paused key_rejected || fq_fail "(f) a key-less call to a server that wants a key was not refused"
fq_assert_contains "$(fq_quota pause_reason)" "401" "(f) the refusal"
stop_worker

# ---- (g) the provider's models ---------------------------------------------
# the second mock lists only grok-code-fast-1: the quality role's grok-3-mini
# and its fallback are named, once each
XAI_BASE_URL="http://127.0.0.1:$(cat "$pf")/v1" FLEETQ_ROLE_QUALITY_FALLBACK="$model,grok-2" \
    fq_start_worker quality
worker=$FQ_LAST_PID
fq_wait_for 10 grep -q worker.started "$FQ_TMP/worker-quality.log" || fq_fail "(g) no start"
fq_assert_eq "$(grep -c '"event":"model.not_listed"' "$FQ_TMP/worker-quality.log")" 2 "(g) warnings"
fq_assert_contains "$(grep model.not_listed "$FQ_TMP/worker-quality.log" | head -n 1)" \
    '"model":"grok-3-mini","as":"the role'"'"'s model"' "(g) the role's model named"
fq_assert_contains "$(grep model.not_listed "$FQ_TMP/worker-quality.log" | tail -n 1)" \
    '"model":"grok-2","as":"a fallback"' "(g) the fallback named"
stop_worker
pf3="$FQ_TMP/mock3.port"
"$FQ_BIN/mockapi/fleetq-mockapi" --port 0 --port-file "$pf3" --key "$FQ_KEY" --no-models-endpoint \
    >"$FQ_TMP/mock3.log" 2>&1 &
FQ_PIDS+=("$!")
fq_wait_for 10 test -s "$pf3" || fq_fail "the third mock did not start"
: >"$FQ_TMP/worker-quality.log"
XAI_BASE_URL="http://127.0.0.1:$(cat "$pf3")/v1" fq_start_worker quality
worker=$FQ_LAST_PID
fq_wait_for 10 grep -q worker.started "$FQ_TMP/worker-quality.log" || fq_fail "(g) no start"
fq_assert_eq "$(grep -c model.not_listed "$FQ_TMP/worker-quality.log" || true)" 0 \
    "(g) warnings without the endpoint"
stop_worker

# ---- (h) a model without a price -------------------------------------------
pf4="$FQ_TMP/mock4.port"
"$FQ_BIN/mockapi/fleetq-mockapi" --port 0 --port-file "$pf4" --key "$FQ_KEY" --error-style openai \
    --models gpt-4o-mini >"$FQ_TMP/mock4.log" 2>&1 &
FQ_PIDS+=("$!")
fq_wait_for 10 test -s "$pf4" || fq_fail "the fourth mock did not start"
fq_ctl resume   # (f) paused the fleet: its key was refused
XAI_BASE_URL="http://127.0.0.1:$(cat "$pf4")/v1" FLEETQ_ROLE_MEMORY_MODEL=gpt-4o-mini \
    fq_start_worker memory
fq_submit_n 3 unpriced memory
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id LIKE 'unpriced-%' AND status = 'done'" 3
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE task_id LIKE 'unpriced-%' AND model = 'gpt-4o-mini'")" \
    3 "(h) calls of the unpriced model"
fq_assert_eq "$(fq_redis EXISTS fleetq:quota:gpt-4o-mini)" 1 "(h) its own quota state"
fq_assert_eq "$(fq_redis EXISTS fleetq:quota:unknown)" 0 "(h) no shared state of unknown models"
fq_assert_eq "$(fq_mquota gpt-4o-mini rpm_ceiling)" 1200 "(h) its grants under its own name and ceiling"
fq_pass
