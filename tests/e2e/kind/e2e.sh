#!/bin/bash
# `make kind-e2e`: judges weir on the running kind cluster (make kind-up) with
#   weir-scenarios   weir's own kubectl scenarios (tests/e2e/kind/scenarios.sh)
#   netpol           the upstream NetworkPolicy suite ("[sig-network] Netpol", "Netpol API")
#   conformance      the sig-network [Conformance] tests of Services, EndpointSlices, DNS, HostPort
# from the e2e.test binary of the cluster's Kubernetes release and its test images, all built
# here without a registry (scripts/kind/build-e2e.sh, scripts/kind/build-test-images.sh).
# WEIR_KIND_SUITE=full (default) runs all of them and writes tests/e2e/kind/RESULTS.md;
# WEIR_KIND_SUITE=ci runs every scenario and a named subset of each upstream suite (the one
# `make test` runs, sized for CI's 90 minutes with the offline builds) and writes its RESULTS.md
# into the run folder. Without a Docker engine it prints one SKIP line and succeeds; with one but
# no cluster it fails, naming `make kind-up`. For one test or suite by hand: WEIR_KIND_ONLY (some
# of "scenarios netpol conformance", or scenarios-steady / scenarios-disruptive), WEIR_KIND_FOCUS (replaces the upstream suites' focus) and
# WEIR_KIND_E2E_ARGS (more e2e.test flags); such runs keep RESULTS.md in their run folder, and
# several of them may share one WEIR_KIND_RUN_DIR (a scenario's latest line counts). Ends with "kind-e2e: N passed, N failed" (the line
# tests/run.sh sums); non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../../.."

CLUSTER=${KIND_CLUSTER_NAME:-weir}
CONTEXT=kind-$CLUSTER
SUITE=${WEIR_KIND_SUITE:-full}
KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.33.13}
WEIR_KIND_CACHE=${WEIR_KIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir-kind}
RUN_DIR=${WEIR_KIND_RUN_DIR:-$WEIR_KIND_CACHE/runs/$(date -u +%Y%m%dT%H%M%SZ)-$SUITE}
PROCS=${WEIR_KIND_PROCS:-4}
export KUBERNETES_VERSION WEIR_KIND_CACHE

say() { echo "kind-e2e: $*"; }
die() { echo "kind-e2e: FAILED: $*" >&2; echo "kind-e2e: 0 passed, 1 failed"; exit 1; }

case "$SUITE" in full | ci) ;; *) die "WEIR_KIND_SUITE=$SUITE: must be full or ci" ;; esac
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    echo "SKIP: kind-e2e: no Docker engine answers (docker info); the same scenarios run in network namespaces in tests/e2e"
    exit 0
fi
nodes=$(docker ps --filter "label=io.x-k8s.kind.cluster=$CLUSTER" --format '{{.Names}}' | sort)
[ -n "$nodes" ] || die "no running kind cluster '$CLUSTER' (docker ps shows none of its nodes): run make kind-up first"

# The cluster's own kubectl release when scripts/kind built one, else the one on PATH.
KUBECTL=$(ls "$WEIR_KIND_CACHE/kubernetes-$KUBERNETES_VERSION/kubectl" 2>/dev/null || command -v kubectl || true)
[ -n "$KUBECTL" ] || die "no kubectl: neither $WEIR_KIND_CACHE/kubernetes-$KUBERNETES_VERSION/kubectl nor one on PATH"
KIND=$(command -v kind || ls "$WEIR_KIND_CACHE"/bin/kind "$WEIR_KIND_CACHE"/kind-*/kind 2>/dev/null | head -1 || true)
mkdir -p "$RUN_DIR"
KUBECONFIG_FILE=$RUN_DIR/kubeconfig
if ! "$KUBECTL" config view --raw --minify --flatten --context "$CONTEXT" >"$KUBECONFIG_FILE" 2>/dev/null; then
    [ -n "$KIND" ] || die "no kubeconfig context $CONTEXT and no kind binary to ask for one"
    "$KIND" get kubeconfig --name "$CLUSTER" >"$KUBECONFIG_FILE" || die "kind get kubeconfig --name $CLUSTER"
