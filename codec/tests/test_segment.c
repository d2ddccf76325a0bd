/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segments (codec/src/segment.c): for every codec, planning covers the
 * tensor within the budget, and decoding any subset of segments in any
 * order gives exactly the whole-tensor decode on those ranges and leaves
 * the rest of the output untouched; the planner's bound, taken without a
 * pass over the payload, is never below its count. The planner's sentinel
 * counter agrees across kernel sets and with a code-by-code count, and the
 * planner with every kernel set gives the plan of a group-by-group greedy
 * reference.
 */
#include "internal.h"
#include "ref.h"
#include "testutil.h"

#define CANARY 0xa5u

struct enc {
	struct mw_codec_desc d;
	uint8_t *buf;
	int64_t len;
	unsigned es;
};

static void encode(const struct mw_codec_params *p, const void *x,
		   uint64_t n, struct enc *e)
{
	size_t ss = mw_encode_scratch_size(p, n);
	int64_t size = mw_encode_size(p, n);
	void *scratch = malloc(ss + 1);

	e->buf = malloc((size_t)size + 1);
	e->len = mw_encode(p, x, n, &e->d, e->buf, (size_t)size,
			   ss ? scratch : NULL, ss);
	e->es = mw_codec_elem_size(p->codec);
	CHECK_EQ(e->len, size);
	free(scratch);
}

static int untouched(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != CANARY)
			return 0;
	return 1;
}

/* Decode segs[] (a random subset, random order) and compare. */
static void check_subset(const struct enc *e, const struct mw_seg *segs,
			 int64_t nseg, const uint8_t *whole)
{
	const uint64_t n = e->d.n, bytes = n * e->es;
	uint8_t *out = malloc(bytes + 1), *covered = calloc(n + 1, 1);
	int64_t *order = malloc(sizeof(int64_t) * (size_t)(nseg + 1));
	uint8_t seg[4096];

	memset(out, CANARY, bytes + 1);
	for (int64_t i = 0; i < nseg; i++)
		order[i] = i;
	for (int64_t i = nseg - 1; i > 0; i--) {
		int64_t j = (int64_t)tu_below((uint64_t)i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int64_t oi = 0; oi < nseg; oi++) {
		const struct mw_seg *s = &segs[order[oi]];
		int64_t len;

		if (tu_below(3) == 0)
			continue;
		len = mw_seg_write(&e->d, e->buf, (size_t)e->len, s, seg,
				   sizeof(seg));
		CHECK_EQ(len, mw_seg_payload_size(&e->d, s));
		CHECK_EQ(mw_seg_decode(&e->d, s->elem_off, s->elem_cnt, seg,
				       (size_t)len, out),
			 s->val_cnt);
		memset(covered + s->elem_off, 1, s->elem_cnt);
	}
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *o = out + i * e->es, *w = whole + i * e->es;

		if (covered[i] ? memcmp(o, w, e->es) != 0
			       : !untouched(o, e->es)) {
			CHECK(!"segment decode differs from whole decode");
			break;
		}
	}
	CHECK(out[bytes] == CANARY);
	free(out);
	free(covered);
	free(order);
}

