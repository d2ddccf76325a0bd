/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * transport.c - the endpoint: sessions, segmentation, where retransmission
 * is decided (loss detection, RTO, congestion and flow control), and where
 * received segments are decoded into tensors. docs/PROTOCOL.md sections
 * are named in the comments.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "mw_transport.h"
#include "wire_int.h"

#define GRANULARITY_NS 1000u
#define NO_TIME UINT64_MAX

enum seg_state { SEG_NEW = 0, SEG_FLIGHT, SEG_LOST, SEG_ACKED };
enum lost_cause { LOST_NONE = 0, LOST_FAST, LOST_RTO };

struct seg_st {
	uint64_t pn;      /* packet number of the latest transmission */
	uint32_t prev;    /* low 32 bits of the transmission declared lost */
	uint8_t state;    /* enum seg_state */
	uint8_t cause;    /* enum lost_cause of the last loss; LOST_NONE
			     while the segment was never declared lost */
	uint8_t epoch;    /* low bits of the congestion episode that
			     declared it lost (undo, 8.5) */
};

struct tx_slot {
	uint8_t used;
	uint8_t active;   /* has a tensor id in the current session */
	uint8_t own;      /* payload allocated by us */
	uint32_t tid;
	uint64_t handle;
	struct mw_tensor_meta meta;
	struct mw_codec_desc desc;
	uint8_t *payload;
	size_t plen;
	size_t budget;    /* segment payload budget the plan was made for */
	struct mw_seg *segs;
	struct seg_st *ss;
	uint32_t seg_cnt;
	uint32_t next_new;   /* first never-sent segment */
	uint32_t acked;
	uint32_t lost;       /* segments waiting for retransmission */
	uint32_t lost_hint;  /* no lost segment below this index */
	uint8_t tblock[MW_WIRE_TBLOCK_LEN];
};

struct rx_seg {
	uint64_t elem_off, val_off;
	uint32_t elem_cnt, val_cnt;
};

struct rx_slot {
	uint8_t used;
	uint8_t complete;
	uint32_t tid;
	uint32_t seg_cnt;
	uint32_t rcvd;
	uint32_t seg_cum;   /* segments [0, seg_cum) received */
	uint32_t seg_max;   /* highest received segment index */
	uint8_t *bitmap;
	struct rx_seg *rs;
	void *buf;
	uint64_t bytes;
	struct mw_tensor_meta meta;
	struct mw_codec_desc desc;
	uint8_t tblock[MW_WIRE_TBLOCK_LEN];
};

struct sent_rec {
	uint64_t sent_ns;
	uint32_t tid;
	uint32_t seg;
};

/* Session state (PROTOCOL.md 6, 7): identities and the control packets
 * owed. */
struct sess {
	struct mw_ident local, remote;
	uint8_t remote_known, confirmed, remote_closed;
	struct mw_hello lim;        /* the peer's limits (ours until HELLO) */
	uint8_t hello_pending, hello_ack_pending, close_pending;
	uint8_t hello_sent;
	uint8_t announced;          /* a packet left from our identity in
				       this session (a CLOSE may follow) */
	int32_t close_reason;
	struct mw_ident close_src, close_dst;
	uint64_t hello_at;          /* HELLO retry timer */
	uint64_t resync_at;         /* earliest unsolicited HELLO */
};

/* Send side: the tensors being sent, and the timeout state (8.3). */
struct sendq {
	struct tx_slot *tx;         /* window slots, by submit sequence */
	uint64_t tx_base, tx_seq;   /* pending sequence range */
	uint32_t tx_evq;            /* tx events not yet polled */
	uint32_t tid_next;
	uint32_t peer_limit;        /* tensors < peer_limit may be sent */
	uint8_t probe_req;          /* an ACK_REQ probe owed */
	uint8_t probe_data;         /* DATA probes owed (ignore cwnd) */
	uint64_t last_send;         /* last ack-eliciting send */
	uint32_t rto_count;
};

/* The sent-packet record and loss detection (8.1, 8.2). */
struct rtb {
	struct sent_rec *sent;      /* ring of sent_cap() records, by pn */
	uint64_t pn_next, sent_lo, largest_acked;
	uint8_t has_largest_acked;
	uint32_t in_flight;
	uint64_t loss_time;
	uint64_t reo_wnd;           /* learnt reordering window (8.2) */
	uint64_t reo_stamp;         /* last growth or decay of reo_wnd */
	uint64_t segs_acked;        /* segments ever acknowledged (progress) */
};

/* Congestion window and the undo of a reduction (8.5). */
struct cwin {
	uint32_t cwnd, ssthresh, cwnd_acc;
	uint64_t recovery_start;
	uint32_t undo_cwnd, undo_ssthresh; /* before the reduction */
	uint32_t undo_lost;         /* its losses not yet proven spurious */
	uint8_t undo_armed;         /* 1: fast loss episode, 2: timeout */
	uint8_t undo_epoch;         /* tags the losses of the episode */
	uint64_t undo_pn;           /* timeout: first pn sent after it */
};

/* Round-trip time estimate (8.3). */
struct rttest {
	uint64_t srtt, rttvar, latest_rtt, min_rtt;
	uint64_t rttvar_stamp;      /* last decrease of rttvar */
	uint8_t has_rtt;
};

/* Receive side: tensors being received and the ACK owed (8.6, 8.7, 9). */
struct recvq {
	struct rx_slot *rx;
	uint32_t rx_next;           /* next tensor id to deliver */
	uint32_t rx_unpolled;       /* delivered, not yet polled */
	uint32_t rx_largest_pn;
	uint8_t rx_has_largest;
	uint64_t rx_largest_time;
	uint32_t ack_pending;
	uint8_t ack_now;
	uint64_t ack_due;
	uint8_t blocked;            /* allocator said no for blocked_tid */
	uint32_t blocked_tid;
	uint64_t alloc_retry_at;
	struct mw_rx_info blocked_info;
};

struct peer {
	uint8_t used;
	struct sess sess;
	struct sendq send;
	struct rtb rtb;
	struct cwin cc;
	struct rttest rtt;
	struct recvq recv;
	uint32_t peer_ev;           /* peer events not yet polled */
};

struct mw_ep {
	struct mw_ep_config cfg;
	struct peer *peers;
	struct mw_event *evq;
	uint32_t ev_cap, ev_head, ev_cnt;
	uint16_t rr;                /* round-robin start for send */
	uint64_t next_handle;
	uint64_t last_now;
	uint64_t mem, rx_mem;
	void *scratch;              /* mw_encode()'s scratch, kept between */
	size_t scratch_len;         /* submits (grown on demand) */
	struct mw_counters ctr;
};

/* ---- memory (everything counted) ------------------------------------ */

static void *ep_alloc(struct mw_ep *ep, size_t sz)
{
	void *p = calloc(1, sz ? sz : 1);

	if (p)
		ep->mem += sz;
	return p;
}

/* Not zeroed: for buffers written whole before they are read. */
static void *ep_alloc_raw(struct mw_ep *ep, size_t sz)
{
	void *p = malloc(sz ? sz : 1);

	if (p)
		ep->mem += sz;
	return p;
}

static void ep_release(struct mw_ep *ep, void *p, size_t sz)
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

static int drop(struct mw_ep *ep, enum mw_drop why, int err)
{
	ep->ctr.drop[why]++;
	ep->ctr.drops++;
	return err;
}

/* serial-number comparison of 32-bit ids */
static int32_t sdiff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static int ident_eq(const struct mw_ident *a, const struct mw_ident *b)
{
	return a->inc == b->inc && a->gen == b->gen;
}

/* ---- config ---------------------------------------------------------- */

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
	c->rto_initial_ns = 10000000;   /* 10 ms */
	c->rto_min_ns = 1000000;        /* 1 ms */
	c->rto_max_ns = 1000000000;     /* 1 s */
	c->ack_delay_ns = 200000;       /* 200 us */
	c->cwnd_initial = 32;
	c->cwnd_min = 2;
	c->cwnd_max = 4096;
	c->undo = 1;
}

int mw_ep_config_check(const struct mw_ep_config *c)
{
	if (!c || c->incarnation == 0 || c->max_peers == 0 ||
	    c->max_datagram < MW_WIRE_MIN_DATAGRAM || c->max_segs == 0 ||
	    c->window == 0 || c->window > 65536 || c->max_retries == 0 ||
	    c->max_tensor_bytes == 0 || c->rto_min_ns == 0 ||
	    c->rto_min_ns > c->rto_max_ns || c->rto_initial_ns == 0 ||
	    c->cwnd_min == 0 || c->cwnd_min > c->cwnd_initial ||
	    c->cwnd_initial > c->cwnd_max || c->cwnd_max > (1u << 20))
		return MW_EINVAL;
	if ((c->rx_alloc.alloc == NULL) != (c->rx_alloc.free == NULL))
		return MW_EINVAL;
	return 0;
}

/* ---- events ---------------------------------------------------------- */

static struct mw_event *ev_push(struct mw_ep *ep)
{
	struct mw_event *e;

	/* Per-peer accounting keeps the ring from ever filling. */
	assert(ep->ev_cnt < ep->ev_cap);
	e = &ep->evq[(ep->ev_head + ep->ev_cnt) % ep->ev_cap];
	ep->ev_cnt++;
	memset(e, 0, sizeof(*e));
	return e;
}

static void peer_event(struct mw_ep *ep, uint16_t id, uint8_t type,
		       int32_t reason)
{
	struct peer *p = &ep->peers[id];
	struct mw_event *e;

	if (p->peer_ev >= 2)
		return; /* the app has not polled the last two: coalesce */
	e = ev_push(ep);
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
	if (ev->type != MW_EV_RX_TENSOR || !ev->buf)
		return;
	ep->cfg.rx_alloc.free(ep->cfg.rx_alloc.ctx, ev->buf, ev->bytes);
	ev->buf = NULL;
}

