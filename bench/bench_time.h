/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_time.h - the benchmark programs' clock and median (not a library:
 * static functions for the programs in bench/).
 */
#ifndef MW_BENCH_TIME_H
#define MW_BENCH_TIME_H

#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of t[0..n), n >= 1 (t is sorted in place). */
static inline double bench_median(double *t, unsigned n)
{
	qsort(t, n, sizeof(*t), bench_cmp_double);
	return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

#endif /* MW_BENCH_TIME_H */