static void test_codec(enum mw_codec codec)
{
	for (int iter = 0; iter < 40; iter++) {
		uint64_t n = tu_below(6) ? tu_below(5000) : 65536 + tu_below(9000);
		struct mw_codec_params p = {.codec = codec,
					    .bits = 1 + (unsigned)tu_below(8),
					    .ratio = tu_below(3) == 0 ? 0.5
						     : tu_below(2)    ? 0.99
								      : 0.9};
		size_t budget = 64 + tu_below(2000);
		float *x = malloc(n * 4 + 4);
		uint8_t *whole = malloc(n * 4 + 4);
		struct enc e;
		struct mw_seg *segs;
		int64_t nseg, cnt, bound;
		uint64_t next = 0, vnext = 0;

		for (uint64_t i = 0; i < n; i++) {
			float v = tu_normal();

			x[i] = codec == MW_CODEC_MS && v < 0.0f ? 0.0f : v;
		}
		if (codec == MW_CODEC_RAW)
			for (uint64_t i = 0; i < n; i++)
				((uint8_t *)x)[i] = (uint8_t)tu_rand();
		encode(&p, x, n, &e);
		CHECK(mw_seg_decode(&e.d, 0, n, e.buf, (size_t)e.len, whole) >= 0);
		nseg = mw_seg_plan(&e.d, e.buf, (size_t)e.len, budget, NULL, 0);
		CHECK(nseg >= 1);
		if (nseg < 1)
			goto next;
		/* the bound holds, and is the count for the fixed codecs */
		bound = mw_seg_plan_bound(&e.d, budget);
		CHECK(bound >= nseg);
		if (codec != MW_CODEC_MS && codec != MW_CODEC_MS_SIGNED &&
		    codec != MW_CODEC_TOPK)
			CHECK_EQ(bound, nseg);
		segs = malloc(sizeof(*segs) * (size_t)nseg);
		cnt = mw_seg_plan(&e.d, e.buf, (size_t)e.len, budget, segs,
				  (size_t)nseg);
		CHECK_EQ(cnt, nseg);
		if (nseg > 1)
			CHECK_EQ(mw_seg_plan(&e.d, e.buf, (size_t)e.len, budget,
					     segs, (size_t)nseg - 1),
				 MW_ENOSPC);
		for (int64_t i = 0; i < nseg; i++) {
			CHECK_EQ(segs[i].elem_off, next);
			CHECK_EQ(segs[i].elem_off % MW_SEG_ALIGN, 0);
			CHECK(mw_seg_payload_size(&e.d, &segs[i]) <= budget);
			if (codec == MW_CODEC_MS || codec == MW_CODEC_MS_SIGNED ||
			    codec == MW_CODEC_TOPK) {
				CHECK_EQ(segs[i].val_off, vnext);
				vnext += segs[i].val_cnt;
			}
			next += segs[i].elem_cnt;
		}
		CHECK_EQ(next, n);
		if (codec == MW_CODEC_MS || codec == MW_CODEC_MS_SIGNED ||
		    codec == MW_CODEC_TOPK)
			CHECK_EQ(vnext, e.d.k);
		check_subset(&e, segs, nseg, whole);
		/* a segment missing its last value is rejected */
		for (int64_t i = 0; i < nseg; i++) {
			uint8_t seg[4096];
			int64_t len;

			if (segs[i].val_cnt == 0 || codec == MW_CODEC_TOPK)
				continue;
			len = mw_seg_write(&e.d, e.buf, (size_t)e.len, &segs[i],
					   seg, sizeof(seg));
			CHECK_EQ(mw_seg_decode(&e.d, segs[i].elem_off,
					       segs[i].elem_cnt, seg,
					       (size_t)len - 4, whole),
				 MW_ECOUNT);
			break;
		}
		free(segs);
	next:
		free(e.buf);
		free(x);
		free(whole);
	}
}

/* Any aligned cut of an MS payload decodes (ends mid-byte included). */
static void test_custom_cuts(void)
{
	for (int iter = 0; iter < 60; iter++) {
		uint64_t n = 1 + tu_below(3000);
		struct mw_codec_params p = {.codec = MW_CODEC_MS,
					    .bits = 1 + (unsigned)tu_below(8),
					    .ratio = 0.95};
		float *x = malloc(n * 4), *whole = malloc(n * 4),
		      *out = malloc(n * 4);
		uint8_t *seg = malloc(n * 8 + 64);
		const uint32_t L = (1u << p.bits) - 1;
		struct enc e;
		uint64_t off, voff = 0;

		for (uint64_t i = 0; i < n; i++)
			x[i] = fabsf(tu_normal());
		encode(&p, x, n, &e);
		CHECK(mw_seg_decode(&e.d, 0, n, e.buf, (size_t)e.len, whole) >= 0);
		memset(out, CANARY, n * 4);
		for (off = 0; off < n;) {
			struct mw_seg s = {.elem_off = off, .val_off = voff};
			int64_t len;

			s.elem_cnt = 8 * (1 + tu_below(40));
			if (s.elem_cnt > n - off || tu_below(4) == 0)
				s.elem_cnt = 1 + tu_below(n - off);
			for (uint64_t i = off; i < off + s.elem_cnt; i++)
				s.val_cnt += ref_get_code(e.buf, i, p.bits) == L;
			len = mw_seg_write(&e.d, e.buf, (size_t)e.len, &s, seg,
					   n * 8 + 64);
			CHECK(len >= 0);
			CHECK_EQ(mw_seg_decode(&e.d, off, s.elem_cnt, seg,
					       (size_t)len, out),
				 s.val_cnt);
			CHECK(tu_same_bits(out + off, whole + off, s.elem_cnt));
			voff += s.val_cnt;
			/* the next segment must start on a multiple of 8 */
			off = (off + s.elem_cnt + 7) / 8 * 8;
			voff = 0;
			for (uint64_t i = 0; i < off && i < n; i++)
				voff += ref_get_code(e.buf, i, p.bits) == L;
		}
		free(e.buf);
		free(x);
		free(whole);
		free(out);
		free(seg);
	}
}

