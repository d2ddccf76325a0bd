/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pure helpers of the shared-memory channel: layout, header and descriptor
 * checks, SPSC rings, the slot allocator. No system calls, no clock.
 */
#include <math.h>
#include <string.h>

#include "mw_shm.h"

#define ALIGN_UP(x, a) (((x) + ((uint64_t)(a) - 1u)) & ~((uint64_t)(a) - 1u))
#define PAGE 4096u

static int is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1u)) == 0;
}

static uint32_t pow2_at_least(uint32_t x)
{
	uint32_t p = MW_SHM_RING_MIN;

	while (p < x)
		p <<= 1;
	return p;
}

static int geom_ok(const struct mw_shm_geom *g)
{
	return is_pow2(g->ring_size) && g->ring_size >= MW_SHM_RING_MIN &&
	       g->ring_size <= MW_SHM_RING_MAX && is_pow2(g->slot_size) &&
	       g->slot_size >= MW_SHM_SLOT_MIN &&
	       g->slot_size <= MW_SHM_SLOT_MAX && g->tx_slots >= 1 &&
	       g->tx_slots <= MW_SHM_SLOTS_MAX && g->rx_slots >= 1 &&
	       g->rx_slots <= MW_SHM_SLOTS_MAX &&
	       g->peer_cap <= MW_SHM_PEERS_MAX;
}

static uint64_t peers_bytes(uint32_t cap)
{
	return MW_SHM_PEER_CTL_SIZE + (uint64_t)cap * MW_SHM_PEER_SIZE;
}

int64_t mw_shm_layout(const struct mw_shm_geom *g, uint64_t gen,
		      struct mw_shm_hdr *h)
{
	uint64_t off = MW_SHM_HDR_SIZE;
	uint32_t rel;
	unsigned i;

	if (!g || !h || gen == 0 || !geom_ok(g))
		return MW_EINVAL;
	rel = pow2_at_least(g->rx_slots > g->ring_size ? g->rx_slots
						       : g->ring_size);
	if (rel > MW_SHM_RING_MAX)
		return MW_EINVAL;
	h->magic = MW_SHM_MAGIC;
	h->abi_version = MW_SHM_ABI_VERSION;
	h->hdr_size = MW_SHM_HDR_SIZE;
	h->dp_generation = gen;
	h->desc_size = MW_SHM_DESC_SIZE;
	h->slot_size = g->slot_size;
	h->tx_slots = g->tx_slots;
	h->rx_slots = g->rx_slots;
	for (i = 0; i < MW_SHM_RINGS; i++) {
		uint32_t cap = i == MW_SHM_RING_RELEASE ? rel : g->ring_size;

		h->ring[i].off = off;
		h->ring[i].cap = cap;
		h->ring[i].reserved = 0;
		off += ALIGN_UP(MW_SHM_RING_BYTES(cap), 64);
	}
	h->abi_minor = MW_SHM_ABI_MINOR;
	h->peer_cap = g->peer_cap ? g->peer_cap : MW_SHM_PEERS_DEFAULT;
	h->peer_off = off;
	h->peer_size = MW_SHM_PEER_SIZE;
	h->minor_pad = 0;
	off += peers_bytes(h->peer_cap);
	h->tx_off = ALIGN_UP(off, PAGE);
	h->rx_off = ALIGN_UP(h->tx_off + (uint64_t)g->tx_slots * g->slot_size,
			     PAGE);
	h->region_size =
		ALIGN_UP(h->rx_off + (uint64_t)g->rx_slots * g->slot_size, PAGE);
	return (int64_t)h->region_size;
}

