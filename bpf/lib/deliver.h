/* Same-node delivery: after both policies allowed it, a packet for a local pod goes straight
 * into that pod's namespace with bpf_redirect_peer, skipping the host stack. It is rewritten
 * as the host would have forwarded it: MACs of the destination's veth pair, TTL one less. */
#ifndef WEIR_BPF_DELIVER_H
#define WEIR_BPF_DELIVER_H

#include <linux/pkt_cls.h>
#include <stddef.h>

#include "metrics.h"
#include "parse.h"

#define IP_TTL_OFFSET (sizeof(struct ethhdr) + offsetof(struct iphdr, ttl))
#define IP_CHECK_OFFSET (sizeof(struct ethhdr) + offsetof(struct iphdr, check))

static __always_inline int deliver_to_local_pod(struct __sk_buff *skb, const struct packet *packet,
						const struct weir_endpoint *destination)
{
	__u16 old_ttl_word, new_ttl_word;
	__u8 ttl = packet->ttl;

	/* Let the host stack answer with ICMP time exceeded. */
	if (ttl <= 1)
		return TC_ACT_OK;
	old_ttl_word = bpf_htons((__u16)ttl << 8 | packet->protocol);
	new_ttl_word = bpf_htons((__u16)(ttl - 1) << 8 | packet->protocol);
	ttl -= 1;
	if (bpf_skb_store_bytes(skb, IP_TTL_OFFSET, &ttl, 1, 0) < 0 ||
	    bpf_l3_csum_replace(skb, IP_CHECK_OFFSET, old_ttl_word, new_ttl_word, 2) < 0 ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), destination->pod_mac, 6, 0) <
		    0 ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), destination->host_mac, 6,
				0) < 0)
		return TC_ACT_SHOT;
	metrics_count(WEIR_COUNTER_REDIRECTED);
	return bpf_redirect_peer(destination->host_ifindex, 0);
}

#endif
