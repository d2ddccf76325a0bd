/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared-memory traffic source (see shmsource.h). */
#include "shmsource_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t mw_shmsrc_max_tensor(const struct mw_shmsrc_cfg *cfg)
{
	const struct mw_shm_geom *g = &cfg->shm.geom;
	uint32_t slots = g->tx_slots < g->rx_slots ? g->tx_slots : g->rx_slots;
	return (uint64_t)slots * g->slot_size;
}

int mw_shmsrc_new(const struct mw_shmsrc_cfg *cfg, struct mw_shmsrc **out)
{
	*out = NULL;
	unsigned nlc = cfg->lcores ? cfg->lcores : 1;
	if (nlc > MW_SHMSRC_MAX_LCORES)
		return MW_EINVAL;
	struct mw_shmsrc *s = calloc(1, sizeof(*s));
	if (!s)
		return MW_ENOMEM;
	if (pthread_spin_init(&s->lock, PTHREAD_PROCESS_PRIVATE)) {
		free(s);
		return MW_ENOMEM;
	}
	atomic_init(&s->holder, 0);
	s->nlc = nlc;
	snprintf(s->name, sizeof s->name, "%s", cfg->name);
	s->deadline_ms = cfg->deadline_ms;
	s->accept = cfg->accept_slots;
	s->nconf = cfg->npeers;
	/* a table entry for every peer, configured or accepted (the
	 * default has room for 64) */
	struct mw_shm_cfg shm = cfg->shm;
	if (shm.geom.peer_cap < cfg->npeers + cfg->accept_slots)
		shm.geom.peer_cap = cfg->npeers + cfg->accept_slots;
	int rc = mw_shm_dp_create(cfg->name, &shm, &s->dp);
	if (rc < 0) {
		pthread_spin_destroy(&s->lock);
		free(s);
		return rc;
	}
	/* room for every index the table has; the loop's peers beyond the
	 * configured addresses are shown without one (0.0.0.0:0) */
	s->npi = mw_shm_dp_peer_cap(s->dp);
	s->pi = calloc(s->npi, sizeof(*s->pi));
	s->core = calloc(s->npi, sizeof(*s->core));
	s->lc_of = calloc(s->npi, sizeof(*s->lc_of));
	s->used = calloc(s->npi, sizeof(*s->used));
	s->by_core = malloc(nlc * sizeof(*s->by_core));
	bool ok = s->pi && s->core && s->lc_of && s->used && s->by_core;
	for (unsigned k = 0; ok && k < nlc; k++) {
		struct lcore *l = &s->lc[k];
		l->s = s;
		l->k = k;
		l->pend.cap = PEND_CAP0;
		l->pend.q = malloc(PEND_CAP0 * sizeof(*l->pend.q));
		ok = l->pend.q != NULL;
		for (unsigned i = 0; i < MW_SOURCE_MAX_PEERS; i++)
			s->by_core[k][i] = -1;
	}
	if (!ok) {
		mw_shmsrc_free(s);
		return MW_ENOMEM;
	}
	for (unsigned i = 0; i < cfg->npeers && i < s->npi; i++) {
		uint32_t ip = cfg->peers[i].ip;
		s->pi[i].ip[0] = (uint8_t)(ip >> 24);
		s->pi[i].ip[1] = (uint8_t)(ip >> 16);
		s->pi[i].ip[2] = (uint8_t)(ip >> 8);
		s->pi[i].ip[3] = (uint8_t)ip;
		s->pi[i].port = cfg->peers[i].port;
		s->pi[i].state = MW_SHM_PEER_DOWN;
		s->pi[i].gen = 1; /* a configured index never changes hands */
		mw_shm_dp_peer_set(s->dp, i, &s->pi[i]);
	}
	*out = s;
	return 0;
}

const char *mw_shmsrc_new_hint(int rc)
{
	return rc == MW_EBUSY       ? " (another data plane serves it)"
	       : rc == MW_EBADMAGIC ? " (a file that is not a region has "
				      "that name)"
				    : "";
}

/* ---- peers -------------------------------------------------------------- */

