#!/usr/bin/env bash
# The coordinator's HTTP endpoints. With one worker per role running 40
# tasks: GET /health answers 200 with Redis and SQLite ok, the four roles'
# queues and live workers (the registry fleetq:{q}:workers); a worker that
# stops leaves the registry; 20 memory tasks with no memory worker show as
# queued. GET /metrics passes `promtool check metrics` and its counters
# match the mock provider's own (calls, tokens, cost), the histograms count
# every call and every first start, and the store's tasks are counted by
# status. Every call.done log line carries cost_usd. With Redis killed,
# /health turns 503 within 2 s (redis.ok false) and /metrics still answers
# with fleetq_up{component="redis"} 0, the coordinator staying up; Redis
# back on the same port, /health is 200 again. POST gets 405, an unknown
# path 404, a port in use exits 2 with one line. With a Redis password,
# AUTH and SELECT work and the password never shows, even when wrong.
# With FLEETQ_METRICS_TOKEN: /metrics answers 401 without it (or with a
# wrong one) and 200 with it; /health without it is its status alone,
# with the same code (200, and 503 with a wrong Redis password), and the
# whole document with it; the token is in no log.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || fq_fail "promtool is missing: install the Debian package prometheus"
command -v jq >/dev/null || fq_fail "jq is missing"

fq_start_redis
fq_start_mock --latency-ms 5 --jitter-ms 20
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
fq_start_coordinator
URL="http://127.0.0.1:$PORT"
fq_wait_for 10 curl -sf "$URL/health" || fq_fail "GET /health did not answer 200"

# A second coordinator on the same port: exit 2, one line naming PORT.
rc=0
line=$("$FQ_BIN/coordinator/fleetq-coordinator" 2>&1 >/dev/null) || rc=$?
fq_assert_eq "$rc" 2 "exit status with the port in use"
fq_assert_eq "$(printf '%s\n' "$line" | wc -l)" 1 "lines of the port error"
fq_assert_contains "$line" "PORT: cannot listen on 0.0.0.0:$PORT" "port error"

# Methods and paths.
code() { curl -s -o "$FQ_TMP/body" -w '%{http_code}' "$@"; }
fq_assert_eq "$(code -X POST "$URL/health")" 405 "POST /health"
fq_assert_eq "$(jq -r 'has("error")' "$FQ_TMP/body")" true "405 body is a JSON error"
fq_assert_eq "$(code -X DELETE "$URL/metrics")" 405 "DELETE /metrics"
fq_assert_eq "$(code "$URL/nope")" 404 "GET /nope"
fq_assert_eq "$(jq -r '.paths | join(" ")' "$FQ_TMP/body")" "/health /metrics" "404 body"
fq_assert_eq "$(code -I "$URL/health")" 200 "HEAD /health"
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$URL/metrics")
fq_assert_eq "$ctype" "text/plain; version=0.0.4; charset=utf-8" "Content-Type of /metrics"

roles=(ceo code quality memory)
pids=()
for role in "${roles[@]}"; do
    fq_start_worker "$role" --concurrency 2
    pids+=("$FQ_LAST_PID")
done

health() { curl -s -m 5 "$URL/health"; }
workers_of() { [ "$(health | jq -r ".workers.$1")" = "$2" ]; }
workers_at_least_one() {
    health | jq -e '[.workers[]] | length == 4 and all(. >= 1)' >/dev/null
}
fq_wait_for 10 workers_at_least_one || fq_fail "workers not live in /health: $(health)"

# The registry: "host:pid:role" scored by Redis' time of the last heartbeat.
members=$(fq_redis ZRANGE 'fleetq:{q}:workers' 0 -1)
for i in 0 1 2 3; do
    fq_assert_contains "$members" ":${pids[$i]}:${roles[$i]}" "registry member of ${roles[$i]}"
done
now_ms=$(( $(fq_redis TIME | head -n 1) * 1000 ))
score=$(fq_redis ZSCORE 'fleetq:{q}:workers' "$(grep ":${pids[0]}:ceo" <<<"$members")")
score=${score%%.*}
fq_assert_le $(( now_ms - score )) 15000 "age of the ceo worker's heartbeat (ms)"

