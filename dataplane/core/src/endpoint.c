/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * endpoint.c - the endpoint (mw_transport.h): configuration, lifetime,
 * peers, the event queue, memory accounting, the receive dispatcher (the
 * common checks of PROTOCOL.md 11 and 7.1, then the type's module), and
 * the timers.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ep.h"

void *mw_mem_alloc(struct mw_ep *ep, size_t sz)
{
	void *p = calloc(1, sz ? sz : 1);

	if (p)
		ep->mem += sz;
	return p;
}

/* Not zeroed: for buffers written whole before they are read. */
void *mw_mem_alloc_raw(struct mw_ep *ep, size_t sz)
{
	void *p = malloc(sz ? sz : 1);

	if (p)
		ep->mem += sz;
	return p;
}

void mw_mem_free(struct mw_ep *ep, void *p, size_t sz)
{
	if (!p)
		return;
	ep->mem -= sz;
	free(p);
}

static void *default_alloc(void *ctx, uint64_t bytes,
			   const struct mw_rx_info *ri)
{
	(void)ctx;
	(void)ri;
	if (bytes > SIZE_MAX)
		return NULL;
	return malloc(bytes ? (size_t)bytes : 1);
}

static void default_free(void *ctx, void *buf, uint64_t bytes)
{
	(void)ctx;
	(void)bytes;
	free(buf);
}

static const char *const drop_names[MW_DROP_COUNT_] = {
#define MW_DROP_NAME_(name, text) text,
	MW_DROP_LIST(MW_DROP_NAME_)
#undef MW_DROP_NAME_
};

const char *mw_drop_name(unsigned reason)
{
	return reason < MW_DROP_COUNT_ ? drop_names[reason] : "?";
}

int mw_ep_drop(struct mw_ep *ep, enum mw_drop why, int err)
{
	ep->ctr.drop[why]++;
	ep->ctr.drops++;
	return err;
}

void mw_ep_config_default(struct mw_ep_config *c)
{
	memset(c, 0, sizeof(*c));
	c->incarnation = 1;
	c->max_peers = 16;
	c->max_datagram = 1472;
	c->max_tensor_bytes = 256ull << 20;
	c->max_segs = 1u << 20;
	c->window = 8;
	c->max_retries = 16;
	c->rto_initial_ns = 10000000; /* 10 ms */
	c->rto_min_ns = 1000000;      /* 1 ms */
	c->rto_max_ns = 1000000000;   /* 1 s */
	c->ack_delay_ns = 200000;     /* 200 us */
	c->cwnd_initial = 32;
	c->cwnd_min = 2;
	c->cwnd_max = 4096;
	c->undo = 1;
	c->tail_copy = MW_TAIL_COPY_ON_LOSS;
	c->compact = 1;
	c->cut_through = 1;
}

int mw_ep_compact(const struct mw_ep *ep)
{
	return ep->cfg.compact && ep->cfg.window <= MW_CDATA_MAX_WINDOW;
}

int mw_ep_config_check(const struct mw_ep_config *c)
{
	if (!c || (c->incarnation == 0 && c->sec_mode == MW_SEC_PLAIN) ||
	    c->max_peers == 0 ||
	    c->max_datagram < MW_WIRE_MIN_DATAGRAM || c->max_segs == 0 ||
	    c->window == 0 || c->window > 65536 || c->max_retries == 0 ||
	    c->max_tensor_bytes == 0 || c->rto_min_ns == 0 ||
	    c->rto_min_ns > c->rto_max_ns || c->rto_initial_ns == 0 ||
	    c->cwnd_min == 0 || c->cwnd_min > c->cwnd_initial ||
	    c->cwnd_initial > c->cwnd_max || c->cwnd_max > (1u << 20))
		return MW_EINVAL;
	if (c->cc >= MW_CC_COUNT_ || c->tail_copy >= MW_TAIL_COPY_COUNT_ ||
	    c->compact > 1 || c->cut_through > 1)
		return MW_EINVAL;
	if ((c->rx_alloc.alloc == NULL) != (c->rx_alloc.free == NULL))
		return MW_EINVAL;
	if (c->sec_mode >= MW_SEC_COUNT_)
		return MW_EINVAL;
	if (c->sec_mode != MW_SEC_PLAIN) {
		static const uint8_t zero[MW_SEC_PSK_LEN];

		if (!c->rand || memcmp(c->psk, zero, sizeof(zero)) == 0)
			return MW_EINVAL;
	}
	return 0;
}

struct mw_event *mw_ep_ev_push(struct mw_ep *ep)
{
	struct mw_event *e;

	/* Per-peer accounting keeps the ring from ever filling. */
	assert(ep->ev_cnt < ep->ev_cap);
	e = &ep->evq[(ep->ev_head + ep->ev_cnt) % ep->ev_cap];
	ep->ev_cnt++;
	memset(e, 0, sizeof(*e));
	return e;
}

void mw_ep_peer_event(struct mw_ep *ep, uint16_t id, uint8_t type,
		      int32_t reason)
{
	struct peer *p = &ep->peers[id];
	struct mw_event *e;

	if (p->peer_ev >= 2)
		return; /* the app has not polled the last two: coalesce */
	e = mw_ep_ev_push(ep);
	e->type = type;
	e->peer = id;
	e->reason = reason;
	p->peer_ev++;
}

int mw_ep_poll(struct mw_ep *ep, struct mw_event *ev)
{
	struct peer *p;

	if (ep->ev_cnt == 0)
		return 0;
	*ev = ep->evq[ep->ev_head];
	ep->ev_head = (ep->ev_head + 1) % ep->ev_cap;
	ep->ev_cnt--;
	p = &ep->peers[ev->peer];
	switch (ev->type) {
	case MW_EV_RX_TENSOR:
		p->recv.rx_unpolled--;
		ep->rx_mem -= ev->bytes;
		/* The window opened: tell the peer soon. */
		if (p->recv.ack_pending == 0 && p->sess.remote_known)
			p->recv.ack_now = 1;
		break;
	case MW_EV_TX_DONE:
	case MW_EV_TX_FAILED:
		p->send.tx_evq--;
		break;
	default:
		p->peer_ev--;
		break;
	}
	return 1;
}

void mw_ep_release(struct mw_ep *ep, struct mw_event *ev)
{
	if (ev->type != MW_EV_RX_TENSOR)
		return;
	free(ev->loss);
	ev->loss = NULL;
	if (!ev->buf)
		return;
	ep->cfg.rx_alloc.free(ep->cfg.rx_alloc.ctx, ev->buf, ev->bytes);
	ev->buf = NULL;
}

int mw_ep_new(const struct mw_ep_config *cfg, struct mw_ep **out)
{
	struct mw_ep *ep;
	int rc = mw_ep_config_check(cfg);

	if (rc < 0)
		return rc;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return MW_ENOMEM;
	ep->mem = sizeof(*ep);
	ep->cfg = *cfg;
	if (!ep->cfg.rx_alloc.alloc) {
		ep->cfg.rx_alloc.alloc = default_alloc;
		ep->cfg.rx_alloc.free = default_free;
		ep->cfg.rx_alloc.ctx = NULL;
	}
	ep->peers = mw_mem_alloc(ep, sizeof(struct peer) * cfg->max_peers);
	ep->ev_cap = (uint32_t)cfg->max_peers * (2 * cfg->window + 2);
	ep->evq = mw_mem_alloc(ep, sizeof(struct mw_event) * ep->ev_cap);
	if (!ep->peers || !ep->evq || mw_sec_ep_init(ep) < 0) {
		mw_ep_free(ep);
		return MW_ENOMEM;
	}
	ep->next_handle = 1;
	/* Secure mode: the incarnation is random, not a clock (12.2). */
	if (ep->cfg.sec_mode)
		do
			ep->cfg.rand(ep->cfg.rand_ctx, &ep->cfg.incarnation,
				     sizeof(ep->cfg.incarnation));
		while (ep->cfg.incarnation == 0);
	*out = ep;
	return 0;
}

void mw_ep_peer_release(struct mw_ep *ep, struct peer *p)
{
	uint32_t i, w = ep->cfg.window;

	if (p->send.tx)
		for (i = 0; i < w; i++)
			mw_send_slot_free(ep, &p->send.tx[i]);
	if (p->recv.rx)
		for (i = 0; i < w; i++)
			mw_recv_slot_clear(ep, &p->recv.rx[i], 1);
	mw_mem_free(ep, p->send.tx, sizeof(*p->send.tx) * w);
	mw_mem_free(ep, p->recv.rx, sizeof(*p->recv.rx) * w);
	mw_mem_free(ep, p->rtb.sent, sizeof(*p->rtb.sent) * sent_cap(ep));
	mw_sec_peer_free(ep, p);
	p->send.tx = NULL;
	p->recv.rx = NULL;
	p->rtb.sent = NULL;
}

void mw_ep_free(struct mw_ep *ep)
{
	uint16_t i;
	struct mw_event ev;

	if (!ep)
		return;
	while (ep->peers && ep->evq && mw_ep_poll(ep, &ev))
		mw_ep_release(ep, &ev);
	if (ep->peers)
		for (i = 0; i < ep->cfg.max_peers; i++)
			mw_ep_peer_release(ep, &ep->peers[i]);
	mw_sec_ep_free(ep);
	free(ep->peers);
	free(ep->evq);
	free(ep->scratch);
	free(ep);
}

int mw_ep_add_peer(struct mw_ep *ep)
{
	uint16_t i;
	struct peer *p;
	uint32_t w = ep->cfg.window, ev_tx, ev_rx;

	for (i = 0; i < ep->cfg.max_peers; i++)
		if (!ep->peers[i].used)
			break;
	if (i == ep->cfg.max_peers)
		return MW_ELIMIT;
	p = &ep->peers[i];
	/* Events of a removed peer with this id may still be queued. */
	ev_tx = p->send.tx_evq;
	ev_rx = p->recv.rx_unpolled;
	memset(p, 0, offsetof(struct peer, peer_ev));
	p->send.tx_evq = ev_tx;
	p->recv.rx_unpolled = ev_rx;
	p->send.tx = mw_mem_alloc(ep, sizeof(*p->send.tx) * w);
	p->recv.rx = mw_mem_alloc(ep, sizeof(*p->recv.rx) * w);
	p->rtb.sent = mw_mem_alloc(ep, sizeof(*p->rtb.sent) * sent_cap(ep));
	if (!p->send.tx || !p->recv.rx || !p->rtb.sent) {
		mw_ep_peer_release(ep, p);
		return MW_ENOMEM;
	}
	p->used = 1;
	p->sess.local.inc = ep->cfg.incarnation;
	p->sess.local.gen = 1;
	p->sess.lim.max_datagram = ep->cfg.max_datagram;
	p->sess.lim.rx_window = ep->cfg.window;
	p->sess.lim.max_segs = ep->cfg.max_segs;
	p->sess.lim.max_tensor_bytes = ep->cfg.max_tensor_bytes;
	if (mw_sec_peer_init(ep, p) < 0) {
		mw_ep_peer_release(ep, p);
		return MW_ENOMEM;
	}
	p->sess.hello_at = NO_TIME;
	p->recv.alloc_retry_at = NO_TIME;
	p->recv.deadline_at = NO_TIME;
	mw_cc_init(&p->cc, mw_cc_ops_get(ep->cfg.cc), ep->cfg.cwnd_min,
		   ep->cfg.cwnd_max, ep->cfg.cwnd_initial, ep->cfg.undo,
		   ep->cfg.ack_delay_ns);
	mw_session_reset(ep, p);
	return i;
}

int mw_ep_peer_set_key(struct mw_ep *ep, uint16_t id,
		       const uint8_t psk[MW_SEC_PSK_LEN])
{
	static const uint8_t zero[MW_SEC_PSK_LEN];
	struct peer *p = get_peer(ep, id);

	if (!p)
		return MW_ENOENT;
	if (!p->sec || memcmp(psk, zero, sizeof(zero)) == 0)
		return MW_EINVAL;
	return mw_sec_peer_key(ep, p, psk);
}

int mw_ep_remove_peer(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = get_peer(ep, id);

	if (!p)
		return MW_ENOENT;
	mw_ep_close_peer(ep, id, now);
	/* The CLOSE owed is lost with the peer: removal is final. */
	mw_ep_peer_release(ep, p);
	p->used = 0;
	return 0;
}

enum mw_drop mw_drop_for_hdr_error(int rc)
{
	switch (rc) {
	case MW_ETRUNC:
		return MW_DROP_TRUNC;
	case MW_EBADMAGIC:
		return MW_DROP_MAGIC;
	case MW_EVERSION:
		return MW_DROP_VERSION;
	case MW_EUNSUPP:
		return MW_DROP_TYPE;
	case MW_ECHECKSUM:
		return MW_DROP_CHECKSUM;
	default:
		return MW_DROP_FORMAT;
	}
}

/* An accepted DATA or ACK of the session confirms our identity (6.4) and
 * is a chance to retry a refused allocation (8.6). */
static int recv_accepted(struct mw_ep *ep, uint16_t id, struct peer *p,
			 uint64_t now)
{
	if (!p->sess.confirmed) {
		p->sess.confirmed = 1;
		p->sess.hello_at = NO_TIME;
		p->send.last_send = now;
	}
	mw_recv_alloc_retry(ep, id, now);
	return 0;
}

/* After the common header (and, in secure mode, authentication): the
 * type's module. pkt is the packet as version 1 carries it. */
static int recv_checked(struct mw_ep *ep, uint16_t id, struct peer *p,
			const struct mw_hdr *hp, const uint8_t *pkt,
			size_t len, uint64_t now)
{
	struct mw_hdr h = *hp;
	int rc, c;

	if (h.type == MW_PT_HELLO || h.type == MW_PT_HELLO_ACK)
		return mw_session_on_hello(ep, id, &h, pkt, len, now);

	if (mw_session_closes_ours(p, &h)) {
		struct mw_close cl;

		rc = mw_wire_parse_close(pkt, len, &cl);
		if (rc < 0)
			return mw_ep_drop(ep, MW_DROP_FORMAT, rc);
		ep->ctr.close_rx++;
		p->sess.remote_closed = 1;
		return 0;
	}
	/* Everything else belongs to exactly one session. */
	if (!p->sess.remote_known || !ident_eq(&h.src, &p->sess.remote) ||
	    !ident_eq(&h.dst, &p->sess.local) || p->sess.remote_closed) {
		c = p->sess.remote_known ? mw_ident_cmp(&h.src, &p->sess.remote)
					 : 1;
		if (c < 0 || (c == 0 && p->sess.remote_closed))
			return mw_ep_drop(ep, MW_DROP_STALE, MW_ESTATE);
		if (h.type != MW_PT_CLOSE)
			mw_session_resync(ep, p, now);
		return mw_ep_drop(ep, MW_DROP_SESSION, MW_ESTATE);
	}
	switch (h.type) {
	case MW_PT_DATA:
		rc = mw_recv_on_data(ep, id, pkt, len, now);
		break;
	case MW_PT_ACK:
		rc = mw_rtb_on_ack(ep, id, &h, pkt, len, now);
		break;
	case MW_PT_CLOSE:
		return mw_session_on_close(ep, id, pkt, len);
	default:
		return mw_ep_drop(ep, MW_DROP_TYPE, MW_EUNSUPP);
	}
	if (rc < 0)
		return rc; /* dropped: no state (PROTOCOL.md 11) */
	return recv_accepted(ep, id, p, now);
}

/* A compact DATA (PROTOCOL.md 5.6): no identities on the wire, so the
 * session is the peer's current one, and its CRC (plain) or AEAD
 * (secure, 12.5) covers the identities. A packet that verifies proves
 * the peer holds our current identity, so it confirms the session (6.4)
 * whatever the later checks decide: a compact segment dropped as
 * no_descriptor must be answered with an ACK. */
static int recv_cdata(struct mw_ep *ep, uint16_t id, struct peer *p,
		      const uint8_t *pkt, size_t len, uint64_t now)
{
	unsigned want = p->sec ? MW_WIRE_VERSION_SEC : MW_WIRE_VERSION;
	struct sec_rx sr;
	struct mw_cdata c;
	int rc;

	if (len < MW_WIRE_CDATA_HDR_LEN)
		return mw_ep_drop(ep, MW_DROP_TRUNC, MW_ETRUNC);
	if (pkt[MW_OFF_VERSION] != want)
		return p->sec && pkt[MW_OFF_VERSION] == MW_WIRE_VERSION
			       ? mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH)
			       : mw_ep_drop(ep, MW_DROP_VERSION, MW_EVERSION);
	if (p->sec && len < MW_WIRE_CDATA_HDR_LEN + MW_SEC_TRAILER_LEN)
		return mw_ep_drop(ep, MW_DROP_TRUNC, MW_ETRUNC);
	if (p->sec && mw_get32(pkt + MW_OFF_CDATA_CRC) != 0)
		return mw_ep_drop(ep, MW_DROP_FORMAT, MW_EFORMAT);
	if (!p->sess.remote_known) {
		mw_session_resync(ep, p, now);
		return mw_ep_drop(ep, p->sec ? MW_DROP_AUTH_SESSION
					     : MW_DROP_SESSION, MW_ESTATE);
	}
	if (p->sess.remote_closed)
		return mw_ep_drop(ep, p->sec ? MW_DROP_AUTH_SESSION
					     : MW_DROP_STALE, MW_ESTATE);
	if (p->sec) {
		rc = mw_sec_open_cdata(ep, p, pkt, len, &sr);
		if (rc < 0)
			return rc;
		rc = mw_wire_parse_cdata(sr.pkt, sr.len, NULL, NULL, &c);
	} else {
		rc = mw_wire_parse_cdata(pkt, len, &p->sess.remote,
					 &p->sess.local, &c);
	}
	if (rc < 0)
		return mw_ep_drop(ep, mw_drop_for_hdr_error(rc), rc);
	rc = mw_recv_on_cdata(ep, id, &c, now);
	recv_accepted(ep, id, p, now);
	if (rc < 0)
		return rc;
	if (p->sec)
		mw_sec_accept(ep, p, NULL, &sr);
	return 0;
}

