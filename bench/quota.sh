#!/usr/bin/env bash
# quota.sh -- benchmark (not a test) of the fleet quota against providers
# whose limits lie. Each scenario runs three strategies side by side, each
# on a fresh Redis, fleetq-mockapi, coordinator and store, with the same
# workload and the same workers:
#
#   seeds       no shared limiter (ENABLE_RATE_LIMITING=false): every
#               worker retries its own 429s with exponential back-off
#               from 1 s (1 s, 2 s, 4 s, ...);
#   fixed       a shared limiter fixed at the provider's advertised rate
#               (FLEETQ_ADAPTIVE=false);
#   fleetq      the shared adaptive limiter starting from the same ceiling
#               (defaults otherwise).
#
# All strategies get GROK_MAX_RETRIES=10 so that no task gives up. The mock
# answers in 0-100 ms, and its true limits hold in any 1000 ms window,
# wobbling by +-5% each window. The scenarios (FQ_BENCH_SCENARIOS, default
# "single models drift tokens", run in that order):
#
#   single  one limit for the key: the mock advertises 48 calls/s but lets
#           through only 20/s over all models; ceilings 48/s
#           (GROK_RATE_LIMIT_RPM=2880) with FLEETQ_LIMIT_SCOPE=key, as the
#           mock limits the key. Workload: 600 memory tasks at once for 3
#           memory workers x 8 slots (a backlog that outlasts the run), and
#           a ceo task every 0.5 s for 1 ceo worker x 2. FQ_BENCH_SECONDS
#           (default 16) seconds per strategy. Reported: successful calls
#           per second while the backlog saturates the provider (after a 3 s
#           start) as a share of the true 20/s, and over the whole run; 429s
#           as a share of all calls over the whole run; the p50 / p95 wait
#           of ceo tasks from submission to their first attempt (first
#           attempt's started_at - submitted_at) and to their first
#           successful attempt (a ceo task still waiting at the end counts
#           with its wait so far); memory tasks done (the provider's
#           successful memory calls by the end); provider calls.
#   models  two models with their own true limits, grok-4 4/s and
#           grok-code-fast-1 20/s (mockapi --model-limits), both under a
#           ceiling of 48/s each (GROK_RATE_LIMIT_RPM=2880, the default
#           FLEETQ_LIMIT_SCOPE=model). Workload: 300 ceo tasks (grok-4) for
#           2 ceo workers x 8 and 1000 code tasks (grok-code-fast-1) for 3
#           code workers x 8, all at once (backlogs that outlast the run,
#           made longer for runs over 33 s);
#           FQ_BENCH_SECONDS per strategy. Reported: each model's admitted
#           calls per second after a 3 s start as a share of its own true
#           limit, their sum as a share of 24/s, 429s as a share of all
#           calls, provider calls.
#   drift   one model (the memory role's grok-4-fast) whose true limit
#           drifts 20/s -> 10/s -> 25/s, changed through the mock's
#           /mock/config at the phase boundaries; the ceiling stays 48/s
#           (GROK_RATE_LIMIT_RPM=2880). Workload: 80 memory tasks per phase
#           second at once (2000 by default) for 3 memory workers x 8. Three
#           phases of FQ_BENCH_PHASE_SECONDS (default 25) each; the mock's
#           ok count is sampled every second. Reported per phase: successful
#           calls per second from 5 s after its change (5 s after the start
#           for the first) to its end, as a share of the limit then in
#           force; 429s as a share of all calls over the whole run; the
#           number of 1 s windows after the last change until one first
#           held 90% of 25 successful calls ("never" if none did); calls.
#   tokens  a token limit that binds before the request limit:
#           grok-code-fast-1 at 40 requests and 6000 tokens per window
#           (prompt + completion + reasoning tokens), advertised at twice
#           that, which are the ceilings (GROK_RATE_LIMIT_RPM=4800,
#           GROK_RATE_LIMIT_TPM=720000). Workload: 1000 code tasks of mixed
#           sizes at once (prompts of 50-2000 bytes, max_tokens 50-600,
#           drawn from a fixed seed; more tasks for runs over 25 s) for 3
#           code workers x 8;
#           FQ_BENCH_SECONDS per strategy. Reported: tokens per second after
#           a 3 s start as a share of the true 6000/s; the admitted calls
#           per second (well under 40 if tokens bind, not requests); 429s,
#           and token 429s alone, as shares of all calls; calls.
#
# Each scenario prints its markdown table, a row per strategy, under a
# "## SCENARIO" heading as soon as it is done, between a description of the
# provider and workload and a note on the columns. "sat." columns leave out
# the first 3 s, when the backlog is still filling the workers' slots;
# shares of 429s count all the provider's calls, retries included. A share
# of a true limit can pass 100% a little, as the limits wobble by +-5%; in
# tokens by more: the provider admits a call on its prompt's tokens against
# the tokens it has already billed in the window, so calls in flight do not
# count yet and many concurrent calls overshoot (the 429s show the cost).
#
# FQ_BENCH_RUNS=N (default 1) runs every scenario N times (the strategies
# in turn in each round); a cell then holds the median over the runs and,
# in parentheses, the worst run's figure (the lowest throughput, the
# highest share of 429s, the longest wait or recovery); calls (and the
# request rate in tokens) are the median alone.
#
# FQ_BENCH_PROVIDER=strict makes the provider count its 429'd calls towards
# its window too (mockapi --count-refused), as some providers do: there an
# immediate retry only prolongs a 429. It applies to every scenario.
# FQ_BENCH_ONLY=fleetq (or seeds, fixed) runs one strategy; FQ_BENCH_TRACE=F
# appends, every 250 ms, the effective rate (per model outside single, and
# the token rate in tokens) and the provider's ok/429 counts to file F.
#
#   bench/quota.sh
#   FQ_BENCH_SCENARIOS="models drift" FQ_BENCH_RUNS=3 bench/quota.sh
set -euo pipefail
usage_error() { echo "quota.sh: $*" >&2; exit 2; }

