/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Baselines (codec/src/baseline.c): top-k pairs, b-bit quantisation, dense
 * and raw; seeded round trips against what each promises, edge cases and
 * decode errors.
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
	test_dense_raw();
	test_topk_errors();
	return mw_test_exit("test_baseline");
}
