/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtb.c - the sent-packet record: what each packet number carried, what
 * ACKs say of it, when it is declared lost (time threshold and the learnt
 * reordering window, PROTOCOL.md 8.1, 8.2), the retransmission timeout and
 * its probes (8.3, 8.4), and where the congestion controller hears of
 * acknowledgements, losses and spurious losses (8.5).
 */
#include <string.h>

#include "ep.h"

/* An undo of cc.c happened: count it (8.5). */
static void count_undo(struct mw_ep *ep, int kind)
{
	if (kind == MW_CC_EP_RTO)
		ep->ctr.spurious_rtos++;
	else if (kind == MW_CC_EP_LOSS)
		ep->ctr.cc_undos++;
}

static struct tx_slot *tx_by_tid(struct mw_ep *ep, struct peer *p, uint32_t tid)
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
static struct seg_st *rec_live(struct mw_ep *ep, struct peer *p, uint64_t pn,
			       struct tx_slot **sp)
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
		      struct seg_st *g, uint8_t cause, uint64_t now)
{
	uint32_t idx = (uint32_t)(g - s->ss);

	(void)ep;
	if (cause == LOST_FAST) /* the path's loss, not a stall (8.3) */
		p->rtb.loss_ns = now;
	g->state = SEG_LOST;
	g->cause = cause;
	g->prev = (uint32_t)g->pn;
	g->epoch = mw_cc_tag_loss(&p->cc);
	s->lost++;
	if (idx < s->lost_hint)
		s->lost_hint = idx;
	p->rtb.in_flight--;
}

int mw_tail_copy_from_name(const char *name)
{
	static const char *const names[MW_TAIL_COPY_COUNT_] = {
		"off", "on-loss", "always"};
	unsigned i;

	for (i = 0; name && i < MW_TAIL_COPY_COUNT_; i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return MW_EINVAL;
}

/* A tail copy (8.3): the last DATA packet once more, when nothing else
 * is to be sent. Under the default policy only while losses are seen:
 * within 16 smoothed round trips of the last segment declared lost. */
struct tx_slot *mw_rtb_tail_copy(struct mw_ep *ep, struct peer *p,
				 uint64_t now, uint32_t *seg)
{
	uint64_t last = p->rtb.pn_next - 1, rtt;
	struct tx_slot *s;
	struct seg_st *g;

	if (ep->cfg.tail_copy == MW_TAIL_COPY_OFF || p->rtb.pn_next == 0)
		return NULL;
	if (ep->cfg.tail_copy == MW_TAIL_COPY_ON_LOSS) {
		rtt = p->rtt.srtt > MW_RTT_GRANULARITY_NS
			      ? p->rtt.srtt
			      : MW_RTT_GRANULARITY_NS;
		if (p->rtb.loss_ns == NO_TIME || now - p->rtb.loss_ns > 16 * rtt)
			return NULL;
	}
	g = rec_live(ep, p, last, &s);
	if (!g || g->copied) /* a copy is not copied again */
		return NULL;
	*seg = (uint32_t)(g - s->ss);
	return s;
}

/* How long after its send a transmission overtaken by a later one is
 * declared lost: a round trip plus the reordering window, the larger of
 * 1/8 RTT and what the path has shown it reorders (8.2). */
static uint64_t loss_delay(const struct peer *p)
{
	uint64_t r = p->rtt.srtt > p->rtt.latest_rtt ? p->rtt.srtt
						     : p->rtt.latest_rtt;

	r = r + (p->rtb.reo_wnd > r / 8 ? p->rtb.reo_wnd : r / 8);
	return r > MW_RTT_GRANULARITY_NS ? r : MW_RTT_GRANULARITY_NS;
}

/* Longest the learnt reordering window may grow: a window longer than a
 * round trip would only delay the recovery of real losses. */
static uint64_t reo_cap(const struct peer *p)
{
	return p->rtt.srtt > p->rtt.latest_rtt ? p->rtt.srtt
					       : p->rtt.latest_rtt;
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

	if (!p->rtt.has_rtt || p->rtb.pn_next - pn > sent_cap(ep) ||
	    pn >= p->rtb.pn_next)
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
	uint64_t period = 16 * (p->rtt.srtt > MW_RTT_GRANULARITY_NS
					? p->rtt.srtt
					: MW_RTT_GRANULARITY_NS);

	if (p->rtb.reo_wnd == 0 || now - p->rtb.reo_stamp < period)
		return;
	p->rtb.reo_wnd -= p->rtb.reo_wnd / 4 ? p->rtb.reo_wnd / 4
					     : p->rtb.reo_wnd;
	p->rtb.reo_stamp = now;
}

void mw_rtb_detect_losses(struct mw_ep *ep, struct peer *p, uint64_t now)
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
		if (!p->rtb.has_largest_acked ||
		    p->rtb.sent_lo >= p->rtb.largest_acked)
			break;
		t = p->rtb.sent[p->rtb.sent_lo % sent_cap(ep)].sent_ns +
		    loss_delay(p);
		if (now >= t) {
			mw_cc_on_loss(&p->cc,
				      p->rtb.sent[p->rtb.sent_lo % sent_cap(ep)]
					      .sent_ns,
				      now, p->rtb.pn_next);
			mark_lost(ep, p, s, g, LOST_FAST, now);
			p->rtb.sent_lo++;
			continue;
		}
		p->rtb.loss_time = t;
		break;
	}
}

