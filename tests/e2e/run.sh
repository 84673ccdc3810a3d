#!/bin/bash
# Runs every test_* function of tests/e2e/test_*.sh, each in its own subshell with its own
# node, and prints one TAP-like line per test plus "e2e: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
passed=0
failed=0
filter=${1:-}
for file in tests/e2e/test_*.sh; do
    tests=$(bash -c "source tests/e2e/lib.sh; source $file; declare -F" | awk '$3 ~ /^test_/ {print $3}')
    for name in $tests; do
        if [ -n "$filter" ] && [[ "$(basename "$file" .sh):$name" != *"$filter"* ]]; then
            continue
        fi
        started=$(date +%s%N)
        output=$(bash -c "
            set -eu
            source tests/e2e/lib.sh
            source $file
            trap cleanup EXIT
            $name
        " 2>&1)
        rc=$?
        milliseconds=$(( ($(date +%s%N) - started) / 1000000 ))
        if [ $rc -eq 0 ]; then
            passed=$((passed + 1))
            echo "ok - $(basename "$file" .sh):$name (${milliseconds} ms)"
        else
            failed=$((failed + 1))
            echo "not ok - $(basename "$file" .sh):$name"
            printf '%s\n' "$output" | tail -25 | sed 's/^/    /'
        fi
    done
done
echo "e2e: $passed passed, $failed failed"
[ $failed -eq 0 ]
