#!/usr/bin/env bash
# test_container.sh -- the container stage of the test suite: builds deploy/Dockerfile
# and runs deploy/docker-compose.yml for real, with podman as the engine
# (tests/container/engine.sh) and Debian's docker-compose talking to it
# through its Docker API socket, as it would to Docker. It shows, each with
# assertions that fail when the point does not hold:
#
#   package    the Debian package (cpack) installs with apt-get into a
#              fresh bookworm container and every program runs there;
#   image      the image builds from that package; every program's
#              --version works inside it; the coordinator and fleetqctl do
#              not link libcurl; its size is printed;
#   up         `up -d` with the demo profile: the coordinator becomes
#              healthy, /health answers on the published port, every
#              program runs as uid 10001 under tini as PID 1, a task
#              submitted with redis-cli in the Redis container ends done
#              (BLPOP), and sqlite3 in the coordinator container shows it;
#              the dashboard answers with the token of the Compose secret
#              dashboard_token only; Redis wants a password, and refuses
#              FLUSHALL to the workers' user (NOPERM) while tasks complete;
#   scale      `--scale code=4`: 40 tasks are spread over at least three
#              code workers;
#   stop       `stop` with calls in flight: every container exits 0 within
#              its stop_grace_period, and each call in flight either
#              finished or was handed back (all of them end done later);
#   restart    `down` then `up` again: the rows are still in the volume;
#   secrets    the key, the dashboard's token and the Redis passwords from
#              the secret files are nowhere in `inspect` output, the
#              image's history or any container's environment (and are
#              where they belong: the worker's and the coordinator's
#              secret files);
#   root disk  the coordinator works on a fresh volume whose mount point
#              belongs to root (the entrypoint gives it to uid 10001), and
#              started as uid 10001 on one it says clearly what to fix.
#
# Needs root, podman, runc, debootstrap and docker-compose (tests/run.sh
# installs them). The base image is kept in build-container/ for a week
# (FLEETQ_CONTAINER_CACHE); everything else lives in a private directory
# removed at the end.
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/engine.sh"

[ "$(id -u)" -eq 0 ] || fq_fail "the container stage runs a rootful podman: run it as root"
for tool in podman runc debootstrap docker-compose; do
    command -v "$tool" >/dev/null || fq_fail "needs $tool: apt-get install -y podman runc debootstrap docker-compose"
done

image=fleetq:local
project=fqtest$$
FQC_PROJECT=$project
compose_file=$FQ_SRC/deploy/docker-compose.yml
key="stage-key-$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)"
version=$(sed -n 's/^project(fleetq VERSION \([0-9.]*\).*/\1/p' "$FQ_SRC/CMakeLists.txt")
programs=(fleetq-coordinator fleetq-worker fleetqctl fleetq-mockapi)
FQ_CLEANUP_HOOKS+=(fqc_engine_stop)
started=$(date +%s)

# step NAME: logs the step and how long the one before took
step_started=$started
step() {
    local now
    now=$(date +%s)
    fq_log "($((now - step_started)) s) -- $*"
    step_started=$now
}

fqc_engine_start
fq_log "engine: $(fqc_podman --version), $(docker-compose version --short)"

# ---- base images ------------------------------------------------------------
step "base images: debian:bookworm-slim, the Redis stand-in"
fqc_base_image
fqc_build docker.io/library/redis:7-bookworm "$FQ_SRC/tests/container/redis.Dockerfile" \
    "$FQ_SRC/tests/container"

# ---- the Debian package in a fresh container ----------------------------------
step "package: cpack, then apt-get install in a fresh bookworm container"
pkgbuild=$FQ_TMP/package-build
(cmake -S "$FQ_SRC" -B "$pkgbuild" -DCMAKE_BUILD_TYPE=Release -DFLEETQ_TESTS=OFF &&
    cmake --build "$pkgbuild" --parallel "$(nproc)" &&
    cpack --config "$pkgbuild/CPackConfig.cmake" -B "$FQ_TMP/package") >"$FQ_TMP/package.log" 2>&1 ||
    fq_fail "the Release build or cpack failed: $(tail -n 10 "$FQ_TMP/package.log")"
