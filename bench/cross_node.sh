#!/usr/bin/env bash
# Cross-node vs same-node TCP_RR latency and throughput, side by side.
#
# Two nodes as in tests/e2e/test_multinode.sh: each a network namespace running its own
# weir-agent (own bpffs and state dir) against one test API server, which runs in node 1's
# namespace bound to its underlay address; the nodes share a veth underlay (192.168.100.0/24)
# and learn each other's pod CIDR from the Node objects (spec.podCIDR, InternalIP). Three pods
# are wired by the real weir-cni inside their node and published as Pod objects:
#
#   client         on node 1
#   server-local   on node 1  ("same":  client veth -> node 1 -> server veth)
#   server-remote  on node 2  ("cross": client veth -> node 1 -> underlay -> node 2 -> server veth)
#
# Policy is in force on both paths (NetworkPolicy objects, compiled by the agents): the servers
# are isolated on ingress and admit only the client on the benchmark's ports, the client is
# isolated on egress and may reach only the servers. So node 2 must know the client's identity
# from node 1's pod, and every connection is judged and tracked. Before and after the rounds a
# probe to a port no rule allows must be dropped at each server's ingress (drop counters).
#
# Per round, tcp_rr (1-byte request/response, p50/p99/mean, transactions/s) then iperf3 (one
# stream) to each server; the order alternates per round (same, cross / cross, same / ...) so
# machine noise spreads over both. Each figure is the median over the rounds; "paired" is the
# median of the per-round ratios cross/same, which cancels slow drifts of the machine. The
# bytes node 2's underlay received must match what the cross iperf3 runs delivered (so the
# cross path really went over it). Throughput in a VM varies by 10-20%: read the min-max line.
#
#   BENCH_XN_ROUNDS       rounds (default 4, at least 3); each measures both servers
#   BENCH_XN_ITERATIONS   round trips per tcp_rr run (default 10000)
#   BENCH_XN_SECONDS      seconds per iperf3 run (default 2)
#   BENCH_XN_CPUS         "CLIENT_CPU SERVER_CPU" (default: all on the last CPU, as bench/pod_rr.sh
#                         explains: a cross-CPU wakeup in a VM costs more than the datapath does)
#
# Needs root and 'make all build/bench/tcp_rr build/tests/weir-maptool'. Exits non-zero when a
# step of the measurement fails, never on the figures. All traffic stays inside the namespaces
# this script creates; everything it creates (processes, namespaces, bpffs mounts, the work
# folder) is removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build"
WEIR_CNI="$BUILD/weir-cni"
WEIR_AGENT="$BUILD/weir-agent"
WEIRCTL="$BUILD/weirctl"
TCP_RR="$BUILD/bench/tcp_rr"
MAPTOOL="$BUILD/tests/weir-maptool"
FIXTURES="$ROOT/tests/fixtures"

ROUNDS=${BENCH_XN_ROUNDS:-4}
ITERATIONS=${BENCH_XN_ITERATIONS:-10000}
SECONDS_PER_RUN=${BENCH_XN_SECONDS:-2}
RR_PORT=7000
IPERF_PORT=5201
UNALLOWED_PORT=7999 # the isolation probe: a port no rule allows

die() {
    echo "cross_node: $*" >&2
    exit 1
}
number_in() { # value minimum maximum name
    [[ "$1" =~ ^[0-9]{1,8}$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] ||
        die "$4 must be a number from $2 to $3, got '$1'"
}
number_in "$ROUNDS" 3 100 BENCH_XN_ROUNDS
number_in "$ITERATIONS" 100 10000000 BENCH_XN_ITERATIONS
number_in "$SECONDS_PER_RUN" 1 600 BENCH_XN_SECONDS
LAST_CPU=$(($(nproc) - 1))
read -r CLIENT_CPU SERVER_CPU <<<"${BENCH_XN_CPUS:-$LAST_CPU $LAST_CPU}"
number_in "${CLIENT_CPU:-}" 0 "$LAST_CPU" "the client CPU of BENCH_XN_CPUS"
SERVER_CPU=${SERVER_CPU:-$CLIENT_CPU}
number_in "$SERVER_CPU" 0 "$LAST_CPU" "the server CPU of BENCH_XN_CPUS"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, bpffs)"
for f in "$WEIR_CNI" "$WEIR_AGENT" "$WEIRCTL" "$TCP_RR" "$MAPTOOL"; do
    [ -x "$f" ] || die "$f is missing: run 'make all build/bench/tcp_rr build/tests/weir-maptool'"
