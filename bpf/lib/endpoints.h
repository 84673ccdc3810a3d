/* Local endpoint lookup and per-endpoint traffic accounting. */
#ifndef WEIR_BPF_ENDPOINTS_H
#define WEIR_BPF_ENDPOINTS_H

#include "maps.h"

/* clang cannot lower memcmp for BPF; MACs compare as one 32-bit and one 16-bit word. */
static __always_inline int mac_equal(const __u8 *left, const __u8 *right)
{
	return *(const __u32 *)left == *(const __u32 *)right &&
	       *(const __u16 *)(left + 4) == *(const __u16 *)(right + 4);
}

static __always_inline struct weir_endpoint *endpoint_by_address(__u32 ipv4)
{
	struct weir_endpoint_key key = { .ipv4 = ipv4 };

	return bpf_map_lookup_elem(&endpoints, &key);
}

/* The local pod holding ipv4, or NULL. The barrier keeps clang from turning the choice into a
 * mask over the pointer, which the verifier refuses. */
static __always_inline struct weir_endpoint *local_endpoint_by_address(__u32 ipv4)
{
	struct weir_endpoint *endpoint = endpoint_by_address(ipv4);

	if (!endpoint || !(endpoint->flags & WEIR_ENDPOINT_FLAG_LOCAL))
		return 0;
	barrier_var(endpoint); /* a side effect on this arm only: no select */
	return endpoint;
}

/* The endpoint owning ipv4, but only when it sits behind this very interface: an address
 * seen on the wrong veth is not that endpoint. */
static __always_inline struct weir_endpoint *endpoint_lookup(__u32 ipv4, __u32 ifindex)
{
	struct weir_endpoint *endpoint = endpoint_by_address(ipv4);

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
