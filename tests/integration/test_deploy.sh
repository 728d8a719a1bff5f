#!/usr/bin/env bash
# test_deploy.sh -- the Docker, Compose and Render files, checked without a
# Docker engine (none runs where the tests run) and without starting any
# service. The helpers in tests/deploy/ do the checking:
#
#   compose   deploy/docker-compose.yml against the Compose Specification
#             JSON schema (tests/deploy/compose-spec/, with its licence)
#             and the fleet's invariants, then through
#             Debian's docker-compose (v1, whose `config` parses and
#             resolves the file without an engine), checking the values
#             the services end up with;
#   render    render.yaml's invariants (one Key Value with noeviction, one
#             coordinator with a disk and /health, one worker per role,
#             REDIS_URL from the Key Value, the key never in the file);
#   secrets   no key-shaped string in any deployment file, and the Compose
#             key file git-ignored;
#   image     deploy/Dockerfile linted with dockerfile-utils (zero
#             findings) and with hadolint's rules plus ShellCheck
#             (check_dockerfile.py), every package it names known to
#             Debian 12, the build context .dockerignore leaves built and
#             packed with the image's own Release build and cpack, no
#             libcurl in the coordinator or fleetqctl, and every library
#             the programs load a dependency of the package. (The
#             container stage, tests/container/, builds and runs it all.)
#
# Each checker is also shown a broken copy and must reject it, so a checker
# that stopped checking fails the test. Needs: python3-yaml,
# python3-jsonschema, docker-compose, shellcheck (Debian) and
# dockerfile-utils (npm; installed into the test's directory when missing
# and npm is there). FQ_DEPLOY_BUILD=0 skips the build of the context.
. "$(dirname "$0")/lib.sh"

helpers=$FQ_SRC/tests/deploy
compose=$FQ_SRC/deploy/docker-compose.yml
dockerfile=$FQ_SRC/deploy/Dockerfile
render=$FQ_SRC/render.yaml
schema=$helpers/compose-spec/compose-spec.json
dockerfile_utils_version=0.16.3
export PYTHONDONTWRITEBYTECODE=1   # nothing written into the source tree

# Debian's python3 carries python3-yaml and python3-jsonschema; another
# python3 may come first in PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
"$py" -c 'import yaml, jsonschema' 2>/dev/null ||
    fq_fail "needs Debian's python3-yaml and python3-jsonschema: apt-get install -y python3-yaml python3-jsonschema"
command -v docker-compose >/dev/null || fq_fail "needs docker-compose: apt-get install -y docker-compose"
command -v shellcheck >/dev/null || fq_fail "needs shellcheck: apt-get install -y shellcheck"
[ -f "$schema" ] || fq_fail "the Compose schema is not at $schema"

# expect_rejected WHAT WORD COMMAND...: COMMAND must fail and say WORD.
expect_rejected() {
    local what=$1 word=$2 out rc=0
    shift 2
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" -ne 0 ] || fq_fail "$what: a broken copy was accepted"
    fq_assert_contains "$out" "$word" "$what"
}

# expect_clean WHAT COMMAND...: COMMAND must succeed; its findings are shown if not.
expect_clean() {
    local what=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" -eq 0 ] || fq_fail "$what (exit $rc):"$'\n'"$out"
}

mkdir -p "$FQ_TMP/bad"

# ---- compose: the schema and the fleet's invariants -------------------------
fq_log "compose: schema and invariants"
expect_clean "docker-compose.yml" "$py" "$helpers/check_compose.py" --schema "$schema" "$compose"

sed 's/^  redis:$/  redis:\n    no_such_field: 1/' "$compose" >"$FQ_TMP/bad/schema.yml"
expect_rejected "schema check" "no_such_field" \
    "$py" "$helpers/check_compose.py" --schema "$schema" "$FQ_TMP/bad/schema.yml"
sed 's/noeviction/allkeys-lru/; s#XAI_API_KEY_FILE: /run/secrets/xai_api_key#XAI_API_KEY: abc#' \
    "$compose" >"$FQ_TMP/bad/invariants.yml"
expect_rejected "compose invariants (eviction)" "noeviction" \
    "$py" "$helpers/check_compose.py" --schema "$schema" "$FQ_TMP/bad/invariants.yml"
