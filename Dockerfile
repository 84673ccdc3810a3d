# weir's agent image: weir-agent, weir-cni (installed onto the node by the init container)
# and weirctl. Built in Debian with the same packages as the host build, run from a slim
# Debian with only the runtime libraries. BASE_IMAGE is the Debian 12 image that
# scripts/kind/base-image.sh makes with debootstrap, so the build needs no registry; any Debian 12
# image works (--build-arg BASE_IMAGE=debian:12-slim where a registry is reachable).
ARG BASE_IMAGE=weir.local/debian:12
FROM ${BASE_IMAGE} AS build
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libcjson-dev \
        libcurl4-openssl-dev libnl-3-dev libnl-route-3-dev libyaml-dev pkg-config ca-certificates \
        dpkg-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" all

FROM ${BASE_IMAGE}
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        libbpf1 libelf1 zlib1g libcjson1 libcurl4 libnl-3-200 libnl-route-3-200 libyaml-0-2 \
        ca-certificates iproute2 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/weir-agent /src/build/weir-cni /src/build/weirctl /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/weir-agent"]
