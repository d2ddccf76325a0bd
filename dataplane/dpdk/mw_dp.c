/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK side of the loop: RX burst -> (capture, faults) -> mw_net_parse
 * -> ARP or mw_ep_recv; mw_loop_step (core timers, events -> source, the
 * phases); ARP requests; pull datagrams from the core -> headers ->
 * (faults, capture) -> TX buffer, drained when full or on a timer. One TSC
 * read per iteration. The loop's order and phases are mw_loop.h's.
 */
#include "dp_int.h"

/* ---- TX ----------------------------------------------------------------- */

static void tx_out(struct mw_dp *dp, struct rte_mbuf *m, uint64_t now)
{
	if (dp->txq_n == TXQ_CAP) {
		dp->c.tx_queue_full_drop++;
		rte_pktmbuf_free(m);
		return;
	}
	if (dp->cap)
		mw_capture_mbuf(dp->cap, m, now);
	dp->c.tx_frames++;
	dp->c.tx_bytes += rte_pktmbuf_pkt_len(m);
	dp->txq[dp->txq_n++] = m;
}

static void flip_mbuf_bit(struct rte_mbuf *m, uint64_t bit)
{
	uint64_t off = bit / 8;
	for (struct rte_mbuf *s = m; s; s = s->next) {
		if (off < s->data_len) {
			mw_fault_flip(rte_pktmbuf_mtod(s, uint8_t *),
				      (off * 8) + bit % 8);
			return;
		}
		off -= s->data_len;
	}
}

/* Onto the delay line (--delay-ms), or out now. A full line drops the
 * frame, as a full queue would (counted: fault.delay.overflow). */
static void tx_line(struct mw_dp *dp, struct rte_mbuf *m, uint64_t now)
{
	if (!dp->dtx.slot) {
		tx_out(dp, m, now);
		return;
	}
	if (mw_delay_push(&dp->dtx, m, now))
		rte_pktmbuf_free(m);
}

/* Frames whose time has come, as many as the TX buffer has room for
 * (the rest wait for the next turn, in order). */
static void tx_release_delayed(struct mw_dp *dp, uint64_t now, bool all)
{
	void *h[MW_DP_BURST];
	uint32_t n;
	do {
		uint32_t room = TXQ_CAP - dp->txq_n;
		n = mw_delay_pop(&dp->dtx, now, all, h,
				 room < MW_DP_BURST ? room : MW_DP_BURST);
		for (uint32_t i = 0; i < n; i++)
			tx_out(dp, h[i], now);
	} while (n == MW_DP_BURST);
}

/* Send one frame through the TX fault injector and the delay line. */
static void tx_frame(struct mw_dp *dp, struct rte_mbuf *m, uint64_t now)
{
	if (!dp->fault_tx_on) {
		tx_line(dp, m, now);
		return;
	}
	struct mw_fault_verdict v;
	mw_fault_decide(&dp->ftx, rte_pktmbuf_pkt_len(m), &v);
	if (v.action == MW_FAULT_DROP) {
		rte_pktmbuf_free(m);
		return;
	}
	if (v.flip_bit >= 0)
		flip_mbuf_bit(m, (uint64_t)v.flip_bit);
	if (v.dup) {
		rte_mbuf_refcnt_update(m, 1);
		tx_line(dp, m, now);
	}
	if (v.action == MW_FAULT_HOLD && mw_fault_hold(&dp->ftx, m, now) == 0)
		return;
	tx_line(dp, m, now);
}

static void tx_release_held(struct mw_dp *dp, uint64_t now, bool all)
{
	void *h[MW_FAULT_HOLD_MAX];
	unsigned n = mw_fault_release(&dp->ftx, now, all, h, MW_FAULT_HOLD_MAX);
	for (unsigned i = 0; i < n; i++)
		tx_line(dp, h[i], now);
}

