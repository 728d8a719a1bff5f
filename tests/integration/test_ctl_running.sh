#!/usr/bin/env bash
# What a running task is doing, and what its limit of attempts is made of,
# as fleetqctl (status, watch, result, dead), /health, /metrics and the
# dashboard's API show them.
#
# (a) Attempts explained: a task submitted with 4 attempts fails on its
#     first (its model is not served: a 404 with no fallback), is requeued
#     and then done on its second: "2 of 5 (4 asked, +1 made before the
#     requeue)". A task of 1 attempt whose model does not exist is answered
#     by its fallback: "2 of 2 (1 asked, +1 for a fallback after a 404)";
#     with its fallback not served either it fails so, and a requeue gives
#     it the 1 it asked on top of the 2 made: "3 of 3 (1 asked, +2 made
#     before the requeue)".
# (b) Calling or waiting for the quota, under an in-flight cap of 2 calls
#     (FLEETQ_MAX_INFLIGHT) and a provider that answers in 30 s: 5 memory
#     tasks run, 2 calling and 3 waiting; a code task then waits too. Per
#     role the two add up to running, and match the calls the provider has.
# (c) The same under a tight rate: the cap lifted and every model's
#     ceiling set to 2 a minute (one call per 30 s, the next granted no
#     sooner than 15 s later), each model gets exactly one more call:
#     memory 3 calling and 2 waiting, code 1 calling.
. "$(dirname "$0")/lib.sh"

export GROK_RATE_LIMIT_RPM=600 DAILY_BUDGET_USD=0 FLEETQ_RECALL_K=0 FLEETQ_GRACE_SECONDS=1
jqo() { jq -r "$1" <<<"$CTL_OUT"; }   # a field of the JSON fleetqctl printed
token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; printf '%s\n' "$token" >"$FQ_TMP/dashboard_token")
export FLEETQ_DASHBOARD_TOKEN_FILE=$FQ_TMP/dashboard_token
api() { curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT$1"; }

fq_start_redis
fq_start_mock --latency-ms 5
fq_start_coordinator
fq_start_worker code --concurrency 2

# ---------------------------------------------------------------------------
fq_log "(a) attempts explained"
# attempts_are ID LINE FIGURES: the attempts line of fleetqctl result ID,
# and its JSON's attempts, max_attempts, attempts_asked, requeues,
# attempts_at_requeue, fallback_attempts and attempts_note
attempts_are() {
    fq_ctl result "$1"
    fq_assert_contains "$CTL_OUT" $'\n'"attempts:  $2"$'\n' "the attempts line of $1"
    fq_ctl result "$1" --json
    fq_assert_eq "$(jqo '[.attempts, .max_attempts, .attempts_asked, .requeues,
        .attempts_at_requeue, .fallback_attempts, .attempts_note] | map(tostring) | join(" ")')" \
        "$3" "result --json of $1: what max_attempts is made of"
}
fq_mock_config '{"models": "grok-code-fast-1"}'
fq_submit id att-req role code model grok-3 fallback "" max_attempts 4 \
    prompt "requeued once" >/dev/null
fq_assert_eq "$(fq_done_status att-req)" failed "att-req on a model not served"
attempts_are att-req "1 of 4" "1 4 4 0 0 0 null"
fq_ctl dead --json
fq_assert_eq "$(jq -r '.[] | select(.id == "att-req") | [.attempts, .max_attempts,
    .attempts_note] | map(tostring) | join(" ")' <<<"$CTL_OUT")" "1 4 null" \
    "dead --json: att-req as asked"
fq_mock_config '{"models": ""}'
fq_ctl requeue att-req
fq_assert_eq "$CTL_RC:$CTL_OUT" "0:requeued att-req" "requeue att-req"
fq_assert_eq "$(fq_done_status att-req)" done "att-req after the requeue"
attempts_are att-req "2 of 5 (4 asked, +1 made before the requeue)" \
    "2 5 4 1 1 0 4 asked, +1 made before the requeue"

fq_submit id att-fb role code model grok-nope fallback grok-3-mini max_attempts 1 \
    prompt "falls back" >/dev/null
