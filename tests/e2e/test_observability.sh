# Observability end to end: the flow log explains allowed flows, drops (reason and policy),
# every HTTP request of a keep-alive connection and the connection's end; metrics move by the
# exact counts and parse with prometheus_client; HTTP spans reach an OTLP collector; the
# conntrack sweep reports expired flows once and collects them.

OBS_METRICS=127.0.0.1:9964
OBS_OTLP_PORT=4318
OBS_SERVER=web-7c5d4b9f8-qx2vz # a Deployment's pod: its workload is e2e/web
OBS_RECEIVER="$ROOT/tests/fixtures/otlp_receiver.py"
OBS_PROM_PYTHON=/usr/bin/python3 # Debian's python3-prometheus-client, not a pyenv python

obs_apply_manifest() { # name content: written, then waited for until the agent applied it
    local before i
    before=$(status_field appliedChanges)
    write_manifest "$1" "$2"
    for i in $(seq 1 250); do
        [ "$(status_field appliedChanges)" -gt "$before" ] && return 0
        sleep 0.02
    done
    fail "agent did not apply $1 within 5 s"
}

obs_pod_json() { # name ip labels-json metadata-extra
    cat <<JSON
{"apiVersion":"v1","kind":"Pod","metadata":{"namespace":"e2e","name":"$1","labels":$3$4},
 "spec":{"nodeName":"$TEST_ID","containers":[{"name":"c","image":"x"}]},
 "status":{"phase":"Running","podIP":"$2","podIPs":[{"ip":"$2"}]}}
JSON
}

# A node whose agent logs flows and serves metrics (plus extra agent flags), two pods in the
# manifests (client, and the server of Deployment web), and a policy that lets client reach
# web on 8080 only.
obs_setup() {
    node_create
    mkdir -p "$MANIFESTS"
    write_manifest namespace.yaml "apiVersion: v1
kind: Namespace
metadata: {name: e2e}"
    agent_start --flow-log "$WORK/flows.jsonl" --metrics-addr "$OBS_METRICS" "$@"
    pod_create client
    ip_client=$POD_IP
    pod_create "$OBS_SERVER"
    ip_server=$POD_IP
    obs_apply_manifest pods.json "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[
        $(obs_pod_json client "$ip_client" '{"app":"client"}' ''),
        $(obs_pod_json "$OBS_SERVER" "$ip_server" '{"app":"web","pod-template-hash":"7c5d4b9f8"}' \
        ',"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7c5d4b9f8","uid":"u1","controller":true}]')]}"
    obs_apply_manifest policy.yaml "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: e2e, name: web-from-client}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}]
    ports: [{protocol: TCP, port: 8080}]"
}

# An HTTP/1.1 server with keep-alive on 8080 in the server pod: 200 for every path but
# /missing (404).
obs_http_server() {
    cat >"$WORK/http_server.py" <<'PY'
import http.server
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = ("path %s\n" % self.path).encode()
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
PY
    in_pod "$OBS_SERVER" python3 "$WORK/http_server.py" >/dev/null 2>&1 &
    local i
    for i in $(seq 1 100); do
        [ "$(in_pod "$OBS_SERVER" ss -H -ltn 'sport = :8080' | wc -l)" -ge 1 ] && return 0
        sleep 0.05
    done
    fail "HTTP server in $OBS_SERVER did not start"
}

# Two requests on one connection, then close. Prints "<client port> <status> <status>".
obs_two_requests() {
    in_pod client python3 -c '
import http.client, sys
connection = http.client.HTTPConnection(sys.argv[1], 8080, timeout=3)
statuses = []
for path in ("/one", "/missing"):
    connection.request("GET", path, headers={"Host": "web.e2e"})
    response = connection.getresponse()
    response.read()
    statuses.append(str(response.status))
port = connection.sock.getsockname()[1]
connection.close()
print(port, " ".join(statuses))
' "$ip_server"
}

# Lines of the flow log matching a Python condition over d, as a JSON array; waits up to
# 5 s for at least $2 of them (default 1).
obs_flow_lines() { # condition [count]
    python3 - "$WORK/flows.jsonl" "$1" "${2:-1}" <<'PY'
import json, sys, time
deadline = time.monotonic() + 5
while True:
    found = []
    try:
        for text in open(sys.argv[1]):
            d = json.loads(text)
            if eval(sys.argv[2]):
                found.append(d)
    except FileNotFoundError:
        pass
    if len(found) >= int(sys.argv[3]) or time.monotonic() > deadline:
        break
    time.sleep(0.05)
print(json.dumps(found))
PY
}

