/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the sender side, where ACKs meet real in-flight state
 * (PROTOCOL.md 8): ACK processing, loss detection, the reordering window,
 * the undo of spurious reductions, timeouts and their probes.
 *
 * An endpoint S sends tensors (several codecs, small shapes) to one peer.
 * The session opens with a real receiver endpoint R or with a forged
 * HELLO_ACK. The rest of the input is a program of steps (one byte picks
 * the step, a fixed number of bytes follows, so a corpus file can be
 * written by hand or by make_corpus.py):
 *   submit      a tensor: codec, size, values, bits, ratio, tag; or
 *               the same deferred (encoded in steps of 64 elements by the
 *               timers, and sent cut-through when nothing else waits).
 *               Every submit fills the same buffer, so a deferred tensor
 *               still being encoded is rewritten under its encode by the
 *               next submit, as a hostile application would
 *   pump        pull up to n datagrams from S; each is lost, held back
 *               (delivered later, in an order the input picks) or
 *               delivered to R
 *   answer      the same from R to S (R's real ACKs)
 *   release     deliver held datagrams, to R or to S
 *   ack         a forged ACK: largest_pn, cum_tid, rx_limit and block tids
 *               near what S really sent and what R really acknowledged
 *   hello       a forged HELLO or HELLO_ACK: the same, a newer or an
 *               older identity of the peer, to S's identity or not
 *   close       a forged CLOSE with one of several reasons
 *   raw         a datagram from the input, optionally stamped with the
 *               session's identities and a valid CRC, an ACK's numbers
 *               optionally moved next to the real ones (the seeds carry
 *               captured datagrams this way)
 *   time        a small step or a jump to the next timer; due timers run
 *   local       close the session, or unregister and register the peer
 * Forged packets carry the real identities and a valid CRC unless the
 * input says otherwise, so most reach the session logic.
 *
 * Invariants, after every step:
 *   - memory held <= mw_ep_mem_bound(), for S and R;
 *   - every TX_DONE / TX_FAILED names a handle mw_ep_submit() returned,
 *     and no handle gets two; TX_DONE has reason 0, TX_FAILED a negative
 *     one; the events never outnumber the submitted tensors, and the
 *     counters agree with the events polled;
 *   - in flight <= cwnd_max + 1 (a timeout's probe may leave while the
 *     window is full) and pending tensors <= window.
 * At the end S closes the session: then every submitted tensor must have
 * had exactly one event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_in.h"
#include "mw_fuzz.h"
#include "mw_transport.h"
#include "wire_int.h"

#define FS_MTU 1472   /* the largest datagram either side uses */
#define FS_HOLD 16    /* datagrams held back per direction */
#define FS_MAXSUB 64  /* submits per input */
#define FS_MAXN 1024  /* elements per tensor */
#define FS_R_INC 22u  /* R's incarnation */


static uint32_t take32(struct mw_fuzz_in *in)
{
	uint32_t v = 0;
	unsigned i;

	for (i = 0; i < 4; i++)
		v = v << 8 | take(in, 0);
	return v;
}

struct fs_pkt {
	uint8_t b[FS_MTU];
	size_t len;
};

struct fs_link {
	struct fs_pkt q[FS_HOLD];
	unsigned n;
};

/* S's configuration: the low bits of the first input byte pick these. */
static const uint32_t fs_cwnd_max[] = { 4, 8, 16, 64 };
static const uint16_t fs_mtu[] = { MW_WIRE_MIN_DATAGRAM, 600, 1000, FS_MTU };

struct fs {
	struct mw_ep *s, *r;
	uint16_t ps, pr;       /* R's id at S, S's id at R */
	int s_has_peer;
	uint32_t cwnd_max, window;
	uint64_t now;
	/* What S really sent in its current session (its DATA headers) and
	 * what R really acknowledged: forged ACKs are made near these. */
	struct mw_ident sess;  /* S's identity the numbers belong to */
	uint32_t pn_hi;        /* largest DATA pn */
	uint32_t tid_lo;       /* lowest DATA tid */
	uint32_t seg_cnt[8];   /* by tid % 8 */
	uint32_t cum;          /* largest cum_tid seen in R's ACKs */
	int has_data;
	struct fs_link to_r, to_s;
	/* Every handle mw_ep_submit() returned; done: its event came. */
	uint64_t h[FS_MAXSUB];
	uint8_t done[FS_MAXSUB];
	unsigned nsub, nev;
	float x[FS_MAXN];      /* the tensor being submitted; a deferred
				  one reads it until its encode is done */
};

static struct mw_ep *fs_ep(uint32_t inc, unsigned c)
{
	struct mw_ep_config cfg;
	struct mw_ep *ep = NULL;

	mw_ep_config_default(&cfg);
	cfg.incarnation = inc;
	cfg.max_peers = 1;
	cfg.max_datagram = fs_mtu[c >> 2 & 3];
	cfg.max_tensor_bytes = 1 << 14;
	cfg.max_segs = 128;
	cfg.window = c & 0x10 ? 2 : 4;
	cfg.max_retries = 3;
	cfg.rto_initial_ns = 1000000;
	cfg.rto_min_ns = 100000;
	cfg.rto_max_ns = 20000000;
	cfg.cwnd_max = fs_cwnd_max[c & 3];
	cfg.cwnd_initial = c & 0x20 ? cfg.cwnd_max : 2;
	cfg.cwnd_min = 2;
	cfg.undo = !(c & 0x40);
	cfg.encode_step = 64;
	if (mw_ep_new(&cfg, &ep) < 0)
		return NULL;
	return ep;
}

/* ---- invariants ------------------------------------------------------- */

static void check(struct fs *f)
{
	struct mw_event ev;
	struct mw_peer_info pi;
	struct mw_counters c;
	unsigned i;

	FUZZ_ASSERT(mw_ep_mem_held(f->s) <= mw_ep_mem_bound(f->s));
	FUZZ_ASSERT(mw_ep_mem_held(f->r) <= mw_ep_mem_bound(f->r));
	while (mw_ep_poll(f->s, &ev)) {
		if (ev.type == MW_EV_TX_DONE || ev.type == MW_EV_TX_FAILED) {
			for (i = 0; i < f->nsub && f->h[i] != ev.handle; i++)
				;
			FUZZ_ASSERT(i < f->nsub); /* a handle we were given */
			FUZZ_ASSERT(!f->done[i]); /* only one event each */
			f->done[i] = 1;
			f->nev++;
			FUZZ_ASSERT(f->nev <= f->nsub);
			FUZZ_ASSERT(ev.type == MW_EV_TX_DONE ? ev.reason == 0
							     : ev.reason < 0);
		}
		mw_ep_release(f->s, &ev);
	}
	while (mw_ep_poll(f->r, &ev))
		mw_ep_release(f->r, &ev);
	mw_ep_counters(f->s, &c);
	FUZZ_ASSERT(c.tensors_submitted == f->nsub);
	FUZZ_ASSERT(c.tensors_sent + c.tensors_failed == f->nev);
	FUZZ_ASSERT(c.cut_through_failed <= c.cut_through_tx &&
		    c.cut_through_tx <= c.tensors_submitted);
	if (f->s_has_peer && mw_ep_peer_info(f->s, f->ps, &pi) == 0) {
		FUZZ_ASSERT(pi.in_flight <= f->cwnd_max + 1);
		FUZZ_ASSERT(pi.tx_pending <= f->window);
	}
}

/* ---- what S sent and R acknowledged ------------------------------------ */

static void note_sent(struct fs *f, const uint8_t *b, size_t len)
{
	struct mw_hdr h;
	struct mw_data d;

	if (mw_wire_parse_hdr(b, len, &h) < 0 || h.type != MW_PT_DATA ||
	    mw_wire_parse_data(b, len, &d) < 0)
		return;
	if (!f->has_data || h.src.inc != f->sess.inc ||
	    h.src.gen != f->sess.gen) {
		/* a new session: its numbers start again */
		f->sess = h.src;
		f->has_data = 1;
		f->pn_hi = d.pn;
		f->tid_lo = d.tid;
		f->cum = d.tid;
	}
	if ((int32_t)(d.pn - f->pn_hi) > 0)
		f->pn_hi = d.pn;
	if ((int32_t)(d.tid - f->tid_lo) < 0)
		f->tid_lo = d.tid;
	f->seg_cnt[d.tid % 8] = d.seg_cnt;
}

static void note_acked(struct fs *f, const uint8_t *b, size_t len)
{
	struct mw_hdr h;
	struct mw_ack a;

	if (mw_wire_parse_hdr(b, len, &h) < 0 || h.type != MW_PT_ACK ||
	    mw_wire_parse_ack(b, len, &a) < 0)
		return;
	if ((int32_t)(a.cum_tid - f->cum) > 0)
		f->cum = a.cum_tid;
}

/* ---- the link ----------------------------------------------------------- */

static void to_s(struct fs *f, const uint8_t *b, size_t len)
{
	if (f->s_has_peer)
		mw_ep_recv(f->s, f->ps, b, len, f->now);
}

static void to_r(struct fs *f, const uint8_t *b, size_t len)
{
	mw_ep_recv(f->r, f->pr, b, len, f->now);
}

static void hold(struct fs_link *l, const uint8_t *b, size_t len)
{
	if (l->n == FS_HOLD) { /* full: the oldest is lost */
		memmove(&l->q[0], &l->q[1], (FS_HOLD - 1) * sizeof(l->q[0]));
		l->n--;
	}
	memcpy(l->q[l->n].b, b, len);
	l->q[l->n].len = len;
	l->n++;
}

/*
 * Pull up to n datagrams from one side. Input: a count byte, then two
 * 16-bit masks: datagram i is lost if bit i of the first is set, else
 * held back if bit i of the second is set, else delivered at once.
 */
static void pump(struct fs *f, struct mw_fuzz_in *in, int from_s)
{
	uint8_t b[FS_MTU];
	unsigned i, n = 1 + take(in, 16);
	unsigned lose = take(in, 0) << 8 | take(in, 0);
	unsigned keep = take(in, 0) << 8 | take(in, 0);
	uint16_t peer;
	int len;

	for (i = 0; i < n; i++) {
		if (from_s) {
			if (!f->s_has_peer)
				return;
			len = mw_ep_send(f->s, f->now, b, sizeof(b), &peer);
		} else {
			len = mw_ep_send(f->r, f->now, b, sizeof(b), &peer);
		}
		if (len <= 0)
			return;
		if (from_s)
			note_sent(f, b, (size_t)len);
		else
			note_acked(f, b, (size_t)len);
		if (lose >> i & 1)
			continue;
		if (keep >> i & 1)
			hold(from_s ? &f->to_r : &f->to_s, b, (size_t)len);
		else if (from_s)
			to_r(f, b, (size_t)len);
		else
			to_s(f, b, (size_t)len);
	}
}

/* Deliver some held datagrams, in an order the input picks. */
static void release(struct fs *f, struct mw_fuzz_in *in)
{
	unsigned c = take(in, 0), k = c & 15;
	struct fs_link *l = c & 0x80 ? &f->to_s : &f->to_r;

	while (k-- && l->n) {
		struct fs_pkt p;
		unsigned i = take(in, l->n);

		p = l->q[i];
		memmove(&l->q[i], &l->q[i + 1],
			(l->n - i - 1) * sizeof(l->q[0]));
		l->n--;
		if (l == &f->to_s)
			to_s(f, p.b, p.len);
		else
			to_r(f, p.b, p.len);
	}
}

/* ---- steps -------------------------------------------------------------- */

static void submit(struct fs *f, struct mw_fuzz_in *in, unsigned flags)
{
	float *x = f->x;
	struct mw_tensor_meta m;
	struct mw_codec_params cp;
	unsigned i, n = 1 + take(in, 0) * 4;
	uint32_t s = 0x9e3779b9u * (1 + take(in, 0));
	uint64_t h;

	memset(&m, 0, sizeof(m));
	memset(&cp, 0, sizeof(cp));
	cp.codec = (enum mw_codec)take(in, MW_CODEC_COUNT_);
	cp.bits = 1 + take(in, 8);
	cp.ratio = 0.1 * take(in, 10);
	m.tag = take(in, 0);
	for (i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = (float)(int32_t)s / 2147483648.0f;
		if (cp.codec == MW_CODEC_MS && x[i] < 0)
			x[i] = -x[i];
	}
	m.dtype = cp.codec == MW_CODEC_RAW ? MW_DT_U8 : MW_DT_F32;
	m.kind = (uint8_t)(s % MW_KIND_COUNT_);
	m.ndim = 1;
	m.dims[0] = n;
	if (f->nsub == FS_MAXSUB || !f->s_has_peer)
		return;
	if (mw_ep_submit(f->s, f->ps, &m, &cp, x,
			 (uint64_t)n * (cp.codec == MW_CODEC_RAW ? 1 : 4),
			 flags, f->now, &h) == 0) {
		f->h[f->nsub] = h;
		f->done[f->nsub] = 0;
		f->nsub++;
	}
}

/*
 * Put the common header on a forged packet, as R would (its identity as
 * S knows it, to S's identity) or not quite: mode 0-4 as R, 5 no CRC,
 * 6 a newer generation of R, 7 an older generation of S.
 */
static void stamp(struct fs *f, uint8_t *b, size_t len, uint8_t type,
		  uint16_t flags, unsigned mode)
{
	struct mw_peer_info pi;
	struct mw_ident src, dst;

	memset(&pi, 0, sizeof(pi));
	if (f->s_has_peer)
		mw_ep_peer_info(f->s, f->ps, &pi);
	src = pi.remote;
	dst = pi.local;
	if (src.inc == 0)
		src.inc = FS_R_INC, src.gen = 1;
	if (mode == 6)
		src.gen++;
	if (mode == 7)
		dst.gen--;
	mw_wire_put_hdr(b, type, flags, &src, &dst);
	if (mode != 5)
		mw_wire_finish(b, len);
}

/*
 * A forged ACK. Input: flags (bit 0 has_largest, 1 ACK_REQ, 2 a wild
 * largest_pn, bits 5-7 the stamp mode), largest_pn back from the largest
 * sent, ack_delay, cum_tid and rx_limit near the real ones, a block count
 * and per block: tid, seg_cum, flags and a bitmap.
 */
static void forge_ack(struct fs *f, struct mw_fuzz_in *in)
{
	uint8_t b[FS_MTU], *p;
	struct mw_ack a;
	struct mw_ack_block k;
	uint8_t bm[4];
	unsigned fl = take(in, 0), i, j;
	uint32_t base = (int32_t)(f->cum - f->tid_lo) > 0 ? f->cum : f->tid_lo;

	memset(&a, 0, sizeof(a));
	a.has_largest = fl & 1;
	a.largest_pn = f->pn_hi - take(in, 8);
	if (fl & 4)
		a.largest_pn = take32(in);
	a.ack_delay_us = take(in, 0) * 16;
	a.cum_tid = base + take(in, 5) - 1;
	a.rx_limit = a.cum_tid + take(in, 8);
	a.nblocks = (uint16_t)take(in, 4);
	p = b + MW_WIRE_ACK_FIXED_LEN;
	for (i = 0; i < a.nblocks; i++) {
		memset(&k, 0, sizeof(k));
		k.tid = base + take(in, 4);
		k.seg_cum = take(in, f->seg_cnt[k.tid % 8] + 2);
		k.flags = take(in, 8) == 0 ? MW_ACKB_COMPLETE : 0;
		k.bitmap_len = (uint16_t)take(in, 5);
		for (j = 0; j < k.bitmap_len; j++)
			bm[j] = (uint8_t)take(in, 0);
		k.bitmap = bm;
		p += mw_wire_put_ack_block(p, &k);
	}
	mw_wire_put_ack_fixed(b, &a);
	stamp(f, b, (size_t)(p - b), MW_PT_ACK, fl & 2 ? MW_FLAG_ACK_REQ : 0,
	      fl >> 5);
	to_s(f, b, (size_t)(p - b));
}

/*
 * A forged HELLO or HELLO_ACK. Input: kind (bit 0 HELLO_ACK, bits 1-2 who:
 * R, R restarted, R at an older incarnation, R's next generation; bits
 * 3-4 to: S, nobody, S's older generation), the stamp mode, and limits.
 */
static void forge_hello(struct fs *f, struct mw_fuzz_in *in)
{
	uint8_t b[MW_WIRE_HELLO_LEN];
	struct mw_hello hb;
	struct mw_peer_info pi;
	struct mw_ident src, dst;
	unsigned kind = take(in, 0), mode = take(in, 8);

	memset(&hb, 0, sizeof(hb));
	hb.max_datagram = fs_mtu[take(in, 4)];
	hb.rx_window = 1 + take(in, 8);
	hb.max_segs = 1 + take(in, 0);
	hb.max_tensor_bytes = 64ull << take(in, 12);
	memset(&pi, 0, sizeof(pi));
	if (f->s_has_peer)
		mw_ep_peer_info(f->s, f->ps, &pi);
	src = pi.remote;
	if (src.inc == 0)
		src.inc = FS_R_INC, src.gen = 1;
	switch (kind >> 1 & 3) {
	case 1: src.inc++, src.gen = 1; break;
	case 2: src.inc--; break;
	case 3: src.gen++; break;
	}
	dst = pi.local;
	switch (kind >> 3 & 3) {
	case 1: dst.inc = dst.gen = 0; break;
	case 2: dst.gen--; break;
	}
	mw_wire_put_hdr(b, kind & 1 ? MW_PT_HELLO_ACK : MW_PT_HELLO, 0, &src,
			&dst);
	mw_wire_put_hello(b, &hb);
	if (mode != 5)
		mw_wire_finish(b, sizeof(b));
	to_s(f, b, sizeof(b));
}

static void forge_close(struct fs *f, struct mw_fuzz_in *in)
{
	static const int32_t why[] = { 0, MW_ECANCELED, MW_ETIMEDOUT,
				       MW_EFORMAT, MW_ERESET, 1 };
	uint8_t b[MW_WIRE_CLOSE_LEN];
	unsigned mode = take(in, 8);

	mw_wire_put_close(b, why[take(in, 6)]);
	stamp(f, b, sizeof(b), MW_PT_CLOSE, 0, mode);
	to_s(f, b, sizeof(b));
}

/*
 * A datagram from the input. Input: flags (bit 0 the stamp: magic,
 * version, identities and CRC; bit 1 an ACK's numbers moved next to the
 * real ones; bit 2 delivered to R instead), a 16-bit length, the bytes.
 */
static void raw(struct fs *f, struct mw_fuzz_in *in)
{
	uint8_t b[FS_MTU];
	unsigned fl = take(in, 0);
	size_t i, n = (size_t)take(in, 0) << 8 | take(in, 0);

	if (n > sizeof(b))
		n = sizeof(b);
	if (n > in->n)
		n = in->n;
	for (i = 0; i < n; i++)
		b[i] = (uint8_t)take(in, 0);
	if ((fl & 2) && n >= MW_WIRE_ACK_FIXED_LEN && b[MW_OFF_TYPE] ==
							      MW_PT_ACK) {
		uint32_t base = (int32_t)(f->cum - f->tid_lo) > 0 ? f->cum
								  : f->tid_lo;
		uint32_t cum = base + (mw_get32(b + MW_OFF_ACK_CUM_TID) & 3);
		uint8_t *k = b + MW_OFF_ACK_BLOCKS;

		mw_put32(b + MW_OFF_ACK_LARGEST_PN,
			 f->pn_hi - (mw_get32(b + MW_OFF_ACK_LARGEST_PN) & 7));
		mw_put32(b + MW_OFF_ACK_CUM_TID, cum);
		mw_put32(b + MW_OFF_ACK_RX_LIMIT, cum + f->window);
		for (i = 0; i < mw_get16(b + MW_OFF_ACK_NBLOCKS) &&
			    k + MW_WIRE_ACK_BLOCK_LEN <= b + n;
		     i++) {
			mw_put32(k + MW_OFF_BLK_TID,
				 base + (mw_get32(k + MW_OFF_BLK_TID) & 3));
			k += MW_WIRE_ACK_BLOCK_LEN +
			     mw_get16(k + MW_OFF_BLK_BITMAP_LEN);
		}
	}
	if ((fl & 1) && n >= MW_WIRE_HDR_LEN) {
		mw_put16(b, MW_WIRE_MAGIC);
		b[MW_OFF_VERSION] = MW_WIRE_VERSION;
		stamp(f, b, n, b[MW_OFF_TYPE], mw_get16(b + MW_OFF_FLAGS),
		      0);
	}
	if (fl & 4)
		to_r(f, b, n);
	else
		to_s(f, b, n);
}

/* Time: a step of 1-64 us or 0.1-6.4 ms, or to S's or either side's next
 * timer; then the timers due run. */
static void advance(struct fs *f, struct mw_fuzz_in *in)
{
	unsigned c = take(in, 0), v = (c & 63) + 1;
	uint64_t t = mw_ep_expiry(f->s), u = mw_ep_expiry(f->r);

	switch (c >> 6) {
	case 0: f->now += 1000ull * v; break;
	case 1: f->now += 100000ull * v; break;
	case 2:
		if (t != UINT64_MAX && t > f->now)
			f->now = t;
		break;
	default:
		if (u < t)
			t = u;
		if (t != UINT64_MAX && t > f->now)
			f->now = t + 1000ull * (v - 1);
		break;
	}
	if (mw_ep_expiry(f->s) <= f->now)
		mw_ep_handle_expiry(f->s, f->now);
	if (mw_ep_expiry(f->r) <= f->now)
		mw_ep_handle_expiry(f->r, f->now);
}

static void local(struct fs *f, struct mw_fuzz_in *in)
{
	int id;

	if (!f->s_has_peer)
		return;
	if (take(in, 4) != 0) {
		mw_ep_close_peer(f->s, f->ps, f->now);
		return;
	}
	mw_ep_remove_peer(f->s, f->ps, f->now);
	f->s_has_peer = 0;
	f->has_data = 0; /* the next session may reuse the identity */
	check(f);
	id = mw_ep_add_peer(f->s);
	FUZZ_ASSERT(id >= 0);
	f->ps = (uint16_t)id;
	f->s_has_peer = 1;
}

/*
 * The session: S's first tensor brings out its HELLO; R answers it, or
 * a HELLO_ACK is forged from R's identity of the given generation.
 */
static void open_session(struct fs *f, struct mw_fuzz_in *in)
{
	uint8_t b[FS_MTU];
	unsigned how = take(in, 0);
	uint16_t peer;
	int len;

	submit(f, in, 0);
	len = mw_ep_send(f->s, f->now, b, sizeof(b), &peer);
	if (len <= 0)
		return;
	if (how & 1) {
		struct mw_hello hb;
		struct mw_peer_info pi;
		struct mw_ident src = { FS_R_INC, 1 + (how >> 1 & 7) };

		memset(&hb, 0, sizeof(hb));
		hb.max_datagram = FS_MTU;
		hb.rx_window = 4;
		hb.max_segs = 128;
		hb.max_tensor_bytes = 1 << 14;
		mw_ep_peer_info(f->s, f->ps, &pi);
		mw_wire_put_hdr(b, MW_PT_HELLO_ACK, 0, &src, &pi.local);
		mw_wire_finish(b, mw_wire_put_hello(b, &hb));
		to_s(f, b, MW_WIRE_HELLO_LEN);
		return;
	}
	to_r(f, b, (size_t)len);
	while ((len = mw_ep_send(f->r, f->now, b, sizeof(b), &peer)) > 0)
		to_s(f, b, (size_t)len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs *f;
	struct mw_fuzz_in in = { data, size };
	unsigned c, step, i;

	f = calloc(1, sizeof(*f));
	FUZZ_ASSERT(f);
	c = take(&in, 0);
	f->s = fs_ep(11, c);
	f->r = fs_ep(FS_R_INC, 0x2c | (c >> 3 & 0x10)); /* R: 1472 bytes */
	FUZZ_ASSERT(f->s && f->r);
	f->ps = (uint16_t)mw_ep_add_peer(f->s);
	f->pr = (uint16_t)mw_ep_add_peer(f->r);
	f->s_has_peer = 1;
	f->cwnd_max = fs_cwnd_max[c & 3];
	f->window = c & 0x10 ? 2 : 4;
	f->now = 1000;
	open_session(f, &in);
	check(f);
	for (step = 0; step < 512 && in.n; step++) {
		switch (take(&in, 16)) {
		case 0: submit(f, &in, 0); break;
		case 1: submit(f, &in, MW_SUBMIT_DEFER); break;
		case 2: case 3: case 4: pump(f, &in, 1); break;
		case 5: case 6: pump(f, &in, 0); break;
		case 7: release(f, &in); break;
		case 8: case 9: forge_ack(f, &in); break;
		case 10: forge_hello(f, &in); break;
		case 11: forge_close(f, &in); break;
		case 12: raw(f, &in); break;
		case 13: case 14: advance(f, &in); break;
		default: local(f, &in); break;
		}
		check(f);
	}
	/* Closing fails what is left: now every tensor has had its event. */
	if (f->s_has_peer)
		mw_ep_close_peer(f->s, f->ps, f->now);
	check(f);
	FUZZ_ASSERT(f->nev == f->nsub);
	for (i = 0; i < f->nsub; i++)
		FUZZ_ASSERT(f->done[i]);
	mw_ep_free(f->s);
	mw_ep_free(f->r);
	free(f);
	return 0;
}
