#!/bin/bash
# `make kind-up` and `make kind-e2e`: a real kind cluster with weir. They need docker (with a
# running engine) and kind; without them they print SKIP and succeed, so `make test` goes on.
set -euo pipefail
cd "$(dirname "$0")/../../.."

CLUSTER=weir
IMAGE=weir:dev

skip_unless_available() {
    if ! command -v kind >/dev/null 2>&1; then
        echo "SKIP: kind is not installed (https://kind.sigs.k8s.io); the same scenarios run in network namespaces under make test"
        exit 0
    fi
    if ! docker info >/dev/null 2>&1; then
        echo "SKIP: no Docker engine is running; the same scenarios run in network namespaces under make test"
        exit 0
    fi
}

kind_up() {
    skip_unless_available
    kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --config kind-config.yaml
    docker build -t "$IMAGE" .
    kind load docker-image "$IMAGE" --name "$CLUSTER"
    kubectl --context "kind-$CLUSTER" apply -f manifests/weirnetworkpolicy-crd.yaml
    kubectl --context "kind-$CLUSTER" apply -f manifests/weir.yaml
    kubectl --context "kind-$CLUSTER" -n kube-system rollout status daemonset/weir-agent --timeout=180s
    kubectl --context "kind-$CLUSTER" wait --for=condition=Ready nodes --all --timeout=180s
    kubectl --context "kind-$CLUSTER" -n kube-system rollout status deployment/coredns --timeout=180s
    echo "weir is running on kind cluster $CLUSTER"
}

kind_e2e() {
    skip_unless_available
    local context="kind-$CLUSTER" failed=0 passed=0
    # The upstream layout: namespaces x, y, z with pods a, b, c serving TCP 80.
    for ns in x y z; do
        kubectl --context "$context" create namespace "$ns" --dry-run=client -o yaml | kubectl --context "$context" apply -f -
        kubectl --context "$context" label namespace "$ns" "ns=$ns" --overwrite
        for pod in a b c; do
            kubectl --context "$context" -n "$ns" run "$pod" --image=registry.k8s.io/e2e-test-images/agnhost:2.45 \
                --labels "pod=$pod" --port 80 --command -- /agnhost netexec --http-port=80 \
                --dry-run=client -o yaml | kubectl --context "$context" apply -f -
        done
    done
    kubectl --context "$context" wait --for=condition=Ready pods --all -n x --timeout=180s
    probe() { # from-ns from-pod to-ns to-pod
        local ip
        ip=$(kubectl --context "$context" -n "$3" get pod "$4" -o jsonpath='{.status.podIP}')
        kubectl --context "$context" -n "$1" exec "$2" -- /agnhost connect "$ip:80" --timeout=2s >/dev/null 2>&1
    }
    expect() { # want from-ns from-pod to-ns to-pod
        if probe "$2" "$3" "$4" "$5"; then got=ok; else got=denied; fi
        if [ "$got" = "$1" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "not ok: $2/$3 -> $4/$5: $got, want $1"; fi
    }
    expect ok x a y b
    kubectl --context "$context" -n y apply -f - <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}}
YAML
    sleep 2
    expect denied x a y b
    expect ok y a x b
    kubectl --context "$context" -n y delete networkpolicy deny-all
    echo "kind-e2e: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

case "${1:-}" in
up) kind_up ;;
e2e) kind_e2e ;;
*) echo "usage: $0 up|e2e" >&2; exit 2 ;;
esac
