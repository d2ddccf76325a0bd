/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for mw_fault.c: determinism, rates, bursts, hold-back. */
#include "mw_fault.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_test.h"

static void test_cfg_check(void)
{
	struct mw_fault f;
	struct mw_fault_cfg c = {0};
	CHECK(mw_fault_init(&f, &c) == 0);
	CHECK(!mw_fault_enabled(&f));
	c.drop = 1.5;
	CHECK(mw_fault_cfg_check(&c) == MW_EINVAL);
	c.drop = -0.1;
	CHECK(mw_fault_cfg_check(&c) == MW_EINVAL);
	c.drop = NAN;
	CHECK(mw_fault_init(&f, &c) == MW_EINVAL);
	c.drop = 0;
	c.burst_len = 0.5;
	CHECK(mw_fault_cfg_check(&c) == MW_EINVAL);
	c.burst_len = 0;
	c.reorder_gap = MW_FAULT_HOLD_MAX + 1;
	CHECK(mw_fault_cfg_check(&c) == MW_EINVAL);
	c.reorder_gap = 0;
	c.corrupt = 1.0;
	CHECK(mw_fault_init(&f, &c) == 0 && mw_fault_enabled(&f));
}

static void test_no_faults(void)
{
	struct mw_fault f;
	struct mw_fault_cfg c = {.seed = 1};
	CHECK(mw_fault_init(&f, &c) == 0);
	for (int i = 0; i < 10000; i++) {
		struct mw_fault_verdict v;
		mw_fault_decide(&f, 100, &v);
		CHECK(v.action == MW_FAULT_PASS && !v.dup && v.flip_bit < 0);
	}
	CHECK(f.st.passed == 10000);
}

static void test_determinism(void)
{
	struct mw_fault_cfg c = {.drop = 0.1, .dup = 0.1, .reorder = 0.1,
				 .corrupt = 0.1, .burst = 0.01, .seed = 99};
	struct mw_fault a, b, d;
	CHECK(mw_fault_init(&a, &c) == 0);
	CHECK(mw_fault_init(&b, &c) == 0);
	c.seed = 100;
	CHECK(mw_fault_init(&d, &c) == 0);
	int differ = 0;
	for (int i = 0; i < 5000; i++) {
		struct mw_fault_verdict va, vb, vd;
		mw_fault_decide(&a, 1000, &va);
		mw_fault_decide(&b, 1000, &vb);
		mw_fault_decide(&d, 1000, &vd);
		CHECK(va.action == vb.action && va.dup == vb.dup &&
		      va.flip_bit == vb.flip_bit);
		differ += va.action != vd.action || va.flip_bit != vd.flip_bit;
	}
	CHECK(differ > 100);
}

/* Observed rates match configured ones (a fixed seed: deterministic). */
static void test_rates(uint64_t seed)
{
	mw_test_seed(seed);
	const int n = 200000;
	struct mw_fault f;
	struct mw_fault_cfg c = {.drop = 0.05, .dup = 0.02, .corrupt = 0.01,
				 .reorder = 0.03, .seed = seed};
	CHECK(mw_fault_init(&f, &c) == 0);
	void *out[MW_FAULT_HOLD_MAX];
	for (int i = 0; i < n; i++) {
		struct mw_fault_verdict v;
		mw_fault_decide(&f, 64, &v);
		if (v.flip_bit >= 0)
			CHECK(v.flip_bit < 64 * 8);
		if (v.action == MW_FAULT_HOLD)
			CHECK(mw_fault_hold(&f, (void *)(uintptr_t)(i + 1),
					    0) == 0);
		mw_fault_release(&f, 0, false, out, MW_FAULT_HOLD_MAX);
	}
	CHECK(f.st.passed + f.st.dropped + f.st.held + f.st.burst_dropped ==
	      (uint64_t)n);
	CHECK(f.st.burst_dropped == 0);
	double drop = (double)f.st.dropped / n;
	double kept = (double)(n - (int)f.st.dropped);
	CHECK(fabs(drop - 0.05) < 0.005);
	CHECK(fabs(f.st.duplicated / kept - 0.02) < 0.003);
	CHECK(fabs(f.st.corrupted / kept - 0.01) < 0.002);
	CHECK(fabs(f.st.held / kept - 0.03) < 0.003);
}

