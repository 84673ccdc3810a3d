/* Masquerading on the node's uplink: a pod's connection to something outside the cluster
 * leaves with the node's address (and a node port chosen here), and its replies are mapped back.
 * A mapping is a pair of halves (abi.h) that are only trusted together: a reply whose reverse
 * half no longer belongs to a live forward half is dropped, never handed to whoever holds the
 * port, and a flow whose port was lost is mapped anew. Each pod holds at most
 * WEIR_SNAT_PORTS_PER_POD mappings; the agent's sweep removes idle pairs whole. */
#ifndef WEIR_BPF_MASQUERADE_H
#define WEIR_BPF_MASQUERADE_H

#include <linux/pkt_cls.h>

#include "drop.h"
#include "identity.h"
#include "lb.h"
#include "maps.h"
#include "metrics.h"
#include "parse.h"

#define MASQUERADE_PORT_TRIES 16

enum masquerade_result {
	MASQUERADE_NOT_OURS = 0, /* not a reply to a masqueraded flow */
	MASQUERADE_TRANSLATED = 1,
	MASQUERADE_FAILED = -1,	  /* the rewrite failed */
	MASQUERADE_ORPHAN = -2,	  /* a reverse half without its forward half: drop */
};

static __always_inline int outside_the_cluster(__u32 address)
{
	__u32 identity = identity_of(address);

	return identity == WEIR_IDENTITY_WORLD || identity >= WEIR_IDENTITY_FIRST_CIDR;
}

static __always_inline void snat_touch(struct weir_snat_entry *half, const struct packet *packet,
				       __u64 now)
{
	half->last_used_ns = now;
	if (packet->protocol == IPPROTO_TCP && (packet->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) &&
	    !(half->flags & WEIR_SNAT_FLAG_CLOSING))
		half->flags |= WEIR_SNAT_FLAG_CLOSING;
}

/* Mappings the pod holds now: what the datapath made less what the sweep released. */
static __always_inline __u64 snat_in_use(__u32 pod)
{
	__u64 *allocated = bpf_map_lookup_elem(&snat_allocated, &pod);
	__u64 *released = bpf_map_lookup_elem(&snat_released, &pod);
	__u64 made = allocated ? *allocated : 0, freed = released ? *released : 0;

	return made > freed ? made - freed : 0;
}

static __always_inline void snat_count(__u32 pod, __s64 delta)
{
	__u64 *allocated = bpf_map_lookup_elem(&snat_allocated, &pod);

	if (!allocated) {
		__u64 zero = 0;
		bpf_map_update_elem(&snat_allocated, &pod, &zero, BPF_NOEXIST);
		allocated = bpf_map_lookup_elem(&snat_allocated, &pod);
		if (!allocated)
			return;
	}
	__sync_fetch_and_add(allocated, (__u64)delta);
}

/* Egress on the uplink: returns TC_ACT_OK after translating, TC_ACT_SHOT when refused.
 * endpoint_id: the local pod sending (0: a NodePort request forwarded to another node). */
