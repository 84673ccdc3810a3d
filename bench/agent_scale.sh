#!/usr/bin/env bash
# Agent scale: initial sync time and peak RSS of weir-agent for a synthetic cluster of 5,000
# pods, 500 namespaces, 1,000 NetworkPolicies, 2,000 Services and their EndpointSlices served by
# the test API server (goals: sync < 3 s, RSS < 100 MiB).
#
# One node network namespace. First BENCH_LOCAL_PODS pods of the cluster are wired on it by the
# real weir-cni (a first agent, standalone with no objects, provides the maps and CNI config, and
# is stopped), so the measured agent has real local endpoints to compile policy for. Then the
# test API server starts in the node with the whole cluster in its store
# (bench/agent/scale_api_server.py: the unchanged fixture, its store filled through its own
# create path before it listens; bench/agent/synthetic.py describes the objects), and
# bench/agent/scale.py starts weir-agent --kubeconfig and measures process start -> synced and
# first change applied (10 ms polls of the control socket), then times three single changes
# (EndpointSlice, Pod, NetworkPolicy) at this scale; peak RSS is VmHWM over the whole run.
#
#   BENCH_PODS (5000)  BENCH_NAMESPACES (500)  BENCH_POLICIES (1000)  BENCH_SERVICES (2000,
#   one EndpointSlice each)  BENCH_NODES (100)  BENCH_LOCAL_PODS (50, 0: wire none)
# Smaller values are reported as SCALED DOWN; the goals are for the defaults.
#
# Needs root. Exits non-zero if setup fails, not when a goal is missed.
set -euo pipefail

BENCH_TAG=ws
source "$(dirname "${BASH_SOURCE[0]}")/agent/lib.sh"

FULL_PODS=5000 FULL_NAMESPACES=500 FULL_POLICIES=1000 FULL_SERVICES=2000
PODS=${BENCH_PODS:-$FULL_PODS}
NAMESPACES=${BENCH_NAMESPACES:-$FULL_NAMESPACES}
POLICIES=${BENCH_POLICIES:-$FULL_POLICIES}
SERVICES=${BENCH_SERVICES:-$FULL_SERVICES}
NODES=${BENCH_NODES:-100}
LOCAL_PODS=${BENCH_LOCAL_PODS:-50}
for pair in "BENCH_PODS=$PODS" "BENCH_NAMESPACES=$NAMESPACES" "BENCH_POLICIES=$POLICIES" \
    "BENCH_SERVICES=$SERVICES" "BENCH_NODES=$NODES" "BENCH_LOCAL_PODS=$LOCAL_PODS"; do
    [[ "${pair#*=}" =~ ^[0-9]{1,6}$ ]] || die "${pair%%=*} must be a number, got '${pair#*=}'"
done
[ "$NAMESPACES" -ge 1 ] && [ "$NODES" -ge 2 ] || die "need at least 1 namespace and 2 nodes"
[ "$LOCAL_PODS" -le "$PODS" ] && [ "$LOCAL_PODS" -le 250 ] ||
    die "BENCH_LOCAL_PODS must be at most BENCH_PODS and 250"
[ $(((PODS - LOCAL_PODS + NODES - 2) / (NODES - 1))) -le 250 ] ||
    die "more than 250 pods per remote node: raise BENCH_NODES"
scaled=""
[ "$PODS" -ge $FULL_PODS ] || scaled+=" pods $PODS<$FULL_PODS"
[ "$NAMESPACES" -ge $FULL_NAMESPACES ] || scaled+=" namespaces $NAMESPACES<$FULL_NAMESPACES"
[ "$POLICIES" -ge $FULL_POLICIES ] || scaled+=" policies $POLICIES<$FULL_POLICIES"
[ "$SERVICES" -ge $FULL_SERVICES ] || scaled+=" services $SERVICES<$FULL_SERVICES"
bench_preflight
POD_CIDR=10.60.$((RANDOM % 250)).0/24

bench_traps
started=$(date +%s.%N)
[ -z "$scaled" ] || echo "==> SCALED DOWN:$scaled (the goals are for the full size)"
echo "==> node $NODE (pod CIDR $POD_CIDR)"
node_create

SPEC="$WORK/cluster.json"
python3 - "$BENCH_DIR" "$SPEC" "$PODS" "$NAMESPACES" "$POLICIES" "$SERVICES" "$NODES" \
    "$NODE_NAME" "$LOCAL_PODS" "$POD_CIDR" <<'PY'
import json, sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
from synthetic import Cluster
spec = dict(zip(("pods", "namespaces", "policies", "services", "nodes"), map(int, sys.argv[3:8])))
spec.update(local_node=sys.argv[8], local_pods=int(sys.argv[9]), local_cidr=sys.argv[10],
            local_ips=[])
cluster = Cluster(spec["pods"], spec["namespaces"], spec["policies"], spec["services"],
                  spec["nodes"], spec["local_node"], spec["local_pods"], spec["local_cidr"])
json.dump(cluster.local_pod_names(), open(sys.argv[2] + ".local", "w"))
json.dump(spec, open(sys.argv[2], "w"))
PY

if [ "$LOCAL_PODS" -gt 0 ]; then
    echo "==> wiring $LOCAL_PODS of the cluster's pods on this node (a first agent, standalone"
    echo "    with no objects, provides the maps and the CNI config; it is stopped before the run)"
    mkdir -p "$WORK/empty-manifests"
    agent_start "$WORK/agent-wiring.log" --standalone "$WORK/empty-manifests"
    pods_wire "$WORK/local-pods.json" l --list "$SPEC.local"
    agent_stop
    python3 - "$SPEC" "$WORK/local-pods.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["local_ips"] = [[p["namespace"], p["name"], p["ip"]] for p in json.load(open(sys.argv[2]))]
json.dump(spec, open(sys.argv[1], "w"))
PY
fi

echo "==> test API server with the synthetic cluster preloaded"
api_server_start "$BENCH_DIR/scale_api_server.py" --cluster "$SPEC"

echo "==> starting weir-agent --kubeconfig and measuring"
AGENT_PID_FILE="$WORK/agent.pid"
run_waited nsenter --net="/var/run/netns/$NODE" python3 "$BENCH_DIR/scale.py" \
    --agent "$WEIR_AGENT" --node-name "$NODE_NAME" --pod-cidr "$POD_CIDR" --bpffs "$BPFFS" \
    --state-dir "$STATE_DIR" --cni-conf-dir "$CNI_CONF_DIR" --api-dir "$API_DIR" --log "$WORK/agent.log" \
    --pid-file "$AGENT_PID_FILE" --api-pid "$API_PID" --result "$WORK/result.json" \
    --spec "$SPEC" --scaled-down "${scaled# }" ||
    { echo "--- agent log (tail)" >&2; tail -n 20 "$WORK/agent.log" >&2; die "the harness failed"; }
printf '  total run time %.1f s (setup, generation and measurement)\n' \
    "$(echo "$(date +%s.%N) - $started" | bc)"