static void tx_flush(struct mw_dp *dp)
{
	if (dp->shard == 0)
		mw_dp_txring_pull(dp);
	if (dp->txq_n == 0 || !dp->port_running)
		return;
	mw_dp_prof_begin(&dp->prof);
	/* no TX queue of its own: lcore 0 sends for it */
	uint16_t sent = dp->tx_via0
				? (uint16_t)rte_ring_mp_enqueue_burst(
					  dp->grp->txring, (void **)dp->txq,
					  dp->txq_n, NULL)
				: rte_eth_tx_burst(dp->port, dp->txq_id,
						   dp->txq,
						   (uint16_t)dp->txq_n);
	mw_dp_prof_end(&dp->prof, MW_DP_ST_tx_burst);
	if (sent < dp->txq_n) {
		/* Back-pressure: keep the rest, in order, for the next try. */
		dp->c.tx_ring_full++;
		memmove(dp->txq, dp->txq + sent,
			(dp->txq_n - sent) * sizeof(dp->txq[0]));
	}
	dp->txq_n -= sent;
}

static struct rte_mbuf *alloc_frame(struct mw_dp *dp)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->pool);
	if (!m)
		dp->c.tx_nombuf++;
	return m;
}

static void send_arp_request(struct mw_dp *dp, struct mw_dp_peer *p,
			     uint64_t now)
{
	struct rte_mbuf *m = alloc_frame(dp);
	if (!m)
		return;
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	int n = mw_net_build_arp_request(&dp->net, p->cfg.ip, d,
					 rte_pktmbuf_tailroom(m));
	if (n < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	dp->c.arp_req_tx++;
	mw_neigh_sent(&p->nb);
	tx_frame(dp, m, now);
}

static void arp_timers(struct mw_dp *dp, uint64_t now)
{
	for (unsigned i = 0; i < dp->nslots; i++)
		if (dp->peer[i].used && mw_neigh_poll(&dp->peer[i].nb, now))
			send_arp_request(dp, &dp->peer[i], now);
}

/* A MAC for p from ARP; false if p's is static. */
static bool peer_learn(struct mw_dp_peer *p, const uint8_t mac[6])
{
	if (!mw_neigh_learn(&p->nb, mac))
		return false;
	memcpy(p->flow.dst_mac, p->nb.mac, 6);
	return true;
}

/*
 * One datagram of peer slot i into the TX buffer (mw_rr_fn): 1 if one was
 * pulled, 0 if the peer had none, -1 to stop (TX buffer full, no mbuf).
 * A peer whose MAC is not known yet gets its datagrams pulled all the
 * same and dropped (counted in tx_no_neigh), as a link that loses them
 * would: the core's timers, retransmissions and retry budget run as for
 * any silent peer, so a peer that never answers ARP ends in MW_ETIMEDOUT
 * like a dead one, and one that answers late gets the next
 * retransmission.
 */
static int tx_pull_one(void *ctx, unsigned i)
{
	struct mw_dp *dp = ctx;
	struct mw_dp_peer *p = &dp->peer[i];
	const size_t hl = MW_NET_HDR_LEN(dp->net.vlan != MW_NET_NO_VLAN);
	const uint64_t now = dp->tx_now;
	if (!p->used)
		return 0;
	if (dp->txq_n >= MW_DP_BURST)
		return -1;
	if (!mw_neigh_resolved(&p->nb)) {
		/* dp->lin is free outside rx_frame() */
		int n = mw_ep_send_peer(dp->ep, p->ep_peer, now, dp->lin,
					sizeof dp->lin);
		if (n > 0) {
			dp->c.tx_no_neigh++;
			return 1;
		}
		if (n < 0)
			dp->c.core_send_errors++;
		return 0;
	}
	if (!dp->spare && !(dp->spare = alloc_frame(dp)))
		return -1;
	struct rte_mbuf *m = dp->spare;
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	size_t room = rte_pktmbuf_tailroom(m);
	mw_dp_prof_begin(&dp->prof);
	int n = mw_ep_send_peer(dp->ep, p->ep_peer, now, d + hl, room - hl);
	if (n <= 0) {
		mw_dp_prof_end(&dp->prof, MW_DP_ST_tx_none);
		if (n < 0)
			dp->c.core_send_errors++;
		return 0;
	}
	mw_dp_prof_end(&dp->prof, MW_DP_ST_tx_core);
	dp->spare = NULL;
	/* A peer that accepts checksum 0 gets it: its CRC32C covers the
	 * packet (PROTOCOL.md 2, 5.1). */
	unsigned fl = dp->tx_flags;
	if (mw_ep_peer_caps(dp->ep, p->ep_peer) & MW_HELLO_CAP_UDP_CSUM0) {
		fl = MW_NET_TX_UDP_CKSUM_ZERO | (fl & MW_NET_TX_IP_CKSUM_HW);
		dp->c.tx_udp_cksum0++;
	}
	mw_dp_prof_begin(&dp->prof);
	int len = mw_net_build_udp(&p->flow, d, room, (size_t)n, dp->ip_id++,
				   fl);
	mw_dp_prof_end(&dp->prof, MW_DP_ST_tx_net);
	if (len < 0) {
		dp->c.core_send_errors++;
		rte_pktmbuf_free(m);
		return 1;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (fl & (MW_NET_TX_IP_CKSUM_HW | MW_NET_TX_UDP_CKSUM_HW)) {
		m->l2_len = (uint16_t)(hl - MW_NET_IP4_HLEN - MW_NET_UDP_HLEN);
		m->l3_len = MW_NET_IP4_HLEN;
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		if (fl & MW_NET_TX_UDP_CKSUM_HW)
			m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
	}
	p->pc.tx_frames++;
	p->pc.tx_bytes += (uint64_t)len;
	tx_frame(dp, m, now);
	return 1;
}

/* Pull datagrams from the core while the TX buffer has room, one per
 * peer with something to send per turn (mw_rr.h: no peer with pending
 * work waits more than one datagram of each other peer). */
static void tx_pull(struct mw_dp *dp, uint64_t now)
{
	dp->tx_now = now;
	mw_rr_run(&dp->tx_rr, dp->nslots, MW_DP_BURST, tx_pull_one, dp);
}

/* ---- RX ----------------------------------------------------------------- */

/* Handle one received frame; the caller frees it. learn_only: an ARP
 * frame another I/O lcore answered (learn its MAC, send nothing). */
static void rx_frame(struct mw_dp *dp, struct rte_mbuf *m, uint64_t now,
		     bool learn_only)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	const uint8_t *d;
	if (m->nb_segs == 1) {
		d = rte_pktmbuf_mtod(m, const uint8_t *);
	} else {
		if (len > sizeof dp->lin) {
			dp->c.rx_oversize++;
			return;
		}
		d = rte_pktmbuf_read(m, 0, len, dp->lin);
		dp->c.rx_linearized++;
	}
	unsigned fl = 0;
	if (dp->rx_cksum_hw) {
		if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
		    RTE_MBUF_F_RX_IP_CKSUM_GOOD)
			fl |= MW_NET_RX_IP_CKSUM_GOOD;
		if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
		    RTE_MBUF_F_RX_L4_CKSUM_GOOD)
			fl |= MW_NET_RX_UDP_CKSUM_GOOD;
	}
	struct mw_net_pkt p;
	struct mw_dp_peer *peer;
	mw_dp_prof_begin(&dp->prof);
	int cls = mw_net_parse(&dp->net, d, len, fl, &p);
	mw_dp_prof_end(&dp->prof, MW_DP_ST_rx_net);
	switch (cls) {
	case MW_NET_CLASS_UDP: {
		dp->c.rx_udp++;
		const uint8_t *u = d + p.payload_off;
		peer = mw_dp_peer_find(dp, p.src_ip, p.src_port);
		if (!peer) {
			dp->c.rx_unknown_peer++;
			if (dp->cfg.accept_max)
				mw_dp_peer_accept(dp, &p, u, len, now);
			return;
		}
		peer->pc.rx_frames++;
		peer->pc.rx_bytes += len;
		mw_dp_prof_begin(&dp->prof);
		if (mw_ep_recv(dp->ep, peer->ep_peer, u, p.payload_len, now) ==
		    0) {
			dp->c.rx_core_accepted++;
			peer->last_rx_ns = now;
			/* Authenticated: its source MAC is the peer's, and
			 * ARP no longer moves it (PROTOCOL.md 12.7). */
			if (dp->cfg.ep.sec_mode &&
			    mw_neigh_confirm(&peer->nb, p.src_mac)) {
				memcpy(peer->flow.dst_mac, peer->nb.mac, 6);
				dp->c.neigh_confirmed++;
			}
		} else
			dp->c.rx_core_dropped++;
		mw_dp_prof_end(&dp->prof,
			       p.payload_len > MW_OFF_TYPE &&
					       mw_ptype_is_data(u[MW_OFF_TYPE])
				       ? MW_DP_ST_rx_data
				       : MW_DP_ST_rx_ctrl);
		return;
	}
	case MW_NET_CLASS_ARP_REQ: {
		dp->c.arp_req_rx++;
		/* A peer asking for us tells us its MAC too. */
		peer = mw_dp_peer_find_ip(dp, p.src_ip);
		if (peer)
			peer_learn(peer, p.arp_sha);
		if (learn_only)
			return;
		struct rte_mbuf *r = alloc_frame(dp);
		if (!r)
			return;
		int n = mw_net_build_arp_reply(&dp->net, &p,
					       rte_pktmbuf_mtod(r, uint8_t *),
					       rte_pktmbuf_tailroom(r));
		if (n < 0) {
			rte_pktmbuf_free(r);
			return;
		}
		r->data_len = (uint16_t)n;
		r->pkt_len = (uint32_t)n;
		dp->c.arp_reply_tx++;
		tx_frame(dp, r, now);
		return;
	}
	case MW_NET_CLASS_ARP_REPLY:
		dp->c.arp_reply_rx++;
		peer = mw_dp_peer_find_ip(dp, p.src_ip);
		if ((!peer || !peer_learn(peer, p.arp_sha)) && !learn_only)
			dp->c.arp_reply_ignored++;
		return;
	default:
		dp->c.net_drop[p.drop]++;
		return;
	}
}

