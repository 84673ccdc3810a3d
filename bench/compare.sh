#!/usr/bin/env bash
# Two pods on one node, the same traffic, every way of connecting them side by side in one run:
#
#   plain             routed veths with no program (the floor): weir-cni's pods, clsact removed
#   weir              weir-cni + weir-agent (standalone): NetworkPolicy isolating both pods and
#                     allowing the client, conntrack, the client reaching the server through a
#                     Service VIP (translation), flow events on and logged (--flow-log)
#   weir-events-off   the same node and pods with flow and HTTP events off at run time (the
#                     pinned dp_config map), when this build has it
#   weir-Nsvc         weir with N-1 other Services programmed (BENCH_CMP_WEIR_SERVICES)
#   iptables-N        plain veths + the same allow rules as iptables filter rules in the node,
#                     N other rules before them (stateful: established packets are accepted
#                     first, as Calico and kube-router write it; every new connection walks them)
#   kube-proxy-N      plain veths + N Services as kube-proxy's iptables mode writes them
#                     (bench/services/gen.py, KUBE-SERVICES/KUBE-SVC-*/KUBE-SEP-*), client to VIP
#   haproxy           plain veths + haproxy (TCP mode) in the client pod: a sidecar stand-in
#   nginx-proxy       plain veths + nginx as HTTP reverse proxy in the client pod (HTTP only)
#   weir-l7           weir with a WeirNetworkPolicy L7 rule (GET /hello) instead of the L4 one
#                     (HTTP only), when this build enforces it
#
# Every configuration is a node of its own (a network namespace with its weir-agent) with a
# client and a server pod, all present at once. The server pod runs tcp_rr's echo server, an
# iperf3 server and nginx serving /hello (HTTP/1.1 keep-alive). Each round measures every
# configuration back to back in an order rotated from round to round, so machine noise and
# drift fall on all alike (each metric in turn over all configurations, so the measurements a
# ratio pairs are seconds apart):
#   rr    TCP_RR: tcp_rr, 1 byte each way on one connection: p50/p99 latency
#   crr   TCP_CRR: tcp_rr crr, a connection per 1-byte transaction: p50/p99, connections/s
#   tput  iperf3, one stream, a fixed number of bytes: Gbit/s
#   http  wrk --latency, 1 thread, keep-alive, GET /hello: requests/s, p50/p99
# and the CPU time each transaction costs: the cpuacct time of the node's cgroup (client,
# server, proxies and the node's agent, with the softirq work done in their context) over the
# transactions. Clients, servers and proxies share one CPU (MEASURED_CPU, the last; at nice
# MEASURED_NICE, -10, ahead of other work on the machine), agents run on CPU 0: a round trip on
# one CPU is stable, so what differs is what each datapath adds.
#
#   BENCH_CMP_ROUNDS (6)  BENCH_CMP_RR_ITERATIONS (2000)  BENCH_CMP_CRR_CONNECTIONS (500)
#   BENCH_CMP_TPUT_BYTES (512M per iperf3 run)  BENCH_CMP_WRK_SECONDS (1)
#   BENCH_CMP_WRK_CONNECTIONS (1: on one CPU, more connections turn the latency percentiles
#   into scheduler time slices)
#   BENCH_CMP_RULES ("10 100 1000")  BENCH_CMP_SERVICES ("1 1000 10000")
#   BENCH_CMP_WEIR_SERVICES (10000; 0: no weir-Nsvc node)  BENCH_CMP_IPTABLES (nft | legacy)
#   BENCH_CMP_OUT (a folder: results, meta and logs are kept there for bench/report.py)
#
# Needs root. Exits non-zero when a measurement fails, never for a missed goal. All traffic
# stays inside the namespaces this script creates; everything it creates is removed.
set -euo pipefail

BENCH_TAG=wc BENCH_NAME=compare
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
HERE="$BENCH_ROOT/bench/compare"

