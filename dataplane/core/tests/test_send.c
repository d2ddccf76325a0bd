/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the send path (send.c): a lossless exchange bit-exact
 * against a whole-payload decode, the window, per-peer sends, deferred
 * encodes (MW_SUBMIT_DEFER) that give the same tensors in order. */
#include <math.h>

#include "pair.h"

static void test_exchange(void)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	uint64_t h = 0;
	float ref[4096];
	int i;

	pair_init(&p, NULL);
	CHECK(submit(&p, 0, 42, &h) == 0 && h != 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1);
	CHECK(ev.meta.tag == 42 && ev.bytes == sizeof(xs) &&
	      ev.meta.dims[1] == 64 && ev.desc.codec == MW_CODEC_MS);
	{
		/* bit-exact against a whole-payload decode */
		struct mw_codec_params cp = { MW_CODEC_MS, 2, 0, 0, 0.9 };
		struct mw_codec_desc d;
		static uint8_t pay[1 << 16], scr[1 << 16];
		int64_t n = mw_encode(&cp, xs, 4096, &d, pay, sizeof(pay), scr,
				      sizeof(scr));

		CHECK(n > 0 && mw_seg_decode(&d, 0, 4096, pay, (size_t)n,
					     ref) >= 0);
		CHECK(memcmp(ref, ev.buf, sizeof(ref)) == 0);
	}
	mw_ep_release(p.ep[1], &ev);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, &ev) == 1 && ev.handle == h);
	/* window: 4 pending at most, then MW_EAGAIN */
	for (i = 0; i < 4; i++)
		CHECK(submit(&p, 0, (uint64_t)i, NULL) == 0);
	CHECK(submit(&p, 0, 9, NULL) == MW_EAGAIN);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 4);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 4);
	mw_ep_counters(p.ep[0], &c);
	CHECK(c.tensors_sent == 5 && c.retrans == 0 && c.drops == 0);
	CHECK(mw_ep_mem_held(p.ep[1]) <= mw_ep_mem_bound(p.ep[1]));
	free_pair(&p);
}

/* mw_ep_send_peer() pulls one peer's datagrams and leaves the others'. */
static void test_send_peer(void)
{
	struct mw_ep *a = mk(400, NULL), *b = mk(500, NULL), *c = mk(600, NULL);
	struct mw_ep *dst[2] = { b, c };
	uint16_t pa[2], pdst[2];
	uint8_t buf[2048], hello[2][2048];
	size_t hl[2] = { 0, 0 };
	struct pair tmp;
	uint16_t pe;
	int len, i, k, moved;
	uint64_t now = 1000;

	pa[0] = (uint16_t)mw_ep_add_peer(a);
	pa[1] = (uint16_t)mw_ep_add_peer(a);
	pdst[0] = (uint16_t)mw_ep_add_peer(b);
	pdst[1] = (uint16_t)mw_ep_add_peer(c);
	tmp.ep[0] = a;
	tmp.now = now;
	for (k = 0; k < 2; k++) {
		tmp.peer[0] = pa[k];
		CHECK(submit(&tmp, 0, (uint64_t)k, NULL) == 0);
	}
	CHECK(mw_ep_send_peer(a, pa[1], now, buf, 100) == MW_ENOSPC);
	CHECK(mw_ep_send_peer(a, 9, now, buf, sizeof(buf)) == MW_ENOENT);
	/* only the second peer's HELLO comes out, however often we ask */
	len = mw_ep_send_peer(a, pa[1], now, hello[1], sizeof(hello[1]));
	CHECK(len > 0 && hello[1][MW_OFF_TYPE] == MW_PT_HELLO);
	hl[1] = len > 0 ? (size_t)len : 0;
	CHECK(mw_ep_send_peer(a, pa[1], now, buf, sizeof(buf)) == 0);
	/* the first peer's HELLO is still there */
	len = mw_ep_send(a, now, hello[0], sizeof(hello[0]), &pe);
	CHECK(len > 0 && pe == pa[0] && hello[0][MW_OFF_TYPE] == MW_PT_HELLO);
	hl[0] = len > 0 ? (size_t)len : 0;
	CHECK(mw_ep_send(a, now, buf, sizeof(buf), &pe) == 0);
	/* serve the peers one after the other with send_peer only */
	for (k = 0; k < 2; k++) {
		mw_ep_recv(dst[k], pdst[k], hello[k], hl[k], now);
		for (i = 0; i < 200; i++) {
			moved = 0;
			while ((len = mw_ep_send_peer(a, pa[k], now, buf,
						      sizeof(buf))) > 0) {
				mw_ep_recv(dst[k], pdst[k], buf, (size_t)len,
					   now);
				moved++;
			}
			while ((len = mw_ep_send(dst[k], now, buf, sizeof(buf),
						 &pe)) > 0) {
				mw_ep_recv(a, pa[k], buf, (size_t)len, now);
				moved++;
			}
			now += 10000;
			if (mw_ep_expiry(a) <= now)
				mw_ep_handle_expiry(a, now), moved++;
			if (mw_ep_expiry(dst[k]) <= now)
				mw_ep_handle_expiry(dst[k], now), moved++;
			if (!moved)
				break;
		}
		CHECK(poll_type(dst[k], MW_EV_RX_TENSOR, NULL) == 1);
	}
	CHECK(poll_type(a, MW_EV_TX_DONE, NULL) == 2);
	mw_ep_free(a);
	mw_ep_free(b);
	mw_ep_free(c);
}

