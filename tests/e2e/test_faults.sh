# Reliability under faults: the API server misbehaving in every way we can make it (cut
# streams, 410 Gone, 5xx, 429, stalls, corrupt watch lines, a 10 MiB object, token rotation,
# a CA that does not match), the agent SIGKILLed under steady traffic, and weir-cni killed at
# every step of ADD. Throughout: the datapath keeps its last known state (a denied pair stays
# denied, an allowed pair stays allowed: fail static, never open), the agent recovers when the
# server does, its log says what happened, and no token ever reaches the log.
#
# Capacity (a full conntrack map: 262,144 entries) is not exercised here: filling it takes far
# longer than a test may; IPAM exhaustion is covered by test_bad_input.sh.

FAULTS_DIR="$ROOT/tests/e2e/faults"
# The system interpreter when there is one: a version manager's shim costs ~200 ms per start,
# and the probes below start Python hundreds of times. Standard library only is needed.
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
python3() { "$PYTHON" "$@"; } # also speeds up lib.sh's helpers in this file's tests
API_DIR=""
API_TOKEN_FILE="" # the token the test's own API calls use (default: $API_DIR/token)
PODS=/api/v1/namespaces/e2e/pods
POLICIES=/apis/networking.k8s.io/v1/namespaces/e2e/networkpolicies

# --- helpers -----------------------------------------------------------------------------------

# api METHOD PATH [BODY|@FILE]: a REST call to the test API server with curl; the token goes in
# a header file, never on a command line. Prints the response body; fails the test on an error.
api() {
    local method=$1 path=$2 body=${3:-} content_type=application/json
    [ "$method" = PATCH ] && content_type=application/merge-patch+json
    printf 'Authorization: Bearer %s\n' "$(tr -d '[:space:]' <"${API_TOKEN_FILE:-$API_DIR/token}")" \
        >"$WORK/auth-header"
    local args=(-sS --fail-with-body --max-time 30 --cacert "$API_DIR/ca.crt"
        -H @"$WORK/auth-header" -H "Content-Type: $content_type" -X "$method")
    [ -z "$body" ] || args+=(--data-binary "$body")
    in_node curl "${args[@]}" "https://127.0.0.1:$(cat "$API_DIR/port")$path" ||
        fail "API call $method $path failed"
}

api_control() { # action [query]
    api POST "/_control/$1${2:+?$2}" >/dev/null
}

