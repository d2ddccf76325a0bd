/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libmaskwire: the app side of the shared-memory channel.
 *
 * Private state (never in the region): the TX pool allocator and the state
 * of each TX buffer, the table of sends in flight, the failures not yet
 * taken, the RX buffers held, and this side's ring indices. Everything read
 * from the region is validated; the data plane is another process.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maskwire.h"
#include "mw_shm.h"
#include "shm_os.h"

_Static_assert(sizeof(struct mw_client_meta) == 72,
	       "mw_client_meta is part of the library ABI (ctypes)");
_Static_assert(MW_CLIENT_MAX_DIMS == MW_SHM_MAX_DIMS, "dims");
_Static_assert(MW_CLIENT_PEER_ACCEPTED == MW_SHM_PEER_ACCEPTED, "flags");
_Static_assert(sizeof(struct mw_client_failure) == 24,
	       "struct mw_client_failure: the layout apps were built with");
_Static_assert(sizeof(struct mw_client_peer) == 80,
	       "mw_client_peer is part of the library ABI (ctypes)");

enum tx_state { TX_FREE = 0, TX_USER = 1, TX_INFLIGHT = 2 };

struct send_ent {
	int64_t cookie; /* 0: entry free */
	uint64_t off, len;
	uint32_t first, nslots;
	uint16_t peer; /* as sent: a failure names it */
};

struct mw_client {
	uint8_t *base;
	uint64_t size;
	int fd;
	struct mw_shm_hdr *h;
	struct mw_shm_hdr id; /* identity as validated at attach */
	uint64_t app_gen;
	uint32_t stale_ms;
	int dead;             /* sticky fatal error, 0 while healthy */
	int acked;            /* the data plane serves app_gen */
	struct mw_shm_ring_end sub, comp, deliv, rel;
	/* TX pool */
	struct mw_slotmap txmap;
	uint64_t *tx_bits;
	uint8_t *tx_state;    /* per first slot */
	uint32_t *tx_nslots;  /* per first slot */
	/* sends in flight: cookie = seq << tbl_bits | index */
	struct send_ent *tbl;
	uint32_t *tbl_free;   /* stack of free indices */
	uint32_t tbl_nfree, tbl_size, tbl_bits;
	uint64_t seq;
	/* failures not yet taken (FIFO) */
	struct mw_client_failure *fail;
	uint32_t fail_head, fail_cnt;
	/* RX buffers held: bytes per first slot, 0 = not held */
	uint64_t *rx_held;
	uint32_t held;
	uint64_t bad_deliveries;
	uint64_t sends_partial;
};

void mw_client_opts_default(struct mw_client_opts *o)
{
	o->timeout_ms = 5000;
	o->stale_ms = 0;
}

unsigned mw_client_elem_size(unsigned dtype)
{
	return mw_dtype_size(dtype);
}

/* ---- liveness and waiting ----------------------------------------------- */

static int set_dead(struct mw_client *c, int err)
{
	if (!c->dead)
		c->dead = err;
	return c->dead;
}

/* Atomics only: cheap enough for every call. */
static int check_cheap(struct mw_client *c)
{
	uint32_t st;

	if (c->dead)
		return c->dead;
	st = atomic_load_explicit(&c->h->dp_state, memory_order_acquire);
	if (st == MW_SHM_DP_CLOSED)
		return set_dead(c, MW_ESHUTDOWN);
	if (st != MW_SHM_DP_READY || c->h->magic != MW_SHM_MAGIC ||
	    c->h->dp_generation != c->id.dp_generation)
		return set_dead(c, MW_ERESET);
	if (c->acked && atomic_load_explicit(&c->h->app_ack,
					     memory_order_acquire) != c->app_gen)
		return set_dead(c, MW_ERESET);
	return 0;
}

/* Plus the data plane's lock: a system call, used before waiting. */
static int check_full(struct mw_client *c)
{
	int rc = check_cheap(c);

	if (rc)
		return rc;
	if (mw_shm_os_locked(c->fd, MW_SHM_LOCK_DP) == 0)
		return set_dead(c, MW_ERESET);
	return 0;
}

int mw_client_check(struct mw_client *c)
{
	return check_full(c);
}

