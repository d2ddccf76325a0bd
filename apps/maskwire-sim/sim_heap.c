/* SPDX-License-Identifier: BSD-3-Clause */
/* sim_heap.c - a binary heap of packets, ordered by arrival time and
 * then by the order they were sent (so equal times stay in order). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_heap.h"

static int pkt_before(const struct pkt *a, const struct pkt *b)
{
	return a->t != b->t ? a->t < b->t : a->seq < b->seq;
}

struct pkt sim_pkt(uint64_t t, uint64_t seq, uint16_t to, const uint8_t *buf,
		   size_t len)
{
	struct pkt p;

	memset(&p, 0, sizeof(p));
	p.t = t;
	p.seq = seq;
	p.to = to;
	p.len = (uint16_t)len;
	p.data = malloc(len ? len : 1);
	if (!p.data) {
		perror("malloc");
		exit(2);
	}
	memcpy(p.data, buf, len);
	return p;
}

void sim_heap_push(struct heap *h, struct pkt p)
{
	size_t i;

	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 1024;
		h->v = realloc(h->v, h->cap * sizeof(*h->v));
		if (!h->v) {
			perror("realloc");
			exit(2);
		}
	}
	i = h->n++;
	while (i && pkt_before(&p, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = p;
}

struct pkt sim_heap_pop(struct heap *h)
{
	struct pkt top = h->v[0], last = h->v[--h->n];
	size_t i = 0, c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && pkt_before(&h->v[c + 1], &h->v[c]))
			c++;
		if (!pkt_before(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return top;
}
