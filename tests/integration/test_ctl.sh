#!/usr/bin/env bash
# fleetqctl against a live fleet, every command: submit (the id printed,
# --wait to done and to rejected, a VALUE from stdin, --wait running out),
# result (text and JSON, done, rejected, unfinished, unknown; --follow of a
# stream written by hand: deltas as they come, a retried attempt, done,
# failed, and a task without a stream), status
# (queued, delayed, retrying, running and live workers by role, quota,
# budget; text that fits 80 columns), watch (a batch of 30 draining: N/30 on every screen,
# --count, SIGTERM), resume (a real pause from a rejected key, lifted, then
# the key fixed with SIGHUP; a real pause from spent credits that only
# resume lifts; an open circuit breaker closed with --breaker); --help of
# every command, usage errors (2) and an unreachable Redis (3).
. "$(dirname "$0")/lib.sh"

COMMANDS="submit result status watch events dead requeue cancel flow search resume settings"

jqo() { jq -r "$1" <<<"$CTL_OUT"; }   # a field of the JSON fleetqctl printed
quota_empty() { [ -z "$(fq_quota "$1")" ]; }
# Stops every program but Redis and waits for them (workers deregister
# from Redis as they stop), so the next fq_reset_fleet is quick.
stop_fleet() {
    local pid
    for pid in "${FQ_PIDS[@]}"; do
        [ "$pid" = "$FQ_REDIS_PID" ] || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${FQ_PIDS[@]}"; do
        [ "$pid" = "$FQ_REDIS_PID" ] || wait "$pid" 2>/dev/null || true
    done
}
# the lines of text output longer than 80 columns, and escape characters
too_wide() { awk 'length($0) > 80' <<<"$1"; }
has_escape() { grep -q $'\033' <<<"$1"; }

# ---------------------------------------------------------------- the CLI itself
fq_ctl --help
fq_assert_eq "$CTL_RC" 0 "fleetqctl --help"
global_help=$CTL_OUT
for c in $COMMANDS; do
    line=$(grep -E "^  $c +[a-z]" <<<"$global_help") || fq_fail "fleetqctl --help lacks $c: $global_help"
    [ "$(wc -w <<<"$line")" -ge 4 ] || fq_fail "no summary for $c in: $line"
    fq_ctl "$c" --help
    fq_assert_eq "$CTL_RC" 0 "fleetqctl $c --help"
    fq_assert_contains "$CTL_OUT" "Usage: fleetqctl $c" "fleetqctl $c --help"
    [ -z "$(too_wide "$CTL_OUT")" ] || fq_fail "fleetqctl $c --help is wider than 80: $(too_wide "$CTL_OUT")"
    fq_ctl help "$c"
    fq_assert_eq "$CTL_RC" 0 "fleetqctl help $c"
done
fq_ctl help
fq_assert_eq "$CTL_RC" 0 "fleetqctl help"
[ -z "$(too_wide "$CTL_OUT")" ] || fq_fail "fleetqctl help is wider than 80: $(too_wide "$CTL_OUT")"
fq_assert_contains "$CTL_OUT" "4 it ended" "exit status 4 in the global help"
for cmd in "status --bogus" "status --json extra" "watch --bogus" "watch --interval 0" \
        "watch --interval soon" "watch --count 0" "result --bogus x" "result" "result a b" \
        "resume --bogus" "resume now" "submit --bogus role code prompt x" "submit" \
        "submit role code prompt" "submit role code prompt x --wait=soon" \
        "submit role - prompt -" "submit - code" "submit --role" "submit --role code --prompt" \
        "submit --rol code --prompt x"; do
    # shellcheck disable=SC2086
    fq_ctl $cmd </dev/null
    fq_assert_eq "$CTL_RC" 2 "fleetqctl $cmd (a usage error)"
done
fq_ctl submit --rol code --prompt x
fq_assert_contains "$CTL_ERR" "unknown option --rol (fields are FIELD VALUE or --FIELD VALUE, for: role, prompt," \
    "a misspelt --FIELD"
fq_ctl submit role code '' x
fq_assert_eq "$CTL_RC" 2 "an empty field name"
fq_assert_contains "$CTL_ERR" "empty field name" "the message for an empty field name"
closed=$(fq_free_port)
for cmd in "submit role code prompt x" "submit role code prompt x --wait 5" "result x" \
        "result --follow x" "status" "status --json" "watch --count 1" "resume"; do
    # shellcheck disable=SC2086
    REDIS_URL="redis://127.0.0.1:$closed/0" fq_ctl $cmd
    fq_assert_eq "$CTL_RC" 3 "fleetqctl $cmd with Redis on a closed port"
    fq_assert_contains "$CTL_ERR" "cannot reach Redis" "fleetqctl $cmd, the message"
done

# ---------------------------------------------------------------- submit and result
fq_start_redis
fq_start_mock --latency-ms 5
export GROK_RATE_LIMIT_RPM=600 DAILY_BUDGET_USD=20 FLEETQ_BACKOFF_BASE_MS=30000
fq_start_coordinator
fq_start_worker code --concurrency 2
code_worker=$FQ_LAST_PID

