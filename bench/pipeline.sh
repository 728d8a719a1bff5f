#!/usr/bin/env bash
# pipeline.sh -- end-to-end throughput benchmark (not a test): pushes N
# tasks (default 20000) through redis-cli → coordinator → workers →
# fleetq-mockapi (zero latency) → SQLite with the quota off, and reports
# tasks/s end to end, submit→start latency p50/p99, and the peak RSS of the
# coordinator and of a worker. Runs the release build (deploy/setup.sh).
#
#   bench/pipeline.sh [N] [CONCURRENCY per worker]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/deploy/setup.sh" "$root/build"
export FQ_SRC=$root FQ_BIN=$root/build
. "$root/tests/integration/lib.sh"

n=${1:-20000}
conc=${2:-16}
export FLEETQ_LOG_LEVEL=warn ENABLE_RATE_LIMITING=false DAILY_BUDGET_USD=0

fq_start_redis
fq_start_mock --latency-ms 0
fq_start_coordinator
workers=()
for role in ceo code quality memory; do
    fq_start_worker "$role" --concurrency "$conc"; workers+=("$FQ_LAST_PID")
done
sleep 0.5

roles=(ceo code quality memory)
t0=$(date +%s.%N)
for i in $(seq 1 "$n"); do
    echo "XADD fleetq:submit * role ${roles[$((i % 4))]} prompt \"benchmark task $i\""
done | fq_redis >/dev/null
t_submitted=$(date +%s.%N)
deadline=$(( $(date +%s) + 900 ))
until [ "$(fq_sql "SELECT count(*) FROM tasks")" -ge "$n" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fq_fail "not finished after 900 s"
    sleep 0.2
done
t1=$(date +%s.%N)

rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
coord_rss=$(rss "$FQ_COORD_PID")
worker_rss=0
for pid in "${workers[@]}"; do r=$(rss "$pid"); [ "$r" -gt "$worker_rss" ] && worker_rss=$r; done

pct() { # percentile of submit→start in ms
    fq_sql "SELECT CAST(round((julianday(started_at) - julianday(submitted_at)) * 86400000) AS INTEGER) AS w
              FROM tasks WHERE status='done' ORDER BY w
             LIMIT 1 OFFSET (SELECT CAST(count(*) * $1 / 100 AS INTEGER) FROM tasks WHERE status='done')"
}
done_n=$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")
printf '\n%-34s %s\n' "tasks" "$n ($done_n done)" \
    "submit time (redis-cli)" "$(awk -v a="$t0" -v b="$t_submitted" 'BEGIN{printf "%.2f", b-a}') s" \
    "end to end" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s" \
    "throughput" "$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN{printf "%.0f", n/(b-a)}') tasks/s" \
    "submit->start p50" "$(pct 50) ms" \
    "submit->start p99" "$(pct 99) ms" \
    "peak RSS coordinator" "$((coord_rss / 1024)) MiB" \
    "peak RSS worker (largest of 4)" "$((worker_rss / 1024)) MiB" \
    "workers" "4 x --concurrency $conc"
