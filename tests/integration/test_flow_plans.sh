#!/usr/bin/env bash
# ceo plans that fan out: a plan of 5 subtasks with internal `after`
# edges is submitted as children of the ceo task, which ends done with
# the normalized plan as its output, and runs to the end in order, each
# {{sibling}} filled; bad plans (not JSON, an invalid subtask, too many,
# too deep) fail the ceo task with the reason and submit nothing.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 30 --request-log "$FQ_TMP/requests.jsonl"
export FLEETQ_PLAN_MAX=6 FLEETQ_PLAN_DEPTH=2
fq_start_coordinator
for r in ceo code quality memory; do fq_start_worker "$r" --concurrency 3; done

row() { fq_sql "SELECT $2 FROM tasks WHERE id = '$1'"; }
# the user message of the request whose text starts with $1
request_with() {
    jq -r --arg p "$1" 'select(.messages[-1].content | startswith($p)) | .messages[-1].content' \
        "$FQ_TMP/requests.jsonl"
}
submitted_under() { # tasks Redis or SQLite knows below the id $1
    echo $(( $(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE '$1.%'") +
             $(fq_redis --scan --pattern "fleetq:task:$1.*" | wc -l) ))
}

# ---------------------------------------------------------------- a plan of 5
plan='[{"id":"spec","role":"code","prompt":"p1 write the spec"},
 {"id":"api","role":"code","after":["spec"],"prompt":"p2 build the API of [{{spec}}]"},
 {"id":"ui","role":"code","after":["spec"],"prompt":"p3 build the UI of [{{spec}}]"},
 {"id":"check","role":"quality","after":["api","ui"],"prompt":"p4 check [{{api}}] and [{{ui}}]"},
 {"role":"memory","after":["check"],"prompt":"p5 remember [{{check}}]"}]'
fq_submit id plan1 role ceo plan true prompt "Build a todo app. mock-plan: $plan" >/dev/null
fq_assert_eq "$(fq_done_status plan1 30)" done "the plan task"
fq_assert_eq "$(fq_done_status plan1.5 30)" done "the plan's last subtask"
for t in spec api ui check 5; do
    fq_assert_eq "$(row "plan1.$t" status)" done "subtask $t"
    fq_assert_eq "$(row "plan1.$t" flow_id)" plan1 "subtask $t's flow"
done
fq_assert_eq "$(row plan1 plan)" 1 "the plan task's depth"
fq_assert_eq "$(row plan1 output | jq -r '[.[].id] | join(",")')" \
    "plan1.spec,plan1.api,plan1.ui,plan1.check,plan1.5" "the plan as the task's output"
