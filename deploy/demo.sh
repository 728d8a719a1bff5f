#!/usr/bin/env bash
# demo.sh -- the main job on the embedded default: a private redis-server on
# a free port, fleetq-mockapi as the API (no key needed), the coordinator
# and one worker per role. Submits a handful of tasks with redis-cli, waits
# for each with BLPOP, shows their rows with sqlite3; then a ceo plan that
# fans out to code tasks, each reviewed by quality, its flow as a tree and
# a search of the results; the fleet with fleetqctl status, the
# coordinator's /health and its dashboard's API, and stops everything.
# The dashboard's URL and token are printed at the start: open it in a
# browser while the demo runs, and set FLEETQ_DEMO_HOLD=SECONDS to keep
# the fleet up that long at the end.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/setup.sh" "$root/build"

export FQ_SRC=$root FQ_BIN=$root/build
. "$root/tests/integration/lib.sh"
export FLEETQ_LOG_LEVEL=${FLEETQ_LOG_LEVEL:-warn}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting redis-server, fleetq-mockapi, the coordinator and four workers"
fq_start_redis
fq_start_mock --latency-ms 150 --jitter-ms 300 --rate-limit 8 --window-ms 1000 --advertised-limit 480
export GROK_RATE_LIMIT_RPM=420 DAILY_BUDGET_USD=1
FLEETQ_DASHBOARD_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export FLEETQ_DASHBOARD_TOKEN
fq_start_coordinator
for role in ceo code quality memory; do fq_start_worker "$role" --concurrency 2; done
echo "redis: $REDIS_URL   api: $XAI_BASE_URL   store: $FLEETQ_DB"
echo "dashboard: http://127.0.0.1:$PORT/   token: $FLEETQ_DASHBOARD_TOKEN"

say "submitting tasks with redis-cli XADD fleetq:submit"
r() { redis-cli -p "$FQ_REDIS_PORT" "$@"; }
ids=()
ids+=("$(r XADD fleetq:submit '*' role ceo priority critical id plan-q3 prompt 'Draft the Q3 plan in three bullet points')")
ids+=("$(r XADD fleetq:submit '*' role code prompt "Fix this bug: print('hello world'")")
ids+=("$(r XADD fleetq:submit '*' json '{"role":"quality","prompt":"Review this diff: -a=1 +a=2","max_tokens":300}')")
ids+=("$(r XADD fleetq:submit '*' role memory priority bulk prompt 'Index the notes from the design review')")
ids+=("$(r XADD fleetq:submit '*' role code messages '[{"role":"user","content":"Write a C function that reverses a string"}]')")
ids+=("$(r XADD fleetq:submit '*' role intern prompt 'This role does not exist')")
ids[0]=plan-q3
printf '  submitted %s\n' "${ids[@]}"

say "waiting for each with BLPOP fleetq:done:<id>"
for id in "${ids[@]}"; do
    printf '  %-20s %s\n' "$id" "$(r BLPOP "fleetq:done:$id" 60 | tail -n 1)"
done

say "HGETALL fleetq:task:plan-q3 (some fields)"
r HGETALL fleetq:task:plan-q3 | paste - - | grep -E '^(status|role|priority|attempts|model|cost_ticks)\s'

say "HGETALL fleetq:quota (some fields)"
r HGETALL fleetq:quota | paste - - | grep -E '^(rpm_ceiling|window_requests|budget_spent_usd|budget_left_usd)\s'

say "sqlite3 \$FLEETQ_DB 'SELECT ... FROM tasks'"
sqlite3 -header -column "$FLEETQ_DB" \
  "SELECT id, role, status, model, prompt_tokens AS p_tok, completion_tokens AS c_tok,
          printf('%.6f', cost_usd) AS cost_usd, latency_ms, replace(substr(coalesce(output, error), 1, 48), char(10), ' ') AS output_or_error
     FROM tasks ORDER BY submitted_at"

say "sqlite3 \$FLEETQ_DB 'SELECT * FROM usage_daily'"
sqlite3 -header -column "$FLEETQ_DB" "SELECT day, role, model, requests, tokens, printf('%.6f', cost_usd) AS cost_usd FROM usage_daily"

say "a ceo plan that fans out: XADD ... id launch role ceo plan true"
r XADD fleetq:submit '*' id launch role ceo plan true prompt 'Plan a URL shortener service' >/dev/null
for id in launch launch.build launch.build.review launch.test launch.test.review; do
    printf '  %-22s %s\n' "$id" "$(r BLPOP "fleetq:done:$id" 60 | tail -n 1)"
done

say "fleetqctl flow launch"
"$FQ_BIN/ctl/fleetqctl" flow launch

say "fleetqctl search 'URL shortener'"
"$FQ_BIN/ctl/fleetqctl" search "URL shortener" --limit 3 | cut -c 1-100

say "fleetqctl status"
"$FQ_BIN/ctl/fleetqctl" status

say "curl http://127.0.0.1:\$PORT/health"
curl -s "http://127.0.0.1:$PORT/health" | jq -c '{status, redis: .redis.ok, sqlite: .sqlite.ok, workers}'

say "curl -H 'Authorization: Bearer TOKEN' http://127.0.0.1:\$PORT/api/overview"
curl -s -H "Authorization: Bearer $FLEETQ_DASHBOARD_TOKEN" "http://127.0.0.1:$PORT/api/overview" |
    jq -c '{status: .fleet.status, spent_usd: .fleet.budget.spent_usd, dead: .fleet.dead,
            calls_last_hour: (.calls | add), tasks_ended_last_hour: ([.ended[] | add] | add)}'

hold=${FLEETQ_DEMO_HOLD:-0}
if [ "$hold" -gt 0 ]; then
    say "the fleet stays up for $hold s: http://127.0.0.1:$PORT/ (token $FLEETQ_DASHBOARD_TOKEN)"
    sleep "$hold"
fi

say "stopping everything (SIGTERM)"
