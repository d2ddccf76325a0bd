/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Public entry points (codec/src/codec.c): parameter and descriptor checks,
 * sizes, k from a ratio, names, argument errors of mw_encode().
 */
#include "internal.h"
#include "testutil.h"

static void test_params(void)
{
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 2,
				    .ratio = 0.99};

	CHECK_EQ(mw_codec_params_check(&p), 0);
	p.bits = 0;
	CHECK_EQ(mw_codec_params_check(&p), MW_EINVAL);
	p.bits = 9;
	CHECK_EQ(mw_codec_params_check(&p), MW_EINVAL);
	p.bits = 8;
	p.ratio = 1.0;
	CHECK_EQ(mw_codec_params_check(&p), MW_EINVAL);
	p.ratio = NAN;
	CHECK_EQ(mw_codec_params_check(&p), MW_EINVAL);
	p.k = 5; /* ratio unused */
	CHECK_EQ(mw_codec_params_check(&p), 0);
	p.rounding = MW_ROUND_STOCHASTIC;
	CHECK_EQ(mw_codec_params_check(&p), 0);
	p.rounding = MW_ROUND_COUNT_;
	CHECK_EQ(mw_codec_params_check(&p), MW_EINVAL);
	p.rounding = MW_ROUND_FLOOR;
	p.codec = MW_CODEC_COUNT_;
	CHECK_EQ(mw_codec_params_check(&p), MW_EINVAL);
	p.codec = MW_CODEC_DENSE;
	p.bits = 0; /* unused for dense */
	CHECK_EQ(mw_codec_params_check(&p), 0);
	CHECK_EQ(mw_codec_params_check(NULL), MW_EINVAL);
}

static void test_sizes(void)
{
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 2,
				    .ratio = 0.99};

	CHECK_EQ(mw_mask_bytes(16, 2), 4);
	CHECK_EQ(mw_mask_bytes(17, 3), 7);
	CHECK_EQ(MW_MASK_BYTES(0, 8), 0);
	CHECK_EQ(mw_codec_k(&p, 0), 0);
	CHECK_EQ(mw_codec_k(&p, 1), 1);
	CHECK_EQ(mw_codec_k(&p, 100), 1);
	CHECK_EQ(mw_codec_k(&p, 1000), 10);
	p.ratio = 0.9;
	CHECK_EQ(mw_codec_k(&p, 1000), 100); /* not 99 from 1000 * 0.0999.. */
	p.ratio = 0.0;
	CHECK_EQ(mw_codec_k(&p, 77), 77);
	p.k = 500;
	CHECK_EQ(mw_codec_k(&p, 77), 77);
	p.k = 0;
	p.ratio = 0.99;
	/* 1,048,576 elements at r = 0.99, b = 2: 2.32 bits an element */
	CHECK_EQ(mw_encode_size(&p, 1u << 20), (1u << 18) + 4 * 10485);
	CHECK_EQ(MW_MS_BOUND(1u << 20, 2, 10485), (1u << 18) + 4 * 10485);
	CHECK_EQ(mw_encode_scratch_size(&p, 1000), 4004);
	CHECK_EQ(mw_encode_size(&p, (1ull << 58) + 1), MW_ERANGE);
	p.codec = MW_CODEC_TOPK;
	CHECK_EQ(mw_encode_size(&p, 1000), 80);
	p.codec = MW_CODEC_QUANT;
	CHECK_EQ(mw_encode_size(&p, 1000), 250);
	CHECK_EQ(mw_encode_scratch_size(&p, 1000), 0);
	p.codec = MW_CODEC_DENSE;
	CHECK_EQ(mw_encode_size(&p, 1000), 4000);
	p.codec = MW_CODEC_RAW;
	CHECK_EQ(mw_encode_size(&p, 1000), 1000);
}

static void test_encode_args(void)
{
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 2, .k = 2};
	float x[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	uint8_t out[64], scratch[128];
	struct mw_codec_desc d;

	CHECK_EQ(mw_encode(&p, x, 16, &d, out, 12, scratch, sizeof(scratch)),
		 12);
	CHECK_EQ(mw_encode(&p, x, 16, &d, out, 11, scratch, sizeof(scratch)),
		 MW_ENOSPC);
	CHECK_EQ(mw_encode(&p, x, 16, &d, out, 12, NULL, 0), MW_EINVAL);
	CHECK_EQ(mw_encode(&p, x, 16, &d, out, 12, scratch, 67), MW_ENOSPC);
	CHECK_EQ(mw_encode(&p, x, 16, &d, out, 12, scratch, 68), 12);
	CHECK_EQ(mw_encode(&p, NULL, 16, &d, out, 12, scratch, 68), MW_EINVAL);
	CHECK_EQ(mw_encode(&p, x, 16, NULL, out, 12, scratch, 68), MW_EINVAL);
	p.bits = 0;
	CHECK_EQ(mw_encode(&p, x, 16, &d, out, 64, scratch, 68), MW_EINVAL);
}

