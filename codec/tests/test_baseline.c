/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Baselines (codec/src/baseline.c): top-k pairs, b-bit quantisation, dense
 * and raw; seeded round trips against what each promises, edge cases,
 * input changed between QUANT's passes, and decode errors.
 */
#include "internal.h"
#include "ref.h"
#include "testutil.h"

static int64_t enc(const struct mw_codec_params *p, const void *x,
		   uint64_t n, struct mw_codec_desc *d, uint8_t **out)
{
	size_t ss = mw_encode_scratch_size(p, n);
	int64_t size = mw_encode_size(p, n), len;
	void *scratch = malloc(ss + 1);

	*out = malloc(size > 0 ? (size_t)size : 1);
	len = mw_encode(p, x, n, d, *out, size > 0 ? (size_t)size : 0,
			ss ? scratch : NULL, ss);
	free(scratch);
	return len;
}

static void test_topk(void)
{
	for (int iter = 0; iter < 100; iter++) {
		uint64_t n = tu_below(3000), k;
		struct mw_codec_params p = {.codec = MW_CODEC_TOPK,
					    .k = 1 + tu_below(n + 1)};
		float *x = malloc((n + 1) * 4), *y = malloc((n + 1) * 4);
		uint8_t *sel = malloc(n + 1), *out;
		struct mw_codec_desc d;
		int64_t len;

		for (uint64_t i = 0; i < n; i++)
			x[i] = tu_below(4) ? tu_normal() : (float)tu_below(3);
		k = mw_codec_k(&p, n);
		len = enc(&p, x, n, &d, &out);
		CHECK_EQ(len, 8 * k);
		CHECK_EQ(d.k, k);
		CHECK_EQ(d.bits, 0);
		ref_topk(x, n, k, 1, sel);
		CHECK_EQ(mw_seg_decode(&d, 0, n, out, (size_t)len, y), k);
		for (uint64_t i = 0; i < n; i++)
			CHECK(sel[i] ? mw_f2u(y[i]) == mw_f2u(x[i]) : y[i] == 0.0f);
		free(x);
		free(y);
		free(sel);
		free(out);
	}
}

static void test_quant(void)
{
	for (int iter = 0; iter < 100; iter++) {
		uint64_t n = tu_below(3000);
		struct mw_codec_params p = {.codec = MW_CODEC_QUANT,
					    .bits = 1 + (unsigned)tu_below(8)};
		float *x = malloc((n + 1) * 4), *y = malloc((n + 1) * 4);
		float scale = tu_below(5) ? 1.0f : 0.0f;
		uint8_t *out;
		struct mw_codec_desc d;
		int64_t len;

		for (uint64_t i = 0; i < n; i++)
			x[i] = tu_normal() * scale + 3.0f;
		len = enc(&p, x, n, &d, &out);
		CHECK_EQ(len, mw_mask_bytes(n, p.bits));
		CHECK_EQ(mw_seg_decode(&d, 0, n, out, (size_t)len, y), 0);
		for (uint64_t i = 0; i < n; i++) {
			uint32_t c = ref_get_code(out, i, p.bits);

			CHECK(c <= (1u << p.bits) - 1);
			CHECK(fabsf(x[i] - y[i]) <= d.p1 * 0.5001f + 1e-6f);
			CHECK(y[i] == (float)c * d.p1 + d.p0);
		}
		if (scale == 0.0f && n > 0)
			CHECK(d.p1 == 0.0f && y[0] == 3.0f);
		free(x);
		free(y);
		free(out);
	}
	{
		/* max - min overflows float: reported, not encoded as Inf */
		float x[2] = {-3e38f, 3e38f};
		struct mw_codec_params p = {.codec = MW_CODEC_QUANT, .bits = 1};
		struct mw_codec_desc d;
		uint8_t *out;

		CHECK_EQ(enc(&p, x, 2, &d, &out), MW_ERANGE);
		free(out);
	}
	/*
	 * max - min fits but the decoder's top level min + L * step rounds
	 * past FLT_MAX (b = 5, 7): MW_ERANGE too, never a descriptor that
	 * mw_codec_desc_check() rejects.
	 */
	for (unsigned b = 1; b <= 8; b++) {
		float x[2] = {0.0f, 3.4028235e38f};
		struct mw_codec_params p = {.codec = MW_CODEC_QUANT, .bits = b};
		struct mw_codec_desc d;
		uint8_t *out;
		float y[2];
		int64_t len = enc(&p, x, 2, &d, &out);

		if (b == 5 || b == 7) {
			CHECK_EQ(len, MW_ERANGE);
		} else {
			CHECK_EQ(len, mw_mask_bytes(2, b));
			CHECK_EQ(mw_codec_desc_check(&d), 0);
			CHECK_EQ(mw_seg_decode(&d, 0, 2, out, (size_t)len, y),
				 0);
		}
		free(out);
	}
}

/*
 * The input changes between QUANT's range pass and its code pass (a client
 * rewriting shared memory): the range of x, the codes of a mutation y.
 * Every code stays in [0, 2^b - 1] and the mask in its bytes, so the
 * payload decodes; NaN/Inf in y is MW_ECHANGED.
 */
