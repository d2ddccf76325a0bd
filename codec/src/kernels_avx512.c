/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX-512 kernels (F, BW, VL, DQ). Like kernels_avx2.c: compiled with a
 * target attribute, chosen at run time only when the CPU reports every one
 * of those extensions, bit-identical to kernels_scalar.c. Each kernel takes
 * 16 elements at a time and leaves the rest (fewer than 16) to the scalar
 * kernel. Selected values and candidates are compressed in a register and
 * stored with one unaligned store (a compressing store to memory is slow on
 * some cores that have AVX-512). The MS emit packs b = 1, 2, 4, 8 with
 * vector instructions and other b with mw_pack8(); the decode takes
 * b <= 4 here and leaves wider codes to the AVX2 kernel. The selection's
 * filter pass takes 8 elements at a time (AVX-512VL on 256-bit vectors:
 * mask-register compares and a register compress instead of the AVX2
 * kernel's movemask and permutation table): on the AMD EPYC these were
 * written on, 16-lane filters measured 6-45% slower than the AVX2 one
 * (with one 512-bit or two 256-bit compresses, with the store skipped
 * for groups without a candidate), this one 10-13% faster. The top-k
 * emit is the AVX2 kernel; its cost is its sparse stores.
 */
#include "internal.h"

#ifdef MW_HAVE_AVX2
#include "kernels_x86.h"

#define MW_AVX512                                                            \
	__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,"      \
			      "popcnt")))

MW_AVX512 MW_INLINE __m512i key16(__m512i v, int mag)
{
	const __m512i abs = _mm512_set1_epi32((int)MW_ABS_MASK);

	if (mag)
		return _mm512_and_si512(v, abs);
	return _mm512_xor_si512(v,
				_mm512_and_si512(_mm512_srai_epi32(v, 31), abs));
}

MW_AVX512 MW_INLINE unsigned pop16(__mmask16 m)
{
	return (unsigned)__builtin_popcount((unsigned)m);
}

/* Selection of 16 elements: key > thr, and ties at thr in index order
 * while e->ties lasts. */
MW_AVX512 MW_INLINE __mmask16 sel16(__m512i k, __m512i vthr, uint64_t *ties)
{
	unsigned sm = (unsigned)_mm512_cmpgt_epi32_mask(k, vthr);

	if (*ties)
		sm = mw_take_ties(sm, (unsigned)_mm512_cmpeq_epi32_mask(k, vthr),
				  ties);
	return (__mmask16)sm;
}

struct emit_consts {
	__m512i vthr, voff, vsent, vseed;
	__m512 vs, vclo, vchi;
};

/* mw_mix32() of 16 lanes. */
MW_AVX512 MW_INLINE __m512i mix16(__m512i x)
{
	typedef uint32_t u32x16 __attribute__((vector_size(64)));
	u32x16 v = (u32x16)x;

	MW_MIX32(v);
	return (__m512i)v;
}

/*
 * Codes of 16 elements, the selected lanes (sm) set to the sentinel;
 * idx: the element index of the first (stochastic rounding only).
 */
MW_AVX512 MW_INLINE __m512i codes16(const struct emit_consts *k, __m512 xv,
				    __mmask16 sm, const int rnd, uint64_t idx)
{
	__m512 q = _mm512_mul_ps(xv, k->vs);
	__m512i ci;

	/* maxps returns its second operand for a NaN, as code_of() does */
	q = _mm512_min_ps(_mm512_max_ps(q, k->vclo), k->vchi);
	if (rnd == MW_ROUND_STOCHASTIC) {
		/* as code_of(): floor(q + u), then at most chi */
		__m512i h = mix16(_mm512_xor_si512(
			_mm512_add_epi32(
				_mm512_set1_epi32((int)(uint32_t)idx),
				_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8,
						  9, 10, 11, 12, 13, 14, 15)),
			k->vseed));
		__m512 u = _mm512_mul_ps(
			_mm512_cvtepi32_ps(_mm512_srli_epi32(h, 8)),
			_mm512_set1_ps(0x1p-24f));

		q = _mm512_roundscale_ps(_mm512_add_ps(q, u),
					 _MM_FROUND_TO_NEG_INF |
						 _MM_FROUND_NO_EXC);
		ci = _mm512_cvttps_epi32(_mm512_min_ps(q, k->vchi));
	} else if (rnd == MW_ROUND_FLOOR) {
		/* one conversion with the rounding in it: q is clamped, so
		 * the same integer as a round, then a truncation */
		ci = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEG_INF |
						       _MM_FROUND_NO_EXC);
	} else {
		ci = _mm512_cvt_roundps_epi32(q, _MM_FROUND_TO_NEAREST_INT |
						       _MM_FROUND_NO_EXC);
	}
	return _mm512_mask_mov_epi32(_mm512_add_epi32(ci, k->voff), sm,
				     k->vsent);
}