int mw_ep_recv(struct mw_ep *ep, uint16_t id, const uint8_t *pkt, size_t len,
	       uint64_t now)
{
	struct peer *p = get_peer(ep, id);
	struct sec_rx sr;
	struct mw_hdr h;
	int rc;

	assert(now >= ep->last_now);
	ep->last_now = now;
	ep->ctr.pkts_rx++;
	ep->ctr.bytes_rx += len;
	if (!p)
		return mw_ep_drop(ep, MW_DROP_PEER, MW_ENOENT);
	if (mw_ep_compact(ep) && mw_wire_is_cdata(pkt, len))
		return recv_cdata(ep, id, p, pkt, len, now);
	/* A plain endpoint takes version 1 only, at the version step of
	 * section 11's order (parse_hdr knows version 2 too). */
	if (!p->sec && len >= MW_WIRE_HDR_LEN &&
	    mw_get16(pkt + MW_OFF_MAGIC) == MW_WIRE_MAGIC &&
	    pkt[MW_OFF_VERSION] != MW_WIRE_VERSION)
		return mw_ep_drop(ep, MW_DROP_VERSION, MW_EVERSION);
	rc = mw_wire_parse_hdr(pkt, len, &h);
	if (rc < 0)
		return mw_ep_drop(ep, mw_drop_for_hdr_error(rc), rc);
	if (!p->sec)
		return recv_checked(ep, id, p, &h, pkt, len, now);
	/* Secure mode (12.6): nothing unauthenticated goes further. */
	rc = mw_sec_open(ep, p, &h, pkt, len, now, &sr);
	if (rc != 0)
		return rc < 0 ? rc : 0; /* dropped, or a challenge made */
	rc = recv_checked(ep, id, p, &h, sr.pkt, sr.len, now);
	if (rc >= 0)
		mw_sec_accept(ep, p, &h, &sr);
	return rc;
}

