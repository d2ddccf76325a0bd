/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the receive path (recv.c): every drop reason, allocator back-pressure, and that a dropped packet leaves no state. */
#include "pair.h"

/* Re-send a mutated copy of the last DATA packet and check the counter. */
static void expect_drop(struct pair *p, size_t off, uint8_t xor_val,
			int refinish, enum mw_drop why)
{
	uint8_t q[2048];
	struct mw_counters c0, c1;
	size_t n = p->last_len[0];

	memcpy(q, p->last[0], n);
	q[off] ^= xor_val;
	if (refinish)
		mw_wire_finish(q, n);
	mw_ep_counters(p->ep[1], &c0);
	mw_ep_recv(p->ep[1], p->peer[1], q, n, p->now);
	mw_ep_counters(p->ep[1], &c1);
	if (c1.drop[why] != c0.drop[why] + 1)
		fprintf(stderr, "expected drop %s at offset %zu\n",
			mw_drop_name(why), off);
	CHECK(c1.drop[why] == c0.drop[why] + 1);
	CHECK(c1.drops == c0.drops + 1);
}

static void test_bad_packets(void)
{
	struct pair p;
	struct mw_counters c0, c1;
	uint8_t q[2048];
	size_t n;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	n = p.last_len[0];
	CHECK(n > MW_WIRE_DATA_HDR_LEN);

	/* u16/u32/u64 fields are big-endian: + 1, + 3, + 7 is the low byte */
	expect_drop(&p, MW_OFF_MAGIC, 0x01, 0, MW_DROP_MAGIC);
	expect_drop(&p, MW_OFF_VERSION, 0x02, 0, MW_DROP_VERSION);
	expect_drop(&p, MW_OFF_TYPE, 0x40, 1, MW_DROP_TYPE);
	expect_drop(&p, MW_OFF_DATA_PAYLOAD + 10, 0x10, 0, MW_DROP_CHECKSUM);
	/* unknown flag */
	expect_drop(&p, MW_OFF_FLAGS + 1, 0x04, 1, MW_DROP_FORMAT);
	/* older generation */
	expect_drop(&p, MW_OFF_SRC_GEN, 0x80, 1, MW_DROP_STALE);
	/* wrong destination */
	expect_drop(&p, MW_OFF_DST_INC + 3, 0x01, 1, MW_DROP_SESSION);
	expect_drop(&p, MW_OFF_DATA_CODEC, 0x40, 1, MW_DROP_HEADER);
	expect_drop(&p, MW_OFF_DATA_ELEM_CNT, 0x01, 1, MW_DROP_HEADER);
	/* n disagrees with the shape */
	expect_drop(&p, MW_OFF_DATA_N + 3, 0x01, 1, MW_DROP_HEADER);
	/* tensor id far ahead of the window */
	expect_drop(&p, MW_OFF_DATA_TID + 1, 0x07, 1, MW_DROP_WINDOW);
	/* tensor bigger than the receiver accepts: n and shape both grown */
	{
		memcpy(q, p.last[0], n);
		mw_put64(q + MW_OFF_DATA_N, (uint64_t)1 << 22);
		mw_put32(q + MW_OFF_DATA_DIMS, 1024);
		mw_put32(q + MW_OFF_DATA_DIMS + 4, 4096);
		mw_put32(q + MW_OFF_DATA_VAL_CNT, 0);
		mw_wire_finish(q, n);
		mw_ep_counters(p.ep[1], &c0);
		mw_ep_recv(p.ep[1], p.peer[1], q, n, p.now);
		mw_ep_counters(p.ep[1], &c1);
		/* either the header check or the limit catches it */
		CHECK(c1.drops == c0.drops + 1);
	}
	/* truncated: below the header, and length field > datagram */
	mw_ep_counters(p.ep[1], &c0);
	mw_ep_recv(p.ep[1], p.peer[1], p.last[0], 10, p.now);
	mw_ep_recv(p.ep[1], p.peer[1], p.last[0], n - 1, p.now);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.drop[MW_DROP_TRUNC] == c0.drop[MW_DROP_TRUNC] + 2);
	/* payload inconsistent with its header: mask says no sentinel but
	 * values are carried -> the codec rejects it */
	memcpy(q, p.last[0], n);
	memset(q + MW_OFF_DATA_PAYLOAD, 0,
	       mw_mask_bytes(mw_get32(q + MW_OFF_DATA_ELEM_CNT), 2));
	/* a fresh tensor id */
	mw_put32(q + MW_OFF_DATA_TID, mw_get32(q + MW_OFF_DATA_TID) + 1);
	mw_wire_finish(q, n);
	mw_ep_counters(p.ep[1], &c0);
	mw_ep_recv(p.ep[1], p.peer[1], q, n, p.now);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.drop[MW_DROP_PAYLOAD] == c0.drop[MW_DROP_PAYLOAD] + 1 ||
	      mw_get32(q + MW_OFF_DATA_VAL_CNT) == 0);
	/* same tensor id, different metadata -> inconsistent */
	{
		uint8_t r[2048];

		memcpy(r, p.last[0], n);
		mw_put32(r + MW_OFF_DATA_TID,
			 mw_get32(r + MW_OFF_DATA_TID) + 1);
		mw_wire_finish(r, n);
		mw_ep_recv(p.ep[1], p.peer[1], r, n, p.now); /* opens tid+1 */
		memcpy(q, r, n);
		q[MW_OFF_DATA_TAG] ^= 1; /* tag differs */
		mw_wire_finish(q, n);
		mw_ep_counters(p.ep[1], &c0);
		mw_ep_recv(p.ep[1], p.peer[1], q, n, p.now);
		mw_ep_counters(p.ep[1], &c1);
		CHECK(c1.drop[MW_DROP_INCONSISTENT] ==
		      c0.drop[MW_DROP_INCONSISTENT] + 1);
	}
	/* duplicate of a delivered segment: counted, not dropped */
	mw_ep_counters(p.ep[1], &c0);
	mw_ep_recv(p.ep[1], p.peer[1], p.last[0], n, p.now);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.data_rx_dup == c0.data_rx_dup + 1 && c1.drops == c0.drops);
	/* ACK claiming a tensor id never sent */
	{
		struct mw_ack a;
		struct mw_peer_info pi;

		mw_ep_peer_info(p.ep[1], p.peer[1], &pi);
		memset(&a, 0, sizeof(a));
		a.cum_tid = 50;
		a.rx_limit = 60;
		mw_wire_put_hdr(q, MW_PT_ACK, 0, &pi.local, &pi.remote);
		mw_wire_put_ack_fixed(q, &a);
		mw_wire_finish(q, MW_WIRE_ACK_FIXED_LEN);
		mw_ep_counters(p.ep[0], &c0);
		mw_ep_recv(p.ep[0], p.peer[0], q, MW_WIRE_ACK_FIXED_LEN, p.now);
		mw_ep_counters(p.ep[0], &c1);
		CHECK(c1.drop[MW_DROP_ACK] == c0.drop[MW_DROP_ACK] + 1);
	}
	/* unknown peer id */
	CHECK(mw_ep_recv(p.ep[1], 7, p.last[0], n, p.now) == MW_ENOENT);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.drop[MW_DROP_PEER] == 1);
	/* nothing bad was delivered */
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 0);
	CHECK(mw_ep_mem_held(p.ep[1]) <= mw_ep_mem_bound(p.ep[1]));
	free_pair(&p);
}

