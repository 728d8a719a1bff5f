#!/usr/bin/env bash
# The coordinator never blocks: SQLite is written on a thread of its own,
# /health and /metrics are served from a snapshot by an event-driven server.
#
# (a) A sqlite3 session holds a write transaction (BEGIN IMMEDIATE) for
#     20 s while /health is polled every second: 50 tasks and 10 memory
#     tasks (which search the memory, recall, on a reader thread) submitted
#     to an idle fleet are all done in Redis within 10 s, before the lock
#     goes;
#     /health answers 200 degraded once the results have waited longer
#     than FLEETQ_STORE_STALL_SECONDS (3), with the backlog and the
#     reason; once the lock goes, every row is written, once.
# (b) 2,000 connections that sent half a request, from another loopback
#     address (127.0.0.2; the coordinator holds at least 1,000 of them, its
#     cap per address being 1,024), leave /health answering a client on
#     127.0.0.1 within 100 ms.
# (c) A loop stalled on purpose (FLEETQ_TEST_STALL_SECONDS, SIGUSR2) turns
#     /health to 503 "stalled" within 5 s, and back to 200 after.
. "$(dirname "$0")/lib.sh"

export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_RECALL_K=3 \
       FLEETQ_STORE_STALL_SECONDS=3 FLEETQ_TEST_STALL_SECONDS=8
fq_start_redis
fq_start_mock
fq_start_coordinator
fq_start_worker code --concurrency 8
fq_start_worker memory --concurrency 4
URL="http://127.0.0.1:$PORT"
fq_wait_for 10 fq_health_ok || fq_fail "/health not ok at the start"
done_in_redis() { # prefix n
    local k n=0
    for k in $(seq 1 "$2"); do
        [ "$(fq_redis HGET "fleetq:task:$1-$k" status)" = done ] && n=$((n + 1))
    done
    [ "$n" = "$2" ]
}

# ---------------------------------------------------------------------------
fq_log "(a) a user's write transaction holds the database for 20 s"
fq_submit id warm role code prompt "warm up" >/dev/null
fq_wait_sql 20 "SELECT count(*) FROM tasks WHERE id='warm'" 1
t0=$(date +%s%N)
fq_submit_n 50 b code
fq_wait_for 10 done_in_redis b 50 || fq_fail "50 tasks were not done in Redis within 10 s"
fq_log "without a lock: 50 tasks done in Redis in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
fq_wait_sql 20 "SELECT count(*) FROM tasks WHERE id LIKE 'b-%'" 50
sqlite3 "$FLEETQ_DB" <<'SQL' >"$FQ_TMP/lock.log" 2>&1 &
.timeout 1000
BEGIN IMMEDIATE;
INSERT INTO tasks (id, role, priority, status, submitted_at) VALUES ('lock-holder', 'code', 4, 'done', '2026-01-01T00:00:00.000Z');
SELECT 'locked';
.shell sleep 20
COMMIT;
SQL
locker=$!
fq_wait_for 5 grep -q locked "$FQ_TMP/lock.log" || fq_fail "sqlite3 did not take the lock: $(cat "$FQ_TMP/lock.log")"
t0=$(date +%s%N)
fq_submit_n 50 l code
fq_submit_n 10 m memory   # each searches the memory (recall) on a reader thread
( for _ in $(seq 1 20); do curl -s -o /dev/null "$URL/health"; sleep 1; done ) &
poller=$!
fq_wait_for 10 done_in_redis l 50 || fq_fail "the 50 tasks were not done in Redis within 10 s while the database was locked"
fq_wait_for 10 done_in_redis m 10 || fq_fail "the 10 recalling memory tasks were not done in Redis within 10 s while the database was locked"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
fq_log "50 code and 10 recalling memory tasks done in Redis in $ms ms with the database locked"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'l-%'" 2>/dev/null || echo locked)" 0 \
    "rows of the 50 while the lock is held"
