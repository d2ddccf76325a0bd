/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_dp.h
 * The DPDK poll-mode adapter: one ethdev port; one I/O lcore (or several,
 * each with its own queue pair, transport endpoint, application source
 * (mw_source.h) and share of the peers).
 *
 * It owns the port, the mbuf pool, the clock (TSC converted to ns) and the
 * I/O of the poll loop (l2fwd shape: bursts of 32, one TSC read per
 * iteration, a TX drain timer); the loop's order, phases and close
 * sequence are mw_loop.h's, ARP resolution is mw_neigh.h's. Frames are
 * parsed and built by dataplane/net (mw_net.h), faults injected by
 * mw_fault.h, tensors carried by the core (mw_transport.h). Usage:
 *   mw_dp_cfg_default(&cfg); fill it; mw_dp_cfg_check(&cfg, err) before
 *   rte_eal_init(); then mw_dp_create(), mw_dp_run(), mw_dp_stats_json(),
 *   mw_dp_destroy(), rte_eal_cleanup().
 */
#ifndef MW_DP_H
#define MW_DP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mw_delay.h"
#include "mw_fault.h"
#include "mw_loop.h"
#include "mw_net.h"
#include "mw_source.h"
#include "mw_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MW_DP_BURST 32u     /**< RX/TX burst size */
/** Default elements per encode step (mw_ep_config.encode_step): ~50 us
 *  of MS work, one step per loop turn. */
#define MW_DP_ENCODE_STEP 65536u
/** Peers one data plane talks to, configured and accepted together
 *  (memory is allocated for the number configured, not this). */
#define MW_DP_MAX_PEERS MW_SOURCE_MAX_PEERS
#define MW_DP_MAX_MTU 9600u /**< largest --mtu accepted */
#define MW_DP_RX_SEG_MIN 512u   /**< smallest rx_seg accepted */
#define MW_DP_RX_SEG_MAX 16384u /**< largest rx_seg accepted */
#define MW_DP_MAX_IO_LCORES 16u /**< largest io_lcores accepted */

struct mw_dp_peer_cfg {
	uint32_t ip;     /**< host order */
	uint16_t port;   /**< UDP port */
	bool has_mac;    /**< static MAC given: no ARP for this peer */
	uint8_t mac[6];
	bool has_key;    /**< its own pre-shared key (secure mode), else
			      ep.psk */
	uint8_t psk[MW_SEC_PSK_LEN];
};

struct mw_dp_cfg {
	uint16_t port_id;   /**< ethdev port */
	uint32_t ip;        /**< our IPv4 address */
	uint16_t udp_port;  /**< our UDP port */
	uint16_t vlan;      /**< MW_NET_NO_VLAN or 0..4094 */
	bool has_mac;       /**< use mac instead of the port's address */
	uint8_t mac[6];
	const struct mw_dp_peer_cfg *peers; /**< npeers configured peers
				       (caller-owned; read by mw_dp_create()) */
	unsigned npeers;
	/* Accepting peers that open a session (docs/PROTOCOL.md 6.6). */
	unsigned accept_max;   /**< peers accepted at most at a time; 0: only
				    the configured ones */
	uint32_t accept_net;   /**< sources allowed: (ip & accept_mask) == */
	uint32_t accept_mask;  /**< accept_net (0/0: any) */
	uint64_t accept_hello_ns; /**< an accepted peer whose session is not
				       open is reclaimed after this long
				       without a packet from it */
	uint64_t accept_idle_ns;  /**< ... one whose session is open, after
				       this long */
	uint16_t mtu;       /**< IP MTU; UDP payloads up to mtu - 28 */
	unsigned nb_rxd, nb_txd; /**< descriptors per queue */
	unsigned nb_mbufs;  /**< mbufs in the pool */
	unsigned rx_seg;    /**< 0: RX mbufs hold a whole frame (one pool
				 for RX and TX). Otherwise RX mbufs from a
				 second pool of nb_mbufs with this much data
				 room (MW_DP_RX_SEG_MIN..MW_DP_RX_SEG_MAX):
				 longer frames arrive chained (the port must
				 offer RX scatter) and are linearised. Not
				 used when a whole frame fits. */
	bool sw_cksum;      /**< never use checksum offload */
	bool accept_zero_udp_cksum;
	struct mw_fault_cfg fault_rx, fault_tx;
	uint64_t tx_delay_ns; /**< hold every frame sent this long (a long
				   path's one-way delay, mw_delay.h); 0 off */
	unsigned tx_delay_frames; /**< frames on the way at once (0: half
				       of nb_mbufs); more are dropped */
	const char *capture_path; /**< pcap of every frame, or NULL */
	uint64_t arp_retry_ns;    /**< between ARP requests */
	uint64_t drain_ns;  /**< on a stop signal: time allowed for in-flight
				 tensors to finish before they are failed */
	uint64_t linger_ns; /**< after the source is done: keep answering
				 until the link was idle this long */
	uint64_t link_wait_ns; /**< wait at start for the link to come up */
	uint64_t duration_ns;  /**< stop (as on a signal) after this; 0 off */
	uint64_t idle_exit_ns; /**< stop when nothing was received this long
				    (after the first frame); 0 off */
	uint64_t status_ns;    /**< one status line this often; 0 off */
	bool idle_yield;       /**< sched_yield() after an iteration that
				    moved no frame (shared cores) */
	bool profile;          /**< TSC cycles per loop stage in the JSON
				    stats ("profile"; docs/PERF.md) */
	bool encode_workers;   /**< the EAL lcores beyond the main one
				    encode deferred submits (dp_enc.h) */
	struct mw_ep_config ep;   /**< transport config (rx_alloc is taken
				       from the source) */
	bool fixed_incarnation;   /**< use ep.incarnation as given; otherwise
				       it is derived from the wall clock */
	struct mw_source *src;    /**< not NULL. With several I/O lcores:
				       the whole run's stats (stats_json),
				       the lcores' own sources are srcs[] */
	/**
	 * I/O lcores, 1..MW_DP_MAX_IO_LCORES: the first that many EAL lcores
	 * (the main one first). Each owns a TX queue and, where the port has
	 * one per lcore, an RX queue (else lcore 0 receives for all); a
	 * transport endpoint; the configured peers i with i % io_lcores == its
	 * index, and accepted ones whose address hashes to it (accept_max
	 * shared out). Frames that arrive on another lcore are handed to their
	 * owner through a ring, so every endpoint stays single-threaded. Not
	 * with encode_workers or capture_path.
	 */
	unsigned io_lcores;
	struct mw_source *srcs[MW_DP_MAX_IO_LCORES]; /**< io_lcores > 1: the
				       source of each I/O lcore (its poll()
				       gets that lcore's configured peers) */
};