/* Gilbert-Elliott: loss comes in runs of mean length burst_len. */
static void test_bursts(void)
{
	mw_test_seed(5);
	struct mw_fault f;
	struct mw_fault_cfg c = {.burst = 0.01, .burst_len = 5, .seed = 5};
	CHECK(mw_fault_init(&f, &c) == 0);
	const int n = 300000;
	int runs = 0, lost = 0;
	bool prev = false;
	for (int i = 0; i < n; i++) {
		struct mw_fault_verdict v;
		mw_fault_decide(&f, 100, &v);
		bool l = v.action == MW_FAULT_DROP;
		lost += l;
		runs += l && !prev;
		prev = l;
	}
	CHECK(f.st.dropped == 0 && f.st.burst_dropped == (uint64_t)lost);
	double mean_run = (double)lost / runs;
	CHECK(mean_run > 4.5 && mean_run < 5.5);
	/* Stationary loss p / (p + r) = 0.01 / 0.21. */
	CHECK(fabs((double)lost / n - 0.01 / 0.21) < 0.006);
}

/* Every held packet comes back exactly once, overtaken by at most a few. */
static void test_hold_back(uint64_t seed)
{
	mw_test_seed(seed);
	struct mw_fault f;
	struct mw_fault_cfg c = {.reorder = 0.2, .reorder_gap = 3,
				 .seed = seed};
	CHECK(mw_fault_init(&f, &c) == 0);
	enum { N = 20000 };
	static int pos[N + 1];
	memset(pos, -1, sizeof pos);
	int out_n = 0, reordered = 0;
	void *out[MW_FAULT_HOLD_MAX];
	for (int i = 1; i <= N; i++) {
		struct mw_fault_verdict v;
		mw_fault_decide(&f, 100, &v);
		CHECK(v.action != MW_FAULT_DROP);
		if (v.action == MW_FAULT_HOLD) {
			CHECK(mw_fault_hold(&f, (void *)(uintptr_t)i, 0) == 0);
		} else {
			CHECK(pos[i] < 0);
			pos[i] = out_n++;
		}
		unsigned k = mw_fault_release(&f, 0, false, out,
					      MW_FAULT_HOLD_MAX);
		for (unsigned j = 0; j < k; j++) {
			int id = (int)(uintptr_t)out[j];
			CHECK(id >= 1 && id <= N && pos[id] < 0);
			pos[id] = out_n++;
		}
	}
	unsigned k = mw_fault_release(&f, 0, true, out, MW_FAULT_HOLD_MAX);
	for (unsigned j = 0; j < k; j++)
		pos[(int)(uintptr_t)out[j]] = out_n++;
	CHECK(f.count == 0);
	CHECK(out_n == N);
	for (int i = 1; i <= N; i++) {
		CHECK(pos[i] >= 0);
		reordered += i > 1 && pos[i] < pos[i - 1];
	}
	CHECK(reordered > N / 20);
	CHECK(f.st.released == f.st.held);
}

static void test_hold_deadline_and_full(void)
{
	struct mw_fault f;
	struct mw_fault_cfg c = {.reorder = 1.0, .reorder_max_ns = 1000,
				 .seed = 3};
	CHECK(mw_fault_init(&f, &c) == 0);
	void *out[MW_FAULT_HOLD_MAX];
	CHECK(mw_fault_next_expiry(&f) == UINT64_MAX);
	for (unsigned i = 0; i < MW_FAULT_HOLD_MAX; i++) {
		struct mw_fault_verdict v;
		mw_fault_decide(&f, 10, &v);
		CHECK(v.action == MW_FAULT_HOLD);
		CHECK(mw_fault_hold(&f, (void *)(uintptr_t)(i + 1), 100 + i) ==
		      0);
	}
	CHECK(mw_fault_hold(&f, (void *)1, 200) == MW_ENOSPC);
	CHECK(mw_fault_next_expiry(&f) == 1100);
	/* Nothing passes, so only time releases them. */
	CHECK(mw_fault_release(&f, 1099, false, out, MW_FAULT_HOLD_MAX) == 0);
	CHECK(mw_fault_release(&f, 1101, false, out, MW_FAULT_HOLD_MAX) == 2);
	CHECK(out[0] == (void *)1 && out[1] == (void *)2);
	CHECK(mw_fault_release(&f, 1101, true, out, 5) == 5);
	CHECK(out[0] == (void *)3);
	CHECK(f.count == MW_FAULT_HOLD_MAX - 7);
}

static void test_flip(void)
{
	uint8_t b[4] = {0};
	mw_fault_flip(b, 0);
	mw_fault_flip(b, 15);
	mw_fault_flip(b, 31);
	CHECK(b[0] == 1 && b[1] == 0x80 && b[2] == 0 && b[3] == 0x80);
	mw_fault_flip(b, 0);
	CHECK(b[0] == 0);
}

int main(void)
{
	test_cfg_check();
	test_no_faults();
	test_determinism();
	for (uint64_t s = 1; s <= 3; s++) {
		test_rates(s);
		test_hold_back(s);
	}
	test_bursts();
	test_hold_deadline_and_full();
	test_flip();
	return mw_test_exit("test_fault");
}