expect_rejected "compose invariants (key in the environment)" "environment sets XAI_API_KEY" \
    "$py" "$helpers/check_compose.py" --schema "$schema" "$FQ_TMP/bad/invariants.yml"
# the Redis users: a password in REDIS_URL, another user's secret, no ACL file
sed 's#redis://fleetq-worker@redis#redis://fleetq-worker:not-a-password@redis#; s#--aclfile#--acl-file#
     s#^    - redis_worker_password$#&\n    - redis_admin_password#' "$compose" >"$FQ_TMP/bad/redis-users.yml"
for word in "REDIS_URL holds a password" "must not get the secret redis_admin_password" "--aclfile"; do
    expect_rejected "compose invariants (Redis users)" "$word" \
        "$py" "$helpers/check_compose.py" --schema "$schema" "$FQ_TMP/bad/redis-users.yml"
done

# ---- compose: docker-compose config ----------------------------------------
# A clean environment and an empty env file, so nothing from the caller's
# shell or a local deploy/.env changes what is checked.
fq_log "compose: docker-compose $(docker-compose version --short 2>/dev/null) config"
: >"$FQ_TMP/empty.env"
dc() { # dc [VAR=value...] -- docker-compose arguments...
    local vars=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
    shift
    env -i PATH="$PATH" HOME="$FQ_TMP" "${vars[@]}" \
        docker-compose --env-file "$FQ_TMP/empty.env" -f "$compose" "$@"
}
dc_config() { # dc_config OUT [VAR=value...]
    local out=$1 rc=0
    shift
    dc "$@" -- config >"$out" 2>"$out.err" || rc=$?
    [ "$rc" -eq 0 ] || fq_fail "docker-compose config failed (exit $rc): $(cat "$out.err")"
}
dc_config "$FQ_TMP/config.yml"
expect_clean "docker-compose config" "$py" "$helpers/check_compose.py" --resolved "$FQ_TMP/config.yml"
dc_config "$FQ_TMP/config-mock.yml" XAI_BASE_URL=http://mockapi:8000/v1 GROK_RATE_LIMIT_RPM=240
expect_clean "docker-compose config with XAI_BASE_URL set" \
    "$py" "$helpers/check_compose.py" --resolved --base-url http://mockapi:8000/v1 "$FQ_TMP/config-mock.yml"
fq_assert_contains "$(cat "$FQ_TMP/config-mock.yml")" "GROK_RATE_LIMIT_RPM: '240'" "a setting from the shell"
expect_rejected "resolved check" "XAI_BASE_URL is" \
    "$py" "$helpers/check_compose.py" --resolved "$FQ_TMP/config-mock.yml"
services=$(dc -- --profile demo config --services 2>/dev/null | sort | xargs)
fq_assert_eq "$services" "ceo code coordinator memory mockapi quality redis" "services with --profile demo"

# ---- render.yaml -----------------------------------------------------------
fq_log "render: invariants"
expect_clean "render.yaml" "$py" "$helpers/check_render.py" --root "$FQ_SRC" "$render"
sed '0,/        sync: false/s//        value: not-a-real-key/' "$render" >"$FQ_TMP/bad/render-key.yaml"
expect_rejected "render check (literal key)" "XAI_API_KEY has a literal value" \
    "$py" "$helpers/check_render.py" --root "$FQ_SRC" "$FQ_TMP/bad/render-key.yaml"
sed 's/--role memory/--role code/; s/maxmemoryPolicy: noeviction/maxmemoryPolicy: allkeys-lru/' \
    "$render" >"$FQ_TMP/bad/render-roles.yaml"
expect_rejected "render check (roles)" "for the role memory" \
    "$py" "$helpers/check_render.py" --root "$FQ_SRC" "$FQ_TMP/bad/render-roles.yaml"
expect_rejected "render check (eviction)" "noeviction" \
    "$py" "$helpers/check_render.py" --root "$FQ_SRC" "$FQ_TMP/bad/render-roles.yaml"

# ---- secrets ---------------------------------------------------------------
# Only file names are printed, never what matched.
fq_log "secrets: no key-shaped string in the deployment files"
key_shape='xai-[A-Za-z0-9]{20,}'
deploy_files=()
if git -C "$FQ_SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked and new files, but not git-ignored ones (a local key file)
    while IFS= read -r f; do deploy_files+=("$FQ_SRC/$f"); done < <(git -C "$FQ_SRC" ls-files -co \
        --exclude-standard -- deploy render.yaml .dockerignore .gitignore tests/deploy README.md)
    for secret in xai_api_key dashboard_token metrics_token redis_admin_password \
            redis_coordinator_password redis_worker_password; do
        git -C "$FQ_SRC" check-ignore -q "deploy/secrets/$secret" ||
            fq_fail ".gitignore does not ignore deploy/secrets/$secret"
    done
