#!/usr/bin/env bash
# Fleet-wide pauses instead of per-task failures:
#   (a) a rejected key: 4 worker processes x 4 slots and 40 tasks, but the
#       provider sees at most about one call per process; fleetq:quota says
#       paused=key_rejected with a reason; no task fails (handed back,
#       delayed, "paused" in its error); writing the right key into
#       XAI_API_KEY_FILE and sending SIGHUP to every worker lets all 40
#       finish; neither key shows up in any log, in Redis or in SQLite;
#   (b) no credits (403): paused=no_credits after the first calls, nothing
#       retried as a rate limit, no task fails; raising the credits and
#       `redis-cli HDEL fleetq:quota paused` lets them finish;
#   (c) the same with the credits message on a 429, which must not be taken
#       for a rate limit (no decrease of the effective rate); this time the
#       pause lifts by itself: with FLEETQ_PAUSE_PROBE_SECONDS=4 a probe call
#       succeeds once the credits are raised.
. "$(dirname "$0")/lib.sh"

# Every key in Redis with its whole value, one line per element.
redis_dump() {
    local k
    fq_redis --scan | while read -r k; do
        printf 'KEY %s\n' "$k"
        case "$(fq_redis TYPE "$k")" in
            string) fq_redis GET "$k" ;;
            hash)   fq_redis HGETALL "$k" ;;
            list)   fq_redis LRANGE "$k" 0 -1 ;;
            set)    fq_redis SMEMBERS "$k" ;;
            zset)   fq_redis ZRANGE "$k" 0 -1 WITHSCORES ;;
            stream) fq_redis XRANGE "$k" - + ;;
        esac
    done
}

# Waits until no task of the given ids (PREFIX-1..N) is `running`, then
# prints "status count" lines.
settled_statuses() { # prefix n
    local i s running
    for _ in $(seq 1 100); do
        running=0
        for i in $(seq 1 "$2"); do
            s=$(fq_redis HGET "fleetq:task:$1-$i" status)
            [ "$s" = running ] && { running=1; break; }
        done
        [ "$running" = 0 ] && break
        sleep 0.1
    done
    for i in $(seq 1 "$2"); do fq_redis HGET "fleetq:task:$1-$i" status; done | sort | uniq -c |
        awk '{ print $2, $1 }'
}

# Asserts that tasks PREFIX-1..N are all queued or delayed (or, with
# allow_done=1, done), none failed, at least one delayed, and that every
# delayed one says "paused" in its error.
assert_parked() { # prefix n allow_done
    local st i s e delayed=0
    st=$(settled_statuses "$1" "$2")
    fq_log "statuses of $1-*: $(paste -sd' ' <<<"$st")"
    while read -r s _; do
        case "$s" in
            queued|delayed) ;;
            done) [ "$3" = 1 ] || fq_fail "$1: a task ran although the fleet is paused" ;;
            *) fq_fail "$1: a task is '$s' while the fleet is paused; expected queued or delayed" ;;
        esac
    done <<<"$st"
    for i in $(seq 1 "$2"); do
        s=$(fq_redis HGET "fleetq:task:$1-$i" status)
        [ "$s" = delayed ] || continue
        delayed=$((delayed + 1))
        e=$(fq_redis HGET "fleetq:task:$1-$i" error)
        fq_assert_contains "$e" paused "error of delayed task $1-$i"
    done
    fq_assert_ge "$delayed" 1 "$1: tasks handed back as delayed"
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status <> 'done'")" 0 \
        "$1: tasks that reached a final status other than done"
}

export DAILY_BUDGET_USD=0 FLEETQ_LOG_LEVEL=info
workers_n=4

# ---------------------------------------------------------------------------
# (a) The key is rejected.
fq_log "(a) a rejected key"
fq_start_redis
fq_start_mock --latency-ms 20          # the valid key is $FQ_KEY ("A")
key_a=$FQ_KEY
key_b="wrong-key-$RANDOM$RANDOM$RANDOM"
keyfile=$FQ_TMP/xai_api_key
printf '%s\n' "$key_b" >"$keyfile"
unset XAI_API_KEY
export XAI_API_KEY_FILE=$keyfile
fq_start_coordinator
n=40
fq_submit_n "$n" k code
workers=()
for i in $(seq 1 "$workers_n"); do
    fq_start_worker code --concurrency 4
    workers+=("$FQ_LAST_PID")
done
fq_wait_for 15 fq_quota_is paused key_rejected ||
    fq_fail "(a) fleetq:quota paused is '$(fq_quota paused)', expected key_rejected"
sleep 2   # anything that was going to call has called by now
stats=$(fq_mock_stats)
calls=$(jq .requests <<<"$stats")
reason=$(fq_quota pause_reason)
fq_log "(a) calls at the provider: $calls (auth failures $(jq .auth_failures <<<"$stats")) for $workers_n processes x 4 slots; pause_reason: $reason"
# At most one call per worker process until one succeeds; +1 for a probe
# or a call that was on its way as the pause landed.
fq_assert_le "$calls" $((workers_n + 1)) "(a) calls the provider saw with a rejected key"
fq_assert_ge "$calls" 1 "(a) calls the provider saw"
[ -n "$reason" ] || fq_fail "(a) no pause_reason in fleetq:quota"
assert_parked k "$n" 0
grep -qE 'key_rejected|paused' "$FQ_TMP"/worker-code.log ||
    fq_fail "(a) the workers' logs do not mention the pause"