static void rx_with_faults(struct mw_dp *dp, struct rte_mbuf *m,
			   uint64_t now)
{
	if (!dp->fault_rx_on) {
		rx_frame(dp, m, now, false);
		rte_pktmbuf_free(m);
		return;
	}
	struct mw_fault_verdict v;
	mw_fault_decide(&dp->frx, rte_pktmbuf_pkt_len(m), &v);
	if (v.action == MW_FAULT_DROP) {
		rte_pktmbuf_free(m);
		return;
	}
	if (v.flip_bit >= 0) {
		flip_mbuf_bit(m, (uint64_t)v.flip_bit);
		/* Hardware checked the frame before the flip. */
		m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK |
				 RTE_MBUF_F_RX_L4_CKSUM_MASK);
	}
	if (v.dup)
		rx_frame(dp, m, now, false);
	if (v.action == MW_FAULT_HOLD && mw_fault_hold(&dp->frx, m, now) == 0)
		return;
	rx_frame(dp, m, now, false);
	rte_pktmbuf_free(m);
}

static void rx_release_held(struct mw_dp *dp, uint64_t now, bool all)
{
	void *h[MW_FAULT_HOLD_MAX];
	unsigned n = mw_fault_release(&dp->frx, now, all, h, MW_FAULT_HOLD_MAX);
	for (unsigned i = 0; i < n; i++) {
		if (!all)
			rx_frame(dp, h[i], now, false);
		rte_pktmbuf_free(h[i]);
	}
}

