/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * send.c - the send path: submit (encode, plan segments), tensor ids and
 * the peer's window, picking the next segment (retransmissions first,
 * then new data, in tensor order: PROTOCOL.md 8.5), building DATA, and
 * the order in which a peer's owed packets go out.
 */
#include <assert.h>
#include <string.h>

#include "ep.h"

void mw_send_slot_clear(struct mw_ep *ep, struct tx_slot *s)
{
	struct tx_mem m = s->mem;

	if (s->encoding)
		ep->enc_pending--;
	memset(s, 0, sizeof(*s));
	s->mem = m;
}

void mw_send_slot_free(struct mw_ep *ep, struct tx_slot *s)
{
	if (s->encoding)
		ep->enc_pending--;
	mw_mem_free(ep, s->mem.buf, s->mem.buf_cap);
	mw_mem_free(ep, s->mem.segs, sizeof(*s->mem.segs) * s->mem.seg_cap);
	mw_mem_free(ep, s->mem.ss, sizeof(*s->mem.ss) * s->mem.seg_cap);
	memset(s, 0, sizeof(*s));
}

/* A kept buffer is reused when it is at most this many times too big
 * (and a small one always): a slot that once carried a large tensor does
 * not hold its memory for a stream of small ones. */
#define TX_MEM_SLACK 4u
#define TX_MEM_SMALL 65536u

static int mem_fits(size_t cap, size_t need)
{
	return cap >= need && (cap <= TX_MEM_SMALL || cap / TX_MEM_SLACK <= need);
}

/*
 * A new tensor's slot takes the memory of the slot freed last, while that
 * one is free: one tensor at a time (a training step) then reuses the
 * same buffers, touched and cached, instead of each of the window's slots
 * touching its own for the first time (on some hypervisors a trap for
 * every page: the first `window` steps of a lockstep run took 2.5x as
 * long as the rest).
 */
static void tx_take_warm(struct mw_ep *ep, struct peer *p, struct tx_slot *s)
{
	struct tx_slot *w = &p->send.tx[p->send.tx_warm % ep->cfg.window];
	struct tx_mem m;

	if (w == s || w->used)
		return;
	m = s->mem;
	s->mem = w->mem;
	w->mem = m;
}

/* s->mem.buf with room for sz payload bytes (contents undefined). */
static uint8_t *tx_buf(struct mw_ep *ep, struct tx_slot *s, size_t sz)
{
	if (!mem_fits(s->mem.buf_cap, sz)) {
		mw_mem_free(ep, s->mem.buf, s->mem.buf_cap);
		s->mem.buf = mw_mem_alloc_raw(ep, sz);
		s->mem.buf_cap = s->mem.buf ? sz : 0;
	}
	return s->mem.buf;
}

/* s->mem.segs and s->mem.ss for cnt segments, the states zeroed. */
static int tx_segs(struct mw_ep *ep, struct tx_slot *s, uint32_t cnt)
{
	if (!mem_fits(s->mem.seg_cap, cnt)) {
		mw_mem_free(ep, s->mem.segs,
			    sizeof(*s->mem.segs) * s->mem.seg_cap);
		mw_mem_free(ep, s->mem.ss, sizeof(*s->mem.ss) * s->mem.seg_cap);
		s->mem.seg_cap = 0;
		s->mem.segs = mw_mem_alloc_raw(ep, sizeof(*s->mem.segs) * cnt);
		s->mem.ss = mw_mem_alloc_raw(ep, sizeof(*s->mem.ss) * cnt);
		if (!s->mem.segs || !s->mem.ss) {
			mw_mem_free(ep, s->mem.segs, sizeof(*s->mem.segs) * cnt);
			mw_mem_free(ep, s->mem.ss, sizeof(*s->mem.ss) * cnt);
			s->mem.segs = NULL;
			s->mem.ss = NULL;
			return MW_ENOMEM;
		}
		s->mem.seg_cap = cnt;
	}
	memset(s->mem.ss, 0, sizeof(*s->mem.ss) * cnt);
	return 0;
}

void mw_send_finish(struct mw_ep *ep, uint16_t id, struct tx_slot *s,
		    int32_t reason)
{
	struct peer *p = &ep->peers[id];
	struct mw_event *e;

	if (s->enc_taken) {
		/* another thread still writes its payload: fail it when the
		 * job comes back (mw_ep_encode_done) */
		if (!s->enc_fail)
			s->enc_fail = reason ? reason : MW_ECANCELED;
		return;
	}
	e = mw_ep_ev_push(ep);

	e->type = reason ? MW_EV_TX_FAILED : MW_EV_TX_DONE;
	e->peer = id;
	e->reason = reason;
	e->handle = s->handle;
	e->meta = s->meta;
	e->desc = s->desc;
	e->partial = s->partial;
	p->send.tx_evq++;
	if (reason)
		ep->ctr.tensors_failed++;
	else
		ep->ctr.tensors_sent++;
	mw_send_slot_clear(ep, s);
	p->send.tx_warm = (uint32_t)(s - p->send.tx);
	while (p->send.tx_base != p->send.tx_seq &&
	       !p->send.tx[p->send.tx_base % ep->cfg.window].used)
		p->send.tx_base++;
}

