/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The drop invariant of PROTOCOL.md 11, checked differentially: a packet
 * the receiver drops leaves no state behind but its drop counter.
 *
 * One sender A talks to two receivers B1 and B2 that start identical and
 * get the same packets at the same times; A hears only B1. B2 also gets
 * one extra packet, made from the input: a genuine packet of A's with some
 * bytes changed (CRC made valid again or not), or arbitrary bytes under
 * A's real identities. If B2 drops it for a reason that has no extra
 * action in the table of section 11, B1 and B2 must stay indistinguishable
 * from then on: the same datagrams out, byte for byte, the same events
 * (with the same decoded tensors), the same timers, the same memory, and
 * the same counters but for the ones that count the extra packet itself.
 * The input also drives what A sends (codecs, shapes), link loss,
 * duplication and reordering, and time. Its length picks the mode
 * (PROTOCOL.md 12): plain, or secure (encrypted or integrity-only), where
 * the extra packet may also be a replay of a packet B already had; an
 * authentication failure or a replay must leave no state either.
 */
#include <string.h>

#include "drop_diff.h"
#include "fuzz_in.h"
#include "mw_transport.h"
#include "wire_int.h"

#define DD_MAXQ 64
#define DD_MTU 600


struct dd_pkt {
	uint8_t b[DD_MTU];
	size_t len;
};

struct dd {
	struct mw_ep *a, *b1, *b2;
	uint16_t pa, pb1, pb2;
	uint64_t now;
	struct dd_pkt q[DD_MAXQ]; /* A -> B, in flight */
	unsigned nq;
	struct dd_pkt last;       /* the latest DATA (full or compact) A sent */
	int same;                 /* B1 and B2 must be identical */
	int failed;
	int extra_done;
	enum mw_drop extra_why;
	uint8_t sec;              /* enum mw_sec_mode of all three */
	uint64_t rs[3];           /* random sources: A, B1, B2 (B1 = B2) */
};

/* Deterministic random bytes (a test source: B1 and B2 draw the same). */
static void dd_rand(void *ctx, void *buf, size_t len)
{
	uint64_t *s = ctx;
	uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		*s = *s * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = (uint8_t)(*s >> 56);
	}
}

static struct mw_ep *dd_ep(uint32_t inc, uint8_t sec, uint64_t *rs)
{
	struct mw_ep_config c;
	struct mw_ep *ep = NULL;

	mw_ep_config_default(&c);
	c.sec_mode = sec;
	memset(c.psk, 0x5a, sizeof(c.psk));
	c.rand = dd_rand;
	c.rand_ctx = rs;
	c.incarnation = inc;
	c.max_peers = 1;
	c.window = 4;
	c.max_retries = 4;
	c.max_datagram = DD_MTU;
	c.max_segs = 256;
	c.max_tensor_bytes = 1 << 14;
	if (mw_ep_new(&c, &ep) < 0)
		return NULL;
	return ep;
}

#define DD_CHECK(d, cond)                                                     \
	do {                                                                  \
		if (!(cond)) {                                                \
			(d)->failed = __LINE__;                               \
			return;                                               \
		}                                                             \
	} while (0)

/* Counters that the extra packet itself moves. */
static void counters_masked(const struct mw_ep *ep, struct mw_counters *c)
{
	mw_ep_counters(ep, c);
	c->pkts_rx = c->bytes_rx = c->drops = 0;
	memset(c->drop, 0, sizeof(c->drop));
}

static void compare(struct dd *d)
{
	struct mw_counters c1, c2;

	if (!d->same)
		return;
	counters_masked(d->b1, &c1);
	counters_masked(d->b2, &c2);
	DD_CHECK(d, memcmp(&c1, &c2, sizeof(c1)) == 0);
	DD_CHECK(d, mw_ep_expiry(d->b1) == mw_ep_expiry(d->b2));
	DD_CHECK(d, mw_ep_mem_held(d->b1) == mw_ep_mem_held(d->b2));
}

