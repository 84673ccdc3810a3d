/* Connection tracking. One LRU entry per connection, keyed by the tuple of its first packet.
 * A packet matching the key is the connection's forward direction; one matching the swapped
 * key is a reply; an ICMP error whose inner tuple matches either is related. Everything else
 * is new and is judged by policy. Entries expire by protocol and TCP state. */
#ifndef WEIR_BPF_CONNTRACK_H
#define WEIR_BPF_CONNTRACK_H

#include "endpoints.h"
#include "identity.h"
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

/* Whether an ICMP error could honestly report on the packet it quotes (the tuple as its
 * sender sent it): it must go back to that sender, and come from the quoted destination itself
 * or from a hop on the way, which a pod never is (pods do not route); a pod's own error
 * (from_pod) must therefore come from the quoted destination. Anything else is no relative of
 * the connection, however well it quotes it. */
static __always_inline int icmp_error_from_a_hop(const struct packet *packet, int from_pod)
{
	__u32 identity;

	if (packet->destination != packet->inner.source)
		return 0;
	if (packet->source == packet->inner.destination)
		return 1;
	if (from_pod)
		return 0;
	identity = identity_of(packet->source);
	return identity < WEIR_IDENTITY_FIRST_CLUSTER || identity >= WEIR_IDENTITY_FIRST_CIDR;
}

