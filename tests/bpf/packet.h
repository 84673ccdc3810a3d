/* A small packet builder for BPF program tests: Ethernet + IPv4 + TCP/UDP/SCTP/ICMP frames
 * with valid lengths and checksums, plus the knobs to break them on purpose. */
#ifndef WEIR_TESTS_PACKET_H
#define WEIR_TESTS_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct packet_spec {
	const uint8_t *source_mac; /* NULL: 02:00:00:00:00:01 */
	const uint8_t *destination_mac;
	uint16_t ethertype; /* 0: IPv4 */
	uint32_t source;    /* host byte order */
	uint32_t destination;
	uint8_t protocol; /* IPPROTO_* */
	uint8_t ttl;	  /* 0: 64 */
	uint16_t source_port;
	uint16_t destination_port;
	uint8_t tcp_flags;
	uint32_t sequence;
	uint32_t acknowledgment;
	uint16_t urgent_pointer; /* TCP: written as is (set TCP URG in tcp_flags to mean it) */
	size_t payload_length;
	const void *payload; /* NULL: payload_length bytes of 0xab */
	bool tcp_timestamps; /* NOP NOP TS(tsval 0x11111111, tsecr 0x22222222) */
	uint8_t ip_options_length; /* multiple of 4, filled with NOPs */
	uint16_t ip_id;
	uint16_t fragment_offset; /* in 8-byte units */
	bool more_fragments;
	bool later_fragment_without_l4; /* offset != 0: no L4 header is written */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint16_t icmp_id;
	const struct packet_spec *icmp_inner; /* ICMP error: the packet that caused it */
};

/* Writes the frame into buffer; returns its length (0 when it does not fit). */
size_t packet_build(uint8_t *buffer, size_t size, const struct packet_spec *spec);
/* An ARP frame (request) with the given sender address and MAC. */
size_t packet_build_arp(uint8_t *buffer, size_t size, uint32_t sender, const uint8_t *sender_mac);
/* Checksum helpers for checking rewritten frames: 0 when valid. */
uint16_t ipv4_header_checksum(const uint8_t *ip_header);
uint16_t tcp_checksum_check(const uint8_t *ip_header);

#endif
