/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encoding in steps (codec/src/enc.c): any budget, with every kernel set,
 * gives the bytes, descriptor and result of one mw_encode() call, for every
 * codec, sizes around the selection's sampling threshold included, and a
 * NaN in the input gives the same error. An input changed between the
 * selection and the emit pass (which steps make deterministic) fails with
 * MW_ECHANGED or gives a payload that decodes; never more than the payload
 * size is written. A bad argument fails at mw_enc_begin() and every step.
 */
#include "internal.h"
#include "testutil.h"

static const struct mw_kernels *kern[3];
static unsigned nkern;

struct run {
	int64_t rc;
	struct mw_codec_desc d;
	uint8_t *out;
	size_t size;
};

static void fill(float *x, uint64_t n, enum mw_codec codec)
{
	for (uint64_t i = 0; i < n; i++) {
		float v = tu_normal();

		/* ReLU-like activations: many exact zeros, ties included */
		x[i] = codec == MW_CODEC_MS && v < 0.3f ? 0.0f : v;
	}
	if (codec == MW_CODEC_RAW)
		for (uint64_t i = 0; i < n; i++)
			((uint8_t *)x)[i] = (uint8_t)tu_rand();
}

/* One encode: budget 0 means one mw_encode() call, else steps of it. */
static void run_enc(const struct mw_kernels *kr,
		    const struct mw_codec_params *p, const float *x,
		    uint64_t n, uint64_t budget, struct run *r)
{
	size_t ss = mw_encode_scratch_size(p, n);
	void *scratch = malloc(ss + 1);
	struct mw_enc enc;
	int64_t r0;
	int rc, steps = 0;

	r->size = (size_t)mw_encode_size(p, n);
	r->out = tu_guarded_alloc(r->size);
	memset(&r->d, 0, sizeof(r->d));
	if (budget == 0) {
		r->rc = mw_encode_with(kr, p, x, n, &r->d, r->out, r->size,
				       ss ? scratch : NULL, ss);
	} else {
		CHECK_EQ(mw_enc_begin_with(kr, &enc, p, x, n, r->out, r->size,
					   ss ? scratch : NULL, ss),
			 0);
		r0 = mw_enc_result(&enc, NULL); /* nothing done yet */
		CHECK(r0 == MW_EAGAIN || (n == 0 && r0 == 0));
		while ((rc = mw_enc_step(&enc, budget)) == 1)
			steps++;
		/* an error sticks; a finished encode stays finished */
		CHECK_EQ(mw_enc_step(&enc, budget), rc);
		r->rc = rc < 0 ? rc : mw_enc_result(&enc, &r->d);
		if (r->rc >= 0 && n > 16 * budget &&
		    (p->codec == MW_CODEC_MS || p->codec == MW_CODEC_DENSE))
			CHECK(steps >= 2); /* it really was cut */
	}
	CHECK(tu_guard_ok(r->out, r->size));
	free(scratch);
}

static void same(const struct run *a, const struct run *b)
{
	CHECK_EQ(a->rc, b->rc);
	if (a->rc >= 0) {
		CHECK(memcmp(&a->d, &b->d, sizeof(a->d)) == 0);
		CHECK(memcmp(a->out, b->out, (size_t)a->rc) == 0);
	}
}

static uint64_t pick_n(void)
{
	switch (tu_below(4)) {
	case 0:
		return tu_below(40);
	case 1:
		return tu_below(5000);
	case 2: /* around the selection's sampling threshold */
		return MW_SAMPLE_MIN_N - 20 + tu_below(40);
	default:
		return MW_SAMPLE_MIN_N + tu_below(200000);
	}
}

