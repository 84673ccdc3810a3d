/* A peer's security identity from the ipcache: the longest matching prefix, or world. */
#ifndef WEIR_BPF_IDENTITY_H
#define WEIR_BPF_IDENTITY_H

#include "maps.h"

static __always_inline __u32 identity_of(__u32 ipv4)
{
	struct weir_ipcache_key key = { .prefix_length = 32, .ipv4 = ipv4 };
	struct weir_ipcache_entry *entry = bpf_map_lookup_elem(&ipcache, &key);

	return entry ? entry->identity : WEIR_IDENTITY_WORLD;
}

/* A peer as policy sees it: its identity, and the address identity of its /32 when an ipBlock
 * names that address (abi.h). */
struct peer {
	__u32 identity;
	__u32 address_identity;
};

static __always_inline struct peer peer_of(__u32 ipv4)
{
	struct weir_ipcache_key key = { .prefix_length = 32, .ipv4 = ipv4 };
	struct weir_ipcache_entry *entry = bpf_map_lookup_elem(&ipcache, &key);
	struct peer peer = { .identity = WEIR_IDENTITY_WORLD };

	if (entry) {
		peer.identity = entry->identity;
		peer.address_identity = entry->address_identity;
	}
	return peer;
}

#endif
