# weirctl against a real agent (standalone manifests): every command's table and JSON output,
# the agent's flow stream (history, --follow, filters, a reader too slow to keep up), trace
# through the loaded programs for an allowed and a denied pair and through a Service, and the
# errors that tell the operator how to start the agent.

WC_VIP=10.96.78.10

ctl() { in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" "$@"; }

wc_applied() { ctl status | python3 -c 'import json,sys; print(json.load(sys.stdin)["appliedChanges"])'; }

wc_pod() { # name ip app-label
    cat <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"e2e","name":"$1","labels":{"app":"$3"}},
 "spec":{"nodeName":"$TEST_ID","containers":[{"name":"c","image":"x"}]},
 "status":{"phase":"Running","podIP":"$2","podIPs":[{"ip":"$2"}]}}
JSON
}

wc_tcp() { # pod address port: "ok" or the error's name (short timeout: denials are expected)
    in_pod "$1" python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.5)
    s.sendall(b"x\n"); print("ok" if s.recv(4) == b"x\n" else "bad")
except Exception as error:
    print(type(error).__name__)
' "$2" "$3"
}

wc_udp() { # pod address port count: sends count datagrams, each from a new socket (a new flow)
    in_pod "$1" python3 -c '
import socket, sys
for _ in range(int(sys.argv[3])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", (sys.argv[1], int(sys.argv[2])))
    s.close()
' "$2" "$3" "$4"
}

# jq-free: python over the JSON on stdin; prints the expression's value.
wc_json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(($1))"; }
# The same over JSON lines: d is the list of parsed lines.
wc_lines() { python3 -c "import json,sys; d=[json.loads(l) for l in sys.stdin if l.strip()]; print(($1))"; }

# Pods a (app=client), b (app=server, serving TCP 8080 and 9090), c (app=other); a policy that
# lets only a reach b on 8080; Service web (VIP:80 -> b:8080). Sets ip_a, ip_b, ip_c.
wc_cluster() {
    node_create
    mkdir -p "$MANIFESTS"
    write_manifest namespace.yaml "apiVersion: v1
kind: Namespace
metadata: {name: e2e}"
    agent_start
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    pod_create c; ip_c=$POD_IP
    in_pod b socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    in_pod b socat TCP-LISTEN:9090,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    local before
    before=$(wc_applied)
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(wc_pod a "$ip_a" client), $(wc_pod b "$ip_b" server), $(wc_pod c "$ip_c" other)]}"
    write_manifest policy.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: web-from-client}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client}}
    ports:
    - {protocol: TCP, port: 8080}"
    write_manifest service.json "{\"apiVersion\":\"v1\",\"kind\":\"Service\",
 \"metadata\":{\"namespace\":\"e2e\",\"name\":\"web\"},
 \"spec\":{\"clusterIP\":\"$WC_VIP\",\"clusterIPs\":[\"$WC_VIP\"],
   \"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":8080,\"protocol\":\"TCP\"}]}}"
    write_manifest slice.json "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",
 \"addressType\":\"IPv4\",\"metadata\":{\"namespace\":\"e2e\",\"name\":\"web-1\",
   \"labels\":{\"kubernetes.io/service-name\":\"web\"}},
 \"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],
 \"endpoints\":[{\"addresses\":[\"$ip_b\"],\"conditions\":{\"ready\":true}}]}"
    wait_applied_after "$before"
    local i
    for i in $(seq 1 100); do
        [ "$(in_pod b ss -H -ltn 'sport = :9090' | wc -l)" -ge 1 ] &&
            [ "$(ctl services -o json | wc_json 'len(d)')" -ge 1 ] && return 0
        sleep 0.05
    done
    fail "servers in b or the Service did not come up"
}

