/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_shm.h
 * The shared-memory channel between a maskwire data plane and one training
 * process ("the app"): its fixed byte layout (the ABI) and the pure helpers
 * both sides use on it (rings, layout checks, descriptor checks).
 *
 * This header needs only C11 (<stdint.h>, <stdatomic.h>) and common/'s
 * mw_err.h and header-only mw_dtype.h; it includes nothing from DPDK, the
 * codec or the transport core, so any process can map the region.
 * docs/SHM.md is the normative description for other languages.
 *
 * ## Region
 * One file (normally under /dev/shm), created and sized by the data plane.
 * All integers are little-endian, all offsets are from the start of the
 * region, every section is 64-byte aligned, pools are page aligned:
 *
 *     [0, 4096)                  struct mw_shm_hdr
 *     ring[MW_SHM_RING_SUBMIT]   app -> dp   tensors to send
 *     ring[MW_SHM_RING_COMPLETE] dp  -> app  outcome of each send
 *     ring[MW_SHM_RING_DELIVER]  dp  -> app  received tensors
 *     ring[MW_SHM_RING_RELEASE]  app -> dp   delivered buffers given back
 *     peer table (ABI minor >= 1) dp -> app  the data plane's peers
 *     TX pool  tx_slots x slot_size  send buffers, allocated by the app
 *     RX pool  rx_slots x slot_size  delivery buffers, allocated by the dp
 *
 * A ring is struct mw_shm_ring (two 64-byte lines: producer index, consumer
 * index) followed by cap descriptors of 128 bytes (struct mw_shm_desc).
 *
 * ## Ownership (who writes what)
 * - The data plane writes the header identity, its own line (dp_state,
 *   dp_heartbeat, app_ack), the link counters (wire), the producer index
 *   of COMPLETE and DELIVER, the consumer index of SUBMIT and RELEASE, and
 *   the RX pool.
 * - The app writes its own line (app_gen, app_pid), the producer index of
 *   SUBMIT and RELEASE, the consumer index of COMPLETE and DELIVER, and the
 *   TX pool.
 * - Each pool has exactly one allocator, kept in the private memory of the
 *   side that allocates (TX: app, RX: data plane). Buffers change hands only
 *   through descriptors; neither side ever trusts the other's writes: every
 *   index and descriptor read from the region is validated before use.
 *
 * ## Liveness
 * Both sides hold an open-file-description lock (F_OFD_SETLK) on one byte of
 * the file while they use it: the data plane on byte MW_SHM_LOCK_DP, the app
 * on byte MW_SHM_LOCK_APP. The kernel drops it when the process dies, so the
 * other side can tell "dead" from "slow" with F_OFD_GETLK. The app lock also
 * makes the app the only producer of its rings (a second app gets MW_EBUSY).
 */
#ifndef MW_SHM_H
#define MW_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_dtype.h"
#include "mw_err.h"

/** "MWSHMEM\0" read as a little-endian uint64. */
#define MW_SHM_MAGIC UINT64_C(0x004D454D4853574D)
/** Layout version; a reader refuses any other value (MW_EVERSION). */
#define MW_SHM_ABI_VERSION 1u
/** Additions within a version that an older reader may ignore (header
 *  offset 384). 1: the peer table and the descriptor's peer index.
 *  2: accepted peers in the table, the entries' generation and flags,
 *  the descriptor's peer generation (offset 108).
 *  3: SUBMIT flags (offset 70): MW_SHM_SUB_RELIABLE. */
#define MW_SHM_ABI_MINOR 3u
/** Bytes of one peer-table entry and of the table's control block. */
#define MW_SHM_PEER_SIZE 128u
#define MW_SHM_PEER_CTL_SIZE 64u
/** Peer-table entries when the geometry says 0, and the bound a reader
 *  enforces. */
