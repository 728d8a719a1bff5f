#!/usr/bin/env bash
# Dead letters, requeue and cancellation, through fleetqctl and the submit
# stream: tasks that fail are listed by `fleetqctl dead` (text and JSON) and
# run to done by `fleetqctl requeue` (one id, and --all), with one row per
# task and distinct attempt numbers in SQLite; queued and delayed tasks are
# cancelled (by fleetqctl and by `XADD fleetq:submit * cancel <id>`) and
# never reach the API, a running one is refused and completes; a task whose
# ttl passes before a worker starts it ends expired; the exit codes scripts
# rely on (0, 1, 2, 3).
. "$(dirname "$0")/lib.sh"


requests() { jq .requests <<<"$(fq_mock_stats)"; }
stop_pid() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }

# ---------------------------------------------------------------- the CLI itself
fq_ctl --help
fq_assert_eq "$CTL_RC" 0 "fleetqctl --help"
fq_assert_contains "$CTL_OUT" "requeue" "fleetqctl --help lists the commands"
fq_ctl dead --help
fq_assert_eq "$CTL_RC" 0 "fleetqctl dead --help"
fq_assert_contains "$CTL_OUT" "--json" "fleetqctl dead --help"
fq_ctl --version
fq_assert_eq "$CTL_RC" 0 "fleetqctl --version"
fq_ctl frobnicate
fq_assert_eq "$CTL_RC" 2 "an unknown command"
fq_ctl dead --limit many
fq_assert_eq "$CTL_RC" 2 "a bad --limit"
fq_ctl requeue
fq_assert_eq "$CTL_RC" 2 "requeue without ids"
fq_ctl requeue some-id --all
fq_assert_eq "$CTL_RC" 2 "requeue with ids and --all"
closed=$(fq_free_port)
REDIS_URL="redis://127.0.0.1:$closed/0" fq_ctl dead
fq_assert_eq "$CTL_RC" 3 "Redis on a closed port"
fq_assert_contains "$CTL_ERR" "cannot reach Redis" "the message for a closed port"
REDIS_URL="redis://127.0.0.1:$closed/0" fq_ctl cancel some-id
fq_assert_eq "$CTL_RC" 3 "cancel with Redis on a closed port"
REDIS_URL="http://nowhere" fq_ctl dead
fq_assert_eq "$CTL_RC" 2 "a REDIS_URL that is not one"
fq_assert_contains "$CTL_ERR" "REDIS_URL" "the message names REDIS_URL"

# ---------------------------------------------------------------- dead letters
fq_start_redis
fq_start_mock --latency-ms 5 --fail-rate 1
# one attempt each, and no circuit breaker in the way of the reruns
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 GROK_MAX_RETRIES=0 FLEETQ_BREAKER_THRESHOLD=1000
# the CLI needs no key: prove it by running it without one
ctl_nokey() { env -u XAI_API_KEY -u GROK_API_KEY "$FQ_CTL" "$@" 2>>"$FQ_TMP/ctl.log"; }
fq_start_coordinator
fq_start_worker code --concurrency 2
code_worker=$FQ_LAST_PID

fq_submit_n 4 dl code
for i in 1 2 3 4; do
    fq_assert_eq "$(fq_done_status "dl-$i")" failed "dl-$i with every call failing"
done
fq_assert_eq "$(fq_redis ZCARD 'fleetq:{q}:dead')" 4 "dead letters in Redis"
fq_wait_sql 10 "SELECT count(*) FROM tasks WHERE id GLOB 'dl-*' AND status='failed'" 4