obs_scrape() { # name: the exposition into $WORK/<name>.prom
    in_node curl -sS --max-time 3 "http://$OBS_METRICS/metrics" >"$WORK/$1.prom" ||
        fail "scrape $OBS_METRICS"
}

# Sum of the samples called name whose labels include the given ones, parsed the way
# Prometheus' own Python client parses an exposition (a parse error fails the test).
obs_sample() { # scrape-name sample-name labels-json
    "$OBS_PROM_PYTHON" - "$WORK/$1.prom" "$2" "$3" <<'PY' || fail "exposition $1 does not parse"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
want = json.loads(sys.argv[3])
total = 0.0
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for sample in family.samples:
        if sample.name == sys.argv[2] and all(sample.labels.get(k) == v for k, v in want.items()):
            total += sample.value
print(int(total) if total == int(total) else total)
PY
}

obs_receiver_start() { # extra receiver flags
    nsenter --net="/var/run/netns/$NODE_NETNS" python3 "$OBS_RECEIVER" --port "$OBS_OTLP_PORT" \
        --out "$WORK/otlp.jsonl" --ready "$WORK/otlp.ready" "$@" >>"$WORK/receiver.log" 2>&1 &
    EXTRA_PIDS+=($!)
    local i
    for i in $(seq 1 100); do
        [ -f "$WORK/otlp.ready" ] && return 0
        sleep 0.05
    done
    fail "OTLP receiver did not start: $(cat "$WORK/receiver.log")"
}

# Spans the receiver got with the given url.path, as a JSON array; waits up to 6 s (the
# exporter flushes every 2 s).
obs_spans() { # url.path [count]
    python3 - "$WORK/otlp.jsonl" "$1" "${2:-1}" <<'PY'
import json, sys, time
def value(attribute):
    return list(attribute["value"].values())[0]
deadline = time.monotonic() + 6
while True:
    found = []
    try:
        for text in open(sys.argv[1]):
            entry = json.loads(text)
            if entry["status"] != 200:
                continue
            for resource in entry["body"]["resourceSpans"]:
                for scope in resource["scopeSpans"]:
                    for span in scope["spans"]:
                        attributes = {a["key"]: value(a) for a in span["attributes"]}
                        if attributes.get("url.path") == sys.argv[2]:
                            span["attributes"] = attributes
                            span["resource"] = {a["key"]: value(a)
                                                for a in resource["resource"]["attributes"]}
                            found.append(span)
    except FileNotFoundError:
        pass
    if len(found) >= int(sys.argv[3]) or time.monotonic() > deadline:
        break
    time.sleep(0.05)
print(json.dumps(found))
PY
}

test_flow_log_explains_allowed_flows_drops_and_their_end() {
    obs_setup
    in_pod "$OBS_SERVER" socat TCP-LISTEN:9090,reuseaddr,fork EXEC:cat >/dev/null 2>&1 &
    obs_http_server
    local result port
    result=$(obs_two_requests)
    port=${result%% *}
    in_pod client python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 9090), timeout=1)
except OSError:
    pass
' "$ip_server"

    local flow drop end
    flow=$(obs_flow_lines "d['type'] == 'flow' and d['source']['port'] == $port")
    assert_eq "$(json_get "$flow" 'd[0]["source"]["name"] + " -> " + d[0]["destination"]["name"]')" \
        "e2e/client -> e2e/$OBS_SERVER" "new flow names the pods"
    assert_eq "$(json_get "$flow" 'd[0]["verdict"] + ", " + d[0]["policy"]')" \
        "allowed, allowed by e2e/web-from-client" "new flow verdict and policy"

    drop=$(obs_flow_lines "d['type'] == 'drop' and d['destination']['port'] == 9090")
    assert_eq "$(json_get "$drop" 'd[0]["reason"]')" policy_denied_ingress "drop reason"
    assert_eq "$(json_get "$drop" 'd[0]["policy"]')" \
        "no rule of the policies selecting e2e/$OBS_SERVER allows it: e2e/web-from-client" "drop policy"

    end=$(obs_flow_lines "d['type'] == 'flow_end' and d['source']['port'] == $port")
    [ "$(json_get "$end" 'len(d)')" = 1 ] || fail "one flow end for the connection: $end"
    assert_contains "fin reset" "$(json_get "$end" 'd[0]["cause"]')" "closed by FIN or RST"
    assert_eq "$(json_get "$end" 'd[0]["destination"]["name"]')" "e2e/$OBS_SERVER" "flow end names the server"
    assert_eq "$(json_get "$end" 'all(d[0][w][u] > 0 for w in ("forward", "reply") for u in ("packets", "bytes"))')" \
        True "packets and bytes both ways: $end"
    assert_eq "$(json_get "$end" 'd[0]["forward"]["bytes"] > 2 * 40 and d[0]["durationNs"] > 0')" \
        True "forward bytes include the requests, duration set: $end"
    grep -q "flow ended (fin\|flow ended (reset" "$WORK/agent.log" || fail "the agent log does not tell the flow's end"
}

