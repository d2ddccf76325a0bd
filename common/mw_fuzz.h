/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the libFuzzer targets. FUZZ_ASSERT(cond) prints file:line and
 * the expression, then aborts, so libFuzzer saves the input as a crash.
 * Unit tests use mw_test.h instead (a failed check does not stop them).
 */
#ifndef MW_FUZZ_H
#define MW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(cond)                                                     \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",      \
				__FILE__, __LINE__, #cond);                   \
			abort();                                              \
		}                                                             \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* MW_FUZZ_H */
