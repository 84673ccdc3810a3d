/* Forwarding from the uplink's TC ingress without the host stack: a packet whose source is
 * this node's own address (a NodePort request SNATed to it, or a NodePort reply restored to
 * nodeIP:nodePort) would be dropped by the stack as a martian, so it is routed here with the
 * kernel's FIB and redirected out of the interface the route names. */
#ifndef WEIR_BPF_FORWARD_H
#define WEIR_BPF_FORWARD_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stddef.h>

#include "deliver.h"
#include "drop.h"
#include "parse.h"

#define WEIR_AF_INET 2

static __always_inline int forward_ttl_decrement(struct __sk_buff *skb, const struct packet *packet)
{
	__u16 old_word = bpf_htons((__u16)packet->ttl << 8 | packet->protocol);
	__u16 new_word = bpf_htons((__u16)(packet->ttl - 1) << 8 | packet->protocol);
	__u8 ttl = packet->ttl - 1;

	if (bpf_skb_store_bytes(skb, IP_TTL_OFFSET, &ttl, 1, 0) < 0 ||
	    bpf_l3_csum_replace(skb, IP_CHECK_OFFSET, old_word, new_word, 2) < 0)
		return -1;
	return 0;
}

/* Routes the packet as it now reads and sends it; drops it, named, when there is no route. A
 * function of its own: the FIB parameters stay off the calling program's stack. */
static __attribute__((noinline)) int forward_by_fib(struct __sk_buff *skb,
						    const struct packet *packet)
{
	struct bpf_fib_lookup fib = {};
	long result;

	if (packet->ttl <= 1)
		return TC_ACT_OK; /* the stack answers with time exceeded */
	fib.family = WEIR_AF_INET;
	fib.l4_protocol = packet->protocol;
	fib.tot_len = packet->l3_length;
	fib.ipv4_src = packet->source;
	fib.ipv4_dst = packet->destination;
	fib.ifindex = skb->ifindex;
	result = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (result == BPF_FIB_LKUP_RET_FWD_DISABLED) {
		/* The node does not forward on this interface: route as the node itself would. */
		fib.ifindex = skb->ifindex;
		result = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT);
	}
	if (result != BPF_FIB_LKUP_RET_SUCCESS && result != BPF_FIB_LKUP_RET_NO_NEIGH)
		return drop_packet(packet, 0, WEIR_DROP_NO_ROUTE, WEIR_DIRECTION_INGRESS, 0, 0);
	if (forward_ttl_decrement(skb, packet) < 0)
		return TC_ACT_SHOT;
	if (result == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, 0, 0, 0);
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), fib.dmac, 6, 0) < 0 ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), fib.smac, 6, 0) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

#endif
