/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_int.h - the data plane's state, shared by mw_dp.c (the poll loop) and
 * mw_dp_stats.c (the JSON stats). Not installed.
 */
#ifndef MW_DP_INT_H
#define MW_DP_INT_H

#include "mw_dp.h"

#include <errno.h>
#include <sched.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_enc.h"
#include "dp_prof.h"
#include "mw_capture.h"
#include "mw_loop.h"
#include "mw_neigh.h"
#include "mw_port.h"
#include "mw_rr.h"

#define TXQ_CAP 256u            /* frames waiting for rte_eth_tx_burst */
#define DRAIN_US 100u           /* TX drain timer (l2fwd's value) */
#define MAX_FRAME (MW_DP_MAX_MTU + 18u)
#define NS_BASE 1000000000ull   /* the clock starts at 1 s, never 0 */
#define CLOSE_GRACE_NS 30000000ull  /* polling after sessions are closed */
#define CLOSE_MAX_NS 200000000ull   /* ... at most, if TX is stuck */
#define LINK_CHECK_NS 100000000ull  /* link status read this often */
#define RELINK_MIN_NS 100000000ull  /* port restarts while the link is */
#define RELINK_MAX_NS 1000000000ull /* down: backing off 0.1 s -> 1 s */

/* Application-level counters (the port's and the core's are separate). */
#define MW_DP_COUNTER_LIST(X)                                                 \
	X(rx_frames) X(rx_bytes) X(tx_frames) X(tx_bytes)                     \
	X(rx_udp) X(rx_unknown_peer) X(rx_core_accepted) X(rx_core_dropped)   \
	X(rx_linearized) X(rx_oversize)                                      \
	X(arp_req_rx) X(arp_reply_rx) X(arp_reply_ignored)                    \
	X(arp_req_tx) X(arp_reply_tx)                                         \
	X(tx_no_neigh) X(neigh_confirmed)                                     \
	X(tx_nombuf) X(tx_queue_full_drop) X(tx_udp_cksum0)                  \
	X(tx_ring_full) X(tx_dropped_at_exit) X(core_send_errors)             \
	X(tensors_rx) X(tensors_tx_done) X(tensors_tx_failed)                 \
	X(dense_bytes_rx) X(dense_bytes_tx)                                   \
	X(link_downs) X(link_ups) X(port_restarts) X(port_restart_errors)   \
	X(accept_new) X(accept_reclaimed) X(accept_not_hello)                 \
	X(accept_not_allowed) X(accept_rejected) X(peer_table_full)         \
	X(handoff_out) X(handoff_in) X(handoff_self) X(handoff_full)

struct mw_dp_counters {
#define MW_DP_CNT_FIELD_(n) uint64_t n;
	MW_DP_COUNTER_LIST(MW_DP_CNT_FIELD_)
#undef MW_DP_CNT_FIELD_
	uint64_t net_drop[MW_NET_DROP_COUNT_];
};

/* A peer's own counters (the rest of mw_dp_peer_stats is read from the
 * core when asked). */
struct mw_dp_peer_ctr {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t tensors_rx, tensors_tx_done, tensors_tx_failed;
	uint64_t dense_bytes_rx, dense_bytes_tx;
	uint64_t restarts, sessions_closed;
};

/* One slot of the peer table (mw_dp_peers.c). */
struct mw_dp_peer {
	struct mw_dp_peer_cfg cfg;
	uint16_t ep_peer;
	bool used;                    /* holds a peer */
	bool accepted;                /* came with a HELLO: reclaimable */
	int32_t hnext;                /* next slot in its hash chain, -1 */
	uint64_t last_rx_ns;          /* accepted: last packet the core took */
	struct mw_dp_peer_ctr pc;
	struct mw_neigh nb;           /* ARP: flow.dst_mac follows nb.mac */
	struct mw_net_flow flow;
};

#define INBOX_CAP 8192u /* frames handed to one I/O lcore, at most */
#define TXRING_CAP 4096u /* frames waiting for lcore 0's TX queue */

struct mw_dp;

/*
 * The I/O lcores of one port (mw_dp_lcores.c). Each runs its own struct
 * mw_dp: a TX queue, an RX queue if the port has one for it, a transport
 * endpoint, a source and the peers it owns (configured peer i on lcore
 * i % n, an accepted one on the lcore its address hashes to). A frame
 * that arrives on another lcore's queue goes to its owner's inbox; ARP
 * goes to every lcore (learn only) and is answered where it arrived.
 * Written before the lcores start; then only the flags below change.
 */