#define MW_SHM_PEERS_DEFAULT 64u
#define MW_SHM_PEERS_MAX 65536u
/** Bytes of the header (first section of the region). */
#define MW_SHM_HDR_SIZE 4096u
/** Bytes of one descriptor. */
#define MW_SHM_DESC_SIZE 128u
/** Bytes of a ring's control block (before its descriptors). */
#define MW_SHM_RING_CTL_SIZE 128u
/** Number of rings. */
#define MW_SHM_RINGS 4u
/** Maximum tensor rank. */
#define MW_SHM_MAX_DIMS 8u
/** Bounds a reader enforces on the header's sizes. */
#define MW_SHM_RING_MIN 2u
#define MW_SHM_RING_MAX (1u << 20)
#define MW_SHM_SLOT_MIN 64u
#define MW_SHM_SLOT_MAX (1u << 30)
#define MW_SHM_SLOTS_MAX (1u << 24)
/** Byte of the file locked by the data plane / by the attached app. */
#define MW_SHM_LOCK_DP 0
#define MW_SHM_LOCK_APP 1

/** Ring indices in mw_shm_hdr.ring[]. */
enum mw_shm_ring_id {
	MW_SHM_RING_SUBMIT = 0,   /**< app -> dp: tensors to send */
	MW_SHM_RING_COMPLETE = 1, /**< dp -> app: send outcomes */
	MW_SHM_RING_DELIVER = 2,  /**< dp -> app: received tensors */
	MW_SHM_RING_RELEASE = 3,  /**< app -> dp: delivered buffers returned */
};

/** mw_shm_hdr.dp_state values. */
enum mw_shm_dp_state {
	MW_SHM_DP_READY = 1,  /**< serving */
	MW_SHM_DP_CLOSED = 2, /**< shut down cleanly; the region is dead */
};

/** Tensor kinds: the same numbers as enum mw_kind of the wire format. */
enum mw_shm_kind {
	MW_SHM_KIND_ACTIVATION = 0,
	MW_SHM_KIND_GRADIENT = 1,
	MW_SHM_KIND_LOGITS = 2,
	MW_SHM_KIND_LABELS = 3,
	MW_SHM_KIND_OTHER = 4,
	MW_SHM_KIND_COUNT_
};

/** Codec numbers are enum mw_codec of mw_codec.h (0..5); this is their
 *  count, and the last rounding mode (enum mw_rounding) plus one. */
#define MW_SHM_CODEC_COUNT 6u
#define MW_SHM_ROUNDING_COUNT 3u
#define MW_SHM_CODEC_RAW 5u

/** Where a ring lives (in the header). */
struct mw_shm_ring_info {
	uint64_t off;      /**< offset of its struct mw_shm_ring */
	uint32_t cap;      /**< descriptors, a power of two */
	uint32_t reserved; /**< 0 */
};

/**
 * The data plane's link counters, published in the header (offset 256) so
 * the app can report what its tensors cost on the wire. Written by the data
 * plane only (relaxed stores, then seq with release); each field is
 * monotonic while one data plane serves the region. A data plane that does
 * not publish them leaves them 0. Bytes count whole frames as handed to and
 * taken from the port (Ethernet header included, no FCS).
 */
struct mw_shm_wire {
	_Atomic uint64_t seq;            /**<   0: +1 per publication */
	_Atomic uint64_t tx_frames;      /**<   8: frames sent (all kinds) */
	_Atomic uint64_t tx_bytes;       /**<  16 */
	_Atomic uint64_t rx_frames;      /**<  24: frames received (all) */
	_Atomic uint64_t rx_bytes;       /**<  32 */
	_Atomic uint64_t tensors_tx;     /**<  40: sends completed */
	_Atomic uint64_t tensors_rx;     /**<  48: tensors delivered */
	_Atomic uint64_t tensors_failed; /**<  56: sends failed */
	_Atomic uint64_t retransmits;    /**<  64: segments sent again */
	_Atomic uint64_t dense_tx_bytes; /**<  72: dense bytes of completed sends */
	_Atomic uint64_t dense_rx_bytes; /**<  80: dense bytes delivered */
	uint64_t reserved[5];            /**<  88: zero */
};

