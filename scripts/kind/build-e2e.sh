#!/bin/bash
# Builds the upstream e2e.test binary of the Kubernetes release the kind cluster runs, and the
# ginkgo CLI that runs it in parallel, from the Go module proxy alone: a generated wrapper
# module requires k8s.io/kubernetes at that release and replaces every k8s.io staging module
# (which kubernetes' own go.mod points at ./staging) with the matching v0.x tag the proxy
# serves. Go's own module and build caches are used (as scripts/kind/go-module-build.sh does for
# the Kubernetes binaries), so the packages e2e.test shares with them compile once; a second run
# finds the binaries in WEIR_KIND_CACHE and needs no network. Prints the two paths, e2e.test
# then ginkgo, on its last two lines.
set -euo pipefail

KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.33.13}
CACHE=${WEIR_KIND_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/weir-kind}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local} CGO_ENABLED=0

# ginkgo runs a compiled suite only under a name ending in .test.
e2e_test=$CACHE/bin/$KUBERNETES_VERSION/e2e.test
ginkgo=$CACHE/bin/$KUBERNETES_VERSION/ginkgo
staging_version=v0.${KUBERNETES_VERSION#v1.}
wrapper=$CACHE/e2e-wrapper-$KUBERNETES_VERSION

step() { echo "build-e2e: $*" >&2; }
fail() { echo "build-e2e: FAILED: $*" >&2; exit 1; }

command -v go >/dev/null || fail "go is not installed (Debian: golang-go, or go.dev/dl)"
mkdir -p "$CACHE/bin/$KUBERNETES_VERSION" "$wrapper"

if [ -x "$e2e_test" ] && [ -x "$ginkgo" ]; then
    step "cached: $e2e_test $ginkgo"
    printf '%s\n%s\n' "$e2e_test" "$ginkgo"
    exit 0
fi

# The proxy may refuse a release of a staging module (k8s.io/sample-apiserver v0.33.13 is refused
# here; only the API aggregator test uses it): then the newest patch release of the same minor that
# it serves stands in, and the build says so.
staging_module_version() {
    local module=$1 fallback
    if go mod download "$module@$staging_version" >/dev/null 2>&1; then
        echo "$staging_version"
        return
    fi
    fallback=$(go list -m -versions "$module" 2>/dev/null | tr ' ' '\n' | grep "^${staging_version%.*}\.[0-9]*$" | sort -V | while read -r v; do
        go mod download "$module@$v" >/dev/null 2>&1 && echo "$v"; done | tail -1)
    if [ -z "$fallback" ]; then
        step "the module proxy serves no ${staging_version%.*}.x release of $module; left out (e2e.test does not import it)"
        return
    fi
    step "$module $staging_version is not served by the module proxy; using $fallback"
    echo "$fallback"
}

# kubernetes' go.mod names its staging modules in replace directives (k8s.io/api => ./staging/...).
step "reading the staging module list of k8s.io/kubernetes $KUBERNETES_VERSION"
gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
[ -f "$gomod" ] || fail "go mod download k8s.io/kubernetes@$KUBERNETES_VERSION gave no go.mod"
staging=$(awk '/=> \.\/staging\/src\// { print $1 }' "$gomod" | sort -u)
[ -n "$staging" ] || fail "no staging replace directives in $gomod"

{
    echo "module weir.local/e2e-wrapper"
    echo
    echo "go 1.24.0"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    for module in $staging; do
        version=$(staging_module_version "$module")
        [ -z "$version" ] || echo "replace $module => $module $version"
    done
} >"$wrapper/go.mod.new"
if ! cmp -s "$wrapper/go.mod.new" "$wrapper/go.mod.seed" 2>/dev/null; then
    mv "$wrapper/go.mod.new" "$wrapper/go.mod.seed"
    cp "$wrapper/go.mod.seed" "$wrapper/go.mod"
    rm -f "$wrapper/go.sum"
else
    rm -f "$wrapper/go.mod.new"
fi
# A package of the wrapper's own that imports the e2e suite and the ginkgo CLI so `go mod tidy`
# records every requirement (tests of dependencies are otherwise outside the module graph).
cat >"$wrapper/deps.go" <<'GO'
package wrapper

import (
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/ginkgo/v2/ginkgo/command"
	_ "github.com/onsi/gomega"
	_ "k8s.io/kubernetes/test/e2e"
	_ "k8s.io/kubernetes/test/e2e/framework/debug/init"
	_ "k8s.io/kubernetes/test/e2e/network"
	_ "k8s.io/kubernetes/test/e2e/network/netpol"
	_ "k8s.io/kubernetes/test/utils/image"
)
GO

cd "$wrapper"
if [ ! -f go.sum ]; then
    step "resolving the module graph (first run downloads from the Go module proxy)"
    go mod tidy -e >&2 || fail "go mod tidy failed in $wrapper"
fi

ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1"
    ldflags="$ldflags -X $pkg.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
    ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

if [ ! -x "$e2e_test" ]; then
    step "compiling k8s.io/kubernetes/test/e2e $KUBERNETES_VERSION (a cold build takes tens of minutes on 2 cores)"
    start=$(date +%s)
    go test -c -mod=mod -trimpath -ldflags "$ldflags" -o "$e2e_test.tmp" k8s.io/kubernetes/test/e2e >&2 ||
        fail "go test -c k8s.io/kubernetes/test/e2e failed (module cache $(go env GOMODCACHE))"
    mv "$e2e_test.tmp" "$e2e_test"
    step "built $e2e_test in $(($(date +%s) - start))s"
fi
if [ ! -x "$ginkgo" ]; then
    # The ginkgo version kubernetes requires, so CLI and suite speak the same protocol.
    go build -mod=mod -trimpath -ldflags "-s -w" -o "$ginkgo.tmp" github.com/onsi/ginkgo/v2/ginkgo >&2 ||
        fail "go build github.com/onsi/ginkgo/v2/ginkgo failed"
    mv "$ginkgo.tmp" "$ginkgo"
    step "built $ginkgo"
fi
printf '%s\n%s\n' "$e2e_test" "$ginkgo"
