#!/usr/bin/env bash
# run.sh -- the whole test suite: installs and builds (deploy/setup.sh) with
# AddressSanitizer and UndefinedBehaviorSanitizer, then runs every unit and
# integration test with ctest. Integration tests start their own
# redis-server and fleetq-mockapi on free loopback ports.
#
#   tests/run.sh [ctest args...]     e.g. tests/run.sh -R pipeline
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FLEETQ_TEST_BUILD:-$root/build-asan}

"$root/deploy/setup.sh" "$build" -DFLEETQ_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build"
ctest --output-on-failure --timeout 600 -j2 "$@"
