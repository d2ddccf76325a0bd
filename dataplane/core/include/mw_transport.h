/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_transport.h
 * maskwire transport core: tensors in, datagrams out, and back.
 *
 * A sans-I/O endpoint in the ngtcp2 mould. It never touches a socket, a
 * NIC or a clock: the caller feeds it received datagrams (UDP payloads)
 * with the current time, pulls datagrams to send into its own buffers,
 * asks when the next timer expires and calls back at that time. Peers are
 * small integers the caller registers (mw_ep_add_peer()); the caller maps
 * them to addresses, so the core knows nothing of Ethernet, IP or UDP.
 * Time is a uint64_t in nanoseconds from any origin; it must not go
 * backwards (assert). There is no global state: endpoints are independent
 * and one endpoint must only be used by one thread at a time.
 *
 * Errors follow mw_err.h: negative enum mw_err, 0 or a count on success.
 *
 * Typical loop (one iteration):
 *   for each received datagram: mw_ep_recv(ep, peer, buf, len, now);
 *   while (mw_ep_poll(ep, &ev)) handle the event;
 *   mw_ep_submit(...) new tensors (MW_EAGAIN: window full, try later);
 *   if (now >= mw_ep_expiry(ep)) mw_ep_handle_expiry(ep, now);
 *   while ((n = mw_ep_send(ep, now, buf, cap, &peer)) > 0) transmit it;
 *
 * The wire protocol is docs/PROTOCOL.md; the wire structs are mw_wire.h.
 */
#ifndef MW_TRANSPORT_H
#define MW_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mw_codec.h"
#include "mw_crypto.h"
#include "mw_err.h"
#include "mw_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque endpoint. */
struct mw_ep;

/** What the receive allocator is told about a tensor it must hold. */
struct mw_rx_info {
	uint16_t peer;
	uint32_t tid;                /**< tensor id within the session */
	struct mw_tensor_meta meta;
	struct mw_codec_desc desc;
};

/**
 * Where received tensors are decoded. The core asks for the whole decoded
 * tensor's buffer when the first segment of a tensor arrives and decodes
 * every segment straight into it (no intermediate copy).
 * - alloc: return a buffer of `bytes` bytes (any alignment of 4 or more
 *   for float32 codecs), or NULL meaning "no room yet": the segment is
 *   dropped (counter MW_DROP_NOBUF), the tensor's id becomes the receive
 *   window's limit (the sender stops sending it), and the core asks again
 *   at its next timer (at most every rto_min) and on every packet from
 *   that peer. That is flow control, not loss: the sender keeps probing
 *   and does not fail while the receiver answers.
 * - free: give back a buffer the core owns (a partially received tensor
 *   discarded by a session reset, or mw_ep_free()). Buffers handed to the
 *   application in an MW_EV_RX_TENSOR event are the application's; it
 *   returns them with mw_ep_release() or by its own means.
 * A NULL alloc in the config selects malloc()/free().
 */
struct mw_rx_alloc {
	void *(*alloc)(void *ctx, uint64_t bytes, const struct mw_rx_info *ri);
	void (*free)(void *ctx, void *buf, uint64_t bytes);
	void *ctx;
};

