# Two nodes on one underlay, each a network namespace running its own weir-agent (own bpffs,
# state dir) against one test API server: cross-node pod traffic, policy enforced across
# nodes, a Service whose backend is on the other node, and routes that follow Node objects.

KAPI="$ROOT/tests/fixtures/kapi.py"
MN_PREFIX="10.$((RANDOM % 200 + 20))"
declare -A MN_PID MN_BPFFS MN_STATE MN_CNI MN_ADDRESS

mn_in() { # node command...
    local node=$1
    shift
    nsenter --net="/var/run/netns/$TEST_ID-$node" "$@"
}

kapi() { mn_in n1 python3 "$KAPI" --dir "$WORK/api" "$@"; }

mn_underlay() {
    mkdir -p "$WORK"
    netns_add "$TEST_ID-n1"
    netns_add "$TEST_ID-n2"
    ip link add "x$TEST_ID" type veth peer name "y$TEST_ID"
    ip link set "x$TEST_ID" netns "$TEST_ID-n1"
    ip link set "y$TEST_ID" netns "$TEST_ID-n2"
    mn_in n1 ip link set "x$TEST_ID" name underlay0
    mn_in n2 ip link set "y$TEST_ID" name underlay0
    MN_ADDRESS[n1]=192.168.100.1
    MN_ADDRESS[n2]=192.168.100.2
    local node
    for node in n1 n2; do
        mn_in "$node" ip addr add "${MN_ADDRESS[$node]}/24" dev underlay0
        mn_in "$node" ip link set underlay0 up
    done
}

mn_api_server() {
    mkdir -p "$WORK/api"
    mn_in n1 python3 "$ROOT/tests/fixtures/k8s_api_server.py" --port 0 --dir "$WORK/api" \
        --bind 192.168.100.1 --omit-item-kind --weir-crds --quiet >"$WORK/api.log" 2>&1 &
    local i
    for i in $(seq 1 200); do [ -f "$WORK/api/ready" ] && return 0; sleep 0.05; done
    cat "$WORK/api.log" >&2
    fail "test API server did not start"
}

mn_node_object() { # node index
    echo "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$TEST_ID-$1\"},
      \"spec\":{\"podCIDR\":\"$MN_PREFIX.$2.0/24\"},
      \"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"${MN_ADDRESS[$1]}\"}]}}" |
        kapi create - >/dev/null
}

mn_agent_start() { # node [extra agent flags...]
    local node=$1 dir="$WORK/$1"
    shift
    mkdir -p "$dir/state" "$dir/cni"
    MN_BPFFS[$node]="$dir/bpf"
    MN_STATE[$node]="$dir/state"
    MN_CNI[$node]="$dir/cni"
    EXTRA_MOUNTS+=("$dir/bpf")
    nsenter --net="/var/run/netns/$TEST_ID-$node" "$WEIR_AGENT" --node-name "$TEST_ID-$node" \
        --kubeconfig "$WORK/api/kubeconfig" --bpffs "$dir/bpf" --state-dir "$dir/state" \
        --cni-conf-dir "$dir/cni" "$@" >>"$dir/agent.log" 2>&1 &
    MN_PID[$node]=$!
    EXTRA_PIDS+=("$!")
    local i
    for i in $(seq 1 200); do
        [ -f "$dir/cni/10-weir.conflist" ] && return 0
        kill -0 "${MN_PID[$node]}" 2>/dev/null || { cat "$dir/agent.log" >&2; fail "agent $node exited"; }
        sleep 0.05
    done
    cat "$dir/agent.log" >&2
    fail "agent $node not ready"
}

mn_pod() { # node pod labels-json -> sets POD_IP
    local node=$1 pod=$2 config
    netns_add "$TEST_ID-$pod"
    config=$(python3 -c "
import json,sys
c = json.load(open(sys.argv[1])); p = dict(c['plugins'][0]); p['cniVersion'] = c['cniVersion']; p['name'] = c['name']
print(json.dumps(p))" "${MN_CNI[$node]}/10-weir.conflist")
    POD_IP=$(printf '%s' "$config" | mn_in "$node" env -i PATH="$PATH" CNI_COMMAND=ADD \
        CNI_CONTAINERID="c-$pod" CNI_NETNS="/var/run/netns/$TEST_ID-$pod" CNI_IFNAME=eth0 \
        CNI_PATH=/usr/lib/cni CNI_ARGS="K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=$pod" "$WEIR_CNI" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["ips"][0]["address"].split("/")[0])') ||
        fail "CNI ADD $pod on $node"
    echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"$pod\",\"labels\":$3},
      \"spec\":{\"nodeName\":\"$TEST_ID-$node\",\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]},
      \"status\":{\"phase\":\"Running\",\"podIP\":\"$POD_IP\",\"podIPs\":[{\"ip\":\"$POD_IP\"}]}}" |
        kapi create - >/dev/null
}

mn_applied() { # node
    mn_in "$1" "$WEIRCTL" --state-dir "${MN_STATE[$1]}" status |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["appliedChanges"])'
}