/**
 * The region header, offset 0, MW_SHM_HDR_SIZE bytes.
 * Identity fields (up to ring[]) are written once by the creator before
 * the file is given its public name and never change afterwards.
 */
struct mw_shm_hdr {
	uint64_t magic;          /**<   0: MW_SHM_MAGIC */
	uint32_t abi_version;    /**<   8: MW_SHM_ABI_VERSION */
	uint32_t hdr_size;       /**<  12: MW_SHM_HDR_SIZE */
	uint64_t region_size;    /**<  16: bytes of the whole file */
	uint64_t dp_generation;  /**<  24: creator's incarnation, never 0; a
				  *       re-created region has a new one */
	uint32_t desc_size;      /**<  32: MW_SHM_DESC_SIZE */
	uint32_t slot_size;      /**<  36: pool allocation unit, power of 2 */
	uint32_t tx_slots;       /**<  40: slots in the TX pool */
	uint32_t rx_slots;       /**<  44: slots in the RX pool */
	uint64_t tx_off;         /**<  48: TX pool offset (page aligned) */
	uint64_t rx_off;         /**<  56: RX pool offset (page aligned) */
	struct mw_shm_ring_info ring[MW_SHM_RINGS]; /**< 64: by mw_shm_ring_id */

	/* 128: written by the data plane only */
	_Atomic uint32_t dp_state;     /**< 128: enum mw_shm_dp_state */
	uint32_t dp_pid;               /**< 132: informational */
	_Atomic uint64_t dp_heartbeat; /**< 136: +1 per service call */
	_Atomic uint64_t app_ack;      /**< 144: app_gen being served, 0 none */
	uint8_t dp_pad[40];            /**< 152 */

	/* 192: written by the app only */
	_Atomic uint64_t app_gen;      /**< 192: attach generation, 0 none */
	_Atomic uint32_t app_pid;      /**< 200: informational */
	uint32_t app_reserved;         /**< 204 */
	uint8_t app_pad[48];           /**< 208 */

	/* 256: written by the data plane only: its link counters */
	struct mw_shm_wire wire;       /**< 256 */

	/* 384: identity of ABI minor >= 1, written once like bytes 0..127.
	 * A region of minor 0 has zeros here: no peer table, one peer. */
	uint32_t abi_minor;  /**< 384: MW_SHM_ABI_MINOR */
	uint32_t peer_cap;   /**< 388: entries of the peer table */
	uint64_t peer_off;   /**< 392: offset of struct mw_shm_peers */
	uint32_t peer_size;  /**< 400: MW_SHM_PEER_SIZE */
	uint32_t minor_pad;  /**< 404: zero */

	uint8_t tail_pad[MW_SHM_HDR_SIZE - 408]; /**< 408: zero */
};

/** mw_shm_peer.state values. */
enum mw_shm_peer_state {
	MW_SHM_PEER_NONE = 0,       /**< no peer at this index */
	MW_SHM_PEER_DOWN = 1,       /**< known, no session */
	MW_SHM_PEER_CONNECTING = 2, /**< session being opened */
	MW_SHM_PEER_UP = 3,         /**< session open */
	MW_SHM_PEER_STATE_COUNT_
};

/**
 * The peer table's control block (at mw_shm_hdr.peer_off), followed by
 * peer_cap entries. Written by the data plane only; a reader clamps count
 * to its own copy of peer_cap.
 */
struct mw_shm_peers {
	_Atomic uint32_t count; /**< 0: entries in use (indices 0..count-1) */
	uint32_t reserved;      /**< 4: zero */
	_Atomic uint64_t seq;   /**< 8: +1 per change of any entry */
	uint8_t pad[48];        /**< 16: zero */
	/* 64: peer_cap struct mw_shm_peer */
};

