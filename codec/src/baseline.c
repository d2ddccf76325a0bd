/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The baselines MS is measured against: top-k as (index, value) pairs,
 * b-bit uniform quantisation on [min, max], and dense float32.
 */
#include <math.h>

#include "internal.h"

#if defined(__SSE2__) && !defined(MW_NO_SIMD)
#include <emmintrin.h>
#endif

int64_t mw_topk_encode(const struct mw_kernels *kr, const float *x,
		       uint64_t n, uint64_t k, struct mw_codec_desc *desc,
		       uint8_t *out, uint32_t *scratch)
{
	struct mw_sel sel;
	struct mw_emit e;
	int rc;

	desc->k = k;
	if (n == 0)
		return 0;
	rc = mw_select(kr, x, n, k, 1, scratch, &sel);
	if (rc < 0)
		return rc;
	memset(&e, 0, sizeof(e));
	e.thr = sel.thr;
	e.ties = sel.ties;
	e.mag = 1;
	e.vals = out;
	e.vals_end = out + 8 * k;
	kr->topk_emit(&e, x, n);
	/*
	 * As for MS: if x changed since the selection, the emit pass may
	 * select another count (the pairs stop at vals_end) or a NaN/Inf.
	 * Indices come from the loop, so they are increasing and below n.
	 */
	if (e.overflow || e.vals != e.vals_end ||
	    mw_any_nonfinite(out + 4, k, 8))
		return MW_ECHANGED;
	return (int64_t)(8 * k);
}

int64_t mw_topk_decode(const struct mw_codec_desc *d, uint64_t elem_off,
		       uint64_t elem_cnt, const uint8_t *payload, size_t len,
		       float *out)
{
	const uint64_t cnt = len / 8;
	int64_t prev = -1;

	(void)d;
	if (len % 8 != 0 || cnt > elem_cnt)
		return MW_EFORMAT;
	memset(out, 0, elem_cnt * sizeof(*out));
	for (uint64_t i = 0; i < cnt; i++) {
		uint64_t idx = mw_ld_le32(payload + 8 * i);
		uint32_t u = mw_ld_le32(payload + 8 * i + 4);

		if (idx < elem_off || idx - elem_off >= elem_cnt ||
		    (int64_t)idx <= prev)
			return MW_ERANGE;
		if (mw_nonfinite_bits(u))
			return MW_ENONFINITE;
		out[idx - elem_off] = mw_u2f(u);
		prev = (int64_t)idx;
	}
	return (int64_t)cnt;
}

int mw_quant_range(const float *x, uint64_t n, unsigned bits, float *lo,
		   float *step)
{
	const uint32_t L = (1u << bits) - 1;
	float mn = INFINITY, mx = -INFINITY;

	/* branches, not min/max: they are rarely taken, and a minss chain
	 * through mn would be ~12% slower */
	for (uint64_t i = 0; i < n; i++) {
		float v = x[i];

		if (mw_nonfinite_bits(mw_f2u(v)))
			return MW_ENONFINITE;
		if (v < mn)
			mn = v;
		if (v > mx)
			mx = v;
	}
	*lo = mn;
	*step = (mx - mn) / (float)L;
	/* the decoder's top level, L * step + min, rounds up past max and
	 * can overflow when max is near FLT_MAX (b = 5, 7) */
	if (!isfinite(*step) || !isfinite((float)L * *step + mn))
		return MW_ERANGE;
	return 0;
}

int64_t mw_quant_codes(const float *x, uint64_t n, unsigned bits, float lo,
		       float step, uint8_t *out)
{
	const uint32_t L = (1u << bits) - 1;
	uint32_t bad = 0;

	for (uint64_t i = 0; i < n; i += 8) {
		unsigned cnt = n - i < 8 ? (unsigned)(n - i) : 8;
		uint64_t w = 0;

		for (unsigned j = 0; j < cnt; j++) {
			float xv = x[i + j], v = 0.0f;

			/* bit 31 set iff the exponent is all ones (NaN/Inf):
			 * three cheap operations per element */
			bad |= (mw_f2u(xv) & MW_EXP_MASK) + 0x00800000u;
			if (step > 0.0f) {
				v = (xv - lo) / step;
				/* NaN to 0 too: a code never leaves [0, L] */
				v = v >= 0.0f ? v : 0.0f;
				v = v > (float)L ? (float)L : v;
			}
			w |= (uint64_t)(uint32_t)mw_rne(v) << (8 * j);
		}
		mw_st_bytes(out + i / 8 * bits, mw_pack8(w, bits),
			    (cnt * bits + 7) / 8);
	}
	/* the range pass saw only finite values: x changed in between */
	if (bad & 0x80000000u)
		return MW_ECHANGED;
	return (int64_t)mw_mask_bytes(n, bits);
}

