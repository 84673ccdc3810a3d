#!/bin/bash
# Replays every seed corpus fuzz/corpus/<target>/ through build/fuzz/replay_<target> (gcc with
# AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer; one forked child per input),
# printing the test runner's "fuzz_<target>: N passed, N failed" line per target. Exits non-zero
# when an input failed or a replay binary is missing. Usage: fuzz/replay_all.sh [BIN_DIR]
set -u
cd "$(dirname "$0")/.."

bin_dir=${1:-build/fuzz}
status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for corpus in fuzz/corpus/*/; do
    target=$(basename "$corpus")
    binary="$bin_dir/replay_$target"
    if [ ! -x "$binary" ]; then
        echo "fuzz_$target: $binary is missing (make fuzz-replay builds it)"
        echo "fuzz_$target: 0 passed, 1 failed"
        status=1
        continue
    fi
    "$binary" "$corpus" || status=1
done
exit $status