static void test_quant_changed(void)
{
	static const uint32_t odd[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u,
				       0x7f800000u, 0xff800000u, 0x7f7fffffu,
				       0xff7fffffu, 0x80000000u};

	for (int iter = 0; iter < 300; iter++) {
		const uint64_t n = 1 + tu_below(tu_below(4) ? 300 : 5000);
		const unsigned bits = 1 + (unsigned)tu_below(8);
		const size_t mb = (size_t)mw_mask_bytes(n, bits);
		float *x = malloc(n * 4), *y = malloc(n * 4), *z = malloc(n * 4);
		uint8_t *out = tu_guarded_alloc(mb);
		struct mw_codec_desc d = {.codec = MW_CODEC_QUANT,
					  .bits = (uint8_t)bits, .n = n};
		const int mut = (int)tu_below(4);
		int nonfinite = 0;
		float lo, step;
		int64_t rc;

		for (uint64_t i = 0; i < n; i++)
			x[i] = tu_below(8) ? tu_normal() : 0.0f;
		memcpy(y, x, n * 4);
		for (uint64_t i = 0, c = 1 + tu_below(n); i < c; i++) {
			uint64_t j = tu_below(n);

			switch (mut) {
			case 0: /* NaN, Inf, FLT_MAX, -0 */
				y[j] = mw_u2f(odd[tu_below(8)]);
				break;
			case 1: /* outside [min, max] */
				y[j] = x[j] * 1e6f;
				break;
			case 2: /* anything */
				y[j] = tu_normal() * 100.0f;
				break;
			default: /* unchanged */
				break;
			}
		}
		for (uint64_t i = 0; i < n; i++)
			nonfinite |= mw_nonfinite_bits(mw_f2u(y[i]));
		CHECK_EQ(mw_quant_range(x, n, bits, &lo, &step), 0);
		rc = mw_quant_codes(y, n, bits, lo, step, out);
		CHECK(tu_guard_ok(out, mb));
		if (nonfinite) {
			CHECK_EQ(rc, MW_ECHANGED);
		} else {
			CHECK_EQ(rc, (int64_t)mb);
			d.p0 = lo;
			d.p1 = step;
			CHECK_EQ(mw_seg_decode(&d, 0, n, out, mb, z), 0);
			for (uint64_t i = 0; i < n; i++)
				CHECK(isfinite(z[i]));
		}
		free(x);
		free(y);
		free(z);
		free(out);
	}
}

static void test_dense_raw(void)
{
	float x[37], y[37];
	uint8_t bytes[37], back[37], *out;
	struct mw_codec_params p = {.codec = MW_CODEC_DENSE};
	struct mw_codec_desc d;

	for (int i = 0; i < 37; i++) {
		x[i] = tu_normal();
		bytes[i] = (uint8_t)tu_rand();
	}
	CHECK_EQ(enc(&p, x, 37, &d, &out), 148);
	CHECK_EQ(mw_seg_decode(&d, 0, 37, out, 148, y), 0);
	CHECK(tu_same_bits(x, y, 37));
	CHECK_EQ(mw_seg_decode(&d, 0, 37, out, 147, y), MW_ETRUNC);
	mw_st_le32(out + 8, 0x7f800000u);
	CHECK_EQ(mw_seg_decode(&d, 0, 37, out, 148, y), MW_ENONFINITE);
	free(out);
	x[5] = INFINITY;
	CHECK_EQ(enc(&p, x, 37, &d, &out), MW_ENONFINITE);
	free(out);
	p.codec = MW_CODEC_RAW;
	CHECK_EQ(enc(&p, bytes, 37, &d, &out), 37);
	CHECK_EQ(mw_seg_decode(&d, 0, 37, out, 37, back), 0);
	CHECK(memcmp(bytes, back, 37) == 0);
	CHECK_EQ(mw_seg_decode(&d, 0, 37, out, 38, back), MW_EFORMAT);
	free(out);
}

static void test_topk_errors(void)
{
	float x[16], y[16];
	struct mw_codec_params p = {.codec = MW_CODEC_TOPK, .k = 3};
	struct mw_codec_desc d;
	uint8_t *out;

	for (int i = 0; i < 16; i++)
		x[i] = (float)(i * 7 % 16);
	CHECK_EQ(enc(&p, x, 16, &d, &out), 24);
	CHECK_EQ(mw_seg_decode(&d, 0, 16, out, 23, y), MW_EFORMAT);
	/* indices must increase and stay in range */
	mw_st_le32(out + 8, mw_ld_le32(out));
	CHECK_EQ(mw_seg_decode(&d, 0, 16, out, 24, y), MW_ERANGE);
	mw_st_le32(out + 8, 16);
	CHECK_EQ(mw_seg_decode(&d, 0, 16, out, 24, y), MW_ERANGE);
	/* a pair outside the segment's range */
	CHECK_EQ(mw_seg_decode(&d, 8, 8, out, 8, y), MW_ERANGE);
	free(out);
	/* TOPK indices are uint32 */
	CHECK_EQ(mw_encode_size(&p, (1ull << 32) + 1), MW_ERANGE);
}

int main(void)
{
	tu_init();
	test_topk();
	test_quant();
	test_quant_changed();
	test_dense_raw();
	test_topk_errors();
	return mw_test_exit("test_baseline");
}