# The right key, and SIGHUP: the pause lifts and everything runs.
printf '%s\n' "$key_a" >"$keyfile"
for pid in "${workers[@]}"; do kill -HUP "$pid"; done
fq_wait_sql 40 "SELECT count(*) FROM tasks WHERE status='done'" "$n"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks")" "$n" "(a) task rows after the key was fixed"
p=$(fq_quota paused)
[ -z "$p" ] || [ "$p" = none ] || [ "$p" = 0 ] || fq_fail "(a) paused is still '$p' after the key was fixed"
fq_log "(a) all $n done after SIGHUP; provider calls in all: $(jq .requests <<<"$(fq_mock_stats)")"

# Neither key anywhere: logs, every Redis key and value, the SQLite file.
dump=$FQ_TMP/redis.dump
redis_dump >"$dump"
for key in "$key_a" "$key_b"; do
    for f in "$FQ_TMP"/worker-*.log "$FQ_TMP"/coordinator.log "$dump"; do
        ! grep -qF -- "$key" "$f" || fq_fail "(a) a key value appears in $(basename "$f")"
    done
    for f in "$FQ_TMP"/fleetq.db*; do
        ! grep -qaF -- "$key" "$f" || fq_fail "(a) a key value appears in $(basename "$f")"
    done
done
unset XAI_API_KEY_FILE
fq_reset_fleet

# ---------------------------------------------------------------------------
# (b) and (c): no credits. grok-4-fast at 0.50 per 1M output tokens: a
# call answering 300 tokens costs over $0.00015, so the first call spends
# the $0.0001 of credits and every later one is refused.
run_no_credits() { # part credits-status resume(hdel|probe)
    local part=$1 cstatus=$2 resume=$3 prefix=nc$2 stats calls st t_raise
    fq_log "($part) no credits, answered $cstatus"
    fq_start_redis
    fq_start_mock --latency-ms 20 --credits-usd 0.0001 --credits-status "$cstatus" \
        --completion-tokens 300 --reasoning-tokens 0
    fq_start_coordinator
    n=20
    fq_submit_n "$n" "$prefix" memory
    for i in $(seq 1 "$workers_n"); do fq_start_worker memory --concurrency 4; done
    fq_wait_for 15 fq_quota_is paused no_credits ||
        fq_fail "($part) fleetq:quota paused is '$(fq_quota paused)', expected no_credits"
    sleep 2
    stats=$(fq_mock_stats)
    calls=$(jq .requests <<<"$stats")
    fq_log "($part) calls at the provider: $calls, statuses $(jq -c .status <<<"$stats"), decreases=$(fq_quota decreases), rate_per_s=$(fq_quota rate_per_s), pause_reason: $(fq_quota pause_reason)"
    # one call per process before a success, then the calls already on their
    # way when the first refusal came back (the rate paces them 125 ms apart)
    fq_assert_le "$calls" $((workers_n + 3)) "($part) calls the provider saw with no credits"
    [ -n "$(fq_quota pause_reason)" ] || fq_fail "($part) no pause_reason in fleetq:quota"
    assert_parked "$prefix" "$n" 1
    sleep 0.5
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome = 'rate_limited'")" 0 \
        "($part) attempts recorded as rate_limited"
    fq_assert_ge "$(fq_sql "SELECT count(*) FROM attempts WHERE outcome = 'no_credits'")" 1 \
        "($part) attempts recorded as no_credits"
    fq_assert_eq "$(fq_mquota grok-4-fast decreases | sed 's/^$/0/')" 0 "($part) decreases of the effective rate"

    # more credits, then the documented manual resume, or the probe
    fq_mock_config '{"credits_usd": 100}' || fq_fail "($part) /mock/config refused credits_usd"
    t_raise=$(date +%s.%N)
    [ "$resume" = hdel ] && fq_redis HDEL fleetq:quota paused >/dev/null
    fq_wait_sql 40 "SELECT count(*) FROM tasks WHERE status='done'" "$n"
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks")" "$n" "($part) task rows after the resume"
    fq_log "($part) all $n done $(awk -v a="$t_raise" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s after the credits were raised (resume: $resume); provider calls in all: $(jq .requests <<<"$(fq_mock_stats)")"
    if [ "$resume" = probe ]; then
        grep -q 'quota.probe' "$FQ_TMP"/worker-memory.log ||
            fq_fail "($part) no pause probe in the workers' logs"
    fi
    fq_reset_fleet
}
run_no_credits b 403 hdel
export FLEETQ_PAUSE_PROBE_SECONDS=4
run_no_credits c 429 probe
fq_pass
