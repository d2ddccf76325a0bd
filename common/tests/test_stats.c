/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for mw_stats.c: nearest-rank percentiles, the mean, the JSON
 * text, the empty set and the largest values. */
#include <stdint.h>
#include <string.h>

#include "mw_stats.h"
#include "mw_test.h"

static void test_ranks(void)
{
	uint64_t v[100];
	struct mw_stats_summary s;
	size_t i;

	/* 100 .. 1 descending: sorted in place, rank r holds r */
	for (i = 0; i < 100; i++)
		v[i] = 100 - i;
	mw_stats_summarize(v, 100, &s);
	for (i = 0; i < 100; i++)
		CHECK_EQ(v[i], i + 1);
	CHECK_EQ(s.count, 100);
	CHECK_EQ(s.min, 1);
	CHECK_EQ(s.p50, 50);
	CHECK_EQ(s.p90, 90);
	CHECK_EQ(s.p99, 99);
	CHECK_EQ(s.max, 100);
	CHECK(s.mean == 50.5);

	/* ranks round up: ceil(0.5 * 5) = 3, ceil(0.9 * 5) = 5 */
	{
		uint64_t w[5] = { 50, 10, 40, 20, 30 };

		mw_stats_summarize(w, 5, &s);
		CHECK_EQ(s.p50, 30);
		CHECK_EQ(s.p90, 50);
		CHECK_EQ(s.p99, 50);
		CHECK(s.mean == 30.0);
	}
	/* one sample is every percentile */
	{
		uint64_t one = 7;

		mw_stats_summarize(&one, 1, &s);
		CHECK(s.count == 1 && s.min == 7 && s.p50 == 7 && s.p90 == 7 &&
		      s.p99 == 7 && s.max == 7 && s.mean == 7.0);
	}
	/* 1000 samples: p99 is the 990th */
	{
		static uint64_t u[1000];

		for (i = 0; i < 1000; i++)
			u[i] = (i * 7919) % 1000; /* a permutation of 0..999 */
		mw_stats_summarize(u, 1000, &s);
		CHECK_EQ(s.p50, 499);
		CHECK_EQ(s.p90, 899);
		CHECK_EQ(s.p99, 989);
		CHECK_EQ(s.max, 999);
	}
}

static void test_empty(void)
{
	struct mw_stats_summary s;

	memset(&s, 0xa5, sizeof(s));
	mw_stats_summarize(NULL, 0, &s);
	CHECK(s.count == 0 && s.min == 0 && s.p50 == 0 && s.max == 0 &&
	      s.mean == 0.0);
}

static void test_json(void)
{
	uint64_t v[4] = { 3000, 1000, 2001, 4000 };
	struct mw_stats_summary s;
	char buf[MW_STATS_JSON_MAX];
	const char *want = "\"count\": 4, \"min\": 1000, \"p50\": 2001, "
			   "\"p90\": 4000, \"p99\": 4000, \"max\": 4000, "
			   "\"mean\": 2500";
	int n;

	mw_stats_summarize(v, 4, &s);
	n = mw_stats_json(buf, sizeof(buf), &s);
	CHECK_EQ(n, (int)strlen(want));
	CHECK(strcmp(buf, want) == 0);
	/* the mean is rounded to an integer */
	s.mean = 2500.75;
	mw_stats_json(buf, sizeof(buf), &s);
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