/** Endpoint configuration; start from mw_ep_config_default(). */
struct mw_ep_config {
	uint32_t incarnation;  /**< plain mode: non-zero; must grow (serial
				    arithmetic) from one start of the process
				    to the next, e.g. wall-clock seconds or a
				    stored counter. Secure mode: ignored, the
				    endpoint draws it from rand (PROTOCOL.md
				    12.2) */
	uint16_t max_peers;    /**< peers that can be registered */
	uint16_t max_datagram; /**< largest UDP payload sent or accepted
				    (MTU - 28 for IPv4/UDP);
				    MW_WIRE_MIN_DATAGRAM..MW_WIRE_MAX_DATAGRAM */
	uint64_t max_tensor_bytes; /**< largest decoded tensor, both ways */
	uint32_t max_segs;     /**< segments per tensor, both ways */
	uint32_t window;       /**< tensors in flight per peer and direction:
				    submitted-not-finished on send, buffered
				    (receiving or delivered-not-polled) on
				    receive */
	uint32_t max_retries;  /**< consecutive timeouts without progress
				    before the session is declared dead */
	uint64_t rto_initial_ns; /**< RTO before any RTT sample */
	uint64_t rto_min_ns;
	uint64_t rto_max_ns;
	uint64_t ack_delay_ns; /**< longest an ACK is held back */
	uint32_t cwnd_initial; /**< congestion window, in packets */
	uint32_t cwnd_min;
	uint32_t cwnd_max;     /**< also bounds the sent-packet record */
	uint8_t tail_copy;     /**< enum mw_tail_copy: when a flight's
				    last segment is sent twice (PROTOCOL.md
				    8.3; default MW_TAIL_COPY_ON_LOSS) */
	uint8_t undo;          /**< 1 (default): undo a window reduction
				    that proves spurious (PROTOCOL.md 8.5);
				    0: never (for comparisons) */
	uint8_t cc;            /**< congestion controller, enum mw_cc_algo
				    (default MW_CC_RENO) */
	uint64_t encode_step;  /**< elements of work per encode step of a
				    deferred submit (MW_SUBMIT_DEFER); 0
				    (default): every submit encodes at once */
	uint8_t encode_external; /**< 1: deferred encodes are not stepped
				      by the endpoint but taken by other
				      threads (mw_ep_encode_take() /
				      mw_ep_encode_done()) */
	uint8_t cut_through;   /**< 1 (default): a deferred MS/MS_SIGNED
				    encode stepped here, to a peer with
				    nothing else waiting to be sent, sends
				    its segments as the encode writes them
				    (docs/DATAPLANE.md); 0: after the encode */
	uint8_t compact;       /**< 1 (default): announce and send compact
				    DATA (PROTOCOL.md 5.6), with window <=
				    MW_CDATA_MAX_WINDOW; 0: full DATA
				    headers only */
	uint16_t hello_caps;   /**< MW_HELLO_CAP_* our HELLOs announce
				    (default 0); the I/O layer sets what it
				    accepts (PROTOCOL.md 5.1) */
	struct mw_rx_alloc rx_alloc; /**< receive buffers; alloc NULL: malloc */
	/* Secure mode (PROTOCOL.md 12). */
	uint8_t sec_mode;      /**< enum mw_sec_mode; mw_ep_config_default()
				    leaves MW_SEC_PLAIN (no key); the I/O
				    layer asks for plain explicitly */
	uint8_t psk[MW_SEC_PSK_LEN]; /**< pre-shared key of every peer (not
				    all zero); mw_ep_peer_set_key() gives one
				    peer its own */
	/** Random bytes for nonces, the incarnation and generations: fill
	 *  buf[0..len) from a CSPRNG (getrandom()); required unless sec_mode
	 *  is plain. The endpoint takes all its randomness from here (a
	 *  seeded source makes a simulation repeatable). */
	void (*rand)(void *ctx, void *buf, size_t len);
	void *rand_ctx;
	const struct mw_crypto_ops *crypto; /**< NULL: mw_crypto_default(
					       max_datagram) */
};

/** Tail copies (PROTOCOL.md 8.3): when the sender has nothing more to
 *  send, its last DATA packet is sent once more, so that a loss of it
 *  (or of the ACK to it) costs one more frame instead of a timeout. */
enum mw_tail_copy {
	MW_TAIL_COPY_OFF = 0,     /**< never */
	MW_TAIL_COPY_ON_LOSS = 1, /**< while an ACK has shown a segment to
				       the peer lost (8.2) within the last
				       16 smoothed round trips (default) */
	MW_TAIL_COPY_ALWAYS = 2,  /**< at every flight's tail */
	MW_TAIL_COPY_COUNT_
};

/** The policy of that name ("off", "on-loss", "always").
 *  @return an enum mw_tail_copy value, or MW_EINVAL for an unknown name. */
int mw_tail_copy_from_name(const char *name);

/** Secure modes (PROTOCOL.md 12). */
enum mw_sec_mode {
	MW_SEC_PLAIN = 0,     /**< version 1: CRC32C only, no authentication */
	MW_SEC_ENCRYPT = 1,   /**< version 2: AEAD, bodies encrypted */
	MW_SEC_INTEGRITY = 2, /**< version 2: AEAD tag, bodies in the clear */
	MW_SEC_COUNT_
};