/* Frames of this lcore's peers from its inbox (received by it or by
 * another I/O lcore), two bursts at most. */
static unsigned rx_inbox(struct mw_dp *dp, uint64_t now)
{
	struct rte_mbuf *pkts[2 * MW_DP_BURST];
	bool learn[2 * MW_DP_BURST];
	unsigned n = mw_dp_inbox(dp, pkts, learn, MW_DP_BURST);
	if (n == MW_DP_BURST)
		n += mw_dp_inbox(dp, pkts + n, learn + n, MW_DP_BURST);
	dp->c.handoff_in += n;
	for (unsigned i = 0; i < n; i++) {
		if (learn[i]) {
			rx_frame(dp, pkts[i], now, true);
			rte_pktmbuf_free(pkts[i]);
		} else {
			rx_with_faults(dp, pkts[i], now);
		}
	}
	return n;
}

/*
 * One RX burst: each frame to the loop, or (several I/O lcores) to its
 * owner's inbox. With several lcores the queue is drained up to
 * RX_DRAIN_BURSTS bursts a turn: handing a frame on is cheap, and a
 * peer whose frames land on a busy lcore's queue must not wait for that
 * lcore's own work (its round trip, hence its rate, would suffer).
 */
#define RX_DRAIN_BURSTS 4u

