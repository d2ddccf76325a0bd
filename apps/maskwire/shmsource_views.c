/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shmsource_views.c - the shared-memory source as struct mw_source: one
 * I/O lcore alone (no lock), or one view per lcore when several share the
 * region (each call under the source's lock), and the whole source's
 * stats (see shmsource.h).
 */
#include "shmsource_int.h"

#include <string.h>

/* ---- the mw_source views ------------------------------------------------ */

/* One lcore alone (no lock): ctx is its struct lcore. */
static int one_poll(void *ctx, struct mw_ep *ep, const uint16_t *peers,
		    unsigned npeers, uint64_t now)
{
	return mw_shmsrc_on_poll(ctx, ep, peers, npeers, now);
}

static void one_event(void *ctx, struct mw_ep *ep, const struct mw_event *ev,
		      uint64_t now)
{
	(void)ep;
	mw_shmsrc_on_event(ctx, ev, now);
}

static void one_link(void *ctx, struct mw_ep *ep,
		     const struct mw_source_link *l, uint64_t now)
{
	mw_shmsrc_on_link(ctx, ep, l, now);
}

static void one_peer(void *ctx, unsigned index, uint16_t core, uint32_t ip,
		     uint16_t port, bool up)
{
	mw_shmsrc_on_peer(ctx, index, core, ip, port, up);
}

static void *one_rx_alloc(void *ctx, uint64_t bytes,
			  const struct mw_rx_info *ri)
{
	(void)ri;
	return mw_shmsrc_on_rx_alloc(ctx, bytes);
}

static void one_rx_free(void *ctx, void *buf, uint64_t bytes)
{
	mw_shmsrc_on_rx_free(ctx, buf, bytes);
}

static bool one_busy(void *ctx)
{
	return mw_shmsrc_on_busy(ctx);
}

static void one_status(void *ctx, char *buf, unsigned len)
{
	const struct lcore *l = ctx;
	mw_shmsrc_on_status(l->s, buf, len);
}

static void one_stats_json(void *ctx, FILE *f)
{
	const struct lcore *l = ctx;
	mw_shmsrc_on_stats_json(l->s, f);
}

/* Several lcores: the same under the lock. Lcore l takes it unless it
 * holds it already (a call its endpoint makes back into the source, e.g.
 * a receive buffer freed during a submit). */
static bool enter(struct lcore *l)
{
	struct mw_shmsrc *s = l->s;
	if (atomic_load_explicit(&s->holder, memory_order_relaxed) == l->k + 1)
		return false;
	pthread_spin_lock(&s->lock);
	atomic_store_explicit(&s->holder, l->k + 1, memory_order_relaxed);
	return true;
}

static void leave(struct lcore *l, bool took)
{
	if (!took)
		return;
	atomic_store_explicit(&l->s->holder, 0, memory_order_relaxed);
	pthread_spin_unlock(&l->s->lock);
}

static int lk_poll(void *ctx, struct mw_ep *ep, const uint16_t *peers,
		   unsigned npeers, uint64_t now)
{
	bool t = enter(ctx);
	int rc = mw_shmsrc_on_poll(ctx, ep, peers, npeers, now);
	leave(ctx, t);
	return rc;
}

static void lk_event(void *ctx, struct mw_ep *ep, const struct mw_event *ev,
		     uint64_t now)
{
	bool t = enter(ctx);
	(void)ep;
	mw_shmsrc_on_event(ctx, ev, now);
	leave(ctx, t);
}

static void lk_link(void *ctx, struct mw_ep *ep, const struct mw_source_link *l,
		    uint64_t now)
{
	bool t = enter(ctx);
	mw_shmsrc_on_link(ctx, ep, l, now);
	leave(ctx, t);
}

static void lk_peer(void *ctx, unsigned index, uint16_t core, uint32_t ip,
		    uint16_t port, bool up)
{
	bool t = enter(ctx);
	mw_shmsrc_on_peer(ctx, index, core, ip, port, up);
	leave(ctx, t);
}

static void *lk_rx_alloc(void *ctx, uint64_t bytes, const struct mw_rx_info *ri)
{
	bool t = enter(ctx);
	(void)ri;
	void *buf = mw_shmsrc_on_rx_alloc(ctx, bytes);
	leave(ctx, t);
	return buf;
}

static void lk_rx_free(void *ctx, void *buf, uint64_t bytes)
{
	bool t = enter(ctx);
	mw_shmsrc_on_rx_free(ctx, buf, bytes);
	leave(ctx, t);
}

static bool lk_busy(void *ctx)
{
	bool t = enter(ctx);
	bool b = mw_shmsrc_on_busy(ctx);
	leave(ctx, t);
	return b;
}

static void lk_status(void *ctx, char *buf, unsigned len)
{
	bool t = enter(ctx);
	one_status(ctx, buf, len);
	leave(ctx, t);
}

static void lk_stats_json(void *ctx, FILE *f)
{
	bool t = enter(ctx);
	one_stats_json(ctx, f);
	leave(ctx, t);
}

/* The whole source with several lcores: called from no lcore's loop
 * (stats at the end), or from one that does not hold the lock. */
static void all_stats_json(void *ctx, FILE *f)
{
	struct mw_shmsrc *s = ctx;
	pthread_spin_lock(&s->lock);
	mw_shmsrc_on_stats_json(s, f);
	pthread_spin_unlock(&s->lock);
}

static void all_status(void *ctx, char *buf, unsigned len)
{
	struct mw_shmsrc *s = ctx;
	pthread_spin_lock(&s->lock);
	mw_shmsrc_on_status(s, buf, len);
	pthread_spin_unlock(&s->lock);
}

void mw_shmsrc_source(struct mw_shmsrc *s, struct mw_source *src)
{
	memset(src, 0, sizeof(*src));
	src->name = "shm";
	if (s->nlc > 1) {
		src->ctx = s;
		src->stats_json = all_stats_json;
		src->status = all_status;
		return;
	}
	src->ctx = &s->lc[0];
	src->rx_alloc.alloc = one_rx_alloc;
	src->rx_alloc.free = one_rx_free;
	src->rx_alloc.ctx = &s->lc[0];
	src->poll = one_poll;
	src->event = one_event;
	src->link = one_link;
	src->peer = one_peer;
	src->busy = one_busy;
	src->stats_json = one_stats_json;
	src->status = one_status;
}

int mw_shmsrc_lcore_source(struct mw_shmsrc *s, unsigned k,
			   struct mw_source *src)
{
	memset(src, 0, sizeof(*src));
	if (k >= s->nlc)
		return MW_EINVAL;
	src->name = "shm";
	src->ctx = &s->lc[k];
	src->rx_alloc.alloc = lk_rx_alloc;
	src->rx_alloc.free = lk_rx_free;
	src->rx_alloc.ctx = &s->lc[k];
	src->poll = lk_poll;
	src->event = lk_event;
	src->link = lk_link;
	src->peer = lk_peer;
	src->busy = lk_busy;
	src->stats_json = lk_stats_json;
	src->status = lk_status;
	return 0;
}