api_stat() { # python expression over the stats object s
    api GET /_control/stats | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# cut_streams [query]: /_control/disconnect of every watch; remembers how many watches had been
# started, so wait_watches_open knows the agent's 6 watches are new ones.
CUT_STARTED=0
cut_streams() {
    CUT_STARTED=$(api_stat 's["watches_started"]')
    api_control disconnect "$@"
}

wait_watches_open() { # seconds what: every kind's watch is open again since the last cut
    local deadline=$((SECONDS + $1))
    until [ "$(api_stat "s['watches_open'] == 6 and s['watches_started'] >= $CUT_STARTED + 6")" = True ]; do
        [ $SECONDS -lt $deadline ] || fail "$2: the agent's 6 watches are not open again after $1 s"
        sleep 0.1
    done
}

# agent_launch [flags...]: the agent as agent_start runs it, without waiting for readiness (for
# an agent that must NOT become ready). AGENT_PID is set, so cleanup stops it.
agent_launch() {
    mkdir -p "$MANIFESTS"
    nsenter --net="/var/run/netns/$NODE_NETNS" "$WEIR_AGENT" --node-name "$TEST_ID" \
        --pod-cidr "$POD_CIDR" --bpffs "$BPFFS" --state-dir "$STATE_DIR" \
        --cni-conf-dir "$CNI_CONF_DIR" "$@" >>"$WORK/agent.log" 2>&1 &
    AGENT_PID=$!
}

wait_agent_answers() { # seconds: the (new) agent serves its control socket
    local deadline=$((SECONDS + $1))
    until in_node timeout 1 "$WEIRCTL" --state-dir "$STATE_DIR" status 2>/dev/null | grep -q '"ready"'; do
        kill -0 "$AGENT_PID" 2>/dev/null || fail "weir-agent exited: $(tail -5 "$WORK/agent.log")"
        [ $SECONDS -lt $deadline ] || fail "weir-agent does not answer after $1 s"
        sleep 0.05
    done
}

api_server_start() {
    API_DIR="$WORK/api"
    mkdir -p "$API_DIR"
    # In the node's namespace, so the agent reaches it on the node's loopback.
    in_node "$PYTHON" "$ROOT/tests/fixtures/k8s_api_server.py" --port 0 --dir "$API_DIR" \
        --omit-item-kind --quiet >"$WORK/api.log" 2>&1 &
    local i
    for i in $(seq 1 200); do
        [ -f "$API_DIR/ready" ] && return 0
        sleep 0.05
    done
    cat "$WORK/api.log" >&2
    fail "test API server did not start"
}

wait_for_log() { # extended-regexp seconds what
    local deadline=$((SECONDS + $2))
    until grep -qE -- "$1" "$WORK/agent.log"; do
        [ $SECONDS -lt $deadline ] ||
            fail "$3: no line matching '$1' in the agent log within $2 s; log tail: $(tail -5 "$WORK/agent.log")"
        sleep 0.05
    done
}

assert_no_token_in_log() { # token files or literal tokens...
    local token
    for token in "$@"; do
        [ -f "$token" ] && token=$(tr -d '[:space:]' <"$token")
        [ -n "$token" ] || continue
        ! grep -qF -- "$token" "$WORK/agent.log" || fail "a bearer token leaked into the agent log"
    done
}

assert_agent_alive() { # what
    kill -0 "$AGENT_PID" 2>/dev/null || fail "$1: weir-agent died; log tail: $(tail -15 "$WORK/agent.log")"
    in_node timeout 2 "$WEIRCTL" --state-dir "$STATE_DIR" status 2>/dev/null | grep -q '"ready"' ||
        fail "$1: weir-agent does not answer weirctl status within 2 s"
}

# The datapath state an agent restart must not change: identities, policy and isolation maps.
datapath_snapshot() {
    {
        cat "$STATE_DIR/identities.json"
        local map
        for map in policy endpoint_policy ipcache; do
            echo "== $map"
            bpftool map dump pinned "$BPFFS/$map" -j |
                python3 -c 'import json,sys; [print(json.dumps(e, sort_keys=True)) for e in sorted(json.load(sys.stdin), key=lambda e: json.dumps(e["key"]))]'
        done
    }
}

pod_manifest() { # namespace name ip labels-json
    cat <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"$1","name":"$2","labels":$4},
 "spec":{"nodeName":"$TEST_ID","containers":[{"name":"c","image":"x","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}]}]},
 "status":{"phase":"Running","podIP":"$3","podIPs":[{"ip":"$3"}]}}
JSON
}

# The policy under every fault: server pod b takes TCP 8080 only from app=client.
ALLOW_CLIENT_POLICY='{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
 "metadata":{"namespace":"e2e","name":"allow-client"},
 "spec":{"podSelector":{"matchLabels":{"app":"server"}},
         "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"client"}}}],
                     "ports":[{"protocol":"TCP","port":8080}]}]}}'

# A second policy, a typical "change after recovery": it lets app=other (pod c) in as well.
ALLOW_OTHER_POLICY='{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
 "metadata":{"namespace":"e2e","name":"allow-other"},
 "spec":{"podSelector":{"matchLabels":{"app":"server"}},
         "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"other"}}}],
                     "ports":[{"protocol":"TCP","port":8080}]}]}}'

BASELINE="a:ok c:TimeoutError" # a (app=client) allowed, c (app=other) denied
BOTH_ALLOWED="a:ok c:ok"

# pair_state: probes a -> b:8080 and c -> b:8080 at once; prints "a:<result> c:<result>" where
# a result is "ok" or the exception (a dropped SYN times out: "TimeoutError").
pair_state() {
    local probe='
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], 8080), timeout=0.75)
    s.sendall(b"x\n"); print("ok" if s.recv(4) == b"x\n" else "bad")
except Exception as error:
    print(type(error).__name__)
'
    in_pod a "$PYTHON" -c "$probe" "$ip_b" >"$WORK/probe-a" 2>&1 &
    local pid_a=$!
    in_pod c "$PYTHON" -c "$probe" "$ip_b" >"$WORK/probe-c" 2>&1 &
    local pid_c=$!
    wait $pid_a $pid_c || true
    echo "a:$(tail -1 "$WORK/probe-a") c:$(tail -1 "$WORK/probe-c")"
}

assert_pair_state() { # expected what
    assert_eq "$(pair_state)" "$1" "$2"
}

wait_pair_state() { # expected seconds what
    local deadline=$((SECONDS + $2)) got
    while :; do
        got=$(pair_state)
        [ "$got" = "$1" ] && return 0
        [ $SECONDS -lt $deadline ] || fail "$3: expected '$1' within $2 s, still '$got'"
        sleep 0.1
    done
}