fq_ctl submit role code prompt "first task"
fq_assert_eq "$CTL_RC" 0 "submit"
grep -qE '^[0-9]+-[0-9]+$' <<<"$CTL_OUT" || fq_fail "submit printed '$CTL_OUT', not an entry id"
first=$CTL_OUT
fq_assert_eq "$(fq_done_status "$first")" done "the task submit printed the id of"
fq_assert_eq "$(fq_sql "SELECT role || ' ' || prompt FROM tasks WHERE id = '$first'")" \
    "code first task" "the task submit wrote"
# once stored, the hash keeps what a client following the task needs, not its prompt
fq_assert_eq "$(fq_redis HMGET "fleetq:task:$first" role status prompt | xargs)" "code done" \
    "the stored task's hash"

fq_ctl submit id s-wait role code prompt "wait for me" --wait 30
fq_assert_eq "$CTL_RC" 0 "submit --wait of a task that ends done"
fq_assert_eq "$(head -n 1 <<<"$CTL_OUT")" s-wait "submit --wait prints the id first"
fq_assert_contains "$CTL_OUT" "status:    done" "submit --wait shows the status"
fq_assert_contains "$CTL_OUT" "Mock answer to: wait for me" "submit --wait shows the output"
fq_assert_eq "$(fq_sql "SELECT status FROM tasks WHERE id='s-wait'")" done \
    "the row is in SQLite when submit --wait returns"

fq_ctl submit --json role code prompt "as json" id s-json --wait
fq_assert_eq "$CTL_RC" 0 "submit --json --wait"
fq_assert_eq "$(jqo '.id + " " + .status + " " + (.final | tostring)')" "s-json done true" \
    "submit --json --wait"
fq_assert_contains "$(jqo .output)" "Mock answer to: as json" "the output in JSON"
fq_ctl submit --json role code prompt "no wait" id s-nowait
fq_assert_eq "$(jqo '.id')" s-nowait "submit --json prints the id"
grep -qE '^[0-9]+-[0-9]+$' <<<"$(jqo .entry)" || fq_fail "submit --json: no entry id in $CTL_OUT"

# what the coordinator would reject is refused before it is sent, with
# the coordinator's reason (the same code) and exit 2
entries=$(fq_redis XINFO STREAM fleetq:submit | awk 'p { print; exit } /^entries-added$/ { p = 1 }')
fq_ctl submit role nosuchrole prompt "x" id s-bad --wait 30
fq_assert_eq "$CTL_RC" 2 "submit of a task with a bad role"
fq_assert_contains "$CTL_ERR" 'role: must be one of ceo, code, quality, memory, got "nosuchrole"' \
    "the coordinator's reason"
fq_ctl submit role code
fq_assert_eq "$CTL_RC" 2 "submit without a prompt"
fq_assert_contains "$CTL_ERR" "not sent, the coordinator would reject it: prompt" "the reason"
fq_ctl submit role code prompt x max_tokens lots
fq_assert_eq "$CTL_RC" 2 "submit with a bad max_tokens"
fq_assert_contains "$CTL_ERR" "max_tokens: must be an integer" "the reason"
fq_assert_eq "$(fq_redis XINFO STREAM fleetq:submit | awk 'p { print; exit } /^entries-added$/ { p = 1 }')" \
    "$entries" "entries added to the submit stream by refused submissions"
fq_assert_eq "$(fq_redis EXISTS fleetq:task:s-bad)" 0 "a task hash for a refused submission"
# the same sent with redis-cli is rejected by the coordinator, for result below
fq_submit role nosuchrole prompt "x" id s-bad >/dev/null
fq_wait_for 10 fq_status_is s-bad rejected || fq_fail "s-bad was not rejected"

# what a submission wrote, from its row (once stored, Redis keeps no prompt)
stored_prompt() { fq_sql "SELECT prompt FROM tasks WHERE id = '$1'"; }

# a value from stdin, with line breaks, quotes and what looks like an option
prompt=$'first line\n--json "quoted" and \\ back\nlast line'
fq_ctl submit role code id s-stdin prompt - --wait 30 <<<"$prompt"
fq_assert_eq "$CTL_RC" 0 "submit with the prompt from stdin"
fq_assert_eq "$(stored_prompt s-stdin)" "$prompt" \
    "the prompt read from stdin (the trailing line break dropped)"
