/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test-only data plane: serves one or two regions with the dp-side API and
 * no network. With one region every submitted tensor is delivered back to
 * the same app; with two, tensors submitted on one are delivered on the
 * other. Each tensor is completed once it is delivered; a tensor whose tag
 * equals --fail-tag is failed with MW_ECANCELED instead. An arena that is
 * full holds the tensor back (it is never dropped). With --peers N each
 * region's peer table shows N peers, 127.0.0.(i+1):(9000+i), up; a tensor
 * sent to peer i comes back from peer i (a send to an index with no peer
 * fails with MW_ENOENT, as a real data plane's). With --accepted A the
 * last A of them are shown as accepted peers, peer i with generation
 * 100 + i (the others have 1): a send must name that generation.
 * With --late L the last L peers are missing from the last region's
 * table (NAME2's, or NAME's alone) until a tensor from one of them is
 * delivered there: its entry is written just before (as a data plane
 * accepting a device does). With --regen-tag T each tensor tagged T
 * from an accepted peer, after the first such tensor from it, comes from
 * a new device in its slot: the peer's generation in the last region's
 * table and deliveries grows by one (a slot passed to another device).
 *
 *   mw-shm-loopback [--ring N] [--slot-size B] [--tx-slots N]
 *                   [--rx-slots N] [--fail-tag T] [--peers N]
 *                   [--accepted A] [--late L] [--regen-tag T]
 *                   NAME [NAME2]
 *
 * Prints "ready" and the region generation(s) on stdout once serving.
 * SIGINT/SIGTERM: close the regions (clients see MW_ESHUTDOWN) and exit.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mw_shm_dp.h"

static volatile sig_atomic_t quit;
static unsigned npeers, naccepted, nlate; /* --peers, --accepted, --late */
#define MAX_PEERS 64
static uint64_t regen_tag;                  /* --regen-tag */
static int use_regen_tag;
static unsigned regen_seen[MAX_PEERS];      /* tensors tagged so, by peer */

/* The generation the table shows for peer p (0: none, no table). */
static uint32_t peer_gen(uint32_t p)
{
	if (p >= npeers)
		return 0;
	return p + naccepted >= npeers ? 100 + p : 1;
}

/* Write peer p's entry into dp's table (its gen plus bump). */
static int peer_publish(struct mw_shm_dp *dp, uint32_t p, uint32_t bump)
{
	struct mw_shm_peer_info pi = {
		.ip = {127, 0, 0, (uint8_t)(p + 1)},
		.port = (uint16_t)(9000 + p),
		.state = MW_SHM_PEER_UP,
		.gen = 1,
	};

	pi.gen = peer_gen(p) + bump;
	if (p + naccepted >= npeers)
		pi.flags = MW_SHM_PEER_ACCEPTED;
	return mw_shm_dp_peer_set(dp, p, &pi);
}

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

struct side {
	struct mw_shm_dp *dp;
	struct side *peer; /* where its submits are delivered */
	struct mw_shm_sub sub;
	int have_sub;
	void *rxbuf;       /* in peer's RX pool, filled with sub's data */
	int have_rx;
	int late;          /* --late: its table misses peers not seen yet */
	uint32_t bump[MAX_PEERS]; /* --regen-tag: added to a peer's gen */
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void drop_pending(struct side *s)
{
	if (s->have_rx)
		mw_shm_dp_rx_free(s->peer->dp, s->rxbuf, s->sub.d.buf_len);
	s->have_rx = 0;
	s->have_sub = 0;
}

/* Move submits of s to its peer. Returns the tensors handled. */
static unsigned pump(struct side *s, uint64_t fail_tag, int use_fail_tag)
{
	unsigned done = 0;
	int rc;

	while (done < 32) {
		if (!s->have_sub) {
			if (mw_shm_dp_poll_submits(s->dp, &s->sub, 1) == 0)
				break;
			s->have_sub = 1;
		}
		if (use_fail_tag && s->sub.d.tag == fail_tag) {
			mw_shm_dp_complete(s->dp, &s->sub, MW_ECANCELED);
			s->have_sub = 0;
			done++;
			continue;
		}
		if (!s->have_rx) {
			rc = mw_shm_dp_rx_alloc(s->peer->dp, s->sub.d.buf_len,
						&s->rxbuf);
			if (rc == MW_EAGAIN)
				break; /* back-pressure: hold it */
			if (rc < 0) {
				mw_shm_dp_complete(s->dp, &s->sub, rc);
				s->have_sub = 0;
				done++;
				continue;
			}
			if (s->sub.d.buf_len)
				memcpy(s->rxbuf, s->sub.data, s->sub.d.buf_len);
			s->have_rx = 1;
			uint32_t p = s->sub.d.peer;
			if (use_regen_tag && s->sub.d.tag == regen_tag &&
			    p < npeers && p < MAX_PEERS &&
			    p + naccepted >= npeers && regen_seen[p]++) {
				s->peer->bump[p]++; /* another device there */
				peer_publish(s->peer->dp, p, s->peer->bump[p]);
			}
		}
		/* from the peer it went to, as the table shows it now */
		struct mw_shm_desc m = s->sub.d;
		m.peer_gen = peer_gen(m.peer);
		if (m.peer < npeers && m.peer < MAX_PEERS) {
			m.peer_gen += s->peer->bump[m.peer];
			if (s->peer->late && m.peer + nlate >= npeers)
				peer_publish(s->peer->dp, m.peer,
					     s->peer->bump[m.peer]); /* once */
		}
		rc = mw_shm_dp_deliver(s->peer->dp, s->rxbuf, s->sub.d.buf_len,
				       &m);
		if (rc == MW_EAGAIN)
			break;
		if (rc < 0) {
			mw_shm_dp_rx_free(s->peer->dp, s->rxbuf,
					  s->sub.d.buf_len);
			s->have_rx = 0;
		}
		mw_shm_dp_complete(s->dp, &s->sub, rc);
		s->have_rx = 0;
		s->have_sub = 0;
		done++;
	}
	return done;
}

static void usage(void)
{
	fprintf(stderr, "usage: mw-shm-loopback [--ring N] [--slot-size B] "
			"[--tx-slots N] [--rx-slots N] [--fail-tag T] "
			"[--peers N] [--accepted A] [--late L] "
			"[--regen-tag T] NAME [NAME2]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct mw_shm_cfg cfg;
	struct side side[2];
	const char *names[2];
	uint64_t fail_tag = 0;
	int use_fail_tag = 0, nnames = 0, nsides, i, rc;
	struct timespec idle = {0, 100000};

	mw_shm_cfg_default(&cfg);
	cfg.geom.tx_slots = 256;
	cfg.geom.rx_slots = 256;
	cfg.liveness_ns = 2000000;
	for (i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--ring"))
			cfg.geom.ring_size = (uint32_t)strtoul(argv[++i], 0, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--slot-size"))
			cfg.geom.slot_size = (uint32_t)strtoul(argv[++i], 0, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--tx-slots"))
			cfg.geom.tx_slots = (uint32_t)strtoul(argv[++i], 0, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--rx-slots"))
			cfg.geom.rx_slots = (uint32_t)strtoul(argv[++i], 0, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--peers"))
			npeers = (unsigned)strtoul(argv[++i], 0, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--regen-tag")) {
			regen_tag = strtoull(argv[++i], 0, 0);
			use_regen_tag = 1;
		} else if (i + 1 < argc && !strcmp(argv[i], "--late"))
			nlate = (unsigned)strtoul(argv[++i], 0, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--accepted"))
			naccepted = (unsigned)strtoul(argv[++i], 0, 0);
		else if (i + 1 < argc && !strcmp(argv[i], "--fail-tag")) {
			fail_tag = strtoull(argv[++i], 0, 0);
			use_fail_tag = 1;
		} else if (argv[i][0] == '-' || nnames == 2)
			usage();
		else
			names[nnames++] = argv[i];
	}
	if (nnames == 0)
		usage();
	nsides = nnames;
	memset(side, 0, sizeof(side));
	for (i = 0; i < nsides; i++) {
		rc = mw_shm_dp_create(names[i], &cfg, &side[i].dp);
		if (rc < 0) {
			fprintf(stderr, "mw-shm-loopback: %s: %s\n", names[i],
				mw_strerror(rc));
			while (i-- > 0)
				mw_shm_dp_destroy(side[i].dp, 1);
			return 1;
		}
		side[i].late = i == nsides - 1 && nlate;
		for (unsigned p = 0; p < npeers; p++) {
			if (side[i].late && p + nlate >= npeers)
				continue; /* written when it first sends */
			if (peer_publish(side[i].dp, p, 0) < 0) {
				fprintf(stderr, "mw-shm-loopback: --peers %u: "
						"more than the table holds\n",
					npeers);
				return 1;
			}
		}
	}
	side[0].peer = &side[nsides - 1];
	side[nsides - 1].peer = &side[0];
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready");
	for (i = 0; i < nsides; i++)
		printf(" %s gen %llu", names[i],
		       (unsigned long long)((struct mw_shm_hdr *)
						    mw_shm_dp_base(side[i].dp))
			       ->dp_generation);
	printf("\n");
	fflush(stdout);

	while (!quit) {
		uint64_t now = now_ns();
		unsigned work = 0;

		for (i = 0; i < nsides; i++)
			if (mw_shm_dp_service(side[i].dp, now) &
			    MW_SHM_EV_APP_GONE)
				drop_pending(&side[i]);
		for (i = 0; i < nsides; i++)
			work += pump(&side[i], fail_tag, use_fail_tag);
		if (!work)
			nanosleep(&idle, NULL);
	}
	for (i = 0; i < nsides; i++)
		mw_shm_dp_destroy(side[i].dp, 1);
	return 0;
}
