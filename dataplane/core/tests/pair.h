/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pair.h - what the transport core's unit tests share: two endpoints A
 * (ep[0]) and B (ep[1]) joined by a perfect link that a test can cut or
 * hook, moved in virtual time; a 64x64 MS tensor to send; helpers to
 * count events and drops. Header-only (static inline) so that each test
 * file is one program.
 */
#ifndef MW_TEST_PAIR_H
#define MW_TEST_PAIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_test.h"
#include "mw_transport.h"
#include "wire_int.h"

struct pair {
	struct mw_ep *ep[2];
	uint16_t peer[2];
	uint64_t now;
	uint8_t last[2][2048]; /* last DATA (full or compact) each side sent */
	size_t last_len[2];
	int drop_all;          /* link cut */
	/* A->B DATA hook: may change the datagram or feed B extra ones;
	 * returns 0 to lose it. */
	int (*a_data)(struct pair *p, uint8_t *buf, size_t len);
	int hooked;            /* for the hook's own use */
};

/* An endpoint of the tests' configuration; tweak (may be NULL) changes it
 * before the endpoint is made. */
static inline struct mw_ep *mk_with(uint32_t inc,
				    const struct mw_rx_alloc *al,
				    void (*tweak)(struct mw_ep_config *))
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
	if (tweak)
		tweak(&c);
	CHECK(mw_ep_new(&c, &ep) == 0);
	return ep;
}

static inline struct mw_ep *mk(uint32_t inc, const struct mw_rx_alloc *al)
{
	return mk_with(inc, al, NULL);
}

static inline void pair_init(struct pair *p, const struct mw_rx_alloc *al)
{
	memset(p, 0, sizeof(*p));
	p->ep[0] = mk(100, NULL);
	p->ep[1] = mk(200, al);
	p->peer[0] = (uint16_t)mw_ep_add_peer(p->ep[0]);
	p->peer[1] = (uint16_t)mw_ep_add_peer(p->ep[1]);
	p->now = 1000;
}

/* A datagram side k sent goes across: through A's DATA hook, unless
 * the link is cut. */
static inline void pair_deliver(struct pair *p, int k, uint8_t *buf,
				size_t len)
{
	if (k == 0 && mw_ptype_is_data(buf[MW_OFF_TYPE]) && p->a_data &&
	    !p->a_data(p, buf, len))
		return;
	if (!p->drop_all)
		mw_ep_recv(p->ep[!k], p->peer[!k], buf, len, p->now);
}

/* Move packets until quiet; returns packets moved. */
static inline int pump(struct pair *p, int rounds)
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
				if (mw_ptype_is_data(buf[MW_OFF_TYPE])) {
					memcpy(p->last[k], buf, (size_t)len);
					p->last_len[k] = (size_t)len;
				}
				pair_deliver(p, k, buf, (size_t)len);
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

/* Submit n float32 of x from side k as a 1-D activation: MS (b = 2, the
 * ratio given) or another codec without parameters. */
static inline int submit_n(struct pair *p, int k, const float *x, uint32_t n,
			   unsigned codec, double ratio, uint64_t tag,
			   uint16_t deadline_ms, unsigned flags)
{
	struct mw_tensor_meta m;
	struct mw_codec_params cp;

	memset(&m, 0, sizeof(m));
	memset(&cp, 0, sizeof(cp));
	m.dtype = MW_DT_F32;
	m.kind = MW_KIND_ACTIVATION;
	m.ndim = 1;
	m.dims[0] = n;
	m.tag = tag;
	m.deadline_ms = deadline_ms;
	cp.codec = (enum mw_codec)codec;
	if (codec == MW_CODEC_MS) {
		cp.bits = 2;
		cp.ratio = ratio;
	}
	return mw_ep_submit(p->ep[k], p->peer[k], &m, &cp, x, 4ull * n, flags,
			    p->now, NULL);
}

