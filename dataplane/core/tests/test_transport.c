/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for transport.c: a lossless exchange, every drop reason,
 * allocator back-pressure, peer restart, close, timeouts, memory bounds,
 * simultaneous open and close, reordering learnt, spurious timeouts
 * undone, per-peer send. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_transport.h"
#include "mw_test.h"
#include "wire_int.h"

struct pair {
	struct mw_ep *ep[2];
	uint16_t peer[2];
	uint64_t now;
	uint8_t last[2][2048]; /* last DATA each side sent */
	size_t last_len[2];
	int drop_all;          /* link cut */
	/* A->B DATA hook: may change the datagram or feed B extra ones;
	 * returns 0 to lose it. */
	int (*a_data)(struct pair *p, uint8_t *buf, size_t len);
	int hooked;            /* for the hook's own use */
};

static struct mw_ep *mk(uint32_t inc, const struct mw_rx_alloc *al)
{
	struct mw_ep_config c;
	struct mw_ep *ep = NULL;

	mw_ep_config_default(&c);
	c.incarnation = inc;
	c.max_peers = 2;
	c.window = 4;
	c.max_retries = 5;
	c.max_tensor_bytes = 1 << 20;
	c.max_segs = 4096;
	if (al)
		c.rx_alloc = *al;
	CHECK(mw_ep_new(&c, &ep) == 0);
	return ep;
}

static void pair_init(struct pair *p, const struct mw_rx_alloc *al)
{
	memset(p, 0, sizeof(*p));
	p->ep[0] = mk(100, NULL);
	p->ep[1] = mk(200, al);
	p->peer[0] = (uint16_t)mw_ep_add_peer(p->ep[0]);
	p->peer[1] = (uint16_t)mw_ep_add_peer(p->ep[1]);
	p->now = 1000;
}

/* Move packets until quiet; returns packets moved. */
static int pump(struct pair *p, int rounds)
{
	uint8_t buf[2048];
	uint16_t peer;
	int k, len, moved = 0, r;

	for (r = 0; r < rounds; r++) {
		int any = 0;

		for (k = 0; k < 2; k++) {
			while ((len = mw_ep_send(p->ep[k], p->now, buf,
						 sizeof(buf), &peer)) > 0) {
				any = 1;
				moved++;
				if (buf[3] == MW_PT_DATA) {
					memcpy(p->last[k], buf, (size_t)len);
					p->last_len[k] = (size_t)len;
				}
				if (k == 0 && buf[3] == MW_PT_DATA &&
				    p->a_data &&
				    !p->a_data(p, buf, (size_t)len))
					continue;
				if (!p->drop_all)
					mw_ep_recv(p->ep[!k], p->peer[!k], buf,
						   (size_t)len, p->now);
			}
		}
		p->now += 10000;
		for (k = 0; k < 2; k++)
			if (mw_ep_expiry(p->ep[k]) <= p->now)
				mw_ep_handle_expiry(p->ep[k], p->now), any = 1;
		if (!any)
			break;
	}
	return moved;
}

static float xs[4096];

static int submit(struct pair *p, int k, uint64_t tag, uint64_t *h)
{
	struct mw_tensor_meta m;
	struct mw_codec_params cp;
	unsigned i;

	memset(&m, 0, sizeof(m));
	memset(&cp, 0, sizeof(cp));
	for (i = 0; i < 4096; i++)
		xs[i] = (float)((i * 2654435761u) % 1000) / 100.0f;
	m.dtype = MW_DT_F32;
	m.kind = MW_KIND_ACTIVATION;
	m.ndim = 2;
	m.dims[0] = 64;
	m.dims[1] = 64;
	m.tag = tag;
	cp.codec = MW_CODEC_MS;
	cp.bits = 2;
	cp.ratio = 0.9;
	return mw_ep_submit(p->ep[k], p->peer[k], &m, &cp, xs, sizeof(xs), 0,
			    p->now, h);
}

static int poll_type(struct mw_ep *ep, int type, struct mw_event *out)
{
	struct mw_event ev;
	int n = 0;

	while (mw_ep_poll(ep, &ev)) {
		if (ev.type == type) {
			n++;
			if (out)
				*out = ev;
			else
				mw_ep_release(ep, &ev);
		} else {
			mw_ep_release(ep, &ev);
		}
	}
	return n;
}

static void free_pair(struct pair *p)
{
	mw_ep_free(p->ep[0]);
	mw_ep_free(p->ep[1]);
}

static void test_exchange(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	uint64_t h = 0;
	float ref[4096];
	int i;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 42, &h) == 0 && h != 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1);
	CHECK(ev.meta.tag == 42 && ev.bytes == sizeof(xs) &&
	      ev.meta.dims[1] == 64 && ev.desc.codec == MW_CODEC_MS);
	{
		/* bit-exact against a whole-payload decode */
		struct mw_codec_params cp = { MW_CODEC_MS, 2, 0, 0, 0.9 };
		struct mw_codec_desc d;
		static uint8_t pay[1 << 16], scr[1 << 16];
		int64_t n = mw_encode(&cp, xs, 4096, &d, pay, sizeof(pay), scr,
				      sizeof(scr));

		CHECK(n > 0 && mw_seg_decode(&d, 0, 4096, pay, (size_t)n,
					     ref) >= 0);
		CHECK(memcmp(ref, ev.buf, sizeof(ref)) == 0);
	}
	mw_ep_release(p.ep[1], &ev);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, &ev) == 1 && ev.handle == h);
	/* window: 4 pending at most, then MW_EAGAIN */
	for (i = 0; i < 4; i++)
		CHECK(submit(&p, 0, (uint64_t)i, NULL) == 0);
	CHECK(submit(&p, 0, 9, NULL) == MW_EAGAIN);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 4);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 4);
	mw_ep_counters(p.ep[0], &c);
	CHECK(c.tensors_sent == 5 && c.retrans == 0 && c.drops == 0);
	CHECK(mw_ep_mem_held(p.ep[1]) <= mw_ep_mem_bound(p.ep[1]));
	free_pair(&p);
}