test_http_requests_are_logged_counted_and_traced() {
    obs_setup --otlp-endpoint "http://127.0.0.1:$OBS_OTLP_PORT"
    obs_receiver_start
    obs_http_server
    local labels='{"source_workload":"e2e/client","destination_workload":"e2e/web","method":"GET"}'
    obs_scrape before

    local result port
    result=$(obs_two_requests)
    port=${result%% *}
    assert_eq "${result#* }" "200 404" "both requests answered on one connection"

    local http
    http=$(obs_flow_lines "d['type'] == 'http' and d['source']['port'] == $port" 2)
    assert_eq "$(json_get "$http" 'len(d)')" 2 "one HTTP event per request: $http"
    assert_eq "$(json_get "$http" '" ".join("%s %s %s %d" % (e["http"]["method"], e["http"]["path"], e["http"]["host"], e["http"]["status"]) for e in d)')" \
        "GET /one web.e2e 200 GET /missing web.e2e 404" "method, path, host and status of each"
    assert_eq "$(json_get "$http" 'all(e["http"]["latencyNs"] > 0 and e["outcome"] == "answered" for e in d)')" True \
        "latency measured: $http"
    assert_eq "$(json_get "$http" 'd[0]["source"]["name"] + " -> " + d[0]["destination"]["name"]')" \
        "e2e/client -> e2e/$OBS_SERVER" "HTTP events name the pods"
    assert_eq "$(json_get "$http" 'd[0]["destination"]["workload"] + ", " + d[0]["policy"]')" \
        "e2e/web, allowed by e2e/web-from-client" "workload and policy"
    grep -q "http GET e2e/client -> e2e/$OBS_SERVER web.e2e/missing: 404" "$WORK/agent.log" ||
        fail "the agent log does not tell the request: $(grep http "$WORK/agent.log" | tail -3)"

    local i
    for i in $(seq 1 60); do
        obs_scrape after
        [ "$(obs_sample after weir_http_requests_total "$labels")" -ge \
            $(($(obs_sample before weir_http_requests_total "$labels") + 2)) ] && break
        sleep 0.05
    done
    assert_eq "$(obs_sample after weir_http_requests_total "${labels%\}},\"status_class\":\"2xx\"}")" \
        "$(($(obs_sample before weir_http_requests_total "${labels%\}},\"status_class\":\"2xx\"}") + 1))" "2xx +1"
    assert_eq "$(obs_sample after weir_http_requests_total "${labels%\}},\"status_class\":\"4xx\"}")" \
        "$(($(obs_sample before weir_http_requests_total "${labels%\}},\"status_class\":\"4xx\"}") + 1))" "4xx +1"
    assert_eq "$(obs_sample after weir_http_request_duration_seconds_count "$labels")" \
        "$(($(obs_sample before weir_http_request_duration_seconds_count "$labels") + 2))" "latency histogram +2"
    assert_eq "$(obs_sample after weir_http_request_duration_seconds_bucket "${labels%\}},\"le\":\"+Inf\"}")" \
        "$(obs_sample after weir_http_request_duration_seconds_count "$labels")" "+Inf bucket equals count"

    local one missing
    one=$(obs_spans /one)
    missing=$(obs_spans /missing)
    assert_eq "$(json_get "$one" 'd[0]["name"] + " " + d[0]["attributes"]["http.response.status_code"]')" \
        "HTTP GET /one 200" "span of /one"
    assert_eq "$(json_get "$missing" 'd[0]["attributes"]["http.response.status_code"]')" 404 "span of /missing"
    assert_eq "$(json_get "$one" 'd[0]["kind"] == 2 and len(d[0]["traceId"]) == 32 and len(d[0]["spanId"]) == 16')" \
        True "SERVER span with hex ids"
    assert_eq "$(json_get "$one" 'int(d[0]["endTimeUnixNano"]) > int(d[0]["startTimeUnixNano"])')" True "span covers the latency"
    assert_eq "$(json_get "$one" '" ".join(d[0]["attributes"][k] for k in ("http.request.method", "server.address", "weir.source.workload", "weir.destination.workload"))')" \
        "GET web.e2e e2e/client e2e/web" "span attributes"
    assert_eq "$(json_get "$one" 'd[0]["resource"]["service.name"]')" web "resource is the server's workload"
    obs_scrape exported
    [ "$(obs_sample exported weir_otlp_spans_exported_total '{}')" -ge 2 ] || fail "exported spans counted"
    assert_eq "$(obs_sample exported weir_otlp_exports_failed_total '{}')" 0 "no failed export"
}

