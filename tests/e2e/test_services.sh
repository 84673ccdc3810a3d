# Services without kube-proxy: pods reach a ClusterIP through the datapath, spread over the
# backends, UDP too, an empty Service refuses at once, and policy applies to the backend.

SVC_VIP=10.96.77.10

name_server() { # pod: answers every TCP connection and UDP datagram on 8080 with its name
    in_pod "$1" python3 -c '
import socket, sys, threading
name = sys.argv[1].encode()
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("0.0.0.0", 8080)); tcp.listen(512)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("0.0.0.0", 8080))
def serve_udp():
    while True:
        data, peer = udp.recvfrom(64); udp.sendto(name, peer)
threading.Thread(target=serve_udp, daemon=True).start()
while True:
    connection, _ = tcp.accept(); connection.sendall(name); connection.close()
' "$1" >/dev/null 2>&1 &
}

endpoint_slice() { # name ips-json-list
    cat <<JSON
{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","addressType":"IPv4",
 "metadata":{"namespace":"e2e","name":"$1","labels":{"kubernetes.io/service-name":"web"}},
 "ports":[{"name":"http","port":8080,"protocol":"TCP"},{"name":"dns","port":8080,"protocol":"UDP"}],
 "endpoints":[$(python3 -c "import json,sys; print(','.join(json.dumps({'addresses':[ip],'conditions':{'ready':True}}) for ip in sys.argv[1:]))" $2)]}
JSON
}

service_manifest() {
    cat <<JSON
{"apiVersion":"v1","kind":"Service","metadata":{"namespace":"e2e","name":"web"},
 "spec":{"clusterIP":"$SVC_VIP","clusterIPs":["$SVC_VIP"],"ports":[
   {"name":"http","port":80,"targetPort":8080,"protocol":"TCP"},
   {"name":"dns","port":53,"targetPort":8080,"protocol":"UDP"}]}}
JSON
}

services_setup() {
    node_create
    agent_start
    pod_create client; ip_client=$POD_IP
    pod_create b1; ip_b1=$POD_IP
    pod_create b2; ip_b2=$POD_IP
    pod_create b3; ip_b3=$POD_IP
    name_server b1; name_server b2; name_server b3
    local before
    before=$(status_field appliedChanges)
    write_manifest service.json "$(service_manifest)"
    write_manifest slice.json "$(endpoint_slice web-1 "$ip_b1 $ip_b2 $ip_b3")"
    wait_applied_after "$before"
    sleep 0.3
}

tcp_names() { # count: connects count times to the VIP and prints a tally of names
    in_pod client python3 -c '
import collections, socket, sys
tally = collections.Counter()
for i in range(int(sys.argv[2])):
    try:
        s = socket.create_connection((sys.argv[1], 80), timeout=2)
        tally[s.recv(16).decode() or "empty"] += 1
        s.close()
    except Exception as error:
        tally[type(error).__name__] += 1
print(" ".join(f"{k}={v}" for k, v in sorted(tally.items())))
' "$SVC_VIP" "$1"
}

test_cluster_ip_spreads_300_connections_over_3_backends() {
    services_setup
    tally=$(tcp_names 300)
    for b in b1 b2 b3; do
        count=$(echo "$tally" | tr ' ' '\n' | awk -F= -v b="$b" '$1 == b {print $2}')
        [ "${count:-0}" -ge 60 ] || fail "backend $b took ${count:-0} of 300 connections (< 20%): $tally"
    done
    got=$(in_pod client python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(b"q", (sys.argv[1], 53)); data, peer = s.recvfrom(16)
print(data.decode(), peer[0], peer[1])
' "$SVC_VIP")
    case "$got" in b1*|b2*|b3*) ;; *) fail "UDP through the VIP: $got" ;; esac
    assert_eq "${got#* }" "$SVC_VIP 53" "the UDP reply comes from the VIP"
    listing=$(in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" services)
    echo "$listing" | grep -E "^$SVC_VIP:80 +TCP +e2e/web cluster-ip" | grep -q "$ip_b2:8080" ||
        fail "weirctl services does not show the ClusterIP and its backends: $listing"
}

test_service_scales_and_empty_service_refuses_at_once() {
    services_setup
    local before
    before=$(status_field appliedChanges)
    write_manifest slice.json "$(endpoint_slice web-1 "$ip_b2")"
    wait_applied_after "$before"
    assert_eq "$(tcp_names 20)" "b2=20" "scaled to one backend"
    before=$(status_field appliedChanges)
    write_manifest slice.json "$(endpoint_slice web-1 "")"
    wait_applied_after "$before"
    started=$(date +%s%N)
    assert_eq "$(tcp_names 1)" "ConnectionRefusedError=1" "no backend: refused"
    elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
    [ "$elapsed" -lt 1500 ] || fail "refusal took ${elapsed} ms: the client hung"
    pod_create b4; ip_b4=$POD_IP
    name_server b4
    sleep 0.3
    before=$(status_field appliedChanges)
    write_manifest slice.json "$(endpoint_slice web-1 "$ip_b1 $ip_b2 $ip_b3")"
    write_manifest slice2.json "$(endpoint_slice web-2 "$ip_b4")"
    wait_applied_after "$before"
    tally=$(tcp_names 200)
    case "$tally" in *Error*) fail "errors after scaling to 4: $tally" ;; esac
    case "$tally" in *b4=*) ;; *) fail "the backend of the second slice gets nothing: $tally" ;; esac
}