/* Re-send a mutated copy of the last DATA packet and check the counter. */
static void expect_drop(struct pair *p, size_t off, uint8_t xor_val,
			int refinish, enum mw_drop why)
{
	uint8_t q[2048];
	struct mw_counters c0, c1;
	size_t n = p->last_len[0];

	memcpy(q, p->last[0], n);
	q[off] ^= xor_val;
	if (refinish)
		mw_wire_finish(q, n);
	mw_ep_counters(p->ep[1], &c0);
	mw_ep_recv(p->ep[1], p->peer[1], q, n, p->now);
	mw_ep_counters(p->ep[1], &c1);
	if (c1.drop[why] != c0.drop[why] + 1)
		fprintf(stderr, "expected drop %s at offset %zu\n",
			mw_drop_name(why), off);
	CHECK(c1.drop[why] == c0.drop[why] + 1);
	CHECK(c1.drops == c0.drops + 1);
}

static void test_bad_packets(void)
{
	struct pair p;
	struct mw_counters c0, c1;
	uint8_t q[2048];
	size_t n;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	n = p.last_len[0];
	CHECK(n > MW_WIRE_DATA_HDR_LEN);

	expect_drop(&p, 0, 0x01, 0, MW_DROP_MAGIC);
	expect_drop(&p, 2, 0x02, 0, MW_DROP_VERSION);
	expect_drop(&p, 3, 0x40, 1, MW_DROP_TYPE);
	expect_drop(&p, 150, 0x10, 0, MW_DROP_CHECKSUM);
	expect_drop(&p, 7, 0x04, 1, MW_DROP_FORMAT);      /* unknown flag */
	expect_drop(&p, 12, 0x80, 1, MW_DROP_STALE);      /* older gen */
	expect_drop(&p, 19, 0x01, 1, MW_DROP_SESSION);    /* wrong dst */
	expect_drop(&p, 92, 0x40, 1, MW_DROP_HEADER);     /* codec */
	expect_drop(&p, 40, 0x01, 1, MW_DROP_HEADER);     /* elem_cnt */
	expect_drop(&p, 67, 0x01, 1, MW_DROP_HEADER);     /* n vs shape */
	expect_drop(&p, 33, 0x07, 1, MW_DROP_WINDOW);     /* tid far ahead */
	/* tensor bigger than the receiver accepts: n and shape both grown */
	{
		memcpy(q, p.last[0], n);
		mw_put64(q + 64, (uint64_t)1 << 22);
		mw_put32(q + 108, 1024);
		mw_put32(q + 112, 4096);
		mw_put32(q + 44, 0);
		mw_wire_finish(q, n);
		mw_ep_counters(p.ep[1], &c0);
		mw_ep_recv(p.ep[1], p.peer[1], q, n, p.now);
		mw_ep_counters(p.ep[1], &c1);
		/* either the header check or the limit catches it */
		CHECK(c1.drops == c0.drops + 1);
	}
	/* truncated: below the header, and length field > datagram */
	mw_ep_counters(p.ep[1], &c0);
	mw_ep_recv(p.ep[1], p.peer[1], p.last[0], 10, p.now);
	mw_ep_recv(p.ep[1], p.peer[1], p.last[0], n - 1, p.now);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.drop[MW_DROP_TRUNC] == c0.drop[MW_DROP_TRUNC] + 2);
	/* payload inconsistent with its header: mask says no sentinel but
	 * values are carried -> the codec rejects it */
	memcpy(q, p.last[0], n);
	memset(q + MW_WIRE_DATA_HDR_LEN, 0, mw_mask_bytes(mw_get32(q + 40), 2));
	mw_put32(q + 32, mw_get32(q + 32) + 1); /* a fresh tensor id */
	mw_wire_finish(q, n);
	mw_ep_counters(p.ep[1], &c0);
	mw_ep_recv(p.ep[1], p.peer[1], q, n, p.now);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.drop[MW_DROP_PAYLOAD] == c0.drop[MW_DROP_PAYLOAD] + 1 ||
	      mw_get32(q + 44) == 0);
	/* same tensor id, different metadata -> inconsistent */
	{
		uint8_t r[2048];

		memcpy(r, p.last[0], n);
		mw_put32(r + 32, mw_get32(r + 32) + 1);
		mw_wire_finish(r, n);
		mw_ep_recv(p.ep[1], p.peer[1], r, n, p.now); /* opens tid+1 */
		memcpy(q, r, n);
		q[80] ^= 1; /* tag differs */
		mw_wire_finish(q, n);
		mw_ep_counters(p.ep[1], &c0);
		mw_ep_recv(p.ep[1], p.peer[1], q, n, p.now);
		mw_ep_counters(p.ep[1], &c1);
		CHECK(c1.drop[MW_DROP_INCONSISTENT] ==
		      c0.drop[MW_DROP_INCONSISTENT] + 1);
	}
	/* duplicate of a delivered segment: counted, not dropped */
	mw_ep_counters(p.ep[1], &c0);
	mw_ep_recv(p.ep[1], p.peer[1], p.last[0], n, p.now);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.data_rx_dup == c0.data_rx_dup + 1 && c1.drops == c0.drops);
	/* ACK claiming a tensor id never sent */
	{
		struct mw_ack a;
		struct mw_peer_info pi;

		mw_ep_peer_info(p.ep[1], p.peer[1], &pi);
		memset(&a, 0, sizeof(a));
		a.cum_tid = 50;
		a.rx_limit = 60;
		mw_wire_put_hdr(q, MW_PT_ACK, 0, &pi.local, &pi.remote);
		mw_wire_put_ack_fixed(q, &a);
		mw_wire_finish(q, MW_WIRE_ACK_FIXED_LEN);
		mw_ep_counters(p.ep[0], &c0);
		mw_ep_recv(p.ep[0], p.peer[0], q, MW_WIRE_ACK_FIXED_LEN, p.now);
		mw_ep_counters(p.ep[0], &c1);
		CHECK(c1.drop[MW_DROP_ACK] == c0.drop[MW_DROP_ACK] + 1);
	}
	/* unknown peer id */
	CHECK(mw_ep_recv(p.ep[1], 7, p.last[0], n, p.now) == MW_ENOENT);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.drop[MW_DROP_PEER] == 1);
	/* nothing bad was delivered */
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 0);
	CHECK(mw_ep_mem_held(p.ep[1]) <= mw_ep_mem_bound(p.ep[1]));
	free_pair(&p);
}