struct waiter {
	int timeout_ms;
	unsigned rounds;
	struct timespec start;
	uint64_t hb;
	uint64_t hb_ms; /* when hb was last seen moving, ms since start */
};

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(t.tv_sec - t0->tv_sec) * 1000u +
	       (uint64_t)((t.tv_nsec - t0->tv_nsec) / 1000000);
}

static void wait_init(struct mw_client *c, struct waiter *w, int timeout_ms)
{
	w->timeout_ms = timeout_ms;
	w->rounds = 0;
	clock_gettime(CLOCK_MONOTONIC, &w->start);
	w->hb = atomic_load_explicit(&c->h->dp_heartbeat, memory_order_acquire);
	w->hb_ms = 0;
}

/*
 * Called when an operation cannot progress. Returns 0 after a short pause
 * (try again), or why to stop: MW_EAGAIN (timeout 0), MW_ETIMEDOUT, or the
 * data plane's death.
 */
static int wait_step(struct mw_client *c, struct waiter *w)
{
	struct timespec ts;
	uint64_t now, hb;
	int rc;

	rc = check_full(c);
	if (rc)
		return rc;
	if (w->timeout_ms == 0)
		return MW_EAGAIN;
	now = ms_since(&w->start);
	if (w->timeout_ms > 0 && now >= (uint64_t)w->timeout_ms)
		return MW_ETIMEDOUT;
	hb = atomic_load_explicit(&c->h->dp_heartbeat, memory_order_acquire);
	if (hb != w->hb) {
		w->hb = hb;
		w->hb_ms = now;
	} else if (c->stale_ms && now - w->hb_ms >= c->stale_ms) {
		return set_dead(c, MW_ERESET);
	}
	if (w->rounds < 8) {
		sched_yield();
	} else {
		/* 20 us doubling up to 1 ms */
		unsigned sh = w->rounds - 8 < 6 ? w->rounds - 8 : 6;
		long ns = 20000L << sh;

		ts.tv_sec = 0;
		ts.tv_nsec = ns > 1000000L ? 1000000L : ns;
		nanosleep(&ts, NULL);
	}
	w->rounds++;
	return 0;
}

/* ---- attach ------------------------------------------------------------- */

static void client_free(struct mw_client *c)
{
	if (!c)
		return;
	mw_shm_os_close(c->fd, c->base, c->size);
	free(c->tx_bits);
	free(c->tx_state);
	free(c->tx_nslots);
	free(c->tbl);
	free(c->tbl_free);
	free(c->fail);
	free(c->rx_held);
	free(c);
}

static int client_tables(struct mw_client *c)
{
	uint32_t n = c->id.ring[MW_SHM_RING_SUBMIT].cap +
		     c->id.ring[MW_SHM_RING_COMPLETE].cap;
	uint32_t i;

	c->tbl_size = 1;
	c->tbl_bits = 0;
	while (c->tbl_size < n) {
		c->tbl_size <<= 1;
		c->tbl_bits++;
	}
	c->tx_bits = calloc(MW_SLOTMAP_WORDS(c->id.tx_slots), sizeof(uint64_t));
	c->tx_state = calloc(c->id.tx_slots, 1);
	c->tx_nslots = calloc(c->id.tx_slots, sizeof(uint32_t));
	c->tbl = calloc(c->tbl_size, sizeof(*c->tbl));
	c->tbl_free = calloc(c->tbl_size, sizeof(uint32_t));
	c->fail = calloc(c->tbl_size, sizeof(*c->fail));
	c->rx_held = calloc(c->id.rx_slots, sizeof(uint64_t));
	if (!c->tx_bits || !c->tx_state || !c->tx_nslots || !c->tbl ||
	    !c->tbl_free || !c->fail || !c->rx_held)
		return MW_ENOMEM;
	mw_slotmap_init(&c->txmap, c->tx_bits, c->id.tx_slots);
	for (i = 0; i < c->tbl_size; i++)
		c->tbl_free[i] = c->tbl_size - 1 - i;
	c->tbl_nfree = c->tbl_size;
	c->seq = 1;
	return 0;
}

