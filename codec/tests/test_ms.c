/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MS and signed MS (codec/src/ms.c): the paper's Figure 1 as a golden
 * vector, bit-exactness against the reference formulas for every kernel
 * set, round trips over seeded random tensors, edge cases and decode errors.
 */
#include "internal.h"
#include "ref.h"
#include "testutil.h"

static const struct mw_kernels *kern[3];
static unsigned nkern;

struct enc {
	struct mw_codec_desc d;
	uint8_t *buf;
	int64_t len;
};

static int64_t encode(const struct mw_kernels *kr,
		      const struct mw_codec_params *p, const float *x,
		      uint64_t n, struct enc *e)
{
	size_t ss = mw_encode_scratch_size(p, n);
	int64_t size = mw_encode_size(p, n);
	void *scratch = malloc(ss + 1);

	e->buf = malloc(size > 0 ? (size_t)size : 1);
	/* an odd scratch address: any alignment must work */
	e->len = mw_encode_with(kr, p, x, n, &e->d, e->buf,
				size > 0 ? (size_t)size : 0,
				ss ? (uint8_t *)scratch + 1 : NULL, ss);
	free(scratch);
	return e->len;
}

static double l2(const float *a, const float *b, uint64_t n)
{
	double s = 0;

	for (uint64_t i = 0; i < n; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return sqrt(s);
}

static void test_figure1(void)
{
	static const float x[16] = {2.2f, 0.8f, 1.2f, 0.4f, 1.8f, 0.2f,
				    3.1f, 2.0f, 2.1f, 0.2f, 1.1f, 1.7f,
				    0.3f, 2.8f, 1.4f, 0.9f};
	static const uint32_t want_near[16] = {3, 1, 2, 1, 2, 0, 3, 2,
					       3, 0, 2, 2, 0, 3, 2, 1};
	static const uint32_t want_floor[16] = {3, 1, 1, 0, 2, 0, 3, 2,
						3, 0, 1, 2, 0, 3, 2, 1};
	static const float vals[4] = {2.2f, 3.1f, 2.1f, 2.8f};
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 2, .k = 4};
	float out[16], topk[16];

	for (int rnd = 0; rnd < 2; rnd++) {
		const uint32_t *want = rnd ? want_floor : want_near;

		p.rounding = rnd ? MW_ROUND_FLOOR : MW_ROUND_NEAREST;
		for (unsigned ki = 0; ki < nkern; ki++) {
			struct enc e;
			uint8_t mask[4] = {0};
			float d;

			CHECK_EQ(encode(kern[ki], &p, x, 16, &e), 20);
			CHECK_EQ(e.d.k, 4);
			CHECK(e.d.p0 == 2.1f);
			CHECK_EQ(e.d.bits, 2);
			CHECK_EQ(e.d.rounding, p.rounding);
			for (int i = 0; i < 16; i++)
				ref_put_code(mask, (uint64_t)i, 2, want[i]);
			CHECK(memcmp(e.buf, mask, 4) == 0);
			for (int i = 0; i < 16; i++)
				CHECK_EQ(ref_get_code(e.buf, (uint64_t)i, 2),
					 want[i]);
			CHECK(memcmp(e.buf + 4, vals, 16) == 0);
			CHECK_EQ(mw_seg_decode_with(kern[ki], &e.d, 0, 16, e.buf,
						    20, out),
				 4);
			d = 2.1f / 3.0f; /* levels 0, 0.7, 1.4 */
			for (int i = 0; i < 16; i++) {
				float w = want[i] == 3 ? x[i] : (float)want[i] * d;

				CHECK(out[i] == w);
			}
			CHECK(fabs(l2(x, out, 16) - (rnd ? 1.18 : 1.02)) < 0.005);
			free(e.buf);
		}
	}
	/* plain top-4 on the same map: 4.06 */
	for (int i = 0; i < 16; i++)
		topk[i] = x[i] > 2.05f ? x[i] : 0.0f;
	CHECK(fabs(l2(x, topk, 16) - 4.06) < 0.005);
	{
		struct mw_codec_params tp = {.codec = MW_CODEC_TOPK, .k = 4};
		struct enc e;

		CHECK_EQ(encode(kern[0], &tp, x, 16, &e), 32);
		CHECK_EQ(mw_seg_decode(&e.d, 0, 16, e.buf, 32, out), 4);
		CHECK(tu_same_bits(out, topk, 16));
		free(e.buf);
	}
}

