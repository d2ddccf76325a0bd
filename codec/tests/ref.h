/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Straightforward reference implementations for the tests: sort-based
 * top-k and the brief's formulas written out element by element, with a
 * bit-by-bit mask packer. Deliberately shares no code with the library.
 */
#ifndef MW_TEST_REF_H
#define MW_TEST_REF_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ref_item {
	float v;
	uint64_t i;
	int mag;
};

/* Larger first; +0 above -0; equal: lower index first. */
static inline int ref_cmp(const void *pa, const void *pb)
{
	const struct ref_item *a = pa, *b = pb;
	float va = a->mag ? fabsf(a->v) : a->v, vb = b->mag ? fabsf(b->v) : b->v;

	if (va != vb)
		return va > vb ? -1 : 1;
	if (!a->mag && va == 0.0f && signbit(a->v) != signbit(b->v))
		return signbit(a->v) ? 1 : -1;
	return a->i < b->i ? -1 : 1;
}

/* sel[i] = 1 for the k selected; returns the threshold value (t). */
static inline float ref_topk(const float *x, uint64_t n, uint64_t k, int mag,
		      uint8_t *sel)
{
	struct ref_item *it = malloc((n ? n : 1) * sizeof(*it));
	float t = 0.0f;

	for (uint64_t i = 0; i < n; i++) {
		it[i].v = x[i];
		it[i].i = i;
		it[i].mag = mag;
	}
	qsort(it, n, sizeof(*it), ref_cmp);
	memset(sel, 0, n);
	for (uint64_t j = 0; j < k && j < n; j++)
		sel[it[j].i] = 1;
	if (k > 0 && n > 0)
		t = mag ? fabsf(it[k - 1].v) : it[k - 1].v;
	free(it);
	return t;
}

static inline void ref_put_code(uint8_t *mask, uint64_t i, unsigned b, uint32_t c)
{
	for (unsigned j = 0; j < b; j++)
		if ((c >> j) & 1u)
			mask[(i * b + j) / 8] |= (uint8_t)(1u << ((i * b + j) % 8));
}

static inline uint32_t ref_get_code(const uint8_t *mask, uint64_t i, unsigned b)
{
	uint32_t c = 0;

	for (unsigned j = 0; j < b; j++)
		c |= (uint32_t)((mask[(i * b + j) / 8] >> ((i * b + j) % 8)) & 1u)
		     << j;
	return c;
}

static inline void ref_put_f32(uint8_t *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	for (int j = 0; j < 4; j++)
		p[j] = (uint8_t)(u >> (8 * j));
}

/* Stochastic rounding's offset for element i (docs/CODEC.md), written
 * out from the formula. */
static inline uint32_t ref_hash(uint32_t v)
{
	v = (v ^ (v >> 16)) * 0x7feb352du;
	v = (v ^ (v >> 15)) * 0x846ca68bu;
	return v ^ (v >> 16);
}

static inline float ref_sr_u(float t, uint64_t i)
{
	uint32_t tb;

	memcpy(&tb, &t, 4);
	return (float)(ref_hash((uint32_t)i ^ ref_hash(tb)) >> 8) /
	       16777216.0f;
}

/*
 * MS (signed = 0) or signed MS (signed = 1) payload into out (zeroed
 * here); returns its size, *t_out the descriptor threshold. rnd: 0
 * nearest, 1 floor (MS only), 2 stochastic.
 */
static inline uint64_t ref_ms_encode(const float *x, uint64_t n, uint64_t k,
			      unsigned b, int rnd, int sgn, uint8_t *out,
			      float *t_out)
{
	const uint32_t L = (1u << b) - 1;
	const int32_t m = (int32_t)(1u << (b - 1)) - 1;
	uint64_t mb = (n * b + 7) / 8, vi = 0;
	uint8_t *sel = malloc(n ? n : 1);
	float t = ref_topk(x, n, k, sgn, sel), s = 0.0f;

	memset(out, 0, mb + 4 * k);
	if (t > 0.0f) {
		s = sgn ? (float)(m + 1) / t : (float)L / t;
		if (isinf(s))
			s = 0.0f;
	}
	t = t > 0.0f ? t : 0.0f; /* the descriptor's p0 */
	for (uint64_t i = 0; i < n; i++) {
		uint32_t c;

		if (sel[i]) {
			c = L;
			ref_put_f32(out + mb + 4 * vi++, x[i]);
		} else if (rnd == 2) {
			const float lo = sgn ? (float)-m : 0.0f;
			const float hi = sgn ? (float)m : (float)(L - 1);
			float v = x[i] * s;

			v = v >= lo ? v : lo; /* NaN: lo */
			v = v > hi ? hi : v;
			v = floorf(v + ref_sr_u(t, i));
			v = v > hi ? hi : v;
			c = (uint32_t)((int32_t)v + (sgn ? m : 0));
		} else if (sgn) {
			float r = rintf(x[i] * s);

			r = r > (float)m ? (float)m : r;
			r = r < (float)-m ? (float)-m : r;
			c = (uint32_t)(m + (int32_t)r);
		} else {
			float r = rnd == 1 ? floorf(x[i] * s) : rintf(x[i] * s);

			if (r >= (float)L) /* code L is lowered to L - 1 */
				c = L - 1;
			else if (r < 0.0f)
				c = 0;
			else
				c = (uint32_t)r;
		}
		ref_put_code(out, i, b, c);
	}
	free(sel);
	*t_out = t;
	return mb + 4 * k;
}

/* Decode a whole MS / signed MS payload the slow way. */
static inline void ref_ms_decode(const uint8_t *payload, uint64_t n, unsigned b,
			  int sgn, float t, float *out)
{
	const uint32_t L = (1u << b) - 1;
	const int32_t m = (int32_t)(1u << (b - 1)) - 1;
	const uint64_t mb = (n * b + 7) / 8;
	const float d = sgn ? t / (float)(m + 1) : t / (float)L;
	uint64_t vi = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t c = ref_get_code(payload, i, b);

		if (c == L) {
			memcpy(&out[i], payload + mb + 4 * vi++, 4);
		} else {
			out[i] = (float)((int32_t)c - (sgn ? m : 0)) * d;
		}
	}
}

#endif /* MW_TEST_REF_H */