static unsigned rx_burst(struct mw_dp *dp, uint64_t now, bool many)
{
	struct rte_mbuf *pkts[MW_DP_BURST];
	uint64_t t = mw_dp_prof_now(&dp->prof);
	uint16_t n = rte_eth_rx_burst(dp->port, dp->rxq, pkts, MW_DP_BURST);
	if (n)
		mw_dp_prof_add(&dp->prof, MW_DP_ST_rx_burst, t);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		dp->c.rx_frames++;
		dp->c.rx_bytes += rte_pktmbuf_pkt_len(m);
		if (dp->cap)
			mw_capture_mbuf(dp->cap, m, now);
		if (many && mw_dp_handoff(dp, m))
			continue;
		rx_with_faults(dp, m, now);
	}
	return n;
}

static unsigned rx_poll(struct mw_dp *dp, uint64_t now)
{
	const bool many = dp->grp->n > 1;
	unsigned got = 0;
	if (likely(dp->port_running && dp->polls_rx)) {
		unsigned b = 0, n;
		do
			got += n = rx_burst(dp, now, many);
		while (many && n == MW_DP_BURST && ++b < RX_DRAIN_BURSTS);
	}
	if (many)
		got += rx_inbox(dp, now);
	if (got)
		mw_loop_mark_rx(&dp->loop, now);
	return got;
}

/* ---- events ------------------------------------------------------------- */

static uint64_t meta_bytes(const struct mw_tensor_meta *m)
{
	uint64_t n = m->ndim ? 1 : 0;
	for (unsigned i = 0; i < m->ndim && i < MW_WIRE_MAX_DIMS; i++)
		n *= m->dims[i];
	return n * mw_dtype_size(m->dtype);
}

/* The data plane's own reaction to a core event (mw_loop's hook; the
 * source gets the event next). */
static void on_event(void *ctx, const struct mw_event *ev, uint64_t now)
{
	struct mw_dp *dp = ctx;
	struct mw_dp_peer *p = mw_dp_peer_by_ep(dp, ev->peer);
	struct mw_dp_peer_ctr none = {0}; /* a peer reclaimed meanwhile */
	struct mw_dp_peer_ctr *pc = p ? &p->pc : &none;
	switch (ev->type) {
	case MW_EV_RX_TENSOR:
		dp->c.tensors_rx++;
		dp->c.dense_bytes_rx += ev->bytes;
		pc->tensors_rx++;
		pc->dense_bytes_rx += ev->bytes;
		break;
	case MW_EV_TX_DONE:
		dp->c.tensors_tx_done++;
		dp->c.dense_bytes_tx += meta_bytes(&ev->meta);
		pc->tensors_tx_done++;
		pc->dense_bytes_tx += meta_bytes(&ev->meta);
		break;
	case MW_EV_TX_FAILED:
		dp->c.tensors_tx_failed++;
		pc->tensors_tx_failed++;
		break;
	case MW_EV_PEER_RESTARTED:
	case MW_EV_SESSION_CLOSED:
		if (ev->type == MW_EV_PEER_RESTARTED)
			pc->restarts++;
		else
			pc->sessions_closed++;
		/* A restarted peer may have a new MAC (a memif port's is
		 * random per process); one that went silent may have
		 * moved. */
		if ((ev->type == MW_EV_PEER_RESTARTED ||
		     ev->reason == MW_ETIMEDOUT) &&
		    p)
			mw_neigh_refresh(&p->nb, now);
		break;
	default:
		break;
	}
}

/* ---- status ------------------------------------------------------------- */

static uint64_t fault_drops(const struct mw_fault *f)
{
	return f->st.dropped + f->st.burst_dropped;
}

static uint64_t net_drops(const struct mw_dp *dp)
{
	uint64_t s = dp->c.rx_unknown_peer;
	for (unsigned i = 0; i < MW_NET_DROP_COUNT_; i++)
		s += dp->c.net_drop[i];
	return s;
}

