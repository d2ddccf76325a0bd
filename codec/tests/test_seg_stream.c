/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Planning segments while the payload is written (mw_seg_stream_*, the
 * sender's cut-through), driven by a real encode in steps of random size:
 *
 * 1. Unchanged input: every segment handed out as final stays so; the
 *    count is exactly the one fixed in advance; the segments tile [0, n)
 *    and [0, k), each fits its budget, each decodes on its own to the
 *    whole decode's values; those handed out during the encode are the
 *    greedy plan's (mw_seg_plan_head()); the fixed count is never below
 *    the greedy count, also for values crowded into a few places.
 * 2. Input rewritten during the emit (more values than k, fewer, NaN):
 *    every segment handed out before MW_ECHANGED is still valid on its
 *    own (it decodes, its values finite); the error comes at the latest
 *    at mw_seg_stream_end().
 * 3. Arguments: another codec, a count below the bound, a budget too
 *    small, `sent` beyond what was final.
 */
#include "internal.h"
#include "testutil.h"

struct run {
	struct mw_codec_params p;
	float *x;
	uint64_t n;
	size_t budget, head;
	uint64_t heads;
	uint64_t spoil_at; /* emit position at which x is rewritten, or n+1 */
	int spoil;         /* 0 more, 1 fewer, 2 NaN */
};

/* One segment's payload decodes on its own; its values are finite. */
static int seg_ok(const struct mw_codec_desc *d, const uint8_t *payload,
		  size_t len, const struct mw_seg *s, float *out)
{
	uint8_t buf[8192];
	int64_t l = mw_seg_write(d, payload, len, s, buf, sizeof(buf));

	if (l < 0)
		return 0;
	if (mw_any_nonfinite(buf + mw_mask_bytes(s->elem_cnt, d->bits),
			     s->val_cnt, 4))
		return 0;
	return mw_seg_decode(d, s->elem_off, s->elem_cnt, buf, (size_t)l,
			     out) == (int64_t)s->val_cnt;
}

static void spoil(struct run *r, uint64_t from)
{
	for (uint64_t i = from; i < r->n && i < from + 4096; i++)
		r->x[i] = r->spoil == 0   ? 1e30f
			  : r->spoil == 1 ? 0.0f
					  : (i % 7 ? r->x[i] : NAN);
}

/* @return the stream's final result (count or error). */
static int64_t run_stream(struct run *r, struct mw_seg *segs, int64_t *cnt,
			  uint64_t *handed)
{
	const uint64_t n = r->n;
	int64_t size = mw_encode_size(&r->p, n);
	size_t ss = mw_encode_scratch_size(&r->p, n);
	uint8_t *out = malloc((size_t)size + 1);
	void *scratch = malloc(ss + 4);
	float *dec = malloc(n * 4 + 4);
	struct mw_enc enc;
	struct mw_seg_stream st;
	struct mw_codec_desc d;
	uint64_t elems, vals, sent = 0, max = n / 8 + 2;
	int64_t got = 0, res;
	int begun = 0, rc;

	CHECK_EQ(mw_enc_begin(&enc, &r->p, r->x, n, out, (size_t)size, scratch,
			      ss),
		 0);
	do {
		rc = mw_enc_step(&enc, 1 + tu_below(20000));
		if (rc < 0)
			break;
		if (mw_enc_progress(&enc, &d, &elems, &vals) != 1)
			continue;
		if (!begun) {
			*cnt = mw_seg_stream_bound(&d, r->budget, r->head,
						   r->heads);
			CHECK(*cnt >= 1 && (uint64_t)*cnt <= max);
			CHECK_EQ(mw_seg_stream_begin(&st, &d, out, r->budget,
						     r->head, r->heads,
						     (uint64_t)*cnt, segs),
				 0);
			begun = 1;
		}
		if (elems >= r->spoil_at && r->spoil_at <= n) {
			spoil(r, elems);
			r->spoil_at = n + 1;
		}
		got = mw_seg_stream_feed(&st, elems, vals);
		if (got < 0)
			break;
		/* what was final is sent now: it must be valid on its own */
		for (; sent < (uint64_t)got; sent++)
			CHECK(seg_ok(&d, out, (size_t)size, &segs[sent], dec));
		if (tu_below(4) == 0 && sent > 0)
			sent -= tu_below(sent + 1); /* the sender lags */
		sent = sent > (uint64_t)got ? (uint64_t)got : sent;
		for (uint64_t i = 0; i < sent; i++)
			CHECK(seg_ok(&d, out, (size_t)size, &segs[i], dec));
	} while (rc == 1);
	*handed = sent;
	if (!begun) {
		res = rc < 0 ? rc : MW_EINVAL;
	} else if (got < 0) {
		res = got;
		CHECK_EQ(mw_seg_stream_end(&st, sent), got);
	} else {
		res = mw_seg_stream_end(&st, sent);
	}
	if (res >= 0 && rc == 0) {
		/* the segments tile, fit, and decode to the whole decode */
		float *whole = malloc(n * 4 + 4);
		uint64_t eo = 0, vo = 0;

		CHECK_EQ(res, *cnt);
		CHECK_EQ(mw_seg_decode(&d, 0, n, out, (size_t)size, whole),
			 (int64_t)d.k);
		for (int64_t i = 0; i < res; i++) {
			CHECK_EQ(segs[i].elem_off, eo);
			CHECK_EQ(segs[i].val_off, vo);
			CHECK(segs[i].elem_cnt > 0 || n == 0);
			CHECK(mw_seg_payload_size(&d, &segs[i]) <=
			      ((uint64_t)i < r->heads ? r->budget - r->head
						      : r->budget));
			CHECK(seg_ok(&d, out, (size_t)size, &segs[i], dec));
			eo += segs[i].elem_cnt;
			vo += segs[i].val_cnt;
		}
		CHECK_EQ(eo, n);
		CHECK_EQ(vo, d.k);
		CHECK(memcmp(dec, whole, n * 4) == 0);
		free(whole);
	}
	free(out);
	free(scratch);
	free(dec);
	return res;
}

static void fill(float *x, uint64_t n, int crowd)
{
	for (uint64_t i = 0; i < n; i++)
		x[i] = tu_normal();
	if (crowd) /* the largest values in one run: segments full of them */
		for (uint64_t i = n / 3; i < n / 3 + n / 50 && i < n; i++)
			x[i] = 100.0f + tu_normal();
}

static void test_unchanged(void)
{
	for (int iter = 0; iter < 60; iter++) {
		struct run r = {0};
		struct mw_seg *segs, *ref;
		uint64_t handed;
		int64_t cnt = 0, res, g;

		r.n = tu_below(4) ? 8 + tu_below(200000) : 1 + tu_below(100);
		r.p.codec = tu_below(2) ? MW_CODEC_MS : MW_CODEC_MS_SIGNED;
		r.p.bits = 1 + (unsigned)tu_below(8);
		r.p.ratio = tu_below(3) ? 0.99 : 0.9;
		r.head = tu_below(2) ? 116 : 0;
		r.heads = tu_below(2) ? 4 : tu_below(3);
		r.budget = r.head + 41 + tu_below(3000);
		r.spoil_at = r.n + 1;
		r.x = malloc(r.n * 4 + 4);
		fill(r.x, r.n, tu_below(3) == 0);
		segs = malloc(sizeof(*segs) * (r.n / 8 + 2));
		ref = malloc(sizeof(*ref) * (r.n / 8 + 2));
		res = run_stream(&r, segs, &cnt, &handed);
		CHECK_EQ(res, cnt);
		{
			/* the greedy plan of the same payload, re-encoded */
			int64_t size = mw_encode_size(&r.p, r.n);
			size_t ss = mw_encode_scratch_size(&r.p, r.n);
			uint8_t *out = malloc((size_t)size + 1);
			void *scr = malloc(ss + 4);
			struct mw_codec_desc d;

			CHECK_EQ(mw_encode(&r.p, r.x, r.n, &d, out, (size_t)size,
					   scr, ss),
				 size);
			g = mw_seg_plan_head(&d, out, (size_t)size, r.budget,
					     r.head, r.heads, ref, r.n / 8 + 2);
			CHECK(g >= 1 && g <= cnt);
			for (uint64_t i = 0; i < handed && (int64_t)i < g; i++)
				CHECK(memcmp(&segs[i], &ref[i],
					     sizeof(segs[i])) == 0);
			free(out);
			free(scr);
		}
		free(r.x);
		free(segs);
		free(ref);
	}
}

static void test_changed(void)
{
	unsigned errs = 0;

	for (int iter = 0; iter < 90; iter++) {
		struct run r = {0};
		struct mw_seg *segs;
		uint64_t handed;
		int64_t cnt = 0, res;

		r.n = 20000 + tu_below(200000);
		r.p.codec = tu_below(2) ? MW_CODEC_MS : MW_CODEC_MS_SIGNED;
		r.p.bits = 2;
		r.p.ratio = 0.99;
		r.head = 116;
		r.heads = 4;
		r.budget = 1400;
		r.spoil = iter % 3;
		r.spoil_at = tu_below(r.n);
		r.x = malloc(r.n * 4 + 4);
		fill(r.x, r.n, 0);
		segs = malloc(sizeof(*segs) * (r.n / 8 + 2));
		res = run_stream(&r, segs, &cnt, &handed);
		CHECK(res == cnt || res == MW_ECHANGED);
		errs += res == MW_ECHANGED;
		free(r.x);
		free(segs);
	}
	printf("changed: %u of 90 runs MW_ECHANGED\n", errs);
	CHECK(errs > 45); /* most rewrites change the count */
}

static void test_args(void)
{
	struct mw_codec_desc d = {.codec = MW_CODEC_MS, .bits = 2,
				  .n = 100000, .k = 1000};
	struct mw_seg segs[512];
	uint8_t pl[1];
	struct mw_seg_stream st;
	int64_t b = mw_seg_stream_bound(&d, 1400, 116, 4);

	CHECK(b > 1 && b < 512);
	CHECK_EQ(mw_seg_stream_bound(&d, 150, 116, 4), MW_EINVAL);
	CHECK(mw_seg_stream_bound(&d, 150, 116, 0) > 0); /* no heads */
	d.codec = MW_CODEC_DENSE;
	d.bits = 0;
	d.k = 0;
	CHECK_EQ(mw_seg_stream_bound(&d, 1400, 0, 0), MW_EINVAL);
	d = (struct mw_codec_desc){.codec = MW_CODEC_MS, .bits = 2,
				   .n = 100000, .k = 1000};
	CHECK_EQ(mw_seg_stream_begin(&st, &d, pl, 1400, 116, 4,
				     (uint64_t)b - 1, segs),
		 MW_EINVAL);
	CHECK_EQ(mw_seg_stream_feed(&st, 0, 0), MW_EINVAL);
	CHECK_EQ(mw_seg_stream_begin(&st, &d, pl, 1400, 116, 4, (uint64_t)b,
				     segs),
		 0);
	CHECK_EQ(mw_seg_stream_feed(&st, 0, 0), 0);
	CHECK_EQ(mw_seg_stream_end(&st, 1), MW_EINVAL);
}

int main(void)
{
	tu_init();
	test_unchanged();
	test_changed();
	test_args();
	return mw_test_exit("test_seg_stream");
}