deb=$(ls "$FQ_TMP"/package/fleetq_*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
fq_log "package: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB; Depends: $depends"
for lib in libhiredis0.14 libcurl4 libuv1 libcjson1 libsqlite3-0 libmicrohttpd12; do
    fq_assert_contains "$depends" "$lib" "the package's dependencies"
done
case $depends in *-dev*) fq_fail "the package depends on a -dev package: $depends" ;; esac
out=$(fqc_podman run --rm --network=host -v "$FQ_TMP/package:/pkg:ro" debian:bookworm-slim sh -ec '
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /pkg/fleetq_*.deb >/dev/null 2>&1
    dpkg-query -W -f "installed \${Package} \${Version} \${Status}\n" fleetq
    for p in fleetq-coordinator fleetq-worker fleetqctl fleetq-mockapi; do "$p" --version; done
    command -v cc gcc cmake || true' 2>&1) || fq_fail "installing the package in a fresh container failed: $out"
fq_assert_contains "$out" "installed fleetq $version install ok installed" "dpkg in the fresh container"
for p in "${programs[@]}"; do
    fq_assert_contains "$out" "$p $version" "$p --version after apt-get install"
done
case $out in *bin/cc* | *bin/gcc* | *bin/cmake*) fq_fail "the package brought a compiler: $out" ;; esac

# ---- the image ----------------------------------------------------------------
step "image: podman build -f deploy/Dockerfile"
fqc_build "$image" "$FQ_SRC/deploy/Dockerfile" "$FQ_SRC"
size=$(fqc_podman image inspect --format '{{.Size}}' "$image")
fq_log "image: $image is $((size / 1024 / 1024)) MiB"
# the runtime stage installed the package the build stage made, with apt-get
fq_assert_contains "$(cat "$FQ_TMP/build-fleetq_local.log")" "Setting up fleetq ($version)" \
    "the image build's log"
out=$(fqc_podman run --rm --network=none "$image" sh -c 'dpkg-query -W -f "\${Package} \${Version}\n" fleetq;
    for p in fleetq-coordinator fleetq-worker fleetqctl fleetq-mockapi; do "$p" --version; done;
    for p in fleetq-coordinator fleetqctl fleetq-worker; do
        printf "%s curl=%s\n" "$p" "$(ldd "$(command -v "$p")" | grep -c libcurl)"; done' 2>&1) ||
    fq_fail "the programs do not run in the image: $out"
fq_assert_contains "$out" "fleetq $version" "the image's fleetq package"
for p in "${programs[@]}"; do fq_assert_contains "$out" "$p $version" "$p --version in the image"; done
fq_assert_contains "$out" "fleetq-coordinator curl=0" "libcurl in the coordinator"
fq_assert_contains "$out" "fleetqctl curl=0" "libcurl in fleetqctl"
fq_assert_contains "$out" "fleetq-worker curl=1" "libcurl in the worker (which calls the API)"

# ---- Compose: up ----------------------------------------------------------------
step "compose: up -d --profile demo"
http_port=$(fq_free_port)
: >"$FQ_TMP/empty.env"
(umask 077; printf '%s\n' "$key" >"$FQ_TMP/xai_api_key")
chown 10001 "$FQ_TMP/xai_api_key"   # as deploy/secrets/README says
dashboard_token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; printf '%s\n' "$dashboard_token" >"$FQ_TMP/dashboard_token")
chown 10001 "$FQ_TMP/dashboard_token"
metrics_token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
(umask 077; printf '%s\n' "$metrics_token" >"$FQ_TMP/metrics_token")
chown 10001 "$FQ_TMP/metrics_token"
# the Redis users' passwords (deploy/secrets/README): the admin's is read by
# the Redis container alone (as root), the others by uid 10001 too
redis_passwords=()
for user in admin coordinator worker; do
    pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    redis_passwords+=("$pw")
    (umask 077; printf '%s\n' "$pw" >"$FQ_TMP/redis_${user}_password")
done
chown 10001 "$FQ_TMP/redis_coordinator_password" "$FQ_TMP/redis_worker_password"
# The real Compose file, with only the secret's file put elsewhere, so
# that nothing is written into the source tree.
cat >"$FQ_TMP/override.yml" <<EOF
version: "3.9"   # what docker-compose 1.29 takes the main file for
secrets:
  xai_api_key:
    file: $FQ_TMP/xai_api_key
  dashboard_token:
    file: $FQ_TMP/dashboard_token
  metrics_token:
    file: $FQ_TMP/metrics_token
  redis_admin_password:
    file: $FQ_TMP/redis_admin_password
  redis_coordinator_password:
    file: $FQ_TMP/redis_coordinator_password
  redis_worker_password:
    file: $FQ_TMP/redis_worker_password
EOF
dc() {
    env -i PATH="$PATH" HOME="$FQ_TMP" DOCKER_HOST="$DOCKER_HOST" \
        XAI_BASE_URL=http://mockapi:8000/v1 FLEETQ_HTTP_PUBLISH="127.0.0.1:$http_port" \
        docker-compose --env-file "$FQ_TMP/empty.env" -p "$project" \
        -f "$compose_file" -f "$FQ_TMP/override.yml" --profile demo "$@"
}
# the id of the first container of a service
cid() { fqc_podman ps -q --filter "label=com.docker.compose.project=$project" \
    --filter "label=com.docker.compose.service=$1" | head -n 1; }