done
for f in "$FIXTURES/k8s_api_server.py" "$FIXTURES/kapi.py"; do
    [ -f "$f" ] || die "$f is missing"
done
for tool in iperf3 python3 ip ss nsenter taskset timeout mountpoint openssl; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

ID="xn$$"
WORK="/tmp/weir-bench-$ID"
[ ! -e "$WORK" ] || die "$WORK already exists"
PREFIX="10.$((RANDOM % 200 + 20))" # node i's pod CIDR is $PREFIX.i.0/24
NAMESPACE=bench
declare -A NODE_ADDRESS=([n1]=192.168.100.1 [n2]=192.168.100.2)
declare -A AGENT_PID=()
API_PID=""
SERVER_PIDS=()
WAITED_PID=""
CREATED_NETNS=()
MOUNTS=()
started=$(date +%s.%N)

stop_pid() { # pid: TERM, then KILL after 5 s
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    local pid i netns mount
    if [ -n "$WAITED_PID" ]; then
        kill -KILL "$WAITED_PID" 2>/dev/null
        wait "$WAITED_PID" 2>/dev/null
    fi
    for pid in "${SERVER_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null # reaped here, so bash reports no "Killed" job
    done
    # Pods first (their veths leave the nodes with them), then agents, API server, nodes.
    for ((i = ${#CREATED_NETNS[@]} - 1; i >= 0; i--)); do
        netns=${CREATED_NETNS[$i]}
        case "$netns" in "$ID-n1" | "$ID-n2") continue ;; esac
        ip netns pids "$netns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$netns" 2>/dev/null
    done
    for pid in "${AGENT_PID[@]}"; do stop_pid "$pid"; done
    [ -z "$API_PID" ] || stop_pid "$API_PID"
    for netns in "$ID-n2" "$ID-n1"; do
        [[ " ${CREATED_NETNS[*]} " == *" $netns "* ]] || continue
        ip netns pids "$netns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$netns" 2>/dev/null
    done
    for mount in "${MOUNTS[@]}"; do
        if mountpoint -q "$mount" 2>/dev/null; then umount "$mount"; fi
    done
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_waited command...: in the background and waited for, so a signal ends the run at once
# (bash runs traps only between foreground commands). Its stdout is the command's.
run_waited() {
    "$@" &
    WAITED_PID=$!
    local status=0
    wait "$WAITED_PID" || status=$?
    WAITED_PID=""
    return "$status"
}

netns_add() {
    ip netns add "$1" || die "ip netns add $1"
    CREATED_NETNS+=("$1")
    ip -n "$1" link set lo up
}
in_node() { # node command...
    local node=$1
    shift
    nsenter --net="/var/run/netns/$ID-$node" "$@"
}
in_pod() { # pod command...
    local pod=$1
    shift
    ip netns exec "$ID-$pod" "$@"
}
kapi() { in_node n1 python3 "$FIXTURES/kapi.py" --dir "$WORK/api" "$@"; }
maptool() { # node args...
    local node=$1
    shift
    "$MAPTOOL" --bpffs "$WORK/$node/bpf" "$@" || die "weir-maptool on $node: $* failed"
}
agent_log_tail() {
    local node
    for node in n1 n2; do
        [ -f "$WORK/$node/agent.log" ] || continue
        echo "--- $node agent log (tail)" >&2
        tail -n 15 "$WORK/$node/agent.log" >&2
    done
}

# ---- the underlay, the API server, the nodes and their agents ------------------------------

echo "==> nodes $ID-n1 and $ID-n2 on a veth underlay, test API server on node 1," \
    "one weir-agent each (pod CIDRs $PREFIX.1.0/24, $PREFIX.2.0/24)"
mkdir -p "$WORK/api"
netns_add "$ID-n1"
netns_add "$ID-n2"
# Created inside node 1 with its peer straight in node 2: it never exists in the host.
ip -n "$ID-n1" link add underlay0 type veth peer name underlay0 netns "$ID-n2" ||
    die "create the underlay veth"
for node in n1 n2; do
    ip -n "$ID-$node" addr add "${NODE_ADDRESS[$node]}/24" dev underlay0
    ip -n "$ID-$node" link set underlay0 up
done

# nsenter directly, not through a function, so $! is the process itself.
nsenter --net="/var/run/netns/$ID-n1" python3 "$FIXTURES/k8s_api_server.py" --port 0 \
    --dir "$WORK/api" --bind "${NODE_ADDRESS[n1]}" --omit-item-kind --quiet \
    >"$WORK/api.log" 2>&1 &
API_PID=$!
for i in $(seq 1 400); do
    [ -f "$WORK/api/ready" ] && break
    kill -0 "$API_PID" 2>/dev/null || { cat "$WORK/api.log" >&2; API_PID=""; die "API server exited"; }
    sleep 0.05
done
[ -f "$WORK/api/ready" ] || { cat "$WORK/api.log" >&2; die "API server not ready after 20 s"; }

kapi create - >/dev/null <<JSON || die "creating the Namespace and Node objects failed"
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"$NAMESPACE"}},
 {"apiVersion":"v1","kind":"Node","metadata":{"name":"$ID-n1"},"spec":{"podCIDR":"$PREFIX.1.0/24"},
  "status":{"addresses":[{"type":"InternalIP","address":"${NODE_ADDRESS[n1]}"}]}},
 {"apiVersion":"v1","kind":"Node","metadata":{"name":"$ID-n2"},"spec":{"podCIDR":"$PREFIX.2.0/24"},
  "status":{"addresses":[{"type":"InternalIP","address":"${NODE_ADDRESS[n2]}"}]}}]}
