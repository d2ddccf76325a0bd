/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mw_dp_setup.c - the data plane's configuration (defaults, checks) and
 * set-up: mbuf pools, the port and its queues, the transport endpoint of
 * lcore 0 (mw_dp_lcores.c adds the other I/O lcores), and teardown.
 */
#include "dp_int.h"

/* The core's random source in secure mode: the kernel's CSPRNG. A
 * getrandom() that fails (it cannot for a few bytes once the pool is
 * initialised: a broken kernel, not bad input) ends the process rather
 * than let a nonce be guessed or repeat. */
static void dp_rand(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	for (size_t o = 0; o < len;) {
		ssize_t n = getrandom((uint8_t *)buf + o, len - o, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "maskwire: getrandom: %s\n",
				strerror(errno));
			abort();
		}
		o += (size_t)n;
	}
}

void mw_dp_cfg_default(struct mw_dp_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vlan = MW_NET_NO_VLAN;
	cfg->udp_port = 47000;
	cfg->mtu = 1500;
	cfg->nb_rxd = 1024;
	cfg->nb_txd = 1024;
	cfg->nb_mbufs = 8191;
	cfg->arp_retry_ns = 200000000ull;
	cfg->drain_ns = 2000000000ull;
	cfg->linger_ns = 1200000000ull;
	cfg->link_wait_ns = 10000000000ull;
	cfg->status_ns = 1000000000ull;
	cfg->accept_hello_ns = 2000000000ull;
	cfg->accept_idle_ns = 30000000000ull;
	cfg->io_lcores = 1;
	mw_ep_config_default(&cfg->ep);
	cfg->ep.encode_step = MW_DP_ENCODE_STEP;
	cfg->ep.rand = dp_rand; /* used in secure mode (--key) */
}

