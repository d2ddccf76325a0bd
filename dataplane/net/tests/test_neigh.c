/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for mw_neigh.c: static and learned entries, the request
 * timer, learning, refresh. */
#include "mw_neigh.h"

#include <string.h>

#include "mw_test.h"

#define RETRY 200000000ull /* the data plane's default, 200 ms */

static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0xa };
static const uint8_t mac_b[6] = { 2, 0, 0, 0, 0, 0xb };

static void test_static(void)
{
	struct mw_neigh n;
	mw_neigh_init(&n, mac_a, RETRY, 1000);
	CHECK(mw_neigh_resolved(&n));
	CHECK(memcmp(n.mac, mac_a, 6) == 0);
	CHECK(mw_neigh_next(&n) == UINT64_MAX);
	CHECK(!mw_neigh_poll(&n, 1000));
	CHECK(!mw_neigh_poll(&n, 10 * RETRY));
	/* ARP never overrides a given MAC, and it is never refreshed */
	CHECK(!mw_neigh_learn(&n, mac_b));
	CHECK(memcmp(n.mac, mac_a, 6) == 0);
	mw_neigh_refresh(&n, 5000);
	CHECK(mw_neigh_next(&n) == UINT64_MAX);
	CHECK(n.requests == 0);
}

static void test_learn(void)
{
	struct mw_neigh n;
	const uint8_t zero[6] = { 0 };
	uint64_t t = 1000;
	mw_neigh_init(&n, NULL, RETRY, t);
	CHECK(!mw_neigh_resolved(&n));
	CHECK(memcmp(n.mac, zero, 6) == 0);
	/* a request at once, then one every RETRY, whether sent or not */
	CHECK(mw_neigh_next(&n) == t);
	CHECK(mw_neigh_poll(&n, t));
	mw_neigh_sent(&n);
	CHECK(!mw_neigh_poll(&n, t));
	CHECK(mw_neigh_next(&n) == t + RETRY);
	CHECK(!mw_neigh_poll(&n, t + RETRY - 1));
	CHECK(mw_neigh_poll(&n, t + RETRY)); /* not sent: not counted */
	CHECK(mw_neigh_next(&n) == t + 2 * RETRY);
	/* late polling: the next one is RETRY after the late one */
	CHECK(mw_neigh_poll(&n, t + 5 * RETRY));
	mw_neigh_sent(&n);
	CHECK(mw_neigh_next(&n) == t + 6 * RETRY);
	CHECK(n.requests == 2);
	/* an answer: resolved, no more requests */
	CHECK(mw_neigh_learn(&n, mac_a));
	CHECK(mw_neigh_resolved(&n));
	CHECK(memcmp(n.mac, mac_a, 6) == 0);
	CHECK(mw_neigh_next(&n) == UINT64_MAX);
	CHECK(!mw_neigh_poll(&n, t + 100 * RETRY));
	/* a later answer (the peer moved) replaces it */
	CHECK(mw_neigh_learn(&n, mac_b));
	CHECK(memcmp(n.mac, mac_b, 6) == 0);
}

static void test_refresh(void)
{
	struct mw_neigh n;
	uint64_t t = 5 * RETRY;
	mw_neigh_init(&n, NULL, RETRY, 0);
	/* not resolved yet: refresh leaves the running timer alone */
	CHECK(mw_neigh_poll(&n, 0));
	mw_neigh_refresh(&n, RETRY / 2);
	CHECK(mw_neigh_next(&n) == RETRY);
	CHECK(mw_neigh_learn(&n, mac_a));
	/* link up, peer restarted, peer timed out: ask now, keep the MAC */
	mw_neigh_refresh(&n, t);
	CHECK(mw_neigh_resolved(&n));
	CHECK(memcmp(n.mac, mac_a, 6) == 0);
	CHECK(mw_neigh_next(&n) == t);
	/* a second refresh keeps the timer */
	CHECK(mw_neigh_poll(&n, t));
	mw_neigh_refresh(&n, t + 10);
	CHECK(mw_neigh_next(&n) == t + RETRY);
	CHECK(mw_neigh_poll(&n, t + RETRY));
	CHECK(mw_neigh_resolved(&n));
	/* the answer ends the refresh */
	CHECK(mw_neigh_learn(&n, mac_b));
	CHECK(mw_neigh_next(&n) == UINT64_MAX);
	CHECK(!mw_neigh_poll(&n, t + 10 * RETRY));
	CHECK(memcmp(n.mac, mac_b, 6) == 0);
	/* and it can be refreshed again */
	mw_neigh_refresh(&n, t + 20 * RETRY);
	CHECK(mw_neigh_next(&n) == t + 20 * RETRY);
}

/* Secure mode: once an authenticated packet confirmed the peer's MAC, an
 * unsolicited (forged) ARP reply cannot redirect its traffic; only a
 * later authenticated packet, or a refresh, moves it. */
static void test_confirm(void)
{
	static const uint8_t evil[6] = {0x02, 0xee, 0xee, 0xee, 0xee, 0xee};
	struct mw_neigh n, s;

	mw_neigh_init(&n, NULL, RETRY, 0);
	/* before the handshake ARP is all there is */
	CHECK(mw_neigh_learn(&n, evil));
	CHECK(memcmp(n.mac, evil, 6) == 0);
	/* the peer's first authenticated packet wins over the forged one */
	CHECK(mw_neigh_confirm(&n, mac_a));
	CHECK(mw_neigh_resolved(&n) && memcmp(n.mac, mac_a, 6) == 0);
	CHECK(!mw_neigh_confirm(&n, mac_a));
	/* an unsolicited reply afterwards is ignored, for good */
	CHECK(!mw_neigh_learn(&n, evil));
	CHECK(!mw_neigh_learn(&n, evil));
	CHECK(memcmp(n.mac, mac_a, 6) == 0);
	CHECK(mw_neigh_next(&n) == UINT64_MAX);
	/* the peer moves (authenticated from its new MAC) */
	CHECK(mw_neigh_confirm(&n, mac_b));
	CHECK(memcmp(n.mac, mac_b, 6) == 0);
	/* a refresh (peer restarted, link up) listens to ARP again */
	mw_neigh_refresh(&n, 10 * RETRY);
	CHECK(mw_neigh_learn(&n, mac_a));
	CHECK(memcmp(n.mac, mac_a, 6) == 0);
	/* a static neighbour moves for nothing */
	mw_neigh_init(&s, mac_a, RETRY, 0);
	CHECK(!mw_neigh_confirm(&s, mac_b));
	CHECK(!mw_neigh_learn(&s, evil));
	CHECK(memcmp(s.mac, mac_a, 6) == 0);
}

int main(void)
{
	test_static();
	test_learn();
	test_refresh();
	test_confirm();
	return mw_test_exit("test_neigh");
}
