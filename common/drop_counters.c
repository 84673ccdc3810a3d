/* Reading the per-CPU drop counters: each {endpoint, reason, direction} is summed over CPUs at
 * read time, so what a user sees is exact. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datapath.h"

int datapath_drop_read(struct datapath *datapath, uint32_t endpoint_id, uint8_t reason,
		       uint8_t direction, uint64_t *packets, uint64_t *bytes)
{
	struct weir_drop_key key = { .endpoint_id = endpoint_id, .reason = reason,
				     .direction = direction };
	int cpus = libbpf_num_possible_cpus();
	struct weir_drop_counter *per_cpu;

	*packets = *bytes = 0;
	if (cpus < 1)
		cpus = 1;
	per_cpu = calloc((size_t)cpus, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(datapath->drops_fd, &key, per_cpu) == 0) {
		for (int cpu = 0; cpu < cpus; cpu++) {
			*packets += per_cpu[cpu].packets;
			*bytes += per_cpu[cpu].bytes;
		}
	}
	free(per_cpu);
	return 0;
}

int datapath_drop_for_each(struct datapath *datapath,
			   void (*visit)(const struct weir_drop_key *key, uint64_t packets,
					 uint64_t bytes, void *context),
			   void *context)
{
	struct weir_drop_key key, next;
	void *previous = NULL;

	while (bpf_map_get_next_key(datapath->drops_fd, previous, &next) == 0) {
		uint64_t packets = 0, bytes = 0;

		datapath_drop_read(datapath, next.endpoint_id, next.reason, next.direction,
				   &packets, &bytes);
		if (packets)
			visit(&next, packets, bytes, context);
		key = next;
		previous = &key;
	}
	return 0;
}
