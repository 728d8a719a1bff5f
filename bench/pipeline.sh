#!/usr/bin/env bash
# pipeline.sh -- end-to-end benchmark (not a test) of redis-cli →
# coordinator → workers → fleetq-mockapi (zero latency) → SQLite, quota off.
#
# Phase 1, burst: N tasks (default 20000) submitted at once with
#   redis-cli --pipe; reports tasks/s end to end (the pipeline's capacity)
#   and submit→start latency, which here is mostly time spent in the backlog.
# Phase 2, paced: N/4 tasks submitted steadily at half the phase-1 rate;
#   reports submit→start p50/p99 of a fleet that keeps up.
# Then the peak RSS (VmHWM) of the coordinator and of the largest worker.
# Runs the release build (deploy/setup.sh).
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

# submit FIRST COUNT TAG: XADDs pipelined with redis-cli --pipe (the Redis
# protocol written by awk), ids TAG-FIRST .. TAG-(FIRST+COUNT-1).
submit() {
    awk -v first="$1" -v count="$2" -v tag="$3" 'BEGIN {
        split("ceo code quality memory", roles, " ")
        for (i = first; i < first + count; i++) {
            role = roles[i % 4 + 1]; prompt = "benchmark task " i; id = tag "-" i
            printf "*9\r\n$4\r\nXADD\r\n$13\r\nfleetq:submit\r\n$1\r\n*\r\n$2\r\nid\r\n"
            printf "$%d\r\n%s\r\n$4\r\nrole\r\n$%d\r\n%s\r\n", length(id), id, length(role), role
            printf "$6\r\nprompt\r\n$%d\r\n%s\r\n", length(prompt), prompt
        }
    }' | fq_redis --pipe >/dev/null
}
wait_rows() { # until the store holds $1 rows
    local deadline=$(( $(date +%s) + 900 ))
    until [ "$(fq_sql "SELECT count(*) FROM tasks")" -ge "$1" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || fq_fail "not finished after 900 s"
        sleep 0.1
    done
}
now() { date +%s.%N; }
pct() { # percentile $2 of submit→start in ms over ids matching $1
    fq_sql "SELECT CAST(round((julianday(started_at) - julianday(submitted_at)) * 86400000) AS INTEGER) AS w
              FROM tasks WHERE id GLOB '$1' ORDER BY w
             LIMIT 1 OFFSET (SELECT CAST(count(*) * $2 / 100 AS INTEGER) FROM tasks WHERE id GLOB '$1')"
}

# Phase 1: burst
t0=$(now)
submit 1 "$n" burst
wait_rows "$n"
t1=$(now)
rate=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN{printf "%.0f", n/(b-a)}')

# Phase 2: paced at half the burst rate, in batches every 100 ms
m=$(( n / 4 ))
per_batch=$(( rate / 20 > 0 ? rate / 20 : 1 ))
sent=0
submitters=()
while [ "$sent" -lt "$m" ]; do
    k=$(( m - sent < per_batch ? m - sent : per_batch ))
    submit $((sent + 1)) "$k" paced &
    submitters+=($!)
    sent=$((sent + k))
    sleep 0.1
done
wait "${submitters[@]}"
wait_rows $((n + m))

rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
coord_rss=$(rss "$FQ_COORD_PID")
worker_rss=0
for pid in "${workers[@]}"; do r=$(rss "$pid"); [ "$r" -gt "$worker_rss" ] && worker_rss=$r; done
done_n=$(fq_sql "SELECT count(*) FROM tasks WHERE status='done'")

echo
printf '%-40s %s\n' \
    "workers" "4 (one per role) x --concurrency $conc" \
    "burst: tasks" "$n submitted in one go" \
    "burst: end to end" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s" \
    "burst: throughput" "$rate tasks/s" \
    "burst: submit->start p50 / p99" "$(pct 'burst-*' 50) / $(pct 'burst-*' 99) ms (backlog)" \
    "paced: tasks" "$m at about $((per_batch * 10)) tasks/s" \
    "paced: submit->start p50 / p99" "$(pct 'paced-*' 50) / $(pct 'paced-*' 99) ms" \
    "all done" "$done_n of $((n + m))" \
    "peak RSS coordinator" "$((coord_rss / 1024)) MiB" \
    "peak RSS worker (largest of 4)" "$((worker_rss / 1024)) MiB"