test_metrics_exposition_parses_and_names_maps_and_drops() {
    obs_setup
    in_pod client ping -c2 -i0.2 -W1 "$ip_server" >/dev/null 2>&1 && fail "client -> web ICMP should be denied"
    obs_scrape all
    "$OBS_PROM_PYTHON" - "$WORK/all.prom" <<'PY' || fail "exposition does not parse: $(head -c 600 "$WORK/all.prom")"
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
for name, kind in (("weir_datapath_packets", "counter"), ("weir_drops", "counter"),
                   ("weir_drop_bytes", "counter"), ("weir_endpoint_packets", "counter"),
                   ("weir_map_entries", "gauge"), ("weir_conntrack_entries", "gauge"),
                   ("weir_flow_events", "counter"), ("weir_http_requests", "counter"),
                   ("weir_http_request_duration_seconds", "histogram")):
    assert name in families, "missing family %s" % name
    assert families[name].type == kind, "%s is %s, not %s" % (name, families[name].type, kind)
# Every sample belongs to a declared family: nothing was interleaved.
untyped = [f.name for f in families.values() if f.type == "unknown" or f.type == "untyped"]
assert not untyped, "samples outside their family: %s" % untyped
PY
    assert_eq "$(obs_sample all weir_drops_total '{"pod":"'"$OBS_SERVER"'","reason":"policy_denied_ingress","direction":"ingress"}')" 2 "two denied pings"
    [ "$(obs_sample all weir_drop_bytes_total '{"pod":"'"$OBS_SERVER"'","reason":"policy_denied_ingress"}')" -ge 168 ] ||
        fail "dropped bytes counted"
    [ "$(obs_sample all weir_map_entries '{"map":"policy"}')" -ge 1 ] || fail "policy map occupancy"
    assert_eq "$(obs_sample all weir_map_entries '{"map":"endpoints"}')" 2 "two endpoints"
    [ "$(obs_sample all weir_map_entries '{"map":"ipcache"}')" -ge 2 ] || fail "ipcache occupancy"
    [ "$(obs_sample all weir_map_capacity '{"map":"ct"}')" -gt 0 ] || fail "ct capacity"
    [ "$(obs_sample all weir_flow_events_total '{"type":"drop"}')" -ge 2 ] || fail "drop events read"
    [ "$(obs_sample all weir_endpoint_packets_total '{"pod":"client","direction":"from_pod"}')" -ge 2 ] ||
        fail "per-endpoint traffic"
}