test_weirctl_commands_print_tables_and_json() {
    wc_cluster
    assert_eq "$(wc_tcp a "$ip_b" 8080)" ok "a -> b:8080 allowed"
    assert_eq "$(wc_tcp c "$ip_b" 8080)" TimeoutError "c -> b:8080 denied"

    # status: JSON by default (scripts read it), a table on request
    assert_eq "$(ctl status | wc_json 'd["ready"], d["nodeName"]')" "(True, '$TEST_ID')" "status JSON"
    assert_eq "$(ctl status -o json | wc_json '"bufferedLines" in d["flowStream"]')" True "status -o json has the flow stream"
    table=$(ctl -o table status)
    echo "$table" | head -1 | grep -Eq "^NODE +READY +SYNCED +SOURCE +POD-CIDR" || fail "status table header: $table"
    echo "$table" | grep -Eq "^$TEST_ID +yes +yes +standalone " || fail "status table row: $table"

    # endpoints
    table=$(ctl endpoints)
    assert_eq "$(echo "$table" | wc -l)" 4 "endpoints: a header and three pods"
    echo "$table" | grep -Eq "^[0-9]+ +$ip_b +e2e/b +weir[0-9a-f]+ +[0-9a-f:]+ +yes +[0-9]+ +[0-9]+ +[1-9][0-9]*$" || fail "endpoints row of b: $table"
    json=$(ctl endpoints -o json)
    assert_eq "$(echo "$json" | wc_json 'sorted(e["pod"] for e in d)')" "['a', 'b', 'c']" "endpoints JSON pods"
    assert_eq "$(echo "$json" | wc_json '[e["inMap"] and e["identity"] > 0 for e in d if e["pod"] == "b"][0]')" True "endpoints JSON b in the map"

    # counters
    ctl counters | grep -Eq "^ct_new +[1-9]" || fail "counters table: $(ctl counters)"
    assert_eq "$(ctl counters -o json | wc_json '[c["value"] > 0 for c in d if c["counter"] == "ct_new"][0]')" True "counters JSON"

    # drops
    ctl drops | grep -Eq "^[0-9]+ +e2e/b +policy_denied_ingress +ingress +[1-9]" || fail "drops table: $(ctl drops)"
    assert_eq "$(ctl drops -o json | wc_json '[x["reason"] for x in d if x["pod"] == "b"]')" "['policy_denied_ingress']" "drops JSON"

    # identities
    ctl identities | grep -Eq "^[0-9]+ +pod +e2e: app=server$" || fail "identities table: $(ctl identities)"
    assert_eq "$(ctl identities -o json | wc_json '[i["labels"] for i in d if i["kind"] == "pod" and i["labels"].get("app") == "client"]')" "[{'app': 'client'}]" "identities JSON"

    # services
    ctl services | grep -Eq "^$WC_VIP:80 +TCP +e2e/web cluster-ip +$ip_b:8080$" || fail "services table: $(ctl services)"
    assert_eq "$(ctl services -o json | wc_json '[(s["service"], s["port"], s["backends"][0]["address"]) for s in d]')" "[('e2e/web', 80, '$ip_b')]" "services JSON"

    # policy
    words=$(ctl policy e2e/b)
    assert_contains "$words" "isolated by e2e/web-from-client" "policy names the isolating policy"
    assert_contains "$words" "from e2e: app=client: TCP 8080 (allowed by e2e/web-from-client)" "policy explains the rule"
    json=$(ctl -o json policy e2e/b)
    assert_eq "$(echo "$json" | wc_json 'd["ingress"]["isolatedBy"], d["egress"]["isolated"]')" "('e2e/web-from-client', False)" "policy JSON isolation"
    assert_eq "$(echo "$json" | wc_json '[(r["protocol"], r["ports"], r["policy"], r["peer"]["labels"]) for r in d["ingress"]["rules"]]')" \
        "[('TCP', {'first': 8080, 'last': 8080}, 'e2e/web-from-client', {'app': 'client'})]" "policy JSON rules"

    # bad arguments: the command's usage, exit 2
    set +e
    out=$(ctl policy nopod 2>&1); rc=$?
    set -e
    assert_eq "$rc" 2 "policy with a bad argument exits 2"
    assert_contains "$out" "usage: weirctl [--bpffs DIR] [--state-dir DIR] policy NAMESPACE/POD" "policy usage"
    set +e
    out=$(ctl -o yaml endpoints 2>&1); rc=$?
    set -e
    assert_eq "$rc" 2 "-o yaml exits 2"
    assert_contains "$out" "the output is table or json" "-o yaml says what is allowed"
}

