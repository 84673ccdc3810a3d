# L7 policy end to end: a WeirNetworkPolicy with HTTP matchers compiled by a real agent into
# the policy and http_rules maps, and enforced by the datapath on real HTTP/1.1 traffic
# between pods (keep-alive connections, 403 for refused requests, flow log naming the policy);
# invalid matchers failing closed; and the Kubernetes source with and without the CRD.

L7_POLICY=service-b-l7

l7_pod_manifest() { # name ip
    cat <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"e2e","name":"$1","labels":{"app":"$1"}},
 "spec":{"nodeName":"$TEST_ID","containers":[{"name":"c","image":"x","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}]}]},
 "status":{"phase":"Running","podIP":"$2","podIPs":[{"ip":"$2"}]}}
JSON
}

# An HTTP/1.1 keep-alive server on 8080 (and a plain one on 9090) answering every method with
# 200 and "METHOD PATH".
l7_http_server() { # pod
    in_pod "$1" python3 -c '
import http.server, socketserver, sys, threading
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = ("%s %s\n" % (self.command, self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
servers = [Server(("0.0.0.0", port), Handler) for port in (8080, 9090)]
threading.Thread(target=servers[1].serve_forever, daemon=True).start()
servers[0].serve_forever()
' >"$WORK/http-$1.log" 2>&1 &
    local i
    for i in $(seq 1 100); do
        [ "$(in_pod "$1" ss -H -ltn 'sport = :8080 or sport = :9090' | wc -l)" -ge 2 ] && return 0
        sleep 0.05
    done
    cat "$WORK/http-$1.log" >&2
    fail "HTTP server in $1 did not start"
}

# l7_requests POD ADDRESS PORT STEP...: STEP is "new" (the next request opens a new
# connection) or "METHOD PATH". Prints one line per request: "METHOD PATH STATUS conn=N", N
# counting the TCP connections opened so far, or the exception's name instead of the status.
l7_requests() {
    in_pod "$1" python3 -c '
import http.client, socket, sys
address, port, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
connection, connections = None, 0
for step in steps:
    if step == "new" or connection is None:
        if connection is not None:
            connection.close()
        connection = http.client.HTTPConnection(address, port, timeout=2)
        if step == "new":
            continue
    method, path = step.split(" ", 1)
    # http.client connects when it has no socket (first request, or after the server closed).
    if connection.sock is None:
        connections += 1
    try:
        connection.request(method, path, body=b"x" if method in ("POST", "PUT") else None)
        response = connection.getresponse()
        response.read()
        print(f"{method} {path} {response.status} conn={connections}")
    except Exception as error:
        print(f"{method} {path} {type(error).__name__} conn={connections}")
        connection.close()
        connection = None
    sys.stdout.flush()
' "$2" "$3" "${@:4}"
}

l7_pods() { # standalone agent; pods service-a, service-b (servers), service-c; all in e2e
    node_create
    mkdir -p "$MANIFESTS"
    write_manifest namespaces.yaml "apiVersion: v1
kind: Namespace
metadata: {name: e2e}"
    agent_start --flow-log "$WORK/flows.jsonl" "$@"
    pod_create service-a; ip_a=$POD_IP
    pod_create service-b; ip_b=$POD_IP
    pod_create service-c; ip_c=$POD_IP
    l7_http_server service-b
    local before
    before=$(status_field appliedChanges)
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(l7_pod_manifest service-a "$ip_a"), $(l7_pod_manifest service-b "$ip_b"),
        $(l7_pod_manifest service-c "$ip_c")]}"
    wait_applied_after "$before"
}

l7_policy_manifest() { # http-matchers-yaml (indented for a port rule's "http:")
    cat <<YAML
apiVersion: weir.dev/v1alpha1
kind: WeirNetworkPolicy
metadata: {namespace: e2e, name: $L7_POLICY}
spec:
  podSelector: {matchLabels: {app: service-b}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: service-a}}
    ports:
    - port: 8080
      http:
$1
YAML
}

