/* SCTP's checksum is a CRC32c over the whole packet, so a translated port cannot be patched
 * like a ones'-complement sum. CRCs are linear, though: for two packets of the same length,
 * crc(a) ^ crc(b) is the raw CRC (no initial or final inversion) of a ^ b. That difference is
 * two bytes at the port followed by the rest of the packet as zeros; appending z zero bytes is
 * a multiplication by x^(8z) modulo the polynomial, done from a table of x^(8 * 2^k). So a
 * port rewrite costs at most 17 small multiplications, whatever the packet's length. */
#ifndef WEIR_BPF_SCTP_CHECKSUM_H
#define WEIR_BPF_SCTP_CHECKSUM_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define CRC32C_POLYNOMIAL 0x82f63b78u /* reflected */
#define SCTP_CHECKSUM_OFFSET 8

/* x^(8 * 2^k) mod P, reflected, for k = 0..15 (packets up to 64 KiB). */
static const __u32 crc32c_zero_bytes_power[16] = {
	0x00800000, 0x00008000, 0x82f63b78, 0x6ea2d55c, 0x18b8ea18, 0x510ac59a,
	0xb82be955, 0xb8fdb1e7, 0x88e56f72, 0x74c360a4, 0xe4172b16, 0x0d65762a,
	0x35d73a62, 0x28461564, 0xbf455269, 0xe2ea32dc,
};

static __always_inline __u32 crc32c_multiply(__u32 a, __u32 b)
{
	__u32 product = 0;

	for (int i = 0; i < 32; i++) {
		if (a & (0x80000000u >> i))
			product ^= b;
		b = (b >> 1) ^ ((b & 1) ? CRC32C_POLYNOMIAL : 0);
	}
	return product;
}

/* The raw CRC32c of two bytes (given as a little-endian __u16) followed by zeros_after zero
 * bytes: what the checksum changes by when those two bytes change by difference. A global
 * function, so the verifier checks its loops once. */
__attribute__((noinline)) __u32 crc32c_difference(__u32 difference, __u32 zeros_after)
{
	__u32 crc = 0;

	for (int byte = 0; byte < 2; byte++) {
		crc ^= (difference >> (8 * byte)) & 0xff; /* the first byte on the wire first */
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ ((crc & 1) ? CRC32C_POLYNOMIAL : 0);
	}
	/* crc now holds the raw CRC of the two bytes; move it past the zeros. */
	for (int k = 0; k < 16; k++)
		if (zeros_after & (1u << k))
			crc = crc32c_multiply(crc, crc32c_zero_bytes_power[k]);
	return crc;
}

/* The port at l4 + port_at (0 source, 2 destination) changed from old_port to new_port (both
 * network byte order). A zero checksum is left alone: the sender left the CRC to the device
 * (CHECKSUM_PARTIAL), which computes it over the packet as it then is. */
static __always_inline int sctp_checksum_port_changed(struct __sk_buff *skb, __u32 l4,
						      __u32 sctp_length, __u32 port_at,
						      __u16 old_port, __u16 new_port)
{
	__u32 checksum;

	if (sctp_length < 12 || sctp_length > 0xffff)
		return -1;
	if (bpf_skb_load_bytes(skb, l4 + SCTP_CHECKSUM_OFFSET, &checksum, 4) < 0)
		return -1;
	if (!checksum)
		return 0;
	/* In memory the field is the little-endian final CRC; so is the host order here. */
	checksum ^= crc32c_difference((__u16)(old_port ^ new_port), sctp_length - port_at - 2);
	return bpf_skb_store_bytes(skb, l4 + SCTP_CHECKSUM_OFFSET, &checksum, 4, 0);
}

#endif