/* An allocator with room for `room` tensors at a time. */
struct arena {
	int room, live;
};

static void *ar_alloc(void *ctx, uint64_t bytes, const struct mw_rx_info *ri)
{
	struct arena *a = ctx;

	(void)ri;
	if (a->live >= a->room)
		return NULL;
	a->live++;
	return malloc(bytes);
}

static void ar_free(void *ctx, void *buf, uint64_t bytes)
{
	struct arena *a = ctx;

	(void)bytes;
	a->live--;
	free(buf);
}

static void test_backpressure(void)
{
	struct arena ar = { 1, 0 };
	struct mw_rx_alloc al = { ar_alloc, ar_free, &ar };
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	int i, got = 0, fails0;

	pair_init(&p, &al);
	for (i = 0; i < 3; i++)
		CHECK(submit(&p, 0, (uint64_t)i, NULL) == 0);
	/* The app holds each tensor a long while before releasing it. */
	for (i = 0; i < 40 && got < 3; i++) {
		pump(&p, 20);
		while (mw_ep_poll(p.ep[1], &ev))
			if (ev.type == MW_EV_RX_TENSOR) {
				CHECK(ev.meta.tag == (uint64_t)got);
				got++;
				p.now += 50000000; /* 50 ms later */
				mw_ep_release(p.ep[1], &ev);
			}
	}
	CHECK(got == 3);
	mw_ep_counters(p.ep[1], &c);
	CHECK(c.drop[MW_DROP_NOBUF] > 0);
	fails0 = poll_type(p.ep[0], MW_EV_TX_FAILED, NULL);
	CHECK(fails0 == 0); /* flow control, not failure */
	CHECK(ar.live == 0);
	free_pair(&p);
}

static void test_timeout_and_restart(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	int i;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL);
	poll_type(p.ep[0], MW_EV_TX_DONE, NULL);

	/* link cut: the sender must report failure, not hang */
	p.drop_all = 1;
	CHECK(submit(&p, 0, 2, NULL) == 0);
	for (i = 0; i < 200 && mw_ep_expiry(p.ep[0]) != UINT64_MAX; i++) {
		pump(&p, 1);
		p.now = mw_ep_expiry(p.ep[0]) == UINT64_MAX ?
				p.now : mw_ep_expiry(p.ep[0]);
	}
	CHECK(poll_type(p.ep[0], MW_EV_TX_FAILED, &ev) == 1);
	CHECK(ev.reason == MW_ETIMEDOUT && ev.meta.tag == 2);
	p.drop_all = 0;
	/* the link returns: a new session carries new tensors */
	CHECK(submit(&p, 0, 3, NULL) == 0);
	pump(&p, 100);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
	      ev.meta.tag == 3);
	mw_ep_release(p.ep[1], &ev);

	/* receiver restarts with a new incarnation while a tensor is in
	 * flight: the sender fails it with MW_ERESET and learns the restart */
	CHECK(submit(&p, 0, 4, NULL) == 0);
	{
		uint8_t buf[2048];
		uint16_t peer;

		mw_ep_send(p.ep[0], p.now, buf, sizeof(buf), &peer);
	}
	mw_ep_free(p.ep[1]);
	p.ep[1] = mk(201, NULL);
	p.peer[1] = (uint16_t)mw_ep_add_peer(p.ep[1]);
	pump(&p, 100);
	{
		int restarted = 0, failed = 0;

		while (mw_ep_poll(p.ep[0], &ev)) {
			restarted += ev.type == MW_EV_PEER_RESTARTED;
			failed += ev.type == MW_EV_TX_FAILED &&
				  ev.reason == MW_ERESET;
		}
		CHECK(restarted == 1 && failed == 1);
	}
	mw_ep_counters(p.ep[0], &c);
	CHECK(c.peer_restarts == 1);
	/* traffic continues with the new incarnation, nothing old mixed in */
	CHECK(submit(&p, 0, 5, NULL) == 0);
	pump(&p, 100);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
	      ev.meta.tag == 5 && ev.handle == 0);
	mw_ep_release(p.ep[1], &ev);

	/* close: the peer sees the session closed */
	CHECK(mw_ep_close_peer(p.ep[0], p.peer[0], p.now) == 0);
	pump(&p, 10);
	CHECK(poll_type(p.ep[1], MW_EV_SESSION_CLOSED, &ev) == 1 &&
	      ev.reason == MW_ESHUTDOWN);
	CHECK(mw_ep_remove_peer(p.ep[0], p.peer[0], p.now) == 0);
	CHECK(mw_ep_remove_peer(p.ep[0], p.peer[0], p.now) == MW_ENOENT);
	free_pair(&p);
}

