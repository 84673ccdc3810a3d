#!/bin/sh
# Builds libcjson.a for the statically linked weir-cni. Debian ships cJSON only as a shared
# library, and a kind node (or any node) has none of weir's libraries, so the plugin carries
# cJSON inside it. The archive is built from Debian's own source package of the very version
# installed as libcjson-dev (with Debian's patches applied), fetched through the host's own
# apt sources turned into deb-src entries in a private apt state, so the host's apt
# configuration is left untouched.
#
# usage: scripts/static-cjson.sh OUTPUT_DIR   (writes OUTPUT_DIR/libcjson.a; the header is
# libcjson-dev's, of the same version)
set -eu

out=${1:?usage: static-cjson.sh OUTPUT_DIR}
version=$(dpkg-query -W -f='${Version}' libcjson-dev 2>/dev/null) || {
    echo "static-cjson: libcjson-dev is not installed (run scripts/deps.sh)" >&2
    exit 1
}
stamp="$out/libcjson.version"
if [ -f "$out/libcjson.a" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources.d" "$work/lists/partial" "$work/src"

# deb-src twins of the host's Debian sources (deb822 files and one-line lists alike).
for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] && sed 's/^Types:.*/Types: deb-src/' "$file" >"$work/sources.d/$(basename "$file")"
done
for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$file" >>"$work/sources.d/host.list"
done

apt_private() {
    apt-get -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/sources.d" \
        -o Dir::State::Lists="$work/lists" -o APT::Sandbox::User=root "$@"
}
if ! apt_private update >"$work/update.log" 2>&1; then
    echo "static-cjson: apt-get update of the deb-src indexes failed:" >&2
    tail -5 "$work/update.log" >&2
    exit 1
fi
if ! (cd "$work/src" && apt_private source "cjson=$version") >"$work/source.log" 2>&1; then
    echo "static-cjson: apt-get source cjson=$version failed:" >&2
    tail -5 "$work/source.log" >&2
    exit 1
fi

tree=$(find "$work/src" -maxdepth 1 -mindepth 1 -type d -name 'cjson-*' | head -n 1)
if [ -z "$tree" ] || [ ! -f "$tree/cJSON.c" ]; then
    echo "static-cjson: the cjson=$version source has no cJSON.c" >&2
    exit 1
fi
mkdir -p "$out"
# cJSON is C89 code built with its own expectations: no -Werror on foreign code.
${CC:-gcc} -O2 -fPIE -c "$tree/cJSON.c" -o "$work/cJSON.o"
rm -f "$out/libcjson.a.tmp"
ar rcs "$out/libcjson.a.tmp" "$work/cJSON.o"
mv "$out/libcjson.a.tmp" "$out/libcjson.a"
echo "$version" >"$stamp"
echo "static-cjson: built libcjson.a from cjson $version"