static void step256(struct mw_ep_config *c)
{
	c->encode_step = 256;
}

/* Tag 3 is dense, the others MS. */
static int submit_x(struct pair *p, const float *x, uint64_t tag,
		    unsigned flags)
{
	return submit_vec(p, 0, x, tag == 3 ? MW_CODEC_DENSE : MW_CODEC_MS,
			  tag, 0, flags);
}

/*
 * Deferred encodes: nothing of a deferred tensor leaves before its last
 * step, the endpoint's timer is due while one is pending, and the
 * receiver gets what a submit-time encode gives, in submit order, with a
 * submit-time tensor between two deferred ones. A NaN found while
 * encoding fails that tensor (TX_FAILED) and not the next.
 */
static void test_deferred(void)
{
	static float x[4][4096], got[2][4][4096];
	struct pair p;
	struct mw_event ev;
	struct mw_counters c;
	uint8_t buf[2048];
	uint16_t pe;
	int run, i, n, len, data = 0;

	for (i = 0; i < 4096; i++)
		for (n = 0; n < 4; n++)
			x[n][i] = (float)((i * 2654435761u + 77u * n) % 1000) /
				  100.0f;
	for (run = 0; run < 2; run++) {
		pair_init(&p, NULL);
		if (run) {
			mw_ep_free(p.ep[0]);
			p.ep[0] = mk_with(100, NULL, step256);
			p.peer[0] = (uint16_t)mw_ep_add_peer(p.ep[0]);
		}
		for (n = 0; n < 4; n++)
			CHECK_EQ(submit_x(&p, x[n], (uint64_t)n,
					  n == 2 ? 0 : MW_SUBMIT_DEFER),
				 0);
		if (run) {
			/* due now; the HELLO goes, no DATA yet */
			CHECK(mw_ep_expiry(p.ep[0]) <= p.now);
			while ((len = mw_ep_send(p.ep[0], p.now, buf,
						 sizeof(buf), &pe)) > 0) {
				data += buf[MW_OFF_TYPE] == MW_PT_DATA;
				mw_ep_recv(p.ep[1], p.peer[1], buf,
					   (size_t)len, p.now);
			}
			CHECK_EQ(data, 0);
		}
		pump(&p, 2000);
		for (n = 0; n < 4; n++) {
			CHECK(mw_ep_poll(p.ep[1], &ev));
			CHECK(ev.type == MW_EV_RX_TENSOR &&
			      ev.meta.tag == (uint64_t)n);
			if (ev.type == MW_EV_RX_TENSOR) {
				memcpy(got[run][n], ev.buf, sizeof(got[0][0]));
				mw_ep_release(p.ep[1], &ev);
			}
		}
		mw_ep_counters(p.ep[0], &c);
		CHECK(run ? c.encode_steps > 40 : c.encode_steps == 0);
		CHECK_EQ(poll_type(p.ep[0], MW_EV_TX_DONE, NULL), 4);
		/* NaN: a deferred one fails with TX_FAILED, the next goes */
		x[1][100] = NAN;
		CHECK_EQ(submit_x(&p, x[1], 11, MW_SUBMIT_DEFER),
			 run ? 0 : MW_ENONFINITE);
		CHECK_EQ(submit_x(&p, x[0], 12, MW_SUBMIT_DEFER), 0);
		pump(&p, 2000);
		CHECK(poll_type(p.ep[0], MW_EV_TX_FAILED, &ev) == run);
		CHECK(!run || ev.reason == MW_ENONFINITE);
		CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
		      ev.meta.tag == 12);
		mw_ep_release(p.ep[1], &ev);
		x[1][100] = 1.0f;
		/* nothing pending: another timer run encodes nothing */
		mw_ep_counters(p.ep[0], &c);
		i = (int)c.encode_steps;
		p.now += 1000;
		mw_ep_handle_expiry(p.ep[0], p.now);
		mw_ep_counters(p.ep[0], &c);
		CHECK_EQ(c.encode_steps, (uint64_t)i);
		free_pair(&p);
	}
	CHECK(memcmp(got[0], got[1], sizeof(got[0])) == 0);
}

