# Security properties on a real node (docs/security.md says what each one protects):
#  - anti-spoofing: a pod's frames with another source IP (a pod's, the node's) or another
#    source MAC are dropped and counted on every path (pod -> pod on the node, pod -> Service
#    VIP, pod -> host), ARP too; the same frames with the pod's own addresses arrive. IPv6 is
#    dropped as unsupported_l3.
#  - the agent's control socket is root-only (mode 0600), not reachable by other users;
#  - the agent listens on no TCP port unless --metrics-addr names one; metrics on the node
#    address are reachable from a pod only while its egress is not isolated, and with egress
#    isolation only when a policy allows the node on that port;
#  - pinned maps, the bpffs folder and the state folder are root-only; nothing is writable by
#    other users, CNI config included;
#  - the RBAC of manifests/weir.yaml is read-only and names only what the agent watches;
#  - no bearer token or client key reaches a log (agent, flow log, CNI log), a state file, the
#    agent's command line or its environment.
# TLS verification against an untrusted CA is tested in test_faults.sh
# (test_api_wrong_ca_is_refused, test_api_wrong_ca_on_restart_keeps_the_datapath).

PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
python3() { "$PYTHON" "$@"; }
NODE_ADDRESS=192.168.250.1 # lib.sh's node_create puts it on the node's loopback
SVC_VIP=10.96.88.10
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

pod_manifest() { # name ip labels-json
    cat <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"e2e","name":"$1","labels":$3},
 "spec":{"nodeName":"$TEST_ID","containers":[{"name":"c","image":"x"}]},
 "status":{"phase":"Running","podIP":"$2","podIPs":[{"ip":"$2"}]}}
JSON
}

result_mac() { # pod index: the MAC of interfaces[index] in the pod's CNI result (0 host, 1 pod)
    json_get "$(cat "$WORK/result-$1.json")" "d['interfaces'][$2]['mac']"
}

# udp_sink WHERE FILE ADDRESS PORT: appends every datagram's payload as a line to FILE. WHERE is
# a pod's name or "node".
udp_sink() {
    local runner=(in_pod "$1")
    [ "$1" = node ] && runner=(in_node)
    shift
    "${runner[@]}" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2], int(sys.argv[3])))
while True:
    data, _ = s.recvfrom(256)
    with open(sys.argv[1], "a") as f:
        f.write(data.decode(errors="replace") + "\n")
' "$1" "$2" "$3" >/dev/null 2>&1 &
}

# send_frame POD SPEC...: one hand-made Ethernet frame out of the pod's eth0 (AF_PACKET), so
# nothing in the pod's stack can correct its addresses. SPEC:
#   udp ETH_SOURCE ETH_DESTINATION IP_SOURCE IP_DESTINATION PORT PAYLOAD
#   arp ETH_SOURCE SENDER_MAC SENDER_IP TARGET_IP
#   ipv6 ETH_SOURCE ETH_DESTINATION
send_frame() {
    local pod=$1
    shift
    in_pod "$pod" "$PYTHON" -c '
import socket, struct, sys

def mac(text): return bytes.fromhex(text.replace(":", ""))
def ip(text): return socket.inet_aton(text)
def checksum(data):
    if len(data) % 2: data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16: total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff

kind, args = sys.argv[1], sys.argv[2:]
if kind == "udp":
    eth_source, eth_destination, source, destination, port, payload = args
    data = payload.encode()
    length = 8 + len(data)
    pseudo = ip(source) + ip(destination) + struct.pack("!BBH", 0, 17, length)
    udp = struct.pack("!HHHH", 40000, int(port), length, 0) + data
    udp = udp[:6] + struct.pack("!H", checksum(pseudo + udp) or 0xffff) + udp[8:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + length, 1, 0, 64, 17, 0,
                         ip(source), ip(destination))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    frame = mac(eth_destination) + mac(eth_source) + b"\x08\x00" + header + udp
elif kind == "arp":
    eth_source, sender_mac, sender_ip, target_ip = args
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac(sender_mac) + ip(sender_ip) + \
        b"\0" * 6 + ip(target_ip)
    frame = b"\xff" * 6 + mac(eth_source) + b"\x08\x06" + arp
else:
    eth_source, eth_destination = args
    ipv6 = bytes([0x60, 0, 0, 0, 0, 8, 17, 64]) + bytes(15) + b"\x01" + bytes(15) + b"\x02"
    frame = mac(eth_destination) + mac(eth_source) + b"\x86\xdd" + ipv6 + bytes(8)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
s.send(frame)
' "$@" || fail "send_frame $*"
}

