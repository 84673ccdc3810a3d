#!/bin/sh
# Installs every Debian package the build, the tests, the demo and the benchmarks need.
# Idempotent: packages already present are not touched, and apt runs only when one is missing.
set -eu

PACKAGES="make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcjson-dev \
libcurl4-openssl-dev libnl-3-dev libnl-route-3-dev libyaml-dev pkg-config iproute2 \
containernetworking-plugins iputils-ping curl socat iperf3 python3 kmod procps util-linux iptables \
python3-prometheus-client dpkg-dev"

# `scripts/deps.sh bench` (make bench): also what the benchmarks compare weir with and plot with.
# Only `make bench` asks for these; `make test` and CI do not need them. Debian's postinst may
# start nginx and haproxy as services: bench/compare.sh runs its own, inside namespaces.
if [ "${1:-}" = bench ]; then
    PACKAGES="$PACKAGES wrk haproxy nginx gnuplot-nox bc"
fi

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
