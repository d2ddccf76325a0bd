/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for sessions (session.c): timeouts, restarts, close, simultaneous open and close, the smaller identity rules. */
#include "pair.h"

static void test_timeout_and_restart(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	int i;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL);
	poll_type(p.ep[0], MW_EV_TX_DONE, NULL);

	/* link cut: the sender must report failure, not hang */
	p.drop_all = 1;
	CHECK(submit(&p, 0, 2, NULL) == 0);
	for (i = 0; i < 200 && mw_ep_expiry(p.ep[0]) != UINT64_MAX; i++) {
		pump(&p, 1);
		p.now = mw_ep_expiry(p.ep[0]) == UINT64_MAX ?
				p.now : mw_ep_expiry(p.ep[0]);
	}
	CHECK(poll_type(p.ep[0], MW_EV_TX_FAILED, &ev) == 1);
	CHECK(ev.reason == MW_ETIMEDOUT && ev.meta.tag == 2);
	p.drop_all = 0;
	/* the link returns: a new session carries new tensors */
	CHECK(submit(&p, 0, 3, NULL) == 0);
	pump(&p, 100);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
	      ev.meta.tag == 3);
	mw_ep_release(p.ep[1], &ev);

	/* receiver restarts with a new incarnation while a tensor is in
	 * flight: the sender fails it with MW_ERESET and learns the restart */
	CHECK(submit(&p, 0, 4, NULL) == 0);
	{
		uint8_t buf[2048];
		uint16_t peer;

		mw_ep_send(p.ep[0], p.now, buf, sizeof(buf), &peer);
	}
	mw_ep_free(p.ep[1]);
	p.ep[1] = mk(201, NULL);
	p.peer[1] = (uint16_t)mw_ep_add_peer(p.ep[1]);
	pump(&p, 100);
	{
		int restarted = 0, failed = 0;

		while (mw_ep_poll(p.ep[0], &ev)) {
			restarted += ev.type == MW_EV_PEER_RESTARTED;
			failed += ev.type == MW_EV_TX_FAILED &&
				  ev.reason == MW_ERESET;
		}
		CHECK(restarted == 1 && failed == 1);
	}
	mw_ep_counters(p.ep[0], &c);
	CHECK(c.peer_restarts == 1);
	/* traffic continues with the new incarnation, nothing old mixed in */
	CHECK(submit(&p, 0, 5, NULL) == 0);
	pump(&p, 100);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
	      ev.meta.tag == 5 && ev.handle == 0);
	mw_ep_release(p.ep[1], &ev);

	/* close: the peer sees the session closed */
	CHECK(mw_ep_close_peer(p.ep[0], p.peer[0], p.now) == 0);
	pump(&p, 10);
	CHECK(poll_type(p.ep[1], MW_EV_SESSION_CLOSED, &ev) == 1 &&
	      ev.reason == MW_ESHUTDOWN);
	CHECK(mw_ep_remove_peer(p.ep[0], p.peer[0], p.now) == 0);
	CHECK(mw_ep_remove_peer(p.ep[0], p.peer[0], p.now) == MW_ENOENT);
	free_pair(&p);
}

static void test_simultaneous_open_close(void)
{
	struct pair p;

	pair_init(&p, NULL);
	simultaneous_rounds(&p, 2);
	free_pair(&p);
}

/* Smaller rules: a stale HELLO_ACK, half-zero HELLO destinations, k > n,
 * and no CLOSE from a generation the peer never heard of. */
/* HELLO capabilities (5.1): each side learns what the other announced,
 * and only from the current session's HELLO or HELLO_ACK. */
static void csum0(struct mw_ep_config *c)
{
	c->hello_caps = MW_HELLO_CAP_UDP_CSUM0;
}

static void test_caps(void)
{
	struct pair p;
	struct mw_peer_info pa;

	pair_init(&p, NULL);
	mw_ep_free(p.ep[1]);
	p.ep[1] = mk_with(200, NULL, csum0);
	p.peer[1] = (uint16_t)mw_ep_add_peer(p.ep[1]);
	CHECK_EQ(mw_ep_peer_caps(p.ep[0], p.peer[0]), 0); /* none yet */
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	/* the core always announces DEADLINE (9.1), and COMPACT in plain
	 * mode unless configured off (5.6) */
	CHECK_EQ(mw_ep_peer_caps(p.ep[0], p.peer[0]),
		 MW_HELLO_CAP_UDP_CSUM0 | MW_HELLO_CAP_DEADLINE |
			 MW_HELLO_CAP_COMPACT);
	CHECK_EQ(mw_ep_peer_caps(p.ep[1], p.peer[1]),
		 MW_HELLO_CAP_DEADLINE | MW_HELLO_CAP_COMPACT);
	CHECK_EQ(mw_ep_peer_info(p.ep[0], p.peer[0], &pa), 0);
	CHECK_EQ(pa.peer_caps, MW_HELLO_CAP_UDP_CSUM0 | MW_HELLO_CAP_DEADLINE |
				       MW_HELLO_CAP_COMPACT);
	CHECK_EQ(mw_ep_peer_caps(p.ep[0], 7), 0); /* no such peer */
	free_pair(&p);
}

