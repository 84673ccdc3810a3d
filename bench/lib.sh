# Shared setup of weir's benchmarks (sourced; set BENCH_TAG, two letters, before sourcing).
#
# A "node" is a network namespace running a real weir-agent (entered with nsenter, so the bpffs
# it mounts is visible to every process here); a "pod" is a network namespace wired by the real
# weir-cni, invoked exactly as a container runtime does (CNI_* environment, config on stdin).
# A "plain" pod is the same pod with its host veth's clsact qdisc removed: the node then routes
# its packets as any routed-veth CNI would, with no program in the way.
#
# Every name carries "$ID" (tag + pid), so runs never collide with each other or with tests.
# bench_traps installs a cleanup that runs on every exit, failure and signal included: it stops
# what was started (by pid), deletes the network namespaces this run created (their veths,
# routes and iptables rules go with them), unmounts the bpffs mounts, removes the CPU
# accounting cgroups and the work folder. Nothing outside those namespaces is touched.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_BUILD="$BENCH_ROOT/build"
WEIR_CNI="$BENCH_BUILD/weir-cni"
WEIR_AGENT="$BENCH_BUILD/weir-agent"
WEIRCTL="$BENCH_BUILD/weirctl"
TCP_RR="$BENCH_BUILD/bench/tcp_rr"
MAPTOOL="$BENCH_BUILD/tests/weir-maptool"

ID="${BENCH_TAG:-wb}$$"
WORK="/tmp/weir-bench-$ID"
LAST_CPU=$(($(nproc) - 1))
MEASURED_CPU=${MEASURED_CPU:-$LAST_CPU} # clients, servers and proxies: one CPU, stable latency
AGENT_CPU=${AGENT_CPU:-0}               # agents: off the measured CPU
# Measured processes run at a higher priority than the machine's other work (a shared machine:
# builds and tests of others would otherwise preempt them and land in the percentiles).
MEASURED_NICE=${MEASURED_NICE:--10}
CPUACCT_ROOT=/sys/fs/cgroup/cpuacct

CREATED_NETNS=()        # in creation order; pods after their node
declare -A NODE_AGENT=() # node -> agent pid
BACKGROUND_PIDS=()      # servers, proxies: stopped first
CREATED_CGROUPS=()
WAITED_PID=""

die() {
    echo "${BENCH_NAME:-bench}: $*" >&2
    exit 1
}