/* Move every datagram both sides have at one instant, crossing on the
 * wire: both sides send before either receives. Returns datagrams moved. */
static int cross(struct mw_ep *ep[2], const uint16_t peer[2], uint64_t now)
{
	static uint8_t q[2][16][2048];
	size_t ql[2][16];
	int n[2] = { 0, 0 }, k, i, len;
	uint16_t pe;

	for (k = 0; k < 2; k++)
		while (n[k] < 16 && (len = mw_ep_send(ep[k], now, q[k][n[k]],
						       2048, &pe)) > 0)
			ql[k][n[k]++] = (size_t)len;
	for (k = 0; k < 2; k++)
		for (i = 0; i < n[k]; i++)
			mw_ep_recv(ep[!k], peer[!k], q[k][i], ql[k][i], now);
	return n[0] + n[1];
}

static void test_simultaneous_open_close(void)
{
	struct pair p;
	struct mw_counters c;
	int k, r, round;

	pair_init(&p, NULL);
	for (round = 0; round < 2; round++) {
		/* both applications submit at the same instant */
		for (k = 0; k < 2; k++)
			CHECK(submit(&p, k, 7, NULL) == 0);
		for (r = 0; r < 100 && cross(p.ep, p.peer, p.now); r++)
			p.now += 1000;
		for (k = 0; k < 2; k++) {
			CHECK(poll_type(p.ep[k], MW_EV_RX_TENSOR, NULL) == 1);
			mw_ep_counters(p.ep[k], &c);
			CHECK(c.tensors_sent == (uint64_t)round + 1);
			/* one HELLO and one HELLO_ACK per side and session */
			CHECK(c.hello_tx == 2 * ((uint64_t)round + 1));
			CHECK(c.session_resets == 0 && c.drops == 0);
		}
		/* both applications close at the same instant: each side
		 * takes the other's CLOSE for the session it closed */
		for (k = 0; k < 2; k++)
			CHECK(mw_ep_close_peer(p.ep[k], p.peer[k], p.now) == 0);
		for (r = 0; r < 10 && cross(p.ep, p.peer, p.now); r++)
			p.now += 1000;
		for (k = 0; k < 2; k++) {
			mw_ep_counters(p.ep[k], &c);
			CHECK(c.close_rx == (uint64_t)round + 1);
			CHECK(c.sessions_closed == (uint64_t)round + 1);
			CHECK(c.session_resets == 0 && c.drops == 0);
			CHECK(poll_type(p.ep[k], MW_EV_SESSION_CLOSED, NULL) == 0);
		}
	}
	free_pair(&p);
}

/*
 * Reordering: a DATA packet overtaken by the next one and delivered late
 * is first declared lost (then found to have arrived: spurious); the
 * reordering window grows, and the same delay no longer triggers a loss.
 */