test_weirctl_flows_history_follow_and_filters() {
    wc_cluster
    assert_eq "$(wc_tcp a "$ip_b" 8080)" ok "a -> b:8080 allowed"
    assert_eq "$(wc_tcp c "$ip_b" 8080)" TimeoutError "c -> b:8080 denied"
    sleep 0.2
    lines=$(ctl flows -o json)
    assert_eq "$(echo "$lines" | wc_lines 'any(l["type"] == "flow" and l["verdict"] == "allowed" and l["source"]["name"] == "e2e/a" and l["destination"]["port"] == 8080 for l in d)')" True "a forwarded flow a -> b"
    assert_eq "$(echo "$lines" | wc_lines '[l["policy"] for l in d if l["type"] == "drop" and l["source"]["name"] == "e2e/c"][0]')" \
        "no rule of the policies selecting e2e/b allows it: e2e/web-from-client" "the drop names the policy"
    table=$(ctl flows)
    assert_contains "$(echo "$table" | head -1)" "TIME" "flows table header"
    for column in TYPE SOURCE DESTINATION PROTO/PORT VERDICT REASON/POLICY; do
        assert_contains "$(echo "$table" | head -1)" "$column" "flows table header"
    done
    echo "$table" | grep -Eq " flow +e2e/a +e2e/b +TCP/8080 +allowed +allowed by e2e/web-from-client" || fail "flows table: forwarded row: $table"
    echo "$table" | grep -Eq " drop +e2e/c +e2e/b +TCP/8080 +dropped +policy_denied_ingress: .*e2e/web-from-client" || fail "flows table: drop row: $table"

    # filters
    assert_eq "$(ctl flows -o json --verdict dropped | wc_lines 'sorted(set(l["verdict"] for l in d))')" "['dropped']" "--verdict dropped"
    assert_eq "$(ctl flows -o json --verdict forwarded | wc_lines '"dropped" not in set(l.get("verdict") for l in d) and len(d) > 0')" True "--verdict forwarded"
    assert_eq "$(ctl flows -o json --type drop | wc_lines 'sorted(set(l["type"] for l in d))')" "['drop']" "--type drop"
    assert_eq "$(ctl flows -o json --pod e2e/a | wc_lines 'all("e2e/a" in (l["source"]["name"], l["destination"]["name"]) for l in d) and len(d) > 0')" True "--pod e2e/a"
    assert_eq "$(ctl flows -o json --pod e2e/a --verdict dropped | wc_lines 'len(d)')" 0 "a had nothing dropped"
    set +e
    out=$(ctl flows --type nope 2>&1); rc=$?
    set -e
    assert_eq "$rc" 2 "--type nope exits 2"
    assert_contains "$out" "the type is http, drop, flow, flow_end or revoked" "--type error"

    # --follow: the readers stay connected and get a line that happens while they run
    in_node timeout 6 "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" flows --follow -o json --type drop >"$WORK/follow.json" 2>"$WORK/follow.err" &
    local follow_json=$!
    in_node timeout 6 "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" flows --follow >"$WORK/follow.table" 2>&1 &
    local follow_table=$!
    for i in $(seq 1 60); do
        [ "$(ctl status | wc_json 'd["flowStream"]["readers"]')" = 2 ] && break
        sleep 0.05
    done
    wc_udp c "$ip_b" 7777 1
    for i in $(seq 1 60); do
        grep -q '"port":7777' "$WORK/follow.json" && grep -q "UDP/7777" "$WORK/follow.table" && break
        sleep 0.05
    done
    kill "$follow_json" "$follow_table" 2>/dev/null || true
    wait "$follow_json" "$follow_table" 2>/dev/null || true
    grep '"port":7777' "$WORK/follow.json" | wc_lines 'd[0]["type"], d[0]["verdict"], d[0]["source"]["name"]' |
        grep -qx "('drop', 'dropped', 'e2e/c')" || fail "flows --follow -o json missed the new drop: $(cat "$WORK/follow.json" "$WORK/follow.err")"
    grep -Eq " drop +e2e/c +e2e/b +UDP/7777 +dropped " "$WORK/follow.table" || fail "flows --follow table missed the new drop: $(cat "$WORK/follow.table")"
}