fq_assert_contains "$CTL_OUT" "Mock answer to: first line" "the answer to the prompt from stdin"
# a VALUE that looks like an option is a value
fq_ctl submit role code id s-dash prompt --json
fq_assert_eq "$CTL_OUT" s-dash "submit with a value that looks like an option"
fq_assert_eq "$(fq_done_status s-dash)" done "the task whose prompt is --json"
fq_assert_eq "$(stored_prompt s-dash)" "--json" "a value is never an option"
# fields as options, --FIELD VALUE and --FIELD=VALUE, mixed with pairs; the
# value after --prompt is a value even when it looks like an option
# (the mock answers with 500 completion tokens, capped by max_tokens)
fq_mock_config '{"completion_tokens": 500}'
fq_ctl submit --role code --prompt "as options" --id=s-opts --max_tokens 50 --wait 30
fq_mock_config '{"completion_tokens": -1}'
fq_assert_eq "$CTL_RC" 0 "submit --role code --prompt ..."
fq_assert_eq "$(head -n 1 <<<"$CTL_OUT")" s-opts "the id given as --id=s-opts"
fq_assert_eq "$(fq_sql "SELECT role || ' ' || prompt || ' ' || completion_tokens FROM tasks
    WHERE id = 's-opts'")" "code as options 50" "the fields given as options"
fq_ctl submit id s-mixed --priority=high role code --prompt --wait
fq_assert_eq "$CTL_OUT" s-mixed "submit with both forms"
fq_assert_eq "$(fq_done_status s-mixed)" done "the task given in both forms"
fq_assert_eq "$(fq_sql "SELECT priority || ' ' || prompt FROM tasks WHERE id = 's-mixed'")" \
    "2 --wait" \
    "--priority=high and a --prompt whose value looks like an option"
fq_ctl submit --role code --prompt - --id s-opt-stdin --wait 30 <<<"from stdin"
fq_assert_eq "$(stored_prompt s-opt-stdin)" "from stdin" "--prompt - reads stdin"
# the id inside a json field
fq_ctl submit json '{"role":"code","prompt":"in json","id":"s-in-json"}' --wait 30
fq_assert_eq "$CTL_RC" 0 "submit of one json field"
fq_assert_eq "$(head -n 1 <<<"$CTL_OUT")" s-in-json "the id inside the json field"
# a repeated id is not run twice, nor sent: exit 6 and the task's status
fq_ctl submit id s-wait role code prompt "again" --wait 10
fq_assert_eq "$CTL_RC" 6 "submit of a repeated id"
fq_assert_contains "$CTL_ERR" "task s-wait exists already (done) and is not run again; nothing was sent" \
    "the note about a repeated id"
fq_assert_eq "$(fq_sql "SELECT prompt FROM tasks WHERE id = 's-wait'")" "wait for me" "the first run's prompt"
# sent past fleetqctl, the coordinator drops it, and its log names the task
fq_submit id s-wait role code prompt "again, raw" >/dev/null
fq_wait_for 10 grep -q '"event":"intake.duplicate","task":"s-wait","status":"done"' "$FQ_TMP/coordinator.log" ||
    fq_fail "the coordinator's line about a repeated id does not name it"

# --wait running out: a delayed task
start=$(date +%s)
fq_ctl submit id s-later role code prompt "later" delay 600 --wait 1
fq_assert_eq "$CTL_RC" 5 "submit --wait that runs out"
fq_assert_contains "$CTL_ERR" "still delayed" "the message when --wait runs out"
fq_assert_le "$(( $(date +%s) - start ))" 4 "seconds submit --wait 1 took"
fq_ctl submit --json id s-later2 role code prompt "later" delay 600 --wait 0.5
fq_assert_eq "$CTL_RC" 5 "submit --json --wait that runs out"
fq_assert_eq "$(jqo '.id + " " + .status + " " + (.final | tostring)')" "s-later2 delayed false" \
    "submit --json --wait that runs out: the task as it stands"

fq_ctl result s-wait
fq_assert_eq "$CTL_RC" 0 "result of a done task"
fq_assert_eq "$(head -n 1 <<<"$CTL_OUT")" "id:        s-wait" "the first line of result"
for want in "status:    done" "role:      code, priority 4" "model:     grok-code-fast-1" \
        "attempts:  1 of 4" "finished:  20" "Mock answer to: wait for me"; do
    fq_assert_contains "$CTL_OUT" "$want" "result of s-wait"
done
grep -qE '^cost:      \$0\.[0-9]{6}$' <<<"$CTL_OUT" || fq_fail "no cost line in: $CTL_OUT"
grep -qE '^tokens:    [1-9][0-9]* prompt' <<<"$CTL_OUT" || fq_fail "no tokens line in: $CTL_OUT"
fq_assert_eq "$(sed -n '/^$/,$p' <<<"$CTL_OUT" | sed 1d)" \
    "$(fq_sql "SELECT output FROM tasks WHERE id='s-wait'")" "the output after the headers"
fq_ctl result s-wait --json
fq_assert_eq "$CTL_RC" 0 "result --json of a done task"
fq_assert_eq "$(jqo '[.id, .status, .final, .role, .priority, .model, .attempts,
    .max_attempts, .error] | map(tostring) | join(" ")')" \
    "s-wait done true code 4 grok-code-fast-1 1 4 null" "result --json of s-wait"
