/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX2 kernels. Compiled with a target attribute (not a global -mavx2) and
 * used only when the CPU reports AVX2, so the library runs on any x86-64.
 * Each kernel handles whole groups of 8 elements and leaves the tail to the
 * scalar kernel; results are bit-identical to kernels_scalar.c.
 */
#include "internal.h"

#ifdef MW_HAVE_AVX2
#include "kernels_lut.h"
#include "kernels_x86.h"

/* Lane indices of a LUT entry as a vector. */
MW_AVX2 MW_INLINE __m256i lut_idx(const uint64_t *lut, unsigned m)
{
	return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)lut[m]));
}

MW_AVX2 MW_INLINE int filter_body(const float *x, uint64_t n, const int mag,
				  int32_t lo, int32_t hi, uint32_t *cand,
				  uint64_t *nc, uint64_t *ngt)
{
	const struct mw_filter8 f = mw_filter8_init(lo, hi);
	const uint64_t n8 = n & ~(uint64_t)7;
	__m256i bad = _mm256_setzero_si256(), gtc = _mm256_setzero_si256();
	uint64_t c = *nc, g = 0, i;
	uint32_t blk = 0;

	for (i = 0; i < n8; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
		__m256i k = mw_key8(v, mag);
		__m256i gt = _mm256_cmpgt_epi32(k, f.vhi);
		__m256i out =
			_mm256_or_si256(gt, _mm256_cmpgt_epi32(f.vlo, k));
		unsigned cm;

		bad = _mm256_or_si256(
			bad, _mm256_cmpeq_epi32(_mm256_and_si256(v, f.vexp),
						f.vexp));
		gtc = _mm256_sub_epi32(gtc, gt);
		cm = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(out)) &
		     0xffu;
		/* c <= i, so 8 lanes at cand + c stay inside cand[0..n) */
		_mm256_storeu_si256((__m256i *)(cand + c),
				    _mm256_permutevar8x32_epi32(
					    _mm256_xor_si256(k, f.vflip),
					    lut_idx(mw_lut_compress, cm)));
		c += (unsigned)__builtin_popcount(cm);
		mw_gt_group_done(&gtc, &blk, &g);
	}
	g += mw_hsum8(gtc);
	*ngt += g;
	*nc = c;
	return (_mm256_movemask_epi8(bad) != 0) |
	       mw_filter_scalar(x + i, n - i, mag, lo, hi, cand, nc, ngt);
}

MW_AVX2 int mw_filter_avx2(const float *x, uint64_t n, int mag, int32_t lo,
			   int32_t hi, uint32_t *cand, uint64_t *nc,
			   uint64_t *ngt)
{
	if (mag)
		return filter_body(x, n, 1, lo, hi, cand, nc, ngt);
	return filter_body(x, n, 0, lo, hi, cand, nc, ngt);
}

/*
 * Selection of 8 elements: a bit per element; takes ties at the threshold
 * in index order while e->ties lasts. *selv gets the lanes as a vector.
 */
MW_AVX2 MW_INLINE unsigned sel8(__m256i k, __m256i vthr, uint64_t *ties,
				__m256i *selv)
{
	const __m256i bitsel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
	__m256i gt = _mm256_cmpgt_epi32(k, vthr);
	unsigned sm = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(gt));

	*selv = gt;
	if (*ties) {
		unsigned em = (unsigned)_mm256_movemask_ps(
			_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, vthr)));

		if (em) {
			sm = mw_take_ties(sm, em, ties);
			*selv = _mm256_cmpeq_epi32(
				_mm256_and_si256(_mm256_set1_epi32((int)sm),
						 bitsel),
				bitsel);
		}
	}
	return sm;
}

/* The payload's values as float storage (unaligned stores only). */
static inline float *vals_f(uint8_t *p)
{
	return (float *)(void *)p;
}

struct emit_consts {
	__m256i vthr, voff, vsent, vseed;
	__m256 vs, vclo, vchi;
};

