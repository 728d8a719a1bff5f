#!/usr/bin/env bash
# too_large.sh -- benchmark (not a test) of requests a provider refuses as
# larger than its limit ("Request too large ... Limit N, Requested M", a
# 429 that no wait lets through), among ordinary work.
#
# Each run times the same workload twice, side by side, each on a fresh
# Redis, fleetq-mockapi (OpenAI's shapes, a true limit of 20 calls/s for the
# key, a request-token limit of 2000), coordinator and store:
#
#   alone       100 ordinary code tasks, submitted at once;
#   with three  the same 100, and three tasks of about 3000 tokens each
#               submitted first.
#
# The ceiling is the provider's own 20 calls/s (GROK_RATE_LIMIT_RPM=1200),
# one code worker with 8 slots. Reported per run: the seconds from the
# first submission until the 100 ordinary tasks are done, for each variant,
# their ratio, and what became of the three (failed after one call each
# with the provider's reason). The summary gives the medians over the runs.
#
#   bench/too_large.sh [RUNS]      (default 5)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/setup.sh" "$root/build"
export FQ_SRC=$root FQ_BIN=$root/build
. "$root/tests/integration/lib.sh"

runs=${1:-5}
export FLEETQ_LOG_LEVEL=warn GROK_RATE_LIMIT_RPM=1200 DAILY_BUDGET_USD=0

big=$(head -c 12000 /dev/zero | tr '\0' 'x')

# variant BIG: writes to $FQ_TMP/variant the seconds the 100 ordinary
# tasks took and (with BIG=1) the calls made for the three big ones. Run in
# this shell, not a subshell, so that every process it starts is known to
# the next fq_reset_fleet and to the cleanup at exit.
variant() {
    fq_reset_fleet 300
    fq_start_redis
    fq_start_mock --latency-ms 20 --jitter-ms 40 --error-style openai --rate-limit 20 \
        --window-ms 1000 --request-token-limit 2000
    fq_start_coordinator
    fq_start_worker code --concurrency 8
    sleep 0.5
    local t0
    t0=$(date +%s.%N)
    if [ "$1" = 1 ]; then
        for i in 1 2 3; do fq_submit role code id "big-$i" prompt "$big" >/dev/null; done
    fi
    fq_submit_n 100 small code
    fq_wait_sql 300 "SELECT count(*) FROM tasks WHERE id LIKE 'small-%' AND status = 'done'" 100
    local last
    last=$(fq_sql "SELECT max(julianday(finished_at) - 2440587.5) * 86400 FROM tasks WHERE id LIKE 'small-%'")
    local calls=-
    if [ "$1" = 1 ]; then
        fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id LIKE 'big-%' AND status = 'failed'" 3
        calls=$(fq_sql "SELECT count(*) FROM attempts WHERE task_id LIKE 'big-%'")
    fi
    awk -v a="$t0" -v b="$last" -v c="$calls" 'BEGIN { printf "%.2f %s\n", b - a, c }' \
        >"$FQ_TMP/variant"
}

alone=() with=() ratios=()
echo "| run | alone (s) | with three (s) | ratio | calls for the three |"
echo "| --- | --- | --- | --- | --- |"
for r in $(seq 1 "$runs"); do
    variant 0
    read -r a _ <"$FQ_TMP/variant"
    variant 1
    read -r w calls <"$FQ_TMP/variant"
    ratio=$(awk -v a="$a" -v w="$w" 'BEGIN { printf "%.3f", w / a }')
    alone+=("$a") with+=("$w") ratios+=("$ratio")
    echo "| $r | $a | $w | $ratio | $calls |"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
echo "medians over $runs runs: alone $(median "${alone[@]}") s, with three $(median "${with[@]}") s, ratio $(median "${ratios[@]}")"