ROUNDS=${BENCH_CMP_ROUNDS:-6}
RR_ITERATIONS=${BENCH_CMP_RR_ITERATIONS:-2000}
CRR_CONNECTIONS=${BENCH_CMP_CRR_CONNECTIONS:-500}
WRK_SECONDS=${BENCH_CMP_WRK_SECONDS:-1}
WRK_CONNECTIONS=${BENCH_CMP_WRK_CONNECTIONS:-1}
TPUT_BYTES=${BENCH_CMP_TPUT_BYTES:-512M}
read -r -a RULE_COUNTS <<<"${BENCH_CMP_RULES:-10 100 1000}"
read -r -a SERVICE_COUNTS <<<"${BENCH_CMP_SERVICES:-1 1000 10000}"
WEIR_SERVICES=${BENCH_CMP_WEIR_SERVICES:-10000}
IPTABLES_MODE=${BENCH_CMP_IPTABLES:-nft}
OUT=${BENCH_CMP_OUT:-}

number_in "$ROUNDS" 2 100 BENCH_CMP_ROUNDS
number_in "$RR_ITERATIONS" 100 10000000 BENCH_CMP_RR_ITERATIONS
number_in "$CRR_CONNECTIONS" 20 20000 BENCH_CMP_CRR_CONNECTIONS
number_in "$WRK_SECONDS" 1 600 BENCH_CMP_WRK_SECONDS
[[ "$TPUT_BYTES" =~ ^[0-9]{1,6}[KMG]?$ ]] || die "BENCH_CMP_TPUT_BYTES must be like 512M, got '$TPUT_BYTES'"
number_in "$WRK_CONNECTIONS" 1 1000 BENCH_CMP_WRK_CONNECTIONS
number_in "$WEIR_SERVICES" 0 60000 BENCH_CMP_WEIR_SERVICES
for n in "${RULE_COUNTS[@]}"; do number_in "$n" 0 100000 "each of BENCH_CMP_RULES"; done
for n in "${SERVICE_COUNTS[@]}"; do number_in "$n" 1 60000 "each of BENCH_CMP_SERVICES"; done
case "$IPTABLES_MODE" in nft | legacy) ;; *) die "BENCH_CMP_IPTABLES must be nft or legacy" ;; esac
IPT="iptables-$IPTABLES_MODE"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, bpffs, tc, iptables)"
need_built "$WEIR_CNI" "$WEIR_AGENT" "$TCP_RR"
need_tools python3 tc ss nsenter taskset iperf3 wrk nginx haproxy curl bpftool "$IPT-restore" "$IPT-save"

RR_PORT=7000 TPUT_PORT=5201 HTTP_PORT=8080 UNALLOWED_PORT=7999
VIP=10.96.250.1 VIP_HTTP_PORT=80
SERVICE_PORTS="rr:$RR_PORT:$RR_PORT,tput:$TPUT_PORT:$TPUT_PORT,http:$VIP_HTTP_PORT:$HTTP_PORT"
PROXY_RR_PORT=17000 PROXY_TPUT_PORT=15201 PROXY_HTTP_PORT=18080 NGINX_PROXY_PORT=28080
OCTET=$((150 + RANDOM % 50)) # pod CIDRs 10.OCTET.<node>.0/24
CLUSTER_CIDR="10.$OCTET.0.0/16"

bench_traps
STARTED_NS=$(date +%s%N)
mkdir -p "$WORK/www"
printf 'hello from the server pod\n' >"$WORK/www/hello"
if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    RESULTS="$OUT/compare.results"
else
    RESULTS="$WORK/compare.results"
fi
: >"$RESULTS"
NOTES="${RESULTS%.results}.notes" # key=value facts for the report (availability, checks)
: >"$NOTES"
note() { echo "$1=$2" >>"$NOTES"; }
since_start() { echo "$((($(date +%s%N) - STARTED_NS) / 1000000000))s"; }

# ---- one node per configuration -------------------------------------------------------------

declare -A NODE_OF=() CLIENT_OF=() SERVER_OF=() CLIENT_IP=() SERVER_IP=() CLIENT_VETH=() \
    SERVER_VETH=() CGROUP_OF=() NODE_KIND=()
NODE_INDEX=0