test_policy_on_the_backend_applies_through_the_vip() {
    services_setup
    local before
    before=$(status_field appliedChanges)
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
      {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"b1\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"$TEST_ID\"},\"status\":{\"podIP\":\"$ip_b1\"}},
      {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"b2\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"$TEST_ID\"},\"status\":{\"podIP\":\"$ip_b2\"}},
      {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"b3\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"$TEST_ID\"},\"status\":{\"podIP\":\"$ip_b3\"}},
      {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"client\",\"labels\":{\"app\":\"client\"}},\"spec\":{\"nodeName\":\"$TEST_ID\"},\"status\":{\"podIP\":\"$ip_client\"}}]}"
    write_manifest policy.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: web-deny-client}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: other}}}]"
    wait_applied_after "$before"
    sleep 0.2
    assert_eq "$(tcp_names 3)" "TimeoutError=3" "the client is denied by the backends' policy"
}

test_node_port_serves_a_client_outside_the_node() {
    node_create
    # An outside client: its own namespace, wired to the node's uplink.
    netns_add "$TEST_ID-outside"
    ip link add "u$TEST_ID" type veth peer name "o$TEST_ID"
    ip link set "u$TEST_ID" netns "$NODE_NETNS"
    ip link set "o$TEST_ID" netns "$TEST_ID-outside"
    in_node ip link set "u$TEST_ID" name uplink0
    in_node ip addr add 192.168.77.1/24 dev uplink0
    in_node ip link set uplink0 up
    ip -n "$TEST_ID-outside" link set "o$TEST_ID" name eth0
    ip -n "$TEST_ID-outside" addr add 192.168.77.2/24 dev eth0
    ip -n "$TEST_ID-outside" link set eth0 up
    mkdir -p "$MANIFESTS"
    write_manifest node.json "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$TEST_ID\"},
        \"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.77.1\"}]}}"
    agent_start --devices uplink0
    pod_create b1; ip_b1=$POD_IP
    name_server b1
    local before
    before=$(status_field appliedChanges)
    write_manifest service.json "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"web\"},
        \"spec\":{\"type\":\"NodePort\",\"externalTrafficPolicy\":\"Local\",\"clusterIP\":\"$SVC_VIP\",\"ports\":[
        {\"name\":\"http\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080,\"protocol\":\"TCP\"}]}}"
    write_manifest slice.json "$(endpoint_slice web-1 "$ip_b1" | python3 -c "
import json, sys
s = json.load(sys.stdin)
for e in s['endpoints']: e['nodeName'] = '$TEST_ID'
print(json.dumps(s))")"
    wait_applied_after "$before"
    sleep 0.2
    got=$(ip netns exec "$TEST_ID-outside" python3 -c '
import socket
try:
    s = socket.create_connection(("192.168.77.1", 30080), timeout=2)
    print(s.recv(16).decode(), s.getpeername()[0])
except Exception as error:
    print(type(error).__name__)
')
    assert_eq "$got" "b1 192.168.77.1" "outside client through the NodePort"
    [ "$(in_node "$WEIRCTL" --bpffs "$BPFFS" counters | awk '$1 == "service_reply_translated" {print $2}')" -ge 1 ] ||
        fail "replies were not translated back"
}

test_hairpin_pod_reaches_itself_through_its_service() {
    services_setup
    local before
    before=$(status_field appliedChanges)
    write_manifest slice.json "$(endpoint_slice web-1 "$ip_b1")"
    wait_applied_after "$before"
    got=$(in_pod b1 python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], 80), timeout=2)
    print(s.recv(16).decode(), s.getpeername()[0])
except Exception as error:
    print(type(error).__name__)
' "$SVC_VIP")
    assert_eq "$got" "b1 $SVC_VIP" "b1 through its own Service"
}

test_client_ip_affinity_holds_then_releases() {
    services_setup
    local before
    before=$(status_field appliedChanges)
    write_manifest service.json "$(service_manifest | python3 -c '
import json, sys
s = json.load(sys.stdin)
s["spec"]["sessionAffinity"] = "ClientIP"
s["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 2}}
print(json.dumps(s))')"
    wait_applied_after "$before"
    tally=$(tcp_names 30)
    case "$tally" in b?=30) ;; *) fail "affinity: all 30 connections to one backend, got $tally" ;; esac
    first=${tally%%=*}
    sleep 2.5
    # After the timeout the client is placed again; over many idle periods it must move.
    moved=""
    for round in 1 2 3 4 5 6; do
        tally=$(tcp_names 1)
        [ "${tally%%=*}" != "$first" ] && { moved=yes; break; }
        sleep 2.2
    done
    [ -n "$moved" ] || fail "the client never left $first after the affinity timeout"
}

