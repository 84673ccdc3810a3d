/* SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast short-input PRF"), a keyed hash: whoever
 * does not know the key cannot find two inputs with the same hash. Fed one 64-bit word at a
 * time; the length goes into the last word, so zero padding is never ambiguous. */
#ifndef WEIR_BPF_SIPHASH_H
#define WEIR_BPF_SIPHASH_H

#include <linux/types.h>

struct siphash {
	__u64 v0, v1, v2, v3;
};

static __always_inline __u64 rotate_left64(__u64 x, int bits)
{
	return (x << bits) | (x >> (64 - bits));
}

static __always_inline void siphash_round(struct siphash *state)
{
	state->v0 += state->v1;
	state->v1 = rotate_left64(state->v1, 13) ^ state->v0;
	state->v0 = rotate_left64(state->v0, 32);
	state->v2 += state->v3;
	state->v3 = rotate_left64(state->v3, 16) ^ state->v2;
	state->v0 += state->v3;
	state->v3 = rotate_left64(state->v3, 21) ^ state->v0;
	state->v2 += state->v1;
	state->v1 = rotate_left64(state->v1, 17) ^ state->v2;
	state->v2 = rotate_left64(state->v2, 32);
}

static __always_inline void siphash_start(struct siphash *state, __u64 key0, __u64 key1)
{
	/* "somepseudorandomlygeneratedbytes", as the paper's initialisation. */
	state->v0 = key0 ^ 0x736f6d6570736575ULL;
	state->v1 = key1 ^ 0x646f72616e646f6dULL;
	state->v2 = key0 ^ 0x6c7967656e657261ULL;
	state->v3 = key1 ^ 0x7465646279746573ULL;
}

static __always_inline void siphash_word(struct siphash *state, __u64 word)
{
	state->v3 ^= word;
	siphash_round(state);
	state->v0 ^= word;
}

static __always_inline __u64 siphash_finish(struct siphash *state, __u64 length)
{
	siphash_word(state, length << 56);
	state->v2 ^= 0xff;
	siphash_round(state);
	siphash_round(state);
	siphash_round(state);
	return state->v0 ^ state->v1 ^ state->v2 ^ state->v3;
}

#endif
