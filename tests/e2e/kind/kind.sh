#!/bin/bash
# `make kind-up` and `make kind-e2e`: a real kind cluster (kind-config.yaml: cluster weir,
# context kind-weir) running weir.
#
# kind-up builds everything offline unless told otherwise: kind and the Kubernetes binaries
# from the Go module proxy, a Debian 12 base image with debootstrap from the configured apt
# mirror, the control-plane images and a kind node image (scripts/kind/), then weir's image on
# that base. WEIR_KIND_NODE_IMAGE=kindest/node:v1.33.x (or any node image) uses that image
# instead, where a registry serves it. Builds are cached in $WEIR_KIND_CACHE
# (~/.cache/weir-kind) and Go's caches, so a second run takes minutes.
set -euo pipefail
cd "$(dirname "$0")/../../.."
. scripts/kind/lib.sh

CLUSTER=weir
CONTEXT="kind-$CLUSTER"
IMAGE=weir:dev
KIND="${KIND:-$WEIR_KIND_CACHE/kind-$KIND_VERSION/kind}"
KUBECTL="${KUBECTL:-$WEIR_KIND_CACHE/kubernetes-$KUBERNETES_VERSION/kubectl}"

# What kind-up cannot do without: each missing piece is named, and kind-up fails.
require_tools() {
    local missing=""
    command -v docker >/dev/null 2>&1 || missing="$missing; the docker command (Debian: docker.io)"
    if [ -z "$missing" ] && ! docker info >/dev/null 2>&1; then
        missing="$missing; a running Docker engine reachable by this user (docker info fails)"
    fi
    if [ -z "${WEIR_KIND_NODE_IMAGE:-}" ] || [ ! -x "$KIND" ] || [ ! -x "$KUBECTL" ]; then
        command -v go >/dev/null 2>&1 || missing="$missing; go with the Go module proxy (Debian: golang-go), to build kind and Kubernetes"
    fi
    if [ -z "${WEIR_KIND_NODE_IMAGE:-}" ]; then
        command -v debootstrap >/dev/null 2>&1 || missing="$missing; debootstrap (apt-get install debootstrap), for the Debian base image"
        command -v gcc >/dev/null 2>&1 || missing="$missing; gcc with libc6-dev, for the pause image"
    fi
    if [ -n "$missing" ]; then
        echo "kind-up: FAILED: missing${missing#;}" >&2
        exit 1
    fi
}

# kind always asks docker for --privileged, which fails where the host's capability bounding
# set lacks one Docker grants; then kind runs through scripts/kind/docker-shim.
docker_for_kind() {
    local probe_image="$1"
    if docker run --rm --privileged --entrypoint /bin/true "$probe_image" >/dev/null 2>&1; then
        return 0
    fi
    log "privileged containers fail on this host (its capability bounding set lacks one Docker" \
        "grants): kind runs through scripts/kind/docker-shim"
    export WEIR_REAL_DOCKER
    WEIR_REAL_DOCKER="$(command -v docker)"
    export PATH="$PWD/scripts/kind/docker-shim:$PATH"
}

node_image_offline() {
    # debootstrap waits on the mirror, the Go builds on the CPU: they run side by side.
    local base_pid base_rc=0 go_rc=0
    step "base image $BASE_IMAGE" scripts/kind/base-image.sh &
    base_pid=$!
    step "Go programs (kind, Kubernetes $KUBERNETES_VERSION, etcd, coredns, containerd, crictl, CNI plugins)" \
        scripts/kind/go-binaries.sh || go_rc=$?
    wait "$base_pid" || base_rc=$?
    if [ "$base_rc" -ne 0 ] || [ "$go_rc" -ne 0 ]; then
        echo "kind-up: FAILED building the node image's parts (see the FAILED step above); no cluster was made" >&2
        exit 1
    fi
    NODE_IMAGE="$(scripts/kind/node-image.sh)" ||
        { echo "kind-up: FAILED building the node image (see above); no cluster was made" >&2; exit 1; }
}

cluster_is_healthy() {
    "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER" &&
        "$KUBECTL" --context "$CONTEXT" get nodes >/dev/null 2>&1
}

create_cluster() {
    if cluster_is_healthy; then
        log "cluster $CLUSTER exists and answers; kept (remove it with: $KIND delete cluster --name $CLUSTER)"
        return 0
    fi
    if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
        log "cluster $CLUSTER exists but its API server does not answer: deleting it"
        "$KIND" delete cluster --name "$CLUSTER"
    fi
    # kind removes the node containers itself when creation fails.
    "$KIND" create cluster --name "$CLUSTER" --config kind-config.yaml --image "$NODE_IMAGE" --wait 0s
}

build_weir_image() {
    # With a registry's node image, weir's image starts from the registry's Debian unless
    # WEIR_BASE_IMAGE names another.
    local base="$BASE_IMAGE"
    [ -n "${WEIR_KIND_NODE_IMAGE:-}" ] && base="${WEIR_BASE_IMAGE:-debian:12}"
    docker build -q --build-arg "BASE_IMAGE=$base" -t "$IMAGE" . >/dev/null 2>"$WEIR_KIND_CACHE/weir-image-build.log" ||
        { tail -20 "$WEIR_KIND_CACHE/weir-image-build.log" >&2; return 1; }
}