struct mw_dp_group {
	struct mw_dp_cfg cfg;                 /* the whole configuration */
	int end;                              /* the run's (mw_dp_run()) */
	unsigned n;                           /* I/O lcores */
	struct mw_dp *shard[MW_DP_MAX_IO_LCORES];
	unsigned lcore[MW_DP_MAX_IO_LCORES];  /* EAL lcore ids */
	struct rte_ring *inbox[MW_DP_MAX_IO_LCORES]; /* MP/SC */
	struct rte_ring *txring; /* a port with one queue pair: frames of
				    lcores k > 0 for lcore 0 to send (MP/SC) */
	/* owner of each configured peer: open addressing on (ip, port) */
	uint32_t *own_ip;
	uint16_t *own_port;
	int16_t *own_k;                       /* -1: empty */
	uint32_t own_mask;
	struct mw_dp_peer_cfg *pcfg;          /* configured peers by lcore */
	uint16_t *gidx;                       /* their command-line index */
	volatile sig_atomic_t *quit;          /* mw_dp_run()'s */
	/* set by one lcore, read by the others (__atomic) */
	unsigned running;        /* lcores whose loop has not ended */
	unsigned pause_io;       /* lcore 0 restarts the port: no bursts */
	unsigned paused[MW_DP_MAX_IO_LCORES]; /* ... acknowledged */
	unsigned port_up;        /* the last (re)start worked */
};

/* Per-lcore state: one instance, used by one lcore. */
struct mw_dp {
	/* hot */
	struct mw_ep *ep;
	struct rte_mempool *pool;
	struct rte_mbuf *spare;       /* pre-allocated for the next pull */
	uint16_t port;
	uint16_t ip_id;
	unsigned tx_flags;            /* MW_NET_TX_* */
	bool rx_cksum_hw;
	bool fault_rx_on, fault_tx_on;
	bool port_running;            /* started: bursts allowed */
	unsigned txq_n;
	uint64_t tsc0, ns_mult;       /* ns = NS_BASE + (tsc-tsc0)*mult>>32 */
	uint64_t drain_tsc, last_flush_tsc;
	struct mw_loop loop;          /* endpoint + source: order, phases */
	struct mw_net_cfg net;
	struct mw_capture *cap;
	struct mw_source *src;
	unsigned npeers;              /* configured: peer[0..npeers) */
	unsigned nslots;              /* npeers + cfg.accept_max */
	unsigned naccepted;           /* accepted slots in use */
	unsigned accept_base;         /* global slot of its first accept
					 slot: the run's configured peers,
					 then every lcore's accept slots in
					 lcore order (src->peer()'s index,
					 the JSON's "slot") */
	struct mw_dp_peer *peer;      /* nslots */
	int16_t *by_ep;               /* core peer id -> peer[] index, -1 */
	int32_t *ht;                  /* (ip, port) hash -> first slot, -1 */
	uint32_t ht_mask;
	struct mw_rr tx_rr;           /* next peer tx_pull() serves */
	uint64_t tx_now;              /* tx_pull()'s time, for tx_pull_one() */
	uint16_t *ep_ids;             /* configured peers' core ids */
	uint64_t reclaim_next_ns;     /* next scan for idle accepted peers */
	struct rte_mbuf *txq[TXQ_CAP];
	struct mw_dp_counters c;
	struct mw_fault frx, ftx;
	struct mw_delay dtx;          /* --delay-ms: the TX delay line
					 (dtx.slot NULL: off) */
	struct mw_dp_prof prof;       /* --profile */
	struct mw_dp_enc *enc;        /* encode workers, or NULL */
	struct mw_dp_group *grp;      /* its I/O lcores (n == 1: just it) */
	unsigned shard;               /* its index in grp */
	uint16_t rxq, txq_id;         /* its queues */
	bool polls_rx;                /* the port has an RX queue for it */
	bool tx_via0;                 /* no TX queue of its own: lcore 0
					 sends its frames (grp->txring) */
	bool held;                    /* bursts held for a port restart */
	const uint16_t *gidx;         /* configured peer -> command-line index */
	/* cold */
	struct mw_dp_cfg cfg;
	struct mw_port_caps caps;
	struct rte_mempool *rx_pool;  /* --rx-seg: RX mbufs (NULL: pool) */
	bool port_started;            /* configured: close it at the end */
	bool link_up;
	uint64_t link_next_ns;        /* next link status read */
	uint64_t relink_ns, relink_wait_ns; /* next port restart, backoff */
	int end;
	uint64_t start_ns, end_ns;
	uint64_t status_next_ns, status_last_ns;
	struct mw_dp_counters status_prev;
	uint64_t status_prev_retrans, status_prev_drops;
	uint8_t lin[MAX_FRAME];       /* linearised multi-segment frames */
} __rte_cache_aligned;

/* A peer's (IPv4 address, UDP port) mixed into 32 bits: the peer
 * table's hash (mw_dp_peers.c) and the owner of an address not configured
 * (mw_dp_lcores.c). */
