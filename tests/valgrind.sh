#!/usr/bin/env bash
# valgrind.sh -- the unit tests under valgrind's memcheck, on a build
# without sanitizers (the two do not mix): any invalid read or write, use of
# uninitialised memory, or definite/indirect leak fails the run.
#
#   tests/valgrind.sh [BUILD_DIR]     (default ./build-valgrind)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-valgrind}

"$root/deploy/setup.sh" "$build" -DCMAKE_BUILD_TYPE=Debug

failed=()
count=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    count=$((count + 1))
    log="$build/valgrind-$(basename "$t").log"
    if valgrind --quiet --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --track-origins=yes \
            --log-file="$log" "$t" >"$log.out" 2>&1; then
        echo "valgrind: $(basename "$t") clean"
    else
        echo "valgrind: $(basename "$t") FAILED (exit $?); $log:" >&2
        cat "$log" "$log.out" >&2
        failed+=("$(basename "$t")")
    fi
done
[ "$count" -gt 0 ] || { echo "valgrind: no unit tests found in $build/tests" >&2; exit 1; }
if [ ${#failed[@]} -gt 0 ]; then
    echo "valgrind: ${#failed[@]} of $count failed: ${failed[*]}" >&2
    exit 1
fi
echo "valgrind: all $count unit test programs clean"
