/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * expect.c - what a replaying maskwire must report for a capture.
 *
 * A reference model of the receive path, written from the protocol's
 * rules rather than by calling the transport: every frame goes through
 * mw_net_parse() with the replaying side's addresses, every datagram from
 * the peer through mw_wire_parse_hdr()/_data()/_hello()/_ack()/_close(),
 * and the model then applies the session and reassembly rules (session
 * identities, duplicates, receive window, per-tensor consistency, segment
 * tiling, in-order delivery), decodes segments with mw_seg_decode() and
 * digests each delivered tensor with CRC32C. The result is a JSON object
 * with the counters the app's stats must show, the tensors it must
 * deliver, and what it must send back.
 *
 * Assumptions, true of a replay: the receiver only receives (it has no
 * tensors of its own to send), its allocator never refuses, and it polls
 * its events within one receive burst (the window must exceed the tensors
 * in flight by a burst; regen.py uses a window larger than any capture's
 * tensor count).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "expect_secure.h"
#include "pcaptool.h"

#define MAX_FRAME (9600u + 18u) /* the data plane's linearisation limit */

struct seg_rec {
	uint64_t eo, ec, vo, vc;
};

struct slot {
	bool used, complete;
	uint32_t tid, seg_cnt, rcvd;
	uint8_t tblock[MW_WIRE_TBLOCK_LEN];
	uint8_t *bm;
	struct seg_rec *rs;
	uint8_t *buf;
	uint64_t bytes;
	struct mw_tensor_meta meta;
	struct mw_codec_desc desc;
};

struct delivered {
	uint32_t session, tid;
	struct mw_tensor_meta meta;
	struct mw_codec_desc desc;
	uint64_t bytes;
	uint32_t crc;
};

struct model {
	const struct pt_sess *s;
	struct mw_ident local, remote;
	bool remote_known, remote_closed;
	uint32_t rx_next, session;
	struct slot *slots;
	bool has_largest;
	uint32_t largest_pn;
	/* net */
	uint64_t rx_frames, rx_udp, rx_unknown_peer, rx_core_accepted,
		rx_core_dropped, rx_linearized, rx_oversize, arp_req_rx,
		arp_reply_rx, arp_reply_ignored, arp_reply_tx;
	uint64_t net_drop[MW_NET_DROP_COUNT_];
	/* transport */
	uint64_t pkts_rx, data_rx, data_rx_dup, data_rx_compact, hello_rx,
		close_rx, acks_rx,
		peer_restarts, session_resets, tensors_delivered;
	uint64_t drop[MW_DROP_COUNT_];
	/* what goes back */
	uint64_t hello_ack_due, resyncs;
	/* delivered tensors */
	struct delivered *dl;
	size_t ndl, dlcap;
	/* per-frame verdicts, for --frames */
	FILE *trace;
};

static int32_t sdiff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static bool ident_eq(const struct mw_ident *a, const struct mw_ident *b)
{
	return a->inc == b->inc && a->gen == b->gen;
}

static void slot_clear(struct slot *sl)
{
	free(sl->bm);
	free(sl->rs);
	free(sl->buf);
	memset(sl, 0, sizeof(*sl));
}

static void session_reset(struct model *m)
{
	for (uint32_t i = 0; i < m->s->window; i++)
		slot_clear(&m->slots[i]);
	m->rx_next = 0;
	m->has_largest = false;
	m->largest_pn = 0;
	m->session_resets++;
	m->session++;
}

static const char *drop(struct model *m, enum mw_drop why)
{
	m->drop[why]++;
	return mw_drop_name(why);
}

static int bit(const uint8_t *bm, uint32_t i)
{
	return bm[i / 8] >> (i % 8) & 1;
}

static int deliver(struct model *m)
{
	for (;;) {
		struct slot *sl = &m->slots[m->rx_next % m->s->window];
		struct delivered *d;

		if (!sl->used || !sl->complete || sl->tid != m->rx_next)
			return 0;
		if (m->ndl == m->dlcap) {
			size_t n = m->dlcap ? 2 * m->dlcap : 64;
			struct delivered *nd = realloc(m->dl, n * sizeof(*nd));

			if (!nd)
				return MW_ENOMEM;
			m->dl = nd;
			m->dlcap = n;
		}
		d = &m->dl[m->ndl++];
		d->session = m->session;
		d->tid = sl->tid;
		d->meta = sl->meta;
		d->desc = sl->desc;
		d->bytes = sl->bytes;
		d->crc = mw_crc32c(0, sl->buf, sl->bytes);
		slot_clear(sl);
		m->rx_next++;
		m->tensors_delivered++;
	}
}