fq_submit_n 40 h "ceo code quality memory"
body=$(health)
fq_assert_eq "$(jq -r '.status' <<<"$body")" ok "health status while running"
fq_wait_sql 60 "SELECT count(*) FROM tasks WHERE status='done'" 40
fq_fresh_snapshot

rc=$(code "$URL/health")
fq_assert_eq "$rc" 200 "GET /health after the run"
body=$(cat "$FQ_TMP/body")
fq_assert_eq "$(jq -r '.redis.ok' <<<"$body")" true "redis.ok"
fq_assert_eq "$(jq -r '.redis.latency_ms | type' <<<"$body")" number "redis.latency_ms"
fq_assert_eq "$(jq -r '.sqlite.ok' <<<"$body")" true "sqlite.ok"
fq_assert_eq "$(jq -r '.sqlite.path' <<<"$body")" "$FLEETQ_DB" "sqlite.path"
fq_assert_eq "$(jq -r '.queues | keys | sort | join(",")' <<<"$body")" "ceo,code,memory,quality" \
    "roles under queues"
fq_assert_eq "$(jq -r '[.queues[].queued] | add' <<<"$body")" 0 "queued after the run"
fq_assert_eq "$(jq -r '.running' <<<"$body")" 0 "running after the run"
fq_assert_eq "$(jq -r '.quota.breaker' <<<"$body")" closed "quota.breaker"
fq_assert_eq "$(jq -c '[.quota.paused, .quota.pause_reason]' <<<"$body")" "[null,null]" \
    "quota.paused when not paused, as fleetqctl status --json says it"
fq_assert_eq "$(jq -r '.budget.left_usd' <<<"$body")" null "budget.left_usd with no cap"
fq_assert_eq "$(jq -r '.budget.spent_usd > 0' <<<"$body")" true "budget.spent_usd"
fq_assert_eq "$(jq -r '.version | type' <<<"$body")" string "version"
if grep -q "$FQ_KEY" <<<"$body"; then fq_fail "the API key appears in /health"; fi

# A worker that stops leaves the registry at once.
kill -TERM "${pids[3]}"
fq_wait_for 10 workers_of memory 0 || fq_fail "the stopped memory worker is still live: $(health)"
fq_assert_eq "$(fq_redis ZSCORE 'fleetq:{q}:workers' "$(grep ":${pids[3]}:memory" <<<"$members")")" \
    "" "the stopped worker's registry entry"
workers_of ceo 1 || fq_fail "the ceo worker is no longer live: $(health)"

# 20 memory tasks and no memory worker: they wait in the queue.
fq_submit_n 20 m "memory"
memory_queued() { [ "$(health | jq -r '.queues.memory.queued')" = 20 ]; }
fq_wait_for 10 memory_queued || fq_fail "queues.memory.queued is not 20: $(health)"
# One delayed task per role, counted under its role.
fq_submit_n 4 d "ceo code quality memory" delay 600
delayed_each() { health | jq -e '.delayed == 4 and ([.queues[].delayed] | all(. == 1))' >/dev/null; }
fq_wait_for 10 delayed_each || fq_fail "delayed tasks per role: $(health)"

# /metrics: valid exposition, and the figures match the provider's. The
# counts of the tasks table are read every 2 s (snapshot.h).
done_counted() {
    curl -sf "$URL/metrics" >"$FQ_TMP/metrics.txt" &&
        [ "$(awk '$1 ~ /^fleetq_tasks[{].*status="done"/ { s += $2 } END { print s + 0 }' \
                "$FQ_TMP/metrics.txt")" = 40 ]
}
fq_wait_for 5 done_counted || fq_fail "fleetq_tasks did not count the 40 done tasks within 5 s"
# no role: absent everywhere, NULL in the row and an empty label (which
# Prometheus reads as no label) in /metrics
fq_submit id no-role role nosuchrole prompt x >/dev/null
fq_wait_sql 10 "SELECT role IS NULL FROM tasks WHERE id = 'no-role'" 1
fq_wait_for 5 bash -c "curl -sf '$URL/metrics' | grep -qx 'fleetq_tasks{role=\"\",status=\"rejected\"} 1'" ||
    fq_fail "the rejection without a role is not fleetq_tasks{role=\"\",status=\"rejected\"}"