/* The retransmission timer runs while DATA is in flight or waiting,
 * except while the loss timer is armed: that one decides first (8.3). */
static int rto_armed(struct mw_ep *ep, struct peer *p)
{
	return peer_open(p) && p->rtb.loss_time == NO_TIME &&
	       (p->rtb.in_flight || mw_send_pending(ep, p));
}

static uint64_t peer_expiry(struct mw_ep *ep, struct peer *p)
{
	uint64_t t = NO_TIME;

	if (!p->used)
		return t;
	if (p->recv.ack_pending && p->recv.ack_due < t)
		t = p->recv.ack_due;
	if (p->rtb.loss_time < t)
		t = p->rtb.loss_time;
	if (p->sess.hello_at < t)
		t = p->sess.hello_at;
	if (p->recv.blocked && p->recv.alloc_retry_at < t)
		t = p->recv.alloc_retry_at;
	if (p->recv.deadline_at < t)
		t = p->recv.deadline_at;
	/* the pacing gate (8.5): shut now, and something could pass it */
	if (peer_open(p) && p->cc.pace_ns &&
	    mw_cc_pace_open(&p->cc) > ep->last_now &&
	    mw_cc_pace_open(&p->cc) < t && p->rtb.in_flight < p->cc.cwnd &&
	    mw_send_pending(ep, p))
		t = mw_cc_pace_open(&p->cc);
	if (rto_armed(ep, p)) {
		uint64_t r = p->send.last_send + rto_backoff(ep, p);

		if (r < t)
			t = r;
	}
	return t;
}