spoof_counters() { # "<spoofed_source_ip> <spoofed_source_mac of a> <unsupported_l3>"
    echo "$(maptool drops 0 spoofed_source_ip egress) $(maptool drops "$ep_a" spoofed_source_mac egress)" \
        "$(maptool drops 0 unsupported_l3 egress)"
}

# expect_frame WHAT EXPECTED-COUNTER-DELTA SPEC...: sends one frame from a and checks which
# drop counter moved: "ip", "mac", "l3" or "none".
FRAMES_SENT=0
expect_frame() {
    local what=$1 expected=$2
    shift 2
    local before after moved=none
    before=$(spoof_counters)
    send_frame a "$@"
    FRAMES_SENT=$((FRAMES_SENT + 1))
    local i
    for i in $(seq 1 20); do
        after=$(spoof_counters)
        [ "$after" != "$before" ] && break
        [ "$expected" = none ] && [ "$i" -ge 3 ] && break
        sleep 0.05
    done
    read -r ip_before mac_before l3_before <<<"$before"
    read -r ip_after mac_after l3_after <<<"$after"
    [ "$ip_after" -gt "$ip_before" ] && moved=ip
    [ "$mac_after" -gt "$mac_before" ] && moved=${moved/none/}mac
    [ "$l3_after" -gt "$l3_before" ] && moved=${moved/none/}l3
    assert_eq "$moved" "$expected" "drop counter moved by $what"
}

wait_lines() { # file expected-sorted-lines seconds what
    local deadline=$((SECONDS + $3)) got
    while :; do
        got=$(sort "$1" 2>/dev/null | tr '\n' ' ')
        [ "$got" = "$2" ] && return 0
        [ $SECONDS -lt $deadline ] || fail "$4: expected '$2', got '$got'"
        sleep 0.1
    done
}

test_spoofed_ip_and_mac_are_dropped_on_every_path() {
    node_create
    mkdir -p "$MANIFESTS"
    agent_start
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    pod_create c; ip_c=$POD_IP
    ep_a=$(maptool endpoint-id "$ip_a")
    local mac_a mac_b gateway_mac
    mac_a=$(result_mac a 1)
    mac_b=$(result_mac b 1)
    gateway_mac=$(result_mac a 0)
    local before
    before=$(status_field appliedChanges)
    write_manifest service.json "{\"apiVersion\":\"v1\",\"kind\":\"Service\",
        \"metadata\":{\"namespace\":\"e2e\",\"name\":\"sink\"},
        \"spec\":{\"clusterIP\":\"$SVC_VIP\",\"clusterIPs\":[\"$SVC_VIP\"],
                  \"ports\":[{\"name\":\"dns\",\"port\":53,\"targetPort\":9999,\"protocol\":\"UDP\"}]}}"
    write_manifest slice.json "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",
        \"addressType\":\"IPv4\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"sink-1\",
        \"labels\":{\"kubernetes.io/service-name\":\"sink\"}},
        \"ports\":[{\"name\":\"dns\",\"port\":9999,\"protocol\":\"UDP\"}],
        \"endpoints\":[{\"addresses\":[\"$ip_b\"],\"conditions\":{\"ready\":true}}]}"
    wait_applied_after "$before"
    udp_sink b "$WORK/received-b" 0.0.0.0 9999
    udp_sink node "$WORK/received-node" "$NODE_ADDRESS" 9999
    sleep 0.3

    # Each path: the pod's own addresses (arrives), another pod's IP, the node's IP, another
    # pod's MAC, a made-up MAC (all dropped at the pod's veth, before any other step).
    local path destination port
    for path in pod vip node; do
        case $path in
        pod) destination=$ip_b port=9999 ;;
        vip) destination=$SVC_VIP port=53 ;;
        node) destination=$NODE_ADDRESS port=9999 ;;
        esac
        expect_frame "$path: own addresses" none udp "$mac_a" "$gateway_mac" "$ip_a" "$destination" $port "$path-genuine"
        expect_frame "$path: c's IP" ip udp "$mac_a" "$gateway_mac" "$ip_c" "$destination" $port "$path-spoofed-pod-ip"
        expect_frame "$path: the node's IP" ip udp "$mac_a" "$gateway_mac" "$NODE_ADDRESS" "$destination" $port "$path-spoofed-node-ip"
        expect_frame "$path: an outside IP" ip udp "$mac_a" "$gateway_mac" 203.0.113.9 "$destination" $port "$path-spoofed-outside-ip"
        expect_frame "$path: b's MAC" mac udp "$mac_b" "$gateway_mac" "$ip_a" "$destination" $port "$path-spoofed-pod-mac"
        expect_frame "$path: a made-up MAC" mac udp 02:de:ad:be:ef:01 "$gateway_mac" "$ip_a" "$destination" $port "$path-spoofed-mac"
    done
    wait_lines "$WORK/received-b" "pod-genuine vip-genuine " 3 "what b received"
    wait_lines "$WORK/received-node" "node-genuine " 3 "what the node received"

    # ARP: only for a's own address, with a's MAC as sender and as Ethernet source.
    expect_frame "ARP, own addresses" none arp "$mac_a" "$mac_a" "$ip_a" 169.254.1.1
    expect_frame "ARP claiming c's IP" ip arp "$mac_a" "$mac_a" "$ip_c" 169.254.1.1
    expect_frame "ARP claiming the node's IP" ip arp "$mac_a" "$mac_a" "$NODE_ADDRESS" 169.254.1.1
    expect_frame "ARP with b's MAC as sender" mac arp "$mac_a" "$mac_b" "$ip_a" 169.254.1.1
    expect_frame "ARP from b's MAC" mac arp "$mac_b" "$mac_a" "$ip_a" 169.254.1.1
    # The node's neighbour entry for c still names c's MAC.
    local c_host
    c_host=$(json_get "$(cat "$WORK/result-c.json")" "d['interfaces'][0]['name']")
    in_node ip neigh show "$ip_c" dev "$c_host" | grep -qi "$(result_mac c 1)" ||
        fail "the node's neighbour entry for c: $(in_node ip neigh show "$ip_c")"
    # IPv6 is not supported: dropped and named, never passed unjudged.
    expect_frame "IPv6" l3 ipv6 "$mac_a" "$gateway_mac"
    echo "security: $FRAMES_SENT hand-made frames; every spoofed one dropped with its reason," \
        "every genuine one delivered ($(spoof_counters) spoofed-ip/spoofed-mac/unsupported_l3 drops)" >&2
}

