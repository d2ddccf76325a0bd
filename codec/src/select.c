/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Linear-time top-k selection on float bit patterns; the tensor is never
 * sorted.
 *
 * 1. Estimate: for large n, take a sample of SAMPLE_BLOCKS blocks of
 *    SAMPLE_RUN consecutive elements spread evenly over the tensor and find,
 *    by radix select, two sample keys bracketing the k-th largest key with a
 *    wide safety margin: lo <= threshold <= hi with high probability.
 * 2. Filter (one SIMD pass, which also rejects NaN/Inf): count keys > hi
 *    and copy the keys in [lo, hi] to scratch.
 * 3. If the k-th largest key is among the candidates, radix select it
 *    there; otherwise (an unlucky sample) filter again with [min, max],
 *    which makes every key a candidate. Either way the result is exact.
 */
#include <math.h>

#include "internal.h"

#define SAMPLE_MIN_N MW_SAMPLE_MIN_N
#define SAMPLE_BLOCKS MW_SAMPLE_BLOCKS
#define SAMPLE_RUN MW_SAMPLE_RUN
#define SAMPLE_N MW_SAMPLE_N

uint32_t mw_radix_select(uint32_t *a, uint64_t m, uint64_t r,
			 uint64_t *above)
{
	uint64_t hist[1u << 11];
	uint32_t any = 0, all = ~0u, prefix;
	int bits; /* the low bits in which keys differ, still to decide */

	/* Bits above the highest one in which the keys differ are the same
	 * in every key: no round is spent on them (the candidates of a
	 * bracket share their top 10-12 bits, so they take two rounds). */
	for (uint64_t i = 0; i < m; i++) {
		any |= a[i];
		all &= a[i];
	}
	*above = 0;
	if (any == all)
		return any;
	bits = 32 - __builtin_clz(any ^ all);
	prefix = bits == 32 ? 0 : all & ~((1u << bits) - 1);
	while (bits > 0) {
		/* rounds of 11 bits from the top (a last one may be less) */
		const int w = bits > 11 ? 11 : bits;
		const unsigned sh = (unsigned)(bits - w);
		const uint32_t dm = (1u << w) - 1;
		uint64_t cum = 0, j = 0;
		uint32_t d;

		memset(hist, 0, sizeof(hist[0]) * (dm + 1));
		for (uint64_t i = 0; i < m; i++)
			hist[(a[i] >> sh) & dm]++;
		for (d = dm; d > 0 && cum + hist[d] < r; d--)
			cum += hist[d];
		r -= cum;
		*above += cum;
		prefix |= d << sh;
		bits -= w;
		if (bits == 0)
			break;
		for (uint64_t i = 0; i < m; i++) {
			a[j] = a[i];
			j += ((a[i] >> sh) & dm) == d;
		}
		m = j;
	}
	return prefix;
}

static void sample_keys(const float *x, uint64_t n, int mag, uint32_t *s)
{
	const uint64_t span = n - SAMPLE_RUN;

	for (uint64_t blk = 0; blk < SAMPLE_BLOCKS; blk++) {
		const float *p = x + span * blk / (SAMPLE_BLOCKS - 1);

		for (unsigned j = 0; j < SAMPLE_RUN; j++)
			*s++ = (uint32_t)mw_key(mw_f2u(p[j]), mag) ^
			       MW_KEY_FLIP;
	}
}

/* Bracket [lo, hi] for the k-th largest key of x from a sample. */
static void estimate(const float *x, uint64_t n, uint64_t k, int mag,
		     uint32_t *scratch, int32_t *lo, int32_t *hi)
{
	uint32_t *s = scratch, *t = scratch + SAMPLE_N;
	double e = (double)k * SAMPLE_N / (double)n;
	double margin = 6.0 * sqrt(e) + 32.0;
	double rhi = floor(e - margin), rlo = ceil(e + margin);
	uint64_t above;

	*lo = INT32_MIN;
	*hi = INT32_MAX;
	sample_keys(x, n, mag, s);
	if (rhi >= 1.0) {
		memcpy(t, s, SAMPLE_N * sizeof(*s));
		*hi = (int32_t)(mw_radix_select(t, SAMPLE_N, (uint64_t)rhi,
						&above) ^
				MW_KEY_FLIP);
	}
	if (rlo <= (double)SAMPLE_N)
		*lo = (int32_t)(mw_radix_select(s, SAMPLE_N, (uint64_t)rlo,
						&above) ^
				MW_KEY_FLIP);
}

void mw_select_bracket(const float *x, uint64_t n, uint64_t k, int mag,
		       uint32_t *scratch, int32_t *lo, int32_t *hi)
{
	*lo = INT32_MIN;
	*hi = INT32_MAX;
	if (n >= SAMPLE_MIN_N)
		estimate(x, n, k, mag, scratch, lo, hi);
}

void mw_select_thr(uint32_t *cand, uint64_t nc, uint64_t ngt, uint64_t k,
		   struct mw_sel *sel)
{
	uint64_t above;
	uint32_t t = mw_radix_select(cand, nc, k - ngt, &above);

	sel->thr = (int32_t)(t ^ MW_KEY_FLIP);
	sel->ties = k - ngt - above;
}

int mw_select(const struct mw_kernels *kr, const float *x, uint64_t n,
	      uint64_t k, int mag, uint32_t *scratch, struct mw_sel *sel)
{
	int32_t lo, hi;
	uint64_t nc = 0, ngt = 0;

	mw_select_bracket(x, n, k, mag, scratch, &lo, &hi);
	sel->passes = 1;
	if (kr->filter(x, n, mag, lo, hi, scratch, &nc, &ngt))
		return MW_ENONFINITE;
	if (!(ngt < k && k <= ngt + nc)) {
		sel->passes = 2;
		nc = ngt = 0;
		/* NaN/Inf now, after a clean first pass: x is being rewritten */
		if (kr->filter(x, n, mag, INT32_MIN, INT32_MAX, scratch, &nc,
			       &ngt))
			return MW_ECHANGED;
	}
	mw_select_thr(scratch, nc, ngt, k, sel);
	return 0;
}
