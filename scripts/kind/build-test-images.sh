#!/bin/bash
# The images the upstream e2e suites run (kind-e2e), built here with no registry, under the exact
# names and tags e2e.test asks for (test/utils/image/manifest.go of the same release), so no
# KUBE_TEST_REPO_LIST is needed and the nodes find them already present (IfNotPresent):
#   registry.k8s.io/e2e-test-images/agnhost:2.53          agnhost from k8s.io/kubernetes/test/images/agnhost
#   registry.k8s.io/e2e-test-images/jessie-dnsutils:1.7   dig, getent (the DNS probers)
#   registry.k8s.io/e2e-test-images/busybox:1.36.1-1      Debian's busybox-static applets
#   registry.k8s.io/e2e-test-images/nginx:1.14-4          Debian's nginx-light on port 80
# All start from weir.local/debian:12 (scripts/kind/base-image.sh) plus one layer of Debian
# packages, installed in a chroot of that image's tree (apt uses this machine's mirror and
# network, as the base image does) and imported as weir.local/e2e-tools:12. agnhost is built
# from the Go module proxy by scripts/kind/go-module-build.sh. Each image carries the hash of its
# recipe and is rebuilt only when that changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

TOOLS_IMAGE=weir.local/e2e-tools:12
E2E_REGISTRY=registry.k8s.io/e2e-test-images
# Debian packages standing in for what the upstream images carry (their Alpine/Debian bases).
TOOLS_PACKAGES="bash bind9-dnsutils curl netcat-openbsd iproute2 iperf iputils-ping procps busybox-static nginx-light"

# The tag manifest.go gives an image, read from the module cache of the Kubernetes release.
kubernetes_source() {
    go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}
manifest_tag() { # source-dir image-name
    local tag
    tag=$(sed -n "s/.*configs\[[A-Za-z]*\] = Config{list.PromoterE2eRegistry, \"$2\", \"\([^\"]*\)\"}.*/\1/p" \
        "$1/test/utils/image/manifest.go" | head -1)
    [ -n "$tag" ] || die "no tag for $2 in $1/test/utils/image/manifest.go"
    echo "$tag"
}

build_tools_image() {
    local recipe rootfs container
    recipe=$(recipe_hash "$0" "$TOOLS_PACKAGES" "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")")
    if image_is_current "$TOOLS_IMAGE" "$recipe"; then
        log "$TOOLS_IMAGE is current ($recipe)"
        return
    fi
    [ "$(id -u)" -eq 0 ] || die "installing packages into a chroot of $BASE_IMAGE needs root"
    rootfs="$WEIR_KIND_CACHE/e2e-tools-rootfs"
    umount "$rootfs/proc" 2>/dev/null || true
    rm -rf "$rootfs"
    mkdir -p "$rootfs"
    container=$(docker create "$BASE_IMAGE" true)
    docker export "$container" | tar -C "$rootfs" -x
    docker rm "$container" >/dev/null
    # A chroot borrows the host's resolver; services must not start inside it.
    cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
    chmod 755 "$rootfs/usr/sbin/policy-rc.d"
    mount -t proc proc "$rootfs/proc"
    # shellcheck disable=SC2086
    if ! chroot "$rootfs" /bin/sh -c "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $TOOLS_PACKAGES" \
        >"$WEIR_KIND_CACHE/e2e-tools-apt.log" 2>&1; then
        umount "$rootfs/proc"
        die "apt-get install $TOOLS_PACKAGES in a chroot of $BASE_IMAGE failed; see $WEIR_KIND_CACHE/e2e-tools-apt.log"
    fi
    # busybox's applets in their own folder, last on the busybox image's PATH.
    mkdir -p "$rootfs/opt/busybox/bin"
    chroot "$rootfs" /bin/busybox --install -s /opt/busybox/bin
    umount "$rootfs/proc"
    rm -f "$rootfs/usr/sbin/policy-rc.d" "$rootfs/etc/resolv.conf"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*
    tar -C "$rootfs" --numeric-owner -c . |
        docker import \
            --change 'CMD ["/bin/bash"]' \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change "LABEL weir.recipe=$recipe" \
            - "$TOOLS_IMAGE" >/dev/null || die "docker import of the e2e tools tree as $TOOLS_IMAGE failed"
    rm -rf "$rootfs"
    log "built $TOOLS_IMAGE ($recipe)"
}

