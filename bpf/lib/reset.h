/* Cutting a revoked TCP connection: the packet in hand is rewritten into a RST for the pod,
 * either in place (a packet on its way to the pod) or turned around (a packet the pod sent),
 * so the application sees "connection reset" instead of hanging on a silently dead flow. */
#ifndef WEIR_BPF_RESET_H
#define WEIR_BPF_RESET_H

#include <linux/pkt_cls.h>

#include "metrics.h"
#include "parse.h"

#define RESET_FRAME_LENGTH (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))

static __always_inline __u16 checksum_fold(__s64 sum)
{
	__u64 folded = (__u64)sum;

	folded = (folded & 0xffffffff) + (folded >> 32);
	folded = (folded & 0xffff) + (folded >> 16);
	folded = (folded & 0xffff) + (folded >> 16);
	return (__u16)~folded;
}

struct pseudo_header {
	__u32 source;
	__u32 destination;
	__u8 zero;
	__u8 protocol;
	__u16 length;
};

/* Returns 0 when the skb now holds the RST, -1 when it could not be built. */
static __always_inline int tcp_reset_rewrite(struct __sk_buff *skb, int turn_around)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);
	struct pseudo_header pseudo;
	__u32 sequence, acknowledgment, payload;
	__u8 flags, mac[6];
	__s64 sum;

	if ((void *)(tcp + 1) > data_end || ip->ihl != 5)
		return -1;
	flags = ((__u8 *)tcp)[13];
	payload = bpf_ntohs(ip->tot_len) - sizeof(*ip) - tcp->doff * 4;
	sequence = bpf_ntohl(tcp->seq);
	acknowledgment = bpf_ntohl(tcp->ack_seq);

	if (skb->len > RESET_FRAME_LENGTH && bpf_skb_change_tail(skb, RESET_FRAME_LENGTH, 0) < 0)
		return -1;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end)
		return -1;

	if (turn_around) {
		__u32 address = ip->saddr;
		__u16 port = tcp->source;

		__builtin_memcpy(mac, eth->h_source, 6);
		__builtin_memcpy(eth->h_source, eth->h_dest, 6);
		__builtin_memcpy(eth->h_dest, mac, 6);
		ip->saddr = ip->daddr;
		ip->daddr = address;
		tcp->source = tcp->dest;
		tcp->dest = port;
		if (flags & TCP_FLAG_ACK) {
			tcp->seq = bpf_htonl(acknowledgment);
			tcp->ack_seq = 0;
			((__u8 *)tcp)[13] = TCP_FLAG_RST;
		} else {
			tcp->seq = 0;
			tcp->ack_seq = bpf_htonl(sequence + payload +
						 ((flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) ? 1 : 0));
			((__u8 *)tcp)[13] = TCP_FLAG_RST | TCP_FLAG_ACK;
		}
	} else {
		tcp->ack_seq = 0;
		((__u8 *)tcp)[13] = TCP_FLAG_RST;
	}
	((__u8 *)tcp)[12] = 5 << 4; /* data offset 5, no options */
	tcp->window = 0;
	tcp->urg_ptr = 0;
	tcp->check = 0;
	ip->tot_len = bpf_htons(sizeof(*ip) + sizeof(*tcp));
	ip->ttl = 64;
	ip->check = 0;
	ip->frag_off = 0;

	sum = bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0);
	ip->check = checksum_fold(sum);
	pseudo.source = ip->saddr;
	pseudo.destination = ip->daddr;
	pseudo.zero = 0;
	pseudo.protocol = IPPROTO_TCP;
	pseudo.length = bpf_htons(sizeof(*tcp));
	sum = bpf_csum_diff(0, 0, (__be32 *)&pseudo, sizeof(pseudo), 0);
	sum = bpf_csum_diff(0, 0, (__be32 *)tcp, sizeof(*tcp), (__u32)sum);
	tcp->check = checksum_fold(sum);
	metrics_count(WEIR_COUNTER_RESETS_SENT);
	return 0;
}

#endif