fq_assert_eq "$(jqo '.prompt_tokens > 0 and .completion_tokens > 0 and .cost_usd > 0
    and .latency_ms >= 0 and (.finished_at | test("^20..-..-..T..:..:..\\.[0-9]{3}Z$"))
    and .submitted_at <= .finished_at and (.worker | endswith(":code"))')" true \
    "figures of result --json"
fq_assert_eq "$(jqo .output)" "$(fq_sql "SELECT output FROM tasks WHERE id='s-wait'")" \
    "the output in result --json"
fq_assert_eq "$(jqo .cost_usd)" "$(fq_sql "SELECT cost_usd FROM tasks WHERE id='s-wait'")" \
    "the cost in result --json and in SQLite"

fq_ctl result s-bad
fq_assert_eq "$CTL_RC" 4 "result of a rejected task"
fq_assert_contains "$CTL_OUT" "error:     role: must be one of" "the error in result"
fq_ctl result s-later --json
fq_assert_eq "$CTL_RC" 5 "result of a task that has not ended"
fq_assert_eq "$(jqo '.status + " " + (.final | tostring) + " " + (.output | tostring)')" \
    "delayed false null" "result --json of a delayed task"
fq_ctl result no-such-task
fq_assert_eq "$CTL_RC" 1 "result of an unknown id"
fq_assert_contains "$CTL_ERR" "no such task" "the message for an unknown id"
fq_assert_contains "$CTL_ERR" "SQLite" "the message points at SQLite"
fq_assert_eq "$CTL_OUT" "" "nothing on stdout for an unknown id"
fq_ctl result 'not an id!'
fq_assert_eq "$CTL_RC" 1 "result of something that is not an id"

# ---------------------------------------------------------------- status
# 5 memory tasks nobody serves, s-later delayed, one code task retrying
# (every call fails and the retry is 15-30 s away), one running slowly.
fq_submit_n 5 mem memory
fq_mock_config '{"fail_rate": 1}'
fq_submit id s-retry role code prompt "fails once" >/dev/null
fq_wait_for 15 fq_status_is s-retry retrying || fq_fail "s-retry not retrying"
fq_mock_config '{"fail_rate": 0, "latency_ms": 4000}'
fq_submit id s-slow role code prompt "slow" >/dev/null
fq_wait_for 15 fq_status_is s-slow running || fq_fail "s-slow not running"
# running (claimed) comes before the call's slot: wait for the call itself
fq_wait_for 10 fq_mock_inflight_is 1 || fq_fail "s-slow's call is not at the provider"
fq_wait_for 10 fq_zcard_is 'fleetq:{q}:ready:memory' 5 ||
    fq_fail "the memory tasks are not queued"

fq_ctl status --json
fq_assert_eq "$CTL_RC" 0 "status --json"
fq_assert_eq "$(jqo '.roles.memory | [.queued, .delayed, .retrying, .running] | join(" ")')" \
    "5 0 0 0" "status --json: memory"
fq_assert_eq "$(jqo '.roles.code | [.queued, .delayed, .retrying, .running] | join(" ")')" \
    "0 3 1 1" "status --json: code (delayed counts s-later, s-later2 and s-retry)"
fq_assert_eq "$(jqo '[.roles.ceo, .roles.quality] | map(.queued + .delayed + .running) | add')" \
    0 "status --json: ceo and quality"
fq_assert_eq "$(jqo '.all | [.queued, .delayed, .retrying, .running] | join(" ")')" \
    "5 3 1 1" "status --json: all"
# s-slow's call is at the provider: running, and calling
fq_assert_eq "$(jqo '[.roles.code.calling, .roles.code.waiting_quota, .all.calling,
    .all.waiting_quota, .roles.memory.calling] | join(" ")')" "1 0 1 0 0" \
    "status --json: the running task calling"
fq_assert_eq "$(jqo '.dead')" 0 "status --json: dead letters"
fq_assert_eq "$(jqo '.quota | [.rate_limiting, .rpm_ceiling, .rate_per_s, .paused,
    .pause_reason, .breaker, .frozen, .inflight] | map(tostring) | join(" ")')" \
    "on 600 10 null null closed false 1" "status --json: the quota"
fq_assert_eq "$(jqo '.quota.window_requests >= 1 and .quota.breaker_failures >= 1')" true \
    "status --json: this minute's calls and the failure in a row"
fq_assert_eq "$(jqo '.budget.cap_usd == 20 and .budget.spent_usd > 0
    and (.budget.left_usd - (20 - .budget.spent_usd - .budget.reserved_usd) | fabs) < 1e-9')" \
    true "status --json: the budget"
fq_assert_eq "$(jqo '.budget.spent_usd')" \
    "$(awk -v t="$(fq_quota budget_spent_ticks)" 'BEGIN { print t / 1e10 }')" \
    "status --json: spent as in fleetq:quota"
# live workers: the registry the workers keep (heartbeat.lua)
fq_assert_eq "$(jqo '[.roles[].workers] | join(" ")')" "0 1 0 0" \
    "status --json: live workers (one code worker)"
fq_assert_eq "$(jqo '.all.workers + .workers.live')" 2 "status --json: live workers in all"