/* Drain both receivers' events; they must match. */
static void events(struct dd *d)
{
	struct mw_event e1, e2;
	int h1, h2;

	for (;;) {
		h1 = mw_ep_poll(d->b1, &e1);
		h2 = mw_ep_poll(d->b2, &e2);
		if (d->same) {
			DD_CHECK(d, h1 == h2);
			if (h1) {
				DD_CHECK(d, e1.type == e2.type &&
						    e1.handle == e2.handle &&
						    e1.reason == e2.reason &&
						    e1.bytes == e2.bytes &&
						    e1.meta.tag == e2.meta.tag);
				DD_CHECK(d, e1.type != MW_EV_RX_TENSOR ||
						    memcmp(e1.buf, e2.buf,
							   (size_t)e1.bytes) ==
							    0);
			}
		}
		if (h1)
			mw_ep_release(d->b1, &e1);
		if (h2)
			mw_ep_release(d->b2, &e2);
		if (!h1 && !h2)
			break;
	}
	while (mw_ep_poll(d->a, &e1))
		mw_ep_release(d->a, &e1);
}

/* B1 and B2 send; B1's datagrams go to A (unless the link loses them). */
static void receivers_send(struct dd *d, struct mw_fuzz_in *in)
{
	uint8_t o1[DD_MTU], o2[DD_MTU];
	uint16_t peer;
	int l1, l2;

	for (;;) {
		l1 = mw_ep_send(d->b1, d->now, o1, sizeof(o1), &peer);
		l2 = mw_ep_send(d->b2, d->now, o2, sizeof(o2), &peer);
		if (d->same) {
			DD_CHECK(d, l1 == l2);
			DD_CHECK(d, l1 <= 0 || memcmp(o1, o2, (size_t)l1) == 0);
		}
		if (l1 > 0 && take(in, 16) != 0)
			mw_ep_recv(d->a, d->pa, o1, (size_t)l1, d->now);
		if (l1 <= 0 && l2 <= 0)
			break;
	}
}

static void deliver(struct dd *d, const struct dd_pkt *p)
{
	mw_ep_recv(d->b1, d->pb1, p->b, p->len, d->now);
	mw_ep_recv(d->b2, d->pb2, p->b, p->len, d->now);
}

