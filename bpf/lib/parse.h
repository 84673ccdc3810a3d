/* Bounds-checked header access: every pointer handed out has been checked against data_end,
 * so a truncated or hostile packet is reported as such instead of being read past its end. */
#ifndef WEIR_BPF_PARSE_H
#define WEIR_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>

enum parse_result {
	PARSE_IPV4 = 0,
	PARSE_NOT_IPV4,
	PARSE_TRUNCATED,
};

struct packet {
	struct ethhdr *eth;
	struct iphdr *ip4;
};

static __always_inline enum parse_result parse_packet(struct __sk_buff *skb, struct packet *packet)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip4;

	if ((void *)(eth + 1) > data_end)
		return PARSE_TRUNCATED;
	packet->eth = eth;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_IPV4;
	ip4 = (void *)(eth + 1);
	if ((void *)(ip4 + 1) > data_end)
		return PARSE_TRUNCATED;
	if (ip4->ihl < 5 || ip4->version != 4)
		return PARSE_TRUNCATED;
	packet->ip4 = ip4;
	return PARSE_IPV4;
}

#endif
