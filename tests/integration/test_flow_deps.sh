#!/usr/bin/env bash
# Dependencies (`after`): a diamond A -> B, A -> C, B + C -> D runs in
# order, each {{ID}} replaced by the parent's output as the provider
# received it; a code task with review_by quality gets its review task,
# run on its prompt and output; a failed parent cancels its descendants with the reason,
# down the chain, and none of them reaches the provider; an unknown parent
# and a placeholder naming a task not in `after` are rejected; a waiting
# task can be cancelled; SQLite has each task's flow and parents.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 50 --request-log "$FQ_TMP/requests.jsonl"
fq_start_coordinator
fq_start_worker code --concurrency 4
fq_start_worker quality --concurrency 2

# the requests whose user message starts with $1: how many, and their text
requests_with() {
    jq -r --arg p "$1" 'select(.messages[-1].content | startswith($p)) | 1' \
        "$FQ_TMP/requests.jsonl" | wc -l
}
request_with() {
    jq -r --arg p "$1" 'select(.messages[-1].content | startswith($p)) | .messages[-1].content' \
        "$FQ_TMP/requests.jsonl"
}
row() { fq_sql "SELECT $2 FROM tasks WHERE id = '$1'"; }

# ---------------------------------------------------------------- the diamond
fq_submit id A role code prompt "alpha: the root" >/dev/null
fq_submit id B role code after A prompt "bravo sees [{{A}}]" >/dev/null
fq_submit id C role quality after A prompt "charlie sees [{{A}}]" >/dev/null
fq_submit json '{"id":"D","role":"code","after":["B","C"],"prompt":"delta joins [{{B}}] and [{{C}}]"}' >/dev/null
fq_assert_eq "$(fq_done_status D 30)" done "the diamond's last task"
for t in A B C D; do fq_assert_eq "$(row $t status)" done "task $t"; done

