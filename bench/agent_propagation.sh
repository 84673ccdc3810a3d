#!/usr/bin/env bash
# Policy propagation: from the API event to the datapath enforcing it, median and p99, for one
# NetworkPolicy change on a node with 100 pods (goal: p99 < 100 ms).
#
# One node network namespace runs the test API server (tests/fixtures/k8s_api_server.py) and a
# real weir-agent watching it (--kubeconfig); BENCH_PODS pods are wired by the real weir-cni and
# get their Pod objects (spec.nodeName = the node, status.podIP from the CNI result). Then a
# harness (bench/agent/propagation.py) alternately creates and deletes one NetworkPolicy that
# selects every pod, BENCH_CHANGES times, and times each change from sending the REST request to
# the last pod's entry in the pinned endpoint_policy map showing the new state, reading the map
# with direct bpf(2) lookups in a tight loop. Afterwards bpftool and real TCP connections between
# pods cross-check that the map state is what the datapath enforces.
#
#   BENCH_PODS     pods on the node (default 100)
#   BENCH_CHANGES  measured policy changes (default 200: 100 creates, 100 deletes)
#
# Needs root. Exits non-zero if setup or the cross-check fails, not when the goal is missed.
set -euo pipefail

BENCH_TAG=wp
source "$(dirname "${BASH_SOURCE[0]}")/agent/lib.sh"

PODS=${BENCH_PODS:-100}
CHANGES=${BENCH_CHANGES:-200}
[[ "$PODS" =~ ^[0-9]+$ ]] && [ "$PODS" -ge 3 ] && [ "$PODS" -le 250 ] ||
    die "BENCH_PODS must be a number from 3 to 250, got '$PODS'"
[[ "$CHANGES" =~ ^[0-9]+$ ]] && [ "$CHANGES" -ge 2 ] && [ "$CHANGES" -le 100000 ] ||
    die "BENCH_CHANGES must be a number from 2 to 100000, got '$CHANGES'"
bench_preflight
command -v socat >/dev/null || die "socat is missing (the cross-check's server)"
command -v bpftool >/dev/null || die "bpftool is missing (the cross-check)"
POD_CIDR=10.$((RANDOM % 100 + 120)).$((RANDOM % 250)).0/24
NAMESPACE=bench

bench_traps
started=$(date +%s.%N)
echo "==> node $NODE: test API server, weir-agent --kubeconfig (pod CIDR $POD_CIDR)"
node_create
api_server_start
agent_start "$WORK/agent.log" --kubeconfig "$API_DIR/kubeconfig"

echo "==> wiring $PODS pods with weir-cni"
pods_wire "$WORK/pods.json" p --count "$PODS" --namespace "$NAMESPACE"
# The cross-check's server: pod p2 echoes on 8080 (traffic stays inside our namespaces).
ip netns exec "$ID-p2" socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
HELPER_PID=$!

echo "==> $CHANGES policy changes (Pod objects created first, then 8 warm-up changes)"
run_waited nsenter --net="/var/run/netns/$NODE" python3 "$BENCH_DIR/propagation.py" \
    --api-dir "$API_DIR" --bpffs "$BPFFS" --state-dir "$STATE_DIR" --pods "$WORK/pods.json" \
    --namespace "$NAMESPACE" --node-name "$NODE_NAME" --changes "$CHANGES" --warmup 4 ||
    { echo "--- agent log (tail)" >&2; tail -n 20 "$WORK/agent.log" >&2; die "the harness failed"; }
if grep -qE ' (error|warn): ' "$WORK/agent.log"; then
    echo "  agent log warnings/errors during the run:"
    grep -E ' (error|warn): ' "$WORK/agent.log" | tail -n 5 | sed 's/^/    /'
fi
printf '  total run time %.1f s\n' "$(echo "$(date +%s.%N) - $started" | bc)"