server_start() { # code: the three servers in the server pod
    local code=$1 netns=${SERVER_OF[$1]} dir="$WORK/$ID-$1" cg=${CGROUP_OF[$1]}
    spawn "$netns" "$cg" "$dir/rr-server.log" "$TCP_RR" server "$RR_PORT"
    spawn "$netns" "$cg" "$dir/iperf-server.log" iperf3 -s -p "$TPUT_PORT"
    mkdir -p "$dir/nginx-server"
    cat >"$dir/nginx-server/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $dir/nginx-server/nginx.pid;
error_log $dir/nginx-server/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path $dir/nginx-server/body;
    proxy_temp_path $dir/nginx-server/proxy;
    fastcgi_temp_path $dir/nginx-server/fastcgi;
    uwsgi_temp_path $dir/nginx-server/uwsgi;
    scgi_temp_path $dir/nginx-server/scgi;
    server {
        listen $HTTP_PORT;
        root $WORK/www;
        default_type text/plain;
    }
}
EOF
    spawn "$netns" "$cg" "$dir/nginx-server/stdout.log" nginx -p "$dir/nginx-server" \
        -e "$dir/nginx-server/error.log" -c "$dir/nginx-server/nginx.conf"
}

# node_launch_code code kind: the node's namespace and agent, not waited for. kind is plain
# (routed veths, no programs) or weir (programs attached, flow events logged).
node_launch_code() {
    local code=$1 kind=$2 node="$ID-$1" flags=()
    cgroup_create "$code"
    CGROUP_OF[$code]=$CGROUP
    if [ "$kind" = weir ]; then flags=(--flow-log "$WORK/$node/flows.log"); fi
    NODE_CGROUP=$CGROUP node_launch "$node" "10.$OCTET.$NODE_INDEX.0/24" "${flags[@]}"
    NODE_INDEX=$((NODE_INDEX + 1))
    NODE_OF[$code]=$node NODE_KIND[$code]=$kind
    CLIENT_OF[$code]="$node-c" SERVER_OF[$code]="$node-s"
}

# node_pods code: once the agent is ready, the client and server pods and the servers.
node_pods() {
    local code=$1 node=${NODE_OF[$1]}
    node_wait "$node"
    pod_create "$node" "$node-c" bench client
    CLIENT_IP[$code]=$POD_IP CLIENT_VETH[$code]=$HOST_VETH
    pod_create "$node" "$node-s" bench server
    SERVER_IP[$code]=$POD_IP SERVER_VETH[$code]=$HOST_VETH
    if [ "${NODE_KIND[$code]}" = plain ]; then
        pod_make_plain "$node" "${CLIENT_VETH[$code]}"
        pod_make_plain "$node" "${SERVER_VETH[$code]}"
    fi
    server_start "$code"
    echo "  [$(since_start)] node $node (${NODE_KIND[$code]}): client ${CLIENT_IP[$code]}," \
        "server ${SERVER_IP[$code]}"
}

weir_policy_apply() { # code services l4|l7: the manifests, atomically
    local code=$1 dir="$WORK/$ID-$1"
    python3 "$HERE/manifests.py" "${NODE_OF[$code]}" "${CLIENT_IP[$code]}" "${SERVER_IP[$code]}" \
        "$VIP" "$SERVICE_PORTS" "$2" "$3" >"$dir/manifests/.objects.json.tmp" ||
        die "generating the objects of ${NODE_OF[$code]} failed"
    mv "$dir/manifests/.objects.json.tmp" "$dir/manifests/objects.json"
}

# probe code address port -> "ok", "refused" or "timeout" (a SYN dropped by policy times out)
probe() {
    local status=0
    timeout 0.5 ip netns exec "${CLIENT_OF[$1]}" "$TCP_RR" client "$2" "$3" 1 >/dev/null 2>&1 ||
        status=$?
    case $status in 0) echo ok ;; 124) echo timeout ;; *) echo refused ;; esac
}

http_status() { # code url -> the HTTP status code, 000 when none came
    ip netns exec "${CLIENT_OF[$1]}" curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$2" ||
        true
}

