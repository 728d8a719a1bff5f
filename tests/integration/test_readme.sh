#!/usr/bin/env bash
# The README, run: every example it marks runnable is executed, top to
# bottom, against a live fleet, and what it says about the store and the
# build is checked against the real thing.
#
# Runnable examples are fenced code blocks whose info string is
# "sh runnable":
#
#     ```sh runnable
#     redis-cli XADD fleetq:submit '*' role code prompt "Fix this bug"
#     ```
#
# (GitHub highlights them as sh; the fence may be indented inside a list
# item). Blocks that cannot run here (installing packages, Compose, Render,
# a real key, a cluster) stay plain or indented. Each runnable block runs,
# in README order, as one script with bash -euo pipefail, so every command
# of it must succeed; a block that fails or runs longer than 40 s fails the
# test, named by its README line. The blocks share what a user's shell
# would have:
#   - the working directory is the coordinator's, so `sqlite3 fleetq.db`
#     opens the store; FLEETQ_DB is unset, as fleetqctl search's default
#     (./fleetq.db) must find it too;
#   - the fleet's environment: REDIS_URL, PORT (the coordinator's HTTP
#     port, a free one), FLEETQ_DASHBOARD_TOKEN, XAI_BASE_URL, XAI_API_KEY;
#   - PATH starts with the programs as `cmake --install` lays them out (the
#     build installed into a prefix in the test's directory), so
#     fleetq-coordinator, fleetq-worker, fleetqctl and fleetq-mockapi are
#     found by name;
#   - redis-cli is a wrapper first on PATH that runs the real one with
#     -u "$REDIS_URL" -e: the README's redis-cli talks to the default
#     127.0.0.1:6379, which is REDIS_URL in "Running a fleet", while the
#     test's Redis is on a free port; -e makes an error reply fail the
#     command instead of printing it with exit status 0.
# Each block is also run through shellcheck.
#
# Then: the column list of every table and view in "Querying results with
# sqlite3" (items "- `name`: ...: `col`, `col` (note), ...": the backticked
# names outside parentheses) is exactly PRAGMA table_info of the live
# store, in order, and every table and view of the store is listed; each
# `table.column` the README names exists; the programs' paths after a build
# that it names exist in the build, and `cmake --install` puts the four
# programs in PREFIX/bin; fleetq-mockapi takes any key without --key; and
# the tasks the blocks submitted ended as the README says they do.
# shellcheck disable=SC1091  # lib.sh, beside this file
. "$(dirname "$0")/lib.sh"

readme=$FQ_SRC/README.md
# The blocks marked runnable when this test was written: fewer found means
# the marker or the extraction broke.
min_blocks=17

command -v shellcheck >/dev/null || fq_fail "needs shellcheck: apt-get install -y shellcheck"
command -v cmake >/dev/null || fq_fail "needs cmake"

# ---------------------------------------------------------------------------
# The build as the README describes it: the programs' paths, and the install.
progs=(coordinator/fleetq-coordinator worker/fleetq-worker ctl/fleetqctl mockapi/fleetq-mockapi)
named=$(grep -oE 'build/[a-z]+/fleetq[a-z-]*' "$readme" | sort -u)
for p in "${progs[@]}"; do
    grep -qx "build/$p" <<<"$named" || fq_fail "README does not name build/$p"
done
while read -r p; do
    [ -x "$FQ_BIN/${p#build/}" ] || fq_fail "README names $p, which a build does not make"
done <<<"$named"
# shellcheck disable=SC2016  # the README's own $PWD, literally
dirs=$(grep -oE '\$PWD/build/[a-z]+' "$readme" | sort -u)
[ -n "$dirs" ] || fq_fail "README does not say how to put the built programs on PATH"
while read -r d; do
    [ -d "$FQ_BIN/${d#\$PWD/build/}" ] || fq_fail "README puts $d on PATH, which a build does not make"
done <<<"$dirs"
grep -q 'cmake --install build' "$readme" || fq_fail "README does not say how to install"
prefix=$FQ_TMP/prefix
cmake --install "$FQ_BIN" --prefix "$prefix" >"$FQ_TMP/install.out" 2>&1 ||
    fq_fail "cmake --install failed: $(tail -n 5 "$FQ_TMP/install.out")"
