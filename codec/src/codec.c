/* SPDX-License-Identifier: BSD-3-Clause */
/* Public entry points: parameters, sizes, descriptors, encode/decode. */
#include <math.h>

#include "internal.h"

/* Largest n any codec accepts: keeps every byte count below 2^63. */
#define MW_N_MAX (1ull << 58)
/* TOPK indices are uint32. */
#define MW_TOPK_N_MAX (1ull << 32)

static int uses_bits(unsigned codec)
{
	return codec == MW_CODEC_MS || codec == MW_CODEC_MS_SIGNED ||
	       codec == MW_CODEC_QUANT;
}

static int uses_k(unsigned codec)
{
	return codec == MW_CODEC_MS || codec == MW_CODEC_MS_SIGNED ||
	       codec == MW_CODEC_TOPK;
}

uint64_t mw_mask_bytes(uint64_t n, unsigned b)
{
	return MW_MASK_BYTES(n, b);
}

uint64_t mw_codec_k(const struct mw_codec_params *p, uint64_t n)
{
	double x;
	uint64_t k;

	if (n == 0)
		return 0;
	if (p->k != 0)
		return p->k < n ? p->k : n;
	x = (double)n * (1.0 - p->ratio);
	x = floor(x * (1.0 + 1e-12)); /* 1000 * (1 - 0.9) keeps 100 */
	k = x >= (double)n ? n : (uint64_t)x;
	return k < 1 ? 1 : k;
}

int mw_codec_params_check(const struct mw_codec_params *p)
{
	if (p == NULL || (unsigned)p->codec >= MW_CODEC_COUNT_)
		return MW_EINVAL;
	if (uses_bits(p->codec) &&
	    (p->bits < MW_BITS_MIN || p->bits > MW_BITS_MAX))
		return MW_EINVAL;
	if ((unsigned)p->rounding >= MW_ROUND_COUNT_)
		return MW_EINVAL;
	if (uses_k(p->codec) && p->k == 0 &&
	    !(p->ratio >= 0.0 && p->ratio < 1.0))
		return MW_EINVAL;
	return 0;
}

/* Payload bytes for n elements, b bits, k values; n already bounded. */
static uint64_t payload_bytes(unsigned codec, uint64_t n, unsigned b,
			      uint64_t k)
{
	switch (codec) {
	case MW_CODEC_MS:
	case MW_CODEC_MS_SIGNED:
		return MW_MS_BOUND(n, b, k);
	case MW_CODEC_TOPK:
		return 8 * k;
	case MW_CODEC_QUANT:
		return MW_MASK_BYTES(n, b);
	case MW_CODEC_DENSE:
		return 4 * n;
	default: /* MW_CODEC_RAW */
		return n;
	}
}

int64_t mw_encode_size(const struct mw_codec_params *p, uint64_t n)
{
	int rc = mw_codec_params_check(p);

	if (rc < 0)
		return rc;
	if (n > MW_N_MAX || (p->codec == MW_CODEC_TOPK && n > MW_TOPK_N_MAX))
		return MW_ERANGE;
	return (int64_t)payload_bytes(p->codec, n, p->bits, mw_codec_k(p, n));
}

size_t mw_encode_scratch_size(const struct mw_codec_params *p, uint64_t n)
{
	if (mw_codec_params_check(p) < 0 || !uses_k(p->codec) || n == 0 ||
	    n > MW_N_MAX)
		return 0;
	/* one uint32 key per element, plus slack to align the buffer */
	return (size_t)(4 * n + 4);
}

int mw_codec_desc_check(const struct mw_codec_desc *d)
{
	if (d == NULL)
		return MW_EINVAL;
	if (d->codec >= MW_CODEC_COUNT_)
		return MW_EUNSUPP;
	if (d->n > MW_N_MAX || d->rounding >= MW_ROUND_COUNT_)
		return MW_EINVAL;
	if (uses_bits(d->codec) ? d->bits < MW_BITS_MIN || d->bits > MW_BITS_MAX
				: d->bits != 0)
		return MW_EINVAL;
	if (uses_k(d->codec) ? d->k > d->n : d->k != 0)
		return MW_EINVAL;
	if (!isfinite(d->p0) || !isfinite(d->p1))
		return MW_EINVAL;
	switch (d->codec) {
	case MW_CODEC_MS:
	case MW_CODEC_MS_SIGNED:
		if (d->p0 < 0.0f || d->p1 != 0.0f)
			return MW_EINVAL;
		break;
	case MW_CODEC_TOPK:
		if (d->n > MW_TOPK_N_MAX || d->p0 != 0.0f || d->p1 != 0.0f)
			return MW_EINVAL;
		break;
	case MW_CODEC_QUANT:
		/* the largest decoded value, computed as the decoder does */
		if (d->p1 < 0.0f ||
		    !isfinite((float)((1u << d->bits) - 1) * d->p1 + d->p0))
			return MW_EINVAL;
		break;
	default:
		if (d->p0 != 0.0f || d->p1 != 0.0f)
			return MW_EINVAL;
		break;
	}
	return 0;
}

