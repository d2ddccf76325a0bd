/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cc_rate.c - the "rate" congestion controller (docs/CC.md): a model of
 * the path (the bottleneck's delivery rate, a windowed maximum over ten
 * round trips, and the minimum RTT) in the manner of BBR, with a gain
 * cycle that probes for more rate and drains what the probe queued, and
 * a delay target in the manner of Swift: queueing delay above it ends a
 * probe at once. Loss changes nothing here (retransmission is rtb.c's);
 * random loss is therefore not read as congestion. Counted in packets,
 * rates in packets per second with 8 fractional bits, time in ns.
 */
#include <string.h>

#include "cc.h"
#include "mw_transport.h"

enum rate_mode { M_STARTUP = 0, M_DRAIN, M_PROBE_BW };

/* Gains in 1/256: startup's 2/ln 2 doubles the rate each round trip,
 * drain is its inverse, the cycle probes at 5/4 then drains at 3/4. */
#define GAIN_UNIT 256u
#define GAIN_HIGH 739u
#define GAIN_DRAIN 89u
#define CWND_GAIN 512u          /* 2 x the estimated BDP in flight */
#define CWND_EXTRA 4u           /* packets above it (ACK aggregation) */
#define CYCLE_LEN 8u
#define CYCLE_DRAIN 1u          /* the 3/4 phase */
#define CYCLE_START 2u          /* first phase after drain */
#define FULL_ROUNDS 3u          /* rounds without 25% growth: full */
#define DELAY_EXIT_ROUND 3u     /* startup's own delay counts from here:
				   the unpaced first window has drained */
#define MIN_RTT_WIN_NS 10000000000ull /* min RTT forgotten after 10 s */
#define TARGET_FLOOR_NS 10000ull /* delay target at least 10 us */
#define NS_Q8 256000000000ull   /* 1 s in ns, times 256 */

static const uint16_t cycle_gain[CYCLE_LEN] = { 320, 192, 256, 256,
						256, 256, 256, 256 };

/* Queueing delay tolerated above the min RTT: a quarter of it, and no
 * less than the floor or than what the peer's host may add by itself
 * (its ACK delay: on a short path, batching and polling at the receiver
 * move RTT samples by more than the path's whole RTT). */
static uint64_t delay_target(const struct mw_cc *cc)
{
	uint64_t t = cc->rate.min_rtt / 4;

	if (t < TARGET_FLOOR_NS)
		t = TARGET_FLOOR_NS;
	return t > cc->host_delay_ns ? t : cc->host_delay_ns;
}

/* The estimated bandwidth-delay product, in packets, over the min RTT
 * plus the host's ACK delay: what must be in flight to keep the path
 * busy while the receiver holds its ACK. */
static uint64_t bdp(const struct mw_cc *cc)
{
	const struct mw_cc_rate *r = &cc->rate;

	return r->bw * ((r->min_rtt + cc->host_delay_ns) / 1000) /
	       (NS_Q8 / 1000);
}

static int queue_built(const struct mw_cc *cc, const struct mw_cc_sample *rs)
{
	return rs->rtt_ns &&
	       rs->rtt_ns > cc->rate.min_rtt + delay_target(cc);
}

static uint32_t pacing_gain(const struct mw_cc_rate *r)
{
	if (r->mode == M_STARTUP)
		return GAIN_HIGH;
	if (r->mode == M_DRAIN)
		return GAIN_DRAIN;
	return cycle_gain[r->cycle];
}

static uint32_t clamp_cwnd(const struct mw_cc *cc, uint64_t w)
{
	if (w < cc->cwnd_min)
		return cc->cwnd_min;
	return w > cc->cwnd_max ? cc->cwnd_max : (uint32_t)w;
}

/* Pacing interval and window from the model (none before a sample). */
static void rate_apply(struct mw_cc *cc)
{
	const struct mw_cc_rate *r = &cc->rate;
	uint64_t g = pacing_gain(r), target;

	if (r->bw == 0 || r->min_rtt == 0)
		return;
	cc->pace_ns = NS_Q8 * GAIN_UNIT / (r->bw * g);
	if (cc->pace_ns == 0)
		cc->pace_ns = 1;
	target = bdp(cc) * (r->mode == M_STARTUP ? GAIN_HIGH : CWND_GAIN) /
		 GAIN_UNIT + CWND_EXTRA;
	if (r->mode != M_STARTUP || target > cc->cwnd)
		cc->cwnd = clamp_cwnd(cc, target);
}

static void rate_reset(struct mw_cc *cc)
{
	memset(&cc->rate, 0, sizeof(cc->rate));
	cc->cwnd = cc->cwnd_initial;
	cc->ssthresh = UINT32_MAX;
	cc->cwnd_acc = 0;
}

/* Startup grows the window as slow start does, until the model has a
 * rate; after that the model sets it. */
static void rate_on_ack(struct mw_cc *cc, uint32_t acked, uint64_t now)
{
	(void)now;
	if (cc->rate.mode == M_STARTUP && cc->rate.bw == 0)
		cc->cwnd = clamp_cwnd(cc, (uint64_t)cc->cwnd + acked);
}

/* Loss is not a congestion signal for this controller (docs/CC.md). */
static void rate_on_loss(struct mw_cc *cc, uint64_t now)
{
	(void)cc;
	(void)now;
}

static void rate_on_spurious(struct mw_cc *cc)
{
	(void)cc;
}

/* A round trip ends when a packet sent after it began is acknowledged. */
static int new_round(struct mw_cc_rate *r, const struct mw_cc_sample *rs)
{
	if (rs->prior_delivered < r->next_round)
		return 0;
	r->next_round = rs->total_delivered + 1;
	r->round++;
	r->bw_round[r->round % MW_CC_RATE_BW_ROUNDS] = 0;
	return 1;
}

static void update_bw(struct mw_cc_rate *r, const struct mw_cc_sample *rs)
{
	uint64_t bw, *slot = &r->bw_round[r->round % MW_CC_RATE_BW_ROUNDS];
	unsigned i;

	if (rs->interval_ns == 0 || rs->delivered == 0 ||
	    rs->delivered > (1ull << 32))
		return;
	bw = rs->delivered * NS_Q8 / rs->interval_ns;
	if (bw > *slot)
		*slot = bw;
	r->bw = 0;
	for (i = 0; i < MW_CC_RATE_BW_ROUNDS; i++)
		if (r->bw_round[i] > r->bw)
			r->bw = r->bw_round[i];
}

static void update_min_rtt(struct mw_cc_rate *r, const struct mw_cc_sample *rs)
{
	if (rs->rtt_ns == 0)
		return;
	if (r->min_rtt == 0 || rs->rtt_ns <= r->min_rtt ||
	    rs->now - r->min_rtt_stamp > MIN_RTT_WIN_NS) {
		r->min_rtt = rs->rtt_ns;
		r->min_rtt_stamp = rs->now;
	}
}

/* Startup ends when three round trips in a row did not raise the rate
 * by a quarter: the pipe is full. */
static void check_full(struct mw_cc_rate *r)
{
	if (r->bw >= r->full_bw + r->full_bw / 4) {
		r->full_bw = r->bw;
		r->full_cnt = 0;
		return;
	}
	if (++r->full_cnt >= FULL_ROUNDS)
		r->mode = M_DRAIN;
}

static void next_phase(struct mw_cc_rate *r, unsigned phase, uint64_t now)
{
	r->cycle = (uint8_t)(phase % CYCLE_LEN);
	r->cycle_stamp = now;
}

/* The gain cycle: each phase one min RTT; a queue above the delay
 * target ends any phase that does not drain, for the drain phase. */
static void probe_bw(struct mw_cc *cc, const struct mw_cc_sample *rs)
{
	struct mw_cc_rate *r = &cc->rate;
	int queued = queue_built(cc, rs);

	if (queued && r->cycle != CYCLE_DRAIN) {
		next_phase(r, CYCLE_DRAIN, rs->now);
		return;
	}
	if (rs->now - r->cycle_stamp < r->min_rtt)
		return;
	/* a drain that has not emptied the queue yet goes on */
	if (r->cycle == CYCLE_DRAIN && queued)
		return;
	next_phase(r, r->cycle + 1u, rs->now);
}

static void rate_on_sample(struct mw_cc *cc, const struct mw_cc_sample *rs)
{
	struct mw_cc_rate *r = &cc->rate;
	int round = new_round(r, rs);

	update_min_rtt(r, rs);
	update_bw(r, rs);
	if (r->mode == M_STARTUP && round && r->bw)
		check_full(r);
	if (r->mode == M_STARTUP && r->round >= DELAY_EXIT_ROUND &&
	    queue_built(cc, rs))
		r->mode = M_DRAIN; /* the pipe is full: others share it */
	if (r->mode == M_DRAIN && rs->in_flight <= bdp(cc)) {
		r->mode = M_PROBE_BW;
		next_phase(r, CYCLE_START, rs->now);
	}
	if (r->mode == M_PROBE_BW)
		probe_bw(cc, rs);
	rate_apply(cc);
}

/* A timeout says nothing the model can use (the path may be cut, or one
 * packet was unlucky); the probe and backoff are rtb.c's. */
static void rate_on_timeout(struct mw_cc *cc, uint64_t now)
{
	(void)cc;
	(void)now;
}

/* A flight that starts empty may send its window (2 BDP + 4) at once,
 * as a window controller would: an application that sends in bursts (a
 * training step's tensor, then idle) measures a delivery rate bounded by
 * its burst, not by the path, and pacing each burst at that rate would
 * add a round trip to every burst (docs/CC.md, Pacing). */
static uint64_t rate_idle_burst(const struct mw_cc *cc)
{
	return cc->rate.mode == M_PROBE_BW ? cc->cwnd : 0;
}

const struct mw_cc_ops mw_cc_rate_ops = {
	.name = "rate",
	.reset = rate_reset,
	.on_ack = rate_on_ack,
	.on_loss = rate_on_loss,
	.on_timeout = rate_on_timeout,
	.on_spurious = rate_on_spurious,
	.on_sample = rate_on_sample,
	.idle_burst = rate_idle_burst,
};
