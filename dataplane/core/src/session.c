/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * session.c - sessions (PROTOCOL.md 6, 7): HELLO and HELLO_ACK, the
 * identity rules, peer restarts and resets, CLOSE, teardown.
 */
#include <string.h>

#include "ep.h"

/* Forget everything about the current session's transfers. */
void mw_session_reset(struct mw_ep *ep, struct peer *p)
{
	uint32_t i;

	for (i = 0; i < ep->cfg.window; i++) {
		mw_recv_slot_clear(ep, &p->recv.rx[i], 1);
		p->recv.rx[i].pvalid = 0;
	}
	p->recv.deadline_at = NO_TIME;
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
	mw_cc_reset(&p->cc);
	p->send.rto_count = 0;
	p->send.probe_data = 0;
	p->send.probe_req = 0;
	p->rtb.loss_time = NO_TIME;
	p->rtb.loss_ns = NO_TIME;
	p->sess.hello_sent = 0;
	p->sess.announced = 0;
	p->sess.confirmed = 0;
}

/*
 * Tear the session down (PROTOCOL.md 7). A session that was open, or
 * one that timed out, is counted once: sessions_closed or session_resets.
 */
void mw_session_down(struct mw_ep *ep, uint16_t id, int32_t reason,
		     unsigned flags)
{
	struct peer *p = &ep->peers[id];
	int local = !!(flags & SD_LOCAL), keep_queued = !!(flags & SD_KEEP);
	int closing = 0;
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
			mw_send_finish(ep, id, s, reason);
	}
	/* No CLOSE for a session the peer never heard of from us: it would
	 * name a generation never announced (5.5). */
	if (local && p->sess.remote_known && !p->sess.remote_closed &&
	    p->sess.announced) {
		p->sess.close_pending = 1;
		p->sess.close_reason = reason;
		p->sess.close_src = p->sess.local;
		p->sess.close_dst = p->sess.remote;
		closing = 1;
	}
	if (local) {
		/* secure mode: drawn, like every identity of ours (12.2) */
		if (p->sec)
			p->sess.local.gen =
				mw_sec_draw_gen(ep, p->sess.local.gen);
		else
			p->sess.local.gen = p->sess.local.gen + 1
						    ? p->sess.local.gen + 1
						    : 1;
		/* a new identity, a new nonce and keys (12.3) */
		mw_sec_local_changed(ep, p, closing);
	}
	mw_session_reset(ep, p);
	p->sess.hello_at = NO_TIME;
	p->sess.hello_pending = 0;
	p->sess.hello_ack_pending = 0;
	if ((flags & SD_EMIT) || (closing && (flags & SD_EMIT_CLOSE)))
		mw_ep_peer_event(ep, id, MW_EV_SESSION_CLOSED, reason);
	if (tx_wanted(p))
		p->sess.hello_pending = 1;
	for (q = 0; q < ep->cfg.window; q++) {
		struct tx_slot *s = &p->send.tx[q];

		if (s->used) {
			s->next_new = 0;
			s->acked = 0;
			s->ack_cum = 0;
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
	/* Told to the application when a CLOSE goes out: the peer's tensors
	 * in flight fail at its end, so the next session's first tensor may
	 * skip ahead (PROTOCOL.md 7.3). */
	mw_session_down(ep, id, MW_ECANCELED,
			SD_LOCAL | SD_ORDERLY | SD_EMIT_CLOSE);
	return 0;
}

void mw_session_resync(struct mw_ep *ep, struct peer *p, uint64_t now)
{
	if (now < p->sess.resync_at)
		return;
	p->sess.resync_at = now + ep->cfg.rto_min_ns;
	p->sess.hello_pending = 1;
}

int mw_session_on_hello(struct mw_ep *ep, uint16_t id, const struct mw_hdr *h,
			const uint8_t *pkt, size_t len, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct mw_hello hb;
	int rc, dst_ok = ident_eq(&h->dst, &p->sess.local);

	rc = mw_wire_parse_hello(pkt, len, &hb);
	if (rc < 0)
		return mw_ep_drop(ep, MW_DROP_FORMAT, rc);
	/* A HELLO_ACK to an identity we no longer have answers a HELLO of
	 * an earlier generation: stale (6.3). Our current HELLO, if any, is
	 * retried on its timer; nothing else to do. */
	if (h->type == MW_PT_HELLO_ACK && !dst_ok)
		return mw_ep_drop(ep, MW_DROP_STALE, MW_ESTATE);
	if (p->sess.remote_known) {
		int c = mw_ident_cmp(&h->src, &p->sess.remote);

		/* Secure mode: identities are random, they have no order;
		 * another identity that gets here is the peer's new one
		 * (12.3: a proven session only changes by a challenge). */
		if (p->sec && c != 0)
			c = 1;
		if (c < 0 || (c == 0 && p->sess.remote_closed))
			return mw_ep_drop(ep, MW_DROP_STALE, MW_ESTATE);
		if (c > 0) {
			int restarted = h->src.inc != p->sess.remote.inc;
			uint64_t hello_at = p->sess.hello_at;
			/* Secure mode: keys of ours used with the identity we
			 * leave are never derived again (a replayed HELLO of
			 * it must not bring back its sns and replay window):
			 * a new identity and nonce of ours first (12.3). */
			int renew = p->sec && p->sec->used;

			if (restarted) {
				ep->ctr.peer_restarts++;
				mw_ep_peer_event(ep, id, MW_EV_PEER_RESTARTED,
						 MW_ERESET);
			}
			mw_session_down(ep, id, MW_ERESET,
					SD_KEEP | (!restarted && peer_open(p)
							   ? SD_EMIT
							   : 0));
			if (renew) {
				p->sess.local.gen =
					mw_sec_draw_gen(ep, p->sess.local.gen);
				mw_sec_local_changed(ep, p, 0);
			}
			/* A HELLO of ours from our current identity is on
			 * its way (both sides opening at once): whatever
			 * its dst, the peer answers it with a HELLO_ACK to
			 * that identity. Wait for it (retried on its timer)
			 * rather than send another. */
			if (hello_at != NO_TIME && tx_wanted(p) && !renew) {
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
	/* Secure mode: the answer to our HELLO is confirmed with a packet
	 * under the session's keys (12.3), so that a peer that challenged
	 * us sees we are live: our first DATA, or, with nothing to send, an
	 * ACK at once. */
	else if (p->sec && dst_ok && !tx_wanted(p))
		p->recv.ack_now = 1;
	return 0;
}

void mw_session_promote(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct sec_chal *ch = &p->sec->chal;
	int restarted = ch->remote.inc != p->sess.remote.inc;

	if (restarted) {
		ep->ctr.peer_restarts++;
		mw_ep_peer_event(ep, id, MW_EV_PEER_RESTARTED, MW_ERESET);
	}
	mw_session_down(ep, id, MW_ERESET,
			SD_KEEP | (!restarted && peer_open(p) ? SD_EMIT : 0));
	mw_sec_chal_take(ep, p);
	p->sess.remote = ch->remote;
	p->sess.local = ch->local;
	p->sess.remote_known = 1;
	p->sess.remote_closed = 0;
	p->sess.lim = ch->lim;
	if (p->sess.lim.max_datagram > ep->cfg.max_datagram)
		p->sess.lim.max_datagram = ep->cfg.max_datagram;
	p->send.peer_limit = ch->lim.rx_window;
	/* the packet that proved it names our identity: confirmed (6.4) */
	p->sess.confirmed = 1;
	p->sess.hello_pending = 0;
	p->send.rto_count = 0;
	p->send.last_send = now;
	memset(ch, 0, sizeof(*ch));
}

/*
 * Simultaneous close (PROTOCOL.md 7.3): a CLOSE from the peer for the very
 * session we closed ourselves (its src is that session's peer identity,
 * its dst our identity in it) while no new session has opened. Both sides
 * agree the session is over: count it, note the peer closed, drop nothing.
 */
int mw_session_closes_ours(const struct peer *p, const struct mw_hdr *h)
{
	return h->type == MW_PT_CLOSE && p->sess.remote_known &&
	       !p->sess.remote_closed && !p->sess.confirmed &&
	       p->sess.close_src.inc != 0 &&
	       ident_eq(&h->src, &p->sess.remote) &&
	       ident_eq(&h->src, &p->sess.close_dst) &&
	       ident_eq(&h->dst, &p->sess.close_src);
}

int mw_session_on_close(struct mw_ep *ep, uint16_t id, const uint8_t *pkt,
			size_t len)
{
	struct mw_close c;
	int rc = mw_wire_parse_close(pkt, len, &c);

	if (rc < 0)
		return mw_ep_drop(ep, MW_DROP_FORMAT, rc);
	ep->ctr.close_rx++;
	mw_session_down(ep, id, MW_ESHUTDOWN,
			SD_KEEP | SD_EMIT |
				(c.reason == 0 || c.reason == MW_ECANCELED
					 ? SD_ORDERLY
					 : 0));
	ep->peers[id].sess.remote_closed = 1;
	return 0;
}

int mw_session_build_hello(struct mw_ep *ep, struct peer *p, uint8_t type,
			   uint8_t *buf)
{
	return mw_session_build_hello_ids(
		ep, type, &p->sess.local,
		p->sess.remote_known ? &p->sess.remote : NULL, buf);
}

int mw_session_build_hello_ids(struct mw_ep *ep, uint8_t type,
			       const struct mw_ident *src,
			       const struct mw_ident *dst, uint8_t *buf)
{
	struct mw_hello hb;

	memset(&hb, 0, sizeof(hb));
	hb.max_datagram = ep->cfg.max_datagram;
	hb.rx_window = ep->cfg.window;
	hb.max_segs = ep->cfg.max_segs;
	hb.max_tensor_bytes = ep->cfg.max_tensor_bytes;
	hb.caps = (uint16_t)((ep->cfg.hello_caps & ~MW_HELLO_CAP_COMPACT) |
			     MW_HELLO_CAP_DEADLINE);
	if (mw_ep_compact(ep))
		hb.caps |= MW_HELLO_CAP_COMPACT;
	mw_wire_put_hdr(buf, type, 0, src, dst);
	return mw_wire_set_len(buf, mw_wire_put_hello(buf, &hb));
}
