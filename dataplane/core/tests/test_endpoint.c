/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the endpoint (endpoint.c): configuration checks and names. */
#include "pair.h"

static void test_config(void)
{
	struct mw_ep_config c;
	struct mw_ep *ep;

	mw_ep_config_default(&c);
	CHECK(mw_ep_config_check(&c) == 0);
	c.incarnation = 0;
	CHECK(mw_ep_new(&c, &ep) == MW_EINVAL);
	mw_ep_config_default(&c);
	c.max_datagram = 100;
	CHECK(mw_ep_config_check(&c) == MW_EINVAL);
	mw_ep_config_default(&c);
	c.rto_min_ns = c.rto_max_ns + 1;
	CHECK(mw_ep_config_check(&c) == MW_EINVAL);
	mw_ep_config_default(&c);
	CHECK_EQ(c.cc, MW_CC_RENO);
	c.cc = MW_CC_COUNT_;
	CHECK(mw_ep_config_check(&c) == MW_EINVAL);
	mw_ep_config_default(&c);
	CHECK_EQ(c.tail_copy, MW_TAIL_COPY_ON_LOSS);
	c.tail_copy = MW_TAIL_COPY_COUNT_;
	CHECK(mw_ep_config_check(&c) == MW_EINVAL);
	/* plain mode names no AEAD library */
	mw_ep_config_default(&c);
	CHECK(mw_ep_new(&c, &ep) == 0);
	CHECK(mw_ep_crypto_name(ep) == NULL);
	mw_ep_free(ep);
	CHECK(strcmp(mw_drop_name(MW_DROP_CHECKSUM), "bad_checksum") == 0);
}

/* The counter list: names, values by index, sums. */
static void test_counters(void)
{
	struct mw_counters a, b;
	unsigned i;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CHECK(strcmp(mw_counter_name(MW_CTR_pkts_rx), "pkts_rx") == 0);
	CHECK(strcmp(mw_counter_name(MW_CTR_sessions_closed),
		     "sessions_closed") == 0);
	CHECK(strcmp(mw_counter_name(MW_CTR_COUNT_), "?") == 0);
	b.hello_tx = 3;
	b.cc_undos = 5;
	b.drops = 2;
	b.drop[MW_DROP_STALE] = 2;
	mw_counters_add(&a, &b);
	mw_counters_add(&a, &b);
	CHECK_EQ(mw_counter_get(&a, MW_CTR_hello_tx), 6);
	CHECK_EQ(mw_counter_get(&a, MW_CTR_cc_undos), 10);
	CHECK_EQ(a.drops, 4);
	CHECK_EQ(a.drop[MW_DROP_STALE], 4);
	for (i = 0; i < MW_CTR_COUNT_; i++) {
		memset(&b, 0, sizeof(b));
		/* every index reads its own field */
		((uint64_t *)&b)[i] = 7;
		CHECK_EQ(mw_counter_get(&b, i), 7);
		CHECK(strcmp(mw_counter_name(i), "?") != 0);
	}
}

int main(void)
{
	test_counters();
	test_config();
	return mw_test_exit("test_endpoint");
}