/* A DATA packet the receiver takes (or refuses by flow control) has its pn
 * reported in the ACKs (8.7); one dropped otherwise does not. */
static void note_pn(struct model *m, uint32_t pn)
{
	if (!m->has_largest || sdiff(pn, m->largest_pn) > 0) {
		m->largest_pn = pn;
		m->has_largest = true;
	}
}

/* A duplicate segment (of a delivered tensor, or received before): not a
 * drop; its pn is reported. */
static const char *dup_seg(struct model *m, uint32_t pn)
{
	note_pn(m, pn);
	m->data_rx++;
	m->data_rx_dup++;
	return NULL;
}

/* The slot of a DATA's tensor id, after the checks on the id (delivered
 * already: a duplicate; outside the window). false with *why set (NULL
 * for a duplicate) when the packet goes no further. */
static bool slot_of(struct model *m, uint32_t tid, uint32_t pn,
		    struct slot **sl, const char **why)
{
	int32_t off = sdiff(tid, m->rx_next);

	if (off < 0) {
		*why = dup_seg(m, pn);
		return false;
	}
	if ((uint32_t)off >= m->s->window) {
		note_pn(m, pn); /* flow control: recorded, ACK now */
		*why = drop(m, MW_DROP_WINDOW);
		return false;
	}
	*sl = &m->slots[tid % m->s->window];
	return true;
}

/* Value offsets meet, unless one is not carried (compact DATA, 5.6). */
static bool vals_meet(uint64_t off, uint64_t cnt, uint64_t next)
{
	return off == MW_VAL_OFF_UNKNOWN || next == MW_VAL_OFF_UNKNOWN ||
	       off + cnt == next;
}

/* A segment of a tensor with receive state that is not a duplicate:
 * tiling with its received neighbours, decoding, recording, delivery.
 * Returns NULL if used, or why not. */
static const char *seg_accept(struct model *m, struct slot *sl,
			      uint32_t idx, const struct mw_seg *sg,
			      const uint8_t *payload, size_t plen, uint32_t pn,
			      bool opened)
{
	const struct mw_codec_desc *dc = &sl->desc;
	int64_t got;

	if (idx > 0 && bit(sl->bm, idx - 1)) {
		const struct seg_rec *r = &sl->rs[idx - 1];

		if (r->eo + r->ec != sg->elem_off ||
		    !vals_meet(r->vo, r->vc, sg->val_off))
			return drop(m, MW_DROP_INCONSISTENT);
	}
	if (idx + 1 < sl->seg_cnt && bit(sl->bm, idx + 1)) {
		const struct seg_rec *r = &sl->rs[idx + 1];

		if (sg->elem_off + sg->elem_cnt != r->eo ||
		    !vals_meet(sg->val_off, sg->val_cnt, r->vo))
			return drop(m, MW_DROP_INCONSISTENT);
	}
	got = mw_seg_decode(dc, sg->elem_off, sg->elem_cnt, payload, plen,
			    sl->buf);
	if (got >= 0 &&
	    (dc->codec == MW_CODEC_MS || dc->codec == MW_CODEC_MS_SIGNED ||
	     dc->codec == MW_CODEC_TOPK) &&
	    (uint64_t)got != sg->val_cnt)
		got = -1;
	if (got < 0) {
		/* a dropped packet leaves no state (PROTOCOL.md 11) */
		if (opened)
			slot_clear(sl);
		return drop(m, MW_DROP_PAYLOAD);
	}
	note_pn(m, pn);
	sl->rs[idx] = (struct seg_rec){sg->elem_off, sg->elem_cnt,
				       sg->val_off, sg->val_cnt};
	sl->bm[idx / 8] |= (uint8_t)(1u << (idx % 8));
	sl->rcvd++;
	m->data_rx++;
	if (sl->rcvd == sl->seg_cnt) {
		sl->complete = true;
		if (deliver(m) < 0) {
			fprintf(stderr, "maskwire-pcaptool: out of memory\n");
			exit(3);
		}
	}
	return NULL;
}

