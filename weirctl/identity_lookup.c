/* A userspace lookup in an LPM trie returns the longest match just as the program's does. */
#include "identity_lookup.h"

#include <bpf/bpf.h>

uint32_t identity_of_address(struct datapath *datapath, uint32_t address)
{
	struct weir_ipcache_key key = {.prefix_length = 32, .ipv4 = address};
	struct weir_ipcache_entry entry;

	if (bpf_map_lookup_elem(datapath->ipcache_fd, &key, &entry) < 0)
		return WEIR_IDENTITY_WORLD;
	return entry.identity;
}

uint32_t address_identity_of_address(struct datapath *datapath, uint32_t address)
{
	struct weir_ipcache_key key = {.prefix_length = 32, .ipv4 = address};
	struct weir_ipcache_entry entry;

	if (bpf_map_lookup_elem(datapath->ipcache_fd, &key, &entry) < 0)
		return 0;
	return entry.address_identity;
}
