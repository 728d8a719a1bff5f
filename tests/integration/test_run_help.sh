#!/usr/bin/env bash
# tests/run.sh --help (and -h) prints the stages and options and exits 0
# without installing, building or running anything: the build directory it
# would use is not created, and it is done within seconds.
. "$(dirname "$0")/lib.sh"

for flag in --help -h; do
    out=$(FLEETQ_TEST_BUILD="$FQ_TMP/never-built" FLEETQ_TEST_STAGES="asan valgrind fuzz container" \
          timeout 10 bash "$FQ_SRC/tests/run.sh" "$flag") || fq_fail "tests/run.sh $flag exited $?"
    for word in asan valgrind fuzz container FLEETQ_TEST_STAGES FLEETQ_FUZZ_SECONDS --help; do
        fq_assert_contains "$out" "$word" "tests/run.sh $flag"
    done
    [ ! -e "$FQ_TMP/never-built" ] || fq_fail "tests/run.sh $flag made a build directory"
    ! grep -q "run.sh: stage" <<<"$out" || fq_fail "tests/run.sh $flag ran a stage"
done
fq_pass
