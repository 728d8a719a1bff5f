#!/usr/bin/env bash
# 30 flows, 20 diamonds (A -> B, A -> C, B + C -> D, and D's review) and
# 10 ceo plans (the mock's: a build and its tests, each reviewed), while
# the coordinator and the workers are killed with SIGKILL at random
# instants and started again: every task ends done with its row, every
# child is released exactly once (one "parents done" event), each plan's
# four subtasks run, D's prompt holds the outputs its parents ended with,
# and nothing is left waiting, pending or unresolved.
. "$(dirname "$0")/lib.sh"

fq_start_redis
fq_start_mock --latency-ms 200 --jitter-ms 300 --request-log "$FQ_TMP/requests.jsonl"
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0 FLEETQ_LEASE_SECONDS=5 GROK_MAX_RETRIES=9
fq_start_coordinator
declare -A pid_of
start() { # start NAME: the coordinator, or a worker "role:n"
    if [ "$1" = coordinator ]; then
        "$FQ_BIN/coordinator/fleetq-coordinator" >>"$FQ_TMP/coordinator.log" 2>&1 &
        FQ_COORD_PID=$!
        FQ_PIDS+=("$FQ_COORD_PID")
        pid_of[$1]=$FQ_COORD_PID
    else
        fq_start_worker "${1%%:*}" --concurrency 3
        pid_of[$1]=$FQ_LAST_PID
    fi
}
pid_of[coordinator]=$FQ_COORD_PID
procs=(coordinator ceo:1 code:1 code:2 quality:1)
for p in "${procs[@]:1}"; do start "$p"; done

flows=20 plans=10
for f in $(seq 1 "$plans"); do
    printf 'XADD fleetq:submit * id p%d role ceo plan true prompt "plan %d"\n' "$f" "$f"
done | fq_redis >/dev/null
for f in $(seq 1 "$flows"); do
    printf 'XADD fleetq:submit * id f%d.A role code prompt "flow %d: a"\n' "$f" "$f"
    printf 'XADD fleetq:submit * id f%d.B role code after f%d.A prompt "flow %d: b [{{f%d.A}}]"\n' "$f" "$f" "$f" "$f"
    printf 'XADD fleetq:submit * id f%d.C role quality after f%d.A prompt "flow %d: c [{{f%d.A}}]"\n' "$f" "$f" "$f" "$f"
    printf 'XADD fleetq:submit * id f%d.D role code after f%d.B,f%d.C review_by quality prompt "flow %d: d [{{f%d.B}}] [{{f%d.C}}]"\n' \
        "$f" "$f" "$f" "$f" "$f" "$f"
done | fq_redis >/dev/null
n=$(((flows + plans) * 5))

kills=0
deadline=$(( $(date +%s) + 150 ))
while [ "$(fq_sql "SELECT count(*) FROM tasks" 2>/dev/null || echo 0)" -lt "$n" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fq_fail "not every task ended in 150 s of kills"
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + 0.7 * r / 32768 }')"
    victim=${procs[$((RANDOM % ${#procs[@]}))]}
    kill -KILL "${pid_of[$victim]}" 2>/dev/null || true
    wait "${pid_of[$victim]}" 2>/dev/null || true
    kills=$((kills + 1))
    sleep 0.2
    start "$victim"
done
fq_log "$kills kills"
fq_assert_ge "$kills" 5 "kills"

fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status = 'done'")" "$n" "tasks done"
for f in $(seq 1 "$flows"); do
    b=$(fq_sql "SELECT output FROM tasks WHERE id = 'f$f.B'")
    c=$(fq_sql "SELECT output FROM tasks WHERE id = 'f$f.C'")
    d=$(fq_sql "SELECT prompt FROM tasks WHERE id = 'f$f.D'")
    fq_assert_eq "$d" "flow $f: d [$b] [$c]" "f$f.D's prompt"
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE flow_id = 'f$f.A'")" 5 "flow f$f.A's tasks"
done
for f in $(seq 1 "$plans"); do
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE flow_id = 'p$f' AND status = 'done'")" \
        5 "plan p$f's tasks"
done
# each child released once
released=$(fq_redis XRANGE fleetq:events - + | grep -c -x 'parents done' || true)
fq_assert_eq "$released" $(((flows + plans) * 4)) \
    "children released (one 'parents done' event each)"
# each task reached the provider only for its attempts
while IFS='|' read -r id attempts; do
    prompt=$(fq_sql "SELECT prompt FROM tasks WHERE id = '$id'")
    calls=$(jq -r --arg p "$prompt" 'select((.messages[-1].content | sub("\\n+$"; "")) == $p) | 1' \
        "$FQ_TMP/requests.jsonl" | wc -l)
    [ "$calls" -ge 1 ] && [ "$calls" -le "$attempts" ] ||
        fq_fail "$id reached the provider $calls times in $attempts attempts"
done < <(fq_sql "SELECT id, attempts FROM tasks")
fq_assert_eq "$(fq_redis SCARD 'fleetq:{q}:resolving')" 0 "the resolving set"
fq_assert_eq "$(fq_redis XPENDING fleetq:submit coordinators | head -n 1)" 0 "unacknowledged submissions"
fq_wait_for 10 fq_xlen_is 'fleetq:{q}:results' 0 || fq_fail "results left in the stream"
fq_pass