/* A DATA packet of the open session. Returns NULL if used, or why not. */
static const char *on_data(struct model *m, const uint8_t *pl, size_t len)
{
	struct mw_data d;
	struct slot *sl = NULL;
	const char *why;
	bool opened = false;
	int rc = mw_wire_parse_data(pl, len, &d);

	if (rc == MW_ETRUNC)
		return drop(m, MW_DROP_PAYLOAD);
	if (rc < 0)
		return drop(m, MW_DROP_HEADER);
	if (d.desc.n * mw_codec_elem_size(d.desc.codec) > m->s->max_tensor ||
	    d.seg_cnt > m->s->max_segs)
		return drop(m, MW_DROP_LIMIT);
	if (!slot_of(m, d.tid, d.pn, &sl, &why))
		return why;
	if (sl->used) {
		if (memcmp(sl->tblock, pl + MW_WIRE_TBLOCK_OFF,
			   MW_WIRE_TBLOCK_LEN))
			return drop(m, MW_DROP_INCONSISTENT);
		if (sl->complete || bit(sl->bm, d.seg_idx))
			return dup_seg(m, d.pn);
	} else {
		uint64_t bytes = d.desc.n * mw_codec_elem_size(d.desc.codec);

		sl->buf = malloc(bytes ? bytes : 1);
		sl->bm = calloc((d.seg_cnt + 7u) / 8u, 1);
		sl->rs = calloc(d.seg_cnt, sizeof(*sl->rs));
		if (!sl->buf || !sl->bm || !sl->rs) {
			fprintf(stderr, "maskwire-pcaptool: out of memory\n");
			exit(3);
		}
		sl->used = true;
		sl->tid = d.tid;
		sl->seg_cnt = d.seg_cnt;
		sl->bytes = bytes;
		sl->meta = d.meta;
		sl->desc = d.desc;
		memcpy(sl->tblock, pl + MW_WIRE_TBLOCK_OFF, MW_WIRE_TBLOCK_LEN);
		opened = true;
	}
	return seg_accept(m, sl, d.seg_idx, &d.seg, d.payload, d.payload_len,
			  d.pn, opened);
}

/* A compact DATA (PROTOCOL.md 5.6) from the peer, in the order of 11;
 * its tensor's descriptor comes from a full DATA taken before it. */
static const char *on_cdata(struct model *m, const uint8_t *pl, size_t len)
{
	struct mw_cdata c;
	struct mw_seg sg;
	struct slot *sl = NULL;
	const char *why;
	uint32_t tid;
	int rc;

	if (len < MW_WIRE_CDATA_HDR_LEN)
		return drop(m, MW_DROP_TRUNC);
	if (pl[MW_OFF_VERSION] != MW_WIRE_VERSION)
		return drop(m, MW_DROP_VERSION);
	if (!m->remote_known) {
		m->resyncs++;
		return drop(m, MW_DROP_SESSION);
	}
	if (m->remote_closed)
		return drop(m, MW_DROP_STALE);
	rc = mw_wire_parse_cdata(pl, len, &m->remote, &m->local, &c);
	if (rc < 0)
		return drop(m, mw_drop_for_hdr_error(rc));
	tid = mw_wire_tid_expand(c.tid16, m->rx_next);
	if (!slot_of(m, tid, c.pn, &sl, &why))
		return why;
	if (!sl->used || sl->tid != tid) {
		note_pn(m, c.pn); /* reported, so the sender repairs it */
		return drop(m, MW_DROP_NO_DESC);
	}
	rc = mw_wire_cdata_seg(&c, &sl->desc, sl->seg_cnt, &sg);
	if (rc == MW_ETRUNC)
		return drop(m, MW_DROP_PAYLOAD);
	if (rc < 0)
		return drop(m, MW_DROP_HEADER);
	if (sl->complete || bit(sl->bm, c.seg_idx)) {
		return dup_seg(m, c.pn);
	}
	why = seg_accept(m, sl, c.seg_idx, &sg, c.payload, c.payload_len, c.pn,
			 false);
	if (!why)
		m->data_rx_compact++;
	return why;
}