for p in "${progs[@]}"; do
    [ -x "$prefix/bin/${p#*/}" ] || fq_fail "cmake --install did not put ${p#*/} in bin/"
done

# "fleetq-mockapi ... accepts any key": one started without --key answers a
# made-up one.
pf=$FQ_TMP/anykey.port
"$prefix/bin/fleetq-mockapi" --port 0 --port-file "$pf" >"$FQ_TMP/mock-anykey.log" 2>&1 &
anykey_pid=$!
FQ_PIDS+=("$anykey_pid")
fq_wait_for 10 test -s "$pf" || fq_fail "fleetq-mockapi without --key did not start"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer mock-key' \
       -H 'Content-Type: application/json' \
       -d '{"model":"grok-4","messages":[{"role":"user","content":"hi"}]}' \
       "http://127.0.0.1:$(cat "$pf")/v1/chat/completions")
fq_assert_eq "$code" 200 "fleetq-mockapi without --key, called with the key mock-key"
kill "$anykey_pid"

# ---------------------------------------------------------------------------
# The runnable blocks, in README order: blocks/NN.sh, and for each a line
# "NN<TAB>README line of its first line<TAB>of its first command<TAB>that
# command" in blocks/index.
blocks=$FQ_TMP/blocks
mkdir -p "$blocks"
awk -v dir="$blocks" '
    function first_cmd(line) { return line ~ /^[ \t]*(#|$)/ ? "" : line }
    !inb && /^ *```+ *sh +runnable *$/ {
        inb = 1; n++; match($0, /^ */); indent = RLENGTH
        file = sprintf("%s/%02d.sh", dir, n); start = NR + 1; first = ""; firstline = 0
        printf "" > file
        next
    }
    inb && /^ *``` *$/ {
        inb = 0; close(file)
        if (first == "") { print "block at README line " start " has no command" > "/dev/stderr"; exit 1 }
        printf "%02d\t%d\t%d\t%s\n", n, start, firstline, first > (dir "/index")
        next
    }
    inb {
        line = $0
        for (i = 0; i < indent && substr(line, 1, 1) == " "; i++) line = substr(line, 2)
        print line >> file
        if (first == "" && first_cmd(line) != "") { first = line; firstline = NR }
    }
    END { if (inb) { print "README ends inside the block of line " start > "/dev/stderr"; exit 1 } }
' "$readme" || fq_fail "could not extract the runnable blocks"
found=$(wc -l <"$blocks/index")
marked=$(grep -cE '^ *```+.*runnable' "$readme")
fq_assert_eq "$found" "$marked" "blocks extracted against fences marked runnable (a marker misspelt?)"
fq_assert_ge "$found" "$min_blocks" "runnable blocks in the README"
fq_log "$found runnable blocks"

# Each block as shellcheck sees a script of bash.
while IFS=$'\t' read -r n _ line first; do
    shellcheck -s bash -S warning "$blocks/$n.sh" >"$FQ_TMP/shellcheck-$n.out" 2>&1 ||
        fq_fail "README.md:$line: shellcheck on the block of '$first': $(cat "$FQ_TMP/shellcheck-$n.out")"
done <"$blocks/index"

# ---------------------------------------------------------------------------
# The fleet: Redis, the mock, the coordinator in the directory the blocks
# run in, one worker per role.
fq_start_redis
fq_start_mock --latency-ms 5 --stream-chunk-ms 10
FLEETQ_DASHBOARD_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export FLEETQ_DASHBOARD_TOKEN
cd "$FQ_TMP" || exit 1
fq_start_coordinator
for role in ceo code quality memory; do fq_start_worker "$role" --concurrency 4; done
fq_wait_for 10 fq_health_ok || fq_fail "the coordinator's /health is not ok"

shim=$FQ_TMP/shim
mkdir -p "$shim"
cat >"$shim/redis-cli" <<EOF
#!/bin/sh
exec $(command -v redis-cli) -e -u "\$REDIS_URL" "\$@"
EOF
chmod +x "$shim/redis-cli"
block_path="$shim:$prefix/bin:$PATH"

# ---------------------------------------------------------------------------
run_started=$SECONDS
while IFS=$'\t' read -r n start line first; do
    started=$SECONDS
    rc=0
    # shellcheck disable=SC2016  # expanded by the block's bash
    env -u FLEETQ_DB PATH="$block_path" FQ_FAILED_AT="$FQ_TMP/failed-at-$n" \
        timeout 40 bash -c 'set -euo pipefail
                            trap '\''echo "$LINENO" >"$FQ_FAILED_AT"'\'' ERR
                            . "$1"' block "$blocks/$n.sh" \
        >"$FQ_TMP/readme-block-$n.log" 2>&1 </dev/null || rc=$?
    if [ "$rc" -ne 0 ]; then
        at=""
        if [ "$rc" -eq 124 ]; then
            at=" (still running after 40 s)"
        elif [ -s "$FQ_TMP/failed-at-$n" ]; then
            at=$((start + $(cat "$FQ_TMP/failed-at-$n") - 1))
            at=", at README.md:$at: $(sed -n "${at}p" "$readme" | sed 's/^ *//')"
        fi
        fq_log "output of the block:"; tail -n 30 "$FQ_TMP/readme-block-$n.log" >&2
        fq_fail "README.md:$line: the block of '$first' exited $rc$at"
    fi
    fq_log "block $n (README.md:$line) passed in $((SECONDS - started)) s: $first"
done <"$blocks/index"
fq_log "all blocks ran in $((SECONDS - run_started)) s"

# ---------------------------------------------------------------------------
# The column lists against the live store.
store_names=$(fq_sql "SELECT m.name FROM sqlite_master AS m
    WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
      AND NOT EXISTS (SELECT 1 FROM sqlite_master AS v
                       WHERE v.sql LIKE 'CREATE VIRTUAL TABLE%' AND m.name LIKE v.name || '\_%' ESCAPE '\')
    ORDER BY m.name")
[ -n "$store_names" ] || fq_fail "the store has no tables"
columns_of() { fq_sql "SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_table_info('$1') ORDER BY cid)"; }
# "NAME<TAB>col, col, ..." for each item "- `NAME`: ..." of the README
awk '
    function flush(   t, out, d, i, c, cols, rest) {
        if (name == "") return
        out = ""; d = 0
        for (i = 1; i <= length(text); i++) {
            c = substr(text, i, 1)
            if (c == "(") d++
            else if (c == ")") d--
            else if (d == 0) out = out c
        }
        cols = ""; rest = out
        while (match(rest, /`[A-Za-z_][A-Za-z0-9_]*`/)) {
            cols = cols (cols == "" ? "" : ", ") substr(rest, RSTART + 1, RLENGTH - 2)
            rest = substr(rest, RSTART + RLENGTH)
        }
        printf "%s\t%s\t%s\n", name, cols, lineno
        name = ""
    }
    /^- `[A-Za-z_][A-Za-z0-9_]*`:/ {
        flush(); match($0, /^- `[A-Za-z_0-9]*`:/)
        name = substr($0, 4, RLENGTH - 5); text = substr($0, RLENGTH + 1); lineno = NR
        next
    }
    name != "" && /^  +[^ ]/ { text = text " " $0; next }
    { flush() }
    END { flush() }
' "$readme" >"$FQ_TMP/readme-columns"
checked=0
while IFS=$'\t' read -r name cols lineno; do
    grep -qx -- "$name" <<<"$store_names" || continue
    fq_assert_eq "$cols" "$(columns_of "$name")" \
        "README.md:$lineno: the columns of $name as listed (expected: PRAGMA table_info's)"
    checked=$((checked + 1))
done <"$FQ_TMP/readme-columns"
while read -r name; do
    cut -f1 "$FQ_TMP/readme-columns" | grep -qx -- "$name" ||
        fq_fail "the store's $name has no column list in the README"
done <<<"$store_names"
fq_log "$checked column lists checked against the store"

# Each `table.column` the README names.
# shellcheck disable=SC2016  # backquotes of Markdown
refs=$(grep -oE '`[a-z_]+\.[a-z_]+`' "$readme" | tr -d '`' | sort -u)
while read -r ref; do
    table=${ref%%.*} column=${ref#*.}
    grep -qx -- "$table" <<<"$store_names" || continue
    fq_assert_eq "$(fq_sql "SELECT count(*) FROM pragma_table_info('$table') WHERE name = '$column'")" 1 \
        "README names $ref"
done <<<"$refs"

# ---------------------------------------------------------------------------
# What the blocks did, as the README tells it. The answers are the mock's,
# so only their shape is checked.
status_of() { fq_sql "SELECT status FROM tasks WHERE id = '$1'"; }
for id in plan-42 spec api ui review parser parser.review app csv-notes cap-1 cap-2 story plan-q4; do
    fq_wait_sql 20 "SELECT status FROM tasks WHERE id = '$id'" "done"
done
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE role = 'quality' AND prompt = 'Review this diff' AND status = 'done'")" \
    1 "the task submitted as json"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE prompt = 'Fix this bug' AND status = 'done'")" 1 \
    "fleetqctl submit --wait's task"
fq_assert_eq "$(fq_sql "SELECT group_concat(parent_id, ' ') FROM (SELECT parent_id FROM task_parents WHERE task_id = 'review' ORDER BY parent_id)")" \
    "api ui" "review's parents"
fq_assert_eq "$(fq_sql "SELECT flow_id FROM tasks WHERE id = 'review'")" spec "review's flow"
fq_assert_contains "$(fq_sql "SELECT prompt FROM tasks WHERE id = 'api'")" "Implement this spec: " "api's prompt"
fq_assert_eq "$(fq_sql "SELECT plan FROM tasks WHERE id = 'app'")" 1 "app's plan depth"
fq_assert_ge "$(fq_sql "SELECT count(*) FROM tasks WHERE flow_id = 'app' AND id <> 'app'")" 1 "app's subtasks stored"
fq_assert_eq "$(fq_sql "SELECT count(*) FROM tasks WHERE id IN ('cap-1', 'cap-2') AND cached_from IN ('cap-1', 'cap-2') AND cost_ticks = 0")" \
    1 "one of the two Explain CAP tasks answered from the cache, for nothing"
fq_assert_ge "$(fq_redis XLEN fleetq:stream:story)" 2 "entries in fleetq:stream:story"
# "The marker is one entry, which the first BLPOP to return takes": the
# block of "Following a task" took plan-42's, and its hash stays.
fq_assert_eq "$(fq_redis EXISTS fleetq:done:plan-42)" 0 "plan-42's done marker after a BLPOP"
fq_status_is plan-42 "done" || fq_fail "plan-42's hash after the BLPOP of its marker"
fq_assert_eq "$(fq_sql "SELECT role || ' ' || priority || ' ' || prompt FROM tasks WHERE id = 'plan-q4'")" \
    "ceo 0 Draft the Q4 plan" "plan-q4, its prompt read from stdin"
fq_wait_sql 20 "SELECT status FROM tasks WHERE id = 'plan-44'" cancelled
fq_wait_sql 20 "SELECT status FROM tasks WHERE id = 'plan-45'" cancelled
# plan-43 was requeued at least once and fails again each time.
fq_wait_for 20 fq_status_is plan-43 failed || fq_fail "plan-43 did not fail again after its requeue"
fq_wait_sql 20 "SELECT status || ' ' || (attempts >= 1) FROM tasks WHERE id = 'plan-43'" "failed 1"
fq_assert_ge "$(fq_sql "SELECT count(*) FROM attempts WHERE task_id = 'plan-43' AND outcome = 'model_not_found' AND http_status = 404")" \
    2 "plan-43's attempts: a 404 each time it ran"
fq_assert_eq "$(fq_redis HKEYS fleetq:limits | grep -c '^model:grok-4:' || true)" 0 \
    "grok-4's own ceilings, set and unset again"
fq_wait_for 10 fq_health_ok || fq_fail "the coordinator's /health is not ok after the blocks"
fq_pass