/* Index of lcore k's core peer id in the table, or -1. */
static int peer_index(const struct mw_shmsrc *s, unsigned k, uint16_t core)
{
	return core < MW_SOURCE_MAX_PEERS ? s->by_core[k][core] : -1;
}

static void index_take(struct mw_shmsrc *s, unsigned i, unsigned k,
		       uint16_t core)
{
	if (s->used[i] && s->core[i] < MW_SOURCE_MAX_PEERS &&
	    s->by_core[s->lc_of[i]][s->core[i]] == (int16_t)i)
		s->by_core[s->lc_of[i]][s->core[i]] = -1;
	s->used[i] = 1;
	s->core[i] = core;
	s->lc_of[i] = (uint8_t)k;
	if (core < MW_SOURCE_MAX_PEERS)
		s->by_core[k][core] = (int16_t)i;
	if (i >= s->nidx)
		s->nidx = i + 1;
}

/* The lcore whose endpoint serves index i: configured peer i is lcore
 * i % nlc's, an accepted one the lcore that reported it (an accept slot
 * always belongs to one lcore); -1: no peer there. */
static int index_owner(const struct mw_shmsrc *s, uint32_t i)
{
	if (i < s->nconf)
		return (int)(i % s->nlc);
	if (i < s->npi && s->used[i])
		return s->lc_of[i];
	return -1;
}

/* The data plane accepted a peer into slot index, or reclaimed it: the
 * table's entry follows. A new peer at an index gets the next gen, so a
 * SUBMIT meant for the one before it is refused (MW_ESTALE). */
void mw_shmsrc_on_peer(struct lcore *l, unsigned index, uint16_t core,
		     uint32_t ip, uint16_t port, bool up)
{
	struct mw_shmsrc *s = l->s;
	if (index >= s->npi || index < s->nconf) {
		/* no entry for it (the table was sized for every slot, so
		 * this is a caller bug): its tensors count as unknown */
		s->peer_no_index++;
		return;
	}
	struct mw_shm_peer_info *p = &s->pi[index];
	if (up) {
		uint32_t gen = p->gen + 1u ? p->gen + 1u : 1u;
		memset(p, 0, sizeof(*p));
		p->ip[0] = (uint8_t)(ip >> 24);
		p->ip[1] = (uint8_t)(ip >> 16);
		p->ip[2] = (uint8_t)(ip >> 8);
		p->ip[3] = (uint8_t)ip;
		p->port = port;
		p->state = MW_SHM_PEER_CONNECTING; /* its HELLO came */
		p->flags = MW_SHM_PEER_ACCEPTED;
		p->gen = gen;
		index_take(s, index, l->k, core);
		s->peers_up++;
	} else {
		if (!s->used[index] || s->core[index] != core ||
		    s->lc_of[index] != l->k)
			return;
		s->used[index] = 0;
		if (core < MW_SOURCE_MAX_PEERS &&
		    s->by_core[l->k][core] == (int16_t)index)
			s->by_core[l->k][core] = -1;
		/* address and gen stay: who was there, and the base of the
		 * next peer's gen */
		p->state = MW_SHM_PEER_NONE;
		s->peers_down++;
	}
	mw_shm_dp_peer_set(s->dp, index, p);
}

/* Session states and RTTs of lcore l's peers into the table (the
 * counters move with the events): each lcore reads its own endpoint.
 * mw_shm_dp_peer_set() writes only what changed. */
static void peers_refresh(struct lcore *l, struct mw_ep *ep, uint64_t now)
{
	static const uint8_t state_of[] = {
		[MW_PEER_FREE] = MW_SHM_PEER_NONE,
		[MW_PEER_IDLE] = MW_SHM_PEER_DOWN,
		[MW_PEER_HELLO] = MW_SHM_PEER_CONNECTING,
		[MW_PEER_OPEN] = MW_SHM_PEER_UP,
	};
	struct mw_shmsrc *s = l->s;
	if (now < l->next_refresh)
		return;
	l->next_refresh = now + PEER_REFRESH_NS;
	for (unsigned i = 0; i < s->nidx; i++) {
		struct mw_peer_info info;
		struct mw_shm_peer_info *p = &s->pi[i];
		if (!s->used[i] || s->lc_of[i] != l->k ||
		    mw_ep_peer_info(ep, s->core[i], &info) < 0)
			continue;
		uint8_t st = info.state < sizeof state_of ? state_of[info.state]
							  : MW_SHM_PEER_DOWN;
		if (st == MW_SHM_PEER_NONE)
			st = MW_SHM_PEER_DOWN; /* it holds the index */
		if (st == MW_SHM_PEER_UP && p->state != MW_SHM_PEER_UP)
			p->sessions++;
		p->state = st;
		p->remote_inc = info.remote.inc;
		p->srtt_ns = info.srtt_ns;
		mw_shm_dp_peer_set(s->dp, i, p);
	}
}