l7_apply() { # name content
    local before
    before=$(status_field appliedChanges)
    write_manifest "$1" "$2"
    wait_applied_after "$before"
}

# Entries of a pinned map as JSON lines of {"key": [bytes], "value": [bytes]}.
l7_map_entries() { # map
    bpftool map dump pinned "$BPFFS/$1" -j | python3 -c '
import json, sys
for entry in json.load(sys.stdin):
    print(json.dumps({"key": [int(b, 16) for b in entry["key"]],
                      "value": [int(b, 16) for b in entry["value"]]}))
'
}

# "flags rule_id" of each policy entry of TCP port 8080 (struct weir_policy_key/_entry).
l7_port_8080_entries() {
    l7_map_entries policy | python3 -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    key, value = bytes(d["key"]), bytes(d["value"])
    if key[13] == 6 and int.from_bytes(key[14:16], "big") == 8080:
        print(value[1], int.from_bytes(value[4:8], "little"))
'
}

l7_http_rule_ids() { # the distinct rule ids of the http_rules map, one a line
    l7_map_entries http_rules | python3 -c '
import json, sys
ids = {int.from_bytes(bytes(json.loads(line)["key"][:4]), "little") for line in sys.stdin}
print("\n".join(str(i) for i in sorted(ids)))
'
}

l7_flow_line() { # python expression over d: the first flow log line it holds for
    python3 -c "
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if $1:
        print(line.strip()); break
" "$WORK/flows.jsonl"
}

test_l7_policy_allows_only_the_listed_requests() {
    l7_pods
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /admin")" "GET /admin 200 conn=1" "no policy yet"
    l7_apply l7.yaml "$(l7_policy_manifest "      - {method: GET, path: /hello}")"

    # Compiled: the entry for service-a on 8080 is HTTP-checked, its rule set is in the map
    # and its rule id names the policy.
    local entries rule_id
    entries=$(l7_port_8080_entries)
    assert_eq "$(echo "$entries" | wc -l)" 1 "one policy entry on 8080: $entries"
    assert_eq "${entries%% *}" 1 "the entry has WEIR_POLICY_FLAG_HTTP"
    rule_id=${entries##* }
    assert_eq "$(l7_http_rule_ids)" "$rule_id" "the http_rules map holds the entry's set"
    grep -q "policy e2e/$L7_POLICY (HTTP: GET /hello)" "$STATE_DIR/rules.json" ||
        fail "the rule table does not name the HTTP set: $(cat "$STATE_DIR/rules.json")"

    # Allowed: GET /hello, twice on one keep-alive connection.
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /hello" "GET /hello" | tr '\n' ';')" \
        "GET /hello 200 conn=1;GET /hello 200 conn=1;" "GET /hello twice on one connection"
    # Refused by the datapath with 403: another method, another path.
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /hello" "POST /hello" | tr '\n' ';')" \
        "GET /hello 200 conn=1;POST /hello 403 conn=1;" "POST /hello after an allowed request"
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /admin")" "GET /admin 403 conn=1" "GET /admin"
    # A new connection afterwards works again.
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /hello")" "GET /hello 200 conn=1" "a new connection after a refusal"
    # Peers the policy does not name are refused at L4, and other ports of service-b too.
    assert_eq "$(l7_requests service-c "$ip_b" 8080 "GET /hello")" "GET /hello TimeoutError conn=1" "service-c is not allowed at all"
    assert_eq "$(l7_requests service-a "$ip_b" 9090 "GET /hello")" "GET /hello TimeoutError conn=1" "9090 is not allowed"

    # The flow log names the refusal: reason, method, path and the policy.
    sleep 0.3
    local drop
    drop=$(l7_flow_line "d.get('reason') == 'http_denied' and d.get('http', {}).get('method') == 'POST'")
    [ -n "$drop" ] || fail "no http_denied drop for POST in the flow log: $(tail -5 "$WORK/flows.jsonl")"
    assert_eq "$(json_get "$drop" 'd["http"]["path"]')" /hello "the refused path"
    assert_eq "$(json_get "$drop" 'd["verdict"]')" dropped "verdict"
    assert_contains "$(json_get "$drop" 'd["policy"]')" "e2e/$L7_POLICY" "the drop names the policy"
    assert_eq "$(json_get "$drop" 'd["ruleId"]')" "$rule_id" "the drop's rule id is the set's"
    drop=$(l7_flow_line "d.get('reason') == 'http_denied' and d.get('http', {}).get('path') == '/admin'")
    [ -n "$drop" ] || fail "no http_denied drop for GET /admin in the flow log"
    assert_eq "$(json_get "$drop" 'd["http"]["method"]')" GET "the refused method"

    # weirctl says the HTTP rules in words, in the table and in JSON.
    assert_contains "$(in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" policy e2e/service-b)" \
        "GET /hello" "weirctl policy shows the HTTP matcher"
    assert_contains "$(in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" -o json policy e2e/service-b)" \
        "GET /hello" "weirctl policy -o json too"

    # Removing the policy removes its rule set, and service-b is open again.
    local before
    before=$(status_field appliedChanges)
    rm "$MANIFESTS/l7.yaml"
    wait_applied_after "$before"
    assert_eq "$(l7_http_rule_ids)" "" "no rule set left in http_rules"
    assert_eq "$(l7_port_8080_entries)" "" "no policy entry left on 8080"
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /admin")" "GET /admin 200 conn=1" "open again"
}

