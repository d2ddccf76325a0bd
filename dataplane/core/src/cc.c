/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cc.c - the congestion window (see cc.h): what every controller shares,
 * and Reno (NewReno-style, RFC 5681 / RFC 6582 in spirit: slow start,
 * additive increase, halving on a congestion event, back to cwnd_min on
 * a timeout), counted in packets.
 */
#include <stddef.h>

#include "cc.h"
#include "mw_transport.h"

/* ---- Reno ------------------------------------------------------------ */

static uint32_t half(const struct mw_cc *cc)
{
	return cc->cwnd / 2 > cc->cwnd_min ? cc->cwnd / 2 : cc->cwnd_min;
}

static void reno_reset(struct mw_cc *cc)
{
	cc->cwnd = cc->cwnd_initial;
	cc->ssthresh = UINT32_MAX;
	cc->cwnd_acc = 0;
}

static void reno_on_ack(struct mw_cc *cc, uint32_t acked, uint64_t now)
{
	(void)now;
	if (cc->cwnd < cc->ssthresh) {
		cc->cwnd += acked;
	} else {
		cc->cwnd_acc += acked;
		while (cc->cwnd_acc >= cc->cwnd) {
			cc->cwnd_acc -= cc->cwnd;
			cc->cwnd++;
		}
	}
	if (cc->cwnd > cc->cwnd_max)
		cc->cwnd = cc->cwnd_max;
}

static void reno_on_loss(struct mw_cc *cc, uint64_t now)
{
	(void)now;
	cc->ssthresh = half(cc);
	cc->cwnd = cc->ssthresh;
	cc->cwnd_acc = 0;
}

static void reno_on_timeout(struct mw_cc *cc, uint64_t now)
{
	(void)now;
	cc->ssthresh = half(cc);
	cc->cwnd = cc->cwnd_min;
	cc->cwnd_acc = 0;
}

/* Raise back to the window kept from before the episode, never lower. */
static void reno_on_spurious(struct mw_cc *cc)
{
	if (cc->cwnd < cc->undo_cwnd) {
		cc->cwnd = cc->undo_cwnd;
		cc->cwnd_acc = 0;
	}
	if (cc->ssthresh < cc->undo_ssthresh)
		cc->ssthresh = cc->undo_ssthresh;
}

static const struct mw_cc_ops reno = {
	.name = "reno",
	.reset = reno_reset,
	.on_ack = reno_on_ack,
	.on_loss = reno_on_loss,
	.on_timeout = reno_on_timeout,
	.on_spurious = reno_on_spurious,
};

static const struct mw_cc_ops *const algos[MW_CC_COUNT_] = {
	[MW_CC_RENO] = &reno,
	[MW_CC_RATE] = &mw_cc_rate_ops,
};

const struct mw_cc_ops *mw_cc_ops_get(unsigned algo)
{
	return algo < MW_CC_COUNT_ ? algos[algo] : NULL;
}

const char *mw_cc_name(unsigned algo)
{
	return algo < MW_CC_COUNT_ ? algos[algo]->name : "?";
}

int mw_cc_from_name(const char *name)
{
	unsigned i;
	const char *a, *b;

	for (i = 0; name && i < MW_CC_COUNT_; i++) {
		for (a = name, b = algos[i]->name; *a && *a == *b; a++, b++)
			;
		if (*a == 0 && *b == 0)
			return (int)i;
	}
	return MW_EINVAL;
}

/* ---- shared: one reduction per round trip, undo (8.5) ---------------- */

void mw_cc_init(struct mw_cc *cc, const struct mw_cc_ops *ops,
		uint32_t cwnd_min, uint32_t cwnd_max, uint32_t cwnd_initial,
		int undo, uint64_t host_delay_ns)
{
	cc->ops = ops;
	cc->host_delay_ns = host_delay_ns;
	cc->cwnd_min = cwnd_min;
	cc->cwnd_max = cwnd_max;
	cc->cwnd_initial = cwnd_initial;
	cc->undo_enabled = undo != 0;
	mw_cc_reset(cc);
}

