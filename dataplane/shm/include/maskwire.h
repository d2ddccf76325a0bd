/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file maskwire.h
 * libmaskwire: the training process's client of a maskwire data plane.
 *
 * A client attaches to the shared-memory region its local data plane
 * created (mw_shm.h, docs/SHM.md), sends tensors from buffers it fills in
 * place, and receives tensors as pointers into the region. No DPDK; links
 * with -lmaskwire. The data plane encodes and decodes (MS, top-k...); the
 * client only sees dense tensors. Every name of this API starts with
 * mw_client_ (MW_CLIENT_ for constants).
 *
 * Sending:   mw_client_alloc() -> fill b.data -> mw_client_send() ->
 *            (later) mw_client_wait() or mw_client_poll_failure(); the
 *            buffer goes back to the pool by itself when the data plane
 *            reports the outcome.
 * Receiving: mw_client_recv() -> read rx.buf.data -> mw_client_release().
 *
 * Errors follow mw_err.h (negative codes; mw_strerror()). Calls that wait
 * take timeout_ms: 0 returns MW_EAGAIN at once when the call would wait
 * (a full ring or pool: back-pressure, nothing is lost), > 0 waits at most
 * that long and then returns MW_ETIMEDOUT, < 0 waits without limit. Waiting
 * polls the region with a short sleep (no busy loop).
 *
 * A data plane that dies, restarts or shuts down is detected by every call
 * (at the latest when it would wait): MW_ERESET or MW_ESHUTDOWN, and from
 * then on every call returns that code; mw_client_detach() and attach
 * again. The client never hangs on a dead data plane and never reads a
 * re-created region's memory as its own.
 *
 * A client object is not thread-safe; use one per thread or lock around it.
 * Only one client can be attached to a region at a time (MW_EBUSY).
 */
#ifndef MASKWIRE_H
#define MASKWIRE_H

#include <stdint.h>

#include "mw_dtype.h"
#include "mw_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque attached client. */
struct mw_client;

/** Maximum tensor rank. */
#define MW_CLIENT_MAX_DIMS 8

/** Attach options. */
struct mw_client_opts {
	int32_t timeout_ms; /**< wait for the data plane to accept us */
	uint32_t stale_ms;  /**< while waiting, a heartbeat that has not moved
				 for this long means a hung data plane
				 (MW_ERESET); 0 disables the check */
};

/** Tensor metadata (dtype: enum mw_dtype of mw_dtype.h, kind: enum
 *  mw_shm_kind, codec/rounding: enum mw_codec / enum mw_rounding of
 *  mw_codec.h). */
struct mw_client_meta {
	uint64_t tag;               /**< application tag */
	uint32_t dims[MW_CLIENT_MAX_DIMS]; /**< unused dims 0 */
	uint8_t ndim;
	uint8_t dtype;
	uint8_t kind;
	uint8_t codec;    /**< how to send it (receive: how it travelled) */
	uint8_t bits;     /**< mask width for MS/QUANT codecs */
	uint8_t rounding;
	uint16_t peer;    /**< send: the destination, an index of the data
			       plane's peer table (mw_client_peers()); 0 is
			       its first peer. receive: the source */
	uint64_t k;       /**< values kept; 0: use ratio */
	double ratio;     /**< sparsification ratio in [0,1) */
	uint32_t peer_gen; /**< send: the generation of the peer meant at
			       index peer (mw_client_peer.gen, or a
			       received tensor's peer_gen): the send fails
			       with MW_ESTALE if the index names another
			       peer now; 0: do not check, refused for an
			       accepted peer's index (MW_ESTALE). receive:
			       the source's generation (0 from a data plane
			       of ABI minor < 2) */
	uint32_t flags;   /**< send: MW_CLIENT_SEND_* bits, others 0
			       (MW_EINVAL); receive: 0 */
};

