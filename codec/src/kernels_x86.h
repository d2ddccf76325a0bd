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

/* What the 8-lane filters (struct mw_kernels.filter) broadcast. */
struct mw_filter8 {
	__m256i vlo, vhi, vexp, vflip;
};

MW_AVX2 MW_INLINE struct mw_filter8 mw_filter8_init(int32_t lo, int32_t hi)
{
	const struct mw_filter8 f = {
		.vlo = _mm256_set1_epi32(lo),
		.vhi = _mm256_set1_epi32(hi),
		.vexp = _mm256_set1_epi32((int)MW_EXP_MASK),
		.vflip = _mm256_set1_epi32((int)MW_KEY_FLIP),
	};

	return f;
}

/*
 * The filters count keys > hi per lane in *gtc, one group of 8 at a time:
 * after 2^28 groups the counts go into *g, before a lane can wrap.
 */
MW_AVX2 MW_INLINE void mw_gt_group_done(__m256i *gtc, uint32_t *blk,
					uint64_t *g)
{
	if (++*blk == (1u << 28)) {
		*g += mw_hsum8(*gtc);
		*gtc = _mm256_setzero_si256();
		*blk = 0;
	}
}

#endif /* MW_KERNELS_X86_H */
