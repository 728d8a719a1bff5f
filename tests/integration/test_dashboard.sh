#!/usr/bin/env bash
# The web dashboard, for real: off (404) without FLEETQ_DASHBOARD_TOKEN and
# a bad token refused at start; then a live stack (Redis, the stand-in API,
# the coordinator, code and quality workers) with queued, delayed, done,
# failed and flow tasks and a prompt holding <script> (the token read from
# FLEETQ_DASHBOARD_TOKEN_FILE, as Compose hands it over), driven in headless
# Chromium (Debian's chromium through playwright-core, tests/browser):
# the numbers on the page against Redis and SQLite, filters and search, a
# task's page, requeue and cancel of dead letters, refusals without the
# token and without the CSRF token, the injected script shown as text.
# Screenshots of every page land in $FQ_BIN/dashboard/. The token appears
# in no log.
. "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null || fq_fail "needs Debian's chromium: apt-get install chromium"
{ command -v node && command -v npm; } >/dev/null || fq_fail "needs node and npm"
node_major=$(node -p 'process.versions.node.split(".")[0]')
fq_assert_ge "$node_major" 20 "Node.js major version (playwright-core needs 20)"
node --check "$FQ_SRC/coordinator/web/app.js" || fq_fail "app.js does not parse"

# playwright-core into the build tree, as locked (nothing else is fetched:
# it drives the system's Chromium and downloads no browser)
browser_dir="$FQ_BIN/browser"
if ! cmp -s "$FQ_SRC/tests/browser/package-lock.json" "$browser_dir/package-lock.json" ||
    [ ! -f "$browser_dir/node_modules/playwright-core/package.json" ]; then
    mkdir -p "$browser_dir"
    cp "$FQ_SRC/tests/browser/package.json" "$FQ_SRC/tests/browser/package-lock.json" "$browser_dir/"
    (cd "$browser_dir" && npm ci --no-audit --no-fund --silent) >"$FQ_TMP/npm.log" 2>&1 ||
        fq_fail "npm ci playwright-core failed: $(tail -n 5 "$FQ_TMP/npm.log")"
fi

fq_start_redis
fq_start_mock --latency-ms 5

# ---------------------------------------------------------------- off by default
unset FLEETQ_DASHBOARD_TOKEN
fq_start_coordinator
fq_wait_for 10 fq_health_ok || fq_fail "coordinator not healthy"
for path in / /login /tasks /api/overview /api/tasks /assets/app.js; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$path")
    fq_assert_eq "$code" 404 "GET $path without FLEETQ_DASHBOARD_TOKEN"
done
fq_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")" 200 \
    "/metrics without the dashboard"
kill -TERM "$FQ_COORD_PID"; wait "$FQ_COORD_PID" 2>/dev/null || true

# ---------------------------------------------------------------- bad tokens
for bad in short-token "has a space in it here" ; do
    rc=0
    FLEETQ_DASHBOARD_TOKEN=$bad timeout 10 "$FQ_BIN/coordinator/fleetq-coordinator" \
        >"$FQ_TMP/bad.log" 2>&1 || rc=$?
    fq_assert_eq "$rc" 2 "the coordinator with FLEETQ_DASHBOARD_TOKEN='$bad'"
    fq_assert_contains "$(cat "$FQ_TMP/bad.log")" "FLEETQ_DASHBOARD_TOKEN" "the error names it"
    grep -qF -- "$bad" "$FQ_TMP/bad.log" && fq_fail "the error shows the token: $(cat "$FQ_TMP/bad.log")"
done

: >"$FQ_TMP/empty-token"
rc=0
FLEETQ_DASHBOARD_TOKEN_FILE=$FQ_TMP/empty-token timeout 10 \
    "$FQ_BIN/coordinator/fleetq-coordinator" >"$FQ_TMP/bad.log" 2>&1 || rc=$?
fq_assert_eq "$rc" 2 "the coordinator with an empty FLEETQ_DASHBOARD_TOKEN_FILE"
fq_assert_contains "$(cat "$FQ_TMP/bad.log")" "is empty; put the token (openssl rand -hex 24) in it" "its error"

