# Pods wired by weir-cni reach each other and the node, by ICMP, TCP and UDP.

tcp_echo_server() { # pod port
    in_pod "$1" socat -T5 "TCP-LISTEN:$2,reuseaddr,fork" EXEC:cat >/dev/null 2>&1 &
}

wait_listening() { # pod port proto
    local i
    for i in $(seq 1 100); do
        in_pod "$1" ss -H -ln"$3" "sport = :$2" | grep -q . && return 0
        sleep 0.05
    done
    fail "nothing listening on $1:$2/$3"
}

test_three_pods_reach_each_other_and_the_node() {
    node_create
    agent_start
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    pod_create c; ip_c=$POD_IP
    [ "$ip_a" != "$ip_b" ] && [ "$ip_b" != "$ip_c" ] && [ "$ip_a" != "$ip_c" ] ||
        fail "pods share an address: $ip_a $ip_b $ip_c"

    for from in a b c; do
        for to in "$ip_a" "$ip_b" "$ip_c" 192.168.250.1; do
            in_pod "$from" ping -c1 -W2 "$to" >/dev/null || fail "ping $from -> $to"
        done
    done

    tcp_echo_server b 8080
    wait_listening b 8080 t
    got=$(echo "hello-from-a" | in_pod a socat -T3 - "TCP:$ip_b:8080")
    assert_eq "$got" "hello-from-a" "TCP echo a -> b"
    got=$(echo "hello-from-c" | in_pod c socat -T3 - "TCP:$ip_b:8080")
    assert_eq "$got" "hello-from-c" "TCP echo c -> b"

    in_pod a socat -T3 "UDP-RECVFROM:9999,reuseaddr" EXEC:cat >/dev/null 2>&1 &
    wait_listening a 9999 u
    got=$(echo "udp-datagram" | in_pod c socat -T2 - "UDP:$ip_a:9999")
    assert_eq "$got" "udp-datagram" "UDP echo c -> a"

    # The node reaches the pod too (kubelet probes come from the host).
    in_node socat -T3 - "TCP:$ip_b:8080" <<<"probe" | grep -q probe || fail "node -> b TCP"
}

test_datapath_counts_pod_traffic() {
    node_create
    agent_start
    pod_create a
    pod_create b; ip_b=$POD_IP
    in_pod a ping -c3 -i0.2 -W2 "$ip_b" >/dev/null || fail "ping a -> b"
    line=$(in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" endpoints | awk -v ip="$ip_b" '$2 == ip')
    from_pod=$(echo "$line" | awk '{print $7}')
    to_pod=$(echo "$line" | awk '{print $8}')
    [ "${to_pod:-0}" -ge 3 ] || fail "to_pod packets of b: expected >= 3, got '$to_pod' ($line)"
    [ "${from_pod:-0}" -ge 3 ] || fail "from_pod packets of b: expected >= 3, got '$from_pod'"
}
