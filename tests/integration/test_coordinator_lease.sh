#!/usr/bin/env bash
# One coordinator per fleet, one database per fleet (the lease, lease.lua):
#   1. a second coordinator, from another directory (so another database),
#      exits 2 naming the first, and writes nothing;
#   2. a standby on the same database waits, /health says so, and takes
#      over once the first is gone: at once when it was killed on this host
#      (its process is gone), within a lease (10 s) when it stopped
#      renewing (SIGSTOP, as a host that vanished); the first, woken, finds
#      its lease taken and stops; every task is written once, in the one
#      database;
#   3. a new database while the fleet has recorded tasks is refused, naming
#      the database that holds them, unless FLEETQ_NEW_DATABASE=true;
#   4. the database of another fleet (another Redis) is refused;
#   5. a clean stop gives the lease up: the next coordinator starts at once.
. "$(dirname "$0")/lib.sh"

COORD="$FQ_BIN/coordinator/fleetq-coordinator"

# coordinator LOG [VAR=VALUE...]: starts another coordinator on a free port
# with the variables given; its pid is left in LAST.
coordinator() {
    local log=$1; shift
    env PORT="$(fq_free_port)" "$@" "$COORD" >>"$FQ_TMP/$log" 2>&1 &
    LAST=$!
    FQ_PIDS+=("$LAST")
}
# exits_with PID CODE SECONDS: the process ends within SECONDS with CODE
exits_with() {
    local pid=$1 want=$2 secs=$3 rc
    fq_wait_for "$secs" bash -c "! kill -0 $pid 2>/dev/null" || fq_fail "pid $pid still runs"
    set +e; wait "$pid"; rc=$?; set -e
    fq_assert_eq "$rc" "$want" "exit status of pid $pid"
}
health_of() { curl -sf "http://127.0.0.1:$1/health"; }
lease_field() { fq_redis HGET fleetq:coordinator "$1"; }