/* Does this endpoint use compact DATA (5.6) with this peer? It must
 * have announced it, and so must the peer's HELLO of this session. */
static int peer_compact(const struct mw_ep *ep, const struct peer *p)
{
	return mw_ep_compact(ep) && p->sess.remote_known &&
	       (p->sess.lim.caps & MW_HELLO_CAP_COMPACT);
}

/* Does this tensor go in compact DATA to this peer (5.6)? Top-k has no
 * compact form, and elem_off must fit its 32 bits. */
static int tx_compact(const struct mw_ep *ep, const struct peer *p,
		      const struct tx_slot *s)
{
	return peer_compact(ep, p) && s->desc.codec != MW_CODEC_TOPK &&
	       s->desc.n <= UINT32_MAX;
}

/* Segment payload budget: what a datagram holds after the header of the
 * segments' format (compact, or full DATA). */
static size_t seg_budget(const struct mw_ep *ep, const struct peer *p,
			 int compact)
{
	size_t dg = ep->cfg.max_datagram;

	if (p->sess.remote_known && p->sess.lim.max_datagram < dg)
		dg = p->sess.lim.max_datagram;
	return dg - (compact ? MW_WIRE_CDATA_HDR_LEN : MW_WIRE_DATA_HDR_LEN) -
	       mw_sec_overhead(ep);
}

/* A tensor in compact form starts with this many full DATA (5.6): the
 * receiver needs one of them before it can take a compact segment, and
 * it is unlikely that all of them are lost or overtaken. */
#define MW_TX_FULL_SEGS 4u

/* The most segments a tensor may have towards this peer. */
static uint32_t seg_max(const struct mw_ep *ep, const struct peer *p)
{
	uint32_t max = ep->cfg.max_segs;

	if (p->sess.remote_known && p->sess.lim.max_segs < max)
		max = p->sess.lim.max_segs;
	return max;
}

/* What the leading full DATA of a compact tensor hold less. */
#define TX_HEAD (MW_WIRE_DATA_HDR_LEN - MW_WIRE_CDATA_HDR_LEN)

/* Plan (or re-plan) a slot's segments for this peer as it is now; in
 * compact form the leading full DATA hold 116 bytes less. */
static int tx_plan(struct mw_ep *ep, struct peer *p, struct tx_slot *s)
{
	int compact = tx_compact(ep, p, s);
	size_t budget = seg_budget(ep, p, compact);
	size_t head = compact ? TX_HEAD : 0;
	int64_t cnt;
	uint32_t max = seg_max(ep, p);
	/* One pass: plan into room for the bound (a bound above the
	 * limit is only counted exactly when it matters). */
	cnt = mw_seg_plan_bound(&s->desc, budget - head);
	if (cnt >= 0 && (uint64_t)cnt > max)
		cnt = mw_seg_plan_head(&s->desc, s->payload, s->plen, budget,
				       head, MW_TX_FULL_SEGS, NULL, 0);
	if (cnt < 0)
		return (int)cnt;
	if ((uint64_t)cnt > max)
		return MW_ELIMIT;
	s->seg_cnt = 0;
	s->ack_cum = 0;
	s->segs = NULL;
	s->ss = NULL;
	if (tx_segs(ep, s, (uint32_t)cnt) < 0)
		return MW_ENOMEM;
	s->segs = s->mem.segs;
	s->ss = s->mem.ss;
	cnt = mw_seg_plan_head(&s->desc, s->payload, s->plen, budget, head,
			       MW_TX_FULL_SEGS, s->segs, (size_t)cnt);
	if (cnt < 0)
		return (int)cnt;
	s->seg_cnt = (uint32_t)cnt;
	s->seg_ready = s->seg_cnt;
	s->budget = budget;
	s->compact = (uint8_t)compact;
	mw_put_tblock(s->tblock, s->seg_cnt, &s->desc, &s->meta);
	return 0;
}

static int host_is_le(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one == 1;
}

