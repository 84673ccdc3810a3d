#!/usr/bin/env bash
# Services at scale: connection setup latency and request/response latency to a ClusterIP with
# 1, 1,000 and 10,000 Services programmed, weir's datapath side by side with kube-proxy's
# iptables mode (the same Services as KUBE-SERVICES / KUBE-SVC-* / KUBE-SEP-* DNAT chains).
# Goal: weir flat within 5% from 1 to 10,000 Services, while the iptables figures grow.
#
# Every (mode, N) pair is a simulated node of its own, all present at once: a network namespace
# with a weir-agent and two pods (client and server) wired by the real weir-cni, so all nodes
# have the very same veths, addresses and routes.
#   weir      the agent's --standalone folder holds the N Services and their EndpointSlices
#             (one List file from bench/services/gen.py); weir's programs translate the VIP.
#   iptables  the pods' clsact qdiscs are removed, so the node routes their packets as any
#             routed-veth CNI would, and the node's netfilter holds kube-proxy's rules for the
#             same N Services, loaded with iptables-restore in one go as a full kube-proxy sync
#             does. The rules live only in that node's namespace and go with it.
# Of the N Services, N-1 point to addresses nobody uses; the measured one is created last (a
# linear chain walks past all others first) and points to the server pod: port 80 to the
# svc_connect server (bench/services/svc_connect.c), port 81 to tcp_rr's echo server.
#
# Since all nodes exist at once, each round measures every (mode, N) back to back, in an order
# rotated from round to round, so machine noise and drift fall on all of them alike. A
# measurement is svc_connect (BENCH_SVC_CONNECTS connections, each timed from connect() to the
# completed handshake, then reset) and tcp_rr (BENCH_SVC_RR_ITERATIONS round trips of 1 byte on
# one connection), both from the client pod to VIP:port. Figures are medians over the rounds;
# the ratios X(N)/X(1) are medians of the per-round ratios (each between measurements taken
# moments apart, which cancels slow drifts of the machine).
#
# Every timed connection is a new flow for both datapaths: each measurement's connections bind
# their own block of source ports, so no 4-tuple is still in a conntrack from an earlier one.
# weir emits a flow event per new flow, rate-limited to 2000 a second per CPU (a window of 1 s
# from its first event); an emitted event wakes the agent, which costs a connect up to ~6 us on
# this kind of VM, varying with the state of the agent's CPU. That cost does not depend on N,
# so by default (BENCH_SVC_EVENTS=suppressed) the timed connections run beyond the budget, as
# they do in steady state at this benchmark's rate (~40,000 connections a second): each
# measurement starts a fresh window (a node's measurement begins at least a second after its
# previous one ended, the script waits when needed) and opens 2,100 untimed connections first,
# which use up the window's budget, in both modes alike.
# BENCH_SVC_EVENTS=emitted measures the other case: no burst, every timed weir connection
# emits its event. The datapath's counters (ct_new, events_suppressed) confirm either.
#
# CPUs (BENCH_SVC_CPUS="MEASURED OTHER", default: the last CPU and CPU 0): the client and the
# tcp_rr server share the MEASURED CPU, where the handshake completes inside the client's
# connect() and a round trip is stable (see bench/pod_rr.sh); the svc_connect server (which
# accepts and closes, off the timed path) and the agents run on OTHER, so their wakeups do not
# land in the middle of a timed connect.
#
#   BENCH_SVC_COUNTS        distinct Service counts; the first is the base (default "1 1000 10000")
#   BENCH_SVC_ROUNDS        rounds (default 6)
#   BENCH_SVC_CONNECTS      timed connections per measurement (default 1000, at most 1800)
#   BENCH_SVC_RR_ITERATIONS round trips per tcp_rr run (default 5000)
#   BENCH_SVC_IPTABLES      nft or legacy: the iptables backend (default nft, Debian's default)
#   BENCH_SVC_EVENTS        suppressed or emitted: weir's flow events for the timed connections
#   BENCH_SVC_CPUS          "MEASURED_CPU OTHER_CPU"
#
# Needs root. Reports the goal without failing on it; exits non-zero when any step of the
# measurement itself fails. All traffic stays inside the namespaces this script creates, and
# everything it creates is removed.
set -euo pipefail

