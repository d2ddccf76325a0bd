/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The codec tests' seeded generator on top of mw_test.h: every randomized
 * test draws from one generator, the seed is printed on failure. Set
 * MW_SEED=<n> to replay a run.
 */
#ifndef MW_TESTUTIL_H
#define MW_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "mw_rand.h"
#include "mw_test.h"

static uint64_t tu_state;

static inline uint64_t tu_rand(void)
{
	return mw_rand64(&tu_state);
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

/* Seeds the generator from MW_SEED, or from the clock; failures name it. */
static inline void tu_init(void)
{
	tu_state = mw_test_seed_env((uint64_t)time(NULL) ^
				    ((uint64_t)clock() << 32));
}

static inline int tu_same_bits(const float *a, const float *b, uint64_t n)
{
	return n == 0 || memcmp(a, b, n * sizeof(*a)) == 0;
}

/*
 * Payload buffers of exactly the size an encoder reserved: under ASan the
 * heap redzone right after them catches a write past the end; otherwise a
 * guard of canary bytes follows, checked by tu_guard_ok().
 */
#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

#ifdef TU_ASAN
#define TU_GUARD 0u
#else
#define TU_GUARD 64u
#endif
#define TU_CANARY 0xa5u

static inline uint8_t *tu_guarded_alloc(size_t size)
{
	uint8_t *p = malloc(size + TU_GUARD > 0 ? size + TU_GUARD : 1);

	if (p == NULL)
		abort();
	memset(p + size, TU_CANARY, TU_GUARD);
	return p;
}

/* 1 if nothing was written past size bytes (always 1 under ASan). */
static inline int tu_guard_ok(const uint8_t *p, size_t size)
{
	for (size_t i = 0; i < TU_GUARD; i++)
		if (p[size + i] != TU_CANARY)
			return 0;
	return 1;
}

#endif /* MW_TESTUTIL_H */
