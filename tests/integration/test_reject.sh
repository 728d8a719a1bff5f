#!/usr/bin/env bash
# Every kind of bad submission ends `rejected` with a reason, in Redis and
# in SQLite, without reaching the API or crashing anything; a valid task
# submitted after them completes.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 5
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
fq_start_coordinator
fq_start_worker code --concurrency 2

declare -A expect   # id -> a word the reason must contain
bad() { # id reason-word fields...
    local id=$1 word=$2; shift 2
    fq_submit id "$id" "$@" >/dev/null
    expect[$id]=$word
}
bad no-role        role        prompt "hello"
bad bad-role       role        role intern prompt "hello"
bad no-prompt      prompt      role code
bad empty-prompt   prompt      role code prompt ""
bad blank-prompt   prompt      role code prompt "   "
bad both           prompt      role code prompt "x" messages '[{"role":"user","content":"y"}]'
bad msgs-object    messages    role code messages '{"role":"user","content":"y"}'
bad msgs-notjson   messages    role code messages '[{"role":"user",'
bad msgs-norole    messages    role code messages '[{"content":"y"}]'
bad msgs-empty     messages    role code messages '[]'
bad prio-99        priority    role code prompt "x" priority 99
bad prio-word      priority    role code prompt "x" priority urgent
bad maxtok-0       max_tokens  role code prompt "x" max_tokens 0
bad maxtok-abc     max_tokens  role code prompt "x" max_tokens abc
bad maxtok-huge    max_tokens  role code prompt "x" max_tokens 99999999999999999999
bad temp-3         temperature role code prompt "x" temperature 3
bad temp-nan       temperature role code prompt "x" temperature nan
bad delay-neg      delay       role code prompt "x" delay -5
bad ttl-word       ttl         role code prompt "x" ttl soon
bad timeout-0      timeout     role code prompt "x" timeout 0
bad attempts-0     max_attempts role code prompt "x" max_attempts 0
bad unknown-field  promt       role code promt "x"
bad model-bad      model       role code prompt "x" model 'grok 4; drop'
# invalid JSON in `json`, and a json object with a bad value
fq_submit json '{"role":"code","prompt":' >/dev/null
fq_submit json '{"role":"code","prompt":"x","max_tokens":-1}' >/dev/null
# an id with characters outside the allowed set, and one too long
fq_submit id 'bad id!' role code prompt x >/dev/null
fq_submit id "$(printf 'x%.0s' $(seq 1 129))" role code prompt x >/dev/null
# text that is not UTF-8
fq_redis XADD fleetq:submit '*' id not-utf8 role code prompt "$(printf 'caf\xe9')" >/dev/null
expect[not-utf8]=UTF-8
# a submission over the 1 MiB limit
head -c 1100000 /dev/zero | tr '\0' a | fq_redis -x XADD fleetq:submit '*' id too-big role code prompt >/dev/null
expect[too-big]=limit

total=$(( ${#expect[@]} + 4 ))
fq_wait_sql 60 "SELECT count(*) FROM tasks WHERE status='rejected'" "$total"

for id in "${!expect[@]}"; do
    word=${expect[$id]}
    fq_assert_eq "$(fq_redis HGET "fleetq:task:$id" status)" rejected "status of $id in Redis"
    fq_assert_contains "$(fq_redis HGET "fleetq:task:$id" error)" "$word" "reason of $id in Redis"
    fq_assert_contains "$(fq_sql "SELECT status || ': ' || error FROM tasks WHERE id='$id'")" \
        "rejected: " "row of $id"
    fq_assert_eq "$(fq_redis BLPOP "fleetq:done:$id" 5 | tail -n 1)" rejected "BLPOP for $id"
done
# the rejections without a usable id are recorded under their entry id
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status='rejected' AND id GLOB '[0-9]*-[0-9]*'")" 4 \
    "rejections recorded under the stream entry id"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status='rejected' AND (error IS NULL OR error='')")" 0 \
    "rejections without a reason"
fq_assert_eq "$(jq .requests <<<"$(fq_mock_stats)")" 0 "calls that reached the API"
kill -0 "$FQ_COORD_PID" || fq_fail "the coordinator died"

# A rejected id may be submitted again, fixed; a valid task completes.
fq_submit id prio-99 role code prompt "fixed now" >/dev/null
fq_assert_eq "$(fq_redis BLPOP fleetq:done:prio-99 30 | tail -n 1)" done "resubmitted prio-99"
fq_submit id good role code prompt "a valid task after all that" >/dev/null
fq_assert_eq "$(fq_redis BLPOP fleetq:done:good 30 | tail -n 1)" done "valid task after bad ones"
fq_wait_sql 10 "SELECT status FROM tasks WHERE id='good'" done
fq_pass
