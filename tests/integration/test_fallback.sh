#!/usr/bin/env bash
# Model fallbacks: a task moves on to the next model of its list when its
# model does not exist (404), when its model's circuit breaker is open, or
# when its model's rate limit would keep it waiting longer than its
# timeout; every attempt records the model it called, the task's row the
# model that answered.
#
# (a) model grok-nope (the provider has no such model), fallback
#     grok-3-mini: attempt 1 is the 404 on grok-nope, attempt 2 the answer
#     of grok-3-mini, and the task is done on grok-3-mini, within its one
#     attempt (max_attempts 1: the 404 does not count).
# (b) grok-nope is remembered by the fleet: the next task naming it goes
#     straight to its fallback, without a call to grok-nope.
# (c) The role's fallback list (FLEETQ_ROLE_QUALITY_MODEL=grok-gone,
#     FLEETQ_ROLE_QUALITY_FALLBACK=grok-4-fast) serves tasks that name
#     none; a task with an empty `fallback` fails on the 404.
# (d) grok-4's breaker is opened by failures (every call answered 503);
#     with the provider healthy again, a task on grok-4 with fallback grok-3
#     is answered by grok-3 at once, without a call to grok-4.
# (e) grok-3 allows one request a minute (FLEETQ_MODEL_LIMITS); a second
#     grok-3 task with timeout 5 s and fallback grok-4-fast is answered by
#     grok-4-fast instead of waiting a minute.
. "$(dirname "$0")/lib.sh"

export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_RECALL_K=0
log="$FQ_TMP/requests.jsonl"
called() { # model: requests the mock accepted for it
    if [ -f "$log" ]; then jq -r .model "$log" | grep -cx "$1" || true; else echo 0; fi
}
submit_wait() { # id fields...
    local id=$1; shift
    fq_submit id "$id" "$@" >/dev/null
    fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id='$id'" 1
}

export FLEETQ_ROLE_QUALITY_MODEL=grok-gone FLEETQ_ROLE_QUALITY_FALLBACK=grok-4-fast
fq_start_redis
fq_start_mock --request-log "$log"
fq_start_coordinator
fq_start_worker code --concurrency 2
fq_start_worker quality --concurrency 2

# ---------------------------------------------------------------------------
fq_log "(a) a model that does not exist falls back"
submit_wait a1 role code prompt "hello" model grok-nope fallback grok-3-mini max_attempts 1
fq_assert_eq "$(fq_sql "SELECT status, model, attempts FROM tasks WHERE id='a1'")" \
    "done|grok-3-mini|2" "the task's row"
fq_assert_eq "$(fq_sql "SELECT group_concat(n || ':' || model || ':' || outcome || ':' || coalesce(http_status, 0), ' ')
    FROM (SELECT * FROM attempts WHERE task_id='a1' ORDER BY n)")" \
    "1:grok-nope:model_not_found:404 2:grok-3-mini:ok:200" "the attempts, each with its model"

# ---------------------------------------------------------------------------
fq_log "(b) the fleet remembers that grok-nope does not exist"
until_ms=$(fq_redis HGET 'fleetq:{q}:models:missing' grok-nope)
fq_assert_ge "${until_ms:-0}" "$(( $(date +%s) * 1000 + 500000 ))" "grok-nope is remembered for ~10 minutes"
before=$(called grok-nope)
submit_wait b1 role code prompt "hello again" model grok-nope fallback grok-3
fq_assert_eq "$(called grok-nope)" "$before" "calls to grok-nope for the second task"
fq_assert_eq "$(fq_sql "SELECT status, model, attempts FROM tasks WHERE id='b1'")" \
    "done|grok-3|1" "the second task's row"

# ---------------------------------------------------------------------------
fq_log "(c) the role's fallback list"
submit_wait c1 role quality prompt "review this"
fq_assert_eq "$(fq_sql "SELECT status, model FROM tasks WHERE id='c1'")" "done|grok-4-fast" \
    "a quality task without a fallback of its own"
submit_wait c2 role quality prompt "review this too" fallback ""
fq_assert_eq "$(fq_sql "SELECT status, model FROM tasks WHERE id='c2'")" "failed|grok-gone" \
    "an empty fallback list overrides the role's"
fq_assert_contains "$(fq_sql "SELECT error FROM tasks WHERE id='c2'")" "grok-gone" "its error"
fq_reset_fleet

# ---------------------------------------------------------------------------
fq_log "(d) an open breaker is skipped for the fallback"
export FLEETQ_BREAKER_THRESHOLD=3 FLEETQ_BREAKER_COOLDOWN_MS=120000 GROK_MAX_RETRIES=10 \
       FLEETQ_BACKOFF_BASE_MS=50 FLEETQ_BACKOFF_MAX_MS=100
rm -f "$log"
fq_start_redis
fq_start_mock --request-log "$log" --fail-rate 1.0
fq_start_coordinator
# more slots than grok-4 tasks: those wait in their slots for the breaker
fq_start_worker code --concurrency 8
fq_submit_n 4 d code model grok-4
fq_wait_for 30 fq_mquota_is grok-4 breaker open || fq_fail "grok-4's breaker did not open"
fq_mock_config '{"fail_rate": 0}'
before=$(called grok-4)
submit_wait d9 role code prompt "while grok-4 is out" model grok-4 fallback grok-3
fq_assert_eq "$(fq_sql "SELECT status, model, attempts FROM tasks WHERE id='d9'")" "done|grok-3|1" \
    "the task answered by the fallback"
fq_assert_eq "$(fq_sql "SELECT group_concat(model) FROM attempts WHERE task_id='d9'")" grok-3 \
    "its one attempt"
fq_assert_eq "$(called grok-4)" "$before" "calls to grok-4 while its breaker is open"
fq_assert_contains "$(cat "$FQ_TMP"/worker-code.log)" "its circuit breaker is open" "the log says why"
unset FLEETQ_BREAKER_THRESHOLD FLEETQ_BREAKER_COOLDOWN_MS GROK_MAX_RETRIES FLEETQ_BACKOFF_BASE_MS \
      FLEETQ_BACKOFF_MAX_MS
fq_reset_fleet

# ---------------------------------------------------------------------------
fq_log "(e) a rate limit that would outlast the timeout"
export GROK_RATE_LIMIT_RPM=600 FLEETQ_MODEL_LIMITS="grok-3:rpm=1"
rm -f "$log"
fq_start_redis
fq_start_mock --request-log "$log"
fq_start_coordinator
fq_start_worker code --concurrency 2
submit_wait e1 role code prompt "first" model grok-3
t0=$(date +%s)
submit_wait e2 role code prompt "second" model grok-3 fallback grok-4-fast timeout 5
fq_assert_eq "$(fq_sql "SELECT status, model FROM tasks WHERE id='e2'")" "done|grok-4-fast" \
    "the second task, answered by the fallback"
fq_assert_le "$(( $(date +%s) - t0 ))" 20 "seconds the second task took (grok-3 would take a minute)"
fq_assert_eq "$(called grok-3)" 1 "calls to grok-3"
fq_assert_contains "$(cat "$FQ_TMP"/worker-code.log)" "longer than the task's timeout" "the log says why"

fq_pass
