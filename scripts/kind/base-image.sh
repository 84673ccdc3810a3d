#!/bin/bash
# The Debian 12 base image (weir.local/debian:12) every other image here starts from: made with
# debootstrap from the mirror apt is configured with, then `docker import`ed. No registry needed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

sources=/etc/apt/sources.list.d/debian.sources
mirror="$(debian_mirror)"
recipe="$(recipe_hash "$0" "$mirror" "$sources")"
if image_is_current "$BASE_IMAGE" "$recipe"; then
    log "base image $BASE_IMAGE is current ($recipe)"
    exit 0
fi
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root to build $BASE_IMAGE"

rootfs="$WEIR_KIND_CACHE/debian-12-rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs"
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$WEIR_KIND_CACHE/debootstrap.log" 2>&1 ||
    die "debootstrap bookworm from $mirror failed; see $WEIR_KIND_CACHE/debootstrap.log"

# apt inside the image uses this machine's sources (main, updates, security), like the host.
rm -f "$rootfs/etc/apt/sources.list"
if [ -f "$sources" ]; then
    cp "$sources" "$rootfs/etc/apt/sources.list.d/debian.sources"
else
    cp /etc/apt/sources.list "$rootfs/etc/apt/sources.list"
fi
# Image-sized apt: no recommends, no cached .debs, no translations.
cat >"$rootfs/etc/apt/apt.conf.d/90weir-image" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
APT
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/* "$rootfs"/tmp/*

tar -C "$rootfs" --numeric-owner -c . |
    docker import \
        --change 'CMD ["/bin/bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change "LABEL weir.recipe=$recipe" \
        - "$BASE_IMAGE" >/dev/null || die "docker import of the debootstrap tree as $BASE_IMAGE failed"
log "built $BASE_IMAGE ($recipe)"
