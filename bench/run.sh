#!/bin/bash
# `make bench`: every benchmark, each comparing side by side within one run.
set -e
cd "$(dirname "$0")/.."
./bench/cni_latency.sh
./build/bench/datapath_bench
./bench/pod_rr.sh
./bench/agent_propagation.sh
./bench/agent_scale.sh
./bench/services_scale.sh
./bench/cross_node.sh