holds_for() { # expected seconds what: probed again and again, the pair state stays as it was
    local deadline=$((SECONDS + $2))
    assert_pair_state "$1" "$3"
    while [ $SECONDS -lt $deadline ]; do
        assert_pair_state "$1" "$3"
    done
}

# A node with the test API server in it.
api_node() {
    node_create
    api_server_start
}

# api_pods_and_policy KUBECONFIG: the agent watching the API server through KUBECONFIG, pods a
# (app=client), c (app=other), b (app=server, echo on 8080) and the allow-client policy.
api_pods_and_policy() {
    agent_start --kubeconfig "$1"
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    pod_create c; ip_c=$POD_IP
    in_pod b socat TCP-LISTEN:8080,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e"}}' >/dev/null
    api POST $PODS "$(pod_manifest e2e a "$ip_a" '{"app":"client"}')" >/dev/null
    api POST $PODS "$(pod_manifest e2e b "$ip_b" '{"app":"server"}')" >/dev/null
    api POST $PODS "$(pod_manifest e2e c "$ip_c" '{"app":"other"}')" >/dev/null
    api POST $POLICIES "$ALLOW_CLIENT_POLICY" >/dev/null
    wait_pair_state "$BASELINE" 5 "baseline from the API server"
    assert_eq "$(status_field source)" kubernetes "source"
}

relabel_c() { # app label value
    api PATCH $PODS/c "{\"metadata\":{\"labels\":{\"app\":\"$1\"}}}" >/dev/null
}

# --- API server faults --------------------------------------------------------------------------

# The agent backs off exponentially (capped at 30 s) on every broken stream, so the bounds below
# grow with the number of failures a test has just caused.
test_api_watch_streams_cut_mid_stream() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig"
    # Every stream cut mid-stream (no TLS close, no last chunk), and at once a change.
    cut_streams mode=abrupt
    api POST $POLICIES "$ALLOW_OTHER_POLICY" >/dev/null
    wait_pair_state "$BOTH_ALLOWED" 5 "a change made while the agent reconnects"
    wait_for_log "Pod: watch /api/v1/pods: .*; retrying in" 1 "the cut streams"
    api DELETE $POLICIES/allow-other >/dev/null
    wait_pair_state "$BASELINE" 5 "a deletion after the reconnect"
    # Cut by TCP resets, and the server answers nothing but 503 for a while.
    wait_watches_open 5 "after the first cut"
    api_control fail "status=503&count=-1&method=GET"
    cut_streams mode=rst
    holds_for "$BASELINE" 1 "streams reset, API away: the last known state"
    wait_for_log "watch /api/v1/pods: HTTP 503; retrying in" 1 "the 503s while away"
    api_control clear-faults
    relabel_c client
    wait_pair_state "$BOTH_ALLOWED" 12 "a change once the server is back"
    # A clean end (as a server-side timeout) and an ERROR event: resumed at once, no gap.
    wait_watches_open 15 "after the 503s"
    cut_streams mode=clean
    wait_watches_open 3 "after a clean end"
    cut_streams "mode=error&code=500"
    wait_for_log "Pod: watch error 500" 2 "the ERROR event"
    relabel_c other
    wait_pair_state "$BASELINE" 5 "a change after a clean end and an ERROR event"
    assert_agent_alive "after cut streams"
    assert_no_token_in_log "$API_DIR/token"
}

test_api_410_gone_relists_what_was_missed() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig"
    # Away (every GET 503): c is relabelled app=client and the history compacted meanwhile.
    api_control fail "status=503&count=-1&method=GET"
    cut_streams
    relabel_c client
    holds_for "$BASELINE" 1 "away: c's relabel is not known yet, the last known state stays"
    api_control compact
    api_control clear-faults
    wait_pair_state "$BOTH_ALLOWED" 12 "the relabel missed while away, after the 410 relist"
    wait_for_log "Pod: (resourceVersion [0-9]+ expired|410 Gone), listing again" 1 "the 410 on resume"
    # A 410 ERROR event on a live watch, and a change right after it.
    wait_watches_open 5 "after the relist"
    local relists
    relists=$(api_stat 's["lists"]')
    cut_streams "mode=error&code=410"
    relabel_c other
    wait_pair_state "$BASELINE" 5 "a change made after the 410 ERROR event"
    [ "$(api_stat 's["lists"]')" -ge $((relists + 6)) ] || fail "no relist after the 410 ERROR events"
    assert_agent_alive "after 410s"
    assert_no_token_in_log "$API_DIR/token"
}