uint64_t mw_ep_expiry(const struct mw_ep *cep)
{
	struct mw_ep *ep = (struct mw_ep *)(uintptr_t)cep;
	uint64_t t = NO_TIME, x;
	uint16_t i;

	if (ep->enc_pending && !ep->cfg.encode_external)
		return ep->last_now; /* a deferred encode has work now */
	for (i = 0; i < ep->cfg.max_peers; i++) {
		x = peer_expiry(ep, &ep->peers[i]);
		if (x < t)
			t = x;
	}
	return t;
}

int mw_ep_handle_expiry(struct mw_ep *ep, uint64_t now)
{
	uint16_t i;

	assert(now >= ep->last_now);
	ep->last_now = now;
	for (i = 0; i < ep->cfg.max_peers; i++) {
		struct peer *p = &ep->peers[i];

		if (!p->used)
			continue;
		if (p->recv.ack_pending && p->recv.ack_due <= now)
			p->recv.ack_now = 1;
		/* the loss timer first; a retransmission timeout is not
		 * taken in the same turn (what it found lost goes first) */
		int loss_timer = p->rtb.loss_time <= now;

		if (loss_timer)
			mw_rtb_detect_losses(ep, p, now);
		if (p->recv.blocked && p->recv.alloc_retry_at <= now)
			mw_recv_alloc_retry(ep, i, now);
		if (p->recv.deadline_at <= now)
			mw_recv_on_deadline(ep, i, now);
		if (p->sess.hello_at <= now) {
			p->sess.hello_at = NO_TIME;
			ep->ctr.rto_events++;
			if (++p->send.rto_count > ep->cfg.max_retries)
				mw_session_down(ep, i, MW_ETIMEDOUT,
						SD_LOCAL | SD_EMIT);
			else if (tx_wanted(p) && !peer_open(p))
				p->sess.hello_pending = 1;
			continue;
		}
		if (!loss_timer && rto_armed(ep, p) &&
		    p->send.last_send + rto_backoff(ep, p) <= now)
			mw_rtb_on_timeout(ep, i, now);
	}
	mw_send_encode_step(ep);
	return 0;
}

