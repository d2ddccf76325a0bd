/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cutting a payload into segments that fit a byte budget (one per packet)
 * and copying a segment's payload out of the whole payload.
 */
#include "internal.h"

uint64_t mw_seg_payload_size(const struct mw_codec_desc *d,
			     const struct mw_seg *s)
{
	switch (d->codec) {
	case MW_CODEC_MS:
	case MW_CODEC_MS_SIGNED:
		return mw_mask_bytes(s->elem_cnt, d->bits) + 4 * s->val_cnt;
	case MW_CODEC_TOPK:
		return 8 * s->val_cnt;
	case MW_CODEC_QUANT:
		return mw_mask_bytes(s->elem_cnt, d->bits);
	case MW_CODEC_DENSE:
		return 4 * s->elem_cnt;
	default:
		return s->elem_cnt;
	}
}

/* Sentinel (all-ones) codes among the 8 b-bit codes of w. */
static unsigned sentinels8(uint64_t w, unsigned b, uint64_t lsb)
{
	uint64_t a = w;

	for (unsigned j = 1; j < b; j++)
		a &= w >> j;
	return (unsigned)__builtin_popcountll(a & lsb);
}

struct plan_out {
	struct mw_seg *segs;
	size_t max;
	int64_t count;
	size_t head;   /* bytes the first `heads` segments hold less */
	uint64_t heads;
};

/* The head of the next segment to open. */
static size_t next_head(const struct plan_out *o)
{
	return (uint64_t)o->count < o->heads ? o->head : 0;
}

static int emit_seg(struct plan_out *o, uint64_t off, uint64_t cnt,
		    uint64_t voff, uint64_t vcnt)
{
	if (o->segs != NULL) {
		if ((size_t)o->count >= o->max)
			return MW_ENOSPC;
		o->segs[o->count].elem_off = off;
		o->segs[o->count].elem_cnt = cnt;
		o->segs[o->count].val_off = voff;
		o->segs[o->count].val_cnt = vcnt;
	}
	o->count++;
	return 0;
}

/* The first segment holds at most budget - head bytes, the others
 * budget (head < budget, checked by the caller). */
static int plan_fixed(const struct mw_codec_desc *d, uint64_t group_bytes,
		      size_t budget, struct plan_out *o)
{
	int rc = 0;

	if ((budget - o->head) / group_bytes == 0)
		return MW_EINVAL;
	for (uint64_t off = 0, cnt; rc == 0 && off < d->n; off += cnt) {
		cnt = (budget - next_head(o)) / group_bytes * 8;
		rc = emit_seg(o, off, d->n - off < cnt ? d->n - off : cnt, 0,
			      0);
	}
	return rc;
}

/* Greedy MS planning state: the open segment and the bytes it holds. */
struct plan_ms {
	uint64_t off, bytes, v0, vc;
};

/* Plan groups [g, end) one at a time (end a multiple of 8, or n). */
static int plan_ms_groups(const struct mw_codec_desc *d,
			  const uint8_t *payload, size_t budget,
			  struct plan_out *o, struct plan_ms *st, uint64_t g,
			  uint64_t end, uint64_t lsb)
{
	const unsigned b = d->bits;
	int rc;

	for (; g < end; g += 8) {
		unsigned cnt = end - g < 8 ? (unsigned)(end - g) : 8;
		unsigned nb = (cnt * b + 7) / 8;
		unsigned sc = sentinels8(mw_ld_bytes(payload + g / 8 * b, nb), b,
					 lsb);
		uint64_t cost = nb + 4 * (uint64_t)sc;

		if (st->bytes + cost > budget && g != st->off) {
			rc = emit_seg(o, st->off, g - st->off, st->v0, st->vc);
			if (rc < 0)
				return rc;
			st->off = g;
			st->v0 += st->vc;
			st->vc = 0;
			st->bytes = next_head(o);
		}
		if (st->bytes + cost > budget)
			return MW_EINVAL; /* the group alone (with the first
					     segment's head) does not fit */
		st->bytes += cost;
		st->vc += sc;
	}
	return 0;
}

/*
 * Greedy: a segment takes groups of 8 while they fit. The kernels count
 * sentinels a block of MW_COUNT_BLOCK elements at a time; a block that fits
 * whole is taken whole (no group in it can start a segment), and only the
 * block where a segment ends is walked group by group.
 */