static inline uint32_t mw_dp_addr_mix(uint32_t ip, uint16_t port)
{
	uint32_t h = ip * 0x9e3779b1u ^ (uint32_t)port * 0x85ebca6bu;
	return h ^ h >> 15;
}

/* ns since tsc0, from NS_BASE. */
static inline uint64_t tsc_to_ns(const struct mw_dp *dp, uint64_t tsc)
{
	return NS_BASE +
	       (uint64_t)(((unsigned __int128)(tsc - dp->tsc0) * dp->ns_mult) >>
			  32);
}

/* ---- the poll loop (mw_dp.c) ---- */

/* Run one lcore's loop to its end (then, with several lcores, keep
 * handing frames on until every lcore's loop ended). */
int mw_dp_run_one(struct mw_dp *dp, volatile sig_atomic_t *quit);
/* Wait (at most link_wait_ns) for the port's link. */
void mw_dp_wait_link(struct mw_dp *dp, volatile sig_atomic_t *quit);

/* ---- set-up (mw_dp_setup.c) ---- */

/* One I/O lcore's endpoint, faults and peers, from its dp->cfg. */
int mw_dp_shard_init(struct mw_dp *dp, char *err, size_t errlen);
/* Free what mw_dp_shard_init() made and the frames it holds. */
void mw_dp_shard_free(struct mw_dp *dp);

/* ---- several I/O lcores (mw_dp_lcores.c) ---- */

/* Set up the group for cfg->io_lcores lcores, shard 0 (port owner)
 * already created in *dp0; creates the others. */
int mw_dp_group_init(struct mw_dp *dp0, char *err, size_t errlen);
void mw_dp_group_free(struct mw_dp_group *g);
/* A frame from the port: true if it went to its owner's inbox (this
 * lcore's own included), or was dropped because that inbox is full;
 * false: handle it here (ARP, also copied to the other lcores; frames
 * that are not IPv4/UDP). */
bool mw_dp_handoff(struct mw_dp *dp, struct rte_mbuf *m);
/* Frames from this lcore's inbox, at most max: learn_only[i] marks an
 * ARP frame handled where it arrived (learn the MAC, answer nothing). */
unsigned mw_dp_inbox(struct mw_dp *dp, struct rte_mbuf **m, bool *learn_only,
		     unsigned max);
/* Lcore 0: frames other lcores queued for its TX queue, into its TX
 * buffer while it has room. */
void mw_dp_txring_pull(struct mw_dp *dp);
/* Lcores k > 0: follow lcore 0's port restarts (hold bursts meanwhile). */
void mw_dp_follow_port(struct mw_dp *dp);
/* Lcore 0: restart the port with the other lcores' bursts held. */
int mw_dp_group_restart(struct mw_dp *dp);
/* Sums over the lcores, for the stats. */
void mw_dp_group_counters(const struct mw_dp *dp, struct mw_dp_counters *c,
			  struct mw_counters *k);
void mw_dp_group_json(const struct mw_dp *dp, FILE *f);

/* ---- the peer table (mw_dp_peers.c) ---- */

/* Allocate the table for cfg's peers and accept_max, register the
 * configured peers with the core. */
int mw_dp_peers_init(struct mw_dp *dp, uint64_t now, char *err,
		     size_t errlen);
void mw_dp_peers_free(struct mw_dp *dp);
/* The peer at (ip, port), or NULL. */
struct mw_dp_peer *mw_dp_peer_find(struct mw_dp *dp, uint32_t ip,
				   uint16_t port);
/* The first peer at ip, any port (ARP), or NULL. */
struct mw_dp_peer *mw_dp_peer_find_ip(struct mw_dp *dp, uint32_t ip);
/* The peer of a core peer id, or NULL. */
struct mw_dp_peer *mw_dp_peer_by_ep(struct mw_dp *dp, uint16_t id);
/* A datagram from an address that is no peer: a HELLO may create one
 * (docs/PROTOCOL.md 6.6); anything else is counted and dropped. */
void mw_dp_peer_accept(struct mw_dp *dp, const struct mw_net_pkt *p,
		       const uint8_t *u, uint32_t frame_len, uint64_t now);
/* Reclaim idle accepted peers (on its own timer). */
void mw_dp_peers_reclaim(struct mw_dp *dp, uint64_t now);
/* Close the sessions of accepted peers (the loop closes configured ones). */
void mw_dp_peers_close_accepted(struct mw_dp *dp, uint64_t now);
/* The JSON "peers" array and "accept" object, as members. */
void mw_dp_peers_json(const struct mw_dp *dp, FILE *f);

#endif /* MW_DP_INT_H */