static void external(struct mw_ep_config *c)
{
	c->encode_step = 1;
	c->encode_external = 1;
}

/* Run a job as another thread would. */
static void run_job(struct mw_ep *ep, const struct mw_enc_job *j,
		    uint64_t now)
{
	static uint8_t scr[4 * 4096 + 4];
	struct mw_codec_desc d;
	int64_t r = mw_encode(&j->cp, j->data, j->n, &d, j->out, j->cap, scr,
			      sizeof(scr));

	CHECK_EQ(mw_ep_encode_done(ep, j->handle, r, &d, now), 0);
}

/*
 * External encodes (another thread's): jobs come out oldest first, may
 * come back in any order, and the tensors still arrive in submit order,
 * as a submit-time encode gives them. A job's error fails its tensor; a
 * session closed with a job out fails that tensor only when the job is
 * back (its buffer was in use); an unknown handle changes nothing.
 */
static void test_external(void)
{
	static float x[3][4096];
	struct pair p;
	struct mw_enc_job j[3];
	struct mw_event ev;
	int i, n;

	for (n = 0; n < 3; n++)
		for (i = 0; i < 4096; i++)
			x[n][i] = (float)((i * 2654435761u + 13u * n) % 997) /
				  10.0f;
	pair_init(&p, NULL);
	mw_ep_free(p.ep[0]);
	p.ep[0] = mk_with(100, NULL, external);
	p.peer[0] = (uint16_t)mw_ep_add_peer(p.ep[0]);
	for (n = 0; n < 3; n++)
		CHECK_EQ(submit_x(&p, x[n], (uint64_t)n, MW_SUBMIT_DEFER), 0);
	for (n = 0; n < 3; n++)
		CHECK_EQ(mw_ep_encode_take(p.ep[0], &j[n]), 1);
	{
		struct mw_enc_job none;

		CHECK_EQ(mw_ep_encode_take(p.ep[0], &none), 0); /* all out */
	}
	CHECK(j[0].handle < j[1].handle && j[1].handle < j[2].handle);
	CHECK(mw_ep_expiry(p.ep[0]) > p.now); /* the endpoint has no work */
	pump(&p, 50);
	CHECK_EQ(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL), 0);
	run_job(p.ep[0], &j[2], p.now);
	run_job(p.ep[0], &j[0], p.now);
	pump(&p, 200);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
	      ev.meta.tag == 0);
	mw_ep_release(p.ep[1], &ev);
	run_job(p.ep[0], &j[1], p.now);
	CHECK_EQ(mw_ep_encode_done(p.ep[0], j[1].handle, 0, NULL, p.now),
		 MW_ENOENT);
	pump(&p, 200);
	for (n = 1; n < 3; n++) {
		CHECK(mw_ep_poll(p.ep[1], &ev) && ev.type == MW_EV_RX_TENSOR &&
		      ev.meta.tag == (uint64_t)n);
		if (ev.type == MW_EV_RX_TENSOR)
			mw_ep_release(p.ep[1], &ev);
	}
	CHECK_EQ(poll_type(p.ep[0], MW_EV_TX_DONE, NULL), 3);
	/* an error from the job fails the tensor */
	CHECK_EQ(submit_x(&p, x[0], 7, MW_SUBMIT_DEFER), 0);
	CHECK_EQ(mw_ep_encode_take(p.ep[0], &j[0]), 1);
	CHECK_EQ(mw_ep_encode_done(p.ep[0], j[0].handle, MW_ENONFINITE, NULL,
				   p.now),
		 0);
	CHECK(poll_type(p.ep[0], MW_EV_TX_FAILED, &ev) == 1 &&
	      ev.reason == MW_ENONFINITE);
	/* closed with a job out: the failure waits for the job */
	CHECK_EQ(submit_x(&p, x[1], 8, MW_SUBMIT_DEFER), 0);
	CHECK_EQ(mw_ep_encode_take(p.ep[0], &j[1]), 1);
	CHECK_EQ(mw_ep_close_peer(p.ep[0], p.peer[0], p.now), 0);
	CHECK_EQ(poll_type(p.ep[0], MW_EV_TX_FAILED, NULL), 0);
	run_job(p.ep[0], &j[1], p.now);
	CHECK(poll_type(p.ep[0], MW_EV_TX_FAILED, &ev) == 1 &&
	      ev.reason == MW_ECANCELED);
	free_pair(&p);
}