/* One datagram from the peer. Returns NULL if used, or why not. */
static const char *on_datagram(struct model *m, const uint8_t *pl,
			       size_t len)
{
	struct mw_hdr h;
	int rc, c;

	m->pkts_rx++;
	if (mw_wire_is_cdata(pl, len))
		return on_cdata(m, pl, len);
	rc = mw_wire_parse_hdr(pl, len, &h);
	if (rc < 0)
		return drop(m, mw_drop_for_hdr_error(rc));
	if (h.type == MW_PT_HELLO || h.type == MW_PT_HELLO_ACK) {
		struct mw_hello hb;

		if (mw_wire_parse_hello(pl, len, &hb) < 0)
			return drop(m, MW_DROP_FORMAT);
		/* answers a HELLO of an identity no longer ours (6.3) */
		if (h.type == MW_PT_HELLO_ACK && !ident_eq(&h.dst, &m->local))
			return drop(m, MW_DROP_STALE);
		if (m->remote_known) {
			c = mw_ident_cmp(&h.src, &m->remote);
			if (c < 0 || (c == 0 && m->remote_closed))
				return drop(m, MW_DROP_STALE);
			if (c > 0) {
				if (h.src.inc != m->remote.inc)
					m->peer_restarts++;
				session_reset(m);
			}
		}
		m->remote = h.src;
		m->remote_known = true;
		m->remote_closed = false;
		m->hello_rx++;
		if (h.type == MW_PT_HELLO)
			m->hello_ack_due++;
		return NULL;
	}
	if (!m->remote_known || !ident_eq(&h.src, &m->remote) ||
	    !ident_eq(&h.dst, &m->local) || m->remote_closed) {
		c = m->remote_known ? mw_ident_cmp(&h.src, &m->remote) : 1;
		if (c < 0 || (c == 0 && m->remote_closed))
			return drop(m, MW_DROP_STALE);
		if (h.type != MW_PT_CLOSE)
			m->resyncs++;
		return drop(m, MW_DROP_SESSION);
	}
	switch (h.type) {
	case MW_PT_DATA:
		return on_data(m, pl, len);
	case MW_PT_ACK: {
		struct mw_ack a;

		if (mw_wire_parse_ack(pl, len, &a) < 0)
			return drop(m, MW_DROP_FORMAT);
		/* The replaying side never sent DATA: nothing to ack. */
		if (a.cum_tid != 0 || a.has_largest)
			return drop(m, MW_DROP_ACK);
		m->acks_rx++;
		return NULL;
	}
	case MW_PT_CLOSE: {
		struct mw_close cl;

		if (mw_wire_parse_close(pl, len, &cl) < 0)
			return drop(m, MW_DROP_FORMAT);
		m->close_rx++;
		session_reset(m);
		m->remote_closed = true;
		return NULL;
	}
	default:
		return drop(m, MW_DROP_TYPE);
	}
}

static void on_frame(struct model *m, const struct pt_frame *f, size_t idx)
{
	const struct pt_sess *s = m->s;
	uint32_t room = s->mtu + 18u < 2048u ? 2048u
					     : (s->mtu + 18u + 63u) & ~63u;
	struct mw_net_pkt p;
	const uint8_t *pl;
	size_t len;
	bool from_peer;
	const char *why = NULL;

	m->rx_frames++;
	if (f->caplen > room) {
		if (f->caplen > MAX_FRAME) {
			m->rx_oversize++;
			why = "oversize";
			goto out;
		}
		m->rx_linearized++;
	}
	switch (pt_classify(s, f, &p, &from_peer, &pl, &len)) {
	case MW_NET_CLASS_UDP:
		m->rx_udp++;
		if (!from_peer) {
			m->rx_unknown_peer++;
			why = "unknown_peer";
			break;
		}
		why = on_datagram(m, pl, len);
		if (why)
			m->rx_core_dropped++;
		else
			m->rx_core_accepted++;
		break;
	case MW_NET_CLASS_ARP_REQ:
		m->arp_req_rx++;
		m->arp_reply_tx++;
		why = "arp_request_answered";
		break;
	case MW_NET_CLASS_ARP_REPLY:
		/* The replaying side has the peer's MAC (--peer-mac). */
		m->arp_reply_rx++;
		m->arp_reply_ignored++;
		why = "arp_reply_ignored";
		break;
	default:
		m->net_drop[p.drop]++;
		why = mw_net_drop_name(p.drop);
		break;
	}
out:
	if (m->trace)
		fprintf(m->trace, "%zu\t%s\t%s\n", idx + 1,
			why ? why : "accepted", f->note);
}