static void status_line(struct mw_dp *dp, uint64_t now)
{
	struct mw_counters k;
	mw_ep_counters(dp->ep, &k);
	double dt = (double)(now - dp->status_last_ns) / 1e9;
	if (dt <= 0)
		return;
	const struct mw_dp_counters *a = &dp->c, *b = &dp->status_prev;
	uint64_t drops = net_drops(dp) + k.drops + fault_drops(&dp->frx) +
			 fault_drops(&dp->ftx) + dp->dtx.st.overflow;
	double wire = (double)(a->rx_bytes - b->rx_bytes + a->tx_bytes -
			       b->tx_bytes) * 8 / dt / 1e9;
	double dense = (double)(a->dense_bytes_rx - b->dense_bytes_rx +
				a->dense_bytes_tx - b->dense_bytes_tx) *
		       8 / dt / 1e9;
	char extra[160] = "";
	if (dp->src->status)
		dp->src->status(dp->src->ctx, extra, sizeof extra);
	unsigned unresolved = 0;
	for (unsigned i = 0; i < dp->nslots; i++)
		unresolved += dp->peer[i].used &&
			      !mw_neigh_resolved(&dp->peer[i].nb);
	/* datagrams for a peer whose MAC is unknown, in the interval */
	char neigh[64] = "";
	if (a->tx_no_neigh != b->tx_no_neigh)
		snprintf(neigh, sizeof neigh, " no-neigh %" PRIu64,
			 a->tx_no_neigh - b->tx_no_neigh);
	uint64_t auth = k.drop[MW_DROP_AUTH] + k.drop[MW_DROP_AUTH_SESSION] +
			k.drop[MW_DROP_REPLAY];
	char who[24] = "";
	if (dp->grp->n > 1)
		snprintf(who, sizeof who, "lcore %u ", dp->shard);
	fprintf(stderr,
		"[maskwire] %s%s%6.1fs tx %.0f t/s rx %.0f t/s wire %.3f Gbit/s "
		"dense-eq %.3f Gbit/s retrans %" PRIu64 " drops %" PRIu64
		" auth-fail %" PRIu64 "%s%s%s%s%s\n",
		who, dp->cfg.ep.sec_mode ? ""
				    : "PLAIN (UNAUTHENTICATED, UNENCRYPTED) ",
		(double)(now - dp->start_ns) / 1e9,
		(double)(a->tensors_tx_done - b->tensors_tx_done) / dt,
		(double)(a->tensors_rx - b->tensors_rx) / dt, wire, dense,
		k.retrans - dp->status_prev_retrans,
		drops - dp->status_prev_drops, auth, neigh,
		dp->link_up ? "" : " (link down)",
		unresolved ? " (resolving peer MAC)" : "", extra[0] ? " | " : "",
		extra);
	dp->status_prev = dp->c;
	dp->status_prev_retrans = k.retrans;
	dp->status_prev_drops = drops;
	dp->status_last_ns = now;
}

/* ---- loop --------------------------------------------------------------- */

/*
 * Read the link status on a timer. Going down is only reported; coming
 * back up, learned peer MACs are checked again by ARP (a memif peer that
 * restarted has a new one). A port that does not reconnect by itself
 * (caps.relink: a net_memif client, whose server may have been
 * restarted) is stopped and started again while its link stays down,
 * backing off from RELINK_MIN_NS to RELINK_MAX_NS between refused tries
 * and waiting RELINK_MAX_NS after one that connected.
 */
static void link_watch(struct mw_dp *dp, uint64_t now)
{
	if (dp->shard) {
		/* lcore 0 watches; the others follow its restarts */
		mw_dp_follow_port(dp);
		return;
	}
	if (now < dp->link_next_ns)
		return;
	dp->link_next_ns = now + LINK_CHECK_NS;
	struct rte_eth_link l;
	memset(&l, 0, sizeof l);
	/* A port that cannot tell counts as up. */
	bool up = rte_eth_link_get_nowait(dp->port, &l) != 0 ||
		  l.link_status == RTE_ETH_LINK_UP;
	if (up != dp->link_up) {
		dp->link_up = up;
		fprintf(stderr, "maskwire: port %u link %s\n", dp->port,
			up ? "up" : "down");
		if (up) {
			dp->c.link_ups++;
			for (unsigned i = 0; i < dp->nslots; i++)
				if (dp->peer[i].used)
					mw_neigh_refresh(&dp->peer[i].nb, now);
		} else {
			dp->c.link_downs++;
			dp->relink_ns = now + RELINK_MIN_NS;
			dp->relink_wait_ns = RELINK_MIN_NS;
		}
	}
	if (up || !dp->caps.relink || now < dp->relink_ns)
		return;
	dp->c.port_restarts++;
	int rc = dp->grp->n > 1 ? mw_dp_group_restart(dp)
				: mw_port_restart(dp->port, dp->port_running);
	dp->port_running = rc == 0;
	if (rc && dp->c.port_restart_errors++ == 0)
		fprintf(stderr,
			"maskwire: port %u: cannot reconnect yet (start "
			"returned %d); retrying while the link is down\n",
			dp->port, rc);
	dp->relink_wait_ns = dp->relink_wait_ns * 2 < RELINK_MAX_NS
				     ? dp->relink_wait_ns * 2
				     : RELINK_MAX_NS;
	/* Connected but not up yet: the handshake is the server's to
	 * finish, so give it the longest wait before hanging up (a 22.11
	 * memif server that has not sent its HELLO when the client hangs up
	 * takes the EAL interrupt thread down, see mw_port.c). */
	dp->relink_ns = now + (rc ? dp->relink_wait_ns : RELINK_MAX_NS);
}

