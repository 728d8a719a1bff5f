#!/usr/bin/env bash
# http.sh -- benchmark (not a test) of the coordinator's HTTP server.
#
# Part 1: wrk (2 threads, DURATION s each, default 10) against GET /health
#   and GET /metrics of a running fleet (the coordinator, four workers,
#   fleetq-mockapi), and against an nginx on a loopback port serving a file
#   of the same size as /health's answer (bench/http/nginx.conf.in, a worker
#   per core): the ceiling on this machine. At 10, 100 and 1,000
#   connections, interleaved (health, metrics, nginx for each count), REPS
#   times (default 3). Reports requests/s, /health's ratio to nginx in the
#   same repetition, and wrk's p50/p99 latency.
# Part 2: the pipeline's throughput (N code tasks, default 10000, burst
#   submitted with redis-cli --pipe to a fresh fleet, quota off, timed until
#   SQLite holds N rows), without and with scraping (/metrics 10 times a
#   second and /health 100 times a second, bench/http/scrape.py), alternated,
#   REPS times each. Reports tasks/s and the ratio with/without.
#
# Prints a markdown table of medians, the worst run in parentheses
# (bench/report.awk). Installs wrk and nginx-light with apt-get when they
# are missing (as root); runs the release build (deploy/setup.sh).
#
#   bench/http.sh [DURATION] [REPS] [N]
set -euo pipefail
usage_error() { echo "http.sh: $*" >&2; exit 2; }
duration=${1:-10}
reps=${2:-3}
n=${3:-10000}
for v in "$duration" "$reps" "$n"; do
    case $v in ''|*[!0-9]*|0) usage_error "DURATION, REPS and N must be positive integers" ;; esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/setup.sh" "$root/build"
for pkg in wrk:wrk nginx:nginx-light; do
    bin=${pkg%%:*}
    command -v "$bin" >/dev/null || [ -x "/usr/sbin/$bin" ] && continue
    [ "$(id -u)" -eq 0 ] || { echo "http.sh: $bin is missing; run as root, or: apt-get install -y ${pkg#*:}" >&2; exit 1; }
    echo "http.sh: installing ${pkg#*:}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkg#*:}" >/dev/null
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
ulimit -n "$(ulimit -Hn)"

export FQ_SRC=$root FQ_BIN=$root/build
# shellcheck disable=SC1091 # the tests' helpers, not followed here
. "$root/tests/integration/lib.sh"
export FLEETQ_LOG_LEVEL=warn ENABLE_RATE_LIMITING=false DAILY_BUDGET_USD=0 FLEETQ_RECALL_K=0

start_fleet() {
    fq_start_redis
    fq_start_mock --latency-ms 0
    fq_start_coordinator
    for role in ceo code quality memory; do fq_start_worker "$role" --concurrency 16; done
    fq_wait_for 10 fq_health_ok || fq_fail "the fleet is not healthy"
}

# ---- part 1: wrk ------------------------------------------------------------
start_fleet
URL="http://127.0.0.1:$PORT"
ngx_dir=$FQ_TMP/nginx
mkdir -p "$ngx_dir/www"
curl -sf "$URL/health" >"$ngx_dir/www/health"
size=$(wc -c <"$ngx_dir/www/health")
ngx_user=
[ "$(id -u)" -ne 0 ] || ngx_user="user $(id -un) $(id -gn);"
NGX_PORT=$(fq_free_port)
sed -e "s|@DIR@|$ngx_dir|g" -e "s|@ERROR_LOG@|$FQ_TMP/nginx-error.log|g" \
    -e "s|@PORT@|$NGX_PORT|g" -e "s|@USER@|$ngx_user|" \
    "$root/bench/http/nginx.conf.in" >"$ngx_dir/nginx.conf"
"$nginx_bin" -p "$ngx_dir" -c "$ngx_dir/nginx.conf" -e "$FQ_TMP/nginx-error.log" \
    -g 'daemon off;' >>"$FQ_TMP/nginx.log" 2>&1 &
NGX_PID=$!
FQ_PIDS+=("$NGX_PID")
fq_wait_for 5 curl -sf "http://127.0.0.1:$NGX_PORT/health" || fq_fail "nginx did not start"
fq_log "/health is $size bytes; nginx $NGX_PID on port $NGX_PORT"

# wrk_run URL CONNECTIONS: "requests/s p50_ms p99_ms errors"
wrk_run() {
    wrk -t2 -c"$2" -d"${duration}s" --latency "$1" 2>&1 | awk '
        /Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        /Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
        /Non-2xx/ { err += $NF }
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
                         if (v ~ /s$/) return v * 1000; return v }
        END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, err + 0 }'
}

