#!/bin/bash
# `make bench`: every benchmark, each comparing side by side within this one run, then
# bench/REPORT.md with tables and plots (bench/report/*.png) from what they measured.
#
# Each step runs with bounds chosen so the whole run stays under 10 minutes on this machine
# (2 CPUs); the exact commands are recorded in the report, and each runs alone the same way.
# A failing step is reported (with its exit status) and the others still run; the script then
# exits non-zero. Logs and raw results of the run are kept in bench/report/run/.
#
#   BENCH_STEPS   the steps to run (default: all, in the order below)
set -uo pipefail
cd "$(dirname "$0")/.."

RUN_DIR=bench/report/run
STEPS=${BENCH_STEPS:-"cni_latency datapath_bench compare pod_rr agent_propagation agent_scale services_scale cross_node"}

# name -> exact command (environment, then the program), from the repository root.
declare -A COMMAND=(
    [cni_latency]="BENCH_PODS=100 ./bench/cni_latency.sh"
    [datapath_bench]="./build/bench/datapath_bench"
    [compare]="BENCH_CMP_ROUNDS=7 BENCH_CMP_OUT=$RUN_DIR ./bench/compare.sh"
    [pod_rr]="BENCH_RR_ROUNDS=6 BENCH_RR_ITERATIONS=20000 BENCH_RR_SECONDS=1 ./bench/pod_rr.sh"
    [agent_propagation]="./bench/agent_propagation.sh"
    [agent_scale]="./bench/agent_scale.sh"
    [services_scale]="BENCH_SVC_ROUNDS=4 ./bench/services_scale.sh"
    [cross_node]="BENCH_XN_ROUNDS=3 BENCH_XN_ITERATIONS=5000 BENCH_XN_SECONDS=1 ./bench/cross_node.sh"
)

CHILD=""
trap '[ -z "$CHILD" ] || kill -TERM "$CHILD" 2>/dev/null; wait 2>/dev/null; exit 130' INT
trap '[ -z "$CHILD" ] || kill -TERM "$CHILD" 2>/dev/null; wait 2>/dev/null; exit 143' TERM

rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"
META="$RUN_DIR/run.meta"
started=$(date +%s)
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ -z "$(git status --porcelain 2>/dev/null | head -1)" ] || commit+=" with uncommitted changes"
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine=$(bash -c 'source bench/lib.sh && machine_line')"
    echo "commit=$commit"
    echo "load_before=$(cut -d' ' -f1 /proc/loadavg)"
} >"$META"

failed=0
for step in $STEPS; do
    command=${COMMAND[$step]:-}
    [ -n "$command" ] || { echo "bench: unknown step $step" >&2; failed=1; continue; }
    echo "==== $step: $command"
    step_started=$(date +%s.%N)
    # env -S splits the recorded command line exactly as written above.
    env -S "$command" > >(tee "$RUN_DIR/$step.log") 2>&1 &
    CHILD=$!
    status=0
    wait "$CHILD" || status=$?
    CHILD=""
    seconds=$(awk -v a="$step_started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}')
    [ "$status" = 0 ] || { failed=1; echo "==== $step FAILED (exit $status)"; }
    echo "step $step|$status|$seconds|$command" >>"$META"
done

{
    echo "load_after=$(cut -d' ' -f1 /proc/loadavg)"
    echo "total_s=$(($(date +%s) - started))"
} >>"$META"
python3 bench/report.py "$RUN_DIR" || failed=1
echo "bench: total $(($(date +%s) - started)) s; report in bench/REPORT.md"
exit "$failed"