/* The extra packet for B2 alone. */
static void extra(struct dd *d, struct mw_fuzz_in *in)
{
	struct dd_pkt x;
	struct mw_counters c0, c1;
	struct mw_peer_info pi, pb;
	unsigned i, k, mode = take(in, d->sec ? 5 : 4);
	size_t hl;
	int rc, cdata;

	d->extra_done = 1;
	if (mode == 4 && d->last.len) {
		x = d->last; /* a replay, if B had it already */
	} else if (mode < 3 && d->last.len) {
		x = d->last;
		k = 1 + take(in, 6);
		/* a compact DATA's header is bytes 4-23 (PROTOCOL.md 5.6) */
		cdata = x.b[MW_OFF_TYPE] == MW_PT_CDATA;
		hl = cdata ? MW_WIRE_CDATA_HDR_LEN : MW_WIRE_DATA_HDR_LEN;
		for (i = 0; i < k; i++) {
			size_t off = (size_t)(take(in, 0) << 8 | take(in, 0)) %
				     x.len;
			size_t h0 = cdata ? 4 : MW_WIRE_HDR_LEN;

			/* mode 0: header bytes, 1: payload, 2: anywhere */
			if (mode == 0 && x.len > h0)
				off = h0 + off % (hl - h0);
			else if (mode == 1 && x.len > hl)
				off = hl + off % (x.len - hl);
			x.b[off] ^= (uint8_t)(1 + take(in, 255));
		}
	} else {
		x.len = MW_WIRE_HDR_LEN + take(in, DD_MTU - MW_WIRE_HDR_LEN);
		for (i = 0; i < x.len; i++)
			x.b[i] = (uint8_t)take(in, 0);
		mw_ep_peer_info(d->a, d->pa, &pi);
		mw_wire_put_hdr(x.b, x.b[3] % 6, x.b[6] & 1, &pi.local,
				&pi.remote);
	}
	/* plain: make the CRC valid again, mostly (a compact DATA's under
	 * the session's identities); secure: there is none */
	mw_ep_peer_info(d->a, d->pa, &pi);
	if (mw_wire_is_cdata(x.b, x.len) && x.len >= MW_WIRE_CDATA_HDR_LEN) {
		if (take(in, 4) != 0 && mode != 4)
			mw_wire_finish_cdata(x.b, x.len, &pi.local,
					     &pi.remote);
	} else if (x.len >= MW_WIRE_HDR_LEN && take(in, 4) != 0 &&
		   mode != 4 &&
		   (!d->sec || x.b[MW_OFF_VERSION] == MW_WIRE_VERSION)) {
		mw_wire_finish(x.b, x.len);
	}
	mw_ep_peer_info(d->b2, d->pb2, &pb);
	mw_ep_counters(d->b2, &c0);
	rc = mw_ep_recv(d->b2, d->pb2, x.b, x.len, d->now);
	mw_ep_counters(d->b2, &c1);
	if (rc >= 0 || c1.drops != c0.drops + 1) {
		d->same = 0; /* accepted: B2 may now differ */
		return;
	}
	for (i = 0; i < MW_DROP_COUNT_; i++)
		if (c1.drop[i] != c0.drop[i])
			d->extra_why = (enum mw_drop)i;
	/* Drops with an extra action (section 11) change state by design;
	 * so does a HELLO failing its tag: it took a token (12.6); and a
	 * compact DATA dropped after its CRC verified confirms a session
	 * not confirmed yet (5.6). */
	if (pb.state != MW_PEER_OPEN && mw_wire_is_cdata(x.b, x.len) &&
	    d->extra_why != MW_DROP_TRUNC && d->extra_why != MW_DROP_VERSION &&
	    d->extra_why != MW_DROP_SESSION && d->extra_why != MW_DROP_STALE &&
	    d->extra_why != MW_DROP_CHECKSUM)
		d->same = 0;
	if (d->extra_why == MW_DROP_SESSION || d->extra_why == MW_DROP_WINDOW ||
	    d->extra_why == MW_DROP_NOBUF || d->extra_why == MW_DROP_LATE ||
	    d->extra_why == MW_DROP_NO_DESC ||
	    d->extra_why == MW_DROP_AUTH_SESSION ||
	    (d->extra_why == MW_DROP_AUTH && x.len > MW_OFF_TYPE &&
	     (x.b[MW_OFF_TYPE] == MW_PT_HELLO ||
	      x.b[MW_OFF_TYPE] == MW_PT_HELLO_ACK)))
		d->same = 0;
}

static void submit(struct dd *d, struct mw_fuzz_in *in)
{
	static const unsigned codecs[] = { MW_CODEC_MS, MW_CODEC_MS_SIGNED,
					   MW_CODEC_TOPK, MW_CODEC_QUANT,
					   MW_CODEC_DENSE };
	struct mw_tensor_meta m;
	struct mw_codec_params cp;
	float x[8 + 4 * 255];
	unsigned i, n = 8 + take(in, 0) * 4;
	uint32_t s = 0x9e3779b9u * (1 + take(in, 0));

	memset(&m, 0, sizeof(m));
	memset(&cp, 0, sizeof(cp));
	for (i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (float)(int32_t)s / 2147483648.0f;
	}
	m.dtype = MW_DT_F32;
	m.ndim = 1;
	m.dims[0] = n;
	m.tag = take(in, 0);
	cp.codec = codecs[take(in, 5)];
	cp.bits = 1 + take(in, 4);
	cp.ratio = 0.5 + 0.1 * take(in, 5);
	mw_ep_submit(d->a, d->pa, &m, &cp, x, 4ull * n, 0, d->now, NULL);
}

