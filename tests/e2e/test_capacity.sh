# Capacity: the datapath's maps full, at their real sizes.
#  - ct (LRU hash, WEIR_MAX_CT entries): filled to the brim with live entries no packet matches.
#    "Full" never refuses a connection: the kernel evicts the least recently used entry for
#    each new one. Allowed connections keep being made, a connection in use keeps working, a
#    denied peer stays denied, and nothing is dropped as map_full.
#  - policy (LPM trie, WEIR_MAX_POLICY entries, no eviction): filled until the kernel refuses.
#    The agent logs the refused write and retries; what was written keeps working, a change
#    that cannot be written opens nothing, and once entries are removed the change goes in.
# The figures each test measures are printed on stderr ("capacity: ...") for docs/security.md.

FAULTS_DIR="$ROOT/tests/e2e/faults"
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
python3() { "$PYTHON" "$@"; }
METRICS_PORT=9962 # inside the node's own network namespace: no clash with anything

map_max_entries() { # pin name
    bpftool map show pinned "$BPFFS/$1" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])'
}

metric() { # prometheus series prefix, e.g. 'weir_datapath_packets_total{counter="ct_new"}'
    in_node curl -sS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
        awk -v series="$1" 'index($0, series " ") == 1 {print $2; found = 1} END {if (!found) print 0}'
}

drops_of_reason() { # reason: every weir_drops_total series of that reason, summed
    in_node curl -sS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
        awk -v reason="reason=\"$1\"" '/^weir_drops_total\{/ && index($0, reason) {sum += $2} END {print sum + 0}'
}

pod_manifest() { # name ip labels-json
    cat <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"e2e","name":"$1","labels":$3},
 "spec":{"nodeName":"$TEST_ID","containers":[{"name":"c","image":"x"}]},
 "status":{"phase":"Running","podIP":"$2","podIPs":[{"ip":"$2"}]}}
JSON
}

# ingress_policy NAME SERVER_APP CLIENT_APP: pods app=SERVER_APP take TCP 8080-8082 from
# app=CLIENT_APP.
ingress_policy() {
    cat <<JSON
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"namespace":"e2e","name":"$1"},
 "spec":{"podSelector":{"matchLabels":{"app":"$2"}},
         "ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"$3"}}}],
                     "ports":[{"protocol":"TCP","port":8080,"endPort":8082}]}]}}
JSON
}

probe() { # pod address: "ok" or the error of one connect + echo on 8080
    in_pod "$1" "$PYTHON" -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], 8080), timeout=0.75)
    s.sendall(b"hello\n"); print("ok" if s.recv(16) == b"hello\n" else "bad echo")
except Exception as error:
    print(type(error).__name__)
' "$2"
}

wait_probe() { # pod address expected seconds what
    local deadline=$((SECONDS + $4)) got
    while :; do
        got=$(probe "$1" "$2")
        [ "$got" = "$3" ] && return 0
        [ $SECONDS -lt $deadline ] || fail "$5: expected '$3' within $4 s, got '$got'"
        sleep 0.1
    done
}

wait_for_log() { # extended-regexp seconds what
    local deadline=$((SECONDS + $2))
    until grep -qE -- "$1" "$WORK/agent.log"; do
        [ $SECONDS -lt $deadline ] ||
            fail "$3: no line matching '$1' in the agent log within $2 s; tail: $(tail -3 "$WORK/agent.log")"
        sleep 0.1
    done
}

# A node whose agent serves metrics on its own loopback; pods a (app=client), b (app=server,
# echo on 8080) and c (app=other); b takes 8080 from app=client only.
capacity_node() {
    node_create
    mkdir -p "$MANIFESTS"
    write_manifest namespace.json '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"e2e"}}'
    agent_start --metrics-addr "127.0.0.1:$METRICS_PORT"
    pod_create a; ip_a=$POD_IP
    pod_create b; ip_b=$POD_IP
    pod_create c; ip_c=$POD_IP
    in_pod b "$PYTHON" "$FAULTS_DIR/traffic.py" server 8080 >/dev/null 2>&1 &
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(pod_manifest a "$ip_a" '{"app":"client"}'),
        $(pod_manifest b "$ip_b" '{"app":"server"}'),
        $(pod_manifest c "$ip_c" '{"app":"other"}')]}"
    write_manifest allow-client.json "$(ingress_policy allow-client server client)"
    wait_probe a "$ip_b" ok 5 "a -> b allowed"
    wait_probe c "$ip_b" TimeoutError 5 "c -> b denied"
}

