/* MAC addresses as text, in the lower-case colon form iproute2 and CNI results use. */
#include "mac.h"

#include <stdio.h>

const char *mac_format(const uint8_t mac[6], char buffer[18])
{
	snprintf(buffer, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	return buffer;
}

int mac_parse(const char *text, uint8_t mac[6])
{
	unsigned parts[6];
	char tail;

	if (!text || sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &parts[0], &parts[1], &parts[2],
			    &parts[3], &parts[4], &parts[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)parts[i];
	return 0;
}
