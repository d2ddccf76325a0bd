/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_source.h
 * An application traffic source/sink driven by the event loop (mw_loop.h):
 * the built-in generator/sink (apps/maskwire) is one, the shared-memory
 * channel to a training process is another, the simulator's split-learning
 * client and server are two more.
 *
 * No DPDK types: a source only sees the transport core (mw_transport.h).
 * The loop calls, once per iteration and on the caller's thread:
 *   - poll():  submit new tensors with mw_ep_submit() (stop at MW_EAGAIN);
 *   - event(): for every core event (RX_TENSOR buffers become the source's
 *              to keep or to give back with mw_ep_release());
 * and the data plane adds link() (its frame counters, optional), peer()
 * (accepted peers coming and going, optional) and, at the end,
 * stats_json(). The loop never calls poll() again once it is
 * stopping (signal or done), but keeps delivering events until every
 * submitted tensor is finished or failed.
 */
#ifndef MW_SOURCE_H
#define MW_SOURCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mw_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Peers a source may be given, and core peer ids a source may see in
 *  events (the data plane's limit: configured and accepted peers). */
#define MW_SOURCE_MAX_PEERS 256u

/** The data plane's own link counters (frames handed to and taken from
 *  the port, Ethernet header included). */
struct mw_source_link {
	uint64_t rx_frames, rx_bytes;
	uint64_t tx_frames, tx_bytes;
};

struct mw_source {
	const char *name; /**< "gen/sink", "shm", ... (for logs and stats) */
	void *ctx;        /**< passed to every callback */

	/**
	 * Receive-buffer allocator for the endpoint (decode straight into the
	 * source's memory); alloc NULL lets the core use malloc().
	 */
	struct mw_rx_alloc rx_alloc;

	/**
	 * Submit what is ready. peers/npeers: the core peer ids of the
	 * configured peers, in command-line order. NULL: a source that
	 * only receives.
	 * @return tensors submitted (>= 0), or a negative mw_err to stop the
	 *         loop (a fatal source error: mw_loop_error()).
	 */
	int (*poll)(void *ctx, struct mw_ep *ep, const uint16_t *peers,
		    unsigned npeers, uint64_t now);

	/** The link counters, once per iteration in every phase (after the
	 *  iteration's I/O); NULL: not wanted. */
	void (*link)(void *ctx, struct mw_ep *ep,
		     const struct mw_source_link *l, uint64_t now);

	/**
	 * A peer accepted on a HELLO (docs/PROTOCOL.md 6.6) took a slot of
	 * the data plane's peer table (up true), or was reclaimed and left
	 * it (up false). Called by the data plane right after the change,
	 * on the loop's thread, never for configured peers. NULL: not wanted.
	 * @param index      its stable slot: configured peers hold 0..n-1 in
	 *                   command-line order, accepted ones the slots
	 *                   after them (mw_dp_peer_slots()); with several
	 *                   I/O lcores, every lcore's accept slots in lcore
	 *                   order (the JSON stats' "slot"), and the call
	 *                   comes from the lcore that owns the peer, to
	 *                   that lcore's source. A reclaimed
	 *                   slot goes to a later accepted peer, maybe
	 *                   another device: a source that names peers by
	 *                   slot must tell the two apart.
	 * @param core_peer  its core peer id (mw_event.peer); after up false
	 *                   the id may be given to the next peer accepted.
	 * @param ip, port   its IPv4 address (host order) and UDP port.
	 */
	void (*peer)(void *ctx, unsigned index, uint16_t core_peer,
		     uint32_t ip, uint16_t port, bool up);

	/** One core event. NULL: the loop gives RX_TENSOR buffers back
	 *  (mw_ep_release()). */
	void (*event)(void *ctx, struct mw_ep *ep, const struct mw_event *ev,
		      uint64_t now);

	/** @return true when the source has finished its work (the loop
	 *  then lingers briefly and closes). NULL: never. */
	bool (*done)(void *ctx);

	/** @return true while a stop would lose work the source already
	 *  accepted (e.g. tensors submitted and not yet finished). */
	bool (*busy)(void *ctx);

	/** Write the source's stats as JSON object members (no braces),
	 *  e.g. "\"gen\": {...}, \"sink\": {...}". */
	void (*stats_json)(void *ctx, FILE *f);

	/** A short progress fragment for the one-line status, or NULL. */
	void (*status)(void *ctx, char *buf, unsigned len);

	/** @return a process exit code contribution: 0 if everything the
	 *  source checked was right, non-zero otherwise. NULL: 0. */
	int (*verdict)(void *ctx, bool interrupted);
};

#ifdef __cplusplus
}
#endif
#endif /* MW_SOURCE_H */
