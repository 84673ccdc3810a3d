# weir's own scenarios on the kind cluster, with kubectl: the seed demo (service-a calls
# service-b by its DNS name, a NetworkPolicy drop named in the agent's log, an L7
# WeirNetworkPolicy answered 403), pod to pod and pod to Service across nodes, NodePort and
# hostPort from the host, the agent restarted under traffic, a worker restarted. Sourced by
# tests/e2e/kind/e2e.sh, which sets KUBECTL, CONTEXT and RUN_DIR; each scenario
# runs in its own subshell and one line per scenario goes to $RUN_DIR/scenarios.tsv.

AGNHOST=${AGNHOST:-registry.k8s.io/e2e-test-images/agnhost:2.53}

k() { "$KUBECTL" --context "$CONTEXT" "$@"; }
kn() { k -n "$NS" "$@"; }

scenario_fail() { # one line, however many lines the message quotes
    echo "FAIL: $(echo "$*" | tr -s '\n' ' ')" >&2
    exit 1
}

# The reason a scenario failed: its FAIL line, else its last line.
failure_reason() { { grep '^FAIL: ' <<<"$1" || echo "$1"; } | tail -1 | tr '\t' ' '; }

# retry SECONDS COMMAND...: until it succeeds or SECONDS pass.
retry() {
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# from_a URL [curl options]: service-a fetches URL; prints the body, or "curl-failed <code>".
from_a() {
    local url=$1
    shift
    kn exec service-a -- curl -sS --max-time 3 "$@" "$url" 2>/dev/null || echo "curl-failed $?"
}

# from_host URL: the host (outside the cluster, on kind's docker network) fetches URL.
from_host() {
    curl -sS --max-time 3 "$1" 2>/dev/null || echo "curl-failed $?"
}

node_address() { k get node "$1" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}'; }

agent_logs() { # every agent's log, each line prefixed with its pod
    k -n kube-system logs -l app=weir-agent -c agent --tail=-1 --prefix 2>/dev/null
}

# The client on the first worker, the server on the second: every call crosses nodes.
pick_nodes() {
    local workers
    workers=$(k get nodes -l '!node-role.kubernetes.io/control-plane' -o jsonpath='{.items[*].metadata.name}')
    CLIENT_NODE=$(echo "$workers" | awk '{print $1}')
    SERVER_NODE=$(echo "$workers" | awk '{print $2}')
    [ -n "$SERVER_NODE" ] || { echo "FAIL: two worker nodes are needed, found: '$workers'" >&2; return 1; }
}

scenarios_setup() {
    k create namespace "$NS" >/dev/null
    k label namespace "$NS" weir-e2e=true >/dev/null
    kn apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: service-b}
spec:
  replicas: 1
  selector: {matchLabels: {app: service-b}}
  template:
    metadata: {labels: {app: service-b}}
    spec:
      nodeName: $SERVER_NODE
      containers:
      - name: netexec
        image: $AGNHOST
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: service-a, labels: {app: service-a}}
spec:
  nodeName: $CLIENT_NODE
  containers:
  - name: client
    image: $AGNHOST
    args: [pause]
---
apiVersion: v1
kind: Service
metadata: {name: service-b}
spec:
  selector: {app: service-b}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: service-b-cluster}
spec:
  type: NodePort
  externalTrafficPolicy: Cluster
  selector: {app: service-b}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: service-b-local}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: service-b}
  ports: [{name: http, port: 8080, targetPort: 8080}]
YAML
    kn rollout status deployment/service-b --timeout=180s >/dev/null ||
        scenario_fail "deployment service-b did not become ready on $SERVER_NODE"
    kn wait --for=condition=Ready pod/service-a --timeout=180s >/dev/null ||
        scenario_fail "pod service-a did not become ready on $CLIENT_NODE"
}

scenarios_teardown() {
    k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
}