# docker_build IMAGE RECIPE CONTEXT: builds CONTEXT/Dockerfile unless IMAGE carries RECIPE.
docker_build() {
    if image_is_current "$1" "$2"; then
        log "$1 is current ($2)"
        return
    fi
    docker build -q --label "weir.recipe=$2" -t "$1" "$3" >/dev/null || die "docker build of $1 from $3 failed"
    log "built $1 ($2)"
}

build_agnhost() { # source-dir tag
    local source=$1 tag=$2 out="$WEIR_KIND_CACHE/agnhost-$KUBERNETES_VERSION" context
    if [ ! -x "$out/agnhost" ]; then
        "$KIND_SCRIPTS/go-module-build.sh" --local-version "v0.${KUBERNETES_VERSION#v1.}" \
            "k8s.io/kubernetes@$KUBERNETES_VERSION" "$out" k8s.io/kubernetes/test/images/agnhost ||
            die "building agnhost of k8s.io/kubernetes@$KUBERNETES_VERSION failed"
    fi
    context="$WEIR_KIND_CACHE/agnhost-context"
    rm -rf "$context"
    mkdir -p "$context"
    cp "$out/agnhost" "$context/agnhost"
    cp "$source/test/images/agnhost/porter/localhost.crt" "$source/test/images/agnhost/porter/localhost.key" "$context/"
    # The same layout as upstream's Dockerfile: /agnhost, /agnhost-2, porter's key pair, /uploads,
    # the user and group one security-context test looks for. Upstream also ships a coredns
    # binary (one DNS test runs it); it is added when scripts/kind has built one.
    local coredns=""
    coredns=$(find "$WEIR_KIND_CACHE" -maxdepth 3 -type f -name coredns -perm -u+x 2>/dev/null | head -1)
    [ -z "$coredns" ] || cp "$coredns" "$context/coredns"
    {
        echo "FROM $TOOLS_IMAGE"
        echo "COPY localhost.crt localhost.key agnhost ${coredns:+coredns }/"
        echo "RUN ln -s agnhost /agnhost-2 && mkdir /uploads && groupadd -g 50000 group-defined-in-image && useradd -u 1000 -M -G group-defined-in-image user-defined-in-image"
        echo "EXPOSE 80 8080 8081 9376 5000"
        echo 'ENTRYPOINT ["/agnhost"]'
        echo 'CMD ["pause"]'
    } >"$context/Dockerfile"
    docker_build "$E2E_REGISTRY/agnhost:$tag" \
        "$(recipe_hash "$context/Dockerfile" "$context/agnhost" "$(docker image inspect -f '{{.Id}}' "$TOOLS_IMAGE")")" "$context"
}

build_from_tools() { # image dockerfile-lines...
    local image=$1 context
    shift
    context="$WEIR_KIND_CACHE/context-$(echo "$image" | tr '/:' '__')"
    mkdir -p "$context"
    { echo "FROM $TOOLS_IMAGE"; printf '%s\n' "$@"; } >"$context/Dockerfile"
    docker_build "$image" "$(recipe_hash "$context/Dockerfile" "$(docker image inspect -f '{{.Id}}' "$TOOLS_IMAGE")")" "$context"
}

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info)"
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    step base-image "$KIND_SCRIPTS/base-image.sh" || die "the base image $BASE_IMAGE could not be built"
fi
source_dir=$(kubernetes_source)
[ -d "$source_dir" ] || die "k8s.io/kubernetes@$KUBERNETES_VERSION is not in the Go module cache and the proxy did not serve it"

step e2e-tools-image build_tools_image
step agnhost-image build_agnhost "$source_dir" "$(manifest_tag "$source_dir" agnhost)"
build_from_tools "$E2E_REGISTRY/jessie-dnsutils:$(manifest_tag "$source_dir" jessie-dnsutils)" 'CMD ["/bin/bash"]'
build_from_tools "$E2E_REGISTRY/busybox:$(manifest_tag "$source_dir" busybox)" \
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/busybox/bin' 'CMD ["sh"]'
build_from_tools "$E2E_REGISTRY/nginx:$(manifest_tag "$source_dir" nginx)" \
    'EXPOSE 80' 'CMD ["nginx", "-g", "daemon off;"]'
# The list kind-e2e loads into the nodes, one image a line.
docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$E2E_REGISTRY/" | sort >"$WEIR_KIND_CACHE/e2e-images.txt"
cat "$WEIR_KIND_CACHE/e2e-images.txt"
