#!/usr/bin/env bash
# compare.sh -- benchmark (not a test) of fleetq against BullMQ, the Node.js
# job queue on Redis, doing the same work: N jobs (default 20000), each one
# chat completion call to the same stand-in API, an nginx on a loopback
# port that answers every POST /v1/chat/completions at once with a fixed
# OpenAI-style reply (bench/compare/nginx.conf.in; 10 + 5 tokens, "ok").
# Configurations, each run on a fresh redis-server (no persistence):
#
#   bullmq          one node process (bench/compare/bullmq_bench.mjs): a
#                   Queue adds the N jobs with addBulk in chunks of 1000
#                   (removeOnComplete: true, removeOnFail: 1000) and one
#                   Worker, concurrency 64, POSTs each job's request with
#                   node:http (keep-alive agent, 64 sockets), parses the
#                   reply and returns its content. Timed from just before
#                   the first add to the worker's N-th 'completed' event.
#   fleetq-1        the coordinator and one fleetq-worker --role code
#                   --concurrency 64, quota off (ENABLE_RATE_LIMITING=false,
#                   DAILY_BUDGET_USD=0); N code tasks submitted at once with
#                   redis-cli --pipe. Timed from just before the submission
#                   until the SQLite store holds N rows (polled every 0.1 s).
#   fleetq-4        the same with four workers --concurrency 16.
#   fleetq-4-quota  fleetq-4 with the fleet quota on at a ceiling that does
#                   not bind (ENABLE_RATE_LIMITING=true,
#                   GROK_RATE_LIMIT_RPM=6000000, FLEETQ_LIMIT_SCOPE=key): what
#                   the quota's Lua calls cost.
#
# Every repetition runs the four in that order (default 3 repetitions).
# Per run: jobs/s; its ratio to BullMQ's jobs/s in the same repetition; the
# peak RSS (VmHWM) of the node process or of the coordinator, and of the
# largest fleetq worker; the CPU seconds (utime + stime) the app processes
# (node, or the coordinator and all workers) and Redis (INFO cpu) used
# during the timed part; Redis' CPU per job. After fleetq-1's timed part, 200
# single tasks submitted one at a time 20 ms apart give the idle
# submit->start latency p50/p99: from submitted_at (when the coordinator
# took the task in) and from the XADD itself (its stream entry id), both on
# Redis' clock, to started_at.
#
# fleetq does more per job than BullMQ here: it writes every task and its
# attempt to SQLite (the timing waits for those rows), keeps a task hash
# and events stream in Redis, and (fleetq-4-quota) takes every call through
# the shared quota. BullMQ stores its results in Redis only and here removes
# each job as it completes.
#
# Installs what is missing: nginx-light with apt-get (as root), BullMQ and
# ioredis with npm into a temporary directory; runs the release build
# (deploy/setup.sh). Prints a markdown table of medians over the
# repetitions, the worst run in parentheses (bench/report.awk); the
# log on stderr has each run's figures and the Redis commands that took
# most of Redis' time in it.
#
#   bench/compare.sh [N] [REPS]
set -euo pipefail
usage_error() { echo "compare.sh: $*" >&2; exit 2; }

n=${1:-20000}
reps=${2:-3}
case $n in ''|*[!0-9]*|0) usage_error "N must be a positive integer" ;; esac
case $reps in ''|*[!0-9]*|0) usage_error "REPS must be a positive integer" ;; esac
lat_n=200        # idle latency: tasks, one every lat_gap s
lat_gap=0.02
started=$(date +%s)
load0=$(cut -d' ' -f1-3 /proc/loadavg)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/setup.sh" "$root/build"

