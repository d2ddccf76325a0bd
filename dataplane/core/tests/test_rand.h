/* SPDX-License-Identifier: BSD-3-Clause */
/* test_rand.h - the core tests' random source: a seeded xorshift, the
 * same bytes on every run; enough for nonces and keys in tests. */
#ifndef MW_TEST_RAND_H
#define MW_TEST_RAND_H

#include <stddef.h>
#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* The tests' random source: deterministic, enough for nonces here. */
static inline void test_rand(void *ctx, void *buf, size_t len)
{
	uint8_t *b = buf;
	size_t i;

	(void)ctx;
	for (i = 0; i < len; i++) {
		rng_state ^= rng_state << 13;
		rng_state ^= rng_state >> 7;
		rng_state ^= rng_state << 17;
		b[i] = (uint8_t)rng_state;
	}
}

#endif /* MW_TEST_RAND_H */