static void test_desc(void)
{
	struct mw_codec_desc d = {.codec = MW_CODEC_QUANT, .bits = 4,
				  .p0 = -1.0f, .p1 = 0.5f, .n = 10};

	CHECK_EQ(mw_codec_desc_check(&d), 0);
	CHECK_EQ(mw_payload_size(&d), 5);
	d.p1 = -0.5f;
	CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
	d.p1 = 3e38f; /* min + 15 * step overflows */
	CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
	d.p1 = 0.5f;
	d.k = 1;
	CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
	d = (struct mw_codec_desc){.codec = MW_CODEC_DENSE, .n = 3};
	CHECK_EQ(mw_codec_desc_check(&d), 0);
	d.bits = 2;
	CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
	d.bits = 0;
	d.p0 = 1.0f;
	CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
	d = (struct mw_codec_desc){.codec = MW_CODEC_MS, .bits = 2, .n = 3,
				   .k = 1, .p0 = INFINITY};
	CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
	d.p0 = 1.0f;
	d.rounding = 7;
	CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
	d.rounding = 0;
	d.n = 1ull << 59;
	CHECK_EQ(mw_codec_desc_check(&d), MW_EINVAL);
	CHECK_EQ(mw_codec_desc_check(NULL), MW_EINVAL);
}

static void test_names(void)
{
	for (unsigned c = 0; c < MW_CODEC_COUNT_; c++)
		CHECK_EQ(mw_codec_from_name(mw_codec_name(c)), c);
	CHECK(strcmp(mw_codec_name(MW_CODEC_MS_SIGNED), "ms-signed") == 0);
	CHECK(strcmp(mw_codec_name(99), "?") == 0);
	CHECK_EQ(mw_codec_from_name("zstd"), MW_EINVAL);
	CHECK_EQ(mw_codec_from_name(NULL), MW_EINVAL);
	for (unsigned r = 0; r < MW_ROUND_COUNT_; r++)
		CHECK_EQ(mw_rounding_from_name(mw_rounding_name(r)), r);
	CHECK(strcmp(mw_rounding_name(MW_ROUND_STOCHASTIC), "stochastic") ==
	      0);
	CHECK(strcmp(mw_rounding_name(MW_ROUND_COUNT_), "?") == 0);
	CHECK_EQ(mw_rounding_from_name("up"), MW_EINVAL);
	CHECK_EQ(mw_rounding_from_name(NULL), MW_EINVAL);
	CHECK_EQ(mw_codec_elem_size(MW_CODEC_RAW), 1);
	CHECK_EQ(mw_codec_elem_size(MW_CODEC_MS), 4);
	CHECK(strcmp(mw_codec_simd_name(), mw_kernels_get(MW_SIMD_AUTO)->name) ==
	      0);
	CHECK(strcmp(mw_kernels_get(MW_SIMD_SCALAR)->name, "scalar") == 0);
}


/*
 * mw_encode() writes every byte of the payload it reports, whatever the
 * buffer held before: callers may hand it uninitialised memory (the
 * transport does). Two encodes into buffers filled with 0x00 and 0xff must
 * agree byte for byte.
 */
static void test_encode_writes_all(void)
{
	static const unsigned codecs[] = {MW_CODEC_MS, MW_CODEC_MS_SIGNED,
					  MW_CODEC_TOPK, MW_CODEC_QUANT,
					  MW_CODEC_DENSE, MW_CODEC_RAW};
	enum { N_MAX = 3000 };
	static float x[N_MAX];
	static uint8_t a[N_MAX * 8 + 64], b[N_MAX * 8 + 64];
	static uint8_t scratch[N_MAX * 4 + 64];

	for (unsigned round = 0; round < 40; round++) {
		uint64_t n = 1 + tu_below(N_MAX);
		for (uint64_t i = 0; i < n; i++)
			x[i] = tu_normal();
		for (unsigned c = 0; c < sizeof(codecs) / sizeof(codecs[0]);
		     c++) {
			struct mw_codec_params p = {
				.codec = (enum mw_codec)codecs[c],
				.bits = 1 + (unsigned)tu_below(8),
				.ratio = 0.9 + 0.09 * tu_unit(),
			};
			struct mw_codec_desc da, db;
			int64_t size = mw_encode_size(&p, n);
			CHECK(size >= 0 && (uint64_t)size <= sizeof(a));
			if (size < 0 || (uint64_t)size > sizeof(a))
				continue;
			memset(a, 0x00, (size_t)size);
			memset(b, 0xff, (size_t)size);
			int64_t la = mw_encode(&p, x, n, &da, a, sizeof(a),
					       scratch, sizeof(scratch));
			int64_t lb = mw_encode(&p, x, n, &db, b, sizeof(b),
					       scratch, sizeof(scratch));
			CHECK_EQ(la, size);
			CHECK_EQ(lb, size);
			CHECK(la == size && memcmp(a, b, (size_t)size) == 0);
		}
	}
}

int main(void)
{
	tu_init();
	test_params();
	test_sizes();
	test_encode_args();
	test_encode_writes_all();
	test_desc();
	test_names();
	return mw_test_exit("test_codec");
}
