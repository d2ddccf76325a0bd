/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_neigh.h
 * ARP resolution of one peer's MAC address, as a small state machine.
 *
 * Sans-I/O: the module decides when to ask and what is known; the caller
 * builds and sends the requests (mw_net_build_arp_request()), parses what
 * comes back (mw_net_parse()) and hands the sender's MAC of a reply (or
 * of a request from that peer: it tells us its MAC too) to
 * mw_neigh_learn(). Time is an explicit argument; no clock, no
 * allocation, no global state.
 *
 * States: a static MAC (given by the user) is resolved for good and never
 * asked for. A learned one starts unresolved: a request is due at once
 * and then every retry_ns until a MAC is learned. A learned MAC may go
 * stale (the link went down and up, the peer restarted or stopped
 * answering): mw_neigh_refresh() asks again at once and every retry_ns,
 * while the known MAC stays in use, until an answer comes.
 *
 * The caller's timer: while mw_neigh_next() is not UINT64_MAX, call
 * mw_neigh_poll() at or after that time; when it returns true, send one
 * request and count it with mw_neigh_sent().
 */
#ifndef MW_NEIGH_H
#define MW_NEIGH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One peer's neighbour entry. Caller-owned; read it through the
 *  functions. */
struct mw_neigh {
	uint8_t mac[6];    /**< the MAC in use (zeros until resolved) */
	bool is_static;    /**< given, never asked for */
	bool resolved;     /**< mac is usable */
	bool refresh;      /**< resolved, but being asked for again */
	bool confirmed;    /**< mac came with an authenticated packet
			        (mw_neigh_confirm()): ARP no longer moves it */
	uint64_t retry_ns; /**< between two requests */
	uint64_t next_ns;  /**< when the next request is due, if asking */
	uint64_t requests; /**< requests sent (mw_neigh_sent()) */
};

/**
 * Start an entry at now.
 * @param n         the entry; not NULL.
 * @param mac       a static MAC (resolved at once, never asked for), or
 *                  NULL to learn it (a request is due at now).
 * @param retry_ns  time between two requests.
 */
void mw_neigh_init(struct mw_neigh *n, const uint8_t *mac, uint64_t retry_ns,
		   uint64_t now);

/** @return true if the MAC is known (frames to the peer can be sent). */
bool mw_neigh_resolved(const struct mw_neigh *n);

/**
 * When the next request is due.
 * @return absolute time in ns; UINT64_MAX when nothing is asked for
 *         (static, or learned and not being refreshed).
 */
uint64_t mw_neigh_next(const struct mw_neigh *n);

/**
 * Is a request due at now? If so the next one is armed retry_ns later,
 * whether or not the caller manages to send this one (a request that
 * could not be built or queued is not retried sooner).
 * @return true: send one request now (and call mw_neigh_sent()).
 */
bool mw_neigh_poll(struct mw_neigh *n, uint64_t now);

/** Count a request the caller did send. */
void mw_neigh_sent(struct mw_neigh *n);

/**
 * A MAC for this peer arrived (the sender's address of an ARP reply, or of
 * an ARP request from the peer). A learned entry takes it, becomes
 * resolved and stops asking; a static one keeps its own.
 * An entry confirmed by an authenticated packet (mw_neigh_confirm())
 * ignores ARP: one forged reply cannot redirect the peer's traffic.
 * @return true if the entry took it, false if it is static or confirmed
 *         (the caller may count the answer as ignored).
 */
bool mw_neigh_learn(struct mw_neigh *n, const uint8_t mac[6]);

/**
 * A packet that the transport authenticated (secure mode, PROTOCOL.md
 * 12.7) came from this peer with Ethernet source mac: use that MAC and
 * stop listening to ARP for it until mw_neigh_refresh(). Only an
 * authenticated packet moves a confirmed entry. A static entry keeps its
 * own. @return true if the entry changed (newly confirmed, or its MAC
 * moved); false if it was confirmed with this MAC already, or static.
 */
bool mw_neigh_confirm(struct mw_neigh *n, const uint8_t mac[6]);

/**
 * The learned MAC may be outdated (the link came back up, the peer
 * restarted or timed out): ask again from now on, keep using it until
 * answered. No-op for a static entry, one not resolved yet (it is asking
 * already) and one already refreshing (its timer is kept).
 */
void mw_neigh_refresh(struct mw_neigh *n, uint64_t now);
/* (mw_neigh_refresh() also ends a confirmation: asked again after a peer
 * restart, a timeout or a link change, ARP is heard until the next
 * authenticated packet confirms.) */

#ifdef __cplusplus
}
#endif
#endif /* MW_NEIGH_H */