test_weirctl_slow_flow_reader_never_blocks_the_agent() {
    wc_cluster
    # A follower that stops reading: its queue fills, its lines are dropped and counted, and
    # once it reads again it is told how many it lost.
    in_node python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"flows-follow\n")
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
s.settimeout(3)
data = b""
while b"\"type\":\"lost\"" not in data:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    data += chunk
for line in data.splitlines():
    if b"\"type\":\"lost\"" in line:
        print(line.decode())
' "$STATE_DIR/weir.sock" "$WORK/resume" >"$WORK/stuck.out" 2>&1 &
    local stuck=$!
    for i in $(seq 1 60); do
        [ "$(ctl status | wc_json 'd["flowStream"]["readers"]')" = 1 ] && break
        sleep 0.05
    done
    # About 5000 new UDP flows c -> b (no policy on UDP 9999... b's policy isolates it, so they
    # are drops: one event each), paced under the datapath's event rate limit.
    in_pod c python3 -c '
import socket, sys, time
for _ in range(5):
    for _ in range(1000):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"x", (sys.argv[1], 9999))
        s.close()
    time.sleep(0.4)
' "$ip_b" &
    local flood=$!
    sleep 1
    started=$(date +%s%N)
    in_node timeout 2 "$WEIRCTL" --state-dir "$STATE_DIR" status >/dev/null || fail "status while a reader is stuck"
    elapsed=$((($(date +%s%N) - started) / 1000000))
    [ $elapsed -lt 1000 ] || fail "status took $elapsed ms while a reader is stuck"
    wait "$flood"
    sleep 0.3
    dropped=$(ctl status | wc_json 'd["flowStream"]["droppedForSlowReaders"]')
    [ "$dropped" -gt 0 ] || fail "no lines dropped for the stuck reader: $(ctl status)"
    touch "$WORK/resume"
    sleep 0.5
    wc_udp c "$ip_b" 9998 1
    wait "$stuck" || true
    assert_eq "$(wc_lines 'd[0]["lost"] == '"$dropped" <"$WORK/stuck.out")" True "the reader is told how many lines it lost: $(cat "$WORK/stuck.out")"
    # A fresh reader gets the history at once.
    assert_eq "$(ctl flows -o json | wc_lines 'len(d) >= 1000')" True "history after the flood"
}