static void test_reorder_learning(void)
{
	struct mw_ep_config cf;
	struct mw_ep *ep[2];
	uint16_t peer[2];
	uint8_t d[2][2048], a[2048];
	size_t dl[2];
	int k, len, round;
	uint16_t pe;
	uint64_t t = 1000;
	struct mw_counters c;
	struct pair tmp;

	for (k = 0; k < 2; k++) {
		mw_ep_config_default(&cf);
		cf.incarnation = 300 + (uint32_t)k;
		cf.ack_delay_ns = 1000;
		CHECK(mw_ep_new(&cf, &ep[k]) == 0);
		peer[k] = (uint16_t)mw_ep_add_peer(ep[k]);
	}
	tmp.ep[0] = ep[0];
	tmp.peer[0] = peer[0];
	tmp.now = t;
	for (round = 0; round < 2; round++) {
		CHECK(submit(&tmp, 0, (uint64_t)round, NULL) == 0);
		if (round == 0) { /* HELLO, HELLO_ACK: no RTT sample */
			for (k = 0; k < 2; k++) {
				len = mw_ep_send(ep[k], t, a, sizeof(a), &pe);
				CHECK(len > 0);
				mw_ep_recv(ep[!k], peer[!k], a,
					   len > 0 ? (size_t)len : 0, t);
			}
		}
		/* the tensor's two DATA packets, sent at t */
		for (k = 0; k < 2; k++) {
			len = mw_ep_send(ep[0], t, d[k], sizeof(d[k]), &pe);
			CHECK(len > 0 && d[k][3] == MW_PT_DATA);
			dl[k] = len > 0 ? (size_t)len : 0;
		}
		CHECK(mw_ep_send(ep[0], t, a, sizeof(a), &pe) == 0);
		/* the second arrives at t+50us, its ACK back at t+100us */
		mw_ep_recv(ep[1], peer[1], d[1], dl[1], t + 50000);
		mw_ep_handle_expiry(ep[1], t + 51000);
		len = mw_ep_send(ep[1], t + 51000, a, sizeof(a), &pe);
		CHECK(len > 0 && a[3] == MW_PT_ACK);
		mw_ep_recv(ep[0], peer[0], a, (size_t)len, t + 100000);
		/* the first is late: by t+150us, 1.5 RTT after its send */
		if (mw_ep_expiry(ep[0]) <= t + 150000)
			mw_ep_handle_expiry(ep[0], t + 150000);
		mw_ep_recv(ep[1], peer[1], d[0], dl[0], t + 150000);
		while ((len = mw_ep_send(ep[1], t + 150000, a, sizeof(a),
					 &pe)) > 0)
			mw_ep_recv(ep[0], peer[0], a, (size_t)len, t + 200000);
		CHECK(poll_type(ep[1], MW_EV_RX_TENSOR, NULL) == 1);
		CHECK(poll_type(ep[0], MW_EV_TX_DONE, NULL) == 1);
		mw_ep_counters(ep[0], &c);
		/* round 0: declared lost, then acknowledged before it was
		 * resent; round 1: the learnt window covers the delay */
		CHECK(c.spurious_losses == 1);
		CHECK(c.retrans == 0);
		/* the reduction for that loss was undone */
		CHECK(c.cc_undos == 1);
		{
			struct mw_peer_info pi;

			CHECK(mw_ep_peer_info(ep[0], peer[0], &pi) == 0);
			CHECK(pi.cwnd >= cf.cwnd_initial);
		}
		CHECK(mw_ep_send(ep[0], t + 200000, a, sizeof(a), &pe) <= 0 ||
		      a[3] != MW_PT_DATA);
		t += 10000000;
		tmp.now = t;
	}
	mw_ep_free(ep[0]);
	mw_ep_free(ep[1]);
}

/* Everything ep has to send at now, kept in q (up to 64 datagrams). */
struct dgq {
	uint8_t b[64][2048];
	size_t len[64];
	int n;
};

static void take_all(struct mw_ep *ep, uint64_t now, struct dgq *q)
{
	uint16_t pe;
	int len;

	q->n = 0;
	while (q->n < 64 && (len = mw_ep_send(ep, now, q->b[q->n],
					      sizeof(q->b[0]), &pe)) > 0)
		q->len[q->n++] = (size_t)len;
}

static void give_all(struct mw_ep *ep, uint16_t peer, const struct dgq *q,
		     int from, int to, uint64_t now)
{
	int i;

	for (i = from; i < to && i < q->n; i++)
		mw_ep_recv(ep, peer, q->b[i], q->len[i], now);
}

/*
 * A receiver descheduled longer than the RTO: the sender times out and
 * collapses its window although nothing was lost. The ACKs that arrive
 * after the stall acknowledge packets sent before the timeout: the
 * timeout is found spurious and the window restored. The same timeout
 * with the flight really lost (only the probe arrives) is not undone,
 * nor is anything with undo disabled.
 */