/* Compact DATA (5.6) from the sender's side: a tensor submitted before
 * the peer's capabilities were known is re-planned for them; the first
 * four segments are full DATA, the rest compact and 116 bytes longer;
 * top-k has no compact form; the bytes are the same tensor either way. */
static void test_compact_plan(void)
{
	static const unsigned codecs[] = {MW_CODEC_MS, MW_CODEC_DENSE,
					  MW_CODEC_TOPK};
	struct pair p;
	struct mw_counters c0, c1;
	struct mw_codec_params cp;
	struct mw_tensor_meta m;

	for (unsigned i = 0; i < 4096; i++)
		xs[i] = (float)((i * 2654435761u) % 1000) / 100.0f - 5.0f;
	for (unsigned k = 0; k < 3; k++) {
		uint8_t buf[2048];
		uint16_t pe;
		int len, full = 0, comp = 0, order = 1, maxc = 0;

		pair_init(&p, NULL);
		memset(&m, 0, sizeof(m));
		memset(&cp, 0, sizeof(cp));
		m.dtype = MW_DT_F32;
		m.ndim = 1;
		m.dims[0] = 4096;
		cp.codec = (enum mw_codec)codecs[k];
		cp.bits = codecs[k] == MW_CODEC_MS ? 8 : 0;
		cp.ratio = 0.5;
		cp.k = codecs[k] == MW_CODEC_TOPK ? 2048 : 0;
		CHECK(mw_ep_submit(p.ep[0], p.peer[0], &m, &cp, xs, sizeof(xs),
				   0, p.now, NULL) == 0);
		pump(&p, 1); /* HELLO, HELLO_ACK: the peer's capabilities */
		while ((len = mw_ep_send(p.ep[0], p.now, buf, sizeof(buf),
					 &pe)) > 0) {
			if (buf[MW_OFF_TYPE] == MW_PT_DATA) {
				full++;
				order &= comp == 0;
				CHECK(len <= 1472);
			} else if (buf[MW_OFF_TYPE] == MW_PT_CDATA) {
				comp++;
				CHECK(len <= 1472);
				if (len - 24 > maxc)
					maxc = len - 24;
			}
			mw_ep_recv(p.ep[1], p.peer[1], buf, (size_t)len, p.now);
		}
		pump(&p, 100);
		CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
		CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 1);
		mw_ep_counters(p.ep[0], &c0);
		mw_ep_counters(p.ep[1], &c1);
		if (codecs[k] == MW_CODEC_TOPK) {
			CHECK(full > 4 && comp == 0);
		} else {
			CHECK(full == 4 && comp > 0 && order);
			CHECK(maxc > 1472 - 140); /* more than a full DATA holds */
			CHECK_EQ(c1.data_rx_compact, (uint64_t)comp);
		}
		CHECK_EQ(c0.data_tx_compact, (uint64_t)comp);
		CHECK_EQ(c1.drops, 0);
		free_pair(&p);
	}
}

/* ---- cut-through ------------------------------------------------------ */

#define CT_N 65536u
static float ctx[CT_N];

static void ct_cfg(struct mw_ep_config *c)
{
	c->encode_step = 2048;
}

static void ct_cfg_off(struct mw_ep_config *c)
{
	c->encode_step = 2048;
	c->cut_through = 0;
}

