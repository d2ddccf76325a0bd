/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for mw_stats.c: nearest-rank percentiles, the mean, the JSON
 * text, the empty set and the largest values. */
#include <stdint.h>
#include <string.h>

#include "mw_stats.h"
#include "mw_test.h"

/* Summarise v[0..n), check that v is now sorted and that the JSON members
 * are want; returns the summary for further checks. */
static struct mw_stats_summary expect(uint64_t *v, size_t n, const char *want,
				      int line)
{
	struct mw_stats_summary s;
	char got[MW_STATS_JSON_MAX];

	mw_stats_summarize(v, n, &s);
	mw_stats_json(got, sizeof(got), &s);
	if (strcmp(got, want))
		mw_test_fail(__FILE__, line, "%zu samples:\n got  %s\n want %s",
			     n, got, want);
	for (size_t i = 1; i < n; i++)
		if (v[i - 1] > v[i]) {
			mw_test_fail(__FILE__, line, "not sorted at %zu", i);
			break;
		}
	return s;
}

#define EXPECT(v, n, want) expect(v, n, want, __LINE__)

static void test_ranks(void)
{
	static uint64_t v[1000];
	uint64_t five[5] = { 50, 10, 40, 20, 30 }, one = 7;
	struct mw_stats_summary s;
	size_t i;

	/* 1000, 990, .., 10: the p-th percentile is 10 p */
	for (i = 0; i < 100; i++)
		v[i] = 10 * (100 - i);
	s = EXPECT(v, 100,
		   "\"count\": 100, \"min\": 10, \"p50\": 500, "
		   "\"p90\": 900, \"p99\": 990, \"max\": 1000, "
		   "\"mean\": 505");
	CHECK(s.mean == 505.0);
	/* ranks round up: ceil(0.5 * 5) = 3, ceil(0.9 * 5) = 5 */
	EXPECT(five, 5,
	       "\"count\": 5, \"min\": 10, \"p50\": 30, "
	       "\"p90\": 50, \"p99\": 50, \"max\": 50, \"mean\": 30");
	/* one sample is every percentile */
	EXPECT(&one, 1,
	       "\"count\": 1, \"min\": 7, \"p50\": 7, \"p90\": 7, "
	       "\"p99\": 7, \"max\": 7, \"mean\": 7");
	/* 0, 2, .., 1998 shuffled: p99 is the 990th smallest */
	for (i = 0; i < 1000; i++)
		v[i] = 2 * ((i * 7919) % 1000);
	EXPECT(v, 1000,
	       "\"count\": 1000, \"min\": 0, \"p50\": 998, "
	       "\"p90\": 1798, \"p99\": 1978, \"max\": 1998, "
	       "\"mean\": 999");
}

static void test_empty(void)
{
	struct mw_stats_summary s =
		EXPECT(NULL, 0,
		       "\"count\": 0, \"min\": 0, \"p50\": 0, "
		       "\"p90\": 0, \"p99\": 0, \"max\": 0, \"mean\": 0");
	CHECK(s.mean == 0.0);
}

static void test_json(void)
{
	struct mw_stats_summary s;
	char buf[MW_STATS_JSON_MAX];
	int n;

	memset(&s, 0, sizeof(s));
	s.count = 4;
	s.mean = 2500.75; /* rounded to an integer */
	n = mw_stats_json(buf, sizeof(buf), &s);
	CHECK_EQ(n, (int)strlen(buf));
	CHECK(strstr(buf, "\"mean\": 2501") != NULL);
	/* cut short: snprintf's contract */
	n = mw_stats_json(buf, 8, &s);
	CHECK(n > 8 && strlen(buf) == 7);
}

/* The longest text: every number at its widest. */
static void test_bound(void)
{
	uint64_t v[2] = { UINT64_MAX, UINT64_MAX };
	struct mw_stats_summary s;
	char buf[MW_STATS_JSON_MAX];
	int n;

	mw_stats_summarize(v, 2, &s);
	s.count = SIZE_MAX;
	n = mw_stats_json(buf, sizeof(buf), &s);
	CHECK(n > 0 && (size_t)n < MW_STATS_JSON_MAX);
}

int main(void)
{
	test_ranks();
	test_empty();
	test_json();
	test_bound();
	return mw_test_exit("test_stats");
}
