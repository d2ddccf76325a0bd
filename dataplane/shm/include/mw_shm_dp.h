/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_shm_dp.h
 * The data plane's side of the shared-memory channel (mw_shm.h).
 *
 * No DPDK, no clock: time comes in as now_ns (any monotonic origin, e.g.
 * TSC converted to ns). Only mw_shm_dp_create()/destroy(), re-creating a
 * broken region, and the rate limited liveness probe (a lock probe and an
 * fstat) inside mw_shm_dp_service() make system calls.
 * One object is used by one thread (the poll loop's lcore).
 *
 * ## What a poll loop calls each iteration
 *
 *     now = tsc_to_ns(rte_rdtsc());
 *     ev = mw_shm_dp_service(dp, now);        // heartbeat, app attach/death,
 *                                             // reaps released RX buffers
 *     if (ev & MW_SHM_EV_APP_GONE)
 *             forget every mw_shm_sub taken so far: stop reading its data
 *             (cancel the transport's borrowed/pending sends) BEFORE the
 *             next mw_shm_dp_service() call, which may hand the TX pool to
 *             a new app. Completing them afterwards returns MW_ERESET.
 *     n = mw_shm_dp_poll_submits(dp, subs, 32);
 *     for each sub: mw_ep_submit(ep, ..., sub.data, sub.d.buf_len, ...);
 *             on a synchronous error: mw_shm_dp_complete(dp, &sub, err);
 *             on MW_EAGAIN (window full): keep the sub, retry next
 *             iteration, and poll fewer submits meanwhile;
 *     for each transport event:
 *             TX_DONE   -> mw_shm_dp_complete(dp, &sub, 0);
 *             TX_FAILED -> mw_shm_dp_complete(dp, &sub, ev.reason);
 *             RX_TENSOR -> mw_shm_dp_deliver(dp, ev.buf, ev.bytes, &meta);
 *                          (MW_EAGAIN: no app right now, retry later)
 *     the transport's receive allocator is mw_shm_dp_rx_alloc() (NULL on
 *     MW_EAGAIN = "no room yet", flow control) / mw_shm_dp_rx_free().
 *
 * Guarantees: mw_shm_dp_complete() never fails for lack of ring room (a
 * submit is only taken when its completion has a reserved slot), and
 * mw_shm_dp_deliver() never fails for lack of ring room (mw_shm_dp_rx_alloc()
 * reserves the delivery slot). Nothing the app wrote is trusted: bad submit
 * descriptors are answered with a failure completion, bad releases are
 * counted and ignored, an impossible ring index detaches the app.
 */
#ifndef MW_SHM_DP_H
#define MW_SHM_DP_H

#include <stdint.h>

#include "mw_err.h"
#include "mw_shm.h"

/** Opaque data-plane side of one region. */
struct mw_shm_dp;

/** Region configuration. */
struct mw_shm_cfg {
	struct mw_shm_geom geom; /**< rings, slot size, pool slots */
	uint64_t liveness_ns;    /**< how often to probe the app's lock */
};

/** Defaults: 256-entry rings, 64 KiB slots, 1024 TX + 1024 RX slots
 *  (64 MiB each), liveness probe every 10 ms. */
void mw_shm_cfg_default(struct mw_shm_cfg *cfg);

/**
 * Create the region (a new file, atomically renamed over name) and start
 * serving it. Region files are under /dev/shm unless name holds a '/'
 * after its first character (then it is a path).
 * @param name  region name, e.g. "maskwire0".
 * @param cfg   configuration; NULL for defaults.
 * @param out   out: the new object.
 * A region left by a dead data plane is replaced (with the next
 * generation): a file that starts with the magic, whatever its size, and
 * under /dev/shm also an empty one (a region truncated, then left); any
 * other existing file is left alone (docs/SHM.md, Creation). Installs the
 * process-wide SIGBUS guard of the mapping (shm_os.h).
 * @return 0; MW_EINVAL (bad name or geometry); MW_EBUSY (a live data
 *         plane already serves that name); MW_EBADMAGIC (a file that is not
 *         a region has that name: remove it); MW_EIO (file/mmap failure);
 *         MW_ENOMEM; MW_ENOSPC (too many regions in this process).
 */
int mw_shm_dp_create(const char *name, const struct mw_shm_cfg *cfg,
		     struct mw_shm_dp **out);

/**
 * Stop serving: mark the region closed (attached apps get MW_ESHUTDOWN),
 * unmap it and, if unlink_file, remove its name.
 */
void mw_shm_dp_destroy(struct mw_shm_dp *dp, int unlink_file);

/** Events returned by mw_shm_dp_service(). */
#define MW_SHM_EV_APP_GONE 0x1u /**< the app detached, died or was dropped */
#define MW_SHM_EV_APP_NEW 0x2u  /**< a new app is attached and served */
/** The region's file was resized under the data plane (shrunk: its pages
 *  vanished; or grown), seen by a size check or a SIGBUS in the mapping:
 *  the app (if any) is dropped (APP_GONE comes with it), the deliveries
 *  kept for the next app are lost, buffers being filled will be refused
 *  by mw_shm_dp_deliver() (MW_ERESET). Until REGION_NEW no app is served.
 *  Worth a log line. */
#define MW_SHM_EV_REGION_BROKEN 0x4u
/** A new file replaces the broken region under the same name, mapped at
 *  the same address (pointers into the pools stay valid), with the next
 *  dp_generation; apps attach to it as usual. If it cannot be created
 *  (the name was taken meanwhile, file errors) it is retried every
 *  liveness_ns (counted in recreate_errors). */
#define MW_SHM_EV_REGION_NEW 0x8u

/**
 * Housekeeping, once per poll-loop iteration: bump the heartbeat, handle an
 * app attaching (a new app_gen), probe the app's liveness lock every
 * cfg.liveness_ns, and reap released RX buffers.
 * The region's file size is checked against the mapping at every attach and
 * liveness probe, and a SIGBUS in the mapping (the file shrunk) is caught
 * (MW_SHM_EV_REGION_BROKEN / REGION_NEW): the data plane keeps running.
 * When the app goes (death, detach, a new app replacing it, or a corrupt
 * ring), every RX buffer it took from the DELIVER ring is reclaimed, the
 * deliveries it never took are kept and delivered first to the next app,
 * its pending submits become stale, and MW_SHM_EV_APP_GONE is returned; a
 * new app is only
 * served from the next call on, so the caller has one iteration to drop
 * references into the TX pool.
 * @param now_ns  current time; must not go backwards.
 * @return a mask of MW_SHM_EV_* (0 when nothing happened).
 */
unsigned mw_shm_dp_service(struct mw_shm_dp *dp, uint64_t now_ns);

/** A submitted tensor taken from the SUBMIT ring. */
struct mw_shm_sub {
	struct mw_shm_desc d; /**< validated copy of the descriptor */
	const void *data;     /**< d.buf_len bytes in the TX pool */
	uint64_t app_gen;     /**< app it came from */
};

/**
 * Take up to max validated submits. Invalid descriptors are answered with
 * a failure completion at once (counted in bad_submits) and not returned.
 * Takes only as many as there are free completion slots.
 * @return the number of subs filled (0 when none or no app).
 */
unsigned mw_shm_dp_poll_submits(struct mw_shm_dp *dp, struct mw_shm_sub *subs,
				unsigned max);

/**
 * Report the outcome of a submit; its TX buffer goes back to the app.
 * @param status  0 (delivered) or a negative mw_err (why it failed).
 * @return 0; MW_ERESET (the sub belongs to an app that is gone: nothing to
 *         do); MW_ESTATE (more completions than submits: caller bug).
 */
int mw_shm_dp_complete(struct mw_shm_dp *dp, const struct mw_shm_sub *s,
		       int status);

/**
 * Allocate a delivery buffer in the RX pool (and reserve its DELIVER
 * slot). A 0-byte request returns a non-NULL token that owns nothing.
 * @param bytes  decoded tensor size.
 * @param buf    out: the buffer (slot aligned, at least 64 bytes aligned).
 * @return 0; MW_EAGAIN (no room or no app now: flow control, ask again
 *         later); MW_ELIMIT (larger than the RX pool: can never fit).
 */
int mw_shm_dp_rx_alloc(struct mw_shm_dp *dp, uint64_t bytes, void **buf);

/** Give back an RX buffer that will not be delivered (same bytes). */
int mw_shm_dp_rx_free(struct mw_shm_dp *dp, void *buf, uint64_t bytes);

/**
 * Mark a delivery partial (PROTOCOL.md 9.1) before mw_shm_dp_deliver():
 * sets MW_SHM_DLV_PARTIAL, elems_lost and loss_cnt in d, and writes the
 * loss map into the buffer's last slot after the tensor, setting
 * d->loss_off, when it fits there.
 * @param buf, bytes  an RX buffer from mw_shm_dp_rx_alloc(), not 0 bytes.
 * @param loss, cnt   the ranges missing, in elements.
 * @return 0; MW_ENOSPC (no room: d is marked partial with loss_off 0,
 *         deliver it all the same); MW_EINVAL (not an RX buffer being
 *         filled: d unchanged).
 */
int mw_shm_dp_put_loss(struct mw_shm_dp *dp, void *buf, uint64_t bytes,
		       struct mw_shm_desc *d, const struct mw_shm_range *loss,
		       uint32_t cnt, uint64_t elems_lost);

/**
 * Deliver a filled RX buffer to the app.
 * @param buf    from mw_shm_dp_rx_alloc().
 * @param bytes  its size as allocated.
 * @param meta   metadata (dims, dtype, kind, tag, codec fields, peer and
 *               peer_gen: the source's index in the peer table and its
 *               generation when the tensor arrived); buf_off, buf_len,
 *               cookie and status are filled in here.
 * @return 0 (the buffer is now the app's); MW_EAGAIN (no app attached:
 *         keep the buffer, retry later); MW_EINVAL (not an allocated
 *         buffer, meta disagrees with bytes, or peer >= peer_cap:
 *         nothing delivered);
 *         MW_ERESET (allocated before the region broke: its contents are
 *         lost; free it with mw_shm_dp_rx_free(), counted in rx_lost).
 */
int mw_shm_dp_deliver(struct mw_shm_dp *dp, void *buf, uint64_t bytes,
		      const struct mw_shm_desc *meta);

/** Link counters to publish (plain copy of struct mw_shm_wire's fields). */
struct mw_shm_wire_counts {
	uint64_t tx_frames, tx_bytes, rx_frames, rx_bytes;
	uint64_t tensors_tx, tensors_rx, tensors_failed, retransmits;
	uint64_t dense_tx_bytes, dense_rx_bytes;
};

/**
 * Publish the data plane's link counters in the header (mw_shm_hdr.wire),
 * where the app reads them (mw_client_info()). Cheap (a few stores); call
 * it once per poll-loop iteration or less often.
 */
void mw_shm_dp_publish_wire(struct mw_shm_dp *dp,
			    const struct mw_shm_wire_counts *w);

/** One peer as the data plane publishes it in the region's peer table
 *  (struct mw_shm_peer without its lock; no implicit padding). */
struct mw_shm_peer_info {
	uint8_t ip[4]; /**< IPv4, network order */
	uint16_t port; /**< UDP port */
	uint8_t state; /**< enum mw_shm_peer_state */
	uint8_t flags; /**< MW_SHM_PEER_ACCEPTED or 0 */
	uint32_t restarts, sessions, remote_inc;
	int32_t last_reason;
	uint32_t gen;  /**< generation of the peer at this index: not 0 when
			    state != NONE; a new peer at an index gets a
			    higher one than the last (docs/SHM.md, Peers) */
	uint32_t pad;  /**< 0 */
	uint64_t tensors_tx, tensors_rx, tensors_failed;
	uint64_t dense_tx_bytes, dense_rx_bytes;
	uint64_t srtt_ns;
};

/**
 * Publish peer idx in the region's peer table (docs/SHM.md, Peers): the
 * descriptors' peer field names it. The table grows to idx + 1 entries
 * (entries never set read as MW_SHM_PEER_NONE). Cheap when nothing
 * changed (a compare); otherwise a few stores under the entry's sequence
 * lock. A submit naming an index with no peer (beyond the table or
 * MW_SHM_PEER_NONE; index 0 is always accepted) is answered with a
 * MW_ENOENT completion and counted in bad_peers. A submit to an entry
 * with a peer whose peer_gen is not the entry's gen (or is 0 while the
 * entry is MW_SHM_PEER_ACCEPTED) is answered with MW_ESTALE and counted
 * in stale_peers: the index names another peer than the app meant.
 * The caller gives a new peer at an index a higher gen than the last
 * (wrapping past 0 to 1); the channel does not choose it.
 * @return 0; MW_EINVAL (idx >= mw_shm_dp_peer_cap(), unknown state or
 *         flag, a peer with gen 0).
 */
int mw_shm_dp_peer_set(struct mw_shm_dp *dp, uint32_t idx,
		       const struct mw_shm_peer_info *p);

/** Entries the region's peer table has room for (cfg geom.peer_cap). */
uint32_t mw_shm_dp_peer_cap(const struct mw_shm_dp *dp);

/** Counters. */
struct mw_shm_dp_stats {
	uint64_t submits;      /**< valid submits taken */
	uint64_t completions;  /**< completions posted with status 0 */
	uint64_t failures;     /**< completions posted with an error */
	uint64_t bad_submits;  /**< invalid submit descriptors */
	uint64_t bad_peers;    /**< ... of which naming no peer */
	uint64_t stale_peers;  /**< ... of which naming a peer generation
				    that is not the entry's (MW_ESTALE; not
				    in bad_peers) */
	uint64_t deliveries;
	uint64_t releases;
	uint64_t bad_releases; /**< releases of buffers the app did not hold */
	uint64_t attaches;     /**< apps accepted */
	uint64_t app_gone;     /**< apps lost (death, detach, replaced) */
	uint64_t proto_errors; /**< impossible ring indices from the app */
	uint64_t reclaimed;    /**< RX buffers taken back from a gone app */
	uint64_t redelivered;  /**< deliveries a gone app never took, given
				    to the next app */
	uint64_t broken;       /**< times the region's file was found resized
				    (REGION_BROKEN) */
	uint64_t faults;       /**< ... of which seen as a SIGBUS */
	uint64_t recreated;    /**< new files published (REGION_NEW) */
	uint64_t recreate_errors; /**< attempts that failed (last_error) */
	uint64_t rx_lost;      /**< received tensors lost with a broken region */
	uint64_t dp_generation; /**< of the file served, 0 while broken */
	int32_t last_error;    /**< why the last re-creation failed */
	uint32_t rx_free_slots, rx_slots;
	uint32_t app_attached; /**< 1 while an app is served */
	uint32_t inflight;     /**< submits taken, not completed */
};

/** Copy the counters. */
void mw_shm_dp_stats(const struct mw_shm_dp *dp, struct mw_shm_dp_stats *st);

/** The mapped region (for tests and tools). */
void *mw_shm_dp_base(const struct mw_shm_dp *dp);

#endif /* MW_SHM_DP_H */
