/* Frames for BPF_PROG_TEST_RUN. Checksums are right so that a later datapath that validates
 * them judges these packets on their merits. */
#include "packet.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <string.h>

static uint16_t checksum(const void *data, size_t length)
{
	const uint8_t *bytes = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < length; i += 2)
		sum += (uint32_t)(bytes[i] << 8 | bytes[i + 1]);
	if (length & 1)
		sum += (uint32_t)bytes[length - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

size_t packet_build_ipv4(uint8_t *buffer, size_t size, const struct packet_spec *spec)
{
	struct ethhdr *eth = (struct ethhdr *)buffer;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	size_t l4_length = spec->protocol == IPPROTO_TCP   ? sizeof(struct tcphdr)
			   : spec->protocol == IPPROTO_UDP ? sizeof(struct udphdr)
							   : 8;
	size_t total = sizeof(*eth) + sizeof(*ip) + l4_length + spec->payload_length;
	uint8_t *l4 = (uint8_t *)(ip + 1);

	if (total > size)
		return 0;
	memset(buffer, 0, total);
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = spec->protocol;
	ip->tot_len = htons((uint16_t)(total - sizeof(*eth)));
	ip->saddr = htonl(spec->source);
	ip->daddr = htonl(spec->destination);
	ip->check = checksum(ip, sizeof(*ip));
	if (spec->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (struct tcphdr *)l4;
		tcp->source = htons(spec->source_port);
		tcp->dest = htons(spec->destination_port);
		tcp->doff = 5;
		tcp->syn = 1;
	} else if (spec->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (struct udphdr *)l4;
		udp->source = htons(spec->source_port);
		udp->dest = htons(spec->destination_port);
		udp->len = htons((uint16_t)(l4_length + spec->payload_length));
	} else {
		l4[0] = 8; /* ICMP echo request */
		((uint16_t *)l4)[1] = checksum(l4, l4_length + spec->payload_length);
	}
	return total;
}

size_t packet_build_arp(uint8_t *buffer, size_t size)
{
	struct ethhdr *eth = (struct ethhdr *)buffer;
	size_t total = sizeof(*eth) + 28;

	if (total > size)
		return 0;
	memset(buffer, 0, total);
	memset(eth->h_dest, 0xff, ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	eth->h_proto = htons(ETH_P_ARP);
	return total;
}