/* An allocator with room for `room` tensors at a time. */
struct arena {
	int room, live;
};

static void *ar_alloc(void *ctx, uint64_t bytes, const struct mw_rx_info *ri)
{
	struct arena *a = ctx;

	(void)ri;
	if (a->live >= a->room)
		return NULL;
	a->live++;
	return malloc(bytes);
}

static void ar_free(void *ctx, void *buf, uint64_t bytes)
{
	struct arena *a = ctx;

	(void)bytes;
	a->live--;
	free(buf);
}

static void test_backpressure(void)
{
	struct arena ar = { 1, 0 };
	struct mw_rx_alloc al = { ar_alloc, ar_free, &ar };
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	int i, got = 0, fails0;

	pair_init(&p, &al);
	for (i = 0; i < 3; i++)
		CHECK(submit(&p, 0, (uint64_t)i, NULL) == 0);
	/* The app holds each tensor a long while before releasing it. */
	for (i = 0; i < 40 && got < 3; i++) {
		pump(&p, 20);
		while (mw_ep_poll(p.ep[1], &ev))
			if (ev.type == MW_EV_RX_TENSOR) {
				CHECK(ev.meta.tag == (uint64_t)got);
				got++;
				p.now += 50000000; /* 50 ms later */
				mw_ep_release(p.ep[1], &ev);
			}
	}
	CHECK(got == 3);
	mw_ep_counters(p.ep[1], &c);
	CHECK(c.drop[MW_DROP_NOBUF] > 0);
	fails0 = poll_type(p.ep[0], MW_EV_TX_FAILED, NULL);
	CHECK(fails0 == 0); /* flow control, not failure */
	CHECK(ar.live == 0);
	free_pair(&p);
}

