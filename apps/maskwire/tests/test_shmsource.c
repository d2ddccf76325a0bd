/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit test for shmsource.c: two transport endpoints in process, each
 * with a shared-memory source and its own mw_loop, joined by a perfect
 * virtual link and run by a thread in virtual time; a libmaskwire client
 * (dataplane/shm/maskwire.c) on each region. Tensors sent by one client
 * reach the other bit for bit (decode(encode(x)) for MS), outcomes come
 * back, a tensor the transport rejects is a failed completion, and the
 * close sequence at the end shuts the clients out.
 */
#include "shmsource.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maskwire.h"
#include "mw_loop.h"
#include "mw_test.h"

#define N_TENSORS 12
#define ELEMS 1000

struct side {
	char name[64];
	struct mw_ep *ep;
	struct mw_shmsrc *shm;
	struct mw_source src;
	struct mw_loop lp;
};

static struct side side[2];
static atomic_int stop;

static void side_new(struct side *s, const char *what, uint32_t inc)
{
	struct mw_shmsrc_cfg sc = { .name = s->name };
	struct mw_ep_config c;

	snprintf(s->name, sizeof s->name, "mwtest-shmsrc-%s-%ld", what,
		 (long)getpid());
	mw_shm_cfg_default(&sc.shm);
	sc.shm.geom.ring_size = 64;
	sc.shm.geom.slot_size = 1024;
	sc.shm.geom.tx_slots = 128;
	sc.shm.geom.rx_slots = 128;
	CHECK(mw_shmsrc_new(&sc, &s->shm) == 0);
	mw_shmsrc_source(s->shm, &s->src);
	mw_ep_config_default(&c);
	c.max_peers = 1;
	c.incarnation = inc;
	c.rx_alloc = s->src.rx_alloc;
	CHECK(mw_ep_new(&c, &s->ep) == 0);
	CHECK(mw_ep_add_peer(s->ep) == 0);
}

/* Everything from has goes to to's peer 0. */
static void pump(struct side *from, struct side *to, uint64_t now)
{
	uint8_t buf[1500];
	uint16_t peer;
	int n;
	while ((n = mw_ep_send(from->ep, now, buf, sizeof buf, &peer)) > 0)
		mw_loop_recv(&to->lp, 0, buf, (size_t)n, now);
}

/* The two data planes: 50 us of virtual time per iteration, until told to
 * stop; then the close sequence, and the CLOSEs delivered. */
static void *run_dp(void *arg)
{
	const uint16_t peers[1] = { 0 };
	const struct timespec nap = { 0, 20000 };
	uint64_t now = 1000000000ull;
	(void)arg;
	for (int k = 0; k < 2; k++)
		mw_loop_init(&side[k].lp,
			     &(struct mw_loop_cfg){ .ep = side[k].ep,
						    .src = &side[k].src,
						    .peers = peers,
						    .npeers = 1 },
			     now);
	while (!atomic_load(&stop)) {
		for (int k = 0; k < 2; k++)
			CHECK(mw_loop_step(&side[k].lp, now, 0) == MW_LOOP_RUN);
		pump(&side[0], &side[1], now);
		pump(&side[1], &side[0], now);
		now += 50000;
		nanosleep(&nap, NULL);
	}
	for (int k = 0; k < 2; k++)
		mw_loop_close(&side[k].lp, now);
	pump(&side[0], &side[1], now);
	pump(&side[1], &side[0], now);
	for (int k = 0; k < 2; k++)
		mw_loop_step(&side[k].lp, now, 0);
	return NULL;
}

static void fill(float *x, unsigned n, unsigned tag)
{
	for (unsigned i = 0; i < n; i++)
		x[i] = (i * 7 + tag) % 5 == 0 ? 0.0f
					      : (float)((i + tag) % 97) / 8;
}

/* What the receiver must get for tensor tag of codec: exact for DENSE and
 * RAW, decode(encode(x)) for MS. */
static void expect(unsigned codec, unsigned tag, float *want)
{
	float x[ELEMS];
	fill(x, ELEMS, tag);
	if (codec != MW_CODEC_MS) {
		memcpy(want, x, sizeof x);
		return;
	}
	struct mw_codec_params p = { .codec = MW_CODEC_MS,
				     .bits = 2,
				     .ratio = 0.9 };
	struct mw_codec_desc d;
	int64_t cap = mw_encode_size(&p, ELEMS);
	size_t ss = mw_encode_scratch_size(&p, ELEMS);
	uint8_t *enc = malloc((size_t)cap);
	void *scr = malloc(ss ? ss : 1);
	int64_t len = mw_encode(&p, x, ELEMS, &d, enc, (size_t)cap, scr, ss);
	CHECK(len > 0);
	memset(want, 0, ELEMS * sizeof(float));
	CHECK(mw_seg_decode(&d, 0, ELEMS, enc, (size_t)len, want) >= 0);
	free(enc);
	free(scr);
}

