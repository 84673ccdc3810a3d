# ADD / DEL / CHECK / GC / STATUS / VERSION as a container runtime drives them.

test_add_twice_is_idempotent() {
    node_create
    agent_start
    pod_create a
    first_ip=$POD_IP
    cni ADD c-a a eth0
    assert_eq "$CNI_RC" 0 "second ADD exit code"
    second_ip=$(json_get "$CNI_OUT" 'd["ips"][0]["address"].split("/")[0]')
    assert_eq "$second_ip" "$first_ip" "address of the repeated ADD"
    assert_eq "$(count_weir_veths)" 1 "one host veth"
    assert_eq "$(count_allocations)" 1 "one allocation"
    assert_eq "$(count_map_entries)" 1 "one endpoints entry"
    in_pod a ping -c1 -W2 192.168.250.1 >/dev/null || fail "pod reaches the node after re-ADD"
}

test_del_removes_everything_and_twice_succeeds() {
    node_create
    agent_start
    pod_create a
    pod_create b
    cni DEL c-a a eth0 "$(net_config prevResult="$(cat "$WORK/result-a.json")")"
    assert_eq "$CNI_RC" 0 "DEL exit code ($CNI_OUT)"
    assert_eq "$(count_weir_veths)" 1 "only b's veth left"
    assert_eq "$(count_allocations)" 1 "only b's allocation left"
    assert_eq "$(count_map_entries)" 1 "only b's map entry left"
    in_pod a ip -o link show eth0 >/dev/null 2>&1 && fail "eth0 still in pod a"
    cni DEL c-a a eth0
    assert_eq "$CNI_RC" 0 "second DEL exit code ($CNI_OUT)"
    cni DEL c-b b eth0
    assert_eq "$CNI_RC" 0 "DEL b"
    assert_nothing_left "after deleting both"
}

test_del_succeeds_when_netns_is_gone_and_agent_is_down() {
    node_create
    agent_start
    pod_create a
    pod_create b
    agent_stop
    ip netns del "$TEST_ID-a"
    cni DEL c-a a eth0
    assert_eq "$CNI_RC" 0 "DEL with the netns gone ($CNI_OUT)"
    cni DEL c-b b eth0
    assert_eq "$CNI_RC" 0 "DEL with the agent down ($CNI_OUT)"
    assert_nothing_left "after DEL without netns and agent"
    cni DEL c-never-added "" eth0
    assert_eq "$CNI_RC" 0 "DEL of an unknown container"
}

test_agent_shutdown_keeps_datapath_and_restart_reuses_it() {
    node_create
    agent_start
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    agent_stop
    [ -e "$BPFFS/endpoints" ] || fail "endpoints map unpinned at shutdown"
    [ -e "$BPFFS/programs/from_pod" ] || fail "from_pod unpinned at shutdown"
    in_node tc filter show dev "$(json_get "$(cat "$WORK/result-a.json")" 'd["interfaces"][0]["name"]')" ingress | grep -q bpf ||
        fail "program detached at shutdown"
    in_pod a ping -c1 -W2 "$ip_b" >/dev/null || fail "pods talk while the agent is down"
    agent_start
    assert_eq "$(count_map_entries)" 2 "endpoints kept across restart"
    in_pod b ping -c1 -W2 "$ip_a" >/dev/null || fail "pods talk after restart"
    cni CHECK c-a a eth0 "$(net_config prevResult="$(cat "$WORK/result-a.json")")"
    assert_eq "$CNI_RC" 0 "CHECK after restart: programs re-attached ($CNI_OUT)"
}

test_check_passes_then_catches_deleted_route() {
    node_create
    agent_start
    pod_create a; ip_a=$POD_IP
    config=$(net_config prevResult="$(cat "$WORK/result-a.json")")
    cni CHECK c-a a eth0 "$config"
    assert_eq "$CNI_RC" 0 "CHECK on a healthy pod ($CNI_OUT)"
    in_pod a ip route del default
    cni CHECK c-a a eth0 "$config"
    [ "$CNI_RC" != 0 ] || fail "CHECK missed the deleted default route"
    assert_eq "$(json_get "$CNI_OUT" 'd["code"]')" 102 "CHECK error code"
    assert_contains "$CNI_OUT" "route 0.0.0.0/0 via 169.254.1.1 is missing" "CHECK names the route"
    in_node ip route del "$ip_a/32"
    cni CHECK c-a a eth0 "$config"
    assert_contains "$CNI_OUT" "host route $ip_a/32" "CHECK names the host route too"
    cni CHECK c-a a eth0
    assert_eq "$(json_get "$CNI_OUT" 'd["code"]')" 7 "CHECK without prevResult"
}