test_control_socket_is_root_only() {
    node_create
    agent_start
    local socket="$STATE_DIR/weir.sock"
    [ -S "$socket" ] || fail "no control socket at $socket"
    assert_eq "$(stat -c '%a %U %G' "$socket")" "600 root root" "control socket mode and owner"
    case $socket in /*) ;; *) fail "the control socket is not a filesystem path: $socket" ;; esac
    in_node "$WEIRCTL" --state-dir "$STATE_DIR" status | grep -q '"ready":true' ||
        fail "root cannot use the control socket"
    # Another user, even one that can reach the folder, cannot connect.
    chmod 0755 "$WORK" "$STATE_DIR"
    local refused
    refused=$("${NOBODY[@]}" "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1]); s.sendall(b"status\n"); print("connected:", s.recv(64))
except OSError as error:
    print(type(error).__name__)
' "$socket")
    assert_eq "$refused" PermissionError "a non-root user connecting to the control socket"
    # Not an abstract socket: nothing a network namespace could reach.
    ! grep -q "@weir" /proc/net/unix || fail "an abstract weir socket exists"
}

node_object() { # the node's Node object, with the node address as its InternalIP
    cat <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$TEST_ID"},"spec":{"podCIDR":"$POD_CIDR"},
 "status":{"addresses":[{"type":"InternalIP","address":"$NODE_ADDRESS"}]}}
JSON
}

http_probe() { # pod url: "ok" (any HTTP answer) or the error
    in_pod "$1" "$PYTHON" -c '
import socket, sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1).read(); print("ok")
except Exception as error:
    reason = getattr(error, "reason", error)
    print("timeout" if isinstance(reason, (socket.timeout, TimeoutError)) else type(reason).__name__)
' "$2"
}

test_agent_listens_nowhere_by_default_and_metrics_follow_policy() {
    node_create
    mkdir -p "$MANIFESTS"
    agent_start
    local listening
    listening=$(in_node ss -H -ltnup | grep -c "pid=$AGENT_PID," || true)
    assert_eq "$listening" 0 "TCP/UDP sockets the agent listens on without --metrics-addr"
    agent_stop

    # Metrics on the node address, as a DaemonSet with hostNetwork and 0.0.0.0:9962 has them.
    write_manifest objects.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        {\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"e2e\"}},
        $(node_object)]}"
    agent_start --metrics-addr "$NODE_ADDRESS:9962"
    pod_create a; ip_a=$POD_IP
    in_node socat "TCP-LISTEN:8080,bind=$NODE_ADDRESS,reuseaddr,fork" EXEC:cat >/dev/null 2>&1 &
    local metrics="http://$NODE_ADDRESS:9962/metrics" before
    before=$(status_field appliedChanges)
    write_manifest pods.json "$(pod_manifest a "$ip_a" '{"app":"client"}')"
    wait_applied_after "$before"
    local open_state
    open_state=$(http_probe a "$metrics")
    # Kubernetes semantics: a pod no policy isolates reaches everything, the node included.
    assert_eq "$open_state" ok "metrics from a pod whose egress is not isolated"

    before=$(status_field appliedChanges)
    write_manifest deny-egress.json '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
        "metadata":{"namespace":"e2e","name":"deny-egress"},
        "spec":{"podSelector":{"matchLabels":{"app":"client"}},"policyTypes":["Egress"]}}'
    wait_applied_after "$before"
    assert_eq "$(http_probe a "$metrics")" timeout "metrics from a pod with egress isolated"
    in_pod a ping -c1 -W1 "$NODE_ADDRESS" >/dev/null 2>&1 && fail "ping to the node with egress isolated"

    before=$(status_field appliedChanges)
    write_manifest allow-metrics.json "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",
        \"metadata\":{\"namespace\":\"e2e\",\"name\":\"allow-metrics\"},
        \"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"client\"}},\"policyTypes\":[\"Egress\"],
                  \"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"$NODE_ADDRESS/32\"}}],
                               \"ports\":[{\"protocol\":\"TCP\",\"port\":9962}]}]}}"
    wait_applied_after "$before"
    assert_eq "$(http_probe a "$metrics")" ok "metrics once a policy allows the node on 9962"
    assert_eq "$(http_probe a "http://$NODE_ADDRESS:8080/")" timeout "another port of the node"
    echo "security: metrics on the node address: reached by a pod without egress policy" \
        "($open_state), not with egress isolated, again with a policy allowing $NODE_ADDRESS/32:9962" >&2
}

# Modes as "path mode owner" lines for everything under the given folders.
modes_of() {
    find "$@" -printf '%p %m %u\n' 2>/dev/null
}

test_pins_and_state_are_root_only() {
    node_create
    rmdir "$STATE_DIR" # the agent creates its own, as on a fresh node
    agent_start --flow-log "$WORK/flows.log"
    pod_create a
    pod_create b
    # A bpffs root always has the sticky bit (1700): the permission bits are what matter.
    assert_eq "$(stat -c '%a %U' "$BPFFS" | sed 's/^1//')" "700 root" "bpffs folder"
    assert_eq "$(stat -c '%a %U' "$STATE_DIR")" "700 root" "state folder"
    local pins path mode owner
    pins=$(find "$BPFFS" -mindepth 1 | wc -l)
    [ "$pins" -ge 10 ] || fail "only $pins pins under $BPFFS"
    # Pins: no permission bit for group or others.
    while read -r path mode owner; do
        [ "$owner" = root ] || fail "$path is owned by $owner"
        [ $((8#$mode & 8#077)) -eq 0 ] || fail "$path has mode $mode"
    done < <(modes_of "$BPFFS" -mindepth 1)
    # State: nothing writable by group or others; nothing readable by another user.
    while read -r path mode owner; do
        [ "$owner" = root ] || fail "$path is owned by $owner"
        [ $((8#$mode & 8#022)) -eq 0 ] || fail "$path has mode $mode"
    done < <(modes_of "$STATE_DIR" "$CNI_CONF_DIR" "$WORK/flows.log")
    # Logs name pods, addresses and policies: root only, wherever they are.
    assert_eq "$(stat -c '%a' "$WORK/flows.log")" 600 "flow log"
    assert_eq "$(stat -c '%a' "$STATE_DIR/node.json")" 600 "node.json"
    chmod 0755 "$WORK"
    local readable=0 files=0
    while read -r path; do
        files=$((files + 1))
        "${NOBODY[@]}" cat "$path" >/dev/null 2>&1 && readable=$((readable + 1))
    done < <(find "$STATE_DIR" "$BPFFS" -type f)
    assert_eq "$readable" 0 "state files and pins another user can read (of $files)"
    "${NOBODY[@]}" "$MAPTOOL" --bpffs "$BPFFS" ct-count >/dev/null 2>&1 &&
        fail "another user opened the pinned maps"
    # The CNI config is read by the runtime (root) and holds no secret: 0644 as usual, but
    # only root may change it.
    assert_eq "$(stat -c '%a %U' "$CNI_CONF_DIR/10-weir.conflist")" "644 root" "CNI config"
    echo "security: $pins pins; $files files under the state folder and the bpffs, none readable by" \
        "another user; readable by all (in a root-only folder, or outside it): $(modes_of \
        "$STATE_DIR" "$CNI_CONF_DIR" "$WORK/flows.log" | awk '$2 == 644 {print $1}' | tr '\n' ' ')" >&2
}

test_state_folder_made_wider_is_narrowed() {
    node_create
    chmod 0755 "$STATE_DIR" # as a hostPath DirectoryOrCreate leaves it
    agent_start
    assert_eq "$(stat -c '%a' "$STATE_DIR")" 700 "state folder narrowed at start"
}

# What the ClusterRole grants must be exactly what agent/kube_client.c lists and watches.
test_rbac_is_read_only_least_privilege() {
    python3 - "$ROOT/manifests/weir.yaml" "$ROOT/agent/kube_client.c" <<'PY' || fail "RBAC of manifests/weir.yaml"
import re, sys, yaml
documents = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
problems = []
needed = set()
for path in re.findall(r'"(/apis?/[a-z0-9./-]+)"', open(sys.argv[2]).read()):
    parts = path.strip("/").split("/")
    needed.add(("", parts[2]) if parts[0] == "api" else (parts[1], parts[3]))
if len(needed) < 6:
    problems.append(f"only {sorted(needed)} found in kube_client.c")
granted = set()
for role in (d for d in documents if d["kind"] in ("ClusterRole", "Role")):
    for rule in role.get("rules", []):
        verbs = set(rule.get("verbs", []))
        if not verbs <= {"get", "list", "watch"}:
            problems.append(f"{role['metadata']['name']}: verbs {sorted(verbs)}")
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                if "*" in (group, resource) or "/" in resource:
                    problems.append(f"wildcard or subresource {group}/{resource}")
                granted.add((group, resource))
        if rule.get("nonResourceURLs"):
            problems.append(f"{role['metadata']['name']}: nonResourceURLs")
extra = granted - needed
if extra:
    problems.append(f"resources the agent does not watch: {sorted(extra)}")
if needed - granted:
    problems.append(f"missing: {sorted(needed - granted)}")
for binding in (d for d in documents if d["kind"] in ("ClusterRoleBinding", "RoleBinding")):
    subjects = binding.get("subjects", [])
    if subjects != [{"kind": "ServiceAccount", "name": "weir-agent", "namespace": "kube-system"}]:
        problems.append(f"binding {binding['metadata']['name']} subjects {subjects}")
    if binding["roleRef"]["name"] != "weir-agent":
        problems.append(f"binding to {binding['roleRef']['name']}")
for daemonset in (d for d in documents if d["kind"] == "DaemonSet"):
    if daemonset["spec"]["template"]["spec"].get("serviceAccountName") != "weir-agent":
        problems.append("the DaemonSet does not run as weir-agent")
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"security: RBAC: the {len(granted)} resources the agent watches, get/list/watch only,"
      " one ServiceAccount",
      file=sys.stderr)
PY
}

# --- no secret in any log --------------------------------------------------------------------

api_server_start() { # token
    API_DIR="$WORK/api"
    mkdir -p "$API_DIR"
    in_node "$PYTHON" "$ROOT/tests/fixtures/k8s_api_server.py" --port 0 --dir "$API_DIR" \
        --token "$1" --omit-item-kind --quiet >"$WORK/api.log" 2>&1 &
    local i
    for i in $(seq 1 200); do
        [ -f "$API_DIR/ready" ] && return 0
        sleep 0.05
    done
    cat "$WORK/api.log" >&2
    fail "test API server did not start"
}

api() { # method path [body]: the test's own calls, token in a header file
    printf 'Authorization: Bearer %s\n' "$(cat "$API_DIR/token")" >"$WORK/auth-header"
    local args=(-sS --fail-with-body --max-time 10 --cacert "$API_DIR/ca.crt" -H @"$WORK/auth-header"
        -H "Content-Type: application/json" -X "$1")
    [ -z "${3:-}" ] || args+=(--data-binary "$3")
    in_node curl "${args[@]}" "https://127.0.0.1:$(cat "$API_DIR/port")$2" >/dev/null ||
        fail "API call $1 $2"
}

test_no_secret_in_any_log() {
    node_create
    local token
    token="weir-secret-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    api_server_start "$token"
    local key_line
    key_line=$(sed -n 2p "$API_DIR/client.key") # a line of the client's private key
    [ ${#key_line} -ge 40 ] || fail "client key line"
    agent_start --kubeconfig "$API_DIR/kubeconfig" --flow-log "$WORK/flows.log"
    # Pods through the CNI with its own log at debug level.
    local config
    config=$(net_config "logFile=\"$WORK/cni.log\"" 'logLevel="debug"')
    local pod ip_a ip_b ip_c
    for pod in a b c; do
        netns_add "$TEST_ID-$pod"
        cni ADD "c-$pod" "$pod" eth0 "$config"
        [ "$CNI_RC" = 0 ] || fail "ADD $pod: $CNI_OUT"
        printf -v "ip_$pod" '%s' "$(json_get "$CNI_OUT" 'd["ips"][0]["address"].split("/")[0]')"
    done
    in_pod b socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e"}}'
    api POST /api/v1/namespaces/e2e/pods "$(pod_manifest a "$ip_a" '{"app":"client"}')"
    api POST /api/v1/namespaces/e2e/pods "$(pod_manifest b "$ip_b" '{"app":"server"}')"
    api POST /api/v1/namespaces/e2e/pods "$(pod_manifest c "$ip_c" '{"app":"other"}')"
    api POST /apis/networking.k8s.io/v1/namespaces/e2e/networkpolicies '{"apiVersion":"networking.k8s.io/v1",
        "kind":"NetworkPolicy","metadata":{"namespace":"e2e","name":"b-from-a"},
        "spec":{"podSelector":{"matchLabels":{"app":"server"}},
                "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"client"}}}]}]}}'
    # Allowed and dropped flows for the flow log.
    local i
    for i in $(seq 1 30); do
        in_pod a socat -T1 - "TCP:$ip_b:8080,connect-timeout=1" <<<"x" >/dev/null 2>&1 && break
        sleep 0.1
    done
    in_pod c socat -T1 - "TCP:$ip_b:8080,connect-timeout=1" <<<"x" >/dev/null 2>&1 &&
        fail "c -> b should be denied"
    # The server rotates the token: the agent's stale one gets 401s, which it logs.
    api POST /_control/rotate-token
    api POST /_control/disconnect
    local deadline=$((SECONDS + 10))
    until grep -q "HTTP 401" "$WORK/agent.log"; do
        [ $SECONDS -lt $deadline ] || fail "no 401 in the agent log after the rotation"
        sleep 0.1
    done
    # A restart with a client certificate instead, and one with the token from a file.
    agent_stop
    agent_start --kubeconfig "$API_DIR/kubeconfig-clientcert" --flow-log "$WORK/flows.log"
    agent_stop
    agent_start --kubeconfig "$API_DIR/kubeconfig-tokenfile" --flow-log "$WORK/flows.log"
    local second
    second=$(cat "$API_DIR/token")
    local flows lines
    flows=$(wc -l <"$WORK/flows.log")
    lines=$(cat "$WORK/agent.log" "$WORK/flows.log" "$WORK/cni.log" | wc -l)
    [ "$flows" -ge 2 ] || fail "only $flows flow log lines"
    [ -s "$WORK/cni.log" ] || fail "the CNI wrote no log"
    local secret where
    for secret in "$token" "$second" "$key_line"; do
        for where in "$WORK/agent.log" "$WORK/flows.log" "$WORK/cni.log"; do
            ! grep -qF -- "$secret" "$where" || fail "a secret leaked into $where"
        done
        ! grep -rqF -- "$secret" "$STATE_DIR" "$CNI_CONF_DIR" || fail "a secret in a state or CNI file"
        ! tr '\0' '\n' <"/proc/$AGENT_PID/cmdline" | grep -qF -- "$secret" || fail "a secret on the agent's command line"
        ! tr '\0' '\n' <"/proc/$AGENT_PID/environ" | grep -qF -- "$secret" || fail "a secret in the agent's environment"
    done
    echo "security: no token or key in $lines log lines ($flows flow log lines, agent log" \
        "with HTTP 401s, CNI log at debug), state files, command line or environment" >&2
}