fq_ctl dead
fq_assert_eq "$CTL_RC" 0 "fleetqctl dead"
fq_assert_eq "$(wc -l <<<"$CTL_OUT")" 4 "lines of fleetqctl dead"
for i in 1 2 3 4; do
    line=$(grep -P "^dl-$i\t" <<<"$CTL_OUT") || fq_fail "dl-$i missing from: $CTL_OUT"
    fq_assert_eq "$(cut -f2 <<<"$line")" code "role of dl-$i in the listing"
    fq_assert_eq "$(cut -f3 <<<"$line")" 1 "attempts of dl-$i in the listing"
    fq_assert_contains "$(cut -f4 <<<"$line")" "Z" "finish time of dl-$i in the listing"
    fq_assert_contains "$(cut -f5 <<<"$line")" "gave up after 1 attempts" "error of dl-$i"
done
json=$(ctl_nokey dead --json) || fq_fail "fleetqctl dead --json without an API key"
fq_assert_eq "$(jq length <<<"$json")" 4 "entries of fleetqctl dead --json"
fq_assert_eq "$(jq -r '[.[].id] | sort | join(",")' <<<"$json")" "dl-1,dl-2,dl-3,dl-4" "ids in JSON"
fq_assert_eq "$(jq '[.[] | select(.role == "code" and .attempts == 1 and .max_attempts == 1
    and (.error | type) == "string" and (.finished_at | test("^20..-..-..T")))] | length' \
    <<<"$json")" 4 "well-formed JSON entries"
fq_assert_eq "$(jq '[.[].finished_at_ms] | . == (sort | reverse)' <<<"$json")" true \
    "newest first"
# stale entries: one older than task hashes live, one whose hash is gone
fq_redis ZADD 'fleetq:{q}:dead' 1000 ghost-old "$(( $(date +%s) * 1000 ))" ghost-new >/dev/null
fq_ctl dead --json
fq_assert_eq "$(jq length <<<"$CTL_OUT")" 4 "stale entries are not listed"
fq_assert_eq "$(fq_redis ZSCORE 'fleetq:{q}:dead' ghost-old)$(fq_redis ZSCORE 'fleetq:{q}:dead' ghost-new)" \
    "" "stale entries are removed by the listing"
fq_ctl dead --limit 2
fq_assert_eq "$(wc -l <<<"$CTL_OUT")" 2 "lines of fleetqctl dead --limit 2"
fq_assert_contains "$CTL_ERR" "2 of 4" "the note that more are listed"

# The worker stops, the API recovers, one task is requeued: it waits queued,
# kept for good (no expiry), with a fresh allowance of one attempt.
stop_pid "$code_worker"
fq_mock_config '{"fail_rate": 0}'
fq_assert_ge "$(fq_redis TTL fleetq:task:dl-1)" 1 "a failed task's hash expires"
fq_ctl requeue dl-1
fq_assert_eq "$CTL_RC" 0 "fleetqctl requeue dl-1"
fq_assert_eq "$CTL_OUT" "requeued dl-1" "the output of requeue"
fq_assert_eq "$(fq_redis HGET fleetq:task:dl-1 status)" queued "dl-1 after requeue"
fq_assert_eq "$(fq_redis TTL fleetq:task:dl-1)" -1 "dl-1's hash after requeue (persisted)"
fq_assert_eq "$(fq_redis HGET fleetq:task:dl-1 max_attempts)" 2 "dl-1's attempts allowed"
fq_assert_eq "$(fq_redis HEXISTS fleetq:task:dl-1 error)" 0 "dl-1's old error cleared"
fq_assert_eq "$(fq_redis ZSCORE 'fleetq:{q}:dead' dl-1)" "" "dl-1 left the dead letters"
fq_assert_contains "$(fq_redis ZRANGE 'fleetq:{q}:ready:code' 0 -1)" dl-1 "dl-1 on the code queue"
fq_assert_contains "$(fq_redis XREVRANGE fleetq:events + - COUNT 20)" requeued \
    "the requeue event"
fq_start_worker code --concurrency 2
fq_assert_eq "$(fq_done_status dl-1)" done "dl-1 after requeue"