/* Before the first genuine segment of a tensor, B gets a copy with other
 * tensor metadata (the tag) and a payload that fails to decode: no value
 * for its sentinels (hooked 1) or a NaN value (hooked 2). */
static int poison_first(struct pair *p, uint8_t *buf, size_t len)
{
	uint8_t q[2048];
	uint32_t ec = mw_get32(buf + MW_OFF_DATA_ELEM_CNT);
	uint32_t vc = mw_get32(buf + MW_OFF_DATA_VAL_CNT);
	size_t mb = mw_mask_bytes(ec, 2);

	if (p->hooked == 0 || p->hooked > 2 || vc == 0)
		return 1;
	memcpy(q, buf, len);
	q[MW_OFF_DATA_TAG] ^= 1;
	if (p->hooked == 1)
		memset(q + MW_OFF_DATA_PAYLOAD, 0xff, mb); /* all sentinels */
	else
		mw_put32(q + MW_OFF_DATA_PAYLOAD + mb, 0x0000c07fu); /* NaN */
	mw_wire_finish(q, len);
	CHECK_EQ(feed_b(p, q, len), MW_DROP_PAYLOAD);
	p->hooked += 10;
	return 1;
}

static void test_drop_leaves_no_state(void)
{
	struct pair p;
	struct mw_counters c;
	int round;

	for (round = 1; round <= 2; round++) {
		pair_init(&p, NULL);
		p.a_data = poison_first;
		p.hooked = round;
		CHECK(submit(&p, 0, 7, NULL) == 0);
		CHECK(submit(&p, 0, 8, NULL) == 0);
		pump(&p, 100);
		CHECK(p.hooked == round + 10);
		/* the genuine tensor and the one behind it arrive */
		CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 2);
		CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 2);
		mw_ep_counters(p.ep[1], &c);
		CHECK_EQ(c.drop[MW_DROP_INCONSISTENT], 0);
		CHECK_EQ(c.drop[MW_DROP_PAYLOAD], 1);
		free_pair(&p);
	}
}

/* A segment that is not the last must end on a multiple of 8 elements,
 * or no next segment could start there (5.2, 5.3). */
static void test_unaligned_segment(void)
{
	struct pair p;
	struct mw_peer_info pi;
	struct mw_data d;
	uint8_t q[512];
	float v[16];
	unsigned i;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	mw_ep_peer_info(p.ep[0], p.peer[0], &pi);
	for (i = 0; i < 16; i++)
		v[i] = (float)i;
	memset(&d, 0, sizeof(d));
	d.pn = 1000;
	d.tid = 1;
	d.seg_cnt = 2;
	d.desc.codec = MW_CODEC_DENSE;
	d.desc.n = 16;
	d.meta.dtype = MW_DT_F32;
	d.meta.ndim = 1;
	d.meta.dims[0] = 16;
	d.seg.elem_cnt = 12; /* [0, 12) of 16, then [12, 16): never whole */
	mw_wire_put_hdr(q, MW_PT_DATA, 0, &pi.local, &pi.remote);
	CHECK(mw_wire_put_data(q, &d) == MW_WIRE_DATA_HDR_LEN);
	memcpy(q + MW_OFF_DATA_PAYLOAD, v, 48);
	mw_wire_finish(q, MW_WIRE_DATA_HDR_LEN + 48);
	CHECK_EQ(feed_b(&p, q, MW_WIRE_DATA_HDR_LEN + 48), MW_DROP_HEADER);
	/* the same tensor cut at 8 is accepted */
	d.seg.elem_cnt = 8;
	mw_wire_put_hdr(q, MW_PT_DATA, 0, &pi.local, &pi.remote);
	CHECK(mw_wire_put_data(q, &d) == MW_WIRE_DATA_HDR_LEN);
	memcpy(q + MW_OFF_DATA_PAYLOAD, v, 32);
	mw_wire_finish(q, MW_WIRE_DATA_HDR_LEN + 32);
	CHECK_EQ(feed_b(&p, q, MW_WIRE_DATA_HDR_LEN + 32), -1);
	free_pair(&p);
}