static int meta_elems(const struct mw_tensor_meta *m, unsigned codec,
		      uint64_t *n)
{
	uint64_t prod = 1;
	unsigned i, esz;

	if (m->dtype >= MW_DT_COUNT_ || m->kind >= MW_KIND_COUNT_ ||
	    m->ndim > MW_WIRE_MAX_DIMS)
		return MW_EINVAL;
	for (i = 0; i < m->ndim; i++) {
		if (m->dims[i] && prod > UINT64_MAX / m->dims[i])
			return MW_ELIMIT;
		prod *= m->dims[i];
	}
	if (codec == MW_CODEC_RAW) {
		esz = mw_dtype_size(m->dtype);
		if (prod > UINT64_MAX / esz)
			return MW_ELIMIT;
		*n = prod * esz;
	} else {
		if (m->dtype != MW_DT_F32)
			return MW_EINVAL;
		*n = prod;
	}
	return 0;
}

/* The checks of a submit that do not depend on the endpoint's state;
 * *n: the tensor's elements (bytes for RAW). */
static int submit_check(const struct mw_ep *ep,
			const struct mw_tensor_meta *meta,
			const struct mw_codec_params *cp, uint64_t bytes,
			uint64_t *n)
{
	int rc = mw_codec_params_check(cp);

	if (rc < 0)
		return rc;
	for (unsigned i = meta->ndim; i < MW_WIRE_MAX_DIMS; i++)
		if (meta->dims[i])
			return MW_EINVAL;
	rc = meta_elems(meta, cp->codec, n);
	if (rc < 0)
		return rc;
	if (*n > UINT64_MAX / mw_codec_elem_size(cp->codec) ||
	    bytes != *n * mw_codec_elem_size(cp->codec))
		return MW_EINVAL;
	if (bytes > ep->cfg.max_tensor_bytes)
		return MW_ELIMIT;
	if ((cp->codec == MW_CODEC_MS || cp->codec == MW_CODEC_MS_SIGNED ||
	     cp->codec == MW_CODEC_TOPK) &&
	    cp->k > *n)
		return MW_EINVAL; /* more values kept than elements */
	return 0;
}

/* The endpoint's selection scratch, grown for cp and n elements. */
static int tx_scratch(struct mw_ep *ep, const struct mw_codec_params *cp,
		      uint64_t n)
{
	size_t scr_len = mw_encode_scratch_size(cp, n);

	if (scr_len > ep->scratch_len) {
		mw_mem_free(ep, ep->scratch, ep->scratch_len);
		ep->scratch = mw_mem_alloc_raw(ep, scr_len);
		ep->scratch_len = ep->scratch ? scr_len : 0;
		if (!ep->scratch)
			return MW_ENOMEM;
	}
	return 0;
}

/* The slot's payload buffer, sized for cp and n elements, and (scratch)
 * the endpoint's selection scratch. */
static int tx_payload(struct mw_ep *ep, struct tx_slot *s,
		      const struct mw_codec_params *cp, uint64_t n,
		      int scratch)
{
	int64_t sz = mw_encode_size(cp, n);

	if (sz < 0)
		return (int)sz;
	if ((uint64_t)sz > SIZE_MAX / 2)
		return MW_ELIMIT;
	/* the encode writes every byte of the payload */
	s->payload = tx_buf(ep, s, (size_t)sz);
	if (!s->payload)
		return MW_ENOMEM;
	s->plen = (size_t)sz;
	return scratch ? tx_scratch(ep, cp, n) : 0;
}

/* Which deferred encode enc_find() looks for. */
enum enc_want {
	ENC_LOCAL,   /* the one under way here, else the oldest */
	ENC_UNTAKEN, /* the oldest not taken by another thread */
	ENC_HANDLE,  /* the one out to another thread with this handle */
};

static struct tx_slot *enc_find(struct mw_ep *ep, enum enc_want w,
				uint64_t handle, uint16_t *id)
{
	struct tx_slot *best = NULL;

	for (uint16_t i = 0; i < ep->cfg.max_peers; i++) {
		struct peer *p = &ep->peers[i];

		if (!p->used || !p->send.tx)
			continue;
		for (uint32_t q = 0; q < ep->cfg.window; q++) {
			struct tx_slot *s = &p->send.tx[q];

			if (!s->used || !s->encoding)
				continue;
			if (w == ENC_HANDLE ? s->enc_taken && s->handle == handle
					    : w == ENC_LOCAL && s->enc_started) {
				*id = i;
				return s;
			}
			if (w == ENC_HANDLE || (w == ENC_UNTAKEN && s->enc_taken))
				continue;
			if (!best || s->handle < best->handle) {
				best = s;
				*id = i;
			}
		}
	}
	return best;
}

/* A deferred encode here has begun: it holds the endpoint's scratch
 * until it is done. */
static int enc_live(struct mw_ep *ep)
{
	struct tx_slot *s;
	uint16_t id = 0;

	if (!ep->enc_pending || ep->cfg.encode_external)
		return 0;
	s = enc_find(ep, ENC_LOCAL, 0, &id);
	return s && s->enc_started;
}

