/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file shmsource.h
 * The shared-memory traffic source of maskwire (--shm NAME): the training
 * process's tensors, through the channel of dataplane/shm (mw_shm_dp.h,
 * docs/SHM.md), plugged into the poll loop as a struct mw_source. Plain C
 * over the transport core and the channel's data-plane side (no DPDK).
 *
 * - Submits from the app go to the peer its descriptor names (an index of
 *   the data plane's peer slots: the configured peers in command-line
 *   order, 0 the first, then the accepted ones, which the data plane
 *   reports through mw_source.peer) with the descriptor's codec
 *   parameters (mw_ep_submit()); an index with no peer is completed with
 *   MW_ENOENT, one whose generation is not the submit's (the index
 *   changed hands; or 0 for an accepted peer) with MW_ESTALE. Deliveries
 *   carry the source's index and generation.
 *   The region's peer table lists the peers (address, state, restarts,
 *   per-peer counters), refreshed every millisecond. A full transport
 *   window keeps them queued (back-pressure to the app through the SUBMIT
 *   ring); a submit the transport rejects is completed at once with the
 *   reason.
 * - Every TX_DONE / TX_FAILED becomes a completion with status 0 or the
 *   failure reason; submits still queued when the data plane stops are
 *   completed with MW_ECANCELED. Nothing is dropped silently.
 * - Received tensors are decoded by the core straight into the region's
 *   RX pool (the source supplies the core's receive allocator); a full
 *   pool or no attached app is "no room yet" (flow control, the sender
 *   keeps the tensor), never a drop. Delivered buffers come back through
 *   the RELEASE ring.
 * - An app that dies or detaches is dropped by the channel; its queued
 *   submits are forgotten (their buffers are never read again) and a new
 *   app can attach at any time.
 * - The app's memory is hostile: a submit the transport rejects (e.g.
 *   MW_ECHANGED, the buffer was rewritten while it was encoded) is a
 *   failed completion; a region file resized under the data plane is
 *   logged, the app dropped and the region re-created under the same name
 *   (MW_SHM_EV_REGION_BROKEN / REGION_NEW); tensors it held are counted
 *   as lost in the JSON stats (channel.rx_lost, channel.broken).
 * - The data plane's link counters are published in the region header
 *   (mw_shm_hdr.wire) for the app to read with mw_client_info().
 *
 * Several I/O lcores (cfg.lcores K > 1) share one region: lcore k runs
 * its own endpoint and loop with the source mw_shmsrc_lcore_source(s, k)
 * gives; the region, its peer table and the source's state are one, under
 * a spinlock each lcore's source takes around every call. Configured peer
 * i is lcore i % K's ((i / K)-th in its poll()'s peers); accepted ones
 * come with their global index through mw_source.peer on the lcore that
 * accepted them. Whichever lcore polls takes the app's submits and queues
 * each on its peer's lcore (one FIFO per lcore: a full window on one
 * lcore holds back only its own FIFO); each lcore hands its own FIFO to
 * its own endpoint, so an endpoint is only ever called from its lcore.
 * Events are written to the region by the lcore that has them; each
 * lcore refreshes its own peers' states; the header's link counters are
 * the lcores' sums. Nothing the app sees changes (docs/SHM.md).
 */
#ifndef MW_SHMSOURCE_H
#define MW_SHMSOURCE_H

#include <stdint.h>

#include "mw_shm_dp.h"
#include "mw_source.h"

/** A configured peer's address, as the region's peer table shows it. */
/** I/O lcores one source can serve (the data plane's MW_DP_MAX_IO_LCORES). */
#define MW_SHMSRC_MAX_LCORES 16u

struct mw_shmsrc_peer {
	uint32_t ip;   /**< IPv4, host order */
	uint16_t port; /**< UDP port */
};

struct mw_shmsrc_cfg {
	const char *name;      /**< region name (mw_shm_dp_create()) */
	struct mw_shm_cfg shm; /**< geometry and liveness probe period */
	uint16_t deadline_ms;  /**< > 0: float tensors the app submits are
				    sent with this deadline (PROTOCOL.md
				    9.1; RAW ones reliably) */
	const struct mw_shmsrc_peer *peers; /**< in command-line order
				    (copied; the loop's peer ids follow the
				    same order) */
	unsigned npeers;
	unsigned accept_slots; /**< the data plane's --accept-peers: the
				    peer table gets room for npeers +
				    accept_slots entries */
	unsigned lcores;       /**< I/O lcores served, 1..MW_SHMSRC_MAX_LCORES
				    (0: 1) */
};

struct mw_shmsrc;

/**
 * Create the region and the source.
 * @return 0; MW_EINVAL (cfg.lcores above MW_SHMSRC_MAX_LCORES), or the
 *         error of mw_shm_dp_create() (MW_EINVAL, MW_EBUSY, MW_EBADMAGIC,
 *         MW_EIO, MW_ENOMEM).
 */
int mw_shmsrc_new(const struct mw_shmsrc_cfg *cfg, struct mw_shmsrc **out);

/** What a user should know after mw_shmsrc_new() failed with rc: a
 *  parenthesised hint with a leading space, or "". */
const char *mw_shmsrc_new_hint(int rc);

/**
 * The mw_source view of the whole source (valid while s lives). With one
 * lcore it is the loop's source (no lock taken). With several it only
 * speaks for them all: stats_json() and status() (the data plane's
 * cfg.src); the loops get mw_shmsrc_lcore_source().
 */
void mw_shmsrc_source(struct mw_shmsrc *s, struct mw_source *src);

/**
 * The source of I/O lcore k (its loop's, its endpoint's receive
 * allocator): every callback takes the source's lock. Call its callbacks
 * from lcore k only, with lcore k's endpoint. Also valid with one lcore
 * (k 0; the lock is then never contended).
 * @return 0; MW_EINVAL (k >= cfg.lcores).
 */
int mw_shmsrc_lcore_source(struct mw_shmsrc *s, unsigned k,
			   struct mw_source *src);

/** Largest tensor the region can carry in either direction (bytes). */
uint64_t mw_shmsrc_max_tensor(const struct mw_shmsrc_cfg *cfg);

/**
 * Complete every submit still queued with MW_ECANCELED, mark the region
 * closed (attached apps get MW_ESHUTDOWN), remove its name and free. Call
 * after every poll loop has returned. NULL is a no-op.
 */
void mw_shmsrc_free(struct mw_shmsrc *s);

#endif /* MW_SHMSOURCE_H */