install_weir() {
    local mtu image_id
    "$KUBECTL" --context "$CONTEXT" apply -f manifests/weirnetworkpolicy-crd.yaml
    # Pods get the MTU of the nodes' link (Docker's network may be below 1500).
    mtu="$(docker exec "$CLUSTER-control-plane" cat /sys/class/net/eth0/mtu)"
    sed "s/^\(  mtu: \).*/\1\"$mtu\"/" manifests/weir.yaml | "$KUBECTL" --context "$CONTEXT" apply -f -
    # A rebuilt weir:dev keeps its tag: the image ID in the pod template rolls the agents onto
    # it (and changes nothing when the image is the same).
    image_id="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
    "$KUBECTL" --context "$CONTEXT" -n kube-system patch daemonset weir-agent --type merge \
        -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"weir.dev/image-id\":\"$image_id\"}}}}}"
    "$KUBECTL" --context "$CONTEXT" -n kube-system rollout status daemonset/weir-agent --timeout=300s
}

wait_for_cluster() {
    "$KUBECTL" --context "$CONTEXT" wait --for=condition=Ready nodes --all --timeout=300s
    "$KUBECTL" --context "$CONTEXT" -n kube-system rollout status deployment/coredns --timeout=300s
}

# A pod of weir's image (Debian: getent) resolves the API server's Service name through CoreDNS.
check_dns() {
    local pod=weir-dns-check answer=""
    "$KUBECTL" --context "$CONTEXT" -n default delete pod "$pod" --ignore-not-found >/dev/null
    "$KUBECTL" --context "$CONTEXT" -n default run "$pod" --image="$IMAGE" --image-pull-policy=Never \
        --restart=Never --command -- getent hosts kubernetes.default.svc.cluster.local >/dev/null
    for _ in $(seq 1 60); do
        case "$("$KUBECTL" --context "$CONTEXT" -n default get pod "$pod" -o jsonpath='{.status.phase}')" in
        Succeeded) answer="$("$KUBECTL" --context "$CONTEXT" -n default logs "$pod")"; break ;;
        Failed) break ;;
        esac
        sleep 2
    done
    "$KUBECTL" --context "$CONTEXT" -n default delete pod "$pod" --wait=false >/dev/null
    local want
    want="$("$KUBECTL" --context "$CONTEXT" -n default get service kubernetes -o jsonpath='{.spec.clusterIP}')"
    if [ "${answer%% *}" != "$want" ]; then
        echo "kind-up: CoreDNS did not answer kubernetes.default.svc.cluster.local with $want (got: '${answer:-nothing}')" >&2
        return 1
    fi
    log "CoreDNS answers: $answer"
}

kind_up() {
    local started failed_step=""
    started=$(date +%s)
    require_tools
    if [ -n "${WEIR_KIND_NODE_IMAGE:-}" ]; then
        NODE_IMAGE="$WEIR_KIND_NODE_IMAGE"
        [ -x "$KIND" ] || step "Go program kind $KIND_VERSION" scripts/kind/go-binaries.sh kind
        [ -x "$KUBECTL" ] || KUBECTL="$(command -v kubectl || true)"
        [ -x "$KUBECTL" ] || step "Go programs Kubernetes $KUBERNETES_VERSION (kubectl)" scripts/kind/go-binaries.sh kubernetes
        docker image inspect "$NODE_IMAGE" >/dev/null 2>&1 || docker pull "$NODE_IMAGE"
    else
        node_image_offline
    fi
    docker_for_kind "$NODE_IMAGE"
    # Each phase runs in a subshell with errexit on (a function called under `if` would run
    # with errexit off and go on after a failing command).
    for phase in create_cluster build_weir_image load_weir_image install_weir wait_for_cluster check_dns; do
        if ! step "$phase" bash -c "set -euo pipefail; $(declare -f); $(declare -p KIND KUBECTL CLUSTER CONTEXT IMAGE NODE_IMAGE BASE_IMAGE WEIR_KIND_CACHE); $phase"; then
            failed_step="$phase"
            break
        fi
    done
    if [ -n "$failed_step" ]; then
        echo "kind-up: FAILED at step $failed_step." >&2
        if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
            echo "kind-up: the cluster is left for inspection; remove it with: $KIND delete cluster --name $CLUSTER" >&2
        fi
        exit 1
    fi
    echo "weir is running on kind cluster $CLUSTER (context $CONTEXT, kubectl: $KUBECTL) after $(($(date +%s) - started))s"
}

load_weir_image() {
    "$KIND" load docker-image "$IMAGE" --name "$CLUSTER"
}

case "${1:-}" in
up) kind_up ;;
e2e) exec ./tests/e2e/kind/e2e.sh ;; # its own SKIP line without Docker
*) echo "usage: $0 up|e2e" >&2; exit 2 ;;
esac