/* One iteration's sending, after the loop's step: ARP requests, datagrams
 * pulled from the core, the TX buffer drained when full or on the timer,
 * the source told the link counters. */
static void tx_step(struct mw_dp *dp, uint64_t tsc, uint64_t now)
{
	arp_timers(dp, now);
	tx_pull(dp, now);
	if (dp->fault_tx_on)
		tx_release_held(dp, now, false);
	if (dp->dtx.slot)
		tx_release_delayed(dp, now, false);
	if (dp->txq_n >= MW_DP_BURST ||
	    tsc - dp->last_flush_tsc >= dp->drain_tsc ||
	    (dp->grp->txring && dp->shard == 0 &&
	     !rte_ring_empty(dp->grp->txring))) {
		tx_flush(dp);
		dp->last_flush_tsc = tsc;
	}
	if (dp->src->link) {
		struct mw_source_link l = {
			.rx_frames = dp->c.rx_frames,
			.rx_bytes = dp->c.rx_bytes,
			.tx_frames = dp->c.tx_frames,
			.tx_bytes = dp->c.tx_bytes,
		};
		dp->src->link(dp->src->ctx, dp->ep, &l, now);
	}
}

void mw_dp_wait_link(struct mw_dp *dp, volatile sig_atomic_t *quit)
{
	uint64_t hz = rte_get_tsc_hz();
	uint64_t end = rte_rdtsc() + dp->cfg.link_wait_ns / 1000000u * hz / 1000u;
	struct rte_eth_link link;
	while (!*quit) {
		memset(&link, 0, sizeof link);
		if (rte_eth_link_get_nowait(dp->port, &link) == 0 &&
		    link.link_status == RTE_ETH_LINK_UP)
			return;
		if (rte_rdtsc() >= end) {
			fprintf(stderr,
				"maskwire: link of port %u still down, "
				"carrying on\n",
				dp->port);
			return;
		}
		rte_delay_ms(10);
	}
}

/*
 * Several I/O lcores: one whose loop ended keeps its queues served until
 * every loop ended, since its RX queue still gets other lcores' frames
 * (its own peers' datagrams reach its closed endpoint and are dropped
 * there, counted). ARP is still answered.
 */
static void forward_until_all_end(struct mw_dp *dp)
{
	struct mw_dp_group *g = dp->grp;
	__atomic_fetch_sub(&g->running, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&g->running, __ATOMIC_ACQUIRE)) {
		uint64_t now = tsc_to_ns(dp, rte_rdtsc());
		if (dp->shard)
			mw_dp_follow_port(dp);
		unsigned n = rx_poll(dp, now);
		tx_flush(dp);
		if (!n)
			rte_delay_us_sleep(dp->cfg.idle_yield ? 100 : 10);
	}
	if (dp->shard == 0) /* the last frames others queued for it */
		for (unsigned t = 0; t < 1000 && g->txring &&
				     !rte_ring_empty(g->txring);
		     t++) {
			tx_flush(dp);
			rte_delay_us_sleep(10);
		}
	dp->c.tx_dropped_at_exit += dp->txq_n;
	for (unsigned i = 0; i < dp->txq_n; i++)
		rte_pktmbuf_free(dp->txq[i]);
	dp->txq_n = 0;
	/* out of every burst for good: lcore 0 restarts no port now */
	if (dp->shard)
		__atomic_store_n(&g->paused[dp->shard], 1, __ATOMIC_RELEASE);
}