test_socket_level_balancing_in_the_nodes_cgroup() {
    local unified=/sys/fs/cgroup/unified
    [ -d "$unified" ] || unified=/sys/fs/cgroup
    [ -f "$unified/cgroup.procs" ] || fail "no cgroup v2 hierarchy found"
    NODE_CGROUP="$unified/weir-$TEST_ID"
    mkdir "$NODE_CGROUP"
    CREATED_CGROUPS+=("$NODE_CGROUP")
    node_create
    agent_start --cgroup "$NODE_CGROUP"
    pod_create client; ip_client=$POD_IP
    pod_create b1; ip_b1=$POD_IP
    name_server b1
    local before
    before=$(status_field appliedChanges)
    write_manifest service.json "$(service_manifest)"
    write_manifest slice.json "$(endpoint_slice web-1 "$ip_b1")"
    wait_applied_after "$before"
    # The client runs inside the node's cgroup, as a pod's processes would.
    got=$(sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$NODE_CGROUP" \
        ip netns exec "$TEST_ID-client" python3 -c '
import socket, sys
vip = sys.argv[1]
s = socket.create_connection((vip, 80), timeout=2)
tcp = s.recv(16).decode() + " " + s.getpeername()[0] + ":" + str(s.getpeername()[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
u.sendto(b"q", (vip, 53)); data, peer = u.recvfrom(16)
print(tcp, data.decode(), peer[0] + ":" + str(peer[1]))
' "$SVC_VIP")
    assert_eq "$got" "b1 $SVC_VIP:80 b1 $SVC_VIP:53" "TCP and UDP through the socket balancer, VIP shown to the app"
    counters=$(in_node "$WEIRCTL" --bpffs "$BPFFS" counters)
    socket_count=$(echo "$counters" | awk '$1 == "socket_translated" {print $2}')
    packet_count=$(echo "$counters" | awk '$1 == "service_translated" {print $2}')
    [ "$socket_count" -ge 2 ] || fail "socket_translated: expected >= 2, got $socket_count"
    assert_eq "$packet_count" 0 "no per-packet translation for balanced sockets"
    # Outside the node's cgroup the TC path still serves the VIP.
    got=$(in_pod client python3 -c '
import socket, sys
print(socket.create_connection((sys.argv[1], 80), timeout=2).recv(16).decode())' "$SVC_VIP")
    assert_eq "$got" b1 "the TC path for sockets outside the cgroup"
}

test_backend_removed_mid_traffic() {
    node_create
    agent_start
    pod_create client
    pod_create e1; ip_e1=$POD_IP
    pod_create e2; ip_e2=$POD_IP
    # Echo servers that also say who they are, on a connection that stays open.
    for pod in e1 e2; do
        in_pod "$pod" python3 -c '
import socket, sys, threading
name = sys.argv[1].encode()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080)); s.listen(64)
def serve(c):
    while True:
        data = c.recv(64)
        if not data:
            return
        c.sendall(name)
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$pod" >/dev/null 2>&1 &
    done
    sleep 0.3
    local before
    before=$(status_field appliedChanges)
    write_manifest service.json "$(service_manifest)"
    write_manifest slice.json "$(endpoint_slice web-1 "$ip_e1 $ip_e2")"
    wait_applied_after "$before"
    in_pod client python3 -c '
import socket, sys, time
vip, slice_path, new_slice = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.create_connection((vip, 80), timeout=2)
s.sendall(b"x"); first = s.recv(16).decode()
print("first", first, flush=True)
# The test removes this backend now.
open(slice_path + ".signal", "w").write(first)
time.sleep(1.5)
try:
    s.sendall(b"x"); data = s.recv(16)
    print("old", "closed" if not data else "answered-by-" + data.decode())
except ConnectionResetError:
    print("old reset")
except socket.timeout:
    print("old hangs")
names = set()
for i in range(30):
    c = socket.create_connection((vip, 80), timeout=2); c.sendall(b"x"); names.add(c.recv(16).decode()); c.close()
print("new", " ".join(sorted(names)))
' "$SVC_VIP" "$WORK/slice" "" >"$WORK/mid.out" 2>&1 &
    client=$!
    for i in $(seq 1 100); do [ -f "$WORK/slice.signal" ] && break; sleep 0.05; done
    removed=$(cat "$WORK/slice.signal")
    keep=$ip_e1
    [ "$removed" = e1 ] && keep=$ip_e2
    write_manifest slice.json "$(endpoint_slice web-1 "$keep")"
    wait "$client" || true
    out=$(cat "$WORK/mid.out")
    old=$(echo "$out" | awk '$1 == "old" {print $2}')
    case "$old" in reset|closed) ;; *) fail "the connection to the removed backend should end cleanly: $out" ;; esac
    new=$(echo "$out" | awk '$1 == "new" {$1 = ""; print $0}' | xargs)
    [ "$new" != "$removed" ] && [ -n "$new" ] && [ "${new#*$removed}" = "$new" ] ||
        fail "new connections reached the removed backend $removed: $out"
}