fq_ctl status
fq_assert_eq "$CTL_RC" 0 "status"
[ -z "$(too_wide "$CTL_OUT")" ] || fq_fail "status is wider than 80 columns: $(too_wide "$CTL_OUT")"
! has_escape "$CTL_OUT" || fq_fail "escape characters in status written to a file"
fq_assert_eq "$(grep -E '^memory ' <<<"$CTL_OUT" | xargs)" "memory 5 0 0 0 0 0 0" \
    "the memory line of status"
fq_assert_eq "$(grep -E '^code ' <<<"$CTL_OUT" | xargs)" "code 0 3 1 1 1 0 1" \
    "the code line of status"
fq_assert_contains "$CTL_OUT" "workers       1 live" "the workers line of status"
fq_assert_contains "$CTL_OUT" "ceiling 600/min" "the rate line of status"
fq_assert_contains "$CTL_OUT" "of \$20.00" "the budget line of status"
fq_assert_contains "$CTL_OUT" "paused        no" "the pause line of status"
fq_assert_contains "$CTL_OUT" "in flight     1 call; 0 running tasks waiting for the quota" \
    "the in-flight line of status"

fq_mock_config '{"latency_ms": 5}'
fq_assert_eq "$(fq_done_status s-slow)" done "the slow task"
fq_ctl cancel s-retry s-later s-later2 mem-1 mem-2 mem-3 mem-4 mem-5
fq_assert_eq "$CTL_RC" 0 "cancel of the tasks left over"
fq_ctl status --json
fq_assert_eq "$(jqo '.all | [.queued, .delayed, .running] | join(" ")')" "0 0 0" \
    "status --json once nothing is left"

# ---------------------------------------------------------------- watch
# 30 quality tasks queued; the watches start, then a worker drains them.
fq_submit_n 30 batch quality
fq_wait_for 10 fq_zcard_is 'fleetq:{q}:ready:quality' 30 ||
    fq_fail "the batch is not queued"
"$FQ_CTL" watch --interval 0.5 >"$FQ_TMP/watch-long.out" 2>>"$FQ_TMP/ctl.log" &
long_watch=$!
"$FQ_CTL" watch --count 2 --interval 0.5 >"$FQ_TMP/watch.out" 2>>"$FQ_TMP/ctl.log" &
short_watch=$!
FQ_PIDS+=("$long_watch" "$short_watch")
fq_wait_for 10 grep -q '^progress' "$FQ_TMP/watch-long.out" || fq_fail "no screen from watch"
fq_wait_for 10 grep -q '^progress' "$FQ_TMP/watch.out" || fq_fail "no screen from watch --count"
fq_mock_config '{"latency_ms": 60}'
fq_start_worker quality --concurrency 4

set +e; wait "$short_watch"; rc=$?; set -e
fq_assert_eq "$rc" 0 "watch --count 2"
out=$(cat "$FQ_TMP/watch.out")
fq_assert_eq "$(grep -c '^ROLE ' <<<"$out")" 2 "screens of watch --count 2"
fq_assert_eq "$(grep -c '^$' <<<"$out")" 5 "blank lines (2 per screen, 1 between screens)"
progress=$(grep '^progress' <<<"$out")
fq_log "watch --count 2: $(paste -sd'|' <<<"$progress")"
fq_assert_eq "$(grep -cE '^progress +[0-9]+/30 ended \[[#.]{30}\] +[0-9]+%$' <<<"$progress")" 2 \
    "progress lines of watch --count 2 in N/30 form"
fq_assert_contains "$(head -n 1 <<<"$progress")" " 0/30 ended" "the first progress line"
[ -z "$(too_wide "$out")" ] || fq_fail "watch is wider than 80 columns: $(too_wide "$out")"
! has_escape "$out" || fq_fail "escape characters in watch written to a file"

fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id GLOB 'batch-*' AND status='done'" 30
fq_wait_for 10 grep -q '30/30 ended' "$FQ_TMP/watch-long.out" || fq_fail "watch never showed 30/30"
kill -TERM "$long_watch"
set +e; wait "$long_watch"; rc=$?; set -e
fq_assert_eq "$rc" 0 "watch stopped by SIGTERM"
progress=$(grep '^progress' "$FQ_TMP/watch-long.out")
fq_log "watch until SIGTERM: $(wc -l <<<"$progress") screens, $(grep -o '[0-9]*/30' <<<"$progress" | paste -sd' ')"
fq_assert_eq "$(grep -cvE '^progress +[0-9]+/30 ended ' <<<"$progress")" 0 \
    "every progress line counts to 30 (ended since start + outstanding)"
fq_assert_eq "$(grep -oE '[0-9]+/30' <<<"$progress" | cut -d/ -f1 | sort -n -c && echo sorted)" \
    sorted "the ended count never goes down"
fq_assert_eq "$(grep -E '^quality ' "$FQ_TMP/watch-long.out" | tail -n 1 | xargs)" \
    "quality 0 0 0 0 0 0 1" "the quality line once drained (with its live worker)"

