/* A small packet builder for BPF program tests: Ethernet + IPv4 + UDP/TCP/ICMP frames with
 * valid lengths and checksums, or deliberately broken ones. */
#ifndef WEIR_TESTS_PACKET_H
#define WEIR_TESTS_PACKET_H

#include <stddef.h>
#include <stdint.h>

struct packet_spec {
	uint32_t source;      /* host byte order */
	uint32_t destination; /* host byte order */
	uint8_t protocol;     /* IPPROTO_UDP, IPPROTO_TCP, IPPROTO_ICMP */
	uint16_t source_port;
	uint16_t destination_port;
	size_t payload_length;
};

/* Writes an Ethernet/IPv4 frame into buffer; returns its length. */
size_t packet_build_ipv4(uint8_t *buffer, size_t size, const struct packet_spec *spec);
/* An ARP request frame. */
size_t packet_build_arp(uint8_t *buffer, size_t size);

#endif
