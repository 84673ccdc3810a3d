# The pending gate with real pods: a new pod is closed from the moment weir-cni writes its
# endpoint until the agent has written its policy, so a peer its policy denies never reaches it,
# not even while ADD runs; with the agent down a pod stays closed (ADD fails, code 11, leaving
# nothing; or with policyWaitMs 0 it is wired closed) until an agent releases it.

# The namespace, and this node with its address: the node's own traffic is known as the host.
pending_base_manifests() {
    mkdir -p "$MANIFESTS"
    write_manifest namespace.yaml "apiVersion: v1
kind: Namespace
metadata: {name: e2e}"
    write_manifest node.json "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$TEST_ID\"},
 \"spec\":{\"podCIDR\":\"$POD_CIDR\"},
 \"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.250.1\"}]}}"
}

pending_pod_manifest() { # name app-label
    printf '{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"e2e","name":"%s","labels":{"app":"%s"}},"spec":{"nodeName":"%s"}}' \
        "$1" "$2" "$TEST_ID"
}

# pending_listener POD: records every UDP datagram to 9999 and TCP connection to 8080 that
# reaches the pod, one line each, in $WORK/reached-POD. Started before the pod is wired.
pending_listener() {
    : >"$WORK/reached-$1"
    in_pod "$1" python3 -c '
import selectors, socket, sys
out = open(sys.argv[1], "a", buffering=1)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
udp.bind(("0.0.0.0", 9999))
tcp = socket.socket()
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("0.0.0.0", 8080))
tcp.listen(64)
sel = selectors.DefaultSelector()
sel.register(udp, selectors.EVENT_READ)
sel.register(tcp, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is udp:
            data, peer = udp.recvfrom(64)
            out.write("udp %s %s\n" % (peer[0], data.decode(errors="replace")))
            udp.sendto(data, peer)
        else:
            conn, peer = tcp.accept()
            out.write("tcp %s\n" % peer[0])
            conn.sendall(b"hello\n")
            conn.close()
' "$WORK/reached-$1" >/dev/null 2>&1 &
    local i
    for i in $(seq 1 100); do
        [ "$(in_pod "$1" ss -H -lun 'sport = :9999' | wc -l)" -ge 1 ] && return 0
        sleep 0.05
    done
    fail "listener in $1 did not start"
}

# pending_flood POD: sends a UDP datagram to 9999 and opens a TCP connection to 8080 of every
# address .2-.40 of the pod CIDR, in a tight loop until $WORK/stop-flood exists.
pending_flood() {
    in_pod "$1" python3 -c '
import ipaddress, os, socket, sys
network = ipaddress.ip_network(sys.argv[1])
targets = [str(network.network_address + i) for i in range(2, 41)]
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setblocking(False)
while not os.path.exists(sys.argv[2]):
    for target in targets:
        try:
            udp.sendto(b"flood", (target, 9999))
        except OSError:
            pass
        tcp = socket.socket()
        tcp.setblocking(False)
        try:
            tcp.connect_ex((target, 8080))
        finally:
            tcp.close()
' "$POD_CIDR" "$WORK/stop-flood" >/dev/null 2>&1 &
    FLOOD_PID=$!
}

udp_reaches() { # from-pod address: "ok" when the listener answers
    in_pod "$1" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
s.sendto(b"probe", (sys.argv[1], 9999))
try:
    print("ok" if s.recvfrom(16)[0] == b"probe" else "bad")
except socket.timeout:
    print("timeout")
except Exception as error:
    print(type(error).__name__)
' "$2"
}

endpoint_pending_drops() { # address: dropped as endpoint_pending, both directions summed
    local id ingress egress
    id=$(maptool endpoint-id "$1")
    ingress=$(maptool drops "$id" endpoint_pending ingress)
    egress=$(maptool drops "$id" endpoint_pending egress)
    echo $((ingress + egress))
}

test_pod_under_deny_all_is_never_reached_while_added() {
    node_create
    pending_base_manifests
    write_manifest deny.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: deny-all}