fq_submit_n 2 mem2 memory
fq_wait_for 10 fq_zcard_is 'fleetq:{q}:ready:memory' 2 ||
    fq_fail "the memory tasks are not queued"
fq_ctl watch --count 1 --json
fq_assert_eq "$CTL_RC" 0 "watch --json"
fq_assert_eq "$(jqo '[.progress.ended, .progress.total, .roles.memory.queued] | join(" ")')" \
    "0 2 2" "watch --json: progress and queues"
kill -0 "$FQ_COORD_PID" || fq_fail "the coordinator died"

# ---------------------------------------------------------------- events
fq_ctl events --last 5
fq_assert_eq "$CTL_RC" 0 "events"
fq_assert_eq "$(wc -l <<<"$CTL_OUT")" 5 "events --last 5"
grep -qE '^20[0-9-]+T[0-9:.]+Z [^ ]+ (queued|running|done|delayed|retrying|failed|rejected|cancelled|expired|waiting|duplicate)( |$)' \
    <<<"$CTL_OUT" || fq_fail "events: not 'time task status ...' in: $CTL_OUT"
# followed: a task's changes appear as they happen, in order
"$FQ_CTL" events --follow --last 0 --json >"$FQ_TMP/events.out" 2>>"$FQ_TMP/ctl.log" &
follower=$!
sleep 0.5
fq_submit role quality id ev-1 prompt "watch my events" >/dev/null
fq_wait_for 20 grep -q '"id":"ev-1","status":"done"' "$FQ_TMP/events.out" ||
    fq_fail "events --follow did not show ev-1 done: $(cat "$FQ_TMP/events.out")"
kill -0 "$follower" || fq_fail "events --follow stopped by itself"
kill -TERM "$follower"   # (a background job ignores SIGINT)
wait "$follower" || true
fq_assert_eq "$(jq -r 'select(.id == "ev-1") | .status' "$FQ_TMP/events.out" | paste -sd' ')" \
    "queued running done" "ev-1's events, followed"
fq_ctl events --bogus
fq_assert_eq "$CTL_RC" 2 "events --bogus"

# ---------------------------------------------------------------- resume: a rejected key
stop_fleet
fq_reset_fleet
unset FLEETQ_BACKOFF_BASE_MS
fq_log "resume: a rejected key"
fq_start_redis
fq_start_mock --latency-ms 20          # the valid key is $FQ_KEY
keyfile=$FQ_TMP/xai_api_key
printf '%s\n' "wrong-key-$RANDOM$RANDOM" >"$keyfile"
unset XAI_API_KEY
export XAI_API_KEY_FILE=$keyfile
fq_start_coordinator
fq_ctl resume
fq_assert_eq "$CTL_RC:$CTL_OUT" "0:not paused" "resume of a fleet that is not paused"
fq_submit_n 10 key code
workers=()
for _ in 1 2; do fq_start_worker code --concurrency 2; workers+=("$FQ_LAST_PID"); done
fq_wait_for 15 fq_quota_is paused key_rejected ||
    fq_fail "fleetq:quota paused is '$(fq_quota paused)', expected key_rejected"
reason=$(fq_quota pause_reason)
[ -n "$reason" ] || fq_fail "no pause_reason"
fq_ctl status --json
fq_assert_eq "$(jqo .quota.paused)" key_rejected "status --json: paused"
fq_assert_eq "$(jqo .quota.pause_reason)" "$reason" "status --json: pause_reason"
fq_assert_eq "$(jqo '.quota.paused_at_ms > 0')" true "status --json: paused_at_ms"
fq_ctl status
fq_assert_contains "$CTL_OUT" "paused        key_rejected since " "status: the pause"
[ -z "$(too_wide "$CTL_OUT")" ] || fq_fail "status is wider than 80 columns: $(too_wide "$CTL_OUT")"

# The workers are held still while the pause is lifted, so that none of
# them calls with the wrong key (and pauses the fleet again) before it is
# checked.
printf '%s\n' "$FQ_KEY" >"$keyfile"
for pid in "${workers[@]}"; do kill -STOP "$pid"; done
fq_ctl resume
fq_assert_eq "$CTL_RC" 0 "resume"
fq_assert_contains "$CTL_OUT" "resumed: the fleet was paused (key_rejected: $reason) since 20" \
    "what resume says"
fq_assert_eq "$(fq_quota paused)|$(fq_quota pause_reason)" "|" "paused after resume"
fq_assert_ge "$(fq_quota resumed_at_ms)" "$(fq_quota paused_at_ms)" "resumed_at_ms"
fq_ctl status --json
fq_assert_eq "$(jqo '.quota.paused')" null "status --json after resume"
fq_ctl resume
fq_assert_eq "$CTL_RC:$CTL_OUT" "0:not paused" "resume again"
for pid in "${workers[@]}"; do kill -CONT "$pid"; kill -HUP "$pid"; done
fq_wait_sql 40 "SELECT count(*) FROM tasks WHERE status='done'" 10
for f in "$FQ_TMP"/ctl.log "$FQ_TMP"/ctl.out "$FQ_TMP"/watch*.out; do
    ! grep -qF -- "$FQ_KEY" "$f" || fq_fail "the key appears in $(basename "$f")"