/** mw_shm_peer.flags bits (ABI minor >= 2). */
#define MW_SHM_PEER_ACCEPTED 0x1u /**< a peer the data plane accepted (it
				       was not configured): its index is
				       reused after it is reclaimed, so a
				       SUBMIT to it must name its gen */

/**
 * One peer of the data plane, 128 bytes, at index i of the table: the
 * descriptor's peer field (offset 76) names it.
 * From ABI minor 2 an index can change hands: an accepted peer's index is
 * given to the next peer accepted after it is reclaimed. gen tells them
 * apart: it is non-zero for every entry with a peer, and an index that
 * takes a new peer gets a higher one (configured peers keep theirs). Written by the data plane
 * under a sequence lock: seq is odd while the entry is being written; a
 * reader loads seq (acquire), copies the entry, fences (acquire), loads
 * seq again, and uses the copy only if both are equal and even.
 * Counters are monotonic while one data plane serves the region.
 */
struct mw_shm_peer {
	_Atomic uint32_t seq;    /**<   0: sequence lock */
	uint8_t state;           /**<   4: enum mw_shm_peer_state */
	uint8_t flags;           /**<   5: MW_SHM_PEER_* (minor >= 2) */
	uint16_t port;           /**<   6: UDP port */
	uint8_t ip[4];           /**<   8: IPv4 address, network order */
	uint32_t restarts;       /**<  12: times the peer came back with a new
				  *       incarnation (its state was reset) */
	uint32_t sessions;       /**<  16: sessions opened with it */
	uint32_t remote_inc;     /**<  20: its incarnation, 0 unknown */
	int32_t last_reason;     /**<  24: why its last session closed
				  *       (negative mw_err), 0 none */
	uint32_t gen;            /**<  28: the generation of the peer at this
				  *       index, != 0 when state != NONE
				  *       (minor >= 2; 0 before) */
	uint64_t tensors_tx;     /**<  32: sends to it completed */
	uint64_t tensors_rx;     /**<  40: tensors from it delivered */
	uint64_t tensors_failed; /**<  48: sends to it failed */
	uint64_t dense_tx_bytes; /**<  56 */
	uint64_t dense_rx_bytes; /**<  64 */
	uint64_t srtt_ns;        /**<  72: smoothed RTT, 0 unknown */
	uint64_t reserved[6];    /**<  80: zero */
};

/** A ring's control block: producer and consumer index on their own
 *  cache lines. Indices run freely modulo 2^32; slot = index & (cap-1). */
struct mw_shm_ring {
	_Atomic uint32_t head; /**< 0: next index the producer writes */
	uint8_t pad0[60];
	_Atomic uint32_t tail; /**< 64: next index the consumer reads */
	uint8_t pad1[60];
	/* 128: cap descriptors follow */
};

/**
 * One descriptor, the unit of every ring (128 bytes).
 * - SUBMIT: the app fills everything but status (0); buf_* is in the TX pool.
 * - COMPLETE: the submit descriptor echoed, with status set.
 * - DELIVER: metadata of a received tensor; buf_* is in the RX pool;
 *   codec/bits/rounding/k/ratio say how it travelled; peer/peer_gen
 *   name its source.
 * - RELEASE: buf_off/buf_len of a delivered buffer; other fields ignored.
 * A tensor of ndim dims holds product(dims) elements (1 for ndim 0) and
 * buf_len = elements x dtype size. buf_len 0 means no buffer (buf_off 0).
 * The shape is the wire's (32-bit dims, as struct mw_tensor_meta), the
 * element types the wire's (enum mw_dtype of mw_dtype.h).
 */
