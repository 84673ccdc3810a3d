/* IPv4 addresses and prefixes, parsed strictly. */
#ifndef WEIR_CIDR_H
#define WEIR_CIDR_H

#include <stdint.h>
#include <stddef.h>

struct ipv4_prefix {
	uint32_t network; /* host byte order, host bits zero */
	uint8_t length;
};

/* Parses "a.b.c.d/len". Host bits must be zero. Returns 0, or -1 with errbuf saying why. */
int ipv4_prefix_parse(const char *text, struct ipv4_prefix *prefix, char *errbuf, size_t errlen);
/* Parses "a.b.c.d" into host byte order. Returns 0 or -1. */
int ipv4_address_parse(const char *text, uint32_t *address);
/* Formats a host-byte-order address; buffer needs 16 bytes. */
const char *ipv4_address_format(uint32_t address, char *buffer);
uint32_t ipv4_prefix_broadcast(const struct ipv4_prefix *prefix);
int ipv4_prefix_contains(const struct ipv4_prefix *prefix, uint32_t address);

#endif