void mw_rtb_on_sent(struct peer *p, struct sent_rec *r, uint64_t now)
{
	int from_idle = p->rtb.in_flight == 0;

	if (from_idle) { /* a new flight: the interval starts */
		p->rtb.delivered_ns = now;
		p->rtb.first_sent_ns = now;
	}
	r->delivered = p->rtb.segs_acked;
	r->delivered_ns = p->rtb.delivered_ns;
	r->first_sent_ns = p->rtb.first_sent_ns;
	mw_cc_on_sent(&p->cc, now, from_idle);
}

/*
 * A delivery-rate sample from the newly acknowledged packet pn, the
 * latest sent that this ACK names (docs/CC.md): what was delivered since
 * it left, over the longer of its send interval and its ACK interval (an
 * interval shorter than the min RTT would measure ACK compression, not
 * the path).
 */
static void rate_sample(struct mw_ep *ep, struct peer *p, uint64_t pn,
			uint64_t now, int has_rtt)
{
	const struct sent_rec *r = &p->rtb.sent[pn % sent_cap(ep)];
	struct mw_cc_sample rs;
	uint64_t snd = r->sent_ns - r->first_sent_ns;
	uint64_t ack = now - r->delivered_ns;

	rs.now = now;
	rs.prior_delivered = r->delivered;
	rs.total_delivered = p->rtb.segs_acked;
	rs.delivered = p->rtb.segs_acked - r->delivered;
	rs.interval_ns = snd > ack ? snd : ack;
	if (r->sent_ns < r->first_sent_ns || now < r->delivered_ns ||
	    rs.interval_ns < p->rtt.min_rtt)
		rs.interval_ns = 0;
	rs.rtt_ns = has_rtt ? p->rtt.latest_rtt : 0;
	rs.in_flight = p->rtb.in_flight;
	p->rtb.first_sent_ns = r->sent_ns;
	mw_cc_on_sample(&p->cc, &rs);
}

/* What an ACK being processed says beyond its blocks. */
struct ack_ctx {
	uint64_t now;
	uint64_t largest; /* its largest_pn, extended to 64 bits */
	uint8_t has_largest;
};