# Nodes, pods, agents and cleanup: bench/lib.sh.
BENCH_TAG=sv BENCH_NAME=services_scale
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HERE="$BENCH_ROOT/bench/services"

read -r -a COUNTS <<<"${BENCH_SVC_COUNTS:-1 1000 10000}"
ROUNDS=${BENCH_SVC_ROUNDS:-6}
CONNECTS=${BENCH_SVC_CONNECTS:-1000}
RR_ITERATIONS=${BENCH_SVC_RR_ITERATIONS:-5000}
IPTABLES_MODE=${BENCH_SVC_IPTABLES:-nft}
EVENTS=${BENCH_SVC_EVENTS:-suppressed}
CONNECT_PORT=80 CONNECT_TARGET=7100 # as bench/services/gen.py writes them
RR_PORT=81 RR_TARGET=7101
MEASURED_VIP=10.96.250.1
CLUSTER_CIDR=10.240.0.0/12 # every node's pods (10.241.x.0/24, 10.242.x.0/24): --cluster-cidr

[ "${#COUNTS[@]}" -ge 1 ] && [ "${#COUNTS[@]}" -le 8 ] || die "BENCH_SVC_COUNTS: 1 to 8 counts"
for count in "${COUNTS[@]}"; do number_in "$count" 1 60000 "each of BENCH_SVC_COUNTS"; done
[ "$(printf '%s\n' "${COUNTS[@]}" | sort -u | wc -l)" = "${#COUNTS[@]}" ] ||
    die "BENCH_SVC_COUNTS must be distinct"
number_in "$ROUNDS" 1 100 BENCH_SVC_ROUNDS
# With the warm-up connections (a 20th, at least 5) below weir's event budget of 2000 a second.
number_in "$CONNECTS" 10 1800 BENCH_SVC_CONNECTS
WARMUP=$((CONNECTS / 20 < 5 ? 5 : CONNECTS / 20)) # as svc_connect counts them
BURST=2000 BURST_FLOWS=2100                         # svc_connect adds 100 warm-ups to 2000
[ "$EVENTS" = suppressed ] || BURST_FLOWS=0
PORT_BLOCK=$((BURST_FLOWS + WARMUP + CONNECTS))     # source ports a measurement uses
number_in "$RR_ITERATIONS" 100 10000000 BENCH_SVC_RR_ITERATIONS
case "$IPTABLES_MODE" in nft | legacy) ;; *) die "BENCH_SVC_IPTABLES must be nft or legacy" ;; esac
case "$EVENTS" in suppressed | emitted) ;; *) die "BENCH_SVC_EVENTS must be suppressed or emitted" ;; esac
read -r MEASURED_CPU OTHER_CPU <<<"${BENCH_SVC_CPUS:-$LAST_CPU 0}"
number_in "${MEASURED_CPU:-}" 0 "$LAST_CPU" "the measured CPU of BENCH_SVC_CPUS"
number_in "${OTHER_CPU:-0}" 0 "$LAST_CPU" "the other CPU of BENCH_SVC_CPUS"
OTHER_CPU=${OTHER_CPU:-0}
AGENT_CPU=$OTHER_CPU # where bench/lib.sh puts the agents
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, bpffs, tc, iptables)"
for f in "$WEIR_CNI" "$WEIR_AGENT" "$WEIRCTL" "$TCP_RR"; do
    [ -x "$f" ] || die "$f is missing: run 'make all build/bench/tcp_rr' first"
done
IPT="iptables-$IPTABLES_MODE"
for tool in "$IPT" "$IPT-restore" "$IPT-save" python3 tc nsenter taskset ss gcc; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh installs it)"
done

SVC_CONNECT="$WORK/svc_connect"
STARTED_AT=$(date +%s%N)
bench_traps
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