# held_connection POD ADDRESS PORT STOP OUT: one TCP connection to an echo server kept open, an
# echo every 50 ms until STOP exists; OUT gets "<echoes> <failures> <first error>".
held_connection() {
    in_pod "$1" "$PYTHON" -c '
import os, socket, sys, time
address, port, stop, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
echoes, failures, first = 0, 0, "-"
s = socket.create_connection((address, port), timeout=1)
while not os.path.exists(stop):
    try:
        s.sendall(b"hello\n")
        if s.recv(16) != b"hello\n":
            raise OSError("bad echo")
        echoes += 1
    except OSError as error:
        failures += 1
        first = first if first != "-" else repr(error).replace(" ", "_")
        break
    time.sleep(0.05)
open(out + ".tmp", "w").write(f"{echoes} {failures} {first}\n")
os.replace(out + ".tmp", out)
' "$2" "$3" "$4" "$5"
}

# idle_connection POD ADDRESS PORT GO OUT: one TCP connection with one echo, then silent until GO
# exists, then one more echo; OUT gets "ok" or the error of the second echo.
idle_connection() {
    in_pod "$1" "$PYTHON" -c '
import os, socket, sys, time
address, port, go, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((address, port), timeout=1)
s.sendall(b"one\n"); assert s.recv(16) == b"one\n"
while not os.path.exists(go):
    time.sleep(0.05)
try:
    s.sendall(b"two\n"); result = "ok" if s.recv(16) == b"two\n" else "bad_echo"
except OSError as error:
    result = type(error).__name__
open(out + ".tmp", "w").write(result + "\n")
os.replace(out + ".tmp", out)
' "$2" "$3" "$4" "$5"
}