number_in() { # value minimum maximum name
    [[ "$1" =~ ^[0-9]{1,8}$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] ||
        die "$4 must be a number from $2 to $3, got '$1'"
}

need_tools() { # tool...: each on PATH, or die naming the package script
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is missing (make bench installs it: scripts/deps.sh bench)"
    done
}

need_built() { # file...: each built, or die naming the make target
    local file
    for file in "$@"; do
        [ -x "$file" ] || die "$file is missing: run 'make bench' (or make all ${file#"$BENCH_ROOT"/})"
    done
}

stop_pid() { # pid: TERM, then KILL after 5 s; waits when it is our child
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

bench_cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    [ -z "$WAITED_PID" ] || stop_pid "$WAITED_PID"
    local pid i netns node cgroup
    for pid in "${BACKGROUND_PIDS[@]}"; do stop_pid "$pid"; done
    # Pods first (what runs in them, and their veths in the nodes, go with them), then the
    # agents, then the nodes (routes and iptables rules go with them), pins and files.
    for ((i = ${#CREATED_NETNS[@]} - 1; i >= 0; i--)); do
        netns=${CREATED_NETNS[$i]}
        [ -n "${NODE_AGENT[$netns]+set}" ] && continue
        ip netns pids "$netns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$netns" 2>/dev/null
    done
    for node in "${!NODE_AGENT[@]}"; do
        [ -z "${NODE_AGENT[$node]}" ] || stop_pid "${NODE_AGENT[$node]}"
        ip netns pids "$node" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$node" 2>/dev/null
        if mountpoint -q "$WORK/$node/bpf" 2>/dev/null; then
            umount "$WORK/$node/bpf"
        fi
    done
    for ((i = ${#CREATED_CGROUPS[@]} - 1; i >= 0; i--)); do
        cgroup=${CREATED_CGROUPS[$i]}
        for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$cgroup" 2>/dev/null && break; sleep 0.1; done
    done
    rm -rf "$WORK"
    exit "$status"
}

bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# run_waited command...: in the background and waited for, so that a signal to this script
# stops the run at once (bash runs traps only between foreground commands).
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
    ip -n "$1" link set lo up || die "lo up in $1"
}

in_netns() { # netns command...
    local netns=$1
    shift
    ip netns exec "$netns" "$@"
}

# cgroup_create NAME -> CGROUP: a cpuacct cgroup of this run (CPU time of what runs in it,
# softirq work done in its processes' context included); empty when cpuacct is not available.
cgroup_create() {
    CGROUP=""
    [ -d "$CPUACCT_ROOT" ] || return 0
    local parent="$CPUACCT_ROOT/weir-bench-$ID"
    if [ ! -d "$parent" ]; then
        mkdir "$parent" 2>/dev/null || return 0
        CREATED_CGROUPS+=("$parent")
    fi
    mkdir "$parent/$1" 2>/dev/null || return 0
    CREATED_CGROUPS+=("$parent/$1")
    CGROUP="$parent/$1"
}

cgroup_usage_ns() { # cgroup -> CPU time used so far, in ns (0 without a cgroup)
    if [ -n "$1" ]; then cat "$1/cpuacct.usage"; else echo 0; fi
}

# in_cgroup CGROUP command...: the command runs (exec) inside the cgroup, same pid.
in_cgroup() {
    local cgroup=$1
    shift
    if [ -z "$cgroup" ]; then
        exec "$@"
    fi
    echo "$BASHPID" >"$cgroup/cgroup.procs" || die "join $cgroup"
    exec "$@"
}

# node_launch NODE CIDR [agent flags...]: the node namespace "NODE" (pass "$ID-..." names) and
# its weir-agent in --standalone mode on $WORK/NODE/manifests (write objects there before or
# after), in the cgroup $NODE_CGROUP when set. Does not wait: several nodes load their
# datapaths in parallel, then node_wait each.
node_launch() {
    local node=$1 cidr=$2 dir="$WORK/$1"
    shift 2
    mkdir -p "$dir/state" "$dir/cni" "$dir/manifests"
    netns_add "$node"
    # The subshell execs the agent: $! is the agent itself.
    (in_cgroup "${NODE_CGROUP:-}" nsenter --net="/var/run/netns/$node" \
        "$WEIR_AGENT" --node-name "$node" --pod-cidr "$cidr" --bpffs "$dir/bpf" \
        --state-dir "$dir/state" --cni-conf-dir "$dir/cni" --standalone "$dir/manifests" \
        "$@" >>"$dir/agent.log" 2>&1) &
    NODE_AGENT[$node]=$!
}

# node_wait NODE: until its agent is ready (control socket and CNI config written); then the
# agent moves to AGENT_CPU, off the measured one, and the plugin config a runtime would hand
# weir-cni is kept in $WORK/NODE/plugin.json.
node_wait() {
    local node=$1 dir="$WORK/$1" waited=0
    until [ -S "$dir/state/weir.sock" ] && [ -f "$dir/cni/10-weir.conflist" ]; do
        if ! node_agent_alive "$node"; then
            NODE_AGENT[$node]=""
            tail -n 20 "$dir/agent.log" >&2
            die "weir-agent of $node exited"
        fi
        sleep 0.05
        waited=$((waited + 1))
        [ "$waited" -lt 600 ] || { tail -n 20 "$dir/agent.log" >&2; die "weir-agent of $node not ready after 30 s"; }
    done
    taskset -a -p -c "$AGENT_CPU" "${NODE_AGENT[$node]}" >/dev/null || die "pin the agent of $node"
    python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
print(json.dumps(dict(c["plugins"][0], cniVersion=c["cniVersion"], name=c["name"])))' \
        "$dir/cni/10-weir.conflist" >"$dir/plugin.json" || die "read the CNI config of $node"
}

node_start() { # NODE CIDR [agent flags...]: node_launch and node_wait
    node_launch "$@"
    node_wait "$1"
}

node_agent_alive() { # node
    [ -n "${NODE_AGENT[$1]:-}" ] && kill -0 "${NODE_AGENT[$1]}" 2>/dev/null
}

# pod_create NODE NETNS [K8S_NAMESPACE K8S_NAME] -> POD_IP, HOST_VETH: a pod network namespace
# wired by weir-cni ADD in NODE, as a runtime does it.
pod_create() {
    local node=$1 netns=$2 namespace=${3:-bench} name=${4:-$2} out
    netns_add "$netns"
    out=$(nsenter --net="/var/run/netns/$node" env -i PATH="$PATH" \
        CNI_COMMAND=ADD CNI_CONTAINERID="$netns" CNI_NETNS="/var/run/netns/$netns" \
        CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
        CNI_ARGS="K8S_POD_NAMESPACE=$namespace;K8S_POD_NAME=$name" \
        "$WEIR_CNI" <"$WORK/$node/plugin.json" 2>"$WORK/cni-$netns.err") ||
        die "CNI ADD of $netns in $node failed: $out $(cat "$WORK/cni-$netns.err")"
    # ips[0] is the first address of the result; the node routes it through the pod's veth.
    POD_IP=$(printf '%s' "$out" | tr -d ' \t\n' | sed -nE 's/.*"ips":\[\{[^]]*"address":"([0-9.]+)\/.*/\1/p')
    [ -n "$POD_IP" ] || die "CNI ADD of $netns gave no address: $out"
    HOST_VETH=$(ip -n "$node" -o route get "$POD_IP" | sed -nE 's/.* dev ([^ ]+).*/\1/p')
    [ -n "$HOST_VETH" ] || die "no route to $POD_IP in $node"
}

pod_make_plain() { # node host-veth: no weir program on this pod's veth any more
    in_netns "$1" tc qdisc del dev "$2" clsact || die "remove clsact from $2 in $1"
}

veth_has_weir() { # node host-veth -> 0 when weir's from_pod program is attached
    in_netns "$1" tc filter show dev "$2" ingress 2>/dev/null | grep -q from_pod
}

wait_listening() { # netns port [address]
    local i
    for i in $(seq 1 250); do
        in_netns "$1" ss -Hltn "sport = :$2" | grep -q . && return 0
        sleep 0.02
    done
    die "nothing listening in $1 on port $2"
}

# spawn NETNS CGROUP LOG command...: a long-running helper (server, proxy) in a pod, on the
# measured CPU at MEASURED_NICE, in CGROUP; stopped by cleanup. Sets SPAWNED_PID.
spawn() {
    local netns=$1 cgroup=$2 log=$3
    shift 3
    (in_cgroup "$cgroup" ip netns exec "$netns" taskset -c "$MEASURED_CPU" \
        nice -n "$MEASURED_NICE" "$@" >"$log" 2>&1) &
    SPAWNED_PID=$!
    BACKGROUND_PIDS+=("$SPAWNED_PID")
}

# What the machine is, for reports: one line.
machine_line() {
    printf 'kernel %s, %s CPUs (%s), %s GiB memory' "$(uname -r)" "$(nproc)" \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
        "$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
}