results=$FQ_TMP/results.tsv
: >"$results"
col() { local IFS=$'\t'; printf '%s\n' "$*"; }
for rep in $(seq 1 "$reps"); do
    for c in 10 100 1000; do
        read -r h_rps h50 h99 herr <<<"$(wrk_run "$URL/health" "$c")"
        read -r m_rps m50 m99 merr <<<"$(wrk_run "$URL/metrics" "$c")"
        read -r n_rps n50 n99 nerr <<<"$(wrk_run "http://127.0.0.1:$NGX_PORT/health" "$c")"
        ratio=$(awk -v a="$h_rps" -v b="$n_rps" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')
        fq_log "rep $rep, $c connections: /health $h_rps/s (p50 $h50 p99 $h99 ms, $herr errors)," \
            "/metrics $m_rps/s (p50 $m50 p99 $m99, $merr errors), nginx $n_rps/s (p50 $n50 p99 $n99, $nerr errors); ratio $ratio"
        col "wrk" "$c" "$h_rps" "$ratio" "$h50" "$h99" "$m_rps" "$m99" "$n_rps" "$n99" >>"$results"
    done
done
fq_stop_all 50
FQ_PIDS=()

# ---- part 2: the pipeline with and without scraping ----------------------------
submit() { # COUNT TAG
    awk -v count="$1" -v tag="$2" 'BEGIN {
        for (i = 1; i <= count; i++) {
            prompt = "benchmark task " i; id = tag "-" i
            printf "*9\r\n$4\r\nXADD\r\n$13\r\nfleetq:submit\r\n$1\r\n*\r\n$2\r\nid\r\n"
            printf "$%d\r\n%s\r\n$4\r\nrole\r\n$4\r\ncode\r\n", length(id), id
            printf "$6\r\nprompt\r\n$%d\r\n%s\r\n", length(prompt), prompt
        }
    }' | fq_redis --pipe >/dev/null
}
wait_rows() {
    local deadline=$(( $(date +%s) + 900 ))
    until [ "$(fq_sql "SELECT count(*) FROM tasks")" -ge "$1" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || fq_fail "not finished after 900 s"
        sleep 0.1
    done
}
pipeline_run() { # scraped(0|1): tasks/s
    rm -f "$FQ_TMP"/fleetq.db*
    fq_start_redis
    fq_start_mock --latency-ms 0
    fq_start_coordinator
    fq_start_worker code --concurrency 64
    fq_wait_for 10 fq_health_ok || fq_fail "the fleet is not healthy"
    local scraper=
    if [ "$1" = 1 ]; then
        python3 "$root/bench/http/scrape.py" "$PORT" 100 10 &
        scraper=$!
        sleep 1
    fi
    local t0 t1
    t0=$(date +%s.%N)
    submit "$n" p
    wait_rows "$n"
    t1=$(date +%s.%N)
    if [ -n "$scraper" ]; then
        kill -0 "$scraper" 2>/dev/null || fq_fail "the scraper failed"
        kill "$scraper"; wait "$scraper" 2>/dev/null || true
    fi
    fq_stop_all 50
    FQ_PIDS=()
    awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}
for rep in $(seq 1 "$reps"); do
    plain=$(pipeline_run 0)
    scraped=$(pipeline_run 1)
    ratio=$(awk -v a="$scraped" -v b="$plain" 'BEGIN { printf "%.3f", a / b }')
    fq_log "rep $rep: pipeline $plain tasks/s, scraped $scraped tasks/s, ratio $ratio"
    col "pipeline" "$n" "$plain" "$scraped" "$ratio" >>"$results"
done

# ---- the report -------------------------------------------------------------
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
worst_low() { sort -n | head -n 1; }
field() { awk -F'\t' -v k="$1" -v c="$2" -v f="$3" '$1 == k && $2 == c { print $f }' "$results"; }
echo
echo "bench/http.sh: $(nproc) cores, Redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//'), $(wrk --version 2>&1 | head -n 1 | awk '{print $1, $2}'), nginx $("$nginx_bin" -v 2>&1 | sed 's|.*/||'); /health $size bytes; ${duration} s per wrk run, $reps repetitions; medians (worst)"
echo
echo "| connections | /health req/s | × nginx | /health p50 / p99 ms | /metrics req/s | /metrics p99 ms | nginx req/s | nginx p99 ms |"
echo "|---|---|---|---|---|---|---|---|"
for c in 10 100 1000; do
    printf '| %s | %s (%s) | %s (%s) | %s / %s | %s | %s | %s | %s |\n' "$c" \
        "$(field wrk "$c" 3 | median)" "$(field wrk "$c" 3 | worst_low)" \
        "$(field wrk "$c" 4 | median)" "$(field wrk "$c" 4 | worst_low)" \
        "$(field wrk "$c" 5 | median)" "$(field wrk "$c" 6 | median)" \
        "$(field wrk "$c" 7 | median)" "$(field wrk "$c" 8 | median)" \
        "$(field wrk "$c" 9 | median)" "$(field wrk "$c" 10 | median)"
done
echo
echo "| pipeline, $n tasks | tasks/s | scraped (/health 100/s, /metrics 10/s) tasks/s | scraped / plain |"
echo "|---|---|---|---|"
printf '| median (worst) | %s (%s) | %s (%s) | %s (%s) |\n' \
    "$(field pipeline "$n" 3 | median)" "$(field pipeline "$n" 3 | worst_low)" \
    "$(field pipeline "$n" 4 | median)" "$(field pipeline "$n" 4 | worst_low)" \
    "$(field pipeline "$n" 5 | median)" "$(field pipeline "$n" 5 | worst_low)"
