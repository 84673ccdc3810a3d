# Bad input gets the spec's error object with the right code and a message naming the input,
# exits non-zero, and leaves nothing behind.

expect_error() { # code needle what
    [ "$CNI_RC" != 0 ] || fail "$3: exit code 0, output $CNI_OUT"
    assert_eq "$(json_get "$CNI_OUT" 'd["code"]')" "$1" "$3: error code"
    assert_contains "$(json_get "$CNI_OUT" 'd["msg"]')" "$2" "$3: message"
    json_get "$CNI_OUT" 'd["details"]' >/dev/null || fail "$3: no details"
}

raw_cni() { # stdin env-assignments...
    local config=$1
    shift
    set +e
    CNI_OUT=$(printf '%s' "$config" | in_node env -i PATH="$PATH" "$@" "$WEIR_CNI" 2>/dev/null)
    CNI_RC=$?
    set -e
}

test_bad_config_and_environment_are_refused_cleanly() {
    node_create
    agent_start
    netns_add "$TEST_ID-a"
    good_netns="/var/run/netns/$TEST_ID-a"
    good=(CNI_COMMAND=ADD CNI_CONTAINERID=c-a CNI_NETNS="$good_netns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni)

    raw_cni '{"cniVersion": "1.1.0", "name": ' "${good[@]}"
    expect_error 6 "not a JSON object" "malformed JSON"
    raw_cni "$(net_config cniVersion='"0.2.0"')" "${good[@]}"
    expect_error 1 '"0.2.0"' "unsupported cniVersion"
    raw_cni "$(net_config subnet='"10.0.0.0/33"')" "${good[@]}"
    expect_error 7 "10.0.0.0/33" "bad subnet"
    raw_cni "$(net_config subnet='"not-a-cidr"')" "${good[@]}"
    expect_error 7 "not-a-cidr" "garbage subnet"
    raw_cni "$(net_config logLevel='"shouty"')" "${good[@]}"
    expect_error 7 "shouty" "unknown logLevel"
    raw_cni "$(net_config)" CNI_CONTAINERID=c-a CNI_NETNS="$good_netns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
    expect_error 4 "CNI_COMMAND" "missing CNI_COMMAND"
    raw_cni "$(net_config)" CNI_COMMAND=ADD CNI_NETNS="$good_netns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
    expect_error 4 "CNI_CONTAINERID" "missing CNI_CONTAINERID"
    raw_cni "$(net_config)" CNI_COMMAND=ADD CNI_CONTAINERID=c-a CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
    expect_error 4 "CNI_NETNS" "missing CNI_NETNS"
    raw_cni "$(net_config)" CNI_COMMAND=ADD CNI_CONTAINERID=c-a CNI_NETNS="$good_netns" CNI_PATH=/usr/lib/cni
    expect_error 4 "CNI_IFNAME" "missing CNI_IFNAME"
    raw_cni "$(net_config)" CNI_COMMAND=ADD CNI_CONTAINERID=c-a CNI_NETNS="$good_netns" CNI_IFNAME=eth0
    expect_error 4 "CNI_PATH" "missing CNI_PATH"
    raw_cni "$(net_config)" CNI_COMMAND=ADD CNI_CONTAINERID=c-a CNI_NETNS="$good_netns" CNI_IFNAME=eth0_is_way_too_long CNI_PATH=/usr/lib/cni
    expect_error 4 "eth0_is_way_too_long" "ifname too long"
    raw_cni "$(net_config)" CNI_COMMAND=ADD 'CNI_CONTAINERID=../../etc/passwd' CNI_NETNS="$good_netns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
    expect_error 4 "../../etc/passwd" "container id with illegal characters"
    raw_cni "$(net_config)" CNI_COMMAND=ADD CNI_CONTAINERID=c-a CNI_NETNS=/var/run/netns/does-not-exist-$TEST_ID CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
    expect_error 3 "does-not-exist-$TEST_ID" "netns that does not exist"
    raw_cni "$(net_config)" CNI_COMMAND=ADD CNI_CONTAINERID=c-a CNI_NETNS=/etc/hostname CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
    expect_error 3 "not a network namespace" "netns path that is a plain file"
    raw_cni "$(net_config)" CNI_COMMAND=FROB CNI_CONTAINERID=c-a CNI_NETNS="$good_netns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni
    expect_error 4 "FROB" "unknown command"

    assert_nothing_left "after every refused ADD"
    assert_eq "$(in_pod a ip -o link | wc -l)" 1 "pod netns has only lo"
}

test_interface_name_taken_in_pod_rolls_back() {
    node_create
    agent_start
    netns_add "$TEST_ID-a"
    in_pod a ip link add eth0 type veth peer name other0
    cni ADD c-a a eth0
    expect_error 100 "eth0" "ifname already taken in the pod"
    assert_nothing_left "after a failed veth creation"
    assert_eq "$(in_pod a ip -o link show type veth | wc -l)" 2 "pod's own interfaces untouched"
}

test_exhausted_subnet_fails_and_leaks_nothing() {
    node_create
    POD_CIDR=10.249.$((RANDOM % 250)).0/30 # one pod address: .2
    agent_start
    pod_create a
    netns_add "$TEST_ID-b"
    cni ADD c-b b eth0
    expect_error 101 "allocated" "exhausted subnet"
    assert_eq "$(count_weir_veths)" 1 "only a's veth"
    assert_eq "$(count_allocations)" 1 "only a's allocation"
    assert_eq "$(count_map_entries)" 1 "only a's map entry"
    assert_eq "$(in_pod b ip -o link | wc -l)" 1 "pod b untouched"
}
