#!/usr/bin/env bash
# weir in one minute, no Kubernetes needed: a "node" (a network namespace running weir-agent)
# gets two pods, service-a and service-b, wired by weir-cni exactly as a container runtime would
# do it. service-b serves HTTP on :8080 behind the Service service-b; service-a calls
# http://service-b:8080/hello through the Service VIP, and weir prints the flow and the HTTP
# exchange it saw in the kernel (method, path, status, latency). A NetworkPolicy then denies the
# call and weir names the drop's reason and policy; an L7 WeirNetworkPolicy lets only
# GET /hello through (anything else is answered 403 by the datapath); removing the policies
# restores the call. Everything the demo creates is torn down at the end, on failure too.
# Needs root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WEIR_CNI="$ROOT/build/weir-cni"
WEIR_AGENT="$ROOT/build/weir-agent"
WEIRCTL="$ROOT/build/weirctl"

ID="wd$$"
WORK="/tmp/weir-demo-$ID"
BPFFS="$WORK/bpf"
STATE_DIR="$WORK/state"
CNI_CONF_DIR="$WORK/cni"
NODE="$ID-node"
POD_CIDR=10.244.1.0/24
AGENT_PID=""
SERVER_PID=""
CREATED_NETNS=()
WIRED_PODS=()

step() { echo "==> $*"; }
die() {
    echo "demo: FAILED: $*" >&2
    exit 1
}

in_node() { nsenter --net="/var/run/netns/$NODE" "$@"; }
pod_netns() { echo "$ID-$1"; }

# cni COMMAND POD: runs weir-cni in the node for pod POD; stdout to $WORK/out-POD.
cni() {
    local command=$1 pod=$2
    net_config | in_node env -i PATH="$PATH" CNI_COMMAND="$command" \
        CNI_CONTAINERID="demo-$pod" CNI_NETNS="/var/run/netns/$(pod_netns "$pod")" \
        CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
        CNI_ARGS="K8S_POD_NAMESPACE=demo;K8S_POD_NAME=$pod" \
        "$WEIR_CNI" >"$WORK/out-$pod" 2>"$WORK/err-$pod"
}

# The plugin config a runtime hands the plugin: the conflist's entry plus its cniVersion and name.
net_config() {
    python3 -c '
import json, sys
conflist = json.load(open(sys.argv[1]))
print(json.dumps(dict(conflist["plugins"][0], cniVersion=conflist["cniVersion"],
                      name=conflist["name"])))' "$CNI_CONF_DIR/10-weir.conflist"
}

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    [ "$status" = 0 ] || echo "==> cleaning up after the failure"
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    local pod netns i
    for pod in "${WIRED_PODS[@]}"; do
        cni DEL "$pod" || echo "demo: DEL $pod failed: $(cat "$WORK/err-$pod")" >&2
    done
    if [ -n "$AGENT_PID" ]; then
        kill -TERM "$AGENT_PID" 2>/dev/null
        wait "$AGENT_PID" 2>/dev/null
    fi
    for ((i = ${#CREATED_NETNS[@]} - 1; i >= 0; i--)); do
        netns=${CREATED_NETNS[$i]}
        ip netns pids "$netns" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$netns" 2>/dev/null
    done
    rm -rf "/etc/netns/$(pod_netns service-a)"
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
    ip -n "$1" link set lo up
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces, bpffs)"
for f in "$WEIR_CNI" "$WEIR_AGENT" "$WEIRCTL"; do
    [ -x "$f" ] || die "$f is missing: run 'make all' first"
done
for tool in python3 curl nsenter ss; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done
mkdir -p "$WORK" "$STATE_DIR" "$CNI_CONF_DIR"

step "starting node $NODE: weir-agent with pod CIDR $POD_CIDR"
netns_add "$NODE"
mkdir -p "$WORK/manifests"
in_node "$WEIR_AGENT" --node-name "$NODE" --pod-cidr "$POD_CIDR" --bpffs "$BPFFS" \
    --state-dir "$STATE_DIR" --cni-conf-dir "$CNI_CONF_DIR" --standalone "$WORK/manifests" \
    --flow-log "$WORK/flows.jsonl" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
waited=0
until [ -S "$STATE_DIR/weir.sock" ] && [ -f "$CNI_CONF_DIR/10-weir.conflist" ]; do
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then
        AGENT_PID=""
        cat "$WORK/agent.log" >&2
        die "weir-agent exited"
    fi
    sleep 0.05
    waited=$((waited + 1))
    [ "$waited" -lt 200 ] || { cat "$WORK/agent.log" >&2; die "weir-agent not ready after 10s"; }
done

declare -A POD_IP
for pod in service-a service-b; do
    netns_add "$(pod_netns "$pod")"
    WIRED_PODS+=("$pod") # DEL is safe even if ADD fails half-way
    cni ADD "$pod" || die "CNI ADD $pod: $(cat "$WORK/out-$pod" "$WORK/err-$pod")"
    POD_IP[$pod]=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])' \
        <"$WORK/out-$pod") || die "CNI ADD $pod printed no address: $(cat "$WORK/out-$pod")"
    step "pod $pod wired by weir-cni: ${POD_IP[$pod]}"
