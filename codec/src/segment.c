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

static uint64_t lsb_of(unsigned b)
{
	uint64_t lsb = 0;

	for (unsigned i = 0; i < 8; i++)
		lsb |= 1ull << (i * b);
	return lsb;
}

/*
 * Greedy: a segment takes groups of 8 while they fit. The kernels count
 * sentinels a block of MW_COUNT_BLOCK elements at a time; a block that fits
 * whole is taken whole (no group in it can start a segment), and only the
 * block where a segment ends is walked group by group. Plans elements
 * [g, end): g a multiple of 8, end a multiple of 8 or n; the open segment
 * stays in st.
 */
static int plan_ms_range(const struct mw_kernels *kr,
			 const struct mw_codec_desc *d, const uint8_t *payload,
			 size_t budget, struct plan_out *o, struct plan_ms *st,
			 uint64_t g, uint64_t end)
{
	const unsigned b = d->bits;
	const uint64_t blk_bytes = (uint64_t)MW_COUNT_BLOCK / 8 * b;
	const uint64_t lsb = lsb_of(b);
	uint64_t b0 = (g + MW_COUNT_BLOCK - 1) / MW_COUNT_BLOCK;
	uint64_t b1 = end / MW_COUNT_BLOCK;
	uint8_t cnt[256];
	int rc;

	if (b0 >= b1)
		return plan_ms_groups(d, payload, budget, o, st, g, end, lsb);
	rc = plan_ms_groups(d, payload, budget, o, st, g, b0 * MW_COUNT_BLOCK,
			    lsb);
	for (uint64_t k0 = b0; rc == 0 && k0 < b1; k0 += sizeof(cnt)) {
		uint64_t m = b1 - k0 < sizeof(cnt) ? b1 - k0 : sizeof(cnt);

		kr->ms_count(payload + k0 * blk_bytes, m, b, cnt);
		for (uint64_t i = 0; rc == 0 && i < m; i++) {
			uint64_t cost = blk_bytes + 4 * (uint64_t)cnt[i];
			uint64_t gb = (k0 + i) * MW_COUNT_BLOCK;

			if (st->bytes + cost <= budget) {
				st->bytes += cost;
				st->vc += cnt[i];
				continue;
			}
			rc = plan_ms_groups(d, payload, budget, o, st, gb,
					    gb + MW_COUNT_BLOCK, lsb);
		}
	}
	if (rc < 0)
		return rc;
	return plan_ms_groups(d, payload, budget, o, st, b1 * MW_COUNT_BLOCK,
			      end, lsb);
}

