/* SPDX-License-Identifier: BSD-3-Clause */
/* The drop invariant (PROTOCOL.md 11) over seeded random scenarios: the
 * harness of the fuzz target fuzz_core_drop (fuzz/drop_diff.c), run
 * here without libFuzzer so every build checks it. MW_SEED replays. */
#include <stdio.h>
#include <string.h>

#include "../fuzz/drop_diff.h"
#include "mw_rand.h"
#include "mw_test.h"
#include "mw_transport.h"

int main(void)
{
	uint64_t seed = mw_test_seed_env(20261130), s;
	unsigned runs = 3000, i, j, compared = 0, by[MW_DROP_COUNT_];
	uint8_t in[1024];

	memset(by, 0, sizeof(by));
	mw_test_seed(seed);
	s = seed;
	for (i = 0; i < runs; i++) {
		struct mw_drop_diff_result r;
		size_t len = 64 + mw_rand64(&s) % (sizeof(in) - 64);

		for (j = 0; j < len; j++)
			in[j] = (uint8_t)mw_rand64(&s);
		CHECK_EQ(mw_drop_diff_run(in, len, &r), 0);
		if (r.failed_line)
			fprintf(stderr, "run %u: receivers differ at "
					"drop_diff.c:%d after a %s drop\n",
				i, r.failed_line, mw_drop_name(r.extra_drop));
		CHECK(r.mem_ok);
		if (r.compared) {
			compared++;
			by[r.extra_drop]++;
		}
	}
	printf("%u runs, %u compared after a drop:", runs, compared);
	for (i = 0; i < MW_DROP_COUNT_; i++)
		if (by[i])
			printf(" %s %u", mw_drop_name(i), by[i]);
	printf("\n");
	/* The scenarios must reach the DATA checks, not only the header. */
	CHECK(by[MW_DROP_PAYLOAD] > 0 && by[MW_DROP_HEADER] > 0 &&
	      by[MW_DROP_CHECKSUM] > 0);
	/* and, in secure mode, authentication failures and replays */
	CHECK(by[MW_DROP_AUTH] > 0 && by[MW_DROP_REPLAY] > 0);
	return mw_test_exit("test_drop");
}
