#!/usr/bin/env bash
# Pod-to-pod cost of weir's datapath on one node: TCP request/response latency (tcp_rr) and bulk
# throughput (iperf3) between two pods wired by the real weir-cni, each measured with weir's
# programs attached ("weir") and with the very same veths, routes and addresses but no programs
# ("plain": the clsact qdiscs removed, so the kernel routes the packets as any routed-veth CNI
# would). Comparing the same pods keeps everything but the datapath equal.
#
# With build/tests/weir-maptool present, weir runs with policy and conntrack active: both pods
# isolated on ingress and egress, with allow rules for each other on the benchmark's ports, so
# every connection is judged by policy and every packet goes through conntrack. Without it, the
# pods are not isolated and only conntrack is active; the output says which mode ran.
#
# Rounds alternate weir, plain, weir, plain, ... so machine noise spreads over both. Each figure
# is the median over the rounds; "paired" is the median of the per-round ratios, each between a
# weir run and the plain run right after it, which cancels slow drifts of the machine.
# Throughput in a VM varies by 10-20% from run to run: read the min-max line before a ratio.
# The programs are re-attached before every weir round with tc from their pins (the same
# cls_bpf direct-action filters weir-cni attaches).
#
#   BENCH_RR_ROUNDS       rounds per mode (default 6, at least 3)
#   BENCH_RR_ITERATIONS   round trips per tcp_rr run (default 10000)
#   BENCH_RR_SECONDS      seconds per iperf3 run (default 3)
#   BENCH_RR_CPUS         "CLIENT_CPU SERVER_CPU" (default: both on the last CPU)
#
# Client and server are pinned to CPUs. Both on one CPU is the default because a cross-CPU
# wakeup in a VM costs tens of microseconds and varies from run to run by more than the whole
# datapath costs; on one CPU the round trip is stable, so weir and plain differ by what the
# programs add. Give two CPUs to measure the cross-CPU case.
#
# Needs root. Reports the goals (p50 within 5% of plain, throughput at least 95%) without
# failing on them; exits non-zero when any step of the measurement itself fails. All traffic
# stays inside the namespaces this script creates, and everything it creates is removed.
set -euo pipefail

# The node, its agent, the pods and cleanup: bench/lib.sh.
BENCH_TAG=wr BENCH_NAME=pod_rr
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${BENCH_RR_ROUNDS:-6}
ITERATIONS=${BENCH_RR_ITERATIONS:-10000}
SECONDS_PER_RUN=${BENCH_RR_SECONDS:-3}
RR_PORT=7000
IPERF_PORT=5201
POD_CIDR=10.240.0.0/24
IDENTITY_A=1000 # label-set identities start at 256 (bpf/abi.h)
IDENTITY_B=1001
UNALLOWED_PORT=7999 # the isolation check: a port no rule allows

number_in "$ROUNDS" 3 100 BENCH_RR_ROUNDS
number_in "$ITERATIONS" 100 10000000 BENCH_RR_ITERATIONS
number_in "$SECONDS_PER_RUN" 1 600 BENCH_RR_SECONDS
read -r CLIENT_CPU SERVER_CPU <<<"${BENCH_RR_CPUS:-$LAST_CPU $LAST_CPU}"
number_in "${CLIENT_CPU:-}" 0 "$LAST_CPU" "the client CPU of BENCH_RR_CPUS"
number_in "${SERVER_CPU:-$CLIENT_CPU}" 0 "$LAST_CPU" "the server CPU of BENCH_RR_CPUS"
SERVER_CPU=${SERVER_CPU:-$CLIENT_CPU}
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, bpffs, tc)"
for f in "$WEIR_CNI" "$WEIR_AGENT" "$TCP_RR"; do
    [ -x "$f" ] || die "$f is missing: run 'make all build/bench/tcp_rr' first"
done
for tool in iperf3 python3 tc ss nsenter taskset; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

NODE="$ID-node"
BPFFS="$WORK/$NODE/bpf"
bench_traps

in_node() { nsenter --net="/var/run/netns/$NODE" "$@"; }
in_pod() { # pod command...
    local pod=$1
    shift
    ip netns exec "$ID-$pod" "$@"
}
maptool() { "$MAPTOOL" --bpffs "$BPFFS" "$@" || die "weir-maptool $*: failed"; }

# ---- the node and its two pods, as in tests/e2e/lib.sh ----------------------------------

# The agent's object source is an empty manifest folder: it knows no Pod or NetworkPolicy, so
# it compiles no policy for these pods and leaves the entries written below alone.
node_start "$NODE" "$POD_CIDR"
pod_create_here() { pod_create "$NODE" "$ID-$1" bench "$1"; } # pod -> POD_IP, HOST_VETH

echo "==> node $NODE (weir-agent, $POD_CIDR) with pods a (client) and b (server)"
pod_create_here a
IP_A=$POD_IP VETH_A=$HOST_VETH
pod_create_here b
IP_B=$POD_IP VETH_B=$HOST_VETH
in_pod a ping -c1 -W2 "$IP_B" >/dev/null || die "pod a cannot reach pod b ($IP_B)"