static void test_plan_errors(void)
{
	float x[64];
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 2, .k = 64};
	struct enc e;
	struct mw_seg s[16];

	for (int i = 0; i < 64; i++)
		x[i] = (float)i;
	encode(&p, x, 64, &e);
	/* 8 sentinels a group: 2 + 32 bytes; 33 cannot hold one group */
	CHECK_EQ(mw_seg_plan(&e.d, e.buf, (size_t)e.len, 33, s, 16),
		 MW_EINVAL);
	CHECK_EQ(mw_seg_plan(&e.d, e.buf, (size_t)e.len, 34, s, 16), 8);
	CHECK_EQ(mw_seg_plan(&e.d, e.buf, (size_t)e.len - 1, 34, s, 16),
		 MW_EINVAL);
	/* the whole payload as one segment */
	CHECK_EQ(mw_seg_plan(&e.d, e.buf, (size_t)e.len, 1u << 20, s, 16), 1);
	CHECK_EQ(s[0].elem_cnt, 64);
	CHECK_EQ(s[0].val_cnt, 64);
	/* write: ranges outside the tensor or the values */
	s[0].elem_off = 4;
	CHECK_EQ(mw_seg_write(&e.d, e.buf, (size_t)e.len, &s[0], (uint8_t *)x,
			      sizeof(x)),
		 MW_EINVAL);
	s[0].elem_off = 0;
	s[0].val_cnt = 65;
	CHECK_EQ(mw_seg_write(&e.d, e.buf, (size_t)e.len, &s[0], (uint8_t *)x,
			      sizeof(x)),
		 MW_EINVAL);
	s[0].val_cnt = 64;
	CHECK_EQ(mw_seg_write(&e.d, e.buf, (size_t)e.len, &s[0], (uint8_t *)x,
			      10),
		 MW_ENOSPC);
	free(e.buf);
	/* n = 0: one empty segment */
	encode(&p, x, 0, &e);
	CHECK_EQ(mw_seg_plan(&e.d, e.buf, 0, 64, s, 16), 1);
	CHECK_EQ(s[0].elem_cnt, 0);
	free(e.buf);
}

/* Sentinels among codes [c0, c0 + cnt) of a mask, read one code at a time. */
static unsigned ref_sentinels(const uint8_t *mask, uint64_t c0, uint64_t cnt,
			      unsigned b)
{
	unsigned s = 0;

	for (uint64_t c = c0; c < c0 + cnt; c++) {
		unsigned v = 0;

		for (unsigned j = 0; j < b; j++) {
			uint64_t bit = c * b + j;

			v |= (unsigned)(mask[bit / 8] >> (bit % 8) & 1) << j;
		}
		s += v == (1u << b) - 1;
	}
	return s;
}

/* Random mask: each code all-ones with probability dens/256. */
static void random_mask(uint8_t *mask, uint64_t codes, unsigned b,
			unsigned dens)
{
	memset(mask, 0, MW_MASK_BYTES(codes, b));
	for (uint64_t c = 0; c < codes; c++) {
		unsigned v = tu_below(256) < dens ? (1u << b) - 1
						 : (unsigned)tu_below(1u << b);

		for (unsigned j = 0; j < b; j++)
			if (v >> j & 1)
				mask[(c * b + j) / 8] |=
					(uint8_t)(1u << ((c * b + j) % 8));
	}
}