/* ---- helpers ------------------------------------------------------------ */

static int sent_add(struct mw_shmsrc *s, unsigned lc, uint64_t handle,
		    uint32_t gen, const struct mw_shm_sub *sub)
{
	if (s->sent_n == s->sent_cap) {
		unsigned cap = s->sent_cap ? 2 * s->sent_cap : 64;
		struct sent *p = realloc(s->sent, cap * sizeof(*p));
		if (!p)
			return MW_ENOMEM;
		s->sent = p;
		s->sent_cap = cap;
	}
	s->sent[s->sent_n].handle = handle;
	s->sent[s->sent_n].gen = gen;
	s->sent[s->sent_n].lc = lc;
	s->sent[s->sent_n].sub = *sub;
	s->sent_n++;
	s->lc[lc].sent_n++;
	return 0;
}

static void fifo_pop(struct fifo *f)
{
	f->head = (f->head + 1) % f->cap;
	f->n--;
}

static int fifo_push(struct fifo *f, const struct mw_shm_sub *sub)
{
	if (f->n == f->cap) {
		unsigned cap = 2 * f->cap;
		struct mw_shm_sub *q = malloc(cap * sizeof(*q));
		if (!q)
			return MW_ENOMEM;
		for (unsigned i = 0; i < f->n; i++)
			q[i] = f->q[(f->head + i) % f->cap];
		free(f->q);
		f->q = q;
		f->cap = cap;
		f->head = 0;
	}
	f->q[(f->head + f->n++) % f->cap] = *sub;
	return 0;
}

/* Report an outcome to the app. MW_ERESET (its app is gone) is expected
 * after a detach and means there is nobody to tell. */
static void complete_flags(struct mw_shmsrc *s, const struct mw_shm_sub *sub,
			   int status, uint16_t flags)
{
	/* flags (offset 70) are the dp's to say, whatever the app wrote */
	struct mw_shm_sub c = *sub;
	c.d.reserved = flags;
	int rc = mw_shm_dp_complete(s->dp, &c, status);
	if (rc == MW_ERESET)
		s->forgotten++;
	else if (rc < 0)
		fprintf(stderr, "maskwire: shm: completion refused: %s\n",
			mw_strerror(rc));
}

static void sub_to_meta(const struct mw_shm_desc *d, struct mw_tensor_meta *m,
			struct mw_codec_params *cp, uint16_t deadline_ms)
{
	memset(m, 0, sizeof(*m));
	m->dtype = d->dtype;
	m->kind = d->kind;
	m->ndim = d->ndim;
	for (unsigned i = 0; i < d->ndim && i < MW_SHM_MAX_DIMS; i++)
		m->dims[i] = d->dims[i];
	m->tag = d->tag;
	memset(cp, 0, sizeof(*cp));
	cp->codec = (enum mw_codec)d->codec;
	cp->rounding = (enum mw_rounding)d->rounding;
	cp->k = d->k;
	cp->ratio = d->ratio;
	/* bits only where the codec has a mask or levels */
	cp->bits = (cp->codec == MW_CODEC_MS || cp->codec == MW_CODEC_MS_SIGNED ||
		    cp->codec == MW_CODEC_QUANT)
			   ? d->bits
			   : 0;
	if (cp->codec != MW_CODEC_RAW && !(d->reserved & MW_SHM_SUB_RELIABLE))
		m->deadline_ms = deadline_ms;
}

static void complete(struct mw_shmsrc *s, const struct mw_shm_sub *sub,
		     int status)
{
	complete_flags(s, sub, status, 0);
}

