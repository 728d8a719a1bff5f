#!/usr/bin/env bash
# fuzz/run.sh -- builds the libFuzzer harnesses (fuzz/fuzz_*.c) with clang
# and runs each one for a bounded time.
#
#   fuzz/run.sh [seconds per harness, default 20] [build dir, default build-fuzz]
#
# The build directory is configured with CC=clang, -DFLEETQ_FUZZ=ON and the
# library compiled with -fsanitize=fuzzer-no-link,address,undefined; only the
# `fuzzers` target is built. Every fuzz_* executable then runs on a copy of
# fuzz/corpus/<name>/ in a temporary directory, so the inputs it discovers do
# not pile up in the repository; crash, leak, timeout and out-of-memory
# inputs land in <build dir>/fuzz-artifacts/<name>/ and each log in
# <build dir>/fuzz-logs/<name>.log. Two harnesses run at a time (FUZZ_JOBS
# changes that), so the default finishes in about a minute after the build.
# Prints one line per harness and exits 1 when any harness failed, naming
# the input that made it fail.
set -uo pipefail

secs=${1:-20}
build=${2:-build-fuzz}
jobs=${FUZZ_JOBS:-2}

if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "run.sh: seconds per harness must be a positive integer, got '$secs'" >&2
  exit 2
fi
if ! [[ $jobs =~ ^[0-9]+$ ]] || [ "$jobs" -lt 1 ]; then
  echo "run.sh: FUZZ_JOBS must be a positive integer, got '$jobs'" >&2
  exit 2
fi
if ! command -v clang > /dev/null; then
  echo "run.sh: clang is not installed; libFuzzer needs it (apt-get install clang)" >&2
  exit 2
fi

src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$build" || exit 2
build=$(cd "$build" && pwd)
logs=$build/fuzz-logs
mkdir -p "$logs" "$build/fuzz-artifacts"

# ---------------------------------------------------------------- build
echo "run.sh: building the harnesses in $build"
if ! CC=clang cmake -S "$src" -B "$build" -DFLEETQ_FUZZ=ON -DFLEETQ_TESTS=OFF \
      -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1" \
      > "$logs/configure.log" 2>&1; then
  cat "$logs/configure.log" >&2
  echo "run.sh: configuring failed" >&2
  exit 2
fi
if ! cmake --build "$build" --target fuzzers -j2 > "$logs/build.log" 2>&1; then
  cat "$logs/build.log" >&2
  echo "run.sh: building failed" >&2
  exit 2
fi

mapfile -t harnesses < <(find "$build/fuzz" -maxdepth 1 -type f -perm -u+x -name 'fuzz_*' \
                           -printf '%f\n' | sort)
if [ "${#harnesses[@]}" -eq 0 ]; then
  echo "run.sh: no fuzz_* executables were built" >&2
  exit 2
fi

# ---------------------------------------------------------------- run
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleetq-fuzz.XXXXXX") || exit 2
trap 'kill $(jobs -rp) 2> /dev/null; wait 2> /dev/null; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

run_one() {
  local name=$1 corpus=$tmp/$1 art=$build/fuzz-artifacts/$1/
  mkdir -p "$corpus" "$art" "$tmp/tmp-$name"
  if [ -d "$src/fuzz/corpus/$name" ]; then
    cp -R "$src/fuzz/corpus/$name/." "$corpus/"
  fi
  # The outer timeout is a backstop only; libFuzzer stops itself. Scratch
  # files of a harness (fuzz_config's key files) go away with $tmp.
  TMPDIR=$tmp/tmp-$name timeout -k 10 $((secs + 60)) "$build/fuzz/$name" \
    -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$art" "$corpus" \
    > "$logs/$name.log" 2>&1
  echo $? > "$logs/$name.rc"
  find "$corpus" -type f | wc -l > "$logs/$name.corpus"
}

for name in "${harnesses[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n
  done
  echo "run.sh: running $name for ${secs}s"
  rm -f "$logs/$name.rc"
  run_one "$name" &
done
wait

# ---------------------------------------------------------------- report
failed=0
for name in "${harnesses[@]}"; do
  log=$logs/$name.log
  rc=$(cat "$logs/$name.rc" 2> /dev/null || echo 1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  seeds=$(find "$src/fuzz/corpus/$name" -type f 2> /dev/null | wc -l)
  corpus=$(cat "$logs/$name.corpus" 2> /dev/null || echo '?')
  if [ "$rc" = 0 ]; then
    printf '%-24s ok      %10s runs  %7s exec/s  corpus %s -> %s\n' \
      "$name" "${runs:-?}" "${rate:-?}" "$seeds" "$corpus"
  else
    failed=1
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    printf '%-24s FAILED  %10s runs  (exit %s)  log %s\n' "$name" "${runs:-?}" "$rc" "$log"
    grep -m1 -E '^SUMMARY:|invariant broken' "$log" | sed 's/^/    /'
    if [ -n "$input" ]; then
      echo "    input: $input"
    else
      echo "    no input was saved; see the log"
    fi
  fi
done
exit $failed
