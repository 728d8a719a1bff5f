#!/usr/bin/env bash
# quota.sh -- benchmark (not a test) of the fleet quota against a provider
# whose limits lie: fleetq-mockapi advertises 48 calls/s but lets through
# only 20 in any 1 s window (wobbling by +-5% each window), answering in
# 0-100 ms. Three strategies run side by side, each on a fresh Redis, mock,
# coordinator and store, with the same workload and the same workers:
#
#   seeds       no shared limiter (ENABLE_RATE_LIMITING=false): every
#               worker retries its own 429s with exponential back-off
#               from 1 s (1 s, 2 s, 4 s, ...);
#   fixed       a shared limiter fixed at the advertised 48/s
#               (GROK_RATE_LIMIT_RPM=2880, FLEETQ_ADAPTIVE=false);
#   fleetq      the shared adaptive limiter starting from the same ceiling
#               (GROK_RATE_LIMIT_RPM=2880, defaults otherwise).
#
# Workload: 600 memory tasks at once for 3 memory workers x 8 slots (a
# backlog that outlasts the run), and a ceo task every 0.5 s for 1 ceo
# worker x 2. All strategies get GROK_MAX_RETRIES=10 so that no task gives
# up. Each strategy runs FQ_BENCH_SECONDS (default 16) seconds.
#
# Reported per strategy: successful calls per second while the backlog
# saturates the provider (after a 3 s start) as a share of the true 20/s;
# 429s as a share of all calls over the whole run; the p50 / p95 wait of
# ceo tasks from submission to their first attempt (first attempt's
# started_at - submitted_at) and to their first successful attempt (a ceo
# task still waiting at the end counts with its wait so far); memory tasks
# done (the provider's successful memory calls by the end); provider calls.
#
# FQ_BENCH_PROVIDER=strict makes the provider count its 429'd calls towards
# its window too (mockapi --count-refused), as some providers do: there an
# immediate retry only prolongs a 429.
# FQ_BENCH_ONLY=fleetq (or seeds, fixed) runs one strategy; FQ_BENCH_TRACE=F
# appends, every 250 ms, the effective rate and the provider's ok/429
# counts to file F.
#
#   bench/quota.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/setup.sh" "$root/build"
export FQ_SRC=$root FQ_BIN=$root/build
. "$root/tests/integration/lib.sh"

run_s=${FQ_BENCH_SECONDS:-16}
provider=${FQ_BENCH_PROVIDER:-lenient}
case $provider in
    strict) provider_flags=(--count-refused)
            provider_text="429'd calls count towards its window" ;;
    lenient) provider_flags=()
             provider_text="429'd calls do not count" ;;
    *) echo "FQ_BENCH_PROVIDER must be strict or lenient" >&2; exit 2 ;;
esac
warm_s=3
true_limit=20
memory_tasks=600
export FLEETQ_LOG_LEVEL=warn DAILY_BUDGET_USD=0 GROK_MAX_RETRIES=10 FLEETQ_BACKOFF_BASE_MS=1000
# the mock limits the key as a whole here (one window for ceo's and
# memory's models), so the quota is the key's too
export FLEETQ_LIMIT_SCOPE=key

now() { date +%s.%N; }
now_ms() { date +%s%3N; }

# memory tasks mem-1..mem-N in one pipelined redis-cli session
submit_memory() {
    awk -v n="$1" 'BEGIN {
        for (i = 1; i <= n; i++) {
            id = "mem-" i; prompt = "memory task " i
            printf "*9\r\n$4\r\nXADD\r\n$13\r\nfleetq:submit\r\n$1\r\n*\r\n$2\r\nid\r\n"
            printf "$%d\r\n%s\r\n$4\r\nrole\r\n$6\r\nmemory\r\n", length(id), id
            printf "$6\r\nprompt\r\n$%d\r\n%s\r\n", length(prompt), prompt
        }
    }' | fq_redis --pipe >/dev/null
}