uint32_t mw_ep_incarnation(const struct mw_ep *ep)
{
	return ep->cfg.incarnation;
}

size_t mw_ep_max_datagram(const struct mw_ep *ep)
{
	return ep->cfg.max_datagram;
}

void mw_ep_counters(const struct mw_ep *ep, struct mw_counters *c)
{
	*c = ep->ctr;
}

static const char *const counter_names[MW_CTR_COUNT_] = {
#define MW_COUNTER_NAME_(name, doc) #name,
	MW_COUNTER_LIST(MW_COUNTER_NAME_)
#undef MW_COUNTER_NAME_
};

const char *mw_counter_name(unsigned i)
{
	return i < MW_CTR_COUNT_ ? counter_names[i] : "?";
}

uint64_t mw_counter_get(const struct mw_counters *c, unsigned i)
{
	switch (i) {
#define MW_COUNTER_CASE_(name, doc) \
	case MW_CTR_##name:         \
		return c->name;
		MW_COUNTER_LIST(MW_COUNTER_CASE_)
#undef MW_COUNTER_CASE_
	default:
		return 0;
	}
}

void mw_counters_add(struct mw_counters *a, const struct mw_counters *b)
{
	unsigned i;

#define MW_COUNTER_ADD_(name, doc) a->name += b->name;
	MW_COUNTER_LIST(MW_COUNTER_ADD_)
#undef MW_COUNTER_ADD_
	a->drops += b->drops;
	for (i = 0; i < MW_DROP_COUNT_; i++)
		a->drop[i] += b->drop[i];
}