# The ct map's layout from its BTF, so entries are written field by field by name.
obs_ct_write() { # fields-json-of-key fields-json-of-value
    python3 - "$BPFFS/ct" "$1" "$2" <<'PY' || fail "write a ct entry"
import json, subprocess, sys
pin, key_fields, value_fields = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
def bpftool(*args):
    return json.loads(subprocess.run(["bpftool", "-j"] + list(args), check=True,
                                     capture_output=True, text=True).stdout)
types = bpftool("btf", "dump", "id", str(bpftool("map", "show", "pinned", pin)["btf_id"]))["types"]
by_id = {t["id"]: t for t in types}
def size_of(type_id):
    t = by_id[type_id]
    while t["kind"] in ("TYPEDEF", "VOLATILE", "CONST"):
        t = by_id[t["type_id"]]
    return t["size"]
def pack(struct_name, fields):
    struct = next(t for t in types if t["kind"] == "STRUCT" and t["name"] == struct_name)
    data = bytearray(struct["size"])
    members = {m["name"]: m for m in struct["members"]}
    for name, value in fields.items():
        member = members[name]
        size = size_of(member["type_id"])
        offset = member["bits_offset"] // 8
        if isinstance(value, str):  # an address or a port: network byte order
            import ipaddress
            raw = ipaddress.IPv4Address(value).packed if "." in value else int(value).to_bytes(size, "big")
        else:
            raw = int(value).to_bytes(size, "little")
        data[offset:offset + size] = raw
    return " ".join("%02x" % b for b in data).split()
subprocess.run(["bpftool", "map", "update", "pinned", pin, "key", "hex"] + pack("weir_ct_key", key_fields)
               + ["value", "hex"] + pack("weir_ct_entry", value_fields), check=True)
PY
}

obs_ct_count() { # source-port: entries of the ct map with that source port
    python3 - "$BPFFS/ct" "$1" <<'PY'
import json, subprocess, sys
entries = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "pinned", sys.argv[1]],
                                    check=True, capture_output=True, text=True).stdout)
import socket
port = socket.htons(int(sys.argv[2]))
print(sum(1 for e in entries if e.get("formatted", {}).get("key", {}).get("source_port") == port))
PY
}

test_conntrack_sweep_reports_expired_flows_once_and_collects_them() {
    obs_setup
    local now
    now=$(python3 -c 'import time; print(time.monotonic_ns())')
    local second=1000000000
    # An idle UDP flow that expired a second ago: reported once, with its counters.
    obs_ct_write "{\"source\":\"$ip_client\",\"destination\":\"$ip_server\",\"source_port\":\"41001\",\"destination_port\":\"53\",\"protocol\":17}" \
        "{\"expires_ns\":$((now - second)),\"state\":4,\"created_ns\":$((now - 64 * second)),\"forward_packets\":3,\"forward_bytes\":300,\"reply_packets\":2,\"reply_bytes\":500}"
    # A TCP connection closed by FINs (the datapath reported it): collected, not reported.
    obs_ct_write "{\"source\":\"$ip_client\",\"destination\":\"$ip_server\",\"source_port\":\"41002\",\"destination_port\":\"8080\",\"protocol\":6}" \
        "{\"expires_ns\":$((now - second)),\"state\":3,\"flow_end_reported\":1,\"created_ns\":$((now - 20 * second)),\"forward_packets\":5,\"forward_bytes\":500}"
    # A live connection: left alone.
    obs_ct_write "{\"source\":\"$ip_client\",\"destination\":\"$ip_server\",\"source_port\":\"41003\",\"destination_port\":\"8080\",\"protocol\":6}" \
        "{\"expires_ns\":$((now + 3600 * second)),\"state\":2,\"created_ns\":$now}"

    local end i
    for i in $(seq 1 4); do
        end=$(obs_flow_lines "d['type'] == 'flow_end' and d['source']['port'] == 41001")
        [ "$(json_get "$end" 'len(d)')" -ge 1 ] && break
    done
    [ "$(json_get "$end" 'len(d)')" = 1 ] || fail "expired UDP flow reported within 20 s: $end"
    assert_eq "$(json_get "$end" 'd[0]["cause"] + " " + d[0]["protocol"] + " " + d[0]["source"]["name"] + " -> " + d[0]["destination"]["name"]')" \
        "expired UDP e2e/client -> e2e/$OBS_SERVER" "expired flow named"
    assert_eq "$(json_get "$end" '"%d/%d %d/%d %d" % (d[0]["forward"]["packets"], d[0]["forward"]["bytes"], d[0]["reply"]["packets"], d[0]["reply"]["bytes"], d[0]["durationNs"] // 1000000000)')" \
        "3/300 2/500 3" "counters and duration up to the last activity"
    for i in $(seq 1 100); do
        [ "$(obs_ct_count 41002)" = 0 ] && break
        sleep 0.05
    done
    assert_eq "$(obs_ct_count 41001)" 0 "expired entry collected"
    assert_eq "$(obs_ct_count 41002)" 0 "closed entry collected"
    assert_eq "$(obs_ct_count 41003)" 1 "live entry kept"
    # One more walk: nothing is reported twice.
    obs_scrape walked
    local walks
    walks=$(obs_sample walked weir_conntrack_gc_walks_total '{}')
    for i in $(seq 1 70); do
        obs_scrape walked
        [ "$(obs_sample walked weir_conntrack_gc_walks_total '{}')" -gt "$walks" ] && break
        sleep 0.1
    done
    assert_eq "$(json_get "$(obs_flow_lines "d['type'] == 'flow_end' and d['source']['port'] in (41001, 41002, 41003)")" 'len(d)')" 1 \
        "only the expired, unreported flow"
    obs_scrape after
    [ "$(obs_sample after weir_conntrack_gc_deleted_total '{}')" -ge 2 ] || fail "collected entries counted"
}

