/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cc.h - congestion control (PROTOCOL.md 8.5): the window of packets in
 * flight, as an object with hooks so that the controller is chosen per
 * endpoint (mw_ep_config.cc, enum mw_cc_algo). The controller decides the
 * window; this module owns what every controller shares: one reduction
 * per round trip, and the undo of a reduction that proves spurious (the
 * episode, the losses tagged with it, the window kept from before it).
 * No clock: time comes in nanoseconds.
 */
#ifndef MW_CC_H
#define MW_CC_H

#include <stdint.h>

/** Which reduction an undo would reverse. */
enum mw_cc_episode {
	MW_CC_EP_NONE = 0, /**< nothing to undo */
	MW_CC_EP_LOSS = 1, /**< a fast loss reduction (counter cc_undos) */
	MW_CC_EP_RTO = 2,  /**< a timeout (counter spurious_rtos) */
};

struct mw_cc;

/**
 * A delivery-rate sample (docs/CC.md), taken when an ACK newly
 * acknowledges the latest-sent packet it names: delivered packets were
 * acknowledged over interval_ns, the longer of the time between that
 * packet's send and the send of the packet last acknowledged when it
 * left, and the time between the two acknowledgements.
 */
struct mw_cc_sample {
	uint64_t now;
	uint64_t delivered;      /**< packets delivered over the interval */
	uint64_t interval_ns;    /**< 0: no rate in this sample */
	uint64_t prior_delivered; /**< total delivered when it was sent */
	uint64_t total_delivered; /**< total delivered now */
	uint64_t rtt_ns;         /**< its RTT (ACK delay removed); 0: none */
	uint32_t in_flight;      /**< packets in flight after the ACK */
};

/** The rate controller's model (cc_rate.c, docs/CC.md). */
#define MW_CC_RATE_BW_ROUNDS 10
struct mw_cc_rate {
	uint8_t mode;             /* startup, drain, probe_bw */
	uint8_t cycle;            /* the gain cycle's phase */
	uint8_t full_cnt;         /* rounds without 25% growth */
	uint8_t backed_off;       /* this phase ended early on delay */
	uint64_t cycle_stamp;     /* the phase began */
	uint64_t round;           /* round trips counted */
	uint64_t next_round;      /* delivered count that ends this one */
	uint64_t bw_round[MW_CC_RATE_BW_ROUNDS]; /* per-round max, q8 pkt/s */
	uint64_t bw;              /* windowed max of bw_round */
	uint64_t full_bw;         /* bw at the last 25% growth */
	uint64_t min_rtt, min_rtt_stamp;
};

/** A controller's hooks. Each sees and sets cwnd/ssthresh/cwnd_acc. */
struct mw_cc_ops {
	const char *name;
	/** New session: the initial window. */
	void (*reset)(struct mw_cc *cc);
	/** acked packets that were in flight were newly acknowledged. */
	void (*on_ack)(struct mw_cc *cc, uint32_t acked, uint64_t now);
	/** The first loss of a round trip (a congestion event). */
	void (*on_loss)(struct mw_cc *cc, uint64_t now);
	/** A retransmission timeout with packets in flight. */
	void (*on_timeout)(struct mw_cc *cc, uint64_t now);
	/** The episode's reduction proved spurious: restore the window
	 *  kept in undo_cwnd / undo_ssthresh. */
	void (*on_spurious)(struct mw_cc *cc);
	/** Optional: a delivery-rate sample (rate-based controllers). */
	void (*on_sample)(struct mw_cc *cc, const struct mw_cc_sample *rs);
	/** Optional, pacing controllers: packets a flight that starts
	 *  empty may send at once, ahead of the paced schedule. */
	uint64_t (*idle_burst)(const struct mw_cc *cc);
};

/** One peer's window. */
struct mw_cc {
	const struct mw_cc_ops *ops;
	uint32_t cwnd_min, cwnd_max, cwnd_initial; /**< from the config */
	uint8_t undo_enabled;
	uint32_t cwnd, ssthresh, cwnd_acc;
	uint64_t recovery_start;    /**< time of the last reduction */
	uint32_t undo_cwnd, undo_ssthresh; /**< before the reduction */
	uint32_t undo_lost;         /**< its losses not yet proven spurious */
	uint8_t undo_armed;         /**< enum mw_cc_episode */
	uint8_t undo_epoch;         /**< tags the losses of the episode */
	uint64_t undo_pn;           /**< timeout: first pn sent after it */
	uint64_t host_delay_ns;     /**< what the peer's host may add to an
				       RTT besides the path: its ACK delay
				       (rate: a floor of the delay target and
				       part of the BDP, docs/CC.md) */
	uint64_t pace_ns;           /**< pacing interval per packet; 0: none */
	uint64_t pace_next;         /**< earliest time of the next DATA */
	uint64_t burst_left;        /**< packets of an idle burst still to
				       pass the gate unpaced */
	struct mw_cc_rate rate;     /**< the rate controller's state */
};