uint64_t mw_ep_mem_held(const struct mw_ep *ep)
{
	return ep->mem + ep->rx_mem;
}

uint64_t mw_ep_mem_bound(const struct mw_ep *ep)
{
	const struct mw_ep_config *c = &ep->cfg;
	uint64_t segs = c->max_segs;
	uint64_t per_tx =
		2 * c->max_tensor_bytes + 64 +
		segs * (sizeof(struct mw_seg) + sizeof(struct seg_st));
	uint64_t per_rx = c->max_tensor_bytes + segs * sizeof(struct rx_seg) +
			  segs / 8 + 1;
	uint64_t per_peer = sizeof(struct tx_slot) * c->window +
			    sizeof(struct rx_slot) * c->window +
			    sizeof(struct sent_rec) * sent_cap(ep) +
			    c->window * (per_tx + per_rx);

	/* + the encoder's scratch, kept between submits: 4 bytes an element
	 * and a few more (mw_encode_scratch_size()); with deferred encodes,
	 * a second one for a submit that encodes at once meanwhile. */
	if (c->sec_mode)
		per_peer += sizeof(struct sec_peer);
	return sizeof(struct mw_ep) +
	       (c->encode_step ? 2 : 1) * (c->max_tensor_bytes + 64) +
	       (c->sec_mode ? c->max_datagram : 0) +
	       (sizeof(struct peer) + per_peer) * c->max_peers +
	       sizeof(struct mw_event) * (uint64_t)ep->ev_cap;
}