JSON

for node in n1 n2; do
    mkdir -p "$WORK/$node/state" "$WORK/$node/cni"
    MOUNTS+=("$WORK/$node/bpf")
    nsenter --net="/var/run/netns/$ID-$node" "$WEIR_AGENT" --node-name "$ID-$node" \
        --kubeconfig "$WORK/api/kubeconfig" --bpffs "$WORK/$node/bpf" \
        --state-dir "$WORK/$node/state" --cni-conf-dir "$WORK/$node/cni" \
        >"$WORK/$node/agent.log" 2>&1 &
    AGENT_PID[$node]=$!
done
for node in n1 n2; do
    for i in $(seq 1 400); do
        [ -S "$WORK/$node/state/weir.sock" ] && [ -f "$WORK/$node/cni/10-weir.conflist" ] && break
        kill -0 "${AGENT_PID[$node]}" 2>/dev/null || { agent_log_tail; die "weir-agent on $node exited"; }
        sleep 0.05
    done
    [ -f "$WORK/$node/cni/10-weir.conflist" ] || { agent_log_tail; die "weir-agent on $node not ready after 20 s"; }
done

# ---- the pods -----------------------------------------------------------------------------

declare -A POD_IP=() POD_NODE=()
pod_create() { # node pod role
    local node=$1 pod=$2 role=$3 config out
    netns_add "$ID-$pod"
    # What a runtime hands the plugin: the conflist's first plugin, its cniVersion and name.
    config=$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
print(json.dumps(dict(c["plugins"][0], cniVersion=c["cniVersion"], name=c["name"])))' \
        "$WORK/$node/cni/10-weir.conflist")
    out=$(printf '%s' "$config" | in_node "$node" env -i PATH="$PATH" CNI_COMMAND=ADD \
        CNI_CONTAINERID="$ID-$pod" CNI_NETNS="/var/run/netns/$ID-$pod" CNI_IFNAME=eth0 \
        CNI_PATH=/usr/lib/cni CNI_ARGS="K8S_POD_NAMESPACE=$NAMESPACE;K8S_POD_NAME=$pod" \
        "$WEIR_CNI" 2>"$WORK/cni-$pod.err") ||
        die "CNI ADD of $pod on $node failed: $out $(cat "$WORK/cni-$pod.err")"
    POD_IP[$pod]=$(printf '%s' "$out" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])') ||
        die "CNI ADD of $pod gave no address: $out"
    POD_NODE[$pod]=$node
    kapi create - >/dev/null <<JSON || die "creating Pod $pod failed"
{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"$NAMESPACE","name":"$pod","labels":{"role":"$role"}},
 "spec":{"nodeName":"$ID-$node","containers":[{"name":"c","image":"x"}]},
 "status":{"phase":"Running","podIP":"${POD_IP[$pod]}","podIPs":[{"ip":"${POD_IP[$pod]}"}]}}