scenarios=${FQ_BENCH_SCENARIOS:-single models drift tokens}
runs=${FQ_BENCH_RUNS:-1}
run_s=${FQ_BENCH_SECONDS:-16}
phase_s=${FQ_BENCH_PHASE_SECONDS:-25}
warm_s=3     # single, models, tokens: the start left out of "saturated"
settle_s=5   # drift: the seconds after a change left out of its phase
case $runs in ''|*[!0-9]*|0) usage_error "FQ_BENCH_RUNS must be a positive integer" ;; esac
case $run_s in ''|*[!0-9]*) usage_error "FQ_BENCH_SECONDS must be an integer" ;; esac
case $phase_s in ''|*[!0-9]*) usage_error "FQ_BENCH_PHASE_SECONDS must be an integer" ;; esac
[ "$run_s" -ge $((warm_s + 2)) ] || usage_error "FQ_BENCH_SECONDS must be at least $((warm_s + 2))"
[ "$phase_s" -ge $((settle_s + 2)) ] || usage_error "FQ_BENCH_PHASE_SECONDS must be at least $((settle_s + 2))"
for scen in $scenarios; do
    case $scen in single|models|drift|tokens) ;;
        *) usage_error "unknown scenario '$scen' (single, models, drift, tokens)" ;; esac
done
case ${FQ_BENCH_ONLY:-} in ''|seeds|fixed|fleetq) ;;
    *) usage_error "FQ_BENCH_ONLY must be seeds, fixed or fleetq" ;; esac
provider=${FQ_BENCH_PROVIDER:-lenient}
case $provider in
    strict) provider_flags=(--count-refused)
            provider_text="429'd calls count towards its window" ;;
    lenient) provider_flags=()
             provider_text="429'd calls do not count" ;;
    *) usage_error "FQ_BENCH_PROVIDER must be strict or lenient" ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/setup.sh" "$root/build"
export FQ_SRC=$root FQ_BIN=$root/build
# shellcheck disable=SC1091 # the tests' helpers, not followed here
. "$root/tests/integration/lib.sh"

# the provider's behaviour in every scenario (limits come on top)
mock_flags=(--window-ms 1000 --rate-noise 0.05 --latency-ms 0 --jitter-ms 100)
export FLEETQ_LOG_LEVEL=warn DAILY_BUDGET_USD=0 GROK_MAX_RETRIES=10 FLEETQ_BACKOFF_BASE_MS=1000

