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

#endif