JSON
}
pod_create n1 client client
pod_create n1 local server
pod_create n2 remote server
echo "==> pods: client ${POD_IP[client]} (n1), server-local ${POD_IP[local]} (n1)," \
    "server-remote ${POD_IP[remote]} (n2)"

kapi create - >/dev/null <<JSON || die "creating the NetworkPolicies failed"
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"$NAMESPACE","name":"servers-from-client"},
  "spec":{"podSelector":{"matchLabels":{"role":"server"}},"policyTypes":["Ingress"],
   "ingress":[{"from":[{"podSelector":{"matchLabels":{"role":"client"}}}],
     "ports":[{"protocol":"TCP","port":$RR_PORT},{"protocol":"TCP","port":$IPERF_PORT}]}]}},
 {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"$NAMESPACE","name":"client-to-servers"},
  "spec":{"podSelector":{"matchLabels":{"role":"client"}},"policyTypes":["Egress"],
   "egress":[{"to":[{"podSelector":{"matchLabels":{"role":"server"}}}]}]}}]}
JSON

# ---- servers, and waiting for the policy to be in force on both nodes ----------------------

wait_listening() { # pod port
    local i
    for i in $(seq 1 150); do
        in_pod "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
        sleep 0.02
    done
    die "nothing listening on pod $1 port $2"
}
for pod in local remote; do
    # ip netns exec and taskset exec the server, so $! is the server itself.
    ip netns exec "$ID-$pod" taskset -c "$SERVER_CPU" "$TCP_RR" server "$RR_PORT" \
        >"$WORK/rr-$pod.log" 2>&1 &
    SERVER_PIDS+=("$!")
    ip netns exec "$ID-$pod" taskset -c "$SERVER_CPU" iperf3 -s -p "$IPERF_PORT" \
        >"$WORK/iperf-$pod.log" 2>&1 &
    SERVER_PIDS+=("$!")
done
for pod in local remote; do
    wait_listening "$pod" "$RR_PORT"
    wait_listening "$pod" "$IPERF_PORT"
done

declare -A ENDPOINT=()
# A probe to a port no rule allows: without policy the SYN would be refused at once; with it,
# the SYN is dropped and counted at the server's ingress, on the server's node.
isolated() { # pod -> 0 when the probe was dropped by policy at its ingress
    local pod=$1 node=${POD_NODE[$1]} before after
    before=$(maptool "$node" drops "${ENDPOINT[$pod]}" policy_denied_ingress ingress)
    if timeout 0.5 ip netns exec "$ID-client" "$TCP_RR" client "${POD_IP[$pod]}" \
        "$UNALLOWED_PORT" 1 >/dev/null 2>&1; then
        return 1
    fi
    after=$(maptool "$node" drops "${ENDPOINT[$pod]}" policy_denied_ingress ingress)
    [ "$after" -gt "$before" ]
}
reachable() { # pod -> 0 when one round trip on the benchmark port works
    timeout 2 ip netns exec "$ID-client" "$TCP_RR" client "${POD_IP[$1]}" "$RR_PORT" 1 \
        >/dev/null 2>&1
}
for pod in local remote; do
    for i in $(seq 1 100); do
        ENDPOINT[$pod]=$("$MAPTOOL" --bpffs "$WORK/${POD_NODE[$pod]}/bpf" endpoint-id \
            "${POD_IP[$pod]}" 2>/dev/null) && break
        sleep 0.05
    done
    [ -n "${ENDPOINT[$pod]:-}" ] || die "no endpoint for $pod on ${POD_NODE[$pod]}"