# single
single_limit=20
single_memory=600
# models: the true limits (the models of the ceo and code roles)
models_ceo=grok-4 models_ceo_limit=4
models_code=grok-code-fast-1 models_code_limit=20
models_ceo_tasks=$(( run_s * 6 > 300 ? run_s * 6 : 300 ))
models_code_tasks=$(( run_s * 30 > 1000 ? run_s * 30 : 1000 ))
# drift: the memory role's model and its true limit in each phase
drift_model=grok-4-fast
drift_limits=(20 10 25)
drift_tasks=$(( phase_s * 80 ))
# tokens: the code role's model, its true request and token limits per window
tokens_model=grok-code-fast-1 tokens_rate=40 tokens_limit=6000
tokens_tasks=$(( run_s * 40 > 1000 ? run_s * 40 : 1000 ))
tokens_seed=7

results=$FQ_TMP/results   # scenario TAB strategy TAB figures... (one line a run)
: >"$results"

now() { date +%s.%N; }
now_ms() { date +%s%3N; }
# calc EXPR [VAR=VALUE...]: prints the awk expression's value (exactly)
calc() {
    local e=$1 kv; shift
    local -a vars=()
    for kv in "$@"; do vars+=(-v "$kv"); done
    awk "${vars[@]}" "BEGIN { printf \"%.17g\\n\", ($e) }" </dev/null
}
# col FIGURES FORMAT BETTER WIDTH HEAD1 HEAD2: a column of a table's spec
# (see report.awk)
col() { local IFS=$'\t'; printf '%s\n' "$*"; }
# note TEXT: a log line about the strategy running
note() { fq_log "$scen/$key: $*"; }
# sleep_until EPOCH: sleeps until that time (at once if it has passed)
sleep_until() { sleep "$(calc 't > n ? t - n : 0' t="$1" n="$(now)")"; }
# mstat STATS MODEL FIELD: one of the mock's per-model counters (0 if none)
mstat() { jq "$(by_model "$2" "$3")" <<<"$1"; }

# submit_tasks ROLE PREFIX N: tasks PREFIX-1..N with prompts "ROLE task I",
# in one pipelined redis-cli session (the Redis protocol written by awk)
submit_tasks() {
    LC_ALL=C awk -v role="$1" -v prefix="$2" -v n="$3" 'BEGIN {
        for (i = 1; i <= n; i++) {
            id = prefix "-" i; prompt = role " task " i
            printf "*9\r\n$4\r\nXADD\r\n$13\r\nfleetq:submit\r\n$1\r\n*\r\n$2\r\nid\r\n"
            printf "$%d\r\n%s\r\n$4\r\nrole\r\n$%d\r\n%s\r\n", length(id), id, length(role), role
            printf "$6\r\nprompt\r\n$%d\r\n%s\r\n", length(prompt), prompt
        }
    }' | fq_redis --pipe >/dev/null
}

# submit_sized ROLE PREFIX N SEED: like submit_tasks, but each task's prompt
# is 50-2000 bytes long and its max_tokens 50-600, drawn from SEED
submit_sized() {
    LC_ALL=C awk -v role="$1" -v prefix="$2" -v n="$3" -v seed="$4" 'BEGIN {
        srand(seed)
        filler = ""
        while (length(filler) < 2100)
            filler = filler "refactor the parser so that every token is read once and "
        for (i = 1; i <= n; i++) {
            len = 50 + int(rand() * 1951); mt = 50 + int(rand() * 551)
            id = prefix "-" i; prompt = substr(role " task " i ": " filler, 1, len)
            printf "*11\r\n$4\r\nXADD\r\n$13\r\nfleetq:submit\r\n$1\r\n*\r\n$2\r\nid\r\n"
            printf "$%d\r\n%s\r\n$4\r\nrole\r\n$%d\r\n%s\r\n", length(id), id, length(role), role
            printf "$6\r\nprompt\r\n$%d\r\n%s\r\n", length(prompt), prompt
            printf "$10\r\nmax_tokens\r\n$%d\r\n%d\r\n", length(mt ""), mt
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

# trace_rate FILE NAME HASH...: samples the quota hashes (fleetq:quota, or
# fleetq:quota:MODEL with the model's rate and token rate) and the mock
# until killed
trace_rate() {
    local file=$1 name=$2 t0 s h line; shift 2
    t0=$(now_ms)
    while :; do
        s=$(fq_mock_stats) || s='{}'
        line=$(printf '%s %6d' "$name" "$(( $(now_ms) - t0 ))")
        for h in "$@"; do
            case $h in
                fleetq:quota) line+=" rate $(fq_redis HGET "$h" rate_per_s)" ;;
                *) line+=" ${h#fleetq:quota:} rate $(fq_redis HGET "$h" rate_per_s) tpm $(fq_redis HGET "$h" tpm_rate)" ;;
            esac
        done
        printf '%s ok %s 429 %s\n' "$line" "$(jq .ok <<<"$s")" "$(jq .rate_limited <<<"$s")" >>"$file"
        sleep 0.25
    done
}