static int plan_ms(const struct mw_kernels *kr, const struct mw_codec_desc *d,
		   const uint8_t *payload, size_t budget, struct plan_out *o)
{
	const unsigned b = d->bits;
	const uint64_t n = d->n, nblk = n / MW_COUNT_BLOCK;
	const uint64_t blk_bytes = (uint64_t)MW_COUNT_BLOCK / 8 * b;
	struct plan_ms st = {0, next_head(o), 0, 0};
	uint8_t cnt[256];
	uint64_t lsb = 0;
	int rc;

	for (unsigned i = 0; i < 8; i++)
		lsb |= 1ull << (i * b);
	for (uint64_t k0 = 0; k0 < nblk; k0 += sizeof(cnt)) {
		uint64_t m = nblk - k0 < sizeof(cnt) ? nblk - k0 : sizeof(cnt);

		kr->ms_count(payload + k0 * blk_bytes, m, b, cnt);
		for (uint64_t i = 0; i < m; i++) {
			uint64_t cost = blk_bytes + 4 * (uint64_t)cnt[i];
			uint64_t g = (k0 + i) * MW_COUNT_BLOCK;

			if (st.bytes + cost <= budget) {
				st.bytes += cost;
				st.vc += cnt[i];
				continue;
			}
			rc = plan_ms_groups(d, payload, budget, o, &st, g,
					    g + MW_COUNT_BLOCK, lsb);
			if (rc < 0)
				return rc;
		}
	}
	rc = plan_ms_groups(d, payload, budget, o, &st, nblk * MW_COUNT_BLOCK,
			    n, lsb);
	if (rc < 0)
		return rc;
	if (st.v0 + st.vc != d->k)
		return MW_EINVAL;
	return emit_seg(o, st.off, n - st.off, st.v0, st.vc);
}

static int plan_topk(const struct mw_codec_desc *d, const uint8_t *payload,
		     size_t budget, struct plan_out *o)
{
	const uint64_t k = d->k;
	uint64_t p = 0, off = 0, cap = (budget - next_head(o)) / 8;
	int64_t prev = -1;
	int rc;

	if (cap == 0)
		return MW_EINVAL;
	for (uint64_t i = 0; i < k; i++) {
		int64_t idx = mw_ld_le32(payload + 8 * i);

		if (idx <= prev || (uint64_t)idx >= d->n)
			return MW_EINVAL;
		prev = idx;
	}
	while (k - p > cap) {
		uint64_t q = p + cap, j = q;
		uint64_t gq = mw_ld_le32(payload + 8 * q) / 8 * 8;

		while (j > p && mw_ld_le32(payload + 8 * (j - 1)) >= gq)
			j--;
		if (gq <= off)
			return MW_EINVAL; /* one group's pairs exceed budget */
		rc = emit_seg(o, off, gq - off, p, j - p);
		if (rc < 0)
			return rc;
		off = gq;
		p = j;
		cap = (budget - next_head(o)) / 8;
	}
	return emit_seg(o, off, d->n - off, p, k - p);
}

int64_t mw_seg_plan_with(const struct mw_kernels *kr,
			 const struct mw_codec_desc *d, const uint8_t *payload,
			 size_t len, size_t budget, size_t head,
			 uint64_t heads, struct mw_seg *segs, size_t max_segs)
{
	struct plan_out o = {segs, max_segs, 0, heads ? head : 0, heads};
	int64_t size = mw_payload_size(d);
	int rc;

	if (size < 0)
		return size;
	if ((uint64_t)size != len || (len > 0 && payload == NULL) ||
	    head >= budget)
		return MW_EINVAL;
	if (d->n == 0) {
		rc = emit_seg(&o, 0, 0, 0, 0);
		return rc < 0 ? rc : o.count;
	}
	switch (d->codec) {
	case MW_CODEC_MS:
	case MW_CODEC_MS_SIGNED:
		rc = plan_ms(kr, d, payload, budget, &o);
		break;
	case MW_CODEC_TOPK:
		rc = plan_topk(d, payload, budget, &o);
		break;
	case MW_CODEC_QUANT:
		rc = plan_fixed(d, d->bits, budget, &o);
		break;
	case MW_CODEC_DENSE:
		rc = plan_fixed(d, 32, budget, &o);
		break;
	default:
		rc = plan_fixed(d, 8, budget, &o);
		break;
	}
	return rc < 0 ? rc : o.count;
}