nginx_bin=$(command -v nginx || true)
[ -n "$nginx_bin" ] || [ ! -x /usr/sbin/nginx ] || nginx_bin=/usr/sbin/nginx
if [ -z "$nginx_bin" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "compare.sh: nginx is missing; run as root, or: apt-get install -y nginx-light" >&2
        exit 1
    fi
    echo "compare.sh: installing nginx-light" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y nginx-light >/dev/null
    nginx_bin=/usr/sbin/nginx
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "compare.sh: node and npm are needed" >&2; exit 1
fi

export FQ_SRC=$root FQ_BIN=$root/build
# shellcheck disable=SC1091 # the tests' helpers, not followed here
. "$root/tests/integration/lib.sh"

# ---- BullMQ, from npm ---------------------------------------------------------
bull_dir=$(mktemp -d "$FQ_TMP/bullmq.XXXXXX")
fq_log "npm install bullmq ioredis in $bull_dir"
(cd "$bull_dir" && npm install --no-audit --no-fund bullmq ioredis) >"$FQ_TMP/npm.log" 2>&1 ||
    { tail -n 20 "$FQ_TMP/npm.log" >&2; fq_fail "npm install failed"; }
cp "$root/bench/compare/bullmq_bench.mjs" "$bull_dir/"
bull_versions=$(cd "$bull_dir" && node -e \
    'const v = (p) => require(p + "/package.json").version; console.log("bullmq " + v("bullmq") + ", ioredis " + v("ioredis"))')

# ---- the stand-in API: one nginx for the whole run ----------------------------
ngx_dir=$FQ_TMP/nginx
mkdir -p "$ngx_dir"
ngx_user=
[ "$(id -u)" -ne 0 ] || ngx_user="user $(id -un) $(id -gn);"   # workers stay the current user
stop_nginx() {
    [ -n "${NGX_PID:-}" ] || return 0
    kill -TERM "$NGX_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$NGX_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$NGX_PID" 2>/dev/null || true
    wait "$NGX_PID" 2>/dev/null || true
    NGX_PID=
}
# at exit the fleet goes first (its workers would log failed calls otherwise)
stop_all_then_nginx() { fq_stop_all 50; stop_nginx; }
FQ_CLEANUP_HOOKS+=(stop_all_then_nginx)
ngx_answers() {
    curl -sf -X POST -H 'Content-Type: application/json' -d '{}' \
        "http://127.0.0.1:$NGX_PORT/v1/chat/completions" | jq -e '.usage.total_tokens == 15'
}
for _ in 1 2 3 4 5; do
    NGX_PORT=$(fq_free_port)
    sed -e "s|@DIR@|$ngx_dir|g" -e "s|@ERROR_LOG@|$FQ_TMP/nginx-error.log|g" \
        -e "s|@PORT@|$NGX_PORT|g" -e "s|@USER@|$ngx_user|" \
        "$root/bench/compare/nginx.conf.in" >"$ngx_dir/nginx.conf"
    "$nginx_bin" -p "$ngx_dir" -c "$ngx_dir/nginx.conf" -e "$FQ_TMP/nginx-error.log" \
        -g 'daemon off;' >>"$FQ_TMP/nginx.log" 2>&1 &
    NGX_PID=$!
    fq_wait_for 5 ngx_answers && break
    stop_nginx
done
[ -n "${NGX_PID:-}" ] || fq_fail "nginx did not start"
export XAI_BASE_URL="http://127.0.0.1:$NGX_PORT/v1" XAI_API_KEY=bench-key
fq_log "nginx $NGX_PID on port $NGX_PORT; $bull_versions"

# ---- measuring ------------------------------------------------------------------
clk=$(getconf CLK_TCK)
now() { date +%s.%N; }
calc() { # calc EXPR [VAR=VALUE...]: prints the awk expression's value
    local e=$1 kv; shift
    local -a vars=()
    for kv in "$@"; do vars+=(-v "$kv"); done
    awk "${vars[@]}" "BEGIN { printf \"%.17g\\n\", ($e) }" </dev/null
}
# cpu_ticks PID...: utime + stime of the processes, in clock ticks (the
# fields after the command's closing parenthesis, which may hold spaces)
cpu_ticks() {
    local pid sum=0 t
    for pid in "$@"; do
        t=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
        sum=$((sum + t))
    done
    echo "$sum"
}
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# redis_cpu: Redis' used_cpu_sys + used_cpu_user, in seconds
redis_cpu() {
    fq_redis INFO cpu | tr -d '\r' |
        awk -F: '$1 == "used_cpu_sys" || $1 == "used_cpu_user" { s += $2 } END { printf "%.6f\n", s }'
}
# submit FIRST COUNT TAG: code tasks TAG-FIRST.., pipelined with redis-cli
# --pipe (the Redis protocol written by awk), as bench/pipeline.sh does
submit() {
    LC_ALL=C awk -v first="$1" -v count="$2" -v tag="$3" 'BEGIN {
        role = "code"
        for (i = first; i < first + count; i++) {
            prompt = "benchmark task " i; id = tag "-" i
            printf "*9\r\n$4\r\nXADD\r\n$13\r\nfleetq:submit\r\n$1\r\n*\r\n$2\r\nid\r\n"
            printf "$%d\r\n%s\r\n$4\r\nrole\r\n$%d\r\n%s\r\n", length(id), id, length(role), role
            printf "$6\r\nprompt\r\n$%d\r\n%s\r\n", length(prompt), prompt
        }
    }' | fq_redis --pipe >/dev/null
}
wait_rows() { # until the store holds $1 rows, polled every 0.1 s
    local deadline=$(( $(date +%s) + 900 ))
    until [ "$(fq_sql "SELECT count(*) FROM tasks")" -ge "$1" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || fq_fail "not finished after 900 s"
        sleep 0.1
    done
}
# "p50 p99" (nearest rank) of the numbers on stdin
percentiles() {
    sort -n | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- -"; exit }
        i50 = int((NR * 50 + 99) / 100); i99 = int((NR * 99 + 99) / 100)
        printf "%d %d\n", v[i50], v[i99] }'
}
# redis_top: the commands that took most of Redis' time so far, for the log
# (a script's time includes that of the commands it calls, counted too)
redis_top() {
    fq_redis INFO commandstats | tr -d '\r' | awk -F'[:,=]' '/^cmdstat_/ {
            name = substr($1, 9); calls = $3; usec = $5; total += usec
            line[name] = sprintf("%s %d calls %.0f us/call", name, calls, usec / calls); u[name] = usec }
        END { for (k in u) printf "%d\t%s %.0f%%\n", u[k], line[k], total ? 100 * u[k] / total : 0 }' |
        sort -rn | head -n 4 | cut -f2 | paste -sd';' | sed 's/;/; /g'
}
# col FIGURES...: one line of results, tab-separated: the configuration,
# then its figures in the order spec() below reads them
col() { local IFS=$'\t'; printf '%s\n' "$*"; }
results=$FQ_TMP/results
: >"$results"
incomplete=()