done
unset XAI_API_KEY_FILE
export XAI_API_KEY=$FQ_KEY
stop_fleet
fq_reset_fleet

# ---------------------------------------------------------------- resume: no credits
# The probe would come after 300 s: only resume lets the tasks run now.
fq_log "resume: no credits"
fq_start_redis
fq_start_mock --latency-ms 20 --credits-usd 0.0001 --credits-status 403 \
    --completion-tokens 300 --reasoning-tokens 0
fq_start_coordinator
fq_submit_n 6 nc memory
fq_start_worker memory --concurrency 2
fq_wait_for 15 fq_quota_is paused no_credits ||
    fq_fail "fleetq:quota paused is '$(fq_quota paused)', expected no_credits"
sleep 1
fq_assert_le "$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")" 2 \
    "tasks done while out of credits"
fq_mock_config '{"credits_usd": 100}'
fq_ctl resume
fq_assert_eq "$CTL_RC" 0 "resume after no credits"
fq_assert_contains "$CTL_OUT" "resumed: the fleet was paused (no_credits: " "what resume says"
fq_wait_sql 20 "SELECT count(*) FROM tasks WHERE status='done'" 6
stop_fleet
fq_reset_fleet

# ---------------------------------------------------------------- resume --breaker
fq_log "resume --breaker"
fq_start_redis
fq_start_mock --latency-ms 5 --fail-rate 1
export FLEETQ_BREAKER_THRESHOLD=2 FLEETQ_BREAKER_COOLDOWN_MS=60000 FLEETQ_BACKOFF_BASE_MS=50
fq_start_coordinator
fq_submit_n 3 br ceo
fq_start_worker ceo --concurrency 2
fq_wait_for 15 fq_mquota_is grok-4 breaker open || fq_fail "the breaker did not open"
fq_ctl status --json
fq_assert_eq "$(jqo '.quota.breaker + " " + (.quota.breaker_failures >= 2 | tostring)')" \
    "open true" "status --json: the open breaker"
fq_ctl status
fq_assert_contains "$CTL_OUT" "breaker       open, next probe in" "status: the open breaker"
fq_mock_config '{"fail_rate": 0}'
fq_ctl resume --breaker
fq_assert_eq "$CTL_RC" 0 "resume --breaker"
fq_assert_eq "$(head -n 1 <<<"$CTL_OUT")" "not paused" "resume --breaker: the pause"
fq_assert_contains "$CTL_OUT" "breaker closed (it was open after " "resume --breaker: the breaker"
fq_assert_eq "$(fq_mquota grok-4 breaker) $(fq_mquota grok-4 breaker_failures)" "closed 0" \
    "the breaker of grok-4 after resume --breaker"
fq_ctl resume --breaker
fq_assert_contains "$CTL_OUT" "breaker already closed" "resume --breaker again"
kill -0 "$FQ_COORD_PID" || fq_fail "the coordinator died"
stop_fleet
fq_reset_fleet

# ---------------------------------------------------------------- result --follow
# The entries a streaming worker appends to fleetq:stream:<id>, added by hand.
fq_log "result --follow"
fq_start_redis
xadd() { fq_redis XADD "fleetq:stream:$1" '*' "${@:2}" >/dev/null; }
# follow_bg ID: `result --follow ID` in the background, its stdout in
# follow.out and stderr in follow.err; follow_wait leaves its exit status
# in FOLLOW_RC
follow_bg() {
    "$FQ_CTL" result --follow "$1" >"$FQ_TMP/follow.out" 2>"$FQ_TMP/follow.err" &
    FOLLOW_PID=$!
}
follow_wait() {
    FOLLOW_RC=0
    wait "$FOLLOW_PID" || FOLLOW_RC=$?
    cat "$FQ_TMP/follow.err" >>"$FQ_TMP/ctl.log"
}
follow_out_is() { [ "$(cat "$FQ_TMP/follow.out"; printf x)" = "${1}x" ]; }   # byte for byte
follow_err_has() { grep -qF -- "$1" "$FQ_TMP/follow.err"; }
following() { kill -0 "$FOLLOW_PID" 2>/dev/null; }

# deltas as they arrive, a failed attempt tried again, then done
xadd f1 attempt 1 delta 'Hel'
follow_bg f1
fq_wait_for 5 follow_out_is 'Hel' || fq_fail "follow did not print the first delta: $(cat "$FQ_TMP/follow.out")"
following || fq_fail "follow stopped before the end entry"
xadd f1 attempt 1 delta 'lo'
fq_wait_for 5 follow_out_is 'Hello' || fq_fail "follow did not print the second delta"
xadd f1 attempt 1 end retry error 'HTTP 503 from the API'
fq_wait_for 5 follow_err_has "fleetqctl: attempt 1 failed (HTTP 503 from the API); the task will be tried again" ||
    fq_fail "no line on stderr for the retried attempt: $(cat "$FQ_TMP/follow.err")"
