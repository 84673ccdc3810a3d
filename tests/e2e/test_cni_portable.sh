# weir-cni runs on any node: the runtime execs it from the node's CNI bin folder, and a node
# (a kind node above all) has libc and none of weir's libraries. These tests run the plugin in
# a root that holds only the binary and the C library, as such a node would.

# A root folder with weir-cni and glibc's loader and libc, nothing else.
make_libc_only_root() { # folder
    local root=$1 libc loader
    libc=$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ {print $NF; exit}')
    loader=$(readlink -f /lib64/ld-linux-x86-64.so.2)
    [ -n "$libc" ] && [ -f "$loader" ] || fail "cannot find the host's libc ($libc) and loader ($loader)"
    mkdir -p "$root/bin" "$root/lib/x86_64-linux-gnu" "$root/lib64"
    cp "$WEIR_CNI" "$root/bin/weir-cni"
    cp "$(readlink -f "$libc")" "$root/lib/x86_64-linux-gnu/libc.so.6"
    cp "$loader" "$root/lib64/ld-linux-x86-64.so.2"
}

test_weir_cni_version_runs_in_a_root_with_only_libc() {
    local root="$WORK/libc-root"
    make_libc_only_root "$root"
    local files
    files=$(cd "$root" && find . -type f | sort | tr '\n' ' ')
    assert_eq "$files" "./bin/weir-cni ./lib/x86_64-linux-gnu/libc.so.6 ./lib64/ld-linux-x86-64.so.2 " "files in the root"
    local out
    out=$(env -i CNI_COMMAND=VERSION "$(command -v chroot)" "$root" /bin/weir-cni </dev/null 2>&1) ||
        fail "weir-cni VERSION in a libc-only root failed: $out"
    assert_eq "$(json_get "$out" 'd["cniVersion"]')" "1.1.0" "cniVersion"
    assert_contains "$(json_get "$out" '" ".join(d["supportedVersions"])')" "0.4.0" "supportedVersions"
}

test_weir_cni_errors_cleanly_in_a_root_with_only_libc() {
    # A real command whose input fails (a bad subnet) goes through the JSON parser, the config
    # code and the error object: all of it must work without weir's libraries. The failure comes
    # before anything is written, so the root stays as it was.
    local root="$WORK/libc-root"
    make_libc_only_root "$root"
    local before
    before=$(cd "$root" && find . | sort)
    local out rc=0
    out=$(echo '{"cniVersion":"1.1.0","name":"weir","type":"weir-cni","subnet":"10.77.0.0/33"}' |
        env -i CNI_COMMAND=ADD CNI_CONTAINERID=portable CNI_NETNS=/var/run/netns/none CNI_IFNAME=eth0 \
            CNI_PATH=/bin "$(command -v chroot)" "$root" /bin/weir-cni 2>/dev/null) || rc=$?
    [ "$rc" -ne 0 ] || fail "ADD with a bad subnet succeeded: $out"
    [ "$(json_get "$out" 'd["code"] > 0')" = True ] || fail "no CNI error object: $out"
    assert_contains "$(json_get "$out" 'd["msg"] + " " + d.get("details", "")')" "10.77.0.0/33" "error names the subnet"
    assert_eq "$(cd "$root" && find . | sort)" "$before" "the root after the failed ADD"
}