/* mw_mix32() of 8 lanes. */
MW_AVX2 MW_INLINE __m256i mix8(__m256i x)
{
	typedef uint32_t u32x8 __attribute__((vector_size(32)));
	u32x8 v = (u32x8)x;

	MW_MIX32(v);
	return (__m256i)v;
}

/*
 * Codes of 8 non-selected elements (selected lanes fixed by the caller);
 * idx: the element index of the first (stochastic rounding only).
 */
MW_AVX2 MW_INLINE __m256i quant8(const struct emit_consts *k, __m256 xv,
				 const int rnd, uint64_t idx)
{
	__m256 q = _mm256_mul_ps(xv, k->vs);

	q = _mm256_min_ps(_mm256_max_ps(q, k->vclo), k->vchi);
	if (rnd == MW_ROUND_STOCHASTIC) {
		/* as code_of(): floor(q + u), then at most chi */
		__m256i h = mix8(_mm256_xor_si256(
			_mm256_add_epi32(_mm256_set1_epi32((int)(uint32_t)idx),
					 _mm256_setr_epi32(0, 1, 2, 3, 4, 5,
							   6, 7)),
			k->vseed));
		__m256 u = _mm256_mul_ps(
			_mm256_cvtepi32_ps(_mm256_srli_epi32(h, 8)),
			_mm256_set1_ps(0x1p-24f));

		q = _mm256_round_ps(_mm256_add_ps(q, u),
				    _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
		q = _mm256_min_ps(q, k->vchi);
	} else if (rnd == MW_ROUND_FLOOR) {
		q = _mm256_round_ps(q, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
	} else {
		q = _mm256_round_ps(q, _MM_FROUND_TO_NEAREST_INT |
					       _MM_FROUND_NO_EXC);
	}
	return _mm256_add_epi32(_mm256_cvttps_epi32(q), k->voff);
}

/*
 * Append the selected lanes of xv (mask sm) to the values, never past vend:
 * a lane that finds no room sets *over (the input changed since the
 * selection). Away from the end, one 8-lane store; the lanes past the
 * selected ones are overwritten by the next values.
 */
MW_AVX2 MW_INLINE uint8_t *emit_vals(uint8_t *vals, uint8_t *vend,
				     __m256 xv, unsigned sm, int *over,
				     const int sparse)
{
	float lane[8];

	if (sparse && !sm) /* most groups select nothing: a short path */
		return vals;
	if (vend - vals >= 32) {
		_mm256_storeu_ps(vals_f(vals),
				 _mm256_permutevar8x32_ps(
					 xv, lut_idx(mw_lut_compress, sm)));
		return vals + 4 * (unsigned)__builtin_popcount(sm);
	}
	_mm256_storeu_ps(lane, xv);
	return mw_emit_lanes(vals, vend, lane, sm, over);
}

/*
 * Blocks of 32 elements for b = 2, 4, 8: the codes of four vectors become
 * 32 bytes in element order, then multiply-add pairs of codes into bytes
 * (b = 2: c0 + 4c1 + 16c2 + 64c3; b = 4: c0 + 16c1).
 */
MW_AVX2 MW_INLINE uint64_t emit_blocks32(struct mw_emit *e,
					 const struct emit_consts *k,
					 const float *x, uint64_t n,
					 const int mag, const int rnd,
					 const int sparse)
{
	const unsigned b = e->bits;
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	uint8_t *mask = e->mask, *vals = e->vals, *const vend = e->vals_end;
	uint64_t ties = e->ties, i;
	int over = e->overflow;

	for (i = 0; i + 32 <= n; i += 32) {
		__m256i ci[4], p;

		for (int q = 0; q < 4; q++) {
			__m256 xv = _mm256_loadu_ps(x + i + 8 * q);
			__m256i selv;
			unsigned sm = sel8(mw_key8(_mm256_castps_si256(xv), mag),
					   k->vthr, &ties, &selv);

			ci[q] = _mm256_blendv_epi8(
				quant8(k, xv, rnd, e->index + i + 8 * q),
				k->vsent, selv);
			vals = emit_vals(vals, vend, xv, sm, &over, sparse);
		}
		p = _mm256_packus_epi16(_mm256_packus_epi32(ci[0], ci[1]),
					_mm256_packus_epi32(ci[2], ci[3]));
		p = _mm256_permutevar8x32_epi32(p, order);
		if (b == 8) {
			_mm256_storeu_si256((__m256i *)mask, p);
		} else if (b == 4) {
			p = _mm256_maddubs_epi16(p, _mm256_set1_epi16(0x1001));
			p = _mm256_packus_epi16(p, p);
			p = _mm256_permute4x64_epi64(p, _MM_SHUFFLE(3, 1, 2, 0));
			_mm_storeu_si128((__m128i *)mask,
					 _mm256_castsi256_si128(p));
		} else {
			p = _mm256_maddubs_epi16(p, _mm256_set1_epi16(0x0401));
			p = _mm256_madd_epi16(p, _mm256_set1_epi32(0x00100001));
			p = _mm256_packus_epi32(p, p);
			p = _mm256_packus_epi16(p, p);
			p = _mm256_permutevar8x32_epi32(
				p, _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4));
			_mm_storel_epi64((__m128i *)mask,
					 _mm256_castsi256_si128(p));
		}
		mask += 4 * b;
	}
	e->mask = mask;
	e->vals = vals;
	e->ties = ties;
	e->overflow = over;
	return i;
}

MW_AVX2 MW_INLINE void ms_emit_body(struct mw_emit *e, const float *x,
				    uint64_t n, const int mag,
				    const int rnd, const int sparse)
{
	const unsigned b = e->bits;
	const struct emit_consts k = {
		.vthr = _mm256_set1_epi32(e->thr),
		.voff = _mm256_set1_epi32(e->off),
		.vsent = _mm256_set1_epi32((int)e->sentinel),
		.vs = _mm256_set1_ps(e->s),
		.vclo = _mm256_set1_ps(e->clo),
		.vchi = _mm256_set1_ps(e->chi),
		.vseed = _mm256_set1_epi32((int)e->seed),
	};
	const uint64_t n8 = n & ~(uint64_t)7;
	uint64_t i = 0;
	uint8_t *mask, *const mend = e->mask_end, *vals;
	uint64_t ties;
	int over;

	if (b == 2 || b == 4 || b == 8)
		i = emit_blocks32(e, &k, x, n, mag, rnd, sparse);
	mask = e->mask;
	vals = e->vals;
	ties = e->ties;
	over = e->overflow;
	for (; i < n8; i += 8) {
		__m256 xv = _mm256_loadu_ps(x + i);
		__m256i selv;
		unsigned sm = sel8(mw_key8(_mm256_castps_si256(xv), mag), k.vthr,
				   &ties, &selv);
		uint64_t w;

		if (b == 1) {
			w = sm; /* every other code is 0 */
		} else {
			__m256i ci = _mm256_blendv_epi8(
				quant8(&k, xv, rnd, e->index + i), k.vsent,
				selv);
			__m128i p = _mm_packus_epi32(
				_mm256_castsi256_si128(ci),
				_mm256_extracti128_si256(ci, 1));

			p = _mm_packus_epi16(p, p);
			w = mw_pack8((uint64_t)_mm_cvtsi128_si64(p), b);
		}
		if (mask + 8 <= mend)
			memcpy(mask, &w, 8); /* x86 is little-endian */
		else
			mw_st_bytes(mask, w, b);
		mask += b;
		vals = emit_vals(vals, e->vals_end, xv, sm, &over, sparse);
	}
	e->mask = mask;
	e->vals = vals;
	e->ties = ties;
	e->overflow = over;
	e->index += i;
	mw_ms_emit_scalar(e, x + i, n - i);
}

/* One body per (key, rounding, density): each a constant inside it.
 * Signed MS (magnitude keys) has no floor (mw_ms_emit_init). */
MW_AVX2 MW_INLINE void ms_emit_sp(struct mw_emit *e, const float *x,
				  uint64_t n, const int sparse)
{
	const int sr = e->rnd == MW_ROUND_STOCHASTIC;

	if (e->mag && sr)
		ms_emit_body(e, x, n, 1, MW_ROUND_STOCHASTIC, sparse);
	else if (e->mag)
		ms_emit_body(e, x, n, 1, MW_ROUND_NEAREST, sparse);
	else if (sr)
		ms_emit_body(e, x, n, 0, MW_ROUND_STOCHASTIC, sparse);
	else if (e->rnd == MW_ROUND_FLOOR)
		ms_emit_body(e, x, n, 0, MW_ROUND_FLOOR, sparse);
	else
		ms_emit_body(e, x, n, 0, MW_ROUND_NEAREST, sparse);
}

MW_AVX2 static void ms_emit_avx2(struct mw_emit *e, const float *x,
				 uint64_t n)
{
	/* Sparse (fewer than one value per 32 elements, so most groups of 8
	 * select nothing): a group without a value skips the value store,
	 * a well-predicted branch; denser, the store is branch-free. */
	if (e->sparse)
		ms_emit_sp(e, x, n, 1);
	else
		ms_emit_sp(e, x, n, 0);
}

MW_AVX2 void mw_topk_emit_avx2(struct mw_emit *e, const float *x,
			       uint64_t n)
{
	const __m256i vthr = _mm256_set1_epi32(e->thr);
	const uint64_t n8 = n & ~(uint64_t)7;
	uint8_t *vals = e->vals, *const vend = e->vals_end;
	uint64_t ties = e->ties, i;

	for (i = 0; i < n8; i += 8) {
		__m256i selv;
		__m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
		unsigned sm = sel8(mw_key8(v, e->mag), vthr, &ties, &selv);

		/* most groups select nothing: keep their path as short */
		if (sm && vend - vals < 8 * __builtin_popcount(sm)) {
			e->overflow = 1;
			break;
		}
		while (sm) {
			unsigned j = (unsigned)__builtin_ctz(sm);

			mw_st_le32(vals, (uint32_t)(e->index + i + j));
			memcpy(vals + 4, x + i + j, 4);
			vals += 8;
			sm &= sm - 1;
		}
	}
	e->vals = vals;
	e->ties = ties;
	e->index += i;
	if (!e->overflow)
		mw_topk_emit_scalar(e, x + i, n - i);
}

/*
 * dense: place values branch-free (load the next 8 values, spread them to
 * the sentinel lanes); otherwise only in groups that hold a sentinel.
 */
MW_AVX2 MW_INLINE int decode_body(struct mw_dec *s, const uint8_t *mask,
				  uint64_t n, float *out, const int dense)
{
	const unsigned b = s->bits;
	const int lmask = (1 << b) - 1;
	const __m256i vl = _mm256_set1_epi32(lmask);
	const __m256i voff = _mm256_set1_epi32(s->off);
	const __m256i vsent = _mm256_set1_epi32((int)s->sentinel);
	const __m256 vd = _mm256_set1_ps(s->d);
	const __m256 vadd = _mm256_set1_ps(s->add);
	const __m256i vexp = _mm256_set1_epi32((int)MW_EXP_MASK);
	const int ib = (int)b;
	const __m256i sh32 = _mm256_setr_epi32(0, ib, 2 * ib, 3 * ib, 4 * ib,
					       5 * ib, 6 * ib, 7 * ib);
	const __m256i sh64a = _mm256_setr_epi64x(0, ib, 2 * ib, 3 * ib);
	const __m256i sh64b =
		_mm256_setr_epi64x(4 * ib, 5 * ib, 6 * ib, 7 * ib);
	const uint64_t n8 = n & ~(uint64_t)7;
	const uint8_t *const mend = mask + MW_MASK_BYTES(n, b);
	const uint8_t *const vals = s->vals;
	const uint64_t vcnt = s->vcnt;
	uint64_t i, vi = s->vi;

	for (i = 0; i < n8; i += 8) {
		uint64_t w;
		__m256i c, sv;
		__m256 f;
		unsigned sm;

		if (mask + 8 <= mend)
			memcpy(&w, mask, 8);
		else
			w = mw_ld_bytes(mask, b);
		mask += b;
		if (b <= 4) {
			c = _mm256_srlv_epi32(_mm256_set1_epi32((int)w), sh32);
		} else {
			__m256i wv = _mm256_set1_epi64x((long long)w);
			__m256 a = _mm256_castsi256_ps(
				_mm256_srlv_epi64(wv, sh64a));
			__m256 h = _mm256_castsi256_ps(
				_mm256_srlv_epi64(wv, sh64b));

			c = _mm256_permute4x64_epi64(
				_mm256_castps_si256(_mm256_shuffle_ps(
					a, h, _MM_SHUFFLE(2, 0, 2, 0))),
				_MM_SHUFFLE(3, 1, 2, 0));
		}
		c = _mm256_and_si256(c, vl);
		sv = _mm256_cmpeq_epi32(c, vsent);
		sm = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(sv));
		f = _mm256_cvtepi32_ps(_mm256_sub_epi32(c, voff));
		f = _mm256_add_ps(_mm256_mul_ps(f, vd), vadd);
		if ((dense || sm) && vi + 8 <= vcnt) {
			const unsigned cnt = (unsigned)__builtin_popcount(sm);
			__m256i v = _mm256_loadu_si256(
				(const __m256i *)(vals + 4 * vi));
			unsigned bad = (unsigned)_mm256_movemask_ps(
				_mm256_castsi256_ps(_mm256_cmpeq_epi32(
					_mm256_and_si256(v, vexp), vexp)));

			if (bad & ((1u << cnt) - 1))
				return MW_ENONFINITE;
			f = _mm256_blendv_ps(
				f,
				_mm256_castsi256_ps(_mm256_permutevar8x32_epi32(
					v, lut_idx(mw_lut_expand, sm))),
				_mm256_castsi256_ps(sv));
			vi += cnt;
			sm = 0;
		}
		_mm256_storeu_ps(out + i, f);
		if (sm) {
			int rc = mw_decode_lanes(vals, vcnt, &vi, sm, out + i);

			if (rc < 0)
				return rc;
		}
	}
	s->vi = vi;
	return mw_decode_scalar(s, mask, n - i, out + i);
}

/*
 * Branch-free value placement unless values are very sparse: with one
 * value in 256 elements or more, a group of 8 holds a sentinel too often
 * to predict a branch around it (r = 0.99, b = 2: 15-17 against 7.5-12.9
 * GB/s here); sparser (r = 0.999), the branch is predicted and the
 * unconditional load, permutation and blend cost more (19-20 against
 * 16-17 GB/s).
 */
MW_AVX2 int mw_decode_avx2(struct mw_dec *s, const uint8_t *mask,
			   uint64_t n, float *out)
{
	if (s->vcnt * 256 > n)
		return decode_body(s, mask, n, out, 1);
	return decode_body(s, mask, n, out, 0);
}

/* The planner's block counter; this set's target gives it popcnt. */
MW_MS_COUNT_DEFINE(MW_AVX2 static, ms_count_avx2)

const struct mw_kernels mw_kernels_avx2 = {
	.name = "avx2",
	.filter = mw_filter_avx2,
	.ms_emit = ms_emit_avx2,
	.topk_emit = mw_topk_emit_avx2,
	.decode = mw_decode_avx2,
	.ms_count = ms_count_avx2,
};

#endif /* MW_HAVE_AVX2 */