static int ct_submit_as(struct pair *p, uint64_t tag, unsigned codec)
{
	return submit_n(p, 0, ctx, CT_N, codec, 0.99, tag, 0,
			codec == MW_CODEC_MS ? MW_SUBMIT_DEFER : 0);
}

static int ct_submit(struct pair *p, uint64_t tag)
{
	return ct_submit_as(p, tag, MW_CODEC_MS);
}

struct ct_run {
	int data_early;  /* DATA sent while encode steps were still to come */
	int data;        /* DATA sent for the tensor */
	uint32_t seg_cnt; /* from its full DATA */
	uint64_t steps_at_first;
	int spoil_round; /* rewrite ctx in this round (-1: never; -2: in
			    the round after its first DATA went out) */
	int spoil_nan;   /* with a NaN at element 0, else huge values */
};

/* Pump one deferred tensor through, one encode step per round. */
static void ct_pump(struct pair *p, struct ct_run *r)
{
	uint8_t buf[2048];
	uint16_t pe;
	struct mw_counters c;
	int len;

	for (int round = 0; round < 3000; round++) {
		int any = 0;

		int spoil = round == r->spoil_round;

		if (r->spoil_round == -2 && r->data) {
			spoil = 1;
			r->spoil_round = -1;
		}
		if (spoil)
			for (uint32_t i = 0; i < CT_N; i++)
				ctx[i] = r->spoil_nan ? (i < 8 ? NAN : ctx[i])
						      : 1e30f;
		for (int k = 0; k < 2; k++)
			while ((len = mw_ep_send(p->ep[k], p->now, buf,
						 sizeof(buf), &pe)) > 0) {
				any = 1;
				if (k == 0 && mw_ptype_is_data(buf[MW_OFF_TYPE])) {
					mw_ep_counters(p->ep[0], &c);
					if (!r->data++)
						r->steps_at_first =
							c.encode_steps;
					if (buf[MW_OFF_TYPE] == MW_PT_DATA)
						r->seg_cnt = mw_get32(
							buf +
							MW_OFF_DATA_SEG_CNT);
				}
				pair_deliver(p, k, buf, (size_t)len);
			}
		p->now += 10000;
		for (int k = 0; k < 2; k++)
			if (mw_ep_expiry(p->ep[k]) <= p->now)
				mw_ep_handle_expiry(p->ep[k], p->now), any = 1;
		if (!any)
			break;
	}
	mw_ep_counters(p->ep[0], &c);
	r->data_early = r->data && c.encode_steps > r->steps_at_first;
}

/* A->B hook: every DATA of tensor id p->hooked is lost. */
static int ct_lose_tid(struct pair *p, uint8_t *buf, size_t len)
{
	(void)len;
	if (buf[MW_OFF_TYPE] == MW_PT_CDATA)
		return mw_get16(buf + MW_OFF_CDATA_TID) !=
		       (uint16_t)p->hooked;
	return mw_get32(buf + MW_OFF_DATA_TID) != (uint32_t)p->hooked;
}

static void ct_fill(void)
{
	for (uint32_t i = 0; i < CT_N; i++)
		ctx[i] = (float)((i * 2654435761u) % 100003u) / 1000.0f;
}

/* A pair whose A encodes in steps (cut-through on or off, or tweak),
 * its session open. */
static void ct_pair(struct pair *p, void (*tweak)(struct mw_ep_config *))
{
	pair_init(p, NULL);
	mw_ep_free(p->ep[0]);
	p->ep[0] = mk_with(100, NULL, tweak);
	p->peer[0] = (uint16_t)mw_ep_add_peer(p->ep[0]);
	CHECK_EQ(submit(p, 0, 1, NULL), 0);
	pump(p, 3000);
	CHECK_EQ(poll_type(p->ep[1], MW_EV_RX_TENSOR, NULL), 1);
	CHECK_EQ(poll_type(p->ep[0], MW_EV_TX_DONE, NULL), 1);
}

