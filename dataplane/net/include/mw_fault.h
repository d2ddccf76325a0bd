/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_fault.h
 * Seeded fault injection for one direction of a link: random loss, bursty
 * loss (Gilbert-Elliott), duplication, reordering by hold-back and single
 * bit corruption.
 *
 * Sans-I/O: the module decides, the caller acts. For each packet the caller
 * asks mw_fault_decide() and then drops it, flips the named bit, sends a
 * copy, or parks it with mw_fault_hold(). Parked packets are opaque pointers
 * handed back by mw_fault_release() once reorder_gap later packets have gone
 * by or reorder_max_ns has passed (time is an explicit argument). No clock,
 * no allocation, no global state: the same seed and the same sequence of
 * calls give the same decisions.
 */
#ifndef MW_FAULT_H
#define MW_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "mw_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Packets one direction can hold back at a time. */
#define MW_FAULT_HOLD_MAX 64u

/** Rates are probabilities per packet in [0, 1]. */
struct mw_fault_cfg {
	double drop;      /**< independent loss */
	double burst;     /**< Gilbert-Elliott: good -> bad transition; 0 off */
	double burst_len; /**< mean packets per bad period (>= 1; 0 means 4);
			       every packet in the bad state is lost */
	double dup;       /**< send the packet twice */
	double reorder;   /**< hold the packet back */
	unsigned reorder_gap;    /**< later packets that overtake a held one
				      (1..MW_FAULT_HOLD_MAX; 0 means 3) */
	uint64_t reorder_max_ns; /**< release a held packet after this long
				      even if traffic stopped (0: 1 ms) */
	double corrupt;   /**< flip one uniformly chosen bit */
	uint64_t seed;    /**< RNG seed */
};

/** What to do with one packet. */
enum mw_fault_action {
	MW_FAULT_PASS = 0, /**< send/deliver it now */
	MW_FAULT_DROP = 1, /**< lose it */
	MW_FAULT_HOLD = 2, /**< park it with mw_fault_hold() */
};

struct mw_fault_verdict {
	enum mw_fault_action action;
	bool dup;          /**< also pass a copy now (PASS or HOLD only) */
	int64_t flip_bit;  /**< bit index to flip in the packet, or -1 */
};

/** Counters (every packet asked about lands in exactly one of the first
 *  three). */
struct mw_fault_stats {
	uint64_t passed;        /**< PASS verdicts */
	uint64_t dropped;       /**< independent drops */
	uint64_t burst_dropped; /**< drops in the bad state */
	uint64_t held;          /**< HOLD verdicts */
	uint64_t duplicated;
	uint64_t corrupted;
	uint64_t released;      /**< held packets handed back */
};

struct mw_fault_slot_ {
	void *pkt;
	uint64_t release_seq;
	uint64_t deadline_ns;
};

/** One direction's state; caller-owned, initialise with mw_fault_init(). */
struct mw_fault {
	struct mw_fault_cfg cfg;
	uint64_t rng[4];
	bool bad;        /**< Gilbert-Elliott state */
	bool enabled;    /**< any rate non-zero */
	uint64_t seq;    /**< packets passed so far */
	unsigned head, count;
	struct mw_fault_slot_ slot[MW_FAULT_HOLD_MAX];
	struct mw_fault_stats st;
};

/**
 * Check a configuration.
 * @return 0, or MW_EINVAL (a rate outside [0,1] or NaN, burst_len below 1,
 *         reorder_gap above MW_FAULT_HOLD_MAX).
 */
int mw_fault_cfg_check(const struct mw_fault_cfg *cfg);

/**
 * Initialise f from cfg (copied; zero fields get their defaults).
 * @return 0, or MW_EINVAL as mw_fault_cfg_check(); f is then unusable.
 */
int mw_fault_init(struct mw_fault *f, const struct mw_fault_cfg *cfg);

/** @return true if any fault rate is non-zero (otherwise every verdict is
 *  a plain PASS and callers may skip the module). */
bool mw_fault_enabled(const struct mw_fault *f);

/**
 * Decide the fate of one packet of len bytes. Draws the same number of
 * random values whatever the outcome, so decisions stay aligned across runs
 * that differ only in rates.
 * @param f    state.
 * @param len  packet length in bytes (the bit to flip is below len * 8;
 *             no flip when len is 0).
 * @param v    out: the verdict.
 */
void mw_fault_decide(struct mw_fault *f, uint32_t len,
		     struct mw_fault_verdict *v);

/**
 * Park a packet that got MW_FAULT_HOLD.
 * @param pkt  the caller's handle (not dereferenced).
 * @param now  current time in ns.
 * @return 0, or MW_ENOSPC when MW_FAULT_HOLD_MAX packets are parked: send
 *         the packet now instead.
 */
int mw_fault_hold(struct mw_fault *f, void *pkt, uint64_t now);

/**
 * Hand back parked packets whose time has come, oldest first.
 * @param now  current time in ns.
 * @param all  release everything (shutdown).
 * @param out  array for the handles.
 * @param max  its capacity.
 * @return number of handles written.
 */
unsigned mw_fault_release(struct mw_fault *f, uint64_t now, bool all,
			  void **out, unsigned max);

/** @return the earliest deadline of a parked packet, UINT64_MAX if none. */
uint64_t mw_fault_next_expiry(const struct mw_fault *f);

/** Flip bit `bit` (bit 0 is the LSB of byte 0) of buf. */
void mw_fault_flip(uint8_t *buf, uint64_t bit);

#ifdef __cplusplus
}
#endif
#endif /* MW_FAULT_H */
