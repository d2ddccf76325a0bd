/* SPDX-License-Identifier: BSD-3-Clause */
/* The drop-invariant harness (drop_diff.c), shared by the fuzz target
 * fuzz_core_drop and the seeded unit test test_drop. */
#ifndef MW_DROP_DIFF_H
#define MW_DROP_DIFF_H

#include <stddef.h>
#include <stdint.h>

struct mw_drop_diff_result {
	int failed_line;  /**< drop_diff.c line of the first difference, 0 */
	int compared;     /**< the extra packet was dropped without an extra
			       action and the two receivers were compared */
	unsigned extra_drop; /**< enum mw_drop of the extra packet */
	int mem_ok;       /**< memory held within the configured bound */
};

/**
 * Run one scenario driven by data[0..len).
 * @return 0 when the invariant held, 1 when the receivers differed (see
 *         res->failed_line), -1 when an endpoint could not be created.
 */
int mw_drop_diff_run(const uint8_t *data, size_t len,
		     struct mw_drop_diff_result *res);

#endif
