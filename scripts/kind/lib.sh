# Shared by the scripts in scripts/kind/: where the caches live, timed steps, and images that
# are rebuilt only when their recipe changes. Sourced, not run.

# Outside the repository and kept across runs (and across clones): Go binaries, rootfs trees.
WEIR_KIND_CACHE="${WEIR_KIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir-kind}"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.33.13}"
KIND_VERSION="${KIND_VERSION:-v0.30.0}"
BASE_IMAGE="${WEIR_BASE_IMAGE:-weir.local/debian:12}"
# What kubeadm $KUBERNETES_VERSION asks for (`kubeadm config images list`; node-image.sh checks),
# and for the node's own tools the releases kind $KIND_VERSION's base image uses (crictl: the
# oldest release the module proxy serves that is not older than Kubernetes).
ETCD_VERSION="${ETCD_VERSION:-3.5.24}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.12.0}"
CRICTL_VERSION="${CRICTL_VERSION:-v1.34.0}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.1.4}"
CNI_PLUGINS_VERSION="${CNI_PLUGINS_VERSION:-v1.7.1}"
KIND_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$WEIR_KIND_CACHE"

log() { echo "kind-build: $*" >&2; }
die() { echo "kind-build: FAILED: $*" >&2; exit 1; }

# step NAME COMMAND...: runs one build step, prints how long it took, names it when it fails.
step() {
    local name="$1" started rc=0
    shift
    started=$(date +%s)
    log "[$name] start"
    "$@" || rc=$?
    if [ "$rc" -ne 0 ]; then
        log "[$name] FAILED after $(($(date +%s) - started))s (exit $rc)"
        return "$rc"
    fi
    log "[$name] done in $(($(date +%s) - started))s"
}

# recipe_hash FILE_OR_STRING...: a short hash over files' contents and plain strings, the
# label by which a cached image knows it was built from the current recipe.
recipe_hash() {
    local item
    for item in "$@"; do
        if [ -f "$item" ]; then cat "$item"; else printf '%s\n' "$item"; fi
    done | sha256sum | cut -c1-16
}

# image_is_current IMAGE HASH: the image exists and carries weir.recipe=HASH.
image_is_current() {
    [ "$(docker image inspect -f '{{ index .Config.Labels "weir.recipe" }}' "$1" 2>/dev/null)" = "$2" ]
}

# The Debian mirror apt uses on this machine (deb822 sources or the classic list): the base
# image and the node image install from the same place, so no host is named in this repository.
debian_mirror() {
    local uri
    uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -1)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null)
    [ -n "$uri" ] || die "no Debian mirror configured in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    echo "${uri%% *}"
}