/** mw_client_meta.flags of a send. */
#define MW_CLIENT_SEND_RELIABLE 0x1u /**< no deadline for this tensor, even
					  from a data plane started with
					  --deadline-ms (MW_EUNSUPP from a
					  data plane of ABI minor < 3) */

/** A buffer in the region. */
struct mw_client_buf {
	void *data;   /**< NULL for a 0-byte buffer */
	uint64_t len; /**< bytes */
	uint64_t off; /**< offset in the region (identifies the buffer) */
};

/** One loss-map entry: elements [off, off + cnt) did not arrive. */
struct mw_client_range {
	uint64_t off, cnt;
};

/** A received tensor: metadata and its buffer (buf.len = its bytes). */
struct mw_client_rx {
	struct mw_client_meta meta;
	struct mw_client_buf buf;
	uint32_t partial;    /**< 1: delivered at its deadline with element
				  ranges missing, zero-filled (PROTOCOL.md
				  9.1); 0: whole */
	uint32_t loss_cnt;   /**< ranges in the loss map */
	uint64_t elems_lost; /**< elements missing */
	const struct mw_client_range *loss; /**< the loss map, in the buffer's
				  slots (valid until release); NULL when whole,
				  or when the map did not fit there (then only
				  loss_cnt and elems_lost are known) */
};

/** A send the data plane could not carry out. */
struct mw_client_failure {
	int64_t cookie; /**< what mw_client_send() returned */
	uint64_t tag;
	int32_t status; /**< negative mw_err: why */
	uint16_t kind;
	uint16_t peer;  /**< the send's mw_client_meta.peer (as sent, not as
			     the data plane echoed it); in what was the high
			     half of a 32-bit kind, so the layout is unchanged
			     and a one-peer app reads the same bytes */
};

/** Region facts and client state. */
struct mw_client_info {
	uint64_t dp_generation; /**< data plane incarnation */
	uint64_t app_gen;       /**< our attach generation */
	uint64_t region_size;
	uint64_t heartbeat;     /**< data plane's heartbeat now */
	uint32_t slot_size;
	uint32_t tx_slots, rx_slots;
	uint32_t tx_free_slots; /**< TX pool slots free now */
	uint32_t ring_size;     /**< SUBMIT ring entries */
	uint32_t inflight;      /**< sends without an outcome yet */
	uint32_t held;          /**< received buffers not released */
	uint32_t failures;      /**< failures not yet taken */
	uint64_t bad_deliveries; /**< invalid DELIVER descriptors skipped */
	/* The data plane's link counters (mw_shm_hdr.wire), read now; all 0
	 * when the data plane does not publish them (wire_seq 0). Bytes are
	 * whole frames, both directions of the data plane's port. */
	uint64_t wire_seq;        /**< publications so far */
	uint64_t wire_tx_frames, wire_tx_bytes;
	uint64_t wire_rx_frames, wire_rx_bytes;
	uint64_t tensors_tx;      /**< sends the data plane completed */
	uint64_t tensors_rx;      /**< tensors it delivered */
	uint64_t tensors_failed;  /**< sends it failed */
	uint64_t retransmits;     /**< segments it sent again */
	uint64_t dense_tx_bytes;  /**< dense bytes of completed sends */
	uint64_t dense_rx_bytes;  /**< dense bytes delivered */
	uint64_t sends_partial;   /**< sends of this client the peer delivered
				       partial at their deadline (their
				       COMPLETE says MW_SHM_DLV_PARTIAL) */
};

/** mw_client_peer.state values (enum mw_shm_peer_state). */
enum mw_client_peer_state {
	MW_CLIENT_PEER_NONE = 0,       /**< no peer at this index */
	MW_CLIENT_PEER_DOWN = 1,       /**< known, no session */
	MW_CLIENT_PEER_CONNECTING = 2, /**< session being opened */
	MW_CLIENT_PEER_UP = 3,         /**< session open */
};

