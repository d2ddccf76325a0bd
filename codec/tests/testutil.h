/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Tiny test harness: CHECK() counts failures, every randomized test draws
 * from one seeded generator and the seed is printed on failure. Set
 * MW_SEED=<n> to replay a run.
 */
#ifndef MW_TESTUTIL_H
#define MW_TESTUTIL_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int tu_failures;
static uint64_t tu_seed;
static uint64_t tu_state;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s (seed %" PRIu64 \
					")\n",                                \
				__FILE__, __LINE__, #cond, tu_seed);          \
			tu_failures++;                                        \
		}                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_) {                                               \
			fprintf(stderr,                                       \
				"%s:%d: CHECK_EQ failed: %s == %lld, %s == "  \
				"%lld (seed %" PRIu64 ")\n",                  \
				__FILE__, __LINE__, #a, a_, #b, b_, tu_seed); \
			tu_failures++;                                        \
		}                                                             \
	} while (0)

static inline uint64_t tu_rand(void)
{
	uint64_t z = (tu_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint64_t tu_below(uint64_t n)
{
	return n ? tu_rand() % n : 0;
}

static inline double tu_unit(void)
{
	return (double)(tu_rand() >> 11) * (1.0 / 9007199254740992.0);
}

static inline float tu_normal(void)
{
	double u = tu_unit(), v = tu_unit();

	return (float)(sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v));
}

static inline void tu_init(void)
{
	const char *s = getenv("MW_SEED");

	tu_seed = s ? strtoull(s, NULL, 0)
		    : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	tu_state = tu_seed;
}

static inline int tu_finish(const char *name)
{
	if (tu_failures) {
		fprintf(stderr, "%s: %d check(s) failed; replay with MW_SEED=%" PRIu64
				"\n",
			name, tu_failures, tu_seed);
		return 1;
	}
	printf("%s: all checks passed (seed %" PRIu64 ")\n", name, tu_seed);
	return 0;
}

static inline int tu_same_bits(const float *a, const float *b, uint64_t n)
{
	return n == 0 || memcmp(a, b, n * sizeof(*a)) == 0;
}

#endif /* MW_TESTUTIL_H */