/* Hand lcore l's queued submits to its transport until the window is
 * full. */
static int submit_pending(struct lcore *l, struct mw_ep *ep, uint64_t now)
{
	struct mw_shmsrc *s = l->s;
	int count = 0;
	while (l->pend.n) {
		struct mw_shm_sub *sub = &l->pend.q[l->pend.head];
		struct mw_tensor_meta m;
		struct mw_codec_params cp;
		uint64_t handle = 0;
		uint32_t idx = sub->d.peer;
		int bad = 0;
		/* the channel checked it against the table when it took it;
		 * the index may have changed hands since (it waited here) */
		if (idx >= s->npi || !s->used[idx] || s->lc_of[idx] != l->k) {
			s->bad_peer++;
			bad = MW_ENOENT;
		} else if (!mw_shm_peer_gen_ok(s->pi[idx].flags, s->pi[idx].gen,
					       sub->d.peer_gen)) {
			s->stale_peer++;
			bad = MW_ESTALE;
		}
		if (bad) {
			complete(s, sub, bad);
			fifo_pop(&l->pend);
			continue;
		}
		uint16_t peer = s->core[idx];
		sub_to_meta(&sub->d, &m, &cp, s->deadline_ms);
		/* The app's buffer is held until TX_DONE/TX_FAILED, so the
		 * encode may be deferred (and a rewrite meanwhile is caught
		 * as any other: MW_ECHANGED or a valid tensor). */
		int rc = mw_ep_submit(ep, peer, &m, &cp, sub->data,
				      sub->d.buf_len, MW_SUBMIT_DEFER, now,
				      &handle);
		if (rc == MW_EAGAIN) {
			s->window_full++;
			break;
		}
		if (rc < 0) {
			/* rejected before anything was queued: tell the app
			 * (MW_ECHANGED: it rewrote the buffer meanwhile) */
			s->rejected++;
			if (s->rejected <= 5)
				fprintf(stderr,
					"maskwire: shm: tensor tag %" PRIu64
					" rejected: %s\n",
					sub->d.tag, mw_strerror(rc));
			complete(s, sub, rc);
		} else if (sent_add(s, l->k, handle, s->pi[idx].gen, sub) < 0) {
			/* out of memory: a fatal source error (the data plane
			 * stops); the sub stays queued, so it is completed
			 * with MW_ECANCELED at exit */
			return MW_ENOMEM;
		} else {
			s->submitted++;
			l->submitted++;
			count++;
		}
		fifo_pop(&l->pend);
	}
	return count;
}

/* A submit taken from the ring goes to the FIFO of its peer's lcore; one
 * naming no peer is answered now. */
static void route(struct mw_shmsrc *s, const struct mw_shm_sub *sub)
{
	int k = index_owner(s, sub->d.peer);
	if (k < 0) {
		s->bad_peer++;
		complete(s, sub, MW_ENOENT);
	} else if (fifo_push(&s->lc[k].pend, sub) < 0) {
		s->rejected++;
		complete(s, sub, MW_ENOMEM);
	}
}

/* The app is gone: its queued submits were never given to a transport.
 * Forget them before the next service call hands the TX pool to a new
 * app. Submits already in a transport were copied at submit; their
 * completions find nobody. */
static void forget_pending(struct mw_shmsrc *s)
{
	for (unsigned k = 0; k < s->nlc; k++) {
		s->forgotten += s->lc[k].pend.n;
		s->lc[k].pend.n = 0;
		s->lc[k].pend.head = 0;
	}
}

static void deliver_waiting(struct mw_shmsrc *s)
{
	while (s->und_n) {
		struct undelivered *u = &s->und[s->und_head];
		int rc = mw_shm_dp_deliver(s->dp, u->buf, u->bytes, &u->meta);
		if (rc == MW_EAGAIN)
			return;
		if (rc < 0) {
			s->deliver_errors++;
			mw_shm_dp_rx_free(s->dp, u->buf, u->bytes);
		} else {
			s->delivered++;
		}
		s->und_head = (s->und_head + 1) % s->und_cap;
		s->und_n--;
	}
}