# Waits until the policy is in force: the server isolated (a SYN to a port nobody allows is
# dropped, not refused) and the client reaching it through the VIP.
weir_wait_ready() { # code what-must-work (rr|http) [attempts, 0.2 s apart and more]
    local code=$1 i
    for i in $(seq 1 "${3:-100}"); do
        if [ "$(probe "$code" "${SERVER_IP[$code]}" "$UNALLOWED_PORT")" = timeout ]; then
            if [ "$2" = rr ] && [ "$(probe "$code" "$VIP" "$RR_PORT")" = ok ] &&
                [ "$(http_status "$code" "http://$VIP:$VIP_HTTP_PORT/hello")" = 200 ]; then
                return 0
            fi
            [ "$2" = http ] && [ "$(http_status "$code" "http://$VIP:$VIP_HTTP_PORT/hello")" = 200 ] &&
                return 0
        fi
        node_agent_alive "${NODE_OF[$code]}" || die "the weir-agent of ${NODE_OF[$code]} exited"
        sleep 0.2
    done
    return 1
}

iptables_policy_rules() { # code others: filter rules for the node
    python3 - "${CLIENT_IP[$1]}" "${SERVER_IP[$1]}" "$2" "$RR_PORT,$TPUT_PORT,$HTTP_PORT" <<'PY'
import ipaddress, sys
client, server, others, ports = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
base = int(ipaddress.IPv4Address("10.201.0.1"))  # sources nobody uses: each rule is walked
print("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]")
print(":BENCH-POLICY - [0:0]\n-A FORWARD -j BENCH-POLICY")
print("-A BENCH-POLICY -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
for i in range(others):
    print(f"-A BENCH-POLICY -s {ipaddress.IPv4Address(base + i)}/32 -d {server}/32 -p tcp "
          f"-m tcp --dport {8000 + i % 1000} -j ACCEPT")
print(f"-A BENCH-POLICY -s {client}/32 -d {server}/32 -p tcp -m multiport --dports {ports} "
      "-m comment --comment bench-allow -j ACCEPT")
print(f"-A BENCH-POLICY -s {server}/32 -d {client}/32 -p tcp -m multiport --sports {ports} "
      "-j ACCEPT")
print("-A BENCH-POLICY -j DROP\nCOMMIT")
PY
}

proxies_start() { # code: haproxy (TCP) and nginx (HTTP) in the client pod, to the server pod
    local code=$1 dir="$WORK/$ID-$1" server=${SERVER_IP[$1]} cg=${CGROUP_OF[$1]}
    cat >"$dir/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
listen rr
    bind 127.0.0.1:$PROXY_RR_PORT
    server s $server:$RR_PORT
listen tput
    bind 127.0.0.1:$PROXY_TPUT_PORT
    server s $server:$TPUT_PORT
listen http
    bind 127.0.0.1:$PROXY_HTTP_PORT
    server s $server:$HTTP_PORT
EOF
    spawn "${CLIENT_OF[$code]}" "$cg" "$dir/haproxy.log" haproxy -db -f "$dir/haproxy.cfg"
    mkdir -p "$dir/nginx-proxy"
    cat >"$dir/nginx-proxy/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $dir/nginx-proxy/nginx.pid;
error_log $dir/nginx-proxy/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path $dir/nginx-proxy/body;
    proxy_temp_path $dir/nginx-proxy/proxy;
    fastcgi_temp_path $dir/nginx-proxy/fastcgi;
    uwsgi_temp_path $dir/nginx-proxy/uwsgi;
    scgi_temp_path $dir/nginx-proxy/scgi;
    upstream server_pod {
        server $server:$HTTP_PORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$NGINX_PROXY_PORT;
        location / {
            proxy_pass http://server_pod;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    spawn "${CLIENT_OF[$code]}" "$cg" "$dir/nginx-proxy/stdout.log" nginx -p "$dir/nginx-proxy" \
        -e "$dir/nginx-proxy/error.log" -c "$dir/nginx-proxy/nginx.conf"
}

# ---- the configurations ---------------------------------------------------------------------

CONFIGS=()
declare -A CFG_CODE=() CFG_TARGET=() CFG_RR=() CFG_TPUT=() CFG_HTTP=() CFG_METRICS=()
config_add() { # name code target rr-port tput-port http-port metrics...
    local name=$1
    CONFIGS+=("$name")
    CFG_CODE[$name]=$2 CFG_TARGET[$name]=$3 CFG_RR[$name]=$4 CFG_TPUT[$name]=$5 CFG_HTTP[$name]=$6
    shift 6
    CFG_METRICS[$name]="$*"
}
ALL="rr crr tput http"

echo "==> [$(since_start)] nodes (one weir-agent each, then on CPU $AGENT_CPU), two pods per" \
    "node; clients, servers and proxies on CPU $MEASURED_CPU"
CODES=(P W)
[ "$WEIR_SERVICES" -le 1 ] || CODES+=(WS)
for n in "${RULE_COUNTS[@]}"; do CODES+=("I$n"); done
for n in "${SERVICE_COUNTS[@]}"; do CODES+=("K$n"); done
CODES+=(H L)
for code in "${CODES[@]}"; do
    case $code in P | I* | K* | H) node_launch_code "$code" plain ;; *) node_launch_code "$code" weir ;; esac
done

node_pods P
config_add plain P "${SERVER_IP[P]}" "$RR_PORT" "$TPUT_PORT" "$HTTP_PORT" $ALL

node_pods W
weir_policy_apply W 1 l4
config_add weir W "$VIP" "$RR_PORT" "$TPUT_PORT" "$VIP_HTTP_PORT" $ALL

if [ "$WEIR_SERVICES" -gt 1 ]; then
    node_pods WS
    weir_policy_apply WS "$WEIR_SERVICES" l4
    WEIR_MANY="weir-${WEIR_SERVICES}svc"
    config_add "$WEIR_MANY" WS "$VIP" "$RR_PORT" "$TPUT_PORT" "$VIP_HTTP_PORT" $ALL
fi

node_pods L
weir_policy_apply L 1 l7

for n in "${RULE_COUNTS[@]}"; do
    node_pods "I$n"
    iptables_policy_rules "I$n" "$n" >"$WORK/rules-I$n"
    in_netns "${NODE_OF[I$n]}" "$IPT-restore" <"$WORK/rules-I$n" || die "$IPT-restore of $n policy rules failed"
    config_add "iptables-$n" "I$n" "${SERVER_IP[I$n]}" "$RR_PORT" "$TPUT_PORT" "$HTTP_PORT" $ALL
done

for n in "${SERVICE_COUNTS[@]}"; do
    node_pods "K$n"
    python3 "$BENCH_ROOT/bench/services/gen.py" iptables "$n" "$VIP" "${SERVER_IP[K$n]}" \
        "$CLUSTER_CIDR" "$SERVICE_PORTS" >"$WORK/rules-K$n" || die "generating $n Services' rules failed"
    in_netns "${NODE_OF[K$n]}" "$IPT-restore" <"$WORK/rules-K$n" || die "$IPT-restore of $n Services failed"
    config_add "kube-proxy-$n" "K$n" "$VIP" "$RR_PORT" "$TPUT_PORT" "$VIP_HTTP_PORT" $ALL
done

node_pods H
proxies_start H
config_add haproxy H 127.0.0.1 "$PROXY_RR_PORT" "$PROXY_TPUT_PORT" "$PROXY_HTTP_PORT" $ALL
config_add nginx-proxy H 127.0.0.1 - - "$NGINX_PROXY_PORT" http

# ---- readiness: every path works as its configuration says ----------------------------------

echo "==> [$(since_start)] waiting for every node's policy and Services to be in force"
weir_wait_ready W rr || die "weir: policy and Service not in force after 20 s"
[ -z "${WEIR_MANY:-}" ] || weir_wait_ready WS rr ||
    die "$WEIR_MANY: policy and $WEIR_SERVICES Services not in force after 20 s"
for config in "${CONFIGS[@]}"; do
    code=${CFG_CODE[$config]}
    wait_listening "${SERVER_OF[$code]}" "$RR_PORT"
    wait_listening "${SERVER_OF[$code]}" "$TPUT_PORT"
    wait_listening "${SERVER_OF[$code]}" "$HTTP_PORT"
    if [ "$config" = haproxy ]; then wait_listening "${CLIENT_OF[H]}" "$PROXY_HTTP_PORT"; fi
    if [ "$config" = nginx-proxy ]; then wait_listening "${CLIENT_OF[H]}" "$NGINX_PROXY_PORT"; fi
    if [ "${CFG_RR[$config]}" != - ]; then
        [ "$(probe "$code" "${CFG_TARGET[$config]}" "${CFG_RR[$config]}")" = ok ] ||
            die "$config: tcp_rr to ${CFG_TARGET[$config]}:${CFG_RR[$config]} does not work"
    fi
    status=$(http_status "$code" "http://${CFG_TARGET[$config]}:${CFG_HTTP[$config]}/hello")
    [ "$status" = 200 ] || die "$config: GET /hello answered $status"
done
if [ "${#RULE_COUNTS[@]}" -gt 0 ]; then
    code="I${RULE_COUNTS[0]}"
    [ "$(probe "$code" "${SERVER_IP[$code]}" "$UNALLOWED_PORT")" = timeout ] ||
        die "iptables-${RULE_COUNTS[0]}: a port no rule allows is not dropped"
fi

# L7: available when GET /hello passes and anything else is refused.
L7=unavailable
if weir_wait_ready L http 25; then
    denied=$(http_status L "http://$VIP:$VIP_HTTP_PORT/not-allowed")
    if [ "$denied" != 200 ]; then
        L7=available
        config_add weir-l7 L "$VIP" - - "$VIP_HTTP_PORT" http
        note l7 "available: GET /hello answered 200, GET /not-allowed answered $denied"
    else
        note l7 "not available in this build: GET /not-allowed passed the WeirNetworkPolicy node (answered 200)"
    fi
else
    note l7 "not available in this build: with a WeirNetworkPolicy for GET /hello the server was not isolated or /hello not reachable within 5 s"
fi
echo "  [$(since_start)] L7 policy: $L7"

# Flow/HTTP events at run time (dp_config): available when turning them off stops the flow log.
DP_CONFIG="$WORK/${NODE_OF[W]}/bpf/dp_config"
FLOWS="$WORK/${NODE_OF[W]}/flows.log"
dp_config_set() { # http_visibility flow_events_off (each a u32, little endian)
    bpftool map update pinned "$DP_CONFIG" key 0 0 0 0 value "$1" 0 0 0 "$2" 0 0 0 ||
        die "write $DP_CONFIG"
}
flow_lines() { if [ -f "$FLOWS" ]; then wc -l <"$FLOWS"; else echo 0; fi; }
new_flows_logged() { # -> number of flow log lines three new connections added
    local before
    sleep 1.1 # a fresh event budget window
    before=$(flow_lines)
    in_netns "${CLIENT_OF[W]}" "$TCP_RR" crr "$VIP" "$RR_PORT" 3 >/dev/null || die "probe connections failed"
    sleep 0.3
    echo $(($(flow_lines) - before))
}
EVENTS=unavailable
if [ -e "$DP_CONFIG" ]; then
    on=$(new_flows_logged)
    dp_config_set 2 1
    off=$(new_flows_logged)
    dp_config_set 0 0
    again=$(new_flows_logged)
    if [ "$on" -gt 0 ] && [ "$off" = 0 ] && [ "$again" -gt 0 ]; then
        EVENTS=available
        config_add weir-events-off W "$VIP" "$RR_PORT" "$TPUT_PORT" "$VIP_HTTP_PORT" $ALL
        note events "available: 3 new connections logged $on flow lines with events on, $off with them off, $again on again"
    else
        note events "not available in this build: 3 new connections logged $on flow lines with events on, $off with them off (dp_config written), $again on again"
    fi
else
    note events "not available in this build: no pinned dp_config map"
fi
echo "  [$(since_start)] events off at run time: $EVENTS"
HTTP_BEFORE=$(grep -c -i 'hello' "$FLOWS" 2>/dev/null || true)
ip netns exec "${CLIENT_OF[W]}" curl -s -o /dev/null --max-time 1 "http://$VIP:$VIP_HTTP_PORT/hello" || true
sleep 0.3
HTTP_AFTER=$(grep -c -i 'hello' "$FLOWS" 2>/dev/null || true)
if [ "${HTTP_AFTER:-0}" -gt "${HTTP_BEFORE:-0}" ]; then
    note http_events "on: a GET /hello appeared in the weir node's flow log"
else
    note http_events "not seen: a GET /hello left no line in the weir node's flow log (HTTP visibility not in this build)"
fi

# ---- measuring ------------------------------------------------------------------------------

run_client() { # config output-file command...: in the node's cgroup, in the client pod, timed
    local config=$1 out=$2 code=${CFG_CODE[$1]}
    shift 2
    run_waited in_cgroup "${CGROUP_OF[$code]}" ip netns exec "${CLIENT_OF[$code]}" \
        taskset -c "$MEASURED_CPU" nice -n "$MEASURED_NICE" timeout 120 "$@" >"$out" 2>"$out.err"
}

parse_iperf3() { # iperf3 -f g output -> gbit_per_sec=X (the receiver's figure)
    awk '/receiver/ { for (i = 2; i <= NF; i++) if ($i == "Gbits/sec") rate = $(i - 1) }
        END { if (rate == "") exit 1; printf "gbit_per_sec=%.3f\n", rate }'
}

# wrk --latency output -> requests, requests/s, p50 and p99 in us. A run with an error or a
# non-2xx answer gives nothing: a refused request would count as a fast one.
parse_wrk() {
    awk 'function us(t) { if (t ~ /us$/) return t + 0; if (t ~ /ms$/) return (t + 0) * 1000
            if (t ~ /[0-9]s$/) return (t + 0) * 1000000; return "" }
        $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
        $2 == "requests" && $3 == "in" { requests = $1 }
        $1 == "Requests/sec:" { rate = $2 }
        /Non-2xx/ { bad = 1 }
        /Socket errors/ && !/connect 0, read 0, write 0, timeout 0/ { bad = 1 }
        END { if (bad || requests == "" || rate == "" || p50 == "" || p99 == "") exit 1
            printf "requests=%d requests_per_sec=%.0f p50_us=%.1f p99_us=%.1f\n", requests, rate, p50, p99 }'
}

measure() { # config round metric: one measurement, appended to RESULTS
    local config=$1 round=$2 metric=$3 code=${CFG_CODE[$1]} target=${CFG_TARGET[$1]} before \
        after line operations out="$WORK/measure.out"
    case " ${CFG_METRICS[$config]} " in *" $metric "*) ;; *) return 0 ;; esac
    if [ "$config" = weir-events-off ]; then dp_config_set 2 1; fi
    before=$(cgroup_usage_ns "${CGROUP_OF[$code]}")
    case $metric in
    rr)
        run_client "$config" "$out" "$TCP_RR" client "$target" "${CFG_RR[$config]}" "$RR_ITERATIONS" ||
            die "$config: tcp_rr failed: $(cat "$out.err")"
        line=$(cat "$out") operations=$RR_ITERATIONS
        ;;
    crr)
        # Its warm-up connections (a twentieth, at least 5) are in the CPU time too.
        run_client "$config" "$out" "$TCP_RR" crr "$target" "${CFG_RR[$config]}" "$CRR_CONNECTIONS" ||
            die "$config: tcp_rr crr failed: $(cat "$out.err")"
        line=$(cat "$out")
        operations=$((CRR_CONNECTIONS + (CRR_CONNECTIONS / 20 < 5 ? 5 : CRR_CONNECTIONS / 20)))
        ;;
    tput)
        run_client "$config" "$out" iperf3 -f g -c "$target" -p "${CFG_TPUT[$config]}" -n "$TPUT_BYTES" ||
            die "$config: iperf3 failed: $(tail -c 300 "$out") $(cat "$out.err")"
        line=$(parse_iperf3 <"$out") || die "$config: iperf3 gave no result: $(tail -5 "$out")"
        operations=0
        ;;
    http)
        run_client "$config" "$out" wrk -t1 -c"$WRK_CONNECTIONS" -d"${WRK_SECONDS}s" --latency \
            "http://$target:${CFG_HTTP[$config]}/hello" || die "$config: wrk failed: $(cat "$out.err")"
        line=$(parse_wrk <"$out") || die "$config: wrk gave no usable result: $(cat "$out")"
        operations=$(echo "$line" | sed -E 's/.*requests=([0-9]+).*/\1/')
        ;;
    esac
    after=$(cgroup_usage_ns "${CGROUP_OF[$code]}")
    if [ "$config" = weir-events-off ]; then dp_config_set 0 0; fi
    if [ "$operations" -gt 0 ] && [ -n "${CGROUP_OF[$code]}" ]; then
        line+=" cpu_us_per_op=$(awk -v ns=$((after - before)) -v n="$operations" 'BEGIN {printf "%.2f", ns / 1000 / n}')"
    fi
    echo "$config $round $metric $line" >>"$RESULTS"
    # The headline figure for the progress line.
    case $metric in
    tput) PROGRESS+=" $config ${line#gbit_per_sec=}" ;;
    http) PROGRESS+=" $config $(echo "$line" | sed -E 's/.*requests_per_sec=([0-9]+).*/\1/')" ;;
    *) PROGRESS+=" $config $(echo "$line" | sed -E 's/^p50_us=([0-9.]+).*/\1/')" ;;
    esac
}

