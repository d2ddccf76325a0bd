/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mw_dp_peers.c - the data plane's peer table: the configured peers, then
 * up to accept_max peers accepted on a HELLO (docs/PROTOCOL.md 6.6); an
 * (ip, port) hash to find a datagram's peer; per-peer counters; the
 * reclaiming of idle accepted peers. Memory is allocated once, for
 * npeers + accept_max slots, whatever the number of sources that try.
 */
#include "dp_int.h"

#define RECLAIM_NS 100000000ull /* idle accepted peers looked for this often */

static uint32_t addr_hash(const struct mw_dp *dp, uint32_t ip, uint16_t port)
{
	return mw_dp_addr_mix(ip, port) & dp->ht_mask;
}

static void ht_insert(struct mw_dp *dp, unsigned i)
{
	struct mw_dp_peer *p = &dp->peer[i];
	uint32_t h = addr_hash(dp, p->cfg.ip, p->cfg.port);
	p->hnext = dp->ht[h];
	dp->ht[h] = (int32_t)i;
}

static void ht_remove(struct mw_dp *dp, unsigned i)
{
	struct mw_dp_peer *p = &dp->peer[i];
	int32_t *link = &dp->ht[addr_hash(dp, p->cfg.ip, p->cfg.port)];
	while (*link >= 0 && *link != (int32_t)i)
		link = &dp->peer[*link].hnext;
	if (*link == (int32_t)i)
		*link = p->hnext;
	p->hnext = -1;
}

struct mw_dp_peer *mw_dp_peer_find(struct mw_dp *dp, uint32_t ip, uint16_t port)
{
	for (int32_t i = dp->ht[addr_hash(dp, ip, port)]; i >= 0;
	     i = dp->peer[i].hnext)
		if (dp->peer[i].cfg.ip == ip && dp->peer[i].cfg.port == port)
			return &dp->peer[i];
	return NULL;
}

struct mw_dp_peer *mw_dp_peer_find_ip(struct mw_dp *dp, uint32_t ip)
{
	for (unsigned i = 0; i < dp->nslots; i++)
		if (dp->peer[i].used && dp->peer[i].cfg.ip == ip)
			return &dp->peer[i];
	return NULL;
}

struct mw_dp_peer *mw_dp_peer_by_ep(struct mw_dp *dp, uint16_t id)
{
	if (id >= dp->nslots || dp->by_ep[id] < 0)
		return NULL;
	return &dp->peer[dp->by_ep[id]];
}

/* The run's number of this lcore's accepted slot i (i >= npeers): with
 * several I/O lcores each numbers its own slots from 0 (its configured
 * peers, then its accept share), the run numbers the configured peers by
 * command-line index, then the accept slots lcore by lcore. One lcore:
 * the same numbers. */
static unsigned global_slot(const struct mw_dp *dp, unsigned i)
{
	return dp->accept_base + (i - dp->npeers);
}

/* Fill slot i for cfg and register it with the core as core id `id`. */
static void slot_fill(struct mw_dp *dp, unsigned i,
		      const struct mw_dp_peer_cfg *cfg, uint16_t id,
		      uint64_t now)
{
	struct mw_dp_peer *p = &dp->peer[i];
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->ep_peer = id;
	p->used = true;
	p->last_rx_ns = now;
	dp->by_ep[id] = (int16_t)i;
	memcpy(p->flow.src_mac, dp->net.mac, 6);
	p->flow.src_ip = dp->cfg.ip;
	p->flow.dst_ip = p->cfg.ip;
	p->flow.src_port = dp->cfg.udp_port;
	p->flow.dst_port = p->cfg.port;
	p->flow.vlan = dp->cfg.vlan;
	mw_neigh_init(&p->nb, p->cfg.has_mac ? p->cfg.mac : NULL,
		      dp->cfg.arp_retry_ns, now);
	memcpy(p->flow.dst_mac, p->nb.mac, 6);
	ht_insert(dp, i);
}

