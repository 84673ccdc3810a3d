/* MAC address formatting and parsing. */
#ifndef WEIR_MAC_H
#define WEIR_MAC_H

#include <stdint.h>

const char *mac_format(const uint8_t mac[6], char buffer[18]);
/* Parses "aa:bb:cc:dd:ee:ff". Returns 0 or -1. */
int mac_parse(const char *text, uint8_t mac[6]);

#endif
