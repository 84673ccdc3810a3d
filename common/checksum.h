/* Packet checksums computed in user space: the Internet checksum (RFC 1071) and SCTP's CRC32c
 * (RFC 4960 appendix B), for the packets weirctl trace and the tests build. */
#ifndef WEIR_CHECKSUM_H
#define WEIR_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds data as big-endian 16-bit words (an odd last byte padded with zero) to sum. */
uint32_t checksum_add(uint32_t sum, const void *data, size_t length);
/* Folds and complements sum; the result is in network byte order, ready to store. */
uint16_t checksum_finish(uint32_t sum);
/* The CRC32c of data as SCTP stores it (little-endian as computed). */
uint32_t crc32c(const void *data, size_t length);

#endif