static int und_push(struct mw_shmsrc *s, void *buf, uint64_t bytes,
		    const struct mw_shm_desc *meta)
{
	if (s->und_n == s->und_cap) {
		unsigned cap = s->und_cap ? 2 * s->und_cap : 16;
		struct undelivered *p = malloc(cap * sizeof(*p));
		if (!p)
			return MW_ENOMEM;
		for (unsigned i = 0; i < s->und_n; i++)
			p[i] = s->und[(s->und_head + i) % s->und_cap];
		free(s->und);
		s->und = p;
		s->und_cap = cap;
		s->und_head = 0;
	}
	struct undelivered *u = &s->und[(s->und_head + s->und_n) % s->und_cap];
	u->buf = buf;
	u->bytes = bytes;
	u->meta = *meta;
	s->und_n++;
	return 0;
}

/* ---- mw_source callbacks ---------------------------------------------- */

int mw_shmsrc_on_poll(struct lcore *l, struct mw_ep *ep, const uint16_t *peers,
		    unsigned npeers, uint64_t now)
{
	struct mw_shmsrc *s = l->s;
	if (now > s->now)
		s->now = now;
	unsigned ev = mw_shm_dp_service(s->dp, s->now);
	if (ev & MW_SHM_EV_APP_GONE) {
		forget_pending(s);
		s->apps_gone++;
		s->attached = false;
	}
	if (ev & MW_SHM_EV_APP_NEW) {
		s->apps_new++;
		s->attached = true;
	}
	if (ev & (MW_SHM_EV_REGION_BROKEN | MW_SHM_EV_REGION_NEW) &&
	    ++s->region_events <= 20) {
		struct mw_shm_dp_stats st;
		mw_shm_dp_stats(s->dp, &st);
		if (ev & MW_SHM_EV_REGION_BROKEN)
			fprintf(stderr,
				"maskwire: shm: region %s: its file was resized "
				"under the data plane; app dropped, region "
				"given up\n",
				s->name);
		if (ev & MW_SHM_EV_REGION_NEW)
			fprintf(stderr,
				"maskwire: shm: region %s re-created "
				"(generation %" PRIu64 ")\n",
				s->name, st.dp_generation);
		else
			fprintf(stderr,
				"maskwire: shm: region %s cannot be re-created "
				"yet: %s; retrying\n",
				s->name, mw_strerror(st.last_error));
	}
	deliver_waiting(s);
	/* its configured peers: index j * nlc + k is its peers[j] */
	for (unsigned j = 0; j < npeers; j++) {
		unsigned i = j * s->nlc + l->k;
		if (i >= s->npi)
			break;
		if (i >= s->nconf)
			s->nconf = i + 1;
		if (!s->used[i] || s->core[i] != peers[j] ||
		    s->lc_of[i] != l->k)
			index_take(s, i, l->k, peers[j]);
		if (s->pi[i].state == MW_SHM_PEER_NONE) {
			s->pi[i].state = MW_SHM_PEER_DOWN;
			s->pi[i].gen = 1;
			mw_shm_dp_peer_set(s->dp, i, &s->pi[i]);
		}
	}
	/* no peer now and none to come: submits stay in the ring */
	if (s->nconf == 0 && s->accept == 0)
		return 0;
	int count = submit_pending(l, ep, now);
	if (count < 0)
		return count;
	/* Take more while its own FIFO is empty: a full window keeps them
	 * in the ring (back-pressure to the app). With several lcores the
	 * ones for other lcores' peers go to their FIFOs, served on their
	 * next turn, so an lcore whose window is full holds back nobody
	 * else's; the COMPLETE ring bounds what is taken. */
	while (l->pend.n == 0) {
		struct mw_shm_sub subs[BURST];
		unsigned n = mw_shm_dp_poll_submits(s->dp, subs, BURST);
		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++)
			route(s, &subs[i]);
		int rc = submit_pending(l, ep, now);
		if (rc < 0)
			return rc;
		count += rc;
	}
	return count;
}

