/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mutate.h - what the parts of `maskwire-pcaptool mutate` share: the
 * capture being mutated and the helpers that insert frames into it.
 * mutate.c (the command, reorder/duplicate/damage, bench), mutate_hostile.c
 * (hostile maskwire datagrams from the peer), mutate_foreign.c (foreign
 * traffic). Not installed.
 */
#ifndef MW_MUTATE_H
#define MW_MUTATE_H

#include "pcaptool.h"

#define FBUF 16384u

struct mut {
	struct pt_sess s;
	struct pt_cap c;
	uint64_t rng;
	struct mw_ident peer;   /* the peer's session, from its HELLO */
	struct mw_ident local;  /* the replaying side's: {inc, 1} */
	bool have_peer;
	uint16_t ip_id;
	FILE *log;
	unsigned done[64];
};

/* A valid DATA packet from the peer at frame i? Fills d and the datagram. */
bool mut_data_at(const struct mut *m, size_t i, struct mw_data *d,
		 const uint8_t **pl, size_t *len);
/* Print the error and exit 1. */
void mut_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
	__attribute__((noreturn));
/* Insert a frame before frame pos (at the end if pos is past it), with
 * the timestamp of the frame it goes before. */
void mut_insert(struct mut *m, size_t pos, const uint8_t *d, size_t len,
		const char *note);
/* Set the length and CRC32C of a maskwire datagram (exits on error). */
void mut_finish(uint8_t *dg, size_t len);
/* The catalogue of hostile datagrams (mutate_hostile.c). */
void mut_hostile(struct mut *m);
/* n foreign frames of every kind (mutate_foreign.c). */
void mut_foreign(struct mut *m, unsigned n);
/* Version 2: n_alter altered copies of the peer's HELLO before it (auth),
 * n_replay exact copies after it (replay), checked under the key. */
void mut_secure(struct mut *m, const char *keyfile, unsigned n_replay,
		unsigned n_alter);

#endif /* MW_MUTATE_H */