fq_assert_eq "$(fq_done_status att-fb)" done "att-fb, answered by its fallback"
attempts_are att-fb "2 of 2 (1 asked, +1 for a fallback after a 404)" \
    "2 2 1 0 0 1 1 asked, +1 for a fallback after a 404"

# (grok-nope is remembered as missing now: a new name, so that it is called)
fq_mock_config '{"models": "grok-code-fast-1"}'
fq_submit id att-both role code model grok-nada fallback grok-3-mini max_attempts 1 \
    prompt "falls back to a model not served" >/dev/null
fq_assert_eq "$(fq_done_status att-both)" failed "att-both, its fallback not served either"
attempts_are att-both "2 of 2 (1 asked, +1 for a fallback after a 404)" \
    "2 2 1 0 0 1 1 asked, +1 for a fallback after a 404"
# the dashboard's dead letters say the same
fq_assert_eq "$(api '/api/dead' | jq -r '.dead[] | select(.id == "att-both")
    | [.attempts, .max_attempts, .attempts_note] | join(" ")')" \
    "2 2 1 asked, +1 for a fallback after a 404" "/api/dead: att-both"
fq_mock_config '{"models": ""}'
fq_ctl requeue att-both
fq_assert_eq "$CTL_RC" 0 "requeue att-both"
fq_assert_eq "$(fq_done_status att-both)" done "att-both after the requeue"
# the fallback's attempt is one of those made; the allowance is the 1 asked
attempts_are att-both "3 of 3 (1 asked, +2 made before the requeue)" \
    "3 3 1 1 2 0 1 asked, +2 made before the requeue"

# ---------------------------------------------------------------------------
fq_log "(b) calling or waiting for the quota: 2 calls at a time"
fq_start_worker memory --concurrency 5
# a first call each, so that no slot waits for its worker's first answer
fq_submit id warm-mem role memory prompt "warm up" >/dev/null
fq_assert_eq "$(fq_done_status warm-mem)" done "the memory worker's first task"
fq_ctl limits set inflight 2
fq_assert_eq "$CTL_RC" 0 "limits set inflight 2"
fq_mock_config '{"latency_ms": 30000}'
fq_submit_n 5 mem memory
fq_wait_for 15 fq_zcard_is 'fleetq:{q}:leases' 5 || fq_fail "the 5 memory tasks are not running"
fq_wait_for 15 fq_mock_inflight_is 2 || fq_fail "the provider does not have 2 calls"
fq_submit id code-1 role code prompt "waits for the cap" >/dev/null
fq_wait_for 15 fq_zcard_is 'fleetq:{q}:leases' 6 || fq_fail "code-1 is not running"

# every running task has asked the quota once (none is between the two)
settled() {
    fq_ctl status --json
    [ "$(jqo '.all.running == .all.calling + .all.waiting_quota')" = true ]
}
fq_wait_for 10 settled || fq_fail "running tasks neither calling nor waiting: $CTL_OUT"
fq_ctl status --json
fq_assert_eq "$(jqo '.roles.memory | [.running, .calling, .waiting_quota] | join(" ")')" \
    "5 2 3" "status --json: memory running, calling, waiting for the quota"
fq_assert_eq "$(jqo '.roles.code | [.running, .calling, .waiting_quota] | join(" ")')" \
    "1 0 1" "status --json: code"
fq_assert_eq "$(jqo '[.all.running, .all.calling, .all.waiting_quota, .quota.inflight] | join(" ")')" \
    "6 2 4 2" "status --json: all, and the calls in flight"
fq_assert_eq "$(jqo '[.roles.ceo, .roles.quality] | map(.running + .calling + .waiting_quota)
    | add')" 0 "status --json: ceo and quality"
fq_assert_eq "$(fq_mock_stats | jq .inflight)" 2 "calls at the provider"

fq_ctl status
fq_assert_eq "$(grep -E '^ROLE ' <<<"$CTL_OUT" | xargs)" \
    "ROLE QUEUED DELAYED RETRYING RUNNING CALLING QUOTA WORKERS" "the table's head"
fq_assert_eq "$(grep -E '^memory ' <<<"$CTL_OUT" | xargs)" "memory 0 0 0 5 2 3 1" \
    "the memory line of status"
