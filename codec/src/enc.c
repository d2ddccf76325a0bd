/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encoding in steps (mw_enc_begin / mw_enc_step): the work of mw_encode()
 * cut into bounded slices, so that a poll loop can encode a large tensor
 * between two bursts of packets. mw_encode() itself is one unbounded step,
 * so both give the same bytes by construction.
 *
 * MS and MS_SIGNED run the selection's bracket (a sample), its filter
 * pass(es) over x, the threshold, then the emit pass, each pass in slices;
 * DENSE and RAW copy in slices; TOPK and QUANT are encoded in one step.
 */
#include "internal.h"

enum {
	P_BRACKET, /* MS*: sample the keys for [lo, hi] */
	P_FILTER,  /* MS*: count keys > hi, collect [lo, hi] (pass 1 or 2) */
	P_THR,     /* MS*: threshold and ties from the candidates */
	P_EMIT,    /* MS*: mask and values */
	P_COPY,    /* DENSE, RAW */
	P_WHOLE,   /* TOPK, QUANT: one step */
	P_DONE,
	P_FAILED,
};

struct enc_st {
	const struct mw_kernels *kr;
	struct mw_codec_params p;
	const void *x;
	uint64_t n, k;
	uint8_t *out;
	uint32_t *keys;
	struct mw_codec_desc desc;
	int64_t result;  /* payload bytes, or the error once failed */
	uint64_t pos;    /* next element of the current pass */
	uint64_t nc, ngt;
	int32_t lo, hi;
	uint8_t phase, pass;
	struct mw_emit e;
};

_Static_assert(sizeof(struct enc_st) <= sizeof(struct mw_enc),
	       "struct mw_enc holds the encoder's state");

static struct enc_st *st(struct mw_enc *enc)
{
	return (struct enc_st *)(void *)enc;
}

static const struct enc_st *cst(const struct mw_enc *enc)
{
	return (const struct enc_st *)(const void *)enc;
}

int mw_enc_begin_with(const struct mw_kernels *kr, struct mw_enc *enc,
		      const struct mw_codec_params *p, const void *x,
		      uint64_t n, uint8_t *out, size_t cap, void *scratch,
		      size_t scratch_len)
{
	struct enc_st *s = st(enc);
	int64_t size = mw_encode_size(p, n);
	size_t need;

	memset(enc, 0, sizeof(*enc));
	s->phase = P_FAILED;
	s->result = size < 0 ? size : MW_EINVAL;
	if (size < 0)
		return (int)size;
	if ((n > 0 && x == NULL) || (size > 0 && out == NULL))
		return MW_EINVAL;
	if (cap < (uint64_t)size) {
		s->result = MW_ENOSPC;
		return MW_ENOSPC;
	}
	need = mw_encode_scratch_size(p, n);
	if (need > 0) {
		uintptr_t a = (uintptr_t)scratch;

		if (scratch == NULL)
			return MW_EINVAL;
		if (scratch_len < need) {
			s->result = MW_ENOSPC;
			return MW_ENOSPC;
		}
		s->keys = (uint32_t *)(void *)((uint8_t *)scratch +
					       ((4 - (a & 3)) & 3));
	}
	s->kr = kr;
	s->p = *p;
	s->x = x;
	s->n = n;
	s->out = out;
	s->result = size;
	s->desc.codec = (uint8_t)p->codec;
	s->desc.n = n;
	switch (p->codec) {
	case MW_CODEC_MS:
	case MW_CODEC_MS_SIGNED:
		s->desc.bits = (uint8_t)p->bits;
		s->desc.rounding = (uint8_t)mw_ms_rounding(p);
		s->k = mw_codec_k(p, n);
		s->desc.k = s->k;
		s->phase = n ? P_BRACKET : P_DONE;
		break;
	case MW_CODEC_DENSE:
	case MW_CODEC_RAW:
		s->phase = P_COPY;
		break;
	default:
		s->phase = P_WHOLE;
		break;
	}
	return 0;
}

int mw_enc_begin(struct mw_enc *enc, const struct mw_codec_params *p,
		 const void *x, uint64_t n, uint8_t *out, size_t cap,
		 void *scratch, size_t scratch_len)
{
	return mw_enc_begin_with(mw_kernels_get(MW_SIMD_AUTO), enc, p, x, n,
				 out, cap, scratch, scratch_len);
}

static int fail(struct enc_st *s, int rc)
{
	s->phase = P_FAILED;
	s->result = rc;
	return rc;
}

/* One slice of the filter pass; at its end, a second pass over the whole
 * key range if the bracket missed the k-th key. */
static int64_t filter_slice(struct enc_st *s, uint64_t m)
{
	const float *x = s->x;
	const int mag = s->p.codec == MW_CODEC_MS_SIGNED;

	if (s->kr->filter(x + s->pos, m, mag, s->lo, s->hi, s->keys, &s->nc,
			  &s->ngt))
		/* NaN/Inf now, after a clean first pass: x is being rewritten */
		return fail(s, s->pass == 1 ? MW_ENONFINITE : MW_ECHANGED);
	s->pos += m;
	if (s->pos < s->n)
		return (int64_t)m;
	if (s->pass == 1 && !(s->ngt < s->k && s->k <= s->ngt + s->nc)) {
		s->pass = 2;
		s->lo = INT32_MIN;
		s->hi = INT32_MAX;
		s->nc = s->ngt = s->pos = 0;
	} else {
		s->phase = P_THR;
	}
	return (int64_t)m;
}