test_api_500s_on_lists_and_watches() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig"
    # Lists fail: the history is compacted, every list answers 500, the streams are cut, and c
    # is relabelled app=client meanwhile. A failed relist must not flush anything.
    api_control compact
    api_control fail "status=500&count=-1&verb=list"
    cut_streams
    relabel_c client
    holds_for "$BASELINE" 1 "every relist failing: the last known state"
    wait_for_log "list /api/v1/pods: HTTP 500; retrying in" 2 "the failed lists"
    api_control clear-faults
    wait_pair_state "$BOTH_ALLOWED" 12 "the relabel, once a list succeeds"
    relabel_c other
    wait_pair_state "$BASELINE" 5 "a change after the lists recovered"
    # Watches fail: every GET answers 500 for 2 s.
    wait_watches_open 5 "after the relist"
    api_control fail "status=500&count=-1&method=GET"
    cut_streams
    holds_for "$BASELINE" 2 "every watch failing: the last known state"
    wait_for_log "watch /api/v1/pods: HTTP 500; retrying in" 1 "the failed watches"
    api_control clear-faults
    api POST $POLICIES "$ALLOW_OTHER_POLICY" >/dev/null
    wait_pair_state "$BOTH_ALLOWED" 12 "a change after the watches recovered"
    assert_agent_alive "after 500s"
    assert_no_token_in_log "$API_DIR/token"
}

readyz() { # the agent's /readyz: "<code> <body>"
    local answer
    answer=$(in_node curl -s --max-time 2 -w '\n%{http_code}' "http://127.0.0.1:9962/readyz")
    echo "${answer##*$'\n'} ${answer%$'\n'*}"
}

wait_readyz() { # code seconds what
    local deadline=$((SECONDS + $2))
    until [[ "$(readyz)" == "$1 "* ]]; do
        [ $SECONDS -lt $deadline ] || fail "$3: /readyz is '$(readyz)', not $1, after $2 s"
        sleep 0.1
    done
}

# A node whose agent cannot reach the API server keeps enforcing what it has, and says so: a
# log line when the outage starts and when it ends, `weirctl status` apiServer, and /readyz
# (503 with the reason: the kubelet shows it, the datapath is untouched).
test_api_unreachable_is_reported_while_enforcing() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig"
    agent_stop
    agent_start --kubeconfig "$API_DIR/kubeconfig" --metrics-addr 127.0.0.1:9962
    wait_readyz 200 5 "a synced agent"
    assert_eq "$(status_field apiServer)" reachable "status while the API server answers"
    # Every request fails: the API server is there but answers nothing useful.
    api_control fail "status=500&count=-1&method=GET"
    cut_streams
    wait_readyz 503 5 "the API server failing"
    assert_contains "$(readyz)" "API server unreachable" "/readyz names the cause"
    assert_contains "$(readyz)" "enforcing the last known state" "/readyz says the datapath holds"
    assert_eq "$(status_field apiServer)" unreachable "status during the outage"
    wait_for_log "API server unreachable \\([0-9]+ of [0-9]+ resource streams failing\\)" 2 "the outage logged"
    holds_for "$BASELINE" 1 "the API server failing: the last known state"
    api_control clear-faults
    wait_readyz 200 20 "the API server answering again"
    wait_for_log "API server reachable again" 2 "the recovery logged"
    # The process gone altogether (connection refused): the same, and enforcement holds.
    in_node pkill -f "k8s_api_server.py --port 0 --dir $API_DIR" || fail "stop the test API server"
    wait_readyz 503 10 "the API server gone"
    assert_eq "$(status_field apiServer)" unreachable "status with the API server gone"
    holds_for "$BASELINE" 2 "the API server gone: the last known state"
    assert_agent_alive "API server gone"
}

test_api_429s_back_off() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig"
    api_control reset-stats
    api_control fail "status=429&count=-1&method=GET&retry_after=1"
    cut_streams
    holds_for "$BASELINE" 2 "HTTP 429 on every request: the last known state"
    wait_for_log "watch /api/v1/pods: HTTP 429; retrying in" 1 "the 429s"
    # Backing off, not spinning: 6 streams answered 429 for 2 s stay far below 100 requests.
    local answered
    answered=$(api_stat 's["injected_failures"]')
    [ "$answered" -le 60 ] || fail "$answered requests answered 429 within 2 s: the agent does not back off"
    api_control clear-faults
    api POST $POLICIES "$ALLOW_OTHER_POLICY" >/dev/null
    wait_pair_state "$BOTH_ALLOWED" 12 "a change after the 429s"
    assert_agent_alive "after 429s"
    assert_no_token_in_log "$API_DIR/token"
}