fq_ctl requeue --all
fq_assert_eq "$CTL_RC" 0 "fleetqctl requeue --all"
fq_assert_eq "$(sort <<<"$CTL_OUT" | xargs)" "requeued dl-2 requeued dl-3 requeued dl-4" \
    "the output of requeue --all"
for i in 2 3 4; do
    fq_assert_eq "$(fq_done_status "dl-$i")" done "dl-$i after requeue --all"
done
fq_wait_sql 10 "SELECT count(*) FROM tasks WHERE id GLOB 'dl-*' AND status='done'" 4
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id GLOB 'dl-*'")" 4 "one row per task"
fq_wait_sql 10 "SELECT count(*) FROM attempts WHERE task_id GLOB 'dl-*'" 8
for i in 1 2 3 4; do
    fq_assert_eq "$(fq_sql "SELECT group_concat(n || ':' || (outcome = 'ok'), ' ') FROM
        (SELECT n, outcome FROM attempts WHERE task_id='dl-$i' ORDER BY n)")" "1:0 2:1" \
        "attempt rows of dl-$i (n: ok?)"
    fq_assert_eq "$(fq_sql "SELECT attempts || ' ' || (error IS NULL) FROM tasks WHERE id='dl-$i'")" \
        "2 1" "the row of dl-$i"
done
fq_assert_ge "$(fq_redis TTL fleetq:task:dl-1)" 1 "dl-1's hash expires again once done"
fq_ctl dead
fq_assert_eq "$CTL_OUT" "" "dead letters after requeueing all"
fq_assert_eq "$(ctl_nokey dead --json)" "[]" "dead letters as JSON after requeueing all"
fq_ctl requeue --all
fq_assert_eq "$CTL_RC" 0 "requeue --all with nothing to requeue"

fq_ctl requeue dl-1 no-such-task
fq_assert_eq "$CTL_RC" 1 "requeue of a done and an unknown task"
fq_assert_contains "$CTL_ERR" "requeue dl-1: done: only failed, expired or cancelled" \
    "the reason for a done task"
fq_assert_contains "$CTL_ERR" "requeue no-such-task: not found" "the reason for an unknown id"
fq_assert_eq "$(fq_redis HGET fleetq:task:dl-1 status)" done "dl-1 untouched"

# ---------------------------------------------------------------- cancel
# Delayed tasks, and queued ones of a role no worker serves.
before=$(requests)
for id in cx-delay-1 cx-delay-2; do fq_submit id "$id" role code prompt "later" delay 30 >/dev/null; done
for id in cx-q-1 cx-q-2; do fq_submit id "$id" role memory prompt "nobody takes it" >/dev/null; done
fq_wait_for 10 fq_status_is cx-delay-2 delayed || fq_fail "cx-delay-2 not delayed"
fq_wait_for 10 fq_status_is cx-q-2 queued || fq_fail "cx-q-2 not queued"

fq_ctl cancel cx-delay-1 cx-q-1
fq_assert_eq "$CTL_RC" 0 "fleetqctl cancel"
fq_assert_contains "$CTL_OUT" "cancelled cx-delay-1 (was delayed)" "cancel output, delayed"
fq_assert_contains "$CTL_OUT" "cancelled cx-q-1 (was queued)" "cancel output, queued"
fq_submit cancel cx-delay-2 >/dev/null
fq_submit cancel cx-q-2 >/dev/null
# `cancel` among other fields is a submission with an unknown field
fq_submit id cx-mixed cancel cx-q-2 role code prompt "x" >/dev/null
# and a cancel of something that cannot be a task id is only acknowledged
fq_submit cancel 'no such id!' >/dev/null

