/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of shm_ring.c: layout, header/descriptor checks, rings, slot
 * allocator. Pure memory, no files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mw_codec.h"
#include "mw_shm.h"
#include "mw_wire.h"
#include "shm_test.h"

/* The channel's numbers are the wire's and the codec's (its dtypes are the
 * wire's enum mw_dtype itself). */
#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(MW_SHM_KIND_ACTIVATION, MW_KIND_ACTIVATION) &&
		       SAME(MW_SHM_KIND_GRADIENT, MW_KIND_GRADIENT) &&
		       SAME(MW_SHM_KIND_LOGITS, MW_KIND_LOGITS) &&
		       SAME(MW_SHM_KIND_LABELS, MW_KIND_LABELS) &&
		       SAME(MW_SHM_KIND_OTHER, MW_KIND_OTHER) &&
		       SAME(MW_SHM_KIND_COUNT_, MW_KIND_COUNT_),
	       "kind numbers");
_Static_assert(SAME(MW_SHM_CODEC_COUNT, MW_CODEC_COUNT_) &&
		       SAME(MW_SHM_CODEC_RAW, MW_CODEC_RAW) &&
		       SAME(MW_SHM_ROUNDING_COUNT, MW_ROUND_COUNT_),
	       "codec numbers");
_Static_assert(MW_SHM_MAX_DIMS == MW_WIRE_MAX_DIMS, "rank");

static const struct mw_shm_geom geom = {
	.ring_size = 8, .slot_size = 256, .tx_slots = 5, .rx_slots = 20};

static void *region(struct mw_shm_hdr *h, uint64_t *size)
{
	int64_t sz;
	void *p;

	memset(h, 0, sizeof(*h));
	sz = mw_shm_layout(&geom, 7, h);
	CHECK(sz > 0);
	p = aligned_alloc(4096, (size_t)sz);
	memset(p, 0, (size_t)sz);
	memcpy(p, h, sizeof(*h));
	*size = (uint64_t)sz;
	return p;
}

static void test_layout(void)
{
	struct mw_shm_hdr h, b;
	struct mw_shm_geom g = geom;
	int64_t sz;

	memset(&h, 0, sizeof(h));
	sz = mw_shm_layout(&geom, 7, &h);
	CHECK(sz > 0 && sz % 4096 == 0);
	CHECK_EQ(mw_shm_hdr_check(&h, (uint64_t)sz), 0);
	CHECK_EQ(h.ring[MW_SHM_RING_RELEASE].cap, 32); /* >= rx_slots */
	CHECK_EQ(h.ring[MW_SHM_RING_SUBMIT].cap, 8);
	CHECK_EQ(h.tx_off % 4096, 0);
	CHECK(h.rx_off >= h.tx_off + 5 * 256);
	CHECK(h.rx_off + 20 * 256 <= (uint64_t)sz);
	CHECK_EQ(h.dp_generation, 7);

	CHECK_EQ(mw_shm_layout(&geom, 0, &h), MW_EINVAL);
	g.ring_size = 6;
	CHECK_EQ(mw_shm_layout(&g, 1, &h), MW_EINVAL);
	g = geom;
	g.slot_size = 32;
	CHECK_EQ(mw_shm_layout(&g, 1, &h), MW_EINVAL);
	g = geom;
	g.tx_slots = 0;
	CHECK_EQ(mw_shm_layout(&g, 1, &h), MW_EINVAL);

	/* every corruption is refused with a specific error */
	mw_shm_layout(&geom, 7, &h);
	CHECK_EQ(mw_shm_hdr_check(&h, (uint64_t)sz - 4096), MW_EFORMAT);
	CHECK_EQ(mw_shm_hdr_check(&h, 100), MW_EFORMAT);
	b = h;
	b.magic ^= 1;
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EBADMAGIC);
	b = h;
	b.abi_version = 2;
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EVERSION);
	b = h;
	b.desc_size = 64;
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EFORMAT);
	b = h;
	b.ring[1].off = b.ring[0].off + 64; /* overlaps ring 0 */
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EFORMAT);
	b = h;
	b.ring[2].cap = 12;
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EFORMAT);
	b = h;
	b.ring[MW_SHM_RING_RELEASE].cap = 16; /* < rx_slots */
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EFORMAT);
	b = h;
	b.rx_slots = 1000; /* pool past the end */
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EFORMAT);
	b = h;
	b.tx_off = b.rx_off; /* pools overlap */
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EFORMAT);
	b = h;
	b.ring[3].off = UINT64_MAX - 64;
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EFORMAT);
	b = h;
	b.dp_generation = 0;
	CHECK_EQ(mw_shm_hdr_check(&b, (uint64_t)sz), MW_EFORMAT);
}

