/* SPDX-License-Identifier: BSD-3-Clause */
/* Small helpers shared by the channel's tests. */
#ifndef MW_SHM_TEST_H
#define MW_SHM_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int shm_test_failed;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",          \
				__FILE__, __LINE__, #cond);                   \
			shm_test_failed++;                                      \
		}                                                             \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_) {                                               \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == "  \
				"%lld\n", __FILE__, __LINE__, #a, a_, #b, b_);\
			shm_test_failed++;                                      \
		}                                                             \
	} while (0)

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

static inline int test_result(const char *prog)
{
	if (shm_test_failed) {
		fprintf(stderr, "%s: %d check(s) failed\n", prog,
			shm_test_failed);
		return 1;
	}
	printf("%s: ok\n", prog);
	return 0;
}

#endif