/*
 * Append the selected lanes of xv to the values, never past vend: a lane
 * that finds no room sets *over (the input changed since the selection).
 * Away from the end, one 64-byte store; the lanes past the selected ones
 * are overwritten by the next values.
 */
MW_AVX512 MW_INLINE uint8_t *emit_vals(uint8_t *vals, uint8_t *vend,
				       __m512 xv, __mmask16 sm, int *over)
{
	float lane[16];

	if (vend - vals >= 64) {
		_mm512_storeu_ps((void *)vals, _mm512_maskz_compress_ps(sm, xv));
		return vals + 4 * pop16(sm);
	}
	_mm512_storeu_ps(lane, xv);
	return mw_emit_lanes(vals, vend, lane, sm, over);
}

/* The mask bytes of 16 codes (2*b bytes, whole groups). */
MW_AVX512 MW_INLINE uint8_t *put_codes(uint8_t *mask, uint8_t *mend,
				       __m512i ci, __mmask16 sm,
				       const unsigned b)
{
	__m128i p;
	uint64_t w[2];

	switch (b) {
	case 1: /* every other code is 0 */
		mask[0] = (uint8_t)sm;
		mask[1] = (uint8_t)(sm >> 8);
		return mask + 2;
	case 8:
		_mm_storeu_si128((__m128i *)(void *)mask,
				 _mm512_cvtepi32_epi8(ci));
		return mask + 16;
	case 4: /* c0 + 16 c1 */
		p = _mm_maddubs_epi16(_mm512_cvtepi32_epi8(ci),
				      _mm_set1_epi16(0x1001));
		_mm_storel_epi64((__m128i *)(void *)mask,
				 _mm_packus_epi16(p, p));
		return mask + 8;
	case 2: { /* c0 + 4 c1 + 16 c2 + 64 c3 */
		uint32_t u;

		p = _mm_maddubs_epi16(_mm512_cvtepi32_epi8(ci),
				      _mm_set1_epi16(0x0401));
		p = _mm_madd_epi16(p, _mm_set1_epi32(0x00100001));
		u = (uint32_t)_mm_cvtsi128_si32(_mm_cvtepi32_epi8(p));
		memcpy(mask, &u, 4); /* x86 is little-endian */
		return mask + 4;
	}
	default:
		_mm_storeu_si128((__m128i *)(void *)w,
				 _mm512_cvtepi32_epi8(ci));
		for (int h = 0; h < 2; h++) {
			uint64_t v = mw_pack8(w[h], b);

			if (mask + 8 <= mend)
				memcpy(mask, &v, 8);
			else
				mw_st_bytes(mask, v, b);
			mask += b;
		}
		return mask;
	}
}

MW_AVX512 MW_INLINE void ms_emit_body(struct mw_emit *e, const float *x,
				      uint64_t n, const unsigned b,
				      const int mag, const int rnd)
{
	const struct emit_consts k = {
		.vthr = _mm512_set1_epi32(e->thr),
		.voff = _mm512_set1_epi32(e->off),
		.vsent = _mm512_set1_epi32((int)e->sentinel),
		.vs = _mm512_set1_ps(e->s),
		.vclo = _mm512_set1_ps(e->clo),
		.vchi = _mm512_set1_ps(e->chi),
		.vseed = _mm512_set1_epi32((int)e->seed),
	};
	const uint64_t n16 = n & ~(uint64_t)15;
	uint8_t *mask = e->mask, *const mend = e->mask_end, *vals = e->vals;
	uint8_t *const vend = e->vals_end;
	uint64_t ties = e->ties, i;
	int over = e->overflow;

	for (i = 0; i < n16; i += 16) {
		__m512 xv = _mm512_loadu_ps(x + i);
		__mmask16 sm = sel16(key16(_mm512_castps_si512(xv), mag),
				     k.vthr, &ties);

		mask = put_codes(mask, mend,
				 b == 1 ? _mm512_setzero_si512()
					: codes16(&k, xv, sm, rnd,
						  e->index + i),
				 sm, b);
		/* branch-free, also when most groups select nothing: at
		 * r = 0.99 about one group of 16 in seven selects a value,
		 * too often to predict a branch around the store */
		vals = emit_vals(vals, vend, xv, sm, &over);
	}
	e->mask = mask;
	e->vals = vals;
	e->ties = ties;
	e->overflow = over;
	e->index += i;
	mw_ms_emit_scalar(e, x + i, n - i);
}

