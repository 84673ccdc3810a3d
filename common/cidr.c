/* IPv4 prefix parsing that rejects what inet_pton-based shortcuts let through: missing or
 * oversized lengths, trailing junk, and set host bits (a typo that would silently widen or
 * move a pod CIDR). */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ipv4_address_parse(const char *text, uint32_t *address)
{
	struct in_addr parsed;

	if (!text || inet_pton(AF_INET, text, &parsed) != 1)
		return -1;
	*address = ntohl(parsed.s_addr);
	return 0;
}

const char *ipv4_address_format(uint32_t address, char *buffer)
{
	struct in_addr value = { .s_addr = htonl(address) };

	inet_ntop(AF_INET, &value, buffer, 16);
	return buffer;
}

static uint32_t prefix_mask(uint8_t length)
{
	return length == 0 ? 0 : 0xffffffffu << (32 - length);
}

int ipv4_prefix_parse(const char *text, struct ipv4_prefix *prefix, char *errbuf, size_t errlen)
{
	char address_text[16];
	const char *slash;
	char *end;
	long length;
	uint32_t address;

	if (!text || !*text) {
		snprintf(errbuf, errlen, "empty CIDR");
		return -1;
	}
	slash = strchr(text, '/');
	if (!slash || (size_t)(slash - text) >= sizeof(address_text)) {
		snprintf(errbuf, errlen, "CIDR %s: expected a.b.c.d/len", text);
		return -1;
	}
	memcpy(address_text, text, (size_t)(slash - text));
	address_text[slash - text] = '\0';
	if (ipv4_address_parse(address_text, &address) < 0) {
		snprintf(errbuf, errlen, "CIDR %s: %s is not an IPv4 address", text, address_text);
		return -1;
	}
	if (slash[1] < '0' || slash[1] > '9') {
		snprintf(errbuf, errlen, "CIDR %s: prefix length is not a number", text);
		return -1;
	}
	length = strtol(slash + 1, &end, 10);
	if (*end != '\0' || length < 0 || length > 32) {
		snprintf(errbuf, errlen, "CIDR %s: prefix length must be 0-32", text);
		return -1;
	}
	if (address & ~prefix_mask((uint8_t)length)) {
		snprintf(errbuf, errlen, "CIDR %s: host bits are set", text);
		return -1;
	}
	prefix->network = address;
	prefix->length = (uint8_t)length;
	return 0;
}

uint32_t ipv4_prefix_broadcast(const struct ipv4_prefix *prefix)
{
	return prefix->network | ~prefix_mask(prefix->length);
}

int ipv4_prefix_contains(const struct ipv4_prefix *prefix, uint32_t address)
{
	return (address & prefix_mask(prefix->length)) == prefix->network;
}