/* Loses every first transmission of segment 1 of tensor tag 1; keeps a
 * copy of it and its element range. */
static uint8_t dl_seg[2048];
static size_t dl_len;
static uint64_t dl_off, dl_cnt;

static int dl_lose_seg1(struct pair *p, uint8_t *buf, size_t len)
{
	struct mw_data d;

	(void)p;
	if (mw_wire_parse_data(buf, len, &d) < 0 || d.meta.tag != 1 ||
	    d.seg_idx != 1)
		return 1;
	memcpy(dl_seg, buf, len);
	dl_len = len;
	dl_off = d.seg.elem_off;
	dl_cnt = d.seg.elem_cnt;
	return 0;
}

/* Pump, jumping to the next timer when quiet, up to time end. */
static void run_until(struct pair *p, uint64_t end)
{
	while (p->now < end) {
		uint64_t t0 = mw_ep_expiry(p->ep[0]), t1 = mw_ep_expiry(p->ep[1]);
		uint64_t t = t0 < t1 ? t0 : t1;

		pump(p, 50);
		if (t > end)
			break;
		if (t > p->now)
			p->now = t;
	}
}

/* 12 segments at 1472 bytes (dense) */
static int submit_dl(struct pair *p, uint64_t tag, uint16_t deadline_ms)
{
	for (unsigned i = 0; i < 4096; i++)
		xs[i] = 1.0f + (float)(i % 7);
	return submit_vec(p, 0, xs, MW_CODEC_DENSE, tag, deadline_ms, 0);
}

/* 9.1: a tensor missing a segment is delivered at its deadline, the range
 * zero-filled and named in the loss map; the tensor after it waits and
 * follows; the sender's TX_DONE says partial and it stops sending; the
 * lost segment arriving afterwards is dropped as late. */
static void test_deadline(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c0, c1;
	struct mw_peer_info pi;
	const float *x;
	uint64_t i;
	int bad = 0;

	pair_init(&p, NULL);
	p.a_data = dl_lose_seg1;
	CHECK(submit_dl(&p, 1, 1) == 0);
	CHECK(submit_dl(&p, 2, 1) == 0);
	pump(&p, 20); /* 200 us: before the deadline, nothing delivered */
	CHECK(mw_ep_poll(p.ep[1], &ev) == 0);
	CHECK(mw_ep_expiry(p.ep[1]) <= p.now + 1000000);
	run_until(&p, p.now + 50000000);
	memset(&ev, 0, sizeof(ev));
	CHECK(mw_ep_poll(p.ep[1], &ev) == 1 && ev.type == MW_EV_RX_TENSOR);
	CHECK(ev.meta.tag == 1 && ev.partial == 1 && ev.meta.deadline_ms == 1);
	CHECK(ev.loss_cnt == 1 && ev.loss && ev.elems_lost == dl_cnt);
	CHECK(dl_cnt > 0 && ev.loss && ev.loss[0].off == dl_off &&
	      ev.loss[0].cnt == dl_cnt);
	x = ev.buf;
	for (i = 0; i < 4096 && x; i++)
		if (x[i] != (i >= dl_off && i < dl_off + dl_cnt
				     ? 0.0f
				     : 1.0f + (float)(i % 7)))
			bad++;
	CHECK(bad == 0);
	mw_ep_release(p.ep[1], &ev);
	CHECK(ev.loss == NULL);
	CHECK(mw_ep_poll(p.ep[1], &ev) == 1 && ev.type == MW_EV_RX_TENSOR &&
	      ev.meta.tag == 2 && ev.partial == 0 && ev.loss == NULL);
	mw_ep_release(p.ep[1], &ev);
	/* tag 2 is done first (whole, acknowledged), tag 1 when the ACK
	 * says it was delivered partial */
	CHECK(mw_ep_poll(p.ep[0], &ev) == 1 && ev.type == MW_EV_TX_DONE &&
	      ev.meta.tag == 2 && ev.partial == 0);
	CHECK(mw_ep_poll(p.ep[0], &ev) == 1 && ev.type == MW_EV_TX_DONE &&
	      ev.meta.tag == 1 && ev.partial == 1);
	mw_ep_counters(p.ep[0], &c0);
	CHECK(c0.partial_tx == 1 && c0.tensors_sent == 2);
	mw_ep_peer_info(p.ep[0], p.peer[0], &pi);
	CHECK(pi.tx_pending == 0 && pi.in_flight == 0);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.partial_rx == 1 && c1.elems_lost == dl_cnt &&
	      c1.tensors_delivered == 2);
	/* the lost segment, late */
	CHECK(feed_b(&p, dl_seg, dl_len) == MW_DROP_LATE);
	free_pair(&p);

	/* Without a loss the deadline changes nothing. */
	pair_init(&p, NULL);
	CHECK(submit_dl(&p, 3, 1) == 0);
	run_until(&p, p.now + 50000000);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 && !ev.partial);
	mw_ep_release(p.ep[1], &ev);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, &ev) == 1 && !ev.partial);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.partial_rx == 0 && c1.drops == 0);
	/* RAW cannot have a deadline */
	{
		struct mw_tensor_meta m;
		struct mw_codec_params cp;
		uint8_t b[8] = { 0 };

		memset(&m, 0, sizeof(m));
		memset(&cp, 0, sizeof(cp));
		m.dtype = MW_DT_U8;
		m.ndim = 1;
		m.dims[0] = 8;
		m.deadline_ms = 5;
		cp.codec = MW_CODEC_RAW;
		CHECK(mw_ep_submit(p.ep[0], p.peer[0], &m, &cp, b, 8, 0, p.now,
				   NULL) == MW_EINVAL);
	}
	free_pair(&p);
}

