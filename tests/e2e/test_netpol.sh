# NetworkPolicy end to end, the upstream way: namespaces x, y, z with pods a, b, c each, every
# pod serving TCP and UDP on 80 and 81, and for every policy case the full 9x9 reachability
# matrix measured with real traffic must equal the one tests/e2e/netpol/model.py computes. The
# cluster objects reach the agent through the test API server or as standalone manifests; the
# scenarios change policies, labels and pods under it, and restart it mid-traffic.

NETPOL="$ROOT/tests/e2e/netpol"
API_PID=""
SOURCE_FLAGS=()

netpol() { # harness command...
    python3 "$NETPOL/harness.py" --work "$WORK/netpol" --test-id "$TEST_ID" \
        --node-netns "$NODE_NETNS" --state-dir "$STATE_DIR" --cni-conf-dir "$CNI_CONF_DIR" \
        --weir-cni "$WEIR_CNI" --weirctl "$WEIRCTL" "$@"
}

netpol_cleanup() {
    local status=$?
    set +e # a trap under errexit would stop at the first failing command, leaking the rest
    if [ -n "$API_PID" ]; then
        kill "$API_PID" 2>/dev/null
        wait "$API_PID" 2>/dev/null
    fi
    [ $status = 0 ] || tail -5 "$WORK/agent.log" 2>/dev/null | sed 's/^/    agent: /' >&2
    # Pods the harness added during the test are network namespaces named after the test too.
    local netns
    for netns in $(ip netns list | awk -v prefix="$TEST_ID-" 'index($1, prefix) == 1 {print $1}'); do
        [ "$netns" = "$NODE_NETNS" ] || CREATED_NETNS+=("$netns")
    done
    (exit $status)
    cleanup
}

api_server_start() {
    mkdir -p "$WORK/api"
    # In the node's namespace: the agent there reaches it on the node's loopback.
    nsenter --net="/var/run/netns/$NODE_NETNS" python3 "$ROOT/tests/fixtures/k8s_api_server.py" \
        --port 0 --dir "$WORK/api" >>"$WORK/api.log" 2>&1 &
    API_PID=$!
    local i
    for i in $(seq 1 200); do
        [ -s "$WORK/api/kubeconfig" ] && return 0
        kill -0 "$API_PID" 2>/dev/null || { cat "$WORK/api.log" >&2; fail "API server exited"; }
        sleep 0.05
    done
    fail "API server: no kubeconfig after 10 s"
}

# netpol_cluster api|standalone: a node whose agent takes its objects from the test API server
# or from a manifest folder, and the nine pods wired, serving and published.
netpol_cluster() {
    trap netpol_cleanup EXIT
    node_create
    mkdir -p "$WORK/netpol"
    local source
    case $1 in
    api)
        api_server_start
        source=$WORK/api
        SOURCE_FLAGS=(--kubeconfig "$WORK/api/kubeconfig")
        ;;
    standalone)
        source=$WORK/manifests
        SOURCE_FLAGS=(--standalone "$source")
        ;;
    esac
    netpol init --mode "$1" --source "$source" --node-name "$TEST_ID" --pod-cidr "$POD_CIDR" \
        --node-ip 192.168.250.1 || fail "publishing the cluster"
    agent_start "${SOURCE_FLAGS[@]}"
    netpol pods || fail "wiring the pods"
}

test_netpol_oracle_selftests() {
    # The model against hand-computed verdicts; the cases against the model (features covered,
    # none trivially allowing everything).
    mkdir -p "$WORK"
    python3 "$NETPOL/model.py" --selftest || fail "model.py self-test"
    python3 "$NETPOL/policies.py" --selftest >"$WORK/policies.out" 2>&1 ||
        { cat "$WORK/policies.out" >&2; fail "policies.py self-test"; }
}

test_netpol_matrix_via_api_server() {
    netpol_cluster api
    netpol cases || fail "policy cases through the API server"
}

test_netpol_matrix_via_standalone_manifests() {
    netpol_cluster standalone
    netpol cases || fail "policy cases through standalone manifests"
}

