# hostPort: the agent chains the reference portmap plugin (Debian's containernetworking-plugins,
# from scripts/deps.sh) after weir-cni, and a runtime-like chain runner calls both the way
# libcni does (prevResult from weir-cni to portmap, runtimeConfig.portMappings, DEL in reverse,
# CHECK and DEL with the cached result). Traffic DNATed by portmap reaches the pod through the
# pod's TC programs, which judge it by the client's real address and the container port.

PORTMAP=/usr/lib/cni/portmap
HOST_PORT=$((20000 + RANDOM % 10000))
NODE_ADDRESS=192.168.77.1
OUTSIDE_ADDRESS=192.168.77.2

# chain COMMAND POD [RUNTIME_CONFIG_JSON]: every plugin of the conflist, as libcni runs them;
# the chain's result is cached in $WORK/chain-POD.json for CHECK and DEL. Runtimes hand the
# same runtimeConfig to every command (portmap's DEL finds its rules by it). Sets CNI_RC, CNI_OUT.
chain() {
    local command=$1 pod=$2 runtime=${3:-"{}"}
    set +e
    CNI_OUT=$(in_node python3 - "$CNI_CONF_DIR/10-weir.conflist" "$WORK/cni-bin" "$WEIR_CNI" "$command" \
        "c-$pod" "/var/run/netns/$TEST_ID-$pod" eth0 "$runtime" "$WORK/chain-$pod.json" "$pod" 2>"$WORK/chain-err" <<'PY'
import json, os, subprocess, sys
conflist_path, bin_dir, weir_cni, command, container, netns, ifname, runtime, cache, pod = sys.argv[1:11]
conflist = json.load(open(conflist_path))
runtime = json.loads(runtime)
previous = json.load(open(cache)) if command != "ADD" and os.path.exists(cache) else None
plugins = conflist["plugins"][::-1] if command == "DEL" else conflist["plugins"]
for plugin in plugins:
    config = dict(plugin, cniVersion=conflist["cniVersion"], name=conflist["name"])
    wanted = {key: runtime[key] for key, on in plugin.get("capabilities", {}).items() if on and key in runtime}
    if wanted:
        config["runtimeConfig"] = wanted
    if previous is not None:
        config["prevResult"] = previous
    binary = weir_cni if plugin["type"] == "weir-cni" else os.path.join(bin_dir, plugin["type"])
    env = {"PATH": os.environ["PATH"], "CNI_COMMAND": command, "CNI_CONTAINERID": container,
           "CNI_NETNS": netns, "CNI_IFNAME": ifname, "CNI_PATH": bin_dir,
           "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME={pod}"}
    run = subprocess.run([binary], input=json.dumps(config).encode(), env=env, capture_output=True)
    if run.returncode != 0:
        sys.exit(f"{plugin['type']} {command} failed ({run.returncode}): {run.stdout.decode()} {run.stderr.decode()}")
    if command == "ADD":
        previous = json.loads(run.stdout)
if command == "ADD":
    json.dump(previous, open(cache, "w"))
    print(json.dumps(previous))
elif command == "DEL" and os.path.exists(cache):
    os.remove(cache)
PY
    )
    CNI_RC=$?
    set -e
}

port_mappings() { # host-port container-port
    echo "{\"portMappings\":[{\"hostPort\":$1,\"containerPort\":$2,\"protocol\":\"tcp\"}]}"
}

name_server_8080() { # pod: answers every TCP connection on 8080 with its name
    in_pod "$1" python3 -c '
import socket, sys
tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("0.0.0.0", 8080)); tcp.listen(64)
while True:
    connection, _ = tcp.accept(); connection.sendall(sys.argv[1].encode()); connection.close()
' "$1" >/dev/null 2>&1 &
    local i
    for i in $(seq 1 100); do
        in_pod "$1" ss -Hltn 'sport = :8080' | grep -q . && return 0
        sleep 0.05
    done
    fail "the name server in $1 is not listening on 8080 after 5 s"
}

connect_from() { # command-prefix... : prints "<answer> <peer address>" or the error's name
    connect_to "$NODE_ADDRESS" "$@"
}

connect_to() { # address command-prefix...
    local address=$1
    shift
    "$@" python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
    print(s.recv(16).decode() or "empty", s.getpeername()[0])
except Exception as error:
    print(type(error).__name__)
' "$address" "$HOST_PORT"
}

