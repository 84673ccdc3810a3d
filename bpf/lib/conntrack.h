/* Connection tracking. One LRU entry per connection, keyed by the tuple of its first packet.
 * A packet matching the key is the connection's forward direction; one matching the swapped
 * key is a reply; an ICMP error whose inner tuple matches either is related. Everything else
 * is new and is judged by policy. Entries expire by protocol and TCP state. */
#ifndef WEIR_BPF_CONNTRACK_H
#define WEIR_BPF_CONNTRACK_H

#include "maps.h"
#include "parse.h"

enum ct_status {
	CT_NEW = 0,
	CT_ESTABLISHED, /* forward direction of a known connection */
	CT_REPLY,
	CT_RELATED,
};

struct ct_lookup_result {
	enum ct_status status;
	struct weir_ct_entry *entry;
	struct weir_ct_key key; /* the connection's key (forward tuple) */
};

static __always_inline void ct_key_of(const struct packet *packet, struct weir_ct_key *key)
{
	key->source = packet->source;
	key->destination = packet->destination;
	key->source_port = packet->source_port;
	key->destination_port = packet->destination_port;
	key->protocol = packet->protocol;
	key->reserved[0] = key->reserved[1] = key->reserved[2] = 0;
}

static __always_inline void ct_key_swap(const struct weir_ct_key *key, struct weir_ct_key *swapped)
{
	swapped->source = key->destination;
	swapped->destination = key->source;
	swapped->source_port = key->destination_port;
	swapped->destination_port = key->source_port;
	swapped->protocol = key->protocol;
	swapped->reserved[0] = swapped->reserved[1] = swapped->reserved[2] = 0;
}

static __always_inline __u64 ct_timeout(__u8 protocol, __u8 state)
{
	return weir_ct_timeout_ns(protocol, state);
}

/* An entry past its deadline is treated as absent (and left for the LRU or a new insert). */
static __always_inline struct weir_ct_entry *ct_find(const struct weir_ct_key *key, __u64 now)
{
	struct weir_ct_entry *entry = bpf_map_lookup_elem(&ct, key);

	if (entry && entry->expires_ns < now)
		return 0;
	return entry;
}

static __always_inline struct ct_lookup_result ct_lookup(const struct packet *packet, __u64 now)
{
	struct ct_lookup_result result = { .status = CT_NEW };
	struct weir_ct_key swapped;

	if (packet->is_icmp_error) {
		/* The inner packet travelled the other way: it is the tuple as its sender sent it. */
		result.entry = ct_find(&packet->inner, now);
		if (result.entry) {
			result.status = CT_RELATED;
			result.key = packet->inner;
			return result;
		}
		ct_key_swap(&packet->inner, &swapped);
		result.entry = ct_find(&swapped, now);
		if (result.entry) {
			result.status = CT_RELATED;
			result.key = swapped;
			return result;
		}
		/* Unrelated: judged as the ICMP packet it is, between its real endpoints. */
		ct_key_of(packet, &result.key);
		return result;
	}
	ct_key_of(packet, &result.key);
	result.entry = ct_find(&result.key, now);
	if (result.entry) {
		result.status = CT_ESTABLISHED;
		return result;
	}
	ct_key_swap(&result.key, &swapped);
	result.entry = ct_find(&swapped, now);
	if (result.entry) {
		result.status = CT_REPLY;
		result.key = swapped;
		return result;
	}
	ct_key_of(packet, &result.key);
	return result;
}

/* TCP flag combinations no real stack sends on a new or known connection. */
static __always_inline int tcp_flags_invalid(__u8 flags)
{
	if ((flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) == (TCP_FLAG_SYN | TCP_FLAG_FIN))
		return 1;
	if ((flags & (TCP_FLAG_SYN | TCP_FLAG_RST)) == (TCP_FLAG_SYN | TCP_FLAG_RST))
		return 1;
	return 0;
}

/* Advances the TCP state and pushes the deadline out. The deadline is written at most about
 * once a second per connection, so the established fast path stays read-mostly. */
