/* SPDX-License-Identifier: BSD-3-Clause */
/* Sample summaries (see mw_stats.h). */
#include "mw_stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n >= 1 ascending values. */
static uint64_t pct(const uint64_t *v, size_t n, double q)
{
	double x = q * (double)n;
	size_t r = (size_t)x;

	if ((double)r < x)
		r++;
	return v[r ? r - 1 : 0];
}

void mw_stats_summarize(uint64_t *v, size_t n, struct mw_stats_summary *s)
{
	double sum = 0;

	memset(s, 0, sizeof(*s));
	if (!n)
		return;
	qsort(v, n, sizeof(*v), cmp_u64);
	/* Summed in ascending order: the mean does not depend on the order
	 * the samples came in. */
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	s->count = n;
	s->min = v[0];
	s->p50 = pct(v, n, 0.5);
	s->p90 = pct(v, n, 0.9);
	s->p99 = pct(v, n, 0.99);
	s->max = v[n - 1];
	s->mean = sum / (double)n;
}

int mw_stats_json(char *buf, size_t cap, const struct mw_stats_summary *s)
{
	return snprintf(buf, cap,
			"\"count\": %zu, \"min\": %" PRIu64
			", \"p50\": %" PRIu64 ", \"p90\": %" PRIu64
			", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
			", \"mean\": %.0f",
			s->count, s->min, s->p50, s->p90, s->p99, s->max,
			s->mean);
}
