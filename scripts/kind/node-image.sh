#!/bin/bash
# The kind node image for the offline cluster, from the Debian base image and the Go binaries
# of go-binaries.sh:
#   1. the images kubeadm runs (`kubeadm config images list`): kube-apiserver,
#      kube-controller-manager, kube-scheduler, etcd, coredns and pause, tagged as kubeadm
#      names them (registry.k8s.io/...), built FROM the base image (pause FROM scratch);
#   2. the node image itself (scripts/kind/node-image/Dockerfile);
#   3. those images put into the node's containerd store (content only, unpacked on first use),
#      so neither kubeadm nor the kubelet ever pulls.
# Every image carries the hash of its recipe (label weir.recipe) and is rebuilt only when that
# changes. Prints the node image's name on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NODE_IMAGE="${WEIR_KIND_OFFLINE_NODE_IMAGE:-weir.local/kind-node:$KUBERNETES_VERSION}"
k8s_bin="$WEIR_KIND_CACHE/kubernetes-$KUBERNETES_VERSION"
base_id="$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null)" || die "no base image $BASE_IMAGE (scripts/kind/base-image.sh)"

# binary_image TAG DOCKERFILE FILE...: an image holding FILEs (copied to the build context's
# root), built when its recipe (base image, Dockerfile, the files' contents) changed.
binary_image() {
    local tag="$1" dockerfile="$2" recipe context file
    shift 2
    recipe="$(recipe_hash "$base_id" "$dockerfile" "$(sha256sum "$@")")" || die "$tag needs $*"
    if image_is_current "$tag" "$recipe"; then
        log "image $tag is current"
        return 0
    fi
    context="$(mktemp -d "$WEIR_KIND_CACHE/context.XXXXXX")"
    for file in "$@"; do
        [ -f "$file" ] || { rm -rf "$context"; die "$tag needs $file, which is not built"; }
        cp "$file" "$context/"
    done
    printf '%s\nLABEL weir.recipe=%s\n' "$dockerfile" "$recipe" >"$context/Dockerfile"
    if ! docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$tag" "$context" >"$context.log" 2>&1; then
        tail -20 "$context.log" >&2
        rm -rf "$context" "$context.log"
        die "docker build of $tag"
    fi
    rm -f "$context.log"
    rm -rf "$context"
    log "built image $tag"
}

component_images() {
    local component pause_dir="$WEIR_KIND_CACHE/pause-3.10"
    for component in kube-apiserver kube-controller-manager kube-scheduler; do
        binary_image "registry.k8s.io/$component:$KUBERNETES_VERSION" \
            "$(printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY %s /usr/local/bin/%s' "$component" "$component")" \
            "$k8s_bin/$component"
    done
    binary_image "registry.k8s.io/etcd:$ETCD_VERSION-0" \
        "$(printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY etcd /usr/local/bin/etcd')" \
        "$WEIR_KIND_CACHE/etcd-$ETCD_VERSION/etcd"
    binary_image "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" \
        "$(printf 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY coredns /coredns\nEXPOSE 53 53/udp\nENTRYPOINT ["/coredns"]')" \
        "$WEIR_KIND_CACHE/coredns-$COREDNS_VERSION/coredns"
    mkdir -p "$pause_dir"
    if [ ! -x "$pause_dir/pause" ] || [ "$KIND_SCRIPTS/images/pause.c" -nt "$pause_dir/pause" ]; then
        command -v gcc >/dev/null 2>&1 || die "gcc is not installed (needed for the pause image)"
        gcc -std=c11 -O2 -Wall -Wextra -Werror -static -o "$pause_dir/pause" "$KIND_SCRIPTS/images/pause.c" ||
            die "compile $KIND_SCRIPTS/images/pause.c statically (libc6-dev)"
    fi
    binary_image "registry.k8s.io/pause:3.10" \
        "$(printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]')" \
        "$pause_dir/pause"
}

component_tags() {
    echo "registry.k8s.io/kube-apiserver:$KUBERNETES_VERSION registry.k8s.io/kube-controller-manager:$KUBERNETES_VERSION" \
        "registry.k8s.io/kube-scheduler:$KUBERNETES_VERSION registry.k8s.io/etcd:$ETCD_VERSION-0" \
        "registry.k8s.io/coredns/coredns:$COREDNS_VERSION registry.k8s.io/pause:3.10"
}