/* ---- lifetime -------------------------------------------------------- */

static uint32_t sent_cap(const struct mw_ep *ep)
{
	return ep->cfg.cwnd_max + 4;
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
	ep->peers = ep_alloc(ep, sizeof(struct peer) * cfg->max_peers);
	ep->ev_cap = (uint32_t)cfg->max_peers * (2 * cfg->window + 2);
	ep->evq = ep_alloc(ep, sizeof(struct mw_event) * ep->ev_cap);
	if (!ep->peers || !ep->evq) {
		mw_ep_free(ep);
		return MW_ENOMEM;
	}
	ep->next_handle = 1;
	*out = ep;
	return 0;
}

static void tx_slot_clear(struct mw_ep *ep, struct tx_slot *s)
{
	if (s->own)
		ep_release(ep, s->payload, s->plen);
	ep_release(ep, s->segs, sizeof(*s->segs) * s->seg_cnt);
	ep_release(ep, s->ss, sizeof(*s->ss) * s->seg_cnt);
	memset(s, 0, sizeof(*s));
}

static void rx_slot_clear(struct mw_ep *ep, struct rx_slot *s, int free_buf)
{
	if (free_buf && s->buf) {
		ep->cfg.rx_alloc.free(ep->cfg.rx_alloc.ctx, s->buf, s->bytes);
		ep->rx_mem -= s->bytes;
	}
	ep_release(ep, s->bitmap, (s->seg_cnt + 7u) / 8u);
	ep_release(ep, s->rs, sizeof(*s->rs) * s->seg_cnt);
	memset(s, 0, sizeof(*s));
}

static void peer_release(struct mw_ep *ep, struct peer *p)
{
	uint32_t i, w = ep->cfg.window;

	if (p->send.tx)
		for (i = 0; i < w; i++)
			tx_slot_clear(ep, &p->send.tx[i]);
	if (p->recv.rx)
		for (i = 0; i < w; i++)
			rx_slot_clear(ep, &p->recv.rx[i], 1);
	ep_release(ep, p->send.tx, sizeof(*p->send.tx) * w);
	ep_release(ep, p->recv.rx, sizeof(*p->recv.rx) * w);
	ep_release(ep, p->rtb.sent, sizeof(*p->rtb.sent) * sent_cap(ep));
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
			peer_release(ep, &ep->peers[i]);
	free(ep->peers);
	free(ep->evq);
	free(ep->scratch);
	free(ep);
}

static uint64_t rto_base(const struct mw_ep *ep, const struct peer *p)
{
	uint64_t r;

	if (!p->rtt.has_rtt)
		r = ep->cfg.rto_initial_ns;
	else
		r = p->rtt.srtt + (4 * p->rtt.rttvar > GRANULARITY_NS ?
				       4 * p->rtt.rttvar : GRANULARITY_NS) +
		    ep->cfg.ack_delay_ns;
	if (r < ep->cfg.rto_min_ns)
		r = ep->cfg.rto_min_ns;
	if (r > ep->cfg.rto_max_ns)
		r = ep->cfg.rto_max_ns;
	return r;
}

static uint64_t rto_backoff(const struct mw_ep *ep, const struct peer *p)
{
	uint64_t r = rto_base(ep, p);
	uint32_t i;

	for (i = 0; i < p->send.rto_count && r < ep->cfg.rto_max_ns; i++)
		r *= 2;
	return r < ep->cfg.rto_max_ns ? r : ep->cfg.rto_max_ns;
}

/* Forget everything about the current session's transfers. */
static void session_state_reset(struct mw_ep *ep, struct peer *p)
{
	uint32_t i;

	for (i = 0; i < ep->cfg.window; i++)
		rx_slot_clear(ep, &p->recv.rx[i], 1);
	p->recv.rx_next = 0;
	p->recv.rx_has_largest = 0;
	p->recv.rx_largest_pn = 0;
	p->recv.ack_pending = 0;
	p->recv.ack_now = 0;
	p->recv.ack_due = NO_TIME;
	p->recv.blocked = 0;
	p->send.tid_next = 0;
	p->send.peer_limit = ep->cfg.window;
	p->rtb.pn_next = p->rtb.sent_lo = p->rtb.largest_acked = 0;
	p->rtb.has_largest_acked = 0;
	p->rtb.in_flight = 0;
	p->cc.cwnd = ep->cfg.cwnd_initial;
	p->cc.ssthresh = UINT32_MAX;
	p->cc.cwnd_acc = 0;
	p->cc.recovery_start = 0;
	p->cc.undo_armed = 0;
	p->cc.undo_lost = 0;
	p->send.rto_count = 0;
	p->send.probe_data = 0;
	p->send.probe_req = 0;
	p->rtb.loss_time = NO_TIME;
	p->sess.hello_sent = 0;
	p->sess.announced = 0;
	p->sess.confirmed = 0;
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
	p->send.tx = ep_alloc(ep, sizeof(*p->send.tx) * w);
	p->recv.rx = ep_alloc(ep, sizeof(*p->recv.rx) * w);
	p->rtb.sent = ep_alloc(ep, sizeof(*p->rtb.sent) * sent_cap(ep));
	if (!p->send.tx || !p->recv.rx || !p->rtb.sent) {
		peer_release(ep, p);
		return MW_ENOMEM;
	}
	p->used = 1;
	p->sess.local.inc = ep->cfg.incarnation;
	p->sess.local.gen = 1;
	p->sess.lim.max_datagram = ep->cfg.max_datagram;
	p->sess.lim.rx_window = ep->cfg.window;
	p->sess.lim.max_segs = ep->cfg.max_segs;
	p->sess.lim.max_tensor_bytes = ep->cfg.max_tensor_bytes;
	p->sess.hello_at = NO_TIME;
	p->recv.alloc_retry_at = NO_TIME;
	session_state_reset(ep, p);
	return i;
}

static struct peer *get_peer(struct mw_ep *ep, uint16_t id)
{
	if (id >= ep->cfg.max_peers || !ep->peers[id].used)
		return NULL;
	return &ep->peers[id];
}

static int peer_open(const struct peer *p)
{
	return p->sess.remote_known && p->sess.confirmed && !p->sess.remote_closed;
}

static int tx_wanted(const struct peer *p)
{
	return p->send.tx_seq != p->send.tx_base;
}

/* ---- send-side tensor completion ------------------------------------- */

static void tx_finish(struct mw_ep *ep, uint16_t id, struct tx_slot *s,
		      int32_t reason)
{
	struct peer *p = &ep->peers[id];
	struct mw_event *e = ev_push(ep);

	e->type = reason ? MW_EV_TX_FAILED : MW_EV_TX_DONE;
	e->peer = id;
	e->reason = reason;
	e->handle = s->handle;
	e->meta = s->meta;
	e->desc = s->desc;
	p->send.tx_evq++;
	if (reason)
		ep->ctr.tensors_failed++;
	else
		ep->ctr.tensors_sent++;
	tx_slot_clear(ep, s);
	while (p->send.tx_base != p->send.tx_seq &&
	       !p->send.tx[p->send.tx_base % ep->cfg.window].used)
		p->send.tx_base++;
}

/* session_down() flags */
#define SD_LOCAL 0x1u   /* we decided (timeout, close, protocol error):
			   CLOSE goes out and our generation moves on */
#define SD_KEEP 0x2u    /* tensors not yet given an id survive into the
			   next session */
#define SD_EMIT 0x4u    /* tell the application (SESSION_CLOSED) */
#define SD_ORDERLY 0x8u /* an application closed it, here or at the peer:
			   counted as closed, not as reset */

/*
 * Tear the session down (PROTOCOL.md 7). A session that was open, or
 * one that timed out, is counted once: sessions_closed or session_resets.
 */
static void session_down(struct mw_ep *ep, uint16_t id, int32_t reason,
			 unsigned flags)
{
	struct peer *p = &ep->peers[id];
	int local = !!(flags & SD_LOCAL), keep_queued = !!(flags & SD_KEEP);
	uint64_t q;

	if (peer_open(p) || reason == MW_ETIMEDOUT) {
		if (flags & SD_ORDERLY)
			ep->ctr.sessions_closed++;
		else
			ep->ctr.session_resets++;
	}
	for (q = p->send.tx_base; q != p->send.tx_seq; q++) {
		struct tx_slot *s = &p->send.tx[q % ep->cfg.window];

		if (s->used && (s->active || !keep_queued))
			tx_finish(ep, id, s, reason);
	}
	/* No CLOSE for a session the peer never heard of from us: it would
	 * name a generation never announced (5.5). */
	if (local && p->sess.remote_known && !p->sess.remote_closed && p->sess.announced) {
		p->sess.close_pending = 1;
		p->sess.close_reason = reason;
		p->sess.close_src = p->sess.local;
		p->sess.close_dst = p->sess.remote;
	}
	if (local)
		p->sess.local.gen = p->sess.local.gen + 1 ? p->sess.local.gen + 1 : 1;
	session_state_reset(ep, p);
	p->sess.hello_at = NO_TIME;
	p->sess.hello_pending = 0;
	p->sess.hello_ack_pending = 0;
	if (flags & SD_EMIT)
		peer_event(ep, id, MW_EV_SESSION_CLOSED, reason);
	if (tx_wanted(p))
		p->sess.hello_pending = 1;
	for (q = 0; q < ep->cfg.window; q++) {
		struct tx_slot *s = &p->send.tx[q];

		if (s->used) {
			s->next_new = 0;
			s->acked = 0;
			s->lost = 0;
			s->lost_hint = 0;
		}
	}
}