/* A sends; its datagrams join the queue (some lost, some duplicated). */
static void sender_send(struct dd *d, struct mw_fuzz_in *in)
{
	struct dd_pkt p;
	uint16_t peer;
	int len;

	while ((len = mw_ep_send(d->a, d->now, p.b, sizeof(p.b), &peer)) >
	       0) {
		unsigned fate = take(in, 16);

		p.len = (size_t)len;
		if (mw_ptype_is_data(p.b[3]))
			d->last = p;
		if (fate == 0)
			continue; /* lost */
		if (d->nq < DD_MAXQ)
			d->q[d->nq++] = p;
		if (fate == 1 && d->nq < DD_MAXQ)
			d->q[d->nq++] = p; /* duplicated */
	}
}

static void link_deliver(struct dd *d, struct mw_fuzz_in *in)
{
	unsigned k = take(in, 4); /* how many to hold back (reorder) */

	while (d->nq > k) {
		unsigned i = take(in, d->nq);
		struct dd_pkt p = d->q[i];

		memmove(&d->q[i], &d->q[i + 1],
			(d->nq - i - 1) * sizeof(d->q[0]));
		d->nq--;
		deliver(d, &p);
	}
}

static uint64_t next_time(const struct dd *d)
{
	uint64_t t = mw_ep_expiry(d->a), u;

	u = mw_ep_expiry(d->b1);
	if (u < t)
		t = u;
	u = mw_ep_expiry(d->b2);
	if (u < t)
		t = u;
	return t;
}

int mw_drop_diff_run(const uint8_t *data, size_t len,
		     struct mw_drop_diff_result *res)
{
	struct dd d;
	struct mw_fuzz_in in = { data, len };
	unsigned step, extra_at;

	memset(&d, 0, sizeof(d));
	memset(res, 0, sizeof(*res));
	d.sec = (uint8_t)(len % 3);
	d.rs[0] = 1;
	d.rs[1] = d.rs[2] = 2;
	d.a = dd_ep(7, d.sec, &d.rs[0]);
	d.b1 = dd_ep(9, d.sec, &d.rs[1]);
	d.b2 = dd_ep(9, d.sec, &d.rs[2]);
	if (!d.a || !d.b1 || !d.b2) {
		mw_ep_free(d.a);
		mw_ep_free(d.b1);
		mw_ep_free(d.b2);
		return -1;
	}
	d.pa = (uint16_t)mw_ep_add_peer(d.a);
	d.pb1 = (uint16_t)mw_ep_add_peer(d.b1);
	d.pb2 = (uint16_t)mw_ep_add_peer(d.b2);
	d.now = 1000;
	d.same = 1;
	extra_at = 1 + take(&in, 24);
	for (step = 0; step < 64 && !d.failed; step++) {
		unsigned act = take(&in, 8);
		uint64_t t;

		if (act == 0 || step == 0)
			submit(&d, &in);
		sender_send(&d, &in);
		link_deliver(&d, &in);
		if (step == extra_at && !d.extra_done)
			extra(&d, &in);
		events(&d);
		receivers_send(&d, &in);
		compare(&d);
		/* Time: a small step, or to the next timer. */
		t = next_time(&d);
		if (act >= 6 && t != UINT64_MAX && t > d.now)
			d.now = t;
		else
			d.now += 1000 * (1 + take(&in, 200));
		if (mw_ep_expiry(d.a) <= d.now)
			mw_ep_handle_expiry(d.a, d.now);
		if (mw_ep_expiry(d.b1) <= d.now)
			mw_ep_handle_expiry(d.b1, d.now);
		if (mw_ep_expiry(d.b2) <= d.now)
			mw_ep_handle_expiry(d.b2, d.now);
		if (in.n == 0 && d.nq == 0 && step > extra_at)
			break;
	}
	events(&d);
	res->failed_line = d.failed;
	res->compared = d.extra_done && d.same;
	res->extra_drop = d.extra_why;
	res->mem_ok = mw_ep_mem_held(d.b2) <= mw_ep_mem_bound(d.b2);
	mw_ep_free(d.a);
	mw_ep_free(d.b1);
	mw_ep_free(d.b2);
	return d.failed ? 1 : 0;
}
