# Fifty pods added at once, then deleted at once, as a busy kubelet would.

test_fifty_parallel_adds_then_dels_leave_nothing() {
    node_create
    agent_start
    config=$(net_config)
    local i job adds=() dels=()
    for i in $(seq 1 50); do
        netns_add "$TEST_ID-p$i"
    done
    for i in $(seq 1 50); do
        printf '%s' "$config" | in_node env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID="par-$i" \
            CNI_NETNS="/var/run/netns/$TEST_ID-p$i" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
            "$WEIR_CNI" >"$WORK/add-$i.json" 2>"$WORK/add-$i.err" &
        adds+=($!)
    done
    for job in "${adds[@]}"; do
        wait "$job" || true # each result is checked below
    done
    for i in $(seq 1 50); do
        json_get "$(cat "$WORK/add-$i.json")" 'd["ips"][0]["address"]' >>"$WORK/addresses" ||
            fail "ADD $i: $(cat "$WORK/add-$i.json" "$WORK/add-$i.err")"
    done
    assert_eq "$(sort -u "$WORK/addresses" | wc -l)" 50 "distinct addresses"
    assert_eq "$(count_weir_veths)" 50 "veths"
    assert_eq "$(count_records)" 50 "records"
    assert_eq "$(count_map_entries)" 50 "map entries"
    in_pod p1 ping -c1 -W2 "$(sed -n 50p "$WORK/addresses" | cut -d/ -f1)" >/dev/null ||
        fail "pod 1 reaches pod 50's address"

    for i in $(seq 1 50); do
        printf '%s' "$config" | in_node env -i PATH="$PATH" CNI_COMMAND=DEL CNI_CONTAINERID="par-$i" \
            CNI_NETNS="/var/run/netns/$TEST_ID-p$i" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni \
            "$WEIR_CNI" >"$WORK/del-$i.json" 2>&1 &
        dels+=($!)
    done
    local failed=0
    for job in "${dels[@]}"; do
        wait "$job" || failed=$((failed + 1))
    done
    assert_eq "$failed" 0 "failed DELs"
    assert_nothing_left "after 50 parallel DELs"
    for i in $(seq 1 50); do
        assert_eq "$(in_pod "p$i" ip -o link | wc -l)" 1 "pod p$i keeps only lo"
    done
}