test_api_server_that_stalls() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig"
    # The streams are cut, then every GET is held 3 s before any answer (headers included): the
    # agent must keep serving, keep its state, and carry on once answers come.
    api_control reset-stats
    api_control delay "ms=3000&count=-1&method=GET"
    cut_streams
    holds_for "$BASELINE" 2 "API stalled: the last known state"
    assert_agent_alive "while every request stalls"
    [ "$(api_stat 's["injected_delays"]')" -ge 6 ] || fail "the agent's requests were not stalled"
    api_control clear-faults
    api POST $POLICIES "$ALLOW_OTHER_POLICY" >/dev/null
    wait_pair_state "$BOTH_ALLOWED" 10 "a change made once the server answers again"
    # One stream stalled for good (network policies) holds back no other (pods).
    wait_watches_open 5 "after the stall"
    api_control delay "ms=600000&count=1&verb=watch&path_prefix=/apis/networking.k8s.io/"
    api_control disconnect "resource=networkpolicies"
    relabel_c nobody
    wait_pair_state "$BASELINE" 5 "a pod change while the policy stream is stalled"
    assert_eq "$(api_stat 's["injected_delays"] >= 7 and "networkpolicies" not in s["watches_open_by_resource"]')" \
        True "the policy stream was stalled during the pod change"
    assert_agent_alive "after the stall"
    assert_no_token_in_log "$API_DIR/token"
}

# Through tests/e2e/faults/watch_corrupter.py, the change that tightens allow-client (from
# app=client to app=nobody: a -> b must become denied) reaches the agent as a garbage or
# truncated watch line. The agent must survive it, say so, and still converge to what the API
# server holds: an event it could not read is not a change it may skip (that would be fail-open).
corrupt_watch_line_scenario() { # mode
    api_node
    in_node "$PYTHON" "$FAULTS_DIR/watch_corrupter.py" --dir "$WORK/proxy" --upstream "$API_DIR" \
        >"$WORK/proxy.log" 2>&1 &
    local i
    for i in $(seq 1 100); do [ -f "$WORK/proxy/ready" ] && break; sleep 0.05; done
    [ -f "$WORK/proxy/ready" ] || fail "watch_corrupter did not start: $(cat "$WORK/proxy.log")"
    api_pods_and_policy "$WORK/proxy/kubeconfig"
    printf '{"match": "allow-client", "mode": "%s"}\n' "$1" >"$WORK/proxy/.corrupt"
    mv "$WORK/proxy/.corrupt" "$WORK/proxy/corrupt"
    api PATCH $POLICIES/allow-client \
        '{"spec":{"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"nobody"}}}],"ports":[{"protocol":"TCP","port":8080}]}]}}' >/dev/null
    for i in $(seq 1 100); do [ -f "$WORK/proxy/corrupted" ] && break; sleep 0.05; done
    [ -f "$WORK/proxy/corrupted" ] || fail "the policy's watch event did not go through the proxy"
    wait_for_log "NetworkPolicy: .*(unreadable|not JSON|invalid|corrupt)" 2 "the $1 watch line"
    assert_agent_alive "after a $1 watch line"
    case "$(pair_state)" in *" c:TimeoutError") ;; *) fail "c -> b no longer denied after a $1 watch line" ;; esac
    # A change after it is applied ...
    api POST $POLICIES "$ALLOW_OTHER_POLICY" >/dev/null
    local got
    for i in $(seq 1 50); do
        got=$(pair_state)
        case "$got" in *c:ok) break ;; esac
        sleep 0.1
    done
    assert_contains "$got" "c:ok" "a change made after the $1 watch line"
    # ... and so is the change the corrupted line carried.
    wait_pair_state "a:TimeoutError c:ok" 5 \
        "the change carried by the $1 watch line (allow-client narrowed to app=nobody; the API denies a -> b)"
    assert_no_token_in_log "$API_DIR/token"
}

test_api_garbage_watch_line() {
    corrupt_watch_line_scenario garbage
}

test_api_truncated_watch_line() {
    corrupt_watch_line_scenario truncate
}

test_api_10mib_object() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig"
    # An unrelated pod with a 10 MiB annotation, then c relabelled app=client with one as well.
    python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
blob = "x" * (10 << 20)
pod = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"namespace": "e2e", "name": "big", "labels": {"app": "bulk"},
                    "annotations": {"example.com/blob": blob}},
       "spec": {"nodeName": "elsewhere", "containers": [{"name": "c", "image": "x"}]}}
