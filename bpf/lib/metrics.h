/* Exact per-CPU counters: one increment per packet, never sampled. */
#ifndef WEIR_BPF_METRICS_H
#define WEIR_BPF_METRICS_H

#include "maps.h"

static __always_inline void metrics_add(enum weir_counter counter, __u64 amount)
{
	__u32 key = counter;
	__u64 *value = bpf_map_lookup_elem(&metrics, &key);

	if (value)
		*value += amount;
}

static __always_inline void metrics_count(enum weir_counter counter)
{
	metrics_add(counter, 1);
}

#endif
