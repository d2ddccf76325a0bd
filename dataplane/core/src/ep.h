/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ep.h - the endpoint's internals, shared by the files of the transport
 * core. The public API is mw_transport.h; this header is not installed.
 *
 *   endpoint.c  lifetime, peers, events, the receive dispatcher, timers
 *   session.c   HELLO / HELLO_ACK / CLOSE, identities, restarts (6, 7)
 *   send.c      submit, segment planning, picking, DATA building (5, 8.5)
 *   rtb.c       the sent-packet record, ACK processing, loss detection,
 *               the reordering window and timeouts (8.1-8.4)
 *   recv.c      DATA checks, decoding, delivery, flow control, ACKs
 *               (5.2, 8.6, 8.7, 9, 11)
 *   rtt.c       RTT estimate and RTO (8.3)          - rtt.h
 *   cc.c        congestion control and its undo (8.5) - cc.h
 *   wire.c      every byte on the wire               - mw_wire.h
 *
 * Section numbers are docs/PROTOCOL.md's.
 */
#ifndef MW_EP_H
#define MW_EP_H

#include <stddef.h>
#include <stdint.h>

#include "cc.h"
#include "mw_transport.h"
#include "rtt.h"
#include "sec.h"
#include "wire_int.h"

#define NO_TIME UINT64_MAX

enum seg_state { SEG_NEW = 0, SEG_FLIGHT, SEG_LOST, SEG_ACKED };
/* Why a segment was last declared lost; the values double as the undo
 * episode kinds of cc.h. */
enum lost_cause {
	LOST_NONE = MW_CC_EP_NONE,
	LOST_FAST = MW_CC_EP_LOSS,
	LOST_RTO = MW_CC_EP_RTO,
};

struct seg_st {
	uint64_t pn;      /* packet number of the latest transmission */
	uint32_t prev;    /* low 32 bits of the transmission declared lost */
	uint8_t state;    /* enum seg_state */
	uint8_t cause;    /* enum lost_cause of the last loss; LOST_NONE
			     while the segment was never declared lost */
	uint8_t epoch;    /* low bits of the congestion episode that
			     declared it lost (undo, 8.5) */
	uint8_t copied;   /* 1: pn is a tail copy (8.3) of pn - 1, the
			     flight's first transmission */
};

/* A send slot's buffers, kept from one tensor to the next so that a
 * steady stream of tensors does not allocate (and fault in) fresh memory
 * for each (mw_send_slot_clear keeps them, mw_send_slot_free frees). */
struct tx_mem {
	uint8_t *buf;        /* encoded payloads */
	size_t buf_cap;
	struct mw_seg *segs; /* plan */
	struct seg_st *ss;   /* per-segment state */
	uint32_t seg_cap;
};

struct tx_slot {
	struct tx_mem mem;
	uint8_t used;
	uint8_t active;   /* has a tensor id in the current session */
	uint32_t tid;
	uint64_t handle;
	struct mw_tensor_meta meta;
	struct mw_codec_desc desc;
	uint8_t *payload;
	size_t plen;
	size_t budget;    /* segment payload budget the plan was made for */
	uint8_t compact;  /* planned for compact DATA: segments after the
			     first carry the short header (5.6) */
	struct mw_seg *segs;
	struct seg_st *ss;
	uint32_t seg_cnt;
	uint32_t seg_ready;  /* segments [0, seg_ready) may be sent: all,
				but while a cut-through encode runs */
	uint8_t stream;      /* cut-through: 1 wanted, 2 under way */
	uint32_t next_new;   /* first never-sent segment */
	uint32_t acked;
	uint32_t ack_cum;    /* segments [0, ack_cum) are all acknowledged */
	uint32_t lost;       /* segments waiting for retransmission */
	uint32_t lost_hint;  /* no lost segment below this index */
	uint8_t partial;     /* the peer delivered it at its deadline */
	uint8_t encoding;    /* deferred: not encoded yet (enc below) */
	uint8_t enc_started; /* mw_enc_begin() done */
	uint8_t enc_taken;   /* out to another thread (mw_ep_encode_take) */
	int32_t enc_fail;    /* failed while out: the reason, given when the
				job comes back */
	struct mw_codec_params cp; /* deferred: the codec, the input */
	const void *data;
	uint8_t tblock[MW_WIRE_TBLOCK_LEN];
};

struct rx_seg {
	uint64_t elem_off, val_off;
	uint32_t elem_cnt, val_cnt;
};