static void test_spurious_rto(void)
{
	static struct dgq data, probe, acks;
	int variant;

	for (variant = 0; variant < 3; variant++) {
		struct mw_ep_config cf;
		struct mw_ep *ep[2];
		uint16_t peer[2];
		struct pair tmp;
		struct mw_peer_info before, pi;
		struct mw_counters c;
		uint64_t t = 1000;
		int k, r;

		for (k = 0; k < 2; k++) {
			mw_ep_config_default(&cf);
			cf.incarnation = 700 + (uint32_t)k;
			cf.window = 4;
			cf.undo = variant != 2;
			CHECK(mw_ep_new(&cf, &ep[k]) == 0);
			peer[k] = (uint16_t)mw_ep_add_peer(ep[k]);
		}
		memset(&tmp, 0, sizeof(tmp));
		tmp.ep[0] = ep[0];
		tmp.peer[0] = peer[0];
		tmp.now = t;
		/* open the session and move one tensor: RTT ~ 20 us */
		CHECK(submit(&tmp, 0, 1, NULL) == 0);
		for (r = 0; r < 20; r++) {
			take_all(ep[0], t, &data);
			give_all(ep[1], peer[1], &data, 0, data.n, t + 10000);
			t += 10000;
			mw_ep_handle_expiry(ep[1], t);
			take_all(ep[1], t, &acks);
			give_all(ep[0], peer[0], &acks, 0, acks.n, t + 10000);
			t += 10000;
		}
		CHECK(poll_type(ep[1], MW_EV_RX_TENSOR, NULL) == 1);
		CHECK(poll_type(ep[0], MW_EV_TX_DONE, NULL) == 1);
		/* three tensors sent; the receiver is descheduled */
		tmp.now = t;
		for (k = 0; k < 3; k++)
			CHECK(submit(&tmp, 0, 2 + (uint64_t)k, NULL) == 0);
		take_all(ep[0], t, &data);
		CHECK(data.n >= 3);
		CHECK(mw_ep_peer_info(ep[0], peer[0], &before) == 0);
		CHECK(before.in_flight == (uint32_t)data.n);
		t = mw_ep_expiry(ep[0]);
		CHECK(t != UINT64_MAX);
		mw_ep_handle_expiry(ep[0], t);
		take_all(ep[0], t, &probe);
		CHECK(probe.n == 1 && probe.b[0][3] == MW_PT_DATA);
		CHECK(mw_ep_peer_info(ep[0], peer[0], &pi) == 0);
		CHECK(pi.cwnd == cf.cwnd_min);
		/* the receiver wakes up: the flight arrives (variant 1: it
		 * was lost, only the probe arrives), then the probe */
		t += 2000000;
		if (variant != 1)
			give_all(ep[1], peer[1], &data, 0, data.n, t);
		give_all(ep[1], peer[1], &probe, 0, 1, t);
		take_all(ep[1], t, &acks);
		CHECK(acks.n >= 1);
		give_all(ep[0], peer[0], &acks, 0, acks.n, t + 10000);
		mw_ep_counters(ep[0], &c);
		CHECK(c.rto_events == 1);
		CHECK(c.spurious_rtos == (variant == 0 ? 1u : 0u));
		CHECK(mw_ep_peer_info(ep[0], peer[0], &pi) == 0);
		CHECK(pi.rto_count == 0);
		if (variant == 0)
			CHECK(pi.cwnd >= before.cwnd &&
			      pi.ssthresh == before.ssthresh);
		else
			CHECK(pi.cwnd < before.cwnd);
		mw_ep_free(ep[0]);
		mw_ep_free(ep[1]);
	}
}

/* mw_ep_send_peer() pulls one peer's datagrams and leaves the others'. */
static void test_send_peer(void)
{
	struct mw_ep *a = mk(400, NULL), *b = mk(500, NULL), *c = mk(600, NULL);
	struct mw_ep *dst[2] = { b, c };
	uint16_t pa[2], pdst[2];
	uint8_t buf[2048], hello[2][2048];
	size_t hl[2] = { 0, 0 };
	struct pair tmp;
	uint16_t pe;
	int len, i, k, moved;
	uint64_t now = 1000;

	pa[0] = (uint16_t)mw_ep_add_peer(a);
	pa[1] = (uint16_t)mw_ep_add_peer(a);
	pdst[0] = (uint16_t)mw_ep_add_peer(b);
	pdst[1] = (uint16_t)mw_ep_add_peer(c);
	tmp.ep[0] = a;
	tmp.now = now;
	for (k = 0; k < 2; k++) {
		tmp.peer[0] = pa[k];
		CHECK(submit(&tmp, 0, (uint64_t)k, NULL) == 0);
	}
	CHECK(mw_ep_send_peer(a, pa[1], now, buf, 100) == MW_ENOSPC);
	CHECK(mw_ep_send_peer(a, 9, now, buf, sizeof(buf)) == MW_ENOENT);
	/* only the second peer's HELLO comes out, however often we ask */
	len = mw_ep_send_peer(a, pa[1], now, hello[1], sizeof(hello[1]));
	CHECK(len > 0 && hello[1][3] == MW_PT_HELLO);
	hl[1] = len > 0 ? (size_t)len : 0;
	CHECK(mw_ep_send_peer(a, pa[1], now, buf, sizeof(buf)) == 0);
	/* the first peer's HELLO is still there */
	len = mw_ep_send(a, now, hello[0], sizeof(hello[0]), &pe);
	CHECK(len > 0 && pe == pa[0] && hello[0][3] == MW_PT_HELLO);
	hl[0] = len > 0 ? (size_t)len : 0;
	CHECK(mw_ep_send(a, now, buf, sizeof(buf), &pe) == 0);
	/* serve the peers one after the other with send_peer only */
	for (k = 0; k < 2; k++) {
		mw_ep_recv(dst[k], pdst[k], hello[k], hl[k], now);
		for (i = 0; i < 200; i++) {
			moved = 0;
			while ((len = mw_ep_send_peer(a, pa[k], now, buf,
						      sizeof(buf))) > 0) {
				mw_ep_recv(dst[k], pdst[k], buf, (size_t)len,
					   now);
				moved++;
			}
			while ((len = mw_ep_send(dst[k], now, buf, sizeof(buf),
						 &pe)) > 0) {
				mw_ep_recv(a, pa[k], buf, (size_t)len, now);
				moved++;
			}
			now += 10000;
			if (mw_ep_expiry(a) <= now)
				mw_ep_handle_expiry(a, now), moved++;
			if (mw_ep_expiry(dst[k]) <= now)
				mw_ep_handle_expiry(dst[k], now), moved++;
			if (!moved)
				break;
		}
		CHECK(poll_type(dst[k], MW_EV_RX_TENSOR, NULL) == 1);
	}
	CHECK(poll_type(a, MW_EV_TX_DONE, NULL) == 2);
	mw_ep_free(a);
	mw_ep_free(b);
	mw_ep_free(c);
}