static __always_inline void ct_update(struct weir_ct_entry *entry, const struct packet *packet,
				      int is_reply, __u64 now)
{
	__u8 state = entry->state;
	__u64 deadline;

	if (packet->protocol == IPPROTO_TCP) {
		if (packet->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
			state = WEIR_CT_CLOSING;
		else if (state == WEIR_CT_SYN_SENT && is_reply &&
			 (packet->tcp_flags & TCP_FLAG_ACK))
			state = WEIR_CT_ESTABLISHED;
		else if (state == WEIR_CT_CLOSING && (packet->tcp_flags & TCP_FLAG_SYN) &&
			 !is_reply && !(packet->tcp_flags & TCP_FLAG_ACK))
			state = WEIR_CT_SYN_SENT; /* the same tuple reused for a new connection */
	}
	if (is_reply && !(entry->flags & WEIR_CT_FLAG_SEEN_REPLY))
		entry->flags |= WEIR_CT_FLAG_SEEN_REPLY;
	deadline = now + ct_timeout(packet->protocol, state);
	if (state != entry->state || deadline > entry->expires_ns + 1000000000ULL ||
	    deadline < entry->expires_ns) {
		entry->state = state;
		entry->expires_ns = deadline;
	}
}

/* Where a new entry is put together before it is inserted: a per-CPU map value instead of
 * the stack, which the programs that create entries need for the HTTP inspection they call. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weir_ct_entry);
} ct_staging SEC(".maps");

/* nat_address/nat_port: the VIP the client addressed, when the connection was translated
 * (replies then get it back as their source); 0 otherwise. */
static __always_inline int ct_create(const struct weir_ct_key *key, const struct packet *packet,
				     __u32 revision, __u32 rule_id, __u32 source_endpoint_id,
				     __u32 destination_endpoint_id, __u32 nat_address,
				     __u16 nat_port, __u8 extra_flags, __u64 now)
{
	__u32 zero = 0;
	struct weir_ct_entry *entry = bpf_map_lookup_elem(&ct_staging, &zero);

	if (!entry)
		return -1;
	__builtin_memset(entry, 0, sizeof(*entry));
	entry->created_ns = now;
	entry->forward_packets = 1;
	entry->forward_bytes = packet->length;
	entry->revision = revision;
	entry->rule_id = rule_id;
	entry->source_endpoint_id = source_endpoint_id;
	entry->destination_endpoint_id = destination_endpoint_id;
	entry->nat_address = nat_address;
	entry->nat_port = nat_port;
	entry->flags = (nat_address ? WEIR_CT_FLAG_REVNAT : 0) | extra_flags;
	if (packet->protocol == IPPROTO_TCP) {
		entry->state = (packet->tcp_flags & TCP_FLAG_SYN) &&
					       !(packet->tcp_flags & TCP_FLAG_ACK)
				       ? WEIR_CT_SYN_SENT
				       : WEIR_CT_ESTABLISHED;
		/* Seen from its SYN: the client's first byte is the next one. Otherwise the
		 * stream position stays unknown and HTTP rules refuse the connection's data. */
		if (entry->state == WEIR_CT_SYN_SENT) {
			entry->http_next_sequence = packet->tcp_sequence + 1;
			entry->http_synced = 1;
		}
	} else {
		entry->state = WEIR_CT_OPEN;
	}
	entry->expires_ns = now + ct_timeout(packet->protocol, entry->state);
	return bpf_map_update_elem(&ct, key, entry, BPF_ANY);
}

/* Packets and bytes per direction, for the connection's summary when it ends. */
static __always_inline void ct_account(struct weir_ct_entry *entry, const struct packet *packet,
				       int is_reply)
{
	if (is_reply) {
		__sync_fetch_and_add(&entry->reply_packets, 1);
		__sync_fetch_and_add(&entry->reply_bytes, packet->length);
	} else {
		__sync_fetch_and_add(&entry->forward_packets, 1);
		__sync_fetch_and_add(&entry->forward_bytes, packet->length);
	}
}

/* The TCP connection ended with this packet: a RST, or the second direction's FIN. Returns the
 * cause (enum weir_flow_end_cause) the first time, 0 otherwise. */
static __always_inline __u8 ct_tcp_ended(struct weir_ct_entry *entry, const struct packet *packet,
					 int is_reply)
{
	if (packet->protocol != IPPROTO_TCP || entry->flow_end_reported)
		return 0;
	if (packet->tcp_flags & TCP_FLAG_RST) {
		entry->flow_end_reported = 1;
		return WEIR_FLOW_END_RESET;
	}
	if (!(packet->tcp_flags & TCP_FLAG_FIN))
		return 0;
	entry->flags |= is_reply ? WEIR_CT_FLAG_REPLY_FIN : WEIR_CT_FLAG_FORWARD_FIN;
	if ((entry->flags & (WEIR_CT_FLAG_REPLY_FIN | WEIR_CT_FLAG_FORWARD_FIN)) !=
	    (WEIR_CT_FLAG_REPLY_FIN | WEIR_CT_FLAG_FORWARD_FIN))
		return 0;
	entry->flow_end_reported = 1;
	return WEIR_FLOW_END_FIN;
}

#endif