/** mw_client_peer.flags: a peer the data plane accepted when it opened
 *  a session (--accept-peers), not one configured. Its index is given to
 *  another peer after it is reclaimed: name its gen when sending to it. */
#define MW_CLIENT_PEER_ACCEPTED 0x1u

/** One peer of the data plane (a private copy of its table entry). */
struct mw_client_peer {
	uint32_t index;       /**< what mw_client_meta.peer names */
	uint8_t ip[4];        /**< IPv4 address, network order */
	uint16_t port;        /**< UDP port */
	uint8_t state;        /**< enum mw_client_peer_state */
	uint8_t flags;        /**< MW_CLIENT_PEER_ACCEPTED */
	uint32_t restarts;    /**< the peer came back with a new incarnation
				   this many times: a change means it lost
				   its state (e.g. a device restarted) */
	uint32_t sessions;    /**< sessions opened with it */
	uint32_t remote_inc;  /**< its incarnation, 0 unknown */
	int32_t last_reason;  /**< why its last session closed, 0 none */
	uint32_t gen;         /**< generation of the peer at this index (what
				   mw_client_meta.peer_gen names): an index
				   that takes another peer gets a new one; 0
				   for a data plane of ABI minor < 2 */
	uint64_t tensors_tx, tensors_rx, tensors_failed;
	uint64_t dense_tx_bytes, dense_rx_bytes;
	uint64_t srtt_ns;     /**< smoothed RTT, 0 unknown */
};

/** Default options: 5 s attach timeout, stale check off. */
void mw_client_opts_default(struct mw_client_opts *o);

/**
 * Attach to a data plane's region.
 * @param name  the name the data plane was given ("maskwire0" for
 *              /dev/shm/maskwire0, or a path).
 * @param opts  options; NULL for defaults.
 * @param out   out: the client.
 * @return 0; MW_ENOENT (no such region: is the data plane running?);
 *         MW_EBADMAGIC / MW_EVERSION / MW_EFORMAT (not a maskwire region,
 *         another ABI version, or corrupt: check both sides' versions);
 *         MW_ERESET (nobody serves the region: a leftover of a dead data
 *         plane); MW_ESHUTDOWN (closed); MW_EBUSY (another client is
 *         attached); MW_ETIMEDOUT (the data plane did not accept us in
 *         time: is its poll loop running?); MW_EINVAL; MW_ENOMEM; MW_EIO.
 */
int mw_client_attach(const char *name, const struct mw_client_opts *opts,
		     struct mw_client **out);

/** Detach and free. Buffers held become the data plane's again; pointers
 *  into the region become invalid. NULL is accepted. */
void mw_client_detach(struct mw_client *c);

/**
 * Is the data plane still the one we attached to, alive and serving us?
 * @return 0, MW_ERESET (died, restarted, or dropped us), MW_ESHUTDOWN
 *         (closed), MW_EFORMAT (it broke the protocol).
 */
int mw_client_check(struct mw_client *c);

/**
 * Allocate a send buffer in the TX pool (fill it in place).
 * @param len  bytes (rounded up to slots; 0 gives data == NULL).
 * @return 0; MW_EAGAIN / MW_ETIMEDOUT (pool full: sends in flight free it
 *         as they complete); MW_ELIMIT (larger than the pool); MW_ERESET,
 *         MW_ESHUTDOWN.
 */
int mw_client_alloc(struct mw_client *c, uint64_t len, int timeout_ms,
		    struct mw_client_buf *b);

/**
 * Give back an allocated buffer that will not be sent.
 * @return 0, MW_EINVAL (not a buffer from mw_client_alloc() held by the
 *         caller).
 */
int mw_client_free(struct mw_client *c, const struct mw_client_buf *b);