behind() { curl -s "$URL/health" >"$FQ_TMP/health.json" && jq -e '.store.behind' "$FQ_TMP/health.json" >/dev/null; }
fq_wait_for 10 behind || fq_fail "/health did not say the store is behind: $(cat "$FQ_TMP/health.json")"
code=$(curl -s -o "$FQ_TMP/health.json" -w '%{http_code}' "$URL/health")
fq_log "/health while locked: $(jq -c '{status, store}' "$FQ_TMP/health.json")"
fq_assert_eq "$code" 200 "/health's status code while the store is behind"
fq_assert_eq "$(jq -r .status "$FQ_TMP/health.json")" degraded "/health status while the store is behind"
fq_assert_ge "$(jq -r .store.backlog "$FQ_TMP/health.json")" 1 "the backlog /health reports"
fq_assert_contains "$(jq -r .store.reason "$FQ_TMP/health.json")" "locked" "the reason /health gives"
wait "$locker"
wait "$poller" 2>/dev/null || true
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id LIKE 'l-%'" 50
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE task_id LIKE 'l-%'")" 50 "attempts written once"
fq_assert_eq "$(fq_sql "SELECT count(DISTINCT id) FROM tasks WHERE id LIKE 'l-%' AND status = 'done'")" 50 \
    "rows written, each once"
fq_wait_for 10 fq_health_ok || fq_fail "/health not ok after the lock went: $(curl -s "$URL/health")"

# ---------------------------------------------------------------------------
fq_log "(b) 2,000 half-open connections from 127.0.0.2"
python3 - "$PORT" "$FQ_TMP/flood.ready" <<'PY' &
import socket, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
socks = []
for _ in range(2000):
    s = socket.socket()
    s.setblocking(False)
    s.bind(("127.0.0.2", 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    socks.append(s)
time.sleep(0.5)
for s in socks:
    try:
        s.send(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    except OSError:
        pass
open(ready, "w").write("%d\n" % len(socks))
time.sleep(8)
PY
flood=$!
fq_wait_for 20 test -s "$FQ_TMP/flood.ready" || fq_fail "the flood did not start"
# /proc/net/tcp: local port $PORT (hex), remote 127.0.0.2 (0200007F), ESTABLISHED (01)
held=$(awk -v port="$(printf ':%04X' "$PORT")" \
    'index($2, port) && substr($3, 1, 8) == "0200007F" && $4 == "01" { n++ } END { print n + 0 }' \
    /proc/net/tcp)
fq_log "connections from 127.0.0.2 the coordinator holds: $held"
fq_assert_ge "$held" 1000 "half-open connections held during the flood"
worst=0
for _ in 1 2 3 4 5; do
    t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$URL/health")
    fq_assert_eq "${t%% *}" 200 "/health during the flood"
    ms=$(awk -v s="${t#* }" 'BEGIN { printf "%d", s * 1000 }')
    [ "$ms" -gt "$worst" ] && worst=$ms
    sleep 0.2
done
fq_log "/health during the flood: slowest of 5 answers $worst ms"
fq_assert_le "$worst" 100 "ms for /health to answer during the flood"
kill "$flood" 2>/dev/null || true
wait "$flood" 2>/dev/null || true

# ---------------------------------------------------------------------------
fq_log "(c) the loop stalled for 8 s"
kill -USR2 "$FQ_COORD_PID"
t0=$(date +%s%N)
stalled() { [ "$(curl -s -o "$FQ_TMP/health.json" -w '%{http_code}' "$URL/health")" = 503 ]; }
fq_wait_for 5 stalled || fq_fail "/health not 503 within 5 s of the stall: $(cat "$FQ_TMP/health.json")"
fq_log "503 after $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(cat "$FQ_TMP/health.json")"
fq_assert_eq "$(jq -r .status "$FQ_TMP/health.json")" stalled "the status of a stalled loop"
fq_wait_for 15 fq_health_ok || fq_fail "/health not ok after the stall: $(curl -s "$URL/health")"

fq_pass