void mw_cc_reset(struct mw_cc *cc)
{
	cc->pace_ns = 0;
	cc->pace_next = 0;
	cc->burst_left = 0;
	cc->ops->reset(cc);
	cc->recovery_start = 0;
	cc->undo_armed = MW_CC_EP_NONE;
	cc->undo_lost = 0;
}

void mw_cc_on_ack(struct mw_cc *cc, uint32_t acked, uint64_t now)
{
	cc->ops->on_ack(cc, acked, now);
}

void mw_cc_on_sample(struct mw_cc *cc, const struct mw_cc_sample *rs)
{
	if (cc->ops->on_sample)
		cc->ops->on_sample(cc, rs);
}

/* Credit saved up while idle is the quantum's, except that a flight
 * that starts empty (nothing in flight, behind its schedule) may send the
 * controller's idle burst at once (docs/CC.md, Pacing). */
void mw_cc_on_sent(struct mw_cc *cc, uint64_t now, int from_idle)
{
	if (!cc->pace_ns)
		return;
	if (from_idle && cc->pace_next <= now && cc->ops->idle_burst) {
		uint64_t b = cc->ops->idle_burst(cc);

		/* the quantum's credit comes on top: b in all */
		cc->burst_left = b > MW_CC_PACE_QUANTUM ? b - MW_CC_PACE_QUANTUM
							: 0;
	}
	if (cc->burst_left) {
		/* the paced schedule starts after the burst */
		cc->burst_left--;
		cc->pace_next = now + cc->pace_ns;
		return;
	}
	cc->pace_next =
		(cc->pace_next > now ? cc->pace_next : now) + cc->pace_ns;
}

/*
 * A window reduction starts an episode; the window before it is kept so
 * the reduction can be undone if every loss of the episode proves
 * spurious (fast), or the timeout itself does (8.5).
 */
static void undo_save(struct mw_cc *cc, uint8_t kind, uint64_t pn_next)
{
	if (!cc->undo_enabled)
		return;
	cc->undo_cwnd = cc->cwnd;
	cc->undo_ssthresh = cc->ssthresh;
	cc->undo_lost = 0;
	cc->undo_armed = kind;
	cc->undo_epoch++;
	cc->undo_pn = pn_next;
}

void mw_cc_on_loss(struct mw_cc *cc, uint64_t sent_ns, uint64_t now,
		   uint64_t pn_next)
{
	if (sent_ns <= cc->recovery_start && cc->recovery_start)
		return; /* one reduction per round trip */
	undo_save(cc, MW_CC_EP_LOSS, pn_next);
	cc->recovery_start = now;
	cc->ops->on_loss(cc, now);
}

void mw_cc_on_timeout(struct mw_cc *cc, int first, uint64_t now,
		      uint64_t pn_next)
{
	/* First timeout of a series: keep the window for an undo. */
	if (first || cc->undo_armed != MW_CC_EP_RTO)
		undo_save(cc, MW_CC_EP_RTO, pn_next);
	cc->ops->on_timeout(cc, now);
	cc->recovery_start = now;
}

uint8_t mw_cc_tag_loss(struct mw_cc *cc)
{
	if (cc->undo_armed)
		cc->undo_lost++;
	return cc->undo_epoch;
}

int mw_cc_undo(struct mw_cc *cc)
{
	int kind = cc->undo_armed;

	if (kind == MW_CC_EP_NONE)
		return kind;
	cc->ops->on_spurious(cc);
	cc->undo_armed = MW_CC_EP_NONE;
	return kind;
}

int mw_cc_spurious_loss(struct mw_cc *cc, uint8_t epoch, uint8_t cause)
{
	if (!cc->undo_armed || epoch != cc->undo_epoch)
		return MW_CC_EP_NONE;
	if (cc->undo_armed == MW_CC_EP_RTO && cause == MW_CC_EP_RTO)
		return mw_cc_undo(cc); /* the timeout's probe was not needed */
	if (cc->undo_armed == MW_CC_EP_LOSS && cc->undo_lost &&
	    --cc->undo_lost == 0)
		return mw_cc_undo(cc);
	return MW_CC_EP_NONE;
}
