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

case "${1:-}" in
up) kind_up ;;
e2e) exec ./tests/e2e/kind/e2e.sh ;; # its own SKIP line without Docker
*) echo "usage: $0 up|e2e" >&2; exit 2 ;;
esac
