/* The one packet `weirctl trace` runs through the datapath: Ethernet + IPv4 + the first packet
 * a real client would send (TCP SYN, a UDP datagram, an SCTP INIT, an ICMP echo request), with
 * valid lengths and checksums so the datapath judges it on its merits. */
#ifndef WEIR_WEIRCTL_TRACE_PACKET_H
#define WEIR_WEIRCTL_TRACE_PACKET_H

#include <stddef.h>
#include <stdint.h>

struct trace_packet {
	uint8_t source_mac[6];
	uint8_t destination_mac[6];
	uint32_t source; /* network byte order */
	uint32_t destination;
	uint8_t protocol;     /* IPPROTO_TCP, _UDP, _SCTP, _ICMP */
	uint16_t source_port; /* network byte order; ICMP: the echo identifier */
	uint16_t destination_port;
};

/* Writes the frame; returns its length, 0 when buffer is too small. */
size_t trace_packet_build(uint8_t *buffer, size_t size, const struct trace_packet *packet);
/* Reads addresses and ports back from a frame (as the program left it); -1 when it is not
 * Ethernet + IPv4 with a whole L4 header. */
int trace_packet_parse(const uint8_t *frame, size_t length, struct trace_packet *packet);

#endif
