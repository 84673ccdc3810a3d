/* Masquerading on the node's uplink: a pod's connection to something outside the cluster
 * leaves with the node's address (and a node port chosen here), and its replies are mapped back.
 * Both directions live in one LRU map, so an idle flow's mapping ages out on its own. */
#ifndef WEIR_BPF_MASQUERADE_H
#define WEIR_BPF_MASQUERADE_H

#include <linux/pkt_cls.h>

#include "identity.h"
#include "lb.h"
#include "maps.h"
#include "metrics.h"
#include "parse.h"

#define MASQUERADE_PORT_TRIES 16

static __always_inline int outside_the_cluster(__u32 address)
{
	__u32 identity = identity_of(address);

	return identity == WEIR_IDENTITY_WORLD || identity >= WEIR_IDENTITY_FIRST_CIDR;
}

/* Egress on the uplink: returns TC_ACT_OK after translating, or leaving the packet alone. */
static __always_inline int masquerade_egress(struct __sk_buff *skb, struct packet *packet,
					     const struct weir_uplink *uplink)
{
	struct weir_snat_key forward = { .local = packet->source, .peer = packet->destination,
					 .local_port = packet->source_port,
					 .peer_port = packet->destination_port,
					 .protocol = packet->protocol,
					 .direction = WEIR_DIRECTION_EGRESS };
	struct weir_snat_entry *mapped = bpf_map_lookup_elem(&snat, &forward);
	__u64 now = bpf_ktime_get_ns();

	if (!mapped) {
		struct weir_snat_key reverse = { .local = uplink->address,
						 .peer = packet->destination,
						 .peer_port = packet->destination_port,
						 .protocol = packet->protocol,
						 .direction = WEIR_DIRECTION_INGRESS };
		struct weir_snat_entry back = { .address = packet->source,
						.port = packet->source_port, .last_used_ns = now };
		struct weir_snat_entry out = { .address = uplink->address, .last_used_ns = now };
		__u32 start = flow_hash(packet);
		int found = 0;

		for (int attempt = 0; attempt < MASQUERADE_PORT_TRIES; attempt++) {
			__u16 port = (__u16)(WEIR_SNAT_PORT_FIRST +
					     (start + (__u32)attempt * 7919) % WEIR_SNAT_PORT_COUNT);
			reverse.local_port = bpf_htons(port);
			if (bpf_map_update_elem(&snat, &reverse, &back, BPF_NOEXIST) == 0) {
				out.port = reverse.local_port;
				found = 1;
				break;
			}
		}
		if (!found) {
			metrics_count(WEIR_COUNTER_MASQUERADE_NO_PORT);
			return TC_ACT_SHOT;
		}
		bpf_map_update_elem(&snat, &forward, &out, BPF_ANY);
		mapped = bpf_map_lookup_elem(&snat, &forward);
		if (!mapped)
			return TC_ACT_SHOT;
	}
	mapped->last_used_ns = now;
	if (nat_rewrite(skb, packet, 0, mapped->address, mapped->port) < 0)
		return TC_ACT_SHOT;
	metrics_count(WEIR_COUNTER_MASQUERADED);
	return TC_ACT_OK;
}

/* Ingress on the uplink: maps a reply to a masqueraded flow back to the pod. Returns 1 when
 * it did (the packet now goes to the pod), 0 when the packet is not one. */
static __always_inline int masquerade_ingress(struct __sk_buff *skb, struct packet *packet)
{
	struct weir_snat_key reverse = { .local = packet->destination, .peer = packet->source,
					 .local_port = packet->destination_port,
					 .peer_port = packet->source_port,
					 .protocol = packet->protocol,
					 .direction = WEIR_DIRECTION_INGRESS };
	struct weir_snat_entry *back = bpf_map_lookup_elem(&snat, &reverse);

	if (!back)
		return 0;
	back->last_used_ns = bpf_ktime_get_ns();
	if (nat_rewrite(skb, packet, 1, back->address, back->port) < 0)
		return -1;
	metrics_count(WEIR_COUNTER_MASQUERADE_REPLY);
	return 1;
}

#endif