/* Encode the tensor into a payload of the slot's own. While a deferred
 * encode is under way the endpoint's scratch is its: this one gets a
 * scratch of its own for the call. */
static int tx_encode(struct mw_ep *ep, struct tx_slot *s,
		     const struct mw_codec_params *cp, const void *data,
		     uint64_t n)
{
	int64_t sz;
	int live = enc_live(ep);
	int rc = tx_payload(ep, s, cp, n, !live);

	if (rc < 0)
		return rc;
	if (live) {
		size_t len = mw_encode_scratch_size(cp, n);
		void *tmp = len ? mw_mem_alloc_raw(ep, len) : NULL;

		if (len && !tmp)
			return MW_ENOMEM;
		sz = mw_encode(cp, data, n, &s->desc, s->payload, s->plen, tmp,
			       len);
		mw_mem_free(ep, tmp, len);
	} else {
		sz = mw_encode(cp, data, n, &s->desc, s->payload, s->plen,
			       ep->scratch, ep->scratch_len);
	}
	if (sz < 0 || (size_t)sz != s->plen)
		return sz < 0 ? (int)sz : MW_EFORMAT;
	return 0;
}

/* The end of a deferred encode, here or in another thread: plan the
 * segments, or fail the tensor. */
static void enc_finish(struct mw_ep *ep, uint16_t id, struct tx_slot *s,
		       int64_t sz, const struct mw_codec_desc *desc)
{
	int rc;

	if (sz >= 0)
		s->desc = *desc;
	rc = sz < 0		      ? (int)sz
	     : (size_t)sz != s->plen ? MW_EFORMAT
				     : tx_plan(ep, &ep->peers[id], s);
	if (s->enc_fail)
		rc = s->enc_fail;
	s->encoding = 0;
	s->enc_started = 0;
	s->enc_taken = 0;
	ep->enc_pending--;
	if (rc < 0)
		mw_send_finish(ep, id, s, rc);
}

static struct tx_slot *tx_activate(struct mw_ep *ep, uint16_t id,
				   struct tx_slot *s);

/*
 * Cut-through (docs/DATAPLANE.md): a deferred MS encode whose segments go
 * out as the emit writes them. The segment count goes in every full DATA,
 * so it is fixed once the threshold is known (mw_seg_stream_bound()), and
 * the tail is cut finer at the end to meet it.
 */

/* Worth it: nothing else of the peer waits to be sent (the link would
 * idle while this tensor is encoded), and the session is open. */
static int ct_wanted(struct mw_ep *ep, uint16_t id, const struct tx_slot *s)
{
	struct peer *p = &ep->peers[id];

	return ep->cfg.cut_through &&
	       (s->cp.codec == MW_CODEC_MS ||
		s->cp.codec == MW_CODEC_MS_SIGNED) &&
	       s->desc.n > 0 && peer_open(p) && !mw_send_pending(ep, p);
}

/* The emit has begun (the threshold is known): fix the count, give the
 * tensor its id. @return 1, or 0: sent after the encode instead. */
static int ct_setup(struct mw_ep *ep, uint16_t id, struct tx_slot *s,
		    const struct mw_codec_desc *d)
{
	struct peer *p = &ep->peers[id];
	int compact = tx_compact(ep, p, s);
	size_t budget = seg_budget(ep, p, compact);
	size_t head = compact ? TX_HEAD : 0;
	uint64_t heads = compact ? MW_TX_FULL_SEGS : 0;
	int64_t cnt;

	if (!peer_open(p) || mw_send_pending(ep, p) ||
	    sdiff(p->send.tid_next, p->send.peer_limit) >= 0 ||
	    d->n * 4 > p->sess.lim.max_tensor_bytes)
		return 0;
	cnt = mw_seg_stream_bound(d, budget, head, heads);
	if (cnt < 2 || (uint64_t)cnt > seg_max(ep, p) ||
	    tx_segs(ep, s, (uint32_t)cnt) < 0)
		return 0;
	if (mw_seg_stream_begin(&ep->stream, d, s->payload, budget, head,
				heads, (uint64_t)cnt, s->mem.segs) < 0)
		return 0;
	s->segs = s->mem.segs;
	s->ss = s->mem.ss;
	s->desc = *d;
	s->seg_cnt = (uint32_t)cnt;
	s->seg_ready = 0;
	s->ack_cum = 0;
	s->budget = budget;
	s->compact = (uint8_t)compact;
	mw_put_tblock(s->tblock, s->seg_cnt, &s->desc, &s->meta);
	if (!tx_activate(ep, id, s))
		return 0; /* not reached: its conditions were checked */
	s->stream = 2;
	ep->ctr.cut_through_tx++;
	return 1;
}