for id in cx-delay-1 cx-delay-2 cx-q-1 cx-q-2; do
    fq_assert_eq "$(fq_done_status "$id" 10)" cancelled "BLPOP for $id"
    fq_assert_eq "$(fq_redis HGET "fleetq:task:$id" status)" cancelled "status of $id in Redis"
    fq_assert_contains "$(fq_redis HGET "fleetq:task:$id" error)" "cancelled by operator" \
        "reason of $id in Redis"
    fq_assert_ge "$(fq_redis TTL "fleetq:task:$id")" 1 "$id's hash expires"
    fq_wait_sql 10 "SELECT status FROM tasks WHERE id='$id'" cancelled
    fq_assert_contains "$(fq_sql "SELECT error FROM tasks WHERE id='$id'")" \
        "cancelled by operator" "reason of $id in SQLite"
done
fq_assert_eq "$(fq_redis ZCARD 'fleetq:{q}:delayed')" 0 "delayed set after the cancels"
fq_assert_eq "$(fq_redis ZCARD 'fleetq:{q}:ready:memory')" 0 "memory queue after the cancels"
fq_assert_eq "$(fq_redis ZCARD 'fleetq:{q}:dead')" 0 "cancelled tasks are not dead letters"
fq_assert_eq "$(fq_done_status cx-mixed 10)" rejected "cancel next to other fields"
fq_assert_contains "$(fq_redis HGET fleetq:task:cx-mixed error)" cancel "reason of cx-mixed"
fq_assert_eq "$(fq_redis XPENDING fleetq:submit coordinators | head -n 1)" 0 \
    "cancel entries acknowledged"
fq_assert_contains "$(grep -h '"task.cancelled"' "$FQ_TMP/coordinator.log")" cx-q-2 \
    "the coordinator's log of a stream cancel"
fq_assert_contains "$(grep -h '"cancel.refused"' "$FQ_TMP/coordinator.log")" "not a task id" \
    "the coordinator's log of a cancel of a bad id"

# A running task is refused, and completes.
fq_mock_config '{"latency_ms": 3000}'
fq_submit id cx-run role code prompt "a slow one" >/dev/null
fq_wait_for 10 fq_status_is cx-run running || fq_fail "cx-run not running"
fq_ctl cancel cx-run
fq_assert_eq "$CTL_RC" 1 "cancel of a running task"
fq_assert_contains "$CTL_ERR" "running: it cannot be cancelled; it ends when its call does" \
    "the reason for a running task"
fq_submit cancel cx-run >/dev/null
fq_assert_eq "$(fq_done_status cx-run 20)" done "the running task after the cancels"
fq_wait_for 10 grep -q '"cancel.refused".*cx-run.*running' "$FQ_TMP/coordinator.log" ||
    fq_fail "no warning for the refused stream cancel"
fq_mock_config '{"latency_ms": 5}'

fq_ctl cancel no-such-task
fq_assert_eq "$CTL_RC" 1 "cancel of an unknown id"
fq_assert_contains "$CTL_ERR" "cancel no-such-task: not found" "the reason for an unknown id"
fq_ctl cancel cx-q-1 cx-run
fq_assert_eq "$CTL_RC" 1 "cancel of ended tasks"
fq_assert_contains "$CTL_ERR" "cancel cx-q-1: already cancelled" "the reason for a cancelled task"
fq_assert_contains "$CTL_ERR" "cancel cx-run: already done" "the reason for a done task"

# None of the cancelled tasks reached the API: with a memory worker running,
# a task submitted after them is the only memory call.
fq_start_worker memory --concurrency 2
fq_submit id cx-after role memory prompt "after the cancels" >/dev/null
fq_assert_eq "$(fq_done_status cx-after 20)" done "a memory task after the cancels"
fq_assert_eq "$(requests)" "$((before + 2))" "calls to the API (cx-run and cx-after only)"

# A cancelled task may be run again after all.
fq_ctl requeue cx-q-1
fq_assert_eq "$CTL_RC" 0 "requeue of a cancelled task"
fq_assert_eq "$(fq_done_status cx-q-1 20)" done "cx-q-1 requeued after its cancel"
fq_wait_sql 10 "SELECT status || ' ' || attempts FROM tasks WHERE id='cx-q-1'" "done 1"