fq_start_redis
fq_start_mock --latency-ms 150
export GROK_RATE_LIMIT_RPM=0 DAILY_BUDGET_USD=0
fq_start_coordinator
first=$FQ_COORD_PID
fq_start_worker code --concurrency 4
fleet=$(fq_redis HGET fleetq:fleet id)
[ ${#fleet} -eq 32 ] || fq_fail "fleet id in Redis: '$fleet'"
fq_assert_eq "$(fq_sql 'SELECT id FROM fleet')" "$fleet" "the database records the fleet's id"
fq_assert_eq "$(lease_field pid)" "$first" "the lease names the coordinator's pid"
fq_fresh_snapshot
fq_assert_eq "$(curl -sf "http://127.0.0.1:$PORT/health" | jq -r '.coordinator | "\(.state) \(.fleet) \(.holder.pid) \(.holder.db)"')" \
    "active $fleet $first $FLEETQ_DB" "/health names the holder"
fq_ctl status --json
fq_assert_eq "$(jq -r '.coordinator | "\(.pid) \(.db) \(.fleet)"' <<<"$CTL_OUT")" \
    "$first $FLEETQ_DB $fleet" "fleetqctl status --json names the holder"
fq_ctl status
fq_assert_contains "$CTL_OUT" "coordinator   $(hostname) pid $first since" "fleetqctl status names the holder"
fq_assert_contains "$CTL_OUT" "database      $FLEETQ_DB" "fleetqctl status names the holder's database"

# 1. A second coordinator from elsewhere, while tasks run.
fq_submit_n 20 one "code"
mkdir -p "$FQ_TMP/elsewhere"
(cd "$FQ_TMP/elsewhere" && env -u FLEETQ_DB PORT="$(fq_free_port)" "$COORD" >"$FQ_TMP/second.log" 2>&1) &
second=$!
exits_with "$second" 2 10
fq_assert_contains "$(cat "$FQ_TMP/second.log")" "another coordinator runs this fleet: host $(hostname), pid $first" "the second names the first"
fq_assert_contains "$(cat "$FQ_TMP/second.log")" "database $FLEETQ_DB" "the second names the first's database"
fq_assert_eq "$(sqlite3 "$FQ_TMP/elsewhere/fleetq.db" 'SELECT count(*) FROM tasks')" 0 "rows in the second's database"
fq_wait_sql 30 "SELECT count(*) FROM tasks WHERE id LIKE 'one-%'" 20
fq_assert_eq "$(lease_field pid)" "$first" "the lease stays the first's"

# 2a. A standby on the same database; the first killed mid-run.
coordinator standby1.log FLEETQ_STANDBY=true
standby=$LAST
fq_wait_for 10 grep -q '"coordinator.standby"' "$FQ_TMP/standby1.log" || fq_fail "no standby line"
fq_submit_n 40 two "code"
sleep 0.5
kill -KILL "$first"
wait "$first" 2>/dev/null || true
t0=$(date +%s%N)
fq_wait_for 5 bash -c "[ \"\$($(printf '%q ' "${FQ_REDIS_CLI[@]}") HGET fleetq:coordinator pid)\" = $standby ]" \
    || fq_fail "the standby did not take over from a killed coordinator"
fq_log "took over from a killed coordinator in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
fq_assert_contains "$(cat "$FQ_TMP/standby1.log")" "the coordinator that held the fleet on this host is gone" "the standby says why"

# 2b. A second standby; the active one stopped (no renewals) mid-run.
coordinator standby2.log FLEETQ_STANDBY=true
standby2=$LAST
fq_wait_for 10 grep -q '"coordinator.standby"' "$FQ_TMP/standby2.log" || fq_fail "no standby line (2)"
port2=$(grep -o '"port":[0-9]*' "$FQ_TMP/standby2.log" | head -n 1 | cut -d: -f2)
fq_fresh_snapshot
fq_assert_eq "$(health_of "$port2" | jq -r '"\(.status) \(.coordinator.state) \(.coordinator.holder.pid)"')" \
    "standby standby $standby" "a standby's /health"
fq_submit_n 40 three "code"
sleep 0.5
kill -STOP "$standby"
t0=$(date +%s%N)
fq_wait_for 15 bash -c "[ \"\$($(printf '%q ' "${FQ_REDIS_CLI[@]}") HGET fleetq:coordinator pid)\" = $standby2 ]" \
    || fq_fail "the standby did not take over from a stopped coordinator"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
fq_log "took over from a stopped coordinator in $took ms"
fq_assert_le "$took" 12000 "ms to take over (a lease is 10000)"
fq_assert_ge "$took" 7000 "ms to take over (not before the lease lapsed)"
kill -CONT "$standby"
exits_with "$standby" 2 10
fq_assert_contains "$(cat "$FQ_TMP/standby1.log")" "another coordinator took the fleet over" "the woken one stops"
fq_wait_sql 60 "SELECT count(*) FROM tasks" 100
sleep 1
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE status = 'done'")" 100 "tasks done"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM attempts")" "$(jq .requests <<<"$(fq_mock_stats)")" \
    "attempt rows = provider calls"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE attempts <> (SELECT count(*) FROM attempts a WHERE a.task_id = tasks.id)")" \
    0 "tasks whose attempts differ from their rows"

# 5. A clean stop gives the lease up.
kill -TERM "$standby2"
exits_with "$standby2" 0 15
fq_assert_eq "$(fq_redis EXISTS fleetq:coordinator)" 0 "the lease after a clean stop"
fq_ctl status
fq_assert_contains "$CTL_OUT" "coordinator   none holds the fleet's lease" "fleetqctl status without a coordinator"
fq_ctl status --json
fq_assert_eq "$(jq -c .coordinator <<<"$CTL_OUT")" null "status --json without a coordinator"

# 3. A new database while the fleet has recorded tasks.
coordinator newdb.log FLEETQ_DB="$FQ_TMP/new.db"
exits_with "$LAST" 2 10
fq_assert_contains "$(cat "$FQ_TMP/newdb.log")" "the database $FQ_TMP/new.db is new, but the fleet $fleet has recorded its results in $FLEETQ_DB" "a new database refused"
fq_assert_eq "$(sqlite3 "$FQ_TMP/new.db" 'SELECT count(*) FROM fleet')" 0 "the refused database has no fleet"
coordinator newdb.log FLEETQ_DB="$FQ_TMP/new.db" FLEETQ_NEW_DATABASE=true
newcoord=$LAST
fq_wait_for 10 bash -c "[ \"\$($(printf '%q ' "${FQ_REDIS_CLI[@]}") HGET fleetq:coordinator pid)\" = $newcoord ]" \
    || fq_fail "FLEETQ_NEW_DATABASE=true did not start"
fq_wait_for 5 bash -c "[ \"\$(sqlite3 '$FQ_TMP/new.db' 'SELECT id FROM fleet')\" = $fleet ]" \
    || fq_fail "the new database did not get the fleet's id"
fq_assert_eq "$(fq_redis HGET fleetq:fleet db)" "$FQ_TMP/new.db" "the fleet's database now"
kill -TERM "$newcoord"
exits_with "$newcoord" 0 15

# 4. Another fleet's database: a second Redis, its own fleet.
other_port=$(fq_free_port)
redis-server --bind 127.0.0.1 --port "$other_port" --save '' --appendonly no \
    --dir "$FQ_TMP" --daemonize no >"$FQ_TMP/redis-other.log" 2>&1 &
FQ_PIDS+=("$!")
fq_wait_for 5 redis-cli -p "$other_port" PING || fq_fail "second Redis"
coordinator other.log REDIS_URL="redis://127.0.0.1:$other_port/0" FLEETQ_DB="$FQ_TMP/other.db"
other=$LAST
fq_wait_for 10 bash -c "[ -n \"\$(redis-cli -p $other_port HGET fleetq:fleet id)\" ]" || fq_fail "other fleet"
other_fleet=$(redis-cli -p "$other_port" HGET fleetq:fleet id)
[ "$other_fleet" != "$fleet" ] || fq_fail "two fleets with one id"
kill -TERM "$other"
exits_with "$other" 0 15
coordinator wrong.log FLEETQ_DB="$FQ_TMP/other.db"
exits_with "$LAST" 2 10
fq_assert_contains "$(cat "$FQ_TMP/wrong.log")" "the database $FQ_TMP/other.db belongs to the fleet $other_fleet, but the fleet of this Redis and FLEETQ_KEY_PREFIX fleetq is $fleet, whose results are in $FQ_TMP/new.db" "another fleet's database refused"
fq_assert_eq "$(fq_redis EXISTS fleetq:coordinator)" 0 "no lease taken by a refused coordinator"
fq_pass