/* Loses segment 1 of tag 1 while dl_hold_1 is set (every transmission)
 * and every transmission of segment 1 of tag 2, keeping a copy of it. */
static int dl_hold_1 = 1;

static int dl_lose_both(struct pair *p, uint8_t *buf, size_t len)
{
	struct mw_data d;

	(void)p;
	if (mw_wire_parse_data(buf, len, &d) < 0 || d.seg_idx != 1)
		return 1;
	if (d.meta.tag == 1)
		return !dl_hold_1;
	if (d.meta.tag != 2)
		return 1;
	memcpy(dl_seg, buf, len);
	dl_len = len;
	return 0;
}

/* 9.1: a tensor whose deadline passes while its predecessor is still
 * incomplete is decided partial and waits. Its sender is told at once
 * (a COMPLETE | PARTIAL block above cum_tid), not "complete" as a plain
 * COMPLETE block would say; a segment it lacked that arrives while it
 * waits is late, not a duplicate; it is delivered partial after its
 * predecessor, whole. */
static void test_deadline_waiting(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c1;

	pair_init(&p, NULL);
	p.a_data = dl_lose_both;
	dl_hold_1 = 1;
	CHECK(submit_dl(&p, 1, 0) == 0); /* reliable */
	CHECK(submit_dl(&p, 2, 1) == 0); /* deadline 1 ms */
	pump(&p, 20);
	run_until(&p, p.now + 5000000);
	CHECK(mw_ep_poll(p.ep[1], &ev) == 0); /* tag 1 holds tag 2 back */
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, &ev) == 1 &&
	      ev.meta.tag == 2 && ev.partial == 1);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.partial_rx == 0 && c1.tensors_delivered == 0);
	CHECK(dl_len > 0 && feed_b(&p, dl_seg, dl_len) == MW_DROP_LATE);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c1.data_rx_dup == 0);
	dl_hold_1 = 0;
	run_until(&p, p.now + 100000000);
	CHECK(mw_ep_poll(p.ep[1], &ev) == 1 && ev.type == MW_EV_RX_TENSOR &&
	      ev.meta.tag == 1 && ev.partial == 0);
	mw_ep_release(p.ep[1], &ev);
	CHECK(mw_ep_poll(p.ep[1], &ev) == 1 && ev.type == MW_EV_RX_TENSOR &&
	      ev.meta.tag == 2 && ev.partial == 1 && ev.loss_cnt == 1);
	mw_ep_release(p.ep[1], &ev);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, &ev) == 1 &&
	      ev.meta.tag == 1 && ev.partial == 0);
	free_pair(&p);
}

/* Compact DATA (5.6). The hook loses tensor 0's leading full DATA the
 * first time and keeps a copy of a compact one. */
static uint8_t cd_pkt[2048];
static size_t cd_len;

