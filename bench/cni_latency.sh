#!/usr/bin/env bash
# CNI ADD and DEL latency of weir-cni next to Debian's reference ptp plugin (host-local IPAM),
# measured in the same run. Each plugin gets its own "node" network namespace (weir's runs a
# real weir-agent); every pod is its own network namespace. A small python3 harness runs the
# plugins exactly as a container runtime does (CNI_* environment, config on stdin, prevResult
# on DEL) and times each invocation with time.perf_counter_ns. The two plugins are interleaved
# pod by pod, alternating which goes first, so machine noise hits both alike: first the ADD of
# every pod (the node fills up to BENCH_PODS pods), then the DEL of every pod.
#
#   BENCH_PODS   pods per plugin (default 100)
#
# Needs root. Exits non-zero if any ADD or DEL fails or leaves the node in the wrong state.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEIR_CNI="$ROOT/build/weir-cni"
WEIR_AGENT="$ROOT/build/weir-agent"
CNI_BIN_DIR=/usr/lib/cni
PTP="$CNI_BIN_DIR/ptp"

PODS=${BENCH_PODS:-100}
die() {
    echo "bench: $*" >&2
    exit 1
}
if ! [[ "$PODS" =~ ^[0-9]{1,5}$ ]] || [ "$PODS" -lt 1 ] || [ "$PODS" -gt 60000 ]; then
    die "BENCH_PODS must be a number from 1 to 60000, got '$PODS'"
fi
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, bpffs)"
for f in "$WEIR_CNI" "$WEIR_AGENT"; do
    [ -x "$f" ] || die "$f is missing: run 'make all' first"
done
for f in "$PTP" "$CNI_BIN_DIR/host-local"; do
    [ -x "$f" ] || die "$f is missing: install containernetworking-plugins"
done
command -v python3 >/dev/null || die "python3 is missing"

# A /24 per node as Kubernetes hands out; a /16 when more pods than a /24 holds are asked for.
if [ "$PODS" -le 250 ]; then
    WEIR_CIDR=10.230.0.0/24 PTP_CIDR=10.231.0.0/24
else
    WEIR_CIDR=10.230.0.0/16 PTP_CIDR=10.231.0.0/16
fi