static void test_same_bytes(void)
{
	static const enum mw_codec codecs[] = {
		MW_CODEC_MS,   MW_CODEC_MS_SIGNED, MW_CODEC_TOPK,
		MW_CODEC_QUANT, MW_CODEC_DENSE,    MW_CODEC_RAW,
	};

	for (int iter = 0; iter < 120; iter++) {
		enum mw_codec c = codecs[tu_below(6)];
		uint64_t n = pick_n();
		struct mw_codec_params p = {
			.codec = c,
			.bits = 1 + (unsigned)tu_below(8),
			.rounding = c == MW_CODEC_MS || c == MW_CODEC_MS_SIGNED
					    ? (enum mw_rounding)tu_below(
						      MW_ROUND_COUNT_)
					    : MW_ROUND_NEAREST,
			.ratio = tu_below(2) ? 0.99 : tu_unit() * 0.999,
		};
		uint64_t budget = tu_below(3) ? 1 + tu_below(64)
					      : 1 + tu_below(30000);
		float *x = malloc(n * 4 + 4);
		struct run one, st;

		if (c == MW_CODEC_DENSE || c == MW_CODEC_RAW)
			p.bits = 0;
		fill(x, n, c);
		if (n > 0 && tu_below(8) == 0)
			x[tu_below(n)] = c == MW_CODEC_RAW ? 0.0f : NAN;
		for (unsigned k = 0; k < nkern; k++) {
			run_enc(kern[k], &p, x, n, 0, &one);
			run_enc(kern[k], &p, x, n, budget, &st);
			same(&one, &st);
			free(one.out);
			free(st.out);
		}
		free(x);
	}
}

/* Between the selection and the emit, one element becomes the largest:
 * one value too many for the k the selection found. */
static void test_changed_between_passes(void)
{
	const uint64_t n = 100000;
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 2,
				    .ratio = 0.99};
	size_t ss = mw_encode_scratch_size(&p, n);
	int64_t size = mw_encode_size(&p, n);
	float *x = malloc(n * 4);
	void *scratch = malloc(ss);
	uint8_t *out = tu_guarded_alloc((size_t)size);
	struct mw_enc enc;
	int rc, guard = 0;

	fill(x, n, MW_CODEC_MS);
	for (unsigned k = 0; k < nkern; k++) {
		CHECK_EQ(mw_enc_begin_with(kern[k], &enc, &p, x, n, out,
					   (size_t)size, scratch, ss),
			 0);
		/* bracket, then two filter steps of n / 2 */
		CHECK_EQ(mw_enc_step(&enc, 1), 1);
		CHECK_EQ(mw_enc_step(&enc, n / 2), 1);
		CHECK_EQ(mw_enc_step(&enc, n / 2), 1);
		x[n / 3] = 1e30f;
		while ((rc = mw_enc_step(&enc, 4096)) == 1 && guard++ < 1000)
			;
		CHECK_EQ(rc, MW_ECHANGED);
		CHECK(tu_guard_ok(out, (size_t)size));
		x[n / 3] = 0.0f;
	}
	free(out);
	free(scratch);
	free(x);
}

static void test_bad_args(void)
{
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 9,
				    .ratio = 0.99};
	struct mw_enc enc;
	float x[16] = {0};
	uint8_t out[64];

	CHECK_EQ(mw_enc_begin(&enc, &p, x, 16, out, sizeof(out), NULL, 0),
		 MW_EINVAL);
	CHECK_EQ(mw_enc_step(&enc, 100), MW_EINVAL);
	CHECK_EQ(mw_enc_result(&enc, NULL), MW_EINVAL);
	p.bits = 2;
	CHECK_EQ(mw_enc_begin(&enc, &p, x, 16, out, 4, NULL, 0), MW_ENOSPC);
	CHECK_EQ(mw_enc_step(&enc, 100), MW_ENOSPC);
	p.codec = MW_CODEC_DENSE;
	p.bits = 0;
	CHECK_EQ(mw_enc_begin(&enc, &p, NULL, 16, out, sizeof(out), NULL, 0),
		 MW_EINVAL);
}

int main(void)
{
	tu_init();
	nkern = mw_kernels_all(kern, 3);
	test_same_bytes();
	test_changed_between_passes();
	test_bad_args();
	return mw_test_exit("test_enc");
}