# in order: each started after its parents finished
for edge in A:B A:C B:D C:D; do
    p=${edge%%:*} c=${edge##*:}
    ok=$(fq_sql "SELECT (SELECT started_at FROM tasks WHERE id = '$c') >=
                        (SELECT finished_at FROM tasks WHERE id = '$p')")
    fq_assert_eq "$ok" 1 "$c started after its parent $p finished"
done

# the outputs substituted, as the provider received them
a_out=$(row A output)
b_out=$(row B output)
c_out=$(row C output)
[ -n "$a_out" ] && [ -n "$b_out" ] && [ -n "$c_out" ] || fq_fail "empty outputs"
fq_assert_eq "$(request_with 'bravo sees')" "bravo sees [$a_out]" "B's prompt as sent"
fq_assert_eq "$(request_with 'charlie sees')" "charlie sees [$a_out]" "C's prompt as sent"
fq_assert_eq "$(request_with 'delta joins')" "delta joins [$b_out] and [$c_out]" "D's prompt as sent"
fq_assert_eq "$(row D prompt)" "delta joins [$b_out] and [$c_out]" "D's stored prompt"
fq_assert_eq "$(grep -c -F '{{' "$FQ_TMP/requests.jsonl" || true)" 0 \
    "requests with a placeholder left in them"

# flow and parents in SQLite
fq_assert_eq "$(fq_sql "SELECT group_concat(id || '=' || flow_id, ' ') FROM (SELECT * FROM tasks WHERE id IN ('A','B','C','D') ORDER BY id)")" \
    "A=A B=A C=A D=A" "the flow of each task"
fq_assert_eq "$(row D parents)" '["B","C"]' "D's parents"
fq_assert_eq "$(fq_sql "SELECT group_concat(parent_id, ',') FROM (SELECT parent_id FROM task_parents WHERE task_id = 'D' ORDER BY parent_id)")" \
    "B,C" "task_parents of D"
fq_assert_eq "$(fq_sql "SELECT status || ' ' || tasks || ' ' || done FROM flows WHERE flow_id = 'A'")" \
    "done 4 4" "the flows view"

# ---------------------------------------------------------------- a review chain
fq_submit id K role code review_by quality prompt "kilo: write a parser" >/dev/null
fq_assert_eq "$(fq_done_status K.review 30)" done "the review of a code task"
fq_assert_eq "$(row K.review role)" quality "the review's role"
fq_assert_eq "$(row K.review parents)" '["K"]' "the review's parents"
fq_assert_eq "$(row K.review flow_id)" K "the review's flow"
k_out=$(row K output)
review=$(request_with "Review the result of task K.")
fq_assert_contains "$review" "kilo: write a parser" "the review's request carries the task's prompt"
fq_assert_contains "$review" "$k_out" "the review's request carries the task's output"
ok=$(fq_sql "SELECT (SELECT started_at FROM tasks WHERE id = 'K.review') >=
                    (SELECT finished_at FROM tasks WHERE id = 'K')")
fq_assert_eq "$ok" 1 "the review started after the task finished"
# a review of a task with parents waits for them too, and fills their placeholders
fq_submit id L role code after A review_by quality prompt "lima extends [{{A}}]" >/dev/null
fq_assert_eq "$(fq_done_status L.review 30)" done "the review of a task with a parent"
fq_assert_eq "$(row L.review parents)" '["L","A"]' "its parents"
fq_assert_contains "$(request_with "Review the result of task L.")" "lima extends [$a_out]" \
    "the placeholder of the reviewed prompt, filled in the review"
fq_submit id M role code review_by auditor prompt "m" >/dev/null
fq_assert_eq "$(fq_done_status M)" rejected "review_by an unknown role"
fq_assert_contains "$(row M error)" "review_by: must be one of ceo, code, quality, memory" \
    "its reason"

# ---------------------------------------------------------------- a failed parent
fq_submit id F role code model no-such-model max_attempts 1 prompt "foxtrot fails" >/dev/null
fq_submit id G role code after F prompt "golf after {{F}}" >/dev/null
fq_submit id H role quality after G prompt "hotel after {{G}}" >/dev/null
fq_submit id I role code after A,G prompt "india after A and G" >/dev/null
fq_assert_eq "$(fq_done_status F 30)" failed "the failing parent"
fq_assert_eq "$(fq_done_status G 30)" cancelled "its child"
fq_assert_eq "$(fq_done_status H 30)" cancelled "its grandchild"
fq_assert_eq "$(fq_done_status I 30)" cancelled "a child with one failed parent of two"
f_err=$(row F error)
[ -n "$f_err" ] || fq_fail "F has no error"
fq_assert_eq "$(row G error)" "parent F failed: $f_err" "G's reason"
fq_assert_eq "$(row H error)" "parent G cancelled: parent F failed: $f_err" "H's reason"
fq_assert_eq "$(row I error)" "parent G cancelled: parent F failed: $f_err" "I's reason"
for p in "golf after" "hotel after" "india after"; do
    fq_assert_eq "$(requests_with "$p")" 0 "requests for a cancelled task ($p)"
done
fq_assert_eq "$(row H flow_id)" F "a cancelled task's flow"

# ---------------------------------------------------------------- rejected at submission
fq_submit id R1 role code after nosuch prompt "waits for nothing" >/dev/null
fq_assert_eq "$(fq_done_status R1)" rejected "an unknown parent"
fq_assert_contains "$(row R1 error)" "after: unknown task nosuch" "its reason"
fq_submit id R2 role code after A prompt "uses {{Z}}" >/dev/null
fq_assert_eq "$(fq_done_status R2)" rejected "a placeholder not in after"
fq_assert_contains "$(row R2 error)" 'prompt: {{Z}} names a task that is not in after (["A"])' \
    "its reason"

# ---------------------------------------------------------------- cancelling a waiting task
fq_submit id P role code delay 60 prompt "papa, delayed" >/dev/null
fq_submit id W role code after P prompt "whiskey waits for {{P}}" >/dev/null
fq_wait_for 10 fq_status_is W waiting || fq_fail "W is not waiting"
fq_ctl cancel W
fq_assert_eq "$CTL_RC" 0 "fleetqctl cancel of a waiting task"
fq_assert_eq "$(fq_done_status W)" cancelled "the waiting task"
fq_ctl cancel P
fq_assert_eq "$(fq_done_status P)" cancelled "its parent"
fq_assert_eq "$(requests_with "whiskey")" 0 "requests for the cancelled waiting task"
# requeued, a task that never ran waits for its parents again
fq_ctl requeue W
fq_assert_eq "$CTL_RC" 0 "requeue of the cancelled waiting task"
fq_assert_eq "$(fq_done_status W)" cancelled "requeued while its parent is cancelled"
fq_assert_eq "$(row W error)" "parent P cancelled: cancelled by operator" "its reason"
fq_ctl requeue P
fq_assert_eq "$(fq_done_status P 30)" done "the parent, requeued"
fq_ctl requeue W
fq_assert_eq "$(fq_done_status W 30)" done "the child, requeued once its parent is done"
fq_assert_eq "$(request_with "whiskey")" "whiskey waits for $(row P output)" \
    "the requeued child's prompt as sent"

# nothing is left waiting to be resolved, and the children sets live no
# longer than their parents' hashes
resolving_empty() { [ "$(fq_redis SCARD 'fleetq:{q}:resolving')" = 0 ]; }
fq_wait_for 10 resolving_empty || fq_fail "the resolving set is not empty"
ttl=$(fq_redis TTL fleetq:children:A)
[ "$ttl" -gt 0 ] || fq_fail "fleetq:children:A has no ttl ($ttl)"
fq_pass