/* A random tensor of one of several shapes of data. */
static void fill(float *x, uint64_t n, int kind)
{
	for (uint64_t i = 0; i < n; i++) {
		float v;

		switch (kind) {
		case 0: /* relu(N(0,1)) */
			v = tu_normal();
			x[i] = v > 0.0f ? v : 0.0f;
			break;
		case 1: /* N(0,1): negatives for unsigned MS */
			x[i] = tu_normal();
			break;
		case 2: /* few levels: many ties */
			x[i] = (float)tu_below(5) * 0.5f - 0.5f;
			break;
		case 3:
			x[i] = 0.0f;
			break;
		case 4:
			x[i] = 1.25f;
			break;
		case 5: /* heavy tails */
			v = tu_normal();
			x[i] = v * v * v;
			break;
		case 6: /* subnormal and tiny */
			x[i] = tu_normal() * 1e-39f;
			break;
		case 7: /* signed zeros */
			x[i] = tu_below(2) ? -0.0f : 0.0f;
			break;
		default: /* ramp */
			x[i] = (float)(n - i) * 0.001f;
			break;
		}
	}
}

static uint64_t pick_n(void)
{
	switch (tu_below(8)) {
	case 0:
		return tu_below(9);
	case 1:
		return 65536 + tu_below(100000); /* sampled selection */
	case 2:
		return tu_below(5000);
	default:
		return tu_below(700);
	}
}

/* Every kernel set matches the reference byte for byte, and decodes it. */
static void test_reference(void)
{
	for (int iter = 0; iter < 250; iter++) {
		uint64_t n = pick_n();
		int kind = (int)tu_below(9);
		int sgn = (int)tu_below(2);
		struct mw_codec_params p = {
			.codec = sgn ? MW_CODEC_MS_SIGNED : MW_CODEC_MS,
			.bits = 1 + (unsigned)tu_below(8),
			/* signed: nearest or stochastic (floor is nearest) */
			.rounding = (enum mw_rounding)tu_below(MW_ROUND_COUNT_),
		};
		float *x = malloc((n + 1) * sizeof(float));
		float *want = malloc((n + 1) * sizeof(float));
		float *got = malloc((n + 1) * sizeof(float));
		uint8_t *ref;
		uint64_t k, rlen;
		float t;

		if (tu_below(2))
			p.k = 1 + tu_below(n + 2);
		else
			p.ratio = tu_below(4) ? 0.99 : tu_unit() * 0.999;
		k = mw_codec_k(&p, n);
		fill(x, n, kind);
		ref = malloc(mw_mask_bytes(n, p.bits) + 4 * k + 1);
		rlen = ref_ms_encode(x, n, k, p.bits,
				     sgn && p.rounding == MW_ROUND_FLOOR
					     ? MW_ROUND_NEAREST
					     : (int)p.rounding,
				     sgn, ref, &t);
		ref_ms_decode(ref, n, p.bits, sgn, t, want);
		for (unsigned ki = 0; ki < nkern; ki++) {
			struct enc e;

			CHECK_EQ(encode(kern[ki], &p, x, n, &e), rlen);
			if (e.len == (int64_t)rlen && memcmp(e.buf, ref, rlen)) {
				fprintf(stderr,
					"payload differs: %s n=%llu b=%u k=%llu kind=%d sgn=%d rnd=%d\n",
					kern[ki]->name, (unsigned long long)n,
					p.bits, (unsigned long long)k, kind, sgn,
					p.rounding);
				CHECK(0);
			}
			CHECK_EQ(e.d.k, k);
			CHECK_EQ(e.d.rounding,
				 sgn && p.rounding == MW_ROUND_FLOOR
					 ? MW_ROUND_NEAREST
					 : p.rounding);
			CHECK(mw_f2u(e.d.p0) == mw_f2u(t));
			CHECK_EQ(mw_codec_desc_check(&e.d), 0);
			for (unsigned kd = 0; kd < nkern; kd++) {
				memset(got, 0xff, (n + 1) * sizeof(float));
				CHECK_EQ(mw_seg_decode_with(kern[kd], &e.d, 0, n,
							    e.buf, rlen, got),
					 k);
				CHECK(tu_same_bits(got, want, n));
				CHECK(mw_f2u(got[n]) == 0xffffffffu);
			}
			free(e.buf);
		}
		free(ref);
		free(x);
		free(want);
		free(got);
	}
}