/* After a failure: the next tensor arrives. */
static void ct_next_arrives(struct pair *p, uint64_t tag)
{
	struct mw_event ev;

	ct_fill();
	CHECK_EQ(ct_submit(p, tag), 0);
	pump(p, 3000);
	CHECK(poll_type(p->ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
	      ev.meta.tag == tag);
	mw_ep_release(p->ep[1], &ev);
}

/*
 * Cut-through (docs/DATAPLANE.md): to a peer with nothing else waiting, a
 * deferred MS tensor's DATA go out while its encode steps still run,
 * carry the segment count fixed in advance, and the receiver gets exactly
 * what the encode-then-send path gives. Input rewritten during the emit:
 * the tensor fails with MW_ECHANGED; if segments of it went out, the
 * session is reset (the next tensor goes in a new one), if none did, its
 * id is given back (no reset, nothing dropped at the receiver).
 */
static void test_cut_through(void)
{
	static float got[2][CT_N];
	struct mw_counters c0, c1;
	struct mw_event ev;
	struct pair p;
	int i_failed = 0;

	for (int on = 0; on < 2; on++) {
		struct ct_run r = {.spoil_round = -1};

		ct_pair(&p, on ? ct_cfg : ct_cfg_off);
		ct_fill();
		CHECK_EQ(ct_submit(&p, 2), 0);
		ct_pump(&p, &r);
		CHECK_EQ(r.data_early, on);
		CHECK_EQ((uint32_t)r.data, r.seg_cnt);
		mw_ep_counters(p.ep[0], &c0);
		CHECK_EQ(c0.cut_through_tx, (uint64_t)on);
		CHECK_EQ(poll_type(p.ep[0], MW_EV_TX_DONE, NULL), 1);
		CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
		      ev.meta.tag == 2);
		memcpy(got[on], ev.buf, sizeof(got[0]));
		mw_ep_release(p.ep[1], &ev);
		if (!on) {
			free_pair(&p);
			continue;
		}

		/* rewritten after segments went out: failed, session reset;
		 * a tensor still in flight then (its DATA lost, its timeout
		 * 1 ms = 100 rounds away) fails as canceled, not with the
		 * other's reason */
		mw_ep_counters(p.ep[1], &c1);
		p.hooked = (int)c1.tensors_delivered; /* its id: all before
							 it arrived */
		p.a_data = ct_lose_tid;
		CHECK_EQ(submit_vec(&p, 0, xs, MW_CODEC_DENSE, 30, 0, 0), 0);
		pump(&p, 1);
		r = (struct ct_run){.spoil_round = -2};
		ct_fill();
		CHECK_EQ(ct_submit(&p, 3), 0);
		ct_pump(&p, &r);
		p.a_data = NULL;
		CHECK(r.data > 0);
		while (mw_ep_poll(p.ep[0], &ev)) {
			if (ev.type == MW_EV_TX_FAILED) {
				CHECK_EQ(ev.reason, ev.meta.tag == 3 ? MW_ECHANGED
								     : MW_ECANCELED);
				i_failed++;
			}
			CHECK(ev.type != MW_EV_TX_DONE);
			mw_ep_release(p.ep[0], &ev);
		}
		CHECK_EQ(i_failed, 2);
		mw_ep_counters(p.ep[0], &c0);
		CHECK_EQ(c0.cut_through_failed, 1);
		CHECK_EQ(c0.session_resets, 1);
		CHECK_EQ(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL), 0);
		mw_ep_counters(p.ep[1], &c1);
		CHECK_EQ(c1.close_rx, 1); /* B dropped the partial tensor */
		CHECK_EQ(c1.session_resets, 1);
		ct_next_arrives(&p, 4);

		/* a NaN the selection did not see, in segment 0: nothing
		 * went out, the id is given back */
		r = (struct ct_run){.spoil_round = 3, .spoil_nan = 1};
		ct_fill();
		CHECK_EQ(ct_submit(&p, 5), 0);
		ct_pump(&p, &r);
		CHECK_EQ(r.data, 0);
		CHECK(poll_type(p.ep[0], MW_EV_TX_FAILED, &ev) == 1 &&
		      ev.reason == MW_ECHANGED);
		mw_ep_counters(p.ep[0], &c0);
		CHECK_EQ(c0.cut_through_failed, 2);
		CHECK_EQ(c0.session_resets, 1);
		ct_next_arrives(&p, 6);
		mw_ep_counters(p.ep[1], &c1);
		CHECK_EQ(c1.drops, 0);

		/* another tensor's segments waiting to be sent: none */
		mw_ep_counters(p.ep[0], &c0);
		CHECK_EQ(ct_submit_as(&p, 7, MW_CODEC_DENSE), 0); /* > cwnd */
		CHECK_EQ(ct_submit(&p, 8), 0);
		pump(&p, 3000);
		CHECK_EQ(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL), 2);
		mw_ep_counters(p.ep[0], &c1);
		CHECK_EQ(c1.cut_through_tx, c0.cut_through_tx);
		free_pair(&p);
	}
	CHECK(memcmp(got[0], got[1], sizeof(got[0])) == 0);
}