# ---- the configurations ---------------------------------------------------------
run_bullmq() {
    local ready=$FQ_TMP/bullmq.ready result=$FQ_TMP/bullmq.result pid
    rm -f "$ready" "$result"
    fq_start_redis
    node "$bull_dir/bullmq_bench.mjs" "$FQ_REDIS_PORT" "$XAI_BASE_URL" "$n" "$ready" "$result" \
        >>"$FQ_TMP/bullmq.log" 2>&1 &
    pid=$!
    FQ_PIDS+=("$pid")
    fq_wait_for 30 test -s "$ready" || fq_fail "bullmq_bench.mjs did not get ready"
    local c0 r0
    c0=$(cpu_ticks "$pid"); r0=$(redis_cpu)
    kill -USR1 "$pid"
    local deadline=$(( $(date +%s) + 900 ))
    until [ -s "$result" ]; do
        kill -0 "$pid" 2>/dev/null || fq_fail "bullmq_bench.mjs exited early"
        [ "$(date +%s)" -lt "$deadline" ] || fq_fail "bullmq: not finished after 900 s"
        sleep 0.1
    done
    local r1 c1 hwm completed failed secs
    r1=$(redis_cpu); c1=$(cpu_ticks "$pid"); hwm=$(hwm_kb "$pid")
    local top
    top=$(redis_top)
    read -r completed failed secs <"$result"
    [ "$failed" -eq 0 ] || incomplete+=("bullmq rep $rep: $failed of $n failed")

    local rate cpu rcpu
    rate=$(calc 'n / s' n="$n" s="$secs")
    bull_rate=$rate
    cpu=$(calc '(b - a) / t' a="$c0" b="$c1" t="$clk")
    rcpu=$(calc 'b - a' a="$r0" b="$r1")
    col bullmq "$rate" 1 "$(calc 'k / 1024' k="$hwm")" - "$cpu" "$rcpu" \
        "$(calc '1e6 * r / n' r="$rcpu" n="$n")" - - - - >>"$results"
    fq_log "bullmq rep $rep: $completed done, $failed failed in $(printf '%.2f' "$secs") s" \
        "($(printf '%.0f' "$rate") jobs/s); node CPU $(printf '%.2f' "$cpu") s, RSS $((hwm / 1024)) MiB;" \
        "Redis CPU $(printf '%.2f' "$rcpu") s ($top)"
    fq_reset_fleet 300
}

