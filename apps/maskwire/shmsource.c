/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared-memory traffic source (see shmsource.h). */
#include "shmsource.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BURST 32u
#define PEND_CAP 64u /* submits taken, waiting for the transport window */
#define PEER_REFRESH_NS 1000000u /* peer table: states every 1 ms */

/* A submit handed to the transport, waiting for its TX_DONE/TX_FAILED. */
struct sent {
	uint64_t handle;
	uint32_t gen; /* its peer entry's gen then: counted to it only if
		       * the entry still holds that peer */
	struct mw_shm_sub sub;
};

/* A received tensor the channel could not take yet (no app). */
struct undelivered {
	void *buf;
	uint64_t bytes;
	struct mw_shm_desc meta;
};

struct mw_shmsrc {
	struct mw_shm_dp *dp;
	char name[128];
	uint16_t deadline_ms;
	/* FIFO of taken submits not yet accepted by the transport */
	struct mw_shm_sub pend[PEND_CAP];
	unsigned pend_head, pend_n;
	/* submits in the transport, by handle (unordered, swap-remove) */
	struct sent *sent;
	unsigned sent_n, sent_cap;
	/* FIFO of received tensors waiting for an app */
	struct undelivered *und;
	unsigned und_head, und_n, und_cap;
	/* counters */
	uint64_t submitted, done, failed, rejected, canceled, forgotten;
	uint64_t delivered, deliver_errors, rx_nobuf, window_full, partial;
	uint64_t unknown_handles, apps_new, apps_gone, region_events;
	uint64_t dense_tx, dense_rx;
	struct mw_shm_wire_counts wire_pub;
	bool attached;
	/* the peer table: index i is the data plane's slot i (configured
	 * peers: the loop's peers[i]; then the accepted ones, from peer()) */
	struct mw_shm_peer_info *pi;
	uint16_t *core;                       /* core peer id of each index */
	uint8_t *used;                        /* the index holds a peer now */
	int16_t by_core[MW_SOURCE_MAX_PEERS]; /* index of a core id, or -1 */
	unsigned npi;    /* entries of the region's table */
	unsigned nconf;  /* configured peers seen in poll() */
	unsigned nidx;   /* indices used so far: 0..nidx-1 */
	unsigned accept; /* accept slots of the data plane */
	uint64_t next_refresh, bad_peer, stale_peer, unknown_src;
	uint64_t peers_up, peers_down, peer_no_index;
};

uint64_t mw_shmsrc_max_tensor(const struct mw_shmsrc_cfg *cfg)
{
	const struct mw_shm_geom *g = &cfg->shm.geom;
	uint32_t slots = g->tx_slots < g->rx_slots ? g->tx_slots : g->rx_slots;
	return (uint64_t)slots * g->slot_size;
}

