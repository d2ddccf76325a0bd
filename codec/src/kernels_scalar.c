/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Portable kernels: the reference the SIMD kernels must match bit for bit,
 * and their tails (a partial group of 8 elements).
 */
#include <math.h>

#include "internal.h"

int mw_filter_scalar(const float *x, uint64_t n, int mag, int32_t lo,
		     int32_t hi, uint32_t *cand, uint64_t *nc, uint64_t *ngt)
{
	uint64_t c = *nc, g = 0;
	uint32_t bad = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t u = mw_f2u(x[i]);
		int32_t k = mw_key(u, mag);

		bad |= (uint32_t)mw_nonfinite_bits(u);
		g += k > hi;
		cand[c] = (uint32_t)k ^ MW_KEY_FLIP;
		c += k >= lo && k <= hi;
	}
	*nc = c;
	*ngt += g;
	return bad != 0;
}

static inline int sel_one(struct mw_emit *e, int32_t key)
{
	if (key > e->thr)
		return 1;
	if (key == e->thr && e->ties > 0) {
		e->ties--;
		return 1;
	}
	return 0;
}

/* The code of element i (index within the tensor) of value xv. */
static inline uint32_t code_of(const struct mw_emit *e, float xv, uint64_t i)
{
	float v = xv * e->s;

	if (!(v >= e->clo)) /* also maps NaN to clo, as maxps does */
		v = e->clo;
	if (v > e->chi)
		v = e->chi;
	if (e->rnd == MW_ROUND_STOCHASTIC) {
		/* v + u may round up to chi + 1 */
		v = floorf(v + mw_sr_offset(e->seed, i));
		if (v > e->chi)
			v = e->chi;
	} else {
		v = e->rnd == MW_ROUND_FLOOR ? floorf(v) : mw_rne(v);
	}
	return (uint32_t)((int32_t)v + e->off);
}

void mw_ms_emit_scalar(struct mw_emit *e, const float *x, uint64_t n)
{
	const unsigned b = e->bits;

	for (uint64_t i = 0; i < n;) {
		unsigned cnt = n - i < 8 ? (unsigned)(n - i) : 8;
		unsigned nb = (cnt * b + 7) / 8;
		uint64_t w = 0;

		for (unsigned j = 0; j < cnt; j++) {
			uint32_t u = mw_f2u(x[i + j]);
			uint32_t c;

			if (sel_one(e, mw_key(u, e->mag))) {
				c = e->sentinel;
				if (e->vals_end - e->vals >= 4) {
					mw_st_le32(e->vals, u);
					e->vals += 4;
				} else {
					e->overflow = 1;
				}
			} else {
				c = code_of(e, x[i + j], e->index + i + j);
			}
			w |= (uint64_t)c << (8 * j);
		}
		mw_st_bytes(e->mask, mw_pack8(w, b), nb);
		e->mask += nb;
		i += cnt;
	}
	e->index += n;
}

void mw_topk_emit_scalar(struct mw_emit *e, const float *x, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint32_t u = mw_f2u(x[i]);

		if (!sel_one(e, mw_key(u, e->mag)))
			continue;
		if (e->vals_end - e->vals < 8) {
			e->overflow = 1;
			break;
		}
		mw_st_le32(e->vals, (uint32_t)(e->index + i));
		mw_st_le32(e->vals + 4, u);
		e->vals += 8;
	}
	e->index += n;
}

int mw_decode_scalar(struct mw_dec *s, const uint8_t *mask, uint64_t n,
		     float *out)
{
	const unsigned b = s->bits;
	const uint32_t lmask = (1u << b) - 1;

	for (uint64_t i = 0; i < n;) {
		unsigned cnt = n - i < 8 ? (unsigned)(n - i) : 8;
		unsigned nb = (cnt * b + 7) / 8;
		uint64_t w = mw_ld_bytes(mask, nb);

		if (cnt < 8 && (w >> (cnt * b)) != 0)
			return MW_EFORMAT;
		mask += nb;
		for (unsigned j = 0; j < cnt; j++) {
			uint32_t c = (uint32_t)(w >> (j * b)) & lmask;

			if ((int64_t)c == s->sentinel) {
				uint32_t u;

				if (s->vi >= s->vcnt)
					return MW_ECOUNT;
				u = mw_ld_le32(s->vals + 4 * s->vi);
				if (mw_nonfinite_bits(u))
					return MW_ENONFINITE;
				out[i + j] = mw_u2f(u);
				s->vi++;
			} else {
				out[i + j] = (float)((int32_t)c - s->off) *
						     s->d +
					     s->add;
			}
		}
		i += cnt;
	}
	return 0;
}

MW_MS_COUNT_DEFINE(static, ms_count_scalar)

const struct mw_kernels mw_kernels_scalar = {
	.name = "scalar",
	.filter = mw_filter_scalar,
	.ms_emit = mw_ms_emit_scalar,
	.topk_emit = mw_topk_emit_scalar,
	.decode = mw_decode_scalar,
	.ms_count = ms_count_scalar,
};