void mw_shmsrc_on_event(struct lcore *l, const struct mw_event *ev, uint64_t now)
{
	struct mw_shmsrc *s = l->s;
	switch (ev->type) {
	case MW_EV_TX_DONE:
	case MW_EV_TX_FAILED: {
		unsigned i;
		for (i = 0; i < s->sent_n; i++)
			if (s->sent[i].handle == ev->handle &&
			    s->sent[i].lc == l->k)
				break;
		if (i == s->sent_n) {
			s->unknown_handles++;
			return;
		}
		int status = ev->type == MW_EV_TX_DONE ? 0
			     : ev->reason < 0	      ? ev->reason
						      : MW_EIO;
		uint32_t pidx = s->sent[i].sub.d.peer; /* < npi: checked */
		/* the peer's counters, unless its index changed hands (a
		 * peer with tensors pending is not reclaimed, but no use
		 * counting one peer's tensors to another) */
		struct mw_shm_peer_info *pp =
			s->used[pidx] && s->pi[pidx].gen == s->sent[i].gen
				? &s->pi[pidx]
				: NULL;
		if (status == 0) {
			s->done++;
			s->dense_tx += s->sent[i].sub.d.buf_len;
			if (pp) {
				pp->tensors_tx++;
				pp->dense_tx_bytes += s->sent[i].sub.d.buf_len;
			}
		} else {
			s->failed++;
			if (pp)
				pp->tensors_failed++;
		}
		/* the table before the outcome: an app that has it sees it
		 * counted */
		if (pp)
			mw_shm_dp_peer_set(s->dp, pidx, pp);
		if (status && s->failed <= 5)
			fprintf(stderr,
				"maskwire: shm: tensor tag %" PRIu64
				" failed: %s\n",
				ev->meta.tag, mw_strerror(status));
		/* PARTIAL: the peer delivered it at its deadline (9.1) */
		complete_flags(s, &s->sent[i].sub, status,
			       status == 0 && ev->partial ? MW_SHM_DLV_PARTIAL
							  : 0);
		s->sent[i] = s->sent[--s->sent_n];
		l->sent_n--;
		return;
	}
	case MW_EV_RX_TENSOR:
		break;
	case MW_EV_PEER_RESTARTED:
	case MW_EV_SESSION_CLOSED: {
		int idx = peer_index(s, l->k, ev->peer);
		if (idx < 0)
			return;
		if (ev->type == MW_EV_PEER_RESTARTED)
			s->pi[idx].restarts++;
		else
			s->pi[idx].last_reason = ev->reason;
		l->next_refresh = now; /* publish it now */
		return;
	}
	default:
		return;
	}
	l->received++;
	int src = peer_index(s, l->k, ev->peer);
	if (src < 0) {
		/* not a peer the table shows: never guess one */
		if (++s->unknown_src <= 5)
			fprintf(stderr,
				"maskwire: shm: tensor tag %" PRIu64
				" from core peer %u, which has no index in the "
				"peer table: dropped\n",
				ev->meta.tag, ev->peer);
		s->deliver_errors++;
		free(ev->loss);
		mw_shm_dp_rx_free(s->dp, ev->buf, ev->bytes);
		return;
	}
	s->pi[src].tensors_rx++;
	s->pi[src].dense_rx_bytes += ev->bytes;
	mw_shm_dp_peer_set(s->dp, (uint32_t)src, &s->pi[src]);
	struct mw_shm_desc d;
	memset(&d, 0, sizeof d);
	d.peer = (uint32_t)src;
	d.peer_gen = s->pi[src].gen;
	d.tag = ev->meta.tag;
	d.ndim = ev->meta.ndim;
	for (unsigned i = 0; i < ev->meta.ndim && i < MW_SHM_MAX_DIMS; i++)
		d.dims[i] = ev->meta.dims[i];
	d.dtype = ev->meta.dtype;
	d.kind = ev->meta.kind;
	d.codec = ev->desc.codec;
	d.bits = ev->desc.bits;
	d.rounding = ev->desc.rounding;
	d.k = ev->desc.k;
	if (ev->partial) {
		/* the core's ranges are laid out as the region's */
		_Static_assert(sizeof(struct mw_range) ==
				       sizeof(struct mw_shm_range),
			       "loss map layout");
		mw_shm_dp_put_loss(s->dp, ev->buf, ev->bytes, &d,
				   (const struct mw_shm_range *)ev->loss,
				   ev->loss_cnt, ev->elems_lost);
		s->partial++;
		free(ev->loss); /* the event's, now copied */
	}
	/* keep the order: nothing overtakes a tensor waiting for an app */
	int rc = s->und_n ? MW_EAGAIN
			  : mw_shm_dp_deliver(s->dp, ev->buf, ev->bytes, &d);
	s->dense_rx += ev->bytes;
	if (rc == 0) {
		s->delivered++;
	} else if (rc == MW_EAGAIN && und_push(s, ev->buf, ev->bytes, &d) == 0) {
		/* the app went between allocation and delivery */
	} else {
		s->deliver_errors++;
		if (s->deliver_errors <= 5)
			fprintf(stderr,
				"maskwire: shm: tensor tag %" PRIu64
				" cannot be delivered: %s\n",
				ev->meta.tag, mw_strerror(rc));
		mw_shm_dp_rx_free(s->dp, ev->buf, ev->bytes);
	}
}

