/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit test for gensink.c: two transport endpoints, each driven by its own
 * mw_loop, joined in process over a virtual link that loses every 7th
 * datagram; A generates, B sinks. Every tensor must be verified; a
 * tampered or out-of-order delivery must be caught.
 */
#include "gensink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_loop.h"
#include "mw_test.h"

/* Every datagram from's endpoint has, to to's peer 0; every 7th lost. */
static void pump(struct mw_ep *from, struct mw_loop *to, uint64_t now,
		 unsigned *count)
{
	uint8_t buf[1500];
	uint16_t peer;
	int n;
	while ((n = mw_ep_send(from, now, buf, sizeof buf, &peer)) > 0) {
		if (++*count % 7 == 0)
			continue; /* lost */
		mw_loop_recv(to, 0, buf, (size_t)n, now);
	}
}

/* Two endpoints (incarnations 11 and 22), each with the other as peer 0. */
static void new_pair(struct mw_ep **a, struct mw_ep **b)
{
	struct mw_ep_config c;
	mw_ep_config_default(&c);
	c.max_peers = 1;
	c.incarnation = 11;
	CHECK(mw_ep_new(&c, a) == 0);
	c.incarnation = 22;
	CHECK(mw_ep_new(&c, b) == 0);
	CHECK(mw_ep_add_peer(*a) == 0 && mw_ep_add_peer(*b) == 0);
}

/* The virtual clock both sides of the request/response test share. */
static uint64_t vclock;

static uint64_t vclock_ns(void)
{
	return vclock;
}

/*
 * Run A with source sa and B with source sb, each through its mw_loop, in
 * 50 us steps of virtual time until both sources are done: each side's
 * step (timers, events, poll; a done source lingers), then the datagrams
 * both ways over the lossy link. vclock runs 12345 ns ahead of the
 * endpoints' clock (another origin). max_pending: A's tensors pending at
 * most, 0 for no limit.
 */
static void run_loops(struct mw_ep *a, struct mw_source *sa, struct mw_ep *b,
		      struct mw_source *sb, uint32_t max_pending, uint64_t *now)
{
	const uint16_t peers[1] = {0};
	struct mw_loop la, lb;
	unsigned count = 0;

	struct mw_loop_cfg c = {.ep = a, .src = sa, .peers = peers, .npeers = 1,
				.linger_ns = 1000000000ull};

	*now = 1000000000ull;
	mw_loop_init(&la, &c, *now);
	c.ep = b;
	c.src = sb;
	mw_loop_init(&lb, &c, *now);
	for (int it = 0; it < 200000 && !(sa->done(sa->ctx) && sb->done(sb->ctx));
	     it++) {
		vclock = *now + 12345;
		CHECK(mw_loop_step(&la, *now, 0) != MW_LOOP_CLOSE);
		CHECK(mw_loop_step(&lb, *now, 0) != MW_LOOP_CLOSE);
		if (max_pending) {
			struct mw_peer_info pi;
			CHECK(mw_ep_peer_info(a, 0, &pi) == 0);
			CHECK(pi.tx_pending <= max_pending);
		}
		pump(a, &lb, *now, &count);
		pump(b, &la, *now, &count);
		*now += 50000;
	}
}