test_l7_policy_prefix_and_plain_allow_add_up() {
    l7_pods
    l7_apply l7.yaml "$(l7_policy_manifest "      - {path: /api/*}
      - {method: GET, path: /hello, host: service-b.E2E}")"
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "DELETE /api/items/7" "GET /api/" | tr '\n' ';')" \
        "DELETE /api/items/7 200 conn=1;GET /api/ 200 conn=1;" "any method under the /api/ prefix"
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /ap")" "GET /ap 403 conn=1" "shorter than the prefix"
    # http.client sends "Host: <address>:8080": the host matcher does not allow it.
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /hello")" "GET /hello 403 conn=1" "GET /hello with another host"

    # A restarted agent rebuilds its view from the maps: nothing rewritten, same verdicts.
    local sets_before revision_before i
    sets_before=$(l7_http_rule_ids)
    revision_before=$(status_field policyRevision)
    agent_stop
    agent_start --flow-log "$WORK/flows.jsonl"
    for i in $(seq 1 100); do [ "$(status_field appliedChanges)" -ge 1 ] && break; sleep 0.05; done
    assert_eq "$(l7_http_rule_ids)" "$sets_before" "rule sets after a restart"
    assert_eq "$(status_field policyRevision)" "$revision_before" "nothing rewritten: revision unchanged"
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /api/x" "GET /ap" | tr '\n' ';')" \
        "GET /api/x 200 conn=1;GET /ap 403 conn=1;" "enforced the same after the restart"

    # A NetworkPolicy allowing the same peer and port plainly: the union is plain L4.
    l7_apply plain.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: service-b-plain}
spec:
  podSelector: {matchLabels: {app: service-b}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: service-a}}
    ports:
    - {port: 8080}"
    assert_eq "$(l7_port_8080_entries | cut -d' ' -f1)" 0 "the entry is plain"
    assert_eq "$(l7_http_rule_ids)" "" "no rule set is needed any more"
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "POST /anything")" "POST /anything 200 conn=1" "plain L4"
}

test_l7_policy_invalid_matchers_fail_closed() {
    l7_pods
    l7_apply l7.yaml "$(l7_policy_manifest "      - {method: FETCH, path: /hello}")"
    grep -q "policy refused: WeirNetworkPolicy e2e/$L7_POLICY: spec.ingress\[0\].ports\[0\].http\[0\]: method \"FETCH\"" "$WORK/agent.log" ||
        fail "the agent log does not explain the refused policy: $(grep -i refused "$WORK/agent.log")"
    assert_eq "$(grep -c "policy refused:" "$WORK/agent.log")" 1 "logged once"
    assert_eq "$(status_field isolatedEndpoints)" 1 "service-b is still isolated"
    assert_eq "$(l7_port_8080_entries)" "" "the port rule allows nothing"
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /hello")" "GET /hello TimeoutError conn=1" "fail closed, never open"

    # Fixed: enforced as written.
    l7_apply l7.yaml "$(l7_policy_manifest "      - {method: GET, path: /hello}")"
    assert_eq "$(l7_port_8080_entries | cut -d' ' -f1)" 1 "an HTTP entry once the policy is valid"
}

KAPI="$ROOT/tests/fixtures/kapi.py"
API_DIR=""

l7_api_pods() { # extra API server flags...
    node_create
    API_DIR="$WORK/api"
    mkdir -p "$API_DIR"
    in_node python3 "$ROOT/tests/fixtures/k8s_api_server.py" --port 0 --dir "$API_DIR" \
        --omit-item-kind --quiet "$@" >"$WORK/api.log" 2>&1 &
    local i
    for i in $(seq 1 200); do
        [ -f "$API_DIR/ready" ] && break
        sleep 0.05
    done
    [ -f "$API_DIR/ready" ] || { cat "$WORK/api.log" >&2; fail "test API server did not start"; }
    agent_start --kubeconfig "$API_DIR/kubeconfig"
    pod_create service-a; ip_a=$POD_IP
    pod_create service-b; ip_b=$POD_IP
    pod_create service-c; ip_c=$POD_IP
    l7_http_server service-b
    echo '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e"}}' | l7_kapi create - >/dev/null
    l7_pod_manifest service-a "$ip_a" | l7_kapi create - >/dev/null
    l7_pod_manifest service-b "$ip_b" | l7_kapi create - >/dev/null
    l7_pod_manifest service-c "$ip_c" | l7_kapi create - >/dev/null
}

l7_kapi() { in_node python3 "$KAPI" --dir "$API_DIR" "$@"; }

test_l7_policy_from_the_api_server() {
    l7_api_pods --weir-crds
    local before
    before=$(status_field appliedChanges)
    python3 -c '
import json, sys
print(json.dumps({"apiVersion": "weir.dev/v1alpha1", "kind": "WeirNetworkPolicy",
    "metadata": {"namespace": "e2e", "name": sys.argv[1]},
    "spec": {"podSelector": {"matchLabels": {"app": "service-b"}},
             "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "service-a"}}}],
                          "ports": [{"port": 8080, "http": [{"method": "GET", "path": "/hello"}]},
                                    {"port": 9090}]}]}}))
' "$L7_POLICY" | l7_kapi create - >/dev/null
    wait_applied_after "$before"
    local i
    for i in $(seq 1 100); do
        [ "$(status_field isolatedEndpoints)" = 1 ] && break
        sleep 0.05
    done
    assert_eq "$(status_field isolatedEndpoints)" 1 "the WeirNetworkPolicy from the API isolates service-b"
    assert_eq "$(l7_port_8080_entries | cut -d' ' -f1)" 1 "HTTP entry on 8080"
    [ -n "$(l7_http_rule_ids)" ] || fail "no rule set written"
    assert_eq "$(l7_requests service-a "$ip_b" 9090 "GET /x")" "GET /x 200 conn=1" "9090: plain L4 from the same policy"
    assert_eq "$(l7_requests service-c "$ip_b" 9090 "GET /x")" "GET /x TimeoutError conn=1" "service-c refused"
    ! grep -q "is the weir.dev CRD installed" "$WORK/agent.log" || fail "the CRD is served, yet the agent says not"

    before=$(status_field appliedChanges)
    l7_kapi delete wnp e2e "$L7_POLICY" >/dev/null
    wait_applied_after "$before"
    for i in $(seq 1 100); do
        [ -z "$(l7_http_rule_ids)" ] && break
        sleep 0.05
    done
    assert_eq "$(l7_http_rule_ids)" "" "deleted from the API: its rule set goes"
    assert_eq "$(status_field isolatedEndpoints)" 0 "and service-b is open"
}

test_l7_policy_missing_crd_does_not_block_the_agent() {
    l7_api_pods
    # agent_start returned: the agent synced (the CNI config is written only then) although
    # weirnetworkpolicies answer 404; NetworkPolicy still works.
    local before
    before=$(status_field appliedChanges)
    echo '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"e2e","name":"deny-all"},"spec":{"podSelector":{}}}' |
        l7_kapi create - >/dev/null
    wait_applied_after "$before"
    local i
    for i in $(seq 1 100); do
        [ "$(status_field isolatedEndpoints)" = 3 ] && break
        sleep 0.05
    done
    assert_eq "$(status_field isolatedEndpoints)" 3 "NetworkPolicy enforced without the CRD"
    assert_eq "$(grep -c "WeirNetworkPolicy: /apis/weir.dev/v1alpha1/weirnetworkpolicies is not served" "$WORK/agent.log")" 1 \
        "the missing CRD is logged once"
    ! grep -q "WeirNetworkPolicy.*retrying" "$WORK/agent.log" || fail "a missing CRD is not an error to retry fast"
}

# Hand-made segments from a hostile client (root in its pod: scapy on raw sockets), each way
# once tried against the running system with GET /public/* as the only allowed request: the
# urgent byte, a request in a hole, a judged copy the server discards (bad checksum), a tiny
# first fragment, and an entry made to expire by an unchecked RST. Without the policy every way
# reaches the server (the attacks work, and the client sees the answers); with it, none does.
test_l7_policy_hostile_segments_never_deliver_a_denied_request() {
    /usr/bin/python3 -c 'import scapy' 2>/dev/null || fail "python3-scapy is missing (scripts/deps.sh)"
    l7_pods
    # The client's own kernel knows nothing of these connections: keep it from resetting them.
    # (The client's own RSTs carry TTL 99.)
    in_pod service-a iptables -A OUTPUT -p tcp --tcp-flags RST RST -d "$ip_b" --dport 8080 \
        -m ttl ! --ttl-eq 99 -j DROP
    local ways="urgent hole bad_checksum tiny_fragment closing_entry" result
    result=$(in_pod service-a /usr/bin/python3 tests/e2e/l7_hostile_client.py "$ip_b" 8080 $ways)
    assert_eq "$(echo "$result" | tr '\n' ';')" \
        "urgent delivered;hole delivered;bad_checksum delivered;tiny_fragment delivered;closing_entry delivered;" \
        "without a policy every way gets GET /admin answered"

    l7_apply l7.yaml "$(l7_policy_manifest "      - {path: /public/*}")"
    assert_eq "$(l7_requests service-a "$ip_b" 8080 "GET /public/x" "GET /admin/x" | tr '\n' ';')" \
        "GET /public/x 200 conn=1;GET /admin/x 403 conn=1;" "the policy holds for a plain client"
    result=$(in_pod service-a /usr/bin/python3 tests/e2e/l7_hostile_client.py "$ip_b" 8080 $ways)
    assert_eq "$(echo "$result" | tr '\n' ';')" \
        "urgent blocked;hole blocked;bad_checksum blocked;tiny_fragment blocked;closing_entry blocked;" \
        "with GET /public/* only, no way gets GET /admin answered"

    local reason counted
    # (The forged RST of closing_entry is now dropped as http_out_of_order: the entry never
    # expires, and GET /admin is judged and refused.)
    for reason in http_urgent http_out_of_order http_retransmission_differs http_fragmented; do
        counted=$(in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" drops 2>&1 | grep -c "$reason" || true)
        [ "$counted" -ge 1 ] || fail "no $reason drop counted: $(in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" drops 2>&1)"
    done
}
