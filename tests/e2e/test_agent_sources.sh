# The agent's object sources driving real traffic: standalone manifests (watched folder) and
# the restart behaviour (identities and verdicts stable, nothing rewritten).

pod_manifest() { # namespace name ip labels-json
    cat <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"$1","name":"$2","labels":$4},
 "spec":{"nodeName":"$TEST_ID","containers":[{"name":"c","image":"x","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}]}]},
 "status":{"phase":"Running","podIP":"$3","podIPs":[{"ip":"$3"}]}}
JSON
}

tcp_probe() { # pod address port
    in_pod "$1" python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    s.sendall(b"x\n"); print("ok" if s.recv(4) == b"x\n" else "bad")
except Exception as error:
    print(type(error).__name__)
' "$2" "$3"
}

standalone_two_pods() {
    node_create
    mkdir -p "$MANIFESTS"
    write_manifest namespaces.yaml "apiVersion: v1
kind: Namespace
metadata:
  name: e2e
  labels: {team: e2e}"
    agent_start --flow-log "$WORK/flows.jsonl"
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    in_pod b socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    in_pod b socat TCP-LISTEN:9090,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    local before
    before=$(status_field appliedChanges)
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(pod_manifest e2e a "$ip_a" '{"app":"client"}'),
        $(pod_manifest e2e b "$ip_b" '{"app":"server"}')]}"
    wait_applied_after "$before"
    sleep 0.2
}

test_standalone_policy_applies_and_follows_file_changes() {
    standalone_two_pods
    assert_eq "$(tcp_probe a "$ip_b" 8080)" ok "no policy yet"
    local before
    before=$(status_field appliedChanges)
    write_manifest policy.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: server-only-from-client}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client}}
      namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: e2e}}
    ports:
    - {protocol: TCP, port: http}"
    wait_applied_after "$before"
    assert_eq "$(tcp_probe a "$ip_b" 8080)" ok "client -> server:http (named port)"
    assert_eq "$(tcp_probe a "$ip_b" 9090)" TimeoutError "client -> server:9090 not allowed"
    assert_eq "$(status_field isolatedEndpoints)" 1 "one isolated endpoint"
    words=$(in_node "$WEIRCTL" --bpffs "$BPFFS" --state-dir "$STATE_DIR" policy e2e/b)
    assert_contains "$words" "isolated by e2e/server-only-from-client" "weirctl policy names the isolating policy"
    assert_contains "$words" "from e2e: app=client: TCP 8080 (allowed by e2e/server-only-from-client)" "weirctl policy explains the rule"
    assert_contains "$words" "egress of e2e/b" "both directions"
    assert_contains "$(in_node "$WEIRCTL" --state-dir "$STATE_DIR" identities)" "e2e: app=server" "weirctl identities"
    sleep 0.2
    flow_line() { # jq-free filter: python expression over d
        python3 -c "
import json, sys
for line in open('$WORK/flows.jsonl'):
    d = json.loads(line)
    if $1:
        print(json.dumps(d)); break
"
    }
    drop=$(flow_line "d['type'] == 'drop' and d['destination']['port'] == 9090")
    [ -n "$drop" ] || fail "no drop event for :9090 in the flow log: $(tail -3 "$WORK/flows.jsonl")"
    assert_eq "$(json_get "$drop" 'd["reason"]')" policy_denied_ingress "drop reason"
    assert_eq "$(json_get "$drop" 'd["source"]["name"] + " -> " + d["destination"]["name"]')" "e2e/a -> e2e/b" "drop names the pods"
    assert_eq "$(json_get "$drop" 'd["policy"]')" "no rule of the policies selecting e2e/b allows it: e2e/server-only-from-client" "drop names the policy"
    allowed=$(flow_line "d['type'] == 'flow' and d['destination']['port'] == 8080 and d['direction'] == 'ingress'")
    [ -n "$allowed" ] || allowed=$(flow_line "d['type'] == 'flow' and d['destination']['port'] == 8080")
    assert_eq "$(json_get "$allowed" 'd["verdict"]')" allowed "flow verdict"
    grep -q "dropped TCP e2e/a" "$WORK/agent.log" || fail "the agent log does not explain the drop"

    # A broken manifest keeps the previous state: fail closed, no flush.
    before=$(status_field appliedChanges)
    write_manifest broken.yaml "kind: [unclosed"
    sleep 0.3
    assert_eq "$(tcp_probe a "$ip_b" 9090)" TimeoutError "still isolated while a manifest is broken"
    grep -q "broken.yaml" "$WORK/agent.log" || fail "the agent log does not name the broken file"
    rm "$MANIFESTS/broken.yaml"

    before=$(status_field appliedChanges)
    rm "$MANIFESTS/policy.yaml"
    wait_applied_after "$before"
    assert_eq "$(tcp_probe a "$ip_b" 9090)" ok "policy removed: open again"
}