static void test_config(void)
{
	struct mw_ep_config c;
	struct mw_ep *ep;

	mw_ep_config_default(&c);
	CHECK(mw_ep_config_check(&c) == 0);
	c.incarnation = 0;
	CHECK(mw_ep_new(&c, &ep) == MW_EINVAL);
	mw_ep_config_default(&c);
	c.max_datagram = 100;
	CHECK(mw_ep_config_check(&c) == MW_EINVAL);
	mw_ep_config_default(&c);
	c.rto_min_ns = c.rto_max_ns + 1;
	CHECK(mw_ep_config_check(&c) == MW_EINVAL);
	CHECK(strcmp(mw_drop_name(MW_DROP_CHECKSUM), "bad_checksum") == 0);
}

/* ---- hardening: a dropped packet leaves no state (PROTOCOL.md 11) ---- */

/* Feed B a datagram, return which drop counter moved (-1: accepted). */
static int feed_b(struct pair *p, const uint8_t *q, size_t n)
{
	struct mw_counters c0, c1;
	unsigned i;

	mw_ep_counters(p->ep[1], &c0);
	mw_ep_recv(p->ep[1], p->peer[1], q, n, p->now);
	mw_ep_counters(p->ep[1], &c1);
	for (i = 0; i < MW_DROP_COUNT_; i++)
		if (c1.drop[i] != c0.drop[i])
			return (int)i;
	return -1;
}

/* Before the first genuine segment of a tensor, B gets a copy with other
 * tensor metadata (the tag) and a payload that fails to decode: no value
 * for its sentinels (hooked 1) or a NaN value (hooked 2). */
static int poison_first(struct pair *p, uint8_t *buf, size_t len)
{
	uint8_t q[2048];
	uint32_t ec = mw_get32(buf + 40), vc = mw_get32(buf + 44);
	size_t mb = mw_mask_bytes(ec, 2);

	if (p->hooked == 0 || p->hooked > 2 || vc == 0)
		return 1;
	memcpy(q, buf, len);
	q[80] ^= 1;
	if (p->hooked == 1)
		memset(q + MW_WIRE_DATA_HDR_LEN, 0xff, mb); /* all sentinels */
	else
		mw_put32(q + MW_WIRE_DATA_HDR_LEN + mb, 0x0000c07fu); /* NaN */
	mw_wire_finish(q, len);
	CHECK_EQ(feed_b(p, q, len), MW_DROP_PAYLOAD);
	p->hooked += 10;
	return 1;
}

static void test_drop_leaves_no_state(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	int round;

	for (round = 1; round <= 2; round++) {
		pair_init(&p, NULL);
		p.a_data = poison_first;
		p.hooked = round;
		CHECK(submit(&p, 0, 7, NULL) == 0);
		CHECK(submit(&p, 0, 8, NULL) == 0);
		pump(&p, 100);
		CHECK(p.hooked == round + 10);
		/* the genuine tensor and the one behind it arrive */
		CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 2);
		mw_ep_release(p.ep[1], &ev);
		CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 2);
		mw_ep_counters(p.ep[1], &c);
		CHECK_EQ(c.drop[MW_DROP_INCONSISTENT], 0);
		CHECK_EQ(c.drop[MW_DROP_PAYLOAD], 1);
		free_pair(&p);
	}
}

/* A segment that is not the last must end on a multiple of 8 elements,
 * or no next segment could start there (5.2, 5.3). */
static void test_unaligned_segment(void)
{
	struct pair p;
	struct mw_peer_info pi;
	struct mw_data d;
	uint8_t q[512];
	float v[16];
	unsigned i;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	mw_ep_peer_info(p.ep[0], p.peer[0], &pi);
	for (i = 0; i < 16; i++)
		v[i] = (float)i;
	memset(&d, 0, sizeof(d));
	d.pn = 1000;
	d.tid = 1;
	d.seg_cnt = 2;
	d.desc.codec = MW_CODEC_DENSE;
	d.desc.n = 16;
	d.meta.dtype = MW_DT_F32;
	d.meta.ndim = 1;
	d.meta.dims[0] = 16;
	d.seg.elem_cnt = 12; /* [0, 12) of 16, then [12, 16): never whole */
	mw_wire_put_hdr(q, MW_PT_DATA, 0, &pi.local, &pi.remote);
	CHECK(mw_wire_put_data(q, &d) == MW_WIRE_DATA_HDR_LEN);
	memcpy(q + MW_WIRE_DATA_HDR_LEN, v, 48);
	mw_wire_finish(q, MW_WIRE_DATA_HDR_LEN + 48);
	CHECK_EQ(feed_b(&p, q, MW_WIRE_DATA_HDR_LEN + 48), MW_DROP_HEADER);
	/* the same tensor cut at 8 is accepted */
	d.seg.elem_cnt = 8;
	mw_wire_put_hdr(q, MW_PT_DATA, 0, &pi.local, &pi.remote);
	CHECK(mw_wire_put_data(q, &d) == MW_WIRE_DATA_HDR_LEN);
	memcpy(q + MW_WIRE_DATA_HDR_LEN, v, 32);
	mw_wire_finish(q, MW_WIRE_DATA_HDR_LEN + 32);
	CHECK_EQ(feed_b(&p, q, MW_WIRE_DATA_HDR_LEN + 32), -1);
	free_pair(&p);
}