# ---------------------------------------------------------------- a live stack
# the token from a file, as the Compose secret hands it over
token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; printf '%s\n' "$token" >"$FQ_TMP/dashboard_token")
export FLEETQ_DASHBOARD_TOKEN_FILE=$FQ_TMP/dashboard_token
PORT=$(fq_free_port)
fq_start_coordinator
fq_wait_for 10 fq_health_ok || fq_fail "coordinator not healthy"

# dead letters first: every call fails, one attempt each
fq_mock_config '{"fail_rate": 1}'
fq_start_worker code --concurrency 4
code_pid=$FQ_LAST_PID
for i in 1 2 3; do
    fq_submit id "dl-$i" role code max_attempts 1 prompt "dead letter $i" >/dev/null
done
fq_wait_for 20 fq_zcard_is 'fleetq:{q}:dead' 3 || fq_fail "three dead letters expected"
fq_mock_config '{"fail_rate": 0}'

fq_start_worker quality --concurrency 4
for i in $(seq 1 12); do
    word=$([ $((i % 4)) -eq 0 ] && echo zebra || echo giraffe)
    fq_submit id "t-$i" role "$([ $((i % 3)) -eq 0 ] && echo quality || echo code)" \
        prompt "task $i about a $word" >/dev/null
done
fq_submit id xss role code prompt '<script>window.__fleetq_xss = 1</script><img src=x onerror="window.__fleetq_xss = 2"> shown as text' >/dev/null
fq_submit id flow-a role code prompt "the root of a flow" >/dev/null
fq_submit id flow-b role quality after flow-a prompt "review [{{flow-a}}]" >/dev/null
fq_submit id flow-c role code after flow-b prompt "mend what [{{flow-b}}] found" >/dev/null
# no ceo or memory worker: these stay queued and delayed
for i in 1 2 3 4; do fq_submit id "mem-$i" role memory prompt "index $i" >/dev/null; done
for i in 1 2; do fq_submit id "later-$i" role ceo delay 3600 prompt "plan $i later" >/dev/null; done
fq_wait_sql 30 "SELECT count(*) FROM tasks" 19
fq_wait_for 10 fq_zcard_is 'fleetq:{q}:ready:memory' 4 || fq_fail "memory tasks not queued"
fq_wait_for 10 fq_zcard_is 'fleetq:{q}:delayed' 2 || fq_fail "ceo tasks not delayed"

shots="$FQ_BIN/dashboard"
mkdir -p "$shots"
rm -f "$shots"/*.png
fq_log "browser tests (screenshots in $shots)"
FQ_DASH_URL="http://127.0.0.1:$PORT" FQ_DASH_TOKEN="$token" \
    FQ_REDIS_PORT="$FQ_REDIS_PORT" FQ_DB="$FLEETQ_DB" FQ_SHOTS="$shots" \
    NODE_PATH="$browser_dir/node_modules" \
    node --test --test-reporter=spec "$FQ_SRC/tests/browser/dashboard.test.js" \
    >"$FQ_TMP/browser.log" 2>&1 || { cat "$FQ_TMP/browser.log" >&2; fq_fail "browser tests failed"; }
cat "$FQ_TMP/browser.log" >&2
for page in login overview tasks task dead flows flow; do
    [ -s "$shots/$page.png" ] || fq_fail "no screenshot of $page"
    file "$shots/$page.png" | grep -q "PNG image" || fq_fail "$page.png is not a PNG"
done

# what the browser did, seen from the store
fq_wait_sql 20 "SELECT status FROM tasks WHERE id = 'dl-1'" "done"
fq_assert_eq "$(fq_sql "SELECT status FROM tasks WHERE id = 'dl-2'")" cancelled "dl-2 cancelled"
fq_assert_eq "$(fq_sql "SELECT status FROM tasks WHERE id = 'dl-3'")" failed "dl-3 left failed"
fq_assert_eq "$(fq_redis ZSCORE 'fleetq:{q}:dead' dl-3 | grep -c .)" 1 "dl-3 still a dead letter"

kill -TERM "$code_pid" "$FQ_COORD_PID"
wait "$FQ_COORD_PID" 2>/dev/null || true
for log in "$FQ_TMP"/*.log; do
    if grep -qF -- "$token" "$log"; then
        fq_fail "the dashboard token is in $(basename "$log")"
    fi
done
fq_pass