static void test_desc(void)
{
	struct mw_shm_desc d, b;
	uint32_t big[8] = {1u << 31, 1u << 31, 1u << 31, 4, 0, 0, 0, 0};

	CHECK_EQ(mw_shm_tensor_bytes(MW_DT_F64, 0, big), 8);
	CHECK_EQ(mw_shm_tensor_bytes(MW_DT_F32, 4, big), MW_ERANGE);
	CHECK_EQ(mw_shm_tensor_bytes(MW_DT_F32, 9, big), MW_EINVAL);
	CHECK_EQ(mw_shm_tensor_bytes(99, 1, big), MW_EINVAL);

	memset(&d, 0, sizeof(d));
	d.dtype = MW_DT_F32;
	d.ndim = 2;
	d.dims[0] = 3;
	d.dims[1] = 5;
	d.buf_off = 8192;
	d.buf_len = 60;
	d.codec = 1;
	d.bits = 2;
	d.ratio = 0.99;
	CHECK_EQ(mw_shm_desc_check(&d, 8192, 4096), 0);
	CHECK_EQ(mw_shm_desc_check(&d, 8200, 4096), MW_ERANGE);
	CHECK_EQ(mw_shm_desc_check(&d, 4096, 4100), MW_ERANGE);
	b = d;
	b.buf_len = 64;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EINVAL);
	b = d;
	b.dims[2] = 1; /* beyond ndim */
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EINVAL);
	b = d;
	b.ndim = 9;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EINVAL);
	b = d;
	b.kind = MW_SHM_KIND_COUNT_;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EINVAL);
	b = d;
	b.ratio = 1.0;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EINVAL);
	b = d;
	b.ratio = 0.0 / 0.0;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EINVAL);
	b = d;
	b.bits = 9;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EINVAL);
	b = d;
	b.codec = MW_SHM_CODEC_COUNT;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EINVAL);
	b = d;
	b.dtype = MW_DT_I32; /* MS on int32 */
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_EUNSUPP);
	b.codec = MW_SHM_CODEC_RAW;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), 0);
	b = d;
	b.dims[0] = 0; /* empty tensor: no buffer */
	b.buf_len = 0;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), MW_ERANGE);
	b.buf_off = 0;
	CHECK_EQ(mw_shm_desc_check(&b, 8192, 4096), 0);
}

static void fill(struct mw_shm_desc *d, uint64_t v)
{
	memset(d, 0, sizeof(*d));
	d->cookie = v;
	d->tag = ~v;
	d->dims[7] = (uint32_t)v;
}