int mw_dp_run_one(struct mw_dp *dp, volatile sig_atomic_t *quit)
{
	uint64_t tsc = rte_rdtsc();
	uint64_t now = tsc_to_ns(dp, tsc);
	/* The first link_watch() reads the link; reported if down. */
	dp->link_up = true;
	dp->link_next_ns = now;
	dp->start_ns = dp->status_last_ns = now;
	dp->status_next_ns = now + dp->cfg.status_ns;
	const struct mw_loop_cfg lc = {
		.ep = dp->ep,
		.src = dp->src,
		.peers = dp->ep_ids,
		.npeers = dp->npeers,
		.linger_ns = dp->cfg.linger_ns,
		.drain_ns = dp->cfg.drain_ns,
		.duration_ns = dp->cfg.duration_ns,
		.idle_exit_ns = dp->cfg.idle_exit_ns,
		.on_event = on_event,
		.on_event_ctx = dp,
	};
	mw_loop_init(&dp->loop, &lc, now);

	for (;;) {
		tsc = rte_rdtsc();
		now = tsc_to_ns(dp, tsc);
		uint64_t rx_before = dp->c.rx_frames;
		uint64_t tx_before = dp->c.tx_frames;
		link_watch(dp, now);
		rx_poll(dp, now);
		if (dp->fault_rx_on)
			rx_release_held(dp, now, false);
		if (dp->enc)
			mw_dp_enc_poll(dp->enc, dp->ep, now);
		mw_dp_prof_begin(&dp->prof);
		int ph = mw_loop_step(&dp->loop, now, (unsigned)*quit);
		mw_dp_prof_end(&dp->prof, MW_DP_ST_loop);
		if (ph == MW_LOOP_CLOSE &&
		    mw_loop_end(&dp->loop) == MW_LOOP_END_ERROR)
			fprintf(stderr, "maskwire: source %s: %s\n",
				dp->src->name,
				mw_strerror(mw_loop_error(&dp->loop)));
		mw_dp_peers_reclaim(dp, now);
		tx_step(dp, tsc, now);
		bool idle = dp->c.rx_frames == rx_before &&
			    dp->c.tx_frames == tx_before &&
			    mw_ep_expiry(dp->ep) > now; /* no encode step due */
		if (idle)
			mw_dp_prof_add(&dp->prof, MW_DP_ST_idle, tsc);
		if (dp->cfg.idle_yield && idle)
			sched_yield();
		if (ph == MW_LOOP_CLOSE)
			break;
		if (dp->cfg.status_ns && now >= dp->status_next_ns) {
			status_line(dp, now);
			dp->status_next_ns = now + dp->cfg.status_ns;
		}
	}

	/* Close sessions (pending sends fail with MW_ECANCELED, the peers
	 * get CLOSE), then push the last frames out for a bounded time. */
	mw_dp_peers_close_accepted(dp, now);
	mw_loop_close(&dp->loop, now);
	if (dp->fault_rx_on)
		rx_release_held(dp, now, true);
	/* Keep polling a little: the CLOSE must leave, and a shared-memory
	 * peer must get to read it before the port goes away. Only what is
	 * queued leaves: no timers run (no CLOSE is retransmitted). */
	uint64_t close_ns = now;
	do {
		tsc = rte_rdtsc();
		now = tsc_to_ns(dp, tsc);
		rx_poll(dp, now);
		if (dp->fault_rx_on)
			rx_release_held(dp, now, true);
		if (dp->enc) /* jobs out come back: their tensors fail */
			mw_dp_enc_poll(dp->enc, dp->ep, now);
		mw_loop_events(&dp->loop, now);
		tx_pull(dp, now);
		if (dp->fault_tx_on)
			tx_release_held(dp, now, true);
		if (dp->dtx.slot)
			tx_release_delayed(dp, now, true);
		tx_flush(dp);
		mw_loop_events(&dp->loop, now);
		if (dp->cfg.idle_yield)
			sched_yield();
	} while (now - close_ns < CLOSE_GRACE_NS ||
		 ((dp->txq_n || mw_dp_enc_out(dp->enc)) &&
		  now - close_ns < CLOSE_MAX_NS));
	dp->c.tx_dropped_at_exit += dp->txq_n;
	for (unsigned i = 0; i < dp->txq_n; i++)
		rte_pktmbuf_free(dp->txq[i]);
	dp->txq_n = 0;
	dp->end_ns = now;
	dp->end = mw_loop_end(&dp->loop);
	if (dp->cfg.status_ns)
		status_line(dp, now);
	if (dp->grp->n > 1)
		forward_until_all_end(dp);
	return dp->end;
}