test_gc_removes_stale_attachments() {
    node_create
    agent_start
    pod_create a
    pod_create b
    pod_create c
    # A veth left by an ADD that crashed before writing anything else.
    in_node ip link add weirdeadbeef000 type veth peer name weirdeadpeer00
    config=$(net_config 'cni.dev/valid-attachments=[{"containerID":"c-b","ifname":"eth0"}]')
    cni GC "" "" "" "$config"
    assert_eq "$CNI_RC" 0 "GC exit code ($CNI_OUT)"
    assert_eq "$(count_weir_veths)" 1 "only b's veth left"
    assert_eq "$(count_allocations)" 1 "only b's allocation left"
    assert_eq "$(count_records)" 1 "only b's record left"
    assert_eq "$(count_map_entries)" 1 "only b's map entry left"
    [ -f "$STATE_DIR/endpoints/c-b:eth0.json" ] || fail "b's record was collected"
    cni GC "" "" "" "$(net_config 'cni.dev/valid-attachments=[]')"
    assert_eq "$CNI_RC" 0 "GC of everything"
    assert_nothing_left "after GC with no valid attachments"
}

test_status_follows_agent_readiness() {
    node_create
    agent_start
    config=$(net_config)
    cni STATUS "" "" "" "$config"
    assert_eq "$CNI_RC" 0 "STATUS with a ready agent ($CNI_OUT)"
    agent_stop
    cni STATUS "" "" "" "$config"
    assert_eq "$CNI_RC" 1 "STATUS exit code with the agent down"
    assert_eq "$(json_get "$CNI_OUT" 'd["code"]')" 50 "STATUS code with the agent down"
    assert_contains "$CNI_OUT" "weir.sock" "STATUS names the socket"
}

test_add_without_datapath_fails_with_code_11() {
    node_create
    mkdir -p "$CNI_CONF_DIR"
    netns_add "$TEST_ID-a"
    config="{\"cniVersion\":\"1.1.0\",\"name\":\"weir\",\"type\":\"weir-cni\",\"subnet\":\"$POD_CIDR\",\"bpffs\":\"$BPFFS\",\"stateDir\":\"$STATE_DIR\"}"
    cni ADD c-a a eth0 "$config"
    assert_eq "$CNI_RC" 1 "exit code"
    assert_eq "$(json_get "$CNI_OUT" 'd["code"]')" 11 "error code"
    assert_contains "$CNI_OUT" "$BPFFS" "names the bpffs path"
    assert_nothing_left "after ADD without datapath"
}

test_results_follow_requested_version() {
    node_create
    agent_start
    netns_add "$TEST_ID-a"
    netns_add "$TEST_ID-b"
    cni ADD c-a a eth0 "$(net_config cniVersion='"1.0.0"')"
    assert_eq "$CNI_RC" 0 "ADD 1.0.0"
    assert_eq "$(json_get "$CNI_OUT" 'd["cniVersion"]')" 1.0.0 "result version"
    assert_eq "$(json_get "$CNI_OUT" 'd["interfaces"][d["ips"][0]["interface"]]["name"]')" eth0 "ips point at the pod interface"
    assert_eq "$(json_get "$CNI_OUT" 'len(d["interfaces"][1]["mac"])')" 17 "pod interface has a mac"
    cni ADD c-b b eth0 "$(net_config cniVersion='"0.4.0"')"
    assert_eq "$CNI_RC" 0 "ADD 0.4.0"
    assert_eq "$(json_get "$CNI_OUT" 'd["ips"][0]["version"]')" 4 "0.4.0 ips carry version"
    cni GC "" "" "" "$(net_config cniVersion='"1.0.0"' 'cni.dev/valid-attachments=[]')"
    assert_eq "$(json_get "$CNI_OUT" 'd["code"]')" 1 "GC refused below 1.1.0"
}