/* The key is swapped in place, not copied: from_pod's stack is near the verifier's limit. */
static __always_inline struct ct_lookup_result ct_lookup(const struct packet *packet, __u64 now,
							 int from_pod)
{
	struct ct_lookup_result result = { .status = CT_NEW };

	if (packet->is_icmp_error) {
		if (!icmp_error_from_a_hop(packet, from_pod)) {
			ct_key_of(packet, &result.key);
			return result;
		}
		/* The inner packet travelled the other way: it is the tuple as its sender sent it. */
		result.key = packet->inner;
		result.entry = ct_find(&result.key, now);
		if (result.entry) {
			result.status = CT_RELATED;
			return result;
		}
		ct_key_swap(&packet->inner, &result.key);
		result.entry = ct_find(&result.key, now);
		if (result.entry) {
			result.status = CT_RELATED;
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
	result.key.source = packet->destination;
	result.key.destination = packet->source;
	result.key.source_port = packet->destination_port;
	result.key.destination_port = packet->source_port;
	result.entry = ct_find(&result.key, now);
	if (result.entry) {
		result.status = CT_REPLY;
		return result;
	}
	ct_key_of(packet, &result.key);
	return result;
}

/* Whether a side of the entry is still the endpoint it was made for: the same local endpoint
 * (id and generation), or still no local endpoint. */
static __always_inline int ct_side_current(__u32 entry_id, __u32 entry_generation,
					   const struct weir_endpoint *endpoint)
{
	if (!endpoint)
		return entry_id == 0;
	return entry_id == endpoint->endpoint_id && entry_generation == endpoint->generation;
}

#define CT_TOWARDS_SOURCE (1U << 0) /* a reply, or an ICMP error about a forward packet */
#define CT_KNOW_SENDER (1U << 1)
#define CT_KNOW_RECEIVER (1U << 2)

/* Whether the entry still belongs to the endpoints the packet is between. An address that
 * became a local pod after the entry was made, or a pod that took a deleted pod's address,
 * would otherwise inherit a connection its own policy never judged. sender/receiver: the
 * packet's local endpoints where the hook knows them (NULL: not local); a side the hook cannot
 * know (no CT_KNOW_* bit) is not compared. */
static __always_inline int ct_endpoints_current(const struct weir_ct_entry *entry,
					   const struct weir_endpoint *sender,
					   const struct weir_endpoint *receiver, __u32 how)
{
	const struct weir_endpoint *at_source = how & CT_TOWARDS_SOURCE ? receiver : sender;
	const struct weir_endpoint *at_destination = how & CT_TOWARDS_SOURCE ? sender : receiver;
	__u32 know_source = how & (how & CT_TOWARDS_SOURCE ? CT_KNOW_RECEIVER : CT_KNOW_SENDER);
	__u32 know_destination = how & (how & CT_TOWARDS_SOURCE ? CT_KNOW_SENDER : CT_KNOW_RECEIVER);

	if (know_source && !ct_side_current(entry->source_endpoint_id,
					    entry->source_endpoint_generation, at_source))
		return 0;
	if (know_destination &&
	    !ct_side_current(entry->destination_endpoint_id,
			     entry->destination_endpoint_generation, at_destination))
		return 0;
	return 1;
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

#define CT_FROM_POD (1U << 3) /* the packet comes from a pod: it reports on nothing it routes */

/* The connection of a packet (ct_lookup), but only when its entry belongs to the packet's
 * endpoints (ct_endpoints_current): a stale entry is forgotten and the packet is new. how:
 * CT_FROM_POD, CT_KNOW_SENDER, CT_KNOW_RECEIVER. Not inlined: from_pod's frame is near the
 * verifier's stack limit. */
static __noinline int ct_track(const struct packet *packet, struct ct_lookup_result *result,
			       const struct weir_endpoint *sender,
			       const struct weir_endpoint *receiver, __u32 how)
{
	*result = ct_lookup(packet, bpf_ktime_get_ns(), how & CT_FROM_POD);
	if (result->status == CT_NEW || !result->entry)
		return 0;
	if (result->status == CT_RELATED) {
		/* An error about a connection, whoever reports it: both of the connection's ends
		 * must still be the endpoints it was judged for. */
		if (ct_endpoints_current(result->entry,
					 local_endpoint_by_address(result->key.source),
					 local_endpoint_by_address(result->key.destination),
					 CT_KNOW_SENDER | CT_KNOW_RECEIVER))
			return 0;
		result->status = CT_NEW;
		result->entry = 0;
		ct_key_of(packet, &result->key);
		return 0;
	}
	if (result->status == CT_REPLY)
		how |= CT_TOWARDS_SOURCE;
	if (ct_endpoints_current(result->entry, sender, receiver, how))
		return 0;
	bpf_map_delete_elem(&ct, &result->key);
	result->status = CT_NEW;
	result->entry = 0;
	ct_key_of(packet, &result->key);
	return 0;
}

/* What a new entry starts with besides its packet and endpoints. */
struct ct_origin {
	__u32 revision;	   /* the policy revision that judged it */
	__u32 rule_id;
	__u32 nat_address; /* the VIP the client addressed, when the connection was translated
			    * (replies then get it back as their source); 0 otherwise */
	__u16 nat_port;
	__u8 flags; /* WEIR_CT_FLAG_* besides REVNAT */
	__u8 reserved;
};

/* Where a new entry is put together before it is inserted: a per-CPU map value instead of
 * the stack, which the programs that create entries need for the HTTP inspection they call. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weir_ct_entry);
} ct_staging SEC(".maps");

/* Not inlined, and built in ct_staging: from_pod's frame is near the verifier's stack limit. */
static __noinline int ct_create(const struct weir_ct_key *key, const struct packet *packet,
				const struct weir_endpoint *source,
				const struct weir_endpoint *destination,
				const struct ct_origin *origin)
{
	__u64 now = bpf_ktime_get_ns();
	__u32 zero = 0;
	struct weir_ct_entry *entry = bpf_map_lookup_elem(&ct_staging, &zero);

	if (!entry)
		return -1;
	__builtin_memset(entry, 0, sizeof(*entry));
	entry->created_ns = now;
	entry->forward_packets = 1;
	entry->forward_bytes = packet->length;
	entry->revision = origin->revision;
	entry->rule_id = origin->rule_id;
	entry->source_endpoint_id = source ? source->endpoint_id : 0;
	entry->destination_endpoint_id = destination ? destination->endpoint_id : 0;
	entry->source_endpoint_generation = source ? source->generation : 0;
	entry->destination_endpoint_generation = destination ? destination->generation : 0;
	entry->nat_address = origin->nat_address;
	entry->nat_port = origin->nat_port;
	entry->flags = (origin->nat_address ? WEIR_CT_FLAG_REVNAT : 0) | origin->flags;
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
