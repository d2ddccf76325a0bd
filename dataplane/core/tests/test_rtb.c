/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the sent-packet record (rtb.c): reordering learnt, spurious timeouts undone, a refused tensor failed within the retry budget. */
#include "pair.h"

/*
 * Reordering: a DATA packet overtaken by the next one and delivered late
 * is first declared lost (then found to have arrived: spurious); the
 * reordering window grows, and the same delay no longer triggers a loss.
 */
static void test_reorder_learning(void)
{
	struct mw_ep_config cf;
	struct mw_ep *ep[2];
	uint16_t peer[2];
	uint8_t d[2][2048], a[2048];
	size_t dl[2];
	int k, len, round;
	uint16_t pe;
	uint64_t t = 1000;
	struct mw_counters c;
	struct pair tmp;

	for (k = 0; k < 2; k++) {
		mw_ep_config_default(&cf);
		cf.incarnation = 300 + (uint32_t)k;
		cf.ack_delay_ns = 1000;
		CHECK(mw_ep_new(&cf, &ep[k]) == 0);
		peer[k] = (uint16_t)mw_ep_add_peer(ep[k]);
	}
	tmp.ep[0] = ep[0];
	tmp.peer[0] = peer[0];
	tmp.now = t;
	for (round = 0; round < 2; round++) {
		CHECK(submit(&tmp, 0, (uint64_t)round, NULL) == 0);
		if (round == 0) { /* HELLO, HELLO_ACK: no RTT sample */
			for (k = 0; k < 2; k++) {
				len = mw_ep_send(ep[k], t, a, sizeof(a), &pe);
				CHECK(len > 0);
				mw_ep_recv(ep[!k], peer[!k], a,
					   len > 0 ? (size_t)len : 0, t);
			}
		}
		/* the tensor's two DATA packets, sent at t */
		for (k = 0; k < 2; k++) {
			len = mw_ep_send(ep[0], t, d[k], sizeof(d[k]), &pe);
			CHECK(len > 0 && d[k][MW_OFF_TYPE] == MW_PT_DATA);
			dl[k] = len > 0 ? (size_t)len : 0;
		}
		CHECK(mw_ep_send(ep[0], t, a, sizeof(a), &pe) == 0);
		/* the second arrives at t+50us, its ACK back at t+100us */
		mw_ep_recv(ep[1], peer[1], d[1], dl[1], t + 50000);
		mw_ep_handle_expiry(ep[1], t + 51000);
		len = mw_ep_send(ep[1], t + 51000, a, sizeof(a), &pe);
		CHECK(len > 0 && a[MW_OFF_TYPE] == MW_PT_ACK);
		mw_ep_recv(ep[0], peer[0], a, (size_t)len, t + 100000);
		/* the first is late: by t+150us, 1.5 RTT after its send */
		if (mw_ep_expiry(ep[0]) <= t + 150000)
			mw_ep_handle_expiry(ep[0], t + 150000);
		mw_ep_recv(ep[1], peer[1], d[0], dl[0], t + 150000);
		while ((len = mw_ep_send(ep[1], t + 150000, a, sizeof(a),
					 &pe)) > 0)
			mw_ep_recv(ep[0], peer[0], a, (size_t)len, t + 200000);
		CHECK(poll_type(ep[1], MW_EV_RX_TENSOR, NULL) == 1);
		CHECK(poll_type(ep[0], MW_EV_TX_DONE, NULL) == 1);
		mw_ep_counters(ep[0], &c);
		/* round 0: declared lost, then acknowledged before it was
		 * resent; round 1: the learnt window covers the delay */
		CHECK(c.spurious_losses == 1);
		CHECK(c.retrans == 0);
		/* the reduction for that loss was undone */
		CHECK(c.cc_undos == 1);
		{
			struct mw_peer_info pi;

			CHECK(mw_ep_peer_info(ep[0], peer[0], &pi) == 0);
			CHECK(pi.cwnd >= cf.cwnd_initial);
		}
		CHECK(mw_ep_send(ep[0], t + 200000, a, sizeof(a), &pe) <= 0 ||
		      a[MW_OFF_TYPE] != MW_PT_DATA);
		t += 10000000;
		tmp.now = t;
	}
	mw_ep_free(ep[0]);
	mw_ep_free(ep[1]);
}

/*
 * A receiver descheduled longer than the RTO: the sender times out and
 * collapses its window although nothing was lost. The ACKs that arrive
 * after the stall acknowledge packets sent before the timeout: the
 * timeout is found spurious and the window restored. The same timeout
 * with the flight really lost (only the probe arrives) is not undone,
 * nor is anything with undo disabled.
 */