int64_t mw_payload_size(const struct mw_codec_desc *d)
{
	int rc = mw_codec_desc_check(d);

	if (rc < 0)
		return rc;
	return (int64_t)payload_bytes(d->codec, d->n, d->bits, d->k);
}

int64_t mw_encode_with(const struct mw_kernels *kr,
		       const struct mw_codec_params *p, const void *x,
		       uint64_t n, struct mw_codec_desc *desc, uint8_t *out,
		       size_t cap, void *scratch, size_t scratch_len)
{
	struct mw_enc enc;
	int rc;

	if (desc == NULL)
		return MW_EINVAL;
	rc = mw_enc_begin_with(kr, &enc, p, x, n, out, cap, scratch,
			       scratch_len);
	if (rc < 0)
		return rc;
	rc = mw_enc_step(&enc, UINT64_MAX);
	if (rc < 0)
		return rc;
	return mw_enc_result(&enc, desc);
}

int64_t mw_encode(const struct mw_codec_params *p, const void *x, uint64_t n,
		  struct mw_codec_desc *desc, uint8_t *out, size_t cap,
		  void *scratch, size_t scratch_len)
{
	return mw_encode_with(mw_kernels_get(MW_SIMD_AUTO), p, x, n, desc, out,
			      cap, scratch, scratch_len);
}

int64_t mw_seg_decode_with(const struct mw_kernels *kr,
			   const struct mw_codec_desc *d, uint64_t elem_off,
			   uint64_t elem_cnt, const uint8_t *payload,
			   size_t len, void *out)
{
	int rc = mw_codec_desc_check(d);
	float *f = (float *)out + elem_off;
	int64_t r;

	if (rc < 0)
		return MW_EINVAL;
	if (elem_off % MW_SEG_ALIGN != 0 || elem_off > d->n ||
	    elem_cnt > d->n - elem_off)
		return MW_EINVAL;
	if ((elem_cnt > 0 && out == NULL) || (len > 0 && payload == NULL))
		return MW_EINVAL;

	switch (d->codec) {
	case MW_CODEC_MS:
	case MW_CODEC_MS_SIGNED:
		r = mw_ms_decode(kr, d, elem_cnt, payload, len, f);
		if (r >= 0 && elem_off == 0 && elem_cnt == d->n &&
		    (uint64_t)r != d->k)
			return MW_ECOUNT;
		return r;
	case MW_CODEC_TOPK:
		return mw_topk_decode(d, elem_off, elem_cnt, payload, len, f);
	case MW_CODEC_QUANT:
		return mw_quant_decode(kr, d, elem_cnt, payload, len, f);
	case MW_CODEC_DENSE:
		return mw_dense_decode(elem_cnt, payload, len, f);
	default: /* MW_CODEC_RAW */
		if (len < elem_cnt)
			return MW_ETRUNC;
		if (len > elem_cnt)
			return MW_EFORMAT;
		if (elem_cnt > 0)
			memcpy((uint8_t *)out + elem_off, payload, elem_cnt);
		return 0;
	}
}

int64_t mw_seg_decode(const struct mw_codec_desc *d, uint64_t elem_off,
		      uint64_t elem_cnt, const uint8_t *payload, size_t len,
		      void *out)
{
	return mw_seg_decode_with(mw_kernels_get(MW_SIMD_AUTO), d, elem_off,
				  elem_cnt, payload, len, out);
}

static const char *const codec_names[MW_CODEC_COUNT_] = {
	[MW_CODEC_DENSE] = "dense", [MW_CODEC_MS] = "ms",
	[MW_CODEC_MS_SIGNED] = "ms-signed", [MW_CODEC_TOPK] = "topk",
	[MW_CODEC_QUANT] = "quant", [MW_CODEC_RAW] = "raw",
};

static const char *const rounding_names[MW_ROUND_COUNT_] = {
	[MW_ROUND_NEAREST] = "nearest", [MW_ROUND_FLOOR] = "floor",
	[MW_ROUND_STOCHASTIC] = "stochastic",
};

/* A name table's entry i, "?" past its end. */
static const char *name_of(const char *const *names, unsigned cnt,
			   unsigned i)
{
	return i < cnt ? names[i] : "?";
}

/* The index of name in a name table, or MW_EINVAL. */
static int index_of(const char *const *names, unsigned cnt, const char *name)
{
	for (unsigned i = 0; name != NULL && i < cnt; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return MW_EINVAL;
}

const char *mw_codec_name(unsigned codec)
{
	return name_of(codec_names, MW_CODEC_COUNT_, codec);
}

int mw_codec_from_name(const char *name)
{
	return index_of(codec_names, MW_CODEC_COUNT_, name);
}

const char *mw_rounding_name(unsigned rounding)
{
	return name_of(rounding_names, MW_ROUND_COUNT_, rounding);
}

int mw_rounding_from_name(const char *name)
{
	return index_of(rounding_names, MW_ROUND_COUNT_, name);
}

unsigned mw_codec_elem_size(unsigned codec)
{
	return codec == MW_CODEC_RAW ? 1 : 4;
}