static __always_inline int masquerade_egress(struct __sk_buff *skb, struct packet *packet,
					     const struct weir_uplink *uplink, __u32 endpoint_id)
{
	struct weir_snat_key forward = { .local = packet->source, .peer = packet->destination,
					 .local_port = packet->source_port,
					 .peer_port = packet->destination_port,
					 .protocol = packet->protocol,
					 .direction = WEIR_DIRECTION_EGRESS };
	struct weir_snat_key reverse = { .peer = packet->destination,
					 .peer_port = packet->destination_port,
					 .protocol = packet->protocol,
					 .direction = WEIR_DIRECTION_INGRESS };
	struct weir_snat_entry *mapped = bpf_map_lookup_elem(&snat, &forward);
	__u64 now = bpf_ktime_get_ns();

	if (mapped) {
		struct weir_snat_entry *back;

		reverse.local = mapped->address;
		reverse.local_port = mapped->port;
		back = bpf_map_lookup_elem(&snat, &reverse);
		if (!back || back->address != packet->source || back->port != packet->source_port) {
			/* Its port is no longer this flow's: never share it, map the flow anew. */
			__u8 counted = !(mapped->flags & WEIR_SNAT_FLAG_UNCOUNTED);
			if (bpf_map_delete_elem(&snat, &forward) == 0 && counted)
				snat_count(packet->source, -1);
			mapped = 0;
		}
	}
	if (!mapped) {
		struct weir_snat_entry back = { .address = packet->source,
						.port = packet->source_port, .last_used_ns = now };
		struct weir_snat_entry out = { .address = uplink->address, .last_used_ns = now,
					       .flags = endpoint_id ? 0 : WEIR_SNAT_FLAG_UNCOUNTED };
		__u32 start = flow_hash(packet);
		int found = 0;

		/* The quota is the pods': a NodePort's clients (endpoint_id 0) may be one load
		 * balancer speaking for many. */
		if (endpoint_id && snat_in_use(packet->source) >= WEIR_SNAT_PORTS_PER_POD)
			return drop_packet(packet, endpoint_id, WEIR_DROP_MASQUERADE_QUOTA,
					   WEIR_DIRECTION_EGRESS, WEIR_IDENTITY_WORLD, 0);
		reverse.local = uplink->address;
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
		if (bpf_map_update_elem(&snat, &forward, &out, BPF_NOEXIST) < 0) {
			/* Another CPU mapped the same flow meanwhile, or the map is full. */
			bpf_map_delete_elem(&snat, &reverse);
			mapped = bpf_map_lookup_elem(&snat, &forward);
			if (!mapped)
				return drop_packet(packet, endpoint_id, WEIR_DROP_MAP_FULL,
						   WEIR_DIRECTION_EGRESS, WEIR_IDENTITY_WORLD, 0);
		} else {
			if (endpoint_id)
				snat_count(packet->source, 1);
			mapped = bpf_map_lookup_elem(&snat, &forward);
			if (!mapped)
				return TC_ACT_SHOT;
		}
	}
	snat_touch(mapped, packet, now);
	if (nat_rewrite(skb, packet, 0, mapped->address, mapped->port) < 0)
		return TC_ACT_SHOT;
	metrics_count(WEIR_COUNTER_MASQUERADED);
	return TC_ACT_OK;
}

/* Ingress on the uplink: maps a reply to a masqueraded flow back to the pod. A function of its
 * own (enum masquerade_result), so its keys stay off the uplink program's stack. */
static __attribute__((noinline)) int masquerade_ingress(struct __sk_buff *skb,
							struct packet *packet)
{
	struct weir_snat_key reverse = { .local = packet->destination, .peer = packet->source,
					 .local_port = packet->destination_port,
					 .peer_port = packet->source_port,
					 .protocol = packet->protocol,
					 .direction = WEIR_DIRECTION_INGRESS };
	struct weir_snat_entry *back = bpf_map_lookup_elem(&snat, &reverse);
	struct weir_snat_entry *out;
	struct weir_snat_key forward;
	__u64 now;

	if (!back)
		return MASQUERADE_NOT_OURS;
	forward = (struct weir_snat_key){ .local = back->address, .peer = packet->source,
					  .local_port = back->port,
					  .peer_port = packet->source_port,
					  .protocol = packet->protocol,
					  .direction = WEIR_DIRECTION_EGRESS };
	out = bpf_map_lookup_elem(&snat, &forward);
	if (!out || out->address != packet->destination || out->port != packet->destination_port)
		return MASQUERADE_ORPHAN;
	now = bpf_ktime_get_ns();
	snat_touch(back, packet, now);
	if (nat_rewrite(skb, packet, 1, back->address, back->port) < 0)
		return MASQUERADE_FAILED;
	metrics_count(WEIR_COUNTER_MASQUERADE_REPLY);
	return MASQUERADE_TRANSLATED;
}

#endif