int mw_dp_peers_init(struct mw_dp *dp, uint64_t now, char *err, size_t errlen)
{
	const struct mw_dp_cfg *cfg = &dp->cfg;
	dp->npeers = cfg->npeers;
	dp->nslots = cfg->npeers + cfg->accept_max;
	uint32_t hs = 16;
	while (hs < 2 * dp->nslots)
		hs <<= 1;
	dp->ht_mask = hs - 1;
	/* an I/O lcore may own no peer: one slot, never used */
	unsigned n = dp->nslots ? dp->nslots : 1;
	dp->peer = rte_zmalloc("mw_peers", sizeof(*dp->peer) * n,
			       RTE_CACHE_LINE_SIZE);
	dp->by_ep = rte_malloc("mw_by_ep", sizeof(*dp->by_ep) * n, 0);
	dp->ht = rte_malloc("mw_peer_ht", sizeof(*dp->ht) * hs, 0);
	dp->ep_ids = rte_zmalloc("mw_ep_ids",
				 sizeof(*dp->ep_ids) * (cfg->npeers + 1), 0);
	if (!dp->peer || !dp->by_ep || !dp->ht || !dp->ep_ids) {
		snprintf(err, errlen, "out of memory for %u peers", dp->nslots);
		return MW_ENOMEM;
	}
	for (unsigned i = 0; i < dp->nslots; i++) {
		dp->by_ep[i] = -1;
		dp->peer[i].hnext = -1;
	}
	for (unsigned i = 0; i < hs; i++)
		dp->ht[i] = -1;
	for (unsigned i = 0; i < cfg->npeers; i++) {
		int id = mw_ep_add_peer(dp->ep);
		if (id < 0 || id >= (int)dp->nslots) {
			snprintf(err, errlen, "transport: add peer: %s",
				 mw_strerror(id < 0 ? id : MW_ELIMIT));
			return id < 0 ? id : MW_ELIMIT;
		}
		int rc;
		if (cfg->peers[i].has_key &&
		    (rc = mw_ep_peer_set_key(dp->ep, (uint16_t)id,
					     cfg->peers[i].psk)) < 0) {
			snprintf(err, errlen, "peer %u key: %s", i,
				 mw_strerror(rc));
			return rc;
		}
		slot_fill(dp, i, &cfg->peers[i], (uint16_t)id, now);
		dp->ep_ids[i] = (uint16_t)id;
	}
	dp->reclaim_next_ns = now + RECLAIM_NS;
	return 0;
}

void mw_dp_peers_free(struct mw_dp *dp)
{
	rte_free(dp->peer);
	rte_free(dp->by_ep);
	rte_free(dp->ht);
	rte_free(dp->ep_ids);
	dp->peer = NULL;
	dp->by_ep = NULL;
	dp->ht = NULL;
	dp->ep_ids = NULL;
	dp->nslots = dp->npeers = 0;
}

/*
 * The order of checks (docs/PROTOCOL.md 6.6): the source address is
 * allowed; the datagram is a HELLO (type byte, common header length);
 * a slot is free; then the core judges the HELLO on a freshly registered
 * peer (checksum or, in secure mode, the tag under --key): a HELLO it
 * drops leaves nothing behind but its counters.
 */
void mw_dp_peer_accept(struct mw_dp *dp, const struct mw_net_pkt *p,
		       const uint8_t *u, uint32_t frame_len, uint64_t now)
{
	if ((p->src_ip & dp->cfg.accept_mask) != dp->cfg.accept_net) {
		dp->c.accept_not_allowed++;
		return;
	}
	if (p->payload_len < MW_WIRE_HDR_LEN || u[MW_OFF_TYPE] != MW_PT_HELLO) {
		dp->c.accept_not_hello++;
		return;
	}
	if (dp->naccepted == dp->cfg.accept_max) {
		dp->c.peer_table_full++;
		return;
	}
	unsigned i = dp->npeers;
	while (i < dp->nslots && dp->peer[i].used)
		i++;
	int id = i < dp->nslots ? mw_ep_add_peer(dp->ep) : MW_ELIMIT;
	if (id < 0 || id >= (int)dp->nslots) {
		/* Cannot happen while naccepted counts right: a bug, but
		 * the frame is only dropped. */
		if (id >= 0)
			mw_ep_remove_peer(dp->ep, (uint16_t)id, now);
		dp->c.peer_table_full++;
		return;
	}
	if (mw_ep_recv(dp->ep, (uint16_t)id, u, p->payload_len, now) != 0) {
		mw_ep_remove_peer(dp->ep, (uint16_t)id, now);
		dp->c.accept_rejected++;
		dp->c.rx_core_dropped++;
		return;
	}
	struct mw_dp_peer_cfg pc;
	memset(&pc, 0, sizeof pc);
	pc.ip = p->src_ip;
	pc.port = p->src_port;
	slot_fill(dp, i, &pc, (uint16_t)id, now);
	struct mw_dp_peer *np = &dp->peer[i];
	np->accepted = true;
	/* Its MAC is the HELLO's source: in secure mode an authenticated
	 * packet's (PROTOCOL.md 12.7), in plain mode as good as ARP. */
	if (dp->cfg.ep.sec_mode) {
		mw_neigh_confirm(&np->nb, p->src_mac);
		dp->c.neigh_confirmed++;
	} else {
		mw_neigh_learn(&np->nb, p->src_mac);
	}
	memcpy(np->flow.dst_mac, np->nb.mac, 6);
	np->pc.rx_frames++;
	np->pc.rx_bytes += frame_len;
	dp->naccepted++;
	dp->c.accept_new++;
	dp->c.rx_core_accepted++;
	if (dp->src->peer)
		dp->src->peer(dp->src->ctx, global_slot(dp, i), np->ep_peer,
			      pc.ip, pc.port, true);
}