static int plan_ms(const struct mw_kernels *kr, const struct mw_codec_desc *d,
		   const uint8_t *payload, size_t budget, struct plan_out *o)
{
	struct plan_ms st = {0, next_head(o), 0, 0};
	int rc = plan_ms_range(kr, d, payload, budget, o, &st, 0, d->n);

	if (rc < 0)
		return rc;
	if (st.v0 + st.vc != d->k)
		return MW_EINVAL;
	return emit_seg(o, st.off, d->n - st.off, st.v0, st.vc);
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

/*
 * The most segments the greedy MS plan can close for a payload of size
 * bytes: every closed segment holds more than its budget less the
 * costliest group (b mask bytes and 8 values), segments 0 .. heads-1 a
 * budget of budget - head, the others budget; at most one per group.
 * budget - head must exceed the costliest group.
 */
static uint64_t ms_bound(const struct mw_codec_desc *d, uint64_t size,
			 size_t budget, size_t head, uint64_t heads)
{
	const uint64_t gmax = d->bits + 32u;
	const uint64_t first = budget - head - gmax, rest = budget - gmax;
	const uint64_t hb = heads * first, groups = d->n / 8 + 1;
	uint64_t cnt = size <= hb ? size / first + 1
				  : heads + (size - hb) / rest + 1;

	return cnt < groups ? cnt : groups;
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
		 * bytes and 8 values) does not fit. */
		if (budget <= d->bits + 32u)
			return (int64_t)groups;
		return (int64_t)ms_bound(d, (uint64_t)size, budget, 0, 0);
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

/* ---- planning while the payload is written (cut-through) ------------- */

struct seg_stream {
	const struct mw_kernels *kr;
	struct mw_codec_desc d;
	const uint8_t *payload;
	size_t budget;
	struct plan_out o; /* o.max: the count fixed in advance */
	struct plan_ms st; /* the open segment */
	uint64_t pos;      /* elements planned */
	uint64_t checked;  /* segments whose values were checked */
	uint64_t ready;    /* segments handed out as final */
	int err;
};

_Static_assert(sizeof(struct seg_stream) <= sizeof(struct mw_seg_stream),
	       "struct mw_seg_stream holds the planner's state");

static struct seg_stream *sst(struct mw_seg_stream *ss)
{
	return (struct seg_stream *)(void *)ss;
}

static int ms_codec(unsigned codec)
{
	return codec == MW_CODEC_MS || codec == MW_CODEC_MS_SIGNED;
}

int64_t mw_seg_stream_bound(const struct mw_codec_desc *d, size_t budget,
			    size_t head, uint64_t heads)
{
	int64_t size = mw_payload_size(d);
	uint64_t groups = (d->n + 7) / 8, cnt;

	if (size < 0)
		return size;
	if (!ms_codec(d->codec))
		return MW_EINVAL;
	if (heads == 0)
		head = 0;
	if (head >= budget || budget - head <= d->bits + 32u)
		return MW_EINVAL;
	if (groups == 0)
		return 1;
	/* the tail is cut into as many segments as announced: one group
	 * at least each */
	cnt = ms_bound(d, (uint64_t)size, budget, head, heads);
	return (int64_t)(cnt < groups ? cnt : groups);
}

int mw_seg_stream_begin(struct mw_seg_stream *ss,
			const struct mw_codec_desc *d, const uint8_t *payload,
			size_t budget, size_t head, uint64_t heads,
			uint64_t count, struct mw_seg *segs)
{
	struct seg_stream *s = sst(ss);
	int64_t bound = mw_seg_stream_bound(d, budget, head, heads);

	memset(ss, 0, sizeof(*ss));
	s->err = MW_EINVAL;
	if (bound < 0)
		return (int)bound;
	if (payload == NULL || segs == NULL || count < (uint64_t)bound)
		return MW_EINVAL;
	s->kr = mw_kernels_get(MW_SIMD_AUTO);
	s->d = *d;
	s->payload = payload;
	s->budget = budget;
	s->o.segs = segs;
	s->o.max = count;
	s->o.head = heads ? head : 0;
	s->o.heads = heads;
	s->st.bytes = next_head(&s->o);
	s->err = 0;
	return 0;
}

/* Values of segments [checked, upto) present (at most vals written) and
 * finite: else the input changed under the emit. */
static int check_vals(struct seg_stream *s, uint64_t upto, uint64_t vals)
{
	const uint8_t *v = s->payload + mw_mask_bytes(s->d.n, s->d.bits);

	for (; s->checked < upto; s->checked++) {
		const struct mw_seg *g = &s->o.segs[s->checked];

		if (g->val_off + g->val_cnt > vals ||
		    mw_any_nonfinite(v + 4 * g->val_off, g->val_cnt, 4))
			return MW_ECHANGED;
	}
	return 0;
}

static int64_t stream_fail(struct seg_stream *s, int rc)
{
	/* more segments than the count fixed: more values than k */
	s->err = rc == MW_ENOSPC ? MW_ECHANGED : rc;
	return s->err;
}

int64_t mw_seg_stream_feed(struct mw_seg_stream *ss, uint64_t elems,
			   uint64_t vals)
{
	struct seg_stream *s = sst(ss);
	const uint64_t n = s->d.n, cnt = s->o.max;
	uint64_t end = elems >= n ? n : elems & ~(uint64_t)7;
	int rc;

	if (s->err)
		return s->err;
	if (end > s->pos) {
		rc = plan_ms_range(s->kr, &s->d, s->payload, s->budget, &s->o,
				   &s->st, s->pos, end);
		if (rc < 0)
			return stream_fail(s, rc);
		s->pos = end;
	}
	rc = check_vals(s, (uint64_t)s->o.count, vals > s->d.k ? s->d.k : vals);
	if (rc < 0)
		return stream_fail(s, rc);
	/* Hand out segment j only while the elements after it can still be
	 * cut into the count - (j + 1) segments left. */
	while (s->ready < (uint64_t)s->o.count && s->ready + 1 < cnt) {
		const struct mw_seg *g = &s->o.segs[s->ready];
		uint64_t left = n - (g->elem_off + g->elem_cnt);

		if ((left + 7) / 8 < cnt - (s->ready + 1))
			break;
		s->ready++;
	}
	return (int64_t)s->ready;
}

/* Sentinels among the codes of groups [g0, g1) (g1 a multiple of 8 or n). */
static uint64_t sentinels_in(const struct seg_stream *s, uint64_t g0,
			     uint64_t g1)
{
	const unsigned b = s->d.bits;
	const uint64_t lsb = lsb_of(b);
	uint64_t c = 0;

	for (uint64_t g = g0; g < g1; g += 8) {
		unsigned m = g1 - g < 8 ? (unsigned)(g1 - g) : 8;

		c += sentinels8(mw_ld_bytes(s->payload + g / 8 * b,
					    (m * b + 7) / 8),
				b, lsb);
	}
	return c;
}

/* Split the longest segment of [from, count) in two at a group boundary. */
static int split_one(struct seg_stream *s, uint64_t from)
{
	struct mw_seg *v = s->o.segs;
	uint64_t best = UINT64_MAX, h, c;

	for (uint64_t i = from; i < (uint64_t)s->o.count; i++)
		if (v[i].elem_cnt > 8 &&
		    (best == UINT64_MAX || v[i].elem_cnt > v[best].elem_cnt))
			best = i;
	if (best == UINT64_MAX)
		return MW_ENOSPC;
	h = (v[best].elem_cnt + 7) / 8 / 2 * 8;
	c = sentinels_in(s, v[best].elem_off, v[best].elem_off + h);
	memmove(&v[best + 2], &v[best + 1],
		sizeof(*v) * ((uint64_t)s->o.count - best - 1));
	v[best + 1].elem_off = v[best].elem_off + h;
	v[best + 1].elem_cnt = v[best].elem_cnt - h;
	v[best + 1].val_off = v[best].val_off + c;
	v[best + 1].val_cnt = v[best].val_cnt - c;
	v[best].elem_cnt = h;
	v[best].val_cnt = c;
	s->o.count++;
	return 0;
}

int64_t mw_seg_stream_end(struct mw_seg_stream *ss, uint64_t sent)
{
	struct seg_stream *s = sst(ss);
	const uint64_t n = s->d.n;
	int rc;

	if (s->err)
		return s->err;
	if (sent > s->ready)
		return MW_EINVAL;
	if (n == 0) {
		rc = emit_seg(&s->o, 0, 0, 0, 0);
	} else {
		rc = mw_seg_stream_feed(ss, n, s->d.k) < 0 ? s->err : 0;
		if (rc == 0 && s->st.v0 + s->st.vc != s->d.k)
			rc = MW_ECHANGED;
		if (rc == 0)
			rc = emit_seg(&s->o, s->st.off, n - s->st.off, s->st.v0,
				      s->st.vc);
		if (rc == 0)
			rc = check_vals(s, (uint64_t)s->o.count, s->d.k);
	}
	while (rc == 0 && (uint64_t)s->o.count < s->o.max)
		rc = split_one(s, sent);
	if (rc < 0)
		return stream_fail(s, rc);
	s->ready = s->o.max;
	return s->o.count;
}