spec:
  podSelector: {}
  policyTypes: [Ingress]"
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(pending_pod_manifest peer peer), $(pending_pod_manifest victim victim)]}"
    agent_start
    pod_create peer
    netns_add "$TEST_ID-victim"
    pending_listener victim
    pending_flood peer
    sleep 0.3 # the flood is running before the victim exists
    cni ADD c-victim victim eth0
    [ "$CNI_RC" = 0 ] || fail "ADD victim: $CNI_OUT $(cat "$WORK/err")"
    ip_victim=$(json_get "$CNI_OUT" 'd["ips"][0]["address"].split("/")[0]')
    sleep 1 # the flood goes on against the isolated pod
    touch "$WORK/stop-flood"
    wait "$FLOOD_PID" 2>/dev/null || true
    assert_eq "$(cat "$WORK/reached-victim")" "" "what the peer got into the isolated pod while it was added"

    # The probe can see traffic: once a policy lets the peer in, it arrives.
    local before
    before=$(status_field appliedChanges)
    write_manifest allow.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: allow-peer}
spec:
  podSelector: {matchLabels: {app: victim}}
  ingress: [{from: [{podSelector: {matchLabels: {app: peer}}}]}]"
    wait_applied_after "$before"
    assert_eq "$(udp_reaches peer "$ip_victim")" ok "peer -> victim once a policy allows it"
}

test_agent_down_pod_stays_closed_until_released() {
    node_create
    pending_base_manifests
    write_manifest allow.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: allow-friend}
spec:
  podSelector: {matchLabels: {app: victim}}
  ingress: [{from: [{podSelector: {matchLabels: {app: friend}}}]}]"
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(pending_pod_manifest friend friend), $(pending_pod_manifest stranger stranger),
        $(pending_pod_manifest victim victim)]}"
    agent_start
    pod_create friend
    pod_create stranger
    agent_stop

    # With the agent down, the default ADD waits policyWaitMs and fails, leaving nothing.
    netns_add "$TEST_ID-victim"
    local veths records
    veths=$(count_weir_veths)
    records=$(count_records)
    cni ADD c-victim victim eth0 "$(net_config policyWaitMs=400)"
    assert_eq "$CNI_RC" 1 "ADD with the agent down"
    assert_eq "$(json_get "$CNI_OUT" 'd["code"]')" 11 "error code: try again later"
    assert_contains "$CNI_OUT" "policyWaitMs" "the error names the setting"
    assert_eq "$(count_weir_veths)" "$veths" "veths after the failed ADD"
    assert_eq "$(count_records)" "$records" "records after the failed ADD"
    assert_eq "$(count_map_entries)" 2 "endpoints after the failed ADD"

    # policyWaitMs 0: wired at once, closed until an agent releases it.
    pending_listener victim
    cni ADD c-victim victim eth0 "$(net_config policyWaitMs=0)"
    [ "$CNI_RC" = 0 ] || fail "ADD victim with policyWaitMs 0: $CNI_OUT $(cat "$WORK/err")"
    cp "$WORK/out" "$WORK/out.add"
    ip_victim=$(json_get "$CNI_OUT" 'd["ips"][0]["address"].split("/")[0]')
    assert_eq "$(udp_reaches friend "$ip_victim")" timeout "friend -> pending victim"
    assert_eq "$(udp_reaches stranger "$ip_victim")" timeout "stranger -> pending victim"
    in_pod victim ping -c1 -W1 "$(json_get "$(cat "$WORK/result-friend.json")" 'd["ips"][0]["address"].split("/")[0]')" >/dev/null 2>&1 &&
        fail "pending victim reached the friend"
    got=$(in_node socat -T2 - "TCP:$ip_victim:8080" </dev/null 2>/dev/null || true)
    assert_eq "$got" "hello" "the node reaches its pending pod (kubelet probes)"
    [ "$(endpoint_pending_drops "$ip_victim")" -ge 3 ] ||
        fail "drops named endpoint_pending: $(endpoint_pending_drops "$ip_victim")"
    assert_eq "$(grep -c '^udp' "$WORK/reached-victim" || true)" 0 "datagrams that reached the pending pod"
    cni CHECK c-victim victim eth0 "$(net_config policyWaitMs=0 prevResult="$(cat "$WORK/out.add")")"
    assert_contains "$CNI_OUT" "still pending" "CHECK says the pod is closed"

    # The agent comes back: its first pass compiles the pod, then releases it.
    agent_start
    local i
    for i in $(seq 1 50); do
        [ "$(udp_reaches friend "$ip_victim")" = ok ] && break
        [ "$i" -lt 50 ] || fail "friend never reached the victim after the agent came back"
    done
    assert_eq "$(udp_reaches stranger "$ip_victim")" timeout "stranger -> released victim: its policy denies it"
    assert_contains "$(cat "$WORK/agent.log")" "pod e2e/victim" "the agent logs the release"
}