static void test_ring_basic(void)
{
	struct mw_shm_ring_end p, c;
	struct mw_shm_desc in[20], out[20];
	struct mw_shm_hdr h;
	uint64_t size;
	void *base = region(&h, &size);
	int i;

	mw_shm_ring_bind(&p, base, &h, MW_SHM_RING_SUBMIT, 1);
	mw_shm_ring_bind(&c, base, &h, MW_SHM_RING_SUBMIT, 0);
	CHECK_EQ(mw_shm_ring_cap(&p), 8);
	CHECK_EQ(mw_shm_ring_dequeue(&c, out, 4), 0);
	for (i = 0; i < 20; i++)
		fill(&in[i], (uint64_t)i + 1);
	CHECK_EQ(mw_shm_ring_enqueue(&p, in, 3), 3);
	CHECK_EQ(mw_shm_ring_count(&p), 3);
	CHECK_EQ(mw_shm_ring_count(&c), 3);
	CHECK_EQ(mw_shm_ring_dequeue(&c, out, 2), 2);
	CHECK(memcmp(out, in, 2 * sizeof(*in)) == 0);
	/* full: 1 left + 7 more fit, then nothing */
	CHECK_EQ(mw_shm_ring_enqueue(&p, in + 3, 20), 7);
	CHECK_EQ(mw_shm_ring_enqueue(&p, in, 1), 0);
	CHECK_EQ(mw_shm_ring_count(&p), 8);
	CHECK_EQ(mw_shm_ring_dequeue(&c, out, 20), 8);
	CHECK(memcmp(out, in + 2, 8 * sizeof(*in)) == 0);
	CHECK_EQ(mw_shm_ring_count(&c), 0);

	/* an impossible index from the other side is reported, not used */
	atomic_store(&p.ctl->tail, p.idx + 1); /* consumer ahead of head */
	CHECK_EQ(mw_shm_ring_enqueue(&p, in, 1), MW_EFORMAT);
	CHECK_EQ(mw_shm_ring_count(&p), MW_EFORMAT);
	atomic_store(&c.ctl->head, c.idx + 9); /* more than cap entries */
	CHECK_EQ(mw_shm_ring_dequeue(&c, out, 1), MW_EFORMAT);
	CHECK_EQ(mw_shm_ring_count(&c), MW_EFORMAT);
	free(base);
}

/* Indices wrap at 2^32: start just below and run many laps. */
static void test_ring_wrap(void)
{
	struct mw_shm_ring_end p, c;
	struct mw_shm_desc in[5], out[5];
	struct mw_shm_hdr h;
	uint64_t size, next_in = 1, next_out = 1;
	void *base = region(&h, &size);
	struct mw_shm_ring *r =
		(struct mw_shm_ring *)((uint8_t *)base +
				       h.ring[MW_SHM_RING_DELIVER].off);
	int lap, i, n;

	atomic_store(&r->head, UINT32_MAX - 11);
	atomic_store(&r->tail, UINT32_MAX - 11);
	mw_shm_ring_bind(&p, base, &h, MW_SHM_RING_DELIVER, 1);
	mw_shm_ring_bind(&c, base, &h, MW_SHM_RING_DELIVER, 0);
	for (lap = 0; lap < 40; lap++) {
		for (i = 0; i < 5; i++)
			fill(&in[i], next_in + (uint64_t)i);
		n = mw_shm_ring_enqueue(&p, in, 1 + lap % 5);
		CHECK_EQ(n, 1 + lap % 5);
		next_in += (uint64_t)n;
		n = mw_shm_ring_dequeue(&c, out, 5);
		for (i = 0; i < n; i++) {
			CHECK_EQ(out[i].cookie, next_out);
			CHECK_EQ(out[i].dims[7], (uint32_t)next_out);
			next_out++;
		}
	}
	CHECK_EQ(next_in, next_out);
	CHECK(p.idx < 200); /* it did wrap */
	free(base);
}

/* Brute-force reference: is there a free run of n slots? */
static int has_run(const uint8_t *used, uint32_t nslots, uint32_t n)
{
	uint32_t i, run = 0;

	for (i = 0; i < nslots; i++) {
		run = used[i] ? 0 : run + 1;
		if (run >= n)
			return 1;
	}
	return 0;
}

