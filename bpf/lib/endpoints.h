/* Local endpoint lookup and per-endpoint traffic accounting. */
#ifndef WEIR_BPF_ENDPOINTS_H
#define WEIR_BPF_ENDPOINTS_H

#include "maps.h"

/* The endpoint owning ipv4, but only when it sits behind this very interface: an address
 * seen on the wrong veth is not that endpoint. */
static __always_inline struct weir_endpoint *endpoint_lookup(__u32 ipv4, __u32 ifindex)
{
	struct weir_endpoint_key key = { .ipv4 = ipv4 };
	struct weir_endpoint *endpoint = bpf_map_lookup_elem(&endpoints, &key);

	if (!endpoint || endpoint->host_ifindex != ifindex)
		return 0;
	return endpoint;
}

static __always_inline void endpoint_account(const struct weir_endpoint *endpoint, int from_pod,
					     __u32 bytes)
{
	__u32 key = endpoint->endpoint_id;
	struct weir_endpoint_stats *stats = bpf_map_lookup_elem(&endpoint_stats, &key);

	if (!stats)
		return;
	if (from_pod) {
		stats->from_pod_packets += 1;
		stats->from_pod_bytes += bytes;
	} else {
		stats->to_pod_packets += 1;
		stats->to_pod_bytes += bytes;
	}
}

#endif