test_agent_restart_keeps_identities_and_verdicts() {
    standalone_two_pods
    local before
    before=$(status_field appliedChanges)
    write_manifest policy.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: deny-all}
spec: {podSelector: {}}"
    wait_applied_after "$before"
    assert_eq "$(tcp_probe a "$ip_b" 8080)" TimeoutError "deny-all"
    identities_before=$(cat "$STATE_DIR/identities.json")
    entries_before=$(status_field policyEntries)
    revision_before=$(bpftool map dump pinned "$BPFFS/policy_revision" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["value"])')
    agent_stop
    : >"$WORK/agent.log"
    agent_start --log-format json
    for i in $(seq 1 100); do [ "$(status_field appliedChanges)" -ge 1 ] && break; sleep 0.05; done
    python3 -c "
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.startswith('{')]
assert lines and all({'time', 'level', 'msg'} <= set(line) for line in lines), lines
assert any(line['msg'].startswith('applied change') for line in lines), lines
" "$WORK/agent.log" || fail "--log-format json: $(head -3 "$WORK/agent.log")"
    assert_eq "$(cat "$STATE_DIR/identities.json")" "$identities_before" "identities after restart"
    assert_eq "$(status_field policyEntries)" "$entries_before" "policy entries after restart"
    revision_after=$(bpftool map dump pinned "$BPFFS/policy_revision" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["value"])')
    assert_eq "$revision_after" "$revision_before" "nothing rewritten: revision unchanged"
    assert_eq "$(tcp_probe a "$ip_b" 8080)" TimeoutError "still denied after restart"
}

KAPI="$ROOT/tests/fixtures/kapi.py"
API_DIR=""

kapi() { in_node python3 "$KAPI" --dir "$API_DIR" "$@"; }

api_server_start() {
    API_DIR="$WORK/api"
    mkdir -p "$API_DIR"
    # In the node's namespace, so the agent reaches it on the node's loopback.
    in_node python3 "$ROOT/tests/fixtures/k8s_api_server.py" --port 0 --dir "$API_DIR" \
        --omit-item-kind --quiet >"$WORK/api.log" 2>&1 &
    local i
    for i in $(seq 1 200); do
        [ -f "$API_DIR/ready" ] && return 0
        sleep 0.05
    done
    cat "$WORK/api.log" >&2
    fail "test API server did not start"
}

test_api_server_source_enforces_and_recovers_missed_deletions() {
    node_create
    api_server_start
    agent_start --kubeconfig "$API_DIR/kubeconfig"
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    in_pod b socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    echo '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e"}}' | kapi create - >/dev/null
    pod_manifest e2e a "$ip_a" '{"app":"client"}' | kapi create - >/dev/null
    pod_manifest e2e b "$ip_b" '{"app":"server"}' | kapi create - >/dev/null
    local before
    before=$(status_field appliedChanges)
    echo '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"e2e","name":"deny-all"},"spec":{"podSelector":{}}}' |
        kapi create - >/dev/null
    wait_applied_after "$before"
    sleep 0.1
    assert_eq "$(tcp_probe a "$ip_b" 8080)" TimeoutError "deny-all from the API server"
    assert_eq "$(status_field source)" kubernetes "source"

    # The API server goes away; the datapath keeps its state (fail closed, no flush).
    kapi control fail status=503 count=100000 >/dev/null
    kapi control disconnect >/dev/null
    sleep 0.5
    assert_eq "$(tcp_probe a "$ip_b" 8080)" TimeoutError "still denied while the API is away"
    grep -q "HTTP 503" "$WORK/agent.log" || fail "the agent log does not show the 503s"

    # While away, the policy is deleted and the history compacted: the agent must relist.
    in_node python3 - "$API_DIR" <<'PY'
import json, ssl, sys, urllib.request
d = sys.argv[1]
port = open(d + "/port").read().strip()
token = open(d + "/token").read().strip()
context = ssl.create_default_context(cafile=d + "/ca.crt")
def call(method, path):
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", method=method,
                                     headers={"Authorization": "Bearer " + token})
    return urllib.request.urlopen(request, context=context).read()
call("POST", "/_control/clear-faults")
call("DELETE", "/apis/networking.k8s.io/v1/namespaces/e2e/networkpolicies/deny-all")
call("POST", "/_control/compact")
call("POST", "/_control/disconnect")
PY
    local i
    for i in $(seq 1 150); do
        [ "$(tcp_probe a "$ip_b" 8080)" = ok ] && break
        sleep 0.1
    done
    assert_eq "$(tcp_probe a "$ip_b" 8080)" ok "the deletion missed while away is applied after the relist"
    grep -q "listing again" "$WORK/agent.log" || fail "no relist in the agent log"
    ! grep -q "$(cat "$API_DIR/token")" "$WORK/agent.log" || fail "the token leaked into the log"
}
