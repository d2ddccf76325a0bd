/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mw_dp_lcores.c - several I/O lcores on one port (dp_int.h, struct
 * mw_dp_group). Each lcore runs the whole loop of mw_dp.c on its own
 * struct mw_dp: its TX queue, its RX queue where the port has one for it,
 * its transport endpoint, source and peers. Which lcore owns a peer is
 * fixed: configured peer i on lcore i % n, any other source address on
 * the lcore its address hashes to (where a HELLO from it may be
 * accepted). Frames reach whichever RX queue the port (RSS), the kernel
 * (net_af_packet's fanout) or the memif peer chose; one that lands on
 * the wrong lcore is handed to its owner's inbox, a multi-producer /
 * single-consumer ring, so every endpoint is only ever touched by one
 * lcore. ARP frames are answered where they arrive and copied to every
 * other lcore, which learns MACs from them for its own peers.
 */
#include "dp_int.h"

#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>

/* The lcore that owns datagrams from (ip, port). */
static unsigned owner_of(const struct mw_dp_group *g, uint32_t ip,
			 uint16_t port)
{
	uint32_t h = mw_dp_addr_mix(ip, port);
	for (uint32_t i = h & g->own_mask;; i = (i + 1) & g->own_mask) {
		if (g->own_k[i] < 0)
			break;
		if (g->own_ip[i] == ip && g->own_port[i] == port)
			return (unsigned)g->own_k[i];
	}
	/* not configured: an accepted peer, placed by its address */
	return (h >> 8) % g->n;
}

static void own_insert(struct mw_dp_group *g, uint32_t ip, uint16_t port,
		       unsigned k)
{
	uint32_t i = mw_dp_addr_mix(ip, port) & g->own_mask;
	while (g->own_k[i] >= 0)
		i = (i + 1) & g->own_mask;
	g->own_ip[i] = ip;
	g->own_port[i] = port;
	g->own_k[i] = (int16_t)k;
}

/* Lcore k's share of the configured peers (i % n == k, in order) and
 * of accept_max (the first lcores take the remainder). */
static void share_cfg(struct mw_dp_group *g, const struct mw_dp_cfg *all,
		      unsigned k, struct mw_dp_cfg *c, unsigned *first)
{
	*c = *all;
	c->peers = g->pcfg + *first;
	c->npeers = 0;
	for (unsigned i = k; i < all->npeers; i += g->n) {
		g->pcfg[*first + c->npeers] = all->peers[i];
		g->gidx[*first + c->npeers] = (uint16_t)i;
		c->npeers++;
	}
	*first += c->npeers;
	c->accept_max = all->accept_max / g->n + (k < all->accept_max % g->n);
	c->src = g->n > 1 ? all->srcs[k] : all->src;
	/* each lcore draws its own faults */
	c->fault_rx.seed += k;
	c->fault_tx.seed += k;
}

int mw_dp_group_init(struct mw_dp *dp0, char *err, size_t errlen)
{
	const struct mw_dp_cfg all = dp0->cfg;
	unsigned n = all.io_lcores ? all.io_lcores : 1;
	struct mw_dp_group *g = rte_zmalloc("mw_dp_group", sizeof(*g),
					    RTE_CACHE_LINE_SIZE);
	if (!g) {
		snprintf(err, errlen, "out of memory for the I/O lcores");
		return MW_ENOMEM;
	}
	dp0->grp = g;
	g->cfg = all;
	g->n = n;
	g->port_up = 1;
	uint32_t hs = 16;
	while (hs < 2 * all.npeers)
		hs <<= 1;
	g->own_mask = hs - 1;
	g->own_ip = rte_malloc("mw_own_ip", sizeof(*g->own_ip) * hs, 0);
	g->own_port = rte_malloc("mw_own_port", sizeof(*g->own_port) * hs, 0);
	g->own_k = rte_malloc("mw_own_k", sizeof(*g->own_k) * hs, 0);
	g->pcfg = rte_malloc("mw_pcfg", sizeof(*g->pcfg) * (all.npeers + 1), 0);
	g->gidx = rte_malloc("mw_gidx", sizeof(*g->gidx) * (all.npeers + 1), 0);
	if (!g->own_ip || !g->own_port || !g->own_k || !g->pcfg || !g->gidx) {
		snprintf(err, errlen, "out of memory for the I/O lcores");
		return MW_ENOMEM;
	}
	for (uint32_t i = 0; i < hs; i++)
		g->own_k[i] = -1;
	for (unsigned i = 0; i < all.npeers; i++)
		own_insert(g, all.peers[i].ip, all.peers[i].port, i % n);

	unsigned lc = rte_get_main_lcore(), first = 0;
	unsigned abase = all.npeers; /* global slot of lcore k's accept slots */
	for (unsigned k = 0; k < n; k++) {
		struct mw_dp *dp = dp0;
		if (k) {
			lc = rte_get_next_lcore(lc, 1, 0);
			dp = rte_zmalloc("mw_dp", sizeof(*dp),
					 RTE_CACHE_LINE_SIZE);
			if (!dp) {
				snprintf(err, errlen, "out of memory for the "
						      "I/O lcores");
				return MW_ENOMEM;
			}
			g->shard[k] = dp;
			/* the port's side, shared */
			dp->pool = dp0->pool;
			dp->port = dp0->port;
			dp->caps = dp0->caps;
			dp->net = dp0->net;
			dp->tx_flags = dp0->tx_flags;
			dp->rx_cksum_hw = dp0->rx_cksum_hw;
			dp->tsc0 = dp0->tsc0;
			dp->ns_mult = dp0->ns_mult;
			dp->drain_tsc = dp0->drain_tsc;
			dp->port_running = true;
		}
		g->shard[k] = dp;
		g->lcore[k] = lc;
		dp->grp = g;
		dp->shard = k;
		dp->tx_via0 = k >= dp0->caps.nb_txq;
		dp->txq_id = dp->tx_via0 ? 0 : (uint16_t)k;
		dp->polls_rx = k < dp0->caps.nb_rxq;
		dp->rxq = dp->polls_rx ? (uint16_t)k : 0;
		dp->gidx = g->gidx + first;
		share_cfg(g, &all, k, &dp->cfg, &first);
		dp->src = dp->cfg.src;
		dp->accept_base = abase;
		abase += dp->cfg.accept_max;
		if (n > 1) {
			char name[32];
			snprintf(name, sizeof name, "mw_inbox_%u_%u", dp0->port,
				 k);
			g->inbox[k] = rte_ring_create(name, INBOX_CAP,
						      (int)rte_socket_id(),
						      RING_F_SC_DEQ);
			if (!g->inbox[k]) {
				snprintf(err, errlen, "inbox ring: %s",
					 rte_strerror(rte_errno));
				return MW_ENOMEM;
			}
		}
		if (dp->tx_via0 && !g->txring) {
			char name[32];
			snprintf(name, sizeof name, "mw_txring_%u", dp0->port);
			g->txring = rte_ring_create(name, TXRING_CAP,
						    (int)rte_socket_id(),
						    RING_F_SC_DEQ);
			if (!g->txring) {
				snprintf(err, errlen, "TX ring: %s",
					 rte_strerror(rte_errno));
				return MW_ENOMEM;
			}
		}
		int rc;
		if (k && (rc = mw_dp_shard_init(dp, err, errlen)))
			return rc;
	}
	return 0;
}

void mw_dp_group_free(struct mw_dp_group *g)
{
	if (!g)
		return;
	for (unsigned k = 0; k < g->n; k++)
		rte_ring_free(g->inbox[k]);
	rte_ring_free(g->txring);
	rte_free(g->own_ip);
	rte_free(g->own_port);
	rte_free(g->own_k);
	rte_free(g->pcfg);
	rte_free(g->gidx);
	rte_free(g);
}

/* ARP copies carry this bit in the ring (mbufs are cache-aligned). */
#define LEARN_ONLY ((uintptr_t)1)

bool mw_dp_handoff(struct mw_dp *dp, struct rte_mbuf *m)
{
	struct mw_dp_group *g = dp->grp;
	uint32_t ip;
	uint16_t port;
	/* A chained frame's headers are in its first segment (a port's
	 * smallest RX buffer holds far more than them). */
	int cls = mw_net_peek(rte_pktmbuf_mtod(m, const uint8_t *),
			      m->data_len, &ip, &port);
	if (cls == MW_NET_PEEK_ARP) {
		for (unsigned k = 0; k < g->n; k++) {
			if (k == dp->shard)
				continue;
			rte_mbuf_refcnt_update(m, 1);
			void *e = (void *)((uintptr_t)m | LEARN_ONLY);
			if (rte_ring_mp_enqueue(g->inbox[k], e) != 0) {
				rte_mbuf_refcnt_update(m, -1);
				dp->c.handoff_full++;
			} else {
				dp->c.handoff_out++;
			}
		}
		return false;
	}
	if (cls != MW_NET_PEEK_UDP)
		return false;
	/* Its own frames go through its inbox too: when the lcore is busy
	 * it then serves its peers in the order their frames came, from
	 * whichever queue (taking its inbox and its queue by turns would
	 * favour the peers whose frames another lcore happens to receive:
	 * seen here, 3x). */
	unsigned k = owner_of(g, ip, port);
	if (rte_ring_mp_enqueue(g->inbox[k], m) != 0) {
		dp->c.handoff_full++;
		rte_pktmbuf_free(m);
	} else if (k != dp->shard) {
		dp->c.handoff_out++;
	} else {
		dp->c.handoff_self++;
	}
	return true;
}

unsigned mw_dp_inbox(struct mw_dp *dp, struct rte_mbuf **m, bool *learn_only,
		     unsigned max)
{
	struct rte_ring *r = dp->grp->inbox[dp->shard];
	if (!r)
		return 0;
	void *e[MW_DP_BURST];
	if (max > MW_DP_BURST)
		max = MW_DP_BURST;
	unsigned n = rte_ring_sc_dequeue_burst(r, e, max, NULL);
	for (unsigned i = 0; i < n; i++) {
		learn_only[i] = (uintptr_t)e[i] & LEARN_ONLY;
		m[i] = (struct rte_mbuf *)((uintptr_t)e[i] & ~LEARN_ONLY);
	}
	return n;
}

void mw_dp_txring_pull(struct mw_dp *dp)
{
	struct rte_ring *r = dp->grp->txring;
	if (!r || dp->txq_n >= TXQ_CAP)
		return;
	dp->txq_n += rte_ring_sc_dequeue_burst(r, (void **)(dp->txq + dp->txq_n),
					       TXQ_CAP - dp->txq_n, NULL);
}

void mw_dp_follow_port(struct mw_dp *dp)
{
	struct mw_dp_group *g = dp->grp;
	bool hold = __atomic_load_n(&g->pause_io, __ATOMIC_ACQUIRE);
	if (hold != dp->held) {
		dp->held = hold;
		__atomic_store_n(&g->paused[dp->shard], hold, __ATOMIC_RELEASE);
	}
	dp->port_running =
		!hold && __atomic_load_n(&g->port_up, __ATOMIC_ACQUIRE);
}

int mw_dp_group_restart(struct mw_dp *dp)
{
	struct mw_dp_group *g = dp->grp;
	__atomic_store_n(&g->pause_io, 1, __ATOMIC_RELEASE);
	/* every other lcore out of its bursts (an ended one has left) */
	for (unsigned k = 1; k < g->n; k++)
		while (!__atomic_load_n(&g->paused[k], __ATOMIC_ACQUIRE))
			rte_pause();
	int rc = mw_port_restart(dp->port, dp->port_running);
	__atomic_store_n(&g->port_up, rc == 0, __ATOMIC_RELEASE);
	__atomic_store_n(&g->pause_io, 0, __ATOMIC_RELEASE);
	return rc;
}

void mw_dp_group_counters(const struct mw_dp *dp, struct mw_dp_counters *c,
			  struct mw_counters *k)
{
	const struct mw_dp_group *g = dp->grp;
	memset(c, 0, sizeof(*c));
	memset(k, 0, sizeof(*k));
	for (unsigned s = 0; s < g->n; s++) {
		const struct mw_dp *d = g->shard[s];
		const uint64_t *a = (const uint64_t *)&d->c;
		uint64_t *b = (uint64_t *)c;
		for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
			b[i] += a[i];
		struct mw_counters e;
		mw_ep_counters(d->ep, &e);
		mw_counters_add(k, &e);
	}
}

static const char *const end_names[] = {"done", "signal", "duration", "idle",
					"error"};

void mw_dp_group_json(const struct mw_dp *dp, FILE *f)
{
	const struct mw_dp_group *g = dp->grp;
	fprintf(f, " \"io_lcores\": [");
	for (unsigned s = 0; s < g->n; s++) {
		const struct mw_dp *d = g->shard[s];
		int end = d->end;
		fprintf(f,
			"%s\n  {\"index\": %u, \"lcore\": %u, \"rxq\": %d, "
			"\"txq\": %d, \"peers\": %u, \"accept_max\": %u, "
			"\"end\": \"%s\", \"elapsed_s\": %.6f, "
			"\"rx_frames\": %" PRIu64 ", \"tx_frames\": %" PRIu64
			", \"handoff_out\": %" PRIu64 ", \"handoff_in\": %" PRIu64
			", \"handoff_self\": %" PRIu64
			", \"handoff_full\": %" PRIu64
			", \"tensors_rx\": %" PRIu64
			", \"tensors_tx_done\": %" PRIu64
			", \"dense_bytes_rx\": %" PRIu64
			", \"dense_bytes_tx\": %" PRIu64 "}",
			s ? "," : "", s, g->lcore[s],
			d->polls_rx ? (int)d->rxq : -1,
			d->tx_via0 ? -1 : (int)d->txq_id, d->npeers,
			d->cfg.accept_max,
			end >= 0 && end <= MW_DP_END_ERROR ? end_names[end]
							   : "?",
			(double)(d->end_ns - d->start_ns) / 1e9, d->c.rx_frames,
			d->c.tx_frames, d->c.handoff_out, d->c.handoff_in,
			d->c.handoff_self, d->c.handoff_full, d->c.tensors_rx,
			d->c.tensors_tx_done, d->c.dense_bytes_rx,
			d->c.dense_bytes_tx);
	}
	fprintf(f, "],\n");
}

/* ---- running them ------------------------------------------------------- */

static int lcore_main(void *arg)
{
	struct mw_dp *dp = arg;
	return mw_dp_run_one(dp, dp->grp->quit);
}

int mw_dp_run(struct mw_dp *dp, volatile sig_atomic_t *quit)
{
	struct mw_dp_group *g = dp->grp;
	mw_dp_wait_link(dp, quit);
	g->running = g->n;
	g->quit = quit;
	for (unsigned k = 1; k < g->n; k++)
		if (rte_eal_remote_launch(lcore_main, g->shard[k],
					  g->lcore[k]) != 0) {
			/* cannot happen: the lcores were checked idle */
			fprintf(stderr, "maskwire: lcore %u busy\n",
				g->lcore[k]);
			g->shard[k]->end = MW_DP_END_ERROR;
			__atomic_fetch_sub(&g->running, 1, __ATOMIC_ACQ_REL);
			__atomic_store_n(&g->paused[k], 1, __ATOMIC_RELEASE);
			g->lcore[k] = RTE_MAX_LCORE;
		}
	int end = mw_dp_run_one(dp, quit);
	for (unsigned k = 1; k < g->n; k++)
		if (g->lcore[k] != RTE_MAX_LCORE)
			rte_eal_wait_lcore(g->lcore[k]);
	/* the run's end: an error anywhere, else lcore 0's */
	for (unsigned k = 1; k < g->n; k++)
		if (g->shard[k]->end == MW_DP_END_ERROR)
			end = MW_DP_END_ERROR;
	g->end = end;
	return end;
}
