/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to the codec library and its tests: bit helpers, the state the
 * kernels share, and the kernel table (scalar, AVX2 or AVX-512, chosen per
 * call).
 */
#ifndef MW_CODEC_INTERNAL_H
#define MW_CODEC_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "mw_codec.h"

/* x86-64 gets AVX2 and AVX-512 kernels (chosen at run time); -DMW_NO_SIMD
 * builds the portable library only, as on other architectures. */
#if defined(__x86_64__) && !defined(MW_NO_SIMD)
#define MW_HAVE_AVX2 1
#endif

#define MW_EXP_MASK 0x7f800000u
#define MW_ABS_MASK 0x7fffffffu
#define MW_KEY_FLIP 0x80000000u

static inline uint32_t mw_f2u(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static inline float mw_u2f(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static inline int mw_nonfinite_bits(uint32_t u)
{
	return (u & MW_EXP_MASK) == MW_EXP_MASK;
}

/*
 * Selection keys: int32 values whose signed order is the order top-k uses.
 * Order key (MS): the float order, with -0 below +0 (a total order on the
 * bit patterns). Magnitude key (MS_SIGNED, TOPK): |x| as bits.
 */
static inline int32_t mw_key_order(uint32_t u)
{
	return (int32_t)(u ^ ((uint32_t)((int32_t)u >> 31) & MW_ABS_MASK));
}

static inline int32_t mw_key_mag(uint32_t u)
{
	return (int32_t)(u & MW_ABS_MASK);
}

static inline int32_t mw_key(uint32_t u, int mag)
{
	return mag ? mw_key_mag(u) : mw_key_order(u);
}

static inline void mw_st_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t mw_ld_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline void mw_st_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline uint16_t mw_ld_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline void mw_st_le64(uint8_t *p, uint64_t v)
{
	mw_st_le32(p, (uint32_t)v);
	mw_st_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint64_t mw_ld_le64(const uint8_t *p)
{
	return (uint64_t)mw_ld_le32(p) | (uint64_t)mw_ld_le32(p + 4) << 32;
}

/* Load/store the low nbytes (0..8) of a little-endian word. */
static inline uint64_t mw_ld_bytes(const uint8_t *p, unsigned nbytes)
{
	uint64_t w = 0;

	for (unsigned i = 0; i < nbytes; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

static inline void mw_st_bytes(uint8_t *p, uint64_t w, unsigned nbytes)
{
	for (unsigned i = 0; i < nbytes; i++)
		p[i] = (uint8_t)(w >> (8 * i));
}

/*
 * Eight codes, one a byte (code i in byte i), into 8*b bits with code i at
 * bits [i*b, i*b + b): the mask layout of one aligned group.
 */
static inline uint64_t mw_pack8(uint64_t w, unsigned b)
{
	w = (w & 0x00ff00ff00ff00ffull) |
	    ((w >> 8) & 0x00ff00ff00ff00ffull) << b;
	w = (w & 0x0000ffff0000ffffull) |
	    ((w >> 16) & 0x0000ffff0000ffffull) << (2 * b);
	w = (w & 0xffffffffull) | (w >> 32) << (4 * b);
	return w;
}

/* Round half to even for |v| < 2^22 in the default rounding mode. */
static inline float mw_rne(float v)
{
	const float magic = 12582912.0f; /* 1.5 * 2^23 */

	return (v + magic) - magic;
}

/*
 * A 32-bit integer hash (xor-shift-multiply, full avalanche), written once
 * for a uint32_t and for GCC vectors of them (the SIMD kernels' lanes:
 * the operators act lane by lane, constants broadcast).
 */
#define MW_MIX32(v)                                                          \
	do {                                                                 \
		(v) ^= (v) >> 16;                                            \
		(v) *= 0x7feb352du;                                          \
		(v) ^= (v) >> 15;                                            \
		(v) *= 0x846ca68bu;                                          \
		(v) ^= (v) >> 16;                                            \
	} while (0)

static inline uint32_t mw_mix32(uint32_t v)
{
	MW_MIX32(v);
	return v;
}

/*
 * Stochastic rounding's offset for element i: u in [0, 1) with 24 bits,
 * from the low 32 bits of i (docs/CODEC.md). floor(v + u) rounds v up
 * with probability frac(v).
 */
static inline float mw_sr_offset(uint32_t seed, uint64_t i)
{
	return (float)(mw_mix32((uint32_t)i ^ seed) >> 8) * 0x1p-24f;
}

/*
 * The rounding an MS or MS_SIGNED encode applies and records: the
 * caller's, but MS_SIGNED has no floor and rounds to nearest instead.
 */
static inline enum mw_rounding mw_ms_rounding(const struct mw_codec_params *p)
{
	return p->codec == MW_CODEC_MS_SIGNED && p->rounding == MW_ROUND_FLOOR
		       ? MW_ROUND_NEAREST
		       : p->rounding;
}

/* A top-k selection: key > thr, plus the first `ties` elements == thr. */
struct mw_sel {
	int32_t thr;
	uint64_t ties;
	unsigned passes; /* filter passes over x: 1, or 2 after a bad sample */
};

/*
 * The SIMD decodes' lane-by-lane path: the values of the sentinel lanes sm
 * (bit j: element j of the group at out) in order, from vals[*vi], with
 * the scalar kernel's checks. @return 0, MW_ECOUNT or MW_ENONFINITE.
 */
static inline int mw_decode_lanes(const uint8_t *vals, uint64_t vcnt,
				  uint64_t *vi, unsigned sm, float *out)
{
	while (sm) {
		uint32_t u;

		if (*vi >= vcnt)
			return MW_ECOUNT;
		u = mw_ld_le32(vals + 4 * *vi);
		if (mw_nonfinite_bits(u))
			return MW_ENONFINITE;
		out[__builtin_ctz(sm)] = mw_u2f(u);
		(*vi)++;
		sm &= sm - 1;
	}
	return 0;
}

/*
 * The SIMD emits' careful value store near the end of the payload: the
 * selected lanes sm of lane[] appended one by one while they fit; one
 * that does not sets *over (the input changed since the selection).
 */
static inline uint8_t *mw_emit_lanes(uint8_t *vals, const uint8_t *vend,
				     const float *lane, unsigned sm,
				     int *over)
{
	while (sm) {
		if (vend - vals < 4) {
			*over = 1;
			break;
		}
		memcpy(vals, lane + __builtin_ctz(sm), 4);
		vals += 4;
		sm &= sm - 1;
	}
	return vals;
}

/*
 * Ties at the threshold: adds to sm the lowest set bits of em (the lanes
 * equal to the threshold, in index order) while *ties lasts.
 */
static inline unsigned mw_take_ties(unsigned sm, unsigned em, uint64_t *ties)
{
	while (em && *ties) {
		sm |= em & -em;
		em &= em - 1;
		(*ties)--;
	}
	return sm;
}

/* Selection sample (select.c): SAMPLE_BLOCKS runs of SAMPLE_RUN elements. */
#define MW_SAMPLE_MIN_N (1u << 16)
#define MW_SAMPLE_BLOCKS 1024u
#define MW_SAMPLE_RUN 16u
#define MW_SAMPLE_N (MW_SAMPLE_BLOCKS * MW_SAMPLE_RUN)

/*
 * State of one encode pass (MS, MS_SIGNED, TOPK); the kernels advance it.
 * The input may have changed since the selection (a client rewriting shared
 * memory), so the pass can select more or fewer than k elements: the kernels
 * never write a value past vals_end, and set overflow instead.
 */
struct mw_emit {
	int32_t thr;       /* selection threshold key */
	uint64_t ties;     /* ties at thr still to take (in index order) */
	int mag;           /* magnitude keys */
	int rnd;           /* mw_ms_rounding() */
	uint32_t seed;     /* MW_ROUND_STOCHASTIC: mw_mix32(bits of t) */
	unsigned bits;     /* b */
	float s;           /* scale x -> code units */
	float clo, chi;    /* clamp range of x*s before rounding */
	int32_t off;       /* added to the rounded value */
	uint32_t sentinel; /* code of a selected element */
	uint64_t index;    /* element index of x[0] (TOPK pairs, STOCHASTIC);
			      each emit call advances it */
	uint8_t *mask;     /* next mask byte */
	uint8_t *mask_end; /* end of the mask */
	uint8_t *vals;     /* next value (MS) or pair (TOPK) */
	uint8_t *vals_end; /* end of the payload: no value is written past it */
	int overflow;      /* a selected element found no room left */
	int sparse;        /* fewer than 1 value per 32 elements (a hint) */
};

/* State of one decode pass (MS, MS_SIGNED, QUANT). */
struct mw_dec {
	unsigned bits;
	int32_t off;      /* subtracted from a code before scaling */
	int64_t sentinel; /* code taking the next value; -1: none */
	float d;          /* step */
	float add;        /* added after scaling (-0.0f: identity) */
	const uint8_t *vals;
	uint64_t vcnt;    /* values carried */
	uint64_t vi;      /* values consumed */
};

struct mw_kernels {
	const char *name;
	/*
	 * One pass over x: count keys > hi into *ngt, append keys in [lo, hi]
	 * (as unsigned keys: key ^ MW_KEY_FLIP) to cand (room for n).
	 * @return 1 if x holds NaN/Inf, else 0.
	 */
	int (*filter)(const float *x, uint64_t n, int mag, int32_t lo,
		      int32_t hi, uint32_t *cand, uint64_t *nc, uint64_t *ngt);
	/*
	 * MS mask + values for n elements (a partial group only at the end).
	 * Writes the mask's bytes for n elements and values up to vals_end
	 * only, whatever x holds.
	 */
	void (*ms_emit)(struct mw_emit *e, const float *x, uint64_t n);
	/* TOPK pairs for n elements, up to vals_end only. */
	void (*topk_emit)(struct mw_emit *e, const float *x, uint64_t n);
	/*
	 * Mask of n codes to floats. @return 0, MW_ECOUNT (more sentinels than
	 * values), MW_ENONFINITE (a value is NaN/Inf), MW_EFORMAT (non-zero
	 * padding bits after the last code).
	 */
	int (*decode)(struct mw_dec *s, const uint8_t *mask, uint64_t n,
		      float *out);
	/*
	 * Segment planning: cnt[i] = sentinel (all-ones) codes among the 64
	 * b-bit codes of block i, i < nblk; block i is the 8*b mask bytes at
	 * mask + 8*b*i.
	 */
	void (*ms_count)(const uint8_t *mask, uint64_t nblk, unsigned b,
			 uint8_t *cnt);
};

enum mw_simd_level {
	MW_SIMD_AUTO = 0,   /* the best set the CPU supports */
	MW_SIMD_SCALAR = 1, /* the portable reference */
	MW_SIMD_AVX2 = 2,   /* AVX2 (NULL where the CPU lacks it) */
	MW_SIMD_AVX512 = 3, /* AVX-512 F/BW/VL/DQ (NULL where it lacks them) */
};

extern const struct mw_kernels mw_kernels_scalar;
#ifdef MW_HAVE_AVX2
extern const struct mw_kernels mw_kernels_avx2;
extern const struct mw_kernels mw_kernels_avx512;
/* AVX2 kernels the AVX-512 set shares. */
int mw_filter_avx2(const float *x, uint64_t n, int mag, int32_t lo,
		   int32_t hi, uint32_t *cand, uint64_t *nc, uint64_t *ngt);
void mw_topk_emit_avx2(struct mw_emit *e, const float *x, uint64_t n);
int mw_decode_avx2(struct mw_dec *s, const uint8_t *mask, uint64_t n,
		   float *out);
#endif

/*
 * Every kernel set this CPU can run, the scalar reference first (for tests
 * and benchmarks that compare them): fills ks (room for max) and returns
 * the count.
 */
unsigned mw_kernels_all(const struct mw_kernels **ks, unsigned max);

/* The kernels to use: the best the CPU supports, or scalar when forced. */
const struct mw_kernels *mw_kernels_get(enum mw_simd_level level);

/* Codes of a planning block (struct mw_kernels.ms_count). */
#define MW_COUNT_BLOCK 64u

/*
 * The block counter, for a constant b: per 64-bit word, AND each bit with
 * the b-1 bits above it (for b = 3, 5, 6, 7 the next word's low bits shift
 * in, so codes that straddle two words count), keep the bits where a code
 * starts, popcount.
 * Inlined into each kernel set so that the popcount compiles to the
 * instruction where the set's target has one.
 */
static inline __attribute__((always_inline)) void
mw_ms_count_body(const uint8_t *mask, uint64_t nblk, const unsigned b,
		 uint8_t *cnt)
{
	uint64_t lsb[MW_BITS_MAX];

	for (unsigned i = 0; i < b; i++) {
		lsb[i] = 0;
		for (unsigned j = (b - 64 * i % b) % b; j < 64; j += b)
			lsb[i] |= 1ull << j;
	}
	for (uint64_t k = 0; k < nblk; k++, mask += 8 * b) {
		uint64_t w = mw_ld_le64(mask);
		unsigned c = 0;

		for (unsigned i = 0; i < b; i++) {
			/* a code never extends past its block's last word */
			uint64_t next = i + 1 < b ? mw_ld_le64(mask + 8 * i + 8)
						  : 0;
			uint64_t a = w;

			for (unsigned j = 1; j < b; j++)
				a &= 64 % b == 0 ? w >> j
						 : w >> j | next << (64 - j);
			c += (unsigned)__builtin_popcountll(a & lsb[i]);
			w = next;
		}
		cnt[k] = (uint8_t)c;
	}
}

/* Dispatch on b so that each width gets its unrolled body. */
#define MW_MS_COUNT_DEFINE(attr, name)                                       \
	attr void name(const uint8_t *mask, uint64_t nblk, unsigned b,       \
		       uint8_t *cnt)                                         \
	{                                                                    \
		switch (b) {                                                 \
		case 1: mw_ms_count_body(mask, nblk, 1, cnt); break;        \
		case 2: mw_ms_count_body(mask, nblk, 2, cnt); break;        \
		case 3: mw_ms_count_body(mask, nblk, 3, cnt); break;        \
		case 4: mw_ms_count_body(mask, nblk, 4, cnt); break;        \
		case 5: mw_ms_count_body(mask, nblk, 5, cnt); break;        \
		case 6: mw_ms_count_body(mask, nblk, 6, cnt); break;        \
		case 7: mw_ms_count_body(mask, nblk, 7, cnt); break;        \
		default: mw_ms_count_body(mask, nblk, 8, cnt); break;       \
		}                                                            \
	}

/* Scalar tails shared by the SIMD kernels. */
void mw_ms_emit_scalar(struct mw_emit *e, const float *x, uint64_t n);
void mw_topk_emit_scalar(struct mw_emit *e, const float *x, uint64_t n);
int mw_decode_scalar(struct mw_dec *s, const uint8_t *mask, uint64_t n,
		     float *out);
int mw_filter_scalar(const float *x, uint64_t n, int mag, int32_t lo,
		     int32_t hi, uint32_t *cand, uint64_t *nc, uint64_t *ngt);

/*
 * Top-k selection (select.c): finds thr/ties so that exactly k elements of
 * x are selected by key (ties: lower index first). 1 <= k <= n; scratch
 * holds n uint32. @return 0, MW_ENONFINITE, or MW_ECHANGED (a second
 * filter pass found NaN/Inf the first did not).
 */
int mw_select(const struct mw_kernels *kr, const float *x, uint64_t n,
	      uint64_t k, int mag, uint32_t *scratch, struct mw_sel *sel);

/* The selection in parts, for an encode done in steps (enc.c): a bracket
 * [lo, hi] from a sample (the whole key range for small n), then, after
 * the filter passes, the threshold and ties from the candidates (which
 * are reordered). */
void mw_select_bracket(const float *x, uint64_t n, uint64_t k, int mag,
		       uint32_t *scratch, int32_t *lo, int32_t *hi);
void mw_select_thr(uint32_t *cand, uint64_t nc, uint64_t ngt, uint64_t k,
		   struct mw_sel *sel);

/* r-th largest (1-based) of a[0..m) as an unsigned key; a is reordered. */
uint32_t mw_radix_select(uint32_t *a, uint64_t m, uint64_t r,
			 uint64_t *above);

/*
 * 1 if one of cnt little-endian float32 at p, stride bytes apart, is NaN or
 * Inf. Branch-free, so the compiler vectorises the contiguous case. Encoders
 * run it over what they wrote: that is what the decoder will see, whatever
 * the input did meanwhile.
 */
static inline int mw_any_nonfinite(const uint8_t *p, uint64_t cnt,
				   const size_t stride)
{
	uint32_t bad = 0;

	for (uint64_t i = 0; i < cnt; i++)
		bad |= (uint32_t)mw_nonfinite_bits(mw_ld_le32(p + stride * i));
	return bad != 0;
}

/*
 * MS / MS_SIGNED (ms.c), the emit pass after the selection: set up e (and
 * desc->p0) for n elements, k values, into out; after the pass over every
 * element (in one call of kr->ms_emit or several, each but the last a
 * multiple of 8 elements), check what it wrote: payload bytes, or
 * MW_ECHANGED (the input changed since the selection).
 */
void mw_ms_emit_init(const struct mw_codec_params *p, uint64_t n, uint64_t k,
		     const struct mw_sel *sel, uint8_t *out, struct mw_emit *e,
		     struct mw_codec_desc *desc);
int64_t mw_ms_emit_check(const struct mw_emit *e, const uint8_t *out,
			 uint64_t n, unsigned bits, uint64_t k);
int64_t mw_ms_decode(const struct mw_kernels *kr,
		     const struct mw_codec_desc *d, uint64_t elem_cnt,
		     const uint8_t *payload, size_t len, float *out);
/* mw_enc_begin() with a given kernel set (enc.c). */
int mw_enc_begin_with(const struct mw_kernels *kr, struct mw_enc *enc,
		      const struct mw_codec_params *p, const void *x,
		      uint64_t n, uint8_t *out, size_t cap, void *scratch,
		      size_t scratch_len);
/* Fill a decoder for MS, MS_SIGNED or QUANT from a descriptor. */
void mw_dec_init(struct mw_dec *s, const struct mw_codec_desc *d);

/* Baselines (baseline.c). */
int64_t mw_topk_encode(const struct mw_kernels *kr, const float *x,
		       uint64_t n, uint64_t k, struct mw_codec_desc *desc,
		       uint8_t *out, uint32_t *scratch);
int64_t mw_topk_decode(const struct mw_codec_desc *d, uint64_t elem_off,
		       uint64_t elem_cnt, const uint8_t *payload, size_t len,
		       float *out);
int64_t mw_quant_encode(const float *x, uint64_t n, unsigned bits,
			struct mw_codec_desc *desc, uint8_t *out);
/*
 * QUANT's two passes. Range: min and step of n values (n >= 1). @return 0,
 * MW_ENONFINITE, or MW_ERANGE (max - min, or the top level min + L*step,
 * overflows float32).
 */
int mw_quant_range(const float *x, uint64_t n, unsigned bits, float *lo,
		   float *step);
/*
 * Codes: the mask of n codes for the range (lo, step); every code is in
 * [0, 2^b - 1] whatever x holds. @return mask bytes, or MW_ECHANGED (a
 * value is NaN/Inf: x changed since the range pass).
 */
int64_t mw_quant_codes(const float *x, uint64_t n, unsigned bits, float lo,
		       float step, uint8_t *out);
int64_t mw_quant_decode(const struct mw_kernels *kr,
			const struct mw_codec_desc *d, uint64_t elem_cnt,
			const uint8_t *payload, size_t len, float *out);
int64_t mw_dense_encode(const float *x, uint64_t n,
			struct mw_codec_desc *desc, uint8_t *out);
int64_t mw_dense_decode(uint64_t elem_cnt, const uint8_t *payload,
			size_t len, float *out);

/* Encode/decode with an explicit kernel table (the public calls use AUTO). */
int64_t mw_encode_with(const struct mw_kernels *kr,
		       const struct mw_codec_params *p, const void *x,
		       uint64_t n, struct mw_codec_desc *desc, uint8_t *out,
		       size_t cap, void *scratch, size_t scratch_len);
int64_t mw_seg_plan_with(const struct mw_kernels *kr,
			 const struct mw_codec_desc *d, const uint8_t *payload,
			 size_t len, size_t budget, size_t head,
			 uint64_t heads, struct mw_seg *segs, size_t max_segs);
int64_t mw_seg_decode_with(const struct mw_kernels *kr,
			   const struct mw_codec_desc *d, uint64_t elem_off,
			   uint64_t elem_cnt, const uint8_t *payload,
			   size_t len, void *out);

#endif /* MW_CODEC_INTERNAL_H */