/** "plain", "encrypt", "integrity"; "?" if unknown. */
const char *mw_sec_mode_name(unsigned mode);

/** Congestion controllers (PROTOCOL.md 8.5; the choice is local to the
 *  sender and interoperates with any peer). */
enum mw_cc_algo {
	MW_CC_RENO = 0,  /**< "reno": slow start, additive increase, halve on
			      a loss, back to cwnd_min on a timeout */
	MW_CC_RATE = 1,  /**< "rate": paced at the measured delivery rate,
			      backs off on queueing delay, not on loss
			      (docs/CC.md) */
	MW_CC_COUNT_
};

/** The name of a controller ("reno"), "?" if unknown. */
const char *mw_cc_name(unsigned algo);

/** The controller of that name.
 *  @return an enum mw_cc_algo value, or MW_EINVAL for an unknown name. */
int mw_cc_from_name(const char *name);

/** Why the core dropped a received packet (counters index). */
#define MW_DROP_LIST(X)                                                       \
	X(MW_DROP_TRUNC, "truncated")                                         \
	X(MW_DROP_FORMAT, "malformed")                                        \
	X(MW_DROP_MAGIC, "bad_magic")                                         \
	X(MW_DROP_VERSION, "bad_version")                                     \
	X(MW_DROP_TYPE, "bad_type")                                           \
	X(MW_DROP_CHECKSUM, "bad_checksum")                                   \
	X(MW_DROP_SESSION, "wrong_session")                                   \
	X(MW_DROP_STALE, "stale_incarnation")                                 \
	X(MW_DROP_HEADER, "bad_data_header")                                  \
	X(MW_DROP_PAYLOAD, "bad_payload")                                     \
	X(MW_DROP_LIMIT, "over_limit")                                        \
	X(MW_DROP_WINDOW, "outside_window")                                   \
	X(MW_DROP_NOBUF, "no_buffer")                                         \
	X(MW_DROP_INCONSISTENT, "inconsistent")                               \
	X(MW_DROP_ACK, "bad_ack")                                             \
	X(MW_DROP_LATE, "late")                                               \
	X(MW_DROP_PEER, "unknown_peer")                                       \
	X(MW_DROP_AUTH, "auth")                                               \
	X(MW_DROP_AUTH_SESSION, "auth_session")                               \
	X(MW_DROP_REPLAY, "replay")                                           \
	X(MW_DROP_HELLO_RATE, "hello_rate")                                   \
	X(MW_DROP_NO_DESC, "no_descriptor")

enum mw_drop {
#define MW_DROP_ENUM_(name, text) name,
	MW_DROP_LIST(MW_DROP_ENUM_)
#undef MW_DROP_ENUM_
	MW_DROP_COUNT_
};

/** Name of a drop reason ("bad_checksum", ...); "?" if unknown. */
const char *mw_drop_name(unsigned reason);

/**
 * The drop reason a receiver counts for a common-header error.
 * @param rc  a negative return of mw_wire_parse_hdr().
 * @return MW_DROP_TRUNC, _MAGIC, _VERSION, _TYPE, _CHECKSUM, or
 *         MW_DROP_FORMAT for any other error (PROTOCOL.md 11).
 */
enum mw_drop mw_drop_for_hdr_error(int rc);

/**
 * Endpoint counters, monotonic since mw_ep_new(): one list, from which
 * the struct, the names and the sums are made (X(name, description)).
 * Drops are counted apart, per reason (MW_DROP_LIST).
 */
