/* SPDX-License-Identifier: BSD-3-Clause */
/* A FIFO delay line (sans-I/O): see mw_delay.h. */
#include "mw_delay.h"

#include <string.h>

int mw_delay_init(struct mw_delay *d, uint64_t delay_ns,
		  struct mw_delay_slot *slots, uint32_t cap)
{
	memset(d, 0, sizeof(*d));
	if (delay_ns == 0 || delay_ns > MW_DELAY_MAX_NS || !slots || cap == 0)
		return MW_EINVAL;
	d->delay_ns = delay_ns;
	d->slot = slots;
	d->cap = cap;
	return 0;
}

int mw_delay_push(struct mw_delay *d, void *pkt, uint64_t now)
{
	if (d->count == d->cap) {
		d->st.overflow++;
		return MW_ENOSPC;
	}
	struct mw_delay_slot *s = &d->slot[(d->head + d->count) % d->cap];
	s->pkt = pkt;
	s->due_ns = now + d->delay_ns;
	d->count++;
	d->st.delayed++;
	if (d->count > d->st.max_held)
		d->st.max_held = d->count;
	return 0;
}

uint32_t mw_delay_pop(struct mw_delay *d, uint64_t now, int all, void **out,
		      uint32_t max)
{
	uint32_t n = 0;

	/* due times grow with push order (now never goes back) */
	while (n < max && d->count) {
		const struct mw_delay_slot *s = &d->slot[d->head];

		if (!all && s->due_ns > now)
			break;
		out[n++] = s->pkt;
		d->head = (d->head + 1) % d->cap;
		d->count--;
	}
	d->st.released += n;
	return n;
}

uint64_t mw_delay_next(const struct mw_delay *d)
{
	return d->count ? d->slot[d->head].due_ns : UINT64_MAX;
}

uint32_t mw_delay_held(const struct mw_delay *d)
{
	return d->count;
}