/**
 * Send the tensor in b. Its bytes (product(dims) x dtype size) must fit in
 * b->len. On success the buffer belongs to the library until the outcome
 * arrives; on error it is still the caller's.
 * meta->peer names the destination; an index the data plane has no peer
 * for is refused there: the send fails with MW_ENOENT (mw_client_wait()).
 * meta->peer_gen guards against an index that changed hands (an accepted
 * peer reclaimed, its index given to another): a generation that is not
 * the entry's, or 0 for an accepted peer's index, fails the send with
 * MW_ESTALE; nothing is sent. An older data plane (ABI minor < 2) has no
 * generations: peer_gen is not passed on to it.
 * @return a cookie (> 0) naming this send; MW_EINVAL (meta inconsistent,
 *         b not an allocated buffer); MW_EUNSUPP (float codec on a
 *         non-float32 dtype, or meta->peer != 0 and the data plane has no
 *         peer table: an older one); MW_EAGAIN / MW_ETIMEDOUT (submit ring full or
 *         too many outcomes not yet taken: call mw_client_poll_failure());
 *         MW_ERESET, MW_ESHUTDOWN.
 */
int64_t mw_client_send(struct mw_client *c, const struct mw_client_buf *b,
		       const struct mw_client_meta *meta, int timeout_ms);

/**
 * Wait for the outcome of one send.
 * Successes leave no record, so a cookie whose outcome is already known
 * reads as 0 again; take each failure one way only (a failure returned
 * here is not returned by mw_client_poll_failure(), and one taken there
 * reads as 0 here).
 * @param status  out: 0 if the data plane carried it out, else the reason
 *                (negative mw_err) it gave.
 * @return 0 (outcome in *status); MW_EAGAIN / MW_ETIMEDOUT (not yet);
 *         MW_ENOENT (not a cookie mw_client_send() returned); MW_ERESET,
 *         MW_ESHUTDOWN.
 */
int mw_client_wait(struct mw_client *c, int64_t cookie, int timeout_ms,
		   int *status);

/**
 * Take the oldest failed send not yet reported (never waits).
 * @return 1 (f filled), 0 (none), MW_ERESET, MW_ESHUTDOWN.
 */
int mw_client_poll_failure(struct mw_client *c, struct mw_client_failure *f);

/**
 * Receive the next delivered tensor. rx->buf.data points into the RX pool
 * and stays valid until mw_client_release() (or mw_client_detach()).
 * @return 0; MW_EAGAIN / MW_ETIMEDOUT (nothing yet); MW_ERESET,
 *         MW_ESHUTDOWN, MW_EFORMAT.
 */
int mw_client_recv(struct mw_client *c, struct mw_client_rx *rx,
		   int timeout_ms);

/**
 * Give a received buffer back to the data plane (rx->buf of
 * mw_client_recv()).
 * @return 0; MW_ENOENT (not a buffer we hold: already released?);
 *         MW_ERESET, MW_ESHUTDOWN.
 */
int mw_client_release(struct mw_client *c, const struct mw_client_buf *b);

/**
 * The data plane's peers (its peer table, docs/SHM.md), read now: entry i
 * of out describes peer index i. The table is written by another process:
 * each entry is copied under its sequence lock and checked.
 * @param out  room for max entries (may be NULL when max is 0).
 * @return the number of peers in the table (may exceed max: only max are
 *         filled); 0 for a data plane without a table; MW_EAGAIN (an entry
 *         kept changing: ask again); MW_EFORMAT (a corrupt entry);
 *         MW_ERESET, MW_ESHUTDOWN.
 */
int mw_client_peers(struct mw_client *c, struct mw_client_peer *out,
		    unsigned max);

/** Describe the region and the client. @return 0. */
int mw_client_info(struct mw_client *c, struct mw_client_info *info);

/** Size of one element of a dtype (enum mw_dtype); 0 if unknown. The
 *  same as mw_dtype_size(), exported for bindings that cannot call a
 *  static inline function (ctypes). */
unsigned mw_client_elem_size(unsigned dtype);

#ifdef __cplusplus
}
#endif
#endif /* MASKWIRE_H */