service_b_pod() { kn get pods -l app=service-b --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}'; }
service_a_reaches() { [ "$(from_a http://service-b:8080/hostname)" = "$1" ]; }
agent_logs_name() { agent_logs | grep -qF "$1"; }
node_ready() {
    [ "$(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

scenario_service_a_calls_service_b_by_dns_name() {
    local got want
    want=$(service_b_pod)
    got=$(from_a http://service-b:8080/hostname)
    [ "$got" = "$want" ] || scenario_fail "service-a -> http://service-b:8080/hostname: got '$got', want '$want'"
    got=$(from_a "http://service-b.$NS.svc.cluster.local:8080/hostname")
    [ "$got" = "$want" ] || scenario_fail "by its full name: got '$got', want '$want'"
}

scenario_networkpolicy_drop_is_named_in_the_agent_log() {
    kn apply -f - >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-monitoring}
spec:
  podSelector: {matchLabels: {app: service-b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: monitoring}}}]
YAML
    local got deadline
    # Policies apply within moments: the first denied fetch ends the wait.
    deadline=$(($(date +%s) + 15))
    while got=$(from_a http://service-b:8080/hostname --max-time 2); [[ "$got" != curl-failed* ]]; do
        [ "$(date +%s)" -lt "$deadline" ] || scenario_fail "service-a still reaches service-b under only-monitoring: $got"
    done
    retry 20 agent_logs_name "$NS/only-monitoring" ||
        scenario_fail "no agent log line names $NS/only-monitoring; the agents' drop lines: $(agent_logs | grep -i drop | tail -3)"
    kn delete networkpolicy only-monitoring >/dev/null
    retry 15 service_a_reaches "$(service_b_pod)" ||
        scenario_fail "service-a does not reach service-b again once the policy is gone"
}

scenario_l7_policy_answers_403() {
    kn apply -f - >/dev/null <<'YAML'
apiVersion: weir.dev/v1alpha1
kind: WeirNetworkPolicy
metadata: {name: hostname-only}
spec:
  podSelector: {matchLabels: {app: service-b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: service-a}}}]
    ports:
    - port: 8080
      http: [{method: GET, path: /hostname}]
YAML
    local code deadline
    deadline=$(($(date +%s) + 15))
    until code=$(from_a http://service-b:8080/hostname -o /dev/null -w '%{http_code}' -X DELETE); [ "$code" = 403 ]; do
        [ "$(date +%s)" -lt "$deadline" ] || scenario_fail "DELETE /hostname under hostname-only: got '$code', want 403"
        sleep 1
    done
    code=$(from_a http://service-b:8080/hostname -o /dev/null -w '%{http_code}')
    [ "$code" = 200 ] || scenario_fail "GET /hostname under hostname-only: got '$code', want 200"
    code=$(from_a http://service-b:8080/clientip -o /dev/null -w '%{http_code}')
    [ "$code" = 403 ] || scenario_fail "GET /clientip (not allowed) under hostname-only: got '$code', want 403"
    kn delete weirnetworkpolicy hostname-only >/dev/null
}

scenario_pod_to_pod_across_nodes() {
    local ip got want
    ip=$(kn get pods -l app=service-b -o jsonpath='{.items[0].status.podIP}')
    want=$(service_b_pod)
    got=$(from_a "http://$ip:8080/hostname")
    [ "$got" = "$want" ] || scenario_fail "service-a on $CLIENT_NODE -> $ip:8080 on $SERVER_NODE: got '$got'"
    # The server sees the client's own pod address: no SNAT between nodes.
    got=$(from_a "http://$ip:8080/clientip")
    [ "${got%:*}" = "$(kn get pod service-a -o jsonpath='{.status.podIP}')" ] ||
        scenario_fail "service-b saw the client as '$got', not service-a's pod address"
}

scenario_pod_to_service_across_nodes() {
    local vip got want
    vip=$(kn get service service-b -o jsonpath='{.spec.clusterIP}')
    want=$(service_b_pod)
    got=$(from_a "http://$vip:8080/hostname")
    [ "$got" = "$want" ] || scenario_fail "service-a on $CLIENT_NODE -> ClusterIP $vip:8080 (backend on $SERVER_NODE): got '$got'"
}

scenario_nodeport_cluster_policy_with_a_remote_backend() {
    local port address got want
    port=$(kn get service service-b-cluster -o jsonpath='{.spec.ports[0].nodePort}')
    address=$(node_address "$CLIENT_NODE")
    want=$(service_b_pod)
    got=$(from_host "http://$address:$port/hostname")
    [ "$got" = "$want" ] ||
        scenario_fail "host -> $CLIENT_NODE $address:$port (externalTrafficPolicy Cluster, backend on $SERVER_NODE): got '$got', want '$want'"
}

scenario_nodeport_local_policy() {
    local port got want
    port=$(kn get service service-b-local -o jsonpath='{.spec.ports[0].nodePort}')
    want=$(service_b_pod)
    got=$(from_host "http://$(node_address "$SERVER_NODE"):$port/hostname")
    [ "$got" = "$want" ] ||
        scenario_fail "host -> $SERVER_NODE:$port (externalTrafficPolicy Local, the backend's node): got '$got', want '$want'"
    # Local keeps the client's address; the host reaches kind's nodes through the bridge.
    got=$(from_host "http://$(node_address "$SERVER_NODE"):$port/clientip")
    case "$got" in curl-failed*) scenario_fail "host -> $SERVER_NODE:$port/clientip: $got" ;; esac
    ip -4 -o addr show | grep -q " ${got%:*}/" ||
        scenario_fail "the backend saw the client as '$got', not an address of this host"
    got=$(from_host "http://$(node_address "$CLIENT_NODE"):$port/hostname")
    [[ "$got" == curl-failed* ]] ||
        scenario_fail "host -> $CLIENT_NODE:$port (externalTrafficPolicy Local, no local backend) must not be served, got '$got'"
}

scenario_hostport_from_the_host() {
    local port=$((31000 + RANDOM % 1000)) got
    kn apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: hostport, labels: {app: hostport}}
spec:
  nodeName: $SERVER_NODE
  containers:
  - name: netexec
    image: $AGNHOST
    args: [netexec, --http-port=8080]
    ports: [{containerPort: 8080, hostPort: $port}]
YAML
    kn wait --for=condition=Ready pod/hostport --timeout=120s >/dev/null || scenario_fail "pod hostport did not become ready"
    got=$(from_host "http://$(node_address "$SERVER_NODE"):$port/hostname")
    [ "$got" = hostport ] || scenario_fail "host -> $SERVER_NODE:$port (hostPort): got '$got'"
    kn delete pod hostport --wait=false >/dev/null
}