static void test_ms_count(void)
{
	const struct mw_kernels *ks[3];
	const unsigned nks = mw_kernels_all(ks, 3);
	uint8_t mask[8 * 8 * 40 + 8], cnt[3][41];

	for (unsigned it = 0; it < 400; it++) {
		unsigned b = 1 + it % 8;
		uint64_t nblk = 1 + tu_below(40);
		unsigned dens = it % 5 == 0 ? 256 : (unsigned)tu_below(256);

		random_mask(mask, nblk * MW_COUNT_BLOCK, b, dens);
		for (unsigned k = 0; k < nks; k++) {
			cnt[k][nblk] = CANARY;
			ks[k]->ms_count(mask, nblk, b, cnt[k]);
			CHECK_EQ(cnt[k][nblk], CANARY);
		}
		for (uint64_t i = 0; i < nblk; i++) {
			unsigned r = ref_sentinels(mask, i * MW_COUNT_BLOCK,
						   MW_COUNT_BLOCK, b);

			for (unsigned k = 0; k < nks; k++)
				CHECK_EQ(cnt[k][i], r);
		}
	}
}

/* Group-by-group greedy over the codes, the plan mw_seg_plan() must give. */
static int64_t ref_plan_ms(const struct mw_codec_desc *d, const uint8_t *mask,
			   size_t budget, struct mw_seg *segs)
{
	uint64_t off = 0, bytes = 0, v0 = 0, vc = 0;
	int64_t ns = 0;

	for (uint64_t g = 0; g < d->n; g += 8) {
		uint64_t cnt = d->n - g < 8 ? d->n - g : 8;
		unsigned sc = ref_sentinels(mask, g, cnt, d->bits);
		uint64_t cost = MW_MASK_BYTES(cnt, d->bits) + 4 * (uint64_t)sc;

		if (bytes + cost > budget && g != off) {
			segs[ns++] = (struct mw_seg){off, g - off, v0, vc};
			off = g;
			v0 += vc;
			vc = 0;
			bytes = 0;
		}
		if (cost > budget)
			return MW_EINVAL;
		bytes += cost;
		vc += sc;
	}
	segs[ns++] = (struct mw_seg){off, d->n - off, v0, vc};
	return ns;
}

static void test_plan_kernels(void)
{
	const struct mw_kernels *ks[3];
	const unsigned nks = mw_kernels_all(ks, 3);

	for (unsigned it = 0; it < 160; it++) {
		struct mw_codec_params p = {
			.codec = it % 2 ? MW_CODEC_MS_SIGNED : MW_CODEC_MS,
			.bits = 1 + it / 2 % 8,
			.ratio = it % 3 == 0 ? 0.5 : tu_below(2) ? 0.99 : 0.9};
		uint64_t n = 1 + tu_below(it % 4 == 0 ? 200 : 20000);
		size_t budget = 8 * p.bits + 32 + tu_below(1500);
		float *x = malloc(n * 4 + 4);
		struct mw_seg *ref = malloc(sizeof(*ref) * (n / 8 + 2));
		struct mw_seg *got = malloc(sizeof(*got) * (n / 8 + 2));
		struct enc e;
		int64_t nref;

		for (uint64_t i = 0; i < n; i++)
			x[i] = tu_normal();
		encode(&p, x, n, &e);
		nref = ref_plan_ms(&e.d, e.buf, budget, ref);
		CHECK(nref >= 1);
		for (unsigned k = 0; k < nks; k++) {
			int64_t ng = mw_seg_plan_with(ks[k], &e.d, e.buf,
						      (size_t)e.len, budget, 0,
						      0, got, n / 8 + 2);

			CHECK_EQ(ng, nref);
			if (ng == nref && nref > 0)
				CHECK(memcmp(got, ref, sizeof(*got) *
							       (size_t)nref) == 0);
		}
		free(x);
		free(ref);
		free(got);
		free(e.buf);
	}
}

/* mw_seg_plan_head(): segment 0 is the greedy first segment of the
 * smaller budget, the leading segments fit it, the others the whole
 * budget, the cut tiles, and a zero head is mw_seg_plan(). */