int mw_ep_close_peer(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = get_peer(ep, id);

	(void)now;
	if (!p)
		return MW_ENOENT;
	session_down(ep, id, MW_ECANCELED, SD_LOCAL | SD_ORDERLY);
	return 0;
}

int mw_ep_remove_peer(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = get_peer(ep, id);

	if (!p)
		return MW_ENOENT;
	mw_ep_close_peer(ep, id, now);
	/* The CLOSE owed is lost with the peer: removal is final. */
	peer_release(ep, p);
	p->used = 0;
	return 0;
}

/* ---- submit ---------------------------------------------------------- */

static size_t seg_budget(const struct mw_ep *ep, const struct peer *p)
{
	size_t dg = ep->cfg.max_datagram;

	if (p->sess.remote_known && p->sess.lim.max_datagram < dg)
		dg = p->sess.lim.max_datagram;
	return dg - MW_WIRE_DATA_HDR_LEN;
}

/* Plan (or re-plan) a slot's segments for a payload budget. */
static int tx_plan(struct mw_ep *ep, struct peer *p, struct tx_slot *s,
		   size_t budget)
{
	int64_t cnt;
	uint32_t max = ep->cfg.max_segs;

	if (p->sess.remote_known && p->sess.lim.max_segs < max)
		max = p->sess.lim.max_segs;
	cnt = mw_seg_plan(&s->desc, s->payload, s->plen, budget, NULL, 0);
	if (cnt < 0)
		return (int)cnt;
	if ((uint64_t)cnt > max)
		return MW_ELIMIT;
	ep_release(ep, s->segs, sizeof(*s->segs) * s->seg_cnt);
	ep_release(ep, s->ss, sizeof(*s->ss) * s->seg_cnt);
	s->seg_cnt = 0;
	s->segs = ep_alloc(ep, sizeof(*s->segs) * (size_t)cnt);
	s->ss = ep_alloc(ep, sizeof(*s->ss) * (size_t)cnt);
	if (!s->segs || !s->ss) {
		ep_release(ep, s->segs, sizeof(*s->segs) * (size_t)cnt);
		ep_release(ep, s->ss, sizeof(*s->ss) * (size_t)cnt);
		s->segs = NULL;
		s->ss = NULL;
		return MW_ENOMEM;
	}
	s->seg_cnt = (uint32_t)cnt;
	cnt = mw_seg_plan(&s->desc, s->payload, s->plen, budget, s->segs,
			  s->seg_cnt);
	if (cnt != (int64_t)s->seg_cnt)
		return cnt < 0 ? (int)cnt : MW_EFORMAT;
	s->budget = budget;
	mw_put_tblock(s->tblock, s->seg_cnt, &s->desc, &s->meta);
	return 0;
}

static int host_is_le(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one == 1;
}

static int meta_elems(const struct mw_tensor_meta *m, unsigned codec,
		      uint64_t *n)
{
	uint64_t prod = 1;
	unsigned i, esz;

	if (m->dtype >= MW_DT_COUNT_ || m->kind >= MW_KIND_COUNT_ ||
	    m->ndim > MW_WIRE_MAX_DIMS)
		return MW_EINVAL;
	for (i = 0; i < m->ndim; i++) {
		if (m->dims[i] && prod > UINT64_MAX / m->dims[i])
			return MW_ELIMIT;
		prod *= m->dims[i];
	}
	if (codec == MW_CODEC_RAW) {
		esz = mw_wire_dtype_size(m->dtype);
		if (prod > UINT64_MAX / esz)
			return MW_ELIMIT;
		*n = prod * esz;
	} else {
		if (m->dtype != MW_DT_F32)
			return MW_EINVAL;
		*n = prod;
	}
	return 0;
}

int mw_ep_submit(struct mw_ep *ep, uint16_t id,
		 const struct mw_tensor_meta *meta,
		 const struct mw_codec_params *cp, const void *data,
		 uint64_t bytes, unsigned flags, uint64_t now,
		 uint64_t *handle)
{
	struct peer *p = get_peer(ep, id);
	struct tx_slot *s;
	uint64_t n, pending;
	int64_t sz;
	int rc;

	assert(now >= ep->last_now);
	ep->last_now = now;
	if (!p || !meta || !cp || (!data && bytes) ||
	    (flags & ~MW_SUBMIT_BORROW))
		return MW_EINVAL;
	rc = mw_codec_params_check(cp);
	if (rc < 0)
		return rc;
	for (unsigned i = meta->ndim; i < MW_WIRE_MAX_DIMS; i++)
		if (meta->dims[i])
			return MW_EINVAL;
	rc = meta_elems(meta, cp->codec, &n);
	if (rc < 0)
		return rc;
	if (n > UINT64_MAX / mw_codec_elem_size(cp->codec) ||
	    bytes != n * mw_codec_elem_size(cp->codec))
		return MW_EINVAL;
	if (bytes > ep->cfg.max_tensor_bytes)
		return MW_ELIMIT;
	if ((cp->codec == MW_CODEC_MS || cp->codec == MW_CODEC_MS_SIGNED ||
	     cp->codec == MW_CODEC_TOPK) && cp->k > n)
		return MW_EINVAL; /* more values kept than elements */
	pending = (p->send.tx_seq - p->send.tx_base) + p->send.tx_evq;
	if (pending >= ep->cfg.window)
		return MW_EAGAIN;

	s = &p->send.tx[p->send.tx_seq % ep->cfg.window];
	assert(!s->used);
	memset(s, 0, sizeof(*s));
	s->meta = *meta;
	for (unsigned i = meta->ndim; i < MW_WIRE_MAX_DIMS; i++)
		s->meta.dims[i] = 0;
	if ((flags & MW_SUBMIT_BORROW) && host_is_le() &&
	    (cp->codec == MW_CODEC_DENSE || cp->codec == MW_CODEC_RAW)) {
		s->payload = (uint8_t *)(uintptr_t)data;
		s->plen = (size_t)bytes;
		s->desc.codec = (uint8_t)cp->codec;
		s->desc.n = n;
	} else {
		size_t scr_len = mw_encode_scratch_size(cp, n);

		sz = mw_encode_size(cp, n);
		if (sz < 0)
			return (int)sz;
		if ((uint64_t)sz > SIZE_MAX / 2)
			return MW_ELIMIT;
		if (scr_len > ep->scratch_len) {
			ep_release(ep, ep->scratch, ep->scratch_len);
			ep->scratch = ep_alloc_raw(ep, scr_len);
			ep->scratch_len = ep->scratch ? scr_len : 0;
			if (!ep->scratch)
				return MW_ENOMEM;
		}
		/* mw_encode() writes every byte of the payload. */
		s->payload = ep_alloc_raw(ep, (size_t)sz);
		if (!s->payload)
			return MW_ENOMEM;
		s->own = 1;
		s->plen = (size_t)sz;
		sz = mw_encode(cp, data, n, &s->desc, s->payload, s->plen,
			       ep->scratch, ep->scratch_len);
		if (sz < 0 || (size_t)sz != s->plen) {
			tx_slot_clear(ep, s);
			return sz < 0 ? (int)sz : MW_EFORMAT;
		}
	}
	rc = tx_plan(ep, p, s, seg_budget(ep, p));
	if (rc < 0) {
		tx_slot_clear(ep, s);
		return rc;
	}
	s->used = 1;
	s->handle = ep->next_handle++;
	if (handle)
		*handle = s->handle;
	if (p->send.tx_seq == p->send.tx_base && p->rtb.in_flight == 0)
		p->send.last_send = now;
	p->send.tx_seq++;
	ep->ctr.tensors_submitted++;
	if (!peer_open(p) && p->sess.hello_at == NO_TIME && !p->sess.hello_pending)
		p->sess.hello_pending = 1;
	return 0;
}

/* ---- RTT, congestion, loss (PROTOCOL.md 8) --------------------------- */

static void rtt_sample(struct mw_ep *ep, struct peer *p, uint64_t rtt,
		       uint64_t ack_delay, uint64_t now)
{
	if (ack_delay > ep->cfg.ack_delay_ns)
		ack_delay = ep->cfg.ack_delay_ns;
	if (rtt > ack_delay && rtt - ack_delay >= GRANULARITY_NS)
		rtt -= ack_delay;
	p->rtt.latest_rtt = rtt;
	if (!p->rtt.has_rtt || rtt < p->rtt.min_rtt)
		p->rtt.min_rtt = rtt;
	if (!p->rtt.has_rtt) {
		p->rtt.srtt = rtt;
		p->rtt.rttvar = rtt / 2;
		p->rtt.rttvar_stamp = now;
		p->rtt.has_rtt = 1;
		return;
	}
	uint64_t d = p->rtt.srtt > rtt ? p->rtt.srtt - rtt : rtt - p->rtt.srtt;
	uint64_t v = (3 * p->rtt.rttvar + d) / 4;

	/* Samples come with every ACK, not once a round trip as RFC 6298
	 * assumes: rttvar rises at once but falls at most once per srtt,
	 * so a delay seen (a descheduled peer) is remembered for some
	 * round trips instead of some ACKs. */
	if (v >= p->rtt.rttvar || now - p->rtt.rttvar_stamp >= p->rtt.srtt) {
		if (v < p->rtt.rttvar)
			p->rtt.rttvar_stamp = now;
		p->rtt.rttvar = v;
	}
	p->rtt.srtt = (7 * p->rtt.srtt + rtt) / 8;
}

/*
 * A window reduction starts an episode; the window before it is kept so
 * the reduction can be undone if every loss of the episode proves
 * spurious (fast), or the timeout itself does (8.5).
 */
static void undo_save(struct mw_ep *ep, struct peer *p, uint8_t kind)
{
	if (!ep->cfg.undo)
		return;
	p->cc.undo_cwnd = p->cc.cwnd;
	p->cc.undo_ssthresh = p->cc.ssthresh;
	p->cc.undo_lost = 0;
	p->cc.undo_armed = kind;
	p->cc.undo_epoch++;
	p->cc.undo_pn = p->rtb.pn_next;
}

