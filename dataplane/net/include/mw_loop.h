/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_loop.h
 * The event loop of one transport endpoint and its application source
 * (mw_source.h): the order of one iteration, the shutdown phases and the
 * close sequence, shared by the DPDK data plane, the simulator and the
 * tests.
 *
 * Sans-I/O like the core it drives: no DPDK, no clock, no allocation, no
 * global state; time is an argument (uint64_t ns, never going backwards);
 * the caller owns struct mw_loop. The caller does the I/O around it. One
 * iteration at time now:
 *   1. feed what arrived: mw_loop_recv() for each datagram (or
 *      mw_ep_recv() plus mw_loop_mark_rx() when the link delivers frames
 *      that are not datagrams, ARP for instance);
 *   2. mw_loop_step(): the core's timers if due, every core event to the
 *      caller's hook and then to the source, then the phase machine (in
 *      MW_LOOP_RUN: poll the source for new tensors);
 *   3. pull datagrams with mw_ep_send() / mw_ep_send_peer() and send them;
 *   4. when mw_loop_step() returned MW_LOOP_CLOSE: mw_loop_close(), then
 *      keep pulling (and, if wanted, stepping) until the last datagrams,
 *      CLOSE among them, are out.
 *
 * Phases (mw_loop_step() moves between them; nothing else does):
 *   RUN     the source is polled. It ends with a stop request (quit, end
 *           MW_LOOP_END_SIGNAL), duration_ns after the start
 *           (MW_LOOP_END_DURATION) or idle_exit_ns without anything
 *           received once something was (MW_LOOP_END_IDLE): all three go
 *           to DRAIN; or the source is done(): LINGER (end
 *           MW_LOOP_END_DONE); or poll() fails: CLOSE at once
 *           (MW_LOOP_END_ERROR, mw_loop_error()).
 *   LINGER  the source is not polled any more; the peers are still
 *           answered (ACKs, their retransmissions) until nothing was
 *           received for linger_ns, or a stop request: CLOSE.
 *   DRAIN   no new tensors; in-flight ones may finish: CLOSE when the
 *           source is not busy (mw_loop_busy()), after drain_ns, or at
 *           once on a second stop request (quit >= 2).
 *   CLOSE   the caller closes: mw_loop_close().
 *   CLOSED  sessions are closed; a step runs timers and events only.
 * A phase reached in a step is acted on from the next step on.
 */
#ifndef MW_LOOP_H
#define MW_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "mw_source.h"
#include "mw_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Where the loop is (see the file comment). */
enum mw_loop_phase {
	MW_LOOP_RUN = 0,
	MW_LOOP_LINGER = 1,
	MW_LOOP_DRAIN = 2,
	MW_LOOP_CLOSE = 3,
	MW_LOOP_CLOSED = 4,
};

/** Why the loop left MW_LOOP_RUN. */
enum mw_loop_end {
	MW_LOOP_END_DONE = 0,     /**< the source finished (or still running) */
	MW_LOOP_END_SIGNAL = 1,   /**< stop requested (quit) */
	MW_LOOP_END_DURATION = 2, /**< duration_ns reached */
	MW_LOOP_END_IDLE = 3,     /**< idle_exit_ns reached */
	MW_LOOP_END_ERROR = 4,    /**< the source's poll() failed */
};

/** What a loop drives; copied by mw_loop_init(). */
struct mw_loop_cfg {
	struct mw_ep *ep;      /**< the endpoint; not NULL */
	struct mw_source *src; /**< its application; not NULL */
	const uint16_t *peers; /**< core peer ids (mw_ep_add_peer()): given
				    to src->poll() in this order, closed
				    by mw_loop_close(); copied */
	unsigned npeers;       /**< 0..MW_SOURCE_MAX_PEERS */
	uint64_t linger_ns;    /**< LINGER: close after this long without
				    anything received */
	uint64_t drain_ns;     /**< DRAIN: close after this long at most */
	uint64_t duration_ns;  /**< RUN: stop after this long; 0 off */
	uint64_t idle_exit_ns; /**< RUN: stop when nothing was received this
				    long, after the first reception; 0 off */
	/**
	 * The caller's own reaction to each event, called before the
	 * source's event() (counting, refreshing a peer's address...). It
	 * must not keep or release the event's buffer: the source does.
	 * NULL: none.
	 */
	void (*on_event)(void *ctx, const struct mw_event *ev, uint64_t now);
	void *on_event_ctx; /**< on_event's ctx */
};