fq_assert_eq "$(row plan1.check parents)" '["plan1","plan1.api","plan1.ui"]' "check's parents"
fq_assert_eq "$(row plan1.spec parents)" '["plan1"]' "spec's parents"
for edge in spec:api spec:ui api:check ui:check check:5; do
    p=plan1.${edge%%:*} c=plan1.${edge##*:}
    ok=$(fq_sql "SELECT (SELECT started_at FROM tasks WHERE id = '$c') >=
                        (SELECT finished_at FROM tasks WHERE id = '$p')")
    fq_assert_eq "$ok" 1 "$c started after $p finished"
done
fq_assert_eq "$(request_with "p4 check")" \
    "p4 check [$(row plan1.api output)] and [$(row plan1.ui output)]" "check's prompt as sent"
fq_assert_contains "$(grep -F 'Build a todo app' "$FQ_TMP/requests.jsonl" | jq -r '.messages[0].content')" \
    "[fleetq plan] Answer with a plan and nothing else: a JSON array of at most 6 subtasks" \
    "the plan request's system message"
fq_assert_eq "$(fq_sql "SELECT status || ' ' || tasks FROM flows WHERE flow_id = 'plan1'")" \
    "done 6" "the plan's flow"

# fleetqctl flow shows the tree
fq_ctl flow plan1
fq_assert_eq "$CTL_RC" 0 "fleetqctl flow"
fq_assert_contains "$CTL_OUT" "flow plan1: 6 tasks, done 6, \$" "the flow's totals"
fq_assert_contains "$CTL_OUT" "plan1  done  ceo" "the root's line"
fq_assert_contains "$CTL_OUT" "|- plan1.api  done  code" "a subtask under the one it waited for"
fq_assert_contains "$CTL_OUT" "plan1.check  done  quality" "a subtask with two parents"
fq_assert_contains "$CTL_OUT" "(after plan1 plan1.api plan1.ui)" "its parents"
[ "$(grep -c 'plan1.check  done' <<<"$CTL_OUT")" = 1 ] || fq_fail "plan1.check not shown once: $CTL_OUT"
fq_ctl flow plan1 --json
fq_assert_eq "$CTL_RC" 0 "fleetqctl flow --json"
fq_assert_eq "$(jq -r '.counts.done, (.tasks | length), .tasks[0].id' <<<"$CTL_OUT" | xargs)" \
    "6 6 plan1" "fleetqctl flow --json"
cost=$(jq -r '.cost_usd' <<<"$CTL_OUT")
sql_cost=$(fq_sql "SELECT cost_usd FROM flows WHERE flow_id = 'plan1'")
fq_assert_eq "$(awk -v a="$cost" -v b="$sql_cost" 'BEGIN { d = a - b; print (d < 1e-9 && d > -1e-9) }')" \
    1 "the flow's cost, in Redis ($cost) and SQLite ($sql_cost)"
fq_ctl flow nosuchflow
fq_assert_eq "$CTL_RC" 1 "fleetqctl flow of an unknown flow"
fq_assert_contains "$CTL_ERR" "flow nosuchflow: not found in Redis" "its message"

# fleetqctl cancel --flow stops what has not started
fq_submit id cf role code delay 60 prompt "cf root, delayed" >/dev/null
fq_submit id cf.a role code after cf prompt "cf a" >/dev/null
fq_submit id cf.b role quality after cf.a review_by quality prompt "cf b" >/dev/null
fq_wait_for 10 fq_status_is cf.b.review waiting || fq_fail "cf.b.review is not waiting"
fq_ctl cancel --flow cf
fq_assert_eq "$CTL_RC" 0 "fleetqctl cancel --flow"
fq_assert_contains "$CTL_OUT" "flow cf: 4 cancelled, 0 running, 0 ended" "its summary"
for t in cf cf.a cf.b cf.b.review; do
    fq_assert_eq "$(fq_done_status "$t")" cancelled "$t after cancel --flow"
done

# ---------------------------------------------------------------- bad plans
bad() { # ID ANSWER REASON: the plan task fails with REASON and submits nothing
    fq_submit id "$1" role ceo plan true prompt "Plan it. mock-plan: $2" >/dev/null
    fq_assert_eq "$(fq_done_status "$1" 30)" failed "plan task $1"
    fq_assert_contains "$(row "$1" error)" "$3" "the reason $1 failed"
    fq_assert_eq "$(row "$1" output)" "$2" "what the model answered, kept as $1's output"
}
bad notjson "First we write the code, then we review it." "plan: the answer is not JSON"
bad invalid '[{"role":"code","prompt":"ok"},{"role":"coder","prompt":"x"}]' \
    "plan: subtask 2: role: must be one of ceo, code, quality, memory"
bad toomany '[{"role":"code","prompt":"1"},{"role":"code","prompt":"2"},{"role":"code","prompt":"3"},{"role":"code","prompt":"4"},{"role":"code","prompt":"5"},{"role":"code","prompt":"6"},{"role":"code","prompt":"7"}]' \
    "plan: 7 subtasks, more than FLEETQ_PLAN_MAX=6"
# too deep: a plan (depth 1) whose subtask plans (depth 2) a subtask that plans (3)
inner='mock-plan: [{\"role\":\"ceo\",\"plan\":true,\"prompt\":\"deeper still\"}]'
fq_submit id deep role ceo plan true prompt "Plan it. mock-plan: [{\"id\":\"inner\",\"role\":\"ceo\",\"plan\":true,\"prompt\":\"$inner\"}]" >/dev/null
fq_assert_eq "$(fq_done_status deep 30)" done "a plan of depth 1 with a planning subtask"
fq_assert_eq "$(fq_done_status deep.inner 30)" failed "its subtask, whose plan is too deep"
fq_assert_eq "$(row deep.inner plan)" 2 "the subtask's depth"
fq_assert_contains "$(row deep.inner error)" \
    "plan: subtask 1 plans in turn, at depth 3: deeper than FLEETQ_PLAN_DEPTH=2" "its reason"
for t in notjson invalid toomany deep.inner; do
    fq_assert_eq "$(submitted_under "$t")" 0 "tasks submitted by the bad plan of $t"
done
# a task that is not ceo cannot plan
fq_submit id notceo role code plan true prompt "x" >/dev/null
fq_assert_eq "$(fq_done_status notceo)" rejected "plan on a code task"
fq_assert_contains "$(row notceo error)" "plan: only ceo tasks plan" "its reason"
fq_pass
