/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for cc_rate.c: the rate controller's model, its pacing, its
 * response to delay and its indifference to loss (docs/CC.md). */
#include <string.h>

#include "cc.h"
#include "mw_test.h"
#include "mw_transport.h"

#define MS 1000000ull

struct feed {
	uint64_t now, total;
};

static void mk(struct mw_cc *cc, struct feed *f)
{
	memset(cc, 0, sizeof(*cc));
	memset(f, 0, sizeof(*f));
	mw_cc_init(cc, mw_cc_ops_get(MW_CC_RATE), 2, 4096, 32, 1, 0);
}

/* One round trip: pkts delivered over 1 ms with this RTT. */
static void round_trip(struct mw_cc *cc, struct feed *f, uint64_t pkts,
		       uint64_t rtt, uint32_t in_flight)
{
	struct mw_cc_sample rs;

	f->now += MS;
	memset(&rs, 0, sizeof(rs));
	rs.now = f->now;
	rs.prior_delivered = f->total;
	f->total += pkts;
	rs.total_delivered = f->total;
	rs.delivered = pkts;
	rs.interval_ns = MS;
	rs.rtt_ns = rtt;
	rs.in_flight = in_flight;
	mw_cc_on_sample(cc, &rs);
}

static void test_names(void)
{
	CHECK_EQ(mw_cc_from_name("rate"), MW_CC_RATE);
	CHECK(strcmp(mw_cc_name(MW_CC_RATE), "rate") == 0);
	CHECK(mw_cc_ops_get(MW_CC_RATE) == &mw_cc_rate_ops);
}

/* No pacing before a sample; then 1000 packets per ms at startup's gain.
 * At one instant the gate lets a burst of the quantum through (plus the
 * first packet), then opens pace_ns after each send: the average is the
 * paced rate. */
static void test_pacing(void)
{
	struct mw_cc cc;
	struct feed f;
	unsigned i, n;
	uint64_t t;

	mk(&cc, &f);
	CHECK_EQ(cc.pace_ns, 0);
	CHECK_EQ(cc.cwnd, 32);
	CHECK(mw_cc_may_send(&cc, 0));
	round_trip(&cc, &f, 1000, MS, 0);
	/* 1 us per packet over 739/256 */
	CHECK(cc.pace_ns >= 345 && cc.pace_ns <= 347);
	for (i = 0; i <= MW_CC_PACE_QUANTUM; i++) {
		CHECK(mw_cc_may_send(&cc, 10 * MS));
		mw_cc_on_sent(&cc, 10 * MS, 0);
	}
	CHECK(!mw_cc_may_send(&cc, 10 * MS));
	CHECK(!mw_cc_may_send(&cc, 10 * MS + cc.pace_ns - 1));
	CHECK(mw_cc_may_send(&cc, 10 * MS + cc.pace_ns));
	mw_cc_on_sent(&cc, 10 * MS + cc.pace_ns, 0);
	CHECK(!mw_cc_may_send(&cc, 10 * MS + cc.pace_ns));
	/* 1000 more packets take 1000 intervals, whatever the burst */
	for (i = 0, n = 0, t = 10 * MS + cc.pace_ns; n < 1000; t += 10)
		while (mw_cc_may_send(&cc, t) && n < 1000) {
			mw_cc_on_sent(&cc, t, 0);
			n++;
		}
	CHECK(t - (10 * MS + cc.pace_ns) >= 999 * cc.pace_ns &&
	      t - (10 * MS + cc.pace_ns) <= 1001 * cc.pace_ns);
	/* idle: no credit saved beyond the quantum */
	mw_cc_on_sent(&cc, 20 * MS, 1);
	CHECK_EQ(cc.pace_next, 20 * MS + cc.pace_ns);
	CHECK_EQ(mw_cc_pace_open(&cc),
		 20 * MS + cc.pace_ns - MW_CC_PACE_QUANTUM * cc.pace_ns);
}

/* A constant rate ends startup; ProbeBW cruises at gain 1 with a window
 * of 2 BDP + 4 (BDP = 1000 packets). */
static void settle(struct mw_cc *cc, struct feed *f)
{
	int i;

	for (i = 0; i < 8; i++)
		round_trip(cc, f, 1000, MS, 900);
}

static void test_startup_exit(void)
{
	struct mw_cc cc;
	struct feed f;

	mk(&cc, &f);
	settle(&cc, &f);
	CHECK_EQ(cc.cwnd, 2004);
	CHECK(cc.pace_ns >= 799 && cc.pace_ns <= 1334); /* 5/4, 3/4 or 1 */
}

/* A flight that starts empty after idle sends its window (2 BDP + 4)
 * at once, then is paced again; a flight that does not start empty, or
 * a controller still in startup, gets only the quantum. */
static void count_at(struct mw_cc *cc, uint64_t t, int first_idle,
		     unsigned *n)
{
	*n = 0;
	while (mw_cc_may_send(cc, t) && *n < 10000) {
		mw_cc_on_sent(cc, t, first_idle && *n == 0);
		(*n)++;
	}
}