/* Error bounds of the round trip (what the mapping promises). */
static void test_error_bounds(void)
{
	for (int iter = 0; iter < 60; iter++) {
		uint64_t n = 1 + tu_below(4000);
		int sgn = (int)tu_below(2);
		struct mw_codec_params p = {
			.codec = sgn ? MW_CODEC_MS_SIGNED : MW_CODEC_MS,
			.bits = 1 + (unsigned)tu_below(8),
			.ratio = 0.9,
		};
		const uint32_t L = (1u << p.bits) - 1;
		const int32_t m = (int32_t)(1u << (p.bits - 1)) - 1;
		float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
		struct enc e;
		uint64_t exact = 0;
		float d;

		fill(x, n, sgn ? 1 : 0);
		CHECK(encode(kern[0], &p, x, n, &e) > 0);
		CHECK(mw_seg_decode(&e.d, 0, n, e.buf, (size_t)e.len, y) >= 0);
		d = sgn ? e.d.p0 / (float)(m + 1) : e.d.p0 / (float)L;
		for (uint64_t i = 0; i < n; i++) {
			double err = fabs((double)x[i] - y[i]);

			if (x[i] == y[i] && (sgn ? fabsf(x[i]) : x[i]) >= e.d.p0)
				exact++;
			if (sgn) {
				/* b = 1: no levels, |x| <= t; else the top
				 * level m*d is a step d below t */
				CHECK(err <= (m == 0 ? e.d.p0 : d * 1.0001) + 1e-30);
				CHECK(fabsf(y[i]) <= fabsf(x[i]) + d * 0.5001 ||
				      y[i] == x[i]);
			} else if (L > 1) {
				/* the top level (L-1)*d is below t: error <= d */
				CHECK(err <= d * 1.0001 + 1e-30);
			}
		}
		CHECK(exact >= e.d.k);
		free(e.buf);
		free(x);
		free(y);
	}
}