json.dump(pod, open(f"{work}/big-pod.json", "w"))
json.dump({"metadata": {"labels": {"app": "client"}, "annotations": {"example.com/blob": blob}}},
          open(f"{work}/big-patch.json", "w"))
PY
    api POST $PODS @"$WORK/big-pod.json" >/dev/null
    api PATCH $PODS/c @"$WORK/big-patch.json" >/dev/null
    wait_pair_state "$BOTH_ALLOWED" 10 "c relabelled by a 10 MiB update"
    assert_agent_alive "after 10 MiB objects"
    # A relist carrying both (20 MiB of pods in one list).
    api_control compact
    cut_streams
    wait_for_log "Pod: (resourceVersion [0-9]+ expired|410 Gone), listing again" 5 "the relist"
    wait_watches_open 10 "after the 20 MiB relist"
    holds_for "$BOTH_ALLOWED" 1 "after the 20 MiB relist"
    api PATCH $PODS/c '{"metadata":{"labels":{"app":"other"},"annotations":null}}' >/dev/null
    wait_pair_state "$BASELINE" 5 "a change after the big objects"
    assert_agent_alive "after the 20 MiB relist"
    local rss
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
    echo "weir-agent VmRSS after the 10 MiB objects: $rss kB" >&2
    [ "$rss" -lt 400000 ] || fail "weir-agent holds $rss kB after 10 MiB objects"
    assert_no_token_in_log "$API_DIR/token"
}

test_api_token_rotation() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig-tokenfile"
    local first second third
    first=$(cat "$API_DIR/token")
    # The server rotates (the old token dies at once) and the file follows; streams are cut.
    api_control rotate-token
    second=$(cat "$API_DIR/token")
    [ "$first" != "$second" ] || fail "rotate-token kept the token"
    cut_streams
    relabel_c client
    wait_pair_state "$BOTH_ALLOWED" 5 "a change after rotation, read with the new token"
    relabel_c other
    wait_pair_state "$BASELINE" 5 "another change with the new token"
    ! grep -q "HTTP 401" "$WORK/agent.log" || fail "401s although the token file was current"
    # The server rotates but the file lags behind (kubelet not there yet): 401s, state kept.
    wait_watches_open 5 "after the first rotation"
    api_control rotate-token
    third=$(cat "$API_DIR/token")
    cp "$API_DIR/token" "$WORK/current-token"
    API_TOKEN_FILE="$WORK/current-token"
    printf '%s\n' "$second" >"$API_DIR/token.stale" && mv "$API_DIR/token.stale" "$API_DIR/token"
    cut_streams
    holds_for "$BASELINE" 1 "stale token (401s): the last known state"
    wait_for_log "HTTP 401" 2 "the 401s with a stale token"
    relabel_c client
    holds_for "$BASELINE" 1 "stale token (401s): a change the agent cannot see yet"
    cp "$WORK/current-token" "$API_DIR/token.new" && mv "$API_DIR/token.new" "$API_DIR/token"
    wait_pair_state "$BOTH_ALLOWED" 12 "the change made while the token was stale, once the file is current"
    assert_agent_alive "after token rotation"
    assert_no_token_in_log "$first" "$second" "$third"
}

# A kubeconfig whose CA did not sign the server's certificate: an impostor as far as the agent
# can tell. The token must never be sent, nothing may be applied, and the agent must not become
# ready (no CNI config).
wrong_ca_kubeconfig() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
        -subj /CN=impostor-ca -keyout "$WORK/impostor-ca.key" -out "$WORK/impostor-ca.crt" \
        >/dev/null 2>&1 || fail "openssl: make a CA"
    sed "s#certificate-authority: .*#certificate-authority: $WORK/impostor-ca.crt#" \
        "$API_DIR/kubeconfig" >"$WORK/kubeconfig-wrong-ca"
    grep -q "impostor-ca.crt" "$WORK/kubeconfig-wrong-ca" || fail "kubeconfig-wrong-ca"
}

test_api_wrong_ca_is_refused() {
    api_node
    wrong_ca_kubeconfig
    agent_launch --kubeconfig "$WORK/kubeconfig-wrong-ca"
    wait_for_log "certificate" 30 "the refused certificate"
    sleep 1 # time enough to (wrongly) become ready
    if kill -0 "$AGENT_PID" 2>/dev/null; then
        wait_agent_answers 3
        assert_eq "$(status_field ready)" False "ready with an untrusted server"
        assert_eq "$(status_field synced)" False "synced with an untrusted server"
        assert_eq "$(status_field appliedChanges)" 0 "changes applied from an untrusted server"
    fi
    [ ! -e "$CNI_CONF_DIR/10-weir.conflist" ] || fail "CNI config written with an untrusted server"
    assert_eq "$(api_stat 's["total_requests"]')" 0 "requests (and tokens) the untrusted server received"
    assert_no_token_in_log "$API_DIR/token"
}

