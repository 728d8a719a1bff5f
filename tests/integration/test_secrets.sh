#!/usr/bin/env bash
# The API key never leaves the worker's memory for anything but the
# provider: not in any log line (at debug level), not in any Redis key or
# value ever written (the append-only file keeps every write, also of
# values deleted since), not in SQLite, not in the coordinator's HTTP
# answers. Checked after calls that succeed, calls that fail in every way
# the provider fails (5xx, resets, truncated bodies, hangs past the
# timeout), a rejected key, and a key reloaded from its file on SIGHUP.
. "$(dirname "$0")/lib.sh"

key="test-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
wrong="test-wrong-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
FQ_KEY=$key

fq_start_redis --appendonly yes --appendfsync always
fq_start_mock --latency-ms 5
unset XAI_API_KEY
keyfile=$FQ_TMP/key
printf '%s\n' "$key" >"$keyfile"
export XAI_API_KEY_FILE=$keyfile FLEETQ_LOG_LEVEL=debug
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 REQUEST_TIMEOUT=2 GROK_MAX_RETRIES=2
export FLEETQ_BACKOFF_BASE_MS=50 FLEETQ_BREAKER_THRESHOLD=1000
fq_start_coordinator
for r in ceo code; do fq_start_worker "$r" --concurrency 4; done

# 1. calls that succeed
fq_submit_n 20 ok "ceo code"
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE status = 'done'" 20

# 2. calls that fail in every way
fq_mock_config '{"fail_rate": 0.3, "reset_rate": 0.2, "truncate_rate": 0.2, "hang_rate": 0.1, "hang_ms": 3000}'
fq_submit_n 30 bad "ceo code"
fq_wait_sql 60 "SELECT count(*) FROM tasks WHERE id GLOB 'bad-*'" 30
fq_mock_config '{"fail_rate": 0, "reset_rate": 0, "truncate_rate": 0, "hang_rate": 0}'
fq_log "failing calls: $(fq_sql "SELECT outcome, count(*) FROM attempts GROUP BY outcome" | paste -sd' ')"
fq_assert_ge "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome <> 'ok'")" 10 "failed attempts"

# 3. a rejected key, then the right one again through the file and SIGHUP
printf '%s\n' "$wrong" >"$keyfile"
for pid in "${FQ_PIDS[@]:3}"; do kill -HUP "$pid"; done
sleep 0.5
fq_submit_n 4 rej "ceo code"
fq_wait_for 20 fq_quota_is paused key_rejected || fq_fail "the fleet did not pause on the wrong key"
printf '%s\n' "$key" >"$keyfile"
for pid in "${FQ_PIDS[@]:3}"; do kill -HUP "$pid"; done
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id GLOB 'rej-*' AND status = 'done'" 4

# the coordinator's HTTP answers, when it serves them
http=""
for path in /health /metrics; do
    http+=$(curl -s "http://127.0.0.1:$PORT$path" || true)
done

fq_stop_all 100
# Each secret in full, and its middle part (a key cut or re-encoded would
# still show that).
for secret in "$key" "$wrong"; do
    for needle in "$secret" "${secret:12:16}"; do
        hits=$(grep -rlaF -- "$needle" "$FQ_TMP"/coordinator.log "$FQ_TMP"/worker-*.log \
               "$FQ_TMP"/redis "$FQ_TMP"/fleetq.db* 2>/dev/null || true)
        [ -z "$hits" ] || fq_fail "a key shows up in: $hits"
        grep -qF -- "$needle" <<<"$http" && fq_fail "a key shows up in /health or /metrics"
    done
done
# the search itself finds what is there: the key in its file, the tasks'
# writes in the append-only file
grep -qF -- "${key:12:16}" "$keyfile" || fq_fail "the search does not find the key in its own file"
grep -rqaF -- "fleetq:task:rej-4" "$FQ_TMP/redis" || fq_fail "the append-only file lacks the writes"
fq_assert_ge "$(cat "$FQ_TMP"/worker-*.log | wc -l)" 100 "log lines checked"
fq_pass
