/* Bounds-checked parsing of Ethernet, IPv4 and TCP/UDP/SCTP/ICMP. Every pointer is checked
 * against data_end before use, so truncated or hostile packets are reported as malformed
 * instead of being read past their end. The result is a copy of the fields the datapath needs;
 * later code never holds packet pointers across helpers that may move the data. */
#ifndef WEIR_BPF_PARSE_H
#define WEIR_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>

#include "abi.h"

/* Own definitions: the uapi icmp.h and if_arp.h pull in libc socket headers. */
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

struct icmp_header {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u16 echo_id; /* echo request/reply; unused otherwise */
	__u16 echo_sequence;
};

enum parse_result {
	PARSE_IPV4 = 0,
	PARSE_ARP,
	PARSE_UNSUPPORTED_L3,
	PARSE_UNSUPPORTED_L4,
	PARSE_MALFORMED,
};

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10
#define TCP_FLAG_URG 0x20

#define IP_MORE_FRAGMENTS 0x2000
#define IP_OFFSET_MASK 0x1fff

struct packet {
	__u8 source_mac[6];
	__u8 protocol;
	__u8 tcp_flags;
	__u32 source; /* network byte order */
	__u32 destination;
	__u16 source_port; /* network byte order; ICMP echo: identifier (see ct.h) */
	__u16 destination_port;
	__u16 ip_id;
	__u8 ihl_bytes;
	__u8 is_fragment;     /* part of a fragmented datagram */
	__u8 is_later_fragment; /* offset != 0: no L4 header */
	__u8 icmp_type;
	__u8 is_icmp_error;
	__u8 ttl;
	__u32 length;
	__u16 l3_length; /* IPv4 total length */
	struct weir_ct_key inner; /* ICMP errors: the tuple of the packet that caused it */
	__u32 arp_sender;	  /* ARP: sender protocol address */
	__u8 arp_sender_mac[6];
	/* TCP: host byte order sequence numbers and where the payload starts in the frame. */
	__u32 tcp_sequence;
	__u32 tcp_acknowledgment;
	__u16 payload_offset;
	__u16 payload_length;
};

struct arp_ipv4 {
	__u16 hardware_type;
	__u16 protocol_type; /* ar_pro */
	__u8 hardware_length;
	__u8 protocol_length;
	__u16 operation;
	__u8 sender_mac[6];
	__u8 sender_ip[4];
	__u8 target_mac[6];
	__u8 target_ip[4];
} __attribute__((packed));

static __always_inline int parse_ports(void *l4, void *data_end, __u8 protocol,
				       __u16 *source_port, __u16 *destination_port)
{
	/* TCP, UDP and SCTP all start with the two ports. */
	__u16 *ports = l4;

	if ((void *)(ports + 2) > data_end)
		return -1;
	*source_port = ports[0];
	*destination_port = ports[1];
	return 0;
}

/* The inner header of an ICMP error: the original packet's IP header and first 8 bytes. */
static __always_inline int parse_icmp_error_inner(void *inner_start, void *data_end,
						  struct weir_ct_key *inner)
{
	struct iphdr *ip = inner_start;
	__u32 ihl_bytes;
	void *l4;

	if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5)
		return -1;
	ihl_bytes = ip->ihl * 4;
	if (ihl_bytes > 60)
		return -1;
	l4 = inner_start + ihl_bytes;
	inner->source = ip->saddr;
	inner->destination = ip->daddr;
	inner->protocol = ip->protocol;
	inner->source_port = 0;
	inner->destination_port = 0;
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP ||
	    ip->protocol == IPPROTO_SCTP)
		return parse_ports(l4, data_end, ip->protocol, &inner->source_port,
				   &inner->destination_port);
	if (ip->protocol == IPPROTO_ICMP) {
		struct icmp_header *icmp = l4;
		if ((void *)(icmp + 1) > data_end)
			return -1;
		if (icmp->type == ICMP_ECHO)
			inner->source_port = icmp->echo_id;
		else if (icmp->type == ICMP_ECHOREPLY)
			inner->destination_port = icmp->echo_id;
		return 0;
	}
	return -1;
}

