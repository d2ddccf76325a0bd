/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recv.c - the receive path: the DATA checks in the order of PROTOCOL.md
 * 11, decoding segments into the tensor, in-order delivery (9), flow
 * control and the allocator (8.6), and the ACKs owed and built (5.4, 8.7).
 */
#include <stdlib.h>
#include <string.h>

#include "ep.h"

void mw_recv_slot_clear(struct mw_ep *ep, struct rx_slot *s, int free_buf)
{
	uint32_t ptid = s->ptid;
	uint8_t pvalid = s->pvalid;

	if (free_buf && s->buf) {
		ep->cfg.rx_alloc.free(ep->cfg.rx_alloc.ctx, s->buf, s->bytes);
		ep->rx_mem -= s->bytes;
	}
	free(s->loss);
	mw_mem_free(ep, s->bitmap, (s->seg_cnt + 7u) / 8u);
	mw_mem_free(ep, s->rs, sizeof(*s->rs) * s->seg_cnt);
	memset(s, 0, sizeof(*s));
	s->ptid = ptid;
	s->pvalid = pvalid;
}

uint32_t mw_recv_limit(const struct mw_ep *ep, const struct peer *p)
{
	uint32_t lim = p->recv.rx_next + ep->cfg.window - p->recv.rx_unpolled;

	if (p->recv.blocked && sdiff(p->recv.blocked_tid, lim) < 0)
		lim = p->recv.blocked_tid;
	return lim;
}

static void rx_deliver(struct mw_ep *ep, uint16_t id)
{
	struct peer *p = &ep->peers[id];

	for (;;) {
		struct rx_slot *s =
			&p->recv.rx[p->recv.rx_next % ep->cfg.window];
		struct mw_event *e;

		if (!s->used || !s->complete || s->tid != p->recv.rx_next)
			return;
		e = mw_ep_ev_push(ep);
		e->type = MW_EV_RX_TENSOR;
		e->peer = id;
		e->handle = s->tid;
		e->meta = s->meta;
		e->desc = s->desc;
		e->buf = s->buf;
		e->bytes = s->bytes;
		s->buf = NULL; /* now the event's; rx_mem drops at poll */
		if (s->partial) {
			e->partial = 1;
			e->loss = s->loss;
			e->loss_cnt = s->loss_cnt;
			e->elems_lost = s->elems_lost;
			s->loss = NULL; /* the event's too */
			s->ptid = s->tid;
			s->pvalid = 1;
			ep->ctr.partial_rx++;
			ep->ctr.elems_lost += e->elems_lost;
		}
		mw_recv_slot_clear(ep, s, 0);
		p->recv.rx_next++;
		p->recv.rx_unpolled++;
		ep->ctr.tensors_delivered++;
	}
}

static int rx_slot_open(struct mw_ep *ep, uint16_t id, struct rx_slot *s,
			const struct mw_data *d, const uint8_t *pkt)
{
	struct peer *p = &ep->peers[id];
	struct mw_rx_info ri;
	uint64_t bytes = d->desc.n * mw_codec_elem_size(d->desc.codec);
	void *buf;

	memset(&ri, 0, sizeof(ri));
	ri.peer = id;
	ri.tid = d->tid;
	ri.meta = d->meta;
	ri.desc = d->desc;
	buf = ep->cfg.rx_alloc.alloc(ep->cfg.rx_alloc.ctx, bytes, &ri);
	if (!buf) {
		if (!p->recv.blocked ||
		    sdiff(d->tid, p->recv.blocked_tid) < 0) {
			p->recv.blocked = 1;
			p->recv.blocked_tid = d->tid;
			p->recv.blocked_info = ri;
		}
		return MW_EAGAIN;
	}
	s->bitmap = mw_mem_alloc(ep, (d->seg_cnt + 7u) / 8u);
	s->rs = mw_mem_alloc(ep, sizeof(*s->rs) * d->seg_cnt);
	s->seg_cnt = d->seg_cnt;
	if (!s->bitmap || !s->rs) {
		ep->cfg.rx_alloc.free(ep->cfg.rx_alloc.ctx, buf, bytes);
		mw_recv_slot_clear(ep, s, 0);
		return MW_ENOMEM;
	}
	s->used = 1;
	s->tid = d->tid;
	s->buf = buf;
	s->bytes = bytes;
	s->meta = d->meta;
	s->desc = d->desc;
	memcpy(s->tblock, pkt + MW_WIRE_TBLOCK_OFF, MW_WIRE_TBLOCK_LEN);
	ep->rx_mem += bytes;
	return 0;
}