test_api_wrong_ca_on_restart_keeps_the_datapath() {
    api_node
    api_pods_and_policy "$API_DIR/kubeconfig"
    wrong_ca_kubeconfig
    local before
    before=$(datapath_snapshot)
    agent_stop
    api_control reset-stats
    : >"$WORK/agent.log"
    agent_launch --kubeconfig "$WORK/kubeconfig-wrong-ca"
    wait_for_log "certificate" 30 "the refused certificate"
    holds_for "$BASELINE" 1 "restarted against an untrusted server: the last known state"
    assert_eq "$(datapath_snapshot)" "$before" "identities and policy maps"
    if kill -0 "$AGENT_PID" 2>/dev/null; then
        wait_agent_answers 3
        assert_eq "$(status_field synced)" False "synced with an untrusted server"
    fi
    assert_eq "$(api_stat 's["total_requests"]')" 0 "requests (and tokens) the untrusted server received"
    assert_no_token_in_log "$API_DIR/token"
}

# --- the agent SIGKILLed under traffic ------------------------------------------------------------

# Two clients open short TCP connections to b all along (250/s each): a allowed, c denied. The
# agent is SIGKILLed, stays down 2 s, comes back with the same flags and runs 2 s more. Not one
# allowed connection may fail, not one denied connection may get through, and the identities
# and policy maps must be exactly what they were.
test_agent_sigkill_under_steady_traffic() {
    node_create
    mkdir -p "$MANIFESTS"
    write_manifest namespace.json '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e"}}'
    agent_start
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    pod_create c; ip_c=$POD_IP
    in_pod b "$PYTHON" "$FAULTS_DIR/traffic.py" server 8080 >/dev/null 2>&1 &
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(pod_manifest e2e a "$ip_a" '{"app":"client"}'),
        $(pod_manifest e2e b "$ip_b" '{"app":"server"}'),
        $(pod_manifest e2e c "$ip_c" '{"app":"other"}')]}"
    write_manifest policy.json "$ALLOW_CLIENT_POLICY"
    wait_pair_state "$BASELINE" 5 "baseline from the manifests"

    local stop="$WORK/traffic-stop"
    in_pod a "$PYTHON" "$FAULTS_DIR/traffic.py" allowed "$ip_b" 8080 250 "$stop" "$WORK/allowed.json" &
    in_pod c "$PYTHON" "$FAULTS_DIR/traffic.py" denied "$ip_b" 8080 250 "$stop" "$WORK/denied.json" &
    sleep 1
    local before
    before=$(datapath_snapshot)
    local killed_at restarted_at
    killed_at=$(date +%s.%N)
    kill -9 "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=""
    sleep 2
    agent_start # same flags as before
    wait_agent_answers 30 # the verifier alone takes seconds on a loaded machine
    local i
    for i in $(seq 1 100); do
        [ "$(status_field appliedChanges 2>/dev/null)" -ge 1 ] 2>/dev/null && break
        sleep 0.05
    done
    restarted_at=$(date +%s.%N)
    sleep 2
    touch "$stop"
    for i in $(seq 1 100); do
        [ -f "$WORK/allowed.json" ] && [ -f "$WORK/denied.json" ] && break
        sleep 0.05
    done
    [ -f "$WORK/allowed.json" ] && [ -f "$WORK/denied.json" ] || fail "traffic clients did not report"
    python3 - "$WORK/allowed.json" "$WORK/denied.json" "$killed_at" "$restarted_at" \
        >"$WORK/traffic-problems" <<'PY' || fail "traffic across the SIGKILL: $(cat "$WORK/traffic-problems")"
import json, sys
allowed, denied = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
killed, restarted = float(sys.argv[3]), float(sys.argv[4])
during = sum(n for t, n in allowed["ok_times"].items()
             if killed <= int(t) / 10 and (int(t) + 1) / 10 <= restarted)
problems = []
if allowed["failed"]:
    problems.append(f"{allowed['failed']} of {allowed['attempts']} allowed connections failed: "
                    f"{allowed['failures'][:5]} (agent killed at {killed:.3f}, back at {restarted:.3f})")
