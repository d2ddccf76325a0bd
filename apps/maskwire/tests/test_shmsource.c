/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit test for shmsource.c: two transport endpoints in process, each
 * with a shared-memory source and its own mw_loop, joined by a perfect
 * virtual link and run by a thread in virtual time; a libmaskwire client
 * (dataplane/shm/maskwire.c) on each region. Tensors sent by one client
 * reach the other bit for bit (decode(encode(x)) for MS), outcomes come
 * back, a tensor the transport rejects is a failed completion, and the
 * close sequence at the end shuts the clients out.
 *
 * Then, single-threaded in virtual time, a server with no configured peer
 * and accept slots (the data plane's part - a HELLO from an unknown
 * device takes a slot, a reclaim frees it - done here as mw_dp_peers.c
 * does, through mw_source.peer): devices' tensors reach the app with
 * their slot index and generation, replies reach the right device, and a
 * slot that changed hands refuses a reply meant for the device before.
 * (Several I/O lcores on one region: test_shmsource_lcores.c.)
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
#include "mw_wire.h"
#include "shmdev.h"

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
	return json_has_src(&s->src, what);
}

/* ---- accepted peers ----------------------------------------------------- */

struct srv {
	char name[64];
	struct mw_ep *ep;
	struct mw_shmsrc *shm;
	struct mw_source src;
	struct mw_loop lp;
	struct dev *slot[ACC_SLOTS]; /* the data plane's accept slots */
};

/* One datagram of a device to the server: a device without a slot is
 * accepted on a HELLO (mw_dp_peer_accept()'s order: a free slot, the core
 * takes the HELLO, then the source is told). */
static void srv_from_dev(struct srv *sv, struct dev *d, const uint8_t *u, int n,
			 uint64_t now)
{
	if (d->slot < 0) {
		unsigned i = 0;
		while (i < ACC_SLOTS && sv->slot[i])
			i++;
		if (i == ACC_SLOTS || n < (int)MW_WIRE_HDR_LEN ||
		    u[MW_OFF_TYPE] != MW_PT_HELLO)
			return;
		int id = mw_ep_add_peer(sv->ep);
		CHECK(id >= 0);
		CHECK(mw_loop_recv(&sv->lp, (uint16_t)id, u, (size_t)n, now) ==
		      0);
		d->slot = (int)i;
		d->core = (uint16_t)id;
		sv->slot[i] = d;
		sv->src.peer(sv->src.ctx, i, d->core, d->ip, 47000, true);
		return;
	}
	mw_loop_recv(&sv->lp, d->core, u, (size_t)n, now);
}

/* The data plane reclaims a device's slot (mw_dp_peers.c reclaim()). */
static void srv_reclaim(struct srv *sv, struct dev *d, uint64_t now)
{
	CHECK(mw_ep_remove_peer(sv->ep, d->core, now) == 0);
	sv->slot[d->slot] = NULL;
	sv->src.peer(sv->src.ctx, (unsigned)d->slot, d->core, d->ip, 47000,
		     false);
	d->slot = -1;
}

/* One iteration of everything over a perfect link, 50 us later. */
static void acc_step(struct srv *sv, struct dev **devs, unsigned ndev,
		     uint64_t *now)
{
	uint8_t buf[1500];
	uint16_t peer;
	int n;
	CHECK(mw_loop_step(&sv->lp, *now, 0) == MW_LOOP_RUN);
	for (unsigned k = 0; k < ndev; k++) {
		CHECK(mw_loop_step(&devs[k]->lp, *now, 0) == MW_LOOP_RUN);
		while ((n = mw_ep_send(devs[k]->ep, *now, buf, sizeof buf,
				       &peer)) > 0)
			srv_from_dev(sv, devs[k], buf, n, *now);
	}
	while ((n = mw_ep_send(sv->ep, *now, buf, sizeof buf, &peer)) > 0)
		for (unsigned k = 0; k < ndev; k++)
			if (devs[k]->slot >= 0 && devs[k]->core == peer)
				mw_loop_recv(&devs[k]->lp, 0, buf, (size_t)n,
					     *now);
	*now += 50000;
}

