/* Frames for BPF_PROG_TEST_RUN. Checksums are right unless a test breaks them, so that the
 * datapath judges these packets on their merits. */
#include "packet.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <string.h>

#include "checksum.h"

static const uint8_t default_source_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t default_destination_mac[6] = { 0x02, 0, 0, 0, 0, 0xfe };

static size_t l4_header_length(const struct packet_spec *spec)
{
	if (spec->later_fragment_without_l4)
		return 0;
	switch (spec->protocol) {
	case IPPROTO_TCP: return sizeof(struct tcphdr);
	case IPPROTO_UDP: return sizeof(struct udphdr);
	case IPPROTO_SCTP: return 12;
	case IPPROTO_ICMP: return 8;
	default: return 0;
	}
}

static size_t ipv4_build(uint8_t *start, size_t size, const struct packet_spec *spec)
{
	struct iphdr *ip = (struct iphdr *)start;
	size_t header = sizeof(*ip) + spec->ip_options_length;
	size_t inner_length = 0;
	uint8_t *l4 = start + header;
	size_t l4_length = l4_header_length(spec) +
			   (spec->protocol == IPPROTO_TCP && spec->tcp_timestamps ? 12 : 0);
	size_t total;

	if (spec->icmp_inner) {
		/* the inner packet: its IP header and the first 8 bytes of its L4 header */
		uint8_t inner[128];
		size_t built = ipv4_build(inner, sizeof(inner), spec->icmp_inner);
		size_t inner_header = (size_t)(inner[0] & 0x0f) * 4;
		inner_length = inner_header + 8 < built ? inner_header + 8 : built;
		if (header + l4_length + inner_length > size)
			return 0;
		memcpy(l4 + l4_length, inner, inner_length);
	}
	total = header + l4_length + inner_length + spec->payload_length;
	if (total > size)
		return 0;
	memset(start, 0, header + l4_length);
	if (spec->payload)
		memcpy(l4 + l4_length + inner_length, spec->payload, spec->payload_length);
	else
		memset(l4 + l4_length + inner_length, 0xab, spec->payload_length);
	ip->version = 4;
	ip->ihl = (uint8_t)(header / 4);
	ip->ttl = spec->ttl ? spec->ttl : 64;
	ip->protocol = spec->protocol;
	ip->tot_len = htons((uint16_t)total);
	ip->id = htons(spec->ip_id);
	ip->frag_off = htons((uint16_t)((spec->more_fragments ? 0x2000 : 0) |
					(spec->fragment_offset & 0x1fff)));
	ip->saddr = htonl(spec->source);
	ip->daddr = htonl(spec->destination);
	memset(start + sizeof(*ip), 1 /* NOP */, spec->ip_options_length);
	ip->check = checksum_finish(checksum_add(0, ip, header));

	if (spec->later_fragment_without_l4)
		return total;
	if (spec->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (struct tcphdr *)l4;
		uint32_t sum;
		struct {
			uint32_t source, destination;
			uint8_t zero, protocol;
			uint16_t length;
		} pseudo = { ip->saddr, ip->daddr, 0, IPPROTO_TCP,
			     htons((uint16_t)(total - header)) };
		tcp->source = htons(spec->source_port);
		tcp->dest = htons(spec->destination_port);
		tcp->seq = htonl(spec->sequence);
		tcp->ack_seq = htonl(spec->acknowledgment);
		tcp->doff = (uint16_t)(l4_length / 4);
		if (spec->tcp_timestamps) {
			static const uint8_t timestamps[12] = { 1, 1, 8, 10, 0x11, 0x11, 0x11, 0x11,
								0x22, 0x22, 0x22, 0x22 };
			memcpy(l4 + 20, timestamps, sizeof(timestamps));
		}
		l4[13] = spec->tcp_flags;
		tcp->window = htons(65535);
		tcp->urg_ptr = htons(spec->urgent_pointer);
		sum = checksum_add(0, &pseudo, sizeof(pseudo));
		tcp->check = checksum_finish(checksum_add(sum, l4, total - header));
	} else if (spec->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (struct udphdr *)l4;
		udp->source = htons(spec->source_port);
		udp->dest = htons(spec->destination_port);
		udp->len = htons((uint16_t)(total - header));
	} else if (spec->protocol == IPPROTO_SCTP) {
		((uint16_t *)l4)[0] = htons(spec->source_port);
		((uint16_t *)l4)[1] = htons(spec->destination_port);
	} else if (spec->protocol == IPPROTO_ICMP) {
		l4[0] = spec->icmp_type;
		l4[1] = spec->icmp_code;
		((uint16_t *)l4)[2] = htons(spec->icmp_id);
		((uint16_t *)l4)[1] = checksum_finish(checksum_add(0, l4, total - header));
	}
	return total;
}

size_t packet_build(uint8_t *buffer, size_t size, const struct packet_spec *spec)
{
	struct ethhdr *eth = (struct ethhdr *)buffer;
	size_t built;

	if (size < sizeof(*eth))
		return 0;
	memcpy(eth->h_dest, spec->destination_mac ? spec->destination_mac : default_destination_mac,
	       ETH_ALEN);
	memcpy(eth->h_source, spec->source_mac ? spec->source_mac : default_source_mac, ETH_ALEN);
	eth->h_proto = htons(spec->ethertype ? spec->ethertype : ETH_P_IP);
	if (spec->ethertype && spec->ethertype != ETH_P_IP) {
		/* some bytes of another protocol */
		size_t length = sizeof(*eth) + 40 + spec->payload_length;
		if (length > size)
			return 0;
		memset(buffer + sizeof(*eth), 0x60, length - sizeof(*eth));
		return length;
	}
	built = ipv4_build(buffer + sizeof(*eth), size - sizeof(*eth), spec);
	return built ? built + sizeof(*eth) : 0;
}

size_t packet_build_arp(uint8_t *buffer, size_t size, uint32_t sender, const uint8_t *sender_mac)
{
	struct ethhdr *eth = (struct ethhdr *)buffer;
	uint8_t *arp = buffer + sizeof(*eth);
	uint32_t sender_network = htonl(sender);
	size_t total = sizeof(*eth) + 28;

	if (total > size)
		return 0;
	memset(buffer, 0, total);
	memset(eth->h_dest, 0xff, ETH_ALEN);
	memcpy(eth->h_source, sender_mac, ETH_ALEN);
	eth->h_proto = htons(ETH_P_ARP);
	arp[0] = 0, arp[1] = 1; /* Ethernet */
	arp[2] = 0x08, arp[3] = 0x00;
	arp[4] = 6, arp[5] = 4;
	arp[6] = 0, arp[7] = 1; /* request */
	memcpy(arp + 8, sender_mac, 6);
	memcpy(arp + 14, &sender_network, 4);
	return total;
}

uint16_t ipv4_header_checksum(const uint8_t *ip_header)
{
	size_t length = (size_t)(ip_header[0] & 0x0f) * 4;

	return checksum_finish(checksum_add(0, ip_header, length));
}

uint16_t tcp_checksum_check(const uint8_t *ip_header)
{
	const struct iphdr *ip = (const struct iphdr *)ip_header;
	size_t header = (size_t)ip->ihl * 4;
	size_t length = ntohs(ip->tot_len) - header;
	struct {
		uint32_t source, destination;
		uint8_t zero, protocol;
		uint16_t length;
	} pseudo = { ip->saddr, ip->daddr, 0, IPPROTO_TCP, htons((uint16_t)length) };
	uint32_t sum = checksum_add(0, &pseudo, sizeof(pseudo));

	return checksum_finish(checksum_add(sum, ip_header + header, length));
}