# run_fleetq NAME WORKERS CONCURRENCY [VAR=VALUE...]
run_fleetq() {
    local name=$1 nw=$2 conc=$3 kv; shift 3
    unset ENABLE_RATE_LIMITING GROK_RATE_LIMIT_RPM FLEETQ_LIMIT_SCOPE
    export FLEETQ_LOG_LEVEL=warn DAILY_BUDGET_USD=0
    for kv in "$@"; do export "${kv?}"; done
    fq_start_redis
    fq_start_coordinator
    local workers=() i
    for ((i = 0; i < nw; i++)); do
        fq_start_worker code --concurrency "$conc"; workers+=("$FQ_LAST_PID")
    done
    sleep 0.5

    local c0 r0 t0 t1
    c0=$(cpu_ticks "$FQ_COORD_PID" "${workers[@]}"); r0=$(redis_cpu)
    t0=$(now)
    submit 1 "$n" bench
    wait_rows "$n"
    t1=$(now)
    local r1 c1 coord_hwm worker_hwm=0 h pid
    r1=$(redis_cpu); c1=$(cpu_ticks "$FQ_COORD_PID" "${workers[@]}")
    coord_hwm=$(hwm_kb "$FQ_COORD_PID")
    local top
    top=$(redis_top)
    for pid in "${workers[@]}"; do h=$(hwm_kb "$pid"); [ "$h" -le "$worker_hwm" ] || worker_hwm=$h; done
    local done_n
    done_n=$(fq_sql "SELECT count(*) FROM tasks WHERE status = 'done'")
    [ "$done_n" -eq "$n" ] || incomplete+=("$name rep $rep: $done_n of $n done")

    # idle latency, fleetq-1 only: single tasks, one every lat_gap s
    local lat_intake="- -" lat_xadd="- -" lat_note=""
    if [ "$name" = fleetq-1 ]; then
        local ids=$FQ_TMP/lat.ids
        : >"$ids"
        for ((i = 1; i <= lat_n; i++)); do
            printf 'lat-%d %s\n' "$i" "$(fq_redis XADD fleetq:submit '*' id "lat-$i" role code \
                prompt "latency task $i")" >>"$ids"
            sleep "$lat_gap"
        done
        wait_rows $((n + lat_n))
        local starts
        starts=$(fq_sql "SELECT id, $(fq_sql_ms started_at), $(fq_sql_ms submitted_at)
                           FROM tasks WHERE id GLOB 'lat-*'" | tr '|' ' ')
        lat_intake=$(awk '{ print $2 - $3 }' <<<"$starts" | percentiles)
        lat_xadd=$(awk 'NR == FNR { split($2, e, "-"); x[$1] = e[1]; next }
                        ($1 in x) { print $2 - x[$1] }' "$ids" <(echo "$starts") | percentiles)
        lat_note="; idle submit->start p50/p99 ${lat_intake/ //} ms from intake, ${lat_xadd/ //} ms from XADD"
    fi

    local secs rate cpu rcpu
    secs=$(calc 'b - a' a="$t0" b="$t1")
    rate=$(calc 'n / s' n="$n" s="$secs")
    cpu=$(calc '(b - a) / t' a="$c0" b="$c1" t="$clk")
    rcpu=$(calc 'b - a' a="$r0" b="$r1")
    # shellcheck disable=SC2086 # the latencies are two numbers each
    col "$name" "$rate" "$(calc 'r / b' r="$rate" b="$bull_rate")" "$(calc 'k / 1024' k="$coord_hwm")" \
        "$(calc 'k / 1024' k="$worker_hwm")" "$cpu" "$rcpu" "$(calc '1e6 * r / n' r="$rcpu" n="$n")" \
        $lat_intake $lat_xadd >>"$results"
    fq_log "$name rep $rep: $done_n done in $(printf '%.2f' "$secs") s ($(printf '%.0f' "$rate") jobs/s);" \
        "coordinator + $nw worker(s) CPU $(printf '%.2f' "$cpu") s, RSS coordinator $((coord_hwm / 1024))" \
        "MiB, largest worker $((worker_hwm / 1024)) MiB; Redis CPU $(printf '%.2f' "$rcpu") s ($top)$lat_note"
    fq_reset_fleet 300
}

for ((rep = 1; rep <= reps; rep++)); do
    fq_log "repetition $rep of $reps, $n jobs"
    run_bullmq
    run_fleetq fleetq-1 1 64 ENABLE_RATE_LIMITING=false
    run_fleetq fleetq-4 4 16 ENABLE_RATE_LIMITING=false
    run_fleetq fleetq-4-quota 4 16 ENABLE_RATE_LIMITING=true GROK_RATE_LIMIT_RPM=6000000 \
        FLEETQ_LIMIT_SCOPE=key
done

echo
echo "## fleetq vs BullMQ: $n jobs, $reps repetitions"
echo
echo "machine: $(nproc) cores, load average at the start $load0"
echo "stand-in API: nginx $("$nginx_bin" -v 2>&1 | sed 's|.*nginx/||') on loopback, an immediate fixed reply; Redis $(redis-server --version | sed 's/.* v=\([^ ]*\).*/\1/'), fresh, no persistence"
echo "BullMQ: $bull_versions, node $(node --version); 1 process, 1 Worker x concurrency 64, addBulk x 1000,"
echo "removeOnComplete: true, removeOnFail: 1000 (completed jobs are deleted, results kept nowhere)"
echo "fleetq: release build; every task also written to SQLite (the timing waits for the rows)"
echo "fleetq-1: 1 worker x 64; fleetq-4: 4 workers x 16; fleetq-4-quota: fleetq-4 with the quota on,"
echo "ceiling 6,000,000 rpm (does not bind), scope key"
echo
[ "$reps" -eq 1 ] || echo "$reps repetitions: median (worst run)"
# the table's columns (see bench/report.awk): figures after the name, format,
# better (+ higher, - lower, = median only), least width, two head lines
col() { local IFS=$'\t'; printf '%s\n' "$*"; }
spec() {
    col 1 "%.0f" + 6 jobs/s ""
    col 2 "%.2f" + 6 "x BullMQ" "same rep"
    col 3 "%.1f" = 6 "RSS MiB" node/coord
    col 4 "%.1f" = 6 "RSS MiB" worker
    col 5 "%.2f" - 6 "CPU s" app
    col 6 "%.2f" - 6 "CPU s" Redis
    col 7 "%.0f" - 6 "Redis CPU" us/job
    col 8,9 "%.0f" - 6 "p50/p99 ms" "from intake"
    col 10,11 "%.0f" - 6 "p50/p99 ms" "from XADD"
}
awk -F'\t' -v first=configuration -v width0=14 -f "$root/bench/report.awk" <(spec) \
    "$results"
echo
echo "x BullMQ: jobs/s over BullMQ's jobs/s in the same repetition. RSS: peak (VmHWM) of the node"
echo "process or the coordinator, and of the largest fleetq worker. CPU s: utime + stime during the"
echo "timed part, app = node, or the coordinator and all workers; Redis = used_cpu_sys + used_cpu_user."
echo "p50/p99: fleetq-1 only, after its timed part: $lat_n single tasks ${lat_gap}s apart, started_at"
echo "minus submitted_at (the coordinator's intake) and minus the XADD's stream entry time."
for line in "${incomplete[@]}"; do echo "WARNING: $line"; done
echo
echo "took $(( $(date +%s) - started )) s"
