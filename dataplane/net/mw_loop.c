/* SPDX-License-Identifier: BSD-3-Clause */
/* The event loop of one endpoint and its source (see mw_loop.h). */
#include "mw_loop.h"

#include <assert.h>
#include <string.h>

#define NO_TIME UINT64_MAX

static uint64_t add_sat(uint64_t t, uint64_t d)
{
	return t > NO_TIME - d ? NO_TIME : t + d;
}

void mw_loop_init(struct mw_loop *lp, const struct mw_loop_cfg *cfg,
		  uint64_t now)
{
	assert(lp && cfg && cfg->ep && cfg->src);
	assert(cfg->npeers <= MW_SOURCE_MAX_PEERS);
	assert(cfg->npeers == 0 || cfg->peers);
	memset(lp, 0, sizeof(*lp));
	lp->cfg = *cfg;
	if (cfg->npeers)
		memcpy(lp->peers, cfg->peers, cfg->npeers * sizeof(uint16_t));
	lp->cfg.peers = lp->peers;
	lp->phase = MW_LOOP_RUN;
	lp->end = MW_LOOP_END_DONE;
	lp->start_ns = lp->last_rx_ns = now;
}

void mw_loop_mark_rx(struct mw_loop *lp, uint64_t now)
{
	lp->last_rx_ns = now;
	lp->rx_seen = true;
}

int mw_loop_recv(struct mw_loop *lp, uint16_t peer, const uint8_t *buf,
		 size_t len, uint64_t now)
{
	mw_loop_mark_rx(lp, now);
	return mw_ep_recv(lp->cfg.ep, peer, buf, len, now);
}

unsigned mw_loop_events(struct mw_loop *lp, uint64_t now)
{
	struct mw_source *src = lp->cfg.src;
	struct mw_event ev;
	unsigned n = 0;

	while (mw_ep_poll(lp->cfg.ep, &ev)) {
		if (lp->cfg.on_event)
			lp->cfg.on_event(lp->cfg.on_event_ctx, &ev, now);
		if (src->event)
			src->event(src->ctx, lp->cfg.ep, &ev, now);
		else
			mw_ep_release(lp->cfg.ep, &ev);
		n++;
	}
	return n;
}

bool mw_loop_busy(const struct mw_loop *lp)
{
	const struct mw_source *src = lp->cfg.src;

	if (src->busy && src->busy(src->ctx))
		return true;
	for (unsigned i = 0; i < lp->cfg.npeers; i++) {
		struct mw_peer_info pi;
		if (mw_ep_peer_info(lp->cfg.ep, lp->peers[i], &pi) == 0 &&
		    pi.tx_pending)
			return true;
	}
	return false;
}

/* RUN: a stop or a limit goes to DRAIN, a finished source to LINGER, a
 * failed one to CLOSE; otherwise the source submits. */
static void run_phase(struct mw_loop *lp, uint64_t now, unsigned quit)
{
	const struct mw_loop_cfg *c = &lp->cfg;
	struct mw_source *src = c->src;

	if (quit) {
		lp->end = MW_LOOP_END_SIGNAL;
	} else if (c->duration_ns && now - lp->start_ns >= c->duration_ns) {
		lp->end = MW_LOOP_END_DURATION;
	} else if (c->idle_exit_ns && lp->rx_seen &&
		   now - lp->last_rx_ns >= c->idle_exit_ns) {
		lp->end = MW_LOOP_END_IDLE;
	} else if (src->done && src->done(src->ctx)) {
		lp->phase = MW_LOOP_LINGER;
		return;
	} else {
		int rc = src->poll ? src->poll(src->ctx, c->ep, lp->peers,
					       c->npeers, now)
				   : 0;
		if (rc < 0) {
			lp->src_err = rc;
			lp->end = MW_LOOP_END_ERROR;
			lp->phase = MW_LOOP_CLOSE;
		}
		return;
	}
	lp->phase = MW_LOOP_DRAIN;
	lp->deadline_ns = add_sat(now, c->drain_ns);
}

int mw_loop_step(struct mw_loop *lp, uint64_t now, unsigned quit)
{
	if (now >= mw_ep_expiry(lp->cfg.ep))
		mw_ep_handle_expiry(lp->cfg.ep, now);
	mw_loop_events(lp, now);

	switch (lp->phase) {
	case MW_LOOP_RUN:
		run_phase(lp, now, quit);
		break;
	case MW_LOOP_LINGER:
		if (quit || now - lp->last_rx_ns >= lp->cfg.linger_ns)
			lp->phase = MW_LOOP_CLOSE;
		break;
	case MW_LOOP_DRAIN:
		if (quit >= 2 || now >= lp->deadline_ns || !mw_loop_busy(lp))
			lp->phase = MW_LOOP_CLOSE;
		break;
	case MW_LOOP_CLOSE:
	case MW_LOOP_CLOSED:
		break;
	}
	return (int)lp->phase;
}

void mw_loop_close(struct mw_loop *lp, uint64_t now)
{
	for (unsigned i = 0; i < lp->cfg.npeers; i++)
		mw_ep_close_peer(lp->cfg.ep, lp->peers[i], now);
	mw_loop_events(lp, now);
	lp->phase = MW_LOOP_CLOSED;
}

uint64_t mw_loop_next(const struct mw_loop *lp)
{
	const struct mw_loop_cfg *c = &lp->cfg;
	uint64_t t = mw_ep_expiry(c->ep), x = NO_TIME;

	switch (lp->phase) {
	case MW_LOOP_RUN:
		if (c->duration_ns)
			x = add_sat(lp->start_ns, c->duration_ns);
		if (c->idle_exit_ns && lp->rx_seen &&
		    add_sat(lp->last_rx_ns, c->idle_exit_ns) < x)
			x = add_sat(lp->last_rx_ns, c->idle_exit_ns);
		break;
	case MW_LOOP_LINGER:
		x = add_sat(lp->last_rx_ns, c->linger_ns);
		break;
	case MW_LOOP_DRAIN:
		x = mw_loop_busy(lp) ? lp->deadline_ns : 0;
		break;
	case MW_LOOP_CLOSE:
		x = 0;
		break;
	case MW_LOOP_CLOSED:
		break;
	}
	return x < t ? x : t;
}

int mw_loop_phase(const struct mw_loop *lp)
{
	return (int)lp->phase;
}

int mw_loop_end(const struct mw_loop *lp)
{
	return (int)lp->end;
}

int mw_loop_error(const struct mw_loop *lp)
{
	return lp->src_err;
}

uint64_t mw_loop_last_rx(const struct mw_loop *lp)
{
	return lp->last_rx_ns;
}