test_version_answers_with_dummy_variables() {
    out=$(echo '{"cniVersion":"1.0.0"}' | env -i CNI_COMMAND=VERSION CNI_CONTAINERID=dummy CNI_NETNS=dummy CNI_IFNAME=dummy CNI_PATH=dummy "$WEIR_CNI")
    assert_eq "$(json_get "$out" '",".join(d["supportedVersions"])')" "0.4.0,1.0.0,1.1.0" "supportedVersions"
    assert_eq "$(json_get "$out" 'd["cniVersion"]')" 1.0.0 "echoes the requested version"
    out=$(env -i CNI_COMMAND=VERSION "$WEIR_CNI" </dev/null)
    assert_eq "$(json_get "$out" 'd["cniVersion"]')" 1.1.0 "VERSION without stdin"
}

test_runtime_style_args_and_cached_del() {
    node_create
    agent_start
    netns_add "$TEST_ID-a"
    config=$(net_config cniVersion='"1.0.0"')
    set +e
    out=$(printf '%s' "$config" | in_node env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=runtime1 \
        CNI_NETNS="/var/run/netns/$TEST_ID-a" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=lonely" "$WEIR_CNI")
    rc=$?
    set -e
    assert_eq "$rc" 0 "ADD with IgnoreUnknown and no namespace ($out)"
    record="$STATE_DIR/endpoints/runtime1:eth0.json"
    assert_eq "$(python3 -c "import json; r=json.load(open('$record')); print(r['podNamespace'] + '/' + r['podName'])")" default/lonely "pod identity"
    # libcni's DEL: the config cached at ADD time plus prevResult.
    cached=$(python3 -c "import json,sys; c=json.loads(sys.argv[1]); c['prevResult']=json.loads(sys.argv[2]); print(json.dumps(c))" "$config" "$out")
    printf '%s' "$cached" | in_node env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID=runtime1 \
        CNI_NETNS="/var/run/netns/$TEST_ID-a" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=lonely" "$WEIR_CNI" || fail "DEL with cached config"
    assert_nothing_left "after runtime-style DEL"
}

# The pins carry the ABI version of the agent that made them. A weir of another ABI (an upgrade
# whose map layouts changed, even at the same sizes) refuses them and names both versions,
# instead of reading entries with the wrong layout: the agent does not start, weir-cni fails
# with code 11. Pins older than the version stamp are refused the same way.
agent_run_once() { # runs a second agent in the foreground; prints its exit code, log in agent2.log
    local rc=0
    in_node timeout 20 "$WEIR_AGENT" --node-name "$TEST_ID" --pod-cidr "$POD_CIDR" --bpffs "$BPFFS" \
        --state-dir "$STATE_DIR" --cni-conf-dir "$CNI_CONF_DIR" --standalone "$MANIFESTS" \
        >"$WORK/agent2.log" 2>&1 || rc=$?
    echo "$rc"
}

test_pins_of_another_abi_are_refused_by_agent_and_cni() {
    node_create
    agent_start
    pod_create a
    agent_stop
    local abi version
    abi=$(grep -E '^#define WEIR_ABI_VERSION ' "$ROOT/bpf/abi.h" | awk '{print $3}')
    assert_eq "$(bpftool map lookup pinned "$BPFFS/abi" key 0 0 0 0 -j | json_get "$(cat)" 'int(d["value"][0], 16)')" \
        "$abi" "the stamped ABI version"
    version=$((abi - 1))
    bpftool map update pinned "$BPFFS/abi" key 0 0 0 0 value "$version" 0 0 0 || fail "restamp the pins"
    assert_eq "$(agent_run_once)" 1 "agent exit code on pins of ABI $version"
    assert_contains "$(cat "$WORK/agent2.log")" "have ABI $version and this weir has ABI $abi" "agent names both versions"
    netns_add "$TEST_ID-b"
    cni ADD c-b b eth0
    assert_eq "$CNI_RC" 1 "weir-cni exit code on pins of ABI $version"
    assert_eq "$(json_get "$CNI_OUT" 'd["code"]')" 11 "weir-cni error code"
    assert_contains "$CNI_OUT" "have ABI $version and this weir has ABI $abi" "weir-cni names both versions"
    # Pins from before the stamp existed.
    rm -f "$BPFFS/abi"
    assert_eq "$(agent_run_once)" 1 "agent exit code on unversioned pins"
    assert_contains "$(cat "$WORK/agent2.log")" "carry no ABI version" "agent names the missing stamp"
}