static void test_plan_head(enum mw_codec codec)
{
	for (int iter = 0; iter < 30; iter++) {
		uint64_t n = tu_below(4) ? tu_below(5000) : 40000 + tu_below(9000);
		struct mw_codec_params p = {.codec = codec,
					    .bits = 1 + (unsigned)tu_below(8),
					    .ratio = tu_below(2) ? 0.99 : 0.9};
		size_t head = tu_below(2) ? 116 : tu_below(200);
		size_t budget = head + 72 + tu_below(2000);
		uint64_t heads = 1 + tu_below(6);
		float *x = malloc(n * 4 + 4);
		struct mw_seg *a = malloc(sizeof(*a) * (n / 8 + 2));
		struct mw_seg *b = malloc(sizeof(*b) * (n / 8 + 2));
		uint64_t next = 0, vnext = 0;
		struct enc e;
		int64_t na, nb;

		for (uint64_t i = 0; i < n; i++)
			x[i] = tu_normal();
		if (codec == MW_CODEC_RAW)
			for (uint64_t i = 0; i < n; i++)
				((uint8_t *)x)[i] = (uint8_t)tu_rand();
		encode(&p, x, n, &e);
		na = mw_seg_plan_head(&e.d, e.buf, (size_t)e.len, budget, head,
				      heads, a, n / 8 + 2);
		CHECK(na >= 1);
		CHECK(mw_seg_plan_bound(&e.d, budget - head) >= na);
		nb = mw_seg_plan(&e.d, e.buf, (size_t)e.len, budget - head, b,
				 n / 8 + 2);
		CHECK(nb >= 1);
		if (na < 1 || nb < 1)
			goto next;
		CHECK(memcmp(&a[0], &b[0], sizeof(a[0])) == 0);
		for (int64_t i = 0; i < na; i++) {
			CHECK_EQ(a[i].elem_off, next);
			CHECK(mw_seg_payload_size(&e.d, &a[i]) <=
			      ((uint64_t)i < heads ? budget - head : budget));
			if (codec == MW_CODEC_MS || codec == MW_CODEC_TOPK)
				CHECK_EQ(a[i].val_off, vnext);
			vnext += a[i].val_cnt;
			next += a[i].elem_cnt;
		}
		CHECK_EQ(next, n);
		if (codec == MW_CODEC_MS || codec == MW_CODEC_TOPK)
			CHECK_EQ(vnext, e.d.k);
		nb = mw_seg_plan_head(&e.d, e.buf, (size_t)e.len, budget, 0,
				      heads, b, n / 8 + 2);
		CHECK_EQ(nb, mw_seg_plan(&e.d, e.buf, (size_t)e.len, budget,
					 NULL, 0));
		CHECK_EQ(mw_seg_plan_head(&e.d, e.buf, (size_t)e.len, budget,
					  budget, heads, NULL, 0),
			 MW_EINVAL);
		/* every segment with the head: the plan of the smaller budget */
		nb = mw_seg_plan(&e.d, e.buf, (size_t)e.len, budget - head, b,
				 n / 8 + 2);
		CHECK_EQ(mw_seg_plan_head(&e.d, e.buf, (size_t)e.len, budget,
					  head, UINT64_MAX, a, n / 8 + 2),
			 nb);
		if (nb > 0)
			CHECK(memcmp(a, b, sizeof(*a) * (size_t)nb) == 0);
next:
		free(x);
		free(a);
		free(b);
		free(e.buf);
	}
}

int main(void)
{
	static const enum mw_codec codecs[] = {
		MW_CODEC_MS,    MW_CODEC_MS_SIGNED, MW_CODEC_TOPK,
		MW_CODEC_QUANT, MW_CODEC_DENSE,     MW_CODEC_RAW,
	};

	tu_init();
	for (unsigned i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		test_codec(codecs[i]);
	test_plan_head(MW_CODEC_MS);
	test_plan_head(MW_CODEC_TOPK);
	test_plan_head(MW_CODEC_DENSE);
	test_plan_head(MW_CODEC_RAW);
	test_custom_cuts();
	test_plan_errors();
	test_ms_count();
	test_plan_kernels();
	return mw_test_exit("test_segment");
}
