# Shared helpers for weir's end-to-end tests. A "node" is a network namespace running a real
# weir-agent (entered with nsenter, so the bpffs it mounts is visible to every test process);
# a "pod" is a network namespace wired by the real weir-cni, invoked exactly as a container
# runtime does: CNI_* environment plus the network config on stdin. Every name carries the
# test's unique id, and cleanup removes every netns, veth, pin, file and process the test made.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD="$ROOT/build"
WEIR_CNI="$BUILD/weir-cni"
WEIR_AGENT="$BUILD/weir-agent"
WEIRCTL="$BUILD/weirctl"

# Unique per test process; short because netns names are used in interface-free places only.
TEST_ID="wt$(printf '%x' "$BASHPID")$(printf '%04x' $((RANDOM)))"
WORK="/tmp/weir-e2e-$TEST_ID"
NODE_NETNS="$TEST_ID-node"
BPFFS="$WORK/bpf"
STATE_DIR="$WORK/state"
CNI_CONF_DIR="$WORK/cni"
MANIFESTS="$WORK/manifests"
POD_CIDR="${POD_CIDR:-10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).0/24}"
AGENT_PID=""
CREATED_NETNS=()
CREATED_CGROUPS=() # removed by cleanup once the netns (and their processes) are gone
EXTRA_PIDS=()      # more agents (multi-node tests), stopped by cleanup
EXTRA_MOUNTS=()    # their bpffs mounts

fail() {
    echo "    FAIL: $*" >&2
    exit 1
}

assert_eq() { # got want what
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

assert_contains() { # haystack needle what
    case "$1" in *"$2"*) ;; *) fail "$3: expected to contain '$2', got '$1'" ;; esac
}

in_node() {
    nsenter --net="/var/run/netns/$NODE_NETNS" "$@"
}

in_pod() { # pod command...
    local pod=$1
    shift
    ip netns exec "$TEST_ID-$pod" "$@"
}

netns_add() {
    ip netns add "$1" || fail "ip netns add $1"
    CREATED_NETNS+=("$1")
    ip netns exec "$1" ip link set lo up
}

node_create() {
    mkdir -p "$WORK" "$STATE_DIR" "$CNI_CONF_DIR"
    netns_add "$NODE_NETNS"
    # A node address for "pod reaches the host" checks, local to the node namespace.
    in_node ip addr add 192.168.250.1/32 dev lo
}

agent_start() { # extra agent flags... (default source: the standalone folder $MANIFESTS)
    local source=(--standalone "$MANIFESTS")
    case " $* " in *" --kubeconfig "* | *" --standalone "*) source=() ;; esac
    mkdir -p "$MANIFESTS"
    # nsenter directly, not through a shell function, so $! is the agent itself.
    nsenter --net="/var/run/netns/$NODE_NETNS" "$WEIR_AGENT" --node-name "$TEST_ID" --pod-cidr "$POD_CIDR" --bpffs "$BPFFS" \
        --state-dir "$STATE_DIR" --cni-conf-dir "$CNI_CONF_DIR" "${source[@]}" "$@" \
        >>"$WORK/agent.log" 2>&1 &
    AGENT_PID=$!
    local waited=0
    until [ -S "$STATE_DIR/weir.sock" ] && [ -f "$CNI_CONF_DIR/10-weir.conflist" ]; do
        kill -0 "$AGENT_PID" 2>/dev/null || { cat "$WORK/agent.log" >&2; fail "weir-agent exited"; }
        sleep 0.05
        waited=$((waited + 1))
        [ $waited -lt 200 ] || fail "weir-agent not ready after 10s"
    done
}

agent_stop() {
    if [ -n "$AGENT_PID" ]; then
        kill -TERM "$AGENT_PID" 2>/dev/null || true
        local status=0
        wait "$AGENT_PID" 2>/dev/null || status=$?
        AGENT_PID=""
        [ "$status" = 0 ] || fail "weir-agent exited with $status on SIGTERM"
    fi
}

# The plugin config a runtime hands the plugin: the conflist's plugin entry plus the list's
# cniVersion and name. Optional jq-free overrides: KEY=JSONVALUE pairs.
net_config() {
    python3 - "$CNI_CONF_DIR/10-weir.conflist" "$@" <<'PY'
import json, sys
conflist = json.load(open(sys.argv[1]))
plugin = dict(conflist["plugins"][0])
plugin["cniVersion"] = conflist["cniVersion"]
plugin["name"] = conflist["name"]
for pair in sys.argv[2:]:
    key, _, value = pair.partition("=")
    if value == "":
        plugin.pop(key, None)
    else:
        plugin[key] = json.loads(value)
print(json.dumps(plugin))
PY
}