static void rx_note_pn(struct mw_ep *ep, struct peer *p, uint32_t pn,
		       uint64_t now)
{
	if (!p->recv.rx_has_largest || sdiff(pn, p->recv.rx_largest_pn) > 0) {
		if (p->recv.rx_has_largest && pn != p->recv.rx_largest_pn + 1)
			p->recv.ack_now = 1; /* a gap: tell the sender now */
		p->recv.rx_largest_pn = pn;
		p->recv.rx_has_largest = 1;
		p->recv.rx_largest_time = now;
	} else {
		p->recv.ack_now = 1; /* reordered or repeated: report at once */
	}
	p->recv.ack_pending++;
	if (p->recv.ack_pending >= 2)
		p->recv.ack_now = 1;
	else if (p->recv.ack_due == NO_TIME)
		p->recv.ack_due = now + ep->cfg.ack_delay_ns;
}

/* Accept a duplicate segment (not a drop, PROTOCOL.md 11): counted, and
 * answered at once so the sender learns what the receiver holds. */
static int rx_dup(struct mw_ep *ep, struct peer *p, uint32_t pn, uint64_t now)
{
	rx_note_pn(ep, p, pn, now);
	ep->ctr.data_rx++;
	ep->ctr.data_rx_dup++;
	p->recv.ack_now = 1;
	return 0;
}

/* A segment of a tensor decided partial at its deadline (9.1), delivered
 * or waiting for its predecessors, that it lacked: dropped as late; its
 * sender learns the outcome from the ACK sent now. */
static int rx_late(struct mw_ep *ep, struct peer *p, uint32_t pn, uint64_t now)
{
	rx_note_pn(ep, p, pn, now);
	p->recv.ack_now = 1;
	return mw_ep_drop(ep, MW_DROP_LATE, MW_ESTATE);
}

/* A received segment must tile with its received neighbours (5.2); a
 * compact segment's value offset is not on the wire (5.6), so values are
 * compared where both neighbours carried theirs. */
static int vals_meet(uint64_t off, uint64_t cnt, uint64_t next_off)
{
	return off == MW_VAL_OFF_UNKNOWN || next_off == MW_VAL_OFF_UNKNOWN ||
	       off + cnt == next_off;
}

static int rx_tiles(const struct rx_slot *s, const struct mw_data *d)
{
	const struct rx_seg *r;

	if (d->seg_idx > 0 && bit_get(s->bitmap, d->seg_idx - 1)) {
		r = &s->rs[d->seg_idx - 1];
		if (r->elem_off + r->elem_cnt != d->seg.elem_off ||
		    !vals_meet(r->val_off, r->val_cnt, d->seg.val_off))
			return 0;
	}
	if (d->seg_idx + 1 < d->seg_cnt && bit_get(s->bitmap, d->seg_idx + 1)) {
		r = &s->rs[d->seg_idx + 1];
		if (d->seg.elem_off + d->seg.elem_cnt != r->elem_off ||
		    !vals_meet(d->seg.val_off, d->seg.val_cnt, r->val_off))
			return 0;
	}
	return 1;
}