static void run_pair(enum mw_codec codec, unsigned kind, unsigned n_tensors)
{
	struct mw_ep *a, *b;
	new_pair(&a, &b);

	struct mw_gensink_cfg gc = {
		.gen_n = n_tensors,
		.meta = {.dtype = codec == MW_CODEC_RAW ? MW_DT_U8 : MW_DT_F32,
			 .kind = (uint8_t)kind, .ndim = 3,
			 .dims = {4, 32, 33}},
		.cp = {.codec = codec, .bits = 2, .ratio = 0.9},
		.seed = 42,
	};
	if (codec == MW_CODEC_RAW || codec == MW_CODEC_DENSE)
		gc.cp.bits = 0;
	struct mw_gensink_cfg sc = {.sink = true, .sink_n = n_tensors,
				    .seed = 42};
	struct mw_gensink *ga, *sb;
	CHECK(mw_gensink_new(&gc, &ga) == 0);
	CHECK(mw_gensink_new(&sc, &sb) == 0);
	struct mw_source sa, ssb;
	mw_gensink_source(ga, &sa);
	mw_gensink_source(sb, &ssb);

	uint64_t now;
	run_loops(a, &sa, b, &ssb, 0, &now);
	CHECK(sa.done(sa.ctx));
	CHECK(ssb.done(ssb.ctx));
	CHECK(!sa.busy(sa.ctx));
	CHECK(mw_gensink_verified(sb) == n_tensors);
	CHECK(mw_gensink_mismatched(sb) == 0);
	CHECK(sa.verdict(sa.ctx, false) == 0);
	CHECK(ssb.verdict(ssb.ctx, false) == 0);

	/* A tampered delivery of the next tag is caught. */
	if (codec != MW_CODEC_RAW) {
		uint64_t n = 4 * 32 * 33;
		struct mw_codec_params p = gc.cp;
		float *x = malloc(n * 4), *y = calloc(n, 4);
		uint8_t *enc = malloc((size_t)mw_encode_size(&p, n));
		size_t ss = mw_encode_scratch_size(&p, n);
		void *scr = malloc(ss ? ss : 1);
		struct mw_event ev = {.type = MW_EV_RX_TENSOR, .peer = 0,
				      .meta = gc.meta, .bytes = n * 4};
		ev.meta.tag = n_tensors;
		mw_gensink_fill(x, n, MW_DT_F32, kind, 42, ev.meta.tag);
		int64_t len = mw_encode(&p, x, n, &ev.desc, enc,
					(size_t)mw_encode_size(&p, n), scr, ss);
		CHECK(len > 0);
		CHECK(mw_seg_decode(&ev.desc, 0, n, enc, (size_t)len, y) >= 0);
		/* the untouched one verifies */
		ev.buf = malloc(n * 4);
		memcpy(ev.buf, y, n * 4);
		ssb.event(ssb.ctx, b, &ev, now);
		CHECK(mw_gensink_verified(sb) == n_tensors + 1);
		/* one flipped bit does not */
		ev.meta.tag++;
		mw_gensink_fill(x, n, MW_DT_F32, kind, 42, ev.meta.tag);
		len = mw_encode(&p, x, n, &ev.desc, enc,
				(size_t)mw_encode_size(&p, n), scr, ss);
		memset(y, 0, n * 4);
		CHECK(mw_seg_decode(&ev.desc, 0, n, enc, (size_t)len, y) >= 0);
		ev.buf = malloc(n * 4);
		memcpy(ev.buf, y, n * 4);
		((uint8_t *)ev.buf)[n * 2] ^= 0x10;
		ssb.event(ssb.ctx, b, &ev, now);
		CHECK(mw_gensink_mismatched(sb) == 1);
		/* an old tag is out of order (and still verified) */
		ev.meta.tag = 0;
		mw_gensink_fill(x, n, MW_DT_F32, kind, 42, 0);
		len = mw_encode(&p, x, n, &ev.desc, enc,
				(size_t)mw_encode_size(&p, n), scr, ss);
		memset(y, 0, n * 4);
		CHECK(mw_seg_decode(&ev.desc, 0, n, enc, (size_t)len, y) >= 0);
		ev.buf = malloc(n * 4);
		memcpy(ev.buf, y, n * 4);
		ssb.event(ssb.ctx, b, &ev, now);
		CHECK(ssb.verdict(ssb.ctx, false) != 0);
		free(x);
		free(y);
		free(enc);
		free(scr);
	}
	mw_gensink_free(ga);
	mw_gensink_free(sb);
	mw_ep_free(a);
	mw_ep_free(b);
}

/* --stamp --lockstep against --respond: A sends activations (MS) one at a
 * time, B answers each with a signed-MS gradient carrying the same tag;
 * both sides verify everything, content repeats with period 2, and the
 * latencies (one-way at B, step at A) come from the shared clock, the
 * first `warmup` tensors (and their responses) left out of them. */