test_ct_full_evicts_lru_and_connections_keep_working() {
    capacity_node
    # traffic.py's server answers one line per connection; the held and the idle connection
    # need echoes that stay open.
    in_pod b socat TCP-LISTEN:8081,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    in_pod b socat TCP-LISTEN:8082,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    local i
    for i in $(seq 1 100); do
        [ "$(in_pod b ss -H -ltn 'sport >= :8081' | wc -l)" -ge 2 ] && break
        sleep 0.05
    done
    local capacity stop="$WORK/stop"
    capacity=$(map_max_entries ct)
    [ "$capacity" -ge 65536 ] || fail "ct map holds only $capacity entries"

    # Connections made before the map fills: one in use all along, one idle until the end.
    held_connection a "$ip_b" 8081 "$stop" "$WORK/held" &
    idle_connection a "$ip_b" 8082 "$stop" "$WORK/idle" &
    sleep 0.5

    local started filled count_full ct_new_before
    ct_new_before=$(metric 'weir_datapath_packets_total{counter="ct_new"}')
    started=$(date +%s%N)
    filled=$(maptool ct-fill "$capacity") || fail "ct-fill: $filled"
    count_full=$(maptool ct-count)
    echo "capacity: ct map of $capacity entries filled with $filled live entries in" \
        "$(( ($(date +%s%N) - started) / 1000000 )) ms; $count_full entries in the map" >&2
    [ "$count_full" -ge $((capacity * 99 / 100)) ] || fail "ct map not full: $count_full of $capacity"

    # Full: new allowed connections (250/s for 4 s) and a denied peer trying as fast.
    in_pod a "$PYTHON" "$FAULTS_DIR/traffic.py" allowed "$ip_b" 8080 250 "$stop" "$WORK/allowed.json" &
    in_pod c "$PYTHON" "$FAULTS_DIR/traffic.py" denied "$ip_b" 8080 250 "$stop" "$WORK/denied.json" &
    sleep 4
    # The idle connection's entry: still there (the LRU evicts entries the datapath has not
    # used first), then removed as an eviction would, before its next packet.
    local idle_kept
    idle_kept=$(maptool ct-forget "$ip_a" "$ip_b" 8082)
    touch "$stop"
    for _ in $(seq 1 100); do
        [ -f "$WORK/allowed.json" ] && [ -f "$WORK/denied.json" ] && [ -f "$WORK/held" ] &&
            [ -f "$WORK/idle" ] && break
        sleep 0.05
    done
    [ -f "$WORK/allowed.json" ] && [ -f "$WORK/denied.json" ] && [ -f "$WORK/held" ] &&
        [ -f "$WORK/idle" ] || fail "traffic clients did not report"
    local allowed_ok allowed_failed denied_attempts denied_ok held_echoes held_failures
    read -r allowed_ok allowed_failed < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ok"], d["failed"])' "$WORK/allowed.json")
    read -r denied_attempts denied_ok < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["attempts"], d["ok"])' "$WORK/denied.json")
    read -r held_echoes held_failures _ <"$WORK/held"
    local count_after ct_new map_full
    count_after=$(maptool ct-count)
    ct_new=$(( $(metric 'weir_datapath_packets_total{counter="ct_new"}') - ct_new_before ))
    map_full=$(drops_of_reason map_full)
    echo "capacity: ct full: $allowed_ok new allowed connections ok, $allowed_failed failed;" \
        "$denied_attempts denied attempts, $denied_ok got through; held connection $held_echoes" \
        "echoes, $held_failures failures; idle connection's entry kept: $idle_kept, after its eviction:" \
        "$(cat "$WORK/idle"); ct_new +$ct_new; map_full drops $map_full;" \
        "$count_after entries in the map after" >&2
    assert_eq "$allowed_failed" 0 "allowed connections that failed with the ct map full ($(head -c 400 "$WORK/allowed.json"))"
    [ "$allowed_ok" -ge 500 ] || fail "only $allowed_ok allowed connections in 4 s"
    assert_eq "$denied_ok" 0 "denied connections that got through with the ct map full"
    [ "$denied_attempts" -ge 500 ] || fail "only $denied_attempts denied attempts in 4 s"
    assert_eq "$held_failures" 0 "the held connection's failures ($(cat "$WORK/held"))"
    [ "$held_echoes" -ge 60 ] || fail "the held connection echoed only $held_echoes times"
    # Evicted, a connection's next packet is judged again by policy as a new one: the client's
    # is allowed, so the connection goes on, tracked anew.
    assert_eq "$(cat "$WORK/idle")" ok "the idle connection after its entry was evicted"
    assert_eq "$map_full" 0 "packets dropped as map_full (LRU evicts instead)"
    [ "$ct_new" -ge "$allowed_ok" ] || fail "ct_new counted $ct_new new connections, $allowed_ok were made"
    [ "$count_after" -ge $((capacity * 99 / 100)) ] || fail "ct map after: $count_after of $capacity"
    [ "$count_after" -le "$capacity" ] || fail "ct map over capacity: $count_after"
}

# fill_policy_map: the policy map filled with entries of an endpoint that does not exist, until
# the kernel refuses one; FILLED is how many went in.
JUNK_ENDPOINT=60000
JUNK_FIRST_IDENTITY=14680064 # 0xe00000: no cluster identity this test allocates
fill_policy_map() {
    local capacity started
    capacity=$(map_max_entries policy)
    started=$(date +%s%N)
    FILLED=$(maptool policy-fill $JUNK_ENDPOINT $JUNK_FIRST_IDENTITY "$capacity" 2>"$WORK/fill.err")
    grep -q "No space left on device" "$WORK/fill.err" ||
        fail "the policy map took $FILLED entries without refusing one: $(cat "$WORK/fill.err")"
    local count
    count=$(maptool policy-count)
    assert_eq "$count" "$capacity" "entries in the full policy map"
    echo "capacity: policy map of $capacity entries full after $FILLED more in" \
        "$(( ($(date +%s%N) - started) / 1000000 )) ms; the next write: $(cat "$WORK/fill.err")" >&2
}

