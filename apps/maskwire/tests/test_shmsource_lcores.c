/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit test for shmsource_views.c and the shm source's routing: one region
 * served by two I/O lcores (two endpoints, each with its loop and its
 * lcore's source, run by turns in one thread), configured peer i on lcore
 * i % 2 and an accepted one on lcore 1: deliveries from both carry the
 * run's peer index, the app's sends reach the right device through its
 * lcore's endpoint only (even while the other lcore alone runs: it
 * queues them for their owner), and a full window on one lcore holds back
 * no send to the other's peers. Then the same with a thread per lcore
 * running at once (each its loop and its devices), the app answering
 * every device: each reply reaches its device, in order (CI runs this
 * test under ThreadSanitizer too: the source's lock).
 */
#include "shmsource.h"

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
		ck[i] = app_send(c, i < LC_CONF ? i : LC_ACC_INDEX, 1, 100 + i,
				 5000);
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
			 app_send(c, LC_CONF, 1, 99, 5000)),
		 MW_ENOENT);

	/* Lcore 1 stopped: lcore 0 takes a send to device 1 (lcore 1's)
	 * and queues it for lcore 1, without a frame to it; lcore 1 sends
	 * it once it runs. */
	uint64_t tx0 = sv.lc[0].tx;
	int64_t k1 = app_send(c, 1, 1, 200, 5000);
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
		k0[j] = app_send(c, 0, 1, 300 + j, 5000);
	for (unsigned t = 0; t < 200; t++)
		lc_step(&sv, devs, ndev, all, &now);
	int64_t k3 = app_send(c, 3, 1, 310, 5000);
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
		ck[got++] = app_send(c, rx.meta.peer, rx.meta.peer_gen,
				     rx.meta.tag + 1000, 5000);
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

int main(void)
{
	test_lcores();
	test_lcores_threads();
	return mw_test_exit("test_shmsource_lcores");
}