/* One slice of an MS encode, at most budget elements of a pass (a sample
 * or the threshold count as one). @return the work done, or an error. */
static int64_t ms_step(struct enc_st *s, uint64_t budget)
{
	const float *x = s->x;
	uint64_t m;
	struct mw_sel sel;

	switch (s->phase) {
	case P_BRACKET:
		mw_select_bracket(x, s->n, s->k,
				  s->p.codec == MW_CODEC_MS_SIGNED, s->keys,
				  &s->lo, &s->hi);
		s->pass = 1;
		s->pos = s->nc = s->ngt = 0;
		s->phase = P_FILTER;
		return 1;
	case P_FILTER:
		m = s->n - s->pos < budget ? s->n - s->pos : budget;
		return filter_slice(s, m);
	case P_THR:
		mw_select_thr(s->keys, s->nc, s->ngt, s->k, &sel);
		mw_ms_emit_init(&s->p, s->n, s->k, &sel, s->out, &s->e,
				&s->desc);
		s->pos = 0;
		s->phase = P_EMIT;
		return 1;
	default: /* P_EMIT: slices of whole groups of 8, but the last */
		m = s->n - s->pos;
		if (m > budget && m > 8)
			m = budget < 8 ? 8 : budget & ~(uint64_t)7;
		s->kr->ms_emit(&s->e, x + s->pos, m);
		s->pos += m;
		if (s->pos < s->n)
			return (int64_t)m;
		s->result = mw_ms_emit_check(&s->e, s->out, s->n, s->p.bits,
					     s->k);
		if (s->result < 0)
			return fail(s, (int)s->result);
		s->phase = P_DONE;
		return (int64_t)m;
	}
}

static int64_t copy_step(struct enc_st *s, uint64_t budget)
{
	uint64_t m = s->n - s->pos < budget ? s->n - s->pos : budget;

	if (s->p.codec == MW_CODEC_RAW) {
		if (m > 0)
			memcpy(s->out + s->pos, (const uint8_t *)s->x + s->pos,
			       m);
	} else if (mw_dense_encode((const float *)s->x + s->pos, m, &s->desc,
				   s->out + 4 * s->pos) < 0) {
		return fail(s, MW_ENONFINITE);
	}
	s->pos += m;
	if (s->pos == s->n)
		s->phase = P_DONE;
	return m ? (int64_t)m : 1;
}

static int64_t whole_step(struct enc_st *s)
{
	int64_t r;

	if (s->p.codec == MW_CODEC_TOPK) {
		s->k = mw_codec_k(&s->p, s->n);
		s->desc.k = s->k;
		r = mw_topk_encode(s->kr, s->x, s->n, s->k, &s->desc, s->out,
				   s->keys);
	} else {
		s->desc.bits = (uint8_t)s->p.bits;
		r = mw_quant_encode(s->x, s->n, s->p.bits, &s->desc, s->out);
	}
	if (r < 0)
		return fail(s, (int)r);
	s->result = r;
	s->phase = P_DONE;
	return (int64_t)s->n + 1;
}

int mw_enc_step(struct mw_enc *enc, uint64_t budget)
{
	struct enc_st *s = st(enc);
	uint64_t done = 0;

	while (done < budget || done == 0) {
		uint64_t left = budget > done ? budget - done : 1;
		int64_t w;

		switch (s->phase) {
		case P_DONE:
			return 0;
		case P_FAILED:
			return (int)s->result;
		case P_COPY:
			w = copy_step(s, left);
			break;
		case P_WHOLE:
			w = whole_step(s);
			break;
		default:
			w = ms_step(s, left);
			break;
		}
		if (w < 0)
			return (int)w;
		done += (uint64_t)w;
	}
	return s->phase == P_DONE ? 0 : 1;
}

int64_t mw_enc_result(const struct mw_enc *enc, struct mw_codec_desc *desc)
{
	const struct enc_st *s = cst(enc);

	if (s->phase == P_FAILED)
		return s->result;
	if (s->phase != P_DONE)
		return MW_EAGAIN;
	if (desc)
		*desc = s->desc;
	return s->result;
}

int mw_enc_progress(const struct mw_enc *enc, struct mw_codec_desc *desc,
		    uint64_t *elems, uint64_t *vals)
{
	const struct enc_st *s = cst(enc);

	if (s->phase == P_FAILED)
		return (int)s->result;
	if (s->p.codec != MW_CODEC_MS && s->p.codec != MW_CODEC_MS_SIGNED)
		return MW_EINVAL;
	if (s->phase != P_EMIT && s->phase != P_DONE)
		return 0;
	*desc = s->desc;
	*elems = s->n;
	*vals = s->k;
	if (s->phase == P_EMIT) {
		*elems = s->pos;
		*vals = (uint64_t)(s->e.vals - s->out -
				   mw_mask_bytes(s->n, s->p.bits)) /
			4;
	}
	return 1;
}