done
policy_ready() {
    local pod
    for pod in local remote; do
        isolated "$pod" && reachable "$pod" || return 1
    done
}
waited=0
until policy_ready; do
    waited=$((waited + 1))
    [ "$waited" -lt 40 ] || {
        agent_log_tail
        in_node n1 ip route >&2
        die "after 20 s the servers are still not both reachable on $RR_PORT and isolated on $UNALLOWED_PORT"
    }
    sleep 0.2
done
in_node n1 ip route show proto 0xbe | grep -q "$PREFIX.2.0/24 via ${NODE_ADDRESS[n2]}" ||
    die "node 1 has no weir route to node 2's pods: $(in_node n1 ip route)"
echo "==> policy in force on both nodes: servers admit the client on tcp/$RR_PORT and" \
    "tcp/$IPERF_PORT only (tcp/$UNALLOWED_PORT dropped at their ingress), client egress only to them"

# ---- the rounds ---------------------------------------------------------------------------

RESULTS="$WORK/results"
: >"$RESULTS"
measure() { # target(same|cross) round
    local target=$1 round=$2 pod rr iperf_json gbits
    [ "$target" = same ] && pod=local || pod=remote
    # Into files, not $(...): a command substitution would defer the traps until it ends.
    run_waited ip netns exec "$ID-client" taskset -c "$CLIENT_CPU" timeout 120 \
        "$TCP_RR" client "${POD_IP[$pod]}" "$RR_PORT" "$ITERATIONS" >"$WORK/rr.out" ||
        die "tcp_rr client -> $pod ($target, round $round) failed"
    rr=$(cat "$WORK/rr.out")
    run_waited ip netns exec "$ID-client" taskset -c "$CLIENT_CPU" \
        timeout $((SECONDS_PER_RUN + 20)) iperf3 -c "${POD_IP[$pod]}" -p "$IPERF_PORT" \
        -t "$SECONDS_PER_RUN" -J >"$WORK/iperf.json" || {
        tail -5 "$WORK/iperf.json" >&2
        die "iperf3 client -> $pod ($target, round $round) failed"
    }
    iperf_json=$(cat "$WORK/iperf.json")
    gbits=$(printf '%s' "$iperf_json" | python3 -c '
import json, sys
result = json.load(sys.stdin)
if "error" in result:
    sys.exit("iperf3: " + result["error"])
print("%.3f" % (result["end"]["sum_received"]["bits_per_second"] / 1e9))') ||
        die "iperf3 client -> $pod ($target, round $round) gave no throughput"
    printf '  round %d %-5s  %s gbit_per_sec=%s\n' "$round" "$target" "$rr" "$gbits"
    printf '%s %d %s gbit_per_sec=%s\n' "$target" "$round" "$rr" "$gbits" >>"$RESULTS"
}

underlay_bytes() { # node -> bytes received on its underlay0
    ip -n "$ID-$1" -s -j link show underlay0 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["bytes"])'
}
UNDERLAY_BEFORE=$(underlay_bytes n2)

echo "==> $ROUNDS rounds, same and cross alternating first: tcp_rr $ITERATIONS x 1 byte," \
    "iperf3 ${SECONDS_PER_RUN}s; client on CPU $CLIENT_CPU, servers on CPU $SERVER_CPU"
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then
        measure same "$round"
        measure cross "$round"
    else
        measure cross "$round"
        measure same "$round"
    fi
done

