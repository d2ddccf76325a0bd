/* SPDX-License-Identifier: BSD-3-Clause */
/* Round-robin service of slots (see mw_rr.h). */
#include "mw_rr.h"

unsigned mw_rr_run(struct mw_rr *rr, unsigned n, unsigned budget, mw_rr_fn fn,
		   void *ctx)
{
	unsigned done = 0, idle = 0;

	if (n == 0)
		return 0;
	rr->next %= n;
	while (done < budget && idle < n) {
		unsigned i = rr->next;
		int r = fn(ctx, i);

		if (r < 0)
			break; /* cursor stays: i is first next time */
		rr->next = i + 1 == n ? 0 : i + 1;
		if (r > 0) {
			done++;
			idle = 0;
		} else {
			idle++;
		}
	}
	return done;
}