drain_policy_map() { # DRAINED_AT: when the last entry was removed
    local drained
    drained=$(maptool policy-drain $JUNK_ENDPOINT $JUNK_FIRST_IDENTITY "$FILLED")
    DRAINED_AT=$(date +%s%N)
    assert_eq "$drained" "$FILLED" "entries removed from the policy map"
}

test_policy_full_keeps_written_entries_and_recovers() {
    capacity_node
    fill_policy_map
    # A change that needs new entries: c (app=other) is let in as well. It cannot be written.
    local lines_before
    lines_before=$(wc -l <"$WORK/agent.log")
    write_manifest allow-other.json "$(ingress_policy allow-other server other)"
    wait_for_log "apply: write policy entry for endpoint [0-9]+ \(rule [0-9]+\): No space left on device; retrying" 3 \
        "the refused policy write"
    sleep 2.2 # retried once a second
    local refused
    refused=$(tail -n +"$((lines_before + 1))" "$WORK/agent.log" | grep -c "No space left on device; retrying")
    [ "$refused" -ge 2 ] || fail "the agent tried the refused write $refused times in 2 s, not again and again"
    # What was written keeps working, and nothing opened.
    assert_eq "$(probe a "$ip_b")" ok "a -> b (written before the map filled) with the map full"
    assert_eq "$(probe c "$ip_b")" TimeoutError "c -> b (its rule could not be written) with the map full"
    kill -0 "$AGENT_PID" 2>/dev/null || fail "weir-agent died with the policy map full"
    assert_eq "$(status_field ready)" True "the agent answers and stays ready"
    [ "$(status_field failedPasses)" -ge 2 ] || fail "status counts the failed passes"
    assert_contains "$(status_field lastError)" "No space left on device" "status says why"
    # Room again: the retry writes the change.
    drain_policy_map
    wait_probe c "$ip_b" ok 5 "c -> b once the policy map has room"
    local recovered_ms=$(( ($(date +%s%N) - DRAINED_AT) / 1000000 ))
    assert_eq "$(probe a "$ip_b")" ok "a -> b after the recovery"
    wait_for_log "applied change [0-9]+: .*policy entries \+[1-9]" 1 "the applied change"
    echo "capacity: policy map full: $refused refused writes logged (one a second), a -> b kept," \
        "c -> b stayed denied; c -> b allowed ${recovered_ms} ms after entries were removed" >&2
}

# capacity_node plus pod d (app=db, a server on 8080) open to c. d's Pod object is published
# after its ADD (it needs d's address), in a namespace with policies: ADD must not wait for the
# agent (policyWaitMs 0); d opens once the agent knows it.
capacity_node_with_open_d() {
    capacity_node
    netns_add "$TEST_ID-d"
    cni ADD c-d d eth0 "$(net_config policyWaitMs=0)"
    [ "$CNI_RC" = 0 ] || fail "ADD d failed: $CNI_OUT $(cat "$WORK/err")"
    ip_d=$(json_get "$CNI_OUT" 'd["ips"][0]["address"].split("/")[0]')
    in_pod d "$PYTHON" "$FAULTS_DIR/traffic.py" server 8080 >/dev/null 2>&1 &
    write_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(pod_manifest a "$ip_a" '{"app":"client"}'),
        $(pod_manifest b "$ip_b" '{"app":"server"}'),
        $(pod_manifest c "$ip_c" '{"app":"other"}'),
        $(pod_manifest d "$ip_d" '{"app":"db"}')]}"
    wait_probe c "$ip_d" ok 5 "c -> d before any policy selects d"
}