echo "==> $ROUNDS rounds; in each, every metric over the ${#CONFIGS[@]} configurations in an" \
    "order rotated from round to round: tcp_rr $RR_ITERATIONS x 1 byte, tcp_rr crr" \
    "$CRR_CONNECTIONS, iperf3 $TPUT_BYTES bytes, wrk ${WRK_SECONDS}s x $WRK_CONNECTIONS connection(s)"
declare -A UNITS=([rr]="p50 us" [crr]="p50 us" [tput]="Gbit/s" [http]="requests/s")
for ((round = 1; round <= ROUNDS; round++)); do
    for metric in rr crr tput http; do
        PROGRESS=""
        for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
            measure "${CONFIGS[$(((k + round - 1) % ${#CONFIGS[@]}))]}" "$round" "$metric"
        done
        printf '  [%s] round %d %-4s (%s):%s\n' "$(since_start)" "$round" "$metric" \
            "${UNITS[$metric]}" "$PROGRESS"
    done
done

# ---- every round ran as its configuration says ----------------------------------------------

for config in "${CONFIGS[@]}"; do
    code=${CFG_CODE[$config]}
    for veth in "${CLIENT_VETH[$code]}" "${SERVER_VETH[$code]}"; do
        if [ "${NODE_KIND[$code]}" = weir ]; then
            veth_has_weir "${NODE_OF[$code]}" "$veth" || die "$config: weir's program is gone from $veth"
        elif in_netns "${NODE_OF[$code]}" tc qdisc show dev "$veth" | grep -q clsact; then
            die "$config: $veth has a clsact qdisc again"
        fi
    done
    node_agent_alive "${NODE_OF[$code]}" || die "$config: the node's weir-agent exited"