fqc_health_loop "$project"
dc up -d --no-build >"$FQ_TMP/up.log" 2>&1 || fq_fail "docker-compose up failed: $(tail -n 10 "$FQ_TMP/up.log")"
healthy() { [ "$(fqc_podman inspect --format '{{.State.Health.Status}}' "$(cid coordinator)")" = healthy ]; }
fq_wait_for 90 healthy || fq_fail "the coordinator did not become healthy in 90 s: $(dc logs --tail 20 coordinator 2>&1)"
health=$(curl -sS -w ' http=%{http_code}' "http://127.0.0.1:$http_port/health" | tr -d '\n')   # the body ends its line
fq_assert_eq "$health" '{"status":"ok"} http=200' "/health on the published port, without the token"
fq_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/metrics")" 401 \
    "/metrics without the token of the Compose secret metrics_token"
fq_assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $metrics_token" \
    "http://127.0.0.1:$http_port/metrics")" 200 "/metrics with the token"

# redis-cli in the Redis container as USER (default: the administrator), with
# the password of its secret there: no password on a command line
redis_cli_as() {
    local user=$1
    shift
    fqc_podman exec -i -e FQ_USER="$user" "$(cid redis)" sh -c '
        REDISCLI_AUTH=$(tr -d "[:space:]" <"/run/secrets/redis_${FQ_USER}_password")
        export REDISCLI_AUTH
        exec redis-cli $([ "$FQ_USER" = admin ] || echo --user "fleetq-$FQ_USER") "$@"' sh "$@"
}
redis_cli() { redis_cli_as admin "$@"; }
health_doc() { curl -sf -H "Authorization: Bearer $metrics_token" "http://127.0.0.1:$http_port/health"; }
workers_live() { [ "$(health_doc | jq '[.workers[]] | add')" -ge "$1" ]; }
fq_wait_for 30 workers_live 4 || fq_fail "the four workers did not register: $(health_doc)"

# every program: uid 10001, tini as PID 1
for service in coordinator ceo code quality memory mockapi; do
    c=$(cid "$service")
    procs=$(fqc_podman exec "$c" sh -c 'for d in /proc/[0-9]*; do
        printf "%s %s %s\n" "${d#/proc/}" "$(cat "$d/comm")" "$(awk "/^Uid:/ { print \$2 }" "$d/status")"
        done 2>/dev/null')
    fq_assert_eq "$(awk '$1 == 1 { print $2 }' <<<"$procs")" tini "$service: PID 1"
    prog=$(awk '$2 ~ /^fleetq-/ { print $2, $3 }' <<<"$procs")
    fq_assert_contains "$prog" "fleetq-" "$service: a fleetq program runs"
    fq_assert_eq "$(awk '{ print $2 }' <<<"$prog" | sort -u)" 10001 "$service: the uid of $prog"
done

redis_cli XADD fleetq:submit '*' role code id first-task prompt "Fix this bug" >/dev/null
fq_assert_eq "$(redis_cli BLPOP fleetq:done:first-task 60 | tail -n 1)" done "BLPOP fleetq:done:first-task"
row=$(dc exec -T -u fleetq coordinator sqlite3 /data/fleetq.db \
    "SELECT id, status, attempts FROM tasks WHERE id = 'first-task'" 2>&1)
fq_assert_eq "$row" "first-task|done|1" "sqlite3 in the coordinator container"
dash() { curl -s -o /dev/null -w '%{http_code}' "$@" "http://127.0.0.1:$http_port/api/task?id=first-task"; }
fq_assert_eq "$(dash)" 401 "the dashboard's API without the token"
fq_assert_eq "$(dash -H "Authorization: Bearer $dashboard_token")" 200 \
    "the dashboard's API with the token of the Compose secret"
# least privilege in Redis: no way in without a password, and the workers'
# user may not wipe the fleet; the tasks below still complete
fq_assert_contains "$(fqc_podman exec "$(cid redis)" redis-cli PING 2>&1)" NOAUTH \
    "redis-cli without a password"
fq_assert_contains "$(redis_cli_as worker FLUSHALL 2>&1)" NOPERM "FLUSHALL as fleetq-worker"
fq_assert_contains "$(redis_cli_as worker CONFIG GET maxmemory 2>&1)" NOPERM "CONFIG GET as fleetq-worker"
fq_assert_eq "$(redis_cli_as worker HGET fleetq:task:first-task status)" done "HGET as fleetq-worker"
fq_assert_eq "$(redis_cli ACL USERS | paste -sd' ')" "default fleetq-coordinator fleetq-worker" \
    "the Redis users"

# ---- Compose: scale ----------------------------------------------------------------
step "compose: --scale code=4, 40 tasks"
dc up -d --no-build --scale code=4 >"$FQ_TMP/scale.log" 2>&1 ||
    fq_fail "docker-compose up --scale code=4 failed: $(tail -n 10 "$FQ_TMP/scale.log")"
code_running() { [ "$(fqc_podman ps -q --filter "label=com.docker.compose.project=$project" \
    --filter label=com.docker.compose.service=code | wc -l)" -eq 4 ]; }
fq_wait_for 60 code_running || fq_fail "four code containers are not running"
fq_wait_for 30 workers_live 7 || fq_fail "the scaled workers did not register"
for i in $(seq 1 40); do
    printf 'XADD fleetq:submit * role code id scale-%02d prompt "Scaled task %d"\n' "$i" "$i"
done | redis_cli >/dev/null
for i in $(seq 1 40); do
    st=$(redis_cli BLPOP "fleetq:done:scale-$(printf %02d "$i")" 60 | tail -n 1)
    fq_assert_eq "$st" done "scale-$i"
done
sql() { dc exec -T -u fleetq coordinator sqlite3 /data/fleetq.db "$@"; }
spread=$(sql "SELECT worker, count(*) FROM tasks WHERE id LIKE 'scale-%' GROUP BY worker ORDER BY 2 DESC")
fq_log "scale: tasks per code worker: $(paste -sd' ' <<<"$spread")"
fq_assert_eq "$(sql "SELECT count(*) FROM tasks WHERE id LIKE 'scale-%' AND status = 'done'")" 40 "scaled tasks done"
fq_assert_ge "$(wc -l <<<"$spread")" 3 "code workers that ran the 40 tasks"

# ---- Compose: stop with calls in flight -------------------------------------------
step "compose: stop with calls in flight"
fqc_podman exec "$(cid mockapi)" curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"latency_ms": 3000, "jitter_ms": 0}' http://127.0.0.1:8000/mock/config >/dev/null ||
    fq_fail "could not slow the mock down"