mn_settle() { # waits until both agents have applied something after the call
    local before1 before2 i
    before1=$(mn_applied n1)
    before2=$(mn_applied n2)
    "$@"
    for i in $(seq 1 250); do
        [ "$(mn_applied n1)" -gt "$before1" ] && [ "$(mn_applied n2)" -gt "$before2" ] && { sleep 0.1; return 0; }
        sleep 0.02
    done
    fail "the agents did not apply the change"
}

tcp_probe() { # pod address port
    in_pod "$1" python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)
    s.sendall(b"x\n"); print("ok" if s.recv(4) == b"x\n" else "bad")
except Exception as error:
    print(type(error).__name__)
' "$2" "$3"
}

two_nodes() {
    mn_underlay
    mn_api_server
    echo '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e"}}' | kapi create - >/dev/null
    mn_node_object n1 1
    mn_node_object n2 2
    mn_agent_start n1
    mn_agent_start n2
    mn_pod n1 a '{"app":"a"}'; ip_a=$POD_IP
    mn_pod n1 c '{"app":"c"}'; ip_c=$POD_IP
    mn_pod n2 b '{"app":"b"}'; ip_b=$POD_IP
    in_pod b socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    in_pod b socat UDP-RECVFROM:9999,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    sleep 0.5
}

test_cross_node_traffic_and_policy() {
    two_nodes
    mn_in n1 ip route show proto 0xbe | grep -q "$MN_PREFIX.2.0/24 via 192.168.100.2" ||
        fail "node 1 has no route to node 2's pods: $(mn_in n1 ip route)"
    in_pod a ping -c1 -W2 "$ip_b" >/dev/null || fail "ICMP a (n1) -> b (n2)"
    in_pod b ping -c1 -W2 "$ip_a" >/dev/null || fail "ICMP b (n2) -> a (n1)"
    assert_eq "$(tcp_probe a "$ip_b" 8080)" ok "TCP across nodes"
    got=$(echo hi | in_pod a socat -T2 - "UDP:$ip_b:9999")
    assert_eq "$got" hi "UDP across nodes"

    mn_settle kapi create - <<'JSON'
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"e2e","name":"b-from-a"},
 "spec":{"podSelector":{"matchLabels":{"app":"b"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"a"}}}]}]}}
JSON
    assert_eq "$(tcp_probe a "$ip_b" 8080)" ok "a (n1) allowed into b (n2)"
    assert_eq "$(tcp_probe c "$ip_b" 8080)" TimeoutError "c (n1) denied into b (n2)"
    ep_b=$(mn_in n2 "$BUILD/tests/weir-maptool" --bpffs "${MN_BPFFS[n2]}" endpoint-id "$ip_b")
    denied=$(mn_in n2 "$BUILD/tests/weir-maptool" --bpffs "${MN_BPFFS[n2]}" drops "$ep_b" policy_denied_ingress ingress)
    [ "$denied" -ge 1 ] || fail "node 2 did not count the denial at b's ingress"
}

test_service_backend_on_the_other_node() {
    two_nodes
    mn_settle kapi create - <<JSON
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"e2e","name":"echo"},
  "spec":{"clusterIP":"10.96.55.5","ports":[{"name":"tcp","port":80,"targetPort":8080,"protocol":"TCP"}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","addressType":"IPv4",
  "metadata":{"namespace":"e2e","name":"echo-1","labels":{"kubernetes.io/service-name":"echo"}},
  "ports":[{"name":"tcp","port":8080,"protocol":"TCP"}],
  "endpoints":[{"addresses":["$ip_b"],"nodeName":"$TEST_ID-n2","conditions":{"ready":true}}]}]}
JSON
    assert_eq "$(tcp_probe a 10.96.55.5 80)" ok "a (n1) -> VIP -> b (n2)"
}

test_deleted_node_takes_its_route() {
    two_nodes
    mn_in n1 ip route show proto 0xbe | grep -q "$MN_PREFIX.2.0/24" || fail "no route before"
    mn_settle kapi delete Node - "$TEST_ID-n2" >/dev/null
    if mn_in n1 ip route show proto 0xbe | grep -q "$MN_PREFIX.2.0/24"; then
        fail "the route to the deleted node is still there"
    fi
}