#define MW_COUNTER_LIST(X)                                                    \
	X(pkts_rx, "datagrams fed in (all)")                                  \
	X(bytes_rx, "bytes fed in (all)")                                     \
	X(pkts_tx, "datagrams pulled out")                                    \
	X(bytes_tx, "bytes pulled out")                                       \
	X(data_tx, "DATA packets sent (new + resent)")                        \
	X(data_tx_new, "first transmissions of a segment")                    \
	X(data_tx_compact, "... DATA sent in compact form (PROTOCOL.md 5.6)") \
	X(retrans, "retransmitted segments")                                  \
	X(retrans_fast, "... after an ACK showed a gap")                      \
	X(retrans_rto, "... after a timeout (probes)")                        \
	X(tail_copies, "second copies of a flight's last segment, sent "      \
		       "when a loss was seen lately (PROTOCOL.md 8.3)")       \
	X(spurious_losses, "segments declared lost (fast) that turned out "   \
			   "to have arrived: reordering the loss detector "   \
			   "learns from (PROTOCOL.md 8.2)")                   \
	X(rto_events, "retransmission timeouts")                              \
	X(spurious_rtos, "... that proved spurious (the flight was late, "    \
			 "not lost); the window was restored (8.5)")          \
	X(cc_undos, "fast loss reductions undone: every loss of the "         \
		    "episode proved spurious (8.5)")                          \
	X(data_rx, "valid DATA packets accepted")                             \
	X(data_rx_dup, "... of which duplicates (ignored)")                   \
	X(data_rx_compact, "... of which compact DATA (PROTOCOL.md 5.6)")     \
	X(acks_tx, "ACKs sent")                                               \
	X(acks_rx, "ACKs accepted")                                           \
	X(probes_tx, "ACK_REQ probes sent")                                   \
	X(hello_tx, "HELLO and HELLO_ACK sent")                               \
	X(hello_rx, "HELLO and HELLO_ACK accepted")                           \
	X(close_tx, "CLOSE sent")                                             \
	X(close_rx, "CLOSE accepted")                                         \
	X(tensors_submitted, "tensors accepted by mw_ep_submit()")            \
	X(encode_steps, "encode steps of deferred submits")                   \
	X(cut_through_tx, "tensors whose segments went out while encoded")   \
	X(cut_through_failed, "... of which failed: input rewritten mid-send") \
	X(tensors_sent, "tensors the peer acknowledged whole (TX_DONE)")      \
	X(tensors_failed, "tensors failed (TX_FAILED)")                       \
	X(tensors_delivered, "tensors received whole (RX_TENSOR)")            \
	X(partial_rx, "... of which delivered partial at their deadline "     \
		      "(PROTOCOL.md 9.1)")                                    \
	X(elems_lost, "elements missing from them (zero-filled)")             \
	X(partial_tx, "tensors sent that the peer delivered partial "         \
		      "(TX_DONE with partial)")                               \
	X(peer_restarts, "new incarnations of peers seen")                    \
	X(challenges, "secure mode: HELLOs of a new identity of a proven "   \
		      "peer answered with a challenge (PROTOCOL.md 12.3)")    \
	X(session_resets, "sessions ended abnormally: retry budget spent, "   \
			  "peer reset or restarted, peer closed with an "     \
			  "error reason")                                     \
	X(sessions_closed, "open sessions ended by an application close, "   \
			   "here or at the peer (CLOSE with reason 0 or "     \
			   "MW_ECANCELED)")

/** Index of each counter in MW_COUNTER_LIST order. */
enum mw_counter_id {
#define MW_COUNTER_ENUM_(name, doc) MW_CTR_##name,
	MW_COUNTER_LIST(MW_COUNTER_ENUM_)
#undef MW_COUNTER_ENUM_
	MW_CTR_COUNT_
};

struct mw_counters {
#define MW_COUNTER_FIELD_(name, doc) uint64_t name;
	MW_COUNTER_LIST(MW_COUNTER_FIELD_)
#undef MW_COUNTER_FIELD_
	uint64_t drops;               /**< sum of drop[] */
	uint64_t drop[MW_DROP_COUNT_];
};

/** Name of counter i (enum mw_counter_id), "?" if out of range. */
const char *mw_counter_name(unsigned i);

/** Value of counter i (enum mw_counter_id) in c; 0 if out of range. */
uint64_t mw_counter_get(const struct mw_counters *c, unsigned i);

/** Add every counter of b, drops included, to a (totals over peers,
 *  endpoints or runs). */
void mw_counters_add(struct mw_counters *a, const struct mw_counters *b);