int mw_shm_hdr_check(const struct mw_shm_hdr *h, uint64_t file_size)
{
	struct mw_shm_geom g;
	uint64_t end = MW_SHM_HDR_SIZE;
	unsigned i;

	if (file_size < MW_SHM_HDR_SIZE)
		return MW_EFORMAT;
	if (h->magic != MW_SHM_MAGIC)
		return MW_EBADMAGIC;
	if (h->abi_version != MW_SHM_ABI_VERSION)
		return MW_EVERSION;
	if (h->hdr_size != MW_SHM_HDR_SIZE || h->desc_size != MW_SHM_DESC_SIZE ||
	    h->region_size != file_size || h->dp_generation == 0)
		return MW_EFORMAT;
	g.ring_size = h->ring[MW_SHM_RING_SUBMIT].cap;
	g.slot_size = h->slot_size;
	g.tx_slots = h->tx_slots;
	g.rx_slots = h->rx_slots;
	g.peer_cap = 0;
	if (!geom_ok(&g))
		return MW_EFORMAT;
	for (i = 0; i < MW_SHM_RINGS; i++) {
		const struct mw_shm_ring_info *r = &h->ring[i];

		if (!is_pow2(r->cap) || r->cap < MW_SHM_RING_MIN ||
		    r->cap > MW_SHM_RING_MAX || r->off % 64 != 0 ||
		    r->off < end || r->off > file_size ||
		    file_size - r->off < MW_SHM_RING_BYTES(r->cap))
			return MW_EFORMAT;
		end = r->off + MW_SHM_RING_BYTES(r->cap);
	}
	/* Guarantees the protocol relies on (see mw_shm_layout()). */
	if (h->ring[MW_SHM_RING_RELEASE].cap < h->rx_slots)
		return MW_EFORMAT;
	if (h->abi_minor >= 1) {
		if (h->peer_size != MW_SHM_PEER_SIZE || h->peer_cap < 1 ||
		    h->peer_cap > MW_SHM_PEERS_MAX || h->peer_off % 64 != 0 ||
		    h->peer_off < end || h->peer_off > file_size ||
		    file_size - h->peer_off < peers_bytes(h->peer_cap))
			return MW_EFORMAT;
		end = h->peer_off + peers_bytes(h->peer_cap);
	}
	if (h->tx_off % PAGE != 0 || h->tx_off < end || h->tx_off > file_size ||
	    file_size - h->tx_off < (uint64_t)h->tx_slots * h->slot_size)
		return MW_EFORMAT;
	end = h->tx_off + (uint64_t)h->tx_slots * h->slot_size;
	if (h->rx_off % PAGE != 0 || h->rx_off < end || h->rx_off > file_size ||
	    file_size - h->rx_off < (uint64_t)h->rx_slots * h->slot_size)
		return MW_EFORMAT;
	return 0;
}

int64_t mw_shm_tensor_bytes(unsigned dtype, unsigned ndim,
			    const uint32_t *dims)
{
	const uint64_t lim = UINT64_C(1) << 62;
	uint64_t n;
	unsigned i;

	n = mw_dtype_size(dtype);
	if (n == 0 || ndim > MW_SHM_MAX_DIMS)
		return MW_EINVAL;
	for (i = 0; i < ndim; i++) {
		if (dims[i] != 0 && n > lim / dims[i])
			return MW_ERANGE;
		n *= dims[i];
	}
	return (int64_t)n;
}

int mw_shm_desc_check(const struct mw_shm_desc *d, uint64_t pool_off,
		      uint64_t pool_len)
{
	int64_t bytes;
	unsigned i;

	if (d->dtype >= MW_DT_COUNT_ || d->kind >= MW_SHM_KIND_COUNT_ ||
	    d->ndim > MW_SHM_MAX_DIMS || d->codec >= MW_SHM_CODEC_COUNT ||
	    d->bits > 8 || d->rounding >= MW_SHM_ROUNDING_COUNT ||
	    !isfinite(d->ratio) || d->ratio < 0.0 || d->ratio >= 1.0)
		return MW_EINVAL;
	for (i = d->ndim; i < MW_SHM_MAX_DIMS; i++)
		if (d->dims[i] != 0)
			return MW_EINVAL;
	bytes = mw_shm_tensor_bytes(d->dtype, d->ndim, d->dims);
	if (bytes < 0)
		return (int)bytes;
	if ((uint64_t)bytes != d->buf_len)
		return MW_EINVAL;
	if (d->codec != MW_SHM_CODEC_RAW && d->dtype != MW_DT_F32)
		return MW_EUNSUPP;
	if (d->buf_len == 0)
		return d->buf_off == 0 ? 0 : MW_ERANGE;
	if (d->buf_off < pool_off || d->buf_off - pool_off > pool_len ||
	    pool_len - (d->buf_off - pool_off) < d->buf_len)
		return MW_ERANGE;
	return 0;
}