void *mw_shmsrc_on_rx_alloc(struct lcore *l, uint64_t bytes)
{
	struct mw_shmsrc *s = l->s;
	void *buf = NULL;
	if (mw_shm_dp_rx_alloc(s->dp, bytes, &buf) < 0) {
		s->rx_nobuf++;
		return NULL; /* no room yet: flow control */
	}
	return buf;
}

void mw_shmsrc_on_rx_free(struct lcore *l, void *buf, uint64_t bytes)
{
	mw_shm_dp_rx_free(l->s->dp, buf, bytes);
}

/* Lcore l's link counters; the region's header shows the sums. */
void mw_shmsrc_on_link(struct lcore *l, struct mw_ep *ep,
		     const struct mw_source_link *lk, uint64_t now)
{
	struct mw_shmsrc *s = l->s;
	peers_refresh(l, ep, now);
	l->link = *lk;
	struct mw_shm_wire_counts w = {
		.tensors_tx = s->done,
		.tensors_rx = s->delivered,
		.tensors_failed = s->failed + s->rejected,
		.dense_tx_bytes = s->dense_tx,
		.dense_rx_bytes = s->dense_rx,
	};
	for (unsigned k = 0; k < s->nlc; k++) {
		w.tx_frames += s->lc[k].link.tx_frames;
		w.tx_bytes += s->lc[k].link.tx_bytes;
		w.rx_frames += s->lc[k].link.rx_frames;
		w.rx_bytes += s->lc[k].link.rx_bytes;
	}
	/* publish only on change: the app polls this cache line */
	if (w.tx_frames == s->wire_pub.tx_frames &&
	    w.rx_frames == s->wire_pub.rx_frames &&
	    w.tensors_tx == s->wire_pub.tensors_tx &&
	    w.tensors_rx == s->wire_pub.tensors_rx &&
	    w.tensors_failed == s->wire_pub.tensors_failed)
		return;
	/* its own endpoint's retransmits now, the others' as they last
	 * published them */
	struct mw_counters c;
	mw_ep_counters(ep, &c);
	l->retrans = c.retrans;
	for (unsigned k = 0; k < s->nlc; k++)
		w.retransmits += s->lc[k].retrans;
	s->wire_pub = w;
	mw_shm_dp_publish_wire(s->dp, &w);
}

static unsigned pending(const struct mw_shmsrc *s)
{
	unsigned n = 0;
	for (unsigned k = 0; k < s->nlc; k++)
		n += s->lc[k].pend.n;
	return n;
}

bool mw_shmsrc_on_busy(const struct lcore *l)
{
	/* queued submits are cancelled at exit; in-flight ones may finish */
	return l->sent_n != 0;
}

void mw_shmsrc_on_status(const struct mw_shmsrc *s, char *buf, unsigned len)
{
	snprintf(buf, len,
		 "shm %s app %s sent %" PRIu64 " failed %" PRIu64
		 " delivered %" PRIu64,
		 s->name, s->attached ? "yes" : "no", s->done,
		 s->failed + s->rejected, s->delivered);
}