/** Event types. */
enum mw_ev_type {
	MW_EV_NONE = 0,
	MW_EV_RX_TENSOR = 1,  /**< a tensor arrived complete, in order */
	MW_EV_TX_DONE = 2,    /**< the peer holds every segment of a tensor */
	MW_EV_TX_FAILED = 3,  /**< a tensor was not confirmed delivered and
				   will not be sent again; see reason.
				   MW_ELIMIT: it never left. Otherwise
				   (MW_ETIMEDOUT, MW_ERESET, MW_ESHUTDOWN,
				   MW_ECANCELED) the receiver may still have
				   got it if any segment was sent: its ACKs
				   were lost or late (PROTOCOL.md 8.4) */
	MW_EV_PEER_RESTARTED = 4, /**< the peer came back with a new
				       incarnation (sessions state was reset) */
	MW_EV_SESSION_CLOSED = 5, /**< the session was torn down; reason:
				       MW_ETIMEDOUT (retry budget spent),
				       MW_ESHUTDOWN (peer closed),
				       MW_ECANCELED (local close of a
				       session the peer had heard of),
				       MW_ERESET (peer reset its session),
				       MW_EFORMAT (peer violated the protocol) */
};

/** An element range [off, off + cnt) of a tensor. */
struct mw_range {
	uint64_t off, cnt;
};

/** One event. Buffers and metadata are copied out; nothing points into
 *  the endpoint. */
struct mw_event {
	uint8_t type;       /**< enum mw_ev_type */
	uint16_t peer;
	int32_t reason;     /**< TX_FAILED / SESSION_CLOSED: negative mw_err */
	uint64_t handle;    /**< TX_*: the handle mw_ep_submit() returned;
				 RX_TENSOR: the tensor id in the session */
	struct mw_tensor_meta meta;  /**< RX_TENSOR, TX_* */
	struct mw_codec_desc desc;   /**< RX_TENSOR: as encoded by the peer */
	void *buf;          /**< RX_TENSOR: decoded tensor, now the app's */
	uint64_t bytes;     /**< its size (elements x element size) */
	uint8_t partial;    /**< RX_TENSOR: delivered at its deadline with
				 segments missing; TX_DONE: the peer did so
				 (PROTOCOL.md 9.1) */
	uint32_t loss_cnt;  /**< RX_TENSOR partial: ranges in loss */
	uint64_t elems_lost; /**< RX_TENSOR partial: elements in them */
	struct mw_range *loss; /**< RX_TENSOR partial: the element ranges
				    that did not arrive (zero-filled in buf),
				    in increasing order, merged; malloc()ed,
				    now the app's: free() it, or let
				    mw_ep_release() do it. NULL otherwise */
};

/** Submit flags. */
#define MW_SUBMIT_BORROW 0x1u /**< DENSE/RAW on a little-endian host: keep
				   a pointer to the caller's data instead of
				   copying; it must stay valid and unchanged
				   until the TX_DONE / TX_FAILED event. Other
				   codecs always encode at submit. */
#define MW_SUBMIT_DEFER 0x2u  /**< with cfg.encode_step > 0: encode later,
				   in steps of the endpoint's timer
				   (mw_ep_handle_expiry()), so a large tensor
				   does not hold up the caller's loop; data
				   must stay valid until the TX_DONE /
				   TX_FAILED event, and an encode error
				   (e.g. MW_ENONFINITE) comes as TX_FAILED.
				   Ignored when encode_step is 0. */

/** Per-peer state, for status displays and tests. */
struct mw_peer_info {
	uint8_t state;      /**< enum mw_peer_state */
	struct mw_ident local, remote; /**< remote {0,0} if unknown */
	uint64_t srtt_ns, rttvar_ns, rto_ns;
	uint32_t cwnd, ssthresh, in_flight; /**< packets */
	uint32_t tx_pending;  /**< submitted, not finished */
	uint32_t rx_pending;  /**< receiving or delivered-not-polled */
	uint32_t rto_count;   /**< consecutive timeouts */
	uint16_t peer_caps;   /**< MW_HELLO_CAP_* of the peer's last HELLO
				   (0 until one arrived) */
	uint64_t retrans;     /**< segments retransmitted to this peer since
				   it was registered (its share of
				   mw_counters.retrans) */
};

enum mw_peer_state {
	MW_PEER_FREE = 0,      /**< id not registered */
	MW_PEER_IDLE = 1,      /**< registered, no session */
	MW_PEER_HELLO = 2,     /**< HELLO sent, waiting for the answer */
	MW_PEER_OPEN = 3,      /**< session established */
};