static void run_request_response(unsigned n_tensors, unsigned warmup)
{
	struct mw_ep *a, *b;
	new_pair(&a, &b);
	struct mw_tensor_meta act = {.dtype = MW_DT_F32,
				     .kind = MW_KIND_ACTIVATION, .ndim = 2,
				     .dims = {16, 100}};
	struct mw_tensor_meta grad = act;
	grad.kind = MW_KIND_GRADIENT;
	struct mw_gensink_cfg ac = {
		.gen_n = n_tensors, .meta = act,
		.cp = {.codec = MW_CODEC_MS, .bits = 2, .ratio = 0.9},
		.seed = 5, .sink = true, .sink_n = n_tensors,
		.content_period = 2, .stamp = true, .clock_ns = vclock_ns,
		.lockstep = true, .warmup = warmup,
	};
	struct mw_gensink_cfg bc = {
		.meta = grad,
		.cp = {.codec = MW_CODEC_MS_SIGNED, .bits = 2, .ratio = 0.9},
		.seed = 5, .sink = true, .sink_n = n_tensors,
		.content_period = 2, .stamp = true, .clock_ns = vclock_ns,
		.respond = true, .warmup = warmup,
	};
	struct mw_gensink *ga, *gb;
	CHECK(mw_gensink_new(&ac, &ga) == 0);
	CHECK(mw_gensink_new(&bc, &gb) == 0);
	struct mw_source sa, sb;
	mw_gensink_source(ga, &sa);
	mw_gensink_source(gb, &sb);
	/* lockstep: a request goes out once the previous one's response
	 * arrived, which can precede that request's final ACK: at most the
	 * previous and the current one pending. */
	uint64_t now;
	run_loops(a, &sa, b, &sb, 2, &now);
	CHECK(sa.done(sa.ctx) && sb.done(sb.ctx));
	CHECK(mw_gensink_verified(ga) == n_tensors); /* the gradients */
	CHECK(mw_gensink_verified(gb) == n_tensors); /* the activations */
	CHECK(mw_gensink_mismatched(ga) == 0 && mw_gensink_mismatched(gb) == 0);
	CHECK(sa.verdict(sa.ctx, false) == 0 && sb.verdict(sb.ctx, false) == 0);
	/* Latencies are multiples of the 50 us step, at least one step. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	sa.stats_json(sa.ctx, f);
	fclose(f);
	char want[96];
	snprintf(want, sizeof want, "\"latency_ns\": {\"count\": %u,",
		 n_tensors - warmup);
	CHECK(strstr(buf, want) != NULL);
	snprintf(want, sizeof want, "\"warmup\": %u, \"warmup_tensors\": %u,",
		 warmup, warmup);
	CHECK(strstr(buf, want) != NULL);
	snprintf(want, sizeof want, "\"after_warmup_tensors\": %u,",
		 n_tensors - warmup);
	CHECK(strstr(buf, want) != NULL);
	/* the span after the warm-up is there exactly when there was one */
	CHECK((strstr(buf, "\"after_warmup_span_ns\": 0}") != NULL) ==
	      (warmup == 0));
	CHECK(strstr(buf, "\"responses\": 0") != NULL);
	free(buf);
	f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	sb.stats_json(sb.ctx, f);
	fclose(f);
	snprintf(want, sizeof want, "\"responses\": %u", n_tensors);
	CHECK(strstr(buf, want) != NULL);
	snprintf(want, sizeof want, "\"latency_ns\": {\"count\": %u,",
		 n_tensors - warmup);
	CHECK(strstr(buf, want) != NULL);
	CHECK(strstr(buf, "\"min\": 0,") == NULL);
	free(buf);
	mw_gensink_free(ga);
	mw_gensink_free(gb);
	mw_ep_free(a);
	mw_ep_free(b);
}

static void test_fill(void)
{
	float a[1000], b[1000];
	mw_gensink_fill(a, 1000, MW_DT_F32, MW_KIND_ACTIVATION, 7, 3);
	mw_gensink_fill(b, 1000, MW_DT_F32, MW_KIND_ACTIVATION, 7, 3);
	CHECK(memcmp(a, b, sizeof a) == 0);
	int zeros = 0;
	for (int i = 0; i < 1000; i++) {
		CHECK(a[i] >= 0.0f);
		zeros += a[i] == 0.0f;
	}
	CHECK(zeros > 300 && zeros < 500);
	mw_gensink_fill(b, 1000, MW_DT_F32, MW_KIND_ACTIVATION, 7, 4);
	CHECK(memcmp(a, b, sizeof a) != 0);
	mw_gensink_fill(b, 1000, MW_DT_F32, MW_KIND_ACTIVATION, 8, 3);
	CHECK(memcmp(a, b, sizeof a) != 0);
	mw_gensink_fill(b, 1000, MW_DT_F32, MW_KIND_GRADIENT, 7, 3);
	int neg = 0;
	for (int i = 0; i < 1000; i++)
		neg += b[i] < 0;
	CHECK(neg > 400 && neg < 600);
}

int main(void)
{
	test_fill();
	run_pair(MW_CODEC_MS, MW_KIND_ACTIVATION, 30);
	run_pair(MW_CODEC_MS_SIGNED, MW_KIND_GRADIENT, 20);
	run_pair(MW_CODEC_DENSE, MW_KIND_LOGITS, 10);
	run_pair(MW_CODEC_RAW, MW_KIND_LABELS, 10);
	run_request_response(12, 0);
	run_request_response(12, 3);
	return mw_test_exit("test_gensink");
}
