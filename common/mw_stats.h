/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_stats.h
 * The summary of a set of samples (latencies in nanoseconds) that the
 * benchmarks report: count, min, nearest-rank p50/p90/p99, max, mean. One
 * definition, so that the data plane's sink (sink.latency_ns) and the
 * kernel TCP baseline (bench/tcp_tensor.c) compute and print it alike.
 * No allocation, no I/O: the JSON goes to a caller buffer.
 */
#ifndef MW_STATS_H
#define MW_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Summary of n samples. */
struct mw_stats_summary {
	size_t count;
	uint64_t min;
	uint64_t p50, p90, p99; /**< nearest rank: the ceil(q n)-th smallest */
	uint64_t max;
	double mean;
};

/**
 * Summarise v[0..n).
 * @param v  the samples; sorted in place (ascending).
 * @param n  how many; 0 gives count 0 and every other field 0.
 * @param s  out.
 */
void mw_stats_summarize(uint64_t *v, size_t n, struct mw_stats_summary *s);

/** Buffer size that always holds mw_stats_json()'s text and its NUL. */
#define MW_STATS_JSON_MAX 256u

/**
 * Write a summary as the members of a JSON object, without the braces,
 * so that a caller can add members of its own:
 * "count": N, "min": N, "p50": N, "p90": N, "p99": N, "max": N, "mean": N
 * (the mean rounded to an integer).
 * @param buf  out, NUL-terminated when cap > 0.
 * @param cap  its size; MW_STATS_JSON_MAX always suffices.
 * @return the length of the text (without the NUL), as snprintf(); a
 *         value >= cap means it was cut short.
 */
int mw_stats_json(char *buf, size_t cap, const struct mw_stats_summary *s);

#ifdef __cplusplus
}
#endif
#endif /* MW_STATS_H */