fq_assert_eq "$(grep -E '^code ' <<<"$CTL_OUT" | xargs)" "code 0 0 0 1 0 1 1" \
    "the code line of status"
fq_assert_eq "$(grep -E '^all ' <<<"$CTL_OUT" | xargs)" "all 0 0 0 6 2 4 2" \
    "the all line of status"
fq_assert_contains "$CTL_OUT" "in flight     2 calls; 4 running tasks waiting for the quota" \
    "the in-flight line of status"
wide=$(awk 'length($0) > 80' <<<"$CTL_OUT")
[ -z "$wide" ] || fq_fail "status is wider than 80 columns: $wide"
fq_ctl watch --count 1
fq_assert_eq "$(grep -E '^memory ' <<<"$CTL_OUT" | xargs)" "memory 0 0 0 5 2 3 1" \
    "the memory line of watch"
fq_ctl watch --count 1 --json
fq_assert_eq "$(jqo '[.roles.memory.calling, .roles.memory.waiting_quota,
    .roles.code.waiting_quota, .progress.total] | join(" ")')" "2 3 1 6" "watch --json"

fq_fresh_snapshot
metrics=$(curl -sf "http://127.0.0.1:$PORT/metrics")
for want in 'fleetq_tasks_calling{role="memory"} 2' 'fleetq_tasks_waiting_quota{role="memory"} 3' \
        'fleetq_tasks_calling{role="code"} 0' 'fleetq_tasks_waiting_quota{role="code"} 1' \
        'fleetq_tasks_waiting_quota{role="ceo"} 0' 'fleetq_tasks_running 6' \
        'fleetq_inflight_calls 2'; do
    grep -qxF "$want" <<<"$metrics" || fq_fail "/metrics lacks '$want': $(grep -E 'calling|quota|running|inflight' <<<"$metrics")"
done
health=$(curl -sf "http://127.0.0.1:$PORT/health")
fq_assert_eq "$(jq -r '[.queues.memory.calling, .queues.memory.waiting_quota,
    .queues.code.calling, .queues.code.waiting_quota, .calling, .waiting_quota, .running]
    | join(" ")' <<<"$health")" "2 3 0 1 2 4 6" "/health: calling and waiting per role"
fq_assert_eq "$(api /api/overview | jq -r '.fleet | [.calling, .waiting_quota] | join(" ")')" \
    "2 4" "the dashboard's overview"
# a running task's own page: what its hash holds, as asked so far
fq_assert_eq "$(api '/api/task?id=mem-1' | jq -r '.task | [.status, .max_attempts,
    (.attempts_note | tostring)] | join(" ")')" "running 4 null" "/api/task of a running task"

# ---------------------------------------------------------------------------
fq_log "(c) calling or waiting for the quota: 2 calls a minute per model"
fq_ctl limits set default rpm=2
fq_assert_eq "$CTL_RC" 0 "limits set default rpm=2"
fq_ctl limits set inflight 0
fq_assert_eq "$CTL_RC" 0 "limits set inflight 0"
start=$(date +%s)
fq_wait_for 10 fq_mock_inflight_is 4 || fq_fail "the provider does not have 4 calls"
fq_wait_for 5 settled || fq_fail "running tasks neither calling nor waiting: $CTL_OUT"
fq_ctl status --json
elapsed=$(( $(date +%s) - start ))
# the next grant of a model is 15 s away: the counts hold until then
fq_assert_le "$elapsed" 12 "seconds the rate's arrangement took"
fq_assert_eq "$(jqo '.roles.memory | [.running, .calling, .waiting_quota] | join(" ")')" \
    "5 3 2" "status --json under the rate: memory"
fq_assert_eq "$(jqo '.roles.code | [.running, .calling, .waiting_quota] | join(" ")')" \
    "1 1 0" "status --json under the rate: code"
fq_assert_eq "$(jqo '[.all.calling, .all.waiting_quota, .quota.inflight] | join(" ")')" \
    "4 2 4" "status --json under the rate: all"
fq_assert_eq "$(fq_mock_stats | jq .inflight)" 4 "calls at the provider under the rate"
fq_ctl status
fq_assert_contains "$CTL_OUT" "in flight     4 calls; 2 running tasks waiting for the quota" \
    "the in-flight line under the rate"
fq_pass