# quota_state HASH: the hash in one line, for the log
quota_state() { fq_redis HGETALL "$1" | paste -sd' ' | cut -c1-400; }
# model_state MODEL: what the model's quota learned, for the log
model_state() {
    local fields=(rate_per_s rate_known_bad decreases tpm_rate tpm_known_bad token_decreases
                  rate_limited rate_limited_tokens)
    paste -d= <(printf '%s\n' "${fields[@]}") <(fq_redis HMGET "fleetq:quota:$1" "${fields[@]}") |
        paste -sd' '
}

# saturated: once the workload is submitted, takes the mock's stats after
# warm_s and at run_s (s_warm, s_end) and notes when (t_warm, t_end)
saturated() {
    start_tracer
    sleep "$warm_s"
    s_warm=$(fq_mock_stats); t_warm=$(now)
    sleep "$(( run_s - warm_s ))"
    s_end=$(fq_mock_stats); t_end=$(now)
    stop_tracer
}
# sat_rate JQ: what the jq expression counts in the stats, per second
# between s_warm and s_end
sat_rate() {
    calc '(b - a) / (t1 - t0)' a="$(jq "$1" <<<"$s_warm")" b="$(jq "$1" <<<"$s_end")" \
        t0="$t_warm" t1="$t_end"
}
# by_model MODEL FIELD: the jq expression of a per-model counter of the mock
by_model() { printf '.by_model["%s"].%s // 0' "$1" "$2"; }

# ---- the scenarios --------------------------------------------------------
# Each scenario SCEN has start_SCEN (the mock and the workers, after Redis;
# sets trace_hashes), measure_SCEN (the workload and the measurement: sets
# figures, the row's numbers, in the order of the columns of spec_SCEN) and
# report_SCEN (the text around its table).

start_single() {
    fq_start_mock --advertised-limit 48 --rate-limit "$single_limit" "${mock_flags[@]}" \
        "${provider_flags[@]}"
    fq_start_coordinator
    for _ in 1 2 3; do fq_start_worker memory --concurrency 8; done
    fq_start_worker ceo --concurrency 2
    trace_hashes=(fleetq:quota)
}

measure_single() {
    local stop=$FQ_TMP/ceo.stop count=$FQ_TMP/ceo.count
    rm -f "$stop" "$count"
    local t0
    t0=$(now)
    submit_tasks memory mem "$single_memory"
    (
        k=0
        while [ ! -e "$stop" ]; do
            k=$((k + 1))
            fq_redis XADD fleetq:submit '*' id "ceo-$k" role ceo prompt "ceo task $k" >/dev/null
            echo "$k" >"$count"
            sleep 0.5
        done
    ) &
    local submitter=$!
    saturated
    touch "$stop"
    wait "$submitter" 2>/dev/null || true
    sleep 1   # attempt rows reach SQLite in batches

    local ok_rate whole_rate calls limited pct429 mem_done ceo_n
    ok_rate=$(printf '%.1f' "$(sat_rate .ok)")
    whole_rate=$(printf '%.1f' "$(calc 'b / (t1 - t0)' b="$(jq .ok <<<"$s_end")" t0="$t0" t1="$t_end")")
    calls=$(jq .requests <<<"$s_end")
    limited=$(jq .rate_limited <<<"$s_end")
    pct429=$(printf '%.1f' "$(calc 'c ? 100 * l / c : 0' l="$limited" c="$calls")")
    mem_done=$(jq '.models["grok-4-fast"] // 0' <<<"$s_end")
    ceo_n=$(cat "$count" 2>/dev/null || echo 0)

    # ceo waits: submitted_at (Redis, ms) against the first attempt and the
    # first successful attempt in SQLite; not started yet = waiting so far
    local subs firsts measured waits_first waits_ok
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

    local ok_pct whole_pct
    ok_pct=$(calc '100 * r / l' r="$ok_rate" l="$single_limit")
    whole_pct=$(calc '100 * r / l' r="$whole_rate" l="$single_limit")
    # shellcheck disable=SC2206 # the waits are two numbers each
    figures=("$ok_rate" "$ok_pct" "$whole_pct" "$pct429" $waits_first $waits_ok "$mem_done" "$calls")
    note "ok/s $ok_rate, 429s $pct429%, ceo waits first attempt p50/p95 $waits_first ms, first ok $waits_ok ms, memory done $mem_done, calls $calls, ceo tasks $ceo_n; fleetq:quota: $(quota_state fleetq:quota)"
}