fi
export KUBECONFIG=$KUBECONFIG_FILE KUBECTL CONTEXT RUN_DIR
"$KUBECTL" --context "$CONTEXT" get nodes >/dev/null 2>&1 || die "the API server of $CONTEXT does not answer (kubectl get nodes)"
say "cluster $CLUSTER ($(echo $nodes)), suite set $SUITE, results in $RUN_DIR"

started=$(date +%s)
built=$(scripts/kind/build-e2e.sh) || die "building e2e.test (scripts/kind/build-e2e.sh)"
E2E_TEST=$(echo "$built" | sed -n 1p)
GINKGO=$(echo "$built" | sed -n 2p)
scripts/kind/build-test-images.sh >"$RUN_DIR/images.txt" || die "building the test images (scripts/kind/build-test-images.sh)"
say "e2e.test, ginkgo and the test images ready in $(($(date +%s) - started)) s"

# The images into every node, unless the node has that image already (kind load checks).
[ -n "$KIND" ] || die "no kind binary (PATH, $WEIR_KIND_CACHE/bin/kind) to load the test images with"
# kind loads with `docker exec --privileged`, which fails where this host's capability bounding
# set lacks one Docker grants: then kind goes through scripts/kind/docker-shim, as in kind.sh up.
if ! docker exec --privileged "$(echo "$nodes" | head -1)" true >/dev/null 2>&1; then
    [ -x scripts/kind/docker-shim/docker ] || die "docker exec --privileged fails here and scripts/kind/docker-shim is missing"
    WEIR_REAL_DOCKER=$(command -v docker)
    export WEIR_REAL_DOCKER PATH="$PWD/scripts/kind/docker-shim:$PATH"
fi
while read -r image; do
    [ -n "$image" ] || continue
    "$KIND" load docker-image --name "$CLUSTER" "$image" >"$RUN_DIR/load.log" 2>&1 ||
        die "kind load docker-image $image: $(tail -2 "$RUN_DIR/load.log")"
done <"$RUN_DIR/images.txt"

# Names for ginkgo's --focus: every character regex-special is escaped.
names_regex() { sed -e 's/[][\\.*^$()+?{}|]/\\&/g' | paste -sd'|'; }

NETPOL_FOCUS='\[sig-network\] Netpol'
CONFORMANCE_FOCUS='\[sig-network\] (Services|EndpointSlice|EndpointSliceMirroring|DNS|HostPort) .*\[Conformance\]'
if [ "$SUITE" = ci ]; then
    # One test per kind of rule: isolation both ways, pod and namespace selectors, ports (by
    # number and name), egress, ipBlock with except, updates of pods, UDP.
    NETPOL_FOCUS='\[sig-network\] Netpol .*('$(names_regex <<'NAMES'
should support a 'default-deny-all' policy
should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector
should enforce policy based on PodSelector and NamespaceSelector
should enforce policy based on Ports
should allow ingress access on one named port
should deny egress from pods based on PodSelector
should enforce except clause while egress access to server in CIDR block
should deny ingress access to updated pod
NAMES
)')'
    NETPOL_FOCUS="$NETPOL_FOCUS"'|\[sig-network\] Netpol \[LinuxOnly\] NetworkPolicy between server and client using UDP should support a .default-deny-ingress. policy'
    CONFORMANCE_FOCUS='\[sig-network\] (Services|EndpointSlice|DNS|HostPort) ('$(names_regex <<'NAMES'
should serve a basic endpoint from pods
should be able to create a functioning NodePort service
should create Endpoints and EndpointSlices for Pods matching a Service
should provide DNS for services
validates that there is no conflict between pods with same hostPort but different hostIP and protocol
NAMES
)').*\[Conformance\]'
fi
if [ -n "${WEIR_KIND_FOCUS:-}" ]; then
    NETPOL_FOCUS=$WEIR_KIND_FOCUS
    CONFORMANCE_FOCUS=$WEIR_KIND_FOCUS