struct mw_shm_desc {
	uint64_t cookie;   /**<   0: app's id of a send, echoed in COMPLETE */
	uint64_t tag;      /**<   8: application tag */
	uint64_t buf_off;  /**<  16: buffer offset from the region start */
	uint64_t buf_len;  /**<  24: buffer bytes */
	uint32_t dims[MW_SHM_MAX_DIMS]; /**< 32: unused dims are 0 */
	uint8_t ndim;      /**<  64: 0..MW_SHM_MAX_DIMS */
	uint8_t dtype;     /**<  65: enum mw_dtype */
	uint8_t kind;      /**<  66: enum mw_shm_kind */
	uint8_t codec;     /**<  67: enum mw_codec */
	uint8_t bits;      /**<  68: mask width 1..8 (0 where unused) */
	uint8_t rounding;  /**<  69: enum mw_rounding */
	uint16_t reserved; /**<  70: flags. SUBMIT: MW_SHM_SUB_* (minor >= 3;
			    *        0 before); COMPLETE and DELIVER:
			    *        MW_SHM_DLV_*; else 0 */
	int32_t status;    /**<  72: COMPLETE: 0 or a negative mw_err */
	uint32_t peer;     /**<  76: SUBMIT: destination, COMPLETE: echoed,
			    *        DELIVER: source; an index of the peer
			    *        table (0: the data plane's first peer) */
	uint64_t k;        /**<  80: values kept; 0: use ratio */
	double ratio;      /**<  88: sparsification ratio in [0,1) */
	/* 96..127: 0, except in a DELIVER with MW_SHM_DLV_PARTIAL: */
	uint64_t elems_lost; /**<  96: elements missing (zero-filled) */
	uint32_t loss_cnt;   /**< 104: ranges in the loss map */
	uint32_t peer_gen;   /**< 108: (minor >= 2) SUBMIT: the gen of the
				   peer table entry the app means, 0: do
				   not check (refused for an accepted
				   peer's index); COMPLETE: echoed;
				   DELIVER: the source entry's gen */
	uint64_t loss_off;   /**< 112: region offset of the loss map
				   (loss_cnt struct mw_shm_range, in the
				   buffer's slots after the tensor), 0 if it
				   did not fit there */
	uint64_t pad3;       /**< 120: 0 */
};

/** SUBMIT flags (offset 70, ABI minor >= 3); a data plane refuses a
 *  submit with any other bit set (MW_EINVAL). */
#define MW_SHM_SUB_RELIABLE 0x1u /**< send it without a deadline, even from
				      a data plane that gives the app's
				      tensors one (PROTOCOL.md 9.1) */
#define MW_SHM_SUB_FLAGS MW_SHM_SUB_RELIABLE

/** DELIVER flags (offset 70). */
#define MW_SHM_DLV_PARTIAL 0x1u /**< delivered at its deadline with element
				     ranges missing (zeros; PROTOCOL.md 9.1) */

/** One loss-map entry: elements [off, off + cnt) did not arrive. */
struct mw_shm_range {
	uint64_t off, cnt;
};