# Requests from service-a to service-b, one every 0.1 s, while the agents are replaced:
# every one must be answered (the datapath keeps running while the agent restarts).
scenario_agent_rollout_restart_under_traffic() {
    local log=$RUN_DIR/rollout-traffic.log failures total
    kn exec service-a -- sh -c 'for i in $(seq 1 600); do
        curl -s --max-time 2 -o /dev/null -w "%{http_code}\n" http://service-b:8080/hostname || echo "failed $?"
        sleep 0.1; done' >"$log" 2>&1 &
    local traffic=$!
    sleep 3
    k -n kube-system rollout restart ds/weir-agent >/dev/null
    k -n kube-system rollout status ds/weir-agent --timeout=300s >/dev/null ||
        { kill "$traffic" 2>/dev/null; scenario_fail "ds/weir-agent did not roll out again within 300 s"; }
    wait "$traffic" || true
    total=$(grep -c . "$log" || true)
    failures=$(grep -vcx 200 "$log" || true)
    [ "$total" -ge 300 ] || scenario_fail "only $total requests ran: $(tail -3 "$log")"
    [ "$failures" -eq 0 ] || scenario_fail "$failures of $total requests failed during the rollout: $(grep -vx 200 "$log" | sort | uniq -c | tr '\n' ' ')"
}

scenario_worker_restart_brings_its_pods_back() {
    local before after got
    before=$(service_b_pod)
    docker restart "$SERVER_NODE" >/dev/null || scenario_fail "docker restart $SERVER_NODE"
    retry 240 node_ready "$SERVER_NODE" ||
        scenario_fail "$SERVER_NODE is not Ready 240 s after docker restart"
    kn rollout status deployment/service-b --timeout=240s >/dev/null ||
        scenario_fail "service-b did not become ready again on $SERVER_NODE"
    after=$(service_b_pod)
    retry 120 service_a_reaches "$after" ||
        scenario_fail "service-a does not reach service-b ($before, now $after) after the restart of $SERVER_NODE: $(from_a http://service-b:8080/hostname)"
}

SCENARIOS_STEADY="service_a_calls_service_b_by_dns_name networkpolicy_drop_is_named_in_the_agent_log
l7_policy_answers_403 pod_to_pod_across_nodes pod_to_service_across_nodes
nodeport_cluster_policy_with_a_remote_backend nodeport_local_policy hostport_from_the_host"
SCENARIOS_DISRUPTIVE="agent_rollout_restart_under_traffic worker_restart_brings_its_pods_back"

# run_scenarios NAMES...: in a namespace of their own, made for them and removed after; one TSV
# line per scenario (name, passed|failed, seconds, why) appended to $RUN_DIR/scenarios.tsv.
run_scenarios() {
    local name started output rc
    NS=weir-e2e-$(printf '%04x' $((RANDOM)))
    output=""
    if ! pick_nodes 2>"$RUN_DIR/pick-nodes.err" || ! output=$(set -euo pipefail; scenarios_setup 2>&1); then
        output=${output:-$(cat "$RUN_DIR/pick-nodes.err")}
        for name in "$@"; do
            printf '%s\tfailed\t0\tsetup: %s\n' "$name" "$(echo "$output" | tail -1)" >>"$RUN_DIR/scenarios.tsv"
        done
        echo "not ok - scenarios setup: $output"
        scenarios_teardown
        return
    fi
    for name in "$@"; do
        started=$(date +%s)
        output=$(set -euo pipefail; "scenario_$name" 2>&1)
        rc=$?
        if [ "$rc" -eq 0 ]; then
            echo "ok - scenario $name ($(($(date +%s) - started)) s)"
            printf '%s\tpassed\t%s\t\n' "$name" "$(($(date +%s) - started))" >>"$RUN_DIR/scenarios.tsv"
        else
            echo "not ok - scenario $name: $(failure_reason "$output")"
            printf '%s\tfailed\t%s\t%s\n' "$name" "$(($(date +%s) - started))" "$(failure_reason "$output")" >>"$RUN_DIR/scenarios.tsv"
        fi
    done
    scenarios_teardown
}