static uint32_t ack_seg(struct mw_ep *ep, struct peer *p, struct tx_slot *s,
			uint32_t i, const struct ack_ctx *ac)
{
	struct seg_st *g = &s->ss[i];

	switch (g->state) {
	case SEG_FLIGHT:
		/* A retransmission newer than anything the receiver reports
		 * cannot be what it holds: the lost one arrived after all.
		 * (Of a retransmission and its tail copy, the first.) */
		if (g->cause != LOST_NONE && ac && ac->has_largest &&
		    g->pn - g->copied > ac->largest) {
			if (g->cause == LOST_FAST)
				reo_spurious(
					ep, p,
					p->rtb.pn_next -
						(uint32_t)((uint32_t)p->rtb
								   .pn_next -
							   g->prev),
					ac->now);
			count_undo(ep, mw_cc_spurious_loss(&p->cc, g->epoch,
							   g->cause));
		}
		/* A transmission sent before the timeout and never declared
		 * lost reached the receiver: the flight was alive, only late
		 * (F-RTO): the timeout was spurious. */
		if (p->cc.undo_armed == MW_CC_EP_RTO && ac &&
		    g->pn - g->copied < p->cc.undo_pn)
			count_undo(ep, mw_cc_undo(&p->cc));
		p->rtb.in_flight--;
		g->state = SEG_ACKED;
		s->acked++;
		p->rtb.segs_acked++;
		return 1;
	case SEG_LOST:
		if (g->cause == LOST_FAST && ac)
			reo_spurious(ep, p, g->pn, ac->now);
		if (ac)
			count_undo(ep, mw_cc_spurious_loss(&p->cc, g->epoch,
							   g->cause));
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
	for (i = s->ack_cum; i < s->seg_cnt; i++)
		n += ack_seg(ep, p, s, i, ac);
	mw_send_finish(ep, id, s, 0);
	return n;
}

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

/* One ACK block (5.4): the segments it names, or the whole tensor.
 * Returns the segments newly acknowledged that were in flight. */
static uint32_t ack_block(struct mw_ep *ep, uint16_t id,
			  const struct mw_ack_block *b,
			  const struct ack_ctx *ac)
{
	struct peer *p = &ep->peers[id];
	struct tx_slot *s = tx_by_tid(ep, p, b->tid);
	uint32_t j, lim, newly = 0;

	if (!s || (b->flags & MW_ACKB_PARTIAL))
		return 0; /* finished already, or never ours; PARTIAL blocks
			     are applied apart, first (ack_partial()) */
	if (b->flags & MW_ACKB_COMPLETE)
		return tx_complete(ep, id, s, ac);
	lim = b->seg_cum < s->seg_cnt ? b->seg_cum : s->seg_cnt;
	/* [0, ack_cum) is acknowledged already: ack_seg() would do nothing
	 * there, and walking it again on every ACK costs O(segments). */
	for (j = s->ack_cum; j < lim; j++)
		newly += ack_seg(ep, p, s, j, ac);
	for (j = 0; j < 8u * b->bitmap_len; j++) {
		uint64_t seg = (uint64_t)b->seg_cum + 1 + j;

		if (seg >= s->seg_cnt)
			break;
		if (b->bitmap[j / 8] >> (j % 8) & 1)
			newly += ack_seg(ep, p, s, (uint32_t)seg, ac);
	}
	while (s->ack_cum < s->seg_cnt &&
	       s->ss[s->ack_cum].state == SEG_ACKED)
		s->ack_cum++;
	if (s->acked == s->seg_cnt)
		tx_complete(ep, id, s, ac);
	return newly;
}

/* A PARTIAL block (9.1): the peer delivered the tensor at its deadline.
 * It is finished (TX_DONE, partial) and nothing of it is sent again; its
 * segments still in flight leave the flight without counting as
 * delivered. Ignored for a tensor sent without a deadline. */
static void ack_partial(struct mw_ep *ep, uint16_t id,
			const struct mw_ack_block *b)
{
	struct peer *p = &ep->peers[id];
	struct tx_slot *s = tx_by_tid(ep, p, b->tid);
	uint32_t j;

	if (!s || !s->meta.deadline_ms)
		return;
	for (j = s->ack_cum; j < s->seg_cnt; j++)
		if (s->ss[j].state == SEG_FLIGHT)
			p->rtb.in_flight--;
	s->partial = 1;
	ep->ctr.partial_tx++;
	mw_send_finish(ep, id, s, 0);
}

int mw_rtb_on_ack(struct mw_ep *ep, uint16_t id, const struct mw_hdr *h,
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
		return mw_ep_drop(ep, MW_DROP_FORMAT, rc);
	if (sdiff(a.cum_tid, p->send.tid_next) > 0)
		return mw_ep_drop(ep, MW_DROP_ACK, MW_ERANGE);
	if (a.has_largest) {
		uint32_t d = (uint32_t)p->rtb.pn_next - a.largest_pn;

		if (d == 0 || d > p->rtb.pn_next)
			return mw_ep_drop(ep, MW_DROP_ACK, MW_ERANGE);
		largest = p->rtb.pn_next - d;
	}
	ac.now = now;
	ac.largest = largest;
	ac.has_largest = a.has_largest;
	acked0 = p->rtb.segs_acked;
	sent0 = ep->ctr.tensors_sent;
	largest_new = a.has_largest && (!p->rtb.has_largest_acked ||
					largest > p->rtb.largest_acked);
	ep->ctr.acks_rx++;
	if (h->flags & MW_FLAG_ACK_REQ)
		p->recv.ack_now = 1;
	p->send.peer_limit = a.rx_limit;

	/* PARTIAL blocks first: their tensors lie below cum_tid, which
	 * would otherwise confirm them as complete (9.1). */
	{
		struct mw_ack pa = a;

		while (mw_wire_ack_block(&pa, &b) > 0)
			if (b.flags & MW_ACKB_PARTIAL)
				ack_partial(ep, id, &b);
	}
	/* cumulative part: every tensor below cum_tid is complete */
	for (i = 0; i < w; i++) {
		struct tx_slot *s = &p->send.tx[i];

		if (s->used && s->active && sdiff(s->tid, a.cum_tid) < 0) {
			newly += tx_complete(ep, id, s, &ac);
		}
	}
	while (mw_wire_ack_block(&a, &b) > 0)
		newly += ack_block(ep, id, &b, &ac);
	if (p->rtb.segs_acked != acked0)
		p->rtb.delivered_ns = now;
	if (largest_new) {
		if (p->rtb.pn_next - largest <= sent_cap(ep)) {
			uint64_t sent =
				p->rtb.sent[largest % sent_cap(ep)].sent_ns;

			if (now >= sent)
				mw_rtt_sample(&p->rtt, now - sent,
					      (uint64_t)a.ack_delay_us * 1000,
					      ep->cfg.ack_delay_ns, now);
			rate_sample(ep, p, largest, now, now >= sent);
		}
		p->rtb.largest_acked = largest;
		p->rtb.has_largest_acked = 1;
	}
	if (newly)
		mw_cc_on_ack(&p->cc, newly, now);
	reo_decay(p, now);
	mw_rtb_detect_losses(ep, p, now);
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

void mw_rtb_on_timeout(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = &ep->peers[id];

	ep->ctr.rto_events++;
	if (++p->send.rto_count > ep->cfg.max_retries) {
		mw_session_down(ep, id, MW_ETIMEDOUT, SD_LOCAL | SD_EMIT);
		return;
	}
	if (p->rtb.in_flight) {
		mw_cc_on_timeout(&p->cc, p->send.rto_count == 1, now,
				 p->rtb.pn_next);
		/* The oldest unresolved transmission is declared lost and
		 * resent as a probe, whatever the congestion window. */
		while (p->rtb.sent_lo < p->rtb.pn_next) {
			struct tx_slot *s;
			struct seg_st *g = rec_live(ep, p, p->rtb.sent_lo, &s);

			p->rtb.sent_lo++;
			if (g) {
				mark_lost(ep, p, s, g, LOST_RTO, now);
				break;
			}
		}
		p->send.probe_data = 1;
	} else {
		/* Nothing in flight but data waiting: the peer's window is
		 * shut (or we are starved); ask for a fresh ACK. */
		p->send.probe_req = 1;
		if (mw_send_pending(ep, p))
			p->send.probe_data = 1;
	}
	p->send.last_send = now; /* re-armed by what is sent next */
}