spec_single() {
    col 1 "%.1f" + 6 ok/s sat.
    col 2 "%.0f%%" + 6 "% true" sat.
    col 3 "%.0f%%" + 6 "% true" whole
    col 4 "%.1f%%" - 6 429s /calls
    col 5,6 "%.0f" - 13 "ceo p50/p95" "ms, 1st call"
    col 7,8 "%.0f" - 13 "ceo p50/p95" "ms, 1st ok"
    col 9 "%d" + 8 memory "done"
    col 10 "%d" = 6 calls ""
}

report_single() {
    echo "provider ($provider): advertises 48/s, true limit $single_limit/s per 1000 ms window (+-5% noise),"
    echo "0-100 ms latency; $provider_text"
    echo "workload: $single_memory memory tasks (3 workers x 8) + a ceo task every 0.5 s (1 worker x 2), ${run_s} s per strategy"
    table single
    echo "sat.: successful calls per second after the first ${warm_s} s, while the memory backlog"
    echo "saturates the provider; whole: from the first submission. ceo waits: submitted_at to the"
    echo "started_at of the task's first attempt / first successful attempt."
}

start_models() {
    fq_start_mock --model-limits "$models_ceo:rate=$models_ceo_limit;$models_code:rate=$models_code_limit" \
        "${mock_flags[@]}" "${provider_flags[@]}"
    fq_start_coordinator
    for _ in 1 2; do fq_start_worker ceo --concurrency 8; done
    for _ in 1 2 3; do fq_start_worker code --concurrency 8; done
    trace_hashes=("fleetq:quota:$models_ceo" "fleetq:quota:$models_code")
}

measure_models() {
    submit_tasks ceo ceo "$models_ceo_tasks"
    submit_tasks code code "$models_code_tasks"
    saturated

    local ceo_rate code_rate sum_pct calls limited pct429 m
    ceo_rate=$(printf '%.1f' "$(sat_rate "$(by_model "$models_ceo" admitted)")")
    code_rate=$(printf '%.1f' "$(sat_rate "$(by_model "$models_code" admitted)")")
    sum_pct=$(calc '100 * (a + b) / (la + lb)' a="$ceo_rate" b="$code_rate" \
        la="$models_ceo_limit" lb="$models_code_limit")
    calls=$(jq .requests <<<"$s_end")
    limited=$(jq .rate_limited <<<"$s_end")
    pct429=$(calc 'c ? 100 * l / c : 0' l="$limited" c="$calls")
    figures=("$ceo_rate" "$(calc '100 * r / l' r="$ceo_rate" l="$models_ceo_limit")"
             "$code_rate" "$(calc '100 * r / l' r="$code_rate" l="$models_code_limit")"
             "$sum_pct" "$pct429" "$calls")
    local detail=""
    for m in "$models_ceo" "$models_code"; do
        detail+="; $m: calls $(mstat "$s_end" "$m" requests), admitted $(mstat "$s_end" "$m" admitted), 429s $(mstat "$s_end" "$m" rate_limited), busiest window $(mstat "$s_end" "$m" max_in_window), fleetq:quota:$m: $(model_state "$m")"
    done
    note "$models_ceo ok/s $ceo_rate, $models_code ok/s $code_rate, 429s $(printf '%.1f' "$pct429")%, calls $calls$detail"
}