/* The episode's reduction was not needed: restore the window. */
static void undo_apply(struct mw_ep *ep, struct peer *p)
{
	if (p->cc.undo_armed == 2)
		ep->ctr.spurious_rtos++;
	else
		ep->ctr.cc_undos++;
	if (p->cc.cwnd < p->cc.undo_cwnd) {
		p->cc.cwnd = p->cc.undo_cwnd;
		p->cc.cwnd_acc = 0;
	}
	if (p->cc.ssthresh < p->cc.undo_ssthresh)
		p->cc.ssthresh = p->cc.undo_ssthresh;
	p->cc.undo_armed = 0;
}

/* A transmission declared lost in the current episode arrived after all. */
static void undo_spurious(struct mw_ep *ep, struct peer *p,
			  const struct seg_st *g)
{
	if (!p->cc.undo_armed || g->epoch != p->cc.undo_epoch)
		return;
	if (p->cc.undo_armed == 2 && g->cause == LOST_RTO) {
		undo_apply(ep, p); /* the timeout's probe was not needed */
		return;
	}
	if (p->cc.undo_armed == 1 && p->cc.undo_lost && --p->cc.undo_lost == 0)
		undo_apply(ep, p);
}

static void cc_on_loss(struct mw_ep *ep, struct peer *p, uint64_t sent_ns,
		       uint64_t now)
{
	if (sent_ns <= p->cc.recovery_start && p->cc.recovery_start)
		return; /* one reduction per round trip */
	undo_save(ep, p, 1);
	p->cc.recovery_start = now;
	p->cc.ssthresh = p->cc.cwnd / 2 > ep->cfg.cwnd_min ? p->cc.cwnd / 2 :
						       ep->cfg.cwnd_min;
	p->cc.cwnd = p->cc.ssthresh;
	p->cc.cwnd_acc = 0;
}

static void cc_on_ack(struct mw_ep *ep, struct peer *p, uint32_t acked)
{
	if (p->cc.cwnd < p->cc.ssthresh) {
		p->cc.cwnd += acked;
	} else {
		p->cc.cwnd_acc += acked;
		while (p->cc.cwnd_acc >= p->cc.cwnd) {
			p->cc.cwnd_acc -= p->cc.cwnd;
			p->cc.cwnd++;
		}
	}
	if (p->cc.cwnd > ep->cfg.cwnd_max)
		p->cc.cwnd = ep->cfg.cwnd_max;
}

static struct tx_slot *tx_by_tid(struct mw_ep *ep, struct peer *p,
				 uint32_t tid)
{
	uint32_t i;

	for (i = 0; i < ep->cfg.window; i++) {
		struct tx_slot *s = &p->send.tx[i];

		if (s->used && s->active && s->tid == tid)
			return s;
	}
	return NULL;
}

/* The record is the segment's current, still unresolved transmission. */
static struct seg_st *rec_live(struct mw_ep *ep, struct peer *p,
			       uint64_t pn, struct tx_slot **sp)
{
	const struct sent_rec *r = &p->rtb.sent[pn % sent_cap(ep)];
	struct tx_slot *s = tx_by_tid(ep, p, r->tid);

	if (!s || r->seg >= s->seg_cnt)
		return NULL;
	if (s->ss[r->seg].state != SEG_FLIGHT || s->ss[r->seg].pn != pn)
		return NULL;
	*sp = s;
	return &s->ss[r->seg];
}

static void mark_lost(struct mw_ep *ep, struct peer *p, struct tx_slot *s,
		      struct seg_st *g, uint8_t cause)
{
	uint32_t idx = (uint32_t)(g - s->ss);

	(void)ep;
	g->state = SEG_LOST;
	g->cause = cause;
	g->prev = (uint32_t)g->pn;
	g->epoch = p->cc.undo_epoch;
	if (p->cc.undo_armed)
		p->cc.undo_lost++;
	s->lost++;
	if (idx < s->lost_hint)
		s->lost_hint = idx;
	p->rtb.in_flight--;
}

/* How long after its send a transmission overtaken by a later one is
 * declared lost: a round trip plus the reordering window, the larger of
 * 1/8 RTT and what the path has shown it reorders (8.2). */
static uint64_t loss_delay(const struct peer *p)
{
	uint64_t r = p->rtt.srtt > p->rtt.latest_rtt ? p->rtt.srtt : p->rtt.latest_rtt;

	r = r + (p->rtb.reo_wnd > r / 8 ? p->rtb.reo_wnd : r / 8);
	return r > GRANULARITY_NS ? r : GRANULARITY_NS;
}

/* Longest the learnt reordering window may grow: a window longer than a
 * round trip would only delay the recovery of real losses. */
static uint64_t reo_cap(const struct peer *p)
{
	return p->rtt.srtt > p->rtt.latest_rtt ? p->rtt.srtt : p->rtt.latest_rtt;
}

/*
 * A transmission declared lost (fast, 8.2) turned out to have arrived:
 * its segment is acknowledged while the retransmission is still queued,
 * or by an ACK whose largest_pn is below the retransmission's pn (so the
 * receiver cannot hold the retransmission). It came `now - sent - min_rtt`
 * late at most; widen the reordering window to cover that.
 */
static void reo_spurious(struct mw_ep *ep, struct peer *p, uint64_t pn,
			 uint64_t now)
{
	uint64_t sent, late;

	if (!p->rtt.has_rtt || p->rtb.pn_next - pn > sent_cap(ep) || pn >= p->rtb.pn_next)
		return;
	sent = p->rtb.sent[pn % sent_cap(ep)].sent_ns;
	if (now < sent + p->rtt.min_rtt)
		return;
	late = now - sent - p->rtt.min_rtt;
	if (late > reo_cap(p))
		late = reo_cap(p);
	if (late > p->rtb.reo_wnd)
		p->rtb.reo_wnd = late;
	p->rtb.reo_stamp = now;
	ep->ctr.spurious_losses++;
}

/* Without new evidence for 16 round trips, the window shrinks by a
 * quarter, so a path that stopped reordering recovers losses fast again. */
static void reo_decay(struct peer *p, uint64_t now)
{
	uint64_t period = 16 * (p->rtt.srtt > GRANULARITY_NS ? p->rtt.srtt :
							   GRANULARITY_NS);

	if (p->rtb.reo_wnd == 0 || now - p->rtb.reo_stamp < period)
		return;
	p->rtb.reo_wnd -= p->rtb.reo_wnd / 4 ? p->rtb.reo_wnd / 4 : p->rtb.reo_wnd;
	p->rtb.reo_stamp = now;
}

static void detect_losses(struct mw_ep *ep, struct peer *p, uint64_t now)
{
	p->rtb.loss_time = NO_TIME;
	while (p->rtb.sent_lo < p->rtb.pn_next) {
		struct tx_slot *s;
		struct seg_st *g = rec_live(ep, p, p->rtb.sent_lo, &s);
		uint64_t t;

		if (!g) {
			p->rtb.sent_lo++;
			continue;
		}
		if (!p->rtb.has_largest_acked || p->rtb.sent_lo >= p->rtb.largest_acked)
			break;
		t = p->rtb.sent[p->rtb.sent_lo % sent_cap(ep)].sent_ns +
		    loss_delay(p);
		if (now >= t) {
			cc_on_loss(ep, p,
				   p->rtb.sent[p->rtb.sent_lo % sent_cap(ep)].sent_ns,
				   now);
			mark_lost(ep, p, s, g, LOST_FAST);
			p->rtb.sent_lo++;
			continue;
		}
		p->rtb.loss_time = t;
		break;
	}
}

/* What an ACK being processed says beyond its blocks. */
struct ack_ctx {
	uint64_t now;
	uint64_t largest;     /* its largest_pn, extended to 64 bits */
	uint8_t has_largest;
};

static uint32_t ack_seg(struct mw_ep *ep, struct peer *p, struct tx_slot *s,
			uint32_t i, const struct ack_ctx *ac)
{
	struct seg_st *g = &s->ss[i];

	switch (g->state) {
	case SEG_FLIGHT:
		/* A retransmission newer than anything the receiver reports
		 * cannot be what it holds: the lost one arrived after all. */
		if (g->cause != LOST_NONE && ac && ac->has_largest &&
		    g->pn > ac->largest) {
			if (g->cause == LOST_FAST)
				reo_spurious(ep, p, p->rtb.pn_next -
					     (uint32_t)((uint32_t)p->rtb.pn_next -
							g->prev),
					     ac->now);
			undo_spurious(ep, p, g);
		}
		/* A transmission sent before the timeout and never declared
		 * lost reached the receiver: the flight was alive, only late
		 * (F-RTO): the timeout was spurious. */
		if (p->cc.undo_armed == 2 && ac && g->pn < p->cc.undo_pn)
			undo_apply(ep, p);
		p->rtb.in_flight--;
		g->state = SEG_ACKED;
		s->acked++;
		p->rtb.segs_acked++;
		return 1;
	case SEG_LOST:
		if (g->cause == LOST_FAST && ac)
			reo_spurious(ep, p, g->pn, ac->now);
		if (ac)
			undo_spurious(ep, p, g);
		s->lost--;
		g->state = SEG_ACKED;
		s->acked++;
		p->rtb.segs_acked++;
		return 0;
	default:
		return 0; /* NEW: never sent, cannot be acked; ACKED: done */
	}
}

/* A tensor the receiver holds completely. */
static uint32_t tx_complete(struct mw_ep *ep, uint16_t id, struct tx_slot *s,
			    const struct ack_ctx *ac)
{
	struct peer *p = &ep->peers[id];
	uint32_t i, n = 0;

	if (s->next_new < s->seg_cnt)
		return 0; /* claims a segment never sent: ignore the claim */
	for (i = 0; i < s->seg_cnt; i++)
		n += ack_seg(ep, p, s, i, ac);
	tx_finish(ep, id, s, 0);
	return n;
}