curl -sf "$URL/metrics" >"$FQ_TMP/metrics.txt" || fq_fail "GET /metrics failed"
promtool check metrics <"$FQ_TMP/metrics.txt" >"$FQ_TMP/promtool.out" 2>&1 ||
    fq_fail "promtool check metrics: $(cat "$FQ_TMP/promtool.out")"
msum() { awk -v re="^$1" '$1 ~ re { s += $2 } END { printf "%d\n", s }' "$FQ_TMP/metrics.txt"; }
mval() { awk -v k="$1" '$1 == k { print $2 }' "$FQ_TMP/metrics.txt"; }
stats=$(fq_mock_stats)
calls=$(jq .requests <<<"$stats")
fq_assert_eq "$calls" 40 "calls the provider received"
fq_assert_eq "$(msum 'fleetq_api_calls_total[{]')" "$calls" "fleetq_api_calls_total summed"
fq_assert_eq "$(mval 'fleetq_api_calls_total{code="200",outcome="ok"}')" 40 "calls 200/ok"
for kind in prompt completion reasoning cached; do
    fq_assert_eq "$(mval "fleetq_tokens_total{kind=\"$kind\"}")" "$(jq ".${kind}_tokens" <<<"$stats")" \
        "$kind tokens"
done
ticks=$(jq .spend_ticks <<<"$stats")
frac=$(printf '%010d' $(( ticks % 10000000000 )) | sed 's/0*$//')
usd=$(( ticks / 10000000000 ))${frac:+.$frac}
fq_assert_eq "$(mval fleetq_api_cost_usd_total)" "$usd" "fleetq_api_cost_usd_total vs the provider's spend"
fq_assert_eq "$(mval fleetq_api_latency_seconds_count)" "$calls" "latency histogram count"
fq_assert_eq "$(mval 'fleetq_api_latency_seconds_bucket{le="+Inf"}')" "$calls" "latency +Inf bucket"
fq_assert_eq "$(mval 'fleetq_api_latency_seconds_bucket{le="10"}')" "$calls" "calls within 10 s"
fq_assert_eq "$(grep -c '^fleetq_api_latency_seconds_bucket' "$FQ_TMP/metrics.txt")" 11 \
    "latency buckets (the scripts' bounds are the rendered ones)"
fq_assert_eq "$(mval fleetq_queue_wait_seconds_count)" 40 "queue wait histogram count (first starts)"
fq_assert_eq "$(mval 'fleetq_queue_wait_seconds_bucket{le="60"}')" 40 "first starts within 60 s"
fq_assert_eq "$(grep -c '^fleetq_queue_wait_seconds_bucket' "$FQ_TMP/metrics.txt")" 15 \
    "queue wait buckets"
fq_assert_eq "$(msum 'fleetq_tasks[{].*status="done"')" 40 "fleetq_tasks{status=\"done\"} summed"
fq_assert_eq "$(mval 'fleetq_queue_depth{role="memory"}')" 20 "fleetq_queue_depth of memory"
fq_assert_eq "$(msum 'fleetq_queue_delayed[{]')" 4 "fleetq_queue_delayed summed"
fq_assert_eq "$(mval 'fleetq_workers_live{role="memory"}')" 0 "live memory workers"
fq_assert_eq "$(mval 'fleetq_workers_live{role="code"}')" 1 "live code workers"
fq_assert_eq "$(mval 'fleetq_up{component="redis"}')" 1 "fleetq_up redis"
fq_assert_eq "$(mval 'fleetq_up{component="sqlite"}')" 1 "fleetq_up sqlite"
fq_assert_eq "$(mval 'fleetq_breaker_state{model="grok-code-fast-1"}')" 0 "fleetq_breaker_state of the code workers' model"
fq_assert_eq "$(msum fleetq_budget_left_usd)" 0 "fleetq_budget_left_usd absent without a cap"
# Buckets are cumulative: never decreasing.
awk '$1 ~ /^fleetq_api_latency_seconds_bucket/ { if ($2 < last) bad = 1; last = $2 }
     END { exit bad }' "$FQ_TMP/metrics.txt" || fq_fail "latency buckets decrease"