test_node_agent_restart_keeps_flows_and_resyncs() {
    two_nodes
    mn_settle kapi create - <<'JSON'
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"e2e","name":"b-from-a"},
 "spec":{"podSelector":{"matchLabels":{"app":"b"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"a"}}}]}]}}
JSON
    # A long connection from a (node 1) to b (node 2), across the restart of node 2's agent.
    in_pod a python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 8080), timeout=2)
failures = 0
for i in range(40):
    try:
        s.sendall(b"x\n")
        failures += s.recv(4) != b"x\n"
    except Exception:
        failures += 1
    time.sleep(0.1)
print(failures)
' "$ip_b" >"$WORK/stream.out" 2>&1 &
    stream=$!
    sleep 0.5
    kill -TERM "${MN_PID[n2]}"
    wait "${MN_PID[n2]}" || true
    # While node 2's agent is down, its datapath keeps enforcing.
    assert_eq "$(tcp_probe c "$ip_b" 8080)" TimeoutError "c still denied into b while the agent is down"
    # The policy changes while the agent is away: after its restart it must catch up.
    kapi delete NetworkPolicy e2e b-from-a >/dev/null
    mn_agent_start n2
    wait "$stream"
    assert_eq "$(cat "$WORK/stream.out")" 0 "the established flow never failed"
    for i in $(seq 1 50); do
        [ "$(tcp_probe c "$ip_b" 8080)" = ok ] && break
        sleep 0.1
    done
    assert_eq "$(tcp_probe c "$ip_b" 8080)" ok "after the resync the deleted policy is gone"
}

# The refusal path that crosses nodes: b's node judges the request in to_pod and sends the 403
# back up b's veth into its host stack, which routes it to a on the other node.
test_l7_policy_across_nodes() {
    two_nodes
    in_pod b python3 -c '
import http.server
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = b"hello from b\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8081), Handler).serve_forever()' &
    local i
    for i in $(seq 1 100); do in_pod b ss -H -ltn 'sport = :8081' | grep -q . && break; sleep 0.05; done
    mn_settle kapi create - <<'JSON'
{"apiVersion":"weir.dev/v1alpha1","kind":"WeirNetworkPolicy","metadata":{"namespace":"e2e","name":"b-hello"},
 "spec":{"podSelector":{"matchLabels":{"app":"b"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"a"}}}],
   "ports":[{"port":8081,"protocol":"TCP","http":[{"method":"GET","path":"/hello"}]}]}]}}
JSON
    got=$(in_pod a curl -sS --max-time 3 "http://$ip_b:8081/hello") || fail "GET /hello across nodes: $got"
    assert_eq "$got" "hello from b" "GET /hello allowed across nodes"
    got=$(in_pod a curl -sS --max-time 3 -o /dev/null -w '%{http_code}' "http://$ip_b:8081/admin") ||
        fail "GET /admin across nodes did not get an answer: $got"
    assert_eq "$got" 403 "GET /admin answered 403 by b's node"
    denied=$(mn_in n2 "$BUILD/tests/weir-maptool" --bpffs "${MN_BPFFS[n2]}" drops \
        "$(mn_in n2 "$BUILD/tests/weir-maptool" --bpffs "${MN_BPFFS[n2]}" endpoint-id "$ip_b")" http_denied ingress)
    assert_eq "$denied" 1 "the refusal counted at b's ingress"
    got=$(in_pod a curl -sS --max-time 3 "http://$ip_b:8081/hello") || fail "GET /hello after a refusal: $got"
    assert_eq "$got" "hello from b" "a new connection works after the refusal"
}

# ---- NodePort from outside the cluster, backends on either node ---------------------------------

# The underlay as a switch: a bridge in its own namespace with n1 (.1), n2 (.2) and an outside
# client (.9, namespace "outside") on one L2, so any host answers any other directly.
mn_switched_underlay() {
    mkdir -p "$WORK"
    netns_add "$TEST_ID-sw"
    netns_add "$TEST_ID-n1"
    netns_add "$TEST_ID-n2"
    netns_add "$TEST_ID-outside"
    mn_in sw ip link add br0 type bridge
    mn_in sw ip link set br0 up
    MN_ADDRESS[n1]=192.168.100.1
    MN_ADDRESS[n2]=192.168.100.2
    MN_ADDRESS[outside]=192.168.100.9
    local host
    for host in n1 n2 outside; do
        ip link add "p$TEST_ID" type veth peer name "q$TEST_ID"
        ip link set "p$TEST_ID" netns "$TEST_ID-sw"
        ip link set "q$TEST_ID" netns "$TEST_ID-$host"
        mn_in sw ip link set "p$TEST_ID" name "to-$host" master br0 up
        mn_in "$host" ip link set "q$TEST_ID" name underlay0
        mn_in "$host" ip addr add "${MN_ADDRESS[$host]}/24" dev underlay0
        mn_in "$host" ip link set underlay0 up
    done
}