/* ---- receive: ACK ----------------------------------------------------- */

/*
 * The peer's rx_limit holds back a tensor we have to send (8.6): one that
 * has a tensor id at or above it, or one waiting for an id when the limit
 * is the next id.
 */
static int window_shut(const struct mw_ep *ep, const struct peer *p,
		       uint32_t limit)
{
	uint64_t q;

	for (q = p->send.tx_base; q != p->send.tx_seq; q++) {
		const struct tx_slot *s = &p->send.tx[q % ep->cfg.window];

		if (!s->used)
			continue;
		if (s->active ? sdiff(s->tid, limit) >= 0
			      : sdiff(p->send.tid_next, limit) >= 0)
			return 1;
	}
	return 0;
}

static int on_ack(struct mw_ep *ep, uint16_t id, const struct mw_hdr *h,
		  const uint8_t *pkt, size_t len, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct mw_ack a;
	struct mw_ack_block b;
	struct ack_ctx ac;
	uint64_t largest = 0, acked0, sent0;
	uint32_t newly = 0, i, w = ep->cfg.window;
	int rc, largest_new;

	rc = mw_wire_parse_ack(pkt, len, &a);
	if (rc < 0)
		return drop(ep, MW_DROP_FORMAT, rc);
	if (sdiff(a.cum_tid, p->send.tid_next) > 0)
		return drop(ep, MW_DROP_ACK, MW_ERANGE);
	if (a.has_largest) {
		uint32_t d = (uint32_t)p->rtb.pn_next - a.largest_pn;

		if (d == 0 || d > p->rtb.pn_next)
			return drop(ep, MW_DROP_ACK, MW_ERANGE);
		largest = p->rtb.pn_next - d;
	}
	ac.now = now;
	ac.largest = largest;
	ac.has_largest = a.has_largest;
	acked0 = p->rtb.segs_acked;
	sent0 = ep->ctr.tensors_sent;
	largest_new = a.has_largest &&
		      (!p->rtb.has_largest_acked || largest > p->rtb.largest_acked);
	ep->ctr.acks_rx++;
	if (h->flags & MW_FLAG_ACK_REQ)
		p->recv.ack_now = 1;
	p->send.peer_limit = a.rx_limit;

	/* cumulative part: every tensor below cum_tid is complete */
	for (i = 0; i < w; i++) {
		struct tx_slot *s = &p->send.tx[i];

		if (s->used && s->active && sdiff(s->tid, a.cum_tid) < 0) {
			newly += tx_complete(ep, id, s, &ac);
		}
	}
	while ((rc = mw_wire_ack_block(&a, &b)) > 0) {
		struct tx_slot *s = tx_by_tid(ep, p, b.tid);
		uint32_t j, lim;

		if (!s)
			continue; /* finished already, or never ours */
		if (b.flags & MW_ACKB_COMPLETE) {
			newly += tx_complete(ep, id, s, &ac);
			continue;
		}
		lim = b.seg_cum < s->seg_cnt ? b.seg_cum : s->seg_cnt;
		for (j = 0; j < lim; j++)
			newly += ack_seg(ep, p, s, j, &ac);
		for (j = 0; j < 8u * b.bitmap_len; j++) {
			uint64_t seg = (uint64_t)b.seg_cum + 1 + j;

			if (seg >= s->seg_cnt)
				break;
			if (b.bitmap[j / 8] >> (j % 8) & 1)
				newly += ack_seg(ep, p, s, (uint32_t)seg, &ac);
		}
		if (s->acked == s->seg_cnt)
			tx_complete(ep, id, s, &ac);
	}
	if (a.has_largest &&
	    (!p->rtb.has_largest_acked || largest > p->rtb.largest_acked)) {
		if (p->rtb.pn_next - largest <= sent_cap(ep)) {
			uint64_t sent = p->rtb.sent[largest % sent_cap(ep)].sent_ns;

			if (now >= sent)
				rtt_sample(ep, p, now - sent,
					   (uint64_t)a.ack_delay_us * 1000,
					   now);
		}
		p->rtb.largest_acked = largest;
		p->rtb.has_largest_acked = 1;
	}
	if (newly)
		cc_on_ack(ep, p, newly);
	reo_decay(p, now);
	detect_losses(ep, p, now);
	/* The timeout budget (8.3, 8.4) is reset by an ACK that shows
	 * progress, or that holds a tensor of ours back by flow control (a
	 * peer that answers probes keeps the session open, 8.6). An ACK
	 * that does neither - a receiver that keeps refusing a segment -
	 * does not, so such a tensor fails within the retry budget. */
	if (p->rtb.segs_acked != acked0 || ep->ctr.tensors_sent != sent0 ||
	    largest_new || window_shut(ep, p, a.rx_limit))
		p->send.rto_count = 0;
	return 0;
}

/* ---- receive: DATA ---------------------------------------------------- */

static uint32_t rx_limit(const struct mw_ep *ep, const struct peer *p)
{
	uint32_t lim = p->recv.rx_next + ep->cfg.window - p->recv.rx_unpolled;

	if (p->recv.blocked && sdiff(p->recv.blocked_tid, lim) < 0)
		lim = p->recv.blocked_tid;
	return lim;
}

static void rx_deliver(struct mw_ep *ep, uint16_t id)
{
	struct peer *p = &ep->peers[id];

	for (;;) {
		struct rx_slot *s = &p->recv.rx[p->recv.rx_next % ep->cfg.window];
		struct mw_event *e;

		if (!s->used || !s->complete || s->tid != p->recv.rx_next)
			return;
		e = ev_push(ep);
		e->type = MW_EV_RX_TENSOR;
		e->peer = id;
		e->handle = s->tid;
		e->meta = s->meta;
		e->desc = s->desc;
		e->buf = s->buf;
		e->bytes = s->bytes;
		s->buf = NULL; /* now the event's; rx_mem drops at poll */
		rx_slot_clear(ep, s, 0);
		p->recv.rx_next++;
		p->recv.rx_unpolled++;
		ep->ctr.tensors_delivered++;
	}
}

static int rx_slot_open(struct mw_ep *ep, uint16_t id, struct rx_slot *s,
			const struct mw_data *d, const uint8_t *pkt)
{
	struct peer *p = &ep->peers[id];
	struct mw_rx_info ri;
	uint64_t bytes = d->desc.n * mw_codec_elem_size(d->desc.codec);
	void *buf;

	memset(&ri, 0, sizeof(ri));
	ri.peer = id;
	ri.tid = d->tid;
	ri.meta = d->meta;
	ri.desc = d->desc;
	buf = ep->cfg.rx_alloc.alloc(ep->cfg.rx_alloc.ctx, bytes, &ri);
	if (!buf) {
		if (!p->recv.blocked || sdiff(d->tid, p->recv.blocked_tid) < 0) {
			p->recv.blocked = 1;
			p->recv.blocked_tid = d->tid;
			p->recv.blocked_info = ri;
		}
		return MW_EAGAIN;
	}
	s->bitmap = ep_alloc(ep, (d->seg_cnt + 7u) / 8u);
	s->rs = ep_alloc(ep, sizeof(*s->rs) * d->seg_cnt);
	s->seg_cnt = d->seg_cnt;
	if (!s->bitmap || !s->rs) {
		ep->cfg.rx_alloc.free(ep->cfg.rx_alloc.ctx, buf, bytes);
		rx_slot_clear(ep, s, 0);
		return MW_ENOMEM;
	}
	s->used = 1;
	s->tid = d->tid;
	s->buf = buf;
	s->bytes = bytes;
	s->meta = d->meta;
	s->desc = d->desc;
	memcpy(s->tblock, pkt + MW_WIRE_TBLOCK_OFF, MW_WIRE_TBLOCK_LEN);
	ep->rx_mem += bytes;
	return 0;
}

static int bit_get(const uint8_t *bm, uint32_t i)
{
	return bm[i / 8] >> (i % 8) & 1;
}

static void rx_note_pn(struct mw_ep *ep, struct peer *p, uint32_t pn,
		       uint64_t now)
{
	if (!p->recv.rx_has_largest || sdiff(pn, p->recv.rx_largest_pn) > 0) {
		if (p->recv.rx_has_largest && pn != p->recv.rx_largest_pn + 1)
			p->recv.ack_now = 1; /* a gap: tell the sender now */
		p->recv.rx_largest_pn = pn;
		p->recv.rx_has_largest = 1;
		p->recv.rx_largest_time = now;
	} else {
		p->recv.ack_now = 1; /* reordered or repeated: report at once */
	}
	p->recv.ack_pending++;
	if (p->recv.ack_pending >= 2)
		p->recv.ack_now = 1;
	else if (p->recv.ack_due == NO_TIME)
		p->recv.ack_due = now + ep->cfg.ack_delay_ns;
}

/* Accept a duplicate segment (not a drop, PROTOCOL.md 11): counted, and
 * answered at once so the sender learns what the receiver holds. */
static int rx_dup(struct mw_ep *ep, struct peer *p, uint32_t pn, uint64_t now)
{
	rx_note_pn(ep, p, pn, now);
	ep->ctr.data_rx++;
	ep->ctr.data_rx_dup++;
	p->recv.ack_now = 1;
	return 0;
}