spec_models() {
    col 1 "%.1f" + 6 "$models_ceo" "ok/s sat."
    col 2 "%.0f%%" + 6 "% of" "${models_ceo_limit}/s"
    col 3 "%.1f" + 6 "$models_code" "ok/s sat."
    col 4 "%.0f%%" + 6 "% of" "${models_code_limit}/s"
    col 5 "%.0f%%" + 6 "sum, % of" "$((models_ceo_limit + models_code_limit))/s"
    col 6 "%.1f%%" - 6 429s /calls
    col 7 "%d" = 6 calls ""
}

report_models() {
    echo "provider ($provider): true limits $models_ceo ${models_ceo_limit}/s and $models_code ${models_code_limit}/s, each its own, per 1000 ms"
    echo "window (+-5% noise), 0-100 ms latency; $provider_text; ceilings 48/s for each model"
    echo "workload: $models_ceo_tasks ceo tasks ($models_ceo, 2 workers x 8) + $models_code_tasks code tasks ($models_code, 3 workers x 8),"
    echo "all at once, ${run_s} s per strategy"
    table models
    echo "ok/s sat.: the model's admitted calls per second after the first ${warm_s} s, while both backlogs"
    echo "saturate the provider, as a share of the model's own true limit; sum: both models against"
    echo "the sum of their limits; 429s over the whole run."
}

start_drift() {
    fq_start_mock --model-limits "$drift_model:rate=${drift_limits[0]}" "${mock_flags[@]}" \
        "${provider_flags[@]}"
    fq_start_coordinator
    for _ in 1 2 3; do fq_start_worker memory --concurrency 8; done
    trace_hashes=("fleetq:quota:$drift_model")
}

# one sample of the series: second, ms, ok, 429s, calls (the mock's counts)
drift_sample() {
    local s
    s=$(fq_mock_stats) || s=$(fq_mock_stats) || fq_fail "the mock does not answer /mock/stats"
    printf '%d %s %s\n' "$1" "$(now_ms)" "$(jq -r '"\(.ok) \(.rate_limited) \(.requests)"' <<<"$s")"
}