/* What the receiver must deliver for n elements of x: MS r 0.99, b 2. */
static void ms_ref(const float *x, uint32_t n, float *out)
{
	struct mw_codec_params cp = {.codec = MW_CODEC_MS, .bits = 2,
				     .ratio = 0.99};
	struct mw_codec_desc d;
	size_t ss = mw_encode_scratch_size(&cp, n);
	int64_t size = mw_encode_size(&cp, n);
	uint8_t *pl = malloc((size_t)size);
	void *scr = malloc(ss);

	CHECK_EQ(mw_encode(&cp, x, n, &d, pl, (size_t)size, scr, ss), size);
	CHECK_EQ(mw_seg_decode(&d, 0, n, pl, (size_t)size, out), (int64_t)d.k);
	free(pl);
	free(scr);
}

/*
 * A submit that encodes at once while a deferred encode is half-way
 * through its selection (the two share the endpoint's scratch): the
 * deferred tensor keeps its candidates, the other gets a scratch of its
 * own for the call, even one larger than the scratch the endpoint holds;
 * both arrive exactly, with and without cut-through.
 */
static void test_mixed_submits(void)
{
	static float big[CT_N], want[2][CT_N];
	struct mw_event ev;
	struct pair p;

	for (uint32_t i = 0; i < CT_N; i++)
		big[i] = (float)((i * 40503u) % 65521u) / 100.0f;
	for (int on = 0; on < 2; on++) {
		int got = 0;

		ct_pair(&p, on ? ct_cfg : ct_cfg_off);
		ct_fill();
		ms_ref(ctx, CT_N / 4, want[0]);
		ms_ref(big, CT_N, want[1]);
		CHECK_EQ(submit_n(&p, 0, ctx, CT_N / 4, MW_CODEC_MS, 0.99, 2, 0,
				  MW_SUBMIT_DEFER),
			 0);
		pump(&p, 4); /* into the selection: 8 filter steps */
		CHECK_EQ(submit_n(&p, 0, big, CT_N, MW_CODEC_MS, 0.99, 3, 0, 0),
			 0);
		pump(&p, 3000);
		CHECK_EQ(poll_type(p.ep[0], MW_EV_TX_FAILED, NULL), 0);
		while (mw_ep_poll(p.ep[1], &ev)) {
			if (ev.type == MW_EV_RX_TENSOR) {
				int w = ev.meta.tag == 3;

				CHECK(memcmp(ev.buf, want[w],
					     4 * (w ? CT_N : CT_N / 4)) == 0);
				got++;
			}
			mw_ep_release(p.ep[1], &ev);
		}
		CHECK_EQ(got, 2);
		CHECK(mw_ep_mem_held(p.ep[0]) <= mw_ep_mem_bound(p.ep[0]));
		free_pair(&p);
	}
}

/* ---- cut-through against a hostile writer and a lossy link ----------- */

static uint64_t rs = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t below)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs % below);
}

static uint64_t rt_step;
static uint32_t rt_dgram;

static void rt_cfg(struct mw_ep_config *c)
{
	c->encode_step = rt_step;
	c->max_datagram = rt_dgram;
}

/* The application rewrites part of its tensor: bigger, zero, NaN. */
static void rt_spoil(void)
{
	uint32_t at = rnd(CT_N), len = 1 + rnd(CT_N / 4), kind = rnd(3);

	for (uint32_t i = at; i < CT_N && i < at + len; i++)
		ctx[i] = kind == 0 ? 1e30f : kind == 1 ? 0.0f : NAN;
}

static int rt_lossy(struct pair *p, uint8_t *buf, size_t len)
{
	(void)p;
	(void)buf;
	(void)len;
	return rnd(100) >= 5;
}