for i in $(seq 1 12); do
    printf 'XADD fleetq:submit * role code id inflight-%02d prompt "Slow task %d"\n' "$i" "$i"
done | redis_cli >/dev/null
mock_busy() { [ "$(fqc_podman exec "$(cid mockapi)" curl -sf http://127.0.0.1:8000/mock/stats | jq .inflight)" -ge 4 ]; }
fq_wait_for 20 mock_busy || fq_fail "no calls in flight at the mock"
containers=$(fqc_podman ps -q --filter "label=com.docker.compose.project=$project")
stop_started=$(date +%s%N)
dc stop >"$FQ_TMP/stop.log" 2>&1 || fq_fail "docker-compose stop failed: $(tail -n 10 "$FQ_TMP/stop.log")"
stop_ms=$(( ($(date +%s%N) - stop_started) / 1000000 ))
fq_log "stop: $(wc -w <<<"$containers") containers stopped in $stop_ms ms"
for c in $containers; do
    info=$(fqc_podman inspect --format '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt.UnixNano}}' "$c")
    read -r service status code finished <<<"$info"
    fq_assert_eq "$status" exited "$service ($c): state after stop"
    fq_assert_eq "$code" 0 "$service ($c): exit status after stop"
    fq_assert_le $(( (finished - stop_started) / 1000000 )) 30000 "$service: ms from stop to its exit (stop_grace_period 30 s)"
done

# ---- Compose: down and up again ------------------------------------------------------
step "compose: down, then up again"
dc down >"$FQ_TMP/down.log" 2>&1 || fq_fail "docker-compose down failed: $(tail -n 10 "$FQ_TMP/down.log")"
fq_assert_eq "$(fqc_podman ps -aq --filter "label=com.docker.compose.project=$project" | wc -l)" 0 "containers after down"
dc up -d --no-build >"$FQ_TMP/up2.log" 2>&1 || fq_fail "docker-compose up (again) failed: $(tail -n 10 "$FQ_TMP/up2.log")"
fq_wait_for 90 healthy || fq_fail "the coordinator did not become healthy again"
fq_assert_eq "$(sql "SELECT count(*) FROM tasks WHERE id = 'first-task' OR id LIKE 'scale-%'")" 41 \
    "rows from before down, in the volume"
