/* Packets the datapath writes itself when it refuses an HTTP request: the request turned around
 * into "403 Forbidden" + FIN for the client, later client packets turned into a RST for the
 * server (which never saw the request) or into bare ACKs that let the client close cleanly.
 * The whole TCP segment is rebuilt in scratch memory and its checksums computed from scratch.
 * A packet marked WEIR_MARK_SYNTHESIZED is one of these, and is not inspected again. */
#ifndef WEIR_BPF_HTTP_ANSWER_H
#define WEIR_BPF_HTTP_ANSWER_H

#include <linux/pkt_cls.h>

#include "http_parse.h"
#include "parse.h"
#include "reset.h"

#define WEIR_MARK_SYNTHESIZED 0x77650001 /* "we" + 1 */

#define TCP_FLAG_PSH 0x08

/* 92 bytes: a multiple of 4, as the checksum helper needs. */
#define HTTP_FORBIDDEN_TEXT                                                                       \
	"HTTP/1.1 403 Forbidden\r\n"                                                              \
	"content-length: 27\r\n"                                                                  \
	"connection: close\r\n"                                                                   \
	"\r\n"                                                                                    \
	"denied by weir L7 policy.\r\n"
#define HTTP_FORBIDDEN_LENGTH (sizeof(HTTP_FORBIDDEN_TEXT) - 1)

_Static_assert(HTTP_FORBIDDEN_LENGTH % 4 == 0, "checksummed in 4-byte words");

struct segment_rewrite {
	__u8 turn_around; /* swap addresses and ports: the packet goes back to its sender */
	__u8 flags;	  /* TCP flags to set */
	__u8 forbidden;	  /* payload: the 403 answer; else none */
	__u8 strip_options;
	__u32 sequence;	  /* host byte order */
	__u32 acknowledgment;
	/* Turned-around packets of a translated connection: the client addressed a Service VIP,
	 * so the answer must come from it (and, hairpin, go to the real client). 0: keep. */
	__u32 answer_source; /* network byte order */
	__u16 answer_source_port;
	__u32 answer_destination;
};

/* Swaps TSval and TSecr so a turned-around segment passes the receiver's PAWS check. */
static __always_inline void tcp_timestamps_turn_around(__u8 *options, __u32 options_length)
{
	__u32 at = 0;

#pragma unroll
	for (int step = 0; step < 10; step++) {
		__u8 kind, length;

		if (at + 2 > options_length || at >= 40)
			return;
		kind = options[at & 63];
		if (kind == 0)
			return;
		if (kind == 1) {
			at++;
			continue;
		}
		length = options[(at + 1) & 63];
		if (length < 2)
			return;
		if (kind == 8 && length == 10 && at + 10 <= options_length && at + 10 <= 40) {
			__u8 value[4];
			__u32 first = (at + 2) & 63, second = (at + 6) & 63;

			if (first + 4 > 64 || second + 4 > 64)
				return;
			__builtin_memcpy(value, options + first, 4);
			__builtin_memcpy(options + first, options + second, 4);
			__builtin_memcpy(options + second, value, 4);
			return;
		}
		at += length;
	}
}

/* Rewrites the TCP/IPv4 packet in skb as described. 0 on success, -1 when it cannot (IP options,
 * a segment that does not fit): the caller then drops instead. */
static __always_inline int tcp_segment_rewrite(struct __sk_buff *skb,
					       const struct segment_rewrite *rewrite)
{
	__u32 zero = 0;
	struct http_scratch *scratch = bpf_map_lookup_elem(&http_scratch, &zero);
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr *tcp;
	struct pseudo_header pseudo;
	__u32 header_length, options_length, segment_length, address;
	__u32 payload_length = rewrite->forbidden ? HTTP_FORBIDDEN_LENGTH : 0;
	__u16 port;
	__s64 sum;
	__u8 mac[6];

	if (!scratch)
		return -1;
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0 ||
	    bpf_skb_load_bytes(skb, sizeof(eth), &ip, sizeof(ip)) < 0 || ip.ihl != 5)
		return -1;
	if (bpf_skb_load_bytes(skb, sizeof(eth) + sizeof(ip), scratch->segment, 20) < 0)
		return -1;
	tcp = (struct tcphdr *)scratch->segment;
	header_length = rewrite->strip_options ? 20 : tcp->doff * 4;
	if (header_length < 20 || header_length > 60)
		return -1;
	options_length = (header_length - 20) & 63;
	if (options_length > 0 && options_length <= 40 &&
	    bpf_skb_load_bytes(skb, sizeof(eth) + sizeof(ip) + 20, scratch->segment + 20,
			       options_length) < 0)
		return -1;

	if (rewrite->turn_around) {
		__builtin_memcpy(mac, eth.h_source, 6);
		__builtin_memcpy(eth.h_source, eth.h_dest, 6);
		__builtin_memcpy(eth.h_dest, mac, 6);
		address = ip.saddr;
		ip.saddr = ip.daddr;
		ip.daddr = address;
		port = tcp->source;
		tcp->source = tcp->dest;
		tcp->dest = port;
		ip.ttl = 64;
		if (rewrite->answer_source) {
			ip.saddr = rewrite->answer_source;
			tcp->source = rewrite->answer_source_port;
		}
		if (rewrite->answer_destination)
			ip.daddr = rewrite->answer_destination;
		if (header_length > 20)
			tcp_timestamps_turn_around(scratch->segment + 20, header_length - 20);
	}
	tcp->seq = bpf_htonl(rewrite->sequence);
	tcp->ack_seq = bpf_htonl(rewrite->acknowledgment);
	scratch->segment[12] = (header_length / 4) << 4;
	scratch->segment[13] = rewrite->flags;
	tcp->urg_ptr = 0;
	tcp->check = 0;
	if (rewrite->strip_options)
		tcp->window = 0;
	if (rewrite->forbidden)
		__builtin_memcpy(scratch->segment + (header_length & 63), HTTP_FORBIDDEN_TEXT,
				 HTTP_FORBIDDEN_LENGTH);
	segment_length = header_length + payload_length;
	if (segment_length > HTTP_SEGMENT_BYTES)
		return -1;

	ip.tot_len = bpf_htons(sizeof(ip) + segment_length);
	ip.frag_off = 0;
	ip.check = 0;
	sum = bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0);
	ip.check = checksum_fold(sum);
	pseudo.source = ip.saddr;
	pseudo.destination = ip.daddr;
	pseudo.zero = 0;
	pseudo.protocol = IPPROTO_TCP;
	pseudo.length = bpf_htons(segment_length);
	sum = bpf_csum_diff(0, 0, (__be32 *)&pseudo, sizeof(pseudo), 0);
	sum = bpf_csum_diff(0, 0, (__be32 *)scratch->segment, segment_length & 0x1fc, (__u32)sum);
	tcp->check = checksum_fold(sum);

	if (skb->len != sizeof(eth) + sizeof(ip) + segment_length &&
	    bpf_skb_change_tail(skb, sizeof(eth) + sizeof(ip) + segment_length, 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) < 0 ||
	    bpf_skb_store_bytes(skb, sizeof(eth), &ip, sizeof(ip), 0) < 0)
		return -1;
	scratch = bpf_map_lookup_elem(&http_scratch, &zero);
	if (!scratch)
		return -1;
	if (bpf_skb_store_bytes(skb, sizeof(eth) + sizeof(ip), scratch->segment,
				segment_length & 0xff, 0) < 0)
		return -1;
	return 0;
}

#endif