/* A received segment must tile with its received neighbours (5.2). */
static int rx_tiles(const struct rx_slot *s, const struct mw_data *d)
{
	const struct rx_seg *r;

	if (d->seg_idx > 0 && bit_get(s->bitmap, d->seg_idx - 1)) {
		r = &s->rs[d->seg_idx - 1];
		if (r->elem_off + r->elem_cnt != d->seg.elem_off ||
		    r->val_off + r->val_cnt != d->seg.val_off)
			return 0;
	}
	if (d->seg_idx + 1 < d->seg_cnt && bit_get(s->bitmap, d->seg_idx + 1)) {
		r = &s->rs[d->seg_idx + 1];
		if (d->seg.elem_off + d->seg.elem_cnt != r->elem_off ||
		    d->seg.val_off + d->seg.val_cnt != r->val_off)
			return 0;
	}
	return 1;
}

/*
 * A DATA packet (PROTOCOL.md 5.2, 11). Checks run in the order of
 * section 11; a packet that fails one is dropped and leaves nothing behind
 * but its drop counter and the extra action the table names (for
 * outside_window and no_buffer: its pn recorded and an ACK now): otherwise
 * its pn is not recorded, no ACK becomes due, and a receive slot it opened
 * is closed again.
 */
static int on_data(struct mw_ep *ep, uint16_t id, const uint8_t *pkt,
		   size_t len, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct mw_data d;
	struct rx_slot *s;
	struct rx_seg *r;
	int32_t off;
	int64_t got;
	int rc, opened = 0;

	rc = mw_wire_parse_data(pkt, len, &d);
	if (rc == MW_ETRUNC)
		return drop(ep, MW_DROP_PAYLOAD, rc);
	if (rc < 0)
		return drop(ep, MW_DROP_HEADER, rc);
	if (d.desc.n * mw_codec_elem_size(d.desc.codec) >
		    ep->cfg.max_tensor_bytes ||
	    d.seg_cnt > ep->cfg.max_segs)
		return drop(ep, MW_DROP_LIMIT, MW_ELIMIT);

	off = sdiff(d.tid, p->recv.rx_next);
	if (off < 0)
		return rx_dup(ep, p, d.pn, now); /* already delivered */
	if (off >= sdiff(rx_limit(ep, p), p->recv.rx_next) ||
	    (uint32_t)off >= ep->cfg.window) {
		/* Flow control, not a bad packet: its pn is recorded so that
		 * the ACK sent now lets the sender detect the loss (8.2). */
		rx_note_pn(ep, p, d.pn, now);
		p->recv.ack_now = 1;
		return drop(ep, MW_DROP_WINDOW, MW_ELIMIT);
	}
	s = &p->recv.rx[d.tid % ep->cfg.window];
	if (s->used) {
		if (memcmp(s->tblock, pkt + MW_WIRE_TBLOCK_OFF,
			   MW_WIRE_TBLOCK_LEN) != 0)
			return drop(ep, MW_DROP_INCONSISTENT, MW_EFORMAT);
		if (s->complete || bit_get(s->bitmap, d.seg_idx))
			return rx_dup(ep, p, d.pn, now);
		if (!rx_tiles(s, &d))
			return drop(ep, MW_DROP_INCONSISTENT, MW_EFORMAT);
	} else {
		rc = rx_slot_open(ep, id, s, &d, pkt);
		if (rc == MW_EAGAIN) {
			rx_note_pn(ep, p, d.pn, now); /* as outside_window */
			p->recv.ack_now = 1;
			if (p->recv.alloc_retry_at == NO_TIME)
				p->recv.alloc_retry_at = now + ep->cfg.rto_min_ns;
			return drop(ep, MW_DROP_NOBUF, rc);
		}
		if (rc < 0)
			return drop(ep, MW_DROP_NOBUF, rc);
		opened = 1;
	}
	/* Decoding writes only the segment's own element range, which no
	 * received segment covers: a payload that fails leaves those
	 * elements to the segment that will fill them. */
	got = mw_seg_decode(&d.desc, d.seg.elem_off, d.seg.elem_cnt,
			    d.payload, d.payload_len, s->buf);
	if (got >= 0 &&
	    (d.desc.codec == MW_CODEC_MS || d.desc.codec == MW_CODEC_MS_SIGNED ||
	     d.desc.codec == MW_CODEC_TOPK) &&
	    (uint64_t)got != d.seg.val_cnt)
		got = MW_ECOUNT;
	if (got < 0) {
		if (opened)
			rx_slot_clear(ep, s, 1);
		return drop(ep, MW_DROP_PAYLOAD, (int)got);
	}
	/* Accepted. */
	if (opened && p->recv.blocked && p->recv.blocked_tid == d.tid)
		p->recv.blocked = 0;
	rx_note_pn(ep, p, d.pn, now);
	r = &s->rs[d.seg_idx];
	r->elem_off = d.seg.elem_off;
	r->val_off = d.seg.val_off;
	r->elem_cnt = (uint32_t)d.seg.elem_cnt;
	r->val_cnt = (uint32_t)d.seg.val_cnt;
	s->bitmap[d.seg_idx / 8] |= (uint8_t)(1u << (d.seg_idx % 8));
	s->rcvd++;
	if (d.seg_idx > s->seg_max)
		s->seg_max = d.seg_idx;
	while (s->seg_cum < s->seg_cnt && bit_get(s->bitmap, s->seg_cum))
		s->seg_cum++;
	ep->ctr.data_rx++;
	if (s->rcvd == s->seg_cnt) {
		s->complete = 1;
		rx_deliver(ep, id);
	}
	return 0;
}

/* ---- receive: session control (PROTOCOL.md 6, 7) --------------------- */

static void resync(struct mw_ep *ep, struct peer *p, uint64_t now)
{
	if (now < p->sess.resync_at)
		return;
	p->sess.resync_at = now + ep->cfg.rto_min_ns;
	p->sess.hello_pending = 1;
}

static int on_hello(struct mw_ep *ep, uint16_t id, const struct mw_hdr *h,
		    const uint8_t *pkt, size_t len, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct mw_hello hb;
	int rc, dst_ok = ident_eq(&h->dst, &p->sess.local);

	rc = mw_wire_parse_hello(pkt, len, &hb);
	if (rc < 0)
		return drop(ep, MW_DROP_FORMAT, rc);
	/* A HELLO_ACK to an identity we no longer have answers a HELLO of
	 * an earlier generation: stale (6.3). Our current HELLO, if any, is
	 * retried on its timer; nothing else to do. */
	if (h->type == MW_PT_HELLO_ACK && !dst_ok)
		return drop(ep, MW_DROP_STALE, MW_ESTATE);
	if (p->sess.remote_known) {
		int c = mw_ident_cmp(&h->src, &p->sess.remote);

		if (c < 0 || (c == 0 && p->sess.remote_closed))
			return drop(ep, MW_DROP_STALE, MW_ESTATE);
		if (c > 0) {
			int restarted = h->src.inc != p->sess.remote.inc;
			uint64_t hello_at = p->sess.hello_at;

			if (restarted) {
				ep->ctr.peer_restarts++;
				peer_event(ep, id, MW_EV_PEER_RESTARTED,
					   MW_ERESET);
			}
			session_down(ep, id, MW_ERESET,
				     SD_KEEP | (!restarted && peer_open(p) ?
							SD_EMIT : 0));
			/* A HELLO of ours from our current identity is on
			 * its way (both sides opening at once): whatever
			 * its dst, the peer answers it with a HELLO_ACK to
			 * that identity. Wait for it (retried on its timer)
			 * rather than send another. */
			if (hello_at != NO_TIME && tx_wanted(p)) {
				p->sess.hello_at = hello_at;
				p->sess.hello_pending = 0;
			}
			dst_ok = ident_eq(&h->dst, &p->sess.local);
		}
	}
	p->sess.remote = h->src;
	p->sess.remote_known = 1;
	p->sess.remote_closed = 0;
	p->sess.lim = hb;
	if (p->sess.lim.max_datagram > ep->cfg.max_datagram)
		p->sess.lim.max_datagram = ep->cfg.max_datagram;
	ep->ctr.hello_rx++;
	if (p->send.tid_next == 0 && !p->rtb.has_largest_acked)
		p->send.peer_limit = hb.rx_window;
	if (dst_ok && !p->sess.confirmed) {
		p->sess.confirmed = 1;
		p->send.rto_count = 0;
		p->sess.hello_at = NO_TIME;
		p->send.last_send = now;
	}
	/* The peer names our current identity: a HELLO of ours (queued on
	 * submit or to resynchronise) would tell it nothing. This is what
	 * makes a simultaneous open one HELLO and one HELLO_ACK per side. */
	if (dst_ok)
		p->sess.hello_pending = 0;
	if (h->type == MW_PT_HELLO)
		p->sess.hello_ack_pending = 1;
	return 0;
}

/*
 * Simultaneous close (PROTOCOL.md 7.3): a CLOSE from the peer for the very
 * session we closed ourselves (its src is that session's peer identity,
 * its dst our identity in it) while no new session has opened. Both sides
 * agree the session is over: count it, note the peer closed, drop nothing.
 */
static int closes_ours(const struct peer *p, const struct mw_hdr *h)
{
	return h->type == MW_PT_CLOSE && p->sess.remote_known && !p->sess.remote_closed &&
	       !p->sess.confirmed && p->sess.close_src.inc != 0 &&
	       ident_eq(&h->src, &p->sess.remote) &&
	       ident_eq(&h->src, &p->sess.close_dst) &&
	       ident_eq(&h->dst, &p->sess.close_src);
}

