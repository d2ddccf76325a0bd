/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_delay.h
 * A delay line for one direction of a link: every packet is held for the
 * same time before it goes on, as on a long path (an edge link's
 * propagation delay), with a bounded number of packets on the way.
 *
 * Sans-I/O: packets are opaque pointers the caller pushes (mw_delay_push)
 * and gets back, oldest first, once their time has come (mw_delay_pop).
 * The slots are the caller's; no clock, no allocation, no global state.
 * A constant delay keeps the order: the line is a FIFO. A packet that
 * finds the line full is refused (MW_ENOSPC): the caller drops and counts
 * it, as a full router queue would.
 */
#ifndef MW_DELAY_H
#define MW_DELAY_H

#include <stdint.h>

#include "mw_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest delay accepted: 10 s. */
#define MW_DELAY_MAX_NS 10000000000ull

/** One packet on the way (caller-owned array of these). */
struct mw_delay_slot {
	void *pkt;
	uint64_t due_ns;
};

/** Counters. */
struct mw_delay_stats {
	uint64_t delayed;  /**< packets taken onto the line */
	uint64_t released; /**< packets handed back */
	uint64_t overflow; /**< packets refused: the line was full */
	uint32_t max_held; /**< most packets on the line at once */
};

/** One direction's line; initialise with mw_delay_init(). */
struct mw_delay {
	uint64_t delay_ns;
	struct mw_delay_slot *slot;
	uint32_t cap, head, count;
	struct mw_delay_stats st;
};

/**
 * Initialise d.
 * @param delay_ns  the time every packet is held (0 < delay_ns <=
 *                  MW_DELAY_MAX_NS).
 * @param slots     cap slots, owned by the caller, alive as long as d.
 * @param cap       packets the line holds at once (>= 1).
 * @return 0, or MW_EINVAL (delay or cap out of range, slots NULL).
 */
int mw_delay_init(struct mw_delay *d, uint64_t delay_ns,
		  struct mw_delay_slot *slots, uint32_t cap);

/**
 * Put a packet on the line at time now; it is due at now + delay.
 * @return 0, or MW_ENOSPC when the line is full (the packet is not taken).
 */
int mw_delay_push(struct mw_delay *d, void *pkt, uint64_t now);

/**
 * Hand back the packets due at now, oldest first.
 * @param all  hand back everything, due or not (shutdown).
 * @param out  array for the handles; max its capacity.
 * @return number of handles written.
 */
uint32_t mw_delay_pop(struct mw_delay *d, uint64_t now, int all, void **out,
		      uint32_t max);

/** @return when the oldest packet is due, UINT64_MAX if the line is empty. */
uint64_t mw_delay_next(const struct mw_delay *d);

/** @return packets on the line now. */
uint32_t mw_delay_held(const struct mw_delay *d);

#ifdef __cplusplus
}
#endif
#endif /* MW_DELAY_H */