hostport_setup() {
    [ -x "$PORTMAP" ] || fail "$PORTMAP is missing: scripts/deps.sh installs containernetworking-plugins"
    command -v iptables >/dev/null || fail "iptables is missing: scripts/deps.sh installs it"
    node_create
    mkdir -p "$WORK/cni-bin"
    ln -s "$PORTMAP" "$WORK/cni-bin/portmap"
    # An outside client on the node's uplink, as in the NodePort test.
    netns_add "$TEST_ID-outside"
    ip link add "u$TEST_ID" type veth peer name "o$TEST_ID"
    ip link set "u$TEST_ID" netns "$NODE_NETNS"
    ip link set "o$TEST_ID" netns "$TEST_ID-outside"
    in_node ip link set "u$TEST_ID" name uplink0
    in_node ip addr add "$NODE_ADDRESS/24" dev uplink0
    in_node ip link set uplink0 up
    ip -n "$TEST_ID-outside" link set "o$TEST_ID" name eth0
    ip -n "$TEST_ID-outside" addr add "$OUTSIDE_ADDRESS/24" dev eth0
    ip -n "$TEST_ID-outside" link set eth0 up
    mkdir -p "$MANIFESTS"
    write_manifest node.json "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$TEST_ID\"},
        \"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$NODE_ADDRESS\"}]}}"
    agent_start --devices uplink0 --cni-bin-dir "$WORK/cni-bin"
    local version
    version=$(json_get "$(cat "$CNI_CONF_DIR/10-weir.conflist")" '"%s %s" % (d["cniVersion"], ",".join(p["type"] for p in d["plugins"]))')
    # Debian 12's portmap speaks up to 1.0.0; a newer one would give 1.1.0.
    assert_eq "$version" "$(CNI_COMMAND=VERSION $PORTMAP </dev/null | python3 -c '
import json, sys
mine = ["1.1.0", "1.0.0", "0.4.0"]
theirs = json.load(sys.stdin)["supportedVersions"]
print(next(v for v in mine if v in theirs))') weir-cni,portmap" "conflist version and chain"
    netns_add "$TEST_ID-web"
    chain ADD web "$(port_mappings "$HOST_PORT" 8080)"
    [ "$CNI_RC" = 0 ] || fail "chained ADD of web: $(cat "$WORK/chain-err")"
    ip_web=$(json_get "$CNI_OUT" 'd["ips"][0]["address"].split("/")[0]')
    name_server_8080 web
}

pods_manifest() { # extra pod items (JSON, with a leading comma) may follow
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
      {\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"web\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"$TEST_ID\"},\"status\":{\"podIP\":\"$ip_web\"}}$1]}"
}

ingress_policy() { # from-clause port: web admits only that
    cat <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: web-ingress}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [$1]
    ports: [{protocol: TCP, port: $2}]
YAML
}

test_hostport_reaches_the_pod_from_outside_the_node() {
    hostport_setup
    pods_manifest ""
    sleep 0.3
    assert_eq "$(connect_from ip netns exec "$TEST_ID-outside")" "web $NODE_ADDRESS" \
        "outside client through hostPort $HOST_PORT"
    # The node itself, as a hostNetwork pod would: its own address, and 127.0.0.1 (portmap's
    # snat masquerades it so the reply finds its way back).
    assert_eq "$(connect_from in_node)" "web $NODE_ADDRESS" "the node through its own address"
    assert_eq "$(connect_to 127.0.0.1 in_node)" "web 127.0.0.1" "the node through 127.0.0.1"
    # CHECK gets the chain's final result as prevResult. Only weir-cni's CHECK is run: Debian
    # 12's portmap (1.1.1) fails CHECK of an IPv4-only pod wherever ip6tables works, looking
    # for IPv6 rules it never made (containernetworking/plugins#819, fixed in 1.2.0); neither
    # containerd nor the kubelet send CHECK.
    cni CHECK c-web web eth0 "$(net_config "cniVersion=\"$(json_get "$(cat "$CNI_CONF_DIR/10-weir.conflist")" 'd["cniVersion"]')\"" \
        "prevResult=$(cat "$WORK/chain-web.json")")"
    [ "$CNI_RC" = 0 ] || fail "weir-cni CHECK with the chain's result as prevResult: $CNI_OUT $(cat "$WORK/err")"
    in_node iptables -t nat -S | grep -q -- "--dport $HOST_PORT" || fail "portmap wrote no DNAT rule for $HOST_PORT"
    chain DEL web "$(port_mappings "$HOST_PORT" 8080)"
    [ "$CNI_RC" = 0 ] || fail "chained DEL: $(cat "$WORK/chain-err")"
    ! in_node iptables -t nat -S | grep -q -- "--dport $HOST_PORT" || fail "portmap's DNAT rule outlived DEL"
    assert_nothing_left "after the chained DEL"
    chain DEL web "$(port_mappings "$HOST_PORT" 8080)"
    [ "$CNI_RC" = 0 ] || fail "a repeated chained DEL must succeed: $(cat "$WORK/chain-err")"
}

test_hostport_traffic_is_judged_by_the_pods_ingress_policy() {
    hostport_setup
    local before
    before=$(status_field appliedChanges)
    pods_manifest ""
    # The client's real address is admitted, but on the host port: after portmap's DNAT the
    # pod sees the container port, which is what NetworkPolicy ports name.
    write_manifest policy.yaml "$(ingress_policy "{ipBlock: {cidr: $OUTSIDE_ADDRESS/32}}" "$HOST_PORT")"
    wait_applied_after "$before"
    sleep 0.2
    assert_eq "$(connect_from ip netns exec "$TEST_ID-outside")" "TimeoutError" \
        "a policy naming the host port, not the container port, admits nothing"
    before=$(status_field appliedChanges)
    write_manifest policy.yaml "$(ingress_policy "{ipBlock: {cidr: $OUTSIDE_ADDRESS/32}}" 8080)"
    wait_applied_after "$before"
    sleep 0.2
    assert_eq "$(connect_from ip netns exec "$TEST_ID-outside")" "web $NODE_ADDRESS" \
        "the client's address on the container port is admitted"
    before=$(status_field appliedChanges)
    write_manifest policy.yaml "$(ingress_policy "{ipBlock: {cidr: 10.0.0.0/8}}" 8080)"
    wait_applied_after "$before"
    sleep 0.2
    assert_eq "$(connect_from ip netns exec "$TEST_ID-outside")" "TimeoutError" \
        "another address is not admitted: the policy saw the client, not the node"
    chain DEL web "$(port_mappings "$HOST_PORT" 8080)"
    [ "$CNI_RC" = 0 ] || fail "chained DEL: $(cat "$WORK/chain-err")"
}
