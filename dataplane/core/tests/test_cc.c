/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for cc.c: Reno's window and the undo of a reduction that
 * proves spurious (PROTOCOL.md 8.5). */
#include <string.h>

#include "cc.h"
#include "mw_test.h"
#include "mw_transport.h"

static void mk(struct mw_cc *cc, int undo)
{
	memset(cc, 0, sizeof(*cc));
	mw_cc_init(cc, mw_cc_ops_get(MW_CC_RENO), 2, 64, 8, undo, 0);
}

static void test_names(void)
{
	CHECK(mw_cc_ops_get(MW_CC_RENO) != NULL);
	CHECK(mw_cc_ops_get(MW_CC_COUNT_) == NULL);
	CHECK_EQ(mw_cc_from_name("reno"), MW_CC_RENO);
	CHECK_EQ(mw_cc_from_name("ren"), MW_EINVAL);
	CHECK_EQ(mw_cc_from_name("renoo"), MW_EINVAL);
	CHECK_EQ(mw_cc_from_name(NULL), MW_EINVAL);
	CHECK(strcmp(mw_cc_name(MW_CC_RENO), "reno") == 0);
	CHECK(strcmp(mw_cc_name(99), "?") == 0);
}

/* Slow start +1 per acked packet, then +1 per window, capped. */
static void test_growth(void)
{
	struct mw_cc cc;
	int i;

	mk(&cc, 1);
	CHECK_EQ(cc.cwnd, 8);
	CHECK_EQ(cc.ssthresh, UINT32_MAX);
	mw_cc_on_ack(&cc, 8, 0);
	CHECK_EQ(cc.cwnd, 16);
	cc.ssthresh = 16;
	mw_cc_on_ack(&cc, 15, 0);
	CHECK_EQ(cc.cwnd, 16);
	mw_cc_on_ack(&cc, 1, 0);
	CHECK_EQ(cc.cwnd, 17);
	for (i = 0; i < 10000; i++)
		mw_cc_on_ack(&cc, 64, 0);
	CHECK_EQ(cc.cwnd, 64);
}

/* One reduction per round trip; a timeout goes to cwnd_min. */
static void test_reductions(void)
{
	struct mw_cc cc;

	mk(&cc, 1);
	cc.cwnd = 40;
	mw_cc_on_loss(&cc, 100, 1000, 50);
	CHECK_EQ(cc.cwnd, 20);
	CHECK_EQ(cc.ssthresh, 20);
	/* a packet sent before the reduction: same episode, no change */
	mw_cc_on_loss(&cc, 900, 1100, 51);
	CHECK_EQ(cc.cwnd, 20);
	/* one sent after it: a new reduction */
	mw_cc_on_loss(&cc, 1050, 2000, 60);
	CHECK_EQ(cc.cwnd, 10);
	mw_cc_on_loss(&cc, 1999, 3000, 61);
	CHECK_EQ(cc.cwnd, 10);
	mw_cc_on_timeout(&cc, 1, 4000, 70);
	CHECK_EQ(cc.cwnd, 2);
	CHECK_EQ(cc.ssthresh, 5);
	cc.cwnd = 3;
	mw_cc_on_loss(&cc, 5000, 6000, 80); /* never below cwnd_min */
	CHECK_EQ(cc.cwnd, 2);
	mw_cc_reset(&cc);
	CHECK_EQ(cc.cwnd, 8);
	CHECK_EQ(cc.undo_armed, MW_CC_EP_NONE);
}

/* A fast episode is undone when every one of its losses proves
 * spurious, not when one of them was real. */
static void test_undo_loss(void)
{
	struct mw_cc cc;
	uint8_t t1, t2;

	mk(&cc, 1);
	cc.cwnd = 40;
	mw_cc_on_loss(&cc, 1, 10, 5);
	t1 = mw_cc_tag_loss(&cc);
	t2 = mw_cc_tag_loss(&cc);
	CHECK_EQ(cc.cwnd, 20);
	CHECK_EQ(mw_cc_spurious_loss(&cc, t1, MW_CC_EP_LOSS), MW_CC_EP_NONE);
	CHECK_EQ(cc.cwnd, 20);
	CHECK_EQ(mw_cc_spurious_loss(&cc, t2, MW_CC_EP_LOSS), MW_CC_EP_LOSS);
	CHECK_EQ(cc.cwnd, 40);
	CHECK_EQ(cc.ssthresh, UINT32_MAX);
	/* again, with one loss real: the reduction stays */
	mw_cc_on_loss(&cc, 20, 30, 9);
	t1 = mw_cc_tag_loss(&cc);
	(void)mw_cc_tag_loss(&cc);
	CHECK_EQ(mw_cc_spurious_loss(&cc, t1, MW_CC_EP_LOSS), MW_CC_EP_NONE);
	CHECK_EQ(cc.cwnd, 20);
	/* a loss tagged with an older episode does not count */
	mw_cc_on_loss(&cc, 40, 50, 12);
	t2 = mw_cc_tag_loss(&cc);
	CHECK_EQ(mw_cc_spurious_loss(&cc, (uint8_t)(t2 - 1), MW_CC_EP_LOSS),
		 MW_CC_EP_NONE);
}

/* A timeout is undone by its probe proving unneeded, or at once (F-RTO);
 * the window from before the first timeout of a series is restored. */
static void test_undo_timeout(void)
{
	struct mw_cc cc;
	uint8_t t;

	mk(&cc, 1);
	cc.cwnd = 30;
	cc.ssthresh = 25;
	mw_cc_on_timeout(&cc, 1, 100, 7);
	t = mw_cc_tag_loss(&cc);
	mw_cc_on_timeout(&cc, 0, 200, 8); /* second of the series */
	CHECK_EQ(cc.cwnd, 2);
	CHECK_EQ(cc.undo_pn, 7);
	CHECK_EQ(mw_cc_spurious_loss(&cc, t, MW_CC_EP_LOSS), MW_CC_EP_NONE);
	CHECK_EQ(mw_cc_spurious_loss(&cc, t, MW_CC_EP_RTO), MW_CC_EP_RTO);
	CHECK_EQ(cc.cwnd, 30);
	CHECK_EQ(cc.ssthresh, 25);
	mw_cc_on_timeout(&cc, 1, 300, 9);
	CHECK_EQ(mw_cc_undo(&cc), MW_CC_EP_RTO);
	CHECK_EQ(cc.cwnd, 30);
	CHECK_EQ(mw_cc_undo(&cc), MW_CC_EP_NONE); /* nothing armed */
}

static void test_undo_disabled(void)
{
	struct mw_cc cc;
	uint8_t t;

	mk(&cc, 0);
	cc.cwnd = 40;
	mw_cc_on_loss(&cc, 1, 10, 5);
	t = mw_cc_tag_loss(&cc);
	CHECK_EQ(mw_cc_spurious_loss(&cc, t, MW_CC_EP_LOSS), MW_CC_EP_NONE);
	CHECK_EQ(cc.cwnd, 20);
	CHECK_EQ(mw_cc_undo(&cc), MW_CC_EP_NONE);
}

int main(void)
{
	test_names();
	test_growth();
	test_reductions();
	test_undo_loss();
	test_undo_timeout();
	test_undo_disabled();
	return mw_test_exit("test_cc");
}