done
IP_B=${POD_IP[service-b]}

step "starting an HTTP server in service-b on 0.0.0.0:8080"
ip netns exec "$(pod_netns service-b)" python3 -c '
import http.server, sys

address = sys.argv[1]

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/hello":
            self.send_error(404)
            return
        body = f"hello from service-b ({address})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print(f"service-b: {self.client_address[0]} {format % args}", flush=True)

http.server.HTTPServer(("0.0.0.0", 8080), Hello).serve_forever()
' "$IP_B" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for ((i = 0; ; i++)); do
    ip netns exec "$(pod_netns service-b)" ss -H -ltn 'sport = :8080' | grep -q . && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "HTTP server exited"; }
    [ "$i" -lt 100 ] || die "nothing listening on service-b:8080 after 5s"
    sleep 0.05
done

VIP=10.96.0.80

# The manifests the agent watches (standalone mode: no Kubernetes on this host).
manifest() { # file content
    printf '%s\n' "$2" >"$WORK/manifests/.$1.tmp" && mv "$WORK/manifests/.$1.tmp" "$WORK/manifests/$1"
}

applied_changes() {
    in_node "$WEIRCTL" --state-dir "$STATE_DIR" status |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["appliedChanges"])'
}

wait_applied_after() { # previous count
    for ((i = 0; i < 250; i++)); do
        [ "$(applied_changes)" -gt "$1" ] && return 0
        sleep 0.02
    done
    die "weir-agent did not apply the manifests"
}

fetch() { # [method] [path]: prints the answer or the error
    ip netns exec "$(pod_netns service-a)" curl -sS --max-time 2 -X "${1:-GET}" \
        -w ' [HTTP %{http_code}]' "http://service-b:8080${2:-/hello}" 2>&1 | tr -s '\n' ' '
}

last_flow() { # type: the newest flow-log line of that type, in words
    python3 -c '
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
match = [d for d in lines if d["type"] == sys.argv[2] and d["destination"]["port"] == 8080]
if match:
    d = match[-1]
    words = "{} {} {} -> {}:8080".format(d["verdict"], d["protocol"], d["source"]["name"],
                                         d["destination"]["name"])
    if "reason" in d:
        words += ", reason " + d["reason"]
    print(words + "\n      policy: " + d["policy"])
' "$WORK/flows.jsonl" "$1"
}

last_http() { # the newest HTTP record the datapath reported, in words
    python3 -c '
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
match = [d for d in lines if d["type"] == "http"]
if match:
    d = match[-1]
    h = d.get("http", {})
    words = "{} {} {} -> {}".format(d["source"]["name"], h.get("method"), h.get("path"),
                                    d["destination"]["name"])
    if d.get("outcome") == "refused":
        words += ": refused by weir ({}), policy {}".format(d.get("reason"), d.get("policy"))
    else:
        words += ": {} in {:.2f} ms".format(h.get("status"), h.get("latencyNs", 0) / 1e6)
    print(words)
' "$WORK/flows.jsonl"
}