void mw_shm_desc_load(struct mw_shm_desc *dst, const struct mw_shm_desc *src)
{
	memcpy(dst, src, sizeof(*dst));
	__asm__ __volatile__("" ::: "memory");
}

/* ---- peer table --------------------------------------------------------- */

static struct mw_shm_peers *peers_ctl(const void *base,
				      const struct mw_shm_hdr *h)
{
	return (struct mw_shm_peers *)((uintptr_t)base + h->peer_off);
}

uint32_t mw_shm_peer_count(const void *base, const struct mw_shm_hdr *h)
{
	uint32_t n;

	if (h->abi_minor < 1)
		return 0;
	n = atomic_load_explicit(&peers_ctl(base, h)->count,
				 memory_order_acquire);
	return n < h->peer_cap ? n : h->peer_cap;
}

int mw_shm_peer_load(const void *base, const struct mw_shm_hdr *h,
		     uint32_t idx, struct mw_shm_peer *out)
{
	struct mw_shm_peer *e;
	uint32_t s1, s2;
	int tries;

	if (h->abi_minor < 1 || idx >= h->peer_cap)
		return MW_ENOENT;
	e = (struct mw_shm_peer *)((uintptr_t)base + h->peer_off +
				   MW_SHM_PEER_CTL_SIZE +
				   (uint64_t)idx * MW_SHM_PEER_SIZE);
	for (tries = 0; tries < 64; tries++) {
		s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
		if (s1 & 1u)
			continue;
		memcpy((void *)out, (const void *)e, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
		if (s1 != s2)
			continue;
		atomic_store_explicit(&out->seq, s1, memory_order_relaxed);
		if (out->state >= MW_SHM_PEER_STATE_COUNT_)
			return MW_EFORMAT;
		/* minor 2: a peer has a generation (a SUBMIT names it) */
		if (h->abi_minor >= 2 && out->state != MW_SHM_PEER_NONE &&
		    out->gen == 0)
			return MW_EFORMAT;
		return 0;
	}
	return MW_EAGAIN;
}

/* ---- rings ------------------------------------------------------------- */

void mw_shm_ring_bind(struct mw_shm_ring_end *e, void *base,
		      const struct mw_shm_hdr *h, unsigned id, int producer)
{
	uint8_t *p = (uint8_t *)base + h->ring[id].off;

	e->ctl = (struct mw_shm_ring *)p;
	e->slot = (struct mw_shm_desc *)(p + MW_SHM_RING_CTL_SIZE);
	e->mask = h->ring[id].cap - 1u;
	e->producer = producer;
	e->idx = atomic_load_explicit(producer ? &e->ctl->head : &e->ctl->tail,
				      memory_order_acquire);
}

int mw_shm_ring_enqueue(struct mw_shm_ring_end *e,
			const struct mw_shm_desc *d, unsigned n)
{
	uint32_t tail = atomic_load_explicit(&e->ctl->tail,
					     memory_order_acquire);
	uint32_t used = e->idx - tail;
	uint32_t room, i;

	if (used > e->mask + 1u)
		return MW_EFORMAT;
	room = e->mask + 1u - used;
	if (n > room)
		n = room;
	for (i = 0; i < n; i++)
		memcpy(&e->slot[(e->idx + i) & e->mask], &d[i], sizeof(*d));
	e->idx += n;
	atomic_store_explicit(&e->ctl->head, e->idx, memory_order_release);
	return (int)n;
}

int mw_shm_ring_dequeue(struct mw_shm_ring_end *e, struct mw_shm_desc *d,
			unsigned n)
{
	uint32_t head = atomic_load_explicit(&e->ctl->head,
					     memory_order_acquire);
	uint32_t avail = head - e->idx;
	uint32_t i;

	if (avail > e->mask + 1u)
		return MW_EFORMAT;
	if (n > avail)
		n = avail;
	for (i = 0; i < n; i++)
		mw_shm_desc_load(&d[i], &e->slot[(e->idx + i) & e->mask]);
	e->idx += n;
	if (n)
		atomic_store_explicit(&e->ctl->tail, e->idx,
				      memory_order_release);
	return (int)n;
}

int64_t mw_shm_ring_count(const struct mw_shm_ring_end *e)
{
	uint32_t n;

	if (e->producer)
		n = e->idx - atomic_load_explicit(&e->ctl->tail,
						  memory_order_acquire);
	else
		n = atomic_load_explicit(&e->ctl->head, memory_order_acquire) -
		    e->idx;
	if (n > e->mask + 1u)
		return MW_EFORMAT;
	return n;
}

/* ---- slot allocator ---------------------------------------------------- */

void mw_slotmap_init(struct mw_slotmap *m, uint64_t *bits, uint32_t nslots)
{
	m->bits = bits;
	m->nslots = nslots;
	m->nfree = nslots;
	m->hint = 0;
	memset(bits, 0, MW_SLOTMAP_WORDS(nslots) * sizeof(*bits));
}

static int slot_used(const struct mw_slotmap *m, uint32_t i)
{
	return (m->bits[i / 64] >> (i % 64)) & 1u;
}

static void slots_set(struct mw_slotmap *m, uint32_t first, uint32_t n,
		      int used)
{
	uint32_t i;

	for (i = first; i < first + n; i++) {
		uint64_t bit = UINT64_C(1) << (i % 64);

		if (used)
			m->bits[i / 64] |= bit;
		else
			m->bits[i / 64] &= ~bit;
	}
}

/* First run of n free slots in [from, to), or -1. */
static int64_t find_run(const struct mw_slotmap *m, uint32_t from, uint32_t to,
			uint32_t n)
{
	uint32_t i = from, run = 0;

	while (i < to) {
		if (i % 64 == 0 && run == 0 && m->bits[i / 64] == ~UINT64_C(0)) {
			i += 64;
			continue;
		}
		if (slot_used(m, i)) {
			run = 0;
		} else if (++run == n) {
			return (int64_t)(i + 1 - n);
		}
		i++;
	}
	return -1;
}

int64_t mw_slotmap_alloc(struct mw_slotmap *m, uint32_t n)
{
	int64_t at;

	if (n == 0 || n > m->nslots)
		return n == 0 ? MW_EINVAL : MW_ELIMIT;
	if (n > m->nfree)
		return MW_EAGAIN;
	at = find_run(m, m->hint, m->nslots, n);
	if (at < 0) {
		/* wrap: a run may also straddle the hint */
		uint32_t to = m->hint + n - 1u;

		at = find_run(m, 0, to < m->nslots ? to : m->nslots, n);
	}
	if (at < 0)
		return MW_EAGAIN;
	slots_set(m, (uint32_t)at, n, 1);
	m->nfree -= n;
	m->hint = (uint32_t)at + n;
	if (m->hint >= m->nslots)
		m->hint = 0;
	return at;
}

int mw_slotmap_free(struct mw_slotmap *m, uint32_t first, uint32_t n)
{
	uint32_t i;

	if (n == 0 || first >= m->nslots || n > m->nslots - first)
		return MW_EINVAL;
	for (i = first; i < first + n; i++)
		if (!slot_used(m, i))
			return MW_EINVAL;
	slots_set(m, first, n, 0);
	m->nfree += n;
	return 0;
}
