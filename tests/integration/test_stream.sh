#!/usr/bin/env bash
# FLEETQ_STREAM=true: workers ask for server-sent events and read the answer
# as it arrives.
#
# (a) 20 tasks across the four roles are first run without streaming, as a
#     reference; the same 20 then run streamed on a fresh fleet: all end
#     `done` after one call each, with byte for byte the output the whole
#     bodies gave, and the tokens and spend in SQLite are what
#     fleetq-mockapi billed (/mock/stats).
# (b) With about a third of the streams cut off half way, every cut stream is
#     seen as truncated (an attempt `malformed` whose error reads
#     "truncated stream: ...", exactly one per cut the mock made) and
#     retried, and every task still ends `done`.
#
# The mock answers a fixed number of tokens, so that an answer depends on
# the prompt alone and the two runs of (a) can be compared; recall is off
# (FLEETQ_RECALL_K=0), so that the memory tasks of the second run are not
# given the first run's results as context.
. "$(dirname "$0")/lib.sh"

n=20
roles="ceo code quality memory"
mock_args=(--latency-ms 5 --jitter-ms 10 --completion-tokens 120 --reasoning-tokens 40)
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_RECALL_K=0

start_fleet() { # mock args...
    fq_start_redis
    fq_start_mock "$@"
    fq_start_coordinator
    for role in $roles; do fq_start_worker "$role" --concurrency 2; done
}

# ---------------------------------------------------------------------------
# (a) Streamed answers are the whole answers, billed the same.
fq_log "(a) the reference run, without streaming"
unset FLEETQ_STREAM
start_fleet "${mock_args[@]}" --seed 3
fq_submit_n "$n" s "$roles"
fq_wait_sql 120 "SELECT count(*) FROM tasks" "$n"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")" "$n" \
    "tasks done without streaming"
fq_sql "SELECT id || ' ' || hex(output) FROM tasks ORDER BY id" > "$FQ_TMP/whole.txt"
fq_reset_fleet

fq_log "(a) the same tasks with FLEETQ_STREAM=true"
export FLEETQ_STREAM=true
start_fleet "${mock_args[@]}" --seed 3
fq_submit_n "$n" s "$roles"
fq_wait_sql 120 "SELECT count(*) FROM tasks" "$n"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")" "$n" "streamed tasks done"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE length(output) > 0 AND prompt_tokens > 0
    AND completion_tokens = 120 AND cost_ticks > 0 AND latency_ms IS NOT NULL")" "$n" \
    "streamed rows with output, tokens and cost"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts")" "$n" "one call per streamed task"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome='ok'")" "$n" "ok attempts"
fq_sql "SELECT id || ' ' || hex(output) FROM tasks ORDER BY id" > "$FQ_TMP/streamed.txt"
cmp -s "$FQ_TMP/whole.txt" "$FQ_TMP/streamed.txt" ||
    fq_fail "streamed outputs differ from the whole ones: $(diff "$FQ_TMP/whole.txt" \
        "$FQ_TMP/streamed.txt" | head -c 400)"

stats=$(fq_mock_stats)
fq_assert_eq "$(jq .ok <<<"$stats")" "$n" "answers the provider streamed"
for col in prompt_tokens completion_tokens reasoning_tokens cached_tokens; do
    fq_assert_eq "$(fq_sql "SELECT sum($col) FROM tasks")" "$(jq ".$col" <<<"$stats")" \
        "$col in SQLite vs the provider's"
done
fq_assert_eq "$(fq_sql "SELECT sum(cost_ticks) FROM tasks")" "$(jq .spend_ticks <<<"$stats")" \
    "spend in SQLite vs the provider's"
fq_reset_fleet

# ---------------------------------------------------------------------------
# (b) Streams that break off are truncated answers, and retried.
fq_log "(b) a third of the streams cut half way"
export GROK_MAX_RETRIES=12 FLEETQ_BACKOFF_BASE_MS=50 FLEETQ_BACKOFF_MAX_MS=200
start_fleet "${mock_args[@]}" --truncate-rate 0.33 --seed 5
fq_submit_n "$n" t "$roles"
fq_wait_sql 120 "SELECT count(*) FROM tasks" "$n"
fq_log "attempts by outcome: $(fq_sql "SELECT outcome||'='||count(*) FROM attempts GROUP BY outcome" | paste -sd' ')"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status='done' AND length(output) > 0")" \
    "$n" "tasks done despite cut streams"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome='ok'")" "$n" "one ok attempt per task"
cut=$(jq .faults.truncated <<<"$(fq_mock_stats)")
fq_assert_ge "$cut" 1 "streams the mock cut"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome='malformed'
    AND error LIKE 'truncated stream: no [DONE] after %'")" "$cut" \
    "attempts seen as truncated streams vs streams cut"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome NOT IN ('ok', 'malformed')")" 0 \
    "attempts with other outcomes"
fq_pass