static int on_close(struct mw_ep *ep, uint16_t id, const uint8_t *pkt,
		    size_t len)
{
	struct mw_close c;
	int rc = mw_wire_parse_close(pkt, len, &c);

	if (rc < 0)
		return drop(ep, MW_DROP_FORMAT, rc);
	ep->ctr.close_rx++;
	session_down(ep, id, MW_ESHUTDOWN,
		     SD_KEEP | SD_EMIT |
			     (c.reason == 0 || c.reason == MW_ECANCELED ?
				      SD_ORDERLY : 0));
	ep->peers[id].sess.remote_closed = 1;
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

/* Try again to get a buffer for the tensor the allocator refused. */
static void alloc_retry(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	void *buf;
	uint64_t bytes;

	if (!p->recv.blocked)
		return;
	bytes = p->recv.blocked_info.desc.n *
		mw_codec_elem_size(p->recv.blocked_info.desc.codec);
	buf = ep->cfg.rx_alloc.alloc(ep->cfg.rx_alloc.ctx, bytes,
				     &p->recv.blocked_info);
	if (!buf) {
		p->recv.alloc_retry_at = now + ep->cfg.rto_min_ns;
		return;
	}
	/* Room again: give it back and reopen the window; the first segment
	 * that arrives allocates for real. */
	ep->cfg.rx_alloc.free(ep->cfg.rx_alloc.ctx, buf, bytes);
	p->recv.blocked = 0;
	p->recv.alloc_retry_at = NO_TIME;
	p->recv.ack_now = 1;
}

int mw_ep_recv(struct mw_ep *ep, uint16_t id, const uint8_t *pkt, size_t len,
	       uint64_t now)
{
	struct peer *p = get_peer(ep, id);
	struct mw_hdr h;
	int rc, c;

	assert(now >= ep->last_now);
	ep->last_now = now;
	ep->ctr.pkts_rx++;
	ep->ctr.bytes_rx += len;
	if (!p)
		return drop(ep, MW_DROP_PEER, MW_ENOENT);
	rc = mw_wire_parse_hdr(pkt, len, &h);
	if (rc < 0)
		return drop(ep, mw_drop_for_hdr_error(rc), rc);
	if (h.type == MW_PT_HELLO || h.type == MW_PT_HELLO_ACK)
		return on_hello(ep, id, &h, pkt, len, now);

	if (closes_ours(p, &h)) {
		struct mw_close cl;

		rc = mw_wire_parse_close(pkt, len, &cl);
		if (rc < 0)
			return drop(ep, MW_DROP_FORMAT, rc);
		ep->ctr.close_rx++;
		p->sess.remote_closed = 1;
		return 0;
	}
	/* Everything else belongs to exactly one session. */
	if (!p->sess.remote_known || !ident_eq(&h.src, &p->sess.remote) ||
	    !ident_eq(&h.dst, &p->sess.local) || p->sess.remote_closed) {
		c = p->sess.remote_known ? mw_ident_cmp(&h.src, &p->sess.remote) : 1;
		if (c < 0 || (c == 0 && p->sess.remote_closed))
			return drop(ep, MW_DROP_STALE, MW_ESTATE);
		if (h.type != MW_PT_CLOSE)
			resync(ep, p, now);
		return drop(ep, MW_DROP_SESSION, MW_ESTATE);
	}
	switch (h.type) {
	case MW_PT_DATA:
		rc = on_data(ep, id, pkt, len, now);
		break;
	case MW_PT_ACK:
		rc = on_ack(ep, id, &h, pkt, len, now);
		break;
	case MW_PT_CLOSE:
		return on_close(ep, id, pkt, len);
	default:
		return drop(ep, MW_DROP_TYPE, MW_EUNSUPP);
	}
	if (rc < 0)
		return rc; /* dropped: no state (PROTOCOL.md 11) */
	/* An accepted DATA or ACK of the session confirms our identity
	 * (6.4) and is a chance to retry a refused allocation (8.6). */
	if (!p->sess.confirmed) {
		p->sess.confirmed = 1;
		p->sess.hello_at = NO_TIME;
		p->send.last_send = now;
	}
	alloc_retry(ep, id, now);
	return 0;
}

/* ---- timers ---------------------------------------------------------- */

static int has_sendable(struct mw_ep *ep, struct peer *p)
{
	uint64_t q;

	for (q = p->send.tx_base; q != p->send.tx_seq; q++) {
		struct tx_slot *s = &p->send.tx[q % ep->cfg.window];

		if (s->used && (!s->active || s->lost || s->next_new < s->seg_cnt))
			return 1;
	}
	return 0;
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
	if (peer_open(p) && (p->rtb.in_flight || has_sendable(ep, p))) {
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

	for (i = 0; i < ep->cfg.max_peers; i++) {
		x = peer_expiry(ep, &ep->peers[i]);
		if (x < t)
			t = x;
	}
	return t;
}

static void on_rto(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = &ep->peers[id];

	ep->ctr.rto_events++;
	if (++p->send.rto_count > ep->cfg.max_retries) {
		session_down(ep, id, MW_ETIMEDOUT, SD_LOCAL | SD_EMIT);
		return;
	}
	if (p->rtb.in_flight) {
		/* First timeout of a series: keep the window for an undo. */
		if (p->send.rto_count == 1 || p->cc.undo_armed != 2)
			undo_save(ep, p, 2);
		/* The oldest unresolved transmission is declared lost and
		 * resent as a probe, whatever the congestion window. */
		while (p->rtb.sent_lo < p->rtb.pn_next) {
			struct tx_slot *s;
			struct seg_st *g = rec_live(ep, p, p->rtb.sent_lo, &s);

			p->rtb.sent_lo++;
			if (g) {
				mark_lost(ep, p, s, g, LOST_RTO);
				break;
			}
		}
		p->cc.ssthresh = p->cc.cwnd / 2 > ep->cfg.cwnd_min ?
				      p->cc.cwnd / 2 : ep->cfg.cwnd_min;
		p->cc.cwnd = ep->cfg.cwnd_min;
		p->cc.cwnd_acc = 0;
		p->cc.recovery_start = now;
		p->send.probe_data = 1;
	} else {
		/* Nothing in flight but data waiting: the peer's window is
		 * shut (or we are starved); ask for a fresh ACK. */
		p->send.probe_req = 1;
		if (has_sendable(ep, p))
			p->send.probe_data = 1;
	}
	p->send.last_send = now; /* re-armed by what is sent next */
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
		if (p->rtb.loss_time <= now)
			detect_losses(ep, p, now);
		if (p->recv.blocked && p->recv.alloc_retry_at <= now)
			alloc_retry(ep, i, now);
		if (p->sess.hello_at <= now) {
			p->sess.hello_at = NO_TIME;
			ep->ctr.rto_events++;
			if (++p->send.rto_count > ep->cfg.max_retries)
				session_down(ep, i, MW_ETIMEDOUT,
					     SD_LOCAL | SD_EMIT);
			else if (tx_wanted(p) && !peer_open(p))
				p->sess.hello_pending = 1;
			continue;
		}
		if (peer_open(p) && (p->rtb.in_flight || has_sendable(ep, p)) &&
		    p->send.last_send + rto_backoff(ep, p) <= now)
			on_rto(ep, i, now);
	}
	return 0;
}

/* ---- send ------------------------------------------------------------ */

static int build_hello(struct mw_ep *ep, struct peer *p, uint8_t type,
		       uint8_t *buf)
{
	struct mw_hello hb;
	const struct mw_ident *dst = p->sess.remote_known ? &p->sess.remote : NULL;

	memset(&hb, 0, sizeof(hb));
	hb.max_datagram = ep->cfg.max_datagram;
	hb.rx_window = ep->cfg.window;
	hb.max_segs = ep->cfg.max_segs;
	hb.max_tensor_bytes = ep->cfg.max_tensor_bytes;
	mw_wire_put_hdr(buf, type, 0, &p->sess.local, dst);
	return mw_wire_finish(buf, mw_wire_put_hello(buf, &hb));
}

static int build_ack(struct mw_ep *ep, struct peer *p, uint8_t *buf,
		     size_t cap, uint16_t flags, uint64_t now)
{
	struct mw_ack a;
	size_t off = MW_WIRE_ACK_FIXED_LEN;
	uint32_t i, w = ep->cfg.window;
	uint8_t bm[512];

	memset(&a, 0, sizeof(a));
	if (p->recv.rx_has_largest) {
		uint64_t d = (now - p->recv.rx_largest_time) / 1000;

		a.has_largest = 1;
		a.largest_pn = p->recv.rx_largest_pn;
		a.ack_delay_us = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	}
	a.cum_tid = p->recv.rx_next;
	a.rx_limit = rx_limit(ep, p);
	mw_wire_put_hdr(buf, MW_PT_ACK, flags, &p->sess.local, &p->sess.remote);
	for (i = 0; i < w; i++) {
		struct rx_slot *s = &p->recv.rx[(p->recv.rx_next + i) % w];
		struct mw_ack_block b;
		uint32_t nbits = 0, j;
		size_t room;

		if (!s->used || s->tid != p->recv.rx_next + i)
			continue;
		if (cap - off < MW_WIRE_ACK_BLOCK_LEN)
			break;
		memset(&b, 0, sizeof(b));
		b.tid = s->tid;
		b.seg_cum = s->seg_cum;
		if (s->complete) {
			b.flags = MW_ACKB_COMPLETE;
		} else if (s->seg_max > s->seg_cum) {
			nbits = s->seg_max - s->seg_cum;
			room = cap - off - MW_WIRE_ACK_BLOCK_LEN;
			if (room > sizeof(bm))
				room = sizeof(bm);
			if (nbits > 8 * room)
				nbits = (uint32_t)(8 * room);
			b.bitmap_len = (uint16_t)((nbits + 7) / 8);
			memset(bm, 0, b.bitmap_len);
			for (j = 0; j < nbits; j++)
				if (bit_get(s->bitmap, s->seg_cum + 1 + j))
					bm[j / 8] |= (uint8_t)(1u << (j % 8));
			b.bitmap = bm;
		}
		off += mw_wire_put_ack_block(buf + off, &b);
		a.nblocks++;
	}
	mw_wire_put_ack_fixed(buf, &a);
	p->recv.ack_pending = 0;
	p->recv.ack_now = 0;
	p->recv.ack_due = NO_TIME;
	ep->ctr.acks_tx++;
	return mw_wire_finish(buf, off);
}

/* Give the next queued tensor an id, if the peer's window allows. */
static struct tx_slot *tx_activate(struct mw_ep *ep, uint16_t id,
				   struct tx_slot *s)
{
	struct peer *p = &ep->peers[id];
	size_t budget = seg_budget(ep, p);
	int rc = 0;

	if (sdiff(p->send.tid_next, p->send.peer_limit) >= 0)
		return NULL;
	if (s->desc.n * mw_codec_elem_size(s->desc.codec) >
	    p->sess.lim.max_tensor_bytes)
		rc = MW_ELIMIT;
	else if (s->budget != budget || s->seg_cnt > p->sess.lim.max_segs)
		rc = tx_plan(ep, p, s, budget);
	if (rc < 0) {
		tx_finish(ep, id, s, rc);
		return NULL;
	}
	s->active = 1;
	s->tid = p->send.tid_next++;
	return s;
}

/* Pick the next segment to send: retransmissions first, then new data,
 * both in tensor order. */
static struct tx_slot *pick(struct mw_ep *ep, uint16_t id, uint32_t *seg)
{
	struct peer *p = &ep->peers[id];
	uint64_t q;
	uint32_t w = ep->cfg.window, j;

	for (q = p->send.tx_base; q != p->send.tx_seq; q++) {
		struct tx_slot *s = &p->send.tx[q % w];

		if (!s->used || !s->active || !s->lost ||
		    sdiff(s->tid, p->send.peer_limit) >= 0)
			continue;
		for (j = s->lost_hint; j < s->seg_cnt; j++)
			if (s->ss[j].state == SEG_LOST) {
				s->lost_hint = j;
				*seg = j;
				return s;
			}
	}
	for (q = p->send.tx_base; q != p->send.tx_seq; q++) {
		struct tx_slot *s = &p->send.tx[q % w];

		if (!s->used)
			continue;
		if (!s->active) {
			s = tx_activate(ep, id, s);
			if (!s) {
				if (p->send.tx[q % w].used)
					return NULL; /* window shut: in order */
				continue;             /* failed on limits */
			}
		}
		if (sdiff(s->tid, p->send.peer_limit) >= 0)
			return NULL;
		if (s->next_new < s->seg_cnt) {
			*seg = s->next_new;
			return s;
		}
	}
	return NULL;
}

static int build_data(struct mw_ep *ep, struct peer *p, struct tx_slot *s,
		      uint32_t seg, uint8_t *buf, size_t cap, uint64_t now)
{
	struct seg_st *g = &s->ss[seg];
	struct sent_rec *r;
	int64_t plen;

	mw_wire_put_hdr(buf, MW_PT_DATA, 0, &p->sess.local, &p->sess.remote);
	mw_put32(buf + 28, (uint32_t)p->rtb.pn_next);
	mw_put32(buf + 32, s->tid);
	mw_put32(buf + 36, seg);
	mw_put32(buf + 40, (uint32_t)s->segs[seg].elem_cnt);
	mw_put32(buf + 44, (uint32_t)s->segs[seg].val_cnt);
	mw_put64(buf + 48, s->segs[seg].elem_off);
	mw_put64(buf + 56, s->segs[seg].val_off);
	memcpy(buf + MW_WIRE_TBLOCK_OFF, s->tblock, MW_WIRE_TBLOCK_LEN);
	plen = mw_seg_write(&s->desc, s->payload, s->plen, &s->segs[seg],
			    buf + MW_WIRE_DATA_HDR_LEN,
			    cap - MW_WIRE_DATA_HDR_LEN);
	if (plen < 0)
		return (int)plen;
	if (g->state == SEG_LOST) {
		s->lost--;
		ep->ctr.retrans++;
		if (g->cause == LOST_RTO)
			ep->ctr.retrans_rto++;
		else
			ep->ctr.retrans_fast++;
	} else {
		s->next_new++;
		ep->ctr.data_tx_new++;
	}
	g->state = SEG_FLIGHT;
	g->pn = p->rtb.pn_next;
	r = &p->rtb.sent[p->rtb.pn_next % sent_cap(ep)];
	r->sent_ns = now;
	r->tid = s->tid;
	r->seg = seg;
	p->rtb.pn_next++;
	p->rtb.in_flight++;
	p->send.last_send = now;
	ep->ctr.data_tx++;
	return mw_wire_finish(buf, MW_WIRE_DATA_HDR_LEN + (size_t)plen);
}

/* One datagram for peer id, or 0. */
static int send_peer(struct mw_ep *ep, uint16_t id, uint8_t *buf, size_t cap,
		     uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct tx_slot *s;
	uint32_t seg;
	int ring_full;

	if (p->sess.close_pending) {
		p->sess.close_pending = 0;
		mw_wire_put_hdr(buf, MW_PT_CLOSE, 0, &p->sess.close_src,
				&p->sess.close_dst);
		ep->ctr.close_tx++;
		return mw_wire_finish(buf,
				      mw_wire_put_close(buf, p->sess.close_reason));
	}
	if (p->sess.hello_ack_pending) {
		p->sess.hello_ack_pending = 0;
		ep->ctr.hello_tx++;
		return build_hello(ep, p, MW_PT_HELLO_ACK, buf);
	}
	if (p->sess.hello_pending) {
		p->sess.hello_pending = 0;
		if (!peer_open(p) && tx_wanted(p))
			p->sess.hello_at = now + rto_backoff(ep, p);
		ep->ctr.hello_tx++;
		return build_hello(ep, p, MW_PT_HELLO, buf);
	}
	if (!p->sess.remote_known || p->sess.remote_closed)
		return 0;
	if (p->recv.ack_now && p->sess.confirmed)
		return build_ack(ep, p, buf, cap, 0, now);
	if (!peer_open(p))
		return 0;
	ring_full = p->rtb.pn_next - p->rtb.sent_lo >= sent_cap(ep);
	if ((p->send.probe_data || (p->rtb.in_flight < p->cc.cwnd && !ring_full)) &&
	    !ring_full) {
		s = pick(ep, id, &seg);
		if (s) {
			p->send.probe_data = 0;
			p->send.probe_req = 0;
			return build_data(ep, p, s, seg, buf, cap, now);
		}
	}
	p->send.probe_data = 0;
	if (p->send.probe_req) {
		p->send.probe_req = 0;
		p->send.last_send = now;
		ep->ctr.probes_tx++;
		return build_ack(ep, p, buf, cap, MW_FLAG_ACK_REQ, now);
	}
	return 0;
}

/* send_peer() with the datagram counted. */
static int send_one(struct mw_ep *ep, uint16_t id, uint8_t *buf, uint64_t now)
{
	int len = send_peer(ep, id, buf, ep->cfg.max_datagram, now);

	if (len > 0) {
		if (buf[3] != MW_PT_CLOSE)
			ep->peers[id].sess.announced = 1;
		ep->ctr.pkts_tx++;
		ep->ctr.bytes_tx += (uint64_t)len;
	}
	return len;
}

int mw_ep_send(struct mw_ep *ep, uint64_t now, uint8_t *buf, size_t cap,
	       uint16_t *peer)
{
	uint16_t k, n = ep->cfg.max_peers;
	int len;

	assert(now >= ep->last_now);
	ep->last_now = now;
	if (cap < ep->cfg.max_datagram)
		return MW_ENOSPC;
	for (k = 0; k < n; k++) {
		uint16_t id = (uint16_t)((ep->rr + k) % n);

		if (!ep->peers[id].used)
			continue;
		len = send_one(ep, id, buf, now);
		if (len > 0) {
			ep->rr = (uint16_t)((id + 1) % n);
			*peer = id;
			return len;
		}
	}
	return 0;
}

int mw_ep_send_peer(struct mw_ep *ep, uint16_t peer, uint64_t now,
		    uint8_t *buf, size_t cap)
{
	assert(now >= ep->last_now);
	ep->last_now = now;
	if (!get_peer(ep, peer))
		return MW_ENOENT;
	if (cap < ep->cfg.max_datagram)
		return MW_ENOSPC;
	return send_one(ep, peer, buf, now);
}

size_t mw_ep_max_datagram(const struct mw_ep *ep)
{
	return ep->cfg.max_datagram;
}

/* ---- observation ----------------------------------------------------- */

void mw_ep_counters(const struct mw_ep *ep, struct mw_counters *c)
{
	*c = ep->ctr;
}

uint64_t mw_ep_mem_held(const struct mw_ep *ep)
{
	return ep->mem + ep->rx_mem;
}

uint64_t mw_ep_mem_bound(const struct mw_ep *ep)
{
	const struct mw_ep_config *c = &ep->cfg;
	uint64_t segs = c->max_segs;
	uint64_t per_tx = 2 * c->max_tensor_bytes + 64 +
			  segs * (sizeof(struct mw_seg) + sizeof(struct seg_st));
	uint64_t per_rx = c->max_tensor_bytes + segs * sizeof(struct rx_seg) +
			  segs / 8 + 1;
	uint64_t per_peer = sizeof(struct tx_slot) * c->window +
			    sizeof(struct rx_slot) * c->window +
			    sizeof(struct sent_rec) * sent_cap(ep) +
			    c->window * (per_tx + per_rx);

	/* + the encoder's scratch, kept between submits: 4 bytes an element
	 * and a few more (mw_encode_scratch_size()). */
	return sizeof(struct mw_ep) + c->max_tensor_bytes + 64 +
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
	pi->state = peer_open(p) ? MW_PEER_OPEN :
		    tx_wanted(p) ? MW_PEER_HELLO : MW_PEER_IDLE;
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
	return 0;
}