static void test_edges(void)
{
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 2};
	float x[64], y[64];
	struct enc e;

	for (int sgn = 0; sgn < 2; sgn++) {
		p.codec = sgn ? MW_CODEC_MS_SIGNED : MW_CODEC_MS;
		/* empty */
		p.ratio = 0.99;
		p.k = 0;
		CHECK_EQ(encode(kern[0], &p, x, 0, &e), 0);
		CHECK_EQ(e.d.n, 0);
		CHECK_EQ(e.d.k, 0);
		CHECK_EQ(mw_seg_decode(&e.d, 0, 0, e.buf, 0, y), 0);
		free(e.buf);
		/* n = 1: the one value is selected and travels exactly */
		x[0] = sgn ? -3.5f : 3.5f;
		CHECK_EQ(encode(kern[0], &p, x, 1, &e), 5);
		CHECK_EQ(e.buf[0], 3);
		CHECK_EQ(mw_seg_decode(&e.d, 0, 1, e.buf, 5, y), 1);
		CHECK(y[0] == x[0]);
		free(e.buf);
		/* all equal, k = 3: ties go to the lowest indices */
		for (int i = 0; i < 20; i++)
			x[i] = 0.75f;
		p.k = 3;
		CHECK_EQ(encode(kern[0], &p, x, 20, &e), 5 + 12);
		for (int i = 0; i < 20; i++)
			CHECK_EQ(ref_get_code(e.buf, (uint64_t)i, 2),
				 i < 3 ? 3 : (sgn ? 2 : 2));
		free(e.buf);
		/* k = n: every code is the sentinel */
		for (int i = 0; i < 20; i++)
			x[i] = (float)i - 5.0f;
		p.k = 20;
		CHECK_EQ(encode(kern[0], &p, x, 20, &e), 5 + 80);
		CHECK_EQ(mw_seg_decode(&e.d, 0, 20, e.buf, 85, y), 20);
		CHECK(tu_same_bits(x, y, 20));
		free(e.buf);
		/* k = 1 */
		p.k = 1;
		CHECK_EQ(encode(kern[0], &p, x, 20, &e), 5 + 4);
		CHECK_EQ(e.d.k, 1);
		free(e.buf);
		/* all zeros: threshold 0, everything decodes to 0 */
		memset(x, 0, sizeof(x));
		p.k = 5;
		CHECK_EQ(encode(kern[0], &p, x, 64, &e), 16 + 20);
		CHECK(e.d.p0 == 0.0f);
		for (int i = 0; i < 64; i++)
			CHECK_EQ(ref_get_code(e.buf, (uint64_t)i, 2),
				 i < 5 ? 3 : (sgn ? 1 : 0));
		CHECK_EQ(mw_seg_decode(&e.d, 0, 64, e.buf, 36, y), 5);
		for (int i = 0; i < 64; i++)
			CHECK(y[i] == 0.0f && !signbit(y[i]));
		free(e.buf);
		/* NaN and Inf anywhere are rejected */
		for (int bad = 0; bad < 3; bad++) {
			for (int i = 0; i < 64; i++)
				x[i] = (float)i;
			x[bad * 30] = bad == 1 ? -INFINITY : (bad ? INFINITY : NAN);
			CHECK_EQ(encode(kern[nkern - 1], &p, x, 64, &e),
				 MW_ENONFINITE);
			free(e.buf);
		}
	}
	/* unsigned MS, negative inputs: non-selected negatives decode to 0 */
	p.codec = MW_CODEC_MS;
	for (int i = 0; i < 16; i++)
		x[i] = i % 2 ? -(float)i : (float)i;
	p.k = 2;
	CHECK_EQ(encode(kern[0], &p, x, 16, &e), 4 + 8);
	CHECK(e.d.p0 == 12.0f);
	CHECK_EQ(mw_seg_decode(&e.d, 0, 16, e.buf, 12, y), 2);
	for (int i = 0; i < 16; i++)
		CHECK(i % 2 ? y[i] == 0.0f : fabsf(y[i] - x[i]) <= 2.0f);
	free(e.buf);
	/* all negative, k = 1: the max travels, threshold clamps to 0 */
	for (int i = 0; i < 16; i++)
		x[i] = -1.0f - (float)i;
	p.k = 1;
	CHECK_EQ(encode(kern[0], &p, x, 16, &e), 8);
	CHECK(e.d.p0 == 0.0f);
	CHECK_EQ(mw_codec_desc_check(&e.d), 0);
	CHECK_EQ(mw_seg_decode(&e.d, 0, 16, e.buf, 8, y), 1);
	CHECK(y[0] == -1.0f && y[1] == 0.0f && y[15] == 0.0f);
	free(e.buf);
	/* b = 1: non-selected are all 0 */
	p.bits = 1;
	p.k = 3;
	fill(x, 64, 0);
	CHECK_EQ(encode(kern[0], &p, x, 64, &e), 8 + 12);
	CHECK_EQ(mw_seg_decode(&e.d, 0, 64, e.buf, 20, y), 3);
	for (int i = 0, sel = 0; i < 64; i++) {
		sel += y[i] != 0.0f;
		CHECK(y[i] == 0.0f || y[i] == x[i]);
		CHECK(sel <= 3);
	}
	free(e.buf);
}

