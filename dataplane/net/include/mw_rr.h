/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_rr.h
 * Round-robin service of n slots (the peers of a data plane), one unit
 * of work (a datagram) per slot per turn, so that no slot with pending
 * work waits more than one turn of the others: the data plane's TX
 * scheduler between peers.
 *
 * Sans-I/O: no clock, no allocation, no global state; the caller owns
 * struct mw_rr and says through a callback what a slot has to do.
 */
#ifndef MW_RR_H
#define MW_RR_H

#ifdef __cplusplus
extern "C" {
#endif

/** The cursor: the slot served first by the next mw_rr_run(). */
struct mw_rr {
	unsigned next;
};

/**
 * Serve one unit of slot's work.
 * @return 1 if a unit was served, 0 if the slot had nothing to do (or is
 *         empty), negative to stop at once without serving it (out of
 *         buffers, a full queue): that slot is served first next time.
 */
typedef int (*mw_rr_fn)(void *ctx, unsigned slot);

/**
 * Visit slots from the cursor on, in order and wrapping, one unit per
 * visit, until budget units were served, a full turn of n slots served
 * nothing, or fn() asked to stop. The cursor is left after the last slot
 * served or skipped (at the stopping slot on a stop), so successive runs
 * continue the same turn: over any sequence of runs, two slots that
 * always had work were served a number of units that differs by at most
 * one.
 * @param rr      the cursor; its value is taken modulo n.
 * @param n       slots (0: nothing happens).
 * @param budget  units to serve at most.
 * @return units served (0..budget).
 */
unsigned mw_rr_run(struct mw_rr *rr, unsigned n, unsigned budget, mw_rr_fn fn,
		   void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* MW_RR_H */