static void reclaim(struct mw_dp *dp, unsigned i, uint64_t now)
{
	struct mw_dp_peer *p = &dp->peer[i];
	mw_ep_remove_peer(dp->ep, p->ep_peer, now);
	dp->by_ep[p->ep_peer] = -1;
	ht_remove(dp, i);
	p->used = false;
	dp->naccepted--;
	dp->c.accept_reclaimed++;
	if (dp->src->peer)
		dp->src->peer(dp->src->ctx, global_slot(dp, i), p->ep_peer,
			      p->cfg.ip, p->cfg.port, false);
}

/*
 * An accepted peer with nothing pending to it is reclaimed when it was
 * silent for accept_hello_ns while its session is not open (a HELLO that
 * never became a session, a closed or timed-out one), or for
 * accept_idle_ns while it is open. Tensors pending to it keep it: the
 * core's retry budget ends them first.
 */
void mw_dp_peers_reclaim(struct mw_dp *dp, uint64_t now)
{
	if (!dp->naccepted || now < dp->reclaim_next_ns)
		return;
	dp->reclaim_next_ns = now + RECLAIM_NS;
	for (unsigned i = dp->npeers; i < dp->nslots; i++) {
		struct mw_dp_peer *p = &dp->peer[i];
		struct mw_peer_info pi;
		if (!p->used || mw_ep_peer_info(dp->ep, p->ep_peer, &pi) ||
		    pi.tx_pending)
			continue;
		uint64_t quiet = now - p->last_rx_ns;
		if (quiet >= (pi.state == MW_PEER_OPEN
				      ? dp->cfg.accept_idle_ns
				      : dp->cfg.accept_hello_ns))
			reclaim(dp, i, now);
	}
}

void mw_dp_peers_close_accepted(struct mw_dp *dp, uint64_t now)
{
	for (unsigned i = dp->npeers; i < dp->nslots; i++)
		if (dp->peer[i].used)
			mw_ep_close_peer(dp->ep, dp->peer[i].ep_peer, now);
}

unsigned mw_dp_peer_slots(const struct mw_dp *dp)
{
	return dp->nslots;
}

int mw_dp_peer_stats(const struct mw_dp *dp, unsigned i,
		     struct mw_dp_peer_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (i >= dp->nslots || !dp->peer[i].used)
		return MW_ENOENT;
	const struct mw_dp_peer *p = &dp->peer[i];
	const struct mw_dp_peer_ctr *c = &p->pc;
	struct mw_peer_info pi;
	memset(&pi, 0, sizeof pi);
	mw_ep_peer_info(dp->ep, p->ep_peer, &pi);
	st->ip = p->cfg.ip;
	st->port = p->cfg.port;
	st->ep_peer = p->ep_peer;
	st->accepted = p->accepted;
	st->state = pi.state;
	st->rx_frames = c->rx_frames;
	st->rx_bytes = c->rx_bytes;
	st->tx_frames = c->tx_frames;
	st->tx_bytes = c->tx_bytes;
	st->tensors_rx = c->tensors_rx;
	st->tensors_tx_done = c->tensors_tx_done;
	st->tensors_tx_failed = c->tensors_tx_failed;
	st->dense_bytes_rx = c->dense_bytes_rx;
	st->dense_bytes_tx = c->dense_bytes_tx;
	st->retrans = pi.retrans;
	st->restarts = c->restarts;
	st->sessions_closed = c->sessions_closed;
	st->srtt_ns = pi.srtt_ns;
	return 0;
}

