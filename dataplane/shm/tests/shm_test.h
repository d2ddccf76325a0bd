/* SPDX-License-Identifier: BSD-3-Clause */
/* Small helpers shared by the channel's tests (checks: mw_test.h). */
#ifndef MW_SHM_TEST_H
#define MW_SHM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mw_test.h"

/* A region name unique to this process and call. */
static inline const char *test_name(const char *what)
{
	static char buf[8][64];
	static unsigned n;
	char *b = buf[n++ % 8];

	snprintf(b, sizeof(buf[0]), "mwtest-%s-%ld-%u", what, (long)getpid(),
		 n);
	return b;
}

#endif