static void test_decode_errors(void)
{
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 3, .k = 4};
	float x[21], y[21];
	struct enc e;
	uint8_t buf[64];
	size_t mb = (21 * 3 + 7) / 8;

	fill(x, 21, 0);
	x[20] = 9.0f;
	CHECK_EQ(encode(kern[0], &p, x, 21, &e), (int64_t)(mb + 16));
	for (unsigned ki = 0; ki < nkern; ki++) {
		const struct mw_kernels *kr = kern[ki];

		memcpy(buf, e.buf, (size_t)e.len);
		/* one value missing / one too many */
		CHECK_EQ(mw_seg_decode_with(kr, &e.d, 0, 21, buf, mb + 12, y),
			 MW_ECOUNT);
		memset(buf + e.len, 0, 4);
		CHECK_EQ(mw_seg_decode_with(kr, &e.d, 0, 21, buf, mb + 20, y),
			 MW_ECOUNT);
		/* truncated mask, ragged values */
		CHECK_EQ(mw_seg_decode_with(kr, &e.d, 0, 21, buf, mb - 1, y),
			 MW_ETRUNC);
		CHECK_EQ(mw_seg_decode_with(kr, &e.d, 0, 21, buf, mb + 15, y),
			 MW_EFORMAT);
		/* a NaN value */
		mw_st_le32(buf + mb + 4, 0x7fc00000u);
		CHECK_EQ(mw_seg_decode_with(kr, &e.d, 0, 21, buf, mb + 16, y),
			 MW_ENONFINITE);
		/* padding bits after the last code */
		memcpy(buf, e.buf, (size_t)e.len);
		buf[mb - 1] |= 0x80;
		CHECK_EQ(mw_seg_decode_with(kr, &e.d, 0, 21, buf, mb + 16, y),
			 MW_EFORMAT);
		/* range and descriptor */
		CHECK_EQ(mw_seg_decode_with(kr, &e.d, 4, 8, buf, 3, y),
			 MW_EINVAL);
		CHECK_EQ(mw_seg_decode_with(kr, &e.d, 16, 8, buf, 3, y),
			 MW_EINVAL);
	}
	{
		struct mw_codec_desc d = e.d;

		d.p0 = -1.0f;
		CHECK_EQ(mw_seg_decode(&d, 0, 21, e.buf, (size_t)e.len, y),
			 MW_EINVAL);
		d.p0 = NAN;
		CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
		d = e.d;
		d.k = 22;
		CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
		d = e.d;
		d.k = 3; /* whole-tensor decode must carry k values */
		CHECK_EQ(mw_seg_decode(&d, 0, 21, e.buf, (size_t)e.len, y),
			 MW_ECOUNT);
		d = e.d;
		d.bits = 9;
		CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
		d.codec = 77;
		CHECK_EQ(mw_codec_desc_check(&d), MW_EUNSUPP);
	}
	free(e.buf);
}

/*
 * Stochastic rounding is unbiased: elements a fraction f of a step above
 * a level decode to the next level up in a fraction f of them (here
 * 65,472 elements: f within 0.01, over 5 standard deviations), every
 * element to one of its two levels; round to nearest takes them all down.
 */
static void test_stochastic(void)
{
	const uint64_t n = 1u << 16, k = 64;
	const float f = 0.3f, big = 10.0f;
	float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));

	for (int sgn = 0; sgn < 2; sgn++) {
		for (int rnd = 0; rnd < 2; rnd++) {
			struct mw_codec_params p = {
				.codec = sgn ? MW_CODEC_MS_SIGNED : MW_CODEC_MS,
				.bits = 2,
				.k = k,
				.rounding = rnd ? MW_ROUND_STOCHASTIC
						: MW_ROUND_NEAREST,
			};
			/* step d: t / 2 signed (levels -d, 0, d), t / 3 */
			const float d = sgn ? big / 2 : big / 3;
			double up = 0;
			struct enc e;

			for (uint64_t i = 0; i < n; i++) {
				float v = i % (n / k) == 0 ? big : f * d;

				x[i] = sgn && (i & 1) ? -v : v;
			}
			CHECK(encode(kern[nkern - 1], &p, x, n, &e) > 0);
			CHECK_EQ(e.d.rounding, p.rounding);
			CHECK(e.d.p0 == big);
			CHECK(mw_seg_decode(&e.d, 0, n, e.buf, (size_t)e.len,
					    y) == (int64_t)k);
			for (uint64_t i = 0; i < n; i++) {
				if (fabsf(x[i]) == big) {
					CHECK(y[i] == x[i]);
					continue;
				}
				CHECK(y[i] == 0.0f || fabsf(y[i]) == d);
				CHECK(y[i] == 0.0f || (y[i] > 0) == (x[i] > 0));
				up += y[i] != 0.0f;
			}
			up /= (double)(n - k);
			if (rnd)
				CHECK(fabs(up - f) < 0.01);
			else
				CHECK(up == 0.0);
			free(e.buf);
		}
	}
	free(x);
	free(y);
}

int main(void)
{
	tu_init();
	nkern = mw_kernels_all(kern, 3);
	printf("kernels:");
	for (unsigned k = 0; k < nkern; k++)
		printf(" %s", kern[k]->name);
	printf("\n");
	test_figure1();
	test_reference();
	test_error_bounds();
	test_stochastic();
	test_edges();
	test_decode_errors();
	return mw_test_exit("test_ms");
}
