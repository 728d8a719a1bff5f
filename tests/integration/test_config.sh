#!/usr/bin/env bash
# Each program exits 2 with one clear line naming the variable on bad
# configuration, and answers --help and --version.
. "$(dirname "$0")/lib.sh"

worker="$FQ_BIN/worker/fleetq-worker"
coord="$FQ_BIN/coordinator/fleetq-coordinator"
mock="$FQ_BIN/mockapi/fleetq-mockapi"
unset XAI_API_KEY GROK_API_KEY XAI_API_KEY_FILE GROK_API_KEY_FILE REDIS_URL

# expect_config_error WORD PROGRAM ARGS... (environment set by the caller)
expect_config_error() {
    local word=$1; shift
    local out rc=0
    out=$(timeout 10 "$@" 2>&1 >/dev/null) || rc=$?
    fq_assert_eq "$rc" 2 "exit code of '$*' ($out)"
    fq_assert_eq "$(printf '%s\n' "$out" | wc -l)" 1 "lines printed by '$*' ($out)"
    fq_assert_contains "$out" "$word" "message of '$*'"
}

secret="sk-test-$RANDOM$RANDOM$RANDOM"
echo "$secret" >"$FQ_TMP/key"

expect_config_error XAI_API_KEY "$worker" --role code
expect_config_error role "$worker"
expect_config_error intern env XAI_API_KEY="$secret" "$worker" --role intern
expect_config_error REDIS_URL env XAI_API_KEY="$secret" REDIS_URL=http://localhost "$worker" --role code
expect_config_error REDIS_URL env REDIS_URL='redis://host:notaport' "$coord"
expect_config_error GROK_RATE_LIMIT_RPM env XAI_API_KEY="$secret" GROK_RATE_LIMIT_RPM=-5 "$worker" --role code
expect_config_error DAILY_BUDGET_USD env DAILY_BUDGET_USD=-1 "$coord"
expect_config_error FLEETQ_MAX_INFLIGHT env FLEETQ_MAX_INFLIGHT=-1 "$coord"
expect_config_error XAI_API_KEY_FILE env XAI_API_KEY="$secret" XAI_API_KEY_FILE="$FQ_TMP/key" "$worker" --role code
expect_config_error XAI_API_KEY_FILE env XAI_API_KEY_FILE="$FQ_TMP/missing" "$worker" --role code
expect_config_error ENABLE_RATE_LIMITING env ENABLE_RATE_LIMITING=maybe "$coord"
expect_config_error concurrency env XAI_API_KEY="$secret" "$worker" --role code --concurrency 0
# the limits per model and their scope
expect_config_error FLEETQ_LIMIT_SCOPE env FLEETQ_LIMIT_SCOPE=team "$coord"
for bad in "grok-4" "grok-4:rpm" "grok-4:rpm=x" "grok-4:rpm=-1" "grok-4:rpx=5" \
        "grok-4:rpm=5;grok-4:tpm=9" ":rpm=5" "grok 4:rpm=5" "grok-4:"; do
    expect_config_error FLEETQ_MODEL_LIMITS env FLEETQ_MODEL_LIMITS="$bad" "$coord"
    expect_config_error FLEETQ_MODEL_LIMITS env XAI_API_KEY="$secret" FLEETQ_MODEL_LIMITS="$bad" \
        "$worker" --role code
done
out=$(env FLEETQ_MODEL_LIMITS="grok-4:rpm=5;grok-4:tpm=9" "$coord" 2>&1 || true)
fq_assert_contains "$out" "FLEETQ_MODEL_LIMITS: grok-4 has two entries" "a model given twice"
out=$(env FLEETQ_MODEL_LIMITS="grok-4:rpx=5" "$coord" 2>&1 || true)
fq_assert_contains "$out" "unknown limit \"rpx\"; allowed: rpm, rph, tpm, inflight" "an unknown limit"

# The key never shows in an error message.
out=$(env XAI_API_KEY="$secret" XAI_API_KEY_FILE="$FQ_TMP/key" "$worker" --role code 2>&1 || true)
case "$out" in *"$secret"*) fq_fail "the key appeared in: $out" ;; esac

for prog in "$worker" "$coord" "$mock"; do
    fq_assert_contains "$("$prog" --help)" "Usage" "$prog --help"
    fq_assert_contains "$("$prog" --version)" "fleetq" "$prog --version"
done

# An unreachable Redis is said at once, at error, with where (the URL
# without its password) and why; the programs keep trying.
port=$(fq_free_port)
pw="unreachable-$RANDOM-pw"
for prog in "$coord" "$worker --role code"; do
    log="$FQ_TMP/unreachable-$(basename "${prog%% *}").log"
    # shellcheck disable=SC2086 # the worker's --role word by word
    env REDIS_URL="redis://fleetq-worker:$pw@127.0.0.1:$port/0" XAI_API_KEY="$FQ_KEY" \
        FLEETQ_DB="$FQ_TMP/unreachable.db" PORT=0 $prog >"$log" 2>&1 &
    pid=$!
    fq_wait_for 1 grep -q '"level":"error",.*"event":"redis.unreachable"' "$log" ||
        fq_fail "$prog: no error within a second about the unreachable Redis: $(cat "$log")"
    line=$(grep -m1 redis.unreachable "$log")
    fq_assert_contains "$line" "\"url\":\"redis://fleetq-worker:***@127.0.0.1:$port/0\"" "where"
    fq_assert_contains "$line" "Connection refused" "why"
    if [ "$prog" = "$coord" ]; then   # /health says the same
        http=$(grep -o '"event":"http.listening".*"port":[0-9]*' "$log" | grep -o '[0-9]*$')
        fq_wait_for 3 bash -c "curl -s http://127.0.0.1:$http/health | grep -q 'cannot reach'" ||
            fq_fail "/health does not say Redis is unreachable"
        health=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$http/health")
        fq_assert_contains "$health" "cannot reach Redis at 127.0.0.1:$port: Connection refused" "/health: where and why"
        fq_assert_contains "$health" '"state":"starting"' "/health: no lease without Redis"
        fq_assert_eq "${health##* }" 503 "/health's code without Redis"
        ! grep -qF "$pw" <<<"$health" || fq_fail "the Redis password is in /health"
    fi
    kill -0 "$pid" || fq_fail "$prog gave up on Redis"
    kill -TERM "$pid"
    wait "$pid" || true
    ! grep -qF "$pw" "$log" || fq_fail "the Redis password is in the log of $prog"
done
fq_pass