_Static_assert(sizeof(struct mw_shm_hdr) == MW_SHM_HDR_SIZE, "hdr size");
_Static_assert(offsetof(struct mw_shm_hdr, ring) == 64, "hdr ring");
_Static_assert(offsetof(struct mw_shm_hdr, dp_state) == 128, "hdr dp");
_Static_assert(offsetof(struct mw_shm_hdr, dp_heartbeat) == 136, "hdr hb");
_Static_assert(offsetof(struct mw_shm_hdr, app_ack) == 144, "hdr ack");
_Static_assert(offsetof(struct mw_shm_hdr, app_gen) == 192, "hdr app");
_Static_assert(offsetof(struct mw_shm_hdr, app_pid) == 200, "hdr pid");
_Static_assert(offsetof(struct mw_shm_hdr, wire) == 256, "hdr wire");
_Static_assert(offsetof(struct mw_shm_hdr, abi_minor) == 384, "hdr minor");
_Static_assert(offsetof(struct mw_shm_hdr, peer_off) == 392, "hdr peers");
_Static_assert(offsetof(struct mw_shm_hdr, peer_size) == 400, "hdr psize");
_Static_assert(sizeof(struct mw_shm_peers) == MW_SHM_PEER_CTL_SIZE, "peers");
_Static_assert(offsetof(struct mw_shm_peers, seq) == 8, "peers seq");
_Static_assert(sizeof(struct mw_shm_peer) == MW_SHM_PEER_SIZE, "peer");
_Static_assert(offsetof(struct mw_shm_peer, state) == 4, "peer state");
_Static_assert(offsetof(struct mw_shm_peer, port) == 6, "peer port");
_Static_assert(offsetof(struct mw_shm_peer, ip) == 8, "peer ip");
_Static_assert(offsetof(struct mw_shm_peer, restarts) == 12, "peer rst");
_Static_assert(offsetof(struct mw_shm_peer, flags) == 5, "peer flags");
_Static_assert(offsetof(struct mw_shm_peer, last_reason) == 24, "peer why");
_Static_assert(offsetof(struct mw_shm_peer, gen) == 28, "peer gen");
_Static_assert(offsetof(struct mw_shm_peer, tensors_tx) == 32, "peer tx");
_Static_assert(offsetof(struct mw_shm_peer, srtt_ns) == 72, "peer srtt");
_Static_assert(sizeof(struct mw_shm_wire) == 128, "wire size");
_Static_assert(sizeof(struct mw_shm_ring) == MW_SHM_RING_CTL_SIZE, "ring");
_Static_assert(offsetof(struct mw_shm_ring, tail) == 64, "ring tail");
_Static_assert(sizeof(struct mw_shm_desc) == MW_SHM_DESC_SIZE, "desc");
_Static_assert(offsetof(struct mw_shm_desc, dims) == 32, "desc dims");
_Static_assert(offsetof(struct mw_shm_desc, ndim) == 64, "desc ndim");
_Static_assert(offsetof(struct mw_shm_desc, status) == 72, "desc status");
_Static_assert(offsetof(struct mw_shm_desc, peer) == 76, "desc peer");
_Static_assert(offsetof(struct mw_shm_desc, k) == 80, "desc k");
_Static_assert(offsetof(struct mw_shm_desc, ratio) == 88, "desc ratio");
_Static_assert(offsetof(struct mw_shm_desc, elems_lost) == 96, "desc lost");
_Static_assert(offsetof(struct mw_shm_desc, loss_cnt) == 104, "desc lcnt");
_Static_assert(offsetof(struct mw_shm_desc, peer_gen) == 108, "desc pgen");
_Static_assert(offsetof(struct mw_shm_desc, loss_off) == 112, "desc loff");
_Static_assert(sizeof(_Atomic uint64_t) == 8 && sizeof(_Atomic uint32_t) == 4,
	       "atomics must be plain-sized");
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
	       "lock-free atomics are required across processes");

/* ---- sizes ------------------------------------------------------------ */

/** Region layout parameters (what the creator chooses). */
struct mw_shm_geom {
	uint32_t ring_size; /**< SUBMIT/COMPLETE/DELIVER ring entries, 2^n */
	uint32_t slot_size; /**< pool unit, 2^n in [64, 2^30] */
	uint32_t tx_slots;  /**< 1..MW_SHM_SLOTS_MAX */
	uint32_t rx_slots;  /**< 1..MW_SHM_SLOTS_MAX */
	uint32_t peer_cap;  /**< peer-table entries, 1..MW_SHM_PEERS_MAX;
			         0: MW_SHM_PEERS_DEFAULT */
};

/** Bytes of a ring with cap descriptors (compile-time twin). */
#define MW_SHM_RING_BYTES(cap)                                                \
	((uint64_t)MW_SHM_RING_CTL_SIZE + (uint64_t)(cap) * MW_SHM_DESC_SIZE)

