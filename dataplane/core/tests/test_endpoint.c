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
	CHECK(strcmp(mw_drop_name(MW_DROP_CHECKSUM), "bad_checksum") == 0);
}

int main(void)
{
	test_config();
	return mw_test_exit("test_endpoint");
}