fi
ONLY=" ${WEIR_KIND_ONLY:-scenarios netpol conformance} "
SKIP=$(awk -F'\t' '$1 == "skip" { print $2 }' tests/e2e/kind/expectations.tsv | paste -sd'|')

{
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "suite=$SUITE"
    echo "kubernetes=$("$KUBECTL" --context "$CONTEXT" version -o json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') / $("$E2E_TEST" --version 2>/dev/null | head -1 | awk '{print $NF}')"
    echo "nodes=$(echo $nodes)"
    # What runs on the nodes is the image kind-up loaded, which need not be this checkout.
    echo "weir=image $("$KUBECTL" --context "$CONTEXT" -n kube-system get pods -l app=weir-agent \
        -o jsonpath='{.items[0].status.containerStatuses[0].image} {.items[0].status.containerStatuses[0].imageID}' 2>/dev/null | cut -c1-60); tests from $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "procs=$PROCS"
} >"$RUN_DIR/run.env"

# run_upstream NAME FOCUS TIMEOUT: e2e.test under ginkgo, PROCS in parallel, junit to NAME.xml.
run_upstream() {
    local name=$1 focus=$2 timeout=$3 begun=$(date +%s)
    printf '%s\n' "$focus" >"$RUN_DIR/$name.focus"
    say "upstream $name: running (log: $RUN_DIR/$name.log)"
    "$GINKGO" --procs="$PROCS" --timeout="$timeout" --no-color --silence-skips \
        --focus="$focus" --skip="$SKIP" --output-dir="$RUN_DIR" --junit-report="$name.xml" \
        "$E2E_TEST" -- --provider=skeleton --kubeconfig="$KUBECONFIG_FILE" --kubectl-path="$KUBECTL" \
        --report-dir="$RUN_DIR/$name-artifacts" --dump-logs-on-failure=false \
        --allowed-not-ready-nodes=0 --minStartupPods=0 ${WEIR_KIND_E2E_ARGS:-} >"$RUN_DIR/$name.log" 2>&1
    echo "$(($(date +%s) - begun))" >"$RUN_DIR/$name.seconds"
    say "upstream $name: done in $(cat "$RUN_DIR/$name.seconds") s ($(grep -Eo 'Ran [0-9]+ of [0-9]+ Specs.*' "$RUN_DIR/$name.log" | tail -1; grep -Eo '[0-9]+ Passed \| [0-9]+ Failed.*' "$RUN_DIR/$name.log" | tail -1))"
}

. tests/e2e/kind/scenarios.sh
if [[ "$ONLY" == *" scenarios "* || "$ONLY" == *" scenarios-steady "* ]]; then
    say "weir scenarios"
    # shellcheck disable=SC2086
    run_scenarios $SCENARIOS_STEADY
fi
timeout_netpol=4h timeout_conformance=2h
[ "$SUITE" = ci ] && timeout_netpol=40m timeout_conformance=20m
[[ "$ONLY" != *" netpol "* ]] || run_upstream netpol "$NETPOL_FOCUS" "$timeout_netpol"
[[ "$ONLY" != *" conformance "* ]] || run_upstream conformance "$CONFORMANCE_FOCUS" "$timeout_conformance"
if [[ "$ONLY" == *" scenarios "* || "$ONLY" == *" scenarios-disruptive "* ]]; then
    # Last: they take agents and a whole node away from everything else.
    say "weir scenarios that restart the agents and a worker"
    # shellcheck disable=SC2086
    run_scenarios $SCENARIOS_DISRUPTIVE
fi

results=$RUN_DIR/RESULTS.md
[ "$SUITE" = full ] && [ -z "${WEIR_KIND_ONLY:-}${WEIR_KIND_FOCUS:-}${WEIR_KIND_E2E_ARGS:-}" ] &&
    results=tests/e2e/kind/RESULTS.md
python3 tests/e2e/kind/results.py "$RUN_DIR" tests/e2e/kind/expectations.tsv "$results" >"$RUN_DIR/summary"
status=$?
say "results in $results (run folder $RUN_DIR, $(($(date +%s) - started)) s in all)"
echo "kind-e2e: $(cat "$RUN_DIR/summary")"
exit "$status"