int mw_client_attach(const char *name, const struct mw_client_opts *opts,
		     struct mw_client **out)
{
	struct mw_client_opts def;
	char path[MW_SHM_PATH_MAX];
	struct mw_client *c;
	struct waiter w;
	uint64_t gen;
	uint32_t st;
	int rc;

	if (!out)
		return MW_EINVAL;
	if (!opts) {
		mw_client_opts_default(&def);
		opts = &def;
	}
	rc = mw_shm_os_path(name, path, sizeof(path));
	if (rc < 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		return MW_ENOMEM;
	rc = mw_shm_os_open(path, &c->fd, (void **)&c->base, &c->size);
	if (rc < 0) {
		free(c);
		return rc;
	}
	c->h = (struct mw_shm_hdr *)c->base;
	memcpy(&c->id, c->base, sizeof(c->id));
	rc = mw_shm_hdr_check(&c->id, c->size);
	if (rc < 0)
		goto fail;
	st = atomic_load_explicit(&c->h->dp_state, memory_order_acquire);
	if (st != MW_SHM_DP_READY) {
		rc = st == MW_SHM_DP_CLOSED ? MW_ESHUTDOWN : MW_EFORMAT;
		goto fail;
	}
	rc = mw_shm_os_locked(c->fd, MW_SHM_LOCK_DP);
	if (rc <= 0) {
		rc = rc == 0 ? MW_ERESET : rc;
		goto fail;
	}
	rc = mw_shm_os_lock(c->fd, MW_SHM_LOCK_APP);
	if (rc < 0)
		goto fail;
	rc = client_tables(c);
	if (rc < 0)
		goto fail;
	c->stale_ms = opts->stale_ms;
	gen = atomic_load_explicit(&c->h->app_gen, memory_order_relaxed) + 1;
	if (gen == 0)
		gen = 1;
	c->app_gen = gen;
	atomic_store_explicit(&c->h->app_pid, (uint32_t)getpid(),
			      memory_order_relaxed);
	atomic_store_explicit(&c->h->app_gen, gen, memory_order_release);
	wait_init(c, &w, opts->timeout_ms);
	while (atomic_load_explicit(&c->h->app_ack, memory_order_acquire) !=
	       gen) {
		rc = wait_step(c, &w);
		if (rc < 0) {
			rc = rc == MW_EAGAIN ? MW_ETIMEDOUT : rc;
			goto fail;
		}
	}
	c->acked = 1;
	/* The rings were reset before the acknowledgement. */
	mw_shm_ring_bind(&c->sub, c->base, &c->id, MW_SHM_RING_SUBMIT, 1);
	mw_shm_ring_bind(&c->comp, c->base, &c->id, MW_SHM_RING_COMPLETE, 0);
	mw_shm_ring_bind(&c->deliv, c->base, &c->id, MW_SHM_RING_DELIVER, 0);
	mw_shm_ring_bind(&c->rel, c->base, &c->id, MW_SHM_RING_RELEASE, 1);
	*out = c;
	return 0;
fail:
	client_free(c);
	return rc;
}

void mw_client_detach(struct mw_client *c)
{
	client_free(c);
}

/* ---- sending ------------------------------------------------------------ */

static uint32_t nslots(const struct mw_client *c, uint64_t len)
{
	return (uint32_t)((len + c->id.slot_size - 1) / c->id.slot_size);
}

static void tx_release(struct mw_client *c, uint32_t first)
{
	mw_slotmap_free(&c->txmap, first, c->tx_nslots[first]);
	c->tx_state[first] = TX_FREE;
	c->tx_nslots[first] = 0;
}

/* Take every completion the data plane posted. */
static int reap(struct mw_client *c)
{
	struct mw_shm_desc d[32];
	int n, i;

	for (;;) {
		n = mw_shm_ring_dequeue(&c->comp, d, 32);
		if (n < 0)
			return set_dead(c, MW_EFORMAT);
		if (n == 0)
			return 0;
		for (i = 0; i < n; i++) {
			uint64_t idx = (uint64_t)d[i].cookie &
				       (c->tbl_size - 1u);
			struct send_ent *e = &c->tbl[idx];

			if (d[i].cookie == 0 ||
			    e->cookie != (int64_t)d[i].cookie ||
			    e->off != d[i].buf_off || e->len != d[i].buf_len)
				continue; /* not ours: ignore */
			if (e->nslots)
				tx_release(c, e->first);
			if (d[i].status == 0 &&
			    (d[i].reserved & MW_SHM_DLV_PARTIAL))
				c->sends_partial++;
			if (d[i].status != 0) {
				struct mw_client_failure *f =
					&c->fail[(c->fail_head + c->fail_cnt) &
						 (c->tbl_size - 1u)];

				memset(f, 0, sizeof(*f));
				f->cookie = e->cookie;
				f->peer = e->peer;
				f->tag = d[i].tag;
				f->status = d[i].status > 0 ? MW_EINVAL
							    : d[i].status;
				f->kind = d[i].kind;
				c->fail_cnt++;
			}
			e->cookie = 0;
			c->tbl_free[c->tbl_nfree++] = (uint32_t)idx;
		}
	}
}

int mw_client_alloc(struct mw_client *c, uint64_t len, int timeout_ms,
		    struct mw_client_buf *b)
{
	struct waiter w;
	int64_t first;
	uint32_t n;
	int rc;

