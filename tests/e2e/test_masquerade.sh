# Pod traffic leaving the cluster is masqueraded to the node's address on its uplink; traffic
# to the cluster keeps the pod's address.

test_pod_to_outside_is_masqueraded_to_the_node_address() {
    node_create
    netns_add "$TEST_ID-outside"
    ip link add "u$TEST_ID" type veth peer name "o$TEST_ID"
    ip link set "u$TEST_ID" netns "$NODE_NETNS"
    ip link set "o$TEST_ID" netns "$TEST_ID-outside"
    in_node ip link set "u$TEST_ID" name uplink0
    in_node ip addr add 192.168.78.1/24 dev uplink0
    in_node ip link set uplink0 up
    ip -n "$TEST_ID-outside" link set "o$TEST_ID" name eth0
    ip -n "$TEST_ID-outside" addr add 192.168.78.2/24 dev eth0
    ip -n "$TEST_ID-outside" link set eth0 up
    agent_start --devices uplink0
    pod_create a
    # The outside server tells who it saw; it has no route to pods, so without masquerading
    # no answer could come back.
    ip netns exec "$TEST_ID-outside" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.168.78.2", 9000)); s.listen(16)
while True:
    c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()
' >/dev/null 2>&1 &
    for i in $(seq 1 100); do
        ip netns exec "$TEST_ID-outside" ss -H -ltn 'sport = :9000' | grep -q . && break
        sleep 0.05
    done
    for attempt in 1 2 3; do
        got=$(in_pod a python3 -c '
import socket
try:
    print(socket.create_connection(("192.168.78.2", 9000), timeout=2).recv(32).decode())
except Exception as error:
    print(type(error).__name__)
')
        assert_eq "$got" 192.168.78.1 "the outside server sees the node address (attempt $attempt)"
    done
    masqueraded=$(in_node "$WEIRCTL" --bpffs "$BPFFS" counters | awk '$1 == "masqueraded" {print $2}')
    [ "${masqueraded:-0}" -ge 3 ] || fail "masqueraded counter: $masqueraded"
}