ID="wb$$"
WORK="/tmp/weir-bench-$ID"
BPFFS="$WORK/bpf"
STATE_DIR="$WORK/state"
CNI_CONF_DIR="$WORK/cni"
WEIR_NODE="$ID-weir"
PTP_NODE="$ID-ptp"
AGENT_PID=""
HARNESS_PID=""
CREATED_NETNS=()

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "$HARNESS_PID" ]; then
        kill -TERM "$HARNESS_PID" 2>/dev/null
        wait "$HARNESS_PID" 2>/dev/null
    fi
    if [ -n "$AGENT_PID" ]; then
        kill -TERM "$AGENT_PID" 2>/dev/null
        wait "$AGENT_PID" 2>/dev/null
    fi
    # Pods first (their veth peers in the nodes go with them), then the nodes.
    local i netns
    for ((i = ${#CREATED_NETNS[@]} - 1; i >= 0; i--)); do
        netns=${CREATED_NETNS[$i]}
        ip netns pids "$netns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$netns" 2>/dev/null
    done
    if mountpoint -q "$BPFFS" 2>/dev/null; then
        umount "$BPFFS"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

netns_add() {
    ip netns add "$1" || die "ip netns add $1"
    CREATED_NETNS+=("$1")
}

mkdir -p "$WORK" "$STATE_DIR" "$CNI_CONF_DIR" "$WORK/ptp-ipam"

echo "==> nodes: $WEIR_NODE (weir-agent, $WEIR_CIDR) and $PTP_NODE (ptp, $PTP_CIDR)"
for node in "$WEIR_NODE" "$PTP_NODE"; do
    netns_add "$node"
    ip -n "$node" link set lo up
done

mkdir -p "$WORK/manifests"
nsenter --net="/var/run/netns/$WEIR_NODE" "$WEIR_AGENT" --node-name "$WEIR_NODE" \
    --pod-cidr "$WEIR_CIDR" --bpffs "$BPFFS" --state-dir "$STATE_DIR" \
    --cni-conf-dir "$CNI_CONF_DIR" --standalone "$WORK/manifests" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
waited=0
until [ -S "$STATE_DIR/weir.sock" ] && [ -f "$CNI_CONF_DIR/10-weir.conflist" ]; do
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then
        cat "$WORK/agent.log" >&2
        AGENT_PID=""
        die "weir-agent exited"
    fi
    sleep 0.05
    waited=$((waited + 1))
    [ "$waited" -lt 200 ] || { cat "$WORK/agent.log" >&2; die "weir-agent not ready after 10s"; }
done

echo "==> creating $((2 * PODS + 2)) pod network namespaces"
# Pod 0 of each plugin is a warm-up (page cache, first-use costs), not measured.
for ((i = 0; i <= PODS; i++)); do
    netns_add "$ID-w$i"
    netns_add "$ID-p$i"
done

echo "==> running ADD then DEL for $PODS pods per plugin, interleaved"
# In the background, waited for: a signal to this script then stops the run at once.
WEIR_NODE="$WEIR_NODE" PTP_NODE="$PTP_NODE" POD_PREFIX="$ID" PODS="$PODS" \
    WEIR_CNI="$WEIR_CNI" PTP="$PTP" CNI_BIN_DIR="$CNI_BIN_DIR" \
    WEIR_CONFLIST="$CNI_CONF_DIR/10-weir.conflist" PTP_CIDR="$PTP_CIDR" \
    PTP_DATA_DIR="$WORK/ptp-ipam" \
    python3 - <<'PY' &
import ctypes, json, math, os, statistics, subprocess, sys, time

env = os.environ
PODS = int(env["PODS"])
PREFIX = env["POD_PREFIX"]
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def fail(message):
    print(f"bench: {message}", file=sys.stderr)
    sys.exit(1)


class Plugin:
    def __init__(self, label, binary, node, config, pod_letter):
        self.label, self.binary, self.config = label, binary, config
        self.node_fd = os.open(f"/var/run/netns/{node}", os.O_RDONLY | os.O_CLOEXEC)
        self.pod_letter = pod_letter
        self.results = {}
        self.times = {"ADD": [], "DEL": []}

    def enter_node(self):
        # The harness is single-threaded: switching its own netns makes the plugin start in
        # the node with no nsenter in between, so only the plugin itself is timed.
        if libc.setns(self.node_fd, CLONE_NEWNET) != 0:
            fail(f"setns into the {self.label} node: {os.strerror(ctypes.get_errno())}")

    def run(self, command, pod, measured=True):
        netns = f"{PREFIX}-{self.pod_letter}{pod}"
        config = dict(self.config)
        if command == "DEL":
            config["prevResult"] = self.results[pod]
        stdin = json.dumps(config).encode()
        plugin_env = {
            "PATH": env.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": f"bench-{self.pod_letter}{pod}",
            "CNI_NETNS": f"/var/run/netns/{netns}",
            "CNI_IFNAME": "eth0",
            "CNI_PATH": env["CNI_BIN_DIR"],
            # What kubelet passes; ptp rejects unknown args without IgnoreUnknown.
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-{pod};"
                        f"K8S_POD_INFRA_CONTAINER_ID=bench-{self.pod_letter}{pod}",
        }
        self.enter_node()
        start = time.perf_counter_ns()
        proc = subprocess.run([self.binary], input=stdin, env=plugin_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        elapsed = time.perf_counter_ns() - start
        if proc.returncode != 0:
            fail(f"{self.label} {command} of pod {pod} ({netns}) exited {proc.returncode}:\n"
                 f"  stdout: {proc.stdout.decode(errors='replace').strip()}\n"
                 f"  stderr: {proc.stderr.decode(errors='replace').strip()}")
        if command == "ADD":
            try:
                result = json.loads(proc.stdout)
                result["ips"][0]["address"]
            except (ValueError, KeyError, IndexError, TypeError):
                fail(f"{self.label} ADD of pod {pod} printed no usable result: {proc.stdout!r}")
            self.results[pod] = result
        if measured:
            self.times[command].append(elapsed)

    def count(self, *ip_args):
        self.enter_node()
        out = subprocess.run(["ip", *ip_args], check=True, stdout=subprocess.PIPE,
                             text=True).stdout
        return len(out.splitlines())


conflist = json.load(open(env["WEIR_CONFLIST"]))
weir_config = dict(conflist["plugins"][0], cniVersion=conflist["cniVersion"],
                   name=conflist["name"])
ptp_config = {"cniVersion": "1.0.0", "name": "benchptp", "type": "ptp", "ipMasq": False,
              "mtu": 1500, "ipam": {"type": "host-local", "subnet": env["PTP_CIDR"],
                                    "dataDir": env["PTP_DATA_DIR"]}}
weir = Plugin("weir", env["WEIR_CNI"], env["WEIR_NODE"], weir_config, "w")
ptp = Plugin("ptp", env["PTP"], env["PTP_NODE"], ptp_config, "p")
plugins = (weir, ptp)

for plugin in plugins:  # warm-up pod 0
    plugin.run("ADD", 0, measured=False)
    plugin.run("DEL", 0, measured=False)

for command in ("ADD", "DEL"):
    for pod in range(1, PODS + 1):
        order = plugins if pod % 2 else plugins[::-1]
        for plugin in order:
            plugin.run(command, pod)
    # Each ADD left a veth in the node and each DEL took it away, with its routes.
    want = PODS if command == "ADD" else 0
    for plugin in plugins:
        got = plugin.count("-o", "link", "show", "type", "veth")
        if got != want:
            fail(f"after {command} of {PODS} pods the {plugin.label} node has {got} veths, "
                 f"expected {want}")
        if command == "DEL" and (routes := plugin.count("-4", "route", "show")):
            fail(f"after DEL of every pod the {plugin.label} node still has {routes} routes")

for plugin in plugins:  # the measured pods all lived at once: no address may repeat
    addresses = [plugin.results[pod]["ips"][0]["address"] for pod in range(1, PODS + 1)]
    if len(set(addresses)) != PODS:
        fail(f"{plugin.label} handed out duplicate addresses: {sorted(addresses)}")


def p99(samples):
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]  # nearest rank


def ms(ns):
    return ns / 1e6


print()
print(f"CNI latency over {PODS} pods per plugin, milliseconds "
      f"(weir-cni {weir_config['cniVersion']} vs ptp+host-local 1.0.0, interleaved)")
print(f"{'':13}{'weir':>10}{'ptp':>10}{'weir/ptp':>10}")
for command in ("ADD", "DEL"):
    for stat_name, stat in (("median", statistics.median), ("p99", p99)):
        w, p = stat(weir.times[command]), stat(ptp.times[command])
        print(f"{command + ' ' + stat_name:13}{ms(w):>10.2f}{ms(p):>10.2f}{w / p:>10.2f}")
PY
HARNESS_PID=$!
wait "$HARNESS_PID"
HARNESS_PID=""