/* Record an accepted segment in its tensor; deliver what completes. */
static void rx_record(struct mw_ep *ep, uint16_t id, struct rx_slot *s,
		      const struct mw_data *d)
{
	struct rx_seg *r = &s->rs[d->seg_idx];

	r->elem_off = d->seg.elem_off;
	r->val_off = d->seg.val_off;
	r->elem_cnt = (uint32_t)d->seg.elem_cnt;
	r->val_cnt = (uint32_t)d->seg.val_cnt;
	s->bitmap[d->seg_idx / 8] |= (uint8_t)(1u << (d->seg_idx % 8));
	s->rcvd++;
	if (d->seg_idx > s->seg_max)
		s->seg_max = d->seg_idx;
	while (s->seg_cum < s->seg_cnt && bit_get(s->bitmap, s->seg_cum))
		s->seg_cum++;
	ep->ctr.data_rx++;
	if (s->rcvd == s->seg_cnt) {
		s->complete = 1;
		rx_deliver(ep, id);
	}
}

/* A tensor id below rx_next: delivered already. Late if it was delivered
 * partial and is still recorded (9.1), else a duplicate. */
static int rx_delivered(struct mw_ep *ep, struct peer *p, uint32_t tid,
			uint32_t pn, uint64_t now)
{
	struct rx_slot *s = &p->recv.rx[tid % ep->cfg.window];

	if (s->pvalid && s->ptid == tid)
		return rx_late(ep, p, pn, now);
	return rx_dup(ep, p, pn, now);
}

/* A tensor id at or past the receive limit. Flow control, not a bad
 * packet: its pn is recorded so that the ACK sent now lets the sender
 * detect the loss (8.2). */
static int rx_outside(struct mw_ep *ep, struct peer *p, uint32_t pn,
		      uint64_t now)
{
	rx_note_pn(ep, p, pn, now);
	p->recv.ack_now = 1;
	return mw_ep_drop(ep, MW_DROP_WINDOW, MW_ELIMIT);
}

/* The receive slot of a DATA's tensor id, after the checks on the id:
 * delivered already (late or duplicate), outside the window. Returns 1
 * with *s set, or what the receive path returns. */
static int rx_slot_of(struct mw_ep *ep, struct peer *p,
		      const struct mw_data *d, uint64_t now,
		      struct rx_slot **s)
{
	int32_t off = sdiff(d->tid, p->recv.rx_next);

	if (off < 0)
		return rx_delivered(ep, p, d->tid, d->pn, now);
	if (off >= sdiff(mw_recv_limit(ep, p), p->recv.rx_next) ||
	    (uint32_t)off >= ep->cfg.window)
		return rx_outside(ep, p, d->pn, now);
	*s = &p->recv.rx[d->tid % ep->cfg.window];
	return 1;
}

/* The checks on a segment of a tensor with receive state, after its
 * tensor block: a duplicate, late, or not tiling (5.2, 11). Returns 1 to
 * go on to decoding, else what mw_recv_on_data() returns. */
static int rx_known(struct mw_ep *ep, struct peer *p, struct rx_slot *s,
		    const struct mw_data *d, uint64_t now)
{
	if (bit_get(s->bitmap, d->seg_idx))
		return rx_dup(ep, p, d->pn, now);
	if (s->complete && s->partial)
		return rx_late(ep, p, d->pn, now);
	if (s->complete)
		return rx_dup(ep, p, d->pn, now);
	if (!rx_tiles(s, d))
		return mw_ep_drop(ep, MW_DROP_INCONSISTENT, MW_EFORMAT);
	return 1;
}

/* Decode a segment that passed every other check into its tensor, and
 * record it (or drop it as bad_payload, closing a slot it opened). */