static void put_counter(FILE *o, const char *name, uint64_t v, bool *first)
{
	fprintf(o, "%s\"%s\": %" PRIu64, *first ? "" : ", ", name, v);
	*first = false;
}

static void print_json(const struct model *m, FILE *o, size_t frames)
{
	bool first = true;
	uint64_t ndrops = 0, tdrops = 0;

	fprintf(o, "{\n \"frames\": %zu,\n \"net\": {", frames);
	put_counter(o, "rx_frames", m->rx_frames, &first);
	put_counter(o, "rx_udp", m->rx_udp, &first);
	put_counter(o, "rx_unknown_peer", m->rx_unknown_peer, &first);
	put_counter(o, "rx_core_accepted", m->rx_core_accepted, &first);
	put_counter(o, "rx_core_dropped", m->rx_core_dropped, &first);
	put_counter(o, "rx_linearized", m->rx_linearized, &first);
	put_counter(o, "rx_oversize", m->rx_oversize, &first);
	put_counter(o, "arp_req_rx", m->arp_req_rx, &first);
	put_counter(o, "arp_reply_rx", m->arp_reply_rx, &first);
	put_counter(o, "arp_reply_ignored", m->arp_reply_ignored, &first);
	put_counter(o, "arp_reply_tx", m->arp_reply_tx, &first);
	put_counter(o, "tensors_rx", m->tensors_delivered, &first);
	fprintf(o, ",\n  \"drops\": {");
	first = true;
	for (unsigned r = 1; r < MW_NET_DROP_COUNT_; r++) {
		put_counter(o, mw_net_drop_name(r), m->net_drop[r], &first);
		ndrops += m->net_drop[r];
	}
	fprintf(o, "}, \"drops_total\": %" PRIu64 "},\n \"transport\": {",
		ndrops);
	first = true;
	put_counter(o, "pkts_rx", m->pkts_rx, &first);
	put_counter(o, "data_rx", m->data_rx, &first);
	put_counter(o, "data_rx_dup", m->data_rx_dup, &first);
	put_counter(o, "data_rx_compact", m->data_rx_compact, &first);
	put_counter(o, "hello_rx", m->hello_rx, &first);
	put_counter(o, "close_rx", m->close_rx, &first);
	put_counter(o, "acks_rx", m->acks_rx, &first);
	put_counter(o, "peer_restarts", m->peer_restarts, &first);
	put_counter(o, "tensors_delivered", m->tensors_delivered, &first);
	put_counter(o, "data_tx", 0, &first);
	put_counter(o, "tensors_submitted", 0, &first);
	fprintf(o, ",\n  \"drop\": {");
	first = true;
	for (unsigned r = 0; r < MW_DROP_COUNT_; r++) {
		put_counter(o, mw_drop_name(r), m->drop[r], &first);
		tdrops += m->drop[r];
	}
	fprintf(o, "}, \"drops\": %" PRIu64 "},\n", tdrops);
	/* What goes back: an ARP reply per request for us; a HELLO_ACK for
	 * HELLOs (several HELLOs may share one answer); a HELLO when the
	 * peer's session looks newer (rate-limited); ACKs, the last one
	 * covering everything, unless the peer closed the session; our
	 * CLOSE at exit unless the peer closed first. */
	fprintf(o,
		" \"out\": {\"arp_reply\": %" PRIu64
		", \"hello_ack_min\": %d, \"hello_ack_max\": %" PRIu64
		", \"hello_min\": %d, \"ack_min\": %d",
		m->arp_reply_tx, m->hello_ack_due ? 1 : 0, m->hello_ack_due,
		m->resyncs ? 1 : 0, m->has_largest ? 1 : 0);
	if (m->remote_known && !m->remote_closed) {
		fprintf(o,
			", \"src\": [%u, %u], \"dst\": [%u, %u], "
			"\"close\": 1",
			m->local.inc, m->local.gen, m->remote.inc,
			m->remote.gen);
		if (m->has_largest)
			fprintf(o,
				", \"final_ack\": {\"cum_tid\": %u, "
				"\"rx_limit\": %u, \"largest_pn\": %u}",
				m->rx_next, m->rx_next + m->s->window,
				m->largest_pn);
	} else {
		fprintf(o, ", \"close\": 0");
	}
	fprintf(o, "},\n \"tensors\": [");
	for (size_t i = 0; i < m->ndl; i++) {
		const struct delivered *d = &m->dl[i];

		fprintf(o,
			"%s\n  {\"session\": %u, \"tid\": %u, \"tag\": %" PRIu64
			", \"kind\": \"%s\", \"dtype\": \"%s\", \"shape\": [",
			i ? "," : "", d->session, d->tid, d->meta.tag,
			mw_kind_name(d->meta.kind),
			mw_dtype_name(d->meta.dtype));
		for (unsigned j = 0; j < d->meta.ndim; j++)
			fprintf(o, "%s%u", j ? ", " : "", d->meta.dims[j]);
		fprintf(o,
			"], \"codec\": \"%s\", \"bits\": %u, \"k\": %" PRIu64
			", \"bytes\": %" PRIu64 ", \"crc32c\": \"%08x\"}",
			mw_codec_name(d->desc.codec), d->desc.bits, d->desc.k,
			d->bytes, d->crc);
	}
	fprintf(o, "\n ]\n}\n");
}

