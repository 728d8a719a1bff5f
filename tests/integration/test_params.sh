#!/usr/bin/env bash
# The model parameters a task may pass (reasoning_effort, top_p, seed,
# stop, presence_penalty, frequency_penalty, response_format) reach the
# provider only for models that accept them; the mock, like xAI, answers
# 400 to a reasoning model given a penalty, a stop or (but grok-3-mini) a
# reasoning_effort, and its request log shows what was sent.
#
# (a) grok-3 (not a reasoning model) is sent every parameter but
#     reasoning_effort, with the values given.
# (b) grok-4 (reasoning) gets top_p, seed and response_format only; the
#     task is done, and its row's notes name what was left out.
# (c) grok-3-mini gets reasoning_effort.
# (d) FLEETQ_MODEL_PARAMS=grok-3=seed: grok-3 then gets the seed alone.
# (e) A bad value is rejected at intake with the field's reason.
. "$(dirname "$0")/lib.sh"

export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_RECALL_K=0
log="$FQ_TMP/requests.jsonl"
sent() { # prompt: the parameters of the request with that prompt, as JSON
    jq -c --arg p "$1" 'select(.messages[-1].content == $p)
        | {reasoning_effort, top_p, seed, stop, presence_penalty, frequency_penalty, response_format}
        | with_entries(select(.value != null))' "$log"
}
all=(top_p 0.9 seed 42 stop '["END","STOP"]' presence_penalty 0.5 frequency_penalty -0.25
     response_format json_object reasoning_effort high)
start_fleet() {
    fq_start_redis
    rm -f "$log"
    fq_start_mock --request-log "$log"
    fq_start_coordinator
    fq_start_worker code --concurrency 2
}
submit_wait() { # id fields...
    local id=$1; shift
    fq_submit id "$id" role code "$@" >/dev/null
    fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id='$id'" 1
}

start_fleet
fq_log "(a) grok-3 takes every parameter but reasoning_effort"
submit_wait a1 prompt "params a" model grok-3 "${all[@]}"
fq_assert_eq "$(fq_sql "SELECT status FROM tasks WHERE id='a1'")" "done" "the task"
fq_assert_eq "$(sent "params a")" \
    '{"top_p":0.9,"seed":42,"stop":["END","STOP"],"presence_penalty":0.5,"frequency_penalty":-0.25,"response_format":{"type":"json_object"}}' \
    "what grok-3 was sent"
fq_assert_contains "$(fq_sql "SELECT notes FROM tasks WHERE id='a1'")" "reasoning_effort" \
    "the note names what was left out"

fq_log "(b) grok-4 takes top_p, seed and response_format"
submit_wait b1 prompt "params b" model grok-4 "${all[@]}"
fq_assert_eq "$(fq_sql "SELECT status FROM tasks WHERE id='b1'")" "done" "the task (the mock would 400)"
fq_assert_eq "$(sent "params b")" '{"top_p":0.9,"seed":42,"response_format":{"type":"json_object"}}' \
    "what grok-4 was sent"
fq_assert_eq "$(fq_sql "SELECT notes FROM tasks WHERE id='b1'")" \
    "not sent, as grok-4 does not accept them: reasoning_effort, stop, presence_penalty, frequency_penalty" \
    "the task's note"

fq_log "(c) grok-3-mini takes reasoning_effort"
submit_wait c1 prompt "params c" model grok-3-mini reasoning_effort low stop END
fq_assert_eq "$(sent "params c")" '{"reasoning_effort":"low"}' "what grok-3-mini was sent"
fq_assert_eq "$(fq_sql "SELECT notes FROM tasks WHERE id='c1'")" \
    "not sent, as grok-3-mini does not accept them: stop" "its note"
submit_wait c2 prompt "params c2" model grok-3-mini
fq_assert_eq "$(fq_sql "SELECT notes IS NULL FROM tasks WHERE id='c2'")" 1 "no note without parameters"
fq_reset_fleet

fq_log "(d) FLEETQ_MODEL_PARAMS=grok-3=seed"
export FLEETQ_MODEL_PARAMS="grok-3=seed"
start_fleet
submit_wait d1 prompt "params d" model grok-3 "${all[@]}"
fq_assert_eq "$(sent "params d")" '{"seed":42}' "what grok-3 was sent under the override"
unset FLEETQ_MODEL_PARAMS
fq_ctl submit role code prompt x model grok-3 top_p 0.5
fq_assert_eq "$CTL_RC" 0 "fleetqctl submit with a parameter"

fq_log "(e) bad values are rejected at intake"
before=$(wc -l <"$log")
check_reject() { # id reason-part fields...
    local id=$1 want=$2; shift 2
    submit_wait "$id" prompt x "$@"
    fq_assert_eq "$(fq_sql "SELECT status FROM tasks WHERE id='$id'")" rejected "$id rejected"
    fq_assert_contains "$(fq_sql "SELECT error FROM tasks WHERE id='$id'")" "$want" "$id's reason"
}
check_reject e1 "top_p" top_p 1.5
check_reject e2 "reasoning_effort" reasoning_effort extreme
check_reject e3 "seed" seed 1.5
check_reject e4 "presence_penalty" presence_penalty 3
check_reject e5 "response_format" response_format yaml
check_reject e6 "stop" stop '["a","b","c","d","e"]'
check_reject e7 "fallback" fallback "bad model!"
check_reject e8 "cache" cache maybe
fq_assert_eq "$(wc -l <"$log")" "$before" "no request for a rejected task"

fq_pass