/* The input changed under the encode (or the count cannot be met): the
 * tensor fails. A segment of it that went out cannot be taken back, so
 * the session is torn down with the same reason (the peer drops the
 * partial tensor, 7.3), and the peer's other tensors with an id fail as
 * canceled (not confirmed: the peer may hold them); with nothing sent
 * yet, its id is given back. */
static void ct_fail(struct mw_ep *ep, uint16_t id, struct tx_slot *s,
		    int reason)
{
	struct peer *p = &ep->peers[id];
	int sent = s->next_new > 0 || s->tid + 1 != p->send.tid_next;

	ep->ctr.cut_through_failed++;
	s->stream = 0;
	if (!sent)
		p->send.tid_next--;
	mw_send_finish(ep, id, s, reason);
	if (!sent)
		return;
	for (uint64_t q = p->send.tx_base; q != p->send.tx_seq; q++) {
		struct tx_slot *o = &p->send.tx[q % ep->cfg.window];

		if (o->used && o->active)
			mw_send_finish(ep, id, o, MW_ECANCELED);
	}
	mw_session_down(ep, id, MW_ECHANGED, SD_LOCAL | SD_KEEP | SD_EMIT);
}

/* After an encode step (rc as mw_enc_step()) of a slot that wants
 * cut-through. @return 1 if handled here, 0: the usual path goes on. */
static int ct_step(struct mw_ep *ep, uint16_t id, struct tx_slot *s, int rc)
{
	struct mw_codec_desc d;
	uint64_t el, va;
	int64_t r;

	if (rc < 0 || mw_enc_progress(&ep->enc, &d, &el, &va) != 1) {
		if (rc < 0 && s->stream == 2) {
			ct_fail(ep, id, s, rc);
			return 1;
		}
		return 0;
	}
	if (s->stream == 1 && (rc == 0 || !ct_setup(ep, id, s, &d))) {
		s->stream = 0; /* done in one step, or not now */
		return 0;
	}
	r = mw_seg_stream_feed(&ep->stream, el, va);
	if (r >= 0 && rc == 0) {
		r = mw_enc_result(&ep->enc, &d);
		if (r >= 0)
			r = mw_seg_stream_end(&ep->stream, s->next_new);
	}
	if (r < 0) {
		ct_fail(ep, id, s, (int)r);
		return 1;
	}
	s->seg_ready = (uint32_t)r;
	if (rc == 0) {
		s->stream = 0;
		s->encoding = 0;
		s->enc_started = 0;
		ep->enc_pending--;
	}
	return 1;
}

void mw_send_encode_step(struct mw_ep *ep)
{
	struct tx_slot *s;
	uint16_t id = 0;
	int rc;

	if (!ep->enc_pending || ep->cfg.encode_external ||
	    !(s = enc_find(ep, ENC_LOCAL, 0, &id)))
		return;
	ep->ctr.encode_steps++;
	if (!s->enc_started) {
		rc = tx_payload(ep, s, &s->cp, s->desc.n, 1);
		if (rc == 0)
			rc = mw_enc_begin(&ep->enc, &s->cp, s->data, s->desc.n,
					  s->payload, s->plen, ep->scratch,
					  ep->scratch_len);
		s->enc_started = 1;
		if (rc < 0)
			goto done;
		s->stream = (uint8_t)ct_wanted(ep, id, s);
	}
	rc = mw_enc_step(&ep->enc, ep->cfg.encode_step);
	if (s->stream && ct_step(ep, id, s, rc))
		return;
	if (rc == 1)
		return;
	if (rc == 0) {
		struct mw_codec_desc d;
		int64_t sz = mw_enc_result(&ep->enc, &d);

		enc_finish(ep, id, s, sz, &d);
		return;
	}
done:
	enc_finish(ep, id, s, rc, NULL);
}

int mw_ep_encode_take(struct mw_ep *ep, struct mw_enc_job *job)
{
	struct tx_slot *best;
	uint16_t id = 0;
	int rc;

	if (!ep->enc_pending ||
	    !(best = enc_find(ep, ENC_UNTAKEN, 0, &id)))
		return 0;
	rc = tx_payload(ep, best, &best->cp, best->desc.n, 0);
	if (rc < 0) {
		enc_finish(ep, id, best, rc, NULL);
		return rc;
	}
	best->enc_taken = 1;
	memset(job, 0, sizeof(*job));
	job->handle = best->handle;
	job->peer = id;
	job->cp = best->cp;
	job->data = best->data;
	job->n = best->desc.n;
	job->out = best->payload;
	job->cap = best->plen;
	return 1;
}

