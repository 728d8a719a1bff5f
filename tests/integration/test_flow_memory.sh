#!/usr/bin/env bash
# The fleet's memory: every done task is in SQLite's FTS5 index;
# fleetqctl search (and sqlite3 MATCH) find earlier results by their
# words, a role, a limit, in text and JSON; a task with `recall` and a
# memory task (its prompt as the query) are given the best matches as
# context, which their provider request carries, and SQLite records what
# was recalled; `recall off` gives none.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 20 --request-log "$FQ_TMP/requests.jsonl"
export FLEETQ_RECALL_K=2
fq_start_coordinator
for r in code quality memory; do fq_start_worker "$r" --concurrency 2; done

row() { fq_sql "SELECT $2 FROM tasks WHERE id = '$1'"; }
# the system message of the request whose user message starts with $1
system_of() {
    jq -r --arg p "$1" 'select(.messages[-1].content | startswith($p)) | .messages[0].content' \
        "$FQ_TMP/requests.jsonl"
}

fq_submit id z1 role code prompt "zebra migration patterns across the savanna" >/dev/null
fq_submit id z2 role quality prompt "zebra stripes and their genetics" >/dev/null
fq_submit id q1 role code prompt "quantum widget assembly instructions" >/dev/null
for t in z1 z2 q1; do fq_assert_eq "$(fq_done_status $t 30)" done "task $t"; done

# ---------------------------------------------------------------- search
fq_assert_eq "$(fq_sql "SELECT group_concat(id, ',') FROM (SELECT t.id FROM tasks_fts JOIN tasks AS t ON t.rowid = tasks_fts.rowid WHERE tasks_fts MATCH 'zebra' ORDER BY t.id)")" \
    "z1,z2" "sqlite3 MATCH"
fq_ctl search zebra
fq_assert_eq "$CTL_RC" 0 "fleetqctl search"
fq_assert_eq "$(cut -f1 <<<"$CTL_OUT" | sort | xargs)" "z1 z2" "what search found"
fq_assert_contains "$CTL_OUT" "$(printf 'z1\tcode\t')" "a line: id, role, time, output"
fq_ctl search zebra --role quality
fq_assert_eq "$(cut -f1 <<<"$CTL_OUT" | xargs)" z2 "search --role"
fq_ctl search "zebra OR quantum" --limit 1
fq_assert_eq "$(wc -l <<<"$CTL_OUT")" 1 "search --limit 1"
fq_ctl search "quantum widget" --json
fq_assert_eq "$(jq -r '.[0].id + " " + .[0].role + " " + .[0].prompt' <<<"$CTL_OUT")" \
    "q1 code quantum widget assembly instructions" "search --json"
fq_ctl search 'what about "zebra stripes?'    # not an FTS5 query: its words
fq_assert_eq "$CTL_RC" 0 "search with text that is not an FTS5 query"
fq_assert_contains "$CTL_OUT" "z2" "what it found"
fq_ctl search nothingmatchesthis
fq_assert_eq "$CTL_RC:$CTL_OUT" "0:" "a search that finds nothing"
FLEETQ_DB=$FQ_TMP/none.db fq_ctl search zebra
fq_assert_eq "$CTL_RC" 3 "search without a store"
fq_assert_contains "$CTL_ERR" "cannot open FLEETQ_DB" "its message"

# ---------------------------------------------------------------- recall
fq_submit id r1 role code recall "zebra migration" prompt "plan a nature film" >/dev/null
fq_assert_eq "$(fq_done_status r1 30)" done "a task with recall"
sys=$(system_of "plan a nature film")
fq_assert_contains "$sys" "Earlier results that may help" "its request's context"
fq_assert_contains "$sys" "task z1 (code," "the best match, attached"
fq_assert_contains "$sys" "$(row z1 output | head -c 60)" "the match's output"
[[ "$sys" != *"task q1"* ]] || fq_fail "a result that does not match was attached"
fq_assert_eq "$(row r1 recalled | jq -r '.[0]')" z1 "what SQLite records as recalled"
fq_assert_eq "$(fq_sql "SELECT group_concat(recalled_id, ',') FROM task_recalls WHERE task_id = 'r1'")" \
    "$(row r1 recalled | jq -r 'join(",")')" "the task_recalls view"
fq_assert_le "$(row r1 recalled | jq length)" 2 "results recalled (FLEETQ_RECALL_K)"

# a memory task recalls by its prompt, unless recall off
fq_submit id m1 role memory prompt "what do we know about quantum widgets?" >/dev/null
fq_submit id m2 role memory recall off prompt "quantum widgets again, without memory" >/dev/null
fq_assert_eq "$(fq_done_status m1 30)" done "a memory task"
fq_assert_eq "$(fq_done_status m2 30)" done "a memory task with recall off"
fq_assert_contains "$(system_of "what do we know")" "task q1 (code," "the memory task's context"
fq_assert_eq "$(row m1 recalled | jq -r '.[0]')" q1 "what the memory task recalled"
[[ "$(system_of "quantum widgets again")" != *"Earlier results"* ]] ||
    fq_fail "recall off was given context"
fq_assert_eq "$(row m2 recalled)" "" "recall off recalls nothing"

# a code task without recall gets none
[[ "$(system_of "zebra migration patterns")" != *"Earlier results"* ]] ||
    fq_fail "a task without recall was given context"
fq_pass