if allowed["ok"] < 300:
    problems.append(f"only {allowed['ok']} allowed connections in ~5 s")
if during < 100:
    problems.append(f"only {during} allowed connections while the agent was down")
if denied["ok"]:
    problems.append(f"{denied['ok']} of {denied['attempts']} denied connections succeeded: "
                    f"{denied['failures'][:5]}")
if denied["attempts"] < 300:
    problems.append(f"only {denied['attempts']} denied attempts in ~5 s")
print("allowed: %d ok (%d while down), denied: %d attempts" % (allowed["ok"], during,
                                                             denied["attempts"]), file=sys.stderr)
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY
    assert_eq "$(datapath_snapshot)" "$before" "identities and policy maps after the restart"
}

# --- weir-cni killed at every step of ADD -----------------------------------------------------

CNI_KILL_STEPS="allocated veth pod-side programs host-routes endpoint record"

# cni_with_env VAR=VALUE COMMAND CONTAINER POD IFNAME [CONFIG]: the lib's cni with one more
# variable in the plugin's (otherwise empty) environment.
cni_with_env() {
    local extra=$1 command=$2 container=$3 pod=$4 ifname=$5 config=${6:-}
    [ -n "$config" ] || config=$(net_config)
    local netns=""
    [ -n "$pod" ] && netns="/var/run/netns/$TEST_ID-$pod"
    set +e
    printf '%s' "$config" | in_node env -i PATH="$PATH" "$extra" CNI_COMMAND="$command" \
        CNI_CONTAINERID="$container" CNI_NETNS="$netns" CNI_IFNAME="$ifname" \
        CNI_PATH=/usr/lib/cni CNI_ARGS="K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=$pod" \
        "$WEIR_CNI" >"$WORK/out" 2>"$WORK/err"
    CNI_RC=$?
    set -e
    CNI_OUT=$(cat "$WORK/out")
}

# What a killed ADD left behind, as "allocations veths routes map-entries records".
partial_state() {
    echo "$(count_allocations) $(count_weir_veths) $(count_routes_to_pods) $(count_map_entries) $(count_records)"
}

expected_partial_state() { # step
    case $1 in
    allocated) echo "1 0 0 0 0" ;;
    veth | pod-side | programs) echo "1 1 0 0 0" ;;
    host-routes) echo "1 1 1 0 0" ;;
    endpoint) echo "1 1 1 1 0" ;;
    record) echo "1 1 1 1 1" ;;
    esac
}

killed_add() { # step pod
    netns_add "$TEST_ID-$2"
    cni_with_env "WEIR_CNI_TEST_KILL_AT=$1" ADD "c-$2" "$2" eth0
    assert_eq "$CNI_RC" 137 "ADD with WEIR_CNI_TEST_KILL_AT=$1: killed by SIGKILL ($CNI_OUT $(cat "$WORK/err"))"
    assert_eq "$(partial_state)" "$(expected_partial_state "$1")" \
        "what ADD killed after '$1' left (allocations veths routes map-entries records)"
}

# After the cleanups, the node still wires pods that talk.
pods_still_wire() {
    pod_create x; local ip_x=$POD_IP
    pod_create y
    in_pod y ping -c1 -W2 "$ip_x" >/dev/null || fail "y -> x after the killed ADDs"
    cni DEL c-x x eth0
    cni DEL c-y y eth0
    assert_nothing_left "after the last DELs"
}

test_cni_killed_at_every_add_step_then_del() {
    node_create
    agent_start
    local step n=0
    for step in $CNI_KILL_STEPS; do
        n=$((n + 1))
        killed_add "$step" "k$n"
        cni DEL "c-k$n" "k$n" eth0
        assert_eq "$CNI_RC" 0 "DEL after ADD killed at '$step' ($CNI_OUT)"
        assert_nothing_left "DEL after ADD killed at '$step'"
        cni DEL "c-k$n" "k$n" eth0
        assert_eq "$CNI_RC" 0 "second DEL after ADD killed at '$step' ($CNI_OUT)"
    done
    pods_still_wire
}

test_cni_killed_at_every_add_step_then_gc() {
    node_create
    agent_start
    local step n=0
    for step in $CNI_KILL_STEPS; do
        n=$((n + 1))
        killed_add "$step" "g$n"
        cni GC "" "" "" "$(net_config 'cni.dev/valid-attachments=[]')"
        assert_eq "$CNI_RC" 0 "GC after ADD killed at '$step' ($CNI_OUT)"
        assert_nothing_left "GC after ADD killed at '$step'"
    done
    pods_still_wire
}