# ---- policy -------------------------------------------------------------------------------

# Proves isolation is live: a port no rule allows must be dropped by a's egress policy (without
# policy the SYN would reach b and be refused at once). Needs the programs attached.
check_isolated() { # when
    local before after
    before=$("$MAPTOOL" --bpffs "$BPFFS" drops "$ENDPOINT_A" policy_denied_egress egress)
    timeout 0.5 ip netns exec "$ID-a" "$TCP_RR" client "$IP_B" "$UNALLOWED_PORT" 1 \
        >/dev/null 2>&1 && die "$1: pod a reached b:$UNALLOWED_PORT, which no rule allows"
    after=$("$MAPTOOL" --bpffs "$BPFFS" drops "$ENDPOINT_A" policy_denied_egress egress)
    [ "$after" -gt "$before" ] ||
        die "$1: a's SYN to b:$UNALLOWED_PORT was not dropped by policy" \
            "(policy_denied_egress $before -> $after)"
}

if [ -x "$MAPTOOL" ]; then
    MODE="policy + conntrack: both pods isolated on ingress and egress, allow rules for each"
    MODE+=" other on tcp/$RR_PORT and tcp/$IPERF_PORT"
    ENDPOINT_A=$("$MAPTOOL" --bpffs "$BPFFS" endpoint-id "$IP_A") || die "no endpoint for $IP_A"
    ENDPOINT_B=$("$MAPTOOL" --bpffs "$BPFFS" endpoint-id "$IP_B") || die "no endpoint for $IP_B"
    maptool ipcache-set "$IP_A/32" "$IDENTITY_A"
    maptool ipcache-set "$IP_B/32" "$IDENTITY_B"
    rule=10
    # Each pod: its egress to the other and its ingress from the other, per port.
    for port in "$RR_PORT" "$IPERF_PORT"; do
        maptool allow "$ENDPOINT_A" egress "$IDENTITY_B" tcp "$port" $((rule += 1))
        maptool allow "$ENDPOINT_B" ingress "$IDENTITY_A" tcp "$port" $((rule += 1))
        maptool allow "$ENDPOINT_B" egress "$IDENTITY_A" tcp "$port" $((rule += 1))
        maptool allow "$ENDPOINT_A" ingress "$IDENTITY_B" tcp "$port" $((rule += 1))
    done
    maptool isolate "$ENDPOINT_A" 1 2
    maptool isolate "$ENDPOINT_B" 3 4
    maptool bump >/dev/null
    check_isolated "before the rounds"
else
    MODE="conntrack only: $MAPTOOL is missing ('make build/tests/weir-maptool'),"
    MODE+=" so the pods are NOT isolated"
fi
echo "==> weir mode: $MODE"

# ---- switching between weir and plain ------------------------------------------------------

attach_weir() { # host-veth
    in_node tc qdisc del dev "$1" clsact 2>/dev/null || true
    in_node tc qdisc add dev "$1" clsact || die "add clsact to $1"
    in_node tc filter add dev "$1" ingress prio 1 handle 1 bpf da \
        pinned "$BPFFS/programs/from_pod" || die "attach from_pod to $1 ingress"
    in_node tc filter add dev "$1" egress prio 1 handle 1 bpf da \
        pinned "$BPFFS/programs/to_pod" || die "attach to_pod to $1 egress"
}
detach_weir() { # host-veth
    in_node tc qdisc del dev "$1" clsact || die "remove clsact from $1"
}
check_mode() { # weir|plain: the veths are as that mode needs, before and after measuring
    local veth
    for veth in "$VETH_A" "$VETH_B"; do
        if [ "$1" = weir ]; then
            in_node tc filter show dev "$veth" ingress | grep -q 'from_pod' ||
                die "from_pod is not attached to $veth during a weir round"
            in_node tc filter show dev "$veth" egress | grep -q 'to_pod' ||
                die "to_pod is not attached to $veth during a weir round"
        elif in_node tc qdisc show dev "$veth" | grep -q clsact; then
            die "$veth has a clsact qdisc again during a plain round"
        fi
    done
}

wait_listening() { # pod port
    local i
    for i in $(seq 1 100); do
        in_pod "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
        sleep 0.02
    done
    die "nothing listening on pod $1 port $2"
}

in_pod b taskset -c "$SERVER_CPU" "$TCP_RR" server "$RR_PORT" >"$WORK/rr-server.log" 2>&1 &
wait_listening b "$RR_PORT"