for i in $(seq 1 12); do
    st=$(redis_cli BLPOP "fleetq:done:inflight-$(printf %02d "$i")" 90 | tail -n 1)
    fq_assert_eq "$st" done "inflight-$i (finished before the stop, or handed back and run after)"
done
fq_assert_eq "$(sql "SELECT count(*) FROM tasks WHERE id LIKE 'inflight-%' AND status = 'done'")" 12 \
    "rows of the tasks in flight at the stop"
fq_assert_eq "$(sql "SELECT count(*) FROM attempts WHERE task_id LIKE 'inflight-%' AND outcome = 'ok'")" 12 \
    "successful attempts of those tasks (one each)"

# ---- secrets ------------------------------------------------------------------------------
step "secrets: the key in inspect, history and environments"
worker=$(cid code)
fq_assert_eq "$(fqc_podman exec -u fleetq "$worker" cat /run/secrets/xai_api_key)" "$key" \
    "the worker's secret file holds the key"
mkdir "$FQ_TMP/seen"
dump() { # NAME COMMAND...: COMMAND's output, kept to be searched for the key
    local out=$FQ_TMP/seen/$1.txt
    shift
    "$@" >"$out" 2>&1 || fq_fail "$* failed: $(tail -n 3 "$out")"
}
n=0
for c in $(fqc_podman ps -q --filter "label=com.docker.compose.project=$project"); do
    n=$((n + 1))
    dump "inspect-$c" fqc_podman inspect "$c"
    dump "environ-$c" fqc_podman exec "$c" sh -c \
        'for f in /proc/[0-9]*/environ; do tr "\0" "\n" <"$f"; echo; done 2>/dev/null; true'
    fq_assert_contains "$(cat "$FQ_TMP/seen/environ-$c.txt")" "PATH=/" \
        "the environment read from the processes of $c"
done
fq_assert_ge "$n" 7 "containers searched"
dump image-inspect fqc_podman image inspect "$image"
dump history fqc_podman history --no-trunc "$image"
dump compose-config dc config
leaks=$( (grep -lF -e "$key" -e "$dashboard_token" -e "$metrics_token" \
    -e "${redis_passwords[0]}" -e "${redis_passwords[1]}" -e "${redis_passwords[2]}" "$FQ_TMP"/seen/*.txt || true) |
    xargs -r -n1 basename | paste -sd' ')
fq_assert_eq "$leaks" "" "outputs that hold the key, a token or a Redis password"

# ---- a root-owned disk -------------------------------------------------------------------
step "root disk: the coordinator on a mount point owned by root"
network=$(fqc_podman inspect --format '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$(cid redis)" | awk '{ print $1 }')
disk=$FQ_TMP/root-disk
mkdir -m 0755 "$disk"   # owned by root, as a platform's disk may come
redis_login=(-v "$FQ_TMP/redis_coordinator_password:/run/secrets/redis_coordinator_password:ro"
             -e REDIS_URL=redis://fleetq-coordinator@redis:6379/1
             -e REDIS_PASSWORD_FILE=/run/secrets/redis_coordinator_password)
fqc_podman run -d --name "$project-rootdisk" --network "$network" -v "$disk:/data" \
    "${redis_login[@]}" -e PORT=8080 "$image" >/dev/null
root_healthy() { fqc_podman exec "$project-rootdisk" curl -sf http://127.0.0.1:8080/health; }
fq_wait_for 30 root_healthy || fq_fail "the coordinator on a root-owned disk is not healthy: $(fqc_podman logs --tail 5 "$project-rootdisk" 2>&1)"
fq_assert_eq "$(stat -c %u "$disk")" 10001 "owner of the disk's mount point after start"
fq_assert_eq "$(stat -c %u "$disk/fleetq.db")" 10001 "owner of the database"
fq_assert_ge "$(sqlite3 "$disk/fleetq.db" 'PRAGMA user_version')" 1 "schema version of the new database"
fqc_podman rm -f -t 5 "$project-rootdisk" >/dev/null

disk2=$FQ_TMP/root-disk-2
mkdir -m 0755 "$disk2"
rc=0
out=$(fqc_podman run --rm --user 10001:10001 --network "$network" -v "$disk2:/data" \
    "${redis_login[@]}" "$image" 2>&1) || rc=$?
fq_assert_ge "$rc" 1 "exit status of a coordinator that cannot write its directory"
fq_assert_contains "$out" "the directory /data (owner uid 0, mode 0755) is not writable by this process (uid 10001)" \
    "the coordinator's start-up check"
fq_assert_contains "$out" "chown 10001 /data" "the coordinator's start-up check"

step "done in $(($(date +%s) - started)) s"
fq_pass