# "p50 p95" of the numbers on stdin
percentiles() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- -"; exit }
        i50 = int((NR * 50 + 99) / 100); i95 = int((NR * 95 + 99) / 100)
        printf "%d %d\n", v[i50], v[i95] }'
}

rows=()

# trace_rate FILE NAME: samples fleetq:quota and the mock until killed
trace_rate() {
    local t0 s
    t0=$(now_ms)
    while :; do
        s=$(fq_mock_stats) || s='{}'
        printf '%s %6d rate %s ok %s 429 %s\n' "$2" "$(( $(now_ms) - t0 ))" \
            "$(fq_redis HGET fleetq:quota rate_per_s)" "$(jq .ok <<<"$s")" \
            "$(jq .rate_limited <<<"$s")" >>"$1"
        sleep 0.25
    done
}

# run_strategy NAME [VAR=VALUE...]
run_strategy() {
    local name=$1 key=$2; shift 2
    case ${FQ_BENCH_ONLY:-$key} in "$key") ;; *) return 0 ;; esac
    unset ENABLE_RATE_LIMITING GROK_RATE_LIMIT_RPM FLEETQ_ADAPTIVE
    local kv
    for kv in "$@"; do export "${kv?}"; done
    fq_log "strategy '$name': $*"

    fq_start_redis
    fq_start_mock --advertised-limit 48 --rate-limit "$true_limit" --window-ms 1000 \
        --rate-noise 0.05 --latency-ms 0 --jitter-ms 100 "${provider_flags[@]}"
    fq_start_coordinator
    for _ in 1 2 3; do fq_start_worker memory --concurrency 8; done
    fq_start_worker ceo --concurrency 2
    sleep 0.5

    local stop=$FQ_TMP/ceo.stop count=$FQ_TMP/ceo.count
    rm -f "$stop" "$count"
    local t0 t_warm t_end s_warm s_end
    t0=$(now)
    submit_memory "$memory_tasks"
    (
        k=0
        while [ ! -e "$stop" ]; do
            k=$((k + 1))
            fq_redis XADD fleetq:submit '*' id "ceo-$k" role ceo prompt "ceo task $k" >/dev/null
            echo "$k" >"$count"
            sleep 0.5
        done
    ) &
    local submitter=$! tracer=
    if [ -n "${FQ_BENCH_TRACE:-}" ]; then
        trace_rate "$FQ_BENCH_TRACE" "$key" &
        tracer=$!
    fi

    sleep "$warm_s"
    s_warm=$(fq_mock_stats); t_warm=$(now)
    sleep "$(( run_s - warm_s ))"
    s_end=$(fq_mock_stats); t_end=$(now)
    touch "$stop"
    wait "$submitter" 2>/dev/null || true
    [ -z "$tracer" ] || { kill "$tracer"; wait "$tracer" 2>/dev/null || true; }
    sleep 1   # attempt rows reach SQLite in batches

    local ok_rate calls limited pct429 mem_done ceo_n waits_first waits_ok
    ok_rate=$(awk -v a="$(jq .ok <<<"$s_warm")" -v b="$(jq .ok <<<"$s_end")" \
                  -v t0="$t_warm" -v t1="$t_end" 'BEGIN { printf "%.1f", (b - a) / (t1 - t0) }')
    local whole_rate
    whole_rate=$(awk -v b="$(jq .ok <<<"$s_end")" -v t0="$t0" -v t1="$t_end" \
                     'BEGIN { printf "%.1f", b / (t1 - t0) }')
    calls=$(jq .requests <<<"$s_end")
    limited=$(jq .rate_limited <<<"$s_end")
    pct429=$(awk -v l="$limited" -v c="$calls" 'BEGIN { printf "%.1f", c ? 100 * l / c : 0 }')
    mem_done=$(jq '.models["grok-4-fast"] // 0' <<<"$s_end")
    ceo_n=$(cat "$count" 2>/dev/null || echo 0)

    # ceo waits: submitted_at (Redis, ms) against the first attempt and the
    # first successful attempt in SQLite; not started yet = waiting so far
    local subs firsts measured
    measured=$(now_ms)
    subs=$(for k in $(seq 1 "$ceo_n"); do echo "HGET fleetq:task:ceo-$k submitted_at"; done |
           fq_redis | paste -d' ' <(seq 1 "$ceo_n") -)
    firsts=$(fq_sql "SELECT substr(task_id, 5), min($(fq_sql_ms started_at)),
                            coalesce(min(CASE WHEN outcome = 'ok' THEN $(fq_sql_ms started_at) END), '')
                       FROM attempts WHERE task_id GLOB 'ceo-*' GROUP BY task_id" | tr '|' ' ')
    waits_first=$(awk -v now="$measured" 'NR == FNR { f[$1] = $2; o[$1] = $3; next }
        { w = ($1 in f) ? f[$1] - $2 : now - $2; print w }' <(echo "$firsts") <(echo "$subs") |
        percentiles)
    waits_ok=$(awk -v now="$measured" 'NR == FNR { f[$1] = $2; o[$1] = $3; next }
        { w = ($1 in o && o[$1] != "") ? o[$1] - $2 : now - $2; print w }' \
        <(echo "$firsts") <(echo "$subs") | percentiles)

    local ok_pct
    ok_pct=$(awk -v r="$ok_rate" -v l="$true_limit" 'BEGIN { printf "%.0f", 100 * r / l }')
    local whole_pct
    whole_pct=$(awk -v r="$whole_rate" -v l="$true_limit" 'BEGIN { printf "%.0f", 100 * r / l }')
    rows+=("$(printf '| %-30s | %6s | %5s%% | %5s%% | %5s%% | %13s | %13s | %8s | %6s |' \
        "$name" "$ok_rate" "$ok_pct" "$whole_pct" "$pct429" \
        "$(tr ' ' / <<<"$waits_first")" "$(tr ' ' / <<<"$waits_ok")" "$mem_done" "$calls")")
    fq_log "strategy '$name': ok/s $ok_rate, 429s $pct429%, ceo waits first attempt p50/p95 $waits_first ms, first ok $waits_ok ms, memory done $mem_done, calls $calls, ceo tasks $ceo_n; fleetq:quota: $(fq_redis HGETALL fleetq:quota | paste -sd' ' | cut -c1-400)"
    fq_reset_fleet 300
}

run_strategy "(a) seeds: per-worker retries" seeds ENABLE_RATE_LIMITING=false
run_strategy "(b) fixed at advertised 48/s" fixed GROK_RATE_LIMIT_RPM=2880 FLEETQ_ADAPTIVE=false
run_strategy "(c) fleetq (adaptive)" fleetq GROK_RATE_LIMIT_RPM=2880

echo
echo "provider ($provider): advertises 48/s, true limit $true_limit/s per 1000 ms window (+-5% noise),"
echo "0-100 ms latency; $provider_text"
echo "workload: $memory_tasks memory tasks (3 workers x 8) + a ceo task every 0.5 s (1 worker x 2), ${run_s} s per strategy"
echo
fmt='| %-30s | %6s | %6s | %6s | %6s | %13s | %13s | %8s | %6s |\n'
printf "$fmt" "strategy" "ok/s" "% true" "% true" "429s" "ceo p50/p95" "ceo p50/p95" "memory" "calls"
printf "$fmt" "" "sat." "sat." "whole" "/calls" "ms, 1st call" "ms, 1st ok" "done" ""
printf "$fmt" | tr ' ' -
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "sat.: successful calls per second after the first ${warm_s} s, while the memory backlog"
echo "saturates the provider; whole: from the first submission. ceo waits: submitted_at to the"
echo "started_at of the task's first attempt / first successful attempt."
