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
 *
 * Then one region served by two I/O lcores (two endpoints, each with its
 * loop and its lcore's source, run by turns in one thread), configured
 * peer i on lcore i % 2 and an accepted one on lcore 1: deliveries from
 * both carry the run's peer index, the app's sends reach the right
 * device through its lcore's endpoint only (even while the other lcore
 * alone runs: it queues them for their owner), and a full window on one
 * lcore holds back no send to the other's peers. Then the same with a
 * thread per lcore running at once (each its loop and its devices), the
 * app answering every device: each reply reaches its device, in order
 * (a ThreadSanitizer build of this test checks the source's lock).
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

static bool json_has_src(struct mw_source *src, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	src->stats_json(src->ctx, f);
	fclose(f);
	bool ok = strstr(buf, what) != NULL;
	if (!ok)
		fprintf(stderr, "test_shmsource: no '%s' in %s\n", what, buf);
	free(buf);
	return ok;
}

static bool json_has(struct side *s, const char *what)
{
	return json_has_src(&s->src, what);
}

/* ---- accepted peers ----------------------------------------------------- */

#define ACC_SLOTS 2u
#define ACC_ELEMS 64u

/* A device: an endpoint with one peer (the server) in its own loop; what
 * it receives and the outcomes of its sends are recorded. */
struct dev {
	struct mw_ep *ep;
	struct mw_source src;
	struct mw_loop lp;
	uint32_t ip;
	int slot;      /* its slot at the server, -1 none */
	uint16_t core; /* its core peer id at the server */
	unsigned lc;   /* the server's I/O lcore that owns it (test_lcores) */
	bool hold;     /* its frames are lost, both ways (test_lcores) */
	uint64_t rx_tags[8];
	unsigned rx_n, tx_done, tx_failed;
};

struct srv {
	char name[64];
	struct mw_ep *ep;
	struct mw_shmsrc *shm;
	struct mw_source src;
	struct mw_loop lp;
	struct dev *slot[ACC_SLOTS]; /* the data plane's accept slots */
};

static void dev_event(void *ctx, const struct mw_event *ev, uint64_t now)
{
	struct dev *d = ctx;
	(void)now;
	if (ev->type == MW_EV_RX_TENSOR && d->rx_n < 8)
		d->rx_tags[d->rx_n++] = ev->meta.tag;
	else if (ev->type == MW_EV_TX_DONE)
		d->tx_done++;
	else if (ev->type == MW_EV_TX_FAILED)
		d->tx_failed++;
}

static void dev_new(struct dev *d, uint32_t ip, uint32_t inc, uint64_t now)
{
	static const uint16_t one[1] = { 0 };
	struct mw_ep_config c;
	memset(d, 0, sizeof(*d));
	d->ip = ip;
	d->slot = -1;
	mw_ep_config_default(&c);
	c.max_peers = 1;
	c.incarnation = inc;
	CHECK(mw_ep_new(&c, &d->ep) == 0);
	CHECK(mw_ep_add_peer(d->ep) == 0);
	d->src.name = "device";
	mw_loop_init(&d->lp,
		     &(struct mw_loop_cfg){ .ep = d->ep,
					    .src = &d->src,
					    .peers = one,
					    .npeers = 1,
					    .on_event = dev_event,
					    .on_event_ctx = d },
		     now);
}

static void dev_send(struct dev *d, uint64_t tag, uint64_t now)
{
	float x[ACC_ELEMS];
	struct mw_tensor_meta m = { .dtype = MW_DT_F32,
				    .kind = MW_KIND_ACTIVATION,
				    .ndim = 1,
				    .dims = { ACC_ELEMS },
				    .tag = tag };
	struct mw_codec_params cp = { .codec = MW_CODEC_DENSE };
	fill(x, ACC_ELEMS, (unsigned)tag);
	CHECK(mw_ep_submit(d->ep, 0, &m, &cp, x, sizeof x, 0, now, NULL) == 0);
}

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
	struct mw_client_meta m = { .tag = tag,
				    .ndim = 1,
				    .dims = { ACC_ELEMS },
				    .dtype = MW_DT_F32,
				    .kind = MW_SHM_KIND_GRADIENT,
				    .peer = peer,
				    .peer_gen = gen };
	struct mw_client_buf b;
	int status = 1;
	CHECK(mw_client_alloc(c, ACC_ELEMS * 4, 0, &b) == 0);
	fill(b.data, ACC_ELEMS, (unsigned)tag);
	int64_t ck = mw_client_send(c, &b, &m, 0);
	CHECK(ck > 0);
	for (int i = 0; i < 40000 && status == 1; i++) {
		if (mw_client_wait(c, ck, 0, &status) != 0)
			status = 1;
		acc_step(sv, devs, ndev, now);
	}
	return status;
}