test_otlp_collector_failure_is_counted_and_flows_go_on() {
    obs_setup --otlp-endpoint "http://127.0.0.1:$OBS_OTLP_PORT/"
    obs_receiver_start --fail 1
    obs_http_server
    local result
    result=$(obs_two_requests)
    assert_eq "${result#* }" "200 404" "requests answered while the collector fails"
    local i
    for i in $(seq 1 80); do # the first batch fails after at most 2 s
        obs_scrape failed
        [ "$(obs_sample failed weir_otlp_exports_failed_total '{}')" -ge 1 ] && break
        sleep 0.05
    done
    assert_eq "$(obs_sample failed weir_otlp_exports_failed_total '{}')" 1 "the failed export counted"
    assert_eq "$(obs_sample failed weir_otlp_spans_dropped_total '{}')" 2 "its spans counted as dropped"
    grep -q "OTLP export to http://127.0.0.1:$OBS_OTLP_PORT/v1/traces failed: the collector answered HTTP 503" \
        "$WORK/agent.log" || fail "the agent log does not tell the failure: $(grep -i otlp "$WORK/agent.log")"
    assert_eq "$(json_get "$(obs_flow_lines "d['type'] == 'http'" 2)" 'len(d)')" 2 "flows logged regardless"
    # The collector is back: later spans reach it.
    result=$(obs_two_requests)
    assert_eq "$(json_get "$(obs_spans /missing)" 'len(d)')" 1 "spans exported once the collector answers"
}

test_api_watch_reconnects_and_sync_lag_are_measured() {
    node_create
    local api="$WORK/api"
    mkdir -p "$api"
    in_node python3 "$ROOT/tests/fixtures/k8s_api_server.py" --port 0 --dir "$api" \
        --omit-item-kind --quiet >"$WORK/api.log" 2>&1 &
    local i
    for i in $(seq 1 200); do
        [ -f "$api/ready" ] && break
        sleep 0.05
    done
    [ -f "$api/ready" ] || fail "test API server did not start: $(cat "$WORK/api.log")"
    agent_start --kubeconfig "$api/kubeconfig" --metrics-addr "$OBS_METRICS"
    obs_scrape healthy
    assert_eq "$(obs_sample healthy weir_api_synced '{}')" 1 "synced"
    assert_eq "$(obs_sample healthy weir_api_watch_reconnects_total '{"kind":"Pod"}')" 0 "no reconnect yet"
    "$OBS_PROM_PYTHON" -c "import sys; sys.exit(0 if $(obs_sample healthy weir_api_sync_lag_seconds '{"kind":"Pod"}') < 3 else 1)" ||
        fail "sync lag while bookmarks flow (every second)"

    # The API server fails every request and drops the watches: streams back off and retry.
    in_node python3 "$ROOT/tests/fixtures/kapi.py" --dir "$api" control fail status=503 count=-1 >/dev/null
    in_node python3 "$ROOT/tests/fixtures/kapi.py" --dir "$api" control disconnect >/dev/null
    for i in $(seq 1 60); do
        obs_scrape away
        [ "$(obs_sample away weir_api_watch_reconnects_total '{"kind":"Pod"}')" -ge 2 ] && break
        sleep 0.1
    done
    [ "$(obs_sample away weir_api_watch_reconnects_total '{"kind":"Pod"}')" -ge 2 ] || fail "reconnects counted"
    sleep 1.5
    obs_scrape away
    "$OBS_PROM_PYTHON" -c "import sys; sys.exit(0 if $(obs_sample away weir_api_sync_lag_seconds '{"kind":"Pod"}') >= 1.5 else 1)" ||
        fail "sync lag grows while the API server is away: $(grep sync_lag "$WORK/away.prom")"
}