struct rx_slot {
	uint8_t used;
	uint8_t complete;
	uint32_t tid;
	uint32_t seg_cnt;
	uint32_t rcvd;
	uint32_t seg_cum;   /* segments [0, seg_cum) received */
	uint32_t seg_max;   /* highest received segment index */
	uint8_t *bitmap;
	struct rx_seg *rs;
	void *buf;
	uint64_t bytes;
	struct mw_tensor_meta meta;
	struct mw_codec_desc desc;
	uint8_t tblock[MW_WIRE_TBLOCK_LEN];
	uint64_t deadline_at;  /* first segment's arrival + deadline_ms, or
				  NO_TIME (9.1) */
	uint8_t partial;       /* complete by its deadline, not whole: */
	uint32_t loss_cnt;     /* the ranges missing (zero-filled) */
	uint64_t elems_lost;
	struct mw_range *loss; /* malloc()ed, handed to the event */
	/* Kept across mw_recv_slot_clear() (reset with the session): the
	 * tensor of this slot last delivered partial, reported in PARTIAL
	 * ACK blocks until the slot takes tensor ptid + window (9.1). */
	uint32_t ptid;
	uint8_t pvalid;
};

struct sent_rec {
	uint64_t sent_ns;
	uint32_t tid;
	uint32_t seg;
	/* rate sampling (docs/CC.md): the peer's delivered count and its
	 * time, and the send time of the packet last acknowledged, as they
	 * were when this packet left */
	uint64_t delivered, delivered_ns, first_sent_ns;
};

/* Session state (PROTOCOL.md 6, 7): identities and the control packets
 * owed. */
struct sess {
	struct mw_ident local, remote;
	uint8_t remote_known, confirmed, remote_closed;
	struct mw_hello lim;        /* the peer's limits (ours until HELLO) */
	uint8_t hello_pending, hello_ack_pending, close_pending;
	uint8_t hello_sent;
	uint8_t announced;          /* a packet left from our identity in
				       this session (a CLOSE may follow) */
	int32_t close_reason;
	struct mw_ident close_src, close_dst;
	uint64_t hello_at;          /* HELLO retry timer */
	uint64_t resync_at;         /* earliest unsolicited HELLO */
};

/* Send side: the tensors being sent, and the timeout state (8.3). */
struct sendq {
	struct tx_slot *tx;         /* window slots, by submit sequence */
	uint64_t tx_base, tx_seq;   /* pending sequence range */
	uint32_t tx_evq;            /* tx events not yet polled */
	uint32_t tx_warm;           /* the slot freed last (its memory is
				       the one touched last) */
	uint32_t tid_next;
	uint32_t peer_limit;        /* tensors < peer_limit may be sent */
	uint8_t probe_req;          /* an ACK_REQ probe owed */
	uint8_t probe_data;         /* DATA probes owed (ignore cwnd) */
	uint64_t last_send;         /* last ack-eliciting send */
	uint32_t rto_count;
};

/* The sent-packet record and loss detection (8.1, 8.2). */
struct rtb {
	struct sent_rec *sent;      /* ring of sent_cap() records, by pn */
	uint64_t pn_next, sent_lo, largest_acked;
	uint8_t has_largest_acked;
	uint32_t in_flight;
	uint64_t loss_time;
	uint64_t reo_wnd;           /* learnt reordering window (8.2) */
	uint64_t reo_stamp;         /* last growth or decay of reo_wnd */
	uint64_t segs_acked;        /* segments ever acknowledged (progress,
				       and the delivered count of rate
				       samples) */
	uint64_t delivered_ns;      /* when segs_acked last grew */
	uint64_t first_sent_ns;     /* send time of the packet last acked */
	uint64_t loss_ns;           /* when a segment was last declared
				       lost, NO_TIME if never (tail copies) */
};

/* Receive side: tensors being received and the ACK owed (8.6, 8.7, 9). */
struct recvq {
	struct rx_slot *rx;
	uint32_t rx_next;           /* next tensor id to deliver */
	uint32_t rx_unpolled;       /* delivered, not yet polled */
	uint32_t rx_largest_pn;
	uint8_t rx_has_largest;
	uint64_t rx_largest_time;
	uint32_t ack_pending;
	uint8_t ack_now;
	uint64_t ack_due;
	uint8_t blocked;            /* allocator said no for blocked_tid */
	uint32_t blocked_tid;
	uint64_t alloc_retry_at;
	struct mw_rx_info blocked_info;
	uint64_t deadline_at;       /* earliest deadline of a tensor being
				       received (9.1), NO_TIME if none */
};