/* ---- lifetime --------------------------------------------------------- */

/** Fill a config with defaults (LAN-sized timers, 1472-byte datagrams,
 *  256 MiB tensors, window 8, 16 retries). incarnation is set to 1;
 *  callers must set a real one. */
void mw_ep_config_default(struct mw_ep_config *cfg);

/**
 * Check a config without creating an endpoint.
 * @return 0 or MW_EINVAL (incarnation 0 in plain mode, sizes outside their ranges,
 *         rto_min > rto_max, cwnd_min > cwnd_initial > cwnd_max, ...).
 */
int mw_ep_config_check(const struct mw_ep_config *cfg);

/**
 * The endpoint's incarnation (for status reports and captures).
 * @param ep  an endpoint.
 * @return mw_ep_config.incarnation in plain mode; in secure mode the one
 *         drawn from rand at mw_ep_new() (PROTOCOL.md 12.2).
 */
uint32_t mw_ep_incarnation(const struct mw_ep *ep);

/**
 * The AES-256-GCM library the endpoint's secure mode uses (mw_crypto_ops
 * name: mw_ep_config.crypto, or mw_crypto_default() for its max_datagram).
 * @return the name, or NULL in plain mode.
 */
const char *mw_ep_crypto_name(const struct mw_ep *ep);

/**
 * Does this endpoint announce and send compact DATA (PROTOCOL.md 5.6)?
 * cfg.compact, with a window of at most MW_CDATA_MAX_WINDOW. It is sent to a peer only if the peer announced
 * it too (mw_ep_peer_caps()).
 * @return 1 or 0.
 */
int mw_ep_compact(const struct mw_ep *ep);

/**
 * Create an endpoint.
 * @param cfg  configuration (copied).
 * @param out  the endpoint.
 * @return 0, MW_EINVAL (see mw_ep_config_check()), MW_ENOMEM.
 */
int mw_ep_new(const struct mw_ep_config *cfg, struct mw_ep **out);

/** Destroy an endpoint: frees everything it holds, including receive
 *  buffers not yet handed out (through rx_alloc.free). Events not polled
 *  are lost; their buffers are freed too. NULL is a no-op. */
void mw_ep_free(struct mw_ep *ep);

/**
 * Register a peer.
 * @return the peer id (0..max_peers-1), or MW_ELIMIT (max_peers reached).
 */
int mw_ep_add_peer(struct mw_ep *ep);

/**
 * Give peer id its own pre-shared key (secure mode, PROTOCOL.md 12),
 * replacing mw_ep_config.psk for it. Call it right after
 * mw_ep_add_peer(), before any packet of the peer is handled.
 * @return 0; MW_ENOENT for an unknown id; MW_EINVAL for an all-zero key
 *         or an endpoint in plain mode; MW_ENOMEM.
 */
int mw_ep_peer_set_key(struct mw_ep *ep, uint16_t id,
		       const uint8_t psk[MW_SEC_PSK_LEN]);

/**
 * Unregister a peer: fails pending sends with MW_ECANCELED and discards
 * partially received tensors. No CLOSE is sent (the id is gone): call
 * mw_ep_close_peer() and drain mw_ep_send() first to tell the peer.
 * Events already queued for it stay pollable.
 * @return 0 or MW_ENOENT (not registered).
 */
int mw_ep_remove_peer(struct mw_ep *ep, uint16_t peer, uint64_t now);

/**
 * Close the session with a peer but keep it registered; a later submit
 * opens a new session.
 * @return 0, MW_ENOENT.
 */
int mw_ep_close_peer(struct mw_ep *ep, uint16_t peer, uint64_t now);

/* ---- the I/O boundary ------------------------------------------------- */

/**
 * Feed one received datagram (the UDP payload).
 * Bad packets are dropped and counted (mw_counters.drop[reason]); the
 * endpoint never keeps a pointer to pkt. A dropped packet leaves no state
 * behind but its counter and the extra actions of PROTOCOL.md 11 (for
 * wrong_session, outside_window, no_buffer).
 * @param peer  the id the caller mapped the source address to.
 * @return 0 if the packet was used (duplicates included), a negative
 *         mw_err telling why it was dropped (informational: the caller
 *         just carries on), MW_ENOENT if peer is not registered.
 */
