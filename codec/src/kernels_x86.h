/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the AVX2 and AVX-512 kernels share: their function attributes and
 * the 8-lane helpers both use. An AVX2 function inlines into an AVX-512
 * one (whose target includes AVX2). Include only under MW_HAVE_AVX2.
 */
#ifndef MW_KERNELS_X86_H
#define MW_KERNELS_X86_H

#include <immintrin.h>
#include <stdint.h>

#include "internal.h"

#define MW_AVX2 __attribute__((target("avx2,popcnt")))
#define MW_INLINE static inline __attribute__((always_inline))

/* The selection keys of 8 floats' bits (mw_key()). */
MW_AVX2 MW_INLINE __m256i mw_key8(__m256i v, int mag)
{
	const __m256i abs = _mm256_set1_epi32((int)MW_ABS_MASK);

	if (mag)
		return _mm256_and_si256(v, abs);
	return _mm256_xor_si256(v,
				_mm256_and_si256(_mm256_srai_epi32(v, 31), abs));
}

/* The sum of 8 uint32 lanes. */
MW_AVX2 MW_INLINE uint64_t mw_hsum8(__m256i v)
{
	uint32_t t[8];
	uint64_t s = 0;

	_mm256_storeu_si256((__m256i *)(void *)t, v);
	for (int i = 0; i < 8; i++)
		s += t[i];
	return s;
}

#endif /* MW_KERNELS_X86_H */