static const char *state_name(unsigned s)
{
	static const char *const n[] = { "free", "idle", "hello", "open" };
	return s < 4 ? n[s] : "?";
}

/* One "peers" entry: lcore d's slot i, numbered slot; nothing if empty. */
static void peer_json(FILE *f, const struct mw_dp *d, unsigned i,
		      unsigned slot, bool *first)
{
	struct mw_dp_peer_stats s;
	if (mw_dp_peer_stats(d, i, &s))
		return;
	fprintf(f,
		"%s\n  {\"slot\": %u, \"lcore\": %u, \"ip\": \"%u.%u.%u.%u\", "
		"\"port\": %u, \"core_id\": %u, \"accepted\": %s, "
		"\"state\": \"%s\", \"rx_frames\": %" PRIu64
		", \"rx_bytes\": %" PRIu64 ", \"tx_frames\": %" PRIu64
		", \"tx_bytes\": %" PRIu64 ", \"tensors_rx\": %" PRIu64
		", \"tensors_tx_done\": %" PRIu64
		", \"tensors_tx_failed\": %" PRIu64
		", \"dense_bytes_rx\": %" PRIu64
		", \"dense_bytes_tx\": %" PRIu64
		", \"retrans\": %" PRIu64 ", \"restarts\": %" PRIu64
		", \"sessions_closed\": %" PRIu64 ", \"srtt_us\": %.1f}",
		*first ? "" : ",", slot, d->shard, s.ip >> 24,
		(s.ip >> 16) & 255, (s.ip >> 8) & 255, s.ip & 255, s.port,
		s.ep_peer, s.accepted ? "true" : "false", state_name(s.state),
		s.rx_frames, s.rx_bytes, s.tx_frames, s.tx_bytes, s.tensors_rx,
		s.tensors_tx_done, s.tensors_tx_failed, s.dense_bytes_rx,
		s.dense_bytes_tx, s.retrans, s.restarts, s.sessions_closed,
		(double)s.srtt_ns / 1e3);
	*first = false;
}

void mw_dp_peers_json(const struct mw_dp *dp, FILE *f)
{
	const struct mw_dp_group *g = dp->grp;
	const struct mw_dp_cfg *c = &g->cfg;
	unsigned bits = (unsigned)__builtin_popcount(c->accept_mask);
	unsigned active = 0, slots = 0;
	for (unsigned k = 0; k < g->n; k++) {
		active += g->shard[k]->naccepted;
		slots += g->shard[k]->nslots;
	}
	fprintf(f,
		" \"accept\": {\"max\": %u, \"active\": %u, "
		"\"from\": \"%u.%u.%u.%u/%u\", \"hello_ms\": %" PRIu64
		", \"idle_ms\": %" PRIu64 ", \"slots\": %u},\n",
		c->accept_max, active, c->accept_net >> 24,
		(c->accept_net >> 16) & 255, (c->accept_net >> 8) & 255,
		c->accept_net & 255, bits, c->accept_hello_ns / 1000000,
		c->accept_idle_ns / 1000000, slots);
	fprintf(f, " \"peers\": [");
	bool first = true;
	/* slots: configured peers by command-line index (peer i is lcore
	 * i % n's (i / n)th), then accepted ones, lcore by lcore */
	for (unsigned slot = 0; slot < c->npeers; slot++)
		peer_json(f, g->shard[slot % g->n], slot / g->n, slot, &first);
	for (unsigned k = 0; k < g->n; k++) {
		const struct mw_dp *d = g->shard[k];
		for (unsigned i = d->npeers; i < d->nslots; i++)
			peer_json(f, d, i, global_slot(d, i), &first);
	}
	fprintf(f, "],\n");
}