	rc = check_cheap(c);
	if (rc)
		return rc;
	if (len == 0) {
		b->data = NULL;
		b->len = 0;
		b->off = 0;
		return 0;
	}
	if (len > (uint64_t)c->id.tx_slots * c->id.slot_size)
		return MW_ELIMIT;
	n = nslots(c, len);
	wait_init(c, &w, timeout_ms);
	for (;;) {
		rc = reap(c);
		if (rc)
			return rc;
		first = mw_slotmap_alloc(&c->txmap, n);
		if (first >= 0)
			break;
		if (first != MW_EAGAIN)
			return (int)first;
		rc = wait_step(c, &w);
		if (rc)
			return rc;
	}
	c->tx_state[first] = TX_USER;
	c->tx_nslots[first] = n;
	b->off = c->id.tx_off + (uint64_t)first * c->id.slot_size;
	b->data = c->base + b->off;
	b->len = len;
	return 0;
}

/* First slot of a TX buffer the caller holds, or -1. */
static int64_t tx_user(const struct mw_client *c, const struct mw_client_buf *b)
{
	uint64_t rel, slot;

	if (b->off < c->id.tx_off)
		return -1;
	rel = b->off - c->id.tx_off;
	slot = rel / c->id.slot_size;
	if (rel % c->id.slot_size || slot >= c->id.tx_slots ||
	    c->tx_state[slot] != TX_USER ||
	    b->len > (uint64_t)c->tx_nslots[slot] * c->id.slot_size ||
	    b->data != c->base + b->off)
		return -1;
	return (int64_t)slot;
}

int mw_client_free(struct mw_client *c, const struct mw_client_buf *b)
{
	int64_t slot;

	if (b->len == 0 && b->data == NULL)
		return 0;
	slot = tx_user(c, b);
	if (slot < 0)
		return MW_EINVAL;
	tx_release(c, (uint32_t)slot);
	return 0;
}

static void meta_to_desc(const struct mw_client_meta *m, struct mw_shm_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->tag = m->tag;
	memcpy(d->dims, m->dims, sizeof(d->dims));
	d->ndim = m->ndim;
	d->dtype = m->dtype;
	d->kind = m->kind;
	d->codec = m->codec;
	d->bits = m->bits;
	d->rounding = m->rounding;
	d->peer = m->peer;
	d->peer_gen = m->peer_gen;
	d->k = m->k;
	d->ratio = m->ratio;
	if (m->flags & MW_CLIENT_SEND_RELIABLE)
		d->reserved = MW_SHM_SUB_RELIABLE;
}

static void desc_to_meta(const struct mw_shm_desc *d, struct mw_client_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->tag = d->tag;
	memcpy(m->dims, d->dims, sizeof(m->dims));
	m->ndim = d->ndim;
	m->dtype = d->dtype;
	m->kind = d->kind;
	m->codec = d->codec;
	m->bits = d->bits;
	m->rounding = d->rounding;
	m->peer = (uint16_t)d->peer;
	m->peer_gen = d->peer_gen;
	m->k = d->k;
	m->ratio = d->ratio;
}

int64_t mw_client_send(struct mw_client *c, const struct mw_client_buf *b,
		       const struct mw_client_meta *meta, int timeout_ms)
{
	struct mw_shm_desc d;
	struct send_ent *e;
	struct waiter w;
	int64_t slot = -1, bytes;
	uint32_t idx;
	int rc;

	rc = check_cheap(c);
	if (rc)
		return rc;
	if (meta->ndim > MW_CLIENT_MAX_DIMS)
		return MW_EINVAL;
	/* an older data plane would send it to its first peer */
	if (meta->peer != 0 && c->id.abi_minor < 1)
		return MW_EUNSUPP;
	if (meta->flags & ~(uint32_t)MW_CLIENT_SEND_RELIABLE)
		return MW_EINVAL;
	/* ... or with its deadline */
	if (meta->flags && c->id.abi_minor < 3)
		return MW_EUNSUPP;
	bytes = mw_shm_tensor_bytes(meta->dtype, meta->ndim, meta->dims);
	if (bytes < 0)
		return bytes == MW_ERANGE ? MW_EINVAL : bytes;
	if (bytes > 0) {
		slot = tx_user(c, b);
		if (slot < 0 || (uint64_t)bytes > b->len)
			return MW_EINVAL;
	}
	meta_to_desc(meta, &d);
	if (c->id.abi_minor < 2)
		d.peer_gen = 0; /* its descriptors have no such field yet */
	d.buf_off = bytes > 0 ? b->off : 0;
	d.buf_len = (uint64_t)bytes;
	rc = mw_shm_desc_check(&d, c->id.tx_off,
			       (uint64_t)c->id.tx_slots * c->id.slot_size);
	if (rc < 0)
		return rc;
	wait_init(c, &w, timeout_ms);
	for (;;) {
		rc = reap(c);
		if (rc)
			return rc;
		/* a table entry, and room to keep its failure if it fails */
		if (c->tbl_nfree > 0 && c->fail_cnt + (c->tbl_size -
						       c->tbl_nfree) <
						c->tbl_size) {
			idx = c->tbl_free[c->tbl_nfree - 1];
			d.cookie = (c->seq << c->tbl_bits) | idx;
			rc = mw_shm_ring_enqueue(&c->sub, &d, 1);
			if (rc < 0)
				return set_dead(c, MW_EFORMAT);
			if (rc == 1)
				break;
		}
		rc = wait_step(c, &w);
		if (rc)
			return rc;
	}
	c->tbl_nfree--;
	c->seq++;
	e = &c->tbl[idx];
	e->cookie = (int64_t)d.cookie;
	e->off = d.buf_off;
	e->len = d.buf_len;
	e->peer = meta->peer;
	e->first = slot >= 0 ? (uint32_t)slot : 0;
	e->nslots = slot >= 0 ? c->tx_nslots[slot] : 0;
	if (slot >= 0)
		c->tx_state[slot] = TX_INFLIGHT;
	else if (b && b->len)
		mw_client_free(c, b); /* an empty tensor needs no buffer */
	return e->cookie;
}

/* Remove cookie's failure if listed; returns its status or 1 if absent. */
static int take_failure(struct mw_client *c, int64_t cookie)
{
	uint32_t i, m = c->tbl_size - 1u;

	for (i = 0; i < c->fail_cnt; i++) {
		struct mw_client_failure *f = &c->fail[(c->fail_head + i) & m];
		int st;

		if (f->cookie != cookie)
			continue;
		st = f->status;
		for (; i + 1 < c->fail_cnt; i++)
			c->fail[(c->fail_head + i) & m] =
				c->fail[(c->fail_head + i + 1) & m];
		c->fail_cnt--;
		return st;
	}
	return 1;
}

int mw_client_wait(struct mw_client *c, int64_t cookie, int timeout_ms,
		   int *status)
{
	uint64_t idx = (uint64_t)cookie & (c->tbl_size - 1u);
	uint64_t seq = (uint64_t)cookie >> c->tbl_bits;
	struct waiter w;
	int rc;

	rc = check_cheap(c);
	if (rc)
		return rc;
	if (cookie <= 0 || seq == 0 || seq >= c->seq)
		return MW_ENOENT;
	wait_init(c, &w, timeout_ms);
	for (;;) {
		rc = reap(c);
		if (rc)
			return rc;
		if (c->tbl[idx].cookie != cookie)
			break;
		rc = wait_step(c, &w);
		if (rc)
			return rc;
	}
	rc = take_failure(c, cookie);
	if (rc == 1) {
		/* Not failed: succeeded, unless a failure of it was taken
		 * earlier. Successes leave no trace, so both read as 0. */
		*status = 0;
		return 0;
	}
	*status = rc;
	return 0;
}

int mw_client_poll_failure(struct mw_client *c, struct mw_client_failure *f)
{
	int rc = check_cheap(c);

	if (rc)
		return rc;
	rc = reap(c);
	if (rc)
		return rc;
	if (c->fail_cnt == 0)
		return 0;
	*f = c->fail[c->fail_head];
	c->fail_head = (c->fail_head + 1) & (c->tbl_size - 1u);
	c->fail_cnt--;
	return 1;
}

/* ---- receiving ---------------------------------------------------------- */

/* A partial delivery's loss map (SHM.md): used only where the data plane
 * puts it, inside the delivered buffer's slots after the tensor. */
static void rx_loss(const struct mw_client *c, const struct mw_shm_desc *d,
		    struct mw_client_rx *rx)
{
	uint64_t end = (d->buf_len + 15) & ~(uint64_t)15;
	uint64_t run = (d->buf_len + c->id.slot_size - 1) / c->id.slot_size *
		       (uint64_t)c->id.slot_size;