else
    while IFS= read -r f; do deploy_files+=("$f"); done < <(find "$FQ_SRC/deploy" "$FQ_SRC/tests/deploy" \
        -type f ! -path '*/deploy/secrets/xai_api_key'; ls "$FQ_SRC"/render.yaml "$FQ_SRC"/.dockerignore)
fi
fq_assert_ge "${#deploy_files[@]}" 6 "deployment files found"
leaks=$(grep -lE "$key_shape" "${deploy_files[@]}" 2>/dev/null || true)
fq_assert_eq "$leaks" "" "files with a key-shaped string"
fake="xai-$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)"
printf 'XAI_API_KEY=%s\n' "$fake" >"$FQ_TMP/bad/leak.env"
grep -qE "$key_shape" "$FQ_TMP/bad/leak.env" || fq_fail "the key-shape pattern misses a key-shaped string"

# ---- image: linters ----------------------------------------------------------
fq_log "image: dockerfile-utils lint"
lint=$(command -v dockerfile-utils || true)
if [ -z "$lint" ]; then
    command -v npm >/dev/null ||
        fq_fail "needs dockerfile-utils: npm install -g dockerfile-utils@$dockerfile_utils_version"
    npm install --silent --no-audit --no-fund --prefix "$FQ_TMP/npm" \
        "dockerfile-utils@$dockerfile_utils_version" >"$FQ_TMP/npm.log" 2>&1 ||
        fq_fail "npm install dockerfile-utils failed: $(tail -n 5 "$FQ_TMP/npm.log")"
    lint=$FQ_TMP/npm/node_modules/.bin/dockerfile-utils
fi
out=$("$lint" lint --json "$dockerfile" 2>&1) || true
fq_assert_eq "$out" "[]" "dockerfile-utils findings for deploy/Dockerfile"
printf 'FROM debian:bookworm-slim\nMAINTAINER someone\nentrypoint ["x"]\nWORKDIR data\n' >"$FQ_TMP/bad/Dockerfile.lint"
out=$("$lint" lint --json "$FQ_TMP/bad/Dockerfile.lint" 2>&1) || true
fq_assert_contains "$out" "MAINTAINER has been deprecated" "dockerfile-utils on a broken Dockerfile"

fq_log "image: hadolint's rules and ShellCheck"
expect_clean "check_dockerfile.py" "$py" "$helpers/check_dockerfile.py" "$dockerfile" \
    --shellcheck "$(command -v shellcheck)"
check_bad() { "$py" "$helpers/check_dockerfile.py" --context "$FQ_SRC" "$@"; }
sed 's/ --no-install-recommends//; s/--no-log-init //' "$dockerfile" >"$FQ_TMP/bad/Dockerfile.rules"
printf 'RUN curl -s https://example.invalid | sh\nUSER root\n' >>"$FQ_TMP/bad/Dockerfile.rules"
for rule in DL3002 DL3015 DL3046 DL4006; do
    expect_rejected "check_dockerfile.py ($rule)" "$rule" check_bad "$FQ_TMP/bad/Dockerfile.rules"
done
sed '0,/^FROM debian:bookworm-slim AS build/s//FROM debian:latest AS build/; s#^ENTRYPOINT .*#ENTRYPOINT ["fleetq-coordinator"]#' \
    "$dockerfile" >"$FQ_TMP/bad/Dockerfile.image"
expect_rejected "check_dockerfile.py (base image)" "FQ-BASE" check_bad "$FQ_TMP/bad/Dockerfile.image"
expect_rejected "check_dockerfile.py (tini)" "FQ-TINI" check_bad "$FQ_TMP/bad/Dockerfile.image"
# an entrypoint that does not drop root, and programs not from the package
sed 's#^COPY deploy/entrypoint.sh #COPY deploy/demo.sh #; s#^        /tmp/fleetq.deb \\$#        \\#' \
    "$dockerfile" >"$FQ_TMP/bad/Dockerfile.user"
