/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Data-plane side of the shared-memory channel. Everything here is memory
 * logic over the mapped region plus private state; files, mappings and lock
 * probes are in shm_os.c.
 *
 * Private state that the app can never touch:
 * - the RX pool allocator (slot map) and per-buffer state (FILLING while the
 *   data plane owns it, DELIVERED once it is the app's);
 * - this side's ring indices (shadows in mw_shm_ring_end);
 * - the count of submits taken and not yet completed (inflight), which
 *   reserves completion slots.
 *
 * The region's file can be shrunk by any process that can open it. The
 * mapping is guarded (shm_os.h): a SIGBUS in it turns it into private zero
 * pages and marks it hit. Either that or a file size that no longer matches
 * (checked at every attach and liveness probe) makes the region broken: the
 * app is dropped, what the region held is given up, and a new file is
 * created under the same name, mapped at the same address.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mw_shm_dp.h"
#include "shm_os.h"

/* RX_CARRY: delivered to an app that went without taking it; it is
 * delivered again to the next app. RX_LOST: was being filled when the
 * region broke; refused at delivery, freed by the transport. */
enum rx_state {
	RX_FREE = 0,
	RX_FILLING = 1,
	RX_DELIVERED = 2,
	RX_CARRY = 3,
	RX_LOST = 4,
};

#define BURST 32u

struct mw_shm_dp {
	uint8_t *base;
	uint64_t size;
	int fd;
	int guard;            /* SIGBUS guard of [base, base + size) */
	struct mw_shm_hdr *h;
	char path[MW_SHM_PATH_MAX];
	/* layout, kept from what we wrote: the header is never re-read, the
	 * app could have scribbled on it */
	struct mw_shm_geom geom;
	struct mw_shm_hdr *id; /* identity of the current file */
	uint64_t gen;          /* its dp_generation */
	int broken;            /* file resized or mapping lost: re-create */
	int down;              /* broken, not re-created yet */
	uint64_t next_retry;
	uint64_t tx_off, tx_len, rx_off, rx_len;
	uint32_t slot_size, rx_slots;
	struct mw_shm_ring_end sub, comp, deliv, rel;
	struct mw_slotmap rxmap;
	uint64_t *rx_bits;
	uint64_t *rx_bytes;  /* per first slot of a buffer: its bytes */
	uint8_t *rx_state;   /* per first slot: enum rx_state */
	uint32_t rx_reserved; /* allocated, not delivered (DELIVER slots) */
	struct mw_shm_desc *carry; /* untaken deliveries of a gone app */
	uint32_t carry_n;
	uint32_t inflight;    /* submits taken, not completed */
	uint64_t cur_gen;     /* app generation served, 0 none */
	uint64_t ignore_gen;  /* generation that is gone */
	unsigned pending_ev;  /* events raised outside mw_shm_dp_service() */
	uint64_t liveness_ns, next_probe;
	uint64_t heartbeat;
	uint64_t wire_seq;
	struct mw_shm_wire_counts wire_last; /* republished in a new file */
	/* the peer table as published (republished in a new file); the
	 * region's copy is never read back */
	struct mw_shm_peer_info *peers;
	uint32_t *peer_seq;
	uint32_t peer_cap, peer_count;
	uint64_t peers_seq;
	struct mw_shm_dp_stats st;
};

void mw_shm_cfg_default(struct mw_shm_cfg *cfg)
{
	cfg->geom.ring_size = 256;
	cfg->geom.slot_size = 64u << 10;
	cfg->geom.tx_slots = 1024;
	cfg->geom.rx_slots = 1024;
	cfg->geom.peer_cap = MW_SHM_PEERS_DEFAULT;
	cfg->liveness_ns = 10u * 1000u * 1000u;
}

static void rings_bind(struct mw_shm_dp *dp)
{
	mw_shm_ring_bind(&dp->sub, dp->base, dp->id, MW_SHM_RING_SUBMIT, 0);
	mw_shm_ring_bind(&dp->comp, dp->base, dp->id, MW_SHM_RING_COMPLETE, 1);
	mw_shm_ring_bind(&dp->deliv, dp->base, dp->id, MW_SHM_RING_DELIVER, 1);
	mw_shm_ring_bind(&dp->rel, dp->base, dp->id, MW_SHM_RING_RELEASE, 0);
}

static void wire_store(struct mw_shm_wire *o,
		       const struct mw_shm_wire_counts *w, uint64_t seq)
{
	atomic_store_explicit(&o->tx_frames, w->tx_frames, memory_order_relaxed);
	atomic_store_explicit(&o->tx_bytes, w->tx_bytes, memory_order_relaxed);
	atomic_store_explicit(&o->rx_frames, w->rx_frames, memory_order_relaxed);
	atomic_store_explicit(&o->rx_bytes, w->rx_bytes, memory_order_relaxed);
	atomic_store_explicit(&o->tensors_tx, w->tensors_tx,
			      memory_order_relaxed);
	atomic_store_explicit(&o->tensors_rx, w->tensors_rx,
			      memory_order_relaxed);
	atomic_store_explicit(&o->tensors_failed, w->tensors_failed,
			      memory_order_relaxed);
	atomic_store_explicit(&o->retransmits, w->retransmits,
			      memory_order_relaxed);
	atomic_store_explicit(&o->dense_tx_bytes, w->dense_tx_bytes,
			      memory_order_relaxed);
	atomic_store_explicit(&o->dense_rx_bytes, w->dense_rx_bytes,
			      memory_order_relaxed);
	atomic_store_explicit(&o->seq, seq, memory_order_release);
}

static struct mw_shm_peers *peers_ctl(const struct mw_shm_dp *dp)
{
	return (struct mw_shm_peers *)(dp->base + dp->id->peer_off);
}

/* Write entry idx of the table under its sequence lock (SHM.md). */
static void peer_store(struct mw_shm_dp *dp, uint32_t idx)
{
	struct mw_shm_peer *e =
		(struct mw_shm_peer *)((uint8_t *)peers_ctl(dp) +
				       MW_SHM_PEER_CTL_SIZE +
				       (uint64_t)idx * MW_SHM_PEER_SIZE);
	const struct mw_shm_peer_info *p = &dp->peers[idx];
	struct mw_shm_peer v;
	uint32_t seq = dp->peer_seq[idx];

	memset(&v, 0, sizeof(v));
	v.state = p->state;
	v.flags = p->flags;
	v.gen = p->gen;
	v.port = p->port;
	memcpy(v.ip, p->ip, 4);
	v.restarts = p->restarts;
	v.sessions = p->sessions;
	v.remote_inc = p->remote_inc;
	v.last_reason = p->last_reason;
	v.tensors_tx = p->tensors_tx;
	v.tensors_rx = p->tensors_rx;
	v.tensors_failed = p->tensors_failed;
	v.dense_tx_bytes = p->dense_tx_bytes;
	v.dense_rx_bytes = p->dense_rx_bytes;
	v.srtt_ns = p->srtt_ns;
	atomic_store_explicit(&e->seq, seq + 1u, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy((uint8_t *)e + 4, (const uint8_t *)&v + 4, sizeof(v) - 4);
	atomic_store_explicit(&e->seq, seq + 2u, memory_order_release);
	dp->peer_seq[idx] = seq + 2u;
}

/* The whole table into a new file (count last, with release). */
static void peers_store_all(struct mw_shm_dp *dp)
{
	for (uint32_t i = 0; i < dp->peer_count; i++)
		peer_store(dp, i);
	atomic_store_explicit(&peers_ctl(dp)->seq, dp->peers_seq,
			      memory_order_relaxed);
	atomic_store_explicit(&peers_ctl(dp)->count, dp->peer_count,
			      memory_order_release);
}

/*
 * Create a region file under dp->path with a generation above the one at
 * that name and ours, write its header and give it the name. at == NULL:
 * first creation, mapped anywhere and guarded here; else the new file
 * replaces the broken mapping at the same address (dp->fd is the broken
 * file, which may be replaced), so pointers into the pools stay valid.
 */
static int region_publish(struct mw_shm_dp *dp, void *at)
{
	char tmp[MW_SHM_PATH_MAX + 32];
	uint64_t old_gen, gen;
	void *base;
	int rc, fd;

	rc = mw_shm_os_create(dp->path, dp->size, tmp, sizeof(tmp), dp->fd, at,
			      &fd, &base, &old_gen);
	if (rc < 0)
		return rc;
	if (!at) {
		dp->guard = mw_shm_os_guard(base, dp->size);
		if (dp->guard < 0) {
			rc = dp->guard;
			goto fail;
		}
	}
	/* A re-created region always gets a generation its clients have not
	 * seen (they compare it with the one they attached to). */
	gen = (old_gen > dp->gen ? old_gen : dp->gen) + 1;
	if (gen == 0)
		gen = 1;
	mw_shm_layout(&dp->geom, gen, dp->id);
	memcpy(base, dp->id, sizeof(*dp->id));
	((struct mw_shm_hdr *)base)->dp_pid = (uint32_t)getpid();
	if (dp->wire_seq)
		wire_store(&((struct mw_shm_hdr *)base)->wire, &dp->wire_last,
			   dp->wire_seq);
	atomic_store_explicit(&((struct mw_shm_hdr *)base)->dp_state,
			      MW_SHM_DP_READY, memory_order_release);
	/* shrunk while we wrote it (someone opened the temporary file) */
	if (mw_shm_os_guard_hit(dp->guard) ||
	    mw_shm_os_size(fd) != (int64_t)dp->size) {
		rc = MW_EIO;
		goto fail;
	}
	rc = mw_shm_os_publish(tmp, dp->path);
	if (rc < 0)
		goto fail;
	if (dp->fd >= 0)
		close(dp->fd); /* the broken file: its clients see us gone */
	dp->fd = fd;
	dp->base = base;
	dp->h = base;
	dp->gen = gen;
	rings_bind(dp);
	if (dp->peer_count) {
		/* a new file starts its entries' locks at 0 */
		memset(dp->peer_seq, 0, dp->peer_count * sizeof(uint32_t));
		peers_store_all(dp);
	}
	return 0;
fail:
	unlink(tmp);
	if (!at) {
		mw_shm_os_unguard(dp->guard);
		dp->guard = -1;
		mw_shm_os_close(fd, base, dp->size);
	} else {
		close(fd); /* still mapped at `at`: replaced at the next try */
	}
	return rc;
}

int mw_shm_dp_create(const char *name, const struct mw_shm_cfg *cfg,
		     struct mw_shm_dp **out)
{
	struct mw_shm_cfg def;
	struct mw_shm_dp *dp;
	int64_t size;
	int rc;

	if (!cfg) {
		mw_shm_cfg_default(&def);
		cfg = &def;
	}
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return MW_ENOMEM;
	dp->fd = -1;
	dp->guard = -1;
	dp->id = calloc(1, sizeof(*dp->id));
	if (!dp->id) {
		rc = MW_ENOMEM;
		goto fail;
	}
	rc = mw_shm_os_path(name, dp->path, sizeof(dp->path));
	if (rc < 0)
		goto fail;
	size = mw_shm_layout(&cfg->geom, 1, dp->id);
	if (size < 0) {
		rc = (int)size;
		goto fail;
	}
	dp->geom = cfg->geom;
	dp->size = (uint64_t)size;
	dp->rx_slots = cfg->geom.rx_slots;
	dp->rx_bits = calloc(MW_SLOTMAP_WORDS(dp->rx_slots), sizeof(uint64_t));
	dp->rx_bytes = calloc(dp->rx_slots, sizeof(uint64_t));
	dp->rx_state = calloc(dp->rx_slots, 1);
	dp->carry = calloc(dp->id->ring[MW_SHM_RING_DELIVER].cap,
			   sizeof(*dp->carry));
	dp->peer_cap = dp->id->peer_cap;
	dp->peers = calloc(dp->peer_cap, sizeof(*dp->peers));
	dp->peer_seq = calloc(dp->peer_cap, sizeof(*dp->peer_seq));
	if (!dp->rx_bits || !dp->rx_bytes || !dp->rx_state || !dp->carry ||
	    !dp->peers || !dp->peer_seq) {
		rc = MW_ENOMEM;
		goto fail;
	}
	/* the layout does not depend on the generation */
	dp->tx_off = dp->id->tx_off;
	dp->tx_len = (uint64_t)dp->id->tx_slots * dp->id->slot_size;
	dp->rx_off = dp->id->rx_off;
	dp->rx_len = (uint64_t)dp->id->rx_slots * dp->id->slot_size;
	dp->slot_size = dp->id->slot_size;
	rc = region_publish(dp, NULL);
	if (rc < 0)
		goto fail;
	mw_slotmap_init(&dp->rxmap, dp->rx_bits, dp->rx_slots);
	dp->liveness_ns = cfg->liveness_ns;
	dp->st.rx_slots = dp->rx_slots;
	*out = dp;
	return 0;
fail:
	free(dp->peers);
	free(dp->peer_seq);
	free(dp->carry);
	free(dp->rx_bits);
	free(dp->rx_bytes);
	free(dp->rx_state);
	free(dp->id);
	free(dp);
	return rc;
}

void mw_shm_dp_destroy(struct mw_shm_dp *dp, int unlink_file)
{
	if (!dp)
		return;
	atomic_store_explicit(&dp->h->dp_state, MW_SHM_DP_CLOSED,
			      memory_order_release);
	/* only our own file: while broken, the name may be someone else's */
	if (unlink_file)
		mw_shm_os_unlink_own(dp->path, dp->fd);
	mw_shm_os_unguard(dp->guard);
	mw_shm_os_close(dp->fd, dp->base, dp->size);
	free(dp->peers);
	free(dp->peer_seq);
	free(dp->carry);
	free(dp->rx_bits);
	free(dp->rx_bytes);
	free(dp->rx_state);
	free(dp->id);
	free(dp);
}

void *mw_shm_dp_base(const struct mw_shm_dp *dp)
{
	return dp->base;
}

/* ---- app lifecycle ------------------------------------------------------ */

/* Deliveries still in the DELIVER ring were never taken by the gone app:
 * keep them (in order) for the next one. The ring's slots are shared
 * memory, so each descriptor is checked against private state: it must
 * name a buffer delivered and not yet carried. */
static void carry_untaken(struct mw_shm_dp *dp)
{
	uint32_t tail = atomic_load_explicit(&dp->deliv.ctl->tail,
					     memory_order_acquire);
	uint32_t head = dp->deliv.idx, i;

	if (head - tail > mw_shm_ring_cap(&dp->deliv))
		return; /* impossible index: everything is reclaimed */
	for (i = tail; i != head; i++) {
		struct mw_shm_desc d;
		uint64_t slot;

		mw_shm_desc_load(&d, &dp->deliv.slot[i & dp->deliv.mask]);
		if (mw_shm_desc_check(&d, dp->rx_off, dp->rx_len) < 0)
			continue;
		if (d.buf_len) {
			slot = (d.buf_off - dp->rx_off) / dp->slot_size;
			if ((d.buf_off - dp->rx_off) % dp->slot_size ||
			    dp->rx_state[slot] != RX_DELIVERED ||
			    dp->rx_bytes[slot] != d.buf_len)
				continue;
			dp->rx_state[slot] = RX_CARRY;
		}
		dp->carry[dp->carry_n++] = d;
	}
}

/* Forget the served app: reclaim what it held, stale its submits. With
 * keep_untaken, the deliveries it never took are kept for the next app
 * (not when the region broke: their memory is gone). */
static void drop_app(struct mw_shm_dp *dp, int keep_untaken)
{
	uint32_t i;

	if (keep_untaken)
		carry_untaken(dp);
	for (i = 0; i < dp->rx_slots; i++) {
		if (dp->rx_state[i] != RX_DELIVERED)
			continue;
		if (dp->rx_bytes[i])
			mw_slotmap_free(&dp->rxmap, i,
					(uint32_t)((dp->rx_bytes[i] +
						    dp->slot_size - 1) /
						   dp->slot_size));
		dp->rx_state[i] = RX_FREE;
		dp->st.reclaimed++;
	}
	dp->inflight = 0;
	dp->ignore_gen = dp->cur_gen;
	dp->cur_gen = 0;
	atomic_store_explicit(&dp->h->app_ack, 0, memory_order_release);
	dp->st.app_gone++;
}

/* The app broke the ring protocol: stop serving it. */
static void app_fault(struct mw_shm_dp *dp)
{
	dp->st.proto_errors++;
	if (dp->cur_gen) {
		drop_app(dp, 1);
		dp->pending_ev |= MW_SHM_EV_APP_GONE;
	}
}

/* ---- a broken region ---------------------------------------------------- */

/* The file was resized under us, or a SIGBUS replaced the mapping with
 * zeros (shm_os.h): either way nothing in the region can be trusted. */
static int region_broken(struct mw_shm_dp *dp)
{
	if (!dp->broken && mw_shm_os_guard_hit(dp->guard)) {
		dp->broken = 1;
		dp->st.faults++;
	}
	return dp->broken;
}

/* Checked at every attach and liveness probe: a file shorter than the
 * mapping faults on access, a longer one fails every client's check. */
static int region_size_ok(struct mw_shm_dp *dp)
{
	if (mw_shm_os_size(dp->fd) == (int64_t)dp->size)
		return 1;
	dp->broken = 1;
	return 0;
}

/* What the region held for the next app is lost with it; buffers the
 * transport is still filling are refused at delivery (RX_LOST). */
static void lose_rx(struct mw_shm_dp *dp)
{
	uint32_t i;

	for (i = 0; i < dp->rx_slots; i++) {
		if (dp->rx_state[i] == RX_FILLING) {
			dp->rx_state[i] = RX_LOST;
		} else if (dp->rx_state[i] == RX_CARRY) {
			if (dp->rx_bytes[i])
				mw_slotmap_free(&dp->rxmap, i,
						(uint32_t)((dp->rx_bytes[i] +
							    dp->slot_size - 1) /
							   dp->slot_size));
			dp->rx_state[i] = RX_FREE;
		}
	}
	dp->st.rx_lost += dp->carry_n;
	dp->carry_n = 0;
}

/*
 * Drop the app and give up the region's contents (once), then create a new
 * file under the same name at the same address (again every liveness_ns
 * until it works: the name may be taken meanwhile). The next app attaches
 * to the new file; the old one's clients see this data plane gone.
 */
static unsigned region_recover(struct mw_shm_dp *dp, uint64_t now_ns)
{
	unsigned ev = 0;
	int rc;

	if (!dp->down) {
		dp->down = 1;
		dp->st.broken++;
		if (dp->cur_gen) {
			drop_app(dp, 0);
			ev |= MW_SHM_EV_APP_GONE;
		}
		lose_rx(dp);
		dp->next_retry = now_ns;
		ev |= MW_SHM_EV_REGION_BROKEN;
	}
	if (now_ns < dp->next_retry)
		return ev;
	dp->next_retry = now_ns + dp->liveness_ns;
	mw_shm_os_guard_reset(dp->guard);
	rc = region_publish(dp, dp->base);
	if (rc < 0) {
		dp->st.recreate_errors++;
		dp->st.last_error = rc;
		return ev;
	}
	dp->broken = 0;
	dp->down = 0;
	dp->ignore_gen = 0; /* app_gen starts again from 0 in the new file */
	dp->st.recreated++;
	return ev | MW_SHM_EV_REGION_NEW;
}

/* Serve a new app: empty rings, then publish the acknowledgement. */
static void accept_app(struct mw_shm_dp *dp, uint64_t gen)
{
	struct mw_shm_ring_end *e[] = {&dp->sub, &dp->comp, &dp->deliv,
				       &dp->rel};
	unsigned i;

	/* The app does not touch the rings before it sees app_ack. */
	for (i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		atomic_store_explicit(&e[i]->ctl->head, 0, memory_order_relaxed);
		atomic_store_explicit(&e[i]->ctl->tail, 0, memory_order_relaxed);
		e[i]->idx = 0;
	}
	dp->inflight = 0;
	/* what the last app left untaken comes first, in order; it fits:
	 * it was in the ring, which is empty now */
	for (i = 0; i < dp->carry_n; i++) {
		const struct mw_shm_desc *d = &dp->carry[i];

		mw_shm_ring_enqueue(&dp->deliv, d, 1);
		if (d->buf_len)
			dp->rx_state[(d->buf_off - dp->rx_off) /
				     dp->slot_size] = RX_DELIVERED;
	}
	dp->st.redelivered += dp->carry_n;
	dp->carry_n = 0;
	dp->cur_gen = gen;
	atomic_store_explicit(&dp->h->app_ack, gen, memory_order_release);
	dp->st.attaches++;
}

static uint32_t rx_nslots(const struct mw_shm_dp *dp, uint64_t bytes)
{
	return (uint32_t)((bytes + dp->slot_size - 1) / dp->slot_size);
}

static void reap_releases(struct mw_shm_dp *dp)
{
	struct mw_shm_desc d[BURST];
	uint32_t budget = mw_shm_ring_cap(&dp->rel);
	int n, i;

	while (budget && dp->cur_gen) {
		n = mw_shm_ring_dequeue(&dp->rel, d,
					budget < BURST ? budget : BURST);
		if (n < 0) {
			app_fault(dp);
			return;
		}
		if (n == 0)
			return;
		budget -= (uint32_t)n;
		for (i = 0; i < n; i++) {
			uint64_t rel = d[i].buf_off - dp->rx_off;
			uint64_t slot = rel / dp->slot_size;

			if (d[i].buf_off < dp->rx_off || rel % dp->slot_size ||
			    slot >= dp->rx_slots ||
			    dp->rx_state[slot] != RX_DELIVERED ||
			    dp->rx_bytes[slot] != d[i].buf_len) {
				dp->st.bad_releases++;
				continue;
			}
			mw_slotmap_free(&dp->rxmap, (uint32_t)slot,
					rx_nslots(dp, d[i].buf_len));
			dp->rx_state[slot] = RX_FREE;
			dp->st.releases++;
		}
	}
}

unsigned mw_shm_dp_service(struct mw_shm_dp *dp, uint64_t now_ns)
{
	unsigned ev = dp->pending_ev;
	uint64_t g;

	dp->pending_ev = 0;
	if (dp->down || region_broken(dp))
		return ev | region_recover(dp, now_ns) | dp->pending_ev;
	atomic_store_explicit(&dp->h->dp_heartbeat, ++dp->heartbeat,
			      memory_order_release);
	g = atomic_load_explicit(&dp->h->app_gen, memory_order_acquire);
	if (dp->cur_gen && g != dp->cur_gen) {
		/* replaced by a new app: serve it from the next call on */
		drop_app(dp, 1);
		ev |= MW_SHM_EV_APP_GONE;
	} else if (dp->cur_gen && now_ns >= dp->next_probe) {
		dp->next_probe = now_ns + dp->liveness_ns;
		if (region_size_ok(dp) &&
		    mw_shm_os_locked(dp->fd, MW_SHM_LOCK_APP) == 0) {
			drop_app(dp, 1);
			ev |= MW_SHM_EV_APP_GONE;
		}
	} else if (!dp->cur_gen && g && g != dp->ignore_gen &&
		   !(ev & MW_SHM_EV_APP_GONE) && region_size_ok(dp)) {
		accept_app(dp, g);
		dp->next_probe = now_ns + dp->liveness_ns;
		ev |= MW_SHM_EV_APP_NEW;
	}
	reap_releases(dp);
	/* a fault or a resized file seen during this call */
	if (region_broken(dp))
		ev |= region_recover(dp, now_ns);
	return ev | dp->pending_ev;
}

/* ---- sends -------------------------------------------------------------- */

/*
 * A submit's destination against our own copy of the table (never the
 * region's). peer 0 is the first peer even before the table is filled (a
 * data plane without peers fails its sends later, as before the table
 * existed). An entry with a peer must be the one the app means: its gen,
 * or gen 0 for an index that is never reused (a configured peer's).
 */
static int peer_check(struct mw_shm_dp *dp, const struct mw_shm_desc *d)
{
	const struct mw_shm_peer_info *p =
		d->peer < dp->peer_count ? &dp->peers[d->peer] : NULL;

	if (!p || p->state == MW_SHM_PEER_NONE) {
		if (d->peer == 0 && d->peer_gen == 0)
			return 0;
		dp->st.bad_peers++;
		return MW_ENOENT;
	}
	if (!mw_shm_peer_gen_ok(p->flags, p->gen, d->peer_gen)) {
		dp->st.stale_peers++;
		return MW_ESTALE;
	}
	return 0;
}

unsigned mw_shm_dp_poll_submits(struct mw_shm_dp *dp, struct mw_shm_sub *subs,
				unsigned max)
{
	struct mw_shm_desc d[BURST];
	unsigned got = 0;
	int64_t used;
	int n, i, rc;

	while (got < max && dp->cur_gen) {
		uint64_t credit;
		unsigned want;

		used = mw_shm_ring_count(&dp->comp);
		if (used < 0) {
			app_fault(dp);
			break;
		}
		credit = mw_shm_ring_cap(&dp->comp) - (uint64_t)used;
		credit = credit > dp->inflight ? credit - dp->inflight : 0;
		want = max - got;
		if (want > credit)
			want = (unsigned)credit;
		if (want > BURST)
			want = BURST;
		if (want == 0)
			break;
		n = mw_shm_ring_dequeue(&dp->sub, d, want);
		if (n < 0) {
			app_fault(dp);
			break;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			rc = mw_shm_desc_check(&d[i], dp->tx_off, dp->tx_len);
			if (rc == 0 && (d[i].reserved & ~MW_SHM_SUB_FLAGS))
				rc = MW_EINVAL;
			if (rc == 0)
				rc = peer_check(dp, &d[i]);
			if (rc < 0) {
				/* answer at once; its slot was reserved */
				d[i].status = rc;
				d[i].reserved = 0; /* COMPLETE flags: none */
				if (mw_shm_ring_enqueue(&dp->comp, &d[i], 1) !=
				    1) {
					app_fault(dp);
					return got;
				}
				dp->st.bad_submits++;
				dp->st.failures++;
				continue;
			}
			subs[got].d = d[i];
			subs[got].data = d[i].buf_len ? dp->base + d[i].buf_off
						      : NULL;
			subs[got].app_gen = dp->cur_gen;
			dp->inflight++;
			dp->st.submits++;
			got++;
		}
	}
	return got;
}

int mw_shm_dp_complete(struct mw_shm_dp *dp, const struct mw_shm_sub *s,
		       int status)
{
	struct mw_shm_desc d;

	if (!dp->cur_gen || s->app_gen != dp->cur_gen)
		return MW_ERESET;
	if (dp->inflight == 0)
		return MW_ESTATE;
	d = s->d;
	d.status = status > 0 ? MW_EINVAL : status;
	if (mw_shm_ring_enqueue(&dp->comp, &d, 1) != 1) {
		app_fault(dp);
		return MW_ERESET;
	}
	dp->inflight--;
	if (d.status == 0)
		dp->st.completions++;
	else
		dp->st.failures++;
	return 0;
}

/* ---- deliveries --------------------------------------------------------- */

int mw_shm_dp_rx_alloc(struct mw_shm_dp *dp, uint64_t bytes, void **buf)
{
	int64_t used, first;
	uint32_t n;

	if (bytes > dp->rx_len)
		return MW_ELIMIT;
	if (!dp->cur_gen)
		return MW_EAGAIN;
	used = mw_shm_ring_count(&dp->deliv);
	if (used < 0) {
		app_fault(dp);
		return MW_EAGAIN;
	}
	if ((uint64_t)used + dp->rx_reserved >= mw_shm_ring_cap(&dp->deliv))
		return MW_EAGAIN;
	if (bytes == 0) {
		*buf = dp->base + dp->rx_off;
		dp->rx_reserved++;
		return 0;
	}
	n = rx_nslots(dp, bytes);
	first = mw_slotmap_alloc(&dp->rxmap, n);
	if (first < 0)
		return (int)first;
	dp->rx_state[first] = RX_FILLING;
	dp->rx_bytes[first] = bytes;
	dp->rx_reserved++;
	*buf = dp->base + dp->rx_off + (uint64_t)first * dp->slot_size;
	return 0;
}

/* First slot of an RX buffer the data plane is filling (or was, when the
 * region broke: RX_LOST), or -1. */
static int64_t rx_filling(const struct mw_shm_dp *dp, const void *buf,
			  uint64_t bytes)
{
	const uint8_t *p = buf;
	uint64_t rel, slot;

	if (p < dp->base + dp->rx_off || p >= dp->base + dp->rx_off + dp->rx_len)
		return -1;
	rel = (uint64_t)(p - (dp->base + dp->rx_off));
	slot = rel / dp->slot_size;
	if (rel % dp->slot_size ||
	    (dp->rx_state[slot] != RX_FILLING &&
	     dp->rx_state[slot] != RX_LOST) ||
	    dp->rx_bytes[slot] != bytes)
		return -1;
	return (int64_t)slot;
}

int mw_shm_dp_rx_free(struct mw_shm_dp *dp, void *buf, uint64_t bytes)
{
	int64_t slot;

	if (bytes == 0) {
		if (dp->rx_reserved == 0)
			return MW_EINVAL;
		dp->rx_reserved--;
		return 0;
	}
	slot = rx_filling(dp, buf, bytes);
	if (slot < 0)
		return MW_EINVAL;
	mw_slotmap_free(&dp->rxmap, (uint32_t)slot, rx_nslots(dp, bytes));
	dp->rx_state[slot] = RX_FREE;
	dp->rx_reserved--;
	return 0;
}

/* The loss map of a partial delivery lives in the buffer's last slot,
 * after the tensor (16-byte aligned): room and region offset. */
static uint64_t loss_room(const struct mw_shm_dp *dp, uint64_t bytes)
{
	uint64_t end = (bytes + 15) & ~(uint64_t)15;
	uint64_t run = (uint64_t)rx_nslots(dp, bytes) * dp->slot_size;

	return bytes && run > end ? run - end : 0;
}

static uint64_t loss_at(const struct mw_shm_dp *dp, int64_t slot,
			uint64_t bytes)
{
	return dp->rx_off + (uint64_t)slot * dp->slot_size +
	       ((bytes + 15) & ~(uint64_t)15);
}

int mw_shm_dp_put_loss(struct mw_shm_dp *dp, void *buf, uint64_t bytes,
		       struct mw_shm_desc *d, const struct mw_shm_range *loss,
		       uint32_t cnt, uint64_t elems_lost)
{
	int64_t slot = bytes ? rx_filling(dp, buf, bytes) : -1;

	if (slot < 0)
		return MW_EINVAL;
	d->reserved |= MW_SHM_DLV_PARTIAL;
	d->elems_lost = elems_lost;
	d->loss_cnt = cnt;
	d->loss_off = 0;
	if ((uint64_t)cnt * sizeof(*loss) > loss_room(dp, bytes))
		return MW_ENOSPC;
	d->loss_off = loss_at(dp, slot, bytes);
	memcpy(dp->base + d->loss_off, loss, (size_t)cnt * sizeof(*loss));
	return 0;
}

int mw_shm_dp_deliver(struct mw_shm_dp *dp, void *buf, uint64_t bytes,
		      const struct mw_shm_desc *meta)
{
	struct mw_shm_desc d = *meta;
	int64_t slot = -1;

	if (bytes) {
		slot = rx_filling(dp, buf, bytes);
		if (slot < 0)
			return MW_EINVAL;
		if (dp->rx_state[slot] == RX_LOST) {
			dp->st.rx_lost++;
			return MW_ERESET;
		}
	} else if (dp->rx_reserved == 0) {
		return MW_EINVAL;
	}
	d.cookie = 0;
	d.status = 0;
	d.reserved &= MW_SHM_DLV_PARTIAL;
	if (d.peer >= dp->peer_cap)
		return MW_EINVAL;
	d.pad3 = 0;
	if (!(d.reserved & MW_SHM_DLV_PARTIAL)) {
		d.elems_lost = 0;
		d.loss_cnt = 0;
		d.loss_off = 0;
	} else if (d.loss_off && (slot < 0 ||
				  d.loss_off != loss_at(dp, slot, bytes) ||
				  (uint64_t)d.loss_cnt * sizeof(struct mw_shm_range) >
					  loss_room(dp, bytes))) {
		d.loss_off = 0; /* not where mw_shm_dp_put_loss() puts it */
	}
	d.buf_off = bytes ? (uint64_t)((uint8_t *)buf - dp->base) : 0;
	d.buf_len = bytes;
	if (mw_shm_desc_check(&d, dp->rx_off, dp->rx_len) < 0)
		return MW_EINVAL;
	if (!dp->cur_gen)
		return MW_EAGAIN;
	if (mw_shm_ring_enqueue(&dp->deliv, &d, 1) != 1) {
		app_fault(dp);
		return MW_EAGAIN;
	}
	if (slot >= 0)
		dp->rx_state[slot] = RX_DELIVERED;
	dp->rx_reserved--;
	dp->st.deliveries++;
	return 0;
}

void mw_shm_dp_stats(const struct mw_shm_dp *dp, struct mw_shm_dp_stats *st)
{
	*st = dp->st;
	st->dp_generation = dp->down ? 0 : dp->gen;
	st->rx_free_slots = dp->rxmap.nfree;
	st->app_attached = dp->cur_gen != 0;
	st->inflight = dp->inflight;
}

void mw_shm_dp_publish_wire(struct mw_shm_dp *dp,
			    const struct mw_shm_wire_counts *w)
{
	dp->wire_last = *w;
	++dp->wire_seq;
	if (!dp->down)
		wire_store(&dp->h->wire, w, dp->wire_seq);
}

int mw_shm_dp_peer_set(struct mw_shm_dp *dp, uint32_t idx,
		       const struct mw_shm_peer_info *p)
{
	if (idx >= dp->peer_cap || p->state >= MW_SHM_PEER_STATE_COUNT_ ||
	    (p->flags & ~MW_SHM_PEER_ACCEPTED) || p->pad ||
	    (p->state != MW_SHM_PEER_NONE && p->gen == 0))
		return MW_EINVAL;
	if (memcmp(&dp->peers[idx], p, sizeof(*p)) == 0 &&
	    idx < dp->peer_count)
		return 0;
	dp->peers[idx] = *p;
	if (idx >= dp->peer_count) {
		/* entries skipped over read as NONE (zeros) */
		dp->peer_count = idx + 1u;
	}
	dp->peers_seq++;
	if (dp->down)
		return 0; /* written into the next file */
	peer_store(dp, idx);
	atomic_store_explicit(&peers_ctl(dp)->seq, dp->peers_seq,
			      memory_order_relaxed);
	atomic_store_explicit(&peers_ctl(dp)->count, dp->peer_count,
			      memory_order_release);
	return 0;
}

uint32_t mw_shm_dp_peer_cap(const struct mw_shm_dp *dp)
{
	return dp->peer_cap;
}