static void test_spurious_rto(void)
{
	static struct dgq data, probe, acks;
	int variant;

	for (variant = 0; variant < 3; variant++) {
		struct mw_ep_config cf;
		struct mw_ep *ep[2];
		uint16_t peer[2];
		struct pair tmp;
		struct mw_peer_info before, pi;
		struct mw_counters c;
		uint64_t t = 1000;
		int k, r;

		for (k = 0; k < 2; k++) {
			mw_ep_config_default(&cf);
			cf.incarnation = 700 + (uint32_t)k;
			cf.window = 4;
			cf.undo = variant != 2;
			CHECK(mw_ep_new(&cf, &ep[k]) == 0);
			peer[k] = (uint16_t)mw_ep_add_peer(ep[k]);
		}
		memset(&tmp, 0, sizeof(tmp));
		tmp.ep[0] = ep[0];
		tmp.peer[0] = peer[0];
		tmp.now = t;
		/* open the session and move one tensor: RTT ~ 20 us */
		CHECK(submit(&tmp, 0, 1, NULL) == 0);
		for (r = 0; r < 20; r++) {
			take_all(ep[0], t, &data);
			give_all(ep[1], peer[1], &data, 0, data.n, t + 10000);
			t += 10000;
			mw_ep_handle_expiry(ep[1], t);
			take_all(ep[1], t, &acks);
			give_all(ep[0], peer[0], &acks, 0, acks.n, t + 10000);
			t += 10000;
		}
		CHECK(poll_type(ep[1], MW_EV_RX_TENSOR, NULL) == 1);
		CHECK(poll_type(ep[0], MW_EV_TX_DONE, NULL) == 1);
		/* three tensors sent; the receiver is descheduled */
		tmp.now = t;
		for (k = 0; k < 3; k++)
			CHECK(submit(&tmp, 0, 2 + (uint64_t)k, NULL) == 0);
		take_all(ep[0], t, &data);
		CHECK(data.n >= 3);
		CHECK(mw_ep_peer_info(ep[0], peer[0], &before) == 0);
		CHECK(before.in_flight == (uint32_t)data.n);
		t = mw_ep_expiry(ep[0]);
		CHECK(t != UINT64_MAX);
		mw_ep_handle_expiry(ep[0], t);
		take_all(ep[0], t, &probe);
		CHECK(probe.n == 1 && probe.b[0][MW_OFF_TYPE] == MW_PT_DATA);
		CHECK(mw_ep_peer_info(ep[0], peer[0], &pi) == 0);
		CHECK(pi.cwnd == cf.cwnd_min);
		/* the receiver wakes up: the flight arrives (variant 1: it
		 * was lost, only the probe arrives), then the probe */
		t += 2000000;
		if (variant != 1)
			give_all(ep[1], peer[1], &data, 0, data.n, t);
		give_all(ep[1], peer[1], &probe, 0, 1, t);
		take_all(ep[1], t, &acks);
		CHECK(acks.n >= 1);
		give_all(ep[0], peer[0], &acks, 0, acks.n, t + 10000);
		mw_ep_counters(ep[0], &c);
		CHECK(c.rto_events == 1);
		CHECK(c.spurious_rtos == (variant == 0 ? 1u : 0u));
		CHECK(mw_ep_peer_info(ep[0], peer[0], &pi) == 0);
		CHECK(pi.rto_count == 0);
		if (variant == 0)
			CHECK(pi.cwnd >= before.cwnd &&
			      pi.ssthresh == before.ssthresh);
		else
			CHECK(pi.cwnd < before.cwnd);
		mw_ep_free(ep[0]);
		mw_ep_free(ep[1]);
	}
}

/* B first accepts a segment of tensor 1 with other metadata (a valid
 * payload): every genuine segment of that tensor is then inconsistent. */
static int forge_tblock(struct pair *p, uint8_t *buf, size_t len)
{
	uint8_t q[2048];

	if (p->hooked || mw_get32(buf + MW_OFF_DATA_TID) != 1)
		return 1;
	memcpy(q, buf, len);
	q[MW_OFF_DATA_TAG] ^= 1;
	mw_wire_finish(q, len);
	CHECK_EQ(feed_b(p, q, len), -1);
	p->hooked = 1;
	return 1;
}

/* A tensor the receiver keeps refusing fails at its sender within the
 * retry budget: the refused packets are not acknowledged (8.3, 8.4). */
static void test_refused_tensor_fails(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	int i, failed = 0;

	pair_init(&p, NULL);
	p.a_data = forge_tblock;
	CHECK(submit(&p, 0, 1, NULL) == 0);
	CHECK(submit(&p, 0, 2, NULL) == 0);
	for (i = 0; i < 400 && !failed; i++) {
		pump(&p, 5);
		while (mw_ep_poll(p.ep[0], &ev)) {
			if (ev.type == MW_EV_TX_FAILED) {
				CHECK(ev.reason == MW_ETIMEDOUT &&
				      ev.meta.tag == 2);
				failed = 1;
			}
			mw_ep_release(p.ep[0], &ev);
		}
		if (mw_ep_expiry(p.ep[0]) != UINT64_MAX &&
		    mw_ep_expiry(p.ep[0]) > p.now)
			p.now = mw_ep_expiry(p.ep[0]);
	}
	CHECK(failed);
	mw_ep_counters(p.ep[1], &c);
	CHECK(c.drop[MW_DROP_INCONSISTENT] > 0);
	free_pair(&p);
}