expect_rejected "check_dockerfile.py (root)" "FQ-USER" check_bad "$FQ_TMP/bad/Dockerfile.user"
expect_rejected "check_dockerfile.py (package)" "does not apt-get install /tmp/fleetq.deb" \
    check_bad "$FQ_TMP/bad/Dockerfile.user"

# Every package the Dockerfile names must exist in Debian 12 (when this
# machine has package lists to ask).
if compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
    fq_log "image: the packages exist in Debian"
    mapfile -t pkgs < <("$py" "$helpers/check_dockerfile.py" "$dockerfile" --list-packages)
    fq_assert_ge "${#pkgs[@]}" 10 "packages named in deploy/Dockerfile"
    # the packages apt could install: a name line, then a real candidate
    known=" $(apt-cache policy "${pkgs[@]}" 2>/dev/null | awk '
        /^[^ ].*:$/ { name = substr($0, 1, length($0) - 1) }
        /^  Candidate: / && $2 != "(none)" { print name }' | xargs) "
    for pkg in "${pkgs[@]}"; do
        fq_assert_contains "$known" " $pkg " "deploy/Dockerfile installs $pkg: a package of Debian 12"
    done
else
    fq_log "image: no apt package lists here, package names not checked"
fi

# ---- image: the build context and the runtime libraries -----------------------
fq_log "image: what .dockerignore lets into the build context"
expect_clean "check_dockerignore.py" "$py" "$helpers/check_dockerignore.py" "$FQ_SRC" --copy-to "$FQ_TMP/context"
printf 'common\n' >"$FQ_TMP/bad/.dockerignore"
mkdir -p "$FQ_TMP/bad/common"
: >"$FQ_TMP/bad/common/x.c"
: >"$FQ_TMP/bad/CMakeLists.txt"
expect_rejected "check_dockerignore.py" "leaves out common/x.c" "$py" "$helpers/check_dockerignore.py" "$FQ_TMP/bad"

if [ "${FQ_DEPLOY_BUILD:-1}" = 1 ]; then
    fq_log "image: the build stage's Release build and package of that context"
    ib=$FQ_TMP/image-build
    (cmake -S "$FQ_TMP/context" -B "$ib" -DCMAKE_BUILD_TYPE=Release -DFLEETQ_TESTS=OFF &&
        cmake --build "$ib" --parallel 2 && cpack --config "$ib/CPackConfig.cmake" -B "$ib/package") \
        >"$FQ_TMP/image-build.log" 2>&1 ||
        fq_fail "the Release build or the package of the Docker build context failed: $(grep -m5 -E 'error|Error' "$FQ_TMP/image-build.log")"
    for p in coordinator/fleetq-coordinator worker/fleetq-worker ctl/fleetqctl mockapi/fleetq-mockapi; do
        fq_assert_contains "$("$ib/$p" --version 2>&1)" "$(basename "$p")" "$p --version"
    done
    # each program links what it calls: only the worker calls the API
    fq_assert_eq "$(ldd "$ib/coordinator/fleetq-coordinator" | grep -c libcurl || true)" 0 "libcurl in fleetq-coordinator"
    fq_assert_eq "$(ldd "$ib/ctl/fleetqctl" | grep -c libcurl || true)" 0 "libcurl in fleetqctl"
    fq_assert_eq "$(ldd "$ib/worker/fleetq-worker" | grep -c libcurl || true)" 1 "libcurl in fleetq-worker"
    deb=$(ls "$ib"/package/fleetq_*.deb)
    fq_log "image: the package depends on every library its programs load"
    expect_clean "check_runtime_libs.py" "$py" "$helpers/check_runtime_libs.py" "$deb"
    # the same package with libuv1 left out of its Depends
    dpkg-deb -R "$deb" "$FQ_TMP/bad/deb"
    sed -i 's/, libuv1 ([^)]*)//' "$FQ_TMP/bad/deb/DEBIAN/control"
    dpkg-deb -b "$FQ_TMP/bad/deb" "$FQ_TMP/bad/no-libuv.deb" >/dev/null
    expect_rejected "check_runtime_libs.py" "libuv1" "$py" "$helpers/check_runtime_libs.py" "$FQ_TMP/bad/no-libuv.deb"
    rm -rf "$ib"
else
    fq_log "image: FQ_DEPLOY_BUILD=0, the build of the context is skipped"
fi

fq_pass