/* One body per (b, key, rounding): the packing and the rounding are
 * constants inside each. Signed MS (magnitude keys) has no floor
 * (mw_ms_emit_init). */
#define MS_EMIT_B(b)                                                         \
	do {                                                                 \
		const int sr_ = e->rnd == MW_ROUND_STOCHASTIC;               \
		if (e->mag && sr_)                                           \
			ms_emit_body(e, x, n, b, 1, MW_ROUND_STOCHASTIC);    \
		else if (e->mag)                                             \
			ms_emit_body(e, x, n, b, 1, MW_ROUND_NEAREST);       \
		else if (sr_)                                                \
			ms_emit_body(e, x, n, b, 0, MW_ROUND_STOCHASTIC);    \
		else if (e->rnd == MW_ROUND_FLOOR)                           \
			ms_emit_body(e, x, n, b, 0, MW_ROUND_FLOOR);         \
		else                                                         \
			ms_emit_body(e, x, n, b, 0, MW_ROUND_NEAREST);       \
	} while (0)

MW_AVX512 static void ms_emit_avx512(struct mw_emit *e, const float *x,
				     uint64_t n)
{
	switch (e->bits) {
	case 1: MS_EMIT_B(1); break;
	case 2: MS_EMIT_B(2); break;
	case 4: MS_EMIT_B(4); break;
	case 8: MS_EMIT_B(8); break;
	default: MS_EMIT_B(e->bits); break;
	}
}

/*
 * Values are placed branch-free while 16 remain (load the next 16, expand
 * them into the sentinel lanes), also when few groups hold a sentinel: at
 * r = 0.99 about one group of 16 in seven does, too often to predict a
 * branch around it. The last values go lane by lane.
 */
MW_AVX512 MW_INLINE int decode_body(struct mw_dec *s, const uint8_t *mask,
				    uint64_t n, float *out, const unsigned b)
{
	const int ib = (int)b;
	const __m512i vl = _mm512_set1_epi32((1 << b) - 1);
	const __m512i voff = _mm512_set1_epi32(s->off);
	const __m512i vsent = _mm512_set1_epi32((int)s->sentinel);
	const __m512 vd = _mm512_set1_ps(s->d);
	const __m512 vadd = _mm512_set1_ps(s->add);
	const __m512i vexp = _mm512_set1_epi32((int)MW_EXP_MASK);
	/* codes 0-7 from the low 32 bits of a lane pair's word, 8-15 from
	 * the word shifted by 8b (8 codes of b <= 4 bits fit in 32) */
	const __m512i sh = _mm512_setr_epi32(0, ib, 2 * ib, 3 * ib, 4 * ib,
					     5 * ib, 6 * ib, 7 * ib, 0, ib,
					     2 * ib, 3 * ib, 4 * ib, 5 * ib,
					     6 * ib, 7 * ib);
	const uint64_t n16 = n & ~(uint64_t)15;
	const uint8_t *const mend = mask + MW_MASK_BYTES(n, b);
	const uint8_t *const vals = s->vals;
	const uint64_t vcnt = s->vcnt;
	uint64_t i, vi = s->vi;

	for (i = 0; i < n16; i += 16) {
		uint64_t w;
		__m512i c;
		__m512 f;
		unsigned sm;

		if (mask + 8 <= mend)
			memcpy(&w, mask, 8);
		else
			w = mw_ld_bytes(mask, 2 * b);
		mask += 2 * b;
		c = _mm512_inserti64x4(
			_mm512_castsi256_si512(_mm256_set1_epi32((int)w)),
			_mm256_set1_epi32((int)(w >> (8 * b))), 1);
		c = _mm512_and_si512(_mm512_srlv_epi32(c, sh), vl);
		sm = (unsigned)_mm512_cmpeq_epi32_mask(c, vsent);
		f = _mm512_cvtepi32_ps(_mm512_sub_epi32(c, voff));
		f = _mm512_add_ps(_mm512_mul_ps(f, vd), vadd);
		if (vi + 16 <= vcnt) {
			const unsigned cnt = (unsigned)__builtin_popcount(sm);
			__m512i v = _mm512_loadu_si512(
				(const void *)(vals + 4 * vi));
			unsigned bad = (unsigned)_mm512_cmpeq_epi32_mask(
				_mm512_and_si512(v, vexp), vexp);

			if (bad & ((1u << cnt) - 1))
				return MW_ENONFINITE;
			f = _mm512_mask_expand_ps(f, (__mmask16)sm,
						  _mm512_castsi512_ps(v));
			vi += cnt;
			sm = 0;
		}
		_mm512_storeu_ps(out + i, f);
		if (sm) {
			int rc = mw_decode_lanes(vals, vcnt, &vi, sm, out + i);

			if (rc < 0)
				return rc;
		}
	}
	s->vi = vi;
	return mw_decode_scalar(s, mask, n - i, out + i);
}