/**
 * Fill the identity fields of a header (magic ... ring[]) for a geometry.
 * The RELEASE ring gets the smallest power of two >= max(rx_slots,
 * ring_size), so it can never overflow for an app that releases each
 * delivered buffer once.
 * @param g    geometry.
 * @param gen  dp_generation to record (non-zero).
 * @param h    out: header; only identity fields are written.
 * @return region size in bytes, or MW_EINVAL (sizes out of bounds, gen 0).
 */
int64_t mw_shm_layout(const struct mw_shm_geom *g, uint64_t gen,
		      struct mw_shm_hdr *h);

/**
 * Validate a header read from a region of file_size bytes: magic, version,
 * sizes, and that every section lies inside the region, in order, aligned
 * and without overlap (the peer table too when abi_minor >= 1: between the
 * RELEASE ring and the TX pool). Pure: reads only identity fields.
 * @return 0; MW_EBADMAGIC; MW_EVERSION; MW_EFORMAT (anything else: the
 *         message for the user is "corrupt or foreign region").
 */
int mw_shm_hdr_check(const struct mw_shm_hdr *h, uint64_t file_size);

/**
 * Bytes a tensor of these dims and dtype (enum mw_dtype) holds.
 * @return bytes, or MW_EINVAL (ndim > 8, unknown dtype), MW_ERANGE
 *         (overflows 2^62).
 */
int64_t mw_shm_tensor_bytes(unsigned dtype, unsigned ndim,
			    const uint32_t *dims);

/**
 * Copy a descriptor out of the region, exactly once. The other process may
 * rewrite it at any time, so it is copied to private memory before it is
 * checked, and every later use reads the copy: a compiler barrier after
 * the copy keeps the compiler from re-reading shared memory in place of
 * the copy (which the C memory model would otherwise allow). Every read of
 * a descriptor slot goes through here (the ring functions do).
 */
void mw_shm_desc_load(struct mw_shm_desc *dst, const struct mw_shm_desc *src);

/**
 * Check a descriptor against a pool: known dtype/kind/codec, ndim and dims
 * (unused dims 0), buf_len equal to the tensor's bytes, the buffer inside
 * [pool_off, pool_off + pool_len) (or buf_len 0 and buf_off 0), codec
 * parameters in range (bits <= 8, rounding known, ratio finite in [0,1)),
 * float codecs only on MW_DT_F32.
 * @return 0, MW_EINVAL (metadata), MW_ERANGE (buffer outside the pool),
 *         MW_EUNSUPP (codec/dtype combination).
 */
int mw_shm_desc_check(const struct mw_shm_desc *d, uint64_t pool_off,
		      uint64_t pool_len);

/**
 * Read peer-table entry idx of a validated region (h: the reader's own
 * copy of the header) under its sequence lock, copying it to private
 * memory, and check it (state known; from minor 2 an entry with a peer
 * has a non-zero gen; unknown flag bits and pad fields are ignored).
 * @return 0 (out filled, out->seq the even sequence read); MW_ENOENT (no
 *         table: minor 0, or idx >= peer_cap); MW_EAGAIN (the entry kept
 *         changing during a few attempts: try again); MW_EFORMAT (an
 *         unknown state, or a peer without a gen: the writer is
 *         corrupt).
 */
int mw_shm_peer_load(const void *base, const struct mw_shm_hdr *h,
		     uint32_t idx, struct mw_shm_peer *out);

/**
 * The generation rule of a SUBMIT (docs/SHM.md, Peers): may a submit
 * naming generation peer_gen go to the peer a table entry holds (its
 * flags and gen)? Yes for its own gen, or for 0 when the index is not an
 * accepted peer's (a configured peer's index never changes hands).
 * @return 1; 0: the submit meant another peer (complete it MW_ESTALE).
 */
static inline int mw_shm_peer_gen_ok(uint8_t flags, uint32_t gen,
				     uint32_t peer_gen)
{
	return peer_gen ? peer_gen == gen
			: !(flags & MW_SHM_PEER_ACCEPTED);
}