static int rx_accept(struct mw_ep *ep, uint16_t id, struct rx_slot *s,
		     const struct mw_data *d, int opened, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	int64_t got;

	/* Decoding writes only the segment's own element range, which no
	 * received segment covers: a payload that fails leaves those
	 * elements to the segment that will fill them. */
	got = mw_seg_decode(&d->desc, d->seg.elem_off, d->seg.elem_cnt,
			    d->payload, d->payload_len, s->buf);
	if (got >= 0 &&
	    (d->desc.codec == MW_CODEC_MS ||
	     d->desc.codec == MW_CODEC_MS_SIGNED ||
	     d->desc.codec == MW_CODEC_TOPK) &&
	    (uint64_t)got != d->seg.val_cnt)
		got = MW_ECOUNT;
	if (got < 0) {
		if (opened)
			mw_recv_slot_clear(ep, s, 1);
		return mw_ep_drop(ep, MW_DROP_PAYLOAD, (int)got);
	}
	/* Accepted. */
	if (opened && p->recv.blocked && p->recv.blocked_tid == d->tid)
		p->recv.blocked = 0;
	if (opened && d->meta.deadline_ms) {
		s->deadline_at = now + (uint64_t)d->meta.deadline_ms * 1000000u;
		if (s->deadline_at < p->recv.deadline_at)
			p->recv.deadline_at = s->deadline_at;
	} else if (opened) {
		s->deadline_at = NO_TIME;
	}
	rx_note_pn(ep, p, d->pn, now);
	rx_record(ep, id, s, d);
	return 0;
}

/*
 * A DATA packet (PROTOCOL.md 5.2, 11). Checks run in the order of
 * section 11; a packet that fails one is dropped and leaves nothing behind
 * but its drop counter and the extra action the table names (for
 * outside_window and no_buffer: its pn recorded and an ACK now): otherwise
 * its pn is not recorded, no ACK becomes due, and a receive slot it opened
 * is closed again.
 */
int mw_recv_on_data(struct mw_ep *ep, uint16_t id, const uint8_t *pkt,
		    size_t len, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct mw_data d;
	struct rx_slot *s = NULL;
	int rc, opened = 0;

	rc = mw_wire_parse_data(pkt, len, &d);
	if (rc == MW_ETRUNC)
		return mw_ep_drop(ep, MW_DROP_PAYLOAD, rc);
	if (rc < 0)
		return mw_ep_drop(ep, MW_DROP_HEADER, rc);
	if (d.desc.n * mw_codec_elem_size(d.desc.codec) >
		    ep->cfg.max_tensor_bytes ||
	    d.seg_cnt > ep->cfg.max_segs)
		return mw_ep_drop(ep, MW_DROP_LIMIT, MW_ELIMIT);

	rc = rx_slot_of(ep, p, &d, now, &s);
	if (rc != 1)
		return rc;
	if (s->used) {
		if (memcmp(s->tblock, pkt + MW_WIRE_TBLOCK_OFF,
			   MW_WIRE_TBLOCK_LEN) != 0)
			return mw_ep_drop(ep, MW_DROP_INCONSISTENT, MW_EFORMAT);
		rc = rx_known(ep, p, s, &d, now);
		if (rc != 1)
			return rc;
	} else {
		rc = rx_slot_open(ep, id, s, &d, pkt);
		if (rc == MW_EAGAIN) {
			rx_note_pn(ep, p, d.pn, now); /* as outside_window */
			p->recv.ack_now = 1;
			if (p->recv.alloc_retry_at == NO_TIME)
				p->recv.alloc_retry_at = now +
							 ep->cfg.rto_min_ns;
			return mw_ep_drop(ep, MW_DROP_NOBUF, rc);
		}
		if (rc < 0)
			return mw_ep_drop(ep, MW_DROP_NOBUF, rc);
		opened = 1;
	}
	return rx_accept(ep, id, s, &d, opened, now);
}

/*
 * A compact DATA packet (PROTOCOL.md 5.6), after its session checks and
 * its CRC under the session's identities: the order of DATA, with
 * the tensor's descriptor taken from its receive state - a tensor
 * without one (its segment 0 not received) drops it as no_descriptor,
 * its pn recorded and an ACK sent now, so that the sender learns of the
 * loss at once.
 */