int mw_ep_recv(struct mw_ep *ep, uint16_t peer, const uint8_t *pkt,
	       size_t len, uint64_t now);

/**
 * Pull the next datagram to send.
 * @param buf   where to write it.
 * @param cap   its capacity; at least mw_ep_max_datagram(ep).
 * @param peer  out: the destination peer.
 * @return its length, 0 when there is nothing to send now (call again
 *         after recv, submit or handle_expiry), MW_ENOSPC if cap is too
 *         small (nothing consumed).
 */
int mw_ep_send(struct mw_ep *ep, uint64_t now, uint8_t *buf, size_t cap,
	       uint16_t *peer);

/**
 * Pull the next datagram for one peer only, leaving every other peer's
 * traffic queued. For an I/O layer that cannot reach every peer yet
 * (address still being resolved, a full per-port TX queue): it pulls
 * from the peers it can serve and leaves the others' datagrams, timers
 * and retransmissions untouched instead of consuming and discarding
 * them. Mixing it with mw_ep_send() is allowed.
 * @param ep    the endpoint.
 * @param peer  the destination peer (from mw_ep_add_peer()).
 * @param now   current time (ns, not going backwards).
 * @param buf   where to write the datagram.
 * @param cap   its capacity; at least mw_ep_max_datagram(ep).
 * @return its length; 0 when this peer has nothing to send now (call
 *         again after recv, submit or handle_expiry); MW_ENOSPC if cap
 *         is too small, MW_ENOENT if peer is not registered (nothing
 *         consumed in either case).
 */
int mw_ep_send_peer(struct mw_ep *ep, uint16_t peer, uint64_t now,
		    uint8_t *buf, size_t cap);

/** Largest datagram mw_ep_send() may produce (cfg.max_datagram). */
size_t mw_ep_max_datagram(const struct mw_ep *ep);

/**
 * When the endpoint next needs mw_ep_handle_expiry().
 * @return absolute time in ns, UINT64_MAX if no timer is armed.
 */
uint64_t mw_ep_expiry(const struct mw_ep *ep);

/**
 * Run the timers due at now (retransmission timeouts, delayed ACKs,
 * handshake retries, allocation retries). Afterwards call mw_ep_send()
 * until it returns 0, and mw_ep_poll() for the failures it may report.
 * @return 0.
 */
int mw_ep_handle_expiry(struct mw_ep *ep, uint64_t now);

/* ---- tensors ---------------------------------------------------------- */

/**
 * Submit a tensor to a peer. The tensor is encoded here, at submit time,
 * with the given codec into memory the endpoint owns, so `data` may be
 * reused as soon as this returns (unless MW_SUBMIT_BORROW or, with
 * cfg.encode_step, MW_SUBMIT_DEFER: then deferred encodes run one at a
 * time, in submit order, a step per mw_ep_handle_expiry(), and
 * mw_ep_expiry() is due while one is pending). A session is
 * opened if there is none. Tensors to one peer are delivered in submit
 * order.
 *
 * @param peer   destination.
 * @param meta   dtype, kind, shape, tag. Float codecs need MW_DT_F32 and
 *               n = product(dims) elements; MW_CODEC_RAW takes any dtype
 *               and sends product(dims) x dtype size bytes as they are.
 *               meta->deadline_ms > 0 asks the receiver to deliver the
 *               tensor at most that long after its first segment
 *               arrived, missing ranges zero-filled (PROTOCOL.md 9.1);
 *               the TX_DONE then says partial. Not with MW_CODEC_RAW
 *               (MW_EINVAL); to a peer that did not announce
 *               MW_HELLO_CAP_DEADLINE it is sent reliably.
 * @param cp     codec parameters (mw_codec.h).
 * @param data   the dense tensor (native float32, or bytes for RAW).
 * @param bytes  its size; must equal n x element size.
 * @param flags  MW_SUBMIT_*.
 * @param now    current time.
 * @param handle out (may be NULL): identifies this tensor in its
 *               TX_DONE / TX_FAILED event.
 * @return 0; MW_EAGAIN (cfg.window tensors already pending for this
 *         peer: poll events, retry later); MW_EINVAL (meta/params/bytes
 *         disagree, unknown peer); MW_ELIMIT (tensor larger than
 *         max_tensor_bytes or needing more than max_segs segments);
 *         MW_ENONFINITE (NaN/Inf in a float tensor for a lossy codec);
 *         MW_ENOMEM. On error nothing was queued and no event follows.
 */
