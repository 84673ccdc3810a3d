/* Built by hand rather than through tests/bpf/packet.c: weirctl ships without the test tree,
 * and it needs only the first packet of each protocol, never broken ones. */
#include "trace_packet.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <string.h>

#include "checksum.h"

#define SCTP_COMMON_HEADER 12
#define SCTP_INIT_CHUNK	   20
#define ICMP_ECHO_HEADER   8

static size_t l4_length(uint8_t protocol)
{
	switch (protocol) {
	case IPPROTO_TCP: return sizeof(struct tcphdr);
	case IPPROTO_UDP: return sizeof(struct udphdr) + 8; /* a few bytes of payload */
	case IPPROTO_SCTP: return SCTP_COMMON_HEADER + SCTP_INIT_CHUNK;
	case IPPROTO_ICMP: return ICMP_ECHO_HEADER + 8;
	default: return 0;
	}
}

/* TCP and UDP sum a pseudo header of the addresses, protocol and L4 length. */
static uint16_t transport_checksum(const struct iphdr *ip, const uint8_t *l4, size_t length)
{
	struct {
		uint32_t source, destination;
		uint8_t zero, protocol;
		uint16_t length;
	} __attribute__((packed))
	pseudo = {ip->saddr, ip->daddr, 0, ip->protocol, htons((uint16_t)length)};

	return checksum_finish(checksum_add(checksum_add(0, &pseudo, sizeof(pseudo)), l4, length));
}

size_t trace_packet_build(uint8_t *buffer, size_t size, const struct trace_packet *packet)
{
	struct ethhdr *ethernet = (struct ethhdr *)buffer;
	struct iphdr *ip = (struct iphdr *)(buffer + sizeof(*ethernet));
	uint8_t *l4 = (uint8_t *)(ip + 1);
	size_t transport = l4_length(packet->protocol);
	size_t total = sizeof(*ethernet) + sizeof(*ip) + transport;

	if (!transport || total > size)
		return 0;
	memset(buffer, 0, total);
	memcpy(ethernet->h_dest, packet->destination_mac, ETH_ALEN);
	memcpy(ethernet->h_source, packet->source_mac, ETH_ALEN);
	ethernet->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = packet->protocol;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + transport));
	ip->id = htons(1);
	ip->frag_off = htons(0x4000); /* don't fragment, as stacks send TCP */
	ip->saddr = packet->source;
	ip->daddr = packet->destination;
	ip->check = checksum_finish(checksum_add(0, ip, sizeof(*ip)));

	switch (packet->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = (struct tcphdr *)l4;
		tcp->source = packet->source_port;
		tcp->dest = packet->destination_port;
		tcp->seq = htonl(0x77656972); /* "weir" */
		tcp->doff = 5;
		tcp->syn = 1;
		tcp->window = htons(65535);
		tcp->check = transport_checksum(ip, l4, transport);
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = (struct udphdr *)l4;
		udp->source = packet->source_port;
		udp->dest = packet->destination_port;
		udp->len = htons((uint16_t)transport);
		memcpy(l4 + sizeof(*udp), "weirctl\n", 8);
		udp->check = transport_checksum(ip, l4, transport);
		break;
	}
	case IPPROTO_SCTP: {
		uint8_t *chunk = l4 + SCTP_COMMON_HEADER;
		uint32_t crc;
		memcpy(l4, &packet->source_port, 2);
		memcpy(l4 + 2, &packet->destination_port, 2);
		/* verification tag 0 for INIT; then the INIT chunk: type 1, length 20, a tag,
		 * window 65535, one stream each way, an initial TSN */
		chunk[0] = 1;
		chunk[3] = SCTP_INIT_CHUNK;
		chunk[4] = 0x77, chunk[7] = 1;
		chunk[10] = 0xff, chunk[11] = 0xff;
		chunk[13] = 1, chunk[15] = 1;
		chunk[19] = 1;
		crc = crc32c(l4, transport);
		l4[8] = (uint8_t)crc, l4[9] = (uint8_t)(crc >> 8);
		l4[10] = (uint8_t)(crc >> 16), l4[11] = (uint8_t)(crc >> 24);
		break;
	}
	case IPPROTO_ICMP: {
		uint16_t sequence = htons(1), checksum;
		l4[0] = 8; /* echo request */
		memcpy(l4 + 4, &packet->source_port, 2);
		memcpy(l4 + 6, &sequence, 2);
		memcpy(l4 + 8, "weirctl\n", 8);
		checksum = checksum_finish(checksum_add(0, l4, transport));
		memcpy(l4 + 2, &checksum, 2);
		break;
	}
	}
	return total;
}

int trace_packet_parse(const uint8_t *frame, size_t length, struct trace_packet *packet)
{
	const struct ethhdr *ethernet = (const struct ethhdr *)frame;
	const struct iphdr *ip = (const struct iphdr *)(frame + sizeof(*ethernet));
	const uint8_t *l4;

	if (length < sizeof(*ethernet) + sizeof(*ip) || ethernet->h_proto != htons(ETH_P_IP) ||
	    ip->ihl < 5 || length < sizeof(*ethernet) + (size_t)ip->ihl * 4 + 8)
		return -1;
	l4 = frame + sizeof(*ethernet) + (size_t)ip->ihl * 4;
	memset(packet, 0, sizeof(*packet));
	memcpy(packet->source_mac, ethernet->h_source, ETH_ALEN);
	memcpy(packet->destination_mac, ethernet->h_dest, ETH_ALEN);
	packet->source = ip->saddr;
	packet->destination = ip->daddr;
	packet->protocol = ip->protocol;
	if (ip->protocol == IPPROTO_ICMP) {
		memcpy(&packet->source_port, l4 + 4, 2);
	} else {
		memcpy(&packet->source_port, l4, 2);
		memcpy(&packet->destination_port, l4 + 2, 2);
	}
	return 0;
}
