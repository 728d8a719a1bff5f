#!/usr/bin/env bash
# A streamed task's answer in Redis as it arrives: fleetq:stream:<id>.
#
# (a) A task with `stream true` (the fleet's FLEETQ_STREAM is off), from a
#     mock that sends a chunk every 300 ms: while the task runs, XREAD
#     finds its first deltas and no end entry, and `fleetqctl result
#     --follow` has printed text; once it is done, the deltas joined are
#     byte for byte its output in SQLite, the end entry says done with the
#     finish reason and the tokens of the row, and the stream expires with
#     the result (FLEETQ_RESULT_TTL). The attempt's time to first token is
#     recorded (above 0, below its latency) and /metrics counts it.
# (b) A plain call records its time to first token too, and writes no
#     stream.
# (c) FLEETQ_STREAM_MAXLEN=3 keeps the last 3 entries of a longer stream.
. "$(dirname "$0")/lib.sh"

export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_RECALL_K=0 FLEETQ_RESULT_TTL=600
fq_start_redis
fq_start_mock --stream-chunk-ms 300 --completion-tokens 60
fq_start_coordinator
fq_start_worker code --concurrency 2
metric() { curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
has_delta() { fq_redis XRANGE fleetq:stream:s1 - + | grep -qx delta; }
follow_printed() { [ -s "$FQ_TMP/follow.out" ]; }

# ---------------------------------------------------------------------------
fq_log "(a) a streamed task, read while it runs"
fq_submit id s1 role code prompt "stream me" stream true >/dev/null
# --follow of an id not yet known exits 1: first the task
known() { [ "$(fq_redis EXISTS fleetq:task:s1)" = 1 ]; }
fq_wait_for 10 known || fq_fail "task s1 was not taken in"
"$FQ_CTL" result --follow s1 >"$FQ_TMP/follow.out" 2>"$FQ_TMP/follow.err" &
follow_pid=$!
fq_wait_for 10 has_delta || fq_fail "no delta in fleetq:stream:s1"
fq_assert_eq "$(fq_redis HGET fleetq:task:s1 status)" running "the task while its first delta is there"
fq_assert_eq "$(fq_redis XRANGE fleetq:stream:s1 - + | grep -cx end || true)" 0 "end entries so far"
fq_wait_for 10 follow_printed || fq_fail "fleetqctl result --follow printed nothing while the task ran"
fq_assert_eq "$(fq_redis HGET fleetq:task:s1 status)" running "the task while --follow has printed"
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id='s1' AND status='done'" 1
set +e; wait "$follow_pid"; follow_rc=$?; set -e
fq_assert_eq "$follow_rc" 0 "fleetqctl result --follow's exit status"

entries=$(fq_redis --no-raw XLEN fleetq:stream:s1 | tr -dc 0-9)
fq_assert_ge "$entries" 4 "entries in the stream (deltas, then the end)"
# the deltas, joined, hex-encoded (redis-cli --raw would split lines)
python3 - "$FQ_REDIS_PORT" >"$FQ_TMP/joined.hex" <<'PY'
import socket, sys
def cmd(*args):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    s.sendall(out)
    f = s.makefile("rb")
    def read():
        line = f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"*":
            return [read() for _ in range(int(rest))]
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)[:-2]
            return data
        return rest
    return read()
joined, end = b"", None
for _id, fields in cmd(b"XRANGE", b"fleetq:stream:s1", b"-", b"+"):
    d = dict(zip(fields[0::2], fields[1::2]))
    if b"delta" in d:
        joined += d[b"delta"]
    if b"end" in d:
        end = d
print(joined.hex().upper())
print(end[b"end"].decode(), end.get(b"finish_reason", b"").decode(),
      end.get(b"completion_tokens", b"").decode())
PY
fq_assert_eq "$(sed -n 1p "$FQ_TMP/joined.hex")" "$(fq_sql "SELECT hex(output) FROM tasks WHERE id='s1'")" \
    "the deltas joined are the output"
fq_assert_eq "$(sed -n 2p "$FQ_TMP/joined.hex")" \
    "done $(fq_redis HGET fleetq:task:s1 finish_reason) $(fq_sql "SELECT completion_tokens FROM tasks WHERE id='s1'")" \
    "the end entry: status, finish reason, completion tokens"
fq_assert_eq "$(cat "$FQ_TMP/follow.out")" "$(fq_sql "SELECT output FROM tasks WHERE id='s1'")" \
    "what --follow printed is the output"
ttl=$(fq_redis PTTL fleetq:stream:s1)
fq_assert_le "$ttl" 600000 "the stream expires with the result"
fq_assert_ge "$ttl" 590000 "the stream expires with the result"
fq_assert_eq "$(fq_sql "SELECT ttft_ms > 0 AND ttft_ms < latency_ms FROM attempts WHERE task_id='s1'")" 1 \
    "the attempt's time to first token"
fq_fresh_snapshot
fq_assert_ge "$(metric fleetq_api_ttft_seconds_count)" 1 "fleetq_api_ttft_seconds_count"

# ---------------------------------------------------------------------------
fq_log "(b) a plain call"
fq_submit id p1 role code prompt "do not stream me" >/dev/null
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id='p1' AND status='done'" 1
fq_assert_eq "$(fq_sql "SELECT ttft_ms IS NOT NULL AND ttft_ms <= latency_ms FROM attempts WHERE task_id='p1'")" 1 \
    "a plain call's time to first byte"
fq_assert_eq "$(fq_redis EXISTS fleetq:stream:p1)" 0 "no stream for a plain call"
fq_fresh_snapshot
fq_assert_eq "$(metric fleetq_api_ttft_seconds_count)" 2 "fleetq_api_ttft_seconds_count"
fq_reset_fleet

# ---------------------------------------------------------------------------
fq_log "(c) FLEETQ_STREAM_MAXLEN=3"
export FLEETQ_STREAM_MAXLEN=3 FLEETQ_STREAM=true
fq_start_redis
fq_start_mock --stream-chunk-ms 100 --completion-tokens 60
fq_start_coordinator
fq_start_worker code
fq_submit id m1 role code prompt "a long one" >/dev/null
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id='m1' AND status='done'" 1
fq_assert_eq "$(fq_redis XLEN fleetq:stream:m1)" 3 "entries kept"
fq_assert_contains "$(fq_redis XREVRANGE fleetq:stream:m1 + - COUNT 1)" "end" "the last entry is the end"

fq_pass