MW_AVX512 static int decode_avx512(struct mw_dec *s, const uint8_t *mask,
				   uint64_t n, float *out)
{
	switch (s->bits) {
	case 1: return decode_body(s, mask, n, out, 1);
	case 2: return decode_body(s, mask, n, out, 2);
	case 3: return decode_body(s, mask, n, out, 3);
	case 4: return decode_body(s, mask, n, out, 4);
	default: return mw_decode_avx2(s, mask, n, out);
	}
}

/*
 * The filter (struct mw_kernels) on 8 elements at a time, lo <= hi: a key
 * is a candidate when key - lo <= hi - lo as unsigned; the candidates of
 * 8 are compressed in a register and stored with one 32-byte store.
 */
MW_AVX512 MW_INLINE int filter_body(const float *x, uint64_t n,
				    const int mag, int32_t lo, int32_t hi,
				    uint32_t *cand, uint64_t *nc,
				    uint64_t *ngt)
{
	const struct mw_filter8 f = mw_filter8_init(lo, hi);
	const __m256i vw =
		_mm256_set1_epi32((int)((uint32_t)hi - (uint32_t)lo));
	const __m256i one = _mm256_set1_epi32(1);
	const uint64_t n8 = n & ~(uint64_t)7;
	/* bad: the largest exponent field seen; gtc: keys > hi per lane */
	__m256i bad = _mm256_setzero_si256(), gtc = _mm256_setzero_si256();
	uint64_t c = *nc, g = 0, i;
	uint32_t blk = 0;

	for (i = 0; i < n8; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(x + i));
		__m256i k = mw_key8(v, mag);
		__mmask8 in = _mm256_cmple_epu32_mask(
			_mm256_sub_epi32(k, f.vlo), vw);

		/* c <= i, so 8 lanes at cand + c stay inside cand[0..n) */
		_mm256_storeu_si256(
			(__m256i *)(void *)(cand + c),
			_mm256_maskz_compress_epi32(
				in, _mm256_xor_si256(k, f.vflip)));
		/* (through _cvtmask8_u32, gcc 12 keeps the compare's mask
		 * register for the compress instead of copying it: 10% here) */
		c += (unsigned)__builtin_popcount(_cvtmask8_u32(in));
		bad = _mm256_max_epu32(bad, _mm256_and_si256(v, f.vexp));
		gtc = _mm256_mask_add_epi32(
			gtc, _mm256_cmpgt_epi32_mask(k, f.vhi), gtc, one);
		mw_gt_group_done(&gtc, &blk, &g);
	}
	g += mw_hsum8(gtc);
	*ngt += g;
	*nc = c;
	return (_mm256_cmpeq_epi32_mask(bad, f.vexp) != 0) |
	       mw_filter_scalar(x + i, n - i, mag, lo, hi, cand, nc, ngt);
}

MW_AVX512 static int filter_avx512(const float *x, uint64_t n, int mag,
				   int32_t lo, int32_t hi, uint32_t *cand,
				   uint64_t *nc, uint64_t *ngt)
{
	if (lo > hi) /* an empty bracket: not what the selection asks */
		return mw_filter_scalar(x, n, mag, lo, hi, cand, nc, ngt);
	if (mag)
		return filter_body(x, n, 1, lo, hi, cand, nc, ngt);
	return filter_body(x, n, 0, lo, hi, cand, nc, ngt);
}

/* The planner's block counter, compiled for this set's target. */
MW_MS_COUNT_DEFINE(MW_AVX512 static, ms_count_avx512)

const struct mw_kernels mw_kernels_avx512 = {
	.name = "avx512",
	.filter = filter_avx512,
	.ms_emit = ms_emit_avx512,
	.topk_emit = mw_topk_emit_avx2,
	.decode = decode_avx512,
	.ms_count = ms_count_avx512,
};

#endif /* MW_HAVE_AVX2 */