/**
 * Entries in use in the peer table, read once and clamped to h->peer_cap
 * (0 for a region without a table).
 */
uint32_t mw_shm_peer_count(const void *base, const struct mw_shm_hdr *h);

/* ---- rings -------------------------------------------------------------- */

/**
 * One side's handle on a ring. The side's own index lives here (a private
 * shadow: it is never read back from shared memory); the other side's index
 * is read from the region with acquire ordering and validated.
 */
struct mw_shm_ring_end {
	struct mw_shm_ring *ctl;
	struct mw_shm_desc *slot;
	uint32_t mask; /**< cap - 1 */
	uint32_t idx;  /**< producer: next head; consumer: next tail */
	int producer;  /**< which end this is */
};

/**
 * Bind an end to ring id of a mapped, validated region and take its own
 * index from shared memory (call only when the other side is known not to
 * be moving it, i.e. right after a reset).
 * @param producer  non-zero for the producer end.
 */
void mw_shm_ring_bind(struct mw_shm_ring_end *e, void *base,
		      const struct mw_shm_hdr *h, unsigned id, int producer);

/**
 * Producer: copy up to n descriptors into the ring, then publish them with
 * one release store of head.
 * @return descriptors enqueued (0 when full), or MW_EFORMAT when the
 *         consumer index is impossible (tail outside [head - cap, head]):
 *         the other side is corrupt; stop using the ring.
 */
int mw_shm_ring_enqueue(struct mw_shm_ring_end *e,
			const struct mw_shm_desc *d, unsigned n);

/**
 * Consumer: copy up to n descriptors out, then free their slots with one
 * release store of tail.
 * @return descriptors dequeued (0 when empty), or MW_EFORMAT when the
 *         producer index is impossible (more than cap entries).
 */
int mw_shm_ring_dequeue(struct mw_shm_ring_end *e, struct mw_shm_desc *d,
			unsigned n);

/**
 * Entries in the ring as seen from this end (producer: enqueued and not yet
 * consumed; consumer: available to dequeue).
 * @return 0..cap, or MW_EFORMAT (impossible index from the other side).
 */
int64_t mw_shm_ring_count(const struct mw_shm_ring_end *e);

/** Capacity of a bound ring. */
static inline uint32_t mw_shm_ring_cap(const struct mw_shm_ring_end *e)
{
	return e->mask + 1u;
}

/* ---- slot allocator (private memory of the allocating side) ------------ */

/**
 * A next-fit allocator of runs of contiguous slots, over a caller-provided
 * bitmap (one bit per slot, 1 = in use). It lives in the private memory of
 * the side that owns a pool, so the other process can never corrupt it.
 */
struct mw_slotmap {
	uint64_t *bits;  /**< ceil(nslots / 64) words */
	uint32_t nslots;
	uint32_t nfree;
	uint32_t hint;   /**< where the next search starts */
};

/** Words of bitmap a slot map of nslots needs. */
#define MW_SLOTMAP_WORDS(nslots) (((uint64_t)(nslots) + 63u) / 64u)

/** Initialise (all free). bits must hold MW_SLOTMAP_WORDS(nslots) words. */
void mw_slotmap_init(struct mw_slotmap *m, uint64_t *bits, uint32_t nslots);

/**
 * Allocate n (>= 1) contiguous slots.
 * @return the first slot, MW_EAGAIN (no run of n free slots now), or
 *         MW_ELIMIT (n > nslots: can never succeed).
 */
int64_t mw_slotmap_alloc(struct mw_slotmap *m, uint32_t n);

/**
 * Free n slots starting at first (all must be in use).
 * @return 0, or MW_EINVAL (range outside the map or a slot already free;
 *         nothing is changed).
 */
int mw_slotmap_free(struct mw_slotmap *m, uint32_t first, uint32_t n);

#endif /* MW_SHM_H */