measure_drift() {
    local series=$FQ_TMP/drift.series t0 ts te k p
    local n=${#drift_limits[@]}
    : >"$series"
    ts=$(now)
    submit_tasks memory mem "$drift_tasks"
    te=$(now)
    note "submitted $drift_tasks memory tasks in $(printf '%.2f' "$(calc 'b - a' a="$ts" b="$te")") s"
    start_tracer
    # the clock of the phases: second k is sampled at t0 + k, and a phase's
    # new limit is set just after the sample that ends the previous phase
    t0=$(now)
    drift_sample 0 >>"$series"
    for ((k = 1; k <= n * phase_s; k++)); do
        sleep_until "$(calc 't + k' t="$t0" k="$k")"
        drift_sample "$k" >>"$series"
        p=$(( k / phase_s ))
        if [ $(( k % phase_s )) -eq 0 ] && [ "$p" -lt "$n" ]; then
            fq_mock_config "{\"model_limits\": \"$drift_model:rate=${drift_limits[$p]}\"}" ||
                fq_fail "the mock refused the new limit"
            note "phase $((p + 1)): $drift_model at ${drift_limits[$p]}/s (rate then $(fq_mquota "$drift_model" rate_per_s))"
        fi
    done
    stop_tracer

    # per phase: ok/s from settle_s after its start to its end, and its
    # 429s; then the first 1 s window of the last phase at >= 90% of its limit
    local out
    out=$(awk -v P="$phase_s" -v S="$settle_s" -v limits="${drift_limits[*]}" '
        { t[$1] = $2; ok[$1] = $3; rl[$1] = $4; rq[$1] = $5; last = $1 }
        END {
            n = split(limits, lim, " ")
            for (p = 1; p <= n; p++) {
                b = (p - 1) * P; a = b + S; e = b + P
                r = (ok[e] - ok[a]) * 1000 / (t[e] - t[a])
                q = rq[e] - rq[b]
                printf "%.1f %s %.1f ", r, 100 * r / lim[p], q ? 100 * (rl[e] - rl[b]) / q : 0
            }
            b = (n - 1) * P; first = "never"
            for (k = 1; k <= P && b + k <= last; k++)
                if ((ok[b + k] - ok[b + k - 1]) * 1000 / (t[b + k] - t[b + k - 1]) >= 0.9 * lim[n]) {
                    first = k; break
                }
            printf "%s %s %s\n", rq[last] ? 100 * rl[last] / rq[last] : 0, first, rq[last]
        }' "$series")
    local -a f
    read -r -a f <<<"$out"
    # f: (rate pct 429s%) per phase, then 429s% overall, recovery windows, calls
    figures=("${f[0]}" "${f[1]}" "${f[3]}" "${f[4]}" "${f[6]}" "${f[7]}" "${f[9]}" "${f[10]}" "${f[11]}")
    note "ok/s per phase ${f[0]} ${f[3]} ${f[6]} (429s ${f[2]}% ${f[5]}% ${f[8]}% of each phase's calls), 429s $(printf '%.1f' "${f[9]}")%, windows to 90% in the last phase ${f[10]}, calls ${f[11]}, per-second ok: $(awk 'NR > 1 { printf "%s%d", sep, $3 - prev; sep = " " } { prev = $3 }' "$series"); fleetq:quota:$drift_model: $(model_state "$drift_model")"
}

spec_drift() {
    local p
    for p in 1 2 3; do
        col $((2 * p - 1)) "%.1f" + 7 "phase $p" ok/s
        col $((2 * p)) "%.0f%%" + 7 "phase $p" "% of ${drift_limits[$((p - 1))]}/s"
    done
    col 7 "%.1f%%" - 6 429s /calls
    col 8 "%d" - 8 "phase 3" "s to 90%"
    col 9 "%d" = 6 calls ""
}

report_drift() {
    echo "provider ($provider): $drift_model's true limit ${drift_limits[0]}/s, then ${drift_limits[1]}/s, then ${drift_limits[2]}/s per 1000 ms window (+-5% noise),"
    echo "0-100 ms latency; $provider_text; ceiling 48/s throughout"
    echo "workload: $drift_tasks memory tasks at once (3 workers x 8), 3 phases of ${phase_s} s per strategy"
    table drift
    echo "ok/s: successful calls per second from ${settle_s} s after the phase's change (after the start,"
    echo "for phase 1) to its end, and as a share of the true limit then; 429s over the whole run;"
    echo "s to 90%: the 1 s windows after the last change until one first held 90% of"
    echo "${drift_limits[2]} successful calls."
}

start_tokens() {
    fq_start_mock --model-limits "$tokens_model:rate=$tokens_rate,tokens=$tokens_limit" \
        "${mock_flags[@]}" "${provider_flags[@]}"
    fq_start_coordinator
    for _ in 1 2 3; do fq_start_worker code --concurrency 8; done
    trace_hashes=("fleetq:quota:$tokens_model")
}

measure_tokens() {
    submit_sized code code "$tokens_tasks" "$tokens_seed"
    saturated

    local tok_rate req_rate calls limited limited_tok
    tok_rate=$(sat_rate "$(by_model "$tokens_model" tokens)")
    req_rate=$(sat_rate "$(by_model "$tokens_model" admitted)")
    calls=$(mstat "$s_end" "$tokens_model" requests)
    limited=$(mstat "$s_end" "$tokens_model" rate_limited)
    limited_tok=$(mstat "$s_end" "$tokens_model" rate_limited_tokens)
    figures=("$tok_rate" "$(calc '100 * r / l' r="$tok_rate" l="$tokens_limit")" "$req_rate"
             "$(calc 'c ? 100 * l / c : 0' l="$limited" c="$calls")"
             "$(calc 'c ? 100 * l / c : 0' l="$limited_tok" c="$calls")" "$calls")
    note "tokens/s $(printf '%.0f' "$tok_rate"), ok/s $(printf '%.1f' "$req_rate"), tokens per ok call $(calc 'n ? int(t / n) : 0' t="$(mstat "$s_end" "$tokens_model" tokens)" n="$(mstat "$s_end" "$tokens_model" admitted)"), calls $calls, 429s $limited ($limited_tok for tokens), busiest window $(mstat "$s_end" "$tokens_model" max_in_window) calls; fleetq:quota:$tokens_model: $(model_state "$tokens_model")"
}

spec_tokens() {
    col 1 "%.0f" + 6 tokens/s sat.
    col 2 "%.0f%%" + 6 "% of" "${tokens_limit}/s"
    col 3 "%.1f" = 6 ok/s sat.
    col 4 "%.1f%%" - 6 429s /calls
    col 5 "%.1f%%" - 6 "token 429s" /calls
    col 6 "%d" = 6 calls ""
}

report_tokens() {
    echo "provider ($provider): $tokens_model's true limits $tokens_rate requests and $tokens_limit tokens per 1000 ms window"
    echo "(+-5% noise), 0-100 ms latency; $provider_text; ceilings $((2 * tokens_rate))/s and $((2 * tokens_limit)) tokens/s"
    echo "workload: $tokens_tasks code tasks at once (prompts 50-2000 bytes, max_tokens 50-600; 3 workers x 8),"
    echo "${run_s} s per strategy"
    table tokens
    echo "sat.: after the first ${warm_s} s, while the backlog saturates the provider; tokens: prompt +"
    echo "completion + reasoning tokens the provider billed; ok/s: admitted calls (under $tokens_rate/s when"
    echo "tokens bind); 429s over the whole run, token 429s those refused for the token limit."
}

# ---- running ----------------------------------------------------------------

start_tracer() {
    tracer=
    if [ -n "${FQ_BENCH_TRACE:-}" ]; then
        trace_rate "$FQ_BENCH_TRACE" "$scen/$key" "${trace_hashes[@]}" &
        tracer=$!
    fi
}
stop_tracer() {
    [ -z "${tracer:-}" ] || { kill "$tracer"; wait "$tracer" 2>/dev/null || true; }
    tracer=
}

# run_strategy SCEN KEY NAME [VAR=VALUE...]: one run of a strategy on a
# fresh fleet; appends its figures to the results
run_strategy() {
    scen=$1 key=$2
    local name=$3; shift 3
    case ${FQ_BENCH_ONLY:-$key} in "$key") ;; *) return 0 ;; esac
    unset ENABLE_RATE_LIMITING GROK_RATE_LIMIT_RPM GROK_RATE_LIMIT_TPM FLEETQ_ADAPTIVE FLEETQ_LIMIT_SCOPE
    # the single mock limits the key as a whole (one window for ceo's and
    # memory's models), so the quota is the key's too
    [ "$scen" != single ] || export FLEETQ_LIMIT_SCOPE=key
    local kv
    for kv in "$@"; do export "${kv?}"; done
    fq_log "$scen, run $run of $runs, strategy '$name': $*"

    fq_start_redis
    "start_$scen"
    sleep 0.5
    figures=()
    "measure_$scen"
    col "$scen" "$name" "${figures[@]}" >>"$results"
    fq_reset_fleet 300
}