/* Step until the app has a delivery (in rx) or 2 s of virtual time. */
static int acc_recv(struct srv *sv, struct dev **devs, unsigned ndev,
		    uint64_t *now, struct mw_client *c, struct mw_client_rx *rx)
{
	for (int i = 0; i < 40000; i++) {
		int rc = mw_client_recv(c, rx, 0);
		if (rc != MW_EAGAIN)
			return rc;
		acc_step(sv, devs, ndev, now);
	}
	return MW_ETIMEDOUT;
}

/* Send from the app to index peer / generation gen and step until its
 * outcome; returns the status. */
static int acc_reply(struct srv *sv, struct dev **devs, unsigned ndev,
		     uint64_t *now, struct mw_client *c, uint16_t peer,
		     uint32_t gen, uint64_t tag)
{
	int status = 1;
	int64_t ck = app_send(c, peer, gen, tag, 0);
	for (int i = 0; i < 40000 && status == 1; i++) {
		if (mw_client_wait(c, ck, 0, &status) != 0)
			status = 1;
		acc_step(sv, devs, ndev, now);
	}
	return status;
}

static void test_accepted(void)
{
	struct mw_shmsrc_cfg sc = { .accept_slots = ACC_SLOTS };
	struct dev d1, d2, d3;
	struct dev *devs[3] = { &d1, &d2, &d3 };
	struct mw_client_peer p[4];
	struct mw_client_rx rx;
	struct mw_client *c = NULL;
	struct mw_ep_config ec;
	uint64_t now = 1000000000ull;
	struct srv sv;

	memset(&sv, 0, sizeof sv);
	snprintf(sv.name, sizeof sv.name, "mwtest-shmsrc-acc-%ld",
		 (long)getpid());
	sc.name = sv.name;
	mw_shm_cfg_default(&sc.shm);
	sc.shm.geom.ring_size = 16;
	sc.shm.geom.slot_size = 1024;
	sc.shm.geom.tx_slots = 16;
	sc.shm.geom.rx_slots = 16;
	sc.shm.geom.peer_cap = 1; /* the source makes room for its slots */
	CHECK(mw_shmsrc_new(&sc, &sv.shm) == 0);
	mw_shmsrc_source(sv.shm, &sv.src);
	CHECK(sv.src.peer != NULL);
	mw_ep_config_default(&ec);
	ec.max_peers = ACC_SLOTS;
	ec.incarnation = 5;
	ec.rx_alloc = sv.src.rx_alloc;
	CHECK(mw_ep_new(&ec, &sv.ep) == 0);
	mw_loop_init(&sv.lp,
		     &(struct mw_loop_cfg){ .ep = sv.ep, .src = &sv.src }, now);
	dev_new(&d1, 0x0a090101u, 101, now);
	dev_new(&d2, 0x0a090102u, 102, now);
	/* the app attaches (in a thread: it waits for the loop to take it) */
	{
		struct attacher at = { .name = sv.name };
		pthread_t t;
		atomic_init(&at.done, 0);
		CHECK(pthread_create(&t, NULL, attach_run, &at) == 0);
		for (int i = 0; i < 200000 && !atomic_load(&at.done); i++) {
			acc_step(&sv, devs, 2, &now);
			if (i % 64 == 0)
				usleep(100);
		}
		pthread_join(t, NULL);
		CHECK_EQ(at.rc, 0);
		if (at.rc)
			return;
		c = at.c;
	}
	CHECK_EQ(mw_client_peers(c, p, 4), 0); /* nobody yet */

	/* two devices: slot 0 and 1, generation 1 each, their addresses */
	dev_send(&d1, 1, now);
	CHECK_EQ(acc_recv(&sv, devs, 2, &now, c, &rx), 0);
	CHECK_EQ(rx.meta.tag, 1);
	CHECK_EQ(rx.meta.peer, 0);
	CHECK_EQ(rx.meta.peer_gen, 1);
	CHECK(mw_client_release(c, &rx.buf) == 0);
	dev_send(&d2, 2, now);
	CHECK_EQ(acc_recv(&sv, devs, 2, &now, c, &rx), 0);
	CHECK_EQ(rx.meta.tag, 2);
	CHECK_EQ(rx.meta.peer, 1);
	CHECK_EQ(rx.meta.peer_gen, 1);
	CHECK(mw_client_release(c, &rx.buf) == 0);
	CHECK_EQ(mw_client_peers(c, p, 4), 2);
	CHECK_EQ(p[0].flags, MW_CLIENT_PEER_ACCEPTED);
	CHECK_EQ(p[0].gen, 1);
	CHECK_EQ(p[0].ip[3], 1);
	CHECK_EQ(p[0].port, 47000);
	CHECK_EQ(p[1].ip[3], 2);
	CHECK(p[0].state == MW_CLIENT_PEER_CONNECTING ||
	      p[0].state == MW_CLIENT_PEER_UP);

	/* the reply to the second goes to it, and only to it */
	CHECK_EQ(acc_reply(&sv, devs, 2, &now, c, 1, 1, 20), 0);
	CHECK_EQ(d2.rx_n, 1);
	CHECK_EQ(d2.rx_tags[0], 20);
	CHECK_EQ(d1.rx_n, 0);
	/* no generation for an accepted index; an index with no peer */
	CHECK_EQ(acc_reply(&sv, devs, 2, &now, c, 0, 0, 21), MW_ESTALE);
	CHECK_EQ(acc_reply(&sv, devs, 2, &now, c, 2, 0, 22), MW_ENOENT);
	CHECK_EQ(d1.rx_n, 0);

	/* the first device is reclaimed; a third takes its slot with the
	 * next generation (and its core peer id) */
	uint16_t old_core = d1.core;
	srv_reclaim(&sv, &d1, now);
	CHECK_EQ(mw_client_peers(c, p, 4), 2);
	CHECK_EQ(p[0].state, MW_CLIENT_PEER_NONE);
	CHECK_EQ(acc_reply(&sv, devs, 2, &now, c, 0, 1, 23), MW_ENOENT);
	dev_new(&d3, 0x0a090103u, 103, now);
	devs[0] = &d3; /* d1 is gone: no longer stepped */
	dev_send(&d3, 3, now);
	CHECK_EQ(acc_recv(&sv, devs, 2, &now, c, &rx), 0);
	CHECK_EQ(rx.meta.tag, 3);
	CHECK_EQ(rx.meta.peer, 0);
	CHECK_EQ(rx.meta.peer_gen, 2);
	CHECK(mw_client_release(c, &rx.buf) == 0);
	CHECK_EQ(d3.core, old_core);
	CHECK_EQ(mw_client_peers(c, p, 4), 2);
	CHECK_EQ(p[0].gen, 2);
	CHECK_EQ(p[0].ip[3], 3);
	/* a reply meant for the first device does not reach the third */
	CHECK_EQ(acc_reply(&sv, devs, 2, &now, c, 0, 1, 24), MW_ESTALE);
	CHECK_EQ(d3.rx_n, 0);
	CHECK_EQ(acc_reply(&sv, devs, 2, &now, c, 0, 2, 25), 0);
	CHECK_EQ(d3.rx_n, 1);
	CHECK_EQ(d3.rx_tags[0], 25);
	CHECK_EQ(d1.rx_n, 0);
	CHECK_EQ(d2.rx_n, 1);
	CHECK(json_has_src(&sv.src, "\"bad_peer\": 2, \"stale_peer\": 2"));
	CHECK(json_has_src(&sv.src, "\"unknown_source\": 0, "
				    "\"peers_up\": 3, \"peers_down\": 1"));

	mw_client_detach(c);
	mw_ep_free(sv.ep);
	mw_shmsrc_free(sv.shm);
	mw_ep_free(d1.ep);
	mw_ep_free(d2.ep);
	mw_ep_free(d3.ep);
}

static void test_pair(void)
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
		return;
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
}

int main(void)
{
	test_pair();
	test_accepted();
	return mw_test_exit("test_shmsource");
}