struct peer {
	uint8_t used;
	struct sess sess;
	struct sendq send;
	struct rtb rtb;
	struct mw_cc cc;
	struct mw_rtt rtt;
	struct recvq recv;
	struct sec_peer *sec;       /* secure mode (12), else NULL */
	uint64_t retrans;           /* segments retransmitted to this peer,
				       since mw_ep_add_peer() */
	uint32_t peer_ev;           /* peer events not yet polled */
};

struct mw_ep {
	struct mw_ep_config cfg;
	struct peer *peers;
	struct mw_event *evq;
	uint32_t ev_cap, ev_head, ev_cnt;
	uint16_t rr;                /* round-robin start for send */
	uint64_t next_handle;
	uint64_t last_now;
	uint64_t mem, rx_mem;
	void *scratch;              /* mw_encode()'s scratch, kept between */
	size_t scratch_len;         /* submits (grown on demand) */
	struct mw_enc enc;          /* the deferred encode under way */
	struct mw_seg_stream stream; /* its segment plan, in cut-through */
	uint32_t enc_pending;       /* slots waiting for or in an encode */
	struct mw_counters ctr;
	const struct mw_crypto_ops *cops; /* secure mode (12) */
	uint8_t *sec_buf;           /* a received packet's plain view */
};

/* ---- small helpers ---------------------------------------------------- */

/* serial-number comparison of 32-bit ids */
static inline int32_t sdiff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline int ident_eq(const struct mw_ident *a, const struct mw_ident *b)
{
	return a->inc == b->inc && a->gen == b->gen;
}

static inline int bit_get(const uint8_t *bm, uint32_t i)
{
	return bm[i / 8] >> (i % 8) & 1;
}

/* Records in the sent-packet ring: more than can ever be in flight. */
static inline uint32_t sent_cap(const struct mw_ep *ep)
{
	return ep->cfg.cwnd_max + 4;
}

static inline struct peer *get_peer(struct mw_ep *ep, uint16_t id)
{
	if (id >= ep->cfg.max_peers || !ep->peers[id].used)
		return NULL;
	return &ep->peers[id];
}

/* 6: the peer's identity is known, not closed, and it confirmed ours. */
static inline int peer_open(const struct peer *p)
{
	return p->sess.remote_known && p->sess.confirmed &&
	       !p->sess.remote_closed;
}

static inline int tx_wanted(const struct peer *p)
{
	return p->send.tx_seq != p->send.tx_base;
}

static inline uint64_t rto_base(const struct mw_ep *ep, const struct peer *p)
{
	return mw_rtt_rto(&p->rtt, ep->cfg.rto_initial_ns, ep->cfg.rto_min_ns,
			  ep->cfg.rto_max_ns, ep->cfg.ack_delay_ns);
}

static inline uint64_t rto_backoff(const struct mw_ep *ep,
				   const struct peer *p)
{
	return mw_rtt_backoff(rto_base(ep, p), p->send.rto_count,
			      ep->cfg.rto_max_ns);
}

/* ---- endpoint.c ------------------------------------------------------- */

/* Memory, every byte counted against mw_ep_mem_bound(): zeroed, not
 * zeroed, released (p may be NULL). */
void *mw_mem_alloc(struct mw_ep *ep, size_t sz);
void *mw_mem_alloc_raw(struct mw_ep *ep, size_t sz);
void mw_mem_free(struct mw_ep *ep, void *p, size_t sz);
/* Count a drop; returns err (negative) for the caller to return. */
int mw_ep_drop(struct mw_ep *ep, enum mw_drop why, int err);

/* The next event slot (the queue is sized so it never overflows). */
struct mw_event *mw_ep_ev_push(struct mw_ep *ep);
void mw_ep_peer_event(struct mw_ep *ep, uint16_t id, uint8_t type,
		      int32_t reason);
void mw_ep_peer_release(struct mw_ep *ep, struct peer *p);

/* ---- session.c -------------------------------------------------------- */

/* session_down() flags */
#define SD_LOCAL 0x1u   /* we decided (timeout, close, protocol error):
			   CLOSE goes out and our generation moves on */
#define SD_KEEP 0x2u    /* tensors not yet given an id survive into the
			   next session */
#define SD_EMIT 0x4u    /* tell the application (SESSION_CLOSED) */
#define SD_EMIT_CLOSE 0x10u /* tell it only if a CLOSE goes out (the peer
			       had heard of the session) */