# While the policy map is full, a change must never leave the datapath more open than the
# policies say: a new pod a policy isolates is isolated (nothing allowed yet), and access a
# change revokes is revoked, even though the entries the change adds cannot be written.
test_policy_full_fails_closed() {
    capacity_node_with_open_d
    fill_policy_map
    # d gets isolated (only app=client may reach it); b's policy changes from app=client to
    # app=other. Both need entries the full map refuses.
    rm -f "$MANIFESTS/allow-client.json"
    write_manifest db-from-client.json "$(ingress_policy db-from-client db client)"
    write_manifest allow-other.json "$(ingress_policy allow-other server other)"
    wait_for_log "No space left on device; retrying" 3 "the refused policy write"
    sleep 1.2
    local c_to_d a_to_b
    c_to_d=$(probe c "$ip_d")
    a_to_b=$(probe a "$ip_b")
    echo "capacity: policy map full, new isolation of d: c -> d $c_to_d; b's access revoked from" \
        "a: a -> b $a_to_b" >&2
    assert_eq "$c_to_d" TimeoutError "c -> d, which d's new policy denies, with the policy map full"
    assert_eq "$a_to_b" TimeoutError "a -> b, which b's changed policy revokes, with the policy map full"
    drain_policy_map
    wait_probe c "$ip_b" ok 5 "c -> b once the policy map has room"
    wait_probe a "$ip_d" ok 5 "a -> d once the policy map has room"
    assert_eq "$(probe c "$ip_d")" TimeoutError "c -> d after the recovery"
    assert_eq "$(probe a "$ip_b")" TimeoutError "a -> b after the recovery"
}

# A full ipcache (any namespace's policies can add CIDRs, even policies that select no pod)
# must not stop the pass before isolation is written: a new isolation holds, the ipBlock whose
# CIDR was refused allows nothing, and the log, the status and a metric name the policy. (The
# old agent aborted the pass at the first refused ipcache write: d stayed open.)
test_ipcache_full_fails_closed_and_names_the_policy() {
    capacity_node_with_open_d
    local capacity filled started
    capacity=$(map_max_entries ipcache)
    started=$(date +%s%N)
    # 198.18.0.0/15 is for benchmarks: map keys only, nothing is sent there.
    filled=$(maptool ipcache-fill 198.18.0.0 2 "$capacity" 2>"$WORK/fill.err")
    grep -q "No space left on device" "$WORK/fill.err" ||
        fail "the ipcache took $filled entries without refusing one: $(cat "$WORK/fill.err")"
    echo "capacity: ipcache of $capacity entries full after $filled more in" \
        "$(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
    # Another namespace's policy, selecting no pod, adds a CIDR; d is isolated in the same pass.
    write_manifest wide.json '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
        "metadata":{"namespace":"elsewhere","name":"wide"},
        "spec":{"podSelector":{"matchLabels":{"app":"nothing"}},
                "egress":[{"to":[{"ipBlock":{"cidr":"203.0.113.0/24"}}]}]}}'
    write_manifest db-from-client.json "$(ingress_policy db-from-client db client)"
    wait_for_log "203.0.113.0/24.*No space left on device" 5 "the refused ipcache write"
    sleep 1.2
    assert_eq "$(probe c "$ip_d")" TimeoutError "c -> d, which d's new policy denies, with the ipcache full"
    assert_eq "$(probe a "$ip_d")" ok "a -> d, which it allows, with the ipcache full"
    wait_for_log "203.0.113.0/24.*No space left on device \(the ipBlock of NetworkPolicy elsewhere/wide" 1 \
        "the refused ipcache write names the policy"
    [ "$(status_field ipcacheRefused)" -ge 1 ] || fail "status ipcacheRefused: $(status_field ipcacheRefused)"
    assert_contains "$(status_field lastError)" "elsewhere/wide" "status names the policy"
    [ "$(metric weir_ipcache_refused_entries)" -ge 1 ] ||
        fail "metric weir_ipcache_refused_entries: $(metric weir_ipcache_refused_entries)"
    assert_eq "$(maptool ipcache-drain 198.18.0.0 "$filled")" "$filled" "entries removed"
    local deadline=$((SECONDS + 5))
    until [ "$(status_field ipcacheRefused)" = 0 ]; do
        [ $SECONDS -lt $deadline ] || fail "ipcacheRefused stays $(status_field ipcacheRefused) with room"
        sleep 0.1
    done
    assert_eq "$(probe c "$ip_d")" TimeoutError "c -> d after the recovery"
    assert_eq "$(probe a "$ip_d")" ok "a -> d after the recovery"
}