/* compact off, even with the bit asked for in hello_caps: not announced;
 * nor with a window too large for the 16-bit tensor id (5.6) */
static void no_compact(struct mw_ep_config *c)
{
	c->compact = 0;
	c->hello_caps = MW_HELLO_CAP_COMPACT;
}

static void big_window(struct mw_ep_config *c)
{
	c->window = MW_CDATA_MAX_WINDOW + 1;
}

static void test_caps_compact(void)
{
	void (*cfgs[2])(struct mw_ep_config *) = {no_compact, big_window};

	for (int i = 0; i < 2; i++) {
		struct pair p;

		pair_init(&p, NULL);
		mw_ep_free(p.ep[1]);
		p.ep[1] = mk_with(200, NULL, cfgs[i]);
		p.peer[1] = (uint16_t)mw_ep_add_peer(p.ep[1]);
		CHECK(submit(&p, 0, 1, NULL) == 0);
		pump(&p, 50);
		CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
		CHECK_EQ(mw_ep_peer_caps(p.ep[0], p.peer[0]),
			 MW_HELLO_CAP_DEADLINE);
		free_pair(&p);
	}
}

static void test_session_rules(void)
{
	struct pair p;
	struct mw_peer_info pa, pb;
	struct mw_hello hb;
	struct mw_ident old;
	struct mw_counters c0, c1;
	struct mw_tensor_meta m;
	struct mw_codec_params cp = { MW_CODEC_MS, 2, 0, 4097, 0 };
	uint8_t q[256], out[2048];
	uint16_t peer;
	int n;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	mw_ep_peer_info(p.ep[0], p.peer[0], &pa);
	mw_ep_peer_info(p.ep[1], p.peer[1], &pb);
	memset(&hb, 0, sizeof(hb));
	hb.max_datagram = 1472;
	hb.rx_window = 4;
	hb.max_segs = 64;
	hb.max_tensor_bytes = 1 << 20;
	/* HELLO_ACK to an identity B no longer has: stale, no resync */
	old = pb.local;
	old.gen += 7;
	mw_wire_put_hdr(q, MW_PT_HELLO_ACK, 0, &pa.local, &old);
	n = mw_wire_finish(q, mw_wire_put_hello(q, &hb));
	pump(&p, 10);
	CHECK_EQ(feed_b(&p, q, (size_t)n), MW_DROP_STALE);
	CHECK_EQ(mw_ep_send(p.ep[1], p.now, out, sizeof(out), &peer), 0);
	/* HELLO with half an identity as dst: malformed */
	old.inc = pb.local.inc;
	old.gen = 0;
	mw_wire_put_hdr(q, MW_PT_HELLO, 0, &pa.local, &old);
	n = mw_wire_finish(q, mw_wire_put_hello(q, &hb));
	CHECK_EQ(feed_b(&p, q, (size_t)n), MW_DROP_FORMAT);
	/* k > n is refused, not clamped */
	memset(&m, 0, sizeof(m));
	m.dtype = MW_DT_F32;
	m.ndim = 2;
	m.dims[0] = 64;
	m.dims[1] = 64;
	CHECK_EQ(mw_ep_submit(p.ep[0], p.peer[0], &m, &cp, xs, sizeof(xs), 0,
			      p.now, NULL),
		 MW_EINVAL);
	/* close twice: one CLOSE, from the announced generation only */
	mw_ep_counters(p.ep[0], &c0);
	CHECK(mw_ep_close_peer(p.ep[0], p.peer[0], p.now) == 0);
	pump(&p, 10);
	CHECK(mw_ep_close_peer(p.ep[0], p.peer[0], p.now) == 0);
	pump(&p, 10);
	mw_ep_counters(p.ep[0], &c1);
	CHECK_EQ(c1.close_tx, c0.close_tx + 1);
	free_pair(&p);
}

int main(void)
{
	test_timeout_and_restart();
	test_simultaneous_open_close();
	test_session_rules();
	test_caps();
	test_caps_compact();
	return mw_test_exit("test_session");
}