struct attacher {
	const char *name;
	struct mw_client *c;
	int rc;
	atomic_int done;
};

static void *attach_run(void *arg)
{
	struct attacher *at = arg;
	at->rc = mw_client_attach(at->name, NULL, &at->c);
	atomic_store(&at->done, 1);
	return NULL;
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

/* ---- several I/O lcores ------------------------------------------------- */

#define LC_N 2u      /* I/O lcores */
#define LC_CONF 4u   /* configured devices: device i on lcore i % 2 */
#define LC_ACCEPT 2u /* accept slots: one per lcore (global 4 and 5) */
#define LC_WINDOW 2u /* the server's window per peer */

struct lcsrv {
	char name[64];
	struct mw_shmsrc *shm;
	struct {
		struct mw_ep *ep;
		struct mw_source src;
		struct mw_loop lp;
		uint64_t tx; /* datagrams its endpoint sent */
	} lc[LC_N];
	struct mw_source all; /* the whole source (stats) */
};

/* The accepted device is lcore 1's: its first accept slot is the run's
 * LC_CONF + (lcore 0's share) = 5. */
#define LC_ACC_INDEX (LC_CONF + LC_ACCEPT / LC_N)

/* One turn of the lcores in run_mask and their devices, 50 us later; the
 * others wait (nothing of theirs is touched: a thread per lcore may run
 * this with its own bit). */
static void lc_step(struct lcsrv *sv, struct dev **devs, unsigned ndev,
		    unsigned run_mask, uint64_t *now)
{
	uint8_t buf[1500];
	uint16_t peer;
	int n;
	for (unsigned k = 0; k < LC_N; k++)
		if (run_mask >> k & 1)
			CHECK(mw_loop_step(&sv->lc[k].lp, *now, 0) ==
			      MW_LOOP_RUN);
	for (unsigned i = 0; i < ndev; i++) {
		struct dev *d = devs[i];
		if (!(run_mask >> d->lc & 1))
			continue; /* its lcore's turn (or thread) steps it */
		CHECK(mw_loop_step(&d->lp, *now, 0) == MW_LOOP_RUN);
		while ((n = mw_ep_send(d->ep, *now, buf, sizeof buf, &peer)) >
		       0) {
			if (d->hold)
				continue;
			if (d->slot >= 0) {
				mw_loop_recv(&sv->lc[d->lc].lp, d->core, buf,
					     (size_t)n, *now);
				continue;
			}
			/* its HELLO takes lcore d->lc's accept slot, as
			 * mw_dp_peer_accept() does: the core takes it, then
			 * the lcore's source is told its run-wide index */
			if (n < (int)MW_WIRE_HDR_LEN ||
			    buf[MW_OFF_TYPE] != MW_PT_HELLO)
				continue;
			int id = mw_ep_add_peer(sv->lc[d->lc].ep);
			CHECK(id >= 0);
			CHECK(mw_loop_recv(&sv->lc[d->lc].lp, (uint16_t)id, buf,
					   (size_t)n, *now) == 0);
			d->slot = LC_ACC_INDEX;
			d->core = (uint16_t)id;
			struct mw_source *ls = &sv->lc[d->lc].src;
			ls->peer(ls->ctx, LC_ACC_INDEX, d->core, d->ip, 47000,
				 true);
		}
	}
	for (unsigned k = 0; k < LC_N; k++) {
		if (!(run_mask >> k & 1))
			continue;
		while ((n = mw_ep_send(sv->lc[k].ep, *now, buf, sizeof buf,
				       &peer)) > 0) {
			sv->lc[k].tx++;
			for (unsigned i = 0; i < ndev; i++)
				if (devs[i]->lc == k && devs[i]->slot >= 0 &&
				    devs[i]->core == peer && !devs[i]->hold)
					mw_loop_recv(&devs[i]->lp, 0, buf,
						     (size_t)n, *now);
		}
	}
	*now += 50000;
}

/* The app sends tag to index peer (generation gen): its cookie. */
static int64_t lc_send(struct mw_client *c, uint32_t peer, uint32_t gen,
		       uint64_t tag)
{
	struct mw_client_meta m = { .tag = tag,
				    .ndim = 1,
				    .dims = { ACC_ELEMS },
				    .dtype = MW_DT_F32,
				    .kind = MW_SHM_KIND_GRADIENT,
				    .peer = peer,
				    .peer_gen = gen };
	struct mw_client_buf b;
	CHECK(mw_client_alloc(c, ACC_ELEMS * 4, 5000, &b) == 0);
	fill(b.data, ACC_ELEMS, (unsigned)tag);
	int64_t ck = mw_client_send(c, &b, &m, 5000);
	CHECK(ck > 0);
	return ck;
}

/* Step (lcores of run_mask) until the send's outcome, at most steps
 * turns: its status, 1 if none came. */
static int lc_wait(struct lcsrv *sv, struct dev **devs, unsigned ndev,
		   unsigned run_mask, unsigned steps, uint64_t *now,
		   struct mw_client *c, int64_t ck)
{
	int status = 1;
	for (unsigned i = 0; i < steps; i++) {
		if (mw_client_wait(c, ck, 0, &status) == 0)
			return status;
		lc_step(sv, devs, ndev, run_mask, now);
	}
	return 1;
}

static bool lc_json(struct lcsrv *sv, const char *what)
{
	return json_has_src(&sv->all, what);
}

/* The server (two lcores' endpoints and loops, one region), its devices
 * and the app attached: the app, or NULL. */
static struct mw_client *lc_new(struct lcsrv *sv, struct dev *dv,
				struct dev **devs, const char *what,
				uint64_t *pnow)
{
	struct mw_shmsrc_peer addr[LC_CONF];
	struct mw_shmsrc_cfg sc = { .peers = addr,
				    .npeers = LC_CONF,
				    .accept_slots = LC_ACCEPT,
				    .lcores = LC_N };
	struct mw_client *c = NULL;
	uint64_t now = *pnow;
	const unsigned ndev = LC_CONF + 1, all = (1u << LC_N) - 1;

	memset(sv, 0, sizeof(*sv));
	snprintf(sv->name, sizeof sv->name, "mwtest-shmsrc-%s-%ld", what,
		 (long)getpid());
	sc.name = sv->name;
	mw_shm_cfg_default(&sc.shm);
	sc.shm.geom.ring_size = 16;
	sc.shm.geom.slot_size = 1024;
	sc.shm.geom.tx_slots = 32;
	sc.shm.geom.rx_slots = 32;
	for (unsigned i = 0; i < LC_CONF; i++)
		addr[i] =
			(struct mw_shmsrc_peer){ 0x0a090300u + 10 + i, 47000 };
	sc.lcores = MW_SHMSRC_MAX_LCORES + 1;
	CHECK_EQ(mw_shmsrc_new(&sc, &sv->shm), MW_EINVAL);
	sc.lcores = LC_N;
	CHECK(mw_shmsrc_new(&sc, &sv->shm) == 0);
	if (!sv->shm)
		return NULL;
	mw_shmsrc_source(sv->shm, &sv->all);
	CHECK(sv->all.poll == NULL); /* only speaks for them all */
	CHECK_EQ(mw_shmsrc_lcore_source(sv->shm, LC_N, &sv->lc[0].src),
		 MW_EINVAL);
	for (unsigned k = 0; k < LC_N; k++) {
		struct mw_ep_config ec;
		static const uint16_t ids[2] = { 0, 1 };
		CHECK(mw_shmsrc_lcore_source(sv->shm, k, &sv->lc[k].src) == 0);
		mw_ep_config_default(&ec);
		ec.max_peers = LC_CONF / LC_N + LC_ACCEPT / LC_N;
		ec.window = LC_WINDOW;
		ec.incarnation = 50 + k;
		ec.rx_alloc = sv->lc[k].src.rx_alloc;
		CHECK(mw_ep_new(&ec, &sv->lc[k].ep) == 0);
		/* its configured peers: device k, k + 2 (core ids 0, 1) */
		for (unsigned j = 0; j < LC_CONF / LC_N; j++)
			CHECK(mw_ep_add_peer(sv->lc[k].ep) == (int)j);
		mw_loop_init(&sv->lc[k].lp,
			     &(struct mw_loop_cfg){ .ep = sv->lc[k].ep,
						    .src = &sv->lc[k].src,
						    .peers = ids,
						    .npeers = LC_CONF / LC_N },
			     now);
	}
	for (unsigned i = 0; i < ndev; i++) {
		devs[i] = &dv[i];
		dev_new(&dv[i], 0x0a090300u + 10 + i, 200 + i, now);
		if (i < LC_CONF) {
			dv[i].slot = (int)i;
			dv[i].lc = i % LC_N;
			dv[i].core = (uint16_t)(i / LC_N);
		} else {
			dv[i].lc = 1; /* accepted: the lcore it hashes to */
		}
	}
	{
		struct attacher at = { .name = sv->name };
		pthread_t t;
		atomic_init(&at.done, 0);
		CHECK(pthread_create(&t, NULL, attach_run, &at) == 0);
		for (int i = 0; i < 200000 && !atomic_load(&at.done); i++) {
			lc_step(sv, devs, ndev, all, &now);
			if (i % 64 == 0)
				usleep(100);
		}
		pthread_join(t, NULL);
		CHECK_EQ(at.rc, 0);
		c = at.c;
	}
	*pnow = now;
	return c;
}

static void lc_free(struct lcsrv *sv, struct mw_client *c, struct dev *dv)
{
	mw_client_detach(c);
	for (unsigned k = 0; k < LC_N; k++)
		mw_ep_free(sv->lc[k].ep);
	mw_shmsrc_free(sv->shm);
	for (unsigned i = 0; i < LC_CONF + 1; i++)
		mw_ep_free(dv[i].ep);
}

static void test_lcores(void)
{
	struct dev dv[LC_CONF + 1];
	struct dev *devs[LC_CONF + 1];
	struct mw_client_peer p[8];
	uint64_t now = 1000000000ull;
	struct lcsrv sv;
	const unsigned ndev = LC_CONF + 1, all = (1u << LC_N) - 1;
	struct mw_client *c = lc_new(&sv, dv, devs, "lc", &now);
	if (!c)
		return;

	/* every device sends one: each arrives with its run-wide index */
	for (unsigned i = 0; i < ndev; i++)
		dev_send(&dv[i], 10 + i, now);
	unsigned got = 0;
	for (int t = 0; t < 40000 && got < ndev; t++) {
		struct mw_client_rx rx;
		if (mw_client_recv(c, &rx, 0) != 0) {
			lc_step(&sv, devs, ndev, all, &now);
			continue;
		}
		unsigned i = (unsigned)rx.meta.tag - 10;
		CHECK(i < ndev);
		CHECK_EQ(rx.meta.peer, i < LC_CONF ? i : LC_ACC_INDEX);
		CHECK_EQ(rx.meta.peer_gen, 1);
		CHECK(mw_client_release(c, &rx.buf) == 0);
		got++;
	}
	CHECK_EQ(got, ndev);
	CHECK_EQ(mw_client_peers(c, p, 8), LC_ACC_INDEX + 1);
	for (unsigned i = 0; i < LC_CONF; i++) {
		CHECK_EQ(p[i].ip[3], 10 + i);
		CHECK_EQ(p[i].flags, 0);
	}
	CHECK_EQ(p[LC_CONF].state, MW_CLIENT_PEER_NONE); /* lcore 0's slot */
	CHECK_EQ(p[LC_ACC_INDEX].flags, MW_CLIENT_PEER_ACCEPTED);
	CHECK_EQ(p[LC_ACC_INDEX].ip[3], 10 + LC_CONF);
	/* lcore 0 received devices 0 and 2's, lcore 1 devices 1, 3, 4's */
	CHECK(lc_json(&sv, "\"lcores\": [{\"submitted\": 0, \"received\": 2"));
	CHECK(lc_json(&sv, "{\"submitted\": 0, \"received\": 3"));

	/* a reply to every index reaches its device, and only it */
	int64_t ck[LC_CONF + 1];
	for (unsigned i = 0; i < ndev; i++)
		ck[i] = lc_send(c, i < LC_CONF ? i : LC_ACC_INDEX, 1, 100 + i);
	for (unsigned i = 0; i < ndev; i++)
		CHECK_EQ(lc_wait(&sv, devs, ndev, all, 40000, &now, c, ck[i]),
			 0);
	for (unsigned i = 0; i < ndev; i++) {
		CHECK_EQ(dv[i].rx_n, 1);
		CHECK_EQ(dv[i].rx_tags[0], 100 + i);
	}
	CHECK(lc_json(&sv, "\"lcores\": [{\"submitted\": 2, \"received\": 2"));
	CHECK(lc_json(&sv, "{\"submitted\": 3, \"received\": 3"));
	/* lcore 0's accept slot holds nobody */
	CHECK_EQ(lc_wait(&sv, devs, ndev, all, 40000, &now, c,
			 lc_send(c, LC_CONF, 1, 99)),
		 MW_ENOENT);

	/* Lcore 1 stopped: lcore 0 takes a send to device 1 (lcore 1's)
	 * and queues it for lcore 1, without a frame to it; lcore 1 sends
	 * it once it runs. */
	uint64_t tx0 = sv.lc[0].tx;
	int64_t k1 = lc_send(c, 1, 1, 200);
	CHECK_EQ(lc_wait(&sv, devs, ndev, 1u, 400, &now, c, k1), 1);
	CHECK(lc_json(&sv, "\"pending\": 1, \"in_transport\": 0"));
	CHECK(lc_json(&sv, "{\"submitted\": 3, \"received\": 3, "
			   "\"pending\": 1"));
	CHECK_EQ(dv[1].rx_n, 1);
	CHECK(sv.lc[0].tx - tx0 < 50); /* ACKs and pings at most */
	CHECK_EQ(lc_wait(&sv, devs, ndev, all, 40000, &now, c, k1), 0);
	CHECK_EQ(dv[1].rx_n, 2);
	CHECK_EQ(dv[1].rx_tags[1], 200);
	CHECK_EQ(dv[0].rx_n + dv[2].rx_n, 2);

	/* Device 0 unreachable: lcore 0's window to it fills and the rest
	 * waits in lcore 0's queue; a send to device 3 (lcore 1) still
	 * goes at once. */
	dv[0].hold = true;
	int64_t k0[LC_WINDOW + 2];
	for (unsigned j = 0; j < LC_WINDOW + 2; j++)
		k0[j] = lc_send(c, 0, 1, 300 + j);
	for (unsigned t = 0; t < 200; t++)
		lc_step(&sv, devs, ndev, all, &now);
	int64_t k3 = lc_send(c, 3, 1, 310);
	CHECK_EQ(lc_wait(&sv, devs, ndev, all, 4000, &now, c, k3), 0);
	CHECK_EQ(dv[3].rx_n, 2);
	CHECK_EQ(dv[3].rx_tags[1], 310);
	CHECK_EQ(dv[0].rx_n, 1);
	CHECK(lc_json(&sv, "\"lcores\": [{\"submitted\": 4, \"received\": 2, "
			   "\"pending\": 2, \"in_transport\": 2}"));
	dv[0].hold = false;
	for (unsigned j = 0; j < LC_WINDOW + 2; j++)
		CHECK_EQ(lc_wait(&sv, devs, ndev, all, 200000, &now, c, k0[j]),
			 0);
	CHECK_EQ(dv[0].rx_n, 1 + LC_WINDOW + 2);
	for (unsigned j = 0; j < LC_WINDOW + 2 && j + 1 < 8; j++)
		CHECK_EQ(dv[0].rx_tags[1 + j], 300 + j);
	CHECK(lc_json(&sv, "\"submitted\": 11, \"done\": 11, \"failed\": 0"));
	CHECK(lc_json(&sv, "\"delivered\": 5, \"deliver_errors\": 0"));
	CHECK(lc_json(&sv, "\"unknown_handles\": 0"));

	lc_free(&sv, c, dv);
}

/* The same with a thread per lcore, running at once: each steps its own
 * loop and devices; the app (this thread) answers every tensor. */
#define LC_M 6u /* tensors per device (within a device's window) */

struct lcthr {
	struct lcsrv *sv;
	struct dev **devs;
	unsigned k;
	uint64_t now;
};

static atomic_int lc_stop;

static void *lc_run(void *arg)
{
	struct lcthr *t = arg;
	const struct timespec nap = { 0, 20000 };
	while (!atomic_load(&lc_stop)) {
		lc_step(t->sv, t->devs, LC_CONF + 1, 1u << t->k, &t->now);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

static void test_lcores_threads(void)
{
	struct dev dv[LC_CONF + 1];
	struct dev *devs[LC_CONF + 1];
	uint64_t now = 1000000000ull;
	struct lcsrv sv;
	struct lcthr th[LC_N];
	pthread_t tid[LC_N];
	int64_t ck[(LC_CONF + 1) * LC_M];
	unsigned next[LC_CONF + 1] = { 0 }, got = 0;
	const unsigned ndev = LC_CONF + 1;
	struct mw_client *c = lc_new(&sv, dv, devs, "lct", &now);
	if (!c)
		return;
	for (unsigned i = 0; i < ndev; i++)
		for (unsigned j = 0; j < LC_M; j++)
			dev_send(&dv[i], 1000 + 10 * i + j, now);
	atomic_init(&lc_stop, 0);
	for (unsigned k = 0; k < LC_N; k++) {
		th[k] = (struct lcthr){ &sv, devs, k, now };
		CHECK(pthread_create(&tid[k], NULL, lc_run, &th[k]) == 0);
	}
	while (got < ndev * LC_M) {
		struct mw_client_rx rx;
		if (mw_client_recv(c, &rx, 5000) != 0)
			break;
		unsigned i = (unsigned)(rx.meta.tag - 1000) / 10;
		CHECK(i < ndev);
		if (i >= ndev)
			break;
		CHECK_EQ(rx.meta.peer, i < LC_CONF ? i : LC_ACC_INDEX);
		CHECK_EQ(rx.meta.tag, 1000 + 10 * i + next[i]); /* in order */
		next[i]++;
		ck[got++] = lc_send(c, rx.meta.peer, rx.meta.peer_gen,
				    rx.meta.tag + 1000);
		CHECK(mw_client_release(c, &rx.buf) == 0);
	}
	CHECK_EQ(got, ndev * LC_M);
	for (unsigned n = 0; n < got; n++) {
		int status = 1;
		CHECK(mw_client_wait(c, ck[n], 5000, &status) == 0);
		CHECK_EQ(status, 0);
	}
	atomic_store(&lc_stop, 1);
	for (unsigned k = 0; k < LC_N; k++)
		pthread_join(tid[k], NULL);
	for (unsigned i = 0; i < ndev; i++) {
		CHECK_EQ(dv[i].rx_n, LC_M);
		for (unsigned j = 0; j < LC_M && j < 8; j++)
			CHECK_EQ(dv[i].rx_tags[j], 2000 + 10 * i + j);
	}
	CHECK(lc_json(&sv, "\"submitted\": 30, \"done\": 30, \"failed\": 0"));
	CHECK(lc_json(&sv, "\"lcores\": [{\"submitted\": 12, \"received\": 12, "
			   "\"pending\": 0, \"in_transport\": 0}, "
			   "{\"submitted\": 18, \"received\": 18, "
			   "\"pending\": 0, \"in_transport\": 0}]"));
	lc_free(&sv, c, dv);
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
	test_lcores();
	test_lcores_threads();
	return mw_test_exit("test_shmsource");
}