/*
 * Tail copies (PROTOCOL.md 8.3): with nothing more to send, the last DATA
 * packet goes once more (same segment, next pn), once; a lost last packet
 * then costs no retransmission and no timeout. "on-loss" copies nothing
 * before a loss was seen, "off" never.
 */
static void test_tail_copy(void)
{
	static const uint8_t pols[3] = {MW_TAIL_COPY_ALWAYS,
					MW_TAIL_COPY_ON_LOSS,
					MW_TAIL_COPY_OFF};
	unsigned i;

	for (i = 0; i < 3; i++) {
		struct mw_ep_config cf;
		struct mw_ep *ep[2];
		uint16_t peer[2], pe;
		uint8_t d[3][2048], a[2048];
		size_t dl[3];
		struct mw_counters c;
		struct pair tmp;
		uint64_t t = 1000;
		int k, len, n = 0;

		for (k = 0; k < 2; k++) {
			mw_ep_config_default(&cf);
			cf.incarnation = 400 + (uint32_t)k;
			cf.tail_copy = pols[i];
			CHECK(mw_ep_new(&cf, &ep[k]) == 0);
			peer[k] = (uint16_t)mw_ep_add_peer(ep[k]);
		}
		tmp.ep[0] = ep[0];
		tmp.peer[0] = peer[0];
		tmp.now = t;
		CHECK(submit(&tmp, 0, 1, NULL) == 0);
		for (k = 0; k < 2; k++) { /* HELLO, HELLO_ACK */
			len = mw_ep_send(ep[k], t, a, sizeof(a), &pe);
			CHECK(len > 0);
			mw_ep_recv(ep[!k], peer[!k], a, len > 0 ? (size_t)len : 0,
				   t);
		}
		/* the tensor's two DATA packets, then what comes after */
		while (n < 3 && (len = mw_ep_send(ep[0], t, d[n],
						  sizeof(d[n]), &pe)) > 0) {
			CHECK(d[n][MW_OFF_TYPE] == MW_PT_DATA);
			dl[n++] = (size_t)len;
		}
		mw_ep_counters(ep[0], &c);
		if (pols[i] != MW_TAIL_COPY_ALWAYS) {
			CHECK(n == 2 && c.tail_copies == 0);
			for (k = 0; k < 2; k++)
				mw_ep_free(ep[k]);
			continue;
		}
		CHECK(n == 3 && c.tail_copies == 1);
		/* the copy: the last segment again under the next pn */
		CHECK(mw_get32(d[2] + MW_OFF_DATA_PN) ==
		      mw_get32(d[1] + MW_OFF_DATA_PN) + 1);
		CHECK(mw_get32(d[2] + MW_OFF_DATA_TID) ==
		      mw_get32(d[1] + MW_OFF_DATA_TID));
		CHECK(mw_get32(d[2] + MW_OFF_DATA_SEG_IDX) ==
		      mw_get32(d[1] + MW_OFF_DATA_SEG_IDX));
		/* and no copy of the copy */
		CHECK(mw_ep_send(ep[0], t, a, sizeof(a), &pe) == 0);
		/* the original last packet is lost, its copy arrives */
		mw_ep_recv(ep[1], peer[1], d[0], dl[0], t + 50000);
		mw_ep_recv(ep[1], peer[1], d[2], dl[2], t + 50000);
		while ((len = mw_ep_send(ep[1], t + 50000, a, sizeof(a),
					 &pe)) > 0)
			mw_ep_recv(ep[0], peer[0], a, (size_t)len, t + 100000);
		CHECK(poll_type(ep[1], MW_EV_RX_TENSOR, NULL) == 1);
		CHECK(poll_type(ep[0], MW_EV_TX_DONE, NULL) == 1);
		mw_ep_counters(ep[0], &c);
		CHECK(c.retrans == 0 && c.rto_events == 0);
		CHECK(c.data_tx == 3 && c.data_tx_new == 2);
		for (k = 0; k < 2; k++)
			mw_ep_free(ep[k]);
	}
}

static void test_tail_copy_names(void)
{
	CHECK(mw_tail_copy_from_name("off") == MW_TAIL_COPY_OFF);
	CHECK(mw_tail_copy_from_name("on-loss") == MW_TAIL_COPY_ON_LOSS);
	CHECK(mw_tail_copy_from_name("always") == MW_TAIL_COPY_ALWAYS);
	CHECK(mw_tail_copy_from_name("on") == MW_EINVAL);
	CHECK(mw_tail_copy_from_name(NULL) == MW_EINVAL);
}

int main(void)
{
	test_reorder_learning();
	test_tail_copy_names();
	test_tail_copy();
	test_spurious_rto();
	test_refused_tensor_fails();
	return mw_test_exit("test_rtb");
}