int mw_recv_on_cdata(struct mw_ep *ep, uint16_t id, const struct mw_cdata *c,
		     uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct mw_data d;
	struct rx_slot *s = NULL;
	int rc;

	memset(&d, 0, sizeof(d));
	d.pn = c->pn;
	d.tid = mw_wire_tid_expand(c->tid16, p->recv.rx_next);
	d.seg_idx = c->seg_idx;
	d.payload = c->payload;
	d.payload_len = c->payload_len;
	rc = rx_slot_of(ep, p, &d, now, &s);
	if (rc != 1)
		return rc;
	if (!s->used || s->tid != d.tid) {
		rx_note_pn(ep, p, d.pn, now);
		p->recv.ack_now = 1;
		return mw_ep_drop(ep, MW_DROP_NO_DESC, MW_ESTATE);
	}
	rc = mw_wire_cdata_seg(c, &s->desc, s->seg_cnt, &d.seg);
	if (rc == MW_ETRUNC)
		return mw_ep_drop(ep, MW_DROP_PAYLOAD, rc);
	if (rc < 0)
		return mw_ep_drop(ep, MW_DROP_HEADER, rc);
	d.seg_cnt = s->seg_cnt;
	d.desc = s->desc;
	d.meta = s->meta;
	rc = rx_known(ep, p, s, &d, now);
	if (rc != 1)
		return rc;
	rc = rx_accept(ep, id, s, &d, 0, now);
	if (rc == 0)
		ep->ctr.data_rx_compact++;
	return rc;
}

/* Try again to get a buffer for the tensor the allocator refused. */
void mw_recv_alloc_retry(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	void *buf;
	uint64_t bytes;

	if (!p->recv.blocked)
		return;
	bytes = p->recv.blocked_info.desc.n *
		mw_codec_elem_size(p->recv.blocked_info.desc.codec);
	buf = ep->cfg.rx_alloc.alloc(ep->cfg.rx_alloc.ctx, bytes,
				     &p->recv.blocked_info);
	if (!buf) {
		p->recv.alloc_retry_at = now + ep->cfg.rto_min_ns;
		return;
	}
	/* Room again: give it back and reopen the window; the first segment
	 * that arrives allocates for real. */
	ep->cfg.rx_alloc.free(ep->cfg.rx_alloc.ctx, buf, bytes);
	p->recv.blocked = 0;
	p->recv.alloc_retry_at = NO_TIME;
	p->recv.ack_now = 1;
}

/*
 * The tensor's deadline has come (9.1): the element ranges no received
 * segment covers - the complement of the received ranges, which tile -
 * are zero-filled and listed, merged, in the loss map; the tensor counts
 * as complete. Returns 0 or MW_ENOMEM (the map could not be allocated:
 * the tensor keeps waiting, retried at the next expiry).
 */
static int rx_fill(struct rx_slot *s)
{
	uint64_t n = s->desc.n, pos = 0, esz = mw_codec_elem_size(s->desc.codec);
	/* missing ranges: at most the missing segments, and at most one
	 * more than the received ones that separate them */
	uint32_t i, cnt = 0, cap = s->seg_cnt - s->rcvd;
	struct mw_range *r;

	if (cap > s->rcvd + 1)
		cap = s->rcvd + 1;
	r = malloc(sizeof(*r) * cap);

	if (!r)
		return MW_ENOMEM;
	for (i = 0; i <= s->seg_cnt; i++) {
		uint64_t end = n;

		if (i < s->seg_cnt) {
			if (!bit_get(s->bitmap, i))
				continue;
			end = s->rs[i].elem_off;
		}
		if (end > pos) {
			r[cnt].off = pos;
			r[cnt].cnt = end - pos;
			memset((uint8_t *)s->buf + pos * esz, 0,
			       (size_t)((end - pos) * esz));
			s->elems_lost += end - pos;
			cnt++;
		}
		if (i < s->seg_cnt)
			pos = s->rs[i].elem_off + s->rs[i].elem_cnt;
	}
	s->loss = r;
	s->loss_cnt = cnt;
	s->partial = 1;
	s->complete = 1;
	return 0;
}

