/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mask-Encoded Sparsification, unsigned (activations) and signed
 * (gradients). The arithmetic follows the released code in float32:
 *   unsigned: s = (float)L / t, code = rne(x * s) clamped to [0, L-1]
 *             (a code equal to L becomes L-1), decode code * (t / L);
 *   signed:   m = 2^(b-1) - 1, s = (float)(m+1) / t,
 *             code = m + rne(x * s) clamped to [-m, m],
 *             decode (code - m) * (t / (m+1)).
 * Selected elements get the sentinel L and travel as float32 after the mask.
 */
#include <math.h>

#include "internal.h"

/* The threshold float behind a selection key. */
static float key_to_float(int32_t key, int mag)
{
	uint32_t u = (uint32_t)key;

	if (!mag && key < 0)
		u ^= MW_ABS_MASK;
	return mw_u2f(u);
}

/* x * s must stay finite for every |x| <= t; otherwise no scaling. */
static float scale_for(float levels, float t)
{
	float s;

	if (!(t > 0.0f))
		return 0.0f;
	s = levels / t;
	return isfinite(s) ? s : 0.0f;
}

void mw_ms_emit_init(const struct mw_codec_params *p, uint64_t n, uint64_t k,
		     const struct mw_sel *sel, uint8_t *out, struct mw_emit *e,
		     struct mw_codec_desc *desc)
{
	const int sgn = p->codec == MW_CODEC_MS_SIGNED;
	const unsigned b = p->bits;
	const uint32_t L = (1u << b) - 1;
	const int32_t m = (int32_t)(1u << (b - 1)) - 1;
	const uint64_t mb = mw_mask_bytes(n, b);
	const float t = key_to_float(sel->thr, sgn);
	const float p0 = t > 0.0f ? t : 0.0f; /* the descriptor's */

	memset(e, 0, sizeof(*e));
	e->thr = sel->thr;
	e->ties = sel->ties;
	e->mag = sgn;
	e->bits = b;
	e->sentinel = L;
	e->mask = out;
	e->mask_end = out + mb;
	e->vals = out + mb;
	e->vals_end = out + mb + 4 * k;
	e->sparse = k < n / 32;
	e->rnd = (int)mw_ms_rounding(p);
	e->seed = mw_mix32(mw_f2u(p0));
	if (sgn) {
		e->s = scale_for((float)(m + 1), t);
		e->clo = (float)-m;
		e->chi = (float)m;
		e->off = m;
	} else {
		e->s = scale_for((float)L, t);
		e->clo = 0.0f;
		e->chi = (float)(L - 1);
	}
	desc->p0 = p0;
}

int64_t mw_ms_emit_check(const struct mw_emit *e, const uint8_t *out,
			 uint64_t n, unsigned bits, uint64_t k)
{
	const uint64_t mb = mw_mask_bytes(n, bits);

	/*
	 * The emit pass reads x again. If x changed since the selection, it
	 * may have selected another number of elements than k (the values
	 * stop at vals_end), or a value that is now NaN/Inf. Every sentinel
	 * needs its value and every value must be finite; checking the values
	 * written (4k bytes, still in cache) covers exactly what travels.
	 */
	if (e->overflow || e->vals != e->vals_end ||
	    mw_any_nonfinite(out + mb, k, 4))
		return MW_ECHANGED;
	return (int64_t)(mb + 4 * k);
}

void mw_dec_init(struct mw_dec *s, const struct mw_codec_desc *d)
{
	const unsigned b = d->bits;
	const uint32_t L = (1u << b) - 1;
	const int32_t m = (int32_t)(1u << (b - 1)) - 1;

	memset(s, 0, sizeof(*s));
	s->bits = b;
	s->sentinel = L;
	s->add = -0.0f; /* x + -0.0f == x for every x */
	switch (d->codec) {
	case MW_CODEC_MS:
		s->d = d->p0 / (float)L;
		break;
	case MW_CODEC_MS_SIGNED:
		s->off = m;
		s->d = d->p0 / (float)(m + 1);
		break;
	default: /* MW_CODEC_QUANT */
		s->sentinel = -1;
		s->d = d->p1;
		s->add = d->p0;
		break;
	}
}

int64_t mw_ms_decode(const struct mw_kernels *kr,
		     const struct mw_codec_desc *d, uint64_t elem_cnt,
		     const uint8_t *payload, size_t len, float *out)
{
	const uint64_t mb = mw_mask_bytes(elem_cnt, d->bits);
	struct mw_dec s;
	int rc;

	if (len < mb)
		return MW_ETRUNC;
	if ((len - mb) % 4 != 0 || (len - mb) / 4 > elem_cnt)
		return MW_EFORMAT;
	mw_dec_init(&s, d);
	s.vals = payload + mb;
	s.vcnt = (len - mb) / 4;
	rc = kr->decode(&s, payload, elem_cnt, out);
	if (rc < 0)
		return rc;
	if (s.vi != s.vcnt)
		return MW_ECOUNT;
	return (int64_t)s.vcnt;
}