int mw_ep_encode_done(struct mw_ep *ep, uint64_t handle, int64_t result,
		      const struct mw_codec_desc *desc, uint64_t now)
{
	struct tx_slot *s;
	uint16_t id = 0;

	assert(now >= ep->last_now);
	ep->last_now = now;
	if (!(s = enc_find(ep, ENC_HANDLE, handle, &id)))
		return MW_ENOENT;
	if (result >= 0 && !desc)
		result = MW_EINVAL;
	enc_finish(ep, id, s, result, desc);
	return 0;
}

int mw_ep_submit(struct mw_ep *ep, uint16_t id,
		 const struct mw_tensor_meta *meta,
		 const struct mw_codec_params *cp, const void *data,
		 uint64_t bytes, unsigned flags, uint64_t now, uint64_t *handle)
{
	struct peer *p = get_peer(ep, id);
	struct tx_slot *s;
	uint64_t n, pending;
	int rc;

	assert(now >= ep->last_now);
	ep->last_now = now;
	if (!p || !meta || !cp || (!data && bytes) ||
	    (flags & ~(MW_SUBMIT_BORROW | MW_SUBMIT_DEFER)) ||
	    (meta->deadline_ms && cp->codec == MW_CODEC_RAW))
		return MW_EINVAL;
	rc = submit_check(ep, meta, cp, bytes, &n);
	if (rc < 0)
		return rc;
	pending = (p->send.tx_seq - p->send.tx_base) + p->send.tx_evq;
	if (pending >= ep->cfg.window)
		return MW_EAGAIN;

	s = &p->send.tx[p->send.tx_seq % ep->cfg.window];
	assert(!s->used);
	mw_send_slot_clear(ep, s);
	tx_take_warm(ep, p, s);
	s->meta = *meta;
	for (unsigned i = meta->ndim; i < MW_WIRE_MAX_DIMS; i++)
		s->meta.dims[i] = 0;
	if ((flags & MW_SUBMIT_BORROW) && host_is_le() &&
	    (cp->codec == MW_CODEC_DENSE || cp->codec == MW_CODEC_RAW)) {
		s->payload = (uint8_t *)(uintptr_t)data;
		s->plen = (size_t)bytes;
		s->desc.codec = (uint8_t)cp->codec;
		s->desc.n = n;
		rc = 0;
	} else if ((flags & MW_SUBMIT_DEFER) && ep->cfg.encode_step) {
		/* encoded later, in steps (mw_send_encode_step) */
		s->encoding = 1;
		s->cp = *cp;
		s->data = data;
		s->desc.codec = (uint8_t)cp->codec;
		s->desc.n = n;
		ep->enc_pending++;
		rc = 0;
	} else {
		rc = tx_encode(ep, s, cp, data, n);
	}
	if (rc == 0 && !s->encoding)
		rc = tx_plan(ep, p, s);
	if (rc < 0) {
		mw_send_slot_clear(ep, s);
		return rc;
	}
	s->used = 1;
	s->handle = ep->next_handle++;
	if (handle)
		*handle = s->handle;
	if (p->send.tx_seq == p->send.tx_base && p->rtb.in_flight == 0)
		p->send.last_send = now;
	p->send.tx_seq++;
	ep->ctr.tensors_submitted++;
	if (!peer_open(p) && p->sess.hello_at == NO_TIME &&
	    !p->sess.hello_pending)
		p->sess.hello_pending = 1;
	return 0;
}

int mw_send_pending(struct mw_ep *ep, struct peer *p)
{
	uint64_t q;

	for (q = p->send.tx_base; q != p->send.tx_seq; q++) {
		struct tx_slot *s = &p->send.tx[q % ep->cfg.window];

		if (s->used && (!s->encoding || s->stream == 2) &&
		    (!s->active || s->lost || s->next_new < s->seg_ready))
			return 1;
	}
	return 0;
}

/* Give the next queued tensor an id, if the peer's window allows. */
static struct tx_slot *tx_activate(struct mw_ep *ep, uint16_t id,
				   struct tx_slot *s)
{
	struct peer *p = &ep->peers[id];
	int compact = tx_compact(ep, p, s);
	int rc = 0;

	if (sdiff(p->send.tid_next, p->send.peer_limit) >= 0)
		return NULL;
	if (s->desc.n * mw_codec_elem_size(s->desc.codec) >
	    p->sess.lim.max_tensor_bytes)
		rc = MW_ELIMIT;
	else if (s->budget != seg_budget(ep, p, compact) ||
		 s->compact != compact || s->seg_cnt > p->sess.lim.max_segs)
		rc = tx_plan(ep, p, s);
	if (rc < 0) {
		mw_send_finish(ep, id, s, rc);
		return NULL;
	}
	if (s->meta.deadline_ms && !(p->sess.lim.caps & MW_HELLO_CAP_DEADLINE)) {
		s->meta.deadline_ms = 0; /* the peer cannot: reliable (9.1) */
		mw_put_tblock(s->tblock, s->seg_cnt, &s->desc, &s->meta);
	}
	s->active = 1;
	s->tid = p->send.tid_next++;
	return s;
}