xadd f1 attempt 2 delta 'Hello, '
fq_wait_for 5 follow_out_is $'Hello\nHello, ' || fq_fail "the next attempt does not start on a new line"
xadd f1 attempt 1 delta 'late piece of attempt 1'
xadd f1 attempt 2 delta 'world'
following || fq_fail "follow stopped before the end entry"
xadd f1 attempt 2 end done model grok-3 finish_reason stop prompt_tokens 5 completion_tokens 3
follow_wait
fq_assert_eq "$FOLLOW_RC" 0 "follow of a task that ends done"
follow_out_is $'Hello\nHello, world\n' || fq_fail "follow printed: $(od -c "$FQ_TMP/follow.out")"
fq_assert_eq "$(wc -l <"$FQ_TMP/follow.err")" 1 "lines on stderr of follow (the retry)"
# once ended, the whole stream again
fq_ctl result --follow f1
fq_assert_eq "$CTL_RC" 0 "follow of a task whose stream has ended"
fq_assert_eq "$CTL_OUT" $'Hello\nHello, world' "follow of an ended stream"
fq_assert_contains "$CTL_ERR" "attempt 1 failed (HTTP 503 from the API)" "follow of an ended stream, stderr"

# an attempt that ends failed
xadd f2 attempt 1 delta 'partial answer'
xadd f2 attempt 1 end failed error 'HTTP 400: bad request' model grok-3
fq_ctl result --follow f2
fq_assert_eq "$CTL_RC" 4 "follow of a task that failed"
fq_assert_eq "$CTL_OUT" "partial answer" "follow of a task that failed, stdout"
fq_assert_contains "$CTL_ERR" "fleetqctl: attempt 1 failed (HTTP 400: bad request); the task has failed" \
    "follow of a task that failed, stderr"

# a stream with no task hash yet: the task exists, follow waits for its end
xadd f3 attempt 1 delta 'early'
follow_bg f3
fq_wait_for 5 follow_out_is 'early' || fq_fail "follow of a stream without a hash"
sleep 2.5   # more than one block and look at the (missing) hash
following || fq_fail "follow gave up on a stream whose task has no hash yet: $(cat "$FQ_TMP/follow.err")"
xadd f3 attempt 1 end done
follow_wait
fq_assert_eq "$FOLLOW_RC" 0 "follow of a stream without a hash"

# no stream: the output from the task's hash, the exit status of result
fq_redis HSET fleetq:task:f4 status done output 'The stored answer' >/dev/null
fq_ctl result --follow f4
fq_assert_eq "$CTL_RC" 0 "follow of a done task without a stream"
fq_assert_eq "$CTL_OUT" "The stored answer" "follow of a done task without a stream"
fq_redis HSET fleetq:task:f5 status failed error 'gave up after 4 attempts' >/dev/null
fq_ctl result --follow f5
fq_assert_eq "$CTL_RC" 4 "follow of a failed task without a stream"
fq_assert_eq "$CTL_OUT" "" "follow of a failed task without output"
fq_assert_contains "$CTL_ERR" "the task ended failed (gave up after 4 attempts)" \
    "follow of a failed task without a stream, stderr"
# a running task whose stream stops short: the rest of the stored output
fq_redis HSET fleetq:task:f6 status running >/dev/null
xadd f6 attempt 1 delta 'The first half'
follow_bg f6
fq_wait_for 5 follow_out_is 'The first half' || fq_fail "follow of f6"
fq_redis HSET fleetq:task:f6 status done output 'The first half, and the rest' >/dev/null
follow_wait
fq_assert_eq "$FOLLOW_RC" 0 "follow of a task whose stream stopped short"
follow_out_is $'The first half, and the rest\n' ||
    fq_fail "follow of a stream that stopped short printed: $(od -c "$FQ_TMP/follow.out")"
# a running task that never streams: its output once it ends
fq_redis HSET fleetq:task:f7 status running >/dev/null
follow_bg f7
sleep 0.5
following || fq_fail "follow of a running task without a stream stopped"
fq_redis HSET fleetq:task:f7 status done output 'no stream here' >/dev/null
follow_wait
fq_assert_eq "$FOLLOW_RC" 0 "follow of a task that did not stream"
follow_out_is $'no stream here\n' || fq_fail "follow of a task that did not stream"

fq_ctl result --follow f-none
fq_assert_eq "$CTL_RC" 1 "follow of an unknown id"
fq_assert_contains "$CTL_ERR" "no such task" "the message for an unknown id, follow"
fq_assert_eq "$CTL_OUT" "" "nothing on stdout for an unknown id, follow"
fq_ctl result --follow --json f1
fq_assert_eq "$CTL_RC" 2 "result --follow --json"
fq_assert_contains "$CTL_ERR" "cannot be combined with --json" "the message for --follow --json"
fq_pass
