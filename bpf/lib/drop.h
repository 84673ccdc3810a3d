/* Dropping a packet always names why: an exact per-CPU counter per {endpoint, reason,
 * direction}, the global dropped counter, and a (rate-limited) drop event. */
#ifndef WEIR_BPF_DROP_H
#define WEIR_BPF_DROP_H

#include <linux/pkt_cls.h>

#include "events.h"
#include "maps.h"
#include "metrics.h"

static __always_inline void drop_count(__u32 endpoint_id, __u8 reason, __u8 direction,
				       __u32 length)
{
	struct weir_drop_key key = { .endpoint_id = endpoint_id, .reason = reason,
				     .direction = direction };
	struct weir_drop_counter *counter = bpf_map_lookup_elem(&drops, &key);

	if (!counter) {
		struct weir_drop_counter zero = {};
		bpf_map_update_elem(&drops, &key, &zero, BPF_NOEXIST);
		counter = bpf_map_lookup_elem(&drops, &key);
		if (!counter)
			return; /* drops map full: the global counter below still counts it */
	}
	counter->packets += 1;
	counter->bytes += length;
}

/* Counts, reports and returns TC_ACT_SHOT. */
static __always_inline int drop_packet(const struct packet *packet, __u32 endpoint_id, __u8 reason,
				       __u8 direction, __u32 peer_identity, __u32 rule_id)
{
	drop_count(endpoint_id, reason, direction, packet->length);
	metrics_count(WEIR_COUNTER_DROPPED);
	event_emit(reason == WEIR_DROP_POLICY_REVOKED ? WEIR_EVENT_REVOKED : WEIR_EVENT_DROP,
		   reason, direction, endpoint_id, peer_identity, rule_id, packet);
	return TC_ACT_SHOT;
}

#endif