	rx->partial = 0;
	rx->loss_cnt = 0;
	rx->elems_lost = 0;
	rx->loss = NULL;
	if (!(d->reserved & MW_SHM_DLV_PARTIAL) || d->buf_len == 0)
		return;
	rx->partial = 1;
	rx->loss_cnt = d->loss_cnt;
	rx->elems_lost = d->elems_lost;
	if (d->loss_off == d->buf_off + end && run >= end &&
	    (uint64_t)d->loss_cnt * sizeof(struct mw_client_range) <=
		    run - end)
		rx->loss = (const struct mw_client_range *)(c->base +
							    d->loss_off);
}

/* A delivery's source: an entry of the table (0 without one). */
static int peer_ok(const struct mw_client *c, uint32_t peer)
{
	return c->id.abi_minor >= 1 ? peer < c->id.peer_cap
				    : peer == 0;
}

int mw_client_recv(struct mw_client *c, struct mw_client_rx *rx, int timeout_ms)
{
	const uint64_t rx_len = (uint64_t)c->id.rx_slots * c->id.slot_size;
	struct mw_shm_desc d;
	struct waiter w;
	int rc;

	rc = check_cheap(c);
	if (rc)
		return rc;
	wait_init(c, &w, timeout_ms);
	for (;;) {
		rc = mw_shm_ring_dequeue(&c->deliv, &d, 1);
		if (rc < 0)
			return set_dead(c, MW_EFORMAT);
		if (rc == 1) {
			uint64_t slot = (d.buf_off - c->id.rx_off) /
					c->id.slot_size;

			if (mw_shm_desc_check(&d, c->id.rx_off, rx_len) == 0 &&
			    peer_ok(c, d.peer) &&
			    (d.buf_len == 0 ||
			     ((d.buf_off - c->id.rx_off) % c->id.slot_size ==
				      0 &&
			      c->rx_held[slot] == 0)))
				break;
			c->bad_deliveries++;
			continue;
		}
		rc = wait_step(c, &w);
		if (rc)
			return rc;
	}
	desc_to_meta(&d, &rx->meta);
	rx_loss(c, &d, rx);
	rx->buf.len = d.buf_len;
	rx->buf.off = d.buf_off;
	rx->buf.data = d.buf_len ? c->base + d.buf_off : NULL;
	if (d.buf_len) {
		c->rx_held[(d.buf_off - c->id.rx_off) / c->id.slot_size] =
			d.buf_len;
		c->held++;
	}
	return 0;
}

int mw_client_release(struct mw_client *c, const struct mw_client_buf *b)
{
	struct mw_shm_desc d;
	uint64_t rel, slot;
	int rc;

	rc = check_cheap(c);
	if (rc)
		return rc;
	if (b->len == 0)
		return 0;
	rel = b->off - c->id.rx_off;
	slot = rel / c->id.slot_size;
	if (b->off < c->id.rx_off || rel % c->id.slot_size ||
	    slot >= c->id.rx_slots || c->rx_held[slot] != b->len)
		return MW_ENOENT;
	memset(&d, 0, sizeof(d));
	d.buf_off = b->off;
	d.buf_len = b->len;
	/* Cannot be full: the ring holds one entry per RX slot. */
	rc = mw_shm_ring_enqueue(&c->rel, &d, 1);
	if (rc < 0)
		return set_dead(c, MW_EFORMAT);
	if (rc == 0)
		return check_full(c) ? c->dead : MW_EAGAIN;
	c->rx_held[slot] = 0;
	c->held--;
	return 0;
}

int mw_client_peers(struct mw_client *c, struct mw_client_peer *out,
		    unsigned max)
{
	struct mw_shm_peer e;
	uint32_t n, i;
	int rc;

	rc = check_cheap(c);
	if (rc)
		return rc;
	n = mw_shm_peer_count(c->base, &c->id);
	for (i = 0; i < n && i < max; i++) {
		rc = mw_shm_peer_load(c->base, &c->id, i, &e);
		if (rc < 0)
			return rc;
		memset(&out[i], 0, sizeof(out[i]));
		out[i].index = i;
		memcpy(out[i].ip, e.ip, 4);
		out[i].port = e.port;
		out[i].state = e.state;
		out[i].flags = e.flags & MW_SHM_PEER_ACCEPTED;
		out[i].gen = c->id.abi_minor >= 2 ? e.gen : 0;
		out[i].restarts = e.restarts;
		out[i].sessions = e.sessions;
		out[i].remote_inc = e.remote_inc;
		out[i].last_reason = e.last_reason;
		out[i].tensors_tx = e.tensors_tx;
		out[i].tensors_rx = e.tensors_rx;
		out[i].tensors_failed = e.tensors_failed;
		out[i].dense_tx_bytes = e.dense_tx_bytes;
		out[i].dense_rx_bytes = e.dense_rx_bytes;
		out[i].srtt_ns = e.srtt_ns;
	}
	return (int)n;
}

int mw_client_info(struct mw_client *c, struct mw_client_info *i)
{
	memset(i, 0, sizeof(*i));
	i->dp_generation = c->id.dp_generation;
	i->app_gen = c->app_gen;
	i->region_size = c->size;
	i->heartbeat = atomic_load_explicit(&c->h->dp_heartbeat,
					    memory_order_acquire);
	i->slot_size = c->id.slot_size;
	i->tx_slots = c->id.tx_slots;
	i->rx_slots = c->id.rx_slots;
	i->tx_free_slots = c->txmap.nfree;
	i->ring_size = c->id.ring[MW_SHM_RING_SUBMIT].cap;
	i->inflight = c->tbl_size - c->tbl_nfree;
	i->held = c->held;
	i->failures = c->fail_cnt;
	i->bad_deliveries = c->bad_deliveries;
	i->sends_partial = c->sends_partial;
	/* seq first (acquire): the counters are at least that fresh */
	i->wire_seq = atomic_load_explicit(&c->h->wire.seq,
					   memory_order_acquire);
#define MW_WIRE_LOAD_(dst, src)                                               \
	i->dst = atomic_load_explicit(&c->h->wire.src, memory_order_relaxed)
	MW_WIRE_LOAD_(wire_tx_frames, tx_frames);
	MW_WIRE_LOAD_(wire_tx_bytes, tx_bytes);
	MW_WIRE_LOAD_(wire_rx_frames, rx_frames);
	MW_WIRE_LOAD_(wire_rx_bytes, rx_bytes);
	MW_WIRE_LOAD_(tensors_tx, tensors_tx);
	MW_WIRE_LOAD_(tensors_rx, tensors_rx);
	MW_WIRE_LOAD_(tensors_failed, tensors_failed);
	MW_WIRE_LOAD_(retransmits, retransmits);
	MW_WIRE_LOAD_(dense_tx_bytes, dense_tx_bytes);
	MW_WIRE_LOAD_(dense_rx_bytes, dense_rx_bytes);
#undef MW_WIRE_LOAD_
	return 0;
}