int64_t mw_quant_encode(const float *x, uint64_t n, unsigned bits,
			struct mw_codec_desc *desc, uint8_t *out)
{
	float lo, step;
	int rc;

	if (n == 0)
		return 0;
	rc = mw_quant_range(x, n, bits, &lo, &step);
	if (rc < 0)
		return rc;
	desc->p0 = lo;
	desc->p1 = step;
	return mw_quant_codes(x, n, bits, lo, step, out);
}

int64_t mw_quant_decode(const struct mw_kernels *kr,
			const struct mw_codec_desc *d, uint64_t elem_cnt,
			const uint8_t *payload, size_t len, float *out)
{
	const uint64_t mb = mw_mask_bytes(elem_cnt, d->bits);
	struct mw_dec s;
	int rc;

	if (len < mb)
		return MW_ETRUNC;
	if (len > mb)
		return MW_EFORMAT;
	mw_dec_init(&s, d);
	rc = kr->decode(&s, payload, elem_cnt, out);
	return rc < 0 ? rc : 0;
}

/*
 * Dense runs in blocks that stay in L1. Encode copies a block, then checks
 * the copy for NaN/Inf (a branch-free OR-reduction the compiler
 * vectorises): x is read once, and the check covers exactly the bytes
 * written, whatever another process does to x meanwhile (checking x, then
 * copying it, would let a value rewritten in between slip through). An
 * early exit per element would keep the loops scalar.
 */
#define DENSE_BLOCK 256u

/*
 * One block of floats to the payload. On x86-64, 16-byte loads and stores:
 * GCC expands a memcpy of this size into rep movsq, which pulls a block
 * from memory about 15% slower.
 */
static void dense_copy(uint8_t *dst, const float *src, uint64_t m)
{
	uint64_t i = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#if defined(__SSE2__) && !defined(MW_NO_SIMD)
	for (; i + 16 <= m; i += 16) {
		const __m128i *s = (const __m128i *)(const void *)(src + i);
		__m128i *d = (__m128i *)(void *)(dst + 4 * i);
		__m128i a = _mm_loadu_si128(s), b = _mm_loadu_si128(s + 1);
		__m128i c = _mm_loadu_si128(s + 2), e = _mm_loadu_si128(s + 3);

		_mm_storeu_si128(d, a);
		_mm_storeu_si128(d + 1, b);
		_mm_storeu_si128(d + 2, c);
		_mm_storeu_si128(d + 3, e);
	}
#endif
	memcpy(dst + 4 * i, src + i, 4 * (m - i));
#else
	for (; i < m; i++)
		mw_st_le32(dst + 4 * i, mw_f2u(src[i]));
#endif
}

int64_t mw_dense_encode(const float *x, uint64_t n,
			struct mw_codec_desc *desc, uint8_t *out)
{
	(void)desc;
	for (uint64_t b = 0; b < n; b += DENSE_BLOCK) {
		uint64_t m = n - b < DENSE_BLOCK ? n - b : DENSE_BLOCK;

		dense_copy(out + 4 * b, x + b, m);
		if (mw_any_nonfinite(out + 4 * b, m, 4))
			return MW_ENONFINITE;
	}
	return (int64_t)(4 * n);
}

int64_t mw_dense_decode(uint64_t elem_cnt, const uint8_t *payload,
			size_t len, float *out)
{
	if (len < 4 * elem_cnt)
		return MW_ETRUNC;
	if (len > 4 * elem_cnt)
		return MW_EFORMAT;
	for (uint64_t b = 0; b < elem_cnt; b += DENSE_BLOCK) {
		uint64_t m = elem_cnt - b < DENSE_BLOCK ? elem_cnt - b
							: DENSE_BLOCK;

		if (mw_any_nonfinite(payload + 4 * b, m, 4))
			return MW_ENONFINITE;
		for (uint64_t i = b; i < b + m; i++)
			out[i] = mw_u2f(mw_ld_le32(payload + 4 * i));
	}
	return 0;
}
