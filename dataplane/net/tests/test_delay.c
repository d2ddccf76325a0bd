/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for mw_delay.c: configuration, order, due times, overflow,
 * wrap-around, shutdown. */
#include "mw_delay.h"

#include <stdint.h>

#include "mw_test.h"

#define MS 1000000ull

static void test_cfg(void)
{
	struct mw_delay d;
	struct mw_delay_slot s[4];

	CHECK_EQ(mw_delay_init(&d, 0, s, 4), MW_EINVAL);
	CHECK_EQ(mw_delay_init(&d, MW_DELAY_MAX_NS + 1, s, 4), MW_EINVAL);
	CHECK_EQ(mw_delay_init(&d, MS, NULL, 4), MW_EINVAL);
	CHECK_EQ(mw_delay_init(&d, MS, s, 0), MW_EINVAL);
	CHECK_EQ(mw_delay_init(&d, MW_DELAY_MAX_NS, s, 4), 0);
	CHECK_EQ(mw_delay_next(&d), UINT64_MAX);
	CHECK_EQ(mw_delay_held(&d), 0u);
}

/* Each packet comes back exactly when it is due, in push order, across
 * many wraps of the ring; never early. */
static void test_due_and_order(void)
{
	struct mw_delay d;
	struct mw_delay_slot s[5];
	void *out[8];
	uintptr_t next_in = 1, next_out = 1;
	uint64_t now = 1000;

	CHECK_EQ(mw_delay_init(&d, 10 * MS, s, 5), 0);
	for (int step = 0; step < 2000; step++) {
		/* push one packet every 3 ms while there is room */
		if (step % 3 == 0 && mw_delay_held(&d) < 5) {
			CHECK_EQ(mw_delay_push(&d, (void *)next_in, now), 0);
			next_in++;
		}
		uint64_t due = mw_delay_next(&d);
		uint32_t n = mw_delay_pop(&d, now, 0, out, 8);
		if (due > now)
			CHECK_EQ(n, 0u);
		for (uint32_t i = 0; i < n; i++) {
			CHECK_EQ((uintptr_t)out[i], next_out);
			next_out++;
		}
		now += MS;
	}
	CHECK(next_out > 600);
	CHECK_EQ(d.st.delayed, (uint64_t)(next_in - 1));
	CHECK_EQ(d.st.released + mw_delay_held(&d), d.st.delayed);
	CHECK_EQ(d.st.overflow, 0u);
	CHECK(d.st.max_held <= 5);
}

/* A packet pushed at t is not out at t + delay - 1 and is at t + delay. */
static void test_exact_time(void)
{
	struct mw_delay d;
	struct mw_delay_slot s[2];
	void *out[2];

	CHECK_EQ(mw_delay_init(&d, 7, s, 2), 0);
	CHECK_EQ(mw_delay_push(&d, (void *)1, 100), 0);
	CHECK_EQ(mw_delay_next(&d), 107u);
	CHECK_EQ(mw_delay_pop(&d, 106, 0, out, 2), 0u);
	CHECK_EQ(mw_delay_pop(&d, 107, 0, out, 2), 1u);
	CHECK(out[0] == (void *)1);
	CHECK_EQ(mw_delay_next(&d), UINT64_MAX);
}

/* A full line refuses (and counts) the packet; shutdown returns all. */
static void test_overflow_and_all(void)
{
	struct mw_delay d;
	struct mw_delay_slot s[3];
	void *out[4];

	CHECK_EQ(mw_delay_init(&d, 50 * MS, s, 3), 0);
	for (uintptr_t i = 1; i <= 3; i++)
		CHECK_EQ(mw_delay_push(&d, (void *)i, i), 0);
	CHECK_EQ(mw_delay_push(&d, (void *)4, 4), MW_ENOSPC);
	CHECK_EQ(d.st.overflow, 1u);
	CHECK_EQ(mw_delay_held(&d), 3u);
	/* max limits what one call returns */
	CHECK_EQ(mw_delay_pop(&d, 5, 1, out, 2), 2u);
	CHECK(out[0] == (void *)1 && out[1] == (void *)2);
	CHECK_EQ(mw_delay_pop(&d, 5, 1, out, 4), 1u);
	CHECK(out[0] == (void *)3);
	CHECK_EQ(mw_delay_pop(&d, 5, 1, out, 4), 0u);
	CHECK_EQ(d.st.released, 3u);
	CHECK_EQ(d.st.max_held, 3u);
}

int main(void)
{
	test_cfg();
	test_due_and_order();
	test_exact_time();
	test_overflow_and_all();
	return mw_test_exit("test_delay");
}