# cni COMMAND CONTAINER_ID POD IFNAME [CONFIG_JSON]: runs weir-cni in the node; stdout goes to
# $WORK/out, the exit code to CNI_RC.
cni() {
    local command=$1 container=$2 pod=$3 ifname=$4 config=${5:-}
    [ -n "$config" ] || config=$(net_config)
    local netns=""
    [ -n "$pod" ] && netns="/var/run/netns/$TEST_ID-$pod"
    set +e
    printf '%s' "$config" | in_node env -i PATH="$PATH" CNI_COMMAND="$command" \
        CNI_CONTAINERID="$container" CNI_NETNS="$netns" CNI_IFNAME="$ifname" \
        CNI_PATH=/usr/lib/cni CNI_ARGS="K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=$pod" \
        "$WEIR_CNI" >"$WORK/out" 2>"$WORK/err"
    CNI_RC=$?
    set -e
    CNI_OUT=$(cat "$WORK/out")
}

json_get() { # json python-expression-on-d
    printf '%s' "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}

pod_create() { # pod-name -> wires it with container id "c-<pod>" and sets POD_IP
    netns_add "$TEST_ID-$1"
    cni ADD "c-$1" "$1" eth0
    [ "$CNI_RC" = 0 ] || fail "ADD $1 failed: $CNI_OUT $(cat "$WORK/err")"
    POD_IP=$(json_get "$CNI_OUT" 'd["ips"][0]["address"].split("/")[0]')
    echo "$CNI_OUT" >"$WORK/result-$1.json"
}

# State probes: each prints a count, so tests can assert "nothing leaked".
# ---- helpers many tests share ------------------------------------------------------------------

MAPTOOL="$BUILD/tests/weir-maptool"
maptool() { in_node "$MAPTOOL" --bpffs "$BPFFS" "$@"; }

status_field() { # field of `weirctl status` (its JSON when piped)
    in_node "$WEIRCTL" --state-dir "$STATE_DIR" status |
        python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"
}

wait_applied_after() { # previous appliedChanges: waits until the agent applied something newer
    local i
    for i in $(seq 1 250); do
        [ "$(status_field appliedChanges)" -gt "$1" ] && return 0
        sleep 0.02
    done
    fail "agent did not apply a change within 5 s"
}

write_manifest() { # name content: atomically, as the agent may read the folder at any time
    printf '%s\n' "$2" >"$MANIFESTS/.$1.tmp"
    mv "$MANIFESTS/.$1.tmp" "$MANIFESTS/$1"
}

count_weir_veths() { in_node ip -o link show type veth | grep -c ': weir' || true; }
count_records() { find "$STATE_DIR/endpoints" -name '*.json' 2>/dev/null | wc -l; }
count_allocations() { find "$STATE_DIR/ipam" -maxdepth 1 -name '[0-9]*' 2>/dev/null | wc -l; }
count_map_entries() {
    [ -e "$BPFFS/endpoints" ] || { echo 0; return; }
    bpftool map dump pinned "$BPFFS/endpoints" -j 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
count_routes_to_pods() { in_node ip -4 route show | grep -c ' dev weir' || true; }

assert_nothing_left() { # what
    assert_eq "$(count_weir_veths)" 0 "$1: weir veths"
    assert_eq "$(count_records)" 0 "$1: endpoint records"
    assert_eq "$(count_allocations)" 0 "$1: IPAM allocations"
    assert_eq "$(count_map_entries)" 0 "$1: endpoints map entries"
    assert_eq "$(count_routes_to_pods)" 0 "$1: pod routes"
}

cleanup() {
    local status=$?
    set +e
    if [ -n "$AGENT_PID" ]; then # no fail() here: cleanup must run to the end
        kill -TERM "$AGENT_PID" 2>/dev/null
        wait "$AGENT_PID" 2>/dev/null
        AGENT_PID=""
    fi
    local pid mount netns
    for pid in "${EXTRA_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for netns in "${CREATED_NETNS[@]}"; do
        ip netns pids "$netns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$netns" 2>/dev/null
    done
    local cgroup
    for cgroup in "${CREATED_CGROUPS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$cgroup" 2>/dev/null && break; sleep 0.1; done
    done
    for mount in "${EXTRA_MOUNTS[@]}"; do
        mountpoint -q "$mount" 2>/dev/null && umount "$mount" 2>/dev/null
    done
    if mountpoint -q "$BPFFS" 2>/dev/null; then
        umount "$BPFFS" 2>/dev/null
    fi
    rm -rf "$WORK"
    exit $status
}