# The cross rounds' bulk data must have crossed the underlay, and no more than it.
UNDERLAY_NOTE=$(python3 - "$RESULTS" "$SECONDS_PER_RUN" "$UNDERLAY_BEFORE" "$(underlay_bytes n2)" <<'PY'
import sys
path, seconds, before, after = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sent = {"same": 0.0, "cross": 0.0}
for line in open(path):
    target, _, *pairs = line.split()
    sent[target] += float(dict(p.split("=") for p in pairs)["gbit_per_sec"])
cross = sent["cross"] * seconds / 8  # GB the cross iperf3 runs delivered
carried = (after - before) / 1e9
print(f"node 2's underlay received {carried:.2f} GB during the rounds; the cross iperf3 runs "
      f"delivered {cross:.2f} GB, the same-node ones {sent['same'] * seconds / 8:.2f} GB")
sys.exit(0 if cross * 0.9 <= carried <= cross * 1.2 + 0.5 else 3)
PY
) || die "the underlay did not carry the cross-node traffic: $UNDERLAY_NOTE"

# Every round ran under policy: it must still be enforced at the end.
for pod in local remote; do
    isolated "$pod" || die "after the rounds, $pod no longer drops tcp/$UNALLOWED_PORT at its ingress"
done
CT_NOTE="conntrack entries after the rounds: node 1 $(maptool n1 ct-count), node 2 $(maptool n2 ct-count)"
for pid in "${AGENT_PID[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "a weir-agent exited during the rounds"
done
AGENT_ISSUES=""
for node in n1 n2; do
    if grep -qE ' (error|warn): ' "$WORK/$node/agent.log"; then
        AGENT_ISSUES+=$(grep -E ' (error|warn): ' "$WORK/$node/agent.log" | tail -n 3 | sed "s/^/    $node: /")$'\n'
    fi
done

python3 - "$RESULTS" "$ROUNDS" "$ITERATIONS" "$SECONDS_PER_RUN" "$CT_NOTE" \
    "$CLIENT_CPU" "$SERVER_CPU" <<'PY'
import statistics, sys

path, rounds, iterations, seconds, ct_note, client_cpu, server_cpu = sys.argv[1:]
runs = {"same": {}, "cross": {}}
for line in open(path):
    target, round_number, *pairs = line.split()
    runs[target][int(round_number)] = {k: float(v) for k, v in (p.split("=") for p in pairs)}
paired_rounds = sorted(set(runs["same"]) & set(runs["cross"]))


def median(target, key):
    return statistics.median(run[key] for run in runs[target].values())


print()
print("pod to pod over TCP with weir: client on node 1 to a server on node 1 (same) and on "
      "node 2 (cross, over the veth underlay)")
print(f"{rounds} rounds, order alternating; per round and server tcp_rr {iterations} round trips "
      f"of 1 byte and iperf3 {seconds} s, 1 stream; client on CPU {client_cpu}, servers on CPU "
      f"{server_cpu}; NetworkPolicy in force on both paths; each figure is the median over rounds")
print(f"{'':24}{'same':>10}{'cross':>10}{'cross/same':>12}{'paired':>10}")
rows = [("rr p50 (us)", "p50_us", "%.1f"), ("rr p99 (us)", "p99_us", "%.1f"),
        ("rr mean (us)", "mean_us", "%.1f"), ("rr transactions/s", "transactions_per_sec", "%.0f"),
        ("throughput (Gbit/s)", "gbit_per_sec", "%.2f")]
for label, key, form in rows:
    same, cross = median("same", key), median("cross", key)
    paired = statistics.median(runs["cross"][r][key] / runs["same"][r][key] for r in paired_rounds)
    print(f"{label:24}{form % same:>10}{form % cross:>10}{cross / same:>12.3f}{paired:>10.3f}")
spread = {t: (min(r["gbit_per_sec"] for r in runs[t].values()),
              max(r["gbit_per_sec"] for r in runs[t].values())) for t in runs}
print(f"throughput min-max over rounds: same {spread['same'][0]:.2f}-{spread['same'][1]:.2f}, "
      f"cross {spread['cross'][0]:.2f}-{spread['cross'][1]:.2f} Gbit/s")
print(ct_note)
PY
echo "$UNDERLAY_NOTE"
if [ -n "$AGENT_ISSUES" ]; then
    echo "agent log warnings/errors (last 3 per node):"
    printf '%s' "$AGENT_ISSUES"
fi
printf 'total run time %.1f s\n' "$(python3 -c "import time; print(time.time() - $started)")"