# who_server POD: answers every TCP connection on 8080 with "<pod> <the client address it sees>".
who_server() {
    in_pod "$1" python3 -c '
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 8080))
server.listen(64)
while True:
    conn, peer = server.accept()
    conn.sendall(("%s %s\n" % (sys.argv[1], peer[0])).encode())
    conn.close()
' "$1" >/dev/null 2>&1 &
    local i
    for i in $(seq 1 100); do
        [ "$(in_pod "$1" ss -H -ltn 'sport = :8080' | wc -l)" -ge 1 ] && return 0
        sleep 0.05
    done
    fail "server in $1 did not start"
}

# outside_get ADDRESS PORT: what the outside client reads, and the address:port it talked to.
outside_get() {
    mn_in outside python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    line = s.makefile().readline().strip()
    print("%s from %s:%d" % ((line,) + s.getpeername()))
except Exception as error:
    print(type(error).__name__)
' "$1" "$2"
}

node_port_service() { # name nodePort trafficPolicy endpoints-json
    cat <<JSON
{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Service","metadata":{"namespace":"e2e","name":"$1"},
  "spec":{"type":"NodePort","externalTrafficPolicy":"$3","clusterIP":"10.96.55.$(($2 - 30000))",
          "ports":[{"name":"tcp","port":80,"targetPort":8080,"nodePort":$2,"protocol":"TCP"}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","addressType":"IPv4",
  "metadata":{"namespace":"e2e","name":"$1-1","labels":{"kubernetes.io/service-name":"$1"}},
  "ports":[{"name":"tcp","port":8080,"protocol":"TCP"}],"endpoints":$4}]}
JSON
}

test_node_port_from_outside_with_backends_on_either_node() {
    mn_switched_underlay
    mn_api_server
    echo '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e"}}' | kapi create - >/dev/null
    mn_node_object n1 1
    mn_node_object n2 2
    mn_agent_start n1 --devices underlay0
    mn_agent_start n2 --devices underlay0
    mn_pod n1 a '{"app":"a"}'; ip_a=$POD_IP
    mn_pod n2 b '{"app":"b"}'; ip_b=$POD_IP
    who_server a
    who_server b
    local on_a on_b
    on_a="{\"addresses\":[\"$ip_a\"],\"nodeName\":\"$TEST_ID-n1\",\"conditions\":{\"ready\":true}}"
    on_b="{\"addresses\":[\"$ip_b\"],\"nodeName\":\"$TEST_ID-n2\",\"conditions\":{\"ready\":true}}"
    mn_settle kapi create - <<<"$(node_port_service remote 30080 Cluster "[$on_b]")"
    mn_settle kapi create - <<<"$(node_port_service local 30081 Local "[$on_a, $on_b]")"

    # Cluster, the backend on the other node: answered as n1:30080, b sees n1 as its client.
    assert_eq "$(outside_get 192.168.100.1 30080)" "b 192.168.100.1 from 192.168.100.1:30080" \
        "outside -> n1:30080 (Cluster) -> b on n2"
    assert_eq "$(outside_get 192.168.100.1 30080)" "b 192.168.100.1 from 192.168.100.1:30080" \
        "a second connection the same way"
    # The backend's own node serves it directly, keeping nothing of the other path.
    assert_eq "$(outside_get 192.168.100.2 30080)" "b 192.168.100.9 from 192.168.100.2:30080" \
        "outside -> n2:30080 -> b on n2"

    # Local: only the addressed node's backends, and they see the client's own address.
    local i
    for i in 1 2 3 4 5 6; do
        assert_eq "$(outside_get 192.168.100.1 30081)" "a 192.168.100.9 from 192.168.100.1:30081" \
            "outside -> n1:30081 (Local), connection $i"
        assert_eq "$(outside_get 192.168.100.2 30081)" "b 192.168.100.9 from 192.168.100.2:30081" \
            "outside -> n2:30081 (Local), connection $i"
    done
}
