/* IPv4 fragments: only the first carries ports. It records them once its connection is
 * allowed; later fragments borrow them and follow that connection. A later fragment with no
 * recorded first fragment never bypasses policy: it is dropped. */
#ifndef WEIR_BPF_FRAGMENTS_H
#define WEIR_BPF_FRAGMENTS_H

#include "maps.h"
#include "parse.h"

static __always_inline void fragment_key_of(const struct packet *packet,
					    struct weir_fragment_key *key)
{
	key->source = packet->source;
	key->destination = packet->destination;
	key->ip_id = packet->ip_id;
	key->protocol = packet->protocol;
	key->reserved = 0;
}

/* Fills the ports of a later fragment; -1 when its first fragment was not seen. */
static __always_inline int fragment_borrow_ports(struct packet *packet)
{
	struct weir_fragment_key key;
	struct weir_fragment_entry *entry;

	fragment_key_of(packet, &key);
	entry = bpf_map_lookup_elem(&fragments, &key);
	if (!entry)
		return -1;
	packet->source_port = entry->source_port;
	packet->destination_port = entry->destination_port;
	return 0;
}

static __always_inline int fragment_remember_first(const struct packet *packet)
{
	struct weir_fragment_key key;
	struct weir_fragment_entry entry = { .source_port = packet->source_port,
					     .destination_port = packet->destination_port };

	fragment_key_of(packet, &key);
	return bpf_map_update_elem(&fragments, &key, &entry, BPF_ANY);
}

#endif
