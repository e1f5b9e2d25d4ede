#!/usr/bin/env bash
# Runs every test suite, keeps each one's TAP output in BUILD/results/, and
# ends with the one line CI reads: "N passed, N failed".  Exits non-zero when
# anything failed or a suite could not run.
set -u
build=${1:-build}
results="$build/results"
mkdir -p "$results"
status=0

run_suite() { # name command...
    local name=$1; shift
    echo "# suite: $name"
    "$@" 2>&1 | tee "$results/$name.tap"
    local rc=${PIPESTATUS[0]}
    if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$results/$name.tap"; then
        # A suite that died without reporting a failure still failed.
        echo "not ok - suite $name exited with status $rc" | tee -a "$results/$name.tap"
    fi
}

run_suite c-tests "$build/tests/runner"
run_suite bats bats --tap bats

passed=$(cat "$results"/*.tap | grep -c '^ok ')
failed=$(cat "$results"/*.tap | grep -c '^not ok')
skipped=$(cat "$results"/*.tap | grep -c '^ok .*# skip')
echo "$((passed - skipped)) passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || status=1
exit $status