# table SCEN: the scenario's markdown table from its results
table() {
    echo
    [ "$runs" -eq 1 ] || echo "$runs runs per strategy: median (worst run)"
    awk -F'\t' -f "$root/bench/report.awk" <("spec_$1") \
        <(awk -F'\t' -v s="$1" '$1 == s' "$results" | cut -f2-)
    echo
}

run_scenario() {
    local ceilings fixed_text
    case $1 in
        tokens) ceilings=(GROK_RATE_LIMIT_RPM=$((2 * tokens_rate * 60))
                          GROK_RATE_LIMIT_TPM=$((2 * tokens_limit * 60)))
                fixed_text="$((2 * tokens_rate))/s, $((2 * tokens_limit)) tok/s" ;;
        *) ceilings=(GROK_RATE_LIMIT_RPM=2880); fixed_text="48/s" ;;
    esac
    for ((run = 1; run <= runs; run++)); do
        run_strategy "$1" seeds "(a) seeds: per-worker retries" ENABLE_RATE_LIMITING=false
        run_strategy "$1" fixed "(b) fixed at advertised $fixed_text" "${ceilings[@]}" FLEETQ_ADAPTIVE=false
        run_strategy "$1" fleetq "(c) fleetq (adaptive)" "${ceilings[@]}"
    done
}

# each scenario's table as soon as it is done
for s in $scenarios; do
    run_scenario "$s"
    echo
    echo "## $s"
    echo
    "report_$s"
done