static unsigned codec_of(unsigned tag)
{
	static const unsigned c[3] = { MW_CODEC_DENSE, MW_CODEC_MS,
				       MW_CODEC_RAW };
	return c[tag % 3];
}

static int64_t send_one(struct mw_client *c, unsigned tag, bool nan)
{
	struct mw_client_meta m = { .tag = tag,
				    .ndim = 1,
				    .dims = { ELEMS },
				    .dtype = MW_DT_F32,
				    .kind = MW_SHM_KIND_ACTIVATION,
				    .codec = (uint8_t)codec_of(tag) };
	struct mw_client_buf b;
	if (m.codec == MW_CODEC_MS) {
		m.bits = 2;
		m.ratio = 0.9;
	} else if (m.codec == MW_CODEC_RAW) {
		m.dtype = MW_DT_U8;
		m.dims[0] = ELEMS * 4; /* the float bytes, as bytes */
		m.kind = MW_SHM_KIND_OTHER;
	}
	CHECK(mw_client_alloc(c, ELEMS * 4, 5000, &b) == 0);
	fill(b.data, ELEMS, tag);
	if (nan)
		((float *)b.data)[3] = NAN;
	int64_t cookie = mw_client_send(c, &b, &m, 5000);
	CHECK(cookie > 0);
	return cookie;
}

static void check_rx(struct mw_client *c, unsigned tag)
{
	struct mw_client_rx rx;
	float want[ELEMS];
	CHECK(mw_client_recv(c, &rx, 5000) == 0);
	CHECK_EQ(rx.meta.tag, tag);
	CHECK_EQ(rx.meta.codec, codec_of(tag));
	CHECK_EQ(rx.buf.len, ELEMS * 4);
	expect(codec_of(tag), tag, want);
	CHECK(rx.buf.len == ELEMS * 4 &&
	      memcmp(rx.buf.data, want, sizeof want) == 0);
	CHECK(mw_client_release(c, &rx.buf) == 0);
}

static bool json_has(struct side *s, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	s->src.stats_json(s->src.ctx, f);
	fclose(f);
	bool ok = strstr(buf, what) != NULL;
	if (!ok)
		fprintf(stderr, "test_shmsource: no '%s' in %s\n", what, buf);
	free(buf);
	return ok;
}

int main(void)
{
	struct mw_client *ca = NULL, *cb = NULL;
	int64_t cookie[N_TENSORS];
	pthread_t t;
	int status;

	side_new(&side[0], "a", 11);
	side_new(&side[1], "b", 22);
	atomic_init(&stop, 0);
	CHECK(pthread_create(&t, NULL, run_dp, NULL) == 0);
	CHECK(mw_client_attach(side[0].name, NULL, &ca) == 0);
	CHECK(mw_client_attach(side[1].name, NULL, &cb) == 0);
	if (!ca || !cb) {
		atomic_store(&stop, 1);
		pthread_join(t, NULL);
		return mw_test_exit("test_shmsource");
	}

	/* A to B: every codec, in order, each outcome reported */
	for (unsigned i = 0; i < N_TENSORS; i++)
		cookie[i] = send_one(ca, i, false);
	for (unsigned i = 0; i < N_TENSORS; i++)
		check_rx(cb, i);
	for (unsigned i = 0; i < N_TENSORS; i++) {
		CHECK(mw_client_wait(ca, cookie[i], 5000, &status) == 0);
		CHECK_EQ(status, 0);
	}
	/* B to A */
	int64_t back = send_one(cb, 100, false);
	check_rx(ca, 100);
	CHECK(mw_client_wait(cb, back, 5000, &status) == 0);
	CHECK_EQ(status, 0);
	/* a tensor MS cannot encode (NaN): rejected, reported as such */
	int64_t bad = send_one(ca, 1, true);
	CHECK(mw_client_wait(ca, bad, 5000, &status) == 0);
	CHECK_EQ(status, MW_ENONFINITE);

	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	CHECK(json_has(&side[0], "\"submitted\": 12, \"done\": 12, "
				 "\"failed\": 0, \"rejected\": 1"));
	CHECK(json_has(&side[1], "\"delivered\": 12, \"deliver_errors\": 0"));
	CHECK(json_has(&side[0], "\"delivered\": 1, \"deliver_errors\": 0"));
	for (int k = 0; k < 2; k++) {
		mw_ep_free(side[k].ep);
		mw_shmsrc_free(side[k].shm);
	}
	CHECK_EQ(mw_client_check(ca), MW_ESHUTDOWN);
	CHECK_EQ(mw_client_check(cb), MW_ESHUTDOWN);
	mw_client_detach(ca);
	mw_client_detach(cb);
	return mw_test_exit("test_shmsource");
}
