/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: a dropped packet leaves no state (drop_diff.c). */
#include "drop_diff.h"
#include "mw_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct mw_drop_diff_result r;
	int rc = mw_drop_diff_run(in, len, &r);

	if (rc > 0)
		fprintf(stderr, "receivers differ at drop_diff.c:%d after a "
				"drop (reason %u)\n",
			r.failed_line, r.extra_drop);
	FUZZ_ASSERT(rc == 0);
	FUZZ_ASSERT(r.mem_ok);
	return 0;
}