/* 4096 elements, MS at r = 0.9. */
static inline int submit_vec(struct pair *p, int k, const float *x,
			     unsigned codec, uint64_t tag,
			     uint16_t deadline_ms, unsigned flags)
{
	return submit_n(p, k, x, 4096, codec, 0.9, tag, deadline_ms, flags);
}

static inline int submit(struct pair *p, int k, uint64_t tag, uint64_t *h)
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

static inline int poll_type(struct mw_ep *ep, int type, struct mw_event *out)
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

static inline void free_pair(struct pair *p)
{
	mw_ep_free(p->ep[0]);
	mw_ep_free(p->ep[1]);
}

/* Feed B a datagram, return which drop counter moved (-1: accepted). */
static inline int feed_b(struct pair *p, const uint8_t *q, size_t n)
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

/* Move every datagram both sides have at one instant, crossing on the
 * wire: both sides send before either receives. Returns datagrams moved. */
static inline int cross(struct mw_ep *ep[2], const uint16_t peer[2], uint64_t now)
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

/*
 * Simultaneous open and close (PROTOCOL.md 6, 7.3), `rounds` times: both
 * applications submit at the same instant, then both close at the same
 * instant, every datagram crossing the other's on the wire. Each side
 * gets the other's tensor, sends one HELLO and one HELLO_ACK per session,
 * takes the other's CLOSE for the session it closed; nothing is dropped
 * or reset, and no SESSION_CLOSED event follows an orderly close.
 */
static inline void simultaneous_rounds(struct pair *p, int rounds)
{
	struct mw_counters c;
	int k, r, round;

	for (round = 0; round < rounds; round++) {
		for (k = 0; k < 2; k++)
			CHECK(submit(p, k, 7, NULL) == 0);
		for (r = 0; r < 100 && cross(p->ep, p->peer, p->now); r++)
			p->now += 1000;
		for (k = 0; k < 2; k++) {
			CHECK(poll_type(p->ep[k], MW_EV_RX_TENSOR, NULL) == 1);
			mw_ep_counters(p->ep[k], &c);
			CHECK(c.tensors_sent == (uint64_t)round + 1);
			CHECK(c.hello_tx == 2 * ((uint64_t)round + 1));
			CHECK(c.session_resets == 0 && c.drops == 0);
		}
		for (k = 0; k < 2; k++)
			CHECK(mw_ep_close_peer(p->ep[k], p->peer[k], p->now) ==
			      0);
		for (r = 0; r < 10 && cross(p->ep, p->peer, p->now); r++)
			p->now += 1000;
		for (k = 0; k < 2; k++) {
			mw_ep_counters(p->ep[k], &c);
			CHECK(c.close_rx == (uint64_t)round + 1);
			CHECK(c.sessions_closed == (uint64_t)round + 1);
			CHECK(c.session_resets == 0 && c.drops == 0);
			/* its own close, once (the crossing CLOSE adds none) */
			struct mw_event ev;
			CHECK(poll_type(p->ep[k], MW_EV_SESSION_CLOSED, &ev) ==
				      1 &&
			      ev.reason == MW_ECANCELED);
		}
	}
}

/* Everything ep has to send at now, kept in q (up to 64 datagrams). */
struct dgq {
	uint8_t b[64][2048];
	size_t len[64];
	int n;
};

static inline void take_all(struct mw_ep *ep, uint64_t now, struct dgq *q)
{
	uint16_t pe;
	int len;

	q->n = 0;
	while (q->n < 64 && (len = mw_ep_send(ep, now, q->b[q->n],
					      sizeof(q->b[0]), &pe)) > 0)
		q->len[q->n++] = (size_t)len;
}

static inline void give_all(struct mw_ep *ep, uint16_t peer, const struct dgq *q,
		     int from, int to, uint64_t now)
{
	int i;

	for (i = from; i < to && i < q->n; i++)
		mw_ep_recv(ep, peer, q->b[i], q->len[i], now);
}

#endif /* MW_TEST_PAIR_H */