/* Pick the next segment to send: retransmissions first, then new data,
 * both in tensor order. */
static struct tx_slot *pick(struct mw_ep *ep, uint16_t id, uint32_t *seg)
{
	struct peer *p = &ep->peers[id];
	uint64_t q;
	uint32_t w = ep->cfg.window, j;

	for (q = p->send.tx_base; q != p->send.tx_seq; q++) {
		struct tx_slot *s = &p->send.tx[q % w];

		if (!s->used || !s->active || !s->lost ||
		    sdiff(s->tid, p->send.peer_limit) >= 0)
			continue;
		for (j = s->lost_hint; j < s->seg_cnt; j++)
			if (s->ss[j].state == SEG_LOST) {
				s->lost_hint = j;
				*seg = j;
				return s;
			}
	}
	for (q = p->send.tx_base; q != p->send.tx_seq; q++) {
		struct tx_slot *s = &p->send.tx[q % w];

		if (!s->used)
			continue;
		if (s->encoding && s->stream != 2)
			return NULL; /* in order: nothing after it either */
		if (!s->active) {
			s = tx_activate(ep, id, s);
			if (!s) {
				if (p->send.tx[q % w].used)
					return NULL; /* window shut: in order */
				continue;            /* failed on limits */
			}
		}
		if (sdiff(s->tid, p->send.peer_limit) >= 0)
			return NULL;
		if (s->next_new < s->seg_ready) {
			*seg = s->next_new;
			return s;
		}
		if (s->encoding)
			return NULL; /* cut-through: the rest is not written */
	}
	return NULL;
}

static int build_data(struct mw_ep *ep, struct peer *p, struct tx_slot *s,
		      uint32_t seg, uint8_t *buf, size_t cap, uint64_t now)
{
	struct seg_st *g = &s->ss[seg];
	int copy = g->state == SEG_FLIGHT; /* a tail copy (8.3) */
	size_t hl = MW_WIRE_DATA_HDR_LEN;
	struct sent_rec *r;
	int64_t plen;

	if (s->compact && seg >= MW_TX_FULL_SEGS) {
		hl = MW_WIRE_CDATA_HDR_LEN;
		mw_wire_put_cdata(buf, (uint32_t)p->rtb.pn_next, s->tid, seg,
				  &s->segs[seg]);
	} else {
		mw_wire_put_hdr(buf, MW_PT_DATA, 0, &p->sess.local,
				&p->sess.remote);
		mw_wire_put_data_seg(buf, (uint32_t)p->rtb.pn_next, s->tid,
				     seg, &s->segs[seg]);
		memcpy(buf + MW_WIRE_TBLOCK_OFF, s->tblock,
		       MW_WIRE_TBLOCK_LEN);
	}
	plen = mw_seg_write(&s->desc, s->payload, s->plen, &s->segs[seg],
			    buf + hl, cap - hl);
	if (plen < 0)
		return (int)plen;
	if (g->state == SEG_LOST) {
		s->lost--;
		ep->ctr.retrans++;
		p->retrans++;
		if (g->cause == LOST_RTO)
			ep->ctr.retrans_rto++;
		else
			ep->ctr.retrans_fast++;
	} else if (copy) {
		/* the first transmission's record is superseded: the copy
		 * is the segment's flight from now on (in_flight unchanged) */
		ep->ctr.tail_copies++;
	} else {
		s->next_new++;
		ep->ctr.data_tx_new++;
	}
	g->state = SEG_FLIGHT;
	g->copied = (uint8_t)copy;
	g->pn = p->rtb.pn_next;
	r = &p->rtb.sent[p->rtb.pn_next % sent_cap(ep)];
	r->sent_ns = now;
	r->tid = s->tid;
	r->seg = seg;
	mw_rtb_on_sent(p, r, now);
	p->rtb.pn_next++;
	if (!copy)
		p->rtb.in_flight++;
	p->send.last_send = now;
	ep->ctr.data_tx++;
	if (hl == MW_WIRE_CDATA_HDR_LEN) {
		ep->ctr.data_tx_compact++;
		return (int)(hl + (size_t)plen); /* no len field: 5.6 */
	}
	return mw_wire_set_len(buf, hl + (size_t)plen);
}