/*
 * Seeded rounds: a deferred MS tensor with cut-through, random step and
 * datagram sizes, 5% of A's DATA lost, and in half of the rounds the
 * application rewriting its buffer between two rounds. Every tensor gets
 * exactly one outcome (TX_DONE, or TX_FAILED with MW_ECHANGED or
 * MW_ENONFINITE); the receiver delivers a tensor exactly when its sender
 * was told TX_DONE; a tensor left alone always arrives, also in the
 * session that follows a failure; memory stays within its bound.
 */
static void test_cut_through_random(void)
{
	struct mw_counters c0;
	struct mw_event ev;
	struct pair p;
	unsigned done = 0, failed = 0;

	rt_step = 512 + rnd(8192);
	rt_dgram = 256 + rnd(1217);
	ct_pair(&p, rt_cfg);
	p.a_data = rt_lossy;
	for (uint64_t tag = 100; tag < 140; tag++) {
		int spoil = (int)rnd(2), outcome = 0, got = 0;
		uint32_t when = rnd(40);

		ct_fill();
		CHECK_EQ(ct_submit(&p, tag), 0);
		for (int round = 0; round < 20000 && !outcome; round++) {
			if (spoil && (uint32_t)round == when)
				rt_spoil();
			pump(&p, 1);
			while (mw_ep_poll(p.ep[0], &ev)) {
				if (ev.type == MW_EV_TX_DONE ||
				    ev.type == MW_EV_TX_FAILED) {
					CHECK_EQ(outcome, 0);
					outcome = ev.type == MW_EV_TX_DONE ? 1 : -1;
					CHECK(outcome > 0 || ev.reason == MW_ECHANGED ||
					      ev.reason == MW_ENONFINITE);
				}
				mw_ep_release(p.ep[0], &ev);
			}
		}
		CHECK(outcome != 0);
		pump(&p, 300); /* late packets, the CLOSE */
		while (mw_ep_poll(p.ep[1], &ev)) {
			if (ev.type == MW_EV_RX_TENSOR) {
				got++;
				CHECK_EQ(ev.meta.tag, tag);
			}
			mw_ep_release(p.ep[1], &ev);
		}
		CHECK_EQ(got, outcome > 0);
		CHECK(spoil || outcome > 0); /* untouched: it arrives */
		done += outcome > 0;
		failed += outcome < 0;
		CHECK(mw_ep_mem_held(p.ep[0]) <= mw_ep_mem_bound(p.ep[0]));
	}
	mw_ep_counters(p.ep[0], &c0);
	printf("cut-through, random: step %llu, datagram %u: %u delivered, "
	       "%u failed; %llu cut through, %llu of them failed, %llu "
	       "session resets\n",
	       (unsigned long long)rt_step, rt_dgram, done, failed,
	       (unsigned long long)c0.cut_through_tx,
	       (unsigned long long)c0.cut_through_failed,
	       (unsigned long long)c0.session_resets);
	CHECK(c0.cut_through_tx > 0);
	CHECK_EQ(done + failed, 40u);
	free_pair(&p);
}

/*
 * One tensor at a time (a training step): each new tensor's slot takes the
 * memory of the slot freed last, so after the first tensor the sender
 * holds no more memory however many tensors follow; without that, each
 * of the window's slots kept buffers of its own (4 sets here).
 */
static void test_lockstep_memory(void)
{
	struct pair p;
	uint64_t held[8];
	int i;

	pair_init(&p, NULL);
	for (i = 0; i < 8; i++) {
		CHECK(submit(&p, 0, (uint64_t)i, NULL) == 0);
		pump(&p, 50);
		CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
		CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 1);
		held[i] = mw_ep_mem_held(p.ep[0]);
	}
	for (i = 1; i < 8; i++)
		CHECK_EQ(held[i], held[0]);
	/* a window's worth at once still takes a slot each */
	for (i = 0; i < 4; i++)
		CHECK(submit(&p, 0, (uint64_t)(8 + i), NULL) == 0);
	pump(&p, 50);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 4);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 4);
	CHECK(mw_ep_mem_held(p.ep[0]) > held[0]);
	CHECK(mw_ep_mem_held(p.ep[0]) <= mw_ep_mem_bound(p.ep[0]));
	free_pair(&p);
}

int main(void)
{
	test_exchange();
	test_lockstep_memory();
	test_send_peer();
	test_deferred();
	test_external();
	test_compact_plan();
	test_cut_through();
	test_mixed_submits();
	for (int i = 0; i < 6; i++)
		test_cut_through_random();
	return mw_test_exit("test_send");
}