int mw_shmsrc_new(const struct mw_shmsrc_cfg *cfg, struct mw_shmsrc **out)
{
	*out = NULL;
	struct mw_shmsrc *s = calloc(1, sizeof(*s));
	if (!s)
		return MW_ENOMEM;
	snprintf(s->name, sizeof s->name, "%s", cfg->name);
	s->deadline_ms = cfg->deadline_ms;
	s->accept = cfg->accept_slots;
	for (unsigned i = 0; i < MW_SOURCE_MAX_PEERS; i++)
		s->by_core[i] = -1;
	/* a table entry for every peer, configured or accepted (the
	 * default has room for 64) */
	struct mw_shm_cfg shm = cfg->shm;
	if (shm.geom.peer_cap < cfg->npeers + cfg->accept_slots)
		shm.geom.peer_cap = cfg->npeers + cfg->accept_slots;
	int rc = mw_shm_dp_create(cfg->name, &shm, &s->dp);
	if (rc < 0) {
		free(s);
		return rc;
	}
	/* room for every index the table has; the loop's peers beyond the
	 * configured addresses are shown without one (0.0.0.0:0) */
	s->npi = mw_shm_dp_peer_cap(s->dp);
	s->pi = calloc(s->npi, sizeof(*s->pi));
	s->core = calloc(s->npi, sizeof(*s->core));
	s->used = calloc(s->npi, sizeof(*s->used));
	if (!s->pi || !s->core || !s->used) {
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

/* ---- peers -------------------------------------------------------------- */

/* Index of a core peer id in the table, or -1. */
static int peer_index(const struct mw_shmsrc *s, uint16_t core)
{
	return core < MW_SOURCE_MAX_PEERS ? s->by_core[core] : -1;
}

static void index_take(struct mw_shmsrc *s, unsigned i, uint16_t core)
{
	if (s->used[i] && s->core[i] < MW_SOURCE_MAX_PEERS &&
	    s->by_core[s->core[i]] == (int16_t)i)
		s->by_core[s->core[i]] = -1;
	s->used[i] = 1;
	s->core[i] = core;
	if (core < MW_SOURCE_MAX_PEERS)
		s->by_core[core] = (int16_t)i;
	if (i >= s->nidx)
		s->nidx = i + 1;
}

/* The data plane accepted a peer into slot index, or reclaimed it: the
 * table's entry follows. A new peer at an index gets the next gen, so a
 * SUBMIT meant for the one before it is refused (MW_ESTALE). */
static void shm_peer(void *ctx, unsigned index, uint16_t core, uint32_t ip,
		     uint16_t port, bool up)
{
	struct mw_shmsrc *s = ctx;
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
		index_take(s, index, core);
		s->peers_up++;
	} else {
		if (!s->used[index] || s->core[index] != core)
			return;
		s->used[index] = 0;
		if (core < MW_SOURCE_MAX_PEERS &&
		    s->by_core[core] == (int16_t)index)
			s->by_core[core] = -1;
		/* address and gen stay: who was there, and the base of the
		 * next peer's gen */
		p->state = MW_SHM_PEER_NONE;
		s->peers_down++;
	}
	mw_shm_dp_peer_set(s->dp, index, p);
}

/* Session states and RTTs into the table (the counters move with the
 * events); mw_shm_dp_peer_set() writes only what changed. */
static void peers_refresh(struct mw_shmsrc *s, struct mw_ep *ep, uint64_t now)
{
	static const uint8_t state_of[] = {
		[MW_PEER_FREE] = MW_SHM_PEER_NONE,
		[MW_PEER_IDLE] = MW_SHM_PEER_DOWN,
		[MW_PEER_HELLO] = MW_SHM_PEER_CONNECTING,
		[MW_PEER_OPEN] = MW_SHM_PEER_UP,
	};
	if (now < s->next_refresh)
		return;
	s->next_refresh = now + PEER_REFRESH_NS;
	for (unsigned i = 0; i < s->nidx; i++) {
		struct mw_peer_info info;
		struct mw_shm_peer_info *p = &s->pi[i];
		if (!s->used[i] || mw_ep_peer_info(ep, s->core[i], &info) < 0)
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

static int sent_add(struct mw_shmsrc *s, uint64_t handle, uint32_t gen,
		    const struct mw_shm_sub *sub)
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
	s->sent[s->sent_n].sub = *sub;
	s->sent_n++;
	return 0;
}

static void pend_pop(struct mw_shmsrc *s)
{
	s->pend_head = (s->pend_head + 1) % PEND_CAP;
	s->pend_n--;
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
	if (cp->codec != MW_CODEC_RAW)
		m->deadline_ms = deadline_ms;
}

static void complete(struct mw_shmsrc *s, const struct mw_shm_sub *sub,
		     int status)
{
	complete_flags(s, sub, status, 0);
}

/* Hand queued submits to the transport until its window is full. */
static int submit_pending(struct mw_shmsrc *s, struct mw_ep *ep, uint64_t now)
{
	int count = 0;
	while (s->pend_n) {
		struct mw_shm_sub *sub = &s->pend[s->pend_head];
		struct mw_tensor_meta m;
		struct mw_codec_params cp;
		uint64_t handle = 0;
		uint32_t idx = sub->d.peer;
		int bad = 0;
		/* the channel checked it against the table when it took it;
		 * the index may have changed hands since (it waited here) */
		if (idx >= s->npi || !s->used[idx]) {
			s->bad_peer++;
			bad = MW_ENOENT;
		} else if (!mw_shm_peer_gen_ok(s->pi[idx].flags, s->pi[idx].gen,
					       sub->d.peer_gen)) {
			s->stale_peer++;
			bad = MW_ESTALE;
		}
		if (bad) {
			complete(s, sub, bad);
			pend_pop(s);
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
		} else if (sent_add(s, handle, s->pi[idx].gen, sub) < 0) {
			/* out of memory: a fatal source error (the data plane
			 * stops); the sub stays queued, so it is completed
			 * with MW_ECANCELED at exit */
			return MW_ENOMEM;
		} else {
			s->submitted++;
			count++;
		}
		pend_pop(s);
	}
	return count;
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

static int shm_poll(void *ctx, struct mw_ep *ep, const uint16_t *peers,
		    unsigned npeers, uint64_t now)
{
	struct mw_shmsrc *s = ctx;
	unsigned ev = mw_shm_dp_service(s->dp, now);
	if (ev & MW_SHM_EV_APP_GONE) {
		/* Its queued submits were never given to the transport:
		 * forget them before the next service call hands the TX
		 * pool to a new app. Submits already in the transport were
		 * copied at submit; their completions find nobody. */
		s->forgotten += s->pend_n;
		s->pend_n = 0;
		s->pend_head = 0;
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
	s->nconf = npeers < s->npi ? npeers : s->npi;
	for (unsigned i = 0; i < s->nconf; i++) {
		if (!s->used[i] || s->core[i] != peers[i])
			index_take(s, i, peers[i]);
		if (s->pi[i].state == MW_SHM_PEER_NONE) {
			s->pi[i].state = MW_SHM_PEER_DOWN;
			s->pi[i].gen = 1;
			mw_shm_dp_peer_set(s->dp, i, &s->pi[i]);
		}
	}
	/* no peer now and none to come: submits stay in the ring */
	if (s->nconf == 0 && s->accept == 0)
		return 0;
	int count = submit_pending(s, ep, now);
	if (count < 0)
		return count;
	while (s->pend_n == 0) {
		struct mw_shm_sub subs[BURST];
		unsigned n = mw_shm_dp_poll_submits(s->dp, subs, BURST);
		if (n == 0)
			break;
		for (unsigned i = 0; i < n; i++)
			s->pend[(s->pend_head + s->pend_n++) % PEND_CAP] =
				subs[i];
		int rc = submit_pending(s, ep, now);
		if (rc < 0)
			return rc;
		count += rc;
	}
	return count;
}

static void shm_event(void *ctx, struct mw_ep *ep, const struct mw_event *ev,
		      uint64_t now)
{
	struct mw_shmsrc *s = ctx;
	(void)ep;
	switch (ev->type) {
	case MW_EV_TX_DONE:
	case MW_EV_TX_FAILED: {
		unsigned i;
		for (i = 0; i < s->sent_n; i++)
			if (s->sent[i].handle == ev->handle)
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
		return;
	}
	case MW_EV_RX_TENSOR:
		break;
	case MW_EV_PEER_RESTARTED:
	case MW_EV_SESSION_CLOSED: {
		int idx = peer_index(s, ev->peer);
		if (idx < 0)
			return;
		if (ev->type == MW_EV_PEER_RESTARTED)
			s->pi[idx].restarts++;
		else
			s->pi[idx].last_reason = ev->reason;
		s->next_refresh = now; /* publish it now */
		return;
	}
	default:
		return;
	}
	int src = peer_index(s, ev->peer);
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

static void *shm_rx_alloc(void *ctx, uint64_t bytes,
			  const struct mw_rx_info *ri)
{
	struct mw_shmsrc *s = ctx;
	void *buf = NULL;
	(void)ri;
	if (mw_shm_dp_rx_alloc(s->dp, bytes, &buf) < 0) {
		s->rx_nobuf++;
		return NULL; /* no room yet: flow control */
	}
	return buf;
}

static void shm_rx_free(void *ctx, void *buf, uint64_t bytes)
{
	struct mw_shmsrc *s = ctx;
	mw_shm_dp_rx_free(s->dp, buf, bytes);
}

static void shm_link(void *ctx, struct mw_ep *ep,
		     const struct mw_source_link *l, uint64_t now)
{
	struct mw_shmsrc *s = ctx;
	struct mw_counters k;
	peers_refresh(s, ep, now);
	/* publish only on change: the app polls this cache line */
	if (l->tx_frames == s->wire_pub.tx_frames &&
	    l->rx_frames == s->wire_pub.rx_frames &&
	    s->done == s->wire_pub.tensors_tx &&
	    s->delivered == s->wire_pub.tensors_rx &&
	    s->failed + s->rejected == s->wire_pub.tensors_failed)
		return;
	mw_ep_counters(ep, &k);
	struct mw_shm_wire_counts w = {
		.tx_frames = l->tx_frames,
		.tx_bytes = l->tx_bytes,
		.rx_frames = l->rx_frames,
		.rx_bytes = l->rx_bytes,
		.tensors_tx = s->done,
		.tensors_rx = s->delivered,
		.tensors_failed = s->failed + s->rejected,
		.retransmits = k.retrans,
		.dense_tx_bytes = s->dense_tx,
		.dense_rx_bytes = s->dense_rx,
	};
	s->wire_pub = w;
	mw_shm_dp_publish_wire(s->dp, &w);
}

static bool shm_busy(void *ctx)
{
	const struct mw_shmsrc *s = ctx;
	/* queued submits are cancelled at exit; in-flight ones may finish */
	return s->sent_n != 0;
}

static void shm_status(void *ctx, char *buf, unsigned len)
{
	const struct mw_shmsrc *s = ctx;
	snprintf(buf, len,
		 "shm %s app %s sent %" PRIu64 " failed %" PRIu64
		 " delivered %" PRIu64,
		 s->name, s->attached ? "yes" : "no", s->done,
		 s->failed + s->rejected, s->delivered);
}

static void shm_stats_json(void *ctx, FILE *f)
{
	const struct mw_shmsrc *s = ctx;
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
		", \"rx_free_slots\": %u, \"rx_slots\": %u}}",
		s->name, s->submitted, s->done, s->failed, s->rejected,
		s->delivered, s->deliver_errors, s->rx_nobuf, s->window_full,
		s->forgotten, s->unknown_handles, s->bad_peer + st.bad_peers,
		s->stale_peer + st.stale_peers, s->unknown_src, s->peers_up,
		s->peers_down, s->peer_no_index, s->pend_n, s->sent_n, s->und_n,
		st.submits, st.completions, st.failures, st.bad_submits,
		st.deliveries, st.releases, st.bad_releases, st.attaches,
		st.app_gone, st.proto_errors, st.reclaimed, st.redelivered,
		st.broken, st.faults, st.recreated, st.recreate_errors,
		st.rx_lost, st.dp_generation, st.rx_free_slots, st.rx_slots);
}

void mw_shmsrc_source(struct mw_shmsrc *s, struct mw_source *src)
{
	memset(src, 0, sizeof(*src));
	src->name = "shm";
	src->ctx = s;
	src->rx_alloc.alloc = shm_rx_alloc;
	src->rx_alloc.free = shm_rx_free;
	src->rx_alloc.ctx = s;
	src->poll = shm_poll;
	src->event = shm_event;
	src->link = shm_link;
	src->peer = shm_peer;
	src->busy = shm_busy;
	src->stats_json = shm_stats_json;
	src->status = shm_status;
}

void mw_shmsrc_free(struct mw_shmsrc *s)
{
	if (!s)
		return;
	while (s->pend_n) {
		s->canceled++;
		complete(s, &s->pend[s->pend_head], MW_ECANCELED);
		pend_pop(s);
	}
	/* the transport was freed before us: anything it still had is gone */
	for (unsigned i = 0; i < s->sent_n; i++)
		complete(s, &s->sent[i].sub, MW_ECANCELED);
	if (s->dp)
		mw_shm_dp_destroy(s->dp, 1);
	free(s->pi);
	free(s->core);
	free(s->used);
	free(s->sent);
	free(s->und);
	free(s);
}
