#!/usr/bin/env bash
# A real Redis Cluster on loopback: three masters and three replicas
# (redis-server --cluster-enabled yes, redis-cli --cluster create). With
# FLEETQ_KEY_PREFIX={fleetq} every key of the fleet is in one slot: the
# whole pipeline runs, fleetqctl and /health work, REDIS_URL naming a node
# that does not own the slot. Then the master that owns it fails over,
# mid-run: first by CLUSTER FAILOVER on its replica, then by a SIGKILL of
# the master (its replica takes over after the node timeout). Last, the
# slot itself moves to another master mid-run (MIGRATING/IMPORTING and
# MIGRATE, key by key: the fleet meets ASK and TRYAGAIN, then MOVED). No
# task is lost and no row is written twice.
. "$(dirname "$0")/lib.sh"

ports=()
start_node() {
    local port dir
    for _ in 1 2 3 4 5; do
        port=$(fq_free_port)
        dir="$FQ_TMP/node-$port"
        mkdir -p "$dir"
        redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
            --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000 \
            --save '' --appendonly no --dir "$dir" --daemonize no >"$FQ_TMP/redis-$port.log" 2>&1 &
        local pid=$!
        if fq_wait_for 5 redis-cli -p "$port" ping; then
            FQ_PIDS+=("$pid"); ports+=("$port"); NODE_PID[$port]=$pid
            return 0
        fi
        kill "$pid" 2>/dev/null || true
    done
    fq_fail "redis-server (cluster node) did not start"
}
declare -A NODE_PID
for _ in 1 2 3 4 5 6; do start_node; done
FQ_REDIS_PID=${NODE_PID[${ports[0]}]}   # stopped last by fq_stop_all (the others after it)
addrs=$(printf '127.0.0.1:%s ' "${ports[@]}")
# shellcheck disable=SC2086
redis-cli --cluster create $addrs --cluster-replicas 1 --cluster-yes >"$FQ_TMP/create.log" 2>&1 ||
    fq_fail "redis-cli --cluster create failed: $(tail -5 "$FQ_TMP/create.log")"
cluster_ok() {
    local p
    for p in "${ports[@]}"; do
        redis-cli -p "$p" CLUSTER INFO | grep -q 'cluster_state:ok' || return 1
    done
}
fq_wait_for 30 cluster_ok || fq_fail "the cluster did not come up"

slot=$(redis-cli -p "${ports[0]}" CLUSTER KEYSLOT '{fleetq}:submit')
fq_assert_eq "$(redis-cli -p "${ports[0]}" CLUSTER KEYSLOT '{fleetq}:task:x')" "$slot" \
    "the slot of a task hash"
# the master serving the slot, and its replica (from CLUSTER NODES: id,
# address "ip:port@bus", flags, master id, ..., slot ranges from field 9)
owner_of_slot() {
    redis-cli -p "$1" CLUSTER NODES | awk -v s="$slot" '$3 ~ /master/ && $3 !~ /fail/ {
        for (i = 9; i <= NF; i++) {
            n = split($i, r, "-"); lo = r[1] + 0; hi = (n > 1 ? r[2] : r[1]) + 0
            if (lo <= s && s <= hi) { split($2, a, "[:@]"); print a[2] }
        } }'
}
replica_of() {
    local id
    id=$(redis-cli -p "$1" CLUSTER MYID)
    redis-cli -p "$1" CLUSTER NODES | awk -v id="$id" '$4 == id { split($2, a, "[:@]"); print a[2] }'
}
node_role() { redis-cli -p "$1" ROLE | head -n 1; }
is_master() { [ "$(node_role "$1")" = master ]; }
master=$(owner_of_slot "${ports[0]}")
[ -n "$master" ] || fq_fail "no master serves slot $slot"
has_replica() { [ -n "$(replica_of "$master")" ]; }
fq_wait_for 20 has_replica || fq_fail "no replica of $master"
replica=$(replica_of "$master")
seed=""
for p in "${ports[@]}"; do
    [ "$p" != "$master" ] && [ "$p" != "$replica" ] && [ "$(node_role "$p")" = master ] &&
        { seed=$p; break; }