if grep -q "$FQ_KEY" "$FQ_TMP/metrics.txt"; then fq_fail "the API key appears in /metrics"; fi

# Every call.done line carries the billed cost.
done_lines=$(cat "$FQ_TMP"/worker-*.log | grep -c '"event":"call.done"' || true)
fq_assert_eq "$done_lines" 40 "call.done lines"
cost_lines=$(cat "$FQ_TMP"/worker-*.log | grep '"event":"call.done"' |
    grep -cE '"cost_usd":"[0-9]+(\.[0-9]+)?"' || true)
fq_assert_eq "$cost_lines" 40 "call.done lines with cost_usd"

# Redis killed: 503 within 2 s (the next reading, snapshot.h), the
# coordinator stays up.
kill -KILL "$FQ_REDIS_PID"
wait "$FQ_REDIS_PID" 2>/dev/null || true
t0=$(date +%s%N)
unavailable() { [ "$(code -m 5 "$URL/health")" = 503 ]; }
fq_wait_for 5 unavailable || fq_fail "GET /health with Redis down: not 503 within 5 s"
elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
fq_assert_le "$elapsed" 2000 "ms until /health answers 503 with Redis down"
body=$(cat "$FQ_TMP/body")
fq_assert_eq "$(jq -r '.status' <<<"$body")" degraded "status with Redis down"
fq_assert_eq "$(jq -r '.redis.ok' <<<"$body")" false "redis.ok with Redis down"
fq_assert_eq "$(jq -r '.redis.error | length > 0' <<<"$body")" true "redis.error with Redis down"
fq_assert_eq "$(jq -r '.sqlite.ok' <<<"$body")" true "sqlite.ok with Redis down"
fq_assert_eq "$(code -m 5 "$URL/metrics")" 200 "GET /metrics with Redis down"
cp "$FQ_TMP/body" "$FQ_TMP/metrics.txt"
fq_assert_eq "$(mval 'fleetq_up{component="redis"}')" 0 "fleetq_up redis with Redis down"
fq_assert_eq "$(msum 'fleetq_tasks[{].*status="done"')" 40 "fleetq_tasks with Redis down"
promtool check metrics <"$FQ_TMP/metrics.txt" >"$FQ_TMP/promtool.out" 2>&1 ||
    fq_fail "promtool check metrics with Redis down: $(cat "$FQ_TMP/promtool.out")"
kill -0 "$FQ_COORD_PID" 2>/dev/null || fq_fail "the coordinator died with Redis"

# Redis back on the same port: healthy again.
redis-server --port "$FQ_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$FQ_TMP/redis" --daemonize no >>"$FQ_TMP/redis.log" 2>&1 &
FQ_REDIS_PID=$!
FQ_PIDS+=("$FQ_REDIS_PID")
fq_wait_for 10 fq_redis ping || fq_fail "redis-server did not restart"
healthy() { [ "$(code -m 5 "$URL/health")" = 200 ]; }
fq_wait_for 10 healthy || fq_fail "/health not 200 after Redis came back: $(cat "$FQ_TMP/body")"
fq_assert_eq "$(jq -r '.redis.ok' "$FQ_TMP/body")" true "redis.ok after Redis came back"