/** The controller for an enum mw_cc_algo; NULL if unknown. */
const struct mw_cc_ops *mw_cc_ops_get(unsigned algo);

/** Set up a peer's window with a controller, the config's bounds and
 *  the peer's ACK delay (host_delay_ns). */
void mw_cc_init(struct mw_cc *cc, const struct mw_cc_ops *ops,
		uint32_t cwnd_min, uint32_t cwnd_max, uint32_t cwnd_initial,
		int undo, uint64_t host_delay_ns);

/** A new session: the controller's initial window, no episode. */
void mw_cc_reset(struct mw_cc *cc);

/** acked in-flight packets newly acknowledged. */
void mw_cc_on_ack(struct mw_cc *cc, uint32_t acked, uint64_t now);

/**
 * A transmission sent at sent_ns was declared lost (fast, 8.2). Reduces
 * the window once per round trip (not for a packet sent before the last
 * reduction) and starts an undo episode.
 * @param pn_next  the next packet number (recorded with the episode)
 */
void mw_cc_on_loss(struct mw_cc *cc, uint64_t sent_ns, uint64_t now,
		   uint64_t pn_next);

/**
 * A retransmission timeout with packets in flight. first: the first of a
 * series of consecutive timeouts, or none is being undone; then the
 * window from before it is kept for an undo.
 */
void mw_cc_on_timeout(struct mw_cc *cc, int first, uint64_t now,
		      uint64_t pn_next);

/** A delivery-rate sample from an ACK (ignored by window controllers). */
void mw_cc_on_sample(struct mw_cc *cc, const struct mw_cc_sample *rs);

/**
 * The pacing gate's burst (docs/CC.md): the sender may run this many
 * packet intervals ahead of its paced schedule. A caller that reads its
 * clock once per poll-loop iteration then still sends a burst per
 * iteration at the paced average rate, where a strict gate would let one
 * packet through per iteration whatever the rate.
 */
#define MW_CC_PACE_QUANTUM 32u

/** When the pacing gate opens: pace_next less the quantum. */
static inline uint64_t mw_cc_pace_open(const struct mw_cc *cc)
{
	uint64_t q = MW_CC_PACE_QUANTUM * cc->pace_ns;

	return cc->pace_next > q ? cc->pace_next - q : 0;
}

/**
 * The pacing gate (docs/CC.md): may a DATA packet (new or retransmitted)
 * leave at now? Always true for controllers that do not pace.
 */
static inline int mw_cc_may_send(const struct mw_cc *cc, uint64_t now)
{
	return cc->pace_ns == 0 || cc->burst_left || now >= mw_cc_pace_open(cc);
}

/** A DATA packet left at now: the next may leave pace_ns later.
 *  from_idle: nothing was in flight before it (a new flight). */
void mw_cc_on_sent(struct mw_cc *cc, uint64_t now, int from_idle);

/** The controller of cc_rate.c. */
extern const struct mw_cc_ops mw_cc_rate_ops;

/** A transmission is declared lost: the episode tag to store with it. */
uint8_t mw_cc_tag_loss(struct mw_cc *cc);

/**
 * A transmission declared lost (cause: 1 fast, 2 timeout, the values of
 * enum mw_cc_episode) with episode tag epoch arrived after all (8.2).
 * @return the episode undone now (MW_CC_EP_LOSS when every loss of a fast
 *         episode proved spurious, MW_CC_EP_RTO when the timeout's probe
 *         was not needed), or MW_CC_EP_NONE.
 */
int mw_cc_spurious_loss(struct mw_cc *cc, uint8_t epoch, uint8_t cause);

/**
 * Undo the current episode now (e.g. a timeout found spurious because a
 * transmission from before it was acknowledged: F-RTO).
 * @return the episode undone, MW_CC_EP_NONE if none was armed.
 */
int mw_cc_undo(struct mw_cc *cc);

#endif /* MW_CC_H */