/** One loop. Caller-owned; fields are private: use the functions. */
struct mw_loop {
	struct mw_loop_cfg cfg;
	uint16_t peers[MW_SOURCE_MAX_PEERS];
	enum mw_loop_phase phase;
	enum mw_loop_end end;
	int src_err;
	bool rx_seen;
	uint64_t start_ns, last_rx_ns, deadline_ns;
};

/**
 * Start a loop at now in MW_LOOP_RUN (now is the origin of duration_ns
 * and the first "last reception" of linger_ns).
 * @param lp   the loop; not NULL.
 * @param cfg  ep and src not NULL, npeers <= MW_SOURCE_MAX_PEERS (assert).
 * @param now  current time (ns).
 */
void mw_loop_init(struct mw_loop *lp, const struct mw_loop_cfg *cfg,
		  uint64_t now);

/**
 * Note that the link delivered something at now, a datagram or any other
 * frame: linger_ns and idle_exit_ns measure how long the link has been
 * quiet, not how long the endpoint has been.
 */
void mw_loop_mark_rx(struct mw_loop *lp, uint64_t now);

/**
 * Feed one received datagram: mw_loop_mark_rx(), then mw_ep_recv().
 * @param peer  the core peer id the caller mapped the sender to.
 * @return mw_ep_recv()'s result: 0 (used), a negative mw_err telling why
 *         the core dropped it (informational: carry on).
 */
int mw_loop_recv(struct mw_loop *lp, uint16_t peer, const uint8_t *buf,
		 size_t len, uint64_t now);

/**
 * Run one iteration after the caller fed what arrived: the core's timers
 * if due (mw_ep_expiry() <= now), the events (mw_loop_events()), then the
 * phase machine of the file comment (in RUN: the source's poll()).
 * Afterwards pull and send the endpoint's datagrams.
 * @param quit  the caller's stop requests: 0 none, 1 stop (drain), 2 or
 *              more stop without draining.
 * @return the phase after the step (enum mw_loop_phase); on MW_LOOP_CLOSE
 *         pull this iteration's datagrams, then call mw_loop_close().
 */
int mw_loop_step(struct mw_loop *lp, uint64_t now, unsigned quit);

/**
 * Hand every queued core event to the caller's hook and to the source
 * (RX_TENSOR buffers to the source's event(), or back to the endpoint if
 * it has none). mw_loop_step() does this; call it directly after pulling
 * datagrams outside a step (pulling may fail a tensor that cannot be sent:
 * MW_ELIMIT).
 * @return the number of events handed out.
 */
unsigned mw_loop_events(struct mw_loop *lp, uint64_t now);

/**
 * The close sequence: close the session with every peer (pending tensors
 * fail with MW_ECANCELED, the peers are sent CLOSE) and hand the last
 * events out. Then the phase is MW_LOOP_CLOSED: pull the datagrams (the
 * CLOSEs) and send them. Allowed in any phase (a caller that decides the
 * end itself).
 */
void mw_loop_close(struct mw_loop *lp, uint64_t now);

/**
 * When the next step has something to do: the core's next timer, the
 * phase's deadline (duration_ns, idle_exit_ns, linger_ns, drain_ns), or
 * 0 (now) when the phase is about to change without waiting (DRAIN with
 * nothing busy, CLOSE). For virtual-time drivers; the source's own
 * timing (a paced generator) is not known here, and a stop request
 * always takes effect at the next step.
 * @return absolute time in ns, UINT64_MAX if nothing is armed.
 */
uint64_t mw_loop_next(const struct mw_loop *lp);

/**
 * Would stopping now lose work? The source's busy() or a tensor still
 * pending to any peer.
 */
bool mw_loop_busy(const struct mw_loop *lp);

/** The current phase (enum mw_loop_phase). */
int mw_loop_phase(const struct mw_loop *lp);

/** Why RUN ended (enum mw_loop_end); MW_LOOP_END_DONE while running. */
int mw_loop_end(const struct mw_loop *lp);

/** The source's poll() error that ended the loop (MW_LOOP_END_ERROR), or 0. */
int mw_loop_error(const struct mw_loop *lp);

/** Time of the last reception noted (the start time before any). */
uint64_t mw_loop_last_rx(const struct mw_loop *lp);

#ifdef __cplusplus
}
#endif
#endif /* MW_LOOP_H */