RESULTS="$WORK/results"
: >"$RESULTS"
measure() { # mode round
    local mode=$1 round=$2 rr iperf_json gbits server
    check_mode "$mode"
    rr=$(in_pod a taskset -c "$CLIENT_CPU" timeout 120 \
        "$TCP_RR" client "$IP_B" "$RR_PORT" "$ITERATIONS") ||
        die "tcp_rr a -> b ($mode, round $round) failed"
    in_pod b taskset -c "$SERVER_CPU" timeout $((SECONDS_PER_RUN + 30)) \
        iperf3 -s -1 -p "$IPERF_PORT" >"$WORK/iperf-server.log" 2>&1 &
    server=$!
    wait_listening b "$IPERF_PORT"
    iperf_json=$(in_pod a taskset -c "$CLIENT_CPU" timeout $((SECONDS_PER_RUN + 20)) \
        iperf3 -c "$IP_B" -p "$IPERF_PORT" -t "$SECONDS_PER_RUN" -J) || {
        printf '%s\n' "$iperf_json" | tail -5 >&2
        die "iperf3 a -> b ($mode, round $round) failed"
    }
    wait "$server" || true
    gbits=$(printf '%s' "$iperf_json" | python3 -c '
import json, sys
result = json.load(sys.stdin)
if "error" in result:
    sys.exit("iperf3: " + result["error"])
print("%.3f" % (result["end"]["sum_received"]["bits_per_second"] / 1e9))') ||
        die "iperf3 a -> b ($mode, round $round) gave no throughput"
    check_mode "$mode"
    printf '  round %d %-5s  %s gbit_per_sec=%s\n' "$round" "$mode" "$rr" "$gbits"
    printf '%s %s gbit_per_sec=%s\n' "$mode" "$rr" "$gbits" >>"$RESULTS"
}

echo "==> $ROUNDS rounds per mode, alternating: tcp_rr $ITERATIONS x 1 byte," \
    "iperf3 ${SECONDS_PER_RUN}s; client on CPU $CLIENT_CPU, server on CPU $SERVER_CPU"
for ((round = 1; round <= ROUNDS; round++)); do
    attach_weir "$VETH_A"
    attach_weir "$VETH_B"
    measure weir "$round"
    detach_weir "$VETH_A"
    detach_weir "$VETH_B"
    measure plain "$round"
done

if [ -x "$MAPTOOL" ]; then
    # The policy must still have been in force at the end, so every weir round ran under it.
    attach_weir "$VETH_A"
    attach_weir "$VETH_B"
    check_isolated "after the rounds"
    CT_ENTRIES=$("$MAPTOOL" --bpffs "$BPFFS" ct-count)
    [ "$CT_ENTRIES" -gt 0 ] || die "conntrack is empty after the weir rounds"
    CT_NOTE="conntrack held $CT_ENTRIES entries after the weir rounds"
else
    CT_NOTE="conntrack entries not read (no weir-maptool)"
fi

python3 - "$RESULTS" "$ROUNDS" "$ITERATIONS" "$SECONDS_PER_RUN" "$MODE" "$CT_NOTE" \
    "$CLIENT_CPU" "$SERVER_CPU" <<'PY'
import statistics, sys

path, rounds, iterations, seconds, mode, ct_note, client_cpu, server_cpu = sys.argv[1:]
runs = {"weir": [], "plain": []}
for line in open(path):
    name, *pairs = line.split()
    runs[name].append({key: float(value) for key, value in (p.split("=") for p in pairs)})


def median(name, key):
    return statistics.median(run[key] for run in runs[name])


print()
print(f"pod to pod on one node over TCP: weir vs the same veths with no programs (plain routing)")
print(f"weir: {mode}")
print(f"{rounds} rounds per mode, alternating; per round tcp_rr {iterations} round trips of 1 byte "
      f"and iperf3 {seconds} s, 1 stream; client on CPU {client_cpu}, server on CPU {server_cpu}; "
      f"each figure is the median over the rounds")
print(f"{'':24}{'weir':>10}{'plain':>10}{'weir/plain':>12}{'paired':>10}")
rows = [("rr p50 (us)", "p50_us", "%.1f"), ("rr p99 (us)", "p99_us", "%.1f"),
        ("rr mean (us)", "mean_us", "%.1f"), ("rr transactions/s", "transactions_per_sec", "%.0f"),
        ("throughput (Gbit/s)", "gbit_per_sec", "%.2f")]
ratios = {}
for label, key, form in rows:
    weir, plain = median("weir", key), median("plain", key)
    paired = statistics.median(w[key] / p[key] for w, p in zip(runs["weir"], runs["plain"]))
    ratios[key] = weir / plain
    print(f"{label:24}{form % weir:>10}{form % plain:>10}{weir / plain:>12.3f}{paired:>10.3f}")
spread = {name: (min(r["gbit_per_sec"] for r in rounds_of),
                 max(r["gbit_per_sec"] for r in rounds_of)) for name, rounds_of in runs.items()}
print(f"throughput min-max over rounds: weir {spread['weir'][0]:.2f}-{spread['weir'][1]:.2f}, "
      f"plain {spread['plain'][0]:.2f}-{spread['plain'][1]:.2f} Gbit/s")
p50_ok = ratios["p50_us"] <= 1.05
throughput_ok = ratios["gbit_per_sec"] >= 0.95
print(f"goals: rr p50 within 5% of plain (weir/plain <= 1.05): {'met' if p50_ok else 'NOT met'}; "
      f"throughput >= 95% of plain (weir/plain >= 0.95): {'met' if throughput_ok else 'NOT met'}")
print(ct_note)
PY