int pt_cmd_expect(int argc, char **argv)
{
	struct pt_sess s;
	struct model m;
	struct pt_cap c;
	const char *path = NULL, *frames = NULL, *key = NULL;
	char err[256];
	int rc;

	pt_sess_default(&s);
	for (int i = 0; i < argc;) {
		rc = pt_sess_opt(&s, argc, argv, &i);
		if (rc < 0) {
			fprintf(stderr, "maskwire-pcaptool expect: bad %s\n",
				argv[i]);
			return 2;
		}
		if (rc)
			continue;
		if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
			frames = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
			key = argv[i + 1];
			i += 2;
		} else if (argv[i][0] != '-' && !path) {
			path = argv[i++];
		} else {
			fprintf(stderr,
				"usage: maskwire-pcaptool expect CAPTURE "
				"[--frames TSV] [--key FILE] SESSION-OPTIONS\n");
			return 2;
		}
	}
	if (!path || pt_sess_check(&s, "expect"))
		return 2;
	if (pt_load(path, &c, err, sizeof err)) {
		fprintf(stderr, "maskwire-pcaptool: %s\n", err);
		return 1;
	}
	/* Version 2: the session cannot be followed without its nonces'
	 * receiver; say what verifies and what a fresh receiver counts. */
	if (pt_capture_is_secure(&s, &c)) {
		if (!key) {
			fprintf(stderr, "maskwire-pcaptool expect: %s is a "
					"version-2 capture: give --key FILE\n",
				path);
			pt_free(&c);
			return 2;
		}
		rc = pt_expect_secure(&s, &c, key, stdout);
		pt_free(&c);
		return rc;
	}
	memset(&m, 0, sizeof(m));
	m.s = &s;
	m.local.inc = s.inc;
	m.local.gen = 1;
	m.slots = calloc(s.window, sizeof(*m.slots));
	if (!m.slots)
		return 3;
	if (frames) {
		m.trace = fopen(frames, "w");
		if (!m.trace) {
			perror(frames);
			return 1;
		}
		fprintf(m.trace, "frame\tverdict\tnote\n");
	}
	for (size_t i = 0; i < c.n; i++)
		on_frame(&m, &c.f[i], i);
	print_json(&m, stdout, c.n);
	if (m.trace)
		fclose(m.trace);
	for (uint32_t i = 0; i < s.window; i++)
		slot_clear(&m.slots[i]);
	free(m.slots);
	free(m.dl);
	pt_free(&c);
	return 0;
}
