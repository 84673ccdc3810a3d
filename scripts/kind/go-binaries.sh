#!/bin/bash
# Builds every Go program the offline kind node needs, from the Go module proxy, into
# $WEIR_KIND_CACHE/<name>-<version>/. Each folder keeps the recipe it was built from
# (.recipe); a folder whose recipe matches is not rebuilt. Go's module and build caches make
# a rebuild after a recipe change quick too.
#   go-binaries.sh [NAME...]   (default: all; names: kind kubernetes etcd coredns crictl containerd cni)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

k8s_minor="${KUBERNETES_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
# kubeadm compares versions: the binaries must say which release they are. The proxy does not
# give the release's git commit; gitCommit names the module's checksum instead.
k8s_sum="$(cd / && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" 2>/dev/null | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p')"
k8s_time="$(cd / && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" 2>/dev/null | sed -n 's/^[[:space:]]*"Info": "\(.*\)",$/\1/p' | xargs -r sed -n 's/.*"Time":"\([^"]*\)".*/\1/p')"
k8s_ldflags=""
for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags="$k8s_ldflags -X $package.gitVersion=$KUBERNETES_VERSION -X $package.gitMajor=1 -X $package.gitMinor=$k8s_minor"
    k8s_ldflags="$k8s_ldflags -X $package.gitTreeState=clean -X $package.gitCommit=${k8s_sum:-unknown} -X $package.buildDate=${k8s_time:-1970-01-01T00:00:00Z}"
done

# build NAME VERSION OUTPUTS -- go-module-build.sh ARGS...
build() {
    local name="$1" version="$2" outputs="$3" dir recipe output
    shift 4
    dir="$WEIR_KIND_CACHE/$name-$version"
    recipe="$(recipe_hash "$KIND_SCRIPTS/go-module-build.sh" "$(go version)" "$*")"
    if [ "$(cat "$dir/.recipe" 2>/dev/null)" = "$recipe" ]; then
        log "$name $version is built ($dir)"
        return 0
    fi
    rm -f "$dir/.recipe"
    "$KIND_SCRIPTS/go-module-build.sh" "$@" >"$WEIR_KIND_CACHE/$name-$version.log" 2>&1 ||
        { tail -20 "$WEIR_KIND_CACHE/$name-$version.log" >&2; die "building $name $version from the Go module proxy; see $WEIR_KIND_CACHE/$name-$version.log"; }
    for output in $outputs; do
        [ -x "$dir/$output" ] || die "building $name $version made no $dir/$output"
    done
    echo "$recipe" >"$dir/.recipe"
}

build_kind() {
    local dir="$WEIR_KIND_CACHE/kind-$KIND_VERSION"
    if [ -x "$dir/kind" ]; then
        log "kind $KIND_VERSION is built ($dir/kind)"
        return 0
    fi
    mkdir -p "$dir"
    GOBIN="$dir" CGO_ENABLED=0 go install "sigs.k8s.io/kind@$KIND_VERSION" >"$dir.log" 2>&1 ||
        { tail -20 "$dir.log" >&2; die "go install sigs.k8s.io/kind@$KIND_VERSION; see $dir.log"; }
}

build_one() {
    case "$1" in
    kind) step "go: kind $KIND_VERSION" build_kind ;;
    kubernetes)
        step "go: kubernetes $KUBERNETES_VERSION" build kubernetes "$KUBERNETES_VERSION" \
            "kubeadm kubelet kubectl kube-apiserver kube-controller-manager kube-scheduler" -- \
            --local-version "v0.${KUBERNETES_VERSION#v1.}" --ldflags "$k8s_ldflags" \
            "k8s.io/kubernetes@$KUBERNETES_VERSION" "$WEIR_KIND_CACHE/kubernetes-$KUBERNETES_VERSION" \
            k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl \
            k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
            k8s.io/kubernetes/cmd/kube-scheduler ;;
    etcd)
        step "go: etcd $ETCD_VERSION" build etcd "$ETCD_VERSION" etcd -- \
            --main "$KIND_SCRIPTS/images/etcd-main.go" --name etcd \
            "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" "$WEIR_KIND_CACHE/etcd-$ETCD_VERSION" . ;;
    coredns)
        step "go: coredns $COREDNS_VERSION" build coredns "$COREDNS_VERSION" coredns -- \
            "github.com/coredns/coredns@$COREDNS_VERSION" "$WEIR_KIND_CACHE/coredns-$COREDNS_VERSION" \
            github.com/coredns/coredns ;;
    crictl)
        step "go: crictl $CRICTL_VERSION" build cri-tools "$CRICTL_VERSION" crictl -- \
            "sigs.k8s.io/cri-tools@$CRICTL_VERSION" "$WEIR_KIND_CACHE/cri-tools-$CRICTL_VERSION" \
            sigs.k8s.io/cri-tools/cmd/crictl ;;
    containerd)
        step "go: containerd $CONTAINERD_VERSION" build containerd "$CONTAINERD_VERSION" \
            "containerd ctr containerd-shim-runc-v2" -- --tags "no_aufs no_zfs no_btrfs no_devmapper" \
            "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" "$WEIR_KIND_CACHE/containerd-$CONTAINERD_VERSION" \
            github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr \
            github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 ;;
    cni)
        step "go: cni plugins $CNI_PLUGINS_VERSION" build cni-plugins "$CNI_PLUGINS_VERSION" \
            "loopback host-local portmap ptp bridge" -- \
            "github.com/containernetworking/plugins@$CNI_PLUGINS_VERSION" "$WEIR_KIND_CACHE/cni-plugins-$CNI_PLUGINS_VERSION" \
            github.com/containernetworking/plugins/plugins/main/loopback \
            github.com/containernetworking/plugins/plugins/ipam/host-local \
            github.com/containernetworking/plugins/plugins/meta/portmap \
            github.com/containernetworking/plugins/plugins/main/ptp \
            github.com/containernetworking/plugins/plugins/main/bridge ;;
    *) die "unknown Go program '$1' (kind kubernetes etcd coredns crictl containerd cni)" ;;
    esac
}

command -v go >/dev/null 2>&1 || die "go is not installed (Debian: golang-go; the Go module proxy must be reachable)"
for name in "${@:-kind kubernetes etcd coredns crictl containerd cni}"; do
    for one in $name; do build_one "$one"; done
done
