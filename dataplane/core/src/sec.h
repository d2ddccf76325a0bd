/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sec.h - secure mode (PROTOCOL.md 12): the key schedule, sealing and
 * opening packets, the replay window. Internal to the transport core.
 */
#ifndef MW_SEC_H
#define MW_SEC_H

#include <stddef.h>
#include <stdint.h>

#include "mw_crypto.h"
#include "mw_wire.h"

#define SEC_WIN_BITS 1024u /* replay window, packets (PROTOCOL.md 12.5) */
#define SEC_EPOCH_BITS 23u /* packets per key: 2^23 (12.4) */
#define SEC_HELLO_BURST 16u /* HELLO token bucket: tokens, one more per
			       rto_min (12.6) */

/* One direction of one session: its secret and the key of one epoch. */
struct sec_dir {
	uint8_t secret[32];
	struct mw_aead *a;
	uint64_t epoch; /* epoch of a; UINT64_MAX: none */
	uint8_t iv[MW_AEAD_IV_LEN];
};

/* The keys of one session (our identity and nonce, the peer's). */
struct sec_sess {
	uint8_t valid;
	struct sec_dir tx, rx[2]; /* rx by epoch parity */
	uint64_t tx_sn;           /* next sn we send */
	uint8_t rx_any;           /* a packet was accepted: rx_top valid */
	uint64_t rx_top;          /* highest sn accepted */
	uint64_t rx_bm[SEC_WIN_BITS / 64]; /* sn accepted, by sn % BITS */
};

/* A challenge (12.3): a HELLO of a new identity of a peer whose session
 * is proven, answered from a fresh identity and nonce of ours. It becomes
 * the session only when a packet sealed with its keys arrives. */
struct sec_chal {
	uint8_t valid;
	uint8_t ack_owed;                 /* its HELLO_ACK is to be sent */
	struct mw_ident remote, local;
	uint8_t rnonce[MW_SEC_NONCE_LEN];
	uint8_t lnonce[MW_SEC_NONCE_LEN];
	uint64_t rhello_sn;               /* last HELLO sn accepted for it */
	uint64_t hello_sn;                /* next sn of its HELLO_ACKs */
	struct sec_dir hello;             /* key of its HELLO_ACKs */
	struct mw_hello lim;              /* the HELLO's limits */
	struct sec_sess keys;
};

/* Per peer. */
struct sec_peer {
	uint8_t psk[MW_SEC_PSK_LEN];
	uint8_t lnonce[MW_SEC_NONCE_LEN]; /* ours, for our current identity */
	uint64_t hello_sn;                /* next sn of our HELLOs */
	struct sec_dir hello;             /* key of our HELLOs */
	uint8_t rnonce[MW_SEC_NONCE_LEN]; /* the peer's, for its identity */
	uint8_t rknown;
	uint64_t rhello_sn;               /* last HELLO sn accepted from it */
	struct sec_sess cur;              /* the current session */
	struct sec_sess old;              /* the session a pending CLOSE
					     names (7.3) */
	uint8_t proven;                   /* a DATA/ACK/CLOSE verified under
					     cur's keys (12.3) */
	uint8_t used;                     /* cur's keys sealed or opened a
					     packet */
	struct sec_chal chal;             /* at most one challenge */
	uint32_t hello_tok;               /* HELLO token bucket (12.6) */
	uint64_t hello_tok_at;            /* its last refill */
};

/* What mw_sec_open() found, for mw_sec_accept(). */
struct sec_rx {
	const uint8_t *pkt; /* the packet as plain mode would have it */
	size_t len;
	struct sec_sess *s; /* NULL for HELLO / HELLO_ACK */
	uint64_t sn;
	const uint8_t *nonce;
};

struct mw_ep;
struct peer;
struct mw_hdr;

/* Endpoint and peer set-up and release (plain mode: no-ops). */
int mw_sec_ep_init(struct mw_ep *ep);
void mw_sec_ep_free(struct mw_ep *ep);
int mw_sec_peer_init(struct mw_ep *ep, struct peer *p);
void mw_sec_peer_free(struct mw_ep *ep, struct peer *p);
int mw_sec_peer_key(struct mw_ep *ep, struct peer *p, const uint8_t *psk);
/* Our identity changed (a local teardown, 7.3): a fresh nonce and keys;
 * closing: the session's keys stay for the CLOSE owed. */
void mw_sec_local_changed(struct mw_ep *ep, struct peer *p, int closing);
/* Bytes a secure packet adds to a plain one (the trailer; 0 in plain). */
size_t mw_sec_overhead(const struct mw_ep *ep);
/* Seal the plain packet buf[0..len) in place (buf holds the overhead
 * and the HELLO nonce). @return the new length, or MW_ESTATE (no keys:
 * the packet is not sent). */
int mw_sec_seal(struct mw_ep *ep, struct peer *p, uint8_t *buf, size_t len);
/* Authenticate a received packet whose common header parsed (12.6):
 * on success (0) *rx holds the plain view; 1: the packet was a HELLO
 * taken as a challenge (12.3), nothing more to do; otherwise the drop is
 * counted and its code returned. A packet that proves a challenge makes
 * it the session (a peer restart, 7.2) before this returns 0. */
int mw_sec_open(struct mw_ep *ep, struct peer *p, struct mw_hdr *h,
		const uint8_t *pkt, size_t len, uint64_t now,
		struct sec_rx *rx);
/* Authenticate a compact DATA (PROTOCOL.md 5.6, 12.6) of version 2 and
 * at least 48 bytes, under the current session's keys and identities:
 * 0 with *rx holding the plain view (its crc field 0, not checked), or
 * the drop counted and its code returned. */
int mw_sec_open_cdata(struct mw_ep *ep, struct peer *p, const uint8_t *pkt,
		      size_t len, struct sec_rx *rx);
/* A random generation for a new identity of ours: non-zero, not gen. */
uint32_t mw_sec_draw_gen(struct mw_ep *ep, uint32_t gen);
/* The HELLO_ACK of a challenge owed: its identities (src, dst), or 0. */
int mw_sec_chal_owed(struct peer *p, struct mw_ident *src,
		     struct mw_ident *dst);
/* The challenge's keys, nonces and HELLO key become the session's
 * (mw_session_promote()); the identities are left in p->sec->chal. */
void mw_sec_chal_take(struct mw_ep *ep, struct peer *p);
/* The packet was accepted (not dropped): record its sn, the peer's
 * nonce, the session keys. */
void mw_sec_accept(struct mw_ep *ep, struct peer *p, const struct mw_hdr *h,
		   const struct sec_rx *rx);

#endif /* MW_SEC_H */