int mw_ep_submit(struct mw_ep *ep, uint16_t peer,
		 const struct mw_tensor_meta *meta,
		 const struct mw_codec_params *cp, const void *data,
		 uint64_t bytes, unsigned flags, uint64_t now,
		 uint64_t *handle);

/**
 * Take the next event.
 * @return 1 if *ev was filled, 0 if there is none.
 */
int mw_ep_poll(struct mw_ep *ep, struct mw_event *ev);

/**
 * Give an RX_TENSOR event's buffer back through the configured allocator
 * (for apps that let the endpoint allocate), and free its loss map.
 * Other events: no-op.
 */
void mw_ep_release(struct mw_ep *ep, struct mw_event *ev);

/* ---- observation ------------------------------------------------------ */

/** Copy the counters. */
void mw_ep_counters(const struct mw_ep *ep, struct mw_counters *c);

/**
 * Bytes the endpoint holds right now: its own allocations (tables,
 * encoded payloads, segment state) plus receive buffers it has allocated
 * and not yet handed out. Bounded by mw_ep_mem_bound().
 */
uint64_t mw_ep_mem_held(const struct mw_ep *ep);

/** Upper bound of mw_ep_mem_held() implied by the configuration. */
uint64_t mw_ep_mem_bound(const struct mw_ep *ep);

/**
 * The capabilities (MW_HELLO_CAP_*) the peer's HELLO or HELLO_ACK of the
 * current session announced; 0 for an unknown peer or before one arrived.
 * Cheap: meant for the I/O layer's per-packet choices.
 */
uint16_t mw_ep_peer_caps(const struct mw_ep *ep, uint16_t peer);

/**
 * A deferred encode handed to another thread (cfg.encode_external). The
 * thread runs mw_encode(&cp, data, n, &desc, out, cap, scratch of its own)
 * and the endpoint's owner reports the outcome with mw_ep_encode_done().
 * Until then out (endpoint memory) and data (the caller's) stay in use:
 * the tensor is not failed or freed meanwhile (a session that goes down
 * fails it when the job comes back), and the endpoint must not be freed,
 * nor the peer closed for good, with a job out.
 */
struct mw_enc_job {
	uint64_t handle;            /**< the tensor's (mw_ep_submit()) */
	uint16_t peer;
	struct mw_codec_params cp;
	const void *data;           /**< the caller's tensor */
	uint64_t n;                 /**< elements (bytes for RAW) */
	uint8_t *out;               /**< payload buffer, endpoint-owned */
	size_t cap;                 /**< its size: mw_encode_size() */
};

/**
 * Take the oldest deferred encode not taken yet (cfg.encode_external).
 * Several may be out at once; tensors are still sent in submit order.
 * @return 1 and *job filled, 0 if none is waiting, MW_ENOMEM (no payload
 *         buffer: the tensor failed, TX_FAILED follows).
 */
int mw_ep_encode_take(struct mw_ep *ep, struct mw_enc_job *job);

/**
 * A taken encode came back.
 * @param result  mw_encode()'s return: payload bytes, or its error (the
 *                tensor then fails with it: TX_FAILED).
 * @param desc    its descriptor (read only on success).
 * @return 0, or MW_ENOENT (no job out with that handle; nothing changed).
 */
int mw_ep_encode_done(struct mw_ep *ep, uint64_t handle, int64_t result,
		      const struct mw_codec_desc *desc, uint64_t now);

/**
 * Describe a peer.
 * @return 0 or MW_ENOENT.
 */
int mw_ep_peer_info(const struct mw_ep *ep, uint16_t peer,
		    struct mw_peer_info *pi);

#ifdef __cplusplus
}
#endif
#endif /* MW_TRANSPORT_H */