static void test_slotmap(void)
{
	uint64_t bits[MW_SLOTMAP_WORDS(200)];
	struct mw_slotmap m;
	uint8_t used[200];
	struct { uint32_t first, n; } live[64];
	unsigned nlive = 0, seed, step;
	int64_t a, b;

	mw_slotmap_init(&m, bits, 8);
	a = mw_slotmap_alloc(&m, 3);
	b = mw_slotmap_alloc(&m, 3);
	CHECK_EQ(a, 0);
	CHECK_EQ(b, 3);
	CHECK_EQ(m.nfree, 2);
	CHECK_EQ(mw_slotmap_alloc(&m, 9), MW_ELIMIT);
	CHECK_EQ(mw_slotmap_alloc(&m, 0), MW_EINVAL);
	CHECK_EQ(mw_slotmap_free(&m, 0, 3), 0);
	CHECK_EQ(mw_slotmap_free(&m, 0, 3), MW_EINVAL); /* double free */
	CHECK_EQ(mw_slotmap_free(&m, 6, 3), MW_EINVAL); /* past the end */
	CHECK_EQ(mw_slotmap_alloc(&m, 4), MW_EAGAIN);   /* fragmented */
	CHECK_EQ(mw_slotmap_alloc(&m, 2), 6);           /* next fit */
	CHECK_EQ(mw_slotmap_alloc(&m, 3), 0);           /* wraps */
	CHECK_EQ(m.nfree, 0);
	CHECK_EQ(mw_slotmap_alloc(&m, 1), MW_EAGAIN);

	/* seeded random alloc/free against a reference */
	seed = (unsigned)time(NULL);
	srand(seed);
	mw_slotmap_init(&m, bits, 200);
	memset(used, 0, sizeof(used));
	for (step = 0; step < 20000; step++) {
		uint32_t n = 1 + (uint32_t)rand() % 40, i, k;
		unsigned before = (unsigned)mw_test_failures();

		if (nlive < 64 && rand() % 2) {
			a = mw_slotmap_alloc(&m, n);
			if (a >= 0) {
				for (i = 0; i < n; i++) {
					CHECK(!used[a + i]);
					used[a + i] = 1;
				}
				live[nlive].first = (uint32_t)a;
				live[nlive++].n = n;
			} else {
				CHECK_EQ(a, MW_EAGAIN);
				/* next fit may miss nothing: no run exists */
				CHECK(!has_run(used, 200, n));
			}
		} else if (nlive) {
			k = (uint32_t)rand() % nlive;
			CHECK_EQ(mw_slotmap_free(&m, live[k].first, live[k].n),
				 0);
			for (i = 0; i < live[k].n; i++)
				used[live[k].first + i] = 0;
			live[k] = live[--nlive];
		}
		for (i = 0, n = 0; i < 200; i++)
			n += !used[i];
		CHECK_EQ(m.nfree, n);
		if ((unsigned)mw_test_failures() != before) {
			fprintf(stderr, "slotmap: seed %u step %u\n", seed,
				step);
			break;
		}
	}
}

/* mw_shm_peer_load() on entries as a reader finds them: from minor 2 an
 * entry with a peer must have a generation (gen 0 is a corrupt writer);
 * a minor-1 region has none (the same bytes were zero), so gen 0 is
 * fine there. Flags a reader does not know are ignored. */
static void test_peer_entry(void)
{
	struct mw_shm_hdr h;
	struct mw_shm_peer *e, out;
	uint64_t size;
	uint8_t *p = region(&h, &size);

	CHECK(h.abi_minor >= 2);
	e = (struct mw_shm_peer *)(p + h.peer_off + MW_SHM_PEER_CTL_SIZE +
				   MW_SHM_PEER_SIZE);
	e->state = MW_SHM_PEER_UP;
	CHECK_EQ(mw_shm_peer_load(p, &h, 1, &out), MW_EFORMAT);
	e->gen = 3;
	e->flags = MW_SHM_PEER_ACCEPTED | 0x40;
	CHECK_EQ(mw_shm_peer_load(p, &h, 1, &out), 0);
	CHECK_EQ(out.gen, 3);
	CHECK_EQ(out.flags & MW_SHM_PEER_ACCEPTED, MW_SHM_PEER_ACCEPTED);
	e->state = MW_SHM_PEER_NONE; /* a peer that left keeps its gen */
	CHECK_EQ(mw_shm_peer_load(p, &h, 1, &out), 0);
	e->gen = 0;
	CHECK_EQ(mw_shm_peer_load(p, &h, 1, &out), 0);
	e->state = MW_SHM_PEER_DOWN;
	h.abi_minor = 1;
	CHECK_EQ(mw_shm_peer_load(p, &h, 1, &out), 0);
	free(p);
}

int main(void)
{
	test_layout();
	test_peer_entry();
	test_desc();
	test_ring_basic();
	test_ring_wrap();
	test_slotmap();
	return mw_test_exit("test_shm_ring");
}