check_kubeadm_image_list() {
    # kubeadm is the judge of which images it runs; the list above must match it.
    local wanted missing="" image
    wanted="$("$k8s_bin/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null)" ||
        die "kubeadm config images list --kubernetes-version $KUBERNETES_VERSION"
    for image in $wanted; do
        case "$image" in */kube-proxy:*) continue ;; esac # kube-proxy is off (kubeProxyMode: none)
        case " $(component_tags) " in *" $image "*) ;; *) missing="$missing $image" ;; esac
    done
    [ -z "$missing" ] || die "kubeadm $KUBERNETES_VERSION wants images this script does not build:$missing"
}

node_image() {
    local context recipe stage1="$NODE_IMAGE-stage1" tags ids archive builder
    tags="$(component_tags)"
    # shellcheck disable=SC2086
    ids="$(docker image inspect -f '{{.Id}}' $tags)" || die "component images missing"
    recipe="$(recipe_hash "$base_id" "$ids" "$KIND_SCRIPTS/node-image/Dockerfile" "$0" \
        $(find "$KIND_SCRIPTS/node-image/files" -type f | sort) \
        "$(cat "$k8s_bin/.recipe" "$WEIR_KIND_CACHE"/{cri-tools-$CRICTL_VERSION,containerd-$CONTAINERD_VERSION,cni-plugins-$CNI_PLUGINS_VERSION}/.recipe)")"
    if image_is_current "$NODE_IMAGE" "$recipe"; then
        log "node image $NODE_IMAGE is current"
        return 0
    fi
    context="$WEIR_KIND_CACHE/node-image-context"
    rm -rf "$context"
    mkdir -p "$context/bin" "$context/kubernetes" "$context/cni"
    cp -r "$KIND_SCRIPTS/node-image/Dockerfile" "$KIND_SCRIPTS/node-image/files" "$context/"
    cp "$k8s_bin"/{kubeadm,kubelet,kubectl} "$context/kubernetes/"
    cp "$WEIR_KIND_CACHE/containerd-$CONTAINERD_VERSION"/{containerd,ctr,containerd-shim-runc-v2} \
        "$WEIR_KIND_CACHE/cri-tools-$CRICTL_VERSION/crictl" "$context/bin/"
    cp "$WEIR_KIND_CACHE/cni-plugins-$CNI_PLUGINS_VERSION"/{loopback,host-local,portmap,ptp,bridge} "$context/cni/"
    echo "$KUBERNETES_VERSION" >"$context/files/kind/version"
    docker build --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$stage1" "$context" >"$WEIR_KIND_CACHE/node-image-build.log" 2>&1 ||
        { tail -20 "$WEIR_KIND_CACHE/node-image-build.log" >&2; die "docker build of the node image; see $WEIR_KIND_CACHE/node-image-build.log"; }
    rm -rf "$context"

    # containerd in a throwaway container of the image takes the component images into its
    # store (content only: the snapshotter that fits is chosen per node at boot); the
    # container is then committed as the node image.
    archive="$WEIR_KIND_CACHE/component-images.tar"
    # shellcheck disable=SC2086
    docker save -o "$archive" $tags || die "docker save of the component images"
    builder="weir-kind-node-build-$$"
    docker rm -f "$builder" >/dev/null 2>&1 || true
    docker run -d --name "$builder" --tmpfs /run --tmpfs /tmp -v "$archive:/images.tar:ro" \
        --entrypoint /usr/local/bin/containerd "$stage1" >/dev/null || die "start containerd in $stage1"
    local imported=0
    for _ in $(seq 1 30); do
        if docker exec "$builder" ctr version >/dev/null 2>&1; then
            docker exec "$builder" ctr --namespace=k8s.io images import --no-unpack --all-platforms --digests \
                --label=io.cri-containerd.pinned=pinned /images.tar >/dev/null && imported=1
            break
        fi
        sleep 1
    done
    if [ "$imported" -ne 1 ]; then
        docker logs "$builder" 2>&1 | tail -20 >&2
        docker rm -f "$builder" >/dev/null
        die "import of the component images into the node image's containerd"
    fi
    docker exec "$builder" ctr --namespace=k8s.io images list -q | grep -v '^sha256:' >&2
    docker stop -t 30 "$builder" >/dev/null
    docker commit \
        --change 'ENTRYPOINT ["/usr/local/bin/weir-node-entrypoint", "/sbin/init"]' \
        --change 'CMD []' \
        --change "LABEL weir.recipe=$recipe" \
        "$builder" "$NODE_IMAGE" >/dev/null || die "docker commit of the node image"
    docker rm "$builder" >/dev/null
    docker rmi "$stage1" >/dev/null 2>&1 || true
    rm -f "$archive"
    log "built node image $NODE_IMAGE ($recipe)"
}

step "images: kubeadm's list" check_kubeadm_image_list
step "images: control plane, etcd, coredns, pause" component_images
step "image: kind node" node_image
echo "$NODE_IMAGE"