done
fq_log "slot $slot: master $master, replica $replica; REDIS_URL names $seed"

FQ_REDIS_PORT=$seed
export REDIS_URL="redis://127.0.0.1:$seed/0" FLEETQ_KEY_PREFIX='{fleetq}'
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
rc() { redis-cli -c -p "$seed" "$@"; }   # follows the cluster's redirections
fq_start_mock --latency-ms 20
export FLEETQ_DB="$FQ_TMP/fleetq.db" PORT=${PORT:-$(fq_free_port)}
"$FQ_BIN/coordinator/fleetq-coordinator" >>"$FQ_TMP/coordinator.log" 2>&1 &
FQ_COORD_PID=$!
FQ_PIDS+=("$FQ_COORD_PID")
has_group() { rc XINFO GROUPS '{fleetq}:submit' 2>/dev/null | grep -q coordinators; }
fq_wait_for 15 has_group || fq_fail "coordinator did not start on the cluster"
fq_start_worker code --concurrency 8
fq_start_worker memory --concurrency 8

submit_n() { # N PREFIX: submitted through the cluster, retried while it fails over
    local i out
    for i in $(seq 1 "$1"); do
        for _ in $(seq 1 100); do
            out=$(rc XADD '{fleetq}:submit' '*' id "$2-$i" role "$([ $((i % 2)) = 0 ] &&
                echo code || echo memory)" prompt "task $i" 2>&1) || true
            grep -qE '^[0-9]+-[0-9]+$' <<<"$out" && break
            sleep 0.1
        done
        grep -qE '^[0-9]+-[0-9]+$' <<<"$out" || fq_fail "submission $2-$i refused: $out"
    done
}
# N PREFIX PORT: N submissions in one pipe to the node that owns the slot
submit_bulk() {
    local i
    for i in $(seq 1 "$1"); do
        printf 'XADD {fleetq}:submit * id %s-%d role %s prompt "task %d"\n' "$2" "$i" \
            "$([ $((i % 2)) = 0 ] && echo code || echo memory)" "$i"
    done | redis-cli -p "$3" | grep -cE '^[0-9]+-[0-9]+$'
}
done_rows() { fq_sql "SELECT count(*) FROM tasks WHERE id LIKE '$1-%'"; }
rows_are() { fq_wait_sql "$1" "SELECT count(DISTINCT id) || ' ' || count(*) FROM tasks
    WHERE status = 'done'" "$2 $2"; }

# ---- the pipeline, fleetqctl and /health
submit_n 40 p
rows_are 60 40
fq_assert_eq "$(rc BLPOP '{fleetq}:done:p-7' 5 | tail -n 1)" done "BLPOP {fleetq}:done:p-7"
fq_ctl submit role code prompt "through fleetqctl" id ctl-1 --wait 30
fq_assert_eq "$CTL_RC" 0 "fleetqctl submit --wait on the cluster"
fq_ctl status --json
fq_assert_eq "$CTL_RC" 0 "fleetqctl status on the cluster"
fq_assert_eq "$(jq '.workers.live' <<<"$CTL_OUT")" 2 "live workers in fleetqctl status"
fq_ctl result p-3
fq_assert_contains "$CTL_OUT" "status:    done" "fleetqctl result on the cluster"
health=$(curl -s "http://127.0.0.1:$PORT/health")
fq_assert_eq "$(jq -r .status <<<"$health")" ok "/health on the cluster: $health"
fq_assert_eq "$(jq -r '.warnings | length' <<<"$health")" 0 "/health warnings"
fq_assert_eq "$(rc XLEN '{fleetq}:submit')" 0 "XLEN {fleetq}:submit"
fq_assert_eq "$(redis-cli -p "$master" DBSIZE)" "$(redis-cli -p "$master" CLUSTER COUNTKEYSINSLOT "$slot")" \
    "keys of the fleet's master outside its slot (none)"

# ---- run 1: a manual failover mid-run (calls of 200 ms: 300 tasks take 4 s)
fq_mock_config '{"latency_ms": 200}'
fq_assert_eq "$(submit_bulk 300 a "$master")" 300 "run 1 submissions accepted"
sleep 1
fq_log "run 1: $(done_rows a) of 300 done at the failover"
fq_assert_le "$(done_rows a)" 250 "run 1 tasks done before the failover"
redis-cli -p "$replica" CLUSTER FAILOVER >/dev/null
fq_wait_for 20 is_master "$replica" || fq_fail "$replica did not take over"
fq_log "run 1: $replica took over from $master (CLUSTER FAILOVER)"
rows_are 120 341
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'a-%' AND status = 'done'")" \
    300 "run 1 tasks done"
grep -q '"redis.redirected"' "$FQ_TMP"/coordinator.log "$FQ_TMP"/worker-*.log ||
    fq_fail "no connection followed the failover"

# ---- run 2: the new master killed mid-run
fq_assert_eq "$(submit_bulk 300 b "$replica")" 300 "run 2 submissions accepted"
redis-cli -p "$replica" WAIT 1 2000 >/dev/null   # the submissions are on its replica too
sleep 1
fq_log "run 2: $(done_rows b) of 300 done at the kill"
fq_assert_le "$(done_rows b)" 250 "run 2 tasks done before the kill"
kill -KILL "${NODE_PID[$replica]}"
fq_wait_for 30 is_master "$master" || fq_fail "$master did not take over"
fq_log "run 2: $master took over from the killed $replica"
rows_are 180 641
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'b-%' AND status = 'done'")" \
    300 "run 2 tasks done"

# ---- run 3: the slot moves to another master mid-run
owner=$master
target=$seed
owner_id=$(redis-cli -p "$owner" CLUSTER MYID) target_id=$(redis-cli -p "$target" CLUSTER MYID)
fq_assert_eq "$(submit_bulk 300 c "$owner")" 300 "run 3 submissions accepted"
sleep 1
fq_log "run 3: $(done_rows c) of 300 done when slot $slot starts moving from $owner to $target"
fq_assert_le "$(done_rows c)" 250 "run 3 tasks done before the slot moved"
redis-cli -p "$target" CLUSTER SETSLOT "$slot" IMPORTING "$owner_id" >/dev/null
redis-cli -p "$owner" CLUSTER SETSLOT "$slot" MIGRATING "$target_id" >/dev/null
moved=0
while :; do
    mapfile -t keys < <(redis-cli -p "$owner" CLUSTER GETKEYSINSLOT "$slot" 20)
    [ "${#keys[@]}" -gt 0 ] && [ -n "${keys[0]}" ] || break
    redis-cli -p "$owner" MIGRATE 127.0.0.1 "$target" "" 0 5000 REPLACE KEYS "${keys[@]}" >/dev/null
    moved=$((moved + ${#keys[@]}))
    sleep 0.05   # the fleet works on between the batches
done
for p in "${ports[@]}"; do
    is_master "$p" && redis-cli -p "$p" CLUSTER SETSLOT "$slot" NODE "$target_id" >/dev/null
done
fq_log "run 3: $moved keys migrated to $target, done rows now $(done_rows c)"
rows_are 180 941
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id LIKE 'c-%' AND status = 'done'")" \
    300 "run 3 tasks done"
fq_assert_eq "$(redis-cli -p "$owner" CLUSTER COUNTKEYSINSLOT "$slot")" 0 \
    "keys of the slot left on its old master"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM (SELECT task_id, n FROM attempts GROUP BY 1, 2
    HAVING count(*) > 1)")" 0 "attempt rows written twice"
for pid in "$FQ_COORD_PID"; do kill -0 "$pid" || fq_fail "the coordinator exited"; done
fq_pass
