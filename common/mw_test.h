/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The unit tests' harness: one header, no library.
 *
 *   CHECK(cond)       records a failure (file:line and the expression) when
 *                     cond is false; the test carries on.
 *   CHECK_EQ(a, b)    the same for a == b, printing both values (compared
 *                     and printed as long long).
 *   mw_test_fail(file, line, fmt, ...)
 *                     records a failure with a custom message, for checks
 *                     that need to say more than an expression.
 *   mw_test_seed(s)   a randomized test states the seed it runs from; every
 *                     failure message and the summary then name it.
 *   mw_test_seed_env(fallback)
 *                     the seed from MW_SEED=<n> if set, else fallback; the
 *                     summary of a failed run says how to replay it.
 *   mw_test_failures() failures recorded so far.
 *   mw_test_exit(name) prints one summary line and returns main()'s exit
 *                     status: 0 when every check passed, 1 otherwise.
 *
 * Typical main():
 *
 *	int main(void)
 *	{
 *		test_a();
 *		test_b();
 *		return mw_test_exit("test_x");
 *	}
 *
 * State is per translation unit (each test is one .c file).
 */
#ifndef MW_TEST_H
#define MW_TEST_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct mw_test_state {
	int failures;
	int seeded;   /* a seed was set: name it on failure */
	int replay;   /* it came through mw_test_seed_env(): MW_SEED replays */
	uint64_t seed;
};

static inline struct mw_test_state *mw_test_state(void)
{
	static struct mw_test_state st;

	return &st;
}

static inline void mw_test_seed(uint64_t seed)
{
	struct mw_test_state *st = mw_test_state();

	st->seeded = 1;
	st->seed = seed;
}

static inline uint64_t mw_test_seed_env(uint64_t fallback)
{
	const char *s = getenv("MW_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : fallback;

	mw_test_seed(seed);
	mw_test_state()->replay = 1;
	return seed;
}

static inline int mw_test_failures(void)
{
	return mw_test_state()->failures;
}

static inline void mw_test_fail(const char *file, int line, const char *fmt,
				...) __attribute__((format(printf, 3, 4)));

static inline void mw_test_fail(const char *file, int line, const char *fmt,
				...)
{
	struct mw_test_state *st = mw_test_state();
	va_list ap;

	fprintf(stderr, "%s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (st->seeded)
		fprintf(stderr, " (seed %" PRIu64 ")", st->seed);
	fputc('\n', stderr);
	st->failures++;
}

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond))                                                  \
			mw_test_fail(__FILE__, __LINE__,                      \
				     "CHECK failed: %s", #cond);              \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_)                                                 \
			mw_test_fail(__FILE__, __LINE__,                      \
				     "CHECK_EQ failed: %s == %lld, %s == %lld", \
				     #a, a_, #b, b_);                         \
	} while (0)

static inline int mw_test_exit(const char *name)
{
	const struct mw_test_state *st = mw_test_state();

	if (st->failures) {
		fprintf(stderr, "%s: %d check(s) failed", name, st->failures);
		if (st->replay)
			fprintf(stderr, "; replay with MW_SEED=%" PRIu64,
				st->seed);
		else if (st->seeded)
			fprintf(stderr, " (last seed %" PRIu64 ")", st->seed);
		fputc('\n', stderr);
		return 1;
	}
	if (st->replay)
		printf("%s: all checks passed (seed %" PRIu64 ")\n", name,
		       st->seed);
	else
		printf("%s: all checks passed\n", name);
	return 0;
}

#endif /* MW_TEST_H */