mkdir -p "$WORK"
gcc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror "$HERE/svc_connect.c" -o "$SVC_CONNECT" ||
    die "building svc_connect failed"

# ---- nodes and pods (bench/lib.sh: node_start, pod_create, pod_make_plain) ---------------

# Per index i of COUNTS and mode m (w: weir, p: iptables): node "$ID-$m$i", pods "$ID-${m}c$i"
# (client) and "$ID-${m}s$i" (server).
declare -A SERVER_IP=() CLIENT_VETH=() SERVER_VETH=()
echo "==> ${#COUNTS[@]} weir nodes and ${#COUNTS[@]} iptables-$IPTABLES_MODE nodes" \
    "(N = ${COUNTS[*]}), each with a client and a server pod; agents on CPU $OTHER_CPU"
for i in "${!COUNTS[@]}"; do
    for m in w p; do
        [ "$m" = w ] && octet=241 || octet=242
        node_start "$ID-$m$i" "10.$octet.$i.0/24"
        pod_create "$ID-$m$i" "$ID-${m}c$i" bench "${m}c$i"
        CLIENT_VETH[$m$i]=$HOST_VETH
        # Ephemeral ports (tcp_rr's) above the blocks svc_connect binds explicitly.
        in_netns "$ID-${m}c$i" sysctl -qw net.ipv4.ip_local_port_range="61000 65535" ||
            die "set the ephemeral port range in pod ${m}c$i"
        pod_create "$ID-$m$i" "$ID-${m}s$i" bench "${m}s$i"
        SERVER_VETH[$m$i]=$HOST_VETH SERVER_IP[$m$i]=$POD_IP
        if [ "$m" = p ]; then # plain routing: no weir program on the iptables node's pods
            pod_make_plain "$ID-$m$i" "${CLIENT_VETH[$m$i]}"
            pod_make_plain "$ID-$m$i" "${SERVER_VETH[$m$i]}"
        fi
        in_netns "$ID-${m}c$i" ping -c1 -W2 "${SERVER_IP[$m$i]}" >/dev/null ||
            die "node $ID-$m$i: the client pod cannot reach the server pod"
        in_netns "$ID-${m}s$i" taskset -c "$OTHER_CPU" "$SVC_CONNECT" server "$CONNECT_TARGET" \
            >"$WORK/connect-server-$m$i.log" 2>&1 &
        in_netns "$ID-${m}s$i" taskset -c "$MEASURED_CPU" "$TCP_RR" server "$RR_TARGET" \
            >"$WORK/rr-server-$m$i.log" 2>&1 &
        wait_listening "$ID-${m}s$i" "$CONNECT_TARGET"
        wait_listening "$ID-${m}s$i" "$RR_TARGET"
    done
done

check_datapaths() { # when: weir's programs on the weir nodes' pods, none on the iptables nodes'
    local i veth
    for i in "${!COUNTS[@]}"; do
        for veth in "${CLIENT_VETH[w$i]}" "${SERVER_VETH[w$i]}"; do
            in_netns "$ID-w$i" tc filter show dev "$veth" ingress | grep -q from_pod ||
                die "$1: from_pod is not attached to $veth on node $ID-w$i"
        done
        for veth in "${CLIENT_VETH[p$i]}" "${SERVER_VETH[p$i]}"; do
            if in_netns "$ID-p$i" tc qdisc show dev "$veth" | grep -q clsact; then
                die "$1: $veth on node $ID-p$i has a clsact qdisc again"
            fi
        done
    done
}
check_datapaths "after wiring"

# ---- programming N Services ----------------------------------------------------------------