void mw_recv_on_deadline(struct mw_ep *ep, uint16_t id, uint64_t now)
{
	struct peer *p = &ep->peers[id];
	uint32_t i, w = ep->cfg.window;
	uint64_t next = NO_TIME;
	int due = 0;

	for (i = 0; i < w; i++) {
		struct rx_slot *s = &p->recv.rx[i];

		if (!s->used || s->complete || s->deadline_at == NO_TIME)
			continue;
		if (s->deadline_at <= now && rx_fill(s) == 0)
			due = 1;
		else if (s->deadline_at < next)
			next = s->deadline_at > now ? s->deadline_at : now + 1;
	}
	p->recv.deadline_at = next;
	if (due) {
		p->recv.ack_now = 1; /* the sender stops at once */
		rx_deliver(ep, id);
	}
}

int mw_recv_build_ack(struct mw_ep *ep, struct peer *p, uint8_t *buf,
		      size_t cap, uint16_t flags, uint64_t now)
{
	struct mw_ack a;
	size_t off = MW_WIRE_ACK_FIXED_LEN;
	uint32_t i, w = ep->cfg.window;
	uint8_t bm[512];

	memset(&a, 0, sizeof(a));
	if (p->recv.rx_has_largest) {
		uint64_t d = (now - p->recv.rx_largest_time) / 1000;

		a.has_largest = 1;
		a.largest_pn = p->recv.rx_largest_pn;
		a.ack_delay_us = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	}
	a.cum_tid = p->recv.rx_next;
	a.rx_limit = mw_recv_limit(ep, p);
	mw_wire_put_hdr(buf, MW_PT_ACK, flags, &p->sess.local, &p->sess.remote);
	/* The last tensors delivered partial (9.1), oldest first, below
	 * cum_tid: seg_cum 0, flags COMPLETE | PARTIAL. */
	for (i = w; i > 0 && cap - off >= MW_WIRE_ACK_BLOCK_LEN; i--) {
		uint32_t tid = p->recv.rx_next - i;
		struct rx_slot *s = &p->recv.rx[tid % w];
		struct mw_ack_block b;

		if (!s->pvalid || s->ptid != tid)
			continue;
		memset(&b, 0, sizeof(b));
		b.tid = tid;
		b.flags = MW_ACKB_COMPLETE | MW_ACKB_PARTIAL;
		off += mw_wire_put_ack_block(buf + off, &b);
		a.nblocks++;
	}
	for (i = 0; i < w; i++) {
		struct rx_slot *s = &p->recv.rx[(p->recv.rx_next + i) % w];
		struct mw_ack_block b;
		uint32_t nbits = 0, j;
		size_t room;

		if (!s->used || s->tid != p->recv.rx_next + i)
			continue;
		if (cap - off < MW_WIRE_ACK_BLOCK_LEN)
			break;
		memset(&b, 0, sizeof(b));
		b.tid = s->tid;
		b.seg_cum = s->seg_cum;
		if (s->complete && s->partial) {
			/* its deadline has passed, it waits for its
			 * predecessors: the outcome is decided, and a plain
			 * COMPLETE would tell the sender it arrived whole */
			b.flags = MW_ACKB_COMPLETE | MW_ACKB_PARTIAL;
			b.seg_cum = 0;
		} else if (s->complete) {
			b.flags = MW_ACKB_COMPLETE;
		} else if (s->seg_max > s->seg_cum) {
			nbits = s->seg_max - s->seg_cum;
			room = cap - off - MW_WIRE_ACK_BLOCK_LEN;
			if (room > sizeof(bm))
				room = sizeof(bm);
			if (nbits > 8 * room)
				nbits = (uint32_t)(8 * room);
			b.bitmap_len = (uint16_t)((nbits + 7) / 8);
			memset(bm, 0, b.bitmap_len);
			for (j = 0; j < nbits; j++)
				if (bit_get(s->bitmap, s->seg_cum + 1 + j))
					bm[j / 8] |= (uint8_t)(1u << (j % 8));
			b.bitmap = bm;
		}
		off += mw_wire_put_ack_block(buf + off, &b);
		a.nblocks++;
	}
	mw_wire_put_ack_fixed(buf, &a);
	p->recv.ack_pending = 0;
	p->recv.ack_now = 0;
	p->recv.ack_due = NO_TIME;
	ep->ctr.acks_tx++;
	return mw_wire_set_len(buf, off);
}