/** Fill defaults (port 0, MTU 1500, no faults, 1 s status, ...). */
void mw_dp_cfg_default(struct mw_dp_cfg *cfg);

/**
 * Check a configuration before anything is touched (no EAL needed).
 * @param err  a message for the user on failure.
 * @return 0 or MW_EINVAL.
 */
int mw_dp_cfg_check(const struct mw_dp_cfg *cfg, char *err, size_t errlen);

struct mw_dp;

/**
 * Set up the data plane after rte_eal_init(): mbuf pool, port (probed
 * capabilities, offloads where present, software otherwise), capture file,
 * transport endpoint.
 * @return 0, or a negative mw_err with a message in err (nothing is left
 *         configured in that case).
 */
int mw_dp_create(const struct mw_dp_cfg *cfg, struct mw_dp **out, char *err,
		 size_t errlen);

/** How mw_dp_run() ended (the loop's enum mw_loop_end). */
enum mw_dp_end {
	MW_DP_END_DONE = MW_LOOP_END_DONE,         /**< the source finished */
	MW_DP_END_SIGNAL = MW_LOOP_END_SIGNAL,     /**< stop requested (signal) */
	MW_DP_END_DURATION = MW_LOOP_END_DURATION, /**< --duration reached */
	MW_DP_END_IDLE = MW_LOOP_END_IDLE,         /**< --idle-exit reached */
	MW_DP_END_ERROR = MW_LOOP_END_ERROR,       /**< the source reported a
						        fatal error */
};

/**
 * Run the poll loop on the calling lcore until the source is done, a stop
 * is requested, or a limit is reached. On stop: no new tensors; in-flight
 * ones get up to drain_ns to finish, then sessions are closed (pending
 * tensors fail with MW_ECANCELED) and the last frames flushed.
 * @param quit  incremented by the signal handler: 1 = stop gracefully,
 *              2 or more = skip the drain.
 * @return enum mw_dp_end.
 */
int mw_dp_run(struct mw_dp *dp, volatile sig_atomic_t *quit);

/** Print the whole stats object (JSON, one object, newline-terminated). */
void mw_dp_stats_json(struct mw_dp *dp, FILE *f);

/** One peer's counters and state (the JSON's "peers" entries). */
struct mw_dp_peer_stats {
	uint32_t ip;        /**< host order */
	uint16_t port;
	uint16_t ep_peer;   /**< its core peer id (mw_event.peer) */
	bool accepted;      /**< came with a HELLO (accept_max), not
				 configured */
	uint8_t state;      /**< enum mw_peer_state */
	uint64_t rx_frames, rx_bytes;   /**< UDP frames from it, Ethernet
					     bytes */
	uint64_t tx_frames, tx_bytes;   /**< frames to it */
	uint64_t tensors_rx;            /**< delivered from it */
	uint64_t tensors_tx_done;       /**< acknowledged by it */
	uint64_t tensors_tx_failed;
	uint64_t dense_bytes_rx, dense_bytes_tx; /**< those tensors' bytes */
	uint64_t retrans;               /**< segments resent to it */
	uint64_t restarts;              /**< new incarnations of it seen */
	uint64_t sessions_closed;       /**< sessions with it that ended */
	uint64_t srtt_ns;
};

/** Peer table slots: the configured peers, then accept_max slots for
 *  accepted ones. Indexes 0..mw_dp_peer_slots()-1 are stable while a peer
 *  holds the slot (configured peers always: index = command-line order).
 *  With several I/O lcores this is dp's own lcore's table (its share of
 *  the peers); the JSON stats list every lcore's. */
unsigned mw_dp_peer_slots(const struct mw_dp *dp);

/**
 * Read one slot's counters and state (for the JSON stats and the
 * shared-memory region's peer table).
 * @return 0; MW_ENOENT for an empty slot or i out of range (st zeroed).
 */
int mw_dp_peer_stats(const struct mw_dp *dp, unsigned i,
		     struct mw_dp_peer_stats *st);

/** Stop and close the port, free everything. NULL is a no-op. */
void mw_dp_destroy(struct mw_dp *dp);

#ifdef __cplusplus
}
#endif
#endif /* MW_DP_H */
