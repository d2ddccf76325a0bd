/* SPDX-License-Identifier: BSD-3-Clause */
/* sim_heap.h - maskwire-sim's packets in flight, by arrival time. */
#ifndef MW_SIM_HEAP_H
#define MW_SIM_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct pkt {
	uint64_t t, seq;
	uint16_t to;            /* the receiving node or endpoint */
	uint8_t corrupted;      /* counted when it arrives */
	uint16_t len;
	uint8_t *data;
};

struct heap {
	struct pkt *v;
	size_t n, cap;
};

/* A packet for `to` at time t, carrying a copy of buf (exits on out of
 * memory, the simulator's only failure mode). */
struct pkt sim_pkt(uint64_t t, uint64_t seq, uint16_t to, const uint8_t *buf,
		   size_t len);
/* Add p (exits on out of memory, the simulator's only failure mode). */
void sim_heap_push(struct heap *h, struct pkt p);
/* Remove and return the earliest packet; h->n must be non-zero. */
struct pkt sim_heap_pop(struct heap *h);

#endif /* MW_SIM_HEAP_H */