static int cd_lose_full(struct pair *p, uint8_t *buf, size_t len)
{
	if (buf[MW_OFF_TYPE] == MW_PT_CDATA && !cd_len) {
		memcpy(cd_pkt, buf, len);
		cd_len = len;
	}
	if (buf[MW_OFF_TYPE] == MW_PT_DATA && p->hooked < 4) {
		p->hooked++;
		return 0;
	}
	return 1;
}

static int cd_hold5(struct pair *p, uint8_t *buf, size_t len)
{
	if (buf[MW_OFF_TYPE] == MW_PT_CDATA &&
	    mw_get32(buf + MW_OFF_CDATA_SEG_IDX) == 5 && !p->hooked) {
		memcpy(cd_pkt, buf, len);
		cd_len = len;
		p->hooked = 1;
		return 0;
	}
	return 1;
}

static void no_compact(struct mw_ep_config *c)
{
	c->compact = 0;
}

static uint64_t drops(struct mw_ep *ep, enum mw_drop why)
{
	struct mw_counters c;

	mw_ep_counters(ep, &c);
	return c.drop[why];
}

static void test_compact(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c0, c1;
	struct mw_peer_info pi;
	struct mw_cdata cd;
	uint8_t fake[2048];
	uint16_t pe;
	int bad = 0;

	for (unsigned i = 0; i < 4096; i++)
		xs[i] = (float)i;
	/* both announce it: 12 segments, the first 4 full, then compact;
	 * compact segments before any full one are dropped (no_descriptor),
	 * the pn reported, and repaired */
	cd_len = 0;
	pair_init(&p, NULL);
	p.a_data = cd_lose_full;
	CHECK(submit_vec(&p, 0, xs, MW_CODEC_DENSE, 1, 0, 0) == 0);
	run_until(&p, p.now + 100000000);
	mw_ep_counters(p.ep[0], &c0);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(mw_ep_poll(p.ep[1], &ev) == 1 && ev.type == MW_EV_RX_TENSOR);
	for (unsigned i = 0; i < 4096 && ev.buf; i++)
		bad += ((const float *)ev.buf)[i] != (float)i;
	CHECK(ev.buf && bad == 0);
	mw_ep_release(p.ep[1], &ev);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 1);
	mw_ep_counters(p.ep[0], &c0);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c0.data_tx_compact >= 8 && c1.data_rx_compact == 8);
	CHECK(c1.drop[MW_DROP_NO_DESC] >= 1);
	CHECK(cd_len > MW_WIRE_CDATA_HDR_LEN);

	/* the same compact packet again: a duplicate of a delivered tensor */
	mw_ep_recv(p.ep[1], p.peer[1], cd_pkt, cd_len, p.now);
	mw_ep_counters(p.ep[1], &c0);
	CHECK_EQ(c0.data_rx_dup, c1.data_rx_dup + 1);
	CHECK_EQ(c0.drops, c1.drops);
	/* one bit flipped, or sealed under another session: bad_checksum */
	cd_pkt[cd_len - 1] ^= 1;
	CHECK(mw_ep_recv(p.ep[1], p.peer[1], cd_pkt, cd_len, p.now) < 0);
	CHECK_EQ(drops(p.ep[1], MW_DROP_CHECKSUM), 1);
	cd_pkt[cd_len - 1] ^= 1;
	CHECK_EQ(mw_ep_peer_info(p.ep[1], p.peer[1], &pi), 0);
	memcpy(fake, cd_pkt, cd_len);
	mw_wire_finish_cdata(fake, cd_len, &pi.local, &pi.remote);
	CHECK(mw_ep_recv(p.ep[1], p.peer[1], fake, cd_len, p.now) < 0);
	CHECK_EQ(drops(p.ep[1], MW_DROP_CHECKSUM), 2);
	/* shorter than its header; another version */
	CHECK(mw_ep_recv(p.ep[1], p.peer[1], cd_pkt, 20, p.now) < 0);
	CHECK_EQ(drops(p.ep[1], MW_DROP_TRUNC), 1);
	memcpy(fake, cd_pkt, cd_len);
	fake[MW_OFF_VERSION] = 2;
	CHECK(mw_ep_recv(p.ep[1], p.peer[1], fake, cd_len, p.now) < 0);
	CHECK_EQ(drops(p.ep[1], MW_DROP_VERSION), 1);

	/* a segment of the next tensor, sealed right, but its full DATA not
	 * received: no_descriptor, its pn reported at once */
	CHECK(mw_wire_parse_cdata(cd_pkt, cd_len, NULL, NULL, &cd) == 0);
	memcpy(fake, cd_pkt, cd_len);
	mw_put16(fake + MW_OFF_CDATA_TID, 1);
	mw_put32(fake + MW_OFF_CDATA_PN, 5000);
	mw_wire_finish_cdata(fake, cd_len, &pi.remote, &pi.local);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(mw_ep_recv(p.ep[1], p.peer[1], fake, cd_len, p.now) < 0);
	mw_ep_counters(p.ep[1], &c0);
	CHECK_EQ(c0.drop[MW_DROP_NO_DESC], c1.drop[MW_DROP_NO_DESC] + 1);
	CHECK(mw_ep_send(p.ep[1], p.now, fake, sizeof(fake), &pe) > 0 &&
	      fake[MW_OFF_TYPE] == MW_PT_ACK &&
	      mw_get32(fake + MW_OFF_ACK_LARGEST_PN) == 5000);
	free_pair(&p);

	/* the receiver does not announce it: nothing compact is sent, and
	 * a compact packet is not one to it (dropped at the common header) */
	pair_init(&p, NULL);
	mw_ep_free(p.ep[1]);
	p.ep[1] = mk_with(200, NULL, no_compact);
	p.peer[1] = (uint16_t)mw_ep_add_peer(p.ep[1]);
	CHECK(submit_vec(&p, 0, xs, MW_CODEC_DENSE, 1, 0, 0) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	mw_ep_counters(p.ep[0], &c0);
	CHECK(c0.data_tx_compact == 0 && c0.data_tx >= 12);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(mw_ep_recv(p.ep[1], p.peer[1], cd_pkt, cd_len, p.now) < 0);
	mw_ep_counters(p.ep[1], &c0);
	CHECK_EQ(c0.drops, c1.drops + 1);
	CHECK_EQ(c0.data_rx_compact, 0);
	free_pair(&p);

	/* before any session: wrong_session, and a HELLO to resynchronise */
	pair_init(&p, NULL);
	CHECK(mw_ep_recv(p.ep[1], p.peer[1], cd_pkt, cd_len, p.now) < 0);
	CHECK_EQ(drops(p.ep[1], MW_DROP_SESSION), 1);
	CHECK(mw_ep_send(p.ep[1], p.now, fake, sizeof(fake), &pe) > 0 &&
	      fake[MW_OFF_TYPE] == MW_PT_HELLO);
	free_pair(&p);

	/* a sealed compact segment that does not tile with its received
	 * neighbours: inconsistent; the real one repairs the tensor */
	pair_init(&p, NULL);
	p.a_data = cd_hold5;
	CHECK(submit_vec(&p, 0, xs, MW_CODEC_DENSE, 1, 0, 0) == 0);
	for (int r = 0; r < 5 && !p.hooked; r++)
		pump(&p, 1);
	CHECK(p.hooked == 1);
	CHECK(mw_ep_poll(p.ep[1], &ev) == 0);
	CHECK_EQ(mw_ep_peer_info(p.ep[1], p.peer[1], &pi), 0);
	memcpy(fake, cd_pkt, cd_len);
	mw_put32(fake + MW_OFF_CDATA_ELEM_OFF,
		 mw_get32(cd_pkt + MW_OFF_CDATA_ELEM_OFF) + 8);
	mw_wire_finish_cdata(fake, cd_len, &pi.remote, &pi.local);
	CHECK(mw_ep_recv(p.ep[1], p.peer[1], fake, cd_len, p.now) < 0);
	CHECK_EQ(drops(p.ep[1], MW_DROP_INCONSISTENT), 1);
	pump(&p, 100);
	CHECK(mw_ep_poll(p.ep[1], &ev) == 1 && ev.type == MW_EV_RX_TENSOR);
	bad = 0;
	for (unsigned i = 0; i < 4096 && ev.buf; i++)
		bad += ((const float *)ev.buf)[i] != (float)i;
	CHECK(ev.buf && bad == 0);
	mw_ep_release(p.ep[1], &ev);
	free_pair(&p);
}

int main(void)
{
	test_bad_packets();
	test_backpressure();
	test_drop_leaves_no_state();
	test_unaligned_segment();
	test_deadline();
	test_deadline_waiting();
	test_compact();
	return mw_test_exit("test_recv");
}