step "publishing namespace demo, both pods and Service service-b ($VIP:8080) as manifests"
before=$(applied_changes)
manifest objects.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
  {\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"demo\"}},
  {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"demo\",\"name\":\"service-a\",\"labels\":{\"app\":\"service-a\"}},
   \"spec\":{\"nodeName\":\"$NODE\"},\"status\":{\"podIP\":\"${POD_IP[service-a]}\"}},
  {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"demo\",\"name\":\"service-b\",\"labels\":{\"app\":\"service-b\"}},
   \"spec\":{\"nodeName\":\"$NODE\"},\"status\":{\"podIP\":\"$IP_B\"}},
  {\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"demo\",\"name\":\"service-b\"},
   \"spec\":{\"clusterIP\":\"$VIP\",\"ports\":[{\"name\":\"http\",\"port\":8080,\"targetPort\":8080,\"protocol\":\"TCP\"}]}},
  {\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"addressType\":\"IPv4\",
   \"metadata\":{\"namespace\":\"demo\",\"name\":\"service-b-1\",\"labels\":{\"kubernetes.io/service-name\":\"service-b\"}},
   \"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],
   \"endpoints\":[{\"addresses\":[\"$IP_B\"],\"conditions\":{\"ready\":true}}]}]}"
wait_applied_after "$before"
in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" services | sed 's/^/    /'

# The pod resolves service-b through its own hosts file (ip netns exec mounts it over /etc/hosts),
# standing in for cluster DNS.
mkdir -p "/etc/netns/$(pod_netns service-a)"
echo "$VIP service-b service-b.demo.svc.cluster.local" >"/etc/netns/$(pod_netns service-a)/hosts"

step "service-a calls http://service-b:8080/hello (service-b -> VIP $VIP; no kube-proxy, no iptables)"
answer=$(fetch) || die "fetch from service-a failed: $answer"
echo
echo "    service-a got: $answer"
sed 's/^/    /' "$WORK/server.log"
sleep 0.3
echo "    flow: $(last_flow flow)"
echo "    http: $(last_http)"
echo

step "applying NetworkPolicy demo/only-monitoring: it selects service-b and does not allow service-a"
before=$(applied_changes)
manifest policy.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: demo, name: only-monitoring}
spec:
  podSelector: {matchLabels: {app: service-b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: monitoring}}}]"
wait_applied_after "$before"
if blocked=$(fetch); then
    die "the fetch should have been denied, got: $blocked"
fi
echo
echo "    service-a got: $blocked"
sleep 0.2
echo "    drop: $(last_flow drop)"
echo

step "removing the policy: the call works again"
before=$(applied_changes)
rm "$WORK/manifests/policy.yaml"
wait_applied_after "$before"
answer=$(fetch) || die "fetch after removing the policy failed: $answer"
echo
echo "    service-a got: $answer"
echo

step "applying WeirNetworkPolicy demo/hello-only (L7): service-a may only GET /hello on service-b"
before=$(applied_changes)
manifest l7.yaml "apiVersion: weir.dev/v1alpha1
kind: WeirNetworkPolicy
metadata: {namespace: demo, name: hello-only}
spec:
  podSelector: {matchLabels: {app: service-b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: service-a}}}]
    ports:
    - port: 8080
      http: [{method: GET, path: /hello}]"
wait_applied_after "$before"
answer=$(fetch GET /hello) || die "GET /hello under the L7 policy failed: $answer"
echo
echo "    GET /hello:  $answer"
answer=$(fetch DELETE /hello) || die "DELETE /hello got no answer: $answer"
case "$answer" in *"HTTP 403"*) ;; *) die "DELETE /hello should get 403 from the datapath, got: $answer" ;; esac
echo "    DELETE /hello: $answer   (answered by the kernel; service-b never saw it)"
sleep 0.3
echo "    http: $(last_http)"
echo
in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" policy demo/service-b | sed 's/^/    /'
rm "$WORK/manifests/l7.yaml"
echo

step "weirctl endpoints (per-endpoint traffic counters on the node)"
in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" endpoints | sed 's/^/    /'
echo

step "tearing down: CNI DEL of both pods, stopping weir-agent"
kill -TERM "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
for pod in "${WIRED_PODS[@]}"; do
    cni DEL "$pod" || die "CNI DEL $pod: $(cat "$WORK/out-$pod" "$WORK/err-$pod")"
done
WIRED_PODS=()
step "done"