int mw_ep_peer_info(const struct mw_ep *ep, uint16_t id,
		    struct mw_peer_info *pi)
{
	const struct peer *p;
	uint32_t i;

	if (id >= ep->cfg.max_peers || !ep->peers[id].used)
		return MW_ENOENT;
	p = &ep->peers[id];
	memset(pi, 0, sizeof(*pi));
	pi->state = peer_open(p)   ? MW_PEER_OPEN
		    : tx_wanted(p) ? MW_PEER_HELLO
				   : MW_PEER_IDLE;
	pi->local = p->sess.local;
	if (p->sess.remote_known)
		pi->remote = p->sess.remote;
	pi->srtt_ns = p->rtt.srtt;
	pi->rttvar_ns = p->rtt.rttvar;
	pi->rto_ns = rto_base(ep, p);
	pi->cwnd = p->cc.cwnd;
	pi->ssthresh = p->cc.ssthresh;
	pi->in_flight = p->rtb.in_flight;
	pi->tx_pending = (uint32_t)(p->send.tx_seq - p->send.tx_base);
	for (i = 0; i < ep->cfg.window; i++)
		pi->rx_pending += p->recv.rx[i].used;
	pi->rx_pending += p->recv.rx_unpolled;
	pi->rto_count = p->send.rto_count;
	pi->retrans = p->retrans;
	pi->peer_caps = mw_ep_peer_caps(ep, id);
	return 0;
}

uint16_t mw_ep_peer_caps(const struct mw_ep *ep, uint16_t id)
{
	const struct peer *p;

	if (id >= ep->cfg.max_peers || !ep->peers[id].used)
		return 0;
	p = &ep->peers[id];
	return p->sess.remote_known ? p->sess.lim.caps : 0;
}
