/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_rand.h
 * The tree's one seeded generator: splitmix64 (Steele, Lea, Flood 2014),
 * small, fast and good enough for tests, simulations, fault injection and
 * synthetic tensors. Not for anything secret.
 */
#ifndef MW_RAND_H
#define MW_RAND_H

#include <stdint.h>

/** Next 64 random bits; *state is the whole generator (any value). */
static inline uint64_t mw_rand64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/** Uniform in [0, 1) with 53 random bits. */
static inline double mw_rand_unit(uint64_t *state)
{
	return (double)(mw_rand64(state) >> 11) * (1.0 / 9007199254740992.0);
}

#endif /* MW_RAND_H */