test_weirctl_trace_explains_allowed_denied_and_service() {
    wc_cluster
    out=$(ctl trace e2e/a e2e/b 8080/tcp)
    assert_contains "$out" "verdict      allowed" "trace a -> b:8080"
    assert_contains "$out" "delivered to local pod e2e/b" "trace a -> b:8080 delivery"
    assert_contains "$out" "allowed by e2e/web-from-client" "trace names the allowing policy"
    json=$(ctl trace -o json e2e/a "$ip_b" 8080/tcp)
    assert_eq "$(echo "$json" | wc_json 'd["result"]["verdict"], d["result"]["action"], d["program"], d["conntrackEntriesDeleted"]')" \
        "('allowed', 'TC_ACT_REDIRECT', 'from_pod', 1)" "trace JSON allowed"
    port=$(echo "$json" | wc_json 'd["packet"]["sourcePort"]')
    bpftool map dump pinned "$BPFFS/ct" -j | python3 -c "
import ipaddress, json, sys
source = ipaddress.IPv4Address(sys.argv[1]).packed
port = int(sys.argv[2]).to_bytes(2, 'big')
for entry in json.load(sys.stdin):
    key = bytes(int(b, 16) for b in entry['key'])
    if (key[0:4], key[8:10]) == (source, port) or (key[4:8], key[10:12]) == (source, port):
        sys.exit('the traced tuple is still in conntrack')
" "$ip_a" "$port" || fail "trace left a conntrack entry"

    out=$(ctl trace e2e/c e2e/b 8080/tcp)
    assert_contains "$out" "denied: no rule of the policies selecting e2e/b allows it (isolated by e2e/web-from-client)" "trace c -> b:8080 denied, naming the policy"
    assert_contains "$out" "TC_ACT_SHOT (2): dropped: policy_denied_ingress" "trace c -> b:8080 program verdict"
    json=$(ctl trace -o json "$ip_c" e2e/b 8080/tcp)
    assert_eq "$(echo "$json" | wc_json 'd["result"]["verdict"], d["result"]["dropReason"], d["policy"][-1]["policy"]')" \
        "('denied', 'policy_denied_ingress', 'e2e/web-from-client')" "trace JSON denied"

    out=$(ctl trace e2e/a "$WC_VIP" 80/tcp)
    assert_contains "$out" "is Service e2e/web cluster-ip; backends: $ip_b:8080" "trace shows the service"
    assert_contains "$out" "the program chose backend $ip_b:8080" "trace shows the chosen backend"
    assert_contains "$out" "verdict      allowed" "trace a -> VIP allowed"
    assert_eq "$(ctl trace -o json e2e/a "$WC_VIP" 80/tcp | wc_json 'd["conntrackEntriesDeleted"]')" 2 "service trace removes both entries"

    # From outside the node to a pod: to_pod judges it with world's identity.
    assert_contains "$(ctl trace 192.0.2.7 e2e/b 8080/tcp)" "TC_ACT_SHOT" "world -> b denied"
    assert_contains "$(ctl trace 192.0.2.7 e2e/a 8080/tcp)" "verdict      allowed" "world -> a (not isolated) allowed"

    set +e
    out=$(ctl trace e2e/a e2e/b 8080/xyz 2>&1); rc=$?
    set -e
    assert_eq "$rc" 2 "trace with a bad protocol exits 2"
    assert_contains "$out" "usage: weirctl [--bpffs DIR] [--state-dir DIR] trace SRC DST PORT/PROTO" "trace usage"
}

test_weirctl_without_agent_says_how_to_start_it() {
    mkdir -p "$WORK/empty"
    set +e
    out=$("$WEIRCTL" --state-dir "$WORK/empty" status 2>&1); rc=$?
    set -e
    assert_eq "$rc" 1 "status without an agent exits 1"
    assert_contains "$out" "not answering on $WORK/empty/weir.sock" "status names the socket"
    assert_contains "$out" "weir-agent --node-name NODE --standalone MANIFEST_DIR" "status says how to start the agent"
    assert_contains "$out" "--kubeconfig FILE" "status names the cluster way too"
    set +e
    out=$("$WEIRCTL" --state-dir "$WORK/empty" flows --follow 2>&1); rc=$?
    set -e
    assert_eq "$rc" 1 "flows without an agent exits 1"
    assert_contains "$out" "weir-agent --node-name NODE" "flows says how to start the agent"
    set +e
    out=$("$WEIRCTL" --bpffs "$WORK/empty" --state-dir "$WORK/empty" -o json endpoints 2>&1); rc=$?
    set -e
    assert_eq "$rc" 1 "endpoints without maps exits 1"
    assert_contains "$out" "under --bpffs $WORK/empty" "endpoints names the bpffs it tried"
    assert_contains "$out" "--bpffs $WORK/empty --state-dir $WORK/empty" "the hint carries the paths"
    set +e
    out=$("$WEIRCTL" --bpffs "$WORK/empty" trace 2>&1); rc=$?
    set -e
    assert_eq "$rc" 2 "trace without arguments exits 2"
    assert_contains "$out" "weirctl trace: needs SRC, DST and PORT/PROTO" "trace says what it needs"
}