program_weir() { # index count -> APPLY_MS (from the manifest's rename to every entry in the map),
    local node="$ID-w$1" count=$2 out # LOAD_MS (to the agent's "manifests loaded" log line)
    python3 "$HERE/gen.py" weir "$count" "$MEASURED_VIP" "${SERVER_IP[w$1]}" \
        >"$WORK/$node/manifests/.services.json.tmp" || die "generating $count Services failed"
    # N-1 others with one port each, the measured Service with two.
    out=$(python3 "$HERE/apply_weir.py" "$WORK/$node/state" "$WORK/$node/bpf" \
        "$WORK/$node/agent.log" "$WORK/$node/manifests/.services.json.tmp" \
        "$WORK/$node/manifests/services.json" $((count + 1)) "$MEASURED_VIP" "$CONNECT_PORT" \
        "$RR_PORT") || {
        tail -5 "$WORK/$node/agent.log" >&2
        die "weir-agent of $node did not apply $count Services"
    }
    APPLY_MS=${out#applied_ms=}
    APPLY_MS=${APPLY_MS%% *}
    LOAD_MS=${out##*loaded_ms=}
}

program_iptables() { # index count -> APPLY_MS: the iptables-restore run
    local node="$ID-p$1" count=$2 started rules
    python3 "$HERE/gen.py" iptables "$count" "$MEASURED_VIP" "${SERVER_IP[p$1]}" \
        "$CLUSTER_CIDR" >"$WORK/rules" || die "generating $count Services' rules failed"
    started=$(date +%s%N)
    in_netns "$node" "$IPT-restore" <"$WORK/rules" || die "$IPT-restore of $count Services failed"
    APPLY_MS=$(ms_since "$started")
    # Each Service port's rule, then the KUBE-NODEPORTS rule last.
    rules=$(in_netns "$node" "$IPT-save" -t nat | grep -c '^-A KUBE-SERVICES ')
    [ "$rules" = $((count + 2)) ] ||
        die "KUBE-SERVICES of $node holds $rules rules for $count Services, expected $((count + 2))"
    in_netns "$node" "$IPT-save" -t nat | grep '^-A KUBE-SERVICES ' | tail -2 | head -1 |
        grep -q -- "-d $MEASURED_VIP/32 .*--dport $CONNECT_PORT " ||
        die "the measured Service is not the last in KUBE-SERVICES of $node"
}

RESULTS="$WORK/results"
: >"$RESULTS"
echo "==> programming the Services (one node at a time)"
for i in "${!COUNTS[@]}"; do
    program_weir "$i" "${COUNTS[$i]}"
    weir_ms=$APPLY_MS weir_load_ms=$LOAD_MS
    program_iptables "$i" "${COUNTS[$i]}"
    echo "  N=${COUNTS[$i]}: weir-agent applied them in $weir_ms ms (manifests parsed and" \
        "stored after $weir_load_ms ms, its 30 ms debounce included)," \
        "$IPT-restore loaded them in $APPLY_MS ms"
    echo "apply $i ${COUNTS[$i]} weir_ms=$weir_ms weir_load_ms=$weir_load_ms" \
        "iptables_ms=$APPLY_MS" >>"$RESULTS"
done

# What went through each node's Service translation: for weir the datapath counters
# service_translated, ct_new and events_suppressed; for iptables the measured DNAT rule's packets.
translated() { # mode index
    if [ "$1" = weir ]; then
        "$WEIRCTL" --bpffs "$WORK/$ID-w$2/bpf" counters | awk '
            $1 == "service_translated" {t = $2} $1 == "ct_new" {n = $2}
            $1 == "events_suppressed" {s = $2} END {print t + 0, n + 0, s + 0}'
    else
        in_netns "$ID-p$2" "$IPT-save" -c -t nat |
            grep -- "--to-destination ${SERVER_IP[p$2]}:$CONNECT_TARGET" |
            sed -E 's/^\[([0-9]+):.*/\1/'
    fi
}

# ---- measuring -----------------------------------------------------------------------------

suppressed_events() { # index: weir's events_suppressed counter on that node
    local counters
    counters=$(translated weir "$1") || die "weirctl counters of $ID-w$1 failed"
    echo "${counters##* }"
}

declare -A LAST_END=() ATTEMPTS=()
RETRIES=0
measure() { # mode index round
    local mode=$1 i=$2 round=$3 client wait_ns port connect rr before after attempt
    [ "$mode" = weir ] && client="$ID-wc$i" || client="$ID-pc$i"
    for attempt in 1 2 3 4; do
        # Each attempt its own block of source ports (below the clients' ephemeral range).
        ATTEMPTS[$mode$i]=$((${ATTEMPTS[$mode$i]:-0} + 1))
        port=$((1024 + ((ATTEMPTS[$mode$i] - 1) % (59000 / PORT_BLOCK)) * PORT_BLOCK))
        # A fresh event budget window: a window lasts 1 s from its first event, which came at
        # the latest with the node's previous measurement, so once a second has passed since
        # that ended, this measurement's first connection opens a new one. weir's nodes need
        # it, the iptables nodes get the same pace.
        wait_ns=$((${LAST_END[$mode$i]:-0} + 1050000000 - $(date +%s%N)))
        [ "$wait_ns" -le 0 ] ||
            sleep "$((wait_ns / 1000000000)).$(printf '%09d' $((wait_ns % 1000000000)))"
        if [ "$EVENTS" = suppressed ]; then
            in_netns "$client" taskset -c "$MEASURED_CPU" timeout 300 "$SVC_CONNECT" client \
                "$MEASURED_VIP" "$CONNECT_PORT" "$BURST" "$port" >/dev/null ||
                die "the untimed burst to $MEASURED_VIP:$CONNECT_PORT ($mode, N=${COUNTS[$i]}) failed"
            port=$((port + BURST_FLOWS))
        fi
        [ "$mode" = weir ] && before=$(suppressed_events "$i")
        connect=$(in_netns "$client" taskset -c "$MEASURED_CPU" timeout 300 \
            "$SVC_CONNECT" client "$MEASURED_VIP" "$CONNECT_PORT" "$CONNECTS" "$port") ||
            die "svc_connect to $MEASURED_VIP:$CONNECT_PORT ($mode, N=${COUNTS[$i]}, round $round) failed"
        LAST_END[$mode$i]=$(date +%s%N)
        [ "$mode" = weir ] || break
        # Every timed weir connection (and its warm-ups) in the intended event state; when the
        # machine stalls for a second, a window can end in the middle: measure again.
        after=$(suppressed_events "$i")
        if [ "$EVENTS" = suppressed ]; then
            [ $((after - before)) -lt $((WARMUP + CONNECTS)) ] || break
        elif [ "$after" = "$before" ]; then
            break
        fi
        [ "$attempt" -lt 4 ] || die "weir, N=${COUNTS[$i]}: $((after - before)) of" \
            "$((WARMUP + CONNECTS)) connections had their events suppressed, 4 times in a row"
        RETRIES=$((RETRIES + 1))
        echo "  round $round  weir     N=${COUNTS[$i]}: $((after - before)) of" \
            "$((WARMUP + CONNECTS)) connections had their events suppressed" \
            "(expected $([ "$EVENTS" = emitted ] && echo none || echo all)): measuring again"
    done
    rr=$(in_netns "$client" taskset -c "$MEASURED_CPU" timeout 300 \
        "$TCP_RR" client "$MEASURED_VIP" "$RR_PORT" "$RR_ITERATIONS") ||
        die "tcp_rr to $MEASURED_VIP:$RR_PORT ($mode, N=${COUNTS[$i]}, round $round) failed"
    LAST_END[$mode$i]=$(date +%s%N)
    printf '  round %d  %-8s N=%-6d connect %s  rr %s\n' "$round" "$mode" "${COUNTS[$i]}" \
        "$(echo "$connect" | cut -d' ' -f1-2)" "$(echo "$rr" | cut -d' ' -f1-2)"
    echo "run $i ${COUNTS[$i]} $mode $round" \
        "$(echo "$connect" | sed -E 's/([a-z_0-9]+=)/connect_\1/g')" \
        "$(echo "$rr" | sed -E 's/([a-z_0-9]+=)/rr_\1/g')" >>"$RESULTS"
}

declare -A BEFORE=()
for i in "${!COUNTS[@]}"; do
    for mode in weir iptables; do BEFORE[$mode$i]=$(translated "$mode" "$i"); done
done
SLOTS=()
for i in "${!COUNTS[@]}"; do SLOTS+=("weir $i" "iptables $i"); done
echo "==> $ROUNDS rounds, each measuring every (mode, N) in a rotated order: $CONNECTS timed" \
    "connects and tcp_rr $RR_ITERATIONS x 1 byte to $MEASURED_VIP; client and tcp_rr server" \
    "on CPU $MEASURED_CPU, svc_connect server on CPU $OTHER_CPU"
for ((round = 1; round <= ROUNDS; round++)); do
    for ((k = 0; k < ${#SLOTS[@]}; k++)); do
        # shellcheck disable=SC2086 # "mode index"
        measure ${SLOTS[$(((k + round - 1) % ${#SLOTS[@]}))]} "$round"
    done
done
check_datapaths "after the rounds"
# Every timed connection went through its mode's Service translation as a new flow.
timed=$((ROUNDS * CONNECTS))
for i in "${!COUNTS[@]}"; do
    read -r t0 n0 _ <<<"${BEFORE[weir$i]}"
    read -r t1 n1 _ <<<"$(translated weir "$i")"
    [ $((t1 - t0)) -ge "$timed" ] || die "weir, N=${COUNTS[$i]}: $((t1 - t0)) translations for $timed timed connections"
    [ $((n1 - n0)) -ge "$timed" ] || die "weir, N=${COUNTS[$i]}: $((n1 - n0)) new flows for $timed timed connections"
    got=$(( $(translated iptables "$i") - ${BEFORE[iptables$i]} ))
    [ "$got" -ge "$timed" ] || die "iptables, N=${COUNTS[$i]}: the DNAT rule matched $got of $timed timed connections"
done

# One more Service where the most are: what a single change costs at that scale.
largest=0
for i in "${!COUNTS[@]}"; do [ "${COUNTS[$i]}" -gt "${COUNTS[$largest]}" ] && largest=$i; done
program_weir "$largest" $((COUNTS[largest] + 1))
weir_ms=$APPLY_MS weir_load_ms=$LOAD_MS
program_iptables "$largest" $((COUNTS[largest] + 1))
echo "update $largest ${COUNTS[$largest]} weir_ms=$weir_ms weir_load_ms=$weir_load_ms" \
    "iptables_ms=$APPLY_MS" >>"$RESULTS"

python3 - "$RESULTS" "$ROUNDS" "$CONNECTS" "$RR_ITERATIONS" "$IPTABLES_MODE" "$EVENTS" \
    "$RETRIES" "$(ms_since "$STARTED_AT")" <<'PY'
import statistics, sys

path, rounds, connects, iterations, mode, events, retries, elapsed_ms = sys.argv[1:]
counts, apply, runs, update = {}, {}, {}, None
for line in open(path):
    kind, index, count, *rest = line.split()
    index, count = int(index), int(count)
    counts[index] = count
    if kind == "run":
        run_mode, round_, *pairs = rest
        values = {k: float(v) for k, v in (p.split("=") for p in pairs)}
        runs[(run_mode, index, int(round_))] = values
    else:
        values = {k: float(v) for k, v in (p.split("=") for p in rest)}
        if kind == "apply":
            apply[index] = values
        else:
            update = (count, values)

modes = ("weir", "iptables")
rounds = int(rounds)
indices = sorted(counts)
base = indices[0]

def median(run_mode, index, key):
    return statistics.median(runs[(run_mode, index, r)][key] for r in range(1, rounds + 1))

def paired(run_mode, index, key):  # the median over rounds of X(N)/X(base) within a round
    ratios = [runs[(run_mode, index, r)][key] / runs[(run_mode, base, r)][key]
              for r in range(1, rounds + 1)]
    return statistics.median(ratios), min(ratios), max(ratios)

print()
print(f"ClusterIP with N Services programmed: weir (eBPF) vs kube-proxy-style iptables-{mode} "
      f"DNAT chains, side by side")
print(f"{rounds} rounds, each measuring every (mode, N) node in a rotated order; per measurement "
      f"{connects} connects (connect() to the completed handshake) and tcp_rr {iterations} x 1 "
      f"byte; figures are medians over the rounds, in microseconds; X(N)/X({counts[base]}) is "
      f"the median of per-round ratios; weir's flow events {events} for the timed connections")
head = (f"{'N':>7} | {'connect p50 / p99':^31} | {'rr p50':^17} | "
        f"{'weir(N)/weir(' + str(counts[base]) + ')':^17} | "
        f"{'ipt(N)/ipt(' + str(counts[base]) + ')':^17} | {'apply ms':^15}")
print(head)
print(f"{'':>7} | {'weir':>13} {'iptables':>17} | {'weir':>7} {'iptables':>9} | "
      f"{'connect':>8} {'rr':>8} | {'connect':>8} {'rr':>8} | {'weir':>6} {'iptables':>8}")
print("-" * len(head))
worst = {"connect": 0.0, "rr": 0.0}
spread = {"connect": [], "rr": []}
growth = {"connect": 0.0, "rr": 0.0}
for index in indices:
    f = {m: {k: median(m, index, k) for k in ("connect_p50_us", "connect_p99_us", "rr_p50_us")}
         for m in modes}
    r = {m: {k: paired(m, index, k + "_p50_us") for k in ("connect", "rr")} for m in modes}
    if index != base:
        for k in ("connect", "rr"):
            worst[k] = max(worst[k], r["weir"][k][0])
            spread[k] += [r["weir"][k][1], r["weir"][k][2]]
            growth[k] = max(growth[k], r["iptables"][k][0])
    w, i = f["weir"], f["iptables"]
    print(f"{counts[index]:>7} | {w['connect_p50_us']:6.1f} /{w['connect_p99_us']:6.1f} "
          f"{i['connect_p50_us']:8.1f} /{i['connect_p99_us']:7.1f} | "
          f"{w['rr_p50_us']:7.1f} {i['rr_p50_us']:9.1f} | "
          f"{r['weir']['connect'][0]:8.3f} {r['weir']['rr'][0]:8.3f} | "
          f"{r['iptables']['connect'][0]:8.3f} {r['iptables']['rr'][0]:8.3f} | "
          f"{apply[index]['weir_ms']:6.0f} {apply[index]['iptables_ms']:8.0f}")
print("apply ms: weir, from writing the manifest to the agent reporting the change applied and "
      "its services map holding every entry; iptables, the iptables-restore run")
print("weir's apply, parsing and storing the manifests (after a 30 ms debounce) / compiling and "
      "writing the maps: " +
      ", ".join(f"N={counts[i]} {apply[i]['weir_load_ms']:.0f} / "
                f"{apply[i]['weir_ms'] - apply[i]['weir_load_ms']:.0f} ms" for i in indices))
if update:
    print(f"one Service added at N={update[0]}: weir-agent {update[1]['weir_ms']:.0f} ms "
          f"({update[1]['weir_load_ms']:.0f} ms to parse and store), iptables-restore (full sync) "
          f"{update[1]['iptables_ms']:.0f} ms")
if len(indices) > 1:
    flat = worst["connect"] <= 1.05 and worst["rr"] <= 1.05
    grew = growth["connect"] > 1.05
    print(f"goal: weir's p50s grow by at most 5% from N={counts[base]} at every N (worst paired ratio "
          f"connect {worst['connect']:.3f}, rr {worst['rr']:.3f}; per-round ratios ranged "
          f"{min(spread['connect']):.2f}-{max(spread['connect']):.2f} and "
          f"{min(spread['rr']):.2f}-{max(spread['rr']):.2f}): {'met' if flat else 'NOT met'}; "
          f"iptables connect p50 {'grew' if grew else 'did not grow'} "
          f"(up to {growth['connect']:.2f}x; rr p50 up to {growth['rr']:.2f}x)")
else:
    print("goal: needs more than one Service count")
if int(retries):
    print(f"{retries} weir measurements were taken again: an event budget window ended in the "
          f"middle (the machine stalled)")
print(f"run time {int(elapsed_ms) / 1000:.0f} s")
PY
