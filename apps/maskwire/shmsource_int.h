/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shmsource_int.h - the shared-memory source's state, shared by
 * shmsource.c (the work: submits, events, peers, stats) and
 * shmsource_views.c (the mw_source views: one lcore alone, or several
 * under the lock). Not installed.
 */
#ifndef MW_SHMSOURCE_INT_H
#define MW_SHMSOURCE_INT_H

#include "shmsource.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#define BURST 32u
#define PEND_CAP0 64u            /* a FIFO's first capacity (it grows) */
#define PEER_REFRESH_NS 1000000u /* peer table: states every 1 ms */

/* A submit handed to the transport, waiting for its TX_DONE/TX_FAILED. */
struct sent {
	uint64_t handle; /* the endpoint's: unique per lcore */
	uint32_t gen; /* its peer entry's gen then: counted to it only if
		       * the entry still holds that peer */
	unsigned lc;  /* the lcore whose endpoint has it */
	struct mw_shm_sub sub;
};

/* Submits taken from the ring, waiting for the transport window of their
 * peer's lcore. Grows by doubling; what it holds is bounded by the
 * COMPLETE ring (the channel takes a submit only with a completion slot
 * reserved for it). */
struct fifo {
	struct mw_shm_sub *q;
	unsigned head, n, cap;
};

/* One I/O lcore's part: its FIFO, its counters, what it last saw of its
 * own endpoint (only lcore k ever calls its endpoint). */
struct lcore {
	struct mw_shmsrc *s;
	unsigned k;
	struct fifo pend;
	unsigned sent_n;       /* its submits in the transport */
	uint64_t next_refresh; /* its peers' states into the table */
	struct mw_source_link link;
	uint64_t retrans; /* its endpoint's, when last published */
	uint64_t submitted, received;
};

/* A received tensor the channel could not take yet (no app). */
struct undelivered {
	void *buf;
	uint64_t bytes;
	struct mw_shm_desc meta;
};

struct mw_shmsrc {
	/* Several lcores: everything below is theirs under this lock;
	 * holder is the lcore holding it + 1 (0: none), so that a call the
	 * holder's own endpoint makes back into the source (its receive
	 * allocator) does not take it twice. */
	pthread_spinlock_t lock;
	atomic_uint holder;
	unsigned nlc; /* I/O lcores */
	struct lcore lc[MW_SHMSRC_MAX_LCORES];
	struct mw_shm_dp *dp;
	char name[128];
	uint16_t deadline_ms;
	uint64_t now; /* the latest time an lcore gave: their clocks are
		       * one, but read at different moments */
	/* submits in the transport, by handle (unordered, swap-remove) */
	struct sent *sent;
	unsigned sent_n, sent_cap;
	/* FIFO of received tensors waiting for an app */
	struct undelivered *und;
	unsigned und_head, und_n, und_cap;
	/* counters */
	uint64_t submitted, done, failed, rejected, canceled, forgotten;
	uint64_t delivered, deliver_errors, rx_nobuf, window_full, partial;
	uint64_t unknown_handles, apps_new, apps_gone, region_events;
	uint64_t dense_tx, dense_rx;
	struct mw_shm_wire_counts wire_pub;
	bool attached;
	/* the peer table: index i is the data plane's slot i (configured
	 * peer i: lcore i % nlc's peers[i / nlc] in its poll(); then the
	 * accepted ones, from peer()) */
	struct mw_shm_peer_info *pi;
	uint16_t *core;                       /* core peer id of each index */
	uint8_t *lc_of;                       /* ... on this lcore's endpoint */
	uint8_t *used;                        /* the index holds a peer now */
	int16_t (*by_core)[MW_SOURCE_MAX_PEERS]; /* [lcore][core id]: index,
						    or -1 */
	unsigned npi;    /* entries of the region's table */
	unsigned nconf;  /* configured peers: given, or seen in poll() */
	unsigned nidx;   /* indices used so far: 0..nidx-1 */
	unsigned accept; /* accept slots of the data plane */
	uint64_t bad_peer, stale_peer, unknown_src;
	uint64_t peers_up, peers_down, peer_no_index;
};

/* The work behind every mw_source callback (shmsource.c); the caller
 * holds the lock when several lcores share the source. */
int mw_shmsrc_on_poll(struct lcore *l, struct mw_ep *ep, const uint16_t *peers,
		      unsigned npeers, uint64_t now);
void mw_shmsrc_on_event(struct lcore *l, const struct mw_event *ev,
			uint64_t now);
void mw_shmsrc_on_link(struct lcore *l, struct mw_ep *ep,
		       const struct mw_source_link *link, uint64_t now);
void mw_shmsrc_on_peer(struct lcore *l, unsigned index, uint16_t core,
		       uint32_t ip, uint16_t port, bool up);
void *mw_shmsrc_on_rx_alloc(struct lcore *l, uint64_t bytes);
void mw_shmsrc_on_rx_free(struct lcore *l, void *buf, uint64_t bytes);
bool mw_shmsrc_on_busy(const struct lcore *l);
void mw_shmsrc_on_status(const struct mw_shmsrc *s, char *buf, unsigned len);
void mw_shmsrc_on_stats_json(const struct mw_shmsrc *s, FILE *f);

#endif /* MW_SHMSOURCE_INT_H */