void mw_shmsrc_on_stats_json(const struct mw_shmsrc *s, FILE *f)
{
	struct mw_shm_dp_stats st;
	mw_shm_dp_stats(s->dp, &st);
	fprintf(f,
		"\"shm\": {\"name\": \"%s\", \"submitted\": %" PRIu64
		", \"done\": %" PRIu64 ", \"failed\": %" PRIu64
		", \"rejected\": %" PRIu64 ", \"delivered\": %" PRIu64
		", \"deliver_errors\": %" PRIu64 ", \"rx_no_room\": %" PRIu64
		", \"window_full\": %" PRIu64 ", \"forgotten\": %" PRIu64
		", \"unknown_handles\": %" PRIu64 ", \"bad_peer\": %" PRIu64
		", \"stale_peer\": %" PRIu64 ", \"unknown_source\": %" PRIu64
		", \"peers_up\": %" PRIu64 ", \"peers_down\": %" PRIu64
		", \"peer_no_index\": %" PRIu64 ", \"pending\": %u"
		", \"in_transport\": %u, \"waiting_for_app\": %u"
		", \"channel\": {\"submits\": %" PRIu64
		", \"completions\": %" PRIu64 ", \"failures\": %" PRIu64
		", \"bad_submits\": %" PRIu64 ", \"deliveries\": %" PRIu64
		", \"releases\": %" PRIu64 ", \"bad_releases\": %" PRIu64
		", \"attaches\": %" PRIu64 ", \"app_gone\": %" PRIu64
		", \"proto_errors\": %" PRIu64 ", \"reclaimed\": %" PRIu64
		", \"redelivered\": %" PRIu64 ", \"broken\": %" PRIu64
		", \"faults\": %" PRIu64 ", \"recreated\": %" PRIu64
		", \"recreate_errors\": %" PRIu64 ", \"rx_lost\": %" PRIu64
		", \"generation\": %" PRIu64
		", \"rx_free_slots\": %u, \"rx_slots\": %u}",
		s->name, s->submitted, s->done, s->failed, s->rejected,
		s->delivered, s->deliver_errors, s->rx_nobuf, s->window_full,
		s->forgotten, s->unknown_handles, s->bad_peer + st.bad_peers,
		s->stale_peer + st.stale_peers, s->unknown_src, s->peers_up,
		s->peers_down, s->peer_no_index, pending(s), s->sent_n,
		s->und_n, st.submits, st.completions, st.failures,
		st.bad_submits, st.deliveries, st.releases, st.bad_releases,
		st.attaches, st.app_gone, st.proto_errors, st.reclaimed,
		st.redelivered, st.broken, st.faults, st.recreated,
		st.recreate_errors, st.rx_lost, st.dp_generation,
		st.rx_free_slots, st.rx_slots);
	/* per I/O lcore: submits it handed to its endpoint, tensors its
	 * endpoint received */
	fprintf(f, ", \"lcores\": [");
	for (unsigned k = 0; k < s->nlc; k++)
		fprintf(f,
			"%s{\"submitted\": %" PRIu64 ", \"received\": %" PRIu64
			", \"pending\": %u, \"in_transport\": %u}",
			k ? ", " : "", s->lc[k].submitted, s->lc[k].received,
			s->lc[k].pend.n, s->lc[k].sent_n);
	fprintf(f, "]}");
}

void mw_shmsrc_free(struct mw_shmsrc *s)
{
	if (!s)
		return;
	for (unsigned k = 0; k < s->nlc; k++) {
		struct fifo *f = &s->lc[k].pend;
		while (f->n) {
			s->canceled++;
			complete(s, &f->q[f->head], MW_ECANCELED);
			fifo_pop(f);
		}
		free(f->q);
	}
	/* the transport was freed before us: anything it still had is gone */
	for (unsigned i = 0; i < s->sent_n; i++)
		complete(s, &s->sent[i].sub, MW_ECANCELED);
	if (s->dp)
		mw_shm_dp_destroy(s->dp, 1);
	pthread_spin_destroy(&s->lock);
	free(s->pi);
	free(s->core);
	free(s->lc_of);
	free(s->used);
	free(s->by_core);
	free(s->sent);
	free(s->und);
	free(s);
}