test_netpol_policy_add_update_delete() {
    netpol_cluster api
    netpol apply lifecycle-add || fail "policy added"
    netpol apply lifecycle-update-peers-and-ports || fail "policy updated: peers and ports"
    netpol apply lifecycle-update-selector-and-types || fail "policy updated: selector and types"
    netpol apply lifecycle-add-second || fail "a second policy"
    netpol apply lifecycle-delete-first || fail "first policy deleted"
    netpol clear-policies || fail "every policy deleted"
}

test_netpol_standalone_manifest_changes() {
    # The same life cycle through files: one manifest rewritten, relabelled, removed.
    netpol_cluster standalone
    netpol apply lifecycle-add || fail "policy file added"
    netpol apply lifecycle-update-selector-and-types || fail "policy file rewritten"
    netpol apply relabel-pods || fail "relabel policies"
    netpol label-pod x/c pod=b || fail "pod file relabelled"
    netpol label-namespace z ns=y || fail "namespace file relabelled"
    netpol delete-pod x/b || fail "pod file removed"
    netpol clear-policies || fail "policy file removed"
}

test_netpol_pod_relabel() {
    netpol_cluster api
    netpol apply relabel-pods || fail "relabel policies"
    netpol label-pod x/c pod=b || fail "x/c takes the label x/a accepts"
    netpol label-pod x/b pod=q || fail "x/b loses it"
    netpol label-pod x/a pod=free || fail "x/a leaves its policy's selector"
    netpol label-pod y/a pod=c || fail "y/a joins the egress-isolated pods"
    netpol label-pod y/c pod- || fail "y/c loses its label altogether"
    netpol label-pod x/a pod=a role=web || fail "x/a back, with a second label"
}

test_netpol_namespace_relabel() {
    netpol_cluster api
    netpol apply relabel-namespaces || fail "relabel policies"
    netpol label-namespace z ns=y || fail "z takes the label x/a accepts"
    netpol label-namespace y ns=w || fail "y loses it"
    netpol label-namespace x team=blue || fail "x becomes a destination y/b may use"
    netpol label-namespace x team- || fail "and stops being one"
}

test_netpol_pod_deletion() {
    netpol_cluster api
    netpol apply ingress-pod-and-namespace-and || fail "x/a accepts only y/b"
    netpol delete-pod y/b || fail "y/b deleted"
    # Back under the same name with another label (a StatefulSet pod recreated): it must not
    # inherit the old pod's identity.
    netpol add-pod y/b pod=d || fail "y/b recreated as pod=d"
    netpol add-pod y/e pod=b || fail "y/e, labelled like y/b, added"
    # By address: y/c sends only to x/a's and z/b's; z/b goes and z/f may take its address.
    netpol apply ingress-pod-and-namespace-and ipblock-egress-single-hosts || fail "by address"
    netpol delete-pod z/b || fail "z/b, reached by address, deleted"
    netpol add-pod z/f pod=f || fail "z/f added"
}

test_netpol_agent_restart_mid_traffic() {
    netpol_cluster api
    netpol apply union-of-policies || fail "policies before the restart"
    local ip_a stream
    ip_a=$(netpol ip x/a)
    stream="$WORK/stream.json"
    # x/b -> x/a is allowed; one TCP connection exchanging messages across the restart.
    ip netns exec "$(netpol netns x/b)" python3 "$NETPOL/prober.py" --stream "$ip_a" 80 \
        --seconds 6 >"$stream" 2>&1 &
    local stream_pid=$!
    sleep 1
    agent_stop
    netpol check --strict --title "verdicts while the agent is down" || fail "agent down"
    agent_start "${SOURCE_FLAGS[@]}"
    netpol check --strict --title "verdicts right after the restart" || fail "agent restarted"
    wait "$stream_pid" || fail "stream client: $(cat "$stream")"
    echo "    stream across the restart: $(cat "$stream")"
    local result
    result=$(json_get "$(cat "$stream")" 'd["result"]')
    assert_eq "$result" ok "the stream across the restart ($(cat "$stream"))"
    [ "$(json_get "$(cat "$stream")" 'd["longestGapMs"]')" -lt 1000 ] ||
        fail "the stream stalled: $(cat "$stream")"
    # The restarted agent still applies changes.
    netpol apply deny-all-everywhere || fail "a change after the restart"
    netpol clear-policies || fail "every policy deleted after the restart"
}
