#!/usr/bin/env bash
# run.sh -- the whole test suite, in four stages:
#   asan      installs and builds (deploy/setup.sh) with AddressSanitizer and
#             UndefinedBehaviorSanitizer, then runs every unit and integration
#             test with ctest (integration tests start their own
#             redis-server and fleetq-mockapi on free loopback ports);
#   valgrind  the unit tests under valgrind on a build without sanitizers
#             (tests/valgrind.sh);
#   fuzz      every libFuzzer harness for a bounded time on its seed corpus
#             (fuzz/run.sh, FLEETQ_FUZZ_SECONDS per harness, default 15);
#   container builds the Debian package and deploy/Dockerfile and runs
#             deploy/docker-compose.yml for real, with podman as the engine
#             (tests/container/test_container.sh).
# FLEETQ_TEST_STAGES picks stages (default "asan valgrind fuzz container");
# ctest arguments apply to the asan stage.
#
#   tests/run.sh [ctest args...]     e.g. FLEETQ_TEST_STAGES=asan tests/run.sh -R pipeline
#   tests/run.sh --help              this text; runs nothing
# Other settings: FLEETQ_FUZZ_SECONDS (fuzz), FLEETQ_TEST_BUILD (the asan
# stage's build directory, default build-asan), FLEETQ_EXTRA_PACKAGES (more
# Debian packages to install).
set -euo pipefail

case ${1:-} in
-h | --help)
    # the comment above, which is the one description of the stages
    sed -n '2,/^set -euo pipefail$/{/^set /d; s/^# \{0,1\}//; p}' "${BASH_SOURCE[0]}"
    exit 0
    ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stages=${FLEETQ_TEST_STAGES:-asan valgrind fuzz container}
# the tests' own tools: valgrind, clang (fuzzers), Python with YAML and JSON
# Schema (Compose and Render files), docker-compose, shellcheck, npm (the
# Dockerfile linter, playwright-core), promtool (metrics), chromium (the
# dashboard's browser tests); podman, runc, debootstrap and CNI's name
# resolution for the container stage
extra="python3 python3-yaml python3-jsonschema valgrind clang docker-compose shellcheck prometheus"
extra+=" chromium"
extra+=" podman runc debootstrap golang-github-containernetworking-plugin-dnsname"
command -v npm >/dev/null || extra+=" npm"
export FLEETQ_EXTRA_PACKAGES="$extra${FLEETQ_EXTRA_PACKAGES:+ $FLEETQ_EXTRA_PACKAGES}"

timings=()
for stage in $stages; do
    stage_started=$SECONDS
    case $stage in
    asan)
        build=${FLEETQ_TEST_BUILD:-$root/build-asan}
        "$root/deploy/setup.sh" "$build" -DFLEETQ_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        (cd "$build" && ctest --output-on-failure --timeout 600 -j2 "$@")
        ;;
    valgrind) bash "$root/tests/valgrind.sh" ;;
    fuzz) bash "$root/fuzz/run.sh" "${FLEETQ_FUZZ_SECONDS:-15}" ;;
    container) bash "$root/tests/container/test_container.sh" ;;
    *) echo "run.sh: unknown stage '$stage' (asan, valgrind, fuzz, container)" >&2; exit 2 ;;
    esac
    timings+=("$stage $((SECONDS - stage_started)) s")
    echo "run.sh: stage $stage passed in $((SECONDS - stage_started)) s" >&2
done
echo "run.sh: every stage passed ($(IFS=,; echo "${timings[*]}" | sed 's/,/, /g'))" >&2
