/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Top-k selection (codec/src/select.c): radix select against sorting, and
 * mw_select against the sort-based reference on both of its paths (a good
 * sample: one filter pass; a misleading sample: the exact fallback).
 */
#include "internal.h"
#include "ref.h"
#include "testutil.h"

static int cmp_u32_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x > y ? -1 : x < y;
}

static void test_radix(void)
{
	for (int iter = 0; iter < 600; iter++) {
		uint64_t m = 1 + tu_below(3000), r = 1 + tu_below(m), above;
		uint32_t *a = malloc(m * 4), *s = malloc(m * 4);
		/* small keys, any keys, or keys sharing their top bits (as a
		 * bracket's candidates do) */
		const unsigned kind = (unsigned)tu_below(3);
		const uint32_t mod = kind == 0 ? 7 : 1u << tu_below(32);
		const uint32_t base = kind == 2 ? (uint32_t)tu_rand() : 0;

		for (uint64_t i = 0; i < m; i++)
			a[i] = s[i] = kind == 1 ? (uint32_t)tu_rand()
						: base + (uint32_t)tu_rand() % mod;
		qsort(s, m, 4, cmp_u32_desc);
		CHECK_EQ(mw_radix_select(a, m, r, &above), s[r - 1]);
		{
			uint64_t want = 0;

			while (want < m && s[want] > s[r - 1])
				want++;
			CHECK_EQ(above, want);
		}
		free(a);
		free(s);
	}
}

/* mw_select picks exactly the reference's set. */
static void check_select(const struct mw_kernels *kr, const float *x,
			 uint64_t n, uint64_t k, int mag, unsigned *passes)
{
	uint32_t *scratch = malloc(n * 4);
	uint8_t *want = malloc(n);
	struct mw_sel sel;
	uint64_t ties;

	ref_topk(x, n, k, mag, want);
	CHECK_EQ(mw_select(kr, x, n, k, mag, scratch, &sel), 0);
	*passes = sel.passes;
	ties = sel.ties;
	for (uint64_t i = 0; i < n; i++) {
		int32_t key = mw_key(mw_f2u(x[i]), mag);
		int got = key > sel.thr || (key == sel.thr && ties > 0);

		if (key == sel.thr && ties > 0)
			ties--;
		if (got != want[i]) {
			CHECK(got == want[i]);
			break;
		}
	}
	CHECK_EQ(ties, 0);
	free(scratch);
	free(want);
}

static void test_select(void)
{
	const struct mw_kernels *ks[3];
	const unsigned nks = mw_kernels_all(ks, 3);
	const uint64_t n = 1u << 17;
	float *x = malloc(n * sizeof(float));
	unsigned passes;

	for (unsigned ki = 0; ki < nks; ki++) {
		/* relu(N(0,1)) at the usual ratios: the sample brackets it */
		for (uint64_t i = 0; i < n; i++) {
			float v = tu_normal();

			x[i] = v > 0.0f ? v : 0.0f;
		}
		for (int r = 0; r < 3; r++) {
			uint64_t k = r == 0 ? n / 10 : r == 1 ? n / 100 : n / 1000;

			check_select(ks[ki], x, n, k, 0, &passes);
			CHECK_EQ(passes, 1);
			check_select(ks[ki], x, n, k, 1, &passes);
		}
		/*
		 * Sampled runs hold 2.0, everything else 1.0: the sample says
		 * the median is 2.0, the truth is 1.0 -> the exact fallback.
		 */
		for (uint64_t i = 0; i < n; i++)
			x[i] = 1.0f;
		for (uint64_t b = 0; b < MW_SAMPLE_BLOCKS; b++)
			for (unsigned j = 0; j < MW_SAMPLE_RUN; j++)
				x[(n - MW_SAMPLE_RUN) * b /
					  (MW_SAMPLE_BLOCKS - 1) +
				  j] = 2.0f;
		check_select(ks[ki], x, n, n / 2, 0, &passes);
		CHECK_EQ(passes, 2);
		/* k = 1 and k = n on the same data */
		check_select(ks[ki], x, n, 1, 0, &passes);
		check_select(ks[ki], x, n, n, 1, &passes);
		/* NaN anywhere: rejected by the filter pass */
		x[n - 3] = NAN;
		{
			uint32_t *scratch = malloc(n * 4);
			struct mw_sel sel;

			CHECK_EQ(mw_select(ks[ki], x, n, 10, 0, scratch, &sel),
				 MW_ENONFINITE);
			free(scratch);
		}
	}
	free(x);
}

int main(void)
{
	tu_init();
	test_radix();
	test_select();
	return mw_test_exit("test_select");
}