static __always_inline enum parse_result parse_packet(struct __sk_buff *skb, struct packet *packet)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u16 fragment;
	void *l4;

	packet->length = skb->len;
	if ((void *)(eth + 1) > data_end)
		return PARSE_MALFORMED;
	__builtin_memcpy(packet->source_mac, eth->h_source, 6);
	if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
		struct arp_ipv4 *arp = (void *)(eth + 1);
		if ((void *)(arp + 1) > data_end ||
		    arp->protocol_type != bpf_htons(ETH_P_IP) || arp->hardware_length != 6 ||
		    arp->protocol_length != 4)
			return PARSE_MALFORMED;
		__builtin_memcpy(&packet->arp_sender, arp->sender_ip, 4);
		__builtin_memcpy(packet->arp_sender_mac, arp->sender_mac, 6);
		return PARSE_ARP;
	}
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_UNSUPPORTED_L3;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSE_MALFORMED;
	packet->ihl_bytes = ip->ihl * 4;
	if (bpf_ntohs(ip->tot_len) < packet->ihl_bytes ||
	    bpf_ntohs(ip->tot_len) > skb->len - sizeof(*eth))
		return PARSE_MALFORMED;
	packet->protocol = ip->protocol;
	packet->l3_length = bpf_ntohs(ip->tot_len);
	packet->source = ip->saddr;
	packet->destination = ip->daddr;
	packet->ip_id = ip->id;
	packet->ttl = ip->ttl;
	fragment = bpf_ntohs(ip->frag_off);
	packet->is_fragment = (fragment & (IP_MORE_FRAGMENTS | IP_OFFSET_MASK)) != 0;
	packet->is_later_fragment = (fragment & IP_OFFSET_MASK) != 0;

	switch (ip->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP:
	case IPPROTO_ICMP:
		break;
	default:
		return PARSE_UNSUPPORTED_L4;
	}
	if (packet->is_later_fragment)
		return PARSE_IPV4; /* ports come from the first fragment */

	l4 = (void *)ip + packet->ihl_bytes;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) > data_end)
			return PARSE_MALFORMED;
		if (tcp->doff < 5 || (void *)tcp + tcp->doff * 4 > data_end)
			return PARSE_MALFORMED;
		packet->source_port = tcp->source;
		packet->destination_port = tcp->dest;
		packet->tcp_flags = ((__u8 *)tcp)[13];
		packet->tcp_sequence = bpf_ntohl(tcp->seq);
		packet->tcp_acknowledgment = bpf_ntohl(tcp->ack_seq);
		packet->payload_offset = sizeof(*eth) + packet->ihl_bytes + tcp->doff * 4;
		if (bpf_ntohs(ip->tot_len) < packet->ihl_bytes + tcp->doff * 4)
			return PARSE_MALFORMED;
		packet->payload_length = bpf_ntohs(ip->tot_len) - packet->ihl_bytes - tcp->doff * 4;
		return PARSE_IPV4;
	}
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) > data_end)
			return PARSE_MALFORMED;
		packet->source_port = udp->source;
		packet->destination_port = udp->dest;
		return PARSE_IPV4;
	}
	if (ip->protocol == IPPROTO_SCTP) {
		/* common header: ports, verification tag, checksum */
		if (l4 + 12 > data_end)
			return PARSE_MALFORMED;
		parse_ports(l4, data_end, IPPROTO_SCTP, &packet->source_port,
			    &packet->destination_port);
		return PARSE_IPV4;
	}
	{
		struct icmp_header *icmp = l4;
		if ((void *)(icmp + 1) > data_end)
			return PARSE_MALFORMED;
		packet->icmp_type = icmp->type;
		switch (icmp->type) {
		case ICMP_ECHO:
			packet->source_port = icmp->echo_id;
			break;
		case ICMP_ECHOREPLY:
			packet->destination_port = icmp->echo_id;
			break;
		case ICMP_DEST_UNREACH:
		case ICMP_TIME_EXCEEDED:
		case ICMP_PARAMETERPROB:
			if (parse_icmp_error_inner((void *)(icmp + 1), data_end, &packet->inner) < 0)
				return PARSE_MALFORMED;
			packet->is_icmp_error = 1;
			break;
		default:
			break;
		}
	}
	return PARSE_IPV4;
}

#endif