# A task whose worker dies during its last attempt is failed by the reaper
# and is a dead letter too.
fq_mock_config '{"latency_ms": 3000}'
FLEETQ_LEASE_SECONDS=5 fq_start_worker ceo
ceo_worker=$FQ_LAST_PID
fq_submit id reaped role ceo prompt "its worker dies" max_attempts 1 >/dev/null
fq_wait_for 10 fq_status_is reaped running || fq_fail "reaped not running"
kill -KILL "$ceo_worker"
wait "$ceo_worker" 2>/dev/null || true
fq_mock_config '{"latency_ms": 5}'
fq_assert_eq "$(fq_done_status reaped 20)" failed "a task whose worker died on its last attempt"
fq_ctl dead
line=$(grep -P "^reaped\t" <<<"$CTL_OUT") || fq_fail "reaped missing from: $CTL_OUT"
fq_assert_contains "$line" "lease expired" "the reaper's reason in the listing"

# ---------------------------------------------------------------- ttl
# The coordinator's timer ends a task whose ttl passes before it starts,
# with no worker of its role running: one queued, one still delayed.
before=$(requests)
fq_submit id ttl-1 role quality prompt "too late" ttl 1 >/dev/null
fq_submit id ttl-2 role quality prompt "later still" ttl 1 delay 30 >/dev/null
fq_assert_eq "$(fq_done_status ttl-1 5)" expired "a queued task whose ttl passed (no worker)"
fq_assert_eq "$(fq_done_status ttl-2 5)" expired "a delayed task whose ttl passed (no worker)"
for id in ttl-1 ttl-2; do
    late=$(fq_redis HMGET "fleetq:task:$id" finished_at submitted_at | paste -sd' ' |
        awk '{print $1 - $2 - 1000}')
    fq_log "$id ended $late ms after its deadline"
    fq_assert_ge "$late" 0 "ms from $id's deadline to its end"
    fq_assert_le "$late" 1000 "ms from $id's deadline to its end"
done
fq_assert_contains "$(fq_redis HGET fleetq:task:ttl-1 error)" "ttl" "ttl-1's reason in Redis"
fq_wait_sql 10 "SELECT group_concat(status, ' ') FROM tasks WHERE id IN ('ttl-1', 'ttl-2')" \
    "expired expired"
fq_assert_eq "$(fq_redis ZCARD fleetq:{q}:ready:quality)" 0 "ready quality tasks after the expiry"
fq_assert_eq "$(fq_redis ZSCORE fleetq:{q}:delayed ttl-2)" "" "ttl-2 in the delayed set"
fq_assert_eq "$(fq_redis ZCARD fleetq:{q}:expiry)" 0 "the expiry set after the deadlines"
fq_start_worker quality
fq_assert_eq "$(requests)" "$before" "calls for expired tasks"
fq_ctl requeue ttl-1
fq_assert_eq "$CTL_RC" 0 "requeue of an expired task"
fq_assert_eq "$(fq_done_status ttl-1 20)" done "ttl-1 requeued (its ttl no longer applies)"
# a task started before its ttl leaves the expiry set
fq_submit id ttl-3 role quality prompt "in time" ttl 60 >/dev/null
fq_assert_eq "$(fq_done_status ttl-3 20)" done "a task started within its ttl"
fq_assert_eq "$(fq_redis ZCARD fleetq:{q}:expiry)" 0 "the expiry set after ttl-3 started"

# a cancel entry whose id names no task is consumed too: after every
# cancel and submission above, the submit stream is empty
fq_submit cancel 'not a task id!' >/dev/null
subs_left() { [ "$(fq_redis XLEN fleetq:submit)" = 0 ]; }
fq_wait_for 10 subs_left || fq_fail "fleetq:submit still holds $(fq_redis XLEN fleetq:submit) entries"

kill -0 "$FQ_COORD_PID" || fq_fail "the coordinator died"
fq_pass