/* B first accepts a segment of tensor 1 with other metadata (a valid
 * payload): every genuine segment of that tensor is then inconsistent. */
static int forge_tblock(struct pair *p, uint8_t *buf, size_t len)
{
	uint8_t q[2048];

	if (p->hooked || mw_get32(buf + 32) != 1)
		return 1;
	memcpy(q, buf, len);
	q[80] ^= 1;
	mw_wire_finish(q, len);
	CHECK_EQ(feed_b(p, q, len), -1);
	p->hooked = 1;
	return 1;
}

/* A tensor the receiver keeps refusing fails at its sender within the
 * retry budget: the refused packets are not acknowledged (8.3, 8.4). */
static void test_refused_tensor_fails(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	int i, failed = 0;

	pair_init(&p, NULL);
	p.a_data = forge_tblock;
	CHECK(submit(&p, 0, 1, NULL) == 0);
	CHECK(submit(&p, 0, 2, NULL) == 0);
	for (i = 0; i < 400 && !failed; i++) {
		pump(&p, 5);
		while (mw_ep_poll(p.ep[0], &ev)) {
			if (ev.type == MW_EV_TX_FAILED) {
				CHECK(ev.reason == MW_ETIMEDOUT &&
				      ev.meta.tag == 2);
				failed = 1;
			}
			mw_ep_release(p.ep[0], &ev);
		}
		if (mw_ep_expiry(p.ep[0]) != UINT64_MAX &&
		    mw_ep_expiry(p.ep[0]) > p.now)
			p.now = mw_ep_expiry(p.ep[0]);
	}
	CHECK(failed);
	mw_ep_counters(p.ep[1], &c);
	CHECK(c.drop[MW_DROP_INCONSISTENT] > 0);
	free_pair(&p);
}

/* Smaller rules: a stale HELLO_ACK, half-zero HELLO destinations, k > n,
 * and no CLOSE from a generation the peer never heard of. */
static void test_session_rules(void)
{
	struct pair p;
	struct mw_peer_info pa, pb;
	struct mw_hello hb;
	struct mw_ident old;
	struct mw_counters c0, c1;
	struct mw_tensor_meta m;
	struct mw_codec_params cp = { MW_CODEC_MS, 2, 0, 4097, 0 };
	uint8_t q[256], out[2048];
	uint16_t peer;
	int n;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	mw_ep_peer_info(p.ep[0], p.peer[0], &pa);
	mw_ep_peer_info(p.ep[1], p.peer[1], &pb);
	memset(&hb, 0, sizeof(hb));
	hb.max_datagram = 1472;
	hb.rx_window = 4;
	hb.max_segs = 64;
	hb.max_tensor_bytes = 1 << 20;
	/* HELLO_ACK to an identity B no longer has: stale, no resync */
	old = pb.local;
	old.gen += 7;
	mw_wire_put_hdr(q, MW_PT_HELLO_ACK, 0, &pa.local, &old);
	n = mw_wire_finish(q, mw_wire_put_hello(q, &hb));
	pump(&p, 10);
	CHECK_EQ(feed_b(&p, q, (size_t)n), MW_DROP_STALE);
	CHECK_EQ(mw_ep_send(p.ep[1], p.now, out, sizeof(out), &peer), 0);
	/* HELLO with half an identity as dst: malformed */
	old.inc = pb.local.inc;
	old.gen = 0;
	mw_wire_put_hdr(q, MW_PT_HELLO, 0, &pa.local, &old);
	n = mw_wire_finish(q, mw_wire_put_hello(q, &hb));
	CHECK_EQ(feed_b(&p, q, (size_t)n), MW_DROP_FORMAT);
	/* k > n is refused, not clamped */
	memset(&m, 0, sizeof(m));
	m.dtype = MW_DT_F32;
	m.ndim = 2;
	m.dims[0] = 64;
	m.dims[1] = 64;
	CHECK_EQ(mw_ep_submit(p.ep[0], p.peer[0], &m, &cp, xs, sizeof(xs), 0,
			      p.now, NULL),
		 MW_EINVAL);
	/* close twice: one CLOSE, from the announced generation only */
	mw_ep_counters(p.ep[0], &c0);
	CHECK(mw_ep_close_peer(p.ep[0], p.peer[0], p.now) == 0);
	pump(&p, 10);
	CHECK(mw_ep_close_peer(p.ep[0], p.peer[0], p.now) == 0);
	pump(&p, 10);
	mw_ep_counters(p.ep[0], &c1);
	CHECK_EQ(c1.close_tx, c0.close_tx + 1);
	free_pair(&p);
}

int main(void)
{
	test_config();
	test_exchange();
	test_bad_packets();
	test_backpressure();
	test_timeout_and_restart();
	test_simultaneous_open_close();
	test_reorder_learning();
	test_spurious_rto();
	test_send_peer();
	test_drop_leaves_no_state();
	test_unaligned_segment();
	test_refused_tensor_fails();
	test_session_rules();
	return mw_test_exit("test_transport");
}
