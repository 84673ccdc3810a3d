# Shared setup of the agent benchmarks (sourced by bench/agent_*.sh, which set BENCH_TAG first).
# One simulated node: a network namespace running the real weir-agent (entered with nsenter,
# so the bpffs it mounts is visible to every process), the test API server inside that
# namespace (the agent reaches it on the node's loopback), and pods wired by the real
# weir-cni. Every name carries "$ID"; cleanup stops what was started (by pid), deletes every
# network namespace named "$ID-*", unmounts the bpffs and removes the work folder.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR="$ROOT/bench/agent"
WEIR_CNI="$ROOT/build/weir-cni"
WEIR_AGENT="$ROOT/build/weir-agent"
FIXTURES="$ROOT/tests/fixtures"

ID="${BENCH_TAG}$$"
WORK="/tmp/weir-bench-$ID"
NODE="$ID-node"
NODE_NAME="bench-node-$ID"
BPFFS="$WORK/bpf"
STATE_DIR="$WORK/state"
CNI_CONF_DIR="$WORK/cni"
API_DIR="$WORK/api"
AGENT_PID=""
API_PID=""
HELPER_PID=""
HARNESS_PID=""

die() {
    echo "bench: $*" >&2
    exit 1
}

bench_preflight() {
    [ "$(id -u)" = 0 ] || die "needs root (network namespaces, bpffs)"
    local f
    for f in "$WEIR_CNI" "$WEIR_AGENT"; do
        [ -x "$f" ] || die "$f is missing: run 'make all' first"
    done
    for f in "$FIXTURES/k8s_api_server.py" "$BENCH_DIR/bpfmap.py"; do
        [ -f "$f" ] || die "$f is missing"
    done
    for f in python3 nsenter ip openssl; do
        command -v "$f" >/dev/null || die "$f is missing"
    done
    [ ! -e "$WORK" ] || die "$WORK already exists"
}

# run_waited command...: in the background, waited for, so that a signal to this script stops
# the run at once (bash runs traps only between foreground commands).
run_waited() {
    "$@" &
    HARNESS_PID=$!
    local status=0
    wait "$HARNESS_PID" || status=$?
    HARNESS_PID=""
    return "$status"
}

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

bench_cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    [ -z "$HARNESS_PID" ] || stop_pid "$HARNESS_PID"
    [ -z "$HELPER_PID" ] || stop_pid "$HELPER_PID"
    [ -z "$AGENT_PID" ] || stop_pid "$AGENT_PID"
    # An agent a harness started (and had no chance to stop) left its pid here.
    if [ -f "$WORK/agent.pid" ]; then
        stop_pid "$(cat "$WORK/agent.pid")"
    fi
    [ -z "$API_PID" ] || stop_pid "$API_PID"
    # Pods first (their veth peers in the node go with them), then the node.
    local netns
    for netns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$ID-" | sort -r); do
        [ "$netns" = "$NODE" ] && continue
        ip netns pids "$netns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$netns" 2>/dev/null
    done
    if [ -e "/var/run/netns/$NODE" ]; then
        ip netns pids "$NODE" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$NODE" 2>/dev/null
    fi
    if mountpoint -q "$BPFFS" 2>/dev/null; then
        umount "$BPFFS"
    fi
    rm -rf "$WORK"
    exit "$status"
}

bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

node_create() {
    mkdir -p "$WORK" "$STATE_DIR" "$CNI_CONF_DIR" "$API_DIR"
    ip netns add "$NODE" || die "ip netns add $NODE"
    ip -n "$NODE" link set lo up || die "lo up in $NODE"
}

# api_server_start [server script] [extra args...]: the test API server (or a wrapper taking the
# same flags) in the node's namespace; waits for DIR/ready.
api_server_start() {
    local script=${1:-$FIXTURES/k8s_api_server.py}
    shift || true
    # nsenter directly, not through a shell function, so $! is the server itself.
    nsenter --net="/var/run/netns/$NODE" python3 "$script" --port 0 --dir "$API_DIR" \
        --omit-item-kind --quiet "$@" >"$WORK/api.log" 2>&1 &
    API_PID=$!
    local i
    for i in $(seq 1 1200); do
        [ -f "$API_DIR/ready" ] && return 0
        if ! kill -0 "$API_PID" 2>/dev/null; then
            API_PID=""
            cat "$WORK/api.log" >&2
            die "the test API server exited"
        fi
        sleep 0.05
    done
    cat "$WORK/api.log" >&2
    die "the test API server is not ready after 60 s"
}

# agent_start LOG extra-flags...: weir-agent in the node; waits for its socket and CNI config.
agent_start() {
    local log=$1
    shift
    nsenter --net="/var/run/netns/$NODE" "$WEIR_AGENT" --node-name "$NODE_NAME" \
        --pod-cidr "$POD_CIDR" --bpffs "$BPFFS" --state-dir "$STATE_DIR" \
        --cni-conf-dir "$CNI_CONF_DIR" "$@" >>"$log" 2>&1 &
    AGENT_PID=$!
    local i
    for i in $(seq 1 400); do
        [ -S "$STATE_DIR/weir.sock" ] && [ -f "$CNI_CONF_DIR/10-weir.conflist" ] && return 0
        if ! kill -0 "$AGENT_PID" 2>/dev/null; then
            AGENT_PID=""
            cat "$log" >&2
            die "weir-agent exited"
        fi
        sleep 0.05
    done
    cat "$log" >&2
    die "weir-agent not ready after 20 s"
}

agent_stop() {
    [ -n "$AGENT_PID" ] || return 0
    kill -TERM "$AGENT_PID" 2>/dev/null
    local status=0
    wait "$AGENT_PID" 2>/dev/null || status=$?
    AGENT_PID=""
    [ "$status" = 0 ] || die "weir-agent exited with $status on SIGTERM"
}

# pods_wire OUT_JSON PREFIX (--count N --namespace NS | --list FILE): pod network namespaces
# "$ID-PREFIX<i>" wired with weir-cni ADD exactly as a runtime does; OUT_JSON lists
# {namespace, name, netns, ip} per pod.
pods_wire() {
    local out=$1 prefix=$2
    shift 2
    run_waited python3 "$BENCH_DIR/wire_pods.py" --node "$NODE" --id "$ID" --prefix "$prefix" \
        --conflist "$CNI_CONF_DIR/10-weir.conflist" --cni "$WEIR_CNI" --out "$out" "$@" ||
        die "wiring pods failed"
}