#define SD_ORDERLY 0x8u /* an application closed it, here or at the peer:
			   counted as closed, not as reset */

/* Forget everything about the current session's transfers. */
void mw_session_reset(struct mw_ep *ep, struct peer *p);
/* Tear the session down (7): flags SD_*. */
void mw_session_down(struct mw_ep *ep, uint16_t id, int32_t reason,
		     unsigned flags);
/* Owe the peer a HELLO to resynchronise, at most once per rto_min. */
void mw_session_resync(struct mw_ep *ep, struct peer *p, uint64_t now);
int mw_session_on_hello(struct mw_ep *ep, uint16_t id, const struct mw_hdr *h,
			const uint8_t *pkt, size_t len, uint64_t now);
/* A CLOSE for the session we closed ourselves (7.3, simultaneous). */
int mw_session_closes_ours(const struct peer *p, const struct mw_hdr *h);
int mw_session_on_close(struct mw_ep *ep, uint16_t id, const uint8_t *pkt,
			size_t len);
int mw_session_build_hello(struct mw_ep *ep, struct peer *p, uint8_t type,
			   uint8_t *buf);
/* A HELLO or HELLO_ACK from src to dst (NULL: unknown). */
int mw_session_build_hello_ids(struct mw_ep *ep, uint8_t type,
			       const struct mw_ident *src,
			       const struct mw_ident *dst, uint8_t *buf);
/* Secure mode: a packet verified under the challenge's keys proved the
 * peer's new identity live: a peer restart or reset (7.2, 12.3), then
 * the challenge is the session. */
void mw_session_promote(struct mw_ep *ep, uint16_t id, uint64_t now);

/* ---- send.c ----------------------------------------------------------- */

void mw_send_slot_clear(struct mw_ep *ep, struct tx_slot *s);
void mw_send_slot_free(struct mw_ep *ep, struct tx_slot *s);
/* A tensor is done (reason 0) or failed: its event, its slot freed. */
void mw_send_finish(struct mw_ep *ep, uint16_t id, struct tx_slot *s,
		    int32_t reason);
/* Something waits to be sent (a tensor without id, lost or new
 * segments). */
int mw_send_pending(struct mw_ep *ep, struct peer *p);
/* One step of the deferred encode under way (MW_SUBMIT_DEFER). */
void mw_send_encode_step(struct mw_ep *ep);

/* ---- rtb.c ------------------------------------------------------------ */

void mw_rtb_detect_losses(struct mw_ep *ep, struct peer *p, uint64_t now);
int mw_rtb_on_ack(struct mw_ep *ep, uint16_t id, const struct mw_hdr *h,
		  const uint8_t *pkt, size_t len, uint64_t now);
/* A DATA packet with record r leaves at now: stamp r for rate samples
 * and advance the pacing gate (8.5, docs/CC.md). */
void mw_rtb_on_sent(struct peer *p, struct sent_rec *r, uint64_t now);
/* The segment to send once more as a tail copy now (PROTOCOL.md 8.3),
 * or NULL: the flight's last DATA packet, if it is unresolved, is not
 * itself a tail copy, and ep's policy asks for one. */
struct tx_slot *mw_rtb_tail_copy(struct mw_ep *ep, struct peer *p,
				 uint64_t now, uint32_t *seg);
/* The retransmission timer fired (8.3, 8.4). */
void mw_rtb_on_timeout(struct mw_ep *ep, uint16_t id, uint64_t now);

/* ---- recv.c ----------------------------------------------------------- */

void mw_recv_slot_clear(struct mw_ep *ep, struct rx_slot *s, int free_buf);
/* The rx_limit advertised (8.6). */
uint32_t mw_recv_limit(const struct mw_ep *ep, const struct peer *p);
int mw_recv_on_cdata(struct mw_ep *ep, uint16_t id, const struct mw_cdata *c,
		     uint64_t now);
int mw_recv_on_data(struct mw_ep *ep, uint16_t id, const uint8_t *pkt,
		    size_t len, uint64_t now);
/* Try again to get a buffer for the tensor the allocator refused. */
void mw_recv_alloc_retry(struct mw_ep *ep, uint16_t id, uint64_t now);
/* Deliver, partial, every tensor whose deadline has come (9.1). */
void mw_recv_on_deadline(struct mw_ep *ep, uint16_t id, uint64_t now);
int mw_recv_build_ack(struct mw_ep *ep, struct peer *p, uint8_t *buf,
		      size_t cap, uint16_t flags, uint64_t now);

#endif /* MW_EP_H */