/* One datagram for peer id, or 0. */
static int send_peer(struct mw_ep *ep, uint16_t id, uint8_t *buf, size_t cap,
		     uint64_t now)
{
	struct peer *p = &ep->peers[id];
	struct mw_ident src, dst;
	struct tx_slot *s;
	uint32_t seg;
	int ring_full;

	if (p->sess.close_pending) {
		p->sess.close_pending = 0;
		mw_wire_put_hdr(buf, MW_PT_CLOSE, 0, &p->sess.close_src,
				&p->sess.close_dst);
		ep->ctr.close_tx++;
		return mw_wire_set_len(
			buf, mw_wire_put_close(buf, p->sess.close_reason));
	}
	if (p->sec && mw_sec_chal_owed(p, &src, &dst)) {
		ep->ctr.hello_tx++;
		return mw_session_build_hello_ids(ep, MW_PT_HELLO_ACK, &src,
						  &dst, buf);
	}
	if (p->sess.hello_ack_pending) {
		p->sess.hello_ack_pending = 0;
		ep->ctr.hello_tx++;
		return mw_session_build_hello(ep, p, MW_PT_HELLO_ACK, buf);
	}
	if (p->sess.hello_pending) {
		p->sess.hello_pending = 0;
		if (!peer_open(p) && tx_wanted(p))
			p->sess.hello_at = now + rto_backoff(ep, p);
		ep->ctr.hello_tx++;
		return mw_session_build_hello(ep, p, MW_PT_HELLO, buf);
	}
	if (!p->sess.remote_known || p->sess.remote_closed)
		return 0;
	if (p->recv.ack_now && p->sess.confirmed)
		return mw_recv_build_ack(ep, p, buf, cap, 0, now);
	if (!peer_open(p))
		return 0;
	ring_full = p->rtb.pn_next - p->rtb.sent_lo >= sent_cap(ep);
	if ((p->send.probe_data ||
	     (p->rtb.in_flight < p->cc.cwnd && !ring_full &&
	      mw_cc_may_send(&p->cc, now))) &&
	    !ring_full) {
		s = pick(ep, id, &seg);
		if (!s && !p->send.probe_data)
			s = mw_rtb_tail_copy(ep, p, now, &seg);
		if (s) {
			p->send.probe_data = 0;
			p->send.probe_req = 0;
			return build_data(ep, p, s, seg, buf, cap, now);
		}
	}
	p->send.probe_data = 0;
	if (p->send.probe_req) {
		p->send.probe_req = 0;
		p->send.last_send = now;
		ep->ctr.probes_tx++;
		return mw_recv_build_ack(ep, p, buf, cap, MW_FLAG_ACK_REQ, now);
	}
	return 0;
}

/* send_peer() with the datagram protected (the builders set only its
 * length: a CRC32C in plain mode, the AEAD in secure mode, never both) and
 * counted. */
static int send_one(struct mw_ep *ep, uint16_t id, uint8_t *buf, uint64_t now)
{
	int len = send_peer(ep, id, buf,
			    ep->cfg.max_datagram - mw_sec_overhead(ep), now);

	if (len > 0 && ep->peers[id].sec) {
		/* lost, as a network would lose it, if it cannot be sealed */
		len = mw_sec_seal(ep, &ep->peers[id], buf, (size_t)len);
		if (len < 0)
			return 0;
	} else if (len > 0 && buf[MW_OFF_TYPE] == MW_PT_CDATA) {
		struct peer *p = &ep->peers[id];

		len = mw_wire_finish_cdata(buf, (size_t)len, &p->sess.local,
					   &p->sess.remote);
	} else if (len > 0) {
		len = mw_wire_finish(buf, (size_t)len);
	}
	if (len > 0) {
		if (buf[MW_OFF_TYPE] != MW_PT_CLOSE)
			ep->peers[id].sess.announced = 1;
		ep->ctr.pkts_tx++;
		ep->ctr.bytes_tx += (uint64_t)len;
	}
	return len;
}

int mw_ep_send(struct mw_ep *ep, uint64_t now, uint8_t *buf, size_t cap,
	       uint16_t *peer)
{
	uint16_t k, n = ep->cfg.max_peers;
	int len;

	assert(now >= ep->last_now);
	ep->last_now = now;
	if (cap < ep->cfg.max_datagram)
		return MW_ENOSPC;
	for (k = 0; k < n; k++) {
		uint16_t id = (uint16_t)((ep->rr + k) % n);

		if (!ep->peers[id].used)
			continue;
		len = send_one(ep, id, buf, now);
		if (len > 0) {
			ep->rr = (uint16_t)((id + 1) % n);
			*peer = id;
			return len;
		}
	}
	return 0;
}

int mw_ep_send_peer(struct mw_ep *ep, uint16_t peer, uint64_t now, uint8_t *buf,
		    size_t cap)
{
	assert(now >= ep->last_now);
	ep->last_now = now;
	if (!get_peer(ep, peer))
		return MW_ENOENT;
	if (cap < ep->cfg.max_datagram)
		return MW_ENOSPC;
	return send_one(ep, peer, buf, now);
}
