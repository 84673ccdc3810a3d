/* The maps of the pod datapath. Every map is pinned by name under the agent's bpffs root, so
 * the agent, weir-cni and weirctl all see the same objects, and state outlives the agent. */
#ifndef WEIR_BPF_MAPS_H
#define WEIR_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEIR_MAX_ENDPOINTS);
	__type(key, struct weir_endpoint_key);
	__type(value, struct weir_endpoint);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, WEIR_MAX_ENDPOINTS);
	__type(key, __u32);
	__type(value, struct weir_endpoint_stats);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} endpoint_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEIR_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} metrics SEC(".maps");

#endif
