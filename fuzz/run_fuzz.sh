#!/bin/bash
# Runs each libFuzzer target for FUZZ_SECONDS (default 20) on its seed corpus:
#   fuzz/run_fuzz.sh BIN_DIR TARGET...
# New inputs go to BIN_DIR/corpus/<target> (the checked-in fuzz/corpus/<target> is only read),
# crashes to fuzz/crashes/<target>-crash-<sha1> (and leak-, timeout-, oom-). Prints one line per
# target with its executions and exits non-zero when any target found something.
# Extra libFuzzer flags: FUZZ_FLAGS="-fork=2 -ignore_crashes=1 ..." (keeps going past a known
# crash). Dictionaries come from fuzz/dicts/ (kubernetes, kubeconfig, cni, yaml).
set -u
cd "$(dirname "$0")/.."

bin_dir=${1:?usage: run_fuzz.sh BIN_DIR TARGET...}
shift
seconds=${FUZZ_SECONDS:-20}
failed=0
summary=()
mkdir -p fuzz/crashes

for target in "$@"; do
    binary="$bin_dir/fuzz_$target"
    work="$bin_dir/corpus/$target"
    log="$bin_dir/fuzz_$target.log"
    mkdir -p "$work"
    flags=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1
        -artifact_prefix="fuzz/crashes/$target-")
    case $target in
    k8s_objects | watch_event | standalone) dict=kubernetes ;;
    cni_config | prev_result) dict=cni ;;
    *) dict=$target ;;
    esac
    [ -f "fuzz/dicts/$dict.dict" ] && flags+=(-dict="fuzz/dicts/$dict.dict")
    # The BPF programs give libFuzzer no coverage; comparison distances in the target's model
    # (addresses, ports) are the gradient that reaches interesting frames.
    [ "$target" = datapath_packets ] && flags+=(-use_value_profile=1)
    echo "== fuzz_$target (${seconds}s)"
    # shellcheck disable=SC2086
    "$binary" "${flags[@]}" ${FUZZ_FLAGS:-} "$work" "fuzz/corpus/$target" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
    if [ -z "$execs" ]; then # -fork=N prints no final stats; its progress lines say "#N: ... exec/s R"
        execs=$(sed -nE 's/^#([0-9]+): cov.*/\1/p' "$log" | tail -1)
        rate=$(sed -nE 's/^#[0-9]+: .* exec\/s ([0-9]+).*/\1/p' "$log" | tail -1)
    fi
    if [ "$rc" -eq 0 ]; then
        line="fuzz_$target: ok, ${execs:-?} execs (${rate:-?}/s), ${coverage:-cov: ?}"
    else
        failed=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        line="fuzz_$target: FAILED (exit $rc), ${execs:-?} execs, input: ${artifact:-none}, log: $log"
        grep -E '==FUZZ INVARIANT==|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' -A2 "$log" | head -8
    fi
    echo "$line"
    summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $failed