int mw_dp_cfg_check(const struct mw_dp_cfg *cfg, char *err, size_t errlen)
{
	if (cfg->ip == 0) {
		snprintf(err, errlen, "--ip is required (our IPv4 address)");
		return MW_EINVAL;
	}
	if ((cfg->npeers == 0 && cfg->accept_max == 0) ||
	    cfg->npeers + cfg->accept_max > MW_DP_MAX_PEERS) {
		snprintf(err, errlen,
			 "give 1..%u peers (--peer, --peers) and accepted "
			 "peers (--accept-peers) together",
			 MW_DP_MAX_PEERS);
		return MW_EINVAL;
	}
	if ((cfg->accept_net & ~cfg->accept_mask) != 0) {
		snprintf(err, errlen, "accepted peers' network has host bits");
		return MW_EINVAL;
	}
	for (unsigned i = 0; i < cfg->npeers; i++) {
		if (cfg->peers[i].ip == cfg->ip &&
		    cfg->peers[i].port == cfg->udp_port) {
			snprintf(err, errlen, "peer %u is our own address", i);
			return MW_EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (cfg->peers[j].ip == cfg->peers[i].ip &&
			    cfg->peers[j].port == cfg->peers[i].port) {
				snprintf(err, errlen, "peer %u given twice", i);
				return MW_EINVAL;
			}
	}
	if (cfg->mtu < 576 || cfg->mtu > MW_DP_MAX_MTU ||
	    cfg->mtu - 28u < MW_WIRE_MIN_DATAGRAM) {
		snprintf(err, errlen, "--mtu must be 576..%u", MW_DP_MAX_MTU);
		return MW_EINVAL;
	}
	if (cfg->nb_mbufs < 2 * (cfg->nb_rxd + cfg->nb_txd) ||
	    cfg->nb_rxd == 0 || cfg->nb_txd == 0) {
		snprintf(err, errlen,
			 "--mbufs must be at least twice the RX+TX descriptors "
			 "(%u)",
			 2 * (cfg->nb_rxd + cfg->nb_txd));
		return MW_EINVAL;
	}
	if (cfg->rx_seg && (cfg->rx_seg < MW_DP_RX_SEG_MIN ||
			    cfg->rx_seg > MW_DP_RX_SEG_MAX)) {
		snprintf(err, errlen, "--rx-seg must be %u..%u bytes",
			 MW_DP_RX_SEG_MIN, MW_DP_RX_SEG_MAX);
		return MW_EINVAL;
	}
	if (mw_fault_cfg_check(&cfg->fault_rx) ||
	    mw_fault_cfg_check(&cfg->fault_tx)) {
		snprintf(err, errlen,
			 "fault rates must be in [0,1], --burst-len >= 1");
		return MW_EINVAL;
	}
	if (cfg->tx_delay_ns > MW_DELAY_MAX_NS ||
	    (cfg->tx_delay_ns &&
	     (cfg->tx_delay_frames >= cfg->nb_mbufs ||
	      (!cfg->tx_delay_frames && cfg->nb_mbufs < 2)))) {
		snprintf(err, errlen,
			 "--delay-ms must be 0..%llu and --delay-frames "
			 "1..%u (below --mbufs)",
			 MW_DELAY_MAX_NS / 1000000ull, cfg->nb_mbufs - 1);
		return MW_EINVAL;
	}
	if (cfg->io_lcores < 1 || cfg->io_lcores > MW_DP_MAX_IO_LCORES) {
		snprintf(err, errlen, "--io-lcores must be 1..%u",
			 MW_DP_MAX_IO_LCORES);
		return MW_EINVAL;
	}
	if (cfg->io_lcores > 1 && (cfg->encode_workers || cfg->capture_path)) {
		snprintf(err, errlen, "--io-lcores above 1 does not go with "
				      "--encode-workers or --capture");
		return MW_EINVAL;
	}
	struct mw_ep_config ep = cfg->ep;
	ep.max_peers = (uint16_t)(cfg->npeers + cfg->accept_max);
	ep.max_datagram = (uint16_t)(cfg->mtu - 28u);
	if (mw_ep_config_check(&ep)) {
		snprintf(err, errlen,
			 "transport limits rejected (window, --max-tensor, "
			 "--max-segs, --retries out of range)");
		return MW_EINVAL;
	}
	return 0;
}

/* ---- set-up ------------------------------------------------------------- */

static uint32_t incarnation_now(void)
{
	/* Grows across restarts: wall clock in 10 ms units (wraps are
	 * handled by the core's serial arithmetic). */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 100u + (uint64_t)ts.tv_nsec / 10000000u;
	uint32_t inc = (uint32_t)t;
	return inc ? inc : 1;
}

/* One I/O lcore's own part, after its cfg (its peers, accept share,
 * source), port fields and net are set: faults, endpoint, peers. */
int mw_dp_shard_init(struct mw_dp *dp, char *err, size_t errlen)
{
	const struct mw_dp_cfg *cfg = &dp->cfg;
	int rc;
	dp->prof.on = cfg->profile;
	mw_fault_init(&dp->frx, &cfg->fault_rx);
	mw_fault_init(&dp->ftx, &cfg->fault_tx);
	dp->fault_rx_on = mw_fault_enabled(&dp->frx);
	dp->fault_tx_on = mw_fault_enabled(&dp->ftx);
	if (cfg->tx_delay_ns) {
		unsigned cap = cfg->tx_delay_frames ? cfg->tx_delay_frames
						    : cfg->nb_mbufs / 2;
		struct mw_delay_slot *s =
			rte_calloc("mw_delay", cap, sizeof(*s), 0);
		/* the configuration was checked: only memory can fail */
		if (!s || mw_delay_init(&dp->dtx, cfg->tx_delay_ns, s, cap)) {
			rte_free(s);
			snprintf(err, errlen, "no memory for the delay line");
			return MW_ENOMEM;
		}
	}

	struct mw_ep_config ec = cfg->ep;
	/* an I/O lcore may own no peer (more lcores than peers) */
	ec.max_peers = (uint16_t)(cfg->npeers + cfg->accept_max
					  ? cfg->npeers + cfg->accept_max
					  : 1);
	ec.max_datagram = (uint16_t)(cfg->mtu - 28u);
	if (!cfg->fixed_incarnation)
		ec.incarnation = incarnation_now();
	ec.rx_alloc = dp->src->rx_alloc;
	/* Asked for, and more lcores than the main one: they encode
	 * (dp_enc.h). */
	ec.encode_external = cfg->encode_workers && ec.encode_step &&
			     rte_lcore_count() > 1;
	/* What we accept, our HELLOs announce (PROTOCOL.md 5.1). */
	if (cfg->accept_zero_udp_cksum)
		ec.hello_caps |= MW_HELLO_CAP_UDP_CSUM0;
	rc = mw_ep_new(&ec, &dp->ep);
	if (rc) {
		snprintf(err, errlen, "transport endpoint: %s",
			 mw_strerror(rc));
		return rc;
	}
	dp->cfg.ep = ec;
	if (ec.encode_external &&
	    (rc = mw_dp_enc_start(&dp->enc, cfg->idle_yield, err, errlen)))
		return rc;
	uint64_t now = tsc_to_ns(dp, rte_rdtsc());
	if ((rc = mw_dp_peers_init(dp, now, err, errlen)))
		return rc;
	if (cfg->capture_path) {
		dp->cap = mw_capture_open(cfg->capture_path, now, err, errlen);
		if (!dp->cap)
			return MW_EIO;
	}
	return 0;
}

int mw_dp_create(const struct mw_dp_cfg *cfg, struct mw_dp **out, char *err,
		 size_t errlen)
{
	*out = NULL;
	int rc = mw_dp_cfg_check(cfg, err, errlen);
	if (rc)
		return rc;
	if (!cfg->src || (cfg->io_lcores == 1 && !cfg->src->poll)) {
		snprintf(err, errlen, "no traffic source");
		return MW_EINVAL;
	}
	for (unsigned k = 0; cfg->io_lcores > 1 && k < cfg->io_lcores; k++)
		if (!cfg->srcs[k] || !cfg->srcs[k]->poll) {
			snprintf(err, errlen, "no traffic source for I/O "
					      "lcore %u", k);
			return MW_EINVAL;
		}
	if (cfg->io_lcores > rte_lcore_count()) {
		snprintf(err, errlen,
			 "--io-lcores %u needs as many EAL lcores (-l), %u "
			 "given",
			 cfg->io_lcores, rte_lcore_count());
		return MW_EINVAL;
	}
	struct mw_dp *dp = rte_zmalloc("mw_dp", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (!dp) {
		snprintf(err, errlen, "out of memory for the data plane state");
		return MW_ENOMEM;
	}
	dp->cfg = *cfg;
	dp->src = cfg->io_lcores > 1 ? cfg->srcs[0] : cfg->src;
	dp->port = cfg->port_id;
	uint64_t hz = rte_get_tsc_hz();
	dp->tsc0 = rte_rdtsc();
	dp->ns_mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / hz);
	dp->drain_tsc = (hz + 1000000u - 1) / 1000000u * DRAIN_US;

	rc = mw_port_probe(cfg->port_id, &dp->caps);
	if (rc) {
		snprintf(err, errlen,
			 "no ethdev port %u (give one with --vdev=..., e.g. "
			 "net_memif0, or a NIC)",
			 cfg->port_id);
		rte_free(dp);
		return MW_ENOENT;
	}
	/* One mbuf holds a whole frame, jumbo ones too: the core writes a
	 * datagram contiguously, so TX needs no chain and no copy, and RX
	 * needs no scatter (chained frames are still handled: rx_frame). */
	uint32_t room = mw_port_buf_len(&dp->caps, cfg->mtu);
	unsigned nb = cfg->nb_mbufs * cfg->io_lcores;
	dp->pool = mw_port_pool("mw_pool", cfg->port_id, nb, room, err,
				errlen);
	if (!dp->pool) {
		rte_free(dp);
		return MW_ENOMEM;
	}
	/* --rx-seg: RX in smaller mbufs, frames chained by the port. */
	struct rte_mempool *rxp = dp->pool;
	uint32_t rx_room = room;
	if (cfg->rx_seg && cfg->rx_seg < room) {
		dp->rx_pool = mw_port_pool("mw_rxpool", cfg->port_id, nb,
					   cfg->rx_seg, err, errlen);
		if (!dp->rx_pool) {
			rte_mempool_free(dp->pool);
			rte_free(dp);
			return MW_ENOMEM;
		}
		rxp = dp->rx_pool;
		rx_room = cfg->rx_seg;
	}
	rc = mw_port_start(cfg->port_id, cfg->mtu, (uint16_t)cfg->nb_rxd,
			   (uint16_t)cfg->nb_txd, (uint16_t)cfg->io_lcores, rxp,
			   rx_room, cfg->sw_cksum, &dp->caps, err, errlen);
	if (rc) {
		rte_mempool_free(dp->rx_pool);
		rte_mempool_free(dp->pool);
		rte_free(dp);
		/* -EINVAL: the configuration does not fit this port. */
		return rc == -EINVAL ? MW_EINVAL : MW_EIO;
	}
	dp->port_started = dp->port_running = true;
	dp->polls_rx = true;
	dp->tx_flags = dp->caps.use_tx_cksum
			       ? MW_NET_TX_IP_CKSUM_HW | MW_NET_TX_UDP_CKSUM_HW
			       : 0;
	dp->rx_cksum_hw = dp->caps.use_rx_cksum;

	if (cfg->has_mac) {
		/* e.g. replaying a capture made by another port: best effort
		 * on the port, authoritative for what we accept and send. */
		struct rte_ether_addr ea;
		memcpy(ea.addr_bytes, cfg->mac, 6);
		rte_eth_dev_default_mac_addr_set(cfg->port_id, &ea);
		memcpy(dp->caps.mac, cfg->mac, 6);
	}
	memcpy(dp->net.mac, dp->caps.mac, 6);
	dp->net.ip = cfg->ip;
	dp->net.port = cfg->udp_port;
	dp->net.vlan = cfg->vlan;
	dp->net.accept_zero_udp_cksum = cfg->accept_zero_udp_cksum;

	/* the other I/O lcores, and this one's share of the peers */
	if ((rc = mw_dp_group_init(dp, err, errlen)) ||
	    (rc = mw_dp_shard_init(dp, err, errlen))) {
		mw_dp_destroy(dp);
		return rc;
	}
	*out = dp;
	return 0;
}

/* Free one lcore's own part (not the port, pools or group). */
void mw_dp_shard_free(struct mw_dp *dp)
{
	for (unsigned i = 0; i < dp->txq_n; i++)
		rte_pktmbuf_free(dp->txq[i]);
	dp->txq_n = 0;
	void *h[MW_FAULT_HOLD_MAX];
	unsigned n;
	while ((n = mw_fault_release(&dp->frx, 0, true, h, MW_FAULT_HOLD_MAX)))
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(h[i]);
	while ((n = mw_fault_release(&dp->ftx, 0, true, h, MW_FAULT_HOLD_MAX)))
		for (unsigned i = 0; i < n; i++)
			rte_pktmbuf_free(h[i]);
	if (dp->dtx.slot) {
		while ((n = mw_delay_pop(&dp->dtx, 0, 1, h, MW_FAULT_HOLD_MAX)))
			for (unsigned i = 0; i < n; i++)
				rte_pktmbuf_free(h[i]);
		rte_free(dp->dtx.slot);
		dp->dtx.slot = NULL;
	}
	rte_pktmbuf_free(dp->spare);
	dp->spare = NULL;
	mw_capture_close(dp->cap);
	dp->cap = NULL;
	mw_dp_enc_stop(dp->enc, dp->ep, dp->end_ns);
	dp->enc = NULL;
	mw_ep_free(dp->ep);
	dp->ep = NULL;
	mw_dp_peers_free(dp);
}

void mw_dp_destroy(struct mw_dp *dp)
{
	if (!dp)
		return;
	/* every lcore's frames back to the pool before it goes */
	if (dp->grp) {
		for (unsigned k = 1; k < dp->grp->n; k++)
			if (dp->grp->shard[k]) {
				mw_dp_shard_free(dp->grp->shard[k]);
				rte_free(dp->grp->shard[k]);
			}
		for (unsigned k = 0; k <= dp->grp->n; k++) {
			struct rte_ring *r = k < dp->grp->n ? dp->grp->inbox[k]
							    : dp->grp->txring;
			void *m;
			while (r && rte_ring_dequeue(r, &m) == 0)
				rte_pktmbuf_free((struct rte_mbuf *)
						 ((uintptr_t)m & ~(uintptr_t)1));
		}
	}
	mw_dp_shard_free(dp);
	if (dp->port_started)
		mw_port_close(dp->port);
	mw_dp_group_free(dp->grp);
	rte_mempool_free(dp->rx_pool);
	rte_mempool_free(dp->pool);
	rte_free(dp);
}