static void test_idle_burst(void)
{
	struct mw_cc cc;
	struct feed f;
	unsigned n;
	uint64_t t;

	mk(&cc, &f);
	settle(&cc, &f);
	CHECK_EQ(cc.cwnd, 2004);
	t = f.now + 50 * MS; /* idle well past the schedule */
	count_at(&cc, t, 1, &n);
	CHECK_EQ(n, cc.cwnd);
	/* then paced: one more per interval */
	CHECK(!mw_cc_may_send(&cc, t + cc.pace_ns - 1));
	CHECK(mw_cc_may_send(&cc, t + cc.pace_ns));
	/* the same idle gap without an empty flight: the quantum */
	t += 100 * MS;
	count_at(&cc, t, 0, &n);
	CHECK_EQ(n, MW_CC_PACE_QUANTUM + 1);
	/* an empty flight still ahead of its schedule: no burst either */
	count_at(&cc, t, 1, &n);
	CHECK_EQ(n, 0);
	/* a session reset forgets a burst in progress */
	t += 100 * MS;
	mw_cc_on_sent(&cc, t, 1);
	CHECK(cc.burst_left > 0);
	mw_cc_reset(&cc);
	CHECK_EQ(cc.burst_left, 0);
}

/* Loss and timeouts leave the model alone. */
static void test_loss_ignored(void)
{
	struct mw_cc cc;
	struct feed f;
	uint64_t pace;
	uint32_t cwnd;

	mk(&cc, &f);
	settle(&cc, &f);
	pace = cc.pace_ns;
	cwnd = cc.cwnd;
	mw_cc_on_loss(&cc, f.now - 1, f.now, 100);
	mw_cc_on_timeout(&cc, 1, f.now, 101);
	CHECK_EQ(cc.pace_ns, pace);
	CHECK_EQ(cc.cwnd, cwnd);
}

/* A queue above the target (a quarter of the 1 ms min RTT) drains at
 * 3/4 until the RTT is back. */
static void test_delay_backoff(void)
{
	struct mw_cc cc;
	struct feed f;
	int i;

	mk(&cc, &f);
	settle(&cc, &f);
	for (i = 0; i < 3; i++) {
		round_trip(&cc, &f, 1000, MS + MS / 4 + 1000, 1000);
		CHECK_EQ(cc.pace_ns, 1333); /* 1 us * 4/3 */
	}
	round_trip(&cc, &f, 1000, MS, 1000);
	CHECK(cc.pace_ns < 1333);
	/* below the target: the cycle goes on (2 -> 3), no back-off */
	mk(&cc, &f);
	settle(&cc, &f);
	cc.rate.cycle = 2;
	cc.rate.cycle_stamp = f.now;
	round_trip(&cc, &f, 1000, MS + MS / 4 - 1000, 1000);
	CHECK_EQ(cc.rate.cycle, 3);
	CHECK_EQ(cc.pace_ns, 1000);
}

/*
 * A short path (min RTT 10 us) whose peer holds its ACKs up to 200 us
 * (cc.host_delay_ns): RTT samples that wander by the peer's own delay are
 * not a queue (the cycle goes on past its drain phase), and the window
 * covers the rate over min RTT + that delay, not over 10 us alone.
 */
static void test_host_delay(void)
{
	struct mw_cc cc;
	struct feed f;
	int i, past_drain = 0;

	mk(&cc, &f);
	cc.host_delay_ns = 200000;
	for (i = 0; i < 30; i++) {
		/* 100 packets per ms (1 per 10 us); RTTs 10 us .. 180 us */
		round_trip(&cc, &f, 100, 10000 + (uint64_t)(i % 10) * 17000,
			   10);
		past_drain += cc.rate.mode == 2 && cc.rate.cycle > 1;
	}
	CHECK(past_drain > 5);
	/* BDP over 10 us + 200 us: 21 packets; cwnd 2 BDP + 4 */
	CHECK(cc.cwnd >= 40);
	/* the same samples without the host delay: a drain that never ends */
	mk(&cc, &f);
	past_drain = 0;
	for (i = 0; i < 30; i++) {
		round_trip(&cc, &f, 100, 10000 + (uint64_t)(i % 10) * 17000,
			   10);
		past_drain += cc.rate.mode == 2 && cc.rate.cycle > 1;
	}
	CHECK(cc.cwnd < 10);
}

/* Bad samples (no interval, absurd counts) do not move the rate. */
static void test_bad_samples(void)
{
	struct mw_cc cc;
	struct feed f;
	struct mw_cc_sample rs;

	mk(&cc, &f);
	memset(&rs, 0, sizeof(rs));
	rs.delivered = 1000;
	mw_cc_on_sample(&cc, &rs);
	CHECK_EQ(cc.rate.bw, 0);
	rs.interval_ns = 1;
	rs.delivered = UINT64_MAX;
	mw_cc_on_sample(&cc, &rs);
	CHECK_EQ(cc.rate.bw, 0);
	CHECK_EQ(cc.pace_ns, 0);
}

int main(void)
{
	test_names();
	test_pacing();
	test_startup_exit();
	test_idle_burst();
	test_loss_ignored();
	test_delay_backoff();
	test_host_delay();
	test_bad_samples();
	return mw_test_exit("test_cc_rate");
}