int64_t mw_seg_plan_bound(const struct mw_codec_desc *d, size_t budget)
{
	int64_t size = mw_payload_size(d);
	uint64_t groups, gmax, per;

	if (size < 0)
		return size;
	if (budget == 0)
		return MW_EINVAL;
	groups = d->n / 8 + 1;
	switch (d->codec) {
	case MW_CODEC_MS:
	case MW_CODEC_MS_SIGNED:
		/* A segment closes only when the next group (at most b mask
		 * bytes and 8 values) does not fit: it holds more than
		 * budget - (b + 32) bytes. */
		gmax = d->bits + 32u;
		if (budget <= gmax)
			return (int64_t)groups;
		per = budget - gmax;
		break;
	case MW_CODEC_TOPK:
		/* A closed segment gives back at most 7 pairs of the group
		 * that did not fit. */
		if (budget / 8 <= 7)
			return (int64_t)groups;
		per = 8 * (budget / 8 - 7);
		break;
	default: /* fixed: the exact count */
		gmax = d->codec == MW_CODEC_QUANT   ? d->bits
		       : d->codec == MW_CODEC_DENSE ? 32u
						    : 8u;
		per = budget / gmax * 8;
		if (per == 0)
			return MW_EINVAL;
		return d->n == 0 ? 1 : (int64_t)((d->n + per - 1) / per);
	}
	size = (int64_t)((uint64_t)size / per + 1);
	return (uint64_t)size < groups ? size : (int64_t)groups;
}

int64_t mw_seg_plan(const struct mw_codec_desc *d, const uint8_t *payload,
		    size_t len, size_t budget, struct mw_seg *segs,
		    size_t max_segs)
{
	return mw_seg_plan_with(mw_kernels_get(MW_SIMD_AUTO), d, payload, len,
				budget, 0, 0, segs, max_segs);
}

int64_t mw_seg_plan_head(const struct mw_codec_desc *d,
			 const uint8_t *payload, size_t len, size_t budget,
			 size_t head, uint64_t heads, struct mw_seg *segs,
			 size_t max_segs)
{
	return mw_seg_plan_with(mw_kernels_get(MW_SIMD_AUTO), d, payload, len,
				budget, head, heads, segs, max_segs);
}

int64_t mw_seg_write(const struct mw_codec_desc *d, const uint8_t *payload,
		     size_t len, const struct mw_seg *s, uint8_t *out,
		     size_t cap)
{
	int64_t size = mw_payload_size(d);
	const unsigned es = mw_codec_elem_size(d->codec);
	uint64_t seg_size, mbs;

	if (size < 0)
		return size;
	if (s == NULL || (uint64_t)size != len || (len > 0 && payload == NULL))
		return MW_EINVAL;
	if (s->elem_off % MW_SEG_ALIGN != 0 || s->elem_off > d->n ||
	    s->elem_cnt > d->n - s->elem_off)
		return MW_EINVAL;
	if ((d->codec == MW_CODEC_MS || d->codec == MW_CODEC_MS_SIGNED ||
	     d->codec == MW_CODEC_TOPK)
		    ? s->val_off > d->k || s->val_cnt > d->k - s->val_off
		    : s->val_off != 0 || s->val_cnt != 0)
		return MW_EINVAL;
	seg_size = mw_seg_payload_size(d, s);
	if (cap < seg_size)
		return MW_ENOSPC;
	if (seg_size > 0 && out == NULL)
		return MW_EINVAL;
	switch (d->codec) {
	case MW_CODEC_MS:
	case MW_CODEC_MS_SIGNED:
	case MW_CODEC_QUANT:
		mbs = mw_mask_bytes(s->elem_cnt, d->bits);
		if (mbs > 0) {
			unsigned tail = (unsigned)(s->elem_cnt * d->bits % 8);

			memcpy(out, payload + s->elem_off / 8 * d->bits, mbs);
			if (tail != 0) /* bits of elements past the range */
				out[mbs - 1] &= (uint8_t)((1u << tail) - 1);
		}
		if (s->val_cnt > 0)
			memcpy(out + mbs,
			       payload + mw_mask_bytes(d->n, d->bits) +
				       4 * s->val_off,
			       4 * s->val_cnt);
		break;
	case MW_CODEC_TOPK:
		if (s->val_cnt > 0)
			memcpy(out, payload + 8 * s->val_off, 8 * s->val_cnt);
		break;
	default:
		if (s->elem_cnt > 0)
			memcpy(out, payload + s->elem_off * es,
			       s->elem_cnt * es);
		break;
	}
	return (int64_t)seg_size;
}
