#!/bin/bash
# Builds main packages of a released Go module from the Go module proxy, even when the module's
# go.mod has `replace` directives to local folders (Kubernetes' staging modules, etcd's
# submodules), which `go install module@version` refuses. It generates a wrapper module that
# requires the module and replaces every local-folder replacement with that module's release
# from the proxy, then builds the packages with CGO off into OUT_DIR.
#
#   go-module-build.sh [options] MODULE@VERSION OUT_DIR PACKAGE...
#     --local-version V   version of the modules the go.mod replaces with local folders
#                         (default: VERSION; Kubernetes v1.33.13 -> --local-version v0.33.13)
#     --ldflags FLAGS     extra -ldflags (e.g. -X for version variables)
#     --tags TAGS         build tags
#     --work DIR          where the wrapper module lives (default: OUT_DIR/.wrapper)
#     --main FILE         a main.go of ours for the wrapper module itself, for modules whose
#                         main package lives in a module the proxy does not serve (etcd's
#                         server is served, its root module with main.go is not); name the
#                         wrapper's package `.` among the PACKAGEs
#     --name NAME         the wrapper module's last path element, so the binary `.` builds
#                         is OUT_DIR/NAME (default: the module's name)
#
# Every PACKAGE is a full import path; each binary is named after its last path element
# (`go build -o OUT_DIR/`). Go's module and build caches make a second run quick; the caller
# decides whether to run at all. Used by scripts/kind/ for Kubernetes, etcd and cri-tools, and
# reusable for e2e.test and agnhost.
set -euo pipefail

local_version=""
extra_ldflags=""
tags=""
work=""
main_file=""
name=""
while [ $# -gt 0 ]; do
    case "$1" in
    --local-version) local_version="$2"; shift 2 ;;
    --ldflags) extra_ldflags="$2"; shift 2 ;;
    --tags) tags="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --main) main_file="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --*) echo "go-module-build: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ $# -lt 3 ]; then
    echo "usage: $0 [--local-version V] [--ldflags F] [--tags T] [--work DIR] MODULE@VERSION OUT_DIR PACKAGE..." >&2
    exit 2
fi
module_at_version="$1"; out_dir="$2"; shift 2
module="${module_at_version%@*}"
version="${module_at_version#*@}"
if [ "$module" = "$module_at_version" ] || [ -z "$version" ]; then
    echo "go-module-build: '$module_at_version' is not MODULE@VERSION" >&2
    exit 2
fi
local_version="${local_version:-$version}"
work="${work:-$out_dir/.wrapper}"
command -v go >/dev/null 2>&1 || { echo "go-module-build: go is not installed (Debian: golang-go, or https://go.dev/dl)" >&2; exit 1; }

mkdir -p "$out_dir" "$work"
out_dir="$(cd "$out_dir" && pwd)"
cd "$work"
rm -f go.mod go.sum ./*.go

# The module's own go.mod, from the proxy, says which modules it takes from local folders.
upstream_gomod="$(go mod download -json "$module_at_version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
if [ ! -f "$upstream_gomod" ]; then
    echo "go-module-build: could not download $module_at_version from the Go module proxy ($(go env GOPROXY))" >&2
    exit 1
fi

if [ -z "$name" ]; then
    name="$(basename "$module")"
    case "$name" in v[0-9]*) name="$(basename "$(dirname "$module")")" ;; esac
fi
go mod init "weir.local/build/$name" >/dev/null 2>&1
[ -z "$main_file" ] || cp "$main_file" main.go
go_directive="$(sed -n 's/^go \([0-9.]*\).*/\1/p' "$upstream_gomod" | head -1)"
[ -n "$go_directive" ] && go mod edit -go="$go_directive"
go mod edit -require="$module_at_version"
# `replace a => ./staging/src/a` (one line or inside a replace block) becomes a => a@V for the
# modules the go.mod requires (etcd also points unwanted paths at a missing folder): V is the
# version the go.mod requires, unless that is the v0.0.0 placeholder (Kubernetes' staging
# modules), then --local-version. Replacements to other modules (forks, pinned versions) are
# carried over as they are: the wrapper is the main module now, and the dependency's own
# replaces would be ignored.
required="$(sed -n -e 's/^require[[:space:]]\{1,\}\([^ (]\{1,\} v[^ ]*\).*/\1/p' \
    -e '/^require[[:space:]]*(/,/^)/s/^[[:space:]]\{1,\}\([^ ]\{1,\} v[^ ]*\).*/\1/p' "$upstream_gomod")"
sed -n -e 's/^replace[[:space:]]*//' -e '/^(/d' -e '/^)/d' -e 's/^[[:space:]]*//' -e '/=>/p' "$upstream_gomod" |
    sed 's://.*$::' | while read -r from _arrow to to_version; do
        [ -n "$from" ] || continue
        case "$to" in
        ./* | ../*)
            required_version="$(printf '%s\n' "$required" | awk -v m="$from" '$1 == m { print $2; exit }')"
            [ -n "$required_version" ] || continue
            case "$required_version" in v0.0.0 | v0.0.0-*) required_version="$local_version" ;; esac
            go mod edit -replace="$from=$from@$required_version"
            ;;
        *) go mod edit -replace="$from=$to${to_version:+@$to_version}" ;;
        esac
    done
# A replace line may name a version on its left side (`a v1.2.3 => b v1.2.4`); `read` above puts
# that version in _arrow: those lines are rare enough that the upstream go.mod shows them.
if grep -Eq '^[[:space:]]*(replace[[:space:]]+)?[^[:space:]]+[[:space:]]+v[^[:space:]]+[[:space:]]+=>' "$upstream_gomod"; then
    echo "go-module-build: note: $module_at_version has versioned replace lines; check $work/go.mod" >&2
fi

export CGO_ENABLED="${CGO_ENABLED:-0}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
# -mod=mod fills go.sum with what the packages need; the proxy's checksum database checks it.
go build -trimpath ${tags:+-tags "$tags"} -ldflags "-s -w $extra_ldflags" -o "$out_dir/" "$@"