# With a Redis password (and a database number): AUTH and SELECT, and the
# password never in an answer, even when it is wrong.
fq_reset_fleet
secret="pw-$RANDOM$RANDOM-s3cret"
fq_start_redis --requirepass "$secret"
port=$FQ_REDIS_PORT
start_coordinator_with() {
    REDIS_URL=$1 "$FQ_BIN/coordinator/fleetq-coordinator" >>"$FQ_TMP/coordinator-auth.log" 2>&1 &
    FQ_LAST_PID=$!
    FQ_PIDS+=("$FQ_LAST_PID")
    fq_wait_for 10 curl -s -o /dev/null "$URL/health" || fq_fail "the coordinator did not serve"
}
start_coordinator_with "redis://:wrong-$secret-x@127.0.0.1:$port/3"
fq_assert_eq "$(code "$URL/health")" 503 "GET /health with a wrong password"
fq_assert_contains "$(jq -r '.redis.error' "$FQ_TMP/body")" "refused AUTH" "error with a wrong password"
if grep -q "$secret" "$FQ_TMP/body"; then fq_fail "the Redis password appears in /health"; fi
kill -TERM "$FQ_LAST_PID"; wait "$FQ_LAST_PID" || fq_fail "the coordinator did not exit 0 on SIGTERM"
redis-cli -p "$port" -a "$secret" --no-auth-warning -n 3 XADD fleetq:submit '*' role ceo \
    prompt hi >/dev/null
start_coordinator_with "redis://:$secret@127.0.0.1:$port/3"
queued_in_db3() { [ "$(curl -s "$URL/health" | jq -r '.queues.ceo.queued')" = 1 ]; }
fq_wait_for 10 queued_in_db3 || fq_fail "/health does not read database 3: $(curl -s "$URL/health")"
fq_assert_eq "$(code "$URL/health")" 200 "GET /health with the password"
curl -s "$URL/metrics" >"$FQ_TMP/metrics.txt"
if grep -q "$secret" "$FQ_TMP/body" "$FQ_TMP/metrics.txt" "$FQ_TMP"/coordinator*.log; then
    fq_fail "the Redis password appears in an answer or a log"
fi
kill -TERM "$FQ_LAST_PID"; wait "$FQ_LAST_PID" || fq_fail "the coordinator did not exit 0 on SIGTERM"

# ---- FLEETQ_METRICS_TOKEN: nothing private without it ------------------------------
metrics_token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
export FLEETQ_METRICS_TOKEN=$metrics_token
start_coordinator_with "redis://:$secret@127.0.0.1:$port/3"
fq_assert_eq "$(code "$URL/metrics")" 401 "GET /metrics without the token"
fq_assert_contains "$(jq -r .error "$FQ_TMP/body")" "FLEETQ_METRICS_TOKEN" "the 401 says what is needed"
fq_assert_eq "$(code -H "Authorization: Bearer ${metrics_token}x" "$URL/metrics")" 401 \
    "GET /metrics with a wrong token"
fq_assert_eq "$(code -H "Authorization: Bearer $metrics_token" "$URL/metrics")" 200 \
    "GET /metrics with the token"
fq_assert_contains "$(cat "$FQ_TMP/body")" "fleetq_up" "/metrics with the token"
fq_assert_eq "$(code "$URL/health")" 200 "GET /health without the token"
fq_assert_eq "$(cat "$FQ_TMP/body")" '{"status":"ok"}' "/health without the token: the status alone"
fq_assert_eq "$(code -H "Authorization: Bearer $metrics_token" "$URL/health")" 200 \
    "GET /health with the token"
fq_assert_eq "$(jq -r '.queues.ceo.queued' "$FQ_TMP/body")" 1 "/health with the token: the details"
kill -TERM "$FQ_LAST_PID"; wait "$FQ_LAST_PID" || fq_fail "the coordinator did not exit 0 on SIGTERM"
start_coordinator_with "redis://:wrong-$secret-x@127.0.0.1:$port/3"
fq_assert_eq "$(code "$URL/health")" 503 "GET /health without the token, Redis refusing"
fq_assert_eq "$(cat "$FQ_TMP/body")" '{"status":"degraded"}' "the status alone, with its code"
kill -TERM "$FQ_LAST_PID"; wait "$FQ_LAST_PID" || fq_fail "the coordinator did not exit 0 on SIGTERM"
unset FLEETQ_METRICS_TOKEN
if grep -qF "$metrics_token" "$FQ_TMP"/*.log; then fq_fail "the metrics token appears in a log"; fi
fq_pass
