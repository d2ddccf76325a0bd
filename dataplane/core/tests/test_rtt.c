/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for rtt.c: the estimator of PROTOCOL.md 8.3 and the timeout
 * arithmetic of 8.4. */
#include "mw_test.h"
#include "rtt.h"

#define US 1000ull
#define MS 1000000ull

static void test_first_sample(void)
{
	struct mw_rtt r = { 0 };

	mw_rtt_sample(&r, 100 * US, 0, 200 * US, 5);
	CHECK(r.has_rtt);
	CHECK_EQ(r.srtt, 100 * US);
	CHECK_EQ(r.rttvar, 50 * US);
	CHECK_EQ(r.min_rtt, 100 * US);
	CHECK_EQ(r.latest_rtt, 100 * US);
	CHECK_EQ(r.rttvar_stamp, 5);
}

/* ack_delay is capped at max_ack_delay and only subtracted when at least
 * the granularity is left. */
static void test_ack_delay(void)
{
	struct mw_rtt r = { 0 };

	mw_rtt_sample(&r, 500 * US, 900 * US, 200 * US, 0);
	CHECK_EQ(r.latest_rtt, 300 * US);
	r = (struct mw_rtt){ 0 };
	mw_rtt_sample(&r, 1500, 1000, 200 * US, 0); /* would leave 500 ns */
	CHECK_EQ(r.latest_rtt, 1500);
}

/* rttvar rises at once, falls at most once per srtt. */
static void test_rttvar(void)
{
	struct mw_rtt r = { 0 };
	uint64_t v;

	mw_rtt_sample(&r, 100 * US, 0, 0, 0);      /* srtt 100, rttvar 50 */
	mw_rtt_sample(&r, 300 * US, 0, 0, 1 * US); /* |100-300|: rises */
	CHECK_EQ(r.rttvar, (3 * 50 * US + 200 * US) / 4);
	CHECK_EQ(r.srtt, (7 * 100 * US + 300 * US) / 8);
	v = r.rttvar;
	/* a smaller deviation right after: not yet (stamp 0, srtt 125) */
	mw_rtt_sample(&r, r.srtt, 0, 0, 2 * US);
	CHECK_EQ(r.rttvar, v);
	/* one srtt after the stamp it may fall */
	mw_rtt_sample(&r, r.srtt, 0, 0, 200 * US);
	CHECK(r.rttvar < v);
	CHECK_EQ(r.rttvar_stamp, 200 * US);
	CHECK_EQ(r.min_rtt, 100 * US);
}

static void test_rto(void)
{
	struct mw_rtt r = { 0 };

	/* no sample: rto_initial, clamped */
	CHECK_EQ(mw_rtt_rto(&r, 10 * MS, 1 * MS, 1000 * MS, 200 * US),
		 10 * MS);
	CHECK_EQ(mw_rtt_rto(&r, 10 * MS, 20 * MS, 1000 * MS, 200 * US),
		 20 * MS);
	/* srtt + max(4 rttvar, granularity) + max_ack_delay */
	r.has_rtt = 1;
	r.srtt = 5 * MS;
	r.rttvar = 1 * MS;
	CHECK_EQ(mw_rtt_rto(&r, 10 * MS, 1 * US, 1000 * MS, 200 * US),
		 9 * MS + 200 * US);
	r.rttvar = 0;
	CHECK_EQ(mw_rtt_rto(&r, 10 * MS, 1, 1000 * MS, 0),
		 5 * MS + MW_RTT_GRANULARITY_NS);
	CHECK_EQ(mw_rtt_rto(&r, 10 * MS, 1, 2 * MS, 0), 2 * MS);
}

static void test_backoff(void)
{
	CHECK_EQ(mw_rtt_backoff(1 * MS, 0, 1000 * MS), 1 * MS);
	CHECK_EQ(mw_rtt_backoff(1 * MS, 3, 1000 * MS), 8 * MS);
	CHECK_EQ(mw_rtt_backoff(1 * MS, 10, 1000 * MS), 1000 * MS);
	CHECK_EQ(mw_rtt_backoff(1 * MS, 200, 1000 * MS), 1000 * MS);
}

/* The time to give up of PROTOCOL.md 8.4 with the default configuration:
 * sum over i = 0..max_retries of min(rto x 2^i, rto_max). */
static uint64_t give_up(uint64_t rto, uint32_t max_retries)
{
	uint64_t t = 0;
	uint32_t i;

	for (i = 0; i <= max_retries; i++)
		t += mw_rtt_backoff(rto, i, 1000 * MS);
	return t;
}

static void test_give_up_time(void)
{
	struct mw_rtt r = { 0 };
	uint64_t hello = mw_rtt_rto(&r, 10 * MS, 1 * MS, 1000 * MS, 200 * US);

	CHECK_EQ(give_up(hello, 16), 11270 * MS);
	r.has_rtt = 1;
	r.srtt = 50 * US;
	r.rttvar = 10 * US;
	CHECK_EQ(give_up(mw_rtt_rto(&r, 10 * MS, 1 * MS, 1000 * MS, 200 * US),
			 16),
		 8023 * MS);
}

int main(void)
{
	test_first_sample();
	test_ack_delay();
	test_rttvar();
	test_rto();
	test_backoff();
	test_give_up_time();
	return mw_test_exit("test_rtt");
}