done
[ "$(probe W "${SERVER_IP[W]}" "$UNALLOWED_PORT")" = timeout ] || die "weir: the policy is no longer in force"
for n in "${RULE_COUNTS[@]}"; do
    hits=$(in_netns "${NODE_OF[I$n]}" "$IPT-save" -c -t filter | grep -- 'bench-allow' |
        sed -E 's/^\[([0-9]+):.*/\1/')
    [ "${hits:-0}" -gt 0 ] || die "iptables-$n: the allow rule never matched"
done
for n in "${SERVICE_COUNTS[@]}"; do
    hits=$(in_netns "${NODE_OF[K$n]}" "$IPT-save" -c -t nat |
        grep -- "--to-destination ${SERVER_IP[K$n]}:$RR_PORT" | sed -E 's/^\[([0-9]+):.*/\1/')
    [ "${hits:-0}" -gt 0 ] || die "kube-proxy-$n: the measured Service's DNAT rule never matched"
done
if [ -x "$WEIRCTL" ]; then
    "$WEIRCTL" --bpffs "$WORK/${NODE_OF[W]}/bpf" counters >"$WORK/counters" 2>/dev/null &&
        note weir_counters "$(awk '$2 > 0 {printf "%s %s, ", $1, $2}' "$WORK/counters" | sed 's/, $//')"
fi

ELAPSED=$((($(date +%s%N) - STARTED_NS) / 1000000000))
{
    echo "rounds=$ROUNDS"
    echo "rr_iterations=$RR_ITERATIONS"
    echo "crr_connections=$CRR_CONNECTIONS"
    echo "wrk_seconds=$WRK_SECONDS"
    echo "tput_bytes=$TPUT_BYTES"
    echo "wrk_connections=$WRK_CONNECTIONS"
    echo "iptables=$IPT"
    echo "measured_cpu=$MEASURED_CPU"
    echo "agent_cpu=$AGENT_CPU"
    echo "cpu_accounting=$([ -n "${CGROUP_OF[P]}" ] && echo cpuacct || echo none)"
    echo "configs=${CONFIGS[*]}"
    echo "elapsed_s=$ELAPSED"
} >>"$NOTES"
python3 "$HERE/analyze.py" "$RESULTS" "$NOTES"
echo "compare: run time $ELAPSED s"
